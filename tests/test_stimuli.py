import json
import os

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import advlib.cnn.images as image_io
import advlib.cnn.stimulus_set as stimuli
from advlib.analysis import stimulus_claims
from advlib.cnn import (
    MANIFEST_COLUMNS,
    SUPERCLASSES,
    build_stimulus_set,
    discover_images,
    embedded_images,
    load_manifest,
    prepare_image,
    read_image,
    select_regular,
    summarize_stimuli,
)
from advlib.errors import InputError, StimulusError


def _photo(path, size=(300, 260), mode="RGB", seed=0):
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    img = Image.fromarray(arr, "RGB")
    if mode != "RGB":
        img = img.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def test_embedded_images_have_labels_from_file_names():
    sources = embedded_images()
    assert len(sources) == 20
    assert sources[0].path.name == "imagenet_00_243.jpg" and sources[0].label == 243
    assert all(0 <= s.label < 1000 for s in sources)


def test_discover_class_folders_by_wnid_and_index(tmp_path):
    _photo(tmp_path / "n01440764" / "a.jpg")
    _photo(tmp_path / "207" / "b.png")
    (tmp_path / "207" / "notes.txt").write_text("ignored")
    sources = discover_images(tmp_path)
    assert [(s.path.name, s.label) for s in sources] == [("b.png", 207), ("a.jpg", 0)]


def test_discover_flat_folder_named_by_wordnet_id(tmp_path):
    """ImageNet's own file names and one-image-per-class sample sets: <wnid>_<rest>.JPEG."""
    _photo(tmp_path / "n01440764_tench.JPEG")
    _photo(tmp_path / "n02085620_10074.JPEG")
    _photo(tmp_path / "holiday.jpg")
    _photo(tmp_path / "n99999999_unknown.jpg")
    (tmp_path / "README.txt").write_text("not an image")
    sources = {s.path.name: s for s in discover_images(tmp_path)}
    assert sorted(sources) == ["holiday.jpg", "n01440764_tench.JPEG",
                               "n02085620_10074.JPEG", "n99999999_unknown.jpg"]
    assert sources["n01440764_tench.JPEG"].label == 0
    assert sources["n02085620_10074.JPEG"].label == 151 and sources["n02085620_10074.JPEG"].problem is None
    assert "does not begin with an ImageNet WordNet id" in sources["holiday.jpg"].problem
    assert "n99999999 is not one of the 1000" in sources["n99999999_unknown.jpg"].problem


def test_flat_folder_without_any_usable_name_is_refused(tmp_path):
    _photo(tmp_path / "holiday.jpg")
    with pytest.raises(StimulusError, match="expected at least one usable image"):
        discover_images(tmp_path)


def test_discover_csv(tmp_path):
    _photo(tmp_path / "img" / "x.jpg")
    (tmp_path / "list.csv").write_text("path,label\nimg/x.jpg,n01443537\n")
    assert discover_images(tmp_path / "list.csv")[0].label == 1


@pytest.mark.parametrize("setup, pattern", [
    (lambda p: p.mkdir() or p, "images=.*expected at least one usable image"),
    (lambda p: p, "images=.*expected an existing folder or CSV file"),
    (lambda p: (p / "1000").mkdir(parents=True) or p,
     r"class folder '1000'=1000: expected an ImageNet class index in 0..999"),
    (lambda p: (p / "dogs").mkdir(parents=True) or p,
     r"class folder 'dogs'='dogs': expected a class index 0..999 or a WordNet id"),
])
def test_bad_folders(tmp_path, setup, pattern):
    with pytest.raises(StimulusError, match=pattern):
        discover_images(setup(tmp_path / "imgs"))


def test_bad_csv(tmp_path):
    (tmp_path / "a.csv").write_text("file,class\nx.jpg,1\n")
    with pytest.raises(StimulusError, match=r"a.csv columns=\['file', 'class'\]"):
        discover_images(tmp_path / "a.csv")
    _photo(tmp_path / "x.jpg")
    (tmp_path / "b.csv").write_text("path,label\nx.jpg,-3\n")
    with pytest.raises(StimulusError, match="b.csv line 2 label=-3: expected an ImageNet class"):
        discover_images(tmp_path / "b.csv")
    (tmp_path / "c.csv").write_text("path,label\nmissing.jpg,3\n")
    with pytest.raises(StimulusError, match="c.csv line 2 path=.*missing.jpg"):
        discover_images(tmp_path / "c.csv")


