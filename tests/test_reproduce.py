"""advlib reproduce (advlib/reproduce.py): the chain runs once, then only what changed."""
import json

import pytest

from advlib.book import PROFILES, notebook_plan, reproduce
from advlib.errors import InputError


@pytest.mark.slow
def test_first_run_builds_everything_and_records_it(smoke_book):
    root, log = smoke_book
    outputs = [item["output"] for item in notebook_plan("smoke")]
    assert log[log.stage == "notebooks"].item.tolist() == outputs
    assert "03_fmri_sub-01" in outputs and "04_brain_rsa_s2" in outputs
    assert (log.status != "failed").all() and log.stage.tolist()[-1] == "book"
    assert (root / "_build" / "html" / "index.html").is_file()
    info = json.loads((root / "book" / "generated" / "build_info.json").read_text())
    assert info["profile"] == "smoke" and len(info["stages"]) == len(log)
    assert {"torch", "numpy", "advlib"} <= set(info["versions"])


@pytest.mark.slow
def test_second_run_redoes_only_what_a_changed_parameter_touches(smoke_book, results_root,
                                                                 monkeypatch):
    root, _ = smoke_book
    out = root / "book" / "generated"
    again = reproduce(profile="smoke", results=results_root, out=out, book=False,
                      progress=False).set_index("item")
    ran = set(again.index[again.status == "ran"])
    assert ran == {"07_summary"}                       # the summary always shows this run
    monkeypatch.setitem(PROFILES["smoke"]["05_encoding"], "n_perm", 30)
    changed = reproduce(profile="smoke", results=results_root, out=out, book=False,
                        progress=False).set_index("item")
    assert set(changed.index[changed.status == "ran"]) == {"encoding.csv", "05_encoding",
                                                           "07_summary"}


def test_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="profile='quick': expected one of full, smoke"):
        reproduce(profile="quick", results=tmp_path)
    with pytest.raises(InputError, match="jobs=0: expected a positive integer"):
        reproduce(jobs=0, results=tmp_path)
