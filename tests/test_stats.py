import numpy as np
import pytest
from scipy import stats

from advlib.analysis import (
    bootstrap_p,
    bootstrap_similarities,
    compare_rdms,
    compute_rdm,
    mann_kendall,
    percentile_ci,
    permutation_test,
)
from advlib.errors import InputError


def _pair(rng, n=12, units=20, noise=None):
    """Two RDMs of the same n conditions: independent, or sharing structure when noise given."""
    base = rng.normal(size=(n, units))
    other = rng.normal(size=(n, units)) if noise is None else base + noise * rng.normal(
        size=(n, units))
    return compute_rdm(base), compute_rdm(other)


def test_permutation_matches_the_plain_loop(rng):
    a, b = _pair(rng, n=9, noise=1.0)
    res = permutation_test(a, b, n_perm=200, seed=3)
    perms = np.random.default_rng(3).permuted(np.tile(np.arange(9), (200, 1)), axis=1)
    loop = np.array([compare_rdms(a, b[np.ix_(p, p)]) for p in perms])
    np.testing.assert_allclose(res.null, loop, atol=1e-12)
    assert res.p == (1 + np.sum(loop >= res.observed - 1e-12)) / 201


@pytest.mark.parametrize("method", ["pearson", "kendall_tau_a", "kendall_tau_b"])
def test_permutation_other_methods_match_the_plain_loop(rng, method):
    a, b = _pair(rng, n=7, noise=1.0)
    res = permutation_test(a, b, method=method, n_perm=30, seed=1)
    perms = np.random.default_rng(1).permuted(np.tile(np.arange(7), (30, 1)), axis=1)
    loop = [compare_rdms(a, b[np.ix_(p, p)], method) for p in perms]
    np.testing.assert_allclose(res.null, loop, atol=1e-12)


def test_permutation_p_uniform_under_the_null():
    ps = []
    for seed in range(200):
        rng = np.random.default_rng(seed)
        a, b = _pair(rng, n=8, units=5)
        ps.append(permutation_test(a, b, n_perm=99, seed=seed + 1000).p)
    assert stats.kstest(ps, "uniform").pvalue > 0.01
    assert 0.35 < np.mean(ps) < 0.65


def test_permutation_p_small_under_a_planted_effect(rng):
    a, b = _pair(rng, n=20, noise=0.5)
    res = permutation_test(a, b, n_perm=999, seed=0)
    assert res.p == pytest.approx(1 / 1000) and res.observed > 0.5


def test_same_seed_same_numbers(rng):
    a, b = _pair(rng, n=10, noise=1.0)
    r1 = permutation_test(a, b, n_perm=100, seed=5)
    r2 = permutation_test(a, b, n_perm=100, seed=5)
    r3 = permutation_test(a, b, n_perm=100, seed=6)
    assert np.array_equal(r1.null, r2.null) and not np.array_equal(r1.null, r3.null)
    b1 = bootstrap_similarities(a, {"X": b}, n_boot=50, seed=2)
    b2 = bootstrap_similarities(a, {"X": b}, n_boot=50, seed=2)
    assert np.array_equal(b1.samples["X"], b2.samples["X"])


def test_bootstrap_drops_identical_pairs_and_matches_a_plain_loop(rng):
    a, b = _pair(rng, n=8, noise=1.0)
    res = bootstrap_similarities(a, {"X": b}, n_boot=40, seed=9)
    idx = np.random.default_rng(9).integers(0, 8, size=(40, 8))
    iu, ju = np.triu_indices(8, 1)
    loop = []
    for sample in idx:
        keep = sample[iu] != sample[ju]
        va, vb = a[sample[iu], sample[ju]][keep], b[sample[iu], sample[ju]][keep]
        loop.append(stats.spearmanr(va, vb).statistic)
    np.testing.assert_allclose(res.samples["X"], loop, atol=1e-12)
    assert np.isfinite(res.samples["X"]).all()


def test_bootstrap_ci_covers_the_truth_in_simulation():
    """The population RDM similarity is covered by ~95% of 95% intervals (loose bounds)."""
    truth_rng = np.random.default_rng(123)
    n_pop, units = 400, 12
    base = truth_rng.normal(size=(n_pop, units))
    other = base + 1.2 * truth_rng.normal(size=(n_pop, units))
    pop_a, pop_b = compute_rdm(base), compute_rdm(other)
    truth = compare_rdms(pop_a, pop_b)
    hits = 0
    for s in range(60):
        pick = np.random.default_rng(s).choice(n_pop, 30, replace=False)
        res = bootstrap_similarities(pop_a[np.ix_(pick, pick)], {"X": pop_b[np.ix_(pick, pick)]},
                                     n_boot=300, seed=s)
        lo, hi = res.ci("X", 0.95)
        hits += lo <= truth <= hi
    assert hits / 60 >= 0.8


