"""``report.html``: the whole report on one self-contained page (``tune-bs report --format html``).

Layout, top to bottom: the selected trial of each experiment (chosen on the validation metric;
its test score, checkpoint, batch-size schedule and configuration, and its ``best_config.yaml``
when the experiment's search space is known), the status line, the trial table, the comparison
table, then the plots — the batch-size schedule (switches marked ×), validation loss against
samples seen, the probe against wall time, time to target.

Rules: one file, nothing fetched — styles inline, plots embedded as base64 PNG
(``<img src="data:image/png;base64,...">``), no script. Every table is a ``<table
class="tune-bs">`` inside a ``<section>`` with an ``id`` (``selection``, ``trials``,
``comparison``); every plot a ``<figure>`` with an ``id`` (``plot-<name>``) and a caption.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
from matplotlib.figure import Figure

from tune_bs.report.formats import render

REPORT_FILE = "report.html"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1400px; color: #222;
       padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; }
table.tune-bs { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
table.tune-bs th, table.tune-bs td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; }
table.tune-bs th { background: #f0f0f0; }
.scroll { overflow-x: auto; }
.selected { background: #f5f9ff; border: 1px solid #b8d0f0; padding: 0.5rem 1rem;
            border-radius: 4px; margin-bottom: 1rem; }
figure { margin: 1rem 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85rem; color: #555; }
pre { background: #f7f7f7; padding: 0.5rem; overflow-x: auto; font-size: 0.8rem; }
"""


@dataclass(frozen=True)
class Plot:
    """One figure of the page: its id (``plot-<name>``), caption and matplotlib figure."""

    name: str
    caption: str
    figure: Figure


def png_data_uri(figure: Figure) -> str:
    """The figure as a ``data:image/png;base64,...`` URI."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _table(title: str, section_id: str, frame: pd.DataFrame) -> str:
    return (
        f'<section id="{section_id}"><h2>{html.escape(title)}</h2>'
        f'<div class="scroll">{render(frame, "html")}</div></section>'
    )


def _selection_block(experiment: str, selection, best_config: str | None, many: bool) -> str:
    heading = f"<h3>{html.escape(experiment)}</h3>" if many else ""
    facts = pd.DataFrame(
        [
            ("trial", selection.trial_id),
            ("report", selection.training_iteration),
            ("samples seen", selection.samples_seen),
            (f"{selection.metric} (validation, selected on)", selection.value),
            (
                f"{selection.test_metric} (test split, reported only)"
                if selection.test_metric
                else "test score",
                selection.test_value,
            ),
            ("batch-size schedule", selection.batch_size_schedule or ""),
            ("checkpoint", selection.checkpoint or "not on disk"),
        ],
        columns=["", "value"],
    ).astype({"value": object})
    config = pd.DataFrame(sorted(selection.config.items()), columns=["parameter", "value"])
    config["value"] = config["value"].astype(str)
    parts = [heading, render(facts, "html"), "<h4>Its configuration</h4>", render(config, "html")]
    if best_config:
        parts += ["<h4>best_config.yaml</h4>", f"<pre>{html.escape(best_config)}</pre>"]
    return '<div class="selected">' + "".join(parts) + "</div>"


def report_page(
    title: str,
    selections: Mapping[str, object],
    best_configs: Mapping[str, str],
    tables: Sequence[tuple[str, str, pd.DataFrame]],
    status: str,
    plots: Sequence[Plot],
    note: str = "",
) -> str:
    """The page (module rules).

    Args:
        title: the page's title.
        selections: experiment → :class:`~tune_bs.report.selection.Selection`.
        best_configs: experiment → the text of its ``best_config.yaml`` (when known).
        tables: ``(title, section id, frame)`` in page order.
        status: the status line (trials per status).
        plots: the figures, in page order.
        note: one line under the title (metric and mode).
    """
    many = len(selections) > 1
    selected = (
        "".join(
            _selection_block(name, s, best_configs.get(name), many)
            for name, s in selections.items()
        )
        or "<p>No trial has a finite value of the metric to select on.</p>"
    )
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(note)}</p>" if note else "",
        f'<section id="selection"><h2>Selected on validation</h2>{selected}</section>',
        f'<p id="status">{html.escape(status)}</p>',
        *(_table(t, i, f) for t, i, f in tables),
        '<section id="plots"><h2>Plots</h2>',
        *(
            f'<figure id="plot-{p.name}"><img alt="{html.escape(p.caption)}" '
            f'src="{png_data_uri(p.figure)}"><figcaption>{html.escape(p.caption)}</figcaption>'
            "</figure>"
            for p in plots
        ),
        "</section>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body></html>\n"
    )
