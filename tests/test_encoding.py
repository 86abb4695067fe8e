"""ROMP and the encoders (advlib/encoding.py): known answers, sklearn OMP, wide layers."""
import numpy as np
import pytest
import torch
from sklearn.linear_model import OrthogonalMatchingPursuit

from advlib.analysis import (
    RidgeEncoder,
    ROMPEncoder,
    choose_n_nonzero,
    make_encoder,
    pattern_correlation_parts,
    romp,
)
from advlib.errors import InputError


def _sparse_problem(rng, m=80, n=256, s=4, T=30, intercept=0.0):
    X = rng.standard_normal((m, n))
    W = np.zeros((n, T))
    supports = []
    for t in range(T):
        idx = rng.choice(n, s, replace=False)
        W[idx, t] = rng.choice([-1, 1], s) * rng.uniform(1, 2, s)
        supports.append(set(idx))
    return X, W, X @ W + intercept, supports


def _supports(coef):
    dense = coef.toarray()
    return [set(np.flatnonzero(np.abs(dense[:, t]) > 1e-8)) for t in range(dense.shape[1])]


def test_exact_support_recovery_of_sparse_gaussian_signals(rng):
    # m = 80 Gaussian measurements of 4-sparse signals in 256 dimensions: within the
    # regime of Needell & Vershynin's guarantee (m >> s log n), ROMP recovers exactly.
    X, W, Y, supports = _sparse_problem(rng)
    coef, intercept, info = romp(X, Y, 4, fit_intercept=False, dtype=torch.float64,
                                 return_info=True)
    assert _supports(coef) == supports
    np.testing.assert_allclose(coef.toarray(), W, atol=1e-10)
    np.testing.assert_array_equal(intercept, 0.0)
    assert coef.shape == (256, 30) and info["n_iter"] <= 8


def test_intercept_is_the_constant_column_of_eq4(rng):
    X, W, Y, supports = _sparse_problem(rng, intercept=3.5)
    coef, intercept = romp(X, Y, 4, dtype=torch.float64)
    assert _supports(coef) == supports
    np.testing.assert_allclose(intercept, 3.5, atol=1e-10)
    np.testing.assert_allclose(coef.T @ X.T + intercept[:, None], Y.T, atol=1e-9)


def test_agrees_with_sklearn_omp_when_both_must_find_the_support(rng):
    X, W, Y, supports = _sparse_problem(rng, m=100, n=200, s=3, T=20)
    X = X / np.linalg.norm(X, axis=0)
    Y = X @ W
    coef, _ = romp(X, Y, 3, fit_intercept=False, dtype=torch.float64)
    omp = OrthogonalMatchingPursuit(n_nonzero_coefs=3, fit_intercept=False).fit(X, Y)
    sk = [set(np.flatnonzero(np.abs(omp.coef_[t]) > 1e-8)) for t in range(20)]
    assert _supports(coef) == sk == supports
    np.testing.assert_allclose(coef.toarray(), omp.coef_.T, atol=1e-8)


def test_vectorized_targets_equal_one_call_per_target(rng):
    X = rng.standard_normal((15, 300))
    Y = rng.standard_normal((15, 6))
    coef, b = romp(X, Y, 3, dtype=torch.float64)
    for t in range(6):
        c1, b1 = romp(X, Y[:, t], 3, dtype=torch.float64)
        np.testing.assert_allclose(coef[:, [t]].toarray(), c1.toarray(), atol=1e-12)
        np.testing.assert_allclose(b[t], b1[0], atol=1e-12)


