"""Figures used by the notebooks (matplotlib; each function returns the Figure)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from ..errors import check_positive_int, expect

__all__ = ["plot_brain_rdms", "plot_layer_profile", "plot_layer_profiles", "plot_set_profiles",
           "plot_adversarial_examples",
           "plot_models_layers", "plot_stimulus_grid", "plot_rdm_triplet", "plot_null_distributions",
           "plot_layer_similarities", "plot_flat_maps", "plot_design_matrix", "plot_run_design",
           "plot_roi_similarities", "plot_searchlight_maps", "KIND_COLORS",
           "ROI_COLORS", "plot_encoding_accuracy", "plot_layer_assignment", "plot_ground_truth",
           "setup_page"]

#: Colours of the image kinds, used consistently across figures.
KIND_COLORS = {"RE": "0.3", "AN": "tab:blue", "AI": "tab:red"}

#: Widest figure (inches) the book shows unscaled: its content column is 736 px wide at a
#: 1000 px window, and figures are saved at 100 dpi; text of 8 pt is then 11 px.
PAGE_WIDTH_IN = 7.3

#: Columns of the stimulus grid before it wraps into another block of RE, AN, AI rows.
_GRID_COLUMNS = 6


def plot_stimulus_grid(manifest, stim_dir, n: int | None = 6, title: str | None = None):
    """Fig 1: rows RE / AN / AI, one column per regular image, with the model's label;
    more than six images wrap into further blocks of three rows.

    Parameters
    ----------
    manifest : pandas.DataFrame
        From :func:`advlib.cnn.stimulus_set.load_manifest`.
    stim_dir : str or path
        Folder the manifest's paths are relative to.
    n : int, optional
        Number of regular images to show; all when ``None``.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from PIL import Image

    sources = sorted(manifest.source_id.unique())
    expect(n is None or n >= 1, "n", n, "a positive number of columns or None")
    sources = sources[: n or len(sources)]
    n_cols = min(len(sources), _GRID_COLUMNS)           # wrapped: labels stay readable
    n_blocks = -(-len(sources) // n_cols)
    width = min(1.9, PAGE_WIDTH_IN / n_cols)
    fig, axes = plt.subplots(3 * n_blocks, n_cols, squeeze=False,
                             figsize=(width * n_cols, n_blocks * (3 * width + 0.9) + 0.4))
    for col in range(len(sources) - (n_blocks - 1) * n_cols, n_cols):   # last block's gaps
        for row in range(3):
            axes[3 * (n_blocks - 1) + row, col].set_visible(False)
    for i, source in enumerate(sources):
        block, col = divmod(i, n_cols)
        for row, kind in enumerate(("RE", "AN", "AI")):
            rec = manifest[(manifest.source_id == source) & (manifest.kind == kind)].iloc[0]
            ax = axes[3 * block + row, col]
            ax.imshow(np.asarray(Image.open(Path(stim_dir) / rec.path).convert("RGB")))
            ax.set_xticks([])
            ax.set_yticks([])
            name = textwrap.shorten(str(rec.predicted_name), 18, placeholder="...")
            flag = "" if rec.converged else "\n(not converged)"
            ax.set_title(f"{name}\nP={rec.p_predicted:.3f}{flag}", fontsize=8,
                         color=KIND_COLORS[kind])
            if col == 0:
                ax.set_ylabel(kind, fontsize=12, color=KIND_COLORS[kind])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_rdm_triplet(rdms: dict, layer: str, method: str = "spearman", title: str | None = None):
    """Fig 2B: the RE, AN and AI RDMs of one layer and the two RDM comparisons.

    Parameters
    ----------
    rdms : dict
        ``kind -> layer -> (n, n)`` RDMs (from :func:`advlib.analysis.layer_rdms`).
    layer : str
        Which layer to show.
    method : str
        Comparison shown in the scatter titles (see :func:`advlib.analysis.rsa.compare_rdms`).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Three heatmaps (rank-transformed dissimilarities, as compared) and two scatter
        plots of the RE RDM's upper triangle against the AN and AI RDMs'.
    """
    import matplotlib.pyplot as plt
    from scipy.stats import rankdata

    from ..analysis.rsa import compare_rdms, square_rdm
    from ..kernels import upper_triangle

    expect(layer in rdms["RE"], "layer", layer, f"one of {sorted(rdms['RE'])}")
    # two rows, so the panels keep readable text at the page's width
    fig = plt.figure(figsize=(PAGE_WIDTH_IN, 6.0))
    grid = fig.add_gridspec(2, 6, height_ratios=[1, 1.15])
    axes = [fig.add_subplot(grid[0, 2 * i:2 * i + 2]) for i in range(3)]
    axes += [fig.add_subplot(grid[1, 3 * i:3 * i + 3]) for i in range(2)]
    ranks = {}
    for ax, kind in zip(axes[:3], ("RE", "AN", "AI")):
        vec = upper_triangle(rdms[kind][layer])
        ranks[kind] = rankdata(vec) / len(vec)
        ax.imshow(square_rdm(ranks[kind]), cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"RDM {kind}", color=KIND_COLORS[kind])
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("images")
    for ax, kind in zip(axes[3:], ("AN", "AI")):
        r = compare_rdms(rdms["RE"][layer], rdms[kind][layer], method)
        ax.scatter(ranks["RE"], ranks[kind], s=6, alpha=0.5, color=KIND_COLORS[kind])
        ax.set_xlabel("RE dissimilarity (rank)")
        ax.set_ylabel(f"{kind} dissimilarity (rank)")
        ax.set_title(f"RE-{kind}: {method} = {r:.3f}", color=KIND_COLORS[kind])
        ax.set_aspect("equal", adjustable="box")
    fig.suptitle(title or f"Representational similarity, {layer}")
    fig.tight_layout()
    return fig


def plot_null_distributions(results: dict, title: str | None = None):
    """Permutation null distributions with the observed similarities marked.

    Parameters
    ----------
    results : dict of str to PermutationResult
        E.g. ``{"AN": perm_an, "AI": perm_ai}``.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
    for kind, res in results.items():
        color = KIND_COLORS.get(kind, None)
        ax.hist(res.null, bins=40, alpha=0.45, color=color, label=f"null RE-{kind}")
        ax.axvline(res.observed, color=color, lw=2,
                   label=f"observed RE-{kind} = {res.observed:.3f} (p = {res.p:.3g})")
    ax.set_xlabel("RDM similarity")
    ax.set_ylabel("permutations")
    if title:
        ax.set_title(title)
    fig.legend(loc="outside lower center", ncol=2, fontsize=8)
    return fig


def plot_layer_similarities(table, alpha: float = 0.05, title: str | None = None):
    """Fig 5: RE-AN and RE-AI similarity across layers with bootstrap CIs.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`advlib.analysis.cnn_rsa` (columns ``layer, re_an, re_ai, *_ci_low,
        *_ci_high, p_perm_*, p_diff``).
    alpha : float
        Filled markers where the permutation test is significant; a star above a layer
        where the bootstrap difference test is.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.6), layout="constrained")
    _draw_layer_similarities(ax, table, alpha)
    ax.set_xlabel("layer")
    ax.set_title(title or "RE-AN and RE-AI similarity across layers")
    return fig


