"""One live run per experiment folder: a lock file that names its holder.

``tune-bs run`` and ``tune-bs resume`` hold :data:`LOCK_FILE` in the experiment folder while
they run (:class:`ExperimentLock`); it is JSON naming the holder: host, process id, the process's
start (to tell a reused process id apart), when it started, and a heartbeat the holder rewrites
every :data:`HEARTBEAT_S` seconds.

Rules:

1. A lock whose holder is alive refuses the second run or resume with one line naming the
   holder (host, pid, start time) and the fix.
2. On the same host, a holder whose process is gone (or whose process id now belongs to another
   process) is stale: its lock is taken over with a warning naming it.
3. On another host the process cannot be checked: its lock is stale once its heartbeat is older
   than :data:`STALE_AFTER_S` (a live holder refreshes it far more often); until then the run is
   refused, and the message says when the lock will count as stale and how to remove it by hand
   when the user knows that run has ended. A lock file that cannot be read as a lock is stale.
4. Taking the lock: on a local disk it is created exclusively (``O_EXCL``), and a stale lock is
   first renamed away, so of two runs that start together exactly one gets it. An object store
   (``s3://``) has no exclusive create: the lock is written, read back after
   :data:`SETTLE_S` seconds, and kept only if it still holds this run's token (of two runs
   that write within that time, the last writer keeps it and the other is refused).
5. The lock is removed when the run or resume ends, however it ends, unless another run has
   taken it over meanwhile. A driver killed with SIGKILL leaves its lock: rule 2 or 3 applies.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow

from tune_bs.errors import UserInputError
from tune_bs.search.storage import Location

logger = logging.getLogger(__name__)

LOCK_FILE = "tune_bs.lock"
#: Seconds between two heartbeats of a live holder.
HEARTBEAT_S = 30.0
#: Seconds without a heartbeat after which another host's lock is stale (rule 3).
STALE_AFTER_S = 600.0
#: Seconds between writing a lock to an object store and reading it back (rule 4).
SETTLE_S = 1.0


@dataclass(frozen=True)
class Holder:
    """Who holds a lock. ``started`` and ``heartbeat`` are Unix seconds; ``process_start`` is
    the process's start in the kernel's clock ticks since boot (Linux), or ``None``."""

    host: str
    pid: int
    started: float
    process_start: int | None
    token: str
    command: str
    heartbeat: float

    def describe(self) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return f"`tune-bs {self.command}` on host {self.host}, pid {self.pid}, started {stamp}"

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        """The holder a lock file names, or ``None`` when it is not a lock file."""
        try:
            raw = json.loads(text)
            holder = cls(
                host=str(raw["host"]),
                pid=int(raw["pid"]),
                started=float(raw["started"]),
                process_start=_int_or_none(raw.get("process_start")),
                token=str(raw["token"]),
                command=str(raw.get("command", "run")),
                heartbeat=float(raw.get("heartbeat", raw["started"])),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        return holder


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, from ``/proc``), or ``None`` when
    that cannot be read (no such process, or not Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def stale_reason(holder: Holder, now: float, host: str) -> str | None:
    """Why ``holder``'s lock is stale (rules 2, 3), or ``None`` while it counts as live."""
    if holder.host == host:
        if not _alive(holder.pid):
            return "its process is gone"
        started = process_start(holder.pid)
        if None not in (holder.process_start, started) and started != holder.process_start:
            return "its process is gone (the process id now belongs to another process)"
        return None
    age = now - holder.heartbeat
    if age > STALE_AFTER_S:
        return f"its last heartbeat is {age / 60:.0f} min old"
    return None


