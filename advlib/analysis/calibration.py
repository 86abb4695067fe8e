"""Calibration of every test behind the book's verdicts: false positives and power.

Each test family of the book is run on data simulated under an **exact null** of its own
design (nothing but noise relates what the test compares; the design's structure, such as
a session offset shared by an image and its AN/AI twins, is kept), and under a planted
effect. The share of draws with ``p < alpha`` is the false-positive rate (null) or the
power (effect), with its binomial Monte Carlo standard error ``sqrt(r (1 - r) / n)``.

Families (:data:`FAMILIES`; the function each one calls is the one the book calls):

``cnn_permutation``
    RE-AN / RE-AI similarity against shuffled image labels
    (:func:`advlib.analysis.stats.permutation_test`). Null: independent patterns.
``brain_permutation``
    The same within sessions, on data whose images share a session offset with their
    twins (the paper's design). Null: nothing but the session relates RE and AN.
``brain_permutation_published``
    The same data, labels shuffled across sessions as published: **not** a valid test
    (the session offset alone makes it reject); shown, not asserted.
``re_ai_vs_re_an``
    RE-AI vs RE-AN, the paired swap test (:func:`advlib.analysis.stats.swap_test`). Null:
    each image's AN and AI patterns exchangeable.
``re_ai_vs_re_an_published``
    The paper's image bootstrap of the difference, as a test: far too conservative;
    shown, not asserted.
``re_ai_vs_re_an_unequal`` and ``re_ai_vs_re_an_unequal_published``
    The swap test's weak point: AN noisier than AI (sd 2 vs 0.5) and a session offset
    shared by an image and its twins, no signal shared with RE. The less noisy kind carries
    the session structure more clearly, so RE-AI does exceed RE-AN, by the session alone.
    Centred within session with partial similarities (the default analysis) the swap test
    rejects at its level (asserted); on raw betas with plain similarities (as published)
    far above it (shown).
``encoding_transfer``
    Encoding transfer (:func:`advlib.analysis.encoding_study.transfer_statistics`,
    ``p_perm``). Null: predictions unrelated to the measured responses.
``encoding_ai_vs_an``
    Its AI vs AN swap test (``p_diff``). Null: AI and AN transfer alike.
``encoding_ai_vs_an_published``
    The paper's 80%-vertex bootstrap of the difference, unscaled: far too liberal;
    shown, not asserted.
``fig_s1``
    Fig S1 low vs high layers over subjects
    (:func:`advlib.analysis.encoding_study.layer_assignment_tests`). Null: no layer
    preference; presentations and ROIs of a subject share its fit.
``fig_s1_pooled``
    The paper's pooling of presentations (and ROIs) as independent pairs: not valid;
    shown, not asserted.
``searchlight``
    The searchlight ROI test (:func:`advlib.analysis.brain_analysis.searchlight_roi_tests`).
    Null: AN and AI exchangeable.

:func:`interval_coverage` measures the coverage of the Fig 3 intervals (image or vertex
resampling) when vertices come in clusters of near-copies, as 3 mm disks on a 1 mm mesh
select them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from joblib import delayed
from scipy import stats
from tqdm.auto import tqdm

from ..errors import check_choice, check_positive_int, check_probability, expect
from ..fmri.data import ROIS
from ..fmri.normalize import normalize_betas
from ..layout import CALIBRATION_TABLE, COVERAGE_TABLE
from ..pool import worker_pool
from .brain_analysis import searchlight_roi_tests, vertex_bootstrap, vertex_interval
from .encoding_study import layer_assignment_tests, layer_table, transfer_statistics
from .rsa import compare_rdms, compute_rdm
from .stats import (
    bootstrap_p,
    bootstrap_similarities,
    centred_interval,
    permutation_test,
    rng_from,
    swap_test,
)

__all__ = ["FAMILIES", "VALID_FAMILIES", "CALIBRATION_COLUMNS", "rejection_rate",
           "calibration_table", "interval_coverage", "calibration_study", "calibration_numbers"]


def _latent(rng, n: int, units: int, dim: int = 6) -> np.ndarray:
    """Image patterns driven by a few latent features: (n, units), unit variance."""
    return rng.normal(size=(n, dim)) @ rng.normal(size=(dim, units)) / np.sqrt(dim)


def _rdm_pair(rng, n, units, effect, offset=None):
    """RE and a second kind's patterns; the second shares ``effect`` of RE's signal."""
    signal = _latent(rng, n, units)
    re = signal + rng.normal(size=(n, units))
    other = effect * signal + rng.normal(size=(n, units))
    if offset is not None:
        re, other = re + offset, other + offset
    return re, other


def _sessions(n: int) -> np.ndarray:
    return np.arange(n) % 2


def _session_offset(rng, n, units, size=1.5):
    """Per session, one offset pattern added to every image of that session."""
    per = size * rng.normal(size=(2, units))
    return per[_sessions(n)]


def _cnn_permutation(rng, effect, n_images, n_units, n_resamples):
    re, other = _rdm_pair(rng, n_images, n_units, effect)
    return permutation_test(compute_rdm(re), compute_rdm(other), n_perm=n_resamples,
                            seed=rng).p


def _brain_permutation(rng, effect, n_images, n_units, n_resamples, within=True):
    offset = _session_offset(rng, n_images, n_units)
    re, other = _rdm_pair(rng, n_images, n_units, effect, offset)
    sessions = _sessions(n_images) if within else None      # the default analysis: both
    return permutation_test(compute_rdm(re), compute_rdm(other), n_perm=n_resamples, seed=rng,
                            blocks=sessions, sessions=sessions).p


def _brain_published(rng, effect, n_images, n_units, n_resamples):
    return _brain_permutation(rng, effect, n_images, n_units, n_resamples, within=False)


def _re_ai_vs_re_an(rng, effect, n_images, n_units, n_resamples):
    signal = _latent(rng, n_images, n_units)
    re = signal + rng.normal(size=signal.shape)
    ai = (0.6 + effect) * signal + rng.normal(size=signal.shape)
    an = 0.6 * signal + rng.normal(size=signal.shape)
    return swap_test(compute_rdm(re), compute_rdm(np.vstack([ai, an])), n_perm=n_resamples,
                     seed=rng).p


def _re_ai_vs_re_an_unequal(rng, effect, n_images, n_units, n_resamples, centre=True):
    """The swap test where AN is noisier than AI (sd 2 vs 0.5) and a session offset (1.5) is
    shared by an image and its twins; no signal shared with RE. The less noisy kind carries the
    session structure more clearly, so on raw betas RE-AI > RE-AN by the session alone (as
    published); centring within session and partial similarities given the same-session
    pairs (the default analysis) remove it."""
    offset = _session_offset(rng, n_images, n_units)
    re = offset + _latent(rng, n_images, n_units) + rng.normal(size=offset.shape)
    ai = offset + 0.5 * rng.normal(size=offset.shape) + effect * re
    an = offset + 2.0 * rng.normal(size=offset.shape)
    patterns = np.vstack([re, ai, an])
    if centre:                  # per unit, within session over all conditions (as the default)
        conditions = pd.DataFrame({"kind": np.repeat(["RE", "AI", "AN"], n_images),
                                   "session": np.tile(_sessions(n_images), 3)})
        patterns = normalize_betas(patterns, conditions, "center")
    re, ai, an = np.split(patterns, 3)
    return swap_test(compute_rdm(re), compute_rdm(np.vstack([ai, an])), n_perm=n_resamples,
                     seed=rng, sessions=_sessions(n_images) if centre else None).p


def _re_ai_vs_re_an_unequal_published(rng, effect, n_images, n_units, n_resamples):
    return _re_ai_vs_re_an_unequal(rng, effect, n_images, n_units, n_resamples, centre=False)


def _transfer(rng, effect, n_images, n_units):
    """Predicted and measured test responses; AI transfers with ``0.5 + effect``."""
    truth = {k: rng.normal(size=(n_images, n_units)) for k in ("AI", "AN")}
    pred = {k: truth[k] + rng.normal(size=truth[k].shape) for k in truth}
    gain = {"AI": 0.5 + effect, "AN": 0.5}
    meas = {k: gain[k] * truth[k] + rng.normal(size=truth[k].shape) for k in truth}
    return pred, meas


def _re_ai_vs_re_an_published(rng, effect, n_images, n_units, n_resamples):
    """The paper's test: image bootstrap of RE-AI minus RE-AN."""
    signal = _latent(rng, n_images, n_units)
    re = signal + rng.normal(size=signal.shape)
    ai = (0.6 + effect) * signal + rng.normal(size=signal.shape)
    an = 0.6 * signal + rng.normal(size=signal.shape)
    boot = bootstrap_similarities(compute_rdm(re), {"AI": compute_rdm(ai), "AN": compute_rdm(an)},
                                  n_boot=n_resamples, seed=rng)
    return boot.p_difference("AI", "AN")


