"""Registry of batch strategies (docs/design.md §2), selected by the trial config key ``strategy``.

=================  ==========================================================================
``fixed``          one batch size for the whole trial (changed only by a scheduler)
``cluster_count``  batch size = round(α · M), M = modes found by clustering
``stratified``     batches stratified by cluster (proportional / equal) or cluster-homogeneous
``accumulate``     score-weighted adaptive gradient accumulation until Σ score ≥ α
``weighted``       centre-versus-periphery per-sample loss weights over training
=================  ==========================================================================

All strategies but ``fixed`` share one cluster assignment per trial (see
:mod:`tune_bs.train.clustering`), computed once from the training data and kept in the checkpoint.

Each strategy declares its options once, as its class's ``Options`` dataclass
(:mod:`tune_bs.options`); the search space validates them and the trial config carries them.
Adding a strategy is one new module here and one line in :data:`STRATEGIES`
(``docs/guide/extending.md``); a plugin outside the package calls :func:`register_strategy`.
"""

from __future__ import annotations

from typing import Any

from tune_bs.errors import unknown_name
from tune_bs.train.strategies.accumulate import AccumulateStrategy
from tune_bs.train.strategies.base import BatchSource, BatchStrategy, BatchStream
from tune_bs.train.strategies.cluster_count import ClusterCountStrategy
from tune_bs.train.strategies.fixed import FixedStrategy
from tune_bs.train.strategies.stratified import StratifiedStrategy
from tune_bs.train.strategies.weighted import WeightedStrategy

STRATEGIES: dict[str, type[BatchStrategy]] = {
    cls.name: cls
    for cls in (
        FixedStrategy,
        ClusterCountStrategy,
        StratifiedStrategy,
        AccumulateStrategy,
        WeightedStrategy,
    )
}

__all__ = [
    "STRATEGIES",
    "BatchSource",
    "BatchStrategy",
    "BatchStream",
    "build_strategy",
    "register_strategy",
]


def register_strategy(cls: type[BatchStrategy]) -> type[BatchStrategy]:
    """Add ``cls`` to :data:`STRATEGIES` under ``cls.name`` (usable as a class decorator)."""
    STRATEGIES[cls.name] = cls
    return cls


def build_strategy(name: str, settings: Any, n_train: int) -> BatchStrategy:
    """The strategy registered as ``name``; unknown names list the valid ones."""
    if name not in STRATEGIES:
        raise unknown_name("strategy", name, STRATEGIES)
    return STRATEGIES[name](settings, n_train)
