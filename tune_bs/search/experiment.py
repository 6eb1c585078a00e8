"""Run and resume experiments: a validated search space → Ray Tune ``Tuner`` → results folder.

Layout of a run (Ray Tune's own, docs/design.md §6): ``STORAGE/NAME/`` with one folder per trial
(``result.json``, ``params.json``, checkpoints) plus two files of ours that make ``resume``
possible: ``tune_bs_space.yaml`` (a copy of the search space) and ``tune_bs_run.json`` (the
command-line overrides used) (:mod:`tune_bs.search.run_files`), and ``tune_bs.lock`` while a run
or resume holds the folder (:mod:`tune_bs.search.lock`). The data set is loaded once in the
driver and shared with every trial through ``tune.with_parameters``.

A run's life cycle: the name is one folder (:mod:`tune_bs.search.names`); the folder is locked;
the data set, the Ray connection and the trial's resources are checked before any file is
written (:mod:`tune_bs.search.ray_session`); ``tuner.pkl`` and Tune's state files are signed
(:mod:`tune_bs.search.signing`), and ``resume`` checks them before Ray reads any; SIGINT and
SIGTERM stop the run and keep everything (:mod:`tune_bs.search.interrupt`); an ended run prunes
its checkpoints (:mod:`tune_bs.search.retention`).
"""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tune_bs import metrics as m
from tune_bs.data import TimeSeriesData, load_dataset
from tune_bs.errors import UserInputError
from tune_bs.progress import Steps
from tune_bs.schedule.schedulers import build_scheduler, logger_callbacks
from tune_bs.schedule.switching import SwitchSettings
from tune_bs.search.algorithms import SEARCH_ALGORITHMS
from tune_bs.search.interrupt import ExperimentInterrupted, interruptible_fit
from tune_bs.search.lock import ExperimentLock
from tune_bs.search.names import check_name
from tune_bs.search.ray_session import check_trial_fits, ensure_ray
from tune_bs.search.retention import prune_experiment
from tune_bs.search.run_files import (
    RUN_OPTIONS,
    SPACE_COPY,
    RunOptions,
    save_run_files,
)
from tune_bs.search.signing import sign_experiment, signing_key
from tune_bs.search.space import ParamSpec, SearchSpace, check_space_data
from tune_bs.search.storage import Location
from tune_bs.search.trainable import train_trial

logger = logging.getLogger(__name__)
__all__ = ["RUN_OPTIONS", "SPACE_COPY", "RunOptions", "RunOutcome"]
SMOKE_REPORTS = 2
SMOKE_TRIALS = 2
#: Ray Tune's pickled Tuner in an experiment folder (written when the Tuner is built).
TUNER_FILE = "tuner.pkl"


@dataclass(frozen=True)
class RunOutcome:
    """Where the results are (a local Path, or the storage URI), and the Tune result grid
    (``None`` when a second signal stopped ``Tuner.fit`` before it returned one).

    ``interrupted`` names the signal that stopped the run (``"SIGINT"``, ``"SIGTERM"``), or is
    ``None`` when every trial ran to its end; an interrupted run's checkpoints are all kept."""

    path: Path | str
    space: SearchSpace
    results: Any
    interrupted: str | None = None


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
    check_space_data(space, data)
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
    budget = space.budget_samples(data.n_train, data.length)
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

    snapshot_often(Location.open(storage))
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
#: on a local disk (a copy) and on remote storage (an upload of every result file). Each save
#: pickles the search state and copies every result file: at 0.1 s the driver did so without
#: pause (the packaged default run on an idle 2-core machine: the driver's CPU 13.6 s at 0.1 s,
#: 8.5 s at 1 s; `python benchmarks/first_run.py`, benchmarks/results/first_run.txt).
SNAPSHOT_PERIOD_S = {"local": 1.0, "remote": 2.0}
_SNAPSHOT_ENV = "TUNE_GLOBAL_CHECKPOINT_S"
_SNAPSHOT_SET_BY_USER = _SNAPSHOT_ENV in os.environ


def snapshot_often(storage: Location) -> None:
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


