"""Run, resume and load experiments from Python: the functions behind ``tune-bs run``,
``resume`` and ``report``.

An :class:`ExperimentResult` is one experiment's results folder read back: the tidy per-report
frame (:func:`tune_bs.report.load_trials`), the per-trial frame
(:func:`tune_bs.report.trial_table`) and the trial and checkpoint selected on the experiment's
own validation metric (:func:`tune_bs.report.selection.select`, metric and mode read from its
saved ``tune_bs_space.yaml``). The frames are read when first asked for, so a result of a run
on remote storage (an ``s3://`` URI) still carries its path.

Example::

    import tune_bs

    result = tune_bs.run("search_spaces/default.yaml", smoke_test=True)
    result.trials[["trial_id", "batch_size_initial", "val_probe_acc", "test_probe_acc"]]
    result.selection.config, result.checkpoint
    encoder = tune_bs.load_encoder(result)
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from tune_bs.documents import load_yaml
from tune_bs.errors import UserInputError, quote

if TYPE_CHECKING:
    from tune_bs.search.experiment import RunOptions

logger = logging.getLogger(__name__)


@dataclass
class ExperimentResult:
    """One experiment's results (module docstring). ``errors`` and ``trial_count`` count the
    trials that failed and ran in the run that made it (``None`` when loaded from disk);
    ``input_errors`` maps each trial of that run that failed on its input (and was not retried:
    :mod:`tune_bs.search.trainable`) to its one-line cause; ``interrupted`` names the signal that
    stopped that run."""

    path: Path | str
    metric: str
    mode: str
    space: dict[str, Any] = field(default_factory=dict, repr=False)
    errors: int | None = None
    trial_count: int | None = None
    input_errors: dict[str, str] = field(default_factory=dict)
    #: the signal that interrupted the run (``"SIGINT"``, ``"SIGTERM"``), else ``None``; an
    #: interrupted run wrote no ``best_config.yaml`` and pruned nothing: finish it with
    #: :func:`resume`
    interrupted: str | None = None

    @property
    def local(self) -> bool:
        """Whether the results are in a local folder (tables and encoders need one)."""
        return isinstance(self.path, Path)

    def _folder(self) -> Path:
        if not self.local:
            raise UserInputError(
                f"the results are at {self.path}, not in a local folder; copy them here (e.g. "
                "`aws s3 sync`) and use tune_bs.load(FOLDER)."
            )
        return Path(self.path)

    @functools.cached_property
    def reports(self) -> pd.DataFrame:
        """One row per (trial, report), with the config columns and every reported metric."""
        from tune_bs.report import load_trials

        return load_trials([self._folder()])

    @functools.cached_property
    def trials(self) -> pd.DataFrame:
        """One row per trial, best first by the experiment's metric."""
        from tune_bs.report import trial_table

        return trial_table(self.reports, self.metric, self.mode)

    @functools.cached_property
    def selection(self) -> Any:
        """The trial and checkpoint selected on validation
        (:class:`~tune_bs.report.selection.Selection`), or ``None`` when no trial has a finite
        value of the metric."""
        from tune_bs.report.selection import select

        chosen = select(self.reports, self.metric, self.mode)
        return next(iter(chosen.values()), None)

    @property
    def config(self) -> dict[str, Any]:
        """The selected trial's configuration as it started (``{}`` without a selection)."""
        return dict(self.selection.config) if self.selection is not None else {}

    @property
    def checkpoint(self) -> Path | None:
        """The selected checkpoint folder (``None`` when it is not on disk)."""
        selection = self.selection
        return Path(selection.checkpoint) if selection and selection.checkpoint else None

    @property
    def best_config_path(self) -> Path | None:
        """``best_config.yaml`` in the results folder, when written."""
        from tune_bs.report.best_config import BEST_CONFIG

        path = self._folder() / BEST_CONFIG
        return path if path.is_file() else None

    def summary(self) -> str:
        """The per-trial table and the selection, as ``tune-bs run`` prints them (an
        interrupted run's: the table only)."""
        from tune_bs.report import summary_text

        return summary_text(
            self._folder(), metric=self.metric, mode=self.mode, selection=not self.interrupted
        )


def _space_of(space_or_path: Any) -> Any:
    from tune_bs.search.space import SearchSpace, load_space, parse_space

    if isinstance(space_or_path, SearchSpace):
        return space_or_path
    if isinstance(space_or_path, Mapping):
        return parse_space(dict(space_or_path))
    if space_or_path is None:
        from tune_bs.cli import default_space_path

        return load_space(default_space_path())
    return load_space(space_or_path)


