"""Command-line interface: ``advlib <subcommand> --help``."""

from __future__ import annotations

import argparse
import sys
import time

from .allocator import tune_allocator
from .errors import AdvlibError, InputError
from .layout import (
    DEFAULT_SURFACE,
    MANIFEST,
    PAGES_FOLDER,
    SELECTION_FOLDER,
    SIMULATION_SPEC,
    SURFACES,
    Layout,
    analysis_variant,
    brain_rsa_name,
    encoding_name,
    selection_dir,
)

__all__ = ["main", "build_parser"]


def _count(minimum: int):
    """An argparse type: an integer ``>= minimum`` (a clear usage error otherwise)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r}: expected an integer >= {minimum}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value}: expected an integer >= {minimum}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def _positive(text: str) -> float:
    """An argparse type: a finite number ``> 0``."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number > 0") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text}: expected a finite number > 0")
    return value


def _path(text: str) -> str:
    """An argparse type for a file or folder: ``~`` expanded (a quoted ``'~/x'`` reaches
    the program unexpanded), an empty string refused (it would mean the current folder)."""
    import os

    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: expected a path, not an empty string")
    return os.path.expanduser(text)


#: Arguments naming what a command reads, and what it writes.
_INPUTS = ("stimuli", "images", "data")
_OUTPUTS = ("out", "results")
#: Commands whose output folder is rebuilt whole (an input inside it would be deleted).
_REBUILT = ("stimuli", "simulate", "export-example", "import-data")
#: Words that name a built-in input rather than a folder.
_KEYWORDS = ("embedded", "simulated")


def _check_paths(args) -> None:
    """Refuse, before any work, an output folder inside an input folder (a rebuild of the
    input would delete it) and an input inside an output that the command rebuilds whole.

    Raises
    ------
    InputError
        Naming both arguments and their values.
    """
    from pathlib import Path

    def given(names):
        return [(n, v, Path(v).resolve()) for n in names
                if isinstance(v := getattr(args, n, None), str) and v not in _KEYWORDS]

    for o, o_text, out in given(_OUTPUTS):
        for i, i_text, inp in given(_INPUTS):
            if out != inp and inp in out.parents:
                raise InputError(f"--{o}={o_text}: inside the input folder --{i}={i_text}; "
                                 "expected a folder outside it (rebuilding the input would "
                                 "delete what is written there)")
            if args.command in _REBUILT and out in inp.parents:
                raise InputError(f"--{o}={o_text}: contains the input --{i}={i_text}, and "
                                 f"`advlib {args.command}` replaces its output folder whole; "
                                 "expected a folder that does not hold the input")


def _cmd_models(args) -> int:
    from .cnn.models import model_readouts

    model = None
    for row in model_readouts():
        if row["model"] != model:
            model = row["model"]
            print(model)
        print(f"  {row['layer']}  {row['paper_name']:<8} {row['module']}")
    return 0


def _cmd_design_counts(args) -> int:
    from .cnn.images import discover_images, embedded_images
    from .cnn.models import load_model
    from .cnn.selection import design_counts

    model = load_model(args.model, device=args.device)
    sources = embedded_images() if args.images == "embedded" else discover_images(args.images)
    table = design_counts(model, sources, args.thresholds, superclasses=args.superclasses,
                          n_per_class=args.n_per_class)
    full = table[table.full]
    if args.first_full:
        print(table.to_string(index=False), file=sys.stderr)
        if not len(full):
            print(f"advlib design-counts: error: no threshold of {args.thresholds} fills "
                  f"{args.n_per_class} images in each of {', '.join(args.superclasses)} with "
                  f"{args.model} on {args.images!r}", file=sys.stderr)
            return 2
        print(f"{full.threshold.iloc[0]:g}")
        return 0
    print(table.to_string(index=False))
    return 0


