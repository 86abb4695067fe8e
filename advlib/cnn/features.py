"""Layer activations of a :class:`~advlib.cnn.models.ModelWrapper` through forward hooks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from ..errors import check_positive_int, expect
from ..layout import features_name
from ..provenance import Stage
from .images import as_image_tensor
from .stimulus_set import KINDS, load_stimulus_images, stimulus_files

# torch is imported where a network computes: reading the features a stage made (a page)
# does not import it
if TYPE_CHECKING:
    import torch

    from .models import ModelWrapper

__all__ = ["extract_features", "record_layers", "stimulus_features"]




@contextmanager
def record_layers(model: ModelWrapper, layers: Sequence[str]) -> Iterator[dict]:
    """Register copying forward hooks on readout ``layers`` for the duration of a block.

    Each forward pass stores, per layer, a detached float32 *copy* of the module output
    flattened to ``(n, n_units)`` (a copy, so that in-place operations that run later,
    such as AlexNet's ``ReLU(inplace=True)``, cannot alter what was recorded).

    Yields
    ------
    dict of str to torch.Tensor
        Filled on every forward pass; overwritten by the next one.
    """
    import torch

    store: dict[str, torch.Tensor] = {}
    handles = []

    def _hook_for(layer):
        def hook(_module, _inputs, output):
            store[layer] = output.detach().flatten(1).to("cpu", torch.float32, copy=True)
        return hook

    try:
        for layer in layers:
            handles.append(model.module_for(layer).register_forward_hook(_hook_for(layer)))
        yield store
    finally:
        for handle in handles:
            handle.remove()


def extract_features(model: ModelWrapper, images, layers: Sequence[str] | None = None,
                     batch_size: int = 16, progress: bool = False) -> dict[str, np.ndarray]:
    """Activations of readout layers for a set of images.

    Parameters
    ----------
    model : ModelWrapper
        From :func:`advlib.cnn.models.load_model`.
    images : numpy.ndarray or torch.Tensor, shape (n_images, 3, H, W)
        Pixels in [0, 1].
    layers : sequence of str, optional
        Subset of ``model.layers``; all eight when omitted.
    batch_size : int
        Images per forward pass.
    progress : bool
        Show a tqdm progress bar over batches.

    Returns
    -------
    dict of str to numpy.ndarray
        ``layer -> float32 array (n_images, n_units)``, units in the module's
        ``(channel, row, column)`` order flattened.

    Raises
    ------
    InputError
        Bad images or batch size.
    ModelError
        Unknown layer.
    """
    import torch

    layers = list(model.layers if layers is None else layers)
    expect(len(layers) > 0, "layers", layers, f"a non-empty subset of {model.layers}")
    for layer in layers:
        model.module_for(layer)  # raises ModelError naming the layer
    check_positive_int(batch_size, "batch_size")
    tensor = as_image_tensor(images)
    n = tensor.shape[0]
    out: dict[str, np.ndarray] = {}
    starts = range(0, n, batch_size)
    with record_layers(model, layers) as store, torch.no_grad():
        for start in tqdm(starts, desc=f"features {model.name}", disable=not progress,
                          unit="batch"):
            batch = tensor[start:start + batch_size].to(model.device)
            model(batch)
            for layer in layers:
                acts = store[layer].numpy()
                if layer not in out:
                    out[layer] = np.empty((n, acts.shape[1]), dtype=np.float32)
                out[layer][start:start + len(batch)] = acts
    return out




def stimulus_features(model, stim_dir, cache_dir=None, layers=None, batch_size: int = 16,
                      progress: bool = False) -> dict:
    """Activations of every stimulus in a set, per kind and layer, cached on disk.

    A cached stage: ``cache_dir/features_<KIND>.npz`` with ``features_provenance.json`` is
    reused when the stimulus files (manifest and every PNG), model, weights, layers and
    code are unchanged, and rewritten atomically otherwise.

    Parameters
    ----------
    model : ModelWrapper
    stim_dir : str or path
        A stimulus folder from :func:`advlib.cnn.build_stimulus_set`.
    cache_dir : str or path, optional
        Where to cache; no caching when ``None``.
    layers : sequence of str, optional
        Default: all eight.
    batch_size : int
    progress : bool

    Returns
    -------
    dict of str to dict of str to numpy.ndarray
        ``kind -> layer -> (n_images, n_units)`` float32, rows ordered by ``source_id``.
    """
    stim_dir = Path(stim_dir)
    layers = list(model.layers if layers is None else layers)
    files = [features_name(k) for k in KINDS]
    stage = None
    if cache_dir is not None:
        stage = Stage("features", cache_dir, files,
                      {"model": model.name, "weights_sha256": model.weights_sha256,
                       "layers": layers},
                      inputs=stimulus_files(stim_dir), code=["advlib.cnn.features"])
        if stage.up_to_date():
            out = {}
            for kind, f in zip(KINDS, stage.output_paths()):
                with np.load(f) as data:
                    out[kind] = {layer: data[layer] for layer in layers}
            return out
    out = {}
    for kind in tqdm(KINDS, desc="features", disable=not progress):
        images, _ = load_stimulus_images(stim_dir, kind, size=model.input_size)
        out[kind] = extract_features(model, images, layers=layers, batch_size=batch_size)
    if stage is not None:
        def write(tmp: Path) -> None:
            for kind, name in zip(KINDS, files):
                with open(tmp / name, "wb") as handle:
                    np.savez(handle, **out[kind])
        stage.run(write)
    return out
