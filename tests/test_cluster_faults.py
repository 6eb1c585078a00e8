"""Faults on a real multi-node cluster with shared object storage: nothing is lost.

The cluster (``tests/cluster.py``: a head without CPUs, two worker nodes of one CPU, an S3
server) runs experiments with the extrapolation scheduler switching restart-free
(``switch_via: inplace``) and ``--storage s3://...``. Each test injects one fault mid-run:

- a worker node is killed (SIGKILL of its process group: raylet and trial workers);
- the driver is killed, then ``tune-bs resume s3://...`` runs from another process;
- the switch board actor is killed;
- trials run out of memory: in the first report interval of every strategy, during
  evaluation, after a switch.

and then checks, for every trial: it finished (TERMINATED), every training iteration is there
once, ``samples_seen`` only grows, every report trains at the size its schedule ends with, and
the batch-size schedule it had before the fault is a prefix of every later one. Faults are
injected on conditions (reports seen in the object store, processes seen on a node), each with a
deadline; no assertion depends on timing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from cluster import cluster, s3_result_rows, wait_for  # noqa: F401 (fixture)

from tune_bs.report import load_trials, trial_table
from tune_bs.report.frame import STATUS, TERMINATED
from tune_bs.search.storage import local_copy

pytestmark = pytest.mark.cluster

DATASET = "ItalyPowerDemand"
#: The extrapolation scheduler, restart-free; a lone trial explores 16 after five reports at 8.
SCHEDULER = {
    "name": "extrapolation",
    "batch_sizes": [8, 16],
    "grace_reports": 1,
    "segment_reports": 5,
    "probe_every": 5,
    "switch_cost_s": 0.0,
    "switch_via": "inplace",
}
RUN_TIMEOUT_S = 900


@pytest.fixture(autouse=True)
def reaches_the_object_store(cluster, monkeypatch):  # noqa: F811
    """This process reads the results in the object store (pyarrow, not Ray)."""
    for key, value in cluster.s3.env().items():
        monkeypatch.setenv(key, value)


def space(name: str, reports: int, every: int, lrs: list[float]) -> dict[str, Any]:
    """A grid of lone trials (one per ``lr``): each explores a second size (rule 9)."""
    return {
        "name": name,
        "dataset": {"name": DATASET},
        "metric": "val_loss",
        "num_samples": 1,
        "search": {"name": "grid"},
        "budget": {"samples": reports * every, "reports": reports},
        "scheduler": SCHEDULER,
        "param_space": {
            "batch_size": 8,
            "hidden": 8,
            "encoder": "fcn",
            "lr": {"type": "categorical", "choices": lrs},
        },
    }


def tune_bs(args: list[str], env: dict[str, str], **kw: Any) -> subprocess.Popen:
    """``tune-bs ARGS`` in its own session (stopped by its process group id)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tune_bs", *args], env=env, start_new_session=True, **kw
    )


def finish(proc: subprocess.Popen, timeout: float = RUN_TIMEOUT_S) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail(f"tune-bs did not finish within {timeout} s")


def check_trials(
    rows: dict[str, list[dict[str, Any]]],
    reports: int,
    budget: int,
    before_fault: Callable[[str, dict[str, Any]], bool],
) -> None:
    """The promises of the module docstring, for every trial (``rows``: one per iteration)."""
    assert rows, "no trial wrote results to the object store"
    for trial, found in rows.items():
        iterations = [r["training_iteration"] for r in found]
        assert iterations == list(range(1, reports + 1)), (trial, iterations)
        samples = [r["samples_seen"] for r in found]
        assert samples == sorted(set(samples)) and samples[-1] >= budget, (trial, samples)
        for r in found:
            schedule = r["batch_size_schedule"]
            assert schedule.rsplit(":", 1)[1].split("x")[0] == str(r["batch_size"]), (trial, r)
            assert r["switches"] == schedule.count(";"), (trial, r)
        before = [r for r in found if before_fault(trial, r)]
        if before:
            start = found.index(before[-1])
            for r in found[start:]:
                assert r["batch_size_schedule"].startswith(before[-1]["batch_size_schedule"]), (
                    trial,
                    before[-1]["batch_size_schedule"],
                    r["batch_size_schedule"],
                )


def statuses(uri: str, folder: Path) -> list[str]:
    """Each trial's status in the report's trial table, read from the object store."""
    table = trial_table(load_trials([local_copy(uri, root=folder / "copies")]), "val_loss", "min")
    return list(table[STATUS])


def checkpoints(store_uri: str) -> dict[str, int]:
    """The newest checkpoint index per trial folder in the object store (-1: none yet)."""
    import pyarrow.fs as pafs

    fs, path = pafs.FileSystem.from_uri(store_uri)
    newest: dict[str, int] = {}
    for info in fs.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True)):
        found = re.search(r"/([^/]+)/checkpoint_(\d+)", info.path)
        if found:
            trial, index = found.group(1), int(found.group(2))
            newest[trial] = max(newest.get(trial, -1), index)
    return newest


