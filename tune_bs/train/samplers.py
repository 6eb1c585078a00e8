"""Batch samplers stratified by cluster (docs/design.md §2); plain shuffled batches are
:class:`tune_bs.train.trainer.BatchStream`'s.

A sampler yields one list of dataset indices per batch — the training loop slices its in-memory
tensor with it (``X[torch.as_tensor(batch)]``), there is no per-sample collate. Like
:class:`torch.utils.data.DistributedSampler`, a sampler is seeded explicitly and reshuffles only
when told the epoch (:meth:`set_epoch`); the batches of an epoch are a pure function of
``(labels, batch_size, mode, seed, epoch)``. Building a sampler costs a few vectorised numpy
operations, so changing the batch size means building a new one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import numpy as np
import torch.utils.data

from tune_bs.errors import UserInputError, quote, unknown_name

logger = logging.getLogger(__name__)

MODES = ("proportional", "equal", "homogeneous")


class StratifiedBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches whose cluster make-up follows a rule, from cluster ``labels`` of every sample.

    Let ``N`` be the number of samples, ``K`` the number of clusters, ``n_c`` the size of cluster
    ``c``, ``B = batch_size`` and ``q_c = B · n_c / N`` (cluster ``c``'s quota in a batch).

    Constraints (every mode):

    1. Every index appears at most once per epoch.
    2. The batches depend only on the partition of the samples, ``B``, ``mode``, ``seed`` and the
       epoch: the same seed and epoch give the same batches; another epoch, another order;
       renaming the clusters (any bijection of label values) gives the *same* batches.
    3. ``len(sampler)`` is the number of batches per epoch and does not depend on the epoch;
       :attr:`num_samples` is the number of indices yielded per epoch.

    ``mode="proportional"`` — every batch mirrors the data:

    4. Every full batch holds ``floor(q_c)`` or ``ceil(q_c)`` members of each cluster, so within
       ±1 of its quota, and exactly ``B`` indices.
    5. There are ``N // B`` full batches; the ``N % B`` leftover indices form one last, smaller
       batch (not stratified) unless ``drop_last``. Every index appears exactly once per epoch
       when ``drop_last=False``.

    ``mode="equal"`` — every cluster equally represented, whatever its size:

    6. Every batch holds ``floor(B / K)`` or ``ceil(B / K)`` members of each cluster (exactly
       ``B / K`` when ``K`` divides ``B``), and exactly ``B`` indices. Needs ``B >= K``.
    7. The epoch ends when the smallest cluster runs out: ``floor(K · min_c n_c / B)`` batches,
       all full. The unused members of larger clusters are not yielded in this epoch (each epoch
       draws a fresh random subset of them); ``drop_last`` does not apply. A warning is logged
       when an epoch covers less than half of the samples.

    ``mode="homogeneous"`` — the opposite direction, "hard" batches:

    8. Every batch holds members of a single cluster only.
    9. Each cluster is cut into ``n_c // B`` full batches plus, unless ``drop_last``, one smaller
       batch of its ``n_c % B`` remaining members (so with ``drop_last=False`` there can be up to
       ``K`` smaller batches, each index appears exactly once). The batches of all clusters are
       interleaved in random order.

    NOTE [no resampling]: ``equal`` never repeats an index within an epoch (constraint 1); it
    shortens the epoch instead of oversampling small clusters, so ``num_samples`` can be well below
    ``N``. Count progress in samples seen, not in epochs.

    NOTE [apportionment]: in ``proportional`` and ``equal`` the one extra member a cluster gets in
    some batches (its fractional quota) is spread over the epoch by systematic sampling on an
    evenly spaced grid, so over the full batches cluster ``c`` supplies ``floor`` or ``ceil`` of
    ``(N // B) · q_c <= n_c`` members and never runs out early.

    Args:
        labels: integer cluster label per sample, ``[N]``; any integer values.
        batch_size: samples per batch ``B``, in ``[1, N]``.
        mode: ``"proportional"``, ``"equal"`` or ``"homogeneous"``.
        seed: non-negative integer seed.
        drop_last: drop smaller batches (see constraints 5 and 9; ignored by ``equal``).

    Example::

        sampler = StratifiedBatchSampler(assignment.labels, batch_size=32, mode="proportional")
        for epoch in range(3):
            sampler.set_epoch(epoch)
            for batch in sampler:
                x = X[torch.as_tensor(batch)]
    """

    def __init__(
        self,
        labels: Sequence[int] | np.ndarray,
        batch_size: int,
        mode: str = "proportional",
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if mode not in MODES:
            raise unknown_name("stratify", mode, MODES)
        members = _cluster_members(labels)
        n = sum(m.size for m in members)
        _check_batch_size(batch_size, n)
        _check_seed(seed)
        _check_mode_fits(members, batch_size, mode, drop_last)
        self._members = members
        self.n = n
        self.batch_size = int(batch_size)
        self.mode = mode
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        sizes = np.array([m.size for m in members], dtype=np.int64)
        self._sizes = sizes
        if mode == "equal" and self.num_samples < n / 2:
            logger.warning(
                "stratify='equal' yields %d of %d samples per epoch (smallest cluster: %d); the "
                "rest of the larger clusters is drawn in later epochs.",
                self.num_samples,
                n,
                int(sizes.min()),
            )

    @property
    def n_clusters(self) -> int:
        """Number of clusters ``K``."""
        return len(self._members)

    @property
    def num_samples(self) -> int:
        """Indices yielded per epoch."""
        b, sizes = self.batch_size, self._sizes
        if self.mode == "proportional":
            return self.n - (self.n % b if self.drop_last else 0)
        if self.mode == "equal":
            return self._n_equal_batches() * b
        return int(sizes.sum() - (sizes % b).sum()) if self.drop_last else self.n

    def set_epoch(self, epoch: int) -> None:
        """Use the batches of ``epoch`` (a non-negative integer) from the next ``__iter__`` on."""
        self.epoch = _check_epoch(epoch)

    def __len__(self) -> int:
        """Number of batches per epoch."""
        b, sizes = self.batch_size, self._sizes
        if self.mode == "proportional":
            full, rest = divmod(self.n, b)
            return full + int(rest > 0 and not self.drop_last)
        if self.mode == "equal":
            return self._n_equal_batches()
        return int((sizes // b).sum() + (0 if self.drop_last else np.count_nonzero(sizes % b)))

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches():
            yield batch.tolist()

    def batches(self) -> list[np.ndarray]:
        """The batches of the current epoch, as int64 index arrays (what ``__iter__`` yields)."""
        rng = _rng(self.seed, self.epoch)
        shuffled = [rng.permutation(m) for m in self._members]
        if self.mode == "homogeneous":
            return self._homogeneous(shuffled, rng)
        if self.mode == "proportional":
            n_batches, weights = self.n // self.batch_size, self._sizes
        else:
            n_batches, weights = self._n_equal_batches(), np.ones_like(self._sizes)
        counts = _apportion(weights, self.batch_size, n_batches, rng)  # [K, n_batches]
        # place cluster c's first counts[c].sum() shuffled members into batches, in batch order
        batch_of = np.concatenate([np.repeat(np.arange(n_batches), row) for row in counts])
        taken = np.concatenate([s[: row.sum()] for s, row in zip(shuffled, counts, strict=True)])
        full = taken[np.argsort(batch_of, kind="stable")].reshape(n_batches, self.batch_size)
        full = rng.permuted(full, axis=1)  # mix the clusters inside each batch
        out = list(full)
        if self.mode == "proportional" and not self.drop_last and self.n % self.batch_size:
            rest = np.concatenate([s[row.sum() :] for s, row in zip(shuffled, counts, strict=True)])
            out.append(rng.permutation(rest))
        return out

    def _n_equal_batches(self) -> int:
        return int(self.n_clusters * int(self._sizes.min()) // self.batch_size)

    def _homogeneous(
        self, shuffled: list[np.ndarray], rng: np.random.Generator
    ) -> list[np.ndarray]:
        b = self.batch_size
        out: list[np.ndarray] = []
        for s in shuffled:
            stop = s.size if not self.drop_last else s.size - s.size % b
            out.extend(s[lo : min(lo + b, stop)] for lo in range(0, stop, b))
        return [out[i] for i in rng.permutation(len(out))]


def _apportion(
    weights: np.ndarray, batch_size: int, n_batches: int, rng: np.random.Generator
) -> np.ndarray:
    """Members of each cluster per batch, int64 ``[K, n_batches]``; each column sums to ``B``.

    Cluster ``c`` gets ``floor(q_c)`` or ``floor(q_c) + 1`` per batch, ``q_c = B · w_c / Σw``, and
    ``floor`` or ``ceil`` of ``n_batches · q_c`` over all batches. The fractional parts (in exact
    integer units of ``1 / Σw``) are laid end to end on ``[0, r)``, ``r = Σ_c frac(q_c)``; the grid
    points ``(j + u) / n_batches`` with a random offset ``u`` are dealt to the batches in turn and
    each grid point gives one extra member to the cluster whose segment it falls in (Madow's
    systematic sampling). Each segment is shorter than 1 and consecutive points of one batch are 1
    apart, so no batch gives a cluster two extras. Finally the batches are shuffled.
    """
    total = int(weights.sum())
    scaled = batch_size * weights.astype(np.int64)
    base, frac = np.divmod(scaled, total)  # quota = base + frac / total
    counts = np.repeat(base[:, None], n_batches, axis=1)
    if n_batches == 0:
        return counts
    # in units of 1 / (total · n_batches): segment c is [ends[c-1], ends[c]), grid point g·total + u
    ends = np.cumsum(frac) * n_batches
    starts = ends - frac * n_batches
    u = int(rng.integers(total))
    first = -((u - starts) // total)  # ceil((starts - u) / total)
    last = -((u - ends) // total)
    batch_perm = rng.permutation(n_batches)
    for c in np.flatnonzero(last > first):
        counts[c, batch_perm[np.arange(first[c], last[c]) % n_batches]] += 1
    return counts


def _cluster_members(labels: Sequence[int] | np.ndarray) -> list[np.ndarray]:
    """Sorted member indices of each cluster, clusters in a label-free canonical order.

    Canonical order: decreasing size, ties by smallest member index — so renaming the clusters does
    not change the order, and with it, the batches (constraint 2).
    """
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.size == 0:
        raise UserInputError(
            f"labels must be a non-empty 1-D array with one cluster label per sample, but got "
            f"shape {arr.shape}; pass e.g. ClusterAssignment.labels."
        )
    if not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))):
            raise UserInputError(
                f"labels must be integers, but got dtype {arr.dtype}; pass integer cluster labels."
            )
        arr = arr.astype(np.int64)
    _, first, inverse, counts = np.unique(
        arr, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.argsort(inverse.reshape(-1), kind="stable")
    groups = np.split(order, np.cumsum(counts)[:-1])
    return [groups[c] for c in np.lexsort((first, -counts))]


def _rng(seed: int, epoch: int) -> np.random.Generator:
    return np.random.default_rng([seed, epoch])


def _check_mode_fits(
    members: Sequence[np.ndarray], batch_size: int, mode: str, drop_last: bool
) -> None:
    """One-line errors when ``batch_size`` cannot be drawn in ``mode`` from clusters of these
    sizes (``equal``: at least one per cluster and at most clusters × smallest size;
    ``homogeneous`` with ``drop_last``: at most the largest cluster); a warning for the clusters
    ``homogeneous`` with ``drop_last`` never draws."""
    k = len(members)
    if mode == "equal":
        if batch_size < k:
            raise UserInputError(
                f"batch_size must be at least the number of clusters ({k}) for "
                f"stratify='equal', but got batch_size={batch_size}; raise batch_size or use "
                "stratify='proportional'."
            )
        smallest = min(m.size for m in members)
        if k * smallest < batch_size:
            raise UserInputError(
                f"batch_size must be at most clusters × smallest cluster size ({k} × "
                f"{smallest} = {k * smallest}) for stratify='equal', but got "
                f"batch_size={batch_size}; lower batch_size or use stratify='proportional'."
            )
    if mode == "homogeneous" and drop_last and max(m.size for m in members) < batch_size:
        raise UserInputError(
            f"batch_size must be at most the largest cluster ({max(m.size for m in members)}) "
            f"for stratify='homogeneous' with drop_last, but got batch_size={batch_size}; "
            "lower batch_size or set drop_last=False."
        )
    if mode == "homogeneous" and drop_last:
        skipped = sum(1 for m in members if m.size < batch_size)
        if skipped:
            logger.warning(
                "%d of %d clusters are smaller than batch_size=%d: with stratify='homogeneous' "
                "and drop_last they never appear in a batch.",
                skipped,
                k,
                batch_size,
            )


def _check_batch_size(batch_size: int, n: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise UserInputError(
            f"batch_size must be an integer, but got batch_size={quote(batch_size)}; "
            "pass a whole number."
        )
    if not 1 <= batch_size <= n:
        raise UserInputError(
            f"batch_size must be between 1 and the number of training series ({n}), but got "
            f"batch_size={batch_size}; choose a batch size in that range."
        )


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UserInputError(
            f"seed must be a non-negative integer, but got seed={quote(seed)}; pass e.g. seed=0."
        )


def _check_epoch(epoch: int) -> int:
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
        raise ValueError(f"epoch must be a non-negative integer, but got epoch={epoch!r}.")
    return int(epoch)
