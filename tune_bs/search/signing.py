"""Signatures of the files Ray Tune unpickles when an experiment resumes (docs/design.md §9).

``Tuner.restore`` unpickles ``tuner.pkl`` and, through the newest ``experiment_state-*.json``
(its ``CLOUDPICKLE_FALLBACK`` values), the search algorithm's state files and any callback state,
every top-level ``*.json`` and ``*.pkl`` file of the experiment folder it reads (Ray 2.60 copies
exactly those to the driver before restoring). Anyone who can write to a shared folder or bucket
could put code there that runs as the user who resumes. So tune-bs signs those files with a key
kept outside the storage, and ``tune-bs resume`` checks every one of them before Ray reads any.

Rules:

1. **The key** (:func:`signing_key`): the environment variable :data:`KEY_ENV` when set (at least
   :data:`MIN_KEY_CHARS` characters; share it between the machines of a cluster and the one that
   resumes), else the file :data:`KEY_FILE` in :func:`config_dir` (``$TUNE_BS_CONFIG_DIR``, else
   ``$XDG_CONFIG_HOME/tune-bs``, else ``~/.config/tune-bs``), created on first use with 32 random
   bytes, readable by its owner only.
2. **Which files** (:func:`needs_signature`): every top-level file of an experiment folder whose
   name ends in ``.json`` or ``.pkl``, except hidden ones (Ray reads none) and tune-bs's own
   ``tune_bs_run.json`` (parsed as plain JSON, never unpickled).
3. **The signature** is HMAC-SHA256 of the file's bytes under the key, written *inside* the file
   so that a file and its signature always travel together (one upload, one rename): a JSON
   object gets a last key :data:`JSON_FIELD`; any other file (a pickle) gets a trailer after its
   end (:data:`TRAILER`), which ``pickle.load`` never reads. The signature names the key by a
   short id, so a file signed with another key says so.
4. **Checking** (:func:`verify`) reads bytes only: nothing is parsed or unpickled. A file without
   a signature, with another key's, or whose bytes changed is refused with one line that names
   it and the override (``--trust-storage``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tune_bs.errors import UserInputError

if TYPE_CHECKING:
    from tune_bs.search.storage import Location

#: The signing key itself (text); wins over the key file. Set it alike on every machine that
#: runs or resumes a shared experiment (a cluster's head and the user's machine).
KEY_ENV = "TUNE_BS_SIGNING_KEY"
#: The folder of tune-bs's own settings, instead of ``$XDG_CONFIG_HOME/tune-bs``.
CONFIG_DIR_ENV = "TUNE_BS_CONFIG_DIR"
KEY_FILE = "signing.key"
MIN_KEY_CHARS = 32
#: The key of the signature in a signed JSON object.
JSON_FIELD = "tune_bs_signature"
#: What starts the signature trailer of a signed pickle.
TRAILER = b"\n#tune_bs_signature:"
#: tune-bs's own top-level JSON file, read with ``json.loads`` only (rule 2).
OWN_FILES = frozenset({"tune_bs_run.json"})
_SCHEME = "hmac-sha256"
_SIGNATURE = rf"{_SCHEME}:[0-9a-f]{{12}}:[0-9a-f]{{64}}"
_JSON_TAIL = re.compile(
    rb'(, )?"' + JSON_FIELD.encode() + rb'": "(' + _SIGNATURE.encode() + rb')"\}\s*\Z'
)
_TRAILER_TAIL = re.compile(re.escape(TRAILER) + rb"(" + _SIGNATURE.encode() + rb")\n\Z")


@dataclass(frozen=True)
class SigningKey:
    """The secret and where it came from (for messages)."""

    secret: bytes
    source: str

    @property
    def key_id(self) -> str:
        """12 hex digits that name the key (a hash; they reveal nothing of it)."""
        return hashlib.sha256(b"tune-bs key id\0" + self.secret).hexdigest()[:12]

    def mac(self, content: bytes) -> str:
        digest = hmac.new(self.secret, b"tune-bs/1\0" + content, hashlib.sha256).hexdigest()
        return f"{_SCHEME}:{self.key_id}:{digest}"


def config_dir() -> Path:
    """tune-bs's settings folder (rule 1)."""
    if os.environ.get(CONFIG_DIR_ENV):
        return Path(os.environ[CONFIG_DIR_ENV]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base).expanduser() / "tune-bs"


def signing_key() -> SigningKey:
    """This user's key (rule 1), created on first use; a one-line error when it cannot be."""
    text = os.environ.get(KEY_ENV)
    if text is not None:
        if len(text.strip()) < MIN_KEY_CHARS:
            raise UserInputError(
                f"{KEY_ENV} must hold at least {MIN_KEY_CHARS} characters, but holds "
                f"{len(text.strip())}; set it to a long random value, e.g. "
                '`python -c "import secrets; print(secrets.token_hex(32))"`.'
            )
        return SigningKey(text.strip().encode(), f"${KEY_ENV}")
    path = config_dir() / KEY_FILE
    try:
        return SigningKey(_read_or_create(path), str(path))
    except OSError as exc:
        raise UserInputError(
            f"tune-bs keeps the key that signs its results in {path}, which cannot be "
            f"created or read ({exc.strerror or exc}); set {CONFIG_DIR_ENV} to a folder you "
            f"can write, or {KEY_ENV} to a secret of {MIN_KEY_CHARS} or more characters."
        ) from None


