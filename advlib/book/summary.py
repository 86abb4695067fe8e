"""The book's claims summary and build information, gathered from the results folders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from ..errors import AdvlibError, expect
from ..layout import BUILD_INFO, PAGES_FOLDER

__all__ = ["DatasetPage", "dataset_page", "claims_summary", "summary_numbers", "conclusion",
           "models_claims", "load_build_info", "build_tables", "glue_texts", "table_view"]


def claims_summary(layout, dataset="simulated", alpha: float = 0.05) -> pd.DataFrame:
    """Every chapter's table of the paper's claims, in one table.

    Parameters
    ----------
    layout : advlib.layout.Layout
        The model's (and stimulus set's) result paths.
    dataset : str, path or dict
        The dataset (see :func:`advlib.layout.simulation_spec`).
    alpha : float

    Returns
    -------
    pandas.DataFrame
        ``claim, verdict, figure, evidence, rule, here, paper`` (the verdict beside the
        claim, where a page shows it without scrolling). ``evidence`` says what a
        row rests on: ``"real (CNN on real images)"`` or ``"simulated observer"`` (or the
        dataset's name for real brain data). A stage whose results are missing gives one
        row saying so, with the verdict "no evidence". The claims read the numbers of
        resamples from the tables themselves.
    """
    from ..analysis.brain_analysis import load_brain_results
    from ..analysis.claims import (
        NO_EVIDENCE,
        brain_claims,
        cnn_claims,
        design_claims,
        encoding_claims,
        searchlight_claims,
        stimulus_claims,
    )
    from ..analysis.cnn_analysis import load_cnn_results
    from ..analysis.encoding_study import layer_assignment_tests, load_encoding_results
    from ..analysis.real_adversarial import adversarial_claims, load_hit_adversarial
    from ..analysis.real_rsa import load_hit_results, real_claims
    from ..cnn.stimulus_set import load_design, load_manifest
    from ..fmri.rdm_data import KRIEGESKORTE92
    from ..layout import simulation_spec

    out = layout.dataset_dir(dataset)
    published = "published"      # advlib.layout.analysis_variant("none", False)
    simulated = simulation_spec(dataset) is not None
    brain = "simulated observer" if simulated else f"real data ({Path(str(dataset)).name})"
    real = "real (CNN on real images)"
    sources = [
        ("Fig 1 (stimulus design)", real, lambda: design_claims(load_design(layout.stimuli_dir))),
        ("Fig 1 (stimuli)", real, lambda: stimulus_claims(load_manifest(layout.stimuli_dir))),
        ("Fig 2, Fig 5 (CNN RSA)", real, lambda: cnn_claims(*load_cnn_results(layout.root), alpha)),
        ("Fig 3 (brain RSA, 200 vertices)", brain,
         lambda: brain_claims(load_brain_results(out), alpha)),
        ("Fig 4 (searchlight)", brain,
         lambda: searchlight_claims(load_brain_results(out), alpha)),
        ("Fig S2 (brain RSA, 400 vertices)", brain,
         lambda: brain_claims(load_brain_results(out, 400), alpha)),
        ("Fig 6, Fig S1 (encoding)", brain, lambda: encoding_claims(
            (tables := load_encoding_results(out))[0], layer_assignment_tests(tables[1]), alpha)),
        ("Fig 3 as published (no session correction)", brain,
         lambda: brain_claims(load_brain_results(out, 200, published), alpha)),
        ("Fig 6, Fig S1 as published (no session correction)", brain, lambda: encoding_claims(
            (tables := load_encoding_results(out, variant=published))[0],
            layer_assignment_tests(tables[1]), alpha)),
        ("Real brain data (92 objects)", HIT_EVIDENCE, lambda: real_claims(
            load_hit_results(layout.dataset_dir(KRIEGESKORTE92)), alpha)),
        ("Real brain data (92 objects, AI and AN versions)", HIT_EVIDENCE,
         lambda: adversarial_claims(load_hit_adversarial(layout.dataset_dir(KRIEGESKORTE92)),
                                    alpha)),
    ]
    parts = []
    for figure, evidence, make in sources:
        try:
            part = make()
        except (AdvlibError, FileNotFoundError) as exc:
            part = pd.DataFrame([{"claim": "(results missing)", "paper": "", "rule": "",
                                  "here": str(exc).splitlines()[0], "verdict": NO_EVIDENCE}])
        parts.append(part.assign(figure=figure, evidence=evidence))
    table = pd.concat(parts, ignore_index=True)
    return table[["claim", "verdict", "figure", "evidence", "rule", "here", "paper"]]


def conclusion(claims: pd.DataFrame, simulated: bool, subject: str = "this network"):
    """A chapter's written conclusion from its claims table: what holds, what does not,
    what could not be decided, and what the evidence is (real or simulated).

    Parameters
    ----------
    claims : pandas.DataFrame
        A claims table (:data:`advlib.analysis.claims.CLAIM_COLUMNS`).
    simulated : bool
        The rows rest on the simulated observer (not on a brain).
    subject : str
        What the real rows are about (e.g. "this network and these images").

    Returns
    -------
    IPython.display.Markdown
        The paragraph (``.data`` is its text).
    """
    from IPython.display import Markdown

    expect(len(claims) > 0, "claims", "an empty table", "a claims table")

    def listed(verdict):
        rows = claims[claims.verdict == verdict].claim.tolist()
        return "; ".join(rows) if rows else "none"

    kind = ("**These rows rest on the simulated observer**, not on a brain: they say what the "
            "paper's pipeline and design give on a model of early visual cortex that does not "
            "use the CNN. Do not read a verdict here as confirming or refuting the paper's "
            "human results; read it as what this analysis can show with data like these (the "
            "ground-truth chapter measures its calibration and power)."
            if simulated else
            f"**These rows are real computation** on {subject}. They test the paper's claims "
            "on this network and these images, which by default are not the paper's (see "
            "the first page): a difference from the paper may come from the network or the "
            "images as much as from the claim.")
    text = (f"**Conclusion.** By the rules stated in the table above, {len(claims)} claims: "
            f"**hold**: {listed('holds')}. **Do not hold**: {listed('does not hold')}. "
            f"**Inconclusive** (the test could not decide; its power is in the calibration "
            f"tables of the ground-truth chapter): {listed('inconclusive')}. **No evidence**: "
            f"{listed('no evidence')}.\n\n{kind}")
    return Markdown(text)


#: The evidence of the real-brain chapter's rows (human IT fMRI, not the paper's data).
HIT_EVIDENCE = "real (human IT fMRI, 92 objects)"


def summary_numbers(claims: pd.DataFrame) -> dict[str, str]:
    """The summary page's counts in words, real and simulated evidence apart (``glue``).

    Parameters
    ----------
    claims : pandas.DataFrame
        From :func:`claims_summary`.

    Returns
    -------
    dict of str to str
        ``sum_real``, ``sum_hit`` (the real brain data of the 92-object chapter) and
        ``sum_brain`` ("N claims: a hold, b do not hold, c inconclusive, d no evidence"),
        ``sum_brain_source`` (what the brain rows rest on) and ``sum_real_fails`` (the real
        claims that do not hold, by figure, or "none").
    """
    from ..analysis.claims import VERDICTS

    expect(len(claims) > 0, "claims", "an empty table", "rows from claims_summary")
    real = claims[claims.evidence.str.startswith("real (CNN")]
    hit = claims[claims.evidence == HIT_EVIDENCE]
    brain = claims[~claims.index.isin(real.index) & ~claims.index.isin(hit.index)]

    def counts(part):
        n = part.verdict.value_counts()
        words = ", ".join(f"{int(n.get(v, 0))} {v if v != 'holds' else 'hold'}"
                          for v in VERDICTS)
        return f"{len(part)} claims: {words}"

    fails = real[real.verdict == "does not hold"]
    return {"sum_real": counts(real), "sum_brain": counts(brain), "sum_hit": counts(hit),
            "sum_brain_source": ", ".join(sorted(brain.evidence.unique())) or "none",
            "sum_real_fails": "; ".join(f"{r.claim} ({r.figure})" for r in fails.itertuples())
            or "none"}


def load_build_info(path) -> tuple[dict, pd.DataFrame]:
    """Read ``build_info.json`` written by :func:`advlib.book.pipeline.reproduce`.

    Returns
    -------
    info : dict
        Profile, model, parameters, package versions, model provenance.
    stages : pandas.DataFrame
        ``stage, item, computed, compute_seconds``: when each stage step's results were
        computed and how long that took (from the stage records).
    """
    path = Path(path)
    expect(path.is_file(), "build_info", str(path),
           "build_info.json from `advlib reproduce` (the book's build run)")
    info = json.loads(path.read_text())
    return info, pd.DataFrame(info.get("stages", []),
                              columns=["stage", "item", "computed", "compute_seconds"])


def build_tables(path=None) -> dict:
    """The build page's tables from ``build_info.json``.

    Parameters
    ----------
    path : str or path, optional
        Default: ``book/generated/build_info.json`` of the source checkout (where
        ``make book`` writes it).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``run`` (profile, model, data, subjects, jobs, start, weights), ``stages``,
        ``versions`` and ``parameters``. Without the file (notebooks run outside
        ``advlib reproduce``), ``run`` says so and the others are empty.
    """
    if path is None:
        from .notebooks import repo_root

        path = repo_root() / PAGES_FOLDER / BUILD_INFO
    if not Path(path).is_file():
        return {"run": pd.DataFrame({"value": [f"no build_info.json at {path}: these notebooks "
                                               "were not executed by `advlib reproduce`"]},
                                    index=["note"]),
                "stages": pd.DataFrame(columns=["stage", "item", "computed", "compute_seconds"]),
                "versions": pd.DataFrame(columns=["version"]),
                "parameters": pd.DataFrame()}
    info, stages = load_build_info(path)
    computed = stages.computed.dropna()
    run = pd.DataFrame({"value": [info["profile"], info["model"], info["data"],
                                  info["subjects"], info["jobs"],
                                  f"{computed.min()} to {computed.max()}" if len(computed)
                                  else "unknown",
                                  info["model_provenance"].get("weights_sha256"),
                                  f"{pd.to_numeric(stages.compute_seconds).sum():.0f} s"]},
                       index=["profile", "model", "data", "subjects", "jobs",
                              "results computed", "weights_sha256",
                              "compute time of the results listed"])
    from .notebooks import REGISTRY

    shown = [spec.name for spec in REGISTRY if spec.name in info["parameters"] and (
        not spec.across_models or len(info.get("models", [])) > 1)]   # pages of this book
    params = pd.DataFrame([{"notebook": n, "parameter": k, "value": repr(v)}
                           for n in shown for k, v in info["parameters"][n].items()],
                          columns=["notebook", "parameter", "value"])
    return {"run": run, "stages": stages,
            "versions": pd.Series(info["versions"], name="version").to_frame(),
            "parameters": params.set_index(["notebook", "parameter"])}


class DatasetPage(NamedTuple):
    """What a dataset chapter works on (the shared start of notebooks 03-06).

    Attributes
    ----------
    layout : advlib.layout.Layout
    stim_dir : pathlib.Path
        The model's stimulus set.
    data_dir : pathlib.Path
        The dataset's subject folders (simulated here when missing).
    out_dir : pathlib.Path
        Where the dataset's results go.
    simulated : bool
        Whether the dataset comes from the simulated observer (its ``dataset.json``).
    tag : str
        ``"SIMULATED observer"`` or the real dataset's folder name, for titles.
    """

    layout: object
    stim_dir: Path
    data_dir: Path
    out_dir: Path
    simulated: bool
    tag: str


def dataset_page(results_dir, model: str, dataset) -> DatasetPage:
    """The layout, folders and simulated-or-real tag of a dataset chapter.

    Parameters
    ----------
    results_dir : str or path or None
        Results root (``None``: :func:`advlib.layout.default_results`).
    model : str
    dataset : dict or str or path
        A simulation specification or a real dataset's folder
        (:func:`advlib.fmri.simulation.resolve_dataset`).

    Returns
    -------
    DatasetPage
    """
    from ..fmri.data import load_dataset_info
    from ..fmri.simulation.simulate import resolve_dataset
    from ..layout import Layout

    layout = Layout(results_dir, model)
    data_dir = resolve_dataset(dataset, layout)
    simulated = bool(load_dataset_info(data_dir).get("simulated", False))
    return DatasetPage(layout, layout.stimuli_dir, data_dir, layout.dataset_dir(dataset),
                       simulated, "SIMULATED observer" if simulated else data_dir.name)


def glue_texts(values: dict) -> None:
    """Store each value under its key for the book's prose (myst-nb ``glue``), not shown.

    Values are stored as text, so a page writes ``{glue:text}`key``` (or, from another
    page, ``{glue:text}`path/to/page.ipynb::key:s```) and the numbers the prose states
    are the ones the notebook computed.

    Parameters
    ----------
    values : dict of str to object
        Glue key -> value (shown as its text).
    """
    from myst_nb import glue

    for key, value in values.items():
        expect(isinstance(key, str) and key.isidentifier(), "glue key", key,
               "a name of letters, digits and underscores")
        glue(key, str(value), display=False)


def table_view(table: pd.DataFrame, columns, name: str, digits: int = 3):
    """A wide results table as a page shows it: the chosen columns, rounded, and the whole
    table one click away (a link that downloads it as CSV, held in the page itself, so it
    works offline and in a downloaded notebook).

    Parameters
    ----------
    table : pandas.DataFrame, shape (n_rows, n_columns)
    columns : sequence of str
        The columns shown, in this order.
    name : str
        File name of the download (``brain_rsa.csv``).
    digits : int
        Decimals shown (the CSV keeps every digit).

    Returns
    -------
    IPython.display.HTML
    """
    import base64
    import html

    from IPython.display import HTML

    columns = list(columns)
    missing = [c for c in columns if c not in table.columns]
    expect(not missing, "columns", missing, f"columns of the table ({', '.join(table.columns)})")
    expect(isinstance(name, str) and name.endswith(".csv") and "/" not in name, "name", name,
           "a file name ending in .csv")
    data = base64.b64encode(table.to_csv(index=False).encode()).decode()
    shown = table[columns].round(digits).to_html(index=False, border=0, classes="dataframe")
    link = (f'<p><a download="{html.escape(name)}" href="data:text/csv;base64,{data}">'
            f"The whole table: {html.escape(name)} ({len(table)} rows x {table.shape[1]} "
            "columns, CSV)</a></p>")
    return HTML(shown + link)


def models_claims(results, models, dataset, alpha: float = 0.05) -> pd.DataFrame:
    """The paper's claims for several networks, side by side.

    Parameters
    ----------
    results : str or path or None
        Results root (``None``: :func:`advlib.layout.default_results`).
    models : list of str
        Networks whose results are under ``results``.
    dataset : str, path or dict
        As for :func:`claims_summary`.
    alpha : float

    Returns
    -------
    pandas.DataFrame
        One row per claim: ``claim``, each network's ``<model>: verdict``, ``figure``,
        each network's ``<model>: here``, ``paper`` (the verdicts beside the claim).
    """
    from ..layout import Layout

    expect(len(models) > 0, "models", models, "at least one network")
    parts = []
    for name in models:
        table = claims_summary(Layout(results, name), dataset, alpha=alpha)
        table = table.assign(row=table.groupby(["figure", "claim"]).cumcount())
        parts.append(table.set_index(["figure", "claim", "paper", "row"])[["here", "verdict"]]
                     .add_prefix(f"{name}: "))
    wide = pd.concat(parts, axis=1).reset_index().drop(columns="row")
    return wide[["claim", *[f"{m}: verdict" for m in models], "figure",
                 *[f"{m}: here" for m in models], "paper"]]
