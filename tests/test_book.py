"""The built smoke-profile book, checked in a real headless browser (Chromium + Playwright).

Every page of the table of contents must load without console errors or failed requests
(the book must work offline), every figure must be present and non-empty, every internal
link must resolve, and the search page must find the library's functions.
"""
import functools
import http.server
import os
import re
import shutil
import threading
from collections import deque
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

pytestmark = pytest.mark.slow


def _chromium() -> str:
    for name in (os.environ.get("ADVLIB_CHROMIUM"), "chromium", "chromium-browser",
                 "google-chrome"):
        if name and (path := shutil.which(name)):
            return path
    raise RuntimeError("no Chromium found: `make test` installs Debian's chromium; or set "
                       "ADVLIB_CHROMIUM to a Chromium/Chrome executable")


def test_the_book_builds_without_sphinx_warnings(smoke_book):
    """A malformed docstring or a broken reference still builds, but renders badly: the
    build's record lists Sphinx's warnings. The one expected here: the cross-model page,
    which a one-network book does not have (the table of contents takes it by glob)."""
    import json

    from advlib.layout import BOOK_RECORD

    record = json.loads((smoke_book[0] / BOOK_RECORD).read_text())
    left = [w for w in record["warnings"]
            if "glob pattern 'book/generated/09_models' didn't match" not in w]
    assert left == [], left


def test_the_real_data_page_says_which_images_it_used(smoke_book):
    """The smoke profile runs the real-data page on a subset of the 92 images: the page
    says so (glued from the data), instead of a count typed for the full set."""
    page = smoke_book[0] / "_build" / "html" / "book" / "generated" / "10_real_brain.html"
    text = re.sub(r"<[^>]+>", "", page.read_text())
    assert "This page uses 22 of the 92 images (subset rand24)" in " ".join(text.split())
    assert "{glue" not in text


