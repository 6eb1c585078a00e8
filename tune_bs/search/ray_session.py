"""The Ray a run uses: a local one, or the cluster at ``--address``; and whether a trial fits it.

Rules:

1. ``--address`` is probed before ``ray.init`` (:func:`check_reachable`): an address nothing
   listens on is a one-line error at once, instead of minutes of retries.
2. Without ``--address`` a local Ray is started (``address="local"``: never a head that happens
   to run on this machine); a Ray already initialised in this process is used as it is.
3. **A trial must fit on one node** (:func:`check_trial_fits`): a trial whose CPUs, GPUs or
   memory exceed what every live node has would wait forever as ``PENDING``; it is refused
   before any trial starts, with one line giving what it asks for and the largest node. Nodes
   an autoscaler could still add are not counted: on an autoscaling cluster, start the node
   type the trials need first.
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from tune_bs.errors import UserInputError

#: Seconds to wait for a cluster address to accept a connection before giving up.
CONNECT_TIMEOUT_S = 3.0
#: A trial's resource names (tune-bs's, lower case) and Ray's names for them.
RAY_RESOURCE = {"cpu": "CPU", "gpu": "GPU", "memory": "memory"}
_GIB = 1024**3


def check_reachable(address: str) -> None:
    """Refuse a ``HOST:PORT`` / ``ray://HOST:PORT`` address nothing listens on, at once (rule 1).

    ``ray.init`` would otherwise retry an unreachable GCS for minutes, printing C++ warnings.
    """
    if address in ("auto", "local"):
        return
    parts = urlsplit(address if "://" in address else f"ray://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or port is None:
        raise UserInputError(
            f"--address must be HOST:PORT, ray://HOST:PORT or auto, but got --address "
            f"{address!r}; give e.g. --address ray://HOST:10001 or HOST:6379."
        )
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise UserInputError(
            f"--address {address!r} cannot be reached ({reason}); "
            "check that a Ray head runs there (`ray status --address ...`) or drop --address."
        ) from None


def ensure_ray(address: str | None) -> None:
    """Connect to ``address`` or start a local Ray (rule 2), unless Ray is initialised."""
    import ray

    if ray.is_initialized():
        return
    if address:
        check_reachable(address)
    on_sigterm = _sigterm_handler()
    try:
        ray.init(
            address=address or "local",
            include_dashboard=False,
            log_to_driver=True,
            configure_logging=False,
        )
    except (ConnectionError, ValueError, RuntimeError) as exc:
        if address:
            raise UserInputError(
                f"--address {address!r} cannot be reached ({str(exc).splitlines()[0]}); check "
                "that a Ray head runs there (`ray status --address ...`) or drop --address."
            ) from None
        raise
    finally:
        _restore_sigterm(on_sigterm)


def _sigterm_handler() -> Any:
    """The process's SIGTERM handler, or ``None`` outside the main thread (none can be set)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.getsignal(signal.SIGTERM)


def _restore_sigterm(handler: Any) -> None:
    """Put back the Python SIGTERM handler ``ray.init`` replaced (the CLI's: a process with none
    keeps Ray's). Ray's exits with status 15 wherever it lands; tune-bs's own
    (:mod:`tune_bs.search.interrupt`) stops the run, keeps every checkpoint and exits with 143 —
    also when the signal comes after the trials ended, while the run prunes or prints its
    summary."""
    if callable(handler) and signal.getsignal(signal.SIGTERM) is not handler:
        signal.signal(signal.SIGTERM, handler)


def _amount(name: str, value: float) -> str:
    if name == "memory":
        return f"{value / _GIB:.1f} GiB memory"
    unit = name.upper() + ("s" if value != 1 else "")
    return f"{value:g} {unit}"


def describe(resources: Mapping[str, float]) -> str:
    """``"64 CPUs, 0 GPUs"`` for tune-bs resource names (memory in bytes)."""
    return ", ".join(_amount(name, float(resources.get(name, 0))) for name in resources)


def unmet(request: Mapping[str, float], nodes: Sequence[Mapping[str, float]]) -> dict | None:
    """The largest node (tune-bs names: ``cpu``, ``gpu``, ``memory``) when no node of ``nodes``
    (Ray's resource dicts: ``CPU``, ``GPU``, ``memory``) has every amount of ``request``;
    ``None`` when one has. The largest is the one with the most of the first resource that
    falls short, then of the others."""
    asked = {k: float(v) for k, v in request.items() if float(v) > 0}
    have = [{k: float(node.get(RAY_RESOURCE[k], 0.0)) for k in RAY_RESOURCE} for node in nodes]
    if any(all(node[k] >= v for k, v in asked.items()) for node in have):
        return None
    if not have:
        return {k: 0.0 for k in RAY_RESOURCE}
    short = next(
        (k for k in RAY_RESOURCE if k in asked and max(n[k] for n in have) < asked[k]),
        next(iter(asked)),
    )
    order = [short, *(k for k in RAY_RESOURCE if k != short)]
    return max(have, key=lambda node: tuple(node[k] for k in order))


def live_nodes() -> list[dict[str, float]]:
    """The resources of every live node of the connected Ray."""
    import ray

    return [dict(node.get("Resources", {})) for node in ray.nodes() if node.get("Alive")]


def check_trial_fits(request: Mapping[str, Any], address: str | None) -> None:
    """Refuse a trial no live node can hold (rule 3), in one line."""
    asked = {k: float(v) for k, v in request.items() if k in RAY_RESOURCE and v is not None}
    largest = unmet(asked, live_nodes())
    if largest is None:
        return
    where = f"the Ray cluster at --address {address!r}" if address else "this machine's Ray"
    shown = {k: largest[k] for k in RAY_RESOURCE if k in asked or k != "memory"}
    fixes = [
        f"{flag} (or resources.{k}) to at most {largest[k]:g}"
        for k, flag in (("cpu", "--cpus-per-trial"), ("gpu", "--gpus-per-trial"))
        if asked.get(k, 0) > largest[k]
    ]
    fix = ("lower " + " and ".join(fixes) + ", or ") if fixes else ""
    raise UserInputError(
        f"a trial asks for {describe(asked)}, but no node of {where} has that much: the "
        f"largest has {describe(shown)}; {fix}run on a cluster whose nodes are that large "
        "(--address; nodes an autoscaler could add are not counted)."
    )
