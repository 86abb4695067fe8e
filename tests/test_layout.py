"""Result paths: different inputs never share a folder."""

import pytest

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