def _cmd_stimuli(args) -> int:
    from .cnn.models import load_model
    from .cnn.stimulus_set import build_stimulus_set, load_skipped, summarize_stimuli

    model = load_model(args.model, device=args.device)
    options = dict(images=args.images, n_images=args.n_images, seed=args.seed,
                   min_size=args.min_size, threshold=args.threshold, max_steps=args.max_steps,
                   batch_size=args.batch_size, require_correct=not args.no_require_correct,
                   min_confidence=args.min_confidence, allow_short=args.allow_short)
    if args.n_per_class is not None and not args.superclasses:
        raise InputError(f"--n-per-class={args.n_per_class}: expected --superclasses as well "
                         "(it counts images per superclass)")
    if args.superclasses:
        options.update(superclasses=args.superclasses, n_per_class=args.n_per_class)
    manifest = build_stimulus_set(model, args.out, reuse=not args.force, progress=True,
                                  **options)
    print(summarize_stimuli(manifest).to_string(index=False))
    failed = manifest[~manifest.converged]
    if len(failed):
        print(f"WARNING: {len(failed)} adversarial image(s) did not reach P >= {args.threshold} "
              f"within {args.max_steps} steps (converged=False in the manifest): "
              f"{', '.join(failed.image_id)}", file=sys.stderr)
    skipped = load_skipped(args.out)
    if len(skipped):
        first = "; ".join(f"{r.image}: {r.reason}" for r in skipped.head(3).itertuples())
        print(f"skipped {len(skipped)} source image(s) (all reasons in {args.out}/skipped.csv): "
              f"{first}{' ...' if len(skipped) > 3 else ''}", file=sys.stderr)
    print(f"wrote {args.out}/manifest.csv ({len(manifest)} images)")
    return 0


def _cmd_cnn_rsa(args) -> int:

    from .analysis.cnn_analysis import cnn_rsa
    from .cnn.models import load_model

    layout = Layout(args.results, args.model, args.stimuli)
    model = load_model(args.model, device=args.device)
    out, stim = layout.root, layout.stimuli_dir
    res = cnn_rsa(model, stim, out, metric=args.metric, method=args.method,
                              n_perm=args.n_perm, n_boot=args.n_boot, seed=args.seed,
                              ci_level=args.ci_level, progress=True)
    table, trend = res.table, res.trend
    print(table[["layer", "layer_name", "re_an", "re_ai", "p_perm_re_an", "p_perm_re_ai",
                 "p_diff"]].round(4).to_string(index=False))
    print(trend[["similarity", "trend", "tau", "p"]].round(4).to_string(index=False))
    print(f"wrote {out}/cnn_rsa.csv and {out}/cnn_trend.csv")
    return 0


def _cmd_simulate(args) -> int:
    from .fmri.data import SUBJECT_INFO
    from .fmri.simulation.simulate import simulate_dataset

    folders = simulate_dataset(args.stimuli, args.out, args.subjects, seed=args.seed,
                               reuse=not args.force, save_timeseries=args.save_timeseries,
                               snr=args.snr, spacing=args.spacing, max_pcs=args.max_pcs,
                               surface=args.surface)
    import json

    for folder in folders:
        info = json.loads((folder / SUBJECT_INFO).read_text())
        print(f"{folder}: GLMdenoise noise regressors per run = {info['glm']['n_pcs']}, "
              f"beta recovery r = {info['beta_recovery_r']:.3f} (SIMULATED data)")
    return 0


def _cmd_select(args) -> int:
    from pathlib import Path

    from .fmri.selection import select_dataset

    out = Path(args.out) if args.out else selection_dir(args.data, args.results)
    for name, sel in select_dataset(args.data, out, args.subjects, radius=args.radius,
                                    n_per_hemi=args.n_vertices // 2,
                                    reuse=not args.force).items():
        counts = sel.groupby("roi").size().to_dict()
        print(f"{name}: selected {counts} -> {out / name / SELECTION_FOLDER}/")
    return 0


def _cmd_brain_rsa(args) -> int:
    from pathlib import Path

    from .analysis.brain_analysis import brain_rsa
    from .analysis.claims import brain_claims

    layout = Layout(args.results, args.model, args.stimuli)
    dataset, stim = Path(args.data), layout.stimuli_dir
    out = layout.dataset_dir(dataset)
    table, _ = brain_rsa(dataset, stim, out, n_vertices=args.n_vertices, n_perm=args.n_perm,
                         n_boot=args.n_boot, seed=args.seed, ci_level=args.ci_level,
                         searchlight=not args.no_searchlight, progress=True,
                         normalize=args.normalize, within_session=not args.across_sessions)
    print(table.round(4).to_string(index=False))
    print(brain_claims(table, n_boot=args.n_boot).to_string(index=False))
    variant = analysis_variant(args.normalize, not args.across_sessions)
    print(f"wrote {out / brain_rsa_name(args.n_vertices, variant)}")
    return 0


