"""The claims summary and build tables (advlib/book/summary.py)."""

import pandas as pd
import pytest

from advlib.book import claims_summary
from advlib.errors import InputError
from advlib.layout import Layout


def test_claims_summary_copes_with_missing_results(tmp_path):
    table = claims_summary(Layout(tmp_path, "efficientnet_lite0"), "simulated")
    assert list(table.columns) == ["claim", "verdict", "figure", "evidence", "rule", "here",
                                   "paper"]
    assert len(table) == 11 and (table.claim == "(results missing)").all()
    assert (table.verdict == "no evidence").all()       # no evidence: nothing holds
    assert set(table.evidence) == {"real (CNN on real images)", "simulated observer",
                                   "real (human IT fMRI, 92 objects)"}
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


def test_summary_numbers_keep_real_and_simulated_evidence_apart():
    import pandas as pd

    from advlib.book import summary_numbers

    claims = pd.DataFrame({
        "figure": ["Fig 1", "Fig 2", "Fig 3", "Fig 3", "hIT"],
        "evidence": ["real (CNN on real images)"] * 2 + ["simulated observer"] * 2
        + ["real (human IT fMRI, 92 objects)"],
        "claim": ["a", "b", "c", "d", "e"],
        "verdict": ["holds", "does not hold", "holds", "inconclusive", "holds"]})
    numbers = summary_numbers(claims)
    assert numbers["sum_real"] == ("2 claims: 1 hold, 1 does not hold, 0 no evidence, "
                                   "0 inconclusive")
    assert numbers["sum_brain"] == ("2 claims: 1 hold, 0 does not hold, 0 no evidence, "
                                    "1 inconclusive")
    assert numbers["sum_real_fails"] == "b (Fig 2)"
    assert numbers["sum_hit"] == ("1 claims: 1 hold, 0 does not hold, 0 no evidence, "
                                  "0 inconclusive")
    assert numbers["sum_brain_source"] == "simulated observer"


def test_glue_texts_refuses_keys_the_prose_cannot_name():
    import pytest

    from advlib.book import glue_texts
    from advlib.errors import InputError

    with pytest.raises(InputError, match="glue key='a b': expected a name of letters"):
        glue_texts({"a b": "1"})


def test_a_chapter_conclusion_lists_the_verdicts_and_names_the_evidence():
    import pandas as pd

    from advlib.book import conclusion

    claims = pd.DataFrame({"claim": ["a", "b", "c"],
                           "verdict": ["holds", "does not hold", "inconclusive"]})
    real = conclusion(claims, simulated=False, subject="this network").data
    assert "**hold**: a." in real and "**Do not hold**: b." in real
    assert "**Inconclusive**" in real and ": c." in real and "**No evidence**: none." in real
    assert "real computation** on this network" in real
    sim = conclusion(claims, simulated=True).data
    assert "simulated observer" in sim and "not on a brain" in sim


def test_a_wide_table_shows_chosen_columns_and_downloads_whole():
    import base64
    import io
    import re

    from advlib import table_view

    table = pd.DataFrame({"roi": ["V1", "V2"], "re_ai": [0.123456, 0.5], "extra": [1, 2]})
    out = table_view(table, ["roi", "re_ai"], "brain_rsa.csv").data
    assert "<th>roi</th>" in out and "0.123" in out and "0.1235" not in out
    assert "<th>extra</th>" not in out and "2 rows x 3 columns" in out
    data = re.search(r'download="brain_rsa.csv" href="data:text/csv;base64,([^"]+)"', out)
    back = pd.read_csv(io.StringIO(base64.b64decode(data.group(1)).decode()))
    pd.testing.assert_frame_equal(back, table)                     # every digit, every column
    with pytest.raises(InputError, match=r"columns=\['p_diff'\].*expected columns of the "
                                         r"table \(roi, re_ai, extra\)"):
        table_view(table, ["roi", "p_diff"], "x.csv")
    with pytest.raises(InputError, match="name='x/y.txt'"):
        table_view(table, ["roi"], "x/y.txt")


def test_dataset_page_names_the_folders_and_what_the_data_are(small_dataset, tmp_path):
    """The shared start of the dataset chapters: a simulated dataset given as a folder is
    tagged SIMULATED; its results go where the layout puts that dataset's results."""
    from advlib.book.summary import dataset_page

    page = dataset_page(tmp_path, "efficientnet_lite0", str(small_dataset))
    layout = Layout(tmp_path, "efficientnet_lite0")
    assert page.data_dir == layout.data_dir(str(small_dataset))
    assert page.out_dir == layout.dataset_dir(str(small_dataset))
    assert page.stim_dir == layout.stimuli_dir
    assert page.simulated is True and page.tag == "SIMULATED observer"
    layout_, stim_dir, data_dir, out_dir, simulated, tag = page         # as notebooks unpack it
    assert tag == page.tag
