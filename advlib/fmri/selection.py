"""Vertex selection (paper, Methods): searchlight reliability of the RE RDMs and the most
reliable vertices of each ROI, for any dataset in the documented format.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..errors import expect
from ..provenance import package_versions, write_csv, write_json
from .data import ROIS, Subject, choose_subjects, load_subject
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
                   n_per_hemi: int = 100, manifest=None, progress: bool = True) -> dict:
    """Run :func:`select_subject` on every subject and write the results.

    Writes ``OUT/sub-XX/selection/reliability.csv`` (vertex, hemi, roi, reliability),
    ``selection_<2*n_per_hemi>.csv`` and ``split_half_<2*n_per_hemi>.csv``; ``OUT``
    defaults to the dataset folder.

    Returns
    -------
    dict of str to pandas.DataFrame
        Subject name -> selection table.
    """
    dataset_dir = Path(dataset_dir)
    out_dir = Path(out_dir) if out_dir is not None else dataset_dir
    names = choose_subjects(dataset_dir, subjects)
    result = {}
    for name in tqdm(names, desc="vertex selection", disable=not progress):
        subject = load_subject(dataset_dir / name, manifest=manifest)
        rel, sel, split = select_subject(subject, radius, n_per_hemi)
        target = out_dir / name / "selection"
        n = 2 * n_per_hemi
        write_csv(target / "reliability.csv", subject.vertices[["hemi", "roi"]].assign(
            vertex=np.arange(len(rel)), reliability=rel)[["vertex", "hemi", "roi", "reliability"]])
        write_csv(target / f"selection_{n}.csv", sel)
        write_csv(target / f"split_half_{n}.csv", split)
        write_json(target / f"selection_{n}.json", {
            "radius_mm": radius, "n_per_hemi": n_per_hemi, "kind": "RE",
            "statistic": "Spearman r of presentation-1 vs -2 RE RDMs in the geodesic disk",
            "versions": package_versions()})
        result[name] = sel
    return result


def load_selection(dataset_dir, subject: str, n_vertices: int = 200, out_dir=None):
    """Read a subject's ``selection_<n_vertices>.csv`` written by :func:`select_dataset`."""
    base = Path(out_dir) if out_dir is not None else Path(dataset_dir)
    path = base / subject / "selection" / f"selection_{n_vertices}.csv"
    expect(path.is_file(), "selection", str(path),
           f"a selection of {n_vertices} vertices per ROI (run `advlib select` first)")
    return pd.read_csv(path)
