import numpy as np
import pytest
import torch

from advlib.cnn import extract_features
from advlib.errors import InputError, ModelError


def test_final_layer_equals_plain_forward_pass(model):
    x = torch.rand(5, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    feats = extract_features(model, x, batch_size=5)  # same batch as the plain pass
    with torch.no_grad():
        logits = model(x).numpy()
    np.testing.assert_array_equal(feats["layer8"], logits)


def test_batch_size_does_not_change_features(model):
    x = np.random.default_rng(2).random((4, 3, 224, 224), dtype=np.float32)
    a = extract_features(model, x, layers=["layer2", "layer7"], batch_size=1)
    b = extract_features(model, x, layers=["layer2", "layer7"], batch_size=4)
    for layer in a:
        np.testing.assert_allclose(a[layer], b[layer], rtol=1e-4, atol=1e-4)


def test_alexnet_conv_readouts_match_manual_computation(alexnet_random):
    net = alexnet_random.net
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(4))
    feats = extract_features(alexnet_random, x, layers=["layer1", "layer2"])
    with torch.no_grad():
        z = (x - alexnet_random.mean) / alexnet_random.std
        conv1 = torch.relu(net.features[0](z))
        conv2 = torch.relu(net.features[3](net.features[2](conv1)))
    np.testing.assert_allclose(feats["layer1"], conv1.flatten(1).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(feats["layer2"], conv2.flatten(1).numpy(), rtol=1e-5, atol=1e-5)


def test_hooks_copy_outputs_before_inplace_relu(alexnet_random, monkeypatch):
    # Read the *pre-ReLU* conv1 output: the in-place ReLU that runs right after it would
    # zero the negative values of a recorded tensor that was not copied.
    monkeypatch.setitem(alexnet_random.readouts, "layer1", "features.0")
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(5))
    feats = extract_features(alexnet_random, x, layers=["layer1"])
    with torch.no_grad():
        z = (x - alexnet_random.mean) / alexnet_random.std
        conv1 = alexnet_random.net.features[0](z).flatten(1).numpy()
    assert (feats["layer1"] < 0).mean() > 0.1
    np.testing.assert_allclose(feats["layer1"], conv1, rtol=1e-5, atol=1e-5)


def test_hooks_are_removed_after_extraction(model):
    extract_features(model, torch.rand(1, 3, 224, 224), layers=["layer3"])
    assert not model.module_for("layer3")._forward_hooks


@pytest.mark.parametrize("images, pattern", [
    (np.zeros((2, 224, 224)), r"images.shape=\(2, 224, 224\): expected \(n, 3, H, W\)"),
    (np.zeros((2, 1, 224, 224)), r"images.shape=\(2, 1, 224, 224\)"),
    (np.full((1, 3, 8, 8), np.nan), "images='array with NaN or inf': expected finite"),
    (np.full((1, 3, 8, 8), 255.0), r"images range=\(255.0, 255.0\): expected pixels in \[0, 1\]"),
    ([[1, 2, 3]], "images='list': expected a numpy array or torch tensor"),
])
def test_bad_images_are_rejected(model, images, pattern):
    with pytest.raises(InputError, match=pattern):
        extract_features(model, images)


def test_bad_layer_and_batch_size(model):
    x = torch.rand(1, 3, 224, 224)
    with pytest.raises(ModelError, match="layer='fc7'"):
        extract_features(model, x, layers=["fc7"])
    with pytest.raises(InputError, match="batch_size=0: expected a positive integer"):
        extract_features(model, x, batch_size=0)
