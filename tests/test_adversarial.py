import numpy as np
import pytest
import torch

from advlib.cnn import (
    IMAGENET_MEAN_RGB,
    choose_targets,
    generate_ai,
    generate_an,
    image_distances,
    imagenet_mean_image,
    load_stimulus_images,
    quantize,
)
from advlib.errors import InputError


def test_quantize_is_8bit_forward_and_identity_backward():
    x = torch.tensor([0.1234, 0.5, 0.9999], requires_grad=True)
    q = quantize(x)
    np.testing.assert_allclose(q.detach().numpy() * 255, np.round(x.detach().numpy() * 255))
    q.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(3))


def test_mean_image_is_uniform_imagenet_mean():
    img = imagenet_mean_image(16)
    assert img.shape == (3, 16, 16)
    np.testing.assert_allclose(img[:, 0, 0], IMAGENET_MEAN_RGB, atol=0.5 / 255)
    assert np.ptp(img, axis=(1, 2)).max() == 0


def test_choose_targets_seeded_and_outside_the_set():
    labels = np.array([1, 2, 3, 4])
    a = choose_targets(labels, seed=7)
    assert np.array_equal(a, choose_targets(labels, seed=7))
    assert not np.array_equal(a, choose_targets(labels, seed=8))
    many = choose_targets(np.arange(990), seed=0)
    assert set(many) <= set(range(990, 1000))


@pytest.mark.parametrize("labels, pattern", [
    ([5, 1000], r"labels=\[1000\]: expected class indices in 0..999"),
    ([-1], r"labels=\[-1\]: expected class indices in 0..999"),
    ([0.5], "labels=dtype.*expected integer class indices"),
    ([], r"labels.shape=\(0,\)"),
])
def test_bad_labels(model, labels, pattern):
    with pytest.raises(InputError, match=pattern):
        generate_an(model, labels, max_steps=1)


def test_bad_optimizer_settings(model):
    with pytest.raises(InputError, match="threshold=1.5: expected a probability"):
        generate_an(model, [1], threshold=1.5)
    with pytest.raises(InputError, match="targets='1 labels': expected one per image"):
        generate_ai(model, np.zeros((2, 3, 32, 32), np.float32), [1])


def test_image_distances_known_answers():
    a = np.zeros((2, 3, 4, 4))
    b = a.copy()
    b[0, 0, 0, 0] = 0.5
    b[1] = 0.25 + np.linspace(0, 0.5, 48).reshape(3, 4, 4)
    a[1] = 2 * (b[1] - 0.25)  # a linear function of b: r = 1
    d = image_distances(a, b)
    assert d["l2"][0] == pytest.approx(0.5) and d["linf"][0] == pytest.approx(0.5)
    assert d["psnr"][0] == pytest.approx(10 * np.log10(48 / 0.25))
    assert d["pixel_r"][1] == pytest.approx(1.0)
    assert np.isinf(image_distances(a, a)["psnr"]).all()


def test_image_distances_are_each_images_own_whatever_the_block():
    """Computed a few images at a time: every image gets the floats it gets alone, and the
    order of the images is kept (19 images: two full blocks and a partial one)."""
    rng = np.random.default_rng(3)
    a = rng.random((19, 3, 32, 32), dtype=np.float32)
    b = np.clip(a + rng.normal(0, 0.05, a.shape).astype(np.float32), 0, 1)
    b[4] = a[4]                                        # identical: PSNR inf
    d = image_distances(a, b)
    alone = [image_distances(a[i:i + 1], b[i:i + 1]) for i in range(len(a))]
    for key, values in d.items():
        assert values.shape == (19,)
        assert np.array_equal(values, np.concatenate([x[key] for x in alone])), key
    assert np.isinf(d["psnr"][4]) and np.isfinite(np.delete(d["psnr"], 4)).all()
    with pytest.raises(InputError, match=r"images.shape=\(19, 3, 32, 32\): expected the "
                                         r"shape of references \(18, 3, 32, 32\)"):
        image_distances(a, b[:18])
    for bad in (a[:0], a[0], a[:, :1]):                # no image; no image axis; 1 channel
        with pytest.raises(InputError, match=r"images.shape=\(.*\): expected \(n, 3, H, W\) "
                                             r"with n >= 1"):
            image_distances(bad, bad)


def test_embedded_set_reaches_threshold_for_two_images(model, stim_dir):
    """AN and AI images reach P >= 0.99 on the saved PNGs, for 2 embedded images."""
    re, re_rows = load_stimulus_images(stim_dir, "RE")
    for kind in ("AN", "AI"):
        images, rows = load_stimulus_images(stim_dir, kind)
        with torch.no_grad():
            probs = torch.softmax(model(torch.from_numpy(images)), 1).numpy()
        target = rows.target_label.to_numpy()
        assert (probs[np.arange(len(rows)), target] >= 0.99).all()
        assert (probs.argmax(1) == target).all()
        assert rows.converged.all()
    ai, ai_rows = load_stimulus_images(stim_dir, "AI")
    assert (ai_rows.target_label != ai_rows.true_label).all()
    assert (image_distances(ai, re)["psnr"] > 30).all()
    an, _ = load_stimulus_images(stim_dir, "AN")
    assert (np.abs(image_distances(an, re)["pixel_r"]) < 0.3).all()


def test_non_converged_images_are_flagged_not_accepted(model):
    result = generate_an(model, [1, 2], max_steps=1, threshold=0.999)
    assert not result.converged.any()
    assert (result.n_steps == 1).all() and (result.p_target < 0.999).all()
