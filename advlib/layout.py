"""Where every result lives: the one owner of the results layout.

::

    <results>/<model>/                      the model's analysis root for its own stimulus set
        stimuli/                            the stimulus set (manifest.csv, RE/ AN/ AI/ PNGs)
        features/                           activations of that set (features_<KIND>.npz),
                                            the observer's energy (observer_energy.npz)
        cnn_rsa.csv, cnn_trend.csv, cnn_rdms.npz, cnn_rsa_provenance.json
        <dataset>/                          one folder per dataset (simulated subjects live here)
            sub-XX/                         a simulated subject (data format)
            brain_rsa.csv, brain_rsa_400.csv, searchlight[_400]/, encoding.csv,
            layer_assignment.csv, *_provenance.json (the stage records)
    <results>/<model>/on-<name>-<hash>/     the same tree for another stimulus set

A result's place depends on everything that determines it: the model, the stimulus set
(the model's own set at ``<results>/<model>/stimuli``; any other folder gets its own
``on-<name>-<hash>`` root, the hash of its absolute path), and the dataset (a simulated
dataset is named by its parameters, a real one by its folder name and a hash of its
absolute path). Two different inputs therefore never write to one path; that the contents
on disk were made from the same inputs is checked by each stage's record
(:class:`advlib.provenance.Stage`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import check_choice, expect

__all__ = ["Layout", "ENCODERS", "default_results", "dataset_label", "simulation_spec", "brain_rsa_name",
           "searchlight_name", "analysis_variant", "encoding_name", "SIMULATED", "SIMULATION_SPEC",
           "FOLDER_RECORD", "record_name", "MANIFEST", "SKIPPED_TABLE", "SELECTED_TABLE",
           "FEATURES_FOLDER", "features_name", "OBSERVER_ENERGY", "observer_responses_name", "CNN_RSA_TABLE",
           "CNN_TREND_TABLE", "CNN_RDMS",
           "CNN_RSA_OUTPUTS", "HIT_RSA_TABLE", "HIT_CEILING_TABLE", "HIT_CATEGORIES_TABLE", "HIT_RDMS",
           "HIT_RSA_OUTPUTS", "HIT_IMAGES_ARRAYS", "HIT_IMAGES_TABLE", "HIT_ADVERSARIAL_TABLE",
           "HIT_DIFFERENCES_TABLE", "HIT_AN_CLASSES_TABLE", "HIT_ADVERSARIAL_BOOT",
           "HIT_ADVERSARIAL_OUTPUTS", "CALIBRATION_TABLE", "COVERAGE_TABLE", "seed_table", "seed_record",
           "searchlight_map", "searchlight_vertices", "SELECTION_FOLDER", "RELIABILITY_TABLE",
           "selection_dir", "selection_table", "split_half_table", "selection_record", "page_name",
           "page_record", "BUILD_INFO", "PAGES_FOLDER", "BOOK_RECORD", "DEFAULT_SURFACE",
           "SURFACES"]

#: The ``dataset`` value that means "the simulated observer with the default settings".
SIMULATED = "simulated"

#: Settings of a simulated dataset and their defaults: the one place they are written
#: (``advlib.fmri.simulation``, the CLI and the profiles take them from here).
#: The default simulated dataset. ``snr`` follows the ground-truth study's rule
#: (:data:`advlib.analysis.SNR_RULE`): the smallest SNR of the grid 0.4, 0.8, 1.6, 3.2 at which
#: the default analysis finds RE-AI at p < 0.005 in at least 14 of 15 ROI tests in
#: expectation (measured with the embedded 17-image set, 20 datasets per SNR: 46% at 0.8,
#: 93.0% +- 1.2 at 1.6, 100% at 3.2); the ground-truth chapter re-checks it on every build.
SIMULATION_SPEC = {"seed": 0, "snr": 3.2, "spacing": 1.0, "max_pcs": 10, "design": "paper"}

#: The simulated observer's default cortex (:data:`advlib.fmri.simulation.SURFACES`). A
#: specification carries a ``surface`` key only when it names another one, so that the
#: default datasets' names, records and caches are those of before the option existed.
DEFAULT_SURFACE = "schematic"

#: The simulated observer's cortices: the schematic flat patch and fsaverage5's flat maps
#: with a retinotopic template (:func:`advlib.fmri.simulation.make_cortex`).
SURFACES = ("schematic", "fsaverage5")


def default_results() -> Path:
    """The results root used when none is given.

    ``$ADVLIB_RESULTS`` when set; otherwise ``results/`` in the source checkout that
    advlib is imported from (an editable install: ``make install``, Binder); otherwise
    (advlib installed from a wheel, e.g. on Colab) ``results/`` in the working directory.
    A notebook opened from anywhere therefore finds the results ``make book`` wrote.

    Returns
    -------
    pathlib.Path
        Absolute path.
    """
    env = os.environ.get("ADVLIB_RESULTS")
    if env:
        return Path(env).expanduser().resolve()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "notebooks").is_dir():
        return checkout / "results"
    return Path.cwd().resolve() / "results"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def simulation_spec(dataset) -> dict | None:
    """The full simulated-dataset specification, or ``None`` for a real dataset folder.

    Parameters
    ----------
    dataset : str, path or dict
        ``"simulated"`` (defaults), a dict ``{"kind": "simulated", "subjects": [...],
        "seed", "snr", "spacing", "max_pcs", "design", "surface"}`` (missing keys take
        defaults; ``surface``: the observer's cortex, ``"schematic"`` (default) or
        ``"fsaverage5"``, see :func:`advlib.fmri.simulation.make_cortex`), or the folder
        of a real dataset.

    Returns
    -------
    dict or None
        ``{"kind": "simulated", "subjects": [...], "seed", "snr", "spacing", "max_pcs",
        "design"}``, plus ``"surface"`` when it is not :data:`DEFAULT_SURFACE`.

    Raises
    ------
    InputError
        An unknown key, kind or surface.
    """
    if isinstance(dataset, dict):
        expect(dataset.get("kind", SIMULATED) == SIMULATED, "dataset['kind']",
               dataset.get("kind"), "'simulated' (a real dataset is given by its folder)")
        unknown = set(dataset) - set(SIMULATION_SPEC) - {"kind", "subjects", "surface"}
        expect(not unknown, "dataset", sorted(unknown),
               f"keys from kind, subjects, {', '.join(SIMULATION_SPEC)}, surface")
        spec = {**SIMULATION_SPEC, **{k: v for k, v in dataset.items() if k in SIMULATION_SPEC}}
        subjects = [int(s) for s in dataset.get("subjects", (1, 2, 3))]
        surface = dataset.get("surface", DEFAULT_SURFACE)
        check_choice(surface, "dataset['surface']", SURFACES)
        extra = {} if surface == DEFAULT_SURFACE else {"surface": surface}
        return {"kind": SIMULATED, "subjects": subjects, **spec, **extra}
    if isinstance(dataset, str) and dataset == SIMULATED:
        expect(not Path(SIMULATED).is_dir(), "dataset", SIMULATED,
               "the name of the default simulated dataset, but ./simulated is a folder here: "
               "to analyse that folder give it as a path (./simulated), or rename it")
        return {"kind": SIMULATED, "subjects": [1, 2, 3], **SIMULATION_SPEC}
    return None


def dataset_label(dataset) -> str:
    """The folder name of a dataset's results under an analysis root.

    A simulated dataset is named by its settings (``simulated-seed0-snr3.2-spacing1.0-
    maxpcs10``, with ``-fsaverage5`` appended on that surface; the subjects are folders
    inside it), a real dataset by its folder's name and
    a hash of its absolute path, so that ``/labA/data`` and ``/labB/data`` never share one.
    """
    spec = simulation_spec(dataset)
    if spec is not None:
        return (f"simulated-seed{spec['seed']}-snr{float(spec['snr']):g}-"
                f"spacing{float(spec['spacing']):g}-maxpcs{spec['max_pcs']}"
                + ("" if spec["design"] == "paper" else f"-{spec['design']}")
                + (f"-{spec['surface']}" if "surface" in spec else ""))
    folder = Path(dataset).expanduser().resolve()
    name = f"data-{folder.name}" if folder.name.startswith(SIMULATED) else folder.name
    return f"{name}-{_short_hash(str(folder))}"            # never a simulated dataset's name


@dataclass(frozen=True)
class Layout:
    """The result paths of one model (and one stimulus set) under a results root.

    Parameters
    ----------
    results : path or None
        Results root; ``None``: :func:`default_results`.
    model : str
        Model name.
    stimuli : path, optional
        A stimulus set other than the model's own (``<results>/<model>/stimuli``).
    """

    results: Path | None
    model: str
    stimuli: Path | None = None

    def __post_init__(self):
        root = default_results() if self.results is None else self.results
        object.__setattr__(self, "results", Path(root).expanduser().resolve())
        if self.stimuli is not None:
            object.__setattr__(self, "stimuli", Path(self.stimuli).expanduser().resolve())

    @property
    def model_dir(self) -> Path:
        """``<results>/<model>``."""
        return self.results / self.model

    @property
    def stimuli_dir(self) -> Path:
        """The stimulus set."""
        return self.stimuli if self.stimuli is not None else self.model_dir / "stimuli"

    @property
    def root(self) -> Path:
        """The analysis root of this model and stimulus set."""
        own = self.model_dir / "stimuli"
        if self.stimuli is None or self.stimuli == own:
            return self.model_dir
        return self.model_dir / f"on-{self.stimuli.name}-{_short_hash(str(self.stimuli))}"

    @property
    def calibration_dir(self) -> Path:
        """``<results>/calibration``: the tests' calibration study (model-independent)."""
        return self.results / "calibration"

    @property
    def features_dir(self) -> Path:
        """The feature cache of the stimulus set."""
        return self.root / FEATURES_FOLDER

    @property
    def cnn_rsa(self) -> Path:
        """``cnn_rsa.csv``."""
        return self.root / CNN_RSA_TABLE

    def selection_dir(self, dataset) -> Path:
        """The vertex selection of a dataset's subjects (:func:`selection_dir`; the same for
        every model)."""
        return selection_dir(dataset, self.results)

    def dataset_dir(self, dataset) -> Path:
        """Where a dataset's results go (and a simulated dataset's subjects live).

        A folder given by path that is already a simulated dataset of this root is its own
        results folder.
        """
        if simulation_spec(dataset) is None:
            folder = Path(dataset).expanduser().resolve()
            if folder.parent == self.root and folder.name.startswith(f"{SIMULATED}-"):
                return folder
        return self.root / dataset_label(dataset)

    def study_dir(self, params: dict) -> Path:
        """``<root>/ground_truth-<hash>``: the ground-truth study of these parameters
        (:func:`advlib.analysis.observer_study`); another set of parameters, another folder."""
        return self.root / f"ground_truth-{_short_hash(json.dumps(params, sort_keys=True))}"

    def data_dir(self, dataset) -> Path:
        """The dataset's subject folders: simulated under :meth:`dataset_dir`, else its own."""
        if simulation_spec(dataset) is not None:
            return self.dataset_dir(dataset)
        return Path(dataset).expanduser().resolve()

    def brain_rsa(self, dataset, n_vertices: int = 200, variant: str = "") -> Path:
        """``brain_rsa[_<variant>][_<n>].csv`` (see :func:`analysis_variant`)."""
        return self.dataset_dir(dataset) / brain_rsa_name(n_vertices, variant)

    def encoding(self, dataset, solver: str = "romp", variant: str = "") -> Path:
        """``encoding[_<solver>][_<variant>].csv``."""
        return self.dataset_dir(dataset) / encoding_name(solver, "encoding", variant)


