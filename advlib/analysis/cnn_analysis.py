"""CNN representational similarity (paper Fig 2B and Fig 5): RE-AN and RE-AI per layer.

For each readout layer, RDMs of the RE, AN and AI images are computed from the layer's
activations; RE-AN and RE-AI similarity (Spearman by default) are tested against
permutation nulls, bootstrapped over images for confidence intervals (centred on the
estimate), their difference is tested by the paired swap test
(:func:`advlib.analysis.stats.swap_test`: the paper's image bootstrap is far too
conservative as a test), and their trends across layers are tested with Mann-Kendall
(exact for 8 layers).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..cnn.features import stimulus_features
from ..cnn.stimulus_set import (
    KINDS,
    check_stage_images,
    load_manifest,
    stimulus_files,
    usable_sources,
)
from ..errors import StimulusError, check_nonnegative_seed, expect
from ..layout import CNN_RDMS, CNN_RSA_OUTPUTS, CNN_RSA_TABLE, CNN_TREND_TABLE, FEATURES_FOLDER
from ..provenance import Stage
from .rsa import MIN_RSA_IMAGES, MIN_RSA_WHY, compute_rdm
from .stats import (
    BootstrapResult,
    PermutationResult,
    bootstrap_similarities,
    centred_interval,
    mann_kendall,
    permutation_test,
    swap_test,
)

__all__ = ["CNN_RSA_COLUMNS", "CNNRSAResult", "layer_rdms", "cnn_rsa", "load_cnn_results"]

CNN_RSA_COLUMNS = ["layer", "re_an", "re_ai", "re_an_ci_low", "re_an_ci_high", "re_ai_ci_low",
                   "re_ai_ci_high", "p_perm_re_an", "p_perm_re_ai", "p_diff", "null_mean_re_an",
                   "null_sd_re_an", "null_mean_re_ai", "null_sd_re_ai", "n_perm", "n_swap"]

@dataclass
class CNNRSAResult:
    """Everything :func:`cnn_rsa` computed.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per layer (:data:`CNN_RSA_COLUMNS` plus ``n_boot_valid``, the resamples
        that had enough distinct image pairs, ``layer_name``, ``n_images``, ``metric``,
        ``method``, ``ci_level``).
    trend : pandas.DataFrame
        Mann-Kendall tests of ``re_an`` and ``re_ai`` across layers.
    rdms : dict
        ``kind -> layer -> (n, n)`` RDMs that entered the analysis.
    permutations : dict
        ``layer -> {"AN": PermutationResult, "AI": PermutationResult}``.
    bootstraps : dict
        ``layer -> BootstrapResult`` (keys ``"AN"``, ``"AI"``).
    images : list of str
        The ``source_id`` of the regular images used, in RDM order.
    """

    table: pd.DataFrame
    trend: pd.DataFrame
    rdms: dict
    permutations: dict
    bootstraps: dict
    images: list



def layer_rdms(features: dict, metric: str = "correlation", rows=None) -> dict:
    """RDMs per kind and layer.

    Parameters
    ----------
    features : dict
        ``kind -> layer -> (n_images, n_units)`` from :func:`stimulus_features`.
    metric : str
        See :func:`advlib.analysis.rsa.compute_rdm`.
    rows : array_like of int, optional
        Image rows to use (e.g. only converged triplets); all when ``None``.

    Returns
    -------
    dict of str to dict of str to numpy.ndarray
        ``kind -> layer -> (n, n)`` RDM.
    """
    out = {}
    for kind, per_layer in features.items():
        out[kind] = {}
        for layer, acts in per_layer.items():
            acts = acts if rows is None else acts[np.asarray(rows)]
            out[kind][layer] = compute_rdm(acts, metric, name=f"{kind} images, {layer}")
    return out


def cnn_rsa(model, stim_dir, results_dir=None, *, metric: str = "correlation",
            method: str = "spearman", n_perm: int = 1000, n_boot: int = 1000, seed: int = 0,
            ci_level: float = 0.95, only_converged: bool = True, progress: bool = True,
            reuse: bool = True, n_swap: int = 10000):
    """RE-AN and RE-AI similarity for every layer, with the paper's statistics.

    Parameters
    ----------
    model : ModelWrapper
    stim_dir : str or path
        Stimulus set (``manifest.csv``).
    results_dir : str or path, optional
        Where ``cnn_rsa.csv``, ``cnn_trend.csv``, ``cnn_rdms.npz``,
        ``cnn_rsa_provenance.json`` and the ``features/`` cache go; nothing is written
        when ``None``.
    metric : str
        RDM dissimilarity (``correlation`` in the paper).
    method : str
        RDM comparison (``spearman`` in the paper).
    n_perm, n_boot : int
        Permutations and bootstrap resamples (1000 each in the paper).
    n_swap : int
        Swap sets of the RE-AI vs RE-AN test.
    seed : int
        Drives every permutation and resample.
    ci_level : float
        Bootstrap confidence level (0.95 for the CNN figure).
    only_converged : bool
        Use only regular images whose AN and AI images both reached the threshold.
    progress : bool
    reuse : bool
        Return the results in ``results_dir`` when that stage is up to date (same model,
        weights, parameters, stimulus files and code; see :class:`advlib.provenance.Stage`).

    Returns
    -------
    CNNRSAResult
        ``table.p_diff`` is the two-sided swap-test p of RE-AI minus RE-AN.
    """
    manifest = load_manifest(stim_dir)
    sources = sorted(manifest.source_id.unique())
    usable = usable_sources(manifest, only_converged)
    check_stage_images("CNN RSA", len(usable), MIN_RSA_IMAGES, MIN_RSA_WHY)
    rows = [sources.index(s) for s in usable]
    params = {"model": model.name, "weights_sha256": model.weights_sha256, "metric": metric,
              "method": method, "n_perm": n_perm, "n_boot": n_boot, "seed": seed,
              "ci_level": ci_level, "only_converged": only_converged, "n_swap": n_swap,
              "difference_test": "swap"}
    stage = None
    if results_dir is not None:
        results_dir = Path(results_dir)
        stage = Stage("cnn_rsa", results_dir, list(CNN_RSA_OUTPUTS), params,
                      inputs=stimulus_files(stim_dir), code=["advlib.analysis.cnn_analysis"])
        if reuse and stage.up_to_date():
            return _load_result(results_dir, usable)
    cache = None if results_dir is None else results_dir / FEATURES_FOLDER
    feats = stimulus_features(model, stim_dir, cache_dir=cache, progress=progress)
    rdms = layer_rdms(feats, metric, rows=rows)
    seeds = np.random.SeedSequence(check_nonnegative_seed(seed)).spawn(len(model.layers))
    records, perms, boots = [], {}, {}
    for layer, ss in tqdm(list(zip(model.layers, seeds)), desc="CNN RSA", disable=not progress):
        r_perm_an, r_perm_ai, r_boot, r_swap = (np.random.default_rng(s) for s in ss.spawn(4))
        re, an, ai = (rdms[k][layer] for k in KINDS)
        joint = compute_rdm(np.vstack([feats["AI"][layer][rows], feats["AN"][layer][rows]]),
                            metric, name=f"AI+AN images, {layer}")
        diff = swap_test(re, joint, method, n_swap, r_swap, names=(f"RE {layer}", "AI", "AN"))
        perm_an = permutation_test(re, an, method, n_perm, r_perm_an, (f"RE {layer}", f"AN {layer}"))
        perm_ai = permutation_test(re, ai, method, n_perm, r_perm_ai, (f"RE {layer}", f"AI {layer}"))
        boot = bootstrap_similarities(re, {"AN": an, "AI": ai}, method, n_boot, r_boot)
        perms[layer], boots[layer] = {"AN": perm_an, "AI": perm_ai}, boot
        (an_lo, an_hi), (ai_lo, ai_hi) = (
            centred_interval(p.observed, boot.samples[k], ci_level)
            for k, p in (("AN", perm_an), ("AI", perm_ai)))
        records.append({"layer": layer, "re_an": perm_an.observed, "re_ai": perm_ai.observed,
                        "re_an_ci_low": an_lo, "re_an_ci_high": an_hi,
                        "re_ai_ci_low": ai_lo, "re_ai_ci_high": ai_hi,
                        "p_perm_re_an": perm_an.p, "p_perm_re_ai": perm_ai.p,
                        "p_diff": diff.p, "null_mean_re_an": float(perm_an.null.mean()),
                        "null_sd_re_an": float(perm_an.null.std(ddof=1)),
                        "null_mean_re_ai": float(perm_ai.null.mean()),
                        "null_sd_re_ai": float(perm_ai.null.std(ddof=1)),
                        "n_perm": int(n_perm), "n_swap": int(n_swap),
                        "n_boot_valid": len(boot.samples["AI"]),
                        "layer_name": model.paper_names[layer], "n_images": len(usable),
                        "metric": metric, "method": method, "ci_level": ci_level})
    table = pd.DataFrame(records)
    trend = pd.DataFrame([{"similarity": col, **mann_kendall(table[col].to_numpy())}
                          for col in ("re_an", "re_ai")])
    if stage is not None:
        def write(tmp: Path) -> None:
            table.to_csv(tmp / CNN_RSA_TABLE, index=False)
            trend.to_csv(tmp / CNN_TREND_TABLE, index=False)
            with open(tmp / CNN_RDMS, "wb") as handle:
                np.savez(handle, images=np.array(usable), n_boot=np.array(n_boot),
                         **{f"{k}/{layer}": m for k in KINDS for layer, m in rdms[k].items()},
                         **{f"null_{k}/{layer}": perms[layer][k].null for k in ("AN", "AI")
                            for layer in perms},
                         **{f"boot_{k}/{layer}": boots[layer].samples[k] for k in ("AN", "AI")
                            for layer in boots})
        stage.run(write, stimuli=str(Path(stim_dir).resolve()), model=model.provenance(),
                  images_used=usable, images_dropped=[s for s in sources if s not in usable])
    return CNNRSAResult(table, trend, rdms, perms, boots, usable)



def _load_result(results_dir: Path, usable) -> CNNRSAResult:
    """The :class:`CNNRSAResult` of an up-to-date :func:`cnn_rsa` stage, read from disk."""
    table, trend = load_cnn_results(results_dir)
    rdms, perms, boots = {k: {} for k in KINDS}, {}, {}
    with np.load(results_dir / CNN_RDMS) as data:
        for row in table.itertuples():
            for k in KINDS:
                rdms[k][row.layer] = data[f"{k}/{row.layer}"]
            obs = {"AN": row.re_an, "AI": row.re_ai}
            p = {"AN": row.p_perm_re_an, "AI": row.p_perm_re_ai}
            perms[row.layer] = {k: PermutationResult(float(obs[k]), float(p[k]),
                                                     data[f"null_{k}/{row.layer}"])
                                for k in ("AN", "AI")}
            boots[row.layer] = BootstrapResult(
                {k: float(v) for k, v in obs.items()},
                {k: data[f"boot_{k}/{row.layer}"] for k in ("AN", "AI")}, int(data["n_boot"]))
        images = [str(s) for s in data["images"]]
    expect(images == list(usable), f"{CNN_RDMS} images", images[:4],
           f"the usable images of the stimulus set {list(usable)[:4]}...", StimulusError)
    return CNNRSAResult(table, trend, rdms, perms, boots, images)


def load_cnn_results(results_dir) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read ``cnn_rsa.csv`` and ``cnn_trend.csv`` written by :func:`cnn_rsa`."""
    results_dir = Path(results_dir)
    for name in (CNN_RSA_TABLE, CNN_TREND_TABLE):
        expect((results_dir / name).is_file(), "results_dir", str(results_dir),
               f"a folder with {name} (run `advlib cnn-rsa` first)", StimulusError)
    return pd.read_csv(results_dir / CNN_RSA_TABLE), pd.read_csv(results_dir / CNN_TREND_TABLE)


