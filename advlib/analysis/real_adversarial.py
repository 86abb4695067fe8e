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

from ..errors import check_probability, expect
from ..fmri.rdm_data import KRIEGESKORTE92
from ..layout import (
    HIT_ADVERSARIAL_BOOT,
    HIT_ADVERSARIAL_OUTPUTS,
    HIT_ADVERSARIAL_TABLE,
    HIT_AN_CLASSES_TABLE,
    HIT_DIFFERENCES_TABLE,
    HIT_IMAGES_TABLE,
)
from ..provenance import Stage
from .real_images import HIT_IMAGE_OUTPUTS, SETS, hit_images
from .real_rsa import layer_scores
from .rsa import MIN_RSA_IMAGES, compute_rdm
from .stats import centred_interval

__all__ = ["HitAdversarial", "hit_adversarial", "load_hit_adversarial", "set_scores",
           "set_differences", "difference_slope", "class_rdms", "adversarial_claims",
           "adversarial_numbers"]



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
    an_classes : pandas.DataFrame
        :func:`layer_scores`'s table for the AN images at the level of classes (one AN image
        per class against the class-averaged brain RDMs, classes permuted): the AN test
        that the identical images of one class cannot inflate.
    """

    table: pd.DataFrame
    differences: pd.DataFrame
    replicates: pd.DataFrame
    images: pd.DataFrame
    an_classes: pd.DataFrame


def set_scores(rdms: dict, subject_rdms, method: str = "spearman", n_perm: int = 1000,
               n_boot: int = 1000, seed: int = 0, ci_level: float = 0.95,
               progress: bool = False, threads: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every set's layers against the brain RDMs, in one :func:`layer_scores` call (so the
    image resamples are shared and sets can be compared pairwise).

    Parameters
    ----------
    rdms : dict of str to array_like, shape (n, n)
        ``"<set>/<layer>"`` -> the network's RDM of that set's images.
    subject_rdms : array_like, shape (n_subjects, n, n)
    method, n_perm, n_boot, seed, ci_level, progress, threads
        As in :func:`advlib.analysis.real_rsa.layer_scores`.

    Returns
    -------
    table : pandas.DataFrame
        ``set, layer, similarity, ci_low, ci_high, p_perm, ...``, one row per set and layer.
    replicates : pandas.DataFrame, shape (n_valid, len(rdms))
        Paired replicates, columns ``"<set>/<layer>"``.
    """
    table, replicates = layer_scores(rdms, subject_rdms, method, n_perm, n_boot, seed,
                                     ci_level, progress, tau_a=False, threads=threads)
    split = table.layer.str.split("/", n=1, expand=True)
    table.insert(0, "set", split[0])
    table["layer"] = split[1]
    return table.drop(columns="tau_a"), replicates


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


def difference_slope(result: HitAdversarial, contrast: str = "RE - AI",
                     ci_level: float = 0.95) -> tuple[float, float, float]:
    """Least-squares slope of a contrast over the layer index, with a paired bootstrap
    interval: does the difference grow with depth?

    The layers' differences come from the same images, so they are correlated; a trend test
    that takes them as independent (Mann-Kendall) rejects far above its level. The slope's
    interval is read off the replicates, which keep that correlation.

    Parameters
    ----------
    result : HitAdversarial
    contrast : {"RE - AI", "RE - AN"}
    ci_level : float

    Returns
    -------
    (float, float, float)
        Slope per layer, interval low and high.
    """
    check_probability(ci_level, "ci_level", low_open=True, high_open=True)
    expect(contrast in ("RE - AI", "RE - AN"), "contrast", contrast, "'RE - AI' or 'RE - AN'")
    other = contrast.split(" - ")[1]
    d = result.differences[result.differences.contrast == contrast]
    layers = list(d.layer)
    x = np.arange(1, len(layers) + 1, dtype=np.float64)
    weights = (x - x.mean()) / ((x - x.mean()) ** 2).sum()     # slope = weights @ values
    slope = float(weights @ d.difference.to_numpy())
    reps = np.stack([(result.replicates[f"RE/{k}"] - result.replicates[f"{other}/{k}"])
                     .to_numpy() for k in layers], axis=1) @ weights
    low, high = centred_interval(slope, reps, ci_level)
    return slope, low, high


