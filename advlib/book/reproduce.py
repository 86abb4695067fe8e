"""The whole chain in one call: stimuli -> CNN RSA -> subjects -> brain RSA -> encoding ->
notebooks -> book (``advlib reproduce``).

Every stage is skipped when its output is up to date. The analysis functions cache their
own results, keyed by their parameters and the checksums of their inputs (stimulus set:
parameters and model weights; simulated subjects: simulation parameters; brain RSA and
encoding: ``cache_key`` in their provenance files). The CNN RSA, each executed notebook
and the book build are keyed here, in ``<results>/<model>/stages.json``: by their
parameters, the notebook's source, the advlib version and the keys of the stages they
read. A second run after a one-parameter change therefore redoes only what depends on it.

Independent per-subject work (simulation, brain RSA, encoding) runs in parallel on up to
``jobs`` processes; the numbers do not depend on ``jobs``.

The timings of each stage go to ``<out>/build_info.json``, shown by the book's build page.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from ..errors import expect
from ..fmri.data import subject_files
from ..provenance import cache_key, package_versions, write_json
from .notebooks import PROFILES, notebook_plan, repo_root, run_notebook

__all__ = ["reproduce", "STAGES"]

STAGES = ("stimuli", "cnn_rsa", "subjects", "brain_rsa", "encoding", "notebooks", "book")


def _stage_keys(path: Path) -> dict:
    if path.is_file():
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            return {}
    return {}


def _mtime(path: Path):
    """Modification time in ns, or None: a stage "ran" when its output's time changed."""
    return path.stat().st_mtime_ns if path.exists() else None


def _advlib_sources_key() -> str:
    """Checksum of the library's source: a code change re-executes the notebooks."""
    root = Path(__file__).resolve().parent
    return cache_key({}, sorted(root.glob("*.py")))


