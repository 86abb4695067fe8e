"""What the design can detect: the pipeline's estimates against the simulated truth.

The simulated observer writes, beside each subject's GLM betas, the noise-free condition
amplitudes that generated them (``simulation/true_betas.npy``). On the same selected
vertices, the RE-AN and RE-AI similarities of those amplitudes are the truth; the
pipeline's estimates from the noisy betas, under each analysis variant (normalisation of
the betas within session, permutations within or across sessions), can be scored against
it: bias (estimate - truth), the rate of "RE-AN significant" (the observer's RE-AN truth
is near zero), and the power to find RE-AI > RE-AN. This module scores one simulated
dataset of the full path (time series and GLM); :mod:`advlib.analysis.ground_truth_study`
repeats the same analysis over many datasets drawn on the cheap path.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from ..cnn.stimulus_set import load_manifest, usable_sources
from ..errors import expect
from ..fmri.data import ROIS, TRUE_BETAS, DataError, choose_subjects, load_subject
from ..fmri.normalize import normalize_subject
from ..fmri.selection import select_subject
from ..kernels import correlation_rdm, spearman, upper_triangle
from .brain_analysis import kind_patterns, partial_similarities, roi_rsa, source_sessions
from .rsa import compare_rdms

__all__ = ["VARIANTS", "GROUND_TRUTH_COLUMNS", "true_betas_file", "true_subject",
           "truth_similarities", "ground_truth_rsa", "ground_truth_summary"]

#: Analysis variants scored: (normalize, within_session). The first is the paper's pipeline.
VARIANTS = (("none", False), ("none", True), ("center", True), ("zscore", True))
GROUND_TRUTH_COLUMNS = ["subject", "roi", "normalize", "permutation", "n_vertices",
                        "truth_re_an", "truth_re_ai", "re_an", "re_ai", "p_perm_re_an",
                        "p_perm_re_ai", "p_diff"]


def true_betas_file(folder) -> Path:
    """A simulated subject's noise-free amplitudes: ``<folder>/simulation/true_betas.npy``.

    Raises
    ------
    DataError
        Not a simulated subject (real data have no ground truth).
    """
    path = Path(folder) / TRUE_BETAS
    expect(path.is_file(), "subject", str(folder),
           "a simulated subject with simulation/true_betas.npy (real data have no truth)",
           DataError)
    return path


def true_subject(subject, folder) -> object:
    """A copy of a simulated subject whose betas are its noise-free amplitudes.

    Parameters
    ----------
    subject : Subject
        As loaded by :func:`advlib.fmri.load_subject`.
    folder : path
        The subject folder (with ``simulation/true_betas.npy``).

    Raises
    ------
    DataError
        Not a simulated subject (no ground truth), or shapes that do not match.
    """
    true = np.load(true_betas_file(folder)).astype(np.float64)
    expect(true.shape == subject.betas.shape, "true_betas.shape", true.shape,
           f"the betas' shape {subject.betas.shape}", DataError)
    frame = pd.DataFrame(true, index=subject.betas.index, columns=subject.betas.columns)
    return dataclasses.replace(subject, betas=frame)


def truth_similarities(patterns: dict, cols, sessions=None) -> tuple[float, float]:
    """Noise-free RE-AN and RE-AI on an ROI's vertices, compared as the estimate is.

    Parameters
    ----------
    patterns : dict
        ``kind -> (n_images, n_vertices)`` of the noise-free amplitudes, normalised as the
        estimate's betas are (:func:`advlib.analysis.kind_patterns`).
    cols : array_like of int
        The ROI's selected vertices.
    sessions : array_like, shape (n_images,), optional
        Given: partial similarities given the pairs' sessions (the session-aware variants).

    Returns
    -------
    (float, float)
        RE-AN and RE-AI.
    """
    rdm = {k: correlation_rdm(v[:, cols]) for k, v in patterns.items()}
    if sessions is not None:
        return tuple(compare_rdms(rdm["RE"], rdm[k], sessions=sessions) for k in ("AN", "AI"))
    vec = {k: upper_triangle(r) for k, r in rdm.items()}
    return spearman(vec["RE"], vec["AN"]), spearman(vec["RE"], vec["AI"])


def ground_truth_rsa(dataset_dir, stim_dir, *, n_vertices: int = 200, n_perm: int = 1000,
                     n_boot: int = 1000, seed: int = 0, variants=VARIANTS, radius: float = 3.0,
                     subjects=None, only_converged: bool = True) -> pd.DataFrame:
    """ROI RSA estimates of a simulated dataset beside the noise-free truth, per variant.

    Parameters
    ----------
    dataset_dir, stim_dir : path
        A simulated dataset and its stimulus set.
    n_vertices, n_perm, n_boot, seed, radius
        As in :func:`advlib.analysis.brain_rsa`.
    variants : sequence of (str, bool)
        ``(normalize, within_session)`` pairs (:data:`VARIANTS`).
    subjects : list of str, optional
    only_converged : bool

    Returns
    -------
    pandas.DataFrame
        :data:`GROUND_TRUTH_COLUMNS`, one row per subject x ROI x variant. The truth uses
        the same vertices as the estimate (selected on that variant's noisy betas) and the
        noise-free amplitudes normalised as that variant normalises the betas.
    """
    manifest = load_manifest(stim_dir)
    sources = usable_sources(manifest, only_converged)
    names = choose_subjects(dataset_dir, subjects)
    rows = []
    seeds = np.random.SeedSequence(seed).spawn(len(names))
    for name, ss in zip(names, seeds):
        folder = Path(dataset_dir) / name
        raw = load_subject(folder, manifest=manifest)
        true = true_subject(raw, folder)
        sessions = source_sessions(raw, manifest, sources)
        for (normalize, within), vs in zip(variants, ss.spawn(len(variants))):
            sub = normalize_subject(raw, normalize)
            patterns = kind_patterns(sub, manifest, sources)
            truth = kind_patterns(normalize_subject(true, normalize), manifest, sources)
            _, selection, _ = select_subject(sub, radius, n_vertices // 2)
            for roi, rs in zip(ROIS, vs.spawn(len(ROIS))):
                cols = selection[selection.roi == roi].vertex.to_numpy()
                if cols.size < 2:
                    continue
                partial = partial_similarities(normalize, within)
                est = roi_rsa(sub, patterns, cols, roi, n_perm=n_perm, n_boot=n_boot, seed=rs,
                              sessions=sessions, blocks=sessions if within else None,
                              partial=partial)
                t_an, t_ai = truth_similarities(truth, cols, sessions if partial else None)
                rows.append({"subject": name, "roi": roi, "normalize": normalize,
                             "permutation": "within session" if within else "across sessions",
                             "n_vertices": int(cols.size), "truth_re_an": t_an,
                             "truth_re_ai": t_ai, **{k: est[k] for k in (
                                 "re_an", "re_ai", "p_perm_re_an", "p_perm_re_ai", "p_diff")}})
    return pd.DataFrame(rows, columns=GROUND_TRUTH_COLUMNS)


def ground_truth_summary(table: pd.DataFrame, alpha: float = 0.05,
                         n_boot: int = 1000) -> pd.DataFrame:
    """Bias, false-positive rate and power per design x SNR x variant.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`ground_truth_rsa`, with ``snr`` and ``design`` columns added.
    alpha : float
        Significance level of the RE-AN test.
    n_boot : int
        Unused (kept for callers); power counts RE-AI > RE-AN at the paper's p < 0.0001
        (the swap test's 10 000 swap sets reach it).

    Returns
    -------
    pandas.DataFrame
        ``design, snr, normalize, permutation, n, truth_re_an, bias_re_an, truth_re_ai,
        bias_re_ai, false_positive_re_an`` (share of ROIs with RE-AN p < alpha; the
        observer's RE-AN truth is near zero: see ``truth_re_an``), ``power_re_ai``
        (share with RE-AI p < 0.005) and ``power_diff``.
    """
    crit = 1e-4
    t = table.assign(bias_re_an=table.re_an - table.truth_re_an,
                     bias_re_ai=table.re_ai - table.truth_re_ai,
                     false_positive_re_an=(table.p_perm_re_an < alpha).astype(float),
                     power_re_ai=(table.p_perm_re_ai < 0.005).astype(float),
                     power_diff=((table.re_ai > table.re_an) &
                                 (table.p_diff <= crit)).astype(float))
    keys = ["design", "snr", "normalize", "permutation"]
    out = t.groupby(keys, sort=False).agg(
        n=("roi", "size"), truth_re_an=("truth_re_an", "mean"), bias_re_an=("bias_re_an", "mean"),
        truth_re_ai=("truth_re_ai", "mean"), bias_re_ai=("bias_re_ai", "mean"),
        false_positive_re_an=("false_positive_re_an", "mean"),
        power_re_ai=("power_re_ai", "mean"), power_diff=("power_diff", "mean"))
    return out.reset_index()
