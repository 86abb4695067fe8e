"""The real-data fMRI path: the data format and its loader, the acquisition design, the GLM,
searchlight geometry and vertex selection. The simulated observer lives in
:mod:`advlib.fmri.simulation`, which this package does not import.
"""

from typing import TYPE_CHECKING

from ..exports import lazy_exports

if TYPE_CHECKING:   # loaded on first use (advlib.exports); the cache keys read these
    from .data import (
        CONDITION_COLUMNS,
        DATASET_INFO,
        ROIS,
        RUNS_TABLE,
        SESSION,
        SUBJECT_INFO,
        TRUE_BETAS,
        VERTEX_COLUMNS,
        DataError,
        Subject,
        check_pairing,
        choose_subjects,
        conditions_from_names,
        events_file,
        image_sessions,
        list_subjects,
        load_dataset_info,
        load_subject,
        subject_files,
        subject_from_parts,
        timeseries_file,
        write_subject,
    )
    from .design import (
        BLANK,
        DISCARD_S,
        IMAGE_S,
        LEAD_S,
        TAIL_S,
        TR,
        TRIAL_S,
        check_events,
        frame_times,
    )
    from .formats import (
        BACKGROUND_LABELS,
        FORMATS,
        GLMSINGLE_FILE,
        ROI_ALIASES,
        event_conditions,
        export_dataset,
        export_subject,
        import_dataset,
        load_bids_gifti,
        load_glmsingle,
        parse_bids_name,
        read_events,
        read_gifti_data,
        read_glmsingle,
        read_labels,
        read_surface,
        write_gifti_data,
        write_labels,
        write_surface,
    )
    from .glm import (
        GLMResult,
        condition_names,
        crossvalidated_r2,
        fit_glm,
        run_design,
        run_design_frame,
    )
    from .normalize import (
        NORMALIZATIONS,
        normalize_betas,
        normalize_subject,
    )
    from .rdm_data import (
        KRIEGESKORTE92,
        RDMData,
        check_rdm_stack,
        load_rdm_data,
    )
    from .searchlight import (
        geodesic_disks,
        geodesic_distances,
        mesh_edges,
        reliability_map,
        searchlight_rdms,
        select_vertices,
        split_half_reliabilities,
        split_half_reliability,
        vertex_coordinates,
    )
    from .selection import (
        check_vertex_count,
        load_selection,
        select_dataset,
        select_subject,
    )


#: The public names, by module (each module's ``__all__``; tests/test_layers.py checks that
#: none is missing and that no name hides a module).
__all__ = [
    # formats
    "FORMATS", "ROI_ALIASES", "BACKGROUND_LABELS", "GLMSINGLE_FILE", "parse_bids_name",
    "read_surface", "read_gifti_data", "read_labels", "read_events", "event_conditions",
    "read_glmsingle", "load_bids_gifti", "load_glmsingle", "import_dataset",
    "write_surface", "write_gifti_data", "write_labels", "export_subject", "export_dataset",
    # rdm_data
    "RDMData", "load_rdm_data", "check_rdm_stack", "KRIEGESKORTE92",
    # normalize
    "NORMALIZATIONS", "normalize_betas", "normalize_subject",
    # design
    "TR", "BLANK", "LEAD_S", "TAIL_S", "DISCARD_S", "TRIAL_S", "IMAGE_S", "frame_times", "check_events",
    # data
    "choose_subjects", "check_pairing", "SESSION", "image_sessions", "ROIS", "DataError", "Subject",
    "CONDITION_COLUMNS", "VERTEX_COLUMNS", "write_subject", "load_subject", "list_subjects",
    "conditions_from_names", "load_dataset_info", "subject_files", "subject_from_parts",
    "DATASET_INFO", "SUBJECT_INFO", "RUNS_TABLE", "TRUE_BETAS", "events_file", "timeseries_file",
    # glm
    "GLMResult", "condition_names", "run_design", "run_design_frame", "fit_glm", "crossvalidated_r2",
    # searchlight
    "mesh_edges", "geodesic_distances", "geodesic_disks", "searchlight_rdms", "reliability_map",
    "select_vertices", "split_half_reliability", "split_half_reliabilities", "vertex_coordinates",
    # selection
    "check_vertex_count", "select_subject", "select_dataset", "load_selection",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__, __all__)
