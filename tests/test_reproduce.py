"""advlib reproduce (advlib/book/pipeline.py): the chain runs once, then only what changed."""
import contextlib
import json
import re
import shutil
from pathlib import Path

import pytest

from advlib.book import PROFILES, notebook_plan, reproduce
from advlib.errors import InputError

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_first_run_builds_everything_and_records_it(smoke_book):
    root, log = smoke_book
    outputs = [item["output"] for item in notebook_plan("smoke") if item["name"] != "09_models"]
    assert log[log.stage == "notebooks"].item.tolist() == outputs
    assert "03_fmri_sub-01" in outputs and "04_brain_rsa_s2" in outputs
    assert (log.status != "failed").all() and log.stage.tolist()[-1] == "book"
    assert (root / "_build" / "html" / "index.html").is_file()
    info = json.loads((root / "book" / "generated" / "build_info.json").read_text())
    stage_steps = log[~log.stage.isin(["notebooks", "book"])]
    assert info["profile"] == "smoke" and len(info["stages"]) == len(stage_steps)
    # when each result was computed (its stage records) and how long the run that computed
    # it took (for the steps this run computed: its wall time)
    assert all(s["computed"] for s in info["stages"])
    ran = log[log.status == "ran"].set_index("item").seconds
    assert len(ran) and all(s["compute_seconds"] == ran[s["item"]] for s in info["stages"]
                            if s["item"] in ran.index)
    assert {"torch", "numpy", "advlib"} <= set(info["versions"])


@pytest.mark.slow
def test_second_run_redoes_only_what_a_changed_parameter_touches(smoke_book, results_root,
                                                                 monkeypatch, tmp_path):
    root, _ = smoke_book
    out = root / "book" / "generated"
    info = (out / "build_info.json").read_bytes()
    pages = {p: p.stat().st_mtime_ns for p in out.glob("*.ipynb")}
    again = reproduce(profile="smoke", results=results_root, out=out, book_root=root,
                      progress=False, jobs=2).set_index("item")     # as the fixture ran it
    assert not set(again.index[again.status == "ran"])   # a no-op rebuild executes nothing
    assert again.loc["_build/html", "status"] == "up to date"   # and builds no HTML
    assert (out / "build_info.json").read_bytes() == info  # nor rewrites the build's record
    assert {p: p.stat().st_mtime_ns for p in out.glob("*.ipynb")} == pages
    with _restored(results_root, out, tmp_path), monkeypatch.context() as m:
        m.setitem(PROFILES["smoke"]["05_encoding"], "n_perm", 30)
        changed = reproduce(profile="smoke", results=results_root, out=out, book=False,
                            progress=False).set_index("item")
    assert set(changed.index[changed.status == "ran"]) == {   # the default and as published
        "encoding.csv", "encoding_published.csv", "05_encoding", "07_summary"}
    # put back as it was, the book's state is up to date again (the next tests of the book
    # start from it instead of computing the default's encoding and pages once more)
    back = reproduce(profile="smoke", results=results_root, out=out, book=False,
                     progress=False, jobs=2)       # as the fixture: the same build record
    assert not set(back.item[back.status == "ran"])


@contextlib.contextmanager
def _restored(*folders_and_spare):
    """Copy each folder aside (times kept), and put the copies back in their place on exit."""
    *folders, spare = folders_and_spare
    copies = [spare / f"copy{i}" for i in range(len(folders))]
    for folder, copy in zip(folders, copies):
        shutil.copytree(folder, copy, symlinks=True)
    try:
        yield
    finally:
        for folder, copy in zip(folders, copies):
            shutil.rmtree(folder)
            shutil.move(copy, folder)


def test_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="profile='quick': expected one of full, smoke"):
        reproduce(profile="quick", results=tmp_path)
    with pytest.raises(InputError, match="jobs=0: expected a positive integer"):
        reproduce(jobs=0, results=tmp_path)
    # the book is built from the pages executed: elsewhere only with the book off (issue 23)
    with pytest.raises(InputError, match=r"out='.*elsewhere': expected .*book/generated: the "
                                         r"book is built from the pages executed there"):
        reproduce(profile="smoke", results=tmp_path / "r", out=tmp_path / "elsewhere")
    assert not (tmp_path / "r").exists() and not (tmp_path / "elsewhere").exists()


