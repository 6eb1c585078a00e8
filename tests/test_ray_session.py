"""Which node a trial fits on (:mod:`tune_bs.search.ray_session`; pure, no Ray)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tune_bs.search.ray_session import describe, unmet

GIB = 1024**3
LAPTOP = {"CPU": 2.0, "memory": 8.0 * GIB, "node:127.0.0.1": 1.0}
GPU_BOX = {"CPU": 8.0, "GPU": 1.0, "memory": 32.0 * GIB}


@pytest.mark.parametrize(
    "request_",
    [{"cpu": 1, "gpu": 0}, {"cpu": 2, "gpu": 0}, {"cpu": 4, "gpu": 0.5}, {"cpu": 8, "gpu": 1}],
)
def test_a_trial_that_fits_some_node_passes(request_):
    assert unmet(request_, [LAPTOP, GPU_BOX]) is None


def test_a_trial_must_fit_one_node_not_the_sum():
    # 2 + 8 CPUs in all, but no node has 9
    largest = unmet({"cpu": 9, "gpu": 0}, [LAPTOP, GPU_BOX])
    assert largest == {"cpu": 8.0, "gpu": 1.0, "memory": 32.0 * GIB}
    # the GPU node has the GPU, the big-memory node the memory: neither has both
    big_memory = {"CPU": 2.0, "memory": 64.0 * GIB}
    assert unmet({"cpu": 1, "gpu": 1, "memory": 40 * GIB}, [GPU_BOX, big_memory]) is not None


def test_the_largest_node_is_the_largest_in_what_falls_short():
    gpus = {"CPU": 2.0, "GPU": 4.0}
    cpus = {"CPU": 16.0, "GPU": 1.0}
    assert unmet({"cpu": 1, "gpu": 8}, [cpus, gpus])["gpu"] == 4.0
    assert unmet({"cpu": 32, "gpu": 0}, [gpus, cpus])["cpu"] == 16.0
    assert unmet({"cpu": 1}, []) == {"cpu": 0.0, "gpu": 0.0, "memory": 0.0}


def test_amounts_are_written_with_their_units():
    assert describe({"cpu": 64.0, "gpu": 0.0}) == "64 CPUs, 0 GPUs"
    assert describe({"cpu": 1.0, "gpu": 0.5, "memory": 2.5 * GIB}) == (
        "1 CPU, 0.5 GPUs, 2.5 GiB memory"
    )


@pytest.mark.slow
@pytest.mark.ray
def test_the_clis_sigterm_handler_outlives_ray_init() -> None:
    """``ray.init`` installs a SIGTERM handler that exits with status 15; the CLI's own (143,
    every checkpoint kept) is put back, also for a signal after the trials ended. A process with
    no Python handler keeps Ray's."""
    code = (
        "import signal\n"
        "import ray\n"
        "from tune_bs.search.ray_session import ensure_ray\n"
        "def mine(signum, frame):\n"
        "    pass\n"
        "signal.signal(signal.SIGTERM, mine)\n"
        "ensure_ray(None)\n"
        "print('kept:', signal.getsignal(signal.SIGTERM) is mine)\n"
        "ray.shutdown()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "kept: True" in done.stdout
