"""The whole chain in one call: stimuli -> CNN RSA -> subjects -> brain RSA -> encoding ->
notebooks -> book (``advlib reproduce``), on this machine or on a Dask cluster.

``reproduce`` builds a list of steps with their dependencies. Each step calls a library
function that is a cached stage (:class:`advlib.provenance.Stage`): it decides itself
whether its outputs are up to date (same parameters, input files, code, and outputs
unchanged since it wrote them) and writes a record beside them. The executed notebooks are
stages too, keyed by their parameters, the notebook source, the library code and the
records of the stages they read. A step's status ("ran" or "up to date") is read from
whether its records were rewritten. Every path comes from :class:`advlib.layout.Layout`.

Executors
---------
Without a scheduler the steps start in order on this machine; independent per-subject work
(simulation, brain RSA, encoding, the study's seeds) runs on up to ``jobs`` processes inside
its step, and two steps whose work is all in those processes run side by side once what
they read is made (the calibration beside the subjects and the study). With
``scheduler`` (the address of a running ``dask.distributed`` scheduler) or ``cluster``
(``"local"``: a ``LocalCluster`` of ``jobs`` worker processes; ``"slurm"``, ``"pbs"``,
``"sge"``: ``dask-jobqueue``, configured in the Dask configuration file), every model x
stage x subject becomes a Dask task that waits for the tasks it reads (stimuli -> CNN RSA;
stimuli -> each subject -> dataset -> brain RSA and encoding), then the notebooks (after
every stage), then the book. Each step's seeds come from its own parameters, never from a
worker, so the tables are the same whatever the scheduler, worker count and order.

Faults: a stage is written to a temporary folder and renamed when complete, under a lock
(two workers never write one stage); a worker killed mid-task leaves no output that could
be taken as done, and the scheduler runs the task again elsewhere. A task that fails for a
reason (bad input: :class:`advlib.errors.AdvlibError`) fails the run at once with its
message; it is not retried.

Per stage step, when its results were computed and how long that took (from the stage
records) go to ``<out>/build_info.json``, shown by the book's summary page; a rebuild that
finds everything up to date leaves it, and every page, as they were.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..allocator import tune_allocator
from ..errors import AdvlibError, check_choice, check_positive_int, expect
from ..fmri.data import DATASET_INFO
from ..fmri.rdm_data import KRIEGESKORTE92
from ..layout import (
    BOOK_RECORD,
    BUILD_INFO,
    CNN_RSA_TABLE,
    DEFAULT_SURFACE,
    FOLDER_RECORD,
    HIT_ADVERSARIAL_TABLE,
    HIT_RSA_TABLE,
    PAGES_FOLDER,
    Layout,
    analysis_variant,
    brain_rsa_name,
    encoding_name,
    page_name,
    page_record,
    record_name,
    seed_record,
    simulation_spec,
)
from ..provenance import atomic_path, package_versions, write_json
from .notebooks import (
    DATASETS,
    PROFILES,
    REGISTRY,
    execute_page,
    notebook_plan,
    repo_root,
    stimulus_options,
)

__all__ = ["reproduce", "STAGES", "CLUSTERS"]

STAGES = ("stimuli", "cnn_rsa", "hit_rsa", "hit_adversarial", "calibration", "subjects",
          "brain_rsa", "encoding", "notebooks", "book")

#: ``cluster`` values: a local cluster, or a batch system through dask-jobqueue.
CLUSTERS = ("local", "slurm", "pbs", "sge")

#: The paper's pipeline as published (no session normalisation, permutations across
#: sessions), run beside the default for the brain RSA (200 vertices) and the encoding.
PUBLISHED_OPTIONS = {"normalize": "none", "within_session": False}
_STIMULUS_KEYS = ("images", "n_images", "superclasses", "n_per_class", "min_confidence",
                  "max_steps", "seed", "allow_short")
PUBLISHED = analysis_variant(**PUBLISHED_OPTIONS)

#: The stages whose steps do their work in joblib's worker processes (``jobs`` of them,
#: shared): on this machine two such steps may run at a time (:func:`_run_stages_here`).
_POOLED = frozenset({"subjects", "calibration", "ground_truth", "brain_rsa", "encoding"})

#: The stages each kind of step waits for (of the same model) on a cluster.
_AFTER = {"stimuli": (), "cnn_rsa": ("stimuli",), "hit_rsa": (), "hit_adversarial": (),
          "calibration": (),
          "subjects": ("stimuli",),
          "ground_truth": ("stimuli", "subjects", "dataset"),
          "dataset": ("subjects",), "brain_rsa": ("dataset",),
          "encoding": ("dataset", "stimuli")}


@dataclass
class _Step:
    """One step of the chain: what it is, a picklable call, and the records it writes."""

    stage: str
    item: str
    call: functools.partial
    records: list = field(default_factory=list)
    model: str = ""
    cost: float = 0.0       # a page's: the costliest start first (see _costliest_first)


def _stamps(paths) -> dict:
    return {str(p): (p.stat().st_mtime_ns if p.exists() else None) for p in paths}


# --- the calls (module-level, so a step can be sent to a worker) -------------------------

@functools.lru_cache(maxsize=4)
def _model(name: str):
    """One network per process (a worker loads it once for all its tasks), built when a
    stage first computes with it: a run whose stages are up to date never reads it."""
    from ..cnn.models import load_model

    return load_model(name, lazy=True)


def _stimuli(model, stim_dir, options, progress):
    from ..cnn.stimulus_set import build_stimulus_set

    build_stimulus_set(_model(model), stim_dir, progress=progress, **options)


def _cnn_rsa(model, stim_dir, root, c, progress):
    from ..analysis.cnn_analysis import cnn_rsa

    cnn_rsa(_model(model), stim_dir, root, n_perm=c["n_perm"], n_boot=c["n_boot"],
            seed=c["seed"], progress=progress)


def _hit_rsa(model, out, h, progress):
    from ..analysis.real_rsa import hit_rsa

    hit_rsa(_model(model), results_dir=out, method=h["method"], n_perm=h["n_perm"],
            n_boot=h["n_boot"], seed=h["seed"], subset=h["subset"], progress=progress)


def _hit_adversarial(model, out, h, progress):
    from ..analysis.real_adversarial import hit_adversarial

    hit_adversarial(_model(model), results_dir=out, method=h["method"], n_perm=h["n_perm"],
                    n_boot=h["n_boot"], seed=h["seed"], max_steps=h["adversarial_steps"],
                    subset=h["subset"], progress=progress)


def _study_options(g: dict) -> dict:
    """The ground-truth study's options from the 08_ground_truth notebook parameters."""
    return {"variants": [tuple(v) for v in g["variants"]], "n_vertices": g["n_vertices"],
            "n_perm": g["n_perm"], "n_swap": g["n_swap"], "seed": g["seed"]}


