"""The CNN half of the study: models and their readout layers, feature extraction, adversarial image
optimizers, image sources, RE selection and the stimulus set on disk.
"""

from . import adversarial, caffe, features, images, models, selection, stimulus_set

#: Every module's public names, in module order (so the list cannot fall behind a module).
__all__ = list(dict.fromkeys(name for _module in (caffe, models, features, adversarial, images,
                                                  selection, stimulus_set)
                             for name in _module.__all__))

from .adversarial import *  # noqa: E402, F403
from .caffe import *  # noqa: E402, F403
from .features import *  # noqa: E402, F403
from .images import *  # noqa: E402, F403
from .models import *  # noqa: E402, F403
from .selection import *  # noqa: E402, F403
from .stimulus_set import *  # noqa: E402, F403
