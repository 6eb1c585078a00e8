"""Every shipped script imports: each ``benchmarks/*.py`` and ``examples/*.py`` module is executed
as a module (its ``if __name__ == "__main__"`` part not run), and every ``import`` statement in it,
those inside functions included, is resolved (the module imported, each imported name found in it
or as its submodule), so that code users are told to run cannot rot unnoticed (issue #31:
``benchmarks/cluster_scale.py`` raised ``ImportError`` in every timed trial, from an import inside
its trial function, for months).

All modules are imported in one fresh interpreter (this test process keeps its own modules), with
``benchmarks/`` and ``examples/`` on ``sys.path`` as when a script runs from its folder; the
interpreter prints, per module, ``null`` or the first error.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted([*(ROOT / "benchmarks").glob("*.py"), *(ROOT / "examples").glob("*.py")])
#: Modules known not to import, each with its reason; the test fails once one imports (strict).
BROKEN: dict[str, str] = {}

IMPORTER = """
import ast, importlib, importlib.util, json, sys, traceback
from pathlib import Path


def resolve(node):
    # every module an import statement names, and every name it takes from one
    if isinstance(node, ast.Import):
        for alias in node.names:
            importlib.import_module(alias.name)
        return
    if node.level:
        raise ImportError(f"relative import at line {node.lineno}: scripts run as files")
    module = importlib.import_module(node.module)
    for alias in node.names:
        if alias.name != "*" and not hasattr(module, alias.name):
            try:
                importlib.import_module(f"{node.module}.{alias.name}")
            except ImportError:
                raise ImportError(
                    f"cannot import name {alias.name!r} from {node.module!r} "
                    f"(line {node.lineno})"
                ) from None


paths = [Path(p) for p in sys.argv[1:]]
for folder in dict.fromkeys(p.parent for p in paths):
    sys.path.insert(0, str(folder))
errors = {}
for path in paths:
    try:
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module  # dataclasses resolve their module by name
        spec.loader.exec_module(module)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                resolve(node)
        errors[str(path)] = None
    except BaseException as error:  # SystemExit too: a script must not exit on import
        errors[str(path)] = "".join(traceback.format_exception_only(error)).strip()
print("IMPORTS " + json.dumps(errors))
"""


@pytest.fixture(scope="module")
def import_errors() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", IMPORTER, *map(str, SCRIPTS)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("IMPORTS ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    return json.loads(lines[-1].removeprefix("IMPORTS "))


def test_every_benchmark_and_example_is_found() -> None:
    names = {p.name for p in SCRIPTS}
    assert {"schedulers.py", "replay.py", "cluster_scale.py", "digits_inplace.py"} <= names
    assert {"digits_random_search.py", "digits_class_api.py"} <= names
    assert set(BROKEN) <= names  # a broken entry that no longer exists is removed from BROKEN


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(
            path,
            id=f"{path.parent.name}/{path.name}",
            marks=[pytest.mark.xfail(strict=True, reason=BROKEN[path.name])]
            if path.name in BROKEN
            else [],
        )
        for path in SCRIPTS
    ],
)
def test_the_script_imports(script: Path, import_errors: dict[str, Any]) -> None:
    assert str(script) in import_errors
    assert import_errors[str(script)] is None, import_errors[str(script)]
