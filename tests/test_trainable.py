"""The trial loop without Ray: reports, divergence, out-of-memory back-off (simulated on CPU).

Out of memory is simulated by trainers whose minibatches (or evaluation) raise CUDA's error
above a batch size, the way a device with a fixed memory would.
"""

import math

import pytest
import torch

from tune_bs.data import load_dataset
from tune_bs.search import checkpoint
from tune_bs.search.trainable import (
    OOM_BATCH_SIZE,
    MemoryLimit,
    TrialOutOfMemory,
    is_out_of_memory,
    run_to_budget,
)
from tune_bs.train.strategies import STRATEGIES
from tune_bs.train.trainer import ContrastiveTrainer, TrainSettings

OOM = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


@pytest.fixture(scope="module")
def gunpoint():
    return load_dataset("GunPoint")


class MemoryCappedTrainer(ContrastiveTrainer):
    """Raises CUDA's out-of-memory error for minibatches above ``limit`` series."""

    limit = 8

    def _minibatch_loss(self):
        if self.batch_size > self.limit:
            raise OOM
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
    assert [r[OOM_BATCH_SIZE] for r, _ in reports] == [16, 16, 16]  # 32, then 16 ran out


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
    # the state handed to the checkpoint restores exactly, with the size that ran out
    state, trial = checkpoint.loads(reports[-1][1])
    assert state["batch_size"] == 4 and state["oom_backoffs"] == 1
    assert trial[OOM_BATCH_SIZE] == 8
    assert OOM_BATCH_SIZE not in reports[0][0]  # reported only once it happened


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


class NanAfterStep(ContrastiveTrainer):
    """The optimiser step that reaches ``at`` samples leaves NaN weights behind (its own loss,
    computed before the step, is finite)."""

    at = 64

    def train_step(self):
        loss = super().train_step()
        if self.samples_seen >= self.at:
            with torch.no_grad():
                for p in self.model.parameters():
                    p.fill_(float("nan"))
        return loss


def test_weights_that_became_nan_on_the_last_step_end_the_trial_marked(gunpoint):
    reports = collect(NanAfterStep(gunpoint, settings(batch_size=8), "cpu"))
    assert [r["diverged"] for r, _ in reports] == [False, True]  # stopped at the second
    last = reports[-1][0]
    assert math.isfinite(last["train_loss"]) and math.isnan(last["val_loss"])
    state, _ = checkpoint.loads(reports[-1][1])
    assert state["diverged"] is True  # a restart from this checkpoint stays diverged


class FirstSizeTooBig(ContrastiveTrainer):
    """A device that holds less than the first batch size the trial trains at, whatever the
    strategy chose it to be (``cluster_count`` chooses its own after the cluster step)."""

    limit: int | None = None

    def _minibatch_loss(self):
        if self.limit is None:
            self.limit = self.batch_size
        if self.batch_size >= self.limit:
            raise OOM
        return super()._minibatch_loss()


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_out_of_memory_in_the_first_interval_of_every_strategy(gunpoint, strategy):
    trainer = FirstSizeTooBig(gunpoint, settings(batch_size=16, strategy=strategy), "cpu")
    reports = collect(trainer)
    first = trainer.limit
    assert [r["batch_size"] for r, _ in reports] == [first // 2] * 3
    assert all(r[OOM_BATCH_SIZE] == first and r["oom_backoffs"] == 1 for r, _ in reports)
    assert reports[-1][0]["batch_size_schedule"] == f"0:{first // 2}"
    if strategy != "fixed":
        assert reports[-1][0]["n_modes"] >= 1  # the cluster step ran again after the restore
    # the last checkpoint resumes: clusters, stream and the memory limit come back
    resumed = FirstSizeTooBig(
        gunpoint, settings(batch_size=16, strategy=strategy, budget_samples=160), "cpu"
    )
    resumed.limit = first
    memory = MemoryLimit()
    state, trial = checkpoint.loads(reports[-1][1])
    resumed.load_state_dict(state)
    memory.mark(trial[OOM_BATCH_SIZE])
    more = []
    run_to_budget(resumed, lambda metrics, state: more.append(metrics), memory=memory)
    assert [r["samples_seen"] for r in more] == sorted(r["samples_seen"] for r in more)
    assert more[-1]["samples_seen"] >= 160 and more[-1]["oom_backoffs"] == 1


class EvaluationTooBig(ContrastiveTrainer):
    """Evaluation runs out of memory while the training batch is ``limit`` or more."""

    limit = 16

    def val_loss(self):
        if self.batch_size >= self.limit:
            raise OOM
        return super().val_loss()


def test_out_of_memory_during_evaluation_redoes_the_interval_at_half_the_size(gunpoint):
    reports = collect(EvaluationTooBig(gunpoint, settings(batch_size=16), "cpu"))
    assert [r["batch_size"] for r, _ in reports] == [8, 8, 8]
    assert [r["samples_seen"] for r, _ in reports] == [32, 64, 96]  # nothing counted twice
    assert reports[0][0]["batch_size_schedule"] == "0:8"
    assert reports[0][0][OOM_BATCH_SIZE] == 16 and reports[0][0]["oom_backoffs"] == 1


def test_out_of_memory_after_a_switch_goes_back_and_refuses_that_size_again(gunpoint):
    trainer = MemoryCappedTrainer(gunpoint, settings(batch_size=8, budget_samples=160), "cpu")
    trainer.limit = 8  # 16 does not fit
    asked, applied = [], []

    def poll(reports):  # a scheduler that asks for 16 after every report
        asked.append(reports)
        return (16, 1, reports)

    reports = []
    run_to_budget(
        trainer, lambda metrics, state: reports.append(metrics), poll=poll, on_switch=applied.append
    )
    assert [r["batch_size"] for r in reports] == [8] * 5
    assert applied == [(16, 1, 1)]  # taken once; every later switch to 16 is refused
    assert all(r["batch_size_schedule"] == "0:8" for r in reports)  # the attempt is undone
    assert [r.get(OOM_BATCH_SIZE) for r in reports] == [None, 16, 16, 16, 16]
    assert reports[-1]["oom_backoffs"] == 1 and reports[-1]["switches"] == 0
    assert [r["samples_seen"] for r in reports] == [32, 64, 96, 128, 160]


def test_memory_limit_excludes_the_size_and_larger_and_caps_chosen_sizes(gunpoint):
    memory = MemoryLimit()
    assert memory.allows(1024) and memory.metrics() == {}
    memory.mark(32)
    memory.mark(64)  # a larger size changes nothing: 32 already excludes it
    assert memory.limit == 32 and not memory.allows(32) and not memory.allows(64)
    assert memory.allows(31) and memory.metrics() == {OOM_BATCH_SIZE: 32}
    trainer = ContrastiveTrainer(gunpoint, settings(strategy="cluster_count", alpha=100.0), "cpu")
    memory.cap(trainer)
    trainer.prepare()
    assert trainer.batch_size == 16  # round(100 x modes), capped at half of 32
