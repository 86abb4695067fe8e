"""Statistics for RDM similarities: permutation test, image bootstrap, trend test.

All functions take ``seed`` as an int or a :class:`numpy.random.Generator`; the same
seed gives the same numbers.

Permutation test (paper, Methods): the image labels of one RDM are shuffled ``n_perm``
times (rows and columns permuted together) and the similarity recomputed, giving a null
distribution; ``p = (1 + #{null >= observed}) / (1 + n_perm)`` (one-sided: is the
similarity larger than chance?). Vectorized: the upper triangle of the shuffled RDM is
ranked once, and every permutation only re-indexes those ranks, so 1000 permutations of a
40-image RDM cost one array gather and one matrix-vector product.

Image bootstrap (paper, Methods): the ``n`` images are resampled with replacement and both
similarities recomputed on the same resample. Pairs made of two copies of the same image
(dissimilarity 0 by construction) are dropped, not turned into NaN; the resampled pairs
of distinct images keep their multiplicity. It gives the confidence intervals. As a *test*
of RE-AI vs RE-AN it is far too conservative (measured: 0-0.5% false positives at alpha
0.05 where 5% are due), so the difference is tested by :func:`swap_test` instead.

Swap test (RE-AI vs RE-AN): under the null that each image's AN and AI versions are
exchangeable (the two similarities are equal because nothing tells the two kinds apart),
swapping the AN and AI pattern of any set of images leaves the distribution unchanged.
The statistic ``sim(RE, AI) - sim(RE, AN)`` is recomputed for ``n_perm`` random sets of
swapped images (a paired permutation test, exact at every sample size); the swap keeps an
image's versions together, so it respects sessions as the design does.

Mann-Kendall (CNN trends): for ``n <= 10`` values the p-value is exact (the distribution of
the S statistic over all orderings); the normal approximation, for 8 layers, reaches
``p < 0.001`` only for a perfectly monotone sequence.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import check_fits, check_positive_int, check_probability, expect
from ..kernels import (
    gathered_rank,
    group_centre,
    masked_standardize,
    rank_rows,
    session_pair_groups,
    tau_a,
    thread_map,
    triu_pairs,
    upper_triangle,
)
from .rsa import COMPARISONS, check_rdm, check_sessions, compare_rdms

__all__ = ["PermutationResult", "BootstrapResult", "SwapResult", "permutation_test",
           "bootstrap_similarities", "bootstrap_references", "percentile_ci", "centred_interval",
           "bootstrap_p", "paired_t_power",
           "swap_test", "swap_indices", "mann_kendall", "mann_kendall_exact_p", "rng_from",
           "permutation_indices", "check_blocks", "smallest_p", "normal_power",
           "at_least_power"]


def rng_from(seed) -> np.random.Generator:
    """A Generator from an int seed, a Generator (returned as is) or None (seed 0)."""
    if isinstance(seed, np.random.Generator):
        return seed
    integer = isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_))
    expect(seed is None or (integer and seed >= 0), "seed", seed,
           "a non-negative integer or a numpy Generator")
    return np.random.default_rng(0 if seed is None else int(seed))


def check_blocks(blocks, n: int, parameter: str = "blocks") -> np.ndarray | None:
    """Validate exchangeability blocks: one label per item, or ``None`` (one block).

    Returns
    -------
    numpy.ndarray, shape (n,), or None
    """
    if blocks is None:
        return None
    arr = np.asarray(blocks)
    expect(arr.shape == (n,), f"{parameter}.shape", arr.shape, f"({n},): one label per image")
    expect(not pd.isna(arr).any(), parameter, "labels with NaN", "a block label for every image")
    return arr


def permutation_indices(n: int, n_perm: int, seed=0, blocks=None) -> np.ndarray:
    """Random permutations of ``n`` items, shuffled within exchangeability blocks.

    Parameters
    ----------
    n : int
        Items (images).
    n_perm : int
    seed : int or numpy.random.Generator
    blocks : array_like, shape (n,), optional
        Block label of each item (e.g. its fMRI session): an item is only ever moved to
        the place of another item of its block. ``None``: one block (unrestricted), drawn
        exactly as before blocks existed, so old results are reproduced.

    Returns
    -------
    numpy.ndarray of int, shape (n_perm, n)
        Row ``k`` is the ``k``-th permutation: item ``i`` takes the label of ``perm[k, i]``.
    """
    check_positive_int(n_perm, "n_perm")
    check_fits("n_perm", n_perm, 16.0 * n_perm * n, f"{n_perm} permutations of {n} images")
    rng = rng_from(seed)
    blocks = check_blocks(blocks, n)
    if blocks is None:
        return rng.permuted(np.tile(np.arange(n), (n_perm, 1)), axis=1)
    out = np.empty((n_perm, n), dtype=np.int64)
    for label in pd.unique(blocks):
        idx = np.flatnonzero(blocks == label)
        out[:, idx] = idx[rng.permuted(np.tile(np.arange(idx.size), (n_perm, 1)), axis=1)]
    return out


@dataclass
class PermutationResult:
    """Observed similarity, one-sided permutation p-value and the null distribution.

    Attributes
    ----------
    observed : float
    p : float
        ``(1 + #{null >= observed}) / (1 + n_perm)``.
    null : numpy.ndarray, shape (n_perm,)
    """

    observed: float
    p: float
    null: np.ndarray


@dataclass
class BootstrapResult:
    """Bootstrap distributions of similarities to one reference RDM over resampled images.

    Attributes
    ----------
    observed : dict of str to float
        Similarity of each RDM to the reference on all images.
    samples : dict of str to numpy.ndarray, shape (n_valid,)
        Bootstrap replicates (resamples with fewer than 3 distinct pairs are dropped).
    n_boot : int
        Resamples drawn.
    """

    observed: dict
    samples: dict
    n_boot: int

    def ci(self, name: str, level: float = 0.95) -> tuple[float, float]:
        """Percentile confidence interval of similarity ``name`` at ``level``."""
        expect(name in self.samples, "name", name, f"one of {sorted(self.samples)}")
        return percentile_ci(self.samples[name], level)

    def difference(self, first: str, second: str) -> np.ndarray:
        """Replicates of ``similarity[first] - similarity[second]`` (same resamples)."""
        return self.samples[first] - self.samples[second]

    def p_difference(self, first: str, second: str) -> float:
        """Two-sided bootstrap p-value of ``first - second`` differing from 0."""
        return bootstrap_p(self.difference(first, second))


def percentile_ci(samples, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval ``((1 - level) / 2, (1 + level) / 2)`` of bootstrap samples.

    Parameters
    ----------
    samples : array_like, shape (n,)
    level : float in (0, 1)
        0.95 for the CNN figure, 0.68 for the brain figure.

    Returns
    -------
    tuple of 2 floats
    """
    check_probability(level, "level", low_open=True, high_open=True, what="a coverage")
    s = np.asarray(samples, dtype=np.float64)
    expect(s.ndim == 1 and s.size > 0, "samples.shape", s.shape, "(n,) with n >= 1")
    lo, hi = np.quantile(s, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def centred_interval(estimate: float, replicates, level: float = 0.68,
                     scale: float = 1.0) -> tuple[float, float]:
    """Resampling interval placed on its estimate: ``estimate + scale * (q - median)``.

    ``q`` are the replicates' ``(1 -+ level) / 2`` quantiles. The replicates give the
    spread, the estimate the location, so the interval always contains its estimate (a
    plain percentile interval of a biased resampling distribution need not).

    Parameters
    ----------
    estimate : float
    replicates : array_like, shape (n,)
    level : float in (0, 1)
    scale : float
        Factor on the spread (1 for a bootstrap; a delete-d factor for subsamples).

    Returns
    -------
    (float, float)
        ``low <= estimate <= high``.
    """
    lo, hi = percentile_ci(replicates, level)
    mid = float(np.median(np.asarray(replicates, dtype=np.float64)))
    return float(estimate + scale * (lo - mid)), float(estimate + scale * (hi - mid))


def smallest_p(n_resamples: int, two_sided: bool = False) -> float:
    """The smallest p a test with ``n_resamples`` resamples can give.

    ``1 / (n + 1)`` for a permutation or swap test, ``2 / (n + 1)`` for the two-sided
    bootstrap p of :func:`bootstrap_p`.
    """
    check_positive_int(n_resamples, "n_resamples")
    return (2.0 if two_sided else 1.0) / (n_resamples + 1)


def normal_power(null_mean, null_sd, effect: float, alpha: float = 0.05):
    """Power of a one-sided resampling test to detect a true statistic ``effect``.

    The statistic is taken as normal around its true value with the spread of its null
    distribution (a small effect changes the spread little): power is
    ``1 - Phi((null_mean + z_(1-alpha) null_sd - effect) / null_sd)``. The approximation is
    checked against simulated power in ``tests/test_calibration.py``.

    Parameters
    ----------
    null_mean, null_sd : float or array_like
        Mean and SD of the test's null distribution (e.g. of a permutation test).
    effect : float
        The true value to be detected (e.g. an RDM similarity of 0.1).
    alpha : float

    Returns
    -------
    float or numpy.ndarray
        NaN where the null SD is not finite and positive.
    """
    mu, sd = np.asarray(null_mean, dtype=np.float64), np.asarray(null_sd, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (mu + stats.norm.ppf(1 - alpha) * sd - effect) / sd
        out = np.where(np.isfinite(z) & (sd > 0), stats.norm.sf(z), np.nan)
    return float(out) if out.ndim == 0 else out


def paired_t_power(sd_diff: float, n: int, effect: float, alpha: float = 0.05) -> float:
    """Power of a two-sided paired t-test on ``n`` pairs to detect a mean difference ``effect``.

    From the noncentral t distribution with ``n - 1`` degrees of freedom and noncentrality
    ``effect / (sd_diff / sqrt(n))``, the SD of the differences taken as known. The tails
    are integrated over the chi-square distribution of the variance
    (``P(T > c) = E[Phi(ncp - c sqrt(V / df))]``): scipy's ``nct`` returns NaN for some
    large noncentralities with few degrees of freedom (ncp 22, df 2).

    Returns
    -------
    float
        NaN when ``n < 2`` or ``sd_diff`` is not finite and positive.
    """
    if not (n >= 2 and np.isfinite(sd_diff) and sd_diff > 0):
        return float("nan")
    from scipy import integrate

    df, ncp = n - 1, effect / (sd_diff / np.sqrt(n))
    crit = stats.t.ppf(1 - alpha / 2, df)

    def tails(v):
        scale = crit * np.sqrt(v / df)
        return (stats.norm.cdf(ncp - scale) + stats.norm.cdf(-scale - ncp)) * stats.chi2.pdf(v, df)

    return float(min(1.0, integrate.quad(tails, 0, np.inf, limit=200)[0]))


def at_least_power(powers, k: int) -> float:
    """Chance that more than ``k`` of several independent tests reject.

    Parameters
    ----------
    powers : array_like, shape (n,)
        Each test's chance to reject (Poisson-binomial).
    k : int

    Returns
    -------
    float
        ``P(#rejections > k)``; NaN when any power is NaN.
    """
    p = np.asarray(powers, dtype=np.float64)
    if p.size == 0 or not np.isfinite(p).all():
        return float("nan")
    dist = np.zeros(p.size + 1)
    dist[0] = 1.0
    for q in p:
        dist[1:] = dist[1:] * (1 - q) + dist[:-1] * q
        dist[0] *= 1 - q
    return float(dist[k + 1:].sum()) if k + 1 <= p.size else 0.0


def bootstrap_p(differences) -> float:
    """Two-sided bootstrap p-value that a difference is zero.

    ``p = min(1, 2 (1 + #{d on the other side of 0 from the median}) / (1 + n))``, with
    replicates equal to 0 counted as on the other side.

    Parameters
    ----------
    differences : array_like, shape (n,)
        Bootstrap replicates of a difference.

    Returns
    -------
    float
    """
    d = np.asarray(differences, dtype=np.float64)
    expect(d.ndim == 1 and d.size > 0, "differences.shape", d.shape, "(n,) with n >= 1")
    against = (d <= 0).sum() if np.median(d) > 0 else (d >= 0).sum()
    return float(min(1.0, 2.0 * (1 + against) / (1 + d.size)))


def _pair_flat(perms: np.ndarray, iu: np.ndarray, ju: np.ndarray, n: int) -> np.ndarray:
    """Flat ``(n, n)`` positions of every pair under every permutation (or swap set), shape
    (n_perm, n_pairs): ``perms[:, iu] * n + perms[:, ju]``, the same values in the same
    (column-major) layout, so that what is gathered with them sums in the same order;
    gathered as rows of the transposed permutations, several times faster than the column
    gathers."""
    pt = np.ascontiguousarray(perms.T)
    out = pt[iu]
    out *= n
    out += pt[ju]
    return out.T


def _transform(values: np.ndarray, method: str) -> np.ndarray:
    return rank_rows(values) if method == "spearman" else values     # rankdata's ranks


def permutation_test(rdm_fixed, rdm_shuffled, method: str = "spearman", n_perm: int = 1000,
                     seed=0, names=("fixed", "shuffled"), blocks=None,
                     sessions=None) -> PermutationResult:
    """Permutation test of an RDM similarity by shuffling the image labels of one RDM.

    Parameters
    ----------
    rdm_fixed, rdm_shuffled : array_like, shape (n, n)
        E.g. the RE RDM and the AN (or AI) RDM of one layer.
    method : {"spearman", "pearson", "kendall_tau_a", "kendall_tau_b"}
    n_perm : int
        Number of permutations (1000 in the paper).
    seed : int or numpy.random.Generator
    names : tuple of 2 str
        For error messages.
    blocks : array_like, shape (n,), optional
        Exchangeability blocks (e.g. each image's fMRI session): labels are shuffled
        within blocks only (:func:`permutation_indices`).
    sessions : array_like, shape (n,), optional
        Each image's session: similarities are partial correlations given which sessions
        each pair comes from (:func:`advlib.analysis.rsa.compare_rdms`).

    Returns
    -------
    PermutationResult
    """
    check_positive_int(n_perm, "n_perm")
    observed = compare_rdms(rdm_fixed, rdm_shuffled, method, names, sessions)
    a, b = check_rdm(rdm_fixed), check_rdm(rdm_shuffled)
    n = a.shape[0]
    check_fits("n_perm", n_perm, 8.0 * n_perm * (n + 2 * n * (n - 1)),
               f"{n_perm} permutations of {n} images")
    perms = permutation_indices(n, n_perm, seed, blocks)
    iu, ju = triu_pairs(n)
    sess = check_sessions(sessions, n, method)
    if sess is not None:
        same = session_pair_groups(sess, iu, ju)
        ta = group_centre(_transform(upper_triangle(a), method), same)
        tb = np.zeros((n, n))
        tb[iu, ju] = _transform(upper_triangle(b), method)
        tb = tb + tb.T
        gathered = group_centre(tb.ravel()[_pair_flat(perms, iu, ju, n)], same)
        with np.errstate(invalid="ignore", divide="ignore"):
            null = gathered @ ta / np.sqrt((ta ** 2).sum() * (gathered ** 2).sum(1))
    elif method in ("spearman", "pearson"):
        ta = _transform(upper_triangle(a), method)
        ta = ta - ta.mean()
        tb_vec = _transform(upper_triangle(b), method)
        tb = np.zeros((n, n))
        tb[iu, ju] = tb_vec - tb_vec.mean()
        tb = tb + tb.T
        # (n_perm, n_pairs), the same values reordered (one flat gather)
        gathered = tb.ravel()[_pair_flat(perms, iu, ju, n)]
        null = gathered @ ta / np.sqrt((ta ** 2).sum() * ((tb_vec - tb_vec.mean()) ** 2).sum())
    else:
        va, null = upper_triangle(a), np.empty(n_perm)
        for k, perm in enumerate(perms):
            vb = b[perm[iu], perm[ju]]
            null[k] = (tau_a(va, vb) if method == "kendall_tau_a"
                       else stats.kendalltau(va, vb, variant="b").statistic)
    p = (1 + np.count_nonzero(null >= observed - 1e-12)) / (1 + n_perm)
    return PermutationResult(float(observed), float(p), null)



@dataclass
class SwapResult:
    """Observed difference of two similarities, its two-sided swap-test p and the null.

    Attributes
    ----------
    observed : float
        ``sim(ref, A) - sim(ref, B)``.
    p : float
        ``(1 + #{|null| >= |observed|}) / (1 + n_perm)``.
    null : numpy.ndarray, shape (n_perm,)
        Shorter when the test stopped early (``stop_above``): ``n_perm`` is then the
        number drawn.
    """

    observed: float
    p: float
    null: np.ndarray


def swap_indices(n: int, n_perm: int, seed=0, swappable=None) -> np.ndarray:
    """Random swap sets: ``flips[k, i]`` is 1 when image ``i`` swaps its two versions.

    Parameters
    ----------
    n, n_perm : int
    seed : int or numpy.random.Generator
    swappable : array_like of bool, shape (n,), optional
        Images whose two versions may be swapped (e.g. only those whose versions were
        shown in one session); the others never swap. Default: all.

    Returns
    -------
    numpy.ndarray of int, shape (n_perm, n)
    """
    check_positive_int(n_perm, "n_perm")
    check_fits("n_perm", n_perm, 16.0 * n_perm * n, f"{n_perm} swap sets of {n} images")
    flips = (rng_from(seed).random((n_perm, n)) < 0.5).astype(np.int64)
    if swappable is not None:
        ok = np.asarray(swappable, dtype=bool)
        expect(ok.shape == (n,), "swappable.shape", ok.shape, f"({n},): one flag per image")
        flips[:, ~ok] = 0
    return flips


def _order_codes(matrix: np.ndarray) -> np.ndarray:
    """The entries of ``matrix`` (flattened) as dense integer ranks of their values: equal
    values share a code and codes are ordered as the values, so rows of codes rank exactly
    as rows of values (int16, which sorts by radix, where the distinct values allow)."""
    uniq, codes = np.unique(matrix, return_inverse=True)
    return codes.ravel().astype(np.int16 if uniq.size < 2 ** 15 else np.int64)


def _row_corr(x: np.ndarray, ref_centred: np.ndarray, ranked, same=None) -> np.ndarray:
    """Correlation of every row of ``x`` with a centred reference vector.

    ``ranked``: True (Spearman: rows ranked), False (Pearson), or a Kendall method name,
    for which ``ref_centred`` is the raw reference and each row is compared in a loop.
    ``same``: pair kinds (:func:`advlib.kernels.session_pair_groups`; rows centred within
    each kind; the reference must be centred so too).
    """
    if isinstance(ranked, str):
        return np.array([tau_a(ref_centred, row) if ranked == "kendall_tau_a"
                         else stats.kendalltau(ref_centred, row, variant="b").statistic
                         for row in x])
    if ranked:
        # ranks are exact in floating point, so each row's sum of squares about its (kind)
        # means follows from raw sums without cancellation; and as the reference is centred
        # (within each kind), x @ ref needs no centred copy of x
        x = rank_rows(x)
        raw = np.einsum("ij,ij->i", x, x)
        squares = raw.copy()
        if same is None:
            squares -= x.sum(1) ** 2 / x.shape[1]
        else:
            _, kind = np.unique(same, return_inverse=True)
            member = np.zeros((x.shape[1], kind.max() + 1))
            member[np.arange(x.shape[1]), kind.ravel()] = 1.0
            squares -= ((x @ member) ** 2 / member.sum(0)).sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (x @ ref_centred) / np.sqrt(squares * (ref_centred ** 2).sum())
        # rows (nearly) constant within their kinds lose their spread to cancellation in the
        # raw sums: those few are computed centred, as for Pearson (a constant row gives NaN)
        close = squares <= 1e-8 * raw
        if close.any():
            r[close] = _row_corr(x[close], ref_centred, False, same)
        return r
    x = x - x.mean(1, keepdims=True) if same is None else group_centre(x, same)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (x @ ref_centred) / np.sqrt((x ** 2).sum(1) * (ref_centred ** 2).sum())


def swap_test(rdm_ref, joint_rdm, method: str = "spearman", n_perm: int = 10000, seed=0,
              chunk: int = 1000, names=("RE", "A", "B"), swappable=None,
              sessions=None, stop_above: float | None = None) -> SwapResult:
    """Paired swap test of ``sim(ref, A) - sim(ref, B)`` for two versions of each image.

    Parameters
    ----------
    rdm_ref : array_like, shape (n, n)
        The reference RDM (RE).
    joint_rdm : array_like, shape (2n, 2n)
        RDM of the ``2n`` patterns ``[A_1 .. A_n, B_1 .. B_n]`` stacked (e.g. the AI then
        the AN patterns of the same images, in the reference's order): it holds the
        within-kind RDMs and the cross-kind dissimilarities a swap needs.
    method : {"spearman", "pearson", "kendall_tau_a", "kendall_tau_b"}
        (the Kendall methods loop over swap sets: slow for many).
    n_perm : int
        Random swap sets (10 000 reach the paper's p < 0.0001).
    seed : int or numpy.random.Generator
    chunk : int
        Swap sets computed together (bounds memory).
    names : tuple of 3 str
        For error messages.
    swappable : array_like of bool, shape (n,), optional
        See :func:`swap_indices` (the design's exchangeability: sessions).
    sessions : array_like, shape (n,), optional
        Each image's session: similarities are partial correlations given which sessions
        each pair comes from (:func:`advlib.analysis.rsa.compare_rdms`).
    stop_above : float, optional
        Sequential Monte Carlo (Besag & Clifford 1991) for a decision at this level: stop
        after the first chunk at which ``p`` over all ``n_perm`` swap sets is certain to
        exceed ``stop_above`` (enough exceedances already), and return ``p`` over the swap
        sets drawn (a valid p-value). Whether ``p <= stop_above`` is then the same as with
        every swap set; only a test that may reach it runs them all.

    Returns
    -------
    SwapResult
    """
    expect(method in COMPARISONS, "method", method, f"one of {', '.join(COMPARISONS)}")
    if stop_above is not None:
        check_probability(stop_above, "stop_above", what="a significance level")
    ref = check_rdm(rdm_ref, names[0])
    joint = check_rdm(joint_rdm, f"{names[1]}+{names[2]}")
    n = ref.shape[0]
    expect(joint.shape == (2 * n, 2 * n), f"{names[1]}+{names[2]}.shape", joint.shape,
           f"({2 * n}, {2 * n}): the {names[1]} and {names[2]} patterns of the reference's "
           f"{n} images, stacked")
    iu, ju = triu_pairs(n)
    sess = check_sessions(sessions, n, method)
    same = None if sess is None else session_pair_groups(sess, iu, ju)
    if method in ("spearman", "pearson"):
        ranked = method == "spearman"
        ta = _transform(upper_triangle(ref), method)
        ta = ta - ta.mean() if same is None else group_centre(ta, same)
    else:
        ranked, ta = method, upper_triangle(ref)

    # a pair's entry of the joint RDM: A-A plus, per swapped image, a step to the B block
    # (flat indices; version B's entry is A's mirrored: both versions of a set at once)
    base, mirror = iu * 2 * n + ju, n * (2 * n + 1)
    # Spearman ranks depend on the order of the entries only: rank their dense integer
    # codes (radix-sorted; the same ranks as the values')
    table = _order_codes(joint) if ranked is True else joint.ravel()

    def diff(flips: np.ndarray) -> np.ndarray:
        step = n * _pair_flat(flips, iu, ju, 2 * n)    # n (2n f_i + f_j), its layout kept
        a, b = table[base + step], table[base + mirror - step]
        return _row_corr(a, ta, ranked, same) - _row_corr(b, ta, ranked, same)

    observed = float(diff(np.zeros((1, n), dtype=np.int64))[0])
    expect(np.isfinite(observed), f"{names[1]}, {names[2]}", "an RDM with no variation",
           "RDMs whose dissimilarities vary")
    flips = swap_indices(n, n_perm, seed, swappable)
    # exceedances that settle p > stop_above over all n_perm: (1 + k) / (1 + n_perm) > level,
    # i.e. k >= floor(level * (1 + n_perm)) (an integer; the 1e-9 absorbs 0.29 * 100 = 28.99..)
    settled = np.inf if stop_above is None else np.floor(stop_above * (1 + n_perm) + 1e-9)
    parts, hits = [], 0
    for k in range(0, n_perm, chunk):
        parts.append(diff(flips[k:k + chunk]))
        hits += int(np.count_nonzero(np.abs(parts[-1]) >= abs(observed) - 1e-12))
        if hits >= settled:
            break
    null = np.concatenate(parts)
    return SwapResult(observed, float((1 + hits) / (1 + null.size)), null)


def bootstrap_similarities(rdm_ref, rdms: dict, method: str = "spearman", n_boot: int = 1000,
                           seed=0, ref_name: str = "RE", sessions=None) -> BootstrapResult:
    """Bootstrap over images of the similarity of several RDMs to one reference RDM.

    Parameters
    ----------
    rdm_ref : array_like, shape (n, n)
        Reference RDM (RE).
    rdms : dict of str to array_like, shape (n, n)
        E.g. ``{"AN": rdm_an, "AI": rdm_ai}``; all resampled with the same image indices.
    method : {"spearman", "pearson", "kendall_tau_a", "kendall_tau_b"}
    n_boot : int
        Number of resamples (1000 in the paper).
    seed : int or numpy.random.Generator
    ref_name : str
        For error messages.
    sessions : array_like, shape (n,), optional
        Each image's session: similarities are partial correlations given which sessions
        each pair comes from (:func:`advlib.analysis.rsa.compare_rdms`).

    Returns
    -------
    BootstrapResult
    """
    return bootstrap_references({ref_name: rdm_ref}, rdms, method, n_boot, seed,
                                sessions)[ref_name]


def _standardized(rdm: np.ndarray, rows: np.ndarray, cols: np.ndarray, mask: np.ndarray, same,
                  method: str) -> np.ndarray:
    """Resampled dissimilarities ``rdm[rows, cols]`` ready for a row-wise dot product (Pearson
    of ranks for Spearman), partialled for the session pair kinds when ``same`` is given."""
    x = gathered_rank(rdm, rows, cols, mask) if method == "spearman" else rdm[rows, cols]
    if same is not None:
        x = group_centre(x, same, mask)
    return masked_standardize(x, mask)


def bootstrap_references(refs: dict, rdms: dict, method: str = "spearman", n_boot: int = 1000,
                         seed=0, sessions=None, threads: int = 1) -> dict:
    """:func:`bootstrap_similarities` for several references with the same image resamples.

    Every RDM is ranked and standardized once, so comparing ``r`` references with ``k``
    RDMs costs ``r + k`` rankings, not ``2 r k`` (the layers against each subject's brain
    RDM, for instance).

    Parameters
    ----------
    refs : dict of str to array_like, shape (n, n)
        Reference RDMs (e.g. one per subject).
    rdms : dict of str to array_like, shape (n, n)
    method, n_boot, seed, sessions
        As in :func:`bootstrap_similarities`.
    threads : int
        RDMs ranked and standardized side by side on this many threads
        (:func:`advlib.kernels.thread_map`; the same numbers).

    Returns
    -------
    dict of str to BootstrapResult
        One per reference, in ``refs``' order, all from the same resamples.
    """
    expect(method in COMPARISONS, "method", method, f"one of {', '.join(COMPARISONS)}")
    check_positive_int(n_boot, "n_boot")
    for name, given in (("refs", refs), ("rdms", rdms)):
        expect(isinstance(given, dict) and len(given) > 0, name, type(given).__name__,
               "a non-empty dict name -> RDM")
    references = {k: check_rdm(v, k) for k, v in refs.items()}
    mats = {k: check_rdm(v, k) for k, v in rdms.items()}
    first, ref = next(iter(references.items()))
    for k, m in list(references.items()) + list(mats.items()):
        expect(m.shape == ref.shape, f"{k}.shape", m.shape, f"the shape of {first} {ref.shape}")
    observed = {r: {k: compare_rdms(a, m, method, (r, k), sessions) for k, m in mats.items()}
                for r, a in references.items()}
    n = ref.shape[0]
    sess = check_sessions(sessions, n, method)
    check_fits("n_boot", n_boot, 8.0 * n_boot * (n + 2 * n * (n - 1)) * (2 + len(references)),
               f"{n_boot} bootstrap resamples of {n} images")
    rng = rng_from(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    iu, ju = triu_pairs(n)
    rows, cols = idx[:, iu], idx[:, ju]
    mask = rows != cols  # pairs of two copies of one image are dropped
    enough = mask.sum(1) >= 3
    same = None if sess is None else session_pair_groups(sess, rows, cols)
    samples = {r: {} for r in references}
    if method in ("spearman", "pearson"):   # each RDM ranked and standardized once
        standardize = lambda m: _standardized(m, rows, cols, mask, same, method)  # noqa: E731
        zref = dict(zip(references, thread_map(standardize, references.values(), threads)))

        def scores(m):
            z = standardize(m)
            return {r: np.where(enough, (zref[r] * z).sum(1), np.nan) for r in references}
        for k, found in zip(mats, thread_map(scores, mats.values(), threads)):
            for r in references:
                samples[r][k] = found[r]
    else:
        for r, a in references.items():
            va = a[rows, cols]
            for k, m in mats.items():
                vb, out = m[rows, cols], np.full(n_boot, np.nan)
                for s in np.flatnonzero(enough):
                    a_s, b_s = va[s, mask[s]], vb[s, mask[s]]
                    out[s] = (tau_a(a_s, b_s) if method == "kendall_tau_a"
                              else stats.kendalltau(a_s, b_s, variant="b").statistic)
                samples[r][k] = out
    results = {}
    for r in references:
        valid = np.all(np.isfinite(np.stack(list(samples[r].values()))), axis=0)
        if not valid.all():
            warnings.warn(f"bootstrap: {int((~valid).sum())} of {n_boot} resamples had too "
                          "few distinct pairs or constant dissimilarities and were dropped",
                          RuntimeWarning, stacklevel=3)
        expect(valid.any(), "rdms", "no valid bootstrap resample",
               "RDMs with enough distinct, varying dissimilarities")
        results[r] = BootstrapResult(observed[r], {k: v[valid] for k, v in samples[r].items()},
                                     int(n_boot))
    return results


def _mk_s(values: np.ndarray) -> np.ndarray:
    """Mann-Kendall S of each row: sum over i < j of sign(x_j - x_i)."""
    v = np.atleast_2d(values)
    iu, ju = triu_pairs(v.shape[1])
    return np.sign(v[:, ju] - v[:, iu]).sum(1)


def _inversion_counts(n: int) -> np.ndarray:
    """Number of orderings of ``n`` distinct values with k inversions (Mahonian numbers)."""
    counts = np.array([1], dtype=object)
    for m in range(2, n + 1):
        new = np.zeros(counts.size + m - 1, dtype=object)
        for shift in range(m):
            new[shift:shift + counts.size] += counts
        counts = new
    return counts


def mann_kendall_exact_p(values) -> float:
    """Exact two-sided Mann-Kendall p: ``P(|S| >= |s|)`` over all orderings of the values.

    Without ties S takes ``N - 2 k`` (``N = n (n - 1) / 2``, ``k`` inversions) with the
    Mahonian frequencies; with ties every distinct ordering of the values is enumerated
    (``n <= 8``).

    Parameters
    ----------
    values : array_like, shape (n,)
        ``3 <= n <= 10`` finite values (``n <= 8`` when some are tied).

    Returns
    -------
    float
    """
    v = np.asarray(values, dtype=np.float64)
    n = v.size
    tied = np.unique(v).size < n
    expect(3 <= n <= (8 if tied else 10), "values", f"{n} values{' with ties' if tied else ''}",
           "3-10 values (3-8 with ties) for the exact test")
    s_obs = abs(int(_mk_s(v)[0]))
    if not tied:
        counts = _inversion_counts(n)
        s_values = n * (n - 1) // 2 - 2 * np.arange(counts.size)
        return float(sum(c for c, sv in zip(counts, s_values) if abs(sv) >= s_obs)
                     / sum(counts))
    from itertools import permutations

    orders = np.array(list(permutations(v)))
    return float(np.mean(np.abs(_mk_s(orders)) >= s_obs))


def mann_kendall(values, alpha: float = 0.05) -> dict:
    """Mann-Kendall trend test across an ordered sequence (e.g. the 8 layers).

    Parameters
    ----------
    values : array_like, shape (n,)
        ``n >= 3`` finite values in order.
    alpha : float
        Significance level for the reported trend.

    Returns
    -------
    dict
        ``trend`` ("increasing", "decreasing" or "no trend" at ``alpha``), ``tau``, ``p``,
        ``z``, ``s``, ``slope`` (Sen's slope) and ``p_method``: ``"exact"``
        (:func:`mann_kendall_exact_p`, for up to 10 values, 8 with ties) or ``"normal"``
        (``pymannkendall.original_test``'s tie-corrected normal approximation).
    """
    import pymannkendall as mk

    v = np.asarray(values, dtype=np.float64)
    expect(v.ndim == 1 and v.size >= 3, "values.shape", v.shape, "(n,) with n >= 3")
    expect(bool(np.isfinite(v).all()), "values", v.tolist(), "finite values")
    res = mk.original_test(v, alpha=alpha)
    exact = v.size <= (8 if np.unique(v).size < v.size else 10)
    p = mann_kendall_exact_p(v) if exact else float(res.p)
    trend = ("no trend" if not p < alpha or res.s == 0
             else "increasing" if res.s > 0 else "decreasing")
    return {"trend": trend, "tau": float(res.Tau), "p": float(p), "z": float(res.z),
            "s": float(res.s), "slope": float(res.slope),
            "p_method": "exact" if exact else "normal"}
