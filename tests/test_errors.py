"""The named argument checks (advlib/errors.py): one behaviour everywhere."""

import numpy as np
import pandas as pd
import pytest

from advlib.errors import InputError, ModelError, check_choice, check_positive_int, check_probability, expect


def test_positive_int_accepts_python_and_numpy_integers_only():
    assert check_positive_int(3, "n") == 3 and check_positive_int(np.int64(3), "n") == 3
    assert isinstance(check_positive_int(np.int32(2), "n"), int)
    for bad in (0, -1, 2.0, "2", True, np.float64(2), None):
        with pytest.raises(InputError, match="n=.*: expected a positive integer"):
            check_positive_int(bad, "n")
    assert check_positive_int(0, "k", minimum=0) == 0
    with pytest.raises(InputError, match="k=-1: expected an integer >= 0"):
        check_positive_int(-1, "k", minimum=0)


def test_choice_lists_the_choices_and_keeps_the_error_type():
    assert check_choice("a", "x", ("a", "b")) == "a"
    with pytest.raises(InputError, match="x='c': expected one of a, b"):
        check_choice("c", "x", ("a", "b"))
    with pytest.raises(ModelError, match="model='vgg'"):
        check_choice("vgg", "model", ["alexnet"], ModelError)


def test_probability_intervals():
    assert check_probability(0, "p") == 0.0 and check_probability(np.float32(1), "p") == 1.0
    with pytest.raises(InputError, match=r"p=1: expected a probability in \[0, 1\)"):
        check_probability(1, "p", high_open=True)
    with pytest.raises(InputError, match=r"level=0.0: expected a coverage in \(0, 1\)"):
        check_probability(0.0, "level", low_open=True, high_open=True, what="a coverage")
    for bad in (float("nan"), float("inf"), "0.5", True, 1.5):
        with pytest.raises(InputError):
            check_probability(bad, "p")


def test_the_library_uses_them_the_same_way():
    from advlib.analysis import permutation_test
    from advlib.fmri import select_vertices

    rdm = 1 - np.corrcoef(np.random.default_rng(0).normal(size=(5, 8)))
    assert permutation_test(rdm, rdm, n_perm=np.int64(5), seed=0).p <= 1   # numpy ints pass
    with pytest.raises(InputError, match="n_perm=0: expected a positive integer"):
        permutation_test(rdm, rdm, n_perm=0)
    with pytest.raises(InputError, match="n_per_hemi=1.5: expected a positive integer"):
        select_vertices(pd.DataFrame({"hemi": ["lh"], "roi": ["V1"]}), [0.5], n_per_hemi=1.5)
    with pytest.raises(InputError, match="x=1: expected y"):
        expect(False, "x", 1, "y")


def test_a_long_value_keeps_its_start_and_its_end():
    """A long path in a message keeps its file name (the end), whatever the folder's length:
    it used to be cut after 77 characters, so a message under a deep temporary folder (as
    under pytest-xdist) named no file."""
    path = "/tmp/" + "deep/" * 30 + "weights.pth"
    with pytest.raises(InputError) as info:
        expect(False, "path", path, "an existing file")
    shown = str(info.value).split(": expected")[0][len("path="):]
    assert len(shown) == 80 and shown.startswith("'/tmp/deep/") and shown.endswith("weights.pth'")
    with pytest.raises(InputError, match=r"^n=3: expected more$"):
        expect(False, "n", 3, "more")
