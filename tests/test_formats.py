"""GIFTI, BIDS and GLMsingle readers and writers (advlib.fmri.formats): a simulated subject
written in each layout reads back as the same subject, with the same downstream tables."""

import shutil

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from advlib.fmri import (
    FORMATS,
    DataError,
    conditions_from_names,
    export_dataset,
    fit_glm,
    geodesic_disks,
    import_dataset,
    load_bids_gifti,
    load_glmsingle,
    load_subject,
    parse_bids_name,
    read_events,
    read_gifti_data,
    read_glmsingle,
    read_labels,
    read_surface,
    select_subject,
    vertex_coordinates,
    write_gifti_data,
    write_labels,
    write_subject,
    write_surface,
)
from advlib.fmri.simulation import make_cortex, simulate_runs

IDS = [f"{k}{i:02d}" for k in ("re", "an", "ai") for i in range(4)]


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    """A simulated subject (both hemispheres, two sessions of two runs) in the native
    format, with its time series and events; the betas from the project's GLM."""
    root = tmp_path_factory.mktemp("formats")
    cortex = make_cortex(seed=1, spacing=4.0)
    rng = np.random.default_rng(0)
    responses = pd.DataFrame(rng.random((len(IDS), len(cortex.vertices))), index=IDS)
    plan = {1: [i for i in IDS if i[2:] < "02"], 2: [i for i in IDS if i[2:] >= "02"]}
    sim = simulate_runs(responses, plan, snr=5.0, n_runs_per_session=2, seed=0)
    glm = fit_glm(sim.data, sim.events, n_pcs=0)
    conditions = conditions_from_names(glm.betas.index)
    session = {img: s for s, images in plan.items() for img in images}
    conditions["session"] = [session.get(i, 0) for i in conditions.image_id]
    extra = {f"timeseries/run-{i + 1:02d}.npy": d.astype(np.float32)
             for i, d in enumerate(sim.data)}
    extra.update({f"events/run-{i + 1:02d}.csv": e for i, e in enumerate(sim.events)})
    extra["runs.csv"] = pd.DataFrame({"run": np.arange(1, len(sim.sessions) + 1),
                                      "session": sim.sessions})
    write_subject(root / "native" / "sub-01", glm.betas, conditions, cortex.vertices,
                  cortex.faces, {"simulated": True}, extra)
    for fmt in FORMATS:
        export_dataset(root / "native", root / fmt, fmt)
    return root


def _same_subject(a, b, conditions=None):
    names = list(b.betas.index) if conditions is None else conditions
    np.testing.assert_allclose(a.betas.loc[names].to_numpy(), b.betas.loc[names].to_numpy(),
                               rtol=0, atol=1e-9)
    ca = a.conditions.set_index("condition").loc[names]
    cb = b.conditions.set_index("condition").loc[names]
    pd.testing.assert_frame_equal(ca, cb, check_dtype=False)
    np.testing.assert_allclose(a.vertices[["x_mm", "y_mm"]], b.vertices[["x_mm", "y_mm"]],
                               atol=1e-5)            # GIFTI stores coordinates as float32
    assert (a.vertices[["hemi", "roi"]] == b.vertices[["hemi", "roi"]]).all().all()
    assert np.array_equal(a.faces, b.faces)


def test_bids_names_are_parsed():
    e = parse_bids_name("sub-01_ses-02_task-adv_run-03_hemi-L_bold.func.gii")
    assert e == {"sub": "01", "ses": "02", "task": "adv", "run": "03", "hemi": "L",
                 "suffix": "bold", "extension": ".func.gii"}
    with pytest.raises(DataError, match=r"BIDS name='sub-01_run3_events.tsv': expected "
                                        r"key-label entities .* \(not 'run3'\)"):
        parse_bids_name("sub-01_run3_events.tsv")


def test_nibabel_round_trip_preserves_values(tmp_path, rng):
    coords = rng.normal(size=(30, 3)).astype(np.float32)
    faces = np.array([[0, 1, 2], [2, 3, 4], [5, 6, 29]])
    write_surface(tmp_path / "s.surf.gii", coords, faces)
    back, back_faces = read_surface(tmp_path / "s.surf.gii")
    assert np.array_equal(back, coords) and np.array_equal(back_faces, faces)
    maps = rng.normal(size=(7, 30)).astype(np.float32)
    write_gifti_data(tmp_path / "d.func.gii", maps)
    assert np.array_equal(read_gifti_data(tmp_path / "d.func.gii"), maps)
    rois = np.array(["", "V1", "V2", "V3", "V4", "LO"] * 5)
    write_labels(tmp_path / "r.label.gii", rois)
    assert np.array_equal(read_labels(tmp_path / "r.label.gii", 30), rois)
    assert not list(tmp_path.glob(".*"))          # written atomically: no temporary left


