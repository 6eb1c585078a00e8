"""Progress bars for the work tune-bs does itself, outside Ray's trial table: loading the data and
starting Ray before a run's table appears, the steps of ``export``, ``report`` and
``downstream``, the benchmarks' loops (tqdm_).

Rules:

- A bar writes to standard error, and only when that is a terminal (tqdm's ``disable=None``):
  logs, pipes, CI output, a Ray worker's output and a test's captured output stay free of it.
  ``TQDM_DISABLE=1`` in the environment turns every bar off, as for any tqdm bar.
- A bar disappears when its work is done (``leave=False``): what the command prints afterwards
  is the same with or without a terminal. While a :class:`Steps` bar is drawn, log lines go
  above it (``logging_redirect_tqdm``) instead of through it.

.. _tqdm: https://tqdm.github.io/
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from contextlib import ExitStack
from types import TracebackType
from typing import TextIO, TypeVar

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

T = TypeVar("T")


def bar(
    iterable: Iterable[T] | None = None,
    *,
    desc: str,
    total: float | None = None,
    unit: str = "it",
    file: TextIO | None = None,
) -> tqdm:
    """A progress bar over ``iterable`` (or one updated by hand up to ``total``), on ``file``
    (default: standard error) when it is a terminal (module rules)."""
    return tqdm(
        iterable,
        desc=desc,
        total=total,
        unit=unit,
        file=file if file is not None else sys.stderr,
        # None: on when the file is a terminal; TQDM_DISABLE, as tqdm's own default would
        disable=True if os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true") else None,
        leave=False,
        dynamic_ncols=True,
    )


class Steps:
    """A bar over a task's named steps: call it with each step's name as that step begins.

    Example::

        with Steps("export", 3) as step:
            step("loading the data")
            data = load_dataset(...)
            step("embedding")
            ...
    """

    def __init__(self, desc: str, total: int, file: TextIO | None = None) -> None:
        self._bar = bar(desc=desc, total=total, unit="step", file=file)
        self._begun = 0
        self._logging = ExitStack()

    def __call__(self, name: str) -> None:
        """Step ``name`` begins (the one before it is done)."""
        if self._begun:
            self._bar.update(1)
        self._begun += 1
        self._bar.set_postfix_str(name)

    def close(self) -> None:
        if self._begun:
            self._bar.update(1)
        self._bar.close()
        self._logging.close()

    def __enter__(self) -> Steps:
        if self.shown:
            self._logging.enter_context(logging_redirect_tqdm())
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def shown(self) -> bool:
        """Whether the bar is drawn (a terminal)."""
        return not self._bar.disable
