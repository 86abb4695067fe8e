"""A lab's data in the field's formats: GIFTI surfaces, data and labels, BIDS events,
GLMsingle outputs; read into the in-memory :class:`~advlib.fmri.data.Subject`, written
back out for examples.

Two layouts are read (``FORMATS``), both with BIDS file names
(``sub-XX[_ses-YY]_task-ZZ[_run-NN]_...``; the entities are parsed by
:func:`parse_bids_name`)::

    DATASET/                                   bids-gifti
      sub-01/
        anat/
          sub-01_hemi-L_flat.surf.gii          flat patch (mm, z = 0): positions and mesh
          sub-01_hemi-L_midthickness.surf.gii  folded mesh (used when there is no flat patch)
          sub-01_hemi-L_rois.label.gii         ROIs (or FreeSurfer lh.*.annot, lh.<ROI>.label)
          ... the same for hemi-R
        [ses-01/]func/
          sub-01_ses-01_task-adv_run-01_hemi-L_bold.func.gii   time series: one array a volume
          sub-01_ses-01_task-adv_run-01_events.tsv             onset, duration, trial_type[, stim_file]
          -- or betas --
          sub-01_task-adv_hemi-L_betas.func.gii                one array a condition
          sub-01_task-adv_conditions.tsv                       condition, image_id, kind,
                                                               presentation[, session]

    DATASET/                                   glmsingle
      sub-01/
        anat/ ...                              as above
        [ses-01/]func/*_events.tsv             the design: GLMsingle's trial order
        glmsingle/TYPED_FITHRF_GLMDENOISE_RR.npz (or .npy)   betasmd (n_vertices, n_trials)

Conventions. Vertices are the left hemisphere's then the right's, in the surface files'
order; a flat patch gives ``x_mm, y_mm`` and keeps the vertices in its plane (z = 0: a
medial wall cut out of the patch and left at its folded position is left out); without a
flat patch the folded mesh's coordinates give ``x_mm, y_mm, z_mm`` and geodesic disks are
measured along the folded mesh (:func:`advlib.fmri.searchlight.vertex_coordinates`). ROI
names are the project's (:data:`~advlib.fmri.data.ROIS`) or a name of :data:`ROI_ALIASES`
(``V1v`` and ``V1d`` are V1, ``hV4`` is V4, ...); background labels
(:data:`BACKGROUND_LABELS`) mark vertices outside the ROIs. Events: ``trial_type`` is an
image id of the stimulus set (or ``<image_id>_p<k>``, or ``blank``); with a ``stim_file``
column the image is found from the file name; the first showing of an image in a run is
presentation 1, the second presentation 2. Onsets count from the first stored volume (BIDS);
the session of a run is its ``ses-`` entity. GLMsingle's trials are the non-blank events of
the runs in (session, run, onset) order; a condition's beta is the mean of its trials'
betas.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import check_choice, expect
from ..provenance import atomic_dir
from .data import (
    CONDITION_COLUMNS,
    DATASET_INFO,
    ROIS,
    RUNS_TABLE,
    SESSION,
    DataError,
    Subject,
    choose_subjects,
    conditions_from_names,
    load_subject,
    subject_from_parts,
    write_subject,
)
from .design import BLANK, DISCARD_S, TR

__all__ = ["FORMATS", "ROI_ALIASES", "BACKGROUND_LABELS", "GLMSINGLE_FILE", "parse_bids_name",
           "read_surface", "read_gifti_data", "read_labels", "read_events", "event_conditions",
           "read_glmsingle", "load_bids_gifti", "load_glmsingle", "import_dataset",
           "write_surface", "write_gifti_data", "write_labels", "export_subject",
           "export_dataset"]

#: The layouts :func:`import_dataset` reads and :func:`export_dataset` writes.
FORMATS = ("bids-gifti", "glmsingle")
#: Label names read as one of the project's ROIs (the Wang et al. 2015 and Benson et al.
#: 2018 atlases' names for the dorsal and ventral halves and the lateral occipital maps).
ROI_ALIASES = {"V1v": "V1", "V1d": "V1", "V2v": "V2", "V2d": "V2", "V3v": "V3", "V3d": "V3",
               "hV4": "V4", "LO1": "LO", "LO2": "LO"}
#: Label names (any case) of vertices outside the ROIs.
BACKGROUND_LABELS = ("", "???", "unknown", "background", "medial_wall", "medialwall")
#: GLMsingle's output of the full model (fitted HRF, GLMdenoise, ridge regression).
GLMSINGLE_FILE = "TYPED_FITHRF_GLMDENOISE_RR"
_HEMIS = (("L", "lh"), ("R", "rh"))
_MESHES = ("midthickness", "white", "pial")
_ENTITY = re.compile(r"^([a-zA-Z0-9]+)-([a-zA-Z0-9]+)$")


def parse_bids_name(path) -> dict:
    """The entities of a BIDS file name.

    Parameters
    ----------
    path : str or path
        E.g. ``sub-01_ses-02_task-adv_run-03_hemi-L_bold.func.gii``.

    Returns
    -------
    dict
        Entity -> label (``{"sub": "01", "ses": "02", "task": "adv", "run": "03", "hemi":
        "L"}``) plus ``suffix`` (``bold``) and ``extension`` (``.func.gii``).

    Raises
    ------
    DataError
        A part before the suffix that is not ``key-label``, or no ``sub-`` entity.
    """
    name = Path(path).name
    stem, dot, ext = name.partition(".")
    parts = stem.split("_")
    out = {}
    for part in parts[:-1]:
        match = _ENTITY.match(part)
        expect(match is not None, "BIDS name", name,
               f"key-label entities joined by '_' before the suffix (not {part!r})", DataError)
        out[match.group(1)] = match.group(2)
    expect("sub" in out, "BIDS name", name, "a name starting with sub-<label>", DataError)
    out["suffix"], out["extension"] = parts[-1], dot + ext
    return out


def _load_gifti(path: Path):
    """A GIFTI image, or a clear error naming the file."""
    import nibabel as nib

    expect(path.is_file(), "GIFTI file", str(path), "an existing .gii file", DataError)
    try:
        image = nib.load(str(path))
    except Exception as exc:  # nibabel raises many types on a broken file
        raise DataError(f"GIFTI file={str(path)!r}: expected a readable GIFTI file "
                        f"({type(exc).__name__}: {str(exc)[:120]})") from None
    expect(isinstance(image, nib.gifti.GiftiImage), "GIFTI file", str(path),
           f"a GIFTI image (found {type(image).__name__})", DataError)
    return image


def read_surface(path) -> tuple[np.ndarray, np.ndarray]:
    """A GIFTI surface (``*.surf.gii``): vertex coordinates and triangles.

    Parameters
    ----------
    path : str or path

    Returns
    -------
    coords : numpy.ndarray, shape (n_vertices, 3), float64
        Millimetres (a flat patch has z = 0).
    faces : numpy.ndarray, shape (n_faces, 3), int64

    Raises
    ------
    DataError
        Unreadable, no point set or no triangles, indices outside the vertices.
    """
    import nibabel as nib

    path = Path(path)
    image = _load_gifti(path)
    points = image.get_arrays_from_intent(nib.nifti1.intent_codes["NIFTI_INTENT_POINTSET"])
    triangles = image.get_arrays_from_intent(nib.nifti1.intent_codes["NIFTI_INTENT_TRIANGLE"])
    expect(len(points) == 1 and len(triangles) == 1, "surface", str(path),
           "one POINTSET and one TRIANGLE data array (a .surf.gii surface)", DataError)
    coords = np.asarray(points[0].data, dtype=np.float64)
    faces = np.asarray(triangles[0].data, dtype=np.int64)
    expect(coords.ndim == 2 and coords.shape[1] == 3 and np.isfinite(coords).all(),
           "surface coordinates", f"shape {coords.shape}", f"finite (n_vertices, 3) ({path})",
           DataError)
    expect(faces.ndim == 2 and faces.shape[1] == 3 and faces.size > 0
           and faces.min() >= 0 and faces.max() < len(coords), "surface triangles",
           f"shape {faces.shape}", f"(n_faces, 3) indices into {len(coords)} vertices ({path})",
           DataError)
    return coords, faces


def read_gifti_data(path) -> np.ndarray:
    """GIFTI functional data (``*.func.gii``): one map per data array.

    Parameters
    ----------
    path : str or path
        One data array per volume or condition (each ``(n_vertices,)``), or one
        ``(n_vertices, n_maps)`` array.

    Returns
    -------
    numpy.ndarray, shape (n_maps, n_vertices), float64

    Raises
    ------
    DataError
        No data arrays, arrays of different lengths, non-numeric data.
    """
    path = Path(path)
    arrays = [np.asarray(d.data) for d in _load_gifti(path).darrays]
    expect(len(arrays) > 0, "func.gii", str(path), "at least one data array", DataError)
    if len(arrays) == 1 and arrays[0].ndim == 2:
        data = arrays[0].T
    else:
        lengths = sorted({a.shape for a in arrays})
        expect(len(lengths) == 1 and arrays[0].ndim == 1, "func.gii data arrays",
               f"shapes {lengths[:3]}", f"one (n_vertices,) array per map ({path})", DataError)
        data = np.stack(arrays)
    expect(data.dtype.kind in "fiu", "func.gii", str(path),
           f"numeric data (found {data.dtype})", DataError)
    return data.astype(np.float64)


def _roi_name(label: str, path: Path, aliases: dict) -> str:
    """The project's ROI for a label name, ``""`` for background, or a clear error."""
    if label in ROIS:
        return label
    if label in aliases:
        return aliases[label]
    expect(label.strip().lower() in BACKGROUND_LABELS, "ROI label", label,
           f"one of {', '.join(ROIS)}, an alias ({', '.join(aliases)}) or a background label "
           f"({', '.join(repr(b) for b in BACKGROUND_LABELS)}) ({path})", DataError)
    return ""


