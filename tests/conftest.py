"""Shared fixtures: a local Ray that never attaches to a running head.

Every test that needs Ray starts its own on this machine (``address="local"``: a new cluster
even when ``RAY_ADDRESS`` or a running head exists), with 2 CPUs, no dashboard and Ray's
logging left alone, and shuts it down afterwards — the only Ray processes a test stops are
the ones it started.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


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
