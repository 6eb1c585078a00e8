"""Progress bars (tune_bs.progress): drawn on a terminal, silent otherwise — for the bars
themselves and for the commands that show them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from test_report_helpers import gunpoint_experiment

from tune_bs.cli import main
from tune_bs.progress import Steps, bar


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_steps_draw_each_step_on_a_terminal() -> None:
    out = Terminal()
    with Steps("export", 3, file=out) as step:
        assert step.shown
        for name in ("loading the data", "embedding", "probing"):
            step(name)
    text = out.getvalue()
    assert "export" in text and "loading the data" in text and "probing" in text
    assert text.endswith("\r") and text.rstrip("\r").endswith(" ")  # cleared when done


def test_a_bar_shows_its_total_on_a_terminal() -> None:
    out = Terminal()
    assert list(bar(range(4), desc="epochs", unit="epoch", file=out)) == [0, 1, 2, 3]
    assert "epochs:   0%" in out.getvalue() and "0/4" in out.getvalue()


def test_nothing_is_written_when_the_stream_is_not_a_terminal() -> None:
    out = io.StringIO()
    with Steps("export", 2, file=out) as step:
        assert not step.shown
        step("one")
        step("two")
    assert list(bar(range(3), desc="epochs", file=out)) == [0, 1, 2]
    assert out.getvalue() == ""


def test_tqdm_disable_turns_bars_off_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TQDM_DISABLE", "1")
    out = Terminal()
    with Steps("export", 1, file=out) as step:
        step("one")
    assert out.getvalue() == ""


def test_report_prints_no_bar_when_stderr_is_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    experiment = gunpoint_experiment(tmp_path / "results")
    assert main(["report", str(experiment), "--out", str(tmp_path / "report")]) == 0
    captured = capsys.readouterr()
    assert "Trials (sorted by" in captured.out
    assert "tune-bs report" not in captured.err and "\r" not in captured.err
