"""The whole chain in one call: stimuli -> CNN RSA -> subjects -> brain RSA -> encoding ->
notebooks -> book (``advlib reproduce``).

``reproduce`` is a loop over steps. Each step calls a library function that is a cached
stage (:class:`advlib.provenance.Stage`): it decides itself whether its outputs are up to
date (same parameters, input files, code, and outputs unchanged since it wrote them) and
writes a record beside them. The executed notebooks are stages too, keyed by their
parameters, the notebook source, the library code and the records of the stages they
read. A step's status ("ran" or "up to date") is read from whether its records were
rewritten. Every path comes from :class:`advlib.layout.Layout`.

Independent per-subject work (simulation, brain RSA, encoding) runs in parallel on up to
``jobs`` processes; the numbers do not depend on ``jobs``.

The timings of each step go to ``<out>/build_info.json``, shown by the book's summary page.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import check_choice, check_positive_int, expect
from ..layout import Layout, analysis_variant, brain_rsa_name, encoding_name, simulation_spec
from ..provenance import Stage, package_versions, write_json
from .notebooks import (
    DATASETS,
    PAPER_DESIGN,
    PROFILES,
    notebook_plan,
    repo_root,
    run_notebook,
    stimulus_options,
)

__all__ = ["reproduce", "STAGES"]

STAGES = ("stimuli", "cnn_rsa", "subjects", "brain_rsa", "encoding", "notebooks", "book")

#: The paper's pipeline as published (no session normalisation, permutations across
#: sessions), run beside the default for the brain RSA (200 vertices) and the encoding.
PUBLISHED_OPTIONS = {"normalize": "none", "within_session": False}
_STIMULUS_KEYS = ("images", "n_images", "superclasses", "n_per_class", "min_confidence",
                  "max_steps", "seed")
PUBLISHED = analysis_variant(**PUBLISHED_OPTIONS)


@dataclass
class _Step:
    """One step of the chain: what it is, the call, and the records that show it ran."""

    stage: str
    item: str
    call: Callable[[], object]
    records: Callable[[], list] = field(default=lambda: [])


def _stamps(paths) -> dict:
    return {str(p): (p.stat().st_mtime_ns if p.exists() else None) for p in paths}


def reproduce(model: str = "efficientnet_lite0", data: str = "simulated", subjects=None,
              profile: str = "full", jobs: int = 1, results="results",
              out="book/generated", book: bool = True, book_root=None,
              progress: bool = True, images=None, paper_design: bool = False) -> pd.DataFrame:
    """Run every stage that is out of date, then (optionally) build the book.

    Parameters
    ----------
    model : str
        Network (``"efficientnet_lite0"``, embedded; ``"alexnet"`` needs its weights).
    data : str
        ``"simulated"`` (the profile's dataset specification,
        :data:`advlib.book.notebooks.DATASETS`) or the folder of a real dataset in the
        documented format.
    subjects : list of int, optional
        Simulated subjects (default: the profile's, 1-3 for ``full``).
    profile : {"full", "smoke"}
        ``full``: the paper's settings; ``smoke``: tiny settings that run every cell.
    jobs : int
        Processes for per-subject work.
    results : str or path
        Results root (see :mod:`advlib.layout`).
    out : str or path
        Where the executed notebooks go (the book's source tree).
    book : bool
        Build the HTML with Jupyter Book afterwards.
    book_root : str or path, optional
        Folder with ``_config.yml`` and ``_toc.yml`` (default: the repository).
    progress : bool
    images : str or path, optional
        Regular images: ``"embedded"`` (the profile's default), a folder (class subfolders,
        or files named ``<WordNet id>_*.JPEG``) or a ``path,label`` CSV.
    paper_design : bool
        The paper's 5 superclasses x 8 categories, P > 0.99
        (:data:`advlib.book.notebooks.PAPER_DESIGN`).

    Returns
    -------
    pandas.DataFrame
        ``stage, item, status, seconds``: one row per step, status ``ran`` or
        ``up to date``.
    """
    from ..analysis.brain_rsa import brain_rsa
    from ..analysis.cnn_rsa import cnn_rsa
    from ..analysis.encoding_analysis import encoding_analysis
    from ..cnn.models import load_model
    from ..cnn.stimulus_set import build_stimulus_set
    from ..fmri.data import list_subjects
    from ..fmri.simulation.simulate import resolve_dataset

    check_choice(profile, "profile", PROFILES)
    check_positive_int(jobs, "jobs")
    prof = PROFILES[profile]
    layout = Layout(results, model)
    out = Path(out).resolve()
    if data == "simulated":
        dataset = dict(DATASETS[profile])
        if subjects:
            dataset["subjects"] = [int(s) for s in subjects]
    else:
        dataset = str(Path(data).resolve())
    spec = simulation_spec(dataset)
    subs = spec["subjects"] if spec is not None else []
    results_dir = layout.dataset_dir(dataset)
    cnn = load_model(model)
    stim = layout.stimuli_dir
    state = {}

    def names():
        return ([f"sub-{n:02d}" for n in subs] if spec is not None
                else list_subjects(layout.data_dir(dataset)))

    s = stimulus_options(profile, images, paper_design)
    c, b, e = (prof[k] for k in ("02_cnn_rsa", "04_brain_rsa", "05_encoding"))
    brain_runs = [(200, ""), (400, ""), (200, PUBLISHED)]     # (vertices per ROI, variant)
    enc_runs = ["", PUBLISHED]

    def record(name: str) -> Path:
        return results_dir / f"{Path(name).stem}_provenance.json"

    rec = {
        "stimuli": lambda: [stim / "provenance.json"],
        "cnn_rsa": lambda: [layout.root / "cnn_rsa_provenance.json"],
        "subjects": lambda: [layout.data_dir(dataset) / n / "provenance.json" for n in names()],
        "brain_rsa": lambda: [record(brain_rsa_name(n, v)) for n, v in brain_runs],
        "encoding": lambda: [record(encoding_name(e["solver"], "encoding", v)) for v in enc_runs],
    }
    steps = [
        _Step("stimuli", "stimuli", lambda: build_stimulus_set(
            cnn, stim, progress=progress, **{k: s[k] for k in _STIMULUS_KEYS}),
            rec["stimuli"]),
        _Step("cnn_rsa", "cnn_rsa.csv", lambda: cnn_rsa(
            cnn, stim, layout.root, n_perm=c["n_perm"], n_boot=c["n_boot"], seed=c["seed"],
            progress=progress), rec["cnn_rsa"]),
        _Step("subjects", f"{len(subs)} simulated" if spec is not None else "real data",
              lambda: state.update(data_dir=resolve_dataset(dataset, layout,
                                                            progress=progress, jobs=jobs)),
              rec["subjects"]),
    ]
    for n_vertices, variant in brain_runs:
        published = variant == PUBLISHED
        name = brain_rsa_name(n_vertices, variant)
        steps.append(_Step("brain_rsa", name, lambda n=n_vertices, pub=published: brain_rsa(
            state["data_dir"], stim, results_dir, n_vertices=n, n_perm=b["n_perm"],
            n_boot=b["n_boot"], seed=b["seed"], subjects=names(), jobs=jobs, progress=progress,
            **(PUBLISHED_OPTIONS | {"searchlight": False} if pub else {})),
            lambda name=name: [record(name)]))
    for variant in enc_runs:
        name = encoding_name(e["solver"], "encoding", variant)
        steps.append(_Step("encoding", name, lambda pub=variant == PUBLISHED: encoding_analysis(
            cnn, state["data_dir"], stim, results_dir, solver=e["solver"],
            n_nonzero=e["n_nonzero"], n_folds=e["n_folds"], n_vertices=e["n_vertices"],
            n_perm=e["n_perm"], n_boot=e["n_boot"], seed=e["seed"], subjects=names(),
            features_cache=layout.features_dir, jobs=jobs, progress=progress,
            **(PUBLISHED_OPTIONS if pub else {})), lambda name=name: [record(name)]))

    info_path = out / "build_info.json"
    reads = {   # the records whose stages each notebook reads
        "01_stimuli": ["stimuli"], "02_cnn_rsa": ["stimuli", "cnn_rsa"],
        "03_fmri": ["stimuli", "subjects"], "04_brain_rsa": ["brain_rsa"],
        "05_encoding": ["encoding"], "06_explore": ["stimuli", "cnn_rsa", "subjects"],
        "08_ground_truth": ["stimuli"],
    }
    notebooks_dir = repo_root() / "notebooks"
    for item in notebook_plan(profile, model, layout.results, data, subs or None, stimuli=s):
        if item["name"] == "07_summary":
            item["parameters"]["build_info"] = str(info_path)
        steps.append(_notebook_step(item, notebooks_dir, out, reads.get(item["name"], []), rec,
                                    progress))

    log = []
    info = {"profile": profile, "model": model, "data": str(data), "dataset": dataset,
            "subjects": subs, "jobs": jobs, "parameters": {**prof, "01_stimuli": s},
            "versions": package_versions(), "model_provenance": cnn.provenance(),
            "stages": log, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    for step in steps:
        if step.stage == "notebooks":   # the summary page reads the log so far
            write_json(info_path, info)
            _write_built_with(out / "built_with.md", info, stim, s)
        t0 = time.perf_counter()
        before = _stamps(step.records())
        step.call()
        after = _stamps(step.records())
        status = "ran" if before != after else "up to date"
        log.append({"stage": step.stage, "item": step.item, "status": status,
                    "seconds": round(time.perf_counter() - t0, 2)})
        if progress:
            print(f"[reproduce] {step.stage:<9} {step.item:<24} {status:<10} "
                  f"{log[-1]['seconds']:8.1f} s", file=sys.stderr)
    write_json(info_path, info)

    if book:
        t0 = time.perf_counter()
        root = Path(book_root) if book_root else repo_root()
        cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", "--all", str(root)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        expect(done.returncode == 0, "jupyter-book build", f"exit {done.returncode}",
               f"a built book; its output ends with:\n{(done.stdout + done.stderr)[-3000:]}")
        log.append({"stage": "book", "item": "_build/html", "status": "ran",
                    "seconds": round(time.perf_counter() - t0, 2)})
        write_json(info_path, info)
    return pd.DataFrame(log, columns=["stage", "item", "status", "seconds"])


def _write_built_with(path: Path, info: dict, stim_dir: Path, stimuli: dict) -> None:
    """The book's first page names the network, the images and the data it was built with."""
    from ..cnn.stimulus_set import load_manifest

    n_regular = int((load_manifest(stim_dir).kind == "RE").sum())
    images = stimuli["images"]
    source = ("the 20 ImageNet photographs embedded in the `foolbox` package" if images ==
              "embedded" else f"the folder `{Path(images).name}`")
    design = ("the paper's design: " + ", ".join(PAPER_DESIGN["superclasses"]) +
              f"; {PAPER_DESIGN['n_per_class']} categories each, P > "
              f"{PAPER_DESIGN['min_confidence']}"
              if stimuli.get("superclasses") == PAPER_DESIGN["superclasses"] else
              "one image per category, recognised at top-1" +
              (f" with P > {stimuli['min_confidence']}" if stimuli.get("min_confidence") else ""))
    spec = simulation_spec(info["dataset"])
    data = (f"the **simulated observer** ({len(spec['subjects'])} subjects, SNR {spec['snr']:g}, "
            f"{spec['design']} session design)" if spec is not None
            else f"the dataset `{Path(str(info['dataset'])).name}`")
    weights = str(info["model_provenance"].get("weights_sha256", ""))[:12]
    text = (f"```{{admonition}} Built with\n:class: note\n"
            f"- **Network**: `{info['model']}` (weights SHA-256 {weights}...)\n"
            f"- **Images**: {n_regular} regular images from {source}; {design}\n"
            f"- **Brain data**: {data}\n"
            f"- **Profile**: {info['profile']}, built {info['started'][:10]}\n```\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text)
    tmp.replace(path)


def _notebook_step(item: dict, notebooks_dir: Path, out: Path, reads: list, rec: dict,
                   progress: bool) -> _Step:
    """A step that executes one notebook of the plan as a cached stage."""
    source = notebooks_dir / f"{item['name']}.ipynb"
    target = f"{item['output']}.ipynb"

    def stage() -> Stage:
        inputs = [source] + [p for r in reads for p in rec[r]() if p.is_file()]
        return Stage(f"notebook:{item['output']}", out, [target],
                     {"parameters": item["parameters"], "title": item.get("title")},
                     inputs=inputs, code=["advlib"], record=f".stages/{item['output']}.json")

    def call():
        st = stage()
        if item["name"] != "07_summary" and st.up_to_date():
            return
        st.run(lambda tmp: run_notebook(source, tmp / target, item["parameters"],
                                        progress=progress, title=item.get("title")))

    return _Step("notebooks", item["output"], call,
                 lambda: [out / ".stages" / f"{item['output']}.json"])