def test_every_dataset_notebook_gets_the_profiles_one_dataset_spec(monkeypatch):
    """Changing the simulation seed reaches every notebook and moves the dataset folder, so
    notebooks can no longer overwrite each other's subjects (each used to take its own)."""
    from advlib.book.notebooks import DATASETS
    from advlib.layout import Layout

    monkeypatch.setitem(DATASETS["smoke"], "seed", 7)
    plan = notebook_plan("smoke")
    specs = [item["parameters"]["dataset"] for item in plan if "dataset" in item["parameters"]]
    assert len(specs) >= 5 and all(s == DATASETS["smoke"] for s in specs)
    layout = Layout("results", "efficientnet_lite0")
    assert layout.dataset_dir(specs[0]) != layout.dataset_dir({**specs[0], "seed": 0})
    for name in ("03_fmri", "04_brain_rsa", "05_encoding", "06_explore"):
        notebook = json.loads((REPO / "notebooks" / f"{name}.ipynb").read_text())
        source = "\n".join("".join(c["source"]) for c in notebook["cells"])
        assert re.search(r"advlib\.dataset_page\(results_dir, model,\s+dataset\)", source), name
        assert "seed=0" not in source, name


def test_fmri_page_title_names_the_dataset(tmp_path):
    (tmp_path / "labdata" / "sub-07").mkdir(parents=True)
    titles = [item["title"] for item in notebook_plan("smoke", data=str(tmp_path / "labdata"))
              if item["name"] == "03_fmri"]
    assert titles == ["Fig 2A — Dataset labdata, fMRI pipeline and vertex selection (sub-07)"]
    assert "Simulated observer" in notebook_plan("smoke", names=["03_fmri"])[0]["title"]


def _tables(layout, dataset):
    paths = [layout.cnn_rsa, layout.brain_rsa(dataset), layout.brain_rsa(dataset, 400),
             layout.encoding(dataset)]
    return {p: p.read_bytes() for p in paths}


@pytest.mark.slow
def test_a_cli_run_on_another_stimulus_set_leaves_the_book_alone(smoke_book, results_root,
                                                                 tmp_path, swap_two_images):
    """The reported scenario: `advlib cnn-rsa --stimuli OTHER` between two book builds used
    to overwrite the book's cnn_rsa.csv, and the next build took it as up to date."""
    from advlib.book.notebooks import DATASETS
    from advlib.cli import main
    from advlib.layout import Layout

    root, _ = smoke_book
    out = root / "book" / "generated"
    layout = Layout(results_root, "efficientnet_lite0")
    # as the fixture ran it (2 jobs: the same build record, so no page runs again)
    reproduce(profile="smoke", results=results_root, out=out, book=False, progress=False,
              jobs=2)
    before = _tables(layout, DATASETS["smoke"])
    pages = {p: p.stat().st_mtime_ns for p in out.glob("0[1-6]*.ipynb")}
    other = tmp_path / "other_set"
    shutil.copytree(layout.stimuli_dir, other)
    swap_two_images(other)                                  # another stimulus set
    assert main(["cnn-rsa", "--stimuli", str(other), "--results", str(results_root),
                 "--n-perm", "50", "--n-boot", "50"]) == 0
    other_table = Layout(results_root, "efficientnet_lite0", other).cnn_rsa
    assert other_table.is_file() and other_table != layout.cnn_rsa
    assert other_table.read_bytes() != before[layout.cnn_rsa]       # it really differs
    assert _tables(layout, DATASETS["smoke"]) == before             # the book's are untouched
    log = reproduce(profile="smoke", results=results_root, out=out, book=False,
                    progress=False, jobs=2).set_index("item")
    assert not set(log.index[log.status == "ran"])
    assert _tables(layout, DATASETS["smoke"]) == before
    assert {p: p.stat().st_mtime_ns for p in pages} == pages