def test_freesurfer_labels_and_annotations_with_atlas_names(tmp_path):
    n = 12
    for name, index in (("V1v", [0, 1]), ("V1d", [2]), ("hV4", [5, 6])):
        lines = [f"{i} 0.0 0.0 0.0 0.0" for i in index]
        (tmp_path / f"lh.{name}.label").write_text(
            "#!ascii label\n" + f"{len(index)}\n" + "\n".join(lines) + "\n")
    rois = read_labels(sorted(tmp_path.glob("lh.*.label")), n)
    assert rois.tolist() == ["V1", "V1", "V1", "", "", "V4", "V4"] + [""] * 5
    keys = np.array([0, 1, 1, 2, 2, 3] * 2)
    ctab = np.array([[0, 0, 0, 0, 0], [255, 0, 0, 0, 255], [0, 255, 0, 0, 65280],
                     [0, 0, 255, 0, 16711680]])
    nib.freesurfer.write_annot(str(tmp_path / "lh.atlas.annot"), keys, ctab,
                               [b"unknown", b"V2d", b"LO1", b"V3"])
    rois = read_labels(tmp_path / "lh.atlas.annot", n)
    assert rois.tolist() == ["", "V2", "V2", "LO", "LO", "V3"] * 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_layout_reads_back_as_the_native_subject(native, fmt):
    reference = load_subject(native / "native" / "sub-01")
    read = (load_bids_gifti if fmt == "bids-gifti" else load_glmsingle)(native / fmt / "sub-01")
    images = [c for c in reference.betas.index if c != "blank"]
    assert list(read.betas.index) == (list(reference.betas.index) if fmt == "bids-gifti"
                                      else sorted(images))      # GLMsingle: no blank beta
    _same_subject(read, reference, images)


def test_bids_time_series_give_the_native_time_series_betas(native, tmp_path):
    """Without the betas files, the runs' func.gii and events.tsv go through the same GLM
    as the native format's time series, and give the same betas and sessions."""
    bids = tmp_path / "bids"
    shutil.copytree(native / "bids-gifti", bids)
    for path in [*bids.rglob("*_betas.func.gii"), *bids.rglob("*_conditions.tsv")]:
        path.unlink()
    runs = tmp_path / "runs" / "sub-01"
    shutil.copytree(native / "native" / "sub-01", runs)
    (runs / "betas.npy").unlink()
    (runs / "conditions.csv").unlink()
    options = {"n_pcs": 0}
    _same_subject(load_bids_gifti(bids / "sub-01", glm_options=options),
                  load_subject(runs, glm_options=options))


def test_imported_datasets_give_the_native_tables(native, tmp_path):
    """The selection table and split-half reliabilities (vertex selection, Fig 3's input)
    are identical for the native subject and the same subject imported from each layout."""
    reference = load_subject(native / "native" / "sub-01")
    expected = select_subject(reference, radius=6.0, n_per_hemi=5)
    for fmt in FORMATS:
        folders = import_dataset(native / fmt, tmp_path / fmt, fmt)
        subject = load_subject(folders[0])
        got = select_subject(subject, radius=6.0, n_per_hemi=5)
        np.testing.assert_allclose(got[0], expected[0], atol=1e-12)
        pd.testing.assert_frame_equal(got[1], expected[1])
        pd.testing.assert_frame_equal(got[2], expected[2])


def test_disks_on_a_folded_mesh_follow_the_surface():
    """Without a flat patch, disks are measured along the folded mesh: a sheet rolled into
    a cylinder keeps its geodesic disks, though straight-line neighbours change."""
    cortex = make_cortex(seed=0, spacing=2.0)
    hemi = cortex.vertices.hemi == "lh"
    xy = cortex.vertices.loc[hemi, ["x_mm", "y_mm"]].to_numpy()
    faces = cortex.faces[np.isin(cortex.faces, np.flatnonzero(hemi)).all(1)]
    radius = 200.0                                 # mm: the roll is gentle next to 2 mm edges
    angle = xy[:, 1] / radius
    rolled = pd.DataFrame({"x_mm": xy[:, 0], "y_mm": radius * np.sin(angle),
                           "z_mm": radius * (1 - np.cos(angle))})
    assert vertex_coordinates(rolled).shape == (len(xy), 3)
    flat = geodesic_disks(xy, faces, 5.0)
    folded = geodesic_disks(vertex_coordinates(rolled), faces, 5.0)
    changed = abs(flat - folded).sum() / flat.sum()
    assert changed < 0.02


