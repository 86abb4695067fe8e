"""The design's session confound: a planted per-session offset with no RE-AN truth.

Every image's RE, AN and AI share a session (as in the paper). The data have RE-AI truth
(AI = RE + a little noise), no RE-AN relation (AN independent of RE), and a strong additive
offset per session and vertex. The paper's pipeline (no normalisation, permutations across
sessions) finds RE-AN "significant"; the default (betas centred within session,
permutations within session) does not, and keeps RE-AI significant everywhere.
"""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from advlib.analysis import brain_rsa, session_diagnostics
from advlib.analysis.stats import permutation_indices
from advlib.errors import InputError
from advlib.fmri import DataError, conditions_from_names, load_subject, normalize_betas, write_subject
from advlib.fmri.simulation import make_cortex

N_IMG = 12


def _stimuli(folder):
    rows = []
    for i in range(N_IMG):
        for kind in ("RE", "AN", "AI"):
            rel = f"{kind}/{kind.lower()}{i:02d}.png"
            (folder / kind).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 8), (i * 20, 0, 0)).save(folder / rel)
            rows.append({"image_id": f"{kind.lower()}{i:02d}", "kind": kind,
                         "source_id": f"re{i:02d}", "path": rel, "true_label": i,
                         "target_label": i, "predicted_label": i, "p_predicted": 1.0,
                         "p_target": 1.0, "n_steps": 0, "converged": True, "l2": 0.0,
                         "linf": 0.0, "psnr": 40.0})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    return pd.DataFrame(rows)