def _ground_truth(results, model, base, g, snrs, designs, jobs, progress):
    from ..analysis.ground_truth_study import observer_study
    from ..fmri.simulation import dataset_noise

    layout = Layout(results, model)
    observer_study(layout, base, snrs, designs, g["n_seeds"], jobs=jobs, progress=progress,
                   noise=dataset_noise(layout.dataset_dir(base)), **_study_options(g))


def _calibration(out_dir, g, jobs, progress):
    from ..analysis.calibration import calibration_study

    # alpha: the 08_ground_truth page's own (its parameter cell), so the page finds it made
    calibration_study(out_dir, n_draws=g["calibration_draws"], alpha=0.05, seed=g["seed"],
                      coverage_draws=g["coverage_draws"], progress=progress, jobs=jobs)


def _dataset(dataset, results, model, jobs, progress):
    from ..fmri.simulation.simulate import resolve_dataset

    resolve_dataset(dataset, Layout(results, model), progress=progress, jobs=jobs)


def _subject(stim_dir, dataset_dir, subject, spec, features_dir):
    from ..fmri.simulation.simulate import simulate_subject

    simulate_subject(stim_dir, dataset_dir, subject, seed=spec["seed"], progress=False,
                     energy_cache=features_dir,
                     snr=spec["snr"], spacing=spec["spacing"], max_pcs=spec["max_pcs"],
                     design=spec["design"], surface=spec.get("surface", DEFAULT_SURFACE))


def _brain_rsa(data_dir, stim_dir, out_dir, n_vertices, b, names, jobs, progress, options):
    from ..analysis.brain_analysis import brain_rsa

    brain_rsa(data_dir, stim_dir, out_dir, n_vertices=n_vertices, n_perm=b["n_perm"],
              n_boot=b["n_boot"], seed=b["seed"], subjects=names, jobs=jobs,
              progress=progress, **options)


def _encoding(model, data_dir, stim_dir, out_dir, e, names, features_dir, jobs, progress,
              options):
    from ..analysis.encoding_study import encoding_analysis

    encoding_analysis(_model(model), data_dir, stim_dir, out_dir, solver=e["solver"],
                      n_nonzero=e["n_nonzero"], n_folds=e["n_folds"],
                      n_vertices=e["n_vertices"], n_perm=e["n_perm"], n_boot=e["n_boot"],
                      seed=e["seed"], subjects=names, features_cache=features_dir, jobs=jobs,
                      progress=progress, **options)


def _encoding_truth(model, data_dir, stim_dir, out_dir, e, names, features_dir, jobs,
                    progress):
    from ..analysis.encoding_study import layer_assignment_truth

    layer_assignment_truth(_model(model), data_dir, stim_dir, out_dir, subjects=names,
                           solver=e["solver"], n_nonzero=e["n_nonzero"], n_folds=e["n_folds"],
                           n_vertices=e["n_vertices"], seed=e["seed"],
                           features_cache=features_dir, jobs=jobs, progress=progress)


def _notebook(item, source, out, inputs, progress):
    execute_page(item, source, out, inputs, progress=progress)


def _threads() -> int:
    """The thread count this process computes with (torch's, which follows the cores)."""
    import torch

    return torch.get_num_threads()