def test_corrupt_and_unreadable_files(tmp_path):
    good = _photo(tmp_path / "good.jpg")
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(good.read_bytes()[:200])
    with pytest.raises(StimulusError, match="corrupt.jpg.*expected a readable image file"):
        read_image(corrupt)
    text = tmp_path / "text.png"
    text.write_text("hello")
    with pytest.raises(StimulusError, match="text.png.*expected a readable image file"):
        read_image(text)
    with pytest.raises(StimulusError, match="path=.*absent.jpg.*expected an existing image"):
        read_image(tmp_path / "absent.jpg")


@pytest.mark.parametrize("mode, suffix, note", [
    ("L", ".png", "converted from L"), ("RGBA", ".png", "converted from RGBA"),
    ("CMYK", ".jpg", "converted from CMYK"), ("RGB", ".jpg", ""),
])
def test_colour_modes_are_converted_with_a_note(tmp_path, mode, suffix, note):
    img, got = read_image(_photo(tmp_path / f"x{suffix}", mode=mode))
    assert img.mode == "RGB" and got.startswith(note) and (note or got == "")


def test_prepare_image_resizes_and_crops():
    img = Image.fromarray(np.zeros((300, 450, 3), np.uint8))
    arr = prepare_image(img, 224)
    assert arr.shape == (3, 224, 224) and arr.dtype == np.float32


def test_selection_criteria_and_reasons(model, tmp_path):
    sources = embedded_images()[:4]
    small = image_io.ImageSource(_photo(tmp_path / "small.jpg", size=(200, 300)), 5, "folder")
    wide = image_io.ImageSource(_photo(tmp_path / "wide.jpg", size=(700, 300)), 5, "folder")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8garbage")
    bad = image_io.ImageSource(broken, 5, "folder")
    _photo(tmp_path / "flat" / "holiday.jpg")                 # no WordNet id in the name
    _photo(tmp_path / "flat" / "n01440764_tench.JPEG")
    unnamed = [s for s in discover_images(tmp_path / "flat") if s.problem]
    selected, images, skipped = select_regular(model, sources + [small, wide, bad] + unnamed)
    reasons = dict(zip(skipped.source_path.map(os.path.basename), skipped.reason))
    assert reasons["holiday.jpg"].startswith("file name does not begin with an ImageNet")
    assert reasons["small.jpg"] == "too small: 200x300, need both sides > 227"
    assert reasons["wide.jpg"].startswith("aspect ratio 2.333 outside")
    assert reasons["broken.jpg"].startswith("unreadable:")
    assert reasons["imagenet_03_990.jpg"].startswith("misclassified as")
    assert list(selected.true_label) == [243, 559, 438]
    assert images.shape == (3, 3, 224, 224)
    assert (selected.predicted_label == selected.true_label).all()


def test_selection_confidence_superclasses_and_one_per_category(model):
    sources = embedded_images()
    sel, _, skipped = select_regular(model, sources, min_confidence=0.95)
    assert (sel.p_true > 0.95).all() and 0 < len(sel) < 17
    sel, _, skipped = select_regular(model, sources, superclasses=["dogs", "cars"],
                                     n_per_class=1)
    assert sorted(sel.superclass) == ["cars", "dogs"]
    assert set(sel.true_label) <= set(SUPERCLASSES["dogs"]) | set(SUPERCLASSES["cars"])
    assert any("already has 1 images" in r for r in skipped.reason)
    jeep = [s for s in sources if s.label == 609]
    sel, _, skipped = select_regular(model, jeep + jeep, require_correct=False)
    assert len(sel) == 1 and "second image of class 609" in skipped.reason.iloc[-1]
    with pytest.raises(InputError, match="superclasses=\\['cats'\\]"):
        select_regular(model, sources, superclasses=["cats"])


