"""The on-disk format of fMRI data, for the simulated observer and for a lab's real data.

A dataset is a folder of subject folders::

    DATASET/
      dataset.json            {"name": ..., "simulated": true|false, "description": ...}
      sub-01/
        betas.npy             float (n_conditions, n_vertices): one beta per condition
        conditions.csv        one row per betas row: condition, image_id, kind, presentation
        vertices.csv          one row per betas column: hemi, roi, x_mm, y_mm (+ any extra)
        faces.npy             int (n_faces, 3): mesh triangles, indices into vertices.csv rows
        subject.json          free-form metadata (optional)

``conditions.csv``: ``condition`` (unique name, e.g. ``re00_p1``), ``image_id`` (the
stimulus manifest's id, ``blank`` for the blank predictor), ``kind`` (RE, AN, AI or
blank), ``presentation`` (1 or 2; 0 for blank). ``vertices.csv``: ``hemi`` (lh/rh),
``roi`` (V1, V2, V3, V4, LO, or empty for vertices outside the ROIs), ``x_mm``, ``y_mm``
(flattened-surface coordinates in mm). ``faces.npy`` lets geodesic distances be computed
on the flat mesh.

Instead of ``betas.npy`` + ``conditions.csv``, a subject folder may hold time series:
``timeseries/run-XX.npy`` (n_frames x n_vertices, first 18 s already discarded) and
``events/run-XX.csv`` (``onset, duration, trial_type`` with ``trial_type`` =
``<image_id>_p<presentation>`` or ``blank``, onsets from the start of the scan); the loader
then estimates the betas with :func:`advlib.fmri.glm.fit_glm`.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import AdvlibError, expect
from ..provenance import atomic_dir

__all__ = ["ROIS", "DataError", "Subject", "CONDITION_COLUMNS", "VERTEX_COLUMNS", "write_subject",
           "load_subject", "list_subjects", "conditions_from_names", "load_dataset_info", "subject_files",
           "SESSION", "image_sessions"]

#: The regions of interest of the paper, in the order of its figures.
ROIS = ("V1", "V2", "V3", "V4", "LO")
CONDITION_COLUMNS = ["condition", "image_id", "kind", "presentation"]
#: Optional column of ``conditions.csv``: the scanning session of each condition (an image's
#: two presentations belong to one session; blank: 0). Missing: one session for all.
SESSION = "session"
VERTEX_COLUMNS = ["hemi", "roi", "x_mm", "y_mm"]
_KINDS = {"RE", "AN", "AI", "blank"}


class DataError(AdvlibError, ValueError):
    """A data folder does not follow the documented format."""


@dataclass
class Subject:
    """One subject's betas with their condition and vertex tables.

    Attributes
    ----------
    name : str
    betas : pandas.DataFrame, shape (n_conditions, n_vertices)
        Index = condition names; columns = 0..n_vertices-1 (rows of ``vertices``).
    conditions : pandas.DataFrame
        :data:`CONDITION_COLUMNS` and ``session``, one row per betas row, same order.
    vertices : pandas.DataFrame
        :data:`VERTEX_COLUMNS` (+ extras), one row per betas column.
    faces : numpy.ndarray, shape (n_faces, 3)
    info : dict
        ``subject.json`` plus ``n_dropped_vertices``.
    """

    name: str
    betas: pd.DataFrame
    conditions: pd.DataFrame
    vertices: pd.DataFrame
    faces: np.ndarray
    info: dict = field(default_factory=dict)


def conditions_from_names(names, manifest: pd.DataFrame | None = None) -> pd.DataFrame:
    """Conditions table from condition names ``<image_id>_p<k>`` and ``blank``.

    Parameters
    ----------
    names : sequence of str
    manifest : pandas.DataFrame, optional
        Stimulus manifest giving each image's kind; else the kind is taken from the id's
        prefix (``re``, ``an``, ``ai``).

    Returns
    -------
    pandas.DataFrame
        :data:`CONDITION_COLUMNS`.
    """
    kinds = dict(zip(manifest.image_id, manifest.kind)) if manifest is not None else {}
    rows = []
    for name in names:
        if name == "blank":
            rows.append(("blank", "blank", "blank", 0))
            continue
        image, sep, pres = str(name).rpartition("_p")
        if not sep or not pres.isdigit():
            raise DataError(f"condition={name!r}: expected '<image_id>_p<presentation>' or "
                            "'blank'")
        kind = kinds.get(image, image[:2].upper())
        rows.append((name, image, kind, int(pres)))
    return pd.DataFrame(rows, columns=CONDITION_COLUMNS)


def write_subject(folder, betas: pd.DataFrame, conditions: pd.DataFrame,
                  vertices: pd.DataFrame, faces, info: dict | None = None,
                  extra: dict | None = None) -> Path:
    """Write one subject folder in the documented format, atomically.

    Parameters
    ----------
    folder : str or path
        The subject folder (``DATASET/sub-XX``); replaced if it exists.
    betas : pandas.DataFrame, shape (n_conditions, n_vertices)
    conditions : pandas.DataFrame
        :data:`CONDITION_COLUMNS`, rows matching ``betas``.
    vertices : pandas.DataFrame
        :data:`VERTEX_COLUMNS` (+ extras), rows matching ``betas`` columns.
    faces : array_like, shape (n_faces, 3)
    info : dict, optional
        Written as ``subject.json``.
    extra : dict, optional
        Further files, relative path -> numpy array (``.npy``) or DataFrame (``.csv``),
        e.g. a simulation's ground truth or time series.

    Returns
    -------
    pathlib.Path
    """
    folder = Path(folder)
    expect(len(conditions) == betas.shape[0], "conditions", f"{len(conditions)} rows",
           f"one per betas row ({betas.shape[0]})", DataError)
    expect(len(vertices) == betas.shape[1], "vertices", f"{len(vertices)} rows",
           f"one per betas column ({betas.shape[1]})", DataError)
    with atomic_dir(folder) as tmp:
        np.save(tmp / "betas.npy", np.asarray(betas, dtype=np.float32))
        columns = CONDITION_COLUMNS + ([SESSION] if SESSION in conditions else [])
        conditions[columns].to_csv(tmp / "conditions.csv", index=False)
        vertices.to_csv(tmp / "vertices.csv", index=False)
        np.save(tmp / "faces.npy", np.asarray(faces, dtype=np.int64))
        (tmp / "subject.json").write_text(json.dumps(info or {}, indent=2, default=str) + "\n")
        for rel, value in (extra or {}).items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(value, pd.DataFrame):
                value.to_csv(target, index=False)
            else:
                np.save(target, np.asarray(value))
    return folder


def list_subjects(dataset) -> list[str]:
    """Names of the subject folders (``sub-*``) of a dataset, sorted."""
    dataset = Path(dataset)
    expect(dataset.is_dir(), "data", str(dataset), "an existing dataset folder", DataError)
    subs = sorted(p.name for p in dataset.iterdir() if p.is_dir() and p.name.startswith("sub-"))
    expect(len(subs) > 0, "data", str(dataset), "a folder with sub-XX subject folders",
           DataError)
    return subs


def load_dataset_info(dataset) -> dict:
    """``dataset.json`` of a dataset folder (``{}`` when absent)."""
    path = Path(dataset) / "dataset.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _read_csv(path: Path, required, what: str) -> pd.DataFrame:
    expect(path.is_file(), what, str(path), f"a CSV file with columns {', '.join(required)}",
           DataError)
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    missing = [c for c in required if c not in frame.columns]
    expect(not missing, f"{path.name} columns", missing, f"all of {', '.join(required)}",
           DataError)
    return frame


def _betas_from_timeseries(folder: Path, manifest, glm_options):
    from .glm import fit_glm

    runs = sorted((folder / "timeseries").glob("run-*.npy"))
    expect(len(runs) >= 2, "timeseries", str(folder / "timeseries"),
           "at least 2 run-XX.npy files (or betas.npy)", DataError)
    data, events = [], []
    for run in runs:
        ev_path = folder / "events" / f"{run.stem}.csv"
        events.append(_read_csv(ev_path, ["onset", "duration", "trial_type"], "events"))
        data.append(np.load(run))
    result = fit_glm(data, events, **(glm_options or {}))
    conditions = conditions_from_names(result.betas.index, manifest)
    if (folder / "runs.csv").is_file():
        conditions[SESSION] = _sessions_from_runs(folder, runs, events, conditions)
    return result.betas, conditions


def _sessions_from_runs(folder: Path, runs, events, conditions) -> np.ndarray:
    """Each condition's session from ``runs.csv`` (``run, session``) and the events."""
    table = _read_csv(folder / "runs.csv", ["run", SESSION], "runs")
    of_run = dict(zip(table.run.astype(int), table[SESSION]))
    where = {}
    for run, ev in zip(runs, events):
        number = int(run.stem.split("-")[1])
        expect(number in of_run, "runs.csv run", number, f"a row for every run of {folder.name}",
               DataError)
        for name in ev.trial_type.unique():
            where.setdefault(name, set()).add(of_run[number])
    out = []
    for name, kind in zip(conditions.condition, conditions.kind):
        found = where.get(name, set())
        if kind == "blank":
            out.append(0)
            continue
        expect(len(found) == 1, f"condition {name}", f"shown in sessions {sorted(found)}",
               "runs of one session", DataError)
        out.append(int(found.pop()))
    return np.asarray(out)