def _execute(call, records, threads, *_after, pin: bool = True) -> dict:
    """Run one step; its status from its records. A bad-input error is returned, not
    raised, so that the scheduler does not retry it.

    ``threads`` pins torch's and the BLAS libraries' thread counts to the submitting
    process's: floating-point sums split over another number of threads round
    differently, and a Dask worker starts with one thread (``OMP_NUM_THREADS=1``), so
    without this a table made on a worker would differ in its last digits. ``pin=False``:
    the caller has pinned them for every step it runs (:func:`_pinned`).
    """
    t0 = time.perf_counter()
    before = _stamps(records)
    try:
        with _pinned(threads) if pin else contextlib.nullcontext():
            call()
    except AdvlibError as exc:
        return {"error": exc}
    status = "ran" if _stamps(records) != before else "up to date"
    return {"status": status, "seconds": round(time.perf_counter() - t0, 2)}


@contextlib.contextmanager
def _pinned(threads: int):
    """torch's and the BLAS libraries' thread counts set to ``threads``, and restored after
    (they are the process's: steps run side by side share one setting, made here once)."""
    import torch
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(previous)


# --- the plan -----------------------------------------------------------------------------

def _study_cells(layout, base, g) -> list[list[tuple]]:
    """The ground-truth study's seeds grouped by SNR x design (one step each)."""
    from ..analysis.ground_truth_study import study_tasks

    tasks = study_tasks(layout, base, g["snrs"], g["designs"], g["n_seeds"],
                        **_study_options(g))
    cells: dict = {}
    for task in tasks:
        cells.setdefault(task[0], []).append(task)
    return list(cells.values())


def _model_steps(model, profile, dataset, results, s, jobs, progress, per_subject):
    """The stage steps of one model (stimuli to encoding)."""
    from ..fmri.data import list_subjects

    prof = PROFILES[profile]
    layout = Layout(results, model)
    stim = layout.stimuli_dir
    spec = simulation_spec(dataset)
    results_dir = layout.dataset_dir(dataset)
    data_dir = results_dir if spec is not None else layout.data_dir(dataset)
    names = ([f"sub-{n:02d}" for n in spec["subjects"]] if spec is not None
             else list_subjects(data_dir))
    c, b, e = (prof[k] for k in ("02_cnn_rsa", "04_brain_rsa", "05_encoding"))
    hit_dir = layout.dataset_dir(KRIEGESKORTE92)

    def record(name: str) -> Path:
        return results_dir / record_name(Path(name).stem)

    P = functools.partial
    steps = [
        _Step("stimuli", "stimuli", P(_stimuli, model, stim, {k: s[k] for k in _STIMULUS_KEYS},
                                      progress), [stim / FOLDER_RECORD]),
        _Step("cnn_rsa", CNN_RSA_TABLE, P(_cnn_rsa, model, stim, layout.root, c, progress),
              [layout.root / record_name("cnn_rsa")]),
        _Step("hit_rsa", HIT_RSA_TABLE, P(_hit_rsa, model, hit_dir, prof["10_real_brain"],
                                          progress), [hit_dir / record_name("hit_rsa")]),
        _Step("hit_adversarial", HIT_ADVERSARIAL_TABLE,
              P(_hit_adversarial, model, hit_dir, prof["10_real_brain"], progress),
              [hit_dir / record_name("hit_images"), hit_dir / record_name("hit_adversarial")]),
    ]
    subject_records = [data_dir / n / FOLDER_RECORD for n in names]
    if per_subject and spec is not None:
        steps += [_Step("subjects", f"sub-{n:02d}", P(_subject, stim, data_dir, n, spec,
                                                         layout.features_dir), [rec])
                  for n, rec in zip(spec["subjects"], subject_records)]
        steps.append(_Step("dataset", DATASET_INFO,
                           P(_dataset, dataset, results, model, 1, False),
                           [data_dir / DATASET_INFO]))
    else:
        steps.append(_Step("subjects", f"{len(names)} simulated" if spec is not None
                           else "real data", P(_dataset, dataset, results, model, jobs,
                                               progress), subject_records))
    g = prof["08_ground_truth"]
    calibration = layout.calibration_dir
    steps.append(_Step("calibration", "calibration", P(
        _calibration, calibration, g, 1 if per_subject else jobs, progress),
        [calibration / record_name("calibration")]))
    base = spec if spec is not None else simulation_spec({"kind": "simulated"})
    cells = _study_cells(layout, base, g)
    if per_subject:         # a cluster: one task per SNR x design
        for tasks in cells:
            folder, params, _ = tasks[0]
            steps.append(_Step("ground_truth", f"study {params['design']} SNR {params['snr']:g}",
                               P(_ground_truth, results, model, base, g, [params["snr"]],
                                 [params["design"]], jobs, progress),
                               [f / seed_record(k) for f, _, k in tasks]))
    elif cells:             # here: every seed in one pool, no core idle at a cell's end
        steps.append(_Step("ground_truth", f"study, {len(cells)} SNR x design cells",
                           P(_ground_truth, results, model, base, g, g["snrs"], g["designs"],
                             jobs, progress),
                           [f / seed_record(k) for tasks in cells for f, _, k in tasks]))
    inner = 1 if per_subject else jobs
    for n_vertices, variant in [(200, ""), (400, ""), (200, PUBLISHED)]:
        # the searchlight maps (Fig 4) do not depend on the ROI size: only the Fig 3 run
        # computes them (the Fig S2 page, 400 vertices, does not show them)
        options = (PUBLISHED_OPTIONS | {"searchlight": False} if variant == PUBLISHED
                   else {"searchlight": n_vertices == 200})
        name = brain_rsa_name(n_vertices, variant)
        steps.append(_Step("brain_rsa", name, P(_brain_rsa, data_dir, stim, results_dir,
                                                n_vertices, b, names, inner, progress,
                                                options), [record(name)]))
    for variant in ["", PUBLISHED]:
        name = encoding_name(e["solver"], "encoding", variant)
        steps.append(_Step("encoding", name, P(
            _encoding, model, data_dir, stim, results_dir, e, names, layout.features_dir,
            inner, progress, PUBLISHED_OPTIONS if variant == PUBLISHED else {}),
            [record(name)]))
    if spec is not None:            # Fig S1's truth: the encoding page shows it beside Fig S1
        name = encoding_name(e["solver"], "layer_assignment_truth")
        steps.append(_Step("encoding", name, P(
            _encoding_truth, model, data_dir, stim, results_dir, e, names,
            layout.features_dir, inner, progress), [record(name)]))
    for step in steps:
        step.model = model
    return steps


