"""Where a photo's face geometry comes from at inference: the lips, skin and eye regions and the 68 landmarks that
the PSGAN-style generator's attention reads (:class:`~beautygan.models.psgan.FaceGeometry`), at the size of the
crop the generator sees.

- **Aligned photos** (face detection on): dlib's 68 landmarks from the aligner (:mod:`beautygan.data.faces`),
  mapped into the aligned crop by its alignment matrix (:func:`~beautygan.data.faces.align_face` returns them), and
  an MT label map drawn from them at the crop's size (:func:`~beautygan.data.faces.label_map_from_landmarks`), as
  ``beautygan prepare-faces`` draws the label maps of its training data.
- **Whole images** (``--no-align``; the MT layout): the label map beside the image (``segs/``) and the landmarks
  stored beside it (``landmarks/``, :func:`~beautygan.data.landmarks.read_landmarks`), both scaled to the crop; a
  missing landmark file is made up for by dlib on the image, a missing label map by one drawn from the landmarks.

The regions are PSGAN's (:func:`~beautygan.data.geometry.face_geometry`, equal to the official preprocessing,
wtjiang98/PSGAN ``PreProcess.process``). BeautyGAN's generator needs none of this: callers ask only when the
generator does (:attr:`~beautygan.inference.trained_generator.TrainedGenerator.needs_geometry`).

Landmarks follow dlib's convention (``x`` right, ``y`` down, pixel centres at integers), so resizing an image from
``W`` to ``S`` pixels maps ``x`` to ``(x + 0.5) * S / W - 0.5``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..data.faces import NoFaceError, label_map_from_landmarks
from ..data.geometry import face_geometry
from ..data.landmarks import landmarks_path, read_landmarks, scale_landmarks, shown_size
from ..models.psgan import FaceGeometry

__all__ = [
    "drawn_geometry",
    "detected_landmarks",
    "geometry_of",
    "stored_landmarks",
    "whole_image_geometry",
]


def geometry_of(labels: Any, landmarks: Any) -> FaceGeometry:
    """The :class:`~beautygan.models.psgan.FaceGeometry` (a batch of one) of an ``(S, S)`` MT label map and the
    face's ``(68, 2)`` landmarks in its pixels."""
    labels = torch.as_tensor(np.asarray(labels)).to(torch.int64)
    if labels.ndim != 2:
        raise ValueError(f"labels must be one (H, W) MT label map, got shape {tuple(labels.shape)}")
    points = torch.as_tensor(np.asarray(landmarks, dtype=np.float64))
    return face_geometry(labels[None], points[None])


def drawn_geometry(landmarks: Any, size: int) -> tuple[Tensor, FaceGeometry]:
    """An MT label map drawn from a ``size x size`` crop's landmarks (``(size, size)`` int64, as
    ``beautygan prepare-faces`` draws them) and the crop's geometry."""
    labels = torch.from_numpy(label_map_from_landmarks(landmarks, size).astype(np.int64))
    return labels, geometry_of(labels, landmarks)


def stored_landmarks(image: str | Path, *, size: tuple[int, int]) -> np.ndarray | None:
    """The landmarks stored beside an MT-layout ``image`` (:func:`~beautygan.data.landmarks.read_landmarks`:
    ``None`` when missing, stale or malformed), scaled from the image's pixels as shown (EXIF orientation applied, as
    its points are) to ``size = (height, width)``."""
    points = read_landmarks(image)
    if points is None:
        return None
    return scale_landmarks(points, shown_size(image), size)


def detected_landmarks(models: Any, image: np.ndarray, *, size: tuple[int, int], name: str) -> np.ndarray:
    """dlib's landmarks of the largest face in ``image`` (``(H, W, 3)`` uint8), scaled to ``size = (height,
    width)``; :class:`~beautygan.data.faces.NoFaceError` naming ``name`` when there is no face."""
    faces = models.detect(image)
    if not faces:
        raise NoFaceError(
            f"no face found in {name} ({image.shape[1]}x{image.shape[0]}): the PSGAN-style generator needs the "
            "face's 68 landmarks"
        )
    return scale_landmarks(faces[0].landmarks, image.shape[:2], size)


def whole_image_geometry(
    image: np.ndarray,
    *,
    size: int,
    name: str,
    path: str | Path | None = None,
    labels: Tensor | None = None,
    models: Callable[[str], Any],
) -> tuple[Tensor, FaceGeometry]:
    """The label map and geometry of ``image`` (``(H, W, 3)`` uint8, the file's pixels) used whole, resized to
    ``size x size``. Landmarks: the file stored beside ``path`` (the MT layout), else dlib on ``image`` (``models``
    is called with the reason and returns dlib's :class:`~beautygan.data.faces.FaceModels`, or raises). Labels:
    ``labels`` (the MT label map at ``size``) when given, else drawn from the landmarks."""
    points = stored_landmarks(path, size=(size, size)) if path is not None else None
    if points is None:
        stored = landmarks_path(path) if path is not None else None
        where = f"no landmark file {stored}" if stored is not None else "no landmark file (not in the MT layout)"
        points = detected_landmarks(models(f"{name} has {where}"), image, size=(size, size), name=name)
    if labels is None:
        return drawn_geometry(points, size)
    labels = labels.reshape(labels.shape[-2:]).to(torch.int64)
    return labels, geometry_of(labels, points)
