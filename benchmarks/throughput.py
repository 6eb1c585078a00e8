"""Training throughput: index slices of an on-device tensor vs a torch DataLoader.

For each encoder and batch size, trains the same model on the same synthetic data two ways and
prints training samples per second (median of ``--repeats`` interleaved runs, so both paths see
the same machine noise):

- ``slice``: tune-bs's path — the training tensor sits on the device; a batch is
  ``X[perm[i:i+B]]`` (one gather, no per-sample Python);
- ``loader``: ``torch.utils.data.DataLoader(TensorDataset(X), batch_size=B, shuffle=True)`` with
  default collation (one ``__getitem__`` per series, then ``torch.stack``).

It also times the data path alone (no model), where the difference is not hidden by compute.
Every encoder of the registry is measured at width 64, ``causal_cnn`` at its default depth
(10 residual blocks, D = 64); ``--encoders`` picks some of them.
Run: ``python benchmarks/throughput.py`` (``--smoke-test`` for a seconds-long check;
``--encoders fcn causal_cnn --skip-data-path`` for the training steps of those two only).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from tune_bs.data.synthetic import make_synthetic
from tune_bs.progress import bar
from tune_bs.train.augment import Augmenter
from tune_bs.train.encoders import ENCODERS, ContrastiveModel, build_encoder
from tune_bs.train.loss import nt_xent


def slice_batches(X: torch.Tensor, batch_size: int, steps: int, generator: torch.Generator):
    perm = torch.randperm(len(X), generator=generator)
    cursor = 0
    for _ in range(steps):
        if len(X) - cursor < batch_size:
            perm, cursor = torch.randperm(len(X), generator=generator), 0
        yield X[perm[cursor : cursor + batch_size]]
        cursor += batch_size


def loader_batches(X: torch.Tensor, batch_size: int, steps: int, generator: torch.Generator):
    loader = DataLoader(
        TensorDataset(X), batch_size=batch_size, shuffle=True, drop_last=True, generator=generator
    )
    done = 0
    while True:
        for (x,) in loader:
            yield x
            done += 1
            if done == steps:
                return


def samples_per_second(path, X, model, batch_size, steps, train: bool) -> float:
    gen = torch.Generator().manual_seed(0)
    aug, view_gen = Augmenter(), torch.Generator().manual_seed(1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3) if train else None
    started = time.perf_counter()
    for x in path(X, batch_size, steps, gen):
        if train:
            v1, v2 = aug.views(x, view_gen)
            loss = nt_xent(model(v1), model(v2))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        else:
            x.sum()  # touch the batch
    return batch_size * steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a 1-CPU trial)")
    parser.add_argument("--encoders", nargs="+", choices=sorted(ENCODERS), default=None)
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=None)
    parser.add_argument("--skip-data-path", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batch_sizes = args.batch_sizes or ([8, 256] if args.smoke_test else [8, 16, 32, 64, 128, 256])
    encoders = args.encoders or (["fcn"] if args.smoke_test else sorted(ENCODERS))
    repeats = 1 if args.smoke_test else args.repeats
    X_np, _ = make_synthetic(n_series=2048, n_channels=3, length=128, n_modes=4, seed=0)
    X = torch.tensor(X_np)
    print(
        f"synthetic data {tuple(X.shape)}, {args.threads} torch thread(s), median of "
        f"{repeats} interleaved run(s); samples/s"
    )

    print("\n## data path only (no model)")
    print(f"{'batch':>6} {'slice':>12} {'loader':>12} {'ratio':>7}")
    for b in [] if args.skip_data_path else batch_sizes:
        steps = max(20, 8192 // b)
        runs = {"slice": [], "loader": []}
        for _ in range(repeats):
            runs["slice"].append(samples_per_second(slice_batches, X, None, b, steps, False))
            runs["loader"].append(samples_per_second(loader_batches, X, None, b, steps, False))
        s, ld = statistics.median(runs["slice"]), statistics.median(runs["loader"])
        print(f"{b:>6} {s:>12,.0f} {ld:>12,.0f} {s / ld:>6.1f}x")

    print("\n## training step (augment + forward + backward + Adam)")
    print(f"{'encoder':>10} {'batch':>6} {'slice':>10} {'loader':>10} {'ratio':>7}")
    for name in encoders:
        for b in batch_sizes:
            steps = 3 if args.smoke_test else max(6, 1024 // b)
            runs = {"slice": [], "loader": []}
            warm = ContrastiveModel(build_encoder(name, 3, hidden=64))
            samples_per_second(slice_batches, X, warm, b, 2, True)  # untimed warm-up
            for _ in bar(range(repeats), desc=f"{name} batch {b}", unit="repeat"):
                for label, path in (("slice", slice_batches), ("loader", loader_batches)):
                    torch.manual_seed(0)
                    model = ContrastiveModel(build_encoder(name, 3, hidden=64))
                    runs[label].append(samples_per_second(path, X, model, b, steps, True))
            s, ld = statistics.median(runs["slice"]), statistics.median(runs["loader"])
            print(f"{name:>10} {b:>6} {s:>10,.0f} {ld:>10,.0f} {s / ld:>6.2f}x", flush=True)


if __name__ == "__main__":
    main()
