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
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

__all__ = [
    "EncoderSpec",
    "ExperimentResult",
    "__version__",
    "embed",
    "export_trial",
    "load",
    "load_encoder",
    "resume",
    "run",
    "run_downstream",
    "write_report",
]

_LAZY = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module("tune_bs.api"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tune_bs' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names only (submodules and imports stay reachable, but are not the API)."""
    return sorted(__all__)
