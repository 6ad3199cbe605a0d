"""One writer per folder: a lock file created exclusively, naming the process that holds it.

Two runs writing into the same folder at once interleave their files without an error (two ``beautygan fit
--ckpt_path last`` on one run both trained into its TensorBoard version and logged every step twice). A
:class:`FolderLock` is a file in the folder created with ``O_CREAT | O_EXCL`` (atomic on POSIX, also on NFS v3+)
holding the holder's PID and host name; a second run finds it and stops with :class:`FolderLockedError`, which names
the PID. A lock whose process is gone (a kill, a crash, a power cut) is taken over, and :meth:`FolderLock.acquire`
returns a note saying so: the PID is checked with ``os.kill(pid, 0)`` (a signal that is never sent), on the same
host only; a lock from another host is taken as held.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from types import TracebackType

__all__ = ["FolderLock", "FolderLockedError"]

_FRESH_S = 10.0
"""A lock file younger than this with no PID in it yet is being written by its holder, not stale."""


class FolderLockedError(RuntimeError):
    """The folder is locked by a running process; the message names it (``pid``, ``host``) and the folder."""

    def __init__(self, message: str, *, pid: int | None, host: str | None) -> None:
        super().__init__(message)
        self.pid = pid
        self.host = host


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (``os.kill(pid, 0)`` checks without sending anything)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def _read(lock: Path) -> tuple[str, int | None, str | None]:
    """The lock file's text, and the PID and host in it (``None`` when the file is empty or garbled)."""
    text = lock.read_text(errors="replace")
    parts = text.split()
    pid = int(parts[0]) if parts and parts[0].isdigit() else None
    return text, pid, parts[1] if len(parts) > 1 else None


class FolderLock:
    """A lock on ``folder`` (created if missing) held through the file ``folder/name``.

    ``with FolderLock(folder, name=".x.lock", what="beautygan fit") as lock:`` acquires it (raising
    :class:`FolderLockedError` when a live process holds it) and removes the file at the end; ``lock.note`` says
    when a stale lock was taken over. ``what`` names the kind of run in the messages.
    """

    def __init__(self, folder: str | os.PathLike, *, name: str = ".lock", what: str = "a run") -> None:
        if not name or os.sep in name or name in (".", ".."):
            raise ValueError(f"the lock file name must be a plain file name, got {name!r}")
        self.folder = Path(folder)
        self.path = self.folder / name
        self.what = what
        self.note: str | None = None
        self._held = False

    def acquire(self) -> str | None:
        """Create the lock file, or take over a stale one. Returns a note when a stale lock was taken over, else
        ``None``; raises :class:`FolderLockedError` when a live process holds it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        host = socket.gethostname()
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as file:
                    file.write(f"{os.getpid()} {host}\n")
                self._held = True
                return self.note
            try:
                text, pid, holder_host = _read(self.path)
                age = time.time() - self.path.stat().st_mtime
            except FileNotFoundError:  # released in between: try again
                continue
            if holder_host is not None and holder_host != host:
                raise FolderLockedError(
                    f"another {self.what} (PID {pid} on host {holder_host}) is writing to {self.folder}; wait for "
                    f"it to end, or write elsewhere (if it is not running, delete {self.path})",
                    pid=pid,
                    host=holder_host,
                )
            if (pid is not None and _alive(pid)) or (pid is None and age < _FRESH_S):
                raise FolderLockedError(
                    f"another {self.what} (PID {pid if pid is not None else 'unknown'}) is writing to "
                    f"{self.folder}; wait for it to end, or write elsewhere",
                    pid=pid,
                    host=holder_host,
                )
            if self._take_over(text):
                self.note = (
                    f"{self.path} was left by "
                    + (
                        f"PID {pid}, which is no longer running"
                        if pid is not None
                        else "a run that never wrote its PID"
                    )
                    + ": taken over"
                )
        raise FolderLockedError(
            f"could not lock {self.folder}: {self.path} keeps changing (several runs starting at once?)",
            pid=None,
            host=None,
        )

    def _take_over(self, stale: str) -> bool:
        """Remove the stale lock file whose text is ``stale``; ``False`` when another process replaced it first
        (its lock is put back)."""
        aside = self.path.with_name(f"{self.path.name}.stale-{os.getpid()}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return False
        try:
            if aside.read_text(errors="replace") != stale:  # someone else took it over and holds it now
                try:
                    os.link(aside, self.path)
                except FileExistsError:
                    pass
                return False
            return True
        finally:
            aside.unlink(missing_ok=True)

    def release(self) -> None:
        """Remove the lock file (when this lock holds it)."""
        if self._held:
            self._held = False
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()
