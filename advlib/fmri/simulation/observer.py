"""The simulated observer: an image-computable model of early visual cortex and the paper's
fMRI experiment, producing BOLD time series that go through the same GLM as real data.

The paper's human data are not available; every brain figure built on this module shows
*simulated* data.

Response model (after Kay et al. 2008, 2013; no part of the CNN under test is used):

1. **Gabor energy.** Each image is shown at 12 x 12 deg on a grey field (the patch covers
   +-9 deg), converted to luminance contrast and filtered by quadrature Gabor filters at 4
   spatial frequencies (0.75, 1.5, 3, 6 cycles/deg, 1-octave bandwidth) and 4 orientations;
   the local energy (amplitude of the complex response) is computed on a 16 px/deg grid and
   averaged to 0.25 deg resolution. Each channel is normalized by its mean over space and
   images.
2. **pRF pooling.** Each vertex pools the energy with an isotropic Gaussian pRF at its
   retinotopic position and size (see :mod:`advlib.fmri.simulation.cortex`), weighting channels by a
   log-Gaussian spatial-frequency tuning whose preferred frequency falls with eccentricity
   and a weak seeded orientation preference.
3. **Compressive nonlinearity.** ``r = gain * drive ** n`` with ``n`` falling from V1 (0.5)
   to LO (0.3), the compressive spatial summation of Kay et al. (2013). Larger pRFs and
   stronger compression make responses more position-invariant towards LO.

Experiment (paper, Methods): 2 sessions x 5 runs; each session shows half of the regular
images with their AN and AI images; a run has 2 trials of each of the session's images and
9 blank trials, shuffled; a trial is 2 s blank + 2 s image; 20 s blank at start and end;
TR 2 s; the first 18 s are discarded. BOLD = condition amplitudes convolved with nilearn's
Glover HRF, times a per-run gain, plus a slow cosine drift, AR(1) noise and a few noise
time courses shared across vertices (physiological noise, which GLMdenoise-style
regressors remove).

SNR: the noise SD per vertex (white AR(1) + shared) is ``1 / snr`` in the units in which
a typical vertex's responses average 1 (% signal change). The split-half reliability each
value gives is reported by ``advlib simulate`` and in the fMRI notebook.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import fft
from tqdm.auto import tqdm

from ...errors import check_probability, expect
from ..design import BLANK, IMAGE_S, LEAD_S, TRIAL_S, frame_times
from .cortex import AREA_PARAMS

__all__ = ["DESIGNS", "SF_CPD", "ORIENTATIONS_DEG", "FIELD_DEG", "IMAGE_DEG", "gabor_energy",
           "prf_responses", "session_plan", "run_events", "simulate_runs", "SimulatedRuns"]

FIELD_DEG = 18.0
IMAGE_DEG = 12.0
PX_PER_DEG = 16
POOL = 4
SF_CPD = (0.75, 1.5, 3.0, 6.0)
ORIENTATIONS_DEG = (0.0, 45.0, 90.0, 135.0)


def _contrast_images(images: np.ndarray) -> np.ndarray:
    """(n, 3, H, W) RGB in [0, 1] -> (n, F, F) luminance contrast on the grey visual field."""
    from PIL import Image

    n_field = int(FIELD_DEG * PX_PER_DEG)
    n_img = int(IMAGE_DEG * PX_PER_DEG)
    lum = np.tensordot(np.asarray(images, np.float64), [0.2126, 0.7152, 0.0722], axes=([1], [0]))
    out = np.zeros((len(lum), n_field, n_field))
    start = (n_field - n_img) // 2
    for i, img in enumerate(lum):
        small = np.asarray(Image.fromarray(img.astype(np.float32), "F").resize(
            (n_img, n_img), Image.BILINEAR), dtype=np.float64)
        out[i, start:start + n_img, start:start + n_img] = (small - 0.5) / 0.5
    return out


def gabor_energy(images) -> np.ndarray:
    """Local Gabor energy of images shown at 12 deg on an 18 deg grey field.

    Parameters
    ----------
    images : numpy.ndarray, shape (n_images, 3, H, W)
        RGB pixels in [0, 1].

    Returns
    -------
    numpy.ndarray, shape (n_images, n_channels, G, G), float32
        ``n_channels = len(SF_CPD) * len(ORIENTATIONS_DEG)`` (frequency-major), on a grid
        of ``G = FIELD_DEG * PX_PER_DEG / POOL`` (72) points, 0.25 deg apart, each channel
        normalized to mean 1 over space and images.
    """
    arr = np.asarray(images)
    expect(arr.ndim == 4 and arr.shape[1] == 3 and arr.shape[0] >= 1, "images.shape",
           arr.shape, "(n_images, 3, H, W)")
    expect(bool(np.isfinite(arr).all()) and arr.min() >= 0 and arr.max() <= 1, "images",
           "values outside [0, 1] or non-finite", "RGB pixels in [0, 1]")
    contrast = _contrast_images(arr)
    n = contrast.shape[-1]
    f = np.fft.fftfreq(n, d=1.0 / PX_PER_DEG)  # cycles/deg
    fx, fy = np.meshgrid(f, f)
    spectrum = fft.fft2(contrast)
    g = n // POOL
    channels = []
    for sf in SF_CPD:
        sigma = sf * (2 ** 0.5 - 1) / (2 ** 0.5 + 1) * 2 / np.sqrt(2 * np.log(2))  # 1 octave
        for ori in np.deg2rad(ORIENTATIONS_DEG):
            cx, cy = sf * np.cos(ori), sf * np.sin(ori)
            kernel = np.exp(-((fx - cx) ** 2 + (fy - cy) ** 2) / (2 * sigma ** 2))
            amp = np.abs(fft.ifft2(spectrum * kernel))  # one-sided: quadrature pair
            # pooled at once: the full-resolution channels together would take a gigabyte
            channels.append(amp.reshape(len(arr), g, POOL, g, POOL).mean(axis=(2, 4)))
    energy = np.stack(channels, axis=1)  # (n, C, g, g)
    energy /= energy.mean(axis=(0, 2, 3), keepdims=True) + 1e-12
    return energy.astype(np.float32)


#: Vertices whose pRF maps are weighted together in :func:`prf_responses` (512 x 72 x 72
#: float64: 21 MB).
_PRF_BLOCK = 512


def _prf_pool(energy: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """Each vertex's pRF-weighted energy: ``pooled[v, i, c] = sum_yx gy[v, y] E[i, c, y, x]
    gx[v, x]``, shape (n_vertices, n_images, n_channels), float64.

    One matrix product with each vertex's separable pRF as a weight map over the grid, a
    block of vertices at a time (the maps of every vertex together would take hundreds of
    MB); about 10 times faster than contracting one grid axis after the other.
    """
    n_img, n_ch, g, _ = energy.shape
    flat = energy.reshape(n_img * n_ch, g * g).astype(np.float64)
    pooled = np.empty((len(gx), n_img * n_ch))
    for start in range(0, len(gx), _PRF_BLOCK):
        block = slice(start, start + _PRF_BLOCK)
        maps = (gy[block, :, None] * gx[block, None, :]).reshape(-1, g * g)
        pooled[block] = maps @ flat.T
    return pooled.reshape(len(gx), n_img, n_ch)


def prf_responses(energy: np.ndarray, vertices: pd.DataFrame, seed=0,
                  orientation_bias: float = 0.3) -> np.ndarray:
    """Neural response of every vertex to every image (before the BOLD stage).

    Parameters
    ----------
    energy : numpy.ndarray, shape (n_images, n_channels, G, G)
        From :func:`gabor_energy`.
    vertices : pandas.DataFrame
        ``roi, ecc, prf_x, prf_y, prf_size`` per vertex (:class:`advlib.fmri.simulation.cortex.Cortex`).
    seed : int or numpy.random.Generator
        Orientation preferences.
    orientation_bias : float
        Depth of the orientation preference (0: none).

    Returns
    -------
    numpy.ndarray, shape (n_images, n_vertices), float64
        ``drive ** n`` per vertex, scaled so that each area's mean response is 1; zero for
        vertices outside the ROIs (``roi == ""``).
    """
    rng = np.random.default_rng(seed)
    visual = (vertices.roi != "").to_numpy()
    full = vertices
    vertices = vertices[visual]
    n_img, n_ch, g, _ = energy.shape
    centers = -FIELD_DEG / 2 + (np.arange(g) + 0.5) * FIELD_DEG / g
    x = vertices.prf_x.to_numpy()[:, None]
    y = vertices.prf_y.to_numpy()[:, None]
    s = vertices.prf_size.to_numpy()[:, None]
    gx = np.exp(-(centers[None, :] - x) ** 2 / (2 * s ** 2))
    gy = np.exp(-(-centers[None, :] - y) ** 2 / (2 * s ** 2))  # image row 0 is the top (+y)
    gx /= gx.sum(1, keepdims=True)
    gy /= gy.sum(1, keepdims=True)
    pooled = _prf_pool(energy, gx, gy)
    sf = np.repeat(np.log2(SF_CPD), len(ORIENTATIONS_DEG))
    ori = np.tile(np.deg2rad(ORIENTATIONS_DEG), len(SF_CPD))
    ecc = vertices.ecc.to_numpy()
    preferred = np.log2(np.clip(6.0 / (1.0 + ecc / 2.0), SF_CPD[0], SF_CPD[-1]))
    w_sf = np.exp(-(sf[None, :] - preferred[:, None]) ** 2 / 2.0)
    pref_ori = rng.uniform(0, np.pi, len(vertices))
    w_ori = 1.0 + orientation_bias * np.cos(2 * (ori[None, :] - pref_ori[:, None]))
    w = w_sf * w_ori
    w /= w.sum(1, keepdims=True)
    drive = np.einsum("vic,vc->iv", pooled, w)
    exponent = vertices.roi.map({r: p["exponent"] for r, p in AREA_PARAMS.items()}).to_numpy()
    resp = np.maximum(drive, 0) ** exponent[None, :]
    for roi in np.unique(vertices.roi):
        cols = (vertices.roi == roi).to_numpy()
        resp[:, cols] /= resp[:, cols].mean()
    out = np.zeros((n_img, len(full)))
    out[:, visual] = resp
    return out


DESIGNS = ("paper", "interleaved")


def session_plan(image_ids, seed=0, design: str = "paper") -> dict:
    """Split the images into the 2 sessions.

    Parameters
    ----------
    image_ids : pandas.DataFrame
        Columns ``image_id, kind, source_id`` (a stimulus manifest).
    seed : int or numpy.random.Generator
    design : {"paper", "interleaved"}
        ``paper``: a regular image and its AN and AI images are always in the same session
        (the paper: 20 x 3 images per session), so every RDM shares the session structure.
        ``interleaved``: each kind's images are split between the sessions by its own
        random balanced draw, so an image's RE, AN and AI are in sessions independent of
        each other and the RDMs of different kinds share no session structure.

    Returns
    -------
    dict of int to list of str
        ``{1: [image ids of session 1], 2: [...]}``.
    """
    expect(design in DESIGNS, "design", design, f"one of {', '.join(DESIGNS)}")
    rng = np.random.default_rng(seed)
    sources = np.array(sorted(image_ids.source_id.unique()))
    expect(len(sources) >= 2, "stimuli", f"{len(sources)} regular images", "at least 2")
    half = (len(sources) + 1) // 2
    if design == "paper":
        order = rng.permutation(sources)
        plan = {}
        for session, chosen in ((1, order[:half]), (2, order[half:])):
            rows = image_ids[image_ids.source_id.isin(chosen)]
            plan[session] = sorted(rows.image_id)
        return plan
    plan = {1: [], 2: []}
    for kind in ("RE", "AN", "AI"):
        order = rng.permutation(sources)
        for session, chosen in ((1, order[:half]), (2, order[half:])):
            rows = image_ids[(image_ids.kind == kind) & image_ids.source_id.isin(chosen)]
            plan[session] += list(rows.image_id)
    return {s: sorted(ids) for s, ids in plan.items()}


def run_events(session_images, seed=0, n_blank: int = 9) -> pd.DataFrame:
    """Trial list of one run: 2 trials per image + ``n_blank`` blanks, shuffled.

    Parameters
    ----------
    session_images : list of str
        The image ids shown in this session.
    seed : int or numpy.random.Generator
    n_blank : int
        Blank trials per run (9 in the paper).

    Returns
    -------
    pandas.DataFrame
        One row per trial, in time order: ``onset`` (s, from the start of the scan),
        ``duration`` (2 s), ``trial_type`` (``"<image_id>_p1"``, ``"<image_id>_p2"`` or
        ``"blank"``), ``image_id``, ``presentation`` (1, 2, or 0 for blanks).
    """
    rng = np.random.default_rng(seed)
    trials = [img for img in session_images for _ in range(2)] + [BLANK] * n_blank
    trials = [trials[i] for i in rng.permutation(len(trials))]
    seen: dict[str, int] = {}
    rows = []
    for t, img in enumerate(trials):
        onset = LEAD_S + TRIAL_S * t + (TRIAL_S - IMAGE_S)
        if img == BLANK:
            rows.append((onset, IMAGE_S, BLANK, BLANK, 0))
            continue
        seen[img] = seen.get(img, 0) + 1
        rows.append((onset, IMAGE_S, f"{img}_p{seen[img]}", img, seen[img]))
    return pd.DataFrame(rows, columns=["onset", "duration", "trial_type", "image_id",
                                       "presentation"])



@dataclass
class SimulatedRuns:
    """Time series and events of all runs of one simulated subject.

    Attributes
    ----------
    data : list of numpy.ndarray, each shape (n_frames, n_vertices), float32
    events : list of pandas.DataFrame
        As :func:`run_events`, one per run.
    sessions : list of int
        Session of each run.
    true_betas : pandas.DataFrame
        Ground truth: condition x vertex amplitudes (% signal), index = condition name.
    """

    data: list
    events: list
    sessions: list
    true_betas: pd.DataFrame


def simulate_runs(responses: pd.DataFrame, plan: dict, *, snr: float = 1.0,
                  n_runs_per_session: int = 5, ar1: float = 0.3, n_shared: int = 5,
                  shared_fraction: float = 0.5, drift_amplitude: float = 1.0,
                  run_gain_sd: float = 0.1, amplitude_sd: float = 0.3, seed=0,
                  progress: bool = False) -> SimulatedRuns:
    """BOLD time series of the paper's experiment for one subject.

    Parameters
    ----------
    responses : pandas.DataFrame, shape (n_images, n_vertices)
        Neural responses (index = image id), from :func:`prf_responses`.
    plan : dict
        From :func:`session_plan`.
    snr : float
        Response amplitude over noise SD (see the module docstring).
    n_runs_per_session : int
        5 in the paper.
    ar1 : float
        AR(1) coefficient of the vertex noise.
    n_shared : int
        Noise time courses shared across vertices.
    shared_fraction : float
        Share of the noise variance that is shared.
    drift_amplitude : float
        SD of the slow drift, in units of the noise SD.
    run_gain_sd : float
        SD of the multiplicative per-run gain of the responses.
    amplitude_sd : float
        SD of the log vertex amplitude (vertices differ in % signal change).
    seed : int or numpy.random.Generator
    progress : bool

    Returns
    -------
    SimulatedRuns
    """
    from nilearn.glm.first_level import make_first_level_design_matrix
    from scipy.signal import lfilter

    expect(snr > 0, "snr", snr, "a positive signal-to-noise ratio")
    check_probability(ar1, "ar1", high_open=True, what="an AR(1) coefficient")
    check_probability(shared_fraction, "shared_fraction", what="a fraction")
    rng = np.random.default_rng(seed)
    n_vertices = responses.shape[1]
    amp = np.exp(amplitude_sd * rng.standard_normal(n_vertices))
    conditions = [f"{img}_p{p}" for s in sorted(plan) for img in plan[s] for p in (1, 2)]
    true = pd.DataFrame(0.0, index=conditions + [BLANK], columns=responses.columns)
    for cond in conditions:
        true.loc[cond] = responses.loc[cond.rsplit("_p", 1)[0]].to_numpy() * amp
    noise_sd = 1.0 / snr
    loadings = rng.standard_normal((n_shared, n_vertices)) / np.sqrt(max(n_shared, 1))
    data, events, sessions = [], [], []
    runs = [(s, r) for s in sorted(plan) for r in range(n_runs_per_session)]
    for session, _ in tqdm(runs, desc="simulate runs", disable=not progress):
        ev = run_events(plan[session], seed=rng)
        times = frame_times(len(ev))
        design = make_first_level_design_matrix(times, ev[["onset", "duration", "trial_type"]],
                                                hrf_model="glover", drift_model=None)
        cols = [c for c in design.columns if c != "constant"]
        signal = design[cols].to_numpy() @ true.loc[cols].to_numpy()
        signal *= 1.0 + run_gain_sd * rng.standard_normal()
        white = lfilter([1.0], [1.0, -ar1], rng.standard_normal((len(times), n_vertices)), axis=0)
        white *= np.sqrt(1 - ar1 ** 2)
        shared = lfilter([1.0], [1.0, -0.8], rng.standard_normal((len(times), n_shared)), axis=0)
        shared *= np.sqrt(1 - 0.8 ** 2)
        frac = shared_fraction if n_shared > 0 else 0.0
        noise = (np.sqrt(1 - frac) * white + np.sqrt(frac) * shared @ loadings) * noise_sd
        t = (times - times[0]) / (times[-1] - times[0])
        drift = sum(rng.standard_normal(n_vertices)[None, :] * np.cos(np.pi * k * t)[:, None]
                    for k in (1, 2)) * drift_amplitude * noise_sd
        data.append((signal + noise + drift).astype(np.float32))
        events.append(ev)
        sessions.append(session)
    return SimulatedRuns(data, events, sessions, true)



