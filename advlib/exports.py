"""Re-exports that load on first use: a package's public names imported from their modules
only when a caller first asks for one.

A package lists its re-exports as ordinary imports under ``if TYPE_CHECKING:`` (where
linters, readers and :func:`advlib.provenance.advlib_imports`, hence the cache keys, read
them) and ends with::

    __getattr__, __dir__ = lazy_exports(__name__, __file__, __all__)

so that ``import advlib.provenance`` does not import torch through ``advlib/__init__.py``,
and a page that only reads tables does not import the networks.
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Callable
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path

__all__ = ["lazy_exports", "exported_modules", "parse_source"]

#: ``ast.parse`` in two threads at once fails in CPython 3.11 ("AST constructor recursion
#: depth mismatch": the depth is module state), and a lock only helps when every parse of the
#: process takes it: the cache keys' (:func:`advlib.provenance.advlib_imports`) and the
#: re-exports' parses share this one.
_PARSE_LOCK = threading.Lock()


def parse_source(path) -> ast.Module:
    """``ast.parse`` of a Python source file (UTF-8), one thread at a time.

    Parameters
    ----------
    path : str or path

    Returns
    -------
    ast.Module
    """
    text = Path(path).read_text(encoding="utf-8")
    with _PARSE_LOCK:
        return ast.parse(text)


def exported_modules(package: str, file: str) -> dict[str, tuple[str, str]]:
    """Each re-exported name's module and name there, read from the package's
    ``if TYPE_CHECKING:`` imports.

    Parameters
    ----------
    package : str
        The package's dotted name (its ``__name__``).
    file : str
        Its ``__init__.py`` (its ``__file__``).

    Returns
    -------
    dict of str to (str, str)
        ``name -> (dotted module, the name in that module)`` (they differ for
        ``import x as name``).
    """
    tree = parse_source(file)
    found = {}
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for imp in node.body:
                # only ``from .module import names`` (a name, never a module, re-exported)
                if isinstance(imp, ast.ImportFrom) and imp.level == 1 and imp.module:
                    found.update({alias.asname or alias.name: (f"{package}.{imp.module}",
                                                               alias.name)
                                  for alias in imp.names})
    return found


def lazy_exports(package: str, file: str, public) -> tuple[Callable, Callable]:
    """``__getattr__`` and ``__dir__`` for a package whose re-exports load on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    file : str
        Its ``__file__``.
    public : list of str
        Its ``__all__``.

    Returns
    -------
    getattr, dir : callable
        A re-exported name is imported from its module, then kept in the package's
        namespace; a submodule's name imports the submodule; anything else raises
        ``AttributeError``.
    """
    where: dict[str, tuple[str, str]] = {}

    def __getattr__(name: str):
        if not where:
            where.update(exported_modules(package, file))
        pkg = import_module(package)
        if name in where:
            module, attribute = where[name]
            value = getattr(import_module(module), attribute)
            setattr(pkg, name, value)
            return value
        if name.isidentifier() and not name.startswith("_") \
                and find_spec(f"{package}.{name}") is not None:
            return import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(import_module(package))) | set(public))

    return __getattr__, __dir__
