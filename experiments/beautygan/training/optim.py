"""BeautyGAN's two Adam optimizers (the generator's, and one over both discriminators) and their learning-rate
schedule: constant (the official code), or CycleGAN's linear decay to 0 over the last epochs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_warn

__all__ = ["adam_optimizers", "check_adam"]


def check_adam(lr: float, betas: Sequence[float], lr_decay_epochs: int) -> None:
    """Raise ``ValueError`` for a learning rate that is not a finite number > 0, betas outside [0, 1), or a negative
    ``lr_decay_epochs`` (checked when the module is built, before any run folder exists)."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < float("inf"):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if len(betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas):
        raise ValueError(f"betas must be two numbers in [0, 1) (Adam's), got {tuple(betas)!r}")
    if isinstance(lr_decay_epochs, bool) or not isinstance(lr_decay_epochs, int) or lr_decay_epochs < 0:
        raise ValueError(f"lr_decay_epochs must be >= 0, got {lr_decay_epochs!r}")


def adam_optimizers(
    generator: Iterable[torch.nn.Parameter],
    discriminators: Iterable[torch.nn.Parameter],
    *,
    lr: float,
    betas: tuple[float, float],
    fused: bool = False,
    lr_decay_epochs: int = 0,
    max_epochs: int | None = None,
) -> Any:
    """``[opt_g, opt_d]``, or with ``lr_decay_epochs`` also their per-epoch schedules (``configure_optimizers``'
    return value): epoch ``e`` trains with the factor ``(max_epochs - e) / lr_decay_epochs`` once it is in the last
    ``lr_decay_epochs`` epochs, 1 before (the last epoch's is ``1 / lr_decay_epochs``). Adam is per-parameter, so one
    optimizer over both discriminators steps them as two would."""
    opt_g = torch.optim.Adam(generator, lr=lr, betas=betas, fused=fused or None)
    opt_d = torch.optim.Adam(discriminators, lr=lr, betas=betas, fused=fused or None)
    decay, total = lr_decay_epochs, max_epochs
    if not decay:
        return [opt_g, opt_d]
    if total is None or total < 1:
        raise ValueError(f"lr_decay_epochs ({decay}) needs a finite trainer.max_epochs, got {total}")
    if decay > total:
        rank_zero_warn(f"lr_decay_epochs ({decay}) is more than max_epochs ({total}): decaying over all {total}")
        decay = total

    def factor(epoch: int) -> float:
        return 1.0 if epoch < total - decay else max(0.0, (total - epoch) / decay)

    schedules = [torch.optim.lr_scheduler.LambdaLR(opt, factor) for opt in (opt_g, opt_d)]
    return [opt_g, opt_d], [{"scheduler": s, "interval": "epoch"} for s in schedules]
