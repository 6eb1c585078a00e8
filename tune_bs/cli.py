"""The ``tune-bs`` command line. It only parses arguments and calls one public function per
command; known mistakes print one line and exit with status 2 (``--debug`` adds the traceback).

The commands and their options are declared in :mod:`tune_bs.cli_parser`; this module runs them.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from tune_bs.cli_parser import build_parser
from tune_bs.errors import UserInputError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: The longest error line the CLI prints (messages quote values short already: a safety net).
MAX_ERROR_CHARS = 4000


def one_line(message: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``message`` as one line of at most ``limit`` characters (an error is one line, always)."""
    text = " ".join(message.split("\n"))
    return text if len(text) <= limit else text[: limit - 30] + f"... ({len(text)} characters)"


def default_space_path() -> Path:
    """The packaged ``search_spaces/default.yaml``."""
    return Path(str(resources.files("tune_bs") / "search_spaces" / "default.yaml"))


def _positive(value: int | float | None, flag: str, integer: bool = False) -> None:
    if value is not None and not (value > 0 and math.isfinite(value)):
        kind = "a positive integer" if integer else "positive"
        raise UserInputError(f"{flag} must be {kind}, but got {flag} {value}; fix the value.")


def cmd_run(args: argparse.Namespace) -> int:
    import tune_bs
    from tune_bs.search.space import load_space

    _check_run_options(args)
    space = load_space(args.space or default_space_path())
    variants = space.variants()
    options = dict(
        storage=args.storage,
        name=args.name,
        num_samples=args.num_samples,
        smoke_test=args.smoke_test,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        address=args.address,
        tracking=True if args.tracking else None,
    )
    if len(variants) == 1:
        print(f"tune-bs: running {space.name!r} from {space.source}", flush=True)
        return _finish(tune_bs.run(space, **options))
    names = [v.scheduler["name"] for v in variants]
    print(
        f"tune-bs: comparing schedulers {', '.join(names)} on {space.name!r} from "
        f"{space.source}: {len(variants)} experiments with the same trials and budget",
        flush=True,
    )
    results = tune_bs.run(space, **options)
    return _finish_comparison(results, [_finish(r) for r in results])


def cmd_resume(args: argparse.Namespace) -> int:
    import tune_bs

    return _finish(
        tune_bs.resume(args.results_dir, address=args.address, trust_storage=args.trust_storage)
    )


def _check_run_options(args: argparse.Namespace) -> None:
    """Checks of the run options shared by ``run`` and ``submit``."""
    _positive(args.num_samples, "--num-samples", integer=True)
    _positive(args.cpus_per_trial, "--cpus-per-trial")
    gpus = args.gpus_per_trial
    if gpus is not None and not (gpus >= 0 and math.isfinite(gpus)):
        raise UserInputError(
            f"--gpus-per-trial must be at least 0, but got {args.gpus_per_trial}; fix the value."
        )


def cmd_submit(args: argparse.Namespace) -> int:
    from tune_bs.search.experiment import RunOptions
    from tune_bs.search.jobs import follow_hint, submit_run

    _check_run_options(args)
    options = RunOptions(
        num_samples=args.num_samples,
        smoke_test=args.smoke_test,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
    )
    job = submit_run(
        args.space,
        args.address,
        storage=args.storage,
        name=args.name,
        options=options,
        debug=args.debug,
    )
    print(
        f"tune-bs: submitted job {job.job_id} to {job.address}\n"
        f"  results (on the cluster): {job.results}\n"
        + (f"  runs with: {job.python.describe()}\n" if job.python else "")
        + follow_hint(job.job_id, job.address),
        flush=True,
    )
    return _follow(job.job_id, job.address) if args.wait else EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from tune_bs.search.jobs import job_state

    print(job_state(args.job_id, args.address).describe())
    return EXIT_OK


def cmd_logs(args: argparse.Namespace) -> int:
    from tune_bs.search.jobs import job_logs

    if args.follow:
        return _follow(args.job_id, args.address)
    print(job_logs(args.job_id, args.address), end="", flush=True)
    return EXIT_OK


