"""Sparse forward encoding models: CNN layer units -> cortical vertices (Fig 6, Fig S1).

Each vertex's responses ``y`` (one per training image) are modelled as a sparse linear
combination of one layer's units plus an intercept, ``y = X w`` with the constant column
of the paper's eq. 4, solved by regularized orthogonal matching pursuit (ROMP; Needell
and Vershynin 2009, *Found Comput Math* 9: 317-334) for eq. 5.

ROMP as implemented here (:func:`romp`), for every target (vertex) at once:

1. **Identify**: the ``n_nonzero`` (= ``s``) largest magnitudes of ``u = Xnᵀ r``, the
   correlations of the unit-norm columns with the residual ``r`` (columns already in the
   support and zero correlations excluded; fewer if fewer remain).
2. **Regularize**: among subsets ``J0`` of those whose magnitudes are *comparable*
   (``|u_i| <= 2 |u_j|`` for all ``i, j`` in ``J0``), take the one of maximal energy
   ``||u_J0||²``. Sorted by magnitude, such subsets are contiguous windows, so the search
   is over ``s`` windows per target.
3. **Update**: add ``J0`` to the support ``I`` and re-fit ``w`` on ``I`` by least squares;
   the residual is what the fit leaves.
4. **Stop** when ``|I|`` reaches ``max_support`` (default ``2 s``, the bound of the
   paper's Theorem; the last ``J0`` is cut to its largest entries so that ``|I|`` never
   exceeds it) or the residual norm falls below ``tol · ||y||``.

Choices the paper leaves open, made here:

* **Intercept**: the constant column is in every support and is not counted in
  ``n_nonzero``. This equals running ROMP on column-centred ``X`` and centred ``y`` and
  recovering the intercept from the means.
* **Column normalization**: the identify step uses unit-norm (centred) columns, so units
  with large activations are not favoured; the least-squares fit uses the raw columns.
  Constant units (zero norm after centring: e.g. dead ReLUs over the training images) can
  never be selected.
* **Support size**: least squares with an intercept on ``m`` training images is
  determined for at most ``m - 1`` units, so ``max_support`` is capped at ``m - 1``
  (``m`` without the intercept).
* **Sparsity level**: chosen from a grid by K-fold cross-validation over the *regular*
  images only (:func:`choose_n_nonzero`; default grid 1, 2, 4, 8 and 5 folds), then the
  model is re-fitted on all regular images **with the support size that was validated**:
  a fold's fit can hold at most (training images in the fold - 1) units, so the final fit
  is capped there too (``support_cap``). Without the cap the refit on 17 images reached
  16 units plus the intercept, a training R^2 of 1.00 on pure noise, a model the
  validation never saw. Adversarial images never touch the fit or
  the choice. By default one level is chosen per fit (one subject x layer), the one with
  the lowest held-out error summed over targets, estimated on at most ``cv_targets``
  (250) randomly drawn targets: a per-vertex choice from 17-40 held-out values is
  noisy, and the pooled choice costs a fraction of the time on wide layers.
  ``cv_scope="target"`` chooses per vertex instead.

Computation is in torch (CPU, or CUDA when a CUDA device is given or the inputs are CUDA
tensors), vectorized over targets: the only Python loop is over ROMP iterations
(at most ``max_support``). Correlations with very wide layers are computed in chunks of
units, keeping a running top-k, so memory stays bounded.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ..errors import expect
from ..layout import ENCODERS

__all__ = ["romp", "ROMPEncoder", "RidgeEncoder", "choose_n_nonzero", "make_encoder",
           "pattern_correlation_parts"]


def _as_tensor(values, name: str, ndim: int, device, dtype) -> torch.Tensor:
    """Validated 2-D float tensor on ``device``."""
    if isinstance(values, torch.Tensor):
        t = values.detach()
    else:
        arr = np.asarray(values)
        expect(arr.dtype.kind in "fiub", f"{name}.dtype", str(arr.dtype), "a numeric array")
        # a read-only array (a memory map handed to a worker) is copied: torch has no
        # read-only tensors
        t = torch.from_numpy(np.ascontiguousarray(arr) if arr.flags.writeable
                             else np.array(arr, order="C"))
    expect(t.ndim == ndim, f"{name}.shape", tuple(t.shape),
           "(n_samples, n_features)" if name == "X" else "(n_samples, n_targets)")
    expect(bool(torch.isfinite(t).all()), name, "NaN/inf values", "finite values")
    return t.to(device=device, dtype=dtype)


def _check_dtype(dtype) -> torch.dtype:
    expect(dtype in (torch.float32, torch.float64), "dtype", dtype,
           "torch.float32 or torch.float64")
    return dtype


def _romp_options(options: dict) -> dict:
    """Every keyword argument of :func:`romp`, ``options`` over its defaults: the one place
    the callers that pass options on read them from (``fit_intercept``, ``device``, ...).

    Refuses keyword arguments :func:`romp` does not take before any work (as calling it
    would, with the same message), and ``return_info``: these callers read the fits
    themselves.
    """
    import inspect

    expect("return_info" not in options, "return_info", options.get("return_info"),
           "not given: the encoder and its cross-validation read romp's fits themselves")
    try:
        bound = inspect.signature(romp).bind(None, None, 1, **options)
    except TypeError as exc:
        message = str(exc)
        raise TypeError(f"romp() {message if message.startswith('got') else 'got ' + message}"
                        ) from None
    bound.apply_defaults()
    return {k: v for k, v in bound.arguments.items() if k not in ("X", "Y", "n_nonzero")}


def _resolve_device(device, *arrays) -> torch.device:
    if device is not None:
        return torch.device(device)
    for a in arrays:
        if isinstance(a, torch.Tensor):
            return a.device
    return torch.device("cpu")


#: Units per block of the correlation search on a CPU (see :func:`romp`).
_CPU_CHUNK_UNITS = 2048


def _topk_abs(Xn: torch.Tensor, R: torch.Tensor, k: int, chunk: int):
    """The ``k`` largest ``|Xnᵀ R|`` per column of ``R``, chunked over units.

    A block can only change a target's best ``k`` where it holds a value at least the
    current ``k``-th best: the block's top ``k`` are merged for those targets only (the
    others' merge would keep what they have), about 3 times faster than merging every
    block for every target, with the same result.

    Parameters
    ----------
    Xn : torch.Tensor, shape (m, n)
    R : torch.Tensor, shape (m, A)
    k : int

    Returns
    -------
    values, indices : torch.Tensor, shape (A, k), sorted by decreasing value
    """
    n = Xn.shape[1]
    Rt = R.T.contiguous()
    best_v = best_i = None
    for start in range(0, n, chunk):
        block = (Rt @ Xn[:, start:start + chunk]).abs_()          # (A, c)
        if best_v is not None and best_v.shape[1] == k:
            rows = (block.amax(1) >= best_v[:, -1]).nonzero()[:, 0]
            if rows.numel() == 0:
                continue
            block = block[rows]
        else:
            rows = None
        v, i = torch.topk(block, min(k, block.shape[1]), dim=1)
        i = i + start
        if best_v is None:
            best_v, best_i = v, i
            continue
        old_v, old_i = (best_v, best_i) if rows is None else (best_v[rows], best_i[rows])
        v, j = torch.topk(torch.cat([old_v, v], 1), min(k, old_v.shape[1] + v.shape[1]), dim=1)
        i = torch.gather(torch.cat([old_i, i], 1), 1, j)
        if rows is None:
            best_v, best_i = v, i
        else:
            best_v[rows], best_i[rows] = v, i
    return best_v, best_i


def _lstsq_on_support(Xc: torch.Tensor, Y: torch.Tensor, support: torch.Tensor):
    """Least squares of each target on its own support (padded with -1).

    Parameters
    ----------
    Xc : torch.Tensor, shape (m, n)
    Y : torch.Tensor, shape (m, T)
    support : torch.Tensor of int64, shape (T, K)

    Returns
    -------
    coef : torch.Tensor, shape (T, K)   (0 where the support is padding)
    fitted : torch.Tensor, shape (m, T)
    """
    mask = support >= 0
    cols = Xc[:, support.clamp_min(0)]                     # (m, T, K)
    cols = cols.permute(1, 0, 2) * mask[:, None, :]        # (T, m, K)
    if cols.device.type == "cpu":
        # numpy's batched pinv: torch's CPU SVD is pathologically slow on tall batches
        pinv = torch.from_numpy(np.linalg.pinv(cols.numpy()))
    else:
        pinv = torch.linalg.pinv(cols)
    coef = (pinv @ Y.T[:, :, None])[..., 0] * mask
    fitted = (cols @ coef[:, :, None])[..., 0].T
    return coef, fitted


def romp(X, Y, n_nonzero: int, *, max_support: int | None = None, fit_intercept: bool = True,
         tol: float = 1e-6, device=None, dtype=torch.float32, chunk_bytes: int = 2 ** 26,
         return_info: bool = False):
    """Regularized orthogonal matching pursuit for many targets at once.

    Parameters
    ----------
    X : array_like or torch.Tensor, shape (n_samples, n_features)
        Design (a CNN layer's activations to the training images).
    Y : array_like or torch.Tensor, shape (n_samples, n_targets) or (n_samples,)
        Targets (vertex responses); each is fitted independently.
    n_nonzero : int
        Sparsity level ``s`` of the identify step.
    max_support : int, optional
        Largest support, default ``min(2 s, n_samples - 1)`` (``n_samples`` without
        intercept).
    fit_intercept : bool
        Keep the constant column of eq. 4 in every support (see the module notes).
    tol : float
        Stop a target when ``||r|| <= tol ||y||`` (``y`` centred with an intercept).
    device : str or torch.device, optional
        Default: the device of a torch input, else CPU.
    dtype : torch.dtype
        ``torch.float32`` (default) or ``torch.float64``.
    chunk_bytes : int
        Memory for one block of correlations (units x targets); on a CPU a block holds at
        most 2048 units (:data:`_CPU_CHUNK_UNITS`), which keeps it in cache.
    return_info : bool
        Also return ``{"support": (n_targets, max_support) int array padded with -1,
        "coef_values": (n_targets, max_support) coefficients of those units, "n_iter": int}``.

    Returns
    -------
    coef : scipy.sparse.csc_matrix, shape (n_features, n_targets)
    intercept : numpy.ndarray, shape (n_targets,)
    info : dict, only with ``return_info``

    Raises
    ------
    InputError
        Shapes disagree, non-finite values, ``n_nonzero`` not in ``1 .. n_samples - 1``,
        or no unit varies over the samples.
    """
    device = _resolve_device(device, X, Y)
    X = _as_tensor(X, "X", 2, device, _check_dtype(dtype))
    return _romp(_Design(X, fit_intercept), Y, n_nonzero, max_support=max_support, tol=tol,
                 chunk_bytes=chunk_bytes, return_info=return_info)


class _Design:
    """A design's centring and unit-norm columns, made on first use and kept: the fits of
    one fold at every sparsity level of the cross-validation grid share them.

    Parameters
    ----------
    X : torch.Tensor, shape (m, n)
        Validated (:func:`_as_tensor`).
    fit_intercept : bool
    """

    def __init__(self, X: torch.Tensor, fit_intercept: bool):
        self.X, self.fit_intercept = X, fit_intercept
        self._parts = None

    def parts(self) -> tuple:
        """``(Xc, x_mean, Xs, kept, every)``: the centred design (``X`` itself without an
        intercept), the column means (None without), the usable columns scaled to unit
        norm, their indices and whether every column is usable.

        Raises
        ------
        InputError
            No column varies over the samples.
        """
        if self._parts is None:
            X, dtype = self.X, self.X.dtype
            x_mean = X.mean(0) if self.fit_intercept else None
            Xc = X - x_mean if self.fit_intercept else X
            norms = Xc.norm(dim=0)
            usable = norms > 1e-6 * norms.max().clamp_min(torch.finfo(dtype).tiny)
            expect(bool(usable.any()), "X", "no unit varies over the samples",
                   "at least one non-constant feature column")
            # units that never vary cannot be chosen (their correlation is 0): the search
            # skips them
            kept = usable.nonzero()[:, 0]
            every = kept.numel() == X.shape[1]
            Xs = (Xc if every else Xc[:, kept]) / norms[kept].clamp_min(torch.finfo(dtype).tiny)
            self._parts = (Xc, x_mean, Xs, kept, every)
        return self._parts


def _romp(design: _Design, Y, n_nonzero: int, *, max_support: int | None = None,
          tol: float = 1e-6, chunk_bytes: int = 2 ** 26, return_info: bool = False):
    """:func:`romp` on a prepared design (its device, dtype and intercept)."""
    X, fit_intercept = design.X, design.fit_intercept
    device, dtype = X.device, X.dtype
    single = np.ndim(Y) == 1 if not isinstance(Y, torch.Tensor) else Y.ndim == 1
    Y = _as_tensor(Y[:, None] if single else Y, "Y", 2, device, dtype)
    m, n = X.shape
    expect(Y.shape[0] == m, "Y.shape", tuple(Y.shape), f"({m}, n_targets): one row per row of X")
    cap = m - 1 if fit_intercept else m
    expect(isinstance(n_nonzero, (int, np.integer)) and 1 <= n_nonzero <= cap, "n_nonzero",
           n_nonzero, f"an integer in 1..{cap} (n_samples {m}"
           f"{' minus the intercept' if fit_intercept else ''}; a sparse fit cannot use more "
           "units than training images)")
    max_support = min(2 * int(n_nonzero), cap, n) if max_support is None else int(max_support)
    expect(1 <= max_support <= min(cap, n), "max_support", max_support, f"1..{min(cap, n)}")
    Xc, x_mean, Xs, kept, every = design.parts()
    if fit_intercept:
        y_mean = Y.mean(0)
        Yc = Y - y_mean
    else:
        Yc = Y
    T = Y.shape[1]
    s = int(n_nonzero)
    support = torch.full((T, max_support), -1, dtype=torch.long, device=device)
    count = torch.zeros(T, dtype=torch.long, device=device)
    coef = torch.zeros(T, max_support, dtype=dtype, device=device)
    y_norm = Yc.norm(dim=0)
    done = y_norm <= torch.finfo(dtype).tiny
    R = Yc.clone()
    chunk = max(256, int(chunk_bytes // (max(T, 1) * torch.finfo(dtype).bits // 8)))
    if device.type == "cpu":
        # blocks that stay in cache: the correlations, their absolute values and their
        # maxima read each block once more; measured on 348 688 units, 1000 targets, one
        # core, 2048 units per block (the running threshold of _topk_abs) took 0.27 s per
        # search against 0.83 s for 8192-unit blocks merged for every target
        chunk = min(chunk, _CPU_CHUNK_UNITS)
    n_iter = 0
    for n_iter in range(1, max_support + 1):
        active = (~done).nonzero()[:, 0]
        if active.numel() == 0:
            n_iter -= 1
            break
        # s fresh candidates are among the s + |support| best (ties aside): no larger search
        k = min(kept.numel(), s + int(count[active].max()))
        vals, idx = _topk_abs(Xs, R[:, active], k, chunk)          # (A, k)
        if not every:
            idx = kept[idx]
        sup = support[active]
        fresh = ~(idx[:, :, None] == sup[:, None, :]).any(-1)
        ok = fresh & (vals > 1e-7 * y_norm[active, None])
        # first s usable candidates, keeping the descending order
        order = torch.argsort((~ok).to(torch.int8), dim=1, stable=True)[:, :s]
        vals, idx, ok = (torch.gather(t, 1, order) for t in (vals, idx, ok))
        a = torch.where(ok, vals, torch.zeros((), dtype=dtype, device=device))
        pos = torch.arange(a.shape[1], device=device)
        window = ((pos[None, :] >= pos[:, None])[None]
                  & (a[:, None, :] * 2 >= a[:, :, None]) & ok[:, None, :] & ok[:, :, None])
        energy = (window * (a ** 2)[:, None, :]).sum(-1)            # (A, s) per window start
        j0 = window[torch.arange(len(active), device=device), energy.argmax(1)]
        room = max_support - count[active]
        j0 &= torch.cumsum(j0.to(torch.long), 1) <= room[:, None]
        added = j0.sum(1)
        rows, cols = j0.nonzero(as_tuple=True)
        slot = count[active][rows] + torch.cumsum(j0.to(torch.long), 1)[rows, cols] - 1
        support[active[rows], slot] = idx[rows, cols]
        count[active] += added
        c, fitted = _lstsq_on_support(Xc, Yc[:, active], support[active])
        coef[active] = c
        R[:, active] = Yc[:, active] - fitted
        res = R[:, active].norm(dim=0)
        done[active] = (added == 0) | (count[active] >= max_support) | (res <= tol * y_norm[active])
    if fit_intercept:
        safe = support.clamp_min(0)
        intercept = y_mean - (x_mean[safe] * coef * (support >= 0)).sum(1)
    else:
        intercept = torch.zeros(T, dtype=dtype, device=device)
    sup_np, coef_np = support.cpu().numpy(), coef.cpu().numpy().astype(np.float64)
    keep = sup_np >= 0
    cols_np = np.repeat(np.arange(T), max_support).reshape(T, max_support)
    matrix = sp.csc_matrix((coef_np[keep], (sup_np[keep], cols_np[keep])), shape=(n, T))
    out = (matrix, intercept.cpu().numpy().astype(np.float64))
    if return_info:
        out = out + ({"support": sup_np, "coef_values": coef_np * keep, "n_iter": n_iter},)
    return out


def _check_xy(X, Y):
    X, Y = np.asarray(X), np.asarray(Y)
    expect(X.ndim == 2, "X.shape", X.shape, "(n_samples, n_features)")
    expect(Y.ndim in (1, 2) and Y.shape[0] == X.shape[0], "Y.shape", Y.shape,
           f"({X.shape[0]}, n_targets): one row per row of X")
    return X, Y.reshape(len(Y), -1)


def _folds(m: int, n_folds: int, seed) -> list:
    from sklearn.model_selection import KFold

    expect(isinstance(n_folds, (int, np.integer)) and 2 <= n_folds <= m, "n_folds", n_folds,
           f"an integer in 2..{m} (the number of training images)")
    return list(KFold(n_folds, shuffle=True, random_state=np.random.SeedSequence(seed)
                      .generate_state(1)[0]).split(np.arange(m)))


def _fold_cap(folds: list, intercept: bool) -> tuple[int, int]:
    """The largest support that every training fold of ``folds`` can fit (the smallest
    fold's images, less one for an intercept), and that fold's size."""
    smallest = min(len(train) for train, _ in folds)
    return smallest - (1 if intercept else 0), smallest


def choose_n_nonzero(X, Y, grid=(1, 2, 4, 8), n_folds: int = 5, seed: int = 0, **romp_options):
    """Sparsity level per target by K-fold cross-validation on the training images.

    Parameters
    ----------
    X : array_like, shape (n_samples, n_features)
    Y : array_like, shape (n_samples, n_targets)
    grid : sequence of int
        Candidate ``n_nonzero``; values too large for the smallest training fold are
        dropped (at least one must remain).
    n_folds : int
    seed : int
    **romp_options
        Passed to :func:`romp`.

    Returns
    -------
    best : numpy.ndarray of int, shape (n_targets,)
    cv_mse : numpy.ndarray, shape (n_grid_kept, n_targets)
        Mean squared held-out error per candidate.
    grid : numpy.ndarray of int, shape (n_grid_kept,)
    """
    options = _romp_options(romp_options)
    X, Y = _check_xy(X, Y)
    folds = _folds(len(X), n_folds, seed)
    cap, smallest = _fold_cap(folds, options["fit_intercept"])
    kept = np.array(sorted({int(g) for g in grid if 1 <= int(g) <= cap}))
    expect(kept.size > 0, "grid", tuple(grid), f"at least one n_nonzero in 1..{cap} "
           f"(training folds hold {smallest} images)")
    device = _resolve_device(options.pop("device"), X, Y)
    dtype = _check_dtype(options.pop("dtype"))
    intercept = options.pop("fit_intercept")
    sse = np.zeros((kept.size, Y.shape[1]))
    for train, test in folds:
        # the fold's design is validated, centred and normalized once for the whole grid
        design = _Design(_as_tensor(X[train], "X", 2, device, dtype), intercept)
        x_test, y_train, y_test = X[test].T, Y[train], Y[test]
        for gi, s in enumerate(kept):
            coef, b = _romp(design, y_train, int(s), **options)
            pred = np.asarray(coef.T @ x_test).T + b
            sse[gi] += ((pred - y_test) ** 2).sum(0)
        del design, x_test      # not alive beside the next fold's: the peak stays one fold's
    cv_mse = sse / len(X)
    return kept[cv_mse.argmin(0)], cv_mse, kept


class ROMPEncoder:
    """Sparse encoding model per target, fitted by :func:`romp` (scikit-learn style).

    Parameters
    ----------
    n_nonzero : int, array of int (one per target) or "cv"
        Sparsity level, or ``"cv"`` to choose it per target from ``grid`` by
        :func:`choose_n_nonzero` on the training data.
    grid : sequence of int
    n_folds : int
    seed : int
        Drives the folds and the targets drawn for a pooled choice.
    cv_scope : {"pooled", "target"}
        One level for all targets (lowest summed held-out error), or one per target.
    cv_targets : int
        With ``"pooled"``, at most this many randomly drawn targets estimate the error.
    support_cap : int, optional
        Most units (besides the intercept) any fit may hold. Default: with ``"cv"``, the
        most a cross-validation fold could hold (its training images - 1), so the final
        model is the kind that was validated; otherwise :func:`romp`'s own bound.
    **romp_options
        Passed to :func:`romp` (``max_support``, ``fit_intercept``, ``device``, ``dtype``).

    Attributes
    ----------
    support_ : numpy.ndarray of int, shape (n_targets, max_support), padded with -1
    coef_values_ : numpy.ndarray, shape (n_targets, max_support)
    intercept_ : numpy.ndarray, shape (n_targets,)
    n_nonzero_ : numpy.ndarray of int, shape (n_targets,)
    support_cap_ : int or None
        The cap the fit used.
    n_features_in_ : int
    """

    def __init__(self, n_nonzero="cv", grid=(1, 2, 4, 8), n_folds: int = 5, seed: int = 0,
                 cv_scope: str = "pooled", cv_targets: int = 250, support_cap=None,
                 **romp_options):
        ok = (isinstance(n_nonzero, str) and n_nonzero == "cv") or (
            np.asarray(n_nonzero).dtype.kind in "iu" and np.asarray(n_nonzero).ndim <= 1)
        expect(ok, "n_nonzero", n_nonzero, 'a positive integer, one per target, or "cv"')
        expect(cv_scope in ("pooled", "target"), "cv_scope", cv_scope, '"pooled" or "target"')
        self.n_nonzero, self.grid, self.n_folds, self.seed = n_nonzero, grid, n_folds, seed
        self.cv_scope, self.cv_targets, self.romp_options = cv_scope, cv_targets, romp_options
        expect(support_cap is None or (isinstance(support_cap, (int, np.integer))
                                       and support_cap >= 1), "support_cap", support_cap,
               "None or a positive integer")
        self.support_cap = support_cap

    def fit(self, X, Y):
        """Fit every target.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
        Y : array_like, shape (n_samples, n_targets)

        Returns
        -------
        self
        """
        X, Y = _check_xy(X, Y)
        if isinstance(self.n_nonzero, str) and self.cv_scope == "target":
            levels, self.cv_mse_, self.cv_grid_ = choose_n_nonzero(
                X, Y, self.grid, self.n_folds, self.seed, **self.romp_options)
        elif isinstance(self.n_nonzero, str):
            cols = np.arange(Y.shape[1])
            if len(cols) > self.cv_targets:
                cols = np.sort(np.random.default_rng(self.seed).choice(
                    cols, self.cv_targets, replace=False))
            _, self.cv_mse_, self.cv_grid_ = choose_n_nonzero(
                X, Y[:, cols], self.grid, self.n_folds, self.seed, **self.romp_options)
            levels = np.full(Y.shape[1], self.cv_grid_[self.cv_mse_.sum(1).argmin()])
        else:
            given = np.asarray(self.n_nonzero)
            expect(given.ndim == 0 or given.shape == (Y.shape[1],), "n_nonzero",
                   f"{given.size} levels", f"one level, or one per target ({Y.shape[1]})")
            levels = np.broadcast_to(given, (Y.shape[1],))
        intercept = _romp_options(self.romp_options)["fit_intercept"]
        cap = self.support_cap
        if cap is None and isinstance(self.n_nonzero, str):
            cap, _ = _fold_cap(_folds(len(X), self.n_folds, self.seed), intercept)
        self.support_cap_ = None if cap is None else int(cap)
        parts = {}
        for s in np.unique(levels):
            cols = np.flatnonzero(levels == s)
            opts = dict(self.romp_options)
            if cap is not None and "max_support" not in opts:
                full = len(X) - (1 if intercept else 0)
                opts["max_support"] = max(1, min(2 * int(s), int(cap), full, X.shape[1]))
            coef, b, info = romp(X, Y[:, cols], int(s), return_info=True, **opts)
            parts[int(s)] = (cols, info["coef_values"], b, info["support"])
        width = max(p[3].shape[1] for p in parts.values())
        self.support_ = np.full((Y.shape[1], width), -1, dtype=np.int64)
        self.coef_values_ = np.zeros((Y.shape[1], width))
        self.intercept_ = np.zeros(Y.shape[1])
        for cols, values, b, support in parts.values():
            self.support_[cols, :support.shape[1]] = support
            self.coef_values_[cols, :support.shape[1]] = values
            self.intercept_[cols] = b
        self.n_nonzero_ = levels
        self.n_features_in_ = X.shape[1]
        return self

    @property
    def coef_(self) -> sp.csc_matrix:
        """Coefficients, sparse, shape (n_features, n_targets)."""
        keep = self.support_ >= 0
        cols = np.broadcast_to(np.arange(len(self.support_))[:, None], self.support_.shape)
        return sp.csc_matrix((self.coef_values_[keep], (self.support_[keep], cols[keep])),
                             shape=(self.n_features_in_, len(self.support_)))

    def predict(self, X) -> np.ndarray:
        """Predicted responses, shape (n_samples, n_targets)."""
        expect(hasattr(self, "support_"), "encoder", "not fitted", "fit() called first")
        X = np.asarray(X)
        expect(X.ndim == 2 and X.shape[1] == self.n_features_in_, "X.shape", X.shape,
               f"(n_samples, {self.n_features_in_}) as in fit")
        cols = X[:, self.support_.clip(0)]                      # (n, T, K)
        return np.einsum("ntk,tk->nt", cols, self.coef_values_ * (self.support_ >= 0)) \
            + self.intercept_

    def score(self, X, Y) -> float:
        """Mean coefficient of determination over targets (as scikit-learn regressors)."""
        from sklearn.metrics import r2_score

        X, Y = _check_xy(X, Y)
        return float(r2_score(Y, self.predict(X), multioutput="uniform_average"))


#: Ridge penalties tried by :class:`RidgeEncoder` (per-vertex choice by cross-validation).
_RIDGE_ALPHAS = tuple(np.logspace(-3, 4, 15))


class RidgeEncoder:
    """Kernel ridge regression per target (himalaya), with the :class:`ROMPEncoder` interface.

    The penalty is chosen per target from ``alphas`` (relative to the mean squared norm
    of the centred training rows, so one grid suits every layer) by K-fold CV on the
    training images; an intercept is fitted.

    Parameters
    ----------
    alphas : sequence of float
    n_folds : int
    seed : int
    """

    def __init__(self, alphas=_RIDGE_ALPHAS, n_folds: int = 5, seed: int = 0):
        self.alphas, self.n_folds, self.seed = alphas, n_folds, seed

    def fit(self, X, Y):
        """Fit every target; ``X`` (n_samples, n_features), ``Y`` (n_samples, n_targets)."""
        from himalaya.kernel_ridge import KernelRidgeCV

        X, Y = _check_xy(X, Y)
        X = X.astype(np.float64)
        scale = float(((X - X.mean(0)) ** 2).sum() / len(X)) or 1.0
        self._model = KernelRidgeCV(alphas=np.asarray(self.alphas) * scale, kernel="linear",
                                    fit_intercept=True, cv=_folds(len(X), self.n_folds,
                                                                  self.seed))
        self._model.fit(X, Y.astype(np.float64))
        self.alpha_ = np.asarray(self._model.best_alphas_) / scale
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted responses, shape (n_samples, n_targets)."""
        expect(hasattr(self, "_model"), "encoder", "not fitted", "fit() called first")
        X = np.asarray(X, dtype=np.float64)
        expect(X.ndim == 2 and X.shape[1] == self.n_features_in_, "X.shape", X.shape,
               f"(n_samples, {self.n_features_in_}) as in fit")
        return np.asarray(self._model.predict(X))

    score = ROMPEncoder.score


def make_encoder(solver: str = "romp", n_nonzero="cv", seed: int = 0, **options):
    """An encoder by name: ``"romp"`` (:class:`ROMPEncoder`) or ``"ridge"`` (:class:`RidgeEncoder`)."""
    expect(solver in ENCODERS, "solver", solver, f"one of {', '.join(ENCODERS)}")
    if solver == "romp":
        return ROMPEncoder(n_nonzero=n_nonzero, seed=seed, **options)
    return RidgeEncoder(seed=seed, **options)


def pattern_correlation_parts(predicted, measured):
    """Per-vertex sums behind the pattern correlation, after centring each vertex.

    The pattern correlation of predicted and measured responses to a set of images is the
    Pearson correlation over all (image, vertex) entries after removing each vertex's mean
    over the images (so a vertex's offset, which the intercept predicts trivially, does not
    count): ``r = Σ pm / sqrt(Σ p² Σ m²)``. Sums over any subset of vertices give that
    subset's ``r``; ``gram`` gives it for permuted image labels.

    Parameters
    ----------
    predicted, measured : array_like, shape (n_images, n_vertices)

    Returns
    -------
    dict
        ``pm, pp, mm``: shape (n_vertices,); ``gram``: (n_images, n_images) with
        ``gram[i, j] = Σ_v p[i, v] m[j, v]``.
    """
    p, m = np.asarray(predicted, dtype=np.float64), np.asarray(measured, dtype=np.float64)
    expect(p.ndim == 2 and p.shape == m.shape, "predicted.shape", p.shape,
           f"{m.shape}, the shape of measured")
    expect(p.shape[0] >= 3, "n_images", p.shape[0], "at least 3 test images")
    p = p - p.mean(0)
    m = m - m.mean(0)
    return {"pm": (p * m).sum(0), "pp": (p ** 2).sum(0), "mm": (m ** 2).sum(0),
            "gram": p @ m.T}
