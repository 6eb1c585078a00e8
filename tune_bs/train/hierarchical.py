"""TS2Vec's hierarchical contrastive loss, and the two overlapping crops it is computed on.

Yue et al. 2022, "TS2Vec: Towards Universal Representation of Time Series" (AAAI), §3.2–3.3.
The loss reads per-time-step representations ``[B, T, D]`` of two *views* of the same B series
that are aligned in time (step t of one view and step t of the other are the same time stamp).

Rules (dot-product similarity, as the paper: no normalisation, no temperature):

- **Instance-wise contrast** at a time step t: anchor ``z1[i, t]``, positive ``z2[i, t]``,
  negatives every other series' step t in both views (2B − 2 of them):

      ℓ_inst(i, t) = −log( exp(z1[i,t]·z2[i,t]) / Σ_{j≠i} exp(z1[i,t]·z1[j,t])
                                               + Σ_j exp(z1[i,t]·z2[j,t]) )

  and the same with the views' roles swapped; the term is the mean over i, t and both roles.
  Like NT-Xent, it depends on the batch size: identical representations give log(2B − 1).
- **Temporal contrast** of series i: anchor ``z1[i, t]``, positive ``z2[i, t]``, negatives the
  series' own other time steps in both views (2T − 2 of them); mean over i, t and both roles.
  Identical representations give log(2T − 1).
- **Hierarchy**: at scale 0 the terms are computed on the representations as given; then both
  views are max-pooled along time with kernel 2 (an odd last step is dropped) and the terms
  computed again, until one time step is left, where only the instance term is computed (the
  temporal one needs 2+ steps). The loss is

      L = (1 / S) Σ_scales [ α ℓ_inst + (1 − α) ℓ_temp ],

  with S the number of scales (the last, one-step scale counts and adds α ℓ_inst only), and the
  temporal term skipped below scale ``temporal_unit``. α = :data:`ALPHA`.
- **Per-sample weights** ``w`` ``[B]`` (the ``weighted`` strategy): each series' share of every
  term (its two anchors at every step of the instance term, its own temporal term) is weighted,
  ``Σ_i w_i ℓ_i / Σ_i w_i``; unit weights give the unweighted loss exactly.

The crops (:func:`overlapping_crops`, TS2Vec's ``fit`` loop): a crop length l is drawn uniformly
from [2^(temporal_unit+1), T]; a window [a, a + l) of the series; the first view reads the
window extended to the left to a random start a1 ≤ a, the second the window extended to the
right to a random end b2 ≥ a + l, and the whole pair is shifted by a random per-series offset
that keeps both inside the series. The encoder sees each view whole (so the overlap's steps have
different contexts in the two views); the loss reads only the l overlapping steps: the last l of
view 1 and the first l of view 2.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

#: Weight of the instance-wise term (1 − ALPHA: the temporal term), TS2Vec's default.
ALPHA = 0.5


def _positives(n: int, device: torch.device) -> torch.Tensor:
    """Index of each of 2n anchors' positive: the same position in the other half."""
    return torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(device)  # [2n]


def _contrast(z: torch.Tensor) -> torch.Tensor:
    """Per-anchor −log softmax of the positive, over rows of ``z`` ``[G, 2n, D]``: within each
    group g, anchor k's positive is ``(k + n) mod 2n``, the other 2n − 2 rows its negatives.
    Returns ``[G, 2n]``."""
    groups, two_n, _ = z.shape
    n = two_n // 2
    sim = z @ z.transpose(1, 2)  # [G, 2n, 2n]
    self_mask = torch.eye(two_n, dtype=torch.bool, device=z.device)
    log_p = F.log_softmax(sim.masked_fill(self_mask, float("-inf")), dim=-1)  # [G, 2n, 2n]
    index = _positives(n, z.device)[None, :, None].expand(groups, two_n, 1)  # [G, 2n, 1]
    return -log_p.gather(2, index).squeeze(2)  # [G, 2n]


