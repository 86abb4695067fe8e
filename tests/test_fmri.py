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


def test_the_observers_energy_is_computed_once_per_stimulus_set(dataset, stim_dir, tmp_path,
                                                                monkeypatch, swap_two_images):
    """The energy is a cached stage in the set's feature cache: the same bytes as computed
    afresh, read back while the images are the same (a subject simulated from it has the
    same betas), computed again for another set of images or a damaged file."""
    import shutil

    from advlib.fmri.simulation import simulate as sim

    cache = tmp_path / "features"
    fresh, ids = sim.stimulus_energy(stim_dir)
    assert not cache.exists()
    made, made_ids = sim.stimulus_energy(stim_dir, cache)
    assert (cache / "observer_energy.npz").is_file() and made_ids == ids
    assert made.dtype == fresh.dtype and np.array_equal(made, fresh)
    with monkeypatch.context() as m:
        m.setattr(sim, "gabor_energy", None)                 # would fail if computed again
        read, read_ids = sim.stimulus_energy(stim_dir, cache)
        assert read_ids == ids and read.dtype == fresh.dtype and np.array_equal(read, fresh)
        again = simulate_dataset(stim_dir, tmp_path / "again", [1], seed=0, progress=False,
                                 energy_cache=cache, **SMALL)
    assert np.array_equal(np.load(again[0] / "betas.npy"), np.load(dataset / "sub-01" / "betas.npy"))
    other = tmp_path / "other"                  # two AI images swapped: another set
    shutil.copytree(stim_dir, other)
    swap_two_images(other)
    swapped, _ = sim.stimulus_energy(other, cache)
    assert not np.array_equal(swapped, fresh)
    assert np.array_equal(sim.stimulus_energy(other)[0], swapped)
    (cache / "observer_energy.npz").write_bytes(b"damaged")
    assert np.array_equal(sim.stimulus_energy(stim_dir, cache)[0], fresh)


def test_a_subjects_responses_are_computed_once_per_stimulus_set(dataset, stim_dir, tmp_path,
                                                                  monkeypatch, swap_two_images):
    """The observer's noise-free responses of a subject are a cached stage beside the
    energy: the same numbers as computed afresh, read back by the subjects stage (the same
    betas) and by anyone asking for the same subject; another subject or setting has its
    own file; a damaged file is made again; the energy of other images handed over for this
    set does not answer for it later (review)."""
    import shutil

    from advlib.fmri.simulation import simulate as sim

    cache = tmp_path / "features"
    energy = sim.stimulus_energy(stim_dir)
    opts = dict(spacing=SMALL["spacing"], variation=0.1, surface="schematic")
    cortex, fresh = sim.observer_subject(stim_dir, energy, 0, 1, **opts)
    assert not cache.exists()
    made_cortex, made = sim.observer_subject(stim_dir, energy, 0, 1, cache_dir=cache, **opts)
    files = sorted(cache.glob("observer_responses-*.npz"))
    assert len(files) == 1 and made.equals(fresh)
    with monkeypatch.context() as m:
        m.setattr(sim, "subject_model", None)                # would fail if computed again
        read_cortex, read = sim.observer_subject(stim_dir, energy, 0, 1, cache_dir=cache, **opts)
        assert read.equals(fresh) and list(read.index) == energy[1]
        assert read_cortex.vertices.equals(cortex.vertices)
        assert np.array_equal(read_cortex.faces, cortex.faces)
        again = simulate_dataset(stim_dir, tmp_path / "again", [1], seed=0, progress=False,
                                 energy_cache=cache, **SMALL)
    assert np.array_equal(np.load(again[0] / "betas.npy"), np.load(dataset / "sub-01" / "betas.npy"))
    _, other = sim.observer_subject(stim_dir, energy, 0, 2, cache_dir=cache, **opts)
    assert len(list(cache.glob("observer_responses-*.npz"))) == 2 and not other.equals(fresh)
    files[0].write_bytes(b"damaged")
    assert sim.observer_subject(stim_dir, energy, 0, 1, cache_dir=cache, **opts)[1].equals(fresh)
    other_set = tmp_path / "other"                  # two AI images swapped: the same ids
    shutil.copytree(stim_dir, other_set)
    swap_two_images(other_set)
    foreign = sim.stimulus_energy(other_set)
    poisoned = tmp_path / "poisoned"
    _, wrong = sim.observer_subject(stim_dir, foreign, 0, 1, cache_dir=poisoned, **opts)
    assert not wrong.equals(fresh)
    assert sim.observer_subject(stim_dir, energy, 0, 1, cache_dir=poisoned, **opts)[1].equals(fresh)


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


