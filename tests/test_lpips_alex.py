"""LPIPS on AlexNet and SqueezeNet against the ``lpips`` package (``net="alex"``, its default, and ``net="squeeze"``) on
the same trunk weights and real photos; the trunks' weights found and labelled as VGG's are; ``reduction=``; float32
under autocast."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import save_trunk

from perceptual import LPIPS, RandomWeightsWarning, WeightsUnavailableError
from perceptual.lpips_trunks import LPIPS_TRUNK_LAYERS, LPIPSTrunk, load_lpips_trunk_weights
from perceptual.weights import vgg_provenance

lpips_package = pytest.importorskip("lpips", reason="the lpips package is the reference (pip install lpips)")
skimage_data = pytest.importorskip("skimage.data", reason="scikit-image ships the real photos")

SLICES = {"alex": 5, "squeeze": 7}


@pytest.fixture(scope="module", params=["alex", "squeeze"])
def net(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def reference(net) -> torch.nn.Module:
    torch.manual_seed(0)  # the package's trunk: torchvision's network with its random init (no download)
    return lpips_package.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False).eval()


@pytest.fixture(scope="module")
def trunk_file(net, reference, tmp_path_factory) -> str:
    """The package's trunk in torchvision's layout (its slices keep torchvision's ``features`` indices)."""
    blocks = [getattr(reference.net, f"slice{i}") for i in range(1, SLICES[net] + 1)]
    return save_trunk(blocks, tmp_path_factory.mktemp("lpips") / f"lpips_trunk_{net}.pth")


def _photos() -> torch.Tensor:
    """Three real photos (astronaut: a face; coffee; chelsea) cropped to 96x128, in [-1, 1]."""
    crops = [
        skimage_data.astronaut()[40:232:2, 150:406:2],
        skimage_data.coffee()[100:292:2, 200:456:2],
        skimage_data.chelsea()[0:192:2, 100:356:2],
    ]
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 127.5 - 1


def _distorted(x: torch.Tensor) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    blurred = torch.nn.functional.avg_pool2d(x, 5, 1, 2, count_include_pad=False)
    return (blurred + 0.05 * torch.randn(x.shape, generator=g)).clamp(-1, 1)


def test_equals_the_lpips_package_on_real_photos(net, reference, trunk_file) -> None:
    x = _photos()
    y = _distorted(x)
    swapped = x.roll(1, 0)  # a different photo: a large distance
    ours = LPIPS(net=net, weights=trunk_file, input_range=(-1, 1))
    assert ours.extractor.layers == LPIPS_TRUNK_LAYERS[net]
    with torch.no_grad():
        for a, b in ((x, y), (x, swapped), (y, swapped)):
            torch.testing.assert_close(ours(a, b), reference(a, b).reshape(-1), rtol=1e-5, atol=1e-7)
        assert float(ours(x, swapped).min()) > 2 * float(ours(x, y).max())  # sanity of the pair choice
        # [0, 1] images (this package's default range): the package's normalize=True
        ours01 = LPIPS(net=net, weights=trunk_file)
        torch.testing.assert_close(
            ours01((x + 1) / 2, (y + 1) / 2),
            reference((x + 1) / 2, (y + 1) / 2, normalize=True).reshape(-1),
            rtol=1e-5,
            atol=1e-7,
        )


def test_spatial_map_equals_the_package(net, trunk_file) -> None:
    torch.manual_seed(0)
    reference = lpips_package.LPIPS(net=net, pnet_rand=True, spatial=True, verbose=False).eval()
    x = _photos()
    y = _distorted(x)
    ours = LPIPS(net=net, weights=trunk_file, input_range=(-1, 1), spatial=True)
    with torch.no_grad():
        got, expected = ours(x, y), reference(x, y)
    assert got.shape == expected.shape == (3, 1, 96, 128)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-7)


def test_reduction_and_gradient(net, reference, trunk_file) -> None:
    x = _photos()
    y = _distorted(x)
    with torch.no_grad():
        per_image = reference(y, x).reshape(-1)
    mean = LPIPS(net=net, weights=trunk_file, input_range=(-1, 1), reduction="mean")
    total = LPIPS(net=net, weights=trunk_file, input_range=(-1, 1), reduction="sum")
    pred = y.clone().requires_grad_(True)
    value = mean(pred, x)
    assert value.shape == ()
    torch.testing.assert_close(value.detach(), per_image.mean(), rtol=1e-5, atol=1e-8)
    with torch.no_grad():
        torch.testing.assert_close(total(y, x), per_image.sum(), rtol=1e-5, atol=1e-8)
    value.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in mean.parameters())
    assert mean.state_dict() == {}  # neither the trunk nor the calibration goes into checkpoints
    with pytest.raises(ValueError, match="reduction must be 'none'"):
        LPIPS(net=net, weights=trunk_file, reduction="avg")
    with pytest.raises(ValueError, match="spatial=True returns one map per image"):
        LPIPS(net=net, weights=trunk_file, spatial=True, reduction="mean")