def test_manifest_schema_and_provenance(stim_dir, model):
    manifest = load_manifest(stim_dir)
    assert list(manifest.columns[:len(MANIFEST_COLUMNS)]) == MANIFEST_COLUMNS
    assert len(manifest) == 12 and sorted(manifest.kind.unique()) == ["AI", "AN", "RE"]
    assert manifest.image_id.is_unique
    re = manifest[manifest.kind == "RE"]
    assert (re.n_steps == 0).all() and np.isinf(re.psnr).all()
    prov = json.loads((stim_dir / "provenance.json").read_text())
    assert prov["model"]["weights_sha256"] == model.weights_sha256
    assert prov["parameters"]["n_images"] == 4 and prov["n_not_converged"] == 0
    assert "torch" in prov["versions"]
    claims = stimulus_claims(manifest)
    assert list(claims.columns) == ["claim", "verdict", "rule", "here", "paper"]
    # the embedded model is correct on the 4 RE images but not 0.99-confident (0.70, 0.98, ...)
    assert claims.verdict.tolist() == ["holds", "does not hold"] + ["holds"] * 4
    summary = summarize_stimuli(manifest).set_index("kind")
    assert summary.loc["AI", "n_converged"] == 4 and summary.loc["AN", "median_psnr_vs_RE_dB"] < 20


def test_up_to_date_set_is_reused(stim_dir, model, monkeypatch, smoke_stimulus_options):
    def fail(*a, **k):
        raise AssertionError("rebuilt although up to date")

    monkeypatch.setattr("advlib.cnn.adversarial.generate_an", fail)
    manifest = build_stimulus_set(model, stim_dir, progress=False, **smoke_stimulus_options)
    assert len(manifest) == 12


def test_failed_build_leaves_previous_set_intact(stim_dir, model, monkeypatch, tmp_path):
    before = (stim_dir / "manifest.csv").read_bytes()
    written = []
    save = stimuli._save_png

    def boom(array, path):  # fail in the middle of writing the PNGs
        if len(written) == 2:
            raise KeyboardInterrupt
        written.append(path)
        save(array, path)

    monkeypatch.setattr(stimuli, "_save_png", boom)
    with pytest.raises(KeyboardInterrupt):
        build_stimulus_set(model, stim_dir, n_images=1, seed=1, max_steps=5, progress=False)
    assert len(written) == 2
    assert (stim_dir / "manifest.csv").read_bytes() == before
    assert not [p for p in stim_dir.parent.iterdir() if ".partial-" in p.name]


def test_no_image_qualifies(model, tmp_path):
    _photo(tmp_path / "imgs" / "5" / "tiny.jpg", size=(64, 64))
    with pytest.raises(StimulusError, match="no image passed the selection criteria.*too small"):
        build_stimulus_set(model, tmp_path / "out", images=tmp_path / "imgs", progress=False)
    assert not (tmp_path / "out").exists()


def test_load_manifest_validates(stim_dir, tmp_path):
    with pytest.raises(StimulusError, match="expected a folder with manifest.csv"):
        load_manifest(tmp_path)
    manifest = pd.read_csv(stim_dir / "manifest.csv")
    manifest[manifest.image_id != "ai01"].to_csv(tmp_path / "manifest.csv", index=False)
    with pytest.raises(StimulusError, match="the same regular images for RE, AN and AI"):
        load_manifest(tmp_path)
    manifest.drop(columns="psnr").to_csv(tmp_path / "manifest.csv", index=False)
    with pytest.raises(StimulusError, match=r"columns=\['psnr'\]"):
        load_manifest(tmp_path)


def test_every_superclass_can_give_the_papers_eight_categories():
    from advlib.cnn.models import imagenet_categories

    names = imagenet_categories()
    assert set(SUPERCLASSES) == {"dogs", "birds", "cars", "fruits", "aquatic animals"}
    for name, classes in SUPERCLASSES.items():
        assert len(set(classes)) == len(classes) >= 8, name
        assert all(0 <= c < 1000 for c in classes)
    every = [c for classes in SUPERCLASSES.values() for c in classes]
    assert len(every) == len(set(every))                     # no class in two superclasses
    assert {names[c] for c in SUPERCLASSES["cars"]} >= {"sports car", "police van", "minibus"}
