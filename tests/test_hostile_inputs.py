"""Issue #32's data and input cases, end to end (cases 6, 7, 8 and the smaller ones).

The one-line refusals before Ray starts (cases 6 and the smaller ones: empty or damaged .npz,
complex X, 2-D or NaN labels, a single class under a probe metric, non-finite budgets, reports
that exceed their samples, duplicate keys, alias bombs, ...) are cases of the bad-input
catalogue, tests/test_bad_input.py, run through the real CLI; the pure rules behind them are in
tests/test_arrays.py, tests/test_documents.py and tests/test_errors.py.

Here, what needs more than one command:

- case 6: values of 1e30 no longer become zeros (statistics in float64), pure;
- case 8: a trial that fails on its input is not retried and the run says why (one real run);
- case 7: a run's checkpoint knows its data: export, downstream and embed refuse the data file
  overwritten after the run, unless told to go on; an old checkpoint without a fingerprint
  warns and goes on (one real run).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import local_ray_session, run_to_end

import tune_bs
from tune_bs import metrics as m
from tune_bs.api.encoder import DATA_FINGERPRINT, STATE_FILE
from tune_bs.cli import main
from tune_bs.data import load_dataset
from tune_bs.data.dataset import prepare
from tune_bs.errors import UserInputError
from tune_bs.search import checkpoint
from tune_bs.search.trainable import _check_same_data, failure_report


# --- case 6: 1e30 --------------------------------------------------------------------------
@pytest.mark.parametrize("normalise", ["series", "dataset"])
def test_values_of_1e30_are_normalised_not_zeroed(normalise):
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(40, 2, 32)) * 1e30).astype(np.float32)  # float32 holds 1e30 exactly
    y = np.repeat([0, 1], 20)
    data = prepare("big", X, y, X[:8], y[:8], normalise=normalise, seed=0)
    assert np.isfinite(data.X_train).all() and data.X_train.std() > 0.5  # it was all zeros
    X64 = X.astype(np.float64)
    if normalise == "series":
        expected = (X64 - X64.mean(2, keepdims=True)) / X64.std(2, keepdims=True)
        assert np.allclose(data.X_probe_train, expected, atol=1e-5)


def test_normalised_data_that_is_not_finite_names_the_set_split_and_rule():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 1, 16)) * 1e-6
    X_test = rng.normal(size=(8, 1, 16))
    X_test[2, 0, 0] = 3e38  # float32 holds it; (x - mean) / 1e-6 does not
    with pytest.raises(UserInputError) as refused:
        prepare("tiny", X, None, X_test, None, normalise="dataset", seed=0)
    message = str(refused.value)
    assert message.startswith("tiny's test split normalised with normalise=dataset")
    assert "series 2 reach inf" in message


# --- case 8: deterministic trial errors ---------------------------------------------------------
def test_the_failure_report_carries_the_cause_and_what_schedulers_read():
    X = np.random.default_rng(0).normal(size=(20, 1, 8))
    data = prepare("toy", X, None, X, None)
    labelled = prepare(
        "toy",
        np.random.default_rng(0).normal(size=(20, 1, 8)),
        np.repeat([0, 1], 10),
        np.random.default_rng(1).normal(size=(8, 1, 8)),
        np.repeat([0, 1], 4),
    )
    last = {m.SAMPLES_SEEN: 64, m.BATCH_SIZE: 16, m.WALL_TIME_S: 3.5, m.TRIAL_TIME_S: 2.0}
    report = failure_report("bad input", {"batch_size": 8}, labelled, last)
    assert report[m.TRIAL_ERROR] == "bad input" and report[m.DIVERGED] is False
    assert report[m.SAMPLES_SEEN] == 64 and report[m.BATCH_SIZE] == 16
    assert report[m.WALL_TIME_S] == 3.5 and report[m.ACCUMULATION_STEPS] == 1
    for key in (m.VAL_LOSS, m.VAL_PROBE_ACC, m.TEST_PROBE_ACC):
        assert np.isnan(report[key])
    assert m.VAL_PROBE_R2 not in report  # only the metrics this data set has
    fresh = failure_report("x", {"batch_size": "eight"}, data, {})
    assert fresh[m.BATCH_SIZE] == 0 and fresh[m.SAMPLES_SEEN] == 0  # numbers, whatever the config
    assert m.VAL_PROBE_ACC not in fresh and np.isnan(fresh[m.VAL_LOSS])


TINY = {
    "name": "tiny",
    "dataset": {"name": "GunPoint"},
    "num_samples": 2,
    "param_space": {"batch_size": 8, "hidden": 8},
    "budget": {"samples": 32, "reports": 2},
}


@pytest.mark.slow
@pytest.mark.ray
def test_a_trial_that_fails_on_its_input_fails_once_and_the_run_says_why(tmp_path):
    """A setting every trial reads and the driver does not (here the simulated clock's
    environment variable, mistyped) fails each trial at its start. Before: 3 attempts per trial
    ("# failures 3"), a scikit-learn-deep traceback, "run `tune-bs resume`", exit 1."""
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump(TINY))
    env = {**os.environ, "TUNE_BS_SIMULATED_CLOCK": "garbage"}
    command = [sys.executable, "-m", "tune_bs", "run", str(space), "--storage", str(tmp_path)]
    done = run_to_end(command, env)
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("tune-bs: error: TUNE_BS_SIMULATED_CLOCK must be three")
    assert "'garbage'" in last and "Traceback" not in done.stderr
    assert "failed on the input (not retried" in done.stdout
    assert "tune-bs resume" not in done.stdout.split("failed on the input")[0]
    trials = [p for p in (tmp_path / "tiny").iterdir() if (p / "params.json").is_file()]
    assert len(trials) == 2
    for trial in trials:
        rows = [json.loads(line) for line in (trial / "result.json").read_text().splitlines()]
        assert len(rows) == 1 and "TUNE_BS_SIMULATED_CLOCK" in rows[0][m.TRIAL_ERROR]
        assert not (trial / "error.txt").exists()  # Ray saw no error: nothing to retry
    frame = tune_bs.load(tmp_path / "tiny").reports
    assert set(frame["status"]) == {"ERROR"}


# --- case 7: a checkpoint knows its data ----------------------------------------------------
def _pair(seed: int) -> dict[str, np.ndarray]:
    """A labelled set with a continuous target (downstream needs both), 48 series."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, 24)
    y = np.repeat([0, 1], 24)
    X = np.sin(2 * np.pi * (1 + y[:, None]) * t) + 0.3 * rng.normal(size=(48, 24))
    return {"X": X[:, None, :], "y": y, "y_reg": y + rng.normal(size=48) * 0.1}


