"""fMRI stages: simulate subjects into the data format, and select reliable vertices.

``simulate_dataset`` runs the simulated observer (:mod:`advlib.cortex`,
:mod:`advlib.observer`) and the GLM (:mod:`advlib.glm`) for each subject and writes the
documented subject folders (:mod:`advlib.data`). ``select_dataset`` computes the
searchlight reliability map and the paper's vertex selection for every subject of any
dataset in that format, simulated or real.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .cortex import ROIS, make_cortex
from .data import (Subject, conditions_from_names, list_subjects, load_subject, write_subject)
from .errors import expect
from .glm import fit_glm
from .observer import gabor_energy, prf_responses, session_plan, simulate_runs
from .provenance import package_versions, write_csv, write_json
from .searchlight import (geodesic_disks, reliability_map, select_vertices,
                          split_half_reliability)
from .stimuli import load_manifest, load_stimulus_images

__all__ = ["SIMULATION_DEFAULTS", "simulate_subject", "simulate_dataset", "select_subject", "fmri_checks",
           "resolve_dataset",
           "select_dataset", "load_selection", "stimulus_energy"]

#: Parameters of the simulated observer (see :func:`simulate_subject`).
SIMULATION_DEFAULTS = dict(snr=0.8, spacing=1.0, n_runs_per_session=5, max_pcs=10,
                           variation=0.1)
_SIM_VERSION = 1


def stimulus_energy(stim_dir):
    """Gabor energy of every image of a stimulus set, with the image ids in order.

    Returns
    -------
    energy : numpy.ndarray, shape (n_images, n_channels, G, G)
    image_ids : list of str
    """
    arrays, ids = [], []
    for kind in ("RE", "AN", "AI"):
        images, rows = load_stimulus_images(stim_dir, kind)
        arrays.append(images)
        ids += list(rows.image_id)
    return gabor_energy(np.concatenate(arrays)), ids


def simulate_subject(stim_dir, dataset_dir, subject: int = 1, *, seed: int = 0,
                     energy=None, save_timeseries: bool = False, force: bool = False,
                     progress: bool = True, **params) -> Path:
    """Simulate one subject's experiment and write its folder ``sub-XX`` in the data format.

    Parameters
    ----------
    stim_dir : str or path
        Stimulus set (the images the observer sees).
    dataset_dir : str or path
        Dataset folder; receives ``sub-XX/``.
    subject : int
        Subject number (also seeds the subject's anatomy, responses and noise together
        with ``seed``).
    seed : int
        Dataset seed.
    energy : tuple, optional
        ``(energy, image_ids)`` from :func:`stimulus_energy`, to share across subjects.
    save_timeseries : bool
        Also write ``timeseries/run-XX.npy`` (the alternative input format).
    force : bool
        Re-simulate even if an up-to-date folder exists.
    progress : bool
    **params
        ``snr``, ``spacing``, ``n_runs_per_session``, ``max_pcs``, ``variation``
        (:data:`SIMULATION_DEFAULTS`).

    Returns
    -------
    pathlib.Path
        The subject folder.
    """
    unknown = set(params) - set(SIMULATION_DEFAULTS)
    expect(not unknown, "simulation options", sorted(unknown), f"names from "
           f"{sorted(SIMULATION_DEFAULTS)}")
    expect(isinstance(subject, (int, np.integer)) and subject >= 1, "subject", subject,
           "a positive subject number")
    p = {**SIMULATION_DEFAULTS, **params}
    stim_dir, dataset_dir = Path(stim_dir), Path(dataset_dir)
    manifest = load_manifest(stim_dir)
    folder = dataset_dir / f"sub-{subject:02d}"
    key = {"version": _SIM_VERSION, "seed": seed, "subject": subject, **p,
           "save_timeseries": save_timeseries,
           "manifest": (stim_dir / "manifest.csv").read_text()}
    info_path = folder / "subject.json"
    if not force and info_path.is_file():
        old = json.loads(info_path.read_text())
        if old.get("key") == key:
            return folder
    ss = np.random.SeedSequence([seed, subject])
    r_anat, r_resp, r_plan, r_runs, r_glm = (np.random.default_rng(s) for s in ss.spawn(5))
    energy, ids = energy if energy is not None else stimulus_energy(stim_dir)
    cortex = make_cortex(r_anat, spacing=p["spacing"], variation=p["variation"])
    responses = pd.DataFrame(prf_responses(energy, cortex.vertices, seed=r_resp), index=ids)
    plan = session_plan(manifest, seed=r_plan)
    sim = simulate_runs(responses, plan, snr=p["snr"], n_runs_per_session=p["n_runs_per_session"],
                        seed=r_runs, progress=progress)
    glm = fit_glm(sim.data, sim.events, max_pcs=p["max_pcs"], seed=r_glm, progress=progress)
    conditions = conditions_from_names(glm.betas.index, manifest)
    true = sim.true_betas.loc[glm.betas.index]
    info = {"subject": f"sub-{subject:02d}", "simulated": True, "key": key,
            "description": "simulated observer (advlib.observer): Gabor energy -> pRF -> "
                           "compressive nonlinearity; BOLD with AR(1), shared noise, drift",
            "sessions": {str(k): v for k, v in plan.items()},
            "runs": [{"run": i + 1, "session": s, "n_frames": len(d)}
                     for i, (s, d) in enumerate(zip(sim.sessions, sim.data))],
            "glm": {"n_pcs": glm.n_pcs, **glm.params,
                    "xval_r2": glm.xval_r2.to_dict("list"),
                    "median_r2_roi": float(np.median(glm.r2[(cortex.vertices.roi != "").to_numpy()]))},
            "beta_recovery_r": float(np.corrcoef(true.to_numpy().ravel(),
                                                 glm.betas.to_numpy().ravel())[0, 1]),
            "versions": package_versions()}
    extra = {"simulation/true_betas.npy": true.to_numpy(np.float32)}
    for i, ev in enumerate(sim.events):
        extra[f"events/run-{i + 1:02d}.csv"] = ev
        if save_timeseries:
            extra[f"timeseries/run-{i + 1:02d}.npy"] = sim.data[i]
    write_subject(folder, glm.betas, conditions, cortex.vertices, cortex.faces, info, extra)
    return folder


def simulate_dataset(stim_dir, dataset_dir, subjects=(1, 2, 3), *, seed: int = 0,
                     name: str = "simulated", force: bool = False, progress: bool = True,
                     save_timeseries: bool = False, jobs: int = 1, **params) -> list[Path]:
    """Simulate several subjects (the paper had 3) and write ``dataset.json``.

    Subjects already simulated with the same parameters are reused (see
    :func:`simulate_subject`); ``jobs`` subjects are simulated in parallel (joblib), with
    the same numbers as one at a time (each subject has its own seed).

    Returns
    -------
    list of pathlib.Path
        The subject folders.
    """
    dataset_dir = Path(dataset_dir)
    energy = stimulus_energy(stim_dir)
    from joblib import Parallel, delayed

    folders = Parallel(n_jobs=jobs)(
        delayed(simulate_subject)(stim_dir, dataset_dir, s, seed=seed, energy=energy,
                                  force=force, progress=progress and jobs == 1,
                                  save_timeseries=save_timeseries, **params)
        for s in tqdm(list(subjects), desc="subjects", disable=not progress))
    write_json(dataset_dir / "dataset.json", {
        "name": name, "simulated": True, "stimuli": str(Path(stim_dir).resolve()),
        "description": "SIMULATED observer data (no human fMRI data): advlib.observer",
        "subjects": [f.name for f in folders], "seed": seed,
        "parameters": {**SIMULATION_DEFAULTS, **params}})
    return folders


def select_subject(subject: Subject, radius: float = 3.0, n_per_hemi: int = 100):
    """Searchlight reliability map and the paper's vertex selection for one subject.

    Parameters
    ----------
    subject : Subject
    radius : float
        Geodesic disk radius (mm).
    n_per_hemi : int
        Vertices per ROI per hemisphere (100: 200 per ROI; 200 for Fig S2).

    Returns
    -------
    reliability : numpy.ndarray, shape (n_vertices,)
    selection : pandas.DataFrame
        From :func:`advlib.searchlight.select_vertices`.
    split_half : pandas.DataFrame
        Per ROI: ``roi, n_vertices, split_half_selected, split_half_all`` (Spearman r of the
        presentation-1 vs presentation-2 RE RDMs over the selected / all ROI vertices).
    """
    xy = subject.vertices[["x_mm", "y_mm"]].to_numpy()
    disks = geodesic_disks(xy, subject.faces, radius)
    rel = reliability_map(subject.betas, subject.conditions, disks, kind="RE")
    sel = select_vertices(subject.vertices, rel, n_per_hemi)
    rows = []
    for roi in ROIS:
        chosen = sel[sel.roi == roi].vertex.to_numpy()
        every = np.flatnonzero((subject.vertices.roi == roi).to_numpy())
        if len(chosen) < 4:
            continue
        rows.append({"roi": roi, "n_vertices": len(chosen),
                     "split_half_selected": split_half_reliability(
                         subject.betas, subject.conditions, chosen),
                     "split_half_all": split_half_reliability(
                         subject.betas, subject.conditions, every)})
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
    names = list_subjects(dataset_dir) if subjects is None else list(subjects)
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


def fmri_checks(subject: Subject, selection: pd.DataFrame, split_half: pd.DataFrame,
                n_vertices: int = 200, n_images: int | None = None) -> pd.DataFrame:
    """The paper's fMRI design and selection facts, checked on one subject.

    Parameters
    ----------
    subject : Subject
    selection : pandas.DataFrame
        From :func:`select_subject`.
    split_half : pandas.DataFrame
        From :func:`select_subject`.
    n_vertices : int
        Vertices asked per ROI.
    n_images : int, optional
        Regular images in the stimulus set (default: counted in the conditions).

    Returns
    -------
    pandas.DataFrame
        Columns ``claim, paper, here, holds``.
    """
    cond = subject.conditions
    n_re = n_images or int((cond.kind == "RE").sum() // 2)
    expected = 3 * n_re * 2 + 1
    counts = selection.groupby(["roi", "hemi"]).size()
    rois_ok = sorted(selection.roi.unique())
    full = [r for r in ROIS if counts.get((r, "lh"), 0) + counts.get((r, "rh"), 0) == n_vertices]
    reliable = split_half[split_half.split_half_selected > 0]
    return pd.DataFrame([
        {"claim": "one beta per image presentation plus one blank beta per vertex",
         "paper": "241 (120 images x 2 + 1)", "here": f"{len(cond)} ({3 * n_re} images x 2 + 1)",
         "holds": len(cond) == expected},
        {"claim": "five ROIs in both hemispheres", "paper": "V1, V2, V3, V4, LO",
         "here": ", ".join(rois_ok), "holds": rois_ok == sorted(ROIS)},
        {"claim": f"{n_vertices} vertices per ROI, half from each hemisphere",
         "paper": "200 (Fig 3) or 400 (Fig S2)",
         "here": f"{len(full)}/5 ROIs complete", "holds": len(full) == 5},
        {"claim": "selected vertices respond reliably to RE images (split-half RDM r > 0)",
         "paper": "selection by RE reliability only",
         "here": ", ".join(f"{r.roi} {r.split_half_selected:.2f}" for r in split_half.itertuples()),
         "holds": len(reliable) == len(split_half) == 5},
    ])


def resolve_dataset(dataset: str, stim_dir, results_dir, subjects=(1, 2, 3), *, seed: int = 0,
                    progress: bool = True, **params) -> Path:
    """The dataset folder a notebook or command works on.

    Parameters
    ----------
    dataset : str
        ``"simulated"``: simulate (or reuse) the observer's data for the stimulus set in
        ``<results_dir>/simulated``; otherwise the path of a dataset folder in the
        documented format (real data), used as it is.
    stim_dir : str or path
        Stimulus set.
    results_dir : str or path
        The model's results folder (``<results>/<model>``).
    subjects, seed, progress, **params
        Passed to :func:`simulate_dataset` when simulating.

    Returns
    -------
    pathlib.Path
    """
    if dataset == "simulated":
        out = Path(results_dir) / "simulated"
        simulate_dataset(stim_dir, out, subjects, seed=seed, progress=progress, **params)
        return out
    folder = Path(dataset)
    list_subjects(folder)  # validates: an existing folder with sub-XX folders
    return folder
