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
from ..layout import MANIFEST
from ..provenance import atomic_dir

__all__ = ["ROIS", "DataError", "Subject", "CONDITION_COLUMNS", "VERTEX_COLUMNS", "write_subject",
           "load_subject", "subject_from_parts", "list_subjects", "conditions_from_names",
           "load_dataset_info", "subject_files",
           "SESSION", "image_sessions", "choose_subjects", "check_pairing", "DATASET_INFO",
           "SUBJECT_INFO", "RUNS_TABLE", "TRUE_BETAS", "events_file", "timeseries_file"]

# The file names of the documented data format (book/data_format.md); this module is their
# owner, the writers (the simulation) and readers elsewhere take them from here.

#: A dataset folder's description (optional for real data; the simulation writes it).
DATASET_INFO = "dataset.json"
#: A subject's description (free-form; ``simulated`` marks the simulated observer's).
SUBJECT_INFO = "subject.json"
#: The session of each run, beside the time series.
RUNS_TABLE = "runs.csv"
#: A simulated subject's noise-free betas (the ground truth; real data have none).
TRUE_BETAS = "simulation/true_betas.npy"


def events_file(run: int) -> str:
    """``events/run-XX.csv``: the events of run ``run`` (from 1), relative to the subject."""
    return f"events/run-{int(run):02d}.csv"


def timeseries_file(run: int) -> str:
    """``timeseries/run-XX.npy``: the time series of run ``run`` (from 1)."""
    return f"timeseries/run-{int(run):02d}.npy"

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
        (tmp / SUBJECT_INFO).write_text(json.dumps(info or {}, indent=2, default=str) + "\n")
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


def _load_array(path: Path, what: str) -> np.ndarray:
    """A ``.npy`` file as an array, or a clear error (not a numpy file, a pickle, unreadable)."""
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{what}={str(path)!r}: expected a numpy .npy array file "
                        f"({type(exc).__name__}: {str(exc)[:120]})") from None
    expect(isinstance(array, np.ndarray) and array.dtype.kind in "fiu", what, str(path),
           f"a numeric array (found dtype {getattr(array, 'dtype', type(array))})", DataError)
    return array


def _check_informative(betas: np.ndarray, conditions: pd.DataFrame, name: str) -> None:
    """Refuse betas that carry no response: all NaN, a condition with no finite value, or
    every vertex constant over the image conditions (analyses would end in empty tables)."""
    finite = np.isfinite(betas)
    expect(finite.any(), "betas", f"{name}: every value NaN or infinite",
           "finite responses", DataError)
    dead = conditions.condition[~finite.any(1)].tolist()
    expect(not dead, "betas", f"{name}: no finite value for condition(s) {dead[:5]}",
           "a response for every condition (a missing condition would drop every vertex)",
           DataError)
    images = (conditions.kind != "blank").to_numpy()
    with np.errstate(invalid="ignore"):
        spread = np.nanstd(np.where(finite[images], betas[images], np.nan), axis=0)
    expect(np.nanmax(spread) > 0 if np.isfinite(spread).any() else False, "betas",
           f"{name}: every vertex has the same value in every image condition",
           "responses that vary between images (constant data carry no representation)",
           DataError)


def choose_subjects(dataset, subjects=None) -> list[str]:
    """The subjects of a dataset to analyse: all of them, or the named ones, checked.

    Parameters
    ----------
    dataset : str or path
    subjects : list of str, str, or "all", optional
        Subject folder names (``sub-XX``; one name alone, or ``"all"`` / None for every
        subject); every one must be a subject folder of
        ``dataset`` (a path such as ``../elsewhere/sub-01`` is refused: results are written
        under the subject's name, and a path would write outside the output folder).

    Returns
    -------
    list of str

    Raises
    ------
    DataError
        An unknown subject, a path instead of a name, or a subject named twice.
    """
    found = list_subjects(dataset)
    if isinstance(subjects, str):
        subjects = None if subjects == "all" else [subjects]
    if subjects is None:
        return found
    names = [str(s) for s in subjects]
    for name in names:
        expect(name in found and Path(name).name == name, "subjects", name,
               f"subject folder names of {Path(dataset).name} ({', '.join(found)})", DataError)
    expect(len(set(names)) == len(names), "subjects", names, "each subject named once",
           DataError)
    return names


