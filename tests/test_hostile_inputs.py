"""The hostile-input sweep: each case gives a clear error (exit status 2, no traceback, the
parameter and what was expected) or the correct result, and nothing outside the tool's own
outputs changes. Most cases run the command line in-process (``advlib.cli.main``)."""
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from advlib.cli import main
from advlib.errors import InputError, StimulusError
from advlib.fmri import DataError, conditions_from_names, load_subject, write_subject
from advlib.fmri.simulation import make_hemisphere


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*")}


def _run(capsys, argv) -> tuple[int, str]:
    """Exit status and stderr of ``advlib ARGV``; argparse usage errors exit too."""
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return rc, err


# --- numbers the command line refuses ---------------------------------------------------

@pytest.mark.parametrize("argv, words", [
    (["stimuli", "--out", "x", "--seed", "-1"], "--seed: -1: expected an integer >= 0"),
    (["cnn-rsa", "--seed", "-1"], "--seed: -1: expected an integer >= 0"),
    (["simulate", "--stimuli", "s", "--seed", "-1"], "--seed: -1: expected an integer >= 0"),
    (["simulate", "--stimuli", "s", "--max-pcs", "-1"], "--max-pcs: -1: expected an integer"),
    (["simulate", "--stimuli", "s", "--snr", "inf"], "--snr: inf: expected a finite number > 0"),
    (["simulate", "--stimuli", "s", "--snr", "0"], "--snr: 0: expected a finite number > 0"),
    (["simulate", "--stimuli", "s", "--spacing", "nan"], "--spacing: nan: expected a finite"),
    (["encode", "--data", "d", "--n-vertices", "0"], "--n-vertices: 0: expected an integer >= 2"),
    (["brain-rsa", "--data", "d", "--n-perm", "0"], "--n-perm: 0: expected an integer >= 1"),
    (["reproduce", "--jobs", "0"], "--jobs: 0: expected an integer >= 1"),
])
def test_bad_numbers_are_usage_errors(capsys, tmp_path, monkeypatch, argv, words):
    monkeypatch.chdir(tmp_path)
    rc, err = _run(capsys, argv)
    assert rc == 2 and words in err
    assert _snapshot(tmp_path) == {}                      # nothing was written


def test_library_refuses_the_same_values():
    from advlib.fmri.simulation import simulate_dataset, simulate_subject

    with pytest.raises(InputError, match=r"subjects=\[1, 1\]: expected distinct subject"):
        simulate_dataset("nowhere", "out", subjects=[1, 1])
    with pytest.raises(InputError, match="seed=-1: expected an integer >= 0"):
        simulate_dataset("nowhere", "out", subjects=[1], seed=-1)
    with pytest.raises(InputError, match="snr=inf: expected a finite number > 0"):
        simulate_subject("nowhere", "out", 1, snr=float("inf"))
    with pytest.raises(InputError, match="max_pcs=-1: expected an integer >= 0"):
        simulate_subject("nowhere", "out", 1, max_pcs=-1)


def test_n_per_class_without_superclasses_is_refused(capsys, tmp_path):
    rc, err = _run(capsys, ["stimuli", "--out", str(tmp_path / "s"), "--n-per-class", "8"])
    assert rc == 2 and "--n-per-class=8: expected --superclasses as well" in err
    assert not (tmp_path / "s").exists()


def test_vertex_count_is_named_as_the_user_gave_it():
    from advlib.fmri import check_vertex_count

    for bad in (0, 3, -2, 2.0, True):
        with pytest.raises(InputError, match=f"n_vertices={bad!r}: expected an even number"):
            check_vertex_count(bad)
    assert check_vertex_count(200) == 200


def test_no_cuda_device_is_a_clear_error():
    import torch

    from advlib.cnn import load_model

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    with pytest.raises(InputError, match="device='cuda': expected a CUDA device, but torch "
                                         "finds none"):
        load_model("efficientnet_lite0", device="cuda")


# --- files that are not what they claim --------------------------------------------------

def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims width x height (PIL checks the size before decoding)."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
                     chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))
    return path


