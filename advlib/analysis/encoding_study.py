"""Encoding models trained on RE images, tested on AI and AN images (Fig 6, Fig S1).

For every subject and CNN layer, one encoder (:mod:`advlib.analysis.encoding`) is fitted on the
responses to the **regular** images of all selected vertices (all five ROIs in one
vectorized call), with the layer's activations to the same images as features. It then
predicts the responses to the AI and to the AN images from their activations, and the
predictions are compared with the measured responses, per ROI:

* **Pattern correlation** (Fig 6, ``r``): Pearson correlation over the ROI's (image,
  vertex) entries of predicted and measured responses after removing each vertex's mean
  over the test images (:func:`advlib.analysis.encoding.pattern_correlation_parts`). Responses are
  the betas averaged over the two presentations, as in the RSA.
* **Permutation test** (``p_perm``, one-sided): the measured images are shuffled against
  the predicted ones (``n_perm`` permutations, the same for AI and AN; within sessions by
  default); the null's mean and SD are kept for the power of "no transfer" claims.
* **95% CI**: the test images resampled with replacement ``n_boot`` times, centred on the
  estimate (``interval="subsample"``: the paper's 80% of vertices without replacement,
  with the spread scaled by the delete-d factor, which assumes independent vertices).
* **AI vs AN** (``p_diff``): the paired swap test (each image's AI and AN test responses,
  predicted and measured together, exchanged at random; two-sided). The paper's
  comparison of 80%-vertex bootstrap distributions, unscaled, rejected 33% of the time
  when AI and AN transfer equally well.

Fig S1 (layer assignment): the models are re-fitted on each presentation's RE betas
(with each vertex's sparsity level from the averaged fit) and tested on the same
presentation's AI or AN betas; each vertex is assigned the layer whose model gives the
highest correlation over images between its predicted and measured responses. The
proportions of vertices per ROI and layer form ``layer_assignment.csv``. The paper tests
them over its "six independent measurements" (subjects x presentations), but the two
presentations of a subject share its fit and its vertices: :func:`layer_assignment_tests`
tests over subjects.

:mod:`advlib.analysis.encoding` (torch) is imported inside the functions that fit or compare,
so that a page reading the tables this module made does not import torch.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import delayed
from scipy import stats
from tqdm.auto import tqdm

from ..cnn.features import stimulus_features
from ..cnn.stimulus_set import (
    check_stage_images,
    load_manifest,
    stimulus_files,
    usable_sources,
)
from ..errors import InputError, check_choice, check_fits, check_positive_int, expect
from ..fmri.data import (
    ROIS,
    check_pairing,
    choose_subjects,
    load_dataset_info,
    load_subject,
    subject_files,
)
from ..fmri.normalize import NORMALIZATIONS, normalize_subject
from ..fmri.selection import check_vertex_count, select_subject
from ..layout import ENCODERS, analysis_variant, encoding_name
from ..pool import worker_pool
from ..provenance import Stage
from .brain_analysis import (
    MIN_ROI_VERTICES,
    kind_patterns,
    read_table,
    source_sessions,
    swappable_sources,
)
from .stats import centred_interval, permutation_indices, rng_from, swap_indices

__all__ = ["ENCODING_COLUMNS", "ASSIGNMENT_COLUMNS", "S1_STATISTICS", "transfer_statistics",
           "encoding_analysis", "layer_table", "layer_assignment_tests", "layer_assignment_truth",
           "layer_assignment_comparison", "load_encoding_results"]

ENCODING_COLUMNS = ["subject", "roi", "layer", "test_kind", "r", "ci_low", "ci_high", "p_perm",
                    "p_diff", "n_vertices", "solver", "median_n_nonzero", "median_alpha",
                    "excluded", "null_mean", "null_sd", "n_perm", "n_swap", "interval"]
ASSIGNMENT_COLUMNS = ["subject", "presentation", "test_kind", "roi", "layer", "proportion",
                      "n_vertices", "mean_r"]
#: Fig S1 statistics: the paper's share of vertices best predicted by each layer, or the
#: layer's mean prediction accuracy over the ROI's vertices (see
#: :func:`layer_assignment_tests`).
S1_STATISTICS = ("share", "accuracy")


def _grams(predicted: dict, measured: dict, kinds) -> dict:
    """Image x image sums over vertices: ``G[(x, a, b)][i, j] = sum_v X_a[i, v] Y_b[j, v]``.

    ``x`` is ``"pm"`` (predicted with measured), ``"pp"`` or ``"mm"``; ``a, b`` are kinds.
    Every statistic of :func:`transfer_statistics` over any set of images drawn from the
    kinds (resampled, or with kinds swapped per image) is a quadratic form in these.
    """
    p = {k: np.asarray(predicted[k], dtype=np.float64) for k in kinds}
    m = {k: np.asarray(measured[k], dtype=np.float64) for k in kinds}
    out = {}
    for a in kinds:
        for b in kinds:
            out[("pm", a, b)] = p[a] @ m[b].T
            out[("pp", a, b)] = p[a] @ p[b].T
            out[("mm", a, b)] = m[a] @ m[b].T
    return out


def _centred_sum(grams: dict, x: str, mix: dict) -> np.ndarray:
    """Sum over vertices of centred products for image sets given as kind weights.

    ``mix[kind]`` is (n_sets, n_images): the weight of each image's ``kind`` version in
    each set (bootstrap counts, or 0/1 swap indicators). Returns, per set,
    ``sum_i w_i c_i - (1 / W) sum_ij w_i w_j G_ij`` summed over the kinds: the sum over
    vertices of the products after centring each vertex over the set's images.
    """
    kinds = list(mix)
    total = sum(mix[k].sum(axis=1) for k in kinds)
    linear = sum((mix[k] * np.diag(grams[(x, k, k)])[None, :]).sum(axis=1) for k in kinds)
    quad = sum(np.einsum("si,ij,sj->s", mix[a], grams[(x, a, b)], mix[b], optimize=True)
               for a in kinds for b in kinds)
    return linear - quad / total


def _standardised(x) -> np.ndarray:
    """(n_images, n_vertices): each vertex centred over the images, then one overall scale.

    The pooled pattern correlation of one kind does not change; a set that mixes kinds (the
    swap test) then weighs each kind alike, whatever the scale or offset of its responses
    or predictions (without it, AN predictions three times larger than AI's made the swap
    test reject 11% of the time where AI and AN transferred alike).
    """
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(0)
    scale = x.std()
    return x / scale if scale > 0 else x


def _set_r(grams: dict, mix: dict) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return _centred_sum(grams, "pm", mix) / np.sqrt(
            _centred_sum(grams, "pp", mix) * _centred_sum(grams, "mm", mix))


def transfer_statistics(predicted: dict, measured: dict, n_perm: int = 1000,
                        n_boot: int = 1000, n_swap: int = 1000, ci_level: float = 0.95,
                        seed=0, blocks=None, swappable=None,
                        interval: str = "images", fraction: float = 0.8) -> pd.DataFrame:
    """Fig 6 statistics of one ROI x layer: r, permutation p, interval, AI vs AN.

    Parameters
    ----------
    predicted, measured : dict
        ``kind -> (n_images, n_vertices)`` for the test kinds (``"AI"``, ``"AN"``), rows
        aligned by regular image.
    n_perm : int
        Permutations of the transfer test (measured image labels shuffled against the
        predicted ones; one-sided).
    n_boot : int
        Resamples behind the interval.
    n_swap : int
        Swap sets of the AI vs AN test: each image's AI and AN test responses, predicted
        and measured together, are exchanged at random (paired, exact under the null
        that the two kinds transfer alike; two-sided). The paper's 80%-vertex bootstrap
        without rescaling gave 33% false positives at alpha 0.05.
    ci_level : float
    seed : int or numpy.random.Generator
    blocks : array_like, shape (n_images,), optional
        Exchangeability blocks (each image's session): the permutation test shuffles image
        labels within blocks only.
    swappable : array_like of bool, shape (n_images,), optional
        Images whose AI and AN versions may be swapped (one session); default all.
    interval : {"images", "subsample"}
        The interval resamples the test images (default), or draws ``fraction`` of the
        vertices without replacement with the spread scaled by the delete-d factor
        ``sqrt(f / (1 - f))`` (independent vertices assumed).
    fraction : float

    Returns
    -------
    pandas.DataFrame
        One row per kind: ``test_kind, r, ci_low, ci_high, p_perm, null_mean, null_sd,
        p_diff`` (``p_diff`` is shared: AI vs AN, NaN unless both kinds are given).
    """
    kinds = list(predicted)
    expect(set(kinds) == set(measured), "measured", sorted(measured),
           f"the same kinds as predicted: {sorted(kinds)}")
    expect(0 < fraction < 1, "fraction", fraction, "a share of vertices in (0, 1)")
    check_choice(interval, "interval", ("images", "subsample"))
    for name, value in (("n_perm", n_perm), ("n_boot", n_boot), ("n_swap", n_swap)):
        check_positive_int(value, name)
    from .encoding import pattern_correlation_parts

    rng = rng_from(seed)
    parts = {k: pattern_correlation_parts(predicted[k], measured[k]) for k in kinds}
    # each kind standardised (vertices centred over its images, one scale per kind): its own
    # r is unchanged, and a swap set no longer weighs the kind of larger scale more
    grams = _grams({k: _standardised(predicted[k]) for k in kinds},
                   {k: _standardised(measured[k]) for k in kinds}, kinds)
    n_img, n_v = np.shape(predicted[kinds[0]])
    check_fits("n_perm", n_perm, 8.0 * n_perm * n_img * (2 + n_img),
               f"{n_perm} permutations of {n_img} images")
    check_fits("n_boot", n_boot, 16.0 * n_boot * max(n_img * n_img, n_v),
               f"{n_boot} resamples of {n_img} images x {n_v} vertices")
    check_fits("n_swap", n_swap, 24.0 * n_swap * n_img, f"{n_swap} swap sets of {n_img} images")
    # unrestricted: the draws of earlier versions; within blocks: permutation_indices
    perms = (np.argsort(rng.random((n_perm, n_img)), 1) if blocks is None
             else permutation_indices(n_img, n_perm, rng, blocks))
    if interval == "images":
        counts = rng.multinomial(n_img, np.full(n_img, 1.0 / n_img), size=n_boot).astype(float)
    else:
        size = max(2, int(round(fraction * n_v)))
        chosen = np.argsort(rng.random((n_boot, n_v)), 1)[:, :size]
        weights = np.zeros((n_boot, n_v))
        np.put_along_axis(weights, chosen, 1.0, 1)
    rows = []
    for k in kinds:
        pt = parts[k]
        r = float(pt["pm"].sum() / np.sqrt(pt["pp"].sum() * pt["mm"].sum()))
        null = pt["gram"][np.arange(n_img)[None, :], perms].sum(axis=1) / np.sqrt(
            pt["pp"].sum() * pt["mm"].sum())
        if interval == "images":
            reps = _set_r(grams, {k: counts})
            lo, hi = centred_interval(r, reps[np.isfinite(reps)], ci_level)
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                reps = (weights @ pt["pm"]) / np.sqrt((weights @ pt["pp"]) * (weights @ pt["mm"]))
            lo, hi = centred_interval(r, reps[np.isfinite(reps)], ci_level,
                                      np.sqrt(fraction / (1 - fraction)))
        rows.append({"test_kind": k, "r": r, "ci_low": lo, "ci_high": hi,
                     "p_perm": (1 + int((null >= r - 1e-12).sum())) / (1 + n_perm),
                     "null_mean": float(null.mean()), "null_sd": float(null.std(ddof=1))})
    table = pd.DataFrame(rows)
    table["p_diff"] = np.nan
    if {"AI", "AN"} <= set(kinds):
        flips = swap_indices(n_img, n_swap, rng, swappable).astype(float)
        flips = np.vstack([np.zeros((1, n_img)), flips])           # row 0: observed
        diff = (_set_r(grams, {"AI": 1 - flips, "AN": flips})
                - _set_r(grams, {"AI": flips, "AN": 1 - flips}))
        obs, null = diff[0], diff[1:]
        table["p_diff"] = (1 + np.count_nonzero(np.abs(null) >= abs(obs) - 1e-12)) / (1 + n_swap)
    return table


def _vertex_r(predicted: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """Correlation over images per vertex: (n_images, n_vertices) x 2 -> (n_vertices,)."""
    from .encoding import pattern_correlation_parts

    parts = pattern_correlation_parts(predicted, measured)
    with np.errstate(invalid="ignore", divide="ignore"):
        return parts["pm"] / np.sqrt(parts["pp"] * parts["mm"])


def _complexity(encoder) -> tuple[np.ndarray, np.ndarray]:
    """Per-target sparsity level (ROMP) or penalty (ridge); the other is NaN."""
    if hasattr(encoder, "n_nonzero_"):
        return np.asarray(encoder.n_nonzero_, float), None
    return None, np.asarray(encoder.alpha_, float)


def encoding_analysis(model, dataset_dir, stim_dir, out_dir=None, *, solver: str = "romp",
                      n_nonzero="cv", grid=(1, 2, 4, 8), n_folds: int = 5,
                      n_vertices: int = 200, n_perm: int = 1000, n_boot: int = 1000,
                      ci_level: float = 0.95, seed: int = 0, subjects=None,
                      layers=None, radius: float = 3.0, features_cache=None,
                      only_converged: bool = True, device=None, progress: bool = True,
                      jobs: int = 1, reuse: bool = True, normalize: str = "center",
                      within_session: bool = True, n_swap: int = 1000,
                      interval: str = "images"):
    """Encoding models per subject x ROI x layer (Fig 6) and the layer assignment (Fig S1).

    Parameters
    ----------
    model : ModelWrapper
        The network whose activations are the features (and that made the AN/AI images).
    dataset_dir : str or path
        Dataset in the documented format (simulated or real).
    stim_dir : str or path
        Stimulus set the subjects saw.
    out_dir : str or path, optional
        Receives ``encoding.csv`` (:data:`ENCODING_COLUMNS`), ``layer_assignment.csv``
        (:data:`ASSIGNMENT_COLUMNS`) and ``encoding_provenance.json``
        (``encoding_ridge.csv`` etc. for ``solver="ridge"``).
    solver : {"romp", "ridge"}
    n_nonzero : int or "cv"
        ROMP sparsity level, or chosen per vertex by ``n_folds``-fold CV over ``grid``
        on the RE images.
    grid, n_folds
    n_vertices : int
        Selected vertices per ROI (both hemispheres).
    n_perm, n_boot : int
    ci_level : float
    seed : int
    subjects : list of str or "all", optional
    layers : list of str, optional
        Default: all of the model's layers.
    radius : float
        Selection disk radius (mm).
    features_cache : str or path, optional
        Feature cache folder (as :func:`advlib.cnn.stimulus_features`).
    only_converged : bool
    device : str, optional
        Torch device for ROMP (e.g. ``"cuda"``).
    progress : bool
    jobs : int
        Subjects fitted in parallel (joblib; the numbers do not depend on it).
    reuse : bool
        Return the tables in ``out_dir`` instead of recomputing when they were made with the
        same parameters, model weights, stimulus manifest and subject files.
    normalize : {"center", "zscore", "none"}
        Per-vertex normalisation of the betas within each session before selection and
        fitting (:mod:`advlib.fmri.normalize`; ``"none"``: as published).
    within_session : bool
        The transfer permutation test shuffles image labels within sessions only; ``False``:
        across sessions, as published. The variant's tables get its name
        (:func:`advlib.layout.analysis_variant`).
    n_swap : int
        Swap sets of the AI vs AN test (:func:`transfer_statistics`).
    interval : {"images", "subsample"}
        Resampling behind the 95% intervals (:func:`transfer_statistics`).

    Returns
    -------
    table : pandas.DataFrame
        One row per subject x ROI x layer x test kind.
    assignment : pandas.DataFrame
        Proportion of each ROI's vertices best predicted by each layer.
    """
    expect(solver in ENCODERS, "solver", solver, f"one of {', '.join(ENCODERS)}")
    check_vertex_count(n_vertices)
    manifest = load_manifest(stim_dir)
    check_pairing(dataset_dir, stim_dir)
    all_sources = sorted(manifest.source_id.unique())
    sources = usable_sources(manifest, only_converged)
    check_positive_int(n_folds, "n_folds")
    check_stage_images("encoding", len(sources), max(4, n_folds),
                       f"{n_folds}-fold cross-validation over the regular images, and at "
                       "least 4 test images for the transfer statistics")
    rows_idx = [all_sources.index(s) for s in sources]
    layers = list(model.layers if layers is None else layers)
    names = choose_subjects(dataset_dir, subjects)
    params = {**_fit_params(solver, n_nonzero, grid, n_folds, n_vertices, radius, seed,
                            normalize, names, only_converged),
              "n_perm": n_perm, "n_boot": n_boot, "ci_level": ci_level, "layers": layers,
              "train": "RE (presentations averaged)",
              "interval": check_choice(interval, "interval", ("images", "subsample")),
              "n_swap": check_positive_int(n_swap, "n_swap"),
              "within_session": bool(within_session)}
    stage = None
    if out_dir is not None:
        out_dir = Path(out_dir)
        variant = analysis_variant(normalize, within_session)
        outputs = [encoding_name(solver, "encoding", variant),
                   encoding_name(solver, "layer_assignment", variant)]
        stage = Stage(Path(outputs[0]).stem, out_dir, outputs,
                      {**params, "model": model.name, "weights": model.weights_sha256},
                      inputs=stimulus_files(stim_dir) + subject_files(dataset_dir, names),
                      code=["advlib.analysis.encoding_study"])
        if reuse and stage.up_to_date():
            return tuple(read_table(p) for p in stage.output_paths())
    feats = stimulus_features(model, stim_dir, cache_dir=features_cache, layers=layers,
                              progress=progress)
    for kind in ("RE", "AI", "AN"):
        for layer in layers:
            got = feats[kind][layer].shape[0]
            expect(got == len(all_sources), f"features[{kind!r}][{layer!r}]", f"{got} rows",
                   f"{len(all_sources)} (one per regular image of the stimulus set)", InputError)
    romp_opts = {"device": device} if solver == "romp" and device else {}
    options = dict(n_nonzero=n_nonzero, grid=grid, n_folds=n_folds, **romp_opts) \
        if solver == "romp" else dict(n_folds=n_folds)
    seeds = np.random.SeedSequence(seed).spawn(len(names))
    prepared = list(worker_pool(jobs)(
        delayed(_prepare_subject)(Path(dataset_dir) / name, manifest, sources, radius=radius,
                                  n_vertices=n_vertices, normalize=normalize,
                                  within_session=within_session) for name in names))
    layer_seeds = [ss.spawn(len(layers)) for ss in seeds]      # as one subject's loop spawned
    fits = _by_unit(jobs, feats, rows_idx, layers, prepared, f"encoding ({solver})", progress,
                    lambda si, li, X: delayed(_layer_encoding)(
                        prepared[si], X, layers[li], layer_seeds[si][li], solver=solver,
                        options=options, seed=seed, n_perm=n_perm, n_boot=n_boot,
                        ci_level=ci_level, n_swap=n_swap, interval=interval))
    rows, assign = [], []
    for si, sub in enumerate(prepared):
        best = {}                        # (presentation, kind) -> per-layer vertex r
        for li in range(len(layers)):
            layer_rows, layer_best = fits[si, li]
            rows += layer_rows
            for key, r in layer_best.items():
                best.setdefault(key, []).append(r)
        for (p, k), per_layer in best.items():
            assign += _assignment_rows(sub["name"], p, k, per_layer, sub["roi_of"], layers)
    table = pd.concat(rows, ignore_index=True)[ENCODING_COLUMNS] if rows else \
        pd.DataFrame(columns=ENCODING_COLUMNS)
    assignment = pd.DataFrame(assign, columns=ASSIGNMENT_COLUMNS)
    if stage is not None:
        def write(tmp: Path) -> None:
            table.to_csv(tmp / outputs[0], index=False)
            assignment.to_csv(tmp / outputs[1], index=False)
        stage.run(write, model=model.provenance(), dataset=load_dataset_info(dataset_dir),
                  images_used=sources, stimuli=str(Path(stim_dir).resolve()))
    return table, assignment


def _fit_params(solver, n_nonzero, grid, n_folds, n_vertices, radius, seed, normalize, names,
                only_converged) -> dict:
    """The encoders' part of a stage's parameters, as :func:`encoding_analysis` and
    :func:`layer_assignment_truth` record it (``normalize`` checked)."""
    return {"solver": solver, "n_nonzero": n_nonzero if isinstance(n_nonzero, str)
            else int(n_nonzero), "grid": [int(g) for g in grid], "n_folds": n_folds,
            "n_vertices": n_vertices, "radius": radius, "seed": seed,
            "normalize": check_choice(normalize, "normalize", NORMALIZATIONS),
            "subjects": names, "only_converged": only_converged}


def _by_unit(jobs, feats, rows_idx, layers, prepared, desc, progress, job) -> dict:
    """Run ``job(subject index, layer index, X)`` for every subject x layer on ``jobs``
    processes, the layers with the most units first (the units then share the processes
    evenly; a subject per process left one idle for a third of the time with 3 subjects on
    2). ``X``: the layer's RE, AI and AN features of the images used.

    Returns
    -------
    dict
        ``(subject index, layer index) -> job's result``.
    """
    order = sorted(range(len(layers)), key=lambda li: -np.shape(feats["RE"][layers[li]])[1])
    units = [(si, li) for li in order for si in range(len(prepared))]

    def tasks():        # one layer's features sliced at a time, as its units are dispatched
        for li in order:
            X = {k: feats[k][layers[li]][rows_idx] for k in ("RE", "AI", "AN")}
            yield from (job(si, li, X) for si in range(len(prepared)))

    work = worker_pool(jobs, return_as="generator")(tasks())
    return dict(zip(units, tqdm(work, total=len(units), desc=desc, disable=not progress)))


def _prepare_subject(folder: Path, manifest, sources, *, radius, n_vertices, normalize,
                     within_session) -> dict:
    """One subject's selection and patterns, what each of its layers' fits reads."""
    subject = normalize_subject(load_subject(folder, manifest=manifest), normalize)
    name = subject.name
    _, selection, _ = select_subject(subject, radius, n_vertices // 2)
    roi_of = selection.roi.to_numpy()
    for roi in ROIS:
        got = int((roi_of == roi).sum())
        if got < n_vertices:
            warnings.warn(f"{name} {roi}: {got} vertices selected, {n_vertices} asked "
                          "(all available were used)", RuntimeWarning, stacklevel=2)
    cols = selection.vertex.to_numpy()
    return {"name": name, "roi_of": roi_of,
            "blocks": source_sessions(subject, manifest, sources) if within_session else None,
            "swappable": (swappable_sources(subject, manifest, sources) if within_session
                          else None),
            "patterns": {p: {k: v[:, cols] for k, v in
                             kind_patterns(subject, manifest, sources, presentation=p).items()}
                         for p in (None, 1, 2)}}


def _layer_encoding(sub: dict, X: dict, layer: str, ls, *, solver, options, seed, n_perm,
                    n_boot, ci_level, n_swap, interval):
    """One subject's Fig 6 rows of one layer, and its per-presentation vertex r for Fig S1
    (a unit of parallel work; ``sub`` from :func:`_prepare_subject`, ``ls`` the layer's
    seed sequence)."""
    from .encoding import make_encoder

    name, roi_of, pats = sub["name"], sub["roi_of"], sub["patterns"]
    rows, best = [], {}
    enc = make_encoder(solver, seed=seed, **options).fit(X["RE"], pats[None]["RE"])
    pred = {k: enc.predict(X[k]) for k in ("AI", "AN")}
    nnz, alpha = _complexity(enc)
    for roi, rs in zip(ROIS, ls.spawn(len(ROIS) + 1)):
        v = roi_of == roi
        if v.sum() < MIN_ROI_VERTICES:
            rows.append(pd.DataFrame({
                "subject": name, "roi": roi, "layer": layer, "test_kind": ["AI", "AN"],
                "n_vertices": int(v.sum()), "solver": solver,
                "excluded": f"{int(v.sum())} vertices selected; a pattern correlation "
                            f"over vertices needs at least {MIN_ROI_VERTICES}"}))
            continue
        t = transfer_statistics({k: pred[k][:, v] for k in pred},
                                {k: pats[None][k][:, v] for k in pred},
                                n_perm=n_perm, n_boot=n_boot, n_swap=n_swap,
                                ci_level=ci_level, seed=np.random.default_rng(rs),
                                blocks=sub["blocks"], swappable=sub["swappable"],
                                interval=interval)
        t.insert(0, "layer", layer)
        t.insert(0, "roi", roi)
        t.insert(0, "subject", name)
        t["n_vertices"] = int(v.sum())
        t["solver"] = solver
        t["median_n_nonzero"] = np.nan if nnz is None else float(np.median(nnz[v]))
        t["median_alpha"] = np.nan if alpha is None else float(np.median(alpha[v]))
        t["excluded"] = ""
        t["n_perm"], t["n_swap"], t["interval"] = int(n_perm), int(n_swap), interval
        rows.append(t)
    for p in (1, 2):
        fixed = (dict(options, n_nonzero=enc.n_nonzero_, support_cap=enc.support_cap_)
                 if solver == "romp" else options)
        enc_p = make_encoder(solver, seed=seed, **fixed).fit(X["RE"], pats[p]["RE"])
        for k in ("AI", "AN"):
            best[(p, k)] = _vertex_r(enc_p.predict(X[k]), pats[p][k])
    return rows, best


def _assignment_rows(name, presentation, kind, per_layer, roi_of, layers) -> list[dict]:
    """Share of each ROI's vertices whose best-predicting layer is each layer."""
    stacked = np.vstack(per_layer)                           # (n_layers, n_vertices)
    assignable = np.isfinite(stacked).any(0)   # a vertex with no finite r has no best layer
    winner = np.nan_to_num(stacked, nan=-np.inf).argmax(0)
    out = []
    for roi in ROIS:
        v = (roi_of == roi) & assignable
        if not v.any():
            continue
        counts = np.bincount(winner[v], minlength=len(layers))
        mean_r = np.nanmean(stacked[:, v], axis=1)
        out += [{"subject": name, "presentation": presentation, "test_kind": kind, "roi": roi,
                 "layer": layer, "proportion": counts[li] / v.sum(),
                 "n_vertices": int(v.sum()), "mean_r": float(mean_r[li])}
                for li, layer in enumerate(layers)]
    return out


def layer_assignment_truth(model, dataset_dir, stim_dir, out_dir=None, *, subjects=None,
                           solver="romp", n_nonzero="cv", grid=(1, 2, 4, 8), n_folds: int = 5,
                           n_vertices: int = 200, radius: float = 3.0, seed: int = 0,
                           normalize: str = "center", features_cache=None,
                           only_converged: bool = True, jobs: int = 1, reuse: bool = True,
                           progress: bool = True) -> pd.DataFrame:
    """Fig S1 on the simulated observer's noise-free responses: the layer each vertex "is".

    For each subject the vertices are selected as the pipeline selects them (on the noisy
    betas), then the encoders are fitted and tested on the observer's **noise-free**
    amplitudes (``simulation/true_betas.npy``, normalised like the betas): the layer whose
    model best predicts a vertex's true AI (or AN) responses is what the noisy pipeline
    should recover. Comparing it with :func:`encoding_analysis`'s assignment tells whether
    a Fig S1 pattern comes from the simulated cortex or from the estimation.

    Parameters
    ----------
    model : ModelWrapper
    dataset_dir, stim_dir : path
        A simulated dataset and its stimulus set.
    out_dir : path, optional
        Receives ``layer_assignment_truth.csv`` (the solver's and the normalisation's names
        added as for :func:`encoding_analysis`) and its stage record: a cached stage, keyed
        by the parameters, the model's weights, the stimulus files and the subjects' files
        with their noise-free amplitudes (``make book`` computes it with the encoding).
    subjects : list of str, optional
    solver, n_nonzero, grid, n_folds, n_vertices, radius, seed, normalize
        As in :func:`encoding_analysis`.
    features_cache, only_converged, progress
        As in :func:`encoding_analysis`.
    jobs : int
        Subjects fitted in parallel (joblib; the numbers do not depend on it).
    reuse : bool
        Read the table back when the stage is up to date.

    Returns
    -------
    pandas.DataFrame
        :data:`ASSIGNMENT_COLUMNS` with ``presentation = "truth"``.

    Raises
    ------
    DataError
        Real data (no noise-free responses).
    """
    manifest = load_manifest(stim_dir)
    all_sources = sorted(manifest.source_id.unique())
    sources = usable_sources(manifest, only_converged)
    rows_idx = [all_sources.index(s) for s in sources]
    from .ground_truth import true_betas_file

    names = choose_subjects(dataset_dir, subjects)
    truths = [true_betas_file(Path(dataset_dir) / name) for name in names]
    stage = None
    if out_dir is not None:
        table = encoding_name(solver, "layer_assignment_truth",
                              "" if normalize == "center" else normalize)
        params = {**_fit_params(solver, n_nonzero, grid, n_folds, n_vertices, radius, seed,
                                normalize, names, only_converged),
                  "model": model.name, "weights": model.weights_sha256}
        stage = Stage(Path(table).stem, Path(out_dir), [table], params,
                      inputs=stimulus_files(stim_dir) + subject_files(dataset_dir, names)
                      + truths, code=["advlib.analysis.encoding_study"])
        if reuse and stage.up_to_date():
            return read_table(stage.output_paths()[0])
    feats = stimulus_features(model, stim_dir, cache_dir=features_cache, progress=False)
    options = dict(n_nonzero=n_nonzero, grid=grid, n_folds=n_folds) if solver == "romp" \
        else dict(n_folds=n_folds)
    layers = list(model.layers)
    prepared = list(worker_pool(jobs)(
        delayed(_prepare_truth)(Path(dataset_dir) / name, manifest, sources, n_vertices=n_vertices,
                                radius=radius, normalize=normalize) for name in names))
    fits = _by_unit(jobs, feats, rows_idx, layers, prepared, "Fig S1 truth", progress,
                    lambda si, li, X: delayed(_layer_truth)(prepared[si], X, solver=solver,
                                                            options=options, seed=seed))
    out = []
    for si, sub in enumerate(prepared):
        for k in ("AI", "AN"):
            out += _assignment_rows(sub["name"], "truth", k,
                                    [fits[si, li][k] for li in range(len(layers))],
                                    sub["roi_of"], layers)
    result = pd.DataFrame(out, columns=ASSIGNMENT_COLUMNS)
    if stage is not None:
        stage.run(lambda tmp: result.to_csv(tmp / table, index=False),
                  model=model.provenance(), dataset=load_dataset_info(dataset_dir))
    return result


def _prepare_truth(folder: Path, manifest, sources, *, n_vertices, radius,
                   normalize) -> dict:
    """One subject's selection (on its noisy betas) and noise-free patterns."""
    from .ground_truth import true_subject

    raw = load_subject(folder, manifest=manifest)
    noisy = normalize_subject(raw, normalize)
    truth = normalize_subject(true_subject(raw, folder), normalize)
    _, selection, _ = select_subject(noisy, radius, n_vertices // 2)
    cols = selection.vertex.to_numpy()
    return {"name": raw.name, "roi_of": selection.roi.to_numpy(),
            "patterns": {k: v[:, cols] for k, v in
                         kind_patterns(truth, manifest, sources).items()}}


def _layer_truth(sub: dict, X: dict, *, solver, options, seed) -> dict:
    """One subject's noise-free AI and AN vertex r of one layer (a unit of parallel work)."""
    from .encoding import make_encoder

    pats = sub["patterns"]
    enc = make_encoder(solver, seed=seed, **options).fit(X["RE"], pats["RE"])
    return {k: _vertex_r(enc.predict(X[k]), pats[k]) for k in ("AI", "AN")}


def layer_table(assignment: pd.DataFrame, value: str = "mean_r") -> pd.DataFrame:
    """One column of a layer assignment as a table: a row per subject x presentation x ROI,
    a column per layer (the tests of :func:`layer_assignment_tests` read it).

    Rows and columns are sorted; rows that share a cell are averaged, and NaN entries are
    left out (no row or column is all NaN): ``pivot_table(values=value)``'s table, the same
    floats, at less than half its cost (the calibration study makes thousands).

    Parameters
    ----------
    assignment : pandas.DataFrame
        ``subject``, ``presentation``, ``roi``, ``layer`` and ``value`` columns
        (:data:`ASSIGNMENT_COLUMNS`; one ``test_kind`` at a time).
    value : {"mean_r", "proportion"}

    Returns
    -------
    pandas.DataFrame, shape (n_subjects x n_presentations x n_rois, n_layers)
    """
    keys = ["subject", "presentation", "roi", "layer"]
    missing = [c for c in keys + [value] if c not in assignment.columns]
    expect(not missing, "assignment columns", missing, f"all of {keys + [value]}")
    means = assignment.groupby(keys)[value].mean()
    # unstack orders the layers as they first appear among the entries kept: sorted after
    return means.dropna().unstack("layer").sort_index(axis=1)


def layer_assignment_tests(assignment: pd.DataFrame, low=("layer1", "layer2"),
                           high=("layer7", "layer8"), first: str = "V1", last: str = "LO",
                           statistic: str = "accuracy") -> pd.DataFrame:
    """The supplement's paired t-tests on the layer assignment (Fig S1), over subjects.

    * ``low vs high``: per subject, the low layers' value and the high layers' value, each
      averaged over the presentations and ROIs; paired over subjects.
    * ``V1 vs LO``: per subject, the high layers' standing in ``first`` and in ``last``
      (averaged over presentations); paired over subjects.

    ``statistic="share"`` is the paper's: the summed share of vertices whose best layer is
    low (high), and the share of the high layers in V1 vs LO. It is **biased by noise**:
    each vertex's best layer is the argmax of 8 noisy correlations over ~17 images, and
    layers 1-6 make similar predictions (they split the wins) while layers 7-8 make
    nearly independent ones, so under noise the high layers win more often than they
    predict well. On the simulated observer, whose noise-free responses are best predicted
    by layers 1-2 in 86% of V1 vertices, the paper's statistic found more vertices for
    layers 7-8 (0.36 vs 0.16; :func:`layer_assignment_truth`). ``statistic="accuracy"``
    (default) uses each layer's mean prediction r over the ROI's vertices instead (summed
    over the low or high layers, halved); ``V1 vs LO`` then compares the high-minus-low
    accuracy in the two ROIs. It follows the noise-free truth.

    The paper pairs its six "independent" measurements (3 subjects x 2 presentations) and,
    pooled over ROIs, 30; a subject's presentations and ROIs share its fits and vertices,
    so they are not independent: such a test rejected far more often than its level
    under the null (``tests/test_calibration.py``). The subject is the unit.

    Parameters
    ----------
    assignment : pandas.DataFrame
        :data:`ASSIGNMENT_COLUMNS`.
    low, high : tuple of str
    first, last : str
    statistic : {"accuracy", "share"}

    Returns
    -------
    pandas.DataFrame
        ``test_kind, test, statistic, mean_a, mean_b, sd_diff, t, p, n`` (``n``: subjects;
        ``t`` and ``p`` NaN with fewer than 2).
    """
    missing = [c for c in ASSIGNMENT_COLUMNS if c not in assignment.columns
               and not (c == "mean_r" and statistic == "share")]
    expect(not missing, "assignment columns", missing, f"all of {ASSIGNMENT_COLUMNS}")
    check_choice(statistic, "statistic", S1_STATISTICS)
    value = "proportion" if statistic == "share" else "mean_r"
    out = []
    for kind, g in assignment.groupby("test_kind", sort=False):
        piv = layer_table(g, value)
        lo = piv[[c for c in low if c in piv]].sum(axis=1)
        hi = piv[[c for c in high if c in piv]].sum(axis=1)
        if statistic == "accuracy":
            lo, hi = lo / len(low), hi / len(high)
        standing = (hi if statistic == "share" else hi - lo).unstack("roi")
        tests = [("layers 1-2 vs 7-8", lo.groupby("subject").mean(),
                  hi.groupby("subject").mean())]
        if first in standing and last in standing:
            what = "share of layers 7-8" if statistic == "share" else "layers 7-8 minus 1-2 r"
            tests.append((f"{first} vs {last} ({what})",
                          standing[first].groupby("subject").mean(),
                          standing[last].groupby("subject").mean()))
        for test, a, b in tests:
            pair = pd.concat([a, b], axis=1).dropna().to_numpy()
            d = pair[:, 0] - pair[:, 1] if len(pair) else np.array([])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                res = stats.ttest_rel(pair[:, 0], pair[:, 1]) if len(pair) >= 2 else None
            out.append({"test_kind": kind, "test": test, "statistic": statistic,
                        "mean_a": float(np.mean(pair[:, 0])) if len(pair) else np.nan,
                        "mean_b": float(np.mean(pair[:, 1])) if len(pair) else np.nan,
                        "sd_diff": float(np.std(d, ddof=1)) if len(d) >= 2 else np.nan,
                        "t": np.nan if res is None else float(res.statistic),
                        "p": np.nan if res is None else float(res.pvalue), "n": len(pair)})
    return pd.DataFrame(out, columns=["test_kind", "test", "statistic", "mean_a", "mean_b",
                                      "sd_diff", "t", "p", "n"])


def layer_assignment_comparison(assignment: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """The pipeline's Fig S1 beside the noise-free truth, per kind and ROI.

    Parameters
    ----------
    assignment : pandas.DataFrame
        From :func:`encoding_analysis` (noisy betas).
    truth : pandas.DataFrame
        From :func:`layer_assignment_truth`.

    Returns
    -------
    pandas.DataFrame
        Index ``test_kind, roi``; columns: the share of vertices assigned to layers 1-2 and
        7-8 and the layer of highest mean accuracy, for the pipeline and the truth.
    """
    def summary(frame):
        g = frame.groupby(["test_kind", "roi", "layer"])[["proportion", "mean_r"]].mean()
        share = g.proportion.unstack("layer")
        acc = g.mean_r.unstack("layer")
        return pd.DataFrame({"share 1-2": share[["layer1", "layer2"]].sum(axis=1),
                             "share 7-8": share[["layer7", "layer8"]].sum(axis=1),
                             "best layer (accuracy)": acc.idxmax(axis=1)})

    both = pd.concat({"pipeline": summary(assignment), "truth": summary(truth)}, axis=1)
    return both.round(2)


def load_encoding_results(out_dir, solver: str = "romp",
                          variant: str = "") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read ``encoding.csv`` and ``layer_assignment.csv`` written by :func:`encoding_analysis`."""
    paths = [Path(out_dir) / encoding_name(solver, t, variant)
             for t in ("encoding", "layer_assignment")]
    for path in paths:
        expect(path.is_file(), "results", str(path), "encoding results (run `advlib encode`)")
    return read_table(paths[0]), read_table(paths[1])
