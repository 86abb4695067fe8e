import numpy as np
import pandas as pd
import pytest
from scipy.spatial import Delaunay

from advlib.analysis import compute_rdm
from advlib.errors import InputError
from advlib.fmri import (
    geodesic_disks,
    geodesic_distances,
    reliability_map,
    searchlight_rdms,
    select_vertices,
    split_half_reliabilities,
    split_half_reliability,
)
from advlib.kernels import upper_triangle


def _hex_grid(n=15):
    pts = np.array([(i + 0.5 * (j % 2), j * np.sqrt(3) / 2) for j in range(n) for i in range(n)])
    return pts, Delaunay(pts).simplices


def test_geodesic_distance_on_a_regular_grid_vs_euclidean():
    xy, faces = _hex_grid()
    centre = int(np.argmin(np.linalg.norm(xy - xy.mean(0), axis=1)))
    geo = geodesic_distances(xy, faces, [centre])[0]
    euc = np.linalg.norm(xy - xy[centre], axis=1)
    near = (euc > 0) & (euc < 5)
    ratio = geo[near] / euc[near]
    assert ratio.min() >= 1 - 1e-9                 # never shorter than the straight line
    assert ratio.max() <= 2 / np.sqrt(3) + 1e-9     # hexagonal lattice bound
    along = near & (np.abs(xy[:, 1] - xy[centre, 1]) < 1e-9)
    np.testing.assert_allclose(geo[along], euc[along])  # exact along lattice lines


def test_disks_have_the_expected_size():
    xy, faces = _hex_grid(21)
    disks = geodesic_disks(xy, faces, radius=3.0)
    centre = int(np.argmin(np.linalg.norm(xy - xy.mean(0), axis=1)))
    members = disks[centre].indices
    assert centre in members
    assert 25 <= len(members) <= 37  # pi * 9 / (sqrt(3)/2) ~ 33 lattice points
    assert np.all(np.linalg.norm(xy[members] - xy[centre], axis=1) <= 3.0 + 1e-9)
    assert (disks != disks.T).nnz == 0


def test_searchlight_rdms_equal_per_disk_rdms(rng):
    xy, faces = _hex_grid(10)
    disks = geodesic_disks(xy, faces, radius=2.0)
    patterns = rng.normal(size=(6, len(xy)))
    fast = searchlight_rdms(patterns, disks)
    for v in (0, 37, 55, 99):
        members = disks[v].indices
        np.testing.assert_allclose(fast[v], upper_triangle(compute_rdm(patterns[:, members])),
                                   atol=1e-10)


def test_reliability_map_finds_the_reliable_region(rng):
    xy, faces = _hex_grid(16)
    disks = geodesic_disks(xy, faces, radius=2.0)
    n_img = 10
    signal = rng.normal(size=(n_img, len(xy)))
    reliable = xy[:, 0] < 6
    names, rows = [], []
    data = []
    for pres in (1, 2):
        noise = rng.normal(size=signal.shape) * 2.0
        beta = np.where(reliable, signal + 0.15 * noise, noise)
        for i in range(n_img):
            names.append(f"re{i:02d}_p{pres}")
            rows.append((names[-1], f"re{i:02d}", "RE", pres))
            data.append(beta[i])
    betas = pd.DataFrame(np.array(data), index=names)
    conditions = pd.DataFrame(rows, columns=["condition", "image_id", "kind", "presentation"])
    rel = reliability_map(betas, conditions, disks)
    inner = xy[:, 0] < 4
    outer = xy[:, 0] > 9
    assert np.nanmean(rel[inner]) > 0.5 > 0.15 > abs(np.nanmean(rel[outer]))


