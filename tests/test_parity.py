"""Every row of "Coming from piq, lpips, BasicSR, torchmetrics" in ``docs/losses.md``, evaluated as written: their call
and ours give the same number on real photos, with the same trunk weights.

The table is read from the guide, so a row that is changed or added there is checked here. Each row's two code cells
are Python expressions of ``x`` and ``y`` (two real photos, ``(2, 3, H, W)`` in [0, 1]), ``H`` and ``W``. The packages
read torchvision's weights files from the torch hub cache, and so does ``weights="imagenet"`` here: the test points
``TORCH_HOME`` at a cache it fills with seeded random torchvision networks under torchvision's file names, and piq's
two calibration files built from the packages that ship them (``lpips``' ``vgg.pth``, ``dists-pytorch``'s
``weights.pt``). BasicSR is not installable here: ``basicsr.losses.PerceptualLoss`` is an independent transcription of
``basicsr/losses/basic_loss.py`` (``PerceptualLoss``) and ``basicsr/archs/vgg_arch.py`` (``VGGFeatureExtractor``).
"""

from __future__ import annotations

import re
import shutil
import warnings
from collections import OrderedDict
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

import perceptual

piq = pytest.importorskip("piq", reason="piq is a reference (pip install piq)")
lpips = pytest.importorskip("lpips", reason="the lpips package is a reference")
DISTS_pytorch = pytest.importorskip("DISTS_pytorch", reason="dists-pytorch is a reference")
torchmetrics_image = pytest.importorskip("torchmetrics.image", reason="torchmetrics comes with Lightning")
skimage_data = pytest.importorskip("skimage.data", reason="scikit-image ships the real photos")

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "losses.md"
HEADING = "## Coming from piq, lpips, BasicSR, torchmetrics"
H, W = 96, 128


def _rows() -> list[tuple[str, str, str]]:
    """``(package, their call, our call)`` of each table row under :data:`HEADING`."""
    text = GUIDE.read_text()
    section = text[text.index(HEADING) :].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if len(cells) == 4 and cells[1].startswith("`") and cells[2].startswith("`"):
            rows.append((cells[0], cells[1].strip("`"), cells[2].strip("`")))
    return rows


ROWS = _rows()

# ------------------------------------------------------------------------------------- BasicSR, transcribed
_BASICSR_VGG19_NAMES = """
conv1_1 relu1_1 conv1_2 relu1_2 pool1 conv2_1 relu2_1 conv2_2 relu2_2 pool2
conv3_1 relu3_1 conv3_2 relu3_2 conv3_3 relu3_3 conv3_4 relu3_4 pool3
conv4_1 relu4_1 conv4_2 relu4_2 conv4_3 relu4_3 conv4_4 relu4_4 pool4
conv5_1 relu5_1 conv5_2 relu5_2 conv5_3 relu5_3 conv5_4 relu5_4 pool5
""".split()  # BasicSR's NAMES["vgg19"]


class _BasicSRVGGFeatureExtractor(nn.Module):
    """``basicsr/archs/vgg_arch.py`` ``VGGFeatureExtractor`` (VGG19, no batch norm, pooling kept, stride 2)."""

    def __init__(self, layer_name_list, use_input_norm=True, range_norm=False) -> None:
        super().__init__()
        self.layer_name_list = layer_name_list
        self.use_input_norm = use_input_norm
        self.range_norm = range_norm
        max_idx = max(_BASICSR_VGG19_NAMES.index(v) for v in layer_name_list)
        vgg_net = torchvision.models.vgg19(weights=torchvision.models.VGG19_Weights.DEFAULT)
        modified = OrderedDict()
        for k, v in zip(_BASICSR_VGG19_NAMES, vgg_net.features[: max_idx + 1]):
            modified[k] = nn.MaxPool2d(kernel_size=2, stride=2) if "pool" in k else v
        self.vgg_net = nn.Sequential(modified).eval().requires_grad_(False)
        self.register_buffer("mean", torch.Tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.Tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x):
        if self.range_norm:
            x = (x + 1) / 2
        if self.use_input_norm:
            x = (x - self.mean) / self.std
        output = {}
        for key, layer in self.vgg_net._modules.items():
            x = layer(x)
            if key in self.layer_name_list:
                output[key] = x.clone()
        return output


class _BasicSRPerceptualLoss(nn.Module):
    """``basicsr/losses/basic_loss.py`` ``PerceptualLoss``: returns ``(percep_loss, style_loss)``."""

    def __init__(
        self,
        layer_weights,
        vgg_type="vgg19",
        use_input_norm=True,
        range_norm=False,
        perceptual_weight=1.0,
        style_weight=0.0,
        criterion="l1",
    ) -> None:
        super().__init__()
        assert vgg_type == "vgg19"
        self.perceptual_weight = perceptual_weight
        self.style_weight = style_weight
        self.layer_weights = layer_weights
        self.vgg = _BasicSRVGGFeatureExtractor(list(layer_weights), use_input_norm, range_norm)
        self.criterion = {"l1": nn.L1Loss(), "l2": nn.MSELoss()}[criterion]

    def forward(self, x, gt):
        x_features = self.vgg(x)
        gt_features = self.vgg(gt.detach())
        percep_loss = style_loss = None
        if self.perceptual_weight > 0:
            percep_loss = 0
            for k in x_features:
                percep_loss += self.criterion(x_features[k], gt_features[k]) * self.layer_weights[k]
            percep_loss *= self.perceptual_weight
        if self.style_weight > 0:
            style_loss = 0
            for k in x_features:
                style_loss += (
                    self.criterion(self._gram_mat(x_features[k]), self._gram_mat(gt_features[k]))
                    * self.layer_weights[k]
                )
            style_loss *= self.style_weight
        return percep_loss, style_loss

    @staticmethod
    def _gram_mat(x):
        n, c, h, w = x.size()
        features = x.view(n, c, w * h)
        return features.bmm(features.transpose(1, 2)) / (c * h * w)


