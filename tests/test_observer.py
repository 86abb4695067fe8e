import numpy as np
import pandas as pd
import pytest

from advlib.errors import InputError
from advlib.fmri import frame_times
from advlib.fmri.simulation import (
    gabor_energy,
    make_cortex,
    prf_responses,
    run_events,
    session_plan,
    simulate_runs,
)
from advlib.fmri.simulation.observer import ORIENTATIONS_DEG, SF_CPD


def _grating(theta_deg, cpd, size=224, deg=12.0):
    y, x = np.mgrid[0:size, 0:size] * deg / size
    t = np.deg2rad(theta_deg)
    g = 0.5 + 0.4 * np.cos(2 * np.pi * cpd * (x * np.cos(t) + y * np.sin(t)))
    return np.repeat(g[None, None], 3, axis=1)


def test_gabor_energy_is_tuned_to_orientation_and_frequency():
    imgs = np.concatenate([_grating(0, 1.5), _grating(90, 1.5), _grating(0, 6.0),
                           np.full((1, 3, 224, 224), 0.5)])
    e = gabor_energy(imgs)
    assert e.shape == (4, len(SF_CPD) * len(ORIENTATIONS_DEG), 72, 72)
    centre = e[:, :, 30:42, 30:42].mean(axis=(2, 3)).reshape(4, len(SF_CPD), len(ORIENTATIONS_DEG))
    # vertical stripes (varying along x) excite the 0-deg filters at their frequency
    assert np.unravel_index(centre[0].argmax(), centre[0].shape) == (1, 0)
    assert np.unravel_index(centre[1].argmax(), centre[1].shape) == (1, 2)
    assert np.unravel_index(centre[2].argmax(), centre[2].shape) == (3, 0)
    assert centre[3].max() < 1e-6  # a uniform grey image has no contrast energy


def test_prf_responses_follow_position_and_are_zero_outside_rois():
    cortex = make_cortex(seed=0, spacing=2.0)
    v = cortex.vertices
    img = np.full((2, 3, 224, 224), 0.5)
    img[0, :, :, :112] = _grating(45, 3.0)[0, :, :, :112]  # stimulus in the left half only
    img[1] = _grating(45, 3.0)[0]
    resp = prf_responses(gabor_energy(img), v, seed=0)
    assert resp.shape == (2, len(v))
    assert np.all(resp[:, (v.roi == "").to_numpy()] == 0)
    v1_rh = ((v.roi == "V1") & (v.hemi == "rh") & (v.prf_x < -2) & (v.ecc < 5)).to_numpy()
    v1_lh = ((v.roi == "V1") & (v.hemi == "lh") & (v.prf_x > 2) & (v.ecc < 5)).to_numpy()
    # the left half-field image drives the right hemisphere, not the left
    assert resp[0, v1_rh].mean() > 5 * resp[0, v1_lh].mean()


def test_prf_pooling_equals_the_separable_sum_in_any_block(monkeypatch):
    """The pRF pooling as one matrix product per block of vertices equals the sum over the
    grid's two axes, whatever the block size (blocks that do and do not divide the
    vertices)."""
    from advlib.fmri.simulation import observer

    rng = np.random.default_rng(4)
    energy = rng.random((3, 2, 72, 72)).astype(np.float32)
    gx, gy = rng.random((11, 72)), rng.random((11, 72))
    expected = np.einsum("icyx,vy,vx->vic", energy.astype(np.float64), gy, gx)
    for block in (1, 4, 11, 512):
        monkeypatch.setattr(observer, "_PRF_BLOCK", block)
        got = observer._prf_pool(energy, gx, gy)
        assert got.shape == (11, 3, 2) and got.dtype == np.float64
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_run_events_follow_the_papers_design():
    images = [f"{k}{i:02d}" for k in ("re", "an", "ai") for i in range(20)]
    ev = run_events(images, seed=0)
    assert len(ev) == 129 and (ev.trial_type == "blank").sum() == 9
    counts = ev[ev.trial_type != "blank"].groupby("image_id").presentation.apply(sorted)
    assert len(counts) == 60 and all(c == [1, 2] for c in counts)
    np.testing.assert_allclose(np.diff(ev.onset), 4.0)
    assert ev.onset.iloc[0] == 22.0 and (ev.duration == 2.0).all()
    t = frame_times(129)
    assert t[0] == 18.0 and t[-1] == 20 + 4 * 129 + 20 - 2 and len(t) == 269
    assert not ev.equals(run_events(images, seed=1))


def test_session_plan_keeps_triplets_together(stim_dir):
    from advlib.cnn import load_manifest

    manifest = load_manifest(stim_dir)
    plan = session_plan(manifest, seed=0)
    assert sorted(plan[1] + plan[2]) == sorted(manifest.image_id)
    for session in plan.values():
        sources = manifest.set_index("image_id").loc[session, "source_id"]
        assert (sources.value_counts() == 3).all()


def test_simulate_runs_is_deterministic_and_validates():
    responses = pd.DataFrame(np.random.default_rng(0).random((6, 20)),
                             index=[f"{k}0{i}" for k in ("re", "an", "ai") for i in range(2)])
    plan = {1: ["re00", "an00", "ai00"], 2: ["re01", "an01", "ai01"]}
    a = simulate_runs(responses, plan, seed=4, n_runs_per_session=2)
    b = simulate_runs(responses, plan, seed=4, n_runs_per_session=2)
    assert len(a.data) == 4 and a.sessions == [1, 1, 2, 2]
    assert all(np.array_equal(x, y) for x, y in zip(a.data, b.data))
    assert a.true_betas.shape == (13, 20)
    with pytest.raises(InputError, match="snr=0: expected a positive"):
        simulate_runs(responses, plan, snr=0)


def test_interleaved_design_splits_each_kind_on_its_own():
    from advlib.fmri.simulation import session_plan

    rows = [{"image_id": f"{k.lower()}{i:02d}", "kind": k, "source_id": f"re{i:02d}"}
            for i in range(16) for k in ("RE", "AN", "AI")]
    manifest = pd.DataFrame(rows)
    paper = session_plan(manifest, seed=0)
    of = {img: s for s, ids in paper.items() for img in ids}
    assert all(of[f"re{i:02d}"] == of[f"an{i:02d}"] == of[f"ai{i:02d}"] for i in range(16))
    inter = session_plan(manifest, seed=0, design="interleaved")
    of = {img: s for s, ids in inter.items() for img in ids}
    assert sorted(of) == sorted(manifest.image_id) and len(inter[1]) == len(inter[2]) == 24
    for kind in ("re", "an", "ai"):
        assert sum(of[f"{kind}{i:02d}"] == 1 for i in range(16)) == 8   # balanced per kind
    same = np.mean([of[f"re{i:02d}"] == of[f"an{i:02d}"] for i in range(16)])
    assert 0.1 < same < 0.9          # RE and AN sessions are not tied together
    with pytest.raises(InputError, match="design='mixed'"):
        session_plan(manifest, design="mixed")
