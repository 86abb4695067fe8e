"""Geodesic searchlight disks on a cortical mesh and vectorized searchlight RDMs.

Geodesic distance is the length of the shortest path along mesh edges (as in the paper:
"approximated by the length of the shortest path between them on the flattened
surface"), computed with Dijkstra's algorithm (scipy.sparse.csgraph) up to the radius.

Searchlight RDMs are computed for every disk at once: with the disk membership as a
sparse matrix ``D`` (vertices x vertices) and the patterns ``B`` (conditions x vertices),
the per-disk sums ``D @ B.T`` and sums of products ``D @ (B_i * B_j).T`` give every disk's
correlation-distance RDM with two sparse matrix products, no loop over vertices.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from ..errors import check_positive_int, expect
from ..kernels import correlation_rdm, rowwise_spearman, spearman, triu_pairs, upper_triangle
from .data import ROIS

__all__ = ["mesh_edges", "geodesic_distances", "geodesic_disks", "searchlight_rdms", "reliability_map",
           "select_vertices", "split_half_reliability", "split_half_reliabilities",
           "vertex_coordinates"]


def vertex_coordinates(vertices: pd.DataFrame) -> np.ndarray:
    """The positions geodesic distances are measured on: the flat map, or the folded mesh.

    Parameters
    ----------
    vertices : pandas.DataFrame
        ``x_mm, y_mm`` and, for a subject read from a folded surface without a flat patch
        (:mod:`advlib.fmri.formats`), ``z_mm``.

    Returns
    -------
    numpy.ndarray, shape (n_vertices, 2) or (n_vertices, 3)
    """
    columns = ["x_mm", "y_mm"] + (["z_mm"] if "z_mm" in vertices else [])
    return vertices[columns].to_numpy(np.float64)


def geodesic_distances(xy, faces, sources=None, limit: float = np.inf):
    """Shortest-path distances along mesh edges.

    Parameters
    ----------
    xy : array_like, shape (n_vertices, 2) or (n_vertices, 3)
        Flat-map coordinates (mm), or the folded mesh's (edge lengths in 3-D).
    faces : array_like, shape (n_faces, 3)
    sources : array_like of int, optional
        Rows to compute from (default: all).
    limit : float
        Stop searching beyond this distance (mm); farther vertices get ``inf``.

    Returns
    -------
    numpy.ndarray, shape (n_sources, n_vertices)
    """
    from scipy.sparse.csgraph import dijkstra

    xy = np.asarray(xy, dtype=np.float64)
    expect(xy.ndim == 2 and xy.shape[1] in (2, 3), "xy.shape", xy.shape,
           "(n_vertices, 2) or (n_vertices, 3)")
    adj = mesh_edges(faces, len(xy)).tocoo()
    w = np.linalg.norm(xy[adj.row] - xy[adj.col], axis=1)
    graph = sparse.csr_matrix((w, (adj.row, adj.col)), shape=adj.shape)
    return dijkstra(graph, directed=False, indices=sources, limit=limit)


def geodesic_disks(xy, faces, radius: float = 3.0, chunk: int = 500) -> sparse.csr_matrix:
    """Membership of every vertex's geodesic disk.

    Parameters
    ----------
    xy : array_like, shape (n_vertices, 2) or (n_vertices, 3)
        See :func:`vertex_coordinates`.
    faces : array_like, shape (n_faces, 3)
    radius : float
        Disk radius in mm (3 in the paper).
    chunk : int
        Sources per Dijkstra call (bounds memory).

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n_vertices, n_vertices), float64
        Row ``v`` has ones at the vertices within ``radius`` of ``v`` (itself included).
    """
    expect(radius > 0, "radius", radius, "a positive distance in mm")
    n = len(xy)
    rows, cols = [], []
    for start in range(0, n, chunk):
        idx = np.arange(start, min(n, start + chunk))
        dist = geodesic_distances(xy, faces, idx, limit=radius)
        r, c = np.nonzero(dist <= radius)
        rows.append(idx[r])
        cols.append(c)
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    return sparse.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n))


def searchlight_rdms(patterns, disks: sparse.csr_matrix) -> np.ndarray:
    """Correlation-distance RDM (upper triangle) of every searchlight disk.

    Parameters
    ----------
    patterns : array_like, shape (n_conditions, n_vertices)
    disks : scipy.sparse matrix, shape (n_centres, n_vertices)
        Membership (from :func:`geodesic_disks`, or any subset of its rows).

    Returns
    -------
    numpy.ndarray, shape (n_centres, n_conditions * (n_conditions - 1) / 2)
        ``1 - r`` between the patterns of each pair of conditions over the disk's
        vertices; NaN where a disk has fewer than 2 vertices or a constant pattern.
    """
    b = np.asarray(patterns, dtype=np.float64)
    expect(b.ndim == 2, "patterns.shape", b.shape, "(n_conditions, n_vertices)")
    expect(disks.shape[1] == b.shape[1], "disks.shape", disks.shape,
           f"(n_centres, {b.shape[1]}) to match the patterns' vertices")
    expect(bool(np.isfinite(b).all()), "patterns", "array with NaN or inf", "finite values")
    disks = sparse.csr_matrix(disks, dtype=np.float64)
    m = np.asarray(disks.sum(1)).ravel()
    bt = np.ascontiguousarray(b.T)        # (vertices, conditions): the products' layout
    s = disks @ bt                        # (centres, conditions): sums
    iu, ju = triu_pairs(b.shape[0])
    ss_diag = disks @ (bt ** 2)           # (centres, conditions)
    # pair products gathered as rows of the transposed arrays, then viewed transposed:
    # (centres, pairs) in column-major order, the layout (and so the reductions downstream)
    # of the column gathers x[:, iu] * x[:, ju], several times faster
    ss_pair = disks @ (b[iu] * b[ju]).T   # (centres, pairs)
    st = np.ascontiguousarray(s.T)
    with np.errstate(invalid="ignore", divide="ignore"):   # in place: (centres, pairs) is big
        cov = (st[iu] * st[ju]).T
        cov /= m[:, None]
        np.subtract(ss_pair, cov, out=cov)
        var = ss_diag - s ** 2 / m[:, None]
        vt = np.ascontiguousarray(var.T)
        denom = (vt[iu] * vt[ju]).T
        np.sqrt(denom, out=denom)
        cov /= denom
    cov[(m < 2)] = np.nan
    np.subtract(1.0, cov, out=cov)
    return cov



def reliability_map(betas: pd.DataFrame, conditions: pd.DataFrame, disks, kind: str = "RE"):
    """Per vertex: Spearman r between the presentation-1 and presentation-2 RDMs of one kind.

    This is the paper's vertex-selection statistic: only ``kind`` (RE) conditions enter.

    Parameters
    ----------
    betas : pandas.DataFrame, shape (n_conditions, n_vertices)
        Index = condition names.
    conditions : pandas.DataFrame
        ``condition, image_id, kind, presentation`` (see :mod:`advlib.fmri.data`).
    disks : scipy.sparse matrix, shape (n_vertices, n_vertices)
    kind : str

    Returns
    -------
    numpy.ndarray, shape (n_vertices,)
    """
    sel = conditions[conditions.kind == kind]
    ids = sorted(sel.image_id.unique())
    expect(len(ids) >= 4, "conditions", f"{len(ids)} {kind} images", f"at least 4 {kind} images")
    p = {}
    for pres in (1, 2):
        names = sel[sel.presentation == pres].set_index("image_id").loc[ids, "condition"]
        p[pres] = searchlight_rdms(betas.loc[names].to_numpy(), disks)
    return rowwise_spearman(p[1], p[2])


def select_vertices(vertices: pd.DataFrame, reliability, n_per_hemi: int = 100,
                    rois=ROIS) -> pd.DataFrame:
    """The ``n_per_hemi`` most reliable vertices of each ROI in each hemisphere.

    Parameters
    ----------
    vertices : pandas.DataFrame
        ``hemi, roi`` per vertex (row order = vertex index).
    reliability : array_like, shape (n_vertices,)
    n_per_hemi : int
        100 in the paper (200 per ROI); 200 for Fig S2 (400 per ROI).
    rois : sequence of str

    Returns
    -------
    pandas.DataFrame
        One row per selected vertex: ``vertex, hemi, roi, reliability, rank``. Where an
        ROI has fewer vertices than asked in a hemisphere, all with a finite reliability
        are taken (the table's length says how many). Vertices with no hemisphere (None or
        NaN) or a non-finite reliability are never selected.
    """
    rel = np.asarray(reliability, dtype=np.float64)
    expect(rel.shape == (len(vertices),), "reliability.shape", rel.shape, f"({len(vertices)},)")
    check_positive_int(n_per_hemi, "n_per_hemi")
    vertex = np.flatnonzero(np.isfinite(rel) & vertices.roi.isin(rois).to_numpy()
                            & vertices.hemi.notna().to_numpy())
    hemi, roi = (vertices[c].to_numpy()[vertex] for c in ("hemi", "roi"))
    _, h_code = np.unique(hemi, return_inverse=True)        # codes in the names' order
    _, r_code = np.unique(roi, return_inverse=True)
    # by hemisphere, ROI, reliability (descending), vertex; then the first n of each group
    order = np.lexsort((vertex, -rel[vertex], r_code, h_code))
    group = (h_code * (r_code.max(initial=0) + 1) + r_code)[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    rank = np.arange(group.size) - np.repeat(starts, np.diff(np.r_[starts, group.size])) + 1
    take = order[rank <= n_per_hemi]
    return pd.DataFrame({"vertex": vertex[take], "hemi": hemi[take], "roi": roi[take],
                         "reliability": rel[vertex[take]],
                         "rank": rank[rank <= n_per_hemi].astype(np.int64)})


def split_half_reliability(betas: pd.DataFrame, conditions: pd.DataFrame, columns,
                           kind: str = "RE") -> float:
    """Spearman r between presentation-1 and presentation-2 RDMs over a set of vertices.

    Parameters
    ----------
    betas : pandas.DataFrame, shape (n_conditions, n_vertices)
    conditions : pandas.DataFrame
    columns : array_like of int
        Vertex columns (e.g. an ROI's selected vertices).
    kind : str

    Returns
    -------
    float
    """
    return float(split_half_reliabilities(betas, conditions, [columns], kind)[0])


def split_half_reliabilities(betas: pd.DataFrame, conditions: pd.DataFrame, column_sets,
                             kind: str = "RE") -> np.ndarray:
    """:func:`split_half_reliability` of several vertex sets, the conditions looked up once.

    Parameters
    ----------
    betas : pandas.DataFrame, shape (n_conditions, n_vertices)
    conditions : pandas.DataFrame
    column_sets : sequence of array_like of int
        One set of vertex columns per result.
    kind : str

    Returns
    -------
    numpy.ndarray, shape (len(column_sets),)
    """
    sel = conditions[conditions.kind == kind]
    ids = sorted(sel.image_id.unique())
    expect(len(ids) >= 4, "conditions", f"{len(ids)} {kind} images",
           "at least 4 images with two presentations each")
    rows = {pres: betas.index.get_indexer(
        sel[sel.presentation == pres].set_index("image_id").loc[ids, "condition"])
        for pres in (1, 2)}
    values = betas.to_numpy(np.float64)
    out = np.empty(len(column_sets))
    for i, columns in enumerate(column_sets):
        vec = {}
        for pres in (1, 2):
            x = values[np.ix_(rows[pres], np.asarray(columns))]
            expect(bool(np.isfinite(x).all()), f"{kind} presentation {pres}",
                   "betas with NaN or inf", "finite betas")
            expect(bool((x.std(1) > 0).all()), f"{kind} presentation {pres}",
                   "an image whose pattern is constant over the vertices",
                   "patterns that vary across vertices")
            vec[pres] = upper_triangle(correlation_rdm(x))
        out[i] = spearman(vec[1], vec[2])
    return out


def mesh_edges(faces, n_vertices: int):
    """Unique undirected edges of a triangle mesh as a sparse adjacency matrix.

    Parameters
    ----------
    faces : numpy.ndarray, shape (n_faces, 3)
    n_vertices : int

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n_vertices, n_vertices)
        Symmetric; entry 1 where two vertices share a triangle edge.
    """
    from scipy import sparse

    f = np.asarray(faces, dtype=np.int64)
    i = np.concatenate([f[:, 0], f[:, 1], f[:, 2]])
    j = np.concatenate([f[:, 1], f[:, 2], f[:, 0]])
    adj = sparse.coo_matrix((np.ones(i.size), (i, j)), shape=(n_vertices, n_vertices)).tocsr()
    adj = ((adj + adj.T) > 0).astype(np.float64)
    return adj.tocsr()
