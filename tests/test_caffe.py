"""The Caffe AlexNet (advlib/cnn/caffe.py): a caffemodel writer for both of Caffe's formats,
random weights with bvlc_alexnet's layer names and shapes, and the network checked layer by
layer against an independent numpy computation (convolution, the LRN formula, pooling)."""
import numpy as np
import pytest
import torch

from advlib.cnn.caffe import CAFFE_ALEXNET_SHAPES, CAFFE_MEAN_BGR, read_caffemodel
from advlib.errors import WeightsNotFoundError

pytestmark = pytest.mark.slow        # writes two 234 MB files

# --- a minimal protocol-buffer writer (Caffe's NetParameter) -----------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, wire: int, payload) -> bytes:
    key = _varint(number << 3 | wire)
    if wire == 2:
        return key + _varint(len(payload)) + bytes(payload)
    if wire == 0:
        return key + _varint(payload)
    raise ValueError(wire)


def _blob(array: np.ndarray, legacy: bool) -> bytes:
    data = _field(5, 2, np.ascontiguousarray(array, "<f4").tobytes())       # packed floats
    if legacy:     # V1: num, channels, height, width (fully connected: 1 x 1 x out x in)
        dims = [1] * (4 - array.ndim) + list(array.shape)
        return b"".join(_field(k, 0, d) for k, d in zip((1, 2, 3, 4), dims)) + data
    shape = _field(1, 2, b"".join(_varint(d) for d in array.shape))          # packed dims
    return _field(7, 2, shape) + data


_V1_TYPES = {"Data": 5, "Convolution": 4, "ReLU": 18, "LRN": 15, "Pooling": 17,
             "InnerProduct": 14, "Dropout": 6, "Softmax": 20}
_LAYERS = [("data", "Data"), ("conv1", "Convolution"), ("relu1", "ReLU"), ("norm1", "LRN"),
           ("pool1", "Pooling"), ("conv2", "Convolution"), ("relu2", "ReLU"),
           ("norm2", "LRN"), ("pool2", "Pooling"), ("conv3", "Convolution"),
           ("relu3", "ReLU"), ("conv4", "Convolution"), ("relu4", "ReLU"),
           ("conv5", "Convolution"), ("relu5", "ReLU"), ("pool5", "Pooling"),
           ("fc6", "InnerProduct"), ("relu6", "ReLU"), ("drop6", "Dropout"),
           ("fc7", "InnerProduct"), ("relu7", "ReLU"), ("drop7", "Dropout"),
           ("fc8", "InnerProduct"), ("prob", "Softmax")]


def write_caffemodel(path, blobs: dict, legacy: bool = False, layers=_LAYERS) -> None:
    """A NetParameter with AlexNet's layers; ``legacy`` writes V1 ``layers`` (field 2)."""
    parts = [_field(1, 2, b"AlexNet")]
    for name, kind in layers:
        if legacy:
            body = _field(4, 2, name.encode()) + _field(5, 0, _V1_TYPES[kind]) + \
                b"".join(_field(6, 2, _blob(b, True)) for b in blobs.get(name, []))
            parts.append(_field(2, 2, body))
        else:
            body = _field(1, 2, name.encode()) + _field(2, 2, kind.encode()) + \
                b"".join(_field(7, 2, _blob(b, False)) for b in blobs.get(name, []))
            parts.append(_field(100, 2, body))
    with open(path, "wb") as f:
        f.write(b"".join(parts))


