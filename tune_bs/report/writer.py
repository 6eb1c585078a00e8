"""Write a whole report (tables + plots) to a folder: what ``tune-bs report`` does.

Also :func:`summary_text`, the per-trial table that ``tune-bs run`` prints at its end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from tune_bs import metrics as m
from tune_bs.documents import load_yaml
from tune_bs.errors import UserInputError, unknown_name
from tune_bs.progress import Steps
from tune_bs.report import plots
from tune_bs.report.comparison import comparison_table, display_comparison
from tune_bs.report.formats import FORMATS, render
from tune_bs.report.frame import (
    EXPERIMENT,
    PENDING,
    STATUS,
    TRIAL_ID,
    UNFINISHED,
    load_trials,
    trial_error,
)
from tune_bs.report.selection import Selection, select
from tune_bs.report.tables import DATASET, TRIAL_COLUMNS, trial_table
from tune_bs.search.storage import local_copy

#: The per-trial columns ``tune-bs run`` prints (docs/design.md §6).
SUMMARY_COLUMNS: tuple[str, ...] = tuple(c for c in TRIAL_COLUMNS if c not in (EXPERIMENT, DATASET))


@dataclass
class ReportPaths:
    """What :func:`write_report` wrote, and the text the CLI prints."""

    out_dir: Path
    tables: dict[str, Path] = field(default_factory=dict)  # "trials" / "comparison" -> file
    plots: dict[str, Path] = field(default_factory=dict)  # plot name -> PNG
    text: str = ""

    @property
    def files(self) -> list[Path]:
        """Every file written, tables first."""
        return [*self.tables.values(), *self.plots.values()]


def write_report(
    experiment_dirs: Sequence[Path | str] | Path | str,
    fmt: str = "markdown",
    out_dir: Path | str | None = None,
    metric: str | None = None,
    mode: str | None = None,
    target: float | Mapping[str, float] | None = None,
) -> ReportPaths:
    """Write the trial and comparison tables in ``fmt`` and the four PNG plots.

    Args:
        experiment_dirs: one or more results directories (``STORAGE/NAME``, or a ``STORAGE`` whose
            sub-directories are experiments), local or storage URIs (``s3://...``: copied into
            ``./tune_bs_reports/<bucket>/<path>`` first); several combine into one report.
        fmt: ``markdown``, ``csv``, ``latex`` or ``html``. CSV tables keep numbers numeric (mean and
            std in separate columns); the others show ``mean ± std``.
        out_dir: where to write; default ``<first results dir>/report``.
        metric, mode: the validation metric the tables are sorted by, time-to-target is measured
            on and the selection is made on; default: the experiment's own (its search space's
            ``metric``), else ``val_loss``.
        target: the target value of ``metric`` (see :func:`~tune_bs.report.comparison.targets`);
            default 95 % of each data set's best final value.

    Returns:
        The paths written (``trials.<ext>``, ``comparison.<ext>``, ``val_loss_vs_samples.png``,
        ``probe_vs_time.png``, ``batch_size_schedule.png``, ``time_to_target.png``) and the text
        to print: both tables in ``fmt``, a status line, and where the files are. ``html``
        writes one self-contained ``report.html`` instead (tables and plots inside,
        :mod:`tune_bs.report.html`).

    Raises:
        UserInputError: unknown format or metric, a directory without an experiment, or an
            experiment in which no trial reported a result.
    """
    if fmt not in FORMATS:
        raise unknown_name("format", fmt, FORMATS)
    given = [experiment_dirs] if isinstance(experiment_dirs, (str, Path)) else experiment_dirs
    with Steps("tune-bs report", 3) as step:  # on a terminal (tune_bs.progress)
        step("reading the trials")
        dirs = [local_copy(d) for d in given]  # a storage URI is read from a local copy
        frame = load_trials(dirs)
        step("tables")
        metric, mode = experiment_metric(dirs[0], metric, mode)
        trials = trial_table(frame, metric, mode)
        comparison = comparison_table(frame, target=target, metric=metric, mode=mode)
        selections = select(frame, metric, mode)

        out = _report_folder(out_dir, dirs[0])
        ext = FORMATS[fmt]
        shown = comparison if fmt == "csv" else display_comparison(comparison)
        if fmt == "html":
            step("the page and its plots")
            tables = (comparison, shown)
            return _write_html(dirs, out, frame, trials, tables, selections, metric, mode)
        rendered = {"trials": render(trials, fmt), "comparison": render(shown, fmt)}
        paths = ReportPaths(out_dir=out)
        paths.tables = _write_tables(rendered, out, ext)

        step("plots")
        paths.plots = _write_plots(frame, comparison, out, metric)
        paths.text = _report_text(selections, metric, mode, rendered, trials, paths)
        return paths


def _report_text(
    selections: Mapping[str, Selection],
    metric: str,
    mode: str,
    rendered: Mapping[str, str],
    trials: pd.DataFrame,
    paths: ReportPaths,
) -> str:
    """What ``tune-bs report`` prints: the selections, both tables, a status line, and where the
    files are."""
    return "\n".join(
        [
            *selection_lines(selections),
            f"Trials (sorted by {metric}, {mode}):",
            rendered["trials"],
            "Comparison:",
            rendered["comparison"],
            status_line(trials),
            f"Report written to {paths.out_dir}: " + ", ".join(p.name for p in paths.files),
        ]
    )


def _write_tables(rendered: Mapping[str, str], out: Path, ext: str) -> dict[str, Path]:
    """Each rendered table as ``out/<name>.<ext>`` (UTF-8)."""
    tables = {}
    for name, text in rendered.items():
        path = out / f"{name}.{ext}"
        path.write_text(text, encoding="utf-8")
        tables[name] = path
    return tables


def _report_folder(out_dir: Path | str | None, first_dir: Path) -> Path:
    """``out_dir`` (default ``first_dir/report``), created; a one-line error when it cannot be."""
    out = Path(out_dir) if out_dir is not None else first_dir / "report"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserInputError(
            f"the report folder must be writable, but {out} is not ({error.strerror}); "
            "pass another with --out."
        ) from error
    return out


def _write_plots(
    frame: pd.DataFrame, comparison: pd.DataFrame, out: Path, metric: str
) -> dict[str, Path]:
    """The four PNG plots, written into ``out``; the probe plot shows ``metric`` when it is a
    probe's score, else the probe the trials reported."""
    probe = metric if metric in (m.VAL_PROBE_ACC, m.VAL_PROBE_R2) else _probe_metric(frame)
    return {
        "val_loss": plots.plot_val_loss(frame, out / "val_loss_vs_samples.png"),
        "probe": plots.plot_probe_vs_time(frame, out / "probe_vs_time.png", probe),
        "batch_size": plots.plot_batch_schedule(frame, out / "batch_size_schedule.png"),
        "time_to_target": plots.plot_time_to_target(comparison, out / "time_to_target.png"),
    }


