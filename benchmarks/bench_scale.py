"""Scaling of the chain on Dask: wall time for 1, 2 and 4 workers, and the cost of a task.

Measured in one run on this machine:

* the smoke chain's analysis stages (3 simulated subjects, smoke settings: simulation,
  dataset, 3 brain RSA variants, 2 encoding variants), each run from a copy of a results
  folder whose stimulus set and CNN RSA are already made (a first, untimed run makes
  them), with ``advlib reproduce`` in one process (``--jobs 1``) and on a local Dask
  cluster of 1, 2 and 4 worker processes; reported as each run's speed-up over the
  one-process run;
* the scheduling overhead of one task: a round trip of a trivial function through the
  cluster (``client.submit(f).result()``), against calling it directly.

No target: the speed-up is bounded by the cores (2 on the project's test machine) and by
the longest chain of dependent stages.
Run: .venv/bin/python benchmarks/bench_scale.py
"""

import shutil
import tempfile
import time
from pathlib import Path

from advlib.book import reproduce
from advlib.book.notebooks import DATASETS

MODEL = "efficientnet_lite0"
SUBJECTS = [1, 2, 3]


def _noop(x):
    return x


def _run(root: Path, workers: int | None) -> float:
    t0 = time.perf_counter()
    reproduce(profile="smoke", subjects=SUBJECTS, results=root, jobs=workers or 1,
              cluster="local" if workers else None, notebooks=False, book=False,
              progress=False)
    return time.perf_counter() - t0


def _chain(base: Path, workers: int | None) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "results"
        shutil.copytree(base, root)
        for folder in (root / MODEL).glob("simulated-*"):
            shutil.rmtree(folder)
        return _run(root, workers)


def _overhead(n: int = 200) -> tuple[float, float]:
    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    for i in range(n):
        _noop(i)
    direct = (time.perf_counter() - t0) / n
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        client.submit(_noop, -1, pure=False).result()           # warm up
        t0 = time.perf_counter()
        for i in range(n):
            client.submit(_noop, i, pure=False).result()
        task = (time.perf_counter() - t0) / n
    return direct, task


def main():
    spec = DATASETS["smoke"]
    print(f"smoke chain, {len(SUBJECTS)} subjects (spacing {spec['spacing']}, "
          f"max_pcs {spec['max_pcs']})")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        _run(base, None)                              # untimed: stimuli, CNN RSA
        one = _chain(base, None)
        print(f"  one process (--jobs 1): {one:7.1f} s")
        for workers in (1, 2, 4):
            t = _chain(base, workers)
            print(f"  Dask, {workers} worker(s):  {t:7.1f} s   speed-up x{one / t:.2f}")
    direct, task = _overhead()
    print(f"task round trip {task * 1e3:.2f} ms vs direct call {direct * 1e6:.2f} us: "
          f"{task / max(direct, 1e-9):.0f}x; per stage (seconds of work) it is "
          f"{task * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
