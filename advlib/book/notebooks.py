"""Execute the project's parameterized notebooks with papermill, per profile.

:data:`REGISTRY` holds one :class:`NotebookSpec` per notebook (its parameters, per-subject
or not, whether it reads a dataset, further pages, the stage records it reads, when it
runs, its live-run note); :data:`NOTEBOOKS`, :data:`PER_SUBJECT` and :data:`PROFILES` are
derived from it.

Profiles
--------
``full``
    The paper's settings (1000 permutations and bootstraps, all images, ...).
``smoke``
    Tiny settings that still execute every cell; used by the tests and CI.

Each notebook is executed into a temporary file and renamed onto its output path only
when every cell ran, so a failing notebook never leaves a half-executed page behind.
Widget views (progress bars, the explorer's controls) and progress bars on stderr are
dropped, since a static page cannot show them, and a note on how to run the page live
(launch buttons, ``make lab``) is added under the title.
The cell papermill injects with the parameters is tagged ``remove-cell`` so the book
shows the notebook's own parameter cell (with its comments) but not the injected copy.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..cnn.selection import PAPER_CONFIDENCE, PAPER_N_PER_CLASS, PAPER_SUPERCLASSES
from ..errors import AdvlibError, check_choice, check_probability, expect
from ..layout import SIMULATION_SPEC, page_name, page_record, simulation_spec
from ..provenance import Stage, atomic_path, process_alive

__all__ = ["NotebookSpec", "PageVariant", "REGISTRY", "NOTEBOOKS", "PER_SUBJECT", "PAPER_DESIGN",
           "stimulus_options", "subject_names",
           "PROFILES", "DATASETS", "repo_root",
           "notebook_parameters", "notebook_plan", "run_notebook", "run_notebooks", "NotebookError",
           "execute_page"]

#: The dataset of each profile: one specification, passed to every notebook that reads a
#: dataset as its ``dataset`` parameter (see :func:`advlib.layout.simulation_spec`).
DATASETS: dict[str, dict] = {
    "full": {"kind": "simulated", "subjects": [1, 2, 3], **SIMULATION_SPEC},
    "smoke": {"kind": "simulated", "subjects": [1], **{**SIMULATION_SPEC, "spacing": 1.5,
                                                       "max_pcs": 2}},
}

@dataclass(frozen=True)
class PageVariant:
    """A further page of one notebook, executed with some parameters changed.

    Attributes
    ----------
    suffix : str
        Appended to the notebook's name: the page ``<name>_<suffix>``.
    changes : dict
        The parameters this page changes (in both profiles).
    title : str
        The page's title (replaces the notebook's own).
    """

    suffix: str
    changes: dict
    title: str


@dataclass(frozen=True)
class NotebookSpec:
    """Everything the build knows about one notebook; :data:`REGISTRY` holds one per
    notebook, and every other table of notebooks is derived from it.

    Attributes
    ----------
    name : str
        File stem in ``notebooks/`` (the page's name, the key of its parameters in
        :data:`PROFILES`).
    parameters : dict
        The notebook's parameters in the full profile (the paper's settings); ``model``,
        ``results_dir`` and (with ``dataset``) ``dataset`` are added at run time.
    smoke : dict
        What the smoke profile changes: tiny settings that still execute every cell (the
        tests and CI run it). Only keys of ``parameters``.
    per_subject : bool
        Executed once per subject of the dataset (a page ``<name>_sub-XX`` each, its
        ``subject`` parameter set).
    subject_title : str
        The title of a per-subject page; ``{what}``: the dataset, ``{subject}``: the subject
        (default ``"<name> — {what} ({subject})"``).
    dataset : bool
        Reads a dataset: the profile's :data:`DATASETS` entry (or the real dataset's folder)
        is passed as its ``dataset`` parameter.
    variants : tuple of PageVariant
        Further pages of the notebook, with some parameters changed.
    reads : tuple of str
        The stage record groups a page depends on (its inputs in ``advlib reproduce``:
        results computed since re-execute it): ``stimuli``, ``cnn_rsa``, ``subjects``,
        ``brain_rsa``, ``encoding``, ``hit_rsa``, ``hit_adversarial``, or ``build_info``
        (the build's record of its stages, passed as the ``build_info`` parameter).
    cost : float
        About how many seconds its page takes to execute (measured with ``make book`` on 2
        cores, the stages made): ``advlib reproduce`` starts the costliest pages first, so
        that its slots finish together. It only orders the pages, which are independent of
        each other (a summary page reads stage results and ``build_info``, written before
        any page runs); it never changes what a page computes.
    across_models : bool
        The cross-model chapter: in the book only when several networks were run; it gets
        their names as its ``models`` parameter and reads the ``reads`` records of each.
    live_limit : str
        What running the page live needs beyond a laptop's defaults (said in its
        ``Run this page live`` note), when that is more than seconds on a CPU.
    """

    name: str
    parameters: dict
    smoke: dict = field(default_factory=dict)
    per_subject: bool = False
    subject_title: str = ""
    dataset: bool = False
    variants: tuple[PageVariant, ...] = ()
    reads: tuple[str, ...] = ()
    cost: float = 5.0
    across_models: bool = False
    live_limit: str = ""

    def __post_init__(self):
        unknown = sorted(set(self.smoke) - set(self.parameters))
        expect(not unknown, f"{self.name} smoke settings", unknown,
               "parameters of its full profile")
        expect(isinstance(self.cost, (int, float)) and not isinstance(self.cost, bool)
               and self.cost > 0, f"{self.name} cost", self.cost, "seconds > 0")
        expect(isinstance(self.reads, tuple), f"{self.name} reads", self.reads,
               "a tuple of stage record groups")

    def profile(self, profile: str) -> dict:
        """This notebook's parameters in a profile.

        Parameters
        ----------
        profile : {"full", "smoke"}

        Returns
        -------
        dict
            A fresh copy (no list shared with the registry); the smoke profile is the full
            one with :attr:`smoke` applied.
        """
        check_choice(profile, "profile", _PROFILE_NAMES)
        changes = self.smoke if profile == "smoke" else {}
        return copy.deepcopy({**self.parameters, **changes})


_PROFILE_NAMES = ("full", "smoke")

#: The book's notebooks in book order (the summary pages last): the one registry. To add a
#: notebook, add its entry here (and the notebook file and its ``_toc.yml`` entry).
REGISTRY: tuple[NotebookSpec, ...] = (
    NotebookSpec(
        "01_stimuli",
        {"images": "embedded", "n_images": None, "superclasses": None, "n_per_class": None,
         "min_confidence": None, "max_steps": 300, "seed": 0, "allow_short": False},
        smoke={"n_images": 4}, reads=("stimuli",), cost=6,
        live_limit="Optimizing the AN and AI images takes minutes on a CPU when the set is "
                   "not made yet."),
    NotebookSpec(
        "02_cnn_rsa", {"n_perm": 1000, "n_boot": 1000, "seed": 0, "layer": "layer3"},
        smoke={"n_perm": 50, "n_boot": 50}, reads=("stimuli", "cnn_rsa"), cost=6),
    NotebookSpec(
        "03_fmri", {"subject": "sub-01", "n_vertices": 200}, per_subject=True,
        subject_title="Fig 2A — {what}, fMRI pipeline and vertex selection ({subject})",
        dataset=True, reads=("stimuli", "subjects"), cost=5,
        live_limit="Simulating a subject takes seconds to a minute on a CPU when it is not "
                   "made yet."),
    NotebookSpec(
        "04_brain_rsa",
        {"subject": "all", "n_vertices": 200, "n_perm": 1000, "n_boot": 1000, "seed": 0},
        smoke={"n_perm": 50, "n_boot": 50}, dataset=True, reads=("brain_rsa",), cost=4,
        variants=(PageVariant("s2", {"n_vertices": 400, "show_published": False,
                                     "show_searchlight": False},
                              "Fig S2 — RE-AN and RE-AI similarity with 400 vertices per ROI"),),
        live_limit="With the paper's 1000 permutations and bootstraps this takes seconds to "
                   "minutes per subject on a CPU when not made yet."),
    NotebookSpec(
        "05_encoding",
        {"subject": "all", "solver": "romp", "n_nonzero": "cv", "n_folds": 5,
         "n_vertices": 200, "n_perm": 1000, "n_boot": 1000, "seed": 0},
        smoke={"n_folds": 2, "n_perm": 50, "n_boot": 50}, dataset=True, reads=("encoding",),
        cost=8,
        live_limit="Fitting the encoding models takes minutes per subject on a CPU when they "
                   "are not made yet, for each of the two variants."),
    NotebookSpec(
        "06_explore",
        {"image": 0, "kind": "AI", "layer": "layer1", "roi": "V1", "subject": "sub-01"},
        dataset=True, reads=("stimuli", "cnn_rsa", "subjects"), cost=18),
    NotebookSpec(
        "08_ground_truth",
        {"snrs": [0.4, 0.8, 1.6, 3.2], "designs": ["paper", "interleaved"], "n_seeds": 20,
         "variants": [["none", False], ["center", True]], "n_vertices": 200, "n_perm": 1000,
         "n_swap": 10000, "seed": 0, "jobs": 2, "calibration_draws": 400,
         "coverage_draws": 200},
        smoke={"snrs": [3.2], "n_seeds": 2, "n_perm": 50, "n_swap": 200, "jobs": 1,
               "calibration_draws": 20, "coverage_draws": 20},
        dataset=True, reads=("stimuli", "subjects"), cost=12,
        live_limit="The study draws many simulated datasets and analyses each: minutes on a "
                   "CPU the first time (make book caches every seed), seconds afterwards."),
    NotebookSpec(
        "10_real_brain",
        {"method": "spearman", "n_perm": 1000, "n_boot": 1000, "seed": 0,
         "adversarial_steps": 300, "subset": None},
        # the data's own random 22 of the 92 images: 29 -> 7 s of network work in the tests
        smoke={"n_perm": 50, "n_boot": 50, "adversarial_steps": 1, "subset": "rand24"},
        reads=("hit_rsa", "hit_adversarial"), cost=10,
        live_limit="Making the AI and AN versions of the 92 images takes minutes on a CPU "
                   "when they are not made yet."),
    NotebookSpec(
        "09_models", {"models": ["efficientnet_lite0"]}, dataset=True,
        reads=("cnn_rsa", "hit_rsa"), across_models=True, cost=6),
    NotebookSpec(
        "07_summary", {"profile": "full"}, smoke={"profile": "smoke"}, dataset=True,
        reads=("build_info",), cost=6),
)


def _profiles(registry) -> dict[str, dict[str, dict]]:
    """Parameters per profile per notebook of ``registry`` (deep copies: no list shared
    between profiles or with the registry)."""
    return {profile: {spec.name: spec.profile(profile) for spec in registry}
            for profile in _PROFILE_NAMES}


def _spec(name: str) -> NotebookSpec:
    """The registry entry of notebook ``name``."""
    found = [spec for spec in REGISTRY if spec.name == name]
    expect(len(found) == 1, "notebook", name,
           f"one of {', '.join(spec.name for spec in REGISTRY)}")
    return found[0]


#: Notebooks in book order (file stem in ``notebooks/``), from :data:`REGISTRY`.
NOTEBOOKS: tuple[str, ...] = tuple(spec.name for spec in REGISTRY)
#: Notebooks executed once per subject (one page each), from :data:`REGISTRY`.
PER_SUBJECT: tuple[str, ...] = tuple(spec.name for spec in REGISTRY if spec.per_subject)
#: Parameters per profile per notebook: the full profile, and the smoke profile derived
#: from it (:attr:`NotebookSpec.smoke`), from :data:`REGISTRY`.
PROFILES: dict[str, dict[str, dict]] = _profiles(REGISTRY)


#: The paper's image design: 5 superclasses x 8 categories, one image each, recognised with
#: P > 0.99 (``advlib reproduce --paper-design``; the class lists are
#: :data:`advlib.cnn.selection.SUPERCLASSES`).
PAPER_DESIGN: dict = {"superclasses": list(PAPER_SUPERCLASSES), "n_per_class": PAPER_N_PER_CLASS,
                      "min_confidence": PAPER_CONFIDENCE, "n_images": None}


def stimulus_options(profile: str, images=None, paper_design: bool = False,
                     min_confidence: float | None = None, allow_short: bool = False) -> dict:
    """The ``01_stimuli`` parameters of a profile, with another image source or design.

    Parameters
    ----------
    profile : {"full", "smoke"}
    images : str or path, optional
        ``"embedded"``, a folder or a CSV (see :func:`advlib.cnn.images.discover_images`);
        default: the profile's.
    paper_design : bool
        Select the paper's 5 x 8 design (:data:`PAPER_DESIGN`).
    min_confidence : float, optional
        Overrides the design's confidence criterion.
    allow_short : bool
        Proceed with fewer images than the design asks for (a recorded deviation).

    Returns
    -------
    dict
        The notebook's stimulus parameters, as :func:`advlib.build_stimulus_set` takes them.
    """
    check_choice(profile, "profile", PROFILES)
    options = dict(PROFILES[profile]["01_stimuli"])
    if images is not None:
        options["images"] = images if str(images) == "embedded" else str(
            Path(images).expanduser().resolve())
    if paper_design:
        options.update(PAPER_DESIGN)
    if min_confidence is not None:
        options["min_confidence"] = check_probability(min_confidence, "min_confidence",
                                                      high_open=True)
    options["allow_short"] = bool(allow_short)
    return options


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class NotebookError(AdvlibError, RuntimeError):
    """A notebook failed to execute; the message shows the failing cell's error."""


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def notebook_parameters(name: str, profile: str, model: str, results_dir) -> dict:
    """The papermill parameters of notebook ``name`` under ``profile``.

    Parameters
    ----------
    name : str
        Notebook stem, one of :data:`NOTEBOOKS`.
    profile : {"full", "smoke"}
    model : str
        Model name passed to the notebook.
    results_dir : str or path
        Results root passed to the notebook (made absolute).

    Returns
    -------
    dict
    """
    check_choice(profile, "profile", PROFILES)
    expect(name in PROFILES[profile], "notebook", name,
           f"one of {', '.join(spec.name for spec in REGISTRY)}")
    return {**PROFILES[profile][name], "model": model,
            "results_dir": str(Path(results_dir).resolve())}


