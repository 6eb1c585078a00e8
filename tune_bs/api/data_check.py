"""A checkpoint knows its data: is this data set the one the encoder was trained on?

Every trial's checkpoint records the fingerprint of the raw training split it trained on
(:func:`tune_bs.data.dataset.fingerprint`, kept in :class:`~tune_bs.api.encoder.EncoderSpec`
and in an exported ``encoder.yaml``). What loads a data set *by reference* to use with a trained
encoder — ``tune-bs export`` (the experiment's data set), ``tune-bs downstream`` (the
experiment's or ``--data``) and :func:`tune_bs.embed` given a loaded data set — calls
:func:`check_same_data` first.

Rules:

- Same fingerprint: go on.
- Different fingerprint (the data file was overwritten after the run, ``--data`` names another
  data set, the split seed changed): one line refuses it, naming both fingerprints and the way
  to go on deliberately: ``--allow-other-data`` on the command line, ``allow_other_data=True``
  in Python. With it, a warning says that the results describe other data.
- No fingerprint recorded (a checkpoint or export from a tune-bs before fingerprints): nothing
  can be checked; a warning says so and the command goes on. Refusing would lock users out of
  every old result; the warning names the risk.

Raw arrays handed to :func:`tune_bs.embed` carry no record of where they come from, so they are
not checked: that is what embedding new series means.
"""

from __future__ import annotations

import logging
from typing import Any

from tune_bs.errors import UserInputError

logger = logging.getLogger(__name__)
#: How a user says "this is other data, on purpose".
FLAG = "--allow-other-data"
KEYWORD = "allow_other_data=True"


def _short(fingerprint: str) -> str:
    """``blake2b:1a2b3c4d5e6f`` (enough to tell two apart in a message)."""
    name, _, digest = fingerprint.partition(":")
    return f"{name}:{digest[:12]}" if digest else fingerprint[:20]


def check_same_data(encoder: Any, data: Any, allow_other_data: bool = False) -> None:
    """Refuse ``data`` (a :class:`~tune_bs.data.TimeSeriesData`) unless its training split is
    the one ``encoder`` (with ``tune_bs_spec``) was trained on (module rules)."""
    spec = getattr(encoder, "tune_bs_spec", None)
    recorded = getattr(spec, "data_fingerprint", None)
    if not recorded:
        logger.warning(
            "the encoder's checkpoint records no data fingerprint (written by an older "
            "tune-bs), so tune-bs cannot check that %s is the data it was trained on; it goes "
            "on with it.",
            data.name,
        )
        return
    if data.fingerprint == recorded:
        return
    if allow_other_data:
        logger.warning(
            "%s is not the data the encoder was trained on (fingerprint %s, the checkpoint's "
            "%s); going on as asked (%s): the results describe other data.",
            data.name,
            _short(data.fingerprint),
            _short(recorded),
            FLAG,
        )
        return
    raise UserInputError(
        f"the data must be the data the encoder was trained on, but {data.name}'s training "
        f"split has fingerprint {_short(data.fingerprint)} and the checkpoint's has "
        f"{_short(recorded)} (the data file changed since the run, or another data set or split "
        f"seed is named); use the run's data, or pass {FLAG} ({KEYWORD} in Python) to use this "
        "data on purpose."
    )
