"""Finish an interrupted experiment: ``tune-bs resume RESULTS_DIR``.

In order, before Ray reads anything of the folder: it must hold a tune-bs experiment; it is
locked (:mod:`tune_bs.search.lock`); the files ``Tuner.restore`` unpickles are checked against
this user's signing key (:mod:`tune_bs.search.signing`); tune-bs's own files are read and
validated (:mod:`tune_bs.search.run_files`); the data set, the Ray connection and the trial's
resources are checked as for a run. Then each unfinished trial's reports after its last saved
checkpoint are dropped (:mod:`tune_bs.search.rewind`), ``Tuner.restore`` continues every
unfinished or failed trial from its last checkpoint, and the experiment ends as a run does
(:func:`~tune_bs.search.experiment.fit_or_interrupt`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from tune_bs.errors import UserInputError
from tune_bs.progress import Steps
from tune_bs.search.experiment import (
    TUNER_FILE,
    RunOutcome,
    data_name,
    effective_space,
    fit_or_interrupt,
    load_space_data,
    resourced_trainable,
    snapshot_often,
)
from tune_bs.search.interrupt import ExperimentInterrupted
from tune_bs.search.lock import ExperimentLock
from tune_bs.search.ray_session import check_trial_fits, ensure_ray
from tune_bs.search.rewind import rewind_experiment
from tune_bs.search.run_files import SPACE_COPY, read_run_options, read_space_copy
from tune_bs.search.signing import SigningKey, sign_experiment, signing_key, verify_experiment
from tune_bs.search.space import SearchSpace, parse_space
from tune_bs.search.storage import Location

if TYPE_CHECKING:
    from ray import tune

logger = logging.getLogger(__name__)


def resume(path: str | Path, address: str | None = None, trust_storage: bool = False) -> RunOutcome:
    """Finish the interrupted experiment in ``path`` (module docstring); finished trials are kept
    as they are. ``trust_storage`` (``--trust-storage``) skips the signature check: the user
    vouches for the folder, and its files are signed as they are, so later resumes accept them.
    A signal after Tune restored the experiment raises
    :class:`~tune_bs.search.interrupt.ExperimentInterrupted`.
    """
    folder = Location.open(path)
    if not folder.is_file(SPACE_COPY) or not folder.is_file(TUNER_FILE):
        raise UserInputError(
            f"{folder.uri} holds no resumable tune-bs experiment (no {SPACE_COPY} or Tune state); "
            "give the folder `tune-bs run` printed, e.g. tune_bs_results/default."
        )
    key = signing_key()
    restored, outcome = False, None
    try:
        with ExperimentLock(folder, "resume"):
            tuner, space = _restore(folder, key, trust_storage, address)
            restored = True
            try:
                outcome = fit_or_interrupt(tuner, space, folder)
            finally:
                if trust_storage:  # an older run's search algorithm does not sign its state files
                    sign_experiment(folder, key)
        return outcome
    except KeyboardInterrupt as exc:  # after Tune restored it: name the folder to resume
        if not restored:
            raise
        raise ExperimentInterrupted.after_start(exc, folder.display(), outcome) from exc


def _restore(
    folder: Location, key: SigningKey, trust_storage: bool, address: str | None
) -> tuple[tune.Tuner, SearchSpace]:
    """Check the locked ``folder`` (module docstring), start Ray and restore its Tuner."""

    if trust_storage:
        signed = sign_experiment(folder, key)
        if signed:
            logger.warning(
                "tune-bs: --trust-storage: signed %s as this user's (not checked).",
                ", ".join(signed),
            )
    else:
        verify_experiment(folder, key)
    options = read_run_options(folder)
    raw = read_space_copy(folder)
    space = effective_space(parse_space(raw, source=f"{folder.uri}/{SPACE_COPY}"), options)
    if not folder.holds_experiment():
        raise UserInputError(
            f"{folder.uri} holds no saved experiment state (its run was stopped before Tune "
            "saved one), so there is nothing to resume; start it again with `tune-bs run` "
            "and the same --storage and --name."
        )
    with Steps("tune-bs resume", 2) as step:  # on a terminal, until Ray's trial table
        step(f"loading {data_name(space)}")
        data = load_space_data(space)
        step("starting Ray")
        ensure_ray(address)
        check_trial_fits(space.resources, address)
    snapshot_often(folder)
    trainable = resourced_trainable(space, data)
    rewind_experiment(folder)  # reports after a trial's saved checkpoint are made again
    from ray import tune

    try:
        tuner = tune.Tuner.restore(
            folder.uri, trainable=trainable, resume_unfinished=True, resume_errored=True
        )
    except Exception as exc:  # a state Ray cannot read (--trust-storage on a damaged folder)
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise UserInputError(
            f"Ray Tune cannot restore the experiment in {folder.uri} ({reason}); its "
            "saved state is damaged: start the experiment again with `tune-bs run`."
        ) from exc
    return tuner, space
