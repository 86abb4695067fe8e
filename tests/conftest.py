"""Shared fixtures: the embedded model once per session and a tiny stimulus set."""

import os
import shutil
import socket

import numpy as np
import pandas as pd
import pytest
import torch
from threadpoolctl import threadpool_limits

from advlib.allocator import tune_allocator  # noqa: E402

# Under pytest-xdist the cores are shared by the workers: each gets its share of threads
# (numpy's BLAS spins its threads, so 2 workers x 2 threads on 2 cores ran the BLAS-heavy
# tests 2 to 7 times slower than 2 workers x 1 thread).
_THREADS = max(1, min(2, os.cpu_count() or 1)
               // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
torch.set_num_threads(_THREADS)
threadpool_limits(_THREADS)
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:   # and the processes the tests start
    os.environ.setdefault("OMP_NUM_THREADS", str(_THREADS))
tune_allocator()       # as `advlib` does: the tests and the processes they start


@pytest.fixture(scope="session")
def model():
    from advlib.cnn import load_model

    return load_model("efficientnet_lite0", device="cpu")


@pytest.fixture(scope="session")
def alexnet_random():
    from advlib.cnn import load_model

    return load_model("alexnet", device="cpu", pretrained=False)


@pytest.fixture(scope="session")
def results_root(tmp_path_factory):
    """A results tree shared by the tests and the smoke-profile notebooks."""
    return tmp_path_factory.mktemp("results")


@pytest.fixture(scope="session")
def smoke_stimulus_options():
    from advlib.book.notebooks import PROFILES

    opts = dict(PROFILES["smoke"]["01_stimuli"])
    return {k: opts[k] for k in ("images", "n_images", "seed", "max_steps")}


@pytest.fixture(scope="session")
def stim_dir(model, results_root, smoke_stimulus_options):
    """The smoke profile's RE/AN/AI set (4 embedded images) on the embedded model."""
    from advlib.cnn import build_stimulus_set

    out = results_root / "efficientnet_lite0" / "stimuli"
    build_stimulus_set(model, out, progress=False, **smoke_stimulus_options)
    return out


def _swap_two_images(folder) -> None:
    """Make ``folder`` (a copy of a stimulus set) another set: its images ``AI/ai00.png``
    and ``AI/ai01.png`` swapped, with their checksums swapped in the manifest."""
    a, b = folder / "AI" / "ai00.png", folder / "AI" / "ai01.png"
    spare = folder / "AI" / "swap.tmp"
    a.rename(spare)
    b.rename(a)
    spare.rename(b)
    manifest = pd.read_csv(folder / "manifest.csv")
    rows = manifest.index[manifest.path.isin(["AI/ai00.png", "AI/ai01.png"])]
    manifest.loc[rows, "sha256"] = manifest.loc[rows[::-1], "sha256"].to_numpy()
    manifest.to_csv(folder / "manifest.csv", index=False)


@pytest.fixture(scope="session")
def swap_two_images():
    """``swap(folder)``: turn a copy of a stimulus set into another set of the same images
    (two AI images swapped, the manifest's checksums with them)."""
    return _swap_two_images


@pytest.fixture
def no_network(monkeypatch):
    """Make every socket connection fail, as on a machine without internet."""

    def refuse(*args, **kwargs):
        raise OSError("network disabled by test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture(scope="session")
def small_dataset(stim_dir, tmp_path_factory):
    """One simulated subject on a coarse mesh (spacing 2.5 mm, 1 noise regressor), seen by
    the brain RSA, encoding and ground-truth tests. Read it; write elsewhere."""
    from advlib.fmri.simulation import simulate_dataset

    data = tmp_path_factory.mktemp("small") / "sim"
    simulate_dataset(stim_dir, data, [1], seed=0, progress=False, snr=0.8, spacing=2.5,
                     max_pcs=1)
    return data


@pytest.fixture
def rng():
    return np.random.default_rng(0)


BOOK_FILES = ("_config.yml", "_toc.yml")

#: The smoke book's tests that pytest-xdist failed to group (see pytest_collection_finish).
_UNGROUPED = pytest.StashKey[list]()


@pytest.fixture(scope="session")
def smoke_book(stim_dir, results_root, tmp_path_factory, request):
    """The whole chain in the smoke profile (``advlib reproduce``), built into a book.

    Returns (book root, reproduce log). The book root is a copy of the repository's book
    sources (``_config.yml``, ``_toc.yml``, ``book/``) with the executed notebooks in
    ``book/generated`` and the HTML in ``_build/html``.
    """
    import shutil
    from pathlib import Path

    from advlib.book import reproduce

    lost = request.config.stash.get(_UNGROUPED, [])
    if lost:
        pytest.fail(f"pytest-xdist did not group the smoke book's tests ({lost[0]} has no "
                    "@smoke_book suffix): each worker would build the book; use a pytest that "
                    "pytest-xdist supports (pyproject.toml pins pytest<9.2; pytest-xdist "
                    "issue 1386)")
    repo = Path(__file__).resolve().parent.parent
    root = tmp_path_factory.mktemp("book")
    for name in BOOK_FILES:
        shutil.copy(repo / name, root / name)
    shutil.copytree(repo / "book", root / "book",
                    ignore=shutil.ignore_patterns("generated", "__pycache__"))
    log = reproduce(profile="smoke", results=results_root, out=root / "book" / "generated",
                    book_root=root, progress=False, jobs=2)     # pages 2 at a time, as make book
    return root, log


#: Fixtures that load the network or build something with it: a test that uses one (even
#: through another fixture) is slow, and is marked so here instead of by hand.
_SLOW_FIXTURES = {"model", "alexnet_random", "stim_dir", "smoke_book"}


@pytest.hookimpl(tryfirst=True)     # before pytest-xdist's hook reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if _SLOW_FIXTURES & names:
            item.add_marker(pytest.mark.slow)
        if "smoke_book" in names:
            # under pytest-xdist (`make test` runs 2 workers, --dist loadgroup) the tests of the
            # smoke book share one worker, so the book is built once per run, not per worker
            item.add_marker(pytest.mark.xdist_group("smoke_book"))


def pytest_collection_finish(session):
    """Under ``--dist loadgroup`` pytest-xdist groups tests by appending ``@<group>`` to their
    node ids on the workers; where that does not take effect (pytest 9.2 made node ids
    structured: pytest-xdist issue 1386) every worker would build its own smoke book
    unnoticed. The tests of the book then fail (see ``smoke_book``) instead."""
    if session.config.getoption("loadgroup", False):
        session.config.stash[_UNGROUPED] = [
            item.nodeid for item in session.items
            if "smoke_book" in item.fixturenames and not item.nodeid.endswith("@smoke_book")]


def _synthetic_observer(n_sources=12, spacing=2.5, seed=0, surface="schematic"):
    """A cortex, a manifest of ``n_sources`` x (RE, AN, AI) and responses: AI near RE, AN
    unrelated; zero outside the ROIs."""
    from advlib.fmri.simulation import make_cortex

    rng = np.random.default_rng(seed)
    cortex = make_cortex(seed, spacing=spacing, surface=surface)
    rows = [(f"{k.lower()}_{i:02d}", k, f"s{i:02d}", True)
            for k in ("RE", "AN", "AI") for i in range(n_sources)]
    manifest = pd.DataFrame(rows, columns=["image_id", "kind", "source_id", "converged"])
    visual = (cortex.vertices.roi != "").to_numpy()
    w = rng.normal(size=(6, visual.sum()))
    re = rng.normal(size=(n_sources, 6)) @ w
    parts = {"RE": re, "AI": re + 0.3 * rng.normal(size=re.shape),
             "AN": rng.normal(size=(n_sources, 6)) @ w}
    resp = np.zeros((len(manifest), len(cortex.vertices)))
    for kind, values in parts.items():
        resp[(manifest.kind == kind).to_numpy()[:, None] & visual[None, :]] = \
            (1.0 + 0.3 * values).ravel()
    return cortex, pd.DataFrame(resp, index=manifest.image_id), manifest


@pytest.fixture(scope="session")
def synthetic_observer():
    """``make(n_sources=12, spacing=2.5, seed=0, surface="schematic") -> (cortex, responses,
    manifest)``: a coarse
    cortex and a manifest of RE, AN and AI images whose responses are latent patterns (AI near
    RE, AN unrelated), for the cheap path's tests."""
    return _synthetic_observer


#: Smallest text a reader can read on the page: 11 px with the browser window 1000 px wide,
#: where the book's content column is 736 px wide (measured in Chromium at 1000 px;
#: tests/test_book.py checks that the column is no narrower).
MIN_TEXT_PX = 11
PAGE_PX = 736


def figure_problems(fig, page_px: int = PAGE_PX, dpi: int = 100) -> list[str]:
    """What makes a figure hard to read on the book's page: text under :data:`MIN_TEXT_PX`
    screen pixels (saved at ``dpi``, scaled down to ``page_px`` when wider); a legend over
    an axes (over data); a text of an axes (an asterisk, a label) crossing its frame; the
    figure's title, legends and axes titles overlapping one another."""
    from matplotlib.text import Text

    problems = []
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    width_in = fig.get_tightbbox(r).width                 # as saved: bbox_inches="tight"
    px_per_in = min(page_px, width_in * dpi) / width_in
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()
             and not (t.axes is not None and not t.axes.get_visible())]
    for t in texts:
        if (px := t.get_fontsize() / 72 * px_per_in) < MIN_TEXT_PX:
            problems.append(f"text {t.get_text()!r} is {px:.1f} px on the page")
            break
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    for leg in legends:
        box = leg.get_window_extent(r)
        if hit := [ax for ax in axes if box.overlaps(ax.get_window_extent(r))]:
            problems.append(f"a legend lies over the axes {hit[0].get_title()!r}")
    for ax in axes:
        frame = ax.get_window_extent(r)
        for t in ax.texts:
            if t.get_visible() and t.get_text().strip():
                b = t.get_window_extent(r)
                inside = (b.x0 >= frame.x0 - 1 and b.x1 <= frame.x1 + 1
                          and b.y0 >= frame.y0 - 1 and b.y1 <= frame.y1 + 1)
                if not inside:
                    problems.append(f"text {t.get_text()!r} crosses the frame of its axes")
    heads = [t for t in [fig._suptitle] + [ax.title for ax in axes]
             if t is not None and t.get_visible() and t.get_text().strip()]
    boxes = [(f"title {t.get_text()!r}", t.get_window_extent(r)) for t in heads]
    boxes += [("a legend", leg.get_window_extent(r)) for leg in legends]
    for i, (a, ba) in enumerate(boxes):
        for b, bb in boxes[i + 1:]:
            if ba.overlaps(bb):
                problems.append(f"{a} overlaps {b}")
    return problems


@pytest.fixture
def readable_figures(request):
    """Check every figure a test draws with :func:`figure_problems` (and save it to
    ``$ADVLIB_SAVE_FIGURES`` when set, to look at); close them all."""
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())                     # figures other test modules left open
    yield
    try:
        for num in sorted(set(plt.get_fignums()) - before):   # every figure this test drew
            fig = plt.figure(num)
            if folder := os.environ.get("ADVLIB_SAVE_FIGURES"):
                fig.savefig(os.path.join(folder, f"{request.node.name}-{num}.png"), dpi=100,
                            bbox_inches="tight")
            assert not (problems := figure_problems(fig)), problems
    finally:
        plt.close("all")


