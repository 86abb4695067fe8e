"""Sphinx tweaks for the advlib book (loaded through _config.yml's local_extensions).

* sphinx-thebe registers its configuration script once per read phase; Jupyter Book can
  run that phase twice, and the second ``const THEBE_JS_URL`` declaration is a JavaScript
  error on every page. Identical scripts are kept once.
* The pydata theme's colour-mode script needs ``default_mode`` in the page context;
  sphinx-book-theme leaves it empty, which logs "invalid theme mode" on every page.
"""


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
    return {"parallel_read_safe": True, "parallel_write_safe": True}
