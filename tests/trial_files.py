"""Read a Ray Tune trial folder the way the end-to-end tests check it (shared test helper)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def result_rows(trial_dir: Path, latest_per_iteration: bool = False) -> list[dict[str, Any]]:
    """The trial's ``result.json`` lines as dicts ([] before its first report).

    With ``latest_per_iteration``, one row per training iteration (the latest line of a repeated
    one), in iteration order; otherwise every line as written.
    """
    path = trial_dir / "result.json"
    text = path.read_text() if path.exists() else ""
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    if not latest_per_iteration:
        return rows
    by_iteration = {row["training_iteration"]: row for row in rows}
    return [by_iteration[i] for i in sorted(by_iteration)]


def trial_dirs(folder: Path) -> list[Path]:
    """The experiment's trial folders (those holding a ``params.json``), sorted."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and (p / "params.json").exists())
