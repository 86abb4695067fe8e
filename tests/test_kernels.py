"""The shared numeric kernels against scipy."""

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from advlib.kernels import (
    correlation_rdm,
    correlation_rdm_vectors,
    gathered_rank,
    masked_pearson,
    rank_rows,
    rowwise_spearman,
    spearman,
    tau_a,
    thread_map,
    triu_pairs,
    upper_triangle,
)


def test_correlation_rdm_is_one_minus_pearson(rng):
    x = rng.normal(size=(7, 30))
    np.testing.assert_allclose(correlation_rdm(x), 1 - np.corrcoef(x), atol=1e-12)
    assert np.all(np.diag(correlation_rdm(x)) == 0)


def test_batched_rdms_match_one_at_a_time(rng):
    x = rng.normal(size=(4, 6, 25))
    got = correlation_rdm_vectors(x)
    want = np.stack([upper_triangle(correlation_rdm(b)) for b in x])
    np.testing.assert_allclose(got, want, atol=1e-12)
    scipy_rdm = [distance.pdist(b, "correlation") for b in x]
    np.testing.assert_allclose(got, scipy_rdm, atol=1e-12)
    x[2, 1] = 3.0                                       # a constant pattern: its pairs NaN
    got = correlation_rdm_vectors(x)
    bad = np.isnan(got[2])
    assert bad.sum() == 5 and not np.isnan(np.delete(got, 2, axis=0)).any()


@pytest.mark.parametrize("shape", [(40, 17, 200), (2, 129, 64)])
def test_batched_rdms_are_the_same_floats_whatever_the_thread_count(rng, shape):
    """The tables downstream must not depend on the thread count. A BLAS product
    (``x @ x^T``, 3-4 times faster) gave other floats at 2 threads than at 1 for 129
    conditions (OpenBLAS splits the larger products over its threads)."""
    import threadpoolctl

    x = rng.normal(size=shape)
    got = []
    for threads in (1, 2, 4):
        with threadpoolctl.threadpool_limits(threads):
            got.append(correlation_rdm_vectors(x))
    assert all(np.array_equal(got[0], g) for g in got[1:])


def test_rank_correlations_match_scipy(rng):
    a, b = rng.normal(size=(5, 40)), rng.normal(size=(5, 40))
    b[:, :20] = a[:, :20]
    want = [stats.spearmanr(x, y).statistic for x, y in zip(a, b)]
    np.testing.assert_allclose(rowwise_spearman(a, b), want, atol=1e-12)
    assert spearman(a[0], b[0]) == stats.spearmanr(a[0], b[0]).statistic
    a[1, 3] = np.nan
    assert np.isnan(rowwise_spearman(a, b)[1])


def test_spearman_is_scipys_float_exactly(rng):
    """The same float as spearmanr's statistic (not only close): ties, integers, near
    ties and lengths from 2 up; NaN and constant vectors go to scipy (NaN, its warning)."""
    for k in range(400):
        n = int(rng.integers(2, 200))
        a, b = rng.normal(size=n), rng.normal(size=n)
        if k % 3 == 0:
            a = np.round(a, 1)                                  # ties
        if k % 5 == 0:
            b = rng.integers(0, 4, n)                           # integers, many ties
        if k % 7 == 0:
            b = a + 1e-13 * rng.normal(size=n)                  # values a few ulp apart
        want = stats.spearmanr(a, b).statistic
        assert spearman(a, b) == want or (np.isnan(want) and np.isnan(spearman(a, b)))
    wide = [(np.array([2 ** 53, 2 ** 53 + 1, 2 ** 53 + 2, 2 ** 53 + 3, 0]), np.arange(5)[::-1]),
            (np.array([2 ** 63, 2 ** 63 + 1, 5, 7], dtype=np.uint64), np.array([1, 2, 3, 0])),
            (np.array([1, 1 + np.finfo(np.longdouble).eps, 2, 3], dtype=np.longdouble),
             np.array([1, 0, 3, 2]))]                   # float64 would merge the first two
    for a, b in wide:                                   # (review)
        assert spearman(a, b) == stats.spearmanr(a, b).statistic
        assert np.array_equal(rank_rows(a), stats.rankdata(a))
    a = rng.normal(size=10)
    with pytest.warns(stats.ConstantInputWarning):
        assert np.isnan(spearman(a, np.ones(10)))
    a[2] = np.nan
    assert np.isnan(spearman(a, rng.normal(size=10)))


