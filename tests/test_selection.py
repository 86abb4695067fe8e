"""The paper's image design: what was asked, what was found, and a shortfall that stops the
stimulus stage (advlib/cnn/selection.py; the stage's use in advlib/cnn/stimulus_set.py)."""

import pandas as pd
import pytest

from advlib.analysis import FAILS, HOLDS, design_claims, with_design
from advlib.cnn.selection import (
    PAPER_SUPERCLASSES,
    check_design,
    design_record,
    design_text,
)
from advlib.cnn.stimulus_set import check_stage_images
from advlib.errors import DesignShortfallError, StimulusError


def _selected(counts: dict) -> pd.DataFrame:
    return pd.DataFrame({"superclass": [k for k, n in counts.items() for _ in range(n)]})


def _paper(counts, **kw):
    options = dict(superclasses=list(PAPER_SUPERCLASSES), n_per_class=8, min_confidence=0.99)
    return design_record(_selected(counts), **{**options, **kw})


def test_the_papers_full_design_is_not_a_deviation():
    record = _paper({k: 8 for k in PAPER_SUPERCLASSES})
    assert record["paper"] and not record["short"] and record["deviation"] == ""
    check_design(record, "folder", 1000)                  # nothing to stop
    assert design_claims(record).verdict.tolist() == [HOLDS]


def test_a_short_design_stops_with_the_count_per_superclass_and_the_ways_out():
    record = _paper({"birds": 2, "cars": 1, "aquatic animals": 1})
    assert record["short"] and not record["paper"]
    assert design_text(record) == ("dogs 0/8, birds 2/8, cars 1/8, fruits 0/8, "
                                   "aquatic animals 1/8 at P > 0.99")
    skipped = pd.DataFrame({"reason": ["confidence 0.953 not above 0.99"] * 3 +
                            ["misclassified as 3 (p=0.5)"]})
    with pytest.raises(DesignShortfallError) as err:
        check_design(record, "imagenet-sample-images", 1000, skipped)
    text = str(err.value)
    for part in ("stimuli: the design asks for 40 regular images and the selection found 4",
                 "dogs 0/8, birds 2/8", "at P > 0.99", "from 1000 images",
                 "confidence not above the threshold 3, misclassified 1",
                 "--min-confidence", "--n-per-class", "--allow-short", "ALLOW_SHORT=1"):
        assert part in text, part
    assert isinstance(err.value, StimulusError)


def test_an_allowed_shortfall_or_a_lower_threshold_is_a_recorded_deviation():
    short = _paper({k: 5 for k in PAPER_SUPERCLASSES}, allow_short=True)
    check_design(short, "folder", 100)                     # allowed: goes on
    assert short["allow_short"] and "short of the design" in short["deviation"]
    low = _paper({k: 8 for k in PAPER_SUPERCLASSES}, min_confidence=0.5)
    assert not low["short"] and not low["paper"] and "P > 0.5 instead of" in low["deviation"]
    row = design_claims(low).iloc[0]
    assert row.verdict == FAILS and "deviation from the paper: P > 0.5" in row.here
    table = with_design(pd.DataFrame([{"claim": "c", "paper": "p", "rule": "r", "here": "h",
                                       "verdict": HOLDS}]), low)
    assert table.claim.tolist()[1] == "c" and table.verdict.tolist() == [FAILS, HOLDS]


def test_without_a_design_all_that_qualify_is_never_short():
    record = design_record(_selected({"": 17}), min_confidence=None)
    assert not record["short"] and record["found"] == {"all": 17}
    assert "17 images, one per category" in record["deviation"]
    asked = design_record(_selected({"": 3}), n_images=4)
    assert asked["short"] and design_text(asked).startswith("all 3/4")


def test_a_stage_below_its_minimum_names_itself_and_the_count():
    check_stage_images("CNN RSA", 4, 4, "six pairs")
    with pytest.raises(StimulusError, match=r"encoding: the stimulus set has 3 usable regular "
                       r"images .* the encoding stage needs at least 5 \(5-fold"):
        check_stage_images("encoding", 3, 5, "5-fold cross-validation")


def _embedded_csv(tmp_path):
    from advlib.cnn.images import embedded_images

    rows = [f"{s.path},{s.label}" for s in embedded_images()]
    path = tmp_path / "embedded.csv"
    path.write_text("path,label\n" + "\n".join(rows) + "\n")
    return path


def test_the_command_line_stops_a_short_design_before_any_adversarial_image(tmp_path, capsys):
    from advlib.cli import main

    out = tmp_path / "stim"
    code = main(["stimuli", "--out", str(out), "--images", str(_embedded_csv(tmp_path)),
                 "--superclasses", "dogs", "birds", "--n-per-class", "8"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "dogs 2/8, birds 2/8 (no confidence criterion)" in err
    assert not out.exists() and not list(tmp_path.glob("*partial*"))


def test_reproduce_stops_at_the_stimulus_stage(tmp_path):
    from advlib.book import reproduce

    results = tmp_path / "results"
    with pytest.raises(DesignShortfallError, match="dogs 0/8"):
        reproduce(images=_embedded_csv(tmp_path), paper_design=True, results=results,
                  out=tmp_path / "gen", notebooks=False, book=False, progress=False)
    assert not list(results.rglob("cnn_rsa*")) and not list(results.rglob("sub-*"))


def test_an_allowed_shortfall_builds_and_shows_on_the_first_page(model, tmp_path):
    from advlib.book.notebooks import DATASETS
    from advlib.book.pipeline import _write_built_with
    from advlib.cnn.stimulus_set import build_stimulus_set, load_design

    stim = tmp_path / "stim"
    options = dict(images=str(_embedded_csv(tmp_path)), superclasses=["dogs"], n_per_class=8,
                   max_steps=3)
    manifest = build_stimulus_set(model, stim, progress=False, allow_short=True, **options)
    assert (manifest.kind == "RE").sum() == 2
    record = load_design(stim)
    assert record["short"] and record["allow_short"] and record["found"] == {"dogs": 2}
    assert "short of the design (dogs 2/8" in record["deviation"]
    assert design_claims(record).verdict.tolist() == [FAILS]
    info = {"dataset": DATASETS["smoke"], "model": model.name, "profile": "smoke",
            "model_provenance": model.provenance()}
    _write_built_with(tmp_path / "built_with.md", info, stim, options,
                      [{"computed": "2026-12-04T10:00:00"}, {"computed": None}])
    page = (tmp_path / "built_with.md").read_text()
    assert "2 regular images" in page and "**Deviation from the paper**" in page
    assert "results computed 2026-12-04" in page


def test_design_counts_per_threshold_and_the_first_that_fills(tmp_path, capsys):
    from advlib.cli import main

    csv = str(_embedded_csv(tmp_path))
    args = ["design-counts", "--images", csv, "--superclasses", "dogs", "birds",
            "--n-per-class", "2", "--thresholds", "0.999999", "0"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["threshold", "dogs", "birds", "total", "requested", "full"]
    assert lines[2].split() == ["0.000000", "2", "2", "4", "4", "True"]
    assert main(args + ["--first-full"]) == 0 and capsys.readouterr().out.strip() == "0"
    assert main(args[:-1] + ["--first-full"]) == 2
    assert "no threshold of [0.999999] fills 2 images" in capsys.readouterr().err
