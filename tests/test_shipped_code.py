"""Every benchmark and example can run: it imports, and every ``tune_bs`` name it imports — at the
top or inside a function, where an import only fails when that function runs — exists.

(``benchmarks/cluster_scale.py`` raised ``ImportError`` inside every timed trial for months after
a module moved: nothing imported that line until the benchmark ran.)
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
SHIPPED = sorted([*ROOT.glob("benchmarks/*.py"), *ROOT.glob("examples/*.py")])


def project_imports(path: Path) -> list[tuple[int, str, str | None]]:
    """``(line, module, name)`` of every import of a ``tune_bs`` module in the file, wherever it
    stands (``name`` is ``None`` for ``import tune_bs.x``)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "tune_bs":
                out += [(node.lineno, node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            out += [
                (node.lineno, alias.name, None)
                for alias in node.names
                if alias.name.split(".")[0] == "tune_bs"
            ]
    return out


def test_the_walk_finds_the_shipped_files() -> None:
    names = {p.name for p in SHIPPED}
    assert {"cluster_scale.py", "simulator.py", "digits_inplace.py"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_project_name_a_shipped_file_imports_exists(path: Path) -> None:
    missing = []
    for line, module, name in project_imports(path):
        try:
            imported = importlib.import_module(module)
        except ImportError as exc:
            missing.append(f"line {line}: {module} ({exc})")
            continue
        if name is None or name == "*" or hasattr(imported, name):
            continue
        try:
            importlib.import_module(f"{module}.{name}")
        except ImportError:
            missing.append(f"line {line}: {module}.{name}")
    assert not missing, f"{path.name} imports what does not exist: {missing}"


@pytest.mark.slow  # a fresh interpreter imports Ray, torch and scikit-learn (~20 s)
def test_every_shipped_file_imports() -> None:
    """Each module imports without running (one fresh interpreter; benchmarks import their
    siblings by name, as when run from their folder)."""
    code = (
        "import importlib.util, sys\n"
        f"sys.path.insert(0, {str(ROOT / 'benchmarks')!r})\n"
        f"for path in {[str(p) for p in SHIPPED]!r}:\n"
        "    name = '_shipped_' + path.rsplit('/', 2)[-2] + '_' + path.rsplit('/', 1)[-1][:-3]\n"
        "    spec = importlib.util.spec_from_file_location(name, path)\n"
        "    module = sys.modules[name] = importlib.util.module_from_spec(spec)\n"
        "    spec.loader.exec_module(module)\n"
        "print('imported', sum(n.startswith('_shipped_') for n in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == f"imported {len(SHIPPED)}"
