"""Distribution-match score of a minibatch, for the ``accumulate`` strategy (docs/design.md §2).

How well does a batch's distribution match the full training data? Both are summarised by the
histogram of their cluster labels (the shared :func:`tune_bs.train.clustering.assign_clusters`
step), and the score is one minus their total-variation distance:

    s = max(1 − TV(p_batch, p_data), eps),    TV(p, q) = ½ Σ_c |p_c − q_c|.

Rules:

- ``s ∈ [eps, 1] ⊂ (0, 1]``; ``s = 1`` exactly when the batch's cluster fractions equal the data's.
- A batch drawn from a single cluster ``c`` scores ``p_data[c]`` (``1/K`` on balanced data);
  ``eps`` (default 1e-3) only bites for a batch made of clusters the reference does not contain.
- Linear along mixtures: moving a batch histogram ``p`` towards the reference,
  ``λ·p + (1 − λ)·p_data``, gives ``1 − λ·TV(p, p_data)``, so the score rises monotonically as the
  batch gets closer to the data.
- Small i.i.d. batches score below 1 on average (a histogram of ``B`` draws cannot match
  fractions finer than ``1/B``): that is intended — the ``accumulate`` strategy then accumulates
  more of them before an update.
- Only the cluster make-up counts, not where a sample sits inside its cluster.

Example::

    reference = cluster_histogram(assignment.labels, assignment.n_modes)
    s = match_score(assignment.labels[batch], reference)      # one batch  -> float
    s = match_score(assignment.labels[batches_2d], reference)  # [n, B]    -> [n]
"""

from __future__ import annotations

import numpy as np


def cluster_histogram(labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """Fraction of ``labels`` (ints in ``[0, n_clusters)``) in each cluster, float64 ``[K]``."""
    labels = _check_labels(labels, n_clusters)
    if labels.size == 0:
        raise ValueError("cluster_histogram needs at least one label, but got none.")
    return np.bincount(labels.reshape(-1), minlength=n_clusters) / labels.size


def total_variation(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Total-variation distance ``½ Σ |p − q|`` over the last axis, in ``[0, 1]`` for histograms."""
    return 0.5 * np.abs(np.asarray(p, dtype=np.float64) - np.asarray(q, dtype=np.float64)).sum(-1)


def match_score(
    batch_labels: np.ndarray, reference: np.ndarray, eps: float = 1e-3
) -> float | np.ndarray:
    """Score ``max(1 − TV, eps)`` of a batch ``[B]`` (→ float) or of batches ``[n, B]`` (→ ``[n]``).

    ``reference`` is the full data's cluster histogram ``[K]`` (non-negative, sums to 1); batch
    labels are ints in ``[0, K)``. Vectorised over the batches of a 2-D array.
    """
    reference = np.asarray(reference, dtype=np.float64)
    k = reference.shape[-1] if reference.ndim == 1 else -1
    if k < 1 or (reference < 0).any() or not np.isclose(reference.sum(), 1.0):
        raise ValueError(
            "reference must be a 1-D histogram of non-negative fractions summing to 1, but got "
            f"{reference!r}; build it with cluster_histogram."
        )
    if not 0.0 < eps <= 1.0:
        raise ValueError(f"eps must be in (0, 1], but got {eps=}.")
    labels = _check_labels(batch_labels, k)
    if labels.ndim not in (1, 2) or labels.shape[-1] == 0:
        raise ValueError(
            f"batch_labels must have shape [B] or [n, B] with B >= 1, but got {labels.shape}."
        )
    rows = labels.reshape(-1, labels.shape[-1])  # [n, B]
    offsets = np.arange(rows.shape[0])[:, None] * k
    counts = np.bincount((rows + offsets).reshape(-1), minlength=rows.shape[0] * k)
    hist = counts.reshape(rows.shape[0], k) / rows.shape[1]  # [n, K]
    scores = np.maximum(1.0 - total_variation(hist, reference), eps)
    return float(scores[0]) if labels.ndim == 1 else scores


def _check_labels(labels: np.ndarray, n_clusters: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"cluster labels must be integers, but got dtype {labels.dtype}.")
    labels = labels.astype(np.int64, copy=False)
    if labels.size and (labels.min() < 0 or labels.max() >= n_clusters):
        raise ValueError(
            f"cluster labels must lie in [0, {n_clusters}), but got values from {labels.min()} "
            f"to {labels.max()}; pass the labels of the same ClusterAssignment as the reference."
        )
    return labels