def process_groups(groups: set[int]) -> dict[int, tuple[int, str]]:
    """``{pid: (process group, command line)}`` of the live processes started in ``groups``:
    members, and descendants of members (a raylet's workers have groups of their own)."""
    table: dict[int, tuple[int, int, str]] = {}  # pid -> (parent, group, command line)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (name)": state, ppid, pgrp
        table[int(entry)] = (int(fields[1]), int(fields[2]), cmd)
    out = {}
    for pid, (_, _, cmd) in table.items():
        ancestor, hops = pid, 0
        while ancestor in table and table[ancestor][1] not in groups and hops < 16:
            ancestor, hops = table[ancestor][0], hops + 1
        if ancestor in table and table[ancestor][1] in groups:
            out[pid] = (table[ancestor][1], cmd)
    return out


def test_a_lost_worker_nodes_trials_resume_on_the_other_node(cluster, tmp_path):  # noqa: F811
    reports, every = 40, 100
    name = "nodeloss"
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(space(name, reports, every, [1e-3, 2e-3, 3e-3])))
    storage = cluster.storage(f"{tmp_path.name}")
    experiment = f"{storage}/{name}"
    survivor, victim = [w for w in cluster.worker_nodes if w.alive()][:2]
    seen: dict[int, int] = {}  # pid -> process group (node) of every trial process seen
    killed: list[int] = []
    stop = threading.Event()

    def watch() -> None:  # kill the victim while it runs a trial in the middle of its budget
        while not stop.is_set():
            live = process_groups({survivor.pid, victim.pid})
            seen.update({pid: group for pid, (group, cmd) in live.items() if "ImplicitFunc" in cmd})
            on_victim = {pid for pid, group in seen.items() if group == victim.pid}
            saved = checkpoints(experiment)  # written by the trials: no delay
            rows = s3_result_rows(cluster.s3, experiment)  # written by the driver: late
            middle = [
                trial
                for trial, found in rows.items()
                if found
                and found[-1]["pid"] in on_victim
                and 2 <= saved.get(trial, -1) <= reports - 12
            ]
            if not killed and middle:
                killed.extend(on_victim)
                cluster.kill_worker(cluster.worker_nodes.index(victim))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    log = tmp_path / "driver.log"
    with open(log, "w") as out:
        run = tune_bs(
            ["run", str(path), "--address", cluster.gcs_address, "--storage", storage],
            cluster.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    watcher.start()
    try:
        status = finish(run)
    finally:
        stop.set()
        watcher.join(timeout=10)
        if not victim.alive():
            cluster.add_worker()  # two workers again for the next test
    assert killed, "the worker node was not killed while it ran a trial"
    assert status == 0, log.read_text()[-3000:]
    rows = s3_result_rows(cluster.s3, experiment)
    assert len(rows) == 3
    check_trials(rows, reports, reports * every, lambda t, r: r["pid"] in killed)
    moved = [t for t, found in rows.items() if any(r["pid"] in killed for r in found)]
    assert moved, "no trial ran on the killed node"
    for trial in moved:
        after = [r for r in rows[trial] if r["pid"] not in killed]
        assert after and all(seen.get(r["pid"]) == survivor.pid for r in after), trial
        first = after[0]["training_iteration"]
        assert first > 1, "the moved trial started again instead of from its checkpoint"
    assert statuses(experiment, tmp_path) == [TERMINATED] * 3


def test_a_killed_driver_is_resumed_from_object_storage_by_another_process(cluster, tmp_path):  # noqa: F811
    """The driver dies mid-run; what the experiment had recorded in storage by then (result
    rows, switches) is kept as it was, and the trials finish. Work after the experiment's last
    saved state (Tune saves it every ~10 s) is done again from the checkpoint that state names.
    """
    reports, every = 60, 100
    name = "driverloss"
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(space(name, reports, every, [1e-3, 3e-3])))
    storage = cluster.storage(f"{tmp_path.name}")
    experiment = f"{storage}/{name}"
    env = cluster.env()
    log = tmp_path / "driver.log"
    with open(log, "w") as out:
        driver = tune_bs(
            ["run", str(path), "--address", cluster.gcs_address, "--storage", storage],
            env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def switched_and_going() -> bool:  # a recorded switch, and the trial far from its end
        if driver.poll() is not None:
            pytest.fail(f"the run ended before the driver was killed:\n{log.read_text()[-3000:]}")
        saved = checkpoints(experiment)
        return any(
            found and found[-1]["switches"] >= 1 and saved.get(trial, 0) <= reports - 15
            for trial, found in s3_result_rows(cluster.s3, experiment).items()
        )

    try:
        wait_for(switched_and_going, 600, "a recorded switch, mid-run")
    finally:
        with contextlib.suppress(ProcessLookupError):  # the driver; Ray ends its trials
            os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    before = s3_result_rows(cluster.s3, experiment)  # what the experiment had recorded
    old_pids = {r["pid"] for found in before.values() for r in found}

    log = tmp_path / "resume.log"
    with open(log, "w") as out:
        resume = tune_bs(
            ["resume", experiment, "--address", cluster.gcs_address],
            env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    assert finish(resume) == 0, log.read_text()[-3000:]
    assert "TERMINATED" in log.read_text()
    rows = s3_result_rows(cluster.s3, experiment)
    assert len(rows) == 2 and set(before) <= set(rows)
    last = {trial: found[-1]["training_iteration"] for trial, found in before.items() if found}
    check_trials(
        rows,
        reports,
        reports * every,
        lambda trial, r: r["training_iteration"] <= last.get(trial, 0),
    )
    for trial, found in before.items():  # the recorded rows are kept as they were
        for row in found:
            kept = rows[trial][row["training_iteration"] - 1]
            assert kept["batch_size_schedule"] == row["batch_size_schedule"], (trial, row)
    assert any(r["pid"] not in old_pids for found in rows.values() for r in found)

    report = subprocess.run(
        [sys.executable, "-m", "tune_bs", "report", experiment, "--metric", "val_loss"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.returncode == 0, report.stderr[-3000:]
    assert report.stdout.count("TERMINATED") >= 2 and "Report written to" in report.stdout


DRIVER = Path(__file__).with_name("cluster_driver.py")


def drive(started: Any, scenario: str, storage: str, folder: Path) -> dict[str, Any]:
    """Run ``tests/cluster_driver.py SCENARIO`` on the cluster ``started``; its summary."""
    summary, log = folder / "summary.json", folder / "driver.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(DRIVER), scenario, started.gcs_address, storage, str(summary)],
            env=started.env(),
            start_new_session=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    assert finish(proc) == 0, log.read_text()[-3000:]
    return json.loads(summary.read_text())


def test_a_killed_switch_board_is_replaced_and_no_trial_fails(cluster, tmp_path):  # noqa: F811
    from cluster_driver import BOARDLOSS_EVERY, BOARDLOSS_REPORTS

    reports, every = BOARDLOSS_REPORTS, BOARDLOSS_EVERY
    storage = cluster.storage(tmp_path.name)
    summary = drive(cluster, "boardloss", storage, tmp_path)
    assert summary["errors"] == 0 and summary["trials"] == 2
    killed_at = summary["killed_at"]
    rows = s3_result_rows(cluster.s3, f"{storage}/boardloss")
    assert len(rows) == 2
    check_trials(rows, reports, reports * every, lambda t, r: r["wall_time_s"] < killed_at)
    for found in rows.values():  # the schedule goes on after the kill: switch after switch
        late = [r for r in found if r["wall_time_s"] > killed_at]
        assert late and late[-1]["switches"] > late[0]["switches"], found[-1]
        assert found[-1]["switches"] >= reports // 3 - 2  # at most one switch lost or late
    assert re.search(r"switch board replaced \d+ time", summary["debug"]), summary["debug"]
    assert statuses(f"{storage}/boardloss", tmp_path) == [TERMINATED] * 2


def test_out_of_memory_backs_off_marks_the_size_and_shows_it(cluster, tmp_path):  # noqa: F811
    from cluster_driver import OOM_EVERY, OOM_FAULTS, OOM_REPORTS

    reports, every = OOM_REPORTS, OOM_EVERY
    storage = cluster.storage(tmp_path.name)
    summary = drive(cluster, "oom", storage, tmp_path)
    assert summary["errors"] == 0 and summary["trials"] == len(OOM_FAULTS)
    rows = s3_result_rows(cluster.s3, f"{storage}/oom")
    assert len(rows) == len(OOM_FAULTS)
    check_trials(rows, reports, reports * every, lambda t, r: r["oom_backoffs"] == 0)
    for found in rows.values():
        fault = found[0]["config"]["_oom"]
        after = [r for r in found if r["oom_backoffs"] == 1]
        assert found[-1]["oom_backoffs"] == 1, (fault, found[-1])  # once: never sent back
        limit = after[0]["oom_batch_size"]
        sizes = [(r["batch_size"], r["oom_batch_size"]) for r in after]
        assert all(size == (limit // 2, limit) for size in sizes), (fault, sizes)
        if fault["at"] == "train":  # switched to 16 after report 2, which did not fit
            assert limit == 16 and [r["batch_size"] for r in found] == [8] * reports
            assert found[-1]["batch_size_schedule"] == "0:8"  # the attempt at 16 is undone
            assert after[0]["training_iteration"] == 3
        else:  # in the first interval (training or evaluation): nothing reported before
            assert after[0]["training_iteration"] == 1, fault
    # the marked size is a column of the report's trial table
    copy = local_copy(f"{storage}/oom", root=tmp_path / "copies")
    table = trial_table(load_trials([copy]), "val_loss", "min")
    assert "oom_batch_size" in table and table["oom_batch_size"].notna().all()
    assert list(table[STATUS]) == [TERMINATED] * len(OOM_FAULTS)
