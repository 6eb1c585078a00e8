"""The trial loop without Ray: reports, divergence, out-of-memory back-off (simulated on CPU)."""

import io

import pytest
import torch

from tune_bs.data import load_dataset
from tune_bs.trainable import TrialOutOfMemory, is_out_of_memory, run_to_budget
from tune_bs.training import ContrastiveTrainer, TrainSettings


@pytest.fixture(scope="module")
def gunpoint():
    return load_dataset("GunPoint")


class MemoryCappedTrainer(ContrastiveTrainer):
    """Raises CUDA's out-of-memory error for minibatches above ``limit`` series."""

    limit = 8

    def _minibatch_loss(self):
        if self.batch_size > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super()._minibatch_loss()


def settings(**kw):
    base = dict(batch_size=32, hidden=8, projection_dim=8, budget_samples=96, report_every=32)
    return TrainSettings(**{**base, **kw})


def collect(trainer, **kw):
    reports = []
    run_to_budget(trainer, lambda metrics, state: reports.append((metrics, state)), **kw)
    return reports


def test_out_of_memory_halves_the_batch_and_records_it(gunpoint):
    reports = collect(MemoryCappedTrainer(gunpoint, settings(), "cpu"))
    last = reports[-1][0]
    assert last["batch_size"] == 8 and last["oom_backoffs"] == 2
    assert last["batch_size_schedule"] == "0:8"  # backed off before any sample: one entry
    assert last["samples_seen"] >= 96 and len(reports) == 3


def test_back_off_after_a_report_resumes_from_that_report(gunpoint):
    trainer = MemoryCappedTrainer(gunpoint, settings(batch_size=8), "cpu")
    trainer.limit = 100
    original = trainer.train_until

    def grow_then_fail(target):  # after the first report, the batch no longer fits
        if trainer.reports == 1:
            trainer.limit = 4
        return original(target)

    trainer.train_until = grow_then_fail
    reports = collect(trainer)
    schedule = reports[-1][0]["batch_size_schedule"]
    first_report_samples = reports[0][0]["samples_seen"]
    assert schedule == f"0:8;{first_report_samples}:4"
    # the state handed to the checkpoint restores exactly
    state = torch.load(io.BytesIO(reports[-1][1]), weights_only=False)
    assert state["batch_size"] == 4 and state["oom_backoffs"] == 1


def test_out_of_memory_below_the_floor_fails_with_a_clear_message(gunpoint):
    trainer = MemoryCappedTrainer(gunpoint, settings(batch_size=8), "cpu")
    trainer.limit = 1
    with pytest.raises(TrialOutOfMemory, match="ran out of memory at batch size 2"):
        collect(trainer)


def test_other_runtime_errors_are_not_mistaken_for_out_of_memory(gunpoint):
    assert is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))

    class Broken(ContrastiveTrainer):
        def _minibatch_loss(self):
            raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        collect(Broken(gunpoint, settings(batch_size=8), "cpu"))


def test_divergence_ends_the_trial_with_one_marked_report(gunpoint):
    trainer = ContrastiveTrainer(gunpoint, settings(batch_size=8), "cpu")
    with torch.no_grad():
        for p in trainer.model.parameters():
            p.fill_(float("nan"))
    reports = collect(trainer)
    assert len(reports) == 1 and reports[0][0]["diverged"] is True
