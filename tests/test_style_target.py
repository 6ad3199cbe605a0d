"""Style for a batch: one style image of any size serves every sample, its Gram matrices can be kept
(``StyleLoss.set_target``) and give what recomputing them gives; Gatys' average-pooling VGG (``pooling="avg"``).
References: torchvision's VGG16 run by hand and Gram matrices in numpy."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from conftest import reference_taps

from perceptual import VGG16_LAYERS, StyleLoss, VGGFeatures

pytestmark = pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning")

LAYERS = {"relu1_2": 1.0, "relu2_2": 0.5}


def _numpy_gram(features: torch.Tensor) -> np.ndarray:
    f = features.double().numpy()
    n, c, h, w = f.shape
    flat = f.reshape(n, c, h * w)
    return np.einsum("nci,ndi->ncd", flat, flat) / (c * h * w)


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(3)
    return torch.rand(3, 3, 32, 32, generator=g), torch.rand(1, 3, 48, 40, generator=g)  # a batch; one style image


def _by_hand(tv_vgg16, pred, style, reduction: str) -> torch.Tensor:
    with torch.no_grad():
        fp = reference_taps(tv_vgg16, pred, VGG16_LAYERS, depth=9)
        fs = reference_taps(tv_vgg16, style, VGG16_LAYERS, depth=9)
    per_sample = np.zeros(pred.shape[0])
    total = 0.0
    for name, weight in LAYERS.items():
        d = (_numpy_gram(fp[name]) - _numpy_gram(fs[name])) ** 2  # style (1, C, C) against each sample
        per_sample += weight * d.reshape(d.shape[0], -1).mean(axis=1)
        total += weight * (d.mean() if reduction == "mean" else d.sum())
    return torch.tensor(per_sample if reduction == "none" else total, dtype=torch.float32)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_one_style_image_of_another_size_for_a_batch(vgg16_file, tv_vgg16, images, reduction) -> None:
    pred, style = images
    expected = _by_hand(tv_vgg16, pred, style, reduction)
    per_call = StyleLoss(LAYERS, weights=vgg16_file, reduction=reduction)
    kept = StyleLoss(LAYERS, weights=vgg16_file, reduction=reduction)
    kept.set_target(style)
    assert set(kept.target_grams()) == set(LAYERS) and kept.target_grams()["relu1_2"].shape == (1, 64, 64)
    got_per_call, got_kept = per_call(pred, style), kept(pred)
    torch.testing.assert_close(got_per_call, expected, rtol=1e-4, atol=1e-9)
    torch.testing.assert_close(got_kept, got_per_call, rtol=1e-6, atol=0)  # precomputed == recomputed


def test_kept_grams_give_gradients_move_with_the_module_and_stay_out_of_checkpoints(vgg16_file, images) -> None:
    pred, style = images
    loss = StyleLoss(LAYERS, weights=vgg16_file)
    loss.set_target(style)
    x = pred.clone().requires_grad_(True)
    loss(x).backward()
    reference = pred.clone().requires_grad_(True)
    StyleLoss(LAYERS, weights=vgg16_file)(reference, style).backward()
    torch.testing.assert_close(x.grad, reference.grad)
    assert loss.state_dict() == {}
    moved = copy.deepcopy(loss).double()
    assert moved.target_grams()["relu2_2"].dtype == torch.float64
    out = loss(pred, return_features=True)
    assert set(out.pred_features) == set(LAYERS) and out.target_features == {}  # only the Grams are kept
    loss.set_target(None)
    with pytest.raises(TypeError, match=r"StyleLoss needs a target: loss\(pred, target\), or loss.set_target"):
        loss(pred)


def test_a_region_of_the_style_image(vgg16_file, tv_vgg16, images) -> None:
    """``set_target(image, mask=m)`` keeps the region's Grams, ``(F m)(F m)^T / (C * sum(m))``; ``loss(pred, mask=p)``
    compares pred's own region with them."""
    pred, style = images
    style_mask = torch.zeros(1, 1, 48, 40)
    style_mask[..., 8:40, 4:36] = 1
    pred_mask = torch.zeros(1, 1, 32, 32)
    pred_mask[..., :16, :] = 1
    loss = StyleLoss({"relu1_2": 1.0}, weights=vgg16_file)
    loss.set_target(style, mask=style_mask)
    with torch.no_grad():
        fp = reference_taps(tv_vgg16, pred, VGG16_LAYERS, depth=4)["relu1_2"]
        fs = reference_taps(tv_vgg16, style, VGG16_LAYERS, depth=4)["relu1_2"]

    def region_gram(f, m):
        weighted = (f * m).double().numpy().reshape(f.shape[0], f.shape[1], -1)
        return (
            np.einsum("nci,ndi->ncd", weighted, weighted)
            / (f.shape[1] * m.expand(f.shape[0], -1, -1, -1).sum(dim=(1, 2, 3)).double().numpy())[:, None, None]
        )

    expected = ((region_gram(fp, pred_mask) - region_gram(fs, style_mask)) ** 2).mean()
    torch.testing.assert_close(
        loss(pred, mask=pred_mask), torch.tensor(expected, dtype=torch.float32), rtol=1e-4, atol=0
    )