def _cmd_export_example(args) -> int:
    from .fmri.formats import export_dataset

    folders = export_dataset(args.data, args.out, args.format, args.subjects, task=args.task)
    print(f"wrote {len(folders)} subject(s) of {args.data} in the {args.format} layout to "
          f"{args.out}")
    return 0


def _cmd_import_data(args) -> int:
    from pathlib import Path

    from .cnn.stimulus_set import load_manifest
    from .fmri.formats import import_dataset
    from .provenance import file_sha256

    manifest, info = None, {}
    if args.stimuli:
        manifest = load_manifest(args.stimuli)
        info = {"stimulus_manifest_sha256": file_sha256(Path(args.stimuli) / MANIFEST),
                "stimuli": str(Path(args.stimuli).resolve())}
    folders = import_dataset(args.data, args.out, args.format, manifest, args.subjects,
                             info=info)
    print(f"wrote {len(folders)} subject(s) in the documented format to {args.out}")
    return 0


def _dataset_arguments(p, model_help: str) -> None:
    """--data, --model, --stimuli and --results, shared by the analyses of a dataset."""
    from .cnn.models import MODELS
    from .fmri.normalize import NORMALIZATIONS

    p.add_argument("--data", type=_path, required=True, metavar="DIR", help="dataset folder")
    p.add_argument("--model", default="efficientnet_lite0", choices=MODELS, help=model_help)
    p.add_argument("--stimuli", type=_path, default=None, metavar="DIR",
                   help="stimulus folder (default: RESULTS/MODEL/stimuli; another set's results go "
                   "to RESULTS/MODEL/on-NAME-HASH/, see advlib.layout)")
    p.add_argument("--results", type=_path, default="results", metavar="RESULTS", help="results root")
    p.add_argument("--normalize", default="center", choices=NORMALIZATIONS,
                   help="betas per vertex within each session before selection (default: "
                   "%(default)s; none: as published)")
    p.add_argument("--across-sessions", action="store_true",
                   help="permute image labels across sessions, as published (default: within "
                   "sessions)")


def _sparsity(text: str):
    """argparse type of --n-nonzero: "cv" or a positive integer."""
    if text == "cv":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected \"cv\" or a positive integer")
    return value


def _cmd_encode(args) -> int:
    from pathlib import Path

    from .analysis.claims import encoding_claims
    from .analysis.encoding_study import encoding_analysis, layer_assignment_tests
    from .cnn.models import load_model

    layout = Layout(args.results, args.model, args.stimuli)
    dataset, stim = Path(args.data), layout.stimuli_dir
    out = layout.dataset_dir(dataset)
    model = load_model(args.model, device=args.device)
    n_nonzero = args.n_nonzero
    table, assignment = encoding_analysis(
        model, dataset, stim, out, solver=args.solver, n_nonzero=n_nonzero,
        n_folds=args.n_folds, n_vertices=args.n_vertices, n_perm=args.n_perm,
        n_boot=args.n_boot, seed=args.seed, subjects=args.subjects,
        features_cache=layout.features_dir, device=args.device, normalize=args.normalize,
        within_session=not args.across_sessions,
        progress=True)
    print(table.round(4).to_string(index=False))
    print(encoding_claims(table, layer_assignment_tests(assignment)).to_string(index=False))
    variant = analysis_variant(args.normalize, not args.across_sessions)
    print(f"wrote {out / encoding_name(args.solver, 'encoding', variant)} and "
          f"{out / encoding_name(args.solver, 'layer_assignment', variant)}")
    return 0


def _cmd_reproduce(args) -> int:
    from .book.pipeline import reproduce

    start = time.perf_counter()
    log = reproduce(model=args.model, data=args.data, subjects=args.subjects,
                    profile=args.profile, jobs=args.jobs, results=args.results, out=args.out,
                    book=not args.no_book, progress=True, images=args.images,
                    paper_design=args.paper_design, models=args.models,
                    scheduler=args.scheduler, cluster=args.cluster,
                    notebooks=not args.no_notebooks, min_confidence=args.min_confidence,
                    allow_short=args.allow_short)
    print(log.to_string(index=False))
    wall, steps = time.perf_counter() - start, log.seconds.sum()
    beside = (f" (the steps' own times add up to {steps:.0f} s: some ran side by side)"
              if steps > 1.05 * wall + 1 else "")
    print(f"total {wall:.0f} s{beside}; {(log.status == 'ran').sum()} of {len(log)} steps "
          "ran, the others were up to date")
    if not args.no_book:
        print("book: open _build/html/index.html")
    return 0


