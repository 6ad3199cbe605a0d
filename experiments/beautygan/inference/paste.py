"""Where a made-up face goes back into its photo: the face's blend weight (1 inside the hull of dlib's 68
landmarks, feathered to 0 at its edge, exactly 0 outside: every pixel outside the face hull stays the photo's, bit
for bit) and the sampling grid that maps each photo pixel of the hull's box to the aligned crop, through the inverse
of the alignment (:func:`~beautygan.data.faces.alignment_matrix`). PSGAN's and EleGANt's demos paste back the same
way. :class:`~beautygan.inference.photo_transfer.PhotoTransfer` computes a :class:`PasteMap` once per photo."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageFilter
from torch import Tensor

from ..data.faces import NoFaceError, label_map_from_landmarks

__all__ = ["PasteMap", "face_weight", "paste_map"]


@dataclass
class PasteMap:
    """Where an aligned face goes back into its photo: the blend ``weight`` over the face hull's bounding ``box``
    ``(left, top, right, bottom)``, the ``grid`` sampling the crop at each of the box's pixels, and the MT
    ``labels`` drawn from the landmarks over the box (for the region masks)."""

    weight: np.ndarray
    box: tuple[int, int, int, int]
    grid: Tensor
    labels: np.ndarray


def face_weight(
    landmarks: np.ndarray, shape: tuple[int, int], *, feather: float
) -> tuple[np.ndarray, tuple[int, int, int, int], np.ndarray]:
    """The blend weight of the face: 1 inside the landmarks' face hull, falling to 0 at its edge over ``feather``
    of its larger side, exactly 0 outside. Returns the weight over the hull's bounding box ``(left, top, right,
    bottom)`` (float32, ``(bottom - top, right - left)``), that box, and the MT label map over the box."""
    height, width = shape
    labels = label_map_from_landmarks(landmarks, (height, width))
    hull = labels != 0
    rows, cols = np.nonzero(hull.any(axis=1))[0], np.nonzero(hull.any(axis=0))[0]
    if len(rows) == 0:
        raise NoFaceError("the face hull from the landmarks lies outside the photo")
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    inside = hull[top:bottom, left:right]
    box_labels = labels[top:bottom, left:right]
    radius = feather * max(bottom - top, right - left)
    if radius < 0.5:
        return inside.astype(np.float32), (left, top, right, bottom), box_labels
    pad = int(np.ceil(3 * radius)) + 1
    padded = np.pad(inside.astype(np.uint8) * 255, pad)
    soft = (
        np.asarray(Image.fromarray(padded).filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32)[
            pad:-pad, pad:-pad
        ]
        / 255
    )
    # 0.5 at the hull's edge after the blur: rescale so the weight reaches 0 there and 1 inside; never outside.
    weight = np.clip(2 * soft - 1, 0, 1) * inside
    return weight.astype(np.float32), (left, top, right, bottom), box_labels


def paste_map(
    landmarks: np.ndarray, matrix: np.ndarray, shape: tuple[int, int], *, size: int, feather: float
) -> PasteMap:
    """The :class:`PasteMap` of a face with these ``landmarks`` (photo pixels) in a photo of ``shape`` ``(H, W)``,
    aligned by ``matrix`` (photo -> crop pixel coordinates) into a ``size`` crop; ``feather`` as in
    :func:`face_weight`."""
    weight, box, labels = face_weight(landmarks, shape, feather=feather)
    left, top, right, bottom = box
    ys, xs = torch.meshgrid(
        torch.arange(top, bottom, dtype=torch.float64) + 0.5,
        torch.arange(left, right, dtype=torch.float64) + 0.5,
        indexing="ij",
    )
    affine = torch.from_numpy(matrix)
    u = affine[0, 0] * xs + affine[0, 1] * ys + affine[0, 2]  # crop coordinates of each photo pixel centre
    v = affine[1, 0] * xs + affine[1, 1] * ys + affine[1, 2]
    grid = torch.stack([u / size * 2 - 1, v / size * 2 - 1], dim=-1).float()[None]
    return PasteMap(weight, box, grid, labels)
