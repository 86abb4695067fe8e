"""The claims tables judge by the paper's own criteria, with three verdicts
(advlib/analysis/claims.py)."""

import numpy as np
import pandas as pd
import pytest

from advlib.analysis import (
    CLAIM_COLUMNS,
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    NO_EVIDENCE,
    brain_claims,
    claims_side_by_side,
    cnn_claims,
    encoding_claims,
    searchlight_claims,
    stimulus_claims,
    verdict_counts,
)


def _brain(n=15, **cols):
    base = {"subject": ["sub-01"] * n, "roi": (["V1", "V2", "V3", "V4", "LO"] * 3)[:n],
            "re_an": [0.1] * n, "re_ai": [0.6] * n, "p_perm_re_an": [0.5] * n,
            "p_perm_re_ai": [0.001] * n, "p_diff": [1 / 10001] * n,
            "null_mean_re_an": [0.0] * n, "null_sd_re_an": [0.03] * n, "n_perm": [1000] * n,
            "n_swap": [10000] * n, "sl_diff": [0.2] * n, "p_sl_diff": [0.005] * n,
            "sl_n_centres": [100] * n, "excluded": [""] * n}
    return pd.DataFrame({**base, **cols})


def _cnn(**cols):
    base = {"layer": [f"layer{i}" for i in range(1, 9)],
            "re_an": [0.0, 0.05, 0.2, 0.3, 0.35, 0.4, 0.45, 0.9],
            "re_ai": [0.9, 0.85, 0.8, 0.7, 0.65, 0.6, 0.5, 0.3],
            "p_perm_re_an": [0.4, 0.3, 0.01, 0.001, 0.001, 0.001, 0.001, 0.001],
            "p_perm_re_ai": [1 / 1001] * 8, "p_diff": [0.001] * 6 + [0.4, 0.001],
            "null_mean_re_an": [0.0] * 8, "null_sd_re_an": [0.03] * 8, "n_perm": [1000] * 8,
            "n_swap": [10000] * 8}
    return pd.DataFrame({**base, **cols})


def _trend(ai_p=0.001, an_p=0.0004):
    return pd.DataFrame({"similarity": ["re_an", "re_ai"],
                         "trend": ["increasing", "decreasing"], "tau": [0.9, -0.9],
                         "p": [an_p, ai_p], "s": [26.0, -26.0], "p_method": ["exact"] * 2})


def _encoding(n=12, ai_p=0.001, an_p=0.5, diff=0.001, an_sd=0.05):
    rows = []
    for i in range(n):
        for kind, r, p, sd in (("AI", 0.5, ai_p, 0.05), ("AN", 0.0, an_p, an_sd)):
            rows.append({"subject": f"sub-{i // 4 + 1:02d}", "roi": ["V1", "V2", "V3", "V4"][i % 4],
                         "layer": "layer1", "test_kind": kind, "r": r, "p_perm": p,
                         "p_diff": diff, "null_mean": 0.0, "null_sd": sd, "excluded": ""})
    return pd.DataFrame(rows)


def _tests(ai_p=1e-5, an_p=0.5, sd=0.01):
    return pd.DataFrame([
        {"test_kind": "AI", "test": "layers 1-2 vs 7-8", "mean_a": 0.4, "mean_b": 0.1,
         "sd_diff": sd, "t": 30.0, "p": ai_p, "n": 3},
        {"test_kind": "AN", "test": "layers 1-2 vs 7-8", "mean_a": 0.2, "mean_b": 0.21,
         "sd_diff": sd, "t": 0.5, "p": an_p, "n": 3},
        {"test_kind": "AI", "test": "V1 vs LO (share of layers 7-8)", "mean_a": 0.1,
         "mean_b": 0.3, "sd_diff": sd, "t": -40.0, "p": 1e-4, "n": 3},
        {"test_kind": "AN", "test": "V1 vs LO (share of layers 7-8)", "mean_a": 0.2,
         "mean_b": 0.2, "sd_diff": sd, "t": 0.1, "p": an_p, "n": 3}])


def test_brain_claims_use_the_papers_thresholds():
    assert (brain_claims(_brain()).verdict == HOLDS).all()
    assert list(brain_claims(_brain()).columns) == CLAIM_COLUMNS
    assert brain_claims(_brain(p_perm_re_ai=[0.001] * 14 + [0.006])).verdict[0] == FAILS
    assert brain_claims(_brain(p_perm_re_an=[0.01] * 4 + [0.5] * 11)).verdict[1] == HOLDS
    assert brain_claims(_brain(p_perm_re_an=[0.01] * 5 + [0.5] * 10)).verdict[1] == FAILS
    assert brain_claims(_brain(p_diff=[2e-4] * 15)).verdict[2] == FAILS       # p >= 0.0001
    short = brain_claims(_brain(n_swap=[1000] * 15, p_diff=[1 / 1001] * 15)).iloc[2]
    assert short.verdict == INCONCLUSIVE and "cannot be reached" in short.here


def test_no_effect_claims_need_power():
    # a wide null (sd 0.2): an RE-AN of 0.1 would rarely be detected -> inconclusive
    wide = brain_claims(_brain(null_sd_re_an=[0.2] * 15)).iloc[1]
    assert wide.verdict == INCONCLUSIVE and "power 0.0" in wide.here
    no_null = brain_claims(_brain().drop(columns=["null_sd_re_an"])).iloc[1]
    assert no_null.verdict == INCONCLUSIVE and "power unknown" in no_null.here
    enc = encoding_claims(_encoding(an_sd=0.3), _tests())
    assert enc.verdict[1] == INCONCLUSIVE
    assert encoding_claims(_encoding(), _tests()).verdict[1] == HOLDS
    # Fig S1 AN with 3 subjects and a wide spread of differences: inconclusive
    assert encoding_claims(_encoding(), _tests(sd=0.2)).verdict[4] == INCONCLUSIVE
    assert encoding_claims(_encoding(), _tests(sd=0.01)).verdict[4] == HOLDS