def test_decompression_bomb_is_skipped_with_its_reason(tmp_path):
    from advlib.cnn.images import read_image

    bomb = _png_header_only(tmp_path / "n01440764_huge.png", 14000, 14000)
    with pytest.raises(StimulusError, match="image too large to read safely"):
        read_image(bomb)


def test_16_bit_png_keeps_its_levels(tmp_path):
    from advlib.cnn.images import read_image

    levels = np.full((300, 300), 32768, dtype=np.uint16)
    levels[:, :150] = 8192
    Image.fromarray(levels).save(tmp_path / "grey16.png")
    rgb, note = read_image(tmp_path / "grey16.png")
    pixels = np.asarray(rgb)
    assert pixels[0, 0, 0] == 32 and pixels[0, 299, 0] == 128       # 8192/257, 32768/257
    assert "16-bit levels scaled to 8 bits" in note


def test_not_a_numpy_file_is_a_data_error(tmp_path):
    cortex = make_hemisphere("lh", spacing=3.0, seed=0)
    names = [f"{k}{i:02d}_p{p}" for k in ("re", "an", "ai") for i in range(4) for p in (1, 2)]
    betas = pd.DataFrame(np.random.default_rng(0).normal(size=(len(names), len(cortex.vertices))),
                         index=names)
    folder = write_subject(tmp_path / "sub-01", betas, conditions_from_names(names),
                           cortex.vertices, cortex.faces)
    (folder / "betas.npy").write_text("these are not betas")
    with pytest.raises(DataError, match=r"betas=.*expected a numpy .npy array file"):
        load_subject(folder)


def test_a_file_in_place_of_a_folder_exits_2(capsys, tmp_path):
    (tmp_path / "file.txt").write_text("keep me")
    before = _snapshot(tmp_path)
    rc, err = _run(capsys, ["stimuli", "--out", str(tmp_path / "file.txt" / "set"),
                            "--n-images", "1", "--max-steps", "1"])
    assert rc == 2 and "expected a folder, found a file" in err and "file.txt" in err
    assert _snapshot(tmp_path) == before and (tmp_path / "file.txt").read_text() == "keep me"


# --- degenerate fMRI data ----------------------------------------------------------------

@pytest.fixture
def parts():
    cortex = make_hemisphere("lh", spacing=3.0, seed=0)
    names = [f"{k}{i:02d}_p{p}" for k in ("re", "an", "ai") for i in range(4) for p in (1, 2)]
    names.append("blank")
    betas = pd.DataFrame(np.random.default_rng(0).normal(size=(len(names), len(cortex.vertices))),
                         index=names)
    return betas, conditions_from_names(names), cortex.vertices, cortex.faces


@pytest.mark.parametrize("damage, words", [
    (lambda b: b.iloc.__setitem__((slice(None), slice(None)), 1.0),
     "every vertex has the same value in every image condition"),
    (lambda b: b.iloc.__setitem__((3, slice(None)), np.nan),
     r"no finite value for condition\(s\) \['re01_p2'\]"),
    (lambda b: b.iloc.__setitem__((slice(None), slice(None)), np.nan),
     "every value NaN or infinite"),
])
def test_degenerate_betas_are_refused(tmp_path, parts, damage, words):
    betas, cond, verts, faces = parts
    betas = betas.copy()
    damage(betas)
    folder = write_subject(tmp_path / "sub-01", betas, cond, verts, faces)
    with pytest.raises(DataError, match=words):
        load_subject(folder)


# --- pairing a dataset with its stimulus set ---------------------------------------------

def test_a_dataset_made_for_another_stimulus_set_is_refused(tmp_path):
    import json

    from advlib.fmri import check_pairing
    from advlib.provenance import file_sha256

    stim = tmp_path / "stimuli"
    stim.mkdir()
    (stim / "manifest.csv").write_text("image_id\nre00\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "dataset.json").write_text(json.dumps(
        {"stimulus_manifest_sha256": file_sha256(stim / "manifest.csv")}))
    assert check_pairing(data, stim) is True
    (stim / "manifest.csv").write_text("image_id\nre07\n")      # another set
    with pytest.raises(DataError, match="expected the stimulus set dataset data was made for"):
        check_pairing(data, stim)
    (data / "dataset.json").write_text("{}")
    with pytest.warns(RuntimeWarning, match="does not record the stimulus set"):
        assert check_pairing(data, stim) is False