def test_bootstrap_difference_test(rng):
    base = rng.normal(size=(16, 30))
    re = compute_rdm(base)
    ai = compute_rdm(base + 0.3 * rng.normal(size=base.shape))
    an = compute_rdm(rng.normal(size=base.shape))
    res = bootstrap_similarities(re, {"AN": an, "AI": ai}, n_boot=500, seed=0)
    assert res.p_difference("AI", "AN") < 0.01
    assert res.observed["AI"] > 0.8 > res.observed["AN"]
    lo68, hi68 = res.ci("AI", 0.68)
    lo95, hi95 = res.ci("AI", 0.95)
    assert lo95 <= lo68 < hi68 <= hi95


def test_bootstrap_with_few_images_warns_and_drops_degenerate_resamples(rng):
    a, b = _pair(rng, n=4, noise=1.0)
    with pytest.warns(RuntimeWarning, match=r"bootstrap: \d+ of 200 resamples had too few"):
        res = bootstrap_similarities(a, {"X": b}, n_boot=200, seed=0)
    assert 0 < len(res.samples["X"]) < 200 and np.isfinite(res.samples["X"]).all()


def test_bootstrap_p_and_percentile_ci_known_answers():
    assert bootstrap_p(np.ones(99)) == pytest.approx(2 / 100)
    assert bootstrap_p(-np.ones(99)) == pytest.approx(2 / 100)
    assert bootstrap_p(np.r_[np.ones(50), -np.ones(49)]) == 1.0
    assert percentile_ci(np.arange(101.0), 0.9) == pytest.approx((5.0, 95.0))


def test_mann_kendall_known_trends():
    up = mann_kendall([0.1, 0.2, 0.25, 0.4, 0.5, 0.55, 0.7, 0.9])
    assert up["trend"] == "increasing" and up["tau"] == pytest.approx(1.0) and up["p"] < 0.001
    down = mann_kendall([8, 7, 6, 5, 4, 3, 2, 1])
    assert down["trend"] == "decreasing"
    flat = mann_kendall([1, 3, 2, 3, 1, 2, 3, 1])
    assert flat["trend"] == "no trend" and flat["p"] > 0.3


def test_bad_arguments(rng):
    a, b = _pair(rng, n=6)
    with pytest.raises(InputError, match="n_perm=0: expected a positive integer"):
        permutation_test(a, b, n_perm=0)
    with pytest.raises(InputError, match="n_boot=-1"):
        bootstrap_similarities(a, {"X": b}, n_boot=-1)
    with pytest.raises(InputError, match="seed=-3"):
        permutation_test(a, b, seed=-3)
    with pytest.raises(InputError, match="level=95: expected a coverage in"):
        percentile_ci([1.0, 2.0], 95)
    with pytest.raises(InputError, match=r"values.shape=\(2,\)"):
        mann_kendall([1, 2])
    small = compute_rdm(rng.normal(size=(7, 4)))
    with pytest.raises(InputError, match=r"X.shape=\(7, 7\): expected the shape of RE"):
        bootstrap_similarities(a, {"X": small})


def test_swap_test_equals_a_plain_loop(rng):
    from advlib.analysis import swap_test

    n = 9
    x = rng.normal(size=(3 * n, 15))
    ref, a, b = compute_rdm(x[:n]), x[n:2 * n], x[2 * n:]
    res = swap_test(ref, compute_rdm(np.vstack([a, b])), n_perm=40, seed=7)
    flips = np.random.default_rng(7).random((40, n)) < 0.5
    loop = [compare_rdms(ref, compute_rdm(np.where(f[:, None], b, a)))
            - compare_rdms(ref, compute_rdm(np.where(f[:, None], a, b))) for f in flips]
    np.testing.assert_allclose(res.null, loop, atol=1e-12)
    assert res.observed == pytest.approx(compare_rdms(ref, compute_rdm(a))
                                         - compare_rdms(ref, compute_rdm(b)))
    assert res.p == pytest.approx((1 + np.sum(np.abs(loop) >= abs(res.observed) - 1e-12)) / 41)
    # images that may not swap never do
    fixed = swap_test(ref, compute_rdm(np.vstack([a, b])), n_perm=40, seed=7,
                      swappable=np.zeros(n, bool))
    assert np.allclose(fixed.null, res.observed) and fixed.p == 1.0


