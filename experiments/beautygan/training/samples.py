"""Sample grids of a makeup transfer, with a header row that names each column (TensorBoard and PNG), labelled as
every picture of the project is (:mod:`beautygan.labelled_grid`).

:class:`SampleGrids` is the Lightning callback that logs them during training: it renders a grid on the training
thread (:func:`render_sample_grid`, torch) and hands the pixels to its own background writer thread, which encodes
and writes them (:func:`write_sample_grid`, numpy and PIL only: a torch op in a second thread measurably slowed the
training thread's CPU ops for the rest of the run, 41 s -> 61 s for 3 demo epochs on 2 cores)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor

from perceptual.images import save_image, to_uint8
from perceptual.pictures.event_writer import BackgroundWriter

from ..labelled_grid import labelled_grid

__all__ = ["SAMPLE_COLUMNS", "SampleGrids", "remove_unfinished_grids", "render_sample_grid", "write_sample_grid"]

SAMPLE_COLUMNS = ("source", "reference", "made-up", "de-made-up", "cycle src", "cycle ref")
"""Column names of the training grids: the source (no makeup), the reference (makeup), the source wearing the
reference's makeup, the reference without makeup, and the two reconstructions of the cycle pass
(``G(de-made-up, made-up)``: the source back, the reference back)."""


def render_sample_grid(columns: Tensor) -> np.ndarray:
    """``columns (rows, cols, 3, H, W)`` (images in [-1, 1], cols <= 6, named by :data:`SAMPLE_COLUMNS`) as a
    :func:`~beautygan.labelled_grid.labelled_grid` with a 12-pixel header: ``(H', W', 3)`` uint8 pixels, a new
    array."""
    if columns.ndim != 5 or columns.shape[2] != 3:
        raise ValueError(f"columns must be (rows, cols, 3, H, W), got shape {tuple(columns.shape)}")
    rows, cols, _, height, width = columns.shape
    # to_uint8 is elementwise: the tiles stacked as one (3, N * H, W) image convert in one call
    stacked = columns.flatten(0, 1).transpose(0, 1).reshape(3, rows * cols * height, width)
    tiles = to_uint8(stacked, (-1.0, 1.0)).reshape(rows, cols, height, width, 3)
    return labelled_grid(tiles, SAMPLE_COLUMNS[:cols], header=12).numpy()


def write_sample_grid(writer: Any, tag: str, pixels: np.ndarray, step: int, png_path: Path | None) -> None:
    """Add ``pixels`` (``(H, W, 3)`` uint8, from :func:`render_sample_grid`) to ``writer`` (a ``SummaryWriter``, or
    ``None``) as image ``tag`` at ``step``, and save them as the PNG ``png_path`` (``None``: no file; written under
    a temporary name and renamed). The same pixels in both, and no torch op: safe to run in a writer thread."""
    if writer is not None:
        writer.add_image(tag, pixels, step, dataformats="HWC")
    if png_path is not None:
        save_image(pixels, png_path)


def remove_unfinished_grids(folder: Path) -> list[Path]:
    """Remove the temporary files of sample-grid PNG writes that never finished (``.train_000050.png.<random>.tmp``,
    see :func:`perceptual.files.atomic_path`) from ``folder``; returns them."""
    if not folder.is_dir():
        return []
    removed = []
    for path in sorted(folder.glob(".*.png.*.tmp")):
        if path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


class SampleGrids(L.Callback):
    """Logs a grid of sample pairs to TensorBoard and as PNGs under ``<log_dir>/samples``: from the training step
    every ``every_n_batches`` batches (``samples/train``, the six columns of :data:`SAMPLE_COLUMNS`) and from the
    first validation batch of each validation run (``samples/val``: source, reference, made-up, de-made-up).

    It reads what the module's steps return as ``outputs["samples"]`` (a list of ``(N, 3, H, W)`` tensors in
    [-1, 1], one per column) and the module's ``batches_seen`` counter. It owns one
    :class:`~perceptual.pictures.event_writer.BackgroundWriter`, written out and stopped when training ends, on an
    exception and at teardown. Rank 0 only, with no collectives.

    Args:
        every_n_batches: training batches between grids.
        pairs: pairs (rows) per grid.
    """

    def __init__(self, *, every_n_batches: int = 200, pairs: int = 4) -> None:
        if isinstance(every_n_batches, bool) or not isinstance(every_n_batches, int) or every_n_batches < 1:
            raise ValueError(f"every_n_batches must be a whole number >= 1, got {every_n_batches!r}")
        if isinstance(pairs, bool) or not isinstance(pairs, int) or pairs < 1:
            raise ValueError(f"pairs must be a whole number >= 1, got {pairs!r}")
        self.every_n_batches = every_n_batches
        self.pairs = pairs
        self._writer: BackgroundWriter | None = None
        self._val_done = False

    def _log(self, trainer: L.Trainer, tag: str, images: Sequence[Tensor], step: int) -> None:
        if not trainer.is_global_zero or trainer.logger is None:
            return
        experiment = getattr(trainer.logger, "experiment", None)
        summary = experiment if hasattr(experiment, "add_image") else None
        log_dir = getattr(trainer.logger, "log_dir", None)
        if summary is None and not log_dir:
            return
        k = min(self.pairs, images[0].shape[0])
        columns = torch.stack([x[:k].detach().float().cpu() for x in images], dim=1)  # (k, cols, 3, H, W)
        pixels = render_sample_grid(columns)  # a new array, owned by the writer thread from here
        png = Path(log_dir) / "samples" / f"{tag.split('/')[-1]}_{step:06d}.png" if log_dir else None
        if self._writer is None or self._writer.writer is not summary:
            self._close()
            self._writer = BackgroundWriter(summary)
        self._writer.submit(write_sample_grid, tag, pixels, step, png)

    def _close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # A kill during a PNG write leaves its hidden temporary file (perceptual.files.atomic_path); a run that
        # writes into the same folder (a resumed one) removes them before writing any of its own.
        log_dir = getattr(trainer.logger, "log_dir", None) if trainer.logger is not None else None
        if not trainer.is_global_zero or not log_dir:
            return
        removed = remove_unfinished_grids(Path(log_dir) / "samples")
        if removed:
            rank_zero_info(
                f"SampleGrids: removed {len(removed)} unfinished sample grid file(s) left by an interrupted run in "
                f"{Path(log_dir) / 'samples'}"
            )

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        step = int(getattr(pl_module, "batches_seen", batch_idx + 1)) - 1  # the batch just trained
        if step % self.every_n_batches == 0 and isinstance(outputs, Mapping) and "samples" in outputs:
            self._log(trainer, "samples/train", outputs["samples"], step)

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._val_done = False

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if not self._val_done and not trainer.sanity_checking and isinstance(outputs, Mapping) and "samples" in outputs:
            self._log(trainer, "samples/val", outputs["samples"], int(getattr(pl_module, "batches_seen", 0)))
            self._val_done = True

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._close()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        try:
            self._close()  # the last grids of a run that stops on an error are still written
        except Exception as error:  # noqa: BLE001 - the training error is the one to raise
            rank_zero_warn(f"SampleGrids: writing the last sample grids failed while stopping on an error: {error}")

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._close()
