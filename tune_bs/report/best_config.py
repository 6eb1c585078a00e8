"""``best_config.yaml``: the selected trial's configuration as a search space of constants.

Written into the experiment folder at the end of ``tune-bs run`` (and by ``tune-bs report``):
the experiment's own search space (data set, metric, budget, resources) with ``param_space``
replaced by the selected trial's starting values, one trial, the ``fifo`` scheduler and no
search, so ``tune-bs run best_config.yaml`` trains that configuration again. The batch size is
the one the trial started with; a comment gives the schedule it followed when a scheduler
switched it (a ``fifo`` run does not switch).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tune_bs.report.selection import Selection

BEST_CONFIG = "best_config.yaml"


def best_config(space: Mapping[str, Any], selection: Selection) -> dict[str, Any]:
    """The search-space mapping of the selected trial (module rules)."""
    from tune_bs.search.space import PARAM_KEYS

    params = {k: v for k, v in selection.config.items() if k in PARAM_KEYS}
    out = {
        k: v
        for k, v in space.items()
        if k not in ("schedulers", "scheduler", "search", "param_space", "num_samples")
    }
    out["name"] = f"{space.get('name', 'experiment')}-best"
    out["description"] = (
        f"trial {selection.trial_id} of {selection.experiment}, selected on "
        f"{selection.metric} = {selection.value:.6g}"
    )
    out.update(
        num_samples=1, scheduler={"name": "fifo"}, search={"name": "random"}, param_space=params
    )
    return out


def best_config_text(space: Mapping[str, Any], selection: Selection) -> str:
    """YAML of :func:`best_config`, with a header that says where it comes from."""
    header = [
        f"# The configuration selected on validation ({selection.metric} = "
        f"{selection.value:.6g}, trial {selection.trial_id}, report "
        f"{selection.training_iteration}).",
    ]
    if selection.test_metric and selection.test_value is not None:
        header.append(
            f"# Its test score, reported only: {selection.test_metric} = "
            f"{selection.test_value:.6g}."
        )
    schedule = selection.batch_size_schedule or ""
    if ";" in schedule:
        header.append(
            f"# It followed the batch-size schedule {schedule} (samples:batch); this "
            "file starts at the first size and does not switch."
        )
    header.append("# Run it again: tune-bs run best_config.yaml")
    body = yaml.safe_dump(best_config(space, selection), sort_keys=False)
    return "\n".join(header) + "\n" + body


def write_best_config(folder: Path, space: Mapping[str, Any], selection: Selection) -> Path:
    """Write :data:`BEST_CONFIG` into ``folder``; its path."""
    path = Path(folder) / BEST_CONFIG
    path.write_text(best_config_text(space, selection), encoding="utf-8")
    return path


def save_best_config(
    experiment_dir: Path | str, space: Mapping[str, Any], metric: str, mode: str
) -> Path | None:
    """Select the experiment's trial on ``metric`` and write its :data:`BEST_CONFIG`; ``None``
    when no trial has a finite value to select on."""
    from tune_bs.errors import UserInputError
    from tune_bs.report.frame import load_trials
    from tune_bs.report.selection import select

    try:
        selections = select(load_trials([Path(experiment_dir)]), metric, mode)
    except UserInputError:
        return None
    if not selections:
        return None
    return write_best_config(Path(experiment_dir), space, next(iter(selections.values())))