def run(
    space_or_path: Any = None,
    *,
    storage: str | Path = "tune_bs_results",
    name: str | None = None,
    num_samples: int | None = None,
    smoke_test: bool = False,
    cpus_per_trial: float | None = None,
    gpus_per_trial: float | None = None,
    address: str | None = None,
    tracking: Mapping[str, Any] | bool | None = None,
) -> ExperimentResult | list[ExperimentResult]:
    """Run the search of a search space and write its ``best_config.yaml``.

    Args:
        space_or_path: a search-space YAML path, its mapping, a
            :class:`~tune_bs.search.space.SearchSpace`, or ``None`` for the packaged default.
        storage, name, num_samples, smoke_test, cpus_per_trial, gpus_per_trial, address: as the
            ``tune-bs run`` flags of the same names.
        tracking: ``True`` (or a ``tracking:`` mapping) turns on MLflow tracking
            (:mod:`tune_bs.search.tracking`); it overrides the space's own ``tracking:`` section.

    Returns:
        The :class:`ExperimentResult`; a ``schedulers:`` comparison file gives one per compared
        scheduler, as a list, in the file's order (up to the one a signal interrupted: the
        later ones are not started). SIGINT or SIGTERM during a run stops it, keeps all its
        checkpoints and writes no ``best_config.yaml``; the result's ``interrupted`` names the
        signal, and :func:`resume` finishes it.
    """
    from dataclasses import replace

    from tune_bs.search.experiment import RunOptions, comparison_smoke_budget, run_experiment

    _check_resources(num_samples, cpus_per_trial, gpus_per_trial)
    space = _space_of(space_or_path)
    options = RunOptions(
        num_samples=num_samples,
        smoke_test=smoke_test,
        cpus_per_trial=cpus_per_trial,
        gpus_per_trial=gpus_per_trial,
        tracking=_tracking_option(tracking),
    )
    variants = space.variants()
    if len(variants) == 1:
        outcome = run_experiment(
            space, storage=storage, name=name, options=options, address=address
        )
        return _finished(outcome)
    if options.smoke_test:
        options = replace(options, smoke_budget=comparison_smoke_budget(variants))
    return _run_comparison(variants, storage, name, options, address)


def _check_resources(
    num_samples: int | None, cpus_per_trial: float | None, gpus_per_trial: float | None
) -> None:
    """One-line errors for a non-positive trial count or CPU share, or a negative GPU share."""
    for flag, value, integer in (
        ("num_samples", num_samples, True),
        ("cpus_per_trial", cpus_per_trial, False),
    ):
        if value is not None and not (value > 0 and math.isfinite(value)):
            kind = "a positive integer" if integer else "a positive number"
            raise UserInputError(
                f"{flag} must be {kind}, but got {flag}={quote(value)}; fix the value."
            )
    if gpus_per_trial is not None and not (gpus_per_trial >= 0 and math.isfinite(gpus_per_trial)):
        raise UserInputError(
            f"gpus_per_trial must be at least 0, but got gpus_per_trial="
            f"{quote(gpus_per_trial)}; fix the value."
        )


def _run_comparison(
    variants: Sequence[Any],
    storage: str | Path,
    name: str | None,
    options: RunOptions,
    address: str | None,
) -> list[ExperimentResult]:
    """Run each compared scheduler's experiment in turn (``NAME-<scheduler>`` when ``name`` is
    given); their results in the file's order."""
    from tune_bs.search.experiment import run_experiment

    results = []
    for i, variant in enumerate(variants, 1):
        logger.info(
            "\ntune-bs: experiment %d/%d: %r (scheduler %s)",
            i,
            len(variants),
            variant.name,
            variant.scheduler["name"],
        )
        variant_name = f"{name}-{variant.scheduler['name']}" if name else None
        outcome = run_experiment(
            variant, storage=storage, name=variant_name, options=options, address=address
        )
        results.append(_finished(outcome))
        if outcome.interrupted:
            left = [v.scheduler["name"] for v in variants[i:]]
            if left:
                logger.warning(
                    "tune-bs: the experiments of %s were not started (the run was interrupted).",
                    ", ".join(left),
                )
            break
    return results


def _tracking_option(tracking: Mapping[str, Any] | bool | None) -> dict[str, Any] | None:
    if tracking is None or tracking is False:
        return None
    if tracking is True:
        return {"mlflow": True}
    if isinstance(tracking, Mapping):
        from tune_bs.search.tracking import check_tracking

        return check_tracking(dict(tracking))
    raise UserInputError(
        f"tracking must be true or a mapping such as {{mlflow: true}}, but got "
        f"tracking={quote(tracking)}; fix the value."
    )