def _encoding_ai_vs_an_published(rng, effect, n_images, n_units, n_resamples):
    """The paper's comparison: the same 80% vertex subsamples for AI and AN, unscaled."""
    pred, meas = _transfer(rng, effect, n_images, n_units)
    size = int(round(0.8 * n_units))
    reps = {k: [] for k in pred}
    for _ in range(n_resamples):
        cols = rng.choice(n_units, size, replace=False)
        for k in pred:
            reps[k].append(_pattern_r(pred[k][:, cols], meas[k][:, cols]))
    return bootstrap_p(np.array(reps["AI"]) - np.array(reps["AN"]))


def _pattern_r(p, m):
    p, m = p - p.mean(0), m - m.mean(0)
    return float((p * m).sum() / np.sqrt((p ** 2).sum() * (m ** 2).sum()))


def _encoding_transfer(rng, effect, n_images, n_units, n_resamples):
    truth = rng.normal(size=(n_images, n_units))
    pred = {"AN": truth + rng.normal(size=truth.shape)}
    meas = {"AN": effect * truth + rng.normal(size=truth.shape)}
    return float(transfer_statistics(pred, meas, n_perm=n_resamples, n_boot=20, seed=rng)
                 .p_perm.iloc[0])


def _encoding_ai_vs_an(rng, effect, n_images, n_units, n_resamples):
    pred, meas = _transfer(rng, effect, n_images, n_units)
    return float(transfer_statistics(pred, meas, n_perm=20, n_boot=20, n_swap=n_resamples,
                                     seed=rng).p_diff.iloc[0])