_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_PROGRESS = re.compile(r"\d+%\|")

_WARNING = re.compile(r"^(?:\S*/)?[^/\s:]+\.py:\d+: (\w+(?:Warning|Error)): (.*)$")


def _clean_stderr(text: str) -> str:
    """Warnings as ``Category: message``, without the file, line and source they came from;
    progress-bar lines dropped.

    ``/path/site-packages/joblib/parallel.py:1940: RuntimeWarning: sub-01 V3: ...`` and its
    indented source line become ``RuntimeWarning: sub-01 V3: ...``; a page neither shows
    the machine's paths nor loses the warning.
    """
    out, skip_source = [], False
    for line in text.splitlines():
        line = line.split("\r")[-1]                  # a carriage return overwrites the line
        if _PROGRESS.search(line):                    # a progress bar's last state
            continue
        match = _WARNING.match(line)
        if match:
            out.append(f"{match.group(1)}: {match.group(2)}")
            skip_source = True
        elif skip_source and line.startswith("  "):
            skip_source = False
        else:
            out.append(line)
            skip_source = False
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def _clean_outputs(nb) -> None:
    """Drop what a static page cannot show or should not show from an executed notebook.

    ipywidgets views (progress bars, the explorer's controls) are dropped with their text
    fallback (``CNN RSA: 0%| | 0/8``, ``VBox(...)``): their state is not saved by
    papermill, so the page could only show an empty widget or its repr. Progress bars
    written to stderr go too; warnings stay, without the paths they were raised from.
    """
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        kept = []
        for output in cell.get("outputs", []):
            data = output.get("data") or {}
            if _WIDGET_VIEW in data:
                continue
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                output["text"] = _clean_stderr(output.get("text", ""))
                if not output["text"].strip():
                    continue
            kept.append(output)
        if "outputs" in cell:
            cell["outputs"] = kept