#: Colours of the ROIs on flat maps.
ROI_COLORS = {"V1": "#1b9e77", "V2": "#d95f02", "V3": "#7570b3", "V4": "#e7298a",
              "LO": "#66a61e", "": "#dddddd"}


def _roi_borders(ax, xy, faces, rois):
    """Draw the mesh edges whose two vertices lie in different ROIs."""
    from matplotlib.collections import LineCollection

    f = np.asarray(faces)
    edges = np.vstack([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    cross = rois[edges[:, 0]] != rois[edges[:, 1]]
    mid = (xy[edges[cross, 0]] + xy[edges[cross, 1]]) / 2
    # draw each border edge as a short segment perpendicular to it, through its midpoint
    d = xy[edges[cross, 1]] - xy[edges[cross, 0]]
    perp = np.column_stack([-d[:, 1], d[:, 0]]) / 2
    segs = np.stack([mid - perp, mid + perp], axis=1)
    ax.add_collection(LineCollection(segs, colors="k", linewidths=0.6))


def plot_flat_maps(vertices, faces, values=None, *, title: str = "", cmap: str = "viridis",
                   vmin=None, vmax=None, label: str = "", highlight=None, rois: bool = False):
    """Both hemispheres' flat patches, coloured by a per-vertex value or by ROI.

    Parameters
    ----------
    vertices : pandas.DataFrame
        ``hemi, roi, x_mm, y_mm`` per vertex: the schematic patch, fsaverage5's flat maps
        (:func:`advlib.fmri.simulation.make_cortex`) or any flat map; each hemisphere is
        drawn in its own panel, left beside right, its triangles with ``tripcolor``.
    faces : numpy.ndarray, shape (n_faces, 3)
        Triangles (row indices into ``vertices``).
    values : array_like, shape (n_vertices,), optional
        Colour per vertex (NaN: grey); ignored when ``rois``.
    title, cmap, vmin, vmax, label
        Figure title, colormap, colour limits (shared by both hemispheres), colour-bar label.
    highlight : array_like of int, optional
        Vertices to mark with dots (e.g. the selected ones).
    rois : bool
        Colour by ROI (Fig 2A) instead of ``values``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.tri import Triangulation

    if values is None and not rois:
        fig, ax = plt.subplots(figsize=(6, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.5, f"{title}: not available for this dataset", ha="center", va="center")
        return fig
    xy_all = vertices[["x_mm", "y_mm"]].to_numpy()
    roi_all = vertices.roi.fillna("").to_numpy().astype(str)
    vals = None if values is None else np.asarray(values, dtype=float)
    if vals is not None and not rois:
        finite = vals[np.isfinite(vals)]
        vmin = float(np.min(finite)) if vmin is None and finite.size else vmin
        vmax = float(np.max(finite)) if vmax is None and finite.size else vmax
    fig, axes = plt.subplots(1, 2, figsize=(PAGE_WIDTH_IN, 4.4))
    faces = np.asarray(faces)
    mappable = None
    for ax, hemi in zip(axes, ("lh", "rh")):
        idx = np.flatnonzero((vertices.hemi == hemi).to_numpy())
        if idx.size == 0:
            ax.set_visible(False)
            continue
        remap = np.full(len(vertices), -1)
        remap[idx] = np.arange(idx.size)
        f = remap[faces]
        f = f[(f >= 0).all(1)]
        xy = xy_all[idx]
        tri = Triangulation(xy[:, 0], xy[:, 1], f)
        if rois:
            codes = {r: i for i, r in enumerate(ROI_COLORS)}
            from matplotlib.colors import ListedColormap

            c = np.array([codes.get(r, codes[""]) for r in roi_all[idx]], dtype=float)
            # each triangle takes the ROI of the majority of its vertices (no blended colours)
            ax.tripcolor(tri, facecolors=np.median(c[f], axis=1),
                         cmap=ListedColormap(list(ROI_COLORS.values())),
                         vmin=-0.5, vmax=len(ROI_COLORS) - 0.5)
            for roi in ROI_COLORS:
                if roi and (roi_all[idx] == roi).any():
                    band = vertices.iloc[idx][roi_all[idx] == roi].band.unique() if (
                        "band" in vertices) else [roi]
                    for b in band:
                        sel = (roi_all[idx] == roi) & (
                            (vertices.iloc[idx].band == b).to_numpy() if "band" in vertices
                            else True)
                        cx, cy = xy[sel].mean(0)
                        ax.text(cx, cy, b, ha="center", va="center", fontsize=9, weight="bold")
        else:
            v = vals[idx] if vals is not None else np.zeros(idx.size)
            mappable = ax.tripcolor(tri, np.nan_to_num(v, nan=np.nanmin(v) if np.isfinite(
                v).any() else 0), cmap=cmap, vmin=vmin, vmax=vmax, shading="gouraud")
            if np.isnan(v).any():
                ax.scatter(xy[np.isnan(v), 0], xy[np.isnan(v), 1], s=2, c="0.85", lw=0)
        _roi_borders(ax, xy, f, roi_all[idx])
        if highlight is not None:
            hl = np.intersect1d(np.asarray(highlight), idx)
            ax.scatter(xy_all[hl, 0], xy_all[hl, 1], s=3, c="k", lw=0)
        ax.set_title({"lh": "left hemisphere", "rh": "right hemisphere"}[hemi], fontsize=10)
        ax.set_aspect("equal")
        # the schematic patch's x axis is eccentricity; a real flat map has no such axis
        ax.set_xlabel("mm (flat map)" if "fsaverage_vertex" in vertices
                      else "mm (eccentricity axis)")
        ax.set_ylabel("mm")
    if mappable is not None:
        fig.colorbar(mappable, ax=list(axes), shrink=0.7, label=label)
    fig.suptitle(title)
    return fig


def plot_run_design(subject_dir, run: int = 1, title: str | None = None):
    """The design matrix of one run of a subject folder (from ``events/run-XX.csv``).

    Parameters
    ----------
    subject_dir : str or path
    run : int
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        The design (:func:`plot_design_matrix`), or a note when the folder holds betas
        only (no events).
    """
    from pathlib import Path

    import matplotlib.pyplot as plt
    import pandas as pd

    from ..fmri.data import events_file
    from ..fmri.glm import run_design_frame

    path = Path(subject_dir) / events_file(run)
    if not path.is_file():
        fig, ax = plt.subplots(figsize=(6, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.5, f"no events/run-{run:02d}.csv: this subject has betas only",
                ha="center", va="center")
        return fig
    return plot_design_matrix(run_design_frame(pd.read_csv(path)),
                              title or f"run {run}: design matrix")


def plot_design_matrix(design, title: str = "Design matrix of one run"):
    """A run's design matrix (nilearn's plot), with time down and regressors across.

    Parameters
    ----------
    design : pandas.DataFrame, shape (n_frames, n_regressors)
        From :func:`advlib.fmri.glm.run_design_frame`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from nilearn.plotting import plot_design_matrix as _nilearn_plot

    fig, ax = plt.subplots(figsize=(PAGE_WIDTH_IN, 4.2))
    _nilearn_plot(design, axes=ax)
    ax.set_xticks([])
    ax.tick_params(labelsize=9)
    ax.set_xlabel(f"{design.shape[1]} regressors: the run's image presentations, blank,\n"
                  "drifts, constant", fontsize=10)
    ax.yaxis.label.set_fontsize(10)
    ax.set_title(title)
    return fig


def plot_roi_similarities(table, alpha: float = 0.05, title: str = ""):
    """Fig 3 / Fig S2: RE-AN (blue) and RE-AI (red) similarity per ROI, one row per subject.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`advlib.analysis.brain_analysis.brain_rsa`.
    alpha : float
        Asterisk above a bar when its permutation p < alpha.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        Error bars: the table's vertex-bootstrap CI; dashes: the noise ceiling.
    """
    import matplotlib.pyplot as plt

    subjects = list(dict.fromkeys(table.subject))
    fig, axes = plt.subplots(len(subjects), 1, figsize=(PAGE_WIDTH_IN, 2.9 * len(subjects) + 0.9),
                             squeeze=False, sharey=True, sharex=True, layout="constrained")
    star_top = []
    for ax, name in zip(axes[:, 0], subjects):
        t = table[table.subject == name].reset_index(drop=True)
        x = np.arange(len(t))
        for off, kind in ((-0.2, "AN"), (0.2, "AI")):
            col = f"re_{kind.lower()}"
            y = t[col].to_numpy()
            err = np.vstack([y - t[f"{col}_ci_low"], t[f"{col}_ci_high"] - y]).clip(min=0)
            ax.bar(x + off, y, 0.38, yerr=err, color=KIND_COLORS[kind], capsize=2,
                   label=f"RE-{kind}")
            for xi, yi, hi, p in zip(x + off, y, t[f"{col}_ci_high"], t[f"p_perm_{col}"]):
                if p < alpha:
                    ax.text(xi, max(yi, hi) + 0.02, "*", ha="center", fontsize=12)
                    star_top.append(max(yi, hi) + 0.02)
        ax.hlines(t.noise_ceiling, x - 0.4, x + 0.4, colors="0.4", linestyles="--", lw=1,
                  label="noise ceiling")
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set_xticks(x, t.roi)
        ax.set_ylabel(f"{name}\nRDM similarity\n(Spearman)")
    if star_top:                        # room for the asterisks inside the frame
        low, high = axes[0, 0].get_ylim()
        axes[0, 0].set_ylim(low, max(high, max(star_top) + 0.08 * (high - low)))
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=9)
    if title:
        fig.suptitle(title)
    return fig


