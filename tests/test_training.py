import math

import numpy as np
import pytest
import torch

from tune_bs.data import load_dataset
from tune_bs.train.trainer import BatchStream, ContrastiveTrainer, TrainSettings, format_schedule


@pytest.fixture(scope="module")
def gunpoint():
    return load_dataset("GunPoint")


def small(**kw):
    base = dict(batch_size=8, hidden=8, projection_dim=8, budget_samples=96, report_every=48)
    return TrainSettings(**{**base, **kw})


def test_batch_stream_covers_each_index_once_per_epoch_and_is_seeded():
    a, b = BatchStream(10, seed=3), BatchStream(10, seed=3)
    first_epoch = torch.cat([a.next(4), a.next(4)])  # 8 of 10, then 2 left
    assert torch.equal(first_epoch, torch.cat([b.next(4), b.next(4)]))
    rest = a.next(4)
    assert len(rest) == 2 and len(set(torch.cat([first_epoch, rest]).tolist())) == 10
    assert a.next(4).tolist() != []  # a new epoch starts
    assert a.epoch == 1


def test_report_metrics_and_budget(gunpoint):
    trainer = ContrastiveTrainer(gunpoint, small(), "cpu")
    reports = []
    while not trainer.finished:
        reports.append(trainer.report(trainer.train_until(trainer.next_report_at)))
    assert len(reports) == 2
    last = reports[-1]
    assert last["samples_seen"] >= 96 and last["batch_size"] == 8
    assert 0.0 <= last["val_probe_acc"] <= 1.0 and 0.0 <= last["test_probe_acc"] <= 1.0
    assert math.isfinite(last["val_loss"])
    assert last["batch_size_schedule"] == "0:8" and last["switches"] == 0


def test_val_loss_does_not_depend_on_the_training_batch_size(gunpoint):
    a = ContrastiveTrainer(gunpoint, small(batch_size=4), "cpu")
    b = ContrastiveTrainer(gunpoint, small(batch_size=32), "cpu")
    # same seed, same weights, same fixed validation views and eval batches
    assert a.val_loss() == pytest.approx(b.val_loss())


def test_checkpoint_resume_continues_exactly(gunpoint):
    straight = ContrastiveTrainer(gunpoint, small(), "cpu")
    straight.train_until(48)
    straight.train_until(96)

    first = ContrastiveTrainer(gunpoint, small(), "cpu")
    first.train_until(48)
    state = first.state_dict()
    resumed = ContrastiveTrainer(gunpoint, small(seed=123), "cpu")  # other init, overwritten
    resumed.load_state_dict(state)
    resumed.train_until(96)
    for p, q in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(p, q)
    assert resumed.samples_seen == straight.samples_seen


def test_batch_size_change_is_recorded_in_the_schedule(gunpoint):
    trainer = ContrastiveTrainer(gunpoint, small(), "cpu")
    assert not trainer.set_batch_size(8)
    trainer.train_until(40)
    assert trainer.set_batch_size(16)
    trainer.train_until(80)
    assert trainer.schedule == [(0, 8, 1), (40, 16, 1)]
    assert format_schedule(trainer.schedule) == "0:8;40:16"
    assert trainer.report(1.0)["switches"] == 1
    assert trainer.set_batch_size(16, accumulation_steps=2)
    trainer.train_until(120)
    report = trainer.report(1.0)
    assert report["batch_size_schedule"] == "0:8;40:16;80:16x2"
    assert report["effective_batch_size"] == 32 and report["accumulation_steps"] == 2


