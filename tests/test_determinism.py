"""Determinism on CPU without Ray (docs/design.md §9): the same seed gives the same batches and the
same
metrics; another seed gives other batches and other metrics."""

import pytest

from tune_bs import metrics as m
from tune_bs.data import load_dataset
from tune_bs.search.trainable import run_to_budget
from tune_bs.train.trainer import ContrastiveTrainer, TrainSettings


class RecordingTrainer(ContrastiveTrainer):
    """Records the indices of every minibatch it trains on."""

    def _minibatch_loss(self):
        loss, idx = super()._minibatch_loss()
        self.batches.append(tuple(int(i) for i in idx))
        return loss, idx


@pytest.fixture(scope="module")
def data():
    return load_dataset("ItalyPowerDemand")


def run(data, **changes):
    settings = TrainSettings(
        **{
            "batch_size": 8,
            "hidden": 8,
            "projection_dim": 8,
            "budget_samples": 64,
            "report_every": 32,
            "seed": 0,
            **changes,
        }
    )
    trainer = RecordingTrainer(data, settings, "cpu")
    trainer.batches = []
    reports = []
    run_to_budget(trainer, lambda metrics, state: reports.append(metrics))
    return trainer.batches, reports


KEYS = (m.TRAIN_LOSS, m.VAL_LOSS, m.VAL_PROBE_ACC, m.SAMPLES_SEEN, m.BATCH_SIZE_SCHEDULE)


@pytest.fixture(scope="module")
def seed_0(data):
    return run(data, seed=0)


def test_same_seed_same_batches_and_metrics(data, seed_0):
    batches_a, reports_a = seed_0
    batches_b, reports_b = run(data, seed=0)
    assert len(batches_a) >= 8 and batches_a == batches_b
    assert len(reports_a) == 2
    assert [{k: r[k] for k in KEYS} for r in reports_a] == [
        {k: r[k] for k in KEYS} for r in reports_b
    ]


def test_another_seed_other_batches_and_metrics(data, seed_0):
    batches_a, reports_a = seed_0
    batches_b, reports_b = run(data, seed=1)
    assert batches_a != batches_b
    assert reports_a[-1][m.TRAIN_LOSS] != reports_b[-1][m.TRAIN_LOSS]
    assert reports_a[-1][m.VAL_LOSS] != reports_b[-1][m.VAL_LOSS]
