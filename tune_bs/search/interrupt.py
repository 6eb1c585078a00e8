"""Ctrl-C (SIGINT) and SIGTERM during an experiment: stop it, save its state, lose nothing.

Rules:

1. While :class:`Interruption` is entered (around ``Tuner.fit``), the first SIGINT or SIGTERM
   asks Ray Tune to stop the way Ctrl-C does (Tune's own handler, which Tune installs for
   SIGUSR1 as well as SIGINT once ``Tuner.fit`` has set up the run): the trials stop, and the
   experiment state is saved one last time with every trial's latest checkpoint, so
   ``tune-bs resume`` continues each trial from its last report. A second signal stops at once
   (``KeyboardInterrupt``); the state saved before, at most a fraction of a second old, is what
   ``resume`` continues from.
2. Tune's own SIGINT handler is turned off meanwhile (``TUNE_DISABLE_SIGINT_HANDLER``), so that
   tune-bs knows which signal came and the run ends with exit status 128 + its number (130
   for SIGINT, 143 for SIGTERM).
3. Outside of ``Tuner.fit`` (before Tune started), a signal raises ``KeyboardInterrupt`` at
   once: :class:`Terminated` for SIGTERM, so that the CLI exits with 143.
4. Signal handlers can only be set in the main thread; elsewhere :class:`Interruption` does
   nothing and Tune's defaults apply.
5. A signal that comes after ``Tuner.fit`` returned (while the run releases its folder or prints
   its table) stops at once as well; it is raised as :class:`ExperimentInterrupted`, which names
   the experiment's folder and the first signal, so that the user is still told how to resume.
6. Tune's own advice after an interruption (``Tuner.restore(path=..., trainable=...)``, Python
   that a ``tune-bs`` user cannot run as it stands) is left out; the run's summary says
   ``tune-bs resume PATH`` instead.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType
from typing import Any

logger = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_TUNE_SIGINT_ENV = "TUNE_DISABLE_SIGINT_HANDLER"
#: The signal Tune stops gracefully on, besides SIGINT (absent on Windows).
_USR1 = getattr(signal, "SIGUSR1", None)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would raise ``KeyboardInterrupt`` (rule 3)."""


class ExperimentInterrupted(KeyboardInterrupt):
    """A signal after the experiment in ``path`` started (rule 5); ``signal`` names the first
    signal that interrupted it (``"SIGINT"``, ``"SIGTERM"``). ``finished``: every trial had
    ended and the signal came while the run pruned checkpoints or wrote its selection, which
    ``tune-bs resume`` does again."""

    def __init__(self, path: Any, signal_name: str, finished: bool = False) -> None:
        super().__init__(f"{signal_name}: {path}")
        self.path = path
        self.signal = signal_name
        self.finished = finished

    @classmethod
    def of(
        cls, exc: KeyboardInterrupt, path: Any, first: str | None = None, finished: bool = False
    ) -> ExperimentInterrupted:
        """``exc`` raised in the experiment in ``path``; ``first`` is the signal that had
        already interrupted it, if one had."""
        if isinstance(exc, ExperimentInterrupted):
            return exc
        own = signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT
        return cls(path, first or signal_name(own), finished and first is None)

    @classmethod
    def after_start(cls, exc: KeyboardInterrupt, path: Any, outcome: Any) -> ExperimentInterrupted:
        """``exc`` raised in a started experiment whose ``fit_or_interrupt`` returned
        ``outcome`` (``None``: it had not returned): its first signal, and whether the trials
        had all ended."""
        first = outcome.interrupted if outcome is not None else None
        return cls.of(exc, path, first, finished=outcome is not None and first is None)

    @property
    def status(self) -> int:
        """The run's exit status: 128 + the first signal's number."""
        return named_exit_status(self.signal)


def exit_status(signum: int) -> int:
    """The shell's exit status of a program stopped by signal ``signum``: 128 + its number."""
    return 128 + int(signum)


def named_exit_status(name: str) -> int:
    """:func:`exit_status` of the signal named ``name`` (``"SIGINT"``; SIGINT's if unknown)."""
    return exit_status(getattr(signal, name, signal.SIGINT))


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


def raise_interrupt(signum: int, frame: FrameType | None = None) -> None:
    """A signal handler: ``KeyboardInterrupt`` for SIGINT, :class:`Terminated` for SIGTERM."""
    if signum == signal.SIGTERM:
        raise Terminated()
    raise KeyboardInterrupt()


class _NoTuneRestoreAdvice(logging.Filter):
    """Drops Tune's ``Resume experiment with: Tuner.restore(...)`` warning (rule 6)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Tuner.restore(" not in str(record.msg)


_TUNE_LOGGER = "ray.tune.tune"


class Interruption:
    """Signal handling around ``Tuner.fit`` (module rules). ``signum`` is the first signal
    received, or ``None``."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._saved: dict[int, Any] = {}
        self._env: str | None = None
        self._active = False
        self._filter = _NoTuneRestoreAdvice()

    def __enter__(self) -> Interruption:
        if threading.current_thread() is not threading.main_thread():
            return self
        self._active = True
        logging.getLogger(_TUNE_LOGGER).addFilter(self._filter)
        self._env = os.environ.get(_TUNE_SIGINT_ENV)
        os.environ[_TUNE_SIGINT_ENV] = "1"
        for signum in SIGNALS:
            self._saved[signum] = signal.getsignal(signum)
            signal.signal(signum, self._handle)
        if _USR1 is not None:  # Tune's handler of an earlier fit may still be there
            self._saved[_USR1] = signal.getsignal(_USR1)
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self._active:
            return
        logging.getLogger(_TUNE_LOGGER).removeFilter(self._filter)
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)
        if self._env is None:
            os.environ.pop(_TUNE_SIGINT_ENV, None)
        else:
            os.environ[_TUNE_SIGINT_ENV] = self._env
        self._active = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
        tune_stop = signal.getsignal(_USR1) if _USR1 is not None else None
        if first and callable(tune_stop) and tune_stop is not self._saved.get(_USR1):
            logger.warning(
                "tune-bs: %s received; stopping the trials and saving the experiment's state "
                "(send it again to stop at once).",
                signal_name(signum),
            )
            tune_stop(_USR1, frame)
            return
        raise_interrupt(signum, frame)


def unfinished_trials(results: Any) -> int:
    """Trials of a Tune result grid that neither ended nor failed (Tune was stopped)."""
    if results is None:
        return 0
    return len(results) - results.num_terminated - results.num_errors


def interruptible_fit(tuner: Any) -> tuple[Any, str | None]:
    """``(tuner.fit()'s result grid, the interrupting signal's name or None)`` (rules 1-3).

    The grid is ``None`` when a second signal stopped ``fit`` before it returned. A grid with
    trials Tune left unfinished, though no signal came here (``SIGUSR1`` sent to the driver),
    counts as interrupted too.
    """
    stop = Interruption()
    results = None
    try:
        with stop:
            results = tuner.fit()
    except KeyboardInterrupt as exc:  # a second signal, or one before Tune set up its run
        default = signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT
        stop.signum = stop.signum or default
    if stop.signum is None and unfinished_trials(results):
        stop.signum = _USR1 or signal.SIGINT
    return results, None if stop.signum is None else signal_name(stop.signum)
