"""The CNN half of the study: models and their readout layers, feature extraction, adversarial image
optimizers, image sources, RE selection and the stimulus set on disk.
"""

from . import adversarial, caffe, features, images, models, selection, stimulus_set
from .adversarial import *  # noqa: F403
from .caffe import *  # noqa: F403
from .features import *  # noqa: F403
from .images import *  # noqa: F403
from .models import *  # noqa: F403
from .selection import *  # noqa: F403
from .stimulus_set import *  # noqa: F403

__all__ = [
    "CaffeAlexNet",
    "CAFFE_ALEXNET_SHAPES",
    "CAFFE_MEAN_BGR",
    "read_caffemodel",
    "caffe_preprocessing",
    "load_caffe_alexnet",
    "CAFFE_ALEXNET_ENV",
    "caffe_alexnet_file",
    "MODELS",
    "LAYERS",
    "ModelWrapper",
    "load_model",
    "imagenet_categories",
    "file_sha256",
    "ALEXNET_WEIGHTS_ENV",
    "model_readouts",
    "extract_features",
    "as_image_tensor",
    "record_layers",
    "stimulus_features",
    "IMAGENET_MEAN_RGB",
    "AdversarialResult",
    "imagenet_mean_image",
    "generate_an",
    "generate_ai",
    "choose_targets",
    "quantize",
    "image_distances",
    "ImageSource",
    "embedded_images",
    "discover_images",
    "read_image",
    "prepare_image",
    "imagenet_wnids",
    "SUPERCLASSES",
    "select_regular",
    "MANIFEST_COLUMNS",
    "build_stimulus_set",
    "load_manifest",
    "load_skipped",
    "load_stimulus_images",
    "summarize_stimuli",
    "usable_sources",
    "KINDS",
    "re_image_ids",
]