def check_pairing(dataset, stim_dir) -> bool:
    """Check that a dataset was recorded with this stimulus set, where it says which.

    Conditions are paired with images by ``image_id``; a dataset analysed with another
    stimulus set would be paired with the wrong pictures without a word. ``dataset.json``
    may therefore record ``stimulus_manifest_sha256``, the SHA-256 of the ``manifest.csv``
    of the set the subjects saw (the simulator writes it; a lab adds it to its data).

    Parameters
    ----------
    dataset : str or path
    stim_dir : str or path
        The stimulus set the analysis uses.

    Returns
    -------
    bool
        True when checked; False, with a ``RuntimeWarning``, when the dataset records no
        stimulus set (the pairing by ``image_id`` cannot be checked).

    Raises
    ------
    DataError
        The dataset records another stimulus set.
    """
    import warnings

    from ..provenance import file_sha256

    recorded = load_dataset_info(dataset).get("stimulus_manifest_sha256")
    if not recorded:
        warnings.warn(f"dataset {Path(dataset).name} does not record the stimulus set it was "
                      "made for (stimulus_manifest_sha256 in dataset.json): images are paired "
                      "with conditions by image_id without a check", RuntimeWarning,
                      stacklevel=2)
        return False
    manifest = Path(stim_dir) / MANIFEST
    expect(manifest.is_file(), "stim_dir", str(stim_dir), "a stimulus set with manifest.csv",
           DataError)
    found = file_sha256(manifest)
    expect(found == recorded, "stim_dir", str(stim_dir),
           f"the stimulus set dataset {Path(dataset).name} was made for (its manifest.csv "
           f"has SHA-256 {recorded[:12]}..., this one {found[:12]}...): conditions would be "
           "paired with other pictures", DataError)
    return True


#: Fields of ``dataset.json`` this tool reads, with the JSON type each must have.
_DATASET_FIELDS = {"name": (str, "a string"), "simulated": (bool, "true or false"),
                   "description": (str, "a string"), "subjects": (list, "a list of names"),
                   "stimulus_manifest_sha256": (str, "a SHA-256 hex string"),
                   "stimuli": (str, "a string"), "seed": (int, "an integer"),
                   "parameters": (dict, "an object")}


