"""advlib.pool: the stages' process pool keeps its workers (issue 26)."""

import os
import time

import numpy as np
import pytest
from joblib import Parallel, delayed

from advlib.pool import WORKER_MEMORY_GROWTH, worker_pool

_HELD = []


def _probe(_):
    from joblib.externals.loky import process_executor

    return os.getpid(), process_executor._MAX_MEMORY_LEAK_SIZE


def _grow(size_mb):
    """Keep ``size_mb`` of touched memory in this worker, then let loky's check run."""
    _HELD.append(np.ones(size_mb * 1024 ** 2 // 8))
    time.sleep(1.2)                 # loky checks a worker's memory at most once a second
    return os.getpid()


def test_workers_run_with_the_raised_leak_threshold():
    seen = worker_pool(2)(delayed(_probe)(i) for i in range(4))
    assert {limit for _, limit in seen} == {WORKER_MEMORY_GROWTH}


def test_one_job_runs_in_this_process():
    assert worker_pool(1)(delayed(os.getpid)() for _ in range(2)) == [os.getpid()] * 2


@pytest.mark.slow           # 5 to 6 s: workers started, loky's check waited for
def test_a_worker_that_keeps_memory_is_kept_and_reused_by_the_next_call():
    """Each worker's first task is small, its next ones keep 400 MB: loky's default check
    (300 MB) replaces such a worker, the pool's keeps it, and a later call (another stage)
    gets the same processes."""
    first = set(worker_pool(2)(delayed(_grow)(1) for _ in range(2)))
    grown = set(worker_pool(2)(delayed(_grow)(400) for _ in range(2)))
    later = set(worker_pool(2)(delayed(_grow)(1) for _ in range(2)))
    assert later <= first | grown and len(first | grown | later) <= 2


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:A worker stopped:UserWarning")
def test_the_default_pool_replaces_such_a_worker():
    """The check above can fail: without the setting, loky does replace the worker."""
    Parallel(n_jobs=2)(delayed(_grow)(1) for _ in range(2))
    pids = set(Parallel(n_jobs=2)(delayed(_grow)(1) for _ in range(2)))
    pids |= set(Parallel(n_jobs=2)(delayed(_grow)(400) for _ in range(2)))
    pids |= set(Parallel(n_jobs=2)(delayed(_grow)(1) for _ in range(2)))
    assert len(pids) > 2
