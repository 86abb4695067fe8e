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


# fsaverage5's flat maps with the retinotopic template


@pytest.fixture(scope="module")
def fsaverage():
    return make_cortex(seed=3, surface="fsaverage5")


def test_fsaverage5_mesh_is_the_flat_maps_kept_vertices(fsaverage):
    """Both hemispheres of nilearn's fsaverage5 flat maps without the medial wall: valid
    triangles within one hemisphere, flat-map millimetres, each vertex used by a face."""
    v, f = fsaverage.vertices, fsaverage.faces
    assert f.dtype == np.int64 and f.min() >= 0 and f.max() < len(v)
    hemi = v.hemi.to_numpy()
    assert (hemi[f] == hemi[f[:, :1]]).all()
    for h in ("lh", "rh"):
        part = v[v.hemi == h]
        assert 9000 < len(part) < 10242                # fsaverage5 less its medial wall
        assert part.fsaverage_vertex.is_unique and part.fsaverage_vertex.max() < 10242
    assert np.unique(f).size == len(v)
    xy = v[["x_mm", "y_mm"]].to_numpy()
    edge = np.linalg.norm(xy[f[:, 0]] - xy[f[:, 1]], axis=1)
    assert 2 < np.median(edge) < 4                     # fsaverage5: a few mm between vertices
    assert np.ptp(xy[hemi == "lh", 0]) > 250           # a whole hemisphere's flat map


def test_fsaverage5_template_rois_and_eccentricity(fsaverage):
    """Every ROI in both hemispheres; V1 wedges on the calcarine lips, then V2, V3, then
    V4 and LO, in that order around the occipital pole; eccentricity grows away from it;
    each hemisphere sees the contralateral field."""
    from advlib.fmri.simulation.cortex import _fsaverage5_flat

    v = fsaverage.vertices
    for h in ("lh", "rh"):
        part = v[v.hemi == h]
        counts = part.roi.value_counts()
        assert all(counts.get(r, 0) >= 10 for r in ROIS), (h, counts)
        _, _, _, pole, dorsal, inward = _fsaverage5_flat(h)
        offsets = part[["x_mm", "y_mm"]].to_numpy() - pole
        r = np.linalg.norm(offsets, axis=1)
        # angle from the nearer calcarine lip: 0 on the lip, 90 straight into the patch
        lip = np.degrees(np.arctan2(np.abs(offsets @ inward), np.abs(offsets @ dorsal)))
        visual = (part.roi != "").to_numpy()
        order = [np.median(lip[visual & (part.roi == roi).to_numpy()]) for roi in ROIS]
        assert order[0] < order[1] < order[2] < min(order[3], order[4]), (h, order)
        assert np.corrcoef(r[visual], np.log1p(part.ecc[visual]))[0, 1] > 0.99
        near, far = part.ecc[visual & (r < 10)], part.ecc[visual & (r > 25)]
        assert near.max() < far.min()
        assert part.ecc[visual].max() > 8 and part.ecc[~visual].isna().all()
        side = -1 if h == "rh" else 1
        assert (side * part.prf_x[visual] >= -1e-9).all() and (part.prf_size[visual] > 0).all()
    v1 = v[v.band.isin(["V1d", "V1v"])]
    assert (v1[v1.band == "V1d"].prf_y <= 1e-9).all()  # dorsal V1: lower visual field
    assert (v1[v1.band == "V1v"].prf_y >= -1e-9).all()


def test_fsaverage5_subjects_share_the_mesh_and_differ_in_the_template():
    a, b = make_cortex(seed=1, surface="fsaverage5"), make_cortex(seed=2, surface="fsaverage5")
    assert np.array_equal(a.faces, b.faces)
    assert a.vertices[["x_mm", "y_mm"]].equals(b.vertices[["x_mm", "y_mm"]])
    assert not a.vertices.roi.equals(b.vertices.roi)
    assert make_cortex(seed=1, surface="fsaverage5").vertices.equals(a.vertices)


def test_fsaverage5_disks_hold_few_vertices_at_the_papers_radius(fsaverage):
    """A 3 mm geodesic disk on fsaverage5 holds only the centre and its nearest neighbours
    (median a handful); searchlight selection there wants a larger radius (6 mm: ~10-20)."""
    from advlib.fmri import geodesic_distances

    v = fsaverage.vertices
    visual = np.flatnonzero((v.roi != "").to_numpy())
    xy = v[["x_mm", "y_mm"]].to_numpy()
    dist = geodesic_distances(xy, fsaverage.faces, visual, limit=6.0)  # as geodesic_disks
    sizes = {r: (dist <= r).sum(1) for r in (3.0, 6.0)}
    assert 1 <= np.median(sizes[3.0]) <= 8
    assert 8 <= np.median(sizes[6.0]) <= 40 and (sizes[6.0] >= sizes[3.0]).all()


def test_a_subject_on_fsaverage5_goes_through_selection_and_roi_rsa(synthetic_observer):
    from advlib.analysis.brain_analysis import kind_patterns, roi_rsa
    from advlib.fmri import select_subject
    from advlib.fmri.simulation import session_plan, simulate_betas

    cortex, resp, manifest = synthetic_observer(n_sources=12, seed=0, surface="fsaverage5")
    plan = session_plan(manifest, seed=0)
    sub, _ = simulate_betas(resp, manifest, plan, cortex, snr=2.0, seed=0, name="sub-01")
    rel, sel, split = select_subject(sub, radius=6.0, n_per_hemi=20, n_random=2)
    assert set(sel.roi) == set(ROIS) and set(split.roi) == set(ROIS)
    assert (sel.groupby(["hemi", "roi"]).size() <= 20).all()
    patterns = kind_patterns(sub, manifest)
    row = roi_rsa(sub, patterns, sel[sel.roi == "V1"].vertex.to_numpy(), "V1", n_perm=50,
                  n_boot=0, n_swap=0, seed=0)
    assert row["re_ai"] > row["re_an"]


def test_unknown_surface_is_refused_naming_parameter_value_and_choices():
    from advlib.layout import SURFACES, simulation_spec

    with pytest.raises(InputError, match="surface='fsaverage': expected one of "
                                         "schematic, fsaverage5"):
        make_cortex(0, surface="fsaverage")
    with pytest.raises(InputError, match=r"dataset\['surface'\]='pial': expected one of"):
        simulation_spec({"kind": "simulated", "surface": "pial"})
    assert SURFACES == ("schematic", "fsaverage5")


def test_the_surface_is_in_the_dataset_folder_name_only_when_not_the_default(tmp_path):
    from advlib.layout import Layout, dataset_label, simulation_spec

    default = simulation_spec("simulated")
    assert "surface" not in default and "fsaverage5" not in dataset_label("simulated")
    assert simulation_spec({"kind": "simulated", "surface": "schematic"}) == default
    fs5 = {"kind": "simulated", "surface": "fsaverage5"}
    assert dataset_label(fs5) == dataset_label("simulated") + "-fsaverage5"
    layout = Layout(tmp_path, "m")
    assert layout.dataset_dir(fs5) != layout.dataset_dir("simulated")


def test_an_unknown_surface_is_refused_before_any_work(tmp_path):
    from advlib.fmri.simulation import simulate_dataset

    with pytest.raises(InputError, match="surface='flat': expected one of schematic, "
                                         "fsaverage5"):
        simulate_dataset(tmp_path / "no-stimuli", tmp_path / "out", [1], surface="flat")
    assert not (tmp_path / "out").exists()