def _gifti_subject(native, tmp_path):
    target = tmp_path / "lab"
    shutil.copytree(native / "bids-gifti", target)
    return target / "sub-01"


def _time_series_subject(native, tmp_path):
    folder = _gifti_subject(native, tmp_path)
    for path in [*folder.rglob("*_betas.func.gii"), *folder.rglob("*_conditions.tsv")]:
        path.unlink()
    return folder


def test_a_missing_hemisphere_is_named(native, tmp_path):
    folder = _gifti_subject(native, tmp_path)
    (folder / "anat" / "sub-01_hemi-R_flat.surf.gii").unlink()
    with pytest.raises(DataError, match=r"flat.surf.gii hemi-R='missing': expected one "
                                        r"flat.surf.gii file of each hemisphere"):
        load_bids_gifti(folder)


def test_vertex_counts_must_match_the_surface(native, tmp_path):
    folder = _gifti_subject(native, tmp_path)
    path = folder / "func" / "sub-01_task-adv_hemi-L_betas.func.gii"
    write_gifti_data(path, read_gifti_data(path)[:, :-3])
    with pytest.raises(DataError, match=r"sub-01_task-adv_hemi-L_betas.func.gii vertices=\d+: "
                                        r"expected the \d+ vertices of the surface "
                                        r"sub-01_hemi-L_flat.surf.gii"):
        load_bids_gifti(folder)


def test_glmsingle_vertex_and_trial_counts_are_checked(native, tmp_path):
    root = tmp_path / "g"
    shutil.copytree(native / "glmsingle", root)
    path = root / "sub-01" / "glmsingle" / "TYPED_FITHRF_GLMDENOISE_RR.npz"
    betas = read_glmsingle(path)
    np.savez(path, betasmd=betas[:, :-1])
    with pytest.raises(DataError, match=r"betasmd trials=\d+: expected the \d+ non-blank events "
                                        r"of the 4 events.tsv files"):
        load_glmsingle(root / "sub-01")
    np.savez(path, betasmd=betas[:-2, None, None, :])       # GLMsingle's 4-D shape
    with pytest.raises(DataError, match=r"betasmd vertices=\d+: expected the \d+ vertices of "
                                        r"the hemi-L then hemi-R surfaces"):
        load_glmsingle(root / "sub-01")
    np.save(path.with_suffix(".npy"), {"betasmd": betas[:, None, None, :]}, allow_pickle=True)
    path.unlink()                        # GLMsingle's own .npy (a pickled dict) is read too
    assert load_glmsingle(root / "sub-01").betas.shape[1] == betas.shape[0]


def test_events_naming_images_outside_the_stimulus_set(native, tmp_path):
    folder = _time_series_subject(native, tmp_path)
    manifest = pd.DataFrame({"image_id": IDS, "kind": [i[:2].upper() for i in IDS]})
    path = sorted(folder.rglob("*run-01_events.tsv"))[0]
    events = pd.read_csv(path, sep="\t")
    events.loc[events.trial_type != "blank", "trial_type"] = (
        events.trial_type.str.replace(r"_p\d$", "", regex=True))      # plain image ids
    events.loc[0, "trial_type"] = "zebra07"
    events.to_csv(path, sep="\t", index=False)
    with pytest.raises(DataError, match=r"sub-01_ses-01_task-adv_run-01_events.tsv "
                                        r"images=\['zebra07'\]: expected image ids of the "
                                        r"stimulus set"):
        load_bids_gifti(folder, manifest=manifest)


def test_stim_file_names_the_image_and_showings_number_the_presentations(tmp_path):
    path = tmp_path / "sub-01_task-adv_run-01_events.tsv"
    pd.DataFrame({"onset": [4.0, 0.0, 8.0, 12.0], "duration": 2.0,
                  "trial_type": ["image", "image", "blank", "image"],
                  "stim_file": ["RE/re01.png", "stimuli/an00.png", "n/a", "RE/re01.png"]}
                 ).to_csv(path, sep="\t", index=False)
    from advlib.fmri import event_conditions

    manifest = pd.DataFrame({"image_id": ["re01", "an00"], "kind": ["RE", "AN"],
                             "path": ["RE/re01.png", "AN/an00.png"]})
    table = event_conditions(read_events(path), path, manifest)
    assert table.trial_type.tolist() == ["an00_p1", "re01_p1", "blank", "re01_p2"]


def test_runs_without_events_are_named(native, tmp_path):
    folder = _time_series_subject(native, tmp_path)
    sorted(folder.rglob("*run-03_events.tsv"))[0].unlink()
    # both runs named (a long list is shown by its start and its end)
    with pytest.raises(DataError, match=r"runs without events=\['sub-01_ses-02_task-adv_run-03"
                                        r"_hemi-.*run-03_hemi-R_bold.func.gii'\]: expected an "
                                        r"events.tsv"):
        load_bids_gifti(folder)