def test_many_more_units_than_images(rng):
    # AlexNet conv1 has ~190,000 units and the RE set 20-40 images.
    m, n = 20, 200_000
    X = rng.standard_normal((m, n)).astype(np.float32)
    y_planted = 2.0 * X[:, 12345] + 0.5
    Y = np.column_stack([y_planted, rng.standard_normal((m, 9))]).astype(np.float32)
    coef, b, info = romp(X, Y, 4, return_info=True)
    small, _ = romp(X, Y, 4, chunk_bytes=2 ** 16)   # many chunks: same answer
    np.testing.assert_allclose(small.toarray(), coef.toarray(), rtol=1e-5, atol=1e-6)
    assert info["support"].shape == (10, 8) and (coef.getnnz(axis=0) <= 8).all()
    assert 12345 in set(info["support"][0]) and abs(coef[12345, 0] - 2.0) < 0.05
    fitted = np.asarray(coef.T @ X.T).T + b
    resid = ((fitted - Y) ** 2).sum(0) / ((Y - Y.mean(0)) ** 2).sum(0)
    assert (resid < 1).all() and resid[0] < 1e-4


def test_float32_matches_float64(rng):
    X, W, Y, _ = _sparse_problem(rng, T=10)
    c32, b32 = romp(X.astype(np.float32), Y.astype(np.float32), 4)
    c64, b64 = romp(X, Y, 4, dtype=torch.float64)
    np.testing.assert_allclose(c32.toarray(), c64.toarray(), atol=1e-4)
    np.testing.assert_allclose(b32, b64, atol=1e-4)


def test_constant_units_are_never_selected(rng):
    X = rng.standard_normal((12, 50))
    X[:, :10] = 7.0                                   # dead units
    Y = X[:, 20:23] @ np.array([1.0, -1.0, 2.0])[:, None] + X[:, :1]
    coef, _ = romp(X, Y, 3, dtype=torch.float64)
    assert not set(coef.nonzero()[0]) & set(range(10))


@pytest.mark.parametrize("kwargs, message", [
    ({"n_nonzero": 12}, r"n_nonzero=12: expected an integer in 1\.\.11"),
    ({"n_nonzero": 0}, r"n_nonzero=0: expected an integer in 1\.\.11"),
])
def test_sparsity_beyond_the_number_of_images_is_an_error(rng, kwargs, message):
    X, Y = rng.standard_normal((12, 40)), rng.standard_normal((12, 3))
    with pytest.raises(InputError, match=message):
        romp(X, Y, **kwargs)


def test_bad_inputs_are_clear_errors(rng):
    X, Y = rng.standard_normal((12, 40)), rng.standard_normal((12, 3))
    with pytest.raises(InputError, match=r"Y.shape=\(11, 3\): expected \(12, n_targets\)"):
        romp(X, Y[:11], 2)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputError, match="X='NaN/inf values': expected finite values"):
        romp(bad, Y, 2)
    with pytest.raises(InputError, match="X='no unit varies over the samples'"):
        romp(np.ones((12, 40)), Y, 2)
    with pytest.raises(InputError, match=r"X.shape=\(12, 40, 1\)"):
        romp(X[..., None], Y, 2)
    enc = ROMPEncoder(n_nonzero=2).fit(X, Y)
    with pytest.raises(InputError, match=r"X.shape=\(3, 39\): expected \(n_samples, 40\)"):
        enc.predict(X[:3, :39])
    with pytest.raises(InputError, match="n_nonzero='many'"):
        ROMPEncoder(n_nonzero="many")


def test_encoder_predict_equals_sparse_coefficients(rng):
    X, W, Y, _ = _sparse_problem(rng, m=40, intercept=1.0, T=8)
    enc = ROMPEncoder(n_nonzero=4, dtype=torch.float64).fit(X, Y)
    expected = np.asarray(enc.coef_.T @ X.T).T + enc.intercept_
    np.testing.assert_allclose(enc.predict(X), expected, atol=1e-10)
    assert enc.score(X, Y) > 0.999 and enc.coef_.shape == (256, 8)


