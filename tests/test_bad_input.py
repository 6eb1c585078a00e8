"""The catalogue of inputs a real user gets wrong (docs/design.md §9), each run through the real
CLI.

Every case goes through ``tune_bs.cli.main`` and must give exit status 2, exactly one line on
stderr, no traceback, and a message naming the field or flag and the bad value. None of them
starts Ray: the checks run before it (``run --address`` probes the port first).

=====================================  ================================================  ========
case                                   the message says (excerpt)                        command
=====================================  ================================================  ========
yaml syntax error                      not valid YAML at line 2, column ...              validate
empty file                             ... is empty; start from search_spaces/default    validate
top level a list                       must hold a mapping at the top level ... list     validate
top level a string                     must hold a mapping ... str                       validate
space file missing                     search space '...' does not exist                 validate
space file a folder                    ... does not exist or is not a file               validate
space file not UTF-8                   ... cannot be read (... codec ...)                validate
unknown top-level key                  shceduler is not a known key (did you mean ...)   validate
unknown scheduler key                  scheduler.grace_peroid ... (did you mean ...)     validate
unknown param_space key                param_space.batchsize ... (did you mean ...)      validate
unknown dataset key                    dataset.normalize ... (did you mean 'normalise')  validate
missing param_space                    needs a 'param_space' section                     validate
dataset not a mapping                  dataset must be a mapping ... dataset='GunPoint'  validate
num_samples a string                   num_samples must be an integer ... 'four'         validate
lr a string                            param_space.lr must be a number ... 'fast'        validate
low a string                           param_space.lr.low must be a number ...           validate
low >= high (float)                    low < high, but got low=0.1, high=0.01            validate
low == high (int)                      low < high, but got low=8, high=8                 validate
log range with low <= 0                log: true needs low > 0, but got low=0            validate
unknown parameter type                 type must be one of float, int, categorical       validate
empty choices                          choices must be a non-empty list, ... []          validate
num_samples 0                          num_samples must be at least 1 ... =0             validate
num_samples negative                   num_samples must be at least 1 ... =-3            validate
budget.epochs 0                        budget.epochs must be greater than 0              validate
budget.samples negative                budget.samples must be greater than 0             validate
budget.reports 0                       budget.reports must be greater than 0             validate
resources.cpu 0                        resources.cpu must be greater than 0              validate
asha reduction_factor 1                scheduler.reduction_factor must be at least 2     validate
--num-samples 0                        --num-samples must be a positive integer          run
--num-samples negative (submit)        --num-samples ... -1                              submit
--cpus-per-trial 0                     --cpus-per-trial must be positive ... 0.0         run
--cpus-per-trial negative (submit)     --cpus-per-trial ... -2.0                         submit
--gpus-per-trial negative              --gpus-per-trial must be at least 0 ... -1.0      run
unknown metric                         metric must be one of ... 'accuracy'              validate
test metric as the search metric       metric must be a validation metric ... use val_pr validate
old test-scored metric name            ... 'probe_acc' (did you mean 'val_probe_acc'?)   validate
probe metric on unlabelled data        metric val_probe_acc needs a classification ...   validate
eval_batch_size in param_space         param_space.eval_batch_size cannot be set ...     validate
report ranked on a test metric         --metric must be a validation metric ...          report
unknown mode                           mode must be one of max, min ... 'maximize'       validate
mode against the metric                mode must be 'min' for metric val_loss            validate
unknown data set                       dataset.name ... 'GunPont' (did you mean ...)     validate
unknown encoder                        param_space.encoder ... 'transformer'             validate
unknown strategy                       param_space.strategy ... 'magic'                  validate
unknown strategy among choices         param_space.strategy ... 'stratifed'              validate
unknown probe                          param_space.probe ... 'svn' (did you mean 'svm'?) validate
unknown normalisation (data set)       dataset.normalise ... 'zscore'                    validate
unknown normalisation (searched)       param_space.normalise ... (did you mean 'series') validate
normalisation given twice              normalise is given twice ... remove dataset.norm  validate
causal depth 0                         param_space.depth must be at least 1 ... 0        validate
unknown scheduler                      scheduler.name ... 'hyperband'                    validate
unknown search                         search.name ... 'bayes'                           validate
unknown switch path                    scheduler.switch_via ... 'teleport'               validate
explore not a flag                     scheduler.explore must be true or false ... 'yes' validate
batch size > training set              at most the number of training series (40) ... 64 validate
pbt batch_sizes > training set         scheduler.batch_sizes must be at most ... 128     validate
batch size 1                           param_space.batch_size must be at least 2 ... 1   validate
batch size 0 among choices             param_space.batch_size ... =0                     validate
alpha 0                                param_space.alpha must be greater than 0 ... 0    validate
alpha negative                         param_space.alpha ... -0.5                        validate
data path missing                      dataset.path ... 'missing.npz' does not exist     validate
data path a folder                     dataset.path ... cannot be read                   validate
data path not an npz                   dataset.path ... cannot be read as a .npz file    validate
npz without X                          must contain an array named 'X', ... ['Z']        validate
npz with 4 dimensions                  X must have shape [N, C, T] ... (8, 1, 4, 2)      validate
npz with 1 dimension                   X must have shape [N, C, T] ... (8,)              validate
npz with NaNs                          dataset.path '...': X must hold only finite values validate
npz labels of the wrong length         y must have one label per series (8) ... 3        validate
unreachable --address (run)            --address '127.0.0.1:PORT' cannot be reached      run
malformed --address (run)              --address must be HOST:PORT ... 'nohost'          run
unreachable --address (submit)         --address 'http://127.0.0.1:PORT' cannot be ...   submit
storage under a regular file           --storage '.../file' cannot be written            run
--name escaping --storage              --name must be one folder name ... '../escaped'   run
--name ..                              --name must be one folder name ... parent         run
name with a path separator             name must be one folder name ... 'a/b'            validate
--cpus-per-trial nan                   --cpus-per-trial must be positive ... nan         run
resume of a planted tuner.pkl          .../tuner.pkl was not written by this user's ...  resume
resume with a damaged tune_bs_run.json .../tune_bs_run.json is damaged ... not JSON      resume
report on an empty folder              ... holds no tune-bs experiment; run tune-bs run  report
report on a missing folder             ... holds no tune-bs experiment                   report
report with an unknown --metric        metric must be one the trials reported ...        report
resume on an empty folder              ... holds no resumable tune-bs experiment         resume
resume on a missing folder             ... holds no resumable tune-bs experiment         resume
=====================================  ================================================  ========
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from tune_bs.cli import main

MINIMAL = {
    "dataset": {"name": "GunPoint"},
    "param_space": {"batch_size": 8},
    "budget": {"samples": 32, "reports": 1},
}


def _yaml(text: str) -> Callable[[Path], list[str]]:
    """``validate`` a space file holding ``text``."""

    def make(tmp: Path) -> list[str]:
        path = tmp / "space.yaml"
        path.write_text(text)
        return ["validate", str(path)]

    return make


def _space(command: str = "validate", *flags: str, **changes) -> Callable[[Path], list[str]]:
    """``command`` on MINIMAL with top-level ``changes`` (``param_space`` entries are merged)."""

    def make(tmp: Path) -> list[str]:
        raw = {**MINIMAL, **{k: v for k, v in changes.items() if k != "params"}}
        raw["param_space"] = {**raw["param_space"], **changes.get("params", {})}
        path = tmp / "space.yaml"
        path.write_text(yaml.safe_dump(raw))
        extra = [f.replace("TMP", str(tmp)) for f in flags]
        return [command, str(path), *extra]

    return make


def _npz(**arrays: np.ndarray) -> Callable[[Path], list[str]]:
    """``validate`` a space whose data set is an .npz file holding ``arrays``."""

    def make(tmp: Path) -> list[str]:
        np.savez(tmp / "data.npz", **arrays)
        return _space(dataset={"path": str(tmp / "data.npz")})(tmp)

    return make


def _data_path(kind: str) -> Callable[[Path], list[str]]:
    def make(tmp: Path) -> list[str]:
        path = tmp / ("missing.npz" if kind == "missing" else "data.npz")
        if kind == "folder":
            path.mkdir()
        elif kind == "junk":
            path.write_text("this is not a zip archive")
        return _space(dataset={"path": str(path)})(tmp)

    return make


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_address(tmp: Path) -> list[str]:
    return _space("run", "--storage", "TMP/results", "--address", f"127.0.0.1:{_closed_port()}")(
        tmp
    )


def _submit_address(tmp: Path) -> list[str]:
    return _space("submit", "--address", f"http://127.0.0.1:{_closed_port()}")(tmp)


def _storage_under_file(tmp: Path) -> list[str]:
    (tmp / "file").write_text("a regular file")
    return _space("run", "--storage", "TMP/file/results")(tmp)


def _npz_space(**changes) -> Callable[[Path], list[str]]:
    """``validate`` a space with ``changes`` on an unlabelled .npz data set."""

    def make(tmp: Path) -> list[str]:
        np.savez(tmp / "data.npz", X=np.random.default_rng(0).normal(size=(20, 1, 8)))
        return _space(dataset={"path": str(tmp / "data.npz")}, **changes)(tmp)

    return make


def _report_metric(metric: str) -> Callable[[Path], list[str]]:
    def make(tmp: Path) -> list[str]:
        args = _report_unknown_metric(tmp)
        return [*args[:3], metric, *args[4:]]

    return make


def _report_unknown_metric(tmp: Path) -> list[str]:
    trial = tmp / "exp" / "trial_0"
    trial.mkdir(parents=True)
    (tmp / "exp" / "experiment_state-2026.json").write_text("{}")
    (trial / "params.json").write_text(json.dumps({"batch_size": 8}))
    row = {
        "training_iteration": 1,
        "val_loss": 1.0,
        "val_probe_acc": 0.5,
        "samples_seen": 8,
        "trial_id": "t0",
        "config": {"batch_size": 8},
    }
    (trial / "result.json").write_text(json.dumps(row) + "\n")
    return ["report", str(tmp / "exp"), "--metric", "accuracy", "--out", str(tmp / "out")]


def _empty_folder(command: str, missing: bool = False) -> Callable[[Path], list[str]]:
    def make(tmp: Path) -> list[str]:
        folder = tmp / ("nothing" if missing else "empty")
        if not missing:
            folder.mkdir()
        return [command, str(folder)]

    return make


def _resumable(run_file: str | None = None, tuner: bytes | None = None):
    """``resume`` a folder that looks resumable: the space copy, ``run_file`` as its
    ``tune_bs_run.json``, and ``tuner`` (default: a harmless pickle this user's tune-bs
    signed) as its ``tuner.pkl``."""

    def make(tmp: Path) -> list[str]:
        import pickle

        from tune_bs.search.signing import sign, signing_key

        folder = tmp / "results" / "planted"
        folder.mkdir(parents=True)
        (folder / "tune_bs_space.yaml").write_text(yaml.safe_dump(MINIMAL))
        (folder / "tune_bs_run.json").write_text(run_file or "{}")
        signed = sign(pickle.dumps({"harmless": True}), signing_key())
        (folder / "tuner.pkl").write_bytes(tuner if tuner is not None else signed)
        return ["resume", str(folder)]

    return make


def _grid(choices: list) -> dict:
    return {"type": "categorical", "choices": choices}


# (case id, argv maker, strings the one line must contain: the field or flag and the bad value)
CASES: list[tuple[str, Callable[[Path], list[str]], tuple[str, ...]]] = [
    # --- the file itself
    (
        "yaml-syntax",
        _yaml("name: x\ndataset: {name: GunPoint\nparam_space: {}\n"),
        ("not valid YAML at line", "space.yaml"),
    ),
    ("empty-file", _yaml(""), ("space.yaml", "is empty")),
    ("top-level-list", _yaml("- 1\n- 2\n"), ("mapping at the top level", "list")),
    ("top-level-string", _yaml("GunPoint\n"), ("mapping at the top level", "str")),
    (
        "space-missing",
        lambda tmp: ["validate", str(tmp / "nope.yaml")],
        ("search space", "nope.yaml", "does not exist"),
    ),
    ("space-is-folder", lambda tmp: ["validate", str(tmp)], ("search space", "not a file")),
    (
        "space-not-utf8",
        lambda tmp: (
            (tmp / "bin.yaml").write_bytes(b"\xff\xfe\x00bad")
            and ["validate", str(tmp / "bin.yaml")]
        ),
        ("bin.yaml", "cannot be read", "UTF-8"),
    ),
    # --- unknown keys, with a suggestion
    (
        "unknown-top-key",
        _space(shceduler={"name": "fifo"}),
        ("shceduler is not a known key", "did you mean 'scheduler'"),
    ),
    (
        "unknown-scheduler-key",
        _space(scheduler={"name": "asha", "grace_peroid": 2}),
        ("scheduler.grace_peroid", "did you mean 'grace_period'"),
    ),
    (
        "unknown-param-key",
        _space(params={"batchsize": 8}),
        ("param_space.batchsize", "did you mean 'batch_size'"),
    ),
    (
        "unknown-dataset-key",
        _space(dataset={"name": "GunPoint", "normalize": True}),
        ("dataset.normalize", "did you mean 'normalise'"),
    ),
    ("missing-param-space", _yaml("dataset: {name: GunPoint}\n"), ("'param_space'",)),
    # --- wrong types
    (
        "dataset-not-mapping",
        _space(dataset="GunPoint"),
        ("dataset must be a mapping", "dataset='GunPoint'"),
    ),
    (
        "num-samples-string",
        _space(num_samples="four"),
        ("num_samples must be an integer", "'four'"),
    ),
    ("lr-string", _space(params={"lr": "fast"}), ("param_space.lr must be a number", "'fast'")),
    (
        "low-string",
        _space(params={"lr": {"type": "float", "low": "small", "high": 0.1}}),
        ("param_space.lr.low must be a number", "'small'"),
    ),
    # --- impossible ranges
    (
        "low-above-high",
        _space(params={"lr": {"type": "float", "low": 0.1, "high": 0.01}}),
        ("param_space.lr", "low=0.1, high=0.01"),
    ),
    (
        "low-equals-high",
        _space(params={"batch_size": {"type": "int", "low": 8, "high": 8}}),
        ("param_space.batch_size", "low=8, high=8"),
    ),
    (
        "log-low-zero",
        _space(params={"lr": {"type": "float", "low": 0, "high": 1, "log": True}}),
        ("param_space.lr", "log: true", "low=0"),
    ),
    (
        "unknown-param-type",
        _space(params={"batch_size": {"type": "categorial", "choices": [8]}}),
        ("param_space.batch_size.type", "'categorial'", "did you mean 'categorical'"),
    ),
    (
        "empty-choices",
        _space(params={"batch_size": _grid([])}),
        ("param_space.batch_size.choices must be a non-empty list", "choices=[]"),
    ),
    # --- counts
    (
        "num-samples-zero",
        _space(num_samples=0),
        ("num_samples must be at least 1", "num_samples=0"),
    ),
    ("num-samples-negative", _space(num_samples=-3), ("num_samples", "num_samples=-3")),
    (
        "budget-epochs-zero",
        _space(budget={"epochs": 0}),
        ("budget.epochs must be greater than 0", "budget.epochs=0"),
    ),
    (
        "budget-samples-negative",
        _space(budget={"samples": -5}),
        ("budget.samples", "budget.samples=-5"),
    ),
    (
        "budget-reports-zero",
        _space(budget={"samples": 32, "reports": 0}),
        ("budget.reports", "budget.reports=0"),
    ),
    ("resources-cpu-zero", _space(resources={"cpu": 0}), ("resources.cpu", "resources.cpu=0")),
    (
        "asha-reduction-factor-1",
        _space(scheduler={"name": "asha", "reduction_factor": 1}),
        ("scheduler.reduction_factor must be at least 2", "scheduler.reduction_factor=1"),
    ),
    (
        "flag-num-samples-zero",
        _space("run", "--num-samples", "0", "--storage", "TMP/r"),
        ("--num-samples must be a positive integer", "--num-samples 0"),
    ),
    (
        "flag-num-samples-negative-submit",
        _space("submit", "--num-samples", "-1", "--address", "http://127.0.0.1:1"),
        ("--num-samples", "-1"),
    ),
    (
        "flag-cpus-zero",
        _space("run", "--cpus-per-trial", "0", "--storage", "TMP/r"),
        ("--cpus-per-trial must be positive", "0.0"),
    ),
    (
        "flag-cpus-negative-submit",
        _space("submit", "--cpus-per-trial", "-2", "--address", "http://127.0.0.1:1"),
        ("--cpus-per-trial", "-2.0"),
    ),
    (
        "flag-gpus-negative",
        _space("run", "--gpus-per-trial", "-1", "--storage", "TMP/r"),
        ("--gpus-per-trial must be at least 0", "-1.0"),
    ),
    # --- unknown names
    ("unknown-metric", _space(metric="accuracy"), ("metric must be one of", "'accuracy'")),
    (
        "test-metric",
        _space(metric="test_probe_acc"),
        ("metric must be a validation metric", "'test_probe_acc'", "use metric: val_probe_acc"),
    ),
    (
        "old-metric-name",
        _space(metric="probe_acc"),
        ("metric must be one of", "'probe_acc'", "did you mean 'val_probe_acc'"),
    ),
    (
        "probe-metric-unlabelled",
        _npz_space(metric="val_probe_acc"),
        (
            "metric val_probe_acc needs a classification data set",
            "has no labels",
            "use metric: val_loss",
        ),
    ),
    (
        "eval-batch-size-searched",
        _space(params={"eval_batch_size": 8}),
        ("param_space.eval_batch_size cannot be set", "remove eval_batch_size"),
    ),
    ("unknown-mode", _space(mode="maximize"), ("mode must be one of max, min", "'maximize'")),
    (
        "mode-against-metric",
        _space(metric="val_loss", mode="max"),
        ("mode must be 'min' for metric val_loss", "mode='max'"),
    ),
    (
        "unknown-dataset",
        _space(dataset={"name": "GunPont"}),
        ("dataset.name", "'GunPont'", "did you mean 'GunPoint'"),
    ),
    (
        "unknown-encoder",
        _space(params={"encoder": "transformer"}),
        ("param_space.encoder must be one of", "'transformer'"),
    ),
    (
        "unknown-strategy",
        _space(params={"strategy": "magic"}),
        ("param_space.strategy must be one of", "'magic'"),
    ),
    (
        "unknown-strategy-choice",
        _space(params={"strategy": _grid(["fixed", "stratifed"])}),
        ("param_space.strategy", "'stratifed'", "did you mean 'stratified'"),
    ),
    (
        "unknown-probe",
        _space(params={"probe": "svn"}),
        ("param_space.probe must be one of logistic, svm", "'svn'", "did you mean 'svm'"),
    ),
    (
        "unknown-normalise",
        _space(dataset={"name": "GunPoint", "normalise": "zscore"}),
        ("dataset.normalise must be one of dataset, none, series", "'zscore'"),
    ),
    (
        "unknown-normalise-searched",
        _space(params={"normalise": _grid(["dataset", "serie"])}),
        ("param_space.normalise", "'serie'", "did you mean 'series'"),
    ),
    (
        "normalise-twice",
        _space(
            dataset={"name": "GunPoint", "normalise": "series"},
            params={"normalise": _grid(["series", "dataset"])},
        ),
        ("normalise is given twice", "dataset.normalise='series'", "remove dataset.normalise"),
    ),
    (
        "causal-depth-zero",
        _space(params={"encoder": "causal_cnn", "depth": 0}),
        ("param_space.depth must be at least 1", "param_space.depth=0"),
    ),
    (
        "unknown-scheduler",
        _space(scheduler={"name": "hyperband"}),
        ("scheduler.name must be one of", "'hyperband'"),
    ),
    (
        "unknown-search",
        _space(search={"name": "bayes"}),
        ("search.name must be one of grid, optuna, random", "'bayes'"),
    ),
    (
        "unknown-switch-path",
        _space(
            scheduler={"name": "extrapolation", "batch_sizes": [8, 16], "switch_via": "teleport"}
        ),
        ("scheduler.switch_via must be one of inplace, restart", "'teleport'"),
    ),
    (
        "explore-not-a-flag",
        _space(scheduler={"name": "extrapolation", "batch_sizes": [8, 16], "explore": "yes"}),
        ("scheduler.explore must be true or false", "'yes'"),
    ),
    # --- batch sizes and alpha
    (
        "batch-above-training-set",
        _space(params={"batch_size": _grid([8, 64])}),
        ("batch_size must be at most the number of training series (40)", "batch_size=64"),
    ),
    (
        "pbt-batch-sizes-above-training-set",
        _space(scheduler={"name": "pbt", "batch_sizes": [8, 128]}),
        ("scheduler.batch_sizes must be at most the number of training series (40)", "128"),
    ),
    (
        "batch-size-1",
        _space(params={"batch_size": 1}),
        ("param_space.batch_size must be at least 2", "param_space.batch_size=1"),
    ),
    (
        "batch-size-0-choice",
        _space(params={"batch_size": _grid([0, 8])}),
        ("param_space.batch_size must be at least 2", "param_space.batch_size=0"),
    ),
    (
        "alpha-zero",
        _space(params={"strategy": "stratified", "alpha": 0}),
        ("param_space.alpha must be greater than 0", "param_space.alpha=0"),
    ),
    (
        "alpha-negative",
        _space(params={"strategy": "stratified", "alpha": -0.5}),
        ("param_space.alpha must be greater than 0", "param_space.alpha=-0.5"),
    ),
    # --- data files
    ("data-path-missing", _data_path("missing"), ("dataset.path", "missing.npz", "does not exist")),
    ("data-path-folder", _data_path("folder"), ("dataset.path", "data.npz", "cannot be read")),
    (
        "data-path-not-npz",
        _data_path("junk"),
        ("dataset.path", "data.npz", "cannot be read as a .npz file"),
    ),
    ("npz-without-X", _npz(Z=np.zeros((8, 1, 4))), ("must contain an array named 'X'", "['Z']")),
    ("npz-4-dims", _npz(X=np.zeros((8, 1, 4, 2))), ("X must have shape [N, C, T]", "(8, 1, 4, 2)")),
    ("npz-1-dim", _npz(X=np.zeros(8)), ("X must have shape [N, C, T]", "(8,)")),
    (
        "npz-nan",
        _npz(X=np.where(np.eye(8)[:, None, :4] > 0, np.nan, 1.0)),
        ("dataset.path", "data.npz", "X must hold only finite values", "series 0", "NaN"),
    ),
    (
        "npz-labels-length",
        _npz(X=np.random.default_rng(0).normal(size=(8, 1, 4)), y=np.zeros(3)),
        ("y must have one label per series (8)", "has 3"),
    ),
    # --- cluster and storage
    ("run-address-unreachable", _run_address, ("--address '127.0.0.1:", "cannot be reached")),
    (
        "run-address-malformed",
        _space("run", "--storage", "TMP/r", "--address", "nohost"),
        ("--address must be HOST:PORT", "'nohost'"),
    ),
    (
        "submit-address-unreachable",
        _submit_address,
        ("--address 'http://127.0.0.1:", "cannot be reached"),
    ),
    ("storage-under-a-file", _storage_under_file, ("--storage", "file", "cannot be written")),
    (
        "name-escapes-storage",
        _space("run", "--storage", "TMP/r", "--name", "../escaped"),
        ("--name must be one folder name inside --storage", "'../escaped'", "path separator"),
    ),
    (
        "name-parent",
        _space("run", "--storage", "TMP/r", "--name", ".."),
        ("--name must be one folder name", "'..'", "parent"),
    ),
    (
        "name-with-separator",
        _space(name="a/b"),
        ("name must be one folder name", "name='a/b'", "path separator"),
    ),
    (
        "cpus-per-trial-nan",
        _space("run", "--storage", "TMP/r", "--cpus-per-trial", "nan"),
        ("--cpus-per-trial must be positive", "nan"),
    ),
    (
        "resume-planted-tuner",
        _resumable(tuner=b"\x80\x04K\x01."),
        ("tuner.pkl was not written by this user's tune-bs", "--trust-storage"),
    ),
    (
        "resume-damaged-run-file",
        _resumable(run_file="{not json"),
        ("tune_bs_run.json is damaged", "not JSON"),
    ),
    # --- results folders
    (
        "report-empty-folder",
        _empty_folder("report"),
        ("empty", "holds no tune-bs experiment", "tune-bs run"),
    ),
    (
        "report-missing-folder",
        _empty_folder("report", missing=True),
        ("nothing", "holds no tune-bs experiment"),
    ),
    (
        "report-test-metric",
        _report_metric("test_probe_acc"),
        ("--metric must be a validation metric", "'test_probe_acc'", "use val_probe_acc"),
    ),
    (
        "report-unknown-metric",
        _report_unknown_metric,
        ("metric must be one the trials reported", "'accuracy'"),
    ),
    (
        "resume-empty-folder",
        _empty_folder("resume"),
        ("empty", "holds no resumable tune-bs experiment"),
    ),
    (
        "resume-missing-folder",
        _empty_folder("resume", missing=True),
        ("nothing", "holds no resumable tune-bs experiment"),
    ),
]


def test_the_catalogue_is_large_and_its_ids_unique():
    ids = [case for case, _, _ in CASES]
    assert len(ids) >= 30 and len(set(ids)) == len(ids)


@pytest.mark.parametrize(("make", "needles"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gives_one_line_and_exit_status_2(tmp_path, capsys, make, needles):
    argv = make(tmp_path)
    start = time.monotonic()
    status = main(argv)
    elapsed = time.monotonic() - start
    err = capsys.readouterr().err
    assert status == 2, f"{argv} exited {status}; stderr: {err}"
    assert err.count("\n") == 1 and err.startswith("tune-bs: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"
    assert elapsed < 15, f"{argv} took {elapsed:.1f} s to refuse"


def test_debug_adds_the_traceback_to_a_catalogue_case(tmp_path, capsys):
    argv = _space(num_samples=0)(tmp_path)
    assert main(["--debug", *argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "num_samples must be at least 1" in err.splitlines()[-1]


def test_an_unreachable_address_leaves_no_files_behind(tmp_path, capsys):
    assert main(_run_address(tmp_path)) == 2
    assert not list((tmp_path / "results").rglob("tune_bs_*"))
