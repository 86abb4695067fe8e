"""Adversarial image optimizers: adversarial noise (AN) and adversarial interference (AI).

Both work in pixel space on images in ``[0, 1]`` with a frozen network and Adam on the
pixels, projected back onto the box after every step. Convergence is judged on the image
as it will be saved: each forward pass sees the pixels quantized to 8 bits (a
straight-through estimator passes the gradient), so an image that is reported to reach
the threshold still reaches it after it is written to PNG and read back.

References
----------
Nguyen A, Yosinski J, Clune J (2015). Deep neural networks are easily fooled: high
confidence predictions for unrecognizable images. CVPR. (AN; the paper's eq. 1)

Szegedy C, Zaremba W, Sutskever I, et al. (2014). Intriguing properties of neural
networks. ICLR. (AI)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from ..errors import check_positive_int, check_probability, expect
from .images import as_image_tensor
from .models import ModelWrapper

__all__ = [
    "IMAGENET_MEAN_RGB",
    "AdversarialResult",
    "imagenet_mean_image",
    "generate_an",
    "generate_ai",
    "choose_targets",
    "quantize",
    "image_distances",
]

#: Per-channel mean of the ImageNet training set (the torchvision/Caffe statistics).
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)


@dataclass
class AdversarialResult:
    """Outcome of one batch optimization.

    Attributes
    ----------
    images : numpy.ndarray, shape (n, 3, H, W), float32
        8-bit-exact images in [0, 1] (multiples of 1/255): the first iterate that reached
        the threshold, or the last iterate for images that did not converge.
    labels : numpy.ndarray, shape (n,), int
        The class each image was pushed towards.
    p_target : numpy.ndarray, shape (n,)
        Softmax probability of ``labels`` for ``images``.
    n_steps : numpy.ndarray, shape (n,), int
        Optimizer steps taken until convergence (``max_steps`` when not converged).
    converged : numpy.ndarray, shape (n,), bool
        Whether ``p_target >= threshold`` was reached within ``max_steps``.
    params : dict
        The optimizer settings, for provenance.
    """

    images: np.ndarray
    labels: np.ndarray
    p_target: np.ndarray
    n_steps: np.ndarray
    converged: np.ndarray
    params: dict = field(default_factory=dict)


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Round pixels to 8 bits with a straight-through gradient.

    Parameters
    ----------
    x : torch.Tensor, shape (n, 3, H, W)
        Pixels in [0, 1].

    Returns
    -------
    torch.Tensor
        ``round(255 x) / 255`` in the forward pass; identity in the backward pass.
    """
    return x + (torch.round(x * 255.0) / 255.0 - x).detach()


def imagenet_mean_image(size: int) -> np.ndarray:
    """The ImageNet mean image, the starting point of AN optimization.

    The paper starts from the grand average of all ImageNet images; averaged over the
    whole data set that image is, to within a few grey levels, uniform at the per-channel
    mean, which is what this returns.

    Parameters
    ----------
    size : int
        Side length in pixels.

    Returns
    -------
    numpy.ndarray, shape (3, size, size), float32
    """
    expect(isinstance(size, int) and size >= 8, "size", size, "an integer >= 8")
    mean = np.asarray(IMAGENET_MEAN_RGB, dtype=np.float32)[:, None, None]
    return np.round(np.broadcast_to(mean, (3, size, size)) * 255.0).astype(np.float32) / 255.0


def choose_targets(true_labels, seed: int | np.random.Generator = 0, n_classes: int = 1000,
                   exclude=()) -> np.ndarray:
    """Seeded choice of one AI target class per regular image.

    A target is never the image's own class, nor any class in ``exclude`` (by default the
    caller passes all classes of the regular set, so that an AI image is never pushed into
    the category of another stimulus).

    Parameters
    ----------
    true_labels : array_like of int, shape (n,)
        Class index of each regular image.
    seed : int or numpy.random.Generator
        Randomness source.
    n_classes : int
        Number of classes to choose from.
    exclude : iterable of int
        Further classes never chosen.

    Returns
    -------
    numpy.ndarray, shape (n,), int64
    """
    labels = _check_labels(true_labels, "true_labels", n_classes)
    rng = np.random.default_rng(seed)
    forbidden = set(int(c) for c in exclude) | set(labels.tolist())
    allowed = np.array([c for c in range(n_classes) if c not in forbidden])
    expect(len(allowed) > 0, "exclude", sorted(forbidden)[:5], "to leave at least one class")
    return rng.choice(allowed, size=len(labels), replace=True).astype(np.int64)