def analysis_variant(normalize: str = "center", within_session: bool = True) -> str:
    """Name of a brain-analysis variant in file names.

    ``""`` for the default (betas centred within session, permutations within session),
    ``"published"`` for the paper's pipeline (no normalisation, permutations across
    sessions), else ``"<normalize>-<within|across>"``.
    """
    if normalize == "center" and within_session:
        return ""
    if normalize == "none" and not within_session:
        return "published"
    return f"{normalize}-{'within' if within_session else 'across'}"


def selection_dir(dataset, results=None) -> Path:
    """``<results>/selection/<dataset label>``: where :func:`advlib.fmri.select_dataset`
    writes a dataset's vertex selection (one folder per subject).

    The selection depends on the subjects' betas only, not on a network, so it lies outside
    every model's root; never inside the dataset folder (a user's data stay as they were).

    Parameters
    ----------
    dataset : path
        The dataset folder (named by :func:`dataset_label`: its name and a hash of its path).
    results : path, optional
        Results root (default: :func:`default_results`).

    Returns
    -------
    pathlib.Path
        Absolute path.
    """
    root = default_results() if results is None else Path(results).expanduser().resolve()
    return root / SELECTION_FOLDER / dataset_label(dataset)


def _with(stem: str, variant: str, n_vertices: int) -> str:
    return stem + (f"_{variant}" if variant else "") + (
        "" if n_vertices == 200 else f"_{n_vertices}")


