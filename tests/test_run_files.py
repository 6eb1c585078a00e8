"""tune-bs's own files in an experiment folder (:mod:`tune_bs.search.run_files`)."""

from __future__ import annotations

import json

import pytest

from tune_bs.errors import UserInputError
from tune_bs.search.run_files import (
    RUN_OPTIONS,
    SPACE_COPY,
    RunOptions,
    read_run_options,
    read_space_copy,
    save_run_files,
)
from tune_bs.search.storage import Location


def test_run_files_round_trip(tmp_path):
    folder = Location.open(tmp_path)
    options = RunOptions(3, smoke_test=True, cpus_per_trial=0.5, tracking={"mlflow": True})
    save_run_files(folder, {"name": "x", "dataset": {"name": "GunPoint"}}, options)
    assert read_run_options(folder) == options
    assert read_space_copy(folder) == {"name": "x", "dataset": {"name": "GunPoint"}}


def test_an_older_run_file_takes_the_defaults_of_missing_keys(tmp_path):
    (tmp_path / RUN_OPTIONS).write_text(json.dumps({"num_samples": 2}))
    assert read_run_options(Location.open(tmp_path)) == RunOptions(num_samples=2)
    (tmp_path / RUN_OPTIONS).unlink()
    assert read_run_options(Location.open(tmp_path)) == RunOptions()


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"num_samples": 2.5}, "num_samples must be a positive integer"),
        ({"num_samples": True}, "num_samples must be a positive integer"),
        ({"max_failures": None}, "max_failures must be an integer of 0 or more"),
        ({"max_failures": -1}, "max_failures must be an integer of 0 or more"),
        ({"cpus_per_trial": 0}, "cpus_per_trial must be a positive number"),
        ({"gpus_per_trial": "1"}, "gpus_per_trial must be a number of 0 or more"),
        ({"smoke_budget": []}, "smoke_budget must be a mapping or null"),
        ({"smoke_budget": {"samples": 8, "epochs": 1}}, "exactly one of samples or epochs"),
    ],
)
def test_a_bad_value_names_the_key_and_the_file(tmp_path, raw, needle):
    (tmp_path / RUN_OPTIONS).write_text(json.dumps(raw))
    with pytest.raises(UserInputError, match=r"tune_bs_run\.json is damaged") as err:
        read_run_options(Location.open(tmp_path))
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_a_yaml_tag_in_the_space_copy_is_not_constructed(tmp_path):
    (tmp_path / SPACE_COPY).write_text("name: !!python/name:os.system\n")
    with pytest.raises(UserInputError, match="not plain YAML"):
        read_space_copy(Location.open(tmp_path))
