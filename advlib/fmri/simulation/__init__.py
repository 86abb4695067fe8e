"""The simulated observer: a schematic retinotopic cortex, an image-computable response model and the
paper's fMRI experiment, writing subjects in the documented data format. Nothing on the real-data
path (:mod:`advlib.fmri`) imports this package.
"""

from typing import TYPE_CHECKING

from ...exports import lazy_exports

if TYPE_CHECKING:   # loaded on first use (advlib.exports); the cache keys read these
    from .betas import (
        BETA_NOISE,
        beta_noise,
        dataset_noise,
        null_responses,
        simulate_betas,
        subject_model,
    )
    from .cortex import (
        AREA_PARAMS,
        Cortex,
        fsaverage_template,
        make_cortex,
        make_hemisphere,
    )
    from .observer import (
        DESIGNS,
        FIELD_DEG,
        IMAGE_DEG,
        ORIENTATIONS_DEG,
        SF_CPD,
        SimulatedRuns,
        gabor_energy,
        prf_responses,
        run_events,
        session_plan,
        simulate_runs,
    )
    from .simulate import (
        SIMULATION_DEFAULTS,
        observer_subject,
        resolve_dataset,
        simulate_dataset,
        simulate_subject,
        stimulus_energy,
    )


#: The public names, by module (each module's ``__all__``; tests/test_layers.py checks that
#: none is missing and that no name hides a module).
__all__ = [
    # cortex
    "AREA_PARAMS", "Cortex", "make_hemisphere", "make_cortex", "fsaverage_template",
    # observer
    "SF_CPD", "ORIENTATIONS_DEG", "FIELD_DEG", "IMAGE_DEG", "gabor_energy", "prf_responses",
    "session_plan", "run_events", "simulate_runs", "SimulatedRuns", "DESIGNS",
    # simulate
    "SIMULATION_DEFAULTS", "simulate_subject", "simulate_dataset", "resolve_dataset", "stimulus_energy",
    "observer_subject",
    # betas
    "BETA_NOISE", "subject_model", "null_responses", "simulate_betas", "beta_noise", "dataset_noise",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__, __all__)