def _subject(folder, manifest, seed, offset_sd=3.0, noise_sd=0.4):
    rng = np.random.default_rng(seed)
    cortex = make_cortex(seed, spacing=2.5)
    v = len(cortex.vertices)
    re = rng.normal(size=(N_IMG, v))
    signal = {"re": re, "ai": re + 0.3 * rng.normal(size=(N_IMG, v)),
              "an": rng.normal(size=(N_IMG, v))}                 # no relation to RE
    session = np.repeat([1, 2], N_IMG // 2)
    offset = offset_sd * rng.normal(size=(3, v))                  # per session and vertex
    names, rows = [], []
    for kind, pat in signal.items():
        for i in range(N_IMG):
            for p in (1, 2):
                names.append(f"{kind}{i:02d}_p{p}")
                rows.append(pat[i] + offset[session[i]] + noise_sd * rng.normal(size=v))
    names.append("blank")
    rows.append(offset[1] * 0)
    cond = conditions_from_names(names, manifest)
    cond["session"] = [0 if n == "blank" else session[int(n[2:4])] for n in names]
    betas = pd.DataFrame(np.array(rows), index=names)
    write_subject(folder, betas, cond, cortex.vertices, cortex.faces, {"simulated": False})


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    manifest = _stimuli(root / "stimuli")
    for s in (1, 2):
        _subject(root / "data" / f"sub-{s:02d}", manifest, seed=s)
    return root


def _run(root, **variant):
    table, _ = brain_rsa(root / "data", root / "stimuli", None, n_vertices=40, n_perm=300,
                         n_boot=50, searchlight=False, progress=False, **variant)
    return table


def test_the_default_is_not_fooled_by_a_session_offset(planted):
    default = _run(planted)
    published = _run(planted, normalize="none", within_session=False)
    n = len(default)
    assert n == 10 and set(default.normalize) == {"center"}
    assert (default.p_perm_re_ai < 0.05).all()                       # RE-AI found everywhere
    assert (default.p_perm_re_an < 0.05).sum() <= 0.2 * n            # RE-AN not, in most ROIs
    assert (published.p_perm_re_an < 0.05).sum() >= 0.8 * n          # the confound, as published
    assert published.re_an.mean() > 0.5 > abs(default.re_an.mean())
    assert (published.session_r_an > 0.5).all()                      # the diagnostic shows it
    assert (default.session_r_an.abs() < published.session_r_an).all()


def test_session_column_is_validated(planted, tmp_path):
    sub = load_subject(planted / "data" / "sub-01")
    assert set(sub.conditions.session) == {0, 1, 2}
    bad = sub.conditions.copy()
    bad.loc[bad.condition == "re00_p2", "session"] = 2                # split presentations
    write_subject(tmp_path / "sub-01", sub.betas, bad, sub.vertices, sub.faces)
    with pytest.raises(DataError, match="session=.*in two sessions.*one session"):
        load_subject(tmp_path / "sub-01")
    missing = sub.conditions.drop(columns="session")
    write_subject(tmp_path / "sub-02", sub.betas, missing, sub.vertices, sub.faces)
    assert set(load_subject(tmp_path / "sub-02").conditions.session) == {0, 1}   # one session


def test_normalisation_removes_an_additive_session_offset(rng):
    cond = pd.DataFrame({"kind": ["RE"] * 4 + ["AN"] * 4 + ["blank"],
                         "session": [1, 1, 2, 2, 1, 1, 2, 2, 0]})
    x = rng.normal(size=(9, 5))
    shifted = x + np.where(cond.session.to_numpy() == 2, 10.0, -3.0)[:, None]
    a, b = normalize_betas(x, cond, "center"), normalize_betas(shifted, cond, "center")
    np.testing.assert_allclose(a[:8], b[:8], atol=1e-12)
    np.testing.assert_array_equal(b[8], shifted[8])                  # blank untouched
    z = normalize_betas(shifted, cond, "zscore")
    np.testing.assert_allclose(z[cond.session == 1].std(0), 1, atol=1e-12)
    np.testing.assert_array_equal(normalize_betas(x, cond, "none"), x)
    with pytest.raises(InputError, match="normalize='scale': expected one of none, center"):
        normalize_betas(x, cond, "scale")


def test_blocked_permutations_stay_in_their_block_and_cover_it(rng):
    blocks = np.array([1, 2, 1, 2, 1, 2, 3])
    perms = permutation_indices(7, 2000, rng, blocks)
    assert (blocks[perms] == blocks).all()
    for i in range(7):   # every image reaches every place of its block about equally often
        counts = np.bincount(perms[:, i], minlength=7)[blocks == blocks[i]]
        assert counts.min() > 0.2 * 2000 / counts.size
    np.testing.assert_array_equal(permutation_indices(5, 3, 0),
                                  np.random.default_rng(0).permuted(np.tile(np.arange(5), (3, 1)),
                                                                    axis=1))


def test_session_diagnostics_on_a_pure_session_rdm():
    s = np.repeat([1, 2], 4)
    rdm = (s[:, None] != s[None, :]).astype(float) + 0.01 * np.arange(64).reshape(8, 8) % 3
    rdm = (rdm + rdm.T) / 2
    np.fill_diagonal(rdm, 0)
    d = session_diagnostics({"RE": rdm, "AN": rdm, "AI": rdm}, s)
    assert d["session_r_re"] > 0.8 and d["re_an_within"] == pytest.approx(1.0)
    one = session_diagnostics({"RE": rdm, "AN": rdm, "AI": rdm}, np.ones(8))
    assert np.isnan(one["session_r_an"]) and one["re_an_within"] == pytest.approx(1.0)


def test_an_roi_with_too_few_vertices_is_kept_with_its_reason(planted, tmp_path):
    """An ROI with fewer than MIN_ROI_VERTICES vertices: a row with empty statistics and
    the reason, not a degenerate similarity (nor a silent gap)."""
    import shutil

    from advlib.analysis.brain_analysis import MIN_ROI_VERTICES

    root = tmp_path / "few"
    shutil.copytree(planted, root)
    for sub in ("sub-01", "sub-02"):
        folder = root / "data" / sub
        subject = load_subject(folder)
        vertices = subject.vertices.copy()
        lo = vertices.index[vertices.roi == "LO"]
        vertices.loc[lo[2:], "roi"] = ""                              # 2 LO vertices left
        write_subject(folder, subject.betas, subject.conditions, vertices, subject.faces)
    table = _run(root)
    lo_rows = table[table.roi == "LO"]
    assert len(lo_rows) == 2 and (lo_rows.n_vertices == 2).all()
    assert lo_rows.re_an.isna().all() and lo_rows.p_perm_re_ai.isna().all()
    assert lo_rows.excluded.str.contains(f"at least {MIN_ROI_VERTICES}").all()
    assert (table[table.roi != "LO"].excluded == "").all()