def _check_sessions(conditions: pd.DataFrame) -> pd.DataFrame:
    """Validate (or add) the ``session`` column: one session for an image's presentations."""
    conditions = conditions.copy()
    if SESSION not in conditions:
        conditions[SESSION] = np.where(conditions.kind == "blank", 0, 1)
        return conditions
    images = conditions.kind != "blank"
    values = pd.to_numeric(conditions[SESSION], errors="coerce")
    bad = conditions.condition[images & ~(np.isfinite(values) & (values == values.round()))]
    expect(bad.empty, "conditions.csv session", bad.tolist()[:5],
           "an integer session for every image condition", DataError)
    conditions[SESSION] = values.fillna(0).astype(int)
    per_image = conditions[images].groupby("image_id")[SESSION].nunique()
    split = per_image[per_image > 1].index.tolist()
    expect(not split, "conditions.csv session", f"images {split[:5]} in two sessions",
           "both presentations of an image in one session", DataError)
    return conditions


def image_sessions(conditions: pd.DataFrame, image_ids) -> np.ndarray:
    """The session of each image in ``image_ids`` (from a loaded subject's conditions).

    Parameters
    ----------
    conditions : pandas.DataFrame
        ``Subject.conditions`` (with the ``session`` column :func:`load_subject` adds).
    image_ids : sequence of str

    Returns
    -------
    numpy.ndarray of int, shape (len(image_ids),)
    """
    table = conditions[conditions.kind != "blank"].drop_duplicates("image_id")
    of = dict(zip(table.image_id, table[SESSION]))
    missing = [i for i in image_ids if i not in of]
    expect(not missing, "image_ids", missing[:5], "images with conditions", DataError)
    return np.array([of[i] for i in image_ids], dtype=int)


