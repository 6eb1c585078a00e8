"""Ray Tune's own ``MLflowLoggerCallback``, with one fix for trials that restart.

Tune calls ``log_trial_start`` again when a paused trial restarts (a batch-size switch by
restart, a PBT exploit) — with its new config. Ray's callback then logs the params again, and
MLflow refuses to change a param's value (``INVALID_PARAMETER_VALUE``), failing the run. Here a
restarted trial keeps its run and its first params; the batch size in force is logged as a
metric at every report anyway. A module of its own: Tune pickles its callbacks with the
experiment (``tune-bs resume`` unpickles them), so the class must be importable by name.
"""

from __future__ import annotations

from typing import Any

from ray.air.integrations.mlflow import MLflowLoggerCallback


class TrialMLflowLogger(MLflowLoggerCallback):
    """One MLflow run per trial; params logged at its first start only (module docstring)."""

    def log_trial_start(self, trial: Any) -> None:
        if trial in self._trial_runs:
            return
        super().log_trial_start(trial)
