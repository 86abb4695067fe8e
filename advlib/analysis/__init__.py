"""The analyses: RDMs and their comparison, resampling statistics, encoding models (ROMP, ridge), the
CNN RSA, brain RSA and encoding analyses, and the paper's claims checked on their tables.
"""

from typing import TYPE_CHECKING

from ..exports import lazy_exports

if TYPE_CHECKING:   # loaded on first use (advlib.exports); the cache keys read these
    from .brain_analysis import (
        BRAIN_RSA_COLUMNS,
        DIAGNOSTIC_COLUMNS,
        INTERVALS,
        MIN_ROI_VERTICES,
        STAT_COLUMNS,
        VERTEX_SCHEMES,
        above_ceiling,
        brain_rsa,
        image_halves,
        kind_patterns,
        kind_rows,
        load_brain_results,
        load_searchlight_maps,
        noise_ceilings,
        partial_similarities,
        read_table,
        roi_rsa,
        searchlight_roi_tests,
        searchlight_rsa,
        session_diagnostics,
        source_sessions,
        swappable_sources,
        vertex_bootstrap,
        vertex_interval,
    )
    from .calibration import (
        CALIBRATION_COLUMNS,
        FAMILIES,
        VALID_FAMILIES,
        calibration_numbers,
        calibration_study,
        calibration_table,
        interval_coverage,
        rejection_rate,
    )
    from .claims import (
        CALIBRATION_NOTE,
        CLAIM_COLUMNS,
        EFFECT,
        FAILS,
        HOLDS,
        INCONCLUSIVE,
        MIN_POWER,
        NO_EVIDENCE,
        VERDICTS,
        brain_claims,
        claims_side_by_side,
        cnn_claims,
        design_claims,
        encoding_claims,
        fmri_checks,
        no_evidence_table,
        searchlight_claims,
        stimulus_claims,
        verdict_counts,
        with_design,
    )
    from .cnn_analysis import (
        CNN_RSA_COLUMNS,
        CNNRSAResult,
        cnn_rsa,
        layer_rdms,
        load_cnn_results,
    )
    from .encoding import (
        RidgeEncoder,
        ROMPEncoder,
        choose_n_nonzero,
        make_encoder,
        pattern_correlation_parts,
        romp,
    )
    from .encoding_study import (
        ASSIGNMENT_COLUMNS,
        ENCODING_COLUMNS,
        S1_STATISTICS,
        encoding_analysis,
        layer_assignment_comparison,
        layer_assignment_tests,
        layer_assignment_truth,
        layer_table,
        load_encoding_results,
        transfer_statistics,
    )
    from .ground_truth import (
        GROUND_TRUTH_COLUMNS,
        VARIANTS,
        ground_truth_rsa,
        ground_truth_summary,
        true_betas_file,
        true_subject,
        truth_similarities,
    )
    from .ground_truth_study import (
        SNR_RULE,
        STUDY_COLUMNS,
        STUDY_VARIANTS,
        observer_models,
        observer_study,
        path_check,
        snr_rule,
        study_claims,
        study_numbers,
        study_reliability,
        study_seed,
        study_summary,
        study_tasks,
        study_tests,
    )
    from .real_adversarial import (
        HitAdversarial,
        adversarial_claims,
        adversarial_numbers,
        class_rdms,
        difference_slope,
        hit_adversarial,
        load_hit_adversarial,
        set_differences,
        set_scores,
    )
    from .real_images import (
        HIT_IMAGE_OUTPUTS,
        SETS,
        HitImages,
        hit_images,
        load_hit_images,
    )
    from .real_rsa import (
        HitResult,
        category_rdm,
        category_tests,
        hit_numbers,
        hit_profiles,
        hit_rsa,
        layer_scores,
        load_hit_results,
        noise_ceiling,
        real_claims,
    )
    from .rsa import (
        COMPARISONS,
        METRICS,
        MIN_RSA_IMAGES,
        MIN_RSA_WHY,
        check_rdm,
        check_sessions,
        compare_rdms,
        compute_rdm,
        from_rsatoolbox,
        square_rdm,
        to_rsatoolbox,
    )
    from .stats import (
        BootstrapResult,
        PermutationResult,
        SwapResult,
        at_least_power,
        bootstrap_p,
        bootstrap_references,
        bootstrap_similarities,
        centred_interval,
        check_blocks,
        mann_kendall,
        mann_kendall_exact_p,
        normal_power,
        paired_t_power,
        percentile_ci,
        permutation_indices,
        permutation_test,
        rng_from,
        smallest_p,
        swap_indices,
        swap_test,
    )


