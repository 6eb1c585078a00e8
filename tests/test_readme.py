"""The README's two commands are the project's promise: keep them and CI in step. The README stays
short (the rest is the documentation site, docs/: tests/test_docs.py), and its ten-line example
for your own data runs."""

from __future__ import annotations

import functools
import re

import pytest
import yaml
from doc_pages import ROOT, blocks, pages, read, section

import tune_bs
from tune_bs.cli import main
from tune_bs.search.space import parse_space

TEST_COMMAND = 'pip install torch==2.13.0 && pip install -e ".[test]" && python -m pytest'
RUN_COMMAND = "pip install torch==2.13.0 && pip install . && tune-bs run"
DOCS_STEP = "TUNE_BS_REQUIRE_DOCS=1 python -m pytest tests/test_docs.py"


def test_readme_holds_both_commands_and_ci_runs_the_test_command():
    readme = read("README.md")
    assert TEST_COMMAND in readme and RUN_COMMAND in readme
    ci_lines = (ROOT / ".ci/run").read_text().splitlines()
    assert TEST_COMMAND in ci_lines
    # the multi-node tests, left out of the default run (pyproject addopts), run in a step of
    # their own after it (docs/development.md says so)
    assert ci_lines.index("python -m pytest -m cluster") > ci_lines.index(TEST_COMMAND)
    assert "python -m pytest -m cluster" in read("docs/development.md")
    # and the lint, over every Python folder
    for check in ("ruff check", "ruff format --check"):
        assert f"{check} tune_bs tests benchmarks examples" in ci_lines
    # and, last, the documentation site, built strictly with its extra installed
    assert 'pip install -e ".[docs]"' in ci_lines
    assert ci_lines.index(DOCS_STEP) > ci_lines.index("python -m pytest -m cluster")


def test_the_readme_is_short_and_in_the_order_issue_33_asks():
    readme = read("README.md")
    assert len(readme.splitlines()) <= 250
    headings = re.findall(r"^## (.+)$", readme, re.M)
    assert headings == [
        "Two commands",
        "What you see",
        "Your own data in 10 lines",
        "Concepts",
        "Where everything else is",
    ]
    # every page of the site is one row away
    table = section(readme, "Where everything else is")
    linked = set(re.findall(r"\]\((docs/[^)#]+)", table))
    site = set(pages()) - {"README.md", "docs/index.md", "docs/benchmarks/scheduler-results.md"}
    assert site <= linked


def _own_data_example() -> str:
    (code,) = blocks(section(read("README.md"), "Your own data in 10 lines"), "python")
    assert len([line for line in code.splitlines() if line.strip()]) <= 10
    return code


@pytest.fixture
def in_a_clone(tmp_path, monkeypatch):
    """A working folder where ``search_spaces/`` is the repository's, as in a clone."""
    (tmp_path / "search_spaces").symlink_to(ROOT / "search_spaces")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_own_data_example_builds_a_valid_search(in_a_clone, capsys):
    code = _own_data_example()
    *prepare, last = code.rstrip().splitlines()
    assert last.startswith("print(tune_bs.run(space).summary())")
    namespace: dict = {}
    exec(compile("\n".join(prepare), "README.md", "exec"), namespace)  # all but the run
    space = parse_space(namespace["space"])  # what tune_bs.run does with it first
    assert space.name == "mine" and space.dataset == {"path": "my.npz"}
    assert space.metric == "val_probe_acc" and space.num_samples == 8  # the packaged default's
    # the same as a file, validated with its data as `tune-bs validate my.yaml` does
    (in_a_clone / "my.yaml").write_text(yaml.safe_dump(namespace["space"]))
    assert main(["validate", "my.yaml"]) == 0
    out = capsys.readouterr().out
    # a seeded 30 % of the 100 series held out for the test split, 20 % of the rest for validation
    assert out.startswith("my.yaml: ok") and "56 train + 14 val + 30 test series" in out, out


@pytest.mark.slow
@pytest.mark.ray
def test_the_own_data_example_runs(in_a_clone, local_ray, monkeypatch, capsys):
    # as written, but with the run's --smoke-test (2 trials of 2 short reports)
    monkeypatch.setattr(tune_bs, "run", functools.partial(tune_bs.run, smoke_test=True))
    exec(compile(_own_data_example(), "README.md", "exec"), {})
    assert "selected on validation" in capsys.readouterr().out
    assert (in_a_clone / "tune_bs_results" / "mine-smoke").is_dir()
