"""tune-bs: Ray Tune search over batch sizes, batch strategies and batch-size schedules for
contrastive representation learning of time series.

The batch-size scheduler as a plug-in for any Ray Tune function trainable (README, "Use the
scheduler in your own Tune code"): ``ExtrapolationScheduler``, ``SwitchSettings``,
``ReportKeys``, ``BatchSizeUpdates`` and ``logger_callbacks``, imported on first use (so
``import tune_bs`` does not import Ray).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name → the module that defines it (imported lazily, PEP 562).
_LAZY: dict[str, str] = {
    "ExtrapolationScheduler": "tune_bs.extrapolation",
    "SwitchSettings": "tune_bs.switching",
    "ReportKeys": "tune_bs.report_keys",
    "BatchSizeUpdates": "tune_bs.plugin",
    "logger_callbacks": "tune_bs.schedulers",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tune_bs' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
