"""The Python API end to end on a real local Ray: one tiny experiment (synthetic data, Optuna
search, MLflow tracking) run through ``tune_bs.run``, then load, load_encoder/embed, export (its
round trip reads the checkpoint's ``trainer_state.pt``), the CLI's export and downstream, the
MLflow and Optuna stores, TensorBoard event files, and the documentation's Python snippets.
"""

from __future__ import annotations

import math
import sqlite3
import struct
from pathlib import Path

import numpy as np
import pytest
import yaml
from doc_pages import blocks, read

import tune_bs
from tune_bs import metrics as m
from tune_bs.cli import main
from tune_bs.errors import UserInputError

pytestmark = pytest.mark.ray
ROOT = Path(__file__).parents[1]

SPACE = {
    "name": "api",
    "dataset": {"name": "synthetic", "n_series": 120, "n_modes": 3, "n_channels": 2, "length": 32},
    "metric": "val_probe_acc",
    "num_samples": 2,
    "budget": {"samples": 128, "reports": 2},
    "scheduler": {"name": "fifo"},
    "search": {"name": "optuna", "max_concurrent": 2},
    "tracking": {"mlflow": True},
    "param_space": {
        "batch_size": 16,
        "hidden": 8,
        "encoder": "fcn",
        "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
    },
}


@pytest.fixture(scope="module")
def result(local_ray, tmp_path_factory):
    return tune_bs.run(SPACE, storage=tmp_path_factory.mktemp("results"))


def test_public_names_are_exactly_all():
    public = {name for name in dir(tune_bs) if not name.startswith("_")}
    assert public == set(tune_bs.__all__) - {"__version__"}
    for name in tune_bs.__all__:
        assert getattr(tune_bs, name) is not None


def test_run_returns_frames_selection_and_best_config(result):
    assert isinstance(result, tune_bs.ExperimentResult)
    assert (result.metric, result.mode) == ("val_probe_acc", "max")
    assert result.errors == 0 and result.trial_count == 2
    assert len(result.trials) == 2 and set(result.trials["status"]) == {"TERMINATED"}
    assert len(result.reports) == 4  # 2 trials x 2 reports, one row each
    selection = result.selection
    best = result.reports[m.VAL_PROBE_ACC].max()
    assert selection.value == pytest.approx(best)  # selected on validation
    assert result.checkpoint is not None and (result.checkpoint / "trainer_state.pt").is_file()
    assert 1e-4 <= result.config["lr"] <= 1e-2 and result.config["batch_size"] == 16
    saved = yaml.safe_load(result.best_config_path.read_text())
    assert saved["param_space"]["lr"] == pytest.approx(result.config["lr"])


def test_load_reads_back_the_same_result(result):
    loaded = tune_bs.load(result.path)
    assert (loaded.metric, loaded.mode) == (result.metric, result.mode)
    assert loaded.selection == result.selection
    assert loaded.reports.equals(result.reports)
    with pytest.raises(UserInputError, match="holds no tune-bs experiment"):
        tune_bs.load(result.path / "nothing")


def test_load_encoder_and_embed_reproduce_the_selected_test_score(result):
    from tune_bs.data import load_dataset
    from tune_bs.train.evaluation import EVAL_SEED
    from tune_bs.train.probe import probe_scores

    encoder = tune_bs.load_encoder(result)
    assert not encoder.training and encoder.tune_bs_spec.in_channels == 2
    data = load_dataset(**SPACE["dataset"])
    Z_train = tune_bs.embed(encoder, data.X_probe_train, normalise=False)
    Z_test = tune_bs.embed(encoder, data.X_test, normalise=False)
    assert Z_train.shape == (len(data.X_probe_train), 8) and Z_train.dtype == np.float32
    scores = probe_scores(
        Z_train, data.y_probe_train, Z_test, data.y_test, data.task, seed=EVAL_SEED
    )
    assert abs(scores[m.TEST_PROBE_ACC] - result.selection.test_value) <= 1e-6
    assert abs(scores[m.VAL_PROBE_ACC] - result.selection.value) <= 1e-6
    # the same encoder from the checkpoint folder, the trial folder and a named trial
    for source in (result.checkpoint, Path(result.selection.trial_dir)):
        again = tune_bs.load_encoder(source)
        assert np.array_equal(tune_bs.embed(again, data.X_test, normalise=False), Z_test)
    other = next(t for t in result.trials["trial_id"] if t != result.selection.trial_id)
    assert tune_bs.load_encoder(result, trial=other) is not None
    # raw series: embed prepares them as the experiment did (two channels: the training
    # split's channel statistics, kept in the checkpoint)
    assert encoder.tune_bs_spec.normalise == "dataset"
    raw = load_dataset(**{**SPACE["dataset"], "normalise": "none"}).X_test
    assert np.allclose(tune_bs.embed(encoder, raw), Z_test, atol=1e-4)


