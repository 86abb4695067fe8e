"""Provenance records and atomic writes (nothing half-written on failure)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

__all__ = ["cache_key", "cached", "package_versions", "provenance_record", "atomic_path", "atomic_dir", "write_json",
           "write_csv"]

_PACKAGES = ("advlib", "torch", "torchvision", "timm", "numpy", "scipy", "pandas", "pillow",
             "rsatoolbox", "nilearn", "pymannkendall", "scikit-learn")


def package_versions(packages=_PACKAGES) -> dict[str, str]:
    """Installed versions of the packages results depend on (``"not installed"`` if absent)."""
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def provenance_record(stage: str, parameters: dict, **extra) -> dict:
    """A provenance dictionary: stage, parameters, versions, time, command line."""
    return {"stage": stage, "parameters": parameters, "created": time.strftime(
        "%Y-%m-%dT%H:%M:%S%z"), "versions": package_versions(), "argv": sys.argv, **extra}


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def atomic_dir(path: str | os.PathLike):
    """Yield a temporary folder next to ``path``; on success it replaces ``path`` whole.

    On any exception the temporary folder is removed and ``path`` is left as it was.
    """
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.partial-", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def cache_key(parameters: dict, files=()) -> str:
    """SHA-256 of a stage's parameters and the contents of its input files.

    Parameters
    ----------
    parameters : dict
        JSON-serializable parameters (key order does not matter).
    files : iterable of path
        Input files; each contributes its name relative to nothing but its content hash,
        so moving a results folder keeps the key.

    Returns
    -------
    str
        64 hex digits.
    """
    from .cnn.models import file_sha256

    digest = hashlib.sha256(json.dumps(parameters, sort_keys=True, default=str).encode())
    for path in sorted(Path(f) for f in files):
        digest.update(path.name.encode())
        digest.update(file_sha256(path).encode())
    return digest.hexdigest()


def cached(provenance_path, key: str, outputs=()) -> bool:
    """Whether ``provenance_path`` records ``cache_key == key`` and every output exists."""
    path = Path(provenance_path)
    if not path.is_file() or not all(Path(o).exists() for o in outputs):
        return False
    try:
        return json.loads(path.read_text()).get("cache_key") == key
    except (json.JSONDecodeError, OSError):
        return False


def write_json(path: str | os.PathLike, data: dict) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")


def write_csv(path: str | os.PathLike, frame) -> None:
    """Write a pandas DataFrame as CSV without the index, atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
