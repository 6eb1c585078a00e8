"""The README's two commands are the project's promise: keep them and CI in step."""

from pathlib import Path

ROOT = Path(__file__).parents[1]
TEST_COMMAND = 'pip install torch==2.13.0 && pip install -e ".[test]" && python -m pytest'
RUN_COMMAND = "pip install torch==2.13.0 && pip install . && tune-bs run"


def test_readme_holds_both_commands_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text()
    assert TEST_COMMAND in readme and RUN_COMMAND in readme
    ci_lines = (ROOT / ".ci/run").read_text().splitlines()
    assert TEST_COMMAND in ci_lines
    # the multi-node tests, left out of the default run (pyproject addopts), run in a step of
    # their own after it
    assert ci_lines.index("python -m pytest -m cluster") > ci_lines.index(TEST_COMMAND)
    assert "-m cluster" in readme
    # and the lint, over every Python folder
    for check in ("ruff check", "ruff format --check"):
        assert f"{check} tune_bs tests benchmarks examples" in ci_lines
