"""The reproducibility benchmark's comparison of schedules (pure; the runs themselves are
``tune-bs run``, covered elsewhere)."""

from __future__ import annotations

from types import ModuleType

import pandas as pd
import pytest
from conftest import load_benchmark


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("reproducibility")


def test_schedules_agree_only_with_the_same_sizes_switched_within_the_tolerance(bench) -> None:
    assert bench.schedule_steps("0:8;600:16") == [(0, "8"), (600, "16")]
    assert bench.same_schedule("0:8;600:16", "0:8;600:16", 120, 0)
    assert not bench.same_schedule("0:8;600:16", "0:8;720:16", 120, 0)  # a report later
    assert bench.same_schedule("0:8;600:16", "0:8;720:16", 120, 1)
    assert not bench.same_schedule("0:8;600:16", "0:8;600:32", 120, 5)  # another size
    assert not bench.same_schedule("0:8;600:16", "0:8", 120, 5)  # a visit not made


def _run(*schedules: str) -> pd.DataFrame:
    return pd.DataFrame(
        {"key": [f"lr={i}" for i in range(len(schedules))], "batch_size_schedule": schedules}
    )


def test_the_modal_run_counts_the_runs_that_agree_with_it(bench) -> None:
    common = _run("0:8;600:16", "0:16;600:32")
    odd = _run("0:8;600:16", "0:16")
    agree, modal = bench.agreeing([odd, common, common, common], 120, 0)
    assert (agree, modal) == (3, 1)
    assert bench.agreeing([common, odd], 120, 0)[0] == 1
