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

The checks live beside this module: :mod:`~tune_bs.search.checks` (generic: keys, numbers and
any component's declared options), :mod:`~tune_bs.search.params` (``param_space``) and
:mod:`~tune_bs.search.sections` (every other section and the rules between sections).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tune_bs import metrics as m
from tune_bs.errors import UserInputError
from tune_bs.search import sections
from tune_bs.search.checks import check_keys, mapping, number
from tune_bs.search.names import check_name
from tune_bs.search.params import PARAM_KEYS, ParamSpec, check_param_space
from tune_bs.search.tracking import check_tracking

__all__ = [
    "PARAM_KEYS",
    "ParamSpec",
    "SearchSpace",
    "check_against_data",
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
    return SearchSpace(
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
    where, sizes = sections.scheduler_batch_limit(space.scheduler)
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