def _finished(outcome: Any) -> ExperimentResult:
    """An :class:`ExperimentResult` of a run's outcome, with ``best_config.yaml`` written. A
    signal meanwhile raises :class:`~tune_bs.search.interrupt.ExperimentInterrupted` (its folder,
    its first signal, whether every trial had ended)."""
    from tune_bs.search.interrupt import ExperimentInterrupted

    try:
        return _result_of(outcome)
    except KeyboardInterrupt as exc:
        first = outcome.interrupted
        raise ExperimentInterrupted.of(exc, outcome.path, first, first is None) from exc


def _result_of(outcome: Any) -> ExperimentResult:
    from tune_bs.report.best_config import save_best_config

    space = outcome.space
    failed = _input_errors(outcome.results)
    errors = len(getattr(outcome.results, "errors", []) or []) + len(failed)
    count = len(outcome.results) if outcome.results is not None else None
    result = ExperimentResult(
        outcome.path,
        space.metric,
        space.mode,
        {**space.raw, "name": space.name},
        errors,
        count,
        failed,
        outcome.interrupted,
    )
    if result.local and not outcome.interrupted:
        save_best_config(outcome.path, result.space, space.metric, space.mode)
    return result


def _input_errors(results: Any) -> dict[str, str]:
    """Trial id → cause, for the trials of a Tune result grid that failed on their input."""
    from tune_bs.metrics import TRIAL_ERROR

    found: dict[str, str] = {}
    for trial in results or []:
        metrics = getattr(trial, "metrics", None) or {}
        cause = metrics.get(TRIAL_ERROR)
        if isinstance(cause, str) and cause:
            found[str(metrics.get("trial_id", len(found)))] = cause
    return found


def resume(
    path: str | Path, *, address: str | None = None, trust_storage: bool = False
) -> ExperimentResult:
    """Finish an interrupted experiment (nothing finished is redone); its result.

    The files Ray would unpickle are checked first: a folder whose ``tuner.pkl`` or
    experiment state this user's tune-bs did not sign is refused
    (:mod:`tune_bs.search.signing`), unless ``trust_storage`` is true (``--trust-storage``).
    """
    from tune_bs.search.experiment import resume_experiment

    return _finished(resume_experiment(path, address=address, trust_storage=trust_storage))


def load(path: str | Path) -> ExperimentResult:
    """Read an experiment's results folder (``STORAGE/NAME``) back, with its own metric and mode.

    Raises:
        UserInputError: the folder holds no tune-bs experiment.
    """
    from tune_bs.report.frame import find_experiments
    from tune_bs.report.writer import experiment_metric

    folder = Path(path).expanduser()
    found = find_experiments(folder)
    if not found:
        raise UserInputError(
            f"{folder} holds no tune-bs experiment (no experiment_state-*.json or trial "
            "folders); give the folder `tune-bs run` printed, e.g. tune_bs_results/default."
        )
    if found != [folder]:
        names = ", ".join(p.name for p in found)
        raise UserInputError(
            f"{folder} holds several experiments ({names}); load one of them, e.g. "
            f"tune_bs.load({str(found[0])!r})."
        )
    metric, mode = experiment_metric(folder, None, None)
    return ExperimentResult(folder, metric, mode, saved_space(folder))


def saved_space(folder: Path) -> dict[str, Any]:
    """The experiment's saved search space (``tune_bs_space.yaml``), ``{}`` when absent."""

    from tune_bs.search.experiment import SPACE_COPY

    try:
        path = Path(folder) / SPACE_COPY
        raw = load_yaml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, UserInputError):
        return {}
    return dict(raw) if isinstance(raw, Mapping) else {}


def write_report(
    path: str | Path | ExperimentResult | Sequence[str | Path],
    formats: str | Sequence[str] = ("markdown",),
    *,
    out: str | Path | None = None,
    metric: str | None = None,
    mode: str | None = None,
) -> dict[str, Any]:
    """Write the report of one or more experiments in each of ``formats``.

    ``formats``: ``markdown``, ``csv``, ``latex`` and/or ``html`` (``html`` is one
    self-contained ``report.html``, :mod:`tune_bs.report.html`). ``metric``/``mode`` default to
    the experiment's own. Returns ``{format: ReportPaths}``.
    """
    from tune_bs.report import write_report as write_tables

    # a storage URI stays a string: Path("s3://b/x") would become "s3:/b/x"
    if isinstance(path, ExperimentResult):
        dirs: list[str | Path] = [path._folder()]
    elif isinstance(path, (str, Path)):
        dirs = [path]
    else:
        dirs = list(path)
    chosen = [formats] if isinstance(formats, str) else list(formats)
    if not chosen:
        raise UserInputError(
            "formats must name at least one of markdown, csv, latex, html; e.g. formats='html'."
        )
    return {
        fmt: write_tables(dirs, fmt=fmt, out_dir=out, metric=metric, mode=mode) for fmt in chosen
    }