@pytest.fixture(scope="module")
def run_on_a_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fingerprint")
    data = folder / "data.npz"
    np.savez(data, **_pair(0))
    space = {
        "name": "onfile",
        "dataset": {"path": str(data)},
        "num_samples": 1,
        "param_space": {"batch_size": 8, "hidden": 8},
        "budget": {"samples": 64, "reports": 2},
    }
    with local_ray_session():
        result = tune_bs.run(space, storage=folder / "results")
    return result, data


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.slow
@pytest.mark.ray
def test_export_downstream_and_embed_refuse_a_data_file_changed_after_the_run(
    run_on_a_file, tmp_path, capsys
):
    result, data = run_on_a_file
    assert main(["export", str(result.path), "--out", str(tmp_path / "same")]) == 0
    capsys.readouterr()
    np.savez(data, **_pair(1))  # the same shapes, other values: what a user overwrote
    try:
        assert main(["export", str(result.path), "--out", str(tmp_path / "other")]) == 2
        err = _one_line(capsys)
        assert "fingerprint" in err and "--allow-other-data" in err
        assert not (tmp_path / "other" / "embeddings.npz").exists()
        args = ["export", str(result.path), "--out", str(tmp_path / "other"), "--allow-other-data"]
        assert main(args) == 0
        assert (tmp_path / "other" / "embeddings.npz").is_file()
        short = ["--alpha", "0.5", "--pretrain-epochs", "1", "--finetune-epochs", "1"]
        assert main(["downstream", str(result.path), *short]) == 2
        assert "--allow-other-data" in _one_line(capsys)
        assert main(["downstream", str(result.path), *short, "--allow-other-data"]) == 0
        encoder = tune_bs.load_encoder(result)
        changed = load_dataset(path=data, normalise="none")
        with pytest.raises(UserInputError, match="allow_other_data=True"):
            tune_bs.embed(encoder, changed)
        with pytest.raises(UserInputError, match="--allow-other-data"):
            tune_bs.export_trial(result, tmp_path / "api")
        assert tune_bs.export_trial(result, tmp_path / "api", allow_other_data=True).files
    finally:
        np.savez(data, **_pair(0))
    original = load_dataset(path=data, normalise="none")
    Z_train, _ = tune_bs.embed(tune_bs.load_encoder(result), original)
    assert Z_train.shape[0] == len(original.X_probe_train) == 34  # 30 % held out as test


def test_a_trial_resumes_only_on_the_data_its_checkpoint_was_trained_on():
    """`tune-bs resume` after the data file was overwritten: each trial fails at once on its
    first restore (a UserInputError: not retried), instead of training on other data."""
    X, y = _pair(0)["X"], _pair(0)["y"]
    data = prepare("data", X, y, X[:8], y[:8])
    other = prepare("data", _pair(1)["X"], y, X[:8], y[:8])
    _check_same_data({DATA_FINGERPRINT: data.fingerprint}, data, "ckpt")
    _check_same_data({}, other, "ckpt")  # a checkpoint from before fingerprints is trusted
    with pytest.raises(UserInputError) as refused:
        _check_same_data({DATA_FINGERPRINT: data.fingerprint}, other, "ckpt/trainer_state.pt")
    message = str(refused.value)
    assert "ckpt/trainer_state.pt was trained on other data" in message
    assert "put the run's data back and resume" in message and "\n" not in message


@pytest.mark.slow
@pytest.mark.ray
def test_an_old_checkpoint_without_a_fingerprint_warns_and_goes_on(
    run_on_a_file, tmp_path, caplog, capsys
):
    result, data = run_on_a_file
    state_file = Path(result.checkpoint) / STATE_FILE
    saved = state_file.read_bytes()
    state, trial = checkpoint.loads(saved)
    assert isinstance(state[DATA_FINGERPRINT], str)  # a new checkpoint records it
    del state[DATA_FINGERPRINT]  # what a tune-bs from before fingerprints wrote
    state_file.write_bytes(checkpoint.dumps(state, trial))
    np.savez(data, **_pair(1))
    try:
        with caplog.at_level(logging.WARNING):
            assert main(["export", str(result.path), "--out", str(tmp_path / "old")]) == 0
        assert "records no data fingerprint" in caplog.text
    finally:
        state_file.write_bytes(saved)
        np.savez(data, **_pair(0))
    assert torch.load(state_file, weights_only=True)["trainer"][DATA_FINGERPRINT]