@pytest.mark.slow
def test_an_overwritten_table_is_not_taken_as_up_to_date(smoke_book, results_root):
    """'Up to date' is read from what is on disk: a table changed behind the stage's back
    (by hand, or by an older tool) is recomputed, and the pages that show it re-run."""
    root, _ = smoke_book
    out = root / "book" / "generated"
    from advlib.book.notebooks import DATASETS
    from advlib.layout import Layout

    # the 400-vertex table: its pages are among the cheapest to re-run (the CNN RSA table,
    # checked here before, re-ran the explorer page too: 15 s of the smoke book's worker)
    table = Layout(results_root, "efficientnet_lite0").brain_rsa(DATASETS["smoke"], 400)
    good = table.read_bytes()
    table.write_bytes(good + b"\n")
    log = reproduce(profile="smoke", results=results_root, out=out, book=False,
                    progress=False, jobs=2).set_index("item")     # pages 2 at a time
    ran = set(log.index[log.status == "ran"])
    assert table.name in ran and "brain_rsa.csv" not in ran
    assert {"04_brain_rsa", "04_brain_rsa_s2"} <= ran and "02_cnn_rsa" not in ran
    assert table.read_bytes() == good


def test_the_book_is_built_again_only_when_a_source_changed(tmp_path, monkeypatch):
    """`make book` with nothing changed must not pay a Jupyter Book build (issue 26): the
    build's record keeps the key of every source file; a changed page, a new page or lost
    HTML builds again; a stage record in book/generated/.stages does not."""
    import subprocess

    from advlib.book import pipeline as module
    from advlib.layout import BOOK_RECORD
    calls = []

    def fake_build(cmd, **kwargs):
        calls.append(cmd)
        html = tmp_path / "_build" / "html"
        html.mkdir(parents=True, exist_ok=True)
        (html / "index.html").write_text("<html></html>")
        return subprocess.CompletedProcess(
            cmd, 0, "\x1b[91m/b/api.md:3: WARNING: duplicate object description\x1b[39;49;00m\n"
                    "build succeeded, 1 warning.\n", "")

    monkeypatch.setattr(module.subprocess, "run", fake_build)
    for name in ("_config.yml", "_toc.yml"):
        (tmp_path / name).write_text(f"{name}\n")
    (tmp_path / "book" / "generated" / ".stages").mkdir(parents=True)
    (tmp_path / "book" / "intro.md").write_text("# Intro\n")
    statuses = []
    for change in (None, None, "page", None, ".stages", "new", "html"):
        if change == "page":
            (tmp_path / "book" / "intro.md").write_text("# Intro, changed\n")
        elif change == ".stages":
            (tmp_path / "book" / "generated" / ".stages" / "x.json").write_text("{}")
        elif change == "new":
            (tmp_path / "book" / "generated" / "01.ipynb").write_text("{}")
        elif change == "html":
            (tmp_path / "_build" / "html" / "index.html").unlink()
        statuses.append(module._build_book(tmp_path)["status"])
    assert statuses == ["ran", "up to date", "ran", "up to date", "up to date", "ran", "ran"]
    assert len(calls) == 4 and calls[0][1:3] == ["build", "--all"]
    record = json.loads((tmp_path / BOOK_RECORD).read_text())
    assert record["sources"] == 4
    assert record["warnings"] == ["/b/api.md:3: WARNING: duplicate object description"]


def test_sphinx_warnings_are_read_without_colours_and_once_each():
    from advlib.book.pipeline import _sphinx_warnings

    out = ("reading sources... [ 50%] intro\n"
           "\x1b[91m/a.py:docstring of f:3: WARNING: Unexpected indentation.\x1b[39;49;00m\n"
           "/a.py:docstring of f:3: WARNING: Unexpected indentation.\n"
           "WARNING: doing serial read\nbuild succeeded, 2 warnings.\n")
    assert _sphinx_warnings(out) == ["/a.py:docstring of f:3: WARNING: Unexpected indentation.",
                                     "WARNING: doing serial read"]
    assert _sphinx_warnings("build succeeded.\n") == []


def test_pages_run_in_parallel_keep_their_order_and_stop_on_an_error():
    """`_run_here(..., jobs=2)` (the notebooks) logs the steps in their order whatever the
    order they finish in, and a bad-input error of one step is raised."""
    import functools
    import time

    from advlib.book.pipeline import _run_here, _Step

    def work(seconds, fail=False):
        time.sleep(seconds)
        if fail:
            raise InputError("page 'b': expected something else")

    steps = [_Step("notebooks", name, functools.partial(work, s))
             for name, s in (("a", 0.3), ("b", 0.0), ("c", 0.1))]
    log = []
    _run_here(steps, log, progress=False, jobs=2)
    assert [row["item"] for row in log] == ["a", "b", "c"]
    assert {row["status"] for row in log} == {"up to date"}   # no records were written
    steps[1].call = functools.partial(work, 0.0, fail=True)
    with pytest.raises(InputError, match="page 'b'"):
        _run_here(steps, [], progress=False, jobs=2)


