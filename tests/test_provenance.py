"""The stage helper: up to date only for the same inputs, parameters, code and outputs."""

import json
import os
import stat

import pytest

from advlib.provenance import Stage, StageError, atomic_path, code_key


def _stage(root, inputs, params=None, code=("advlib.kernels",)):
    return Stage("demo", root, ["a.csv", "sub/b.txt"], params or {"n": 1}, inputs=inputs,
                 code=list(code))


def _work(tmp):
    (tmp / "a.csv").write_text("x\n1\n")
    (tmp / "sub").mkdir()
    (tmp / "sub" / "b.txt").write_text("b")


def test_stage_runs_once_then_is_up_to_date(tmp_path):
    src = tmp_path / "input.txt"
    src.write_text("v1")
    st = _stage(tmp_path / "out", [src])
    assert not st.up_to_date()
    st.run(_work)
    assert st.up_to_date()
    rec = json.loads((tmp_path / "out" / "demo_provenance.json").read_text())
    assert rec["cache_key"] == st.key and set(rec["outputs"]) == {"a.csv", "sub/b.txt"}
    assert _stage(tmp_path / "out", [src]).up_to_date()             # a fresh object agrees
    assert not _stage(tmp_path / "out", [src], {"n": 2}).up_to_date()   # parameters
    assert not _stage(tmp_path / "out", [src], code=["advlib.layout"]).up_to_date()  # code
    src.write_text("v2")
    assert not _stage(tmp_path / "out", [src]).up_to_date()         # input contents


def test_an_output_changed_by_someone_else_is_not_up_to_date(tmp_path):
    st = _stage(tmp_path / "out", [])
    st.run(_work)
    (tmp_path / "out" / "a.csv").write_text("x\n2\n")   # another command overwrote it
    assert not _stage(tmp_path / "out", []).up_to_date()
    (tmp_path / "out" / "a.csv").unlink()
    assert not _stage(tmp_path / "out", []).up_to_date()


def test_key_does_not_depend_on_where_the_folder_is(tmp_path):
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "input.txt").write_text("same")
    a = _stage(tmp_path / "one" / "out", [tmp_path / "one" / "input.txt"])
    a.run(_work)
    os.rename(tmp_path / "one", tmp_path / "moved")
    moved = _stage(tmp_path / "moved" / "out", [tmp_path / "moved" / "input.txt"])
    assert moved.key == a.key and moved.up_to_date()


def test_failing_work_leaves_nothing_behind(tmp_path):
    st = _stage(tmp_path / "out", [])
    st.run(_work)
    before = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}

    def boom(tmp):
        (tmp / "a.csv").write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        _stage(tmp_path / "out", [], {"n": 9}).run(boom)
    after = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert after == before                                    # old outputs untouched
    assert not [p for p in (tmp_path / "out").iterdir() if ".partial-" in p.name]


def test_missing_output_is_an_error(tmp_path):
    with pytest.raises(StageError, match=r"outputs \['sub/b.txt'\] were not written"):
        _stage(tmp_path / "out", []).run(lambda tmp: (tmp / "a.csv").write_text("x"))
    assert not (tmp_path / "out" / "a.csv").exists()


def test_folder_stage_refuses_a_foreign_folder(tmp_path):
    mine = tmp_path / "set"
    mine.mkdir()
    (mine / "keep.txt").write_text("the user's")
    st = Stage("folder", mine, None, {"n": 1})
    with pytest.raises(StageError, match="non-empty folder that this tool did not write"):
        st.run(lambda tmp: (tmp / "x.txt").write_text("x"))
    assert (mine / "keep.txt").read_text() == "the user's"
    new = Stage("folder", tmp_path / "new", None, {"n": 1})
    new.run(lambda tmp: (tmp / "x.txt").write_text("x"))
    assert new.up_to_date() and Stage("folder", tmp_path / "new", None, {"n": 1}).up_to_date()
    Stage("folder", tmp_path / "new", None, {"n": 2}).run(lambda tmp: (tmp / "y.txt").write_text("y"))
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["provenance.json", "y.txt"]


