"""advlib: replication library for Zhang et al., adversarial images in CNNs and the brain.

Public names are re-exported flatly here::

    import advlib
    model = advlib.load_model("efficientnet_lite0")
    feats = advlib.extract_features(model, images)
"""

from .adversarial import (IMAGENET_MEAN_RGB, AdversarialResult, choose_targets, generate_ai,
                          generate_an, image_distances, imagenet_mean_image, quantize)
from .brain import (BRAIN_RSA_COLUMNS, brain_claims, brain_rsa, kind_patterns, load_brain_results,
                    noise_ceiling, roi_rsa, searchlight_rsa, vertex_bootstrap)
from .cnn import (CNN_RSA_COLUMNS, KINDS, CNNRSAResult, cnn_claims, cnn_rsa, layer_rdms, load_cnn_results,
                  stimulus_features)
from .cortex import AREA_PARAMS, ROIS, Cortex, make_cortex, make_hemisphere, mesh_edges
from .data import (CONDITION_COLUMNS, VERTEX_COLUMNS, DataError, Subject, conditions_from_names,
                   list_subjects, load_dataset_info, load_subject, write_subject)
from .encoding import (ENCODERS, ROMPEncoder, RidgeEncoder, choose_n_nonzero, make_encoder,
                       pattern_correlation_parts, romp)
from .encoding_analysis import (ASSIGNMENT_COLUMNS, ENCODING_COLUMNS, encoding_analysis,
                                encoding_claims, layer_assignment_tests, load_encoding_results,
                                transfer_statistics)
from .errors import AdvlibError, InputError, ModelError, StimulusError, WeightsNotFoundError
from .explore import Explorer
from .features import as_image_tensor, extract_features, record_layers
from .fmri import (SIMULATION_DEFAULTS, fmri_checks, load_selection, resolve_dataset, select_dataset, select_subject,
                   simulate_dataset, simulate_subject, stimulus_energy)
from .glm import GLMResult, condition_names, crossvalidated_r2, fit_glm, run_design, run_design_frame
from .models import (ALEXNET_WEIGHTS_ENV, LAYERS, MODELS, ModelWrapper, file_sha256,
                     imagenet_categories, load_model)
from .notebooks import (NOTEBOOKS, PROFILES, NotebookError, notebook_plan, run_notebook,
                        run_notebooks)
from .observer import (gabor_energy, frame_times, prf_responses, run_events, session_plan,
                       simulate_runs)
from .plotting import (KIND_COLORS, ROI_COLORS, plot_design_matrix, plot_encoding_accuracy,
                       plot_flat_maps, plot_layer_assignment, plot_run_design,
                       plot_layer_similarities, plot_null_distributions, plot_rdm_triplet,
                       plot_roi_similarities, plot_searchlight_maps, plot_stimulus_grid)
from .reproduce import STAGES, reproduce
from .rsa import (COMPARISONS, METRICS, check_rdm, compare_rdms, compute_rdm, from_rsatoolbox,
                  square_rdm, to_rsatoolbox, upper_triangle)
from .stimuli import (MANIFEST_COLUMNS, SUPERCLASSES, ImageSource, build_stimulus_set,
                      discover_images, embedded_images, imagenet_wnids, load_manifest,
                      load_stimulus_images, prepare_image, read_image, select_regular,
                      stimulus_claims, summarize_stimuli)
from .searchlight import (geodesic_disks, geodesic_distances, reliability_map, searchlight_rdms,
                          select_vertices, split_half_reliability)
from .summary import build_tables, claims_summary, load_build_info
from .stats import (BootstrapResult, PermutationResult, bootstrap_p, bootstrap_similarities,
                    mann_kendall, percentile_ci, permutation_test, rng_from)

__version__ = "0.1.0"
