"""The ground-truth study on the cheap path (advlib/analysis/ground_truth_study.py)."""

import numpy as np
import pandas as pd
import pytest

from advlib.analysis import (
    SNR_RULE,
    observer_study,
    path_check,
    snr_rule,
    study_claims,
    study_numbers,
    study_reliability,
    study_seed,
    study_summary,
    study_tests,
)
from advlib.errors import InputError
from advlib.fmri.searchlight import geodesic_disks
from advlib.layout import Layout


def _models(synthetic_observer, n_subjects=2, n_sources=16):
    models, manifest = {}, None
    for subject in range(1, n_subjects + 1):
        cortex, resp, manifest = synthetic_observer(n_sources=n_sources, seed=subject)
        disks = geodesic_disks(cortex.vertices[["x_mm", "y_mm"]].to_numpy(), cortex.faces, 3.0)
        models[subject] = (cortex, resp, disks)
    return models, manifest


@pytest.mark.slow          # a simulation study of about 10 s: in `make test`, not the fast loop
def test_the_planted_null_is_an_exact_null_for_the_default_analysis(synthetic_observer):
    """Under the planted null (AN = RE of other images of the session) the default analysis
    calls RE-AN significant at its level; as published, with a session offset shared by an
    image and its twins, far above it. 32 datasets x 2 subjects x 5 ROIs = 320 tests."""
    models, manifest = _models(synthetic_observer)
    noise = {"within": 0.445, "session": 0.4, "vertex": 0.0}   # a strong session offset
    tables = [study_seed(models, manifest, snr=0.5, design="paper", seed=k, n_perm=199,
                         n_swap=0, n_vertices=60, noise=noise) for k in range(32)]
    table = pd.concat(tables, ignore_index=True)
    summary = study_summary(table, alpha=0.05)
    default = summary[summary.normalize == "center"].iloc[0]
    published = summary[summary.normalize == "none"].iloc[0]
    assert default.n_seeds == 32 and default.n_rois == 10
    assert 0.02 <= default.type1_re_an <= 0.08
    assert 0 < default.type1_re_an_se < 0.03                     # a rate with its SE
    assert published.type1_re_an > 0.2
    # the observer's AI shares RE's signal: found most of the time at this SNR
    observer = table[(table.data == "observer") & (table.normalize == "center")]
    assert (observer.p_perm_re_ai < 0.05).mean() > 0.8


def test_the_study_selects_the_vertices_the_book_selects(synthetic_observer):
    """The study computes the reliability map at the ROIs' vertices only; its selection and
    split-half values are those of the book's select_subject on the same betas."""
    from advlib.analysis.ground_truth_study import _selection
    from advlib.fmri import select_subject
    from advlib.fmri.simulation import session_plan, simulate_betas

    models, manifest = _models(synthetic_observer, 1)
    cortex, resp, disks = models[1]
    plan = session_plan(manifest, seed=0)
    sub, _ = simulate_betas(resp, manifest, plan, cortex, snr=1.0, seed=np.random.default_rng(1),
                            name="sub-01")
    _, book, split = select_subject(sub, n_per_hemi=20, disks=disks, n_random=0)
    cache = {}
    mine, mine_split = _selection(sub, disks, 20, cache)
    pd.testing.assert_frame_equal(mine, book)
    assert mine_split == split.set_index("roi").split_half_selected.to_dict()
    assert _selection(sub, disks, 20, cache)[0] is mine and len(cache) == 1


def test_rates_and_their_standard_errors_over_seeds():
    rows = []
    for seed, hits in ((0, [1, 0, 0, 0]), (1, [1, 1, 0, 0]), (2, [0, 0, 0, 0])):
        for data in ("observer", "planted_null"):
            for i, h in enumerate(hits):
                rows.append({"design": "paper", "snr": 1.0, "seed": seed, "subject": "sub-01",
                             "data": data, "roi": f"r{i}", "normalize": "center",
                             "permutation": "within session", "split_half": 0.5,
                             "truth_re_an": 0.0, "truth_re_ai": 0.9, "re_an": 0.1 * h,
                             "re_ai": 0.8, "p_perm_re_an": 0.01 if h else 0.5,
                             "p_perm_re_ai": 0.001, "p_diff": 1e-5})
    summary = study_summary(pd.DataFrame(rows))
    per_seed = np.array([0.25, 0.5, 0.0])
    assert summary.type1_re_an.iloc[0] == pytest.approx(per_seed.mean())
    assert summary.type1_re_an_se.iloc[0] == pytest.approx(per_seed.std(ddof=1) / np.sqrt(3))
    assert summary.bias_re_an.iloc[0] == pytest.approx(0.1 * per_seed.mean())
    assert summary.power_re_ai.iloc[0] == 1.0 and summary.power_re_ai_se.iloc[0] == 0.0
    assert summary.expected_re_ai.iloc[0] == SNR_RULE["of"]
    assert summary.datasets_re_ai.iloc[0] == 1.0       # every dataset: 4/4 ROIs significant


def _summary(powers):
    return pd.DataFrame([{"design": "paper", "snr": s, "normalize": "center",
                          "permutation": "within session", "power_re_ai": p,
                          "power_re_ai_se": 0.01, "n_seeds": 20, "type1_re_an": 0.05,
                          "type1_re_an_se": 0.01, "bias_re_an": 0.0, "bias_re_an_se": 0.0,
                          "power_diff": 0.5, "power_diff_se": 0.02, "datasets_re_ai": p,
                          "datasets_re_ai_se": 0.05}
                         for s, p in powers.items()])


