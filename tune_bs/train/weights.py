"""Centre-versus-periphery per-sample weights, the ``weighted`` strategy (docs/design.md §2).

Samples at the centre of a mode weigh more early in training, peripheral ones later. Two variants:
:func:`centre_weights` from full-data statistics fixed at the start (the distances of a
:class:`~tune_bs.train.clustering.ClusterAssignment`), and :func:`batch_weights` recomputed inside
each batch from the batch's own embeddings.

Rules:

- **Peripherality** ``u ∈ [0, 1]`` of a sample is the rank of its distance to its cluster's centre
  among its cluster's members, scaled to ``[0, 1]``: 0 for the most central member, 1 for the most
  peripheral one, ties sharing their average rank, 0 for a cluster of one. Ranks make the
  weights independent of each cluster's spread and robust to outliers.
- **Schedule** over training progress ``p ∈ [0, 1]`` (fraction of the samples budget; values
  outside are clipped, so the schedule holds its end points):
  ``w ∝ exp(−β(p) · u)`` with ``β(p) = strength · (1 − p)`` for ``late="uniform"`` (uniform at
  ``p = 1``) or ``β(p) = strength · (1 − 2p)`` for ``late="periphery"`` (the mirror image of the
  start at ``p = 1``; uniform at ``p = ½``). ``strength`` is therefore the natural log of the
  ratio between the most central and the most peripheral weight of a cluster at ``p = 0``.
- **Normalisation.** The weights are positive and average exactly 1 within every cluster (up to
  float round-off), hence also over the whole set: they shift weight inside a mode, never between
  modes.
- **Monotone in p.** For two members of one cluster, the more peripheral one's weight divided by
  the more central one's is non-decreasing in ``p``.
- Relabelling the clusters does not change the weights.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from tune_bs.errors import UserInputError, quote, unknown_name

LATE = ("uniform", "periphery")


def schedule_exponent(p: float, strength: float, late: str = "uniform") -> float:
    """``β(p)``: ``strength · (1 − p)`` (``late="uniform"``) or ``strength · (1 − 2p)``."""
    if late not in LATE:
        raise unknown_name("weights.late", late, LATE)
    if isinstance(strength, bool) or not (
        isinstance(strength, numbers.Real) and math.isfinite(strength) and strength >= 0
    ):
        raise UserInputError(
            f"weights strength (log of the centre / periphery weight ratio at the start) must be "
            f"a finite number >= 0, but got strength={quote(strength)}; use e.g. strength=1.0."
        )
    p = float(p)
    if math.isnan(p):
        raise ValueError("training progress p must be a number in [0, 1], but got nan.")
    p = min(max(p, 0.0), 1.0)
    return strength * (1.0 - p) if late == "uniform" else strength * (1.0 - 2.0 * p)


def peripherality(distances: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Within-cluster rank of each distance scaled to ``[0, 1]``, float64 ``[N]`` (see rules)."""
    d = np.asarray(distances, dtype=np.float64)
    _, groups = np.unique(np.asarray(labels), return_inverse=True)
    groups = groups.reshape(-1)
    if d.ndim != 1 or d.shape != groups.shape:
        raise ValueError(
            f"distances and labels must both have shape [N], but got {d.shape} and "
            f"{np.shape(labels)}."
        )
    order = np.lexsort((d, groups))  # by cluster, then by distance
    g, ds = groups[order], d[order]
    new_group = np.r_[True, g[1:] != g[:-1]]
    new_run = new_group | np.r_[True, ds[1:] != ds[:-1]]  # runs of tied distances
    group_id = np.cumsum(new_group) - 1
    run_id = np.cumsum(new_run) - 1
    rank = np.arange(d.size) - np.flatnonzero(new_group)[group_id]
    mean_rank = np.bincount(run_id, weights=rank) / np.bincount(run_id)
    size = np.bincount(group_id)
    u = np.empty_like(d)
    u[order] = mean_rank[run_id] / np.maximum(size[group_id] - 1, 1)
    return u


