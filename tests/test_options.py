"""Conformance over every registry: each component declares its options once, with a type and
documented bounds; its defaults pass its own validator, and the validator refuses an
out-of-range value in one line naming the field."""

from __future__ import annotations

from dataclasses import fields

import pytest

from tune_bs.errors import UserInputError
from tune_bs.options import TYPES, Option, options_of
from tune_bs.schedule.schedulers import SCHEDULERS
from tune_bs.search.algorithms import SEARCH_ALGORITHMS
from tune_bs.search.params import BUDGET_CONFIG_KEYS
from tune_bs.search.space import parse_space
from tune_bs.train.encoders import ENCODERS
from tune_bs.train.probe import PROBES
from tune_bs.train.settings import (
    EXTRA_OPTIONS,
    TrainSettings,
    TrialOptions,
    trial_options,
)
from tune_bs.train.strategies import STRATEGIES
from tune_bs.train.strategies.base import ClusterStepOptions

#: Every registry, with the search-space section that names its entries (None: param_space).
REGISTRIES = {
    "strategy": (STRATEGIES, None),
    "encoder": (ENCODERS, None),
    "scheduler": (SCHEDULERS, "scheduler"),
    "search": (SEARCH_ALGORITHMS, "search"),
}
ENTRIES = [
    (kind, name, section, registry[name].Options)
    for kind, (registry, section) in REGISTRIES.items()
    for name in sorted(registry)
]
#: The option groups of a trial besides the registries' entries.
TRIAL_GROUPS = [("trial", TrialOptions), ("cluster step", ClusterStepOptions)]
BATCHES = {"type": "categorical", "choices": [8, 16]}


def _space(**changes):
    return {"dataset": {"name": "GunPoint"}, "param_space": {"batch_size": BATCHES}, **changes}


def _bad_values(opt: Option, section: str | None) -> list:
    """Values outside ``opt``'s declared bounds (module docstring)."""
    b, bad = opt.bounds, []
    if b.minimum is not None:
        step = 1 if opt.type == "int" else 0.5
        bad.append(b.minimum if b.exclusive else b.minimum - step)
    if b.maximum is not None:
        bad.append(b.maximum + 1)
    if opt.choices is not None:
        bad.append("no_such_name")
    if section is not None and opt.type == "bool":
        bad.append("yes")
    if opt.type == "sizes":
        bad += [[8], [8, 8], [1, 8]]
    return bad


def _entry_ids(entries):
    return [f"{e[0]}:{e[1]}" for e in entries]


@pytest.mark.parametrize(("kind", "name", "section", "Options"), ENTRIES, ids=_entry_ids(ENTRIES))
def test_every_registry_entry_declares_typed_documented_options(kind, name, section, Options):
    for opt in options_of(Options):
        assert opt.type in TYPES, (name, opt.name, opt.type)
        assert opt.bounds.doc.strip() and "\n" not in opt.bounds.doc, (name, opt.name)
        if opt.type in ("int", "float") and opt.bounds.minimum is None:
            assert "any" in opt.bounds.doc, f"{name}.{opt.name}: bounds undocumented"


@pytest.mark.parametrize("group", TRIAL_GROUPS, ids=[g[0] for g in TRIAL_GROUPS])
def test_the_trial_groups_declare_typed_documented_options(group):
    for opt in options_of(group[1]):
        assert opt.type in TYPES and opt.bounds.doc.strip(), opt.name
        if opt.type in ("int", "float") and opt.bounds.minimum is None:
            assert "any" in opt.bounds.doc, f"{opt.name}: bounds undocumented"


def test_trial_settings_hold_every_declared_trial_option_once():
    names = [f.name for f in fields(TrainSettings) if f.name != EXTRA_OPTIONS]
    assert len(names) == len(set(names))
    declared = {
        o.name for _, _, section, cls in ENTRIES if section is None for o in options_of(cls)
    }
    declared |= {o.name for _, group in TRIAL_GROUPS for o in options_of(group)}
    assert set(names) == declared == set(trial_options())
    options = trial_options()
    assert set(options["strategy"].choices) == set(STRATEGIES)
    assert set(options["encoder"].choices) == set(ENCODERS)
    assert options["probe"].choices == PROBES


def _trial_cases():
    for name, opt in trial_options().items():
        if name not in BUDGET_CONFIG_KEYS:
            yield name, opt


TRIAL = list(_trial_cases())


@pytest.mark.parametrize(("key", "opt"), TRIAL, ids=[k for k, _ in TRIAL])
def test_trial_option_defaults_pass_and_out_of_range_values_are_refused(key, opt):
    if not opt.bounds.unset:
        parse_space(_space(param_space={"batch_size": 8, key: opt.default}))
    for value in _bad_values(opt, None):
        with pytest.raises(UserInputError) as info:
            parse_space(_space(param_space={"batch_size": 8, key: value}))
        message = str(info.value)
        assert "\n" not in message and f"param_space.{key}" in message, message


SECTIONED = [e for e in ENTRIES if e[2] is not None]


@pytest.mark.parametrize(
    ("kind", "name", "section", "Options"), SECTIONED, ids=_entry_ids(SECTIONED)
)
def test_section_option_defaults_pass_and_out_of_range_values_are_refused(
    kind, name, section, Options
):
    parse_space(_space(**{section: {"name": name}}))
    for opt in options_of(Options):
        if not opt.required and not (opt.optional and opt.default is None):
            parse_space(_space(**{section: {"name": name, opt.name: opt.default}}))
        for value in _bad_values(opt, section):
            with pytest.raises(UserInputError) as info:
                parse_space(_space(**{section: {"name": name, opt.name: value}}))
            message = str(info.value)
            assert "\n" not in message and f"{opt.name}" in message, (name, opt.name, message)
            assert message.startswith(section), message


def test_unknown_options_and_names_get_a_did_you_mean():
    with pytest.raises(UserInputError, match=r"scheduler.keeep is not a known key \(did you mean"):
        parse_space(_space(scheduler={"name": "topk", "keeep": 1}))
    with pytest.raises(UserInputError, match=r"search.name must be one of grid, optuna, random"):
        parse_space(_space(search={"name": "optuan"}))
