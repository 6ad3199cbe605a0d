"""Writing files whole or not at all: every output of the library, its CLIs and the experiments goes through
:func:`atomic_path`, so an error or a kill mid-write never leaves a partial file under the final name. (One writer
at a time per folder: :class:`perceptual.folder_lock.FolderLock`.)"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "check_writable"]


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