def _write_html(
    dirs: list[Path],
    out: Path,
    frame: pd.DataFrame,
    trials: pd.DataFrame,
    comparisons: tuple[pd.DataFrame, pd.DataFrame],
    selections: Mapping[str, Selection],
    metric: str,
    mode: str,
) -> ReportPaths:
    """The one self-contained ``report.html`` (:mod:`tune_bs.report.html`)."""
    from tune_bs.report.best_config import best_config_text
    from tune_bs.report.frame import find_experiments
    from tune_bs.report.html import REPORT_FILE, Plot, report_page

    comparison, shown = comparisons
    spaces = {p.name: _saved_space(p) for d in dirs for p in find_experiments(d)}
    best = {
        name: best_config_text(spaces[name], s)
        for name, s in selections.items()
        if spaces.get(name)
    }
    probe = metric if metric in (m.VAL_PROBE_ACC, m.VAL_PROBE_R2) else _probe_metric(frame)
    plot_list = [
        Plot(
            "batch_size",
            "Batch-size schedule of every trial (x: a switch)",
            plots.batch_schedule_figure(frame),
        ),
        Plot(
            "val_loss",
            "Validation loss against samples seen (x: a batch-size switch)",
            plots.val_loss_figure(frame),
        ),
        Plot("probe", f"{probe} against wall time", plots.probe_vs_time_figure(frame, probe)),
        Plot("time_to_target", "Time to reach the target", plots.time_to_target_figure(comparison)),
    ]
    status = status_line(trials)
    page = report_page(
        "tune-bs report: " + ", ".join(d.name for d in dirs),
        selections,
        best,
        [("Trials", "trials", trials), ("Comparison", "comparison", shown)],
        status,
        plot_list,
        note=f"Sorted and selected by {metric} ({mode}); test scores are reported, "
        "never used to select.",
    )
    path = out / REPORT_FILE
    path.write_text(page, encoding="utf-8")
    paths = ReportPaths(out_dir=out, tables={"report": path})
    paths.text = "\n".join(
        [
            *selection_lines(selections),
            status,
            f"Report written to {path} (one self-contained page)",
        ]
    )
    return paths


def _saved_space(directory: Path) -> dict:

    from tune_bs.search.experiment import SPACE_COPY

    try:
        path = Path(directory) / SPACE_COPY
        raw = load_yaml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, UserInputError):
        return {}
    return dict(raw) if isinstance(raw, Mapping) else {}


