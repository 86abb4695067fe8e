"""Every notebook is thin (no definitions, tagged parameters, no outputs) and executes
end to end in the smoke profile."""

import json
from pathlib import Path

import nbformat
import pytest

from advlib.book import NOTEBOOKS, PROFILES, NotebookError, notebook_plan, run_notebook

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"


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
@pytest.mark.parametrize("item", notebook_plan("smoke"), ids=lambda item: item["output"])
def test_notebook_executes_in_smoke_profile(item, smoke_book):
    root, _ = smoke_book
    nb = nbformat.read(root / "book" / "generated" / f"{item['output']}.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "remove-cell" in injected[0].metadata.tags
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


def test_failing_notebook_reports_the_cell_and_writes_nothing(tmp_path):
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
