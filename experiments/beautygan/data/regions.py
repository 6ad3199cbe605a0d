"""Face regions of the MT dataset's face-parsing label maps, and BeautyGAN's makeup-loss masks.

Labels follow the MT dataset (Li et al., "BeautyGAN", ACM MM 2018) and the official code
(wtjiang98/BeautyGAN_pytorch): lips = upper + lower lip; skin = face + nose + neck; eye shadow = face + nose
pixels inside each eye's bounding box widened by 10 px at 256x256 (scaled with the image size).

All masks are computed batched on the device with tensor ops only: no ``nonzero()``, no host syncs. An image with
no pixel of an eye gets an empty eye-shadow mask (the makeup loss then gives zero for that sample) instead of the
official code's ``continue``, which skips the step and would desynchronize DDP ranks.

:func:`control_regions` splits the face into the three regions a user controls at inference (lips, eyes, skin):
unlike the loss masks they cover the whole face between them and never overlap.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, NamedTuple

import torch
from torch import Tensor

__all__ = ["CONTROL_REGIONS", "FaceRegion", "control_regions", "named_regions", "region_masks"]

EYE_MARGIN_AT_256 = 10
"""Pixels the eye bounding box is widened by on each side at 256x256 (official ``rebound_box``)."""


class FaceRegion(IntEnum):
    """MT dataset face-parsing labels."""

    BACKGROUND = 0
    FACE = 1
    LEFT_BROW = 2
    RIGHT_BROW = 3
    LEFT_EYE = 4
    RIGHT_EYE = 5
    NOSE = 6
    UPPER_LIP = 7
    TEETH = 8
    LOWER_LIP = 9
    HAIR = 10
    LEFT_EAR = 11
    RIGHT_EAR = 12
    NECK = 13


LIPS = (FaceRegion.UPPER_LIP, FaceRegion.LOWER_LIP)
SKIN = (FaceRegion.FACE, FaceRegion.NOSE, FaceRegion.NECK)
EYE_SURROUND = (FaceRegion.FACE, FaceRegion.NOSE)
FACE_PARTS = (
    FaceRegion.FACE,
    FaceRegion.LEFT_BROW,
    FaceRegion.RIGHT_BROW,
    FaceRegion.LEFT_EYE,
    FaceRegion.RIGHT_EYE,
    FaceRegion.NOSE,
    FaceRegion.UPPER_LIP,
    FaceRegion.TEETH,
    FaceRegion.LOWER_LIP,
)
"""The face, as a makeup transfer may change it: skin, brows, eyes, nose, lips and teeth (no hair, ears or neck)."""

CONTROL_REGIONS = ("lips", "eyes", "skin")
"""The regions a user controls at inference, in the order :func:`control_regions` stacks them."""


class RegionMasks(NamedTuple):
    """Boolean masks ``(N, 1, H, W)`` for each makeup-loss region."""

    lips: Tensor
    skin: Tensor
    left_eye_shadow: Tensor
    right_eye_shadow: Tensor


def _check_labels(labels: Tensor) -> Tensor:
    if not isinstance(labels, Tensor):
        raise TypeError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
    if labels.ndim == 3:
        labels = labels.unsqueeze(1)
    if labels.ndim != 4 or labels.shape[1] != 1:
        raise ValueError(f"labels must be (N, H, W) or (N, 1, H, W) label maps, got shape {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"labels must be an integer tensor of MT label ids, got dtype {labels.dtype}")
    return labels


def _label_bits(labels: Tensor) -> Tensor:
    """``1 << label`` (int64), so that any set of labels is tested with two elementwise ops."""
    return torch.bitwise_left_shift(torch.ones_like(labels, dtype=torch.int64), labels.clamp(0, 62).long())


def _isin(bits: Tensor, ids: tuple[FaceRegion, ...]) -> Tensor:
    return (bits & sum(1 << int(label) for label in ids)) != 0


def _span(any_along: Tensor) -> tuple[Tensor, Tensor]:
    """First and last True index along the last dim (garbage where the row is all False)."""
    length = any_along.shape[-1]
    as_int = any_along.to(torch.uint8)
    first = as_int.argmax(dim=-1)
    last = length - 1 - as_int.flip(-1).argmax(dim=-1)
    return first, last


def _eye_boxes(
    labels: Tensor, eyes: tuple[FaceRegion, ...], margin_at_256: float, *, margin: int | None = None
) -> Tensor:
    """Bool ``(N, len(eyes), H, W)``: each eye's bounding box widened by the margin (``margin`` pixels, or
    ``margin_at_256`` scaled with the map's height and width); empty without the eye."""
    height, width = labels.shape[-2:]
    margin_h = round(margin_at_256 * height / 256) if margin is None else margin
    margin_w = round(margin_at_256 * width / 256) if margin is None else margin
    eye_pixels = torch.cat([labels == int(eye) for eye in eyes], dim=1)  # (N, E, H, W)
    rows_any = eye_pixels.any(dim=3)  # (N, E, H)
    cols_any = eye_pixels.any(dim=2)  # (N, E, W)
    top, bottom = _span(rows_any)
    left, right = _span(cols_any)
    present = rows_any.any(dim=2, keepdim=True)
    rows = torch.arange(height, device=labels.device)
    cols = torch.arange(width, device=labels.device)
    in_rows = (rows >= (top - margin_h).unsqueeze(-1)) & (rows <= (bottom + margin_h).unsqueeze(-1)) & present
    in_cols = (cols >= (left - margin_w).unsqueeze(-1)) & (cols <= (right + margin_w).unsqueeze(-1))
    return in_rows.unsqueeze(-1) & in_cols.unsqueeze(-2)