def _record_groups(layout, dataset, out) -> dict[str, list[Path]]:
    """The stage records a notebook can read (:attr:`NotebookSpec.reads
    <advlib.book.notebooks.NotebookSpec>`), by group, for one model's ``layout``; ``out``
    is the pages folder (the build's own record, ``build_info``, is there)."""
    spec = simulation_spec(dataset)
    rsa_dir = layout.dataset_dir(dataset)
    hit_dir = layout.dataset_dir(KRIEGESKORTE92)
    return {
        "stimuli": [layout.stimuli_dir / FOLDER_RECORD],
        "cnn_rsa": [layout.root / record_name("cnn_rsa")],
        "subjects": ([rsa_dir / f"sub-{n:02d}" / FOLDER_RECORD for n in spec["subjects"]]
                     if spec is not None else []),
        "brain_rsa": sorted(rsa_dir.glob(record_name("brain_rsa*"))),
        "encoding": sorted(rsa_dir.glob(record_name("encoding*")))
        + sorted(rsa_dir.glob(record_name("layer_assignment_truth*"))),
        "hit_rsa": [hit_dir / record_name("hit_rsa")],
        "hit_adversarial": [hit_dir / record_name(n) for n in ("hit_images", "hit_adversarial")],
        "build_info": [out / BUILD_INFO],
    }


def _notebook_steps(model, models, profile, data, dataset, results, s, out, progress):
    """The executed notebooks of the book (the first model's chapters; the cross-model
    chapter when several models were run), in book order; each step's ``cost`` is its
    page's (:attr:`NotebookSpec.cost <advlib.book.notebooks.NotebookSpec>`).

    A page's inputs are the records of the groups its registry entry reads (of every model
    for the cross-model chapter, which gets their names as ``models``); a page that reads
    ``build_info`` gets its path as the ``build_info`` parameter.
    """
    spec = simulation_spec(dataset)
    subs = spec["subjects"] if spec is not None else None
    groups = {m: _record_groups(Layout(results, m), dataset, out) for m in models}
    registry = {entry.name: entry for entry in REGISTRY}
    notebooks_dir = repo_root() / "notebooks"
    names = [n for n, entry in registry.items() if len(models) > 1 or not entry.across_models]
    pages = []
    for item in notebook_plan(profile, model, Layout(results, model).results, data, subs,
                              names, stimuli=s):
        entry = registry[item["name"]]
        read_from = models if entry.across_models else [model]
        if entry.across_models:
            item["parameters"]["models"] = list(models)
        if "build_info" in entry.reads:          # re-run when the results changed
            item["parameters"]["build_info"] = str(out / BUILD_INFO)
        inputs = [p for r in entry.reads for m in read_from for p in groups[m][r]]
        source = notebooks_dir / page_name(item["name"])
        pages.append(_Step("notebooks", item["output"], functools.partial(
            _notebook, item, source, out, inputs, progress),
            [out / page_record(item["output"])], model, entry.cost))
    return pages


# --- executors ----------------------------------------------------------------------------

def _computed(records) -> dict:
    """When the results of a step were computed and how long that took, from its records
    (the same whether this run computed them or found them up to date)."""
    from ..provenance import read_record

    recs = [read_record(p) for p in records]
    recs = [r for r in recs if r]
    created = sorted(str(r.get("created", "")) for r in recs if r.get("created"))
    seconds = [float(r["seconds"]) for r in recs if isinstance(r.get("seconds"), (int, float))]
    return {"computed": created[-1] if created else None,
            "compute_seconds": round(sum(seconds), 2) if seconds else None}