_ASSIGN = re.compile(r"^(?P<name>[A-Za-z_]\w*)\s*=\s*(?P<value>.*?)(?P<comment>\s+#.*)?$")


def _portable(value, base: Path):
    """``value`` with absolute paths made portable: the default results root -> ``None``
    (a notebook resolves it itself), another path -> relative to ``base`` (where the
    notebook runs); containers element by element."""
    from ..layout import default_results

    if isinstance(value, dict):
        return {k: _portable(v, base) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_portable(v, base) for v in value]
    if isinstance(value, str) and os.path.isabs(value):
        if Path(value).resolve() == default_results().resolve():
            return None
        return _shown_path(value, base)
    return value


def _shown_path(path: str, base: Path) -> str:
    """``path`` as a page shows it: relative to ``base`` where the two share a folder below
    the file-system root; otherwise (a relative path would spell the absolute one out, as
    ``../../../../tmp/x``) ``<elsewhere>/`` and the last part of the path."""
    path, base = os.path.abspath(path), os.path.abspath(base)
    if os.path.commonpath([path, base]) == os.path.abspath(os.sep):
        return f"<elsewhere>/{os.path.basename(path)}"
    return os.path.relpath(path, base)


def _show_parameters(nb, parameters: dict, base: Path) -> None:
    """Write the executed values into the notebook's ``parameters`` cell (comments kept) and
    drop papermill's injected cell, so that the page shows what was run and the file holds
    no absolute path (paths relative to ``base``, the folder the notebook runs in)."""
    nb.cells = [c for c in nb.cells
                if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    shown = {k: _portable(v, base) for k, v in parameters.items()}
    for cell in nb.cells:
        if "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        lines, seen = [], set()
        for line in cell.source.splitlines():
            m = _ASSIGN.match(line)
            if m and m["name"] in shown:
                line = f"{m['name']} = {shown[m['name']]!r}{m['comment'] or ''}"
                seen.add(m["name"])
            lines.append(line)
        lines += [f"{k} = {v!r}" for k, v in shown.items() if k not in seen]
        cell.source = "\n".join(lines)
        return


def _drop_switched_off(nb, parameters: dict) -> None:
    """Remove the cells tagged ``advlib-if:<name>`` whose switch ``<name>`` was executed
    false (a page shows no section it did not run, e.g. Fig S2 without the Fig 4 maps)."""
    nb.cells = [c for c in nb.cells if all(
        parameters.get(tag.split(":", 1)[1], True)
        for tag in c.get("metadata", {}).get("tags", []) if tag.startswith("advlib-if:"))]


def _absolute_paths(value) -> list[str]:
    """Every absolute path string in a parameter value (containers searched)."""
    if isinstance(value, dict):
        return [p for v in value.values() for p in _absolute_paths(v)]
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in _absolute_paths(v)]
    return [value] if isinstance(value, str) and os.path.isabs(value) else []


