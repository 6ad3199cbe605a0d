"""LPIPS-VGG against the ``lpips`` package (the reference implementation, a test-only dependency) on the same trunk
weights and real photos; calibration handling; loss behaviour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import save_trunk

from perceptual import VGGFeatures
from perceptual.lpips import LPIPS, LPIPS_LAYERS, CalibrationUnavailableError, load_lpips_calibration

lpips_package = pytest.importorskip("lpips", reason="the lpips package is the reference (pip install lpips)")
skimage_data = pytest.importorskip("skimage.data", reason="scikit-image ships the real photos")

pytestmark = pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning", "ignore::UserWarning")


@pytest.fixture(scope="module")
def reference() -> torch.nn.Module:
    torch.manual_seed(0)  # the package's trunk: torchvision's VGG16 with its random init (no download)
    return lpips_package.LPIPS(net="vgg", pnet_rand=True, verbose=False).eval()


@pytest.fixture(scope="module")
def trunk_file(reference, tmp_path_factory) -> str:
    """The package's trunk weights in torchvision's layout (its slices keep torchvision's module indices)."""
    blocks = [getattr(reference.net, name) for name in ("slice1", "slice2", "slice3", "slice4", "slice5")]
    return save_trunk(blocks, tmp_path_factory.mktemp("lpips") / "lpips_trunk_vgg16.pth")


def _photos() -> torch.Tensor:
    """Two real photos (astronaut: a face; coffee) cropped to 96x128, in [-1, 1]."""
    crops = [skimage_data.astronaut()[40:232:2, 150:406:2], skimage_data.coffee()[100:292:2, 200:456:2]]
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 127.5 - 1


def _distorted(x: torch.Tensor) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    blurred = torch.nn.functional.avg_pool2d(x, 5, 1, 2, count_include_pad=False)
    return (blurred + 0.05 * torch.randn(x.shape, generator=g)).clamp(-1, 1)


def test_equals_the_lpips_package_on_real_photos(reference, trunk_file) -> None:
    x = _photos()
    y = _distorted(x)
    swapped = x.flip(0)  # astronaut vs coffee: a large distance
    ours = LPIPS(weights=trunk_file, input_range=(-1, 1))
    with torch.no_grad():
        for a, b in ((x, y), (x, swapped), (y, swapped)):
            expected = reference(a, b).reshape(-1)
            got = ours(a, b)
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-7)
        assert float(ours(x, swapped).min()) > 2 * float(ours(x, y).max())  # sanity of the pair choice
        # [0, 1] images: the package's normalize=True
        ours01 = LPIPS(weights=trunk_file, input_range=(0, 1))
        torch.testing.assert_close(
            ours01((x + 1) / 2, (y + 1) / 2),
            reference((x + 1) / 2, (y + 1) / 2, normalize=True).reshape(-1),
            rtol=1e-5,
            atol=1e-7,
        )


def test_default_input_range_is_unit_as_the_packages_normalize_true(reference, trunk_file) -> None:
    """Without ``input_range``, images are in [0, 1] (this package's one default): the ``lpips`` package with
    ``normalize=True``, not its own [-1, 1] default."""
    x, y = (_photos() + 1) / 2, (_distorted(_photos()) + 1) / 2
    ours = LPIPS(weights=trunk_file)
    assert ours.extractor.input_range == (0.0, 1.0)
    with torch.no_grad():
        got, expected = ours(x, y), reference(x, y, normalize=True).reshape(-1)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-7)
        assert not torch.allclose(got, reference(x, y).reshape(-1), rtol=1e-2)  # [0, 1] read as [-1, 1] differs


def test_spatial_map_equals_the_package(trunk_file) -> None:
    torch.manual_seed(0)
    reference = lpips_package.LPIPS(net="vgg", pnet_rand=True, spatial=True, verbose=False).eval()
    x = _photos()
    y = _distorted(x)
    state = {
        f"features.{k}": v
        for s in ("slice1", "slice2", "slice3", "slice4", "slice5")
        for k, v in getattr(reference.net, s).state_dict().items()
    }
    ours = LPIPS(extractor=VGGFeatures(list(LPIPS_LAYERS), weights=trunk_file, input_range=(-1, 1)), spatial=True)
    for key, value in state.items():  # same seed, same init: the trunk is the fixture's
        assert torch.equal(value, torch.load(trunk_file, weights_only=True)[key])
    with torch.no_grad():
        got, expected = ours(x, y), reference(x, y)
    assert got.shape == expected.shape == (2, 1, 96, 128)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-7)


def test_one_pass_of_features_serves_a_perceptual_loss_and_lpips(reference, trunk_file) -> None:
    extractor = VGGFeatures(["relu4_1", *LPIPS_LAYERS], weights=trunk_file, input_range=(-1, 1))
    metric = LPIPS(extractor=extractor)
    x, y = _photos(), _distorted(_photos())
    with torch.no_grad():
        fx, fy = extractor(x), extractor(y)  # one forward per image batch
        torch.testing.assert_close(metric.from_features(fy, fx), reference(y, x).reshape(-1), rtol=1e-5, atol=1e-7)


def test_as_a_loss_gradient_reaches_pred_only_and_is_finite_at_zero_features(trunk_file) -> None:
    loss = LPIPS(weights=trunk_file, input_range=(-1, 1))
    x = _photos()
    pred = _distorted(x).requires_grad_(True)
    value = loss(pred, x).sum()
    value.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in loss.parameters())
    assert loss.state_dict() == {}  # neither the VGG nor the calibration goes into checkpoints
    # Where every feature is zero, the package's sqrt(sum x^2) + eps has a NaN gradient; eps inside the root does not.
    channels = (64, 128, 256, 512, 512)
    zeros = [torch.zeros(1, c, 4, 4, requires_grad=True) for c in channels]
    target = {name: torch.zeros(1, c, 4, 4) for name, c in zip(LPIPS_LAYERS, channels)}
    loss.from_features(dict(zip(LPIPS_LAYERS, zeros)), target).sum().backward()
    assert all(z.grad is not None and torch.isfinite(z.grad).all() for z in zeros)
    package_norm = lpips_package.normalize_tensor(zeros[0] * 1)
    package_norm.sum().backward()  # the package's formula, for contrast
    assert not torch.isfinite(zeros[0].grad).all()


def test_calibration_equals_the_package_file_and_errors_name_both_ways(tmp_path: Path) -> None:
    shipped = Path(lpips_package.__file__).parent / "weights" / "v0.1" / "vgg.pth"
    state = torch.load(shipped, map_location="cpu", weights_only=True)
    weights = load_lpips_calibration()
    assert [tuple(w.shape) for w in weights] == [(64,), (128,), (256,), (512,), (512,)]
    for index, weight in enumerate(weights):
        assert torch.equal(weight, state[f"lin{index}.model.1.weight"].reshape(-1))
    with pytest.raises(CalibrationUnavailableError, match=r"pip install lpips.*calibration=<path"):
        load_lpips_calibration(tmp_path / "missing.pth")
    torch.save({"lin0.model.1.weight": torch.zeros(1, 3, 1, 1)}, tmp_path / "wrong.pth")
    with pytest.raises(ValueError, match=r"expected lin0.model.1.weight of shape \(1, 64, 1, 1\)"):
        load_lpips_calibration(tmp_path / "wrong.pth")
    with pytest.raises(ValueError, match="does not tap"):
        LPIPS(extractor=VGGFeatures(["relu1_2"], weights="random"))