def _assignment(rng, effect, n_subjects=3, layers=8):
    """Layer shares per subject x presentation x ROI; a subject's share is shared by its
    presentations and ROIs (one fit), which then add their own noise."""
    cells, shares, accs = [], [], []
    for s in range(n_subjects):
        base = rng.dirichlet(np.full(layers, 4.0))
        base[:2] += effect / 2
        base[-2:] = np.maximum(base[-2:] - effect / 2, 0)
        base /= base.sum()
        for p in (1, 2):
            for roi in ROIS:
                share = rng.dirichlet(200 * base)
                shares.append(share)
                accs.append(share + 0.02 * rng.normal(size=layers))  # accuracy follows share
                cells.append((f"sub-{s:02d}", p, roi))
    subject, presentation, roi = (np.repeat(np.array(c, dtype=object), layers)
                                  for c in zip(*cells))
    return pd.DataFrame({"subject": subject, "presentation": presentation.astype(np.int64),
                         "test_kind": "AI", "roi": roi,
                         "layer": np.tile([f"layer{k + 1}" for k in range(layers)], len(cells)),
                         "proportion": np.concatenate(shares), "n_vertices": 200,
                         "mean_r": np.concatenate(accs)})


def _fig_s1(rng, effect, n_images, n_units, n_resamples):
    tests = layer_assignment_tests(_assignment(rng, effect))
    return float(tests[tests.test.str.startswith("layers")].p.iloc[0])


