"""PNG plots of an experiment: learning curves, probe accuracy over wall time, batch-size schedules,
time to target.

Figures are drawn on matplotlib's Agg canvas directly (``Figure`` + ``FigureCanvasAgg``), so nothing
here touches ``pyplot``'s global state or needs a display. Per-trial plots draw one panel per data
set, one line per trial, coloured by strategy (docs/design.md §4: x is samples seen or wall time,
never
iterations). Each function returns the path it wrote.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import ScalarFormatter

from tune_bs import metrics as m
from tune_bs.report.frame import EXPERIMENT, TRIAL_ID, parse_schedule
from tune_bs.report.tables import DATASET, ENCODER, SCHEDULER, STRATEGY

_PANEL_SIZE = (6.0, 4.2)
_DPI = 110
_LABELS = {
    m.VAL_LOSS: "validation NT-Xent loss (nats, fixed eval batch)",
    m.VAL_PROBE_ACC: "linear-probe accuracy (5-fold CV on the train split, 0–1)",
    m.VAL_PROBE_R2: "ridge-probe R² (5-fold CV on the train split)",
    m.TEST_PROBE_ACC: "linear-probe accuracy (test split, 0–1)",
    m.TEST_PROBE_R2: "ridge-probe R² (test split)",
    m.SAMPLES_SEEN: "samples seen (training series)",
    m.TIME_TOTAL_S: "wall time (s)",
    m.BATCH_SIZE: "batch size (series per step, log₂ scale)",
}


def plot_val_loss(frame: pd.DataFrame, path: Path) -> Path:
    """Write :func:`val_loss_figure` as a PNG."""
    return _save(val_loss_figure(frame), path)


def plot_probe_vs_time(frame: pd.DataFrame, path: Path, metric: str = m.VAL_PROBE_ACC) -> Path:
    """Write :func:`probe_vs_time_figure` as a PNG."""
    return _save(probe_vs_time_figure(frame, metric), path)


def plot_batch_schedule(frame: pd.DataFrame, path: Path) -> Path:
    """Write :func:`batch_schedule_figure` as a PNG."""
    return _save(batch_schedule_figure(frame), path)


def plot_time_to_target(comparison: pd.DataFrame, path: Path) -> Path:
    """Write :func:`time_to_target_figure` as a PNG."""
    return _save(time_to_target_figure(comparison), path)


def val_loss_figure(frame: pd.DataFrame) -> Figure:
    """``val_loss`` against samples seen, one line per trial, batch-size switches marked ×."""
    fig, panels = _figure(frame)
    colours = _colours(frame)
    for axes, dataset, data in panels:
        switched = False
        for trial in _trials(data, m.SAMPLES_SEEN, m.VAL_LOSS):
            x = trial[m.SAMPLES_SEEN].to_numpy(float)
            y = trial[m.VAL_LOSS].to_numpy(float)
            colour = colours[_strategy(trial)]
            axes.plot(x, y, marker=".", color=colour, alpha=0.8, linewidth=1.2)
            switches = _switch_samples(trial)
            if switches.size:
                axes.plot(switches, np.interp(switches, x, y), "x", color=colour, markersize=7)
                switched = True
        _decorate(axes, dataset, m.SAMPLES_SEEN, m.VAL_LOSS, "Validation loss vs samples seen")
        _legend(axes, _present(colours, data), switch_marker=switched)
    fig.tight_layout()
    return fig


def probe_vs_time_figure(frame: pd.DataFrame, metric: str = m.VAL_PROBE_ACC) -> Figure:
    """A probe metric (``val_probe_acc`` by default, or any ``*_probe_*``) against wall time, one
    line per trial."""
    fig, panels = _figure(frame)
    colours = _colours(frame)
    for axes, dataset, data in panels:
        for trial in _trials(data, m.TIME_TOTAL_S, metric):
            axes.plot(
                trial[m.TIME_TOTAL_S].to_numpy(float),
                trial[metric].to_numpy(float),
                marker=".",
                color=colours[_strategy(trial)],
                alpha=0.8,
                linewidth=1.2,
            )
        kind = "accuracy" if metric.endswith("acc") else "R²"
        split = "validation (CV)" if metric.startswith("val_") else "test"
        title = f"Probe {kind}, {split}, vs wall time"
        _decorate(axes, dataset, m.TIME_TOTAL_S, metric, title)
        _legend(axes, _present(colours, data))
    fig.tight_layout()
    return fig


def batch_schedule_figure(frame: pd.DataFrame) -> Figure:
    """Each trial's batch size over samples seen, as a step plot of its ``batch_size_schedule``;
    each switch marked × at its new size."""
    fig, panels = _figure(frame)
    colours = _colours(frame)
    for axes, dataset, data in panels:
        drawn = switched = False
        for trial in _trials(data, m.SAMPLES_SEEN, m.BATCH_SIZE):
            steps = _schedule_steps(trial)
            if not steps:
                continue
            x = [s for s, _ in steps] + [max(trial[m.SAMPLES_SEEN].max(), steps[-1][0])]
            y = [b for _, b in steps] + [steps[-1][1]]
            colour = colours[_strategy(trial)]
            axes.step(x, y, where="post", color=colour, alpha=0.8)
            marks = [(s, b) for i, (s, b) in enumerate(steps) if i and b != steps[i - 1][1]]
            if marks:  # each switch: at the samples seen when it happened, at its new size
                axes.plot(*zip(*marks, strict=True), "x", color=colour, markersize=8)
                switched = True
            drawn = True
        if drawn:
            axes.set_yscale("log", base=2)
            axes.yaxis.set_major_formatter(ScalarFormatter())  # 16, 32, not 2^4, 2^5
        _decorate(axes, dataset, m.SAMPLES_SEEN, m.BATCH_SIZE, "Batch-size schedule")
        _legend(axes, _present(colours, data), switch_marker=switched)
    fig.tight_layout()
    return fig


def time_to_target_figure(comparison: pd.DataFrame) -> Figure:
    """Bars of mean wall time to the target per comparison row (strategy / scheduler / …).

    The bar is the mean over the group's trials that reached the target, coloured by strategy; a
    group none of whose trials reached it gets no bar and a "not reached" label.
    """
    labels = _group_labels(comparison)
    heights = pd.to_numeric(comparison.get("time_to_target_s"), errors="coerce")
    fig = Figure(figsize=(max(6.0, 1.1 * len(labels) + 2), 4.6), dpi=_DPI)
    FigureCanvasAgg(fig)
    axes = fig.add_subplot()
    positions = np.arange(len(labels))
    values = np.nan_to_num(heights.to_numpy(float), nan=0.0)
    colours = _colours(comparison)
    strategies = [str(s) if pd.notna(s) else "n/a" for s in comparison.get(STRATEGY, [])]
    bar_colours = [colours.get(s, "C0") for s in strategies] or "C0"
    bars = axes.bar(positions, values, color=bar_colours)
    for bar, height in zip(bars, heights, strict=True):
        text = "not reached" if not math.isfinite(height) else f"{height:.3g} s"
        axes.annotate(
            text,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    axes.set_xticks(positions, labels, rotation=30, ha="right", fontsize=8)
    axes.set_ylabel("wall time to target (s, mean over trials)")
    axes.set_ylim(0, 1.3 * (values.max() if values.size and values.max() > 0 else 1.0))
    target = _target_text(comparison)
    axes.set_title(f"Time to reach the target{target}")
    _legend(axes, _present(colours, comparison), patches=True)
    fig.tight_layout()
    return fig


def _figure(frame: pd.DataFrame) -> tuple[Figure, list[tuple[Axes, str, pd.DataFrame]]]:
    """A figure with one panel per data set (up to 3 per row)."""
    if DATASET in frame and frame[DATASET].notna().any():
        groups = [
            (str(d) if pd.notna(d) else "n/a", g)
            for d, g in frame.groupby(DATASET, sort=True, dropna=False)
        ]
    else:
        groups = [("", frame)]
    cols = min(len(groups), 3)
    rows = math.ceil(len(groups) / cols)
    fig = Figure(figsize=(_PANEL_SIZE[0] * cols, _PANEL_SIZE[1] * rows), dpi=_DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for extra in axes[len(groups) :]:
        extra.set_visible(False)
    return fig, [(axes[i], d, g) for i, (d, g) in enumerate(groups)]


def _trials(data: pd.DataFrame, x: str, y: str) -> Iterator[pd.DataFrame]:
    """Each trial's rows with finite ``x`` and ``y``, in training order."""
    if x not in data or y not in data:
        return
    order = [m.TRAINING_ITERATION] if m.TRAINING_ITERATION in data else []
    for _, trial in data.groupby([EXPERIMENT, TRIAL_ID], sort=True):
        trial = trial.sort_values(order) if order else trial
        xs = pd.to_numeric(trial[x], errors="coerce")
        ys = pd.to_numeric(trial[y], errors="coerce")
        keep = np.isfinite(xs) & np.isfinite(ys)
        if keep.any():
            yield trial[keep]


