"""External brain RDMs (advlib/fmri/rdm_data.py): the shipped hIT data load; every damage
is a clear error naming the file and what was expected."""
import shutil

import numpy as np
import pytest

from advlib.errors import InputError
from advlib.fmri import DataError
from advlib.fmri.rdm_data import KRIEGESKORTE92, check_rdm_stack, load_rdm_data


def test_the_shipped_hit_rdms_load():
    data = load_rdm_data()
    assert data.rdms.shape == (4, 2, 92, 92) and len(data.images) == 92
    assert data.subjects == ["BE", "KO", "SN", "TI"] and data.sessions == ["1", "2"]
    assert data.images.category.iloc[0] == "human bodypart"
    assert data.subject_rdms().shape == (4, 92, 92) and data.group_rdm().shape == (92, 92)


def test_a_subset_is_its_images_with_their_rows_and_columns():
    """``subset``: the images a 0/1 column marks, in order, and exactly their entries of
    every subject's and session's RDM."""
    full = load_rdm_data()
    part = load_rdm_data(subset="rand24")
    keep = np.flatnonzero(full.images.rand24.to_numpy() == 1)
    assert part.subset == "rand24" and full.subset is None
    assert len(part.images) == keep.size == 22 and (part.images.rand24 == 1).all()
    assert list(part.images.file) == list(full.images.file.iloc[keep])
    assert part.rdms.shape == (4, 2, 22, 22)
    assert np.array_equal(part.rdms, full.rdms[:, :, keep][:, :, :, keep])
    assert part.subjects == full.subjects and part.folder == full.folder
    assert part.input_files() == full.input_files()       # the same files key its stages
    # what a page says it used
    assert full.describe() == "all 92 images"
    assert part.describe() == "22 of the 92 images (subset rand24)"
    import dataclasses

    assert dataclasses.replace(part, n_all=None).describe() == "22 images (subset rand24)"


@pytest.mark.parametrize("subset, words", [
    ("category", r"subset='category': expected a 0/1 membership column of .*stimuli.csv "
                 r"\(animate, inanim, .*rand24.*\) or None"),
    ("nonesuch", r"subset='nonesuch': expected a 0/1 membership column"),
])
def test_a_subset_must_be_a_membership_column(subset, words):
    with pytest.raises(InputError, match=words):
        load_rdm_data(subset=subset)


def test_a_subset_of_fewer_than_4_images_is_refused(copy):
    import pandas as pd

    table = pd.read_csv(copy / "stimuli.csv")
    table["few"] = (table.index < 3).astype(int)
    table.to_csv(copy / "stimuli.csv", index=False)
    with pytest.raises(InputError, match=r"subset='few': expected a column marking at least "
                                         r"4 images \(3 marked\)"):
        load_rdm_data(copy, subset="few")


@pytest.fixture
def copy(tmp_path):
    folder = tmp_path / "hit"
    shutil.copytree(KRIEGESKORTE92, folder)
    return folder


def _save(folder, rdms):
    np.savez(folder / "hit_rdms.npz", rdms=rdms)


@pytest.mark.parametrize("damage, words", [
    (lambda r: r.__setitem__((0, 0, 1, 2), r[0, 0, 1, 2] + 0.5),
     r"hit_rdms.npz \[subject 0, session 0\]='asymmetric by up to 0.5': expected a symmetric"),
    (lambda r: r.__setitem__((1, 1, 3, 3), np.nan),
     r"\[subject 1, session 1\]='1 NaN or infinite entries': expected finite values"),
    (lambda r: r.__setitem__((2, 0, 5, 5), 0.3),
     r"\[subject 2, session 0\]='diagonal up to 0.3': expected a zero diagonal"),
])
def test_damaged_rdms_are_refused(copy, damage, words):
    rdms = np.load(copy / "hit_rdms.npz")["rdms"].copy()
    damage(rdms)
    _save(copy, rdms)
    with pytest.raises(DataError, match=words):
        load_rdm_data(copy)


def test_rdms_of_another_size_or_image_order_are_refused(copy):
    rdms = np.load(copy / "hit_rdms.npz")["rdms"]
    _save(copy, rdms[:, :, :90, :90])
    with pytest.raises(DataError, match=r"hit_rdms.npz shape=\(4, 2, 90, 90\): expected RDMs "
                                        r"of the 92 images listed in stimuli.csv"):
        load_rdm_data(copy)
    _save(copy, rdms)
    table = (copy / "stimuli.csv").read_text().splitlines()
    table[1], table[2] = table[2], table[1]                       # two rows swapped
    (copy / "stimuli.csv").write_text("\n".join(table) + "\n")
    with pytest.raises(DataError, match=r"stimuli.csv index=\[2, 1, 3, .*expected 1..92 in "
                                        r"order: the rows must follow the RDMs' order"):
        load_rdm_data(copy)


def test_missing_pieces_are_named(copy, tmp_path):
    (copy / "stimuli" / "01_human-bodypart.png").unlink()
    with pytest.raises(DataError, match=r"stimuli.csv file=\['stimuli/01_human-bodypart.png'\]"):
        load_rdm_data(copy)
    with pytest.raises(DataError, match=r"folder='.*nowhere': expected a folder"):
        load_rdm_data(tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"shape=\(3, 3\): expected \(subjects, sessions, n, n\)"):
        check_rdm_stack(np.zeros((3, 3)))


def test_an_rsatoolbox_file_reads_like_the_npz(copy):
    from rsatoolbox.rdm import RDMs

    rdms = np.load(copy / "hit_rdms.npz")["rdms"]
    iu = np.triu_indices(92, 1)
    vectors = np.stack([rdms[s, r][iu] for s in range(4) for r in range(2)])
    RDMs(vectors, rdm_descriptors={"subject": [s for s in "ABCD" for _ in range(2)],
                                   "session": [1, 2] * 4}).save(str(copy / "hit.hdf5"))
    (copy / "hit_rdms.npz").unlink()
    data = load_rdm_data(copy)
    assert data.subjects == list("ABCD") and data.sessions == ["1", "2"]
    np.testing.assert_allclose(data.rdms, rdms)
