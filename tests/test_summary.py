"""The claims summary and build tables (advlib/book/summary.py)."""

import pytest

from advlib.book import claims_summary
from advlib.layout import Layout


def test_claims_summary_copes_with_missing_results(tmp_path):
    table = claims_summary(Layout(tmp_path, "efficientnet_lite0"), "simulated")
    assert list(table.columns) == ["figure", "evidence", "claim", "paper", "rule", "here",
                                   "verdict"]
    assert len(table) == 9 and (table.claim == "(results missing)").all()
    assert (table.verdict == "no evidence").all()       # no evidence: nothing holds
    assert set(table.evidence) == {"real (CNN on real images)", "simulated observer"}
    assert table.here.str.contains("run `advlib").all()


@pytest.mark.slow
def test_claims_summary_reads_the_books_results(smoke_book, results_root):
    from advlib.book.notebooks import DATASETS

    table = claims_summary(Layout(results_root, "efficientnet_lite0"), DATASETS["smoke"])
    assert not (table.claim == "(results missing)").any()
    assert table.verdict.isin(["holds", "does not hold", "inconclusive", "no evidence"]).all()
    assert len(table) > 15
    # the CNN on real images always gives evidence; a brain row without it says why (the
    # smoke profile's one subject: no subject-level Fig S1 test, a tiny ROI excluded)
    real = table[table.evidence.str.startswith("real")]
    assert len(real) and (real.verdict != "no evidence").all()
    missing = table[table.verdict == "no evidence"]
    assert (missing.here.str.len() > 0).all()


def test_glue_texts_refuses_keys_the_prose_cannot_name():
    import pytest

    from advlib.book import glue_texts
    from advlib.errors import InputError

    with pytest.raises(InputError, match="glue key='a b': expected a name of letters"):
        glue_texts({"a b": "1"})
