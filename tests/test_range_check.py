"""The opt-in first-batch range check on real photos: [0, 1] images declared (-1, 1) (the most common LPIPS/GAN
mistake), 0-255 images declared (0, 1), and no warning when the declaration is right."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from perceptual import InputRangeWarning, VGGFeatures

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image ships the real photos")

pytestmark = pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning")


def _photo_0_255() -> torch.Tensor:
    crops = [skimage_data.astronaut()[::8, ::8], skimage_data.chelsea()[:256:4, :448:7]]
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float()


def _extractor(input_range: tuple[float, float]) -> VGGFeatures:
    return VGGFeatures(["relu1_1"], weights="random", input_range=input_range, warn_range_mismatch=True)


def test_unit_images_declared_tanh_warn_once_with_the_fix() -> None:
    vgg = _extractor((-1, 1))
    x = _photo_0_255() / 255
    with pytest.warns(InputRangeWarning, match=r"input values span \[0, 1\] and use 50% of the declared input_range=\(-1, 1\); if they are 0\.\.1 images, pass input_range=\(0, 1\)"):
        vgg(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputRangeWarning)
        vgg(x)  # first batch only: no second warning, no second sync


def test_0_255_images_declared_unit_warn() -> None:
    with pytest.warns(InputRangeWarning, match=r"span \[0, 255\] and leave the declared input_range=\(0, 1\); if they are 0\.\.255 images"):
        _extractor((0, 1))(_photo_0_255())


@pytest.mark.parametrize(("input_range", "scale", "shift"), [((-1, 1), 2 / 255, -1), ((0, 1), 1 / 255, 0), ((0, 255), 1, 0)])
def test_right_declarations_stay_silent(input_range, scale, shift) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputRangeWarning)
        _extractor(input_range)(_photo_0_255() * scale + shift)


def test_off_by_default() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputRangeWarning)
        VGGFeatures(["relu1_1"], weights="random", input_range=(-1, 1))(_photo_0_255() / 255)
