"""fMRI stages: simulate subjects into the data format, and select reliable vertices.

``simulate_dataset`` runs the simulated observer (:mod:`advlib.fmri.simulation.cortex`,
:mod:`advlib.fmri.simulation.observer`) and the GLM (:mod:`advlib.fmri.glm`) for each subject and writes the
documented subject folders (:mod:`advlib.fmri.data`). ``select_dataset`` computes the
searchlight reliability map and the paper's vertex selection for every subject of any
dataset in that format, simulated or real.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ...cnn.stimulus_set import load_manifest, load_stimulus_images, stimulus_files
from ...errors import check_choice, check_nonnegative_seed, check_positive_int, expect
from ...layout import (
    DEFAULT_SURFACE,
    MANIFEST,
    OBSERVER_ENERGY,
    SIMULATION_SPEC,
    SURFACES,
    observer_responses_name,
    record_name,
    simulation_spec,
)
from ...provenance import Stage, file_sha256, package_versions, read_record, write_json
from ..data import (
    DATASET_INFO,
    RUNS_TABLE,
    SUBJECT_INFO,
    TRUE_BETAS,
    conditions_from_names,
    events_file,
    list_subjects,
    timeseries_file,
    write_subject,
)
from ..glm import fit_glm
from .betas import subject_model
from .cortex import make_cortex, make_hemisphere
from .observer import gabor_energy, session_plan, simulate_runs

__all__ = ["SIMULATION_DEFAULTS", "simulate_subject", "simulate_dataset", "resolve_dataset",
           "stimulus_energy", "observer_subject"]

#: Parameters of the simulated observer (see :func:`simulate_subject`).
SIMULATION_DEFAULTS = dict(snr=SIMULATION_SPEC["snr"], spacing=SIMULATION_SPEC["spacing"],
                           n_runs_per_session=5, max_pcs=SIMULATION_SPEC["max_pcs"],
                           variation=0.1, design=SIMULATION_SPEC["design"],
                           surface=DEFAULT_SURFACE)


def _recorded(p: dict) -> dict:
    """The parameters a stage record and ``dataset.json`` hold: ``surface`` only when it
    is not the default, so that records written before the option existed stay valid."""
    return {k: v for k, v in p.items() if k != "surface" or v != DEFAULT_SURFACE}


def stimulus_energy(stim_dir, cache_dir=None):
    """Gabor energy of every image of a stimulus set, with the image ids in order.

    Parameters
    ----------
    stim_dir : str or path
        The stimulus set.
    cache_dir : str or path, optional
        The set's feature cache (:attr:`advlib.layout.Layout.features_dir`): the energy is
        read from :data:`advlib.layout.OBSERVER_ENERGY` there when it was made from the same
        images by the same code, else computed and written there (a cached stage; the
        subjects and every process of the ground-truth study then read it instead of
        computing it again). ``None``: computed, nothing written.

    Returns
    -------
    energy : numpy.ndarray, shape (n_images, n_channels, G, G), float32
    image_ids : list of str
    """
    stage = None
    if cache_dir is not None:
        stage = Stage("observer_energy", Path(cache_dir), [OBSERVER_ENERGY], {},
                      inputs=stimulus_files(stim_dir),
                      code=["advlib.fmri.simulation.simulate"])
        if stage.up_to_date():
            with np.load(stage.output_paths()[0]) as saved:
                return saved["energy"], [str(i) for i in saved["image_ids"]]
    arrays, ids = [], []
    for kind in ("RE", "AN", "AI"):
        images, rows = load_stimulus_images(stim_dir, kind)
        arrays.append(images)
        ids += list(rows.image_id)
    energy = gabor_energy(np.concatenate(arrays))
    if stage is not None:
        def write(tmp: Path) -> None:
            with open(tmp / OBSERVER_ENERGY, "wb") as handle:
                np.savez(handle, energy=energy, image_ids=np.array(ids, dtype=str))
        stage.run(write)
    return energy, ids


def _subject_rngs(seed: int, subject: int) -> list:
    """A simulated subject's five generators: anatomy, responses, session plan, runs, GLM
    (the children of ``SeedSequence([seed, subject])``, in that order)."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence([seed, subject]).spawn(5)]


