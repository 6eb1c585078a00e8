"""Search algorithms that sign the experiment's state files as Ray Tune writes them.

At every experiment checkpoint, Tune writes the experiment state, then the search algorithm's
state, into its local staging folder (``TuneController.save_to_dir``: state first, then
``search_alg.save_to_dir(staging, session)``), and then uploads the folder to the storage.
These subclasses sign the files of that checkpoint (:func:`~tune_bs.search.signing.
sign_session_files`) at the end of ``save_to_dir``, before the upload starts, so storage only
ever receives signed state files: a driver killed at any moment (even by SIGKILL) leaves an
experiment its own user's ``tune-bs resume`` accepts.

Limits (what a signature cannot cover): Tune's uploads run in a background thread; if one is
still copying while the next checkpoint rewrites a state file, it may upload that file in the
moment between Ray writing it and it being signed, and a driver killed right then leaves an
unsigned state file behind (``resume`` then refuses it; ``--trust-storage`` resumes it). Ray
writes a callback state file (``callback-states-*.pkl``) after the search state; tune-bs's
callbacks keep no state, so none is written.

The classes are pickled into ``tuner.pkl``, so a resumed experiment signs its state files too;
they hold no key (it is read from the environment or the config folder at each signing).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ray.tune.search import SearchGenerator
from ray.tune.search.basic_variant import BasicVariantGenerator

from tune_bs.search.signing import sign_session_files, signing_key

logger = logging.getLogger(__name__)


def _sign(dirpath: str, session_str: str) -> None:
    try:
        sign_session_files(Path(dirpath), session_str, signing_key())
    except Exception as exc:  # a failed signing must not end the experiment
        logger.warning(
            "the experiment state in %s could not be signed (%s); `tune-bs resume` will "
            "need --trust-storage for this experiment.",
            dirpath,
            exc,
        )


class SignedBasicVariantGenerator(BasicVariantGenerator):
    """Tune's random/grid variant generator; signs the checkpoint's state files."""

    def save_to_dir(self, dirpath: str, session_str: str) -> Any:
        saved = super().save_to_dir(dirpath, session_str)
        _sign(dirpath, session_str)
        return saved


class SignedSearchGenerator(SearchGenerator):
    """Tune's wrapper of a ``Searcher`` (Optuna); signs the checkpoint's state files."""

    def save_to_dir(self, dirpath: str, session_str: str) -> Any:
        saved = super().save_to_dir(dirpath, session_str)
        _sign(dirpath, session_str)
        return saved