def test_accumulation_averages_the_minibatch_gradients(gunpoint):
    """One step with k=2 minibatches of 8 applies the mean of the two minibatch gradients."""
    from tune_bs.train.loss import nt_xent

    settings = small(accumulation_steps=2, lr=0.1)
    trainer = ContrastiveTrainer(gunpoint, settings, "cpu")
    reference = ContrastiveTrainer(gunpoint, settings, "cpu")
    # replay the same two minibatches and views by hand on the reference copy
    stream_state = {
        k: (v.clone() if torch.is_tensor(v) else v)
        for k, v in reference.stream.state_dict().items()
    }
    view_state = reference.view_generator.get_state()
    trainer.train_step()
    reference.stream.load_state_dict(stream_state)
    reference.view_generator.set_state(view_state)
    grads = []
    for _ in range(2):
        idx = reference.stream.next(8)
        v1, v2 = reference.augmenter.views(reference.X_train[idx], reference.view_generator)
        reference.model.zero_grad()
        nt_xent(reference.model(v1), reference.model(v2), settings.temperature).backward()
        grads.append([p.grad.clone() for p in reference.model.parameters()])
    mean_grad = [(a + b) / 2 for a, b in zip(*grads, strict=True)]
    # the gradient the optimiser applied (left in .grad after the step) is the minibatch mean
    for p, g in zip(trainer.model.parameters(), mean_grad, strict=True):
        assert torch.allclose(p.grad, g, rtol=1e-4, atol=1e-7)
    assert trainer.samples_seen == 16


def test_divergence_is_reported_not_raised(gunpoint):
    trainer = ContrastiveTrainer(gunpoint, small(lr=1e6), "cpu")
    with torch.no_grad():
        for p in trainer.model.parameters():
            p.fill_(float("nan"))
    loss = trainer.train_until(8)
    metrics = trainer.report(loss)
    assert metrics["diverged"] is True and np.isnan(metrics["val_loss"])
    # Tune refuses a result without the experiment's metric: the probe's is there, as NaN
    assert np.isnan(metrics["val_probe_acc"]) and np.isnan(metrics["test_probe_acc"])
    assert "val_probe_r2" not in metrics


def test_settings_from_config_casts_and_ignores_other_keys():
    s = TrainSettings.from_config(
        {"batch_size": 16.0, "lr": "0.01", "strategy": "fixed", "dataset": "GunPoint"}
    )
    assert s.batch_size == 16 and isinstance(s.batch_size, int) and s.lr == 0.01


def test_val_loss_does_not_depend_on_the_training_temperature(gunpoint):
    a = ContrastiveTrainer(gunpoint, small(temperature=0.05), "cpu")
    b = ContrastiveTrainer(gunpoint, small(temperature=1.0), "cpu")
    assert a.val_loss() == pytest.approx(b.val_loss())


def test_pretrained_cluster_features_report_finite_losses_through_pretraining(gunpoint):
    """Pretraining (here 3 epochs = 120 samples) spans several report intervals (32 samples):
    every report has a finite training loss, then the cluster step runs once and stays."""
    settings = small(
        strategy="cluster_count",
        cluster_features="pretrained",
        cluster_pretrain_epochs=3.0,
        budget_samples=192,
        report_every=32,
    )
    trainer = ContrastiveTrainer(gunpoint, settings, "cpu")
    reports = []
    while not trainer.finished:
        reports.append(trainer.report(trainer.train_until(trainer.next_report_at)))
    assert len(reports) == 6
    assert all(math.isfinite(r["train_loss"]) and not r["diverged"] for r in reports)
    assert all("n_modes" not in r for r in reports[:3])  # still pretraining at 96 samples
    assert all(r["n_modes"] >= 2 for r in reports[4:])
    assert trainer.samples_seen >= trainer.pretrain_end == 120


def test_a_checkpoint_taken_before_the_cluster_step_restores_unprepared(gunpoint):
    settings = small(
        strategy="stratified",
        cluster_features="pretrained",
        cluster_pretrain_epochs=2.0,
        budget_samples=160,
        report_every=40,
    )
    first = ContrastiveTrainer(gunpoint, settings, "cpu")
    first.train_until(40)
    state = first.state_dict()
    assert state["prepared"] is False and state["clusters"] is None
    resumed = ContrastiveTrainer(gunpoint, settings, "cpu")
    resumed.load_state_dict(state)
    assert not resumed.prepared
    loss = resumed.train_until(120)  # pretraining ends at 80; the cluster step runs here
    assert math.isfinite(loss) and resumed.prepared and resumed.clusters is not None


