"""The sections of a search-space file besides ``param_space``: each checked on its own.

``dataset``, ``metric``/``mode``, ``budget``, ``scheduler`` (or a ``schedulers`` comparison),
``search`` and ``resources``; then the rules between sections (a search algorithm a scheduler
refuses, a grid over ranges, a normalisation given twice, the candidate batch sizes of ``pbt``
and ``extrapolation``). Schedulers and search algorithms are checked from their registries'
option declarations (:func:`tune_bs.search.checks.check_component`).
"""

from __future__ import annotations

from typing import Any

from tune_bs import metrics as m
from tune_bs.data.dataset import NORMALISATIONS
from tune_bs.errors import UserInputError, quote, unknown_name
from tune_bs.options import options_of
from tune_bs.schedule.schedulers import SCHEDULERS
from tune_bs.search.algorithms import SEARCH_ALGORITHMS
from tune_bs.search.checks import check_component, check_keys, mapping, number
from tune_bs.search.params import ParamSpec

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
#: The numeric options of ``dataset``: (integer?, minimum, exclusive?, maximum). The synthetic
#: generator checks its own options' finer rules (:mod:`tune_bs.data.synthetic`).
DATASET_NUMBERS: dict[str, tuple[bool, float, bool, float | None]] = {
    "val_fraction": (False, 0.0, True, 1.0),
    "seed": (True, 0, False, None),
    "length": (True, 2, False, None),
    "n_series": (True, 1, False, None),
    "n_channels": (True, 1, False, None),
    "n_modes": (True, 1, False, None),
    "imbalance": (False, 1.0, False, None),
    "noise": (False, 0.0, False, None),
    "separation": (False, 0.0, False, None),
}
VARIABLE_LENGTH = ("resample", "pad")
BUDGET_KEYS = ("samples", "epochs", "reports", "max_timesteps")
RESOURCE_KEYS = ("cpu", "gpu")


def check_dataset(raw: Any) -> dict[str, Any]:
    """The ``dataset`` section: one of ``name`` (a known data set) or ``path``."""
    dataset = mapping("dataset", raw)
    check_keys("dataset", dataset, DATASET_KEYS)
    if ("name" in dataset) == ("path" in dataset):
        raise UserInputError(
            "dataset must give exactly one of name or path, but got "
            f"{sorted(k for k in dataset if k in ('name', 'path')) or 'neither'}; "
            "e.g. dataset: {name: GunPoint} (see `tune-bs datasets`)."
        )
    for key in ("name", "path"):
        if key in dataset and (not isinstance(dataset[key], str) or not dataset[key].strip()):
            raise UserInputError(
                f"dataset.{key} must be a non-empty string, but got "
                f"dataset.{key}={quote(dataset[key])}; e.g. dataset: {{{key}: "
                f"{'GunPoint' if key == 'name' else 'data.npz'}}}."
            )
    for key, (integer, minimum, exclusive, maximum) in DATASET_NUMBERS.items():
        if key in dataset:
            where = f"dataset.{key}"
            number(where, dataset[key], integer=integer, minimum=minimum, exclusive=exclusive)
            if maximum is not None and dataset[key] >= maximum:
                raise UserInputError(
                    f"{where} must be less than {maximum:g}, but got {where}="
                    f"{quote(dataset[key])}; use e.g. {where.split('.')[1]}: 0.2."
                )
    if "variable_length" in dataset and dataset["variable_length"] not in VARIABLE_LENGTH:
        raise unknown_name("dataset.variable_length", dataset["variable_length"], VARIABLE_LENGTH)
    normalise = dataset.get("normalise")
    if (
        not isinstance(normalise, bool)
        and "normalise" in dataset
        and (normalise not in NORMALISATIONS)
    ):
        raise unknown_name("dataset.normalise", normalise, NORMALISATIONS)
    if "name" in dataset:
        from tune_bs.data import dataset_names, package_sets

        name = str(dataset["name"])
        if package_sets.is_package_name(name):
            package_sets.resolve(name)  # an uninstalled package or an unknown set: one line
        else:
            names = dataset_names()
            if name.lower() not in {n.lower() for n in names}:
                raise unknown_name("dataset.name", dataset["name"], names)
    return dataset


def check_metric(metric: Any) -> str:
    """The search metric: a validation metric, never a test one (one line says why)."""
    if metric in m.TEST_METRICS:
        raise UserInputError(
            f"metric must be a validation metric, but got metric={quote(metric)}: the test "
            "split is scored for the selected trial and reported, never used to stop, rank or "
            "select; "
            f"use metric: {m.TEST_METRICS[metric]} (the probe cross-validated on the train split)."
        )
    if metric in m.RENAMED:
        raise UserInputError(
            f"metric must be one of {', '.join(sorted(m.OPTIMISABLE))}, but got "
            f"metric={quote(metric)}"
            f" (did you mean {m.RENAMED[metric]!r}?): {metric} was the test-scored probe; its "
            f"validation estimate is {m.RENAMED[metric]}."
        )
    if metric not in m.OPTIMISABLE:
        raise unknown_name("metric", metric, m.OPTIMISABLE)
    return str(metric)


