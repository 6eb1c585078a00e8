"""SIGINT and SIGTERM around ``Tuner.fit`` (:mod:`tune_bs.search.interrupt`): a stand-in for
Tune that installs its graceful-stop handler as Tune does; real signals, no Ray."""

from __future__ import annotations

import logging
import os
import signal
import threading

import pytest

from tune_bs.search.interrupt import (
    ExperimentInterrupted,
    Interruption,
    Terminated,
    exit_status,
    interruptible_fit,
    raise_interrupt,
    unfinished_trials,
)


class Grid:
    """What ``interruptible_fit`` reads of a Tune result grid."""

    def __init__(self, trials: int, terminated: int, errors: int = 0) -> None:
        self.trials, self.num_terminated, self.num_errors = trials, terminated, errors

    def __len__(self) -> int:
        return self.trials


class ReadInterrupted:
    """A result grid read while a further Ctrl-C arrives."""

    def __iter__(self):
        raise KeyboardInterrupt


class FakeTune:
    """``fit`` sets up a graceful stop on SIGUSR1 (as ``tune.run`` does), sends itself
    ``signals`` and returns a grid with unfinished trials if it was stopped."""

    def __init__(self, *signals: int, before_setup: bool = False) -> None:
        self.signals, self.before_setup, self.stopped = signals, before_setup, threading.Event()
        self.tune_sigint_disabled = None

    def fit(self) -> Grid:
        self.tune_sigint_disabled = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
        if self.before_setup:
            os.kill(os.getpid(), self.signals[0])
        signal.signal(signal.SIGUSR1, lambda *_: self.stopped.set())
        for signum in self.signals:
            os.kill(os.getpid(), signum)
        return Grid(2, 0 if self.stopped.is_set() else 2)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_first_signal_stops_tune_gracefully(signum):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)}
    tune = FakeTune(signum)
    results, interrupted = interruptible_fit(tune)
    assert tune.stopped.is_set() and interrupted == signal.Signals(signum).name
    assert results.trials == 2 and unfinished_trials(results) == 2
    assert tune.tune_sigint_disabled == "1"  # tune-bs, not Tune, handles SIGINT meanwhile
    assert "TUNE_DISABLE_SIGINT_HANDLER" not in os.environ
    after = {s: signal.getsignal(s) for s in before}
    assert after == before  # every handler restored, Tune's SIGUSR1 one included


def test_a_second_signal_stops_at_once():
    results, interrupted = interruptible_fit(FakeTune(signal.SIGTERM, signal.SIGINT))
    assert results is None and interrupted == "SIGTERM"  # the first signal names the stop


def test_a_signal_before_tune_set_up_its_run_stops_at_once():
    signal.signal(signal.SIGUSR1, lambda *_: None)  # a stale handler of an earlier fit
    try:
        tune = FakeTune(signal.SIGINT, before_setup=True)
        results, interrupted = interruptible_fit(tune)
        assert results is None and interrupted == "SIGINT" and not tune.stopped.is_set()
    finally:
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)


def test_a_run_that_ended_is_not_interrupted():
    class Done:
        def fit(self) -> Grid:
            return Grid(3, 2, errors=1)

    results, interrupted = interruptible_fit(Done())
    assert interrupted is None and results.trials == 3


def test_trials_left_unfinished_without_a_signal_count_as_interrupted():
    class Stopped:
        def fit(self) -> Grid:
            return Grid(2, 1)

    assert interruptible_fit(Stopped())[1] == "SIGUSR1"


def test_sigterm_outside_the_fit_raises_terminated():
    with pytest.raises(Terminated):
        raise_interrupt(signal.SIGTERM, None)
    with pytest.raises(KeyboardInterrupt) as err:
        raise_interrupt(signal.SIGINT, None)
    assert not isinstance(err.value, Terminated)
    assert exit_status(signal.SIGINT) == 130 and exit_status(signal.SIGTERM) == 143


def test_off_the_main_thread_nothing_is_installed():
    seen = {}

    def body():
        with Interruption() as stop:
            seen["handler"] = signal.getsignal(signal.SIGINT)
            seen["signum"] = stop.signum

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == {"handler": signal.getsignal(signal.SIGINT), "signum": None}


