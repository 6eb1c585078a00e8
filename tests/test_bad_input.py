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
npz empty (0 bytes)                    cannot be read as a .npz file ('the file is empt  validate
npz with a damaged member              array 'X' cannot be read (...): the file is dama  validate
npz with complex X                     X must hold real numbers ... complex128 (complex  validate
npz with boolean X                     X must be numeric, but has dtype bool             validate
npz with 0 channels                    at least 4 series of at least 1 channel ... (8,   validate
npz saved [N, T, 1]                    ... (8, 150, 1) (if it is [N, T, C], save X.tran  validate
npz float64 beyond float32             X must fit float32 ... values up to 4e+300        validate
npz offset erasing float32 variation   X loses its variation in float32: series 0, chan  validate
npz all one value                      train split must vary, but every value is 0.0     validate
npz 2-D y (one-hot)                    y must be one-dimensional ... (40, 2) ... argmax  validate
npz y as a column                      y must be one-dimensional ... (40, 1); save y.ra  validate
npz NaN labels                         y must give every series a finite label ... nan   validate
npz y_test of the wrong length         y_test must have one label per series (12) ... 5  validate
npz NaN in y_reg                       y_reg must give every series a finite label       validate
normalise none on 1e20 values          ... normalised with normalise=none must stay fin  validate
dataset statistics overflow            ... test split normalised with normalise=dataset  validate
single class under val_probe_acc       val_probe_acc needs two or more classes ... all   validate
budget.samples .nan                    budget.samples must be a finite number ... =nan   validate
budget.samples .inf                    budget.samples must be a finite number ... =inf   validate
budget.epochs .inf                     budget.epochs must be a finite number ... =inf    validate
dataset.seed .nan                      dataset.seed must be a finite number ... =nan     validate
dataset.val_fraction a string          dataset.val_fraction must be a number ... 'abc'   validate
dataset.length .inf                    dataset.length must be a finite number ... =inf   validate
dataset.path a list                    dataset.path must be a non-empty string ... ['a.  validate
weight_decay -.inf (no bounds)         param_space.weight_decay must be a finite number  validate
weight_decay a string (no bounds)      param_space.weight_decay must be a number ... 'ab  validate
samples 4, reports 100                 at least one batch per trial, but budget.samples  validate
reports leaving no batch between       budget.reports must leave at least one batch ...  validate
duplicate top-level key                line 4: 'budget' is given twice (first at line 3  validate
duplicate nested key                   'param_space.lr' is given twice                   validate
alias bomb in choices (311 bytes)      holds 597871 values once its aliases ... 100000   validate
alias containing itself                ... contains itself through an alias              validate
nesting 5000 levels deep               line 3: values are nested more than 64 levels de  validate
!!python tag in the space              not valid YAML at line 3 ... no !!python tags     validate
=====================================  ================================================  ========
"""

from __future__ import annotations

import json
import socket
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


def _npz_file(**arrays: np.ndarray) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        np.savez(tmp / "data.npz", **arrays)
        return tmp / "data.npz"

    return make


def _npz_with(make_file: Callable[[Path], Path], **changes) -> Callable[[Path], list[str]]:
    """``validate`` a space with ``changes`` whose data set is the file ``make_file`` writes."""

    def make(tmp: Path) -> list[str]:
        rest = {k: v for k, v in changes.items() if k != "dataset_options"}
        dataset = {"path": str(make_file(tmp)), **changes.get("dataset_options", {})}
        return _space(dataset=dataset, **rest)(tmp)

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


def _empty_npz(tmp: Path) -> Path:
    (tmp / "data.npz").write_bytes(b"")
    return tmp / "data.npz"


def _damaged_npz(tmp: Path) -> Path:
    path = _npz_file(X=np.random.default_rng(0).normal(size=(40, 1, 64)))(tmp)
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2  # inside X's stored bytes: its CRC no longer matches
    raw[middle : middle + 8] = b"\xff" * 8
    path.write_bytes(bytes(raw))
    return path


def _labelled(n: int = 40, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"X": rng.normal(size=(n, 1, 16)), "y": np.repeat([0, 1], n // 2)}


def _offset_series() -> np.ndarray:
    t = np.linspace(0, 6, 32)
    return np.stack([1e10 + np.sin(t + k) for k in range(40)])[:, None, :]


def _overflowing_statistics() -> dict[str, np.ndarray]:
    """Train values vary by 1e-6, test values reach 1e35: (x - mean) / std overflows float32."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2, 16)) * 1e-6
    X_test = rng.normal(size=(12, 2, 16))
    X_test[3, 0, 5] = 1e35
    return {"X": X, "y": np.repeat([0, 1], 20), "X_test": X_test, "y_test": np.zeros(12)}


def _alias_bomb(tmp: Path) -> list[str]:
    anchors = ["&a [1,1,1,1,1,1,1,1,1]"]
    for previous, name in zip("abcdef", "bcdefg", strict=True):
        anchors.append(f"&{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    text = (
        "dataset: {name: GunPoint}\nparam_space:\n  batch_size:\n    type: categorical\n"
        f"    choices: [{', '.join(anchors)}]\n"
    )
    return _yaml(text)(tmp)


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
    # --- issue #32: data that cannot be represented, labels, budgets, hostile YAML
    (
        "npz-empty",
        _npz_with(_empty_npz),
        ("dataset.path", "data.npz", "cannot be read as a .npz file", "the file is empty"),
    ),
    (
        "npz-damaged-member",
        _npz_with(_damaged_npz),
        ("data.npz", "array 'X' cannot be read", "damaged or cut short"),
    ),
    (
        "npz-complex",
        _npz(X=np.ones((8, 1, 4)) + 1j, y=np.zeros(8)),
        ("X must hold real numbers", "complex128", "np.abs(X)"),
    ),
    ("npz-bool", _npz(X=np.ones((8, 1, 4), bool)), ("X must be numeric", "dtype bool")),
    ("npz-zero-channels", _npz(X=np.zeros((8, 0, 4))), ("at least 1 channel", "(8, 0, 4)")),
    (
        "npz-time-last-univariate",
        _npz(X=np.random.default_rng(0).normal(size=(8, 150, 1))),
        ("(8, 150, 1)", "if it is [N, T, C], save X.transpose(0, 2, 1)"),
    ),
    (
        "npz-beyond-float32",
        _npz(X=np.full((8, 1, 4), 1e300) * np.arange(1, 5)),
        ("X must fit float32", "values up to 4e+300", "rescale"),
    ),
    (
        "npz-offset-erases-float32-variation",
        _npz(X=_offset_series()),
        ("X loses its variation in float32", "series 0, channel 0", "subtract"),
    ),
    ("npz-constant", _npz(X=np.zeros((40, 1, 16))), ("train split must vary", "is 0.0")),
    (
        "npz-y-one-hot",
        _npz(X=_labelled()["X"], y=np.eye(2)[_labelled()["y"]]),
        ("y must be one-dimensional", "(40, 2)", "y.argmax(axis=1)"),
    ),
    (
        "npz-y-column",
        _npz(X=_labelled()["X"], y=_labelled()["y"][:, None]),
        ("y must be one-dimensional", "(40, 1)", "y.ravel()"),
    ),
    (
        "npz-y-nan",
        _npz(X=_labelled()["X"], y=np.where(np.arange(40) == 7, np.nan, _labelled()["y"])),
        ("y must give every series a finite label", "nan for series 7"),
    ),
    (
        "npz-y-test-length",
        _npz(**_labelled(), X_test=_labelled(12)["X"], y_test=np.zeros(5)),
        ("y_test must have one label per series (12)", "has 5"),
    ),
    (
        "npz-y-reg-nan",
        _npz(**_labelled(), y_reg=np.where(np.arange(40) == 2, np.nan, 1.0)),
        ("y_reg must give every series a finite label", "nan for series 2"),
    ),
    (
        "normalise-none-on-1e20",
        _npz_with(
            _npz_file(X=np.random.default_rng(0).normal(size=(40, 1, 16)) * 1e20),
            dataset_options={"normalise": "none"},
        ),
        ("data's training split normalised with normalise=none", "must stay finite", "reach"),
    ),
    (
        "dataset-statistics-overflow",
        _npz_with(_npz_file(**_overflowing_statistics()), dataset_options={"normalise": "dataset"}),
        ("data's test split normalised with normalise=dataset", "series 3 reach inf"),
    ),
    (
        "single-class-probe-metric",
        _npz_with(_npz_file(X=_labelled()["X"], y=np.zeros(40, int)), metric="val_probe_acc"),
        ("metric val_probe_acc needs two or more classes", "labels are all 0", "val_loss"),
    ),
    (
        "budget-samples-nan",
        _yaml("dataset: {name: GunPoint}\nparam_space: {batch_size: 8}\nbudget: {samples: .nan}\n"),
        ("budget.samples must be a finite number", "budget.samples=nan"),
    ),
    (
        "budget-samples-inf",
        _yaml("dataset: {name: GunPoint}\nparam_space: {batch_size: 8}\nbudget: {samples: .inf}\n"),
        ("budget.samples must be a finite number", "budget.samples=inf"),
    ),
    (
        "budget-epochs-inf",
        _yaml("dataset: {name: GunPoint}\nparam_space: {batch_size: 8}\nbudget: {epochs: .inf}\n"),
        ("budget.epochs must be a finite number", "budget.epochs=inf"),
    ),
    (
        "dataset-seed-nan",
        _space(dataset={"name": "GunPoint", "seed": float("nan")}),
        ("dataset.seed must be a finite number", "dataset.seed=nan"),
    ),
    (
        "dataset-val-fraction-string",
        _space(dataset={"name": "GunPoint", "val_fraction": "abc"}),
        ("dataset.val_fraction must be a number", "'abc'"),
    ),
    (
        "dataset-length-inf",
        _space(dataset={"name": "GunPoint", "length": float("inf")}),
        ("dataset.length must be a finite number", "dataset.length=inf"),
    ),
    (
        "dataset-path-a-list",
        _space(dataset={"path": ["a.npz"]}),
        ("dataset.path must be a non-empty string", "['a.npz']"),
    ),
    (
        "unbounded-option-infinite",
        _space(params={"weight_decay": float("-inf")}),
        ("param_space.weight_decay must be a finite number", "=-inf"),
    ),
    (
        "unbounded-option-a-string",
        _space(params={"weight_decay": "abc"}),
        ("param_space.weight_decay must be a number", "'abc'"),
    ),
    (
        "reports-exceed-samples",
        _space(budget={"samples": 4, "reports": 100}),
        ("at least one batch per trial", "budget.samples=4", "batch_size 8"),
    ),
    (
        "reports-leave-no-batch",
        _space(budget={"samples": 400, "reports": 100}),
        ("budget.reports must leave at least one batch", "budget.reports=100", "to 50 or less"),
    ),
    (
        "duplicate-top-level-key",
        _yaml(
            "dataset: {name: GunPoint}\nparam_space: {batch_size: 8}\n"
            "budget: {samples: 64}\nbudget: {samples: 32}\n"
        ),
        ("space.yaml", "line 4: 'budget' is given twice (first at line 3)"),
    ),
    (
        "duplicate-nested-key",
        _yaml("dataset: {name: GunPoint}\nparam_space:\n  lr: 0.01\n  lr: 0.1\n"),
        ("'param_space.lr' is given twice",),
    ),
    ("alias-bomb", _alias_bomb, ("holds 597871 values once its aliases", "more than the 100000")),
    (
        "alias-contains-itself",
        _yaml("dataset: {name: GunPoint}\nparam_space: {batch_size: &b [*b]}\n"),
        ("param_space.batch_size[0] contains itself through an alias",),
    ),
    (
        "yaml-nested-5000-deep",
        _yaml("dataset: {name: GunPoint}\nparam_space: {}\ndescription: " + "[" * 5000),
        ("space.yaml", "line 3: values are nested more than 64 levels deep"),
    ),
    (
        "python-tag",
        _yaml(
            "dataset: {name: GunPoint}\nparam_space: {batch_size: 8}\n"
            "description: !!python/object/apply:os.getcwd []\n"
        ),
        ("not valid YAML at line 3", "no !!python tags"),
    ),
]


def test_the_catalogue_is_large_and_its_ids_unique():
    ids = [case for case, _, _ in CASES]
    assert len(ids) >= 30 and len(set(ids)) == len(ids)


class TrialsStarted(Exception):
    """Raised in place of ``Tuner.fit``: the input was not refused before trials started."""


@pytest.fixture
def no_trials(monkeypatch):
    """Every attempt to start trials (``Tuner.fit``), recorded and refused."""
    from ray import tune

    attempts: list[str] = []

    def fit(self):
        attempts.append("Tuner.fit")
        raise TrialsStarted

    monkeypatch.setattr(tune.Tuner, "fit", fit)
    return attempts


@pytest.mark.parametrize(("make", "needles"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gives_one_line_and_exit_status_2(tmp_path, capsys, no_trials, make, needles):
    argv = make(tmp_path)
    status = main(argv)
    err = capsys.readouterr().err
    assert not no_trials, f"{argv} started trials before refusing"
    assert status == 2, f"{argv} exited {status}; stderr: {err}"
    assert err.count("\n") == 1 and err.startswith("tune-bs: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"


def test_a_hostile_value_is_quoted_short(tmp_path, capsys):
    """The alias bomb's error line was 15.5 MB before values were quoted (issue #32)."""
    assert main(_alias_bomb(tmp_path)) == 2
    assert len(capsys.readouterr().err) < 400


def test_a_swapped_layout_is_a_warning_with_the_fix_and_validate_goes_on(tmp_path, capsys, caplog):
    X = np.cumsum(np.random.default_rng(0).normal(size=(40, 64, 3)), axis=1)  # [N, T, C]
    argv = _npz(X=X)(tmp_path)
    assert main(argv) == 0
    assert "3 steps" in capsys.readouterr().out
    assert "save X.transpose(0, 2, 1)" in caplog.text and "(40, 64, 3)" in caplog.text


def test_debug_adds_the_traceback_to_a_catalogue_case(tmp_path, capsys):
    argv = _space(num_samples=0)(tmp_path)
    assert main(["--debug", *argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "num_samples must be at least 1" in err.splitlines()[-1]


def test_an_unreachable_address_leaves_no_files_behind(tmp_path, capsys):
    assert main(_run_address(tmp_path)) == 2
    assert not list((tmp_path / "results").rglob("tune_bs_*"))