def observer_subject(stim_dir, energy, seed: int, subject: int, *, spacing: float = 1.0,
                     variation: float = 0.1, surface: str = DEFAULT_SURFACE,
                     cache_dir=None):
    """One simulated subject's anatomy and noise-free neural responses, the responses cached.

    :func:`advlib.fmri.simulation.subject_model` with the generators of dataset ``seed``
    and ``subject`` (the first two children of ``SeedSequence([seed, subject])``, as both
    the full path and the ground-truth study draw them). The responses (the pRF pooling of
    the energy: most of the time) are read from the stimulus set's feature cache when they
    were made from the same images, energy, parameters and code, else computed and written there
    (a cached stage: the subjects stage leaves them, every process of the ground-truth
    study reads them). The cortex is rebuilt from its generator (fast), the same as when
    the responses were made.

    Parameters
    ----------
    stim_dir : str or path
        The stimulus set (what the energy was computed from).
    energy : tuple
        ``(energy, image_ids)`` from :func:`stimulus_energy`.
    seed, subject : int
    spacing, variation : float
    surface : {"schematic", "fsaverage5"}
    cache_dir : str or path, optional
        The set's feature cache (:attr:`advlib.layout.Layout.features_dir`). ``None``:
        computed, nothing written.

    Returns
    -------
    cortex : Cortex
    responses : pandas.DataFrame, shape (n_images, n_vertices)
        Index = image id.
    """
    energy, ids = energy
    r_anat, r_resp = _subject_rngs(seed, subject)[:2]
    if cache_dir is None:
        return subject_model(energy, ids, r_anat, r_resp, spacing=spacing,
                             variation=variation, surface=surface)
    # the energy itself is part of the key: a caller may hand over the energy of other
    # images than stim_dir's (its own business), which must not answer for stim_dir's
    params = {"seed": int(seed), "subject": int(subject), "spacing": float(spacing),
              "variation": float(variation), "surface": surface,
              "energy_sha256": hashlib.sha256(np.ascontiguousarray(energy).tobytes()
                                              + "\n".join(ids).encode()).hexdigest()}
    name = observer_responses_name(params)
    stage = Stage("observer_responses", Path(cache_dir), [name], params,
                  inputs=stimulus_files(stim_dir), code=["advlib.fmri.simulation.simulate"],
                  record=record_name(Path(name).stem))
    if stage.up_to_date():
        cortex = make_cortex(r_anat, spacing=spacing, variation=variation, surface=surface)
        with np.load(stage.output_paths()[0]) as saved:
            values, saved_ids = saved["responses"], [str(i) for i in saved["image_ids"]]
        if saved_ids == list(ids) and values.shape == (len(ids), len(cortex.vertices)):
            return cortex, pd.DataFrame(values, index=saved_ids)
    cortex, responses = subject_model(energy, ids, r_anat, r_resp, spacing=spacing,
                                      variation=variation, surface=surface)

    def write(tmp: Path) -> None:
        with open(tmp / name, "wb") as handle:
            np.savez(handle, responses=responses.to_numpy(),
                     image_ids=np.array(list(responses.index), dtype=str))
    stage.run(write)
    return cortex, responses


def simulate_subject(stim_dir, dataset_dir, subject: int = 1, *, seed: int = 0,
                     energy=None, energy_cache=None, save_timeseries: bool = False,
                     reuse: bool = True, progress: bool = True, **params) -> Path:
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
    energy_cache : str or path, optional
        The stimulus set's feature cache, where :func:`stimulus_energy` (without
        ``energy``) reads or leaves the energy and :func:`observer_subject` the subject's
        noise-free responses.
    save_timeseries : bool
        Also write ``timeseries/run-XX.npy`` (the alternative input format).
    reuse : bool
        Read an up-to-date folder back instead of simulating again (``False``: simulate
        anyway).
    progress : bool
    **params
        ``snr``, ``spacing``, ``n_runs_per_session``, ``max_pcs``, ``variation``, ``design``,
        ``surface`` (:data:`SIMULATION_DEFAULTS`; ``design``: see
        :func:`advlib.fmri.simulation.session_plan`; ``surface``: the observer's cortex,
        ``"schematic"`` or ``"fsaverage5"``, see :func:`advlib.fmri.simulation.make_cortex`).

    Returns
    -------
    pathlib.Path
        The subject folder.
    """
    unknown = set(params) - set(SIMULATION_DEFAULTS)
    expect(not unknown, "simulation options", sorted(unknown), f"names from "
           f"{sorted(SIMULATION_DEFAULTS)}")
    check_positive_int(subject, "subject")
    check_nonnegative_seed(seed)
    p = {**SIMULATION_DEFAULTS, **params}
    _check_simulation_options(p)
    stim_dir, dataset_dir = Path(stim_dir), Path(dataset_dir)
    manifest = load_manifest(stim_dir)
    folder = dataset_dir / f"sub-{subject:02d}"
    stage = _subject_stage(stim_dir, folder, subject, seed, p, save_timeseries)
    if reuse and stage.up_to_date():
        return folder
    if energy is None:
        energy = stimulus_energy(stim_dir, energy_cache)
    stage.run(lambda tmp: _simulate(stim_dir, manifest, tmp, subject, seed, p, energy,
                                    save_timeseries, progress, energy_cache))
    return folder


def _check_simulation_options(p: dict) -> None:
    """Refuse settings the simulation cannot mean (an infinite SNR, a negative count)."""
    import math

    for name in ("snr", "spacing"):
        value = p[name]
        expect(isinstance(value, (int, float)) and not isinstance(value, bool)
               and math.isfinite(value) and value > 0, name, value, "a finite number > 0")
    check_positive_int(p["max_pcs"], "max_pcs", minimum=0)
    check_positive_int(p["n_runs_per_session"], "n_runs_per_session")
    check_choice(p["surface"], "surface", SURFACES)


def _subject_stage(stim_dir, folder: Path, subject: int, seed: int, p: dict,
                   save_timeseries: bool) -> Stage:
    """The cached stage of one simulated subject's folder."""
    return Stage("simulated_subject", folder, None,
                 {"seed": seed, "subject": int(subject), **_recorded(p),
                  "save_timeseries": save_timeseries},
                 inputs=stimulus_files(stim_dir), code=["advlib.fmri.simulation.simulate"],
                 owned=_is_simulated_subject)