# Largest relative error under bf16 autocast on these photos, with the distance in float32 (measured: VGG 2.7e-4,
# AlexNet 1.2e-3, SqueezeNet 1.6e-3); computed in the features' bf16 it was 2.2e-3, 3.4e-3 and 4.9e-3.
BF16_BOUND = {"vgg": 1e-3, "alex": 2e-3, "squeeze": 2.5e-3}


def _bf16_relative_error(ours: LPIPS) -> float:
    x = _photos()
    y = _distorted(x)
    with torch.no_grad():
        exact = ours(x, y)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = ours(x, y)
    assert exact.dtype == low.dtype == torch.float32
    return float(((low - exact).abs() / exact).max())


def test_float32_under_bf16_autocast(net, trunk_file) -> None:
    """Features under autocast are bf16; the distance is computed in float32 from them, as the other losses are."""
    assert _bf16_relative_error(LPIPS(net=net, weights=trunk_file, input_range=(-1, 1))) < BF16_BOUND[net]


def test_vgg_float32_under_bf16_autocast(tmp_path) -> None:
    torch.manual_seed(0)
    reference = lpips_package.LPIPS(net="vgg", pnet_rand=True, verbose=False).eval()
    trunk = save_trunk([getattr(reference.net, f"slice{i}") for i in range(1, 6)], tmp_path / "vgg16.pth")
    assert _bf16_relative_error(LPIPS(weights=trunk, input_range=(-1, 1))) < BF16_BOUND["vgg"]


def test_trunk_weights_are_found_and_labelled_as_vggs(net, trunk_file, tmp_path, monkeypatch) -> None:
    """``weights="imagenet"`` reads torchvision's file from the hub cache; it is pretrained only when the file's
    SHA-256 is the one its name carries; any other file is 'from file'; nothing falls back to random weights."""
    import torchvision

    enum = {"alex": torchvision.models.AlexNet_Weights, "squeeze": torchvision.models.SqueezeNet1_1_Weights}[net]
    official_name = enum.IMAGENET1K_V1.url.rsplit("/", 1)[1]
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    offline = lambda *a, **k: (_ for _ in ()).throw(OSError("offline"))  # noqa: E731
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsUnavailableError, match=official_name):
        LPIPS(net=net)  # offline, nothing cached: an error naming the file, no random fallback
    cache = tmp_path / "home" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    blob = Path(trunk_file).read_bytes()
    (cache / official_name).write_bytes(blob)
    with pytest.warns(UserWarning, match="its SHA-256 does not start with the digits in its name"):
        hub = LPIPS(net=net)
    assert hub.extractor.provenance == "file" and vgg_provenance(hub.extractor)["provenance"] == "from file"
    # a file under its own hash-carrying name, as torchvision names its downloads, is pretrained
    named = f"{net}-{hashlib.sha256(blob).hexdigest()[:8]}.pth"
    (cache / named).write_bytes(blob)
    monkeypatch.setattr(enum.IMAGENET1K_V1.value, "url", f"https://example.invalid/{named}")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        pretrained = LPIPS(net=net)
    assert pretrained.extractor.pretrained and vgg_provenance(pretrained.extractor)["provenance"] == "pretrained"
    assert pretrained.extractor.weights_source == f"torchvision {enum.__name__}.IMAGENET1K_V1"
    # the same bytes as a path: pretrained under that name, "file" under another
    assert load_lpips_trunk_weights(net, cache / named).provenance == "pretrained"
    (tmp_path / "mine.pth").write_bytes(blob)
    assert load_lpips_trunk_weights(net, tmp_path / "mine.pth").provenance == "file"
    with pytest.warns(RandomWeightsWarning):
        assert LPIPSTrunk(net, weights="random").provenance == "random"


def test_bad_trunks_and_files(net, trunk_file, tmp_path) -> None:
    torch.save({"features.0.weight": torch.zeros(3)}, tmp_path / "wrong.pth")
    with pytest.raises(ValueError, match=r"wrong.pth is not a torchvision \w+ state dict .*: missing keys: 0.bias"):
        LPIPS(net=net, weights=tmp_path / "wrong.pth")
    other = "alex" if net == "squeeze" else "squeeze"
    with pytest.warns(RandomWeightsWarning), pytest.raises(ValueError, match=f"LPIPS-{net} needs LPIPSTrunk"):
        LPIPS(net=net, extractor=LPIPSTrunk(other, weights="random"))
    with pytest.raises(ValueError, match="net must be 'vgg', 'alex' or 'squeeze'"):
        LPIPS(net="resnet")
    minimum = 31 if net == "alex" else 17
    with pytest.raises(ValueError, match=f"use at least {minimum}x{minimum}"):
        LPIPS(net=net, weights=trunk_file)(torch.rand(1, 3, minimum - 1, 64), torch.rand(1, 3, minimum - 1, 64))