def centre_weights(
    distances: np.ndarray,
    labels: np.ndarray,
    p: float,
    strength: float = 1.0,
    late: str = "uniform",
) -> np.ndarray:
    """Weights float64 ``[N]`` from distances to the cluster centres at progress ``p`` (see rules).

    ``distances`` and ``labels`` are a :class:`~tune_bs.train.clustering.ClusterAssignment`'s; the
    training loop gathers ``weights[batch]`` for each batch.
    """
    beta = schedule_exponent(p, strength, late)
    u = peripherality(distances, labels)
    _, groups = np.unique(np.asarray(labels), return_inverse=True)
    groups = groups.reshape(-1)
    w = np.exp(-beta * (u - 0.5))  # centred exponent: weights stay within exp(±strength/2)
    mean = np.bincount(groups, weights=w) / np.bincount(groups)
    return w / mean[groups]


@torch.no_grad()
def batch_weights(
    features: torch.Tensor,
    labels: torch.Tensor | None,
    p: float,
    strength: float = 1.0,
    late: str = "uniform",
) -> torch.Tensor:
    """Weights ``[B]`` recomputed inside a batch from its own features ``[B, F]`` (see rules).

    The centre of a cluster is the mean of the batch's members with that label (``labels`` ``[B]``,
    any integers; None = one cluster). Computed without gradient, in float32 or the features'
    dtype if wider, on the features' device.
    """
    if features.ndim != 2:
        raise ValueError(f"features must have shape [B, F], but got {tuple(features.shape)}.")
    beta = schedule_exponent(p, strength, late)
    x = features.detach()
    x = x.float() if x.dtype not in (torch.float32, torch.float64) else x
    b = x.shape[0]
    if labels is None:
        groups = torch.zeros(b, dtype=torch.long, device=x.device)
    else:
        if labels.shape != (b,):
            raise ValueError(f"labels must have shape [B] = [{b}], but got {tuple(labels.shape)}.")
        groups = torch.unique(labels.to(x.device), return_inverse=True)[1]
    k = int(groups.max()) + 1
    size = torch.bincount(groups, minlength=k)  # [K]
    centres = torch.zeros(k, x.shape[1], dtype=x.dtype, device=x.device).index_add_(0, groups, x)
    centres /= size[:, None].to(x.dtype)  # [K, F]
    d = torch.linalg.vector_norm(x - centres[groups], dim=1)  # [B]

    # within-cluster average rank of d, as in peripherality()
    by_d = torch.argsort(d, stable=True)
    order = by_d[torch.argsort(groups[by_d], stable=True)]  # by cluster, then by distance
    g, ds = groups[order], d[order]
    first = torch.ones(1, dtype=torch.bool, device=x.device)
    new_group = torch.cat([first, g[1:] != g[:-1]])
    new_run = new_group | torch.cat([first, ds[1:] != ds[:-1]])
    group_id = torch.cumsum(new_group.long(), 0) - 1
    run_id = torch.cumsum(new_run.long(), 0) - 1
    rank = (torch.arange(b, device=x.device) - torch.nonzero(new_group)[:, 0][group_id]).to(x.dtype)
    n_runs = int(run_id[-1]) + 1
    mean_rank = torch.zeros(n_runs, dtype=x.dtype, device=x.device).index_add_(0, run_id, rank)
    mean_rank /= torch.bincount(run_id, minlength=n_runs).to(x.dtype)
    u = torch.empty_like(d)
    u[order] = mean_rank[run_id] / (size[g] - 1).clamp(min=1).to(x.dtype)

    w = torch.exp(-beta * (u - 0.5))
    mean = torch.zeros(k, dtype=x.dtype, device=x.device).index_add_(0, groups, w)
    mean /= size.to(x.dtype)
    return w / mean[groups]
