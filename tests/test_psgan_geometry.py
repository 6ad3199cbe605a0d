"""PSGAN's regions from MT label maps and landmarks (:mod:`beautygan.data.geometry`) against the independent
transcription of the official preprocessing (``tests/_official_psgan.py``, ``official_process``), on procedural
faces in many poses with the landmarks they are drawn from, at 256 and 64 px."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _official_psgan import official_process

from beautygan.data.geometry import eye_margin, face_geometry, psgan_regions
from beautygan.data.synthetic import FaceParams, render
from beautygan.data.synthetic_pose import random_pose


def _faces(size: int, count: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    faces = []
    for i in range(count):
        params = FaceParams.draw(rng, makeup=bool(i % 2))
        faces.append(render(params, size=size, pose=random_pose(rng, 1.0 if i else 0.0)))
    return faces


@pytest.mark.parametrize("size", [256, 64])
def test_regions_equal_the_official_preprocessing_in_a_batch(size: int) -> None:
    faces = _faces(size, 6, seed=size)
    labels = torch.from_numpy(np.stack([f.labels for f in faces]).astype(np.int64))
    landmarks = torch.from_numpy(np.stack([f.landmarks for f in faces]))
    ours = psgan_regions(labels, landmarks)
    for i, face in enumerate(faces):
        official, _ = official_process(
            torch.from_numpy(face.labels.astype(np.float32))[None, None],
            face.landmarks[:, ::-1].copy(),  # the official (y, x)
            img_size=size,
            feature_size=size // 4,
            eye_margin=eye_margin(size),
        )
        assert torch.equal(ours[i], official[:, 0]), i
        lips, skin, eyes = official[:, 0]
        assert lips.sum() > 0 and skin.sum() > 0 and eyes.sum() > 0  # every region present: the check means something


def test_the_regions_do_not_overlap_and_the_eye_boxes_leave_the_skin() -> None:
    (face,) = _faces(128, 1, seed=3)
    regions = psgan_regions(
        torch.from_numpy(face.labels.astype(np.int64))[None], torch.from_numpy(face.landmarks)[None]
    )
    assert regions.sum(dim=1).max() == 1
    x, below = face.landmarks[36:42, 0].mean(), face.landmarks[36:42, 1].max() + 3  # the skin under an eye
    under = (round(below), slice(round(x) - 3, round(x) + 4))
    assert regions[0, 2][under].sum() == 7 and regions[0, 1][under].sum() == 0  # the eye region's, not the skin's


def test_face_geometry_carries_the_landmarks_and_refuses_bad_input() -> None:
    (face,) = _faces(64, 1, seed=5)
    labels = torch.from_numpy(face.labels.astype(np.int64))[None]
    geometry = face_geometry(labels, torch.from_numpy(face.landmarks)[None])
    assert geometry.size == (64, 64) and torch.equal(geometry.landmarks[0], torch.from_numpy(face.landmarks).float())
    with pytest.raises(ValueError, match=r"landmarks must be \(1, 68, 2\)"):
        psgan_regions(labels, torch.zeros(1, 5, 2))
    with pytest.raises(TypeError, match="integer MT label ids"):
        psgan_regions(labels.float(), torch.zeros(1, 68, 2))
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        psgan_regions(labels[0], torch.zeros(1, 68, 2))


def test_face_geometry_truncates_float64_landmarks_as_the_official_code() -> None:
    """Landmarks a hair below a whole pixel (float64, as a photo's are): the eye boxes come from the points as given,
    not from their float32 rounding (which lands on the next pixel and moves every box edge by one)."""
    (face,) = _faces(64, 1, seed=7)
    points = face.landmarks.astype(np.float64)
    points[36:48] = np.floor(points[36:48]) + 1 - 1e-9  # float32 rounds these up to the next whole pixel
    assert (np.float32(points[36:48]) == np.floor(points[36:48]) + 1).all()
    labels = torch.from_numpy(face.labels.astype(np.int64))[None]
    official, _ = official_process(
        torch.from_numpy(face.labels.astype(np.float32))[None, None],
        points[:, ::-1].copy(),
        img_size=64,
        feature_size=16,
        eye_margin=eye_margin(64),
    )
    geometry = face_geometry(labels, torch.from_numpy(points)[None])
    assert torch.equal(geometry.regions[0], official[:, 0])
    assert not torch.equal(psgan_regions(labels, torch.from_numpy(points).float()[None])[0], official[:, 0])
