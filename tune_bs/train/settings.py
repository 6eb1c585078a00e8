"""The settings of one trial: the options every trial shares, composed with the options of the
components it can choose (docs/design.md §2).

A trial config is flat (``{batch_size: 16, strategy: cluster_count, alpha: 4.0, ...}``). Its keys
are declared once each (:mod:`tune_bs.options`):

- :class:`TrialOptions`: the keys of every trial (batch size, optimiser, loss, augmentation,
  budget, probe, the chosen ``encoder`` and ``strategy``);
- after ``encoder``, the options of every registered encoder
  (:data:`~tune_bs.train.encoders.ENCODERS`); after ``strategy``, those of every registered strategy
  (:data:`~tune_bs.train.strategies.STRATEGIES`); then the shared cluster step's
  (:class:`~tune_bs.train.strategies.base.ClusterStepOptions`).

:class:`TrainSettings` is that composition, as one frozen dataclass with a field per key (each
name once: encoders share ``hidden``). Options of a component registered after this module was
imported (a plugin) are not fields; they travel in ``extra_options`` and reach the component
through :func:`tune_bs.options.read_options`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields, make_dataclass
from typing import Any

from tune_bs.data.dataset import NORMALISATIONS
from tune_bs.options import Option, declared, option, union
from tune_bs.train.augment import Augmenter
from tune_bs.train.encoders import ENCODERS
from tune_bs.train.objectives import LOSSES
from tune_bs.train.probe import PROBES
from tune_bs.train.strategies import STRATEGIES
from tune_bs.train.strategies.base import ClusterStepOptions

#: The field of :class:`TrainSettings` holding the options of plugin components.
EXTRA_OPTIONS = "extra_options"
_CAST = {"int": int, "float": float, "bool": bool, "str": str}


@dataclass(frozen=True)
class TrialOptions:
    """The keys of every trial config (units in the docs)."""

    batch_size: int = option(16, minimum=2, doc="series per training batch")
    accumulation_steps: int = option(
        1, minimum=1, doc="minibatches whose gradients make one optimiser step"
    )
    lr: float = option(1e-3, minimum=0, exclusive=True, doc="Adam learning rate")
    weight_decay: float = option(0.0, doc="Adam weight decay; any number")
    encoder: str = option("fcn", choices=lambda: ENCODERS, doc="the encoder (train.encoders)")
    projection_dim: int = option(64, minimum=1, doc="output width of the projection head")
    temperature: float = option(
        0.2, minimum=0, exclusive=True, doc="NT-Xent temperature τ (loss: nt_xent only)"
    )
    loss: str = option(
        "nt_xent",
        choices=lambda: LOSSES,
        doc="training objective and val_loss: nt_xent (SimCLR) or hierarchical (TS2Vec)",
    )
    jitter: float = option(0.05, doc="augmentation: std of additive noise; any number")
    scaling: float = option(0.1, doc="augmentation: std of the scaling factor; any number")
    crop: float = option(0.9, doc="augmentation: kept fraction of the series length; any number")
    time_mask: float = option(0.1, doc="augmentation: masked fraction of the length; any number")
    seed: int = option(0, doc="seed of the trial's generators; any integer")
    budget_samples: int = option(
        4000, doc="training series to consume in total; any integer (set from the budget)"
    )
    report_every: int = option(
        400, doc="training series between reports; any integer (set from the budget)"
    )
    probe_max_train: int = option(2000, doc="most train series the probe uses; any integer")
    probe_max_test: int = option(5000, doc="most test series the probe uses; any integer")
    probe: str = option(
        "logistic", choices=PROBES, doc="the probe of val_probe_acc / test_probe_acc"
    )
    multitask_alpha: float = option(
        0.5, minimum=0, maximum=1.0, doc="weight of accuracy in val_multitask, in [0, 1]"
    )
    multitask_probe: bool = option(
        False, doc="report val_multitask; true or false (set from the metric)"
    )
    normalise: str = option(
        "",
        choices=NORMALISATIONS,
        unset=True,
        doc="normalisation applied to the raw data set; '' (unset): as loaded",
    )
    strategy: str = option(
        "fixed", choices=lambda: STRATEGIES, doc="the batch strategy (train.strategies)"
    )


#: Trial keys whose values name a registered component: that registry's entries add their options.
SELECTORS = {"encoder": lambda: ENCODERS, "strategy": lambda: STRATEGIES}


def _declared_fields() -> list[dataclasses.Field]:
    """The option fields now declared, in config order (module docstring), each name once."""
    found: list[dataclasses.Field] = []
    for f in fields(TrialOptions):
        found.append(f)
        if f.name in SELECTORS:
            found += [g for entry in SELECTORS[f.name]().values() for g in fields(entry.Options)]
    return union([*found, *fields(ClusterStepOptions)])


class _SettingsMethods:
    """The methods of :class:`TrainSettings`."""

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        """Take the known keys from a trial config, casting each to its declared type; options of
        plugin components go to ``extra_options``."""
        kwargs: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name in config and f.name != EXTRA_OPTIONS:
                kwargs[f.name] = _cast(declared(f), config[f.name])
        extra = dict(config.get(EXTRA_OPTIONS) or {})
        for opt in plugin_options():
            if opt.name in config:
                extra[opt.name] = _cast(opt, config[opt.name])
        return cls(**kwargs, **({EXTRA_OPTIONS: extra} if extra else {}))

    def augmenter(self) -> Augmenter:
        s: Any = self
        return Augmenter(s.jitter, s.scaling, s.crop, s.time_mask)


def _cast(opt: Option, value: Any) -> Any:
    """``value`` as the option's declared type (a trial config may hold ``16.0`` or ``"0.01"``)."""
    return _CAST[opt.type](value) if opt.type in _CAST else value


def _settings_field(f: dataclasses.Field) -> tuple[str, Any, Any]:
    """One field of :class:`TrainSettings`: the declaring field's name, type and option."""
    return f.name, f.type, dataclasses.field(default=f.default, metadata=f.metadata)


TrainSettings = make_dataclass(
    "TrainSettings",
    [
        *(_settings_field(f) for f in _declared_fields()),
        (EXTRA_OPTIONS, "dict[str, Any]", dataclasses.field(default_factory=dict, hash=False)),
    ],
    bases=(_SettingsMethods,),
    frozen=True,
)
TrainSettings.__module__ = __name__
TrainSettings.__doc__ = (
    "Everything one trial's training needs, read from the trial config: one field per option "
    "of :class:`TrialOptions`, of every registered encoder and strategy and of the cluster step "
    "(module docstring); ``extra_options`` holds the options of plugin components."
)


def trial_options() -> dict[str, Option]:
    """Every trial option now declared, by name, in config order: the fields of
    :class:`TrainSettings` and the options of components registered since (plugins), each after
    its registry's selector key."""
    return {f.name: declared(f) for f in _declared_fields()}


def plugin_options() -> list[Option]:
    """The trial options that are not fields of :class:`TrainSettings` (plugin components)."""
    names = {f.name for f in fields(TrainSettings)}
    return [o for o in trial_options().values() if o.name not in names]
