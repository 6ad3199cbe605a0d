"""Nothing silently wrong in a GAN run: :class:`LossGuard` stops training when a loss term becomes NaN or infinite
and warns once when the generator's loss diverges, without a host sync per step.

Each step's terms are OR-accumulated on the device; the flag is read where Lightning syncs anyway: at its logging
interval, at the end of each epoch and before every checkpoint is written (so no checkpoint ever holds NaN weights).
Under DDP every rank takes part in the check (one boolean all-reduce), so all ranks stop together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

__all__ = ["LossGuard", "NonFiniteLossError"]

DIVERGENCE_FACTOR = 1000.0
"""How far the generator loss may grow over its early value before training warns that it diverges."""


class NonFiniteLossError(FloatingPointError):
    """A training loss term became NaN or infinite; the message names the terms and the batch where it happened."""


class LossGuard(L.Callback):
    """Watches the loss terms a ``training_step`` returns as ``outputs["terms"]`` (``{name: 0-dim tensor}``, the
    generator's total as ``train/g_total``) and the module's ``batches_seen`` counter.

    - A non-finite term stops training with :class:`NonFiniteLossError` naming the terms and the first batch where
      each went bad.
    - A generator total that grows ``divergence_factor`` times over its largest value in the first checked interval
      gets one warning (finite but diverging, e.g. a far too large lr).
    """

    def __init__(self, *, divergence_factor: float = DIVERGENCE_FACTOR) -> None:
        if not divergence_factor > 1:
            raise ValueError(f"divergence_factor must be > 1, got {divergence_factor}")
        self.divergence_factor = divergence_factor
        self._names: list[str] = []
        self._bad: Tensor | None = None
        self._first_bad: Tensor | None = None
        self._largest: Tensor | None = None
        self._early: float | None = None
        self._warned = False

    def track(self, terms: Mapping[str, Tensor], batch: int) -> None:
        """OR this step's non-finite terms into a device flag, with the batch where each first went bad, and keep
        the largest finite generator total seen (all on the device, no sync)."""
        bad = ~torch.isfinite(torch.stack([t.detach().float() for t in terms.values()]))
        if self._bad is None or list(terms) != self._names:
            self._names = list(terms)
            self._bad = torch.zeros_like(bad)
            self._first_bad = torch.full(bad.shape, -1, dtype=torch.int64, device=bad.device)
        assert self._first_bad is not None
        self._first_bad = torch.where(bad & ~self._bad, torch.full_like(self._first_bad, batch), self._first_bad)
        self._bad |= bad
        total = terms["train/g_total"].detach().float()
        size = torch.where(torch.isfinite(total), total.abs(), torch.zeros_like(total))
        self._largest = size if self._largest is None else torch.maximum(self._largest, size)

    def check(self, trainer: L.Trainer | None = None, *, epoch: int = 0, batch: int = 0) -> None:
        """Raise :class:`NonFiniteLossError` when any rank saw a non-finite term (one host sync); otherwise warn once
        if the losses diverge."""
        if self._bad is None:
            return
        local = bool(self._bad.any())
        anywhere = trainer.strategy.reduce_boolean_decision(local, all=False) if trainer is not None else local
        if not anywhere:
            self._warn_if_diverging(batch)
            return
        if not local:
            raise NonFiniteLossError("a loss term became NaN or infinite on another rank; training stopped")
        assert self._first_bad is not None
        flags, firsts = self._bad.tolist(), self._first_bad.tolist()
        names = [name.removeprefix("train/") for name, bad in zip(self._names, flags) if bad]
        first = min(b for b, bad in zip(firsts, flags) if bad)
        raise NonFiniteLossError(
            f"{', '.join(names)} became NaN or infinite at batch {first} (epoch {epoch}); training stopped and no "
            "checkpoint was written from here (a lower lr, or precision 32-true, may help)"
        )

    def _warn_if_diverging(self, batch: int) -> None:
        if self._largest is None or self._warned:
            return
        largest = float(self._largest)
        if self._early is None:
            self._early = largest
        elif self._early > 0 and largest > self.divergence_factor * self._early:
            rank_zero_warn(
                f"BeautyGAN: the generator loss reached {largest:.3g} by batch {batch}, over "
                f"{self.divergence_factor:g} times its early value {self._early:.3g}: training is diverging (lower the lr?)"
            )
            self._warned = True

    # ------------------------------------------------------------------------------------------------ hooks
    def _check_now(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.check(trainer, epoch=trainer.current_epoch, batch=int(getattr(pl_module, "batches_seen", 0)))

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if not isinstance(outputs, Mapping) or "terms" not in outputs:
            return
        seen = int(getattr(pl_module, "batches_seen", batch_idx + 1))
        self.track(outputs["terms"], batch=seen - 1)
        if seen % max(1, trainer.log_every_n_steps) == 0:  # where Lightning's logger syncs anyway
            self._check_now(trainer, pl_module)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check_now(trainer, pl_module)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        self._check_now(trainer, pl_module)  # never write NaN weights over the last good checkpoint
