"""Shared fixtures: a local Ray that never attaches to a running head.

Helpers for tests that kill a driver mid-run: :func:`kill_when` and :func:`run_to_end`; for
tests of a benchmark script: :func:`load_benchmark`.

Every test that needs Ray starts its own on this machine (``address="local"``: a new cluster
even when ``RAY_ADDRESS`` or a running head exists), with 2 CPUs, no dashboard and Ray's
logging left alone, and shuts it down afterwards — the only Ray processes a test stops are
the ones it started.

How the suite runs (``pyproject.toml``'s ``addopts``): the quick run on pytest-xdist workers,
one per core, a test module's tests on one worker (``-n auto --dist loadfile``: a module's
fixtures, its local Ray among them, start once); ``-m slow`` and ``-m cluster`` on one worker
(:func:`pytest_xdist_auto_num_workers`). Each worker computes with one torch thread, as a trial
with one CPU does (small models: two threads' synchronisation costs more than it gains, and on a
loaded machine much more).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

# Tests sign experiments with a key of their own, never the user's (tune_bs.search.signing):
# a fresh config folder per test session, inherited by the CLI processes tests start.
os.environ.pop("TUNE_BS_SIGNING_KEY", None)
os.environ["TUNE_BS_CONFIG_DIR"] = tempfile.mkdtemp(prefix="tune_bs_test_config_")


def pytest_configure(config: pytest.Config) -> None:
    if getattr(config.option, "numprocesses", None):  # the xdist controller runs no test
        return
    import torch

    torch.set_num_threads(1)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: a worker per core for the quick run, one for a run that selects the slower
    end-to-end or the multi-node tests (``-m slow``, ``-m cluster``): those start Rays, heads
    and S3 servers of their own, one at a time (the multi-node ones bind fixed ports)."""
    expression = config.option.markexpr or ""
    quick = "not slow" in expression and "not cluster" in expression
    return None if quick else 1


@contextmanager
def local_ray_session(**resources: Any) -> Iterator[Any]:
    """A local Ray of 2 CPUs (``resources`` adds or overrides, e.g. ``num_gpus=2`` for declared
    fake GPUs), shut down on exit; yields the ``ray`` module."""
    import ray

    options = {"num_cpus": 2, **resources}
    ray.init(address="local", include_dashboard=False, configure_logging=False, **options)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """One local Ray per test module (:func:`local_ray_session`); yields ``ray``."""
    with local_ray_session() as ray:
        yield ray


def kill_when(
    command: Sequence[str],
    env: dict[str, str],
    ready: Callable[[], bool],
    what: str,
    timeout_s: float = 600.0,
    poll_s: float = 0.1,
) -> None:
    """Start ``command`` in its own session and, once ``ready()`` holds, SIGKILL its process
    group (the driver and the Ray it started); the test fails when the command ends or
    ``timeout_s`` passes first (``what``: the awaited event, for that message)."""
    proc = subprocess.Popen(
        list(command),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
    )
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if ready():
                return
            time.sleep(poll_s)
        pytest.fail(f"{what} did not happen before the run ended or within {timeout_s:.0f} s")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_to_end(
    command: Sequence[str], env: dict[str, str], timeout_s: float = 300.0
) -> subprocess.CompletedProcess[str]:
    """``command`` run to its end in its own session, its output captured as text."""
    return subprocess.run(
        list(command),
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout_s,
        start_new_session=True,
    )


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_benchmark(script: str, name: str | None = None) -> ModuleType:
    """The module of ``benchmarks/<script>.py``, registered in ``sys.modules`` as ``name``
    (default ``script``; dataclasses resolve their module by name); ``benchmarks/`` goes on
    ``sys.path`` so a script can import its sibling modules."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    name = name or script
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{script}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
