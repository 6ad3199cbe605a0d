"""The first-batch range check (on by default) on real photos: [0, 1] images declared (-1, 1) (the most common LPIPS/GAN
mistake), 0-255 images declared (0, 1), and no warning when the declaration is right."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import perceptual
from perceptual import InputRangeWarning, VGGFeatures
from perceptual._validation import DEFAULT_INPUT_RANGE, warn_range_mismatch

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image ships the real photos")

pytestmark = pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning")


def _photo_0_255() -> torch.Tensor:
    crops = [skimage_data.astronaut()[::8, ::8], skimage_data.chelsea()[:256:4, :448:7]]
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float()


def _extractor(input_range: tuple[float, float]) -> VGGFeatures:
    return VGGFeatures(["relu1_1"], weights="random", input_range=input_range)


def test_unit_images_declared_tanh_warn_once_with_the_fix() -> None:
    vgg = _extractor((-1, 1))
    x = _photo_0_255() / 255
    with pytest.warns(
        InputRangeWarning,
        match=r"input values span \[0, 1\] and use 50% of the declared input_range=\(-1, 1\); if they are 0\.\.1 images, pass input_range=\(0, 1\)",
    ):
        vgg(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputRangeWarning)
        vgg(x)  # first batch only: no second warning, no second sync


def test_0_255_images_declared_unit_warn() -> None:
    with pytest.warns(
        InputRangeWarning,
        match=r"span \[0, 255\] and leave the declared input_range=\(0, 1\); if they are 0\.\.255 images",
    ):
        _extractor((0, 1))(_photo_0_255())


@pytest.mark.parametrize(
    ("input_range", "scale", "shift"), [((-1, 1), 2 / 255, -1), ((0, 1), 1 / 255, 0), ((0, 255), 1, 0)]
)
def test_right_declarations_stay_silent(input_range, scale, shift) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputRangeWarning)
        _extractor(input_range)(_photo_0_255() * scale + shift)


def test_on_by_default_once_and_off_with_false(monkeypatch) -> None:
    """The default extractor checks its first batch (one warning for [0, 1] images declared (-1, 1)); a second
    batch runs no check at all (no call, so no device sync); ``warn_range_mismatch=False`` never checks."""
    import perceptual.features

    calls = []

    def counting(x, name, input_range):
        calls.append(name)
        return warn_range_mismatch(x, name, input_range)

    monkeypatch.setattr(perceptual.features, "warn_range_mismatch", counting)
    x = _photo_0_255() / 255
    vgg = VGGFeatures(["relu1_1"], weights="random", input_range=(-1, 1))
    with pytest.warns(
        InputRangeWarning, match=r"input values span \[0, 1\] and use 50% of the declared input_range=\(-1, 1\)"
    ) as record:
        vgg(x)
    assert len([w for w in record if w.category is InputRangeWarning]) == 1 and calls == ["input"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputRangeWarning)
        vgg(x)
        vgg(x * 255)
        assert calls == ["input"]  # the second and third batches cost no check
        VGGFeatures(["relu1_1"], weights="random", input_range=(-1, 1), warn_range_mismatch=False)(x)
        assert calls == ["input"]


@pytest.mark.parametrize("metric", ["PerceptualLoss", "StyleLoss", "LPIPS", "DISTS"])
def test_losses_and_metrics_check_the_target_by_default(metric: str) -> None:
    """Everything that builds an extractor checks by default, on the target: the real images, not the first outputs
    of an untrained generator (here a flat grey ``pred`` that fits no range well)."""
    target = _photo_0_255()[:, :, :64, :64] / 255
    pred = torch.full_like(target, 0.1)
    module = getattr(perceptual, metric)(weights="random", input_range=(-1, 1))
    with pytest.warns(
        InputRangeWarning, match=r"^target values span \[0, 1\] and use 50% of the declared input_range=\(-1, 1\)"
    ):
        module(pred, target)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputRangeWarning)
        module(pred, target)  # once
        getattr(perceptual, metric)(weights="random", input_range=(-1, 1), warn_range_mismatch=False)(pred, target)


def test_low_contrast_images_inside_their_range_stay_silent() -> None:
    """Spanning little of the declared range is only suspicious when the values fill another common range: a dark
    photo in [0, 0.45] declared (0, 1), or DeepDream's grey noise, is what it says it is."""
    from perceptual.tools.octaves import noise_image

    with warnings.catch_warnings():
        warnings.simplefilter("error", InputRangeWarning)
        _extractor((0, 1))(_photo_0_255() / 255 * 0.45)
        _extractor((0, 1))(noise_image(64, batch=2))
        _extractor((-1, 1))(_photo_0_255() / 255 * 0.6 - 0.3)  # an untrained generator's narrow tanh output
    with pytest.warns(InputRangeWarning, match=r"if they are 0\.\.1 images, pass input_range=\(0, 1\)"):
        _extractor((0, 255))(_photo_0_255() / 255)  # [0, 1] images declared (0, 255): 0.4% of the range


def test_every_default_input_range_is_unit() -> None:
    """One default everywhere: images in [0, 1] (torchvision's convention), LPIPS included."""
    assert DEFAULT_INPUT_RANGE == (0.0, 1.0)
    modules = [
        VGGFeatures(["relu1_1"], weights="random"),
        perceptual.PerceptualLoss(weights="random").extractor,
        perceptual.StyleLoss(weights="random").extractor,
        perceptual.LPIPS(weights="random").extractor,
        perceptual.DISTS(weights="random").extractor,
    ]
    assert [m.input_range for m in modules] == [(0.0, 1.0)] * len(modules)


@pytest.mark.slow
def test_compiled_extractor_checks_outside_its_graph() -> None:
    """``torch.compile(extractor)`` stays one graph (``fullgraph=True`` fails on any graph break) and still checks its
    first batch, once, outside the graph; the eager module then has nothing left to check."""
    vgg = VGGFeatures(["relu1_1"], weights="random", input_range=(-1, 1))
    x = _photo_0_255()[:, :, :32, :32] / 255
    compiled = torch.compile(vgg, backend="eager", fullgraph=True)
    with pytest.warns(
        InputRangeWarning, match=r"input values span \[0, 0\.9765\] and use 49% of the declared input_range=\(-1, 1\)"
    ) as record:
        out = compiled(x)
        compiled(x)
    assert len([w for w in record if w.category is InputRangeWarning]) == 1
    torch.testing.assert_close(
        out["relu1_1"],
        VGGFeatures(["relu1_1"], weights="random", input_range=(-1, 1), warn_range_mismatch=False)(x)["relu1_1"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputRangeWarning)
        vgg(x)  # the first batch was checked by the compiled call
