"""Brain representational similarity (paper Fig 3, Fig 4, Fig S2).

Per subject and ROI (the selected vertices of both hemispheres together), RDMs of the RE,
AN and AI images are computed from the betas, **averaging each image's two presentations**
(the selection used their consistency; the analysis uses their mean, which halves the
noise variance), and RE-AN and RE-AI Spearman similarities are tested:

* permutation test against shuffled image labels (``n_perm``, one-sided; within sessions
  by default), as in the paper; the null's mean and SD are kept for power
  (:func:`advlib.analysis.stats.normal_power`);
* RE-AI vs RE-AN (``p_diff``): the paired swap test
  (:func:`advlib.analysis.stats.swap_test`, ``n_swap`` swap sets, two-sided), which is exact
  where the paper's image bootstrap is far too conservative;
* confidence intervals (68% for Fig 3): by default from resampling the **images** (the
  sampling unit the claims generalise over), centred on the estimate. Resampling the ROI's
  vertices (the paper's caption) assumes independent vertices; vertices selected by 3 mm
  disks on a ~1 mm mesh are clustered, and with clusters of 5 near-copies a 68% vertex
  interval covered 37% of the time (image interval: 79%; ``tests/test_calibration.py``).
  ``interval="subsample"`` or ``"replacement"`` gives the vertex intervals.

The noise ceiling of an ROI is the split-half reliability (presentation 1 vs 2, Spearman)
of its RE RDM, Spearman-Brown corrected to the two-presentation average, measured on
**images the selection did not see**: vertices are selected on the RE images of one
session and the reliability is measured on those of the other, then the other way round
(:func:`noise_ceilings`). Measured on the selecting images it is inflated by the selection
itself (+0.12 on pure noise).

The searchlight (Fig 4) computes the same two similarities in the 3 mm geodesic disk of
every vertex, with permutation p-values per vertex and, because a map is many tests,
max-statistic (family-wise) p-values; per ROI, the mean RE-AI - RE-AN over (at most
``searchlight_centres``) searchlight centres is tested by the same swap test.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import delayed
from tqdm.auto import tqdm

from ..cnn.stimulus_set import (
    check_stage_images,
    load_manifest,
    re_image_ids,
    stimulus_files,
    usable_sources,
)
from ..errors import check_choice, check_fits, check_positive_int, check_probability, expect
from ..fmri.data import (
    ROIS,
    SESSION,
    DataError,
    Subject,
    check_pairing,
    choose_subjects,
    image_sessions,
    load_dataset_info,
    load_subject,
    subject_files,
)
from ..fmri.normalize import NORMALIZATIONS, normalize_subject
from ..fmri.searchlight import (
    geodesic_disks,
    reliability_map,
    searchlight_rdms,
    select_vertices,
    split_half_reliability,
    vertex_coordinates,
)
from ..fmri.selection import check_vertex_count, select_subject
from ..kernels import (
    correlation_rdm_vectors,
    group_centre,
    rank_rows,
    rowwise_spearman,
    session_pair_groups,
    spearman,
    triu_pairs,
)
from ..layout import (
    analysis_variant,
    brain_rsa_name,
    searchlight_map,
    searchlight_name,
    searchlight_vertices,
)
from ..pool import worker_pool
from ..provenance import Stage
from .rsa import MIN_RSA_IMAGES, MIN_RSA_WHY, compute_rdm
from .stats import (
    bootstrap_similarities,
    centred_interval,
    permutation_indices,
    permutation_test,
    rng_from,
    swap_indices,
    swap_test,
)

__all__ = ["BRAIN_RSA_COLUMNS", "DIAGNOSTIC_COLUMNS", "STAT_COLUMNS", "MIN_ROI_VERTICES",
           "read_table", "session_diagnostics", "kind_patterns", "kind_rows", "source_sessions",
           "partial_similarities", "swappable_sources", "load_searchlight_maps",
           "vertex_bootstrap", "vertex_interval",
           "VERTEX_SCHEMES", "INTERVALS", "image_halves", "noise_ceilings", "roi_rsa",
           "searchlight_rsa", "searchlight_roi_tests", "brain_rsa", "load_brain_results",
           "above_ceiling"]

BRAIN_RSA_COLUMNS = ["subject", "roi", "n_vertices", "re_an", "re_ai", "re_an_ci_low",
                     "re_an_ci_high", "re_ai_ci_low", "re_ai_ci_high", "p_perm_re_an",
                     "p_perm_re_ai", "p_diff", "noise_ceiling"]
#: Session diagnostics added to every row: RE-AN and RE-AI over within-session image pairs
#: only, and the Spearman correlation of each RDM with the session RDM (0 for two images
#: of one session, 1 otherwise; NaN with one session). Then the analysis variant.
DIAGNOSTIC_COLUMNS = ["re_an_within", "re_ai_within", "session_r_re", "session_r_an",
                      "session_r_ai", "normalize", "permutation", "excluded"]
#: What the claims need beside the estimates: the permutation nulls' mean and SD (power),
#: the resamples behind each p (its floor), the interval's resampling, and the ROI's
#: searchlight test (mean RE-AI - RE-AN over its centres, swap-test p, centres used).
STAT_COLUMNS = ["null_mean_re_an", "null_sd_re_an", "null_mean_re_ai", "null_sd_re_ai",
                "n_perm", "n_swap", "interval", "sl_diff", "p_sl_diff", "sl_n_centres"]

#: Fewest selected vertices an ROI needs for its RDMs (correlations over vertices); an ROI
#: with fewer is kept in the table with its statistics empty and the reason in ``excluded``.
MIN_ROI_VERTICES = 10


def kind_patterns(subject: Subject, manifest: pd.DataFrame, sources=None,
                  presentation: int | None = None, rows: dict | None = None) -> dict:
    """Presentation-averaged betas of the RE, AN and AI images, rows aligned by source.

    Parameters
    ----------
    subject : Subject
    manifest : pandas.DataFrame
        Stimulus manifest (``image_id, kind, source_id``).
    sources : sequence of str, optional
        Regular images to use (default: all in the manifest), in row order.
    presentation : {None, 1, 2}
        ``None`` averages the two presentations; 1 or 2 takes that one only.
    rows : dict, optional
        From :func:`kind_rows` for this subject's conditions (default: looked up here).

    Returns
    -------
    dict of str to numpy.ndarray, each shape (n_images, n_vertices)

    Raises
    ------
    DataError
        The subject lacks a kind (e.g. no AN conditions) or an image's presentations.
    """
    expect(presentation in (None, 1, 2), "presentation", presentation, "None, 1 or 2")
    rows = kind_rows(subject, manifest, sources) if rows is None else rows
    values = subject.betas.to_numpy()
    expect(bool(np.isfinite(values).all()), f"subject {subject.name} betas",
           "NaN/inf values", "finite betas (load_subject drops vertices without data)", DataError)
    return {kind: ((values[r[:, 0]] + values[r[:, 1]]) / 2 if presentation is None
                   else values[r[:, presentation - 1]]) for kind, r in rows.items()}


def kind_rows(subject: Subject, manifest: pd.DataFrame, sources=None) -> dict:
    """The rows of the betas that hold each kind's images, both presentations.

    What :func:`kind_patterns` looks up; computed once, it serves every set of betas with
    the same conditions (e.g. normalized betas and their noise-free truth).

    Parameters
    ----------
    subject : Subject
    manifest : pandas.DataFrame
    sources : sequence of str, optional
        As in :func:`kind_patterns`.

    Returns
    -------
    dict of str to numpy.ndarray of int, each shape (n_images, 2)
        ``kind -> rows`` of presentations 1 and 2, rows aligned by source.

    Raises
    ------
    DataError
        The subject lacks a kind or an image's presentations.
    """
    cond = subject.conditions
    kinds = set(cond.kind)
    missing = [k for k in ("RE", "AN", "AI") if k not in kinds]
    expect(not missing, f"subject {subject.name} conditions", f"no {', '.join(missing)} images",
           "RE, AN and AI conditions (the RSA compares RE with AN and AI)", DataError)
    sources = sorted(manifest.source_id.unique()) if sources is None else list(sources)
    index = {(i, int(p)): k for k, (i, p) in enumerate(zip(cond.image_id, cond.presentation))}
    by_source = manifest.set_index(["kind", "source_id"]).image_id
    out = {}
    for kind in ("RE", "AN", "AI"):
        ids = by_source.loc[kind].loc[sources]
        rows = np.array([[index.get((image, p), -1) for p in (1, 2)] for image in ids],
                        dtype=np.int64).reshape(-1, 2)
        missing = [image for image, pair in zip(ids, rows) if (pair < 0).any()]
        expect(not missing, f"subject {subject.name} conditions", f"{missing[0] if missing else ''}",
               "both presentations of every image", DataError)
        out[kind] = rows
    return out



VERTEX_SCHEMES = ("subsample", "replacement")
#: Resampling behind the Fig 3 intervals: the images (default) or the ROI's vertices.
INTERVALS = ("images",) + VERTEX_SCHEMES


def source_sessions(subject: Subject, manifest: pd.DataFrame, sources) -> np.ndarray:
    """The session of each regular image in ``sources`` (the rows of :func:`kind_patterns`).

    Returns
    -------
    numpy.ndarray of int, shape (len(sources),)
        The session of each source's RE image; the exchangeability blocks of the
        permutation tests.
    """
    return image_sessions(subject.conditions, re_image_ids(manifest, sources))


def vertex_bootstrap(patterns: dict, n_boot: int = 1000, seed=0, chunk: int = 100,
                     scheme: str = "subsample", fraction: float = 0.8, sessions=None) -> dict:
    """RE-AN and RE-AI similarity over resampled vertices of one ROI.

    Parameters
    ----------
    patterns : dict
        ``kind -> (n_images, n_vertices)`` (from :func:`kind_patterns`, one ROI's columns).
    n_boot : int
    seed : int or numpy.random.Generator
    chunk : int
        Resamples computed together.
    scheme : {"subsample", "replacement"}
        ``subsample``: ``fraction`` of the vertices drawn without replacement (the scheme of
        the paper's encoding analysis); ``replacement``: all vertices drawn with replacement
        (duplicated vertices weigh twice in the correlation distances).
    fraction : float
        Share of vertices in a ``subsample`` draw.
    sessions : array_like, shape (n_images,), optional
        Each image's session: partial similarities given the pairs' sessions (as
        :func:`advlib.analysis.rsa.compare_rdms`).

    Returns
    -------
    dict of str to numpy.ndarray, shape (n_valid,)
        ``"AN"`` and ``"AI"`` replicates (resamples with undefined RDMs dropped).
    """
    check_positive_int(n_boot, "n_boot")
    check_choice(scheme, "scheme", VERTEX_SCHEMES)
    check_probability(fraction, "fraction", low_open=True, high_open=True, what="a share")
    rng = rng_from(seed)
    n_v = patterns["RE"].shape[1]
    check_fits("n_boot", n_boot, 24.0 * n_boot * n_v, f"{n_boot} vertex resamples of {n_v}")
    if scheme == "replacement":
        idx = rng.integers(0, n_v, size=(n_boot, n_v))
    else:
        size = max(2, int(round(fraction * n_v)))
        idx = np.sort(np.argsort(rng.random((n_boot, n_v)), 1)[:, :size], 1)
    n_img = patterns["RE"].shape[0]
    same = (None if sessions is None else
            session_pair_groups(np.asarray(sessions), *triu_pairs(n_img)))
    out = {"AN": [], "AI": []}
    for start in range(0, n_boot, chunk):
        sel = idx[start:start + chunk]
        vec = {k: correlation_rdm_vectors(patterns[k][:, sel].transpose(1, 0, 2))
               for k in ("RE", "AN", "AI")}
        for k in ("AN", "AI"):
            out[k].append(rowwise_spearman(vec["RE"], vec[k], same))
    res = {k: np.concatenate(v) for k, v in out.items()}
    ok = np.isfinite(res["AN"]) & np.isfinite(res["AI"])
    return {k: v[ok] for k, v in res.items()}


def vertex_interval(estimate: float, replicates, level: float = 0.68,
                    scheme: str = "subsample", fraction: float = 0.8) -> tuple[float, float]:
    """Confidence interval of an ROI similarity from its vertex-resampling replicates.

    :func:`advlib.analysis.stats.centred_interval` with, for ``subsample`` draws of a share
    ``f`` without replacement, the spread scaled by ``sqrt(f / (1 - f))`` (the delete-d
    jackknife's variance factor: 2 for 80%), so that it estimates the sampling spread of
    the full-ROI statistic *if vertices were independent*; 1 for ``replacement``.
    Clustered vertices make it too narrow (see the module docstring).

    Parameters
    ----------
    estimate : float
    replicates : array_like, shape (n,)
    level : float
    scheme : {"subsample", "replacement"}
    fraction : float

    Returns
    -------
    (float, float)
        Always ``low <= estimate <= high``.
    """
    check_choice(scheme, "scheme", VERTEX_SCHEMES)
    s = np.sqrt(fraction / (1 - fraction)) if scheme == "subsample" else 1.0
    return centred_interval(estimate, replicates, level, s)


def image_halves(subject: Subject, kind: str = "RE") -> tuple[list, list]:
    """The ``kind`` images in two halves: by session (2+ sessions), else alternating.

    Returns
    -------
    (list of str, list of str)
        Image ids of each half, sorted.
    """
    cond = subject.conditions[subject.conditions.kind == kind]
    if SESSION not in cond:
        cond = cond.assign(**{SESSION: 1})
    session = cond.groupby("image_id")[SESSION].first().sort_index()
    sessions = sorted(session.unique())
    if len(sessions) >= 2:
        first = session.isin(sessions[:len(sessions) // 2]).to_numpy()
    else:
        first = np.arange(len(session)) % 2 == 0
    return sorted(session.index[first]), sorted(session.index[~first])


def noise_ceilings(subject: Subject, n_per_hemi: int, radius: float = 3.0,
                   disks=None) -> dict:
    """Each ROI's RE-RDM reliability on vertices selected without the measured images.

    For each half of the RE images (:func:`image_halves`: one session each in the paper's
    design), the ``n_per_hemi`` most reliable vertices per ROI and hemisphere are selected
    on that half (the paper's statistic), and the presentation-1 vs -2 Spearman
    correlation of the *other* half's RE RDMs is measured on them; the two are averaged
    and Spearman-Brown corrected to the two-presentation average (``2 r / (1 + |r|)``: the
    usual ``2 r / (1 + r)`` for positive ``r``, mirrored for negative ``r`` so that noise
    averages to 0 rather than being pushed up by the correction). The selection never saw
    the noise it is scored on, so pure noise gives 0 in expectation; the price is a
    selection on half the images, which makes the ceiling somewhat conservative.

    Parameters
    ----------
    subject : Subject
    n_per_hemi : int
    radius : float
    disks : scipy.sparse matrix, optional
        The subject's geodesic disks (computed when not given).

    Returns
    -------
    dict of str to float
        ROI -> ceiling; NaN where a half has fewer than 4 images or an ROI too few vertices.
    """
    halves = image_halves(subject)
    out = {roi: np.nan for roi in ROIS}
    if min(len(h) for h in halves) < 4:
        return out
    if disks is None:
        disks = geodesic_disks(vertex_coordinates(subject.vertices), subject.faces,
                               radius)
    cond = subject.conditions
    found = {roi: [] for roi in ROIS}
    for chosen, scored in (halves, halves[::-1]):
        rel = reliability_map(subject.betas, cond[cond.image_id.isin(chosen)], disks)
        sel = select_vertices(subject.vertices, rel, n_per_hemi)
        for roi in ROIS:
            cols = sel[sel.roi == roi].vertex.to_numpy()
            if cols.size >= MIN_ROI_VERTICES:
                found[roi].append(split_half_reliability(
                    subject.betas, cond[cond.image_id.isin(scored)], cols))
    for roi, rs in found.items():
        if len(rs) == 2 and np.isfinite(rs).all():
            r = float(np.mean(rs))
            out[roi] = 2 * r / (1 + abs(r))
    return out


def session_diagnostics(rdms: dict, sessions) -> dict:
    """How much of the RDMs is the session: within-session similarities, RDM-session r.

    Parameters
    ----------
    rdms : dict
        ``"RE"``, ``"AN"``, ``"AI"`` -> (n, n) RDMs of one ROI.
    sessions : array_like, shape (n,)
        Session of each image.

    Returns
    -------
    dict
        ``re_an_within``, ``re_ai_within`` (Spearman over the pairs of images from one
        session), ``session_r_re``, ``session_r_an``, ``session_r_ai`` (Spearman of each
        RDM with the session RDM); NaN where undefined (e.g. one session).
    """
    s = np.asarray(sessions)
    n = s.size
    iu, ju = triu_pairs(n)
    same = s[iu] == s[ju]
    vec = {k: v[iu, ju] for k, v in rdms.items()}
    out = {}
    for k in ("AN", "AI"):
        ok = same.sum() >= 3 and np.ptp(vec["RE"][same]) > 0 and np.ptp(vec[k][same]) > 0
        out[f"re_{k.lower()}_within"] = spearman(vec["RE"][same], vec[k][same]) if ok else np.nan
    between = (~same).astype(float)
    for k in ("RE", "AN", "AI"):
        ok = 0 < same.sum() < same.size and np.ptp(vec[k]) > 0
        out[f"session_r_{k.lower()}"] = spearman(vec[k], between) if ok else np.nan
    return out


def swappable_sources(subject: Subject, manifest: pd.DataFrame, sources) -> np.ndarray:
    """Which regular images had their AN and AI versions shown in one session.

    The swap test may exchange only those (the design's exchangeability); in the paper's
    design that is every image.

    Returns
    -------
    numpy.ndarray of bool, shape (len(sources),)
    """
    kinds = manifest.set_index(["source_id", "kind"]).image_id
    sess = {k: image_sessions(subject.conditions, [kinds[(s, k)] for s in sources])
            for k in ("AN", "AI")}
    return np.asarray(sess["AN"]) == np.asarray(sess["AI"])


def partial_similarities(normalize: str, within_session: bool) -> bool:
    """Whether an analysis variant compares RDMs by partial correlation given the sessions.

    Every variant but the paper's pipeline as published (``normalize="none"``, labels
    shuffled across sessions) does: centring gives every RDM a session structure, and
    centred betas compared plainly across sessions rejected 11% of the time under the null.
    """
    return not (normalize == "none" and not within_session)


def roi_rsa(subject: Subject, patterns: dict, columns, roi: str, *, n_perm: int = 1000,
            n_boot: int = 1000, n_swap: int = 10000, seed=0, ci_level: float = 0.68,
            sessions=None, blocks=None, swappable=None, interval: str = "images",
            ceiling: float = np.nan, partial: bool | None = None,
            stop_above: float | None = None) -> dict:
    """RE-AN and RE-AI similarity of one ROI with its tests and intervals.

    Parameters
    ----------
    subject : Subject
    patterns : dict
        ``kind -> (n_images, n_vertices)`` over all vertices (from :func:`kind_patterns`).
    columns : array_like of int
        The ROI's selected vertices.
    roi : str
    n_perm : int
        Permutations of each permutation test.
    n_boot : int
        Resamples behind the intervals (0: no interval, its columns NaN).
    n_swap : int
        Swap sets of the RE-AI vs RE-AN test (10 000 reach p < 0.0001; 0: no test,
        ``p_diff`` NaN).
    seed : int or numpy.random.SeedSequence
    ci_level : float
        Interval level (0.68 in Fig 3).
    sessions : array_like, shape (n_images,), optional
        Session of each image (rows of ``patterns``): adds :func:`session_diagnostics`.
    blocks : array_like, shape (n_images,), optional
        The sessions of the session-aware analysis: the permutation tests shuffle labels
        within them, and every similarity is a partial Spearman correlation given which
        sessions a pair comes from (:func:`advlib.analysis.rsa.compare_rdms`), so the
        structure centring within session gives every RDM is not counted. ``None``: plain
        similarities, images shuffled across sessions (as published).
    swappable : array_like of bool, shape (n_images,), optional
        Images whose AN and AI may be swapped (:func:`swappable_sources`; default all).
    interval : {"images", "subsample", "replacement"}
        Resampling behind the interval: images (default) or vertices
        (:func:`vertex_bootstrap`, :func:`vertex_interval`).
    ceiling : float
        The ROI's noise ceiling (:func:`noise_ceilings`), copied into the row.
    partial : bool, optional
        Compare RDMs by partial Spearman correlation given the pairs' sessions (``sessions``
        or ``blocks`` must be given); default: when ``blocks`` is given (see
        :func:`partial_similarities`).
    stop_above : float, optional
        Stop the swap test early once its p is sure to exceed this level (the decision at
        it is unchanged; :func:`advlib.analysis.stats.swap_test`).

    Returns
    -------
    dict
        One row of :data:`BRAIN_RSA_COLUMNS` (without ``subject``) and the first columns of
        :data:`STAT_COLUMNS`, plus the session diagnostics when ``sessions`` is given.
    """
    check_choice(interval, "interval", INTERVALS)
    cols = np.asarray(columns)
    expect(cols.size >= 2, f"ROI {roi}", f"{cols.size} selected vertices",
           "at least 2 vertices for a correlation distance")
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    r_an, r_ai, r_img, r_swap = (np.random.default_rng(s) for s in ss.spawn(4))
    pat = {k: v[:, cols] for k, v in patterns.items()}
    rdm = {k: compute_rdm(v, name=f"{subject.name} {roi} {k}") for k, v in pat.items()}
    names = lambda k: (f"{subject.name} {roi} RE", f"{subject.name} {roi} {k}")  # noqa: E731
    partial = blocks is not None if partial is None else partial
    part = (blocks if blocks is not None else sessions) if partial else None
    expect(not partial or part is not None, "partial", partial,
           "sessions or blocks to partial the similarities on")
    perm = {k: permutation_test(rdm["RE"], rdm[k], n_perm=n_perm, seed=rng, names=names(k),
                                blocks=blocks, sessions=part)
            for k, rng in (("AN", r_an), ("AI", r_ai))}
    if n_swap:
        joint = compute_rdm(np.vstack([pat["AI"], pat["AN"]]),
                            name=f"{subject.name} {roi} AI+AN")
        p_diff = swap_test(rdm["RE"], joint, n_perm=n_swap, seed=r_swap, swappable=swappable,
                           names=(f"{subject.name} {roi} RE", "AI", "AN"), sessions=part,
                           stop_above=stop_above).p
    else:
        p_diff = np.nan
    if not n_boot:
        ci = {k: (np.nan, np.nan) for k in ("AN", "AI")}
    elif interval == "images":
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="bootstrap:", category=RuntimeWarning)
            reps = bootstrap_similarities(rdm["RE"], {"AN": rdm["AN"], "AI": rdm["AI"]},
                                          n_boot=n_boot, seed=r_img, sessions=part).samples
        ci = {k: centred_interval(perm[k].observed, reps[k], ci_level) for k in ("AN", "AI")}
    else:
        reps = vertex_bootstrap(pat, n_boot=n_boot, seed=r_img, scheme=interval, sessions=part)
        ci = {k: vertex_interval(perm[k].observed, reps[k], ci_level, interval)
              for k in ("AN", "AI")}
    return {"roi": roi, "n_vertices": int(cols.size), "re_an": perm["AN"].observed,
            "re_ai": perm["AI"].observed, "re_an_ci_low": ci["AN"][0],
            "re_an_ci_high": ci["AN"][1], "re_ai_ci_low": ci["AI"][0],
            "re_ai_ci_high": ci["AI"][1], "p_perm_re_an": perm["AN"].p,
            "p_perm_re_ai": perm["AI"].p, "p_diff": p_diff, "noise_ceiling": float(ceiling),
            "null_mean_re_an": float(perm["AN"].null.mean()),
            "null_sd_re_an": float(perm["AN"].null.std(ddof=1)),
            "null_mean_re_ai": float(perm["AI"].null.mean()),
            "null_sd_re_ai": float(perm["AI"].null.std(ddof=1)), "n_perm": int(n_perm),
            "n_swap": int(n_swap), "interval": interval,
            **(session_diagnostics(rdm, sessions) if sessions is not None else {})}


def above_ceiling(table: pd.DataFrame) -> str:
    """A sentence naming every ROI whose RE-AN or RE-AI estimate exceeds its noise ceiling.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`brain_rsa`.

    Returns
    -------
    str
        Empty when none does.
    """
    hits = []
    for r in table.itertuples():
        for col, name in (("re_ai", "RE-AI"), ("re_an", "RE-AN")):
            val = getattr(r, col)
            if np.isfinite(val) and np.isfinite(r.noise_ceiling) and val > r.noise_ceiling:
                hits.append(f"{r.subject} {r.roi} {name} {val:.2f} (ceiling {r.noise_ceiling:.2f})")
    if not hits:
        return ""
    return (f"{len(hits)} estimate{'s' if len(hits) > 1 else ''} exceed{'s' if len(hits) == 1 else ''} "
            f"the noise ceiling: {'; '.join(hits)}. The ceiling is estimated on half the images "
            "with vertices chosen on the other half, so it is noisy and conservative; an "
            "estimate above it says that ceiling is low for that ROI, not that the similarity "
            "is impossibly high.")


def searchlight_rsa(patterns: dict, disks, n_perm: int = 1000, seed=0, chunk: int = 50,
                    blocks=None, sessions=None) -> dict:
    """RE-AN and RE-AI similarity in every searchlight disk, with permutation p-values.

    Parameters
    ----------
    patterns : dict
        ``kind -> (n_images, n_vertices)``.
    disks : scipy.sparse matrix, shape (n_centres, n_vertices)
    n_perm : int
        Permutations of the image labels (the same permutations for every disk); 0 skips.
    seed : int or numpy.random.Generator
    chunk : int
        Permutations computed together.
    blocks : array_like, shape (n_images,), optional
        Exchangeability blocks (each image's session): labels shuffled within blocks only.
    sessions : array_like, shape (n_images,), optional
        Each image's session: partial Spearman correlations given the pairs' sessions (as
        in :func:`roi_rsa`).

    Returns
    -------
    dict of str to numpy.ndarray, each shape (n_centres,)
        ``re_an``, ``re_ai`` (Spearman) and, when ``n_perm > 0``, ``p_re_an``, ``p_re_ai``
        (one-sided, ``(1 + #null >= observed) / (1 + n_perm)``) and ``p_fwe_re_an``,
        ``p_fwe_re_ai`` (family-wise over the map: the same with each permutation's
        maximum over all disks, so a map thresholded at ``p_fwe < alpha`` has a false
        positive anywhere with probability ``alpha``); NaN for undefined disks.
    """
    check_positive_int(n_perm, "n_perm", minimum=0)
    vec = {k: searchlight_rdms(v, disks) for k, v in patterns.items()}
    n = patterns["RE"].shape[0]
    iu, ju = triu_pairs(n)
    pair_index = np.full((n, n), -1)
    pair_index[iu, ju] = np.arange(iu.size)
    pair_index[ju, iu] = np.arange(iu.size)
    valid = np.isfinite(vec["RE"]).all(1)
    z = {}
    for v in vec.values():
        valid &= np.isfinite(v).all(1)
    same = None if sessions is None else session_pair_groups(np.asarray(sessions), iu, ju)
    for k, v in vec.items():
        r = rank_rows(np.where(valid[:, None], v, 0.0))             # rankdata's ranks
        r = r - r.mean(1, keepdims=True) if same is None else group_centre(r, same)
        norm = np.sqrt((r ** 2).sum(1, keepdims=True))
        with np.errstate(invalid="ignore", divide="ignore"):
            z[k] = r / norm
    out = {}
    perms = permutation_indices(n, n_perm, seed, blocks) if n_perm else None
    for k in ("AN", "AI"):
        obs = (z["RE"] * z[k]).sum(1)
        obs[~valid] = np.nan
        out[f"re_{k.lower()}"] = obs
        if not n_perm:
            continue
        count = np.zeros(len(obs))
        maxima = []
        for start in range(0, n_perm, chunk):
            maps = pair_index[perms[start:start + chunk][:, iu], perms[start:start + chunk][:, ju]]
            null = _searchlight_null(z["RE"], z[k], maps,
                                     same if same is not None and blocks is None else None)
            count += (null >= obs[None, :] - 1e-12).sum(0)
            maxima.append(np.where(valid[None, :], null, -np.inf).max(1))
        p = (1 + count) / (1 + n_perm)
        p[~valid] = np.nan
        out[f"p_re_{k.lower()}"] = p
        top = np.sort(np.concatenate(maxima))
        fwe = (1 + n_perm - np.searchsorted(top, obs - 1e-12, side="left")) / (1 + n_perm)
        fwe[~valid] = np.nan
        out[f"p_fwe_re_{k.lower()}"] = fwe
    return out


#: Entries of the permuted vectors re-centred at once (32 MiB of float64).
_BLOCK_ENTRIES = 2 ** 22


def _searchlight_null(z_ref: np.ndarray, z_test: np.ndarray, maps: np.ndarray,
                      same=None) -> np.ndarray:
    """Every disk's similarity under each permutation of a chunk.

    Parameters
    ----------
    z_ref, z_test : numpy.ndarray, shape (n_disks, n_pairs)
        Centred, unit-norm ranks of each disk's RDM.
    maps : numpy.ndarray of int, shape (n_chunk, n_pairs)
        Where each pair goes under each permutation.
    same : numpy.ndarray of int, shape (n_pairs,), optional
        Pair kinds to centre each permuted vector within (then rescaled to unit norm).

    Returns
    -------
    numpy.ndarray, shape (n_chunk, n_disks)

    Notes
    -----
    A permutation moves whole pairs, the same for every disk: with pairs as rows
    (``n_pairs x n_disks``) it is a gather of contiguous rows, and each disk's similarity a
    sum down a column. Re-centring within pair kinds works on each permuted vector, so
    that case takes the disks in blocks whose permuted vectors (``block x n_chunk x
    n_pairs``) hold at most :data:`_BLOCK_ENTRIES` values.
    """
    if same is None:
        ref_t, test_t = np.ascontiguousarray(z_ref.T), np.ascontiguousarray(z_test.T)
        return np.stack([np.einsum("pv,pv->v", ref_t, test_t[m]) for m in maps])
    null = np.empty((z_ref.shape[0], maps.shape[0]))
    rows = max(1, _BLOCK_ENTRIES // max(maps.size, 1))
    for v0 in range(0, z_ref.shape[0], rows):
        block = slice(v0, v0 + rows)
        shuffled = z_test[block][:, maps]                          # (b, c, P)
        flat = group_centre(shuffled.reshape(-1, shuffled.shape[-1]), same)
        with np.errstate(invalid="ignore", divide="ignore"):
            flat /= np.sqrt((flat ** 2).sum(1, keepdims=True))
        null[block] = np.matmul(flat.reshape(shuffled.shape), z_ref[block, :, None])[..., 0]
    return null.T


def searchlight_roi_tests(patterns: dict, disks, rois, n_perm: int = 200,
                          max_centres: int = 100, seed=0, swappable=None,
                          sessions=None) -> dict:
    """Per ROI: is the searchlight RE-AI above RE-AN? A swap test of the ROI-mean difference.

    The statistic is the mean over the ROI's searchlight centres (at most ``max_centres``,
    drawn with the seed, spread over the ROI) of ``Spearman(RE, AI) - Spearman(RE, AN)``
    in each disk; its null swaps each image's AN and AI patterns at random (the swap test
    of :func:`advlib.analysis.stats.swap_test`, the same swaps in every disk).

    Parameters
    ----------
    patterns : dict
        ``kind -> (n_images, n_vertices)``.
    disks : scipy.sparse matrix, shape (n_vertices, n_vertices)
    rois : array_like of str, shape (n_vertices,)
        ROI of each vertex.
    n_perm : int
        Swap sets (200: p down to 0.005).
    max_centres : int
        Centres per ROI entering the statistic.
    seed : int or numpy.random.Generator
    swappable : array_like of bool, shape (n_images,), optional
    sessions : array_like, shape (n_images,), optional
        Each image's session: partial Spearman correlations given the pairs' sessions.

    Returns
    -------
    dict of str to dict
        ROI -> ``sl_diff`` (the statistic), ``p_sl_diff`` (two-sided), ``sl_n_centres``.
    """
    check_positive_int(n_perm, "n_perm")
    check_positive_int(max_centres, "max_centres")
    rng = rng_from(seed)
    rois = np.asarray(rois)
    n = patterns["RE"].shape[0]
    iu, ju = triu_pairs(n)
    i2, j2 = triu_pairs(2 * n)
    where = np.full((2 * n, 2 * n), -1)
    where[i2, j2] = where[j2, i2] = np.arange(i2.size)
    flips = swap_indices(n, n_perm, rng, swappable)
    flips = np.vstack([np.zeros((1, n), dtype=np.int64), flips])   # row 0: observed
    stacked = np.vstack([patterns["AI"], patterns["AN"]])
    same = None if sessions is None else session_pair_groups(np.asarray(sessions), iu, ju)

    def centre(r):                      # ranks (..., n_pairs), centred as the analysis asks
        if same is None:
            return r - r.mean(-1, keepdims=True)
        return group_centre(r.reshape(-1, r.shape[-1]), same).reshape(r.shape)

    out = {}
    for roi in ROIS:
        centres = np.flatnonzero(rois == roi)
        if centres.size > max_centres:
            centres = np.sort(rng.choice(centres, max_centres, replace=False))
        sub = disks[centres]
        ref = searchlight_rdms(patterns["RE"], sub)
        joint = searchlight_rdms(stacked, sub)
        ok = np.isfinite(ref).all(1) & np.isfinite(joint).all(1)
        if ok.sum() == 0:
            out[roi] = {"sl_diff": np.nan, "p_sl_diff": np.nan, "sl_n_centres": 0}
            continue
        ref = centre(rank_rows(ref[ok]))                     # rankdata's ranks
        ref /= np.sqrt((ref ** 2).sum(1, keepdims=True))
        joint = joint[ok]
        stat = []
        for start in range(0, len(flips), 50):
            f = flips[start:start + 50]
            corr = []
            for s_a in (f, 1 - f):
                vals = joint[:, where[iu + n * s_a[:, iu], ju + n * s_a[:, ju]]]  # (c, k, P)
                r = centre(rank_rows(vals))                 # rankdata's, axis 2
                r /= np.sqrt((r ** 2).sum(2, keepdims=True))
                corr.append(np.einsum("cp,ckp->ck", ref, r).mean(0))
            stat.append(corr[0] - corr[1])
        stat = np.concatenate(stat)
        obs, null = stat[0], stat[1:]
        out[roi] = {"sl_diff": float(obs), "sl_n_centres": int(ok.sum()),
                    "p_sl_diff": float((1 + np.count_nonzero(np.abs(null) >= abs(obs) - 1e-12))
                                       / (1 + n_perm))}
    return out


def brain_rsa(dataset_dir, stim_dir, out_dir=None, *, n_vertices: int = 200,
              n_perm: int = 1000, n_boot: int = 1000, seed: int = 0, ci_level: float = 0.68,
              searchlight: bool = True, searchlight_perm: int | None = None, radius: float = 3.0,
              subjects=None, only_converged: bool = True, progress: bool = True,
              jobs: int = 1, reuse: bool = True, normalize: str = "center",
              within_session: bool = True, interval: str = "images", n_swap: int = 10000,
              searchlight_swaps: int = 200, searchlight_centres: int = 100):
    """ROI RSA for every subject (Fig 3 / Fig S2) and the searchlight maps (Fig 4).

    Parameters
    ----------
    dataset_dir : str or path
        Dataset in the documented format (simulated or real).
    stim_dir : str or path
        The stimulus set the subjects saw (its manifest aligns RE, AN and AI images).
    out_dir : str or path, optional
        Receives ``brain_rsa.csv`` (``brain_rsa_400.csv`` for other sizes),
        ``searchlight/sub-XX.npz`` + ``searchlight/sub-XX_vertices.csv`` (``searchlight_400/``
        for 400 vertices) and the stage record ``brain_rsa[_400]_provenance.json``.
    n_vertices : int
        Selected vertices per ROI, both hemispheres (200; 400 for Fig S2).
    n_perm, n_boot : int
        Permutations and interval resamples (1000 in the paper).
    seed : int
    ci_level : float
        Interval level (0.68 as in Fig 3).
    searchlight : bool
        Also compute the Fig 4 maps.
    searchlight_perm : int, optional
        Permutations for the maps (default ``n_perm``).
    radius : float
        Searchlight and selection disk radius (mm).
    subjects : list of str or "all", optional
        Subject folders (default: all).
    only_converged : bool
        Use only regular images whose AN and AI images converged.
    progress : bool
    jobs : int
        Subjects analysed in parallel (joblib; the numbers do not depend on it).
    reuse : bool
        Return the results in ``out_dir`` instead of recomputing when that stage is up to
        date: same parameters, stimulus files, subject files and code, and outputs unchanged
        (:class:`advlib.provenance.Stage`).
    normalize : {"center", "zscore", "none"}
        Per-vertex normalisation of the betas within each session, before selection, RDMs
        and searchlight (:mod:`advlib.fmri.normalize`; ``"none"``: as published).
    within_session : bool
        Permute image labels within sessions only (the design's exchangeability); ``False``
        shuffles across sessions, as published. ``normalize="none", within_session=False``
        is the paper's pipeline; its tables are named ``brain_rsa_published[_400].csv``.
    interval : {"images", "subsample", "replacement"}
        Resampling behind the intervals: the images (default), or the ROI's vertices (80%
        without replacement, or with replacement; :func:`vertex_interval`).
    n_swap : int
        Swap sets of the RE-AI vs RE-AN test (10 000: p down to 1e-4, the paper's criterion).
    searchlight_swaps, searchlight_centres : int
        Swap sets and centres per ROI of the searchlight test (:func:`searchlight_roi_tests`).

    Returns
    -------
    table : pandas.DataFrame
        :data:`BRAIN_RSA_COLUMNS`, one row per subject x ROI.
    maps : dict
        ``subject -> (vertices DataFrame, dict of maps)``.
    """
    check_vertex_count(n_vertices)
    manifest = load_manifest(stim_dir)
    check_pairing(dataset_dir, stim_dir)
    sources = usable_sources(manifest, only_converged)
    check_stage_images("brain RSA", len(sources), MIN_RSA_IMAGES, MIN_RSA_WHY)
    names = choose_subjects(dataset_dir, subjects)
    params = {"n_vertices": n_vertices, "n_perm": n_perm, "n_boot": n_boot, "seed": seed,
              "ci_level": ci_level, "radius": radius, "presentations": "averaged",
              "only_converged": only_converged, "searchlight": searchlight,
              "searchlight_perm": searchlight_perm, "subjects": names,
              "normalize": check_choice(normalize, "normalize", NORMALIZATIONS),
              "within_session": bool(within_session),
              "interval": check_choice(interval, "interval", INTERVALS),
              "n_swap": check_positive_int(n_swap, "n_swap"),
              "searchlight_swaps": check_positive_int(searchlight_swaps, "searchlight_swaps"),
              "searchlight_centres": check_positive_int(searchlight_centres,
                                                        "searchlight_centres")}
    variant = analysis_variant(normalize, within_session)
    table_name = brain_rsa_name(n_vertices, variant)
    maps_dir = searchlight_name(n_vertices, variant)
    stage = None
    if out_dir is not None:
        out_dir = Path(out_dir)
        outputs = [table_name] + ([
            f"{maps_dir}/{file}" for n in names
            for file in (searchlight_map(n), searchlight_vertices(n))]
            if searchlight else [])
        stage = Stage(Path(table_name).stem, out_dir, outputs, params,
                      inputs=stimulus_files(stim_dir) + subject_files(dataset_dir, names),
                      code=["advlib.analysis.brain_analysis"])
        if reuse and stage.up_to_date():
            return (read_table(out_dir / outputs[0]),
                    load_searchlight_maps(out_dir, names if searchlight else [], n_vertices,
                                          variant))
    seeds = np.random.SeedSequence(seed).spawn(len(names))
    job = delayed(_subject_brain_rsa)
    work = worker_pool(jobs, return_as="generator")(
        job(Path(dataset_dir) / name, manifest, sources, ss, n_vertices=n_vertices,
            n_perm=n_perm, n_boot=n_boot, ci_level=ci_level, searchlight=searchlight,
            searchlight_perm=searchlight_perm, radius=radius, normalize=normalize,
            within_session=within_session, interval=interval, n_swap=n_swap,
            searchlight_swaps=searchlight_swaps, searchlight_centres=searchlight_centres)
        for name, ss in zip(names, seeds))
    results = list(tqdm(work, total=len(names), desc="brain RSA", disable=not progress))
    rows = [row for sub_rows, _ in results for row in sub_rows]
    maps = {name: sl for name, (_, sl) in zip(names, results) if sl is not None}
    table = pd.DataFrame(rows, columns=BRAIN_RSA_COLUMNS + DIAGNOSTIC_COLUMNS + STAT_COLUMNS)
    if stage is not None:
        def write(tmp: Path) -> None:
            table.to_csv(tmp / table_name, index=False)
            (tmp / maps_dir).mkdir(exist_ok=True)
            for name, (verts, sl) in maps.items():
                with open(tmp / maps_dir / searchlight_map(name), "wb") as handle:
                    np.savez(handle, **sl)
                verts[["hemi", "roi", "x_mm", "y_mm"]].assign(
                    vertex=np.arange(len(verts)), **{k: v for k, v in sl.items()}).to_csv(
                    tmp / maps_dir / searchlight_vertices(name), index=False)
        stage.run(write, dataset=load_dataset_info(dataset_dir), images_used=sources,
                  stimuli=str(Path(stim_dir).resolve()))
    return table, maps


def load_searchlight_maps(out_dir, names=None, n_vertices: int = 200,
                          variant: str = "") -> dict:
    """Searchlight maps written by :func:`brain_rsa`.

    Parameters
    ----------
    out_dir : str or path
        The brain RSA's output folder.
    names : list of str, optional
        Subjects (default: every subject with maps in the folder).
    n_vertices : int
    variant : str
        As in :func:`advlib.layout.analysis_variant`.

    Returns
    -------
    dict
        ``subject -> (vertices DataFrame with hemi, roi, x_mm, y_mm; dict of maps)``.
    """
    folder = Path(out_dir) / searchlight_name(n_vertices, variant)
    if names is None:
        names = sorted(p.stem for p in folder.glob(searchlight_map("*")))
        expect(len(names) > 0, "searchlight maps", str(folder),
               "sub-XX.npz files (run `advlib brain-rsa`)")
    maps = {}
    for name in names:
        with np.load(folder / searchlight_map(name)) as data:
            sl = {k: data[k] for k in data.files}
        verts = pd.read_csv(folder / searchlight_vertices(name),
                            keep_default_na=False)
        maps[name] = (verts[["hemi", "roi", "x_mm", "y_mm"]], sl)
    return maps


def _subject_brain_rsa(folder: Path, manifest, sources, ss, *, n_vertices, n_perm, n_boot,
                       ci_level, searchlight, searchlight_perm, radius, normalize,
                       within_session, interval, n_swap, searchlight_swaps,
                       searchlight_centres):
    """One subject's ROI rows and searchlight maps (a unit of parallel work)."""
    subject = normalize_subject(load_subject(folder, manifest=manifest), normalize)
    name = subject.name
    patterns = kind_patterns(subject, manifest, sources)
    sessions = source_sessions(subject, manifest, sources)
    blocks = sessions if within_session else None
    partial = partial_similarities(normalize, within_session)
    part = sessions if partial else None
    swappable = swappable_sources(subject, manifest, sources) if within_session else None
    variant = {"normalize": normalize, "permutation": "within session" if within_session
               else "across sessions"}
    disks = geodesic_disks(vertex_coordinates(subject.vertices), subject.faces, radius)
    _, selection, _ = select_subject(subject, radius, n_vertices // 2, disks=disks)
    ceilings = noise_ceilings(subject, n_vertices // 2, radius, disks)
    roi_seeds = ss.spawn(len(ROIS) + 2)
    rows = []
    for roi, rs in zip(ROIS, roi_seeds):
        cols = selection[selection.roi == roi].vertex.to_numpy()
        if cols.size < n_vertices:
            warnings.warn(f"{name} {roi}: {cols.size} vertices selected, {n_vertices} asked "
                          "(all available were used)", RuntimeWarning, stacklevel=2)
        if cols.size < MIN_ROI_VERTICES:
            rows.append({"subject": name, "roi": roi, "n_vertices": int(cols.size),
                         "excluded": f"{cols.size} vertices selected; an RDM over vertices "
                                     f"needs at least {MIN_ROI_VERTICES}", **variant,
                         "n_perm": int(n_perm), "n_swap": int(n_swap), "interval": interval})
            continue
        rows.append({"subject": name, **roi_rsa(subject, patterns, cols, roi, n_perm=n_perm,
                                                 n_boot=n_boot, n_swap=n_swap, seed=rs,
                                                 ci_level=ci_level, sessions=sessions,
                                                 blocks=blocks, swappable=swappable,
                                                 interval=interval, ceiling=ceilings[roi],
                                                 partial=partial),
                     **variant, "excluded": ""})
    if not searchlight:
        return rows, None
    sl = searchlight_rsa(patterns, disks, n_perm if searchlight_perm is None
                         else searchlight_perm, seed=np.random.default_rng(roi_seeds[-2]),
                         blocks=blocks, sessions=part)
    tests = searchlight_roi_tests(patterns, disks, subject.vertices.roi.to_numpy(),
                                  searchlight_swaps, searchlight_centres,
                                  np.random.default_rng(roi_seeds[-1]), swappable, part)
    for row in rows:
        if not row["excluded"]:
            row.update(tests[row["roi"]])
    return rows, (subject.vertices, sl)


def read_table(path) -> pd.DataFrame:
    """A results CSV as written: an empty ``excluded`` cell reads as ``""``, not NaN."""
    table = pd.read_csv(path)
    if "excluded" in table.columns:
        table["excluded"] = table.excluded.fillna("").astype(str)
    return table


def load_brain_results(out_dir, n_vertices: int = 200, variant: str = "") -> pd.DataFrame:
    """Read ``brain_rsa[_<variant>][_<n>].csv`` written by :func:`brain_rsa`."""
    path = Path(out_dir) / brain_rsa_name(n_vertices, variant)
    expect(path.is_file(), "results", str(path), "brain_rsa results (run `advlib brain-rsa`)")
    return read_table(path)


