"""The training objectives: both train every built-in encoder; val_loss is fixed per objective."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tune_bs.data import load_dataset
from tune_bs.errors import UserInputError
from tune_bs.search.space import parse_space
from tune_bs.train.encoders import ENCODERS
from tune_bs.train.evaluation import EVAL_BATCH_SIZE, EVAL_DRAWS, validation_crops
from tune_bs.train.objectives import LOSSES, HierarchicalObjective
from tune_bs.train.strategies import STRATEGIES
from tune_bs.train.trainer import ContrastiveTrainer, TrainSettings


@pytest.fixture(scope="module")
def italy():
    return load_dataset("ItalyPowerDemand")


def small(**kw) -> TrainSettings:
    return TrainSettings(
        **{
            "batch_size": 8,
            "hidden": 8,
            "projection_dim": 8,
            "depth": 2,
            "budget_samples": 64,
            "report_every": 32,
            "loss": "hierarchical",
            **kw,
        }
    )


def test_the_validation_crops_are_fixed_and_overlap(italy) -> None:
    a, b = validation_crops(italy.X_val), validation_crops(italy.X_val)
    n_val = len(italy.X_val)
    assert len(a) == EVAL_DRAWS * -(-n_val // min(EVAL_BATCH_SIZE, n_val))
    for x, y in zip(a, b, strict=True):
        assert x.overlap == y.overlap and torch.equal(x.first, y.first)
        assert x.first.shape[2] >= x.overlap and x.second.shape[2] >= x.overlap
    assert len({pair.overlap for pair in a}) > 1  # each batch its own crop


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_every_built_in_encoder_trains_under_the_hierarchical_loss(italy, encoder) -> None:
    trainer = ContrastiveTrainer(italy, small(encoder=encoder), "cpu")
    before = {k: v.clone() for k, v in trainer.model.encoder.state_dict().items()}
    loss = trainer.train_until(32)
    assert torch.isfinite(torch.tensor(loss)) and loss > 0
    changed = [
        k for k, v in trainer.model.encoder.state_dict().items() if not torch.equal(v, before[k])
    ]
    assert changed  # the encoder learned from it
    metrics = trainer.report(loss)
    assert metrics["val_loss"] > 0 and not metrics["diverged"]


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_trains_under_the_hierarchical_loss(italy, strategy) -> None:
    settings = small(strategy=strategy, cluster_features="raw", budget_samples=48)
    trainer = ContrastiveTrainer(italy, settings, "cpu")
    loss = trainer.train_until(48)
    metrics = trainer.report(loss)
    assert trainer.samples_seen >= 48 and metrics["val_loss"] > 0 and not metrics["diverged"]


@pytest.mark.parametrize(
    "searched", [{"batch_size": 16}, {"temperature": 0.05}, {"crop": 0.5}, {"seed": 3}]
)
def test_hierarchical_val_loss_is_the_same_for_the_same_weights(italy, searched) -> None:
    baseline = ContrastiveTrainer(italy, small(), "cpu")
    other = ContrastiveTrainer(italy, small(**searched), "cpu")
    other.model.load_state_dict(baseline.model.state_dict())
    assert other.val_loss() == baseline.val_loss()


def test_the_two_objectives_give_different_val_losses(italy) -> None:
    hier = ContrastiveTrainer(italy, small(), "cpu")
    ntx = ContrastiveTrainer(italy, small(loss="nt_xent"), "cpu")
    ntx.model.load_state_dict(hier.model.state_dict())
    assert ntx.val_loss() != hier.val_loss()


def test_hierarchical_training_does_not_read_the_temperature(italy) -> None:
    a = ContrastiveTrainer(italy, small(temperature=0.05), "cpu")
    b = ContrastiveTrainer(italy, small(temperature=0.9), "cpu")
    assert a.train_until(32) == b.train_until(32)


def test_weights_reach_the_hierarchical_loss(italy) -> None:
    trainer = ContrastiveTrainer(italy, small(), "cpu")
    x = trainer.X_train[:6]
    seen = []

    def weights_of(z):
        seen.append(z.shape)
        return torch.tensor([1.0, 0, 0, 0, 0, 0])

    objective = LOSSES["hierarchical"]
    g = torch.Generator().manual_seed(0)
    weighted = objective.train_loss(trainer.model, x, trainer.augmenter, g, 0.2, weights_of)
    g = torch.Generator().manual_seed(0)
    first_only = objective.train_loss(trainer.model, x, trainer.augmenter, g, 0.2, lambda z: None)
    assert seen == [torch.Size([6, trainer.model.encoder.output_dim])]
    assert weighted.item() != pytest.approx(first_only.item())


def test_an_encoder_without_time_steps_is_refused_in_one_line() -> None:
    class Pooled(nn.Module):
        output_dim = 4

        def forward(self, x):
            return x.mean(dim=2)

    with pytest.raises(UserInputError, match="loss: hierarchical needs an encoder") as err:
        HierarchicalObjective().check(nn.Sequential(), "pooled")
    assert "\n" not in str(err.value)
    LOSSES["nt_xent"].check(Pooled(), "pooled")  # NT-Xent needs no time steps


def _space(**over):
    raw = {
        "name": "x",
        "dataset": {"name": "GunPoint"},
        "metric": "val_probe_acc",
        "param_space": {"loss": {"type": "categorical", "choices": ["nt_xent", "hierarchical"]}},
        **over,
    }
    return parse_space(raw)


def test_a_search_over_the_loss_ranks_on_a_probe_not_on_val_loss() -> None:
    assert _space().values_of("loss") == ("nt_xent", "hierarchical")
    with pytest.raises(UserInputError, match="different quantities"):
        _space(metric="val_loss")
    with pytest.raises(UserInputError, match="extrapolation scheduler"):
        _space(scheduler={"name": "extrapolation", "batch_sizes": [8, 16]})
    parse_space(
        {"name": "x", "dataset": {"name": "GunPoint"}, "param_space": {"loss": "hierarchical"}}
    )


def test_an_unknown_loss_gets_a_did_you_mean() -> None:
    with pytest.raises(UserInputError, match="hierarchical"):
        parse_space(
            {"name": "x", "dataset": {"name": "GunPoint"}, "param_space": {"loss": "hierarchial"}}
        )


@pytest.mark.slow
@pytest.mark.ray
def test_the_extrapolation_scheduler_switches_a_trial_trained_with_the_hierarchical_loss(
    tmp_path,
) -> None:
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    from tune_bs.train.clock import SIMULATED_CLOCK_ENV

    raw = yaml.safe_load(
        (Path(__file__).parents[1] / "search_spaces" / "switching.yaml").read_text()
    )
    raw["name"] = "hier"
    raw["param_space"]["loss"] = "hierarchical"
    space = tmp_path / "hier.yaml"
    space.write_text(yaml.safe_dump(raw))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tune_bs",
            "run",
            str(space),
            "--smoke-test",
            "--storage",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,
        env={**os.environ, SIMULATED_CLOCK_ENV: "0.02,0.001,0.05"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    trials = sorted(p for p in (tmp_path / "hier-smoke").iterdir() if (p / "result.json").exists())
    assert len(trials) == 2
    for trial in trials:
        assert json.loads((trial / "params.json").read_text())["loss"] == "hierarchical"
        rows = [json.loads(line) for line in (trial / "result.json").read_text().splitlines()]
        assert all(r["val_loss"] > 0 for r in rows)
        assert ";600:" in rows[-1]["batch_size_schedule"]  # explored a second size in place
    assert "selected on validation: trial" in done.stdout