def _scrub_paths(nb, roots, parameters: dict, base: Path) -> None:
    """Replace absolute folders (the parameters' paths, the checkout, the home folder) and
    the host name in every output by relative or neutral text."""
    import socket

    pairs = [(p, _shown_path(p, base)) for v in parameters.values()
             for p in _absolute_paths(v)]
    pairs += [(str(Path(r).resolve()), ".") for r in roots if r]
    pairs.append((str(Path.home()), "~"))
    host = socket.gethostname()
    if len(host) > 3:
        pairs.append((host, "<host>"))
    pairs.sort(key=lambda p: -len(p[0]))

    def clean(text):
        for old, new in pairs:
            text = text.replace(old, new)
        return text

    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = clean(output["text"])
            for key, value in (output.get("data") or {}).items():
                if isinstance(value, str) and key.startswith("text"):
                    output["data"][key] = clean(value)
            if "traceback" in output:
                output["traceback"] = [clean(t) for t in output["traceback"]]


def _live_note(nb, name: str) -> None:
    """Insert, after the title cell, how to run this page live (launch buttons, `make lab`)."""
    import nbformat

    text = (f"```{{admonition}} Run this page live\n:class: tip\n"
            f"This page is `notebooks/{name}.ipynb` executed with the parameters shown in "
            "its parameters cell (paths relative to `notebooks/`, `<elsewhere>/` for a folder "
            "of the build machine outside it; `results_dir = None` is the checkout's "
            "results). "
            "The rocket button at the top opens it on Binder (the project's environment, "
            "CPU only, 1-2 GB of memory) or Colab (first run "
            "`!pip install` of the repository in a new cell); the download button gives "
            "the executed notebook. Locally, `make lab` opens JupyterLab with the "
            "project's kernel; every notebook finds the results `make book` made, or "
            "computes what is missing.")
    limit = next((spec.live_limit for spec in REGISTRY if spec.name == name), "")
    if limit:
        text += f" {limit}"
    text += "\n```"
    cell = nbformat.v4.new_markdown_cell(text)
    cell.metadata["tags"] = ["advlib-live-note"]
    first = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
    nb.cells.insert(first + 1, cell)