def _follow(job_id: str, address: str) -> int:
    """Stream a job's logs until it ends; 0 if it SUCCEEDED, 1 if it FAILED or was STOPPED."""
    from tune_bs.search.jobs import exit_status, follow_job

    try:
        state = follow_job(job_id, address)
    except KeyboardInterrupt as exc:
        print(
            f"tune-bs: stopped following; job {job_id} goes on (stop it with `ray job stop "
            f"{job_id} --address {address}`).",
            file=sys.stderr,
        )
        return _interrupt_status(exc)
    print(
        f"tune-bs: job {job_id} {state.status}" + (f" — {state.message}" if state.message else ""),
        flush=True,
    )
    if state.results and state.status == "SUCCEEDED":
        print(f"results (on the cluster): {state.results}")
    return exit_status(state)


def _finish(result) -> int:
    """Print an :class:`~tune_bs.api.ExperimentResult`: its table, selection and where to look;
    1 when every trial failed, 2 (with the cause as the one error line) when every trial failed
    on its input, 128 + the signal's number when a signal interrupted it."""
    if result.interrupted:
        return _interrupted(result)
    try:
        return _finished_summary(result)
    except KeyboardInterrupt as exc:  # while the table printed: the results are all written
        from tune_bs.search.interrupt import ExperimentInterrupted

        raise ExperimentInterrupted.of(exc, result.path, finished=True) from exc


