"""The paper's claims, checked on this project's result tables, with three verdicts.

Every ``*_claims`` function takes the tables a stage wrote and returns one DataFrame with
:data:`CLAIM_COLUMNS`: the claim in words, the verdict beside it, the **rule** that decides
it here (in words and numbers), the value found here, and the paper's value. The verdicts:

``holds``
    The rule is met.
``does not hold``
    The rule is not met.
``no evidence``
    There is nothing to judge: an empty table, or a counted row without a finite
    statistic (an ROI excluded for too few vertices counts as such).
``inconclusive``
    A claim of *no effect* ("RE-AN is not above the null") whose test was not significant,
    but whose power to detect a stated effect (:data:`EFFECT`, e.g. an RDM similarity of
    0.1) is below :data:`MIN_POWER` (0.8): "not detected" cannot be told from "absent".
    Also a positive claim whose criterion the resamples cannot reach (too few
    permutations for the paper's p), and a positive claim with a strict level (Fig S1,
    p < 0.0001 over 3 subjects) that was not met where the test had power below
    :data:`MIN_POWER` to meet it.

Power comes from the data's own null distributions
(:func:`advlib.analysis.stats.normal_power`, and the Poisson-binomial chance that a count
rule is broken, :func:`advlib.analysis.stats.at_least_power`) or, for the Fig S1 t-tests,
from the noncentral t (:func:`advlib.analysis.stats.paired_t_power`); both are checked
against simulated power in ``tests/test_calibration.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import expect
from ..fmri.data import ROIS, Subject
from .stats import at_least_power, normal_power, paired_t_power, smallest_p

__all__ = ["HOLDS", "FAILS", "NO_EVIDENCE", "INCONCLUSIVE", "VERDICTS", "CLAIM_COLUMNS",
           "EFFECT", "MIN_POWER", "stimulus_claims", "fmri_checks", "cnn_claims",
           "brain_claims", "searchlight_claims", "encoding_claims", "claims_side_by_side",
           "verdict_counts", "no_evidence_table", "design_claims", "with_design",
           "CALIBRATION_NOTE"]

HOLDS, FAILS, NO_EVIDENCE, INCONCLUSIVE = "holds", "does not hold", "no evidence", "inconclusive"
VERDICTS = (HOLDS, FAILS, NO_EVIDENCE, INCONCLUSIVE)
CLAIM_COLUMNS = ["claim", "verdict", "rule", "here", "paper"]
#: The effect a "no effect" claim must be able to detect: an RDM similarity or a transfer
#: correlation of 0.1, or 0.1 (10 points) of the share of vertices in Fig S1.
EFFECT = 0.1
#: Power below which a non-significant result is "inconclusive".
MIN_POWER = 0.8


#: What an "inconclusive" row points to: where each test's measured power is.
CALIBRATION_NOTE = ("see the calibration tables of the Ground truth chapter for this test's "
                    "false-positive rate and power")


def _row(claim: str, paper: str, rule: str, here: str, verdict: str) -> dict:
    expect(verdict in VERDICTS, "verdict", verdict, f"one of {VERDICTS}")
    if verdict == INCONCLUSIVE:
        here = f"{here}; {CALIBRATION_NOTE}"
    return {"claim": claim, "paper": paper, "rule": rule, "here": here, "verdict": verdict}


def _table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def _decide(ok: bool) -> str:
    return HOLDS if ok else FAILS


def _finite(frame: pd.DataFrame, *columns: str) -> bool:
    """Every row has a finite value in every column (and the columns exist)."""
    if len(frame) == 0 or any(c not in frame for c in columns):
        return False
    values = frame[list(columns)].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    return bool(np.isfinite(values).all())


def _missing(frame: pd.DataFrame, *columns: str) -> str:
    """Why a table gives no evidence: 'no results (0 rows)' or 'k of n rows ...'."""
    if len(frame) == 0:
        return "no results (0 rows)"
    absent = [c for c in columns if c not in frame]
    if absent:
        return f"no column {', '.join(absent)}"
    values = frame[list(columns)].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    bad = int((~np.isfinite(values).all(1)).sum())
    return f"{bad} of {len(frame)} rows without a finite statistic (excluded or failed)"


def _no_effect(ok: bool, power: float, min_power: float) -> str:
    """Verdict of a 'no effect' claim: fails if an effect was found, else needs power."""
    if not ok:
        return FAILS
    return HOLDS if np.isfinite(power) and power >= min_power else INCONCLUSIVE


def _positive(ok: bool, opposite: bool, power: float, min_power: float) -> str:
    """Verdict of a positive claim with a strict level: holds if met; does not hold if the
    effect went the other way (significantly) or the test had the power to meet it;
    inconclusive where the study could not have met the level (too few subjects)."""
    if ok:
        return HOLDS
    if opposite or (np.isfinite(power) and power >= min_power):
        return FAILS
    return INCONCLUSIVE


def _power_text(power: float, effect: float, what: str = "similarity") -> str:
    shown = "unknown" if not np.isfinite(power) else f"{power:.2f}"
    return f"power {shown} to detect a {what} of {effect:g}"


def no_evidence_table(claims: list[tuple[str, str, str]], why: str) -> pd.DataFrame:
    """Claims rows that all say "no evidence" (``claims``: (claim, paper, rule) triples)."""
    return _table([_row(c, p, r, why, NO_EVIDENCE) for c, p, r in claims])


def verdict_counts(table: pd.DataFrame) -> dict:
    """How many rows of a claims table have each verdict.

    Returns
    -------
    dict of str to int
        One entry per verdict in :data:`VERDICTS` (zero included).
    """
    counts = table.verdict.value_counts()
    return {v: int(counts.get(v, 0)) for v in VERDICTS}


def design_claims(design: dict) -> pd.DataFrame:
    """One claims row: is the stimulus set the paper's design (5 x 8 at P > 0.99)?

    Parameters
    ----------
    design : dict
        A stimulus set's design record (:func:`advlib.cnn.stimulus_set.load_design`).

    Returns
    -------
    pandas.DataFrame
        One row, :data:`CLAIM_COLUMNS`: "holds" for the paper's design, else "does not
        hold" with the deviation in words (every claim beside it rests on that set).
    """
    from ..cnn.selection import PAPER_CONFIDENCE, PAPER_N_PER_CLASS, PAPER_SUPERCLASSES, design_text

    expect(isinstance(design, dict) and {"found", "paper", "deviation"} <= set(design),
           "design", design, "a design record (advlib.cnn.stimulus_set.load_design)")
    rule = (f"{PAPER_N_PER_CLASS} images in each of {', '.join(PAPER_SUPERCLASSES)}, "
            f"P(true class) > {PAPER_CONFIDENCE}")
    here = design_text(design) + ("" if design["paper"] else
                                  f" (deviation from the paper: {design['deviation']})")
    return _table([_row("the stimuli follow the paper's design (every claim rests on them)",
                        f"{len(PAPER_SUPERCLASSES)} x {PAPER_N_PER_CLASS} = "
                        f"{len(PAPER_SUPERCLASSES) * PAPER_N_PER_CLASS} images", rule, here,
                        _decide(bool(design["paper"])))])


def with_design(table: pd.DataFrame, design: dict) -> pd.DataFrame:
    """A claims table with :func:`design_claims` as its first row.

    Parameters
    ----------
    table : pandas.DataFrame
        :data:`CLAIM_COLUMNS`.
    design : dict
        A stimulus set's design record.

    Returns
    -------
    pandas.DataFrame
    """
    return pd.concat([design_claims(design), table], ignore_index=True)


def stimulus_claims(manifest: pd.DataFrame, threshold: float = 0.99,
                    min_psnr: float = 30.0, max_abs_r: float = 0.3,
                    n_expected: int | None = None) -> pd.DataFrame:
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
    n_expected : int, optional
        Regular images the design asked for (default: those in the manifest).

    Returns
    -------
    pandas.DataFrame
        :data:`CLAIM_COLUMNS`.
    """
    re_ = manifest[manifest.kind == "RE"]
    an = manifest[manifest.kind == "AN"]
    ai = manifest[manifest.kind == "AI"]
    n = len(re_)
    rules = [("RE images are classified into their own category", "40/40",
              "every RE image's top-1 label is its own class"),
             (f"... with P > {threshold}", "40/40", f"every RE image has P > {threshold}"),
             (f"AN images are classified as the RE category with P >= {threshold}", "40/40",
              f"every AN image's top-1 label is its RE class, with P >= {threshold}"),
             (f"AI images are classified into another class with P >= {threshold}", "40/40",
              f"every AI image's top-1 label is its (other) target class, P >= {threshold}"),
             (f"AI images differ little from RE (PSNR > {min_psnr:g} dB)",
              "'minimal' noise (not quantified)", f"every AI image has PSNR > {min_psnr:g} dB"),
             (f"AN images do not resemble RE (|pixel r| < {max_abs_r:g})",
              "'meaningless noise' (not quantified)",
              f"every AN image has |pixel correlation with RE| < {max_abs_r:g}")]
    if n == 0:
        return no_evidence_table(rules, "no results (0 rows)")
    want = n if n_expected is None else int(n_expected)
    of = f"{n}" if want == n else f"{n} (design: {want})"
    re_ok = int((re_.predicted_label == re_.true_label).sum())
    re_sure = int((re_.p_target > threshold).sum())
    an_ok = int(((an.predicted_label == an.true_label) & (an.p_target >= threshold)).sum())
    ai_ok = int(((ai.predicted_label == ai.target_label) & (ai.target_label != ai.true_label)
                 & (ai.p_target >= threshold)).sum())
    small = int((ai.psnr > min_psnr).sum())
    unlike = int((an.pixel_r.abs() < max_abs_r).sum())
    values = [(f"{re_ok}/{of}", re_ok == want),
              (f"{re_sure}/{of}, min P = {re_.p_target.min():.3f}", re_sure == want),
              (f"{an_ok}/{of}", an_ok == want), (f"{ai_ok}/{of}", ai_ok == want),
              (f"{small}/{of}, median {ai.psnr.median():.1f} dB", small == want),
              (f"{unlike}/{of}, mean r = {an.pixel_r.mean():.3f}", unlike == want)]
    return _table([_row(c, p, r, here, _decide(ok))
                   for (c, p, r), (here, ok) in zip(rules, values)])


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
        :data:`CLAIM_COLUMNS`.
    """
    cond = subject.conditions
    n_re = n_images or int((cond.kind == "RE").sum() // 2)
    expected = 3 * n_re * 2 + 1
    counts = selection.groupby(["roi", "hemi"]).size()
    rois_ok = sorted(selection.roi.unique())
    full = [r for r in ROIS if counts.get((r, "lh"), 0) + counts.get((r, "rh"), 0) == n_vertices]
    random = split_half.get("split_half_random", pd.Series(np.nan, index=split_half.index))
    spread = split_half.get("split_half_random_sd", pd.Series(0.0, index=split_half.index))
    as_good = split_half[split_half.split_half_selected >= random - 2 * spread.fillna(0)]
    return _table([
        _row("one beta per image presentation plus one blank beta per vertex",
             "241 (120 images x 2 + 1)", "conditions = 3 x RE images x 2 + 1",
             f"{len(cond)} ({3 * n_re} images x 2 + 1)", _decide(len(cond) == expected)),
        _row("five ROIs in both hemispheres", "V1, V2, V3, V4, LO",
             "selected vertices in each of V1, V2, V3, V4, LO", ", ".join(rois_ok),
             _decide(rois_ok == sorted(ROIS))),
        _row(f"{n_vertices} vertices per ROI, half from each hemisphere",
             "200 (Fig 3) or 400 (Fig S2)", f"{n_vertices // 2} per hemisphere in 5/5 ROIs",
             f"{len(full)}/5 ROIs complete", _decide(len(full) == 5)),
        _row("the selected vertices are at least as reliable as random ones",
             "selection by RE reliability only", "split-half RDM r (RE, presentation 1 vs "
             "2) of the selected vertices at least that of as many random vertices of the "
             "ROI (mean of 20 draws, less 2 SD) in 5/5 ROIs",
             "; ".join(f"{r.roi} {r.split_half_selected:.2f} vs random {rr:.2f}" for r, rr in
                       zip(split_half.itertuples(), random)) or "no ROI",
             _decide(len(as_good) == len(split_half) == 5)),
    ])


def _reachable(n_resamples, threshold: float) -> bool:
    """Can a resampling test with this many resamples give p below ``threshold``?"""
    n = pd.to_numeric(pd.Series(n_resamples), errors="coerce")
    return bool(n.notna().all() and (1.0 / (n + 1) < threshold).all())


def _floor_text(n_resamples, reach: bool) -> str:
    """'' when the criterion is reachable, else what the resamples allow."""
    if reach:
        return ""
    n = pd.to_numeric(pd.Series(n_resamples), errors="coerce").min()
    floor = "unknown" if not np.isfinite(n) else f"{smallest_p(int(n)):.2g}"
    return f" (the resamples allow p >= {floor}: the criterion cannot be reached)"


_CNN = [("RE-AI similarity is above the permutation null in every layer", "8/8, all p < 0.001",
         "permutation p < 0.001 in 8/8 layers"),
        ("RE-AI similarity decreases across layers (Mann-Kendall)", "p = 0.009",
         "exact Mann-Kendall: decreasing, p < 0.05"),
        ("RE-AN similarity is not above the null in layers 1-2", "2/2, p > 0.05",
         "permutation p >= 0.05 in layers 1-2, each with power >= 0.8 to detect RE-AN = 0.1"),
        ("RE-AN similarity increases across layers (Mann-Kendall)", "p < 0.001",
         "exact Mann-Kendall: increasing, p < 0.001"),
        ("RE-AN similarity is above the null from layer 3 on", "6/6, p < 0.05",
         "permutation p < 0.05 in 6/6 of layers 3-8"),
        ("RE-AN is not higher than RE-AI in layers 1-7",
         "layers 1-6 p < 0.05; layer 7 p = 0.375",
         "RE-AI > RE-AN with swap-test p < 0.05 in 6/6 of layers 1-6, and RE-AN <= RE-AI "
         "in layer 7"),
        ("RE-AN exceeds RE-AI only at the output layer (8)", "layer 8, p < 0.05",
         "layer 8: RE-AN > RE-AI with swap-test p < 0.05")]


def cnn_claims(table: pd.DataFrame, trend: pd.DataFrame, alpha: float = 0.05,
               effect: float = EFFECT, min_power: float = MIN_POWER) -> pd.DataFrame:
    """The paper's CNN claims (Fig 5), checked on a :func:`cnn_rsa` table.

    Parameters
    ----------
    table, trend : pandas.DataFrame
        From :func:`cnn_rsa` (8 layers in order).
    alpha : float
        Significance level.
    effect, min_power : float
        The "no effect" claim (layers 1-2) needs power ``min_power`` to detect ``effect``.

    Returns
    -------
    pandas.DataFrame
        :data:`CLAIM_COLUMNS`.
    """
    needed = ("re_an", "re_ai", "p_perm_re_an", "p_perm_re_ai", "p_diff")
    if len(table) != 8 or not _finite(table, *needed) or not _finite(trend, "p", "s"):
        why = (f"{len(table)} layers, the claims need the 8 readout layers" if len(table) != 8
               else _missing(table, *needed))
        return no_evidence_table(_CNN, why)
    t = table.reset_index(drop=True)
    tr = trend.set_index("similarity")
    low, mid = t.iloc[:2], t.iloc[2:]

    def fmt_p(values):
        return ", ".join(f"{v:.3g}" for v in values)

    rows = []
    ai_sig = int((t.p_perm_re_ai < 0.001).sum())
    n_perm = t.get("n_perm", 1000)
    reach = _reachable(n_perm, 0.001)
    rows.append((f"{ai_sig}/8 (p = {fmt_p(t.p_perm_re_ai)})" + _floor_text(n_perm, reach),
                 _decide(ai_sig == 8) if reach else INCONCLUSIVE))

    def trend_row(col, direction, level):
        row = tr.loc[col]
        ok = bool(row.trend == direction and row.p < level)
        return (f"{row.trend}, tau = {row.tau:.2f}, p = {row.p:.3g}"
                f"{' (exact)' if row.get('p_method', '') == 'exact' else ''}", _decide(ok))

    rows.append(trend_row("re_ai", "decreasing", alpha))
    an_low_ns = int((low.p_perm_re_an >= alpha).sum())
    if {"null_mean_re_an", "null_sd_re_an"} <= set(t):
        power = float(np.min(normal_power(low.null_mean_re_an, low.null_sd_re_an, effect, alpha)))
    else:
        power = float("nan")
    rows.append((f"{an_low_ns}/2 (p = {fmt_p(low.p_perm_re_an)}); "
                 f"{_power_text(power, effect)} (the lower of the two)",
                 _no_effect(an_low_ns == 2, power, min_power)))
    rows.append(trend_row("re_an", "increasing", 0.001))
    an_mid_sig = int((mid.p_perm_re_an < alpha).sum())
    rows.append((f"{an_mid_sig}/6 (p = {fmt_p(mid.p_perm_re_an)})", _decide(an_mid_sig == 6)))
    first6, l7, l8 = t.iloc[:6], t.iloc[6], t.iloc[7]
    sig6 = int(((first6.re_ai > first6.re_an) & (first6.p_diff < alpha)).sum())
    rows.append((f"significant in {sig6}/6 of layers 1-6 (p = {fmt_p(first6.p_diff)}); layer 7: "
                 f"RE-AI {l7.re_ai:.3f} vs RE-AN {l7.re_an:.3f}, p = {l7.p_diff:.3g}",
                 _decide(sig6 == 6 and l7.re_an <= l7.re_ai)))
    rows.append((f"RE-AN {l8.re_an:.3f} vs RE-AI {l8.re_ai:.3f}, p = {l8.p_diff:.3g}",
                 _decide(bool(l8.re_an > l8.re_ai and l8.p_diff < alpha))))
    return _table([_row(c, p, r, here, v) for (c, p, r), (here, v) in zip(_CNN, rows)])


_BRAIN = [("RE-AI similarity is above the null in every ROI (p < 0.005)",
           "'almost all ROIs', all reported p < 0.005",
           "permutation p < 0.005 in every subject x ROI"),
          ("RE-AN similarity is rarely above the null", "4/15 ROIs with p < 0.05",
           "at most 4/15 of subject x ROI with permutation p < 0.05, and power >= 0.8 that "
           "more would be if RE-AN were 0.1 everywhere"),
          ("RE-AI similarity exceeds RE-AN in all ROIs", "15/15, p < 0.0001",
           "RE-AI > RE-AN with swap-test p < 0.0001 in every subject x ROI")]


def brain_claims(table: pd.DataFrame, alpha: float = 0.05, effect: float = EFFECT,
                 min_power: float = MIN_POWER) -> pd.DataFrame:
    """The paper's brain claims (Fig 3, Fig S2), by its own criteria, over subjects x ROIs.

    Criteria (paper, Results): RE-AI above the permutation null with p < 0.005 in every ROI;
    RE-AN significant (p < ``alpha``) in at most 4 of 15 ROIs (the same share of another
    number), with enough power that a real RE-AN of ``effect`` would have broken that
    count; RE-AI > RE-AN with p < 0.0001 in every ROI (the swap test; with fewer than
    10 000 swap sets the criterion is unreachable and the verdict "inconclusive").

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`advlib.analysis.brain_rsa` (its ``n_perm``, ``n_swap`` and null columns
        are read; an excluded ROI is a row without evidence).
    alpha, effect, min_power : float

    Returns
    -------
    pandas.DataFrame
        :data:`CLAIM_COLUMNS`.
    """
    needed = ("re_an", "re_ai", "p_perm_re_an", "p_perm_re_ai", "p_diff")
    if not _finite(table, *needed):
        return no_evidence_table(_BRAIN, _missing(table, *needed))
    n = len(table)
    ai_sig = int((table.p_perm_re_ai < 0.005).sum())
    n_perm = table.get("n_perm", 1000)
    reach_ai = _reachable(n_perm, 0.005)
    an_sig = int((table.p_perm_re_an < alpha).sum())
    an_max = int(np.floor(4 / 15 * n + 1e-9))
    binom = float(stats.binomtest(an_sig, n, alpha, alternative="greater").pvalue)
    if {"null_mean_re_an", "null_sd_re_an"} <= set(table):
        power = at_least_power(normal_power(table.null_mean_re_an, table.null_sd_re_an,
                                            effect, alpha), an_max)
    else:
        power = float("nan")
    diff = int(((table.re_ai > table.re_an) & (table.p_diff < 1e-4)).sum())
    n_swap = table.get("n_swap", pd.Series([1000] * n))
    reach = _reachable(n_swap, 1e-4)
    rows = [(f"{ai_sig}/{n}" + _floor_text(n_perm, reach_ai),
             _decide(ai_sig == n) if reach_ai else INCONCLUSIVE),
            (f"{an_sig}/{n} (at most {an_max} allowed; binomial p = {binom:.2g} under the global "
             f"null, ROIs taken as independent); {_power_text(power, effect)} in every ROI",
             _no_effect(an_sig <= an_max, power, min_power)),
            (f"{diff}/{n}" + _floor_text(n_swap, reach),
             _decide(diff == n) if reach else INCONCLUSIVE)]
    return _table([_row(c, p, r, here, v) for (c, p, r), (here, v) in zip(_BRAIN, rows)])


_SEARCHLIGHT = [("Searchlight RE-AI exceeds RE-AN across the early visual areas (Fig 4)",
                 "'overall higher ... across all early visual areas'",
                 "in every subject x ROI, mean searchlight RE-AI - RE-AN > 0 with swap-test "
                 "p < 0.05")]


def searchlight_claims(table: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """The paper's Fig 4 claim: searchlight RE-AI above RE-AN across the early visual areas.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`advlib.analysis.brain_rsa` with the searchlight on (columns ``sl_diff``,
        ``p_sl_diff``: :func:`advlib.analysis.searchlight_roi_tests`).
    alpha : float

    Returns
    -------
    pandas.DataFrame
        One row, :data:`CLAIM_COLUMNS`.
    """
    if not _finite(table, "sl_diff", "p_sl_diff"):
        return no_evidence_table(_SEARCHLIGHT, _missing(table, "sl_diff", "p_sl_diff"))
    wins = int(((table.sl_diff > 0) & (table.p_sl_diff < alpha)).sum())
    n = len(table)
    centres = int(pd.to_numeric(table.get("sl_n_centres", pd.Series([0]))).min())
    here = (f"{wins}/{n} subject x ROI (mean difference {table.sl_diff.mean():+.3f}; "
            f"at least {centres} centres per ROI)")
    return _table([_row(*_SEARCHLIGHT[0], here, _decide(wins == n))])


_ENCODING = [("RE-trained models generalize to AI images (permutation p < 0.05)",
              "113/120 models", "permutation p < 0.05 in at least 113/120 of the models"),
             ("RE-trained models do not generalize to AN images",
              "111/120 models not significant",
              "permutation p >= 0.05 in at least 111/120 of the models, and power >= 0.8 that "
              "more would be significant if every model transferred with r = 0.1"),
             ("prediction accuracy is higher for AI than AN (swap test p < 0.05)",
              "all but 1 of 120", "r(AI) > r(AN) with swap-test p < 0.05 in at least 119/120 "
              "of the models (all of them below 120)")]
_FIG_S1 = [("AI", "layers 1-2", "Fig S1, AI: layers 1-2 explain early areas better than layers 7-8",
            "paired t-test p < 0.0001",
            "layers 1-2 > layers 7-8, paired t-test over subjects p < 0.0001; inconclusive "
            "when the test had power < 0.8 to reach that p for a difference of 0.1", True),
           ("AN", "layers 1-2", "Fig S1, AN: no difference between layers 1-2 and 7-8",
            "paired t-test p = 0.2351",
            "paired t-test over subjects p >= 0.05, with power >= 0.8 to detect a difference "
            "of 0.1", False),
           ("AI", "V1 vs", "Fig S1, AI: layers 7-8 gain from V1 to LO",
            "paired t-test p = 0.0004",
            "layers 7-8 stand higher in LO than in V1, paired t-test over subjects "
            "p <= 0.0004; inconclusive when the test had power < 0.8 to reach that p for a "
            "difference of 0.1", True),
           ("AN", "V1 vs", "Fig S1, AN: no such trend from V1 to LO", "paired t-test p = 0.5631",
            "paired t-test over subjects p >= 0.05, with power >= 0.8 to detect a difference "
            "of 0.1", False)]


def encoding_claims(table: pd.DataFrame, tests: pd.DataFrame | None = None,
                    alpha: float = 0.05, effect: float = EFFECT,
                    min_power: float = MIN_POWER) -> pd.DataFrame:
    """The paper's encoding claims (Fig 6, Fig S1) with the values found here.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`advlib.analysis.encoding_analysis` (an excluded model is a row without
        evidence).
    tests : pandas.DataFrame, optional
        From :func:`advlib.analysis.layer_assignment_tests` (subject-level t-tests); the
        Fig S1 rows say "no evidence" without it.
    alpha, effect, min_power : float

    Returns
    -------
    pandas.DataFrame
        :data:`CLAIM_COLUMNS`.
    """
    ai = table[table.test_kind == "AI"]
    an = table[table.test_kind == "AN"]
    paired = (len(ai) == len(an) and len(ai.merge(an, on=["subject", "roi", "layer"]))
              == len(ai))
    if paired and _finite(ai, "r", "p_perm", "p_diff") and _finite(an, "r", "p_perm"):
        n = len(ai)
        ai_sig = int((ai.p_perm < alpha).sum())
        an_ns = int((an.p_perm >= alpha).sum())
        allowed = len(an) - int(np.ceil(111 / 120 * len(an) - 1e-9))
        if {"null_mean", "null_sd"} <= set(an):
            power = at_least_power(normal_power(an.null_mean, an.null_sd, effect, alpha),
                                   allowed)
        else:
            power = float("nan")
        merged = ai.merge(an, on=["subject", "roi", "layer"], suffixes=("_ai", "_an"))
        better = int(((merged.r_ai > merged.r_an) & (merged.p_diff_ai < alpha)).sum())
        need_ai = int(np.ceil(113 / 120 * n - 1e-9))
        need_better = int(np.ceil(119 / 120 * len(merged) - 1e-9))
        rows = [_row(*_ENCODING[0], f"{ai_sig}/{n} (need {need_ai})", _decide(ai_sig >= need_ai)),
                _row(*_ENCODING[1], f"{an_ns}/{len(an)} not significant (at most {allowed} "
                     f"significant allowed); {_power_text(power, effect, 'transfer r')} in "
                     "every model", _no_effect(an_ns >= len(an) - allowed, power, min_power)),
                _row(*_ENCODING[2], f"{better}/{len(merged)} (need {need_better})",
                     _decide(better >= need_better))]
    else:
        why = (_missing(pd.concat([ai, an]), "r", "p_perm") if paired or not len(ai) else
               f"{len(ai)} AI and {len(an)} AN models that do not pair by subject, ROI and "
               "layer")
        rows = no_evidence_table(_ENCODING, why).to_dict("records")
    for kind, test, claim, paper, rule, positive in _FIG_S1:
        hit = (tests[(tests.test_kind == kind) & tests.test.str.startswith(test)]
               if tests is not None and len(tests) else pd.DataFrame())
        if len(hit) == 0 or not _finite(hit, "mean_a", "mean_b", "p"):
            why = "no test" if len(hit) == 0 else _missing(hit, "mean_a", "mean_b", "p")
            rows.append(_row(claim, paper, rule, why, NO_EVIDENCE))
            continue
        h = hit.iloc[0]
        stat = "mean accuracy" if h.get("statistic", "share") == "accuracy" else "share"
        here = (f"{stat} {h.mean_a:.3f} vs {h.mean_b:.3f}, p = {h.p:.3g} "
                f"(n = {int(h.n)} subjects)")
        if positive:
            sign_ok = h.mean_a > h.mean_b if test == "layers 1-2" else h.mean_a < h.mean_b
            level = 1e-4 if test == "layers 1-2" else 4e-4
            level_ok = h.p < level if test == "layers 1-2" else h.p <= level
            power = paired_t_power(h.get("sd_diff", np.nan), int(h.n), effect, level)
            here += f"; {_power_text(power, effect, 'difference')} at p < {level:g}"
            verdict = _positive(bool(sign_ok and level_ok), bool(not sign_ok and h.p < alpha),
                                power, min_power)
        else:
            power = paired_t_power(h.get("sd_diff", np.nan), int(h.n), effect, alpha)
            here += f"; {_power_text(power, effect, 'difference')}"
            verdict = _no_effect(bool(h.p >= alpha), power, min_power)
        rows.append(_row(claim, paper, rule, here, verdict))
    return _table(rows)


def claims_side_by_side(tables: dict) -> pd.DataFrame:
    """Several analyses' claims tables in one: the claim, the paper, then each variant.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        ``variant name -> claims table`` (:data:`CLAIM_COLUMNS`), the same claims in the
        same order.

    Returns
    -------
    pandas.DataFrame
        ``claim``, ``verdict (<variant>)`` per variant, ``rule``, ``here (<variant>)`` per
        variant, ``paper``.
    """
    expect(len(tables) > 0, "tables", tables, "at least one claims table")
    names = list(tables)
    first = tables[names[0]].reset_index(drop=True)
    out = first[["claim"]].copy()
    for name in names:
        t = tables[name].reset_index(drop=True)
        expect(t.claim.tolist() == first.claim.tolist(), f"tables[{name!r}].claim",
               t.claim.tolist()[:2], f"the claims of {names[0]!r}")
        out[f"verdict ({name})"] = t.verdict
    out["rule"] = first.rule
    for name in names:
        out[f"here ({name})"] = tables[name].reset_index(drop=True).here
    out["paper"] = first.paper
    return out