def test_tunes_restore_advice_is_left_out_while_fitting(caplog):
    tune_logger = logging.getLogger("ray.tune.tune")
    with caplog.at_level(logging.WARNING, "ray.tune.tune"):
        with Interruption():
            tune_logger.warning(
                "Experiment has been interrupted, but the most recent state was "
                'saved.\nResume experiment with: Tuner.restore(path="/x", ...)'
            )
            tune_logger.warning("Trials did not complete")
        tune_logger.warning("Resume with Tuner.restore(...) outside a run")
    assert [r.getMessage() for r in caplog.records] == [
        "Trials did not complete",
        "Resume with Tuner.restore(...) outside a run",
    ]


@pytest.mark.parametrize(
    ("exc", "first", "name", "status"),
    [
        (KeyboardInterrupt(), None, "SIGINT", 130),
        (Terminated(), None, "SIGTERM", 143),
        (KeyboardInterrupt(), "SIGTERM", "SIGTERM", 143),  # the first signal names the stop
    ],
)
def test_a_signal_after_the_experiment_started_names_its_folder(exc, first, name, status):
    named = ExperimentInterrupted.of(exc, "/res/long", first)
    assert isinstance(named, KeyboardInterrupt)  # still stops whatever is not tune-bs's
    assert (named.path, named.signal, named.status) == ("/res/long", name, status)
    assert ExperimentInterrupted.of(named, "/elsewhere") is named


def test_the_cli_tells_how_to_resume_after_a_second_signal(monkeypatch, capsys):
    """A second Ctrl-C that lands after ``Tuner.fit`` returned (the run was releasing its
    folder or printing its table) still ends with the folder to resume and 128 + the first
    signal's number."""
    from tune_bs import cli

    def stopped(args):
        raise ExperimentInterrupted("/res/long", "SIGTERM")

    monkeypatch.setitem(cli.COMMANDS, "status", stopped)
    assert cli.main(["status", "raysubmit_1", "--address", "http://127.0.0.1:8265"]) == 143
    out = capsys.readouterr().out
    assert "interrupted by SIGTERM" in out and "`tune-bs resume /res/long`" in out


def test_a_second_signal_while_the_table_prints_skips_it(capsys):
    from tune_bs import cli

    class Result:
        local, path, interrupted = True, "/res/long", "SIGINT"

        def summary(self) -> str:
            raise KeyboardInterrupt

    assert cli._finish(Result()) == 130
    assert "`tune-bs resume /res/long`" in capsys.readouterr().out


def test_a_signal_while_an_interrupted_runs_result_is_read_names_its_folder():
    from types import SimpleNamespace

    from tune_bs.api.experiments import _finished

    grid = ReadInterrupted()
    outcome = SimpleNamespace(path="/res/long", space=None, results=grid, interrupted="SIGTERM")
    with pytest.raises(ExperimentInterrupted) as raised:
        _finished(outcome)
    assert (raised.value.path, raised.value.signal) == ("/res/long", "SIGTERM")


def test_a_signal_after_every_trial_ended_says_resume_finishes_the_wrap_up(capsys):
    """Ctrl-C while a finished run prunes or writes its selection: the folder to resume (a
    no-op for the trials) and 130, not the generic line."""
    from types import SimpleNamespace

    from tune_bs import cli
    from tune_bs.api.experiments import _finished

    grid = ReadInterrupted()
    outcome = SimpleNamespace(path="/res/done", space=None, results=grid, interrupted=None)
    with pytest.raises(ExperimentInterrupted) as raised:
        _finished(outcome)
    assert raised.value.finished and raised.value.signal == "SIGINT"
    assert cli._resume_advice(raised.value.path, raised.value.signal, True) == 130
    out = capsys.readouterr().out
    assert "after every trial had ended" in out and "`tune-bs resume /res/done`" in out
    assert not ExperimentInterrupted.of(KeyboardInterrupt(), "/r", "SIGINT", True).finished


def test_a_signal_while_a_finished_run_prunes_says_the_trials_had_ended(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from tune_bs.search import experiment
    from tune_bs.search.storage import Location

    class Done:
        def fit(self):
            return Grid(2, 2)

    def prune(space, folder):
        raise KeyboardInterrupt  # Ctrl-C while checkpoints are deleted

    monkeypatch.setattr(experiment, "prune_checkpoints", prune)
    folder = Location.open(tmp_path / "done")
    with pytest.raises(ExperimentInterrupted) as raised:
        experiment.fit_or_interrupt(Done(), SimpleNamespace(), folder)
    assert raised.value.finished and raised.value.signal == "SIGINT"
    assert str(tmp_path / "done") in str(raised.value.path)
