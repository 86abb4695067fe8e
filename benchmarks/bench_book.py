"""Where the time of `make book` goes: per step and per stage, from nothing and as a no-op.

Measured in one run on this machine: ``advlib reproduce`` (the call behind `make book`) on
a copy of the book's sources and an empty results folder, then again with nothing
changed. Printed per stage (stimuli, CNN RSA, the real-data stages, subjects, the
ground-truth study, brain RSA, encoding, notebooks, book): the steps' time, the number of
steps and its share of the run's wall time; then the ten longest steps. The pages run 2
at a time, and so do the stage steps of the process pool (the calibration beside the
subjects and the study, the brain RSA beside the study): their shares add up to more
than the wall time they took.

Targets (issue 26, 2 cores, full profile): the run from nothing at most 8 minutes; the
no-op at most 15 s, executing no notebook and building no HTML.
Run: .venv/bin/python benchmarks/bench_book.py [PROFILE] [JOBS]
"""

import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from advlib.book import reproduce

PROFILE = sys.argv[1] if len(sys.argv) > 1 else "full"
JOBS = int(sys.argv[2]) if len(sys.argv) > 2 else 2
REPO = Path(__file__).resolve().parent.parent


def _report(title: str, log: pd.DataFrame, wall: float) -> None:
    per = log.groupby("stage", sort=False).agg(seconds=("seconds", "sum"),
                                               steps=("item", "size"),
                                               ran=("status", lambda s: int((s == "ran").sum())))
    per["share"] = per.seconds / wall
    print(f"\n== {title}: {wall:.1f} s wall ({JOBS} jobs, profile {PROFILE}) ==")
    print(per.to_string(formatters={"seconds": "{:.1f}".format, "share": "{:.0%}".format}))
    print("longest steps:")
    print(log.sort_values("seconds", ascending=False).head(10).to_string(index=False))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "book"
        root.mkdir()
        for name in ("_config.yml", "_toc.yml"):
            shutil.copy(REPO / name, root / name)
        shutil.copytree(REPO / "book", root / "book",
                        ignore=shutil.ignore_patterns("generated", "__pycache__"))
        kwargs = dict(profile=PROFILE, jobs=JOBS, results=Path(tmp) / "results",
                      out=root / "book" / "generated", book_root=root, progress=False)
        for title in ("from nothing", "no-op"):
            t0 = time.perf_counter()
            log = reproduce(**kwargs)
            _report(title, log, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
