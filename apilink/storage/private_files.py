"""Every file apilink writes: mode 0600, never through a symlink.

Logs (``logging.file``), the audit log with its key and head, quarantine files, dead letters,
checkpoint state, the users file, the credential file, and the lock files beside them are all
opened here:

- a new file is created with mode 0600; an existing one that is wider (a 0644 log file made by
  hand) is tightened to 0600 before anything is written;
- the last path component is opened with ``O_NOFOLLOW``, so a symlink planted where a file
  should be (``sync.dead-letter.jsonl -> ~/.bashrc``) is refused with
  :class:`~apilink.errors.PrivateFileError` naming the path, and its target is left untouched;
  so is anything that is not a regular file (a FIFO, a device);
- a file replaced whole (the credential file, the users file, the audit head, state, dead
  letters) goes through :func:`write_atomically`, the one place that writes a 0600 temporary
  file beside it, fsyncs it, renames it over the old one and fsyncs the folder, and that refuses
  the same way when the name it replaces is a symlink.

Trusted: the worker's operator, who chooses the paths. Not trusted: anyone who can read the
files (others on the machine see nothing: 0600) or plant files and symlinks in the folders
apilink writes to.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

from apilink.errors import PrivateFileError

__all__ = [
    "PRIVATE_MODE",
    "PrivateLock",
    "check_replaceable",
    "open_private",
    "open_private_fd",
    "write_atomically",
]

PRIVATE_MODE = 0o600
_FLAGS = {
    "a": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
    "w": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
    "x": os.O_WRONLY | os.O_CREAT | os.O_EXCL,
    "lock": os.O_RDWR | os.O_CREAT,
}
Mode = Literal["a", "w", "x", "lock"]


def open_private_fd(path: str | os.PathLike[str], mode: Mode = "a") -> int:
    """A file descriptor on ``path`` for writing (``a``ppend, ``w``rite, e``x``clusive create,
    or a ``lock`` file), the file 0600 and never reached through a symlink.

    Raises:
        PrivateFileError: ``path`` is a symlink or not a regular file, or cannot be opened.
    """
    name = os.fspath(path)
    flags = _FLAGS[mode] | os.O_NOFOLLOW | os.O_CLOEXEC
    if mode == "w":
        # Truncate only once the file is known to be a regular file of ours.
        flags &= ~os.O_TRUNC
    try:
        fd = os.open(name, flags | os.O_NONBLOCK, PRIVATE_MODE)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno == errno.EEXIST and os.path.islink(name)):
            raise _symlink(name) from None
        raise PrivateFileError(f"{name}: cannot open for writing ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PrivateFileError(
                f"{name}: not a regular file; apilink writes only regular files (remove it or "
                "choose another path)"
            )
        if stat.S_IMODE(info.st_mode) != PRIVATE_MODE:
            os.fchmod(fd, PRIVATE_MODE)
        os.set_blocking(fd, True)
        if mode == "w":
            os.ftruncate(fd, 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_private(
    path: str | os.PathLike[str], mode: Literal["a", "w", "x"] = "a", *, binary: bool = False
) -> IO[str] | IO[bytes]:
    """:func:`open_private_fd` as a file object (text in UTF-8, or ``binary``)."""
    fd = open_private_fd(path, mode)
    if binary:
        return os.fdopen(fd, "ab" if mode == "a" else "wb")
    return os.fdopen(fd, "a" if mode == "a" else "w", encoding="utf-8")


def check_replaceable(path: str | os.PathLike[str]) -> None:
    """Refuse to rename a temporary file over ``path`` when ``path`` is a symlink (the
    rename would not write through it, but someone meant it to be followed).

    Raises:
        PrivateFileError: naming the path.
    """
    if os.path.islink(path):
        raise _symlink(os.fspath(path))


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data``, so that a crash at any moment leaves the old file or the
    new one, never a mix, and a new file is there once this returns.

    Writes a 0600 temporary file in the same folder, fsyncs it, renames it over ``path`` and
    fsyncs the folder (which makes the rename itself durable). The folder must exist.

    Raises:
        PrivateFileError: ``path`` is a symlink (nothing is written).
        OSError: the temporary file could not be written or renamed; ``path`` is as it was and
            no temporary file is left behind.
    """
    target = Path(path)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, PRIVATE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        check_replaceable(target)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return  # the rename is done; a folder that cannot be opened cannot be synced either
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a folder (EINVAL); the new file is in place
    finally:
        os.close(fd)


def _symlink(name: str) -> PrivateFileError:
    return PrivateFileError(
        f"{name}: is a symbolic link; apilink never writes through one (remove the link, or "
        "point the setting at a regular file)"
    )


class PrivateLock:
    """An exclusive lock on ``path`` (``flock``), the lock file 0600 and never a symlink.

    Re-entrant in one thread; other threads and processes wait for it.

    Args:
        path: the lock file (``<file>.lock`` by convention).
        timeout: seconds to wait; ``None`` waits for ever.

    Raises:
        PrivateFileError: the lock file is a symlink, or the lock was not had in time.
    """

    def __init__(self, path: str | os.PathLike[str], timeout: float | None = None) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    def acquire(self) -> None:
        if not self._thread_lock.acquire(timeout=-1 if self.timeout is None else self.timeout):
            raise self._timed_out()
        try:
            if self._depth == 0:
                self._fd = self._lock_file()
            self._depth += 1
        except BaseException:
            self._thread_lock.release()
            raise

    def _lock_file(self) -> int:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = open_private_fd(self.path, "lock")
        if self.timeout is None:
            fcntl.flock(fd, fcntl.LOCK_EX)  # the kernel wakes a waiter at each release
            return fd
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise self._timed_out() from None
                time.sleep(0.005)

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        self._thread_lock.release()

    def _timed_out(self) -> PrivateFileError:
        return PrivateFileError(
            f"{self.path}: another apilink process holds this lock; gave up after {self.timeout} s"
        )

    def __enter__(self) -> PrivateLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
