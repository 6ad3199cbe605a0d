"""What PSGAN's attention reads of a face besides its pixels: its lips, skin and eye regions and its 68 landmarks
(:class:`~beautygan.models.psgan.FaceGeometry`), from an MT label map and the face's landmarks.

The regions are the official preprocessing's (wtjiang98/PSGAN, ``psgan/preprocess.py``, ``PreProcess.process``):

- lips: the upper and lower lip labels;
- eyes: each eye's box, the bounding box of its six landmarks (36-41, 42-47) with the corners truncated to whole
  pixels and widened by 16 px at 256x256 (scaled with the image's height), keeping the face and nose pixels in it;
- skin: the face and nose labels with the two eye boxes cut out.

Where the two eye boxes overlap (close-set eyes, a turned head) the official code leaves the face's pixels in
neither region (its second box is copied from a face mask the first one has already emptied); so does this one.

Unlike BeautyGAN's loss masks (:mod:`beautygan.data.regions`) the skin has no neck and the eye boxes come from the
landmarks. One difference from the official code: a box that reaches past the image's top or left border is cut at
the border (the official slice with a negative start wraps around to the far side, or selects nothing).

Everything is batched tensor arithmetic on the labels' device: the boxes are comparisons of pixel-coordinate grids.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..models.psgan import FaceGeometry
from .regions import EYE_SURROUND, LIPS

__all__ = ["EYE_BOX_MARGIN_AT_256", "eye_margin", "face_geometry", "psgan_regions"]

EYE_BOX_MARGIN_AT_256 = 16
"""Pixels each eye box is widened by on every side at 256x256 (official ``PreProcess.eye_margin``)."""

_EYES = (slice(42, 48), slice(36, 42))  # the official order: the image's right eye, then its left one


def _labels_nhw(labels: Tensor) -> Tensor:
    if not isinstance(labels, Tensor):
        raise TypeError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
    if labels.ndim == 4 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 3:
        raise ValueError(f"labels must be (N, H, W) or (N, 1, H, W) MT label maps, got shape {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"labels must be integer MT label ids, got dtype {labels.dtype}")
    return labels


def eye_margin(height: int) -> int:
    """The eye boxes' margin for images ``height`` pixels high (16 at 256, scaled)."""
    return round(EYE_BOX_MARGIN_AT_256 * height / 256)


def psgan_regions(labels: Tensor, landmarks: Tensor) -> Tensor:
    """PSGAN's ``(N, 3, H, W)`` float masks (lips, skin, eyes: the order of :data:`~beautygan.models.psgan.REGIONS`) of MT label
    maps ``(N, H, W)`` (or ``(N, 1, H, W)``) and their faces' ``(N, 68, 2)`` landmarks in the maps' pixel
    coordinates, ``(x, y)``."""
    labels = _labels_nhw(labels)
    if not isinstance(landmarks, Tensor) or landmarks.shape != (labels.shape[0], 68, 2):
        shape = tuple(landmarks.shape) if isinstance(landmarks, Tensor) else type(landmarks).__name__
        raise ValueError(f"landmarks must be ({labels.shape[0]}, 68, 2) (x, y) points, one set per map, got {shape}")
    n, height, width = labels.shape
    margin = eye_margin(height)
    lips = (labels == LIPS[0]) | (labels == LIPS[1])
    face = (labels == EYE_SURROUND[0]) | (labels == EYE_SURROUND[1])  # face and nose
    rows = torch.arange(height, device=labels.device).view(1, height, 1)
    cols = torch.arange(width, device=labels.device).view(1, 1, width)
    points = landmarks.to(labels.device, torch.float64)
    boxes = []
    for eye in _EYES:
        # official copy_area: rows int(min y) - m .. int(max y) + m, columns likewise (end exclusive + 1)
        low = torch.trunc(points[:, eye].amin(dim=1)).long() - margin  # (N, 2): x, y
        high = torch.trunc(points[:, eye].amax(dim=1)).long() + margin + 1
        inside_rows = (rows >= low[:, 1].view(n, 1, 1)) & (rows < high[:, 1].view(n, 1, 1))
        inside_cols = (cols >= low[:, 0].view(n, 1, 1)) & (cols < high[:, 0].view(n, 1, 1))
        boxes.append(inside_rows & inside_cols)
    right, left = boxes
    # official copy_area, twice: the second box is filled from the face mask the first one already emptied, so
    # where the boxes overlap a pixel ends up in neither region
    eyes = face & (right ^ left)
    skin = face & ~(right | left)
    return torch.stack([lips, skin, eyes], dim=1).float()  # the order of REGIONS


def face_geometry(labels: Tensor, landmarks: Tensor) -> FaceGeometry:
    """:class:`~beautygan.models.psgan.FaceGeometry` of MT label maps and landmarks (:func:`psgan_regions`, from the
    landmarks as given: float64 points are truncated as float64, as the official code does)."""
    regions = psgan_regions(labels, landmarks)
    return FaceGeometry(regions=regions, landmarks=landmarks.to(labels.device, torch.float32))
