"""One live run per experiment folder (:mod:`tune_bs.search.lock`; real processes, a real S3
server, no Ray)."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from dataclasses import asdict, replace

import pyarrow.fs as pafs
import pytest
from cluster import object_store  # noqa: F401 (fixture)

from tune_bs.errors import UserInputError
from tune_bs.search import lock as lock_module
from tune_bs.search.lock import LOCK_FILE, ExperimentLock, Holder, process_start, stale_reason
from tune_bs.search.storage import Location


@pytest.fixture
def sleeper():
    """A live process of this host (stopped by its pid afterwards)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc
    proc.kill()
    proc.wait()


def holder_of(pid: int, host: str | None = None, **changes) -> Holder:
    now = time.time()
    base = Holder(
        host=host or socket.gethostname(),
        pid=pid,
        started=now,
        process_start=process_start(pid),
        token="t0",
        command="run",
        heartbeat=now,
    )
    return replace(base, **changes)


def plant(folder, holder: Holder) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LOCK_FILE).write_text(json.dumps(asdict(holder)))


def test_a_live_holder_on_this_host_refuses_a_second_run(tmp_path, sleeper):
    plant(tmp_path, holder_of(sleeper.pid))
    with pytest.raises(UserInputError) as err:
        ExperimentLock(Location.open(tmp_path), "resume").acquire()
    text = str(err.value)
    assert f"pid {sleeper.pid}" in text and socket.gethostname() in text and "started 2" in text
    assert f"kill -INT {sleeper.pid}" in text and "\n" not in text
    assert json.loads((tmp_path / LOCK_FILE).read_text())["token"] == "t0"  # untouched


def test_a_lock_whose_process_is_gone_is_taken_over(tmp_path, caplog):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    plant(tmp_path, holder_of(gone.pid, process_start=12345))
    folder = Location.open(tmp_path)
    with caplog.at_level(logging.WARNING), ExperimentLock(folder, "resume") as held:
        mine = json.loads((tmp_path / LOCK_FILE).read_text())
        assert mine["pid"] == held.holder.pid and mine["command"] == "resume"
    assert f"pid {gone.pid}" in caplog.text and "its process is gone" in caplog.text
    assert not (tmp_path / LOCK_FILE).exists()  # released
    assert [p.name for p in tmp_path.iterdir()] == []  # no stale copy left behind


def test_a_reused_process_id_does_not_hold_the_lock(sleeper):
    old = holder_of(sleeper.pid, process_start=(process_start(sleeper.pid) or 0) - 1)
    assert "another process" in stale_reason(old, time.time(), socket.gethostname())
    assert stale_reason(holder_of(sleeper.pid), time.time(), socket.gethostname()) is None


def test_another_hosts_lock_counts_until_its_heartbeat_is_old(tmp_path, caplog):
    fresh = holder_of(1, host="elsewhere", heartbeat=time.time() - 60)
    plant(tmp_path, fresh)
    with pytest.raises(UserInputError, match="on host elsewhere") as err:
        ExperimentLock(Location.open(tmp_path), "run").acquire()
    assert f"delete {tmp_path / LOCK_FILE}" in str(err.value)
    old = replace(fresh, heartbeat=time.time() - lock_module.STALE_AFTER_S - 60)
    plant(tmp_path, old)
    with caplog.at_level(logging.WARNING), ExperimentLock(Location.open(tmp_path), "run"):
        pass
    assert "last heartbeat is" in caplog.text


def test_a_damaged_lock_file_is_taken_over(tmp_path, caplog):
    (tmp_path / LOCK_FILE).write_text("[not a lock")
    with caplog.at_level(logging.WARNING), ExperimentLock(Location.open(tmp_path), "run") as held:
        assert held.holder is not None
    assert "it is not a tune-bs lock" in caplog.text


def test_two_locks_in_one_folder_exclude_each_other(tmp_path):
    folder = Location.open(tmp_path)
    with ExperimentLock(folder, "run"), pytest.raises(UserInputError, match=f"pid {os.getpid()}"):
        ExperimentLock(folder, "resume").acquire()
    with ExperimentLock(folder, "resume"):  # free again
        pass


def test_the_heartbeat_is_refreshed(tmp_path, monkeypatch):
    monkeypatch.setattr(lock_module, "HEARTBEAT_S", 0.05)
    with ExperimentLock(Location.open(tmp_path), "run") as held:
        first = held.holder.heartbeat
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            written = Holder.parse((tmp_path / LOCK_FILE).read_text())
            if written.heartbeat > first:
                break
            time.sleep(0.05)
        assert written.heartbeat > first and written.token == held.holder.token


def test_a_lock_in_object_storage(object_store, monkeypatch):  # noqa: F811
    for key, value in object_store.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(lock_module, "SETTLE_S", 0.1)
    folder = Location.open(object_store.uri("locks/exp"))
    with ExperimentLock(folder, "run") as held:
        assert Holder.parse(folder.read_text(LOCK_FILE)).token == held.holder.token
        with pytest.raises(UserInputError, match="is in use by `tune-bs run`"):
            ExperimentLock(folder, "resume").acquire()
    fs, path = pafs.FileSystem.from_uri(object_store.uri(f"locks/exp/{LOCK_FILE}"))
    assert fs.get_file_info(path).type == pafs.FileType.NotFound


def test_a_folder_that_cannot_be_written_is_one_line(tmp_path):
    if os.geteuid() == 0:  # root writes anywhere: use a path under a regular file instead
        (tmp_path / "file").write_text("x")
        folder = Location.open(tmp_path / "file" / "exp")
    else:
        tmp_path.chmod(0o500)
        folder = Location.open(tmp_path)
    with pytest.raises(UserInputError, match="cannot be written") as err:
        ExperimentLock(folder, "resume").acquire()
    assert "write access" in str(err.value) and "\n" not in str(err.value)