def test_labels_with_unknown_roi_names(native, tmp_path):
    folder = _gifti_subject(native, tmp_path)
    path = folder / "anat" / "sub-01_hemi-L_rois.label.gii"
    image = nib.load(str(path))
    image.labeltable.labels[2].label = "FFA"
    nib.save(image, str(path))
    with pytest.raises(DataError, match=r"ROI label='FFA': expected one of V1, V2, V3, V4, LO, "
                                        r"an alias .*sub-01_hemi-L_rois.label.gii"):
        load_bids_gifti(folder)


def test_nan_columns_are_named(native, tmp_path):
    folder = _gifti_subject(native, tmp_path)
    path = folder / "func" / "sub-01_task-adv_hemi-R_betas.func.gii"
    maps = read_gifti_data(path)
    maps[3] = np.nan
    write_gifti_data(path, maps)
    with pytest.raises(DataError, match=r"sub-01_task-adv_hemi-R_betas.func.gii maps="
                                        r"\['ai01_p2'\]: expected a finite value somewhere"):
        load_bids_gifti(folder)
    events = sorted(folder.rglob("*run-02_events.tsv"))[0]
    table = pd.read_csv(events, sep="\t")
    table.loc[4, "onset"] = np.nan
    table.to_csv(events, sep="\t", index=False, na_rep="n/a")
    with pytest.raises(DataError, match=r"run-02_events.tsv onset='n/a or not a number in rows "
                                        r"\[5\]': expected a number of seconds in every row"):
        read_events(events)


def test_nothing_is_written_when_a_subject_is_refused(native, tmp_path):
    root = tmp_path / "lab"
    shutil.copytree(native / "bids-gifti", root)
    shutil.copytree(root / "sub-01", root / "sub-02")
    (root / "sub-02" / "anat" / "sub-01_hemi-L_rois.label.gii").unlink()
    with pytest.raises(DataError, match=r"labels hemi-L='missing'"):
        import_dataset(root, tmp_path / "out", "bids-gifti")
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == [root]


def test_the_commands_write_and_read_the_layouts(native, tmp_path, capsys):
    from advlib.cli import main

    assert main(["export-example", "--format", "glmsingle", "--data", str(native / "native"),
                 "--out", str(tmp_path / "g")]) == 0
    assert main(["import-data", "--format", "glmsingle", "--data", str(tmp_path / "g"),
                 "--out", str(tmp_path / "n")]) == 0
    assert load_subject(tmp_path / "n" / "sub-01").betas.shape[0] == 2 * len(IDS)
    assert main(["import-data", "--format", "bids-gifti", "--data", str(tmp_path / "g"),
                 "--out", str(tmp_path / "m")]) == 2
    assert "expected *_betas.func.gii + *_conditions.tsv" in capsys.readouterr().err


def _stimulus_folder(folder):
    """A stimulus set's manifest (the analyses read ids, kinds and sources from it) with
    placeholder image files: the brain RSA never looks at the pictures."""
    from advlib.cnn import MANIFEST_COLUMNS

    rows = []
    for image in IDS:
        row = dict.fromkeys(MANIFEST_COLUMNS, 0)
        row.update(image_id=image, kind=image[:2].upper(), source_id=f"re{image[2:]}",
                   path=f"{image}.png", true_label=1, target_label=1, converged=True)
        rows.append(row)
        (folder / f"{image}.png").parent.mkdir(parents=True, exist_ok=True)
        (folder / f"{image}.png").write_bytes(image.encode())
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    return folder


def test_imported_datasets_give_the_native_roi_rsa_table(native, tmp_path):
    """Fig 3's table (advlib.analysis.brain_rsa) for the native subject and for the subject
    imported from each layout: identical."""
    from advlib.analysis import brain_rsa

    stim = _stimulus_folder(tmp_path / "stimuli")
    options = dict(n_vertices=10, n_perm=20, n_boot=20, n_swap=20, radius=6.0,
                   searchlight=False, progress=False)
    with pytest.warns(RuntimeWarning):
        expected, _ = brain_rsa(native / "native", stim, tmp_path / "r0", **options)
    assert expected.excluded.eq("").sum() >= 3
    for fmt in FORMATS:
        import_dataset(native / fmt, tmp_path / fmt, fmt)
        with pytest.warns(RuntimeWarning):
            table, _ = brain_rsa(tmp_path / fmt, stim, tmp_path / f"r-{fmt}", **options)
        pd.testing.assert_frame_equal(table, expected, rtol=1e-9)
