"""Numerical kernels shared by the real-data fMRI path and the analyses.

One home for the vectorized building blocks that several stages use: row-wise rank
correlation, the correlation-distance RDMs of a batch of pattern sets, masked row-wise
Pearson correlation and Kendall's tau-a. Each is written once here and tested against
scipy (``tests/test_kernels.py``). These are raw kernels: they do not validate their
input; the public functions that call them do.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import stats

from .errors import expect

__all__ = ["thread_map", "triu_pairs", "upper_triangle", "correlation_rdm",
           "correlation_rdm_inplace", "spearman", "rowwise_spearman", "correlation_rdm_vectors",
           "masked_pearson", "masked_standardize", "gathered_rank", "tau_a",
           "session_pair_groups", "group_centre", "rank_rows"]


def rank_rows(x) -> np.ndarray:
    """Average ranks (1..n) along the last axis, as ``scipy.stats.rankdata(x, axis=-1)``.

    Each value becomes an unsigned integer key that sorts as the value does, with the
    column index in its lowest bits; one plain sort of the keys (several times faster than
    an argsort) then gives every row's order. A row where two keys agree above the index
    bits (a tie, or values too close for the bits the index takes) or with a NaN is ranked
    by ``rankdata``, so the ranks are always exactly scipy's. Integers of up to 16 bits
    (e.g. dense codes of the values) keep every bit and sort as 32-bit keys.

    Parameters
    ----------
    x : array_like, shape (..., n)

    Returns
    -------
    numpy.ndarray of float, shape (..., n)
    """
    x = np.asarray(x)
    small = x.dtype.kind in "iu" and x.dtype.itemsize <= 2
    if _wider_than_float64(x):          # values float64 would merge: scipy ranks them
        return stats.rankdata(x, axis=-1)
    if not small:
        x = x.astype(np.float64, copy=False)
    if x.size == 0:
        return np.empty(x.shape)
    n = x.shape[-1]
    rows = x.reshape(-1, n)
    bits = max(int(n - 1).bit_length(), 1)
    key = _sort_keys(rows, bits)
    key.sort(axis=-1)
    low = key.dtype.type((1 << bits) - 1)
    top = key >> key.dtype.type(bits)
    odd = (top[:, 1:] == top[:, :-1]).any(axis=-1)             # ties or too close
    order = key & low                                         # < 2 ** bits: a view as intp
    order = order.view(np.intp) if order.itemsize == np.dtype(np.intp).itemsize \
        else order.astype(np.intp)
    order += (np.arange(rows.shape[0]) * n)[:, None]          # flat positions: one scatter
    ranks = np.empty(rows.shape)
    ranks.ravel()[order] = np.arange(1, n + 1, dtype=np.float64)    # broadcast over rows
    if not small:       # NaN (and inf) keys sort at or beyond the infinities' (by sign)
        odd |= (top[:, -1] >= _PINF_TOP >> bits) | (top[:, 0] <= _NINF_TOP >> bits)
    if odd.any():
        ranks[odd] = stats.rankdata(rows[odd], axis=-1)
    return ranks.reshape(x.shape)


def _wider_than_float64(x: np.ndarray) -> bool:
    """Whether ``x`` holds values that float64 cannot tell apart: floats wider than 8 bytes,
    or integers beyond 2 ** 53 in magnitude."""
    if x.dtype.kind == "f":
        return x.dtype.itemsize > 8
    if x.dtype.kind in "iu" and x.dtype.itemsize > 4 and x.size:
        return bool(x.max() > 2 ** 53 or x.min() < -(2 ** 53))
    return False


#: The sort keys of +inf and -inf (:func:`_sort_keys`, before the index bits).
_PINF_TOP = int(np.array(np.inf).view(np.uint64)) | (1 << 63)
_NINF_TOP = ~int(np.array(-np.inf).view(np.uint64)) & (2 ** 64 - 1)


def _sort_keys(rows: np.ndarray, bits: int) -> np.ndarray:
    """Unsigned keys ordered as the values of ``rows``, the column index in the low ``bits``.

    Floats: the IEEE bits with the sign bit set for positives and all bits flipped for
    negatives (``-0.0`` first made ``+0.0``), their lowest ``bits`` replaced by the index.
    Integers of up to 16 bits: the value shifted to be unsigned, above the index.
    """
    n = rows.shape[-1]
    if rows.dtype.kind in "iu":
        wide = np.uint32 if 16 + bits <= 32 else np.uint64
        key = rows.astype(wide)
        if rows.dtype.kind == "i":
            key += wide(1 << 15)                # two's complement wraps: order kept
            key &= wide(0xFFFF)
        key <<= wide(bits)
        key |= np.arange(n, dtype=wide)
        return key
    with np.errstate(invalid="ignore"):         # a signalling NaN
        key = (rows + 0.0).view(np.uint64)      # a new array, -0.0 as +0.0
    flip = (key.view(np.int64) >> 63).view(np.uint64)        # all ones where negative
    flip |= np.uint64(1 << 63)
    key ^= flip
    key &= ~np.uint64((1 << bits) - 1)
    key |= np.arange(n, dtype=np.uint64)
    return key


def thread_map(fn, items, threads: int = 1) -> list:
    """``[fn(x) for x in items]`` on up to ``threads`` threads, in ``items``' order.

    For independent numpy work on large arrays (numpy releases the GIL in its loops):
    each call is computed exactly as one at a time, so the results are the same floats
    whatever ``threads`` is.

    Parameters
    ----------
    fn : callable
    items : iterable
    threads : int
        1 (or fewer than 2 items): a plain loop in this thread.

    Returns
    -------
    list
    """
    items = list(items)
    if threads <= 1 or len(items) < 2:
        return [fn(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(int(threads), len(items))) as pool:
        return list(pool.map(fn, items))


def triu_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.triu_indices(n, 1)``, made once per ``n`` (the analyses ask for the same few
    sizes many thousand times; building them was 2% of a ground-truth study seed).

    Parameters
    ----------
    n : int

    Returns
    -------
    (numpy.ndarray, numpy.ndarray) of int, each shape (n * (n - 1) / 2,)
        Rows and columns of the pairs ``i < j`` (row-major); read-only (shared).
    """
    return _triu_pairs(int(n))                # one entry per size, whatever its int type


