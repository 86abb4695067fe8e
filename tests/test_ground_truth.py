"""Estimates against the simulated truth (advlib/analysis/ground_truth.py)."""

import numpy as np
import pytest

from advlib.analysis import GROUND_TRUTH_COLUMNS, ground_truth_rsa, ground_truth_summary, true_subject
from advlib.fmri import DataError, load_subject


def test_truth_beside_each_variant(small_dataset, stim_dir):
    table = ground_truth_rsa(small_dataset, stim_dir, n_vertices=40, n_perm=20, n_boot=20)
    assert list(table.columns) == GROUND_TRUTH_COLUMNS
    assert set(zip(table.normalize, table.permutation)) == {
        ("none", "across sessions"), ("none", "within session"), ("center", "within session"),
        ("zscore", "within session")}
    assert np.isfinite(table[["truth_re_an", "truth_re_ai", "re_an", "re_ai"]]).all().all()
    # the observer sees AI as RE with a small change, AN as something else
    assert (table.truth_re_ai > table.truth_re_an).mean() > 0.8
    none = table[table.normalize == "none"]
    # one vertex set for both uncentred variants; the truth is compared as the estimate is
    # (plain Spearman as published, partial given the pairs' sessions within sessions)
    assert (none.groupby("roi").n_vertices.nunique() == 1).all()
    gap = none.groupby("roi").truth_re_an.agg(lambda v: v.max() - v.min())
    assert (gap > 0).any() and np.isfinite(gap).all()
    summary = ground_truth_summary(table.assign(snr=0.8, design="paper"), n_boot=20)
    assert len(summary) == 4 and summary.n.tolist() == [5] * 4
    assert np.allclose(summary.bias_re_an, (table.re_an - table.truth_re_an)
                       .groupby([table.normalize, table.permutation], sort=False).mean().values)


def test_real_data_have_no_truth(small_dataset, tmp_path):
    import shutil

    sub = load_subject(small_dataset / "sub-01")
    shutil.copytree(small_dataset / "sub-01", tmp_path / "sub-01")
    shutil.rmtree(tmp_path / "sub-01" / "simulation")
    with pytest.raises(DataError, match="real data have no truth"):
        true_subject(sub, tmp_path / "sub-01")
