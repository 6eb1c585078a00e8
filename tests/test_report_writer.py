"""`write_report` (what `tune-bs report` calls), `summary_text` (end of `tune-bs run`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_report_helpers import gunpoint_experiment, synthetic_experiment, trial_config, write_trial

from tune_bs import metrics as m
from tune_bs.errors import UserInputError
from tune_bs.report import comparison_text, summary_text, write_report


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gunpoint_experiment(tmp_path_factory.mktemp("results"))


def test_markdown_report_in_the_default_folder(experiment: Path) -> None:
    written = write_report([experiment], metric=m.VAL_PROBE_ACC)
    assert written.out_dir == experiment / "report"
    assert sorted(p.name for p in written.files) == [
        "batch_size_schedule.png",
        "comparison.md",
        "probe_vs_time.png",
        "time_to_target.png",
        "trials.md",
        "val_loss_vs_samples.png",
    ]
    assert all(p.is_file() and p.stat().st_size > 0 for p in written.files)
    assert written.tables["trials"].read_text() in written.text
    assert "0.85 ± 0.071" in written.tables["comparison"].read_text()
    assert "7 trials: 3 TERMINATED, 1 UNFINISHED, 1 ERROR, 1 DIVERGED, 1 PENDING" in written.text
    assert "tune-bs resume" in written.text
    assert written.text.rstrip().endswith(
        "val_loss_vs_samples.png, probe_vs_time.png, batch_size_schedule.png, time_to_target.png"
    )


@pytest.mark.parametrize(("fmt", "ext"), [("csv", "csv"), ("latex", "tex")])
def test_every_format_is_written(experiment: Path, tmp_path: Path, fmt: str, ext: str) -> None:
    written = write_report(experiment, fmt=fmt, out_dir=tmp_path / "out", metric=m.VAL_PROBE_ACC)
    assert written.tables["trials"] == tmp_path / "out" / f"trials.{ext}"
    text = written.tables["comparison"].read_text()
    if fmt == "csv":
        comparison = pd.read_csv(written.tables["comparison"])
        assert comparison["val_probe_acc_mean"].tolist() == pytest.approx([0.89, 0.85, 0.3])
        trials = pd.read_csv(written.tables["trials"])
        assert trials["trial_id"].is_unique and len(trials) == 7
    else:
        assert text.startswith(r"\begin{tabular}") and r"$\pm$" in text
    # html: one self-contained report.html (tests/test_report_html.py)


def test_combined_report_from_two_dirs(experiment: Path, tmp_path: Path) -> None:
    other = synthetic_experiment(tmp_path)
    written = write_report([experiment, other], fmt="csv", out_dir=tmp_path / "out")
    comparison = pd.read_csv(written.tables["comparison"])
    assert comparison["dataset"].tolist() == ["GunPoint"] * 3 + ["synthetic"]


def test_bad_inputs_are_user_errors(experiment: Path, tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="format must be one of"):
        write_report([experiment], fmt="pdf", out_dir=tmp_path)
    with pytest.raises(UserInputError, match="metric must be one the trials reported"):
        write_report([experiment], metric=m.VAL_PROBE_R2, out_dir=tmp_path)
    with pytest.raises(UserInputError, match="holds no tune-bs experiment"):
        write_report([tmp_path / "nothing"], out_dir=tmp_path)
    assert not list(tmp_path.iterdir())  # nothing written on failure


def test_summary_text_is_the_markdown_trial_table(experiment: Path) -> None:
    text = summary_text(experiment, metric=m.VAL_LOSS, mode="min")
    lines = text.splitlines()
    assert lines[0].split("|")[1].strip() == "trial_id"
    assert "batch_size_schedule" in lines[0] and "status" in lines[0]
    assert lines[2].split("|")[1].strip() == "a1b2c_00000"  # lowest val_loss first
    assert lines[-1] == f"results: {experiment}"
    status = next(i for i, line in enumerate(lines) if line.startswith("7 trials:"))
    assert lines[status + 1].startswith("selected on validation: trial a1b2c_00000 at report 3")
    assert "val_loss = 1.2" in lines[status + 1]
    assert lines[status + 2].startswith("  its test score: test_probe_acc = 0.9")


def test_summary_text_explains_an_experiment_without_results(tmp_path: Path) -> None:
    exp = tmp_path / "exp"
    write_trial(exp, 0, trial_config(), [], error=True)
    text = summary_text(exp)
    assert "none reported a result (1 ERROR)" in text
    assert "\n" not in text


def test_comparison_text_is_the_markdown_comparison_of_several_experiments(
    experiment: Path, tmp_path: Path
) -> None:
    text = comparison_text([experiment, synthetic_experiment(tmp_path)])
    header, _, *rows = text.splitlines()
    assert "scheduler" in header and "dataset" in header
    assert [r.split("|")[1].strip() for r in rows] == ["GunPoint"] * 3 + ["synthetic"]
    assert "holds no tune-bs experiment" in comparison_text([tmp_path / "nothing"])