def class_rdms(rdms, classes) -> tuple[np.ndarray, np.ndarray]:
    """RDMs averaged over the images of each class: the mean dissimilarity between the
    images of two classes (0 on the diagonal).

    Parameters
    ----------
    rdms : array_like, shape (..., n, n)
    classes : array_like, shape (n,)

    Returns
    -------
    averaged : numpy.ndarray, shape (..., k, k)
        ``k`` classes in sorted order.
    first : numpy.ndarray of int, shape (k,)
        Each class's first image (where an RDM of one image per class reads its rows).
    """
    arr = np.asarray(rdms, dtype=np.float64)
    labels = np.asarray(classes)
    expect(arr.shape[-1] == labels.size, "classes", f"{labels.size} labels",
           f"one per image ({arr.shape[-1]})")
    unique, first, which = np.unique(labels, return_index=True, return_inverse=True)
    member = np.eye(len(unique))[which]                       # (n, k) indicator
    counts = member.sum(0)
    averaged = member.T @ arr @ member / np.outer(counts, counts)
    averaged[..., np.arange(len(unique)), np.arange(len(unique))] = 0.0
    return averaged, first


def hit_adversarial(model, data_folder=KRIEGESKORTE92, results_dir=None, *,
                    method: str = "spearman", n_perm: int = 1000, n_boot: int = 1000,
                    seed: int = 0, ci_level: float = 0.95, max_steps: int = 300,
                    batch_size: int = 8, subset: str | None = None, reuse: bool = True,
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
    max_steps, batch_size, subset
        As in :func:`hit_images`. Images that the network places in fewer than
        :data:`advlib.analysis.rsa.MIN_RSA_IMAGES` classes are refused once classified,
        before the optimisers run: the AN images are compared class by class.
    reuse : bool
    progress : bool

    Returns
    -------
    HitAdversarial
    """
    from ..cnn.features import extract_features

    # refused before the optimisers' minutes when the class-by-class comparison can't run
    made = hit_images(model, data_folder, results_dir, max_steps=max_steps, seed=seed,
                      batch_size=batch_size, subset=subset, min_classes=MIN_RSA_IMAGES,
                      reuse=reuse, progress=progress)
    data = made.data                 # loaded and validated once, by hit_images
    params = {"model": model.name, "weights_sha256": model.weights_sha256, "method": method,
              "n_perm": n_perm, "n_boot": n_boot, "seed": seed, "ci_level": ci_level,
              "subset": subset}
    stage = None
    if results_dir is not None:
        results_dir = Path(results_dir)
        stage = Stage("hit_adversarial", results_dir, list(HIT_ADVERSARIAL_OUTPUTS), params,
                      inputs=data.input_files() + [results_dir / o for o in HIT_IMAGE_OUTPUTS],
                      code=["advlib.analysis.real_adversarial"])
        if reuse and stage.up_to_date():
            return load_hit_adversarial(results_dir)
    rdms = {}
    for name in SETS:
        feats = extract_features(model, made.images[name], progress=progress)
        rdms.update({f"{name}/{layer}": compute_rdm(feats[layer], "correlation",
                                                    name=f"{name} images, {layer}")
                     for layer in model.layers})
    # torch here, not above: a page that finds the stage made does not import it
    import torch

    threads = torch.get_num_threads()       # the network's: the numpy work side by side too
    table, replicates = set_scores(rdms, data.subject_rdms(), method, n_perm, n_boot, seed,
                                   ci_level, progress, threads)
    table["layer_name"] = [model.paper_names[k] for k in table.layer]
    differences = set_differences(table, replicates, ci_level)
    # the AN images of one class are one image: compare them class by class
    subjects_k, first = class_rdms(data.subject_rdms(), made.table.re_class.to_numpy())
    an_classes, _ = layer_scores({k: rdms[f"AN/{k}"][np.ix_(first, first)] for k in model.layers},
                                 subjects_k, method, n_perm, n_boot, seed, ci_level, False,
                                 tau_a=False, threads=threads)
    an_classes = an_classes.drop(columns="tau_a").assign(n_classes=len(first))
    if stage is not None:
        def write(tmp: Path) -> None:
            table.to_csv(tmp / HIT_ADVERSARIAL_TABLE, index=False)
            differences.to_csv(tmp / HIT_DIFFERENCES_TABLE, index=False)
            an_classes.to_csv(tmp / HIT_AN_CLASSES_TABLE, index=False)
            with open(tmp / HIT_ADVERSARIAL_BOOT, "wb") as handle:
                np.savez(handle, **{k: replicates[k].to_numpy() for k in replicates})
        stage.run(write, data=str(data.folder), model=model.provenance())
    return HitAdversarial(table, differences, replicates, made.table, an_classes)


def load_hit_adversarial(results_dir) -> HitAdversarial:
    """The :class:`HitAdversarial` the two stages wrote in ``results_dir``."""
    results_dir = Path(results_dir)
    missing = [o for o in HIT_ADVERSARIAL_OUTPUTS + HIT_IMAGE_OUTPUTS if not (results_dir / o).is_file()]
    expect(not missing, "results_dir", str(results_dir), f"the outputs of hit_adversarial "
           f"({missing} missing: run `advlib reproduce`)")
    with np.load(results_dir / HIT_ADVERSARIAL_BOOT) as saved:
        replicates = pd.DataFrame({k: saved[k] for k in saved.files})
    return HitAdversarial(pd.read_csv(results_dir / HIT_ADVERSARIAL_TABLE),
                          pd.read_csv(results_dir / HIT_DIFFERENCES_TABLE), replicates,
                          pd.read_csv(results_dir / HIT_IMAGES_TABLE),
                          pd.read_csv(results_dir / HIT_AN_CLASSES_TABLE))


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
    ci_level = float(d.ci_level.iloc[0])
    level = f"{100 * ci_level:g}%"
    rows = []
    t = d[(d.contrast == "RE - AI")].set_index("layer").loc[top]
    rows.append({
        "claim": "AI images leave the hIT geometry at the top layer",
        "paper": "Zhang et al. 2021 (AI images are represented like their target class in "
                 "the CNN, not like the percept)",
        "rule": f"the paired bootstrap {level} interval of RE - AI (similarity to hIT of the RE "
                "images' RDM minus the AI images') at the top layer lies above 0 (below 0: "
                "does not hold; containing 0: inconclusive)",
        "here": f"RE - AI = {t.difference:+.3f} [{t.ci_low:+.3f}, {t.ci_high:+.3f}] at {top}",
        "verdict": HOLDS if t.ci_low > 0 else FAILS if t.ci_high < 0 else INCONCLUSIVE})
    slope, low, high = difference_slope(result, "RE - AI", ci_level)
    rows.append({
        "claim": "The AI images' departure from hIT grows with depth",
        "paper": "Zhang et al. 2021 (AI and RE diverge along the CNN's hierarchy)",
        "rule": f"the least-squares slope of RE - AI over the {len(layers)} layers has a paired "
                f"bootstrap {level} interval above 0 (below 0: does not hold; else "
                "inconclusive; the layers' differences are correlated, so no trend test "
                "that takes them as independent)",
        "here": f"slope {slope:+.4f} per layer [{low:+.4f}, {high:+.4f}]",
        "verdict": HOLDS if low > 0 else FAILS if high < 0 else INCONCLUSIVE})
    an = result.an_classes.set_index("layer").loc[top]
    rows.append({
        "claim": "AN images keep their classes' hIT geometry at the top layer",
        "paper": "Zhang et al. 2021 (AN images are classified like their RE class, though "
                 "people see noise)",
        "rule": f"one AN image per class against the class-averaged hIT RDMs: Spearman > 0, "
                f"permutation of the classes p < {alpha:g} (a miss is inconclusive: the test "
                "has no power analysis)",
        "here": f"{int(an.n_classes)} classes at {top}: {an.similarity:.3f} "
                f"[{an.ci_low:.3f}, {an.ci_high:.3f}], p = {an.p_perm:.3g}",
        "verdict": HOLDS if an.similarity > 0 and an.p_perm < alpha else INCONCLUSIVE})
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def adversarial_numbers(result: HitAdversarial) -> dict[str, str]:
    """The adversarial section's findings as short texts for its prose (myst-nb glue).

    Returns
    -------
    dict of str to str
        ``adv_converged`` ("92/92 AI, 76/76 AN classes"), ``adv_steps`` (median steps),
        ``adv_size`` (median AI L-infinity change in 8-bit levels), ``adv_top`` (the three
        sets' top-layer scores), ``adv_first`` (layer 1's) and ``adv_first_diff`` (RE - AI
        at layer 1 with its interval).
    """
    im = result.images
    t = result.table.set_index(["set", "layer"])
    layers = list(result.table.layer[result.table.set == "RE"])

    d = result.differences.set_index(["contrast", "layer"])
    first_diff = [d[c]["RE - AI", layers[0]] for c in ("difference", "ci_low", "ci_high")]

    def scores(layer):
        return ", ".join(f"{s} {t.similarity[s, layer]:.3f}" for s in SETS)

    classes = im.drop_duplicates("re_class")
    return {"adv_converged": f"{int(im.ai_converged.sum())}/{len(im)} AI images, "
                             f"{int(classes.an_converged.sum())}/{len(classes)} AN classes",
            "adv_steps": f"AI {np.median(im.ai_steps):g}, AN {np.median(classes.an_steps):g}",
            "adv_size": f"{np.median(im.ai_linf) * 255:.1f}",
            "adv_top": f"{scores(layers[-1])} (layer {len(layers)})",
            "adv_first": f"{scores(layers[0])} (layer 1)",
            "adv_first_diff": "{:+.3f} [{:+.3f}, {:+.3f}]".format(*first_diff)}