def _read_json(path: Path) -> dict:
    """A JSON object file, or a clear error naming the file (not JSON, truncated, a list)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path.name}={str(path)!r}: expected a JSON object "
                        f"({type(exc).__name__}: {str(exc)[:100]})") from None
    expect(isinstance(data, dict), path.name, str(path),
           f"a JSON object {{...}} (found a {type(data).__name__})", DataError)
    return data


def load_dataset_info(dataset) -> dict:
    """``dataset.json`` of a dataset folder (``{}`` when absent), its fields checked.

    Raises
    ------
    DataError
        Not a JSON object, or a field of the wrong type (``"simulated": "no"``).
    """
    path = Path(dataset) / DATASET_INFO
    if not path.is_file():
        return {}
    info = _read_json(path)
    for key, (kind, what) in _DATASET_FIELDS.items():
        value = info.get(key)
        ok = value is None or (isinstance(value, kind) and not (
            kind is int and isinstance(value, bool)))
        expect(ok, f"dataset.json {key}", value, f"{what} ({path})", DataError)
    expect(all(isinstance(x, str) for x in info.get("subjects") or []),
           "dataset.json subjects", info.get("subjects"), f"a list of names ({path})", DataError)
    return info


def _read_csv(path: Path, required, what: str) -> pd.DataFrame:
    expect(path.is_file(), what, str(path), f"a CSV file with columns {', '.join(required)}",
           DataError)
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{what}={str(path)!r}: expected a comma-separated table with columns "
                        f"{', '.join(required)} ({type(exc).__name__}: {str(exc)[:100]})"
                        ) from None
    missing = [c for c in required if c not in frame.columns]
    if missing and len(frame.columns) == 1 and ";" in str(frame.columns[0]):
        raise DataError(f"{path.name}={str(path)!r}: expected commas between columns; this "
                        "file separates them with semicolons")
    expect(not missing, f"{path.name} columns", missing, f"all of {', '.join(required)}",
           DataError)
    return frame


def _numeric(frame: pd.DataFrame, column: str, path: Path, what: str,
             integer: bool = False) -> pd.Series:
    """A column as numbers, or a clear error naming the file, the column and bad values."""
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = ~np.isfinite(values) | ((values != values.round()) if integer else False)
    expect(not bad.any(), f"{path.name} {column}", frame[column][bad].tolist()[:5],
           f"{what} ({path})", DataError)
    return values.astype(int) if integer else values


def _betas_from_timeseries(folder: Path, manifest, glm_options):
    from .glm import fit_glm

    runs = sorted((folder / "timeseries").glob("run-*.npy"))
    expect(len(runs) >= 2, "timeseries", str(folder / "timeseries"),
           "at least 2 run-XX.npy files (or betas.npy)", DataError)
    data, events = [], []
    for run in runs:
        ev_path = folder / "events" / f"{run.stem}.csv"
        events.append(_read_csv(ev_path, ["onset", "duration", "trial_type"], "events"))
        for column in ("onset", "duration"):
            _numeric(events[-1], column, ev_path, "numbers of seconds")
        array = _load_array(run, f"timeseries/{run.name}")
        expect(array.ndim == 2 and (not data or array.shape[1] == data[0].shape[1]),
               f"timeseries/{run.name} shape", tuple(array.shape),
               "(n_frames, n_vertices)" + (f" with {data[0].shape[1]} vertices as "
                                            f"timeseries/{runs[0].name}" if data else ""),
               DataError)
        _check_run_events(events[-1], ev_path, array.shape[0])
        finite = np.isfinite(array)
        expect(finite.all(), f"timeseries/{run.name}", f"{int((~finite).sum())} NaN or "
               "infinite values", f"finite time series (drop vertices without data; {run})",
               DataError)
        big = float(np.abs(array).max()) if array.size else 0.0
        expect(big < 1e100, f"timeseries/{run.name}", f"values up to {big:.3g}",
               f"BOLD values of a plausible magnitude, below 1e100 (squares of larger ones "
               f"overflow; {run})", DataError)
        data.append(array)
    result = fit_glm(data, events, **(glm_options or {}))
    conditions = conditions_from_names(result.betas.index, manifest)
    if (folder / RUNS_TABLE).is_file():
        conditions[SESSION] = _sessions_from_runs(folder, runs, events, conditions)
    return result.betas, conditions


def _check_run_events(events: pd.DataFrame, path: Path, n_frames: int) -> None:
    """Events inside their run's scan (from 0 to the last kept frame, the first 18 s
    included) and one image at a time."""
    from .design import TR

    end = (np.ceil(18.0 / TR) + n_frames) * TR
    onset, duration = events.onset.astype(float), events.duration.astype(float)
    outside = events.trial_type[(onset < 0) | (onset + duration > end + 1e-9)]
    expect(outside.empty, f"{path.name} events", outside.tolist()[:5],
           f"events within the run's scan, 0 to {end:g} s ({n_frames} kept frames; {path})",
           DataError)
    shown = events[events.trial_type != "blank"]
    twice = shown.onset[shown.onset.duplicated(keep=False)]
    expect(twice.empty, f"{path.name} onset", sorted(set(twice.tolist()))[:5],
           f"one image at a time (two events share these onsets; {path})", DataError)


def _sessions_from_runs(folder: Path, runs, events, conditions) -> np.ndarray:
    """Each condition's session from ``runs.csv`` (``run, session``) and the events."""
    path = folder / RUNS_TABLE
    table = _read_csv(path, ["run", SESSION], "runs")
    of_run = dict(zip(_numeric(table, "run", path, "whole run numbers", integer=True),
                      _numeric(table, SESSION, path, "whole session numbers", integer=True)))
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


def _check_sessions(conditions: pd.DataFrame, cfile: str = "conditions.csv") -> pd.DataFrame:
    """Validate (or add) the ``session`` column: one session for an image's presentations."""
    conditions = conditions.copy()
    if SESSION not in conditions:
        conditions[SESSION] = np.where(conditions.kind == "blank", 0, 1)
        return conditions
    images = conditions.kind != "blank"
    values = pd.to_numeric(conditions[SESSION], errors="coerce")
    bad = conditions.condition[images & ~(np.isfinite(values) & (values == values.round()))]
    expect(bad.empty, f"{cfile} session", bad.tolist()[:5],
           "an integer session for every image condition", DataError)
    conditions[SESSION] = values.fillna(0).astype(int)
    per_image = conditions[images].groupby("image_id")[SESSION].nunique()
    split = per_image[per_image > 1].index.tolist()
    expect(not split, f"{cfile} session", f"images {split[:5]} in two sessions",
           "both presentations of an image in one session", DataError)
    return conditions


