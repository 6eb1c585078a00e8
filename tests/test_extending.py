"""docs/guide/extending.md: its example strategy, run as written, is validated, built and
trained."""

from __future__ import annotations

import pytest
import torch
from doc_pages import blocks, read

from tune_bs.data import load_dataset
from tune_bs.errors import UserInputError
from tune_bs.options import options_of
from tune_bs.search.space import parse_space
from tune_bs.train.strategies import STRATEGIES, build_strategy
from tune_bs.train.trainer import ContrastiveTrainer, TrainSettings

PAGE = "docs/guide/extending.md"


def example_code() -> str:
    """The first Python block of the "Extending" page."""
    found = blocks(read(PAGE), "python")
    assert found, f"{PAGE} has no python example"
    return found[0]


@pytest.fixture
def subset_strategy():
    """Run the page's example (it registers ``subset``); unregister it afterwards."""
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(example_code(), PAGE, "exec", dont_inherit=True), namespace)
    try:
        yield STRATEGIES["subset"]
    finally:
        STRATEGIES.pop("subset", None)


def _space(**params):
    return {"dataset": {"name": "GunPoint"}, "param_space": {"batch_size": 8, **params}}


def test_the_example_is_about_ten_lines():
    lines = [line for line in example_code().splitlines() if line.strip()]
    assert len(lines) <= 16


def test_the_example_strategy_is_validated_by_the_search_space(subset_strategy):
    (fraction,) = options_of(subset_strategy.Options)
    assert (fraction.type, fraction.default, fraction.bounds.maximum) == ("float", 0.5, 1.0)
    space = parse_space(_space(strategy="subset", fraction=0.25))
    assert space.param_space["fraction"] == 0.25
    searched = parse_space(
        _space(strategy="subset", fraction={"type": "categorical", "choices": [0.25, 0.5]})
    )
    assert searched.values_of("fraction") == (0.25, 0.5)
    with pytest.raises(UserInputError) as info:
        parse_space(_space(strategy="subset", fraction=0))
    assert str(info.value) == (
        "param_space.fraction must be greater than 0, but got param_space.fraction=0; "
        "fix the value."
    )
    with pytest.raises(UserInputError, match=r"param_space.fraction must be at most 1"):
        parse_space(_space(fraction=2))
    with pytest.raises(UserInputError, match=r"param_space.fracton is not a known key \(did you"):
        parse_space(_space(fracton=0.5))


def test_the_example_strategy_yields_batches_and_trains(subset_strategy):
    settings = TrainSettings.from_config(
        {
            "strategy": "subset",
            "fraction": 0.25,
            "batch_size": 8,
            "hidden": 8,
            "projection_dim": 8,
            "budget_samples": 64,
            "report_every": 32,
        }
    )
    strategy = build_strategy("subset", settings, 100)
    assert isinstance(strategy, subset_strategy) and strategy.options.fraction == 0.25
    stream = strategy.make_stream(seed=0)
    seen = torch.cat([stream.next(8) for _ in range(20)])
    assert int(seen.max()) < 25 and len(set(seen.tolist())) == 25  # the first quarter, all of it

    data = load_dataset("synthetic", n_series=40, n_modes=2, length=16, seed=0)
    trainer = ContrastiveTrainer(data, settings, "cpu")
    report = trainer.report(trainer.train_until(64))
    assert report["samples_seen"] >= 64 and report["val_loss"] == report["val_loss"]
    assert trainer.state_dict()["settings"]["extra_options"] == {"fraction": 0.25}
