"""The weights of BeautyGAN's generator loss terms, and the two presets they start from."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = ["PRESETS", "LossWeights"]


@dataclasses.dataclass(frozen=True)
class LossWeights:
    """Weights of the generator's loss terms (the discriminators' LSGAN loss is unweighted). A field left ``None``
    takes the preset's value (:data:`PRESETS`), so a config names only what it changes: ``loss_weights: {lips: 3}``.
    """

    adversarial: float | None = None  # per discriminator
    cycle: float | None = None  # per direction, L1
    perceptual: float | None = None  # per direction, MSE of the VGG tap (relu4_1 in the paper)
    identity: float | None = None  # per term of G(a, a) and G(b, b) (4 terms), L1; the paper has none
    # LPIPS-VGG (v0.1) of made-up source vs source and de-made-up reference vs reference, per direction, from the
    # same VGG pass as the perceptual term (needs a VGG16 preset and the lpips package's calibration); not in the paper
    lpips: float | None = None
    lips: float | None = None  # histogram loss, per direction
    skin: float | None = None
    eye_shadow: float | None = None  # per eye

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0):
                raise ValueError(
                    f"loss_weights.{field.name} must be a number >= 0 (or None: the preset's), got {value!r}"
                )

    @classmethod
    def from_mapping(cls, weights: Mapping[str, Any]) -> LossWeights:
        """``LossWeights(**weights)`` with one clear error for an unknown name."""
        names = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(weights) - set(names))
        if unknown:
            raise ValueError(f"loss_weights keys must be among {names}, got {unknown}")
        return cls(**dict(weights))

    def over(self, preset: LossWeights) -> LossWeights:
        """These weights with every ``None`` taken from ``preset``."""
        return dataclasses.replace(preset, **{k: v for k, v in dataclasses.asdict(self).items() if v is not None})


_PAPER = LossWeights(
    adversarial=1.0, cycle=10.0, perceptual=0.005, identity=0.0, lpips=0.0, lips=1.0, skin=0.1, eye_shadow=1.0
)

PRESETS: dict[str, LossWeights] = {
    # The paper's nominal values (section 3.3 and 4.1).
    "paper": _PAPER,
    # What the official code effectively optimizes: its loss_rec = (cycle_A + cycle_B + vgg_A + vgg_B) * 0.5 halves
    # cycle (lambda 10) and VGG (10 * 0.005) terms; identity = lambda_A * lambda_idt * 0.5 = 10 * 0.5 * 0.5;
    # histogram losses are L1 with lips 1, skin 0.1, eyes 1. Its VGG is VGG19 fed un-normalized [-1, 1] images
    # (perceptual.losses.BEAUTYGAN_VGG), as perceptual.beautygan_perceptual_loss("official") does.
    "official": dataclasses.replace(_PAPER, cycle=5.0, perceptual=0.025, identity=2.5),
}
