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
    budget: {epochs: 100, reports: 8}   # or {samples: 4000, ...}: per trial; max_timesteps
                                  # caps series × length per trial
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

The checks live beside this module: :mod:`~tune_bs.search.checks` (generic: keys, numbers and
any component's declared options), :mod:`~tune_bs.search.params` (``param_space``) and
:mod:`~tune_bs.search.sections` (every other section and the rules between sections).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tune_bs import metrics as m
from tune_bs.data import TimeSeriesData
from tune_bs.documents import load_yaml
from tune_bs.errors import UserInputError, quote
from tune_bs.search import sections
from tune_bs.search.checks import check_keys, mapping, number
from tune_bs.search.names import check_name
from tune_bs.search.params import PARAM_KEYS, ParamSpec, check_param_space
from tune_bs.search.tracking import check_tracking
from tune_bs.train.settings import trial_options

__all__ = [
    "PARAM_KEYS",
    "ParamSpec",
    "SearchSpace",
    "check_against_data",
    "check_space_data",
    "load_space",
    "parse_space",
]

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
DEFAULT_REPORTS = 8


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

    def budget_samples(self, n_train: int, length: int | None = None) -> int:
        """Training series per trial: ``samples``, or ``epochs`` × the training-set size; with
        ``max_timesteps`` and the series ``length`` known, at most ``max_timesteps // length``
        (a budget in time steps of training data, what a convolutional encoder's cost scales
        with: long series get fewer epochs), and at least 2."""
        if "samples" in self.budget:
            samples = int(self.budget["samples"])
        else:
            samples = round(float(self.budget["epochs"]) * n_train)
        cap = self.budget.get("max_timesteps")
        if cap is not None and length:
            samples = min(samples, max(2, int(cap) // int(length)))
        return samples

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


# --- the loader ------------------------------------------------------------------------------
def _check_document(raw: Any, source: str) -> dict[str, Any]:
    """The top level: a mapping of known keys with ``dataset`` and ``param_space``."""
    if raw is None:
        raise UserInputError(f"{source} is empty; start from search_spaces/default.yaml.")
    if not isinstance(raw, dict):
        raise UserInputError(
            f"{source} must hold a mapping at the top level (name:, dataset:, param_space: ...), "
            f"but holds a {type(raw).__name__}; start from search_spaces/default.yaml."
        )
    check_keys("", raw, TOP_LEVEL_KEYS)
    for required in ("dataset", "param_space"):
        if required not in raw:
            raise UserInputError(
                f"{source} needs a '{required}' section; see search_spaces/default.yaml."
            )
    return raw


def _check_trials(raw: dict[str, Any], dataset: dict[str, Any]) -> dict[str, Any]:
    """The sections that shape the trials (scheduler or comparison, search, resources,
    param_space) and the rules between sections, in this order; the data set as trials load it."""
    compared = sections.check_compared(raw)
    section = compared[0] if compared else raw.get("scheduler", {"name": "fifo"})
    scheduler = sections.check_scheduler(mapping("scheduler", section))
    search = sections.check_search(raw.get("search", {"name": "random"}))
    resources = sections.check_resources(raw.get("resources", {}))
    params = check_param_space(raw["param_space"])
    dataset = sections.searched_normalisation(dataset, params)
    for other in compared[1:]:
        sections.scheduler_batch_sizes(sections.check_scheduler(other), params)
    names = {scheduler["name"], *(c["name"] for c in compared)}
    sections.check_combinations(search, names, params)
    return {
        "dataset": dict(dataset),
        "scheduler": dict(sections.scheduler_batch_sizes(scheduler, params)),
        "search": dict(search),
        "resources": resources,
        "param_space": params,
    }


def parse_space(raw: Any, source: str = "<memory>") -> SearchSpace:
    """Validate a parsed YAML document and return the :class:`SearchSpace`."""
    raw = _check_document(raw, source)
    dataset = sections.check_dataset(raw["dataset"])
    metric = sections.check_metric(raw.get("metric", m.VAL_LOSS))
    mode = sections.check_mode(raw.get("mode", m.OPTIMISABLE[metric]), metric)
    num_samples = int(number("num_samples", raw.get("num_samples", 4), integer=True, minimum=1))
    seed = int(number("seed", raw.get("seed", 0), integer=True, minimum=0))
    budget = sections.check_budget(raw.get("budget", {"epochs": 50}))
    space = SearchSpace(
        name=_space_name(raw, source),
        metric=metric,
        mode=mode,
        num_samples=num_samples,
        seed=seed,
        budget=dict(budget),
        **_check_trials(raw, dataset),
        description=str(raw.get("description", "")),
        tracking=check_tracking(raw.get("tracking")),
        source=source,
        raw=dict(raw),
    )
    _check_loss_comparable(space)
    return space


def _check_loss_comparable(space: SearchSpace) -> None:
    """``val_loss`` of two objectives are different quantities (:mod:`tune_bs.train.objectives`):
    a search over ``loss`` may not rank or schedule on it."""
    losses = space.values_of("loss")
    if len(set(losses)) < 2:
        return
    uses = []
    if space.metric == m.VAL_LOSS:
        uses.append(f"metric {m.VAL_LOSS}")
    if space.scheduler.get("name") == "extrapolation":
        uses.append("the extrapolation scheduler (it fits val_loss)")
    if uses:
        raise UserInputError(
            f"param_space.loss searches {sorted(losses)}, but {' and '.join(uses)} would compare "
            "val_loss across objectives, whose values are different quantities; use metric: "
            f"{m.VAL_PROBE_ACC} with another scheduler, or give loss one value."
        )


def _space_name(raw: dict[str, Any], source: str) -> str:
    """``name`` (one folder name, :func:`~tune_bs.search.storage.check_name`), else the file's
    stem when that is a valid name, else ``experiment``."""
    if "name" in raw:
        return check_name(raw["name"], "name")
    try:
        return check_name(Path(source).stem)
    except UserInputError:
        return "experiment"


def load_space(path: str | Path) -> SearchSpace:
    """Read and validate a search-space YAML file."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(
            f"search space {quote(str(path))} does not exist or is not a file; give a path to a "
            ".yaml file such as search_spaces/default.yaml."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserInputError(
            f"search space {quote(str(path))} cannot be read ({exc}); check the "
            "file's permissions and encoding (UTF-8)."
        ) from None
    raw = load_yaml(text, f"search space {quote(str(path))}")
    return parse_space(raw, source=str(path))


def check_against_data(
    space: SearchSpace, n_train: int, task: str, multitask: bool = False, length: int | None = None
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
    where, sizes = sections.scheduler_batch_limit(space.scheduler)
    if sizes and max(sizes) > n_train:
        raise UserInputError(
            f"{where} must be at most the number of training series ({n_train}), but got "
            f"{max(sizes)}; remove the larger sizes or use a larger data set."
        )
    budget = space.budget_samples(n_train, length)
    if budget < 2:
        raise UserInputError(
            f"budget must give at least 2 training samples per trial, but gives "
            f"{budget}; raise budget.samples or budget.epochs."
        )
    _check_reports(space, budget)
    needed = m.TASK_OF.get(space.metric)
    if needed is not None and task != needed:
        fix = m.PROBE_METRICS.get(task, (m.VAL_LOSS,))[0]
        has = "has no labels" if task == "unlabelled" else f"is {task}"
        raise UserInputError(
            f"metric {space.metric} needs a {needed} data set (labels on the train split), but "
            f"the data set {has}; use metric: {fix}."
        )


def _check_reports(space: SearchSpace, budget: int) -> None:
    """Every report must come after at least one batch: a trial trains whole batches, so a
    budget of 4 samples at batch size 8 trains one batch and ends, whatever ``reports`` says
    (it used to give 1 report for ``reports: 100``). Checked at the largest batch size a trial
    may start with."""
    sizes = [
        int(v)
        for v in space.values_of("batch_size")
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    largest = max(sizes or [int(trial_options()["batch_size"].default)])
    unit = "budget.samples" if "samples" in space.budget else "budget.epochs"
    if budget < largest:
        raise UserInputError(
            f"budget must give at least one batch per trial, but {unit}="
            f"{space.budget[unit.split('.')[1]]} gives {budget} training samples, less than "
            f"batch_size {largest}; raise {unit} (to at least {largest} samples) or lower "
            "batch_size."
        )
    reports = space.reports
    if -(-budget // reports) >= largest:
        return
    given = "budget.reports" if "reports" in space.budget else "budget.reports (default)"
    raise UserInputError(
        f"budget.reports must leave at least one batch between reports, but {given}="
        f"{reports} splits {budget} training samples per trial into reports of "
        f"{-(-budget // reports)}, fewer than batch_size {largest}, so the trial would report "
        f"fewer times than asked; lower budget.reports to {budget // largest} or less, or raise "
        f"{unit}."
    )


def check_space_data(space: SearchSpace, data: TimeSeriesData) -> None:
    """Every check of a search space against its loaded data set, run before Ray starts
    (``tune-bs validate`` and ``run``): :func:`check_against_data`; a probe metric needs two or
    more classes; and the series each trial will train on, under each normalisation the
    space gives them, must be computable (:meth:`TimeSeriesData.check_values`)."""
    check_against_data(
        space, data.n_train, data.task, multitask=data.multitask is not None, length=data.length
    )
    labels = {
        m.VAL_PROBE_ACC: data.y_probe_train if data.task == "classification" else None,
        m.VAL_MULTITASK: None if data.multitask is None else data.multitask.y_class_train,
    }.get(space.metric)
    if labels is not None:
        classes = np.unique(np.asarray(labels))
        if len(classes) < 2:
            raise UserInputError(
                f"metric {space.metric} needs two or more classes in the train split, but "
                f"{data.name}'s labels are all {quote(classes[0].item())}; fix the labels, or "
                "search on metric: val_loss."
            )
    rules = [v for v in space.values_of("normalise") if v is not None]
    for rule in rules or [data.normalisation]:
        if rule in ("none", False) or rule == data.normalisation:
            data.check_values()
        else:
            data.normalised(rule)
