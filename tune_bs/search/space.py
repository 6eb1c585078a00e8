"""Search-space files: load, validate and turn into what the Tuner needs (docs/design.md §6).

A search space is a YAML mapping with these keys (only ``dataset`` and ``param_space`` are
required)::

    name: default                 # experiment folder name under --storage
    description: ...              # free text
    dataset: {name: GunPoint}     # or {path: my.npz}; options: normalise (series | dataset |
                                  # none), val_fraction, seed, variable_length, length;
                                  # synthetic: n_series, n_modes, ...
    metric: val_probe_acc         # val_loss | val_probe_acc | val_probe_r2 (validation only)
    mode: max                     # min | max (defaults to the metric's direction)
    num_samples: 4                # trials (with grid search: repeats of the grid)
    seed: 0                       # seed of the search algorithm
    budget: {epochs: 100, reports: 8}   # or {samples: 4000, ...}: per trial
    scheduler: {name: asha, grace_period: 2, reduction_factor: 2}
    # or, to compare schedulers on the same trials and budget, one experiment each
    # (named <name>-<scheduler>): schedulers: [{name: extrapolation}, {name: fifo}, ...]
    search: {name: random}        # random | grid | optuna
    resources: {cpu: 1, gpu: 0}   # per trial; fractions allowed
    param_space:                  # trial config; a scalar is a constant
      batch_size: {type: categorical, choices: [8, 16, 32]}
      lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}

Parameter specs use Optuna's short form: ``{type: float|int, low, high, log, step}`` or
``{type: categorical, choices}``. Every rule is checked on load; the first problem is reported in
one line naming the field, the bad value and the fix. Unknown keys are refused with a "did you
mean" suggestion (a typo never silently drops a setting).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from tune_bs import metrics as m
from tune_bs.data.dataset import NORMALISATIONS
from tune_bs.errors import UserInputError, did_you_mean, unknown_name
from tune_bs.schedule.switching import SwitchSettings
from tune_bs.search.tracking import check_tracking
from tune_bs.train.clustering import METHODS as CLUSTER_METHODS
from tune_bs.train.encoders import ENCODERS
from tune_bs.train.probe import PROBES
from tune_bs.train.samplers import MODES as SAMPLER_MODES
from tune_bs.train.strategies import STRATEGIES
from tune_bs.train.trainer import TrainSettings
from tune_bs.train.weights import LATE as WEIGHT_LATE

TOP_LEVEL_KEYS = (
    "name",
    "description",
    "dataset",
    "metric",
    "mode",
    "num_samples",
    "seed",
    "schedulers",
    "budget",
    "scheduler",
    "search",
    "resources",
    "param_space",
    "tracking",
)
DATASET_KEYS = (
    "name",
    "path",
    "normalise",
    "val_fraction",
    "seed",
    "variable_length",
    "length",
    "n_series",
    "n_channels",
    "n_modes",
    "imbalance",
    "noise",
    "separation",
)
BUDGET_KEYS = ("samples", "epochs", "reports")
SCHEDULER_OPTIONS = {
    "fifo": (),
    "asha": ("grace_period", "reduction_factor", "brackets"),
    "pbt": (
        "batch_sizes",
        "perturbation_interval",
        "burn_in_period",
        "quantile_fraction",
        "resample_probability",
    ),
    "topk": ("keep",),
    "extrapolation": tuple(f.name for f in fields(SwitchSettings)),
}
#: Scheduler options by kind: integers ≥ the bound, numbers ≥ 0, probabilities / fractions.
_SCHEDULER_INTS = {
    "grace_period": 1,
    "reduction_factor": 2,
    "brackets": 1,
    "perturbation_interval": 1,
    "burn_in_period": 0,
    "grace_reports": 1,
    "segment_reports": 5,
    "probe_every": 1,
    "tabu_reports": 1,
    "judge_window": 5,
    "min_alive": 1,
    "max_loader_batch_size": 2,
    "stop_confirm_reports": 1,
    "keep": 1,
}
_SCHEDULER_FRACTIONS = {
    "quantile_fraction": 0.5,
    "resample_probability": 1.0,
    "plausible_weight": 1.0,
}
_SCHEDULER_ACTIONS = ("loader", "accumulation")
_SCHEDULER_SWITCH_PATHS = ("inplace", "restart")
_SCHEDULER_FLAGS = ("explore",)
SEARCH_OPTIONS = {"random": (), "grid": (), "optuna": ("max_concurrent",)}
RESOURCE_KEYS = ("cpu", "gpu")
SPEC_KEYS = {
    "float": ("low", "high", "log", "step"),
    "int": ("low", "high", "log", "step"),
    "categorical": ("choices",),
}
#: Trial-config keys the budget section sets; they may not appear in param_space.
BUDGET_CONFIG_KEYS = ("budget_samples", "report_every")
#: Keys of the trial config the experiment fills in (recorded for the tables).
RECORDED_KEYS = ("dataset", "scheduler")
PARAM_KEYS = (
    *(f.name for f in fields(TrainSettings) if f.name not in BUDGET_CONFIG_KEYS),
    "strategy",
)
DEFAULT_REPORTS = 8


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


@dataclass(frozen=True)
class SearchSpace:
    """A validated search-space file."""

    name: str
    dataset: dict[str, Any]
    param_space: dict[str, Any]
    metric: str = m.VAL_LOSS
    mode: str = "max"
    num_samples: int = 4
    seed: int = 0
    budget: dict[str, Any] = field(default_factory=lambda: {"epochs": 50})
    scheduler: dict[str, Any] = field(default_factory=lambda: {"name": "fifo"})
    search: dict[str, Any] = field(default_factory=lambda: {"name": "random"})
    resources: dict[str, float] = field(default_factory=lambda: {"cpu": 1, "gpu": 0})
    description: str = ""
    tracking: dict[str, Any] = field(default_factory=dict)  # tune_bs.search.tracking
    source: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)  # the mapping as written

    @property
    def reports(self) -> int:
        return int(self.budget.get("reports", DEFAULT_REPORTS))

    def budget_samples(self, n_train: int) -> int:
        """Training series per trial: ``samples``, or ``epochs`` × the training-set size."""
        if "samples" in self.budget:
            return int(self.budget["samples"])
        return round(float(self.budget["epochs"]) * n_train)

    @property
    def compared(self) -> tuple[dict[str, Any], ...]:
        """The scheduler sections of a comparison file (``schedulers:``); empty otherwise."""
        sections = self.raw.get("schedulers")
        return tuple(sections) if isinstance(sections, list) else ()

    def variants(self) -> list[SearchSpace]:
        """One search space per compared scheduler (named ``<name>-<scheduler>``, the same
        trials, budget and seeds), or ``[self]`` for a plain file."""
        if not self.compared:
            return [self]
        base = {k: v for k, v in self.raw.items() if k != "schedulers"}
        return [
            parse_space(
                {**base, "name": f"{self.name}-{section['name']}", "scheduler": section},
                source=self.source,
            )
            for section in self.compared
        ]

    def trial_count(self) -> int:
        """Trials the search runs: ``num_samples``, times the grid's size for grid search."""
        if self.search.get("name") != "grid":
            return self.num_samples
        grid = 1
        for spec in self.param_space.values():
            if isinstance(spec, ParamSpec):
                grid *= len(spec.choices)
        return self.num_samples * grid

    def values_of(self, key: str) -> tuple[Any, ...]:
        """The values ``param_space[key]`` can take (a constant gives one)."""
        spec = self.param_space.get(key)
        if isinstance(spec, ParamSpec):
            return spec.values()
        return () if spec is None else (spec,)