def _log_step(log, step, result, progress):
    log.append({"stage": step.stage, "item": step.item, "status": result["status"],
                "seconds": result["seconds"], **_computed(step.records)})
    if progress:
        where = f"{step.model}: " if step.model else ""
        print(f"[reproduce] {step.stage:<9} {where}{step.item:<24} {result['status']:<10} "
              f"{result['seconds']:8.1f} s", file=sys.stderr)


def _write_info(path: Path, info: dict, log: list) -> None:
    """``build_info.json``: the run's settings and, per stage step (stimuli to encoding),
    when its results were computed (the stage records) and how long that took (the wall
    time of the run that computed them, kept from the earlier file when this run found the
    step up to date): a rebuild that finds everything up to date writes the same file.
    Written only when it changes, so the summary page that reads it stays up to date."""
    from ..provenance import read_record

    old = read_record(path) or {}
    before = {(s.get("stage"), s.get("item"), s.get("computed")): s.get("compute_seconds")
              for s in old.get("stages", [])}
    stages = []
    for row in log:
        if row["stage"] in ("notebooks", "book"):
            continue
        key = (row["stage"], row["item"], row.get("computed"))
        # the wall time of the run that computed the step: this one's, or the one recorded
        # when it was computed (a stage's record times only the writing of some outputs)
        seconds = (row["seconds"] if row["status"] == "ran"
                   else before.get(key, row.get("compute_seconds")))
        stages.append({"stage": row["stage"], "item": row["item"],
                       "computed": row.get("computed"), "compute_seconds": seconds})
    new = {**info, "stages": stages}
    if old != json.loads(json.dumps(new, default=str)):
        write_json(path, new)


def _costliest_first(steps: list) -> list:
    """``steps`` with the costliest first (ties in their order): with independent pages on
    a few slots, the long ones no longer start last and leave a slot idle at the end."""
    return sorted(steps, key=lambda step: -step.cost)


def _in_order(rows: list[dict], steps: list) -> list[dict]:
    """Log ``rows`` in the order of ``steps`` (the book's), whatever order they ran in."""
    place = {(step.stage, step.item): k for k, step in enumerate(steps)}
    return sorted(rows, key=lambda row: place.get((row["stage"], row["item"]), len(place)))


def _run_here(steps, log, progress, jobs: int = 1):
    """Run ``steps`` on this machine: in order, or ``jobs`` at a time (for steps that do
    their work in a subprocess, such as notebooks in their kernels: the order of the log is
    the order of the steps either way)."""
    threads = _threads()
    parallel = jobs > 1 and len(steps) > 1
    if not parallel:
        results = (_execute(step.call, step.records, threads) for step in steps)
    else:
        from concurrent.futures import ThreadPoolExecutor

        from ..provenance import code_key

        code_key(["advlib"])     # parse the library once here: the pages' keys then reuse it
        pool = ThreadPoolExecutor(max_workers=jobs)
        results = pool.map(lambda st: _execute(st.call, st.records, threads), steps)
    try:
        for step, result in zip(steps, results):
            if "error" in result:
                raise result["error"]
            _log_step(log, step, result, progress)
    finally:
        if parallel:
            pool.shutdown(wait=True, cancel_futures=True)


def _depends(step, earlier) -> bool:
    """Whether ``step`` waits for ``earlier`` (a step before it): it reads what ``earlier``
    makes (a stage of :data:`_AFTER` of the same model; here the subjects step makes the
    dataset too), both write the same records (the calibration, one for every network), or
    both are encodings of one network (they may extract its features, in this process: a
    network records its layers through hooks, one extraction at a time)."""
    if {str(r) for r in step.records} & {str(r) for r in earlier.records}:
        return True
    if earlier.model != step.model:
        return False
    after = set(_AFTER.get(step.stage, ()))
    if "dataset" in after:
        after.add("subjects")
    return earlier.stage in after or step.stage == earlier.stage == "encoding"


def _pool_ended(exc: BaseException) -> bool:
    """Whether ``exc`` is joblib's report that the process pool was shut down under a step:
    what the step beside a failed one sees (joblib ends the shared pool on a failure)."""
    from joblib.externals.loky.process_executor import (
        ShutdownExecutorError,
        TerminatedWorkerError,
    )

    return isinstance(exc, (ShutdownExecutorError, TerminatedWorkerError)) or (
        isinstance(exc, RuntimeError) and "executor underlying Parallel has been shutdown"
        in str(exc))


def _stop_workers() -> None:
    """End joblib's worker processes at once: the steps computing in them fail, and their
    stages write nothing (each removes what it had begun)."""
    from joblib.externals.loky import reusable_executor

    executor = getattr(reusable_executor, "_executor", None)
    if executor is not None:
        executor.shutdown(wait=False, kill_workers=True)


