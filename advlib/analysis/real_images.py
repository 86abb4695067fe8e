"""AI and AN versions of the images of a brain-RDM dataset, as a cached stage.

Its own module, so that the stage's code key (the modules it runs) holds the image
generation only: a change to the comparisons (:mod:`advlib.analysis.real_adversarial`)
does not make the images again.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import check_positive_int, check_probability, expect
from ..fmri.rdm_data import KRIEGESKORTE92, RDMData, load_rdm_data
from ..layout import HIT_IMAGES_ARRAYS, HIT_IMAGES_TABLE
from ..provenance import Stage

__all__ = ["SETS", "HIT_IMAGE_OUTPUTS", "HitImages", "hit_images", "load_hit_images"]

#: The image sets, in the paper's order.
SETS = ("RE", "AI", "AN")
#: What the hit_images stage writes.
HIT_IMAGE_OUTPUTS = (HIT_IMAGES_ARRAYS, HIT_IMAGES_TABLE)


@dataclass
class HitImages:
    """The regular images of an RDM dataset with their adversarial versions.

    Attributes
    ----------
    images : dict of str to numpy.ndarray, shape (n, 3, H, W), float32
        ``"RE"``, ``"AI"``, ``"AN"``: pixels in [0, 1] at the network's input size, in the
        RDMs' image order (an AN image is shared by the images of one class).
    table : pandas.DataFrame
        One row per image: ``file, category, re_class, re_name, re_p, ai_target,
        ai_target_name, ai_p, ai_steps, ai_converged, ai_l2, ai_linf, ai_psnr, an_p,
        an_steps, an_converged``.
    data : advlib.fmri.rdm_data.RDMData
        The brain RDMs and images they were made from (the subset's, for a subset).
    """

    images: dict
    table: pd.DataFrame
    data: RDMData


def hit_images(model, data_folder=KRIEGESKORTE92, results_dir=None, *, max_steps: int = 300,
               threshold: float = 0.99, seed: int = 0, batch_size: int = 8,
               subset: str | None = None, min_classes: int = 1, reuse: bool = True,
               progress: bool = True) -> HitImages:
    """AI and AN versions of an RDM dataset's images, as a cached stage.

    The AI target of each image is a seeded class that none of the images has
    (:func:`advlib.cnn.adversarial.choose_targets`); an AN image is made once per class
    (it starts from the mean image, so one class gives one image).

    Parameters
    ----------
    model : ModelWrapper
    data_folder : str or path
        :func:`advlib.fmri.rdm_data.load_rdm_data`'s folder (default the 92-image hIT data).
    results_dir : str or path, optional
        Where ``hit_images.npz`` (8-bit AI and AN images) and ``hit_images.csv`` go; nothing
        is written when ``None``.
    max_steps, threshold : int, float
        The optimisers' step budget and stopping rule (the book's stimuli: 300, 0.99).
    seed : int
        Chooses the AI targets.
    batch_size : int
        Images optimised together (each image's optimisation is its own; the batch only
        shares the passes). 8: on 2 CPU cores a forward and backward pass of
        efficientnet_lite0 costs about 36 ms per image in batches of 8 to 16 and 62 ms in
        a batch of 46, whose activations no longer fit the caches.
    subset : str, optional
        Only the images of this 0/1 column of ``stimuli.csv``
        (:func:`advlib.fmri.rdm_data.load_rdm_data`).
    min_classes : int
        Refuse images that the network places in fewer classes, right after classifying
        them (before the optimisers' minutes): a comparison of the AN images class by class
        needs :data:`advlib.analysis.rsa.MIN_RSA_IMAGES` classes
        (:func:`advlib.analysis.real_adversarial.hit_adversarial` asks for them). Checked on
        a stage read back too.
    reuse : bool
        Read the images back when the stage is up to date.
    progress : bool

    Returns
    -------
    HitImages
    """
    check_positive_int(max_steps, "max_steps")
    check_positive_int(batch_size, "batch_size")
    check_probability(threshold, "threshold", low_open=True, high_open=True)
    check_positive_int(min_classes, "min_classes")
    data = load_rdm_data(data_folder, subset)
    params = {"model": model.name, "weights_sha256": model.weights_sha256,
              "max_steps": max_steps, "threshold": threshold, "seed": seed,
              "batch_size": batch_size, "subset": subset}
    stage = None
    if results_dir is not None:
        stage = Stage("hit_images", Path(results_dir), list(HIT_IMAGE_OUTPUTS), params,
                      inputs=data.input_files(),
                      code=["advlib.analysis.real_images"])
        if reuse and stage.up_to_date():
            made = load_hit_images(results_dir, data_folder, subset)
            _check_classes(made.table.re_class.to_numpy(), min_classes, data_folder, subset)
            return made
    # the network's modules (torch) here, not above: a page that finds the stage made does
    # not import them
    from ..cnn.adversarial import choose_targets, generate_ai, generate_an, image_distances
    from ..cnn.images import class_probabilities, read_images

    re = read_images(data.images.path, model.input_size)
    probs = class_probabilities(model, re, batch_size)
    classes, p_re = probs.argmax(1), probs.max(1)
    _check_classes(classes, min_classes, data_folder, subset)
    targets = choose_targets(classes, seed, exclude=classes)
    ai = generate_ai(model, re, targets, max_steps=max_steps, threshold=threshold,
                     batch_size=batch_size, progress=progress)
    unique = np.unique(classes)
    an = generate_an(model, unique, max_steps=max_steps, threshold=threshold,
                     batch_size=batch_size, progress=progress)
    which = np.searchsorted(unique, classes)
    dist = image_distances(ai.images, re)
    names = model.categories
    table = pd.DataFrame({
        "file": data.images.file, "category": data.images.category, "re_class": classes,
        "re_name": [names[c] for c in classes], "re_p": p_re, "ai_target": targets,
        "ai_target_name": [names[c] for c in targets], "ai_p": ai.p_target,
        "ai_steps": ai.n_steps, "ai_converged": ai.converged, "ai_l2": dist["l2"],
        "ai_linf": dist["linf"], "ai_psnr": dist["psnr"], "an_p": an.p_target[which],
        "an_steps": an.n_steps[which], "an_converged": an.converged[which]})
    images = {"RE": re, "AI": ai.images, "AN": an.images[which]}
    if stage is not None:
        def write(tmp: Path) -> None:
            with open(tmp / HIT_IMAGES_ARRAYS, "wb") as handle:
                np.savez_compressed(handle, **{k: np.rint(images[k] * 255).astype(np.uint8)
                                               for k in ("AI", "AN")})
            table.to_csv(tmp / HIT_IMAGES_TABLE, index=False)
        stage.run(write, data=str(data.folder), model=model.provenance(),
                  optimiser={"AI": ai.params, "AN": an.params})
    return HitImages(images, table, data)


def _check_classes(classes, min_classes: int, data_folder, subset) -> None:
    """Refuse images that the network places in fewer than ``min_classes`` classes, naming
    the subset (or the folder) that holds them."""
    k = len(np.unique(classes))
    name, value = ("subset", subset) if subset is not None else ("data_folder", str(data_folder))
    expect(k >= min_classes, name, value,
           f"images that the network places in at least {min_classes} classes (these "
           f"{len(classes)} fall in {k}): the AN images of one class are one image, and "
           f"the AN images are compared class by class")


def load_hit_images(results_dir, data_folder=KRIEGESKORTE92,
                    subset: str | None = None) -> HitImages:
    """The :class:`HitImages` a :func:`hit_images` stage wrote (RE read from the data;
    ``subset`` as the stage was given it)."""
    from ..cnn.images import read_images

    results_dir = Path(results_dir)
    missing = [o for o in HIT_IMAGE_OUTPUTS if not (results_dir / o).is_file()]
    expect(not missing, "results_dir", str(results_dir), f"the outputs of hit_images "
           f"({missing} missing: run `advlib reproduce`)")
    table = pd.read_csv(results_dir / HIT_IMAGES_TABLE)
    with np.load(results_dir / HIT_IMAGES_ARRAYS) as saved:
        images = {k: saved[k].astype(np.float32) / 255 for k in ("AI", "AN")}
    data = load_rdm_data(data_folder, subset)
    expect(list(data.images.file) == list(table.file), "results_dir", str(results_dir),
           f"images made from {data.folder}'s images in its order, with subset={subset!r} "
           "(the subset the hit_images stage was given)")
    images["RE"] = read_images(data.images.path, images["AI"].shape[-1])
    return HitImages({k: images[k] for k in SETS}, table, data)