def _retitle(nb, title: str) -> None:
    """Replace the first ``# heading`` of the first markdown cell."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            lines = cell.source.splitlines()
            for i, line in enumerate(lines):
                if line.startswith("# "):
                    lines[i] = f"# {title}"
                    cell.source = "\n".join(lines)
                    return
            return


def run_notebook(source, output, parameters: dict, kernel: str = "python3",
                 progress: bool = True, title: str | None = None,
                 cell_timeout: int = 1800) -> Path:
    """Execute one notebook with papermill; write ``output`` only on success.

    Parameters
    ----------
    source, output : str or path
        Input notebook and executed copy.
    parameters : dict
        Values injected into the ``parameters`` cell.
    kernel : str
        Jupyter kernel name.
    progress : bool
        Show papermill's per-cell progress bar.
    title : str, optional
        Replaces the notebook's ``# title`` in the executed copy (per-subject and variant
        pages of one notebook get distinct titles in the book's navigation).
    cell_timeout : int
        Seconds one cell may run before the notebook fails (a stalled kernel must not
        hang a build).

    Returns
    -------
    pathlib.Path
        ``output``.

    Raises
    ------
    NotebookError
        A cell raised; the message names the notebook and shows the cell's error.
    """
    import nbformat
    import papermill as pm

    source, output = Path(source), Path(output)
    expect(source.is_file(), "notebook", str(source), "an existing .ipynb file")
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(output, suffix=".tmp.ipynb") as tmp:     # the one atomic write
        before = _shared_memory_entries()
        try:
            # the kernel is stopped at once when its last cell is done: every output is in
            # by then, and a polite shutdown request (the kernel tears down torch, the BLAS
            # pools, matplotlib) cost 1 to 2.5 s of each page's 4 to 10
            pm.execute_notebook(str(source), str(tmp), parameters=parameters,
                                kernel_name=kernel, progress_bar=progress,
                                cwd=str(source.parent), execution_timeout=cell_timeout,
                                shutdown_kernel="immediate")
        except pm.PapermillExecutionError as exc:
            trace = _ANSI.sub("", "\n".join(exc.traceback))[-2000:]
            raise NotebookError(f"notebook {source.name} failed in cell {exc.exec_count}: "
                                f"{exc.ename}: {exc.evalue}\n{trace}") from None
        finally:
            _remove_leftovers(before)
        nb = nbformat.read(tmp, as_version=4)
        _clean_outputs(nb)
        _live_note(nb, source.stem)
        if title is not None:
            _retitle(nb, title)
        _drop_switched_off(nb, parameters)
        _show_parameters(nb, parameters, source.parent)
        _scrub_paths(nb, [repo_root(), source.parent], parameters, source.parent)
        for key in ("input_path", "output_path", "parameters"):
            nb.metadata.get("papermill", {}).pop(key, None)
        nbformat.write(nb, tmp)
    return output


#: What a kernel's worker processes leave in shared memory when the kernel is killed (its
#: process group goes with it, so their cleanup never runs): loky's semaphores and joblib's
#: memory-mapped arrays, each named after the pid of the process that made it.
_LEFTOVERS = re.compile(r"^(?:sem\.loky-|joblib_memmapping_folder_)(\d+)[-_]")


def _shared_memory_entries() -> set[Path]:
    """The loky and joblib entries in ``/dev/shm`` and the temporary folder (joblib's
    fallback) now."""
    import tempfile

    folders = {Path("/dev/shm"), Path(tempfile.gettempdir())}
    return {p for folder in folders if folder.is_dir()
            for pattern in ("sem.loky-*", "joblib_memmapping_folder_*")
            for p in folder.glob(pattern)}


def _remove_leftovers(before: set[Path]) -> None:
    """Remove the loky and joblib entries that appeared since ``before`` and whose maker is
    gone (the stopped kernel and its workers); a live process's entries are kept."""
    import shutil

    for path in _shared_memory_entries() - before:
        found = _LEFTOVERS.match(path.name)
        if found and not process_alive(int(found.group(1))):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def notebook_plan(profile: str = "full", model: str = "efficientnet_lite0",
                  results_dir="results", data: str = "simulated", subjects=None,
                  names=None, stimuli: dict | None = None) -> list[dict]:
    """Every executed notebook of the book: one per (notebook, subject or variant, model).

    What each notebook gets comes from its :data:`REGISTRY` entry: a per-subject notebook
    runs once per subject (``03_fmri_sub-XX``), a notebook with variants once more per
    variant (``04_brain_rsa`` as Fig 3 with 200 vertices per ROI and ``04_brain_rsa_s2``,
    Fig S2, with 400); the others once.

    Parameters
    ----------
    profile : {"full", "smoke"}
    model : str
    results_dir : str or path
    data : str
        ``"simulated"`` (the profile's :data:`DATASETS` specification is passed as the
        notebooks' ``dataset``) or the folder of a real dataset.
    subjects : list of int, optional
        Simulated subjects (default: the profile's).
    names : list of str, optional
        Only these notebooks.
    stimuli : dict, optional
        ``01_stimuli`` parameters replacing the profile's (:func:`stimulus_options`).

    Returns
    -------
    list of dict
        ``{"name", "output", "parameters"}`` (and ``"title"`` for per-subject and variant
        pages) in book order; ``output`` is a file stem.
    """
    from ..fmri.data import list_subjects

    if data == "simulated":
        dataset = dict(DATASETS[profile])
        if subjects is not None:
            dataset["subjects"] = [int(s) for s in subjects]
    else:
        dataset = str(Path(data).resolve())
    simulated = simulation_spec(dataset)
    plan = []
    for name in ([spec.name for spec in REGISTRY] if names is None else names):
        spec = _spec(name)
        params = notebook_parameters(name, profile, model, results_dir)
        if name == "01_stimuli" and stimuli is not None:
            params.update(stimuli)
        if spec.dataset:
            params["dataset"] = dataset
        if spec.per_subject:
            subs = ([f"sub-{int(s):02d}" for s in simulated["subjects"]]
                    if simulated is not None else list_subjects(dataset))
            what = ("Simulated observer" if simulated is not None
                    else f"Dataset {Path(dataset).name}")
            title = spec.subject_title or name + " — {what} ({subject})"
            plan += [{"name": name, "output": f"{name}_{sub}",
                      "parameters": {**params, "subject": sub},
                      "title": title.format(what=what, subject=sub)} for sub in subs]
        else:
            plan.append({"name": name, "output": name, "parameters": params})
            plan += [{"name": name, "output": f"{name}_{v.suffix}",
                      "parameters": {**params, **v.changes}, "title": v.title}
                     for v in spec.variants]
    return plan


