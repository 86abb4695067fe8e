import numpy as np
import pandas as pd
import pytest
from scipy.spatial import Delaunay

from advlib.analysis import (
    BRAIN_RSA_COLUMNS,
    DIAGNOSTIC_COLUMNS,
    STAT_COLUMNS,
    brain_claims,
    brain_rsa,
    compare_rdms,
    compute_rdm,
    kind_patterns,
    noise_ceilings,
    read_table,
    roi_rsa,
    searchlight_rsa,
    vertex_bootstrap,
)
from advlib.fmri import DataError, Subject, geodesic_disks


def _synthetic(rng, n_img=10, n_side=12, ai_noise=0.0, an_related=False):
    """One-hemisphere 'subject' whose AI patterns equal RE (plus noise) and AN are independent."""
    pts = np.array([(i + 0.5 * (j % 2), j * np.sqrt(3) / 2) for j in range(n_side)
                    for i in range(n_side)], dtype=float)
    n_v = len(pts)
    signal = rng.normal(size=(n_img, n_v))
    an_signal = signal if an_related else rng.normal(size=(n_img, n_v))
    rows, names, data = [], [], []
    for kind, base in (("RE", signal), ("AN", an_signal), ("AI", signal)):
        for i in range(n_img):
            for p in (1, 2):
                noise = 0.3 if kind != "AI" else 0.3 + ai_noise
                names.append(f"{kind.lower()}{i:02d}_p{p}")
                rows.append((names[-1], f"{kind.lower()}{i:02d}", kind, p))
                data.append(base[i] + noise * rng.normal(size=n_v))
    conditions = pd.DataFrame(rows, columns=["condition", "image_id", "kind", "presentation"])
    vertices = pd.DataFrame({"hemi": "lh", "roi": "V1", "x_mm": pts[:, 0], "y_mm": pts[:, 1]})
    manifest = pd.DataFrame([(f"{k.lower()}{i:02d}", k, f"re{i:02d}")
                             for k in ("RE", "AN", "AI") for i in range(n_img)],
                            columns=["image_id", "kind", "source_id"])
    sub = Subject("sub-99", pd.DataFrame(np.array(data), index=names), conditions, vertices,
                  Delaunay(pts).simplices, {})
    return sub, manifest


def test_planted_effect_ai_equals_re(rng):
    sub, manifest = _synthetic(rng)
    pat = kind_patterns(sub, manifest)
    ceiling = noise_ceilings(sub, n_per_hemi=60)["V1"]
    row = roi_rsa(sub, pat, np.arange(pat["RE"].shape[1]), "V1", n_perm=200, n_boot=200,
                  n_swap=500, seed=0, ceiling=ceiling)
    assert row["re_ai"] > 0.9 and row["p_perm_re_ai"] == pytest.approx(1 / 201)
    assert row["p_diff"] < 0.05 and row["noise_ceiling"] > 0.8
    assert row["re_ai_ci_low"] <= row["re_ai_ci_high"]


def test_independent_an_gives_roughly_uniform_p():
    ps = []
    for s in range(30):
        sub, manifest = _synthetic(np.random.default_rng(s), n_img=8, n_side=6)
        pat = kind_patterns(sub, manifest)
        ps.append(roi_rsa(sub, pat, np.arange(36), "V1", n_perm=99, n_boot=20, seed=s)
                  ["p_perm_re_an"])
    assert 0.3 < np.mean(ps) < 0.7 and min(ps) < 0.2 and max(ps) > 0.8


def test_vertex_bootstrap_ci_widens_with_noise_and_level(rng):
    widths = []
    for ai_noise in (0.0, 3.0):
        sub, manifest = _synthetic(np.random.default_rng(5), ai_noise=ai_noise, n_side=10)
        boot = vertex_bootstrap(kind_patterns(sub, manifest), n_boot=300, seed=1)
        lo, hi = np.quantile(boot["AI"], [0.16, 0.84])
        widths.append(hi - lo)
        lo95, hi95 = np.quantile(boot["AI"], [0.025, 0.975])
        assert lo95 <= lo < hi <= hi95
    assert 2 * widths[0] < widths[1]


def test_searchlight_equals_roi_when_the_disk_covers_the_roi(rng):
    sub, manifest = _synthetic(rng, n_side=6, ai_noise=0.5, an_related=True)
    pat = kind_patterns(sub, manifest)
    disks = geodesic_disks(sub.vertices[["x_mm", "y_mm"]].to_numpy(), sub.faces, radius=100.0)
    maps = searchlight_rsa(pat, disks, n_perm=50, seed=0)
    rdm = {k: compute_rdm(v) for k, v in pat.items()}
    np.testing.assert_allclose(maps["re_ai"], compare_rdms(rdm["RE"], rdm["AI"]), atol=1e-10)
    np.testing.assert_allclose(maps["re_an"], compare_rdms(rdm["RE"], rdm["AN"]), atol=1e-10)
    assert (maps["p_re_ai"] == maps["p_re_ai"][0]).all() and maps["p_re_ai"][0] < 0.05