def _hit_folder(folder, keep):
    """``folder`` made an RDM-data folder of the 92 images at positions ``keep`` (in that
    order, renumbered 1..n) with their rows and columns of the RDMs; returns it."""
    from advlib.fmri.rdm_data import KRIEGESKORTE92

    keep = list(keep)
    images = pd.read_csv(KRIEGESKORTE92 / "stimuli.csv").iloc[keep]
    (folder / "stimuli").mkdir(parents=True)
    for f in images.file:
        shutil.copy(KRIEGESKORTE92 / f, folder / f)
    images.assign(index=range(1, len(keep) + 1)).to_csv(folder / "stimuli.csv", index=False)
    rdms = np.load(KRIEGESKORTE92 / "hit_rdms.npz")["rdms"]
    np.savez(folder / "hit_rdms.npz", rdms=rdms[..., keep, :][..., keep])
    return folder


@pytest.fixture(scope="session")
def hit_folder():
    """``make(folder, keep)``: a folder of the 92 images at positions ``keep`` alone."""
    return _hit_folder


@pytest.fixture(scope="session")
def small_hit(tmp_path_factory):
    """The first 10 of the 92 images with their RDMs: a small real dataset."""
    return _hit_folder(tmp_path_factory.mktemp("hit10"), range(10))
