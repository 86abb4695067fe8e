"""Regular (RE) image sources and image I/O.

Sources
-------
* the embedded set: the 20 ImageNet validation photographs shipped inside the PyPI
  package ``foolbox`` (``foolbox/data/imagenet_XX_LABEL.jpg``, label = class index);
* a user folder with ImageNet-style class subfolders (folder name = WordNet id such as
  ``n02085620`` or a class index ``0..999``);
* a flat folder of images whose file names begin with the WordNet id, as ImageNet's own
  files (``n01440764_10026.JPEG``) and public one-image-per-class sample sets
  (``n01440764_tench.JPEG``) are named; a file whose name does not begin with one of the
  1000 ImageNet-1k WordNet ids is skipped, with its reason in ``skipped.csv``;
* a CSV file with columns ``path,label`` (label = class index or WordNet id; relative
  paths are taken from the CSV's folder).

Every image is converted to RGB (greyscale, RGBA, CMYK and palette images are converted
and the conversion is noted), resized so that its shorter side equals the model's input
size and centre-cropped to a square.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import StimulusError, expect

if TYPE_CHECKING:
    import torch

__all__ = ["ImageSource", "embedded_images", "discover_images", "read_image", "prepare_image",
           "read_images", "imagenet_wnids", "as_image_tensor", "class_probabilities"]

#: EXIF tag of the camera's orientation (1: upright; 6: turned 90 degrees, as phones save).
_EXIF_ORIENTATION = 0x0112
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm"}


@dataclass(frozen=True)
class ImageSource:
    """One candidate regular image: where it is and its ImageNet class index.

    ``problem`` says why a found file cannot be used (its label could not be read); the
    selection skips it with that reason. ``label`` is -1 then.
    """

    path: Path
    label: int
    origin: str
    problem: str | None = None


_WNID_PREFIX = re.compile(r"^(n\d{8})(?=[_\-.\s]|$)")


def _flat_source(f: Path, wnid_index: dict) -> ImageSource:
    """A file of a flat folder, labelled by the WordNet id its name begins with."""
    match = _WNID_PREFIX.match(f.stem)
    if match is None:
        return ImageSource(f, -1, "flat", "file name does not begin with an ImageNet "
                           "WordNet id (expected e.g. n01440764_tench.JPEG)")
    if match.group(1) not in wnid_index:
        return ImageSource(f, -1, "flat", f"WordNet id {match.group(1)} is not one of the "
                           "1000 ImageNet-1k classes")
    return ImageSource(f, wnid_index[match.group(1)], "flat")


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
    """Candidate regular images from a folder (class subfolders, or flat) or a CSV.

    Parameters
    ----------
    location : str or path
        A folder whose subfolders are named by WordNet id or class index; a flat folder of
        images named ``<WordNet id>_<anything>.<ext>`` (files directly in the folder are
        read this way, beside any class subfolders); or a ``path,label`` CSV file.

    Returns
    -------
    list of ImageSource
        Sorted by path. Files of a flat folder whose name gives no ImageNet-1k class are
        included with their ``problem`` (the selection reports them as skipped).

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
        with open(loc, newline="", encoding="utf-8-sig") as handle:
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
        loc = loc.resolve()
        for sub in sorted(p for p in loc.iterdir() if p.is_dir()):
            label = _parse_label(sub.name, f"class folder {sub.name!r}", wnid_index)
            for f in sorted(sub.iterdir()):
                if f.is_file() and f.suffix.lower() in _IMAGE_SUFFIXES:
                    sources.append(ImageSource(f, label, "folder"))
                elif _dead_link(f):
                    sources.append(ImageSource(f, -1, "folder", _DEAD_LINK))
        sources += [_flat_source(f, wnid_index) for f in sorted(loc.iterdir())
                    if f.is_file() and f.suffix.lower() in _IMAGE_SUFFIXES]
        sources += [ImageSource(f, -1, "flat", _DEAD_LINK) for f in sorted(loc.iterdir())
                    if _dead_link(f)]
        sources = _once_per_file(sources)
    expect(any(s.problem is None for s in sources), "images", str(loc),
           "at least one usable image (class subfolders named by WordNet id or class index, "
           "files named <WordNet id>_*.JPEG, or a CSV of path,label)", StimulusError)
    return sorted(sources, key=lambda s: str(s.path))


_DEAD_LINK = "a symbolic link that leads to no file (a loop or a missing target)"


def _dead_link(path: Path) -> bool:
    """A symbolic link whose target cannot be reached (missing, or a loop)."""
    return path.is_symlink() and not path.exists()