def _check_labels(labels, parameter: str, n_classes: int = 1000) -> np.ndarray:
    arr = np.asarray(labels)
    expect(arr.ndim == 1 and arr.size > 0, f"{parameter}.shape", arr.shape, "(n,) with n >= 1")
    expect(np.issubdtype(arr.dtype, np.integer), parameter, arr.dtype, "integer class indices")
    bad = arr[(arr < 0) | (arr >= n_classes)]
    expect(bad.size == 0, parameter, bad[:5].tolist(), f"class indices in 0..{n_classes - 1}")
    return arr.astype(np.int64)


_RELAX_EVERY = 50


def _optimize(model: ModelWrapper, start: torch.Tensor, labels: np.ndarray, anchor: torch.Tensor,
              weight: float, *, threshold: float, max_steps: int, lr: float, batch_size: int,
              desc: str, progress: bool) -> AdversarialResult:
    """Adam on pixels maximizing log P_label(q(x)) - w_t * ||x - anchor||^2 (per image).

    ``w_t = weight * 0.5 ** (t // 50)`` at step ``t``. Each image stops at the first step
    whose 8-bit image reaches ``threshold``; the rest stop at ``max_steps``.
    """
    check_probability(threshold, "threshold", low_open=True, high_open=True)
    check_positive_int(max_steps, "max_steps")
    expect(lr > 0, "lr", lr, "a positive step size")
    expect(weight >= 0, "weight", weight, "a non-negative penalty")
    check_positive_int(batch_size, "batch_size")
    n = start.shape[0]
    out = np.empty(tuple(start.shape), dtype=np.float32)
    p_out = np.zeros(n)
    steps_out = np.full(n, max_steps, dtype=np.int64)
    conv_out = np.zeros(n, dtype=bool)
    device = model.device
    bar = tqdm(total=n, desc=desc, disable=not progress, unit="img")
    for b0 in range(0, n, batch_size):
        sl = slice(b0, min(n, b0 + batch_size))
        x = start[sl].clone().to(device).requires_grad_(True)
        ref = anchor[sl].to(device)
        target = torch.as_tensor(labels[sl], device=device)
        opt = torch.optim.Adam([x], lr=lr)
        done = np.zeros(x.shape[0], dtype=bool)
        for step in range(max_steps + 1):
            active = np.flatnonzero(~done)  # converged images leave the forward pass
            xq = quantize(x[active])
            logp = torch.log_softmax(model(xq), dim=1).gather(1, target[active, None])[:, 0]
            prob = logp.detach().exp().cpu().numpy()
            grab = prob >= threshold if step < max_steps else np.ones(len(active), bool)
            if grab.any():
                idx = active[grab]
                out[b0 + idx] = xq.detach()[grab].cpu().numpy()
                p_out[b0 + idx] = prob[grab]
                steps_out[b0 + idx] = step
                conv_out[b0 + idx] = prob[grab] >= threshold
                done[idx] = True
                bar.update(len(idx))
            if done.all():
                break
            penalty = ((x[active] - ref[active]) ** 2).flatten(1).sum(1)
            # Halving the penalty every `_RELAX_EVERY` steps lets an image whose optimum
            # under the initial weight lies below the threshold still reach it, as the
            # search over the penalty constant does in Szegedy et al.
            loss = -(logp - weight * 0.5 ** (step // _RELAX_EVERY) * penalty).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                x.clamp_(0.0, 1.0)
    bar.close()
    params = {"threshold": threshold, "max_steps": max_steps, "lr": lr, "weight": weight,
              "weight_halved_every": _RELAX_EVERY,
              "batch_size": batch_size, "optimizer": "Adam", "quantized": "8-bit, straight-through"}
    return AdversarialResult(out, labels.copy(), p_out, steps_out, conv_out, params)


def generate_an(model: ModelWrapper, labels, *, lam: float = 1e-4, threshold: float = 0.99,
                max_steps: int = 300, lr: float = 0.01, batch_size: int = 8,
                progress: bool = False) -> AdversarialResult:
    """Adversarial-noise images (paper eq. 1): from the mean image to high class confidence.

    Maximizes ``log P_c(I) - lam * ||I - I_mean||_2^2`` over pixels in [0, 1], for each
    class ``c`` in ``labels``, until ``P_c >= threshold``. ``lam`` is halved every 50
    steps without convergence.

    Parameters
    ----------
    model : ModelWrapper
    labels : array_like of int, shape (n,)
        The class of the regular image each AN image belongs to.
    lam : float
        Weight of the squared L2 distance to the mean image (summed over pixels).
    threshold : float
        Required softmax probability of the class (0.99 in the paper).
    max_steps : int
        Step budget per image; images not converged are flagged, not dropped.
    lr : float
        Adam step size in pixel units.
    batch_size : int
        Images optimized together.
    progress : bool
        Show a tqdm bar over images.

    Returns
    -------
    AdversarialResult
    """
    labels = _check_labels(labels, "labels")
    start = torch.from_numpy(imagenet_mean_image(model.input_size))
    start = start.unsqueeze(0).expand(len(labels), -1, -1, -1).contiguous()
    result = _optimize(model, start, labels, start, lam, threshold=threshold,
                       max_steps=max_steps, lr=lr, batch_size=batch_size,
                       desc="AN images", progress=progress)
    result.params.update(kind="AN", lam=lam, start="ImageNet mean image")
    return result


def generate_ai(model: ModelWrapper, images, targets, *, c: float = 0.05,
                threshold: float = 0.99, max_steps: int = 300, lr: float = 0.005,
                batch_size: int = 8, progress: bool = False) -> AdversarialResult:
    """Adversarial-interference images: small changes to regular images that flip the class.

    Minimizes ``-log P_target(I) + c * ||I - I_RE||_2^2`` over pixels in [0, 1], starting
    at the regular image, until ``P_target >= threshold``. ``c`` is halved every 50 steps
    without convergence (a simple stand-in for Szegedy et al.'s search over ``c``).

    Parameters
    ----------
    model : ModelWrapper
    images : numpy.ndarray or torch.Tensor, shape (n, 3, H, W)
        Regular images in [0, 1], at ``model.input_size``.
    targets : array_like of int, shape (n,)
        Target class per image (see :func:`choose_targets`).
    c : float
        Weight of the squared L2 size of the change (summed over pixels).
    threshold, max_steps, lr, batch_size, progress
        As in :func:`generate_an`.

    Returns
    -------
    AdversarialResult
    """
    tensor = as_image_tensor(images)
    targets = _check_labels(targets, "targets")
    expect(len(targets) == tensor.shape[0], "targets", f"{len(targets)} labels",
           f"one per image ({tensor.shape[0]})")
    result = _optimize(model, tensor, targets, tensor, c, threshold=threshold,
                       max_steps=max_steps, lr=lr, batch_size=batch_size,
                       desc="AI images", progress=progress)
    result.params.update(kind="AI", c=c, start="regular image")
    return result


def image_distances(images, references) -> dict[str, np.ndarray]:
    """Per-image L2, L-infinity, PSNR and pixel correlation between two image sets.

    Parameters
    ----------
    images, references : numpy.ndarray, shape (n, 3, H, W)
        Pixels in [0, 1].

    Returns
    -------
    dict of str to numpy.ndarray, each shape (n,)
        ``l2`` (Euclidean norm of the difference), ``linf``, ``psnr`` (dB, peak 1; inf for
        identical images) and ``pixel_r`` (Pearson correlation of the pixel values).
    """
    a = np.asarray(images)
    b = np.asarray(references)
    expect(a.ndim == 4 and len(a) >= 1 and a.shape[1] == 3, "images.shape", a.shape,
           "(n, 3, H, W) with n >= 1")
    expect(a.shape == b.shape, "images.shape", a.shape, f"the shape of references {b.shape}")
    # a few images at a time: each image's numbers are its own row's reductions, the same
    # floats as all at once, without float64 copies of the whole sets (92 images: 2.7 s)
    parts = [_distances(a[i:i + _DISTANCE_CHUNK], b[i:i + _DISTANCE_CHUNK])
             for i in range(0, len(a), _DISTANCE_CHUNK)]
    return {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}


#: Images per block of :func:`image_distances`.
_DISTANCE_CHUNK = 8


def _distances(images: np.ndarray, references: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`image_distances` of one block of images (float64 arithmetic)."""
    a = np.asarray(images, dtype=np.float64)
    b = np.asarray(references, dtype=np.float64)
    diff = (a - b).reshape(len(a), -1)
    mse = (diff ** 2).mean(1)
    with np.errstate(divide="ignore"):
        psnr = np.where(mse > 0, 10 * np.log10(1.0 / np.maximum(mse, 1e-300)), np.inf)
    fa = a.reshape(len(a), -1) - a.reshape(len(a), -1).mean(1, keepdims=True)
    fb = b.reshape(len(b), -1) - b.reshape(len(b), -1).mean(1, keepdims=True)
    denom = np.sqrt((fa ** 2).sum(1) * (fb ** 2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(denom > 0, (fa * fb).sum(1) / np.where(denom > 0, denom, 1), np.nan)
    return {"l2": np.sqrt((diff ** 2).sum(1)), "linf": np.abs(diff).max(1), "psnr": psnr,
            "pixel_r": r}

