"""How the load-time data checks (tune_bs.data.arrays) behave on real data: do they misfire?

Two rules of :mod:`tune_bs.data.arrays` rest on a threshold, so this prints what they see on
every data set aeon ships and on the synthetic generator:

- **float32 precision** (rule 3): the worst ratio, over series and channels, of the float32
  rounding error's standard deviation to the series' own (refused above ``PRECISION_LOSS``);
- **layout** (rule 6): the lag-1 autocorrelation over time and across channels, as stored and
  saved swapped (``X.transpose(0, 2, 1)``), and whether the hint fires (``warn``), stays
  quiet (``-``), or the file is refused for having fewer than 2 steps (``refused``).

The development sets (GunPoint, BasicMotions, ItalyPowerDemand, Covid3Month) and the synthetic
generator set the thresholds; the other shipped sets are listed apart, as an evaluation the
thresholds were not tuned on.

    python benchmarks/data_checks.py            # every shipped set, synthetic shapes
    python benchmarks/data_checks.py --smoke-test
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import numpy as np

from tune_bs.data import aeon_sets
from tune_bs.data.arrays import PRECISION_LOSS, _lag1, swapped_layout_hint
from tune_bs.data.dataset import to_equal_length
from tune_bs.data.synthetic import make_synthetic

DEVELOPMENT = ("GunPoint", "BasicMotions", "ItalyPowerDemand", "Covid3Month")
SYNTHETIC_SHAPES = ((3, 128), (1, 64), (6, 100), (12, 16), (3, 8), (20, 24))


def precision_ratio(X: np.ndarray) -> float:
    """The worst float32 rounding error / series standard deviation over series and channels."""
    X64 = np.asarray(X, dtype=np.float64)
    spread = X64.std(axis=2)
    error = (X64.astype(np.float32).astype(np.float64) - X64).std(axis=2)
    ratios = np.divide(error, spread, out=np.zeros_like(error), where=spread > 0)
    return float(ratios.max())


def layout(X: np.ndarray) -> str:
    """What rule 6 does with ``X`` as given: ``warn``, ``-`` or ``refused`` (one step)."""
    if X.shape[2] < 2:
        return "refused"
    return "warn" if swapped_layout_hint(np.asarray(X, np.float32), "X") else "-"


def lag(X: np.ndarray, axis: int) -> str:
    return f"{_lag1(X[:256], axis):+.2f}" if X.shape[axis] > 1 else "  n/a"


def sets(smoke: bool) -> Iterator[tuple[str, str, np.ndarray]]:
    """``(group, name, X [N, C, T] float64)`` for each data set looked at."""
    shipped = aeon_sets.shipped_datasets()
    names = DEVELOPMENT[:1] if smoke else sorted(shipped, key=lambda n: (n not in DEVELOPMENT, n))
    for name in names:
        X, _ = aeon_sets.read_split(shipped[name].train_path)
        if isinstance(X, list):
            X = to_equal_length(X).astype(np.float64)
        yield ("development" if name in DEVELOPMENT else "evaluation"), name, np.asarray(X)
    for seed, (channels, length) in enumerate(SYNTHETIC_SHAPES[: 1 if smoke else None]):
        X, _ = make_synthetic(n_series=200, n_channels=channels, length=length, seed=seed)
        yield "development", f"synthetic {channels}x{length}", X.astype(np.float64)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true", help="one set of each kind")
    args = parser.parse_args(argv)
    print(f"float32 precision rule: refused above {PRECISION_LOSS:g}")
    header = (
        f"{'group':12s} {'data set':26s} {'shape':16s} {'precision':>9s}  "
        f"{'time':>5s} {'chan':>5s} {'stored':>7s} {'swapped':>8s}"
    )
    print(header)
    for group, name, X in sets(args.smoke_test):
        swapped = X.transpose(0, 2, 1)
        print(
            f"{group:12s} {name:26s} {X.shape!s:16s} {precision_ratio(X):9.1e}  "
            f"{lag(X, 2)} {lag(X, 1)} {layout(X):>7s} {layout(swapped):>8s}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