def test_thread_map_keeps_order_and_floats(rng):
    x = [rng.normal(size=(200, 50)) for _ in range(5)]
    one = thread_map(lambda a: (a @ a.T).sum(1), x)
    two = thread_map(lambda a: (a @ a.T).sum(1), x, threads=2)
    assert all(np.array_equal(p, q) for p, q in zip(one, two))
    assert thread_map(len, ["ab", "c"], threads=3) == [2, 1]


def test_triu_pairs_are_triu_indices_shared_and_read_only():
    iu, ju = triu_pairs(6)
    want = np.triu_indices(6, 1)
    assert np.array_equal(iu, want[0]) and np.array_equal(ju, want[1])
    assert triu_pairs(6)[0] is iu and triu_pairs(np.int64(6))[0] is iu   # made once
    with pytest.raises(ValueError, match="read-only"):
        iu[0] = 5


def test_masked_kernels_match_scipy_on_the_kept_entries(rng):
    x, y = rng.normal(size=(3, 12)), rng.normal(size=(3, 12))
    mask = rng.random((3, 12)) > 0.3
    rank = lambda v: stats.rankdata(np.where(mask, v, np.inf), axis=1)  # noqa: E731
    r = masked_pearson(rank(x), rank(y), mask)
    for i in range(3):
        assert np.isclose(r[i], stats.spearmanr(x[i, mask[i]], y[i, mask[i]]).statistic)


def test_tau_a_against_a_direct_count():
    a = np.array([1.0, 2, 3, 4, 4])
    b = np.array([2.0, 1, 3, 4, 5])
    # pairs: 10; concordant 8, discordant 1, tied in a: 1
    assert tau_a(a, b) == pytest.approx((8 - 1) / 10, abs=1e-12)


def test_tau_a_equals_the_pairwise_sign_count_with_ties(rng):
    """tau-a from scipy's O(n log n) tau-b, rescaled, is the O(n^2) count of its
    definition, with ties in either vector and for constant vectors."""
    for trial in range(60):
        n = int(rng.integers(2, 30))
        a = rng.integers(0, 4, n).astype(float) if trial % 2 else rng.normal(size=n)
        b = rng.integers(0, 3, n).astype(float) if trial % 3 == 0 else rng.normal(size=n)
        signs = np.sign(a[:, None] - a[None, :]) * np.sign(b[:, None] - b[None, :])
        assert tau_a(a, b) == pytest.approx(signs.sum() / (n * (n - 1)), abs=1e-12)
    assert tau_a(np.ones(6), rng.normal(size=6)) == 0.0


def test_rank_rows_is_rankdata_with_ties_and_nan(rng):
    x = rng.normal(size=(40, 25))
    x[3, 4] = np.nan
    x[5, 2] = x[5, 7]                      # a tie
    x[6] = 1.0                             # all tied
    np.testing.assert_allclose(rank_rows(x), stats.rankdata(x, axis=-1), equal_nan=True)
    cube = rng.normal(size=(3, 4, 6))
    np.testing.assert_allclose(rank_rows(cube), stats.rankdata(cube, axis=-1))
    np.testing.assert_allclose(rank_rows(x[0]), stats.rankdata(x[0]))
    assert rank_rows(np.empty((3, 0))).shape == (3, 0)
    # small integers (dense codes of values) are radix-sorted: the same ranks, ties too
    codes = rng.integers(0, 30, size=(50, 25)).astype(np.int16)
    codes[7] = np.arange(25)[::-1]                          # a row without ties
    np.testing.assert_array_equal(rank_rows(codes), stats.rankdata(codes, axis=-1))
    np.testing.assert_array_equal(rank_rows(codes.astype(np.uint8)),
                                  stats.rankdata(codes, axis=-1))


