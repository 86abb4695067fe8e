"""Every plot function returns a figure with the expected axes on a tiny table."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from advlib.analysis import (  # noqa: E402
    ASSIGNMENT_COLUMNS,
    BRAIN_RSA_COLUMNS,
    CNN_RSA_COLUMNS,
    ENCODING_COLUMNS,
    PermutationResult,
)
from advlib.book import plotting  # noqa: E402
from advlib.fmri import ROIS  # noqa: E402
from advlib.fmri.simulation import make_cortex, run_events  # noqa: E402

LAYERS = [f"layer{i}" for i in range(1, 9)]


pytestmark = pytest.mark.usefixtures("readable_figures")


#: Widest figure (inches) the book shows unscaled: its content column is 736 px at 100 dpi.
PAGE_WIDTH_IN = 7.36


def _n_axes(fig):
    return len([ax for ax in fig.axes if ax.get_label() != "<colorbar>"])


@pytest.mark.parametrize("n_images", [2, 17])
def test_stimulus_grid(tmp_path, rng, n_images):
    """Up to six images a row; the embedded set's 17 wrap into three blocks of RE/AN/AI rows
    whose labels stay readable (checked by the ``readable_figures`` fixture)."""
    rows = []
    for i in range(n_images):
        for kind in ("RE", "AN", "AI"):
            rel = f"{kind}/{kind.lower()}{i:02d}.png"
            (tmp_path / kind).mkdir(exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(tmp_path / rel)
            rows.append({"source_id": f"re{i:02d}", "kind": kind, "path": rel,
                         "predicted_name": "great white shark", "p_predicted": 0.99,
                         "converged": i != 1})
    fig = plotting.plot_stimulus_grid(pd.DataFrame(rows), tmp_path, n=None, title="t")
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 3 * n_images and fig.axes[0].get_ylabel() == "RE"
    assert fig.get_figwidth() <= PAGE_WIDTH_IN + 0.01
    assert [ax.get_ylabel() for ax in fig.axes[::min(n_images, 6)]][:3] == ["RE", "AN", "AI"]


def test_rdm_triplet_and_nulls(rng):
    def rdm():
        x = rng.normal(size=(6, 5))
        return 1 - np.corrcoef(x)
    fig = plotting.plot_rdm_triplet({k: {"layer1": rdm()} for k in ("RE", "AN", "AI")},
                                    "layer1")
    assert _n_axes(fig) == 5 and fig.get_figwidth() <= PAGE_WIDTH_IN
    assert fig.axes[3].get_position().y1 < fig.axes[0].get_position().y0   # scatters below
    nulls = {k: PermutationResult(0.3, 0.04, rng.normal(0, 0.1, 50)) for k in ("AN", "AI")}
    fig = plotting.plot_null_distributions(nulls, title="nulls")
    assert _n_axes(fig) == 1 and len(fig.axes[0].patches) > 0


def test_layer_similarities(rng):
    table = pd.DataFrame(rng.uniform(0, 0.9, (8, len(CNN_RSA_COLUMNS))), columns=CNN_RSA_COLUMNS)
    table["layer"] = LAYERS
    for col in ("re_an", "re_ai"):                       # intervals contain their estimate
        table[f"{col}_ci_low"], table[f"{col}_ci_high"] = table[col] - 0.1, table[col] + 0.1
    fig = plotting.plot_layer_similarities(table, title="Fig 5")
    ax = fig.axes[0]
    assert _n_axes(fig) == 1 and len(ax.get_xticks()) == 8


def test_flat_maps_and_searchlight_maps():
    cortex = make_cortex(0, spacing=3.0)
    v = cortex.vertices
    fig = plotting.plot_flat_maps(v, cortex.faces, rois=True, title="ROIs")
    assert _n_axes(fig) == 2                          # one panel per hemisphere
    values = np.linspace(-1, 1, len(v))
    fig = plotting.plot_flat_maps(v, cortex.faces, values, label="r", highlight=[0, 1])
    assert _n_axes(fig) == 2 and len(fig.axes) == 3   # plus the colour bar
    maps = {"re_an": values, "re_ai": -values}
    figs = plotting.plot_searchlight_maps(v, cortex.faces, maps, title="Fig 4")
    assert len(figs) == 2 and all(_n_axes(f) == 2 for f in figs)


def _drawn_mesh(ax) -> tuple[int, int]:
    """Points and triangles of the panel's ``tripcolor`` (a TriMesh with Gouraud shading,
    one polygon per triangle otherwise)."""
    from matplotlib.collections import PolyCollection, TriMesh

    (mesh,) = [c for c in ax.collections if isinstance(c, (TriMesh, PolyCollection))]
    if isinstance(mesh, TriMesh):
        tri = mesh._triangulation
        return len(tri.x), len(tri.triangles)
    corners = np.vstack([path.vertices[:3] for path in mesh.get_paths()])
    return len(np.unique(corners, axis=0)), len(mesh.get_paths())


def test_fig_2a_and_fig_4_on_fsaverage5():
    """Both hemispheres of fsaverage5's flat maps side by side, left then right, each
    drawn with all its vertices and triangles."""
    import matplotlib.pyplot as plt

    cortex = make_cortex(0, surface="fsaverage5")
    v, f = cortex.vertices, cortex.faces
    values = np.where(v.roi != "", v.ecc, np.nan)
    maps = {"re_an": values, "re_ai": -values}
    figs = [plotting.plot_flat_maps(v, f, rois=True, title="ROIs"),
            *plotting.plot_searchlight_maps(v, f, maps, title="Fig 4")]
    for fig in figs:
        panels = [ax for ax in fig.axes if ax.get_title().endswith("hemisphere")]
        assert [ax.get_title() for ax in panels] == ["left hemisphere", "right hemisphere"]
        for ax, hemi in zip(panels, ("lh", "rh")):
            n_points, n_triangles = _drawn_mesh(ax)
            assert n_points == (v.hemi == hemi).sum()
            assert n_triangles == (v.hemi.to_numpy()[f[:, 0]] == hemi).sum()
        assert panels[0].get_position().x1 <= panels[1].get_position().x0
        plt.close(fig)


def test_run_design(tmp_path):
    fig = plotting.plot_run_design(tmp_path / "sub-01")
    assert "betas only" in fig.axes[0].texts[0].get_text()
    (tmp_path / "sub-01" / "events").mkdir(parents=True)
    events = run_events([f"re{i:02d}" for i in range(3)], seed=0)
    events.to_csv(tmp_path / "sub-01" / "events" / "run-01.csv", index=False)
    fig = plotting.plot_run_design(tmp_path / "sub-01")
    assert _n_axes(fig) >= 1


def test_roi_similarities(rng):
    rows = []
    for sub in ("sub-01", "sub-02"):
        for roi in ROIS:
            row = dict(zip(BRAIN_RSA_COLUMNS, rng.uniform(0, 0.5, len(BRAIN_RSA_COLUMNS))))
            for col in ("re_an", "re_ai"):
                row[f"{col}_ci_low"], row[f"{col}_ci_high"] = row[col] - 0.1, row[col] + 0.1
            rows.append({**row, "subject": sub, "roi": roi, "n_vertices": 200})
    fig = plotting.plot_roi_similarities(pd.DataFrame(rows), title="Fig 3")
    assert _n_axes(fig) == 2 and [t.get_text() for t in fig.axes[1].get_xticklabels()] == list(ROIS)
    # one subject per row: the figure keeps the page's width whatever the number of subjects
    assert fig.axes[0].get_position().y0 > fig.axes[1].get_position().y1
    assert fig.get_figwidth() <= PAGE_WIDTH_IN


def test_encoding_accuracy_and_layer_assignment(rng):
    rows, assign = [], []
    for roi in ROIS[:2]:
        for layer in LAYERS:
            for kind in ("AI", "AN"):
                row = dict(zip(ENCODING_COLUMNS, rng.uniform(0, 0.5, len(ENCODING_COLUMNS))))
                row["ci_low"], row["ci_high"] = row["r"] - 0.1, row["r"] + 0.1
                rows.append({**row, "subject": "sub-01", "roi": roi, "layer": layer,
                             "test_kind": kind, "solver": "romp"})
                for pres in (1, 2):
                    assign.append(dict(zip(ASSIGNMENT_COLUMNS, ["sub-01", pres, kind, roi, layer,
                                                                1 / 8, 100])))
    fig = plotting.plot_encoding_accuracy(pd.DataFrame(rows), title="Fig 6")
    assert _n_axes(fig) == 2                          # 1 subject x 2 ROIs
    assert fig.axes[0].get_title() == "sub-01" and "V1" in fig.axes[0].get_ylabel()
    assert fig.get_figwidth() <= PAGE_WIDTH_IN        # ROIs go down the page, not across
    fig = plotting.plot_layer_assignment(pd.DataFrame(assign), title="Fig S1")
    assert _n_axes(fig) == 2                          # AI and AN


def test_ground_truth_panels():
    rows = [{"design": d, "snr": s, "normalize": n, "permutation": p, "bias_re_an": 0.1 * s,
             "bias_re_an_se": 0.01, "type1_re_an": 0.05, "type1_re_an_se": 0.01,
             "power_re_ai": 0.9, "power_re_ai_se": 0.02, "power_diff": 0.5,
             "power_diff_se": 0.03}
            for d in ("paper", "interleaved") for s in (0.4, 0.8)
            for n, p in (("none", "across sessions"), ("center", "within session"))]
    fig = plotting.plot_ground_truth(pd.DataFrame(rows), alpha=0.05, title="GT")
    assert _n_axes(fig) == 4
    assert len(fig.axes[0].containers) == 4                 # 4 curves with error bars
    assert fig.axes[1].lines[-1].get_ydata()[0] == 0.05     # the level
    assert fig.axes[2].lines[-1].get_ydata()[0] == pytest.approx(14 / 15)   # the SNR rule
    assert len(fig.legends) == 1 and len(fig.legends[0].get_texts()) == 4
    assert fig.get_figwidth() <= PAGE_WIDTH_IN
    assert fig.axes[0].get_xscale() == "log"
    assert [t.get_text() for t in fig.axes[2].get_xticklabels()] == ["0.4", "0.8"]
    with pytest.raises(Exception, match="summary"):
        plotting.plot_ground_truth(pd.DataFrame(rows).iloc[:0])


def test_models_layers_one_panel_per_network(rng):
    rows = []
    for i, layer in enumerate(LAYERS):
        row = {"layer": layer, "re_an": 0.1 * i, "re_ai": 0.5, "p_perm_re_an": 0.5,
               "p_perm_re_ai": 0.001, "p_diff": 0.01}
        for col in ("re_an", "re_ai"):
            row[f"{col}_ci_low"], row[f"{col}_ci_high"] = row[col] - 0.1, row[col] + 0.1
        rows.append(row)
    table = pd.DataFrame(rows)
    fig = plotting.plot_models_layers({"net A": table, "net B": table}, title="Fig 5")
    assert _n_axes(fig) == 2 and [a.get_title() for a in fig.axes] == ["net A", "net B"]
    assert len(fig.legends) == 1                      # one legend, for both panels
    assert fig.get_figwidth() <= PAGE_WIDTH_IN
    with pytest.raises(Exception, match="tables"):
        plotting.plot_models_layers({})


def test_brain_rdms_and_layer_profile():
    from advlib.fmri.rdm_data import load_rdm_data

    data = load_rdm_data()
    fig = plotting.plot_brain_rdms(data, title="hIT")
    assert _n_axes(fig) == 1 + len(data.subjects)
    table = pd.DataFrame({"layer": LAYERS, "similarity": np.linspace(0.1, 0.3, 8),
                          "p_perm": [0.001] * 7 + [0.2], "method": "spearman"})
    table["ci_low"], table["ci_high"] = table.similarity - 0.05, table.similarity + 0.05
    ceiling = pd.DataFrame([{"method": "spearman", "lower": 0.37, "upper": 0.67}])
    fig = plotting.plot_layer_profile(table, ceiling, title="net vs hIT")
    ax = fig.axes[0]
    assert len(ax.get_xticks()) == 8 and ax.get_ylim()[1] > 0.67      # the band is shown


def test_layer_profiles_of_several_networks():
    rows = [{"model": m, "layer": layer, "similarity": 0.1 + 0.02 * i + (0.05 if m == "b" else 0),
             "p_perm": 0.001, "ceiling_lower": 0.37, "ceiling_upper": 0.67}
            for m in ("a", "b") for i, layer in enumerate(LAYERS)]
    table = pd.DataFrame(rows)
    table["ci_low"], table["ci_high"] = table.similarity - 0.05, table.similarity + 0.05
    fig = plotting.plot_layer_profiles(table, title="networks vs hIT")
    assert len(fig.axes[0].lines) >= 2 and len(fig.legends[0].get_texts()) == 3