def _run_stages_here(steps, log, progress, jobs: int = 1):
    """Run the stage ``steps`` on this machine, in their order; with ``jobs > 1``, two at
    a time where both do their work in the process pool (:data:`_POOLED`).

    Such a step's own process only hands tasks to joblib's ``jobs`` worker processes, which
    every step shares: a second step beside it fills the workers where the first leaves one
    idle (3 subjects on 2 processes, the end of a stage). A step starts once the steps it
    waits for (:func:`_depends`) are done; a step outside the pool (the network's passes,
    on every core of this process) runs alone. torch's and the BLAS thread counts are set
    once for all of them, as for one step. Each step computes what it computes alone, so
    the tables are the same. The log keeps the steps' order.

    A failure starts no further step. A task's failure makes joblib end the shared pool, so
    a step running beside it may fail too, with the pool's end (its stage writes nothing):
    the failure raised is the first step's, in plan order, that is not the pool's end. An
    interrupt (Ctrl-C, SIGTERM) ends the pool's workers at once, so that the running steps
    stop instead of running to their end.
    """
    if jobs < 2 or len(steps) < 2:
        return _run_here(steps, log, progress)
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    threads = _threads()
    rows: dict[int, list] = {}
    running: dict = {}              # future -> index of its step
    failures: dict[int, BaseException] = {}
    k = 0
    pool = ThreadPoolExecutor(max_workers=2)
    try:
        with _pinned(threads):
            while running or (k < len(steps) and not failures):
                alone = any(steps[i].stage not in _POOLED for i in running.values())
                if (k < len(steps) and not failures and not alone and len(running) < 2
                        and (steps[k].stage in _POOLED or not running)
                        and not any(_depends(steps[k], steps[i]) for i in running.values())):
                    step = steps[k]
                    running[pool.submit(_execute, step.call, step.records, threads,
                                        pin=False)] = k
                    k += 1
                    continue
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in finished:
                    i = running.pop(future)
                    try:
                        result = future.result()
                    except Exception as exc:        # a real failure, not a bad input
                        result = {"error": exc}
                    if "error" in result:
                        failures[i] = result["error"]
                    else:
                        _log_step(rows.setdefault(i, []), steps[i], result, progress)
    except BaseException:               # an interrupt: the running steps stop now
        _stop_workers()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if failures:
        own = [i for i in sorted(failures) if not _pool_ended(failures[i])]
        raise failures[(own or sorted(failures))[0]]
    log.extend(row for i in sorted(rows) for row in rows[i])


def _run_on(client, steps, log, progress):
    """Submit ``steps`` as Dask tasks with their dependencies; wait for all of them.

    A stage step waits for the steps of the stages in :data:`_AFTER` (same model); notebook
    steps are independent of each other (the caller submits the costliest first). The
    first failure ends the run at once: every task not yet finished is cancelled (one
    already running on a worker finishes there, its stage complete or not written at all)
    and the failure is raised.
    """
    import uuid

    from distributed import as_completed

    token = uuid.uuid4().hex[:8]
    threads = _threads()
    futures, by_stage, order = {}, {}, {}
    for step in steps:
        deps = [futures[k] for st in _AFTER.get(step.stage, ())
                for k in by_stage.get((step.model, st), [])]
        key = f"{step.stage}-{step.model}-{step.item}-{token}"
        future = client.submit(_execute, step.call, step.records, threads, *deps, key=key,
                               pure=False, retries=0)
        futures[key] = future
        by_stage.setdefault((step.model, step.stage), []).append(key)
        order[key] = step
    # waited for on this client's own loop: as_completed's default is the current client's
    # (another one where the caller holds one, as in `with Client(...)`), and a future whose
    # result is lost with a killed worker after it finished is waited for again by
    # future.result() on this client's loop; an event first awaited on the other loop then
    # raised "bound to a different event loop"
    for future in as_completed(list(futures.values()), loop=client.loop):
        try:
            result = future.result()
        except Exception as exc:            # a real failure (or a worker killed too often)
            result = {"error": exc}
        if "error" in result:
            client.cancel(list(futures.values()))
            raise result["error"]
        _log_step(log, order[future.key], result, progress)


