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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...errors import check_fits, expect
from ..data import ROIS

__all__ = ["AREA_PARAMS", "Cortex", "make_hemisphere", "make_cortex"]


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


def make_cortex(seed=0, spacing: float = 1.0, max_ecc: float = 9.0, variation: float = 0.1):
    """Both hemispheres of one simulated subject, with seeded anatomical variation.

    Parameters
    ----------
    seed : int or numpy.random.Generator
        Subject seed: magnification (k, a), band widths, pRF size scale and vertex jitter
        vary by about ``variation`` (relative SD) between subjects and hemispheres.
    spacing, max_ecc : float
        See :func:`make_hemisphere`.
    variation : float
        Relative SD of the anatomical parameters.

    Returns
    -------
    Cortex
        ``lh`` rows first, then ``rh``; ``faces`` index the combined rows.
    """
    rng = np.random.default_rng(seed)
    parts, faces, offset = [], [], 0
    for hemi in ("lh", "rh"):
        jit = lambda: float(np.clip(1 + variation * rng.standard_normal(), 0.7, 1.3))  # noqa: E731
        hemi_cortex = make_hemisphere(
            hemi, spacing=spacing, max_ecc=max_ecc, k=15.0 * jit(), a=0.75 * jit(),
            width_scale={r: jit() for r in ROIS}, size_scale=jit(), seed=rng)
        parts.append(hemi_cortex.vertices)
        faces.append(hemi_cortex.faces + offset)
        offset += len(hemi_cortex.vertices)
    return Cortex(pd.concat(parts, ignore_index=True), np.vstack(faces))


