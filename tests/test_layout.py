"""The layout's promise (docs/development.md "Layout", docs/design.md §5): the math imports no
Ray."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import tune_bs.data
import tune_bs.train

PURE = [
    *(f"tune_bs.data.{m.name}" for m in pkgutil.walk_packages(tune_bs.data.__path__)),
    *(f"tune_bs.train.{m.name}" for m in pkgutil.walk_packages(tune_bs.train.__path__)),
    "tune_bs.schedule.curves",
    "tune_bs.schedule.switching",
    "tune_bs.schedule.simulator",
    "tune_bs.metrics",
    "tune_bs.errors",
]


def test_the_math_imports_no_ray():
    code = (
        "import importlib, sys\n"
        f"for name in {PURE!r}:\n"
        "    importlib.import_module(name)\n"
        "leaked = sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.'))\n"
        "print(len(leaked), leaked[:5])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("0 "), out.stdout
    assert len(PURE) > 15  # the walk found the modules


#: The scheduler as a plug-in for anyone's Ray Tune code (README, "Use the scheduler in your own
#: Tune code"): it must not drag in torch or the project's own trainable.
PLUGIN = [
    "tune_bs.schedule.extrapolation",
    "tune_bs.schedule.plugin",
    "tune_bs.schedule.report_keys",
    "tune_bs.schedule.schedulers",
]


def test_the_plugin_scheduler_imports_no_torch_and_nothing_of_search():
    code = (
        "import importlib, sys\n"
        f"for name in {PLUGIN!r}:\n"
        "    importlib.import_module(name)\n"
        "import tune_bs\n"
        "tune_bs.ExtrapolationScheduler, tune_bs.BatchSizeUpdates, tune_bs.logger_callbacks\n"
        "leaked = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')\n"
        "                or m.startswith('tune_bs.search') or m.startswith('tune_bs.train'))\n"
        "print(len(leaked), leaked[:5])\n"
        "print('ray.tune' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[0].startswith("0 "), out.stdout
    assert lines[1] == "True"  # the modules were imported (the scheduler is a Tune scheduler)
