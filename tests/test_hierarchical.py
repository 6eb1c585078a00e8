"""TS2Vec's hierarchical loss against a naive loop and analytic values; the overlapping crops."""

from __future__ import annotations

import math

import pytest
import torch

from tune_bs.train.hierarchical import (
    hierarchical_loss,
    hierarchical_terms,
    instance_contrast,
    overlapping_crops,
    temporal_contrast,
)


def _nll(anchor, positive, negatives):
    """−log softmax of the positive against the positive and the negatives (dot products)."""
    scores = [anchor @ positive] + [anchor @ n for n in negatives]
    return -(scores[0] - torch.logsumexp(torch.stack(scores), dim=0))


def naive_instance(z1, z2):
    """Per series: the mean over time steps and both roles, written out with loops."""
    b, t, _ = z1.shape
    out = []
    for i in range(b):
        terms = []
        for s in range(t):
            for a, p in ((z1, z2), (z2, z1)):
                others = [j for j in range(b) if j != i]
                negatives = [a[j, s] for j in others] + [p[j, s] for j in others]
                terms.append(_nll(a[i, s], p[i, s], negatives))
        out.append(torch.stack(terms).mean())
    return torch.stack(out)


def naive_temporal(z1, z2):
    b, t, _ = z1.shape
    out = []
    for i in range(b):
        terms = []
        for s in range(t):
            for a, p in ((z1, z2), (z2, z1)):
                negatives = [a[i, r] for r in range(t) if r != s] + [
                    p[i, r] for r in range(t) if r != s
                ]
                terms.append(_nll(a[i, s], p[i, s], negatives))
        out.append(torch.stack(terms).mean())
    return torch.stack(out)


def naive_hierarchical(z1, z2, alpha=0.5, temporal_unit=0):
    """The paper's Algorithm 1, per series, with plain Python pooling."""
    total, scales = torch.zeros(z1.shape[0], dtype=z1.dtype), 0
    while z1.shape[1] > 1:
        total = total + alpha * naive_instance(z1, z2)
        if scales >= temporal_unit:
            total = total + (1 - alpha) * naive_temporal(z1, z2)
        scales += 1
        half = z1.shape[1] // 2
        z1 = torch.stack([torch.maximum(z1[:, 2 * k], z1[:, 2 * k + 1]) for k in range(half)], 1)
        z2 = torch.stack([torch.maximum(z2[:, 2 * k], z2[:, 2 * k + 1]) for k in range(half)], 1)
    total = total + alpha * naive_instance(z1, z2)
    return total / (scales + 1)


def _random(b, t, d, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, t, d, generator=g, dtype=torch.float64), torch.randn(
        b, t, d, generator=g, dtype=torch.float64
    )


@pytest.mark.parametrize(("b", "t"), [(2, 1), (3, 4), (4, 7), (2, 9)])
def test_terms_agree_with_the_naive_loop(b, t):
    z1, z2 = _random(b, t, 3, seed=b * 10 + t)
    if b > 1:
        assert torch.allclose(instance_contrast(z1, z2), naive_instance(z1, z2))
    if t > 1:
        assert torch.allclose(temporal_contrast(z1, z2), naive_temporal(z1, z2))
    assert torch.allclose(hierarchical_terms(z1, z2), naive_hierarchical(z1, z2))


@pytest.mark.parametrize(("alpha", "unit"), [(0.0, 0), (1.0, 0), (0.3, 1), (0.5, 2)])
def test_alpha_and_temporal_unit_agree_with_the_naive_loop(alpha, unit):
    z1, z2 = _random(3, 8, 2, seed=7)
    assert torch.allclose(
        hierarchical_terms(z1, z2, alpha, unit), naive_hierarchical(z1, z2, alpha, unit)
    )


