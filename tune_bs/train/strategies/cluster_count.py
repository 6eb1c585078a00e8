"""``cluster_count``: batch size = round(α · M), M = the number of modes found by clustering.

Rule: M is the ``n_modes`` of the trial's shared cluster assignment (``cluster_method`` over
``cluster_features``); the batch size is ``round(alpha · M)``, clipped to
``[min_batch_size, max_batch_size]`` (``max_batch_size = 0`` means the training-set size), to
the training-set size and, after an out-of-memory back-off, to ``size_cap`` (half the smallest
size that ran out of memory); at least 2. The configured ``batch_size`` is used only while the
encoder is pretrained for ``cluster_features: pretrained``. A clipped value is logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tune_bs.options import option
from tune_bs.train.strategies.base import BatchStrategy

logger = logging.getLogger(__name__)


def batch_size_from_modes(n_modes: int, alpha: float, low: int, high: int) -> int:
    """``round(alpha · n_modes)`` clipped to ``[max(2, low), high]``."""
    return int(min(max(round(alpha * n_modes), max(2, low)), high))


@dataclass(frozen=True)
class ClusterCountOptions:
    alpha: float = option(
        4.0, minimum=0, exclusive=True, doc="series per mode: batch size = round(alpha * modes)"
    )
    min_batch_size: int = option(2, minimum=2, doc="smallest batch size it may choose")
    max_batch_size: int = option(0, minimum=0, doc="largest batch size; 0: the training-set size")


class ClusterCountStrategy(BatchStrategy):
    name = "cluster_count"
    Options = ClusterCountOptions
    needs_clusters = True

    def initial_batch_size(self, batch_size: int) -> int:
        assert self.clusters is not None, "attach_clusters() comes first"
        s = self.options
        high = min(s.max_batch_size or self.n_train, self.n_train, self.size_cap or self.n_train)
        size = batch_size_from_modes(self.clusters.n_modes, s.alpha, s.min_batch_size, high)
        raw = round(s.alpha * self.clusters.n_modes)
        if size != raw:
            logger.warning(
                "cluster_count: alpha=%s x %d modes = %d is outside [%d, %d]; this "
                "trial uses batch size %d.",
                s.alpha,
                self.clusters.n_modes,
                raw,
                max(2, s.min_batch_size),
                high,
                size,
            )
        return size