def test_swap_test_ranks_tied_dissimilarities_as_a_plain_loop(rng):
    """Spearman swap sets are ranked from the joint RDM's dense value codes: with many tied
    dissimilarities (a coarse RDM) the null is still that of ranking each swapped RDM."""
    from advlib.analysis import swap_test

    n = 10
    x = rng.normal(size=(3 * n, 6))
    ref = compute_rdm(x[:n])
    joint = np.round(compute_rdm(x[n:]), 1)                # about 20 distinct values
    sessions = np.arange(n) % 2
    for sess in (None, sessions):
        res = swap_test(ref, joint, n_perm=60, seed=5, sessions=sess)
        flips = np.random.default_rng(5).random((60, n)) < 0.5
        loop = []
        for f in flips:
            a, b = np.arange(n) + n * f, np.arange(n) + n * ~f
            loop.append(compare_rdms(ref, joint[np.ix_(a, a)], sessions=sess)
                        - compare_rdms(ref, joint[np.ix_(b, b)], sessions=sess))
        np.testing.assert_allclose(res.null, loop, atol=1e-12)


def test_a_swapped_rdm_constant_within_its_session_pairs_gives_nan_not_inf():
    """A binary joint RDM whose swapped version is constant within every session-pair kind
    has no within-kind variation: its similarity is undefined (NaN, as compare_rdms refuses
    it), never +/-inf from rounding in the raw rank sums (found by review)."""
    from scipy.spatial.distance import squareform

    from advlib.analysis import swap_test

    ref = squareform(np.array([3, 7, 4, 10, 2, 8, 1, 9, 6, 5], float))
    joint = squareform(np.array([int(c) for c in
                                 "011101100000001101111100100000000011100101111"], float))
    sessions, n = [0, 0, 0, 1, 1], 5
    res = swap_test(ref, joint, n_perm=64, seed=1, sessions=sessions)
    assert not np.isinf(res.null).any()
    undefined = []
    for f in np.random.default_rng(1).random((64, n)) < 0.5:
        a, b = np.arange(n) + n * f, np.arange(n) + n * ~f
        try:
            compare_rdms(ref, joint[np.ix_(a, a)], sessions=sessions)
            compare_rdms(ref, joint[np.ix_(b, b)], sessions=sessions)
            undefined.append(False)
        except InputError:
            undefined.append(True)
    np.testing.assert_array_equal(np.isnan(res.null), undefined)
    assert 0 < sum(undefined) < 64


def test_a_swap_test_stopped_early_decides_as_the_full_test(rng):
    """Sequential stopping at the paper's p <= 0.0001: the same decision as all swap sets,
    a valid p over those drawn, and no early stop for a test that reaches the level (24
    images: swap sets near "all swapped" mirror the observed value too rarely to matter)."""
    from advlib.analysis import swap_test

    n = 24
    base = rng.normal(size=(n, 60))
    cases = {"no effect": (base + rng.normal(size=(n, 60)), base + rng.normal(size=(n, 60))),
             "strong": (base + 0.1 * rng.normal(size=(n, 60)), rng.normal(size=(n, 60)))}
    for name, (a, b) in cases.items():
        joint = compute_rdm(np.vstack([a, b]))
        ref = compute_rdm(base + 0.1 * rng.normal(size=(n, 60)))
        full = swap_test(ref, joint, n_perm=10000, seed=3)
        fast = swap_test(ref, joint, n_perm=10000, seed=3, stop_above=1e-4)
        assert (full.p <= 1e-4) == (fast.p <= 1e-4), name
        assert fast.observed == full.observed
        np.testing.assert_array_equal(fast.null, full.null[:fast.null.size])  # same draws
        hits = np.sum(np.abs(fast.null) >= abs(fast.observed) - 1e-12)
        assert fast.p == pytest.approx((1 + hits) / (1 + fast.null.size))
        if name == "no effect":
            assert fast.null.size == 1000 and fast.p > 1e-4        # stopped after one chunk
        else:
            assert full.p <= 1e-4 and fast.null.size == 10000
    # a level whose bar is an integer in exact arithmetic (0.29 x 100 = 28.99.. in floats)
    for seed in range(20):
        x = rng.normal(size=(3 * 10, 8))
        ref10, j10 = compute_rdm(x[:10]), compute_rdm(x[10:])
        full = swap_test(ref10, j10, n_perm=99, seed=seed)
        fast = swap_test(ref10, j10, n_perm=99, seed=seed, chunk=1, stop_above=0.29)
        assert (full.p <= 0.29) == (fast.p <= 0.29)
    with pytest.raises(InputError, match="stop_above"):
        swap_test(ref, joint, n_perm=100, stop_above=1.5)