def test_cross_validation_prefers_the_true_sparsity(rng):
    # 4-sparse targets: level 1 stops at 2 units (underfit), level 2 at 4 (exact), level 8
    # at 16 (overfits the noise), since ROMP stops at twice the level.
    X, _, Y, _ = _sparse_problem(rng, m=60, n=120, s=4, T=40)
    Y = Y + 0.3 * rng.standard_normal(Y.shape)
    best, cv_mse, grid = choose_n_nonzero(X, Y, grid=(1, 2, 8), n_folds=5, seed=0,
                                          dtype=torch.float64)
    assert list(grid) == [1, 2, 8] and cv_mse.shape == (3, 40)
    assert np.mean(best == 2) > 0.6
    pooled = ROMPEncoder(grid=(1, 2, 8), cv_targets=20, dtype=torch.float64).fit(X, Y)
    assert (pooled.n_nonzero_ == 2).all()
    per_target = ROMPEncoder(grid=(1, 2, 8), cv_scope="target", dtype=torch.float64).fit(X, Y)
    np.testing.assert_array_equal(per_target.n_nonzero_, best)
    with pytest.raises(InputError, match=r"grid=\(50,\): expected at least one n_nonzero"):
        choose_n_nonzero(X, Y, grid=(50,))


@pytest.mark.parametrize("options", [{}, {"fit_intercept": False, "dtype": torch.float64}])
def test_cross_validation_shares_each_folds_design_and_gets_what_separate_fits_get(rng,
                                                                                  options):
    # each fold's design is centred and normalized once for the whole grid: the held-out
    # errors are bit for bit those of one romp call per fold and level; a constant column
    # (skipped by the search) exercises the kept-units path
    X = rng.standard_normal((30, 90))
    X[:, 7] = 2.0
    Y = rng.standard_normal((30, 12))
    from advlib.analysis.encoding import _folds

    _, cv_mse, grid = choose_n_nonzero(X, Y, grid=(1, 2, 4), n_folds=3, seed=5, **options)
    sse = np.zeros((3, 12))
    for train, test in _folds(30, 3, 5):
        for gi, s in enumerate(grid):
            coef, b = romp(X[train], Y[train], int(s), **options)
            sse[gi] += ((np.asarray(coef.T @ X[test].T).T + b - Y[test]) ** 2).sum(0)
    np.testing.assert_array_equal(cv_mse, sse / 30)
    with pytest.raises(InputError, match="no unit varies"):
        choose_n_nonzero(np.ones((30, 5)), Y, grid=(1,), n_folds=3)


def test_cross_validation_refuses_what_romp_refuses_before_any_work(rng):
    X, Y = rng.standard_normal((20, 30)), rng.standard_normal((20, 4))
    bad = X.copy()
    bad[3, 4] = np.nan          # the keyword is refused first, as a call to romp would
    with pytest.raises(TypeError, match="romp\\(\\) got an unexpected keyword argument 'foo'"):
        choose_n_nonzero(bad, Y, foo=1)
    with pytest.raises(TypeError, match="romp\\(\\) got an unexpected keyword argument 'foo'"):
        ROMPEncoder(foo=1).fit(X, Y)
    with pytest.raises(TypeError, match="romp\\(\\) got multiple values for argument 'n_nonzero'"):
        choose_n_nonzero(X, Y, n_nonzero=2)
    for call in (lambda: romp(X, Y, 2, dtype=None),
                 lambda: choose_n_nonzero(X, Y, dtype=torch.int64),
                 lambda: ROMPEncoder(dtype="float64").fit(X, Y)):
        with pytest.raises(InputError, match="dtype=.*: expected torch.float32 or torch.float64"):
            call()


