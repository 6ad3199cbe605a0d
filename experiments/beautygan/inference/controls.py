"""What a user controls in a makeup transfer: how strong the look is, globally and per region, and whose look each
region wears (partial and joint transfer, as EleGANt's ``joint_transfer``, SCGAN's ``--partial`` and CSD-MT's local
transfer offer).

- **Strength** ``s``: 0 is the source, 1 the transfer as the generator makes it. In between, each pixel moves the
  share ``s`` of the way from the source to the transfer. Values above 1 (up to :data:`MAX_STRENGTH`) extrapolate
  that change, a heavier look of the same colours, clipped to the pixel range: the generator was never trained to
  make it. A region's strength multiplies the global one.
- **Regions** (:data:`~beautygan.data.regions.CONTROL_REGIONS`): lips, eyes (the eye-shadow area, brows and eyes
  included) and skin (the rest of the face). They split the face without overlap; each can wear another reference's
  look (``lips=``, ``eyes=``, ``skin=``) or none (a region with no reference, when no whole-face reference is given
  either, keeps the source's own look).
- **Composition**: the whole reference's look at the global strength is the base; each region that asks for
  something else replaces it inside a feathered mask of that region, ``out = base + sum_r w_r (look_r - base)``.
  The masks are a soft partition (they sum to at most 1), so away from its border a region wears exactly its own
  look; a region that asks for the base's own look and strength adds exactly 0, so strength 1 with one reference
  is the plain transfer bit for bit, and strength 0 is the source bit for bit.

The masks come from the MT label maps (:func:`~beautygan.data.regions.control_regions`) of the aligned face, or on
photos from dlib's landmarks drawn as ``prepare-faces`` draws them
(:func:`~beautygan.data.faces.label_map_from_landmarks`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.regions import CONTROL_REGIONS

__all__ = ["MAX_STRENGTH", "MakeupControls", "compose", "feather_regions"]

MAX_STRENGTH = 1.5
"""The largest strength accepted (1 is the generator's own transfer; above it the change is extrapolated)."""


@dataclass(frozen=True)
class MakeupControls:
    """How much makeup, where, and from whom.

    Args:
        strength: the whole look's strength, 0 (the source) to 1 (the transfer); up to 1.5 extrapolates.
        lips_strength, eyes_strength, skin_strength: each region's strength, multiplying ``strength``.
        lips, eyes, skin: a reference whose look that region wears instead of the whole-face reference's (a path,
            a PIL image, an ``(H, W, 3)`` uint8 array, or a photo a
            :class:`~beautygan.inference.photo_transfer.PhotoTransfer` has prepared).

    The default is the plain transfer. Nothing here reads a file: the transfer prepares the references.
    """

    strength: float = 1.0
    lips_strength: float = 1.0
    eyes_strength: float = 1.0
    skin_strength: float = 1.0
    lips: Any = None
    eyes: Any = None
    skin: Any = None

    def __post_init__(self) -> None:
        for name in ("strength", *(f"{region}_strength" for region in CONTROL_REGIONS)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise TypeError(f"{name} must be a number in [0, {MAX_STRENGTH:g}], got {value!r}")
            if not 0 <= value <= MAX_STRENGTH:
                raise ValueError(
                    f"{name} must be in [0, {MAX_STRENGTH:g}] (0: the source, 1: the transfer), got {value:g}"
                )
        for region in CONTROL_REGIONS:
            if self.strength_of(region) > MAX_STRENGTH + 1e-9:
                raise ValueError(
                    f"strength {self.strength:g} x {region}_strength {getattr(self, f'{region}_strength'):g} = "
                    f"{self.strength_of(region):g} is above {MAX_STRENGTH:g}"
                )

    def strength_of(self, region: str) -> float:
        """The strength ``region`` gets: ``strength`` times the region's own."""
        return float(self.strength) * float(getattr(self, f"{_check_region(region)}_strength"))

    def reference_of(self, region: str) -> Any:
        """The reference given for ``region`` alone (``None``: the whole-face reference, if any)."""
        return getattr(self, _check_region(region))

    @property
    def region_references(self) -> dict[str, Any]:
        return {
            region: self.reference_of(region) for region in CONTROL_REGIONS if self.reference_of(region) is not None
        }

    def describe(self) -> str:
        """A short text of what differs from the plain transfer (``""`` for the plain transfer)."""
        parts = []
        defaults = {f.name: f.default for f in fields(self)}
        for name in ("strength", *(f"{region}_strength" for region in CONTROL_REGIONS)):
            if getattr(self, name) != defaults[name]:
                parts.append(f"{name.replace('_', ' ')} {getattr(self, name):g}")
        for region, reference in self.region_references.items():
            parts.append(f"{region} from {getattr(reference, 'name', reference)}")
        return ", ".join(parts)


def _check_region(region: str) -> str:
    if region not in CONTROL_REGIONS:
        raise ValueError(f"unknown region {region!r}; the regions are {', '.join(CONTROL_REGIONS)}")
    return region


def feather_regions(regions: Tensor, radius: float) -> Tensor:
    """Bool region masks ``(N, R, H, W)`` as float weights with soft borders: each mask blurred by a Gaussian of
    standard deviation ``radius / 2``, truncated at ``ceil(radius)`` pixels (so a weight is exactly 0 farther than
    that from its region), and the stack scaled where float rounding made it sum above 1. ``radius < 0.5`` keeps
    the masks hard."""
    if regions.ndim != 4:
        raise ValueError(f"regions must be (N, R, H, W), got shape {tuple(regions.shape)}")
    weights = regions.float()
    if radius < 0.5:
        return weights
    reach = math.ceil(radius)
    offsets = torch.arange(-reach, reach + 1, dtype=torch.float32, device=regions.device)
    kernel = torch.exp(-0.5 * (offsets / (radius / 2)) ** 2)
    kernel = kernel / kernel.sum()
    n, r, h, w = weights.shape
    flat = weights.reshape(n * r, 1, h, w)
    flat = F.conv2d(flat, kernel.view(1, 1, 1, -1), padding=(0, reach))
    flat = F.conv2d(flat, kernel.view(1, 1, -1, 1), padding=(reach, 0))
    weights = flat.reshape(n, r, h, w).clamp_(0, 1)
    total = weights.sum(dim=1, keepdim=True)
    return torch.where(total > 1, weights / total, weights)


def compose(base: Tensor, layers: Sequence[tuple[Tensor, Tensor]]) -> Tensor:
    """``base + sum(weight * (look - base))`` over ``layers`` of ``(weight, look)``: each look replaces the base
    inside its weight. With no layers, ``base`` itself."""
    out = base
    for weight, look in layers:
        out = out + weight * (look - base)
    return out