def test_subjects_outside_the_dataset_are_refused(tmp_path):
    from advlib.fmri import choose_subjects

    for name in ("sub-01", "sub-02"):
        (tmp_path / "data" / name).mkdir(parents=True)
    (tmp_path / "elsewhere" / "sub-01").mkdir(parents=True)
    assert choose_subjects(tmp_path / "data") == ["sub-01", "sub-02"]
    with pytest.raises(DataError, match=r"subjects='\.\./elsewhere/sub-01': expected subject "
                                        r"folder names of data"):
        choose_subjects(tmp_path / "data", ["../elsewhere/sub-01"])
    with pytest.raises(DataError, match="expected each subject named once"):
        choose_subjects(tmp_path / "data", ["sub-01", "sub-01"])


# --- a replaced stimulus image is noticed --------------------------------------------------

@pytest.mark.slow
def test_a_replaced_png_is_refused_not_used(stim_dir, tmp_path):
    import shutil

    from advlib.cnn.stimulus_set import load_manifest, load_stimulus_images

    copy = tmp_path / "stimuli"
    shutil.copytree(stim_dir, copy)
    manifest = load_manifest(copy)
    assert manifest.sha256.str.len().eq(64).all()           # every image's SHA-256
    target = copy / manifest.path.iloc[0]
    Image.new("RGB", (224, 224), (0, 0, 0)).save(target)
    with pytest.raises(StimulusError, match="expected the file the stimulus set was made with"):
        load_stimulus_images(copy, manifest.kind.iloc[0])


# --- killed during the write phase ---------------------------------------------------------

_SLOW_STAGE = """
import sys, time
from pathlib import Path
from advlib.provenance import Stage

def work(tmp):
    (tmp / "out.txt").write_text("half")
    Path(sys.argv[2]).write_text("writing")        # tell the test we are in the write phase
    time.sleep(60)
    (tmp / "out.txt").write_text("done")

outputs = None if sys.argv[3] == "folder" else ["out.txt"]
Stage("slow", Path(sys.argv[1]), outputs, {"v": 1}).run(work)
"""


@pytest.mark.parametrize("kind", ["files", "folder"])   # a table stage; a folder stage
def test_a_killed_writer_leaves_nothing_a_rerun_would_trust_or_keep(tmp_path, kind):
    """kill -9 during the write phase (as of a stimulus build, a folder stage)."""
    from advlib.provenance import Stage

    script = tmp_path / "slow.py"
    script.write_text(_SLOW_STAGE)
    root, flag = tmp_path / "stage", tmp_path / "flag"
    proc = subprocess.Popen([sys.executable, str(script), str(root), str(flag), kind])
    deadline = time.monotonic() + 60
    while not flag.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert flag.exists(), "the writer never reached its write phase"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    where = root if kind == "files" else root.parent
    pattern = ".slow.partial-*" if kind == "files" else ".stage.partial-*"
    assert list(where.glob(pattern)), "the killed writer left no partial folder"
    stage = Stage("slow", root, None if kind == "folder" else ["out.txt"], {"v": 1})
    assert not stage.up_to_date() and not (root / "out.txt").exists()
    stage.run(lambda tmp: (tmp / "out.txt").write_text("done"))     # the rerun
    assert stage.up_to_date() and (root / "out.txt").read_text() == "done"
    assert not list(where.glob(pattern)), "the dead writer's partial folder remains"
    assert not list(where.glob(".*.lock"))


# --- determinism ---------------------------------------------------------------------------

@pytest.mark.slow
def test_same_seed_same_bytes_other_seed_changes_only_the_resampling(model, stim_dir,
                                                                      tmp_path):
    from advlib.analysis import cnn_rsa

    runs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        cnn_rsa(model, stim_dir, tmp_path / name, n_perm=20, n_boot=20, seed=seed,
                progress=False)
        runs[name] = pd.read_csv(tmp_path / name / "cnn_rsa.csv")
    assert (tmp_path / "a" / "cnn_rsa.csv").read_bytes() == \
        (tmp_path / "b" / "cnn_rsa.csv").read_bytes()
    a, c = runs["a"], runs["c"]
    pd.testing.assert_series_equal(a.re_an, c.re_an)            # the similarities: no dice
    pd.testing.assert_series_equal(a.re_ai, c.re_ai)
    assert not a.p_perm_re_an.equals(c.p_perm_re_an) or not a.re_ai_ci_low.equals(c.re_ai_ci_low)


