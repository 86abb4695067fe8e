"""Selection of the regular (RE) images with the model, by the paper's criteria."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import (
    DesignShortfallError,
    StimulusError,
    check_positive_int,
    check_probability,
    expect,
)
from .images import class_probabilities, prepare_image, read_image

__all__ = ["SUPERCLASSES", "PAPER_SUPERCLASSES", "PAPER_N_PER_CLASS", "PAPER_CONFIDENCE",
           "select_regular", "design_record", "check_design", "design_text", "design_counts"]

#: The paper's design: 5 superclasses x 8 categories, one image each, P(true) > 0.99.
PAPER_SUPERCLASSES = ("dogs", "birds", "cars", "fruits", "aquatic animals")
PAPER_N_PER_CLASS = 8
PAPER_CONFIDENCE = 0.99

#: ImageNet class indices of the paper's five superclasses (the paper names the superclasses,
#: not their classes; these lists are this project's, documented on the differences page):
#:
#: * dogs: 151-268, every dog breed;
#: * birds: 7-24, 80-100, 127-146, every bird;
#: * cars: ImageNet's passenger cars, vans and light road vehicles (19 classes: ambulance,
#:   amphibian, beach wagon, cab, convertible, go-kart, golfcart, jeep, limousine, minibus,
#:   minivan, Model T, moving van, pickup, police van, racer, recreational vehicle, sports
#:   car, tow truck); buses, heavy trucks, fire engines and rail cars are left out;
#: * fruits: 948-957 (Granny Smith, strawberry, orange, lemon, fig, pineapple, banana,
#:   jackfruit, custard apple, pomegranate) and the three other fruits WordNet files under
#:   "fruit" in ImageNet-1k: acorn, hip (rose hip), buckeye (988-990);
#: * aquatic animals: fish 0-6 and 389-397, whales, dugong and sea lion 147-150.
SUPERCLASSES: dict[str, tuple[int, ...]] = {
    "dogs": tuple(range(151, 269)),
    "birds": tuple(range(7, 25)) + tuple(range(80, 101)) + tuple(range(127, 147)),
    "cars": (407, 408, 436, 468, 511, 573, 575, 609, 627, 654, 656, 661, 675, 717, 734, 751,
             757, 817, 864),
    "fruits": tuple(range(948, 958)) + (988, 989, 990),
    "aquatic animals": tuple(range(0, 7)) + tuple(range(389, 398)) + (147, 148, 149, 150),
}


def _superclass_of(label: int, superclasses) -> str | None:
    for name in superclasses:
        if label in SUPERCLASSES[name]:
            return name
    return None


def select_regular(model, sources, *, min_size: int = 227, aspect_range=(2 / 3, 1.5),
                   min_confidence: float | None = None, require_correct: bool = True,
                   superclasses=None, n_per_class: int | None = None,
                   n_images: int | None = None, batch_size: int = 16):
    """Select regular images by the paper's criteria.

    Criteria, in order: readable; width and height ``> min_size``; aspect ratio strictly
    inside ``aspect_range``; at most one image per ImageNet category (the paper used one
    image from each of 40 categories); classified correctly at top-1 (``require_correct``)
    and with ``P_true > min_confidence`` when given (0.99 in the paper); optionally only
    the five superclasses, ``n_per_class`` each; at most ``n_images`` in total.

    Parameters
    ----------
    model : ModelWrapper
    sources : list of ImageSource
    min_size : int
        Both sides must exceed this (227 in the paper).
    aspect_range : tuple of 2 floats
        Open interval for width / height.
    min_confidence : float, optional
        Required probability of the true class; ``None`` skips the criterion.
    require_correct : bool
        Require top-1 correct classification.
    superclasses : list of str, optional
        Names from :data:`SUPERCLASSES`; images outside them are skipped.
    n_per_class : int, optional
        Images per superclass (requires ``superclasses``).
    n_images : int, optional
        Keep the first ``n_images`` selected (in source order).
    batch_size : int
        Forward-pass batch size.

    Returns
    -------
    selected : pandas.DataFrame
        Columns ``source_path, true_label, superclass, note, predicted_label, p_predicted,
        p_true``; one row per selected image.
    images : numpy.ndarray, shape (n_selected, 3, S, S), float32
        The prepared images (``S = model.input_size``).
    skipped : pandas.DataFrame
        Columns ``source_path, true_label, reason``.
    """

    expect(len(sources) > 0, "sources", sources, "at least one candidate image")
    lo, hi = aspect_range
    expect(0 < lo < hi, "aspect_range", aspect_range, "(low, high) with 0 < low < high")
    if min_confidence is not None:
        check_probability(min_confidence, "min_confidence", high_open=True)
    if superclasses is not None:
        unknown = [s for s in superclasses if s not in SUPERCLASSES]
        expect(not unknown, "superclasses", unknown, f"names from {sorted(SUPERCLASSES)}")
    expect(n_per_class is None or (superclasses is not None and n_per_class >= 1),
           "n_per_class", n_per_class, "a positive integer together with superclasses")
    if n_images is not None:
        check_positive_int(n_images, "n_images")

    skipped, rows, arrays = [], [], []
    for src in sources:
        def skip(reason, src=src):
            skipped.append({"source_path": str(src.path), "true_label": src.label,
                            "reason": reason})
        if src.problem:
            skip(src.problem)
            continue
        try:
            img, note = read_image(src.path)
        except StimulusError as exc:
            skip(f"unreadable: {exc}")
            continue
        w, h = img.size
        if not (w > min_size and h > min_size):
            skip(f"too small: {w}x{h}, need both sides > {min_size}")
            continue
        if not (lo < w / h < hi):
            skip(f"aspect ratio {w / h:.3f} outside ({lo:.3f}, {hi:.3f})")
            continue
        superclass = _superclass_of(src.label, superclasses) if superclasses else None
        if superclasses and superclass is None:
            skip(f"class {src.label} not in superclasses {list(superclasses)}")
            continue
        rows.append({"source_path": str(src.path), "true_label": src.label,
                     "superclass": superclass or "", "note": note})
        arrays.append(prepare_image(img, model.input_size))
    if not rows:
        return (pd.DataFrame(columns=["source_path", "true_label", "superclass", "note",
                                      "predicted_label", "p_predicted", "p_true"]),
                np.zeros((0, 3, model.input_size, model.input_size), np.float32),
                pd.DataFrame(skipped, columns=["source_path", "true_label", "reason"]))
    images = np.stack(arrays)
    probs = class_probabilities(model, images, batch_size)
    keep, per_class, seen = [], {}, set()
    for i, row in enumerate(rows):
        pred = int(probs[i].argmax())
        p_true = float(probs[i, row["true_label"]])
        row.update(predicted_label=pred, p_predicted=float(probs[i, pred]), p_true=p_true)
        reason = None
        if require_correct and pred != row["true_label"]:
            reason = f"misclassified as {pred} (p={probs[i, pred]:.3f})"
        elif min_confidence is not None and not p_true > min_confidence:
            reason = f"confidence {p_true:.3f} not above {min_confidence}"
        elif row["true_label"] in seen:
            reason = f"second image of class {row['true_label']} (one image per category)"
        elif n_per_class is not None and per_class.get(row["superclass"], 0) >= n_per_class:
            reason = f"superclass {row['superclass']!r} already has {n_per_class} images"
        elif n_images is not None and len(keep) >= n_images:
            reason = f"beyond n_images={n_images}"
        if reason:
            skipped.append({"source_path": row["source_path"], "true_label": row["true_label"],
                            "reason": reason})
            continue
        per_class[row["superclass"]] = per_class.get(row["superclass"], 0) + 1
        seen.add(row["true_label"])
        keep.append(i)
    selected = pd.DataFrame([rows[i] for i in keep])
    return (selected.reset_index(drop=True), images[keep],
            pd.DataFrame(skipped, columns=["source_path", "true_label", "reason"]))


def design_record(selected: pd.DataFrame, *, superclasses=None, n_per_class=None,
                  n_images=None, min_confidence=None, allow_short: bool = False) -> dict:
    """What the design asked for, what the selection found, and whether it is the paper's.

    Parameters
    ----------
    selected : pandas.DataFrame
        From :func:`select_regular` (column ``superclass``).
    superclasses, n_per_class, n_images, min_confidence
        The selection's options (see :func:`select_regular`).
    allow_short : bool
        Whether a shortfall was accepted.

    Returns
    -------
    dict
        ``requested`` and ``found`` (superclass -> count; ``{"all": n}`` without
        superclasses; ``requested`` is None where the design asks for "all that qualify"),
        ``min_confidence``, ``n_found``, ``short`` (fewer found than requested),
        ``allow_short``, ``paper`` (the paper's full design: 5 x 8 at P > 0.99) and
        ``deviation`` (a sentence, or "" for the paper's design).
    """
    counts = selected.superclass.value_counts() if len(selected) else pd.Series(dtype=int)
    if superclasses:
        found = {name: int(counts.get(name, 0)) for name in superclasses}
        requested = ({name: int(n_per_class) for name in superclasses}
                     if n_per_class is not None else None)
    else:
        found = {"all": int(len(selected))}
        requested = {"all": int(n_images)} if n_images is not None else None
    short = requested is not None and any(found[k] < requested[k] for k in requested)
    paper = (list(superclasses or []) == list(PAPER_SUPERCLASSES)
             and n_per_class == PAPER_N_PER_CLASS and min_confidence is not None
             and float(min_confidence) >= PAPER_CONFIDENCE and not short)
    record = {"superclasses": list(superclasses) if superclasses else None,
              "requested": requested, "found": found,
              "min_confidence": None if min_confidence is None else float(min_confidence),
              "n_found": int(len(selected)), "short": bool(short),
              "allow_short": bool(allow_short), "paper": bool(paper)}
    record["deviation"] = "" if paper else _deviation(record)
    return record


def design_text(record: dict) -> str:
    """The counts of a design record: "dogs 0/8, birds 2/8, ... at P > 0.99"."""
    found, requested = record["found"], record["requested"] or {}
    parts = [f"{k} {v}/{requested[k]}" if k in requested else f"{k} {v}"
             for k, v in found.items()]
    threshold = record["min_confidence"]
    return ", ".join(parts) + (f" at P > {threshold:g}" if threshold is not None
                               else " (no confidence criterion)")


def _deviation(record: dict) -> str:
    what = []
    if record["superclasses"] is None:
        what.append(f"{record['n_found']} images, one per category, not the paper's 5 "
                    "superclasses x 8")
    elif list(record["superclasses"]) != list(PAPER_SUPERCLASSES) or record["requested"] is None \
            or any(v != PAPER_N_PER_CLASS for v in record["requested"].values()):
        what.append(f"superclasses {design_text(record)}, not the paper's "
                    f"{len(PAPER_SUPERCLASSES)} x {PAPER_N_PER_CLASS}")
    if record["short"]:
        what.append(f"short of the design ({design_text(record)}), accepted with allow_short")
    threshold = record["min_confidence"]
    if threshold is None or threshold < PAPER_CONFIDENCE:
        what.append("no confidence criterion" if threshold is None else
                    f"P > {threshold:g} instead of the paper's {PAPER_CONFIDENCE}")
    return "; ".join(what)


_REASONS = {"confidence": "confidence not above the threshold", "misclassified": "misclassified",
            "class": "outside the superclasses", "aspect": "aspect ratio",
            "too": "too small", "unreadable": "unreadable", "second": "second of a class",
            "superclass": "superclass full", "beyond": "beyond n_images"}


def _reason_counts(skipped: pd.DataFrame) -> str:
    """'outside the superclasses 840, confidence not above the threshold 150, ...'."""
    if skipped is None or len(skipped) == 0:
        return "none skipped"
    first = skipped.reason.astype(str).str.extract(r"^(\w+)")[0].map(_REASONS).fillna("other")
    return ", ".join(f"{k} {v}" for k, v in first.value_counts().items())


def check_design(record: dict, images: str, n_candidates: int,
                 skipped: pd.DataFrame | None = None) -> None:
    """Stop the stimulus stage when the selection falls short of the design (unless allowed).

    Parameters
    ----------
    record : dict
        From :func:`design_record`.
    images : str
        The image source (named in the message).
    n_candidates : int
        Source images considered.
    skipped : pandas.DataFrame, optional
        From :func:`select_regular`: the message counts the reasons.

    Raises
    ------
    DesignShortfallError
        Fewer images than requested in some superclass (or in total), and
        ``record["allow_short"]`` is false. The message gives the count per superclass,
        the threshold, and the ways out.
    """
    if not record["short"] or record["allow_short"]:
        return
    need = sum(record["requested"].values())
    threshold = record["min_confidence"]
    lower = ("--min-confidence 0.9 (make book MIN_CONFIDENCE=0.9)" if threshold is not None
             else "--no-require-correct")
    raise DesignShortfallError(
        f"stimuli: the design asks for {need} regular images and the selection found "
        f"{record['n_found']}: {design_text(record)} (from {n_candidates} images in "
        f"{images!r}; skipped: {_reason_counts(skipped)}). Ways out: a larger image folder "
        f"with more images of these classes; a lower threshold, {lower}; fewer per class "
        "(--n-per-class); or proceed with what was found (--allow-short; make book "
        "ALLOW_SHORT=1), which the book then reports as a deviation from the paper")


def design_counts(model, sources, thresholds=(0.99, 0.9, 0.5), *,
                  superclasses=PAPER_SUPERCLASSES, n_per_class: int = PAPER_N_PER_CLASS,
                  **criteria) -> pd.DataFrame:
    """How many images a folder gives the design at each confidence threshold.

    One forward pass over the candidates (:func:`select_regular` with no confidence
    criterion), then, per threshold, the images per superclass that are top-1 correct with
    ``P(true) >`` the threshold, one per category, capped at ``n_per_class``.

    Parameters
    ----------
    model : ModelWrapper
    sources : list of ImageSource
    thresholds : sequence of float
        Each in [0, 1).
    superclasses : sequence of str
    n_per_class : int
    **criteria
        Other :func:`select_regular` options (``min_size``, ``aspect_range``).

    Returns
    -------
    pandas.DataFrame
        One row per threshold: ``threshold``, one column per superclass (images found,
        capped), ``total``, ``requested`` and ``full`` (every superclass filled).
    """
    check_positive_int(n_per_class, "n_per_class")
    for t in thresholds:
        check_probability(t, "thresholds", high_open=True)
    selected, _, _ = select_regular(model, sources, superclasses=list(superclasses),
                                    min_confidence=None, **criteria)
    rows = []
    for t in thresholds:
        ok = selected[selected.p_true > t] if len(selected) else selected
        counts = {name: min(n_per_class, int((ok.superclass == name).sum())) if len(ok) else 0
                  for name in superclasses}
        rows.append({"threshold": float(t), **counts, "total": sum(counts.values()),
                     "requested": n_per_class * len(superclasses),
                     "full": all(v == n_per_class for v in counts.values())})
    return pd.DataFrame(rows)
