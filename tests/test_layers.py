"""The layering of the package, read from the imports (ARCHITECTURE.md)."""

from pathlib import Path

import pytest

from advlib.provenance import advlib_imports

ROOT = Path(__file__).resolve().parent.parent / "advlib"
MODULES = sorted(".".join(p.relative_to(ROOT.parent).with_suffix("").parts)
                 for p in ROOT.rglob("*.py") if p.name != "__init__.py")
BASE = {"advlib.errors", "advlib.provenance", "advlib.layout", "advlib.kernels",
        "advlib.allocator", "advlib.exports", "advlib.pool"}
RANK = {"base": 0, "cnn": 1, "fmri": 1, "analysis": 2, "book": 3, "cli": 4}


def _layer(module: str) -> str:
    if module in BASE:
        return "base"
    part = module.split(".")[1]
    return part if part in RANK else "cli"


@pytest.mark.parametrize("module", MODULES)
def test_no_lower_layer_imports_a_higher_one(module):
    for imported in advlib_imports(module):
        if imported == "advlib":
            assert _layer(module) in ("book", "cli"), f"{module} imports the facade"
            continue
        assert RANK[_layer(imported)] <= RANK[_layer(module)], f"{module} imports {imported}"
        if _layer(module) in ("cnn", "fmri"):
            # the simulated observer views the stimulus set: the one link between the halves
            allowed = {"base", _layer(module)} | (
                {"cnn"} if module.startswith("advlib.fmri.simulation") else set())
            assert _layer(imported) in allowed, f"{module} ({_layer(module)}) imports {imported}"


@pytest.mark.parametrize("module", [m for m in MODULES if m.startswith("advlib.fmri.")
                                    and not m.startswith("advlib.fmri.simulation")])
def test_real_data_path_never_imports_the_simulation(module):
    assert not any(m.startswith("advlib.fmri.simulation") for m in advlib_imports(module))


def test_no_private_name_is_imported_across_modules():
    import ast

    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "")
                                                     .startswith("advlib")):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.relative_to(ROOT.parent)} imports {private}"


def test_the_test_itself_would_catch_an_upward_import(tmp_path, monkeypatch):
    """advlib_imports resolves relative imports, so a planted upward import is seen."""
    import advlib.provenance as prov

    fake = tmp_path / "advlib" / "cnn"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("from ..analysis.rsa import compute_rdm\n")
    (tmp_path / "advlib" / "analysis").mkdir()
    (tmp_path / "advlib" / "analysis" / "rsa.py").write_text("")
    monkeypatch.setattr(prov, "_ROOT", tmp_path / "advlib")
    prov.advlib_imports.cache_clear()
    try:
        assert prov.advlib_imports("advlib.cnn.bad") == {"advlib.analysis.rsa"}
    finally:
        prov.advlib_imports.cache_clear()


@pytest.mark.parametrize("package", ["advlib.cnn", "advlib.fmri", "advlib.fmri.simulation",
                                     "advlib.analysis", "advlib.book"])
def test_each_subpackage_re_exports_its_modules_public_names(package):
    import importlib

    pkg = importlib.import_module(package)
    folder = ROOT.joinpath(*package.split(".")[1:])
    for path in folder.glob("*.py"):
        if path.name == "__init__.py":
            continue
        module = importlib.import_module(f"{package}.{path.stem}")
        missing = [n for n in getattr(module, "__all__", []) if n not in pkg.__all__]
        assert not missing, f"{package} does not re-export {missing} of {path.stem}"


def test_no_module_imports_itself_through_others():
    """No import cycle between advlib's modules, counting the imports made inside functions
    (they hide a cycle from the interpreter, not from a reader; issue 25)."""
    graph = {m: {i for i in advlib_imports(m) if i in MODULES} for m in MODULES}
    cycles, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for module in MODULES:
        if module not in state:
            visit(module, [module])
    assert not cycles, [" -> ".join(c) for c in cycles]


def test_every_name_the_facade_lists_exists():
    import advlib

    missing = [name for name in advlib.__all__ if not hasattr(advlib, name)]
    assert not missing, missing
    assert not hasattr(advlib, "no_such_name") and not hasattr(advlib, "_no_such_name")
    assert "brain_rsa" in dir(advlib) and advlib.cnn.models.load_model is advlib.load_model


