"""Faults end to end on a real local Ray (docs/design.md §9), through the CLI's ``run`` in-process.

- divergence: in a two-trial grid, the trial whose learning rate blows the loss up to NaN is
  stopped and marked DIVERGED in the trial table; the other finishes; ``run`` exits 0.
- killed trial worker: the trial holds still after its second report (``tests/trial_hooks.py``)
  and its worker process (the ``pid`` of its ``result.json``) is killed with SIGKILL there; Tune
  retries it from its last checkpoint (``FailureConfig``) and it ends with every iteration once
  in the tables.
"""

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import yaml
from trial_files import result_rows as rows
from trial_hooks import holding

from tune_bs.cli import main
from tune_bs.report import load_trials, trial_table
from tune_bs.report.frame import DIVERGED, STATUS, TERMINATED
from tune_bs.search import experiment

pytestmark = [pytest.mark.ray, pytest.mark.slow]

BASE = {
    "dataset": {"name": "ItalyPowerDemand"},
    "metric": "val_probe_acc",
    "num_samples": 1,
    "search": {"name": "grid"},
    "scheduler": {"name": "fifo"},
}


def write_space(tmp_path: Path, name: str, **changes) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**BASE, "name": name, **changes}))
    return path


def test_a_diverging_trial_is_marked_and_the_experiment_goes_on(local_ray, tmp_path, capsys):
    space = write_space(
        tmp_path,
        "diverge",
        budget={"samples": 64, "reports": 2},
        param_space={
            "batch_size": 8,
            "hidden": 8,
            "lr": {"type": "categorical", "choices": [1.0e-3, 1.0e30]},
        },
    )
    assert main(["run", str(space), "--storage", str(tmp_path)]) == 0
    frame = load_trials([tmp_path / "diverge"])
    table = trial_table(frame)
    status = dict(zip(table["lr"], table[STATUS], strict=True))
    assert status == {1.0e-3: TERMINATED, 1.0e30: DIVERGED}, table
    reports = frame.groupby("lr")["training_iteration"].max().to_dict()
    assert reports == {1.0e-3: 2, 1.0e30: 1}  # the diverged trial stopped at its first report
    assert DIVERGED in capsys.readouterr().out  # the summary printed after the run says so


def _kill_worker_once(folder: Path, held: Path, killed: list[int], stop: threading.Event):
    """Wait for the trial to hold (``held/<trial id>`` holds the process id of the trial's worker,
    :func:`trial_hooks.holding`), then SIGKILL that process. (It used to read the pid from the
    trial's ``result.json``, which the driver may not have written yet: the thread died on the
    empty file and the trial held for ten minutes.)"""
    while not stop.is_set():
        for mark in held.iterdir() if held.is_dir() else []:
            if mark.suffix == ".part":  # still being written
                continue
            pid = int(mark.read_text())
            killed.append(pid)
            os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.05)


def test_a_killed_trial_worker_is_retried_from_its_checkpoint(local_ray, tmp_path, monkeypatch):
    reports = 6
    space = write_space(
        tmp_path,
        "killed-worker",
        budget={"samples": 480, "reports": reports},
        param_space={"batch_size": 8, "hidden": 8},
    )
    # the trial's first run holds after its second report until its worker is killed
    held = tmp_path / "held"
    hold = holding(experiment.train_trial, "reports", 2, held)
    monkeypatch.setattr(experiment, "train_trial", hold)
    folder = tmp_path / "killed-worker"
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(
        target=_kill_worker_once, args=(folder, held, killed, stop), daemon=True
    )
    killer.start()
    try:
        status = main(["run", str(space), "--storage", str(tmp_path)])
    finally:
        stop.set()
        killer.join(timeout=5)
    assert status == 0 and killed, "the worker was never killed"
    (trial,) = [p for p in folder.iterdir() if (p / "params.json").exists()]
    found = rows(trial)
    assert [r["training_iteration"] for r in found if r["pid"] == killed[0]] == [1, 2]
    retried = [r for r in found if r["pid"] != killed[0]]
    assert retried, "no report came from a new worker"
    assert retried[0]["training_iteration"] == 3, "the retry did not start from the checkpoint"
    frame = load_trials([folder])
    iterations = sorted(frame["training_iteration"])
    assert iterations == list(range(1, reports + 1)), iterations  # each once, none lost
    assert frame["samples_seen"].is_monotonic_increasing
    assert frame["samples_seen"].iloc[-1] >= 480
    table = trial_table(frame)
    assert list(table[STATUS]) == [TERMINATED]