@functools.lru_cache(maxsize=64)
def _triu_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    iu, ju = np.triu_indices(n, 1)
    iu.flags.writeable = False
    ju.flags.writeable = False
    return iu, ju


def upper_triangle(rdm) -> np.ndarray:
    """The upper triangle (``i < j``, row-major) of an ``(n, n)`` RDM as a vector.

    Returns
    -------
    numpy.ndarray, shape (n * (n - 1) / 2,)
    """
    arr = np.asarray(rdm)
    return arr[triu_pairs(arr.shape[0])]


def correlation_rdm(x: np.ndarray) -> np.ndarray:
    """Correlation-distance RDM ``1 - r`` of the rows of ``x``.

    Parameters
    ----------
    x : numpy.ndarray, shape (n_conditions, n_units), float64

    Returns
    -------
    numpy.ndarray, shape (n_conditions, n_conditions)
        Symmetric, zero diagonal; NaN rows where a pattern is constant.
    """
    return correlation_rdm_inplace(np.array(x, dtype=np.float64))


def correlation_rdm_inplace(x: np.ndarray, scale: np.ndarray | None = None):
    """:func:`correlation_rdm`, overwriting ``x`` (the same numbers, no full-size copies).

    For a large pattern set (a CNN layer of 400 000 units and 92 images is 300 MB in
    float64) each temporary is as large as the patterns; this one centres and scales ``x``
    in place and squares it a row at a time.

    Parameters
    ----------
    x : numpy.ndarray, shape (n_conditions, n_units), float64, C-contiguous
        Overwritten with the unit-norm centred patterns.
    scale : numpy.ndarray, shape (n_conditions,), optional
        Filled with each row's norm after centring (for a caller's constant-pattern check).

    Returns
    -------
    numpy.ndarray, shape (n_conditions, n_conditions)
    """
    x -= x.mean(1, keepdims=True)
    norms = np.array([np.square(row).sum() for row in x])      # as (x ** 2).sum(1), by row
    np.sqrt(norms, out=norms)
    if scale is not None:
        scale[:] = norms
    with np.errstate(invalid="ignore", divide="ignore"):
        x /= norms[:, None]
    rdm = 1.0 - x @ x.T
    rdm = (rdm + rdm.T) / 2.0
    np.fill_diagonal(rdm, 0.0)
    return rdm


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two vectors (``scipy.stats.spearmanr``).

    The statistic without the p-value scipy computes beside it: the same two steps as
    ``spearmanr`` (each vector's average ranks, here by :func:`rank_rows`, which gives
    exactly ``rankdata``'s; then ``np.corrcoef`` of the two rank columns stacked as
    ``spearmanr`` stacks them), so the very same float in a third of the time. Vectors with
    NaN or a constant one go to ``spearmanr`` itself (NaN, with its warning).

    Parameters
    ----------
    a, b : numpy.ndarray, shape (n,)

    Returns
    -------
    float
    """
    a, b = np.asarray(a), np.asarray(b)
    if (a.ndim != 1 or a.shape != b.shape or a.size < 2 or a.dtype.kind not in "iuf"
            or b.dtype.kind not in "iuf"):
        return float(stats.spearmanr(a, b).statistic)
    pair = np.column_stack((a, b))              # as spearmanr stacks (and promotes) them
    if (np.isnan(pair).any() or (pair[0, 0] == pair[:, 0]).all()
            or (pair[0, 1] == pair[:, 1]).all()):
        return float(stats.spearmanr(a, b).statistic)
    ra, rb = rank_rows(np.ascontiguousarray(pair.T))
    return float(np.corrcoef(np.column_stack((ra, rb)), rowvar=False)[1, 0])


def session_pair_groups(sessions, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The kind of each image pair: which two sessions (unordered) its images come from.

    Parameters
    ----------
    sessions : array_like, shape (n_images,)
    rows, cols : numpy.ndarray of int, any (equal) shape
        The pairs' two images (e.g. ``np.triu_indices(n, 1)``).

    Returns
    -------
    numpy.ndarray of int, the shape of ``rows``
        One label per (session a, session b) with a <= b: within session 1, within session
        2, across them, ... (a yes/no "same session" is not enough: centring leaves each
        session's pairs at a level that depends on the session's size).
    """
    _, code = np.unique(np.asarray(sessions), return_inverse=True)
    code = code.ravel()
    k = int(code.max()) + 1 if code.size else 1
    a, b = code[rows], code[cols]
    return np.minimum(a, b) * k + np.maximum(a, b)


