"""The paper's acquisition design (Methods): timing constants, frame times, event tables.

These facts hold for any dataset recorded with the paper's protocol, simulated or real,
so the GLM (real-data path) and the simulated observer both take them from here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError, expect

__all__ = ["TR", "BLANK", "LEAD_S", "TAIL_S", "DISCARD_S", "TRIAL_S", "IMAGE_S", "frame_times",
           "check_events"]

#: Repetition time (s).
TR = 2.0
#: Condition name of the blank trials.
BLANK = "blank"
#: Seconds: blank lead-in and tail of a run, discarded start, trial, and image within a trial.
LEAD_S, TAIL_S, DISCARD_S, TRIAL_S, IMAGE_S = 20.0, 20.0, 18.0, 4.0, 2.0


def frame_times(n_trials: int) -> np.ndarray:
    """Acquisition times (s) kept for a run of ``n_trials`` trials (first 18 s discarded).

    Returns
    -------
    numpy.ndarray, shape (n_frames,)
    """
    duration = LEAD_S + TRIAL_S * n_trials + TAIL_S
    return np.arange(int(np.ceil(DISCARD_S / TR)), int(duration // TR)) * TR


def check_events(events: pd.DataFrame, name: str = "events") -> pd.DataFrame:
    """Validate an events table (``onset, duration, trial_type``)."""
    missing = [c for c in ("onset", "duration", "trial_type") if c not in events.columns]
    expect(not missing, f"{name} columns", missing, "onset, duration, trial_type")
    expect(bool(np.isfinite(events[["onset", "duration"]].to_numpy(float)).all()), name,
           "non-finite onsets/durations", "finite numbers of seconds")
    if (events.duration <= 0).any():
        raise InputError(f"{name}: durations must be positive")
    return events