def test_options_passed_on_take_romps_own_defaults(rng):
    # choose_n_nonzero and ROMPEncoder read romp's keyword defaults from its signature: the
    # training folds' cap follows fit_intercept as romp would fit it, with or without it
    import inspect

    from advlib.analysis.encoding import _romp_options

    defaults = {k: p.default for k, p in inspect.signature(romp).parameters.items()
                if p.kind is p.KEYWORD_ONLY}
    assert _romp_options({}) == defaults
    assert _romp_options({"fit_intercept": False}) == {**defaults, "fit_intercept": False}
    X, Y = rng.standard_normal((20, 30)), rng.standard_normal((20, 4))
    assert ROMPEncoder(grid=(1,), n_folds=4).fit(X, Y).support_cap_ == 14
    assert ROMPEncoder(grid=(1,), n_folds=4, fit_intercept=False).fit(X, Y).support_cap_ == 15
    with pytest.raises(InputError, match=r"grid=\(16,\): expected at least one n_nonzero in 1..15"):
        choose_n_nonzero(X, Y, grid=(16,), n_folds=4, fit_intercept=False)
    bad = X.copy()
    bad[0, 0] = np.nan          # a fixed level too: the keyword is refused before the data
    with pytest.raises(TypeError, match="romp\\(\\) got an unexpected keyword argument 'foo'"):
        ROMPEncoder(n_nonzero=2, foo=1).fit(bad, Y)
    # return_info is romp's, but these callers read the fits themselves: refused at once
    # (it used to fail after the cross-validation had begun, or on unpacking)
    for call in (lambda: choose_n_nonzero(bad, Y, return_info=True),
                 lambda: ROMPEncoder(return_info=False).fit(bad, Y),
                 lambda: ROMPEncoder(n_nonzero=2, return_info=True).fit(bad, Y)):
        with pytest.raises(InputError, match="return_info=.*: expected not given"):
            call()


def test_same_seed_same_model(rng):
    X, Y = rng.standard_normal((20, 100)), rng.standard_normal((20, 30))
    a = ROMPEncoder(seed=3, cv_targets=10).fit(X, Y)
    b = ROMPEncoder(seed=3, cv_targets=10).fit(X, Y)
    np.testing.assert_array_equal(a.support_, b.support_)
    np.testing.assert_array_equal(a.cv_mse_, b.cv_mse_)


def test_ridge_encoder_has_the_same_interface(rng):
    Z = rng.standard_normal((30, 3))                      # 3 latent causes seen by both
    X = Z @ rng.standard_normal((3, 500)) + 0.1 * rng.standard_normal((30, 500))
    Y = Z @ rng.standard_normal((3, 5)) + 0.01 * rng.standard_normal((30, 5)) + 2
    enc = make_encoder("ridge", seed=0).fit(X[:20], Y[:20])
    assert isinstance(enc, RidgeEncoder) and enc.predict(X[20:]).shape == (10, 5)
    assert enc.score(X[20:], Y[20:]) > 0.8 and enc.alpha_.shape == (5,)
    with pytest.raises(InputError, match="solver='lasso': expected one of romp, ridge"):
        make_encoder("lasso")


def test_pattern_correlation_parts_give_pearson_of_vertex_centred_patterns(rng):
    p, m = rng.standard_normal((8, 30)), rng.standard_normal((8, 30))
    parts = pattern_correlation_parts(p, m)
    r = parts["pm"].sum() / np.sqrt(parts["pp"].sum() * parts["mm"].sum())
    pc, mc = p - p.mean(0), m - m.mean(0)
    np.testing.assert_allclose(r, np.corrcoef(pc.ravel(), mc.ravel())[0, 1], atol=1e-12)
    np.testing.assert_allclose(np.trace(parts["gram"]), parts["pm"].sum(), atol=1e-12)
    with pytest.raises(InputError, match=r"predicted.shape=\(8, 29\): expected \(8, 30\)"):
        pattern_correlation_parts(p[:, :29], m)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(rng):
    X, W, Y, supports = _sparse_problem(rng)
    cpu, b_cpu = romp(X, Y, 4, dtype=torch.float64)
    gpu, b_gpu = romp(X, Y, 4, dtype=torch.float64, device="cuda")
    np.testing.assert_allclose(gpu.toarray(), cpu.toarray(), atol=1e-10)
    np.testing.assert_allclose(b_gpu, b_cpu, atol=1e-10)
    assert _supports(gpu) == supports


