"""Checkpoint files that survive a kill, and one clear error for a checkpoint that cannot be read.

Lightning's default ``TorchCheckpointIO`` writes through an fsspec transaction: the file goes to ``$TMPDIR`` first and
is then *moved*, which is a copy when ``$TMPDIR`` is on another filesystem, so a kill during the copy leaves a
truncated ``last.ckpt`` (and resuming then fails with an ``EOFError`` traceback). :class:`AtomicCheckpointIO` writes
to a temporary file in the destination folder, flushes it to disk and renames it over the destination: the
destination is always either the previous checkpoint or the new one, whole.

    trainer:
      plugins:
        - class_path: beautygan.checkpoints.AtomicCheckpointIO
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from perceptual.files import atomic_path

__all__ = ["AtomicCheckpointIO", "CheckpointError", "CheckpointWriteError"]


class CheckpointError(ValueError):
    """A checkpoint file could not be read; the message names the file and what is wrong with it."""


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (a full disk, a read-only folder); the message names the file, the reason
    and whether the previous checkpoint under that name is kept."""


_FULL_BELOW = 64 << 20
"""A failed write on a filesystem with less than this free is put down to a full disk (``torch.save`` reports a full
disk as ``RuntimeError: [enforce fail at inline_container.cc] unexpected pos``, without ``ENOSPC``)."""


def _write_error(path: Path, err: BaseException, previous: bool) -> CheckpointWriteError:
    folder = path.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    chain = [err, err.__cause__, err.__context__]
    full = any(isinstance(e, OSError) and e.errno == errno.ENOSPC for e in chain) or (
        free is not None and free < _FULL_BELOW
    )
    if full:
        reason = "no space left on the device" + (
            f" ({free / 2**20:.1f} MiB free in {folder})" if free is not None else ""
        )
    else:
        text = str(err).strip().splitlines()
        reason = f"{type(err).__name__}: {text[0] if text else repr(err)}"
    kept = f"the previous checkpoint {path} is kept, whole" if previous else "no earlier checkpoint had that name"
    error = CheckpointWriteError(f"could not write checkpoint {path}: {reason}; {kept}")
    error.errno = errno.ENOSPC if full else None
    return error


def save_atomically(checkpoint: dict[str, Any], path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file next to ``path``, fsync, then rename it to ``path`` (atomic on POSIX).

    A failed write (a full disk, a read-only folder) raises :class:`CheckpointWriteError` naming the file and the
    reason; the temporary file is removed and an earlier checkpoint under ``path`` stays as it was."""
    path = Path(path)
    previous = path.is_file()
    try:
        with atomic_path(path, fsync=True) as temporary:
            torch.save(checkpoint, temporary)
    except (OSError, RuntimeError) as err:
        raise _write_error(path, err, previous) from err
    return path


def load_checkpoint_file(
    path: str | os.PathLike, *, map_location: Any = "cpu", weights_only: bool = True
) -> dict[str, Any]:
    """``torch.load`` a Lightning checkpoint; a missing, empty, truncated or foreign file raises
    :class:`CheckpointError` (or ``FileNotFoundError``) naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(
            f"checkpoint {path} is empty (0 bytes): a save was interrupted; use an earlier checkpoint"
        )
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=weights_only)
    except Exception as err:  # noqa: BLE001 - unpickling garbage raises anything (EOFError, KeyError, UnpicklingError...)
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"checkpoint {path} ({size} bytes) is not a readable PyTorch checkpoint: {type(err).__name__}: {first_line}"
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        keys = sorted(checkpoint)[:10] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise CheckpointError(f"checkpoint {path} is not a Lightning checkpoint (no 'state_dict'; it holds {keys})")
    return checkpoint


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` that saves with :func:`save_atomically` (local paths) and loads with
    :func:`load_checkpoint_file`, so ``fit --ckpt_path`` on a bad file gives one :class:`CheckpointError`."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None or "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        save_atomically(checkpoint, path)

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        if "://" in str(path):
            return super().load_checkpoint(path, map_location=map_location, weights_only=weights_only)
        # Lightning resumes with weights_only=False for its own files (they hold e.g. hparams objects).
        return load_checkpoint_file(
            path, map_location=map_location or "cpu", weights_only=False if weights_only is None else weights_only
        )
