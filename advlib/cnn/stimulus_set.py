"""The RE/AN/AI stimulus set on disk: build it once (selection + adversarial images), read
its manifest and images, and summarize it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from ..errors import StimulusError, check_nonnegative_seed, expect
from ..layout import FOLDER_RECORD, MANIFEST, SELECTED_TABLE, SKIPPED_TABLE
from ..provenance import Stage, file_sha256
from .images import (
    class_probabilities,
    discover_images,
    embedded_images,
    prepare_image,
    read_image,
    read_images,
)
from .selection import check_design, design_record, select_regular

__all__ = ["MANIFEST_COLUMNS", "build_stimulus_set", "load_manifest", "load_skipped",
           "load_design", "check_stage_images",
           "load_stimulus_images",
           "summarize_stimuli", "usable_sources", "re_image_ids", "KINDS"]

MANIFEST_COLUMNS = [
    "image_id", "kind", "source_id", "path", "true_label", "target_label", "predicted_label",
    "p_predicted", "p_target", "n_steps", "converged", "l2", "linf", "psnr",
]


_STIMULUS_DEFAULTS = dict(
    images="embedded", n_images=None, seed=0, min_size=227, aspect_range=(2 / 3, 1.5),
    min_confidence=None, require_correct=True, superclasses=None, n_per_class=None,
    threshold=0.99, max_steps=300, an_lam=1e-4, an_lr=0.01, ai_c=0.05, ai_lr=0.005,
    targets=None, batch_size=8, allow_short=False,
)


def _save_png(array: np.ndarray, path: Path) -> None:
    """Write a (3, H, W) image in [0, 1] as an 8-bit PNG."""
    pixels = np.clip(np.round(array.transpose(1, 2, 0) * 255.0), 0, 255).astype(np.uint8)
    Image.fromarray(pixels, "RGB").save(path)


def _stimulus_parameters(model, **kwargs) -> dict:
    params = {**_STIMULUS_DEFAULTS, **kwargs}
    unknown = set(kwargs) - set(_STIMULUS_DEFAULTS)
    expect(not unknown, "build_stimulus_set options", sorted(unknown),
           f"names from {sorted(_STIMULUS_DEFAULTS)}")
    params["aspect_range"] = list(params["aspect_range"])
    check_nonnegative_seed(params["seed"])
    if params["images"] != "embedded":
        params["images"] = str(Path(params["images"]).expanduser().resolve())
    params["model"] = model.name
    params["weights_sha256"] = model.weights_sha256
    return json.loads(json.dumps(params, default=str))


def build_stimulus_set(model, out_dir: str | os.PathLike, *, reuse: bool = True,
                       progress: bool = True, **options) -> pd.DataFrame:
    """Select RE images, generate AN and AI images, and write the stimulus set to disk.

    A cached stage (:class:`advlib.provenance.Stage`): the set is built in a temporary
    folder beside ``out_dir`` and renamed onto it only when complete. If ``out_dir`` already
    holds a set made with the same model, weights, options, source images and code, and its
    files are unchanged, it is loaded instead of rebuilt (unless ``reuse=False``). A non-empty
    ``out_dir`` that is not a stimulus set written by this function is refused, never
    deleted.

    Parameters
    ----------
    model : ModelWrapper
    out_dir : str or path
        Receives ``manifest.csv``, ``skipped.csv``, ``provenance.json`` and
        ``RE/``, ``AN/``, ``AI/`` PNG folders.
    reuse : bool
        Load an up-to-date set instead of rebuilding it (``False``: rebuild anyway).
    progress : bool
        Show tqdm progress bars.
    **options
        ``images`` ("embedded", a folder or a CSV), ``n_images``, ``seed``, ``min_size``,
        ``aspect_range``, ``min_confidence``, ``require_correct``, ``superclasses``,
        ``n_per_class`` (see :func:`select_regular`); ``threshold``, ``max_steps``,
        ``an_lam``, ``an_lr``, ``ai_c``, ``ai_lr``, ``batch_size`` (see
        :func:`advlib.cnn.adversarial.generate_an` / ``generate_ai``); ``targets`` (AI target
        class per selected image, else a seeded choice); ``allow_short`` (go on with fewer
        images than ``n_per_class`` per superclass or ``n_images`` in all: recorded as a
        deviation, see :func:`load_design`).

    Returns
    -------
    pandas.DataFrame
        The manifest (:data:`MANIFEST_COLUMNS` plus ``true_name``, ``target_name``,
        ``predicted_name``, ``pixel_r``), 3 rows per selected regular image.

    Raises
    ------
    DesignShortfallError
        Fewer images pass the criteria than the design asks for (before any adversarial
        image is made), unless ``allow_short``.
    StimulusError
        No image passes the selection criteria, or a bad source.
    """
    params = _stimulus_parameters(model, **options)
    out_dir = Path(out_dir)
    sources = embedded_images() if params["images"] == "embedded" else discover_images(
        params["images"])
    stage = Stage("stimuli", out_dir, None, params, inputs=[s.path for s in sources],
                  code=["advlib.cnn.stimulus_set"])
    if reuse and stage.up_to_date():
        return load_manifest(out_dir)
    stage.run(lambda tmp: stage.notes.update(_build(model, tmp, params, sources, progress)))
    return load_manifest(out_dir)


def load_design(stim_dir) -> dict:
    """The design record of a stimulus set (:func:`advlib.cnn.selection.design_record`).

    Parameters
    ----------
    stim_dir : str or path
        A stimulus set written by :func:`build_stimulus_set`.

    Returns
    -------
    dict
        ``requested``, ``found``, ``min_confidence``, ``short``, ``allow_short``, ``paper``,
        ``deviation`` (see :func:`advlib.cnn.selection.design_record`).
    """
    path = Path(stim_dir) / FOLDER_RECORD
    expect(path.is_file(), "stim_dir", str(stim_dir),
           "a stimulus set with provenance.json (run `advlib stimuli`)")
    record = json.loads(path.read_text()).get("design")
    expect(isinstance(record, dict), FOLDER_RECORD, str(path),
           "a design record (a stimulus set written by this version; rebuild it)")
    return record


def check_stage_images(stage: str, n_usable: int, minimum: int, why: str) -> None:
    """Refuse a stage whose stimulus set has fewer usable regular images than it needs.

    Parameters
    ----------
    stage : str
        The stage's name, as the message says it ("CNN RSA", "brain RSA", "encoding").
    n_usable : int
        Regular images whose AN and AI images converged (:func:`usable_sources`).
    minimum : int
    why : str
        What needs that many.

    Raises
    ------
    StimulusError
    """
    if n_usable >= minimum:
        return
    raise StimulusError(
        f"{stage}: the stimulus set has {n_usable} usable regular images (RE/AN/AI triplets "
        f"whose adversarial images converged); the {stage} stage needs at least {minimum} "
        f"({why}). Build a larger stimulus set: more images, or the stimuli stage's "
        "--min-confidence or --allow-short")


def load_skipped(stim_dir) -> pd.DataFrame:
    """The source images a stimulus set left out, and why.

    Parameters
    ----------
    stim_dir : str or path
        A stimulus set written by :func:`build_stimulus_set`.

    Returns
    -------
    pandas.DataFrame
        ``image`` (the file name; folders are left out, so a page never shows a machine's
        paths), ``true_label``, ``reason``; one row per skipped image.
    """
    path = Path(stim_dir) / SKIPPED_TABLE
    expect(path.is_file(), "stim_dir", str(stim_dir),
           "a stimulus set with skipped.csv (`advlib stimuli`)")
    table = pd.read_csv(path)
    expect({"source_path", "reason"} <= set(table.columns), SKIPPED_TABLE, str(path),
           "columns source_path, true_label, reason")
    names = table.source_path.map(lambda p: Path(str(p)).name)
    return pd.DataFrame({"image": names, "true_label": table.get("true_label"),
                         "reason": table.reason})


def _build(model, tmp: Path, params: dict, sources, progress: bool) -> dict:
    """Select, optimize and write a stimulus set into ``tmp``; returns provenance notes."""
    from . import adversarial as adv  # torch: only where images are made, not where read

    t0 = time.perf_counter()
    selected, re_images, skipped = select_regular(
        model, sources, min_size=params["min_size"], aspect_range=tuple(params["aspect_range"]),
        min_confidence=params["min_confidence"], require_correct=params["require_correct"],
        superclasses=params["superclasses"], n_per_class=params["n_per_class"],
        n_images=params["n_images"])
    design = design_record(selected, superclasses=params["superclasses"],
                           n_per_class=params["n_per_class"], n_images=params["n_images"],
                           min_confidence=params["min_confidence"],
                           allow_short=params["allow_short"])
    check_design(design, params["images"], len(sources), skipped)
    if len(selected) == 0:
        reasons = "; ".join(f"{Path(p).name}: {r}" for p, r in
                            zip(skipped.source_path, skipped.reason))[:600]
        raise StimulusError(f"images={params['images']!r}: no image passed the selection "
                            f"criteria ({reasons})")
    labels = selected.true_label.to_numpy(np.int64)
    if params["targets"] is None:
        targets = adv.choose_targets(labels, seed=params["seed"])
    else:
        targets = np.asarray(params["targets"], dtype=np.int64)
        expect(len(targets) == len(labels), "targets", params["targets"],
               f"one class per selected image ({len(labels)})")
        expect(not np.any(targets == labels), "targets", params["targets"],
               "classes different from each image's own class")
    common = dict(threshold=params["threshold"], max_steps=params["max_steps"],
                  batch_size=params["batch_size"], progress=progress)
    an = adv.generate_an(model, labels, lam=params["an_lam"], lr=params["an_lr"], **common)
    ai = adv.generate_ai(model, re_images, targets, c=params["ai_c"], lr=params["ai_lr"],
                         **common)
    rows = []
    kinds = {"RE": (re_images, labels, np.zeros(len(labels), int), np.ones(len(labels), bool)),
             "AN": (an.images, labels, an.n_steps, an.converged),
             "AI": (ai.images, targets, ai.n_steps, ai.converged)}
    for kind, (arrays, target, steps, conv) in kinds.items():
        (tmp / kind).mkdir()
        dist = adv.image_distances(arrays, re_images)
        for i in range(len(labels)):
            rel = f"{kind}/{kind.lower()}{i:02d}.png"
            _save_png(arrays[i], tmp / rel)
            rows.append({"sha256": file_sha256(tmp / rel),
                         "image_id": f"{kind.lower()}{i:02d}", "kind": kind,
                         "source_id": f"re{i:02d}", "path": rel,
                         "true_label": int(labels[i]), "target_label": int(target[i]),
                         "n_steps": int(steps[i]), "converged": bool(conv[i]),
                         "l2": dist["l2"][i], "linf": dist["linf"][i],
                         "psnr": dist["psnr"][i], "pixel_r": dist["pixel_r"][i]})
    manifest = pd.DataFrame(rows)
    manifest = _score_saved_images(model, tmp, manifest, params["threshold"])
    columns = MANIFEST_COLUMNS + ["true_name", "target_name", "predicted_name", "pixel_r",
                                  "sha256"]
    manifest[columns].to_csv(tmp / MANIFEST, index=False)
    skipped.to_csv(tmp / SKIPPED_TABLE, index=False)
    selected.to_csv(tmp / SELECTED_TABLE, index=False)
    failed = manifest[~manifest.converged]
    return dict(model=model.provenance(), n_regular=int(len(labels)), design=design,
                n_skipped=int(len(skipped)), n_not_converged=int(len(failed)),
                not_converged=failed.image_id.tolist(),
                seconds=round(time.perf_counter() - t0, 2), an_optimizer=an.params,
                ai_optimizer=ai.params)


def _score_saved_images(model, root: Path, manifest: pd.DataFrame, threshold: float):
    """Re-read the written PNGs and record the model's prediction for each."""
    from .models import imagenet_categories

    arrays = read_images([root / p for p in manifest.path], model.input_size)
    probs = class_probabilities(model, arrays, 16)
    idx = np.arange(len(manifest))
    pred = probs.argmax(1)
    names = imagenet_categories()
    manifest = manifest.copy()
    manifest["predicted_label"] = pred
    manifest["p_predicted"] = probs[idx, pred]
    manifest["p_target"] = probs[idx, manifest.target_label.to_numpy()]
    adversarial = manifest.kind != "RE"
    reached = manifest.converged & (manifest.p_target >= threshold)
    manifest.loc[adversarial, "converged"] = reached[adversarial]
    for col in ("true", "target", "predicted"):
        manifest[f"{col}_name"] = [names[i] for i in manifest[f"{col}_label"]]
    return manifest


