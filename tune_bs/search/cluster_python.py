"""Which Python a job on the cluster runs with, checked before submitting (rule 6 of
:mod:`tune_bs.search.jobs`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import shlex
import time
import uuid
from dataclasses import dataclass
from typing import Any

from tune_bs.errors import UserInputError
from tune_bs.search.job_spec import EXIT_STATUS
from tune_bs.search.job_submit import submit_when_ready

#: The jobs client's logger (its messages read as one log).
logger = logging.getLogger("tune_bs.search.jobs")

#: What the job's ``python`` must import (import names; ``tune_bs`` itself travels with the job).
REQUIRED_MODULES = (
    "ray",
    "torch",
    "sklearn",
    "aeon",
    "optuna",
    "pandas",
    "numpy",
    "scipy",
    "yaml",
    "matplotlib",
    "pyarrow",
)
#: Seconds the interpreter check job may take (it starts a Python and looks up modules).
CHECK_TIMEOUT_S = 120.0
_CHECK_MARK = "TUNE_BS_PYTHON "
_CHECK_SCRIPT = (
    "import importlib.metadata as md, importlib.util as u, json, sys\n"
    "def version(name):\n"
    "    try:\n"
    "        return md.version(name)\n"
    "    except md.PackageNotFoundError:\n"
    "        return None\n"
    "missing = [m for m in {modules!r} if u.find_spec(m) is None]\n"
    "print({mark!r} + json.dumps({{'python': sys.executable, 'version': sys.version.split()[0],"
    " 'ray': version('ray'), 'missing': missing}}), flush=True)\n"
)


@dataclass(frozen=True)
class ClusterPython:
    """The interpreter a job on the cluster runs with (rule 6)."""

    executable: str
    version: str
    ray: str | None

    def describe(self) -> str:
        return f"{self.executable} (Python {self.version}, ray {self.ray or 'not installed'})"


def check_cluster_python(
    client: Any, address: str, timeout_s: float = CHECK_TIMEOUT_S
) -> ClusterPython:
    """Run a check job with the ``python`` the job will use; refuse one that lacks a required
    module, or cannot be run, in one line naming it and the fix (rule 6)."""
    script = _CHECK_SCRIPT.format(modules=REQUIRED_MODULES, mark=_CHECK_MARK)
    job_id = f"tune_bs_check_python_{uuid.uuid4().hex[:8]}"
    try:
        submit_when_ready(
            client,
            entrypoint=f"python -c {shlex.quote(script)}",
            submission_id=job_id,
            runtime_env={"env_vars": {"PYTHONUNBUFFERED": "1"}},
        )
    except RuntimeError as exc:
        raise UserInputError(
            f"the Ray cluster at --address {address!r} refused the interpreter check job "
            f"({str(exc).splitlines()[0]}); check `ray status` on the head and retry."
        ) from None
    deadline = time.monotonic() + timeout_s
    status = ""
    while time.monotonic() < deadline:
        status = str(client.get_job_status(job_id))
        if status in EXIT_STATUS:
            break
        time.sleep(0.5)
    logs = client.get_job_logs(job_id) or ""
    with contextlib.suppress(Exception):  # a check job left in the list is harmless
        client.delete_job(job_id)
    found = [line for line in logs.splitlines() if line.startswith(_CHECK_MARK)]
    if not found:
        said = next(
            (line for line in reversed(logs.splitlines()) if line.strip()),
            f"its check job ended {status or 'not at all'}",
        )
        raise UserInputError(
            f"the Ray cluster at --address {address!r} cannot run `python` for the job "
            f"({said.strip()[:200]}); start the head (`ray start --head`) with a PATH whose "
            "`python` has tune-bs's dependencies (activate the virtualenv first, or use the "
            "image of docker/Dockerfile)."
        )
    info = json.loads(found[-1][len(_CHECK_MARK) :])
    python = ClusterPython(info["python"], info["version"], info.get("ray"))
    if info["missing"]:
        raise UserInputError(
            f"the job would run with {python.describe()} — the `python` first on the PATH the "
            f"Ray head was started with — which lacks {', '.join(info['missing'])}; start the "
            "head from an environment with tune-bs's dependencies (activate its virtualenv "
            "before `ray start --head`, or use the image of docker/Dockerfile), or install "
            "them for that python."
        )
    import ray

    if python.ray != ray.__version__:
        logger.warning(
            "the cluster's ray is %s, this machine's %s: Ray Jobs and tune-bs expect "
            "the same version.",
            python.ray,
            ray.__version__,
        )
    return python
