"""tune-bs: Ray Tune search over batch sizes, batch strategies and batch-size schedules for
contrastive representation learning of time series.

The Python API (:mod:`tune_bs.api`), imported lazily so that ``import tune_bs`` stays light
(no torch, Ray or pandas until a function is used)::

    import tune_bs

    result = tune_bs.run("search_spaces/default.yaml")  # or tune_bs.load(RESULTS_DIR)
    result.trials, result.selection, result.config, result.checkpoint
    encoder = tune_bs.load_encoder(result)
    Z = tune_bs.embed(encoder, X)                          # [N, C, T] -> [N, D]
    tune_bs.export_trial(result, "encoder_out")
    tune_bs.write_report(result, formats=["markdown", "html"])
    tune_bs.run_downstream(result, alphas=[0.0, 0.5, 1.0], freeze=True)

The batch-size scheduler as a plug-in for any Ray Tune function trainable
(``docs/guide/own-tune-code.md``), imported lazily too::

    from tune_bs import (BatchSizeUpdates, ExtrapolationScheduler, ReportKeys, SwitchSettings,
                         logger_callbacks)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = (
    "EncoderSpec",
    "ExperimentResult",
    "embed",
    "export_trial",
    "load",
    "load_encoder",
    "resume",
    "run",
    "run_downstream",
    "write_report",
)
#: Public name → the module that defines it (imported on first use, PEP 562).
_LAZY: dict[str, str] = {
    **dict.fromkeys(_API, "tune_bs.api"),
    # the scheduler as a plug-in for anyone's Ray Tune code
    "BatchSizeUpdates": "tune_bs.schedule.plugin",
    "ExtrapolationScheduler": "tune_bs.schedule.extrapolation",
    "ReportKeys": "tune_bs.schedule.report_keys",
    "SwitchSettings": "tune_bs.schedule.switching",
    "logger_callbacks": "tune_bs.schedule.schedulers",
}

__all__ = sorted(["__version__", *_LAZY])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tune_bs' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names only (submodules and imports stay reachable, but are not the API)."""
    return sorted(__all__)
