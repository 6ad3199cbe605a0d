"""The weights of the generator's loss terms, and the presets they start from: BeautyGAN's paper, BeautyGAN's
official code, and PSGAN's official code (each with the VGG its perceptual loss runs on, :data:`PRESET_VGG`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

from perceptual.losses import BEAUTYGAN_VGG

__all__ = ["PRESETS", "PRESET_VGG", "LossWeights", "Preset"]

Preset = Literal["paper", "official", "psgan"]


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
    # What PSGAN's official training step (wtjiang98/PSGAN psgan/solver.py Solver.train, psgan/config.py) effectively
    # optimizes, with LAMBDA_A = LAMBDA_B = 10, LAMBDA_IDT = 0.5, LAMBDA_VGG = 5e-3, LAMBDA_HIS_LIP = 1,
    # LAMBDA_HIS_SKIN = 1 * 0.1, LAMBDA_HIS_EYE = 1 * 1, term by term into this module's terms:
    #
    #   term         solver.py                                                           effective     here
    #   adversarial  g_A_loss_adv + g_B_loss_adv (criterionGAN, LSGAN, weight 1)         1 per D       1
    #   cycle        loss_rec = (L1(rec_A, image_s) * LAMBDA_A + L1(rec_B, image_r)      10 * 0.5      5 per direction
    #                            * LAMBDA_B + vgg_A + vgg_B) * 0.5
    #   perceptual   vgg_A = MSE(vgg(fake_A), vgg(image_s)) * LAMBDA_A * LAMBDA_VGG,     10 * 5e-3     0.025 per
    #                halved in loss_rec (vgg_B likewise)                                   * 0.5        direction
    #   identity     loss_idt = (L1(idt_A, image_s) * LAMBDA_A * LAMBDA_IDT              10 * 0.5      1.25 per term:
    #                            + L1(idt_B, image_r) * LAMBDA_B * LAMBDA_IDT) * 0.5       * 0.5 = 2.5  2 terms per
    #                                                                                   per image     image here
    #   lips         criterionHis(fake_A, image_r, mask_s[:, 0], mask_r[:, 0]) * 1       1 per dir.    1
    #   skin         criterionHis(..., mask_s[:, 1], ...) * LAMBDA_HIS * LAMBDA_SKIN     0.1           0.1
    #   eye_shadow   criterionHis(..., mask_s[:, 2], ...) * LAMBDA_HIS * LAMBDA_EYE      1 (both eyes  1 per eye
    #                                                                                   in one mask)
    #
    # The identity term here is BeautyGAN's four L1 terms, G(a, a)'s two outputs against a and G(b, b)'s against b;
    # PSGAN's G(x, x) has one output (both of the generator's outputs are the same call), so each image's L1 counts
    # twice and 1.25 per term is the official 2.5 per image. The histogram losses are L1 in 0-255 units averaged
    # over the image, as BeautyGAN's (histogram_criterion "l1"). Its VGG is VGG16 fed the raw [-1, 1] images
    # (PRESET_VGG), to pool5 (net.VGG.forward returns self.features(x); configs/psgan.yaml: perceptual_layer pool5).
    "psgan": dataclasses.replace(_PAPER, cycle=5.0, perceptual=0.025, identity=1.25),
}

PRESET_VGG: dict[str, tuple[str, str | None]] = {**BEAUTYGAN_VGG, "psgan": ("vgg16", "none")}
"""(arch, input normalization) of each preset's perceptual-loss VGG: BeautyGAN's (:data:`perceptual.losses.BEAUTYGAN_VGG`:
the paper's VGG16 with ImageNet normalization, the official code's VGG19 on raw [-1, 1] images) and PSGAN's official
``net.vgg16(pretrained=True)``, fed the raw [-1, 1] images (``"none"``)."""