def test_cnn_claims_use_the_papers_criteria():
    claims = cnn_claims(_cnn(), _trend())
    assert (claims.verdict == HOLDS).all(), claims
    # layers 1-6 must each show RE-AI > RE-AN at p < 0.05 (not just the point estimate)
    weak = cnn_claims(_cnn(p_diff=[0.001] * 5 + [0.2, 0.4, 0.001]), _trend())
    assert weak.verdict[5] == FAILS
    assert cnn_claims(_cnn(), _trend(an_p=0.002)).verdict[3] == FAILS   # needs p < 0.001
    wide = cnn_claims(_cnn(null_sd_re_an=[0.3] * 8), _trend())
    assert wide.verdict[2] == INCONCLUSIVE


@pytest.mark.parametrize("kind", ["empty", "nan", "excluded"])
def test_a_claim_without_evidence_never_holds(kind):
    def broken(frame, cols):
        if kind == "empty":
            return frame.iloc[0:0]
        out = frame.copy()
        for c in cols:
            out[c] = np.nan
        if kind == "excluded":
            out["excluded"] = "3 vertices selected"
        return out

    stat = ["re_an", "re_ai", "p_perm_re_an", "p_perm_re_ai", "p_diff", "sl_diff", "p_sl_diff"]
    tables = [brain_claims(broken(_brain(), stat)), searchlight_claims(broken(_brain(), stat)),
              cnn_claims(broken(_cnn(), stat[:5]), _trend()),
              encoding_claims(broken(_encoding(), ["r", "p_perm", "p_diff"]),
                              broken(_tests(), ["mean_a", "mean_b", "p"])),
              encoding_claims(broken(_encoding(), ["r", "p_perm", "p_diff"]), None)]
    if kind == "empty":
        tables.append(stimulus_claims(pd.DataFrame(columns=["kind"])))
    for table in tables:
        assert list(table.columns) == CLAIM_COLUMNS
        assert (table.verdict == NO_EVIDENCE).all(), table


def test_one_excluded_roi_means_no_evidence_for_an_every_roi_claim():
    table = _brain()
    table.loc[3, ["re_an", "re_ai", "p_perm_re_an", "p_perm_re_ai", "p_diff"]] = np.nan
    out = brain_claims(table)
    assert (out.verdict == NO_EVIDENCE).all() and "1 of 15 rows" in out.here[0]


def test_searchlight_claim_needs_every_roi_significant():
    assert searchlight_claims(_brain()).verdict[0] == HOLDS
    row = searchlight_claims(_brain(p_sl_diff=[0.005] * 14 + [0.2])).iloc[0]
    assert row.verdict == FAILS and row.here.startswith("14/15")


def test_side_by_side_and_counts():
    both = claims_side_by_side({"a": brain_claims(_brain()),
                                "b": brain_claims(_brain(p_diff=[0.5] * 15))})
    assert both["verdict (b)"].tolist() == [HOLDS, HOLDS, FAILS]
    counts = verdict_counts(brain_claims(_brain(null_sd_re_an=[0.2] * 15)))
    assert counts == {HOLDS: 2, FAILS: 0, NO_EVIDENCE: 0, INCONCLUSIVE: 1}


def test_an_unreachable_p_floor_is_inconclusive_not_a_failure():
    # 150 permutations allow p >= 0.0066: the brain's p < 0.005 cannot be met
    brain = brain_claims(_brain(n_perm=[150] * 15, p_perm_re_ai=[1 / 151] * 15)).iloc[0]
    assert brain.verdict == INCONCLUSIVE and "cannot be reached" in brain.here
    cnn = cnn_claims(_cnn(n_perm=[500] * 8, p_perm_re_ai=[1 / 501] * 8), _trend()).iloc[0]
    assert cnn.verdict == INCONCLUSIVE and "0.002" in cnn.here


def test_ai_beats_an_needs_every_model_below_120_and_paired_rows():
    one = _encoding(n=1, diff=0.9)
    one.loc[one.test_kind == "AN", "r"] = 0.8          # AN above AI, not significant
    row = encoding_claims(one, _tests()).iloc[2]
    assert row.verdict == FAILS and row.here == "0/1 (need 1)"
    # AN rows dropped (not NaN): the AI-only models are no evidence, not a smaller count
    table = _encoding()
    unpaired = table.drop(table.index[(table.test_kind == "AN")][6:])
    out = encoding_claims(unpaired, _tests())
    assert (out.verdict[:3] == NO_EVIDENCE).all() and "do not pair" in out.here[0]


def test_fig_s1_positive_claims_are_inconclusive_without_the_power_to_reach_the_papers_p():
    # 3 subjects: p < 0.0001 needs |t| > 100; p = 0.01 in the right direction is no failure
    weak = _tests(ai_p=0.01, sd=0.05)
    assert encoding_claims(_encoding(), weak).verdict[3] == INCONCLUSIVE
    # the other direction, significant: does not hold
    other = _tests(ai_p=0.01, sd=0.05)
    other.loc[0, ["mean_a", "mean_b"]] = [0.1, 0.4]
    assert encoding_claims(_encoding(), other).verdict[3] == FAILS
    # with the power to reach it (tiny spread), missing the level is a failure
    assert encoding_claims(_encoding(), _tests(ai_p=0.01, sd=1e-4)).verdict[3] == FAILS
