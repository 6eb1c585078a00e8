"""Run and resume experiments: a validated search space → Ray Tune ``Tuner`` → results folder.

Layout of a run (Ray Tune's own, docs/design.md §6): ``STORAGE/NAME/`` with one folder per trial
(``result.json``, ``params.json``, checkpoints) plus two files of ours that make ``resume``
possible: ``tune_bs_space.yaml`` (a copy of the search space) and ``tune_bs_run.json`` (the
command-line overrides used). The data set is loaded once in the driver and shared with every
trial through ``tune.with_parameters``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from tune_bs import metrics as m
from tune_bs.data import TimeSeriesData, load_dataset
from tune_bs.errors import UserInputError
from tune_bs.schedule.schedulers import build_scheduler, logger_callbacks
from tune_bs.schedule.switching import SwitchSettings
from tune_bs.search.algorithms import SEARCH_ALGORITHMS
from tune_bs.search.retention import prune_experiment
from tune_bs.search.space import ParamSpec, SearchSpace, check_against_data, parse_space
from tune_bs.search.storage import Location
from tune_bs.search.trainable import train_trial

logger = logging.getLogger(__name__)
SPACE_COPY = "tune_bs_space.yaml"
RUN_OPTIONS = "tune_bs_run.json"
SMOKE_REPORTS = 2
SMOKE_TRIALS = 2


@dataclass(frozen=True)
class RunOptions:
    """Command-line overrides of a run; saved with the results so ``resume`` reuses them."""

    num_samples: int | None = None
    smoke_test: bool = False
    cpus_per_trial: float | None = None
    gpus_per_trial: float | None = None
    max_failures: int = 2
    #: the ``--smoke-test`` budget when it is shared by several experiments (a ``schedulers:``
    #: comparison); ``None``: :func:`smoke_budget` of the space
    smoke_budget: dict[str, Any] | None = None
    #: ``--tracking``: a ``tracking:`` section that replaces the space's
    # (:mod:`tune_bs.search.tracking`)
    tracking: dict[str, Any] | None = None


@dataclass(frozen=True)
class RunOutcome:
    """Where the results are (a local Path, or the storage URI), and the Tune result grid."""

    path: Path | str
    space: SearchSpace
    results: Any


def smoke_budget(space: SearchSpace) -> dict[str, Any]:
    """The ``--smoke-test`` budget.

    Two reports of two batches of the largest batch size; with the extrapolation scheduler, the
    first ``2 · segment_reports + 1`` reports of the space's own budget (at least two batches of
    the largest size each), so that a trial can measure one segment, explore a second size within
    the first half of its budget, measure it and still act on the verdict
    (:mod:`tune_bs.schedule.switching`, rules 5 and 6).
    """
    largest = max([int(v) for v in space.values_of("batch_size")] or [16])
    if space.scheduler.get("name") != "extrapolation":
        return {"samples": 2 * SMOKE_REPORTS * largest, "reports": SMOKE_REPORTS}
    reports = int(space.scheduler.get("segment_reports", SwitchSettings.segment_reports))
    reports = min(2 * reports + 1, max(space.reports, SMOKE_REPORTS))
    share = reports / space.reports
    if "epochs" in space.budget:
        return {"epochs": float(space.budget["epochs"]) * share, "reports": reports}
    samples = max(round(int(space.budget["samples"]) * share), 2 * reports * largest)
    return {"samples": samples, "reports": reports}


def comparison_smoke_budget(variants: list[SearchSpace]) -> dict[str, Any]:
    """One ``--smoke-test`` budget for all experiments of a comparison: the longest of theirs
    (the extrapolation scheduler's, when it is compared), so each runs the same trials."""
    return max((smoke_budget(v) for v in variants), key=lambda b: b["reports"])


def effective_space(space: SearchSpace, options: RunOptions) -> SearchSpace:
    """Apply the command-line overrides to the search space."""
    changes: dict[str, Any] = {}
    if options.num_samples is not None:
        changes["num_samples"] = options.num_samples
    if options.smoke_test:
        changes["num_samples"] = min(changes.get("num_samples", space.num_samples), SMOKE_TRIALS)
        changes["budget"] = options.smoke_budget or smoke_budget(space)
    resources = dict(space.resources)
    if options.cpus_per_trial is not None:
        resources["cpu"] = options.cpus_per_trial
    if options.gpus_per_trial is not None:
        resources["gpu"] = options.gpus_per_trial
    changes["resources"] = resources
    return replace(space, **changes)


def load_space_data(space: SearchSpace) -> TimeSeriesData:
    """Load the space's data set and run the checks that need it."""
    data = load_dataset(**space.dataset)
    check_against_data(space, data.n_train, data.task, multitask=data.multitask is not None)
    return data


def tune_param_space(space: SearchSpace, data: TimeSeriesData) -> dict[str, Any]:
    """The trial config space: searched parameters as Tune domains, plus recorded constants."""
    from ray import tune

    grid = space.search["name"] == "grid"
    # Defaults recorded in every trial config, so the tables can group by them.
    config: dict[str, Any] = {"strategy": "fixed", "encoder": "fcn", "seed": 0}
    if space.metric == m.VAL_MULTITASK:
        config["multitask_probe"] = True  # the trials report val_multitask
    for key, spec in space.param_space.items():
        if not isinstance(spec, ParamSpec):
            config[key] = spec
        elif spec.type == "categorical":
            config[key] = (
                tune.grid_search(list(spec.choices)) if grid else tune.choice(list(spec.choices))
            )
        elif spec.type == "float":
            if spec.log:
                config[key] = tune.loguniform(spec.low, spec.high)
            elif spec.step:
                config[key] = tune.quniform(spec.low, spec.high, spec.step)
            else:
                config[key] = tune.uniform(spec.low, spec.high)
        elif spec.log:
            config[key] = tune.lograndint(int(spec.low), int(spec.high) + 1)
        elif spec.step:
            config[key] = tune.qrandint(int(spec.low), int(spec.high), int(spec.step))
        else:
            config[key] = tune.randint(int(spec.low), int(spec.high) + 1)
    budget = space.budget_samples(data.n_train)
    config[m.BUDGET_SAMPLES] = budget
    config[m.REPORT_EVERY] = max(1, -(-budget // space.reports))  # ceil: exactly `reports` reports
    config["dataset"] = data.name
    config["scheduler"] = space.scheduler["name"]
    return config


def build_search_alg(
    space: SearchSpace, experiment_dir: Path | str | None = None, experiment: str | None = None
) -> Any:
    """Tune search algorithm for ``space.search``: random/grid (basic variants) or Optuna TPE
    (:data:`~tune_bs.search.algorithms.SEARCH_ALGORITHMS`).

    An Optuna study of a local experiment is stored in ``optuna.db`` (SQLite) in its folder,
    named after the experiment, so ``optuna-dashboard`` can open it
    (:mod:`tune_bs.search.tracking`).
    """
    return SEARCH_ALGORITHMS[space.search["name"]].build(space, experiment_dir, experiment)


#: Seconds to wait for a cluster address to accept a connection before giving up.
CONNECT_TIMEOUT_S = 3.0


def _check_reachable(address: str) -> None:
    """Refuse a ``HOST:PORT`` / ``ray://HOST:PORT`` address nothing listens on, at once.

    ``ray.init`` would otherwise retry an unreachable GCS for minutes, printing C++ warnings.
    """
    if address in ("auto", "local"):
        return
    parts = urlsplit(address if "://" in address else f"ray://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or port is None:
        raise UserInputError(
            f"--address must be HOST:PORT, ray://HOST:PORT or auto, but got --address "
            f"{address!r}; give e.g. --address ray://HOST:10001 or HOST:6379."
        )
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise UserInputError(
            f"--address {address!r} cannot be reached ({reason}); "
            "check that a Ray head runs there (`ray status --address ...`) or drop --address."
        ) from None


def _ensure_ray(address: str | None) -> None:
    import ray

    if ray.is_initialized():
        return
    if address:
        _check_reachable(address)
    try:
        ray.init(
            address=address or "local",
            include_dashboard=False,
            log_to_driver=True,
            configure_logging=False,
        )
    except (ConnectionError, ValueError, RuntimeError) as exc:
        if address:
            raise UserInputError(
                f"--address {address!r} cannot be reached ({str(exc).splitlines()[0]}); check "
                "that a Ray head runs there (`ray status --address ...`) or drop --address."
            ) from None
        raise


def resourced_trainable(space: SearchSpace, data: TimeSeriesData) -> Any:
    """The trial function with the data set attached once and the space's per-trial resources."""
    from ray import tune

    return tune.with_resources(
        tune.with_parameters(train_trial, data=data),
        {"cpu": space.resources["cpu"], "gpu": space.resources["gpu"]},
    )


def build_tuner(
    space: SearchSpace,
    data: TimeSeriesData,
    storage: str,
    name: str,
    options: RunOptions,
    experiment_dir: Path | str | None = None,
) -> Any:
    from ray import tune

    from tune_bs.search.tracking import tracking_callbacks

    _snapshot_often(Location.open(storage))
    trainable = resourced_trainable(space, data)
    return tune.Tuner(
        trainable,
        param_space=tune_param_space(space, data),
        tune_config=tune.TuneConfig(
            metric=space.metric,
            mode=space.mode,
            num_samples=space.num_samples,
            scheduler=build_scheduler(space.scheduler, space.reports, space.param_space),
            search_alg=build_search_alg(space, experiment_dir, name),
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=storage,
            failure_config=tune.FailureConfig(max_failures=options.max_failures),
            checkpoint_config=checkpoint_config(space),
            # Tune's own loggers drop the result rows of a trial that paused (a switch, PBT)
            callbacks=[
                *logger_callbacks(),
                *tracking_callbacks(tracking_section(space, options), experiment_dir, name),
            ],
            verbose=1,
        ),
    )


#: Seconds between saves of the experiment's state (trial statuses, result files) to storage:
#: on a local disk (a copy) and on remote storage (an upload of every result file).
SNAPSHOT_PERIOD_S = {"local": 0.1, "remote": 2.0}
_SNAPSHOT_ENV = "TUNE_GLOBAL_CHECKPOINT_S"
_SNAPSHOT_SET_BY_USER = _SNAPSHOT_ENV in os.environ


def _snapshot_often(storage: Location) -> None:
    """Save the experiment's state to ``storage`` every ``SNAPSHOT_PERIOD_S`` (Tune's default
    is 10 s or more; an upload still in progress is not doubled): what a killed driver's
    experiment resumes from, and what a report read while the run goes on shows. Tune used to
    save it as often only as a side effect of deleting checkpoints during the run, which
    :mod:`tune_bs.search.retention` no longer does. A ``TUNE_GLOBAL_CHECKPOINT_S`` set by the user
    wins. Every report carries a checkpoint (docs/design.md §7), so Tune would warn about frequent
    snapshots; that is intended."""
    if not _SNAPSHOT_SET_BY_USER:
        os.environ[_SNAPSHOT_ENV] = str(
            SNAPSHOT_PERIOD_S["local" if storage.is_local else "remote"]
        )
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")


def tracking_section(space: SearchSpace, options: RunOptions) -> dict[str, Any] | None:
    """The run's ``tracking:`` section: the space's own, updated by ``--tracking``'s."""
    return {**space.tracking, **(options.tracking or {})}


#: Checkpoints a trial keeps besides its latest: the best by the experiment's validation metric.
KEEP_BEST_CHECKPOINTS = 2


def checkpoint_config(space: SearchSpace) -> Any:
    """Keep every checkpoint while the experiment runs (:mod:`tune_bs.search.retention`: a killed
    driver's saved state may name any of them); :func:`prune_checkpoints` then keeps each
    trial's best by the experiment's (validation) metric, which the selection may pick, and
    its latest. PBT clones restore donors' older checkpoints, so PBT keeps them all."""
    from ray import tune

    return tune.CheckpointConfig(num_to_keep=None)


def prune_checkpoints(space: SearchSpace, folder: Location) -> None:
    """After ``Tuner.fit``: keep each trial's latest checkpoint and its
    ``KEEP_BEST_CHECKPOINTS`` best by the experiment's metric (all of them for PBT)."""
    if space.scheduler["name"] != "pbt":
        prune_experiment(folder, space.metric, space.mode, KEEP_BEST_CHECKPOINTS)


def run_experiment(
    space: SearchSpace,
    storage: str | Path = "tune_bs_results",
    name: str | None = None,
    options: RunOptions | None = None,
    address: str | None = None,
) -> RunOutcome:
    """Run the search of ``space`` and return where its results are."""
    options = options or RunOptions()
    space = effective_space(space, options)
    name = experiment_name(space, name, options)
    root = Location.open(storage)
    folder = root.child(name)
    if folder.holds_experiment():
        raise UserInputError(
            f"{folder.uri} already holds an experiment; finish it with `tune-bs resume "
            f"{folder.uri}`, or give another --name."
        )
    folder.make_writable()
    data = load_space_data(space)
    logger.info("data: %s", data.describe())
    _ensure_ray(address)  # before writing anything: a bad --address leaves no files behind
    _save_run_files(folder, space, options)
    random.seed(space.seed)  # PBT draws its mutations from Python's global RNG
    results = build_tuner(space, data, root.uri, name, options, folder.display()).fit()
    prune_checkpoints(space, folder)
    return RunOutcome(folder.display(), space, results)


def experiment_name(space: SearchSpace, name: str | None, options: RunOptions) -> str:
    """The results folder's name: ``--name``, else the space's name (``-smoke`` for smoke tests)."""
    return name or space.name + ("-smoke" if options.smoke_test else "")


def _save_run_files(folder: Location, space: SearchSpace, options: RunOptions) -> None:
    raw = {**space.raw, "name": space.name}
    folder.write_text(SPACE_COPY, yaml.safe_dump(raw, sort_keys=False))
    folder.write_text(RUN_OPTIONS, json.dumps(asdict(options), indent=2))


def resume_experiment(path: str | Path, address: str | None = None) -> RunOutcome:
    """Finish an interrupted experiment in ``path``; finished trials are kept as they are."""
    from ray import tune

    folder = Location.open(path)
    if not folder.is_file(SPACE_COPY) or not tune.Tuner.can_restore(folder.uri):
        raise UserInputError(
            f"{folder.uri} holds no resumable tune-bs experiment (no {SPACE_COPY} or Tune state); "
            "give the folder `tune-bs run` printed, e.g. tune_bs_results/default."
        )
    options = RunOptions(**json.loads(folder.read_text(RUN_OPTIONS)))
    raw = yaml.safe_load(folder.read_text(SPACE_COPY))
    space = effective_space(parse_space(raw, source=f"{folder.uri}/{SPACE_COPY}"), options)
    data = load_space_data(space)
    _ensure_ray(address)
    _snapshot_often(folder)
    trainable = resourced_trainable(space, data)
    tuner = tune.Tuner.restore(
        folder.uri, trainable=trainable, resume_unfinished=True, resume_errored=True
    )
    results = tuner.fit()
    prune_checkpoints(space, folder)
    return RunOutcome(folder.display(), space, results)
