"""``fixed``: one batch size for the whole trial, changed only by a scheduler's switch."""

from __future__ import annotations

from tune_bs.train.strategies.base import BatchStrategy


class FixedStrategy(BatchStrategy):
    """Shuffled batches of the configured size, uniform weights, one minibatch per update."""

    name = "fixed"
