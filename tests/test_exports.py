"""advlib.exports: re-exports loaded on first use, on a small package with known answers and
on advlib's own packages (no torch where a page only reads tables)."""

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from advlib.exports import exported_modules

ROOT = Path(__file__).resolve().parent.parent


def _package(tmp_path, monkeypatch):
    """A package ``lazypkg`` whose module ``heavy`` records that it was imported."""
    pkg = tmp_path / "lazypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent('''\
        from typing import TYPE_CHECKING

        from advlib.exports import lazy_exports

        if TYPE_CHECKING:
            from .heavy import big, Thing
            from .light import small as tiny

        __all__ = ["big", "Thing", "tiny"]

        __getattr__, __dir__ = lazy_exports(__name__, __file__, __all__)
        '''))
    (pkg / "heavy.py").write_text("import sys\nsys.heavy_imports = getattr(sys, 'heavy_imports',"
                                  " 0) + 1\n\ndef big():\n    return 'big'\n\nclass Thing:\n"
                                  "    pass\n")
    (pkg / "light.py").write_text("def small():\n    return 'small'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("lazypkg")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "heavy_imports", 0, raising=False)
    return pkg


def test_the_modules_of_the_names_are_read_from_the_type_checking_imports(tmp_path,
                                                                           monkeypatch):
    pkg = _package(tmp_path, monkeypatch)
    assert exported_modules("lazypkg", str(pkg / "__init__.py")) == {
        "big": ("lazypkg.heavy", "big"), "Thing": ("lazypkg.heavy", "Thing"),
        "tiny": ("lazypkg.light", "small")}


def test_a_name_loads_its_module_on_first_use_only(tmp_path, monkeypatch):
    _package(tmp_path, monkeypatch)
    import lazypkg

    assert "lazypkg.heavy" not in sys.modules and sys.heavy_imports == 0
    assert lazypkg.tiny() == "small" and "lazypkg.heavy" not in sys.modules
    from lazypkg import big  # from-import goes through it too
    assert big() == "big" and sys.heavy_imports == 1
    assert lazypkg.Thing.__name__ == "Thing" and sys.heavy_imports == 1   # kept, not re-run
    assert "big" in vars(lazypkg)
    assert lazypkg.heavy.big is big                   # a submodule by its name
    assert {"big", "Thing", "tiny"} <= set(dir(lazypkg))
    with pytest.raises(AttributeError, match="'lazypkg' has no attribute 'nothing'"):
        _ = lazypkg.nothing
    assert not hasattr(lazypkg, "_private")


_PAGES = ("03_fmri", "04_brain_rsa", "05_encoding", "07_summary")


def test_pages_that_only_read_tables_never_import_torch():
    """Every advlib name the fMRI, brain RSA and summary notebooks use, loaded in a fresh
    process: torch stays out (it takes over a second to import, on every page)."""
    names = set()
    for page in _PAGES:
        cells = json.loads((ROOT / "notebooks" / f"{page}.ipynb").read_text())["cells"]
        source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        names |= set(re.findall(r"\badvlib\.([A-Za-z_]\w*)", source))
    assert {"brain_rsa", "setup_page", "claims_summary", "load_subject"} <= names
    probe = ("import sys, advlib\n"
             f"for name in {sorted(names)!r}:\n"
             "    getattr(advlib, name)\n"
             "assert 'torch' not in sys.modules, 'torch imported'\n")
    subprocess.run([sys.executable, "-c", probe], check=True)


def test_every_package_name_still_resolves_and_torch_comes_with_the_networks():
    probe = ("import sys, importlib\n"
             "for p in ['advlib', 'advlib.cnn', 'advlib.fmri', 'advlib.fmri.simulation',\n"
             "          'advlib.analysis', 'advlib.book']:\n"
             "    importlib.import_module(p)\n"
             "assert 'torch' not in sys.modules\n"
             "for p in ['advlib', 'advlib.cnn', 'advlib.fmri', 'advlib.fmri.simulation',\n"
             "          'advlib.analysis', 'advlib.book']:\n"
             "    m = importlib.import_module(p)\n"
             "    missing = [n for n in m.__all__ if not hasattr(m, n)]\n"
             "    assert not missing, (p, missing)\n"
             "assert 'torch' in sys.modules\n")
    subprocess.run([sys.executable, "-c", probe], check=True)


def test_hasattr_is_false_for_names_that_are_no_identifier():
    import advlib

    for name in ("", ".", "cnn/models", "../layout", "cnn.models"):
        assert not hasattr(advlib, name)
    assert not hasattr(advlib.analysis, "../layout")


def test_the_re_exports_and_the_cache_keys_parse_one_thread_at_a_time():
    """CPython 3.11 keeps the parser's recursion depth in module state: two ``ast.parse`` at
    once fail ("AST constructor recursion depth mismatch"). The re-exports and the cache keys
    parse through one lock (:func:`advlib.exports.parse_source`); without it, this race
    (first uses beside code keys, with the garbage collector switching threads) failed in
    142 of 400 rounds."""
    import threading

    import advlib.analysis
    from advlib import provenance
    from advlib.exports import parse_source

    errors = []

    class Junk:
        def __init__(self):
            self.me = self

        def __del__(self):       # Python code run by the collector: a chance to switch threads
            sum(range(50))

    def deep(n, f):
        return f() if n == 0 else deep(n - 1, f)

    def exports_side():
        for _ in range(150):
            [Junk() for _ in range(50)]
            try:
                exported_modules("advlib.analysis", advlib.analysis.__file__)
            except Exception as exc:         # noqa: BLE001 - any failure is the finding
                errors.append(repr(exc))

    def keys_side():
        for _ in range(150):
            [Junk() for _ in range(50)]
            try:
                deep(60, lambda: parse_source(provenance.__file__))
            except Exception as exc:         # noqa: BLE001
                errors.append(repr(exc))

    threads = [threading.Thread(target=exports_side), threading.Thread(target=keys_side)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
