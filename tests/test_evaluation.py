"""val_loss means the same thing in every trial: fixed views, batches, temperature, device."""

from __future__ import annotations

import pytest
import torch

from tune_bs.data import load_dataset
from tune_bs.train.evaluation import EVAL_BATCH_SIZE, EVAL_DRAWS, validation_views
from tune_bs.train.trainer import ContrastiveTrainer, TrainSettings


@pytest.fixture(scope="module")
def gunpoint():
    return load_dataset("GunPoint")


def small(**kw) -> TrainSettings:
    return TrainSettings(
        **{
            "batch_size": 8,
            "hidden": 8,
            "projection_dim": 8,
            "budget_samples": 64,
            "report_every": 32,
            **kw,
        }
    )


def test_the_views_are_a_pure_function_of_the_validation_split(gunpoint) -> None:
    a, b = validation_views(gunpoint.X_val), validation_views(gunpoint.X_val)
    n_val = len(gunpoint.X_val)
    assert len(a) == EVAL_DRAWS * -(-n_val // min(EVAL_BATCH_SIZE, n_val))
    for (a1, a2), (b1, b2) in zip(a, b, strict=True):
        assert a1.device.type == "cpu" and torch.equal(a1, b1) and torch.equal(a2, b2)
    assert not torch.equal(a[0][0], a[0][1])  # two different views


@pytest.mark.parametrize(
    "searched",
    [
        {"jitter": 0.5},
        {"crop": 0.5},
        {"scaling": 0.4, "time_mask": 0.3},
        {"temperature": 0.05},
        {"batch_size": 32},
        {"seed": 7},
    ],
)
def test_the_same_weights_give_the_same_val_loss_whatever_the_trial_searches(
    gunpoint, searched
) -> None:
    baseline = ContrastiveTrainer(gunpoint, small(), "cpu")
    other = ContrastiveTrainer(gunpoint, small(**searched), "cpu")
    other.model.load_state_dict(baseline.model.state_dict())
    assert other.val_loss() == baseline.val_loss()


def test_a_declared_gpu_without_cuda_falls_back_to_the_same_val_loss(gunpoint, monkeypatch) -> None:
    import ray

    from tune_bs.search.trainable import trial_device

    monkeypatch.setattr(ray, "get_gpu_ids", lambda: [0])  # Ray assigned a GPU ...
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # ... CUDA is absent
    device = trial_device()
    assert device.type == "cpu"
    on_cpu = ContrastiveTrainer(gunpoint, small(), "cpu")
    fallback = ContrastiveTrainer(gunpoint, small(), device)
    fallback.model.load_state_dict(on_cpu.model.state_dict())
    assert fallback.val_loss() == on_cpu.val_loss()
