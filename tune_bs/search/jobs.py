"""Ray Jobs client: submit a ``tune-bs run`` to a Ray cluster, then follow its status and logs.

Rules (docs/design.md §6, §7):

1. ``address`` is the Ray dashboard's URL, ``http(s)://HOST:PORT`` (Ray's default port is 8265);
   a bare ``HOST:PORT`` gets ``http://``. It wins over the ``RAY_ADDRESS`` and
   ``RAY_API_SERVER_ADDRESS`` environment variables, which Ray's client would otherwise prefer.
   An address that cannot be reached within ``CONNECT_TIMEOUT_S`` is a one-line
   :class:`UserInputError`, as is a cluster that asks for a token the client does not send.
2. The job runs ``python -m tune_bs run SPACE --address auto --storage STORAGE --name NAME
   [run options]`` on the cluster: the very ``run`` of the command line, attached to the job's
   cluster (``auto`` resolves to the job's own cluster through ``RAY_ADDRESS``).
3. Its runtime environment carries the project: ``py_modules`` holds the submitter's own
   ``tune_bs`` package folder (a checkout's or an installed copy's alike), so the job and every
   trial run the submitter's code, shadowing any copy installed on the cluster. The cluster must
   provide the dependencies (``ray[default,tune]``, torch, aeon, ...), as ``docker/Dockerfile``'s
   image does. ``working_dir`` is a fresh folder with the search-space file (and, when
   ``dataset.path`` is relative, a copy of that data file, the path rewritten to it); it is
   uploaded with the submission, so nothing needs to exist on the cluster beforehand. An absolute
   ``dataset.path`` is left as it is and must exist on the cluster.
4. ``storage`` is where the results land *on the cluster*: a URI (``s3://...``, ``gs://...``; any
   pyarrow file system) or an absolute path is passed unchanged — a multi-node cluster needs one
   every node shares (NFS or a bucket); ``~`` is expanded on the cluster. A relative path is
   refused (it would land inside the job's temporary working folder). The default is
   ``DEFAULT_STORAGE``, the home folder of the user running the cluster (right for one node).
5. A job ends ``SUCCEEDED`` (exit status 0) or ``FAILED``/``STOPPED`` (exit status 1).
6. **Which Python runs the job**: Ray Jobs runs the entrypoint in a shell on the head, so ``python``
   is the first one on the ``PATH`` the head was started with (``ray start --head`` from a
   virtualenv's ``bin/ray`` without activating it finds the system's ``python``). Before submitting,
   :func:`~tune_bs.search.cluster_python.check_cluster_python` runs a check job with that same
   ``python`` that reports its path, version and which of
   :data:`~tune_bs.search.cluster_python.REQUIRED_MODULES` it lacks; a lacking interpreter is
   refused in one line naming it and the fix, and ``submit`` prints the one the job will use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tune_bs.errors import UserInputError
from tune_bs.search.cluster_python import ClusterPython, check_cluster_python
from tune_bs.search.job_spec import (
    EXIT_STATUS,
    build_entrypoint,
    job_storage,
    runtime_env,
    stage_space,
)
from tune_bs.search.job_submit import submit_when_ready

if TYPE_CHECKING:
    from ray.job_submission import JobSubmissionClient

    from tune_bs.search.experiment import RunOptions

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
#: the metadata key, stored with a submitted job, that ``job_state`` reads its results path from
RESULTS_KEY = "tune_bs_results"
_ENV_OVERRIDES = ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS")


@dataclass(frozen=True)
class Submission:
    """A submitted job: its id, the cluster's dashboard URL, the entrypoint, the results path,
    and the interpreter it runs with."""

    job_id: str
    address: str
    entrypoint: str
    results: str
    python: ClusterPython | None = None


@dataclass(frozen=True)
class JobState:
    """What the cluster says about a job (times in seconds since the epoch, or None)."""

    job_id: str
    status: str
    message: str
    entrypoint: str
    results: str | None
    start_time: float | None
    end_time: float | None

    def describe(self) -> str:
        """Multi-line summary: status and message, times, results path, entrypoint."""
        lines = [f"{self.job_id}: {self.status}" + (f" — {self.message}" if self.message else "")]
        if self.start_time is not None:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.start_time))
            ran = (self.end_time or time.time()) - self.start_time
            lines.append(
                f"  started {stamp}, {'ran' if self.end_time else 'running for'} {ran:.0f} s"
            )
        if self.results:
            lines.append(f"  results (on the cluster): {self.results}")
        lines.append(f"  entrypoint: {self.entrypoint}")
        return "\n".join(lines)


def dashboard_url(address: str) -> str:
    """``address`` as the dashboard URL ``http(s)://HOST:PORT`` (rule 1), or a UserInputError."""
    text = address.strip().rstrip("/")
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("http", "https") or not parts.hostname or port is None:
        raise UserInputError(
            f"--address must be the Ray dashboard's URL http://HOST:PORT, but got --address "
            f"{address!r}; give e.g. --address http://HOST:8265 (the head's dashboard port)."
        )
    return text