def instance_contrast(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Instance-wise term of each series ``[B]`` (mean over its time steps and both roles) for
    ``z1``, ``z2`` of shape ``[B, T, D]``; zeros when B = 1 (no negative)."""
    b = z1.shape[0]
    if b < 2:
        return z1.new_zeros(b)
    z = torch.cat([z1, z2], dim=0).transpose(0, 1)  # [T, 2B, D]: one group per time step
    nll = _contrast(z)  # [T, 2B]
    return (nll[:, :b] + nll[:, b:]).mean(dim=0) / 2  # [B]


def temporal_contrast(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Temporal term of each series ``[B]`` (mean over its time steps and both roles) for ``z1``,
    ``z2`` of shape ``[B, T, D]``; zeros when T = 1 (no negative)."""
    b, t, _ = z1.shape
    if t < 2:
        return z1.new_zeros(b)
    nll = _contrast(torch.cat([z1, z2], dim=1))  # [B, 2T]: one group per series
    return (nll[:, :t] + nll[:, t:]).mean(dim=1) / 2  # [B]


def hierarchical_terms(
    z1: torch.Tensor, z2: torch.Tensor, alpha: float = ALPHA, temporal_unit: int = 0
) -> torch.Tensor:
    """The hierarchical loss of each series ``[B]`` (module rules) for aligned views ``z1``,
    ``z2`` of shape ``[B, T, D]``."""
    if z1.shape != z2.shape or z1.ndim != 3:
        raise ValueError(
            f"z1 and z2 must both be [B, T, D], got {tuple(z1.shape)}, {tuple(z2.shape)}"
        )
    total = z1.new_zeros(z1.shape[0])  # [B]
    scales = 0
    while z1.shape[1] > 1:
        if alpha != 0:
            total = total + alpha * instance_contrast(z1, z2)
        if scales >= temporal_unit and alpha != 1:
            total = total + (1 - alpha) * temporal_contrast(z1, z2)
        scales += 1
        # max pooling along time, kernel 2: [B, T, D] -> [B, T // 2, D]
        z1 = F.max_pool1d(z1.transpose(1, 2), kernel_size=2).transpose(1, 2)
        z2 = F.max_pool1d(z2.transpose(1, 2), kernel_size=2).transpose(1, 2)
    if alpha != 0:
        total = total + alpha * instance_contrast(z1, z2)
    return total / (scales + 1)


def hierarchical_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    weights: torch.Tensor | None = None,
    alpha: float = ALPHA,
    temporal_unit: int = 0,
) -> torch.Tensor:
    """TS2Vec's hierarchical contrastive loss (module rules) of aligned views ``z1``, ``z2`` of
    shape ``[B, T, D]``; ``weights`` ``[B]`` give a weighted mean over series."""
    per_series = hierarchical_terms(z1, z2, alpha, temporal_unit)  # [B]
    if weights is None:
        return per_series.mean()
    w = weights.to(per_series.dtype)  # [B]
    return (w * per_series).sum() / w.sum()


class CropPair(NamedTuple):
    """Two overlapping crops of a batch (module rules): ``first`` ``[B, C, L1]`` ends with the
    ``overlap`` shared steps, ``second`` ``[B, C, L2]`` starts with them."""

    first: torch.Tensor
    second: torch.Tensor
    overlap: int


def _draw(low: int, high: int, generator: torch.Generator, size: int = 1) -> torch.Tensor:
    """``size`` integers drawn uniformly from [low, high] (inclusive), on the generator's
    device."""
    return torch.randint(low, high + 1, (size,), generator=generator, device=generator.device)


def _windows(x: torch.Tensor, starts: torch.Tensor, length: int) -> torch.Tensor:
    """Series b of ``x`` ``[B, C, T]`` read from ``starts[b]`` for ``length`` steps:
    ``[B, C, length]``."""
    steps = starts.to(x.device)[:, None] + torch.arange(length, device=x.device)  # [B, length]
    return x.gather(2, steps[:, None, :].expand(x.shape[0], x.shape[1], length))


def overlapping_crops(
    x: torch.Tensor, generator: torch.Generator, temporal_unit: int = 0
) -> CropPair:
    """TS2Vec's two overlapping random crops of ``x`` ``[B, C, T]`` (module rules), drawn with
    ``generator`` (on any device)."""
    b, _, t = x.shape
    shortest = 2 ** (temporal_unit + 1)
    if t < shortest:
        raise ValueError(f"overlapping crops need series of at least {shortest} steps, got {t}")
    overlap = int(_draw(shortest, t, generator))
    left = int(_draw(0, t - overlap, generator))
    right = left + overlap
    first_start = int(_draw(0, left, generator))  # view 1: [first_start, right)
    second_end = int(_draw(right, t, generator))  # view 2: [left, second_end)
    # one shift per series, keeping both views inside [0, T)
    shift = _draw(-first_start, t - second_end, generator, b)  # [B]
    first = _windows(x, shift + first_start, right - first_start)  # [B, C, L1]
    second = _windows(x, shift + left, second_end - left)  # [B, C, L2]
    return CropPair(first, second, overlap)