def brain_rsa_name(n_vertices: int = 200, variant: str = "") -> str:
    """File name of the brain RSA table for ``n_vertices`` per ROI and an analysis variant."""
    return _with("brain_rsa", variant, n_vertices) + ".csv"


def searchlight_name(n_vertices: int = 200, variant: str = "") -> str:
    """Folder name of the searchlight maps written with that brain RSA."""
    return _with("searchlight", variant, n_vertices)


#: The encoding models by name (:func:`advlib.analysis.make_encoder`), each with its own
#: tables (:func:`encoding_name`). Named here, where no network library is imported, so that
#: parsing a command line or reading a table that is made imports no torch.
ENCODERS = ("romp", "ridge")


def encoding_name(solver: str = "romp", table: str = "encoding", variant: str = "") -> str:
    """File name of an encoding table (``encoding`` or ``layer_assignment``) for a solver
    and an analysis variant."""
    return (table + ("" if solver == "romp" else f"_{solver}")
            + (f"_{variant}" if variant else "") + ".csv")


# --- file names inside a stage's folder: the one place each is spelled ------------------------
# A stage writes its outputs by these names under the folder a Layout method gives (or under
# the temporary folder of Stage.run); readers find them by the same names. A test
# (tests/test_layout.py) fails on a result file name spelled anywhere else in advlib.

