"""The real-data fMRI path: the data format and its loader, the acquisition design, the GLM,
searchlight geometry and vertex selection. The simulated observer lives in
:mod:`advlib.fmri.simulation`, which this package does not import.
"""

from . import data, design, glm, rdm_data, searchlight, selection
from .data import *  # noqa: F403
from .design import *  # noqa: F403
from .glm import *  # noqa: F403
from .normalize import *  # noqa: F403
from .rdm_data import *  # noqa: F403
from .searchlight import *  # noqa: F403
from .selection import *  # noqa: F403

__all__ = [
    "RDMData",
    "load_rdm_data",
    "check_rdm_stack",
    "KRIEGESKORTE92",
    "check_vertex_count",
    "choose_subjects",
    "check_pairing",
    "NORMALIZATIONS",
    "normalize_betas",
    "normalize_subject",
    "SESSION",
    "image_sessions",
    "TR",
    "BLANK",
    "LEAD_S",
    "TAIL_S",
    "DISCARD_S",
    "TRIAL_S",
    "IMAGE_S",
    "frame_times",
    "check_events",
    "ROIS",
    "DataError",
    "Subject",
    "CONDITION_COLUMNS",
    "VERTEX_COLUMNS",
    "write_subject",
    "load_subject",
    "subject_from_parts",
    "list_subjects",
    "conditions_from_names",
    "load_dataset_info",
    "subject_files",
    "GLMResult",
    "condition_names",
    "run_design",
    "run_design_frame",
    "fit_glm",
    "crossvalidated_r2",
    "mesh_edges",
    "geodesic_distances",
    "geodesic_disks",
    "vertex_coordinates",
    "searchlight_rdms",
    "reliability_map",
    "select_vertices",
    "split_half_reliability",
    "select_subject",
    "select_dataset",
    "load_selection",
]
