"""A Lightning callback that times the training loop alone, for ``benchmarks/gpu_check.py``'s end-to-end runs.

    beautygan fit --config configs/beautygan.yaml \\
        --trainer.callbacks+='{"class_path": "fit_timer.TrainingLoopTimer", "init_args": {"path": "t.json"}}'

(with ``benchmarks/`` on ``PYTHONPATH``). The clock starts when the first batch starts, so start-up, the dataset
check and the model set-up are left out; it reads again after ``skip`` batches (compilation, CUDA-graph recording and
the allocator's warm-up happen there) and at the end of the last batch, with the device synchronized at those points
only. Checkpoints and validation after the last batch are left out too. Written to ``path`` (JSON): batches per second
over the whole loop and over the batches after ``skip``, and the seconds to the end of the first batch.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from _results import write_json

__all__ = ["TrainingLoopTimer"]


class TrainingLoopTimer(L.Callback):
    """Times the training loop (see the module docstring); rewrites ``path`` after ``skip`` batches and after each
    later batch that ends a tenth of the run, so a run stopped early still leaves its figures."""

    def __init__(self, *, path: str, skip: int = 10) -> None:
        if skip < 1:
            raise ValueError(f"skip must be >= 1, got {skip}")
        self.path = Path(path)
        self.skip = skip
        self.batches = 0
        self.times: dict[str, float] = {}

    def _now(self, trainer: L.Trainer) -> float:
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize(trainer.strategy.root_device)
        return time.perf_counter()

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if "start" not in self.times:
            self.times["start"] = self._now(trainer)

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self.batches += 1
        total = trainer.num_training_batches  # an int, or inf for an iterable dataset
        if self.batches == 1:
            self.times["first_end"] = self._now(trainer)
        if self.batches == self.skip:
            self.times["skip_end"] = self._now(trainer)
        every = max(1, int(total) // 10) if total != float("inf") else 10
        if self.batches >= total or self.batches == 1 or self.batches % every == 0:
            self.times["end"] = self._now(trainer)
            self._write(trainer)

    def _write(self, trainer: L.Trainer) -> None:
        t = self.times
        loop = t["end"] - t["start"]
        steady = t["end"] - t["skip_end"] if "skip_end" in t and self.batches > self.skip else None
        write_json(
            self.path,
            {
                "batches": self.batches,
                "skip": self.skip,
                "precision": str(trainer.precision),
                "compile": str(getattr(getattr(trainer.lightning_module, "speed", None), "compile", "unknown")),
                "device": str(trainer.strategy.root_device),
                "first_batch_s": t["first_end"] - t["start"],
                "loop_s": loop,
                "batches_per_s": self.batches / loop,
                "steady_batches_per_s": (self.batches - self.skip) / steady if steady else None,
            },
        )