def summary_text(
    experiment_dir: Path | str, metric: str = m.VAL_LOSS, mode: str = "min", selection: bool = True
) -> str:
    """The per-trial table in markdown, best first by ``metric``, a status line, and (unless
    ``selection`` is false: an interrupted run selects nothing) the trial and checkpoint
    selected on ``metric`` with its test score.

    For the end of ``tune-bs run``; when no trial reported anything it returns the one-line
    explanation instead of raising, so the run can still print where its results are.
    """
    try:
        frame = load_trials([Path(experiment_dir)])
    except UserInputError as error:
        return str(error)
    try:
        trials = trial_table(frame, metric, mode)
    except UserInputError as error:
        failures = failure_lines(frame)
        if not failures:
            return str(error)
        statuses = frame.groupby(TRIAL_ID, sort=False)[STATUS].last()
        return "\n".join([status_line(statuses.to_frame()), *failures])
    columns = [c for c in SUMMARY_COLUMNS if c in trials]
    at = columns.index(m.TIME_TOTAL_S)
    columns[at:at] = [c for c in (m.VAL_PROBE_R2, m.TEST_PROBE_R2) if c in trials]
    table = render(trials[columns], "markdown")
    chosen = selection_lines(select(frame, metric, mode)) if selection else []
    lines = [*failure_lines(frame), *chosen]
    return "\n".join([table + status_line(trials), *lines, f"results: {experiment_dir}"])


def failure_lines(frame: pd.DataFrame) -> list[str]:
    """One line per distinct cause of trials that failed on their input (the ``trial_error``
    of their last report): which trials, and that a retry or ``resume`` would fail the same
    way."""
    causes: dict[str, list[str]] = {}
    if m.TRIAL_ERROR not in frame:
        return []
    for trial_id, rows in frame.groupby(TRIAL_ID, sort=False):
        cause = trial_error(rows.iloc[-1].to_dict())
        if cause:
            causes.setdefault(cause, []).append(str(trial_id))
    return [
        f"{'trial' if len(ids) == 1 else 'trials'} {', '.join(ids)} failed on the input "
        f"(not retried; `tune-bs resume` would fail the same way): {cause}"
        for cause, ids in causes.items()
    ]


def selection_lines(selections: Mapping[str, Selection]) -> list[str]:
    """The selected trial of each experiment (:class:`~tune_bs.report.selection.Selection`)."""
    out: list[str] = []
    for experiment, selection in selections.items():
        if len(selections) > 1:
            out.append(f"{experiment}:")
        out.extend(selection.lines())
    return out


def experiment_metric(
    experiment_dir: Path | str, metric: str | None, mode: str | None
) -> tuple[str, str]:
    """``(metric, mode)``: the given ones, else the experiment's own (its saved search space),
    else ``val_loss`` / ``min``; ``mode`` defaults to the metric's direction."""
    if metric is None:
        metric, saved_mode = _saved_metric(Path(experiment_dir))
        mode = mode or saved_mode
    return metric, mode or m.OPTIMISABLE.get(metric, "max")


def _saved_metric(experiment_dir: Path) -> tuple[str, str | None]:

    from tune_bs.search.experiment import SPACE_COPY

    for folder in (experiment_dir, *sorted(experiment_dir.glob("*/"))):
        try:
            path = folder / SPACE_COPY
            raw = load_yaml(path.read_text(encoding="utf-8"), str(path))
        except (OSError, UnicodeDecodeError, UserInputError):
            continue
        if isinstance(raw, Mapping) and raw.get("metric") in m.OPTIMISABLE:
            return str(raw["metric"]), raw.get("mode")
    return m.VAL_LOSS, None


def comparison_text(
    experiment_dirs: Sequence[Path], metric: str = m.VAL_LOSS, mode: str = "min"
) -> str:
    """The comparison table (one row per data set × strategy × scheduler × encoder) of several
    experiments, in markdown; the one-line explanation when none has results."""
    try:
        frame = load_trials([Path(d) for d in experiment_dirs])
        table = comparison_table(frame, metric=metric, mode=mode)
    except UserInputError as error:
        return str(error)
    return render(display_comparison(table), "markdown")


def status_line(trials: pd.DataFrame) -> str:
    """``"4 trials: 3 TERMINATED, 1 UNFINISHED (run `tune-bs resume` to finish)."``"""
    counts = trials[STATUS].value_counts()
    text = f"{len(trials)} trials: " + ", ".join(f"{n} {s}" for s, n in counts.items())
    unfinished = {UNFINISHED, PENDING} & set(counts.index)
    return text + (" (run `tune-bs resume RESULTS_DIR` to finish)." if unfinished else ".")


def _probe_metric(frame: pd.DataFrame) -> str:
    if m.VAL_PROBE_ACC in frame and frame[m.VAL_PROBE_ACC].notna().any():
        return m.VAL_PROBE_ACC
    return m.VAL_PROBE_R2