def subject_names(subjects) -> list[str]:
    """Subject folder names from numbers or names: ``[2, "sub-03"]`` -> ``["sub-02", "sub-03"]``.

    Raises
    ------
    InputError
        An entry that is neither a positive number nor a ``sub-*`` name.
    """
    names = []
    for s in subjects:
        text = str(s).strip()
        if text.isdigit() and int(text) > 0:
            names.append(f"sub-{int(text):02d}")
        else:
            expect(text.startswith("sub-") and len(text) > 4, "subjects", s,
                   "subject numbers (2) or folder names (sub-02)")
            names.append(text)
    return list(dict.fromkeys(names))


def run_notebooks(profile: str = "full", model: str = "efficientnet_lite0",
                  results_dir="results", out_dir="book/generated", names=None,
                  notebooks_dir=None, data: str = "simulated", subjects=None,
                  progress: bool = True, reuse: bool = False) -> list[Path]:
    """Execute every notebook of :func:`notebook_plan` (or ``names``) into ``out_dir``, each
    page through its stage (:func:`execute_page`: written whole or not at all, with its
    record).

    Parameters
    ----------
    profile, model, results_dir, data
        As for :func:`notebook_plan`.
    out_dir : str or path
        Where the executed notebooks go.
    names : list of str, optional
        Only these notebooks.
    notebooks_dir : str or path, optional
        Source notebooks (default: the checkout's ``notebooks/``).
    subjects : list of int or str, optional
        Re-execute only the per-subject pages (:data:`PER_SUBJECT`) of these subjects
        (``2`` or ``"sub-02"``); every other page is left as it is. Each must be a subject of
        the dataset.
    progress : bool
    reuse : bool
        Leave a page whose record is up to date (same notebook source, parameters and
        advlib code). Off by default: unlike ``reproduce``, this command does not know the
        stage records a page reads, so results computed since would not re-execute it.

    Returns
    -------
    list of pathlib.Path
        The executed (or, with ``reuse``, up-to-date) notebooks, in book order.

    Raises
    ------
    InputError
        A named subject is not in the dataset, or ``names`` and ``subjects`` leave nothing
        to run.
    """
    notebooks_dir = Path(notebooks_dir) if notebooks_dir else repo_root() / "notebooks"
    if subjects is None:
        plan = notebook_plan(profile, model, results_dir, data, None, names)
    else:
        wanted = subject_names(subjects)
        numbers = [int(w[4:]) for w in wanted if w[4:].isdigit()]
        # simulated: the profile's subjects plus any other named one, so that each page
        # keeps the parameters of the book's build
        dataset_subjects = None
        if data == "simulated" and len(numbers) == len(wanted):
            dataset_subjects = sorted(set(DATASETS[profile]["subjects"]) | set(numbers))
        per_subject = [spec.name for spec in REGISTRY if spec.per_subject]
        chosen = [n for n in (names or per_subject) if n in per_subject]
        expect(chosen, "notebooks", names, f"per-subject notebooks ({', '.join(per_subject)}) "
               "when --subjects is given")
        plan = notebook_plan(profile, model, results_dir, data, dataset_subjects, chosen)
        found = [item["parameters"]["subject"] for item in plan]
        missing = [w for w in wanted if w not in found]
        expect(not missing, "subjects", missing,
               f"subjects of the dataset ({', '.join(found) or 'none'})")
        plan = [item for item in plan if item["parameters"]["subject"] in wanted]
    return [execute_page(item, notebooks_dir / page_name(item["name"]), out_dir,
                         progress=progress, reuse=reuse)
            for item in plan]