def _warn_about_design(name: str, conditions: pd.DataFrame, manifest: pd.DataFrame) -> None:
    """Say what the analyses will leave aside: conditions of images that are not in the
    stimulus set, and AN or AI twins shown in another session than their RE image (the
    swap test then never swaps that image's versions)."""
    images = conditions[conditions.kind != "blank"]
    unknown = sorted(set(images.image_id) - set(manifest.image_id))
    if unknown:
        warnings.warn(f"{name}: conditions for {len(unknown)} image(s) not in the stimulus set "
                      f"({', '.join(unknown[:5])}); the analyses leave them out",
                      RuntimeWarning, stacklevel=3)
    if "source_id" in manifest and SESSION in images:
        source = dict(zip(manifest.image_id, manifest.source_id))
        spread = (images.assign(source=images.image_id.map(source)).dropna(subset=["source"])
                  .groupby("source")[SESSION].nunique())
        split = spread[spread > 1].index.tolist()
        if split:
            warnings.warn(f"{name}: the RE, AN and AI versions of {', '.join(split[:5])} were "
                          "shown in different sessions; the paper's design shows them in one, "
                          "and the swap test leaves these images unswapped",
                          RuntimeWarning, stacklevel=3)


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
        betas = _load_array(folder / "betas.npy", "betas")
        conditions = _read_csv(folder / "conditions.csv", CONDITION_COLUMNS, "conditions")
        source = "conditions.csv"
    elif (folder / "timeseries").is_dir():
        frame, conditions = _betas_from_timeseries(folder, manifest, glm_options)
        betas = frame.to_numpy()
        source = "the events of timeseries/"
    else:
        raise DataError(f"subject={str(folder)!r}: expected betas.npy + conditions.csv, or "
                        "timeseries/run-XX.npy + events/run-XX.csv")
    vertices = _read_csv(folder / "vertices.csv", VERTEX_COLUMNS, "vertices")
    faces_path = folder / "faces.npy"
    expect(faces_path.is_file(), "faces", str(faces_path), "mesh triangles (n_faces, 3)", DataError)
    faces = _load_array(faces_path, "faces")
    info_path = folder / SUBJECT_INFO
    info = _read_json(info_path) if info_path.is_file() else {}
    return subject_from_parts(name or folder.name, betas, conditions, vertices, faces, info,
                              manifest=manifest, where=folder,
                              files={"conditions": source})


#: The file names :func:`subject_from_parts` names in its messages (the native format's).
_NATIVE_FILES = {"conditions": "conditions.csv", "vertices": "vertices.csv", "faces": "faces.npy"}