def _once_per_file(sources: list[ImageSource]) -> list[ImageSource]:
    """Each image file once, whatever links lead to it: the path without a link wins (then
    the first by name); every other way to the same file is kept as skipped, naming it.
    (A link such as ``n01440764 -> .`` would otherwise bring every photo back under that
    folder's label.)"""
    def linked(s):
        return os.path.realpath(s.path) != os.path.abspath(s.path)

    first: dict[str, Path] = {}
    out = []
    for src in sorted(sources, key=lambda s: (linked(s), str(s.path))):
        real = os.path.realpath(src.path)
        if src.problem is None and real in first:
            src = ImageSource(src.path, -1, src.origin, f"the same file as {first[real]} "
                              "(reached again through a symbolic link)")
        elif src.problem is None:
            first[real] = src.path
        out.append(src)
    return out


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
    import warnings

    path = Path(path)
    expect(path.is_file(), "path", str(path), "an existing image file", StimulusError)
    try:
        with warnings.catch_warnings():
            # PIL only warns between MAX_IMAGE_PIXELS and twice that: refuse both alike
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                frames = getattr(img, "n_frames", 1)
                orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
                mode = img.mode
                rgb = _to_rgb(ImageOps.exif_transpose(img))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise StimulusError(f"path={str(path)!r}: image too large to read safely "
                            f"({str(exc)[:160]})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise StimulusError(f"path={str(path)!r}: expected a readable image file "
                            f"({type(exc).__name__}: {str(exc)[:120]})") from None
    note = "" if mode == "RGB" else f"converted from {mode}"
    if mode == "RGBA":
        note += " (alpha composited on white)"
    if mode.startswith("I"):
        note += " (16-bit levels scaled to 8 bits)"
    extra = []
    if orientation not in (1, None):
        extra.append(f"turned upright by its EXIF orientation ({orientation})")
    if frames > 1:
        extra.append(f"the first of {frames} frames")
    note = "; ".join([n for n in [note.strip()] if n] + extra)
    return rgb, note


def _to_rgb(img: Image.Image) -> Image.Image:
    """RGB from any mode: alpha composited on white, 16-bit (``I;16``, ``I``) scaled."""
    mode = img.mode
    if mode.startswith("I"):
        # PIL's convert clips 16-bit levels at 255 (an all-white image): scale instead
        levels = np.asarray(img, dtype=np.float64)
        top = 65535.0 if levels.max() > 255 or mode.startswith("I;16") else 255.0
        grey = np.clip(np.round(levels / top * 255.0), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode == "RGBA" or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return img.convert("RGB")


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


def read_images(paths, size: int) -> np.ndarray:
    """Image files as the network sees them: :func:`read_image`, then :func:`prepare_image`.

    Parameters
    ----------
    paths : sequence of str or path
    size : int
        Output side length.

    Returns
    -------
    numpy.ndarray, shape (len(paths), 3, size, size), float32
        Pixels in [0, 1], 8-bit exact.
    """
    return np.stack([prepare_image(read_image(p)[0], size) for p in paths])


def as_image_tensor(images, parameter: str = "images") -> torch.Tensor:
    """Validate a batch of images and return it as a float32 tensor on the CPU.

    Parameters
    ----------
    images : numpy.ndarray or torch.Tensor, shape (n, 3, H, W)
        Pixels in [0, 1].
    parameter : str
        Name used in error messages.

    Returns
    -------
    torch.Tensor, shape (n, 3, H, W), float32

    Raises
    ------
    InputError
        Wrong type, shape, non-finite values or values outside [0, 1].
    """
    import torch

    expect(isinstance(images, (np.ndarray, torch.Tensor)), parameter, type(images).__name__,
           "a numpy array or torch tensor of shape (n, 3, H, W)")
    tensor = torch.as_tensor(images).detach()
    expect(tensor.ndim == 4 and tensor.shape[1] == 3 and tensor.shape[0] > 0, f"{parameter}.shape",
           tuple(tensor.shape), "(n, 3, H, W) with n >= 1")
    tensor = tensor.to(torch.float32)
    expect(bool(torch.isfinite(tensor).all()), parameter, "array with NaN or inf",
           "finite pixel values")
    lo, hi = float(tensor.min()), float(tensor.max())
    expect(lo >= -1e-6 and hi <= 1 + 1e-6, f"{parameter} range", (round(lo, 4), round(hi, 4)),
           "pixels in [0, 1] (the model normalizes internally)")
    return tensor.clamp_(0.0, 1.0)


def class_probabilities(model, images, batch_size: int = 16) -> np.ndarray:
    """The network's softmax class probabilities of a batch of images, without gradients.

    Parameters
    ----------
    model : ModelWrapper
    images : numpy.ndarray or torch.Tensor, shape (n, 3, H, W)
        Pixels in [0, 1] at the network's input size.
    batch_size : int
        Images per forward pass.

    Returns
    -------
    numpy.ndarray, shape (n, n_classes)
    """
    import torch

    tensor = as_image_tensor(images)
    with torch.no_grad():
        return np.concatenate([
            torch.softmax(model(tensor[s:s + batch_size].to(model.device)), 1).cpu().numpy()
            for s in range(0, len(tensor), batch_size)])
