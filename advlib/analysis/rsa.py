"""Representational dissimilarity matrices (RDMs) and their comparison.

Conventions: an RDM is a symmetric ``(n, n)`` float64 array with a zero diagonal; RDMs are
compared on their upper triangles (``i < j``, row-major, the order rsatoolbox uses).

Metrics (:func:`compute_rdm`)
-----------------------------
``correlation``
    ``1 - Pearson r`` between the two activity patterns (the paper's choice).
``euclidean``
    Euclidean distance ``||x_i - x_j||``.
``sqeuclidean``
    Squared Euclidean distance divided by the number of units: rsatoolbox's
    ``"euclidean"``.
``cosine``
    ``1 - cosine similarity``.

Comparison methods (:func:`compare_rdms`)
-----------------------------------------
``spearman`` (the paper's), ``pearson``, ``kendall_tau_a`` (rsatoolbox's ``tau-a``,
recommended by Nili et al. 2014 when models predict ties) and ``kendall_tau_b``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import InputError, expect
from ..kernels import (
    correlation_rdm_inplace,
    group_centre,
    rank_rows,
    session_pair_groups,
    spearman,
    tau_a,
    triu_pairs,
    upper_triangle,
)

__all__ = ["MIN_RSA_IMAGES", "MIN_RSA_WHY", "METRICS", "COMPARISONS", "compute_rdm",
           "compare_rdms",
           "to_rsatoolbox", "from_rsatoolbox", "check_rdm", "square_rdm", "check_sessions"]

#: The fewest regular images an RSA stage (CNN or brain) accepts: 4 images give 6 image
#: pairs, 24 orderings for the permutation null (p >= 0.04) and an image bootstrap that
#: loses a third of its resamples (fewer than 3 distinct images); 6 images lose 2%.
MIN_RSA_IMAGES = 4
#: Why, as the stage's refusal says it.
MIN_RSA_WHY = ("an RDM comparison needs several image pairs; 4 images give 6 pairs and a "
               "permutation null of 24 orderings")

METRICS = ("correlation", "euclidean", "sqeuclidean", "cosine")
COMPARISONS = ("spearman", "pearson", "kendall_tau_a", "kendall_tau_b")


def _check_patterns(patterns, name: str, copy: bool = False) -> np.ndarray:
    arr = np.asarray(patterns)
    expect(arr.ndim == 2, f"{name}.shape", arr.shape, "(n_conditions, n_units)")
    expect(arr.shape[0] >= 4, f"{name}.shape", arr.shape,
           "at least 4 conditions (images) for an RDM whose upper triangle can be ranked")
    expect(arr.shape[1] >= 1, f"{name}.shape", arr.shape, "at least 1 unit")
    expect(np.issubdtype(arr.dtype, np.number), f"{name}.dtype", str(arr.dtype), "numbers")
    arr = arr.astype(np.float64, order="C", copy=copy)
    if not np.isfinite(arr).all():
        bad = ~np.isfinite(arr)
        rows = np.flatnonzero(bad.any(1))
        raise InputError(f"{name}: {int(bad.sum())} NaN/inf values in conditions "
                         f"{rows[:5].tolist()}: expected finite activations")
    return arr


def compute_rdm(patterns, metric: str = "correlation", name: str = "patterns") -> np.ndarray:
    """The RDM of a set of activity patterns.

    Parameters
    ----------
    patterns : array_like, shape (n_conditions, n_units)
        One row per image (condition), e.g. a CNN layer's activations or the betas of an
        ROI's vertices. ``n_conditions >= 4``.
    metric : {"correlation", "euclidean", "sqeuclidean", "cosine"}
        Dissimilarity (see the module docstring).
    name : str
        Name of the pattern set (a layer or ROI) used in error messages.

    Returns
    -------
    numpy.ndarray, shape (n_conditions, n_conditions), float64
        Symmetric, zero diagonal.

    Raises
    ------
    InputError
        Wrong shape, fewer than 4 conditions, NaN/inf, or a condition whose pattern is
        constant across units (correlation and cosine are undefined for it).
    """
    expect(metric in METRICS, "metric", metric, f"one of {', '.join(METRICS)}")
    x = _check_patterns(patterns, name, copy=metric == "correlation")
    if metric == "correlation":       # in place on the copy: a layer's patterns can be 300 MB
        scale = np.maximum(x.max(1), -x.min(1)) + 1e-300
        norms = np.empty(x.shape[0])
        rdm = correlation_rdm_inplace(x, norms)
        flat = np.flatnonzero(norms <= 1e-12 * scale * np.sqrt(x.shape[1]))
        expect(flat.size == 0, f"{name}", f"zero variance in conditions {flat[:5].tolist()}",
               "activity patterns that vary across units (a constant pattern has no "
               "correlation distance)")
        return rdm
    if metric == "cosine":
        norms = np.sqrt((x ** 2).sum(1))
        scale = np.abs(x).max(1) + 1e-300
        flat = np.flatnonzero(norms <= 1e-12 * scale * np.sqrt(x.shape[1]))
        expect(flat.size == 0, f"{name}", f"all-zero patterns in conditions "
               f"{flat[:5].tolist()}", "non-zero activity patterns")
        unit = x / norms[:, None]
        rdm = 1.0 - unit @ unit.T
    else:
        sq = (x ** 2).sum(1)
        d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (x @ x.T), 0.0)
        rdm = np.sqrt(d2) if metric == "euclidean" else d2 / x.shape[1]
    rdm = (rdm + rdm.T) / 2.0
    np.fill_diagonal(rdm, 0.0)
    return rdm


def check_rdm(rdm, name: str = "rdm") -> np.ndarray:
    """Validate a square RDM and return it as float64.

    Raises
    ------
    InputError
        Not square, fewer than 4 conditions, NaN/inf, or not symmetric.
    """
    arr = np.asarray(rdm, dtype=np.float64)
    expect(arr.ndim == 2 and arr.shape[0] == arr.shape[1], f"{name}.shape", arr.shape,
           "a square (n, n) matrix")
    expect(arr.shape[0] >= 4, f"{name}.shape", arr.shape, "at least 4 conditions")
    expect(bool(np.isfinite(arr).all()), name, "matrix with NaN or inf", "finite values")
    # exactly symmetric (as every RDM this library makes) needs no tolerance check
    expect(np.array_equal(arr, arr.T)
           or np.allclose(arr, arr.T, atol=1e-10 * (1 + np.abs(arr).max())), name,
           "asymmetric matrix", "a symmetric RDM")
    return arr


def square_rdm(vector) -> np.ndarray:
    """Inverse of :func:`upper_triangle`: an ``(n, n)`` symmetric RDM from its upper triangle."""
    vec = np.asarray(vector, dtype=np.float64)
    n = int(round((1 + np.sqrt(1 + 8 * vec.size)) / 2))
    expect(n * (n - 1) // 2 == vec.size, "vector.size", vec.size, "n (n - 1) / 2 for some n")
    out = np.zeros((n, n))
    out[triu_pairs(n)] = vec
    return out + out.T



def check_sessions(sessions, n: int, method: str):
    """``sessions`` as an array of ``n`` labels, or None; only with a correlation method."""
    if sessions is None:
        return None
    s = np.asarray(sessions)
    expect(s.shape == (n,), "sessions.shape", s.shape, f"({n},): one session per condition")
    expect(not pd.isna(s).any(), "sessions", s.tolist(), "a session label for every condition "
           "(no NaN)")
    expect(method in ("spearman", "pearson"), "method", method,
           "'spearman' or 'pearson' when sessions are given (partial correlation)")
    return s


def compare_rdms(a, b, method: str = "spearman", names=("a", "b"), sessions=None) -> float:
    """Similarity of two RDMs of the same conditions, on their upper triangles.

    Parameters
    ----------
    a, b : array_like, shape (n, n)
        RDMs of the same ``n`` conditions in the same order.
    method : {"spearman", "pearson", "kendall_tau_a", "kendall_tau_b"}
    names : tuple of 2 str
        Names of the two RDMs for error messages (e.g. ``("RE layer3", "AN layer3")``).
    sessions : array_like, shape (n,), optional
        Each condition's session: the correlation is then partial, given which two
        sessions a pair's conditions come from (ranks or values centred within each kind of
        pair, :func:`advlib.kernels.session_pair_groups`,
        :func:`advlib.kernels.group_centre`). A structure every RDM of the design shares
        (a session's pairs more alike, or less, as centring within session makes them)
        then adds nothing to the similarity.

    Returns
    -------
    float

    Raises
    ------
    InputError
        Different sizes, bad RDMs, or an RDM whose upper triangle is constant (its rank
        correlation is undefined).
    """
    expect(method in COMPARISONS, "method", method, f"one of {', '.join(COMPARISONS)}")
    a = check_rdm(a, names[0])
    b = check_rdm(b, names[1])
    expect(a.shape == b.shape, f"{names[1]}.shape", b.shape,
           f"the shape of {names[0]} {a.shape} (the same images in the same order)")
    va, vb = upper_triangle(a), upper_triangle(b)
    for name, v in zip(names, (va, vb)):
        expect(np.ptp(v) > 0, name, "RDM with all dissimilarities equal",
               "an RDM whose dissimilarities vary (e.g. a layer with constant activations "
               "gives none)")
    sess = check_sessions(sessions, a.shape[0], method)
    if sess is not None:
        same = session_pair_groups(sess, *triu_pairs(a.shape[0]))
        x, y = (tuple(rank_rows(np.stack((va, vb)))) if method == "spearman"    # rankdata's
                else (va, vb))
        x, y = group_centre(x, same), group_centre(y, same)
        for name, v in zip(names, (x, y)):
            expect(v @ v > 1e-12, name, "RDM that varies only between session pairs",
                   "dissimilarities that vary within the pairs of a session (or of two): "
                   "with sessions given, only that variation is compared")
        return float(x @ y / np.sqrt((x @ x) * (y @ y)))
    if method == "spearman":
        return spearman(va, vb)
    if method == "pearson":
        return float(stats.pearsonr(va, vb).statistic)
    if method == "kendall_tau_b":
        return float(stats.kendalltau(va, vb, variant="b").statistic)
    return tau_a(va, vb)


def to_rsatoolbox(rdms, measure: str = "correlation", conditions=None, names=None):
    """Wrap one or several square RDMs as an ``rsatoolbox.rdm.RDMs`` object.

    Parameters
    ----------
    rdms : array_like, shape (n, n) or (k, n, n)
    measure : str
        Stored as ``dissimilarity_measure``.
    conditions : sequence, optional
        Condition (image) labels, stored as pattern descriptor ``"conds"``.
    names : sequence of str, optional
        One name per RDM, stored as RDM descriptor ``"name"``.

    Returns
    -------
    rsatoolbox.rdm.RDMs
    """
    from rsatoolbox.rdm import RDMs

    arr = np.asarray(rdms, dtype=np.float64)
    arr = arr[None] if arr.ndim == 2 else arr
    expect(arr.ndim == 3 and arr.shape[1] == arr.shape[2], "rdms.shape", arr.shape,
           "(n, n) or (k, n, n)")
    vectors = np.stack([upper_triangle(check_rdm(m, f"rdms[{i}]")) for i, m in enumerate(arr)])
    pattern_descriptors = {"conds": list(conditions)} if conditions is not None else None
    if conditions is not None:
        expect(len(conditions) == arr.shape[1], "conditions", len(conditions),
               f"{arr.shape[1]} labels")
    rdm_descriptors = {"name": list(names)} if names is not None else None
    return RDMs(vectors, dissimilarity_measure=measure, pattern_descriptors=pattern_descriptors,
                rdm_descriptors=rdm_descriptors)


def from_rsatoolbox(rdms) -> np.ndarray:
    """Square matrices of an ``rsatoolbox.rdm.RDMs`` object.

    Returns
    -------
    numpy.ndarray, shape (n, n) for a single RDM, else (k, n, n)
    """
    mats = np.asarray(rdms.get_matrices(), dtype=np.float64)
    return mats[0] if mats.shape[0] == 1 else mats
