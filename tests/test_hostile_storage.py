"""Hostile cases of issue #32 against storage, the run's life cycle and the cluster, each
through the real CLI: interrupted runs, planted pickles, escaping names, two runs in one folder,
impossible resources, damaged run files, an unreachable ``--address``.

Every refusal is one line on stderr, exit status 2, no traceback. The end-to-end tests interrupt
real runs (SIGINT/SIGTERM to the CLI process, as a terminal's Ctrl-C or ``kill`` sends them) at
chosen points and resume them; the driver is paused with SIGSTOP while the test looks, so the
point is the one named, not a race.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import pyarrow.fs as pafs
import pytest
import yaml
from cluster import object_store  # noqa: F401 (fixture)
from conftest import local_ray_session
from trial_files import result_rows, trial_dirs

from tune_bs.cli import main
from tune_bs.search.lock import LOCK_FILE, Holder, process_start
from tune_bs.search.signing import sign, signing_key, verify_experiment
from tune_bs.search.storage import Location

#: The CLI with test hooks around the trial function (``tests/trial_hooks.py``, run as a script).
HOOKS = Path(__file__).resolve().parent / "trial_hooks.py"

SPACE = {
    "name": "hostile",
    "dataset": {"name": "ItalyPowerDemand"},
    "metric": "val_probe_acc",
    "num_samples": 2,
    "budget": {"samples": 96, "reports": 2},
    "scheduler": {"name": "fifo"},
    "param_space": {
        "batch_size": {"type": "categorical", "choices": [8, 16]},
        "hidden": 8,
        "encoder": "fcn",
    },
}


def one_line_error(capsys: pytest.CaptureFixture[str], status: int, *needles: str) -> str:
    """Assert a refusal: exit status 2, one stderr line without a traceback, holding ``needles``."""
    err = capsys.readouterr().err
    assert status == 2, err
    assert err.count("\n") == 1 and err.startswith("tune-bs: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"
    return err


def space_file(tmp: Path, file: str = "space.yaml", **changes) -> Path:
    path = tmp / file
    path.write_text(yaml.safe_dump({**SPACE, **changes}))
    return path


class Planted:
    """A pickle whose unpickling creates ``marker`` (what an attacker would plant)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def planted_bytes(marker: Path) -> bytes:
    data = pickle.dumps(Planted(marker))
    pickle.loads(data)  # the control: unpickling it does run code
    assert marker.exists()
    marker.unlink()
    return data


def resumable(folder: Path) -> Path:
    """A folder that passes the resumable check: the space copy, run options and a
    ``tuner.pkl`` this user's tune-bs signed (a harmless one; no Tune state)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tune_bs_space.yaml").write_text(yaml.safe_dump(SPACE))
    (folder / "tune_bs_run.json").write_text(json.dumps({"smoke_test": False}))
    (folder / "tuner.pkl").write_bytes(sign(pickle.dumps({"harmless": True}), signing_key()))
    return folder


# --- 2. resume never unpickles what this user's tune-bs did not write ------------------------
def state_with(payload: bytes) -> bytes:
    """An ``experiment_state-*.json`` whose trial carries ``payload`` where Tune keeps its
    ``CLOUDPICKLE_FALLBACK`` values (Tune's ``Trial.__setstate__`` unpickles them)."""
    trial = {"trial_id": "x", "status": "PENDING", "storage": {}}
    trial["placement_group_factory"] = {"_type": "CLOUDPICKLE_FALLBACK", "value": payload.hex()}
    return json.dumps({"trial_data": [[json.dumps(trial), "{}"]], "runner_data": {}}).encode()


def plant(folder: Path, which: str, marker: Path) -> str:
    evil = planted_bytes(marker)
    if which == "tuner.pkl":
        (folder / "tuner.pkl").write_bytes(evil)
        return "tuner.pkl"
    name = "experiment_state-2099-01-01_00-00-00.json"
    (folder / name).write_bytes(state_with(evil))
    return name


@pytest.mark.parametrize("which", ["tuner.pkl", "experiment_state"])
def test_a_planted_pickle_is_refused_and_never_run(tmp_path, capsys, which):
    folder = resumable(tmp_path / "shared" / "hostile")
    marker = tmp_path / "MARKER"
    name = plant(folder, which, marker)
    status = main(["resume", str(folder)])
    one_line_error(capsys, status, f"{folder}/{name}", "not written by this user's tune-bs")
    assert not marker.exists()
    # a signature made with another key, or copied from another file, does not help
    other = {**os.environ, "TUNE_BS_SIGNING_KEY": "x" * 40}
    forged = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from tune_bs.search.signing import sign, signing_key;"
            "sys.stdout.buffer.write(sign(sys.stdin.buffer.read(), signing_key()))",
        ],
        input=(folder / name).read_bytes(),
        capture_output=True,
        env=other,
        check=True,
    ).stdout
    (folder / name).write_bytes(forged)
    one_line_error(capsys, main(["resume", str(folder)]), "signed with another key", "--trust")
    assert not marker.exists() and not (folder / LOCK_FILE).exists()


