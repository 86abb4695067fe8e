"""The claims summary and build tables (advlib/book/summary.py)."""

import pytest

from advlib.book import claims_summary
from advlib.layout import Layout


def test_claims_summary_copes_with_missing_results(tmp_path):
    table = claims_summary(Layout(tmp_path, "efficientnet_lite0"), "simulated")
    assert list(table.columns) == ["figure", "claim", "paper", "here", "holds"]
    assert len(table) == 8 and (table.claim == "(results missing)").all()
    assert table.holds.isna().all()                     # no evidence: nothing holds
    assert table.here.str.contains("run `advlib").all()


@pytest.mark.slow
def test_claims_summary_reads_the_books_results(smoke_book, results_root):
    from advlib.book.notebooks import DATASETS

    table = claims_summary(Layout(results_root, "efficientnet_lite0"), DATASETS["smoke"])
    assert not (table.claim == "(results missing)").any()
    assert table.holds.notna().all() and len(table) > 15


def test_glue_texts_refuses_keys_the_prose_cannot_name():
    import pytest

    from advlib.book import glue_texts
    from advlib.errors import InputError

    with pytest.raises(InputError, match="glue key='a b': expected a name of letters"):
        glue_texts({"a b": "1"})
