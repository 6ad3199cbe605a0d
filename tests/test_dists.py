"""DISTS against the ``dists-pytorch`` package (the authors' reference, a test-only dependency) on the same trunk
weights and real photos; L2 pooling against a hand computation; calibration handling; loss behaviour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import save_trunk

from perceptual import VGGFeatures
from perceptual.dists import DISTS, DISTS_LAYERS, load_dists_calibration
from perceptual.features import L2Pool2d
from perceptual.lpips import CalibrationUnavailableError

dists_module = pytest.importorskip(
    "DISTS_pytorch.DISTS_pt", reason="dists-pytorch is the reference (pip install dists-pytorch)"
)
skimage_data = pytest.importorskip("skimage.data", reason="scikit-image ships the real photos")

pytestmark = pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning", "ignore::UserWarning")


@pytest.fixture(scope="module")
def reference() -> torch.nn.Module:
    """The package's DISTS on a seeded random torchvision VGG16: its constructor would download ImageNet weights,
    so the test (not the library) swaps in an untrained VGG16 for that one call."""
    original = dists_module.models.vgg16
    torch.manual_seed(0)
    dists_module.models.vgg16 = lambda *args, **kwargs: original(weights=None)
    try:
        model = dists_module.DISTS().eval()
    finally:
        dists_module.models.vgg16 = original
    return model


@pytest.fixture(scope="module")
def trunk_file(reference, tmp_path_factory) -> str:
    """The package's trunk in torchvision's layout (its stages keep torchvision's module indices)."""
    blocks = [getattr(reference, stage) for stage in ("stage1", "stage2", "stage3", "stage4", "stage5")]
    return save_trunk(blocks, tmp_path_factory.mktemp("dists") / "dists_trunk_vgg16.pth")


def _photos() -> torch.Tensor:
    """Two real photos (astronaut: a face; coffee) cropped to 96x128, in [0, 1]."""
    crops = [skimage_data.astronaut()[40:232:2, 150:406:2], skimage_data.coffee()[100:292:2, 200:456:2]]
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255


def _distorted(x: torch.Tensor) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    blurred = torch.nn.functional.avg_pool2d(x, 5, 1, 2, count_include_pad=False)
    return (blurred + 0.03 * torch.randn(x.shape, generator=g)).clamp(0, 1)


def test_equals_the_dists_package_on_real_photos(reference, trunk_file) -> None:
    x = _photos()
    y = _distorted(x)
    swapped = x.flip(0)
    ours = DISTS(weights=trunk_file)
    with torch.no_grad():
        for a, b in ((x, y), (x, swapped), (y, swapped)):
            torch.testing.assert_close(ours(a, b), reference(a, b), rtol=1e-5, atol=1e-6)
        assert float(ours(x, swapped).min()) > 1.5 * float(ours(x, y).max())  # sanity of the pair choice
        # tanh-range images give the same values once declared as such
        ours_tanh = DISTS(weights=trunk_file, input_range=(-1, 1))
        torch.testing.assert_close(ours_tanh(x * 2 - 1, y * 2 - 1), reference(x, y), rtol=1e-5, atol=1e-6)


def test_identical_images_score_zero_and_gradients_reach_pred_only(trunk_file) -> None:
    ours = DISTS(weights=trunk_file)
    x = _photos()
    with torch.no_grad():
        torch.testing.assert_close(ours(x, x), torch.zeros(2), atol=1e-6, rtol=0)
    pred = _distorted(x).requires_grad_(True)
    target = x.clone().requires_grad_(True)
    ours(pred, target).sum().backward()
    assert target.grad is None
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in ours.parameters())
    assert ours.state_dict() == {}  # trunk and calibration stay out of checkpoints


def test_l2_pooling_by_hand() -> None:
    x = torch.arange(1.0, 17.0).view(1, 1, 4, 4)
    out = L2Pool2d()(x)
    assert out.shape == (1, 1, 2, 2)
    # output (0, 0): the window centred on input (0, 0) with zero padding; weights [1/4, 1/2, 1/4] per axis.
    weights = {(0, 0): 0.25, (0, 1): 0.125, (1, 0): 0.125, (1, 1): 0.0625}
    expected = sum(w * float(x[0, 0, i, j]) ** 2 for (i, j), w in weights.items()) ** 0.5
    assert abs(float(out[0, 0, 0, 0]) - expected) < 1e-5
    # output (1, 1): centred on input (2, 2), a full 3x3 window
    window = torch.tensor([0.25, 0.5, 0.25])
    full = (torch.outer(window, window) * x[0, 0, 1:4, 1:4].square()).sum().sqrt()
    assert abs(float(out[0, 0, 1, 1]) - float(full)) < 1e-5
    extractor = VGGFeatures(["relu2_2"], weights="random", pooling="l2")
    assert extractor(torch.rand(1, 3, 33, 33))["relu2_2"].shape[-2:] == (17, 17)  # ceil(33 / 2)


def test_calibration_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    alpha, beta = load_dists_calibration()
    assert alpha.shape == beta.shape == (1475,)
    with pytest.raises(CalibrationUnavailableError, match="pip install dists-pytorch.*calibration="):
        load_dists_calibration(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    torch.save({"alpha": torch.zeros(3)}, bad)
    with pytest.raises(ValueError, match="does not hold DISTS calibration"):
        load_dists_calibration(bad)
    with pytest.raises(ValueError, match="L2 pooling"):
        DISTS(extractor=VGGFeatures(list(DISTS_LAYERS), weights="random"))
