"""The interactive explorer (advlib/book/explore.py) on the smoke-profile results."""
import pytest

from advlib.book import Explorer
from advlib.errors import InputError

pytestmark = pytest.mark.usefixtures("readable_figures")    # text >= 11 px, nothing over data


@pytest.fixture(scope="module")
def explorer(model, smoke_book, results_root):
    from advlib.book.notebooks import DATASETS
    from advlib.layout import Layout

    layout = Layout(results_root, "efficientnet_lite0")
    return Explorer(model, layout.stimuli_dir, layout.root,
                    layout.dataset_dir(DATASETS["smoke"]), subject="sub-01")


@pytest.mark.slow
def test_views_cover_layers_and_rois(explorer):
    assert explorer.areas[:8] == list(explorer.model.layers) and "V1" in explorer.areas
    assert explorer.simulated
    top = explorer.top5(0, "AN")
    assert len(top) == 5 and top[0][1] >= top[-1][1]
    rows = explorer.rdm_rows(0, "layer1")
    assert set(rows) == {"RE", "AN", "AI"} and rows["RE"][0] == pytest.approx(0.0, abs=1e-6)
    re_resp, ai_resp = explorer.activations(0, "RE", "V1")
    assert re_resp.shape == ai_resp.shape
    fig = explorer.view(0, "AI", "V1")
    assert len(fig.axes) == 7
    fig = explorer.view(0, "AN", explorer.model.layers[-1])   # as the page shows it
    assert fig.get_figwidth() <= 7.36


@pytest.mark.slow
def test_perturbation_is_the_magnified_difference(explorer):
    import numpy as np

    shown, gain = explorer.perturbation(0, "AI")
    diff = explorer.images["AI"][0] - explorer.images["RE"][0]
    assert gain == pytest.approx(0.5 / np.abs(diff).max())
    np.testing.assert_allclose(shown, (0.5 + gain * diff).clip(0, 1))
    assert shown.min() >= 0 and shown.max() <= 1 and np.isclose(np.abs(shown - 0.5).max(), 0.5)
    same, zero = explorer.perturbation(0, "RE")
    assert zero == 0 and np.all(same == 0.5)


@pytest.mark.slow
def test_top5_table_has_each_version(explorer):
    table = explorer.top5_table(0)
    assert list(table.index) == [1, 2, 3, 4, 5]
    assert list(table.columns) == ["RE class", "RE P", "AN class", "AN P", "AI class", "AI P"]
    assert table["AN P"].is_monotonic_decreasing
    assert table.loc[1, "AN class"] == explorer.top5(0, "AN")[0][0]


@pytest.mark.slow
def test_widget_draws_its_first_view_without_capturing_output(explorer):
    box = explorer.widget()
    (image, area), kind, status, out, table = box.children[0].children, *box.children[1:]
    assert len(out.outputs) == 1 and "image/png" in out.outputs[0]["data"]
    assert status.value == "" and "advlib-top5" in table.value
    first_png, first_table = out.outputs[0]["data"]["image/png"], table.value
    kind.value = "AN"                                  # a control change redraws
    assert len(out.outputs) == 1 and out.outputs[0]["data"]["image/png"] != first_png
    image.value = explorer.sources[1]                   # another image: another table
    assert table.value != first_table and status.value == ""
    before = out.outputs[0]["data"]["image/png"]
    area.value = "V1"                                   # a brain ROI redraws too
    assert out.outputs[0]["data"]["image/png"] != before


def test_bad_choices_are_clear_errors(explorer):
    with pytest.raises(InputError, match="image=99: expected an index in 0..3"):
        explorer.view(99)
    with pytest.raises(InputError, match="area='layer9': expected one of layer1"):
        explorer.rdm_rows(0, "layer9")
    with pytest.raises(InputError, match="kind='XX'"):
        explorer.top5(0, "XX")