def _already(folder: Location) -> UserInputError:
    return UserInputError(
        f"{folder.uri} already holds an experiment; finish it with `tune-bs resume "
        f"{folder.uri}`, or give another --name."
    )


def run_experiment(
    space: SearchSpace,
    storage: str | Path = "tune_bs_results",
    name: str | None = None,
    options: RunOptions | None = None,
    address: str | None = None,
) -> RunOutcome:
    """Run the search of ``space`` and return where its results are.

    The experiment folder is held by an :class:`~tune_bs.search.lock.ExperimentLock` while the
    run goes on. Until ``Tuner.fit`` starts, any failure (a bad data set, an unreachable
    ``--address``, a trial no node can hold) leaves no files behind, nor a folder this call
    created. SIGINT/SIGTERM during the run end it as :func:`fit_or_interrupt` says.
    """
    options = options or RunOptions()
    space = effective_space(space, options)
    name = experiment_name(space, name, options)
    root = Location.open(storage)
    folder = root.child(name)
    key = signing_key()  # a key that cannot be made is an error before anything is written
    made = [loc for loc in (folder, root) if not loc.exists()]
    wrote, started = False, False
    outcome: RunOutcome | None = None
    try:
        folder.make_writable()
        with ExperimentLock(folder, "run"):  # a live run there is named first
            if folder.holds_experiment():
                raise _already(folder)
            with Steps("tune-bs run", 2) as step:  # on a terminal, until Ray's trial table
                step(f"loading {data_name(space)}")
                data = load_space_data(space)
                logger.info("data: %s", data.describe())
                step("starting Ray")
                ensure_ray(address)
                check_trial_fits(space.resources, address)
            wrote = True
            save_run_files(folder, {**space.raw, "name": space.name}, options)
            random.seed(space.seed)  # PBT draws its mutations from Python's global RNG
            tuner = build_tuner(space, data, root.uri, name, options, folder.display())
            started = True
            sign_experiment(folder, key, [TUNER_FILE])
            outcome = fit_or_interrupt(tuner, space, folder)
        return outcome
    except KeyboardInterrupt as exc:  # after Tune started: name the folder to resume
        if not started:
            raise
        raise ExperimentInterrupted.after_start(exc, folder.display(), outcome) from exc
    finally:
        if not started:
            _remove_unstarted(folder, made, wrote)


def _remove_unstarted(folder: Location, made: list[Location], wrote: bool) -> None:
    """Remove what a run that never started wrote, and the folders it created."""
    for name in (SPACE_COPY, RUN_OPTIONS) if wrote else ():
        folder.delete(name)
    for location in made:
        location.remove_if_empty()


def fit_or_interrupt(tuner: Any, space: SearchSpace, folder: Location) -> RunOutcome:
    """``tuner.fit()`` (:func:`~tune_bs.search.interrupt.interruptible_fit`), then prune the
    checkpoints (:mod:`tune_bs.search.retention`) unless the run was interrupted: an
    interrupted run keeps them all, and ``tune-bs resume`` finishes it."""
    results, interrupted = interruptible_fit(tuner)
    if interrupted is None:
        try:
            prune_checkpoints(space, folder)
        except KeyboardInterrupt as exc:  # every trial had ended: resume prunes again
            raise ExperimentInterrupted.of(exc, folder.display(), None, True) from exc
    return RunOutcome(folder.display(), space, results, interrupted)


def data_name(space: SearchSpace) -> str:
    """The data set as a progress bar names it."""
    return str(space.dataset.get("name") or space.dataset.get("path") or "the data")


def experiment_name(space: SearchSpace, name: str | None, options: RunOptions) -> str:
    """The results folder's name: ``--name``, else the space's name (``-smoke`` for smoke
    tests); one folder name (:func:`~tune_bs.search.names.check_name`)."""
    if name is not None:
        return check_name(name, "--name")
    return check_name(space.name + ("-smoke" if options.smoke_test else ""), "name")


def resume_experiment(
    path: str | Path, address: str | None = None, trust_storage: bool = False
) -> RunOutcome:
    """Finish an interrupted experiment in ``path`` (:func:`tune_bs.search.resume.resume`)."""
    from tune_bs.search.resume import resume

    return resume(path, address=address, trust_storage=trust_storage)
