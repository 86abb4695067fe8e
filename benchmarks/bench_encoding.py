"""Encoding-model speed: advlib's vectorized ROMP against a per-vertex scikit-learn OMP loop.

The encoding analysis fits, per subject and layer, one sparse model per selected vertex.
The widest layer dominates: EfficientNet-Lite0's stem has 401,408 units (AlexNet's conv1
about 290,000 before pooling). Measured in one run on the same problem:

* advlib: :func:`advlib.analysis.romp` on all 200 vertices of one ROI in one call (float32, CPU);
* reference: a Python loop over the vertices, each fitted by scikit-learn's
  ``OrthogonalMatchingPursuit`` with the same number of units (``2 x n_nonzero``, the
  support ROMP stops at) and an intercept.

Both are scored by the mean held-out Pearson r per vertex on images not used in the fit.
The problem is synthetic with the real shapes: 40 training images (the paper's RE set),
20 held-out images, responses = a sparse combination of 2 units + noise (SNR about 4). Reference time
is measured on a sample of vertices and scaled. Peak memory of the ROMP call is the
growth of the process's peak resident set (ROMP runs first, in a fresh process).

Target: at least 10x faster with the same held-out accuracy (within 0.02).

Then the choice of the sparsity level: :func:`advlib.analysis.choose_n_nonzero` (5 folds,
grid 1, 2, 4, 8, 200 targets; a pooled choice draws up to 250), which validates, centres and
normalizes each fold's design once for the whole grid, against the reference of one
:func:`advlib.analysis.romp` call per fold and level on the same folds. The held-out errors
must be the same floats; the ratio is measured in one run.
Run: .venv/bin/python benchmarks/bench_encoding.py [cuda]   (ROMP on that torch device)
"""

import resource
import sys
import time

import numpy as np
from sklearn.linear_model import OrthogonalMatchingPursuit

import advlib

N_UNITS, N_TRAIN, N_TEST, N_VERT, N_TRUE, S = 401_408, 40, 20, 200, 2, 2
N_SAMPLE = 20
N_CV = 200          # targets of the cross-validation


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _heldout_r(pred, y):
    p, t = pred - pred.mean(0), y - y.mean(0)
    return (p * t).sum(0) / np.sqrt((p ** 2).sum(0) * (t ** 2).sum(0))


def main():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N_TRAIN + N_TEST, N_UNITS)).astype(np.float32)
    W = np.zeros((N_UNITS, N_VERT), dtype=np.float32)
    for v in range(N_VERT):
        W[rng.choice(N_UNITS, N_TRUE, replace=False), v] = rng.uniform(1.0, 2.0, N_TRUE)
    Y = X @ W + 0.5 * rng.standard_normal((N_TRAIN + N_TEST, N_VERT)).astype(np.float32) + 1.0
    train, test = slice(0, N_TRAIN), slice(N_TRAIN, None)

    device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
    if device != "cpu":
        import torch

        advlib.analysis.romp(X[:N_TRAIN, :1000], Y[train], S, device=device)   # warm up CUDA
        torch.cuda.reset_peak_memory_stats()
    base = _rss_mb()
    t0 = time.perf_counter()
    coef, b = advlib.analysis.romp(X[train], Y[train], S, device=device)
    t_romp = time.perf_counter() - t0
    peak = _rss_mb() - base
    if device != "cpu":
        print(f"device {device}: peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MB")
    r_romp = _heldout_r(np.asarray(coef.T @ X[test].T).T + b, Y[test])

    t0 = time.perf_counter()
    preds = []
    for v in range(N_SAMPLE):
        omp = OrthogonalMatchingPursuit(n_nonzero_coefs=2 * S).fit(X[train], Y[train, v])
        preds.append(omp.predict(X[test]))
    t_ref = (time.perf_counter() - t0) / N_SAMPLE * N_VERT
    r_ref = _heldout_r(np.column_stack(preds), Y[test, :N_SAMPLE])

    print(f"problem: {N_TRAIN} train / {N_TEST} test images x {N_UNITS} units, {N_VERT} vertices")
    print(f"advlib.analysis.romp on {device} (all vertices, one call): {t_romp:.2f} s, "
          f"peak RSS growth {peak:.0f} MB "
          f"(the design matrix itself is {X[train].nbytes / 2**20:.0f} MB)")
    print(f"sklearn OMP loop: {t_ref:.1f} s (scaled from {N_SAMPLE} vertices)")
    print(f"ratio: {t_ref / t_romp:.1f}x (target >= 10x)")
    print(f"held-out r: romp {np.mean(r_romp[:N_SAMPLE]):.3f} vs sklearn OMP {np.mean(r_ref):.3f} "
          f"on the same {N_SAMPLE} vertices (romp over all {N_VERT}: {np.mean(r_romp):.3f})")
    cross_validation(X[train], Y[train, :N_CV])


def cross_validation(X, Y, repeats: int = 3) -> None:
    """The sparsity grid's cross-validation against one ``romp`` call per fold and level
    (the best of ``repeats`` runs of each, alternating)."""
    from advlib.allocator import tune_allocator
    from advlib.analysis.encoding import _folds

    tune_allocator()                # as in the pipeline: large freed blocks are reused
    grid, n = (1, 2, 4, 8), len(X)

    def separate():
        sse = np.zeros((len(grid), Y.shape[1]))
        for tr, te in _folds(n, 5, 0):
            for gi, s in enumerate(grid):
                coef, b = advlib.analysis.romp(X[tr], Y[tr], s)
                sse[gi] += ((np.asarray(coef.T @ X[te].T).T + b - Y[te]) ** 2).sum(0)
        return sse / n

    times = {"shared": [], "separate": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        shared = advlib.analysis.choose_n_nonzero(X, Y, grid=grid, n_folds=5, seed=0)[1]
        times["shared"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        reference = separate()
        times["separate"].append(time.perf_counter() - t0)
    same = np.array_equal(shared, reference)
    print(f"cross-validation ({n} images x {X.shape[1]} units, {Y.shape[1]} targets, 5 folds, "
          f"grid {grid}): fold design shared {min(times['shared']):.2f} s, one romp per fold "
          f"and level {min(times['separate']):.2f} s, ratio "
          f"{min(times['separate']) / min(times['shared']):.2f}x; held-out errors "
          f"{'identical' if same else 'DIFFER'}")


if __name__ == "__main__":
    main()
