"""The ``--out`` folder of ``perceptual maps``: whole files only, one run at a time, and nothing outside it.

Every file is written under a temporary name and renamed (:func:`perceptual.files.atomic_path`): a full disk or a
kill never leaves a partial PNG or index under its final name, and the error names the file and its filesystem.
:func:`maps_lock` keeps a second run out while one writes (the package's one lock,
:class:`perceptual.folder_lock.FolderLock`: a lock file holding the writer's PID and host; a lock left by a killed
run is taken over, with a note). :func:`image_folder` names each image's sub-folder after the file so that
it stays inside ``--out`` and clear of the folder's own files, whatever the file is called (``...png``, whose stem
is ``..``, included).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

from perceptual.files import atomic_path
from perceptual.folder_lock import FolderLock, FolderLockedError

__all__ = [
    "INDEX",
    "LOCK",
    "MANIFEST",
    "check_folder_name",
    "image_folder",
    "maps_lock",
    "save_png",
    "write_error",
    "write_text",
]

MANIFEST = "maps.json"
"""What an ``--out`` folder holds: the settings of the runs that wrote it and every exported image, so a later run
into the same folder adds to one consistent ``index.html`` (or is refused when its settings differ)."""
INDEX = "index.html"
LOCK = ".perceptual-maps.lock"
_OWN_FILES = (MANIFEST, INDEX, LOCK)


def write_error(error: OSError, path: Path) -> OSError:
    """One line naming the file, and its folder's filesystem when the disk is full."""
    reason = (error.strerror or str(error)).lower()
    full = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))  # disk full, or over the user's quota
    where = f" (filesystem of {path.parent}/)" if error.errno in full else ""
    named = OSError(f"{reason} writing {path}{where}")
    named.errno = error.errno
    return named


def save_png(picture: Image.Image, path: Path, *, compress_level: int = 1) -> None:
    """``picture`` as a PNG at ``path``, written whole or not at all (a temporary file renamed into place)."""
    try:
        with atomic_path(path) as temporary:
            picture.save(temporary, format="PNG", compress_level=compress_level)
    except OSError as error:
        raise write_error(error, path) from error


def write_text(path: Path, text: str) -> None:
    """``text`` (UTF-8) at ``path``, written whole or not at all."""
    try:
        with atomic_path(path) as temporary:
            temporary.write_text(text, encoding="utf-8")
    except OSError as error:
        raise write_error(error, path) from error


@contextmanager
def maps_lock(out: Path) -> Iterator[str | None]:
    """Hold ``out``'s lock (:class:`~perceptual.folder_lock.FolderLock`) while the block writes to it; the block
    gets ``None``, or a note when a stale lock was taken over. A running holder, or a lock file that holds no PID
    and changed in the last seconds: ``ValueError`` naming the PID, or the file."""
    lock = FolderLock(out, name=LOCK, what="`perceptual maps` run")
    try:
        note = lock.acquire()
    except FolderLockedError as err:
        if err.pid is None:
            raise ValueError(str(err)) from None
        where = f" on host {err.host}" if err.host is not None else ""
        raise ValueError(
            f"another `perceptual maps` run is writing to {str(out)!r} (PID {err.pid}{where}; if that is not a "
            f"`perceptual maps` run, delete {str(lock.path)!r})"
        ) from None
    try:
        yield note
    finally:
        lock.release()


def check_folder_name(name: str) -> str:
    """``name`` when it names a folder directly inside ``--out`` that is none of the folder's own files, else a
    ``ValueError`` (a manifest entry such as ``../x`` would lead outside)."""
    if _unsafe(name) or name.casefold() in {own.casefold() for own in _OWN_FILES}:
        raise ValueError(f"{name!r} is not a folder name inside the output folder")
    return name


def _unsafe(name: str) -> bool:
    return not name or set(name) <= {"."} or any(sep in name for sep in ("/", "\\", os.sep, os.altsep or "/", "\0"))


def image_folder(out: Path, stem: str, taken: set[str]) -> Path:
    """A new folder ``out/<name>`` for an image whose file stem is ``stem``, and ``name`` added to ``taken``.

    ``name`` is the stem with path separators replaced by ``_`` (``image`` for a stem of dots only, such as the
    ``..`` of ``...png``), then ``_2``, ``_3``, ... until it is none of ``taken``, of the folder's own files
    (:data:`MANIFEST`, ``index.html``, :data:`LOCK`; any case) and of the entries of ``out`` that are not folders or
    are symbolic links. So an image's maps land inside ``out``, in a folder of their own, whatever the file is
    called."""
    base = "".join("_" if c in ("/", "\\", os.sep, os.altsep or "/", "\0") else c for c in stem)
    base = "image" if _unsafe(base) else base
    own = {name.casefold() for name in _OWN_FILES}
    candidate, suffix = base, 2
    while (
        candidate in taken
        or candidate.casefold() in own
        or (out / candidate).is_symlink()
        or ((out / candidate).exists() and not (out / candidate).is_dir())
    ):
        candidate, suffix = f"{base}_{suffix}", suffix + 1
    taken.add(candidate)
    return out / candidate
