"""Permutation test speed: advlib's vectorized test against the plain rsatoolbox loop.

The same test, 1000 permutations for 40 images (the paper's design), done two ways in one
run on the same data:

* advlib: two RDMs, then :func:`advlib.analysis.permutation_test` (ranks once, re-indexes them);
* reference: for every permutation, shuffle the rows of the AN patterns, ``calc_rdm`` the
  shuffled data with rsatoolbox and ``compare`` it to the RE RDM (Spearman).

The reference draws its permutations from another seed, so the two p-values differ by
Monte-Carlo error only; the table shows the difference in units of its binomial standard
error. (With identical permutations the nulls agree to 1e-12: tests/test_stats.py.) Target: at least
50x faster, p-values within 3 SE.

Run: .venv/bin/python benchmarks/bench_rsa.py
"""

import time

import numpy as np
from rsatoolbox.data import Dataset
from rsatoolbox.rdm import calc_rdm, compare

import advlib

N_IMAGES, N_UNITS, N_PERM = 40, 4096, 1000


def main():
    rng = np.random.default_rng(0)
    re = rng.normal(size=(N_IMAGES, N_UNITS))
    an = re + 9.0 * rng.normal(size=(N_IMAGES, N_UNITS))  # weak shared structure: p ~ 0.01-0.1

    t0 = time.perf_counter()
    rdm_re = advlib.analysis.compute_rdm(re)
    res = advlib.analysis.permutation_test(rdm_re, advlib.analysis.compute_rdm(an), n_perm=N_PERM, seed=1)
    ours = time.perf_counter() - t0

    t0 = time.perf_counter()
    ref_rdm = calc_rdm(Dataset(re), method="correlation")
    observed = compare(ref_rdm, calc_rdm(Dataset(an), method="correlation"),
                       method="spearman")[0, 0]
    perm_rng = np.random.default_rng(2)
    null = np.empty(N_PERM)
    for k in range(N_PERM):
        shuffled = Dataset(an[perm_rng.permutation(N_IMAGES)])
        null[k] = compare(ref_rdm, calc_rdm(shuffled, method="correlation"),
                          method="spearman")[0, 0]
    p_ref = (1 + np.sum(null >= observed)) / (1 + N_PERM)
    reference = time.perf_counter() - t0

    # SE of the difference of two independent Monte-Carlo p estimates
    se = np.sqrt((res.p * (1 - res.p) + p_ref * (1 - p_ref)) / N_PERM)
    print(f"{N_IMAGES} images x {N_UNITS} units, {N_PERM} permutations, Spearman")
    print(f"advlib vectorized        {ours:8.3f} s   observed {res.observed:.6f}  p = {res.p:.4f}")
    print(f"rsatoolbox loop          {reference:8.3f} s   observed {observed:.6f}  p = {p_ref:.4f}")
    print(f"speed-up                 {reference / ours:8.1f}x  (target >= 50x)")
    print(f"|p difference| / SE      {abs(res.p - p_ref) / max(se, 1e-12):8.2f}   (target <= 3)")


if __name__ == "__main__":
    main()