class ExperimentLock:
    """The lock of one experiment folder (module rules); a context manager."""

    def __init__(self, folder: Location, command: str) -> None:
        self.folder = folder
        self.command = command
        self.holder: Holder | None = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    @property
    def uri(self) -> str:
        return f"{self.folder.uri}/{LOCK_FILE}"

    def __enter__(self) -> ExperimentLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def _new_holder(self) -> Holder:
        now = time.time()
        return Holder(
            host=socket.gethostname(),
            pid=os.getpid(),
            started=now,
            process_start=process_start(os.getpid()),
            token=secrets.token_hex(8),
            command=self.command,
            heartbeat=now,
        )

    def _read(self) -> tuple[bool, Holder | None]:
        """``(a lock file exists, its holder or None when unreadable)``."""
        try:
            text = self.folder.read_text(LOCK_FILE)
        except (FileNotFoundError, NotADirectoryError):
            return False, None
        except (OSError, UnicodeDecodeError, pyarrow.ArrowException):
            return self.folder.is_file(LOCK_FILE), None
        return True, Holder.parse(text)

    def acquire(self, attempts: int = 5) -> None:
        """Take the lock (rules 1-4) and start the heartbeat."""
        me = self._new_holder()
        for _ in range(attempts):
            exists, holder = self._read()
            if exists:
                reason = "it is not a tune-bs lock" if holder is None else None
                reason = reason or stale_reason(holder, time.time(), me.host)  # type: ignore[arg-type]
                if reason is None:
                    raise self._busy(holder, me.host)  # type: ignore[arg-type]
                logger.warning(
                    "tune-bs: taking over the lock %s of %s: %s.",
                    self.uri,
                    holder.describe() if holder else "an unknown run",
                    reason,
                )
            try:
                taken = self._write_new(me, replace=exists)
            except (OSError, pyarrow.ArrowException) as exc:
                raise UserInputError(
                    f"the lock file {self.uri} cannot be written ({str(exc).splitlines()[0]}); "
                    f"`tune-bs {self.command}` needs write access to the experiment folder."
                ) from None
            if taken:
                self.holder = me
                self._start_heartbeat()
                return
        raise UserInputError(
            f"{self.folder.uri} is being taken by another tune-bs run at the same moment; "
            "wait for it, or give another --name."
        )

    def _busy(self, holder: Holder, host: str) -> UserInputError:
        if holder.host == host:
            fix = (
                f"wait for it to end, or stop it (`kill -INT {holder.pid}`) and resume (if that "
                f"process is no tune-bs run, delete {self.uri})"
            )
        else:
            left = max(0.0, STALE_AFTER_S - (time.time() - holder.heartbeat))
            fix = (
                f"wait for it to end; it counts as gone {left / 60:.0f} min after its last "
                f"heartbeat, or delete {self.uri} if you know that run has ended"
            )
        return UserInputError(
            f"{self.folder.uri} is in use by {holder.describe()}; one run at a time may use an "
            f"experiment folder: {fix}, or give another --name."
        )

    def _write_new(self, me: Holder, replace: bool) -> bool:
        text = json.dumps(asdict(me))
        local = self.folder.local_path
        if local is not None:
            path = local / LOCK_FILE
            if replace:  # rule 4: rename the stale lock away; one racer wins the rename
                try:
                    os.rename(path, local / f".{LOCK_FILE}.stale-{me.token}")
                except FileNotFoundError:
                    return False
                with contextlib.suppress(OSError):
                    os.unlink(local / f".{LOCK_FILE}.stale-{me.token}")
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "w") as out:
                out.write(text)
            return True
        self.folder.write_text(LOCK_FILE, text)
        time.sleep(SETTLE_S)
        _, holder = self._read()
        return holder is not None and holder.token == me.token

    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self._beat = threading.Thread(target=self._heartbeat, name="tune-bs-lock", daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            if not self._still_mine():
                logger.warning("tune-bs: another run took over %s; this run goes on.", self.uri)
                return
            assert self.holder is not None
            self.holder = Holder(**{**asdict(self.holder), "heartbeat": time.time()})
            with contextlib.suppress(OSError):
                self._overwrite(json.dumps(asdict(self.holder)))

    def _overwrite(self, text: str) -> None:
        local = self.folder.local_path
        if local is None:
            self.folder.write_text(LOCK_FILE, text)
            return
        tmp = local / f".{LOCK_FILE}.{secrets.token_hex(4)}"
        tmp.write_text(text)
        os.replace(tmp, local / LOCK_FILE)

    def _still_mine(self) -> bool:
        _, holder = self._read()
        return holder is not None and self.holder is not None and holder.token == self.holder.token

    def release(self) -> None:
        """Stop the heartbeat and remove the lock, if it is still this run's (rule 5)."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
        if self.holder is not None and self._still_mine():
            with contextlib.suppress(OSError):
                self.folder.delete(LOCK_FILE)
        self.holder = None