# --- nothing lost, nothing keyed by a name ---------------------------------------------------

def test_a_folder_the_tool_did_not_write_is_never_replaced(capsys, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "keep.txt").write_text("my notes")
    before = _snapshot(tmp_path)
    rc, err = _run(capsys, ["stimuli", "--out", str(out), "--n-images", "1",
                            "--max-steps", "3"])
    assert rc == 2 and "non-empty folder that this tool did not write" in err
    assert _snapshot(tmp_path) == before and (out / "keep.txt").read_text() == "my notes"


def test_written_files_get_the_users_umask(tmp_path):
    from advlib.provenance import atomic_dir, write_json

    old = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        with atomic_dir(tmp_path / "folder") as tmp:
            (tmp / "b.txt").write_text("b")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "folder").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "folder" / "b.txt").stat().st_mode & 0o777 == 0o644


def test_two_datasets_with_one_folder_name_never_share_results(tmp_path):
    from advlib.layout import Layout

    layout = Layout(tmp_path / "results", "efficientnet_lite0")
    a, b = tmp_path / "labA" / "data", tmp_path / "labB" / "data"
    assert layout.dataset_dir(str(a)) != layout.dataset_dir(str(b))
    assert layout.dataset_dir(str(a)).name.startswith("data-")


def test_a_claim_without_evidence_never_holds():
    from advlib.analysis import brain_claims
    from advlib.analysis.brain_analysis import BRAIN_RSA_COLUMNS, DIAGNOSTIC_COLUMNS

    empty = pd.DataFrame(columns=BRAIN_RSA_COLUMNS + DIAGNOSTIC_COLUMNS)
    claims = brain_claims(empty)
    assert len(claims) == 3 and (claims.verdict == "no evidence").all()


# --- round two (issue 23), class 1: nothing lost or mislabelled by where things are put ----

@pytest.mark.parametrize("argv, words", [
    (["cnn-rsa", "--stimuli", "S", "--results", "S/res"],
     "--results=S/res: inside the input folder --stimuli=S"),
    (["simulate", "--stimuli", "S", "--out", "S/sim"], "--out=S/sim: inside the input folder"),
    (["select", "--data", "D", "--out", "D/sel"], "--out=D/sel: inside the input folder --data"),
    (["stimuli", "--out", "S", "--images", "S/photos"],
     "--out=S: contains the input --images=S/photos, and `advlib stimuli` replaces"),
    (["simulate", "--stimuli", "D/stim", "--out", "D"], "--out=D: contains the input"),
    (["brain-rsa", "--data", "D", "--results", ""], "--results: '': expected a path, not an"),
])
def test_outputs_inside_inputs_are_refused_before_any_work(capsys, tmp_path, monkeypatch,
                                                            argv, words):
    monkeypatch.chdir(tmp_path)
    for name in ("S", "D", "S/photos", "D/stim"):
        (tmp_path / name).mkdir(parents=True, exist_ok=True)
    before = _snapshot(tmp_path)
    rc, err = _run(capsys, argv)
    assert rc == 2 and words in err, err
    assert _snapshot(tmp_path) == before


def test_a_quoted_tilde_is_the_home_folder(monkeypatch, tmp_path):
    from advlib.cli import build_parser

    monkeypatch.setenv("HOME", str(tmp_path))
    args = build_parser().parse_args(["stimuli", "--out", "~/stim"])
    assert args.out == str(tmp_path / "stim")


