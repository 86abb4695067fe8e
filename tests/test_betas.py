"""The cheap path of the simulated observer (advlib/fmri/simulation/betas.py)."""

import numpy as np
import pandas as pd
import pytest

from advlib.errors import InputError
from advlib.fmri import load_subject
from advlib.fmri.simulation import (
    BETA_NOISE,
    beta_noise,
    dataset_noise,
    null_responses,
    session_plan,
    simulate_betas,
)


def test_betas_are_the_documented_format_and_seeded(synthetic_observer):
    cortex, resp, manifest = synthetic_observer()
    plan = session_plan(manifest, seed=0)
    sub, true = simulate_betas(resp, manifest, plan, cortex, snr=1.0, seed=3)
    assert sub.betas.shape == (2 * len(manifest) + 1, len(cortex.vertices))
    assert list(sub.conditions.columns[:4]) == ["condition", "image_id", "kind", "presentation"]
    assert set(sub.conditions.session) == {0, 1, 2}                   # blank: 0
    assert true.loc["blank"].abs().sum() == 0
    assert (true.loc[["re_00_p1"]].to_numpy() == true.loc[["re_00_p2"]].to_numpy()).all()
    again, _ = simulate_betas(resp, manifest, plan, cortex, snr=1.0, seed=3)
    assert np.array_equal(sub.betas.to_numpy(), again.betas.to_numpy())
    with pytest.raises(InputError, match="snr"):
        simulate_betas(resp, manifest, plan, cortex, snr=0.0)


def test_beta_noise_recovers_the_noise_it_was_drawn_with(synthetic_observer):
    cortex, resp, manifest = synthetic_observer(n_sources=20)
    plan = session_plan(manifest, seed=1)
    sub, true = simulate_betas(resp, manifest, plan, cortex, snr=2.0, seed=0,
                               noise={"gain": 0.0})
    got = beta_noise(sub.betas, true, sub.conditions, 2.0)
    assert got["within"] == pytest.approx(BETA_NOISE["within"], rel=0.03)
    assert got["session"] == pytest.approx(BETA_NOISE["session"], rel=0.2)
    assert got["vertex"] == pytest.approx(BETA_NOISE["vertex"], rel=0.1)
    assert got["gain"] == pytest.approx(1.0, abs=0.02)


def test_dataset_noise_measures_the_full_path_for_the_cheap_path(small_dataset, tmp_path,
                                                              synthetic_observer):
    """The full path's betas (time series, GLM) on the test's coarse subject: their noise,
    in units of 1 / snr, drives the cheap path, whose betas then have that noise."""
    noise = dataset_noise(small_dataset)
    folder = small_dataset / "sub-01"
    sub = load_subject(folder)
    direct = beta_noise(sub.betas, np.load(folder / "simulation" / "true_betas.npy"),
                        sub.conditions, 0.8)                       # the dataset's SNR
    assert noise["within"] == pytest.approx(direct["within"], abs=1e-3)
    assert noise["session"] == pytest.approx(direct["session"], abs=1e-3)
    assert noise["vertex"] == pytest.approx(direct["vertex"], abs=1e-3)
    assert 0.3 < noise["within"] < 0.8 and 0 < noise["session"] < 0.5
    cortex, resp, manifest = synthetic_observer(n_sources=20)
    plan = session_plan(manifest, seed=1)
    cheap, true = simulate_betas(resp, manifest, plan, cortex, snr=3.0, seed=0,
                                 noise={**noise, "gain": 0.0})
    again = beta_noise(cheap.betas, true, cheap.conditions, 3.0)
    assert again["within"] == pytest.approx(noise["within"], rel=0.03)
    assert again["session"] == pytest.approx(noise["session"], abs=0.05)
    assert again["vertex"] == pytest.approx(noise["vertex"], abs=0.05)
    (tmp_path / "real").mkdir()
    assert dataset_noise(tmp_path / "real") is None                # no simulated subjects


@pytest.mark.parametrize("design", ["paper", "interleaved"])
def test_null_an_is_re_permuted_within_the_re_sessions(design, synthetic_observer):
    cortex, resp, manifest = synthetic_observer()
    plan = session_plan(manifest, seed=2, design=design)
    out = null_responses(resp, manifest, plan, seed=0)
    session_of = {img: s for s, ids in plan.items() for img in ids}
    for session in (1, 2):
        re_ids = [i for i in manifest[manifest.kind == "RE"].image_id if session_of[i] == session]
        an_ids = [i.replace("re_", "an_") for i in re_ids]
        # the AN rows of an RE session are that session's RE rows, in another order
        got = sorted(map(tuple, out.loc[an_ids].to_numpy().round(9)))
        assert got == sorted(map(tuple, resp.loc[re_ids].to_numpy().round(9)))
    assert out.loc[manifest[manifest.kind != "AN"].image_id].equals(
        resp.loc[manifest[manifest.kind != "AN"].image_id])
    # over all sources (the interleaved design's null): the AN rows are all RE rows
    every = null_responses(resp, manifest, plan, seed=0, scope="all")
    an = manifest[manifest.kind == "AN"].image_id
    assert sorted(map(tuple, every.loc[an].to_numpy().round(9))) == sorted(
        map(tuple, resp.loc[manifest[manifest.kind == "RE"].image_id].to_numpy().round(9)))


def test_null_responses_name_an_image_without_a_response_row(synthetic_observer):
    from advlib.errors import InputError

    cortex, resp, manifest = synthetic_observer()
    plan = session_plan(manifest, seed=2, design="paper")
    missing = manifest[manifest.kind == "AN"].image_id.iloc[0]
    with pytest.raises(InputError, match=f"responses=.*missing rows for {missing}.*expected a row"):
        null_responses(resp.drop(index=missing), manifest, plan, seed=0)
    out = null_responses(resp, manifest, plan, seed=0)
    assert list(out.index) == list(resp.index) and list(out.columns) == list(resp.columns)


def test_null_responses_keep_dtypes_attrs_and_a_repeated_unrelated_row(synthetic_observer):
    """The numpy fast path is taken only for one numpy dtype and a unique index; otherwise
    the rows are swapped in pandas: every dtype, the attrs and the index stay as given, and
    the AN rows are the same draws either way."""
    cortex, resp, manifest = synthetic_observer()
    plan = session_plan(manifest, seed=2, design="paper")
    want = null_responses(resp, manifest, plan, seed=3)
    an = manifest[manifest.kind == "AN"].image_id
    tagged = resp.copy()
    tagged.attrs["units"] = "a.u."
    assert null_responses(tagged, manifest, plan, seed=3).attrs == {"units": "a.u."}
    mixed = resp.astype({resp.columns[0]: np.float32})
    out = null_responses(mixed, manifest, plan, seed=3)
    assert (out.dtypes == mixed.dtypes).all()
    np.testing.assert_allclose(out.loc[an].to_numpy(), want.loc[an].to_numpy(), rtol=1e-6)
    ext = null_responses(resp.astype("Float64"), manifest, plan, seed=3)
    assert (ext.dtypes == "Float64").all()
    np.testing.assert_array_equal(ext.loc[an].to_numpy(float), want.loc[an].to_numpy())
    ai = manifest[manifest.kind == "AI"].image_id.iloc[0]
    twice = pd.concat([resp, resp.loc[[ai]]])                 # an AI row listed twice
    out = null_responses(twice, manifest, plan, seed=3)
    assert out.index.equals(twice.index)
    np.testing.assert_array_equal(out.loc[an].to_numpy(), want.loc[an].to_numpy())
