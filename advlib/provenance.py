"""Provenance records, atomic writes, and the one caching idiom of every stage.

A *stage* is a computation whose outputs are files. :class:`Stage` decides whether the
outputs on disk are up to date, runs the work when they are not, writes the outputs
atomically and records what made them::

    stage = Stage("cnn_rsa", out_dir, outputs=["cnn_rsa.csv", "cnn_trend.csv"],
                  params={"n_perm": 1000, "seed": 0}, inputs=[manifest, *pngs],
                  code=["advlib.analysis.cnn_analysis"])
    if not stage.up_to_date():
        stage.run(lambda tmp: table.to_csv(tmp / "cnn_rsa.csv"), ...)

"Up to date" is decided from the stage's record beside its outputs
(``<name>_provenance.json``, or ``provenance.json`` inside a folder stage): the record's
``cache_key`` must equal the key of the parameters, the input files' contents and the
source code of the advlib modules the computation depends on (found by following their
imports, so nobody has to bump a version constant), and every output must still have the
SHA-256 recorded when it was written. Whichever command writes a stage's outputs writes
this record, so no side file can disagree with what is on disk.

Files are written into a temporary folder beside their destination and renamed into place
only when the work succeeded; the old record is removed before the first rename and the
new one written after the last, so an interrupted commit is never taken as done. Written
files get the user's umask like any other file.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path

from .errors import AdvlibError, expect
from .exports import parse_source
from .layout import FOLDER_RECORD, record_name

__all__ = ["stage_lock", "file_sha256", "cache_key", "code_key", "advlib_imports", "package_versions",
           "provenance_record", "atomic_path", "atomic_dir", "write_json", "write_csv", "Stage",
           "StageError", "read_record", "process_alive"]

_PACKAGES = ("advlib", "torch", "torchvision", "timm", "numpy", "scipy", "pandas", "pillow",
             "rsatoolbox", "nilearn", "pymannkendall", "scikit-learn")
_ROOT = Path(__file__).resolve().parent


class StageError(AdvlibError, RuntimeError):
    """A stage cannot write its outputs (it would replace files it did not make)."""


def file_sha256(path: str | os.PathLike) -> str:
    """Return the SHA-256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _apply_umask(path: Path) -> None:
    """Give a file made by mkstemp/mkdtemp (0600/0700) the modes of an ordinary new file."""
    mask = _umask()
    if path.is_dir():
        for sub in [path, *path.rglob("*")]:
            if not sub.is_symlink():
                os.chmod(sub, (0o777 if sub.is_dir() else 0o666) & ~mask)
    elif path.exists():
        os.chmod(path, 0o666 & ~mask)


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp"):
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    The temporary file is ``.NAME.XXXXXXXX<suffix>`` (ignored by git; ``suffix`` for
    writers that insist on an extension, e.g. ``".tmp.ipynb"`` for papermill).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        _apply_umask(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def atomic_dir(path: str | os.PathLike):
    """Yield a temporary folder next to ``path``; on success it replaces ``path`` whole.

    On any exception the temporary folder is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.partial-{_writer()}~", dir=path.parent))
    try:
        yield tmp
        _apply_umask(tmp)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_json(path: str | os.PathLike, data: dict) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")


def write_csv(path: str | os.PathLike, frame) -> None:
    """Write a pandas DataFrame as CSV without the index, atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def cache_key(parameters: dict, files=()) -> str:
    """SHA-256 of a stage's parameters and the contents of its input files.

    Parameters
    ----------
    parameters : dict
        JSON-serializable parameters (key order does not matter).
    files : iterable of path
        Input files; each contributes its base name and its content hash, never its folder,
        so moving a results folder keeps the key.

    Returns
    -------
    str
        64 hex digits.
    """
    digest = hashlib.sha256(json.dumps(parameters, sort_keys=True, default=str).encode())
    for path in sorted(Path(f) for f in files):
        digest.update(path.name.encode())
        digest.update(file_sha256(path).encode())
    return digest.hexdigest()


def _module_file(name: str) -> Path | None:
    parts = name.split(".")[1:]
    base = _ROOT.joinpath(*parts)
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


@cache
def advlib_imports(module: str) -> frozenset[str]:
    """The advlib modules that ``module`` imports directly (read from its source).

    Parameters
    ----------
    module : str
        Dotted name, e.g. ``"advlib.analysis.brain_analysis"``.

    Returns
    -------
    frozenset of str
        Dotted module names inside advlib (``from .x import y`` counts ``x``, and ``y`` too
        when ``y`` is itself a module). Imports inside functions count.
    """
    path = _module_file(module)
    expect(path is not None, "module", module, "an advlib module")
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    tree = parse_source(path)      # one thread at a time (CPython 3.11)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("advlib"):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if _module_file(sub) is not None else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("advlib."))
    found.discard(module)
    return frozenset(m for m in found if _module_file(m) is not None)


def code_key(modules: Iterable[str]) -> str:
    """SHA-256 of the source of ``modules`` and of every advlib module they import.

    Parameters
    ----------
    modules : iterable of str
        Dotted advlib module names the computation calls.

    Returns
    -------
    str
        64 hex digits; changes whenever any of those source files changes.
    """
    seen, todo = set(), list(modules)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(advlib_imports(name))
    digest = hashlib.sha256()
    for name in sorted(seen):
        digest.update(name.encode())
        digest.update(_module_file(name).read_bytes())
    return digest.hexdigest()


def read_record(path: str | os.PathLike) -> dict | None:
    """A stage record (JSON), or ``None`` when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None


@dataclass
class Stage:
    """One cached computation: its outputs, what they depend on, and its record.

    Parameters
    ----------
    name : str
        Stage name, recorded as ``stage`` in the record.
    root : path
        Folder of the outputs.
    outputs : list of str, optional
        Output files relative to ``root``. ``None`` makes a *folder stage*: the work fills a
        new folder that replaces ``root`` whole, and the record ``provenance.json`` inside
        it lists every file.
    params : dict
        JSON-serializable parameters.
    inputs : list of path
        Files whose contents the outputs depend on.
    code : list of str
        advlib modules (dotted) whose source the outputs depend on; their imports count too.
    record : str, optional
        Record file name (default ``<name>_provenance.json``; ``provenance.json`` for a
        folder stage).
    owned : callable, optional
        For a folder stage: ``owned(folder) -> bool`` recognizes a folder that this tool
        wrote before it kept records (so an older results tree can be updated in place).
    """

    name: str
    root: Path
    outputs: list[str] | None
    params: dict
    inputs: list = field(default_factory=list)
    code: list = field(default_factory=list)
    record: str | None = None
    owned: Callable[[Path], bool] | None = None

    def __post_init__(self):
        self.root = Path(self.root)
        if self.record is None:
            self.record = FOLDER_RECORD if self.outputs is None else record_name(self.name)
        self._key = None
        self.notes = {}   # the work may add facts here; they go into the record

    @property
    def record_path(self) -> Path:
        """Where the record is."""
        return self.root / self.record

    @property
    def key(self) -> str:
        """The cache key of the parameters, the inputs' contents and the code."""
        if self._key is None:
            self._key = cache_key({"stage": self.name, "params": self.params,
                                   "code": code_key(self.code) if self.code else None},
                                  self.inputs)
        return self._key

    def output_paths(self) -> list[Path]:
        """The output files (for a folder stage: the files its record lists)."""
        if self.outputs is not None:
            return [self.root / o for o in self.outputs]
        rec = read_record(self.record_path) or {}
        return [self.root / o for o in rec.get("outputs", {})]

    def up_to_date(self) -> bool:
        """Whether the record matches this key and every output is as it was written."""
        rec = read_record(self.record_path)
        if not rec or rec.get("cache_key") != self.key or rec.get("stage") != self.name:
            return False
        recorded = rec.get("outputs", {})
        expected = self.outputs if self.outputs is not None else list(recorded)
        if not expected or set(expected) - set(recorded):
            return False
        for rel in expected:
            path = self.root / rel
            if not path.is_file() or file_sha256(path) != recorded[rel]:
                return False
        return True

    def run(self, work: Callable[[Path], object], **extra) -> object:
        """Run ``work(tmp)`` and commit what it wrote under ``tmp`` as the outputs.

        Parameters
        ----------
        work : callable
            Called with a fresh temporary folder; writes the outputs there under their
            relative names. Its return value is returned.
        **extra
            Added to the record (JSON-serializable). The record also holds ``created``
            and ``seconds`` (how long ``work`` took).

        Raises
        ------
        StageError
            ``work`` did not write a declared output, or a folder stage would replace a
            non-empty folder that is not this stage's earlier output.
        """
        t0 = time.perf_counter()

        def timed(tmp):
            result = work(tmp)
            self.notes["seconds"] = round(time.perf_counter() - t0, 2)   # in the record
            return result

        if self.outputs is None:
            self.root.parent.mkdir(parents=True, exist_ok=True)
            with stage_lock(self.root.parent, self.root.name):
                return self._run_folder(timed, extra)
        self.root.mkdir(parents=True, exist_ok=True)
        # one lock per record: stages of one name that share a folder but write different
        # outputs (the study's seeds) run side by side; writers of the same outputs take turns
        with stage_lock(self.root, self.name, key=self.record):
            return self._run_files(timed, extra)

    def _run_files(self, work, extra):
        _clean_leftovers(self.root)
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.name}.partial-{_writer()}~", dir=self.root))
        try:
            result = work(tmp)
            missing = [o for o in self.outputs if not (tmp / o).is_file()]
            if missing:
                raise StageError(f"stage {self.name}: outputs {missing} were not written")
            _apply_umask(tmp)
            hashes = {o: file_sha256(tmp / o) for o in self.outputs}
            self.record_path.unlink(missing_ok=True)
            for rel in self.outputs:
                (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp / rel, self.root / rel)
            write_json(self.record_path, self._record(hashes, extra))
            return result
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _run_folder(self, work, extra):
        root = self.root
        if root.exists() and any(root.iterdir()):
            old = read_record(self.record_path)
            mine = (old and old.get("stage") == self.name) or (
                self.owned is not None and self.owned(root))
            if not mine:
                raise StageError(
                    f"{self.name}: {root} is a non-empty folder that this tool did not write "
                    f"(no {self.record} from a {self.name!r} stage in it); expected a new or "
                    "empty folder, or one written earlier by the same stage. Nothing was "
                    "changed; choose another folder or empty this one.")
            foreign = _foreign_files(root, old, self.record) if old else []
            if foreign:
                shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more"
                                                  if len(foreign) > 5 else "")
                raise StageError(
                    f"{self.name}: {root} holds files this stage did not write ({shown}); "
                    "rebuilding it would delete them. Nothing was changed; move them out "
                    "of the folder (results belong outside the inputs they were made from).")
        root.parent.mkdir(parents=True, exist_ok=True)
        _clean_leftovers(root.parent, root.name)
        with atomic_dir(root) as tmp:
            result = work(tmp)
            files = sorted(p for p in tmp.rglob("*") if p.is_file() and p.name != self.record)
            if not files:
                raise StageError(f"stage {self.name}: the work wrote no file")
            hashes = {p.relative_to(tmp).as_posix(): file_sha256(p) for p in files}
            (tmp / self.record).write_text(json.dumps(self._record(hashes, extra), indent=2,
                                                      default=str) + "\n")
        return result

    def _record(self, hashes: dict, extra: dict) -> dict:
        return {**provenance_record(self.name, self.params), "cache_key": self.key,
                "code_modules": sorted(self.code),
                "inputs": {Path(p).name: file_sha256(p) for p in self.inputs},
                "outputs": hashes, **self.notes, **extra}