def group_centre(x: np.ndarray, groups: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Subtract, per row, the mean of the entries of each pair kind.

    Pearson correlation of two vectors centred this way is their partial correlation given
    the pair kinds (on ranks: a partial Spearman correlation), so a structure shared by
    every RDM of a session design (pairs within a session more or less alike than pairs
    across sessions) does not count as similarity.

    Parameters
    ----------
    x : numpy.ndarray, shape (n,) or (n_rows, n)
    groups : numpy.ndarray of int, shape (n,) or the shape of ``x``
        Pair kinds (:func:`session_pair_groups`).
    mask : numpy.ndarray of bool, the shape of ``x``, optional
        Entries left out (set to 0, not counted in the means).

    Returns
    -------
    numpy.ndarray, the shape of ``x``
    """
    x = np.asarray(x, dtype=np.float64)
    one = x.ndim == 1
    x2 = np.atleast_2d(x)
    if mask is None and np.ndim(groups) == 1:          # one pair-kind vector for every row
        groups = np.asarray(groups)
        out = np.empty_like(x2)
        for label in np.unique(groups):
            cols = groups == label
            out[:, cols] = x2[:, cols] - x2[:, cols].mean(1, keepdims=True)
        return out[0] if one else out
    groups2 = np.broadcast_to(groups, x2.shape)
    keep = np.ones(x2.shape, bool) if mask is None else np.atleast_2d(mask)
    out = np.zeros_like(x2)
    for label in np.unique(groups2):
        w = (groups2 == label) & keep
        k = np.maximum(w.sum(1, keepdims=True), 1)
        mean = np.where(w, x2, 0.0).sum(1, keepdims=True) / k
        out = np.where(w, x2 - mean, out)
    return out[0] if one else out


def rowwise_spearman(x: np.ndarray, y: np.ndarray, same: np.ndarray | None = None) -> np.ndarray:
    """Spearman correlation of matching rows.

    Parameters
    ----------
    x, y : numpy.ndarray, shape (n_rows, n)
    same : numpy.ndarray of int, shape (n,), optional
        Pair kinds (:func:`session_pair_groups`): the ranks are centred within each kind
        (:func:`group_centre`, a partial Spearman correlation).

    Returns
    -------
    numpy.ndarray, shape (n_rows,)
        NaN where a row has NaN or is constant.
    """
    rx = rank_rows(x)
    ry = rank_rows(y)
    if same is None:
        rx -= rx.mean(1, keepdims=True)
        ry -= ry.mean(1, keepdims=True)
    else:
        rx, ry = group_centre(rx, same), group_centre(ry, same)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (rx * ry).sum(1) / np.sqrt((rx ** 2).sum(1) * (ry ** 2).sum(1))
    bad = ~(np.isfinite(x).all(1) & np.isfinite(y).all(1))
    r[bad] = np.nan
    return r


def correlation_rdm_vectors(patterns: np.ndarray) -> np.ndarray:
    """Correlation-distance RDM upper triangles of a batch of pattern sets.

    Parameters
    ----------
    patterns : numpy.ndarray, shape (B, n_conditions, n_units)

    Returns
    -------
    numpy.ndarray, shape (B, n_conditions * (n_conditions - 1) / 2)
        NaN where a pattern is constant.
    """
    x = patterns - patterns.mean(2, keepdims=True)
    norm = np.sqrt((x ** 2).sum(2, keepdims=True))
    with np.errstate(invalid="ignore", divide="ignore"):
        x = x / norm
    # einsum's own loop, not BLAS (x @ x^T is 3-4 times faster, but OpenBLAS splits larger
    # products over its threads and its floats then depend on the thread count)
    corr = np.einsum("bnv,bmv->bnm", x, x)
    iu, ju = triu_pairs(patterns.shape[1])
    return 1.0 - corr[:, iu, ju]


def masked_pearson(x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Row-wise Pearson r of x and y over the entries where ``mask`` is True.

    Parameters
    ----------
    x, y : numpy.ndarray, shape (n_rows, n)
    mask : numpy.ndarray of bool, shape (n_rows, n)

    Returns
    -------
    numpy.ndarray, shape (n_rows,)
    """
    return (masked_standardize(x, mask) * masked_standardize(y, mask)).sum(1)


def masked_standardize(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Rows centred on their kept entries' mean and scaled to unit norm; masked entries 0.

    The row-wise Pearson r of two arrays is the row sum of the product of their
    standardized forms, so an array compared with many is standardized once.

    Parameters
    ----------
    x : numpy.ndarray, shape (n_rows, n)
    mask : numpy.ndarray of bool, shape (n_rows, n)

    Returns
    -------
    numpy.ndarray, shape (n_rows, n)
        NaN rows where the kept entries are constant.
    """
    w = mask.astype(np.float64)
    x = np.where(mask, x, 0.0)                       # no inf * 0 below
    k = np.maximum(w.sum(1), 1.0)
    dx = (x - ((x * w).sum(1) / k)[:, None]) * w
    with np.errstate(invalid="ignore", divide="ignore"):
        return dx / np.sqrt((dx ** 2).sum(1))[:, None]


def gathered_rank(matrix: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                  mask: np.ndarray) -> np.ndarray:
    """Row-wise average ranks of ``matrix[rows, cols]`` among the entries where ``mask`` is
    True, without sorting every row.

    A bootstrap resample draws its entries from one small matrix, so each entry's rank
    follows from how often each distinct value of the matrix was drawn: the values are
    ranked once (``np.unique``), the draws counted per row (``np.bincount``), and an
    entry's average rank is read from the cumulative counts. Equal to
    ``scipy.stats.rankdata(np.where(mask, matrix[rows, cols], np.inf), axis=1)`` exactly
    (average ranks are halves of integers) at a fraction of the cost of ``n_rows`` sorts.

    Parameters
    ----------
    matrix : numpy.ndarray, shape (n, m)
        The values drawn from (no NaN or +inf; compared as float64, as ``rankdata`` does).
    rows, cols : numpy.ndarray of int, shape (n_rows, k)
        Which entry of ``matrix`` each position holds.
    mask : numpy.ndarray of bool, shape (n_rows, k)
        Masked-out positions are ranked as +inf (after every kept entry).

    Returns
    -------
    numpy.ndarray, shape (n_rows, k), float64
    """
    mask = np.asarray(mask, dtype=bool)
    uniq, inverse = np.unique(np.asarray(matrix, dtype=np.float64), return_inverse=True)
    expect(uniq.size == 0 or np.isfinite(uniq[-1]), "matrix", "values with NaN or +inf",
           "finite values (check the RDM first)")
    groups = inverse.reshape(np.shape(matrix))[rows, cols]          # dense value ranks
    n_rows, k = groups.shape
    n_groups = uniq.size
    flat = np.ascontiguousarray(groups, dtype=np.int64)
    flat += np.arange(n_rows, dtype=np.int64)[:, None] * n_groups  # (row, value) cells
    counts = np.bincount(flat[mask], minlength=n_rows * n_groups)
    average = np.cumsum(counts.reshape(n_rows, n_groups), axis=1) - (counts.reshape(
        n_rows, n_groups) - 1) / 2.0                    # mean of positions end-c+1 .. end
    out = average.ravel()[flat]
    kept = mask.sum(1)
    tail = kept + (k - kept + 1) / 2.0                  # the tied +inf entries' rank
    return np.where(mask, out, tail[:, None])


def tau_a(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-a: (concordant - discordant) / (n (n - 1) / 2); ties count zero.

    Parameters
    ----------
    a, b : numpy.ndarray, shape (n,)

    Returns
    -------
    float
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n0 = a.size * (a.size - 1) / 2
    ties = [float((c * (c - 1) / 2).sum()) for c in (np.unique(v, return_counts=True)[1]
                                                      for v in (a, b))]
    if n0 == 0 or max(ties) == n0:           # a constant vector: no ordered pair
        return 0.0
    # tau-b (scipy, O(n log n)) rescaled: tau-a = tau-b * sqrt((n0 - t_a)(n0 - t_b)) / n0
    tau_b = stats.kendalltau(a, b, variant="b").statistic
    return float(tau_b * np.sqrt((n0 - ties[0]) * (n0 - ties[1])) / n0)
