import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import pdist, squareform

from advlib.analysis import compare_rdms, compute_rdm, from_rsatoolbox, square_rdm, to_rsatoolbox
from advlib.errors import InputError
from advlib.kernels import upper_triangle


@pytest.fixture
def patterns(rng):
    return rng.normal(size=(12, 50))


def test_correlation_rdm_of_hand_made_patterns():
    x = np.array([[1, 2, 3, 4], [2, 4, 6, 8], [4, 3, 2, 1], [1, 3, 2, 4.0]])
    rdm = compute_rdm(x)
    assert rdm[0, 1] == pytest.approx(0.0, abs=1e-12)   # same pattern scaled: r = 1
    assert rdm[0, 2] == pytest.approx(2.0)              # reversed: r = -1
    assert rdm[0, 3] == pytest.approx(1 - 0.8)          # r = 0.8 by hand
    assert np.allclose(rdm, rdm.T) and np.all(np.diag(rdm) == 0)


@pytest.mark.parametrize("metric, scipy_metric, scale", [
    ("correlation", "correlation", 1.0), ("euclidean", "euclidean", 1.0),
    ("sqeuclidean", "sqeuclidean", 1 / 50), ("cosine", "cosine", 1.0)])
def test_metrics_match_scipy(patterns, metric, scipy_metric, scale):
    expected = squareform(pdist(patterns, scipy_metric)) * scale
    np.testing.assert_allclose(compute_rdm(patterns, metric), expected, atol=1e-10)


@pytest.mark.parametrize("ours, theirs", [("correlation", "correlation"),
                                          ("sqeuclidean", "euclidean")])
def test_rdms_agree_with_rsatoolbox(patterns, ours, theirs):
    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import calc_rdm

    ref = calc_rdm(Dataset(patterns), method=theirs).get_matrices()[0]
    np.testing.assert_allclose(compute_rdm(patterns, ours), ref, atol=1e-10)


@pytest.mark.parametrize("ours, theirs", [("spearman", "spearman"), ("pearson", "corr"),
                                          ("kendall_tau_a", "tau-a")])
def test_comparisons_agree_with_rsatoolbox(rng, ours, theirs):
    from rsatoolbox.rdm import compare

    a = compute_rdm(rng.normal(size=(10, 30)))
    b = compute_rdm(rng.normal(size=(10, 30)))
    b_tied = np.round(b, 1)  # ties, where tau-a and spearman handle them differently
    for other in (b, b_tied):
        ref = compare(to_rsatoolbox(a), to_rsatoolbox(other), method=theirs)[0, 0]
        assert compare_rdms(a, other, ours) == pytest.approx(ref, abs=1e-10)


def test_spearman_matches_scipy_and_tau_b(rng):
    a = compute_rdm(rng.normal(size=(8, 20)))
    b = compute_rdm(rng.normal(size=(8, 20)))
    va, vb = upper_triangle(a), upper_triangle(b)
    assert compare_rdms(a, b) == pytest.approx(stats.spearmanr(va, vb).statistic, abs=1e-12)
    assert compare_rdms(a, b, "kendall_tau_b") == pytest.approx(stats.kendalltau(va, vb).statistic)
    assert compare_rdms(a, a) == pytest.approx(1.0)


def test_rsatoolbox_round_trip(rng):
    rdms = np.stack([compute_rdm(rng.normal(size=(6, 9))) for _ in range(3)])
    obj = to_rsatoolbox(rdms, conditions=list("abcdef"), names=["x", "y", "z"])
    assert obj.n_rdm == 3 and obj.pattern_descriptors["conds"] == list("abcdef")
    np.testing.assert_allclose(from_rsatoolbox(obj), rdms)
    np.testing.assert_allclose(from_rsatoolbox(to_rsatoolbox(rdms[0])), rdms[0])
    np.testing.assert_allclose(square_rdm(upper_triangle(rdms[1])), rdms[1])


def test_bad_patterns():
    with pytest.raises(InputError, match=r"patterns.shape=\(3, 5\): expected at least 4"):
        compute_rdm(np.ones((3, 5)))
    with pytest.raises(InputError, match=r"layer7.shape=\(4,\): expected \(n_conditions, n_units\)"):
        compute_rdm(np.ones(4), name="layer7")
    x = np.random.default_rng(0).normal(size=(5, 6))
    x[2, 3] = np.nan
    with pytest.raises(InputError, match=r"AN layer2: 1 NaN/inf values in conditions \[2\]"):
        compute_rdm(x, name="AN layer2")
    with pytest.raises(InputError, match="metric='manhattan': expected one of correlation"):
        compute_rdm(np.eye(5), "manhattan")


def test_constant_layer_is_a_clear_error():
    const = np.ones((6, 10))
    with pytest.raises(InputError, match=r"RE layer4='zero variance in conditions \[0, 1, 2, 3, 4\]'"):
        compute_rdm(const, name="RE layer4")
    flat_rdm = compute_rdm(const, "euclidean")  # all zeros: cannot be rank-correlated
    other = compute_rdm(np.random.default_rng(1).normal(size=(6, 10)))
    with pytest.raises(InputError, match="AN layer4='RDM with all dissimilarities equal'"):
        compare_rdms(other, flat_rdm, names=("RE layer4", "AN layer4"))


