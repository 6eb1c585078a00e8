"""Hand-built results directories in Ray Tune 2.60's layout, for the report tests (no Ray started).

The layout copies what a real ``Tuner.fit()`` writes (checked against one): ``STORAGE/NAME/``
with ``experiment_state-<timestamp>.json`` whose ``trial_data`` is a list of
``[trial_json, runtime_json]`` strings (trial JSON has ``trial_id``, ``status``, ``config``,
``relative_logdir``), and one folder per trial with ``params.json``, ``result.json`` (one JSON
object per report, ``config`` included), ``progress.csv`` and ``error.txt`` for a failed trial.

:func:`gunpoint_experiment` builds the main scenario; the numbers are chosen so that the tests can
check the tables by hand (see its docstring).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from tune_bs import metrics as m

RUN_ID = "a1b2c"


def report(
    iteration: int,
    samples: int,
    val_loss: float,
    probe_acc: float | None,
    time_s: float,
    batch_size: int,
    schedule: str,
    **extra: Any,
) -> dict[str, Any]:
    """The metrics a tune-bs trainable reports at one iteration (Ray's keys are added later)."""
    row = {
        m.VAL_LOSS: val_loss,
        m.TRAIN_LOSS: 5.0 - iteration,
        m.SAMPLES_SEEN: samples,
        m.BATCH_SIZE: batch_size,
        m.SWITCHES: schedule.count(";"),
        m.BATCH_SIZE_SCHEDULE: schedule,
        m.DIVERGED: False,
        m.TRAINING_ITERATION: iteration,
        m.TIME_TOTAL_S: time_s,
    }
    if probe_acc is not None:  # the test score equals the validation one in these fixtures
        row[m.VAL_PROBE_ACC] = row[m.TEST_PROBE_ACC] = probe_acc
    row.update(extra)
    return row


def trial_config(**overrides: Any) -> dict[str, Any]:
    config = {
        "dataset": "GunPoint",
        "encoder": "fcn",
        "strategy": "fixed",
        "scheduler": "fifo",
        m.BATCH_SIZE: 16,
        "lr": 0.001,
        "seed": 0,
        "budget_samples": 300,
    }
    config.update(overrides)
    return config


def write_trial(
    experiment: Path,
    index: int,
    config: dict[str, Any],
    rows: list[dict[str, Any]],
    error: bool = False,
) -> tuple[str, str]:
    """Write one trial folder; returns ``(trial_id, folder name)``."""
    trial_id = f"{RUN_ID}_{index:05d}"
    folder = f"trainable_{trial_id}_{index}_batch_size={config[m.BATCH_SIZE]}_2026-11-21_22-00-00"
    path = experiment / folder
    path.mkdir(parents=True)
    (path / "params.json").write_text(json.dumps(config, indent=2))
    lines = []
    for row in rows:
        full = dict(row)
        full.update(
            trial_id=trial_id,
            done=False,
            timestamp=1795297800 + int(row[m.TIME_TOTAL_S]),
            date="2026-11-21_22-00-00",
            time_this_iter_s=1.0,
            pid=1234,
            hostname="vm",
            node_ip="192.0.2.2",
            config={**config, m.BATCH_SIZE: row.get(m.BATCH_SIZE, config[m.BATCH_SIZE])},
            time_since_restore=row[m.TIME_TOTAL_S],
            iterations_since_restore=row[m.TRAINING_ITERATION],
            checkpoint_dir_name=f"checkpoint_{row[m.TRAINING_ITERATION] - 1:06d}",
            should_checkpoint=True,
        )
        lines.append(json.dumps(full))  # NaN is written as NaN, as Ray does
    (path / "result.json").write_text("".join(line + "\n" for line in lines))
    if rows:
        pd.DataFrame([{k: v for k, v in r.items() if k != "config"} for r in rows]).to_csv(
            path / "progress.csv", index=False
        )
    if error:
        (path / "error.txt").write_text("Failure # 1\nRuntimeError: boom\n")
    return trial_id, folder


def write_state(experiment: Path, trials: list[tuple[str, str, str, dict[str, Any]]]) -> Path:
    """``experiment_state-*.json`` for ``(trial_id, folder, status, config)`` tuples."""
    trial_data = []
    for trial_id, folder, status, config in trials:
        trial = {
            "stub": False,
            "trainable_name": "trainable",
            "trial_id": trial_id,
            "config": config,
            "status": status,
            "relative_logdir": folder,
            "experiment_tag": folder.split("_", 3)[-1],
        }
        runtime = {"num_failures": int(status == "ERROR"), "last_result": {}}
        trial_data.append([json.dumps(trial, indent=2), json.dumps(runtime, indent=2)])
    path = experiment / "experiment_state-2026-11-21_22-00-00.json"
    path.write_text(
        json.dumps({"trial_data": trial_data, "runner_data": {}, "stats": {"start_time": 0}})
    )
    (experiment / "tuner.pkl").write_bytes(b"\x80\x05N.")
    return path


def gunpoint_experiment(storage: Path, name: str = "gunpoint") -> Path:
    """Seven GunPoint trials covering every status; final probe_acc in parentheses.

    - 00000 fixed/fifo, seed 0, batch 16: probe 0.5, 0.8, 0.9 at 100/200/300 samples, 1/2/3 s
      (0.9, the best: target = 0.95 × 0.9 = 0.855, reached at 300 samples, 3 s). TERMINATED.
    - 00001 fixed/fifo, seed 1, batch 32: probe 0.6, 0.7, 0.8; 2/4/6 s (0.8, never reaches).
    - 00002 fixed/extrapolation, 16 → 32 at 150 samples, resumed: iterations 1, 2, 3 then 2, 3
      again; the latest lines say probe 0.87 at 200 samples / 2.6 s (reaches there; the stale
      line said 0.84) and 0.89 at 300 / 3.6 s; reports ``n_modes`` = 3. TERMINATED.
    - 00003 stratified/fifo, one report (0.4), RUNNING when the driver stopped → UNFINISHED.
    - 00004 stratified/fifo, never reported → PENDING.
    - 00005 stratified/fifo, one report (0.3), error.txt → ERROR.
    - 00006 stratified/fifo, 0.2 then a diverged report (val_loss NaN) → DIVERGED.
    """
    exp = storage / name
    exp.mkdir(parents=True)
    state = []

    def add(index: int, status: str, config: dict[str, Any], rows: list, error: bool = False):
        trial_id, folder = write_trial(exp, index, config, rows, error=error)
        state.append((trial_id, folder, status, config))

    add(
        0,
        "TERMINATED",
        trial_config(seed=0),
        [
            report(1, 100, 2.0, 0.5, 1.0, 16, "0:16"),
            report(2, 200, 1.5, 0.8, 2.0, 16, "0:16"),
            report(3, 300, 1.2, 0.9, 3.0, 16, "0:16"),
        ],
    )
    add(
        1,
        "TERMINATED",
        trial_config(seed=1, batch_size=32),
        [
            report(1, 100, 2.1, 0.6, 2.0, 32, "0:32"),
            report(2, 200, 1.7, 0.7, 4.0, 32, "0:32"),
            report(3, 300, 1.4, 0.8, 6.0, 32, "0:32"),
        ],
    )
    switched = "0:16;150:32"
    add(
        2,
        "TERMINATED",
        trial_config(scheduler="extrapolation", batch_size=32),
        [
            report(1, 100, 1.9, 0.7, 1.5, 16, "0:16", n_modes=3),
            report(2, 200, 1.6, 0.84, 2.5, 32, switched, n_modes=3),
            report(3, 300, 1.5, 0.85, 3.5, 32, switched, n_modes=3),
            report(2, 200, 1.55, 0.87, 2.6, 32, switched, n_modes=3),
            report(3, 300, 1.3, 0.89, 3.6, 32, switched, n_modes=3),
        ],
    )
    stratified = trial_config(strategy="stratified")
    add(3, "RUNNING", stratified, [report(1, 100, 2.2, 0.4, 1.0, 16, "0:16")])
    add(4, "PENDING", stratified, [])
    add(5, "ERROR", stratified, [report(1, 100, 2.3, 0.3, 1.0, 16, "0:16")], error=True)
    add(
        6,
        "TERMINATED",
        stratified,
        [
            report(1, 100, 1.9, 0.2, 1.0, 16, "0:16"),
            report(2, 200, math.nan, None, 2.0, 16, "0:16", diverged=True),
        ],
    )
    write_state(exp, state)
    return exp


def synthetic_experiment(storage: Path, name: str = "synthetic") -> Path:
    """Two synthetic-data trials: final probe 0.5 and 0.4 (target 0.475, reached by the first at
    200 samples / 2 s)."""
    exp = storage / name
    exp.mkdir(parents=True)
    state = []
    for index, (seed, probes) in enumerate([(0, (0.3, 0.5)), (1, (0.35, 0.4))]):
        config = trial_config(dataset="synthetic", seed=seed)
        rows = [
            report(i + 1, 100 * (i + 1), 2.0 - i, p, float(i + 1), 16, "0:16")
            for i, p in enumerate(probes)
        ]
        trial_id, folder = write_trial(exp, index, config, rows)
        state.append((trial_id, folder, "TERMINATED", config))
    write_state(exp, state)
    return exp


def test_fixture_matches_ray_layout(tmp_path: Path) -> None:
    exp = gunpoint_experiment(tmp_path)
    folders = sorted(p.name for p in exp.iterdir() if p.is_dir())
    assert len(folders) == 7
    assert all(f.startswith(f"trainable_{RUN_ID}_0000") for f in folders)
    state = json.loads(next(exp.glob("experiment_state-*.json")).read_text())
    trial, runtime = state["trial_data"][0]
    assert json.loads(trial)["relative_logdir"] in folders
    assert "last_result" in json.loads(runtime)
    first = (exp / folders[2] / "result.json").read_text().splitlines()
    assert len(first) == 5
    assert json.loads(first[0])["config"]["dataset"] == "GunPoint"
