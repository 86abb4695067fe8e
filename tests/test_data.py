
import numpy as np
import pandas as pd
import pytest

from advlib.fmri import DataError, conditions_from_names, load_subject, write_subject
from advlib.fmri.simulation import make_hemisphere


@pytest.fixture
def subject_parts(rng):
    cortex = make_hemisphere("lh", spacing=3.0, seed=0)
    names = [f"{k}{i:02d}_p{p}" for k in ("re", "an", "ai") for i in range(4) for p in (1, 2)]
    names.append("blank")
    betas = pd.DataFrame(rng.normal(size=(len(names), len(cortex.vertices))), index=names)
    return betas, conditions_from_names(names), cortex.vertices, cortex.faces


def test_round_trip(tmp_path, subject_parts):
    betas, cond, verts, faces = subject_parts
    write_subject(tmp_path / "sub-01", betas, cond, verts, faces, {"simulated": True})
    sub = load_subject(tmp_path / "sub-01")
    np.testing.assert_allclose(sub.betas.to_numpy(), betas.to_numpy(), rtol=1e-6)
    assert list(sub.betas.index) == list(betas.index)
    assert sub.info["simulated"] and sub.info["n_dropped_vertices"] == 0
    assert set(sub.conditions.kind) == {"RE", "AN", "AI", "blank"}
    assert np.array_equal(sub.faces, faces)


def test_nan_vertices_are_dropped_with_a_count(tmp_path, subject_parts):
    betas, cond, verts, faces = subject_parts
    betas = betas.copy()
    betas.iloc[3, [0, 5]] = np.nan
    write_subject(tmp_path / "s", betas, cond, verts, faces)
    with pytest.warns(RuntimeWarning, match="dropped 2 vertices with NaN/inf betas"):
        sub = load_subject(tmp_path / "s")
    assert sub.betas.shape[1] == len(verts) - 2 and sub.info["n_dropped_vertices"] == 2
    assert np.isfinite(sub.betas.to_numpy()).all()
    assert sub.faces.max() < len(sub.vertices)


def _break(folder, what):
    if what == "shape":
        np.save(folder / "betas.npy", np.load(folder / "betas.npy")[:, :-1])
    elif what == "roi":
        v = pd.read_csv(folder / "vertices.csv", keep_default_na=False)
        v.loc[0, "roi"] = "FFA"
        v.to_csv(folder / "vertices.csv", index=False)
    elif what == "dup":
        c = pd.read_csv(folder / "conditions.csv")
        c.loc[1, "condition"] = c.loc[0, "condition"]
        c.to_csv(folder / "conditions.csv", index=False)
    elif what == "faces":
        f = np.load(folder / "faces.npy")
        f[0, 0] = 10 ** 6
        np.save(folder / "faces.npy", f)
    elif what == "kind":
        c = pd.read_csv(folder / "conditions.csv")
        c.loc[0, "kind"] = "XX"
        c.to_csv(folder / "conditions.csv", index=False)
    elif what == "missing":
        (folder / "vertices.csv").unlink()


@pytest.mark.parametrize("what, pattern", [
    ("shape", r"betas.shape=\(25, \d+\): expected \(n_conditions=25, n_vertices=\d+\)"),
    ("roi", r"vertices.csv roi=\['FFA'\]: expected one of V1, V2, V3, V4, LO or empty"),
    ("dup", r"conditions.csv condition=\['re00_p1'\]: expected unique condition names"),
    ("faces", r"faces='indices 0..1000000': expected vertex indices"),
    ("kind", r"conditions.csv kind=\['XX'\]: expected RE, AN, AI or blank"),
    ("missing", r"vertices=.*expected a CSV file with columns hemi, roi"),
])
def test_bad_folders_are_clear_errors(tmp_path, subject_parts, what, pattern):
    betas, cond, verts, faces = subject_parts
    folder = write_subject(tmp_path / "sub-01", betas, cond, verts, faces)
    _break(folder, what)
    with pytest.raises(DataError, match=pattern):
        load_subject(folder)


def test_missing_images_against_the_manifest(tmp_path, subject_parts):
    betas, cond, verts, faces = subject_parts
    folder = write_subject(tmp_path / "sub-01", betas, cond, verts, faces)
    manifest = pd.DataFrame({"image_id": ["re00", "re07"], "kind": ["RE", "RE"]})
    with pytest.raises(DataError, match=r"conditions=.2 missing: \['re07_p1', 're07_p2'\]"):
        load_subject(folder, manifest=manifest)


def test_no_data_at_all(tmp_path):
    (tmp_path / "sub-01").mkdir()
    with pytest.raises(DataError, match="expected betas.npy \\+ conditions.csv, or timeseries"):
        load_subject(tmp_path / "sub-01")
    with pytest.raises(DataError, match="condition='re00': expected '<image_id>_p<presentation>'"):
        conditions_from_names(["re00"])


def test_timeseries_input_runs_the_glm(tmp_path):
    from advlib.fmri.simulation import simulate_runs

    cortex = make_hemisphere("rh", spacing=4.0, seed=1)
    n = len(cortex.vertices)
    ids = [f"{k}{i:02d}" for k in ("re", "an", "ai") for i in range(4)]
    responses = pd.DataFrame(np.random.default_rng(0).random((len(ids), n)), index=ids)
    plan = {1: [i for i in ids if i[2:] < "02"], 2: [i for i in ids if i[2:] >= "02"]}
    sim = simulate_runs(responses, plan, snr=50.0, n_runs_per_session=2, seed=0)
    folder = tmp_path / "sub-02"
    extra = {f"timeseries/run-{i + 1:02d}.npy": d for i, d in enumerate(sim.data)}
    extra.update({f"events/run-{i + 1:02d}.csv": e for i, e in enumerate(sim.events)})
    write_subject(folder, sim.true_betas, conditions_from_names(sim.true_betas.index),
                  cortex.vertices, cortex.faces, extra=extra)
    (folder / "betas.npy").unlink()
    (folder / "conditions.csv").unlink()
    sub = load_subject(folder, glm_options={"n_pcs": 0})
    true = sim.true_betas.loc[sub.betas.index].to_numpy()
    assert np.corrcoef(true.ravel(), sub.betas.to_numpy().ravel())[0, 1] > 0.95
