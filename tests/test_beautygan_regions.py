"""Region masks on hand-built MT label maps."""

from __future__ import annotations

import pytest
import torch

from beautygan.data.regions import FaceRegion, eye_shadow_mask, region_masks


def _face(size: int = 256) -> torch.Tensor:
    labels = torch.zeros(size, size, dtype=torch.int64)
    labels[40:220, 40:220] = 1  # face
    labels[200:256, 100:160] = 13  # neck
    labels[120:150, 120:136] = 6  # nose
    labels[100:106, 70:90] = 4  # left eye: rows 100..105, cols 70..89
    labels[100:106, 160:180] = 5  # right eye
    labels[170:175, 110:150] = 7
    labels[175:180, 110:150] = 9
    labels[175:177, 120:130] = 8  # teeth: not lips
    return labels


def test_mt_labels_are_named() -> None:
    assert FaceRegion.UPPER_LIP == 7 and FaceRegion.LOWER_LIP == 9 and FaceRegion.NECK == 13
    assert [r.value for r in FaceRegion] == list(range(14))


def test_lips_and_skin() -> None:
    labels = _face()
    masks = region_masks(labels[None])
    expected_lips = (labels == 7) | (labels == 9)
    expected_skin = (labels == 1) | (labels == 6) | (labels == 13)
    assert masks.lips.shape == (1, 1, 256, 256) and masks.lips.dtype == torch.bool
    assert torch.equal(masks.lips[0, 0], expected_lips)
    assert torch.equal(masks.skin[0, 0], expected_skin)
    assert not masks.lips[0, 0, 176, 125]  # teeth


def test_eye_shadow_box_widened_by_10px_at_256() -> None:
    labels = _face()
    mask = eye_shadow_mask(labels[None], FaceRegion.LEFT_EYE)[0, 0]
    expected = torch.zeros(256, 256, dtype=torch.bool)
    expected[90:116, 60:100] = True  # rows 100-10 .. 105+10, cols 70-10 .. 89+10, inclusive
    expected &= (labels == 1) | (labels == 6)
    assert torch.equal(mask, expected)
    assert not mask[102, 75]  # the eye itself is not eye shadow


def test_margin_scales_with_size_and_box_clips_at_border() -> None:
    labels = torch.ones(1, 64, 64, dtype=torch.int64)
    labels[0, 1:3, 20:24] = 4  # near the top edge; margin at 64 px: round(10 * 64 / 256) = round(2.5) = 2
    mask = eye_shadow_mask(labels, FaceRegion.LEFT_EYE)[0, 0]
    rows = torch.nonzero(mask.any(1)).flatten()
    cols = torch.nonzero(mask.any(0)).flatten()
    assert rows.min() == 0 and rows.max() == 2 + 2
    assert cols.min() == 20 - 2 and cols.max() == 23 + 2


def test_batched_with_missing_eye_gives_empty_mask_only_for_that_sample() -> None:
    closed = _face()
    closed[closed == 5] = 1  # right eye closed
    labels = torch.stack([_face(), closed])
    masks = region_masks(labels)
    assert masks.right_eye_shadow[0].any() and not masks.right_eye_shadow[1].any()
    assert torch.equal(masks.left_eye_shadow[0], masks.left_eye_shadow[1])
    alone = eye_shadow_mask(_face()[None], FaceRegion.RIGHT_EYE)
    assert torch.equal(masks.right_eye_shadow[:1], alone)


def test_bad_labels_raise() -> None:
    with pytest.raises(TypeError, match="integer"):
        region_masks(torch.zeros(1, 8, 8))
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        region_masks(torch.zeros(1, 2, 8, 8, dtype=torch.int64))
    with pytest.raises(ValueError, match="LEFT_EYE"):
        eye_shadow_mask(torch.zeros(1, 8, 8, dtype=torch.int64), FaceRegion.NOSE)
