"""Fig 6 / Fig S1 analysis (advlib/encoding_analysis.py): known answers and a small dataset."""
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from advlib.analysis import (
    ASSIGNMENT_COLUMNS,
    ENCODING_COLUMNS,
    encoding_analysis,
    encoding_claims,
    layer_assignment_tests,
    layer_assignment_truth,
    layer_table,
    load_encoding_results,
    transfer_statistics,
)
from advlib.errors import InputError


def _pair(rng, n_img=12, n_v=60, noise=0.5):
    measured = rng.standard_normal((n_img, n_v))
    return measured + noise * rng.standard_normal((n_img, n_v)), measured


def test_transferring_model_is_significant_and_unrelated_one_is_not(rng):
    good_pred, good_meas = _pair(rng)
    bad_pred, bad_meas = rng.standard_normal((12, 60)), rng.standard_normal((12, 60))
    t = transfer_statistics({"AI": good_pred, "AN": bad_pred}, {"AI": good_meas, "AN": bad_meas},
                            n_perm=500, n_boot=300, seed=0).set_index("test_kind")
    assert t.loc["AI", "r"] > 0.8 and t.loc["AI", "p_perm"] == pytest.approx(1 / 501)
    assert abs(t.loc["AN", "r"]) < 0.2 and t.loc["AN", "p_perm"] > 0.01
    assert t.loc["AI", "ci_low"] < t.loc["AI", "r"] < t.loc["AI", "ci_high"]
    assert t.loc["AI", "p_diff"] == t.loc["AN", "p_diff"] < 0.01


def _r(p, m):
    """Pattern r by hand: centre each vertex over the images, correlate all entries."""
    p, m = p - p.mean(0), m - m.mean(0)
    return np.corrcoef(p.ravel(), m.ravel())[0, 1]


def test_permutation_null_and_bootstrap_equal_plain_loops(rng):
    from advlib.analysis import centred_interval

    pred, meas = _pair(rng, n_img=8, n_v=20, noise=2.0)
    t = transfer_statistics({"AI": pred}, {"AI": meas}, n_perm=200, n_boot=100, seed=5)
    gen = np.random.default_rng(5)                       # same draws, in the same order
    perms = np.argsort(gen.random((200, 8)), 1)
    counts = gen.multinomial(8, np.full(8, 1 / 8), size=100)
    r0 = _r(pred, meas)
    null = np.array([_r(pred, meas[perm]) for perm in perms])
    boots = np.array([_r(pred[np.repeat(np.arange(8), c)], meas[np.repeat(np.arange(8), c)])
                      for c in counts])
    assert t.r[0] == pytest.approx(r0, abs=1e-12)
    assert t.p_perm[0] == pytest.approx((1 + (null >= r0 - 1e-12).sum()) / 201)
    assert t.null_mean[0] == pytest.approx(null.mean()) and t.null_sd[0] == pytest.approx(
        null.std(ddof=1))
    lo, hi = centred_interval(r0, boots, 0.95)
    assert (t.ci_low[0], t.ci_high[0]) == pytest.approx((lo, hi))
    assert t.ci_low[0] <= t.r[0] <= t.ci_high[0]
    assert np.isnan(t.p_diff[0])


def test_ai_vs_an_swap_test_equals_a_plain_loop(rng):
    pa, ma = _pair(rng, n_img=7, n_v=15, noise=1.0)
    pn, mn = _pair(rng, n_img=7, n_v=15, noise=3.0)
    t = transfer_statistics({"AI": pa, "AN": pn}, {"AI": ma, "AN": mn}, n_perm=10, n_boot=10,
                            n_swap=50, seed=2)
    gen = np.random.default_rng(2)
    gen.random((10, 7))                                   # the permutations
    gen.multinomial(7, np.full(7, 1 / 7), size=10)        # the image bootstrap
    flips = gen.random((50, 7)) < 0.5

    def std(x):                                 # each kind: vertices centred, one scale
        x = x - x.mean(0)
        return x / x.std()

    pa, ma, pn, mn = std(pa), std(ma), std(pn), std(mn)
    obs = _r(pa, ma) - _r(pn, mn)
    null = []
    for f in flips:
        a_p, a_m = np.where(f[:, None], pn, pa), np.where(f[:, None], mn, ma)
        b_p, b_m = np.where(f[:, None], pa, pn), np.where(f[:, None], ma, mn)
        null.append(_r(a_p, a_m) - _r(b_p, b_m))
    expected = (1 + np.sum(np.abs(null) >= abs(obs) - 1e-12)) / 51
    assert t.p_diff[0] == t.p_diff[1] == pytest.approx(expected)


