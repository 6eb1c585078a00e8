from pathlib import Path

import pytest
import yaml

from tune_bs.errors import UserInputError
from tune_bs.search.space import ParamSpec, check_against_data, load_space, parse_space

SPACES = sorted((Path(__file__).parents[1] / "search_spaces").glob("*.yaml"))
MINIMAL = {"dataset": {"name": "GunPoint"}, "param_space": {"batch_size": 8}}


def space(**changes):
    raw = {**MINIMAL, **changes}
    return parse_space({k: v for k, v in raw.items() if v is not None})


@pytest.mark.parametrize("path", SPACES, ids=[p.name for p in SPACES])
def test_every_shipped_search_space_is_valid(path):
    parsed = load_space(path)
    assert parsed.name and parsed.param_space


def test_defaults_and_param_specs():
    s = space(
        param_space={
            "batch_size": {"type": "categorical", "choices": [8, 16]},
            "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
            "hidden": 32,
        }
    )
    assert s.metric == "val_loss" and s.mode == "min" and s.scheduler == {"name": "fifo"}
    assert s.param_space["lr"] == ParamSpec("float", low=1e-4, high=1e-2, log=True)
    assert s.values_of("batch_size") == (8, 16) and s.values_of("hidden") == (32,)
    assert s.budget_samples(40) == 2000  # default 50 epochs of 40 series


def test_max_timesteps_caps_the_samples_of_long_series():
    space = parse_space(
        {
            "name": "x",
            "dataset": {"name": "GunPoint"},
            "budget": {"epochs": 40, "max_timesteps": 300_000},
            "param_space": {},
        }
    )
    assert space.budget_samples(40, 150) == 1600  # 40 epochs × 150 steps = 240k: no cap
    assert space.budget_samples(80, 1460) == 205  # 300k // 1460 instead of 3200
    assert space.budget_samples(80, 10**7) == 2  # never under 2
    assert space.budget_samples(80) == 3200  # length unknown: epochs only
    with pytest.raises(UserInputError, match=r"budget\.max_timesteps"):
        parse_space(
            {
                "name": "x",
                "dataset": {"name": "GunPoint"},
                "budget": {"epochs": 40, "max_timesteps": -1},
                "param_space": {},
            }
        )


BAD = [
    (
        {"dataset": {"name": "GunPoint"}, "param_space": {}, "shceduler": {}},
        r"shceduler is not a known key \(did you mean 'scheduler'\?\)",
    ),
    ({**MINIMAL, "dataset": {"name": "GunPont"}}, r"did you mean 'GunPoint'"),
    ({**MINIMAL, "dataset": {"name": "GunPoint", "path": "x.npz"}}, "exactly one of name or path"),
    (
        {**MINIMAL, "metric": "accuracy"},
        r"metric must be one of val_loss, val_multitask, val_probe_acc, val_probe_r2, "
        r"but got metric='accuracy'",
    ),
    (
        {**MINIMAL, "metric": "test_probe_acc"},
        r"metric must be a validation metric, but got metric='test_probe_acc'.*use metric: "
        r"val_probe_acc",
    ),
    ({**MINIMAL, "metric": "probe_acc"}, r"\(did you mean 'val_probe_acc'\?\)"),
    (
        {**MINIMAL, "param_space": {"eval_batch_size": 8}},
        r"param_space.eval_batch_size cannot be set: the evaluation batch size is fixed",
    ),
    ({**MINIMAL, "metric": "val_loss", "mode": "max"}, r"mode must be 'min' for metric val_loss"),
    ({**MINIMAL, "num_samples": 0}, r"num_samples must be at least 1"),
    ({**MINIMAL, "num_samples": 2.5}, r"num_samples must be an integer"),
    ({**MINIMAL, "budget": {"epochs": 3, "samples": 10}}, "exactly one of samples or epochs"),
    ({**MINIMAL, "budget": {"epochs": -1}}, r"budget.epochs must be greater than 0"),
    (
        {**MINIMAL, "scheduler": {"name": "hyperband"}},
        r"scheduler.name must be one of asha, .*fifo",
    ),
    (
        {**MINIMAL, "scheduler": {"name": "asha", "grace_peroid": 2}},
        r"scheduler.grace_peroid is not a known key \(did you mean 'grace_period'\?\)",
    ),
    ({**MINIMAL, "search": {"name": "bayes"}}, r"search.name must be one of grid, optuna, random"),
    ({**MINIMAL, "resources": {"cpu": 0}}, r"resources.cpu must be greater than 0"),
    (
        {**MINIMAL, "param_space": {"lr": {"type": "float", "low": 0.1, "high": 0.01}}},
        r"low < high, but got low=0.1, high=0.01",
    ),
    (
        {**MINIMAL, "param_space": {"lr": {"type": "float", "low": 0, "high": 1, "log": True}}},
        r"log: true needs low > 0",
    ),
    (
        {**MINIMAL, "param_space": {"batch_size": {"type": "categorical", "choices": []}}},
        "choices must be a non-empty list",
    ),
    (
        {**MINIMAL, "param_space": {"batch_size": {"type": "cat", "choices": [1]}}},
        r"type must be one of float, int, categorical, but got type='cat'; "
        r"see docs/guide/search-spaces.md\.",
    ),
    ({**MINIMAL, "param_space": {"batch_size": [8, 16]}}, r"write|searchable list is written"),
    (
        {**MINIMAL, "param_space": {"batchsize": 8}},
        r"param_space.batchsize is not a known key \(did you mean 'batch_size'\?\)",
    ),
    (
        {**MINIMAL, "param_space": {"encoder": "transformer"}},
        r"param_space.encoder must be one of causal_cnn, fcn, gru, lstm, lstm_fcn",
    ),
    (
        {**MINIMAL, "param_space": {"probe": "svn"}},
        r"param_space.probe must be one of logistic, svm, but got param_space.probe='svn' "
        r"\(did you mean 'svm'\?\)",
    ),
    (
        {**MINIMAL, "dataset": {"name": "GunPoint", "normalise": "zscore"}},
        r"dataset.normalise must be one of dataset, none, series, but got "
        r"dataset.normalise='zscore'",
    ),
    ({**MINIMAL, "param_space": {"normalise": True}}, r"param_space.normalise must be one of"),
    (
        {
            **MINIMAL,
            "param_space": {"probe": {"type": "categorical", "choices": ["svm", "logistic"]}},
        },
        r"param_space.probe must be one value, but got a categorical search over \['svm', "
        r"'logistic'\]: the probe defines val_probe_acc",
    ),
    (
        {
            **MINIMAL,
            "dataset": {"name": "GunPoint", "normalise": "dataset"},
            "param_space": {"normalise": "series"},
        },
        r"normalise is given twice",
    ),
    ({**MINIMAL, "param_space": {"depth": 0}}, r"param_space.depth must be at least 1"),
    ({**MINIMAL, "param_space": {"strategy": "magic"}}, r"param_space.strategy must be one of"),
    ({**MINIMAL, "param_space": {"batch_size": 1}}, r"param_space.batch_size must be at least 2"),
    ({**MINIMAL, "param_space": {"budget_samples": 10}}, r"set by the experiment"),
    (
        {
            **MINIMAL,
            "search": {"name": "grid"},
            "param_space": {"lr": {"type": "float", "low": 0.001, "high": 0.01}},
        },
        r"search 'grid' needs every searched parameter to be categorical",
    ),
    (
        {**MINIMAL, "search": {"name": "optuna"}, "scheduler": {"name": "pbt"}},
        r"search 'optuna' cannot be combined with scheduler 'pbt'",
    ),
    ([1, 2], "must hold a mapping at the top level"),
    (None, "is empty"),
]


