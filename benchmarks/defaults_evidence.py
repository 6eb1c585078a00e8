"""Evidence for the packaged defaults, on the development data sets only.

The defaults of ``search_spaces/default.yaml`` (normalisation, encoder, probe, budget) are chosen
from the figures this script prints — and from nothing else. It refuses any data set outside
:data:`DEVELOPMENT_SETS`: the other sets ``aeon`` ships are kept for independent evaluation
(``benchmarks/default_search.py --dataset NAME``) and must not shape a default.

Two kinds of rows, each appended to ``--results`` (JSON lines) as soon as it is measured, and
read back instead of measured again (so an interrupted run loses nothing):

- ``raw``: no encoder — the probe on the flattened series ``[N, C·T]`` after each normalisation
  (``series`` / ``dataset`` / ``none``). How much each normalisation leaves a linear or RBF model
  to work with.
- ``trial``: one contrastive training run in-process (no Ray, one torch thread, as a 1-CPU trial)
  of a named configuration (:data:`CONFIGS`) with one normalisation and seed, to its samples
  budget; at the end, the representations are probed with *both* probes (``logistic`` and
  ``svm``), each giving ``val_probe_*`` (cross-validated on the train split) and ``test_probe_*``.
  Seconds of training are recorded too.

Usage::

    python benchmarks/defaults_evidence.py raw
    python benchmarks/defaults_evidence.py trial --configs fcn cnn --normalise series dataset \
        --datasets GunPoint BasicMotions --seeds 0 1
    python benchmarks/defaults_evidence.py table     # everything measured so far

``--smoke-test`` runs one tiny trial and one raw row into a temporary file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

from tune_bs.data import load_dataset
from tune_bs.train.evaluation import EVAL_SEED
from tune_bs.train.probe import PROBES, probe_indices, probe_scores
from tune_bs.train.trainer import ContrastiveTrainer, TrainSettings

RESULTS = Path(__file__).resolve().parent / "results" / "defaults_evidence.jsonl"
#: The development data sets (docs/guide/data.md): the only ones a default may be chosen on.
DEVELOPMENT_SETS: dict[str, dict[str, Any]] = {
    "GunPoint": {"name": "GunPoint"},
    "BasicMotions": {"name": "BasicMotions"},
    "ItalyPowerDemand": {"name": "ItalyPowerDemand"},
    "Covid3Month_disc": {"name": "Covid3Month_disc"},
    "Covid3Month": {"name": "Covid3Month"},
    "synthetic": {"name": "synthetic"},
}
NORMALISATIONS = ("series", "dataset", "none")
#: Named trial configurations (TrainSettings fields; ``samples`` is the budget per trial).
_FCN = {
    "encoder": "fcn",
    "hidden": 64,
    "batch_size": 16,
    "lr": 1e-3,
    "temperature": 0.2,
    "samples": 6000,
}
CONFIGS: dict[str, dict[str, Any]] = {
    "fcn": _FCN,
    "fcn-nocrop": {**_FCN, "crop": 1.0},
    "fcn-nomask": {**_FCN, "time_mask": 0.0},
    "fcn-b8": {**_FCN, "batch_size": 8},
    "fcn-long": {**_FCN, "samples": 12000},
    "fcn-h128": {**_FCN, "hidden": 128},
    "fcn-nocrop-h128": {**_FCN, "crop": 1.0, "hidden": 128},
    "cnn-nocrop": {
        "encoder": "causal_cnn",
        "hidden": 64,
        "depth": 10,
        "batch_size": 16,
        "lr": 1e-3,
        "temperature": 0.2,
        "crop": 1.0,
        "samples": 6000,
    },
    "cnn": {
        "encoder": "causal_cnn",
        "hidden": 64,
        "depth": 10,
        "batch_size": 16,
        "lr": 1e-3,
        "temperature": 0.2,
        "samples": 6000,
    },
    "cnn-small": {
        "encoder": "causal_cnn",
        "hidden": 32,
        "depth": 8,
        "batch_size": 16,
        "lr": 1e-3,
        "temperature": 0.2,
        "samples": 6000,
    },
}
REPORTS = 4


def _key(row: dict[str, Any]) -> str:
    return json.dumps(
        {k: row[k] for k in ("kind", "dataset", "config", "normalise", "seed")}, sort_keys=True
    )


def load_rows(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {_key(r): r for r in rows}


def _append(path: Path, row: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")


def _dataset(name: str, normalise: str, seed: int = 0):
    if name not in DEVELOPMENT_SETS:
        raise SystemExit(
            f"{name} is not a development set ({', '.join(DEVELOPMENT_SETS)}); the "
            "other shipped sets are for independent evaluation only."
        )
    return load_dataset(**DEVELOPMENT_SETS[name], normalise=normalise, seed=seed)


def _both_probes(train_f, y_train, test_f, y_test, task) -> dict[str, float]:
    out = {}
    for probe in PROBES:
        started = time.perf_counter()
        scores = probe_scores(train_f, y_train, test_f, y_test, task, seed=EVAL_SEED, probe=probe)
        out.update({f"{probe}:{k}": v for k, v in scores.items()})
        out[f"{probe}:seconds"] = time.perf_counter() - started
    return out


def raw_row(dataset: str, normalise: str) -> dict[str, Any]:
    """Probes on the flattened series after ``normalise``."""
    data = _dataset(dataset, normalise)
    flat = lambda X: X.reshape(len(X), -1)  # noqa: E731
    scores = _both_probes(
        flat(data.X_probe_train), data.y_probe_train, flat(data.X_test), data.y_test, data.task
    )
    return {
        "kind": "raw",
        "dataset": dataset,
        "config": "flattened",
        "normalise": normalise,
        "seed": 0,
        **scores,
    }


def trial_row(dataset: str, config: str, normalise: str, seed: int, smoke: bool) -> dict[str, Any]:
    """One training run of ``config`` to its budget; both probes at the end."""
    data = _dataset(dataset, normalise, seed)
    options = dict(CONFIGS[config])
    budget = 64 if smoke else int(options.pop("samples"))
    options.pop("samples", None)
    settings = TrainSettings(
        **options, seed=seed, budget_samples=budget, report_every=-(-budget // REPORTS)
    )
    trainer = ContrastiveTrainer(data, settings, "cpu")
    started = time.perf_counter()
    trainer.train_until(settings.budget_samples)
    train_s = time.perf_counter() - started
    tr, te = probe_indices(
        len(data.X_probe_train),
        len(data.X_test),
        settings.probe_max_train,
        settings.probe_max_test,
        EVAL_SEED,
    )
    scores = _both_probes(
        trainer.represent(data.X_probe_train[tr]),
        data.y_probe_train[tr],
        trainer.represent(data.X_test[te]),
        data.y_test[te],
        data.task,
    )
    return {
        "kind": "trial",
        "dataset": dataset,
        "config": config,
        "normalise": normalise,
        "seed": seed,
        "samples": trainer.samples_seen,
        "train_s": train_s,
        "val_loss": trainer.val_loss(),
        **scores,
    }


def _metric_pairs(row: dict[str, Any]) -> list[tuple[str, float, float]]:
    """(probe, val, test) of a row, accuracy or R²."""
    out = []
    for probe in PROBES:
        for val, test in (("val_probe_acc", "test_probe_acc"), ("val_probe_r2", "test_probe_r2")):
            if f"{probe}:{val}" in row:
                out.append((probe, row[f"{probe}:{val}"], row[f"{probe}:{test}"]))
    return out


def print_table(rows: dict[str, dict[str, Any]]) -> None:
    """Mean over seeds of each (kind, dataset, config, normalise, probe)."""
    groups: dict[tuple, list[tuple[float, float, float]]] = defaultdict(list)
    for row in rows.values():
        for probe, val, test in _metric_pairs(row):
            key = (row["kind"], row["dataset"], row["config"], row["normalise"], probe)
            groups[key].append((val, test, row.get("train_s", 0.0)))
    print(
        "| kind | data set | config | normalise | probe | seeds | val (mean) | test (mean) | "
        "test (min–max) | train s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key in sorted(groups):
        vals = groups[key]
        tests = [t for _, t, _ in vals]
        print(
            f"| {' | '.join(map(str, key))} | {len(vals)} | "
            f"{statistics.mean(v for v, _, _ in vals):.3f} | {statistics.mean(tests):.3f} | "
            f"{min(tests):.3f}–{max(tests):.3f} | "
            f"{statistics.mean(s for _, _, s in vals):.0f} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("raw", "trial", "table"))
    parser.add_argument("--datasets", nargs="+", default=list(DEVELOPMENT_SETS))
    parser.add_argument("--configs", nargs="+", default=["fcn"], choices=sorted(CONFIGS))
    parser.add_argument(
        "--normalise", nargs="+", default=list(NORMALISATIONS), choices=NORMALISATIONS
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--smoke-test", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.smoke_test:
        args.results = Path(tempfile.mkdtemp()) / "evidence.jsonl"
        args.datasets, args.configs, args.normalise, args.seeds = (
            ["ItalyPowerDemand"],
            ["fcn"],
            ["dataset"],
            [0],
        )
    rows = load_rows(args.results)
    jobs: list[dict[str, Any]] = []
    if args.mode == "raw" or args.smoke_test:
        jobs += [
            {"kind": "raw", "dataset": d, "config": "flattened", "normalise": n, "seed": 0}
            for d in args.datasets
            for n in args.normalise
        ]
    if args.mode == "trial" or args.smoke_test:
        jobs += [
            {"kind": "trial", "dataset": d, "config": c, "normalise": n, "seed": s}
            for d in args.datasets
            for c in args.configs
            for n in args.normalise
            for s in args.seeds
        ]
    for job in jobs:
        if _key(job) in rows:
            continue
        if job["kind"] == "raw":
            row = raw_row(job["dataset"], job["normalise"])
        else:
            row = trial_row(
                job["dataset"], job["config"], job["normalise"], job["seed"], args.smoke_test
            )
        rows[_key(row)] = row
        _append(args.results, row)
        pairs = ", ".join(f"{p} {v:.3f}/{t:.3f}" for p, v, t in _metric_pairs(row))
        print(
            f"{job['kind']} {job['dataset']} {job['config']} {job['normalise']} "
            f"s{job['seed']}: val/test {pairs}",
            flush=True,
        )
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
