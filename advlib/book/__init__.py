"""The book on top of the analyses: plots, the interactive explorer, notebook execution, the
whole-chain ``reproduce`` and the claims summary.
"""

from typing import TYPE_CHECKING

from ..exports import lazy_exports

if TYPE_CHECKING:   # loaded on first use (advlib.exports); the cache keys read these
    from .explore import (
        Explorer,
    )
    from .notebooks import (
        DATASETS,
        NOTEBOOKS,
        PAPER_DESIGN,
        PER_SUBJECT,
        PROFILES,
        REGISTRY,
        NotebookError,
        NotebookSpec,
        PageVariant,
        execute_page,
        notebook_parameters,
        notebook_plan,
        repo_root,
        run_notebook,
        run_notebooks,
        stimulus_options,
        subject_names,
    )
    from .pipeline import (
        CLUSTERS,
        STAGES,
        reproduce,
    )
    from .plotting import (
        KIND_COLORS,
        ROI_COLORS,
        plot_adversarial_examples,
        plot_brain_rdms,
        plot_design_matrix,
        plot_encoding_accuracy,
        plot_flat_maps,
        plot_ground_truth,
        plot_layer_assignment,
        plot_layer_profile,
        plot_layer_profiles,
        plot_layer_similarities,
        plot_models_layers,
        plot_null_distributions,
        plot_rdm_triplet,
        plot_roi_similarities,
        plot_run_design,
        plot_searchlight_maps,
        plot_set_profiles,
        plot_stimulus_grid,
        setup_page,
    )
    from .summary import (
        DatasetPage,
        build_tables,
        claims_summary,
        conclusion,
        dataset_page,
        glue_texts,
        load_build_info,
        models_claims,
        summary_numbers,
        table_view,
    )


#: The public names, by module (each module's ``__all__``; tests/test_layers.py checks that
#: none is missing and that no name hides a module).
__all__ = [
    # plotting
    "plot_stimulus_grid", "plot_brain_rdms", "plot_layer_profile", "plot_layer_profiles",
    "plot_set_profiles", "plot_adversarial_examples", "plot_rdm_triplet", "plot_null_distributions",
    "plot_layer_similarities", "plot_flat_maps", "plot_design_matrix", "plot_run_design",
    "plot_roi_similarities", "plot_searchlight_maps", "KIND_COLORS", "ROI_COLORS",
    "plot_encoding_accuracy", "plot_layer_assignment", "plot_ground_truth", "setup_page",
    "plot_models_layers",
    # explore
    "Explorer",
    # notebooks
    "NOTEBOOKS", "PROFILES", "notebook_parameters", "notebook_plan", "run_notebook", "run_notebooks",
    "PER_SUBJECT", "PAPER_DESIGN", "stimulus_options", "subject_names", "NotebookError", "DATASETS",
    "repo_root", "execute_page", "REGISTRY", "NotebookSpec", "PageVariant",
    # summary
    "claims_summary", "summary_numbers", "conclusion", "load_build_info", "build_tables", "glue_texts",
    "dataset_page", "DatasetPage", "table_view", "models_claims",
    # pipeline
    "reproduce", "STAGES", "CLUSTERS",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__, __all__)