@pytest.mark.parametrize(("raw", "message"), BAD, ids=[m[:30] for _, m in BAD])
def test_bad_search_spaces_get_one_line_errors(raw, message):
    with pytest.raises(UserInputError, match=message) as info:
        parse_space(raw)
    assert "\n" not in str(info.value)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ndataset: {name: GunPoint\nparam_space: {}\n")
    with pytest.raises(UserInputError, match=r"not valid YAML at line \d+"):
        load_space(path)
    with pytest.raises(UserInputError, match="does not exist"):
        load_space(tmp_path / "nope.yaml")


def test_checks_against_the_data():
    s = space(param_space={"batch_size": {"type": "categorical", "choices": [8, 64]}})
    with pytest.raises(
        UserInputError,
        match=r"at most the number of training series \(40\), "
        r"but got batch_size=64",
    ):
        check_against_data(s, n_train=40, task="classification")
    with pytest.raises(UserInputError, match="use metric: val_probe_r2"):
        check_against_data(space(metric="val_probe_acc"), n_train=40, task="regression")
    with pytest.raises(UserInputError, match="the data set has no labels; use metric: val_loss"):
        check_against_data(space(metric="val_probe_acc"), n_train=40, task="unlabelled")
    check_against_data(space(metric="val_loss"), n_train=40, task="unlabelled")


def test_grid_trial_count_multiplies_the_choices():
    s = space(
        search={"name": "grid"},
        num_samples=2,
        param_space={
            "batch_size": {"type": "categorical", "choices": [8, 16]},
            "seed": {"type": "categorical", "choices": [0, 1, 2]},
        },
    )
    assert s.trial_count() == 12
    assert space(num_samples=3).trial_count() == 3


def test_strategy_options_are_checked():
    with pytest.raises(
        UserInputError,
        match=r"param_space.stratify must be one of equal, "
        r"homogeneous, proportional",
    ):
        space(param_space={"stratify": "balanced"})
    with pytest.raises(UserInputError, match=r"param_space.alpha must be greater than 0"):
        space(param_space={"alpha": 0})
    with pytest.raises(UserInputError, match=r"param_space.cluster_method must be one of"):
        space(param_space={"cluster_method": "dbscan"})


def test_space_file_round_trip(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(MINIMAL))
    assert load_space(path).name == "mine"  # defaults to the file's stem


def _comparison(**extra):
    return {
        "dataset": {"name": "GunPoint"},
        "search": {"name": "grid"},
        "param_space": {"batch_size": {"type": "categorical", "choices": [4, 8]}},
        "schedulers": [{"name": "extrapolation"}, {"name": "fifo"}, {"name": "pbt"}],
        "name": "cmp",
        **extra,
    }


def test_a_comparison_file_expands_to_one_space_per_scheduler():
    space = parse_space(_comparison())
    variants = space.variants()
    assert [v.name for v in variants] == ["cmp-extrapolation", "cmp-fifo", "cmp-pbt"]
    assert [v.scheduler["name"] for v in variants] == ["extrapolation", "fifo", "pbt"]
    # the same trials and budget; pbt and extrapolation get their candidate sizes
    assert {v.trial_count() for v in variants} == {space.trial_count()}
    assert {str(v.budget) for v in variants} == {str(space.budget)}
    assert variants[0].scheduler["batch_sizes"] == [4, 8] == variants[2].scheduler["batch_sizes"]
    assert all(not v.compared for v in variants)  # each runs (and resumes) as a plain space
    assert all("schedulers" not in v.raw and v.raw["name"] == v.name for v in variants)
    plain = parse_space({k: v for k, v in _comparison().items() if k != "schedulers"})
    assert plain.variants() == [plain]


@pytest.mark.parametrize(
    "raw, message",
    [
        (
            _comparison(scheduler={"name": "asha"}),
            r"either scheduler \(one experiment\) or schedulers",
        ),
        (_comparison(schedulers=[{"name": "fifo"}]), "schedulers must list two or more"),
        (_comparison(schedulers=[{"name": "fifo"}, {"name": "fifo"}]), "lists a scheduler twice"),
        (_comparison(schedulers=[{"name": "fifo"}, {"name": "hyperband"}]), "'hyperband'"),
        (_comparison(search={"name": "optuna"}), "search 'optuna' cannot be combined with"),
    ],
)
def test_bad_comparison_files_are_refused(raw, message):
    with pytest.raises(UserInputError, match=message):
        parse_space(raw)


def test_the_extrapolation_smoke_budget_leaves_room_for_a_switch():
    from tune_bs.search.experiment import RunOptions, effective_space, smoke_budget

    space = load_space(Path(__file__).parents[1] / "search_spaces" / "switching.yaml")
    budget = smoke_budget(space)
    assert budget == {"epochs": 60 * 11 / 20, "reports": 11}  # two segments of 5, + 1 to act
    assert effective_space(space, RunOptions(smoke_test=True)).budget == budget
    asha = parse_space(_comparison(schedulers=[{"name": "asha"}, {"name": "fifo"}]))
    assert smoke_budget(asha.variants()[0]) == {"samples": 2 * 2 * 8, "reports": 2}


def test_a_compared_smoke_test_gives_every_scheduler_the_same_budget():
    from tune_bs.search.experiment import RunOptions, comparison_smoke_budget, effective_space

    space = load_space(Path(__file__).parents[1] / "search_spaces" / "scheduler_vs_baselines.yaml")
    variants = space.variants()
    common = comparison_smoke_budget(variants)
    assert common == {"epochs": 60 * 11 / 20, "reports": 11}  # the extrapolation scheduler's
    options = RunOptions(smoke_test=True, smoke_budget=common)
    assert {str(effective_space(v, options).budget) for v in variants} == {str(common)}


def test_a_searched_normalisation_loads_the_data_set_raw():
    searched = space(
        param_space={"normalise": {"type": "categorical", "choices": ["series", "dataset"]}}
    )
    assert searched.dataset["normalise"] == "none"  # each trial normalises the raw series
    assert searched.raw["dataset"] == {"name": "GunPoint"}  # the file as written
    plain = space(dataset={"name": "GunPoint", "normalise": "dataset"})
    assert plain.dataset["normalise"] == "dataset"
    assert space(dataset={"name": "GunPoint", "normalise": False}).dataset["normalise"] is False


def test_val_multitask_needs_two_targets_and_a_constant_alpha_in_0_1():
    base = {
        "name": "mt",
        "dataset": {"name": "GunPoint"},
        "metric": "val_multitask",
        "param_space": {"batch_size": 8},
    }
    with pytest.raises(
        UserInputError, match="needs a data set with a class label and a continuous target"
    ):
        check_against_data(parse_space(base), n_train=40, task="classification")
    check_against_data(parse_space(base), n_train=40, task="classification", multitask=True)
    searched = {
        **base,
        "param_space": {
            "batch_size": 8,
            "multitask_alpha": {"type": "categorical", "choices": [0.25, 0.75]},
        },
    }
    with pytest.raises(UserInputError, match="multitask_alpha"):
        parse_space(searched)
    with pytest.raises(UserInputError, match=r"param_space.multitask_alpha must be at most 1"):
        parse_space({**base, "param_space": {"batch_size": 8, "multitask_alpha": 1.5}})