@pytest.fixture(scope="module")
def site(smoke_book):
    html = smoke_book[0] / "_build" / "html"
    handler = functools.partial(_QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield html, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=_chromium(),
                              args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        yield b
        b.close()


def _toc_pages(html: Path) -> list[str]:
    pages = ["index.html"]
    for line in (html.parent.parent / "_toc.yml").read_text().splitlines():
        m = re.search(r"(?:file|root): (\S+)", line)
        if m:
            pages.append(m.group(1) + ".html")
        m = re.search(r"glob: (\S+)", line)
        if m:
            pages += sorted(str(p.relative_to(html))
                            for p in html.glob(m.group(1) + ".html"))
    return pages


def _open(browser, url, wait: bool = True):
    """A new tab at ``url`` with the problems it reports; ``wait``: until it has loaded and
    its network is idle (``False``: return once the page is requested; then
    :func:`_settle`)."""
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    page.set_default_timeout(_LOAD_TIMEOUT_MS)
    problems = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" and "favicon.ico" not in str(m.location.get("url")) else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    # for _settle: the requests not yet finished (or failed), and a count of every request
    # event (one that starts and ends between two looks still restarts the quiet time)
    inflight, events = set(), [0]

    def seen(request, done):
        (inflight.discard if done else inflight.add)(request)
        events[0] += 1

    page.on("request", lambda r: seen(r, False))
    page.on("requestfinished", lambda r: seen(r, True))
    page.on("requestfailed", lambda r: seen(r, True))
    page.inflight, page.request_events = inflight, events
    page.goto(url, wait_until="commit")
    if wait:
        _settle(page)
    return page, problems


def _settle(page, quiet_ms: int = 500) -> None:
    """Wait until ``page`` has loaded and none of its requests has been open for
    ``quiet_ms``: Playwright's own ``networkidle`` state, counted here. Playwright can lose
    that state when requests start and finish before DOMContentLoaded (microsoft/playwright
    issue 42598), and then waits forever: it did so at random in loaded CI runs."""
    import time

    page.wait_for_load_state("load")
    deadline = time.monotonic() + _LOAD_TIMEOUT_MS / 1000
    quiet_since, last = None, None
    while time.monotonic() < deadline:
        if page.inflight or page.request_events[0] != last:
            quiet_since, last = None, page.request_events[0]
        if not page.inflight and quiet_since is None:
            quiet_since = time.monotonic()
        elif quiet_since is not None and time.monotonic() - quiet_since >= quiet_ms / 1000:
            return
        page.wait_for_timeout(100)            # lets Playwright deliver the request events
    raise AssertionError(f"{page.url}: requests still open after {_LOAD_TIMEOUT_MS} ms: "
                         f"{sorted(r.url for r in page.inflight)[:5]}")


#: Tabs loading at once in :func:`visits`, and how long one page may take to go idle (a
#: page loads in about 1 s alone; the margin is for a machine busy with the other tests).
_TABS = 4
_LOAD_TIMEOUT_MS = 120_000

#: What the per-page checks read from every page of the table of contents, collected in
#: one visit per page at the reading width (1000 px; the tests used to load every page six
#: times, 100 s of the suite).
_VISIT_JS = {
    "images": ("main img", "els => els.map(e => [e.getAttribute('src'), e.complete, "
                           "e.naturalWidth, e.naturalHeight])"),
    "hrefs": ("a[href]", "els => els.map(e => e.getAttribute('href'))"),
    "table_cells": ("main table td", "els => els.map(e => e.innerText)"),
    "verdict_lefts": ("main table", """tables => tables.flatMap(t => [...t.querySelectorAll('th')]
        .filter(th => th.innerText.trim().startsWith('verdict'))
        .map(th => th.getBoundingClientRect().left))"""),
    "parameter_cells": ("main div.cell.tag_parameters div.cell_input pre",
                        "els => els.map(e => e.innerText)"),
    "empty_sections": ("main section section", """secs => secs.filter(s =>
        s.querySelector('div.cell') && !s.querySelector('div.cell_output')).map(s => s.id)"""),
    "figure_sizes": ("main div.cell_output img",
                     "els => els.map(e => [e.getBoundingClientRect().width, e.naturalWidth])"),
}


@pytest.fixture(scope="module")
def visits(site, browser):
    """Every table-of-contents page, opened once: ``rel -> dict`` with ``built`` (the file
    exists), ``problems`` (console errors, page errors, failed requests), ``url`` (after
    redirects), ``text`` (of ``main``) and the :data:`_VISIT_JS` lists."""
    html, base = site
    pages = _toc_pages(html)
    out = {rel: {"built": False} for rel in pages if not (html / rel).is_file()}
    # a few pages load side by side, each read once its network is idle (19 pages 16.8 s,
    # 21.6 s one after the other, 17.5 s all at once; under 4 CPU hogs 23.2 s, and 26.8 s
    # all at once)
    todo = [rel for rel in pages if rel not in out]
    opened = deque()
    while todo or opened:
        while todo and len(opened) < _TABS:
            rel = todo.pop(0)
            opened.append((rel, *_open(browser, base + rel, wait=False)))
        rel, page, problems = opened.popleft()
        _settle(page)
        seen = {key: page.eval_on_selector_all(sel, js) for key, (sel, js) in _VISIT_JS.items()}
        out[rel] = {"built": True, "problems": problems, "url": page.url,
                    "text": page.inner_text("main"), **seen}
        page.close()
    return {rel: out[rel] for rel in pages}        # in the table's order


def test_every_toc_page_loads_cleanly_with_its_figures(site, visits):
    html, _ = site
    pages = list(visits)
    assert "book/generated/03_fmri_sub-01.html" in pages and len(pages) >= 14
    n_figures = 0
    for rel, seen in visits.items():
        assert seen["built"], f"{rel} is in the table of contents but was not built"
        assert not seen["problems"], f"{rel}: {seen['problems']}"
        images = seen["images"]
        for src, complete, w, h in images:
            assert complete and w > 10 and h > 10, f"{rel}: empty or broken image {src}"
        if rel.startswith("book/generated/") and "07_summary" not in rel:
            assert images, f"{rel}: a figure chapter without figures"
        n_figures += len(images)
    assert n_figures >= 15


def test_internal_links_resolve(site, visits):
    html, _ = site
    broken = []
    for rel, seen in visits.items():
        here = seen["url"]                                # index.html redirects to the root page
        for href in seen["hrefs"]:
            if urlparse(href).scheme in ("http", "https", "mailto", "data") or href.startswith("#"):
                continue
            target = urlparse(urljoin(here, href)).path.lstrip("/")
            if not (html / (target or "index.html")).exists():
                broken.append(f"{rel} -> {href}")
    assert not broken, broken


def test_search_finds_the_library(site, browser):
    _, base = site
    page, problems = _open(browser, base + "search.html?q=romp")
    page.wait_for_selector("#search-results li")
    text = page.inner_text("#search-results")
    page.close()
    assert "advlib.analysis.encoding.romp" in text and not problems


def _repository():
    import yaml

    config = yaml.safe_load((Path(__file__).resolve().parent.parent / "_config.yml").read_text())
    url = config["repository"]["url"].rstrip("/")
    return url, url.split("github.com/")[1], config["repository"]["branch"]


@pytest.mark.parametrize("page, source", [("book/generated/03_fmri_sub-01", "03_fmri"),
                                          ("book/generated/04_brain_rsa_s2", "04_brain_rsa"),
                                          ("book/generated/06_explore", "06_explore")])
def test_launch_and_download_buttons_open_the_source_notebook(site, browser, page, source):
    html, base = site
    url, org_repo, branch = _repository()
    tab, problems = _open(browser, base + page + ".html")
    hrefs = tab.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    tab.close()
    binder = [h for h in hrefs if h.startswith("https://mybinder.org/")]
    colab = [h for h in hrefs if h.startswith("https://colab.research.google.com/")]
    assert binder == [f"https://mybinder.org/v2/gh/{org_repo}/{branch}"
                      f"?urlpath=lab/tree/notebooks/{source}.ipynb"]
    assert colab == [f"https://colab.research.google.com/github/{org_repo}/blob/{branch}/"
                     f"notebooks/{source}.ipynb"]
    downloads = [h for h in hrefs if h.endswith(".ipynb") and h.startswith(base)]
    assert downloads, "no download-notebook button"
    for href in downloads:
        assert (html / urlparse(href).path.lstrip("/")).is_file(), href
    assert any(h.rstrip("/") == url for h in hrefs), "no repository button"
    assert not problems


def test_prose_numbers_come_from_the_results_and_citations_resolve(site, browser):
    html, base = site
    page, problems = _open(browser, base + "book/methods.html")
    text = page.inner_text("main")
    page.close()
    assert "{glue" not in text and "st_type1" not in text and "st_rule" not in text
    assert re.search(r"the default analysis calls\s+RE-AN significant in \d+\.\d% ± \d+\.\d of "
                     r"tests \((?:keeps its level|rejects above its level)", text), text[:3000]
    assert re.search(r"the rule picks SNR (\d|none of the grid)", text), text[:3000]
    assert "Cai" in text and "Representational structure or task structure" in text
    assert not problems


def test_module_index_has_no_broken_image(site, browser):
    _, base = site
    page, problems = _open(browser, base + "py-modindex.html")
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.src, e.naturalWidth])")
    page.close()
    assert not problems and all(w > 0 for _, w in images), images


