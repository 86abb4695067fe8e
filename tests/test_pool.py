"""advlib.pool: the stages' process pool keeps its workers (issue 26)."""

import ast
import os
import time
from pathlib import Path

import numpy as np
import pytest
from joblib import Parallel, delayed

from advlib.errors import InputError
from advlib.pool import WORKER_MEMORY_GROWTH, worker_pool

ROOT = Path(__file__).resolve().parent.parent / "advlib"
_HELD = []


def _probe(_):
    from joblib.externals.loky import process_executor

    return os.getpid(), process_executor._MAX_MEMORY_LEAK_SIZE


def _meet(folder, size_mb=1, wait=0.0):
    """Both workers take one of these tasks: each waits for the other's (so each worker's
    task of a call is its own), keeps ``size_mb`` of touched memory, then waits ``wait`` s
    (loky checks a worker's memory after a task at most once a second)."""
    Path(folder, str(os.getpid())).touch()
    deadline = time.monotonic() + 30
    while len(os.listdir(folder)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    _HELD.append(np.ones(size_mb * 1024 ** 2 // 8))
    time.sleep(wait)
    return os.getpid()


def _check_after_every_task():
    from joblib.externals.loky import process_executor

    process_executor._MEMORY_LEAK_CHECK_DELAY = 0.0


def _workers(settle=0.0):
    """The pids of the pool's worker processes, after ``settle`` s (a worker that loky
    stops leaves after returning its result)."""
    from joblib.externals.loky import reusable_executor

    time.sleep(settle)
    executor = reusable_executor._executor
    return set() if executor is None else set(executor._processes)


def _grow_then_workers(parallel, tmp_path, wait):
    """Every worker's first task small, its second 400 MB: the workers before and after."""
    for name in ("first", "grown"):
        (tmp_path / name).mkdir()
    parallel(delayed(_meet)(tmp_path / "first") for _ in range(2))
    before = _workers()
    parallel(delayed(_meet)(tmp_path / "grown", 400, wait) for _ in range(2))
    return before, _workers(settle=1.0)


@pytest.fixture
def fresh_workers():
    """No workers of an earlier test, and none left holding memory after this one."""
    from joblib.externals.loky import reusable_executor

    def stop():
        if reusable_executor._executor is not None:
            reusable_executor._executor.shutdown(wait=True, kill_workers=True)

    stop()
    yield
    stop()


def test_workers_run_with_the_raised_leak_threshold():
    seen = worker_pool(2)(delayed(_probe)(i) for i in range(4))
    assert {limit for _, limit in seen} == {WORKER_MEMORY_GROWTH}


def test_one_job_runs_in_this_process():
    assert worker_pool(1)(delayed(os.getpid)() for _ in range(2)) == [os.getpid()] * 2


def test_another_initializer_is_refused():
    with pytest.raises(InputError, match="initializer.*advlib.pool's own setup"):
        worker_pool(2, initializer=print)


def test_the_library_builds_no_parallel_of_its_own():
    """A Parallel with other settings would shut the pool's workers down under the steps
    computing in them: every stage takes worker_pool's."""
    found = []
    for path in ROOT.rglob("*.py"):
        if path.name == "pool.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            named = (isinstance(node, ast.Name) and node.id == "Parallel") or (
                isinstance(node, ast.Attribute) and node.attr == "Parallel") or (
                isinstance(node, ast.alias) and node.name == "Parallel")
            if named:
                found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}"
                             if hasattr(node, "lineno") else str(path))
    assert not found, found


@pytest.mark.slow           # about 4 s: workers started, loky's check waited for
def test_a_worker_that_keeps_memory_is_kept(tmp_path, fresh_workers):
    """Each worker's first task is small, its second keeps 400 MB: loky's default check
    (300 MB of growth) replaces such a worker, the pool's keeps it."""
    before, after = _grow_then_workers(worker_pool(2), tmp_path, wait=1.05)
    assert len(before) == 2 and after == before


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:A worker stopped:UserWarning")
def test_the_default_pool_replaces_such_a_worker(tmp_path, fresh_workers):
    """The check above can fail: loky's own setting (checking after every task here, to be
    quick) does replace both workers."""
    pool = Parallel(n_jobs=2, initializer=_check_after_every_task)
    before, after = _grow_then_workers(pool, tmp_path, wait=0.0)
    assert len(before) == 2 and not after & before