def test_ai_vs_an_swap_test_holds_its_level_when_the_kinds_differ_in_scale():
    """Null: AI and AN transfer alike, but AN predictions are 3x larger, AN responses half as
    large and shifted per vertex (before the kinds were standardised: 11% false positives)."""
    rng = np.random.default_rng(11)
    ps = []
    for _ in range(200):
        truth = {k: rng.normal(size=(17, 40)) for k in ("AI", "AN")}
        pred = {k: truth[k] + rng.normal(size=(17, 40)) for k in truth}
        meas = {k: 0.5 * truth[k] + rng.normal(size=(17, 40)) for k in truth}
        pred["AN"] = 3 * pred["AN"] + 0.5 * rng.normal(size=(1, 40))
        meas["AN"] = 0.5 * meas["AN"]
        t = transfer_statistics(pred, meas, n_perm=9, n_boot=9, n_swap=199,
                                seed=int(rng.integers(1 << 31)))
        ps.append(t.p_diff[0])
    assert 0.02 <= np.mean(np.array(ps) < 0.05) <= 0.08


def test_p_is_roughly_uniform_without_transfer():
    ps = []
    for seed in range(60):
        g = np.random.default_rng(seed)
        t = transfer_statistics({"AN": g.standard_normal((10, 30))},
                                {"AN": g.standard_normal((10, 30))}, n_perm=99, n_boot=10,
                                seed=seed)
        ps.append(t.p_perm[0])
    assert 0.3 < np.mean(ps) < 0.7 and np.mean(np.array(ps) < 0.05) < 0.15


def test_bad_arguments_are_clear_errors(rng):
    p, m = _pair(rng)
    with pytest.raises(InputError, match=r"measured=\['AN'\]: expected the same kinds"):
        transfer_statistics({"AI": p}, {"AN": m})
    with pytest.raises(InputError, match="fraction=1.5"):
        transfer_statistics({"AI": p}, {"AI": m}, fraction=1.5)
    with pytest.raises(InputError, match=r"predicted.shape=\(12, 59\)"):
        transfer_statistics({"AI": p[:, :59]}, {"AI": m})


def _assignment(low_ai=0.6, high_ai=0.1, n_sub=3):
    rows = []
    rng = np.random.default_rng(0)
    for s in range(n_sub):
        for p in (1, 2):
            for roi_i, roi in enumerate(["V1", "V2", "V3", "V4", "LO"]):
                for kind in ("AI", "AN"):
                    w = np.full(8, 1 / 8) if kind == "AN" else np.array(
                        [low_ai / 2] * 2 + [(1 - low_ai - high_ai) / 4] * 4
                        + [high_ai / 2 * (1 + roi_i / 4)] * 2)
                    w = np.abs(w + rng.normal(0, 0.01, 8))
                    w = w / w.sum()
                    rows += [{"subject": f"sub-0{s + 1}", "presentation": p, "test_kind": kind,
                              "roi": roi, "layer": f"layer{i + 1}", "proportion": w[i],
                              "n_vertices": 200, "mean_r": w[i] / 2} for i in range(8)]
    return pd.DataFrame(rows, columns=ASSIGNMENT_COLUMNS)


def test_layer_assignment_tests_are_scipy_paired_t_tests():
    a = _assignment()
    t = layer_assignment_tests(a, statistic="share").set_index(["test_kind", "test"])
    ai = a[a.test_kind == "AI"].pivot_table(index=["subject", "presentation", "roi"],
                                            columns="layer", values="proportion")
    expected = stats.ttest_rel(ai[["layer1", "layer2"]].sum(1), ai[["layer7", "layer8"]].sum(1))
    per_subject = lambda x: x.groupby("subject").mean()          # noqa: E731
    expected = stats.ttest_rel(per_subject(ai[["layer1", "layer2"]].sum(1)),
                               per_subject(ai[["layer7", "layer8"]].sum(1)))
    row = t.loc[("AI", "layers 1-2 vs 7-8")]
    assert row.p == pytest.approx(expected.pvalue) and row.n == 3   # subjects, not 30 values
    v1lo = t.loc[("AI", "V1 vs LO (share of layers 7-8)")]
    assert v1lo.n == 3 and v1lo.p < 0.01 and v1lo.mean_a < v1lo.mean_b
    claims = encoding_claims(_table(), layer_assignment_tests(a))
    s1 = claims[claims.claim.str.startswith("Fig S1")]
    assert len(s1) == 4 and s1.here.str.contains("n = 3 subjects").all()
    acc = layer_assignment_tests(a).set_index(["test_kind", "test"])   # mean accuracy
    low_high = acc.loc[("AI", "layers 1-2 vs 7-8")]
    assert low_high.statistic == "accuracy" and low_high.mean_a > low_high.mean_b
    assert ("AI", "V1 vs LO (layers 7-8 minus 1-2 r)") in acc.index


