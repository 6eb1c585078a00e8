"""A Ray cluster of several nodes on this machine, with an S3-compatible object store: for trying
tune-bs as on a real cluster, for the multi-node tests and for ``benchmarks/cluster_scale.py``.

What it starts, every process on 127.0.0.1 with explicit free ports and in its own session
(``setsid``), so that it is stopped by the process ids recorded here, never by name:

- a ``moto_server`` (``pip install "moto[server]"``): the S3 API, with one bucket created; Ray
  and pyarrow reach it through ``AWS_ENDPOINT_URL`` (plus dummy ``AWS_ACCESS_KEY_ID`` /
  ``AWS_SECRET_ACCESS_KEY``), so ``--storage s3://BUCKET/PREFIX`` works as on a cloud;
- a Ray head with ``--num-cpus=0`` (it runs drivers and the switch board, no trials);
- worker nodes (default two, one CPU each, fake GPUs allowed), started one after the other
  (two ``ray start`` at once can time out on a 2-core machine).

Every node gets the same environment: the object store's endpoint and keys,
``RAY_AUTH_MODE=token`` when ``~/.ray/auth_token`` exists (a head turns token authentication on
by itself then), ``RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S=0`` (a node stops in seconds).
:meth:`LocalCluster.env` is the environment a client (``tune-bs run --address``, ``tune-bs
submit``, ``tune-bs report s3://...``) needs.

Rules: :meth:`LocalCluster.stop` sends SIGTERM to each process this object started, then SIGKILL
to what is left of its process group after ``STOP_TIMEOUT_S``; :meth:`LocalCluster.kill_worker`
SIGKILLs one worker node's process group (its raylet and its trial workers: a node loss). The
temporary folder (Ray's session files, logs, the object store's data) is removed on stop.

Usage::

    python benchmarks/local_cluster.py            # start; print the addresses; Ctrl-C stops it
    python benchmarks/local_cluster.py --workers 3 --cpus-per-worker 1 --gpus-per-worker 1

then, in another shell, with the printed ``export`` lines::

    tune-bs run search_spaces/switching.yaml --address 127.0.0.1:GCS_PORT \\
        --storage s3://tune-bs/results
    tune-bs report s3://tune-bs/results/switching

From Python (the tests do this)::

    with LocalCluster(workers=2) as cluster:
        env = cluster.env()   # for subprocesses; cluster.gcs_address for ray.init
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

#: Seconds to wait for a node or the object store to come up.
START_TIMEOUT_S = 120.0
#: Seconds a process group gets after SIGTERM before it is SIGKILLed.
STOP_TIMEOUT_S = 20.0
DEFAULT_BUCKET = "tune-bs"
#: Credentials the local object store accepts (it accepts any); Ray and pyarrow need some.
S3_KEYS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
#: Ports a Ray node needs besides the GCS port (the head's) and the dashboard's.
NODE_PORTS = (
    "--node-manager-port",
    "--object-manager-port",
    "--dashboard-agent-listen-port",
    "--dashboard-agent-grpc-port",
    "--runtime-env-agent-port",
    "--metrics-export-port",
)


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports free on 127.0.0.1 right now (bound to port 0, then released)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def auth_mode() -> str:
    """``token`` where a local token exists (a head turns authentication on then), else
    ``disabled``."""
    has_token = (Path.home() / ".ray" / "auth_token").is_file() or os.environ.get("RAY_AUTH_TOKEN")
    return "token" if has_token else "disabled"


def _executable(name: str) -> str:
    """``name`` next to this interpreter (a virtualenv's ``ray``), else from ``PATH``."""
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(
            f"{name} is not installed; pip install 'ray[default,tune]' 'moto[server]'."
        )
    return found


@dataclass
class Process:
    """A process this cluster started in its own session (its process group id = its pid)."""

    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        """True while any process of its group is left (the leader reaped first: a zombie
        still counts as a group member)."""
        self.popen.poll()
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM to the process (``ray start`` then stops its node: SIGTERM to the whole group
        is slower), then SIGKILL to whatever is left of its group after ``timeout_s``."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.alive():
            time.sleep(0.2)
        self.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def spawn(name: str, argv: list[str], folder: Path, env: dict[str, str]) -> Process:
    """Start ``argv`` in its own session (``setsid``), its output in ``folder/<name>.log``."""
    log = folder / f"{name}.log"
    with open(log, "w") as out:
        popen = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Process(name, popen, log)


@dataclass
class ObjectStore:
    """An S3-compatible server (``moto_server``) on 127.0.0.1 with one bucket (module rules).

    Args:
        folder: where its log goes.
        bucket: the bucket created at start (3+ characters).
    """

    folder: Path
    bucket: str = DEFAULT_BUCKET
    port: int = field(init=False, default=0)
    process: Process | None = field(init=False, default=None)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """What Ray and pyarrow need to reach it: ``AWS_ENDPOINT_URL`` and keys."""
        return {"AWS_ENDPOINT_URL": self.endpoint, **S3_KEYS}

    def uri(self, prefix: str) -> str:
        """``s3://BUCKET/PREFIX``."""
        return f"s3://{self.bucket}/{prefix.strip('/')}"

    def start(self) -> ObjectStore:
        """Start the server and create the bucket (waits for both)."""
        (self.port,) = free_ports(1)
        argv = [_executable("moto_server"), "-H", "127.0.0.1", "-p", str(self.port)]
        self.process = spawn("s3", argv, self.folder, {**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                request = urllib.request.Request(f"{self.endpoint}/{self.bucket}", method="PUT")
                with urllib.request.urlopen(request, timeout=5):
                    return self
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                if self.process.popen.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"the S3 server did not start ({exc}):\n{self.process.tail()}"
                    ) from None
                time.sleep(0.3)

    def stop(self) -> None:
        """Stop the server by its process id (its data is in memory: gone)."""
        if self.process is not None:
            self.process.stop()


@dataclass
class LocalCluster:
    """A head (no CPUs), ``workers`` worker nodes and an S3 server on 127.0.0.1 (module rules).

    Args:
        workers: worker nodes to start.
        cpus_per_worker: CPUs each worker node declares (trials request CPUs, so this is how
            many trials run on a node at once).
        gpus_per_worker: (fake) GPUs each worker node declares; a trial that gets one and finds
            no CUDA trains on the CPU.
        bucket: the bucket created in the object store.
        dashboard: start the head's dashboard (needed for Ray Jobs, ``tune-bs submit``).
        object_store_mb: each node's object store, in MiB.
        node_env: environment variables for the nodes on top of this process's (e.g. the
            ``PATH`` a head is started with, which decides the ``python`` of Ray jobs).
    """

    workers: int = 2
    cpus_per_worker: int = 1
    gpus_per_worker: int = 0
    bucket: str = DEFAULT_BUCKET
    dashboard: bool = False
    object_store_mb: int = 300
    node_env: dict[str, str] = field(default_factory=dict)
    temp_dir: Path = field(init=False)
    gcs_port: int = field(init=False, default=0)
    dashboard_port: int = field(init=False, default=0)
    s3: ObjectStore | None = field(init=False, default=None)
    head: Process | None = field(init=False, default=None)
    worker_nodes: list[Process] = field(init=False, default_factory=list)
    _mode: str = field(init=False, default="disabled")

    # --- addresses and environment --------------------------------------------------------------
    @property
    def gcs_address(self) -> str:
        """``127.0.0.1:PORT``: what ``ray.init(address=...)`` and ``tune-bs run --address`` take."""
        return f"127.0.0.1:{self.gcs_port}"

    @property
    def dashboard_url(self) -> str:
        """The Ray Jobs address (``tune-bs submit --address``), when the dashboard runs."""
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def s3_endpoint(self) -> str:
        assert self.s3 is not None, "start() first"
        return self.s3.endpoint

    def storage(self, prefix: str) -> str:
        """``s3://BUCKET/PREFIX``: a ``--storage`` every node shares."""
        assert self.s3 is not None, "start() first"
        return self.s3.uri(prefix)

    def cluster_env(self) -> dict[str, str]:
        """The variables every node and client of this cluster needs (module rules)."""
        assert self.s3 is not None, "start() first"
        return {**self.s3.env(), "RAY_AUTH_MODE": self._mode}

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default ``os.environ``) for a client of this cluster: the object store's
        endpoint and keys, the authentication mode; no ``RAY_ADDRESS`` left over."""
        env = dict(os.environ if base is None else base)
        for name in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS"):
            env.pop(name, None)
        env.update(self.cluster_env())
        return env

    def exports(self) -> str:
        """Shell ``export`` lines for a client of this cluster."""
        lines = [f"export {k}={v}" for k, v in self.cluster_env().items()]
        return "\n".join(lines)

    # --- start and stop ------------------------------------------------------------------------
    def start(self) -> LocalCluster:
        """Start the object store, the head and the workers; stop everything if any fails."""
        self.temp_dir = Path(tempfile.mkdtemp(prefix="tbs-cl-", dir="/tmp"))  # short socket paths
        self._mode = auth_mode()
        try:
            self.s3 = ObjectStore(self.temp_dir, self.bucket).start()
            self._start_head()
            for _ in range(self.workers):
                self.add_worker()
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, argv: list[str]) -> Process:
        env = {
            **self.env(),
            **self.node_env,
            "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
            "RAY_USAGE_STATS_ENABLED": "0",
            "PYTHONUNBUFFERED": "1",
        }
        return spawn(name, argv, self.temp_dir, env)

    def _node_argv(self, ports: list[int]) -> list[str]:
        argv = [
            _executable("ray"),
            "start",
            "--node-ip-address",
            "127.0.0.1",
            "--object-store-memory",
            str(self.object_store_mb * 1024 * 1024),
            "--disable-usage-stats",
            "--block",
        ]
        for flag, port in zip(NODE_PORTS, ports, strict=True):
            argv += [flag, str(port)]
        return argv

    def _start_head(self) -> None:
        ports = free_ports(len(NODE_PORTS) + 3)
        self.gcs_port, self.dashboard_port, client_port = ports[:3]
        argv = [
            *self._node_argv(ports[3:]),
            "--head",
            "--port",
            str(self.gcs_port),
            "--num-cpus",
            "0",
            "--num-gpus",
            "0",
            "--temp-dir",
            str(self.temp_dir),
            "--ray-client-server-port",
            str(client_port),
            "--include-dashboard",
            "true" if self.dashboard else "false",
        ]
        if self.dashboard:
            argv += ["--dashboard-host", "127.0.0.1", "--dashboard-port", str(self.dashboard_port)]
        self.head = self._spawn("head", argv)
        self._wait(lambda: self.status()[0] >= 1, "the head", self.head)

    def add_worker(self) -> Process:
        """Start one more worker node and wait until the cluster counts it."""
        ports = free_ports(len(NODE_PORTS))
        name = f"worker{len(self.worker_nodes) + 1}"
        argv = [
            *self._node_argv(ports),
            "--address",
            self.gcs_address,
            "--num-cpus",
            str(self.cpus_per_worker),
            "--num-gpus",
            str(self.gpus_per_worker),
        ]
        node = self._spawn(name, argv)
        self.worker_nodes.append(node)
        self.wait_for_cpus(node)
        return node

    def status(self) -> tuple[int, float]:
        """``(active nodes, total CPUs)`` as ``ray status`` counts them; ``(-1, -1)`` when it
        cannot answer."""
        argv = [_executable("ray"), "status", "--address", self.gcs_address]
        try:
            done = subprocess.run(argv, env=self.env(), capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            return -1, -1.0
        if done.returncode != 0 or "Active:" not in done.stdout:
            return -1, -1.0
        active = done.stdout.split("Active:", 1)[1].split("Pending:", 1)[0]
        nodes = sum(
            int(line.split()[0])
            for line in active.splitlines()
            if line.strip() and line.split()[0].isdigit()
        )
        cpus = 0.0
        for line in done.stdout.splitlines():
            words = line.split()
            if len(words) == 2 and words[1] == "CPU" and "/" in words[0]:
                cpus = float(words[0].split("/")[1])
        return nodes, cpus

    def wait_for_cpus(self, process: Process | None = None) -> None:
        """Wait until the cluster's CPUs are those of the worker nodes alive (a killed node's
        are gone, a new node's are there)."""
        want = self.cpus_per_worker * sum(w.alive() for w in self.worker_nodes)
        self._wait(lambda: self.status()[1] == want, f"{want} CPUs", process)

    def _wait(self, ready: Callable[[], bool], what: str, process: Process | None) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if process is not None and process.popen.poll() is not None:
                raise RuntimeError(
                    f"{process.name} exited with {process.popen.returncode}:\n{process.tail()}"
                )
            if ready():
                return
            time.sleep(1.0)
        tail = process.tail() if process is not None else ""
        raise RuntimeError(f"the cluster did not count {what} within {START_TIMEOUT_S} s:\n{tail}")

    def kill_worker(self, index: int = 0) -> Process:
        """SIGKILL worker node ``index``'s process group: its raylet and its trial workers (Ray
        notices the node's loss some seconds later: :meth:`wait_for_cpus`)."""
        node = self.worker_nodes[index]
        node.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            node.popen.wait(timeout=10)
        return node

    def stop(self) -> None:
        """Stop every process this cluster started (workers, head, object store), by process
        id, and remove its temporary folder."""
        for process in [*reversed(self.worker_nodes), self.head]:
            if process is not None:
                process.stop()
        if self.s3 is not None:
            self.s3.stop()
        shutil.rmtree(getattr(self, "temp_dir", ""), ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cpus-per-worker", type=int, default=1)
    parser.add_argument("--gpus-per-worker", type=int, default=0)
    parser.add_argument("--bucket", default=DEFAULT_BUCKET)
    parser.add_argument(
        "--no-dashboard",
        action="store_true",
        help="no dashboard on the head (no Ray Jobs; saves memory)",
    )
    args = parser.parse_args(argv)
    cluster = LocalCluster(
        workers=args.workers,
        cpus_per_worker=args.cpus_per_worker,
        gpus_per_worker=args.gpus_per_worker,
        bucket=args.bucket,
        dashboard=not args.no_dashboard,
    )
    started = time.monotonic()
    with cluster:
        print(
            f"cluster up in {time.monotonic() - started:.0f} s: head + {args.workers} workers, "
            f"S3 at {cluster.s3_endpoint}, bucket {cluster.bucket}\n"
            f"# for clients, in another shell:\n{cluster.exports()}\n"
            f"tune-bs run SPACE --address {cluster.gcs_address} "
            f"--storage {cluster.storage('results')}\n"
            + (
                f"tune-bs submit SPACE --address {cluster.dashboard_url} "
                f"--storage {cluster.storage('results')}\n"
                if cluster.dashboard
                else ""
            )
            + "process ids: "
            + ", ".join(
                f"{p.name}={p.pid}"
                for p in [cluster.s3.process, cluster.head, *cluster.worker_nodes]
                if p is not None
            )
            + "\nCtrl-C stops it.",
            flush=True,
        )
        signal.signal(signal.SIGTERM, _interrupt)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
