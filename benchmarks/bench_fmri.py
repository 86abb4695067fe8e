"""fMRI stage speed: simulation + GLM per subject, and vectorized vertex selection against a
per-vertex Python loop on the same disks, in one run.

1. Simulate one subject of the embedded stimulus set at the default settings (observer,
   10 runs of time series, GLM with the choice of noise regressors) and report the time.
2. Searchlight reliability for every vertex of that subject: advlib's sparse-matrix
   implementation against a loop over vertices (``compute_rdm`` twice and
   ``compare_rdms`` per disk). Same numbers (checked), ratio reported.

Needs the stimulus set: `advlib stimuli --out results/efficientnet_lite0/stimuli` (or
`make book`). Run: .venv/bin/python benchmarks/bench_fmri.py
"""

import tempfile
import time
from pathlib import Path

import numpy as np

import advlib

STIM = Path("results/efficientnet_lite0/stimuli")   # advlib.Layout("results", model).stimuli_dir


def main():
    if not (STIM / "manifest.csv").is_file():
        raise SystemExit(f"no stimulus set at {STIM}: run `advlib stimuli --out {STIM}` first")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        folder = advlib.fmri.simulation.simulate_subject(STIM, tmp, 1, progress=False)
        sim_s = time.perf_counter() - t0
        sub = advlib.load_subject(folder)
    n_v = sub.betas.shape[1]
    xy = sub.vertices[["x_mm", "y_mm"]].to_numpy()

    t0 = time.perf_counter()
    disks = advlib.fmri.geodesic_disks(xy, sub.faces, 3.0)
    disk_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast = advlib.fmri.reliability_map(sub.betas, sub.conditions, disks)
    fast_s = time.perf_counter() - t0

    cond = sub.conditions[sub.conditions.kind == "RE"]
    ids = sorted(cond.image_id.unique())
    p = {k: sub.betas.loc[cond[cond.presentation == k].set_index("image_id").loc[ids, "condition"]]
         .to_numpy() for k in (1, 2)}
    t0 = time.perf_counter()
    slow = np.full(n_v, np.nan)
    for v in range(n_v):
        m = disks[v].indices
        try:
            slow[v] = advlib.analysis.compare_rdms(advlib.analysis.compute_rdm(p[1][:, m]),
                                          advlib.analysis.compute_rdm(p[2][:, m]))
        except advlib.AdvlibError:
            pass
    slow_s = time.perf_counter() - t0
    ok = np.isfinite(slow) & np.isfinite(fast)
    print(f"subject: {n_v} vertices, {sub.betas.shape[0]} conditions, "
          f"{int(disks.sum(1).mean())} vertices per 3 mm disk on average")
    print(f"simulate + GLM (1 subject)         {sim_s:8.1f} s")
    print(f"geodesic disks (Dijkstra)          {disk_s:8.2f} s")
    print(f"reliability map, vectorized        {fast_s:8.3f} s")
    print(f"reliability map, per-vertex loop   {slow_s:8.3f} s")
    print(f"  speed-up                         {slow_s / fast_s:8.1f}x")
    print(f"  max |difference|                 {np.max(np.abs(fast[ok] - slow[ok])):8.2e}")


if __name__ == "__main__":
    main()
