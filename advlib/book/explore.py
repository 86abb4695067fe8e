"""Interactive explorer of one stimulus triplet across the CNN and the (simulated) cortex.

:class:`Explorer` gathers what a reader wants to look at for one regular image and its AN
and AI images: the three pictures, the network's top-5 classes, the image's row of the
RDM of a CNN layer or a brain ROI, and its activations against the regular image's.
:meth:`Explorer.view` draws that as one static figure (what the book shows);
:meth:`Explorer.widget` wraps it in ipywidgets controls for Jupyter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..analysis.rsa import compute_rdm
from ..cnn.features import extract_features
from ..cnn.stimulus_set import KINDS, load_manifest, load_stimulus_images
from ..errors import expect
from ..fmri.data import ROIS
from ..layout import CNN_RDMS
from .plotting import KIND_COLORS, PAGE_WIDTH_IN

__all__ = ["Explorer"]


class Explorer:
    """One model's stimulus set, CNN RDMs and (optionally) one subject's ROI patterns.

    Parameters
    ----------
    model : ModelWrapper
    stim_dir : str or path
        The model's stimulus set.
    results_dir : str or path
        The model's results folder (``cnn_rdms.npz`` from :func:`advlib.analysis.cnn_rsa`).
    data_dir : str or path, optional
        A dataset (simulated or real); enables the ROI views for ``subject``.
    subject : str
        Subject folder name.
    """

    def __init__(self, model, stim_dir, results_dir, data_dir=None, subject: str = "sub-01",
                 normalize: str = "center"):
        self.model = model
        self.manifest = load_manifest(stim_dir)
        rdm_path = Path(results_dir) / CNN_RDMS
        expect(rdm_path.is_file(), "results_dir", str(results_dir),
               "a folder with cnn_rdms.npz (run `advlib cnn-rsa` first)")
        with np.load(rdm_path) as data:
            self.sources = [str(s) for s in data["images"]]
            self.cnn_rdms = {k: data[k] for k in data.files if k.split("/")[0] in KINDS}
        self.images = {}
        for kind in KINDS:
            arr, rows = load_stimulus_images(stim_dir, kind, size=model.input_size)
            keep = rows.source_id.isin(self.sources).to_numpy()
            self.images[kind] = arr[keep]
        labels = self.manifest[self.manifest.kind == "RE"].set_index("source_id")
        self.labels = {s: str(labels.loc[s].get("true_name", labels.loc[s].true_label))
                       for s in self.sources}
        self.brain = {}
        self.simulated = False
        if data_dir is not None and (Path(data_dir) / subject).is_dir():
            from ..analysis.brain_analysis import kind_patterns
            from ..fmri.data import load_dataset_info, load_subject

            self.simulated = bool(load_dataset_info(data_dir).get("simulated", False))
            from ..fmri.normalize import normalize_subject
            from ..fmri.selection import select_subject

            sub = normalize_subject(load_subject(Path(data_dir) / subject,
                                                 manifest=self.manifest), normalize)
            patterns = kind_patterns(sub, self.manifest, self.sources)
            _, selection, _ = select_subject(sub)
            for roi in ROIS:
                cols = selection[selection.roi == roi].vertex.to_numpy()
                if cols.size >= 2:
                    self.brain[roi] = {k: patterns[k][:, cols] for k in KINDS}
        self.subject = subject

    @property
    def areas(self) -> list[str]:
        """Choosable layers and ROIs."""
        return list(self.model.layers) + list(self.brain)

    def _index(self, image) -> int:
        if isinstance(image, (int, np.integer)):
            expect(0 <= image < len(self.sources), "image", image,
                   f"an index in 0..{len(self.sources) - 1} or a source id")
            return int(image)
        expect(image in self.sources, "image", image, f"one of {', '.join(self.sources)}")
        return self.sources.index(image)

    def top5(self, image, kind: str = "RE"):
        """The network's five most probable classes: list of (class name, probability)."""
        expect(kind in KINDS, "kind", kind, "'RE', 'AN' or 'AI'")
        x = torch.from_numpy(self.images[kind][[self._index(image)]])
        with torch.no_grad():
            p = torch.softmax(self.model(x.to(self.model.device)), 1)[0].cpu().numpy()
        top = np.argsort(p)[::-1][:5]
        return [(self.model.categories[i], float(p[i])) for i in top]

    def rdm_rows(self, image, area: str) -> dict:
        """The image's row of the RE, AN and AI RDMs of a layer or ROI: kind -> (n_images,)."""
        i = self._index(image)
        expect(area in self.areas, "area", area, f"one of {', '.join(self.areas)}")
        if area in self.brain:
            return {k: compute_rdm(self.brain[area][k])[i] for k in KINDS}
        return {k: self.cnn_rdms[f"{k}/{area}"][i] for k in KINDS}

    def activations(self, image, kind: str, area: str):
        """Responses to the RE image and to its ``kind`` image: two arrays, shape (n_units,)."""
        i = self._index(image)
        expect(area in self.areas, "area", area, f"one of {', '.join(self.areas)}")
        if area in self.brain:
            return self.brain[area]["RE"][i], self.brain[area][kind][i]
        pair = np.stack([self.images["RE"][i], self.images[kind][i]])
        feats = extract_features(self.model, pair, layers=[area])[area]
        return feats[0], feats[1]

    def perturbation(self, image, kind: str):
        """The image's ``kind`` version minus its regular version, magnified for display.

        Parameters
        ----------
        image : int or str
        kind : {"RE", "AN", "AI"}

        Returns
        -------
        shown : numpy.ndarray, shape (3, height, width)
            ``0.5 + gain * (kind - RE)`` in [0, 1] (grey where the images agree).
        gain : float
            The magnification (the largest change maps to the edge of the range); 0 when
            the two images are identical (``kind="RE"``).
        """
        i = self._index(image)
        expect(kind in KINDS, "kind", kind, "'RE', 'AN' or 'AI'")
        diff = self.images[kind][i] - self.images["RE"][i]
        peak = float(np.abs(diff).max())
        gain = 0.5 / peak if peak > 0 else 0.0
        return (0.5 + gain * diff).clip(0, 1), gain

    def top5_table(self, image):
        """The network's top-5 classes for the RE, AN and AI versions of one image.

        Returns
        -------
        pandas.DataFrame
            Rows ``1..5``; for each kind a ``<kind> class`` and a ``<kind> P`` column.
        """
        import pandas as pd

        cols = {}
        for k in KINDS:
            names, probs = zip(*self.top5(image, k))
            cols[f"{k} class"] = list(names)
            cols[f"{k} P"] = [round(p, 3) for p in probs]
        return pd.DataFrame(cols, index=pd.RangeIndex(1, 6, name="rank"))

    def view(self, image=0, kind: str = "AI", area: str = "layer1"):
        """Static figure: images, top-5, RDM rows and activations.

        Parameters
        ----------
        image : int or str
            Index in :attr:`sources` or a source id (``"re03"``).
        kind : {"RE", "AN", "AI"}
        area : str
            A layer (``"layer1"`` to ``"layer8"``) or an ROI (``"V1"`` to ``"LO"``).

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt

        i = self._index(image)
        expect(kind in KINDS, "kind", kind, "'RE', 'AN' or 'AI'")
        fig = plt.figure(figsize=(PAGE_WIDTH_IN, 8.8), layout="constrained")
        grid = fig.add_gridspec(3, 4, height_ratios=[1.5, 1.1, 1.2])
        for col, k in enumerate(KINDS):
            ax = fig.add_subplot(grid[0, col])
            ax.imshow(self.images[k][i].transpose(1, 2, 0).clip(0, 1))
            ax.set_title(k, color=KIND_COLORS[k], fontweight="bold" if k == kind else "normal")
            ax.axis("off")
        ax = fig.add_subplot(grid[0, 3])
        shown, gain = self.perturbation(i, kind)
        ax.imshow(shown.transpose(1, 2, 0))
        ax.set_title(f"{kind} − RE" + (f" (×{gain:.0f})" if gain else ""), fontsize=10)
        ax.axis("off")
        ax = fig.add_subplot(grid[1, :2])
        names, probs = zip(*self.top5(i, kind))
        ax.barh(range(5)[::-1], probs, color=KIND_COLORS[kind])
        ax.set_yticks(range(5)[::-1], [n[:18] for n in names], fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_xlabel("probability", fontsize=9)
        ax.set_title(f"{self.model.name} top-5 ({kind})", fontsize=9)
        ax = fig.add_subplot(grid[1, 2:])
        a, b = self.activations(i, kind, area)
        sel = np.random.default_rng(0).permutation(a.size)[:5000]
        ax.plot(a[sel], b[sel], ".", ms=2, color=KIND_COLORS[kind], alpha=0.5)
        r = np.corrcoef(a, b)[0, 1] if a.std() > 0 and b.std() > 0 else np.nan
        ax.set_xlabel(f"response to RE ({'vertices' if area in self.brain else 'units'})",
                      fontsize=9)
        ax.set_ylabel(f"response to {kind}", fontsize=9)
        ax.set_title(f"{area}: {kind} vs RE, r = {r:.2f}", fontsize=9)
        ax = fig.add_subplot(grid[2, :])
        rows = self.rdm_rows(i, area)
        x = np.arange(len(self.sources))
        for k in KINDS:
            ax.plot(x, rows[k], "o-", color=KIND_COLORS[k], lw=2.2 if k == kind else 0.9,
                    ms=4, label=f"{k} RDM")
        ax.set_xticks(x, self.sources, rotation=90, fontsize=8)
        ax.axvline(i, color="0.6", lw=0.8, ls=":")
        ax.set_ylabel("dissimilarity (1 - r)", fontsize=9)
        tag = "SIMULATED observer" if self.simulated else "measured"
        where = f"{area} ({self.subject}, {tag})" if area in self.brain else area
        ax.set_title(f"row of {self.sources[i]} in the RDMs of {where}", fontsize=9)
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=3,
                   fontsize=9)
        fig.suptitle(f"{self.sources[i]} ({self.labels[self.sources[i]]})")
        return fig

    def widget(self):
        """ipywidgets controls (image, kind, layer/ROI) around :meth:`view` and the top-5 table.

        Each change redraws through the kernel; a status line says what is being computed
        while it runs (a layer's activations need a forward pass).
        """
        import io

        import ipywidgets as widgets
        import matplotlib.pyplot as plt
        from IPython.display import Image

        image = widgets.Dropdown(options=[(f"{s} ({self.labels[s]})", s) for s in self.sources],
                                 description="image")
        kind = widgets.ToggleButtons(options=list(KINDS), value="AI", description="kind")
        area = widgets.Dropdown(options=self.areas, value=self.areas[0],
                                description="layer/ROI")
        status = widgets.HTML(layout=widgets.Layout(min_height="1.5em"))
        table = widgets.HTML()
        out = widgets.Output()

        def redraw(_=None):
            # set the Output's content directly: capturing with `with out:` and
            # clear_output(wait=True) can stall a kernel driven by nbclient (papermill)
            status.value = (f"<i>computing {kind.value} of {image.value} in "
                            f"{area.value}…</i>")
            try:
                fig = self.view(image.value, kind.value, area.value)
                png = io.BytesIO()
                fig.savefig(png, format="png", dpi=90)
                plt.close(fig)
                out.outputs = ()
                out.append_display_data(Image(data=png.getvalue(), format="png"))
                table.value = self.top5_table(image.value).to_html(classes="advlib-top5")
            finally:
                status.value = ""

        for control in (image, kind, area):
            control.observe(redraw, names="value")
        redraw()
        return widgets.VBox([widgets.HBox([image, area]), kind, status, out, table])