def test_a_planted_pickle_in_object_storage_is_refused(tmp_path, capsys, object_store, monkeypatch):  # noqa: F811
    for key, value in object_store.env().items():
        monkeypatch.setenv(key, value)
    local = resumable(tmp_path / "made" / "hostile")
    marker = tmp_path / "MARKER"
    name = plant(local, "experiment_state", marker)
    uri = object_store.uri("shared/hostile")
    fs, path = pafs.FileSystem.from_uri(uri)
    pafs.copy_files(
        str(local), path, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs
    )
    one_line_error(capsys, main(["resume", uri]), f"{uri}/{name}", "--trust-storage")
    assert not marker.exists()


# --- 3. names are one path component ------------------------------------------------------------
BAD_NAMES = ["", "   ", ".", "..", "../escaped", "a/b", "/abs", "a\\b", "x\ny", "\t", "x\x1b[2J"]


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_a_name_that_is_not_one_folder_is_refused(tmp_path, capsys, name):
    before = sorted(p.name for p in tmp_path.iterdir())
    space = space_file(tmp_path)
    status = main(["run", str(space), "--storage", str(tmp_path / "res"), "--name", name])
    one_line_error(capsys, status, "--name must be one folder name inside --storage")
    named = space_file(tmp_path, "named.yaml", name=name)
    one_line_error(capsys, main(["validate", str(named)]), "name=")
    status = main(["submit", str(space), "--address", "http://127.0.0.1:1", "--name", name])
    one_line_error(capsys, status, "--name must be one folder name")
    after = sorted(p.name for p in tmp_path.iterdir())
    assert after == sorted([*before, "named.yaml", "space.yaml"])  # no results anywhere
    assert not (tmp_path.parent / "escaped").exists()


