"""Figures used by the notebooks (matplotlib; each function returns the Figure)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from .errors import expect

__all__ = ["plot_stimulus_grid", "KIND_COLORS"]

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