#: The record of a folder stage (inside the folder it writes).
FOLDER_RECORD = "provenance.json"


def record_name(stage: str) -> str:
    """``<stage>_provenance.json``: the record of a stage that writes named files (a glob
    pattern such as ``"brain_rsa*"`` gives the pattern of several)."""
    return f"{stage}_provenance.json"


#: The stimulus set (a folder stage): its manifest (the documented stimulus-set format, read
#: by every consumer of a set), the source images left out and the RE selection.
MANIFEST = "manifest.csv"
SKIPPED_TABLE = "skipped.csv"
SELECTED_TABLE = "selection.csv"


#: The feature cache of a stimulus set, under :attr:`Layout.root`.
FEATURES_FOLDER = "features"


def features_name(kind: str) -> str:
    """``features_<kind>.npz``: the activations of one image kind in the feature cache."""
    return f"features_{kind}.npz"


#: The simulated observer's Gabor energy of a stimulus set, in its feature cache
#: (:func:`advlib.fmri.simulation.stimulus_energy`): computed once, read by the subjects
#: and by every process of the ground-truth study.
OBSERVER_ENERGY = "observer_energy.npz"


def observer_responses_name(params: dict) -> str:
    """``observer_responses-<hash>.npz``: one simulated subject's noise-free neural
    responses to a stimulus set, in its feature cache
    (:func:`advlib.fmri.simulation.observer_subject`); other subject parameters or another
    energy, another file."""
    return f"observer_responses-{_short_hash(json.dumps(params, sort_keys=True))}.npz"


#: The CNN RSA stage (:func:`advlib.analysis.cnn_rsa`) under :attr:`Layout.root`.
CNN_RSA_TABLE = "cnn_rsa.csv"
CNN_TREND_TABLE = "cnn_trend.csv"
CNN_RDMS = "cnn_rdms.npz"
CNN_RSA_OUTPUTS = (CNN_RSA_TABLE, CNN_TREND_TABLE, CNN_RDMS)