# --- 4. one run per experiment folder ------------------------------------------------------------
@pytest.fixture
def live_holder(tmp_path):
    """A live process of this host that holds the lock of ``tmp/res/hostile``."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    folder = resumable(tmp_path / "res" / "hostile")
    now = time.time()
    holder = Holder(socket.gethostname(), proc.pid, now, process_start(proc.pid), "t", "run", now)
    (folder / LOCK_FILE).write_text(json.dumps(asdict(holder)))
    yield folder, proc.pid
    proc.kill()
    proc.wait()


def test_a_folder_a_live_run_holds_refuses_run_and_resume(tmp_path, capsys, live_holder):
    folder, pid = live_holder
    host = socket.gethostname()
    status = main(["run", str(space_file(tmp_path)), "--storage", str(tmp_path / "res")])
    one_line_error(
        capsys, status, f"{folder} is in use by `tune-bs run`", f"host {host}", f"pid {pid}"
    )
    one_line_error(capsys, main(["resume", str(folder)]), f"pid {pid}", "started ")
    assert json.loads((folder / LOCK_FILE).read_text())["pid"] == pid  # left to its holder


# --- damaged tune-bs files, an unreachable --address ---------------------------------------------
@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("not json {", "not JSON"),
        ("[1, 2]", "holds a list"),
        ('{"num_samples": "four"}', "num_samples must be a positive integer"),
        ('{"smoke_test": 1}', "smoke_test must be true or false"),
        ('{"cpus_per_trial": -1}', "cpus_per_trial must be a positive number"),
        ('{"gpus_per_trial": NaN}', "gpus_per_trial must be a number of 0 or more"),
        ('{"evil": true}', "unknown key 'evil'"),
        ('{"smoke_budget": {"samples": "x"}}', "budget.samples must be"),
        ('{"tracking": 3}', "tracking must be a mapping"),
    ],
)
def test_a_damaged_run_file_is_one_line(tmp_path, capsys, text, needle):
    folder = resumable(tmp_path / "hostile")
    (folder / "tune_bs_run.json").write_text(text)
    one_line_error(capsys, main(["resume", str(folder)]), "tune_bs_run.json is damaged", needle)


def test_a_python_tag_in_the_stored_space_is_refused_and_not_run(tmp_path, capsys):
    folder = resumable(tmp_path / "hostile")
    marker = tmp_path / "MARKER"
    text = yaml.safe_dump(SPACE) + f"x: !!python/object/apply:os.system ['touch {marker}']\n"
    (folder / "tune_bs_space.yaml").write_text(text)
    status = main(["resume", str(folder)])
    one_line_error(capsys, status, "tune_bs_space.yaml is damaged", "not plain YAML")
    assert not marker.exists()
    (folder / "tune_bs_space.yaml").write_text("- a list\n")
    one_line_error(capsys, main(["resume", str(folder)]), "tune_bs_space.yaml must hold a mapping")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("storage_exists", [False, True])
def test_an_unreachable_address_leaves_no_folder_behind(tmp_path, capsys, storage_exists):
    storage = tmp_path / "res"
    if storage_exists:
        storage.mkdir()
    argv = ["run", str(space_file(tmp_path)), "--storage", str(storage)]
    status = main([*argv, "--address", f"127.0.0.1:{_closed_port()}"])
    one_line_error(capsys, status, "cannot be reached")
    assert storage.exists() == storage_exists
    assert not storage_exists or list(storage.iterdir()) == []


# --- 1. an interrupted run loses nothing (real runs, real signals) ------------------------------
# long enough that a trial is still running when a test's condition is seen: the driver uploads
# result files every second, and on a quiet machine a report of 400 samples takes about 0.4 s
LONG = {**SPACE, "name": "long", "budget": {"samples": 4800, "reports": 12}}
REPORTS = LONG["budget"]["reports"]


class Driver:
    """A ``tune-bs`` command in its own session (as a terminal runs it); its output in a file.

    :meth:`stop_when` pauses the driver (SIGSTOP to its process only: the trials go on until
    their next report, which nobody collects) while the test reads the folder, so a condition
    seen holds when the signal is sent.
    """

    def __init__(self, *args: str, log: Path, pace_s: float | None = None) -> None:
        self.log = log
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "tune_bs"]
        if pace_s is not None:  # every report takes at least pace_s (trial_hooks.paced)
            command = [sys.executable, str(HOOKS), f"pace={pace_s}", "--"]
        with log.open("w") as out:
            self.proc = subprocess.Popen(
                [*command, *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    def stop_when(self, condition: Callable[[], bool], what: str, timeout_s: float = 240) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGSTOP)
            if condition():
                return
            os.kill(self.proc.pid, signal.SIGCONT)
            time.sleep(0.05)
        self.kill()
        pytest.fail(f"{what} did not happen before the run ended or within {timeout_s:.0f} s")

    def wait_for(self, condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
        """Wait, the driver paused, until ``condition`` holds (a trial's next checkpoint)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.05)
        self.kill()
        pytest.fail(f"{what} did not happen within {timeout_s:.0f} s")

    def interrupt(self, signum: int, group: bool = True, timeout_s: float = 180) -> int:
        """Send ``signum`` (to the process group, as Ctrl-C does, or to the driver only), let
        the paused driver go on, and wait for its exit status."""
        (os.killpg if group else os.kill)(self.proc.pid, signum)
        os.kill(self.proc.pid, signal.SIGCONT)
        return self.wait(timeout_s)

    def interrupt_twice(self) -> int:
        """Ctrl-C, and Ctrl-C again as soon as the driver says it is stopping the trials. A
        driver that the first Ctrl-C already ended (it came while Tune was not running trials, so
        it was not asked to stop them: no notice) is not signalled again."""
        os.killpg(self.proc.pid, signal.SIGINT)
        os.kill(self.proc.pid, signal.SIGCONT)
        self.wait_for(
            lambda: "SIGINT received" in self.output() or self.proc.poll() is not None,
            "the first Ctrl-C's notice",
        )
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        return self.wait()

    def wait(self, timeout_s: float = 300) -> int:
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            tail = self.output()[-3000:]
            pytest.fail(f"{self.log.name}: no exit within {timeout_s:.0f} s:\n{tail}")

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def cli(tmp_path) -> Callable[..., Driver]:
    """Start ``tune-bs ARGS`` as a :class:`Driver` (log ``tmp/<name>.log``); whatever still
    runs at the end of the test is killed by its process group."""
    started: list[Driver] = []

    def start(*args: str, name: str, pace_s: float | None = None) -> Driver:
        started.append(Driver(*args, log=tmp_path / f"{name}.log", pace_s=pace_s))
        return started[-1]

    yield start
    for driver in started:
        if driver.proc.poll() is None:
            driver.kill()


def checkpoints(folder: Path) -> dict[str, set[str]]:
    """Each trial folder's checkpoint folders."""
    return {t.name: {c.name for c in t.glob("checkpoint_*")} for t in trial_dirs(folder)}


def rows_by_trial(folder: Path) -> dict[str, list[dict]]:
    return {t.name: result_rows(t) for t in trial_dirs(folder)}


def assert_interrupted(folder: Path, status: int, signum: int, out: str) -> None:
    """The run ended with 128 + the signal, said how to resume, pruned and selected nothing,
    left signed state files and no lock."""
    assert status == 128 + signum, out[-3000:]
    name = signal.Signals(signum).name
    assert f"interrupted by {name}" in out and f"tune-bs resume {folder}" in out, out[-3000:]
    assert not (folder / "best_config.yaml").exists()
    assert not (folder / LOCK_FILE).exists()
    on_disk = checkpoints(folder)
    for trial, rows in rows_by_trial(folder).items():
        named = {r["checkpoint_dir_name"] for r in rows}
        assert named <= on_disk[trial], f"{trial}: a reported checkpoint was pruned"
    verify_experiment(Location.open(folder), signing_key())  # resumable by its own user


def assert_finished_exactly(folder: Path, out: str, killed: bool = False) -> None:
    """Every trial ran to its end with each report once: no gap, no repeat. After a SIGKILL
    (``killed``) a report the lost driver wrote after its last saved state may be written again
    (the report tables keep the latest of each); it must then be the same report."""
    rows = rows_by_trial(folder)
    assert len(rows) == LONG["num_samples"], out[-3000:]
    for trial, trial_rows in rows.items():
        iterations = [r["training_iteration"] for r in trial_rows]
        if killed:
            by_iteration: dict[int, set[int]] = {}
            for row in trial_rows:
                by_iteration.setdefault(row["training_iteration"], set()).add(row["samples_seen"])
            assert all(len(v) == 1 for v in by_iteration.values()), f"{trial}: {by_iteration}"
            iterations = sorted(by_iteration)
        assert iterations == list(range(1, REPORTS + 1)), f"{trial}: {iterations}\n{out[-2000:]}"
        samples = [r["samples_seen"] for r in result_rows(folder / trial, True)]
        assert samples == sorted(samples) and samples[-1] >= LONG["budget"]["samples"]
    assert (folder / "best_config.yaml").is_file()


def reported(folder: Path, count: int) -> Callable[[], bool]:
    """Some trial has ``count`` or more report rows on storage."""
    return lambda: folder.exists() and any(len(r) >= count for r in rows_by_trial(folder).values())


def reported_anew(folder: Path, count: int) -> Callable[[], bool]:
    """Some trial has ``count`` or more report rows on storage, at least one of them made after
    this call (by the command just started): rows an earlier run left can satisfy ``count``
    before the new driver has set up its signal handlers, and a signal then kills it outright
    (status -15 instead of 143 under load)."""
    before = {t: len(r) for t, r in rows_by_trial(folder).items()} if folder.exists() else {}
    return lambda: (
        folder.exists()
        and any(
            len(r) >= count and len(r) > before.get(t, 0) for t, r in rows_by_trial(folder).items()
        )
    )


def new_checkpoint_after(folder: Path, seen: dict[str, set[str]]) -> Callable[[], bool]:
    return lambda: any(checkpoints(folder).get(t, set()) - c for t, c in seen.items())


@pytest.mark.ray
def test_ctrl_c_during_a_checkpoint_then_resume_loses_and_repeats_nothing(tmp_path, cli):
    """Ctrl-C (SIGINT to the process group) while a trial's next checkpoint is on storage but
    its report has not reached the driver; then ``tune-bs resume``."""
    space = space_file(tmp_path, **LONG)
    folder = tmp_path / "res" / "long"
    run = cli("run", str(space), "--storage", str(tmp_path / "res"), name="run")
    run.stop_when(reported(folder, 2), "a second report")
    missed = new_checkpoint_after(folder, checkpoints(folder))
    run.wait_for(missed, "a checkpoint the driver missed")
    status = run.interrupt(signal.SIGINT)
    assert_interrupted(folder, status, signal.SIGINT, run.output())
    assert any(len(r) < REPORTS for r in rows_by_trial(folder).values())  # it was interrupted

    resume = cli("resume", str(folder), name="resume")
    assert resume.wait() == 0, resume.output()[-3000:]
    assert_finished_exactly(folder, resume.output())


def trials_started_unreported(folder: Path) -> Callable[[], bool]:
    """Trial folders exist and no trial wrote a checkpoint yet (every report carries one, and
    a trial writes it before it reports: nothing was reported)."""
    return lambda: (
        folder.exists() and bool(trial_dirs(folder)) and not any(checkpoints(folder).values())
    )


#: Seconds each report of the interrupt-at-every-point test takes at least.
PACE_S = 0.5


@pytest.mark.slow
@pytest.mark.ray
def test_interrupted_at_every_point_and_resumed_each_report_is_kept_once(tmp_path, cli):
    """One experiment, interrupted four times: Ctrl-C before the first report, Ctrl-C on a
    resume while a checkpoint is on storage unreported, SIGTERM (``kill PID``) mid-run, two
    Ctrl-C in a row; resumed after each. Every trial ends with reports 1..N, each once.

    Every report takes at least ``PACE_S``: on a fast machine the trials could otherwise make
    their last reports between the moment a report shows on storage (the driver writes result
    files about once a second) and the signal (twice in CI: the double Ctrl-C found a finished
    run)."""
    space = space_file(tmp_path, **LONG)
    res, folder = tmp_path / "res", tmp_path / "res" / "long"

    run = cli("run", str(space), "--storage", str(res), name="run", pace_s=PACE_S)
    run.stop_when(trials_started_unreported(folder), "trials that started")
    assert_interrupted(folder, run.interrupt(signal.SIGINT), signal.SIGINT, run.output())
    assert not any(rows_by_trial(folder).values())  # it really was before the first report

    first = cli("resume", str(folder), name="resume-1", pace_s=PACE_S)
    first.stop_when(reported_anew(folder, 3), "a third report")
    first.wait_for(new_checkpoint_after(folder, checkpoints(folder)), "an unreported checkpoint")
    assert_interrupted(folder, first.interrupt(signal.SIGINT), signal.SIGINT, first.output())

    second = cli("resume", str(folder), name="resume-2", pace_s=PACE_S)
    second.stop_when(reported_anew(folder, 5), "a fifth report")
    status = second.interrupt(signal.SIGTERM, group=False)
    assert_interrupted(folder, status, signal.SIGTERM, second.output())

    third = cli("resume", str(folder), name="resume-3", pace_s=PACE_S)
    third.stop_when(reported_anew(folder, 6), "a sixth report")
    status = third.interrupt_twice()
    assert_interrupted(folder, status, signal.SIGINT, third.output())

    last = cli("resume", str(folder), name="resume-4", pace_s=PACE_S)
    assert last.wait() == 0, last.output()[-3000:]
    assert_finished_exactly(folder, last.output())


@pytest.mark.slow
@pytest.mark.ray
def test_a_killed_run_holds_its_folder_until_it_is_gone_and_resumes(tmp_path, capsys, cli):
    """While a run lives, a second run and a resume of its folder are refused naming it; killed
    with SIGKILL, it leaves signed state files and a stale lock that ``resume`` takes over."""
    space = space_file(tmp_path, **LONG)
    res, folder = tmp_path / "res", tmp_path / "res" / "long"
    run = cli("run", str(space), "--storage", str(res), name="run")
    run.stop_when(reported(folder, 2), "a second report")
    pid, host = run.proc.pid, socket.gethostname()
    needles = ("is in use by `tune-bs run`", f"host {host}", f"pid {pid}", "started ")
    one_line_error(capsys, main(["run", str(space), "--storage", str(res)]), *needles)
    one_line_error(capsys, main(["resume", str(folder)]), *needles)
    run.kill()  # SIGKILL to the driver and the Ray it started

    verify_experiment(Location.open(folder), signing_key())  # signed up to the last upload
    assert (folder / LOCK_FILE).exists()
    resume = cli("resume", str(folder), name="resume")
    assert resume.wait() == 0, resume.output()[-3000:]
    out = resume.output()
    assert f"taking over the lock {folder / LOCK_FILE}" in out and f"pid {pid}" in out
    assert "its process is gone" in out
    assert_finished_exactly(folder, out, killed=True)


@pytest.mark.slow
@pytest.mark.ray
def test_a_trial_no_node_can_hold_is_refused_before_trials_start(tmp_path, capsys):
    space = space_file(tmp_path)
    storage = tmp_path / "res"
    with local_ray_session():  # 2 CPUs, no GPU
        capsys.readouterr()  # what Ray said as it started
        status = main(["run", str(space), "--storage", str(storage), "--cpus-per-trial", "64"])
        one_line_error(
            capsys,
            status,
            "a trial asks for 64 CPUs, 0 GPUs",
            "this machine's Ray",
            "the largest has 2 CPUs, 0 GPUs",
            "lower --cpus-per-trial (or resources.cpu) to at most 2",
        )
        status = main(["run", str(space), "--storage", str(storage), "--gpus-per-trial", "1"])
        one_line_error(capsys, status, "asks for 1 CPU, 1 GPU", "at most 0")
        resources = space_file(tmp_path, "big.yaml", resources={"cpu": 3})
        status = main(["run", str(resources), "--storage", str(storage)])
        one_line_error(capsys, status, "asks for 3 CPUs")
    assert not storage.exists()  # nothing was left behind


@pytest.mark.slow
@pytest.mark.ray
def test_runs_in_object_storage_are_signed_and_checked(tmp_path, capsys, object_store, monkeypatch):  # noqa: F811
    from tune_bs.search.experiment import RunOptions, resume_experiment, run_experiment
    from tune_bs.search.space import parse_space

    for key, value in object_store.env().items():
        monkeypatch.setenv(key, value)
    storage = object_store.uri("signed")
    with local_ray_session():
        outcome = run_experiment(parse_space(SPACE), storage, options=RunOptions(smoke_test=True))
        uri = str(outcome.path)
        location = Location.open(uri)
        assert verify_experiment(location, signing_key()) >= 3  # tuner.pkl and state files
        assert resume_experiment(uri).interrupted is None  # its own user resumes it
    # the refusal as a user meets it, in a process whose Ray is gone (inside the session, the
    # lines Ray forwards from its stopping workers reach this stderr too)
    marker = tmp_path / "MARKER"
    name = "experiment_state-2099-01-01_00-00-00.json"
    location.write_bytes(name, state_with(planted_bytes(marker)))
    capsys.readouterr()
    one_line_error(capsys, main(["resume", uri]), f"{uri}/{name}", "--trust-storage")
    assert not marker.exists()


def test_a_folder_stopped_before_its_first_state_is_one_line(tmp_path, capsys):
    folder = resumable(tmp_path / "hostile")
    status = main(["resume", str(folder)])
    one_line_error(capsys, status, "holds no saved experiment state", "nothing to resume")


@pytest.mark.slow
@pytest.mark.ray
def test_a_damaged_state_the_user_trusts_is_one_line(tmp_path, capsys):
    folder = resumable(tmp_path / "hostile")
    (folder / "tuner.pkl").write_bytes(sign(b"not a pickle", signing_key()))
    (folder / "experiment_state-2099-01-01_00-00-00.json").write_text('{"trial_data": 3}')
    with local_ray_session():
        capsys.readouterr()
        status = main(["resume", str(folder), "--trust-storage"])
    one_line_error(capsys, status, "Ray Tune cannot restore the experiment", "damaged")
