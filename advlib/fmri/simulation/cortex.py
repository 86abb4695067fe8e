"""A schematic flat cortical patch of early visual cortex with a retinotopic map.

Each hemisphere is a flat, triangulated sheet (a jittered hexagonal lattice of ~1 mm
spacing, Delaunay-triangulated) laid out in bands, ventral to dorsal::

    (other) | hV4 | V3v | V2v | V1 | V2d | V3d | LO | (other)

The axis across the bands carries polar angle, mirror-reversed at every border as in
human cortex (V1/V2 borders on the vertical meridians, V2/V3 on the horizontal one;
V1, hV4 and LO map a whole hemifield, V2 and V3 a quarter-field on each side of V1). The
axis along the bands carries eccentricity through the complex-logarithmic magnification
of Schwartz (1980) and Horton & Hoyt (1991): ``u = k log(1 + ecc / a)`` mm. Population
receptive field (pRF) sizes follow linear size-eccentricity relations per area, with
slopes growing from V1 to LO, in the range reported by Dumoulin & Wandell (2008), Kay et
al. (2013) and Wandell & Winawer (2015).

This is a schematic of the real anatomy (a banded log-polar map, not the double-sech
model of Schira et al. 2010 fitted to a brain); it has what the analyses need: ROIs as
contiguous regions (V2 and V3 as a ventral and a dorsal quarter-field band each, which in
the brain meet only at the foveal confluence that the schematic omits), a mesh for
geodesic distances, ~1 mm vertex spacing, and pRFs that
cover the paper's 12 x 12 degree stimuli. The two outer bands ("other", ``roi == ""``)
stand for the non-visual cortex around the ROIs: they carry no pRF and respond to no
stimulus, and supply what a GLMdenoise noise pool draws on in a real brain. Subjects differ
through seeded variation of the magnification, band widths, pRF sizes and vertex positions.

``make_cortex(surface="fsaverage5")`` puts the observer on a real mesh instead: the flat
maps of FreeSurfer's fsaverage5 as nilearn ships them (both hemispheres, medial wall left
out), with the same areas, magnification and pRF sizes laid onto it by a retinotopic
*template* anchored at the occipital pole (:func:`fsaverage_template`). It is a template,
not a measured atlas: no retinotopic or anatomical label of fsaverage5 is on disk offline
(nilearn's Destrieux atlas is a download), so the areas' positions follow the template's
formula, not anyone's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from ...errors import check_choice, check_fits, expect
from ...layout import SURFACES
from ..data import ROIS

__all__ = ["AREA_PARAMS", "Cortex", "make_hemisphere", "make_cortex",
           "fsaverage_template"]


#: Per area: band width (mm), pRF size slope and intercept (deg per deg, deg), and the
#: exponent of the compressive nonlinearity used by :mod:`advlib.fmri.simulation.observer`.
AREA_PARAMS = {
    "V1": {"width": 20.0, "size_slope": 0.15, "size_icpt": 0.3, "exponent": 0.5},
    "V2": {"width": 7.0, "size_slope": 0.22, "size_icpt": 0.4, "exponent": 0.45},
    "V3": {"width": 5.0, "size_slope": 0.32, "size_icpt": 0.5, "exponent": 0.4},
    "V4": {"width": 10.0, "size_slope": 0.45, "size_icpt": 0.8, "exponent": 0.35},
    "LO": {"width": 10.0, "size_slope": 0.70, "size_icpt": 1.5, "exponent": 0.3},
}

# Bands ventral -> dorsal: (label, roi, angle at the ventral edge, angle at the dorsal edge).
# Angles in degrees of the contralateral hemifield: +90 upper vertical meridian, 0
# horizontal meridian, -90 lower vertical meridian.
_BANDS = (
    ("other", "", np.nan, np.nan), ("V4", "V4", -90.0, 90.0), ("V3v", "V3", 90.0, 0.0),
    ("V2v", "V2", 0.0, 90.0),
    ("V1", "V1", 90.0, -90.0), ("V2d", "V2", -90.0, 0.0), ("V3d", "V3", 0.0, -90.0),
    ("LO", "LO", -90.0, 90.0), ("other", "", np.nan, np.nan),
)


# The template's wedges around the occipital pole, from the dorsal calcarine lip (0 deg)
# through the lateral occipital cortex (90 deg) to the ventral lip (180 deg):
# (label, roi, angle at the wedge's start, angle at its end), angles as in _BANDS.
_WEDGES = (
    ("V1d", "V1", 0.0, -90.0), ("V2d", "V2", -90.0, 0.0), ("V3d", "V3", 0.0, -90.0),
    ("LO", "LO", -90.0, 90.0), ("other", "", np.nan, np.nan), ("V4", "V4", -90.0, 90.0),
    ("V3v", "V3", 90.0, 0.0), ("V2v", "V2", 0.0, 90.0), ("V1v", "V1", 90.0, 0.0),
)


@dataclass
class Cortex:
    """Vertices, faces and retinotopy of both hemispheres of one (simulated) subject.

    Attributes
    ----------
    vertices : pandas.DataFrame
        One row per vertex: ``hemi`` ("lh"/"rh"), ``roi`` (``""`` outside the ROIs),
        ``band``, ``x_mm``, ``y_mm`` (flat-map position), ``ecc``, ``angle`` (deg, in the
        contralateral hemifield), ``prf_x``, ``prf_y`` (visual-field position, deg; left
        is negative), ``prf_size`` (deg); the retinotopic columns are NaN outside the ROIs.
    faces : numpy.ndarray, shape (n_faces, 3), int64
        Triangles as row indices into ``vertices`` (each within one hemisphere).
    """

    vertices: pd.DataFrame
    faces: np.ndarray


#: Upper estimate of what simulating a subject holds per vertex: the time series of every
#: run (the paper's 10 runs x 258 frames) in three copies, as float64, plus the mesh.
_BYTES_PER_VERTEX = 3 * 2580 * 8 + 1024


def make_hemisphere(hemi: str = "rh", *, spacing: float = 1.0, max_ecc: float = 9.0,
                    k: float = 15.0, a: float = 0.75, margin: float = 6.0,
                    width_scale: dict | None = None,
                    size_scale: float = 1.0, jitter: float = 0.15, seed=0) -> Cortex:
    """One hemisphere's flat patch.

    Parameters
    ----------
    hemi : {"lh", "rh"}
        ``rh`` represents the left visual field, ``lh`` the right.
    spacing : float
        Lattice spacing in mm (~1 mm as on a cortical surface mesh).
    max_ecc : float
        Largest eccentricity on the patch (deg); 9 covers the corners of a 12 x 12 deg image.
    k, a : float
        Magnification ``M(ecc) = k / (ecc + a)`` mm/deg.
    margin : float
        Width (mm) of the non-visual band on each side of the ROIs.
    width_scale : dict, optional
        Per-area multiplier of the band width (subject variation).
    size_scale : float
        Multiplier of all pRF sizes (subject variation).
    jitter : float
        Random displacement of lattice points, in units of ``spacing``.
    seed : int or numpy.random.Generator

    Returns
    -------
    Cortex
    """
    from scipy.spatial import Delaunay

    expect(hemi in ("lh", "rh"), "hemi", hemi, "'lh' or 'rh'")
    expect(spacing > 0 and max_ecc > 0 and k > 0 and a > 0, "spacing/max_ecc/k/a",
           (spacing, max_ecc, k, a), "positive numbers")
    rng = np.random.default_rng(seed)
    width_scale = width_scale or {}
    widths = [AREA_PARAMS[roi]["width"] * width_scale.get(roi, 1.0) if roi else margin
              for _, roi, _, _ in _BANDS]
    edges = np.concatenate([[0.0], np.cumsum(widths)])
    u_max = k * np.log1p(max_ecc / a)
    # hexagonal lattice: rows along u (eccentricity), offset every other row
    dy = spacing * np.sqrt(3) / 2
    n_est = (np.floor(edges[-1] / dy) + 1) * (np.floor(u_max / spacing) + 1)
    check_fits("spacing", spacing, 2 * n_est * _BYTES_PER_VERTEX,
               f"two hemispheres of about {n_est:,.0f} vertices each at {spacing:g} mm")
    ys = np.arange(0.0, edges[-1] + 1e-9, dy)
    points = []
    for j, y in enumerate(ys):
        xs = np.arange(0.0 if j % 2 == 0 else spacing / 2, u_max + 1e-9, spacing)
        points.append(np.column_stack([xs, np.full(xs.size, y)]))
    pts = np.vstack(points)
    pts = pts + rng.uniform(-jitter, jitter, pts.shape) * spacing
    pts[:, 0] = np.clip(pts[:, 0], 0, u_max)
    pts[:, 1] = np.clip(pts[:, 1], 0, edges[-1])
    faces = Delaunay(pts).simplices.astype(np.int64)
    # drop sliver triangles on the convex hull's boundary (long edges)
    lengths = np.max(np.linalg.norm(pts[faces] - pts[np.roll(faces, 1, axis=1)], axis=2), axis=1)
    faces = faces[lengths < 2.5 * spacing]

    u, v = pts[:, 0], pts[:, 1]
    band = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, len(_BANDS) - 1)
    frac = (v - edges[band]) / np.asarray(widths)[band]
    start = np.array([b[2] for b in _BANDS])[band]
    stop = np.array([b[3] for b in _BANDS])[band]
    angle = start + frac * (stop - start)
    ecc = a * np.expm1(u / k)
    roi = np.array([_BANDS[b][1] for b in band])
    slope = np.array([AREA_PARAMS[r]["size_slope"] if r else np.nan for r in roi])
    icpt = np.array([AREA_PARAMS[r]["size_icpt"] if r else np.nan for r in roi])
    ecc = np.where(roi == "", np.nan, ecc)
    side = -1.0 if hemi == "rh" else 1.0  # rh sees the left hemifield
    theta = np.deg2rad(angle)
    vertices = pd.DataFrame({
        "hemi": hemi, "roi": roi, "band": [_BANDS[b][0] for b in band],
        "x_mm": u, "y_mm": v, "ecc": ecc, "angle": angle,
        "prf_x": side * ecc * np.cos(theta), "prf_y": ecc * np.sin(theta),
        "prf_size": size_scale * (slope * ecc + icpt),
    })
    return Cortex(vertices, faces)


def make_cortex(seed=0, spacing: float = 1.0, max_ecc: float = 9.0, variation: float = 0.1,
                surface: str = "schematic"):
    """Both hemispheres of one simulated subject, with seeded anatomical variation.

    Parameters
    ----------
    seed : int or numpy.random.Generator
        Subject seed: magnification (k, a), band widths, pRF size scale and vertex jitter
        vary by about ``variation`` (relative SD) between subjects and hemispheres.
    spacing, max_ecc : float
        See :func:`make_hemisphere`; ``spacing`` applies to the schematic patch only
        (fsaverage5's mesh has its own, about 2.7 mm between neighbours on the flat map).
    variation : float
        Relative SD of the anatomical parameters.
    surface : {"schematic", "fsaverage5"}
        The schematic flat patch (:func:`make_hemisphere`) or fsaverage5's flat maps with
        the retinotopic template of :func:`fsaverage_template` (every subject has the same
        mesh; the template's magnification, area widths and pRF sizes vary; no jitter).

    Returns
    -------
    Cortex
        ``lh`` rows first, then ``rh``; ``faces`` index the combined rows.
    """
    check_choice(surface, "surface", SURFACES)
    rng = np.random.default_rng(seed)
    parts, faces, offset = [], [], 0
    for hemi in ("lh", "rh"):
        jit = lambda: float(np.clip(1 + variation * rng.standard_normal(), 0.7, 1.3))  # noqa: E731
        params = dict(max_ecc=max_ecc, k=15.0 * jit(), a=0.75 * jit(),
                      width_scale={r: jit() for r in ROIS}, size_scale=jit())
        if surface == "fsaverage5":
            hemi_cortex = fsaverage_template(hemi, **params)
        else:
            hemi_cortex = make_hemisphere(hemi, spacing=spacing, seed=rng, **params)
        parts.append(hemi_cortex.vertices)
        faces.append(hemi_cortex.faces + offset)
        offset += len(hemi_cortex.vertices)
    return Cortex(pd.concat(parts, ignore_index=True), np.vstack(faces))




@lru_cache(maxsize=2)
def _fsaverage5_flat(hemi: str):
    """fsaverage5's flat patch of one hemisphere and where the template is anchored on it.

    Returns
    -------
    xy : numpy.ndarray, shape (n_kept, 2)
        Flat-map position (mm) of the vertices the flat mesh's triangles use (the medial
        wall's vertices, which keep folded coordinates in the flat file, are left out).
    faces : numpy.ndarray, shape (n_faces, 3), int64
        Triangles as indices into ``xy``.
    kept : numpy.ndarray, shape (n_kept,), int64
        Index of each kept vertex in fsaverage5's hemisphere mesh.
    pole : numpy.ndarray, shape (2,)
        Flat-map position of the border vertex nearest the occipital pole (the most
        posterior vertex of the pial surface).
    dorsal, inward : numpy.ndarray, shape (2,)
        Unit vectors at the pole: along the flat map's edge towards the dorsal (cuneus)
        lip of the calcarine cut, and perpendicular to it into the patch.
    """
    from nilearn.datasets import load_fsaverage

    mesh = load_fsaverage("fsaverage5")
    part = {"lh": "left", "rh": "right"}[hemi]
    flat = np.asarray(mesh["flat"].parts[part].coordinates, dtype=np.float64)
    all_faces = np.asarray(mesh["flat"].parts[part].faces, dtype=np.int64)
    pial = np.asarray(mesh["pial"].parts[part].coordinates, dtype=np.float64)
    kept = np.unique(all_faces)
    remap = np.full(len(flat), -1, dtype=np.int64)
    remap[kept] = np.arange(kept.size)
    faces = remap[all_faces]
    xy = flat[kept, :2]
    # the patch's border: FreeSurfer's flattening cuts along the calcarine sulcus, so near
    # the occipital pole the border runs along the calcarine's two lips
    edges = np.sort(np.vstack([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    unique, count = np.unique(edges, axis=0, return_counts=True)
    border = np.unique(unique[count == 1])
    posterior = xy[int(np.argmin(pial[kept, 1]))]      # the most posterior vertex
    pole = xy[border[np.argmin(np.linalg.norm(xy[border] - posterior, axis=1))]]
    near = border[np.linalg.norm(xy[border] - pole, axis=1) < _ANCHOR_RADIUS_MM]
    offsets = xy[near] - pole
    dorsal = np.linalg.svd(offsets - offsets.mean(0), full_matrices=False)[2][0]
    height = pial[kept[near], 2]                       # superior (dorsal) is +z
    if np.sum((offsets @ dorsal) * (height - height.mean())) < 0:
        dorsal = -dorsal
    inward = np.array([-dorsal[1], dorsal[0]])
    if (xy.mean(0) - pole) @ inward < 0:
        inward = -inward
    return xy, faces, kept, pole, dorsal, inward


#: Radius (mm) around the occipital pole in which the flat patch's border sets the
#: calcarine direction of :func:`fsaverage_template`.
_ANCHOR_RADIUS_MM = 25.0


def fsaverage_template(hemi: str = "rh", *, max_ecc: float = 9.0, k: float = 15.0,
                       a: float = 0.75, margin: float = 6.0, width_scale: dict | None = None,
                       size_scale: float = 1.0) -> Cortex:
    """One hemisphere of fsaverage5's flat map with a retinotopic template.

    The template (a wedge map around the foveal confluence, after the complex-logarithmic
    models of Schwartz 1980, Horton & Hoyt 1991 and the wedge-dipole of Balasubramanian et
    al. 2002 / Schira et al. 2010, simplified):

    - **Anchor.** The fovea sits at the occipital pole, the kept vertex with the most
      posterior pial coordinate (the foveal confluence of V1-V3 lies at or near the pole;
      Horton & Hoyt 1991, Schira et al. 2009). FreeSurfer's flattening cuts along the
      calcarine sulcus, so the patch's border runs from the pole along the calcarine's
      dorsal and ventral lips: the border's direction within 25 mm of the pole (principal
      axis, oriented to the superior side) is the template's calcarine axis.
    - **Eccentricity** grows with the flat-map distance ``r`` (mm) from the pole:
      ``ecc = a (exp(r / k) - 1)``, the inverse of ``r = k log(1 + ecc / a)`` (magnification
      ``k / (ecc + a)`` mm/deg, Horton & Hoyt 1991); beyond ``max_ecc`` lies non-visual
      cortex (``roi == ""``).
    - **Areas and polar angle** follow the angle ``phi`` of the direction from the pole,
      0 deg along the dorsal calcarine lip to 180 deg along the ventral one. It is cut into
      wedges, dorsal to ventral: V1d, V2d, V3d, LO, a non-visual gap of ``margin``, V4,
      V3v, V2v, V1v, each wedge's share of the 180 deg proportional to the band widths of
      :data:`AREA_PARAMS` (V1 split in halves). Polar angle runs linearly across a wedge
      and mirrors at every border as in the schematic (horizontal meridian on the
      calcarine lips and at V2/V3, vertical meridians at V1/V2 and V3/V4, V3/LO); V4 and
      LO map a whole hemifield.
    - **pRF size**: ``size_scale (slope ecc + intercept)`` per area (:data:`AREA_PARAMS`).

    Parameters
    ----------
    hemi : {"lh", "rh"}
        ``rh`` represents the left visual field, ``lh`` the right.
    max_ecc, k, a, margin, width_scale, size_scale
        As in :func:`make_hemisphere` (``margin``: the wedge between LO and V4, in the
        same width units as the areas).

    Returns
    -------
    Cortex
        Vertices in fsaverage5's flat-map millimetres (``x_mm, y_mm``), their index in
        fsaverage5's hemisphere mesh (``fsaverage_vertex``), ``band`` = the wedge's label;
        ``faces`` are the flat mesh's triangles among the kept vertices.
    """
    expect(hemi in ("lh", "rh"), "hemi", hemi, "'lh' or 'rh'")
    expect(max_ecc > 0 and k > 0 and a > 0, "max_ecc/k/a", (max_ecc, k, a), "positive numbers")
    xy, faces, kept, pole, dorsal, inward = _fsaverage5_flat(hemi)
    width_scale = width_scale or {}
    widths = np.array([
        (AREA_PARAMS[roi]["width"] / (2 if roi == "V1" else 1)) * width_scale.get(roi, 1.0)
        if roi else margin for _, roi, _, _ in _WEDGES])
    edges = 180.0 * np.concatenate([[0.0], np.cumsum(widths)]) / widths.sum()
    offsets = xy - pole
    r = np.linalg.norm(offsets, axis=1)
    phi = np.clip(np.degrees(np.arctan2(offsets @ inward, offsets @ dorsal)), 0.0, 180.0)
    wedge = np.clip(np.searchsorted(edges, phi, side="right") - 1, 0, len(_WEDGES) - 1)
    frac = (phi - edges[wedge]) / np.diff(edges)[wedge]
    start = np.array([w[2] for w in _WEDGES])[wedge]
    stop = np.array([w[3] for w in _WEDGES])[wedge]
    angle = start + frac * (stop - start)
    ecc = a * np.expm1(r / k)
    visual = ecc <= max_ecc
    roi = np.where(visual, np.array([_WEDGES[w][1] for w in wedge]), "")
    band = np.where(roi == "", "other", np.array([_WEDGES[w][0] for w in wedge]))
    slope = np.array([AREA_PARAMS[x]["size_slope"] if x else np.nan for x in roi])
    icpt = np.array([AREA_PARAMS[x]["size_icpt"] if x else np.nan for x in roi])
    ecc = np.where(roi == "", np.nan, ecc)
    angle = np.where(roi == "", np.nan, angle)
    side = -1.0 if hemi == "rh" else 1.0
    theta = np.deg2rad(angle)
    vertices = pd.DataFrame({
        "hemi": hemi, "roi": roi, "band": band, "x_mm": xy[:, 0], "y_mm": xy[:, 1],
        "ecc": ecc, "angle": angle, "prf_x": side * ecc * np.cos(theta),
        "prf_y": ecc * np.sin(theta), "prf_size": size_scale * (slope * ecc + icpt),
        "fsaverage_vertex": kept,
    })
    return Cortex(vertices, faces.copy())
