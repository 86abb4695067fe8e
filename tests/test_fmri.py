import json

import numpy as np
import pytest

from advlib.analysis import fmri_checks
from advlib.fmri import load_selection, load_subject, select_dataset, select_subject
from advlib.fmri.simulation import simulate_dataset

SMALL = dict(snr=0.8, spacing=2.0, max_pcs=2)


@pytest.fixture(scope="module")
def dataset(stim_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "simulated"
    simulate_dataset(stim_dir, out, [1], seed=0, progress=False, **SMALL)
    return out


def test_simulated_subject_is_in_the_documented_format(dataset, stim_dir):
    from advlib.cnn import load_manifest

    manifest = load_manifest(stim_dir)
    sub = load_subject(dataset / "sub-01", manifest=manifest)
    assert sub.betas.shape[0] == 2 * len(manifest) + 1
    assert sub.info["simulated"] is True
    assert json.loads((dataset / "dataset.json").read_text())["simulated"] is True
    assert (dataset / "sub-01" / "events" / "run-10.csv").is_file()
    assert sub.info["beta_recovery_r"] > 0.3


def test_same_seed_same_data_and_cache(dataset, stim_dir, tmp_path, monkeypatch):
    again = simulate_dataset(stim_dir, tmp_path / "again", [1], seed=0, progress=False, **SMALL)
    a = np.load(dataset / "sub-01" / "betas.npy")
    b = np.load(again[0] / "betas.npy")
    assert np.array_equal(a, b)
    monkeypatch.setattr("advlib.fmri.simulation.simulate.fit_glm", None)  # would fail if re-simulated
    simulate_dataset(stim_dir, tmp_path / "again", [1], seed=0, progress=False, **SMALL)


def test_a_dataset_folder_holds_one_dataset(dataset, stim_dir, tmp_path):
    """Another invocation with other settings may not add subjects to the folder (issue 23);
    one with the same settings keeps the earlier subjects in dataset.json."""
    import shutil

    from advlib.errors import InputError

    folder = tmp_path / "sim"
    shutil.copytree(dataset, folder)
    info = json.loads((folder / "dataset.json").read_text())
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(InputError, match=r"holds subjects sub-01 simulated with other "
                                         r"settings \(snr 0.8 -> 5.0\); one folder holds one"):
        simulate_dataset(stim_dir, folder, [2], seed=0, progress=False, **{**SMALL, "snr": 5.0})
    with pytest.raises(InputError, match=r"seed"):
        simulate_dataset(stim_dir, folder, [2], seed=1, progress=False, **SMALL)
    assert sorted(p.name for p in folder.iterdir()) == before
    shutil.copytree(folder / "sub-01", folder / "sub-02")        # an earlier run's subject
    (folder / "dataset.json").write_text(json.dumps({**info, "subjects": ["sub-01", "sub-02"]}))
    simulate_dataset(stim_dir, folder, [1], seed=0, progress=False, **SMALL)
    assert json.loads((folder / "dataset.json").read_text())["subjects"] == ["sub-01", "sub-02"]


def test_selection_files_and_checks(dataset):
    select_dataset(dataset, progress=False, n_per_hemi=20)
    sel = load_selection(dataset, "sub-01", 40)
    assert set(sel.roi) == {"V1", "V2", "V3", "V4", "LO"}
    assert (sel.groupby(["roi", "hemi"]).size() == 20).all()
    assert (dataset / "sub-01" / "selection" / "reliability.csv").is_file()
    sub = load_subject(dataset / "sub-01")
    rel, sel2, split = select_subject(sub, n_per_hemi=20)
    checks = fmri_checks(sub, sel2, split, n_vertices=40)
    assert (checks.verdict.iloc[:3] == "holds").all()
    # the selection against as many random ROI vertices (the fair comparison), seeded
    assert np.isfinite(split[["split_half_random", "split_half_random_sd"]]).all().all()
    again = select_subject(sub, n_per_hemi=20)[2]
    assert again.split_half_random.tolist() == split.split_half_random.tolist()
    assert "vs random" in checks.here.iloc[3]
    roi = (sub.vertices.roi != "").to_numpy()
    assert np.isfinite(rel[roi]).mean() > 0.95 and np.nanmax(np.abs(rel)) <= 1 + 1e-9


def test_resolve_dataset_uses_a_real_folder_as_is(dataset, stim_dir, tmp_path):
    from advlib.fmri import DataError
    from advlib.fmri.simulation import resolve_dataset
    from advlib.layout import Layout

    layout = Layout(tmp_path, "efficientnet_lite0", stim_dir)
    assert resolve_dataset(str(dataset), layout) == dataset.resolve()
    assert not layout.root.exists()  # nothing simulated for real data
    with pytest.raises(DataError, match="data=.*expected an existing dataset folder"):
        resolve_dataset(str(tmp_path / "nope"), layout)


def test_design_plot_without_events_says_so(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from advlib.book import plot_run_design

    fig = plot_run_design(tmp_path)
    assert "betas only" in fig.axes[0].texts[0].get_text()