def read_labels(paths, n_vertices: int, aliases: dict | None = None) -> np.ndarray:
    """The ROI of every vertex of one hemisphere, from label files.

    Parameters
    ----------
    paths : str, path or list of them
        One GIFTI label file (``*.label.gii``) or FreeSurfer annotation (``*.annot``), or
        FreeSurfer label files (``lh.V1.label``, ...: the ROI is the name between the
        hemisphere and ``.label``).
    n_vertices : int
        Vertices of the hemisphere's surface.
    aliases : dict, optional
        Label name -> ROI (default :data:`ROI_ALIASES`).

    Returns
    -------
    numpy.ndarray of str, shape (n_vertices,)
        ROI name, ``""`` outside the ROIs.

    Raises
    ------
    DataError
        A label name that is neither an ROI, an alias nor background; a number of labels
        other than ``n_vertices``; a vertex in two FreeSurfer labels.
    """
    import nibabel as nib

    aliases = ROI_ALIASES if aliases is None else aliases
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    expect(len(paths) > 0, "labels", paths, "at least one label file", DataError)
    rois = np.full(n_vertices, "", dtype=object)
    if paths[0].name.endswith(".label") and not paths[0].name.endswith(".label.gii"):
        for path in paths:
            name = path.name[:-len(".label")].split(".", 1)[-1]
            roi = _roi_name(name, path, aliases)
            try:
                index = nib.freesurfer.read_label(str(path))
            except Exception as exc:
                raise DataError(f"label file={str(path)!r}: expected a FreeSurfer .label file "
                                f"({type(exc).__name__}: {str(exc)[:100]})") from None
            expect(index.size == 0 or (index.min() >= 0 and index.max() < n_vertices),
                   "label vertices", f"{index.min()}..{index.max()}",
                   f"indices into the surface's {n_vertices} vertices ({path})", DataError)
            twice = index[(rois[index] != "") & (rois[index] != roi)]
            expect(twice.size == 0, "label vertices", twice[:5].tolist(),
                   f"each vertex in one ROI ({path} overlaps an earlier label)", DataError)
            rois[index] = roi
        return rois.astype(str)
    expect(len(paths) == 1, "labels", [str(p) for p in paths],
           "one .label.gii or .annot file per hemisphere", DataError)
    path = paths[0]
    if path.name.endswith(".annot"):
        try:
            keys, _, names = nib.freesurfer.read_annot(str(path))
        except Exception as exc:
            raise DataError(f"annotation={str(path)!r}: expected a FreeSurfer .annot file "
                            f"({type(exc).__name__}: {str(exc)[:100]})") from None
        table = {i: n.decode() if isinstance(n, bytes) else str(n) for i, n in enumerate(names)}
        table[-1] = ""
    else:
        image = _load_gifti(path)
        expect(len(image.darrays) == 1, "label.gii", str(path), "one data array", DataError)
        keys = np.asarray(image.darrays[0].data)
        table = {int(k): (v or "") for k, v in image.labeltable.get_labels_as_dict().items()}
    keys = np.asarray(keys).astype(np.int64).ravel()
    expect(keys.size == n_vertices, "labels", f"{keys.size} values in {path.name}",
           f"one per vertex of the surface ({n_vertices})", DataError)
    unknown = sorted(set(np.unique(keys).tolist()) - set(table))
    expect(not unknown, "label keys", unknown[:5], f"keys of the label table ({path})", DataError)
    names = {k: _roi_name(v, path, aliases) for k, v in table.items()}
    return np.array([names[k] for k in keys], dtype=object).astype(str)


