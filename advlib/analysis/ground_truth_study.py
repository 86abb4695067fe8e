"""The ground truth as a simulation study: many simulated datasets per SNR x design.

Each **seed** is one simulated dataset of the paper's 3 subjects, drawn on the cheap path
(:func:`advlib.fmri.simulation.simulate_betas`: betas straight from the observer's
generative model; each subject's cortex, pRFs and responses are computed once and shared by
every seed). A seed is analysed twice:

- ``observer``: the observer's own responses to the AN and AI images; the truth is the
  same analysis applied to the noise-free amplitudes on the same vertices;
- ``planted_null``: the same subject, but each AN image responds as the RE image of a random
  source of its session (:func:`advlib.fmri.simulation.null_responses`), an **exact null**
  for RE-AN: the share of "RE-AN significant" is a Type I error rate.

Each analysis variant (the paper's pipeline as published; the default: betas centred
within session, permutations within session, partial similarities) selects its own
vertices and runs the book's ROI tests (:func:`advlib.analysis.brain_analysis.roi_rsa`): the
permutation tests with ``n_perm`` permutations and the RE-AI vs RE-AN swap test with
``n_swap`` swap sets, stopped as soon as p > 0.0001 is certain (the decision at the
paper's criterion is that of the full test). Every rate comes with its Monte Carlo
standard error over seeds (the 15 ROIs of a seed are not independent: the SE is that of
the mean of per-seed rates).

Seeds are cached stages (one CSV per SNR x design x seed) and run in parallel.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..cnn.stimulus_set import load_manifest, stimulus_files, usable_sources
from ..errors import check_nonnegative_seed, check_positive_int, expect
from ..fmri.data import ROIS
from ..fmri.normalize import normalize_subject
from ..fmri.searchlight import (
    geodesic_disks,
    reliability_map,
    select_vertices,
    split_half_reliabilities,
)
from ..fmri.simulation import (
    BETA_NOISE,
    DESIGNS,
    null_responses,
    observer_subject,
    session_plan,
    simulate_betas,
    stimulus_energy,
)
from ..layout import MANIFEST, seed_record, seed_table, simulation_spec
from ..provenance import Stage, file_sha256
from .brain_analysis import (
    MIN_ROI_VERTICES,
    kind_patterns,
    kind_rows,
    partial_similarities,
    roi_rsa,
    source_sessions,
    swappable_sources,
)
from .claims import VERDICTS, brain_claims
from .ground_truth import truth_similarities

__all__ = ["STUDY_VARIANTS", "STUDY_COLUMNS", "SNR_RULE", "observer_models", "study_seed",
           "observer_study", "study_tasks", "study_tests", "path_check", "study_summary",
           "snr_rule", "study_claims", "study_reliability", "study_numbers"]

#: Analysis variants of the study, ``(normalize, within_session)``: as published, default.
STUDY_VARIANTS = (("none", False), ("center", True))
STUDY_COLUMNS = ["design", "snr", "seed", "subject", "data", "roi", "normalize", "permutation",
                 "n_vertices", "split_half", "truth_re_an", "truth_re_ai", "re_an", "re_ai",
                 "p_perm_re_an", "p_perm_re_ai", "p_diff", "null_mean_re_an", "null_sd_re_an",
                 "null_mean_re_ai", "null_sd_re_ai", "n_perm", "n_swap"]
#: The paper's reported sensitivity, the bar the default SNR must reach: RE-AI above the
#: permutation null with p < 0.005 in at least 14 of its 15 subject x ROI tests (Fig 3),
#: in expectation over seeds, with the default analysis on the paper's design.
SNR_RULE = {"p": 0.005, "at_least": 14, "of": 15}


def observer_models(stim_dir, subjects=(1, 2, 3), seed: int = 0, spacing: float = 1.0,
                    variation: float = 0.1, radius: float = 3.0,
                    surface: str = "schematic", energy_cache=None) -> dict:
    """Each simulated subject's cortex, neural responses and searchlight disks.

    The same anatomy and responses as the full path's subjects of this dataset seed
    (:func:`advlib.fmri.simulation.simulate_subject`); ``surface``: the observer's cortex
    (:func:`advlib.fmri.simulation.make_cortex`); ``energy_cache``: the stimulus set's
    feature cache, where :func:`advlib.fmri.simulation.stimulus_energy` reads (or leaves)
    the images' energy and :func:`advlib.fmri.simulation.observer_subject` each subject's
    responses (the subjects stage of the same dataset seed leaves them there).

    Returns
    -------
    dict of int to tuple
        ``subject -> (cortex, responses, disks)``; ``responses`` has shape
        ``(n_images, n_vertices)``, ``disks`` ``(n_vertices, n_vertices)``.
    """
    energy = stimulus_energy(stim_dir, energy_cache)
    out = {}
    for subject in subjects:
        cortex, responses = observer_subject(stim_dir, energy, seed, subject, spacing=spacing,
                                             variation=variation, surface=surface,
                                             cache_dir=energy_cache)
        disks = geodesic_disks(cortex.vertices[["x_mm", "y_mm"]].to_numpy(), cortex.faces,
                               radius)
        out[int(subject)] = (cortex, responses, disks)
    return out


def _selection(sub, disks, n_per_hemi: int, cache: dict):
    """The paper's vertex selection and the split-half reliability of each ROI's selection.

    The same selection as :func:`advlib.fmri.select_subject`, computing only what the study
    reads: the reliability map at the ROIs' vertices (the only ones a selection can take;
    each vertex's value depends on its own disk alone) and the selected vertices'
    split-half reliability. Only the RE betas enter, so ``cache`` (keyed by their bytes)
    hands the same result to the planted null under a variant that leaves those betas as
    they are.
    """
    re = (sub.conditions.kind == "RE").to_numpy()
    key = hashlib.sha1(np.ascontiguousarray(sub.betas.to_numpy()[re]).tobytes()).hexdigest()
    if key not in cache:
        inside = sub.vertices.roi.isin(ROIS).to_numpy()
        rel = np.full(inside.size, np.nan)
        rel[inside] = reliability_map(sub.betas, sub.conditions, disks[inside], kind="RE")
        selection = select_vertices(sub.vertices, rel, n_per_hemi)
        parts = [(roi, part.vertex.to_numpy())
                 for roi, part in selection.groupby("roi", sort=False) if len(part) >= 4]
        r = split_half_reliabilities(sub.betas, sub.conditions, [cols for _, cols in parts])
        split = dict(zip([roi for roi, _ in parts], r))
        cache[key] = (selection, split)
    return cache[key]


def _design(sub, manifest, sources, cache: dict) -> tuple:
    """The sources' sessions, which may swap, and each kind's rows: what the design fixes.

    The observer's data and the planted null of a seed share the session plan and so the
    conditions table; ``cache`` (keyed by its conditions and sessions) hands the second
    the first's lookups.
    """
    key = ("design", tuple(sub.conditions.condition), tuple(sub.conditions.session))
    if key not in cache:
        cache[key] = (source_sessions(sub, manifest, sources),
                      swappable_sources(sub, manifest, sources),
                      kind_rows(sub, manifest, sources))   # the truth has the same conditions
    return cache[key]


def _analyse(sub, truth, manifest, sources, disks, variants, n_vertices, n_perm, n_swap,
             ss, cache) -> list[dict]:
    """Every variant's ROI tests on one simulated subject, beside the truth."""
    sessions, swappable, rows_of = _design(sub, manifest, sources, cache)
    rows = []
    for (normalize, within), vs in zip(variants, ss.spawn(len(variants))):
        s = normalize_subject(sub, normalize)
        t = normalize_subject(truth, normalize)
        patterns = kind_patterns(s, manifest, sources, rows=rows_of)
        true_patterns = kind_patterns(t, manifest, sources, rows=rows_of)
        selection, split = _selection(s, disks, n_vertices // 2, cache)
        partial = partial_similarities(normalize, within)
        chosen, chosen_roi = selection.vertex.to_numpy(), selection.roi.to_numpy()
        for roi, rs in zip(ROIS, vs.spawn(len(ROIS))):
            cols = chosen[chosen_roi == roi]
            if cols.size < MIN_ROI_VERTICES:                   # as the book excludes it
                continue
            # sessions only where the blocks do not give them (the diagnostics they add
            # to the row are not the study's)
            est = roi_rsa(s, patterns, cols, roi, n_perm=n_perm, n_boot=0, n_swap=n_swap,
                          seed=rs, blocks=sessions if within else None, partial=partial,
                          sessions=sessions if partial and not within else None,
                          stop_above=1e-4, swappable=swappable if within else None)
            t_an, t_ai = truth_similarities(true_patterns, cols, sessions if partial else None)
            rows.append({"roi": roi, "normalize": normalize,
                         "permutation": "within session" if within else "across sessions",
                         "n_vertices": int(cols.size), "split_half": float(split.get(roi, np.nan)),
                         "truth_re_an": t_an, "truth_re_ai": t_ai,
                         **{k: est[k] for k in STUDY_COLUMNS if k in est and k != "n_vertices"}})
    return rows


def study_seed(models: dict, manifest: pd.DataFrame, *, snr: float, design: str, seed: int,
               study_seed_: int = 0, variants=STUDY_VARIANTS, n_vertices: int = 200,
               n_perm: int = 1000, n_swap: int = 10000, only_converged: bool = True,
               noise: dict | None = None) -> pd.DataFrame:
    """One simulated dataset of the study, analysed on the observer's data and the null.

    Parameters
    ----------
    models : dict
        From :func:`observer_models`.
    manifest : pandas.DataFrame
        The stimulus manifest.
    snr : float
    design : {"paper", "interleaved"}
    seed : int
        Which dataset (0, 1, ...): its session plans and noise, the same at every SNR and
        for both designs' noise (common random numbers).
    study_seed_ : int
        The study's seed.
    variants : sequence of (str, bool)
    n_vertices, n_perm, n_swap : int
    only_converged : bool
    noise : dict, optional
        The betas' noise (:func:`advlib.fmri.simulation.dataset_noise`; default
        :data:`advlib.fmri.simulation.BETA_NOISE`).

    Returns
    -------
    pandas.DataFrame
        :data:`STUDY_COLUMNS`: per subject x data (``observer``, ``planted_null``) x variant
        x ROI.
    """
    expect(design in DESIGNS, "design", design, f"one of {', '.join(DESIGNS)}")
    sources = usable_sources(manifest, only_converged)
    rows = []
    for subject, (cortex, responses, disks) in models.items():
        ss = np.random.SeedSequence([study_seed_, seed, subject])
        r_plan, r_null, r_betas, r_tests = ss.spawn(4)
        plan = session_plan(manifest, seed=np.random.default_rng(r_plan), design=design)
        cache = {}
        for data, ds in zip(("observer", "planted_null"), r_tests.spawn(2)):
            resp = responses if data == "observer" else null_responses(
                responses, manifest, plan, np.random.default_rng(r_null),
                scope="session" if design == "paper" else "all")
            sub, true = simulate_betas(resp, manifest, plan, cortex, snr=snr,
                                       seed=np.random.default_rng(r_betas),
                                       name=f"sub-{subject:02d}", noise=noise)
            truth = dataclasses.replace(sub, betas=true)
            for row in _analyse(sub, truth, manifest, sources, disks, variants, n_vertices,
                                n_perm, n_swap if data == "observer" else 0, ds, cache):
                rows.append({"design": design, "snr": float(snr), "seed": int(seed),
                             "subject": sub.name, "data": data, **row})
    return pd.DataFrame(rows, columns=STUDY_COLUMNS)


@functools.lru_cache(maxsize=2)
def _models_cached(stim_dir: str, manifest_sha256: str, subjects: tuple, seed: int,
                   spacing: float, variation: float, radius: float, surface: str,
                   energy_cache: str | None) -> dict:
    """:func:`observer_models`, once per process for a stimulus set's contents (its
    manifest lists every image's checksum): a set rebuilt at the same path is not served
    the models of the old one."""
    return observer_models(stim_dir, subjects, seed, spacing, variation, radius, surface,
                           energy_cache)


def _seed_stage(folder: Path, stim_dir, params: dict, seed: int, inputs=None) -> Stage:
    """``inputs``: :func:`advlib.cnn.stimulus_files` of ``stim_dir`` where the caller has them
    (one manifest read for all the seeds of a study)."""
    return Stage("observer_study", folder, [seed_table(seed)], {**params, "seed": seed},
                 inputs=stimulus_files(stim_dir) if inputs is None else inputs,
                 code=["advlib.analysis.ground_truth_study"], record=seed_record(seed))


def _run_seed(folder, stim_dir, params, seed, inputs=None, energy_cache=None) -> Path:
    stage = _seed_stage(folder, stim_dir, params, seed, inputs)
    if stage.up_to_date():
        return folder / seed_table(seed)
    p = params
    models = _models_cached(str(stim_dir), file_sha256(Path(stim_dir) / MANIFEST),
                            tuple(p["dataset"]["subjects"]),
                            p["dataset"]["seed"], p["dataset"]["spacing"], p["variation"],
                            p["radius"], p["dataset"].get("surface", "schematic"),
                            None if energy_cache is None else str(energy_cache))
    manifest = load_manifest(stim_dir)

    def work(tmp):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            table = study_seed(models, manifest, snr=p["snr"], design=p["design"], seed=seed,
                               study_seed_=p["study_seed"],
                               variants=[tuple(v) for v in p["variants"]],
                               n_vertices=p["n_vertices"], n_perm=p["n_perm"],
                               n_swap=p["n_swap"], noise=p["noise"])
        table.to_csv(tmp / seed_table(seed), index=False)

    stage.run(work)
    return folder / seed_table(seed)


def observer_study(layout, base: dict, snrs=(0.4, 0.8, 1.6, 3.2),
                   designs=("paper", "interleaved"), n_seeds: int = 20, *,
                   variants=STUDY_VARIANTS, n_vertices: int = 200, n_perm: int = 1000,
                   n_swap: int = 10000, seed: int = 0, noise: dict | None = None,
                   jobs: int = 1, progress: bool = True) -> pd.DataFrame:
    """The ground-truth study: ``n_seeds`` simulated datasets per SNR x design.

    Parameters
    ----------
    layout : advlib.layout.Layout
        The stimulus set (what the observer views) and where the study goes
        (:meth:`advlib.layout.Layout.study_dir`); the observer's energy of the images is
        read from its feature cache (:func:`advlib.fmri.simulation.stimulus_energy`).
    base : dict
        The simulated-dataset specification (subjects, seed, spacing; see
        :func:`advlib.layout.simulation_spec`): whose subjects the study redraws.
    snrs : sequence of float
    designs : sequence of {"paper", "interleaved"}
    n_seeds : int
        Datasets per SNR x design (20 or more for rates with SEs near 2 points).
    variants : sequence of (str, bool)
    n_vertices, n_perm, n_swap : int
        As in :func:`advlib.analysis.brain_rsa`.
    seed : int
        The study's seed.
    noise : dict, optional
        The betas' noise, measured on the book's full-path subjects
        (:func:`advlib.fmri.simulation.dataset_noise`; default
        :data:`advlib.fmri.simulation.BETA_NOISE`).
    jobs : int
        Seeds run in parallel (processes).
    progress : bool

    Returns
    -------
    pandas.DataFrame
        :data:`STUDY_COLUMNS`, every seed of every SNR x design.
    """
    from joblib import delayed

    from ..pool import worker_pool

    check_positive_int(jobs, "jobs")
    stim = layout.stimuli_dir
    tasks = study_tasks(layout, base, snrs, designs, n_seeds, variants=variants,
                        n_vertices=n_vertices, n_perm=n_perm, n_swap=n_swap, seed=seed,
                        noise=noise)
    files = stimulus_files(stim)
    todo = [t for t in tasks if not _seed_stage(t[0], stim, t[1], t[2], files).up_to_date()]
    if todo:
        work = worker_pool(jobs, return_as="generator")(
            delayed(_run_seed)(folder, stim, params, k, files, layout.features_dir)
            for folder, params, k in todo)
        list(tqdm(work, total=len(todo), desc="ground-truth study", disable=not progress))
    return pd.concat([pd.read_csv(f / seed_table(k)) for f, _, k in tasks],
                     ignore_index=True)


def study_tasks(layout, base: dict, snrs, designs, n_seeds: int, *, variants=STUDY_VARIANTS,
                n_vertices: int = 200, n_perm: int = 1000, n_swap: int = 10000,
                seed: int = 0, noise: dict | None = None) -> list[tuple]:
    """The seeds of a study: where each goes and its parameters (see :func:`observer_study`).

    The folder is named by the study's parameters and the base dataset's specification
    (which fixes the noise measured on it); the noise enters each seed's cache key.

    Returns
    -------
    list of (pathlib.Path, dict, int)
        ``(folder, parameters, seed)``: the seed's CSV is ``folder / "seed-XXX.csv"``, its
        record ``folder / "seed-XXX_provenance.json"``; ``folder`` is
        ``<layout.study_dir(...)>/<design>/snr-<snr>``.
    """
    check_positive_int(n_seeds, "n_seeds")
    check_nonnegative_seed(seed)
    for d in designs:
        expect(d in DESIGNS, "designs", d, f"names from {', '.join(DESIGNS)}")
    for s in snrs:
        expect(isinstance(s, (int, float)) and not isinstance(s, bool) and np.isfinite(s)
               and s > 0, "snrs", s, "finite numbers > 0")
    spec = simulation_spec(base)
    common = {"dataset": spec, "variation": 0.1, "radius": 3.0,
              "variants": [list(v) for v in variants], "n_vertices": int(n_vertices),
              "n_perm": int(n_perm), "n_swap": int(n_swap), "study_seed": int(seed)}
    root = layout.study_dir(common)
    noise = {**BETA_NOISE, **(noise or {})}
    return [(root / d / f"snr-{s:g}", {**common, "noise": noise, "snr": float(s), "design": d}, k)
            for d in designs for s in snrs for k in range(n_seeds)]


def _rate(flags: pd.Series, seeds: pd.Series) -> tuple[float, float]:
    """Mean of 0/1 ``flags`` and its Monte Carlo SE over seeds (clustered)."""
    per = flags.astype(float).groupby(seeds.to_numpy()).mean()
    se = per.std(ddof=1) / np.sqrt(len(per)) if len(per) > 1 else np.nan
    return float(per.mean()), float(se)


def study_summary(table: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Bias, Type I error and power per design x SNR x variant, with Monte Carlo SEs.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`observer_study`.
    alpha : float
        Level of the RE-AN test.

    Returns
    -------
    pandas.DataFrame
        ``design, snr, normalize, permutation, n_seeds, n_rois`` (ROI tests per seed) and,
        each with ``_se``: ``bias_re_an``, ``bias_re_ai`` (observer data: estimate -
        truth), ``type1_re_an`` (planted null: share with RE-AN p < alpha),
        ``fp_re_an`` (observer data, whose RE-AN truth is near zero but not zero),
        ``power_re_ai`` (RE-AI p < 0.005), ``power_diff`` (RE-AI > RE-AN, swap p <=
        0.0001), ``expected_re_ai`` (expected ROIs of 15 with RE-AI p < 0.005),
        ``datasets_re_ai`` (share of datasets with RE-AI p < 0.005 in at least 14/15 of
        their ROI tests: the rule read per dataset) and ``split_half`` (mean split-half RDM
        reliability of the selected vertices). An SE of 0 means every seed agreed.
    """
    expect(len(table) > 0, "table", "an empty table", "rows from observer_study")
    keys = ["design", "snr", "normalize", "permutation"]
    rows = []
    for key, part in table.groupby(keys, sort=True):
        obs, null = part[part.data == "observer"], part[part.data == "planted_null"]
        n_rois = obs.groupby("seed").size().mean()
        row = dict(zip(keys, key), n_seeds=int(part.seed.nunique()), n_rois=float(n_rois))
        for name, frame, values in [
                ("bias_re_an", obs, obs.re_an - obs.truth_re_an),
                ("bias_re_ai", obs, obs.re_ai - obs.truth_re_ai),
                ("type1_re_an", null, null.p_perm_re_an < alpha),
                ("fp_re_an", obs, obs.p_perm_re_an < alpha),
                ("power_re_ai", obs, obs.p_perm_re_ai < SNR_RULE["p"]),
                ("power_diff", obs, (obs.re_ai > obs.re_an) & (obs.p_diff <= 1e-4)),
                ("split_half", obs, obs.split_half)]:
            row[name], row[f"{name}_se"] = _rate(values, frame.seed)
        row["expected_re_ai"] = row["power_re_ai"] * SNR_RULE["of"]
        row["expected_re_ai_se"] = row["power_re_ai_se"] * SNR_RULE["of"]
        hits = (obs.p_perm_re_ai < SNR_RULE["p"]).groupby(obs.seed.to_numpy())
        reach = (hits.sum() >= np.ceil(SNR_RULE["at_least"] / SNR_RULE["of"] * hits.size()
                                       - 1e-9)).astype(float)
        row["datasets_re_ai"] = float(reach.mean())
        row["datasets_re_ai_se"] = (float(reach.std(ddof=1) / np.sqrt(len(reach)))
                                    if len(reach) > 1 else np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def snr_rule(summary: pd.DataFrame, design: str = "paper", normalize: str = "center",
             permutation: str = "within session") -> float:
    """The smallest SNR of the grid at which the analysis reaches the paper's sensitivity.

    :data:`SNR_RULE`: RE-AI p < 0.005 in at least 14 of 15 ROI tests in expectation over
    seeds (``power_re_ai >= 14 / 15``), with the default analysis on the paper's design.

    Returns
    -------
    float
        The SNR, or NaN when no SNR of the grid reaches it.
    """
    part = summary[(summary.design == design) & (summary.normalize == normalize)
                   & (summary.permutation == permutation)].sort_values("snr")
    expect(len(part) > 0, "summary", f"no rows for {design}, {normalize}, {permutation}",
           "rows from study_summary")
    ok = part[part.power_re_ai >= SNR_RULE["at_least"] / SNR_RULE["of"] - 1e-12]
    return float(ok.snr.iloc[0]) if len(ok) else float("nan")


def study_claims(table: pd.DataFrame) -> pd.DataFrame:
    """Each brain claim's verdict on every seed, counted per design x SNR x variant.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`observer_study` (the observer data are judged).

    Returns
    -------
    pandas.DataFrame
        ``design, snr, normalize, permutation, claim`` and one column per verdict
        (:data:`advlib.analysis.claims.VERDICTS`): the share of seeds with it, and
        ``n_seeds``.
    """
    obs = table[table.data == "observer"]
    rows = []
    keys = ["design", "snr", "normalize", "permutation"]
    for key, part in obs.groupby(keys, sort=True):
        verdicts = [brain_claims(seed_rows) for _, seed_rows in part.groupby("seed")]
        for i, claim in enumerate(verdicts[0].claim):
            got = pd.Series([v.verdict.iloc[i] for v in verdicts])
            rows.append({**dict(zip(keys, key)), "claim": claim,
                         **{v: float((got == v).mean()) for v in VERDICTS},
                         "n_seeds": len(verdicts)})
    return pd.DataFrame(rows)


def study_reliability(table: pd.DataFrame, snr: float, design: str = "paper") -> pd.DataFrame:
    """Split-half RDM reliability per ROI that an SNR implies (default analysis).

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`observer_study`.
    snr : float
        The grid's nearest SNR is used (NaN: the highest).
    design : str

    Returns
    -------
    pandas.DataFrame
        ``snr, roi, split_half, split_half_se`` (mean over seeds x subjects, SE over seeds).
    """
    snr = _nearest_snr(table, float(table.snr.max()) if not np.isfinite(snr) else snr)
    part = table[(table.design == design) & np.isclose(table.snr, snr)
                 & (table.data == "observer") & (table.normalize == "center")]
    expect(len(part) > 0, "design", design, f"a design of the study ({sorted(table.design.unique())})")
    rows = []
    for roi in ROIS:
        r = part[part.roi == roi]
        if len(r):
            mean, se = _rate(r.split_half, r.seed)
            rows.append({"snr": snr, "roi": roi, "split_half": mean, "split_half_se": se})
    return pd.DataFrame(rows)


def _nearest_snr(frame: pd.DataFrame, snr: float) -> float:
    """The SNR of the study's grid nearest to ``snr`` (on a log scale)."""
    grid = np.array(sorted(frame.snr.unique()), dtype=float)
    expect(len(grid) > 0, "summary", "an empty table", "rows from study_summary")
    expect(np.isfinite(snr) and snr > 0, "snr", snr, "a finite number > 0")
    return float(grid[np.argmin(np.abs(np.log(grid) - np.log(snr)))])


def _level_text(rate: float, se: float, alpha: float) -> str:
    """Whether a Type I error rate exceeds its level by more than 2 Monte Carlo SEs (a
    valid test rejects at most at its level)."""
    if rate - 2 * se > alpha:
        return "rejects above its level"
    return "keeps its level"


def study_numbers(summary: pd.DataFrame, default_snr: float, table: pd.DataFrame | None = None,
                  alpha: float = 0.05) -> dict[str, str]:
    """The study's findings as short texts for the prose (myst-nb ``glue``).

    Parameters
    ----------
    summary : pandas.DataFrame
        From :func:`study_summary`.
    default_snr : float
        The SNR of the book's simulated dataset.
    table : pandas.DataFrame, optional
        From :func:`observer_study`: adds the split-half reliabilities.
    alpha : float
        The RE-AN test's level.

    Returns
    -------
    dict of str to str
        ``st_seeds``, ``st_snrs``, ``st_rule_snr`` (the rule's choice, or "none of the
        grid"), ``st_default_snr``, ``st_rule_met`` ("yes"/"no": the default is the rule's
        choice), ``st_rule_power`` (the share of RE-AI p < 0.005 at each SNR),
        ``st_rule_note`` (SNRs whose share is within 2 SEs of the bar),
        ``st_rule_datasets`` (the share of datasets reaching 14/15 themselves),
        ``st_split_half`` (per ROI at the rule's SNR, or the highest, with ``table``), ``st_study_snr`` (the
        grid's SNR nearest the default) and at it on the paper's design, for ``v`` in
        ``published``, ``default``:
        ``st_type1_<v>``, ``st_level_<v>`` (keeps its level or not, within 2 SEs),
        ``st_bias_<v>``, ``st_power_ai_<v>``, ``st_power_diff_<v>`` (each "value ± SE"),
        ``st_type1_published_interleaved``, and with ``table`` ``st_truth_re_an`` (the
        noise-free RE-AN per ROI, default analysis, mean over seeds and subjects).
    """
    expect(len(summary) > 0, "summary", "an empty table", "rows from study_summary")
    rule = snr_rule(summary)
    pct = lambda m, s: f"{100 * m:.1f}% ± {100 * s:.1f}"       # noqa: E731
    out = {"st_seeds": f"{int(summary.n_seeds.min())}",
           "st_snrs": ", ".join(f"{s:g}" for s in sorted(summary.snr.unique())),
           "st_rule_snr": "none of the grid" if np.isnan(rule) else f"{rule:g}",
           "st_default_snr": f"{default_snr:g}",
           "st_rule_met": "yes" if rule == default_snr else "no"}
    default = summary[(summary.design == "paper") & (summary.normalize == "center")
                      & (summary.permutation == "within session")].sort_values("snr")
    power = [f"{pct(r.power_re_ai, r.power_re_ai_se)} at SNR {r.snr:g}"
             for r in default.itertuples()]
    out["st_rule_power"] = "; ".join(power)
    bar = SNR_RULE["at_least"] / SNR_RULE["of"]
    close = [r for r in default.itertuples()
             if abs(r.power_re_ai - bar) < 2 * max(r.power_re_ai_se, 1e-12)]
    out["st_rule_note"] = ("; ".join(
        f"at SNR {r.snr:g} the share ({pct(r.power_re_ai, r.power_re_ai_se)}) is within 2 "
        f"Monte Carlo SEs of the bar ({100 * bar:.1f}%), so the choice there rests on the "
        "seeds drawn" for r in close) or "no SNR of the grid is within 2 Monte Carlo SEs of "
        "the bar")
    out["st_rule_datasets"] = "; ".join(
        f"{100 * r.datasets_re_ai:.0f}% at SNR {r.snr:g}" for r in default.itertuples()
        if "datasets_re_ai" in default.columns)
    if table is not None:
        rel = study_reliability(table, rule)               # no rule: the highest SNR
        out["st_split_half"] = ", ".join(f"{r.roi} {r.split_half:.2f}" for r in rel.itertuples())
    names = {("none", "across sessions"): "published", ("center", "within session"): "default"}
    at = _nearest_snr(summary, default_snr)
    out["st_study_snr"] = f"{at:g}"
    for row in summary[np.isclose(summary.snr, at)].itertuples():
        name = names.get((row.normalize, row.permutation))
        if name is None:
            continue
        if row.design == "interleaved":
            if name == "published":
                out["st_type1_published_interleaved"] = pct(row.type1_re_an, row.type1_re_an_se)
            continue
        out[f"st_type1_{name}"] = pct(row.type1_re_an, row.type1_re_an_se)
        if table is not None and name == "default":
            truth = table[(table.design == "paper") & np.isclose(table.snr, at)
                          & (table.data == "observer") & (table.normalize == row.normalize)]
            per = truth.groupby("roi", sort=False).truth_re_an.mean()
            out["st_truth_re_an"] = ", ".join(f"{r} {v:+.2f}" for r, v in per.items())
        out[f"st_level_{name}"] = _level_text(row.type1_re_an, row.type1_re_an_se, alpha)
        out[f"st_bias_{name}"] = f"{row.bias_re_an:+.3f} ± {row.bias_re_an_se:.3f}"
        out[f"st_power_ai_{name}"] = pct(row.power_re_ai, row.power_re_ai_se)
        out[f"st_power_diff_{name}"] = pct(row.power_diff, row.power_diff_se)
    return out


def study_tests(summary: pd.DataFrame, snr: float, design: str = "paper") -> pd.DataFrame:
    """The brain tests' calibration on the simulated observer at one SNR.

    Parameters
    ----------
    summary : pandas.DataFrame
        From :func:`study_summary`.
    snr : float
        The SNR (the book's default); the grid's nearest SNR is used.
    design : str

    Returns
    -------
    pandas.DataFrame
        ``snr, test, analysis, null, false_positive_rate, false_positive_se, effect, power,
        power_se`` (rates as fractions; NaN where the study has no such null).
    """
    snr = _nearest_snr(summary, snr)
    at = summary[(summary.design == design) & np.isclose(summary.snr, snr)]
    expect(len(at) > 0, "design", design, f"a design of the study ({sorted(summary.design.unique())})")
    names = {("none", "across sessions"): "as published", ("center", "within session"):
             "default (centred, within session, partial)"}
    rows = []
    for r in at.itertuples():
        analysis = names.get((r.normalize, r.permutation), f"{r.normalize}, {r.permutation}")
        rows.append({"snr": snr, "test": "RE-AN / RE-AI permutation test", "analysis": analysis,
                     "null": "planted: AN = RE of other images of the session",
                     "false_positive_rate": r.type1_re_an, "false_positive_se": r.type1_re_an_se,
                     "effect": "the observer's AI images: RE-AI p < 0.005",
                     "power": r.power_re_ai, "power_se": r.power_re_ai_se})
        rows.append({"snr": snr, "test": "RE-AI vs RE-AN swap test", "analysis": analysis,
                     "null": "(calibration families re_ai_vs_re_an*)",
                     "false_positive_rate": np.nan, "false_positive_se": np.nan,
                     "effect": "the observer's AN and AI images: p <= 0.0001",
                     "power": r.power_diff, "power_se": r.power_diff_se})
    return pd.DataFrame(rows)


def path_check(full: pd.DataFrame, table: pd.DataFrame, snr: float,
               design: str = "paper") -> pd.DataFrame:
    """One full-path dataset (time series and GLM) beside the cheap path's seeds.

    Parameters
    ----------
    full : pandas.DataFrame
        :func:`advlib.analysis.ground_truth_rsa` on a simulated dataset of this SNR and
        design (the book's own).
    table : pandas.DataFrame
        From :func:`observer_study`.
    snr : float
    design : str

    Returns
    -------
    pandas.DataFrame
        Per variant and statistic (``RE-AI p < 0.005``, ``RE-AN p < 0.05``, ``RE-AI >
        RE-AN``, ``RE-AN bias``, ``RE-AI bias``): ``full_path`` (its value over the
        dataset's ROI tests), ``cheap_mean``, ``cheap_se``, ``cheap_low``, ``cheap_high``
        (2.5 and 97.5 percentiles of the per-seed values) and ``inside`` (the full path's
        value within that range).
    """
    cheap = table[(table.design == design) & np.isclose(table.snr, snr)
                  & (table.data == "observer")]
    expect(len(cheap) > 0, "snr", snr, f"an SNR of the study ({sorted(table.snr.unique())})")
    stats_ = {"RE-AI p < 0.005": lambda t: t.p_perm_re_ai < SNR_RULE["p"],
              "RE-AN p < 0.05": lambda t: t.p_perm_re_an < 0.05,
              "RE-AI > RE-AN": lambda t: (t.re_ai > t.re_an) & (t.p_diff <= 1e-4),
              "RE-AN bias": lambda t: t.re_an - t.truth_re_an,
              "RE-AI bias": lambda t: t.re_ai - t.truth_re_ai}
    rows = []
    for (norm, perm), part in cheap.groupby(["normalize", "permutation"], sort=False):
        f = full[(full.normalize == norm) & (full.permutation == perm)]
        if not len(f):
            continue
        for name, stat in stats_.items():
            per = stat(part).astype(float).groupby(part.seed.to_numpy()).mean()
            value = float(stat(f).astype(float).mean())
            low, high = np.quantile(per, [0.025, 0.975])
            rows.append({"normalize": norm, "permutation": perm, "statistic": name,
                         "full_path": value, "cheap_mean": float(per.mean()),
                         "cheap_se": float(per.std(ddof=1) / np.sqrt(len(per))),
                         "cheap_low": float(low), "cheap_high": float(high),
                         "inside": bool(low - 1e-12 <= value <= high + 1e-12)})
    return pd.DataFrame(rows)
