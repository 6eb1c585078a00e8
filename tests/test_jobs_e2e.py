"""End-to-end: a real Ray head on 127.0.0.1, a ``tune-bs submit --smoke-test --wait`` through the
command line, its results in the given ``--storage``; then ``status`` and ``logs`` of the job.

The head runs as a child process in its own session (``ray start --head ... --block``) with free
ports and its own temp folder; it is stopped by the process id this module started (SIGTERM, then
SIGKILL to its process group if anything is left). A head enables token authentication when
``~/.ray/auth_token`` exists; the head and every client here get the same explicit
``RAY_AUTH_MODE`` so the test does not depend on that file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from cluster import local_cluster_module
from trial_files import result_rows, trial_dirs

pytestmark = [pytest.mark.ray, pytest.mark.slow]

SPACE = {
    "name": "jobs-e2e",
    "dataset": {"name": "ItalyPowerDemand"},
    "metric": "val_probe_acc",
    "num_samples": 2,
    "budget": {"samples": 96, "reports": 2},
    "scheduler": {"name": "fifo"},
    "param_space": {
        "batch_size": 8,
        "hidden": 8,
        "encoder": "fcn",
        "lr": {"type": "categorical", "choices": [0.001, 0.003]},
    },
}
#: Deadlines that only bound a hang (a loaded machine may take minutes): the head's start, a
#: smoke job's run, a status or logs command.
START_TIMEOUT_S = 300
JOB_TIMEOUT_S = 900
COMMAND_TIMEOUT_S = 180


# one copy of these helpers: the local cluster script's (benchmarks/local_cluster.py)
free_ports = local_cluster_module().free_ports
auth_mode = local_cluster_module().auth_mode


def client_env(mode: str) -> dict[str, str]:
    """This environment for the head and the clients, with the test's interpreter first on the
    PATH (as an activated virtualenv has it): the head runs jobs with the ``python`` it finds
    there, and ``submit`` checks that one."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS")
    }
    env["RAY_AUTH_MODE"] = mode
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def wait_for_head(urls: list[str], head: subprocess.Popen, log: Path) -> None:
    """Wait until every URL answers: the dashboard, and the job agent that takes submissions
    (it starts after the dashboard; a job submitted before gets "No available agent")."""
    deadline = time.monotonic() + START_TIMEOUT_S
    waiting = list(urls)
    while waiting and time.monotonic() < deadline:
        if head.poll() is not None:
            pytest.fail(f"ray start exited with {head.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(waiting[0], timeout=2):
                waiting.pop(0)
        except urllib.error.HTTPError:  # 401 or 404: up (asking for a token, or no such page)
            waiting.pop(0)
        except OSError:
            time.sleep(0.5)
    if waiting:
        pytest.fail(
            f"{waiting[0]} did not answer within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}"
        )


def stop_head(head: subprocess.Popen) -> None:
    """SIGTERM to the ``ray start`` we started (it stops its children), then SIGKILL the rest."""
    if head.poll() is None:
        head.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(timeout=30)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # its children leave a little after it
        try:
            os.killpg(head.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(head.pid, signal.SIGKILL)
    head.wait(timeout=10)


@pytest.fixture(scope="module")
def ray_head():
    """A Ray head on 127.0.0.1 with 2 CPUs; yields (dashboard URL, client environment)."""
    port, dash, client, node_mgr, obj_mgr, agent, agent_grpc, rt_env, metrics = free_ports(9)
    temp_dir = tempfile.mkdtemp(prefix="tbs-ray-", dir="/tmp")  # short: Ray's socket paths
    mode = auth_mode()
    env = {**client_env(mode), "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}
    ray_bin = Path(sys.executable).with_name("ray")
    cmd = [
        str(ray_bin) if ray_bin.exists() else "ray",
        "start",
        "--head",
        "--node-ip-address",
        "127.0.0.1",
        "--port",
        str(port),
        "--dashboard-host",
        "127.0.0.1",
        "--dashboard-port",
        str(dash),
        "--ray-client-server-port",
        str(client),
        "--node-manager-port",
        str(node_mgr),
        "--object-manager-port",
        str(obj_mgr),
        "--dashboard-agent-listen-port",
        str(agent),
        "--dashboard-agent-grpc-port",
        str(agent_grpc),
        "--runtime-env-agent-port",
        str(rt_env),
        "--metrics-export-port",
        str(metrics),
        "--num-cpus",
        "2",
        "--num-gpus",
        "0",
        "--temp-dir",
        temp_dir,
        "--disable-usage-stats",
        "--block",
    ]
    log = Path(temp_dir) / "ray_start.log"
    with open(log, "w") as out:
        head = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    url = f"http://127.0.0.1:{dash}"
    try:
        wait_for_head([url + "/api/version", f"http://127.0.0.1:{agent}/"], head, log)
        yield url, client_env(mode)
    finally:
        stop_head(head)
        shutil.rmtree(temp_dir, ignore_errors=True)


def tune_bs(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = COMMAND_TIMEOUT_S
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tune_bs", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_submit_wait_runs_the_search_on_the_cluster_and_writes_to_storage(ray_head, tmp_path):
    url, env = ray_head
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump(SPACE))
    storage = tmp_path / "results"
    # run from a folder where the space is not: it must travel with the job
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = tune_bs(
        [
            "submit",
            str(space),
            "--address",
            url,
            "--storage",
            str(storage),
            "--smoke-test",
            "--wait",
        ],
        env,
        elsewhere,
        timeout=JOB_TIMEOUT_S,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    import ray

    assert f"runs with: {sys.executable} " in done.stdout  # the head's python, checked first
    assert f"ray {ray.__version__})" in done.stdout
    job_id = next(w for w in done.stdout.split() if w.startswith("tune_bs_jobs-e2e-smoke_"))
    assert f"tune-bs: job {job_id} SUCCEEDED" in done.stdout
    assert f"tune-bs status {job_id} --address {url}" in done.stdout
    assert f"ray job logs {job_id} --address {url}" in done.stdout
    assert "2 trials: 2 TERMINATED." in done.stdout  # the job's own log, streamed

    folder = storage / "jobs-e2e-smoke"
    trials = trial_dirs(folder)
    assert len(trials) == 2
    for trial in trials:
        rows = result_rows(trial)
        assert len(rows) == 2  # the smoke budget: two reports
        assert rows[-1]["samples_seen"] >= rows[-1]["config"]["budget_samples"]
        assert rows[-1]["val_probe_acc"] > 0.5
    assert yaml.safe_load((folder / "tune_bs_space.yaml").read_text())["name"] == "jobs-e2e"

    status = tune_bs(["status", job_id, "--address", url], env, tmp_path)
    assert status.returncode == 0, status.stderr
    assert f"{job_id}: SUCCEEDED" in status.stdout
    assert f"results (on the cluster): {folder}" in status.stdout

    logs = tune_bs(["logs", job_id, "--address", url], env, tmp_path)
    assert logs.returncode == 0, logs.stderr
    assert "2 trials: 2 TERMINATED." in logs.stdout
    assert f"--address auto --storage {storage}" in logs.stdout  # the entrypoint it ran


def test_unknown_job_is_one_line_and_exit_2(ray_head, tmp_path):
    url, env = ray_head
    done = tune_bs(["status", "no_such_job", "--address", url], env, tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "'no_such_job' does not exist" in lines[0], done.stderr


def test_missing_token_is_one_line_naming_the_fix(ray_head, tmp_path):
    url, env = ray_head
    if env["RAY_AUTH_MODE"] != "token":
        pytest.skip("this head runs without token authentication (no ~/.ray/auth_token)")
    done = tune_bs(
        ["status", "any_job", "--address", url], {**env, "RAY_AUTH_MODE": "disabled"}, tmp_path
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "RAY_AUTH_MODE=token" in lines[0], done.stderr
