"""The interactive explorer (advlib/explore.py) on the smoke-profile results."""
import pytest

from advlib.book import Explorer
from advlib.errors import InputError


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
    assert len(fig.axes) == 6


@pytest.mark.slow
def test_widget_draws_its_first_view_without_capturing_output(explorer):
    box = explorer.widget()
    out = box.children[-1]
    assert len(out.outputs) == 1 and "image/png" in out.outputs[0]["data"]
    kind = box.children[1]
    kind.value = "AN"                                  # a control change redraws
    assert len(out.outputs) == 1


def test_bad_choices_are_clear_errors(explorer):
    with pytest.raises(InputError, match="image=99: expected an index in 0..3"):
        explorer.view(99)
    with pytest.raises(InputError, match="area='layer9': expected one of layer1"):
        explorer.rdm_rows(0, "layer9")
    with pytest.raises(InputError, match="kind='XX'"):
        explorer.top5(0, "XX")
