"""The simulated observer's betas drawn directly: the cheap path of the ground-truth study.

The full path (:func:`advlib.fmri.simulation.simulate_subject`) simulates BOLD time series
and fits the GLM: about 13 s per subject. The ground-truth study needs thousands of
subjects, so it draws the betas the GLM would return from the same generative model:

``beta[c, v] = g * amp[v] * r[image(c), v] + s * (e[c, v] + o[session(c), v] + u[v])``

where ``r`` are the observer's neural responses (:func:`advlib.fmri.simulation.prf_responses`,
the same cortex and stimulus energy as the full path), ``amp`` the per-vertex amplitude,
``g`` a per-session gain, ``s = 1 / snr`` the noise SD, ``e`` independent condition noise,
``o`` a per-session offset of each vertex (what all betas of a session share through the
baseline and drift estimates of its runs) and ``u`` an offset of each vertex shared by both
sessions. The SDs of ``e``, ``o`` and ``u`` in units of ``s`` (:data:`BETA_NOISE`) are
measured on full-path subjects with :func:`beta_noise` (:func:`dataset_noise`), and the
ground-truth chapter and ``benchmarks/bench_observer_paths.py`` compare the two paths' rates.

Every subject drawn here is SIMULATED.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import expect
from ..data import TRUE_BETAS, Subject, conditions_from_names
from ..design import BLANK
from .cortex import make_cortex
from .observer import prf_responses

__all__ = ["BETA_NOISE", "subject_model", "null_responses", "simulate_betas", "beta_noise",
           "dataset_noise"]

#: Noise of the GLM betas in units of the time-series noise SD ``1 / snr``: ``within``
#: (independent per condition and vertex), ``session`` (per session and vertex, shared by
#: every condition of the session) and ``vertex`` (per vertex, shared by both sessions),
#: measured with :func:`beta_noise` on full-path subjects of the embedded 17-image set with
#: the default GLM (3 subjects at SNR 0.8 and 3.2: within 0.443-0.450; the per-session means
#: of the residuals have SD 0.21-0.25 and correlate 0.54-0.64 between the sessions; a
#: component shared across vertices was below 0.06 and is left out); ``gain``: SD of the
#: per-session response gain (the per-run gain SD 0.1 over 5 runs). The SDs depend on the
#: run length (images per session) and on the noise regressors (4 images: within 0.50;
#: one regressor: within 0.56): the study measures them on the book's own full-path
#: subjects (:func:`dataset_noise`) and uses these values only when it has none.
BETA_NOISE = {"within": 0.445, "session": 0.135, "vertex": 0.18, "gain": 0.045}


def subject_model(energy: np.ndarray, image_ids, rng_anatomy, rng_responses, *,
                  spacing: float = 1.0, variation: float = 0.1, surface: str = "schematic"):
    """One simulated subject's anatomy and noise-free neural responses.

    The full path and the cheap path both start here, so that with the same generators
    they see the same subject.

    Parameters
    ----------
    energy : numpy.ndarray, shape (n_images, n_channels, G, G)
        From :func:`advlib.fmri.simulation.stimulus_energy`.
    image_ids : list of str
        The image of each row of ``energy``.
    rng_anatomy, rng_responses : numpy.random.Generator
    spacing, variation : float
        As in :func:`advlib.fmri.simulation.make_cortex`.
    surface : {"schematic", "fsaverage5"}
        The cortex (:func:`advlib.fmri.simulation.make_cortex`).

    Returns
    -------
    cortex : Cortex
    responses : pandas.DataFrame, shape (n_images, n_vertices)
        Index = image id.
    """
    cortex = make_cortex(rng_anatomy, spacing=spacing, variation=variation, surface=surface)
    responses = pd.DataFrame(prf_responses(energy, cortex.vertices, seed=rng_responses),
                             index=list(image_ids))
    return cortex, responses


def null_responses(responses: pd.DataFrame, manifest: pd.DataFrame, plan: dict,
                   seed=0, scope: str = "session") -> pd.DataFrame:
    """Responses with an exact null between RE and AN: each AN image responds as the RE
    image of a random source.

    ``scope="session"``: the AN responses are the RE responses permuted uniformly within
    the sessions of the RE images (the paper's design, where an image and its AN twin
    share a session): nothing but the session relates the RE and AN RDMs, and a
    permutation test within those sessions is exact. ``scope="all"``: permuted uniformly
    over all sources, for a design whose AN images are split between the sessions
    independently of their RE twins (interleaved): there a within-RE-session draw would
    tie the AN signal to sessions the AN images were not shown in, and the test across
    sessions would no longer be exact.

    Parameters
    ----------
    responses : pandas.DataFrame, shape (n_images, n_vertices)
        Index = image id (RE, AN and AI images of ``manifest``).
    manifest : pandas.DataFrame
        ``image_id, kind, source_id``.
    plan : dict
        From :func:`advlib.fmri.simulation.session_plan`.
    seed : int or numpy.random.Generator
    scope : {"session", "all"}

    Returns
    -------
    pandas.DataFrame
        A copy with the AN rows replaced.
    """
    expect(scope in ("session", "all"), "scope", scope, "'session' or 'all'")
    rng = np.random.default_rng(seed)
    session_of = {img: s for s, images in plan.items() for img in images}
    re = manifest[manifest.kind == "RE"].set_index("source_id").image_id
    an = manifest[manifest.kind == "AN"].set_index("source_id").image_id
    expect(set(an.index) <= set(re.index), "manifest", "AN images without an RE twin",
           "an RE image for every AN image")
    missing = [i for i in list(re) + list(an) if i not in responses.index]
    expect(not missing, "responses", f"missing rows for {', '.join(map(str, missing[:3]))}",
           "a row for every RE and AN image of the manifest")
    out = responses.copy()
    sources = np.array(sorted(an.index))
    sessions = (np.array([session_of.get(re[s], 0) for s in sources]) if scope == "session"
                else np.zeros(len(sources), dtype=int))
    for session in np.unique(sessions):
        group = sources[sessions == session]
        drawn = rng.permutation(group)
        out.loc[an[group].to_numpy()] = responses.loc[re[drawn].to_numpy()].to_numpy()
    return out


def simulate_betas(responses: pd.DataFrame, manifest: pd.DataFrame, plan: dict, cortex, *,
                   snr: float, seed=0, name: str = "sub-01", amplitude_sd: float = 0.3,
                   noise: dict | None = None) -> tuple[Subject, pd.DataFrame]:
    """A subject's GLM betas drawn directly from the observer's generative model.

    Parameters
    ----------
    responses : pandas.DataFrame, shape (n_images, n_vertices)
        From :func:`subject_model` (or :func:`null_responses`).
    manifest : pandas.DataFrame
        The stimulus manifest (``image_id, kind, source_id``).
    plan : dict
        From :func:`advlib.fmri.simulation.session_plan`.
    cortex : Cortex
        The subject's anatomy (vertices and faces).
    snr : float
        Response amplitude over the time-series noise SD (as in the full path).
    seed : int or numpy.random.Generator
    name : str
    amplitude_sd : float
        SD of the log vertex amplitude (as in the full path).
    noise : dict, optional
        ``within``, ``session``, ``vertex`` and ``gain`` (default :data:`BETA_NOISE`).

    Returns
    -------
    subject : Subject
        Betas of every ``<image>_p1``, ``<image>_p2`` condition and ``blank``, with the
        conditions table (``session`` included), in the documented format.
    true : pandas.DataFrame
        The noise-free amplitudes of the same rows (blank: 0).
    """
    expect(np.isfinite(snr) and snr > 0, "snr", snr, "a finite number > 0")
    noise = {**BETA_NOISE, **(noise or {})}
    rng = np.random.default_rng(seed)
    n_vertices = responses.shape[1]
    amp = np.exp(amplitude_sd * rng.standard_normal(n_vertices))
    images = [img for s in sorted(plan) for img in plan[s]]
    names = [f"{img}_p{p}" for img in images for p in (1, 2)] + [BLANK]
    conditions = conditions_from_names(names, manifest)
    session_of = {img: s for s, images_ in plan.items() for img in images_}
    conditions["session"] = [session_of.get(i, 0) for i in conditions.image_id]
    rows = [img for img in images for _ in (1, 2)]
    true = np.vstack([responses.loc[rows].to_numpy() * amp, np.zeros((1, n_vertices))])
    sessions = conditions.session.to_numpy()
    gain = 1.0 + noise["gain"] * rng.standard_normal(sessions.max() + 1)
    offsets = (noise["session"] * rng.standard_normal((sessions.max() + 1, n_vertices))
               + noise["vertex"] * rng.standard_normal(n_vertices))
    betas = (true * gain[sessions][:, None]
             + (noise["within"] * rng.standard_normal(true.shape) + offsets[sessions]) / snr)
    subject = Subject(name, pd.DataFrame(betas, index=names), conditions, cortex.vertices,
                      cortex.faces, {"subject": name, "simulated": True, "path": "betas"})
    return subject, pd.DataFrame(true, index=names)


def beta_noise(betas: pd.DataFrame, true, conditions: pd.DataFrame, snr: float,
               vertices=None) -> dict:
    """The noise structure of a subject's betas, in units of the noise SD ``1 / snr``.

    Parameters
    ----------
    betas : pandas.DataFrame, shape (n_conditions, n_vertices)
    true : array_like, shape (n_conditions, n_vertices)
        The noise-free amplitudes of the same rows.
    conditions : pandas.DataFrame
        With ``kind`` and ``session``.
    snr : float
    vertices : array_like of bool, shape (n_vertices,), optional
        The vertices to measure on (default: all with a response).

    Returns
    -------
    dict
        ``gain`` (least-squares scale of the truth in the betas), ``within`` (SD of the
        residual after each session's mean is removed), ``session`` (SD of the per-session
        mean residual around its mean over sessions, its share of ``within`` removed) and
        ``vertex`` (SD over vertices of the mean residual over sessions, the share of the
        other two removed).
    """
    b = np.asarray(betas, dtype=np.float64)
    t = np.asarray(true, dtype=np.float64)
    expect(b.shape == t.shape, "true.shape", t.shape, f"the betas' shape {b.shape}")
    images = (conditions.kind != BLANK).to_numpy()
    cols = (np.abs(t).sum(0) > 0) if vertices is None else np.asarray(vertices, bool)
    b, t = b[images][:, cols], t[images][:, cols]
    sessions = conditions.session.to_numpy()[images]
    gain = float((t * b).sum() / (t * t).sum())
    resid = (b - gain * t) * snr
    labels = np.unique(sessions)
    means = np.stack([resid[sessions == s].mean(0) for s in labels])
    within = resid - means[np.searchsorted(labels, sessions)]
    n_per = np.mean([np.sum(sessions == s) for s in labels])
    sd_w = float(within.std() * np.sqrt(n_per / (n_per - 1)))   # one mean per session removed
    k = len(labels)
    if k > 1:
        spread = k / (k - 1) * float(((means - means.mean(0)) ** 2).mean())   # o^2 + w^2 / n
        sd_s = float(np.sqrt(max(spread - sd_w ** 2 / n_per, 0.0)))
    else:
        spread, sd_s = sd_w ** 2 / n_per, 0.0
    sd_v = float(np.sqrt(max(means.mean(0).var() - spread / k, 0.0)))
    return {"gain": gain, "within": sd_w, "session": sd_s, "vertex": sd_v}


def dataset_noise(dataset_dir) -> dict | None:
    """The beta noise of a simulated dataset's full-path subjects, for the cheap path.

    Parameters
    ----------
    dataset_dir : path
        A dataset written by :func:`advlib.fmri.simulation.simulate_dataset`.

    Returns
    -------
    dict or None
        ``within``, ``session`` and ``vertex`` (:func:`beta_noise`, averaged over the
        subjects, rounded to 3 decimals) and ``gain`` (:data:`BETA_NOISE`'s); ``None`` for a dataset without
        simulated subjects (real data).
    """
    from ..data import choose_subjects, load_dataset_info, load_subject

    info = load_dataset_info(dataset_dir)
    snr = info.get("parameters", {}).get("snr")
    if not info.get("simulated") or snr is None:
        return None
    measured = []
    for name in choose_subjects(dataset_dir, None):
        folder = Path(dataset_dir) / name
        path = folder / TRUE_BETAS
        if path.is_file():
            sub = load_subject(folder)
            measured.append(beta_noise(sub.betas, np.load(path), sub.conditions, float(snr)))
    if not measured:
        return None
    return {**{k: round(float(np.mean([m[k] for m in measured])), 3)
               for k in ("within", "session", "vertex")}, "gain": BETA_NOISE["gain"]}