def test_refusals(vgg16_file, images) -> None:
    pred, style = images
    loss = StyleLoss(LAYERS, weights=vgg16_file)
    with pytest.raises(ValueError, match="mask= takes the same region of pred and target.*set_target"):
        loss(pred, style, mask=torch.ones(3, 1, 32, 32))
    with pytest.raises(
        ValueError, match=r"pred and target must have the same shape, got \(3, 3, 32, 32\) and \(2, 3, 48, 40\)"
    ):
        loss(pred, style.expand(2, -1, -1, -1))
    loss.set_target(style.expand(2, -1, -1, -1))
    with pytest.raises(ValueError, match=r"the target set holds 2 images; it serves batches of 1 or 2"):
        loss(pred)
    with pytest.raises(ValueError, match=r"a target is set \(set_target\): call loss\(pred\)"):
        loss(pred[:2], style)
    from perceptual import PerceptualLoss

    with pytest.raises(ValueError, match="same shape"):  # a feature (content) loss compares pixel-aligned maps
        PerceptualLoss(LAYERS, weights=vgg16_file)(pred, style)


def test_average_pooling_trunk_equals_torchvisions_with_avg_pools(vgg16_file, tv_vgg16) -> None:
    """``pooling="avg"``: each 2x2 max pool replaced by a 2x2 average pool (Gatys et al.; piq's
    ``replace_pooling=True``), against torchvision's VGG16 with its pools swapped by hand."""
    averaged = copy.deepcopy(tv_vgg16)
    for index, module in enumerate(averaged):
        if isinstance(module, torch.nn.MaxPool2d):
            averaged[index] = torch.nn.AvgPool2d(kernel_size=2, stride=2)
    x = torch.rand(2, 3, 40, 40, generator=torch.Generator().manual_seed(5))
    ours = VGGFeatures(["relu2_1", "pool3", "relu4_2"], weights=vgg16_file, pooling="avg")(x)
    with torch.no_grad():
        expected = reference_taps(averaged, x, VGG16_LAYERS, depth=21)
    for name, value in ours.items():
        torch.testing.assert_close(value, expected[name], rtol=1e-4, atol=1e-5)
    max_pooled = VGGFeatures(["relu4_2"], weights=vgg16_file)(x)["relu4_2"]
    assert not torch.allclose(max_pooled, ours["relu4_2"], rtol=1e-2)
    with pytest.raises(ValueError, match=r"pooling must be 'max' \(VGG\), 'avg' \(Gatys' style transfer\) or 'l2'"):
        VGGFeatures(["relu1_1"], weights=vgg16_file, pooling="min")  # type: ignore[arg-type]
