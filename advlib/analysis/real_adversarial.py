"""The paper's question on real brain data: do adversarial images keep the human IT geometry?

Human IT was measured for the 92 regular (RE) object images only (Kriegeskorte et al. 2008).
Here each image gets an adversarial-interference (AI) version, pushed by the book's
optimiser and stopping rule to a class that none of the 92 images has, and each image's
class (the network's top-1 class of the RE image) gets an adversarial-noise (AN) image. The
network's RDMs of the RE, AI and AN sets are compared, layer by layer, with the hIT RDMs of
the RE images, which stand for what human observers represent: people see an AI image as
its RE object and an AN image as noise (Zhang et al. 2021), so a perception-consistent
system keeps the AI set on the hIT geometry at every layer and the AN set off it.

The statistics are :func:`advlib.analysis.real_rsa.layer_scores`'s, on all three sets in one
call, so the bootstrap resamples of images are shared: ``RE - AI`` and ``RE - AN`` at each
layer get paired intervals. The RE rows equal the ``hit_rsa`` stage's (same seed).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import check_positive_int, check_probability, expect
from ..fmri.rdm_data import KRIEGESKORTE92, RDMData, load_rdm_data
from ..provenance import Stage
from .real_rsa import layer_scores
from .rsa import compute_rdm
from .stats import centred_interval, mann_kendall

__all__ = ["SETS", "HitImages", "hit_images", "load_hit_images", "HitAdversarial",
           "hit_adversarial", "load_hit_adversarial", "set_differences",
           "adversarial_claims", "adversarial_numbers"]

#: The image sets, in the paper's order.
SETS = ("RE", "AI", "AN")
_IMAGE_OUTPUTS = ("hit_images.npz", "hit_images.csv")
_OUTPUTS = ("hit_adversarial.csv", "hit_differences.csv", "hit_adversarial_boot.npz")
_CODE = ["advlib.analysis.real_adversarial", "advlib.cnn.adversarial"]


@dataclass
class HitImages:
    """The regular images of an RDM dataset with their adversarial versions.

    Attributes
    ----------
    images : dict of str to numpy.ndarray, shape (n, 3, H, W), float32
        ``"RE"``, ``"AI"``, ``"AN"``: pixels in [0, 1] at the network's input size, in the
        RDMs' image order (an AN image is shared by the images of one class).
    table : pandas.DataFrame
        One row per image: ``file, category, re_class, re_name, re_p, ai_target,
        ai_target_name, ai_p, ai_steps, ai_converged, ai_l2, ai_linf, ai_psnr, an_p,
        an_steps, an_converged``.
    """

    images: dict
    table: pd.DataFrame


def _regular_images(model, data: RDMData) -> np.ndarray:
    from ..cnn.images import prepare_image, read_image

    return np.stack([prepare_image(read_image(p)[0], model.input_size)
                     for p in data.images.path]).astype(np.float32)


def _top_class(model, images: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    import torch

    probs = []
    with torch.no_grad():
        for b in range(0, len(images), batch_size):
            x = torch.from_numpy(images[b:b + batch_size]).to(model.device)
            probs.append(torch.softmax(model(x), 1).cpu().numpy())
    p = np.concatenate(probs)
    return p.argmax(1), p.max(1)


def _inputs(data: RDMData) -> list:
    return sorted(p for p in Path(data.folder).rglob("*") if p.is_file()
                  and p.name != "README.md")


def hit_images(model, data_folder=KRIEGESKORTE92, results_dir=None, *, max_steps: int = 300,
               threshold: float = 0.99, seed: int = 0, batch_size: int = 46,
               reuse: bool = True, progress: bool = True) -> HitImages:
    """AI and AN versions of an RDM dataset's images, as a cached stage.

    The AI target of each image is a seeded class that none of the images has
    (:func:`advlib.cnn.adversarial.choose_targets`); an AN image is made once per class
    (it starts from the mean image, so one class gives one image).

    Parameters
    ----------
    model : ModelWrapper
    data_folder : str or path
        :func:`advlib.fmri.rdm_data.load_rdm_data`'s folder (default the 92-image hIT data).
    results_dir : str or path, optional
        Where ``hit_images.npz`` (8-bit AI and AN images) and ``hit_images.csv`` go; nothing
        is written when ``None``.
    max_steps, threshold : int, float
        The optimisers' step budget and stopping rule (the book's stimuli: 300, 0.99).
    seed : int
        Chooses the AI targets.
    batch_size : int
        Images optimised together.
    reuse : bool
        Read the images back when the stage is up to date.
    progress : bool

    Returns
    -------
    HitImages
    """
    from ..cnn.adversarial import choose_targets, generate_ai, generate_an, image_distances

    check_positive_int(max_steps, "max_steps")
    check_positive_int(batch_size, "batch_size")
    check_probability(threshold, "threshold", low_open=True, high_open=True)
    data = load_rdm_data(data_folder)
    params = {"model": model.name, "weights_sha256": model.weights_sha256,
              "max_steps": max_steps, "threshold": threshold, "seed": seed,
              "batch_size": batch_size}
    stage = None
    if results_dir is not None:
        stage = Stage("hit_images", Path(results_dir), list(_IMAGE_OUTPUTS), params,
                      inputs=_inputs(data), code=_CODE)
        if reuse and stage.up_to_date():
            return load_hit_images(results_dir, data_folder)
    re = _regular_images(model, data)
    classes, p_re = _top_class(model, re, batch_size)
    targets = choose_targets(classes, seed, exclude=classes)
    ai = generate_ai(model, re, targets, max_steps=max_steps, threshold=threshold,
                     batch_size=batch_size, progress=progress)
    unique = np.unique(classes)
    an = generate_an(model, unique, max_steps=max_steps, threshold=threshold,
                     batch_size=batch_size, progress=progress)
    which = np.searchsorted(unique, classes)
    dist = image_distances(ai.images, re)
    names = model.categories
    table = pd.DataFrame({
        "file": data.images.file, "category": data.images.category, "re_class": classes,
        "re_name": [names[c] for c in classes], "re_p": p_re, "ai_target": targets,
        "ai_target_name": [names[c] for c in targets], "ai_p": ai.p_target,
        "ai_steps": ai.n_steps, "ai_converged": ai.converged, "ai_l2": dist["l2"],
        "ai_linf": dist["linf"], "ai_psnr": dist["psnr"], "an_p": an.p_target[which],
        "an_steps": an.n_steps[which], "an_converged": an.converged[which]})
    images = {"RE": re, "AI": ai.images, "AN": an.images[which]}
    if stage is not None:
        def write(tmp: Path) -> None:
            with open(tmp / "hit_images.npz", "wb") as handle:
                np.savez_compressed(handle, **{k: np.rint(images[k] * 255).astype(np.uint8)
                                               for k in ("AI", "AN")})
            table.to_csv(tmp / "hit_images.csv", index=False)
        stage.run(write, data=str(data.folder), model=model.provenance(),
                  optimiser={"AI": ai.params, "AN": an.params})
    return HitImages(images, table)


def load_hit_images(results_dir, data_folder=KRIEGESKORTE92) -> HitImages:
    """The :class:`HitImages` a :func:`hit_images` stage wrote (RE read from the data)."""
    from ..cnn.images import prepare_image, read_image

    results_dir = Path(results_dir)
    missing = [o for o in _IMAGE_OUTPUTS if not (results_dir / o).is_file()]
    expect(not missing, "results_dir", str(results_dir), f"the outputs of hit_images "
           f"({missing} missing: run `advlib reproduce`)")
    table = pd.read_csv(results_dir / "hit_images.csv")
    with np.load(results_dir / "hit_images.npz") as saved:
        images = {k: saved[k].astype(np.float32) / 255 for k in ("AI", "AN")}
    data = load_rdm_data(data_folder)
    expect(list(data.images.file) == list(table.file), "results_dir", str(results_dir),
           f"images made from {data.folder}'s images in its order")
    size = images["AI"].shape[-1]
    images["RE"] = np.stack([prepare_image(read_image(p)[0], size)
                             for p in data.images.path]).astype(np.float32)
    return HitImages({k: images[k] for k in SETS}, table)


@dataclass
class HitAdversarial:
    """What :func:`hit_adversarial` computed (or read back).

    Attributes
    ----------
    table : pandas.DataFrame
        :func:`layer_scores`'s table with ``set`` (RE, AI, AN) and ``layer``, one row per
        set and layer.
    differences : pandas.DataFrame
        :func:`set_differences`.
    replicates : pandas.DataFrame, shape (n_valid, 3 * n_layers)
        Paired bootstrap replicates, columns ``"<set>/<layer>"``.
    images : pandas.DataFrame
        :class:`HitImages`'s table.
    """

    table: pd.DataFrame
    differences: pd.DataFrame
    replicates: pd.DataFrame
    images: pd.DataFrame


def set_differences(table: pd.DataFrame, replicates: pd.DataFrame,
                    ci_level: float = 0.95) -> pd.DataFrame:
    """``RE - AI`` and ``RE - AN`` per layer with paired bootstrap intervals.

    Parameters
    ----------
    table : pandas.DataFrame
        ``set, layer, similarity`` rows for the sets RE, AI and AN.
    replicates : pandas.DataFrame, shape (n_valid, n_sets * n_layers)
        Paired replicates, columns ``"<set>/<layer>"``.
    ci_level : float

    Returns
    -------
    pandas.DataFrame
        ``contrast, layer, difference, ci_low, ci_high, share_below_zero`` (the share of
        replicates of the difference at or below 0), one row per contrast and layer.
    """
    check_probability(ci_level, "ci_level", low_open=True, high_open=True)
    sim = table.set_index(["set", "layer"]).similarity
    rows = []
    for other in ("AI", "AN"):
        for layer in table.layer[table.set == "RE"]:
            expect(("RE", layer) in sim.index and (other, layer) in sim.index, "table",
                   f"no {other} or RE row for layer {layer!r}", "every set at every layer")
            diff = sim["RE", layer] - sim[other, layer]
            reps = (replicates[f"RE/{layer}"] - replicates[f"{other}/{layer}"]).to_numpy()
            low, high = centred_interval(diff, reps, ci_level)
            rows.append({"contrast": f"RE - {other}", "layer": layer, "difference": diff,
                         "ci_low": low, "ci_high": high,
                         "share_below_zero": float(np.mean(reps <= 0)), "ci_level": ci_level})
    return pd.DataFrame(rows)


def hit_adversarial(model, data_folder=KRIEGESKORTE92, results_dir=None, *,
                    method: str = "spearman", n_perm: int = 1000, n_boot: int = 1000,
                    seed: int = 0, ci_level: float = 0.95, max_steps: int = 300,
                    batch_size: int = 46, reuse: bool = True,
                    progress: bool = True) -> HitAdversarial:
    """The RE, AI and AN sets' layer RDMs against the brain RDMs of the RE images.

    Two cached stages: :func:`hit_images` (the images), then this comparison.

    Parameters
    ----------
    model : ModelWrapper
    data_folder : str or path
    results_dir : str or path, optional
        Where both stages write; nothing is written when ``None``.
    method, n_perm, n_boot, seed, ci_level
        As in :func:`advlib.analysis.real_rsa.layer_scores` (``seed`` also picks the AI
        targets).
    max_steps, batch_size
        As in :func:`hit_images`.
    reuse : bool
    progress : bool

    Returns
    -------
    HitAdversarial
    """
    from ..cnn.features import extract_features

    made = hit_images(model, data_folder, results_dir, max_steps=max_steps, seed=seed,
                      batch_size=batch_size, reuse=reuse, progress=progress)
    data = load_rdm_data(data_folder)
    params = {"model": model.name, "weights_sha256": model.weights_sha256, "method": method,
              "n_perm": n_perm, "n_boot": n_boot, "seed": seed, "ci_level": ci_level}
    stage = None
    if results_dir is not None:
        results_dir = Path(results_dir)
        stage = Stage("hit_adversarial", results_dir, list(_OUTPUTS), params,
                      inputs=_inputs(data) + [results_dir / o for o in _IMAGE_OUTPUTS],
                      code=_CODE + ["advlib.analysis.real_rsa"])
        if reuse and stage.up_to_date():
            return load_hit_adversarial(results_dir)
    rdms = {}
    for name in SETS:
        feats = extract_features(model, made.images[name], progress=progress)
        rdms.update({f"{name}/{layer}": compute_rdm(feats[layer], "correlation",
                                                    name=f"{name} images, {layer}")
                     for layer in model.layers})
    table, replicates = layer_scores(rdms, data.subject_rdms(), method, n_perm, n_boot, seed,
                                     ci_level, progress, tau_a=False)
    split = table.layer.str.split("/", n=1, expand=True)
    table.insert(0, "set", split[0])
    table["layer"] = split[1]
    table["layer_name"] = [model.paper_names[k] for k in table.layer]
    table = table.drop(columns="tau_a")
    differences = set_differences(table, replicates, ci_level)
    if stage is not None:
        def write(tmp: Path) -> None:
            table.to_csv(tmp / "hit_adversarial.csv", index=False)
            differences.to_csv(tmp / "hit_differences.csv", index=False)
            with open(tmp / "hit_adversarial_boot.npz", "wb") as handle:
                np.savez(handle, **{k: replicates[k].to_numpy() for k in replicates})
        stage.run(write, data=str(data.folder), model=model.provenance())
    return HitAdversarial(table, differences, replicates, made.table)


def load_hit_adversarial(results_dir) -> HitAdversarial:
    """The :class:`HitAdversarial` the two stages wrote in ``results_dir``."""
    results_dir = Path(results_dir)
    missing = [o for o in _OUTPUTS + _IMAGE_OUTPUTS if not (results_dir / o).is_file()]
    expect(not missing, "results_dir", str(results_dir), f"the outputs of hit_adversarial "
           f"({missing} missing: run `advlib reproduce`)")
    with np.load(results_dir / "hit_adversarial_boot.npz") as saved:
        replicates = pd.DataFrame({k: saved[k] for k in saved.files})
    return HitAdversarial(pd.read_csv(results_dir / "hit_adversarial.csv"),
                          pd.read_csv(results_dir / "hit_differences.csv"), replicates,
                          pd.read_csv(results_dir / "hit_images.csv"))


def adversarial_claims(result: HitAdversarial, alpha: float = 0.05) -> pd.DataFrame:
    """The paper's question on the real data, judged by stated rules.

    Parameters
    ----------
    result : HitAdversarial
    alpha : float
        Level of every test; the intervals are the stage's (``ci_level``).

    Returns
    -------
    pandas.DataFrame
        :data:`advlib.analysis.claims.CLAIM_COLUMNS`.
    """
    from .claims import CLAIM_COLUMNS, FAILS, HOLDS, INCONCLUSIVE

    check_probability(alpha, "alpha", low_open=True, high_open=True)
    d = result.differences
    layers = list(result.table.layer[result.table.set == "RE"])
    top = layers[-1]
    level = f"{100 * d.ci_level.iloc[0]:g}%"
    rows = []
    ai = d[(d.contrast == "RE - AI")].set_index("layer").loc[layers]
    t = ai.loc[top]
    rows.append({
        "claim": "At the top layer the network departs from the human geometry for AI "
                 "images (their RDM matches hIT less than the RE images')",
        "paper": "Zhang et al. 2021 (AI images are represented like their target class in "
                 "the CNN, not like the percept)",
        "rule": f"the paired bootstrap {level} interval of RE - AI at the top layer lies above "
                "0 (below 0: does not hold; containing 0: inconclusive)",
        "here": f"RE - AI = {t.difference:+.3f} [{t.ci_low:+.3f}, {t.ci_high:+.3f}] at {top}",
        "verdict": HOLDS if t.ci_low > 0 else FAILS if t.ci_high < 0 else INCONCLUSIVE})
    trend = mann_kendall(ai.difference.to_numpy(), alpha)
    rows.append({
        "claim": "The AI images' departure from hIT grows with depth",
        "paper": "Zhang et al. 2021 (AI and RE diverge along the CNN's hierarchy)",
        "rule": f"exact Mann-Kendall trend of RE - AI over the {len(layers)} layers increasing "
                f"with p < {alpha:g} (decreasing: does not hold; else inconclusive)",
        "here": f"{trend['trend']}, p = {trend['p']:.3g} (RE - AI from "
                f"{ai.difference.iloc[0]:+.3f} to {ai.difference.iloc[-1]:+.3f})",
        "verdict": HOLDS if trend["trend"] == "increasing" and trend["p"] < alpha else
        FAILS if trend["trend"] == "decreasing" and trend["p"] < alpha else INCONCLUSIVE})
    an = result.table[(result.table.set == "AN")].set_index("layer").loc[top]
    rows.append({
        "claim": "At the top layer the network represents AN images, which people see as "
                 "noise, with the human geometry of their classes",
        "paper": "Zhang et al. 2021 (AN images are classified like their RE class)",
        "rule": f"the AN set's top-layer RDM is related to hIT: permutation p < {alpha:g} "
                "(a miss is inconclusive: the test has no power analysis)",
        "here": f"AN at {top}: {an.similarity:.3f} [{an.ci_low:.3f}, {an.ci_high:.3f}], "
                f"p = {an.p_perm:.3g}",
        "verdict": HOLDS if an.similarity > 0 and an.p_perm < alpha else INCONCLUSIVE})
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def adversarial_numbers(result: HitAdversarial) -> dict[str, str]:
    """The adversarial section's findings as short texts for its prose (myst-nb glue).

    Returns
    -------
    dict of str to str
        ``adv_converged`` ("92/92 AI, 76/76 AN classes"), ``adv_steps`` (median steps),
        ``adv_size`` (median AI L-infinity change in 8-bit levels), ``adv_top`` (the three
        sets' top-layer scores) and ``adv_first`` (layer 1's).
    """
    im = result.images
    t = result.table.set_index(["set", "layer"])
    layers = list(result.table.layer[result.table.set == "RE"])

    def scores(layer):
        return ", ".join(f"{s} {t.similarity[s, layer]:.3f}" for s in SETS)

    classes = im.drop_duplicates("re_class")
    return {"adv_converged": f"{int(im.ai_converged.sum())}/{len(im)} AI images, "
                             f"{int(classes.an_converged.sum())}/{len(classes)} AN classes",
            "adv_steps": f"AI {np.median(im.ai_steps):g}, AN {np.median(classes.an_steps):g}",
            "adv_size": f"{np.median(im.ai_linf) * 255:.1f}",
            "adv_top": f"{scores(layers[-1])} (layer {len(layers)})",
            "adv_first": f"{scores(layers[0])} (layer 1)"}