def test_mismatched_and_malformed_rdms(rng):
    a = compute_rdm(rng.normal(size=(6, 5)))
    b = compute_rdm(rng.normal(size=(7, 5)))
    with pytest.raises(InputError, match=r"AI.shape=\(7, 7\): expected the shape of RE \(6, 6\)"):
        compare_rdms(a, b, names=("RE", "AI"))
    bad = a.copy()
    bad[0, 1] += 1
    with pytest.raises(InputError, match="asymmetric matrix"):
        compare_rdms(a, bad)
    bad = a.copy()
    bad[0, 1] = bad[1, 0] = np.inf
    with pytest.raises(InputError, match="matrix with NaN or inf"):
        compare_rdms(a, bad)
    with pytest.raises(InputError, match="method='cosine'"):
        compare_rdms(a, a, "cosine")


def _partial_by_regression(a, b, sessions, rank=True):
    """Partial correlation given the same-session indicator, by least squares residuals."""
    n = len(sessions)
    iu, ju = np.triu_indices(n, 1)
    s = np.asarray(sessions)
    kinds = [(a, b) for a in np.unique(s) for b in np.unique(s) if a <= b]
    lo, hi = np.minimum(s[iu], s[ju]), np.maximum(s[iu], s[ju])
    design = np.column_stack([(lo == a) & (hi == b) for a, b in kinds]).astype(float)
    va, vb = upper_triangle(a), upper_triangle(b)
    if rank:
        va, vb = stats.rankdata(va), stats.rankdata(vb)
    ra = va - design @ np.linalg.lstsq(design, va, rcond=None)[0]
    rb = vb - design @ np.linalg.lstsq(design, vb, rcond=None)[0]
    return stats.pearsonr(ra, rb).statistic


def test_partial_similarity_given_sessions_matches_regression_residuals():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(11, 20))
    a, b = compute_rdm(x + rng.normal(size=x.shape)), compute_rdm(x + rng.normal(size=x.shape))
    sessions = np.arange(11) % 2
    for method, rank in (("spearman", True), ("pearson", False)):
        assert compare_rdms(a, b, method, sessions=sessions) == pytest.approx(
            _partial_by_regression(a, b, sessions, rank))
    # one session only: nothing to partial out, the plain correlation
    assert compare_rdms(a, b, sessions=np.zeros(11)) == pytest.approx(compare_rdms(a, b))
    with pytest.raises(InputError, match=r"sessions.shape=\(3,\): expected \(11,\)"):
        compare_rdms(a, b, sessions=[0, 1, 0])
    with pytest.raises(InputError, match="method='kendall_tau_a': expected 'spearman' or"):
        compare_rdms(a, b, "kendall_tau_a", sessions=sessions)
    three = np.arange(11) % 3                  # 3 sessions: 6 kinds of pair
    assert compare_rdms(a, b, sessions=three) == pytest.approx(
        _partial_by_regression(a, b, three))
    with pytest.raises(InputError, match="sessions=.*expected a session label for every"):
        compare_rdms(a, b, sessions=np.r_[np.arange(10) % 2, np.nan])
    # an RDM that varies only between the kinds of pair has nothing left to compare
    block = (sessions[:, None] != sessions[None, :]).astype(float)
    with pytest.raises(InputError, match="varies only between session pairs"):
        compare_rdms(block, b, sessions=sessions)


def test_a_shared_session_structure_is_no_similarity():
    # two RDMs of independent noise that share only a session block structure
    rng = np.random.default_rng(0)
    sessions = np.arange(12) % 2
    block = (sessions[:, None] != sessions[None, :]).astype(float)
    a = compute_rdm(rng.normal(size=(12, 30))) + 0.5 * block
    b = compute_rdm(rng.normal(size=(12, 30))) + 0.5 * block
    np.fill_diagonal(a, 0)
    np.fill_diagonal(b, 0)
    assert compare_rdms(a, b) > 0.5
    assert abs(compare_rdms(a, b, sessions=sessions)) < 0.2


@pytest.mark.parametrize("sizes", [(4, 13), (9, 8), (3, 6, 9)])
def test_partial_similarity_of_centred_noise_is_unbiased_for_any_session_sizes(sizes):
    """Centring leaves each session's pairs at a level set by its size: the pair kinds are
    (session a, session b), not just same / different (4 + 13 images: +0.016 otherwise)."""
    import pandas as pd

    from advlib.fmri.normalize import normalize_betas

    rng = np.random.default_rng(7)
    sessions = np.repeat(np.arange(len(sizes)), sizes)
    n = len(sessions)
    conditions = pd.DataFrame({"kind": np.repeat(["RE", "AN"], n), "session": np.tile(sessions, 2)})
    values = []
    for _ in range(600):
        betas = normalize_betas(rng.normal(size=(2 * n, 40)), conditions, "center")
        values.append(compare_rdms(compute_rdm(betas[:n]), compute_rdm(betas[n:]),
                                   sessions=sessions))
    assert abs(np.mean(values)) < 3 * np.std(values) / np.sqrt(600) + 0.002, np.mean(values)