def test_layer_table_is_pandas_pivot_table():
    # the tests' table per subject x presentation x ROI and layer is pivot_table's: sorted,
    # duplicate cells averaged, NaN entries left out (no all-NaN row or column); the same
    # floats, so every test gets the same numbers at less than half pivot_table's cost
    a = _assignment()
    a.loc[a.index[:8], "mean_r"] = np.nan                       # a whole row of layers
    a.loc[a.layer == "layer3", "mean_r"] = np.nan                # a whole layer
    a = pd.concat([a, a.iloc[::7].assign(mean_r=lambda d: d.mean_r + 0.01)]).sample(
        frac=1.0, random_state=0)                                # duplicates, shuffled
    for value in ("proportion", "mean_r"):
        for _, g in a.groupby("test_kind"):
            pd.testing.assert_frame_equal(
                layer_table(g, value),
                g.pivot_table(index=["subject", "presentation", "roi"], columns="layer",
                              values=value), check_exact=True)
        for statistic in ("share", "accuracy"):
            assert not layer_assignment_tests(a, statistic=statistic).isna().all().any()
    with pytest.raises(InputError, match=r"assignment columns=\['mean_r'\]: expected all of"):
        layer_table(a.drop(columns="mean_r"))
    # a layer whose entries are all NaN, and the first row's layer seen after another one:
    # the columns are still sorted (review: unstack keeps the order of first appearance)
    b = pd.DataFrame({"subject": "s", "presentation": [1, 2, 1], "roi": ["V1", "LO", "V3"],
                      "layer": ["layer5", "layer4", "layer7"], "mean_r": [np.nan, 0.1, 0.2]})
    assert layer_table(b).columns.tolist() == ["layer4", "layer7"]
    pd.testing.assert_frame_equal(
        layer_table(b), b.pivot_table(index=["subject", "presentation", "roi"],
                                      columns="layer", values="mean_r"), check_exact=True)


def _table(n=40, ai_p=0.001, an_p=0.5, diff=0.001):
    rows = []
    for i in range(n):
        for kind, r, p in (("AI", 0.3, ai_p), ("AN", 0.01, an_p)):
            rows.append({"subject": "sub-01", "roi": f"R{i // 8}", "layer": f"layer{i % 8 + 1}",
                         "test_kind": kind, "r": r, "ci_low": r - .1, "ci_high": r + .1,
                         "p_perm": p, "p_diff": diff, "null_mean": 0.0, "null_sd": 0.03})
    return pd.DataFrame(rows)


def test_encoding_claims_count():
    assert encoding_claims(_table()).verdict[:3].tolist() == ["holds"] * 3
    assert encoding_claims(_table(ai_p=0.2, an_p=0.01, diff=0.3)).verdict[:3].tolist() == \
        ["does not hold"] * 3
    assert encoding_claims(_table()).here.iloc[0] == "40/40 (need 38)"
    assert (encoding_claims(_table()).verdict[3:] == "no evidence").all()   # no Fig S1 tests