def _fig_s1_pooled(rng, effect, n_images, n_units, n_resamples):
    piv = layer_table(_assignment(rng, effect), "proportion")
    return float(stats.ttest_rel(piv[["layer1", "layer2"]].sum(axis=1),
                                 piv[["layer7", "layer8"]].sum(axis=1)).pvalue)


def _searchlight(rng, effect, n_images, n_units, n_resamples):
    from scipy import sparse

    side = int(np.ceil(np.sqrt(n_units)))
    n_v = side * side
    xy = np.stack(np.meshgrid(np.arange(side), np.arange(side)), -1).reshape(-1, 2)
    near = np.abs(xy[:, None, :] - xy[None, :, :]).max(-1) <= 1
    disks = sparse.csr_matrix(near.astype(float))
    signal = _latent(rng, n_images, n_v)
    pats = {"RE": signal + rng.normal(size=signal.shape),
            "AI": (0.6 + effect) * signal + rng.normal(size=signal.shape),
            "AN": 0.6 * signal + rng.normal(size=signal.shape)}
    out = searchlight_roi_tests(pats, disks, np.full(n_v, ROIS[0]), n_perm=n_resamples,
                                max_centres=n_v, seed=rng)
    return out[ROIS[0]]["p_sl_diff"]


#: family -> (draw function, test, null hypothesis, planted effect's meaning)
FAMILIES = {
    "cnn_permutation": (_cnn_permutation, "permutation of image labels (one-sided)",
                        "independent RE and AN patterns", "AN shares this much RE signal"),
    "brain_permutation": (_brain_permutation, "permutation within sessions (one-sided)",
                          "only a session offset shared by an image and its twins",
                          "AN shares this much RE signal"),
    "brain_permutation_published": (_brain_published,
                                    "permutation across sessions (as published)",
                                    "only a session offset shared by an image and its twins",
                                    "AN shares this much RE signal"),
    "re_ai_vs_re_an": (_re_ai_vs_re_an, "swap of each image's AN and AI (two-sided)",
                       "AN and AI exchangeable", "AI has this much more RE signal"),
    "re_ai_vs_re_an_published": (_re_ai_vs_re_an_published,
                                 "image bootstrap of the difference (as published)",
                                 "AN and AI exchangeable", "AI has this much more RE signal"),
    "re_ai_vs_re_an_unequal": (_re_ai_vs_re_an_unequal,
                               "swap test, AN noisier than AI, session-centred, partial "
                               "similarities (default)",
                               "no signal; a session offset shared by an image and its twins",
                               "AI shares this much RE signal"),
    "re_ai_vs_re_an_unequal_published": (_re_ai_vs_re_an_unequal_published,
                                         "swap test, AN noisier than AI, raw betas (as "
                                         "published)", "no signal; a session offset shared "
                                         "by an image and its twins",
                                         "AI shares this much RE signal"),
    "encoding_transfer": (_encoding_transfer, "permutation of test images (one-sided)",
                          "predictions unrelated to responses", "gain of the true response"),
    "encoding_ai_vs_an": (_encoding_ai_vs_an, "swap of each image's AI and AN (two-sided)",
                          "AI and AN transfer alike", "AI's extra gain"),
    "encoding_ai_vs_an_published": (_encoding_ai_vs_an_published,
                                    "80%-vertex bootstrap of the difference, unscaled (as "
                                    "published)", "AI and AN transfer alike", "AI's extra gain"),
    "fig_s1": (_fig_s1, "paired t-test over 3 subjects (two-sided)",
               "no layer preference", "share moved from layers 7-8 to 1-2"),
    "fig_s1_pooled": (_fig_s1_pooled, "paired t-test over 30 subject x presentation x ROI "
                      "values (as published)", "no layer preference",
                      "share moved from layers 7-8 to 1-2"),
    "searchlight": (_searchlight, "swap test of the ROI-mean searchlight difference",
                    "AN and AI exchangeable", "AI has this much more RE signal"),
}
#: The families whose false-positive rate must be at its level (the others are shown as
#: what the published pipeline would do).
VALID_FAMILIES = tuple(f for f in FAMILIES if not f.endswith("published") and
                       not f.endswith("pooled"))