def load_subject(folder, manifest: pd.DataFrame | None = None, glm_options: dict | None = None,
                 name: str | None = None) -> Subject:
    """Load and validate one subject folder.

    Parameters
    ----------
    folder : str or path
    manifest : pandas.DataFrame, optional
        Stimulus manifest: every image in it must have presentation-1 and -2 conditions.
    glm_options : dict, optional
        Passed to :func:`advlib.fmri.glm.fit_glm` when the folder holds time series.
    name : str, optional
        Subject name (default: the folder name).

    Returns
    -------
    Subject
        Vertices with any non-finite beta are dropped (with a warning and
        ``info["n_dropped_vertices"]``); faces touching them are removed.

    Raises
    ------
    DataError
        Missing files, shape mismatches, unknown ROI/hemisphere/kind, duplicated
        conditions, images of the manifest without conditions, bad faces.
    """
    folder = Path(folder)
    expect(folder.is_dir(), "subject", str(folder), "an existing subject folder", DataError)
    if (folder / "betas.npy").is_file():
        betas = np.load(folder / "betas.npy")
        conditions = _read_csv(folder / "conditions.csv", CONDITION_COLUMNS, "conditions")
    elif (folder / "timeseries").is_dir():
        frame, conditions = _betas_from_timeseries(folder, manifest, glm_options)
        betas = frame.to_numpy()
    else:
        raise DataError(f"subject={str(folder)!r}: expected betas.npy + conditions.csv, or "
                        "timeseries/run-XX.npy + events/run-XX.csv")
    vertices = _read_csv(folder / "vertices.csv", VERTEX_COLUMNS, "vertices")
    vertices["roi"] = vertices.roi.fillna("").astype(str)
    expect(betas.ndim == 2 and betas.shape == (len(conditions), len(vertices)), "betas.shape",
           tuple(betas.shape), f"(n_conditions={len(conditions)}, n_vertices={len(vertices)}) "
           "from conditions.csv and vertices.csv", DataError)
    dup = conditions.condition[conditions.condition.duplicated()].tolist()
    expect(not dup, "conditions.csv condition", dup[:5], "unique condition names", DataError)
    kinds = set(conditions.kind) - _KINDS
    expect(not kinds, "conditions.csv kind", sorted(kinds), "RE, AN, AI or blank", DataError)
    images = conditions[conditions.kind != "blank"]
    bad_p = sorted(set(images.presentation) - {1, 2})
    expect(not bad_p, "conditions.csv presentation", bad_p, "1 or 2 (0 for blank)", DataError)
    pair_dup = images[images.duplicated(["image_id", "presentation"])]
    expect(pair_dup.empty, "conditions.csv image_id/presentation",
           pair_dup[["image_id", "presentation"]].values.tolist()[:3],
           "one condition per image and presentation", DataError)
    conditions = _check_sessions(conditions)
    rois = sorted(set(vertices.roi) - set(ROIS) - {""})
    expect(not rois, "vertices.csv roi", rois, f"one of {', '.join(ROIS)} or empty", DataError)
    hemis = sorted(set(vertices.hemi) - {"lh", "rh"})
    expect(not hemis, "vertices.csv hemi", hemis, "'lh' or 'rh'", DataError)
    if manifest is not None:
        have = set(zip(images.image_id, images.presentation))
        missing = [f"{i}_p{p}" for i in manifest.image_id for p in (1, 2) if (i, p) not in have]
        expect(not missing, "conditions", f"{len(missing)} missing: {missing[:5]}",
               "both presentations of every image in the stimulus manifest", DataError)
    faces_path = folder / "faces.npy"
    expect(faces_path.is_file(), "faces", str(faces_path), "mesh triangles (n_faces, 3)", DataError)
    faces = np.load(faces_path)
    expect(faces.ndim == 2 and faces.shape[1] == 3, "faces.shape", faces.shape, "(n_faces, 3)",
           DataError)
    expect(faces.size == 0 or (faces.min() >= 0 and faces.max() < len(vertices)), "faces",
           f"indices {int(faces.min())}..{int(faces.max())}",
           f"vertex indices in 0..{len(vertices) - 1}", DataError)

    keep = np.isfinite(betas).all(0)
    n_drop = int((~keep).sum())
    if n_drop:
        warnings.warn(f"{folder.name}: dropped {n_drop} vertices with NaN/inf betas",
                      RuntimeWarning, stacklevel=2)
        remap = np.full(len(vertices), -1)
        remap[keep] = np.arange(keep.sum())
        faces = remap[faces]
        faces = faces[(faces >= 0).all(1)]
        betas = betas[:, keep]
        vertices = vertices[keep].reset_index(drop=True)
    info_path = folder / "subject.json"
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    info["n_dropped_vertices"] = n_drop
    frame = pd.DataFrame(np.asarray(betas, dtype=np.float64), index=conditions.condition.tolist())
    return Subject(name or folder.name, frame, conditions.reset_index(drop=True), vertices,
                   faces.astype(np.int64), info)


def subject_files(dataset_dir, names) -> list[Path]:
    """The files a subject's analysis reads (betas or time series, tables, mesh)."""
    files = []
    for name in names:
        folder = Path(dataset_dir) / name
        expect(folder.is_dir(), "subject", str(folder), "an existing subject folder", DataError)
        files += sorted(p for p in folder.rglob("*") if p.is_file()
                        and p.suffix in (".npy", ".csv", ".json")
                        and "simulation" not in p.relative_to(folder).parts[:1]
                        and "selection" not in p.relative_to(folder).parts[:1])
    return files