def _client(scheduler, cluster, jobs):
    """A Dask client for ``scheduler`` (an address) or a new ``cluster``; closes with it."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        return Client(scheduler), None
    if cluster == "local":
        made = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                            dashboard_address=":0")
    else:
        try:
            import dask_jobqueue
        except ImportError:
            raise AdvlibError(f"cluster={cluster!r}: expected dask-jobqueue to be installed "
                              "(pip install dask-jobqueue)") from None
        kind = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster"}[cluster]
        made = getattr(dask_jobqueue, kind)()       # options from the Dask configuration
        made.scale(jobs=jobs)
    return Client(made), made


def _write_built_with(path: Path, info: dict, stim_dir: Path, stimuli: dict,
                      log: list) -> None:
    """The book's first page names the network, the images and the data it was built with
    (the date: when the newest result was computed); written only when it changes."""
    from ..cnn.selection import design_text
    from ..cnn.stimulus_set import load_design, load_manifest

    n_regular = int((load_manifest(stim_dir).kind == "RE").sum())
    record = load_design(stim_dir)
    images = stimuli["images"]
    source = ("the 20 ImageNet photographs embedded in the `foolbox` package" if images ==
              "embedded" else f"the folder `{Path(images).name}`")
    design = ("the paper's design: " + design_text(record) if record["paper"] else
              design_text(record) + f". **Deviation from the paper**: {record['deviation']}")
    spec = simulation_spec(info["dataset"])
    data = (f"the **simulated observer** ({len(spec['subjects'])} subjects, SNR {spec['snr']:g}, "
            f"{spec['design']} session design)" if spec is not None
            else f"the dataset `{Path(str(info['dataset'])).name}`")
    weights = str(info["model_provenance"].get("weights_sha256", ""))[:12]
    dates = sorted(str(r["computed"])[:10] for r in log if r.get("computed"))
    built = dates[-1] if dates else "at an unknown date"
    text = (f"```{{admonition}} Built with\n:class: note\n"
            f"- **Network**: `{info['model']}` (weights SHA-256 {weights}...)\n"
            f"- **Images**: {n_regular} regular images from {source}; {design}\n"
            f"- **Brain data**: {data}\n"
            f"- **Profile**: {info['profile']}, results computed {built}\n```\n")
    if path.is_file() and path.read_text() == text:
        return
    with atomic_path(path) as tmp:
        tmp.write_text(text)


# --- the entry point ----------------------------------------------------------------------

def reproduce(model: str = "efficientnet_lite0", data: str = "simulated", subjects=None,
              profile: str = "full", jobs: int = 1, results="results",
              out="book/generated", book: bool = True, book_root=None,
              progress: bool = True, images=None, paper_design: bool = False,
              models=None, scheduler: str | None = None, cluster: str | None = None,
              min_confidence: float | None = None, allow_short: bool = False,
              notebooks: bool = True) -> pd.DataFrame:
    """Run every stage that is out of date, then (optionally) build the book.

    Parameters
    ----------
    model : str
        Network (``"efficientnet_lite0"``, embedded; ``"alexnet_caffe"`` and ``"alexnet"``
        need their weights).
    data : str
        ``"simulated"`` (the profile's dataset specification,
        :data:`advlib.book.notebooks.DATASETS`) or the folder of a real dataset in the
        documented format.
    subjects : list of int, optional
        Simulated subjects (default: the profile's, 1-3 for ``full``).
    profile : {"full", "smoke"}
        ``full``: the paper's settings; ``smoke``: tiny settings that run every cell.
    jobs : int
        Processes for per-subject work; with ``cluster``, its number of workers.
    results : str or path
        Results root (see :mod:`advlib.layout`).
    out : str or path
        Where the executed notebooks go (the book's source tree).
    book : bool
        Build the HTML with Jupyter Book afterwards.
    book_root : str or path, optional
        Folder with ``_config.yml`` and ``_toc.yml`` (default: the repository).
    progress : bool
    images : str or path, optional
        Regular images: ``"embedded"`` (the profile's default), a folder (class subfolders,
        or files named ``<WordNet id>_*.JPEG``) or a ``path,label`` CSV.
    paper_design : bool
        The paper's 5 superclasses x 8 categories, P > 0.99
        (:data:`advlib.book.notebooks.PAPER_DESIGN`).
    models : list of str, optional
        Several networks (default: ``[model]``). The book's chapters are the first one's;
        the chapter "Across networks" shows Fig 5 and the claims of each side by side. Their
        steps are interleaved (each network's in its order): on a cluster a network whose
        weights do not load stops the run at once.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``): run every step there.
    cluster : {"local", "slurm", "pbs", "sge"}, optional
        Start a Dask cluster for this run: ``jobs`` local worker processes, or a batch
        system's workers through dask-jobqueue (options from the Dask configuration).
    min_confidence : float, optional
        P(true class) a regular image must exceed (overrides the design's; the paper's is
        0.99; anything lower is reported as a deviation).
    allow_short : bool
        Go on when fewer images pass the criteria than the design asks for (recorded as a
        deviation, shown on the first page and in every claims table); by default the
        stimulus stage stops with the count per superclass before any later stage runs.
    notebooks : bool
        Execute the notebooks (``False``: stop after the stages, before the book).

    Returns
    -------
    pandas.DataFrame
        ``stage, item, status, seconds``: one row per step, status ``ran`` or
        ``up to date``.

    Notes
    -----
    On glibc, the calling process keeps large freed blocks for reuse from here on, and the
    processes it starts inherit the settings (:func:`advlib.allocator.tune_allocator`).
    """
    check_choice(profile, "profile", PROFILES)
    check_positive_int(jobs, "jobs")
    tune_allocator()           # large arrays reused, not re-mapped (here and in workers)
    models = list(dict.fromkeys(models or [model]))
    from ..cnn.models import MODELS, check_weights

    for m in models:
        expect(m in MODELS, "models", m, f"names from {', '.join(MODELS)}")
    for m in models:            # before any work: not on a worker once the others' is done
        check_weights(m)
    expect(scheduler is None or cluster is None, "scheduler", scheduler,
           "either a scheduler address or a cluster to start, not both")
    if cluster is not None:
        check_choice(cluster, "cluster", CLUSTERS)
    model = models[0]
    out = Path(out).resolve()
    root = Path(book_root).resolve() if book_root else repo_root()
    expect(not (book and notebooks) or out == root / PAGES_FOLDER, "out", str(out),
           f"{root / PAGES_FOLDER}: the book is built from the pages executed there "
           "(to execute the notebooks elsewhere, turn the book off: --no-book)")
    if data == "simulated":
        dataset = dict(DATASETS[profile])
        if subjects:
            dataset["subjects"] = [int(s) for s in subjects]
    else:
        dataset = str(Path(data).resolve())
    spec = simulation_spec(dataset)
    s = stimulus_options(profile, images, paper_design, min_confidence, allow_short)
    distributed = scheduler is not None or cluster is not None
    # the networks' steps interleaved, each network's in its own order: on a cluster the
    # next network's first steps start beside the first one's, so a network whose weights
    # do not load stops the run at once, not after the first network's independent stages
    per_model = [_model_steps(m, profile, dataset, results, s, jobs,
                              progress and not distributed, distributed) for m in models]
    stage_steps = [step for steps in itertools.zip_longest(*per_model) for step in steps
                   if step is not None]

    log = []
    info_path = out / BUILD_INFO
    info = {"profile": profile, "model": model, "models": models, "data": str(data),
            "dataset": dataset, "subjects": spec["subjects"] if spec is not None else [],
            "jobs": jobs, "executor": scheduler or (f"dask {cluster} cluster" if cluster
                                                    else "this machine"),
            "parameters": {**PROFILES[profile], "01_stimuli": s},
            "versions": package_versions(), "model_provenance": _model(model).provenance(),
            "stages": []}
    client, made = _client(scheduler, cluster, jobs) if distributed else (None, None)
    try:
        if client is not None and progress:
            print(f"[reproduce] Dask dashboard: {client.dashboard_link}", file=sys.stderr)
        (_run_on(client, stage_steps, log, progress) if client is not None
         else _run_stages_here(stage_steps, log, progress, jobs))
        if notebooks:
            _write_info(info_path, info, log)   # the summary page reads the stages so far
            _write_built_with(out / "built_with.md", info, Layout(results, model).stimuli_dir,
                              s, log)
            pages = _notebook_steps(model, models, profile, data, dataset, results, s,
                                    out, progress and not distributed)
            done = len(log)
            queue = _costliest_first(pages)     # independent pages, each in its own kernel
            (_run_on(client, queue, log, progress) if client is not None
             else _run_here(queue, log, progress, jobs))
            log[done:] = _in_order(log[done:], pages)
    finally:
        if client is not None:
            client.close()
        if made is not None:
            made.close()
    if book and notebooks:
        log.append(_build_book(root))
    return pd.DataFrame(log, columns=["stage", "item", "status", "seconds"])


def _book_sources(root: Path) -> list[Path]:
    """Every file the HTML is built from: the book's configuration, table of contents,
    pages, executed notebooks, figures and bibliography (not the stage records)."""
    files = [root / "_config.yml", root / "_toc.yml"]
    files += sorted(p for p in (root / "book").rglob("*")
                    if p.is_file() and ".stages" not in p.parts and "__pycache__" not in p.parts)
    return [p for p in files if p.is_file()]


def _sphinx_warnings(output: str) -> list[str]:
    """The distinct warning lines of a Sphinx build's output, in order, without colours.

    Parameters
    ----------
    output : str
        What ``jupyter-book build`` printed (stdout and stderr).

    Returns
    -------
    list of str
    """
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)
    lines = [line.strip() for line in plain.splitlines() if "WARNING:" in line]
    return list(dict.fromkeys(lines))


def _build_book(root: Path) -> dict:
    """Build the HTML with Jupyter Book, unless it was built from these very sources.

    The build's record (:data:`advlib.layout.BOOK_RECORD`) keeps the cache key of every source file
    (:func:`_book_sources`) and the jupyter-book version; the build runs again when any
    differs or the HTML is missing. It also keeps the build's Sphinx warnings (``warnings``:
    a broken docstring or reference still builds, but renders badly).

    Returns
    -------
    dict
        The log row: ``stage="book", item, status ("ran" or "up to date"), seconds``.
    """
    from ..provenance import cache_key, read_record

    t0 = time.perf_counter()
    record = root / BOOK_RECORD
    sources = _book_sources(root)
    key = cache_key({"stage": "book", "versions": package_versions()}, sources)
    old = read_record(record) or {}
    if old.get("cache_key") == key and (root / "_build" / "html" / "index.html").is_file():
        status = "up to date"
    else:
        cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", "--all", str(root)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        output = done.stdout + done.stderr
        expect(done.returncode == 0, "jupyter-book build", f"exit {done.returncode}",
               f"a built book; its output ends with:\n{output[-3000:]}")
        write_json(record, {"stage": "book", "cache_key": key, "sources": len(sources),
                            "warnings": _sphinx_warnings(output)})
        status = "ran"
    return {"stage": "book", "item": "_build/html", "status": status,
            "seconds": round(time.perf_counter() - t0, 2)}
