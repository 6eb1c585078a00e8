"""The in-memory data set every trial trains on, and how it is prepared.

A :class:`TimeSeriesData` holds float32 arrays of shape ``[N, C, T]`` (series, channels, time
steps), already split:

- ``X_train``: series the contrastive encoder trains on (the data set's train split minus the
  validation split);
- ``X_val``: a seeded validation split carved from the train split; ``val_loss`` is computed on it
  with a fixed evaluation batch size and fixed augmentation seed (docs/design.md §4);
- ``X_probe_train`` / ``y_probe_train``: the whole original train split with its labels, on which
  the linear probe is fitted;
- ``X_test`` / ``y_test``: the data set's own test split, on which the probe is scored.

Preparation rules (:func:`prepare`):

1. Variable-length series are never cut: ``variable_length="resample"`` (default) linearly
   resamples every series to the longest length; ``"pad"`` pads shorter series at the end with
   their last value.
2. The validation split is ``val_fraction`` of the train split (at least 2 series, leaving at least
   2 for training), drawn with ``seed``; stratified by class when every class has 2+ members. It
   is carved from the raw series, before any normalisation.
3. Normalisation (``normalise``, :data:`NORMALISATIONS`) is a declared choice, applied to every
   split alike:

   - ``series``: each series, each channel, to mean 0 / std 1 over time (a constant channel
     becomes all zeros). No statistic is shared between series.
   - ``dataset``: each channel to mean 0 / std 1 with the per-channel mean and std (over series
     and time) of the **encoder's training split** ``X_train`` only — never the validation split,
     never the test split — then applied unchanged to ``X_train``, ``X_val``, ``X_probe_train``
     and ``X_test`` (:class:`ChannelStatistics`). Levels and relative amplitudes between series
     are kept. A channel constant over the training split is only centred (std taken as 1).
   - ``none``: the values as loaded.

   Without ``normalise`` the default depends on the channel count (:func:`default_normalisation`):
   ``series`` for univariate data, ``dataset`` for multivariate data (the figures that decided it
   are in ``docs/benchmarks/defaults.md``). ``true`` / ``false``, the earlier form of the option,
   still mean ``series`` / ``none``.
4. Any NaN or infinite value is an error naming the array and the first bad series; nothing is
   imputed silently.

A :class:`TimeSeriesData` records the normalisation it carries (``normalisation``); one loaded
with ``none`` can be normalised later (:meth:`TimeSeriesData.normalised`), which is how a search
that searches ``normalise`` gives each trial its own choice from the same raw arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from tune_bs.errors import UserInputError, unknown_name

if TYPE_CHECKING:
    from tune_bs.data.targets import MultiTaskTargets

TASKS = ("classification", "regression", "unlabelled")
#: The normalisation rules (module rule 3).
NORMALISATIONS = ("series", "dataset", "none")
#: The earlier boolean form of ``normalise`` and what it means now.
NORMALISATION_ALIASES = {True: "series", False: "none"}
#: Defaults when ``normalise`` is not given (module rule 3).
DEFAULT_UNIVARIATE = "series"
DEFAULT_MULTIVARIATE = "dataset"
#: A standard deviation at or below this counts as a constant channel.
CONSTANT_STD = 1e-8


def default_normalisation(n_channels: int) -> str:
    """``series`` for one channel, ``dataset`` for several (module rule 3)."""
    return DEFAULT_UNIVARIATE if n_channels == 1 else DEFAULT_MULTIVARIATE


def resolve_normalisation(value: object, n_channels: int, field: str = "dataset.normalise") -> str:
    """The rule ``value`` names: a name of :data:`NORMALISATIONS`, a boolean alias, or ``None``
    for the default of ``n_channels``; anything else is a one-line error naming ``field``."""
    if value is None:
        return default_normalisation(n_channels)
    if isinstance(value, bool):
        return NORMALISATION_ALIASES[value]
    if value not in NORMALISATIONS:
        raise unknown_name(field, value, NORMALISATIONS)
    return str(value)


@dataclass(frozen=True)
class ChannelStatistics:
    """Per-channel mean and std ``[C]`` of a training split (``dataset`` normalisation)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def of(cls, X_train: np.ndarray) -> ChannelStatistics:
        """Mean and std of each channel over all series and time steps of ``X_train``
        ``[N, C, T]``; a constant channel gets std 1 (it is only centred)."""
        X = np.asarray(X_train, dtype=np.float64)
        mean, std = X.mean(axis=(0, 2)), X.std(axis=(0, 2))
        return cls(mean=mean, std=np.where(std > CONSTANT_STD, std, 1.0))

    def apply(self, X: np.ndarray) -> np.ndarray:
        """``(X - mean) / std`` per channel, float32."""
        return ((X - self.mean[None, :, None]) / self.std[None, :, None]).astype(np.float32)


