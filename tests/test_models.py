import hashlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from advlib.cnn import ALEXNET_WEIGHTS_ENV, LAYERS, extract_features, load_model
from advlib.errors import AdvlibError, ModelError, WeightsNotFoundError
from advlib.provenance import file_sha256

EFFNET_UNITS = {"layer1": 32 * 112 * 112, "layer2": 24 * 56 * 56, "layer3": 40 * 28 * 28,
                "layer4": 80 * 14 * 14, "layer5": 112 * 14 * 14, "layer6": 192 * 7 * 7,
                "layer7": 1280, "layer8": 1000}
ALEXNET_UNITS = {"layer1": 64 * 55 * 55, "layer2": 192 * 27 * 27, "layer3": 384 * 13 * 13,
                 "layer4": 256 * 13 * 13, "layer5": 256 * 13 * 13, "layer6": 4096,
                 "layer7": 4096, "layer8": 1000}


def test_efficientnet_layers_shapes_and_metadata(model):
    assert model.layers == list(LAYERS)
    assert len(model.categories) == 1000 and model.categories[1] == "goldfish"
    assert len(model.weights_sha256) == 64
    feats = extract_features(model, torch.rand(2, 3, 224, 224))
    assert {k: v.shape[1] for k, v in feats.items()} == EFFNET_UNITS
    assert all(v.dtype.name == "float32" and v.shape[0] == 2 for v in feats.values())


def test_alexnet_layers_shapes(alexnet_random):
    assert alexnet_random.weights_sha256 == "random-init"
    assert alexnet_random.paper_names["layer1"] == "conv1"
    feats = extract_features(alexnet_random, torch.rand(3, 3, 224, 224))
    assert {k: v.shape[1] for k, v in feats.items()} == ALEXNET_UNITS


def test_normalization_happens_inside_the_wrapper(model):
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        expected = model.net((x - 0.5) / 0.5)
        assert torch.allclose(model(x), expected)
        assert not torch.allclose(model(x), model.net(x), atol=1e-3)


def test_unknown_model_names_the_value():
    with pytest.raises(ModelError, match=r"model='resnet9000': expected one of "
                                         r"alexnet, alexnet_caffe, efficientnet_lite0"):
        load_model("resnet9000")


def test_unknown_layer_names_the_value(model):
    with pytest.raises(ModelError, match=r"layer='layer9': expected one of layer1"):
        model.module_for("layer9")


def test_bad_device_is_a_clear_error():
    with pytest.raises(AdvlibError, match="device='gpu0'"):
        load_model("efficientnet_lite0", device="gpu0")


def _alexnet_file(tmp_path):
    from torchvision.models import alexnet

    torch.manual_seed(3)
    net = alexnet(weights=None)
    path = tmp_path / "alexnet-owt-7be5be79.pth"
    torch.save(net.state_dict(), path)
    return net, path


def test_alexnet_weights_from_env_file_offline(tmp_path, monkeypatch, no_network):
    net, path = _alexnet_file(tmp_path)
    monkeypatch.setenv(ALEXNET_WEIGHTS_ENV, str(path))
    loaded = load_model("alexnet", device="cpu")
    assert loaded.weights_sha256 == file_sha256(path)
    assert loaded.weights_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert torch.equal(loaded.net.features[0].weight, net.features[0].weight)


