"""The paper's network: the BVLC reference AlexNet, rebuilt in torch from its Caffe weights.

The paper ran ``bvlc_alexnet`` in Caffe. :class:`CaffeAlexNet` is that network layer for
layer: conv1 96 11x11/4, ReLU, local response normalisation (5 channels, alpha 1e-4,
beta 0.75), max pooling 3/2; conv2 256 5x5 pad 2 in two groups, ReLU, LRN, max pooling;
conv3 384 3x3; conv4 384 3x3 in two groups; conv5 256 3x3 in two groups, max pooling;
fc6 4096, fc7 4096 (ReLU, dropout at training only), fc8 1000. Pooling rounds up, as
Caffe's does (``ceil_mode``). The input is 227 x 227, BGR, 0-255, minus the ImageNet mean;
:func:`caffe_preprocessing` gives the normalisation that, inside the model wrapper, turns
pixels in [0, 1] (RGB) into that, so the adversarial optimizers still work on pixels.

The weights are read from the published ``bvlc_alexnet.caffemodel`` by
:func:`read_caffemodel`, a reader of Caffe's protocol-buffer format written for this
purpose (Caffe itself is not needed): both the current ``layer`` (``LayerParameter``)
and the legacy V1 ``layers`` (``V1LayerParameter``) encodings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import WeightsNotFoundError, expect

__all__ = ["CaffeAlexNet", "CAFFE_ALEXNET_SHAPES", "CAFFE_MEAN_BGR", "read_caffemodel",
           "caffe_preprocessing", "load_caffe_alexnet"]

#: The ImageNet mean of Caffe's ``ilsvrc_2012_mean`` averaged over pixels, per channel, in
#: Caffe's BGR order (0-255 scale).
CAFFE_MEAN_BGR = (104.00698793, 116.66876762, 122.67891434)

#: Each learned layer of ``bvlc_alexnet`` and the shapes of its blobs (weights, bias), as
#: Caffe stores them (grouped convolutions hold ``in_channels / 2`` input channels).
CAFFE_ALEXNET_SHAPES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "conv1": ((96, 3, 11, 11), (96,)),
    "conv2": ((256, 48, 5, 5), (256,)),
    "conv3": ((384, 256, 3, 3), (384,)),
    "conv4": ((384, 192, 3, 3), (384,)),
    "conv5": ((256, 192, 3, 3), (256,)),
    "fc6": ((4096, 9216), (4096,)),
    "fc7": ((4096, 4096), (4096,)),
    "fc8": ((1000, 4096), (1000,)),
}


class CaffeAlexNet(nn.Module):
    """The BVLC AlexNet as Caffe computes it, on BGR 0-255 mean-subtracted 227 x 227 input.

    The first operation flips the channel order, so the network itself takes RGB (what the
    model wrapper feeds it, already scaled and mean-subtracted by :func:`caffe_preprocessing`).
    Readouts (paper layers 1-8): ``relu1`` .. ``relu5`` (96x55x55, 256x27x27, 384x13x13,
    384x13x13, 256x13x13), ``relu6``, ``relu7`` (4096) and ``fc8`` (1000 logits).
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, 11, stride=4)
        self.relu1 = nn.ReLU()
        self.norm1 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(96, 256, 5, padding=2, groups=2)
        self.relu2 = nn.ReLU()
        self.norm2 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(256, 384, 3, padding=1)
        self.relu3 = nn.ReLU()
        self.conv4 = nn.Conv2d(384, 384, 3, padding=1, groups=2)
        self.relu4 = nn.ReLU()
        self.conv5 = nn.Conv2d(384, 256, 3, padding=1, groups=2)
        self.relu5 = nn.ReLU()
        self.pool5 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.fc6 = nn.Linear(9216, 4096)
        self.relu6 = nn.ReLU()
        self.drop6 = nn.Dropout(0.5)
        self.fc7 = nn.Linear(4096, 4096)
        self.relu7 = nn.ReLU()
        self.drop7 = nn.Dropout(0.5)
        self.fc8 = nn.Linear(4096, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for input of shape ``(n, 3, 227, 227)``, RGB, 0-255, mean subtracted."""
        x = x.flip(1)                                              # RGB -> Caffe's BGR
        x = self.pool1(self.norm1(self.relu1(self.conv1(x))))
        x = self.pool2(self.norm2(self.relu2(self.conv2(x))))
        x = self.relu3(self.conv3(x))
        x = self.relu4(self.conv4(x))
        x = self.pool5(self.relu5(self.conv5(x)))
        x = self.drop6(self.relu6(self.fc6(torch.flatten(x, 1))))
        x = self.drop7(self.relu7(self.fc7(x)))
        return self.fc8(x)

    def load_caffe_blobs(self, blobs: dict[str, list[np.ndarray]], source: str = "caffemodel"):
        """Copy ``bvlc_alexnet``'s learned blobs into the network.

        Parameters
        ----------
        blobs : dict of str to list of numpy.ndarray
            Layer name -> ``[weights, bias]`` (from :func:`read_caffemodel`). Legacy files
            store every blob as 4-D (``1 x 1 x out x in`` for fully connected layers); any
            blob with the expected number of values is reshaped.
        source : str
            The file, named in error messages.

        Returns
        -------
        CaffeAlexNet
            ``self``.

        Raises
        ------
        WeightsNotFoundError
            A layer of AlexNet is missing, or a blob has another size (another network).
        """
        missing = [name for name in CAFFE_ALEXNET_SHAPES if name not in blobs]
        if missing:
            _refuse(source, f"layers {', '.join(sorted(blobs)) or 'none'}",
                    f"the learned layers of bvlc_alexnet ({', '.join(CAFFE_ALEXNET_SHAPES)}); "
                    f"missing {', '.join(missing)}")
        for name, shapes in CAFFE_ALEXNET_SHAPES.items():
            found = blobs[name]
            if len(found) != 2:
                _refuse(source, f"{len(found)} blobs in layer {name}", "2 (weights and bias)")
            for blob, shape, part in zip(found, shapes, ("weights", "bias")):
                if blob.size != int(np.prod(shape)):
                    _refuse(source, f"{name} {part} of shape {tuple(blob.shape)}",
                            f"shape {shape}, as in bvlc_alexnet (another network?)")
            module = getattr(self, name)
            with torch.no_grad():
                module.weight.copy_(torch.from_numpy(found[0].reshape(shapes[0]).copy()))
                module.bias.copy_(torch.from_numpy(found[1].reshape(shapes[1]).copy()))
        return self


def _refuse(source: str, found: str, expected: str):
    raise WeightsNotFoundError(f"caffemodel {source}: found {found}; expected {expected}")


def caffe_preprocessing() -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel ``(mean, std)`` in RGB order for pixels in [0, 1].

    ``(x - mean) / std`` equals ``255 x - m`` with ``m`` the ImageNet mean (0-255) of that
    channel: Caffe's input scale and mean subtraction.

    Returns
    -------
    mean, std : tuple of 3 floats
    """
    rgb = CAFFE_MEAN_BGR[::-1]
    return tuple(m / 255.0 for m in rgb), (1 / 255.0,) * 3


# --- protocol-buffer reading ------------------------------------------------------------

def _varint(buf, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def _fields(buf):
    """Yield ``(field number, wire type, value)`` of one protobuf message.

    Varints give an int, length-delimited fields a memoryview, fixed32/64 their bytes.
    """
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0")
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > end:
                raise ValueError("truncated length-delimited field")
            value, pos = buf[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if pos > end:
            raise ValueError("truncated field")
        yield number, wire, value


def _packed_varints(value) -> list[int]:
    out, pos = [], 0
    while pos < len(value):
        v, pos = _varint(value, pos)
        out.append(v)
    return out


def _blob(buf) -> np.ndarray:
    """A ``BlobProto``: its float (or double) data with its shape."""
    legacy = {1: 1, 2: 1, 3: 1, 4: 1}        # num, channels, height, width
    legacy_seen, dims, chunks, doubles = False, None, [], []
    for number, wire, value in _fields(buf):
        if number in legacy and wire == 0:
            legacy[number], legacy_seen = value, True
        elif number == 5:                                            # data (float)
            if wire == 2:
                chunks.append(np.frombuffer(value, dtype="<f4"))
            elif wire == 5:
                chunks.append(np.frombuffer(value, dtype="<f4"))
        elif number == 8:                                            # double_data
            doubles.append(np.frombuffer(value, dtype="<f8") if wire in (1, 2) else None)
        elif number == 7 and wire == 2:                              # shape: BlobShape
            dims = []
            for n, w, v in _fields(value):
                if n == 1:
                    dims += _packed_varints(v) if w == 2 else [v]
    data = (np.concatenate(chunks) if chunks else
            np.concatenate(doubles).astype(np.float32) if doubles else np.zeros(0, np.float32))
    shape = dims if dims is not None else ([legacy[k] for k in (1, 2, 3, 4)] if legacy_seen
                                           else [data.size])
    if int(np.prod(shape)) != data.size:
        raise ValueError(f"blob of shape {shape} holds {data.size} values")
    return data.astype(np.float32, copy=False).reshape(shape)


def _layer(buf, name_field: int, blobs_field: int) -> tuple[str | None, list[np.ndarray]]:
    name, blobs = None, []
    for number, wire, value in _fields(buf):
        if number == name_field and wire == 2:
            name = bytes(value).decode("utf-8", "replace")
        elif number == blobs_field and wire == 2:
            blobs.append(_blob(value))
    return name, blobs


def read_caffemodel(path) -> dict[str, list[np.ndarray]]:
    """The learned blobs of every layer of a ``.caffemodel`` file, without Caffe.

    Parameters
    ----------
    path : str or path
        A binary ``NetParameter`` protocol buffer: the current format (``layer``,
        field 100) or the legacy V1 format (``layers``, field 2).

    Returns
    -------
    dict of str to list of numpy.ndarray
        Layer name -> its blobs (float32, in the file's shapes), for layers with blobs.

    Raises
    ------
    WeightsNotFoundError
        The file is missing, truncated, or not a Caffe network with learned layers.
    """
    path = Path(path)
    expect(path.is_file(), "caffemodel", str(path), "an existing .caffemodel file",
           WeightsNotFoundError)
    expect(path.stat().st_size > 0, "caffemodel", str(path), "a non-empty .caffemodel file",
           WeightsNotFoundError)
    buf = memoryview(path.read_bytes())
    layers: dict[str, list[np.ndarray]] = {}
    try:
        for number, wire, value in _fields(buf):
            if wire != 2 or number not in (2, 100):
                continue
            # LayerParameter: name 1, blobs 7; V1LayerParameter: name 4, blobs 6
            name, blobs = _layer(value, 1, 7) if number == 100 else _layer(value, 4, 6)
            if name is not None and blobs:
                layers[name] = blobs
    except ValueError as exc:
        _refuse(str(path), f"bytes that do not parse ({exc})",
                "a Caffe NetParameter protocol buffer (.caffemodel); is the file truncated "
                "or not a caffemodel?")
    if not layers:
        _refuse(str(path), "no layer with learned weights",
                "a Caffe network (.caffemodel) with learned layers")
    return layers


def load_caffe_alexnet(path) -> CaffeAlexNet:
    """:class:`CaffeAlexNet` with the weights of a ``bvlc_alexnet.caffemodel`` file."""
    return CaffeAlexNet().load_caffe_blobs(read_caffemodel(path), str(path))