def test_selection_files_and_checks(dataset, tmp_path):
    select_dataset(dataset, tmp_path, progress=False, n_per_hemi=20)
    sel = load_selection(dataset, "sub-01", 40, out_dir=tmp_path)
    assert set(sel.roi) == {"V1", "V2", "V3", "V4", "LO"}
    assert (sel.groupby(["roi", "hemi"]).size() == 20).all()
    assert (tmp_path / "sub-01" / "selection" / "reliability.csv").is_file()
    assert not (dataset / "sub-01" / "selection").exists()
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


# --- the selection stage on a tiny synthetic subject (fast) --------------------------------

@pytest.fixture
def tiny_data(tmp_path):
    import pandas as pd

    from advlib.fmri import conditions_from_names, write_subject
    from advlib.fmri.simulation import make_cortex

    cortex = make_cortex(spacing=3.0, seed=0)
    names = [f"{k}{i:02d}_p{p}" for k in ("re", "an", "ai") for i in range(6) for p in (1, 2)]
    betas = pd.DataFrame(np.random.default_rng(0).normal(size=(len(names), len(cortex.vertices))),
                         index=names)
    write_subject(tmp_path / "data" / "sub-01", betas, conditions_from_names(names),
                  cortex.vertices, cortex.faces)
    return tmp_path / "data"


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_selection_is_a_stage_with_its_record(tiny_data, tmp_path, monkeypatch):
    """The selection is written with a stage record, an up-to-date one is read back without
    computing, and the data folder is left as it was (issue 25)."""
    data_before = _files(tiny_data)
    out = tmp_path / "out"
    first = select_dataset(tiny_data, out, n_per_hemi=2, progress=False)["sub-01"]
    folder = out / "sub-01" / "selection"
    assert _files(folder) == ["reliability.csv", "selection_4.csv", "selection_4_provenance.json",
                              "split_half_4.csv"]
    record = json.loads((folder / "selection_4_provenance.json").read_text())
    assert record["parameters"]["radius_mm"] == 3.0 and record["parameters"]["n_per_hemi"] == 2
    assert set(record["outputs"]) == {"reliability.csv", "selection_4.csv", "split_half_4.csv"}
    assert _files(tiny_data) == data_before

    monkeypatch.setattr("advlib.fmri.selection.select_subject", None)   # fails if recomputed
    again = select_dataset(tiny_data, out, n_per_hemi=2, progress=False)["sub-01"]
    assert again.equals(first)
    with pytest.raises(TypeError):
        select_dataset(tiny_data, out, n_per_hemi=2, progress=False, reuse=False)
    with pytest.raises(TypeError):                                       # another key
        select_dataset(tiny_data, out, n_per_hemi=2, radius=4.0, progress=False)


def test_a_failed_selection_writes_nothing(tiny_data, tmp_path, monkeypatch):
    """Two of three tables written, then a failure: none of them, and no record, appears."""
    from advlib.fmri import selection

    calls, original = [], selection.write_csv

    def broken(path, table):
        calls.append(path)
        if len(calls) == 3:
            raise RuntimeError("planted failure")
        original(path, table)

    monkeypatch.setattr(selection, "write_csv", broken)
    with pytest.raises(RuntimeError, match="planted"):
        select_dataset(tiny_data, tmp_path / "out", n_per_hemi=2, progress=False)
    assert [f for f in _files(tmp_path / "out") if not f.split("/")[-1].startswith(".")] == []


def test_selection_goes_under_the_results_layout_by_default(tiny_data, tmp_path, monkeypatch,
                                                            capsys):
    from advlib.cli import main
    from advlib.layout import selection_dir

    data_before = _files(tiny_data)
    monkeypatch.setenv("ADVLIB_RESULTS", str(tmp_path / "env-results"))
    select_dataset(tiny_data, n_per_hemi=2, progress=False)
    assert (selection_dir(tiny_data) / "sub-01" / "selection" / "selection_4.csv").is_file()
    assert str(selection_dir(tiny_data)).startswith(str(tmp_path / "env-results" / "selection"))

    results = tmp_path / "r"
    assert main(["select", "--data", str(tiny_data), "--results", str(results)]) == 0
    target = selection_dir(tiny_data, results) / "sub-01" / "selection"
    assert (target / "selection_200_provenance.json").is_file()
    assert str(target) in capsys.readouterr().out
    assert _files(tiny_data) == data_before
