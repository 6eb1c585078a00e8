"""The PNG plots: written, non-empty, and with the expected lines, markers and bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_report_helpers import gunpoint_experiment, synthetic_experiment

from tune_bs import metrics as m
from tune_bs.report import plots
from tune_bs.report.comparison import comparison_table
from tune_bs.report.frame import load_trials

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def frame(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return load_trials([gunpoint_experiment(tmp_path_factory.mktemp("results"))])


def _visible_axes(figure):
    return [a for a in figure.axes if a.get_visible()]


def test_val_loss_lines_per_trial_and_switch_markers(frame) -> None:
    figure = plots.val_loss_figure(frame)
    (axes,) = _visible_axes(figure)
    curves = [line for line in axes.lines if line.get_linestyle() != "None"]
    markers = [line for line in axes.lines if line.get_marker() == "x"]
    assert len(curves) == 6  # 7 trials, the pending one has no report
    assert len(markers) == 1  # one switch, in trial 00002
    np.testing.assert_allclose(markers[0].get_xdata(), [150])
    np.testing.assert_allclose(markers[0].get_ydata(), [1.9 + (1.55 - 1.9) / 2])
    assert axes.get_xlabel().startswith("samples seen")
    assert "GunPoint" in axes.get_title()
    labels = [t.get_text() for t in axes.get_legend().get_texts()]
    assert labels == ["strategy: fixed", "strategy: stratified", "batch-size switch"]


def test_probe_vs_time_has_a_line_per_reporting_trial(frame) -> None:
    (axes,) = _visible_axes(plots.probe_vs_time_figure(frame))
    assert len(axes.lines) == 6
    assert axes.get_xlabel() == "wall time (s)"


def test_batch_schedule_is_a_step_plot_to_the_last_sample(frame) -> None:
    (axes,) = _visible_axes(plots.batch_schedule_figure(frame))
    steps = [line for line in axes.lines if line.get_linestyle() != "None"]
    assert len(steps) == 6
    switched = [line for line in steps if 32 in line.get_ydata() and 16 in line.get_ydata()]
    (line,) = switched
    assert list(line.get_xdata()) == [0, 150, 300]
    assert list(line.get_ydata()) == [16, 32, 32]
    assert axes.get_yscale() == "log"
    # the switch is marked x at the samples seen when it happened, at its new size
    (marks,) = [line for line in axes.lines if line.get_marker() == "x"]
    assert list(marks.get_xdata()) == [150] and list(marks.get_ydata()) == [32]
    labels = [t.get_text() for t in axes.get_legend().get_texts()]
    assert labels[-1] == "batch-size switch"


def test_time_to_target_bars(frame) -> None:
    comparison = comparison_table(frame, metric=m.VAL_PROBE_ACC, mode="max")
    (axes,) = _visible_axes(plots.time_to_target_figure(comparison))
    heights = [bar.get_height() for bar in axes.patches]
    assert heights == pytest.approx([2.6, 3.0, 0.0])
    notes = [t.get_text() for t in axes.texts]
    assert notes == ["2.6 s", "3 s", "not reached"]
    ticks = [t.get_text() for t in axes.get_xticklabels()]
    assert ticks == ["fixed / extrapolation", "fixed / fifo", "stratified / fifo"]


def test_one_panel_per_dataset(tmp_path: Path) -> None:
    gunpoint_experiment(tmp_path)
    synthetic_experiment(tmp_path)
    figure = plots.val_loss_figure(load_trials([tmp_path]))
    titles = [a.get_title() for a in _visible_axes(figure)]
    assert len(titles) == 2 and "synthetic" in titles[1]


def test_png_files_are_written(frame, tmp_path: Path) -> None:
    written = [
        plots.plot_val_loss(frame, tmp_path / "a.png"),
        plots.plot_probe_vs_time(frame, tmp_path / "b.png"),
        plots.plot_batch_schedule(frame, tmp_path / "c.png"),
        plots.plot_time_to_target(
            comparison_table(frame, metric=m.VAL_PROBE_ACC, mode="max"), tmp_path / "sub" / "d.png"
        ),
    ]
    for path in written:
        data = path.read_bytes()
        assert data.startswith(PNG)
        assert len(data) > 10_000