def test_romp_skips_constant_units_and_its_blocks_do_not_change_the_fit(rng):
    """The search runs over the units that vary only (a layer's constant units, 13% of
    efficientnet's first layer, can never be chosen) and in cache-sized blocks: the fit is
    the one on the varying units alone, whatever the block size."""
    X = rng.normal(size=(15, 3000))
    X[:, ::3] = 2.0                                          # constant units
    Y = X[:, [1, 4, 8]] @ rng.normal(size=(3, 20)) + 0.1 * rng.normal(size=(15, 20))
    coef, b, info = romp(X, Y, 2, return_info=True)
    support = info["support"]
    assert (support >= 0).any() and not np.isin(support[support >= 0], np.arange(0, 3000, 3)).any()
    varying = np.setdiff1d(np.arange(3000), np.arange(0, 3000, 3))
    coef_v, b_v, info_v = romp(X[:, varying], Y, 2, return_info=True)
    mapped = np.where(info_v["support"] >= 0, varying[np.maximum(info_v["support"], 0)], -1)
    assert np.array_equal(support, mapped)
    np.testing.assert_allclose(coef[varying].toarray(), coef_v.toarray(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b, b_v, rtol=1e-5, atol=1e-6)
    small = romp(X, Y, 2, chunk_bytes=2 ** 10, return_info=True)     # 256-unit blocks
    assert np.array_equal(small[2]["support"], support)
    np.testing.assert_allclose(small[0].toarray(), coef.toarray(), rtol=1e-5, atol=1e-6)


def test_the_blockwise_search_finds_the_top_units_of_a_single_search():
    """The correlation search in blocks, merging a block only for the targets it can
    change, returns the k largest |correlations| of one search over all units: blocks
    smaller than k, k up to every unit, and duplicated units (tied values) included."""
    from advlib.analysis.encoding import _topk_abs

    g = torch.Generator().manual_seed(3)
    Xn = torch.randn(9, 700, generator=g, dtype=torch.float64)
    Xn[:, 600:650] = Xn[:, 100:150]                         # duplicates: tied correlations
    R = torch.randn(9, 13, generator=g, dtype=torch.float64)
    full = (R.T @ Xn).abs()
    for k in (1, 3, 40, 700):
        expected = torch.topk(full, k, dim=1).values
        for chunk in (16, 64, 256, 1000):
            values, idx = _topk_abs(Xn, R, k, chunk)
            assert values.shape == idx.shape == (13, k)
            torch.testing.assert_close(values, expected, rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(torch.gather(full, 1, idx), values, rtol=1e-12,
                                       atol=1e-12)
            assert all(len(set(row.tolist())) == k for row in idx)        # distinct units
            assert bool((values[:, :-1] >= values[:, 1:]).all())          # descending


def test_romp_searches_only_as_deep_as_it_needs(rng, monkeypatch):
    """Each round looks at the s + |support| best units only: the fit equals the one whose
    every round ranks all units."""
    from advlib.analysis import encoding

    X = rng.normal(size=(20, 400))
    Y = X[:, [3, 50, 200, 333]] @ rng.normal(size=(4, 30)) + 0.3 * rng.normal(size=(20, 30))
    fit = romp(X, Y, 3, return_info=True)
    depths = []
    search = encoding._topk_abs

    def everything(Xn, R, k, chunk):
        depths.append(k)
        return search(Xn, R, Xn.shape[1], chunk)

    monkeypatch.setattr(encoding, "_topk_abs", everything)
    full = romp(X, Y, 3, return_info=True)
    assert depths[0] == 3 and max(depths) > 3      # deeper once units are in the supports
    assert np.array_equal(full[2]["support"], fit[2]["support"])
    np.testing.assert_allclose(full[0].toarray(), fit[0].toarray(), rtol=1e-6, atol=1e-7)
