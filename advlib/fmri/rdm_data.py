"""External brain RDMs: a lab's (or a published study's) RDMs with the images they were
measured on, validated like every other input.

A folder holds::

    FOLDER/
      stimuli.csv        one row per image, in the RDMs' order: file (path relative to the
                         folder), category, optional index (1..n) and 0/1 membership columns
      <name>.npz         rdms, shape (n_subjects, n_sessions, n, n) or (n_subjects, n, n);
                         optional subjects (names) and sessions
      README.md          the source and licence (optional, shown by the book)

or, instead of the ``.npz``, an rsatoolbox ``RDMs`` file (``.hdf5``/``.pkl``, see
:func:`rsatoolbox.rdm.load_rdm`) whose descriptors ``subject`` and ``session`` (optional)
say what each RDM is. The human inferior temporal cortex RDMs of Kriegeskorte et al.
(2008) ship in ``data/kriegeskorte92`` in this format.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import expect
from .data import DataError

__all__ = ["RDMData", "load_rdm_data", "check_rdm_stack", "KRIEGESKORTE92"]

#: The 92-image hIT dataset in the checkout (``data/kriegeskorte92``).
KRIEGESKORTE92 = Path(__file__).resolve().parents[2] / "data" / "kriegeskorte92"


@dataclass
class RDMData:
    """Brain RDMs with their images.

    Attributes
    ----------
    folder : pathlib.Path
    images : pandas.DataFrame, shape (n, ...)
        ``stimuli.csv`` in RDM order, with ``path`` (absolute) added.
    rdms : numpy.ndarray, shape (n_subjects, n_sessions, n, n)
    subjects : list of str
    sessions : list of str
    subset : str or None
        The 0/1 column of ``stimuli.csv`` whose images these are (``None``: all).
    n_all : int or None
        The number of images in the folder (``None``: ``len(images)``).
    """

    folder: Path
    images: pd.DataFrame
    rdms: np.ndarray
    subjects: list
    sessions: list
    subset: str | None = None
    n_all: int | None = None

    def describe(self) -> str:
        """Which of the folder's images these are, for a page's prose: ``"all 92 images"``,
        or ``"22 of the 92 images (subset rand24)"``."""
        n = len(self.images)
        if self.subset is None:
            return f"all {n if self.n_all is None else self.n_all} images"
        if self.n_all is None:
            return f"{n} images (subset {self.subset})"
        return f"{n} of the {self.n_all} images (subset {self.subset})"

    def subject_rdms(self) -> np.ndarray:
        """Each subject's RDM, the mean over its sessions: shape (n_subjects, n, n)."""
        return self.rdms.mean(axis=1)

    def input_files(self) -> list:
        """The folder's files whose contents key a stage made from it (README excluded)."""
        return sorted(p for p in Path(self.folder).rglob("*") if p.is_file()
                      and p.name != "README.md")

    def group_rdm(self) -> np.ndarray:
        """The mean over subjects and sessions: shape (n, n)."""
        return self.rdms.mean(axis=(0, 1))


def check_rdm_stack(rdms, n_images: int | None = None, where: str = "rdms") -> np.ndarray:
    """Validate a stack of RDMs: finite, square, symmetric, zero diagonal.

    Parameters
    ----------
    rdms : array_like, shape (n_subjects, n_sessions, n, n) or (n_subjects, n, n)
    n_images : int, optional
        The number of images the RDMs must describe.
    where : str
        The file, for messages.

    Returns
    -------
    numpy.ndarray, shape (n_subjects, n_sessions, n, n)

    Raises
    ------
    DataError
        Naming what is wrong and where (the first offending subject and session).
    """
    arr = np.asarray(rdms, dtype=np.float64)
    expect(arr.ndim in (3, 4) and arr.shape[-1] == arr.shape[-2], f"{where} shape",
           tuple(arr.shape), "(subjects, sessions, n, n) or (subjects, n, n) square RDMs",
           DataError)
    arr = arr[:, None] if arr.ndim == 3 else arr
    n = arr.shape[-1]
    expect(n >= 4, f"{where} shape", tuple(arr.shape), "RDMs of at least 4 images", DataError)
    expect(n_images is None or n == n_images, f"{where} shape", tuple(arr.shape),
           f"RDMs of the {n_images} images listed in stimuli.csv", DataError)
    for s, r in np.ndindex(arr.shape[:2]):
        m = arr[s, r]
        expect(np.isfinite(m).all(), f"{where} [subject {s}, session {r}]",
               f"{int((~np.isfinite(m)).sum())} NaN or infinite entries", "finite values",
               DataError)
        expect(np.allclose(np.diag(m), 0, atol=1e-9), f"{where} [subject {s}, session {r}]",
               f"diagonal up to {np.abs(np.diag(m)).max():.3g}", "a zero diagonal", DataError)
        asym = np.abs(m - m.T).max()
        expect(asym <= 1e-8 * max(1.0, np.abs(m).max()), f"{where} [subject {s}, session {r}]",
               f"asymmetric by up to {asym:.3g}", "a symmetric matrix", DataError)
    return arr