def test_the_facade_loads_a_name_on_first_use_and_the_cache_keys_still_see_it():
    """``import advlib`` (and so every ``import advlib.<module>``) imports no subpackage and
    no torch; a facade name loads its module when first used. The pages' cache keys read
    the facade's imports from its source, so a changed module still re-runs them."""
    import subprocess
    import sys

    probe = ("import sys, advlib, advlib.provenance\n"
             "assert 'torch' not in sys.modules and 'advlib.analysis' not in sys.modules\n"
             "advlib.brain_rsa\n"
             "assert 'advlib.analysis.brain_analysis' in sys.modules\n")
    subprocess.run([sys.executable, "-c", probe], check=True)
    seen = advlib_imports("advlib")
    assert {"advlib.analysis.brain_analysis", "advlib.cnn.models", "advlib.book.pipeline",
            "advlib.fmri.simulation.simulate", "advlib.layout"} <= seen


def test_every_public_name_has_one_owner():
    """A name is listed in the ``__all__`` of one module only (issue 25): a re-export is
    the subpackage's or the facade's job, not another module's."""
    import importlib

    owners = {}
    for name in MODULES:
        for public in getattr(importlib.import_module(name), "__all__", []):
            owners.setdefault(public, []).append(name)
    twice = {k: v for k, v in owners.items() if len(v) > 1}
    assert not twice, twice


def test_every_module_is_in_the_architecture_diagram():
    """ARCHITECTURE.md's diagram names every module of advlib (issue 25: it fell behind)."""
    import re

    text = (ROOT.parent / "ARCHITECTURE.md").read_text()
    diagram = text.split("```")[1]
    words = set(re.findall(r"[a-z_]+", diagram))
    missing = [m for m in MODULES if m.rsplit(".", 1)[1] not in words]
    assert not missing, f"ARCHITECTURE.md's diagram misses {missing}"


def test_one_name_for_the_cache_flag():
    """Every cached stage takes ``reuse`` (read an up-to-date result back), none ``force``
    (issue 25: both names were in use)."""
    import importlib
    import inspect

    found = []
    for name in MODULES:
        module = importlib.import_module(name)
        for public in getattr(module, "__all__", []):
            obj = getattr(module, public)
            if callable(obj) and not inspect.isclass(obj):
                try:
                    params = inspect.signature(obj).parameters
                except (TypeError, ValueError):
                    continue
                if "force" in params:
                    found.append(f"{name}.{public}")
    assert not found, found


SUBPACKAGES = ["advlib.cnn", "advlib.fmri", "advlib.fmri.simulation", "advlib.analysis",
               "advlib.book"]


def _shadowed_modules(package) -> list[str]:
    """The modules of ``package`` whose attribute on the package is not the module (a
    re-exported name of the same spelling hides it)."""
    import importlib
    import inspect
    import pkgutil

    shadowed = []
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")
        if not inspect.ismodule(getattr(package, info.name)):
            shadowed.append(info.name)
    return shadowed


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_no_public_name_hides_a_module(package):
    """``import advlib.analysis.X as m`` gives the module X: no re-exported name of a
    subpackage is spelled like one of its modules (issue 25: ``brain_rsa`` was both)."""
    import importlib
    import pkgutil

    pkg = importlib.import_module(package)
    assert not _shadowed_modules(pkg)
    clash = sorted(set(pkg.__all__) & {i.name for i in pkgutil.iter_modules(pkg.__path__)})
    assert not clash, f"{package}.__all__ names modules: {clash}"


def test_the_shadow_check_would_catch_a_star_import(tmp_path, monkeypatch):
    """A planted package whose star import rebinds a module name is reported."""
    import importlib

    (tmp_path / "shadowpkg").mkdir()
    (tmp_path / "shadowpkg" / "thing.py").write_text(
        "__all__ = ['thing']\n\ndef thing():\n    return 1\n")
    (tmp_path / "shadowpkg" / "__init__.py").write_text("from .thing import *  # noqa\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert _shadowed_modules(importlib.import_module("shadowpkg")) == ["thing"]
    finally:
        import sys
        for name in [n for n in sys.modules if n.split(".")[0] == "shadowpkg"]:
            del sys.modules[name]


@pytest.mark.parametrize("package", ["advlib"] + SUBPACKAGES)
def test_every_listed_public_name_resolves(package):
    """Every name of a package's ``__all__`` is an attribute of the package, listed once."""
    import importlib

    pkg = importlib.import_module(package)
    missing = [name for name in pkg.__all__ if not hasattr(pkg, name)]
    assert not missing, f"{package}.__all__ lists missing names {missing}"
    twice = sorted({n for n in pkg.__all__ if pkg.__all__.count(n) > 1})
    assert not twice, f"{package}.__all__ lists {twice} twice"


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_subpackages_re_export_by_name(package):
    """Re-exports are explicit (``from .x import a, b``), never ``import *``: a star import
    is how a function came to hide its module."""
    import ast

    path = ROOT.joinpath(*package.split(".")[1:], "__init__.py")
    stars = [node.module for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names)]
    assert not stars, f"{package} star-imports {stars}"
