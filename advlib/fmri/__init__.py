"""The real-data fMRI path: the data format and its loader, the acquisition design, the GLM,
searchlight geometry and vertex selection. The simulated observer lives in
:mod:`advlib.fmri.simulation`, which this package does not import.
"""

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
    split_half_reliability,
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
    # rdm_data
    "RDMData", "load_rdm_data", "check_rdm_stack", "KRIEGESKORTE92",
    # normalize
    "NORMALIZATIONS", "normalize_betas", "normalize_subject",
    # design
    "TR", "BLANK", "LEAD_S", "TAIL_S", "DISCARD_S", "TRIAL_S", "IMAGE_S", "frame_times", "check_events",
    # data
    "choose_subjects", "check_pairing", "SESSION", "image_sessions", "ROIS", "DataError", "Subject",
    "CONDITION_COLUMNS", "VERTEX_COLUMNS", "write_subject", "load_subject", "list_subjects",
    "conditions_from_names", "load_dataset_info", "subject_files",
    "DATASET_INFO", "SUBJECT_INFO", "RUNS_TABLE", "TRUE_BETAS", "events_file", "timeseries_file",
    # glm
    "GLMResult", "condition_names", "run_design", "run_design_frame", "fit_glm", "crossvalidated_r2",
    # searchlight
    "mesh_edges", "geodesic_distances", "geodesic_disks", "searchlight_rdms", "reliability_map",
    "select_vertices", "split_half_reliability",
    # selection
    "check_vertex_count", "select_subject", "select_dataset", "load_selection",
]