def _read_images(folder: Path) -> pd.DataFrame:
    path = folder / "stimuli.csv"
    expect(path.is_file(), "stimuli.csv", str(path), "a CSV of file, category (one row per "
           "image, in the RDMs' order)", DataError)
    table = pd.read_csv(path, encoding="utf-8-sig")
    missing = [c for c in ("file", "category") if c not in table]
    expect(not missing, "stimuli.csv columns", missing, f"file and category ({path})",
           DataError)
    if "index" in table:
        idx = pd.to_numeric(table["index"], errors="coerce").to_numpy()
        expect(np.array_equal(idx, np.arange(1, len(table) + 1)), "stimuli.csv index",
               table["index"].tolist()[:8], f"1..{len(table)} in order: the rows must follow "
               f"the RDMs' order ({path})", DataError)
    paths = [folder / f for f in table.file.astype(str)]
    absent = [str(p.relative_to(folder)) for p in paths if not p.is_file()]
    expect(not absent, "stimuli.csv file", absent[:5], f"image files in {folder}", DataError)
    dup = table.file[table.file.duplicated()].tolist()
    expect(not dup, "stimuli.csv file", dup[:5], "each image once", DataError)
    return table.assign(path=[str(p.resolve()) for p in paths])


def _read_rdms(folder: Path) -> tuple[np.ndarray, list, list, str]:
    found = sorted(folder.glob("*.npz")) + sorted(folder.glob("*.hdf5")) + sorted(
        folder.glob("*.pkl"))
    expect(len(found) == 1, "rdms", [p.name for p in found],
           f"one .npz (rdms) or rsatoolbox .hdf5/.pkl file in {folder}", DataError)
    path = found[0]
    if path.suffix == ".npz":
        try:
            data = np.load(path, allow_pickle=False)
            arr = data["rdms"]
        except (ValueError, OSError, KeyError) as exc:
            raise DataError(f"rdms={str(path)!r}: expected an .npz with an array 'rdms' "
                            f"({type(exc).__name__}: {str(exc)[:100]})") from None
        subjects = [str(s) for s in data["subjects"]] if "subjects" in data else None
        sessions = [str(s) for s in data["sessions"]] if "sessions" in data else None
        return arr, subjects, sessions, path.name
    from rsatoolbox.rdm import load_rdm

    try:
        rdms = load_rdm(str(path), file_type=path.suffix.lstrip("."))
    except Exception as exc:             # rsatoolbox raises many kinds on a bad file
        raise DataError(f"rdms={str(path)!r}: expected an rsatoolbox RDMs file "
                        f"({type(exc).__name__}: {str(exc)[:100]})") from None
    mats = rdms.get_matrices()
    desc = rdms.rdm_descriptors
    subj = [str(s) for s in desc.get("subject", range(len(mats)))]
    sess = [str(s) for s in desc.get("session", [1] * len(mats))]
    subjects, sessions = list(dict.fromkeys(subj)), list(dict.fromkeys(sess))
    expect(len(subjects) * len(sessions) == len(mats), "rdms descriptors",
           f"{len(mats)} RDMs for {len(subjects)} subjects x {len(sessions)} sessions",
           "one RDM per subject and session", DataError)
    arr = np.empty((len(subjects), len(sessions)) + mats.shape[1:])
    for m, s, r in zip(mats, subj, sess):
        arr[subjects.index(s), sessions.index(r)] = m
    return arr, subjects, sessions, path.name


def load_rdm_data(folder=KRIEGESKORTE92, subset: str | None = None) -> RDMData:
    """Load and validate a folder of brain RDMs with their images.

    Parameters
    ----------
    folder : str or path
        Default: the 92-image hIT data of Kriegeskorte et al. (2008) in the checkout.
    subset : str, optional
        A 0/1 membership column of ``stimuli.csv``: only the images marked 1, in their
        order, with their rows and columns of every RDM (the 92-image data has ``rand24``,
        a random 22 of its images, and others). ``None``: every image.

    Returns
    -------
    RDMData

    Raises
    ------
    DataError
        Missing or damaged files; RDMs that are not square, symmetric, finite or of zero
        diagonal; a number of RDM rows other than the number of images; images out of order.
    """
    folder = Path(folder).expanduser()
    expect(folder.is_dir(), "folder", str(folder), "a folder with stimuli.csv and the RDMs",
           DataError)
    images = _read_images(folder)
    arr, subjects, sessions, name = _read_rdms(folder)
    arr = check_rdm_stack(arr, len(images), name)
    subjects = subjects or [f"S{i + 1}" for i in range(arr.shape[0])]
    sessions = sessions or [str(i + 1) for i in range(arr.shape[1])]
    expect(len(subjects) == arr.shape[0] and len(sessions) == arr.shape[1], f"{name} subjects",
           (len(subjects), len(sessions)), f"names for {arr.shape[0]} subjects and "
           f"{arr.shape[1]} sessions", DataError)
    data = RDMData(folder.resolve(), images, arr, list(subjects), list(sessions))
    return data if subset is None else _subset(data, subset)


def _subset(data: RDMData, column: str) -> RDMData:
    """The images of ``data`` whose ``column`` is 1, with their rows and columns of the RDMs."""
    table = data.images
    members = [c for c in table.columns if c not in ("index", "file", "category", "path")
               and table[c].isin([0, 1]).all()]
    expect(column in members, "subset", column, "a 0/1 membership column of "
           f"{data.folder / 'stimuli.csv'} ({', '.join(members) or 'it has none'}) or None")
    keep = np.flatnonzero(table[column].to_numpy() == 1)
    expect(keep.size >= 4, "subset", column, f"a column marking at least 4 images "
           f"({keep.size} marked)")
    return RDMData(data.folder, table.iloc[keep].reset_index(drop=True),
                   data.rdms[:, :, keep[:, None], keep], data.subjects, data.sessions, column,
                   len(table))
