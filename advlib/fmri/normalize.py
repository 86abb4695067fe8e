"""Per-vertex normalisation of the betas within each scanning session.

In the paper's design an image and its AN and AI twins are shown in one session, so
whatever is common to a session's estimates (run constants, drift, noise regressors, the
blank predictor that pins a session's level) makes images of one session alike in every
RDM, and can fake RE-AN similarity. Normalising each vertex within each session, right
after the GLM and before vertex selection, RDMs, searchlight and encoding, removes the
additive part of that confound:

``none``
    The paper's pipeline as published.
``center``
    Subtract, per vertex and session, the mean beta of the session's image conditions.
``zscore``
    Also divide by their standard deviation (as the Natural Scenes Dataset does).

The statistics use **all image conditions of the session** (RE, AN and AI), not the RE
conditions only. The session constant removed is then the same for every condition of a
session; a constant estimated from the RE images alone removes the offset from RE exactly
but leaves the AN and AI patterns shifted by the difference of their session means,
which on the simulated observer turned RE-AN from +0.38 too high (``none``) into 0.30 too
low (mean bias over 3 subjects x 5 ROIs; ``center`` with all conditions: +0.12). The
constant includes AN and AI responses, but it is one number per vertex and session, the
same for every RE image, so the selection still ranks vertices by how consistently they
distinguish RE images. Blank conditions are left as they are.

Centring gives every RDM a structure of its own: each centred pattern carries minus its
session's mean, so same-session pairs differ systematically from pairs across sessions in
every RDM, and RDMs of pure noise then correlate (+0.04 with 17 images). The analyses
therefore compare RDMs by partial correlation given which sessions each pair comes from
(:func:`advlib.analysis.rsa.compare_rdms` with ``sessions``) wherever they respect the
sessions.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ..errors import check_choice
from .data import SESSION, Subject

__all__ = ["NORMALIZATIONS", "normalize_betas", "normalize_subject"]

NORMALIZATIONS = ("none", "center", "zscore")


def normalize_betas(betas: np.ndarray, conditions: pd.DataFrame,
                    method: str = "center") -> np.ndarray:
    """Normalise each vertex's betas within each session.

    Parameters
    ----------
    betas : numpy.ndarray, shape (n_conditions, n_vertices)
    conditions : pandas.DataFrame
        One row per betas row with ``kind`` and ``session`` (as loaded by
        :func:`advlib.fmri.load_subject`).
    method : {"none", "center", "zscore"}

    Returns
    -------
    numpy.ndarray, shape (n_conditions, n_vertices), float64
        A new array; blank rows unchanged. A vertex constant within a session gets 0 there
        under ``zscore``.
    """
    check_choice(method, "normalize", NORMALIZATIONS)
    out = np.array(betas, dtype=np.float64, copy=True)
    if method == "none":
        return out
    images = (conditions.kind != "blank").to_numpy()
    sessions = conditions[SESSION].to_numpy()
    for session in np.unique(sessions[images]):
        rows = images & (sessions == session)
        block = out[rows]
        block = block - block.mean(0)
        if method == "zscore":
            sd = block.std(0)
            block = np.divide(block, sd, out=np.zeros_like(block), where=sd > 0)
        out[rows] = block
    return out


def normalize_subject(subject: Subject, method: str = "center") -> Subject:
    """A copy of ``subject`` with its betas normalised within sessions (see the module).

    Parameters
    ----------
    subject : Subject
    method : {"none", "center", "zscore"}

    Returns
    -------
    Subject
        ``info["normalize"]`` records the method.
    """
    betas = normalize_betas(subject.betas.to_numpy(), subject.conditions, method)
    frame = pd.DataFrame(betas, index=subject.betas.index, columns=subject.betas.columns)
    return dataclasses.replace(subject, betas=frame, info={**subject.info, "normalize": method})
