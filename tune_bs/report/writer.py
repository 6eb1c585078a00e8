"""Write a whole report (tables + plots) to a folder: what ``tune-bs report`` does.

Also :func:`summary_text`, the per-trial table that ``tune-bs run`` prints at its end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from tune_bs import metrics as m
from tune_bs.errors import UserInputError, unknown_name
from tune_bs.report import plots
from tune_bs.report.formats import FORMATS, render
from tune_bs.report.frame import EXPERIMENT, PENDING, STATUS, UNFINISHED, load_trials
from tune_bs.report.tables import (
    DATASET,
    TRIAL_COLUMNS,
    comparison_table,
    display_comparison,
    trial_table,
)
from tune_bs.storage import local_copy

#: The per-trial columns ``tune-bs run`` prints (DESIGN §6).
SUMMARY_COLUMNS: tuple[str, ...] = tuple(
    c for c in TRIAL_COLUMNS if c not in (EXPERIMENT, DATASET))


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
    metric: str = m.PROBE_ACC,
    mode: str = "max",
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
        metric, mode: the metric the tables are sorted by and time-to-target is measured on.
        target: the target value of ``metric`` (see :func:`~tune_bs.report.tables.targets`);
            default 95 % of each data set's best final value.

    Returns:
        The paths written (``trials.<ext>``, ``comparison.<ext>``, ``val_loss_vs_samples.png``,
        ``probe_vs_time.png``, ``batch_size_schedule.png``, ``time_to_target.png``) and the text
        to print: both tables in ``fmt``, a status line, and where the files are.

    Raises:
        UserInputError: unknown format or metric, a directory without an experiment, or an
            experiment in which no trial reported a result.
    """
    if fmt not in FORMATS:
        raise unknown_name("format", fmt, FORMATS)
    given = [experiment_dirs] if isinstance(experiment_dirs, (str, Path)) else experiment_dirs
    dirs = [local_copy(d) for d in given]  # a storage URI is read from a local copy
    frame = load_trials(dirs)
    trials = trial_table(frame, metric, mode)
    comparison = comparison_table(frame, target=target, metric=metric, mode=mode)

    out = Path(out_dir) if out_dir is not None else dirs[0] / "report"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserInputError(
            f"the report folder must be writable, but {out} is not ({error.strerror}); "
            "pass another with --out."
        ) from error
    ext = FORMATS[fmt]
    shown = comparison if fmt == "csv" else display_comparison(comparison)
    rendered = {"trials": render(trials, fmt), "comparison": render(shown, fmt)}
    paths = ReportPaths(out_dir=out)
    for name, text in rendered.items():
        path = out / f"{name}.{ext}"
        path.write_text(text, encoding="utf-8")
        paths.tables[name] = path

    probe = metric if metric in (m.PROBE_ACC, m.PROBE_R2) else _probe_metric(frame)
    paths.plots = {
        "val_loss": plots.plot_val_loss(frame, out / "val_loss_vs_samples.png"),
        "probe": plots.plot_probe_vs_time(frame, out / "probe_vs_time.png", probe),
        "batch_size": plots.plot_batch_schedule(frame, out / "batch_size_schedule.png"),
        "time_to_target": plots.plot_time_to_target(comparison, out / "time_to_target.png"),
    }
    paths.text = "\n".join(
        [
            f"Trials (sorted by {metric}, {mode}):",
            rendered["trials"],
            "Comparison:",
            rendered["comparison"],
            status_line(trials),
            f"Report written to {out}: " + ", ".join(p.name for p in paths.files),
        ]
    )
    return paths


def summary_text(experiment_dir: Path | str, metric: str = m.PROBE_ACC, mode: str = "max") -> str:
    """The per-trial table in markdown, best first by ``metric``, with a status line.

    For the end of ``tune-bs run``; when no trial reported anything it returns the one-line
    explanation instead of raising, so the run can still print where its results are.
    """
    try:
        frame = load_trials([Path(experiment_dir)])
        trials = trial_table(frame, metric, mode)
    except UserInputError as error:
        return str(error)
    columns = list(SUMMARY_COLUMNS)
    if m.PROBE_R2 in trials and trials[m.PROBE_R2].notna().any():
        columns.insert(columns.index(m.PROBE_ACC) + 1, m.PROBE_R2)
    if trials[m.PROBE_ACC].isna().all() and metric != m.PROBE_ACC:
        columns.remove(m.PROBE_ACC)
    return f"{render(trials[columns], 'markdown')}{status_line(trials)}\nresults: {experiment_dir}"


def comparison_text(experiment_dirs: Sequence[Path], metric: str = m.PROBE_ACC,
                    mode: str = "max") -> str:
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
    if m.PROBE_ACC in frame and frame[m.PROBE_ACC].notna().any():
        return m.PROBE_ACC
    return m.PROBE_R2