def test_the_pages_start_costliest_first_and_are_logged_in_book_order(tmp_path, monkeypatch):
    """The pages are independent of each other (a summary page reads stage results only):
    reproduce hands all of them to one pool, the costliest first (ties in book order), and
    logs them in book order."""
    from advlib.book import pipeline

    calls = []
    costs = {"p1": 4, "p2": 18, "p3": 4, "summary": 6}
    monkeypatch.setattr(pipeline, "_model_steps", lambda *a, **k: [])
    monkeypatch.setattr(pipeline, "_write_built_with", lambda *a, **k: None)
    monkeypatch.setattr(pipeline, "_notebook_steps", lambda *a, **k: [
        pipeline._Step("notebooks", n, None, cost=c) for n, c in costs.items()])

    def run_here(steps, log, progress, jobs=1):
        calls.append(([step.item for step in steps], jobs))
        log.extend({"stage": step.stage, "item": step.item, "status": "ran", "seconds": 0.0}
                   for step in steps)

    monkeypatch.setattr(pipeline, "_run_here", run_here)
    table = pipeline.reproduce(profile="smoke", jobs=2, results=tmp_path / "results",
                               out=tmp_path / "pages", book=False, progress=False)
    assert calls == [([], 1), (["p2", "summary", "p1", "p3"], 2)]
    assert table.item.tolist() == ["p1", "p2", "p3", "summary"]


def test_the_registry_costs_order_the_book_pages(tmp_path):
    """The book's own pages: the network-building page first, the cheapest last."""
    from advlib.book import pipeline
    from advlib.book.notebooks import DATASETS, REGISTRY, stimulus_options

    s = stimulus_options("full", None, False, None, False)
    pages = pipeline._notebook_steps("efficientnet_lite0", ["efficientnet_lite0"], "full",
                                     "simulated", dict(DATASETS["full"]), tmp_path, s,
                                     tmp_path / "pages", False)
    cost = {spec.name: spec.cost for spec in REGISTRY}
    assert [st.cost for st in pages] == [cost[st.item.split("_sub-")[0].replace("_s2", "")]
                                        for st in pages]
    queue = pipeline._costliest_first(pages)
    assert queue[0].item == "06_explore"
    assert [st.cost for st in queue] == sorted((st.cost for st in pages), reverse=True)


def test_the_study_is_one_pool_here_and_one_task_per_cell_on_a_cluster(tmp_path):
    """On this machine every seed of the ground-truth study goes to one pool (no core idles
    at the end of each SNR x design cell); on a cluster each cell is its own task. Either
    way the steps cover every seed's record, once."""
    from advlib.book import pipeline
    from advlib.book.notebooks import DATASETS, PROFILES, stimulus_options

    g = PROFILES["full"]["08_ground_truth"]
    s = stimulus_options("full", None, False, None, False)

    def study(per_subject):
        steps = pipeline._model_steps("efficientnet_lite0", "full", dict(DATASETS["full"]),
                                      tmp_path, s, 2, False, per_subject)
        return [st for st in steps if st.stage == "ground_truth"]

    here, cluster = study(False), study(True)
    n_cells = len(g["snrs"]) * len(g["designs"])
    assert len(here) == 1 and len(cluster) == n_cells
    records = [r for st in cluster for r in st.records]
    assert len(records) == len(set(records)) == n_cells * g["n_seeds"]
    assert sorted(here[0].records) == sorted(records)
    # the one step asks for every SNR and design; a cell's task for its own only
    assert here[0].call.args[4:6] == (g["snrs"], g["designs"])
    assert {(tuple(st.call.args[4]), tuple(st.call.args[5])) for st in cluster} == {
        ((snr,), (d,)) for snr in g["snrs"] for d in g["designs"]}


