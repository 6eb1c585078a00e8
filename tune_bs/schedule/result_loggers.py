"""Tune's result loggers, fixed for trials that pause and restart within a driver session.

Ray 2.60's own loggers drop the rows a paused trial wrote since the last upload to storage (see
:class:`_KeepSessionRows`); run a scheduler that pauses trials (the extrapolation scheduler's
switches by restart, PBT) with :func:`tune_bs.schedule.schedulers.logger_callbacks`, which
returns these.
"""

from __future__ import annotations

from pathlib import Path

from ray.tune.experiment import Trial
from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback


class _KeepSessionRows:
    """Copy a trial's stored result file back only when this driver session has none.

    NOTE [paused trials]: in Ray 2.60 the driver writes ``result.json`` / ``progress.csv`` into a
    per-session staging folder, uploaded to the storage path about every 10 s, and whenever a
    trial (re)starts the loggers copy the stored file over the local one
    (``LoggerCallback._restore_from_remote``). A trial paused and restarted within a session so
    loses the rows written since the last upload: typically the report at which a scheduler
    paused it. The local copy, when there is one, is always the newer.
    """

    def _restore_from_remote(self, file_name: str, trial: Trial) -> None:
        if (Path(trial.local_path) / file_name).exists():
            return
        super()._restore_from_remote(file_name, trial)  # type: ignore[misc]


class PauseSafeJsonLogger(_KeepSessionRows, JsonLoggerCallback):
    """Tune's ``result.json`` logger that keeps every row of a paused and restarted trial."""


class PauseSafeCSVLogger(_KeepSessionRows, CSVLoggerCallback):
    """Tune's ``progress.csv`` logger that keeps every row of a paused and restarted trial."""
