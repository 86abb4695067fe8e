"""The CNN against real brain RDMs: the 92 objects and human IT (Kriegeskorte et al. 2008).

Every layer's RDM of the 92 images is compared with each subject's hIT RDM (the mean of
its two sessions); a layer's score is the mean over subjects, the quantity the noise
ceiling bounds (Nili et al. 2014). Tests: a permutation of the layer RDM's image labels
(the same permutations for every subject, so the null is that of the mean) and a
bootstrap over images (the same resamples for every subject and layer, so layers can be
compared pairwise). Kendall's tau-a, the comparison of Khaligh-Razavi & Kriegeskorte
(2014), is given beside Spearman's rho.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..errors import check_nonnegative_seed, check_positive_int, expect
from ..fmri.rdm_data import KRIEGESKORTE92, RDMData, load_rdm_data
from ..kernels import thread_map, upper_triangle
from ..layout import HIT_CATEGORIES_TABLE, HIT_CEILING_TABLE, HIT_RDMS, HIT_RSA_OUTPUTS, HIT_RSA_TABLE
from ..provenance import Stage
from .rsa import compare_rdms, compute_rdm
from .stats import bootstrap_references, centred_interval, mann_kendall, permutation_test

__all__ = ["noise_ceiling", "category_rdm", "category_tests", "layer_scores", "hit_rsa",
           "HitResult", "load_hit_results", "real_claims", "hit_numbers", "hit_profiles"]

#: rsatoolbox's name of each comparison.
_RSATOOLBOX = {"spearman": "spearman", "kendall_tau_a": "tau-a", "pearson": "corr"}


def noise_ceiling(subject_rdms, method: str = "spearman") -> tuple[float, float]:
    """Lower and upper bound of the noise ceiling (Nili et al. 2014), by rsatoolbox.

    Parameters
    ----------
    subject_rdms : array_like, shape (n_subjects, n, n)
    method : {"spearman", "kendall_tau_a", "pearson"}

    Returns
    -------
    (float, float)
        Lower bound: mean similarity of each subject's RDM to the mean of the others;
        upper: to the mean of all (pooled as rsatoolbox pools for ``method``: for tau-a the
        mean of the ranks).
    """
    from rsatoolbox.inference import boot_noise_ceiling
    from rsatoolbox.rdm import RDMs

    expect(method in _RSATOOLBOX, "method", method, f"one of {', '.join(_RSATOOLBOX)}")
    mats = np.asarray(subject_rdms, dtype=np.float64)
    expect(mats.ndim == 3 and len(mats) >= 2, "subject_rdms.shape", mats.shape,
           "(n_subjects >= 2, n, n)")
    vectors = np.stack([upper_triangle(m) for m in mats])
    with warnings.catch_warnings():     # tau-a: "based on averaged ranks", as documented
        warnings.simplefilter("ignore", UserWarning)
        low, high = boot_noise_ceiling(RDMs(vectors), method=_RSATOOLBOX[method],
                                       rdm_descriptor="index")
    return float(low), float(high)


def category_rdm(labels) -> np.ndarray:
    """A categorical model RDM: 0 for two images of one label, 1 otherwise.

    Parameters
    ----------
    labels : array_like, shape (n,)

    Returns
    -------
    numpy.ndarray, shape (n, n)
    """
    labels = np.asarray(labels)
    return (labels[:, None] != labels[None, :]).astype(np.float64)


def category_tests(group_rdm, images: pd.DataFrame, n_perm: int = 1000, seed=0) -> pd.DataFrame:
    """Does the brain RDM separate animate from inanimate images, and faces from bodies?

    The brain RDM is compared (Spearman) with a categorical model RDM; the p-value permutes
    the image labels (one-sided: the brain's dissimilarities are larger between categories).

    Parameters
    ----------
    group_rdm : array_like, shape (n, n)
    images : pandas.DataFrame
        ``animate`` (0/1) and, for the second test, ``face`` and ``body`` (0/1) columns.
    n_perm : int
    seed : int

    Returns
    -------
    pandas.DataFrame
        ``contrast, n_images, similarity, p_perm, p_perm_lower, within, between``:
        ``p_perm`` tests a similarity above chance, ``p_perm_lower`` one below it (the same
        permutations, the other tail); ``within`` and ``between`` are the mean
        dissimilarities within and between the categories. A contrast with fewer than 2
        images on a side (a subset of the images, say all animate) has no row.
    """
    rdm = np.asarray(group_rdm, dtype=np.float64)
    contrasts = []
    if "animate" in images:
        contrasts.append(("animate vs inanimate", np.ones(len(images), bool),
                          images.animate.to_numpy()))
    if {"face", "body", "animate"} <= set(images):
        keep = (((images.face == 1) | (images.body == 1)) & (images.animate == 1)).to_numpy()
        contrasts.append(("faces vs bodies", keep, images.face.to_numpy()))
    expect(contrasts, "images", list(images.columns), "an 'animate' column (0/1)")
    contrasts = [(name, keep, labels) for name, keep, labels in contrasts
                 if min(np.sum(labels[keep] == 1), np.sum(labels[keep] != 1)) >= 2]
    rows = []
    for (name, keep, labels), rng in zip(contrasts, np.random.SeedSequence(
            check_nonnegative_seed(seed)).spawn(len(contrasts))):
        sub, lab = rdm[np.ix_(keep, keep)], labels[keep]
        model = category_rdm(lab)
        test = permutation_test(model, sub, "spearman", n_perm, np.random.default_rng(rng),
                                names=(name, "brain RDM"))
        same = upper_triangle(model) == 0
        vec = upper_triangle(sub)
        rows.append({"contrast": name, "n_images": int(keep.sum()), "similarity": test.observed,
                     "p_perm": test.p,
                     "p_perm_lower": (1 + np.count_nonzero(test.null <= test.observed + 1e-12))
                     / (1 + test.null.size), "within": float(vec[same].mean()),
                     "between": float(vec[~same].mean())})
    return pd.DataFrame(rows, columns=["contrast", "n_images", "similarity", "p_perm",
                                       "p_perm_lower", "within", "between"])


#: :func:`layer_scores`' columns, in order: an empty profile table's (:func:`hit_profiles`;
#: tests/test_real_rsa.py holds them to the columns ``layer_scores`` makes)
_SCORE_COLUMNS = ("layer", "similarity", "ci_low", "ci_high", "p_perm", "tau_a", "per_subject",
                  "method", "n_perm", "n_boot_valid", "ci_level")


def layer_scores(layer_rdms: dict, subject_rdms, method: str = "spearman", n_perm: int = 1000,
                 n_boot: int = 1000, seed=0, ci_level: float = 0.95,
                 progress: bool = False, tau_a: bool = True,
                 threads: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each layer's similarity to the subjects' brain RDMs, with its tests.

    Parameters
    ----------
    layer_rdms : dict of str to array_like, shape (n, n)
        Layer name -> the network's RDM of the images.
    subject_rdms : array_like, shape (n_subjects, n, n)
    method : {"spearman", "pearson"}
        The comparison tested; Kendall's tau-a is reported beside it.
    n_perm, n_boot : int
    seed : int
    ci_level : float
    progress : bool
    tau_a : bool
        Give Kendall's tau-a beside the tested comparison (the slowest part).
    threads : int
        Layers resampled and tested side by side on this many threads
        (:func:`advlib.kernels.thread_map`; the same numbers).

    Returns
    -------
    table : pandas.DataFrame
        One row per layer: ``layer, similarity`` (mean over subjects), ``ci_low, ci_high``
        (bootstrap over images, centred on the estimate), ``p_perm``, ``tau_a`` (NaN when
        not asked for), ``per_subject`` (the subjects' values, ";"-joined), ``method,
        n_perm, n_boot_valid`` (the valid resamples), ``ci_level``.
    replicates : pandas.DataFrame, shape (n_valid, n_layers)
        The bootstrap replicates of every layer's score, paired across layers (the same
        image resamples): differences between layers can be read off it.
    """
    expect(method in ("spearman", "pearson"), "method", method, "'spearman' or 'pearson'")
    check_positive_int(n_perm, "n_perm")
    check_positive_int(n_boot, "n_boot")
    subjects = np.asarray(subject_rdms, dtype=np.float64)
    ss = np.random.SeedSequence(check_nonnegative_seed(seed))
    perm_seed, boot_seed = (int(s.generate_state(1)[0]) for s in ss.spawn(2))
    boots = bootstrap_references({f"brain RDM {i + 1}": subj for i, subj in enumerate(subjects)},
                                 dict(layer_rdms), method, n_boot, boot_seed,
                                 threads=threads)
    lengths = {len(b.samples[k]) for b in boots.values() for k in layer_rdms}
    expect(len(lengths) == 1, "subject_rdms", f"valid resamples differing by subject "
           f"({sorted(lengths)})", "RDMs valid in the same bootstrap resamples")
    replicates = pd.DataFrame({k: np.mean([b.samples[k] for b in boots.values()], axis=0)
                               for k in layer_rdms})
    tested = thread_map(lambda item: [permutation_test(subj, item[1], method, n_perm, perm_seed,
                                                       names=("brain RDM", item[0]))
                                      for subj in subjects],
                        list(layer_rdms.items()), threads)
    rows = []
    for (layer, rdm), tests in tqdm(zip(layer_rdms.items(), tested), total=len(tested),
                                    desc="layers vs brain", disable=not progress):
        observed = float(np.mean([t.observed for t in tests]))
        null = np.mean([t.null for t in tests], axis=0)
        low, high = centred_interval(observed, replicates[layer].to_numpy(), ci_level)
        tau = ([compare_rdms(subj, rdm, "kendall_tau_a") for subj in subjects] if tau_a
               else [np.nan])
        rows.append({"layer": layer, "similarity": observed, "ci_low": low, "ci_high": high,
                     "p_perm": (1 + np.count_nonzero(null >= observed - 1e-12)) / (1 + n_perm),
                     "tau_a": float(np.mean(tau)),
                     "per_subject": ";".join(f"{t.observed:.4f}" for t in tests),
                     "method": method, "n_perm": n_perm, "n_boot_valid": len(replicates),
                     "ci_level": ci_level})
    return pd.DataFrame(rows), replicates


@dataclass
class HitResult:
    """What :func:`hit_rsa` computed (or read back).

    Attributes
    ----------
    table : pandas.DataFrame
        :func:`layer_scores`'s table.
    ceiling : pandas.DataFrame
        ``method, lower, upper`` for Spearman and Kendall's tau-a.
    categories : pandas.DataFrame
        :func:`category_tests` on the group RDM.
    replicates : pandas.DataFrame, shape (n_valid, n_layers)
    layer_rdms : dict of str to numpy.ndarray, shape (n, n)
    trend : dict
        Exact Mann-Kendall trend of the scores over layers.
    """

    table: pd.DataFrame
    ceiling: pd.DataFrame
    categories: pd.DataFrame
    replicates: pd.DataFrame
    layer_rdms: dict
    trend: dict


def _image_features(model, data: RDMData, progress: bool) -> dict:
    from ..cnn.features import extract_features
    from ..cnn.images import read_images

    return extract_features(model, read_images(data.images.path, model.input_size),
                            progress=progress)


def hit_rsa(model, data_folder=KRIEGESKORTE92, results_dir=None, *, method: str = "spearman",
            n_perm: int = 1000, n_boot: int = 1000, seed: int = 0, ci_level: float = 0.95,
            subset: str | None = None, reuse: bool = True,
            progress: bool = True) -> HitResult:
    """The network's layers against real brain RDMs, as a cached stage.

    Parameters
    ----------
    model : ModelWrapper
    data_folder : str or path
        Brain RDMs with their images (:func:`advlib.fmri.rdm_data.load_rdm_data`); default
        the 92-image hIT data.
    results_dir : str or path, optional
        Where ``hit_rsa.csv``, ``hit_ceiling.csv``, ``hit_categories.csv`` and
        ``hit_rdms.npz`` go; nothing is written when ``None``.
    method, n_perm, n_boot, seed, ci_level
        As in :func:`layer_scores`.
    subset : str, optional
        Only the images of this 0/1 column of ``stimuli.csv``
        (:func:`advlib.fmri.rdm_data.load_rdm_data`; the smoke profile's ``rand24``).
    reuse : bool
        Read the results back when the stage is up to date.
    progress : bool

    Returns
    -------
    HitResult
    """
    data = load_rdm_data(data_folder, subset)
    params = {"model": model.name, "weights_sha256": model.weights_sha256, "method": method,
              "n_perm": n_perm, "n_boot": n_boot, "seed": seed, "ci_level": ci_level,
              "subset": subset}
    stage = None
    if results_dir is not None:
        stage = Stage("hit_rsa", Path(results_dir), list(HIT_RSA_OUTPUTS), params,
                      inputs=data.input_files(),
                      code=["advlib.analysis.real_rsa"])
        if reuse and stage.up_to_date():
            return load_hit_results(results_dir)
    # torch here, not above: a page that finds the stage made does not import it
    import torch

    feats = _image_features(model, data, progress)
    rdms = {layer: compute_rdm(feats[layer], "correlation",
                               name=f"{len(data.images)} images, {layer}")
            for layer in model.layers}
    subjects = data.subject_rdms()
    table, replicates = layer_scores(rdms, subjects, method, n_perm, n_boot, seed, ci_level,
                                     progress, threads=torch.get_num_threads())  # the network's
    table["layer_name"] = [model.paper_names[k] for k in table.layer]
    ceiling = pd.DataFrame([{"method": m, **dict(zip(("lower", "upper"),
                                                     noise_ceiling(subjects, m)))}
                            for m in (method, "kendall_tau_a")])
    categories = category_tests(data.group_rdm(), data.images, n_perm, seed)
    if stage is not None:
        def write(tmp: Path) -> None:
            table.to_csv(tmp / HIT_RSA_TABLE, index=False)
            ceiling.to_csv(tmp / HIT_CEILING_TABLE, index=False)
            categories.to_csv(tmp / HIT_CATEGORIES_TABLE, index=False)
            with open(tmp / HIT_RDMS, "wb") as handle:
                np.savez(handle, **{f"rdm/{k}": v for k, v in rdms.items()},
                         **{f"boot/{k}": replicates[k].to_numpy() for k in replicates})
        stage.run(write, data=str(data.folder), model=model.provenance())
    return HitResult(table, ceiling, categories, replicates, rdms,
                     mann_kendall(table.similarity.to_numpy()))


def load_hit_results(results_dir) -> HitResult:
    """The :class:`HitResult` a :func:`hit_rsa` stage wrote in ``results_dir``."""
    results_dir = Path(results_dir)
    missing = [o for o in HIT_RSA_OUTPUTS if not (results_dir / o).is_file()]
    expect(not missing, "results_dir", str(results_dir), f"the outputs of hit_rsa ({missing} "
           "missing: run `advlib reproduce`, or advlib.hit_rsa)")
    table = pd.read_csv(results_dir / HIT_RSA_TABLE)
    with np.load(results_dir / HIT_RDMS) as saved:
        rdms = {k.split("/", 1)[1]: saved[k] for k in saved.files if k.startswith("rdm/")}
        replicates = pd.DataFrame({k.split("/", 1)[1]: saved[k] for k in saved.files
                                   if k.startswith("boot/")})
    return HitResult(table, pd.read_csv(results_dir / HIT_CEILING_TABLE),
                     pd.read_csv(results_dir / HIT_CATEGORIES_TABLE), replicates[list(rdms)],
                     rdms, mann_kendall(table.similarity.to_numpy()))


def real_claims(result: HitResult, alpha: float = 0.05) -> pd.DataFrame:
    """The chapter's claims about the real brain data, judged by stated rules.

    A claim "does not hold" only on evidence the other way (a significant effect in the
    opposite direction); a test that misses its criterion without such evidence is
    "inconclusive" (these tests have no power analysis).

    Parameters
    ----------
    result : HitResult
    alpha : float

    Returns
    -------
    pandas.DataFrame
        :data:`advlib.analysis.claims.CLAIM_COLUMNS`.
    """
    from .claims import CLAIM_COLUMNS, FAILS, HOLDS, INCONCLUSIVE

    def row(claim, paper, rule, here, verdict):   # no pointer to the simulated calibration
        return {"claim": claim, "paper": paper, "rule": rule, "here": here, "verdict": verdict}

    rows = []
    cats = result.categories.set_index("contrast")
    for name, who in (("animate vs inanimate", "hIT separates animate from inanimate objects"),
                      ("faces vs bodies", "hIT separates faces from bodies")):
        if name not in cats.index:
            continue
        c = cats.loc[name]
        ok = c["similarity"] > 0 and c["p_perm"] < alpha
        reverse = c["similarity"] < 0 and c["p_perm_lower"] < alpha     # the other way
        rows.append(row(who, "Kriegeskorte et al. 2008 (Fig 1)",
                        f"Spearman of the group hIT RDM with the {name} model RDM > 0, "
                        f"permutation p < {alpha:g} (does not hold: significantly < 0)",
                        f"rho = {c['similarity']:.3f}, p = {c['p_perm']:.3g} (mean "
                        f"dissimilarity within {c['within']:.3f}, between {c['between']:.3f}; "
                        f"{int(c['n_images'])} images)",
                        HOLDS if ok else FAILS if reverse else INCONCLUSIVE))
    t = result.table.reset_index(drop=True)
    reps = result.replicates
    n = len(t)
    best = int(t.similarity.idxmax())
    # intervals placed on their estimates (centred_interval), as every interval of the book
    sims = t.similarity.to_numpy(np.float64)

    def interval(k: int, level: float, base: int | None = None) -> tuple[float, float]:
        if not len(reps):
            return np.nan, np.nan
        est = sims[k] - (sims[base] if base is not None else 0.0)
        rep = reps.iloc[:, k] - (reps.iloc[:, base] if base is not None else 0.0)
        return centred_interval(est, rep.to_numpy(np.float64), level)

    low = interval(best, 1 - alpha, base=0)[0]
    # the other way: layer 1 significantly better than every layer of the upper half
    upper = [interval(k, 1 - alpha, base=0)[1] for k in range(n // 2, n)]
    deep = best >= n // 2
    rows.append(row("Deep layers match hIT better than early layers",
                    "Khaligh-Razavi & Kriegeskorte 2014",
                    f"the best layer is in the upper half and its score minus layer 1's has a "
                    f"paired bootstrap {100 * (1 - alpha):g}% interval above 0 (does not hold: "
                    "layer 1 significantly above every upper-half layer)",
                    f"best layer {best + 1} ({t.layer_name[best]}), {t.similarity[best]:.3f} vs "
                    f"layer 1 {t.similarity[0]:.3f}; difference's interval starts at "
                    f"{low:+.3f}", HOLDS if deep and low > 0 else
                    FAILS if max(upper) < 0 else INCONCLUSIVE))
    sig = int((t.p_perm < alpha).sum())
    rows.append(row("Every layer's RDM is related to hIT's",
                    "Khaligh-Razavi & Kriegeskorte 2014 (most layers significant)",
                    f"permutation p < {alpha:g} in {n}/{n} layers (a miss without power is "
                    "inconclusive)",
                    f"{sig}/{n} (p = {', '.join(f'{p:.3g}' for p in t.p_perm)})",
                    HOLDS if sig == n else INCONCLUSIVE))
    ceil = result.ceiling.set_index("method").loc[t.method[0]]
    # the best of n layers: its interval widened for the choice (Bonferroni over layers)
    lo_adj, hi_adj = interval(best, 1 - alpha / n)
    verdict = HOLDS if hi_adj < ceil.lower else (FAILS if lo_adj > ceil.lower
                                                 else INCONCLUSIVE)
    rows.append(row("No layer reaches the noise ceiling",
                    "Khaligh-Razavi & Kriegeskorte 2014 (no unfitted model reached it)",
                    f"the best layer's bootstrap interval, widened for choosing the best of {n} "
                    "(Bonferroni), lies below the ceiling's lower bound (above it: does not "
                    "hold; containing it: inconclusive; the bound's own error is not counted)",
                    f"best layer {t.similarity[best]:.3f}, adjusted interval [{lo_adj:.3f}, "
                    f"{hi_adj:.3f}]; ceiling {ceil.lower:.3f} to {ceil.upper:.3f}", verdict))
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def hit_numbers(result: HitResult) -> dict[str, str]:
    """The chapter's findings as short texts for its prose (myst-nb glue).

    Returns
    -------
    dict of str to str
        ``hit_best`` ("layer 6 (stage6), 0.271 [0.211, 0.343]"), ``hit_first`` (layer 1),
        ``hit_ceiling`` ("0.372 to 0.666"), ``hit_tau`` (the best layer's tau-a and the
        tau-a ceiling), ``hit_trend`` and ``hit_animacy``.
    """
    t = result.table.reset_index(drop=True)
    best = int(t.similarity.idxmax())
    ceil = result.ceiling.set_index("method")
    first = ceil.index[0]

    def score(i):
        return (f"layer {i + 1} ({t.layer_name[i]}), {t.similarity[i]:.3f} "
                f"[{t.ci_low[i]:.3f}, {t.ci_high[i]:.3f}]")

    out = {"hit_best": score(best), "hit_first": score(0),
           "hit_ceiling": f"{ceil.lower[first]:.3f} to {ceil.upper[first]:.3f}",
           "hit_trend": f"{result.trend.get('trend', 'n/a')}, exact Mann-Kendall p = "
                        f"{result.trend.get('p', float('nan')):.3g}"}
    if "kendall_tau_a" in ceil.index:
        out["hit_tau"] = (f"{t.tau_a[best]:.3f} (ceiling {ceil.lower['kendall_tau_a']:.3f} to "
                          f"{ceil.upper['kendall_tau_a']:.3f})")
    cats = result.categories.set_index("contrast")
    if "animate vs inanimate" in cats.index:
        c = cats.loc["animate vs inanimate"]
        out["hit_animacy"] = f"rho = {c['similarity']:.3f}, p = {c['p_perm']:.3g}"
    return out


def hit_profiles(results, models) -> pd.DataFrame:
    """Every network's layer profile against the 92-object hIT RDMs, in one table.

    Parameters
    ----------
    results : str or path or None
        Results root (``None``: :func:`advlib.layout.default_results`).
    models : list of str

    Returns
    -------
    pandas.DataFrame
        :func:`layer_scores`'s columns, ``layer_name`` (the paper's), ``model``,
        ``ceiling_lower``, ``ceiling_upper``, ``n_images`` (the images the network's RDMs
        hold: fewer than 92 for a subset); a network without results has no rows (with no
        results at all, an empty table with these columns).
    """
    from ..errors import AdvlibError
    from ..layout import Layout

    parts = []
    for m in models:
        try:
            res = load_hit_results(Layout(results, m).dataset_dir(KRIEGESKORTE92))
        except AdvlibError:
            continue
        ceil = res.ceiling.set_index("method").loc[res.table.method.iloc[0]]
        n_images = next(iter(res.layer_rdms.values())).shape[0]
        parts.append(res.table.assign(model=m, ceiling_lower=ceil.lower,
                                      ceiling_upper=ceil.upper, n_images=n_images))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=[*_SCORE_COLUMNS, "layer_name", "model", "ceiling_lower", "ceiling_upper",
                 "n_images"])