def test_pages_show_no_progress_bars(site, visits):
    html, _ = site
    for rel, seen in visits.items():
        if not rel.startswith("book/generated/"):
            continue
        text = seen["text"]
        assert not re.search(r"\d+%\|", text), f"{rel}: a progress bar is shown"
        assert str(html.parents[1]) not in text and "site-packages" not in text, rel


def test_first_page_says_what_the_book_was_built_with(site, browser):
    _, base = site
    page, problems = _open(browser, base + "book/intro.html")
    text = page.inner_text("main")
    page.close()
    assert "Built with" in text and "efficientnet_lite0" in text
    assert "regular images from the 20 ImageNet photographs embedded" in text
    assert "simulated observer" in text and not problems


def test_figures_open_at_full_resolution(site, browser):
    _, base = site
    page, problems = _open(browser, base + "book/generated/04_brain_rsa.html")
    links = page.eval_on_selector_all(
        "div.cell_output a.advlib-full-figure", "els => els.map(e => [e.getAttribute('href'), "
        "e.querySelector('img').getAttribute('src')])")
    page.close()
    assert links and all(href == src for href, src in links) and not problems


def test_tables_are_read_whole_and_verdicts_sit_beside_their_claims(visits):
    """At 1000 px: no table cell is cut with an ellipsis, and in every claims table the
    verdict column starts inside the viewport."""
    for rel, seen in visits.items():
        if not rel.startswith("book/generated/"):
            continue
        cells = seen["table_cells"]
        assert not [c for c in cells if c.rstrip().endswith(("...", "…"))], rel
        boxes = seen["verdict_lefts"]
        assert all(left < 1000 for left in boxes), (rel, boxes)


def test_pages_show_the_parameters_they_ran_with_and_no_empty_section(visits):
    """Every executed page's parameters cell, as the browser shows it, assigns the values the
    page was executed with (paths: none absolute); no section shows code without output."""
    from advlib.book.notebooks import notebook_plan

    plan = {item["output"]: item["parameters"] for item in notebook_plan("smoke")}
    seen_pages = 0
    for rel, seen in visits.items():
        if not rel.startswith("book/generated/"):
            continue
        cells, empty = seen["parameter_cells"], seen["empty_sections"]
        assert not empty, f"{rel}: sections with code and no output: {empty}"
        assert len(cells) == 1, f"{rel}: {len(cells)} parameters cells shown"
        shown: dict = {}
        exec(cells[0], {}, shown)                                     # literals only
        for name, value in plan[Path(rel).stem].items():
            if name in ("results_dir", "build_info"):
                assert shown[name] is None or not os.path.isabs(shown[name]), (rel, name)
            else:
                assert shown[name] == value, (rel, name, shown[name], value)
        seen_pages += 1
    assert seen_pages >= 9


def test_figures_are_shown_as_wide_as_the_font_check_assumes(visits):
    """tests/conftest.py checks figure text for a 736 px content column at a 1000 px window;
    the browser must show every figure at least that wide (or at its own width)."""
    from conftest import PAGE_PX

    shown = 0
    for rel, seen in visits.items():
        if not rel.startswith("book/generated/"):
            continue
        for width, natural in seen["figure_sizes"]:
            assert width >= min(natural, PAGE_PX) - 1, (rel, width, natural)
            shown += 1
    assert shown >= 10
