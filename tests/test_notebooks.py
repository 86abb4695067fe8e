"""Every notebook is thin (no definitions, tagged parameters, no outputs) and executes
end to end in the smoke profile."""

import json
from pathlib import Path

import pytest

from advlib.book import NOTEBOOKS, PROFILES, NotebookError, notebook_plan, run_notebook
from advlib.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"
#: The smoke book's pages: one network, so no cross-model chapter (09_models).
BOOK_PAGES = [item for item in notebook_plan("smoke") if item["name"] != "09_models"]


@pytest.fixture
def nbformat():
    """The nbformat module, imported by the tests that write or read notebooks: importing it
    takes 1 to 3 s (jsonschema builds a grammar), which every test process would otherwise
    pay when it collects this file."""
    import nbformat

    return nbformat


def test_every_notebook_is_registered_in_both_profiles():
    assert sorted(p.stem for p in NB_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS)
    for profile in PROFILES.values():
        assert set(profile) == set(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_thin(name):
    nb = json.loads((NB_DIR / f"{name}.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    tagged = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1
    assert not any(c.get("outputs") for c in code)
    for cell in code:
        for line in "".join(cell["source"]).splitlines():
            assert not line.lstrip().startswith(("def ", "class ", "lambda"))
    assert nb["cells"][0]["cell_type"] == "markdown" and "".join(nb["cells"][0]["source"]).startswith("# ")


@pytest.mark.slow
@pytest.mark.parametrize("item", BOOK_PAGES, ids=lambda item: item["output"])
def test_notebook_executes_in_smoke_profile(item, smoke_book, nbformat):
    root, _ = smoke_book
    nb = nbformat.read(root / "book" / "generated" / f"{item['output']}.ipynb", as_version=4)
    assert not [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    kind = "text/html" if item["name"] == "07_summary" else "image/png"
    assert any(kind in o.get("data", {}) for o in outputs)
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
                   for o in outputs)
    heading = next(c for c in nb.cells if c.cell_type == "markdown").source.splitlines()[0]
    if item.get("title"):                      # per-subject and variant pages: own titles
        assert heading == f"# {item['title']}"


def test_failing_notebook_reports_the_cell_and_writes_nothing(tmp_path, nbformat):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("raise ValueError(f'bad x={x}')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    src = tmp_path / "bad.ipynb"
    nbformat.write(nb, src)
    with pytest.raises(NotebookError, match="bad.ipynb failed in cell 3: ValueError: bad x=5"):
        run_notebook(src, tmp_path / "out" / "bad.ipynb", {"x": 5}, progress=False)
    assert not list((tmp_path / "out").iterdir())


def test_a_page_keeps_every_output_and_its_kernel_is_stopped_when_done(tmp_path, nbformat):
    """The kernel is stopped at once after the last cell (no polite shutdown: 1 to 2.5 s a
    page), so its exit handlers never run; every cell's output is in the page, and what its
    worker processes kept in shared memory (loky's semaphores, joblib's memory-mapped
    arrays), which their own cleanup would have removed, is removed."""
    import tempfile
    from pathlib import Path

    nb = nbformat.v4.new_notebook()
    flag = tmp_path / "exit_handler_ran"
    nb.cells = [nbformat.v4.new_code_cell("n = 2", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(f"import atexit, pathlib\n"
                                          f"atexit.register(pathlib.Path({str(flag)!r}).touch)"),
                nbformat.v4.new_code_cell(      # 16 MB: joblib memory-maps it for the workers
                    "import os, numpy as np\nfrom joblib import Parallel, delayed\n"
                    "big = np.ones(2_000_000)\n"
                    "sums = Parallel(n_jobs=2)(delayed(np.sum)(big) for _ in range(2))\n"
                    "print('kernel', os.getpid())"),
                nbformat.v4.new_code_cell("for i in range(n):\n    print('line', i)\nn * 21")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, tmp_path / "page.ipynb")
    out = nbformat.read(run_notebook(tmp_path / "page.ipynb", tmp_path / "out.ipynb", {"n": 2},
                                     progress=False), as_version=4)
    last = out.cells[-1].outputs
    assert [o.get("text") for o in last if o.output_type == "stream"] == ["line 0\nline 1\n"]
    assert [o.data["text/plain"] for o in last if o.output_type == "execute_result"] == ["42"]
    assert not flag.exists()
    pid = out.cells[-2].outputs[0]["text"].split()[1]
    left = [p for folder in {Path("/dev/shm"), Path(tempfile.gettempdir())} if folder.is_dir()
            for p in folder.iterdir() if f"loky-{pid}-" in p.name
            or p.name.startswith(f"joblib_memmapping_folder_{pid}_")]
    assert not left, f"the stopped kernel (pid {pid}) left {left}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_does_not_depend_on_the_working_directory(name):
    """Defaults find the results wherever the notebook is opened (advlib.default_results)."""
    nb = json.loads((NB_DIR / f"{name}.ipynb").read_text())
    source = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "results_dir = None" in source
    assert "../" not in source and "./" not in source


@pytest.mark.slow
@pytest.mark.parametrize("item", BOOK_PAGES, ids=lambda item: item["output"])
def test_pages_show_no_progress_bars_or_machine_paths(item, smoke_book, results_root,
                                                       nbformat):
    root, _ = smoke_book
    nb = nbformat.read(root / "book" / "generated" / f"{item['output']}.ipynb", as_version=4)
    shown = [json.dumps(o) for c in nb.cells if c.cell_type == "code"
             and "injected-parameters" not in c.metadata.get("tags", [])
             for o in c.get("outputs", [])]
    for text in shown:
        assert "%|" not in text, f"a progress bar on the page: {text[:200]}"
        assert str(results_root) not in text and "site-packages" not in text, text[:300]
    notes = [c for c in nb.cells if "advlib-live-note" in c.metadata.get("tags", [])]
    assert len(notes) == 1 and f"notebooks/{item['name']}.ipynb" in notes[0].source
    assert nb.cells.index(notes[0]) == 1                  # right under the title
    # the whole file (what the download button gives): no absolute path of this checkout
    # or host name; the parameters cell shows the values it was executed with, portably
    import socket

    whole = json.loads((root / "book" / "generated" / f"{item['output']}.ipynb").read_text())
    for cell in whole["cells"]:                   # text only: base64 images hold any letters
        for output in cell.get("outputs", []):
            output.get("data", {}).pop("image/png", None)
    text = json.dumps(whole)
    host = socket.gethostname()
    assert str(ROOT) not in text and (len(host) <= 3 or host not in text)
    assert str(results_root) not in text and str(root) not in text    # nor the build's folders
    shown = _executed_parameters(nb)
    for name, value in item["parameters"].items():
        if name in ("results_dir", "build_info"):
            assert shown[name] is None or not Path(shown[name]).is_absolute()
        else:
            assert shown[name] == value, name


def _executed_parameters(nb) -> dict:
    """The values the parameters cell of an executed page assigns."""
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    scope: dict = {}
    exec(cell.source, {}, scope)                               # literals only
    return scope


@pytest.mark.slow
def test_subjects_reexecute_only_their_per_subject_pages(smoke_book, results_root, tmp_path,
                                                        nbformat):
    from advlib.book import run_notebooks

    out = tmp_path / "generated"
    done = run_notebooks("smoke", results_dir=results_root, out_dir=out, subjects=["1"],
                         progress=False)
    assert [p.name for p in done] == ["03_fmri_sub-01.ipynb"]
    assert sorted(p.name for p in out.glob("*.ipynb")) == ["03_fmri_sub-01.ipynb"]
    page = nbformat.read(done[0], as_version=4)
    ref = nbformat.read(smoke_book[0] / "book" / "generated" / "03_fmri_sub-01.ipynb",
                        as_version=4)
    assert _executed_parameters(page) == _executed_parameters(ref)   # the book's parameters


def test_a_page_shows_the_parameters_it_ran_with_and_no_absolute_path(tmp_path, nbformat):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"),
                nbformat.v4.new_code_cell("n = 1      # how many\nresults_dir = None  # root\n"
                                          "data = 'x'  # a folder",
                                          metadata={"tags": ["parameters"]}),
                nbformat.v4.new_markdown_cell("## Extra", metadata={"tags": ["advlib-if:extra"]}),
                nbformat.v4.new_code_cell("print(n, data)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    src = tmp_path / "nbs" / "page.ipynb"
    src.parent.mkdir()
    nbformat.write(nb, src)
    data = tmp_path / "data" / "sub"
    out = run_notebook(src, tmp_path / "out" / "page.ipynb",
                       {"n": 3, "data": str(data), "results_dir": str(tmp_path / "r"),
                        "extra": False}, progress=False)
    done = nbformat.read(out, as_version=4)
    cell = next(c for c in done.cells if "parameters" in c.metadata.get("tags", []))
    assert cell.source.splitlines() == ["n = 3      # how many",
                                        "results_dir = '../r'  # root",
                                        "data = '../data/sub'  # a folder",
                                        "extra = False"]
    assert not [c for c in done.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert str(tmp_path) not in out.read_text()       # nor in the printed output
    assert done.cells[-1].outputs[0]["text"].startswith("3 ")
    assert not any("## Extra" in c.source for c in done.cells)     # switched off: no section


def test_subject_names_and_bad_subject_choices(tmp_path):
    from advlib.book import run_notebooks, subject_names

    assert subject_names([2, "3", "sub-04", "sub-02"]) == ["sub-02", "sub-03", "sub-04"]
    with pytest.raises(InputError, match=r"subjects='x': expected subject numbers \(2\) or "
                                         r"folder names \(sub-02\)"):
        subject_names(["x"])
    with pytest.raises(InputError, match="notebooks=\\['02_cnn_rsa'\\]: expected per-subject "
                                         "notebooks \\(03_fmri\\)"):
        run_notebooks("smoke", results_dir=tmp_path, out_dir=tmp_path, names=["02_cnn_rsa"],
                      subjects=[1])


def test_executed_pages_keep_warnings_without_paths_and_drop_progress_bars(tmp_path, nbformat):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A page"),
                nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("import sys, warnings\n"
                                          "warnings.warn('320 of 400 vertices', RuntimeWarning)\n"
                                          "print(' 40%|####      | 2/5', file=sys.stderr)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, tmp_path / "page.ipynb")
    out = run_notebook(tmp_path / "page.ipynb", tmp_path / "out" / "page.ipynb", {"x": 2},
                       progress=False)
    done = nbformat.read(out, as_version=4)
    streams = [o for c in done.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if o.get("name") == "stderr"]
    text = "".join(o["text"] for o in streams)
    assert "RuntimeWarning: 320 of 400 vertices" in text
    assert "%|" not in text and ".py:" not in text and str(tmp_path) not in text
    assert done.cells[1].metadata.tags == ["advlib-live-note"]
    assert "notebooks/page.ipynb" in done.cells[1].source


def test_paper_design_reaches_the_stimulus_notebook(tmp_path):
    from advlib.book import PAPER_DESIGN, stimulus_options

    options = stimulus_options("full", images=tmp_path, paper_design=True)
    assert options["images"] == str(tmp_path.resolve())
    assert options["superclasses"] == ["dogs", "birds", "cars", "fruits", "aquatic animals"]
    assert options["n_per_class"] == 8 and options["min_confidence"] == 0.99
    plan = notebook_plan("full", names=["01_stimuli"], stimuli=options)
    assert {k: plan[0]["parameters"][k] for k in PAPER_DESIGN} == PAPER_DESIGN
    default = notebook_plan("full", names=["01_stimuli"])[0]["parameters"]
    assert default["images"] == "embedded" and default["superclasses"] is None
    nb = json.loads((NB_DIR / "01_stimuli.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    names = {line.split("=")[0].strip() for line in "".join(cell["source"]).splitlines()
             if "=" in line and not line.startswith("#")}
    assert set(default) - {"model", "results_dir"} <= names     # every profile key is a parameter


def test_a_path_is_shown_relative_only_where_that_does_not_spell_it_out():
    from advlib.book.notebooks import _shown_path

    assert _shown_path("/work/repo/results", Path("/work/repo/notebooks")) == "../results"
    assert _shown_path("/tmp/pytest-1/book0/build_info.json",
                       Path("/work/ci/clone/notebooks")) == "<elsewhere>/build_info.json"


def test_a_notebook_registered_as_contributing_says_runs_per_subject(monkeypatch):
    """CONTRIBUTING's step (one REGISTRY entry) is all it takes: the new notebook gets one
    page per subject, with its parameters, the dataset and a title (issue 25: the plan used
    to test the name "03_fmri", then four tables had to agree)."""
    from advlib.book import notebooks

    new = notebooks.NotebookSpec("11_new", {"subject": "sub-01", "alpha": 0.05},
                                 smoke={"alpha": 0.1}, per_subject=True, dataset=True)
    registry = notebooks.REGISTRY + (new,)
    monkeypatch.setattr(notebooks, "REGISTRY", registry)
    monkeypatch.setattr(notebooks, "PROFILES", notebooks._profiles(registry))  # as at import
    plan = [p for p in notebooks.notebook_plan("full", results_dir="/r", subjects=[1, 2])
            if p["name"] == "11_new"]
    assert [p["output"] for p in plan] == ["11_new_sub-01", "11_new_sub-02"]
    assert [p["parameters"]["subject"] for p in plan] == ["sub-01", "sub-02"]
    assert all(p["parameters"]["alpha"] == 0.05 and "dataset" in p["parameters"]
               and p["title"].startswith("11_new") for p in plan)
    smoke = notebooks.notebook_plan("smoke", results_dir="/r", names=["11_new"])
    assert [p["parameters"]["alpha"] for p in smoke] == [0.1]
    with pytest.raises(InputError, match="11_new smoke settings.*parameters of its full"):
        notebooks.NotebookSpec("11_new", {"alpha": 0.05}, smoke={"beta": 1})


def test_the_smoke_profile_is_the_full_one_with_smaller_settings():
    """The smoke profile is derived from the full one: it changes values, never adds a
    parameter, and shares no list with it or with the registry (issue 25: it was a second
    copy)."""
    from advlib.book.notebooks import REGISTRY

    for spec in REGISTRY:
        full, smoke = PROFILES["full"][spec.name], PROFILES["smoke"][spec.name]
        assert full == spec.parameters
        assert set(smoke) == set(full)
        assert {k for k in full if smoke[k] != full[k]} == set(spec.smoke), spec.name
        assert not any(isinstance(v, list) and (v is smoke[k] or v is spec.parameters[k])
                       for k, v in full.items())


def test_every_notebook_file_has_exactly_one_registry_entry():
    from advlib.book.notebooks import PER_SUBJECT, REGISTRY

    names = [spec.name for spec in REGISTRY]
    assert len(names) == len(set(names))
    assert sorted(p.stem for p in NB_DIR.glob("*.ipynb")) == sorted(names)
    assert NOTEBOOKS == tuple(names)
    assert PER_SUBJECT == tuple(spec.name for spec in REGISTRY if spec.per_subject)
    # every page says what it costs (reproduce starts the costliest first)
    assert all(spec.cost > 0 for spec in REGISTRY)


def test_every_notebook_reads_known_stage_record_groups(tmp_path):
    """Each name in a registry entry's ``reads`` is a group of records reproduce knows."""
    from advlib.book.notebooks import DATASETS, REGISTRY
    from advlib.book.pipeline import _record_groups
    from advlib.layout import Layout

    groups = _record_groups(Layout(tmp_path / "results", "m"), DATASETS["smoke"],
                            tmp_path / "pages")
    unknown = {spec.name: sorted(set(spec.reads) - set(groups)) for spec in REGISTRY}
    assert not any(unknown.values()), unknown
    assert all(spec.reads for spec in REGISTRY)          # every page depends on something


def test_a_page_is_written_through_the_one_atomic_write_and_its_temp_is_ignored(
        tmp_path, monkeypatch, nbformat):
    """run_notebook writes through provenance.atomic_path (issue 25: it had its own temp
    name that neither the clean-up nor .gitignore knew); git ignores that temp name."""
    import subprocess

    from advlib import provenance

    seen = []
    real = provenance.atomic_path

    def spy(path, suffix=".tmp"):
        seen.append((Path(path).name, suffix))
        return real(path, suffix)

    monkeypatch.setattr("advlib.book.notebooks.atomic_path", spy)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]})]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, tmp_path / "ok.ipynb")
    run_notebook(tmp_path / "ok.ipynb", tmp_path / "out" / "ok.ipynb", {"x": 2}, progress=False)
    assert seen == [("ok.ipynb", ".tmp.ipynb")]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["ok.ipynb"]
    repo = Path(__file__).resolve().parent.parent
    for name in ("book/generated/.ok.ipynb.ab12cd34.tmp.ipynb", "results/x/.a.csv.ab12cd34.tmp",
                 "notebooks/.a.ipynb.ab12cd34.tmp"):
        ignored = subprocess.run(["git", "check-ignore", "-q", name], cwd=repo)
        assert ignored.returncode == 0, name


def test_advlib_notebooks_writes_each_page_through_its_stage(tmp_path, monkeypatch):
    """``run_notebooks`` (``advlib notebooks``) writes a page with its record, like
    ``reproduce``; with ``reuse`` an up-to-date page is not executed again; a failed page
    leaves neither page nor record (issue 25: it wrote pages without records)."""

    from advlib.book import notebooks, run_notebooks

    sources = tmp_path / "nbs"
    sources.mkdir()
    (sources / "01_stimuli.ipynb").write_text("{}")
    runs = []

    def fake(source, output, parameters, progress=True, title=None):
        runs.append(output)
        Path(output).write_text(json.dumps(parameters))
        return Path(output)

    monkeypatch.setattr(notebooks, "run_notebook", fake)
    out = tmp_path / "pages"
    args = dict(results_dir=tmp_path / "r", out_dir=out, names=["01_stimuli"],
                notebooks_dir=sources, progress=False)
    assert run_notebooks("smoke", **args) == [out / "01_stimuli.ipynb"]
    record = json.loads((out / ".stages" / "01_stimuli.json").read_text())
    assert set(record["outputs"]) == {"01_stimuli.ipynb"} and len(runs) == 1
    run_notebooks("smoke", reuse=True, **args)
    assert len(runs) == 1                                     # up to date: not executed
    run_notebooks("smoke", **args)
    assert len(runs) == 2                                     # the default re-executes
    (sources / "01_stimuli.ipynb").write_text('{"changed": 1}')
    run_notebooks("smoke", reuse=True, **args)
    assert len(runs) == 3                                     # another source: executed

    def broken(source, output, parameters, progress=True, title=None):
        Path(output).write_text("half a page")
        raise NotebookError("planted failure")

    monkeypatch.setattr(notebooks, "run_notebook", broken)
    fresh = tmp_path / "fresh"
    with pytest.raises(NotebookError, match="planted"):
        run_notebooks("smoke", **{**args, "out_dir": fresh})
    assert not (fresh / "01_stimuli.ipynb").exists()
    assert not (fresh / ".stages" / "01_stimuli.json").exists()


#: ``notebook_plan`` for both profiles and the book's notebook steps (smoke profile; one
#: network, then two) as they were before the notebook registry (issue 25), written by
#: :func:`_dump_plan` (``<root>``: the build's folder; ``"<dataset>"``: the profile's
#: :data:`DATASETS` entry; ``<rdm data>``: the real-data folder's label, a hash of its
#: path). The registry must reproduce them exactly, key order included: a page's
#: parameters are its cache key and its shown parameters cell.
PLAN_BEFORE_REGISTRY = Path(__file__).parent / "data" / "notebook_plan.json"


def _portable(items, root: Path, profile: str):
    from advlib.book.notebooks import DATASETS
    from advlib.fmri.rdm_data import KRIEGESKORTE92
    from advlib.layout import dataset_label

    text = json.dumps(items).replace(str(root), "<root>")
    text = text.replace(dataset_label(KRIEGESKORTE92), "<rdm data>")   # hashes its path
    return json.loads(text.replace(json.dumps(DATASETS[profile]), '"<dataset>"'))


def _plan_snapshot(root: Path) -> dict:
    """The plans of both profiles and the notebook steps of ``reproduce`` under ``root``
    (a few brain RSA and encoding records planted, so that the steps' inputs are listed)."""
    from advlib.book import pipeline
    from advlib.book.notebooks import DATASETS
    from advlib.layout import Layout, record_name

    root = Path(root).resolve()
    snap = {f"plan {p}": _portable(notebook_plan(p, results_dir=root / "results"), root, p)
            for p in ("full", "smoke")}
    rsa_dir = Layout(root / "results", "m1").dataset_dir(DATASETS["smoke"])
    rsa_dir.mkdir(parents=True)
    for stem in ("brain_rsa", "brain_rsa_400", "encoding_romp"):
        (rsa_dir / record_name(stem)).write_text("{}")
    stimuli = pipeline.stimulus_options("smoke")
    for models in (["m1"], ["m1", "m2"]):
        pages = pipeline._notebook_steps("m1", models, "smoke", "simulated",
                                         DATASETS["smoke"], root / "results", stimuli,
                                         root / "pages", False)
        snap[f"steps {' '.join(models)}"] = _portable(
            [{"item": st.item, "page": st.call.args[0],
              "inputs": [str(p) for p in st.call.args[3]],
              "records": [str(r) for r in st.records]} for st in pages], root, "smoke")
    return snap


def _dump_plan(snap: dict) -> str:
    """``snap`` as JSON, one page per line."""
    lines = ["{"]
    for i, (key, items) in enumerate(snap.items()):
        lines.append(f" {json.dumps(key)}: [")
        lines += [f"  {json.dumps(it)}" + ("," if j < len(items) - 1 else "")
                  for j, it in enumerate(items)]
        lines.append(" ]" + ("," if i < len(snap) - 1 else ""))
    return "\n".join(lines + ["}"]) + "\n"


def test_the_plan_and_the_notebook_steps_are_those_from_before_the_registry(tmp_path):
    assert _dump_plan(_plan_snapshot(tmp_path)) == PLAN_BEFORE_REGISTRY.read_text()
