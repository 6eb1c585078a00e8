"""Conformance over the strategy registry, and each strategy's own rule, in the real trainer."""

import copy
import logging
import math

import numpy as np
import pytest
import torch

from tune_bs.data import load_dataset
from tune_bs.train.strategies import STRATEGIES, build_strategy
from tune_bs.train.strategies.cluster_count import batch_size_from_modes
from tune_bs.train.trainer import ContrastiveTrainer, TrainSettings


@pytest.fixture(scope="module")
def synthetic():
    # 4 well-separated modes, 3 channels
    return load_dataset("synthetic", n_series=160, n_modes=4, length=32, seed=0)


def settings(**kw):
    base = dict(batch_size=8, hidden=8, projection_dim=8, budget_samples=64, report_every=32)
    return TrainSettings(**{**base, **kw})


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_trains_reports_and_resumes_exactly(synthetic, name):
    s = settings(strategy=name, alpha=2.0)
    straight = ContrastiveTrainer(synthetic, s, "cpu")
    straight.train_until(32)
    state = copy.deepcopy(straight.state_dict())
    report = straight.report(straight.train_until(64))
    assert math.isfinite(report["val_loss"]) and report["samples_seen"] >= 64
    if STRATEGIES[name].needs_clusters:
        assert report["n_modes"] == 4

    resumed = ContrastiveTrainer(synthetic, s, "cpu")
    resumed.load_state_dict(state)
    resumed.train_until(64)
    for p, q in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(p, q)
    assert resumed.samples_seen == straight.samples_seen


def test_unknown_strategy_lists_valid_names():
    with pytest.raises(ValueError, match="strategy must be one of accumulate, cluster_count"):
        build_strategy("bogus", settings(), 10)


def test_cluster_count_batch_is_alpha_times_modes(synthetic):
    trainer = ContrastiveTrainer(synthetic, settings(strategy="cluster_count", alpha=3.0), "cpu")
    trainer.train_until(8)
    assert trainer.batch_size == 12 and trainer.schedule[0] == (0, 12, 1)
    assert batch_size_from_modes(4, 0.1, 2, 100) == 2  # clipped below
    assert batch_size_from_modes(50, 4.0, 2, 100) == 100  # clipped to the training set


def test_resumed_cluster_count_trial_keeps_its_own_batch_size(synthetic):
    s = settings(strategy="cluster_count", alpha=3.0)
    trainer = ContrastiveTrainer(synthetic, s, "cpu")
    trainer.train_until(24)
    resumed = ContrastiveTrainer(synthetic, s, "cpu")
    resumed.load_state_dict(trainer.state_dict())
    assert not resumed.apply_config(8, 1)  # the unchanged config is no switch
    assert resumed.batch_size == 12
    assert resumed.apply_config(16, 1) and resumed.batch_size == 16  # a scheduler's switch


def test_a_switch_to_the_configured_size_is_applied(synthetic):
    """The trainer runs α·M = 12 while the config says 8: a scheduler's switch to 8 (restart
    path: a newer ``_switch_at``; in place: ``apply_switch``) must not be mistaken for the
    unchanged config."""
    s = settings(strategy="cluster_count", alpha=3.0)
    trainer = ContrastiveTrainer(synthetic, s, "cpu")
    trainer.train_until(24)
    assert trainer.batch_size == 12
    restarted = ContrastiveTrainer(synthetic, s, "cpu")
    restarted.load_state_dict(trainer.state_dict())
    assert restarted.apply_config(8, 1, switch_at=3) and restarted.batch_size == 8
    assert restarted.schedule[-1][1:] == (8, 1)
    assert not restarted.apply_config(8, 1, switch_at=3)  # the same switch again: applied once
    in_place = ContrastiveTrainer(synthetic, s, "cpu")
    in_place.load_state_dict(trainer.state_dict())
    assert in_place.apply_switch(8, 1, 3) and in_place.batch_size == 8
    again = ContrastiveTrainer(synthetic, s, "cpu")
    again.load_state_dict(in_place.state_dict())  # a restart after the in-place switch
    assert not again.apply_config(8, 1, switch_at=3) and again.batch_size == 8


def test_pretrained_cluster_features_spend_samples_first(synthetic):
    s = settings(
        strategy="cluster_count",
        alpha=2.0,
        cluster_features="pretrained",
        cluster_pretrain_epochs=0.2,
    )
    trainer = ContrastiveTrainer(synthetic, s, "cpu")
    trainer.prepare()
    assert trainer.samples_seen >= round(0.2 * synthetic.n_train)
    assert trainer.schedule[0][1] == 8 and trainer.schedule[-1][1] == 2 * trainer.clusters.n_modes


def test_stratified_batches_follow_cluster_shares(synthetic):
    trainer = ContrastiveTrainer(synthetic, settings(strategy="stratified", batch_size=8), "cpu")
    trainer.prepare()
    labels = trainer.clusters.labels
    quota = 8 * np.bincount(labels, minlength=4) / len(labels)
    for _ in range(10):
        batch = trainer.stream.next(8).numpy()
        if len(batch) == 8:
            counts = np.bincount(labels[batch], minlength=4)
            assert np.all(np.abs(counts - quota) < 1)  # within ±1 of every cluster's quota
    hard = ContrastiveTrainer(
        synthetic, settings(strategy="stratified", stratify="homogeneous"), "cpu"
    )
    hard.prepare()
    batch = hard.stream.next(8).numpy()
    assert len(set(hard.clusters.labels[batch])) == 1


def test_impossible_equal_stratification_falls_back_with_a_warning(synthetic, caplog):
    s = settings(strategy="stratified", stratify="equal", batch_size=3)  # 3 < 4 clusters
    trainer = ContrastiveTrainer(synthetic, s, "cpu")
    with caplog.at_level(logging.WARNING):
        report = trainer.report(trainer.train_until(32))
    assert report["stratify_fallbacks"] == 1
    assert "stratify='proportional'" in caplog.text


def test_accumulate_reports_accumulated_batches(synthetic):
    s = settings(strategy="accumulate", batch_size=4, accumulate_alpha=2.0, budget_samples=96)
    trainer = ContrastiveTrainer(synthetic, s, "cpu")
    report = trainer.report(trainer.train_until(96))
    # a batch of 4 over 4 clusters scores at most 1, so Σs ≥ 2 needs 2+ minibatches
    assert report["accumulated_batches"] >= 2
    assert report["effective_batch_size"] == pytest.approx(4 * report["accumulated_batches"])


def test_weighted_strategy_feeds_centre_heavy_weights_to_the_loss(synthetic):
    trainer = ContrastiveTrainer(
        synthetic, settings(strategy="weighted", weight_strength=2.0), "cpu"
    )
    trainer.prepare()
    idx = torch.arange(synthetic.n_train)
    early = trainer.strategy.sample_weights(idx, 0.0, torch.zeros(len(idx), 2))
    late = trainer.strategy.sample_weights(idx, 1.0, torch.zeros(len(idx), 2))
    assert early.mean().item() == pytest.approx(1.0, abs=1e-5)
    assert torch.allclose(late, torch.ones_like(late))  # uniform at the end of the budget
    d = torch.as_tensor(trainer.clusters.distances)
    central = d < d.median()
    assert early[central].mean() > early[~central].mean()
    batch = ContrastiveTrainer(
        synthetic, settings(strategy="weighted", weight_scope="batch"), "cpu"
    )
    assert math.isfinite(batch.train_until(16))