def check_mode(mode: Any, metric: str) -> str:
    """``min`` or ``max``, and the metric's own direction."""
    if mode not in ("min", "max"):
        raise unknown_name("mode", mode, ("min", "max"))
    if mode != m.OPTIMISABLE[metric]:
        raise UserInputError(
            f"mode must be {m.OPTIMISABLE[metric]!r} for metric {metric} (better is "
            f"{'lower' if m.OPTIMISABLE[metric] == 'min' else 'higher'}), but got "
            f"mode={quote(mode)}; fix or remove mode."
        )
    return mode


def check_budget(raw: Any) -> dict[str, Any]:
    """The ``budget`` section: one of ``samples`` or ``epochs`` per trial, ``reports``, and an
    optional cap ``max_timesteps`` (training series × series length per trial)."""
    budget = mapping("budget", raw)
    check_keys("budget", budget, BUDGET_KEYS)
    if ("samples" in budget) == ("epochs" in budget):
        raise UserInputError(
            "budget must give exactly one of samples or epochs (per trial), but got "
            f"{sorted(k for k in budget if k != 'reports') or 'neither'}; e.g. budget: "
            "{epochs: 50}."
        )
    for key in budget:
        number(f"budget.{key}", budget[key], integer=key != "epochs", minimum=0, exclusive=True)
    return budget


def check_compared(raw: dict[str, Any]) -> list[dict[str, Any]]:
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
            "schedulers must list two or more scheduler sections, but got "
            f"schedulers={quote(sections)}; write e.g. "
            "schedulers: [{name: extrapolation}, {name: asha}]."
        )
    names = [mapping(f"schedulers[{i}]", s).get("name") for i, s in enumerate(sections)]
    if len(set(names)) != len(names):
        raise UserInputError(
            f"schedulers lists a scheduler twice, in {quote(names)}; each experiment is "
            "named after its scheduler, so list each once."
        )
    return [dict(s) for s in sections]


def check_scheduler(scheduler: dict[str, Any]) -> dict[str, Any]:
    """Check the scheduler's name, keys and option values (one line per problem)."""
    check_component("scheduler", scheduler, SCHEDULERS)
    return dict(scheduler)


def check_search(raw: Any) -> dict[str, Any]:
    """The ``search`` section: a registered search algorithm and its options."""
    search = mapping("search", raw)
    check_component("search", search, SEARCH_ALGORITHMS)
    return search


def check_resources(raw: Any) -> dict[str, float]:
    """The ``resources`` section, with the defaults filled in (1 CPU, 0 GPUs per trial)."""
    resources = mapping("resources", raw)
    check_keys("resources", resources, RESOURCE_KEYS)
    resources = {"cpu": resources.get("cpu", 1), "gpu": resources.get("gpu", 0)}
    number("resources.cpu", resources["cpu"], minimum=0, exclusive=True)
    number("resources.gpu", resources["gpu"], minimum=0)
    return resources


def check_combinations(
    search: dict[str, Any],
    schedulers: set[str],
    param_space: dict[str, Any],
) -> None:
    """Rules between sections: the search algorithms a scheduler refuses (its registry entry),
    and what a grid needs."""
    for name, entry in SCHEDULERS.items():
        reason = entry.refuses_search.get(search["name"])
        if name in schedulers and reason is not None:
            raise UserInputError(
                f"search {search['name']!r} cannot be combined with scheduler {name!r} ({reason}); "
                f"use search: {{name: random}} or {{name: grid}} with {name}."
            )
    if search["name"] == "grid":
        for key, spec in param_space.items():
            if isinstance(spec, ParamSpec) and spec.type != "categorical":
                raise UserInputError(
                    f"param_space.{key} is a {spec.type} range, but search 'grid' needs every "
                    "searched parameter to be categorical; list its values as choices or use "
                    "search: {name: random}."
                )


def scheduler_batch_sizes(scheduler: dict[str, Any], param_space: dict[str, Any]) -> dict[str, Any]:
    """Default the ``batch_sizes`` a scheduler requires (pbt, extrapolation) to
    ``param_space.batch_size``'s choices."""
    declared = options_of(SCHEDULERS[scheduler["name"]].Options)
    if not any(o.name == "batch_sizes" and o.required for o in declared) or (
        "batch_sizes" in scheduler
    ):
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
            f"values ({quote(spec)}); add e.g. batch_sizes: [8, 16, 32] to the scheduler section."
        )
    return {**scheduler, "batch_sizes": choices}


def scheduler_batch_limit(scheduler: dict[str, Any]) -> tuple[str, list[int]]:
    """The scheduler's loader batch sizes that must fit the training set, with their field."""
    if scheduler.get("action") == "accumulation":
        cap = scheduler.get("max_loader_batch_size")
        return "scheduler.max_loader_batch_size", [] if cap is None else [int(cap)]
    return "scheduler.batch_sizes", [int(b) for b in scheduler.get("batch_sizes", ())]


def searched_normalisation(dataset: dict[str, Any], param_space: dict[str, Any]) -> dict[str, Any]:
    """With ``normalise`` in ``param_space`` every trial normalises the raw series itself: the
    data set is then loaded with ``normalise: none`` (another ``dataset.normalise`` is refused)."""
    if "normalise" not in param_space:
        return dataset
    given = dataset.get("normalise", "none")
    if given not in ("none", False):
        raise UserInputError(
            f"normalise is given twice, dataset.normalise={quote(given)} and "
            "param_space.normalise; a normalise in param_space is applied by each trial to the "
            "raw series, so remove dataset.normalise."
        )
    return {**dataset, "normalise": "none"}