def _cmd_notebooks(args) -> int:
    from .book.notebooks import run_notebooks

    for path in run_notebooks(profile=args.profile, model=args.model, data=args.data,
                              results_dir=args.results, out_dir=args.out, names=args.only,
                              subjects=args.subjects, reuse=args.reuse):
        print(f"wrote {path}")
    return 0


def _resampling(p, seed_help: str = "seed of all resampling") -> None:
    """--n-perm, --n-boot and --seed, shared by the analyses that resample."""
    p.add_argument("--n-perm", type=_count(1), default=1000, help="permutations (default: 1000)")
    p.add_argument("--n-boot", type=_count(1), default=1000, help="bootstrap resamples (default: 1000)")
    p.add_argument("--seed", type=_count(0), default=0, help=seed_help)


def _add_models(sub) -> None:
    """``advlib models``."""
    p = sub.add_parser("models", help="list the available models and their 8 readout layers",
                       description="List the available models and their readout layers.")
    p.set_defaults(func=_cmd_models)

def _add_design_counts(sub) -> None:
    """``advlib design-counts``."""
    from .cnn.models import MODELS
    from .cnn.selection import PAPER_SUPERCLASSES

    p = sub.add_parser("design-counts", help="images per superclass a folder gives the paper's "
                       "design at several thresholds",
                       description="One forward pass over an image folder: per confidence "
                       "threshold, how many images of each superclass are top-1 correct with "
                       "P(true) above it (one per category, at most --n-per-class).")
    p.add_argument("--model", default="efficientnet_lite0", choices=MODELS)
    p.add_argument("--images", type=_path, required=True, metavar="FOLDER|CSV|embedded")
    p.add_argument("--thresholds", type=float, nargs="+", default=[0.99, 0.9, 0.5])
    p.add_argument("--superclasses", nargs="+", default=list(PAPER_SUPERCLASSES),
                   metavar="NAME", help="default: the paper's five")
    p.add_argument("--n-per-class", type=_count(1), default=8)
    p.add_argument("--first-full", action="store_true",
                   help="print only the first threshold that fills the design (the table "
                   "goes to stderr); exit 2 if none does")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: auto)")
    p.set_defaults(func=_cmd_design_counts)

def _add_stimuli(sub) -> None:
    """``advlib stimuli``."""
    from .cnn.models import MODELS

    p = sub.add_parser("stimuli", help="select RE images and generate AN and AI images (Fig 1)",
                       description="Select regular images, generate adversarial noise (AN) and "
                       "adversarial interference (AI) images, write DIR/manifest.csv, PNGs and "
                       "provenance.json. An up-to-date set is reused unless --force.")
    p.add_argument("--model", default="efficientnet_lite0", choices=MODELS,
                   help="network (default: %(default)s, embedded weights)")
    p.add_argument("--out", type=_path, required=True, metavar="DIR", help="output folder")
    p.add_argument("--images", type=_path, default="embedded", metavar="FOLDER|CSV",
                   help="'embedded' (20 photos shipped in foolbox), a folder of class "
                   "subfolders, or a CSV of path,label (default: %(default)s)")
    p.add_argument("--n-images", type=_count(1), default=None, metavar="N",
                   help="at most N regular images (default: all that pass the criteria)")
    p.add_argument("--seed", type=_count(0), default=0, help="seed for AI target classes")
    p.add_argument("--min-size", type=_count(1), default=227,
                   help="both image sides must exceed this (default: %(default)s, the paper's)")
    p.add_argument("--min-confidence", type=float, default=None,
                   help="require P(true class) above this (paper: 0.99; default: top-1 correct)")
    p.add_argument("--no-require-correct", action="store_true",
                   help="do not require top-1 correct classification of RE images")
    p.add_argument("--superclasses", nargs="+", default=None,
                   metavar="NAME", help="restrict to these superclasses (dogs, birds, cars, "
                   "fruits, 'aquatic animals')")
    p.add_argument("--n-per-class", type=_count(1), default=None,
                   help="images per superclass (with --superclasses; paper: 8)")
    p.add_argument("--allow-short", action="store_true",
                   help="go on with fewer images than --n-per-class / --n-images ask for "
                   "(recorded as a deviation; default: stop with the count per superclass)")
    p.add_argument("--threshold", type=float, default=0.99,
                   help="target confidence for AN and AI images (default: %(default)s)")
    p.add_argument("--max-steps", type=_count(1), default=300,
                   help="optimizer step budget per image (default: %(default)s)")
    p.add_argument("--batch-size", type=_count(1), default=8, help="images optimized together")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: auto)")
    p.add_argument("--force", action="store_true", help="rebuild even if up to date")
    p.set_defaults(func=_cmd_stimuli)

