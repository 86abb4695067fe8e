"""Result paths: different inputs never share a folder."""

import re
from pathlib import Path

import pytest

import advlib
from advlib.errors import InputError
from advlib.layout import Layout, dataset_label, simulation_spec


def test_the_models_own_set_and_another_set_get_different_roots(tmp_path):
    own = Layout(tmp_path, "m")
    assert own.root == tmp_path.resolve() / "m" and own.stimuli_dir == own.root / "stimuli"
    assert Layout(tmp_path, "m", tmp_path / "m" / "stimuli").root == own.root
    other = Layout(tmp_path, "m", tmp_path / "elsewhere" / "stimuli")
    assert other.root.parent == own.root and other.root.name.startswith("on-stimuli-")
    assert other.cnn_rsa != own.cnn_rsa and other.features_dir != own.features_dir


def test_datasets_are_named_by_everything_that_makes_them(tmp_path):
    a = dataset_label({"kind": "simulated", "seed": 0})
    assert a == dataset_label("simulated") == "simulated-seed0-snr3.2-spacing1-maxpcs10"
    assert dataset_label({"seed": 1}) != a
    assert dataset_label({"seed": 0, "subjects": [1]}) == a   # subjects are folders inside
    (tmp_path / "labA" / "data").mkdir(parents=True)
    (tmp_path / "labB" / "data").mkdir(parents=True)
    assert dataset_label(tmp_path / "labA" / "data") != dataset_label(tmp_path / "labB" / "data")
    lay = Layout(tmp_path, "m")
    sim = lay.dataset_dir("simulated")
    assert lay.dataset_dir(sim) == sim    # a simulated dataset folder is its own results folder


def test_bad_specifications_are_clear_errors():
    with pytest.raises(InputError, match="dataset=\\['snrr'\\]: expected keys from"):
        simulation_spec({"snrr": 1})
    with pytest.raises(InputError, match="dataset\\['kind'\\]='real'"):
        simulation_spec({"kind": "real"})
    assert simulation_spec("/some/folder") is None


def test_default_results_follow_the_environment_then_the_checkout(monkeypatch, tmp_path):
    from pathlib import Path

    from advlib.layout import default_results

    monkeypatch.setenv("ADVLIB_RESULTS", str(tmp_path / "r"))
    assert default_results() == (tmp_path / "r").resolve()
    assert Layout(None, "m").root == (tmp_path / "r" / "m").resolve()
    monkeypatch.delenv("ADVLIB_RESULTS")
    checkout = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(tmp_path)                       # not the working directory
    assert default_results() == checkout / "results"


# --- Layout is the one owner of result file names (issue 25) ---------------------------------

_RESULT_NAME = re.compile(r"^[\w\-{}/\[\]*]+\.(csv|npz|npy|json|ipynb)$")

#: Files of advlib, or (file, literal) pairs, that may spell a file name, each with its reason.
_NOT_RESULTS = {
    "advlib/layout.py": "the owner of every result name",
    "advlib/fmri/data.py": "the owner of the documented subject data format (book/data_format.md: "
                           "betas.npy, conditions.csv, ...): a user's input, read and validated",
    ("advlib/fmri/rdm_data.py", "stimuli.csv"): "the documented input format of a folder of brain "
                                                "RDMs (a user's file, only read)",
    ("advlib/fmri/rdm_data.py", "*.npz"): "finds a user's RDM files in that input folder",
    "advlib/fmri/formats.py": "the owner of the labs' formats it reads and writes (BIDS sidecars "
                              "and dataset_description.json, GLMsingle's files, native runs "
                              "and time series by run): data, not results",
}


def _spelled_file_names(root: Path) -> list[str]:
    """``path:line: literal`` for every string (or f-string, ``{}`` for its fields) in the
    code of ``root``'s modules that is a file name with a result suffix; docstrings and
    allowed names left out."""
    import ast

    found = []
    for path in sorted(root.rglob("*.py")):
        rel = str(Path(root.name, path.relative_to(root)))
        if rel in _NOT_RESULTS:
            continue
        tree = ast.parse(path.read_text())
        skip = {id(node.body[0].value) for node in ast.walk(tree)
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
                and node.body and isinstance(node.body[0], ast.Expr)}
        skip |= {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
                 for part in node.values}
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
            elif isinstance(node, ast.JoinedStr):
                text = "".join(p.value if isinstance(p, ast.Constant) else "{}"
                               for p in node.values)
            else:
                continue
            if _RESULT_NAME.match(text) and (rel, text) not in _NOT_RESULTS:
                found.append(f"{rel}:{node.lineno}: {text}")
    return found


def test_no_result_file_name_is_spelled_outside_layout():
    """Every result file and record name comes from advlib.layout (a constant or a name
    function): a name spelled by hand elsewhere is the start of two owners."""
    assert _spelled_file_names(Path(advlib.__file__).parent) == []


def test_the_name_check_finds_a_hand_built_name(tmp_path):
    package = tmp_path / "advlib"
    (package / "book").mkdir(parents=True)
    (package / "book" / "new.py").write_text(
        '"""A docstring naming x.csv is fine."""\n'
        'def f(out, n):\n    """So is this: y.npz."""\n'
        '    return out / f"table_{n}.csv", out / "rdms.npz", out.suffix == ".csv"\n')
    (package / "layout.py").write_text('NAME = "owned.csv"\n')
    assert _spelled_file_names(package) == ["advlib/book/new.py:4: table_{}.csv",
                                            "advlib/book/new.py:4: rdms.npz"]
