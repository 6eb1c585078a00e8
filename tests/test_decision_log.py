"""tune_bs.schedule.decision_log: one line per stop and per switch, shown by default, and the
summary with the counts by rule (stub trials, no Ray)."""

from __future__ import annotations

import logging
import re
import subprocess
import sys

from test_extrapolation import LRS, RATES, lr_search

from tune_bs.schedule.decision_log import DecisionLog, DecisionSummary
from tune_bs.schedule.switching import Decision, Rule


class Lines(logging.Handler):
    """The messages of the decisions' logger while it is installed (it is the logger's own
    handler then, so nothing else prints them)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def __enter__(self) -> list[str]:
        self.logger = logging.getLogger("tune_bs.decisions")
        self.saved = (list(self.logger.handlers), self.logger.level)
        self.logger.handlers = [self]
        self.logger.setLevel(logging.INFO)
        return self.lines

    def __exit__(self, *exc: object) -> None:
        self.logger.handlers, level = self.saved
        self.logger.setLevel(level)


def test_each_stop_and_switch_is_one_line_with_trial_rule_figures_and_sizes() -> None:
    with Lines() as lines:
        sched, actions, _ = lr_search(LRS, RATES)
    stops = [line for line in lines if " stops at report " in line]
    assert len(stops) == sum(a[-1] == "STOP" for a in actions.values()) == 1
    assert re.match(
        r"trial lr0\.3 stops at report \d+ \(batch size 16\), rule behind: cannot reach the "
        r"best expected end: reach 2\.\d+ \(flat\) .* rivals' ends lr0\.1 0\.\d+",
        stops[0],
    ), stops[0]
    switches = [line for line in lines if " switches batch size " in line]
    assert switches and all(
        re.match(r"trial lr\S+ switches batch size \d+ -> \d+ after report \d+, rule \w+: ", s)
        for s in switches
    ), switches
    summary = sched.debug_string()
    assert re.search(
        r"\d+ switches \((explore \d+)(, revert \d+)?\), 1 stopped \(behind 1\)", summary
    )


def test_the_summary_counts_by_rule_and_the_callback_logs_it_at_the_end() -> None:
    log = DecisionLog((16, 32))
    log.switched("a", Decision("switch", 32, 1, "x", 5, Rule.EXPLORE), (16, 1))
    log.switched("a", Decision("switch", 16, 1, "y", 10, Rule.REVERT), (32, 1))
    log.switched("b", Decision("switch", 32, 1, "z", 5, Rule.EXPLORE), (16, 1))
    log.unswitched(Decision("switch", 32, 1, "z", 5, Rule.EXPLORE))  # not taken in place
    log.stopped("c", Decision("stop", 16, 1, "w", 5, Rule.BEHIND))
    log.stopped("d", Decision("stop", 16, 1, "nan", 2, Rule.DIVERGED))
    assert log.summary() == (
        "extrapolation scheduler over batch sizes [16, 32]: 2 switches (explore 1, revert 1), "
        "1 stopped (behind 1), 1 diverged"
    )
    assert log.counts() == {
        "switches": {"explore": 1, "revert": 1},
        "stops": {"behind": 1, "diverged": 1},
    }
    with Lines() as lines:
        DecisionSummary().on_experiment_end([])
        DecisionSummary().on_experiment_end([])  # once per run
    summaries = [line for line in lines if "summary:" in line]
    assert f"summary: {log.summary()}" in summaries
    assert summaries.count(f"summary: {log.summary()}") == 1


def test_the_lines_are_shown_by_default() -> None:
    """A plain ``python`` process, logging not configured: the lines reach stderr (INFO is
    hidden by default for an unconfigured logger; this one has its own handler)."""
    code = (
        "from tune_bs.schedule.decision_log import DecisionLog\n"
        "from tune_bs.schedule.switching import Decision, Rule\n"
        "DecisionLog((16,)).stopped('t1', Decision('stop', 16, 1, 'worse', 7, Rule.BEHIND))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "[tune-bs] trial t1 stops at report 7 (batch size 16), rule behind: worse" in (
        done.stderr
    )


def test_the_lines_follow_stderr_when_a_program_redirects_and_closes_it() -> None:
    """A benchmark sends each experiment's output to a file of its own and closes it after: the
    next experiment's lines go to the stderr of that moment, with no "I/O operation on closed
    file" logging error (the handler used to keep the first stderr it saw)."""
    code = (
        "import contextlib, io, sys\n"
        "from tune_bs.schedule.decision_log import DecisionLog\n"
        "from tune_bs.schedule.switching import Decision, Rule\n"
        "def stop(trial):\n"
        "    DecisionLog((16,)).stopped(trial, Decision('stop', 16, 1, 'worse', 7, Rule.BEHIND))\n"
        "first = io.StringIO()\n"
        "with contextlib.redirect_stderr(first):\n"
        "    stop('t1')\n"
        "print('first:', 'trial t1 stops' in first.getvalue())\n"
        "first.close()\n"
        "stop('t2')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "first: True" in done.stdout
    assert "trial t2 stops" in done.stderr and "Logging error" not in done.stderr
