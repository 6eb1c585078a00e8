"""Where results live: a local folder or a URI (``s3://…``, ``gs://…``, a shared NFS path).

Ray Tune writes through pyarrow file systems; so does tune-bs for its own two files, so a run
whose ``--storage`` is a URI works the same as a local one. Multi-node runs need storage every node
shares (docs/design.md §7): a URI or a shared mount. ``tune-bs resume URI`` restores from the URI
itself;
``tune-bs report URI`` reads a local copy (:func:`local_copy`). Credentials and endpoints come from
the environment, as for Ray (for S3: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, and
``AWS_ENDPOINT_URL`` for an S3-compatible server other than AWS).
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow
import pyarrow.fs as pafs

from tune_bs.errors import UserInputError
from tune_bs.search.names import check_name


@dataclass(frozen=True)
class Location:
    """A folder on a pyarrow file system: ``path`` on ``fs``, ``uri`` as Ray is given it."""

    fs: pafs.FileSystem
    path: str
    uri: str

    @classmethod
    def open(cls, storage: str | Path) -> Location:
        """A local path (made absolute, ``~`` expanded) or a URI with a scheme."""
        text = str(storage)
        if "://" in text:
            try:
                fs, path = pafs.FileSystem.from_uri(text)
            except (pyarrow.ArrowInvalid, OSError, ValueError) as exc:
                raise UserInputError(
                    f"--storage {text!r} cannot be opened ({exc}); give a local path or a URI "
                    "such as s3://bucket/results."
                ) from None
            return cls(fs, path.rstrip("/"), text.rstrip("/"))
        local = str(Path(text).expanduser().resolve())
        return cls(pafs.LocalFileSystem(), local, local)

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    @property
    def local_path(self) -> Path | None:
        """The folder as a :class:`Path` when it is local, else None."""
        return Path(self.path) if self.is_local else None

    def child(self, name: str) -> Location:
        """The folder ``name`` inside this one (:func:`check_name` refuses a name that would
        leave it)."""
        name = check_name(name)
        return Location(self.fs, f"{self.path}/{name}", f"{self.uri}/{name}")

    def display(self) -> Path | str:
        """What to show a user: a local Path, or the URI."""
        return self.local_path or self.uri

    def holds_experiment(self) -> bool:
        """True when the folder holds a Tune experiment state file."""
        selector = pafs.FileSelector(self.path, allow_not_found=True)
        return any(
            Path(info.path).name.startswith("experiment_state-")
            for info in self.fs.get_file_info(selector)
        )

    def is_file(self, name: str) -> bool:
        return self.fs.get_file_info(f"{self.path}/{name}").type == pafs.FileType.File

    def make_writable(self) -> None:
        """Create the folder and prove it can be written, or raise a one-line error."""
        probe = f"{self.path}/.tune_bs_write_check"
        try:
            self.fs.create_dir(self.path, recursive=True)
            with self.fs.open_output_stream(probe) as out:
                out.write(b"ok")
            self.fs.delete_file(probe)
        except (OSError, pyarrow.ArrowException) as exc:
            raise UserInputError(
                f"--storage {self.uri.rsplit('/', 1)[0]!r} cannot be written ({exc}); choose a "
                "folder you can write to."
            ) from None

    def exists(self) -> bool:
        """Whether the folder exists (an object store: whether anything lies under it)."""
        info = self.fs.get_file_info(self.path)
        if info.type == pafs.FileType.Directory:
            return True
        if info.type != pafs.FileType.NotFound:
            return False
        return bool(self.names())

    def names(self) -> dict[str, bool]:
        """``{name: is a file}`` of the folder's top-level entries (empty when it is absent)."""
        selector = pafs.FileSelector(self.path, allow_not_found=True)
        return {
            Path(info.path).name: info.type == pafs.FileType.File
            for info in self.fs.get_file_info(selector)
        }

    def write_bytes(self, name: str, data: bytes) -> None:
        with self.fs.open_output_stream(f"{self.path}/{name}") as out:
            out.write(data)

    def read_bytes(self, name: str) -> bytes:
        with self.fs.open_input_stream(f"{self.path}/{name}") as stream:
            return stream.read()

    def write_text(self, name: str, text: str) -> None:
        self.write_bytes(name, text.encode("utf-8"))

    def read_text(self, name: str) -> str:
        return self.read_bytes(name).decode("utf-8")

    def delete(self, name: str) -> None:
        """Delete the file ``name`` (nothing when it is absent)."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(f"{self.path}/{name}")

    def remove_if_empty(self) -> bool:
        """Delete the folder when it holds nothing; whether it did. A bucket is never deleted."""
        if not self.is_local and "/" not in self.path.strip("/"):
            return False
        try:
            if (
                self.fs.get_file_info(self.path).type == pafs.FileType.Directory
                and not self.names()
            ):
                self.fs.delete_dir(self.path)
                return True
        except (OSError, pyarrow.ArrowException):
            pass
        return False


#: Where :func:`local_copy` puts copies of remote results: ``COPY_ROOT/<bucket>/<path>``.
COPY_ROOT = "tune_bs_reports"


def local_copy(results: str | Path, root: str | Path = COPY_ROOT) -> Path:
    """A local folder with the results at ``results``: the folder itself when it is local, else
    a fresh copy of everything under the URI (result files, experiment state, checkpoints) in
    ``root/<bucket>/<path>`` (relative to the working folder), replacing an older copy there.

    Raises :class:`UserInputError` when the URI cannot be opened or holds nothing.
    """
    if "://" not in str(results):
        return Path(results)
    location = Location.open(results)
    if location.is_local:  # file://
        return Path(location.path)
    parts = location.path.strip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):  # the copy must stay inside `root`
        raise UserInputError(
            f"results {location.uri!r} hold an empty, '.' or '..' path component; give the "
            "folder `tune-bs run` printed, e.g. s3://bucket/results/NAME."
        )
    target = Path(root).joinpath(*parts)
    info = location.fs.get_file_info(location.path)
    try:
        exists = info.type == pafs.FileType.Directory and location.fs.get_file_info(
            pafs.FileSelector(location.path, recursive=False)
        )
    except (OSError, pyarrow.ArrowException) as exc:
        raise UserInputError(
            f"results {location.uri!r} cannot be read ({str(exc).splitlines()[0]}); check the "
            "URI and the credentials and endpoint in the environment (AWS_ENDPOINT_URL, ...)."
        ) from None
    if not exists:
        raise UserInputError(
            f"results {location.uri!r} hold no files; give the folder `tune-bs run` printed, "
            "e.g. s3://bucket/results/NAME."
        )
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    pafs.copy_files(
        location.path,
        str(target.resolve()),
        source_filesystem=location.fs,
        destination_filesystem=pafs.LocalFileSystem(),
    )
    return target
