"""Regular (RE) image sources, selection per the paper, and the RE/AN/AI stimulus set on disk.

Sources
-------
* the embedded set: the 20 ImageNet validation photographs shipped inside the PyPI
  package ``foolbox`` (``foolbox/data/imagenet_XX_LABEL.jpg``, label = class index);
* a user folder with ImageNet-style class subfolders (folder name = WordNet id such as
  ``n02085620`` or a class index ``0..999``);
* a CSV file with columns ``path,label`` (label = class index or WordNet id; relative
  paths are taken from the CSV's folder).

Every image is converted to RGB (greyscale, RGBA, CMYK and palette images are converted
and the conversion is noted), resized so that its shorter side equals the model's input
size and centre-cropped to a square.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from .errors import StimulusError, expect
from .provenance import atomic_dir, provenance_record

__all__ = [
    "SUPERCLASSES",
    "ImageSource",
    "MANIFEST_COLUMNS",
    "embedded_images",
    "discover_images",
    "read_image",
    "prepare_image",
    "select_regular",
    "build_stimulus_set",
    "load_manifest",
    "load_stimulus_images",
    "summarize_stimuli",
    "stimulus_claims",
    "imagenet_wnids",
]

_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm"}

#: ImageNet class indices of the paper's five superclasses.
SUPERCLASSES: dict[str, tuple[int, ...]] = {
    "dogs": tuple(range(151, 269)),
    "birds": tuple(range(7, 25)) + tuple(range(80, 101)) + tuple(range(127, 147)),
    "cars": (407, 436, 468, 511, 609, 627, 656, 661, 717, 751, 817),
    "fruits": tuple(range(948, 958)),
    "aquatic animals": tuple(range(0, 7)) + tuple(range(389, 398)) + (147, 148, 149, 150),
}

MANIFEST_COLUMNS = [
    "image_id", "kind", "source_id", "path", "true_label", "target_label", "predicted_label",
    "p_predicted", "p_target", "n_steps", "converged", "l2", "linf", "psnr",
]


@dataclass(frozen=True)
class ImageSource:
    """One candidate regular image: where it is and its ImageNet class index."""

    path: Path
    label: int
    origin: str


def imagenet_wnids() -> list[str]:
    """The 1000 ImageNet WordNet ids in class-index order (shipped with timm)."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return [info.index_to_label_name(i) for i in range(info.num_classes())]


def _parse_label(text: str, where: str, wnid_index: dict | None) -> int:
    text = str(text).strip()
    if re.fullmatch(r"-?\d+", text):
        value = int(text)
        expect(0 <= value <= 999, where, value, "an ImageNet class index in 0..999", StimulusError)
        return value
    if re.fullmatch(r"n\d{8}", text):
        wnid_index = wnid_index if wnid_index is not None else {
            w: i for i, w in enumerate(imagenet_wnids())}
        expect(text in wnid_index, where, text, "one of the 1000 ImageNet-1k WordNet ids",
               StimulusError)
        return wnid_index[text]
    raise StimulusError(f"{where}={text!r}: expected a class index 0..999 or a WordNet id "
                        "like 'n02085620'")


def embedded_images() -> list[ImageSource]:
    """The 20 ImageNet photographs shipped in ``foolbox`` (labels from the file names).

    Returns
    -------
    list of ImageSource
    """
    spec = importlib.util.find_spec("foolbox")
    if spec is None or not spec.submodule_search_locations:
        raise StimulusError("images='embedded': expected the PyPI package 'foolbox' (it ships "
                            "the embedded photographs); pip install foolbox")
    folder = Path(list(spec.submodule_search_locations)[0]) / "data"
    files = sorted(folder.glob("imagenet_*_*.jpg"))
    expect(len(files) > 0, "images", str(folder), "foolbox's imagenet_XX_LABEL.jpg files",
           StimulusError)
    return [ImageSource(f, int(f.stem.split("_")[-1]), "embedded") for f in files]