def _finished_summary(result) -> int:
    from tune_bs.report.best_config import BEST_CONFIG

    print()
    if result.local:
        print(result.summary())
        best = result.path / BEST_CONFIG
        if best.is_file():
            print(f"best configuration: {best} (run it again: tune-bs run {best})")
    else:  # remote storage: the report reads local folders
        print(f"results: {result.path}")
    print(f"tables and plots: tune-bs report {result.path}")
    trials = result.trial_count
    causes = sorted(set(result.input_errors.values()))
    if causes and len(result.input_errors) == trials:
        print(f"tune-bs: error: {one_line(causes[0])}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_FAILED if result.errors and result.errors == trials else EXIT_OK


def _interrupted(result) -> int:
    """Print an interrupted run's table (no selection; a further signal skips it) and how to
    finish it."""
    try:
        print()
        print(result.summary() if result.local else f"results: {result.path}", flush=True)
    except KeyboardInterrupt:
        print()
    return _resume_advice(result.path, result.interrupted)


def _resume_advice(path: Path | str, signal_name: str, finished: bool = False) -> int:
    """Say how to finish an interrupted experiment (``finished``: its trials had all ended and
    the run was writing its selection); 128 + the signal's number."""
    from tune_bs.search.interrupt import named_exit_status

    if finished:
        print(
            f"tune-bs: interrupted by {signal_name} after every trial had ended, while the "
            f"checkpoints were pruned and the selection written; `tune-bs resume {path}` "
            "finishes that (no trial is trained again).",
            flush=True,
        )
    else:
        print(
            f"tune-bs: interrupted by {signal_name}: nothing was pruned and no best_config.yaml "
            f"was written; finish the experiment with `tune-bs resume {path}`.",
            flush=True,
        )
    return named_exit_status(signal_name)


def _interrupt_status(exc: BaseException) -> int:
    from tune_bs.search.interrupt import Terminated

    return 128 + int(signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


def _finish_comparison(results: list, statuses: list[int]) -> int:
    """The comparison table of a ``schedulers:`` file's experiments and the report command."""
    from tune_bs.report import comparison_text

    paths = [r.path for r in results]
    print()
    if all(r.local for r in results):
        print(comparison_text(paths, metric=results[0].metric, mode=results[0].mode))
    print("tables and plots of the comparison: tune-bs report " + " ".join(map(str, paths)))
    return max(statuses)


def cmd_validate(args: argparse.Namespace) -> int:
    from tune_bs.search.experiment import load_space_data
    from tune_bs.search.space import load_space

    space = load_space(args.space)
    data = load_space_data(space)
    schedulers = ", ".join(v.scheduler["name"] for v in space.variants())
    kind = "schedulers (compared)" if space.compared else "scheduler"
    print(
        f"{args.space}: ok — {data.describe()}; {space.trial_count()} trial(s), {kind} "
        f"{schedulers}, search {space.search['name']}, metric {space.metric} "
        f"({space.mode}), {space.budget_samples(data.n_train, data.length)} samples per trial"
    )
    return EXIT_OK


def cmd_datasets(args: argparse.Namespace) -> int:
    from tune_bs.data import list_datasets
    from tune_bs.data.package_sets import POOL_PACKAGES, is_installed, package_dir

    for package in args.package:
        package_dir(package, field="--package")  # a one-line error before reading anything
    missing = [p for p in POOL_PACKAGES if p not in args.package and not is_installed(p)]
    packages = [p for p in POOL_PACKAGES if is_installed(p)]
    packages += [p for p in args.package if p not in packages]
    rows = list_datasets(packages)
    cols = ("name", "package", "task", "train", "test", "channels", "length", "classes")
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        print("  ".join(str(r[c]).ljust(widths[c]) for c in cols))
    print(
        "synthetic  (generated: dataset: {name: synthetic, n_series, n_modes, n_channels, "
        "length, imbalance, noise, separation, seed})"
    )
    if missing:
        print(
            f'not installed: {", ".join(missing)} (their sets: pip install "tune-bs[pool]"); '
            "any other installed package's sets: tune-bs datasets --package NAME"
        )
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    import tune_bs

    written = tune_bs.write_report(
        args.results_dirs, formats=args.format, out=args.out, metric=args.metric, mode=args.mode
    )
    print(written[args.format].text)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    import tune_bs

    paths = tune_bs.export_trial(
        args.results_dir, args.out, trial=args.trial, allow_other_data=args.allow_other_data
    )
    print(paths.text())
    return EXIT_OK


def cmd_downstream(args: argparse.Namespace) -> int:
    import tune_bs

    settings = {
        k: getattr(args, k)
        for k in ("pretrain_epochs", "finetune_epochs", "seed")
        if getattr(args, k) is not None
    }
    alphas = {} if args.alpha is None else {"alphas": args.alpha}
    result = tune_bs.run_downstream(
        args.results_dir,
        task=args.task,
        heads=args.head,
        freeze=args.freeze,
        trial=args.trial,
        data=args.data,
        allow_other_data=args.allow_other_data,
        **alphas,
        **settings,
    )
    print(result.text())
    if args.out is not None:
        from tune_bs.report.formats import render

        args.out.mkdir(parents=True, exist_ok=True)
        for fmt, ext in (("markdown", "md"), ("csv", "csv")):
            (args.out / f"downstream.{ext}").write_text(render(result.table, fmt))
        print(f"table written to {args.out}: downstream.md, downstream.csv")
    return EXIT_OK


COMMANDS = {
    "run": cmd_run,
    "resume": cmd_resume,
    "validate": cmd_validate,
    "datasets": cmd_datasets,
    "report": cmd_report,
    "submit": cmd_submit,
    "status": cmd_status,
    "logs": cmd_logs,
    "export": cmd_export,
    "downstream": cmd_downstream,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tune-bs`` and ``python -m tune_bs``; returns the exit status."""
    from tune_bs.search.interrupt import ExperimentInterrupted, raise_interrupt

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    in_main = threading.current_thread() is threading.main_thread()
    saved = signal.signal(signal.SIGTERM, raise_interrupt) if in_main else None
    try:
        return COMMANDS[args.command](args)
    except UserInputError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"tune-bs: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except ExperimentInterrupted as exc:  # a second signal, after the experiment started
        if args.debug:
            traceback.print_exc()
        return _resume_advice(exc.path, exc.signal, exc.finished)
    except KeyboardInterrupt as exc:
        if args.debug:
            traceback.print_exc()
        print(
            "tune-bs: interrupted; an experiment that had started can be finished with "
            "`tune-bs resume RESULTS_DIR`.",
            file=sys.stderr,
        )
        return _interrupt_status(exc)
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, saved)


if __name__ == "__main__":
    sys.exit(main())
