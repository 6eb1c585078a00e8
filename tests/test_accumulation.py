"""Tests for tune_bs.train.accumulation: the applied gradient is the score-weighted mean."""

from __future__ import annotations

import pytest
import torch

from tune_bs.errors import UserInputError
from tune_bs.train.accumulation import AccumulatedStep, ScoreWeightedAccumulator


def _model_and_batches(n_batches: int = 5) -> tuple[torch.nn.Linear, list[tuple]]:
    g = torch.Generator().manual_seed(0)
    model = torch.nn.Linear(4, 2).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(2, 4, generator=g, dtype=torch.float64))
        model.bias.copy_(torch.randn(2, generator=g, dtype=torch.float64))
    batches = []
    for i in range(n_batches):
        x = torch.randn(3 + i, 4, generator=g, dtype=torch.float64)  # batch sizes vary
        batches.append((x, torch.randn(3 + i, 2, generator=g, dtype=torch.float64)))
    return model, batches


def _loss(model: torch.nn.Linear, batch: tuple) -> torch.Tensor:
    x, y = batch
    return ((model(x) - y) ** 2).mean()


def test_applied_gradient_is_the_score_weighted_mean_of_batch_gradients() -> None:
    model, batches = _model_and_batches()
    scores = [0.9, 0.2, 0.5, 1.0, 0.35]
    # reference: each batch's gradient on its own
    per_batch = []
    for batch in batches:
        model.zero_grad()
        _loss(model, batch).backward()
        per_batch.append([p.grad.clone() for p in model.parameters()])
    expected = [
        sum(s * g[i] for s, g in zip(scores, per_batch, strict=True)) / sum(scores)
        for i in range(2)
    ]
    model.zero_grad()
    acc = ScoreWeightedAccumulator(model.parameters(), alpha=sum(scores))
    ready = [acc.add(_loss(model, batch), s) for batch, s in zip(batches, scores, strict=True)]
    assert ready == [False, False, False, False, True]
    step = acc.finish()
    assert step == AccumulatedStep(5, pytest.approx(sum(scores)), False)
    for p, e in zip(model.parameters(), expected, strict=True):
        torch.testing.assert_close(p.grad, e)
    # an SGD step with lr=1 moves the parameters by exactly minus that mean
    before = [p.detach().clone() for p in model.parameters()]
    torch.optim.SGD(model.parameters(), lr=1.0).step()
    for p, b, e in zip(model.parameters(), before, expected, strict=True):
        torch.testing.assert_close(p.detach(), b - e)


def test_ready_once_scores_reach_alpha_then_counters_reset() -> None:
    model, batches = _model_and_batches(3)
    acc = ScoreWeightedAccumulator(model.parameters(), alpha=1.0)
    ready = [acc.add(_loss(model, b), s) for b, s in zip(batches, [0.5, 0.3, 0.4], strict=True)]
    assert ready == [False, False, True] and acc.ready
    step = acc.finish()
    assert step.n_batches == 3 and step.score_sum == pytest.approx(1.2) and not step.capped
    assert acc.pending == 0 and acc.score_sum == 0.0 and not acc.ready


def test_float_round_off_does_not_cost_an_extra_batch() -> None:
    model, batches = _model_and_batches(1)
    acc = ScoreWeightedAccumulator(model.parameters(), alpha=1.0)
    ready = [acc.add(_loss(model, batches[0]), 0.1) for _ in range(10)]
    assert ready == [False] * 9 + [True]
    assert not acc.finish().capped


def test_cap_forces_an_update_after_max_batches() -> None:
    model, batches = _model_and_batches(3)
    acc = ScoreWeightedAccumulator(model.parameters(), alpha=5.0, max_batches=3)
    ready = [acc.add(_loss(model, b), 0.01) for b in batches]
    assert ready == [False, False, True]
    step = acc.finish()
    assert step.capped and step.n_batches == 3 and step.score_sum == pytest.approx(0.03)


def test_parameters_without_gradient_are_skipped() -> None:
    model, batches = _model_and_batches(1)
    model.bias.requires_grad_(False)
    acc = ScoreWeightedAccumulator(model.parameters(), alpha=0.5)
    assert acc.add(_loss(model, batches[0]), 0.5)
    acc.finish()
    assert model.bias.grad is None and model.weight.grad is not None


@pytest.mark.parametrize("alpha", [0, -1.0, float("nan"), float("inf"), "2"])
def test_bad_alpha_raises_user_input_error(alpha) -> None:
    with pytest.raises(UserInputError, match="alpha"):
        ScoreWeightedAccumulator([], alpha=alpha)


def test_bad_max_batches_score_loss_and_empty_finish_raise() -> None:
    model, batches = _model_and_batches(1)
    with pytest.raises(UserInputError, match="max_batches"):
        ScoreWeightedAccumulator(model.parameters(), alpha=1.0, max_batches=0)
    acc = ScoreWeightedAccumulator(model.parameters(), alpha=1.0)
    with pytest.raises(ValueError, match="score"):
        acc.add(_loss(model, batches[0]), 0.0)
    with pytest.raises(ValueError, match="score"):
        acc.add(_loss(model, batches[0]), 1.5)
    with pytest.raises(ValueError, match="scalar"):
        acc.add(model(batches[0][0]).sum(dim=0), 0.5)
    with pytest.raises(RuntimeError, match="add"):
        acc.finish()