def test_swap_test_refuses_a_joint_rdm_of_the_wrong_size(rng):
    from advlib.analysis import swap_test

    ref = compute_rdm(rng.normal(size=(6, 5)))
    with pytest.raises(InputError, match=r"A\+B.shape=\(6, 6\): expected \(12, 12\)"):
        swap_test(ref, ref)


def test_exact_mann_kendall_equals_enumeration_and_the_normal_for_long_series():
    from itertools import permutations

    from advlib.analysis import mann_kendall_exact_p
    from advlib.analysis.stats import _mk_s

    v = np.array([0.3, 0.1, 0.5, 0.4, 0.9, 0.7])
    orders = np.array(list(permutations(v)))
    brute = np.mean(np.abs(_mk_s(orders)) >= abs(_mk_s(v)[0]))
    assert mann_kendall_exact_p(v) == pytest.approx(brute)
    tied = np.array([1.0, 2, 2, 3, 5, 4])
    assert mann_kendall_exact_p(tied) == pytest.approx(
        np.mean(np.abs(_mk_s(np.array(list(permutations(tied))))) >= abs(_mk_s(tied)[0])))
    # 8 layers: one swap of neighbours still gives p < 0.001 (the normal approximation: no)
    res = mann_kendall([1, 2, 3, 5, 4, 6, 7, 8])
    assert res["p_method"] == "exact" and res["p"] < 0.001 and res["trend"] == "increasing"
    import pymannkendall as mk

    long = np.random.default_rng(0).normal(size=15).cumsum()
    assert mann_kendall(long)["p"] == pytest.approx(mk.original_test(long).p)


def test_power_helpers_known_answers():
    from advlib.analysis import at_least_power, normal_power

    assert normal_power(0.0, 0.1, 0.0) == pytest.approx(0.05)
    assert normal_power(0.0, 0.1, 0.1645 + 0.0842) == pytest.approx(0.80, abs=0.01)
    assert np.isnan(normal_power(0.0, 0.0, 0.1))
    assert at_least_power([0.5, 0.5], 0) == pytest.approx(0.75)
    assert at_least_power([0.5, 0.5], 1) == pytest.approx(0.25)
    assert at_least_power([0.5, 0.5], 2) == 0.0 and np.isnan(at_least_power([np.nan], 0))
    sims = (np.random.default_rng(1).random((20000, 4)) < [0.2, 0.5, 0.7, 0.9]).sum(1)
    assert at_least_power([0.2, 0.5, 0.7, 0.9], 2) == pytest.approx(np.mean(sims > 2), abs=0.01)


def _noise_rdms(rng, n=10, v=15):
    return compute_rdm(rng.normal(size=(n, v))), compute_rdm(rng.normal(size=(n, v)))


def test_permutation_test_with_sessions_equals_a_plain_loop():
    from advlib.analysis import permutation_indices

    rng = np.random.default_rng(1)
    a, b = _noise_rdms(rng)
    sessions = np.arange(10) % 2
    for blocks in (sessions, None):
        res = permutation_test(a, b, n_perm=40, seed=5, blocks=blocks, sessions=sessions)
        perms = permutation_indices(10, 40, 5, blocks)
        loop = [compare_rdms(a, b[np.ix_(p, p)], sessions=sessions) for p in perms]
        assert res.observed == pytest.approx(compare_rdms(a, b, sessions=sessions))
        assert res.null == pytest.approx(np.array(loop))