def reproduce(model: str = "efficientnet_lite0", data: str = "simulated", subjects=None,
              profile: str = "full", jobs: int = 1, results="results",
              out="book/generated", book: bool = True, book_root=None,
              progress: bool = True) -> pd.DataFrame:
    """Run every stage that is out of date, then (optionally) build the book.

    Parameters
    ----------
    model : str
        Network (``"efficientnet_lite0"``, embedded; ``"alexnet"`` needs its weights).
    data : str
        ``"simulated"`` or the folder of a real dataset in the documented format.
    subjects : list of int, optional
        Simulated subjects (default: the profile's, 1-3 for ``full``).
    profile : {"full", "smoke"}
        ``full``: the paper's settings; ``smoke``: tiny settings that run every cell.
    jobs : int
        Processes for per-subject work.
    results : str or path
        Results root (``<results>/<model>/...``).
    out : str or path
        Where the executed notebooks go (the book's source tree).
    book : bool
        Build the HTML with Jupyter Book afterwards.
    book_root : str or path, optional
        Folder with ``_config.yml`` and ``_toc.yml`` (default: the repository).
    progress : bool

    Returns
    -------
    pandas.DataFrame
        ``stage, item, status, seconds``: one row per stage (and per notebook), status
        ``ran`` or ``up to date``.
    """
    from ..analysis.brain_rsa import brain_rsa
    from ..analysis.cnn_rsa import cnn_rsa
    from ..analysis.encoding_analysis import encoding_analysis
    from ..cnn.models import load_model
    from ..cnn.stimulus_set import build_stimulus_set
    from ..fmri.simulation.simulate import simulate_dataset

    expect(profile in PROFILES, "profile", profile, f"one of {', '.join(PROFILES)}")
    expect(isinstance(jobs, int) and jobs >= 1, "jobs", jobs, "a positive integer")
    prof = PROFILES[profile]
    results = Path(results).resolve()
    out = Path(out).resolve()
    model_dir = results / model
    stim_dir = model_dir / "stimuli"
    stamps_path = model_dir / "stages.json"
    stamps = _stage_keys(stamps_path)
    log = []

    def record(stage, item, status, t0):
        log.append({"stage": stage, "item": item, "status": status,
                    "seconds": round(time.perf_counter() - t0, 2)})
        if progress:
            print(f"[reproduce] {stage:<9} {item:<24} {status:<10} "
                  f"{log[-1]['seconds']:8.1f} s", file=sys.stderr)

    def stamp(stage, key):
        stamps[stage] = key
        write_json(stamps_path, stamps)

    t0 = time.perf_counter()
    cnn = load_model(model)
    s = prof["01_stimuli"]
    before = _mtime(stim_dir / "manifest.csv")
    build_stimulus_set(cnn, stim_dir, images=s["images"], n_images=s["n_images"],
                       max_steps=s["max_steps"], seed=s["seed"], progress=progress)
    record("stimuli", str(stim_dir.relative_to(results)),
           "up to date" if before == _mtime(stim_dir / "manifest.csv") else "ran", t0)

    t0 = time.perf_counter()
    c = prof["02_cnn_rsa"]
    cnn_key = cache_key({"model": model, "weights": cnn.weights_sha256, "n_perm": c["n_perm"],
                         "n_boot": c["n_boot"], "seed": c["seed"], "code": _advlib_sources_key()},
                        [stim_dir / "manifest.csv"])
    if stamps.get("cnn_rsa") == cnn_key and (model_dir / "cnn_rsa.csv").is_file():
        record("cnn_rsa", "cnn_rsa.csv", "up to date", t0)
    else:
        cnn_rsa(cnn, stim_dir, model_dir, n_perm=c["n_perm"], n_boot=c["n_boot"], seed=c["seed"],
                progress=progress)
        stamp("cnn_rsa", cnn_key)
        record("cnn_rsa", "cnn_rsa.csv", "ran", t0)

    t0 = time.perf_counter()
    b = prof["04_brain_rsa"]
    subs = [int(x) for x in (subjects or b["subjects"])]
    if data == "simulated":
        dataset = model_dir / "simulated"
        keys = {n: (dataset / f"sub-{n:02d}" / "subject.json") for n in subs}
        before = {n: _mtime(p) for n, p in keys.items()}
        simulate_dataset(stim_dir, dataset, subs, seed=0, progress=progress, jobs=jobs,
                         snr=b["snr"], spacing=b["spacing"], max_pcs=b["max_pcs"])
        changed = [n for n, p in keys.items() if _mtime(p) != before[n]]
        record("subjects", f"{len(subs)} simulated", "ran" if changed else "up to date", t0)
    else:
        dataset = Path(data).resolve()
        record("subjects", str(dataset), "real data", t0)
    names = "all" if data != "simulated" else [f"sub-{n:02d}" for n in subs]

    for n_vertices in (200, 400):
        t0 = time.perf_counter()
        table = model_dir / dataset.name / f"brain_rsa{'' if n_vertices == 200 else '_400'}.csv"
        before = _mtime(table)
        brain_rsa(dataset, stim_dir, model_dir / dataset.name, n_vertices=n_vertices,
                  n_perm=b["n_perm"], n_boot=b["n_boot"], seed=b["seed"], subjects=names,
                  jobs=jobs, progress=progress)
        record("brain_rsa", table.name, "up to date" if before == _mtime(table) else "ran", t0)

    t0 = time.perf_counter()
    e = prof["05_encoding"]
    table = model_dir / dataset.name / "encoding.csv"
    before = _mtime(table)
    encoding_analysis(cnn, dataset, stim_dir, model_dir / dataset.name, solver=e["solver"],
                      n_nonzero=e["n_nonzero"], n_folds=e["n_folds"],
                      n_vertices=e["n_vertices"], n_perm=e["n_perm"], n_boot=e["n_boot"],
                      seed=e["seed"], subjects=names, features_cache=model_dir / "features",
                      jobs=jobs, progress=progress)
    record("encoding", table.name, "up to date" if before == _mtime(table) else "ran", t0)

    code = _advlib_sources_key()
    manifest = [stim_dir / "manifest.csv"]
    sub_files = subject_files(dataset, [p.name for p in sorted(dataset.glob("sub-*"))
                                             if p.is_dir()])
    results_dir = model_dir / dataset.name
    inputs = {   # what each notebook reads: its key changes only when these do
        "01_stimuli": ({}, manifest),
        "02_cnn_rsa": ({"cnn_rsa": stamps.get("cnn_rsa")}, manifest),
        "03_fmri": ({}, manifest + sub_files),
        "04_brain_rsa": ({}, [results_dir / "brain_rsa_provenance.json",
                              results_dir / "brain_rsa_400_provenance.json"]),
        "05_encoding": ({}, [results_dir / "encoding_provenance.json"]),
        "06_explore": ({"cnn_rsa": stamps.get("cnn_rsa")}, manifest + sub_files),
    }
    info_path = out / "build_info.json"
    info = {"profile": profile, "model": model, "data": str(data), "subjects": subs,
            "jobs": jobs, "parameters": prof, "versions": package_versions(),
            "model_provenance": cnn.provenance(), "stages": log,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    write_json(info_path, info)
    notebooks_dir = repo_root() / "notebooks"
    for item in notebook_plan(profile, model, results, str(data), subs):
        t0 = time.perf_counter()
        if item["name"] == "07_summary":
            item["parameters"]["build_info"] = str(info_path)
        target = out / f"{item['output']}.ipynb"
        extra, files = inputs.get(item["name"], ({}, []))
        key = cache_key({"parameters": item["parameters"], "title": item.get("title"),
                         "code": code, **extra},
                        [notebooks_dir / f"{item['name']}.ipynb", *files])
        stage = f"notebook:{item['output']}"
        if stamps.get(stage) == key and target.is_file() and item["name"] != "07_summary":
            record("notebooks", item["output"], "up to date", t0)
            continue
        run_notebook(notebooks_dir / f"{item['name']}.ipynb", target, item["parameters"],
                     progress=progress, title=item.get("title"))
        stamp(stage, key)
        record("notebooks", item["output"], "ran", t0)
    info["stages"] = log
    write_json(info_path, info)

    if book:
        t0 = time.perf_counter()
        root = Path(book_root) if book_root else repo_root()
        cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", "--all", str(root)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        expect(done.returncode == 0, "jupyter-book build", f"exit {done.returncode}",
               f"a built book; its output ends with:\n{(done.stdout + done.stderr)[-3000:]}")
        record("book", str(root / "_build" / "html"), "ran", t0)
        info["stages"] = log
        write_json(info_path, info)
    return pd.DataFrame(log, columns=["stage", "item", "status", "seconds"])
