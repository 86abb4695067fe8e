"""Vertex selection (paper, Methods): searchlight reliability of the RE RDMs and the most
reliable vertices of each ROI, for any dataset in the documented format.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..errors import expect
from ..layout import (
    RELIABILITY_TABLE,
    SELECTION_FOLDER,
    selection_dir,
    selection_record,
    selection_table,
    split_half_table,
)
from ..provenance import Stage, write_csv
from .data import ROIS, Subject, choose_subjects, load_subject, subject_files
from .searchlight import (
    geodesic_disks,
    reliability_map,
    select_vertices,
    split_half_reliabilities,
    vertex_coordinates,
)

__all__ = ["select_subject", "select_dataset", "load_selection", "check_vertex_count"]


def check_vertex_count(n_vertices) -> int:
    """``n_vertices`` (per ROI, both hemispheres): an even integer >= 2, half per hemisphere.

    Raises
    ------
    InputError
        Anything else, named as the caller's parameter (not the per-hemisphere count).
    """
    ok = isinstance(n_vertices, (int, np.integer)) and not isinstance(n_vertices, bool)
    expect(ok and n_vertices >= 2 and n_vertices % 2 == 0, "n_vertices", n_vertices,
           "an even number >= 2 of vertices per ROI (half from each hemisphere)")
    return int(n_vertices)


def select_subject(subject: Subject, radius: float = 3.0, n_per_hemi: int = 100, disks=None,
                   n_random: int = 20, seed: int = 0):
    """Searchlight reliability map and the paper's vertex selection for one subject.

    Parameters
    ----------
    subject : Subject
    radius : float
        Geodesic disk radius (mm).
    n_per_hemi : int
        Vertices per ROI per hemisphere (100: 200 per ROI; 200 for Fig S2).
    disks : scipy.sparse matrix, optional
        The subject's geodesic disks of ``radius`` (:func:`geodesic_disks`), when the caller
        has them already.
    n_random : int
        Random vertex sets per ROI behind ``split_half_random`` (0: not computed).
    seed : int
        Seed of those sets.

    Returns
    -------
    reliability : numpy.ndarray, shape (n_vertices,)
    selection : pandas.DataFrame
        From :func:`advlib.fmri.searchlight.select_vertices`.
    split_half : pandas.DataFrame
        Per ROI: ``roi, n_vertices, split_half_selected, split_half_random,
        split_half_random_sd, split_half_all``
        (Spearman r of the presentation-1 vs presentation-2 RE RDMs over the selected
        vertices, over as many vertices drawn at random from the ROI (mean of
        ``n_random`` draws, and their SD: the fair comparison, since an RDM over more
        vertices is more reliable whichever they are), and over all the ROI's vertices).
    """
    if disks is None:
        disks = geodesic_disks(vertex_coordinates(subject.vertices), subject.faces,
                               radius)
    rel = reliability_map(subject.betas, subject.conditions, disks, kind="RE")
    sel = select_vertices(subject.vertices, rel, n_per_hemi)
    rows = []
    rng = np.random.default_rng(seed)
    for roi in ROIS:
        chosen = sel[sel.roi == roi].vertex.to_numpy()
        every = np.flatnonzero((subject.vertices.roi == roi).to_numpy())
        if len(chosen) < 4:
            continue
        sets = [chosen, every] + [rng.choice(every, len(chosen), replace=False)
                                  for _ in range(n_random)]
        r = split_half_reliabilities(subject.betas, subject.conditions, sets)
        random = r[2:]
        rows.append({"roi": roi, "n_vertices": len(chosen), "split_half_selected": r[0],
                     "split_half_random": float(np.mean(random)) if len(random) else np.nan,
                     "split_half_random_sd": (float(np.std(random, ddof=1))
                                              if len(random) > 1 else np.nan),
                     "split_half_all": r[1]})
    return rel, sel, pd.DataFrame(rows)


def select_dataset(dataset_dir, out_dir=None, subjects=None, radius: float = 3.0,
                   n_per_hemi: int = 100, manifest=None, progress: bool = True,
                   reuse: bool = True) -> dict:
    """Run :func:`select_subject` on every subject and write the results, one cached stage
    per subject.

    Writes ``OUT/sub-XX/selection/reliability.csv`` (vertex, hemi, roi, reliability),
    ``selection_<2*n_per_hemi>.csv`` and ``split_half_<2*n_per_hemi>.csv`` through an
    :class:`advlib.provenance.Stage` whose record ``selection_<2*n_per_hemi>_provenance.json``
    lies beside them. The selection is computed from the subject's RE betas only; it does not
    depend on any network, so it is keyed by the subject's files, ``radius`` and
    ``n_per_hemi`` (not by a model).

    Parameters
    ----------
    dataset_dir : str or path
        A dataset in the documented format (subject folders ``sub-XX``).
    out_dir : str or path, optional
        Output root (default: :func:`advlib.layout.selection_dir` of the dataset under the
        default results root; never the dataset folder itself).
    subjects : list of str, optional
        Subject folders (default: all).
    radius : float
        Geodesic disk radius (mm).
    n_per_hemi : int
        Vertices per ROI per hemisphere.
    manifest : pandas.DataFrame, optional
        Stimulus manifest the subjects are checked against (see
        :func:`advlib.fmri.load_subject`).
    progress : bool
        Progress bar.
    reuse : bool
        Read an up-to-date selection back instead of recomputing it.

    Returns
    -------
    dict of str to pandas.DataFrame
        Subject name -> selection table.
    """
    dataset_dir = Path(dataset_dir)
    out_dir = Path(out_dir) if out_dir is not None else selection_dir(dataset_dir)
    n = 2 * n_per_hemi
    params = {"radius_mm": radius, "n_per_hemi": n_per_hemi, "kind": "RE",
              "statistic": "Spearman r of presentation-1 vs -2 RE RDMs in the geodesic disk"}
    names = choose_subjects(dataset_dir, subjects)
    result = {}
    for name in tqdm(names, desc="vertex selection", disable=not progress):
        stage = Stage("selection", out_dir / name / SELECTION_FOLDER,
                      [RELIABILITY_TABLE, selection_table(n), split_half_table(n)], params,
                      inputs=subject_files(dataset_dir, [name]), code=["advlib.fmri.selection"],
                      record=selection_record(n))
        if not (reuse and stage.up_to_date()):
            subject = load_subject(dataset_dir / name, manifest=manifest)
            stage.run(functools.partial(_write_selection, subject, radius, n_per_hemi),
                      subject=str((dataset_dir / name).resolve()))
        result[name] = pd.read_csv(stage.root / selection_table(n))
    return result


def _write_selection(subject: Subject, radius: float, n_per_hemi: int, tmp: Path) -> None:
    """The selection stage's work: the three tables of one subject under ``tmp``."""
    rel, sel, split = select_subject(subject, radius, n_per_hemi)
    n = 2 * n_per_hemi
    write_csv(tmp / RELIABILITY_TABLE, subject.vertices[["hemi", "roi"]].assign(
        vertex=np.arange(len(rel)), reliability=rel)[["vertex", "hemi", "roi", "reliability"]])
    write_csv(tmp / selection_table(n), sel)
    write_csv(tmp / split_half_table(n), split)


def load_selection(dataset_dir, subject: str, n_vertices: int = 200, out_dir=None):
    """Read a subject's ``selection_<n_vertices>.csv`` written by :func:`select_dataset`
    (``out_dir`` as there)."""
    base = Path(out_dir) if out_dir is not None else selection_dir(dataset_dir)
    path = base / subject / SELECTION_FOLDER / selection_table(n_vertices)
    expect(path.is_file(), "selection", str(path),
           f"a selection of {n_vertices} vertices per ROI (run `advlib select` first)")
    return pd.read_csv(path)
