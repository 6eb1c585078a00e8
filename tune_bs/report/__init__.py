"""Result tables and plots from Ray Tune's result files: what ``tune-bs report`` writes.

The flow: :func:`load_trials` (result files → one tidy row per report) → :func:`trial_table` (one
row per trial) and :func:`comparison_table` (one row per data set / strategy / scheduler / encoder)
→ :func:`render` (markdown, CSV, LaTeX, HTML) and the PNG plots; :func:`write_report` does all of it
for the CLI and :func:`summary_text` gives the table ``tune-bs run`` prints at its end.
"""

from __future__ import annotations

from tune_bs.report.comparison import comparison_table, display_comparison
from tune_bs.report.formats import FORMATS, render
from tune_bs.report.frame import load_trials, parse_schedule, trial_status
from tune_bs.report.plots import (
    plot_batch_schedule,
    plot_probe_vs_time,
    plot_time_to_target,
    plot_val_loss,
)
from tune_bs.report.references import PUBLISHED, reference
from tune_bs.report.tables import trial_table
from tune_bs.report.writer import ReportPaths, comparison_text, summary_text, write_report

__all__ = [
    "FORMATS",
    "PUBLISHED",
    "ReportPaths",
    "comparison_table",
    "comparison_text",
    "display_comparison",
    "load_trials",
    "parse_schedule",
    "plot_batch_schedule",
    "plot_probe_vs_time",
    "plot_time_to_target",
    "plot_val_loss",
    "reference",
    "render",
    "summary_text",
    "trial_status",
    "trial_table",
    "write_report",
]