def test_rank_rows_sorts_keys_exactly_where_values_are_close_or_signed(rng):
    """The sort keys drop the lowest bits of each value for the column index: values that
    agree above those bits, -0.0 beside +0.0, negatives, infinities and every integer
    type's full range still give exactly scipy's ranks."""
    x = rng.normal(size=(60, 300))                  # 9 index bits
    x[0, 1] = np.nextafter(x[0, 0], np.inf)         # differ in the last bit only
    x[1, :2] = [-0.0, 0.0]                          # equal values, different bits
    x[2] = -np.abs(x[2])
    x[3, :3] = [np.inf, -np.inf, -np.nan]
    x[4, 7] = x[4, 9] = -1.5
    x[5, 0] = np.uint64(0x7FF0000000000001).view(np.float64)   # NaNs of the least payload,
    x[6, 0] = np.uint64(0xFFF0000000000001).view(np.float64)   # keyed next to the infinities
    x[7, 4] = np.inf
    np.testing.assert_array_equal(rank_rows(x), stats.rankdata(x, axis=-1))
    for n in (1, 2, 256, 257):
        z = rng.normal(size=(5, n))
        np.testing.assert_array_equal(rank_rows(z), stats.rankdata(z, axis=-1))
    for dtype in (np.int8, np.uint8, np.int16, np.uint16):
        info = np.iinfo(dtype)
        c = rng.integers(info.min, info.max, size=(40, 50), endpoint=True).astype(dtype)
        c[0, :2] = [info.min, info.max]
        np.testing.assert_array_equal(rank_rows(c), stats.rankdata(c, axis=-1))
    wide = rng.permutation(70_000).astype(np.int64).astype(np.int16)[None]  # 17 index bits
    np.testing.assert_array_equal(rank_rows(wide), stats.rankdata(wide, axis=-1))



@pytest.mark.parametrize("levels", [None, 3])
def test_gathered_rank_equals_rankdata_of_the_resampled_entries(rng, levels):
    """Bootstrap-style draws from one RDM (with value ties when ``levels`` is set, and
    masked pairs of an image with itself): the count-based ranks equal scipy's average ranks
    with masked entries ranked last, exactly."""
    n = 12
    a = rng.random((n, n))
    if levels:
        a = np.round(a * levels) / levels
    a = (a + a.T) / 2
    np.fill_diagonal(a, 0.0)
    idx = rng.integers(0, n, size=(60, n))
    iu, ju = np.triu_indices(n, 1)
    rows, cols = idx[:, iu], idx[:, ju]
    mask = rows != cols
    assert (~mask).any()
    expected = stats.rankdata(np.where(mask, a[rows, cols], np.inf), axis=1)
    got = gathered_rank(a, rows, cols, mask)
    np.testing.assert_array_equal(got, expected)


def test_correlation_rdm_in_place_gives_the_same_numbers_and_compute_rdm_keeps_its_input():
    """compute_rdm centres a layer's patterns in place on its own float64 copy (no
    full-size temporaries): the same bits as the plain formula, the caller's array untouched."""
    from advlib.analysis.rsa import compute_rdm
    from advlib.kernels import correlation_rdm, correlation_rdm_inplace

    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        x = (rng.normal(size=(12, 5001)) * 2 + 1).astype(dtype)
        before = x.copy()
        plain = x.astype(np.float64)
        centred = plain - plain.mean(1, keepdims=True)
        unit = centred / np.sqrt((centred ** 2).sum(1))[:, None]
        want = 1.0 - unit @ unit.T
        want = (want + want.T) / 2.0
        np.fill_diagonal(want, 0.0)
        assert np.array_equal(compute_rdm(x), want)
        assert np.array_equal(correlation_rdm(x), want)
        assert np.array_equal(x, before)                       # the input is not changed
        work, norms = x.astype(np.float64), np.empty(12)
        assert np.array_equal(correlation_rdm_inplace(work, norms), want)
        assert np.allclose(norms, np.linalg.norm(centred, axis=1))


def test_gathered_rank_refuses_nan():
    from advlib.errors import InputError

    a = np.array([[0.0, np.nan], [np.nan, 0.0]])
    rows = cols = np.zeros((2, 1), dtype=int)
    with pytest.raises(InputError,
                       match="matrix='values with NaN or \\+inf': expected finite values"):
        gathered_rank(a, rows, cols + 1, np.ones((2, 1), bool))