def test_encoding_analysis_on_a_small_simulated_dataset(model, stim_dir, results_root,
                                                        small_dataset, tmp_path):
    data = small_dataset
    out = tmp_path / "out"
    with pytest.warns(RuntimeWarning, match="vertices selected, 200 asked"):
        table, assignment = encoding_analysis(
            model, data, stim_dir, out, n_folds=2, n_perm=20, n_boot=20, progress=False,
            layers=["layer3", "layer7"], features_cache=results_root / "features-enc")
    assert list(table.columns) == ENCODING_COLUMNS
    assert len(table) == 5 * 2 * 2 and set(table.test_kind) == {"AI", "AN"}
    assert table.r.between(-1, 1).all() and (table.ci_low <= table.ci_high).all()
    assert (table.median_n_nonzero == 1).all()          # 4 images, 2 folds: only level 1 fits
    sums = assignment.groupby(["presentation", "test_kind", "roi"]).proportion.sum()
    np.testing.assert_allclose(sums, 1.0)
    again, assignment2 = load_encoding_results(out)
    pd.testing.assert_frame_equal(again, table, check_dtype=False)
    second, _ = encoding_analysis(
        model, data, stim_dir, None, n_folds=2, n_perm=20, n_boot=20, progress=False,
        layers=["layer3", "layer7"], features_cache=results_root / "features-enc")
    pd.testing.assert_frame_equal(second, table)        # same seed, same numbers
    with pytest.raises(InputError, match="results=.*encoding results"):
        load_encoding_results(tmp_path / "nowhere")
    # cached: the same call returns the written tables; a changed parameter recomputes
    stamp = (out / "encoding.csv").stat().st_mtime_ns
    cached_table, _ = encoding_analysis(
        model, data, stim_dir, out, n_folds=2, n_perm=20, n_boot=20, progress=False,
        layers=["layer3", "layer7"], features_cache=results_root / "features-enc")
    assert (out / "encoding.csv").stat().st_mtime_ns == stamp
    pd.testing.assert_frame_equal(cached_table, again)
    changed, _ = encoding_analysis(                      # 2 subprocesses: warnings stay there
        model, data, stim_dir, out, n_folds=2, n_perm=21, n_boot=20, progress=False,
        layers=["layer3", "layer7"], features_cache=results_root / "features-enc", jobs=2)
    assert (out / "encoding.csv").stat().st_mtime_ns != stamp
    np.testing.assert_array_equal(changed.r, table.r)


def test_the_truth_of_fig_s1_is_a_cached_stage(model, stim_dir, results_root, small_dataset,
                                               tmp_path):
    """layer_assignment_truth (the encoding page's noise-free Fig S1): shares per ROI sum to
    1; written once as a stage and read back (make book computes it, the page reads it); the
    same numbers in a subprocess; real data (no noise-free amplitudes) are refused."""
    import shutil

    from advlib.fmri.data import TRUE_BETAS, DataError

    out = tmp_path / "out"
    kw = dict(n_folds=2, progress=False, features_cache=results_root / "features-truth")
    truth = layer_assignment_truth(model, small_dataset, stim_dir, out, **kw)
    assert list(truth.columns) == ASSIGNMENT_COLUMNS and set(truth.presentation) == {"truth"}
    np.testing.assert_allclose(truth.groupby(["test_kind", "roi"]).proportion.sum(), 1.0)
    path = out / "layer_assignment_truth.csv"
    stamp = path.stat().st_mtime_ns
    again = layer_assignment_truth(model, small_dataset, stim_dir, out, **kw)
    assert path.stat().st_mtime_ns == stamp                   # read back, not recomputed
    pd.testing.assert_frame_equal(again, truth, check_dtype=False)
    elsewhere = layer_assignment_truth(model, small_dataset, stim_dir, None, jobs=2, **kw)
    pd.testing.assert_frame_equal(elsewhere, truth, check_dtype=False)
    real = tmp_path / "real"
    shutil.copytree(small_dataset, real)
    for subject in real.glob("sub-*"):
        (subject / TRUE_BETAS).unlink()
    with pytest.raises(DataError, match="true_betas.npy"):
        layer_assignment_truth(model, real, stim_dir, None, **kw)


def test_images_missing_from_the_betas_are_a_clear_error(model, stim_dir, results_root,
                                                         small_dataset, tmp_path):
    from advlib.fmri import DataError, load_subject, write_subject

    data = small_dataset
    sub = load_subject(data / "sub-01")
    gone = sub.conditions.image_id[sub.conditions.kind == "AI"].iloc[0]
    keep = (sub.conditions.image_id != gone).to_numpy()
    broken = tmp_path / "broken"
    write_subject(broken / "sub-01", sub.betas[keep], sub.conditions[keep], sub.vertices,
                  sub.faces, sub.info)
    message = f"conditions=\"2 missing: ['{gone}_p1', '{gone}_p2']\": expected both presentations"
    with pytest.raises(DataError, match=re.escape(message)):
        encoding_analysis(model, broken, stim_dir, None, n_folds=2, n_perm=5, n_boot=5,
                          progress=False, layers=["layer7"],
                          features_cache=results_root / "features-enc")
