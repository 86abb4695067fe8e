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