def load_manifest(stim_dir: str | os.PathLike) -> pd.DataFrame:
    """Read and validate ``manifest.csv`` of a stimulus folder.

    Parameters
    ----------
    stim_dir : str or path

    Returns
    -------
    pandas.DataFrame
        One row per image, columns :data:`MANIFEST_COLUMNS` (and any extra).

    Raises
    ------
    StimulusError
        Missing folder or manifest, an empty or unparsable file, missing columns, a row
        with missing values (a truncated file), duplicated images, unknown kinds, a
        ``converged`` value that is not True/False, missing images, RE/AN/AI sets that do
        not pair up.
    """
    stim_dir = Path(stim_dir)
    path = stim_dir / MANIFEST
    expect(path.is_file(), "stimuli", str(stim_dir),
           "a folder with manifest.csv (run `advlib stimuli` first)", StimulusError)
    try:
        manifest = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise StimulusError(f"manifest.csv={str(path)!r}: expected a CSV table with a header "
                            f"and one row per image ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:100]})") from None
    missing = [c for c in MANIFEST_COLUMNS if c not in manifest.columns]
    expect(not missing, f"{MANIFEST} columns", missing, f"all of {MANIFEST_COLUMNS}",
           StimulusError)
    expect(len(manifest) > 0, MANIFEST, "a header without rows", "one row per image",
           StimulusError)
    required = ["image_id", "kind", "source_id", "path", "true_label", "target_label",
                "converged"]
    incomplete = manifest.index[manifest[required].isna().any(axis=1)].tolist()
    expect(not incomplete, "manifest.csv rows", [i + 2 for i in incomplete][:5],
           f"a value in {', '.join(required)} on every line (a truncated file?)", StimulusError)
    dup = manifest.image_id[manifest.image_id.duplicated()].tolist()
    expect(not dup, "manifest.csv image_id", dup[:5], "each image once", StimulusError)
    pair_dup = manifest[manifest.duplicated(["kind", "source_id"])]
    expect(pair_dup.empty, "manifest.csv kind/source_id",
           pair_dup[["kind", "source_id"]].values.tolist()[:3],
           "one image of each kind per regular image", StimulusError)
    kinds = set(manifest.kind)
    expect(kinds == {"RE", "AN", "AI"}, "manifest.csv kind", sorted(kinds),
           "exactly RE, AN and AI", StimulusError)
    counts = manifest.groupby("kind").source_id.apply(lambda s: tuple(sorted(s)))
    expect(counts["RE"] == counts["AN"] == counts["AI"], "manifest.csv source_id",
           {k: len(v) for k, v in counts.items()}, "the same regular images for RE, AN and AI",
           StimulusError)
    absent = [p for p in manifest.path if not (stim_dir / p).is_file()]
    expect(not absent, "manifest.csv path", absent[:3], f"image files under {stim_dir}",
           StimulusError)
    manifest["converged"] = _parse_flags(manifest.converged, manifest.image_id)
    return manifest