def test_permutation_nulls_keep_their_floats_bit_for_bit():
    """The pairs' positions are gathered as rows of the transposed permutations but keep
    the column gathers' (column-major) layout, so each null sums in the same order as the
    plain formula: the same floats, not only close ones (a C-ordered gather changed the
    last bits of the ground-truth study's p-values and nulls)."""
    from advlib.analysis import permutation_indices
    from advlib.kernels import group_centre, session_pair_groups

    rng = np.random.default_rng(7)
    a, b = _noise_rdms(rng)
    n, sessions = 10, np.arange(10) % 2
    iu, ju = np.triu_indices(n, 1)
    perms = permutation_indices(n, 60, 5, sessions)
    same = session_pair_groups(sessions, iu, ju)
    ta = group_centre(stats.rankdata(a[iu, ju]), same)
    tb = np.zeros((n, n))
    tb[iu, ju] = stats.rankdata(b[iu, ju])
    tb = tb + tb.T
    gathered = group_centre(tb.ravel()[perms[:, iu] * n + perms[:, ju]], same)
    want = gathered @ ta / np.sqrt((ta ** 2).sum() * (gathered ** 2).sum(1))
    got = permutation_test(a, b, n_perm=60, seed=5, blocks=sessions, sessions=sessions).null
    assert np.array_equal(got, want)


def test_swap_test_with_sessions_equals_a_plain_loop():
    from advlib.analysis import swap_indices, swap_test

    rng = np.random.default_rng(2)
    n = 9
    ref = compute_rdm(rng.normal(size=(n, 12)))
    ai, an = rng.normal(size=(n, 12)), rng.normal(size=(n, 12))
    joint = compute_rdm(np.vstack([ai, an]))
    sessions = np.arange(n) % 2
    res = swap_test(ref, joint, n_perm=30, seed=4, sessions=sessions)
    flips = swap_indices(n, 30, 4)
    null = []
    for f in flips.astype(bool):
        x, y = np.where(f[:, None], an, ai), np.where(f[:, None], ai, an)
        null.append(compare_rdms(ref, compute_rdm(x), sessions=sessions)
                    - compare_rdms(ref, compute_rdm(y), sessions=sessions))
    assert res.observed == pytest.approx(compare_rdms(ref, compute_rdm(ai), sessions=sessions)
                                         - compare_rdms(ref, compute_rdm(an), sessions=sessions))
    assert res.null == pytest.approx(np.array(null))


def test_bootstrap_with_sessions_equals_a_plain_loop():
    rng = np.random.default_rng(3)
    a, b = _noise_rdms(rng, n=8)
    sessions = np.arange(8) % 2
    res = bootstrap_similarities(a, {"AN": b}, n_boot=25, seed=6, sessions=sessions)
    idx = np.random.default_rng(6).integers(0, 8, size=(25, 8))
    iu, ju = np.triu_indices(8, 1)
    expected = []
    for row in idx:
        i, j = row[iu], row[ju]
        keep = i != j
        if keep.sum() < 3:
            continue
        x, y = stats.rankdata(a[i, j][keep]), stats.rankdata(b[i, j][keep])
        si, sj = sessions[i][keep], sessions[j][keep]
        kind = np.minimum(si, sj) * 2 + np.maximum(si, sj)
        for label in np.unique(kind):
            g = kind == label
            x[g] -= x[g].mean()
            y[g] -= y[g].mean()
        expected.append(x @ y / np.sqrt((x @ x) * (y @ y)))
    assert res.observed["AN"] == pytest.approx(compare_rdms(a, b, sessions=sessions))
    assert res.samples["AN"] == pytest.approx(np.array(expected))


def test_resampling_beyond_memory_is_refused_before_allocating(monkeypatch):
    """A billion resamples would need tens of GiB: refused with the estimate (issue 23)."""
    from advlib.analysis.stats import bootstrap_similarities, swap_indices

    rng = np.random.default_rng(0)
    a, b = (1 - np.corrcoef(rng.normal(size=(6, 20))) for _ in range(2))
    with pytest.raises(InputError, match=r"n_perm=1000000000: expected a size that fits in "
                                         r"memory: 1000000000 permutations of 6 images need "
                                         r"about [\d,.]+ GiB, and a step may use"):
        permutation_test(a, b, n_perm=10**9)
    with pytest.raises(InputError, match=r"n_boot=1000000000: .*bootstrap resamples of 6"):
        bootstrap_similarities(a, {"AN": b}, n_boot=10**9)
    with pytest.raises(InputError, match=r"n_perm=1000000000: .*swap sets of 6 images"):
        swap_indices(6, 10**9)
    monkeypatch.setenv("ADVLIB_MEMORY", str(2**20))           # a 1 MiB job share
    with pytest.raises(InputError, match=r"n_perm=100000: .*may use 0.0 GiB"):
        permutation_test(a, b, n_perm=100_000)
    assert permutation_test(a, b, n_perm=100).p > 0            # small requests still run