def read_events(path) -> pd.DataFrame:
    """A BIDS ``events.tsv``, checked.

    Parameters
    ----------
    path : str or path

    Returns
    -------
    pandas.DataFrame
        ``onset, duration, trial_type`` (and ``stim_file`` when present), as in the file;
        ``attrs["entities"]`` holds the file name's entities.

    Raises
    ------
    DataError
        Not a tab-separated table, missing columns, an empty or ``n/a`` onset, duration or
        trial type, a negative duration.
    """
    path = Path(path)
    entities = parse_bids_name(path)
    expect(path.is_file(), "events", str(path), "an existing events.tsv", DataError)
    try:
        frame = pd.read_csv(path, sep="\t", na_values=["n/a", ""], keep_default_na=False,
                            dtype={"trial_type": str, "stim_file": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"events={str(path)!r}: expected a tab-separated table "
                        f"({type(exc).__name__}: {str(exc)[:100]})") from None
    missing = [c for c in ("onset", "duration", "trial_type") if c not in frame.columns]
    expect(not missing, f"{path.name} columns", missing, "onset, duration, trial_type (tabs)",
           DataError)
    for column in ("onset", "duration"):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = np.flatnonzero(~np.isfinite(values.to_numpy(np.float64)))
        expect(bad.size == 0, f"{path.name} {column}", f"n/a or not a number in rows "
               f"{(bad + 1).tolist()[:5]}", f"a number of seconds in every row ({path})",
               DataError)
        frame[column] = values.astype(np.float64)
    empty = np.flatnonzero(frame.trial_type.isna().to_numpy())
    expect(empty.size == 0, f"{path.name} trial_type", f"n/a in rows {(empty + 1).tolist()[:5]}",
           f"an image id or 'blank' in every row ({path})", DataError)
    expect(bool((frame.duration > 0).all()), f"{path.name} duration",
           frame.duration[frame.duration <= 0].tolist()[:5], f"positive durations ({path})",
           DataError)
    frame.attrs["entities"] = entities
    return frame


def _image_of_file(manifest: pd.DataFrame | None) -> dict:
    """Image id of each stimulus file name (the manifest's ``path`` names, and ids)."""
    if manifest is None:
        return {}
    out = {str(i): str(i) for i in manifest.image_id}
    if "path" in manifest:
        out.update({Path(str(p)).name: str(i) for p, i in zip(manifest.path, manifest.image_id)})
        out.update({Path(str(p)).stem: str(i) for p, i in zip(manifest.path, manifest.image_id)})
    return out


def event_conditions(events: pd.DataFrame, path, manifest: pd.DataFrame | None = None
                     ) -> pd.DataFrame:
    """One run's events with the project's condition names as ``trial_type``.

    Parameters
    ----------
    events : pandas.DataFrame
        From :func:`read_events`.
    path : str or path
        The events file (named in the messages).
    manifest : pandas.DataFrame, optional
        Stimulus manifest: every image must be in it; ``stim_file`` names are looked up in
        its ``path`` column.

    Returns
    -------
    pandas.DataFrame
        ``onset, duration, trial_type`` with ``trial_type`` = ``<image_id>_p<k>`` (k-th
        showing in the run, unless the file says) or ``blank``, in onset order.

    Raises
    ------
    DataError
        Images not in the stimulus set, an image shown more than twice in a run.
    """
    path = Path(path)
    events = events.sort_values("onset", kind="stable").reset_index(drop=True)
    files = _image_of_file(manifest)
    images, given = [], []
    for row in events.itertuples(index=False):
        trial = str(row.trial_type)
        if trial == BLANK:
            images.append(BLANK)
            given.append(0)
            continue
        image, sep, pres = trial.rpartition("_p")
        if not (sep and pres.isdigit()):
            image, pres = trial, "0"
        if "stim_file" in events and isinstance(row.stim_file, str) and row.stim_file:
            stim = Path(row.stim_file)
            image = files.get(stim.name, files.get(stim.stem, stim.stem))
        images.append(image)
        given.append(int(pres))
    shown = [i for i in images if i != BLANK]
    if manifest is not None:
        unknown = sorted(set(shown) - set(map(str, manifest.image_id)))
        expect(not unknown, f"{path.name} images", unknown[:5],
               f"image ids of the stimulus set ({len(manifest)} images, e.g. "
               f"{', '.join(map(str, manifest.image_id[:3]))}) ({path})", DataError)
    seen: dict[str, int] = {}
    names = []
    for image, pres in zip(images, given):
        if image == BLANK:
            names.append(BLANK)
            continue
        seen[image] = seen.get(image, 0) + 1
        names.append(f"{image}_p{pres or seen[image]}")
    counts = pd.Series(names)[pd.Series(names) != BLANK].value_counts()
    twice = counts[counts > 1].index.tolist()
    expect(not twice, f"{path.name} trial_type", twice[:5],
           f"each image shown at most twice a run (presentations 1 and 2) ({path})", DataError)
    return pd.DataFrame({"onset": events.onset, "duration": events.duration,
                         "trial_type": names})


def _sessions(entities: list) -> list[int]:
    """Session numbers of runs: digits as they are, other labels numbered in sorted order."""
    labels = [e.get("ses") for e in entities]
    if all(label is None for label in labels):
        return [1] * len(labels)
    if all(str(label).isdigit() for label in labels):
        return [int(label) for label in labels]
    order = {label: i + 1 for i, label in enumerate(sorted(set(map(str, labels))))}
    return [order[str(label)] for label in labels]


def _run_key(entities: dict) -> tuple:
    """Identity of a run across its files (every entity but hemi, suffix and extension)."""
    return tuple(sorted((k, v) for k, v in entities.items()
                        if k not in ("hemi", "suffix", "extension", "desc", "space")))


def _run_order(entities: dict) -> tuple:
    ses, run = entities.get("ses", ""), entities.get("run", "")
    return (int(ses) if ses.isdigit() else 0, ses, entities.get("task", ""),
            int(run) if run.isdigit() else 0, run)


def _subject_events(folder: Path, manifest) -> list[tuple[dict, pd.DataFrame, Path]]:
    """Every run's events of a subject, in (session, task, run) order."""
    paths = sorted(folder.rglob("*_events.tsv"))
    runs = [(parse_bids_name(p), p) for p in paths]
    runs.sort(key=lambda r: _run_order(r[0]))
    return [(e, event_conditions(read_events(p), p, manifest), p) for e, p in runs]


def _hemi_files(files: list[Path], folder: Path, what: str) -> dict:
    """The one file of each hemisphere among ``files`` (``hemi-L``, ``hemi-R``)."""
    out = {}
    for letter, hemi in _HEMIS:
        found = [p for p in files if parse_bids_name(p).get("hemi") == letter]
        expect(len(found) == 1, f"{what} hemi-{letter}",
               [p.name for p in found] or "missing",
               f"one {what} file of each hemisphere, hemi-L and hemi-R, in {folder}", DataError)
        out[hemi] = found[0]
    return out


def _surfaces(folder: Path) -> dict:
    """Per hemisphere: (surface path, is it a flat patch)."""
    anat = folder / "anat"
    expect(anat.is_dir(), "anat", str(anat),
           "a folder of *_hemi-L_flat.surf.gii or *_hemi-L_midthickness.surf.gii surfaces",
           DataError)
    surfs = sorted(anat.glob("*.surf.gii"))
    for suffix in ("flat",) + _MESHES:
        chosen = [p for p in surfs if parse_bids_name(p)["suffix"] == suffix]
        if chosen:
            return {h: (p, suffix == "flat") for h, p in _hemi_files(chosen, anat,
                                                                     f"{suffix}.surf.gii").items()}
    raise DataError(f"surfaces={str(anat)!r}: expected *_hemi-L_flat.surf.gii (or "
                    f"{', '.join(_MESHES)}) and hemi-R surfaces")


def _label_paths(anat: Path, hemi: str, letter: str) -> list[Path]:
    gifti = [p for p in anat.glob("*.label.gii") if parse_bids_name(p).get("hemi") == letter]
    annot = sorted(anat.glob(f"{hemi}.*.annot"))
    fs = sorted(p for p in anat.glob(f"{hemi}.*.label"))
    found = [x for x in (gifti, annot, fs) if x]
    expect(len(found) == 1 and (fs or len(found[0]) == 1), f"labels hemi-{letter}",
           [p.name for group in found for p in group] or "missing",
           f"one *_hemi-{letter}_*.label.gii, or one {hemi}.*.annot, or {hemi}.<ROI>.label files "
           f"in {anat}", DataError)
    return found[0]


def _geometry(folder: Path, aliases: dict | None):
    """Vertices (hemi, roi, x_mm, y_mm[, z_mm]), faces and, per hemisphere, which surface
    vertices are kept and where they start in the subject's columns."""
    surfaces = _surfaces(folder)
    tables, faces, kept, offset = [], [], {}, 0
    flat = all(is_flat for _, is_flat in surfaces.values())
    for letter, hemi in _HEMIS:
        path, is_flat = surfaces[hemi]
        coords, tri = read_surface(path)
        rois = read_labels(_label_paths(folder / "anat", hemi, letter), len(coords), aliases)
        keep = np.ones(len(coords), bool)
        if is_flat:
            used = np.zeros(len(coords), bool)
            used[np.unique(tri)] = True
            z = coords[used, 2]
            expect(bool(np.abs(z).max() < 1e-3), "flat surface z",
                   f"{z.min():.3g}..{z.max():.3g}",
                   f"a flat patch: z = 0 on the vertices of its triangles ({path})", DataError)
            keep = used | (np.abs(coords[:, 2]) < 1e-3)
        remap = np.full(len(coords), -1)
        remap[keep] = np.arange(keep.sum())
        table = pd.DataFrame({"hemi": hemi, "roi": rois[keep], "x_mm": coords[keep, 0],
                              "y_mm": coords[keep, 1]})
        if not flat:
            table["z_mm"] = coords[keep, 2]
        tables.append(table)
        faces.append(remap[tri] + offset)
        kept[hemi] = (keep, offset, path)
        offset += int(keep.sum())
    return pd.concat(tables, ignore_index=True), np.vstack(faces), kept


def _columns(data: dict, kept: dict, what: str) -> np.ndarray:
    """Per-hemisphere arrays (maps x surface vertices) joined into (maps x subject columns)."""
    parts = []
    n_maps = {hemi: arr.shape[0] for hemi, (arr, _) in data.items()}
    expect(len(set(n_maps.values())) == 1, what, n_maps,
           f"as many maps in hemi-L as in hemi-R ({', '.join(str(p) for _, p in data.values())})",
           DataError)
    for hemi, (array, path) in data.items():
        keep, _, surface = kept[hemi]
        expect(array.shape[1] == keep.size, f"{Path(path).name} vertices", array.shape[1],
               f"the {keep.size} vertices of the surface {Path(surface).name}", DataError)
        parts.append(array[:, keep])
    return np.hstack(parts)


def _check_maps(array: np.ndarray, labels, path) -> None:
    """No map (a condition's betas, a volume) that is NaN everywhere."""
    dead = [labels[i] for i in np.flatnonzero(~np.isfinite(array).any(1))]
    expect(not dead, f"{Path(path).name} maps", dead[:5],
           f"a finite value somewhere in every map (these are NaN everywhere; {path})", DataError)


def load_bids_gifti(folder, manifest: pd.DataFrame | None = None,
                    glm_options: dict | None = None, aliases: dict | None = None,
                    name: str | None = None) -> Subject:
    """One subject of the ``bids-gifti`` layout (see the module) as a Subject.

    Parameters
    ----------
    folder : str or path
        ``DATASET/sub-XX``.
    manifest : pandas.DataFrame, optional
        Stimulus manifest: events must name its images, and every image needs both
        presentations.
    glm_options : dict, optional
        Passed to :func:`advlib.fmri.glm.fit_glm` when the subject has time series.
    aliases : dict, optional
        Label name -> ROI (default :data:`ROI_ALIASES`).
    name : str, optional
        Default: the folder name.

    Returns
    -------
    Subject
        Betas from ``*_betas.func.gii`` + ``*_conditions.tsv`` when present, else from the
        runs' time series through the project's GLM (frame times from the first stored
        volume, TR from the run's ``_bold.json`` ``RepetitionTime`` or the paper's).

    Raises
    ------
    DataError
        A missing hemisphere, vertex counts that differ from the surface, runs without
        events or events without runs, images not in the stimulus set, unknown ROI names,
        maps that are NaN everywhere, and every check of
        :func:`~advlib.fmri.data.subject_from_parts`.
    """
    folder = Path(folder)
    expect(folder.is_dir(), "subject", str(folder), "an existing subject folder", DataError)
    vertices, faces, kept = _geometry(folder, aliases)
    betas_files = sorted(p for p in folder.rglob("*_betas.func.gii"))
    if betas_files:
        files = _hemi_files(betas_files, folder, "betas.func.gii")
        tables = sorted(folder.rglob("*_conditions.tsv"))
        expect(len(tables) == 1, "conditions.tsv", [p.name for p in tables] or "missing",
               f"one *_conditions.tsv beside the betas in {folder}", DataError)
        conditions = _read_conditions(tables[0], manifest)
        maps = {h: (read_gifti_data(p), p) for h, p in files.items()}
        for array, path in maps.values():
            expect(array.shape[0] == len(conditions), f"{path.name} maps", array.shape[0],
                   f"one per row of {tables[0].name} ({len(conditions)})", DataError)
            _check_maps(array, conditions.condition.tolist(), path)
        betas = _columns(maps, kept, "betas maps")
        cfile = tables[0].name
    else:
        betas, conditions, cfile = _betas_from_runs(folder, kept, manifest, glm_options)
    surf = {h: p.name for h, (_, _, p) in kept.items()}
    info = {"format": "bids-gifti", "surfaces": surf}
    return subject_from_parts(name or folder.name, betas, conditions, vertices, faces, info,
                              manifest=manifest, where=folder,
                              files={"conditions": cfile, "vertices": "the label files",
                                     "faces": surf["lh"]})


def _read_conditions(path: Path, manifest) -> pd.DataFrame:
    """``*_conditions.tsv``: the project's conditions table, tab-separated."""
    try:
        table = pd.read_csv(path, sep="\t", keep_default_na=False, na_values=["n/a", ""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"conditions={str(path)!r}: expected a tab-separated table "
                        f"({type(exc).__name__}: {str(exc)[:100]})") from None
    missing = [c for c in CONDITION_COLUMNS if c not in table.columns]
    expect(not missing, f"{path.name} columns", missing,
           f"{', '.join(CONDITION_COLUMNS)} (tabs)", DataError)
    table["image_id"] = table.image_id.astype(str)
    if manifest is not None:
        shown = set(table.image_id[table.kind != "blank"])
        unknown = sorted(shown - set(map(str, manifest.image_id)))
        expect(not unknown, f"{path.name} image_id", unknown[:5],
               f"image ids of the stimulus set ({path})", DataError)
    return table


def _repetition_time(run_file: Path) -> float:
    """``RepetitionTime`` of a run's ``_bold.json`` sidecar (without ``hemi``), else the
    paper's TR."""
    entities = parse_bids_name(run_file)
    stem = "_".join(f"{k}-{v}" for k, v in entities.items()
                    if k not in ("hemi", "suffix", "extension"))
    sidecar = run_file.with_name(f"{stem}_{entities['suffix']}.json")
    if not sidecar.is_file():
        return TR
    try:
        value = json.loads(sidecar.read_text()).get("RepetitionTime", TR)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DataError(f"sidecar={str(sidecar)!r}: expected a JSON object") from None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    expect(ok, f"{sidecar.name} RepetitionTime", value, "a positive number of seconds",
           DataError)
    return float(value)


def _betas_from_runs(folder: Path, kept: dict, manifest, glm_options):
    """Betas of the runs' time series through the project's GLM, with sessions."""
    from .glm import fit_glm

    runs = sorted(folder.rglob("*_bold.func.gii"))
    expect(len(runs) > 0, "func", str(folder),
           "*_betas.func.gii + *_conditions.tsv, or *_run-NN_hemi-L_bold.func.gii runs",
           DataError)
    events = {_run_key(e): (e, ev, p) for e, ev, p in _subject_events(folder, manifest)}
    by_run: dict = {}
    for path in runs:
        by_run.setdefault(_run_key(parse_bids_name(path)), []).append(path)
    no_events = sorted(p.name for k, ps in by_run.items() if k not in events for p in ps)
    expect(not no_events, "runs without events", no_events[:4],
           f"an events.tsv with the same entities as each run (sub, ses, task, run) in {folder}",
           DataError)
    no_runs = sorted(p.name for k, (_, _, p) in events.items() if k not in by_run)
    expect(not no_runs, "events without runs", no_runs[:4],
           f"the run's *_hemi-L_bold.func.gii and hemi-R files in {folder}", DataError)
    order = sorted(by_run, key=lambda k: _run_order(events[k][0]))
    expect(len(order) >= 2, "runs", len(order), f"at least 2 runs (the GLM cross-validates; "
           f"{folder})", DataError)
    data, tables, times, entities = [], [], [], []
    for key in order:
        files = _hemi_files(by_run[key], folder, f"{events[key][2].name[:-len('_events.tsv')]} "
                            "bold.func.gii")
        maps = {h: (read_gifti_data(p), p) for h, p in files.items()}
        series = _columns(maps, kept, "volumes")
        for hemi, (array, path) in maps.items():
            bad = int((~np.isfinite(array[:, kept[hemi][0]])).sum())
            expect(bad == 0, f"{path.name}", f"{bad} NaN or infinite values",
                   "finite time series on the surface's vertices", DataError)
        tr = _repetition_time(files["lh"])
        data.append(series)
        # BIDS onsets count from the first stored volume; both are moved onto the native
        # format's clock (first stored volume at DISCARD_S), a shift that leaves the model
        # unchanged but not nilearn's oversampled HRF grid, which differs by about 1% between
        # clocks: the two formats of one subject then give the same betas
        tables.append(events[key][1].assign(onset=events[key][1].onset + DISCARD_S))
        times.append(DISCARD_S + np.arange(len(series)) * tr)
        entities.append(events[key][0])
    result = fit_glm(data, tables, times, **(glm_options or {}))
    conditions = conditions_from_names(result.betas.index, manifest)
    sessions = _sessions(entities)
    where: dict = {}
    for session, table in zip(sessions, tables):
        for trial in table.trial_type.unique():
            where.setdefault(trial, set()).add(session)
    split = [c for c, s in where.items() if c != BLANK and len(s) > 1]
    expect(not split, "conditions", split[:5], f"each condition in runs of one session "
           f"(ses- entity; {folder})", DataError)
    conditions[SESSION] = [0 if c == BLANK else min(where[c]) for c in conditions.condition]
    return result.betas.to_numpy(), conditions, "the events.tsv files"


def _glmsingle_file(folder: Path) -> Path:
    base = folder / "glmsingle" / GLMSINGLE_FILE
    found = [p for p in (base.with_suffix(".npz"), base.with_suffix(".npy")) if p.is_file()]
    expect(bool(found), "GLMsingle output", str(base) + ".npz",
           f"GLMsingle's {GLMSINGLE_FILE}.npz or .npy in {folder / 'glmsingle'}", DataError)
    return found[0]


def read_glmsingle(path, allow_pickle: bool = True) -> np.ndarray:
    """The single-trial betas ``betasmd`` of a GLMsingle output file.

    Parameters
    ----------
    path : str or path
        ``TYPED_FITHRF_GLMDENOISE_RR.npz`` (``betasmd`` as an array), or the ``.npy``
        GLMsingle writes (a pickled dict: read only files you trust; ``allow_pickle=False``
        refuses it).
    allow_pickle : bool

    Returns
    -------
    numpy.ndarray, shape (n_vertices, n_trials), float64
        GLMsingle's ``(n_vertices, 1, 1, n_trials)`` surface shape is squeezed.

    Raises
    ------
    DataError
        Unreadable, no ``betasmd``, another shape.
    """
    path = Path(path)
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                found = "betasmd" in archive.files
                betas = archive["betasmd"] if found else None
        else:
            loaded = np.load(path, allow_pickle=allow_pickle)
            value = loaded.item() if loaded.dtype == object and loaded.shape == () else None
            found = isinstance(value, dict) and "betasmd" in value
            betas = np.asarray(value["betasmd"]) if found else None
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"GLMsingle output={str(path)!r}: expected GLMsingle's results "
                        f"({type(exc).__name__}: {str(exc)[:120]})") from None
    expect(found, "GLMsingle output", str(path), "a 'betasmd' entry (GLMsingle's betas)",
           DataError)
    betas = np.asarray(betas)
    if betas.ndim == 4 and betas.shape[1:3] == (1, 1):
        betas = betas[:, 0, 0, :]
    expect(betas.ndim == 2 and betas.dtype.kind in "fiu", "betasmd shape", betas.shape,
           f"(n_vertices, n_trials) or (n_vertices, 1, 1, n_trials) numbers ({path})",
           DataError)
    return betas.astype(np.float64)


def load_glmsingle(folder, manifest: pd.DataFrame | None = None, aliases: dict | None = None,
                   name: str | None = None, allow_pickle: bool = True) -> Subject:
    """One subject of the ``glmsingle`` layout (see the module) as a Subject.

    Parameters
    ----------
    folder : str or path
        ``DATASET/sub-XX`` with ``anat/``, the runs' ``*_events.tsv`` and
        ``glmsingle/TYPED_FITHRF_GLMDENOISE_RR.npz``.
    manifest : pandas.DataFrame, optional
    aliases : dict, optional
    name : str, optional
    allow_pickle : bool
        See :func:`read_glmsingle`.

    Returns
    -------
    Subject
        One condition per image and presentation (the mean beta of its trials, one per
        run of its session); no blank condition (GLMsingle models blanks as baseline).

    Raises
    ------
    DataError
        A number of trials other than the events' non-blank trials, vertex counts that
        differ from the surfaces, and the checks of :func:`load_bids_gifti`.
    """
    folder = Path(folder)
    expect(folder.is_dir(), "subject", str(folder), "an existing subject folder", DataError)
    vertices, faces, kept = _geometry(folder, aliases)
    path = _glmsingle_file(folder)
    trials_betas = read_glmsingle(path, allow_pickle)
    runs = _subject_events(folder, manifest)
    expect(len(runs) > 0, "events", str(folder), "the runs' *_events.tsv (GLMsingle's design)",
           DataError)
    sessions = _sessions([e for e, _, _ in runs])
    trials, trial_session = [], []
    for session, (_, table, _) in zip(sessions, runs):
        shown = table.trial_type[table.trial_type != BLANK].tolist()
        trials += shown
        trial_session += [session] * len(shown)
    n_surface = sum(k.size for k, _, _ in kept.values())
    expect(trials_betas.shape[1] == len(trials), "betasmd trials", trials_betas.shape[1],
           f"the {len(trials)} non-blank events of the {len(runs)} events.tsv files ({path})",
           DataError)
    expect(trials_betas.shape[0] == n_surface, "betasmd vertices", trials_betas.shape[0],
           f"the {n_surface} vertices of the hemi-L then hemi-R surfaces "
           f"({', '.join(p.name for _, _, p in kept.values())})", DataError)
    split = {"lh": (trials_betas[:kept["lh"][0].size].T, path),
             "rh": (trials_betas[kept["lh"][0].size:].T, path)}
    _check_maps(trials_betas.T, [f"trial {i + 1} ({t})" for i, t in enumerate(trials)], path)
    columns = _columns(split, kept, "betasmd")
    names = sorted(set(trials))
    index = {c: i for i, c in enumerate(names)}
    rows = np.array([index[t] for t in trials])
    sums = np.zeros((len(names), columns.shape[1]))
    np.add.at(sums, rows, columns)
    betas = sums / np.bincount(rows, minlength=len(names))[:, None]
    conditions = conditions_from_names(names, manifest)
    where: dict = {}
    for t, s in zip(trials, trial_session):
        where.setdefault(t, set()).add(s)
    split_sessions = [c for c, s in where.items() if len(s) > 1]
    expect(not split_sessions, "conditions", split_sessions[:5],
           f"each condition in runs of one session (ses- entity; {folder})", DataError)
    conditions[SESSION] = [min(where[c]) for c in names]
    surf = {h: p.name for h, (_, _, p) in kept.items()}
    info = {"format": "glmsingle", "surfaces": surf, "glmsingle": path.name,
            "n_trials": len(trials)}
    return subject_from_parts(name or folder.name, betas, conditions, vertices, faces, info,
                              manifest=manifest, where=folder,
                              files={"conditions": "the events.tsv files",
                                     "vertices": "the label files", "faces": surf["lh"]})


def _load(folder: Path, fmt: str, manifest, glm_options, aliases) -> Subject:
    if fmt == "glmsingle":
        return load_glmsingle(folder, manifest, aliases)
    return load_bids_gifti(folder, manifest, glm_options, aliases)


def import_dataset(source, out, fmt: str, manifest: pd.DataFrame | None = None,
                   subjects=None, glm_options: dict | None = None,
                   aliases: dict | None = None, info: dict | None = None) -> list[Path]:
    """Read every subject of a dataset in a field layout and write it in the project's format.

    Parameters
    ----------
    source : str or path
        The dataset (``sub-XX`` folders in the ``fmt`` layout).
    out : str or path
        The new dataset folder in the documented format (replaced whole, and only when every
        subject was read: nothing is written on failure).
    fmt : {"bids-gifti", "glmsingle"}
    manifest : pandas.DataFrame, optional
        Stimulus manifest the events are checked against.
    subjects : list of str, optional
        Default: every ``sub-*`` folder.
    glm_options, aliases
        See :func:`load_bids_gifti`.
    info : dict, optional
        Extra ``dataset.json`` fields (``stimulus_manifest_sha256``, ...).

    Returns
    -------
    list of pathlib.Path
        The subject folders written.
    """
    check_choice(fmt, "format", FORMATS, DataError)
    source, out = Path(source), Path(out)
    names = choose_subjects(source, subjects)
    loaded = [_load(source / n, fmt, manifest, glm_options, aliases) for n in names]
    with atomic_dir(out) as tmp:
        for sub in loaded:
            extra = {k: v for k, v in sub.info.items() if k != "n_dropped_vertices"}
            write_subject(tmp / sub.name, sub.betas, sub.conditions, sub.vertices, sub.faces,
                          extra)
        dataset = {"name": source.name, "simulated": False,
                   "description": f"imported from {fmt} ({source})", "subjects": names,
                   **(info or {})}
        (tmp / DATASET_INFO).write_text(json.dumps(dataset, indent=2) + "\n")
    return [out / n for n in names]


# ---------------------------------------------------------------------------- writers

def _save_gifti(darrays, path, suffix: str, labeltable=None) -> Path:
    """Write GIFTI data arrays to ``path`` atomically (``suffix``: the file's extension,
    which nibabel needs on the temporary name too)."""
    import nibabel as nib

    from ..provenance import atomic_path

    image = nib.gifti.GiftiImage(darrays=darrays, labeltable=labeltable)
    with atomic_path(path, suffix=suffix) as tmp:
        nib.save(image, str(tmp))
    return Path(path)


def _gifti_array(data, intent: str, dtype=None):
    import nibabel as nib

    array = np.ascontiguousarray(data, dtype=dtype)
    return nib.gifti.GiftiDataArray(array, intent=intent, datatype=array.dtype)


def write_surface(path, coords, faces) -> Path:
    """Write a GIFTI surface atomically.

    Parameters
    ----------
    path : str or path
        ``*.surf.gii``.
    coords : array_like, shape (n_vertices, 3) (or (n_vertices, 2): a flat patch, z = 0)
    faces : array_like, shape (n_faces, 3)

    Returns
    -------
    pathlib.Path
    """
    coords = np.asarray(coords, dtype=np.float64)
    if coords.shape[1] == 2:
        coords = np.column_stack([coords, np.zeros(len(coords))])
    return _save_gifti([_gifti_array(coords, "NIFTI_INTENT_POINTSET", np.float32),
                        _gifti_array(faces, "NIFTI_INTENT_TRIANGLE", np.int32)],
                       path, ".surf.gii")


def write_gifti_data(path, maps) -> Path:
    """Write maps (volumes or conditions) as GIFTI functional data, atomically.

    Parameters
    ----------
    path : str or path
        ``*.func.gii``.
    maps : array_like, shape (n_maps, n_vertices)
        One data array per row, float32.

    Returns
    -------
    pathlib.Path
    """
    return _save_gifti([_gifti_array(m, "NIFTI_INTENT_NONE", np.float32)
                        for m in np.asarray(maps)], path, ".func.gii")


def write_labels(path, rois) -> Path:
    """Write per-vertex ROI names as a GIFTI label file, atomically.

    Parameters
    ----------
    path : str or path
        ``*.label.gii``.
    rois : array_like of str, shape (n_vertices,)
        ROI names (:data:`~advlib.fmri.data.ROIS`), ``""`` outside the ROIs (key 0,
        ``???``).

    Returns
    -------
    pathlib.Path
    """
    import nibabel as nib

    rois = np.asarray(rois, dtype=str)
    table = nib.gifti.GiftiLabelTable()
    for key, name in enumerate(("???",) + ROIS):
        label = nib.gifti.GiftiLabel(key=key, red=key / len(ROIS), green=0.5, blue=0.5, alpha=1)
        label.label = name
        table.labels.append(label)
    keys = np.array([0 if r == "" else ROIS.index(r) + 1 for r in rois], dtype=np.int32)
    return _save_gifti([_gifti_array(keys, "NIFTI_INTENT_LABEL", np.int32)], path,
                       ".label.gii", table)


def _native_runs(folder: Path, subject: Subject):
    """A native subject's runs: (number, session, events, time series or None)."""
    events = sorted((folder / "events").glob("run-*.csv"))
    sessions = {}
    if (folder / RUNS_TABLE).is_file():
        table = pd.read_csv(folder / RUNS_TABLE)
        sessions = dict(zip(table.run.astype(int), table[SESSION].astype(int)))
    of_condition = dict(zip(subject.conditions.condition, subject.conditions[SESSION]))
    out = []
    for path in events:
        number = int(path.stem.split("-")[1])
        table = pd.read_csv(path)[["onset", "duration", "trial_type"]]
        shown = [of_condition[t] for t in table.trial_type if t != BLANK and t in of_condition]
        session = sessions.get(number, shown[0] if shown else 1)
        series = folder / "timeseries" / f"{path.stem}.npy"
        array = np.load(series, allow_pickle=False) if series.is_file() else None
        expect(array is None or array.shape[1] == len(subject.vertices), f"timeseries/{series.name}",
               f"{array.shape[1] if array is not None else 0} vertices",
               f"the {len(subject.vertices)} vertices of the subject's betas (none dropped)",
               DataError)
        out.append((number, int(session), table, array))
    return out


def _bids_event_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Native run events -> BIDS events (onsets from the first stored volume; image ids
    with their presentation, the form a lab's own files may use)."""
    return pd.DataFrame({"onset": table.onset - DISCARD_S, "duration": table.duration,
                         "trial_type": table.trial_type})


def export_subject(folder, out, fmt: str, task: str = "adv") -> Path:
    """Write one native subject folder in a field layout (see the module).

    Parameters
    ----------
    folder : str or path
        A subject in the documented format (with ``events/run-XX.csv`` for the runs; with
        ``timeseries/`` the ``bids-gifti`` layout carries the time series too).
    out : str or path
        The new subject folder ``DATASET/sub-XX`` (replaced whole, atomically).
    fmt : {"bids-gifti", "glmsingle"}
    task : str
        The BIDS task label.

    Returns
    -------
    pathlib.Path

    Notes
    -----
    The flat patch of each hemisphere is written as ``*_hemi-X_flat.surf.gii`` and the ROIs
    as ``*_hemi-X_rois.label.gii``. ``bids-gifti`` writes the betas (one data array per
    condition) with ``*_conditions.tsv``, and each run's events (onsets shifted to the first
    stored volume, which the native format places at 18 s) and time series when present.
    ``glmsingle`` writes the runs' events and ``betasmd`` holding, for every trial, its
    condition's beta: the layout of GLMsingle's output with this subject's estimates, not a
    GLMsingle fit; reading it back averages the trials to the same betas.
    """
    check_choice(fmt, "format", FORMATS, DataError)
    folder, out = Path(folder), Path(out)
    subject = load_subject(folder)
    runs = _native_runs(folder, subject)
    name = out.name
    expect(bool(runs) or fmt == "bids-gifti", "events", str(folder / "events"),
           "the runs' events/run-XX.csv (the trial order of GLMsingle's betas)", DataError)
    with atomic_dir(out) as tmp:
        verts = subject.vertices
        for letter, hemi in _HEMIS:
            rows = np.flatnonzero((verts.hemi == hemi).to_numpy())
            expect(rows.size > 0, "hemi", hemi, f"vertices of both hemispheres ({folder})",
                   DataError)
            inside = np.isin(subject.faces, rows).all(1)
            faces = subject.faces[inside] - rows[0]
            write_surface(tmp / "anat" / f"{name}_hemi-{letter}_flat.surf.gii",
                          verts.loc[rows, ["x_mm", "y_mm"]].to_numpy(), faces)
            write_labels(tmp / "anat" / f"{name}_hemi-{letter}_rois.label.gii",
                         verts.roi.to_numpy()[rows])
            if fmt == "bids-gifti":
                write_gifti_data(tmp / "func" / f"{name}_task-{task}_hemi-{letter}_betas.func.gii",
                                 subject.betas.to_numpy()[:, rows])
        if fmt == "bids-gifti":
            table = subject.conditions[CONDITION_COLUMNS + [SESSION]]
            table.to_csv(tmp / "func" / f"{name}_task-{task}_conditions.tsv", sep="\t",
                         index=False)
        for number, session, table, series in runs:
            base = f"{name}_ses-{session:02d}_task-{task}_run-{number:02d}"
            func = tmp / f"ses-{session:02d}" / "func"
            func.mkdir(parents=True, exist_ok=True)
            _bids_event_rows(table).to_csv(func / f"{base}_events.tsv", sep="\t", index=False)
            if fmt == "bids-gifti" and series is not None:
                for letter, hemi in _HEMIS:
                    rows = np.flatnonzero((verts.hemi == hemi).to_numpy())
                    write_gifti_data(func / f"{base}_hemi-{letter}_bold.func.gii",
                                     series[:, rows])
        if fmt == "glmsingle":
            trials = [t for _, _, table, _ in sorted(runs, key=lambda r: (r[1], r[0]))
                      for t in table.sort_values("onset").trial_type if t != BLANK]
            betasmd = subject.betas.loc[trials].to_numpy().T
            (tmp / "glmsingle").mkdir()
            np.savez(tmp / "glmsingle" / f"{GLMSINGLE_FILE}.npz", betasmd=betasmd)
    return out


def export_dataset(dataset, out, fmt: str, subjects=None, task: str = "adv") -> list[Path]:
    """Write a dataset in the documented format in a field layout, atomically.

    Parameters
    ----------
    dataset : str or path
        A dataset in the documented format (e.g. the simulated observer's).
    out : str or path
        The new dataset folder (replaced whole; nothing is written on failure).
    fmt : {"bids-gifti", "glmsingle"}
    subjects : list of str, optional
        Default: every subject.
    task : str
        The BIDS task label.

    Returns
    -------
    list of pathlib.Path
        The subject folders written.
    """
    check_choice(fmt, "format", FORMATS, DataError)
    dataset, out = Path(dataset), Path(out)
    names = choose_subjects(dataset, subjects)
    with atomic_dir(out) as tmp:
        for name in names:
            export_subject(dataset / name, tmp / name, fmt, task)
        info = {"Name": f"{dataset.name} ({fmt})", "BIDSVersion": "1.9.0",
                "DatasetType": "derivative",
                "GeneratedBy": [{"Name": "advlib export-example"}]}
        (tmp / "dataset_description.json").write_text(json.dumps(info, indent=2) + "\n")
    return [out / n for n in names]