def test_export_round_trip_reproduces_test_probe_acc(result, tmp_path, capsys):
    from tune_bs.data import load_dataset
    from tune_bs.train.evaluation import EVAL_SEED
    from tune_bs.train.probe import probe_scores

    out = tmp_path / "export"
    assert main(["export", str(result.path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "tune_bs.load_encoder(" in printed and "round trip" in printed
    assert sorted(p.name for p in out.iterdir()) == [
        "best_config.yaml",
        "embeddings.npz",
        "encoder.pt",
        "encoder.yaml",
    ]
    spec = yaml.safe_load((out / "encoder.yaml").read_text())
    assert spec["spec"]["encoder"] == "fcn" and spec["spec"]["in_channels"] == 2
    assert spec["source"]["trial_id"] == result.selection.trial_id
    encoder = tune_bs.load_encoder(out)  # rebuilt from encoder.yaml + encoder.pt alone
    data = load_dataset(**SPACE["dataset"])
    Z_train = tune_bs.embed(encoder, data.X_probe_train, normalise=False)
    Z_test = tune_bs.embed(encoder, data.X_test, normalise=False)
    scores = probe_scores(
        Z_train, data.y_probe_train, Z_test, data.y_test, data.task, seed=EVAL_SEED
    )
    assert abs(scores[m.TEST_PROBE_ACC] - result.selection.test_value) <= 1e-6
    arrays = np.load(out / "embeddings.npz")
    assert np.array_equal(arrays["Z_test"], Z_test) and np.array_equal(
        arrays["y_test"], data.y_test
    )
    assert arrays["y_reg_train"].shape == (len(data.X_probe_train),)
    best = yaml.safe_load((out / "best_config.yaml").read_text())
    assert best["num_samples"] == 1 and best["dataset"] == SPACE["dataset"]


def test_export_of_a_named_and_of_an_unknown_trial(result, tmp_path, capsys):
    other = next(t for t in result.trials["trial_id"] if t != result.selection.trial_id)
    paths = tune_bs.export_trial(result, tmp_path / "other", trial=other)
    assert paths.trial_id == other
    assert abs(paths.reproduced - paths.reported) <= 1e-6
    assert main(["export", str(result.path), "--trial", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--trial must name one trial" in err and err.count("\n") == 1


def test_downstream_multitask_on_the_encoder(result, capsys):
    assert (
        main(
            [
                "downstream",
                str(result.path),
                "--task",
                "multitask",
                "--alpha",
                "0",
                "0.5",
                "1",
                "--freeze",
                "--pretrain-epochs",
                "3",
                "--finetune-epochs",
                "2",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "| alpha |" in out.replace("  ", " ") or "alpha" in out.splitlines()[3]
    table = tune_bs.run_downstream(
        result, alphas=[0.0, 1.0], heads=["linear", "mlp"], pretrain_epochs=3, finetune_epochs=2
    ).table
    assert list(table["alpha"]) == [0.0, 0.0, 1.0, 1.0]
    assert list(table["head"]) == ["linear", "mlp", "linear", "mlp"]
    assert table["accuracy"].between(0, 1).all() and (table["rmse"] > 0).all()
    assert table["r2"].map(math.isfinite).all()


def test_downstream_needs_two_targets(result, capsys):
    assert main(["downstream", str(result.path), "--data", "GunPoint", "--alpha", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "needs a classification and a continuous target" in err and err.count("\n") == 1


def _mlflow_rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


def test_mlflow_store_has_a_run_per_trial_with_params_and_per_report_metrics(result):
    db = result.path / "mlflow.db"
    assert db.is_file()
    runs = _mlflow_rows(db, "select run_uuid, status from runs")
    assert len(runs) == 2 and {s for _, s in runs} == {"FINISHED"}
    params = _mlflow_rows(db, "select key, value from params where key in ('lr', 'batch_size')")
    assert sorted(k for k, _ in params) == ["batch_size", "batch_size", "lr", "lr"]
    steps = _mlflow_rows(
        db, "select run_uuid, step, value from metrics where key = 'val_probe_acc'"
    )
    assert sorted({s for _, s, _ in steps}) == [1, 2]  # every report, at its iteration
    reported = sorted(result.reports[m.VAL_PROBE_ACC])
    assert sorted(v for _, _, v in steps) == pytest.approx(reported)
    assert _mlflow_rows(db, "select count(*) from metrics where key = 'batch_size'")[0][0] == 4


def test_optuna_study_is_in_the_experiment_folder(result):
    import optuna

    study = optuna.load_study(study_name="api", storage=f"sqlite:///{result.path / 'optuna.db'}")
    assert len(study.trials) == 2
    assert all(1e-4 <= t.params["lr"] <= 1e-2 for t in study.trials)


def _event_tags(path: Path) -> set[str]:
    """Scalar tags of a TensorBoard event file (TFRecord framing; tensorboardX's protos)."""
    from tensorboardX.proto import event_pb2

    tags, data, offset = set(), path.read_bytes(), 0
    while offset + 12 <= len(data):
        (length,) = struct.unpack("<Q", data[offset : offset + 8])
        record = data[offset + 12 : offset + 12 + length]
        offset += 12 + length + 4
        event = event_pb2.Event.FromString(record)
        tags |= {value.tag for value in event.summary.value}
    return tags


def test_tensorboard_event_files_hold_the_batch_size(result):
    events = sorted(Path(result.path).glob("*/events.out.tfevents.*"))
    assert len(events) == 2
    tags = _event_tags(events[0])
    assert {"ray/tune/batch_size", "ray/tune/val_probe_acc", "ray/tune/val_loss"} <= tags


def test_report_html_and_markdown_through_the_api(result, tmp_path):
    written = tune_bs.write_report(result, formats=["markdown", "html"], out=tmp_path)
    assert (tmp_path / "report.html").is_file() and (tmp_path / "trials.md").is_file()
    assert result.selection.trial_id in (tmp_path / "report.html").read_text()
    assert set(written) == {"markdown", "html"}


def test_debug_is_accepted_after_the_subcommand(result, capsys):
    assert main(["export", str(result.path), "--trial", "nope", "--out", "x", "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err


@pytest.mark.slow
def test_readme_python_snippet_runs(local_ray, tmp_path, monkeypatch):
    """The snippets of docs/guide/python-api.md and docs/guide/export.md, run as written."""
    (snippet,) = blocks(read("docs/guide/python-api.md"), "python")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(snippet, "docs/guide/python-api.md", "exec"), namespace)
    assert (tmp_path / "tune_bs_results" / "default-smoke").is_dir()
    assert (tmp_path / "encoder_out" / "encoder.pt").is_file()
    assert namespace["Z"].shape[0] == namespace["X"].shape[0]
    # then the exported encoder, loaded back as "Take the encoder home" shows (X: raw series)
    (home,) = blocks(read("docs/guide/export.md"), "python")
    exported: dict = {"tune_bs": tune_bs, "X": namespace["X"]}
    exec(compile(home, "docs/guide/export.md", "exec"), exported)
    assert np.allclose(np.asarray(exported["Z"]), np.asarray(namespace["Z"]), atol=1e-5)