def eye_shadow_mask(labels: Tensor, eye: FaceRegion, *, margin_at_256: int = EYE_MARGIN_AT_256) -> Tensor:
    """Face and nose pixels inside ``eye``'s bounding box widened by ``margin_at_256 * size / 256`` px.

    ``labels``: ``(N, H, W)`` or ``(N, 1, H, W)`` integer label maps. Returns a bool ``(N, 1, H, W)`` mask, empty for
    samples without any pixel of ``eye``. The box is clipped at the image border (the official slicing wraps around
    when the eye lies within 10 px of the top or left edge; that is a bug, not kept).
    """
    labels = _check_labels(labels)
    if eye not in (FaceRegion.LEFT_EYE, FaceRegion.RIGHT_EYE):
        raise ValueError(f"eye must be FaceRegion.LEFT_EYE or FaceRegion.RIGHT_EYE, got {eye!r}")
    return _eye_boxes(labels, (eye,), margin_at_256) & _isin(_label_bits(labels), EYE_SURROUND)


def region_masks(labels: Tensor, *, margin_at_256: int = EYE_MARGIN_AT_256) -> RegionMasks:
    """All four makeup-loss masks for a batch of MT label maps (see the module docstring)."""
    labels = _check_labels(labels)
    bits = _label_bits(labels)
    eye_shadow = _eye_boxes(labels, (FaceRegion.LEFT_EYE, FaceRegion.RIGHT_EYE), margin_at_256) & _isin(
        bits, EYE_SURROUND
    )
    return RegionMasks(
        lips=_isin(bits, LIPS),
        skin=_isin(bits, SKIN),
        left_eye_shadow=eye_shadow[:, :1],
        right_eye_shadow=eye_shadow[:, 1:],
    )


def stacked_region_masks(labels: Tensor, *, margin_at_256: int = EYE_MARGIN_AT_256) -> Tensor:
    """The four masks of :func:`region_masks` stacked as channels ``(N, 4, H, W)``: lips, skin, left and right
    eye shadow (the layout :func:`~beautygan.training.histogram.histogram_matching_loss` takes)."""
    return torch.cat(list(region_masks(labels, margin_at_256=margin_at_256)), dim=1)


def control_regions(
    labels: Tensor, *, margin_at_256: float = EYE_MARGIN_AT_256, face_side: float | None = None
) -> Tensor:
    """The face split into the regions of :data:`CONTROL_REGIONS`, bool ``(N, 3, H, W)``: ``lips`` (upper and
    lower lip), ``eyes`` (the face parts, brows and eyes included, inside each eye's bounding box widened as for the
    eye-shadow loss), ``skin`` (the rest of the face: :data:`FACE_PARTS` less lips and eyes). The three never
    overlap and together cover the face.

    The eye boxes are widened by ``margin_at_256`` pixels per 256 of the aligned face's side: the map's height for
    aligned crops (MT images), or ``face_side``, the side the aligned crop would have in the map's pixels (a label
    map drawn over a photo)."""
    labels = _check_labels(labels)
    bits = _label_bits(labels)
    face = _isin(bits, FACE_PARTS)
    lips = _isin(bits, LIPS)
    margin = None if face_side is None else round(margin_at_256 * face_side / 256)
    boxes = _eye_boxes(labels, (FaceRegion.LEFT_EYE, FaceRegion.RIGHT_EYE), margin_at_256, margin=margin)
    boxes = boxes.any(dim=1, keepdim=True)
    eyes = boxes & face & ~lips
    return torch.cat([lips, eyes, face & ~lips & ~eyes], dim=1)


def named_regions(batch: dict[str, Tensor] | Any) -> dict[str, Tensor]:
    """The source's ``lips``, ``eye_shadow``, ``skin`` and ``background`` masks ``(N, 1, H, W)`` of an
    :class:`~beautygan.data.mt.MTDataset` batch (views of its loss masks; computed from the label maps when the batch
    has none): what the feature-map monitor measures VGG distances inside."""
    masks = batch["source_masks"] if "source_masks" in batch else stacked_region_masks(batch["source_labels"])
    labels = _check_labels(batch["source_labels"])
    return {
        "lips": masks[:, 0:1],
        "eye_shadow": masks[:, 2:3] | masks[:, 3:4],
        "skin": masks[:, 1:2],
        "background": labels == int(FaceRegion.BACKGROUND),
    }
