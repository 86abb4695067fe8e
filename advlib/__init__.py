"""advlib: replication library for Zhang et al., adversarial images in CNNs and the brain.

The library is layered (see ``ARCHITECTURE.md``)::

    advlib.errors, advlib.provenance, advlib.layout, advlib.kernels   base
    advlib.cnn        models, features, adversarial images, the stimulus set
    advlib.fmri       the real-data fMRI path (format, design, GLM, searchlight, selection)
    advlib.fmri.simulation   the simulated observer (writes the data format)
    advlib.analysis   RSA, statistics, encoding models, the three analyses, claims
    advlib.book       plots, explorer, notebooks, the reproduce pipeline, summary

Every public name lives in one module and is re-exported by name by its subpackage
(``advlib.analysis.brain_rsa`` is the function of module ``advlib.analysis.brain_analysis``;
no public name is also a module's name, so ``import advlib.analysis.brain_analysis`` always
gives the module). This top level keeps a small facade of the names the notebooks use,
each imported from its module when first used::

    import advlib
    model = advlib.load_model("efficientnet_lite0")
    table, maps = advlib.brain_rsa(dataset_dir, stim_dir, out_dir)
"""

from importlib import metadata as _metadata
from typing import TYPE_CHECKING

from .exports import lazy_exports

if TYPE_CHECKING:
    # The facade's names, each loaded from its module on first use (advlib.exports): a
    # page or command pays only for what it uses (torch, for one, takes over a second to
    # import). Linters and readers read these imports, and so do the cache keys of the
    # pages (:func:`advlib.provenance.advlib_imports`: imports in any block count).
    from .analysis.brain_analysis import above_ceiling, brain_rsa, load_brain_results
    from .analysis.calibration import (
        calibration_numbers,
        calibration_study,
        calibration_table,
        interval_coverage,
    )
    from .analysis.claims import (
        brain_claims,
        claims_side_by_side,
        cnn_claims,
        design_claims,
        encoding_claims,
        fmri_checks,
        searchlight_claims,
        stimulus_claims,
        verdict_counts,
        with_design,
    )
    from .analysis.cnn_analysis import cnn_rsa, load_cnn_results
    from .analysis.encoding_study import (
        encoding_analysis,
        layer_assignment_comparison,
        layer_assignment_tests,
        layer_assignment_truth,
        load_encoding_results,
    )
    from .analysis.ground_truth import ground_truth_rsa, ground_truth_summary
    from .analysis.ground_truth_study import (
        observer_study,
        path_check,
        snr_rule,
        study_claims,
        study_numbers,
        study_reliability,
        study_summary,
        study_tests,
    )
    from .analysis.real_adversarial import adversarial_claims, adversarial_numbers, hit_adversarial
    from .analysis.real_images import hit_images
    from .analysis.real_rsa import hit_numbers, hit_profiles, hit_rsa, real_claims
    from .book.explore import Explorer
    from .book.pipeline import reproduce
    from .book.plotting import (
        plot_adversarial_examples,
        plot_brain_rdms,
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
    from .book.summary import (
        build_tables,
        claims_summary,
        conclusion,
        dataset_page,
        glue_texts,
        models_claims,
        summary_numbers,
        table_view,
    )
    from .cnn.models import LAYERS, MODELS, load_model
    from .cnn.stimulus_set import (
        build_stimulus_set,
        load_design,
        load_manifest,
        load_skipped,
        summarize_stimuli,
    )
    from .errors import AdvlibError, InputError, ModelError, StimulusError, WeightsNotFoundError
    from .fmri.data import DataError, load_dataset_info, load_subject
    from .fmri.normalize import normalize_subject
    from .fmri.rdm_data import load_rdm_data
    from .fmri.selection import select_subject
    from .fmri.simulation.betas import dataset_noise
    from .fmri.simulation.simulate import resolve_dataset
    from .layout import Layout, default_results, simulation_spec


try:
    __version__ = _metadata.version("advlib")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "__version__", "AdvlibError", "InputError", "ModelError", "StimulusError",
    "WeightsNotFoundError", "DataError", "LAYERS", "MODELS", "load_model", "build_stimulus_set",
    "load_manifest", "load_skipped", "summarize_stimuli", "load_dataset_info", "load_subject",
    "select_subject", "normalize_subject",
    "resolve_dataset", "cnn_rsa", "load_cnn_results", "brain_rsa", "load_brain_results",
    "encoding_analysis", "layer_assignment_tests", "load_encoding_results", "stimulus_claims",
    "fmri_checks", "cnn_claims", "brain_claims", "encoding_claims", "Explorer",
    "plot_stimulus_grid", "plot_rdm_triplet", "plot_null_distributions",
    "plot_layer_similarities", "plot_flat_maps", "plot_run_design", "plot_roi_similarities",
    "plot_searchlight_maps", "plot_encoding_accuracy", "plot_layer_assignment", "reproduce",
    "claims_summary", "summary_numbers", "conclusion", "build_tables", "Layout",
    "default_results", "simulation_spec",
    "searchlight_claims", "above_ceiling", "calibration_table", "interval_coverage",
    "calibration_study", "calibration_numbers",
    "verdict_counts", "layer_assignment_comparison", "layer_assignment_truth",
    "claims_side_by_side", "ground_truth_rsa", "ground_truth_summary", "observer_study",
    "study_summary", "snr_rule",
    "study_claims", "study_numbers", "study_reliability", "study_tests", "path_check",
    "dataset_noise",
    "hit_rsa", "hit_numbers", "hit_profiles", "real_claims", "plot_layer_profiles",
    "hit_adversarial", "hit_images", "adversarial_claims", "adversarial_numbers", "plot_set_profiles",
    "plot_adversarial_examples",
    "load_rdm_data", "plot_brain_rdms", "plot_layer_profile",
    "dataset_page", "glue_texts", "table_view", "setup_page", "plot_ground_truth",
    "plot_models_layers", "models_claims",
    "design_claims", "with_design", "load_design",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__, __all__)
