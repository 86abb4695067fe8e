"""Searchlight RSA speed: advlib's vectorized maps against a plain rsatoolbox loop.

Fig 4 needs, for every vertex of a subject's patch, the RE-AN and RE-AI similarity in its
3 mm geodesic disk and a permutation p-value (1000 permutations). Measured in one run on
the same simulated subject and the same disks:

* advlib: :func:`advlib.analysis.searchlight_rsa` over the whole patch (sparse-matrix RDMs, ranks
  once, permutations as index gathers);
* reference: a per-vertex loop with rsatoolbox (``calc_rdm`` of the RE, AN and AI patterns
  in the disk, ``compare`` for the two similarities, and for each permutation ``calc_rdm``
  + ``compare`` of the shuffled AN and AI patterns). It is run on a sample of vertices and
  its time per vertex scaled to the whole patch.

Target: at least 20x. Needs a simulated dataset (`make book`, or `advlib simulate`).
Run: .venv/bin/python benchmarks/bench_searchlight.py
"""

import time
from pathlib import Path

import numpy as np
from rsatoolbox.data import Dataset
from rsatoolbox.rdm import calc_rdm, compare

import advlib
import advlib.book.notebooks

LAYOUT = advlib.Layout(Path("results"), "efficientnet_lite0")
STIM = LAYOUT.stimuli_dir
DATA = LAYOUT.dataset_dir(advlib.book.notebooks.DATASETS["full"])
N_PERM, N_SAMPLE = 1000, 8


def main():
    if not (DATA / "sub-01" / "betas.npy").is_file():
        raise SystemExit(f"no simulated subject in {DATA}: run `make book` first")
    manifest = advlib.load_manifest(STIM)
    sub = advlib.load_subject(DATA / "sub-01", manifest=manifest)
    pat = advlib.analysis.kind_patterns(sub, manifest)
    disks = advlib.fmri.geodesic_disks(sub.vertices[["x_mm", "y_mm"]].to_numpy(), sub.faces, 3.0)
    n_v = disks.shape[0]

    t0 = time.perf_counter()
    maps = advlib.analysis.searchlight_rsa(pat, disks, n_perm=N_PERM, seed=0)
    ours = time.perf_counter() - t0
    sources = sorted(manifest.source_id.unique())
    sessions = advlib.fmri.image_sessions(sub.conditions, advlib.cnn.re_image_ids(manifest, sources))
    t0 = time.perf_counter()
    advlib.analysis.searchlight_rsa(pat, disks, n_perm=N_PERM, seed=0, blocks=sessions)
    blocked = time.perf_counter() - t0

    rng = np.random.default_rng(1)
    roi = np.flatnonzero((sub.vertices.roi != "").to_numpy())
    sample = rng.choice(roi, N_SAMPLE, replace=False)
    n_img = pat["RE"].shape[0]
    t0 = time.perf_counter()
    ref = {}
    for v in sample:
        m = disks[v].indices
        rdm = {k: calc_rdm(Dataset(p[:, m]), method="correlation") for k, p in pat.items()}
        for k in ("AN", "AI"):
            obs = compare(rdm["RE"], rdm[k], method="spearman")[0, 0]
            null = np.empty(N_PERM)
            for i in range(N_PERM):
                shuffled = Dataset(pat[k][rng.permutation(n_img)][:, m])
                null[i] = compare(rdm["RE"], calc_rdm(shuffled, method="correlation"),
                                  method="spearman")[0, 0]
            ref[(v, k)] = (obs, (1 + np.sum(null >= obs)) / (1 + N_PERM))
    loop = (time.perf_counter() - t0) / N_SAMPLE * n_v

    diff = max(abs(ref[(v, k)][0] - maps[f"re_{k.lower()}"][v]) for v in sample for k in ("AN", "AI"))
    print(f"sub-01: {n_v} vertices, {n_img} images per kind, {N_PERM} permutations")
    print(f"advlib vectorized (whole patch)         {ours:9.1f} s")
    print(f"rsatoolbox loop (scaled from {N_SAMPLE} vertices) {loop:9.1f} s")
    print(f"speed-up                                {loop / ours:9.1f}x   (target >= 20x)")
    print(f"within-session permutations (blocked)   {blocked:9.1f} s = {blocked / ours:.2f}x the "
          "unrestricted time (target <= 1.2x)")
    print(f"max |similarity difference| on sample   {diff:9.2e}")


if __name__ == "__main__":
    main()
