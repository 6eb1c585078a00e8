"""Tests of the plug-in surface without Ray: the public names, :class:`tune_bs.BatchSizeUpdates`
against a plain :class:`~tune_bs.schedule.switch_board.SwitchBoard` (the Ray actor's class), and the
snippet of docs/guide/own-tune-code.md. The same surface on a real Ray: tests/test_plugin_e2e.py."""

from __future__ import annotations

import ast
import inspect
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
from doc_pages import blocks, read

import tune_bs
from tune_bs.errors import UserInputError
from tune_bs.schedule import plugin
from tune_bs.schedule.report_keys import ReportKeys
from tune_bs.schedule.switch_board import BOARD_KEY, SwitchBoard

ROOT = Path(__file__).parents[1]
PUBLIC = (
    "ExtrapolationScheduler",
    "SwitchSettings",
    "ReportKeys",
    "BatchSizeUpdates",
    "logger_callbacks",
)


def test_the_public_names_import_lazily() -> None:
    code = (
        "import sys, tune_bs; assert 'ray' not in sys.modules, 'ray imported'; "
        f"from tune_bs import {', '.join(PUBLIC)}; "
        "import tune_bs.schedule.extrapolation as e; assert ExtrapolationScheduler is "
        "e.ExtrapolationScheduler; print(*sorted(set(tune_bs.__all__) & set(dir(tune_bs))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert set(PUBLIC) <= set(done.stdout.split())  # in __all__ and in dir(tune_bs)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        tune_bs.Nope  # noqa: B018


class Board:
    """:class:`~tune_bs.schedule.switch_board.BoardClient`'s interface over a plain board."""

    boards: ClassVar[dict[str, SwitchBoard]] = {}

    def __init__(self, name: str, trial_id: str) -> None:
        self._board, self._trial_id = Board.boards.setdefault(name, SwitchBoard()), trial_id

    def take(self, reports: int):
        return self._board.take(self._trial_id, reports)


@pytest.fixture
def in_trial(monkeypatch: pytest.MonkeyPatch) -> SwitchBoard:
    """As inside trial ``t`` of a scheduler with a board: the board, to post on."""
    Board.boards = {"the-board": SwitchBoard()}
    monkeypatch.setattr(plugin, "BoardClient", Board)
    monkeypatch.setattr(plugin, "_trial_id", lambda: "t")
    monkeypatch.setattr(plugin, "_restored", lambda: False)
    monkeypatch.setattr(plugin, "running_board", lambda: None)
    return Board.boards["the-board"]


def test_the_board_is_found_by_name_without_a_config_key(
    in_trial: SwitchBoard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduler puts nothing private into a trial's config: the trainable finds the board
    its scheduler opened by name."""
    monkeypatch.setattr(plugin, "running_board", lambda: "the-board")
    config = {"batch_size": 16, "lr": 0.1}
    updates = tune_bs.BatchSizeUpdates(config)
    in_trial.post("t", 32, 2, 1)
    assert updates.after_report() is True
    assert config == {"batch_size": 32, "accumulation_steps": 2, "lr": 0.1}


def test_a_class_trainable_says_its_trial_and_counts_with_its_iteration(
    in_trial: SwitchBoard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``tune.Trainable``: ``trial_id=self.trial_id`` (no function session to ask), and
    ``at_report(self.iteration)`` at the start of each step; asking twice changes nothing."""
    monkeypatch.setattr(plugin, "_trial_id", lambda: pytest.fail("asked the function session"))
    monkeypatch.setattr(plugin, "running_board", lambda: "the-board")
    updates = tune_bs.BatchSizeUpdates({"batch_size": 16}, trial_id="t")
    assert updates.at_report(0) is False  # the first step: no report yet
    in_trial.post("t", 32, 1, 1)
    assert updates.at_report(1) is True and updates.batch_size == 32
    assert updates.at_report(1) is False
    in_trial.post("t", 64, 1, 4)  # a restored trial: its iteration comes from the checkpoint
    assert updates.at_report(4) is True and updates.batch_size == 64


def test_a_class_trainable_that_does_not_say_its_trial_is_told_how(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(plugin, "_trial_id", lambda: None)  # no function session
    monkeypatch.setattr(plugin, "running_board", lambda: "the-board")
    with caplog.at_level(logging.WARNING, logger="tune_bs.schedule.plugin"):
        updates = tune_bs.BatchSizeUpdates({"batch_size": 16})
    assert "switches by restart" in caplog.text and "trial_id=self.trial_id" in caplog.text
    assert updates.after_report() is False


def test_after_report_takes_the_switch_decided_on_that_report(in_trial: SwitchBoard) -> None:
    config = {"batch_size": 16, BOARD_KEY: "the-board", "lr": 0.1}
    updates = tune_bs.BatchSizeUpdates(config)
    assert (updates.batch_size, updates.accumulation_steps, updates.reports) == (16, 1, 0)
    assert updates.after_report() is False  # report 1: nothing posted
    in_trial.post("t", 32, 1, 2)  # the scheduler, while report 2 waits
    assert updates.after_report() is True
    assert (updates.batch_size, updates.reports) == (32, 2)
    # the size in force, and nothing private (Ray prints a trial's config)
    assert config == {"batch_size": 32, BOARD_KEY: "the-board", "lr": 0.1}
    assert updates.after_report() is False  # report 3
    in_trial.post("t", 64, 1, 3)  # decided on report 3, found only after report 4: stale
    assert updates.after_report() is False
    assert updates.batch_size == 32 and in_trial.take("t", 3) is None  # and dropped


def test_a_restored_trial_counts_on_from_its_reports(
    in_trial: SwitchBoard, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugin, "_restored", lambda: True)
    updates = tune_bs.BatchSizeUpdates({"batch_size": 16, BOARD_KEY: "the-board"}, reports=5)
    in_trial.post("t", 8, 2, 6)
    assert updates.after_report() is True
    assert (updates.batch_size, updates.accumulation_steps, updates.reports) == (8, 2, 6)


def test_a_restored_trial_that_does_not_say_its_reports_takes_no_switch(
    in_trial: SwitchBoard, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(plugin, "_restored", lambda: True)
    with caplog.at_level(logging.WARNING, logger="tune_bs.schedule.plugin"):
        updates = tune_bs.BatchSizeUpdates({"batch_size": 16, BOARD_KEY: "the-board"})
    assert "was not told how many reports it had made (reports=...)" in caplog.text
    in_trial.post("t", 32, 1, 1)
    assert updates.after_report() is False  # the scheduler will switch it by restart
    assert in_trial.take("t", 1) == (32, 1, 1)  # and the decision was left alone


def test_without_a_board_nothing_changes(in_trial: SwitchBoard) -> None:
    updates = tune_bs.BatchSizeUpdates(
        {"train_bs": 24}, keys=ReportKeys(config_batch_size="train_bs")
    )
    assert updates.batch_size == 24
    assert [updates.after_report() for _ in range(3)] == [False] * 3 and updates.reports == 3


def test_outside_tune_it_counts_and_never_switches() -> None:
    updates = tune_bs.BatchSizeUpdates({"batch_size": 16, BOARD_KEY: "the-board"})
    assert updates.after_report() is False and updates.reports == 1


def test_a_config_without_a_batch_size_is_refused_in_one_line(in_trial: SwitchBoard) -> None:
    with pytest.raises(
        UserInputError,
        match=r"config key 'batch_size', which must be a positive "
        r"integer, but trial t has batch_size=None",
    ) as info:
        tune_bs.BatchSizeUpdates({"lr": 0.1})
    assert "\n" not in str(info.value)


# --- the documentation page ----------------------------------------------------------------------
PAGE = "docs/guide/own-tune-code.md"


def _snippet() -> str:
    (code,) = blocks(read(PAGE), "python")
    return code


def _keywords(call: ast.Call) -> dict[str, Any]:
    return {k.arg: None for k in call.keywords if k.arg is not None}


def test_the_docs_snippet_uses_names_and_arguments_that_exist() -> None:
    code = _snippet()
    assert len([line for line in code.splitlines() if line.strip()]) <= 13  # the lines needed
    tree = ast.parse(code)
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "tune_bs"
        for alias in node.names
    }
    assert imported and imported <= set(PUBLIC)
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in imported
    ]
    called = set()
    for call in calls:
        target = getattr(tune_bs, call.func.id)
        inspect.signature(target).bind_partial(*[None] * len(call.args), **_keywords(call))
        called.add(call.func.id)
    assert {"ExtrapolationScheduler", "SwitchSettings", "BatchSizeUpdates"} <= called
    attributes = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "updates"
    }
    assert attributes and all(
        hasattr(tune_bs.BatchSizeUpdates, a) or a in {"batch_size"} for a in attributes
    )
    # the reported keys are the ones the scheduler requires; the config has the batch size
    literal_keys = {
        key.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for key in node.keys
        if isinstance(key, ast.Constant)
    }
    keys = ReportKeys()
    assert set(keys.required().values()) <= literal_keys
    assert keys.config_batch_size in literal_keys