def _add_cnn_rsa(sub) -> None:
    """``advlib cnn-rsa``."""
    from .analysis.rsa import COMPARISONS, METRICS
    from .cnn.models import MODELS

    p = sub.add_parser("cnn-rsa", help="RE-AN and RE-AI RDM similarity per layer (Fig 2B, Fig 5)",
                       description="RDMs of the RE, AN and AI images in each of the 8 layers, "
                       "RE-AN and RE-AI similarity with permutation tests, image-bootstrap CIs "
                       "and difference test, Mann-Kendall trends. Writes "
                       "RESULTS/MODEL/cnn_rsa.csv and cnn_trend.csv (RESULTS/MODEL/on-NAME-HASH/ for another "
                       "stimulus set); features are cached.")
    p.add_argument("--model", default="efficientnet_lite0", choices=MODELS)
    p.add_argument("--stimuli", type=_path, default=None, metavar="DIR",
                   help="stimulus folder (default: RESULTS/MODEL/stimuli; another set's results go "
                   "to RESULTS/MODEL/on-NAME-HASH/, see advlib.layout)")
    p.add_argument("--results", type=_path, default="results", metavar="RESULTS", help="results root")
    _resampling(p)
    p.add_argument("--metric", default="correlation", choices=METRICS, help="RDM dissimilarity")
    p.add_argument("--method", default="spearman", choices=COMPARISONS, help="RDM comparison")
    p.add_argument("--ci-level", type=float, default=0.95, help="bootstrap CI level")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: auto)")
    p.set_defaults(func=_cmd_cnn_rsa)

def _add_simulate(sub) -> None:
    """``advlib simulate``."""
    p = sub.add_parser("simulate", help="simulated observer: time series -> GLM betas (Fig 2A data)",
                       description="Simulate subjects of the paper's fMRI experiment viewing a "
                       "stimulus set (image-computable model of early visual cortex, BOLD noise), "
                       "estimate single-trial betas with the GLM, and write the documented "
                       "subject folders. The data are SIMULATED, not human fMRI data.")
    p.add_argument("--stimuli", type=_path, required=True, metavar="DIR", help="stimulus folder")
    p.add_argument("--out", type=_path, default="results/simulated", metavar="DIR", help="dataset folder")
    p.add_argument("--subjects", type=_count(1), nargs="+", default=[1, 2, 3],
                   help="subject numbers (default: 1 2 3, as in the paper)")
    p.add_argument("--snr", type=_positive, default=SIMULATION_SPEC["snr"],
                   help="response amplitude / noise SD (default: %(default)s)")
    p.add_argument("--spacing", type=_positive, default=SIMULATION_SPEC["spacing"],
                   help="vertex spacing in mm (schematic surface only)")
    p.add_argument("--surface", choices=SURFACES, default=DEFAULT_SURFACE,
                   help="the observer's cortex: the schematic flat patch, or fsaverage5's flat "
                   "maps with a retinotopic template (about 2.7 mm between vertices: select "
                   "with a larger --radius there) (default: %(default)s)")
    p.add_argument("--max-pcs", type=_count(0), default=SIMULATION_SPEC["max_pcs"], help="largest "
                   "number of GLMdenoise "
                   "noise regressors tried per run")
    p.add_argument("--seed", type=_count(0), default=SIMULATION_SPEC["seed"], help="dataset seed")
    p.add_argument("--save-timeseries", action="store_true",
                   help="also write the time series (the alternative input format)")
    p.add_argument("--force", action="store_true", help="re-simulate even if up to date")
    p.set_defaults(func=_cmd_simulate)