@dataclass(frozen=True)
class TimeSeriesData:
    """A prepared data set: float32 ``[N, C, T]`` arrays and labels, split as the module says."""

    name: str
    task: str
    X_train: np.ndarray
    X_val: np.ndarray
    X_probe_train: np.ndarray
    y_probe_train: np.ndarray | None
    X_test: np.ndarray
    y_test: np.ndarray | None
    normalisation: str = "none"  # the rule applied to every split (module rule 3)
    #: the training split's per-channel statistics when ``normalisation == "dataset"``: what a
    #: trained encoder's input must be standardised with (kept in its checkpoint and export)
    channel_statistics: ChannelStatistics | None = None
    #: a classification and a regression target over the same series, when the data set has
    #: both (:mod:`tune_bs.data.targets`); the multi-task head and ``val_multitask`` need it
    multitask: MultiTaskTargets | None = None

    def input_rule(self) -> dict[str, Any]:
        """How an encoder's input is prepared from raw series (module rule 3): the normalisation
        and, for ``dataset``, the training split's per-channel mean and std — what a trainer's
        checkpoint records as ``input`` and :func:`tune_bs.embed` applies to new series."""
        stats = self.channel_statistics
        return {
            "normalisation": self.normalisation,
            "channel_mean": None if stats is None else [float(v) for v in stats.mean],
            "channel_std": None if stats is None else [float(v) for v in stats.std],
        }

    @property
    def n_channels(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def length(self) -> int:
        return int(self.X_train.shape[2])

    @property
    def n_train(self) -> int:
        """Number of series the encoder trains on (the largest usable batch size)."""
        return int(self.X_train.shape[0])

    @property
    def n_classes(self) -> int | None:
        if self.task != "classification" or self.y_probe_train is None:
            return None
        return len(np.unique(self.y_probe_train))

    def describe(self) -> str:
        """One line: name, shapes, task, normalisation."""
        classes = f", {self.n_classes} classes" if self.n_classes else ""
        return (
            f"{self.name}: {self.n_train} train + {len(self.X_val)} val + {len(self.X_test)} test "
            f"series, {self.n_channels} channel(s) x {self.length} steps, {self.task}{classes}, "
            f"normalise={self.normalisation}"
        )

    def normalised(self, rule: str) -> TimeSeriesData:
        """This data set with normalisation ``rule`` applied to every split (module rule 3).

        Only raw data (``normalisation == "none"``) can be normalised; asking for the rule it
        already carries returns it unchanged.
        """
        rule = resolve_normalisation(rule, self.n_channels, field="normalise")
        if rule == self.normalisation:
            return self
        if self.normalisation != "none":
            raise UserInputError(
                f"normalise={rule!r} needs the raw series, but this data set was loaded with "
                f"normalise={self.normalisation!r}; load it with dataset.normalise: none (a "
                "search space that searches normalise does so itself)."
            )
        statistics = ChannelStatistics.of(self.X_train) if rule == "dataset" else None
        transform = z_normalise if statistics is None else statistics.apply
        return replace(
            self,
            channel_statistics=statistics,
            X_train=transform(self.X_train),
            X_val=transform(self.X_val),
            X_probe_train=transform(self.X_probe_train),
            X_test=transform(self.X_test),
            normalisation=rule,
        )


def to_equal_length(
    series: Sequence[np.ndarray] | np.ndarray, length: int | None = None, policy: str = "resample"
) -> np.ndarray:
    """Stack series of shape ``[C, T_i]`` into ``[N, C, T]`` without cutting any of them.

    ``T`` is ``length`` or the longest ``T_i``; ``length`` shorter than the longest series is
    refused (that would cut). ``policy="resample"`` interpolates linearly onto ``T`` points;
    ``policy="pad"`` repeats each series' last value up to ``T``.
    """
    if isinstance(series, np.ndarray) and series.ndim == 3 and (length in (None, series.shape[2])):
        return series.astype(np.float32, copy=False)
    if policy not in ("resample", "pad"):
        raise UserInputError(
            f"dataset.variable_length must be 'resample' or 'pad', but got {policy!r}."
        )
    longest = max(int(s.shape[-1]) for s in series)
    target = longest if length is None else int(length)
    if target < longest:
        raise UserInputError(
            f"dataset.length must be at least the longest series ({longest}) so nothing is cut, "
            f"but got length={target}; remove it or raise it."
        )
    out = np.empty((len(series), series[0].shape[0], target), dtype=np.float32)
    grid = np.linspace(0.0, 1.0, target)
    for i, s in enumerate(series):
        s = np.asarray(s, dtype=np.float32)
        t_i = s.shape[-1]
        if policy == "pad":
            out[i, :, :t_i] = s
            out[i, :, t_i:] = s[:, -1:]
        else:
            src = np.linspace(0.0, 1.0, t_i) if t_i > 1 else np.zeros(1)
            for c in range(s.shape[0]):
                out[i, c] = np.interp(grid, src, s[c]) if t_i > 1 else s[c, 0]
    return out


def z_normalise(X: np.ndarray) -> np.ndarray:
    """Per-series, per-channel z-normalisation of ``[N, C, T]``; constant channels become 0."""
    mean = X.mean(axis=2, keepdims=True)
    std = X.std(axis=2, keepdims=True)
    return ((X - mean) / np.where(std > CONSTANT_STD, std, 1.0)).astype(np.float32)


def check_finite(X: np.ndarray, what: str) -> None:
    """Raise a one-line error naming ``what`` and the first series holding NaN or inf."""
    bad = ~np.isfinite(X).reshape(len(X), -1).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise UserInputError(
            f"{what} must hold only finite values, but series {first} (and {int(bad.sum()) - 1} "
            f"more) contain NaN or inf; clean or impute the data before using it."
        )


def infer_task(y: np.ndarray | None) -> str:
    """``classification`` for string/integer labels, ``regression`` for floats, else unlabelled."""
    if y is None:
        return "unlabelled"
    if np.issubdtype(np.asarray(y).dtype, np.floating):
        yf = np.asarray(y, dtype=float)
        if np.all(yf == np.round(yf)) and len(np.unique(yf)) <= max(2, len(yf) // 5):
            return "classification"
        return "regression"
    return "classification"


def validation_split(
    n: int, val_fraction: float, seed: int, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded ``(train_idx, val_idx)`` over ``n`` series; stratified by ``labels`` when possible."""
    if not 0.0 < val_fraction < 1.0:
        raise UserInputError(
            f"dataset.val_fraction must be in (0, 1), but got val_fraction={val_fraction}; "
            "use e.g. 0.2."
        )
    n_val = max(2, round(val_fraction * n))
    if n - n_val < 2:
        raise UserInputError(
            f"the train split must hold at least 4 series to carve a validation split, but it "
            f"has {n}; use a larger data set."
        )
    rng = np.random.default_rng(seed)
    if labels is not None:
        classes, counts = np.unique(labels, return_counts=True)
        if counts.min() >= 2 and n_val >= len(classes):
            from sklearn.model_selection import train_test_split

            tr, va = train_test_split(
                np.arange(n), test_size=n_val, random_state=seed, stratify=labels
            )
            return np.sort(tr), np.sort(va)
    perm = rng.permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def prepare(
    name: str,
    X_train: np.ndarray,
    y_train: np.ndarray | None,
    X_test: np.ndarray,
    y_test: np.ndarray | None,
    *,
    normalise: str | bool | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    task: str | None = None,
) -> TimeSeriesData:
    """Check, split and normalise equal-length ``[N, C, T]`` arrays (see the module rules).

    ``normalise``: ``series``, ``dataset`` or ``none`` (``None``: the default for the channel
    count; ``True`` / ``False``: ``series`` / ``none``).
    """
    rule = resolve_normalisation(normalise, int(np.shape(X_train)[1]))
    check_finite(X_train, f"{name} train split")
    check_finite(X_test, f"{name} test split")
    task = task or infer_task(y_train)
    labels = y_train if task == "classification" else None
    tr, va = validation_split(len(X_train), val_fraction, seed, labels)
    raw = TimeSeriesData(
        name=name,
        task=task,
        X_train=np.ascontiguousarray(X_train[tr], dtype=np.float32),
        X_val=np.ascontiguousarray(X_train[va], dtype=np.float32),
        X_probe_train=np.ascontiguousarray(X_train, dtype=np.float32),
        y_probe_train=None if y_train is None else np.asarray(y_train),
        X_test=np.ascontiguousarray(X_test, dtype=np.float32),
        y_test=None if y_test is None else np.asarray(y_test),
    )
    return raw.normalised(rule)