def test_searchlight_permutations_match_roi_permutations(rng):
    from advlib.analysis import permutation_test

    sub, manifest = _synthetic(rng, n_side=5, ai_noise=2.0)
    pat = kind_patterns(sub, manifest)
    disks = geodesic_disks(sub.vertices[["x_mm", "y_mm"]].to_numpy(), sub.faces, radius=100.0)
    maps = searchlight_rsa(pat, disks, n_perm=100, seed=3)
    rdm = {k: compute_rdm(v) for k, v in pat.items()}
    ref = permutation_test(rdm["RE"], rdm["AI"], n_perm=100, seed=np.random.default_rng(3))
    assert maps["p_re_ai"][0] == pytest.approx(ref.p)


@pytest.mark.parametrize("with_kinds", [False, True])
def test_searchlight_null_equals_a_direct_loop_over_disks_and_permutations(rng, with_kinds):
    """The row-gather null (pairs as rows) and the re-centred block path against the
    definition: each disk's permuted vector dotted with its reference vector."""
    from advlib.analysis.brain_analysis import _searchlight_null
    from advlib.kernels import group_centre

    n_disks, n_pairs = 300, 21          # 300 > one block of disks
    z_ref, z_test = rng.normal(size=(2, n_disks, n_pairs))
    maps = np.stack([rng.permutation(n_pairs) for _ in range(7)])
    same = rng.integers(0, 3, n_pairs) if with_kinds else None
    expected = np.empty((len(maps), n_disks))
    for c, m in enumerate(maps):
        for v in range(n_disks):
            x = z_test[v, m]
            if same is not None:
                x = group_centre(x[None], same)[0]
                x = x / np.sqrt((x ** 2).sum())
            expected[c, v] = x @ z_ref[v]
    np.testing.assert_allclose(_searchlight_null(z_ref, z_test, maps, same), expected,
                               rtol=1e-12, atol=1e-12)


def test_missing_kind_is_a_clear_error(rng):
    sub, manifest = _synthetic(rng, n_side=4)
    keep = (sub.conditions.kind != "AN").to_numpy()
    sub.conditions = sub.conditions[keep].reset_index(drop=True)
    sub.betas = sub.betas[keep]
    with pytest.raises(DataError, match="subject sub-99 conditions='no AN images'"):
        kind_patterns(sub, manifest)


def test_brain_rsa_on_a_small_simulated_dataset(stim_dir, small_dataset, tmp_path):
    data = small_dataset
    with pytest.warns(RuntimeWarning, match="vertices selected, 400 asked"):
        table, maps = brain_rsa(data, stim_dir, tmp_path / "out", n_vertices=400, n_perm=20,
                                n_boot=20, progress=False)
    assert list(table.columns) == BRAIN_RSA_COLUMNS + DIAGNOSTIC_COLUMNS + STAT_COLUMNS
    assert len(table) == 5
    assert (table.n_vertices <= 400).all() and (table.n_vertices < 400).any()
    assert (tmp_path / "out" / "brain_rsa_400.csv").is_file()
    assert (tmp_path / "out" / "searchlight_400" / "sub-01.npz").is_file()
    assert set(maps["sub-01"][1]) == {"re_an", "re_ai", "p_re_an", "p_re_ai", "p_fwe_re_an",
                                      "p_fwe_re_ai"}
    assert table.p_sl_diff.between(0, 1).all() and (table.n_swap == 10000).all()
    claims = brain_claims(table)
    assert list(claims.columns) == ["claim", "verdict", "rule", "here", "paper"]
    stamp = (tmp_path / "out" / "brain_rsa_400.csv").stat().st_mtime_ns
    again, maps2 = brain_rsa(data, stim_dir, tmp_path / "out", n_vertices=400, n_perm=20,
                             n_boot=20, progress=False)         # cached: nothing recomputed
    assert (tmp_path / "out" / "brain_rsa_400.csv").stat().st_mtime_ns == stamp
    pd.testing.assert_frame_equal(again, read_table(tmp_path / "out" / "brain_rsa_400.csv"))
    np.testing.assert_array_equal(maps2["sub-01"][1]["re_ai"], maps["sub-01"][1]["re_ai"])
    assert list(maps2["sub-01"][0].columns) == ["hemi", "roi", "x_mm", "y_mm"]


def test_brain_claims_count():
    table = pd.DataFrame({"re_an": [0.1] * 5, "re_ai": [0.6] * 5,
                          "p_perm_re_an": [0.5, 0.5, 0.5, 0.5, 0.01],
                          "p_perm_re_ai": [0.001] * 5, "p_diff": [5e-5] * 5,
                          "null_mean_re_an": 0.0, "null_sd_re_an": 0.02, "n_swap": 20000})
    assert (brain_claims(table).verdict == "holds").all()
    table["p_diff"] = 0.5
    assert brain_claims(table).verdict.tolist() == ["holds", "holds", "does not hold"]