def discover_images(location: str | os.PathLike) -> list[ImageSource]:
    """Candidate regular images from a class-subfolder tree or a ``path,label`` CSV.

    Parameters
    ----------
    location : str or path
        A folder whose subfolders are named by WordNet id or class index, or a CSV file.

    Returns
    -------
    list of ImageSource
        Sorted by path.

    Raises
    ------
    StimulusError
        Missing location, empty folder, bad CSV header, unknown class, missing file.
    """
    loc = Path(location).expanduser()
    expect(loc.exists(), "images", str(loc), "an existing folder or CSV file", StimulusError)
    wnid_index = {w: i for i, w in enumerate(imagenet_wnids())}
    sources: list[ImageSource] = []
    if loc.is_file():
        expect(loc.suffix.lower() == ".csv", "images", str(loc),
               "a folder or a .csv file with columns path,label", StimulusError)
        with open(loc, newline="") as handle:
            reader = csv.DictReader(handle)
            expect(reader.fieldnames is not None and {"path", "label"} <= set(reader.fieldnames),
                   f"{loc.name} columns", reader.fieldnames, "at least 'path' and 'label'",
                   StimulusError)
            for row_no, row in enumerate(reader, start=2):
                path = Path(row["path"]).expanduser()
                path = path if path.is_absolute() else loc.parent / path
                expect(path.is_file(), f"{loc.name} line {row_no} path", str(path),
                       "an existing image file", StimulusError)
                label = _parse_label(row["label"], f"{loc.name} line {row_no} label", wnid_index)
                sources.append(ImageSource(path, label, "csv"))
    else:
        for sub in sorted(p for p in loc.iterdir() if p.is_dir()):
            label = _parse_label(sub.name, f"class folder {sub.name!r}", wnid_index)
            for f in sorted(sub.iterdir()):
                if f.is_file() and f.suffix.lower() in _IMAGE_SUFFIXES:
                    sources.append(ImageSource(f, label, "folder"))
    expect(len(sources) > 0, "images", str(loc),
           "at least one image (class subfolders named by WordNet id or class index, "
           "or a CSV of path,label)", StimulusError)
    return sorted(sources, key=lambda s: str(s.path))


