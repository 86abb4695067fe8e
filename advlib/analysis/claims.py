"""The paper's claims, checked on this project's result tables.

Every ``*_claims`` function takes the tables a stage wrote and returns one DataFrame with
columns ``claim, paper, here, holds``: the claim in words, the paper's value, the value
found here, and whether the claim holds by the paper's own criterion. A claim with no
evidence (an empty table) never holds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import expect
from ..fmri.data import ROIS, Subject

__all__ = ["stimulus_claims", "fmri_checks", "cnn_claims", "brain_claims", "searchlight_claims",
           "encoding_claims", "smallest_bootstrap_p", "claims_side_by_side"]
def stimulus_claims(manifest: pd.DataFrame, threshold: float = 0.99,
                    min_psnr: float = 30.0, max_abs_r: float = 0.3) -> pd.DataFrame:
    """The paper's claims about its stimuli, checked on a manifest.

    Parameters
    ----------
    manifest : pandas.DataFrame
    threshold : float
        Required confidence for AN / AI images (0.99 in the paper).
    min_psnr : float
        An AI image counts as a *small* change when its PSNR to the RE image exceeds this.
    max_abs_r : float
        An AN image counts as *unlike* its RE image when ``|pixel r|`` is below this.

    Returns
    -------
    pandas.DataFrame
        Columns ``claim, paper, here, holds``.
    """
    re_ = manifest[manifest.kind == "RE"]
    an = manifest[manifest.kind == "AN"]
    ai = manifest[manifest.kind == "AI"]
    n = len(re_)
    re_ok = int((re_.predicted_label == re_.true_label).sum())
    re_sure = int((re_.p_target > threshold).sum())
    an_ok = int(((an.predicted_label == an.true_label) & (an.p_target >= threshold)).sum())
    ai_ok = int(((ai.predicted_label == ai.target_label) & (ai.target_label != ai.true_label)
                 & (ai.p_target >= threshold)).sum())
    small = int((ai.psnr > min_psnr).sum())
    unlike = int((an.pixel_r.abs() < max_abs_r).sum())
    return pd.DataFrame([
        {"claim": "RE images are classified into their own category",
         "paper": "40/40", "here": f"{re_ok}/{n}", "holds": re_ok == n},
        {"claim": f"... with P > {threshold}", "paper": "40/40",
         "here": f"{re_sure}/{n}, min P = {re_.p_target.min():.3f}", "holds": re_sure == n},
        {"claim": f"AN images are classified as the RE category with P >= {threshold}",
         "paper": "40/40", "here": f"{an_ok}/{n}", "holds": an_ok == n},
        {"claim": f"AI images are classified into another class with P >= {threshold}",
         "paper": "40/40", "here": f"{ai_ok}/{n}", "holds": ai_ok == n},
        {"claim": f"AI images differ little from RE (PSNR > {min_psnr:g} dB)",
         "paper": "'minimal' noise (not quantified)",
         "here": f"{small}/{n}, median {ai.psnr.median():.1f} dB", "holds": small == n},
        {"claim": f"AN images do not resemble RE (|pixel r| < {max_abs_r:g})",
         "paper": "'meaningless noise' (not quantified)",
         "here": f"{unlike}/{n}, mean r = {an.pixel_r.mean():.3f}", "holds": unlike == n},
    ])


def fmri_checks(subject: Subject, selection: pd.DataFrame, split_half: pd.DataFrame,
                n_vertices: int = 200, n_images: int | None = None) -> pd.DataFrame:
    """The paper's fMRI design and selection facts, checked on one subject.

    Parameters
    ----------
    subject : Subject
    selection : pandas.DataFrame
        From :func:`select_subject`.
    split_half : pandas.DataFrame
        From :func:`select_subject`.
    n_vertices : int
        Vertices asked per ROI.
    n_images : int, optional
        Regular images in the stimulus set (default: counted in the conditions).

    Returns
    -------
    pandas.DataFrame
        Columns ``claim, paper, here, holds``.
    """
    cond = subject.conditions
    n_re = n_images or int((cond.kind == "RE").sum() // 2)
    expected = 3 * n_re * 2 + 1
    counts = selection.groupby(["roi", "hemi"]).size()
    rois_ok = sorted(selection.roi.unique())
    full = [r for r in ROIS if counts.get((r, "lh"), 0) + counts.get((r, "rh"), 0) == n_vertices]
    reliable = split_half[split_half.split_half_selected > 0]
    return pd.DataFrame([
        {"claim": "one beta per image presentation plus one blank beta per vertex",
         "paper": "241 (120 images x 2 + 1)", "here": f"{len(cond)} ({3 * n_re} images x 2 + 1)",
         "holds": len(cond) == expected},
        {"claim": "five ROIs in both hemispheres", "paper": "V1, V2, V3, V4, LO",
         "here": ", ".join(rois_ok), "holds": rois_ok == sorted(ROIS)},
        {"claim": f"{n_vertices} vertices per ROI, half from each hemisphere",
         "paper": "200 (Fig 3) or 400 (Fig S2)",
         "here": f"{len(full)}/5 ROIs complete", "holds": len(full) == 5},
        {"claim": "selected vertices respond reliably to RE images (split-half RDM r > 0)",
         "paper": "selection by RE reliability only",
         "here": ", ".join(f"{r.roi} {r.split_half_selected:.2f}" for r in split_half.itertuples()),
         "holds": len(reliable) == len(split_half) == 5},
    ])


def cnn_claims(table: pd.DataFrame, trend: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """The paper's CNN claims (Fig 5), checked on a :func:`cnn_rsa` table.

    Parameters
    ----------
    table, trend : pandas.DataFrame
        From :func:`cnn_rsa` (8 layers in order).
    alpha : float
        Significance level.

    Returns
    -------
    pandas.DataFrame
        Columns ``claim, paper, here, holds``.
    """
    expect(len(table) == 8, "table", f"{len(table)} layers", "the 8 readout layers")
    t = table.reset_index(drop=True)
    tr = trend.set_index("similarity")
    low, mid, out = t.iloc[:2], t.iloc[2:], t.iloc[:7]

    def fmt_p(values):
        return ", ".join(f"{v:.3g}" for v in values)

    ai_sig = int((t.p_perm_re_ai < 0.001).sum())     # the paper: all p < 0.001
    an_low_ns = int((low.p_perm_re_an >= alpha).sum())
    an_mid_sig = int((mid.p_perm_re_an < alpha).sum())
    ai_above = out.re_ai > out.re_an
    ai_above_sig = int((ai_above & (out.p_diff < alpha)).sum())
    last = t.iloc[7]
    an_wins_8 = bool(last.re_an > last.re_ai and last.p_diff < alpha)

    def trend_row(col, direction, paper):
        row = tr.loc[col]
        holds = bool(row.trend == direction and row.p < alpha)
        return {"claim": f"{col.upper().replace('_', '-')} similarity {direction.replace('ing', 'es')} "
                         f"across layers (Mann-Kendall)", "paper": paper,
                "here": f"{row.trend}, tau = {row.tau:.2f}, p = {row.p:.3g}", "holds": holds}

    return pd.DataFrame([
        {"claim": "RE-AI similarity is above the permutation null in every layer",
         "paper": "8/8, all p < 0.001", "here": f"{ai_sig}/8 (p = {fmt_p(t.p_perm_re_ai)})",
         "holds": ai_sig == 8},
        trend_row("re_ai", "decreasing", "p = 0.009"),
        {"claim": "RE-AN similarity is not above the null in layers 1-2",
         "paper": "2/2, p > 0.05", "here": f"{an_low_ns}/2 (p = {fmt_p(low.p_perm_re_an)})",
         "holds": an_low_ns == 2},
        trend_row("re_an", "increasing", "p < 0.001"),
        {"claim": "RE-AN similarity is above the null from layer 3 on",
         "paper": "6/6, p < 0.05", "here": f"{an_mid_sig}/6 (p = {fmt_p(mid.p_perm_re_an)})",
         "holds": an_mid_sig == 6},
        {"claim": "RE-AN is not higher than RE-AI in layers 1-7",
         "paper": "7/7 (significant in 1-6; layer 7 p = 0.375)",
         "here": f"RE-AI > RE-AN in {int(ai_above.sum())}/7, significant in {ai_above_sig}",
         "holds": bool(ai_above.all())},
        {"claim": "RE-AN exceeds RE-AI only at the output layer (8)",
         "paper": "layer 8, p < 0.05",
         "here": f"RE-AN {last.re_an:.3f} vs RE-AI {last.re_ai:.3f}, p = {last.p_diff:.3g}",
         "holds": an_wins_8},
    ])


def _no_evidence(claims: list[tuple[str, str]]) -> pd.DataFrame:
    """Claims rows for an empty table: a claim with no evidence never holds."""
    return pd.DataFrame([{"claim": c, "paper": p, "here": "no results (0 rows)", "holds": False}
                         for c, p in claims])


def smallest_bootstrap_p(n_boot: int) -> float:
    """The smallest two-sided p :func:`advlib.analysis.bootstrap_p` can give: ``2 / (n + 1)``."""
    return 2.0 / (n_boot + 1)


def brain_claims(table: pd.DataFrame, alpha: float = 0.05, n_boot: int = 1000) -> pd.DataFrame:
    """The paper's brain claims (Fig 3), by its own criteria, over subjects x ROIs.

    Criteria (paper, Results): RE-AI above the permutation null with p < 0.005 in every ROI;
    RE-AN significant (p < ``alpha``) in at most 4 of 15 ROIs (the same share of another
    number); RE-AI > RE-AN with bootstrap p < 0.0001 in every ROI. That p needs about
    20,000 resamples; with fewer, the criterion is the smallest p the resamples allow
    (``2 / (n_boot + 1)``), and the row says so.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`advlib.analysis.brain_rsa`.
    alpha : float
    n_boot : int
        Image-bootstrap resamples behind ``p_diff``.

    Returns
    -------
    pandas.DataFrame
        Columns ``claim, paper, here, holds``.
    """
    claims = [("RE-AI similarity is above the null in every ROI (p < 0.005)",
               "15/15 ('almost all'), all p < 0.005"),
              ("RE-AN similarity is rarely above the null", "4/15 (p < 0.05)"),
              ("RE-AI similarity exceeds RE-AN in all ROIs", "15/15, p < 0.0001")]
    n = len(table)
    if n == 0:
        return _no_evidence(claims)
    floor = smallest_bootstrap_p(n_boot)
    crit = max(1e-4, floor)
    ai_sig = int((table.p_perm_re_ai < 0.005).sum())
    an_sig = int((table.p_perm_re_an < alpha).sum())
    an_max = int(np.floor(4 / 15 * n + 1e-9))
    diff = int(((table.re_ai > table.re_an) & (table.p_diff <= crit if floor > 1e-4
                                               else table.p_diff < 1e-4)).sum())
    crit_text = ("p < 0.0001" if floor <= 1e-4 else
                 f"p = {floor:.2g}, the smallest {n_boot} resamples allow")
    return pd.DataFrame([
        {"claim": claims[0][0], "paper": claims[0][1], "here": f"{ai_sig}/{n}",
         "holds": ai_sig == n},
        {"claim": claims[1][0], "paper": claims[1][1],
         "here": f"{an_sig}/{n} (at most {an_max} allowed)", "holds": an_sig <= an_max},
        {"claim": claims[2][0], "paper": claims[2][1], "here": f"{diff}/{n} ({crit_text})",
         "holds": diff == n},
    ])


def searchlight_claims(maps: dict) -> pd.DataFrame:
    """The paper's Fig 4 claim: RE-AI above RE-AN across the early visual areas.

    Parameters
    ----------
    maps : dict
        ``subject -> (vertices, maps)`` from :func:`advlib.analysis.brain_rsa`
        (``vertices`` with ``roi``; ``maps`` with ``re_an`` and ``re_ai`` per vertex).

    Returns
    -------
    pandas.DataFrame
        One row: in how many subject x ROI the median searchlight RE-AI exceeds the median
        RE-AN over the ROI's vertices.
    """
    claim = ("Searchlight RE-AI exceeds RE-AN across the early visual areas (Fig 4)",
             "'overall higher ... across all early visual areas'")
    wins, n = 0, 0
    for vertices, sl in maps.values():
        roi = np.asarray(vertices["roi"])
        for name in ROIS:
            v = (roi == name) & np.isfinite(sl["re_an"]) & np.isfinite(sl["re_ai"])
            if v.any():
                n += 1
                wins += int(np.median(sl["re_ai"][v]) > np.median(sl["re_an"][v]))
    if n == 0:
        return _no_evidence([claim])
    return pd.DataFrame([{"claim": claim[0], "paper": claim[1],
                          "here": f"{wins}/{n} subject x ROI (median over vertices)",
                          "holds": wins == n}])


def encoding_claims(table: pd.DataFrame, tests: pd.DataFrame | None = None,
                    alpha: float = 0.05) -> pd.DataFrame:
    """The paper's encoding claims (Fig 6, Fig S1) with the values found here.

    Returns
    -------
    pandas.DataFrame
        ``claim, paper, here, holds``.
    """
    ai = table[table.test_kind == "AI"]
    an = table[table.test_kind == "AN"]
    n = len(ai)
    ai_sig = int((ai.p_perm < alpha).sum())
    an_ns = int((an.p_perm >= alpha).sum())
    merged = ai.merge(an, on=["subject", "roi", "layer"], suffixes=("_ai", "_an"))
    better = int(((merged.r_ai > merged.r_an) & (merged.p_diff_ai < alpha)).sum())
    rows = [
        {"claim": "RE-trained models generalize to AI images (permutation p < 0.05)",
         "paper": "113/120 models", "here": f"{ai_sig}/{n}", "holds": ai_sig >= 0.9 * n},
        {"claim": "RE-trained models do not generalize to AN images",
         "paper": "111/120 models not significant", "here": f"{an_ns}/{len(an)} not significant",
         "holds": an_ns >= 0.9 * len(an)},
        {"claim": "prediction accuracy is higher for AI than AN (bootstrap p < 0.05)",
         "paper": "all but 1 of 120", "here": f"{better}/{len(merged)}",
         "holds": better >= len(merged) - max(1, round(len(merged) / 120))},
    ]
    if tests is not None and len(tests):
        def get(kind, test):
            hit = tests[(tests.test_kind == kind) & tests.test.str.startswith(test)]
            return hit.iloc[0] if len(hit) else None

        for kind, test, paper, want_sig in (
                ("AI", "layers 1-2", "low > high layers, p < 0.0001", True),
                ("AN", "layers 1-2", "no difference, p = 0.2351", False),
                ("AI", "V1 vs", "more high-layer vertices in LO, p = 0.0004", True),
                ("AN", "V1 vs", "no trend, p = 0.5631", False)):
            row = get(kind, test)
            if row is None:
                continue
            sign_ok = (row.mean_a > row.mean_b) if test.startswith("layers") else \
                (row.mean_a < row.mean_b)
            sig = bool(row.p < alpha)
            holds = (sig and sign_ok) if want_sig else not sig
            rows.append({"claim": f"Fig S1, {kind}: {row.test}", "paper": paper,
                         "here": f"{row.mean_a:.2f} vs {row.mean_b:.2f}, p = {row.p:.3g} "
                                 f"(n = {row.n_pairs})", "holds": bool(holds)})
    return pd.DataFrame(rows)


def claims_side_by_side(tables: dict) -> pd.DataFrame:
    """Several analyses' claims tables in one: the claim, the paper, then each variant.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        ``variant name -> claims table`` (columns ``claim, paper, here, holds``), the same
        claims in the same order.

    Returns
    -------
    pandas.DataFrame
        ``claim, paper`` and ``here (<variant>), holds (<variant>)`` per variant.
    """
    expect(len(tables) > 0, "tables", tables, "at least one claims table")
    names = list(tables)
    first = tables[names[0]].reset_index(drop=True)
    out = first[["claim", "paper"]].copy()
    for name in names:
        t = tables[name].reset_index(drop=True)
        expect(t.claim.tolist() == first.claim.tolist(), f"tables[{name!r}].claim",
               t.claim.tolist()[:2], f"the claims of {names[0]!r}")
        out[f"here ({name})"] = t.here
        out[f"holds ({name})"] = t.holds
    return out
