"""``tune-bs submit`` to a head started from a virtualenv's ``ray`` without activating it.

The head's ``PATH`` leads to an interpreter without tune-bs's dependencies (the system's
``python3``, as ``python``): Ray Jobs would run the job with it and the job would die with
``ModuleNotFoundError`` after a long traceback. ``submit`` checks that interpreter first and
refuses in one line that names it and the fix; nothing is submitted.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cluster import local_cluster_module

pytestmark = pytest.mark.cluster

SPACE = {
    "name": "jobs-python",
    "dataset": {"name": "ItalyPowerDemand"},
    "num_samples": 1,
    "budget": {"samples": 32, "reports": 1},
    "scheduler": {"name": "fifo"},
    "param_space": {"batch_size": 8, "hidden": 8},
}


def bare_path(folder: Path) -> str | None:
    """A PATH whose ``python`` lacks scikit-learn (the system's python3), else None."""
    for candidate in ("/usr/bin/python3", "/bin/python3"):
        lacks = subprocess.run([candidate, "-c", "import sklearn"], capture_output=True)
        if Path(candidate).exists() and lacks.returncode != 0:
            (folder / "python").symlink_to(candidate)
            return f"{folder}:/usr/bin:/bin"
    return None


def test_submit_names_the_heads_python_and_refuses_one_without_the_dependencies(tmp_path):
    path = bare_path(tmp_path)
    if path is None:
        pytest.skip("no interpreter without scikit-learn on this machine")
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump(SPACE))
    module = local_cluster_module()
    with module.LocalCluster(workers=0, dashboard=True, node_env={"PATH": path}) as head:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tune_bs",
                "submit",
                str(space),
                "--address",
                head.dashboard_url,
                "--storage",
                str(tmp_path / "results"),
            ],
            env=head.env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        jobs = subprocess.run(
            [
                str(Path(sys.executable).with_name("ray")),
                "job",
                "list",
                "--address",
                head.dashboard_url,
            ],
            env=head.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"{tmp_path}/python" in lines[0] and "sklearn" in lines[0], lines[0]
    assert "activate its virtualenv before `ray start --head`" in lines[0]
    assert "tune_bs_jobs-python" not in jobs.stdout  # nothing was submitted
