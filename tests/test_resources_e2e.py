"""End-to-end: fractional GPUs pack trials. A local Ray declares 2 (fake) GPUs and 4 CPUs; with
``gpus_per_trial=0.5`` and ``cpus_per_trial=1`` all four trials run at once — shown by their
running intervals (from ``result.json``) overlapping — and, with no CUDA device, they train on
the CPU instead of failing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import local_ray_session
from trial_files import result_rows

from tune_bs.search.experiment import RunOptions, run_experiment
from tune_bs.search.space import parse_space

pytestmark = pytest.mark.ray

SPACE = {
    "name": "packing",
    "dataset": {"name": "ItalyPowerDemand"},
    "metric": "val_loss",
    "num_samples": 4,
    # 64 epochs of 54 series: seconds of training, so the overlap outlasts the actors'
    # staggered start-up on a loaded 2-core machine
    "budget": {"samples": 3456, "reports": 2},
    "scheduler": {"name": "fifo"},
    "param_space": {
        "batch_size": 8,
        "hidden": 8,
        "encoder": "fcn",
        "lr": {"type": "float", "low": 1.0e-3, "high": 3.0e-3, "log": True},
    },
}


@pytest.fixture(scope="module")
def ray_with_two_fake_gpus():
    # CPUs may be declared beyond the physical count; the GPUs exist only in Ray's books
    with local_ray_session(num_cpus=4, num_gpus=2) as ray:
        yield ray


def running_interval(trial: Path) -> tuple[float, float]:
    """(start, end) in seconds since the epoch, from the trial's reports.

    ``timestamp`` is the wall-clock second of a report; the first report's ``time_this_iter_s``
    reaches back to when the trial began training.
    """
    rows = result_rows(trial)
    return rows[0]["timestamp"] - rows[0]["time_this_iter_s"], float(rows[-1]["timestamp"])


def test_half_a_gpu_per_trial_runs_four_trials_at_once_on_two_gpus(
    ray_with_two_fake_gpus, tmp_path
):
    options = RunOptions(gpus_per_trial=0.5, cpus_per_trial=1)
    outcome = run_experiment(parse_space(SPACE), storage=tmp_path, options=options)
    assert not outcome.results.errors  # without CUDA the trials fell back to the CPU
    trials = sorted(p for p in outcome.path.iterdir() if (p / "params.json").is_file())
    assert len(trials) == 4
    intervals = [running_interval(t) for t in trials]
    latest_start = max(start for start, _ in intervals)
    earliest_end = min(end for _, end in intervals)
    # `timestamp` has whole seconds: demand more than a second of common running time
    assert earliest_end - latest_start > 1.0, intervals
    for trial in trials:  # each trained to its budget
        last = json.loads((trial / "result.json").read_text().splitlines()[-1])
        assert last["samples_seen"] >= 3456 and last["training_iteration"] == 2