def test_alexnet_weights_from_hub_cache_offline(tmp_path, monkeypatch, no_network):
    monkeypatch.delenv(ALEXNET_WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    net, path = _alexnet_file(tmp_path / "hub" / "checkpoints")
    loaded = load_model("alexnet", device="cpu")
    assert torch.equal(loaded.net.classifier[6].bias, net.classifier[6].bias)


def test_alexnet_offline_without_weights_is_a_clear_error(tmp_path, monkeypatch, no_network):
    monkeypatch.delenv(ALEXNET_WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(WeightsNotFoundError) as info:
        load_model("alexnet")
    message = str(info.value)
    assert "alexnet-owt-7be5be79.pth" in message
    assert str(tmp_path / "hub" / "checkpoints") in message
    assert ALEXNET_WEIGHTS_ENV in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_alexnet_env_file_missing_or_corrupt(tmp_path, monkeypatch):
    monkeypatch.setenv(ALEXNET_WEIGHTS_ENV, str(tmp_path / "nope.pth"))
    with pytest.raises(WeightsNotFoundError, match="ADVLIB_ALEXNET_WEIGHTS=.*nope.pth"):
        load_model("alexnet")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a state dict")
    monkeypatch.setenv(ALEXNET_WEIGHTS_ENV, str(bad))
    with pytest.raises(WeightsNotFoundError, match="expected a torchvision AlexNet state dict"):
        load_model("alexnet")


def test_check_weights_finds_what_building_would_miss_without_building(tmp_path, monkeypatch,
                                                                      no_network):
    """check_weights gives the builders' own messages for missing files, reads nothing it
    finds, and leaves torchvision's AlexNet without a local file to its download."""
    from advlib.cnn import check_weights
    from advlib.errors import InputError

    with pytest.raises(InputError, match="model='vgg': expected one of"):
        check_weights("vgg")
    check_weights("efficientnet_lite0")                        # embedded in a package
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.delenv("ADVLIB_CAFFE_ALEXNET", raising=False)
    with pytest.raises(WeightsNotFoundError, match=r"weights bvlc_alexnet\.caffemodel are not "
                                                   r"at .*hub/checkpoints"):
        check_weights("alexnet_caffe")
    unreadable = tmp_path / "bvlc_alexnet.caffemodel"
    unreadable.write_bytes(b"not a caffemodel")
    monkeypatch.setenv("ADVLIB_CAFFE_ALEXNET", str(unreadable))
    check_weights("alexnet_caffe")                             # there: read when built
    monkeypatch.delenv(ALEXNET_WEIGHTS_ENV, raising=False)
    check_weights("alexnet")                                   # may still be downloaded
    monkeypatch.setenv(ALEXNET_WEIGHTS_ENV, str(tmp_path / "nope.pth"))
    with pytest.raises(WeightsNotFoundError, match="ADVLIB_ALEXNET_WEIGHTS=.*nope.pth"):
        check_weights("alexnet")


def test_caffe_alexnet_random_init_has_the_papers_layer_shapes():
    """Shapes of bvlc_alexnet's readouts (paper layers 1-8) on 227 x 227 input."""
    model = load_model("alexnet_caffe", device="cpu", pretrained=False)
    assert model.weights_sha256 == "random-init" and model.input_size == 227
    shapes = {}
    hooks = [model.module_for(layer).register_forward_hook(
        lambda m, i, o, layer=layer: shapes.__setitem__(layer, tuple(o.shape[1:])))
        for layer in model.layers]
    feats = extract_features(model, torch.rand(2, 3, 227, 227))
    for h in hooks:
        h.remove()
    assert {k: v.shape[1] for k, v in feats.items()} == {
        k: int(np.prod(s)) for k, s in shapes.items()}
    assert shapes == {"layer1": (96, 55, 55), "layer2": (256, 27, 27), "layer3": (384, 13, 13),
                      "layer4": (384, 13, 13), "layer5": (256, 13, 13), "layer6": (4096,),
                      "layer7": (4096,), "layer8": (1000,)}


def test_lazy_model_answers_from_the_registry_and_builds_only_to_compute(model):
    """``load_model(lazy=True)``: the metadata a stage's up-to-date check reads are the
    built network's, without building it; a forward pass builds it once and gives the
    same numbers; anything else is the built network's."""
    from advlib.cnn import LazyModel, ModelWrapper

    lazy = load_model("efficientnet_lite0", device="cpu", lazy=True)
    assert isinstance(lazy, LazyModel)
    for attr in ("name", "weights_sha256", "layers", "paper_names", "readouts", "input_size"):
        assert getattr(lazy, attr) == getattr(model, attr), attr
    assert lazy.provenance() == model.provenance()
    assert lazy._model is None                      # nothing above built it
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        assert torch.equal(lazy(x), model(x))
    built = lazy._model
    assert built is not None and lazy.model is built
    assert lazy.categories == model.categories and lazy.module_for("layer2") is not None
    feats = extract_features(lazy, x, layers=["layer3"])
    np.testing.assert_array_equal(feats["layer3"], extract_features(model, x, ["layer3"])["layer3"])
    # random weights are built at once (nothing to checksum); a bad device fails at once
    assert isinstance(load_model("alexnet_caffe", pretrained=False, lazy=True), ModelWrapper)
    with pytest.raises(AdvlibError, match="device='gpu0'"):
        load_model("efficientnet_lite0", device="gpu0", lazy=True)


def test_lazy_model_of_missing_weights_is_the_same_clear_error(tmp_path, monkeypatch):
    from advlib.cnn import CAFFE_ALEXNET_ENV

    monkeypatch.setenv(CAFFE_ALEXNET_ENV, str(tmp_path / "none.caffemodel"))
    with pytest.raises(WeightsNotFoundError, match="bvlc_alexnet.caffemodel"):
        load_model("alexnet_caffe", lazy=True)


@pytest.mark.slow    # builds the network in a fresh process (5.6 s)
def test_naming_a_network_and_reading_what_it_made_import_no_torch():
    """A page whose results are made already names its network (a LazyModel) and reads the
    stages' tables: none of that imports torch (1.5 to 2 s of each such page's kernel), and
    the lazy network still pickles (for workers) and builds when it computes."""
    probe = ("import pickle, sys\n"
             "import advlib\n"
             "m = advlib.load_model('efficientnet_lite0', lazy=True)\n"
             "record = m.provenance()\n"
             "import advlib.analysis.calibration, advlib.analysis.cnn_analysis\n"
             "import advlib.analysis.encoding_study, advlib.book.summary, advlib.cnn.features\n"
             "assert 'torch' not in sys.modules, 'torch imported'\n"
             "import threading, advlib.cnn.models as models\n"
             "assert 'ModelWrapper' in dir(models)      # autodoc and pydoc list it\n"
             "made = []\n"
             "ts = [threading.Thread(target=lambda: made.append(models._model_wrapper()))\n"
             "      for _ in range(4)]\n"
             "[t.start() for t in ts]; [t.join() for t in ts]\n"
             "assert len({id(c) for c in made}) == 1     # one class, however many threads\n"
             "again = pickle.loads(pickle.dumps(m))\n"
             "assert again.provenance() == record\n"
             "from advlib.cnn.models import ModelWrapper\n"
             "assert 'torch' in sys.modules and isinstance(again.model, ModelWrapper)\n"
             "assert again.model.provenance() == record\n"
             "assert type(pickle.loads(pickle.dumps(again.model))) is ModelWrapper\n")
    subprocess.run([sys.executable, "-c", probe], check=True)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_provenance_keeps_the_normalization_of_a_buffer_of_any_float_dtype(dtype):
    """A network whose normalization buffers are half precision or bfloat16 (numpy has no
    bfloat16: ``.numpy()`` on it raised) gets the same float32 values in its record."""
    from advlib.cnn.models import _provenance

    mean = torch.tensor([0.5, 0.25, 0.125], dtype=dtype)
    rec = _provenance("net", "0" * 64, 224, {"layer1": "stem"}, mean, (1.0, 2.0, 3.0))
    assert rec["mean"] == [0.5, 0.25, 0.125] and rec["std"] == [1.0, 2.0, 3.0]
