"""Single-trial GLM with GLMdenoise-style noise regressors (Kay et al. 2013).

As in the paper: one predictor per (image, presentation) condition (240 for the paper's
120 images x 2 presentations) plus one predictor for all blank trials: 241 betas per
vertex. Each condition occurs once per run of its session, so its beta pools that
presentation over the session's runs. The same function runs on simulated or real time
series.

Design: nilearn's ``make_first_level_design_matrix`` per run (Glover HRF), condition
columns placed in one design across runs, and per-run nuisance columns (constant, cosine
drift with a 1/128 Hz cut-off, and ``K`` noise regressors), block-diagonal across runs.

Noise regressors (GLMdenoise): the *noise pool* is the set of vertices whose
leave-one-run-out cross-validated R^2 is below 0 (at least 5% of the vertices: the lowest
are taken when fewer are negative). Unlike GLMdenoise, that R^2 is computed with a
collapsed model (one regressor for all images, one for blanks), not the 241-condition
single-trial model: with 4-5 repetitions per condition the single-trial model's
cross-validated R^2 is negative for many stimulus-driven vertices too, whose principal
components then carry the stimulus response and remove signal. In
each run, the noise pool's time series, with the run's drift removed, are reduced by PCA;
the first ``K`` temporal components enter that run's nuisance block. ``K`` is chosen from
0..``max_pcs`` as the one maximizing the median cross-validated R^2 over task-responsive
vertices (cross-validated R^2 > 0 without noise regressors; a seeded subset of at most
``n_xval_vertices`` for speed); GLMdenoise's own rule (smallest K within a tolerance of
the best) differs only when the curve is flat.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..errors import InputError, check_positive_int, expect
from .design import BLANK, TR, check_events

__all__ = ["GLMResult", "condition_names", "run_design", "run_design_frame", "fit_glm",
           "crossvalidated_r2"]


@dataclass
class GLMResult:
    """Betas and diagnostics of :func:`fit_glm`.

    Attributes
    ----------
    betas : pandas.DataFrame, shape (n_conditions, n_vertices)
        Index = condition names (``<image_id>_p1``, ``<image_id>_p2``, ..., ``blank``).
    n_pcs : int
        Noise regressors per run in the final fit.
    xval_r2 : pandas.DataFrame
        Median cross-validated R^2 (over task-responsive vertices) per candidate ``n_pcs``.
    noise_pool : numpy.ndarray, shape (n_vertices,), bool
    r2 : numpy.ndarray, shape (n_vertices,)
        Cross-validated R^2 per vertex at the chosen ``n_pcs``.
    params : dict
    """

    betas: pd.DataFrame
    n_pcs: int
    xval_r2: pd.DataFrame
    noise_pool: np.ndarray
    r2: np.ndarray
    params: dict = field(default_factory=dict)


def condition_names(events: list) -> list[str]:
    """All condition names in the runs, image conditions sorted, ``blank`` last."""
    names = sorted({t for ev in events for t in ev.trial_type if t != BLANK})
    return names + ([BLANK] if any((ev.trial_type == BLANK).any() for ev in events) else [])


def run_design(events: pd.DataFrame, times, conditions, hrf_model: str = "glover",
               high_pass: float = 1 / 128):
    """Task and drift regressors of one run.

    Parameters
    ----------
    events : pandas.DataFrame
        ``onset, duration, trial_type`` (seconds from the start of the scan).
    times : numpy.ndarray, shape (n_frames,)
        Acquisition times of the frames kept.
    conditions : list of str
        Column order of the task part (absent conditions are zero columns).
    hrf_model : str
        nilearn HRF model.
    high_pass : float
        Cosine drift cut-off (Hz).

    Returns
    -------
    task : numpy.ndarray, shape (n_frames, n_conditions)
    drift : numpy.ndarray, shape (n_frames, n_drift)
        Cosine drifts and the constant.
    """
    from nilearn.glm.first_level import make_first_level_design_matrix

    check_events(events)
    unknown = sorted(set(events.trial_type) - set(conditions))
    expect(not unknown, "events trial_type", unknown[:5], "conditions of the design")
    dm = make_first_level_design_matrix(np.asarray(times, float),
                                        events[["onset", "duration", "trial_type"]],
                                        hrf_model=hrf_model, drift_model="cosine",
                                        high_pass=high_pass)
    task = np.zeros((len(times), len(conditions)))
    for j, cond in enumerate(conditions):
        if cond in dm.columns:
            task[:, j] = dm[cond].to_numpy()
    drift_cols = [c for c in dm.columns if c.startswith("drift") or c == "constant"]
    return task, dm[drift_cols].to_numpy()


def _solve(x, y):
    """Least-squares coefficients of y (n, targets) on x (n, p), via the pseudo-inverse.

    One pseudo-inverse per design, applied to all targets at once (many vertices share
    one design, so this is much faster than a per-call SVD solver).
    """
    return np.linalg.pinv(x) @ y


def run_design_frame(events: pd.DataFrame, times=None, hrf_model: str = "glover",
                     high_pass: float = 1 / 128) -> pd.DataFrame:
    """nilearn's design matrix of one run (condition, drift and constant columns).

    Parameters
    ----------
    events : pandas.DataFrame
        ``onset, duration, trial_type``.
    times : numpy.ndarray, optional
        Frame times; default: the paper's timing (18 s discarded) for this trial count.

    Returns
    -------
    pandas.DataFrame, shape (n_frames, n_regressors)
    """
    from nilearn.glm.first_level import make_first_level_design_matrix

    from .design import frame_times

    check_events(events)
    times = frame_times(len(events)) if times is None else np.asarray(times, float)
    return make_first_level_design_matrix(times, events[["onset", "duration", "trial_type"]],
                                          hrf_model=hrf_model, drift_model="cosine",
                                          high_pass=high_pass)


def _residualize(y, basis):
    """y minus its least-squares projection on basis (columns)."""
    if basis.shape[1] == 0:
        return y
    return y - basis @ _solve(basis, y)


def _noise_components(data, drifts, pool, max_pcs):
    """Per run, the first max_pcs temporal PCs of the noise pool (drift removed)."""
    comps = []
    for y, d in zip(data, drifts):
        if max_pcs == 0 or pool.sum() == 0:
            comps.append(np.zeros((len(y), 0)))
            continue
        r = _residualize(y[:, pool].astype(np.float64), d)
        u, s, _ = np.linalg.svd(r, full_matrices=False)
        comps.append(u[:, :max_pcs])
    return comps


def _stack_design(tasks, nuis, runs):
    """Full design for the runs listed: task columns shared, nuisance block-diagonal."""
    rows = sum(len(tasks[r]) for r in runs)
    n_task = tasks[0].shape[1]
    n_nuis = sum(nuis[r].shape[1] for r in runs)
    x = np.zeros((rows, n_task + n_nuis))
    r0, c0 = 0, n_task
    for r in runs:
        n = len(tasks[r])
        x[r0:r0 + n, :n_task] = tasks[r]
        x[r0:r0 + n, c0:c0 + nuis[r].shape[1]] = nuis[r]
        r0 += n
        c0 += nuis[r].shape[1]
    return x


def crossvalidated_r2(data, tasks, nuis) -> np.ndarray:
    """Leave-one-run-out R^2 of the task model, per vertex.

    The held-out run's data and prediction are both residualized on that run's nuisance
    regressors before comparison.

    Parameters
    ----------
    data : list of numpy.ndarray, each (n_frames_r, n_vertices)
    tasks : list of numpy.ndarray, each (n_frames_r, n_conditions)
    nuis : list of numpy.ndarray, each (n_frames_r, n_nuisance_r)

    Returns
    -------
    numpy.ndarray, shape (n_vertices,)
        ``1 - SSE / SS`` pooled over held-out runs.
    """
    n_runs = len(data)
    n_task = tasks[0].shape[1]
    sse = np.zeros(data[0].shape[1])
    ss = np.zeros(data[0].shape[1])
    for test in range(n_runs):
        train = [r for r in range(n_runs) if r != test]
        x = _stack_design(tasks, nuis, train)
        y = np.vstack([data[r] for r in train]).astype(np.float64)
        coef = _solve(x, y)[:n_task]
        pred = _residualize(tasks[test] @ coef, nuis[test])
        obs = _residualize(data[test].astype(np.float64), nuis[test])
        sse += ((obs - pred) ** 2).sum(0)
        ss += (obs ** 2).sum(0)
    return 1.0 - sse / np.maximum(ss, 1e-12)


def fit_glm(data, events, times=None, *, n_pcs="auto", max_pcs: int = 10,
            hrf_model: str = "glover", high_pass: float = 1 / 128,
            n_xval_vertices: int = 1500, seed=0, progress: bool = False) -> GLMResult:
    """Single-trial betas from BOLD time series, with GLMdenoise-style noise regressors.

    Parameters
    ----------
    data : list of array_like, each shape (n_frames_r, n_vertices)
        One array per run (same vertices in the same order).
    events : list of pandas.DataFrame
        One events table per run (``onset, duration, trial_type``; onsets from the start
        of the scan, before any discarded frames).
    times : list of numpy.ndarray, optional
        Acquisition time of each kept frame, per run; default ``(9 + arange(n)) * TR``
        (the paper discards the first 18 s).
    n_pcs : int or "auto"
        Noise regressors per run; ``"auto"`` chooses by cross-validation.
    max_pcs : int
        Largest number tried by ``"auto"``.
    hrf_model, high_pass
        See :func:`run_design`.
    n_xval_vertices : int
        Vertices (seeded subset) used to choose ``n_pcs``.
    seed : int or numpy.random.Generator
    progress : bool

    Returns
    -------
    GLMResult

    Raises
    ------
    InputError
        Mismatched runs and events, different vertex counts, NaN data.
    """
    expect(isinstance(data, (list, tuple)) and len(data) >= 2, "data", type(data).__name__,
           "a list of at least 2 runs (cross-validation needs them)")
    expect(len(events) == len(data), "events", f"{len(events)} tables", f"one per run ({len(data)})")
    data = [np.asarray(d, dtype=np.float64) for d in data]
    n_v = data[0].shape[1]
    for i, d in enumerate(data):
        expect(d.ndim == 2 and d.shape[1] == n_v, f"data[{i}].shape", d.shape,
               f"(n_frames, {n_v})")
        if not np.isfinite(d).all():
            raise InputError(f"data[{i}]: NaN/inf values: expected finite time series "
                             "(drop vertices without data before the GLM)")
    if times is None:
        times = [(np.ceil(18.0 / TR) + np.arange(len(d))) * TR for d in data]
    conditions = condition_names(events)
    designs = [run_design(ev, t, conditions, hrf_model, high_pass) for ev, t in zip(events, times)]
    tasks = [t for t, _ in designs]
    drifts = [d for _, d in designs]
    rng = np.random.default_rng(seed)
    sub = np.sort(rng.choice(n_v, min(n_v, n_xval_vertices), replace=False))

    r2_0 = crossvalidated_r2([d[:, sub] for d in data], tasks, drifts)
    # noise pool: vertices that do not respond to the images at all (collapsed model)
    is_blank = np.array([c == BLANK for c in conditions])
    collapsed = [np.column_stack([t[:, ~is_blank].sum(1), t[:, is_blank].sum(1)]) for t in tasks]
    r2_any = crossvalidated_r2(data, collapsed, drifts)
    pool = r2_any < 0
    if pool.sum() < max(1, int(0.05 * n_v)):
        pool = r2_any <= np.quantile(r2_any, 0.05)
    good = r2_0 > 0
    if good.sum() == 0:
        good = np.ones_like(r2_0, dtype=bool)
    candidates = list(range(0, max_pcs + 1)) if n_pcs == "auto" else [int(n_pcs)]
    if n_pcs != "auto":
        check_positive_int(n_pcs, "n_pcs", minimum=0)
    comps = _noise_components(data, drifts, pool, max(candidates))
    medians = []
    for k in tqdm(candidates, desc="GLMdenoise PCs", disable=not progress or len(candidates) == 1):
        nuis = [np.hstack([d, c[:, :k]]) for d, c in zip(drifts, comps)]
        if len(candidates) == 1:
            medians.append(np.nan)
            break
        r2 = crossvalidated_r2([d[:, sub] for d in data], tasks, nuis)
        medians.append(float(np.median(r2[good])))
    chosen = candidates[int(np.nanargmax(medians))] if len(candidates) > 1 else candidates[0]
    nuis = [np.hstack([d, c[:, :chosen]]) for d, c in zip(drifts, comps)]
    x = _stack_design(tasks, nuis, list(range(len(data))))
    coef = _solve(x, np.vstack(data))[:len(conditions)]
    r2_final = crossvalidated_r2(data, tasks, nuis)
    betas = pd.DataFrame(coef, index=conditions)
    table = pd.DataFrame({"n_pcs": candidates[:len(medians)], "median_xval_r2": medians})
    params = {"hrf_model": hrf_model, "high_pass": high_pass, "max_pcs": max_pcs,
              "n_pcs_option": n_pcs, "n_noise_pool": int(pool.sum()),
              "n_xval_vertices": len(sub)}
    return GLMResult(betas, chosen, table, pool, r2_final, params)