def _strategy(trial: pd.DataFrame) -> str:
    if STRATEGY not in trial:
        return "n/a"
    values = trial[STRATEGY].dropna()
    return str(values.iloc[0]) if len(values) else "n/a"


def _colours(frame: pd.DataFrame) -> dict[str, str]:
    names = sorted({str(s) for s in frame[STRATEGY].dropna()} if STRATEGY in frame else set()) or [
        "n/a"
    ]
    if STRATEGY in frame and frame[STRATEGY].isna().any():
        names.append("n/a")
    return {name: f"C{i % 10}" for i, name in enumerate(dict.fromkeys(names))}


def _schedule_steps(trial: pd.DataFrame) -> list[tuple[int, int]]:
    """The trial's last logged schedule, or its reported batch sizes when no schedule was logged."""
    if m.BATCH_SIZE_SCHEDULE in trial:
        logged = trial[m.BATCH_SIZE_SCHEDULE].dropna()
        steps = parse_schedule(logged.iloc[-1]) if len(logged) else []
        if steps:
            return steps
    if m.SAMPLES_SEEN not in trial or m.BATCH_SIZE not in trial:
        return []
    sizes = trial[[m.SAMPLES_SEEN, m.BATCH_SIZE]].dropna()
    return [(0 if i == 0 else int(s), int(b)) for i, (s, b) in enumerate(sizes.to_numpy())]


