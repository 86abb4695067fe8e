"""The simulated observer: a schematic retinotopic cortex, an image-computable response model and the
paper's fMRI experiment, writing subjects in the documented data format. Nothing on the real-data
path (:mod:`advlib.fmri`) imports this package.
"""

from . import betas, cortex, observer, simulate
from .betas import *  # noqa: F403
from .cortex import *  # noqa: F403
from .observer import *  # noqa: F403
from .simulate import *  # noqa: F403

__all__ = [
    "AREA_PARAMS",
    "Cortex",
    "make_hemisphere",
    "make_cortex",
    "fsaverage_template",
    "SF_CPD",
    "ORIENTATIONS_DEG",
    "FIELD_DEG",
    "IMAGE_DEG",
    "gabor_energy",
    "prf_responses",
    "session_plan",
    "run_events",
    "simulate_runs",
    "SimulatedRuns",
    "SIMULATION_DEFAULTS",
    "simulate_subject",
    "simulate_dataset",
    "resolve_dataset",
    "stimulus_energy",
    "DESIGNS",
    "BETA_NOISE",
    "subject_model",
    "null_responses",
    "simulate_betas",
    "beta_noise",
    "dataset_noise",
]
