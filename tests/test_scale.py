"""The chain on Dask (advlib/book/pipeline.py executors): the same tables as one process,
a worker killed mid-task survived, a real failure reported at once, the cross-model chapter.

Each run starts from a copy of the smoke results with the dataset removed, so the
simulation, brain RSA and encoding stages run again (the stimulus set and CNN RSA are up
to date in the copy).
"""
import os
import shutil
import signal
import threading
import time

import pytest

from advlib.book import reproduce
from advlib.errors import WeightsNotFoundError

pytestmark = pytest.mark.slow


def _fresh_copy(results_root, dest):
    shutil.copytree(results_root, dest)
    for folder in (dest / "efficientnet_lite0").glob("simulated-*"):
        shutil.rmtree(folder)
    return dest


def _tables(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.csv"))}


@pytest.fixture(scope="module")
def one_process(smoke_book, results_root, tmp_path_factory):
    root = _fresh_copy(results_root, tmp_path_factory.mktemp("one") / "results")
    log = reproduce(profile="smoke", results=root, jobs=1, notebooks=False, book=False,
                    progress=False)
    assert set(log.status) == {"ran", "up to date"} and (log.status == "ran").sum() >= 6
    return root


def test_local_cluster_gives_the_same_tables_as_one_process(one_process, results_root,
                                                           tmp_path):
    root = _fresh_copy(results_root, tmp_path / "results")
    log = reproduce(profile="smoke", results=root, jobs=2, cluster="local", notebooks=False,
                    book=False, progress=False)
    # one task per subject, then the dataset, as on any cluster
    assert {"sub-01", "dataset.json"} <= set(log.item)
    ours, theirs = _tables(root), _tables(one_process)
    assert sorted(ours) == sorted(theirs) and len(ours) >= 20
    different = [name for name in ours if ours[name] != theirs[name]]
    assert not different, f"tables differ from the one-process run: {different}"


def test_a_worker_killed_mid_task_is_survived(one_process, results_root, tmp_path):
    from distributed import Client, LocalCluster

    root = _fresh_copy(results_root, tmp_path / "results")
    killed = []
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        done = threading.Event()

        def kill_a_worker_running_encoding():
            while not done.is_set() and not killed:
                for worker, keys in client.processing().items():
                    if any(str(k).startswith("encoding-") for k in keys):
                        time.sleep(1.0)                    # well inside the task
                        pid = client.run(os.getpid, workers=[worker])[worker]
                        os.kill(pid, signal.SIGKILL)
                        killed.append((worker, pid))
                        return
                time.sleep(0.2)

        killer = threading.Thread(target=kill_a_worker_running_encoding, daemon=True)
        killer.start()
        try:
            log = reproduce(profile="smoke", results=root, scheduler=cluster.scheduler_address,
                            notebooks=False, book=False, progress=False)
        finally:
            done.set()
            killer.join(timeout=30)
    assert killed, "no worker was killed: the test did not test anything"
    assert {"encoding.csv", "encoding_published.csv"} <= set(log.item)
    ours, theirs = _tables(root), _tables(one_process)
    assert sorted(ours) == sorted(theirs)
    assert [n for n in ours if ours[n] != theirs[n]] == []
    assert not list(root.rglob(".*.partial-*")), "a half-written stage was left behind"


def test_missing_weights_stop_the_run_before_any_work(tmp_path, monkeypatch):
    """Every network's weights are looked for before a worker starts: the second network's
    missing file is named at once, and nothing is written (it used to surface on a worker
    after the first network's stimuli and calibration)."""
    root = tmp_path / "results"
    monkeypatch.setenv("ADVLIB_CAFFE_ALEXNET", str(tmp_path / "missing.caffemodel"))
    with pytest.raises(WeightsNotFoundError, match=r"model='alexnet_caffe': the BVLC AlexNet "
                                                   r"weights missing.caffemodel are not at"):
        reproduce(profile="smoke", results=root, models=["efficientnet_lite0", "alexnet_caffe"],
                  cluster="local", jobs=2, notebooks=False, book=False, progress=False)
    assert not root.exists()


def test_a_real_failure_stops_the_run_at_once(results_root, tmp_path, monkeypatch):
    """A bad-input failure on a worker ends the run with its own error, not retried, and the
    steps that wait for the failed one never run: the network whose weights file does not
    parse gets no stage output (no wall-clock bound: tests never assert one)."""
    from advlib.layout import Layout

    root = tmp_path / "results"                  # empty: the other network has all to do
    bad = tmp_path / "bvlc_alexnet.caffemodel"   # there, so only its reader finds it unusable
    bad.write_bytes(b"not a caffemodel")
    monkeypatch.setenv("ADVLIB_CAFFE_ALEXNET", str(bad))
    with pytest.raises(WeightsNotFoundError, match="bvlc_alexnet.caffemodel: found bytes that "
                                                   "do not parse"):
        reproduce(profile="smoke", results=root, models=["efficientnet_lite0", "alexnet_caffe"],
                  cluster="local", jobs=2, notebooks=False, book=False, progress=False)
    caffe = Layout(root, "alexnet_caffe").root
    assert not caffe.exists() or not [p for p in caffe.rglob("*") if p.is_file()]
    # the run did not go on with the other network's chain (its encoding comes last), nor
    # finish that network's stages that wait for nothing first: the networks' steps are
    # submitted interleaved, so the broken one's first step runs beside the other's first
    # (the hIT RSA and the calibration study used to be done before the failure was seen)
    assert not list(root.rglob("encoding*_provenance.json"))
    assert not list(root.rglob("hit_rsa_provenance.json"))
    assert not list(root.rglob("calibration_provenance.json"))
    # a stage cut off with its worker left only a partial folder, never taken as done, and
    # the next run removes it (its writer is gone)
    from advlib.provenance import _clean_leftovers

    for partial in root.rglob(".*.partial-*"):
        assert not (partial.parent / partial.name.split(".partial-")[0][1:]).exists()
        _clean_leftovers(partial.parent)
    assert not list(root.rglob(".*.partial-*")), "a partial folder of a dead writer was kept"


def test_scheduler_and_cluster_choices_are_checked(tmp_path):
    from advlib.errors import InputError

    with pytest.raises(InputError, match="scheduler='tcp://x:1': expected either a scheduler"):
        reproduce(profile="smoke", results=tmp_path, scheduler="tcp://x:1", cluster="local")
    with pytest.raises(InputError, match="cluster='cloud': expected one of"):
        reproduce(profile="smoke", results=tmp_path, cluster="cloud")
    with pytest.raises(InputError, match="models='resnet9000': expected names from"):
        reproduce(profile="smoke", results=tmp_path, models=["resnet9000"])


def test_cross_model_chapter_shows_every_network(smoke_book, results_root, tmp_path):
    """09_models with two networks' results (the smoke results copied under a second name)."""
    import nbformat

    from advlib.book import notebook_plan, repo_root, run_notebook

    root = tmp_path / "results"
    shutil.copytree(results_root, root)
    shutil.copytree(root / "efficientnet_lite0", root / "alexnet_caffe")
    item = notebook_plan("smoke", results_dir=root, names=["09_models"])[0]
    params = {**item["parameters"], "models": ["efficientnet_lite0", "alexnet_caffe"]}
    out = run_notebook(repo_root() / "notebooks" / "09_models.ipynb", tmp_path / "09.ipynb",
                       params, progress=False)
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    html = "".join(o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {}))
    assert "efficientnet_lite0: verdict" in html and "alexnet_caffe: verdict" in html
    assert html.count("<td>holds</td>") >= 2
    # the real-data profiles say how many images they hold (the smoke profile's subset)
    from advlib.analysis.real_rsa import hit_profiles

    profiles = hit_profiles(root, ["efficientnet_lite0", "alexnet_caffe"])
    assert set(profiles.n_images) == {22}
    assert list(profiles.columns) == list(hit_profiles(root / "none", ["x"]).columns)
