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


def _grow(size_mb, wait=0.0):
    """Keep ``size_mb`` of touched memory in this worker; ``wait``: seconds before returning
    (loky checks a worker's memory after a task at most once a second)."""
    _HELD.append(np.ones(size_mb * 1024 ** 2 // 8))
    time.sleep(wait)
    return os.getpid()


def _check_after_every_task():
    from joblib.externals.loky import process_executor

    process_executor._MEMORY_LEAK_CHECK_DELAY = 0.0


def test_workers_run_with_the_raised_leak_threshold():
    seen = worker_pool(2)(delayed(_probe)(i) for i in range(4))
    assert {limit for _, limit in seen} == {WORKER_MEMORY_GROWTH}


def test_one_job_runs_in_this_process():
    assert worker_pool(1)(delayed(os.getpid)() for _ in range(2)) == [os.getpid()] * 2


@pytest.mark.slow           # about 3 s: workers started, loky's check waited for
def test_a_worker_that_keeps_memory_is_kept_and_reused_by_the_next_call():
    """Each worker's first task is small, its next one keeps 400 MB: loky's default check
    (300 MB of growth) replaces such a worker, the pool's keeps it, and a later call (another
    stage) gets the same processes."""
    first = set(worker_pool(2)(delayed(_grow)(1, 0.3) for _ in range(2)))
    grown = set(worker_pool(2)(delayed(_grow)(400, 1.05) for _ in range(2)))
    later = set(worker_pool(2)(delayed(_grow)(1, 0.3) for _ in range(2)))
    assert len(first | grown | later) <= 2


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:A worker stopped:UserWarning")
def test_the_default_pool_replaces_such_a_worker():
    """The check above can fail: loky's own pool (checking after every task here, to be
    quick) does replace the worker."""
    pool = {"n_jobs": 2, "initializer": _check_after_every_task}
    pids = set(Parallel(**pool)(delayed(_grow)(1, 0.3) for _ in range(2)))
    pids |= set(Parallel(**pool)(delayed(_grow)(400) for _ in range(2)))
    pids |= set(Parallel(**pool)(delayed(_grow)(1, 0.3) for _ in range(2)))
    assert len(pids) > 2
