"""GPU packing: samples per second per GPU and GPU utilisation with 1, 2, 4 and 8 trials per GPU.

For every packing k, one Tune experiment (``run_experiment``, the path of ``tune-bs run``) runs
k x (number of GPUs) trials at once, each asking for 1/k of a GPU (``resources.gpu``) and an equal
share of the CPUs. Every GPU does the same total work at every k: a trial's budget is
``--samples-per-gpu`` / k training samples of the seeded synthetic data set (FCN encoder, fixed
batch size ``--batch-size``, 2 reports). Printed per k:

- ``wall samples/s/GPU``: all trials' training samples / the experiment's wall time / GPUs —
  what a user gets, start-up and evaluation included;
- ``trial samples/s/GPU``: the sum over trials of samples_seen / time_total_s, per GPU — the
  throughput while the trials run together;
- ``GPU util % mean / max``: ``nvidia-smi --query-gpu=utilization.gpu`` sampled every 0.5 s during
  the experiment (``torch.cuda.utilization`` where nvidia-smi is missing), averaged over GPUs.

Small contrastive encoders leave a GPU mostly idle (kernel launches, evaluation on the CPU), so
packing several trials per GPU should raise both figures until the GPU saturates.

Where no CUDA GPU is available it says so and exits with status 0. ``--cpu-check`` runs the same
harness on the CPU with one declared (fake) GPU, to check the script itself; its figures say
nothing about GPUs. Usage: ``python benchmarks/gpu_packing.py [--smoke-test] [--packings 1 2 4 8]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

PACKINGS = (1, 2, 4, 8)


class UtilisationSampler:
    """Samples GPU utilisation (percent, mean over GPUs) every ``interval_s`` in a thread."""

    def __init__(self, interval_s: float = 0.5):
        self.interval_s = interval_s
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._smi = shutil.which("nvidia-smi")

    def _read(self) -> float | None:
        if self._smi:
            try:
                out = subprocess.run(
                    [self._smi, "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                    capture_output=True,
                    text=True,
                    timeout=5,
                    check=True,
                ).stdout
                values = [float(v) for v in out.split()]
                return statistics.fmean(values) if values else None
            except (OSError, subprocess.SubprocessError, ValueError):
                return None
        try:
            import torch

            n = torch.cuda.device_count()
            return statistics.fmean(torch.cuda.utilization(i) for i in range(n)) if n else None
        except Exception:  # no pynvml, no driver: no figure
            return None

    def _run(self) -> None:
        while not self._stop.is_set():
            value = self._read()
            if value is not None:
                self.samples.append(value)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> UtilisationSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> str:
        if not self.samples:
            return "n/a"
        return f"{statistics.fmean(self.samples):.0f} / {max(self.samples):.0f}"


def packing_space(k: int, n_gpus: int, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "name": f"packing-{k}",
        "dataset": {
            "name": "synthetic",
            "n_series": args.n_series,
            "n_channels": 3,
            "length": args.length,
            "n_modes": 4,
            "seed": 0,
        },
        "metric": "val_loss",
        "num_samples": k * n_gpus,
        "budget": {"samples": max(args.batch_size, args.samples_per_gpu // k), "reports": 2},
        "scheduler": {"name": "fifo"},
        "param_space": {
            "encoder": "fcn",
            "hidden": args.hidden,
            "strategy": "fixed",
            "batch_size": args.batch_size,
            "seed": {"type": "int", "low": 0, "high": 10_000},
        },
    }


def measure(
    k: int, n_gpus: int, cpus: int, args: argparse.Namespace, storage: Path
) -> dict[str, Any]:
    """Run one packing and return its figures."""
    from tune_bs.search.experiment import RunOptions, run_experiment
    from tune_bs.search.space import parse_space

    trials = k * n_gpus
    options = RunOptions(
        gpus_per_trial=1.0 / k, cpus_per_trial=max(1.0, float((cpus - 1) // trials))
    )
    with UtilisationSampler() as sampler:
        started = time.perf_counter()
        outcome = run_experiment(
            parse_space(packing_space(k, n_gpus, args)), storage=storage, options=options
        )
        wall = time.perf_counter() - started
    samples, rate = 0, 0.0
    for result in (outcome.path).glob("*/result.json"):
        last = json.loads(result.read_text().splitlines()[-1])
        samples += last["samples_seen"]
        rate += last["samples_seen"] / last["time_total_s"]
    return {
        "k": k,
        "trials": trials,
        "cpus_per_trial": options.cpus_per_trial,
        "wall_s": wall,
        "wall_rate": samples / wall / n_gpus,
        "trial_rate": rate / n_gpus,
        "util": sampler.summary(),
        "errors": len(outcome.results.errors),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true", help="packings 1 and 2, tiny budget")
    parser.add_argument(
        "--cpu-check",
        action="store_true",
        help="run on the CPU with one fake GPU (checks the script only)",
    )
    parser.add_argument("--packings", type=int, nargs="+", default=list(PACKINGS))
    parser.add_argument("--samples-per-gpu", type=int, default=400_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--n-series", type=int, default=4000)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument(
        "--storage",
        type=Path,
        default=None,
        help="results folder (default: a temporary one, removed afterwards)",
    )
    args = parser.parse_args()

    import torch

    n_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if n_gpus == 0 and not args.cpu_check:
        print(
            "gpu_packing: no CUDA GPU is available here (torch.cuda.is_available() is False); "
            "nothing to measure. Run it on a machine with a GPU."
        )
        return 0
    if args.smoke_test or args.cpu_check:
        args.packings = [k for k in args.packings if k <= 2] or [1]
        args.samples_per_gpu = min(args.samples_per_gpu, 2_000 if args.cpu_check else 40_000)
        args.n_series, args.length = min(args.n_series, 400), min(args.length, 64)
    cpus = os.cpu_count() or 1

    import ray

    ray.init(
        address="local",
        num_cpus=max(cpus, 2 * max(args.packings) * max(n_gpus, 1)),
        num_gpus=n_gpus or 1,
        include_dashboard=False,
        configure_logging=False,
        log_to_driver=False,
    )
    device = torch.cuda.get_device_name(0) if n_gpus else "CPU (fake GPU: --cpu-check)"
    storage = args.storage or Path(tempfile.mkdtemp(prefix="gpu_packing_"))
    rows = []
    try:
        for k in args.packings:
            rows.append(measure(k, max(n_gpus, 1), cpus, args, storage))
    finally:
        ray.shutdown()
        if args.storage is None:
            shutil.rmtree(storage, ignore_errors=True)

    print(
        f"\ngpu_packing on {max(n_gpus, 1)} x {device}, {cpus} CPUs; FCN hidden {args.hidden}, "
        f"batch {args.batch_size}, synthetic {args.n_series} x 3 x {args.length}, "
        f"{args.samples_per_gpu} training samples per GPU per packing"
    )
    print(
        "| trials/GPU | trials | CPUs/trial | wall s | wall samples/s/GPU | "
        "trial samples/s/GPU | GPU util % mean / max | errors |"
    )
    print("|---:|---:|---:|---:|---:|---:|---|---:|")
    for r in rows:
        print(
            f"| {r['k']} | {r['trials']} | {r['cpus_per_trial']:g} | {r['wall_s']:.1f} | "
            f"{r['wall_rate']:.0f} | {r['trial_rate']:.0f} | {r['util']} | {r['errors']} |"
        )
    base = rows[0]
    print(
        "wall_rate_vs_1_per_gpu "
        + " ".join(f"k={r['k']}:{r['wall_rate'] / base['wall_rate']:.2f}" for r in rows)
    )
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
