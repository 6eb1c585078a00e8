"""The Ray Jobs client without a cluster: addresses, storage, the entrypoint, the staged space,
error lines, and following a job through a stand-in client."""

from __future__ import annotations

import io
import shlex
import socket
from pathlib import Path

import numpy as np
import pytest
import yaml

from tune_bs.cli import main
from tune_bs.cli_parser import build_parser
from tune_bs.errors import UserInputError
from tune_bs.search import cluster_python, job_spec, jobs
from tune_bs.search.experiment import RunOptions

SPACE = {
    "name": "tiny",
    "dataset": {"name": "ItalyPowerDemand"},
    "num_samples": 2,
    "scheduler": {"name": "fifo"},
    "param_space": {"batch_size": 8},
}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("http://head:8265", "http://head:8265"),
        ("head:8265", "http://head:8265"),
        ("https://ray.example.org:443/", "https://ray.example.org:443"),
        (" 127.0.0.1:1234 ", "http://127.0.0.1:1234"),
    ],
)
def test_dashboard_url_normalises(given, url):
    assert jobs.dashboard_url(given) == url


@pytest.mark.parametrize("bad", ["ray://head:10001", "auto", "http://head", "head:port", ""])
def test_dashboard_url_rejects_what_is_not_a_dashboard_url(bad):
    with pytest.raises(UserInputError, match=r"--address must be the Ray dashboard's URL"):
        jobs.dashboard_url(bad)


def test_storage_paths_and_uris_pass_relative_paths_are_refused():
    assert job_spec.job_storage(None) == job_spec.DEFAULT_STORAGE == "~/tune_bs_results"
    for kept in ("/shared/results", "s3://bucket/results", "gs://b/r", "~/results"):
        assert job_spec.job_storage(kept) == kept
    with pytest.raises(UserInputError, match=r"absolute path.*but got --storage 'results'"):
        job_spec.job_storage("results")


def test_entrypoint_is_a_valid_run_command_with_the_same_options():
    options = RunOptions(num_samples=3, smoke_test=True, cpus_per_trial=2.0, gpus_per_trial=0.25)
    line = job_spec.build_entrypoint("my space.yaml", "/shared/r s", "exp", options, debug=True)
    argv = shlex.split(line)
    assert argv[:3] == ["python", "-m", "tune_bs"]
    args = build_parser().parse_args(argv[3:])
    assert (args.command, args.debug, args.address) == ("run", True, "auto")
    assert (args.space, args.storage, args.name) == (Path("my space.yaml"), "/shared/r s", "exp")
    assert (args.num_samples, args.smoke_test) == (3, True)
    assert (args.cpus_per_trial, args.gpus_per_trial) == (2.0, 0.25)
    plain = shlex.split(job_spec.build_entrypoint("s.yaml", "~/x", "e", RunOptions()))
    assert plain == [
        "python",
        "-m",
        "tune_bs",
        "run",
        "s.yaml",
        "--address",
        "auto",
        "--storage",
        "~/x",
        "--name",
        "e",
    ]


def test_experiment_name_matches_run():
    from tune_bs.search.experiment import RunOptions, experiment_name
    from tune_bs.search.space import parse_space

    space = parse_space(
        {"name": "default", "dataset": {"name": "GunPoint"}, "param_space": {"batch_size": 8}}
    )
    assert experiment_name(space, None, RunOptions()) == "default"
    assert experiment_name(space, None, RunOptions(smoke_test=True)) == "default-smoke"
    assert experiment_name(space, "mine", RunOptions(smoke_test=True)) == "mine"


def test_stage_space_copies_the_file_verbatim(tmp_path):
    source = tmp_path / "x.yaml"
    source.write_text("# a comment\n" + yaml.safe_dump(SPACE))
    staging = tmp_path / "staging"
    staging.mkdir()
    assert job_spec.stage_space(source, staging) == "x.yaml"
    assert (staging / "x.yaml").read_text() == source.read_text()


def test_stage_space_carries_a_relative_data_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "arrays").mkdir()
    np.savez(tmp_path / "arrays" / "my.npz", X=np.zeros((4, 1, 8), dtype=np.float32))
    source = tmp_path / "s.yml"
    source.write_text(yaml.safe_dump({**SPACE, "dataset": {"path": "arrays/my.npz"}}))
    staging = tmp_path / "staging"
    staging.mkdir()
    name = job_spec.stage_space(source, staging)
    staged = yaml.safe_load((staging / name).read_text())
    assert staged["dataset"] == {"path": "data/my.npz"}
    assert (staging / "data" / "my.npz").read_bytes() == (tmp_path / "arrays/my.npz").read_bytes()

    source.write_text(yaml.safe_dump({**SPACE, "dataset": {"path": "missing.npz"}}))
    with pytest.raises(UserInputError, match=r"dataset.path 'missing.npz' does not exist"):
        job_spec.stage_space(source, tmp_path / "staging")


def test_stage_space_leaves_an_absolute_data_path(tmp_path):
    source = tmp_path / "s.yaml"
    source.write_text(yaml.safe_dump({**SPACE, "dataset": {"path": "/shared/data/big.npz"}}))
    (tmp_path / "staging").mkdir()
    job_spec.stage_space(source, tmp_path / "staging")
    assert not (tmp_path / "staging" / "data").exists()
    assert (tmp_path / "staging" / "s.yaml").read_text() == source.read_text()


def test_runtime_env_carries_this_package_and_the_staged_folder(tmp_path):
    env = job_spec.runtime_env(tmp_path)
    assert env["working_dir"] == str(tmp_path)
    (package,) = env["py_modules"]
    assert Path(package).name == "tune_bs"
    assert (Path(package) / "cli.py").is_file() and (Path(package) / "__main__.py").is_file()
    assert (Path(package) / "search_spaces" / "default.yaml").is_file()


@pytest.mark.parametrize(
    "command",
    [
        ["status", "some_job"],
        ["logs", "some_job"],
        ["submit", "SPACE"],
    ],
)
def test_unreachable_address_is_one_line_naming_address_and_fix(command, capsys, tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump(SPACE))
    address = f"http://127.0.0.1:{closed_port()}"
    argv = [str(space) if a == "SPACE" else a for a in command]
    assert main([*argv, "--address", address]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert f"--address {address!r} cannot be reached" in err[0]
    assert "ray start --head" in err[0]


def test_submit_checks_the_space_and_options_before_connecting(capsys, tmp_path):
    address = f"http://127.0.0.1:{closed_port()}"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**SPACE, "schedulr": {"name": "fifo"}}))
    assert main(["submit", str(bad), "--address", address]) == 2
    assert "did you mean 'scheduler'" in capsys.readouterr().err
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(SPACE))
    assert main(["submit", str(good), "--address", address, "--storage", "rel"]) == 2
    assert "--storage 'rel'" in capsys.readouterr().err
    assert main(["submit", str(good), "--address", address, "--gpus-per-trial", "-1"]) == 2
    assert "--gpus-per-trial must be at least 0" in capsys.readouterr().err


class Info:
    def __init__(self, status: str):
        self.status, self.message, self.entrypoint = status, "done", "python -m tune_bs run"
        self.metadata = {jobs.RESULTS_KEY: "/shared/results/tiny"}
        self.start_time, self.end_time = 1_700_000_000_000, 1_700_000_042_000


class FakeClient:
    """Stands in for JobSubmissionClient: a job that printed LOGS and ended with ``status``."""

    LOGS = "line one\nline two\nline three\n"

    def __init__(self, status: str = "SUCCEEDED", tail_breaks_after: int | None = None):
        self.status, self.tail_breaks_after = status, tail_breaks_after

    async def tail_job_logs(self, job_id):
        for i, line in enumerate(self.LOGS.splitlines(keepends=True)):
            if self.tail_breaks_after is not None and i == self.tail_breaks_after:
                raise RuntimeError("connection closed unexpectedly")
            yield line

    def get_job_status(self, job_id):
        if job_id != "job_1":
            raise RuntimeError("Request failed with status code 404: Job job_x does not exist.")
        return self.status

    def get_job_logs(self, job_id):
        return self.LOGS

    def get_job_info(self, job_id):
        return Info(self.get_job_status(job_id))


@pytest.mark.parametrize(("status", "code"), [("SUCCEEDED", 0), ("FAILED", 1), ("STOPPED", 1)])
@pytest.mark.parametrize("breaks", [None, 1, 0])
def test_follow_prints_every_log_line_once_and_returns_the_outcome(
    monkeypatch, status, code, breaks
):
    monkeypatch.setattr(jobs, "connect", lambda address: FakeClient(status, breaks))
    out = io.StringIO()
    state = jobs.follow_job("job_1", "http://h:8265", out=out, poll_s=0)
    assert out.getvalue() == FakeClient.LOGS
    assert state.status == status and jobs.exit_status(state) == code
    assert state.results == "/shared/results/tiny" and state.end_time - state.start_time == 42


def test_unknown_job_is_a_user_error(monkeypatch):
    monkeypatch.setattr(jobs, "connect", lambda address: FakeClient())
    with pytest.raises(UserInputError, match=r"job 'job_x' does not exist.*ray job list"):
        jobs.job_state("job_x", "http://h:8265")
    with pytest.raises(UserInputError, match=r"job 'job_x' does not exist"):
        jobs.follow_job("job_x", "http://h:8265", out=io.StringIO())


def test_status_and_logs_commands_print_what_the_cluster_says(monkeypatch, capsys):
    monkeypatch.setattr(jobs, "connect", lambda address: FakeClient("FAILED"))
    assert main(["status", "job_1", "--address", "h:8265"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("job_1: FAILED — done\n")
    assert "ran 42 s" in out and "results (on the cluster): /shared/results/tiny" in out
    assert main(["logs", "job_1", "--address", "h:8265"]) == 0
    assert capsys.readouterr().out == FakeClient.LOGS
    assert main(["logs", "job_1", "--address", "h:8265", "--follow"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(FakeClient.LOGS) and "tune-bs: job job_1 FAILED" in out


class ShellClient:
    """Stands in for JobSubmissionClient by doing what Ray Jobs does with an entrypoint: run it
    in a shell with the head's environment (here: a given ``PATH``)."""

    def __init__(self, path: str):
        self.path, self.jobs, self.deleted = path, {}, []

    def submit_job(self, entrypoint, submission_id, runtime_env):
        import subprocess

        done = subprocess.run(
            entrypoint,
            shell=True,
            capture_output=True,
            text=True,
            env={"PATH": self.path, **runtime_env["env_vars"]},
            timeout=120,
        )
        status = "SUCCEEDED" if done.returncode == 0 else "FAILED"
        self.jobs[submission_id] = (status, done.stdout + done.stderr)

    def get_job_status(self, job_id):
        return self.jobs[job_id][0]

    def get_job_logs(self, job_id):
        return self.jobs[job_id][1]

    def delete_job(self, job_id):
        self.deleted.append(job_id)


def python_lacking_sklearn(folder: Path) -> Path | None:
    """A folder whose ``python`` is an interpreter without scikit-learn (the system's)."""
    import subprocess

    for candidate in ("/usr/bin/python3", "/bin/python3"):
        if (
            Path(candidate).exists()
            and subprocess.run([candidate, "-c", "import sklearn"], capture_output=True).returncode
            != 0
        ):
            (folder / "python").symlink_to(candidate)
            return folder
    return None


def test_the_cluster_python_is_checked_and_named_before_submitting(tmp_path):
    import sys

    good = ShellClient(str(Path(sys.executable).parent))
    python = cluster_python.check_cluster_python(good, "http://h:8265")
    assert python.executable == sys.executable and python.ray is not None
    assert "Python 3." in python.describe()
    assert len(good.deleted) == 1  # the check job is not left in the cluster's list

    bare = python_lacking_sklearn(tmp_path)
    if bare is None:
        pytest.skip("no interpreter without scikit-learn on this machine")
    with pytest.raises(UserInputError) as refused:
        cluster_python.check_cluster_python(ShellClient(str(bare)), "http://h:8265")
    message = str(refused.value)
    assert "\n" not in message and "lacks" in message and "sklearn" in message
    assert str(bare / "python") in message  # the interpreter, by the path the job uses
    assert "activate its virtualenv before `ray start --head`" in message


def test_a_cluster_without_python_is_refused_in_one_line(tmp_path):
    with pytest.raises(UserInputError) as refused:
        cluster_python.check_cluster_python(
            ShellClient(str(tmp_path)), "http://h:8265"
        )  # no python
    message = str(refused.value)
    assert "\n" not in message and "cannot run `python` for the job" in message
    assert "not found" in message  # what the shell said