def _switch_samples(trial: pd.DataFrame) -> np.ndarray:
    steps = _schedule_steps(trial)
    switches = [s for i, (s, b) in enumerate(steps) if i > 0 and b != steps[i - 1][1]]
    return np.asarray(switches, dtype=float)


def _decorate(axes: Axes, dataset: str, x: str, y: str, title: str) -> None:
    axes.set_title(f"{title} — {dataset}" if dataset else title)
    axes.set_xlabel(_LABELS.get(x, x))
    axes.set_ylabel(_LABELS.get(y, y))
    axes.grid(True, alpha=0.3)
    if not axes.lines:
        axes.text(
            0.5, 0.5, "no reports to plot", ha="center", va="center", transform=axes.transAxes
        )


def _present(colours: dict[str, str], data: pd.DataFrame) -> dict[str, str]:
    """The colours of the strategies that appear in ``data``."""
    if STRATEGY not in data:
        return colours
    names = {str(s) if pd.notna(s) else "n/a" for s in data[STRATEGY]}
    return {name: c for name, c in colours.items() if name in names}


def _legend(
    axes: Axes, colours: dict[str, str], switch_marker: bool = False, patches: bool = False
) -> None:
    if patches:
        handles = [Patch(color=c, label=f"strategy: {name}") for name, c in colours.items()]
    else:
        handles = [
            Line2D([], [], color=c, marker=".", label=f"strategy: {name}")
            for name, c in colours.items()
        ]
    if switch_marker:
        handles.append(
            Line2D([], [], color="black", marker="x", linestyle="", label="batch-size switch")
        )
    axes.legend(handles=handles, fontsize=8, loc="best")


def _group_labels(comparison: pd.DataFrame) -> list[str]:
    keys = [STRATEGY, SCHEDULER]
    keys += [k for k in (ENCODER, DATASET) if k in comparison and comparison[k].nunique() > 1]
    keys = [k for k in keys if k in comparison]
    return [" / ".join(str(row[k]) for k in keys) for _, row in comparison.iterrows()]


def _target_text(comparison: pd.DataFrame) -> str:
    if "target" not in comparison:
        return ""
    targets = pd.to_numeric(comparison["target"], errors="coerce").dropna().unique()
    if len(targets) == 1:
        return f" (target {targets[0]:.3g})"
    return " (target per data set)"


def _save(fig: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
