import json

import numpy as np
import pandas as pd
import pytest

from advlib.analysis import CNN_RSA_COLUMNS, cnn_claims, cnn_rsa, load_cnn_results
from advlib.cnn import stimulus_features
from advlib.cnn.stimulus_set import load_manifest
from advlib.errors import StimulusError

# With the smoke set's 4 images many bootstrap resamples have < 3 distinct pairs; the
# library warns and drops them (tested in test_stats.py), which is expected here.
pytestmark = pytest.mark.filterwarnings("ignore:bootstrap:RuntimeWarning")


@pytest.fixture(scope="module")
def cnn_result(model, stim_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("cnn")
    return out, cnn_rsa(model, stim_dir, out, n_perm=30, n_boot=40, seed=1, progress=False)


def test_tables_written_with_the_documented_columns(cnn_result):
    out, res = cnn_result
    table, trend = load_cnn_results(out)
    assert list(table.columns[:len(CNN_RSA_COLUMNS)]) == CNN_RSA_COLUMNS
    assert list(table.layer) == [f"layer{i}" for i in range(1, 9)]
    assert set(trend.similarity) == {"re_an", "re_ai"}
    assert {"trend", "tau", "p"} <= set(trend.columns)
    lo, hi = table.re_ai_ci_low, table.re_ai_ci_high
    assert ((lo <= hi) & table.p_perm_re_ai.between(1 / 31, 1)).all()
    prov = json.loads((out / "cnn_rsa_provenance.json").read_text())
    assert prov["parameters"]["n_perm"] == 30 and len(prov["images_used"]) == 4
    with np.load(out / "cnn_rdms.npz") as data:
        assert data["RE/layer1"].shape == (4, 4) and data["null_AI/layer8"].shape == (30,)


def test_ai_images_share_the_early_representation(cnn_result):
    # AI images differ from RE by a few grey levels: their stem RDM is nearly RE's.
    _, res = cnn_result
    assert res.table.re_ai.iloc[0] > 0.8


def test_same_seed_same_table(model, stim_dir, cnn_result):
    _, res = cnn_result
    again = cnn_rsa(model, stim_dir, None, n_perm=30, n_boot=40, seed=1, progress=False)
    pd.testing.assert_frame_equal(res.table, again.table)


def test_features_are_cached_and_invalidated(model, stim_dir, cnn_result, monkeypatch, tmp_path):
    out, _ = cnn_result
    monkeypatch.setattr("advlib.cnn.features.extract_features", None)  # would fail if recomputed
    feats = stimulus_features(model, stim_dir, cache_dir=out / "features")
    assert feats["AI"]["layer8"].shape == (4, 1000)
    record = out / "features" / "features_provenance.json"
    key = json.loads(record.read_text())
    key["cache_key"] = "other"
    record.write_text(json.dumps(key))
    with pytest.raises(TypeError):  # stale key: recomputation attempted
        stimulus_features(model, stim_dir, cache_dir=out / "features")


def test_too_few_usable_images(model, stim_dir, tmp_path):
    manifest = load_manifest(stim_dir)
    manifest.loc[manifest.image_id == "an00", "converged"] = False
    for p in manifest.path:
        (tmp_path / p).parent.mkdir(exist_ok=True)
        (tmp_path / p).write_bytes((stim_dir / p).read_bytes())
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    with pytest.raises(StimulusError, match="CNN RSA: the stimulus set has 3 usable regular images"):
        cnn_rsa(model, tmp_path, None, n_perm=5, n_boot=5, progress=False)


def _fake_table(re_an, re_ai, p_an, p_ai, p_diff):
    return pd.DataFrame({"layer": [f"layer{i}" for i in range(1, 9)], "re_an": re_an,
                         "re_ai": re_ai, "p_perm_re_an": p_an, "p_perm_re_ai": p_ai,
                         "p_diff": p_diff, "null_mean_re_an": 0.0, "null_sd_re_an": 0.03,
                         "n_perm": 1000})


def test_claims_hold_for_the_papers_pattern():
    from advlib.analysis import mann_kendall

    re_an = [0.0, 0.05, 0.15, 0.2, 0.3, 0.35, 0.45, 0.8]
    re_ai = [0.9, 0.85, 0.8, 0.7, 0.65, 0.6, 0.5, 0.3]
    # p_perm_re_ai: the smallest p 1000 permutations give (the paper: all p < 0.001)
    table = _fake_table(re_an, re_ai, [0.5, 0.3] + [0.01] * 6, [1 / 1001] * 8,
                        [0.001] * 6 + [0.375, 0.01])
    trend = pd.DataFrame([{"similarity": c, **mann_kendall(table[c])} for c in ("re_an", "re_ai")])
    claims = cnn_claims(table, trend)
    assert (claims.verdict == "holds").all() and len(claims) == 7


def test_claims_fail_when_the_pattern_is_absent():
    from advlib.analysis import mann_kendall

    flat = [0.2] * 8
    table = _fake_table(flat, [0.3, 0.1] * 4, [0.01] * 2 + [0.5] * 6, [0.5] * 8, [0.5] * 8)
    trend = pd.DataFrame([{"similarity": "re_an", "trend": "no trend", "tau": 0.0, "p": 1.0,
                           "s": 0.0},
                          {"similarity": "re_ai", **mann_kendall(table.re_ai)}])
    claims = cnn_claims(table, trend)
    assert not (claims.verdict == "holds").any()
