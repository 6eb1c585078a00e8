"""benchmarks/data_checks.py: its smoke test runs, and its figures are the rules' own."""

from __future__ import annotations

import numpy as np
from conftest import load_benchmark


def test_the_smoke_test_prints_a_development_set_and_a_synthetic_one(capsys) -> None:
    bench = load_benchmark("data_checks")
    assert bench.main(["--smoke-test"]) == 0
    out = capsys.readouterr().out
    assert "GunPoint" in out and "synthetic 3x128" in out
    synthetic = next(line for line in out.splitlines() if "synthetic 3x128" in line)
    assert synthetic.split()[-2:] == ["-", "warn"]  # quiet as stored, warns when swapped


def test_the_precision_ratio_sees_an_offset() -> None:
    bench = load_benchmark("data_checks")
    t = np.linspace(0, 6, 32)
    assert bench.precision_ratio(np.sin(t)[None, None, :]) < 1e-6
    assert bench.precision_ratio((1e10 + np.sin(t))[None, None, :]) > 0.1