def _add_select(sub) -> None:
    """``advlib select``."""
    p = sub.add_parser("select", help="searchlight reliability and vertex selection per ROI",
                       description="For every vertex, the Spearman correlation of the "
                       "presentation-1 and -2 RE RDMs in a geodesic disk; the most reliable "
                       "vertices of each ROI (half per hemisphere). Works on any dataset in "
                       "the documented format.")
    p.add_argument("--data", type=_path, required=True, metavar="DIR", help="dataset folder (sub-XX/...)")
    p.add_argument("--out", type=_path, default=None, metavar="DIR",
                   help="output root (default: RESULTS/selection/DATASET-HASH, advlib.layout; "
                   "never --data)")
    p.add_argument("--results", type=_path, default="results", metavar="RESULTS", help="results root")
    p.add_argument("--force", action="store_true", help="recompute an up-to-date selection")
    p.add_argument("--subjects", nargs="+", default=None, metavar="sub-XX",
                   help="subject folders (default: all)")
    p.add_argument("--n-vertices", type=int, default=200, choices=(200, 400),
                   help="vertices per ROI, both hemispheres (200; 400 for Fig S2)")
    p.add_argument("--radius", type=_positive, default=3.0, help="disk radius in mm (default: 3)")
    p.set_defaults(func=_cmd_select)

def _add_brain_rsa(sub) -> None:
    """``advlib brain-rsa``."""
    p = sub.add_parser("brain-rsa", help="RE-AN and RE-AI similarity per subject and ROI, "
                       "searchlight maps (Fig 3, Fig 4, Fig S2)",
                       description="ROI RSA on the selected vertices of each subject of a dataset "
                       "(simulated or real, documented format) with permutation tests, image "
                       "bootstrap difference test, vertex-bootstrap CIs and noise ceiling; "
                       "searchlight maps. Writes RESULTS/MODEL/DATASET-HASH/brain_rsa.csv (advlib.layout).")
    _dataset_arguments(p, "names the results folder and the stimulus set")
    p.add_argument("--n-vertices", type=int, default=200, choices=(200, 400),
                   help="selected vertices per ROI (400: Fig S2)")
    _resampling(p)
    p.add_argument("--ci-level", type=float, default=0.68, help="vertex-bootstrap CI level")
    p.add_argument("--no-searchlight", action="store_true", help="skip the Fig 4 maps")
    p.set_defaults(func=_cmd_brain_rsa)

def _add_encode(sub) -> None:
    """``advlib encode``."""
    from .layout import ENCODERS

    p = sub.add_parser("encode", help="encoding models CNN layer -> vertices, trained on RE, "
                       "tested on AI and AN (Fig 6, Fig S1)",
                       description="Per subject, ROI and layer: a sparse (ROMP) or ridge encoding "
                       "model trained on the RE images, its prediction accuracy on AI and AN "
                       "images with permutation tests, 80%%-vertex bootstrap CIs and the AI vs "
                       "AN difference; the per-vertex best layer (Fig S1). Writes "
                       "RESULTS/MODEL/DATASET-HASH/encoding.csv and layer_assignment.csv.")
    _dataset_arguments(p, "network whose layers are the features (and its stimulus set)")
    p.add_argument("--solver", default="romp", choices=ENCODERS,
                   help="sparse ROMP (the paper) or himalaya kernel ridge")
    p.add_argument("--n-nonzero", default="cv", metavar="S", type=_sparsity,
                   help='ROMP sparsity level, or "cv" (default) to choose it from 1, 2, 4, 8 '
                   "by cross-validation on the RE images")
    p.add_argument("--n-folds", type=_count(2), default=5, help="cross-validation folds (default: 5)")
    p.add_argument("--subjects", nargs="+", default=None, metavar="SUB",
                   help="subject folders (default: all)")
    p.add_argument("--n-vertices", type=_count(2), default=200,
                   help="selected vertices per ROI (both hemispheres; even)")
    _resampling(p, "seed of folds and resampling")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: auto for the "
                   "model, CPU for ROMP)")
    p.set_defaults(func=_cmd_encode)

