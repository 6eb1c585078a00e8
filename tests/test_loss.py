import math

import pytest
import torch
import torch.nn.functional as F

from tune_bs.train.loss import nt_xent


def naive_nt_xent(z1, z2, temperature, weights=None):
    """Loop implementation straight from the SimCLR paper's formula."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = len(z)
    b = n // 2
    losses = []
    for i in range(n):
        pos = (i + b) % n
        num = torch.exp(z[i] @ z[pos] / temperature)
        den = sum(torch.exp(z[i] @ z[k] / temperature) for k in range(n) if k != i)
        losses.append(-torch.log(num / den))
    losses = torch.stack(losses)
    if weights is None:
        return losses.mean()
    w = torch.cat([weights, weights])
    return (w * losses).sum() / w.sum()


@pytest.mark.parametrize("b", [2, 5, 16])
def test_identical_embeddings_give_log_2b_minus_1(b):
    z = torch.ones(b, 8)
    assert nt_xent(z, z.clone(), temperature=0.5).item() == pytest.approx(math.log(2 * b - 1))


def test_symmetric_in_the_two_views():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(7, 5, generator=g), torch.randn(7, 5, generator=g)
    assert nt_xent(z1, z2).item() == pytest.approx(nt_xent(z2, z1).item(), rel=1e-6)


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_agrees_with_naive_loop(temperature):
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)
    w = torch.rand(6, generator=g) + 0.1
    assert nt_xent(z1, z2, temperature).item() == pytest.approx(
        naive_nt_xent(z1, z2, temperature).item(), rel=1e-5
    )
    assert nt_xent(z1, z2, temperature, w).item() == pytest.approx(
        naive_nt_xent(z1, z2, temperature, w).item(), rel=1e-5
    )


def test_unit_weights_equal_no_weights_and_aligned_views_score_lower():
    g = torch.Generator().manual_seed(2)
    z1 = torch.randn(8, 4, generator=g)
    assert nt_xent(z1, z1 + 0.01, weights=torch.ones(8)).item() == pytest.approx(
        nt_xent(z1, z1 + 0.01).item()
    )
    assert nt_xent(z1, z1 + 0.01).item() < nt_xent(z1, torch.randn(8, 4, generator=g)).item()


def test_refuses_single_series_and_mismatched_shapes():
    with pytest.raises(ValueError, match="at least 2"):
        nt_xent(torch.ones(1, 3), torch.ones(1, 3))
    with pytest.raises(ValueError, match="both be"):
        nt_xent(torch.ones(2, 3), torch.ones(3, 3))