def read_image(path: str | os.PathLike) -> tuple[Image.Image, str]:
    """Open an image file as RGB.

    Parameters
    ----------
    path : str or path

    Returns
    -------
    image : PIL.Image.Image
        RGB image at its original size.
    note : str
        Empty, or what conversion was applied (e.g. ``"converted from CMYK"``).

    Raises
    ------
    StimulusError
        Missing, corrupt or unreadable file.
    """
    path = Path(path)
    expect(path.is_file(), "path", str(path), "an existing image file", StimulusError)
    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode == "RGBA" or (mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                canvas = Image.new("RGB", rgba.size, (255, 255, 255))
                canvas.paste(rgba, mask=rgba.getchannel("A"))
                rgb = canvas
            else:
                rgb = img.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise StimulusError(f"path={str(path)!r}: expected a readable image file "
                            f"({type(exc).__name__}: {str(exc)[:120]})") from None
    note = "" if mode == "RGB" else f"converted from {mode}"
    if mode == "RGBA":
        note += " (alpha composited on white)"
    return rgb, note


def prepare_image(image: Image.Image, size: int) -> np.ndarray:
    """Resize (shorter side to ``size``, bicubic) and centre-crop to a square.

    Parameters
    ----------
    image : PIL.Image.Image
        RGB image.
    size : int
        Output side length.

    Returns
    -------
    numpy.ndarray, shape (3, size, size), float32
        Pixels in [0, 1], 8-bit exact.
    """
    expect(image.mode == "RGB", "image.mode", image.mode, "'RGB' (use read_image)")
    w, h = image.size
    scale = size / min(w, h)
    resized = image.resize((max(size, round(w * scale)), max(size, round(h * scale))),
                           Image.BICUBIC)
    w, h = resized.size
    left, top = (w - size) // 2, (h - size) // 2
    crop = resized.crop((left, top, left + size, top + size))
    return np.asarray(crop, dtype=np.float32).transpose(2, 0, 1) / 255.0


def _superclass_of(label: int, superclasses) -> str | None:
    for name in superclasses:
        if label in SUPERCLASSES[name]:
            return name
    return None


def select_regular(model, sources, *, min_size: int = 227, aspect_range=(2 / 3, 1.5),
                   min_confidence: float | None = None, require_correct: bool = True,
                   superclasses=None, n_per_class: int | None = None,
                   n_images: int | None = None, batch_size: int = 16):
    """Select regular images by the paper's criteria.

    Criteria, in order: readable; width and height ``> min_size``; aspect ratio strictly
    inside ``aspect_range``; at most one image per ImageNet category (the paper used one
    image from each of 40 categories); classified correctly at top-1 (``require_correct``)
    and with ``P_true > min_confidence`` when given (0.99 in the paper); optionally only
    the five superclasses, ``n_per_class`` each; at most ``n_images`` in total.

    Parameters
    ----------
    model : ModelWrapper
    sources : list of ImageSource
    min_size : int
        Both sides must exceed this (227 in the paper).
    aspect_range : tuple of 2 floats
        Open interval for width / height.
    min_confidence : float, optional
        Required probability of the true class; ``None`` skips the criterion.
    require_correct : bool
        Require top-1 correct classification.
    superclasses : list of str, optional
        Names from :data:`SUPERCLASSES`; images outside them are skipped.
    n_per_class : int, optional
        Images per superclass (requires ``superclasses``).
    n_images : int, optional
        Keep the first ``n_images`` selected (in source order).
    batch_size : int
        Forward-pass batch size.

    Returns
    -------
    selected : pandas.DataFrame
        Columns ``source_path, true_label, superclass, note, predicted_label, p_predicted,
        p_true``; one row per selected image.
    images : numpy.ndarray, shape (n_selected, 3, S, S), float32
        The prepared images (``S = model.input_size``).
    skipped : pandas.DataFrame
        Columns ``source_path, true_label, reason``.
    """
    import torch

    from .features import as_image_tensor

    expect(len(sources) > 0, "sources", sources, "at least one candidate image")
    lo, hi = aspect_range
    expect(0 < lo < hi, "aspect_range", aspect_range, "(low, high) with 0 < low < high")
    if min_confidence is not None:
        expect(0 <= min_confidence < 1, "min_confidence", min_confidence, "a probability in [0, 1)")
    if superclasses is not None:
        unknown = [s for s in superclasses if s not in SUPERCLASSES]
        expect(not unknown, "superclasses", unknown, f"names from {sorted(SUPERCLASSES)}")
    expect(n_per_class is None or (superclasses is not None and n_per_class >= 1),
           "n_per_class", n_per_class, "a positive integer together with superclasses")
    expect(n_images is None or n_images >= 1, "n_images", n_images, "a positive integer")

    skipped, rows, arrays = [], [], []
    for src in sources:
        def skip(reason):
            skipped.append({"source_path": str(src.path), "true_label": src.label,
                            "reason": reason})
        try:
            img, note = read_image(src.path)
        except StimulusError as exc:
            skip(f"unreadable: {exc}")
            continue
        w, h = img.size
        if not (w > min_size and h > min_size):
            skip(f"too small: {w}x{h}, need both sides > {min_size}")
            continue
        if not (lo < w / h < hi):
            skip(f"aspect ratio {w / h:.3f} outside ({lo:.3f}, {hi:.3f})")
            continue
        superclass = _superclass_of(src.label, superclasses) if superclasses else None
        if superclasses and superclass is None:
            skip(f"class {src.label} not in superclasses {list(superclasses)}")
            continue
        rows.append({"source_path": str(src.path), "true_label": src.label,
                     "superclass": superclass or "", "note": note})
        arrays.append(prepare_image(img, model.input_size))
    if not rows:
        return (pd.DataFrame(columns=["source_path", "true_label", "superclass", "note",
                                      "predicted_label", "p_predicted", "p_true"]),
                np.zeros((0, 3, model.input_size, model.input_size), np.float32),
                pd.DataFrame(skipped, columns=["source_path", "true_label", "reason"]))
    images = np.stack(arrays)
    probs = []
    with torch.no_grad():
        tensor = as_image_tensor(images)
        for start in range(0, len(tensor), batch_size):
            batch = tensor[start:start + batch_size].to(model.device)
            probs.append(torch.softmax(model(batch), 1).cpu().numpy())
    probs = np.concatenate(probs)
    keep, per_class, seen = [], {}, set()
    for i, row in enumerate(rows):
        pred = int(probs[i].argmax())
        p_true = float(probs[i, row["true_label"]])
        row.update(predicted_label=pred, p_predicted=float(probs[i, pred]), p_true=p_true)
        reason = None
        if require_correct and pred != row["true_label"]:
            reason = f"misclassified as {pred} (p={probs[i, pred]:.3f})"
        elif min_confidence is not None and not p_true > min_confidence:
            reason = f"confidence {p_true:.3f} not above {min_confidence}"
        elif row["true_label"] in seen:
            reason = f"second image of class {row['true_label']} (one image per category)"
        elif n_per_class is not None and per_class.get(row["superclass"], 0) >= n_per_class:
            reason = f"superclass {row['superclass']!r} already has {n_per_class} images"
        elif n_images is not None and len(keep) >= n_images:
            reason = f"beyond n_images={n_images}"
        if reason:
            skipped.append({"source_path": row["source_path"], "true_label": row["true_label"],
                            "reason": reason})
            continue
        per_class[row["superclass"]] = per_class.get(row["superclass"], 0) + 1
        seen.add(row["true_label"])
        keep.append(i)
    selected = pd.DataFrame([rows[i] for i in keep])
    return (selected.reset_index(drop=True), images[keep],
            pd.DataFrame(skipped, columns=["source_path", "true_label", "reason"]))


#: Bumped whenever selection or optimization code changes what a stimulus set contains,
#: so that cached sets made by older code are rebuilt.
_ALGORITHM_VERSION = 2

_STIMULUS_DEFAULTS = dict(
    images="embedded", n_images=None, seed=0, min_size=227, aspect_range=(2 / 3, 1.5),
    min_confidence=None, require_correct=True, superclasses=None, n_per_class=None,
    threshold=0.99, max_steps=300, an_lam=1e-4, an_lr=0.01, ai_c=0.05, ai_lr=0.005,
    targets=None, batch_size=8,
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
    if params["images"] != "embedded":
        params["images"] = str(Path(params["images"]).expanduser().resolve())
    params["model"] = model.name
    params["algorithm_version"] = _ALGORITHM_VERSION
    params["weights_sha256"] = model.weights_sha256
    return json.loads(json.dumps(params, default=str))


def build_stimulus_set(model, out_dir: str | os.PathLike, *, force: bool = False,
                       progress: bool = True, **options) -> pd.DataFrame:
    """Select RE images, generate AN and AI images, and write the stimulus set to disk.

    The set is built in a temporary folder beside ``out_dir`` and renamed onto it only
    when complete. If ``out_dir`` already holds a set made with the same model, weights
    and options, it is loaded instead of rebuilt (unless ``force``).

    Parameters
    ----------
    model : ModelWrapper
    out_dir : str or path
        Receives ``manifest.csv``, ``skipped.csv``, ``provenance.json`` and
        ``RE/``, ``AN/``, ``AI/`` PNG folders.
    force : bool
        Rebuild even when an up-to-date set exists.
    progress : bool
        Show tqdm progress bars.
    **options
        ``images`` ("embedded", a folder or a CSV), ``n_images``, ``seed``, ``min_size``,
        ``aspect_range``, ``min_confidence``, ``require_correct``, ``superclasses``,
        ``n_per_class`` (see :func:`select_regular`); ``threshold``, ``max_steps``,
        ``an_lam``, ``an_lr``, ``ai_c``, ``ai_lr``, ``batch_size`` (see
        :func:`advlib.adversarial.generate_an` / ``generate_ai``); ``targets`` (AI target
        class per selected image, else a seeded choice).

    Returns
    -------
    pandas.DataFrame
        The manifest (:data:`MANIFEST_COLUMNS` plus ``true_name``, ``target_name``,
        ``predicted_name``, ``pixel_r``), 3 rows per selected regular image.

    Raises
    ------
    StimulusError
        No image passes the selection criteria, or a bad source.
    """
    from . import adversarial as adv

    params = _stimulus_parameters(model, **options)
    out_dir = Path(out_dir)
    prov_path = out_dir / "provenance.json"
    if not force and (out_dir / "manifest.csv").is_file() and prov_path.is_file():
        old = json.loads(prov_path.read_text())
        if old.get("parameters") == params:
            return load_manifest(out_dir)

    t0 = time.perf_counter()
    sources = embedded_images() if params["images"] == "embedded" else discover_images(
        params["images"])
    selected, re_images, skipped = select_regular(
        model, sources, min_size=params["min_size"], aspect_range=tuple(params["aspect_range"]),
        min_confidence=params["min_confidence"], require_correct=params["require_correct"],
        superclasses=params["superclasses"], n_per_class=params["n_per_class"],
        n_images=params["n_images"])
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

    with atomic_dir(out_dir) as tmp:
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
                rows.append({"image_id": f"{kind.lower()}{i:02d}", "kind": kind,
                             "source_id": f"re{i:02d}", "path": rel,
                             "true_label": int(labels[i]), "target_label": int(target[i]),
                             "n_steps": int(steps[i]), "converged": bool(conv[i]),
                             "l2": dist["l2"][i], "linf": dist["linf"][i],
                             "psnr": dist["psnr"][i], "pixel_r": dist["pixel_r"][i]})
        manifest = pd.DataFrame(rows)
        manifest = _score_saved_images(model, tmp, manifest, params["threshold"])
        columns = MANIFEST_COLUMNS + ["true_name", "target_name", "predicted_name", "pixel_r"]
        manifest[columns].to_csv(tmp / "manifest.csv", index=False)
        skipped.to_csv(tmp / "skipped.csv", index=False)
        selected.to_csv(tmp / "selection.csv", index=False)
        failed = manifest[~manifest.converged]
        record = provenance_record(
            "stimuli", params, model=model.provenance(), n_regular=int(len(labels)),
            n_skipped=int(len(skipped)), n_not_converged=int(len(failed)),
            not_converged=failed.image_id.tolist(), seconds=round(time.perf_counter() - t0, 2),
            an_optimizer=an.params, ai_optimizer=ai.params)
        (tmp / "provenance.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    return load_manifest(out_dir)


def _score_saved_images(model, root: Path, manifest: pd.DataFrame, threshold: float):
    """Re-read the written PNGs and record the model's prediction for each."""
    import torch

    from .models import imagenet_categories

    arrays = np.stack([prepare_image(read_image(root / p)[0], model.input_size)
                       for p in manifest.path])
    with torch.no_grad():
        probs = np.concatenate([
            torch.softmax(model(torch.from_numpy(arrays[s:s + 16]).to(model.device)), 1)
            .cpu().numpy() for s in range(0, len(arrays), 16)])
    idx = np.arange(len(manifest))
    pred = probs.argmax(1)
    names = imagenet_categories()
    manifest = manifest.copy()
    manifest["predicted_label"] = pred
    manifest["p_predicted"] = probs[idx, pred]
    manifest["p_target"] = probs[idx, manifest.target_label.to_numpy()]
    adversarial = manifest.kind != "RE"
    manifest.loc[adversarial, "converged"] = (manifest.converged & (manifest.p_target >= threshold))[adversarial]
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
        Missing folder or manifest, missing columns, unknown kinds, missing images,
        RE/AN/AI sets that do not pair up.
    """
    stim_dir = Path(stim_dir)
    path = stim_dir / "manifest.csv"
    expect(path.is_file(), "stimuli", str(stim_dir),
           "a folder with manifest.csv (run `advlib stimuli` first)", StimulusError)
    manifest = pd.read_csv(path)
    missing = [c for c in MANIFEST_COLUMNS if c not in manifest.columns]
    expect(not missing, "manifest.csv columns", missing, f"all of {MANIFEST_COLUMNS}",
           StimulusError)
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
    manifest["converged"] = manifest.converged.astype(bool)
    return manifest


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
    for p in rows.path:
        img, _ = read_image(Path(stim_dir) / p)
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


def stimulus_claims(manifest: pd.DataFrame, threshold: float = 0.99,
                    min_psnr: float = 30.0, max_abs_r: float = 0.3) -> pd.DataFrame:
    """The paper's claims about its stimuli, checked on a manifest.

    Parameters
    ----------
    manifest : pandas.DataFrame
    threshold : float
        Required confidence for AN / AI images (0.99 in the paper).
    min_psnr : float
        An AI image counts as a *small* change when its PSNR to the RE image exceeds this.
    max_abs_r : float
        An AN image counts as *unlike* its RE image when ``|pixel r|`` is below this.

    Returns
    -------
    pandas.DataFrame
        Columns ``claim, paper, here, holds``.
    """
    re_ = manifest[manifest.kind == "RE"]
    an = manifest[manifest.kind == "AN"]
    ai = manifest[manifest.kind == "AI"]
    n = len(re_)
    re_ok = int((re_.predicted_label == re_.true_label).sum())
    re_sure = int((re_.p_target > threshold).sum())
    an_ok = int(((an.predicted_label == an.true_label) & (an.p_target >= threshold)).sum())
    ai_ok = int(((ai.predicted_label == ai.target_label) & (ai.target_label != ai.true_label)
                 & (ai.p_target >= threshold)).sum())
    small = int((ai.psnr > min_psnr).sum())
    unlike = int((an.pixel_r.abs() < max_abs_r).sum())
    return pd.DataFrame([
        {"claim": "RE images are classified into their own category",
         "paper": "40/40", "here": f"{re_ok}/{n}", "holds": re_ok == n},
        {"claim": f"... with P > {threshold}", "paper": "40/40",
         "here": f"{re_sure}/{n}, min P = {re_.p_target.min():.3f}", "holds": re_sure == n},
        {"claim": f"AN images are classified as the RE category with P >= {threshold}",
         "paper": "40/40", "here": f"{an_ok}/{n}", "holds": an_ok == n},
        {"claim": f"AI images are classified into another class with P >= {threshold}",
         "paper": "40/40", "here": f"{ai_ok}/{n}", "holds": ai_ok == n},
        {"claim": f"AI images differ little from RE (PSNR > {min_psnr:g} dB)",
         "paper": "'minimal' noise (not quantified)",
         "here": f"{small}/{n}, median {ai.psnr.median():.1f} dB", "holds": small == n},
        {"claim": f"AN images do not resemble RE (|pixel r| < {max_abs_r:g})",
         "paper": "'meaningless noise' (not quantified)",
         "here": f"{unlike}/{n}, mean r = {an.pixel_r.mean():.3f}", "holds": unlike == n},
    ])