def subject_from_parts(name: str, betas, conditions: pd.DataFrame, vertices: pd.DataFrame,
                       faces, info: dict | None = None, *, manifest: pd.DataFrame | None = None,
                       where=None, files: dict | None = None) -> Subject:
    """Validate a subject's parts, whatever files they came from, and make the Subject.

    Every reader (the native folder of :func:`load_subject`, the GIFTI, BIDS and GLMsingle
    readers of :mod:`advlib.fmri.formats`) ends here, so all formats pass the same checks.

    Parameters
    ----------
    name : str
        Subject name (``sub-XX``).
    betas : array_like, shape (n_conditions, n_vertices)
    conditions : pandas.DataFrame
        :data:`CONDITION_COLUMNS` (+ optional ``session``), one row per betas row.
    vertices : pandas.DataFrame
        :data:`VERTEX_COLUMNS` (+ extras), one row per betas column.
    faces : array_like, shape (n_faces, 3)
    info : dict, optional
        Metadata (``subject.json``).
    manifest : pandas.DataFrame, optional
        Stimulus manifest: every image in it must have presentation-1 and -2 conditions.
    where : str or path, optional
        The folder the parts come from, named in the messages.
    files : dict, optional
        The files that held the ``conditions``, ``vertices`` and ``faces`` (named in the
        messages; default: the native format's).

    Returns
    -------
    Subject
        Vertices with any non-finite beta dropped (warning, ``info["n_dropped_vertices"]``).

    Raises
    ------
    DataError
        As :func:`load_subject`.
    """
    folder = Path(where) if where is not None else Path(name)
    files = {**_NATIVE_FILES, **(files or {})}
    cfile, vfile, ffile = files["conditions"], files["vertices"], files["faces"]
    betas = np.asarray(betas)
    conditions = conditions.reset_index(drop=True)
    vertices = vertices.reset_index(drop=True).copy()
    vertices["roi"] = vertices.roi.fillna("").astype(str)
    for column in ("x_mm", "y_mm"):
        vertices[column] = _numeric(vertices, column, folder / vfile,
                                    "finite numbers (mm on the flattened surface)")
    position = ["hemi", "x_mm", "y_mm"] + (["z_mm"] if "z_mm" in vertices else [])
    twins = vertices[vertices.duplicated(position, keep=False)]
    expect(twins.empty, f"{vfile} rows", twins.index.tolist()[:6],
           f"one vertex per position (these rows share {', '.join(position)}; {folder})",
           DataError)
    expect(betas.ndim == 2 and betas.shape == (len(conditions), len(vertices)), "betas.shape",
           tuple(betas.shape), f"(n_conditions={len(conditions)}, n_vertices={len(vertices)}) "
           f"from {cfile} and {vfile} ({folder})", DataError)
    dup = conditions.condition[conditions.condition.duplicated()].tolist()
    expect(not dup, f"{cfile} condition", dup[:5], "unique condition names", DataError)
    kinds = set(conditions.kind) - _KINDS
    expect(not kinds, f"{cfile} kind", sorted(kinds), "RE, AN, AI or blank", DataError)
    images = conditions[conditions.kind != "blank"]
    bad_p = sorted(set(images.presentation) - {1, 2})
    expect(not bad_p, f"{cfile} presentation", bad_p, "1 or 2 (0 for blank)", DataError)
    pair_dup = images[images.duplicated(["image_id", "presentation"])]
    expect(pair_dup.empty, f"{cfile} image_id/presentation",
           pair_dup[["image_id", "presentation"]].values.tolist()[:3],
           "one condition per image and presentation", DataError)
    conditions = _check_sessions(conditions, cfile)
    rois = sorted(set(vertices.roi) - set(ROIS) - {""})
    expect(not rois, f"{vfile} roi", rois, f"one of {', '.join(ROIS)} or empty", DataError)
    hemis = sorted(set(vertices.hemi) - {"lh", "rh"})
    expect(not hemis, f"{vfile} hemi", hemis, "'lh' or 'rh'", DataError)
    if manifest is not None:
        have = set(zip(images.image_id, images.presentation))
        missing = [f"{i}_p{p}" for i in manifest.image_id for p in (1, 2) if (i, p) not in have]
        expect(not missing, "conditions", f"{len(missing)} missing: {missing[:5]}",
               "both presentations of every image in the stimulus manifest", DataError)
        _warn_about_design(folder.name, conditions, manifest)
    faces = np.asarray(faces)
    expect(faces.ndim == 2 and faces.shape[1] == 3, "faces.shape", faces.shape, "(n_faces, 3)",
           DataError)
    if faces.dtype.kind == "f":                 # whole numbers stored as floats are fine
        whole = np.isfinite(faces) & (faces == np.round(faces))
        expect(whole.all(), "faces", f"values such as {faces[~whole][:3].tolist()}",
               f"whole vertex indices ({folder / ffile})", DataError)
        faces = faces.astype(np.int64)
    expect(faces.size == 0 or (faces.min() >= 0 and faces.max() < len(vertices)), "faces",
           f"indices {int(faces.min())}..{int(faces.max())}",
           f"vertex indices in 0..{len(vertices) - 1}", DataError)

    betas = betas.astype(np.float64, copy=False) if betas.dtype.kind != "f" else betas
    _check_informative(betas, conditions, folder.name)
    keep = np.isfinite(betas).all(0)
    n_drop = int((~keep).sum())
    if n_drop:
        warnings.warn(f"{folder.name}: dropped {n_drop} vertices with NaN/inf betas",
                      RuntimeWarning, stacklevel=3)
        remap = np.full(len(vertices), -1)
        remap[keep] = np.arange(keep.sum())
        faces = remap[faces]
        faces = faces[(faces >= 0).all(1)]
        betas = betas[:, keep]
        vertices = vertices[keep].reset_index(drop=True)
    info = dict(info or {})
    info["n_dropped_vertices"] = n_drop
    frame = pd.DataFrame(np.asarray(betas, dtype=np.float64), index=conditions.condition.tolist())
    return Subject(name, frame, conditions.reset_index(drop=True), vertices,
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