def test_the_snr_rule_is_the_smallest_snr_reaching_14_of_15():
    assert snr_rule(_summary({0.4: 0.2, 0.8: 0.9, 1.6: 0.94, 3.2: 1.0})) == 1.6
    assert snr_rule(_summary({0.4: 0.2, 0.8: 14 / 15, 1.6: 0.9})) == 0.8     # at the bar
    assert np.isnan(snr_rule(_summary({0.4: 0.2, 0.8: 0.9})))
    numbers = study_numbers(_summary({0.8: 0.9, 1.6: 0.95}), 1.6)
    assert numbers["st_rule_snr"] == "1.6" and numbers["st_rule_met"] == "yes"
    assert numbers["st_type1_default"] == "5.0% ± 1.0"
    assert numbers["st_level_default"] == "keeps its level"
    assert study_numbers(_summary({0.8: 0.9, 1.6: 0.95}), 0.8)["st_rule_met"] == "no"
    close = study_numbers(_summary({0.8: 0.93, 1.6: 0.99}), 1.6)["st_rule_note"]
    assert close.startswith("at SNR 0.8 the share (93.0% ± 1.0) is within 2")
    tests = study_tests(_summary({0.8: 0.9, 3.2: 1.0}), 2.0)       # the grid's nearest SNR
    assert set(tests.snr) == {3.2} and set(tests.analysis) == {
        "default (centred, within session, partial)"}
    assert study_numbers(_summary({0.8: 0.9, 3.2: 1.0}), 1.0)["st_study_snr"] == "0.8"
    with pytest.raises(InputError, match="design"):
        study_tests(_summary({0.8: 0.9}), 0.8, design="interleaved")


def test_verdicts_per_seed_and_the_full_path_beside_the_seeds(synthetic_observer):
    models, manifest = _models(synthetic_observer, n_subjects=1)
    table = pd.concat([study_seed(models, manifest, snr=2.0, design="paper", seed=k, n_perm=199,
                                 n_swap=500, n_vertices=60) for k in range(4)])
    verdicts = study_claims(table)
    shares = verdicts[["holds", "does not hold", "no evidence", "inconclusive"]].sum(axis=1)
    assert np.allclose(shares, 1.0) and (verdicts.n_seeds == 4).all()
    # 500 swap sets cannot reach p <= 0.0001: that claim is inconclusive on every seed
    diff = verdicts[verdicts.claim.str.contains("exceeds RE-AN")]
    assert len(diff) and (diff.inconclusive == 1.0).all()
    words = study_numbers(study_summary(table), 2.0, table)
    assert words["st_truth_re_an"].startswith("V1 ") and words["st_split_half"].startswith("V1 ")
    rel = study_reliability(table, float("nan"))     # no rule's SNR: the highest run
    assert set(rel.snr) == {2.0} and list(rel.roi) == ["V1", "V2", "V3", "V4", "LO"]
    assert (rel.split_half_se >= 0).all() and rel.split_half.between(-1, 1).all()
    obs = table[table.data == "observer"]
    check = path_check(obs, table, 2.0)            # the seeds' pooled values: their mean
    assert set(check.statistic) >= {"RE-AI p < 0.005", "RE-AN bias"}
    assert np.allclose(check.full_path, check.cheap_mean) and check.inside.all()
    far = obs.assign(re_an=obs.re_an + 5.0)
    assert not path_check(far, table, 2.0).set_index(["normalize", "statistic"]).loc[
        ("center", "RE-AN bias"), "inside"]


def test_the_study_is_cached_per_seed_in_a_folder_of_its_parameters(stim_dir, tmp_path):
    layout = Layout(tmp_path, "efficientnet_lite0", stimuli=stim_dir)
    base = {"kind": "simulated", "subjects": [1], "seed": 0, "spacing": 2.5}
    args = dict(snrs=[1.0], designs=["paper"], n_seeds=2, n_perm=20, n_swap=0, n_vertices=40,
                progress=False)
    first = observer_study(layout, base, **args)
    assert set(first.seed) == {0, 1} and set(first.data) == {"observer", "planted_null"}
    files = sorted(tmp_path.rglob("seed-*.csv"))
    stamps = [f.stat().st_mtime_ns for f in files]
    again = observer_study(layout, base, **args)
    pd.testing.assert_frame_equal(first, again)
    assert [f.stat().st_mtime_ns for f in files] == stamps          # nothing recomputed
    observer_study(layout, base, **{**args, "n_perm": 30, "n_seeds": 1})
    assert len({f.parents[2] for f in tmp_path.rglob("seed-*.csv")}) == 2   # its own folder
    with pytest.raises(InputError, match="designs"):
        observer_study(layout, base, **{**args, "designs": ["mixed"]})


def test_a_process_keeps_the_observer_of_a_set_only_while_its_images_are_the_same(
        stim_dir, tmp_path, swap_two_images):
    """The study's processes keep each observer model for the stimulus set's contents (its
    manifest), not its path: a set rebuilt at the same path gets its own models."""
    import shutil

    from advlib.analysis import ground_truth_study as g
    from advlib.layout import MANIFEST
    from advlib.provenance import file_sha256

    folder = tmp_path / "set"
    shutil.copytree(stim_dir, folder)

    def models():
        return g._models_cached(str(folder), file_sha256(folder / MANIFEST), (1,), 0, 2.5, 0.1,
                                3.0, "schematic", None)

    first = models()
    assert models() is first                              # kept while the set is the same
    swap_two_images(folder)                               # rebuilt at the same path
    second = models()
    assert second is not first
    assert not np.array_equal(second[1][1].to_numpy(), first[1][1].to_numpy())