def test_a_folder_named_like_the_simulated_dataset_is_not_taken_for_it(tmp_path, monkeypatch):
    from advlib.layout import Layout, dataset_label, simulation_spec

    monkeypatch.chdir(tmp_path)
    assert simulation_spec("simulated") is not None           # no such folder: the keyword
    (tmp_path / "simulated").mkdir()
    with pytest.raises(InputError, match=r"dataset='simulated': expected the name of the "
                                         r"default simulated dataset, but ./simulated is a folder"):
        simulation_spec("simulated")
    folder = tmp_path / "simulated"                              # a path: that folder
    assert simulation_spec(folder) is None
    assert dataset_label(folder).startswith("data-simulated-")  # never a simulated name
    assert Layout(tmp_path / "r", "m").dataset_dir(folder).name.startswith("data-simulated-")


# --- class 5: signals ----------------------------------------------------------------------

_CLI_STAGE = """
import sys, time
from pathlib import Path
import advlib.cli as cli
from advlib.provenance import Stage

def slow(args):
    def work(tmp):
        (tmp / "a.txt").write_text("a")
        print("writing", flush=True)
        time.sleep(60)
    Stage("demo", Path(sys.argv[1]), None, {"n": 1}).run(work)
    return 0

cli._cmd_models = slow          # `advlib models` stands for any long command
sys.exit(cli.main(["models"]))
"""


@pytest.mark.parametrize("sig, status, words", [(signal.SIGTERM, 143, "SIGTERM: stopped"),
                                                (signal.SIGINT, 130, "interrupted (Ctrl-C)")])
