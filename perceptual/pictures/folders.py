"""The ``--out`` folder of ``perceptual maps``: whole files only, one run at a time.

Every file is written under a temporary name and renamed (:func:`perceptual.files.atomic_path`): a full disk or a
kill never leaves a partial PNG or index under its final name, and the error names the file and its filesystem.
:func:`maps_lock` keeps a second run out while one writes; :func:`image_folder` names each image's sub-folder.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

from perceptual.files import atomic_path

__all__ = [
    "INDEX",
    "LOCK",
    "MANIFEST",
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
    """One ``maps`` run at a time per folder: a lock file created exclusively, removed at the end."""
    lock = out / LOCK
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        raise ValueError(
            f"another `perceptual maps` run is writing to {str(out)!r} (if none is, a crashed run left {str(lock)!r}: delete it)"
        ) from None
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield None
    finally:
        lock.unlink(missing_ok=True)


def image_folder(out: Path, stem: str, taken: set[str]) -> Path:
    """A new folder ``out/<name>`` for an image whose file stem is ``stem`` (``image`` when empty), and ``name``
    added to ``taken``: the stem, then ``_2``, ``_3``, ... until it is none of ``taken`` and not ``index.html``."""
    base = stem or "image"
    candidate, suffix = base, 2
    while candidate in taken or candidate == INDEX:
        candidate, suffix = f"{base}_{suffix}", suffix + 1
    taken.add(candidate)
    return out / candidate
