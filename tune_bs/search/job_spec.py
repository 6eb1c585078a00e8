"""What a submitted job is: where it stores results, its entrypoint, its staged working folder,
its runtime environment, and the end states it reaches (rules 2–5 of :mod:`tune_bs.search.jobs`).
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from tune_bs.documents import load_yaml
from tune_bs.errors import UserInputError

if TYPE_CHECKING:
    from tune_bs.search.experiment import RunOptions

DEFAULT_STORAGE = "~/tune_bs_results"
#: A job's end states and the exit status each gives (rule 5).
EXIT_STATUS = {"SUCCEEDED": 0, "FAILED": 1, "STOPPED": 1}
_DATA_FOLDER = "data"


def job_storage(storage: str | None) -> str:
    """Where the job writes its results on the cluster (rule 4)."""
    if storage is None:
        return DEFAULT_STORAGE
    text = str(storage).strip()
    if "://" in text or text.startswith("~") or Path(text).is_absolute():
        return text
    raise UserInputError(
        f"--storage for a submitted job must be an absolute path on the cluster or a URI, but got "
        f"--storage {storage!r}; give e.g. /shared/results (shared by all nodes) or "
        "s3://bucket/results."
    )


def build_entrypoint(
    space_file: str, storage: str, name: str, options: RunOptions, debug: bool = False
) -> str:
    """The job's shell command: ``python -m tune_bs run`` with the same options (rule 2)."""
    argv = ["python", "-m", "tune_bs"] + (["--debug"] if debug else [])
    argv += ["run", space_file, "--address", "auto", "--storage", storage, "--name", name]
    if options.num_samples is not None:
        argv += ["--num-samples", str(options.num_samples)]
    if options.smoke_test:
        argv.append("--smoke-test")
    if options.cpus_per_trial is not None:
        argv += ["--cpus-per-trial", f"{options.cpus_per_trial:g}"]
    if options.gpus_per_trial is not None:
        argv += ["--gpus-per-trial", f"{options.gpus_per_trial:g}"]
    return shlex.join(argv)  # `run` expands a quoted `~` itself, on the cluster


def stage_space(space_path: Path, folder: Path) -> str:
    """Copy the search-space file (and a relative ``dataset.path``) into ``folder`` (rule 3).

    Returns the space file's name inside ``folder``.
    """
    text = space_path.read_text(encoding="utf-8")
    raw = load_yaml(text, f"search space {str(space_path)!r}")
    data_path = raw.get("dataset", {}).get("path") if isinstance(raw, dict) else None
    if data_path is not None and not Path(str(data_path)).expanduser().is_absolute():
        source = Path(str(data_path))
        if not source.is_file():
            raise UserInputError(
                f"dataset.path {str(data_path)!r} does not exist (relative to {Path.cwd()}); "
                "run submit from the folder it is relative to, or give an absolute path that "
                "exists on the cluster."
            )
        (folder / _DATA_FOLDER).mkdir()
        shutil.copy2(source, folder / _DATA_FOLDER / source.name)
        raw["dataset"]["path"] = f"{_DATA_FOLDER}/{source.name}"
        text = yaml.safe_dump(raw, sort_keys=False)
    target = space_path.name if space_path.suffix in (".yaml", ".yml") else "space.yaml"
    (folder / target).write_text(text, encoding="utf-8")
    return target


def runtime_env(working_dir: Path) -> dict[str, Any]:
    """``working_dir`` = the staged space; ``py_modules`` = this ``tune_bs`` package (rule 3)."""
    package = Path(__file__).resolve().parents[1]  # tune_bs/, above tune_bs/search/
    return {
        "working_dir": str(working_dir),
        "py_modules": [str(package)],
        "excludes": ["__pycache__", "*.pyc"],
        "env_vars": {"PYTHONUNBUFFERED": "1"},
    }
