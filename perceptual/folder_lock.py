"""One writer per folder: a lock file that holds the PID and host of the process holding it, the one lock of the
package (``beautygan fit``'s run folder, ``perceptual maps``' output folder).

Two runs writing into the same folder at once interleave their files without an error (two ``beautygan fit
--ckpt_path last`` on one run both trained into its TensorBoard version and logged every step twice). A
:class:`FolderLock` is a file in the folder holding ``"<PID> <host>\\n"``:

- it is created atomically already holding that text: a temporary file is written first and hard-linked under the
  lock's name (``link`` fails when the name exists, atomically on POSIX, also on NFS v3+), so no process ever sees
  it empty. Where the filesystem has no hard links it is created with ``O_CREAT | O_EXCL`` and written right away;
- a second run finds it and stops with :class:`FolderLockedError`, whose message names the holder's PID (and its
  host, when it is another one);
- a lock whose process is gone (a kill, a crash, a power cut) is taken over, and :meth:`FolderLock.acquire` returns
  a note saying so: the PID is checked with ``os.kill(pid, 0)`` (a signal that is never sent), on the same host only;
  a lock from another host counts as held. A PID that another process reused after a reboot counts as held too: the
  message names the PID and the file, and deleting the file releases it;
- a lock file that holds no PID (empty or unreadable: cut short by a power cut, or written by hand or by another
  program; this lock never leaves one) counts as held for :data:`NO_PID_GRACE_S` seconds after its last change,
  which covers a holder on a filesystem without hard links between its create and its write, and is taken over
  with a note after that.

On Windows, where ``os.kill`` would end the process, every PID counts as running.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["NO_PID_GRACE_S", "FolderLock", "FolderLockedError"]

NO_PID_GRACE_S = 10.0
"""Seconds after its last change during which a lock file that holds no PID counts as held."""


class FolderLockedError(RuntimeError):
    """The folder is locked by a running process; the message names it (``pid``, ``host``; ``pid`` is ``None`` for
    a lock file that holds no PID) and the folder."""

    def __init__(self, message: str, *, pid: int | None, host: str | None) -> None:
        super().__init__(message)
        self.pid = pid
        self.host = host


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (``os.kill(pid, 0)`` checks without sending anything)."""
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process; a number no PID can be
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def _read(lock: Path) -> tuple[str, int | None, str | None]:
    """The lock file's text, and the PID and host in it (``None`` when the file holds no PID, or no host: a lock
    file holding only a PID is this host's)."""
    text = lock.read_text(encoding="ascii", errors="replace")
    parts = text.split()
    digits = parts[0] if parts and parts[0].isascii() and parts[0].isdigit() else ""
    pid = int(digits) if digits and int(digits) > 0 else None
    return text, pid, parts[1] if pid is not None and len(parts) > 1 else None


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
        for _ in range(8):  # another process may take or release the lock between two steps
            if self._create(f"{os.getpid()} {host}\n"):
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
            if pid is not None and _alive(pid):
                raise FolderLockedError(
                    f"another {self.what} (PID {pid}) is writing to {self.folder}; wait for it to end, or write "
                    "elsewhere",
                    pid=pid,
                    host=holder_host,
                )
            if pid is None and age < NO_PID_GRACE_S:
                raise FolderLockedError(
                    f"{self.path} holds no PID, so whether another {self.what} is writing to {self.folder} is "
                    f"unknown; it counts as held until it is {NO_PID_GRACE_S:g} s old: wait, or delete it if none is",
                    pid=None,
                    host=None,
                )
            if self._take_over(text):
                self.note = (
                    f"{self.path} was left by PID {pid}, which is no longer running: taken over"
                    if pid is not None
                    else f"{self.path} held no PID and had not changed for {NO_PID_GRACE_S:g} s: taken over"
                )
        raise FolderLockedError(
            f"could not lock {self.folder}: {self.path} keeps changing (several runs starting at once?)",
            pid=None,
            host=None,
        )

    def _create(self, text: str) -> bool:
        """Create the lock file holding ``text``; ``False`` when it exists. A hard link of a temporary file already
        holding it, so the lock file is never seen empty (``O_CREAT | O_EXCL`` where there are no hard links)."""
        handle, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.folder)
        try:
            os.write(handle, text.encode("ascii", errors="replace"))
            os.fchmod(handle, 0o644)  # readable by others, as a file made with open() would be (mkstemp gives 0o600)
            os.close(handle)
            handle = -1
            os.link(name, self.path)
        except FileExistsError:
            return False
        except OSError:  # a filesystem without hard links (FAT, some network shares)
            if handle != -1:
                raise
            return self._create_exclusive(text)
        finally:
            if handle != -1:
                os.close(handle)
            os.unlink(name)
        return True

    def _create_exclusive(self, text: str) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="ascii", errors="replace") as file:
            file.write(text)
        return True

    def _take_over(self, stale: str) -> bool:
        """Remove the stale lock file whose text is ``stale``; ``False`` when another process replaced it first
        (its lock is put back)."""
        aside = self.path.with_name(f".{self.path.name}.{os.getpid()}.stale")
        try:
            os.replace(self.path, aside)
        except FileNotFoundError:
            return False
        try:
            if aside.read_text(encoding="ascii", errors="replace") != stale:  # someone else took it over: theirs
                try:
                    os.link(aside, self.path)  # put it back, unless a newer one is there
                except FileExistsError:
                    pass
                return False
            return True
        finally:
            aside.unlink(missing_ok=True)

    def release(self) -> None:
        """Remove the lock file (when this lock holds it; a later call does nothing)."""
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
