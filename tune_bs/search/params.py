"""The ``param_space`` section: which trial keys a search may set, and how each is written.

A key is a trial option (:func:`tune_bs.train.settings.trial_options`: the options every trial
shares and those of every registered encoder and strategy), given as a constant or as a
parameter spec in Optuna's short form: ``{type: float|int, low, high, log, step}`` or
``{type: categorical, choices}``. Each value a parameter can take is checked against the
option's declaration (:func:`tune_bs.search.checks.check_trial_value`). Keys the budget or the
experiment sets, keys fixed for every trial and keys that must be constants of a search are
refused with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tune_bs.errors import UserInputError, did_you_mean, quote
from tune_bs.metrics import BUDGET_SAMPLES, REPORT_EVERY
from tune_bs.search.checks import check_keys, check_trial_value, mapping, number
from tune_bs.train.settings import trial_options

SPEC_KEYS = {
    "float": ("low", "high", "log", "step"),
    "int": ("low", "high", "log", "step"),
    "categorical": ("choices",),
}
#: Trial-config keys the budget section sets; they may not appear in param_space.
BUDGET_CONFIG_KEYS = (BUDGET_SAMPLES, REPORT_EVERY)
#: Keys of the trial config the experiment fills in (recorded for the tables).
RECORDED_KEYS = ("dataset", "scheduler")
#: Trial-config keys that were searchable once and are fixed now, with the reason.
FIXED_KEYS = {
    "eval_batch_size": "the evaluation batch size is fixed (tune_bs.train.evaluation) so that "
    "val_loss means the same thing in every trial",
}
#: Trial-config keys that must be constants of a search, with the reason.
CONSTANT_KEYS = {
    "probe": "the probe defines val_probe_acc, and the trials of a search must be compared on "
    "the same metric",
    "multitask_alpha": "it weighs val_multitask, and the trials of a search must be compared "
    "on the same metric",
}


def param_keys() -> tuple[str, ...]:
    """The keys ``param_space`` may set, in trial-config order (components registered so far)."""
    return tuple(k for k in trial_options() if k not in BUDGET_CONFIG_KEYS)


#: The keys ``param_space`` may set with the components built into the package.
PARAM_KEYS = param_keys()


@dataclass(frozen=True)
class ParamSpec:
    """One searchable parameter in Optuna's short form."""

    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def values(self) -> tuple[Any, ...]:
        """Every value it can take when finite and known (categorical), else ``(low, high)``."""
        return self.choices if self.type == "categorical" else (self.low, self.high)


def param_spec(key: str, spec: dict[str, Any]) -> ParamSpec:
    """The :class:`ParamSpec` of ``param_space.<key>`` written as a mapping."""
    where = f"param_space.{key}"
    kind = spec.get("type")
    if kind not in SPEC_KEYS:
        raise UserInputError(
            f"{where}.type must be one of float, int, categorical, but got type={quote(kind)}"
            f"{did_you_mean(kind, SPEC_KEYS)}; see docs/guide/search-spaces.md."
        )
    check_keys(where, {k: v for k, v in spec.items() if k != "type"}, SPEC_KEYS[kind])
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise UserInputError(
                f"{where}.choices must be a non-empty list, but got choices={quote(choices)}; "
                "e.g. choices: [8, 16, 32]."
            )
        return ParamSpec("categorical", choices=tuple(choices))
    return _range_spec(where, kind, spec)


def _range_spec(where: str, kind: str, spec: dict[str, Any]) -> ParamSpec:
    for bound in ("low", "high"):
        if bound not in spec:
            raise UserInputError(f"{where} needs '{bound}' for type {kind}; add {bound}: <value>.")
        number(f"{where}.{bound}", spec[bound], integer=kind == "int")
    low, high = spec["low"], spec["high"]
    if low >= high:
        raise UserInputError(
            f"{where} must have low < high, but got low={quote(low)}, high={quote(high)}; "
            "swap or widen them."
        )
    log = bool(spec.get("log", False))
    if log and low <= 0:
        raise UserInputError(
            f"{where} with log: true needs low > 0, but got low={quote(low)}; use a positive low."
        )
    step = spec.get("step")
    if step is not None:
        number(f"{where}.step", step, integer=kind == "int", minimum=0, exclusive=True)
        if log:
            raise UserInputError(f"{where} cannot have both log and step (as in Optuna); drop one.")
    return ParamSpec(kind, low=low, high=high, log=log, step=step)


def _refuse_reserved(params: dict[str, Any]) -> None:
    """Refuse keys the budget or the experiment sets, and keys fixed for every trial."""
    for key in params:
        if key in BUDGET_CONFIG_KEYS or key in RECORDED_KEYS:
            raise UserInputError(
                f"param_space.{key} is set by the experiment, not searched; use the "
                f"{'budget' if key in BUDGET_CONFIG_KEYS else key} section instead."
            )
    for key in params:
        if key in FIXED_KEYS:
            raise UserInputError(
                f"param_space.{key} cannot be set: {FIXED_KEYS[key]}; remove "
                f"{key} from param_space."
            )


def check_param_space(raw: Any) -> dict[str, Any]:
    """The ``param_space`` section: constants, and :class:`ParamSpec` for searched keys."""
    params = mapping("param_space", raw)
    _refuse_reserved(params)
    options = trial_options()
    check_keys("param_space", params, param_keys())
    param_space: dict[str, Any] = {}
    for key, spec in params.items():
        if isinstance(spec, dict):
            spec = param_spec(key, spec)
        elif isinstance(spec, list):
            raise UserInputError(
                f"param_space.{key} is a list; a searchable list is written "
                f"{{type: categorical, choices: {spec}}}, a constant as a single value."
            )
        for value in spec.values() if isinstance(spec, ParamSpec) else (spec,):
            check_trial_value(key, value, options[key])
        if key in CONSTANT_KEYS and isinstance(spec, ParamSpec):
            raise UserInputError(
                f"param_space.{key} must be one value, but got a {spec.type} search over "
                f"{list(spec.values())}: {CONSTANT_KEYS[key]}; write e.g. {key}: "
                f"{spec.values()[0]!s}."
            )
        param_space[key] = spec
    return param_space