def _parse_flags(values: pd.Series, ids: pd.Series) -> pd.Series:
    """``converged`` as bool: True/False (any case), 1/0; anything else is an error."""
    table = {"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False}
    parsed = values.map(lambda v: table.get(str(v).strip().lower()))
    bad = ids[parsed.isna()].tolist()
    expect(not bad, "manifest.csv converged", {i: str(v) for i, v in
                                               zip(bad[:3], values[parsed.isna()][:3])},
           "True or False for every image", StimulusError)
    return parsed.astype(bool)


def re_image_ids(manifest: pd.DataFrame, sources) -> list[str]:
    """The ``image_id`` of the RE image of each regular image in ``sources``.

    Returns
    -------
    list of str
    """
    table = manifest[manifest.kind == "RE"].set_index("source_id")
    missing = [s for s in sources if s not in table.index]
    expect(not missing, "sources", missing[:5], "regular images of the manifest", StimulusError)
    return [str(table.loc[s, "image_id"]) for s in sources]


def stimulus_files(stim_dir: str | os.PathLike) -> list[Path]:
    """The files that define a stimulus set: ``manifest.csv`` and every image it lists.

    Stages that read a stimulus set list these as inputs, so a replaced PNG changes their
    cache key.

    Returns
    -------
    list of pathlib.Path
    """
    stim_dir = Path(stim_dir)
    return [stim_dir / MANIFEST] + [stim_dir / p for p in load_manifest(stim_dir).path]


def load_stimulus_images(stim_dir: str | os.PathLike, kind: str, size: int | None = None):
    """Images of one kind, ordered by ``source_id`` so RE, AN and AI rows align.

    Parameters
    ----------
    stim_dir : str or path
    kind : {"RE", "AN", "AI"}
    size : int, optional
        Resize to this side length (default: as stored).

    Returns
    -------
    images : numpy.ndarray, shape (n, 3, S, S), float32
    rows : pandas.DataFrame
        The matching manifest rows, in the same order.
    """
    expect(kind in ("RE", "AN", "AI"), "kind", kind, "'RE', 'AN' or 'AI'")
    manifest = load_manifest(stim_dir)
    rows = manifest[manifest.kind == kind].sort_values("source_id").reset_index(drop=True)
    arrays = []
    for p, digest in zip(rows.path, rows.get("sha256", [None] * len(rows))):
        path = Path(stim_dir) / p
        if isinstance(digest, str) and digest:
            found = file_sha256(path) if path.is_file() else "missing"
            expect(found == digest, "stimulus image", str(p),
                   f"the file the stimulus set was made with (manifest SHA-256 {digest[:12]}..., "
                   f"file {found[:12]}...); rebuild the set (advlib stimuli --force)",
                   StimulusError)
        img, _ = read_image(path)
        arrays.append(prepare_image(img, size or img.size[0]))
    return np.stack(arrays), rows


def summarize_stimuli(manifest: pd.DataFrame) -> pd.DataFrame:
    """Per kind: counts, convergence, steps, confidence and image distances to RE.

    Returns
    -------
    pandas.DataFrame
        One row per kind (RE, AN, AI).
    """
    out = []
    for kind in ("RE", "AN", "AI"):
        rows = manifest[manifest.kind == kind]
        hit = rows.predicted_label == rows.target_label
        out.append({"kind": kind, "n": len(rows), "n_converged": int(rows.converged.sum()),
                    "median_steps": float(rows.n_steps.median()),
                    "n_classified_as_target": int(hit.sum()),
                    "mean_p_target": float(rows.p_target.mean()),
                    "min_p_target": float(rows.p_target.min()),
                    "median_psnr_vs_RE_dB": float(rows.psnr.median()) if kind != "RE" else np.nan,
                    "mean_linf_vs_RE": float(rows.linf.mean()) if kind != "RE" else np.nan,
                    "mean_pixel_r_vs_RE": float(rows.pixel_r.mean()) if kind != "RE" else np.nan})
    return pd.DataFrame(out)


KINDS = ("RE", "AN", "AI")


def usable_sources(manifest: pd.DataFrame, only_converged: bool) -> list[str]:
    """Regular images whose AN and AI images both converged (or all, if not required)."""
    sources = sorted(manifest.source_id.unique())
    if not only_converged:
        return sources
    failed = set(manifest.loc[~manifest.converged, "source_id"])
    return [s for s in sources if s not in failed]