def _read_or_create(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32) + "\n")
    if path.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise PermissionError(0, "others may write it; make it yours only (chmod 600)")
    secret = path.read_text(encoding="ascii").strip().encode()
    if len(secret) < MIN_KEY_CHARS:
        raise PermissionError(0, f"it holds fewer than {MIN_KEY_CHARS} characters")
    return secret


def needs_signature(name: str) -> bool:
    """Whether a top-level file of an experiment folder must be signed (rule 2)."""
    return name.endswith((".json", ".pkl")) and not name.startswith(".") and name not in OWN_FILES


def split(data: bytes) -> tuple[bytes, str | None]:
    """``(content, signature)`` of a file's bytes; ``signature`` is ``None`` when it has none."""
    found = _TRAILER_TAIL.search(data)
    if found:
        return data[: found.start()], found.group(1).decode()
    found = _JSON_TAIL.search(data)
    if found:
        head = data[: found.start()]
        if found.group(1) is None and head.rstrip() != b"{":
            return data, None
        return head + b"}", found.group(2).decode()
    return data, None


def sign(data: bytes, key: SigningKey) -> bytes:
    """``data`` (a file's bytes, signed or not) with a fresh signature under ``key`` (rule 3)."""
    content, _ = split(data)
    mac = key.mac(content).encode()
    body = content.rstrip()
    if body.startswith(b"{") and body.endswith(b"}"):
        inner = body[:-1]
        sep = b"" if inner.rstrip() == b"{" else b", "
        return inner + sep + b'"' + JSON_FIELD.encode() + b'": "' + mac + b'"}'
    return content + TRAILER + mac + b"\n"


def problem(data: bytes, key: SigningKey) -> str | None:
    """Why ``data`` is not a file signed with ``key`` (``None``: it is)."""
    content, signature = split(data)
    if signature is None:
        return "it carries no tune-bs signature"
    key_id = signature.split(":")[1]
    if key_id != key.key_id:
        return (
            f"it was signed with another key (id {key_id}; this user's key {key.source} "
            f"has id {key.key_id}: set {KEY_ENV} to the key of the machine that ran it)"
        )
    if not hmac.compare_digest(signature, key.mac(content)):
        return "its content changed after tune-bs signed it"
    return None


def sign_local_file(path: Path, key: SigningKey) -> None:
    """Sign a local file in place, atomically (a reader sees the old or the new file)."""
    data = path.read_bytes()
    if problem(data, key) is None:
        return
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_bytes(sign(data, key))
    os.replace(tmp, path)


def sign_session_files(folder: Path, session: str, key: SigningKey) -> list[str]:
    """Sign the files Ray wrote into its local staging ``folder`` for ``session`` (the state
    files named ``*-<session>.json`` / ``*-<session>.pkl``); their names."""
    signed = []
    for path in sorted(folder.glob(f"*-{session}.*")):
        if path.is_file() and needs_signature(path.name):
            sign_local_file(path, key)
            signed.append(path.name)
    return signed


class UnsignedStorage(UserInputError):
    """A file that ``Tuner.restore`` would unpickle is not one this user's tune-bs signed."""


def unsigned_error(where: str, reason: str) -> UnsignedStorage:
    return UnsignedStorage(
        f"{where} was not written by this user's tune-bs ({reason}); resuming would unpickle "
        "it, which can run code, so nothing was resumed. If you know that nobody else wrote "
        "that folder, resume it with --trust-storage."
    )


def verify_experiment(folder: Location, key: SigningKey) -> int:
    """Check every file of the experiment at ``folder`` that needs a signature (rule 4), before
    anything reads it; the number checked. Raises :class:`UnsignedStorage` for the first bad
    one, in name order."""
    checked = 0
    for name, is_file in sorted(folder.names().items()):
        if not needs_signature(name):
            continue
        if not is_file:
            raise unsigned_error(f"{folder.uri}/{name}", "it is not a file")
        reason = problem(folder.read_bytes(name), key)
        if reason is not None:
            raise unsigned_error(f"{folder.uri}/{name}", reason)
        checked += 1
    return checked


def sign_experiment(folder: Location, key: SigningKey, names: list[str] | None = None) -> list[str]:
    """Sign ``names`` (default: every file that needs a signature) of the experiment at
    ``folder`` in place, on any storage; the names of those that needed it. For files this
    process wrote (``tuner.pkl``) or that the user vouched for (``--trust-storage``)."""
    entries = folder.names()
    chosen = names if names is not None else [n for n in entries if needs_signature(n)]
    signed = []
    for name in sorted(chosen):
        if not entries.get(name):
            continue
        data = folder.read_bytes(name)
        if problem(data, key) is not None:
            folder.write_bytes(name, sign(data, key))
            signed.append(name)
    return signed
