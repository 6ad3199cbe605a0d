"""Lightning's checkpoint IO for ``beautygan fit``: :class:`AtomicCheckpointIO` saves with
:func:`~beautygan.training.checkpoint_files.save_atomically` (a temporary file in the destination folder, flushed
and renamed: a kill never leaves a truncated ``last.ckpt``) and loads with
:func:`~beautygan.training.checkpoint_files.load_checkpoint_file` (``weights_only=True``, one clear error).

    trainer:
      plugins:
        - class_path: beautygan.training.checkpoint_io.AtomicCheckpointIO
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch.plugins.io import TorchCheckpointIO

from .checkpoint_files import checkpoint_types, load_checkpoint_file, save_atomically

__all__ = ["AtomicCheckpointIO"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` that saves with :func:`~beautygan.training.checkpoint_files.save_atomically` (local
    paths) and loads with :func:`~beautygan.training.checkpoint_files.load_checkpoint_file`, so ``fit --ckpt_path``
    on a bad file gives one :class:`~beautygan.training.checkpoint_files.CheckpointError`."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None or "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        save_atomically(checkpoint, path)

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        """Always ``weights_only=True`` (whatever Lightning passes), with
        :data:`~beautygan.training.checkpoint_files.CHECKPOINT_TYPES` allowed."""
        if "://" in str(path):
            with checkpoint_types():
                return super().load_checkpoint(path, map_location=map_location, weights_only=True)
        return load_checkpoint_file(path, map_location=map_location or "cpu")
