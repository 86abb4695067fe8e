"""The analyses: RDMs and their comparison, resampling statistics, encoding models (ROMP, ridge), the
CNN RSA, brain RSA and encoding analyses, and the paper's claims checked on their tables.
"""

from . import brain_rsa, claims, cnn_rsa, encoding, encoding_analysis, ground_truth, rsa, stats
from .brain_rsa import *  # noqa: F403
from .claims import *  # noqa: F403
from .cnn_rsa import *  # noqa: F403
from .encoding import *  # noqa: F403
from .encoding_analysis import *  # noqa: F403
from .ground_truth import *  # noqa: F403
from .rsa import *  # noqa: F403
from .stats import *  # noqa: F403

__all__ = [
    "METRICS",
    "COMPARISONS",
    "compute_rdm",
    "upper_triangle",
    "compare_rdms",
    "to_rsatoolbox",
    "from_rsatoolbox",
    "check_rdm",
    "square_rdm",
    "PermutationResult",
    "BootstrapResult",
    "permutation_test",
    "bootstrap_similarities",
    "percentile_ci",
    "bootstrap_p",
    "mann_kendall",
    "rng_from",
    "romp",
    "ROMPEncoder",
    "RidgeEncoder",
    "choose_n_nonzero",
    "make_encoder",
    "pattern_correlation_parts",
    "ENCODERS",
    "CNN_RSA_COLUMNS",
    "CNNRSAResult",
    "layer_rdms",
    "cnn_rsa",
    "load_cnn_results",
    "BRAIN_RSA_COLUMNS",
    "kind_patterns",
    "vertex_bootstrap",
    "noise_ceiling",
    "roi_rsa",
    "searchlight_rsa",
    "brain_rsa",
    "load_brain_results",
    "ENCODING_COLUMNS",
    "ASSIGNMENT_COLUMNS",
    "transfer_statistics",
    "encoding_analysis",
    "layer_assignment_tests",
    "load_encoding_results",
    "stimulus_claims",
    "fmri_checks",
    "cnn_claims",
    "brain_claims",
    "encoding_claims",
    "VARIANTS",
    "GROUND_TRUTH_COLUMNS",
    "true_subject",
    "ground_truth_rsa",
    "ground_truth_study",
    "ground_truth_summary",
    "ground_truth_numbers",
    "DIAGNOSTIC_COLUMNS",
    "MIN_ROI_VERTICES",
    "read_table",
    "session_diagnostics",
    "vertex_interval",
    "VERTEX_SCHEMES",
    "permutation_indices",
    "check_blocks",
    "searchlight_claims",
    "smallest_bootstrap_p",
    "claims_side_by_side",
    "source_sessions",
    "load_searchlight_maps",
]