def _add_reproduce(sub) -> None:
    """``advlib reproduce``."""
    from .book.notebooks import PROFILES
    from .book.pipeline import CLUSTERS
    from .cnn.models import MODELS

    p = sub.add_parser("reproduce", help="the whole chain, stimuli to book, redoing only what "
                       "is out of date",
                       description="stimuli -> features -> CNN RSA -> per subject (simulate or "
                       "load -> betas -> selection -> brain RSA -> searchlight -> encoding) -> "
                       "notebooks (papermill, one per notebook x subject x model) -> Jupyter "
                       "Book. Each stage is skipped when its cached output was made from the "
                       "same parameters and inputs.")
    p.add_argument("--model", default="efficientnet_lite0", choices=MODELS)
    p.add_argument("--data", type=_path, default="simulated", metavar="DIR|simulated",
                   help="'simulated' (default) or a real dataset folder")
    p.add_argument("--subjects", nargs="+", type=_count(1), default=None, metavar="N",
                   help="simulated subjects (default: the profile's; 1 2 3 for full)")
    p.add_argument("--profile", default="full", choices=tuple(PROFILES))
    p.add_argument("--jobs", type=_count(1), default=1, help="parallel per-subject processes")
    p.add_argument("--results", type=_path, default="results", metavar="DIR", help="results root")
    p.add_argument("--out", type=_path, default=PAGES_FOLDER, metavar="DIR",
                   help="executed notebooks (the book's source tree)")
    p.add_argument("--no-book", action="store_true", help="stop before the Jupyter Book build")
    p.add_argument("--images", type=_path, default=None, metavar="DIR|CSV|embedded",
                   help="regular images: 'embedded' (default), a folder (class subfolders, or "
                   "files named <WordNet id>_*.JPEG) or a path,label CSV")
    p.add_argument("--paper-design", action="store_true",
                   help="the paper's images: 5 superclasses x 8 categories, P > 0.99")
    p.add_argument("--min-confidence", type=float, default=None,
                   help="P(true class) a regular image must exceed, instead of the design's "
                   "(below the paper's 0.99 the book reports a deviation)")
    p.add_argument("--allow-short", action="store_true",
                   help="go on when fewer images pass than the design asks for (a recorded "
                   "deviation; default: the stimulus stage stops with the counts)")
    p.add_argument("--models", nargs="+", default=None, choices=MODELS, metavar="MODEL",
                   help="several networks (the book's chapters are the first one's; a "
                   "chapter compares them all)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="run every step as a task on this Dask scheduler "
                       "(tcp://host:8786)")
    where.add_argument("--cluster", default=None, choices=CLUSTERS,
                       help="start a Dask cluster: --jobs local worker processes, or batch "
                       "jobs through dask-jobqueue (options from the Dask configuration)")
    p.add_argument("--no-notebooks", action="store_true",
                   help="stop after the analysis stages (no notebooks, no book)")
    p.set_defaults(func=_cmd_reproduce)

def _add_notebooks(sub) -> None:
    """``advlib notebooks``."""
    from .book.notebooks import PROFILES
    from .cnn.models import MODELS

    p = sub.add_parser("notebooks", help="execute the notebooks with papermill for the book",
                       description="Execute the parameterized notebooks under a profile "
                       "(full: the paper's settings; smoke: tiny, for CI) into --out.")
    p.add_argument("--profile", default="full", choices=tuple(PROFILES))
    p.add_argument("--model", default="efficientnet_lite0", choices=MODELS)
    p.add_argument("--results", type=_path, default="results", metavar="DIR", help="results root")
    p.add_argument("--out", type=_path, default=PAGES_FOLDER, metavar="DIR",
                   help="where executed notebooks go (default: %(default)s)")
    p.add_argument("--only", nargs="+", default=None, metavar="NAME",
                   help="run only these notebooks (file stems)")
    p.add_argument("--data", type=_path, default="simulated", metavar="DIR|simulated",
                   help="'simulated' (default) or a real dataset folder")
    p.add_argument("--subjects", nargs="+", default=None, metavar="N|sub-XX",
                   help="re-execute only the per-subject pages (03_fmri_sub-XX) of these "
                   "subjects, e.g. --subjects 2 3; the other pages are left as they are")
    p.add_argument("--reuse", action="store_true",
                   help="leave a page whose record (.stages/NAME.json) is up to date: same "
                   "notebook, parameters and advlib code (not the results it reads)")
    p.set_defaults(func=_cmd_notebooks)

