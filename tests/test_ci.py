"""CI runs every test: the quick run (the README's command) leaves out the slower end-to-end and
the multi-node tests, and ``.ci/run`` runs each of those in a step of its own after it."""

from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
QUICK = 'pip install torch==2.13.0 && pip install -e ".[test]" && python -m pytest'


def test_the_quick_run_leaves_out_exactly_the_steps_ci_runs_apart():
    (addopts,) = [
        line
        for line in (ROOT / "pyproject.toml").read_text().splitlines()
        if line.startswith("addopts")
    ]
    assert "-m 'not cluster and not slow'" in addopts and "-n auto" in addopts
    lines = (ROOT / ".ci/run").read_text().splitlines()
    quick = lines.index(QUICK)
    assert quick < lines.index("python -m pytest -m slow")
    assert quick < lines.index("python -m pytest -m cluster")


@pytest.mark.parametrize(
    ("expression", "workers"),
    [("not cluster and not slow", None), ("slow", 1), ("cluster", 1), ("not ray", 1)],
)
def test_only_the_quick_run_spreads_over_the_cores(expression, workers):
    from conftest import pytest_xdist_auto_num_workers

    class Config:
        class option:
            markexpr = expression

    assert pytest_xdist_auto_num_workers(Config()) == workers
