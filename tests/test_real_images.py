"""AI and AN versions of an RDM dataset's images (advlib/analysis/real_images.py)."""
import numpy as np
import pytest

from advlib.analysis.real_images import hit_images, load_hit_images
from advlib.errors import AdvlibError


def test_hit_images_on_real_images(model, small_hit, tmp_path):
    """10 real images: AI pushed to classes no image has, 8-bit images, one AN image per
    class, written and read back."""
    made = hit_images(model, small_hit, tmp_path, max_steps=2, batch_size=5, progress=False)
    im = made.table
    assert len(im) == 10 and not set(im.ai_target) & set(im.re_class)
    assert (im.ai_steps <= 2).all() and (im.ai_linf > 0).all()
    for _, part in im.groupby("re_class"):                       # one AN image per class
        shared = made.images["AN"][part.index.to_numpy()]
        assert np.array_equal(shared, np.broadcast_to(shared[0], shared.shape))
    assert np.allclose(made.images["AI"] * 255, np.rint(made.images["AI"] * 255), atol=1e-4)
    back = load_hit_images(tmp_path, small_hit)
    for kind in ("RE", "AI", "AN"):
        np.testing.assert_allclose(back.images[kind], made.images[kind], atol=1e-6)
    with pytest.raises(AdvlibError, match="max_steps"):
        hit_images(model, small_hit, None, max_steps=0)
    # a stage read back is held to the class count too
    k = im.re_class.nunique()
    with pytest.raises(AdvlibError, match=rf"data_folder=.*at least {k + 1} classes "
                                          rf"\(these 10 fall in {k}\)"):
        hit_images(model, small_hit, tmp_path, max_steps=2, batch_size=5, progress=False,
                   min_classes=k + 1)


def test_too_few_classes_are_refused_before_the_optimisers_run(model, small_hit, tmp_path,
                                                               monkeypatch):
    """Images in fewer network classes than asked for (hit_adversarial asks for 4: its AN
    comparison is class by class) are refused once classified, before minutes of AI and AN
    optimisation, and nothing is written; the subset is named when there is one."""
    import advlib.cnn.adversarial as adversarial
    from advlib.analysis.real_images import _check_classes

    def never(*args, **kwargs):
        raise AssertionError("the optimiser ran")

    monkeypatch.setattr(adversarial, "generate_ai", never)
    with pytest.raises(AdvlibError, match=r"data_folder=.*at least 11 classes \(these 10"):
        hit_images(model, small_hit, tmp_path, max_steps=2, min_classes=11, progress=False)
    assert not list(tmp_path.iterdir())
    with pytest.raises(AdvlibError, match=r"subset='rand24'.*at least 4 classes \(these 5 "
                                          r"fall in 3\)"):
        _check_classes(np.array([1, 1, 2, 3, 3]), 4, "folder", "rand24")
    _check_classes(np.array([1, 2, 3, 4]), 4, "folder", None)
    with pytest.raises(AdvlibError, match="min_classes"):
        hit_images(model, small_hit, None, min_classes=0)
