"""Stimulus-set and feature-extraction speed, as ratios against plain passes in the same run.

1. Build the full embedded RE/AN/AI set (all qualifying images) and compare its wall time
   with (total optimizer steps) x (one forward+backward pass of the same batch size): the
   ratio says how much overhead the pipeline adds on top of the optimization it must do.
   Target: the full 20-image set in under 3 minutes on 2 CPU cores.
2. Feature extraction (hooks on all 8 readouts, copies included) against a plain forward
   pass of the same images. Target: overhead under 1.2x.

Run: .venv/bin/python benchmarks/bench_stimuli.py  (prints a table; writes nothing else)
"""

import tempfile
import time

import numpy as np
import torch

import advlib
from advlib.cnn.stimulus_set import load_stimulus_images


def _time(fn, repeat=3):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    torch.set_num_threads(2)
    model = advlib.load_model("efficientnet_lite0", device="cpu")
    batch = 8
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        manifest = advlib.build_stimulus_set(model, f"{tmp}/set", progress=False, batch_size=batch)
        build_s = time.perf_counter() - t0
        re_images, _ = load_stimulus_images(f"{tmp}/set", "RE")
    adv = manifest[manifest.kind != "RE"]
    n_steps = int(adv.n_steps.sum())

    x = torch.from_numpy(re_images[:batch]).clone().requires_grad_(True)

    def step():
        loss = torch.log_softmax(model(x), 1)[:, 0].sum()
        loss.backward()

    step_s = _time(step) / batch  # per image: the optimizer's unit of work
    reference_s = n_steps * step_s

    plain_x = torch.from_numpy(re_images)

    def plain():
        with torch.no_grad():
            for s in range(0, len(plain_x), 16):
                model(plain_x[s:s + 16])

    plain_s = _time(plain)
    hooked_s = _time(lambda: advlib.cnn.extract_features(model, re_images, batch_size=16))

    print(f"images: {len(re_images)} RE (+ as many AN and AI), batch {batch}, "
          f"{torch.get_num_threads()} threads")
    print(f"stimulus set build            {build_s:8.1f} s   (target < 180 s)")
    print(f"  optimizer steps (all images) {n_steps:7d}")
    print(f"  steps x fwd+bwd per image   {reference_s:8.1f} s")
    print(f"  ratio build / reference     {build_s / reference_s:8.2f}")
    print(f"  converged                   {int(adv.converged.sum())}/{len(adv)}")
    print(f"feature extraction, 8 layers  {hooked_s:8.3f} s")
    print(f"plain forward pass            {plain_s:8.3f} s")
    print(f"  ratio hooks / plain         {hooked_s / plain_s:8.2f}   (target < 1.2)")


if __name__ == "__main__":
    main()
