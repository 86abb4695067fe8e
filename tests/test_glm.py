import numpy as np
import pandas as pd
import pytest

from advlib.errors import InputError
from advlib.fmri import fit_glm, run_design
from advlib.fmri.design import TR
from advlib.fmri.glm import _stack_design, condition_names
from advlib.fmri.simulation import simulate_runs


def _experiment(n_vertices=150, seed=0, **kw):
    rng = np.random.default_rng(seed)
    ids = [f"{k}{i:02d}" for k in ("re", "an", "ai") for i in range(6)]
    responses = pd.DataFrame(rng.random((len(ids), n_vertices)) + 0.5, index=ids)
    plan = {1: [i for i in ids if i[2:] < "03"], 2: [i for i in ids if i[2:] >= "03"]}
    return simulate_runs(responses, plan, seed=rng, **kw)


def test_noise_free_glm_recovers_planted_betas():
    sim = _experiment(snr=1e6, n_shared=0, drift_amplitude=0.0, run_gain_sd=0.0)
    res = fit_glm(sim.data, sim.events, n_pcs=0)
    true = sim.true_betas.loc[res.betas.index]
    r = np.corrcoef(true.to_numpy().ravel(), res.betas.to_numpy().ravel())[0, 1]
    assert r > 0.99
    np.testing.assert_allclose(res.betas.to_numpy(), true.to_numpy(), atol=1e-3)


def test_noisy_glm_attenuation_matches_theory():
    sim = _experiment(n_vertices=400, snr=2.0, ar1=0.0, n_shared=0, drift_amplitude=0.0,
                      run_gain_sd=0.0, seed=1)
    res = fit_glm(sim.data, sim.events, n_pcs=0)
    conds = condition_names(sim.events)
    times = [(np.ceil(18 / TR) + np.arange(len(d))) * TR for d in sim.data]
    designs = [run_design(ev, t, conds) for ev, t in zip(sim.events, times)]
    x = _stack_design([d[0] for d in designs], [d[1] for d in designs], range(len(designs)))
    err_var = np.diag(np.linalg.inv(x.T @ x))[:len(conds)] * (1 / 2.0) ** 2
    true = sim.true_betas.loc[res.betas.index].to_numpy()
    est = res.betas.to_numpy()
    measured_err = ((est - true) ** 2).mean(1)
    np.testing.assert_allclose(measured_err.mean(), err_var.mean(), rtol=0.1)
    # correlation of estimates with the truth, per condition, vs the attenuation formula
    keep = true.std(1) > 0
    r = [np.corrcoef(t, e)[0, 1] for t, e in zip(true[keep], est[keep])]
    expected = true[keep].std(1) / np.sqrt(true[keep].var(1) + err_var[keep])
    assert abs(np.mean(r) - np.mean(expected)) < 0.05


def test_noise_regressors_are_chosen_when_noise_is_shared():
    sim = _experiment(n_vertices=300, snr=1.0, n_shared=3, shared_fraction=0.8, seed=2)
    res = fit_glm(sim.data, sim.events, n_pcs="auto", max_pcs=5)
    assert res.xval_r2.median_xval_r2.iloc[res.n_pcs] >= res.xval_r2.median_xval_r2.iloc[0]
    assert res.betas.shape == (37, 300) and res.betas.index[-1] == "blank"


def test_bad_glm_input():
    sim = _experiment(n_vertices=10)
    with pytest.raises(InputError, match="events='3 tables': expected one per run"):
        fit_glm(sim.data, sim.events[:3])
    bad = [d.copy() for d in sim.data]
    bad[1][5, 2] = np.nan
    with pytest.raises(InputError, match=r"data\[1\]: NaN/inf values"):
        fit_glm(bad, sim.events)
    with pytest.raises(InputError, match=r"data\[2\].shape=\(\d+, 9\)"):
        fit_glm([d if i != 2 else d[:, :9] for i, d in enumerate(sim.data)], sim.events)
    with pytest.raises(InputError, match="data='ndarray'"):
        fit_glm(sim.data[0], sim.events)