def test_a_rebuild_never_deletes_what_the_stage_did_not_write(tmp_path):
    """Results put inside a stimulus set (``--results S/res``) survive its rebuild: the
    stage refuses, names them, and changes nothing (issue 23)."""
    root = tmp_path / "set"
    Stage("folder", root, None, {"n": 1}).run(lambda tmp: (tmp / "x.txt").write_text("x"))
    (root / "res" / "model").mkdir(parents=True)
    (root / "res" / "model" / "cnn_rsa.csv").write_text("layer\n1\n")
    before = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
    with pytest.raises(StageError, match=r"holds files this stage did not write "
                                         r"\(res/model/cnn_rsa.csv\); rebuilding it would delete"):
        Stage("folder", root, None, {"n": 2}).run(lambda tmp: (tmp / "y.txt").write_text("y"))
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == before


def test_written_files_get_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "f.txt") as tmp:
            tmp.write_text("x")
        _stage(tmp_path / "out", []).run(_work)
        Stage("folder", tmp_path / "dir", None, {}).run(lambda t: (t / "x").write_text("x"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "out" / "a.csv").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "out" / "demo_provenance.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "dir").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "dir" / "x").stat().st_mode) == 0o644


def test_code_key_follows_imports():
    # brain_rsa imports the kernels, so its key covers them; the kernels do not import it.
    from advlib.provenance import advlib_imports

    assert "advlib.kernels" in advlib_imports("advlib.analysis.brain_analysis")
    assert code_key(["advlib.analysis.brain_analysis"]) != code_key(["advlib.kernels"])
    assert len(code_key(["advlib.kernels"])) == 64


def test_two_writers_of_one_stage_take_turns(tmp_path):
    """stage_lock: a second writer waits until the first has renamed its outputs."""
    import threading
    import time

    from advlib.provenance import Stage, stage_lock

    events = []

    def work(tmp, who, hold):
        events.append(f"{who} start")
        time.sleep(hold)
        (tmp / "out.txt").write_text(who)
        events.append(f"{who} end")

    first = threading.Thread(target=lambda: Stage("s", tmp_path, ["out.txt"], {"v": 1}).run(
        lambda tmp: work(tmp, "first", 1.0)))
    first.start()
    time.sleep(0.3)
    Stage("s", tmp_path, ["out.txt"], {"v": 1}).run(lambda tmp: work(tmp, "second", 0.0))
    first.join()
    assert events == ["first start", "first end", "second start", "second end"]
    assert (tmp_path / "out.txt").read_text() == "second"
    with stage_lock(tmp_path, "notebook:01/x"):         # any stage name makes a file name
        assert (tmp_path / ".notebook_01_x.lock").exists()
    assert not list(tmp_path.glob(".*.lock"))             # and none is left behind

def test_stages_of_one_name_with_other_outputs_in_one_folder_run_side_by_side(tmp_path):
    """The lock is per record: the study's seeds (one stage name, one folder, a CSV each)
    used to wait for each other, so a cell of 20 seeds ran one seed at a time."""
    import threading
    import time

    from advlib.provenance import Stage

    events = []

    def work(tmp, who, hold):
        events.append(f"{who} start")
        time.sleep(hold)
        (tmp / f"{who}.csv").write_text(who)
        events.append(f"{who} end")

    def stage(who):
        return Stage("seed", tmp_path, [f"{who}.csv"], {"who": who}, record=f"{who}_record.json")

    first = threading.Thread(target=lambda: stage("a").run(lambda tmp: work(tmp, "a", 1.0)))
    first.start()
    time.sleep(0.3)
    stage("b").run(lambda tmp: work(tmp, "b", 0.0))
    first.join()
    assert events == ["a start", "b start", "b end", "a end"]
    assert stage("a").up_to_date() and stage("b").up_to_date()
    assert not list(tmp_path.glob(".*.lock")) and not list(tmp_path.glob(".*.partial-*"))



def test_code_keys_computed_in_parallel_threads():
    """The notebooks' stages compute their code keys in threads at once (reproduce runs the
    pages --jobs at a time): CPython 3.11's parser failed there ("AST constructor recursion
    depth mismatch") until the parse was locked."""
    import pkgutil
    from concurrent.futures import ThreadPoolExecutor

    import advlib
    from advlib.provenance import advlib_imports

    names = [m.name for m in pkgutil.walk_packages(advlib.__path__, "advlib.")]
    for _ in range(3):
        advlib_imports.cache_clear()
        with ThreadPoolExecutor(max_workers=8) as pool:
            found = list(pool.map(advlib_imports, names * 2))
        assert len(found) == 2 * len(names)
        assert "advlib.errors" in advlib_imports("advlib.provenance")