#: The hIT RSA stage (:func:`advlib.analysis.hit_rsa`) under the RDM folder's results.
HIT_RSA_TABLE = "hit_rsa.csv"
HIT_CEILING_TABLE = "hit_ceiling.csv"
HIT_CATEGORIES_TABLE = "hit_categories.csv"
HIT_RDMS = "hit_rdms.npz"
HIT_RSA_OUTPUTS = (HIT_RSA_TABLE, HIT_CEILING_TABLE, HIT_CATEGORIES_TABLE, HIT_RDMS)

#: The AI/AN versions of the RDM images (:func:`advlib.analysis.hit_images`).
HIT_IMAGES_ARRAYS = "hit_images.npz"
HIT_IMAGES_TABLE = "hit_images.csv"

#: RE/AI/AN against the brain RDMs (:func:`advlib.analysis.hit_adversarial`).
HIT_ADVERSARIAL_TABLE = "hit_adversarial.csv"
HIT_DIFFERENCES_TABLE = "hit_differences.csv"
HIT_AN_CLASSES_TABLE = "hit_an_classes.csv"
HIT_ADVERSARIAL_BOOT = "hit_adversarial_boot.npz"
HIT_ADVERSARIAL_OUTPUTS = (HIT_ADVERSARIAL_TABLE, HIT_DIFFERENCES_TABLE, HIT_AN_CLASSES_TABLE,
                           HIT_ADVERSARIAL_BOOT)

#: The calibration study (:func:`advlib.analysis.calibration_study`) under
#: :attr:`Layout.calibration_dir`.
CALIBRATION_TABLE = "calibration.csv"
COVERAGE_TABLE = "coverage.csv"


def _seed(seed: int) -> str:
    return f"seed-{int(seed):03d}"


def seed_table(seed: int) -> str:
    """``seed-XXX.csv``: one seed of the ground-truth study (under :meth:`Layout.study_dir`)."""
    return f"{_seed(seed)}.csv"


def seed_record(seed: int) -> str:
    """``seed-XXX_provenance.json``: that seed's stage record."""
    return record_name(_seed(seed))


def searchlight_map(subject: str) -> str:
    """``<subject>.npz``: a subject's searchlight maps in a :func:`searchlight_name` folder
    (``"*"`` gives the glob pattern of every subject's)."""
    return f"{subject}.npz"


def searchlight_vertices(subject: str) -> str:
    """``<subject>_vertices.csv``: the vertices of those maps."""
    return f"{subject}_vertices.csv"


#: The vertex selection (:func:`advlib.fmri.select_dataset`): a folder per subject under
#: :meth:`Layout.selection_dir`, holding the reliability map and one selection per size.
SELECTION_FOLDER = "selection"
RELIABILITY_TABLE = "reliability.csv"


def selection_table(n_vertices: int) -> str:
    """``selection_<n>.csv``: the ``n_vertices`` per ROI selected."""
    return f"selection_{int(n_vertices)}.csv"


def split_half_table(n_vertices: int) -> str:
    """``split_half_<n>.csv``: the split-half reliability of that selection."""
    return f"split_half_{int(n_vertices)}.csv"


def selection_record(n_vertices: int) -> str:
    """``selection_<n>_provenance.json``: the stage record of that selection."""
    return record_name(f"selection_{int(n_vertices)}")


#: The executed pages of the book, relative to the checkout (the book is built from them).
PAGES_FOLDER = "book/generated"

#: ``build_info.json``: what a ``reproduce`` run did, beside the executed pages.
BUILD_INFO = "build_info.json"

#: The HTML build's record, relative to the book's root (inside Jupyter Book's own output
#: folder): the key of the sources the HTML was built from.
BOOK_RECORD = "_build/html/advlib_book.json"


def page_name(output: str) -> str:
    """``<output>.ipynb``: an executed notebook page (or a notebook's source)."""
    return f"{output}.ipynb"


def page_record(output: str) -> str:
    """``.stages/<output>.json``: the stage record of an executed page, beside the pages
    (hidden from the book)."""
    return f".stages/{output}.json"
