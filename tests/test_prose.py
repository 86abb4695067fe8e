"""The book's prose pages (``book/*.md``) type no result: every measured number is glued
from the run's results (``{glue:text}``), so a page cannot contradict the chapters.

A number is "result-like" when it is a decimal, a percentage, a fraction ``a/b``, a duration
or a ratio ``Nx``. Such a number may be typed only if it is a constant of the paper's design
or of its criteria (the paper states it) or of the configuration, listed below with where it
comes from; anything else fails with the page, the line and the number.
"""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "book").glob("*.md"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# number as typed -> where it comes from (never a measurement of this project)
CONSTANTS = {
    "0.99": "the paper's confidence criterion for RE, AN and AI images",
    "0.005": "the paper's RE-AI significance level in the brain",
    "0.0001": "the paper's RE-AI vs RE-AN level in the brain and Fig S1's",
    "0.0004": "the paper's Fig S1 p-value (layers 7-8, LO vs V1)",
    "0.001": "the paper's CNN permutation level (and its Mann-Kendall p)",
    "0.05": "the paper's level elsewhere; c of the AI objective (configuration)",
    "0.8": "the power a null claim needs (the book's stated rule)",
    "0.1": "the effect a null claim must have power to detect (the book's stated rule)",
    "68%": "the paper's interval level in Fig 3",
    "95%": "the paper's interval level in Fig 5 and Fig 6",
    "80%": "the paper's vertex subsample (Fig 6 intervals)",
    "5%": "the nominal false-positive rate at alpha 0.05",
    "2/3": "the paper's aspect-ratio criterion",
    "1.5": "the paper's aspect-ratio criterion",
    "1/1001": "the smallest p of 1000 permutations (arithmetic)",
    "113/120": "the paper's count of AI models that transfer",
    "111/120": "the paper's AN models that do not transfer (120 - 9)",
    "1/120": "the paper's exception among AI > AN models",
    "4/15": "the paper's count of ROIs with RE-AN p < 0.05",
    "14/15": "the SNR rule (advlib.analysis.SNR_RULE: 14 of 15 ROI tests)",
    "15/15": "the paper's 'all ROIs'",
    "8/8": "the paper's 'every layer'",
    "6/6": "the paper's layers 1-6 (or 3-8)",
    "2/2": "the paper's layers 1-2",
    "2 s": "the paper's trial timing and TR",
    "18 s": "the paper's discarded first frames",
    "0.3": "the simulator's AR(1) noise coefficient (advlib.fmri.simulation.observer)",
    "0.9": "a threshold `advlib design-counts` tries (configuration)",
    "0.5": "a threshold `advlib design-counts` tries; the calibration's AI noise SD",
    "104.0": "Caffe's ImageNet mean (B)",
    "116.7": "Caffe's ImageNet mean (G)",
    "122.7": "Caffe's ImageNet mean (R)",
}

_STRIP = [
    re.compile(r"^```.*?^```", re.S | re.M),           # fenced code and directives' bodies
    re.compile(r"`[^`\n]*`"),                             # inline code and roles' targets
    re.compile(r"\]\([^)]*\)"),                           # link targets
    re.compile(r"<!--.*?-->", re.S),
    re.compile(r"https?://\S+"),
    re.compile(r"^:\w[\w-]*:.*$", re.M),                  # directive options
]
_NUMBER = re.compile(
    r"(?<![\w.])(?:[+\u2212±-]?\d*\.\d+(?:\s?%)?|\d+(?:\.\d+)?\s?%|\d+/\d+"
    r"|\d+(?:\.\d+)?\s(?:s|ms|min|minutes|seconds)\b|\d+(?:\.\d+)?x\b)")


def typed_numbers(text: str) -> list[tuple[int, str]]:
    """``(line, number)`` for every result-like number typed in MyST ``text`` that is not a
    listed constant (code, roles, links and directive options are not prose)."""
    for pattern in _STRIP:
        text = pattern.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    found = []
    for i, line in enumerate(text.splitlines(), 1):
        for m in _NUMBER.finditer(line):
            number = m.group(0).lstrip("+-\u2212±")
            if number not in CONSTANTS:
                found.append((i, m.group(0)))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_prose_pages_type_no_result(page):
    found = typed_numbers(page.read_text())
    assert not found, (f"{page.name}: typed numbers that look like results (glue them from "
                       f"the results, or list a constant of the design here): {found}")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_prose_types_no_result(notebook):
    """The chapters' markdown cells too (their numbers come from the cells' outputs)."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    found = [(i, typed_numbers(c.source)) for i, c in enumerate(nb.cells)
             if c.cell_type == "markdown"]
    found = [(i, f) for i, f in found if f]
    assert not found, f"{notebook.name}: typed numbers in markdown cells (cell, [(line, n)]): {found}"


def test_the_run_live_notes_type_no_measurement():
    from advlib.book.notebooks import REGISTRY

    found = {spec.name: typed_numbers(spec.live_limit) for spec in REGISTRY}
    assert not any(found.values()), found


def test_the_check_finds_typed_results_and_spares_code_and_glue():
    text = ("RE-AN was +0.04 on noise, rejected 11% of the time, in 3/8 layers, in 64 s.\n"
            "At p < 0.005 and 0.99, `0.37` and {glue:text}`page.ipynb::x:s` are not typed.\n"
            "```python\nx = 0.25\n```\n")
    assert [n for _, n in typed_numbers(text)] == ["+0.04", "11%", "3/8", "64 s"]
