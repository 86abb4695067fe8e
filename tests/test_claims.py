"""The claims tables judge by the paper's own criteria (advlib/analysis/claims.py)."""

import numpy as np
import pandas as pd

from advlib.analysis import brain_claims, searchlight_claims, smallest_bootstrap_p


def _table(n=15, **cols):
    base = {"re_an": [0.1] * n, "re_ai": [0.6] * n, "p_perm_re_an": [0.5] * n,
            "p_perm_re_ai": [0.001] * n, "p_diff": [smallest_bootstrap_p(1000)] * n}
    return pd.DataFrame({**base, **cols})


def test_brain_claims_use_the_papers_thresholds():
    assert brain_claims(_table()).holds.all()
    assert not brain_claims(_table(p_perm_re_ai=[0.001] * 14 + [0.006])).holds[0]  # p < 0.005
    assert brain_claims(_table(p_perm_re_an=[0.01] * 4 + [0.5] * 11)).holds[1]     # 4/15 ok
    assert not brain_claims(_table(p_perm_re_an=[0.01] * 5 + [0.5] * 10)).holds[1]  # 5/15 not
    row = brain_claims(_table(p_diff=[0.003] * 15)).iloc[2]
    assert not row.holds and "the smallest 1000 resamples allow" in row.here
    many = brain_claims(_table(p_diff=[5e-5] * 15), n_boot=40000).iloc[2]
    assert many.holds and "p < 0.0001" in many.here


def test_a_claim_with_no_evidence_never_holds():
    empty = brain_claims(_table(0))
    assert len(empty) == 3 and not empty.holds.any() and (empty.here == "no results (0 rows)").all()
    assert not searchlight_claims({}).holds.any()


def test_searchlight_claim_counts_subject_rois():
    verts = pd.DataFrame({"roi": ["V1"] * 3 + ["V2"] * 3})
    good = {"re_an": np.array([0.1, 0.2, 0.0, 0.1, np.nan, 0.1]),
            "re_ai": np.array([0.5, 0.6, 0.4, 0.3, 0.2, np.nan])}
    assert searchlight_claims({"sub-01": (verts, good)}).holds.all()
    bad = {"re_an": good["re_ai"], "re_ai": good["re_an"]}
    row = searchlight_claims({"sub-01": (verts, good), "sub-02": (verts, bad)}).iloc[0]
    assert not row.holds and row.here.startswith("2/4")
