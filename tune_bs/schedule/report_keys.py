"""The names under which a trainable reports what the extrapolation scheduler reads.

:class:`ReportKeys` names the result keys and trial-config keys the scheduler uses; the defaults
are tune-bs's own (:mod:`tune_bs.metrics`), and a user whose trainable reports ``loss`` and
``seen`` says so once: ``ReportKeys(val_loss="loss", samples_seen="seen")``.

Every result must carry (units as in :mod:`tune_bs.metrics`):

- ``val_loss``: a validation loss, lower is better, comparable across batch sizes (the training
  loss is not: docs/design.md §4);
- ``samples_seen``: training samples consumed so far (the curves' x-axis);
- ``batch_size``: the batch size the trial trained at since its previous report;
- ``wall_time``: a float clock shared by all trials, in seconds (``time.time()`` will do);
- ``accumulation_steps``: only with ``SwitchSettings(action="accumulation")``.

Optional in results: ``trial_time`` (the trial's own float seconds of training and evaluation;
without it the scheduler times the trial on Ray's ``time_total_s`` less its start-up).

Trial-config keys: ``config_batch_size`` (required: the scheduler switches a trial by setting
it, and a trainable that restarts reads it), ``config_accumulation_steps`` (optional, default 1),
``config_budget`` (optional: the trial's total training samples; without it the scheduler
judges the seconds a switch saves on the seconds the trial has run so far, and may decide a
switch on a trial's last report) and ``config_batch_size_initial`` (written by the scheduler:
the batch size the trial was given, so the results keep it after a switch).

The range of the fitted value (``val_loss_range``, ``(low, high)``; a fitted curve never leaves
it, :mod:`tune_bs.schedule.curves`): when not given, read from the key's name — a loss or an
error (``loss``, ``err``, ``mse``, ``mae``, ``nll`` in the name) is at least 0, an accuracy, an
AUC or an F1 score (``acc``, ``auc``, ``f1``) lies in [0, 1]; any other name has no known range.
The same names tell a mode that contradicts the metric (:func:`check_mode`: ``mode="max"`` on a
loss).

A result that lacks a required key is a mistake in the trainable, like a missing metric is to
Ray Tune (which stops the run for that too): :meth:`ReportKeys.check_result` raises a one-line
:class:`~tune_bs.errors.UserInputError` that names the keys and how to report them.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from tune_bs import metrics as m
from tune_bs.errors import UserInputError

#: What each result key means, for the messages.
MEANING: dict[str, str] = {
    "val_loss": "a validation loss comparable across batch sizes",
    "samples_seen": "training samples seen so far",
    "batch_size": "the batch size in force",
    "wall_time": "a float clock shared by all trials, in seconds, e.g. time.time()",
    "accumulation_steps": "minibatches per optimizer step",
}


@dataclass(frozen=True)
class ReportKeys:
    """Result keys and trial-config keys the extrapolation scheduler reads (module rules)."""

    val_loss: str = m.VAL_LOSS
    samples_seen: str = m.SAMPLES_SEEN
    batch_size: str = m.BATCH_SIZE
    wall_time: str = m.WALL_TIME_S
    trial_time: str = m.TRIAL_TIME_S
    accumulation_steps: str = m.ACCUMULATION_STEPS
    config_batch_size: str = m.BATCH_SIZE
    config_accumulation_steps: str = m.ACCUMULATION_STEPS
    config_budget: str = m.BUDGET_SAMPLES
    config_batch_size_initial: str = m.BATCH_SIZE_INITIAL
    val_loss_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name == "val_loss_range":
                self._check_range(value)
                continue
            if not isinstance(value, str) or not value:
                raise UserInputError(
                    f"ReportKeys.{field.name} must be a non-empty key name, but got "
                    f"{field.name}={value!r}; give the key your trainable uses, e.g. "
                    f"{field.name}={field.default!r}."
                )

    @staticmethod
    def _check_range(value: Any) -> None:
        ok = value is None or (
            isinstance(value, tuple | list)
            and len(value) == 2
            and all(_is_number(v) and not math.isnan(float(v)) for v in value)
            and float(value[0]) < float(value[1])
        )
        if not ok:
            raise UserInputError(
                f"ReportKeys.val_loss_range must be (low, high) with low < high, but got "
                f"val_loss_range={value!r}; give e.g. val_loss_range=(0.0, math.inf) for a loss."
            )

    def curve_range(self) -> tuple[float, float]:
        """The range of the fitted value: ``val_loss_range``, else read from the key's name
        (module docstring); ``(-inf, inf)`` when unknown."""
        if self.val_loss_range is not None:
            return float(self.val_loss_range[0]), float(self.val_loss_range[1])
        return range_of(self.val_loss)

    def check_start(self, config: Mapping[str, Any], sizes: tuple[int, ...], trial_id: str) -> None:
        """Raise a one-line :class:`UserInputError` when the trial's config has no batch size
        the scheduler can switch, or its effective batch size (``batch_size ×
        accumulation_steps``) is not one of the candidate ``sizes``."""
        self.check_config(config, trial_id)
        steps = config.get(self.config_accumulation_steps, 1)
        effective = int(config[self.config_batch_size]) * (int(steps) if _is_number(steps) else 1)
        if effective not in sizes:
            raise UserInputError(
                f"the extrapolation scheduler switches among the candidate batch sizes "
                f"{list(sizes)}, but trial {trial_id} starts at {self.config_batch_size}="
                f"{effective}, which is not one of them; add {effective} to "
                f"SwitchSettings.batch_sizes (scheduler.batch_sizes), or sample "
                f"{self.config_batch_size} from them."
            )

    def required(self, accumulation: bool = False) -> dict[str, str]:
        """Field name → result key of the keys every result must carry."""
        names = ["val_loss", "samples_seen", "batch_size", "wall_time"]
        if accumulation:
            names.append("accumulation_steps")
        return {name: getattr(self, name) for name in names}

    def check_result(
        self, result: Mapping[str, Any], trial_id: str, accumulation: bool = False
    ) -> None:
        """Raise a one-line :class:`UserInputError` when ``result`` lacks a required key (or
        holds something that is not a number there); NaN and ±inf are numbers (a diverged
        trial reports them)."""
        missing = [
            (name, key)
            for name, key in self.required(accumulation).items()
            if not _is_number(result.get(key))
        ]
        if not missing:
            return
        iteration = result.get(m.TRAINING_ITERATION, "?")
        wanted = ", ".join(f"{key!r} ({MEANING[name]})" for name, key in missing)
        problems = []
        absent = [repr(key) for _, key in missing if key not in result]
        if absent:
            problems.append(f"lacks {', '.join(absent)}")
        problems += [f"has {key}={result[key]!r}" for _, key in missing if key in result]
        renames = ", ".join(f"{name}='your_key'" for name, _ in missing)
        raise UserInputError(
            f"the extrapolation scheduler needs a number under {wanted} in every result, but "
            f"result {iteration} of trial {trial_id} {' and '.join(problems)}; report "
            f"{'it' if len(missing) == 1 else 'them'} with tune.report(...), or name the "
            f"key{'' if len(missing) == 1 else 's'} you report: ExtrapolationScheduler(..., "
            f"keys=ReportKeys({renames}))."
        )

    def check_config(self, config: Mapping[str, Any], trial_id: str) -> None:
        """Raise a one-line :class:`UserInputError` when a trial's config has no batch size the
        scheduler can switch."""
        value = config.get(self.config_batch_size)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise UserInputError(
                f"the extrapolation scheduler switches a trial's batch size through its config "
                f"key {self.config_batch_size!r}, which must be a positive integer, but trial "
                f"{trial_id} has {self.config_batch_size}={value!r}; put it in param_space "
                f"(e.g. {{{self.config_batch_size!r}: 32}} or tune.grid_search([16, 32])), or "
                f"name your key: ReportKeys(config_batch_size='your_key')."
            )


def _is_number(value: Any) -> bool:
    """A real number (bools and strings excluded); NaN and ±inf count."""
    if isinstance(value, bool | str | bytes):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


#: Parts of a metric's name that say what it is: a loss or an error (at least 0, lower is
#: better), an accuracy, AUC or F1 score (in [0, 1], higher is better).
LOSS_NAMES = ("loss", "err", "mse", "mae", "nll")
SCORE_NAMES = ("acc", "auc", "f1")


def range_of(name: str) -> tuple[float, float]:
    """The range a metric's name says it has: ``(0, inf)`` for a loss, ``(0, 1)`` for a score,
    ``(-inf, inf)`` when the name does not say."""
    low = name.lower()
    if any(part in low for part in LOSS_NAMES):
        return 0.0, math.inf
    if any(part in low for part in SCORE_NAMES):
        return 0.0, 1.0
    return -math.inf, math.inf


def check_mode(metric: str | None, mode: str | None) -> None:
    """Raise a one-line :class:`UserInputError` when ``mode`` contradicts what the metric's
    name says it is (``mode="max"`` on a loss, ``mode="min"`` on an accuracy); nothing when
    either is unknown or the name does not say."""
    if not metric or mode not in ("min", "max"):
        return
    low = metric.lower()
    is_loss = any(part in low for part in LOSS_NAMES)
    is_score = any(part in low for part in SCORE_NAMES)
    if is_loss and not is_score and mode == "max":
        what, better, fix = "a loss", "lower", "min"
    elif is_score and not is_loss and mode == "min":
        what, better, fix = "a score", "higher", "max"
    else:
        return
    raise UserInputError(
        f"mode={mode!r} asks for the largest {metric!r}, which is {what} ({better} is better): "
        f"the extrapolation scheduler would fit it upside down and neither switch nor stop; "
        f"use mode={fix!r} (TuneConfig(metric={metric!r}, mode={fix!r}))."
    )
