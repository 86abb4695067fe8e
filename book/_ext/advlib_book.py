"""Sphinx tweaks for the advlib book (loaded through _config.yml's local_extensions).

* sphinx-thebe registers its configuration script once per read phase; Jupyter Book can
  run that phase twice, and the second ``const THEBE_JS_URL`` declaration is a JavaScript
  error on every page. Identical scripts are kept once.
* The pydata theme's colour-mode script needs ``default_mode`` in the page context;
  sphinx-book-theme leaves it empty, which logs "invalid theme mode" on every page.
* The launch buttons (Binder, Colab) would open the page's own path,
  ``book/generated/<page>.ipynb``: an executed copy that is not in the repository. They
  are pointed at the source notebook, ``notebooks/<notebook>.ipynb``, which runs with its
  default parameters (per-subject pages: set ``subject`` in its parameter cell).
"""
import re

_GENERATED = re.compile(r"book/generated/([0-9A-Za-z_\-]+)\.ipynb")


def source_notebook(page: str) -> str:
    """``notebooks/<name>.ipynb`` for a generated page stem (``03_fmri_sub-02`` -> 03_fmri)."""
    from advlib.book.notebooks import NOTEBOOKS

    for name in sorted(NOTEBOOKS, key=len, reverse=True):
        if page == name or page.startswith(name + "_"):
            return f"notebooks/{name}.ipynb"
    return f"book/generated/{page}.ipynb"


def _launch_source_notebooks(app, pagename, templatename, context, doctree):
    for button in context.get("header_buttons") or []:
        if button.get("label") != "launch-buttons":
            continue
        for link in button.get("buttons", []):
            if "url" in link:
                link["url"] = _GENERATED.sub(lambda m: source_notebook(m.group(1)), link["url"])


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    if not context.get("default_mode"):
        context["default_mode"] = "auto"
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = (str(getattr(script, "filename", script) or ""),
               tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("html-page-context", _launch_source_notebooks, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
