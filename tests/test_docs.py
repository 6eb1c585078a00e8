"""The documentation site (``docs/``, built by Sphinx: docs/conf.py) stays true to the code.

- Every Python block of every page is run or checked by a named test (:data:`PYTHON_BLOCKS`): a
  new block fails here until it is listed with the test that keeps it true.
- Every search-space YAML block validates with the real validator.
- Every ``tune-bs`` command line names a real subcommand and real options (the CLI's own parser),
  and every ``python benchmarks/NAME.py --option`` a real script and option.
- The site builds strictly (warnings are errors: a broken link, toctree entry or reference),
  when Sphinx is installed (``pip install -e ".[docs]"``); without it the test skips, unless
  ``TUNE_BS_REQUIRE_DOCS=1`` (CI sets it in its docs step) makes that a failure.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from doc_pages import DOCS, FENCE, ROOT, blocks, code_lines, pages, read, section

from tune_bs.cli import main
from tune_bs.cli_parser import build_parser
from tune_bs.search.space import parse_space

#: page → the test(s) that run or check each of its Python blocks, in order
PYTHON_BLOCKS: dict[str, list[str]] = {
    "README.md": ["tests/test_readme.py::test_the_own_data_example_builds_a_valid_search"],
    "docs/guide/own-tune-code.md": [
        "tests/test_plugin.py::test_the_docs_snippet_uses_names_and_arguments_that_exist"
    ],
    "docs/guide/python-api.md": ["tests/test_api.py::test_readme_python_snippet_runs"],
    "docs/guide/export.md": ["tests/test_api.py::test_readme_python_snippet_runs"],
    "docs/guide/extending.md": ["tests/test_extending.py"],
}


def test_every_python_block_is_run_or_checked_by_a_named_test():
    found = {page: len(blocks(read(page), "python")) for page in pages()}
    assert {page: n for page, n in found.items() if n} == {
        page: len(tests) for page, tests in PYTHON_BLOCKS.items()
    }
    for tests in PYTHON_BLOCKS.values():
        for test in tests:
            path, _, name = test.partition("::")
            assert (ROOT / path).is_file(), test
            assert not name or f"def {name}(" in (ROOT / path).read_text(), test


def test_the_search_space_examples_validate():
    (example,) = blocks(read("docs/guide/search-spaces.md"), "yaml")
    space = parse_space(yaml.safe_load(example))
    assert (space.name, space.metric, space.mode, space.num_samples) == (
        "default",
        "val_probe_acc",
        "max",
        8,
    )
    (tracking,) = blocks(read("docs/guide/tracking.md"), "yaml")
    with_tracking = parse_space({**yaml.safe_load(example), **yaml.safe_load(tracking)})
    assert with_tracking.tracking["experiment_name"] == "my-search"


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def _commands(text: str) -> list[str]:
    """``tune-bs ...`` lines of the code blocks and inline code spans of a page."""
    inline = re.findall(r"`(tune-bs [^`]+)`", text)
    lines = [line.strip().removeprefix("$ ") for line in code_lines(text)]
    return [line for line in [*lines, *inline] if line.startswith("tune-bs ")]


def test_every_tune_bs_command_in_the_docs_exists_with_its_options():
    parser = build_parser()
    subcommands = _subcommands(parser)
    checked = 0
    for page in pages():
        for command in _commands(read(page)):
            words = command.split("#")[0].split()
            name, options = words[1], [w.strip("[]") for w in words[2:] if "--" in w]
            assert name in subcommands, f"{page}: {command!r}: no command {name!r}"
            known = {s for action in subcommands[name]._actions for s in action.option_strings} | {
                "--debug"
            }
            for option in options:
                option = option.split("=")[0].split("|")[0]
                assert option in known, f"{page}: {command!r}: {name} has no option {option}"
            checked += 1
    assert checked > 30  # the walk found them


def test_the_commands_page_shows_the_error_tune_bs_validate_prints(tmp_path, capsys):
    (example,) = [b for _, b in FENCE.findall(read("docs/guide/commands.md")) if "$ " in b]
    command, shown = example.strip().splitlines()
    assert command == "$ tune-bs validate my.yaml"
    space = {
        "dataset": {"name": "GunPoint"},
        "scheduler": {"name": "asha", "grace_peroid": 4},
        "param_space": {"batch_size": 8},
    }
    (tmp_path / "my.yaml").write_text(yaml.safe_dump(space))
    assert main(["validate", str(tmp_path / "my.yaml")]) == 2
    assert capsys.readouterr().err.strip() == shown


def test_every_benchmark_command_in_the_docs_names_a_real_script_and_options():
    checked = 0
    for page in pages():
        text = read(page)
        for script, args in re.findall(r"python (benchmarks/\w+\.py)((?: [^`\n)#;]*)?)", text):
            source = ROOT / script
            assert source.is_file(), f"{page}: {script} does not exist"
            for option in re.findall(r"(--[a-z][a-z-]*)", args):
                assert f'"{option}"' in source.read_text(), f"{page}: {script} has no {option}"
            checked += 1
    assert checked > 20


def test_the_pages_link_only_to_files_that_exist():
    for page in pages():
        text = FENCED.sub("", read(page))
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = target.split("#")[0]
            assert ((ROOT / page).parent / path).exists(), f"{page}: broken link {target}"


FENCED = re.compile(r"^```.*?^```", re.M | re.S)


def test_the_pages_the_code_sends_users_to_exist():
    # messages and docstrings name pages of the site (``see docs/guide/search-spaces.md``), never
    # a README section: the README is short and its old sections live in the site now
    named = set()
    for source in sorted((ROOT / "tune_bs").rglob("*.py")):
        text = source.read_text(encoding="utf-8")
        assert not re.search(r"README ['\"]", text), f"{source}: names a README section"
        named |= set(re.findall(r"docs/[\w/.-]+\.md", text))
    assert "docs/guide/search-spaces.md" in named  # the walk found them
    missing = sorted(page for page in named if not (ROOT / page).is_file())
    assert not missing, missing


def test_the_incoming_folder_is_left_out_of_the_site():
    conf = (DOCS / "conf.py").read_text()
    assert '"_incoming"' in conf and (DOCS / "_incoming" / "README.md").is_file()
    assert "_incoming" not in read("docs/index.md")


def test_the_site_builds_strictly(tmp_path: Path):
    try:
        import myst_parser  # noqa: F401
        import sphinx  # noqa: F401
    except ImportError:
        if os.environ.get("TUNE_BS_REQUIRE_DOCS") == "1":
            pytest.fail('the docs extra is not installed: pip install -e ".[docs]"')
        pytest.skip('needs the docs extra: pip install -e ".[docs]"')
    # the command of docs/development.md, into a temporary folder
    command = "python -m sphinx -W --keep-going -n -b html docs docs/_build/html"
    assert command in read("docs/development.md")
    args = [*shlex.split(command)[1:-1], str(tmp_path / "html")]
    build = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    built = tmp_path / "html"
    for page in ("index", "api", "design", "guide/own-tune-code", "benchmarks/scheduler"):
        assert (built / f"{page}.html").is_file(), page
    api = (built / "api.html").read_text()
    for name in ("ExtrapolationScheduler", "SwitchSettings", "ReportKeys", "BatchSizeUpdates"):
        assert f'id="tune_bs.{name}"' in api, name
    assert "The rule, on the trial" in api  # the switching rule's docstring
    front = (built / "index.html").read_text()
    assert "Your own data in 10 lines" in front and 'href="guide/install.html"' in front
    assert section(read("docs/development.md"), "The documentation")
