"""NT-Xent (normalised temperature-scaled cross entropy), the SimCLR / InfoNCE loss.

Chen et al. 2020, "A Simple Framework for Contrastive Learning of Visual Representations".
For a batch of B series with two views each (2B embeddings), the anchor ``i`` has one positive
(its other view) and 2B − 2 negatives (every other embedding). Per anchor:

    ℓ_i = −log( exp(sim(z_i, z_pos(i)) / τ) / Σ_{k ≠ i} exp(sim(z_i, z_k) / τ) )

with cosine similarity ``sim``. The loss is the mean of ℓ over all 2B anchors, or, with per-sample
weights ``w`` (one per series, applied to both of its views), Σ w_i ℓ_i / Σ w_i.

Because of the 2B − 2 negatives the value depends on B (identical embeddings give exactly
log(2B − 1)): never compare training losses across batch sizes (docs/design.md §4).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def nt_xent(
    z1: torch.Tensor,
    z2: torch.Tensor,
    temperature: float = 0.5,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """NT-Xent of two views ``z1``, ``z2`` of shape ``[B, D]``; ``weights`` of shape ``[B]``."""
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"z1 and z2 must both be [B, D], got {tuple(z1.shape)}, {tuple(z2.shape)}")
    b = z1.shape[0]
    if b < 2:
        raise ValueError(f"NT-Xent needs at least 2 series per batch, got {b}")
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)  # [2B, D]
    logits = z @ z.T / temperature  # [2B, 2B]
    self_mask = torch.eye(2 * b, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    positives = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)]).to(z.device)  # [2B]
    per_anchor = F.cross_entropy(logits, positives, reduction="none")  # [2B]
    if weights is None:
        return per_anchor.mean()
    w = torch.cat([weights, weights]).to(per_anchor.dtype)  # [2B]
    return (w * per_anchor).sum() / w.sum()
