"""End-to-end: fractional GPUs pack trials. A local Ray declares 2 (fake) GPUs and 4 CPUs; with
``gpus_per_trial=0.5`` and ``cpus_per_trial=1`` all four trials run at once — shown by each of
them waiting, before it trains, until all four have started (``tests/trial_hooks.py``) — and,
with no CUDA device, they train on the CPU instead of failing.
"""

from __future__ import annotations

import json

import pytest
from conftest import local_ray_session
from trial_hooks import gathered

from tune_bs.search import experiment
from tune_bs.search.experiment import RunOptions, run_experiment
from tune_bs.search.space import parse_space

pytestmark = [pytest.mark.ray, pytest.mark.slow]

SPACE = {
    "name": "packing",
    "dataset": {"name": "ItalyPowerDemand"},
    "metric": "val_loss",
    "num_samples": 4,
    "budget": {"samples": 216, "reports": 2},
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


def test_half_a_gpu_per_trial_runs_four_trials_at_once_on_two_gpus(
    ray_with_two_fake_gpus, tmp_path, monkeypatch
):
    started = tmp_path / "started"
    # a trial trains only once all four have started: were fewer placed at once, the first
    # ones would wait in vain and fail
    monkeypatch.setattr(experiment, "train_trial", gathered(experiment.train_trial, started, 4))
    options = RunOptions(gpus_per_trial=0.5, cpus_per_trial=1, max_failures=0)
    outcome = run_experiment(parse_space(SPACE), storage=tmp_path, options=options)
    assert not outcome.results.errors  # all four met; without CUDA they fell back to the CPU
    trials = sorted(p for p in outcome.path.iterdir() if (p / "params.json").is_file())
    assert len(trials) == 4 and len(list(started.iterdir())) == 4
    for trial in trials:  # each trained to its budget
        last = json.loads((trial / "result.json").read_text().splitlines()[-1])
        assert last["samples_seen"] >= 216 and last["training_iteration"] == 2