def execute_page(item: dict, source, out_dir, inputs=(), progress: bool = False,
                 reuse: bool = True) -> Path:
    """Execute one page of a notebook plan as a cached stage.

    The page ``<output>.ipynb`` is written through :class:`advlib.provenance.Stage` (a
    failed execution leaves no page and no record); its record ``.stages/<output>.json``
    (:func:`advlib.layout.page_record`) keys the notebook's source, the page's parameters
    and title, the files in ``inputs`` and advlib's code.

    Parameters
    ----------
    item : dict
        One entry of :func:`notebook_plan` (``output``, ``parameters``, ``title``).
    source : str or path
        The notebook.
    out_dir : str or path
        The book's pages folder.
    inputs : iterable of path
        Further files the page depends on (the records of the stages it reads); missing
        ones are left out.
    progress : bool
        papermill's per-cell progress bar.
    reuse : bool
        Leave an up-to-date page as it is.

    Returns
    -------
    pathlib.Path
        The page.
    """
    source, out_dir = Path(source), Path(out_dir)
    target = page_name(item["output"])
    stage = Stage(f"notebook:{item['output']}", out_dir, [target],
                  {"parameters": item["parameters"], "title": item.get("title")},
                  inputs=[source] + [Path(p) for p in inputs if Path(p).is_file()],
                  code=["advlib"], record=page_record(item["output"]))
    if not (reuse and stage.up_to_date()):
        stage.run(lambda tmp: run_notebook(source, tmp / target, item["parameters"],
                                           progress=progress, title=item.get("title")))
    return out_dir / target
