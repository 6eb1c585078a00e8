"""Checkpoint files hold plain types only and load with ``weights_only=True``: a trainer of every
strategy round-trips exactly; a tampered file is refused in one line naming it, and what it
asked to run never runs."""

from __future__ import annotations

import io
import os
import pickle
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from tune_bs.data import load_dataset
from tune_bs.errors import UserInputError
from tune_bs.search import checkpoint
from tune_bs.train.clustering import ClusterAssignment
from tune_bs.train.strategies import STRATEGIES
from tune_bs.train.trainer import ContrastiveTrainer, TrainSettings


@pytest.fixture(scope="module")
def gunpoint():
    return load_dataset("GunPoint")


def settings(strategy: str) -> TrainSettings:
    return TrainSettings(
        batch_size=8,
        hidden=8,
        projection_dim=8,
        budget_samples=64,
        report_every=32,
        strategy=strategy,
    )


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_a_trainer_resumes_exactly_from_its_checkpoint_file(gunpoint, strategy, tmp_path):
    trainer = ContrastiveTrainer(gunpoint, settings(strategy), "cpu")
    trainer.report(trainer.train_until(32))
    path = tmp_path / "trainer_state.pt"
    path.write_bytes(checkpoint.dumps(trainer.state_dict(), {"oom_batch_size": 16}))
    # the file itself loads with PyTorch's restricted unpickler
    assert torch.load(path, weights_only=True)["format"] == checkpoint.FORMAT
    state, trial = checkpoint.loads(path)
    assert trial == {"oom_batch_size": 16}
    resumed = ContrastiveTrainer(gunpoint, settings(strategy), "cpu")
    resumed.load_state_dict(state)
    assert resumed.train_until(64) == trainer.train_until(64)  # same batches, views, weights
    for a, b in zip(resumed.model.parameters(), trainer.model.parameters(), strict=True):
        assert torch.equal(a, b)
    if strategy != "fixed":  # the cluster assignment comes back as one, arrays as arrays
        assert isinstance(state["clusters"], ClusterAssignment)
        assert np.array_equal(state["clusters"].labels, trainer.clusters.labels)
        assert state["clusters"].labels.dtype == trainer.clusters.labels.dtype


def test_plain_conversion_round_trips_and_refuses_other_types():
    value = {
        "a": np.arange(3, dtype=np.int64),
        "b": (np.float64(1.5), [torch.ones(2)]),
        "c": OrderedDict(x=None),
        3: "three",
    }
    plain = checkpoint.to_plain(value)
    back = checkpoint.from_plain(plain)
    assert isinstance(back["a"], np.ndarray) and back["a"].tolist() == [0, 1, 2]
    assert back["b"][0] == 1.5 and isinstance(back["b"], tuple)
    assert isinstance(back["c"], OrderedDict) and back[3] == "three"
    with pytest.raises(TypeError, match=r"state\.model is a PosixPath"):
        checkpoint.to_plain({"model": Path("x")})
    with pytest.raises(TypeError, match=r"state\.k is a numpy array of Python objects"):
        checkpoint.to_plain({"k": np.array([object()])})


class RunsCode:
    """What a tampered checkpoint would hold: unpickling it calls a function."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_a_tampered_checkpoint_is_refused_in_one_line_naming_the_file(tmp_path):
    marker = tmp_path / "the-code-ran"
    path = tmp_path / "checkpoint_000003" / "trainer_state.pt"
    path.parent.mkdir()
    buffer = io.BytesIO()
    torch.save(
        {"format": checkpoint.FORMAT, "trainer": {"x": RunsCode(marker)}, "trial": {}}, buffer
    )
    path.write_bytes(buffer.getvalue())
    with pytest.raises(UserInputError) as refused:
        checkpoint.loads(path)
    message = str(refused.value)
    assert str(path) in message and "\n" not in message and "tampered" in message
    assert not marker.exists()  # nothing it names ran
    # a plain pickle of the same (not even a torch file) is refused the same way
    path.write_bytes(pickle.dumps(RunsCode(marker)))
    with pytest.raises(UserInputError, match=r"checkpoint file .* was not loaded"):
        checkpoint.loads(path)
    assert not marker.exists()


def test_a_foreign_or_cut_file_is_refused_in_one_line(tmp_path):
    foreign = tmp_path / "foreign.pt"
    torch.save({"model": torch.ones(1)}, foreign)
    with pytest.raises(UserInputError, match=r"foreign\.pt is not a tune_bs\.checkpoint/1"):
        checkpoint.loads(foreign)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(checkpoint.dumps({"x": torch.ones(100)})[:50])
    with pytest.raises(UserInputError, match=r"cut\.pt .* damaged"):
        checkpoint.loads(cut)
    with pytest.raises(UserInputError, match="does not exist"):
        checkpoint.loads(tmp_path / "missing.pt")
