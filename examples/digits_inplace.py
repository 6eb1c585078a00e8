"""A plain PyTorch training loop under tune-bs's batch-size scheduler, switched in place.

An MLP learns scikit-learn's handwritten digits (shipped with scikit-learn: no download). Ray
Tune searches the learning rate; :class:`tune_bs.ExtrapolationScheduler` chooses each trial's
batch size from its validation-loss curve and changes it while the trial runs. The only
tune-bs line in the training function is :class:`tune_bs.BatchSizeUpdates`: after each
``tune.report`` it says whether the batch size changed, and the next epoch uses the new one —
no pause, no restore. The run ends with the batch-size schedule each trial followed, read from
its reported results.

What the scheduler reads from every result: ``val_loss`` (comparable across batch sizes),
``samples_seen``, ``batch_size`` and ``wall_time_s`` (a float clock); ``trial_time_s`` (the
trial's own seconds of training and evaluation) makes its timing exact. Each result carries a
checkpoint, so a trial can also be restarted (after a failure, ``Tuner.restore``, or when it
is switched by restart).

Timing: with ``TUNE_BS_SIMULATED_CLOCK="step_s,per_sample_s,eval_s"`` set, the clock is a cost
model (:mod:`tune_bs.train.clock`) and the scheduler decides the same on every run; otherwise it is
real time.

Run: ``python examples/digits_inplace.py`` (``--smoke-test``: 2 trials of 12 epochs, seconds).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path
from typing import Any

import ray
import torch
from ray import tune
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import tune_bs
from tune_bs.train.clock import clock_from_env

BATCH_SIZES = (16, 32, 64, 128, 256)


def load_data(seed: int = 0) -> dict[str, torch.Tensor]:
    """Digits (1797 images of 8×8 pixels, 10 classes), pixels scaled to [0, 1]; 20 % held out
    (stratified, seeded) for the validation loss."""
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x / 16.0, y, test_size=0.2, stratify=y, random_state=seed
    )
    as_x = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    as_y = lambda a: torch.tensor(a, dtype=torch.long)  # noqa: E731
    return {
        "x_train": as_x(x_train),
        "y_train": as_y(y_train),
        "x_val": as_x(x_val),
        "y_val": as_y(y_val),
    }


def make_model(hidden: int) -> nn.Module:
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def evaluate(model: nn.Module, data: dict[str, torch.Tensor]) -> tuple[float, float]:
    """Cross-entropy and accuracy on the validation split (the same for every batch size)."""
    with torch.no_grad():
        logits = model(data["x_val"])
        loss = F.cross_entropy(logits, data["y_val"]).item()
        accuracy = (logits.argmax(dim=1) == data["y_val"]).float().mean().item()
    return loss, accuracy


def train_digits(config: dict[str, Any], data: dict[str, torch.Tensor]) -> None:
    """One trial: train to ``budget_samples``, reporting once per epoch with a checkpoint."""
    logging.getLogger("ray.train").setLevel(logging.WARNING)  # no line per checkpoint
    torch.set_num_threads(1)
    torch.manual_seed(config["seed"])
    model = make_model(config["hidden"])
    optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=0.9)
    clock = clock_from_env()  # real time, or the cost model of TUNE_BS_SIMULATED_CLOCK
    epoch, trial_time_s = 0, 0.0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:  # resumed: restore the model, the optimizer and the clocks
        with checkpoint.as_directory() as folder:
            state = torch.load(Path(folder) / "state.pt", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        epoch, trial_time_s = state["epoch"], state["trial_time_s"]
        clock.restore(state["clock"])
    # one report per epoch: the trial has made `epoch` reports before this (re)start
    updates = tune_bs.BatchSizeUpdates(config, reports=epoch)
    train_set = TensorDataset(data["x_train"], data["y_train"])
    n_train = len(train_set)
    while epoch * n_train < config["budget_samples"]:
        started = clock.now()
        shuffle = torch.Generator().manual_seed(config["seed"] * 10_000 + epoch)
        for x, y in DataLoader(
            train_set, batch_size=updates.batch_size, shuffle=True, generator=shuffle
        ):
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
            clock.charge_step(len(x))
        val_loss, val_acc = evaluate(model, data)
        clock.charge_eval()
        trial_time_s += clock.now() - started
        epoch += 1
        with tempfile.TemporaryDirectory() as folder:
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "epoch": epoch,
                    "trial_time_s": trial_time_s,
                    "clock": clock.state(),
                },
                Path(folder) / "state.pt",
            )
            tune.report(
                {
                    "val_loss": val_loss,
                    "val_acc": val_acc,
                    "samples_seen": epoch * n_train,
                    "batch_size": updates.batch_size,
                    "trial_time_s": trial_time_s,
                    "wall_time_s": clock.now(),
                },
                checkpoint=tune.Checkpoint.from_directory(folder),
            )
        updates.after_report()  # True when the scheduler switched: the next epoch uses it


def schedule(rows: list[tuple[float, int]]) -> str:
    """``"samples:batch;..."`` from a trial's reports ``(samples_seen, batch_size)`` in order: a
    report's batch size is the one it trained at since the previous report."""
    parts: list[str] = []
    previous, current = 0, None
    for samples, batch_size in rows:
        if batch_size != current:
            parts.append(f"{previous}:{batch_size}")
            current = batch_size
        previous = int(samples)
    return ";".join(parts)


def epoch_reports(result: tune.Result) -> tuple[Any, list[tuple[float, int]]]:
    """A trial's reports, one per epoch in order (a restored trial's repeats dropped), and their
    ``(samples_seen, batch_size)`` for :func:`schedule`."""
    frame = result.metrics_dataframe.drop_duplicates("training_iteration", keep="last")
    frame = frame.sort_values("training_iteration")
    return frame, list(zip(frame["samples_seen"], frame["batch_size"], strict=True))


def print_schedules(grid: tune.ResultGrid) -> None:
    """One line per trial: its learning rate, batch-size schedule and last validation scores."""
    for result in sorted(grid, key=lambda r: r.config["lr"]):
        _, rows = epoch_reports(result)
        print(
            f"trial lr={result.config['lr']:<6g} batch-size schedule {schedule(rows):<28} "
            f"val_loss {result.metrics['val_loss']:.4f}  val_acc {result.metrics['val_acc']:.3f}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true", help="2 short trials (seconds)")
    parser.add_argument("--storage", default=None, help="results folder (default: Ray's)")
    parser.add_argument(
        "--address", default="local", help="Ray cluster address (default: a new local Ray)"
    )
    args = parser.parse_args(argv)
    data = load_data()
    n_train = len(data["y_train"])
    epochs, lrs = (12, [0.05, 0.1]) if args.smoke_test else (40, [0.02, 0.05, 0.1, 0.2])
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
            "lr": tune.grid_search(lrs),
            "hidden": 64,
            "seed": 0,
            "budget_samples": epochs * n_train,
        },
        tune_config=tune.TuneConfig(metric="val_loss", mode="min", scheduler=scheduler),
        run_config=tune.RunConfig(
            name="digits-inplace",
            storage_path=args.storage,
            verbose=0,
            callbacks=tune_bs.logger_callbacks(),
        ),
    )
    grid = tuner.fit()
    print(f"{len(grid)} trials, {grid.num_errors} errors; {scheduler.debug_string()}")
    print_schedules(grid)


if __name__ == "__main__":
    main()
