"""Bad tensors get one clear error naming what came: masks outside [0, 1] or not finite, metric inputs below the
one minimum size, NaN or infinite images (which input, how many values, which samples)."""

from __future__ import annotations

import re

import pytest
import torch

import perceptual

pytestmark = pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning")


@pytest.fixture(scope="module")
def images() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.rand(2, 3, 32, 32, generator=generator), torch.rand(2, 3, 32, 32, generator=generator)


@pytest.mark.parametrize(
    ("fill", "expected"),
    [
        (-1.0, "values in [-1, -1]"),
        (1.5, "values in [0, 1.5]"),
        (float("nan"), "1 NaN or infinite"),
        (float("inf"), "1 NaN or infinite"),
    ],
)
def test_a_mask_outside_zero_one_or_not_finite_is_refused(images, fill: float, expected: str) -> None:
    x, y = images
    mask = torch.zeros(2, 1, 32, 32)
    mask[:, :, 8:24, 8:24] = 1.0
    if fill == -1.0:
        mask = torch.full_like(mask, fill)  # all negative: the region average was a ratio of two negative sums
    else:
        mask[1, 0, 3, 3] = fill  # one bad weight among valid ones
    for loss in (perceptual.PerceptualLoss({"relu2_1": 1.0}, weights="random"), perceptual.StyleLoss(weights="random")):
        with pytest.raises(ValueError, match=re.escape(expected)):
            loss(x, y, mask=mask)
    with pytest.raises(ValueError, match=re.escape(expected)):
        perceptual.LPIPS(weights="random")(x, y, mask=mask)
    # A valid weight mask still works, and a bool mask needs no value check.
    good = mask.clamp(0, 1).nan_to_num(0.0)
    assert torch.isfinite(perceptual.PerceptualLoss({"relu2_1": 1.0}, weights="random")(x, y, mask=good))
    assert torch.isfinite(perceptual.PerceptualLoss({"relu2_1": 1.0}, weights="random")(x, y, mask=good > 0.5))


@pytest.mark.parametrize("metric", ["LPIPS", "DISTS"])
@pytest.mark.parametrize("size", [1, 8, 15])
def test_every_metric_has_one_minimum_size(metric: str, size: int) -> None:
    module = getattr(perceptual, metric)(weights="random")
    small = torch.rand(1, 3, size, 16)
    with pytest.raises(ValueError, match=rf"^{metric} needs images of at least 16x16 .* got pred of {size}x16"):
        module(small, small)
    at_minimum = torch.rand(1, 3, 16, 16)
    assert module(at_minimum, at_minimum).shape == (1,)


def _bad_images(shape=(3, 3, 32, 32)) -> torch.Tensor:
    x = torch.rand(*shape)
    x[0, 0, 0, 0] = float("nan")
    x[0, 1, 2, 3] = float("nan")
    x[2, 2, 5, 5] = float("-inf")
    return x


def test_non_finite_inputs_name_the_input_the_count_and_the_samples(images) -> None:
    bad, good = _bad_images(), torch.rand(3, 3, 32, 32)
    expected = "has 3 non-finite value(s) of 9216 (2 NaN, 1 inf) in sample(s) 0, 2 of its batch of shape (3, 3, 32, 32)"
    with pytest.raises(ValueError, match=re.escape(f"input {expected}")):
        perceptual.VGGFeatures(["relu1_2"], weights="random", check_finite=True)(bad)
    modules = [
        perceptual.PerceptualLoss({"relu1_2": 1.0}, weights="random", check_finite=True),
        perceptual.LPIPS(weights="random", check_finite=True),
        perceptual.DISTS(weights="random", check_finite=True),
    ]
    for module in modules:
        with pytest.raises(ValueError, match=re.escape(f"pred {expected}")):
            module(bad, good)
        with pytest.raises(ValueError, match=re.escape(f"target {expected}")):
            module(good, bad)
    # Without the opt-in check the NaN goes through: the check is what catches it.
    assert torch.isnan(perceptual.LPIPS(weights="random")(bad, good)[0])
