"""Writing files whole or not at all: every output of the library, its CLIs and the experiments goes through
:func:`atomic_path`, so an error or a kill mid-write never leaves a partial file under the final name. And one
writer at a time: :class:`FileLock`, a lock file holding its owner's PID, taken over when that process is gone."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["FileLock", "LockHeldError", "atomic_path", "check_writable"]


def _new_file_mode() -> int:
    """What ``open(path, "w")`` would give a new file: ``0o666`` less the process umask (``mkstemp`` gives 0o600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_path(path: str | os.PathLike, *, fsync: bool = False) -> Iterator[Path]:
    """A temporary path in ``path``'s folder (created if missing) to write to; renamed over ``path`` when the block
    ends normally (an atomic replace on POSIX, even across a kill), removed when it raises.

    ``fsync=True`` flushes the file to disk before the rename (checkpoints: the rename must not land before the data).
    The temporary name is ``.<name>.<random>.tmp``: hidden, and in the destination folder, never in ``$TMPDIR``
    (a rename across filesystems would be a copy that a kill can cut short)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    os.chmod(temporary, _new_file_mode())  # readable like any other file the user writes, not private to them
    try:
        yield temporary
        if fsync:
            with temporary.open("rb+") as file:
                os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def check_writable(path: str | os.PathLike, what: str = "output") -> Path:
    """Raise ``ValueError`` unless a file can be created where ``path`` goes: in ``path`` itself when it is an
    existing folder, else in its nearest existing parent folder. It creates and removes a hidden file there, so it
    sees what permissions, a read-only mount or a full inode table would do to the real write; CLIs call it before any
    work."""
    path = Path(path)
    folder = next((p for p in (path, *path.parents) if p.is_dir()), Path("."))
    try:
        handle, name = tempfile.mkstemp(prefix=".write-check.", suffix=".tmp", dir=folder)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ValueError(f"{what} {str(path)!r}: cannot write in {str(folder)!r} ({reason})") from None
    os.close(handle)
    os.unlink(name)
    return path


class LockHeldError(ValueError):
    """A lock file is held by a running process (``pid``), or by one whose PID the file does not say (``None``)."""

    def __init__(self, path: Path, pid: int | None) -> None:
        self.path, self.pid = path, pid
        holder = f"PID {pid}" if pid is not None else "a process whose PID it does not hold"
        super().__init__(f"{path} is held by {holder}")


def _process_running(pid: int) -> bool:
    """Whether a process ``pid`` runs (``os.kill(pid, 0)``: no signal is sent). On Windows, where ``os.kill`` would
    end the process, every PID counts as running."""
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process; a number no PID can be
        return False
    except PermissionError:
        return True  # it runs, as another user
    return True


def _parse_pid(text: str) -> int | None:
    """The PID a lock file's ``text`` holds; ``None`` when it holds something else."""
    text = text.strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


class FileLock:
    """One process at a time: a lock file that holds its owner's PID, created atomically (a hard link of a file
    already holding the PID, so it is never seen empty) and removed by :meth:`release`.

    A lock file left by a process that no longer runs (killed, or a crash) is taken over: :meth:`acquire` returns a
    note saying so. A running holder, or a lock file that holds no PID, raises :class:`LockHeldError`. The PID is
    checked with ``os.kill(pid, 0)``, so a stale lock whose PID was reused by another process (after a reboot, say)
    is refused as held: the message names the PID, and deleting the file releases it."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._held = False

    def acquire(self) -> str | None:
        """Take the lock; returns ``None``, or a note when a stale lock was taken over."""
        note = None
        for _ in range(8):  # another process may take or release the lock between two steps
            if self._link():
                self._held = True
                return note
            try:
                text = self.path.read_text(encoding="ascii", errors="replace")
            except FileNotFoundError:
                continue  # released meanwhile
            pid = _parse_pid(text)
            if pid is None or _process_running(pid):
                raise LockHeldError(self.path, pid)
            if self._remove_stale(text):
                note = f"took over {self.path}, left by PID {pid}, which no longer runs"
        raise LockHeldError(self.path, None)

    def _link(self) -> bool:
        """Create the lock file holding this process's PID; ``False`` when it exists."""
        handle, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            os.write(handle, str(os.getpid()).encode())
            os.close(handle)
            os.link(name, self.path)
        except FileExistsError:
            return False
        finally:
            os.unlink(name)
        return True

    def _remove_stale(self, text: str) -> bool:
        """Remove the lock file if it still holds ``text`` (moved aside first, so a lock another process took over in
        the meantime is put back, not deleted)."""
        aside = self.path.with_name(f".{self.path.name}.{os.getpid()}.stale")
        try:
            os.replace(self.path, aside)
        except FileNotFoundError:
            return False
        try:
            if aside.read_text(encoding="ascii", errors="replace") != text:
                try:
                    os.link(aside, self.path)  # not the stale lock: put it back, unless a newer one is there
                except FileExistsError:
                    pass
                return False
            return True
        finally:
            aside.unlink(missing_ok=True)

    def release(self) -> None:
        """Remove the lock file (once; a later call does nothing)."""
        if self._held:
            self._held = False
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> str | None:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
