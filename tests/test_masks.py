"""Region-weighted losses (``mask=``) against hand computations: crops of the features, per-layer maps of the
``lpips`` package's own layers, and the area resize as a block mean."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from perceptual import IMAGENET, LPIPS, LPIPS_LAYERS, PerceptualLoss, StyleLoss, VGGFeatures, VGGWeights, resize_mask

pytestmark = pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning", "ignore::UserWarning")


def _images(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(2, 3, 32, 32, generator=g), torch.rand(2, 3, 32, 32, generator=g)


def _regions() -> torch.Tensor:
    """Sample 0: the left half; sample 1: the top-left quadrant (aligned with every pooling up to 8x)."""
    mask = torch.zeros(2, 1, 32, 32)
    mask[0, :, :, :16] = 1
    mask[1, :, :16, :16] = 1
    return mask


def _crop(features: np.ndarray, sample: int, scale: int) -> np.ndarray:
    """The region of ``sample`` cut out of a ``(N, C, h, w)`` feature array at 1/scale of the image."""
    h = 32 // scale
    return features[sample, :, :, : h // 2] if sample == 0 else features[sample, :, : h // 2, : h // 2]


def test_resize_is_the_block_mean() -> None:
    g = torch.Generator().manual_seed(3)
    mask = torch.rand(1, 1, 12, 20, generator=g)
    expected = mask.numpy().reshape(12 // 4, 4, 20 // 4, 4).mean(axis=(1, 3))
    np.testing.assert_allclose(resize_mask(mask, (3, 5))[0, 0].numpy(), expected, rtol=1e-6)


def test_perceptual_mask_equals_the_region_by_hand() -> None:
    layers = {"relu1_2": 1.0, "relu2_2": 0.5}
    extractor = VGGFeatures(list(layers), weights="random")
    loss = PerceptualLoss(layers, extractor=extractor)
    pred, target = _images()
    mask = _regions()
    with torch.no_grad():
        fp = {k: v.numpy().astype(np.float64) for k, v in extractor(pred).items()}
        ft = {k: v.numpy().astype(np.float64) for k, v in extractor(target).items()}
        got_mean = float(loss(pred, target, mask=mask))
        per_sample = PerceptualLoss(layers, extractor=extractor, reduction="none")(pred, target, mask=mask)
        got_sum = float(PerceptualLoss(layers, extractor=extractor, reduction="sum")(pred, target, mask=mask))
    expected_mean = expected_sum = 0.0
    expected_none = np.zeros(2)
    for name, scale in (("relu1_2", 1), ("relu2_2", 2)):
        squares = [(_crop(fp[name], i, scale) - _crop(ft[name], i, scale)) ** 2 for i in range(2)]
        expected_mean += layers[name] * sum(s.sum() for s in squares) / sum(s.size for s in squares)
        expected_sum += layers[name] * sum(s.sum() for s in squares)
        expected_none += layers[name] * np.array([s.mean() for s in squares])
    assert got_mean == pytest.approx(expected_mean, rel=1e-5)
    assert got_sum == pytest.approx(expected_sum, rel=1e-5)
    np.testing.assert_allclose(per_sample.numpy(), expected_none, rtol=1e-5)
    # an all-ones mask is the unmasked loss; an empty one gives 0, not NaN
    with torch.no_grad():
        assert float(loss(pred, target, mask=torch.ones(1, 1, 32, 32))) == pytest.approx(
            float(loss(pred, target)), rel=1e-6
        )
        assert float(loss(pred, target, mask=torch.zeros(2, 32, 32))) == 0.0


def test_style_mask_is_the_gram_of_the_region() -> None:
    layers = {"relu2_2": 1.0}
    extractor = VGGFeatures(list(layers), weights="random")
    pred, target = _images(1)
    mask = _regions()
    with torch.no_grad():
        got = StyleLoss(layers, extractor=extractor, reduction="none")(pred, target, mask=mask.bool())
        fp, ft = (extractor(x)["relu2_2"].numpy().astype(np.float64) for x in (pred, target))
    expected = []
    for i in range(2):
        grams = []
        for f in (fp, ft):
            region = _crop(f, i, 2).reshape(f.shape[1], -1)
            grams.append(region @ region.T / region.size)  # C * (pixels in the region)
        expected.append(((grams[0] - grams[1]) ** 2).mean())
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4)


def test_lpips_mask_averages_the_package_layer_maps_over_the_region() -> None:
    lpips_package = pytest.importorskip("lpips")
    torch.manual_seed(0)
    reference = lpips_package.LPIPS(net="vgg", pnet_rand=True, verbose=False).eval()
    trunk = {
        k: v
        for s in ("slice1", "slice2", "slice3", "slice4", "slice5")
        for k, v in getattr(reference.net, s).state_dict().items()
    }
    weights = VGGWeights(
        arch="vgg16", features=trunk, normalization=IMAGENET, source="lpips trunk", provenance="random"
    )
    ours = LPIPS(extractor=VGGFeatures(list(LPIPS_LAYERS), weights=weights, input_range=(-1, 1)))
    x, y = (t * 2 - 1 for t in _images(2))
    mask = _regions()
    with torch.no_grad():
        got = ours(x, y, mask=mask)
        fx, fy = reference.net(reference.scaling_layer(x)), reference.net(reference.scaling_layer(y))
        expected = np.zeros(2)
        for k in range(5):
            diff = (lpips_package.normalize_tensor(fx[k]) - lpips_package.normalize_tensor(fy[k])) ** 2
            layer_map = reference.lins[k](diff).numpy().astype(np.float64)  # (N, 1, h, w)
            scale = 32 // layer_map.shape[-1]
            expected += [_crop(layer_map, i, scale).mean() for i in range(2)]
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5)


def test_bad_masks_are_refused() -> None:
    loss = PerceptualLoss({"relu1_2": 1.0}, weights="random")
    pred, target = _images()
    with pytest.raises(ValueError, match=r"mask must be .* got shape \(2, 1, 16, 16\)"):
        loss(pred, target, mask=torch.ones(2, 1, 16, 16))
    with pytest.raises(TypeError, match="mask must be float .* or bool, got torch.int64"):
        loss(pred, target, mask=torch.ones(2, 1, 32, 32, dtype=torch.long))
    with pytest.raises(TypeError, match="mask must be a torch.Tensor"):
        loss(pred, target, mask=[[1.0]])
