"""Find a trial and its checkpoint in a results folder: the selected one, or one named by id.

A named trial (``trial="4aed5_00001"``, or its folder) gets the checkpoint selected within it by
the same validation rule as the experiment's selection
(:func:`tune_bs.report.selection.select` on that trial's reports alone): a test score never
picks it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tune_bs.errors import UserInputError, quote


def trial_selection(result: Any, trial: str | None = None) -> Any:
    """The :class:`~tune_bs.report.selection.Selection` of ``result`` (an
    :class:`~tune_bs.api.experiments.ExperimentResult`), or of its trial ``trial`` (an id, a
    unique id prefix/suffix, or the trial folder's name).

    Raises:
        UserInputError: no such trial, or no report of it has a finite validation metric.
    """
    from tune_bs.report.frame import TRIAL_DIR, TRIAL_ID
    from tune_bs.report.selection import select

    frame = result.reports
    if trial is None:
        chosen = result.selection
        if chosen is None:
            raise UserInputError(
                f"no trial of {result.path} has a finite {result.metric} to select on; name one "
                "with --trial ID, or run the experiment to the end (`tune-bs resume`)."
            )
        return chosen
    ids = sorted(set(frame[TRIAL_ID].astype(str)))
    folders = {
        Path(str(d)).name: i
        for d, i in zip(frame[TRIAL_DIR], frame[TRIAL_ID], strict=True)
        if isinstance(d, str)
    }
    matches = [i for i in ids if i == trial] or [
        i for i in ids if i.endswith(trial) or i.startswith(trial)
    ]
    if not matches and trial in folders:
        matches = [str(folders[trial])]
    if len(matches) != 1:
        found = "matches several trials" if matches else "is not a trial of this experiment"
        raise UserInputError(
            f"--trial must name one trial of {result.path}, but {quote(trial)} {found}; trials: "
            f"{', '.join(ids)}."
        )
    rows = frame[frame[TRIAL_ID].astype(str) == matches[0]]
    chosen = select(rows, result.metric, result.mode)
    if not chosen:
        raise UserInputError(
            f"trial {matches[0]} has no report with a finite {result.metric} (it diverged or "
            "never reported); name another trial."
        )
    return next(iter(chosen.values()))


def checkpoint_of(selection: Any) -> Path:
    """The selection's checkpoint folder; one line when it is not on disk."""
    if not selection.checkpoint:
        raise UserInputError(
            f"trial {selection.trial_id} has no checkpoint on disk for report "
            f"{selection.training_iteration} (the results were copied without checkpoints, or "
            "Tune removed it); copy the trial's checkpoint_* folders too, or name another trial."
        )
    return Path(selection.checkpoint)