def _layout_arguments(p, format_help: str, data_help: str, out_help: str) -> None:
    """--format, --data, --out and --subjects of the commands that convert layouts."""
    from .fmri.formats import FORMATS

    p.add_argument("--format", required=True, choices=FORMATS, help=format_help)
    p.add_argument("--data", type=_path, required=True, metavar="DIR", help=data_help)
    p.add_argument("--out", type=_path, required=True, metavar="DIR", help=out_help)
    p.add_argument("--subjects", nargs="+", default=None, metavar="sub-XX",
                   help="subject folders (default: all)")


def _add_export_example(sub) -> None:
    """``advlib export-example``."""
    p = sub.add_parser("export-example", help="write a dataset in a field layout (BIDS + GIFTI, "
                       "GLMsingle outputs): an example of what import-data reads",
                       description="Write the subjects of a dataset in the documented format "
                       "(e.g. simulated with `advlib simulate --save-timeseries`) in a field "
                       "layout: GIFTI flat patches and ROI labels, BIDS events.tsv per run, and "
                       "GIFTI betas and time series (bids-gifti) or a GLMsingle output file "
                       "(glmsingle). See the book's data-format page.")
    _layout_arguments(p, "the layout to write", "dataset in the documented format",
                      "the new dataset folder (replaced whole)")
    p.add_argument("--task", default="adv", help="BIDS task label (default: %(default)s)")
    p.set_defaults(func=_cmd_export_example)


def _add_import_data(sub) -> None:
    """``advlib import-data``."""
    p = sub.add_parser("import-data", help="read a lab's BIDS + GIFTI or GLMsingle dataset into "
                       "the documented format",
                       description="Read every subject of a dataset in a field layout (GIFTI "
                       "surfaces and labels, BIDS events, GIFTI betas or time series, or "
                       "GLMsingle outputs), check it, and write it in the documented format that "
                       "every analysis reads. Nothing is written when a subject is refused.")
    _layout_arguments(p, "the layout to read", "the lab's dataset",
                      "the new dataset folder in the documented format (replaced whole)")
    p.add_argument("--stimuli", type=_path, default=None, metavar="DIR",
                   help="the stimulus set the subjects saw: events are checked against it and "
                   "dataset.json records it")
    p.set_defaults(func=_cmd_import_data)


#: One builder per subcommand, in the order ``advlib --help`` lists them.
_SUBCOMMANDS = (
    _add_models, _add_design_counts, _add_stimuli, _add_cnn_rsa, _add_simulate, _add_select,
    _add_brain_rsa, _add_encode, _add_reproduce, _add_notebooks, _add_export_example,
    _add_import_data)


def build_parser() -> argparse.ArgumentParser:
    """The ``advlib`` argument parser with all subcommands."""
    parser = argparse.ArgumentParser(
        prog="advlib", description="Replication of Zhang et al.: adversarial images in "
        "CNNs and the human brain. Each subcommand has its own --help.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in _SUBCOMMANDS:
        add(sub)
    return parser


class _Terminated(KeyboardInterrupt):
    """SIGTERM (sent by ``timeout``, Slurm, systemd), raised like Ctrl-C so that every
    ``finally`` runs: partial folders and locks are removed as on an interrupt."""


def _on_sigterm(signum, frame):
    raise _Terminated


def main(argv=None) -> int:
    """Entry point of the ``advlib`` command.

    Returns 0 on success, 2 on a refused input or a failed step (one line on stderr),
    130 on Ctrl-C and 143 on SIGTERM (one line; what was being written is removed).
    """
    import signal
    import threading

    parser = build_parser()
    args = parser.parse_args(argv)
    tune_allocator()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        _check_paths(args)
        return args.func(args)
    except KeyboardInterrupt as exc:
        name = "SIGTERM" if isinstance(exc, _Terminated) else "interrupted (Ctrl-C)"
        print(f"advlib {args.command}: {name}: stopped; what was being written was removed, "
              "finished stages are kept (run it again to go on)", file=sys.stderr)
        return 143 if isinstance(exc, _Terminated) else 130
    except AdvlibError as exc:
        print(f"advlib {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:       # not a folder, no permission, disk full: say which file
        from pathlib import Path

        what = exc.strerror or type(exc).__name__
        path = exc.filename
        if isinstance(exc, (FileExistsError, NotADirectoryError)) and path and \
                Path(path).is_file():
            what = "expected a folder, found a file"
        where = f": {path}" if path else ""
        print(f"advlib {args.command}: error: {what}{where}", file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
