"""What every batch strategy provides, and the plain shuffled batch stream they start from.

A strategy decides, for one trial: the batch size it starts with, where each batch's indices come
from (a *stream* with a resumable state), the per-sample weights of the loss, and whether an
update accumulates score-weighted minibatches. The trainer asks; the strategy answers. Strategies
that need the data's modes receive the trial's one shared
:class:`~tune_bs.train.clustering.ClusterAssignment` through :meth:`BatchStrategy.attach_clusters`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch

from tune_bs.options import NoOptions, option, read_options
from tune_bs.train.clustering import METHODS, ClusterAssignment

#: Features the shared cluster step clusters.
CLUSTER_FEATURES = ("raw", "pretrained")


@dataclass(frozen=True)
class ClusterStepOptions:
    """The shared cluster step of strategies that need the data's modes (``needs_clusters``)."""

    cluster_method: str = option(
        "kmeans_silhouette", choices=METHODS, doc="how the number of modes is chosen"
    )
    cluster_features: str = option(
        "raw", choices=CLUSTER_FEATURES, doc="raw series, or representations after pretraining"
    )
    cluster_k_min: int = option(2, minimum=2, doc="fewest modes considered")
    cluster_k_max: int = option(10, minimum=2, doc="most modes considered")
    cluster_pretrain_epochs: float = option(
        5.0, minimum=0, exclusive=True, doc="epochs of plain pretraining (pretrained features)"
    )


class BatchSource(Protocol):
    """A resumable source of index batches (CPU ``int64`` tensors of 2+ indices)."""

    def next(self, batch_size: int) -> torch.Tensor: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class BatchStream:
    """Seeded, resumable shuffled batches over ``n`` items.

    Shuffles once per epoch with its own generator; a batch never spans two epochs; a trailing
    remainder of a single item is skipped for that epoch (NT-Xent needs 2+ series). Changing the
    batch size between calls costs nothing and keeps the epoch's order.
    """

    def __init__(self, n: int, seed: int) -> None:
        self.n = n
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch = 0
        self.perm = torch.randperm(n, generator=self.generator)
        self.cursor = 0

    def next(self, batch_size: int) -> torch.Tensor:
        if self.n - self.cursor < 2:
            self.perm = torch.randperm(self.n, generator=self.generator)
            self.cursor = 0
            self.epoch += 1
        idx = self.perm[self.cursor : self.cursor + batch_size]
        self.cursor += len(idx)
        return idx

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(),
            "epoch": self.epoch,
            "perm": self.perm.clone(),
            "cursor": self.cursor,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.epoch, self.perm, self.cursor = state["epoch"], state["perm"], state["cursor"]


class BatchStrategy:
    """The ``fixed`` behaviour; subclasses override what their strategy changes.

    Args:
        settings: the trial's :class:`~tune_bs.train.settings.TrainSettings`.
        n_train: number of training series.

    A strategy declares its options once, as the dataclass ``Options``
    (:mod:`tune_bs.options`); ``self.options`` holds their values for the trial.
    """

    name = "fixed"
    Options: type = NoOptions
    needs_clusters = False
    #: True when an update accumulates minibatches until their scores reach ``alpha``.
    scores_batches = False

    def __init__(self, settings: Any, n_train: int) -> None:
        self.settings = settings
        self.options = read_options(self.Options, settings, getattr(settings, "extra_options", {}))
        self.n_train = n_train
        self.clusters: ClusterAssignment | None = None
        #: The largest batch size a strategy that chooses its own may choose (``None``: no
        #: limit); set by the trainable after an out-of-memory back-off.
        self.size_cap: int | None = None

    def attach_clusters(self, clusters: ClusterAssignment) -> None:
        """Receive the trial's shared cluster assignment (once, before training proper)."""
        self.clusters = clusters

    def initial_batch_size(self, batch_size: int) -> int:
        """The batch size training starts with, given the configured one."""
        return batch_size

    def make_stream(self, seed: int) -> BatchSource:
        """The source of index batches (called again after :meth:`attach_clusters`)."""
        return BatchStream(self.n_train, seed)

    def sample_weights(
        self, idx: torch.Tensor, progress: float, embeddings: torch.Tensor
    ) -> torch.Tensor | None:
        """Per-sample loss weights ``[B]`` for the batch ``idx`` (None = uniform).

        ``progress`` is the fraction of the samples budget done, in [0, 1]; ``embeddings`` are the
        batch's projections ``[B, D]`` (detached).
        """
        return None

    def batch_score(self, idx: torch.Tensor) -> float:
        """Score in (0, 1] of how well the batch matches the training data (accumulate only)."""
        return 1.0

    def accumulation_target(self, accumulation_steps: int) -> float:
        """Score mass one update accumulates (accumulate only)."""
        return float(accumulation_steps)

    def record_update(self, n_batches: int, n_samples: int) -> None:
        """Note one optimiser update made of ``n_batches`` minibatches of ``n_samples`` series."""

    def metrics(self) -> dict[str, Any]:
        """Strategy metrics for the next report; resets per-report tallies."""
        return {"n_modes": self.clusters.n_modes} if self.clusters is not None else {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
