"""The book on top of the analyses: plots, the interactive explorer, notebook execution, the
whole-chain ``reproduce`` and the claims summary.
"""

from . import explore, notebooks, plotting, reproduce, summary
from .explore import *  # noqa: F403
from .notebooks import *  # noqa: F403
from .plotting import *  # noqa: F403
from .reproduce import *  # noqa: F403
from .summary import *  # noqa: F403

__all__ = [
    "plot_stimulus_grid",
    "plot_brain_rdms",
    "plot_layer_profile",
    "plot_layer_profiles",
    "plot_set_profiles",
    "plot_adversarial_examples",
    "plot_rdm_triplet",
    "plot_null_distributions",
    "plot_layer_similarities",
    "plot_flat_maps",
    "plot_design_matrix",
    "plot_run_design",
    "plot_roi_similarities",
    "plot_searchlight_maps",
    "KIND_COLORS",
    "ROI_COLORS",
    "plot_encoding_accuracy",
    "plot_layer_assignment",
    "Explorer",
    "NOTEBOOKS",
    "PROFILES",
    "notebook_parameters",
    "notebook_plan",
    "run_notebook",
    "run_notebooks",
    "PER_SUBJECT",
    "PAPER_DESIGN",
    "stimulus_options",
    "subject_names",
    "NotebookError",
    "claims_summary",
    "summary_numbers",
    "conclusion",
    "load_build_info",
    "build_tables",
    "glue_texts",
    "dataset_page",
    "DatasetPage",
    "table_view",
    "reproduce",
    "STAGES",
    "DATASETS",
    "repo_root",
    "plot_ground_truth",
    "setup_page",
    "plot_models_layers",
    "models_claims",
    "CLUSTERS",
]
