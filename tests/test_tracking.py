"""The ``tracking:`` section and its callbacks, without Ray (the real MLflow store is checked
end to end in ``tests/test_api.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tune_bs.errors import UserInputError
from tune_bs.search.experiment import RunOptions, tracking_section
from tune_bs.search.space import parse_space
from tune_bs.search.tracking import (
    check_tracking,
    default_tracking_uri,
    optuna_storage_uri,
    tracking_callbacks,
)

SPACE = {"dataset": {"name": "GunPoint"}, "param_space": {"batch_size": 8}}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"mlfow": True}, "tracking.mlfow is not a known key (did you mean 'mlflow'?)"),
        ({"mlflow": "yes"}, "tracking.mlflow must be true or false"),
        ({"mlflow": True, "tracking_uri": ""}, "tracking.tracking_uri must be a non-empty string"),
        ([1], "tracking must be a mapping"),
    ],
)
def test_bad_sections_are_one_line(section, message):
    with pytest.raises(
        UserInputError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")
    ):
        parse_space({**SPACE, "tracking": section})


def test_the_flag_turns_mlflow_on_over_the_space_section():
    space = parse_space({**SPACE, "tracking": {"tracking_uri": "http://127.0.0.1:5000"}})
    assert space.tracking == {"tracking_uri": "http://127.0.0.1:5000"}
    merged = tracking_section(space, RunOptions(tracking={"mlflow": True}))
    assert merged == {"tracking_uri": "http://127.0.0.1:5000", "mlflow": True}
    assert tracking_section(parse_space(SPACE), RunOptions()) == {}
    assert check_tracking(True) == {"mlflow": True}


def test_default_stores_are_sqlite_files_in_the_experiment_folder(tmp_path):
    assert default_tracking_uri(tmp_path / "exp") == f"sqlite:///{tmp_path}/exp/mlflow.db"
    assert optuna_storage_uri(tmp_path / "exp") == f"sqlite:///{tmp_path}/exp/optuna.db"


def test_callbacks():
    assert tracking_callbacks({}, Path("x"), "exp") == []
    (logger,) = tracking_callbacks({"mlflow": True}, Path("/tmp/exp"), "exp")
    assert logger.tracking_uri == "sqlite:////tmp/exp/mlflow.db"
    assert logger.experiment_name == "exp"
    (named,) = tracking_callbacks(
        {"mlflow": True, "tracking_uri": "http://127.0.0.1:5000", "experiment_name": "mine"},
        "s3://bucket/exp",
        "exp",
    )
    assert (named.tracking_uri, named.experiment_name) == ("http://127.0.0.1:5000", "mine")
    with pytest.raises(UserInputError, match="tracking_uri is needed"):
        tracking_callbacks({"mlflow": True}, "s3://bucket/exp", "exp")