def _timed_steps(plan, spans, fail=None):
    """Stage steps that sleep and note when they ran: ``plan`` is ``(stage, item, s)``."""
    import functools
    import time

    from advlib.book.pipeline import _Step

    def work(item, seconds):
        start = time.perf_counter()
        time.sleep(seconds)
        spans[item] = (start, time.perf_counter())
        if item == fail:
            raise InputError(f"step {item!r}: expected something else")

    return [_Step(stage, item, functools.partial(work, item, s), model="m")
            for stage, item, s in plan]


def test_pooled_stage_steps_run_two_at_a_time_after_what_they_read():
    """With jobs > 1 two steps of the process pool run side by side (the calibration beside
    the subjects), a step waits for the steps it reads (the study and the brain RSA for the
    subjects), a step outside the pool (the network's) runs alone, and the log keeps the
    steps' order."""
    from advlib.book.pipeline import _run_stages_here

    plan = [("stimuli", "stimuli", 0.05), ("subjects", "subjects", 0.1),
            ("calibration", "calibration", 0.25), ("ground_truth", "study", 0.1),
            ("brain_rsa", "brain", 0.05), ("hit_adversarial", "hit", 0.05)]
    spans, log = {}, []
    _run_stages_here(_timed_steps(plan, spans), log, progress=False, jobs=2)
    assert [row["item"] for row in log] == [item for _, item, _ in plan]

    def overlap(a, b):
        return spans[a][0] < spans[b][1] and spans[b][0] < spans[a][1]

    assert overlap("subjects", "calibration")            # independent, both in the pool
    assert spans["study"][0] >= spans["subjects"][1]     # reads the subjects' dataset
    assert overlap("study", "calibration")
    assert spans["brain"][0] >= spans["subjects"][1]
    for item in ("stimuli", "hit"):                      # the network's steps run alone
        assert not any(overlap(item, other) for other in spans if other != item)
    # one process: one step at a time, in order
    spans.clear()
    _run_stages_here(_timed_steps(plan, spans), [], progress=False, jobs=1)
    ends = [spans[item] for _, item, _ in plan]
    assert all(a[1] <= b[0] for a, b in zip(ends, ends[1:]))


def test_a_failed_stage_step_starts_nothing_more_and_is_raised():
    """A step that fails: the step beside it finishes, no later step starts, the error is
    raised."""
    from advlib.book.pipeline import _run_stages_here

    plan = [("subjects", "subjects", 0.05), ("calibration", "calibration", 0.2),
            ("brain_rsa", "brain", 0.05)]
    spans = {}
    with pytest.raises(InputError, match="step 'subjects'"):
        _run_stages_here(_timed_steps(plan, spans, fail="subjects"), [], progress=False,
                         jobs=2)
    assert set(spans) == {"subjects", "calibration"}     # the calibration ran to its end


def test_the_failure_raised_is_the_steps_own_not_the_pools_end():
    """A failed task makes joblib end the shared pool, and the step beside it then fails
    with that: the error raised is the failed step's own, even when the other one's arrives
    first; the pool's end is recognised as joblib reports it."""
    import functools
    import threading
    import time

    from joblib import delayed

    from advlib.book.pipeline import _pool_ended, _run_stages_here, _Step
    from advlib.pool import worker_pool

    ended = RuntimeError("The executor underlying Parallel has been shutdown. This is ...")

    def fail(seconds, exc):
        time.sleep(seconds)
        raise exc

    steps = [_Step("subjects", "beside", functools.partial(fail, 0.02, ended), model="m"),
             _Step("calibration", "failed", functools.partial(
                 fail, 0.1, InputError("calibration: expected something else")), model="m")]
    with pytest.raises(InputError, match="calibration: expected"):
        _run_stages_here(steps, [], progress=False, jobs=2)
    # what joblib really raises in the call beside a failed one
    seen = {}

    def slow():
        try:
            list(worker_pool(2, return_as="generator")(
                delayed(time.sleep)(0.5) for _ in range(12)))
        except Exception as exc:            # noqa: BLE001 - the test looks at it
            seen["beside"] = exc

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.7)                         # its tasks run; this one queues behind 4 of them
    with pytest.raises(ZeroDivisionError):
        worker_pool(2)(delayed(divmod)(1, 0) for _ in range(1))
    thread.join(30)
    assert not thread.is_alive() and _pool_ended(seen["beside"]), seen
    assert not _pool_ended(InputError("x")) and not _pool_ended(RuntimeError("other"))


