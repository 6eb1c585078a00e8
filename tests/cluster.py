"""Shared fixtures for the tests that need an S3 server or a multi-node Ray cluster.

Both come from ``benchmarks/local_cluster.py`` (the script users run): every process there is
started in its own session on 127.0.0.1 with free ports and stopped by its process id in the
fixture's teardown, whether the test passed or not.

``cluster`` tests are marked ``cluster`` and run in their own CI step (``python -m pytest -m
cluster``); the default run leaves them out (``pyproject.toml``'s ``addopts``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "local_cluster.py"


def local_cluster_module() -> ModuleType:
    """``benchmarks/local_cluster.py``, imported once."""
    name = "tune_bs_local_cluster"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SCRIPT)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses resolve their module by name
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def object_store() -> Iterator[Any]:
    """An S3 server on 127.0.0.1 with the bucket ``tune-bs`` (no Ray)."""
    folder = Path(tempfile.mkdtemp(prefix="tbs-s3-"))
    store = local_cluster_module().ObjectStore(folder).start()
    try:
        yield store
    finally:
        store.stop()
        subprocess.run(["rm", "-rf", str(folder)], check=False)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A head (no CPUs) and two worker nodes of one CPU each, plus an S3 server."""
    with local_cluster_module().LocalCluster(workers=2, cpus_per_worker=1) as started:
        yield started


def wait_for(condition: Callable[[], Any], timeout_s: float, what: str, poll_s: float = 0.2) -> Any:
    """Poll ``condition`` until it returns something true, or fail the test after
    ``timeout_s`` naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll_s)
    pytest.fail(f"{what}: not within {timeout_s:.0f} s")


def s3_result_rows(store: Any, experiment_uri: str) -> dict[str, list[dict[str, Any]]]:
    """Every trial's ``result.json`` rows in the object store, by trial folder name (one row per
    training iteration: the latest line of a repeated one, as the report reads them)."""
    import pyarrow.fs as pafs

    fs, path = pafs.FileSystem.from_uri(experiment_uri)
    selector = pafs.FileSelector(path, recursive=True, allow_not_found=True)
    out: dict[str, list[dict[str, Any]]] = {}
    for info in fs.get_file_info(selector):
        if not info.path.endswith("/result.json"):
            continue
        with fs.open_input_stream(info.path) as stream:
            text = stream.read().decode()
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        by_iteration = {row["training_iteration"]: row for row in rows}
        out[info.path.rsplit("/", 2)[-2]] = [by_iteration[i] for i in sorted(by_iteration)]
    return out


def client_env(store: Any, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a process that reads or writes the object store."""
    return {**(os.environ if base is None else base), **store.env()}