def _is_simulated_subject(folder: Path) -> bool:
    """A subject folder written by an earlier version of :func:`simulate_subject`."""
    try:
        return bool(json.loads((folder / SUBJECT_INFO).read_text()).get("simulated"))
    except (OSError, ValueError):
        return False


def _simulate(stim_dir, manifest, folder, subject, seed, p, energy, save_timeseries, progress,
              cache_dir=None):
    """Simulate one subject and write its folder (the work of :func:`simulate_subject`)."""
    _, _, r_plan, r_runs, r_glm = _subject_rngs(seed, subject)
    cortex, responses = observer_subject(stim_dir, energy, seed, subject,
                                         spacing=p["spacing"], variation=p["variation"],
                                         surface=p["surface"], cache_dir=cache_dir)
    plan = session_plan(manifest, seed=r_plan, design=p["design"])
    sim = simulate_runs(responses, plan, snr=p["snr"], n_runs_per_session=p["n_runs_per_session"],
                        seed=r_runs, progress=progress)
    glm = fit_glm(sim.data, sim.events, max_pcs=p["max_pcs"], seed=r_glm, progress=progress)
    conditions = conditions_from_names(glm.betas.index, manifest)
    session_of = {img: s for s, images in plan.items() for img in images}
    conditions["session"] = [session_of.get(i, 0) for i in conditions.image_id]
    true = sim.true_betas.loc[glm.betas.index]
    info = {"subject": f"sub-{subject:02d}", "simulated": True,
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
    extra = {TRUE_BETAS: true.to_numpy(np.float32)}
    for i, ev in enumerate(sim.events):
        extra[events_file(i + 1)] = ev
        if save_timeseries:
            extra[timeseries_file(i + 1)] = sim.data[i]
    if save_timeseries:
        extra[RUNS_TABLE] = pd.DataFrame({"run": np.arange(1, len(sim.sessions) + 1),
                                          "session": sim.sessions})
    write_subject(folder, glm.betas, conditions, cortex.vertices, cortex.faces, info, extra)


def _earlier_subjects(dataset_dir: Path, seed: int, params: dict, manifest_sha: str) -> list:
    """The subjects an earlier run simulated into ``dataset_dir`` with the same settings.

    Raises
    ------
    InputError
        The folder holds a dataset simulated with other settings (seed, simulation
        parameters or stimulus set): adding subjects would mix two datasets under one
        ``dataset.json``.
    """
    path = dataset_dir / DATASET_INFO
    if not path.is_file():
        return []
    old = read_record(path)
    expect(isinstance(old, dict) and old.get("simulated") is True, "dataset folder",
           str(dataset_dir), "a new folder or one written by `advlib simulate` (its "
           "dataset.json describes another dataset)")
    new = json.loads(json.dumps({"seed": seed, "parameters": _recorded(params),
                                 "stimulus_manifest_sha256": manifest_sha}))
    changed = [k for k in new if old.get(k) != new[k]]
    if "parameters" in changed:
        changed.remove("parameters")
        before = old.get("parameters") or {}
        changed += [f"{k} {before.get(k)!r} -> {v!r}" for k, v in new["parameters"].items()
                    if before.get(k) != v]
    expect(not changed, "dataset folder", str(dataset_dir),
           f"a new folder: it holds subjects {', '.join(old.get('subjects', []))} simulated "
           f"with other settings ({'; '.join(changed)}); one folder holds one dataset")
    return [s for s in old.get("subjects", []) if (dataset_dir / s).is_dir()]


def simulate_dataset(stim_dir, dataset_dir, subjects=(1, 2, 3), *, seed: int = 0,
                     name: str = "simulated", reuse: bool = True, progress: bool = True,
                     save_timeseries: bool = False, jobs: int = 1, energy_cache=None,
                     **params) -> list[Path]:
    """Simulate several subjects (the paper had 3) and write ``dataset.json``.

    Subjects already simulated with the same parameters are reused (see
    :func:`simulate_subject`); ``jobs`` subjects are simulated in parallel (joblib), with
    the same numbers as one at a time (each subject has its own seed). ``energy_cache``: the
    stimulus set's feature cache, where :func:`stimulus_energy` reads (or leaves) the energy
    the subjects share.

    Returns
    -------
    list of pathlib.Path
        The subject folders.
    """
    from joblib import delayed

    from ...pool import worker_pool

    dataset_dir = Path(dataset_dir)
    subjects = [check_positive_int(s, "subjects") for s in subjects]
    expect(len(set(subjects)) == len(subjects), "subjects", subjects,
           "distinct subject numbers (each is simulated once)")
    check_nonnegative_seed(seed)
    unknown = set(params) - set(SIMULATION_DEFAULTS)
    expect(not unknown, "simulation options", sorted(unknown), f"names from "
           f"{sorted(SIMULATION_DEFAULTS)}")
    p = {**SIMULATION_DEFAULTS, **params}
    _check_simulation_options(p)
    manifest_sha = file_sha256(Path(stim_dir) / MANIFEST)
    earlier = _earlier_subjects(dataset_dir, seed, p, manifest_sha)
    todo = [s for s in subjects if not reuse or not _subject_stage(
        stim_dir, dataset_dir / f"sub-{s:02d}", s, seed, p, save_timeseries).up_to_date()]
    if todo and p["surface"] == "schematic":   # a cortex beyond memory: refused before work
        make_hemisphere("lh", spacing=p["spacing"])
    # only when something is simulated
    energy = stimulus_energy(stim_dir, energy_cache) if todo else None
    work = worker_pool(jobs, return_as="generator")(
        delayed(simulate_subject)(stim_dir, dataset_dir, s, seed=seed, energy=energy,
                                  energy_cache=energy_cache,   # the responses' cache
                                  reuse=False,   # found out of date just above
                                  progress=progress and jobs == 1,
                                  save_timeseries=save_timeseries, **params)
        for s in todo)
    list(tqdm(work, total=len(todo), desc="subjects", disable=not progress))
    folders = [dataset_dir / f"sub-{s:02d}" for s in subjects]
    listed = sorted(set(earlier) | {f.name for f in folders})   # one folder, one dataset
    info = {"name": name, "simulated": True, "stimuli": str(Path(stim_dir).resolve()),
            "stimulus_manifest_sha256": manifest_sha,
            "description": "SIMULATED observer data (no human fMRI data): advlib.observer",
            "subjects": listed, "seed": seed, "parameters": _recorded(p)}
    if read_record(dataset_dir / DATASET_INFO) != json.loads(json.dumps(info)):
        write_json(dataset_dir / DATASET_INFO, info)
    return folders



def resolve_dataset(dataset, layout, *, progress: bool = True, jobs: int = 1) -> Path:
    """The dataset folder a notebook or command works on, simulated first when needed.

    Parameters
    ----------
    dataset : str, path or dict
        ``"simulated"`` or a simulated-dataset specification (a dict, see
        :func:`advlib.layout.simulation_spec`): the observer's subjects for the layout's
        stimulus set are simulated (or reused, a cached stage per subject) in
        ``layout.dataset_dir(dataset)``. Otherwise the folder of a dataset in the
        documented format (real data), used as it is.
    layout : advlib.layout.Layout
        The model's (and stimulus set's) result paths.
    progress : bool
    jobs : int
        Subjects simulated in parallel.

    Returns
    -------
    pathlib.Path
    """
    spec = simulation_spec(dataset)
    if spec is None:
        folder = layout.data_dir(dataset)
        list_subjects(folder)  # validates: an existing folder with sub-XX folders
        return folder
    out = layout.dataset_dir(dataset)
    simulate_dataset(layout.stimuli_dir, out, spec["subjects"], seed=spec["seed"],
                     progress=progress, jobs=jobs, energy_cache=layout.features_dir,
                     snr=spec["snr"], spacing=spec["spacing"],
                     max_pcs=spec["max_pcs"], design=spec["design"],
                     surface=spec.get("surface", DEFAULT_SURFACE))
    return out
