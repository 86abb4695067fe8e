"""The process pool the stages compute in: joblib's ``Parallel``, built in one place.

Every stage that spreads its work over ``--jobs`` processes (the subjects, the calibration,
the ground-truth study, brain RSA, encoding) takes its ``Parallel`` from
:func:`worker_pool`. joblib keeps its worker processes from one call to the next only while
every call passes the same executor settings; built here, they stay the same, and a worker
that is kept keeps its imports and its per-process caches (the ground-truth study's
observer models, for instance). A ``Parallel`` built elsewhere with other settings would
shut the workers down under the steps computing in them (``tests/test_pool.py`` checks
that the library builds none).

The one setting added here is loky's memory-leak check. After its first task a loky worker
records its resident memory, and a worker that has grown by more than 300 MB since then is
stopped and replaced ("A worker stopped while some jobs were given to the executor"). With
the allocator settings of :mod:`advlib.allocator` a process keeps freed blocks for reuse,
so its resident memory stays near its peak: a worker whose first task was small and a
later one large looked leaky, and was replaced mid-build (imports and caches again, about
2.7 s of work each for the study; 4 replacements in one rebuild of the pooled stages).
:func:`worker_pool`'s workers allow :data:`WORKER_MEMORY_GROWTH` of growth instead, so
loky's recycling is in effect off: a machine with little memory per worker should run
fewer ``--jobs``. The numbers computed do not change: every worker of the pool gets the
same thread settings from joblib (``cpu_count() // jobs`` threads for the BLAS libraries),
whichever worker a task lands on, and each task seeds itself.
"""
from __future__ import annotations

from .errors import expect

__all__ = ["WORKER_MEMORY_GROWTH", "worker_pool"]

#: Resident-memory growth after its first task (bytes) at which loky replaces a worker
#: (loky's own default: 300 MB).
WORKER_MEMORY_GROWTH = 8 * 1024 ** 3


def _worker_setup() -> None:
    """Run by each worker process as it starts: loky's leak threshold raised (nothing
    happens where a loky version has no such setting)."""
    from joblib.externals.loky import process_executor

    if hasattr(process_executor, "_MAX_MEMORY_LEAK_SIZE"):
        process_executor._MAX_MEMORY_LEAK_SIZE = WORKER_MEMORY_GROWTH


def worker_pool(jobs: int, **options):
    """``joblib.Parallel(n_jobs=jobs, **options)`` on the project's worker settings.

    Parameters
    ----------
    jobs : int
        Worker processes (1: the calls run in this process, as joblib does).
    **options
        Passed to :class:`joblib.Parallel` (e.g. ``return_as="generator"``); not
        ``initializer`` (:class:`advlib.errors.InputError`).

    Returns
    -------
    joblib.Parallel
    """
    from joblib import Parallel

    expect("initializer" not in options, "initializer", options.get("initializer"),
           "not given: the pool's workers run advlib.pool's own setup, the same for every "
           "stage (another would start other workers)")
    return Parallel(n_jobs=jobs, initializer=_worker_setup, **options)
