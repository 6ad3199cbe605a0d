"""DISTS on large images: ``resize="bilinear"`` equals piq's ``DISTS`` at 512 px, ``resize="antialias"`` (the default)
follows the authors' pipeline (``DISTS_pt.prepare_image(image, resize=True)``: PIL's resize of the shorter side to
256), ``resize="none"`` scores every pixel; images of at most 256 px are never resized. Same trunk for every package:
a seeded random torchvision VGG16 saved under torchvision's file name in a test-made torch hub cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from perceptual import DISTS

piq = pytest.importorskip("piq", reason="piq is a reference (pip install piq)")
dists_module = pytest.importorskip("DISTS_pytorch.DISTS_pt", reason="dists-pytorch is the reference")
skimage_data = pytest.importorskip("skimage.data", reason="scikit-image ships the real photos")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> dict:
    """A torch hub cache holding what piq downloads: torchvision's VGG16 file (random weights, seed 0) and piq's
    ``dists_weights.pt`` (the alpha and beta that ``dists-pytorch`` ships; they sum to 1, so whether a file is
    normalized makes no difference)."""
    home = tmp_path_factory.mktemp("torch_home")
    checkpoints = home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.manual_seed(0)
    vgg = torchvision.models.vgg16(weights=None).eval()
    torch.save(vgg.state_dict(), checkpoints / "vgg16-397923af.pth")
    shutil.copy(Path(dists_module.__file__).parent / "weights.pt", checkpoints / "dists_weights.pt")
    return {"home": home, "vgg": vgg, "trunk": str(checkpoints / "vgg16-397923af.pth")}


def _pair() -> tuple[np.ndarray, np.ndarray]:
    """The 512x512 astronaut and a blurred, noisy copy, both uint8 (so the PIL pipeline sees the same pixels)."""
    x = skimage_data.astronaut()
    g = np.random.default_rng(1)
    blurred = (
        torch.nn.functional.avg_pool2d(
            torch.from_numpy(x).permute(2, 0, 1)[None].float(), 5, 1, 2, count_include_pad=False
        )[0]
        .permute(1, 2, 0)
        .numpy()
    )
    y = np.clip(np.round(blurred + g.normal(0, 8, x.shape)), 0, 255).astype(np.uint8)
    return x, y


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255


@pytest.mark.slow
def test_bilinear_equals_piq_at_512_px(hub, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(hub["home"]))
    x, y = _pair()
    reference = piq.DISTS(reduction="none")
    with torch.no_grad():
        expected = reference(_tensor(y), _tensor(x))
        got = DISTS(weights=hub["trunk"], resize="bilinear")(_tensor(y), _tensor(x))
        full = DISTS(weights=hub["trunk"], resize="none")(_tensor(y), _tensor(x))
    # DISTS is 1 minus a similarity near 1: float32 rounding of that sum (ulp(1) = 1.2e-7) bounds the absolute agreement
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    assert float(full) > 1.5 * float(expected)  # every pixel scored: the number piq's users do not see


@pytest.mark.slow
def test_antialias_follows_the_authors_pipeline_at_512_px(hub) -> None:
    """The authors' ``prepare_image(resize=True)`` resizes the PIL image (antialiased bilinear, uint8 result); ours
    resizes the tensor the same way without the uint8 rounding, so the two agree to the rounding's effect."""
    from PIL import Image

    original = dists_module.models.vgg16
    dists_module.models.vgg16 = lambda *args, **kwargs: hub["vgg"]
    try:
        reference = dists_module.DISTS().eval()
    finally:
        dists_module.models.vgg16 = original
    x, y = _pair()
    ours = DISTS(weights=hub["trunk"])
    assert ours.resize == "antialias"  # the default
    with torch.no_grad():
        expected = reference(
            dists_module.prepare_image(Image.fromarray(y), resize=True),
            dists_module.prepare_image(Image.fromarray(x), resize=True),
        )
        got = ours(_tensor(y), _tensor(x))
        bilinear = DISTS(weights=hub["trunk"], resize="bilinear")(_tensor(y), _tensor(x))
    assert abs(float(got) - float(expected)) < 0.02 * float(expected)
    assert abs(float(bilinear) - float(expected)) > 0.2 * float(expected)  # piq's shrink is another number


def test_images_of_at_most_256_px_are_never_resized(hub) -> None:
    x, y = _pair()
    small_x, small_y = _tensor(x[:256:2, :400:2]), _tensor(y[:256:2, :400:2])  # 128x200
    with torch.no_grad():
        values = [
            DISTS(weights=hub["trunk"], resize=mode)(small_y, small_x) for mode in ("antialias", "bilinear", "none")
        ]
    torch.testing.assert_close(values[0], values[2], rtol=0, atol=0)
    torch.testing.assert_close(values[1], values[2], rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"resize must be 'antialias' \(the authors' pipeline\), 'bilinear' \(piq\)"):
        DISTS(weights=hub["trunk"], resize="nearest")  # type: ignore[arg-type]