# ------------------------------------------------------------------------------------- shared trunk and photos
@pytest.fixture(scope="module")
def torch_home(tmp_path_factory) -> Path:
    """A torch hub cache with what every package here reads: torchvision's VGG16, VGG19, AlexNet and SqueezeNet 1.1
    files (seeded random weights) and piq's ``lpips_weights.pt`` and ``dists_weights.pt``."""
    home = tmp_path_factory.mktemp("torch_home")
    checkpoints = home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    models = torchvision.models
    for seed, (builder, enum) in enumerate(
        [
            (models.vgg16, models.VGG16_Weights),
            (models.vgg19, models.VGG19_Weights),
            (models.alexnet, models.AlexNet_Weights),
            (models.squeezenet1_1, models.SqueezeNet1_1_Weights),
        ]
    ):
        torch.manual_seed(seed)
        torch.save(builder(weights=None).state_dict(), checkpoints / enum.IMAGENET1K_V1.url.rsplit("/", 1)[1])
    calibration = torch.load(
        Path(lpips.__file__).parent / "weights" / "v0.1" / "vgg.pth", map_location="cpu", weights_only=True
    )
    torch.save([calibration[f"lin{i}.model.1.weight"] for i in range(5)], checkpoints / "lpips_weights.pt")
    shutil.copy(Path(DISTS_pytorch.__file__).parent / "weights.pt", checkpoints / "dists_weights.pt")
    return home


def _photos() -> tuple[torch.Tensor, torch.Tensor]:
    """``x``: the astronaut (a face) and coffee, 96x128 in [0, 1]; ``y``: blurred, noisy copies."""
    crops = [skimage_data.astronaut()[40:232:2, 150:406:2], skimage_data.coffee()[100:292:2, 200:456:2]]
    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255
    g = torch.Generator().manual_seed(1)
    blurred = torch.nn.functional.avg_pool2d(x, 5, 1, 2, count_include_pad=False)
    return x, (blurred + 0.03 * torch.randn(x.shape, generator=g)).clamp(0, 1)


def test_the_table_has_every_package() -> None:
    packages = [package for package, _, _ in ROWS]
    assert {"piq", "lpips", "dists-pytorch", "BasicSR", "torchmetrics"} <= set(packages)
    assert len(ROWS) >= 16


@pytest.mark.parametrize(("package", "theirs", "ours"), ROWS, ids=[f"{p}:{t.split('(')[0]}" for p, t, _ in ROWS])
def test_row(package, theirs, ours, torch_home, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    x, y = _photos()
    assert (x.shape[-2], x.shape[-1]) == (H, W)
    namespace = {
        "torch": torch,
        "perceptual": perceptual,
        "piq": piq,
        "lpips": lpips,
        "DISTS_pytorch": DISTS_pytorch,
        "torchmetrics": SimpleNamespace(image=torchmetrics_image),
        "basicsr": SimpleNamespace(losses=SimpleNamespace(PerceptualLoss=_BasicSRPerceptualLoss)),
        "x": x,
        "y": y,
        "H": H,
        "W": W,
    }
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the test-made hub files are "from file"; torchvision's deprecations
        expected = eval(theirs, namespace)  # noqa: S307 - the guide's own code
        got = eval(ours, namespace)  # noqa: S307
    assert isinstance(got, torch.Tensor) and got.shape == expected.shape, (got.shape, expected.shape)
    difference = (got - expected).abs()
    relative = float((difference / expected.abs().clamp_min(1e-30)).max())
    print(f"{package}: {theirs}  |  max abs {float(difference.max()):.2e}, max rel {relative:.2e}")
    # DISTS is 1 minus a similarity near 1: float32 rounding of that sum bounds the absolute agreement (ulp(1) 1.2e-7)
    atol = 1e-6 if "DISTS" in theirs or "Structure" in theirs else 0.0
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=atol)
    assert float(expected.abs().min()) > 0  # a row of zeros would prove nothing


def test_a_row_that_is_wrong_fails(torch_home, monkeypatch) -> None:
    """The comparison tells a missing factor apart: piq's content loss without the channel count is off by 256."""
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    x, y = _photos()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        theirs = piq.ContentLoss(layers=("relu3_3",), weights=[1.0])(x, y)
        ours = perceptual.PerceptualLoss({"relu3_3": 1.0})(x, y)
    assert not torch.allclose(ours, theirs, rtol=1e-2)
    torch.testing.assert_close(256 * ours, theirs, rtol=1e-5, atol=0)
    assert re.search(r"256 \* perceptual\.PerceptualLoss", GUIDE.read_text())