def random_alexnet_blobs(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    blobs = {}
    for name, (w, b) in CAFFE_ALEXNET_SHAPES.items():
        fan_in = int(np.prod(w[1:]))
        blobs[name] = [(rng.standard_normal(w) * np.sqrt(2 / fan_in)).astype(np.float32),
                       (rng.standard_normal(b) * 0.1).astype(np.float32)]
    return blobs


# --- an independent reference: numpy convolution, Caffe's LRN and pooling ----------------


def _conv(x, w, b, stride=1, pad=0, groups=1):
    """x (C, H, W), w (O, C/groups, k, k): Caffe's convolution by explicit patches."""
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    c, h, _ = x.shape
    k = w.shape[-1]
    n = (h - k) // stride + 1
    idx = np.arange(n) * stride
    patches = np.stack([np.stack([x[:, i:i + k, j:j + k] for j in idx]) for i in idx])
    out, per = [], w.shape[0] // groups
    for g in range(groups):
        xs = patches[:, :, g * (c // groups):(g + 1) * (c // groups)]
        out.append(np.einsum("ijckl,ockl->oij", xs, w[g * per:(g + 1) * per], optimize=True))
    return np.concatenate(out) + b[:, None, None]


def _lrn(x, size=5, alpha=1e-4, beta=0.75, k=1.0):
    """Caffe ACROSS_CHANNELS: x_i / (k + alpha/size * sum_{|j-i|<=2} x_j^2)^beta."""
    sq = np.pad(x ** 2, ((size // 2, size // 2), (0, 0), (0, 0)))
    window = sum(sq[i:i + x.shape[0]] for i in range(size))
    return x / (k + alpha / size * window) ** beta


def _maxpool(x, k=3, s=2):
    c, h, _ = x.shape
    n = int(np.ceil((h - k) / s)) + 1                         # Caffe rounds up
    return np.stack([np.stack([x[:, i * s:i * s + k, j * s:j * s + k].max(axis=(1, 2))
                               for j in range(n)], -1) for i in range(n)], -2)


def reference_alexnet(image_rgb01: np.ndarray, blobs: dict) -> dict:
    """Caffe's forward pass of bvlc_alexnet on one RGB image in [0, 1] (3, 227, 227)."""
    relu = lambda a: np.maximum(a, 0)                                     # noqa: E731
    x = image_rgb01[::-1].astype(np.float64) * 255                        # BGR, 0-255
    x = x - np.asarray(CAFFE_MEAN_BGR)[:, None, None]
    p = {n: [a.astype(np.float64) for a in v] for n, v in blobs.items()}
    out = {}
    out["layer1"] = relu(_conv(x, *p["conv1"], stride=4))
    x = _maxpool(_lrn(out["layer1"]))
    out["layer2"] = relu(_conv(x, *p["conv2"], pad=2, groups=2))
    x = _maxpool(_lrn(out["layer2"]))
    out["layer3"] = relu(_conv(x, *p["conv3"], pad=1))
    out["layer4"] = relu(_conv(out["layer3"], *p["conv4"], pad=1, groups=2))
    out["layer5"] = relu(_conv(out["layer4"], *p["conv5"], pad=1, groups=2))
    x = _maxpool(out["layer5"]).reshape(-1)
    out["layer6"] = relu(p["fc6"][0] @ x + p["fc6"][1])
    out["layer7"] = relu(p["fc7"][0] @ out["layer6"] + p["fc7"][1])
    out["layer8"] = p["fc8"][0] @ out["layer7"] + p["fc8"][1]
    return out


@pytest.fixture(scope="module")
def caffemodels(tmp_path_factory):
    blobs = random_alexnet_blobs()
    folder = tmp_path_factory.mktemp("caffe")
    paths = {"current": folder / "bvlc_alexnet.caffemodel",
             "legacy": folder / "bvlc_alexnet_v1.caffemodel"}
    write_caffemodel(paths["current"], blobs)
    write_caffemodel(paths["legacy"], blobs, legacy=True)
    return blobs, paths


@pytest.mark.parametrize("fmt", ["current", "legacy"])
def test_reader_returns_every_learned_blob_in_both_formats(caffemodels, fmt):
    blobs, paths = caffemodels
    found = read_caffemodel(paths[fmt])
    assert sorted(found) == sorted(CAFFE_ALEXNET_SHAPES)
    for name, (w, b) in blobs.items():
        assert found[name][0].size == w.size and found[name][1].size == b.size
        np.testing.assert_array_equal(found[name][0].reshape(w.shape), w)
        np.testing.assert_array_equal(found[name][1].reshape(b.shape), b)
    if fmt == "current":
        assert found["fc6"][0].shape == (4096, 9216)
    else:
        assert found["fc6"][0].shape == (1, 1, 4096, 9216)   # V1 stores 4-D blobs


@pytest.mark.parametrize("fmt", ["current", "legacy"])
def test_model_matches_an_independent_computation(caffemodels, fmt, monkeypatch):
    from advlib.cnn.features import extract_features
    from advlib.cnn.models import load_model

    blobs, paths = caffemodels
    monkeypatch.setenv("ADVLIB_CAFFE_ALEXNET", str(paths[fmt]))
    model = load_model("alexnet_caffe", device="cpu")
    assert model.input_size == 227 and model.paper_names["layer1"] == "conv1"
    image = np.random.default_rng(1).uniform(0, 1, (1, 3, 227, 227)).astype(np.float32)
    feats = extract_features(model, image, layers=model.layers)
    expected_shapes = {"layer1": (96, 55, 55), "layer2": (256, 27, 27), "layer3": (384, 13, 13),
                       "layer4": (384, 13, 13), "layer5": (256, 13, 13), "layer6": (4096,),
                       "layer7": (4096,), "layer8": (1000,)}
    ref = reference_alexnet(image[0], blobs)
    for layer, shape in expected_shapes.items():
        got = np.asarray(feats[layer][0])
        assert got.size == int(np.prod(shape)), layer
        want = ref[layer].reshape(-1)
        np.testing.assert_allclose(got.reshape(-1), want, rtol=2e-3,
                                   atol=2e-3 * np.abs(want).max(), err_msg=layer)
    with torch.no_grad():
        logits = model(torch.from_numpy(image)).numpy()[0]
    np.testing.assert_allclose(logits, ref["layer8"], rtol=2e-3,
                               atol=2e-3 * np.abs(ref["layer8"]).max())


def test_missing_weights_say_where_to_put_the_file(monkeypatch, tmp_path):
    from advlib.cnn.models import load_model

    monkeypatch.delenv("ADVLIB_CAFFE_ALEXNET", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(WeightsNotFoundError, match=r"bvlc_alexnet\.caffemodel.*ADVLIB_CAFFE_"
                                                   r"ALEXNET"):
        load_model("alexnet_caffe", device="cpu")


def test_bad_files_are_named_with_what_was_found(tmp_path, caffemodels):
    blobs, _ = caffemodels
    truncated = tmp_path / "truncated.caffemodel"
    write_caffemodel(truncated, {"conv1": blobs["conv1"]})
    truncated.write_bytes(truncated.read_bytes()[:-100])
    with pytest.raises(WeightsNotFoundError, match="found bytes that do not parse.*truncated"):
        read_caffemodel(truncated)
    text = tmp_path / "notes.caffemodel"
    text.write_text("this is not a caffemodel\n" * 10)
    with pytest.raises(WeightsNotFoundError, match="caffemodel"):
        read_caffemodel(text)
    empty = tmp_path / "empty.caffemodel"
    empty.write_bytes(b"")
    with pytest.raises(WeightsNotFoundError, match="expected a non-empty .caffemodel"):
        read_caffemodel(empty)


def test_another_network_is_refused_with_its_layers_and_shapes(tmp_path, monkeypatch):
    from advlib.cnn.caffe import load_caffe_alexnet

    rng = np.random.default_rng(0)
    other = tmp_path / "googlenet.caffemodel"
    write_caffemodel(other, {"conv1/7x7_s2": [rng.standard_normal((64, 3, 7, 7)),
                                              rng.standard_normal(64)]},
                     layers=[("conv1/7x7_s2", "Convolution")])
    with pytest.raises(WeightsNotFoundError, match=r"found layers conv1/7x7_s2; expected the "
                                                   r"learned layers of bvlc_alexnet"):
        load_caffe_alexnet(other)
    small = {n: [np.zeros(w, np.float32), np.zeros(b, np.float32)]
             for n, (w, b) in CAFFE_ALEXNET_SHAPES.items() if n not in ("fc6", "fc7", "fc8")}
    small.update({n: [np.zeros((10, 10), np.float32), np.zeros(10, np.float32)]
                  for n in ("fc6", "fc7", "fc8")})
    wrong = tmp_path / "wrong.caffemodel"
    write_caffemodel(wrong, small)
    with pytest.raises(WeightsNotFoundError, match=r"found fc6 weights of shape \(10, 10\); "
                                                   r"expected shape \(4096, 9216\)"):
        load_caffe_alexnet(wrong)