@contextmanager
def stage_lock(folder, name: str, key: str | None = None):
    """Hold an exclusive lock on stage ``name`` in ``folder`` while writing it.

    Two processes (two workers of a cluster, two runs on one machine) that write the same
    stage take turns. The lock is an advisory ``flock`` on ``folder/.KEY.lock``, released
    by the kernel when its holder exits, also when it is killed. The holder removes the
    file when it is done, so nothing is left beside the outputs; a waiter that then holds
    the lock of a removed file notices (the path no longer names its file) and takes the
    lock again.

    Parameters
    ----------
    folder : path
        Where the stage writes.
    name : str
        The stage's name (in the message to a waiting writer).
    key : str, optional
        What is locked (default ``name``): a stage's record, so that stages of one name
        writing different outputs in one folder do not wait for each other.
    """
    try:
        import fcntl
    except ImportError:                     # not POSIX: no lock, as before
        yield
        return
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in (key or name))
    path = Path(folder) / f".{safe}.lock"
    while True:
        handle = open(path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:             # another writer: say for whom we wait
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            what = name if key is None or key == name else f"{name} ({key})"
            print(f"advlib: waiting for {what} in {folder}: held by {holder}",
                  file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        handle.close()                      # the holder removed it: lock the new file
    handle.seek(0)
    handle.truncate()
    handle.write(f"{_writer()} since {time.strftime('%Y-%m-%d %H:%M:%S')} "
                 f"({' '.join(sys.argv[:3])})\n")
    handle.flush()
    try:
        yield
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _writer() -> str:
    """``PID@HOST`` of this process, written into the name of its partial folders."""
    import socket

    host = "".join(c for c in socket.gethostname() if c.isalnum() or c in "._") or "host"
    return f"{os.getpid()}@{host}"


def process_alive(pid: int) -> bool:
    """Whether a process with id ``pid`` runs on this machine (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # another user's process: alive
        return True
    return True


def _foreign_files(root: Path, record: dict, record_name: str) -> list[str]:
    """Files under ``root`` (relative, sorted) that a folder stage's ``record`` does not list
    as its outputs: what replacing the folder whole would delete without having made it."""
    listed = set(record.get("outputs", {})) | {record_name}
    return sorted(rel for p in root.rglob("*") if (p.is_file() or p.is_symlink())
                  and (rel := p.relative_to(root).as_posix()) not in listed)


def _clean_leftovers(folder: Path, name: str | None = None, min_age_s: float = 3600) -> None:
    """Remove ``.NAME.partial-PID@HOST~*`` folders that an earlier, killed run left behind.

    A partial folder carries the process id and host of its writer: one written on this
    host is removed when that process no longer exists (killed during its write phase) and
    kept while it runs. One from another host (a cluster node; its processes cannot be
    seen from here), or without a writer (older versions), is removed once older than
    ``min_age_s``.
    """
    now = time.time()
    this_host = _writer().split("@", 1)[1]
    pattern = f".{name}.partial-*" if name else ".*.partial-*"
    for path in folder.glob(pattern):
        try:
            if not path.is_dir():
                continue
            writer = path.name.rsplit(".partial-", 1)[1].split("~", 1)[0]
            pid, _, host = writer.partition("@")
            here = pid.isdigit() and host == this_host
            stale = (not process_alive(int(pid))) if here else (
                now - path.stat().st_mtime > min_age_s)
            if stale:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass
