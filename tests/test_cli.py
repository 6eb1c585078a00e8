"""The command line without Ray: validate, datasets, and bad input (one line, exit status 2)."""

import subprocess
import sys
from pathlib import Path

import pytest

from tune_bs.cli import default_space_path, main
from tune_bs.cli_parser import build_parser

ROOT = Path(__file__).parents[1]


def test_packaged_default_space_is_the_repository_file():
    assert default_space_path().read_text() == (ROOT / "search_spaces/default.yaml").read_text()


def test_validate_ok(capsys):
    assert main(["validate", str(ROOT / "search_spaces/default.yaml")]) == 0
    assert "ok — GunPoint" in capsys.readouterr().out


def test_datasets_lists_shipped_sets(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "GunPoint" in out and "BasicMotions" in out and "synthetic" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("dataset: {name: Nope}\nparam_space: {batch_size: 8}\n", "dataset.name must be one of"),
        (
            "dataset: {name: GunPoint}\nparam_space: {batch_size: 64}\n",
            "at most the number of training series (40)",
        ),
        ("dataset: [\n", "not valid YAML at line"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, content, message):
    path = tmp_path / "space.yaml"
    path.write_text(content)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_debug_shows_the_traceback(tmp_path, capsys):
    assert main(["--debug", "validate", str(tmp_path / "missing.yaml")]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_run_rejects_bad_flags_before_starting_ray(capsys):
    assert main(["run", "--num-samples", "0"]) == 2
    assert "--num-samples must be a positive integer" in capsys.readouterr().err


def test_python_dash_m_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "tune_bs", "--help"], capture_output=True, text=True, check=True
    )
    assert "resume" in out.stdout and "validate" in out.stdout


def test_report_on_a_folder_without_an_experiment_says_what_to_run(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "tune-bs run" in err and err.count("\n") == 1


def test_storage_uris_are_opened_through_pyarrow(tmp_path):
    from tune_bs.search.storage import Location

    local = Location.open(tmp_path / "a")
    assert local.is_local and local.local_path == tmp_path / "a"
    uri = Location.open(f"file://{tmp_path}/b")
    assert uri.uri == f"file://{tmp_path}/b" and uri.path == f"{tmp_path}/b"
    uri.make_writable()
    folder = uri.child("exp")
    folder.make_writable()
    folder.write_text("x.txt", "hello")
    assert folder.read_text("x.txt") == "hello" and not folder.holds_experiment()


@pytest.mark.parametrize(
    "command",
    [
        ["validate", "missing.yaml"],
        ["report", "missing"],
        ["export", "missing", "--out", "x"],
        ["downstream", "missing"],
        ["resume", "missing"],
    ],
)
def test_debug_is_accepted_after_every_subcommand(tmp_path, capsys, command):
    """--debug before or after the subcommand's name: the one-line error gains the traceback."""
    args = [str(tmp_path / a) if a.startswith("missing") else a for a in command]
    assert main(args) == 2
    plain = capsys.readouterr().err
    assert "Traceback" not in plain and plain.count("\n") == 1
    assert main([*args, "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err
    assert main(["--debug", *args]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_report_defaults_to_the_experiments_own_metric_and_mode():
    parser = build_parser()
    args = parser.parse_args(["report", "results"])
    assert (args.metric, args.mode) == (None, None)  # write_report reads tune_bs_space.yaml