def test_an_interrupt_stops_the_steps_running_beside_each_other():
    """Ctrl-C (or SIGTERM, raised as it) while two pooled steps compute: the pool's workers
    end at once, so the interrupt surfaces in seconds, not when the steps are done."""
    import signal
    import threading
    import time

    from joblib import delayed

    from advlib.book.pipeline import _run_stages_here, _Step
    from advlib.pool import worker_pool

    def work():
        list(worker_pool(2, return_as="generator")(
            delayed(time.sleep)(20) for _ in range(2)))

    steps = [_Step("subjects", "a", work, model="m"), _Step("calibration", "b", work,
                                                              model="m")]
    main = threading.main_thread().ident
    timer = threading.Timer(1.0, signal.pthread_kill, (main, signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        _run_stages_here(steps, [], progress=False, jobs=2)
    assert time.perf_counter() - start < 10


def test_steps_that_write_the_same_records_or_use_one_network_wait_for_each_other():
    """The calibration (one for every network) runs once; one network's encodings run one
    after another (they may extract its features in this process); other steps of other
    networks do not wait for each other."""
    from advlib.book.pipeline import _depends, _Step

    def step(stage, model, records=()):
        return _Step(stage, stage, None, list(records), model)

    calibration = ["results/calibration/calibration_provenance.json"]
    assert _depends(step("calibration", "b", calibration), step("calibration", "a",
                                                                 calibration))
    assert _depends(step("encoding", "a", ["e2"]), step("encoding", "a", ["e1"]))
    assert not _depends(step("encoding", "b", ["e2"]), step("encoding", "a", ["e1"]))
    assert not _depends(step("brain_rsa", "b", ["r2"]), step("subjects", "a", ["s1"]))
    assert _depends(step("brain_rsa", "a", ["r2"]), step("subjects", "a", ["s1"]))
    assert not _depends(step("calibration", "a", ["c"]), step("subjects", "a", ["s1"]))


def test_the_thread_counts_are_set_once_for_steps_side_by_side_and_restored():
    """Steps that overlap all compute with the caller's torch thread count, BLAS included,
    and the process's settings are as before afterwards (each step setting and restoring
    them itself left one step with the other's restored count)."""
    import functools
    import time

    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    from advlib.book.pipeline import _run_stages_here, _Step

    if not [i for i in threadpool_info() if i["user_api"] == "blas"]:
        pytest.skip("needs a BLAS library that threadpoolctl controls")
    seen = []

    def record(before, after):
        time.sleep(before)
        seen.append(max(i["num_threads"] for i in threadpool_info()
                        if i["user_api"] == "blas"))
        time.sleep(after)

    previous = torch.get_num_threads()
    torch.set_num_threads(2)                # the caller's count (1 under pytest-xdist)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            steps = [_Step("subjects", "a", functools.partial(record, 0.0, 0.05), model="m"),
                     _Step("calibration", "b", functools.partial(record, 0.1, 0.0),
                           model="m")]
            _run_stages_here(steps, [], progress=False, jobs=2)
            after = max(i["num_threads"] for i in threadpool_info()
                        if i["user_api"] == "blas")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)
    assert seen == [2, 2] and after == 1


def test_dask_steps_are_awaited_on_the_runs_own_client(monkeypatch):
    """``_run_on`` waits for its futures on its own client's loop, not on the caller's
    current client's (as_completed's default): with another client current (a test's or a
    notebook's ``with Client(...)``), a future whose result was lost with a killed worker
    was awaited on both loops and failed ("bound to a different event loop")."""
    import functools

    import distributed
    from distributed import Client, LocalCluster

    from advlib.book.pipeline import _run_on, _Step

    seen = []
    original = distributed.as_completed

    def recording(futures, *args, **kwargs):
        seen.append(kwargs.get("loop"))
        return original(futures, *args, **kwargs)

    monkeypatch.setattr(distributed, "as_completed", recording)
    steps = [_Step("subjects", "x", functools.partial(int, "1"), model="m")]
    with LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as other, \
            Client(other) as current, \
            LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as cluster, \
            Client(cluster, set_as_default=False) as run:
        log = []
        _run_on(run, steps, log, progress=False)
        assert distributed.default_client() is current
        assert seen == [run.loop] and [row["item"] for row in log] == ["x"]
