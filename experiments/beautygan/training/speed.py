"""How fast BeautyGAN's training step runs: :class:`SpeedOptions` (``model.speed`` in the YAML configs)."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Literal

import torch

__all__ = ["SpeedOptions"]

CompileMode = Literal["none", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]


@dataclasses.dataclass(frozen=True)
class SpeedOptions:
    """How fast the training step runs; none of it changes what the step computes (up to float rounding, which
    ``tests/test_beautygan_speed.py`` bounds).

    - ``compile``: ``torch.compile`` mode for the generator, both discriminators and the VGG trunk (each compiled
      in place, so state-dict keys and checkpoints are unchanged). ``"reduce-overhead"`` records CUDA graphs on a
      GPU: at batch 1 the step is bound by kernel launches, not arithmetic. The histogram makeup loss is compiled
      too, as one graph (its binning, histograms, CDF search and gathers, about 80 small eager ops forward and
      backward, become a few fused kernels); the other loss terms stay eager. Costs a compilation at the start of
      the run (and once more for the first generator step, whose discriminators' parameters are frozen).
    - ``fused_adam``: ``torch.optim.Adam(fused=True)``, one kernel for all parameters of an optimizer step.
    - ``channels_last``: networks and inputs in channels_last (GPU convolutions with tensor cores).
    """

    compile: CompileMode = "none"
    fused_adam: bool = False
    channels_last: bool = False

    def __post_init__(self) -> None:
        modes = CompileMode.__args__  # type: ignore[attr-defined]
        if self.compile not in modes:
            raise ValueError(f"speed.compile must be one of {list(modes)}, got {self.compile!r}")

    @property
    def uses_cuda_graphs(self) -> bool:
        return self.compile in ("reduce-overhead", "max-autotune")

    def compile_options(self) -> dict[str, Any]:
        """Keyword arguments of ``torch.compile`` for each network.

        Each compiled network keeps its own graphs (``isolate_recompiles``, torch >= 2.12): the two discriminators
        run one ``forward`` code object, and each needs a graph for the D step and one for the G step (frozen
        parameters, input with a gradient), per batch size (a partial last batch), so with a shared cache the
        recompile limit (8) is reached and a discriminator silently falls back to eager."""
        options: dict[str, Any] = {"mode": None if self.compile == "default" else self.compile}
        if "isolate_recompiles" in inspect.signature(torch.compile).parameters:
            options["isolate_recompiles"] = True
        return options
