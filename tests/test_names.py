"""Experiment names are one folder name (:mod:`tune_bs.search.names`)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tune_bs.errors import UserInputError
from tune_bs.search.names import check_name
from tune_bs.search.storage import Location


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "is empty"),
        (" \t ", "is empty"),
        (".", "names the folder itself or its parent"),
        ("..", "names the folder itself or its parent"),
        (" .. ", "names the folder itself or its parent"),
        ("../x", "holds a path separator"),
        ("a/b", "holds a path separator"),
        ("a\\b", "holds a path separator"),
        ("a\x00b", "holds a control character"),
        ("a\x7fb", "holds a control character"),
        ("line\nbreak", "holds a control character"),
        (None, "must be a folder name (text)"),
        (["a"], "must be a folder name (text)"),
        (True, "must be a folder name (text)"),
    ],
)
def test_a_name_that_is_not_one_folder_is_refused(value, problem):
    with pytest.raises(UserInputError, match="--name") as err:
        check_name(value, "--name")
    assert problem in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("value", ["gunpoint", "run #3", "..hidden-ish", "ünï", "a.b", 7])
def test_plain_names_pass_unchanged(value):
    assert check_name(value) == str(value)


@given(st.text(min_size=1, max_size=20))
def test_an_accepted_name_stays_inside_storage(tmp_path_factory, text):
    root = Location.open(tmp_path_factory.getbasetemp() / "storage")
    try:
        child = root.child(text)
    except UserInputError:
        return
    assert child.path.rsplit("/", 1)[0] == root.path and child.path.rsplit("/", 1)[1] == text
