"""The interactive path, as a reader takes it: JupyterLab (the project's environment,
headless, on localhost) runs the explorer notebook in Chromium, and its controls redraw
through the kernel.

The server is started by the fixture and stopped (its whole process group) when the
module ends, also when a test fails.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from test_book import _chromium

pytestmark = pytest.mark.slow

TOKEN = "advlib-test-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, proc, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"jupyter lab did not answer at {url} within {timeout} s")


@pytest.fixture(scope="module")
def lab(model, stim_dir, results_root, tmp_path_factory):
    """JupyterLab serving a folder with ``06_explore.ipynb`` set to the smoke profile.

    Only the stimulus set and its CNN RSA (which the explorer reads and does not make) are
    made beforehand, not the smoke book: the notebook computes the rest it needs (the
    simulated subject, the features) in its kernel, as on a reader's first visit, and the
    test runs beside the smoke book's tests instead of after them.
    """
    import papermill as pm

    from advlib.analysis import cnn_rsa
    from advlib.book import PROFILES, notebook_plan, repo_root
    from advlib.layout import Layout

    c = PROFILES["smoke"]["02_cnn_rsa"]
    cnn_rsa(model, stim_dir, Layout(results_root, model.name).root, n_perm=c["n_perm"],
            n_boot=c["n_boot"], seed=c["seed"], progress=False)   # as the smoke book makes it
    folder = tmp_path_factory.mktemp("lab")
    params = notebook_plan("smoke", results_dir=results_root, names=["06_explore"])[0]
    pm.execute_notebook(str(repo_root() / "notebooks" / "06_explore.ipynb"),
                        str(folder / "06_explore.ipynb"), parameters=params["parameters"],
                        prepare_only=True, progress_bar=False)
    config = tmp_path_factory.mktemp("jupyter-config")
    (config / "labconfig").mkdir()
    (config / "labconfig" / "page_config.json").write_text(json.dumps(   # offline: no news
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config),
           "JUPYTER_RUNTIME_DIR": str(tmp_path_factory.mktemp("jupyter-runtime")),
           "ADVLIB_RESULTS": str(results_root)}
    port = _free_port()
    log = open(folder.parent / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
         "--ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}", "--allow-root",
         f"--ServerApp.root_dir={folder}",
         "--LabApp.expose_app_in_browser=True", "--LabApp.check_for_updates_class="
         "jupyterlab.NeverCheckForUpdate", f"--LabApp.workspaces_dir={folder.parent}"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for_server(f"{base}/api/status?token={TOKEN}", proc)
        yield base
    finally:
        _stop(proc)
        log.close()
    assert proc.poll() is not None


def _stop(proc) -> None:
    """Stop the server and everything it started (kernels): its whole process group."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


#: Every code cell ran, or one failed (run-all stops there: the test then reports the
#: error at once instead of waiting out its timeout).
_NOTEBOOK_DONE = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.sessionContext.session) return false;
  const kernel = panel.sessionContext.session.kernel;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  const failed = cells.some(c => c.model.outputs.toJSON().some(
      o => o.output_type === 'error'));
  return kernel && kernel.status === 'idle' && cells.length > 0 &&
         (failed || cells.every(c => c.model.executionCount !== null));
}"""

_ERRORS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const errors = [];
  for (const cell of panel.content.widgets) {
    if (cell.model.type !== 'code') continue;
    for (const out of cell.model.outputs.toJSON()) {
      if (out.output_type === 'error') errors.push(out.ename + ': ' + out.evalue);
    }
  }
  return errors;
}"""


def test_explorer_runs_and_redraws_in_jupyterlab(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(),
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.set_default_timeout(120_000)   # a loaded machine: not Playwright's 30 s
            crashes = []
            page.on("pageerror", lambda e: crashes.append(str(e)))
            page.goto(f"{lab}/lab/tree/06_explore.ipynb?token={TOKEN}")
            page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell"
                                   ".currentWidget && window.jupyterapp.shell.currentWidget"
                                   ".sessionContext && window.jupyterapp.shell.currentWidget"
                                   ".sessionContext.session", timeout=120_000)
            page.evaluate("async () => { const p = window.jupyterapp.shell.currentWidget;"
                          " await p.sessionContext.ready;"
                          " await window.jupyterapp.commands.execute("
                          "'notebook:run-all-cells'); }")
            page.wait_for_function(_NOTEBOOK_DONE, timeout=300_000, polling=500)
            assert page.evaluate(_ERRORS) == []

            picture = ".widget-output img"                     # the explorer's figure
            table = "table.advlib-top5"
            page.wait_for_selector(picture, timeout=60_000)
            page.wait_for_selector(table, timeout=60_000)
            first_src = page.get_attribute(picture, "src")
            first_table = page.inner_html(table)
            assert "Error displaying widget" not in page.inner_text("body")

            select = page.locator(".widget-dropdown select").first     # the image chooser
            options = select.locator("option").all_inner_texts()
            assert len(options) >= 2
            select.select_option(index=1)
            page.wait_for_function(
                "([sel, old]) => { const img = document.querySelector(sel);"
                " return img && img.getAttribute('src') !== old; }",
                arg=[picture, first_src], timeout=60_000)
            page.wait_for_function(
                "([sel, old]) => { const t = document.querySelector(sel);"
                " return t && t.innerHTML !== old; }", arg=[table, first_table],
                timeout=60_000)
            # the text of the redrawn table (text_content: JupyterLab leaves content below
            # the fold unrendered, where innerText is empty; the figure is now taller)
            text = page.locator(table).text_content()
            assert "RE class" in text and re.search(r"0\.\d{2,3}", text), text
            assert page.evaluate(_ERRORS) == [] and not crashes, crashes
        finally:
            browser.close()
