"""A random search over the learning rate under tune-bs's scheduler: which trials it stops, which
batch sizes each trial trains at.

Most Ray Tune users search the learning rate (and more) at random rather than over a grid of
batch sizes. This is that search: 8 trials (4 with ``--smoke-test``) of the MLP of
``digits_inplace.py`` on scikit-learn's handwritten digits, each drawing ``lr`` log-uniformly
from 1e-3 to 1 and the width from (32, 64, 128), seeded so that every run draws the same
trials. The training function is ``digits_inplace.train_digits`` (a plain PyTorch loop with
:class:`tune_bs.BatchSizeUpdates`, so a switch takes effect in place). The scheduler is
:class:`tune_bs.ExtrapolationScheduler` with its defaults; Tune's metric is ``val_loss``.

The run ends with one line per trial: its learning rate and width, how many of its epochs it
ran and whether the scheduler stopped it, the batch-size schedule it followed
(``samples:batch;...``), and its last validation scores. The scheduler stops a trial whose
loss curve cannot reach what the trials it is compared with are expected to end at, and switches
a trial's batch size where its evidence says another size ends the budget lower or sooner; which
trials are compared, and so what it does in a random search, is stated in
docs/guide/scheduler.md ("In a search over lr and more") and in :mod:`tune_bs.schedule.switching`.

Timing: with ``TUNE_BS_SIMULATED_CLOCK="step_s,per_sample_s,eval_s"`` set, the clock is a cost
model (:mod:`tune_bs.train.clock`) and the scheduler decides the same on every run; otherwise it is
real time.

Run: ``python examples/digits_random_search.py`` (``--smoke-test``: 4 trials of 12 epochs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import ray
from ray import tune
from ray.tune.search.basic_variant import BasicVariantGenerator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from digits_inplace import BATCH_SIZES, epoch_reports, load_data, schedule, train_digits

import tune_bs


def print_trials(grid: tune.ResultGrid, epochs: int) -> None:
    """One line per trial (by learning rate): width, epochs run and whether it was stopped,
    batch-size schedule, last validation scores."""
    for result in sorted(grid, key=lambda r: r.config["lr"]):
        frame, rows = epoch_reports(result)
        ran = int(frame["training_iteration"].iloc[-1])
        fate = f"stopped after epoch {ran}" if ran < epochs else "ran to the end"
        print(
            f"trial lr={result.config['lr']:<8.4g} hidden={result.config['hidden']:<3} "
            f"epochs {ran:>2}/{epochs} {fate:<22} batch-size schedule {schedule(rows):<24} "
            f"val_loss {result.metrics['val_loss']:.4f}  val_acc {result.metrics['val_acc']:.3f}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true", help="4 short trials")
    parser.add_argument("--storage", default=None, help="results folder (default: Ray's)")
    parser.add_argument(
        "--address", default="local", help="Ray cluster address (default: a new local Ray)"
    )
    args = parser.parse_args(argv)
    data = load_data()
    n_train = len(data["y_train"])
    epochs, trials = (12, 4) if args.smoke_test else (30, 8)
    ray.init(
        address=args.address,
        include_dashboard=False,
        num_cpus=2 if args.smoke_test and args.address == "local" else None,
    )
    scheduler = tune_bs.ExtrapolationScheduler(tune_bs.SwitchSettings(batch_sizes=BATCH_SIZES))
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(train_digits, data=data), {"cpu": 1}),
        param_space={
            "batch_size": 16,
            "lr": tune.loguniform(1e-3, 1.0),
            "hidden": tune.choice([32, 64, 128]),
            "seed": 0,
            "budget_samples": epochs * n_train,
        },
        tune_config=tune.TuneConfig(
            metric="val_loss",
            mode="min",
            scheduler=scheduler,
            num_samples=trials,
            search_alg=BasicVariantGenerator(random_state=0),  # the same trials on every run
        ),
        run_config=tune.RunConfig(
            name="digits-random-search",
            storage_path=args.storage,
            verbose=0,
            callbacks=tune_bs.logger_callbacks(),
        ),
    )
    grid = tuner.fit()
    print(f"{len(grid)} trials, {grid.num_errors} errors; {scheduler.debug_string()}")
    print_trials(grid, epochs)


if __name__ == "__main__":
    main()