def plot_searchlight_maps(vertices, faces, maps: dict, title: str = ""):
    """Fig 4: RE-AN and RE-AI searchlight similarity on both hemispheres, one colour scale.

    Parameters
    ----------
    vertices : pandas.DataFrame
    faces : numpy.ndarray, shape (n_faces, 3)
    maps : dict
        ``re_an`` and ``re_ai`` arrays, shape (n_vertices,) (from
        :func:`advlib.analysis.brain_analysis.searchlight_rsa`).
    title : str

    Returns
    -------
    list of matplotlib.figure.Figure
        One figure per similarity (each with both hemispheres).
    """
    both = np.concatenate([maps["re_an"], maps["re_ai"]])
    lim = float(np.nanmax(np.abs(both))) if np.isfinite(both).any() else 1.0
    return [plot_flat_maps(vertices, faces, maps[key], cmap="RdBu_r", vmin=-lim, vmax=lim,
                           label="RDM similarity (Spearman)", title=f"{title} {name}".strip())
            for key, name in (("re_an", "RE-AN"), ("re_ai", "RE-AI"))]


def plot_encoding_accuracy(table, alpha: float = 0.05, title: str = ""):
    """Fig 6: accuracy of RE-trained encoding models on AI (warm) and AN (cool) images.

    One row of panels per ROI, one column per subject; in each, the layers' AI bars
    (reds, light to dark with depth) beside their AN bars (blues).

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`advlib.analysis.encoding_study.encoding_analysis`.
    alpha : float
        Asterisk above a bar when its permutation p < alpha.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        Error bars: the table's vertex-bootstrap CI (95%).
    """
    import matplotlib.pyplot as plt

    subjects = list(dict.fromkeys(table.subject))
    rois = list(dict.fromkeys(table.roi))
    layers = list(dict.fromkeys(table.layer))
    fig, axes = plt.subplots(len(rois), len(subjects), squeeze=False, sharey=True,
                             figsize=(min(PAGE_WIDTH_IN, 2.9 * len(subjects) + 1.0),
                                      2.1 * len(rois) + 1.1), layout="constrained")
    star_top = []
    shades = np.linspace(0.35, 0.95, len(layers))
    cmaps = {"AI": plt.get_cmap("Reds"), "AN": plt.get_cmap("Blues")}
    x = np.arange(len(layers))
    for si, name in enumerate(subjects):
        for ri, roi in enumerate(rois):
            ax = axes[ri, si]
            for off, kind in ((-0.2, "AI"), (0.2, "AN")):
                t = table[(table.subject == name) & (table.roi == roi) & (table.test_kind == kind)]
                t = t.set_index("layer").reindex(layers)
                y = t.r.to_numpy()
                err = np.vstack([y - t.ci_low, t.ci_high - y]).clip(min=0)
                ax.bar(x + off, y, 0.38, yerr=err, color=cmaps[kind](shades), capsize=1.5,
                       error_kw={"lw": 0.8}, label=f"RE→{kind}")
                for xi, hi, p in zip(x + off, t.ci_high, t.p_perm):
                    if p < alpha:
                        ax.text(xi, hi + 0.01, "*", ha="center", fontsize=9)
                        star_top.append(hi + 0.01)
            ax.axhline(0, color="0.6", lw=0.8)
            ax.set_xticks(x, [str(i + 1) for i in range(len(layers))], fontsize=8)
            if ri == 0:
                ax.set_title(name)
            if si == 0:
                ax.set_ylabel(f"{roi}\nprediction r")
            if ri == len(rois) - 1:
                ax.set_xlabel("CNN layer")
    if star_top:                        # room for the asterisks inside the frame
        low, high = axes[0, 0].get_ylim()
        axes[0, 0].set_ylim(low, max(high, max(star_top) + 0.1 * (high - low)))
    handles = [plt.Rectangle((0, 0), 1, 1, color=cmaps[k](0.7)) for k in ("AI", "AN")]
    fig.legend(handles, ["AI (RE-trained model)", "AN (RE-trained model)"],
               loc="outside lower center", fontsize=9, ncol=2)
    if title:
        fig.suptitle(title)
    return fig