def test_nan_weights_with_a_finite_training_loss_mark_the_trial_diverged(gunpoint):
    trainer = ContrastiveTrainer(gunpoint, small(), "cpu")
    loss = trainer.train_until(48)
    with torch.no_grad():  # the last step left NaN weights behind
        for p in trainer.model.parameters():
            p.fill_(float("nan"))
    metrics = trainer.report(loss)
    assert math.isfinite(metrics["train_loss"])
    assert metrics["diverged"] is True and np.isnan(metrics["val_loss"])
    assert np.isnan(metrics["val_probe_acc"])


def test_the_trial_clock_counts_training_and_evaluation_and_survives_a_restore(gunpoint):
    from tune_bs.train.clock import SimulatedClock

    def clock():
        return SimulatedClock(step_s=0.5, per_sample_s=0.01, eval_s=2.0)

    trainer = ContrastiveTrainer(gunpoint, small(), "cpu", clock=clock())
    first = trainer.report(trainer.train_until(48))
    steps = 48 // 8
    assert first["trial_time_s"] == pytest.approx(steps * 0.5 + 0.01 * 48 + 2.0)
    assert first["wall_time_s"] == pytest.approx(first["trial_time_s"])
    resumed = ContrastiveTrainer(gunpoint, small(), "cpu", clock=clock())
    resumed.load_state_dict(trainer.state_dict())
    second = resumed.report(resumed.train_until(96))
    assert second["trial_time_s"] == pytest.approx(2 * first["trial_time_s"])


def test_a_trial_normalises_raw_data_itself_and_probes_with_its_probe():
    raw = load_dataset("BasicMotions", normalise="none")
    trainer = ContrastiveTrainer(
        raw,
        small(
            encoder="causal_cnn",
            depth=2,
            normalise="dataset",
            probe="svm",
            budget_samples=16,
            report_every=16,
        ),
        "cpu",
    )
    assert trainer.data.normalisation == "dataset" and raw.normalisation == "none"
    assert np.array_equal(trainer.data.X_test, raw.normalised("dataset").X_test)
    assert float(trainer.X_train.abs().max()) < float(np.abs(raw.X_train).max())  # not raw
    metrics = trainer.report(trainer.train_until(trainer.next_report_at))
    assert 0.0 <= metrics["val_probe_acc"] <= 1.0 and 0.0 <= metrics["test_probe_acc"] <= 1.0
    as_loaded = ContrastiveTrainer(raw, small(), "cpu")
    assert as_loaded.data is raw  # no normalise setting: the data set as it was loaded


def test_multitask_probe_reports_the_weighted_pair_of_validation_probes():
    """val_multitask = α·(classification probe, CV on train) + (1 − α)·(ridge probe, CV on
    train), from the same representations; only when asked (multitask_probe)."""
    from tune_bs.train.evaluation import EVAL_SEED
    from tune_bs.train.probe import probe_scores

    data = load_dataset("synthetic", n_series=80, n_modes=3, length=32, seed=1)
    settings = TrainSettings(
        batch_size=16,
        hidden=8,
        budget_samples=32,
        report_every=32,
        multitask_probe=True,
        multitask_alpha=0.3,
    )
    trainer = ContrastiveTrainer(data, settings, torch.device("cpu"))
    out = trainer.probe()
    targets = data.multitask
    Z_train, Z_test = trainer.represent(data.X_probe_train), trainer.represent(data.X_test)
    classes = probe_scores(
        Z_train,
        targets.y_class_train,
        Z_test,
        targets.y_class_test,
        "classification",
        seed=EVAL_SEED,
    )
    values = probe_scores(
        Z_train, targets.y_reg_train, Z_test, targets.y_reg_test, "regression", seed=EVAL_SEED
    )
    assert out["val_multitask"] == pytest.approx(
        0.3 * classes["val_probe_acc"] + 0.7 * values["val_probe_r2"]
    )
    assert out["test_multitask"] == pytest.approx(
        0.3 * classes["test_probe_acc"] + 0.7 * values["test_probe_r2"]
    )
    plain = ContrastiveTrainer(
        data,
        TrainSettings(batch_size=16, hidden=8, budget_samples=32, report_every=32),
        torch.device("cpu"),
    )
    assert "val_multitask" not in plain.probe()