#: Planted effect per family for the power column.
_EFFECTS = {"cnn_permutation": 0.5, "brain_permutation": 0.5,
            "brain_permutation_published": 0.5, "re_ai_vs_re_an": 0.6,
            "re_ai_vs_re_an_published": 0.6, "re_ai_vs_re_an_unequal": 0.3,
            "re_ai_vs_re_an_unequal_published": 0.3, "encoding_transfer": 0.3,
            "encoding_ai_vs_an": 0.4, "encoding_ai_vs_an_published": 0.4, "fig_s1": 0.1,
            "fig_s1_pooled": 0.1, "searchlight": 0.6}
#: Resamples per test where the default (199) is slow to simulate many times.
_RESAMPLES = {"searchlight": 99}
CALIBRATION_COLUMNS = ["family", "test", "null", "n_draws", "alpha", "false_positive_rate",
                       "false_positive_se", "effect", "effect_meaning", "power", "power_se"]


def rejection_rate(family: str, effect: float = 0.0, n_draws: int = 200, alpha: float = 0.05,
                   seed=0, n_images: int = 12, n_units: int = 30,
                   n_resamples: int = 199) -> tuple[float, float, np.ndarray]:
    """Share of simulated datasets in which a test family rejects at ``alpha``.

    Parameters
    ----------
    family : str
        A key of :data:`FAMILIES`.
    effect : float
        0 for the exact null; else the planted effect (see :data:`FAMILIES`).
    n_draws : int
        Simulated datasets.
    alpha : float
    seed : int or numpy.random.Generator
    n_images, n_units : int
        Size of each simulated dataset (images; vertices or units).
    n_resamples : int
        Permutations or swap sets per test.

    Returns
    -------
    rate : float
    se : float
        Monte Carlo standard error ``sqrt(rate (1 - rate) / n_draws)``.
    p : numpy.ndarray, shape (n_draws,)
        The p-values.
    """
    check_choice(family, "family", tuple(FAMILIES))
    check_positive_int(n_draws, "n_draws")
    check_probability(alpha, "alpha", low_open=True, high_open=True)
    rng = rng_from(seed)
    draw = FAMILIES[family][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p = np.array([draw(rng, effect, n_images, n_units, n_resamples) for _ in range(n_draws)])
    rate = float(np.mean(p < alpha))
    return rate, float(np.sqrt(rate * (1 - rate) / n_draws)), p


def calibration_table(families=None, n_draws: int = 400, alpha: float = 0.05, seed: int = 0,
                      progress: bool = True, jobs: int = 1, **size) -> pd.DataFrame:
    """False-positive rate under the exact null and power under a planted effect, per family.

    Parameters
    ----------
    families : sequence of str, optional
        Default: all of :data:`FAMILIES`.
    n_draws : int
        Simulated datasets per rate (the Monte Carlo SE of a 5% rate is about 1.1 points
        at 400).
    alpha : float
    seed : int
    progress : bool
    jobs : int
        Rates computed in parallel (joblib processes; each rate draws from its own seed, so
        the numbers do not depend on it).
    **size
        ``n_images``, ``n_units``, ``n_resamples`` (see :func:`rejection_rate`).

    Returns
    -------
    pandas.DataFrame
        :data:`CALIBRATION_COLUMNS`, one row per family.
    """
    check_positive_int(jobs, "jobs")
    names = list(FAMILIES if families is None else families)
    seeds = np.random.SeedSequence(seed).spawn(2 * len(names))
    tasks = [(name, effect, seeds[2 * i + k], {"n_resamples": _RESAMPLES.get(name, 199), **size})
             for i, name in enumerate(names) for k, effect in enumerate((0.0, _EFFECTS[name]))]
    work = worker_pool(jobs, return_as="generator")(
        delayed(_seeded_rate)(name, effect, n_draws, alpha, ss, opts)
        for name, effect, ss, opts in tasks)
    rates = list(tqdm(work, total=len(tasks), desc="calibration", disable=not progress))
    rows = []
    for i, name in enumerate(names):
        _, test, null, meaning = FAMILIES[name]
        (fpr, fpr_se, _), (power, power_se, _) = rates[2 * i], rates[2 * i + 1]
        rows.append({"family": name, "test": test, "null": null, "n_draws": n_draws,
                     "alpha": alpha, "false_positive_rate": fpr, "false_positive_se": fpr_se,
                     "effect": _EFFECTS[name], "effect_meaning": meaning, "power": power,
                     "power_se": power_se})
    return pd.DataFrame(rows, columns=CALIBRATION_COLUMNS)


def _seeded_rate(name, effect, n_draws, alpha, seed_sequence, opts):
    """:func:`rejection_rate` from a seed sequence (a unit of parallel work)."""
    return rejection_rate(name, effect, n_draws, alpha, np.random.default_rng(seed_sequence),
                          **opts)


def _clustered(rng, signal, gain, n_clusters, cluster_size):
    """Patterns whose vertices share most of their noise within clusters of near-copies."""
    shared = rng.normal(size=(signal.shape[0], n_clusters)).repeat(cluster_size, 1)
    return gain * signal + 0.9 * shared + 0.3 * rng.normal(size=signal.shape)


def interval_coverage(method: str = "images", n_draws: int = 200, level: float = 0.68,
                      n_images: int = 17, n_clusters: int = 40, cluster_size: int = 5,
                      n_boot: int = 300, seed: int = 0) -> dict:
    """Coverage of the Fig 3 RE-AI interval when vertices come in clusters of near-copies.

    Each draw: new images (latent features), ``n_clusters`` clusters of ``cluster_size``
    vertices that share their tuning and most of their noise (as vertices of one 3 mm disk
    on a 1 mm mesh do), RE, AN and AI patterns; the RE-AI similarity and its interval. The
    target is the mean of the estimate over draws (its expectation under the design).

    Parameters
    ----------
    method : {"images", "subsample", "replacement"}
        Image bootstrap (the book's default) or vertex resampling.
    n_draws, n_images, n_clusters, cluster_size, n_boot : int
    level : float
    seed : int

    Returns
    -------
    dict
        ``coverage``, ``coverage_se``, ``mean_width``, ``estimate_sd`` (the spread the
        interval should reflect), ``contains_estimate`` (share of intervals holding their
        own estimate: must be 1).
    """
    check_choice(method, "method", ("images", "subsample", "replacement"))
    rng = rng_from(seed)
    tuning = rng.normal(size=(6, n_clusters))
    estimates, intervals = [], []
    for _ in range(n_draws):
        signal = (rng.normal(size=(n_images, 6)) @ tuning / np.sqrt(6)).repeat(cluster_size, 1)

        pats = {k: _clustered(rng, signal, gain, n_clusters, cluster_size)
                for k, gain in (("RE", 1.0), ("AN", 0.2), ("AI", 0.7))}
        rdm = {k: compute_rdm(v) for k, v in pats.items()}
        est = compare_rdms(rdm["RE"], rdm["AI"])
        if method == "images":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                reps = bootstrap_similarities(rdm["RE"], {"AI": rdm["AI"]}, n_boot=n_boot,
                                              seed=rng).samples["AI"]
            lo, hi = centred_interval(est, reps, level)
        else:
            reps = vertex_bootstrap(pats, n_boot=n_boot, seed=rng, scheme=method)["AI"]
            lo, hi = vertex_interval(est, reps, level, method)
        estimates.append(est)
        intervals.append((lo, hi))
    est = np.array(estimates)
    iv = np.array(intervals)
    target = est.mean()
    hit = (iv[:, 0] <= target) & (target <= iv[:, 1])
    cov = float(hit.mean())
    return {"coverage": cov, "coverage_se": float(np.sqrt(cov * (1 - cov) / n_draws)),
            "mean_width": float((iv[:, 1] - iv[:, 0]).mean()), "estimate_sd": float(est.std()),
            "contains_estimate": float(((iv[:, 0] <= est) & (est <= iv[:, 1])).mean())}


def calibration_study(out_dir, n_draws: int = 400, alpha: float = 0.05, seed: int = 0,
                      coverage_draws: int = 200, reuse: bool = True, progress: bool = True,
                      jobs: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`calibration_table` and :func:`interval_coverage`, as a cached stage.

    Parameters
    ----------
    out_dir : path
        Receives ``calibration.csv``, ``coverage.csv`` and ``calibration_provenance.json``
        (:attr:`advlib.layout.Layout.calibration_dir`).
    n_draws, alpha, seed
        As in :func:`calibration_table`.
    coverage_draws : int
        Draws per interval method.
    reuse : bool
        Read the tables back when the stage is up to date (same parameters and code).
    progress : bool
    jobs : int
        Rates and coverage checks computed in parallel (the numbers do not depend on it).

    Returns
    -------
    calibration : pandas.DataFrame
        :data:`CALIBRATION_COLUMNS`.
    coverage : pandas.DataFrame
        ``method, level, coverage, coverage_se, mean_width, estimate_sd, contains_estimate``.
    """
    from pathlib import Path

    from ..provenance import Stage

    params = {"n_draws": check_positive_int(n_draws, "n_draws"), "alpha": alpha, "seed": seed,
              "coverage_draws": check_positive_int(coverage_draws, "coverage_draws")}
    stage = Stage("calibration", Path(out_dir), [CALIBRATION_TABLE, COVERAGE_TABLE], params,
                  code=["advlib.analysis.calibration"])
    if reuse and stage.up_to_date():
        return tuple(pd.read_csv(p) for p in stage.output_paths())
    table = calibration_table(n_draws=n_draws, alpha=alpha, seed=seed, progress=progress,
                              jobs=jobs)
    methods = ("images", "subsample", "replacement")
    found = worker_pool(jobs)(delayed(interval_coverage)(m, n_draws=coverage_draws,
                                                         seed=seed) for m in methods)
    coverage = pd.DataFrame([{"method": m, "level": 0.68, **f} for m, f in zip(methods, found)])

    def write(tmp):
        table.to_csv(tmp / CALIBRATION_TABLE, index=False)
        coverage.to_csv(tmp / COVERAGE_TABLE, index=False)

    stage.run(write)
    return table, coverage


def calibration_numbers(table: pd.DataFrame, coverage: pd.DataFrame) -> dict[str, str]:
    """The calibration study's findings as short texts for the prose (myst-nb glue).

    Returns
    -------
    dict of str to str
        ``cal_fpr_<family>`` ("4.8% (SE 1.1)"), ``cal_power_<family>``, ``cal_draws`` and
        ``cov_<method>`` ("79% (SE 3)") for the interval methods.
    """
    expect(len(table) > 0, "table", "an empty table", "rows from calibration_table")
    pct = lambda r, se: f"{100 * r:.1f}% (SE {100 * se:.1f})"   # noqa: E731
    out = {"cal_draws": str(int(table.n_draws.iloc[0]))}
    for row in table.itertuples():
        out[f"cal_fpr_{row.family}"] = pct(row.false_positive_rate, row.false_positive_se)
        out[f"cal_power_{row.family}"] = pct(row.power, row.power_se)
    for row in coverage.itertuples():
        out[f"cov_{row.method}"] = f"{100 * row.coverage:.0f}% (SE {100 * row.coverage_se:.0f})"
    return out