def plot_layer_assignment(assignment, title: str = ""):
    """Fig S1: share of each ROI's vertices best predicted by each layer, AI and AN.

    Parameters
    ----------
    assignment : pandas.DataFrame
        From :func:`advlib.analysis.encoding_study.encoding_analysis` (``layer_assignment``).
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        Stacked bars (low layers at the bottom) of the mean over subjects x presentations.
    """
    import matplotlib.pyplot as plt

    kinds = [k for k in ("AI", "AN") if k in set(assignment.test_kind)]
    layers = list(dict.fromkeys(assignment.layer))
    rois = list(dict.fromkeys(assignment.roi))
    fig, axes = plt.subplots(1, len(kinds), figsize=(min(PAGE_WIDTH_IN, 3.0 * len(kinds) + 1.3),
                             3.8), squeeze=False, sharey=True, layout="constrained")
    colors = plt.get_cmap("viridis")(np.linspace(0, 1, len(layers)))
    n_meas = assignment.groupby(["subject", "presentation"]).ngroups
    for ax, kind in zip(axes[0], kinds):
        mean = (assignment[assignment.test_kind == kind]
                .groupby(["roi", "layer"]).proportion.mean().unstack("layer")
                .reindex(index=rois, columns=layers).fillna(0))
        bottom = np.zeros(len(rois))
        for li, layer in enumerate(layers):
            ax.bar(rois, mean[layer] * 100, 0.7, bottom=bottom, color=colors[li],
                   label=f"layer {li + 1}")
            bottom += mean[layer].to_numpy() * 100
        ax.set_title(f"{kind} images")
        ax.set_ylim(0, 100)
    axes[0, 0].set_ylabel(f"% of vertices\n(mean of {n_meas} measurements)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], loc="outside right center", fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


_VARIANT_STYLE = {("none", "across sessions"): ("#7f7f7f", "as published"),
                  ("none", "within session"): ("#9467bd", "no normalisation, permuted within session"),
                  ("center", "within session"): ("#2ca02c", "centred, within session (default)"),
                  ("zscore", "within session"): ("#ff7f0e", "z-scored, within session")}


def setup_page() -> None:
    """Display settings of the book's pages: tables show every character of every cell
    (claims tables are read, not skimmed: pandas would cut text at 50 characters with
    "..."), up to 40 columns and 200 rows."""
    import pandas as pd

    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.max_columns", 40)
    pd.set_option("display.max_rows", 200)
    pd.set_option("display.width", 1000)


def plot_ground_truth(summary, alpha: float = 0.05, title: str = ""):
    """What the design can detect: bias, Type I error and power against the SNR.

    Parameters
    ----------
    summary : pandas.DataFrame
        From :func:`advlib.analysis.study_summary` (``design, snr, normalize, permutation``
        and ``bias_re_an``, ``type1_re_an``, ``power_re_ai``, ``power_diff``, each with
        ``_se``).
    alpha : float
        The RE-AN test's level (a reference line).
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        Four panels (RE-AN bias, Type I error of "RE-AN significant" under the planted
        null, power of RE-AI p < 0.005 with the SNR rule's 14/15 line, power to find RE-AI >
        RE-AN), each point with +-1 Monte Carlo SE; one colour per analysis, solid lines
        for the paper's design and dashed for the interleaved one.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    expect(len(summary) > 0, "summary", "an empty table", "rows from study_summary")
    panels = (("bias_re_an", "RE-AN estimate - truth", 0.0),
              ("type1_re_an", "RE-AN p < alpha (planted null)", alpha),
              ("power_re_ai", "RE-AI p < 0.005", 14 / 15),
              ("power_diff", "RE-AI > RE-AN, p <= 0.0001", 1.0))
    fig, grid = plt.subplots(2, 2, figsize=(PAGE_WIDTH_IN, 7.6), sharex=True,
                             layout="constrained")
    fig.supylabel("share of subject x ROI tests (except the bias)", fontsize=10)
    for ax, (col, label, ref) in zip(grid.ravel(), panels):
        for (norm, perm, design), part in summary.groupby(["normalize", "permutation", "design"],
                                                          sort=False):
            color, name = _VARIANT_STYLE.get((norm, perm), ("k", f"{norm}, {perm}"))
            part = part.sort_values("snr")
            ax.errorbar(part.snr, part[col], yerr=part[f"{col}_se"], color=color, marker="o",
                        capsize=2, linestyle="-" if design == "paper" else "--",
                        label=f"{name} ({design} design)")
        ax.set_xscale("log")
        snrs = sorted(summary.snr.unique())
        ax.set_xticks(snrs, [f"{s:g}" for s in snrs])          # 0.4, not 4x10^-1
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_ylabel(label)
        ax.axhline(ref, color="k", lw=0.6, ls=":")
    for ax in grid[1]:
        ax.set_xlabel("simulated SNR")
    handles, labels = grid[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=1, fontsize=8,
               title="analysis (design)", title_fontsize=9)
    if title:
        fig.suptitle(title)
    return fig


def _draw_layer_similarities(ax, table, alpha: float, legend: bool = True) -> None:
    x = np.arange(1, len(table) + 1)
    for kind in ("AN", "AI"):
        col = f"re_{kind.lower()}"
        y = table[col].to_numpy()
        err = np.vstack([y - table[f"{col}_ci_low"], table[f"{col}_ci_high"] - y])
        color = KIND_COLORS[kind]
        ax.errorbar(x, y, yerr=err, color=color, capsize=3, lw=1.5, label=f"RE-{kind}")
        sig = table[f"p_perm_{col}"].to_numpy() < alpha
        ax.scatter(x[sig], y[sig], color=color, zorder=3, s=40)
        ax.scatter(x[~sig], y[~sig], facecolor="white", edgecolor=color, zorder=3, s=40)
    top = np.maximum(table.re_an_ci_high, table.re_ai_ci_high).to_numpy()
    for xi, ti, p in zip(x, top, table.p_diff):
        if p < alpha:
            ax.text(xi, ti + 0.03, "*", ha="center", fontsize=14)
    ax.axhline(0, color="0.6", lw=0.8)
    names = table.get("layer_name", table.layer)
    ax.set_xticks(x, [f"{i}\n{n}" for i, n in zip(x, names)], fontsize=8)
    ax.set_ylabel("RDM similarity (Spearman)")
    if top.size and np.isfinite(top).any():        # room for the asterisks inside the frame
        low, high = ax.get_ylim()
        ax.set_ylim(low, max(high, np.nanmax(top) + 0.03 + 0.1 * (high - low)))
    if legend:
        ax.figure.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2,
                         title=f"filled: permutation p < {alpha:g}; *: RE-AI vs RE-AN, "
                               f"p < {alpha:g}", fontsize=8, title_fontsize=8)


def plot_models_layers(tables: dict, alpha: float = 0.05, title: str = ""):
    """Fig 5 for several networks: RE-AN and RE-AI across layers, one panel per network.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        Network name -> its :func:`advlib.analysis.cnn_rsa` table (8 layers).
    alpha : float
        As in :func:`plot_layer_similarities`.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        One row per network, sharing the similarity axis.
    """
    import matplotlib.pyplot as plt

    expect(len(tables) > 0, "tables", "none", "a table per network")
    fig, axes = plt.subplots(len(tables), 1, figsize=(PAGE_WIDTH_IN, 3.3 * len(tables) + 1.0),
                             squeeze=False, sharey=True, layout="constrained")
    for i, (ax, (name, table)) in enumerate(zip(axes[:, 0], tables.items())):
        _draw_layer_similarities(ax, table, alpha, legend=i == 0)
        ax.set_title(name, fontsize=10)
    axes[-1, 0].set_xlabel("layer")
    if title:
        fig.suptitle(title)
    return fig


def plot_brain_rdms(data, title: str = ""):
    """The brain RDMs of an external dataset: the group mean large, each subject small,
    as percentiles of their dissimilarities (as in Kriegeskorte et al. 2008, Fig 1), with
    the images' categories marked along the axes.

    Parameters
    ----------
    data : advlib.fmri.rdm_data.RDMData
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from scipy.stats import rankdata

    def percentile(m):
        iu = np.triu_indices(len(m), 1)
        out = np.zeros_like(m)
        out[iu] = rankdata(m[iu]) / len(iu[0]) * 100
        return out + out.T

    subjects = data.subject_rdms()
    fig = plt.figure(figsize=(PAGE_WIDTH_IN, 4.6), layout="constrained")
    grid = fig.add_gridspec(2, 2 + -(-len(subjects) // 2), width_ratios=[1, 1] + [0.55] * (
        -(-len(subjects) // 2)))
    ax = fig.add_subplot(grid[:, :2])
    image = ax.imshow(percentile(data.group_rdm()), cmap="viridis", vmin=0, vmax=100)
    cats = data.images.category.astype(str).tolist()
    starts = [i for i in range(len(cats)) if i == 0 or cats[i] != cats[i - 1]]
    ax.set_xticks([])
    ax.set_yticks([(s + e) / 2 - 0.5 for s, e in zip(starts, starts[1:] + [len(cats)])],
                  [cats[s] for s in starts], fontsize=8)
    for s in starts[1:]:
        ax.axhline(s - 0.5, color="w", lw=0.5)
        ax.axvline(s - 0.5, color="w", lw=0.5)
    ax.set_title(f"group mean ({len(subjects)} subjects x {data.rdms.shape[1]} sessions)",
                 fontsize=10)
    for i, (m, name) in enumerate(zip(subjects, data.subjects)):
        sub = fig.add_subplot(grid[i % 2, 2 + i // 2])
        sub.imshow(percentile(m), cmap="viridis", vmin=0, vmax=100)
        sub.set_xticks([])
        sub.set_yticks([])
        sub.set_title(name, fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8, label="dissimilarity (percentile)")
    if title:
        fig.suptitle(title)
    return fig


def plot_layer_profile(table, ceiling, title: str = ""):
    """Each layer's similarity to the brain RDMs with its interval, the noise ceiling as a
    band (Nili et al. 2014), filled markers where the permutation test is significant.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`advlib.analysis.real_rsa.layer_scores`'s table (``layer, similarity, ci_low,
        ci_high, p_perm``, optional ``layer_name``).
    ceiling : pandas.DataFrame
        ``method, lower, upper``; the row of the table's method is drawn.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.4), layout="constrained")
    x = np.arange(1, len(table) + 1)
    y = table.similarity.to_numpy()
    err = np.vstack([y - table.ci_low, table.ci_high - y]).clip(min=0)
    band = ceiling.set_index("method").loc[table.method.iloc[0]]
    ax.axhspan(band.lower, band.upper, color="0.85", label="noise ceiling (lower to upper)")
    ax.errorbar(x, y, yerr=err, color="k", capsize=3, lw=1.5, label="layer vs brain")
    sig = table.p_perm.to_numpy() < 0.05
    ax.scatter(x[sig], y[sig], color="k", zorder=3, s=36, label="permutation p < 0.05")
    ax.scatter(x[~sig], y[~sig], facecolor="white", edgecolor="k", zorder=3, s=36)
    ax.axhline(0, color="0.6", lw=0.8)
    names = table.get("layer_name", table.layer)
    ax.set_xticks(x, [f"{i}\n{n}" for i, n in zip(x, names)], fontsize=8)
    ax.set_xlabel("layer")
    ax.set_ylabel(f"similarity to the subjects' RDMs\n({table.method.iloc[0]}, mean)")
    ax.set_ylim(min(0, float(np.min(table.ci_low))) - 0.05, max(band.upper, float(
        np.max(table.ci_high))) + 0.08)
    fig.legend(loc="outside lower center", ncol=3, fontsize=8)
    if title:
        ax.set_title(title)
    return fig


def plot_set_profiles(table, ceiling, title: str = ""):
    """The RE, AI and AN sets' layer profiles against the brain RDMs of the RE images, with
    the noise ceiling as a band; filled markers where the permutation test is significant.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`advlib.analysis.real_adversarial.hit_adversarial`'s table (``set, layer,
        similarity, ci_low, ci_high, p_perm, method``, optional ``layer_name``).
    ceiling : pandas.DataFrame
        ``method, lower, upper``; the row of the table's method is drawn.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    expect(len(table) > 0 and "set" in table, "table", list(table.columns),
           "rows with a 'set' column (hit_adversarial's table)")
    fig, ax = plt.subplots(figsize=(7, 4.4), layout="constrained")
    band = ceiling.set_index("method").loc[table.method.iloc[0]]
    ax.axhspan(band.lower, band.upper, color="0.88", label="noise ceiling (RE, hIT)")
    sets = list(dict.fromkeys(table.set))
    for i, name in enumerate(sets):
        part = table[table.set == name]
        x = np.arange(1, len(part) + 1) + (i - 0.5 * (len(sets) - 1)) * 0.1
        y = part.similarity.to_numpy()
        color = KIND_COLORS.get(name, f"C{i}")
        ax.errorbar(x, y, yerr=np.vstack([y - part.ci_low, part.ci_high - y]).clip(min=0),
                    color=color, capsize=3, lw=1.5, label=f"{name} images")
        sig = part.p_perm.to_numpy() < 0.05
        ax.scatter(x[sig], y[sig], color=color, zorder=3, s=30)
        ax.scatter(x[~sig], y[~sig], facecolor="white", edgecolor=color, zorder=3, s=30)
    ax.axhline(0, color="0.6", lw=0.8)
    first = table[table.set == sets[0]]
    names = first.get("layer_name", first.layer)
    ax.set_xticks(np.arange(1, len(first) + 1),
                  [f"{i}\n{n}" for i, n in enumerate(names, 1)], fontsize=8)
    ax.set_xlabel("layer (filled: permutation p < 0.05)")
    ax.set_ylabel(f"similarity to hIT of the RE images\n({table.method.iloc[0]}, mean)")
    fig.legend(loc="outside lower center", ncol=4, fontsize=8)
    if title:
        ax.set_title(title)
    return fig


def plot_adversarial_examples(images: dict, table, n: int = 4, title: str = ""):
    """A few images with their AI and AN versions and what the network calls them.

    Parameters
    ----------
    images : dict of str to numpy.ndarray, shape (n_images, 3, H, W)
        ``"RE"``, ``"AI"``, ``"AN"`` pixels in [0, 1].
    table : pandas.DataFrame
        :class:`advlib.analysis.real_adversarial.HitImages`'s table.
    n : int
        Images shown (spread over the set).
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    check_positive_int(n, "n")
    expect(set(images) >= {"RE", "AI", "AN"}, "images", sorted(images), "RE, AI and AN")
    pick = np.linspace(0, len(table) - 1, min(n, len(table))).round().astype(int)
    fig, axes = plt.subplots(3, len(pick), figsize=(min(PAGE_WIDTH_IN, 1.8 * len(pick)), 6.2),
                             layout="constrained", squeeze=False)
    for j, i in enumerate(pick):
        row = table.iloc[i]
        labels = {"RE": f"{row.re_name[:18]}\np = {row.re_p:.2f}",
                  "AI": f"{row.ai_target_name[:18]}\np = {row.ai_p:.2f}",
                  "AN": f"{row.re_name[:18]}\np = {row.an_p:.2f}"}
        for k, kind in enumerate(("RE", "AI", "AN")):
            ax = axes[k, j]
            ax.imshow(np.transpose(images[kind][i], (1, 2, 0)).clip(0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(labels[kind], fontsize=7)
            if j == 0:
                ax.set_ylabel(kind, color=KIND_COLORS[kind], fontsize=10)
    if title:
        fig.suptitle(title)
    return fig


def plot_layer_profiles(table, title: str = ""):
    """Several networks' layer profiles against the same brain RDMs, with the noise ceiling.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`advlib.analysis.real_rsa.hit_profiles`.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    expect(len(table) > 0, "table", "no network's results", "rows from hit_profiles")
    fig, ax = plt.subplots(figsize=(7, 4.4), layout="constrained")
    first = table.iloc[0]
    ax.axhspan(first.ceiling_lower, first.ceiling_upper, color="0.85", label="noise ceiling")
    for i, (model, part) in enumerate(table.groupby("model", sort=False)):
        x = np.arange(1, len(part) + 1) + (i - 0.5 * (table.model.nunique() - 1)) * 0.08
        y = part.similarity.to_numpy()
        ax.errorbar(x, y, yerr=np.vstack([y - part.ci_low, part.ci_high - y]).clip(min=0),
                    marker="o", capsize=3, lw=1.5, label=model)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xticks(np.arange(1, table.groupby("model").size().max() + 1))
    ax.set_xlabel("layer")
    ax.set_ylabel("similarity to the subjects' RDMs\n(mean)")
    fig.legend(loc="outside lower center", ncol=3, fontsize=8)
    if title:
        ax.set_title(title)
    return fig
