"""The grid suite's outputs (:mod:`schedulers`): the CSV, the markdown table and the plot of each
method's compute-to-target ratio to the grid, and their redrawing from a written CSV.

The plot is a function of the CSV alone (``python benchmarks/schedulers.py --redraw FOLDER``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scheduler_figures as fig

from tune_bs.report.formats import render


def plot_ratios(frame: pd.DataFrame, methods: list[str], path: Path) -> Path:
    """Each method's compute-to-target ratio to the grid, one point per (data set, seed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import ScalarFormatter

    others = [mth for mth in methods if mth != fig.GRID]
    figure = Figure(figsize=(1.3 * len(others) + 4.0, 4.5), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    finite = frame["ratio_to_grid"].replace(np.inf, np.nan).dropna()
    ceiling = max(4.0, float(finite.max()) * 1.5) if not finite.empty else 4.0
    colours = dict(
        zip(dict.fromkeys(frame["dataset"]), ["C0", "C1", "C2", "C3", "C4", "C5"], strict=False)
    )
    rng = np.random.default_rng(0)
    for x, method in enumerate(others):
        runs = frame[frame["method"] == method]
        for dataset, part in runs.groupby("dataset", sort=False):
            ratios = part["ratio_to_grid"].to_numpy(dtype=float)
            jitter = x + rng.uniform(-0.15, 0.15, size=len(ratios))
            reached = np.isfinite(ratios)
            axes.scatter(
                jitter[reached],
                ratios[reached],
                color=colours[dataset],
                s=22,
                marker="o",
                label=dataset if x == 0 else None,
                zorder=3,
            )
            axes.scatter(
                jitter[~reached],
                np.full((~reached).sum(), ceiling),
                color=colours[dataset],
                s=50,
                marker="x",
                zorder=4,
            )
    axes.axhline(1.0, color="grey", linewidth=1, label="grid (1.0)")
    axes.axhline(
        fig.GOAL_RATIO, color="grey", linestyle="--", linewidth=1, label=f"goal ({fig.GOAL_RATIO})"
    )
    axes.set_yscale("log")
    axes.yaxis.set_major_formatter(ScalarFormatter())
    axes.yaxis.set_minor_formatter(ScalarFormatter())
    axes.set_xticks(range(len(others)), others, rotation=20)
    axes.set_ylabel("compute to target ÷ the grid's (log)")
    axes.set_title(
        "Compute until a trial is within 1 % of the best val_loss\n"
        f"(× at {ceiling:.3g}: target not reached)"
    )
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # never over a point
    figure.tight_layout()
    figure.savefig(path)
    return path


CSV_FILE, PLOT_FILE = "schedulers.csv", "schedulers.png"  # what a run writes; --redraw reads


def write_outputs(
    frame: pd.DataFrame,
    table: pd.DataFrame,
    goal_lines: list[str],
    header: list[str],
    out: Path,
    methods: list[str],
) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    csv = out / CSV_FILE
    frame.to_csv(csv, index=False)
    markdown = out / "schedulers.md"
    markdown.write_text(
        "\n".join(
            [*header, "", render(table, "markdown"), "", *[f"- {line}" for line in goal_lines], ""]
        )
    )
    png = plot_ratios(frame, methods, out / PLOT_FILE)
    return [csv, markdown, png]


def redraw(folder: Path) -> int:
    """Redraw ``folder/schedulers.png`` from the ``schedulers.csv`` an earlier run wrote there.

    The plot is a function of the CSV alone, so a committed result's figure can be drawn again
    (after a change to the plot) without rerunning an experiment. Exit status 2 with a one-line
    error when the CSV is missing.
    """
    csv = folder / CSV_FILE
    if not csv.is_file():
        print(f"--redraw: no schedulers.csv in {folder}; give a folder a run wrote (--out)")
        return 2
    frame = pd.read_csv(csv)
    methods = list(dict.fromkeys(frame["method"]))  # the run wrote them in table order
    print(f"written: {plot_ratios(frame, methods, folder / PLOT_FILE)}")
    return 0
