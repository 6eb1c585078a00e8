"""Experiment tracking with the tools users already run: MLflow, TensorBoard, optuna-dashboard.

The search space's ``tracking:`` section (or ``tune-bs run --tracking``, or
``tune_bs.run(..., tracking=True)``)::

    tracking:
      mlflow: true                  # Ray Tune's own MLflowLoggerCallback
      tracking_uri: sqlite:///...   # default: a SQLite store in the experiment folder
                                    # (sqlite:///STORAGE/NAME/mlflow.db); a server URI works
      experiment_name: my-search    # default: the experiment's name

Rules:

- MLflow: one run per trial (named after the trial), its starting config as params, every
  report's numeric metrics (``val_loss``, ``val_probe_acc``, ``test_probe_acc``,
  ``batch_size``, ``samples_seen``, ...) at step ``training_iteration``. A trial restarted with a
  new config (a batch-size switch by restart, a PBT exploit) keeps its run and its first params:
  MLflow refuses to change a param, and the batch size in force is a metric anyway.
- The default store is local (``sqlite:`` under the experiment folder); the experiment folder
  must then be a local path (for ``s3://`` storage give ``tracking_uri``).
- TensorBoard needs nothing here: Ray Tune writes event files into every trial folder when
  ``tensorboardX`` is installed (a Ray dependency), every numeric metric under
  ``ray/tune/<metric>``, ``ray/tune/batch_size`` included: ``tensorboard --logdir STORAGE/NAME``.
- Optuna: a ``search: {name: optuna}`` experiment stores its study in ``optuna.db`` (SQLite)
  in the experiment folder (``optuna_storage_uri``), study name = the experiment's name, so
  ``optuna-dashboard sqlite:///STORAGE/NAME/optuna.db`` opens it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tune_bs.errors import UserInputError, did_you_mean, quote

TRACKING_KEYS = ("mlflow", "tracking_uri", "experiment_name")
MLFLOW_DB = "mlflow.db"
OPTUNA_DB = "optuna.db"


def check_tracking(section: Any) -> dict[str, Any]:
    """Validate a ``tracking:`` section; the checked mapping (one line per problem)."""
    if section is None:
        return {}
    if section is True:
        return {"mlflow": True}
    if not isinstance(section, dict):
        raise UserInputError(
            f"tracking must be a mapping, but got tracking={quote(section)}; write e.g. "
            "tracking: {mlflow: true}."
        )
    for key in section:
        if key not in TRACKING_KEYS:
            raise UserInputError(
                f"tracking.{key} is not a known key{did_you_mean(key, TRACKING_KEYS)}; "
                f"valid keys of tracking are {', '.join(TRACKING_KEYS)}."
            )
    if not isinstance(section.get("mlflow", False), bool):
        raise UserInputError(
            f"tracking.mlflow must be true or false, but got mlflow={quote(section['mlflow'])}; "
            "write true or false."
        )
    for key in ("tracking_uri", "experiment_name"):
        if key in section and (not isinstance(section[key], str) or not section[key]):
            raise UserInputError(
                f"tracking.{key} must be a non-empty string, but got {key}={quote(section[key])}; "
                "fix the value."
            )
    return dict(section)


def default_tracking_uri(experiment_dir: Path | str) -> str:
    """``sqlite:///<experiment folder>/mlflow.db`` (absolute path)."""
    return f"sqlite:///{Path(experiment_dir).expanduser().resolve() / MLFLOW_DB}"


def optuna_storage_uri(experiment_dir: Path | str) -> str:
    """``sqlite:///<experiment folder>/optuna.db`` (absolute path)."""
    return f"sqlite:///{Path(experiment_dir).expanduser().resolve() / OPTUNA_DB}"


def tracking_callbacks(
    section: dict[str, Any] | None, experiment_dir: Path | str, experiment_name: str
) -> list[Any]:
    """The Tune callbacks of a checked ``tracking:`` section (``[]`` when MLflow is off)."""
    if not section or not section.get("mlflow"):
        return []
    uri = section.get("tracking_uri")
    if uri is None:
        if not isinstance(experiment_dir, Path):
            raise UserInputError(
                f"tracking.tracking_uri is needed when the results are not in a local folder "
                f"({experiment_dir}); give e.g. tracking_uri: http://HOST:5000."
            )
        uri = default_tracking_uri(experiment_dir)
    return [_mlflow_logger(uri, str(section.get("experiment_name") or experiment_name))]


def _mlflow_logger(tracking_uri: str, experiment_name: str) -> Any:
    try:
        import mlflow  # noqa: F401  (Ray imports it lazily; fail here, in one line)
    except ImportError:
        raise UserInputError(
            "tracking.mlflow needs the mlflow package, which is not installed; "
            "`pip install mlflow` (a tune-bs dependency) or turn tracking off."
        ) from None
    from tune_bs.search.mlflow_logger import TrialMLflowLogger

    return TrialMLflowLogger(
        tracking_uri=tracking_uri,
        experiment_name=experiment_name,
        tags={"tune_bs.experiment": experiment_name},  # an MLflow tag name
    )
