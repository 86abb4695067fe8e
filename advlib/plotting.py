"""Figures used by the notebooks (matplotlib; each function returns the Figure)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from .errors import expect

__all__ = ["plot_stimulus_grid", "plot_rdm_triplet", "plot_null_distributions",
           "plot_layer_similarities", "KIND_COLORS"]

#: Colours of the image kinds, used consistently across figures.
KIND_COLORS = {"RE": "0.3", "AN": "tab:blue", "AI": "tab:red"}


def plot_stimulus_grid(manifest, stim_dir, n: int | None = 6, title: str | None = None):
    """Fig 1: rows RE / AN / AI, one column per regular image, with the model's label.

    Parameters
    ----------
    manifest : pandas.DataFrame
        From :func:`advlib.stimuli.load_manifest`.
    stim_dir : str or path
        Folder the manifest's paths are relative to.
    n : int, optional
        Number of regular images (columns) to show; all when ``None``.
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
    fig, axes = plt.subplots(3, len(sources), figsize=(1.9 * len(sources), 6.6), squeeze=False)
    for col, source in enumerate(sources):
        for row, kind in enumerate(("RE", "AN", "AI")):
            rec = manifest[(manifest.source_id == source) & (manifest.kind == kind)].iloc[0]
            ax = axes[row, col]
            ax.imshow(np.asarray(Image.open(Path(stim_dir) / rec.path).convert("RGB")))
            ax.set_xticks([])
            ax.set_yticks([])
            name = textwrap.shorten(str(rec.predicted_name), 18, placeholder="...")
            flag = "" if rec.converged else " (not converged)"
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
        ``kind -> layer -> (n, n)`` RDMs (from :func:`advlib.cnn.layer_rdms`).
    layer : str
        Which layer to show.
    method : str
        Comparison shown in the scatter titles (see :func:`advlib.rsa.compare_rdms`).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Three heatmaps (rank-transformed dissimilarities, as compared) and two scatter
        plots of the RE RDM's upper triangle against the AN and AI RDMs'.
    """
    import matplotlib.pyplot as plt
    from scipy.stats import rankdata

    from .rsa import compare_rdms, square_rdm, upper_triangle

    expect(layer in rdms["RE"], "layer", layer, f"one of {sorted(rdms['RE'])}")
    fig, axes = plt.subplots(1, 5, figsize=(17, 3.6),
                             gridspec_kw={"width_ratios": [1, 1, 1, 1.05, 1.05]})
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
        ax.set_aspect("equal")
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

    fig, ax = plt.subplots(figsize=(6, 3.2))
    for kind, res in results.items():
        color = KIND_COLORS.get(kind, None)
        ax.hist(res.null, bins=40, alpha=0.45, color=color, label=f"null RE-{kind}")
        ax.axvline(res.observed, color=color, lw=2,
                   label=f"observed RE-{kind} = {res.observed:.3f} (p = {res.p:.3g})")
    ax.set_xlabel("RDM similarity")
    ax.set_ylabel("permutations")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_layer_similarities(table, alpha: float = 0.05, title: str | None = None):
    """Fig 5: RE-AN and RE-AI similarity across layers with bootstrap CIs.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`advlib.cnn.cnn_rsa` (columns ``layer, re_an, re_ai, *_ci_low,
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

    x = np.arange(1, len(table) + 1)
    fig, ax = plt.subplots(figsize=(7, 4))
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
    ax.set_xlabel("layer")
    ax.set_ylabel("RDM similarity (Spearman)")
    ax.legend(loc="lower left", title=f"filled: p_perm < {alpha:g}; *: RE-AI vs RE-AN",
              fontsize=8, title_fontsize=8)
    ax.set_title(title or "RE-AN and RE-AI similarity across layers")
    fig.tight_layout()
    return fig