def _two_presentations(rng, n_img=8, n_vertices=30):
    names, rows, data = [], [], []
    signal = rng.normal(size=(n_img, n_vertices))
    for pres in (2, 1):                                 # rows not in presentation order
        for i in rng.permutation(n_img):
            names.append(f"re{i:02d}_p{pres}")
            rows.append((names[-1], f"re{i:02d}", "RE", pres))
            data.append(signal[i] + 0.5 * rng.normal(size=n_vertices))
    return (pd.DataFrame(np.array(data), index=names),
            pd.DataFrame(rows, columns=["condition", "image_id", "kind", "presentation"]))


def test_split_half_reliabilities_is_the_single_set_value_for_each_set(rng):
    """The batched form looks the conditions up once; each value is the one-set function's,
    which is the Spearman r of the two presentations' RDMs computed by hand."""
    from scipy import stats

    betas, conditions = _two_presentations(rng)
    sets = [np.arange(30), np.array([3, 1, 7, 20, 11]), np.arange(0, 30, 2)]
    batch = split_half_reliabilities(betas, conditions, sets)
    assert batch.shape == (3,)
    for cols, value in zip(sets, batch):
        assert value == split_half_reliability(betas, conditions, cols)
        rdm = [upper_triangle(compute_rdm(betas.loc[[f"re{i:02d}_p{p}" for i in range(8)]]
                                          .to_numpy()[:, cols])) for p in (1, 2)]
        assert value == pytest.approx(stats.spearmanr(*rdm).statistic, abs=1e-12)
    bad = betas.copy()
    bad.iloc[0, 3] = np.nan
    with pytest.raises(InputError, match="RE presentation 2.*NaN"):
        split_half_reliabilities(bad, conditions, sets)


def test_select_vertices_top_n_per_hemisphere_and_roi():
    vertices = pd.DataFrame({"hemi": ["lh"] * 6 + ["rh"] * 6,
                             "roi": ["V1", "V1", "V1", "V2", "V2", ""] * 2})
    rel = np.array([0.1, 0.9, 0.5, 0.3, np.nan, 1.0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.9])
    sel = select_vertices(vertices, rel, n_per_hemi=2)
    by = sel.groupby(["hemi", "roi"]).vertex.apply(list).to_dict()
    assert by == {("lh", "V1"): [1, 2], ("lh", "V2"): [3], ("rh", "V1"): [8, 7],
                  ("rh", "V2"): [10, 9]}
    with pytest.raises(InputError, match=r"reliability.shape=\(3,\)"):
        select_vertices(vertices, rel[:3])


def test_select_vertices_equals_a_pandas_sort_with_ties(rng):
    """The selection by one lexsort equals sorting the table with pandas (hemisphere, ROI,
    reliability descending, vertex) and taking each group's head, tied reliabilities and
    NaN included; vertices of no hemisphere (None) are left out, as pandas' groups do."""
    for trial in range(60):
        n = int(rng.integers(1, 300))
        hemis = ["lh", "rh", None] if trial % 3 == 0 else ["lh", "rh"]
        vertices = pd.DataFrame({"hemi": rng.choice(np.array(hemis, dtype=object), n),
                                 "roi": rng.choice(["V1", "V2", "V3", "V4", "LO", ""], n)})
        rel = (rng.integers(0, 5, n) / 4 if trial % 2 else rng.random(n)).astype(float)
        rel[rng.random(n) < 0.1] = np.nan
        k = int(rng.integers(1, 40))
        frame = vertices.assign(vertex=np.arange(n), reliability=rel)
        frame = frame[np.isfinite(frame.reliability) & (frame.roi != "") & frame.hemi.notna()]
        ref = (frame.sort_values(["hemi", "roi", "reliability", "vertex"],
                                 ascending=[True, True, False, True])
               .groupby(["hemi", "roi"], sort=True).head(k).copy())
        ref["rank"] = ref.groupby(["hemi", "roi"]).cumcount() + 1
        ref = ref[["vertex", "hemi", "roi", "reliability", "rank"]].reset_index(drop=True)
        pd.testing.assert_frame_equal(select_vertices(vertices, rel, k), ref)
