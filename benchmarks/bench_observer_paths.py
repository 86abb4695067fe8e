"""The ground-truth study's cheap path against the full path: same rates, and how much faster.

For each dataset seed ``k`` (anatomy and responses of its subjects), the full path
simulates the time series and fits the GLM (``advlib.fmri.simulation.simulate_dataset``),
then :func:`advlib.analysis.ground_truth_rsa` scores the two study variants; the cheap path
draws ``n_cheap`` datasets of betas for the same subjects
(:func:`advlib.analysis.study_seed`) with the beta noise measured on the full-path dataset
(:func:`advlib.fmri.simulation.dataset_noise`), as the book's study does. Printed per SNR
and variant: the rate of RE-AI p < 0.005, of RE-AN p < 0.05 (observer data), of RE-AI >
RE-AN (swap p <= 0.0001), the mean RE-AN and RE-AI bias, on each path with its SE over
datasets, and the seconds per dataset on each path.

Needs the stimulus set: `advlib stimuli --out results/efficientnet_lite0/stimuli` (or
`make book`). Run: .venv/bin/python benchmarks/bench_observer_paths.py [STIM] [N_SEEDS]
"""

import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import advlib
from advlib.analysis import STUDY_VARIANTS, ground_truth_rsa, observer_models, study_seed
from advlib.fmri.simulation import dataset_noise, simulate_dataset

STIM = Path(sys.argv[1] if len(sys.argv) > 1 else "results/efficientnet_lite0/stimuli")
N_SEEDS = int(sys.argv[2]) if len(sys.argv) > 2 else 4
SNRS = (0.8, 3.2)
N_CHEAP = 4


def _rates(table: pd.DataFrame, unit: str) -> pd.DataFrame:
    t = table.assign(ai=table.p_perm_re_ai < 0.005, an=table.p_perm_re_an < 0.05,
                     diff=(table.re_ai > table.re_an) & (table.p_diff <= 1e-4),
                     bias_an=table.re_an - table.truth_re_an,
                     bias_ai=table.re_ai - table.truth_re_ai)
    cols = ["ai", "an", "diff", "bias_an", "bias_ai"]
    per = t.groupby(["snr", "normalize", unit])[cols].mean().astype(float)
    g = per.groupby(["snr", "normalize"])
    se = g.std(ddof=1) / np.sqrt(g.size().to_numpy()[:, None])
    return g.mean().round(3).astype(str) + " ± " + se.round(3).astype(str)


def main():
    if not (STIM / "manifest.csv").is_file():
        raise SystemExit(f"no stimulus set at {STIM}: run `advlib stimuli --out {STIM}` first")
    warnings.simplefilter("ignore", RuntimeWarning)
    manifest = advlib.load_manifest(STIM)
    full, cheap, t_full, t_cheap = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(1, N_SEEDS + 1):
            models = observer_models(STIM, seed=k)
            for snr in SNRS:
                t0 = time.perf_counter()
                out = Path(tmp) / f"seed{k}-snr{snr}"
                simulate_dataset(STIM, out, (1, 2, 3), seed=k, snr=snr, progress=False)
                table = ground_truth_rsa(out, STIM, n_perm=1000, n_boot=0, seed=k,
                                         variants=STUDY_VARIANTS)
                t_full.append(time.perf_counter() - t0)
                full.append(table.assign(snr=snr, dataset=k))
                noise = dataset_noise(out)                 # as the book's study does
                for j in range(N_CHEAP):
                    t0 = time.perf_counter()
                    part = study_seed(models, manifest, snr=snr, design="paper", seed=j,
                                      noise=noise)
                    t_cheap.append(time.perf_counter() - t0)
                    cheap.append(part[part.data == "observer"].assign(dataset=f"{k}-{j}"))
    print(f"{N_SEEDS} full-path datasets and {N_SEEDS * N_CHEAP} cheap-path datasets per SNR "
          "(3 subjects x 5 ROIs each); rates over ROI tests, SE over datasets")
    print("full path:\n", _rates(pd.concat(full), "dataset").to_string())
    print("cheap path:\n", _rates(pd.concat(cheap), "dataset").to_string())
    print(f"seconds per dataset: full path {np.mean(t_full):.1f} (simulation, GLM and "
          f"analysis), cheap path {np.mean(t_cheap):.1f} (both data kinds); ratio "
          f"{np.mean(t_full) / np.mean(t_cheap):.1f}")


if __name__ == "__main__":
    main()
