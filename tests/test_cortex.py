import numpy as np
import pytest
from scipy.sparse.csgraph import connected_components

from advlib.errors import InputError
from advlib.fmri import ROIS, mesh_edges
from advlib.fmri.simulation import make_cortex, make_hemisphere


@pytest.fixture(scope="module")
def cortex():
    return make_cortex(seed=3)


def test_rois_are_contiguous_regions(cortex):
    """V1, V4 and LO are one region each; V2 and V3 one dorsal and one ventral region each
    (in the brain they meet only at the foveal confluence, which the schematic omits)."""
    v = cortex.vertices
    adj = mesh_edges(cortex.faces, len(v))
    expected = {"V1": 1, "V2": 2, "V3": 2, "V4": 1, "LO": 1}
    for hemi in ("lh", "rh"):
        for roi in ROIS:
            idx = np.flatnonzero(((v.hemi == hemi) & (v.roi == roi)).to_numpy())
            n_comp, _ = connected_components(adj[idx][:, idx], directed=False)
            assert n_comp == expected[roi], (hemi, roi)
        for band in v.band.unique():
            if band == "other":
                continue
            idx = np.flatnonzero(((v.hemi == hemi) & (v.band == band)).to_numpy())
            assert connected_components(adj[idx][:, idx], directed=False)[0] == 1


def test_spacing_and_coverage(cortex):
    v = cortex.vertices
    f = cortex.faces
    xy = v[["x_mm", "y_mm"]].to_numpy()
    edge = np.linalg.norm(xy[f[:, 0]] - xy[f[:, 1]], axis=1)
    assert 0.8 < np.median(edge) < 1.2  # ~1 mm mesh
    visual = v[v.roi != ""]
    assert visual.ecc.max() > 8.4  # covers the corners of a 12 x 12 deg image
    assert (visual.prf_size > 0).all() and v[v.roi == ""].ecc.isna().all()
    # rh sees the left visual field, lh the right
    assert (v[(v.hemi == "rh") & (v.roi != "")].prf_x <= 1e-9).all()
    assert (v[(v.hemi == "lh") & (v.roi != "")].prf_x >= -1e-9).all()


def test_prf_size_grows_with_eccentricity_and_along_the_hierarchy(cortex):
    v = cortex.vertices[cortex.vertices.roi != ""]
    at = v[(v.ecc > 3) & (v.ecc < 4)].groupby("roi").prf_size.mean()
    assert at["V1"] < at["V2"] < at["V3"] < at["V4"] < at["LO"]
    v1 = v[v.roi == "V1"]
    assert np.corrcoef(v1.ecc, v1.prf_size)[0, 1] > 0.99


def test_v1_borders_are_vertical_meridians():
    h = make_hemisphere("rh", jitter=0.0, seed=0)
    v = h.vertices
    v1 = v[v.band == "V1"]
    assert v1.angle.max() > 80 and v1.angle.min() < -80
    v2v = v[v.band == "V2v"]
    assert v2v.angle.between(0, 90).all()


def test_subjects_differ_by_seed_and_repeat_with_it():
    a, b, a2 = make_cortex(seed=1), make_cortex(seed=2), make_cortex(seed=1)
    assert a.vertices.equals(a2.vertices) and np.array_equal(a.faces, a2.faces)
    assert len(a.vertices) != len(b.vertices) or not a.vertices.equals(b.vertices)


def test_bad_hemisphere():
    with pytest.raises(InputError, match="hemi='both': expected 'lh' or 'rh'"):
        make_hemisphere("both")


def test_a_spacing_beyond_memory_is_refused_with_the_estimate():
    from advlib.errors import InputError

    with pytest.raises(InputError, match=r"spacing=0.001: expected a size that fits in memory: "
                                         r"two hemispheres of about [\d,]+ vertices each"):
        make_cortex(0, spacing=0.001)
