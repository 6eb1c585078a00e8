"""tune-bs's own files in an experiment folder, which make ``tune-bs resume`` possible.

- :data:`SPACE_COPY` (``tune_bs_space.yaml``): the search space as the run read it;
- :data:`RUN_OPTIONS` (``tune_bs_run.json``): the command-line overrides (:class:`RunOptions`).

Both are plain data, read with ``yaml.safe_load`` and ``json.loads`` and then validated like
the user's own input: a damaged or foreign file (a ``!!python`` tag, a value of the wrong type,
an unknown key) is refused with one line that names the file and the fix. Nothing in them is
ever executed or unpickled.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import yaml

from tune_bs.documents import load_yaml
from tune_bs.errors import UserInputError
from tune_bs.search.storage import Location

SPACE_COPY = "tune_bs_space.yaml"
RUN_OPTIONS = "tune_bs_run.json"


@dataclass(frozen=True)
class RunOptions:
    """Command-line overrides of a run; saved with the results so ``resume`` reuses them."""

    num_samples: int | None = None
    smoke_test: bool = False
    cpus_per_trial: float | None = None
    gpus_per_trial: float | None = None
    max_failures: int = 2
    #: the ``--smoke-test`` budget when it is shared by several experiments (a ``schedulers:``
    #: comparison); ``None``: :func:`~tune_bs.search.experiment.smoke_budget` of the space
    smoke_budget: dict[str, Any] | None = None
    #: ``--tracking``: a ``tracking:`` section that replaces the space's
    #: (:mod:`tune_bs.search.tracking`)
    tracking: dict[str, Any] | None = None


def save_run_files(folder: Location, raw_space: dict[str, Any], options: RunOptions) -> None:
    """Write both files into the experiment ``folder``."""
    folder.write_text(SPACE_COPY, yaml.safe_dump(raw_space, sort_keys=False))
    folder.write_text(RUN_OPTIONS, json.dumps(asdict(options), indent=2))


def _damaged(folder: Location, name: str, detail: str) -> UserInputError:
    return UserInputError(
        f"{folder.uri}/{name} is damaged or was not written by tune-bs ({detail[:200]}); "
        "restore it from a copy, or start the experiment again with `tune-bs run`."
    )


def read_space_copy(folder: Location) -> Any:
    """The saved search space as parsed YAML (validate it with ``parse_space``)."""
    try:
        return load_yaml(folder.read_text(SPACE_COPY), f"{folder.uri}/{SPACE_COPY}")
    except UserInputError as exc:
        raise _damaged(folder, SPACE_COPY, f"not plain YAML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _damaged(folder, SPACE_COPY, f"cannot be read: {exc}") from None


def _check_option(name: str, value: Any) -> str | None:
    """What is wrong with ``value`` for the :class:`RunOptions` field ``name`` (``None``: ok)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "smoke_test":
        return None if isinstance(value, bool) else "must be true or false"
    if value is None:
        return None if name != "max_failures" else "must be an integer of 0 or more"
    if name == "num_samples":
        ok = number and math.isfinite(value) and float(value).is_integer() and value >= 1
        return None if ok else "must be a positive integer or null"
    if name == "max_failures":
        ok = number and math.isfinite(value) and float(value).is_integer() and value >= 0
        return None if ok else "must be an integer of 0 or more"
    if name == "cpus_per_trial":
        ok = number and math.isfinite(value) and value > 0
        return None if ok else "must be a positive number or null"
    if name == "gpus_per_trial":
        ok = number and math.isfinite(value) and value >= 0
        return None if ok else "must be a number of 0 or more, or null"
    return None if isinstance(value, dict) else "must be a mapping or null"


def read_run_options(folder: Location) -> RunOptions:
    """The saved :class:`RunOptions` (missing keys take their defaults), validated."""
    from tune_bs.search.sections import check_budget
    from tune_bs.search.tracking import check_tracking

    try:
        raw = json.loads(folder.read_text(RUN_OPTIONS))
    except FileNotFoundError:
        return RunOptions()
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise _damaged(folder, RUN_OPTIONS, f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise _damaged(folder, RUN_OPTIONS, f"holds a {type(raw).__name__}, not a mapping")
    known = {f.name for f in fields(RunOptions)}
    for key, value in raw.items():
        if key not in known:
            raise _damaged(folder, RUN_OPTIONS, f"unknown key {key!r}")
        problem = _check_option(key, value)
        if problem:
            raise _damaged(folder, RUN_OPTIONS, f"{key} {problem}, but is {value!r}")
    try:
        if raw.get("smoke_budget") is not None:
            raw["smoke_budget"] = dict(check_budget(raw["smoke_budget"]))
        if raw.get("tracking") is not None:
            raw["tracking"] = check_tracking(raw["tracking"])
    except UserInputError as exc:
        raise _damaged(folder, RUN_OPTIONS, str(exc)) from None
    for key in ("num_samples", "max_failures"):
        if raw.get(key) is not None:
            raw[key] = int(raw[key])
    return RunOptions(**raw)
