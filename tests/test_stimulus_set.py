"""Reading a stimulus set's manifest strictly (advlib/cnn/stimulus_set.py)."""

import pandas as pd
import pytest
from PIL import Image

from advlib.cnn import load_manifest
from advlib.errors import StimulusError


@pytest.fixture
def stim(tmp_path):
    rows = []
    for i in range(4):
        for kind in ("RE", "AN", "AI"):
            rel = f"{kind}/{kind.lower()}{i:02d}.png"
            (tmp_path / kind).mkdir(exist_ok=True)
            Image.new("RGB", (8, 8)).save(tmp_path / rel)
            rows.append({"image_id": f"{kind.lower()}{i:02d}", "kind": kind,
                         "source_id": f"re{i:02d}", "path": rel, "true_label": i,
                         "target_label": i + 1 if kind == "AI" else i, "predicted_label": i,
                         "p_predicted": 1.0, "p_target": 1.0, "n_steps": 3,
                         "converged": kind != "AN" or i != 1, "l2": 0.0, "linf": 0.0,
                         "psnr": 40.0})
    pd.DataFrame(rows).to_csv(tmp_path / "manifest.csv", index=False)
    return tmp_path


def _edit(stim, fn):
    m = pd.read_csv(stim / "manifest.csv", dtype={"converged": object})
    fn(m).to_csv(stim / "manifest.csv", index=False)


def test_a_good_manifest_reads_with_boolean_flags(stim):
    m = load_manifest(stim)
    assert m.converged.dtype == bool and int((~m.converged).sum()) == 1


@pytest.mark.parametrize("value", ["False", "false", "0"])
def test_false_strings_are_false(stim, value):
    _edit(stim, lambda m: m.assign(converged=["True"] * 11 + [value]))
    assert load_manifest(stim).converged.tolist() == [True] * 11 + [False]


@pytest.mark.parametrize("value", ["yes", "garbage", ""])
def test_a_garbage_converged_cell_is_an_error_not_true(stim, value):
    def bad(m):
        m.loc[5, "converged"] = value
        return m
    _edit(stim, bad)
    what = "manifest.csv rows" if value == "" else "manifest.csv converged"
    with pytest.raises(StimulusError, match=what):
        load_manifest(stim)


def test_duplicated_rows_are_refused(stim):
    _edit(stim, lambda m: pd.concat([m, m.iloc[[3]]], ignore_index=True))
    with pytest.raises(StimulusError, match="image_id=\\['re01'\\]: expected each image once"):
        load_manifest(stim)


def test_a_truncated_last_row_is_refused(stim):
    text = (stim / "manifest.csv").read_text().rstrip("\n")
    (stim / "manifest.csv").write_text(text[: text.rfind(",", 0, text.rfind("\n") + 40)] + "\n")
    with pytest.raises(StimulusError, match="truncated file"):
        load_manifest(stim)


@pytest.mark.parametrize("content", ["", "image_id,kind,source_id,path,true_label,target_label,"
                                         "predicted_label,p_predicted,p_target,n_steps,"
                                         "converged,l2,linf,psnr\n"])
def test_an_empty_manifest_is_a_clear_error(stim, content):
    (stim / "manifest.csv").write_text(content)
    with pytest.raises(StimulusError, match="manifest.csv"):
        load_manifest(stim)