@contextlib.contextmanager
def _without_env(names: tuple[str, ...]) -> Iterator[None]:
    saved = {n: os.environ.pop(n) for n in names if n in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _authentication_error() -> type[Exception] | tuple[()]:
    """Ray's error for a missing or refused token (older Rays have no token authentication)."""
    try:
        from ray.exceptions import AuthenticationError
    except ImportError:
        return ()
    return AuthenticationError


def connect(address: str) -> JobSubmissionClient:
    """A Ray Jobs client for the cluster whose dashboard is at ``address`` (rule 1)."""
    from ray.job_submission import JobSubmissionClient

    refused_token = _authentication_error()

    url = dashboard_url(address)
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise _unreachable(address, exc.strerror or str(exc) or type(exc).__name__) from None
    try:
        with _without_env(_ENV_OVERRIDES):
            return JobSubmissionClient(url)
    except refused_token:
        raise _auth_error(address) from None
    except ConnectionError as exc:
        raise _unreachable(address, str(exc).splitlines()[0]) from None
    except RuntimeError as exc:
        raise UserInputError(
            f"--address {address!r} answers but not as a Ray dashboard "
            f"({str(exc).splitlines()[0]}); give the head's dashboard URL, e.g. "
            "http://HOST:8265."
        ) from None


def _unreachable(address: str, reason: str) -> UserInputError:
    return UserInputError(
        f"--address {address!r} cannot be reached ({reason}); start a Ray head there with its "
        "dashboard on that port (`ray start --head --dashboard-host 0.0.0.0`), or fix --address "
        "(the dashboard URL, e.g. http://HOST:8265)."
    )


def _auth_error(address: str) -> UserInputError:
    return UserInputError(
        f"the Ray cluster at --address {address!r} requires token authentication; set "
        "RAY_AUTH_MODE=token and give the cluster's token in RAY_AUTH_TOKEN or ~/.ray/auth_token."
    )


def submit_run(
    space_path: str | Path,
    address: str,
    storage: str | None = None,
    name: str | None = None,
    options: RunOptions | None = None,
    debug: bool = False,
    check_python: bool = True,
) -> Submission:
    """Validate the search space here, check the cluster's ``python`` (rule 6, unless
    ``check_python`` is false), then submit its ``run`` to the cluster at ``address``."""
    from tune_bs.search.experiment import RunOptions, experiment_name
    from tune_bs.search.space import load_space

    options = options or RunOptions()
    space_path = Path(space_path)
    space = load_space(space_path)  # the first problem is reported here, not in the job's log
    storage = job_storage(storage)
    name = experiment_name(space, name, options)
    client = connect(address)
    python = check_cluster_python(client, address) if check_python else None
    job_id = "tune_bs_" + re.sub(r"[^A-Za-z0-9_-]+", "_", name)[:40] + "_" + uuid.uuid4().hex[:8]
    results = storage.rstrip("/") + "/" + name
    with tempfile.TemporaryDirectory(prefix="tune_bs_job_") as staging:
        space_file = stage_space(space_path, Path(staging))
        entrypoint = build_entrypoint(space_file, storage, name, options, debug)
        try:
            submit_when_ready(
                client,
                entrypoint=entrypoint,
                submission_id=job_id,
                runtime_env=runtime_env(Path(staging)),
                metadata={RESULTS_KEY: results},
            )
        except RuntimeError as exc:
            raise UserInputError(
                f"the Ray cluster at --address {address!r} refused the job "
                f"({str(exc).splitlines()[0]}); check `ray status` on the head and retry."
            ) from None
    return Submission(job_id, dashboard_url(address), entrypoint, results, python)


def follow_hint(job_id: str, address: str) -> str:
    """How to follow a job with ``tune-bs`` and with Ray's own ``ray job`` commands."""
    url = dashboard_url(address)
    return (
        f"  follow it:  tune-bs status {job_id} --address {url}\n"
        f"              tune-bs logs {job_id} --address {url} [--follow]\n"
        f"  with Ray:   ray job status {job_id} --address {url}\n"
        f"              ray job logs {job_id} --address {url} --follow\n"
        f"  stop it:    ray job stop {job_id} --address {url}"
    )


def _job_call(client: Any, method: str, job_id: str, address: str) -> Any:
    refused_token = _authentication_error()
    try:
        return getattr(client, method)(job_id)
    except refused_token:
        raise _auth_error(address) from None
    except RuntimeError as exc:
        text = str(exc)
        if "404" in text or "does not exist" in text:
            raise UserInputError(
                f"job {job_id!r} does not exist on the Ray cluster at --address {address!r}; "
                f"list its jobs with `ray job list --address {dashboard_url(address)}`."
            ) from None
        raise


def job_state(job_id: str, address: str) -> JobState:
    """The job's status, message, times and results path."""
    info = _job_call(connect(address), "get_job_info", job_id, address)
    metadata = info.metadata or {}
    return JobState(
        job_id=job_id,
        status=str(info.status),
        message=info.message or "",
        entrypoint=info.entrypoint,
        results=metadata.get(RESULTS_KEY),
        start_time=info.start_time / 1000 if info.start_time else None,
        end_time=info.end_time / 1000 if info.end_time else None,
    )


def job_logs(job_id: str, address: str) -> str:
    """Everything the job has printed so far."""
    return _job_call(connect(address), "get_job_logs", job_id, address)


def follow_job(
    job_id: str, address: str, out: IO[str] | None = None, poll_s: float = 1.0
) -> JobState:
    """Stream the job's logs to ``out`` until it ends; return its final state.

    The logs come from Ray's websocket tail; if that stream breaks, the rest is polled with
    ``get_job_logs`` every ``poll_s`` seconds (nothing is printed twice).
    """
    out = out or sys.stdout
    logging.getLogger("ray.dashboard.modules.job.sdk").setLevel(logging.WARNING)  # "closed" notes
    client = connect(address)
    _job_call(client, "get_job_status", job_id, address)  # an unknown id fails here, in one line
    printed = 0

    async def tail() -> None:
        nonlocal printed
        async for chunk in client.tail_job_logs(job_id):
            out.write(chunk)
            out.flush()
            printed += len(chunk)

    try:
        asyncio.run(tail())
    except Exception as exc:  # the stream is a convenience: any failure falls back to polling
        logger.warning(
            "the log stream broke (%s); polling the job's logs until it ends.",
            str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
        )
    while True:
        status = str(_job_call(client, "get_job_status", job_id, address))
        logs = _job_call(client, "get_job_logs", job_id, address)
        if len(logs) > printed:
            out.write(logs[printed:])
            out.flush()
            printed = len(logs)
        if status in EXIT_STATUS:
            return job_state(job_id, address)
        time.sleep(poll_s)


def exit_status(state: JobState) -> int:
    """0 for a SUCCEEDED job, 1 for FAILED or STOPPED (rule 5)."""
    return EXIT_STATUS.get(state.status, 1)