def test_vertex_intervals_contain_their_estimate_and_cover_at_their_level():
    """Coverage in a simulation: ROIs of 60 vertices drawn from one generative model; the
    68% interval of each draw should contain the mean of the statistic over draws about
    68% of the time, and always its own estimate."""
    from advlib.analysis.brain_analysis import vertex_interval
    from advlib.kernels import correlation_rdm, spearman, upper_triangle

    rng = np.random.default_rng(3)
    n_img, n_v, n_rep = 10, 60, 120
    truth_re = rng.normal(size=(n_img, 4000))

    def draw():
        cols = rng.choice(4000, n_v, replace=False)
        re = truth_re[:, cols] + 0.8 * rng.normal(size=(n_img, n_v))
        ai = truth_re[:, cols] + 0.8 * rng.normal(size=(n_img, n_v))
        return {"RE": re, "AN": rng.normal(size=(n_img, n_v)), "AI": ai}

    def estimate(p):
        return spearman(upper_triangle(correlation_rdm(p["RE"])),
                        upper_triangle(correlation_rdm(p["AI"])))

    draws = [draw() for _ in range(n_rep)]
    est = np.array([estimate(p) for p in draws])
    center = est.mean()
    for scheme in ("subsample", "replacement"):
        hits = 0
        for p, e in zip(draws, est):
            reps = vertex_bootstrap(p, n_boot=200, seed=rng, scheme=scheme)["AI"]
            lo, hi = vertex_interval(e, reps, 0.68, scheme)
            assert lo <= e <= hi
            hits += lo <= center <= hi
        if scheme == "subsample":
            assert 0.55 <= hits / n_rep <= 0.85, hits / n_rep


def test_noise_ceiling_is_not_inflated_by_the_selection():
    """On pure noise the ceiling measured on the selecting images is positive (selection
    picks chance agreement); measured on the other session's images it is 0 on average."""
    from advlib.fmri.searchlight import split_half_reliability

    biased, fair = [], []
    for seed in range(30):
        g = np.random.default_rng(seed)
        sub, _ = _synthetic(g, n_img=16, n_side=12)
        sub.betas = pd.DataFrame(g.normal(size=sub.betas.shape), index=sub.betas.index)
        sub.conditions = sub.conditions.assign(
            session=sub.conditions.image_id.str[-2:].astype(int) % 2 + 1)
        fair.append(noise_ceilings(sub, n_per_hemi=20)["V1"])
        from advlib.fmri import select_subject

        _, sel, _ = select_subject(sub, 3.0, 20)
        r = split_half_reliability(sub.betas, sub.conditions, sel.vertex.to_numpy())
        biased.append(2 * r / (1 + abs(r)))
    assert np.mean(biased) > 0.08
    assert abs(np.mean(fair)) < 0.05 and np.mean(fair) < np.mean(biased) - 0.05, fair


def test_above_ceiling_names_the_rois():
    from advlib.analysis import above_ceiling

    table = pd.DataFrame({"subject": ["sub-02", "sub-02"], "roi": ["V2", "V3"],
                          "re_ai": [0.66, 0.3], "re_an": [0.1, 0.0], "noise_ceiling": [0.57, 0.5]})
    text = above_ceiling(table)
    assert text.startswith("1 estimate exceeds") and "sub-02 V2 RE-AI 0.66 (ceiling 0.57)" in text
    assert above_ceiling(table.iloc[1:]) == ""


@pytest.mark.slow          # 800 ROI analyses (about 4 s): in `make test`, not the fast loop
def test_the_default_analysis_has_no_similarity_on_pure_noise():
    """Centring within session gives every RDM one session structure; the default analysis
    compares RDMs by partial correlation given it, so pure noise gives RE-AN ~ 0 (issue 21)."""
    from types import SimpleNamespace

    from advlib.fmri.normalize import normalize_betas

    rng = np.random.default_rng(21)
    n, v, draws = 17, 100, 400
    sessions = np.arange(n) % 2
    conditions = pd.DataFrame([{"kind": k, "session": s, "image": i}
                               for k in ("RE", "AN", "AI") for _ in range(2)
                               for i, s in enumerate(sessions)])
    default, plain = [], []
    for _ in range(draws):
        betas = normalize_betas(rng.normal(size=(len(conditions), v)), conditions, "center")
        patterns = {k: betas[(conditions.kind == k).to_numpy()].reshape(2, n, v).mean(0)
                    for k in ("RE", "AN", "AI")}
        for out, blocks in ((default, sessions), (plain, None)):
            row = roi_rsa(SimpleNamespace(name="noise"), patterns, np.arange(v), "V1",
                          n_perm=9, n_boot=9, n_swap=9, seed=int(rng.integers(1 << 31)),
                          blocks=blocks)
            out.append(row["re_an"])
    se = np.std(default) / np.sqrt(draws)
    print(f"pure noise, 17 images: mean RE-AN {np.mean(default):+.4f} (se {se:.4f}), plain "
          f"{np.mean(plain):+.4f}")
    assert abs(np.mean(default)) <= 0.01 and se < 0.005, (np.mean(default), se)
    assert np.mean(plain) > 0.02                       # the bias that partialling removes
