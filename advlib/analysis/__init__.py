"""The analyses: RDMs and their comparison, resampling statistics, encoding models (ROMP, ridge), the
CNN RSA, brain RSA and encoding analyses, and the paper's claims checked on their tables.
"""

from . import (
                                brain_rsa,
                                calibration,
                                claims,
                                cnn_rsa,
                                encoding,
                                encoding_analysis,
                                ground_truth,
                                observer_study,
                                real_adversarial,
                                real_images,
                                real_rsa,
                                rsa,
                                stats,
)

#: Every module's public names, in module order, taken before the star imports below rebind
#: ``brain_rsa``, ``cnn_rsa`` and ``encoding_analysis`` to their functions (so the list cannot
#: fall behind a module).
__all__ = [name for _module in (rsa, stats, encoding, cnn_rsa, brain_rsa, encoding_analysis,
                                claims, ground_truth, observer_study, calibration, real_rsa,
                                real_images, real_adversarial)
           for name in _module.__all__]

from .brain_rsa import *  # noqa: E402, F403
from .calibration import *  # noqa: E402, F403
from .claims import *  # noqa: E402, F403
from .cnn_rsa import *  # noqa: E402, F403
from .encoding import *  # noqa: E402, F403
from .encoding_analysis import *  # noqa: E402, F403
from .ground_truth import *  # noqa: E402, F403
from .observer_study import *  # noqa: E402, F403
from .real_adversarial import *  # noqa: E402, F403
from .real_images import *  # noqa: E402, F403
from .real_rsa import *  # noqa: E402, F403
from .rsa import *  # noqa: E402, F403
from .stats import *  # noqa: E402, F403