def test_a_signal_stops_cleanly_with_one_line(tmp_path, sig, status, words):
    """SIGTERM (timeout, Slurm, systemd) cleans up like Ctrl-C: no partial folder, no lock;
    both print one line, not a traceback."""
    script = tmp_path / "cli.py"
    script.write_text(_CLI_STAGE)
    root = tmp_path / "out" / "stage"
    proc = subprocess.Popen([sys.executable, str(script), str(root)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status and words in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []   # nothing left


def test_a_waiting_writer_says_for_whom_it_waits(tmp_path, capfd):
    from advlib.provenance import stage_lock

    script = tmp_path / "hold.py"
    script.write_text("import sys, time\nfrom advlib.provenance import stage_lock\n"
                      "with stage_lock(sys.argv[1], 'demo'):\n"
                      "    print('held', flush=True)\n    time.sleep(0.5)\n")
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "held"
    with stage_lock(tmp_path, "demo"):
        pass
    proc.wait()
    err = capfd.readouterr().err
    assert f"waiting for demo in {tmp_path}: held by {proc.pid}@" in err, err
    assert not list(tmp_path.glob(".*.lock"))


# --- class 4: sizes beyond the machine are refused with the estimate -------------------------

@pytest.mark.slow
def test_a_resampling_count_beyond_memory_exits_2(capsys, stim_dir, tmp_path):
    rc, err = _run(capsys, ["cnn-rsa", "--stimuli", str(stim_dir), "--results",
                            str(tmp_path / "r"), "--n-perm", "1000000000"])
    assert rc == 2 and "n_perm=1000000000: expected a size that fits in memory" in err, err
    assert "GiB" in err and not list((tmp_path / "r").rglob("cnn_rsa*.csv"))


@pytest.mark.slow
def test_a_spacing_beyond_memory_exits_2_before_any_work(capsys, stim_dir, tmp_path):
    rc, err = _run(capsys, ["simulate", "--stimuli", str(stim_dir), "--out",
                            str(tmp_path / "sim"), "--spacing", "0.001"])
    assert rc == 2 and "spacing=0.001: expected a size that fits in memory" in err, err
    assert not (tmp_path / "sim").exists()


# --- class 2: the right picture, each file once ---------------------------------------------

def test_a_phone_photo_is_turned_upright_and_the_turn_recorded(tmp_path):
    from advlib.cnn.images import read_image

    pixels = np.zeros((200, 300, 3), np.uint8)
    pixels[:, :150] = (255, 0, 0)                                 # red left, blue right
    pixels[:, 150:] = (0, 0, 255)
    img = Image.fromarray(pixels)
    exif = img.getexif()
    exif[0x0112] = 6                                              # "rotate 90 CW to show"
    img.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    upright, note = read_image(tmp_path / "phone.jpg")
    assert upright.size == (200, 300) and "EXIF orientation (6)" in note
    top, bottom = np.asarray(upright)[5, 100], np.asarray(upright)[-5, 100]
    assert top[0] > 200 and bottom[2] > 200                       # red on top after the turn


def test_an_animated_gif_says_it_is_read_as_its_first_frame(tmp_path):
    from advlib.cnn.images import read_image

    frames = [Image.new("RGB", (240, 240), c) for c in ((255, 0, 0), (0, 255, 0))]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    _, note = read_image(tmp_path / "a.gif")
    assert "the first of 2 frames" in note


def test_a_file_reached_through_a_link_is_read_once_under_its_own_label(tmp_path):
    from advlib.cnn.images import discover_images

    for name in ("n01440764_tench.JPEG", "n02085620_dog.JPEG"):
        Image.new("RGB", (240, 240)).save(tmp_path / name)
    os.symlink(".", tmp_path / "n01443537")                       # goldfish -> this folder
    os.symlink("loop.JPEG", tmp_path / "loop.JPEG")               # a loop
    sources = discover_images(tmp_path)
    usable = [(s.path.name, s.label) for s in sources if s.problem is None]
    assert sorted(usable) == [("n01440764_tench.JPEG", 0), ("n02085620_dog.JPEG", 151)]
    reasons = {str(s.path.relative_to(tmp_path)): s.problem for s in sources if s.problem}
    assert "the same file as" in reasons["n01443537/n01440764_tench.JPEG"]
    assert "loop or a missing target" in reasons["loop.JPEG"]


# --- class 3: every documented file validated, naming the file -----------------------------

def _damage_csv(name, column, value):
    def damage(folder):
        frame = pd.read_csv(folder / name, keep_default_na=False)
        frame[column] = frame[column].astype(object)
        frame.loc[0, column] = value
        frame.to_csv(folder / name, index=False)
    return damage


def _write(name, text):
    def damage(folder):
        (folder / name).write_text(text)
    return damage


def _faces(values):
    def damage(folder):
        np.save(folder / "faces.npy", np.array(values, dtype=float))
    return damage


@pytest.mark.parametrize("damage, words", [
    (_write("subject.json", "{not json"), r"subject.json=.*expected a JSON object \(JSONDecode"),
    (_write("subject.json", "[1, 2]"), r"subject.json=.*expected a JSON object \{...\} \(found "
                                       r"a list\)"),
    (_faces([[0, 1, np.nan]]), r"faces='values such as \[nan\]': expected whole vertex indices"),
    (_faces([[0, 1, 1.5]]), r"expected whole vertex indices"),
    (_damage_csv("vertices.csv", "x_mm", "abc"), r"vertices.csv x_mm=\['abc'\]: expected "
                                                 r"finite numbers \(mm"),
    (_damage_csv("vertices.csv", "x_mm", "1e400"), r"vertices.csv x_mm=\[inf\]: expected finite"),
    (_write("conditions.csv", "condition;image_id;kind;presentation\nre00_p1;re00;RE;1\n"),
     "expected commas between columns; this file separates them with semicolons"),
])
def test_damaged_documented_files_name_the_file_and_the_value(tmp_path, parts, damage, words):
    betas, cond, verts, faces = parts
    folder = write_subject(tmp_path / "sub-01", betas, cond, verts, faces)
    damage(folder)
    with pytest.raises(DataError, match=words):
        load_subject(folder)


def test_duplicated_vertices_and_a_bom_are_handled(tmp_path, parts):
    betas, cond, verts, faces = parts
    folder = write_subject(tmp_path / "sub-01", betas, cond, verts, faces)
    text = (folder / "conditions.csv").read_text()
    (folder / "conditions.csv").write_text("\ufeff" + text)             # Excel's BOM: read
    assert load_subject(folder).conditions.condition.iloc[0] == cond.condition.iloc[0]
    twins = verts.copy()
    twins.loc[1, ["x_mm", "y_mm"]] = twins.loc[0, ["x_mm", "y_mm"]].to_numpy()
    folder = write_subject(tmp_path / "sub-02", betas, cond, twins, faces)
    with pytest.raises(DataError, match=r"vertices.csv rows=\[0, 1\]: expected one vertex per "
                                        r"position"):
        load_subject(folder)


@pytest.mark.parametrize("text, words", [
    ('{"name": 3}', r"dataset.json name=3: expected a string"),
    ('{"simulated": "no"}', r"dataset.json simulated='no': expected true or false"),
    ("[1, 2]", r"dataset.json=.*expected a JSON object \{...\} \(found a list\)"),
    ('{"name": "x", "simu', r"dataset.json=.*expected a JSON object \(JSONDecodeError"),
])
def test_a_damaged_dataset_json_names_the_field(tmp_path, text, words):
    from advlib.fmri import load_dataset_info

    (tmp_path / "dataset.json").write_text(text)
    with pytest.raises(DataError, match=words):
        load_dataset_info(tmp_path)


def test_time_series_files_are_named_in_their_errors(tmp_path, parts):
    betas, cond, verts, faces = parts
    folder = write_subject(tmp_path / "sub-01", betas, cond, verts, faces)
    (folder / "betas.npy").unlink()
    (folder / "timeseries").mkdir()
    (folder / "events").mkdir()
    for run in (1, 2):
        np.save(folder / "timeseries" / f"run-{run:02d}.npy", np.zeros((20, len(verts))))
        pd.DataFrame({"onset": [0.0], "duration": [2.0], "trial_type": ["re00_p1"]}).to_csv(
            folder / "events" / f"run-{run:02d}.csv", index=False)
    np.save(folder / "timeseries" / "run-02.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError, match=r"timeseries/run-02.npy=.*expected a numpy .npy array"):
        load_subject(folder)
    np.save(folder / "timeseries" / "run-02.npy", np.zeros((20, 3)))
    with pytest.raises(DataError, match=r"timeseries/run-02.npy shape=\(20, 3\): expected "
                                        r"\(n_frames, n_vertices\) with \d+ vertices as "
                                        r"timeseries/run-01.npy"):
        load_subject(folder)
    huge = np.zeros((20, len(verts)))
    huge[3, 4] = 1e308                                         # finite, but not BOLD
    np.save(folder / "timeseries" / "run-02.npy", huge)
    with pytest.raises(DataError, match=r"timeseries/run-02.npy='values up to 1e\+308': "
                                        r"expected BOLD values of a plausible magnitude"):
        load_subject(folder)
    np.save(folder / "timeseries" / "run-02.npy", np.zeros((20, len(verts))))
    late = pd.DataFrame({"onset": [0.0, 200.0], "duration": [2.0, 2.0],
                         "trial_type": ["re00_p1", "re01_p1"]})
    late.to_csv(folder / "events" / "run-02.csv", index=False)
    with pytest.raises(DataError, match=r"run-02.csv events=\['re01_p1'\]: expected events "
                                        r"within the run's scan, 0 to 58 s"):
        load_subject(folder)
    late.assign(onset=[4.0, 4.0]).to_csv(folder / "events" / "run-02.csv", index=False)
    with pytest.raises(DataError, match=r"run-02.csv onset=\[4.0\]: expected one image at a"):
        load_subject(folder)
    late.assign(onset=[4.0, 8.0]).to_csv(folder / "events" / "run-02.csv", index=False)
    (folder / "runs.csv").write_text("run,session\n01a,1\n2,1\n")
    with pytest.raises(DataError, match=r"runs.csv run=\['01a'\]: expected whole run numbers"):
        load_subject(folder)


def test_conditions_outside_the_design_are_named(tmp_path, parts):
    betas, cond, verts, faces = parts
    cond = cond.copy()
    cond["session"] = np.where(cond.kind == "blank", 0, 1)
    cond.loc[cond.image_id == "an00", "session"] = 2               # a twin in another session
    folder = write_subject(tmp_path / "sub-01", betas, cond, verts, faces)
    manifest = pd.DataFrame({"image_id": [f"{k}{i:02d}" for k in ("re", "an", "ai")
                                          for i in range(3)],
                             "source_id": [f"re{i:02d}" for _ in range(3) for i in range(3)]})
    with pytest.warns(RuntimeWarning) as caught:
        load_subject(folder, manifest=manifest)
    text = " | ".join(str(w.message) for w in caught)
    assert "conditions for 3 image(s) not in the stimulus set (ai03, an03, re03)" in text
    assert "versions of re00 were shown in different sessions" in text