@pytest.mark.parametrize(("b", "t"), [(2, 2), (5, 8), (16, 6)])
def test_identical_representations_give_the_analytic_value(b, t):
    # Every similarity equal: each term is log(number of candidates) = log(2n - 1).
    z = torch.ones(b, t, 4, dtype=torch.float64)
    expected, scales, steps = 0.0, 0, t
    while steps > 1:
        expected += 0.5 * math.log(2 * b - 1) + 0.5 * math.log(2 * steps - 1)
        scales += 1
        steps //= 2
    expected = (expected + 0.5 * math.log(2 * b - 1)) / (scales + 1)
    assert hierarchical_loss(z, z.clone()).item() == pytest.approx(expected, rel=1e-12)


def test_instance_term_depends_on_the_batch_size_like_nt_xent():
    z = torch.zeros(8, 4, 3)
    small, large = instance_contrast(z[:2], z[:2]), instance_contrast(z, z)
    assert small[0].item() == pytest.approx(math.log(3))
    assert large[0].item() == pytest.approx(math.log(15))


def test_weights_give_a_weighted_mean_and_unit_weights_the_plain_loss():
    z1, z2 = _random(4, 5, 3, seed=3)
    w = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64)
    per = naive_hierarchical(z1, z2)
    assert hierarchical_loss(z1, z2, w).item() == pytest.approx(((w * per).sum() / w.sum()).item())
    assert hierarchical_loss(z1, z2, torch.ones(4)).item() == pytest.approx(
        hierarchical_loss(z1, z2).item()
    )


def test_symmetric_in_the_views_and_lower_for_aligned_views():
    z1, z2 = _random(4, 6, 3, seed=5)
    assert hierarchical_loss(z1, z2).item() == pytest.approx(hierarchical_loss(z2, z1).item())
    assert hierarchical_loss(z1, z1 + 0.01).item() < hierarchical_loss(z1, z2).item()


def test_the_loss_has_a_gradient():
    z1, z2 = _random(3, 4, 2, seed=9)
    z1.requires_grad_(True)
    hierarchical_loss(z1, z2).backward()
    assert z1.grad is not None and torch.isfinite(z1.grad).all() and z1.grad.abs().sum() > 0


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match=r"\[B, T, D\]"):
        hierarchical_loss(torch.zeros(2, 3, 4), torch.zeros(2, 4, 4))


@pytest.mark.parametrize("seed", range(20))
def test_crops_overlap_on_the_same_time_stamps(seed):
    # the series' value at time t is t (+ 1000 × the series index): the crops' overlapping steps
    # must read the same time stamps in both views, inside the series
    b, t = 5, 17
    x = (torch.arange(t, dtype=torch.float32) + 1000 * torch.arange(b)[:, None])[:, None, :]
    g = torch.Generator().manual_seed(seed)
    pair = overlapping_crops(x.repeat(1, 2, 1), g)  # two channels
    assert 2 <= pair.overlap <= t
    assert pair.first.shape[:2] == (b, 2) and pair.second.shape[:2] == (b, 2)
    assert torch.equal(pair.first[:, :, -pair.overlap :], pair.second[:, :, : pair.overlap])
    for view in (pair.first, pair.second):
        steps = view[:, 0] - 1000 * torch.arange(b)[:, None]
        assert (steps >= 0).all() and (steps < t).all()
        assert torch.equal(steps[:, 1:] - steps[:, :-1], torch.ones_like(steps[:, 1:]))


def test_crops_are_a_function_of_the_generator_and_vary_with_it():
    x = torch.randn(4, 1, 30)
    a = overlapping_crops(x, torch.Generator().manual_seed(1))
    b = overlapping_crops(x, torch.Generator().manual_seed(1))
    assert a.overlap == b.overlap and torch.equal(a.first, b.first)
    lengths = {overlapping_crops(x, torch.Generator().manual_seed(s)).overlap for s in range(30)}
    assert len(lengths) > 5


def test_crops_need_two_steps():
    with pytest.raises(ValueError, match="at least 2 steps"):
        overlapping_crops(torch.zeros(2, 1, 1), torch.Generator().manual_seed(0))
