"""benchmarks/first_run.py: the breakdown of a run's time from its trials' rows and the CPU
seconds sampled from /proc (hand-made rows; the run itself is the benchmark's job)."""

from __future__ import annotations

import os

import pytest
from conftest import load_benchmark

bench = load_benchmark("first_run")


def rows(pid: int, begin: float, reports: int, every: float, eval_s: float) -> list[dict]:
    """A trial's rows: it starts at ``begin``, reports every ``every`` s, of which ``eval_s``
    evaluating, 0.5 s from its start to its first step."""
    out = []
    for i in range(1, reports + 1):
        out.append(
            {
                "wall_time_s": begin + 0.5 + i * every,
                "time_this_iter_s": every + (0.5 if i == 1 else 0.0),
                "trial_time_s": i * every,
                "eval_time_s": eval_s,
                "pid": pid,
            }
        )
    return out


def test_the_breakdown_splits_the_wall_time_and_sums_the_trials() -> None:
    cpu = bench.ProcessCPU(
        seconds={1: 10.0, 2: 30.0, 3: 25.0, 4: 5.0},
        kind={1: "driver", 2: "trial workers", 3: "trial workers", 4: "ray services"},
    )
    trials = {
        "a": rows(2, begin=108.0, reports=4, every=2.0, eval_s=0.25),
        "b": rows(3, begin=109.0, reports=2, every=2.0, eval_s=0.25),
        "c": rows(2, begin=117.0, reports=2, every=2.0, eval_s=0.25),  # reuses a's process
    }
    r = bench.summarise(trials, cpu, started=100.0, ended=125.0)
    assert r["wall_s"] == 25.0
    assert r["startup_s"] == 8.0  # to the first trial's start
    assert r["trials_s"] == pytest.approx(121.5 - 108.0)  # to the last report
    assert r["wrapup_s"] == pytest.approx(125.0 - 121.5)
    assert r["cpu_s"] == 70.0 and r["cpu_by_kind"]["trial workers"] == 55.0
    assert (r["trials"], r["reports"], r["worker_processes"]) == (3, 8, 2)
    assert r["eval_s"] == pytest.approx(8 * 0.25)
    assert r["train_s"] == pytest.approx(8.0 + 4.0 + 4.0 - 2.0)
    assert r["before_first_step_s"] == pytest.approx(0.5)
    line = bench.format_result("x", r)
    assert line.startswith("x: wall 25.0 s = start-up 8.0 + trials 13.5 + wrap-up 3.5; CPU 70.0")


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc (Linux)")
def test_the_cpu_of_this_process_is_read_from_proc() -> None:
    parent, seconds = bench._stat(os.getpid())
    assert parent == os.getppid() and seconds > 0
    assert bench._kind(os.getpid(), os.getpid()) == "driver"
