"""The CNN half of the study: models and their readout layers, feature extraction, adversarial image
optimizers, image sources, RE selection and the stimulus set on disk.
"""

from typing import TYPE_CHECKING

from ..exports import lazy_exports

if TYPE_CHECKING:   # loaded on first use (advlib.exports); the cache keys read these
    from .adversarial import (
        IMAGENET_MEAN_RGB,
        AdversarialResult,
        choose_targets,
        generate_ai,
        generate_an,
        image_distances,
        imagenet_mean_image,
        quantize,
    )
    from .caffe import (
        CAFFE_ALEXNET_SHAPES,
        CAFFE_MEAN_BGR,
        CaffeAlexNet,
        caffe_preprocessing,
        load_caffe_alexnet,
        read_caffemodel,
    )
    from .features import (
        extract_features,
        record_layers,
        stimulus_features,
    )
    from .images import (
        ImageSource,
        as_image_tensor,
        class_probabilities,
        discover_images,
        embedded_images,
        imagenet_wnids,
        prepare_image,
        read_image,
        read_images,
    )
    from .models import (
        ALEXNET_WEIGHTS_ENV,
        CAFFE_ALEXNET_ENV,
        LAYERS,
        MODELS,
        LazyModel,
        ModelWrapper,
        caffe_alexnet_file,
        check_weights,
        imagenet_categories,
        load_model,
        model_readouts,
    )
    from .selection import (
        PAPER_CONFIDENCE,
        PAPER_N_PER_CLASS,
        PAPER_SUPERCLASSES,
        SUPERCLASSES,
        check_design,
        design_counts,
        design_record,
        design_text,
        select_regular,
    )
    from .stimulus_set import (
        KINDS,
        MANIFEST_COLUMNS,
        build_stimulus_set,
        check_stage_images,
        load_design,
        load_manifest,
        load_skipped,
        load_stimulus_images,
        re_image_ids,
        summarize_stimuli,
        usable_sources,
    )


#: The public names, by module (each module's ``__all__``; tests/test_layers.py checks that
#: none is missing and that no name hides a module).
__all__ = [
    # caffe
    "CaffeAlexNet", "CAFFE_ALEXNET_SHAPES", "CAFFE_MEAN_BGR", "read_caffemodel", "caffe_preprocessing",
    "load_caffe_alexnet",
    # models
    "MODELS", "LAYERS", "ModelWrapper", "LazyModel", "load_model", "imagenet_categories",
    "ALEXNET_WEIGHTS_ENV",
    "CAFFE_ALEXNET_ENV", "caffe_alexnet_file", "model_readouts", "check_weights",
    # features
    "extract_features", "record_layers", "stimulus_features",
    # adversarial
    "IMAGENET_MEAN_RGB", "AdversarialResult", "imagenet_mean_image", "generate_an", "generate_ai",
    "choose_targets", "quantize", "image_distances",
    # images
    "ImageSource", "embedded_images", "discover_images", "read_image", "prepare_image", "read_images",
    "imagenet_wnids", "as_image_tensor", "class_probabilities",
    # selection
    "SUPERCLASSES", "PAPER_SUPERCLASSES", "PAPER_N_PER_CLASS", "PAPER_CONFIDENCE", "select_regular",
    "design_record", "check_design", "design_text", "design_counts",
    # stimulus_set
    "MANIFEST_COLUMNS", "build_stimulus_set", "load_manifest", "load_skipped", "load_design",
    "check_stage_images", "load_stimulus_images", "summarize_stimuli", "usable_sources", "re_image_ids",
    "KINDS",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__, __all__)