# --- helpers --------------------------------------------------------------------------------
def _check_keys(section: str, given: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in given:
        if key not in allowed:
            where = f"{section}.{key}" if section else str(key)
            raise UserInputError(
                f"{where} is not a known key{did_you_mean(str(key), allowed)}; "
                f"valid keys{' of ' + section if section else ''} are {', '.join(allowed)}."
            )


def _mapping(section: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserInputError(
            f"{section} must be a mapping (key: value lines), but got {section}={value!r}; "
            f"write e.g. {section}: {{name: ...}}."
        )
    return value


def _number(
    where: str,
    value: Any,
    *,
    integer: bool = False,
    minimum: float | None = None,
    exclusive: bool = False,
) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and integer and float(value) != int(value):
        ok = False
    if not ok or not math.isfinite(float(value)):
        kind = "an integer" if integer else "a number"
        raise UserInputError(f"{where} must be {kind}, but got {where}={value!r}; fix the value.")
    if minimum is not None and (value <= minimum if exclusive else value < minimum):
        bound = f"greater than {minimum}" if exclusive else f"at least {minimum}"
        raise UserInputError(f"{where} must be {bound}, but got {where}={value!r}; fix the value.")
    return value


def _param_spec(key: str, spec: dict[str, Any]) -> ParamSpec:
    where = f"param_space.{key}"
    kind = spec.get("type")
    if kind not in SPEC_KEYS:
        raise UserInputError(
            f"{where}.type must be one of float, int, categorical, but got type={kind!r}"
            f"{did_you_mean(str(kind), SPEC_KEYS)}; see README 'Search-space files'."
        )
    _check_keys(where, {k: v for k, v in spec.items() if k != "type"}, SPEC_KEYS[kind])
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise UserInputError(
                f"{where}.choices must be a non-empty list, but got choices={choices!r}; "
                "e.g. choices: [8, 16, 32]."
            )
        return ParamSpec("categorical", choices=tuple(choices))
    for bound in ("low", "high"):
        if bound not in spec:
            raise UserInputError(f"{where} needs '{bound}' for type {kind}; add {bound}: <value>.")
        _number(f"{where}.{bound}", spec[bound], integer=kind == "int")
    low, high = spec["low"], spec["high"]
    if low >= high:
        raise UserInputError(
            f"{where} must have low < high, but got low={low}, high={high}; swap or widen them."
        )
    log = bool(spec.get("log", False))
    if log and low <= 0:
        raise UserInputError(
            f"{where} with log: true needs low > 0, but got low={low}; use a positive low."
        )
    step = spec.get("step")
    if step is not None:
        _number(f"{where}.step", step, integer=kind == "int", minimum=0, exclusive=True)
        if log:
            raise UserInputError(f"{where} cannot have both log and step (as in Optuna); drop one.")
    return ParamSpec(kind, low=low, high=high, log=log, step=step)


#: Trial keys whose values are names, with the valid names.
NAMED_VALUES: dict[str, Any] = {
    "encoder": ENCODERS,
    "strategy": STRATEGIES,
    "stratify": SAMPLER_MODES,
    "cluster_method": CLUSTER_METHODS,
    "cluster_features": ("raw", "pretrained"),
    "weight_late": WEIGHT_LATE,
    "weight_scope": ("global", "batch"),
    "probe": PROBES,
    "normalise": NORMALISATIONS,
}
#: Numeric trial keys: (integer?, minimum, minimum excluded?).
NUMERIC_RANGES: dict[str, tuple[bool, float, bool]] = {
    "batch_size": (True, 2, False),
    "accumulation_steps": (True, 1, False),
    "lr": (False, 0, True),
    "temperature": (False, 0, True),
    "alpha": (False, 0, True),
    "accumulate_alpha": (False, 0, True),
    "min_batch_size": (True, 2, False),
    "max_batch_size": (True, 0, False),
    "max_accumulated": (True, 1, False),
    "weight_strength": (False, 0, False),
    "cluster_k_min": (True, 2, False),
    "cluster_k_max": (True, 2, False),
    "cluster_pretrain_epochs": (False, 0, True),
    "hidden": (True, 1, False),
    "projection_dim": (True, 1, False),
    "depth": (True, 1, False),
    "repr_dim": (True, 0, False),
    "multitask_alpha": (False, 0, False),
}
#: Upper bounds (inclusive) of the parameters that have one.
NUMERIC_MAXIMA: dict[str, float] = {"multitask_alpha": 1.0}


def _check_param_values(key: str, spec: Any) -> None:
    """Check registry names and simple ranges of a parameter's possible values."""
    values = spec.values() if isinstance(spec, ParamSpec) else (spec,)
    for value in values:
        if key in NAMED_VALUES and value not in NAMED_VALUES[key]:
            raise unknown_name(f"param_space.{key}", value, NAMED_VALUES[key])
        if key in NUMERIC_RANGES:
            integer, low, exclusive = NUMERIC_RANGES[key]
            _number(f"param_space.{key}", value, integer=integer, minimum=low, exclusive=exclusive)
        if key in NUMERIC_MAXIMA and value > NUMERIC_MAXIMA[key]:
            raise UserInputError(
                f"param_space.{key} must be at most {NUMERIC_MAXIMA[key]:g}, but got {value!r}; "
                f"give a value between {NUMERIC_RANGES[key][1]:g} and {NUMERIC_MAXIMA[key]:g}."
            )


def _check_metric(metric: Any) -> str:
    """The search metric: a validation metric, never a test one (one line says why)."""
    if metric in m.TEST_METRICS:
        raise UserInputError(
            f"metric must be a validation metric, but got metric={metric!r}: the test split is "
            "scored for the selected trial and reported, never used to stop, rank or select; "
            f"use metric: {m.TEST_METRICS[metric]} (the probe cross-validated on the train split)."
        )
    if metric in m.RENAMED:
        raise UserInputError(
            f"metric must be one of {', '.join(sorted(m.OPTIMISABLE))}, but got metric={metric!r}"
            f" (did you mean {m.RENAMED[metric]!r}?): {metric} was the test-scored probe; its "
            f"validation estimate is {m.RENAMED[metric]}."
        )
    if metric not in m.OPTIMISABLE:
        raise unknown_name("metric", metric, m.OPTIMISABLE)
    return str(metric)


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


# --- the scheduler section -------------------------------------------------------------------
def _check_compared(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``schedulers`` list of a comparison file (two or more scheduler sections, no
    ``scheduler`` beside it); ``[]`` when absent."""
    if "schedulers" not in raw:
        return []
    sections = raw["schedulers"]
    if "scheduler" in raw:
        raise UserInputError(
            "give either scheduler (one experiment) or schedulers (a comparison), "
            "not both; remove one of them."
        )
    if not isinstance(sections, list) or len(sections) < 2:
        raise UserInputError(
            f"schedulers must list two or more scheduler sections, but got schedulers={sections!r}"
            "; write e.g. schedulers: [{name: extrapolation}, {name: asha}]."
        )
    names = [_mapping(f"schedulers[{i}]", s).get("name") for i, s in enumerate(sections)]
    if len(set(names)) != len(names):
        raise UserInputError(
            f"schedulers lists a scheduler twice, in {names}; each experiment is "
            "named after its scheduler, so list each once."
        )
    return [dict(s) for s in sections]


def _check_scheduler(scheduler: dict[str, Any]) -> dict[str, Any]:
    """Check the scheduler's name, keys and option values (one line per problem)."""
    name = scheduler.get("name")
    if name not in SCHEDULER_OPTIONS:
        raise unknown_name("scheduler.name", name, SCHEDULER_OPTIONS)
    _check_keys("scheduler", scheduler, ("name", *SCHEDULER_OPTIONS[name]))
    for key, value in scheduler.items():
        where = f"scheduler.{key}"
        if key in _SCHEDULER_INTS:
            _number(where, value, integer=True)
            if value < _SCHEDULER_INTS[key]:
                raise UserInputError(
                    f"{where} must be at least {_SCHEDULER_INTS[key]}, but got {where}={value}; "
                    f"raise it to {_SCHEDULER_INTS[key]} or more."
                )
        elif key in _SCHEDULER_FRACTIONS:
            _number(where, value, minimum=0)
            if value > _SCHEDULER_FRACTIONS[key]:
                raise UserInputError(
                    f"{where} must be between 0 and {_SCHEDULER_FRACTIONS[key]}, but got "
                    f"{where}={value}; lower it."
                )
        elif key == "action":
            if value not in _SCHEDULER_ACTIONS:
                raise unknown_name(where, value, _SCHEDULER_ACTIONS)
        elif key == "switch_via":
            if value not in _SCHEDULER_SWITCH_PATHS:
                raise unknown_name(where, value, _SCHEDULER_SWITCH_PATHS)
        elif key in _SCHEDULER_FLAGS:
            if not isinstance(value, bool):
                raise UserInputError(
                    f"{where} must be true or false, but got {where}={value!r}; "
                    "write true or false."
                )
        elif key == "batch_sizes":
            if not isinstance(value, list) or len(value) < 2:
                raise UserInputError(
                    f"{where} must list at least two batch sizes, but got {where}={value!r}; "
                    "write e.g. batch_sizes: [8, 16, 32]."
                )
            for size in value:
                _number(where, size, integer=True, minimum=2)
            if len(set(value)) != len(value):
                raise UserInputError(
                    f"{where} lists a batch size twice, in {value}; remove the duplicate."
                )
        elif key != "name":
            _number(where, value, minimum=0)
    if name == "extrapolation":
        options = {k: v for k, v in scheduler.items() if k not in ("name", "batch_sizes")}
        try:
            SwitchSettings(batch_sizes=(2, 4), **options)
        except UserInputError as exc:
            raise UserInputError(f"scheduler: {exc}") from None
    return dict(scheduler)


def _scheduler_batch_sizes(
    scheduler: dict[str, Any], param_space: dict[str, Any]
) -> dict[str, Any]:
    """Default ``batch_sizes`` of pbt / extrapolation to ``param_space.batch_size``'s choices."""
    if scheduler["name"] not in ("pbt", "extrapolation") or "batch_sizes" in scheduler:
        return scheduler
    spec = param_space.get("batch_size")
    choices = (
        sorted({int(v) for v in spec.choices})
        if isinstance(spec, ParamSpec) and (spec.type == "categorical")
        else []
    )
    if len(choices) < 2:
        raise UserInputError(
            f"scheduler {scheduler['name']} needs candidate batch sizes, but got no "
            "scheduler.batch_sizes and param_space.batch_size is not a categorical of 2+ "
            f"values ({spec!r}); add e.g. batch_sizes: [8, 16, 32] to the scheduler section."
        )
    return {**scheduler, "batch_sizes": choices}


def _scheduler_batch_limit(scheduler: dict[str, Any]) -> tuple[str, list[int]]:
    """The scheduler's loader batch sizes that must fit the training set, with their field."""
    if scheduler.get("action") == "accumulation":
        cap = scheduler.get("max_loader_batch_size")
        return "scheduler.max_loader_batch_size", [] if cap is None else [int(cap)]
    return "scheduler.batch_sizes", [int(b) for b in scheduler.get("batch_sizes", ())]


def _searched_normalisation(dataset: dict[str, Any], param_space: dict[str, Any]) -> dict[str, Any]:
    """With ``normalise`` in ``param_space`` every trial normalises the raw series itself: the
    data set is then loaded with ``normalise: none`` (another ``dataset.normalise`` is refused)."""
    if "normalise" not in param_space:
        return dataset
    given = dataset.get("normalise", "none")
    if given not in ("none", False):
        raise UserInputError(
            f"normalise is given twice, dataset.normalise={given!r} and param_space.normalise; "
            "a normalise in param_space is applied by each trial to the raw series, so remove "
            "dataset.normalise."
        )
    return {**dataset, "normalise": "none"}


# --- the loader ------------------------------------------------------------------------------
def parse_space(raw: Any, source: str = "<memory>") -> SearchSpace:
    """Validate a parsed YAML document and return the :class:`SearchSpace`."""
    if raw is None:
        raise UserInputError(f"{source} is empty; start from search_spaces/default.yaml.")
    if not isinstance(raw, dict):
        raise UserInputError(
            f"{source} must hold a mapping at the top level (name:, dataset:, param_space: ...), "
            f"but holds a {type(raw).__name__}; start from search_spaces/default.yaml."
        )
    _check_keys("", raw, TOP_LEVEL_KEYS)
    for required in ("dataset", "param_space"):
        if required not in raw:
            raise UserInputError(
                f"{source} needs a '{required}' section; see search_spaces/default.yaml."
            )

    dataset = _mapping("dataset", raw["dataset"])
    _check_keys("dataset", dataset, DATASET_KEYS)
    if ("name" in dataset) == ("path" in dataset):
        raise UserInputError(
            "dataset must give exactly one of name or path, but got "
            f"{sorted(k for k in dataset if k in ('name', 'path')) or 'neither'}; "
            "e.g. dataset: {name: GunPoint} (see `tune-bs datasets`)."
        )
    normalise = dataset.get("normalise")
    if (
        not isinstance(normalise, bool)
        and "normalise" in dataset
        and (normalise not in NORMALISATIONS)
    ):
        raise unknown_name("dataset.normalise", normalise, NORMALISATIONS)
    if "name" in dataset:
        from tune_bs.data import dataset_names

        names = dataset_names()
        if str(dataset["name"]).lower() not in {n.lower() for n in names}:
            raise unknown_name("dataset.name", dataset["name"], names)

    metric = _check_metric(raw.get("metric", m.VAL_LOSS))
    mode = raw.get("mode", m.OPTIMISABLE[metric])
    if mode not in ("min", "max"):
        raise unknown_name("mode", mode, ("min", "max"))
    if mode != m.OPTIMISABLE[metric]:
        raise UserInputError(
            f"mode must be {m.OPTIMISABLE[metric]!r} for metric {metric} (better is "
            f"{'lower' if m.OPTIMISABLE[metric] == 'min' else 'higher'}), but got mode={mode!r}; "
            "fix or remove mode."
        )
    num_samples = int(_number("num_samples", raw.get("num_samples", 4), integer=True, minimum=1))
    seed = int(_number("seed", raw.get("seed", 0), integer=True, minimum=0))

    budget = _mapping("budget", raw.get("budget", {"epochs": 50}))
    _check_keys("budget", budget, BUDGET_KEYS)
    if ("samples" in budget) == ("epochs" in budget):
        raise UserInputError(
            "budget must give exactly one of samples or epochs (per trial), but got "
            f"{sorted(k for k in budget if k != 'reports') or 'neither'}; e.g. budget: "
            "{epochs: 50}."
        )
    for key in budget:
        _number(f"budget.{key}", budget[key], integer=key != "epochs", minimum=0, exclusive=True)

    compared = _check_compared(raw)
    scheduler = _check_scheduler(
        _mapping("scheduler", compared[0] if compared else raw.get("scheduler", {"name": "fifo"}))
    )

    search = _mapping("search", raw.get("search", {"name": "random"}))
    if search.get("name") not in SEARCH_OPTIONS:
        raise unknown_name("search.name", search.get("name"), SEARCH_OPTIONS)
    _check_keys("search", search, ("name", *SEARCH_OPTIONS[search["name"]]))

    resources = _mapping("resources", raw.get("resources", {}))
    _check_keys("resources", resources, RESOURCE_KEYS)
    resources = {"cpu": resources.get("cpu", 1), "gpu": resources.get("gpu", 0)}
    _number("resources.cpu", resources["cpu"], minimum=0, exclusive=True)
    _number("resources.gpu", resources["gpu"], minimum=0)

    params_raw = _mapping("param_space", raw["param_space"])
    for key in params_raw:
        if key in BUDGET_CONFIG_KEYS or key in RECORDED_KEYS:
            raise UserInputError(
                f"param_space.{key} is set by the experiment, not searched; use the "
                f"{'budget' if key in BUDGET_CONFIG_KEYS else key} section instead."
            )
    for key in params_raw:
        if key in FIXED_KEYS:
            raise UserInputError(
                f"param_space.{key} cannot be set: {FIXED_KEYS[key]}; remove "
                f"{key} from param_space."
            )
    _check_keys("param_space", params_raw, PARAM_KEYS)
    param_space: dict[str, Any] = {}
    for key, spec in params_raw.items():
        if isinstance(spec, dict):
            spec = _param_spec(key, spec)
        elif isinstance(spec, list):
            raise UserInputError(
                f"param_space.{key} is a list; a searchable list is written "
                f"{{type: categorical, choices: {spec}}}, a constant as a single value."
            )
        _check_param_values(key, spec)
        if key in CONSTANT_KEYS and isinstance(spec, ParamSpec):
            raise UserInputError(
                f"param_space.{key} must be one value, but got a {spec.type} search over "
                f"{list(spec.values())}: {CONSTANT_KEYS[key]}; write e.g. {key}: "
                f"{spec.values()[0]!s}."
            )
        param_space[key] = spec
    dataset = _searched_normalisation(dataset, param_space)
    for section in compared[1:]:
        _scheduler_batch_sizes(_check_scheduler(section), param_space)
    if search["name"] == "optuna" and "pbt" in {scheduler["name"], *(c["name"] for c in compared)}:
        raise UserInputError(
            "search 'optuna' cannot be combined with scheduler 'pbt' (PBT picks and mutates the "
            "configurations itself, and Ray Tune refuses a search algorithm beside it); use "
            "search: {name: random} or {name: grid} with pbt."
        )
    if search["name"] == "optuna" and "topk" in {scheduler["name"], *(c["name"] for c in compared)}:
        raise UserInputError(
            "search 'optuna' cannot be combined with scheduler 'topk' (top-k waits for every "
            "trial's first report, and Optuna creates a trial only when a running one ends); use "
            "search: {name: random} or {name: grid} with topk."
        )
    if search["name"] == "grid":
        for key, spec in param_space.items():
            if isinstance(spec, ParamSpec) and spec.type != "categorical":
                raise UserInputError(
                    f"param_space.{key} is a {spec.type} range, but search 'grid' needs every "
                    "searched parameter to be categorical; list its values as choices or use "
                    "search: {name: random}."
                )

    scheduler = _scheduler_batch_sizes(scheduler, param_space)

    return SearchSpace(
        name=str(raw.get("name") or Path(source).stem or "experiment"),
        dataset=dict(dataset),
        param_space=param_space,
        metric=metric,
        mode=mode,
        num_samples=num_samples,
        seed=seed,
        budget=dict(budget),
        scheduler=dict(scheduler),
        search=dict(search),
        resources=resources,
        description=str(raw.get("description", "")),
        tracking=check_tracking(raw.get("tracking")),
        source=source,
        raw=dict(raw),
    )


def load_space(path: str | Path) -> SearchSpace:
    """Read and validate a search-space YAML file."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(
            f"search space {str(path)!r} does not exist or is not a file; give a path to a .yaml "
            "file such as search_spaces/default.yaml."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserInputError(
            f"search space {str(path)!r} cannot be read ({exc}); check the "
            "file's permissions and encoding (UTF-8)."
        ) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserInputError(
            f"search space {str(path)!r} is not valid YAML{where}: {problem}; fix the syntax there."
        ) from None
    return parse_space(raw, source=str(path))


def check_against_data(
    space: SearchSpace, n_train: int, task: str, multitask: bool = False
) -> None:
    """Checks that need the loaded data set: batch sizes, budget, metric vs task (``multitask``:
    the data set has a class label and a continuous target per series)."""
    if space.metric == m.VAL_MULTITASK and not multitask:
        raise UserInputError(
            f"metric {m.VAL_MULTITASK} needs a data set with a class label and a continuous "
            f"target per series, but {space.dataset.get('name') or space.dataset.get('path')} "
            "has one target; use the Covid3Month pair, the synthetic generator or an .npz with "
            "y and y_reg, or metric: val_probe_acc."
        )
    for value in space.values_of("batch_size"):
        if value is not None and value > n_train:
            raise UserInputError(
                f"batch_size must be at most the number of training series ({n_train}), but got "
                f"batch_size={value}; lower it or use a larger data set."
            )
    where, sizes = _scheduler_batch_limit(space.scheduler)
    if sizes and max(sizes) > n_train:
        raise UserInputError(
            f"{where} must be at most the number of training series ({n_train}), but got "
            f"{max(sizes)}; remove the larger sizes or use a larger data set."
        )
    budget = space.budget_samples(n_train)
    if budget < 2:
        raise UserInputError(
            f"budget must give at least 2 training samples per trial, but gives "
            f"{budget}; raise budget.samples or budget.epochs."
        )
    needed = m.TASK_OF.get(space.metric)
    if needed is not None and task != needed:
        fix = m.PROBE_METRICS.get(task, (m.VAL_LOSS,))[0]
        has = "has no labels" if task == "unlabelled" else f"is {task}"
        raise UserInputError(
            f"metric {space.metric} needs a {needed} data set (labels on the train split), but "
            f"the data set {has}; use metric: {fix}."
        )
