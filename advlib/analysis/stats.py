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
of distinct images keep their multiplicity.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import check_positive_int, check_probability, expect
from ..kernels import masked_pearson, masked_rank, tau_a
from .rsa import COMPARISONS, check_rdm, compare_rdms, upper_triangle

__all__ = ["PermutationResult", "BootstrapResult", "permutation_test", "bootstrap_similarities",
           "percentile_ci", "bootstrap_p", "mann_kendall", "rng_from", "permutation_indices",
           "check_blocks"]


def rng_from(seed) -> np.random.Generator:
    """A Generator from an int seed, a Generator (returned as is) or None (seed 0)."""
    if isinstance(seed, np.random.Generator):
        return seed
    expect(seed is None or (isinstance(seed, (int, np.integer)) and seed >= 0), "seed", seed,
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


def _transform(values: np.ndarray, method: str) -> np.ndarray:
    return stats.rankdata(values) if method == "spearman" else values


def permutation_test(rdm_fixed, rdm_shuffled, method: str = "spearman", n_perm: int = 1000,
                     seed=0, names=("fixed", "shuffled"), blocks=None) -> PermutationResult:
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

    Returns
    -------
    PermutationResult
    """
    check_positive_int(n_perm, "n_perm")
    observed = compare_rdms(rdm_fixed, rdm_shuffled, method, names)
    a, b = check_rdm(rdm_fixed), check_rdm(rdm_shuffled)
    n = a.shape[0]
    perms = permutation_indices(n, n_perm, seed, blocks)
    iu, ju = np.triu_indices(n, 1)
    if method in ("spearman", "pearson"):
        ta = _transform(upper_triangle(a), method)
        ta = ta - ta.mean()
        tb_vec = _transform(upper_triangle(b), method)
        tb = np.zeros((n, n))
        tb[iu, ju] = tb_vec - tb_vec.mean()
        tb = tb + tb.T
        gathered = tb[perms[:, iu], perms[:, ju]]  # (n_perm, n_pairs), same values reordered
        null = gathered @ ta / np.sqrt((ta ** 2).sum() * ((tb_vec - tb_vec.mean()) ** 2).sum())
    else:
        va, null = upper_triangle(a), np.empty(n_perm)
        for k, perm in enumerate(perms):
            vb = b[perm[iu], perm[ju]]
            null[k] = (tau_a(va, vb) if method == "kendall_tau_a"
                       else stats.kendalltau(va, vb, variant="b").statistic)
    p = (1 + np.count_nonzero(null >= observed - 1e-12)) / (1 + n_perm)
    return PermutationResult(float(observed), float(p), null)



def bootstrap_similarities(rdm_ref, rdms: dict, method: str = "spearman", n_boot: int = 1000,
                           seed=0, ref_name: str = "RE") -> BootstrapResult:
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

    Returns
    -------
    BootstrapResult
    """
    expect(method in COMPARISONS, "method", method, f"one of {', '.join(COMPARISONS)}")
    check_positive_int(n_boot, "n_boot")
    expect(isinstance(rdms, dict) and len(rdms) > 0, "rdms", type(rdms).__name__,
           "a non-empty dict name -> RDM")
    ref = check_rdm(rdm_ref, ref_name)
    mats = {k: check_rdm(v, k) for k, v in rdms.items()}
    observed = {k: compare_rdms(ref, m, method, (ref_name, k)) for k, m in mats.items()}
    n = ref.shape[0]
    for k, m in mats.items():
        expect(m.shape == ref.shape, f"{k}.shape", m.shape, f"the shape of {ref_name} {ref.shape}")
    rng = rng_from(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    iu, ju = np.triu_indices(n, 1)
    rows, cols = idx[:, iu], idx[:, ju]
    mask = rows != cols  # pairs of two copies of one image are dropped
    enough = mask.sum(1) >= 3
    va = ref[rows, cols]
    samples = {}
    for k, m in mats.items():
        vb = m[rows, cols]
        if method in ("spearman", "pearson"):
            x = masked_rank(va, mask) if method == "spearman" else va
            y = masked_rank(vb, mask) if method == "spearman" else vb
            r = masked_pearson(x, y, mask)
        else:
            r = np.full(n_boot, np.nan)
            for s in np.flatnonzero(enough):
                a_s, b_s = va[s, mask[s]], vb[s, mask[s]]
                r[s] = (tau_a(a_s, b_s) if method == "kendall_tau_a"
                        else stats.kendalltau(a_s, b_s, variant="b").statistic)
        r[~enough] = np.nan
        samples[k] = r
    valid = np.all(np.isfinite(np.stack(list(samples.values()))), axis=0)
    if not valid.all():
        warnings.warn(f"bootstrap: {int((~valid).sum())} of {n_boot} resamples had too few "
                      "distinct pairs or constant dissimilarities and were dropped",
                      RuntimeWarning, stacklevel=2)
    expect(valid.any(), "rdms", "no valid bootstrap resample",
           "RDMs with enough distinct, varying dissimilarities")
    return BootstrapResult(observed, {k: v[valid] for k, v in samples.items()}, int(n_boot))


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
        ``trend`` ("increasing", "decreasing" or "no trend"), ``tau``, ``p``, ``z``, ``s``
        and ``slope`` (Sen's slope), from ``pymannkendall.original_test``.
    """
    import pymannkendall as mk

    v = np.asarray(values, dtype=np.float64)
    expect(v.ndim == 1 and v.size >= 3, "values.shape", v.shape, "(n,) with n >= 3")
    expect(bool(np.isfinite(v).all()), "values", v.tolist(), "finite values")
    res = mk.original_test(v, alpha=alpha)
    return {"trend": res.trend, "tau": float(res.Tau), "p": float(res.p), "z": float(res.z),
            "s": float(res.s), "slope": float(res.slope)}