#: The public names, by module (each module's ``__all__``; tests/test_layers.py checks that
#: none is missing and that no name hides a module).
__all__ = [
    # rsa
    "MIN_RSA_IMAGES", "MIN_RSA_WHY", "METRICS", "COMPARISONS", "compute_rdm", "compare_rdms",
    "to_rsatoolbox", "from_rsatoolbox", "check_rdm", "square_rdm", "check_sessions",
    # stats
    "PermutationResult", "BootstrapResult", "SwapResult", "permutation_test", "bootstrap_similarities",
    "bootstrap_references", "percentile_ci", "centred_interval", "bootstrap_p", "paired_t_power",
    "swap_test", "swap_indices", "mann_kendall", "mann_kendall_exact_p", "rng_from",
    "permutation_indices", "check_blocks", "smallest_p", "normal_power", "at_least_power",
    # encoding
    "romp", "ROMPEncoder", "RidgeEncoder", "choose_n_nonzero", "make_encoder",
    "pattern_correlation_parts",
    # cnn_analysis
    "CNN_RSA_COLUMNS", "CNNRSAResult", "layer_rdms", "cnn_rsa", "load_cnn_results",
    # brain_analysis
    "BRAIN_RSA_COLUMNS", "DIAGNOSTIC_COLUMNS", "STAT_COLUMNS", "MIN_ROI_VERTICES", "read_table",
    "session_diagnostics", "kind_patterns", "kind_rows", "source_sessions", "partial_similarities",
    "swappable_sources", "load_searchlight_maps", "vertex_bootstrap", "vertex_interval",
    "VERTEX_SCHEMES", "INTERVALS", "image_halves", "noise_ceilings", "roi_rsa", "searchlight_rsa",
    "searchlight_roi_tests", "brain_rsa", "load_brain_results", "above_ceiling",
    # encoding_study
    "ENCODING_COLUMNS", "ASSIGNMENT_COLUMNS", "S1_STATISTICS", "transfer_statistics",
    "encoding_analysis", "layer_table", "layer_assignment_tests", "layer_assignment_truth",
    "layer_assignment_comparison", "load_encoding_results",
    # claims
    "HOLDS", "FAILS", "NO_EVIDENCE", "INCONCLUSIVE", "VERDICTS", "CLAIM_COLUMNS", "EFFECT", "MIN_POWER",
    "stimulus_claims", "fmri_checks", "cnn_claims", "brain_claims", "searchlight_claims",
    "encoding_claims", "claims_side_by_side", "verdict_counts", "no_evidence_table", "design_claims",
    "with_design", "CALIBRATION_NOTE",
    # ground_truth
    "VARIANTS", "GROUND_TRUTH_COLUMNS", "true_betas_file", "true_subject", "truth_similarities",
    "ground_truth_rsa", "ground_truth_summary",
    # ground_truth_study
    "STUDY_VARIANTS", "STUDY_COLUMNS", "SNR_RULE", "observer_models", "study_seed", "observer_study",
    "study_tasks", "study_tests", "path_check", "study_summary", "snr_rule", "study_claims",
    "study_reliability", "study_numbers",
    # calibration
    "FAMILIES", "VALID_FAMILIES", "CALIBRATION_COLUMNS", "rejection_rate", "calibration_table",
    "interval_coverage", "calibration_study", "calibration_numbers",
    # real_rsa
    "noise_ceiling", "category_rdm", "category_tests", "layer_scores", "hit_rsa", "HitResult",
    "load_hit_results", "real_claims", "hit_numbers", "hit_profiles",
    # real_images
    "SETS", "HIT_IMAGE_OUTPUTS", "HitImages", "hit_images", "load_hit_images",
    # real_adversarial
    "HitAdversarial", "hit_adversarial", "load_hit_adversarial", "set_scores", "set_differences",
    "difference_slope", "class_rdms", "adversarial_claims", "adversarial_numbers",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__, __all__)
