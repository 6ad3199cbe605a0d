"""Gatys et al.'s normalized VGG19 in the layout of ``vgg_conv.pth`` (leongatys/PytorchNeuralStyleTransfer; what the
official BeautyGAN code loads into its ``net.VGG``): ``weights=<path>.pth`` against a hand-written ``net.VGG.forward``
on Caffe preprocessing written out by hand, on a real photo."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision

from perceptual import CAFFE, VGGFeatures, load_weights
from perceptual.weights_formats import load_gatys_weights

skimage_data = pytest.importorskip("skimage.data")

BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
CAFFE_MEAN_BGR = torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)


def conv_names(arch: str) -> list[str]:
    return [f"conv{block}_{i}" for block, count in enumerate(BLOCKS[arch], start=1) for i in range(1, count + 1)]


def official_forward(state: dict[str, torch.Tensor], x: torch.Tensor, arch: str = "vgg19") -> dict[str, torch.Tensor]:
    """``net.VGG.forward`` written out: ``out['r11'] = F.relu(self.conv1_1(x))``, ..., a 2x2/2 max pool after each
    block. Returns every ``relu<b>_<i>`` (the official ``r<b><i>``)."""
    out: dict[str, torch.Tensor] = {}
    h = x
    for block, count in enumerate(BLOCKS[arch], start=1):
        if block > 1:
            h = F.max_pool2d(h, kernel_size=2, stride=2)
        for i in range(1, count + 1):
            name = f"conv{block}_{i}"
            h = F.relu(F.conv2d(h, state[f"{name}.weight"], state[f"{name}.bias"], padding=1))
            out[f"relu{block}_{i}"] = h
    return out


def caffe_preprocess(x01: torch.Tensor) -> torch.Tensor:
    """PytorchNeuralStyleTransfer's prep: RGB in [0, 1] -> BGR -> * 255 -> minus the BGR mean, no std."""
    bgr = x01[:, [2, 1, 0]]
    return bgr * 255.0 - CAFFE_MEAN_BGR


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    """skimage's astronaut, RGB in [0, 1], area-resized to 64x64."""
    image = torch.from_numpy(skimage_data.astronaut()).permute(2, 0, 1)[None].float() / 255.0
    return F.interpolate(image, size=(64, 64), mode="area").clamp(0.0, 1.0)


def gatys_state(arch: str, seed: int, calibration: torch.Tensor) -> dict[str, torch.Tensor]:
    """torchvision's seeded init renamed to ``conv<b>_<i>``, rescaled layer by layer (as Gatys normalized VGG19) so
    that every pre-activation has unit std on ``calibration`` (Caffe-prepared), with biases that matter."""
    torch.manual_seed(seed)
    convs = [m for m in getattr(torchvision.models, arch)(weights=None).features if isinstance(m, torch.nn.Conv2d)]
    generator = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    h = calibration
    names = conv_names(arch)
    firsts = {f"conv{b}_1" for b in range(2, 6)}
    with torch.no_grad():
        for name, conv in zip(names, convs):
            if name in firsts:
                h = F.max_pool2d(h, 2, 2)
            pre = F.conv2d(h, conv.weight, padding=1)
            weight = conv.weight / pre.std(dim=(0, 2, 3)).clamp_min(1e-6).view(-1, 1, 1, 1)
            bias = torch.rand(conv.out_channels, generator=generator) - 0.5
            state[f"{name}.weight"] = weight.contiguous()
            state[f"{name}.bias"] = bias
            h = F.relu(F.conv2d(h, weight, bias, padding=1))
    return state


@pytest.fixture(scope="module")
def vgg19_gatys(tmp_path_factory, photo) -> tuple[str, dict[str, torch.Tensor]]:
    state = gatys_state("vgg19", 3, caffe_preprocess(photo))
    path = tmp_path_factory.mktemp("gatys") / "vgg_conv.pth"
    torch.save(state, path)
    return str(path), state


@pytest.fixture(scope="module")
def vgg16_gatys(tmp_path_factory, photo) -> tuple[str, dict[str, torch.Tensor]]:
    state = gatys_state("vgg16", 4, caffe_preprocess(photo))
    path = tmp_path_factory.mktemp("gatys") / "vgg16_conv.pth"
    torch.save(state, path)
    return str(path), state


def assert_features_close(ours: torch.Tensor, reference: torch.Tensor, rtol: float = 1e-4) -> None:
    """Close to ``rtol`` of the feature map's scale (its largest magnitude), which must not be trivially 0."""
    scale = float(reference.abs().max())
    assert scale > 0 and float((reference > 0).float().mean()) > 0.01
    torch.testing.assert_close(ours, reference, rtol=0.0, atol=rtol * scale)


LAYERS = ["relu1_1", "relu3_4", "relu4_1", "relu5_4"]


def test_vgg19_file_matches_official_forward_on_caffe_input(vgg19_gatys, photo):
    path, state = vgg19_gatys
    vgg = VGGFeatures(LAYERS, arch="vgg19", weights=path, input_range=(0, 1))
    assert vgg.weights_source == f"Gatys vgg_conv layout {path}"
    ours = vgg(photo)
    reference = official_forward(state, caffe_preprocess(photo))
    assert list(ours) == LAYERS
    for name in LAYERS:
        assert_features_close(ours[name], reference[name])


def test_vgg19_file_with_minus_one_one_input(vgg19_gatys, photo):
    path, state = vgg19_gatys
    vgg = VGGFeatures(LAYERS, arch="vgg19", weights=path, input_range=(-1, 1))
    ours = vgg(photo * 2.0 - 1.0)
    reference = official_forward(state, caffe_preprocess(photo))
    for name in LAYERS:
        assert_features_close(ours[name], reference[name])


def test_normalization_none_feeds_the_raw_tensor_like_official_beautygan(vgg19_gatys, photo):
    """The official BeautyGAN solver feeds its [-1, 1] RGB images to ``net.VGG`` as they are: no BGR flip, no
    0-255 scale, no mean. ``normalization="none"`` reproduces that."""
    path, state = vgg19_gatys
    raw = photo * 2.0 - 1.0
    vgg = VGGFeatures(LAYERS, arch="vgg19", weights=path, input_range=(-1, 1), normalization="none")
    ours = vgg(raw)
    reference = official_forward(state, raw)
    for name in LAYERS:
        assert_features_close(ours[name], reference[name])
    # ... and that is not what Caffe preprocessing gives.
    prepared = official_forward(state, caffe_preprocess(photo))["relu4_1"]
    assert (ours["relu4_1"] - prepared).abs().max() > 0.1 * prepared.abs().max()


def test_weights_carry_caffe_bgr_normalization(vgg19_gatys):
    path, state = vgg19_gatys
    loaded = load_weights(path, arch="vgg19")
    assert loaded.arch == "vgg19"
    assert loaded.normalization == CAFFE and loaded.normalization.channel_order == "BGR"
    assert loaded.provenance == "file" and loaded.classifier is None  # its origin is not in the file
    # torchvision indices, kernels as stored (BGR input order): features[0] is conv1_1, [34] is conv5_4.
    torch.testing.assert_close(loaded.features["0.weight"], state["conv1_1.weight"], rtol=0, atol=0)
    torch.testing.assert_close(loaded.features["34.bias"], state["conv5_4.bias"], rtol=0, atol=0)
    assert len(loaded.features) == 32
    direct = load_gatys_weights(path)
    assert direct.arch == "vgg19" and direct.normalization == CAFFE


def test_blue_only_filter_sees_the_blue_channel(tmp_path, photo):
    """conv1_1 filter 0 takes only input channel 0 of the stored kernel, which is blue in Caffe's BGR order: its
    pre-ReLU output must be the Caffe value of the *blue* channel, 255 * b - 103.939, at every pixel."""
    state = gatys_state("vgg19", 5, caffe_preprocess(photo))
    weight = state["conv1_1.weight"].clone()
    weight[0] = 0.0
    weight[0, 0, 1, 1] = 1.0  # centre tap of input channel 0 (B)
    bias = state["conv1_1.bias"].clone()
    bias[0] = 0.0
    state["conv1_1.weight"], state["conv1_1.bias"] = weight, bias
    path = tmp_path / "vgg_conv.pth"
    torch.save(state, path)
    # Channels that differ clearly, so that reading R or G instead of B cannot pass.
    image = torch.stack([photo[0, 0], 1.0 - photo[0, 1], photo[0, 2] ** 2])[None]
    expected_blue = image[:, 2] * 255.0 - 103.939
    vgg = VGGFeatures(["conv1_1"], arch="vgg19", weights=path, input_range=(0, 1))
    torch.testing.assert_close(vgg(image)["conv1_1"][:, 0], expected_blue, rtol=0, atol=1e-3)
    # Raw input (normalization="none"): the same filter now reads channel 0 of the RGB tensor, red, as unchanged.
    raw = VGGFeatures(["conv1_1"], arch="vgg19", weights=path, input_range=(0, 1), normalization="none")
    torch.testing.assert_close(raw(image)["conv1_1"][:, 0], image[:, 0], rtol=0, atol=1e-6)


def test_vgg16_pattern_loads_as_vgg16(vgg16_gatys, photo):
    path, state = vgg16_gatys
    layers = ["relu2_2", "relu5_3"]
    vgg = VGGFeatures(layers, arch="vgg16", weights=path, input_range=(0, 1))
    ours = vgg(photo)
    reference = official_forward(state, caffe_preprocess(photo), arch="vgg16")
    for name in layers:
        assert_features_close(ours[name], reference[name])
    assert load_gatys_weights(path).arch == "vgg16"
    assert VGGFeatures(["relu1_1"], weights=path).arch == "vgg16"  # the default arch


def test_wrong_arch_names_the_right_one(vgg19_gatys, vgg16_gatys):
    with pytest.raises(ValueError, match=r"holds vgg19 weights.*conv5_4.*pass arch='vgg19'"):
        VGGFeatures(["relu1_1"], arch="vgg16", weights=vgg19_gatys[0])
    with pytest.raises(ValueError, match=r"holds vgg19 weights.*pass arch='vgg19'"):
        VGGFeatures(["relu1_1"], weights=vgg19_gatys[0])  # default arch vgg16
    with pytest.raises(ValueError, match=r"holds vgg16 weights.*pass arch='vgg16'"):
        VGGFeatures(["relu1_1"], arch="vgg19", weights=vgg16_gatys[0])


def _saved(tmp_path, state: dict, name: str = "vgg_conv.pth") -> str:
    path = tmp_path / name
    torch.save(state, path)
    return str(path)


def test_misshaped_key_is_named(tmp_path, vgg19_gatys):
    state = dict(vgg19_gatys[1])
    state["conv2_1.weight"] = torch.zeros(128, 32, 3, 3)
    path = _saved(tmp_path, state)
    with pytest.raises(
        ValueError, match=r"shape mismatches: conv2_1\.weight: expected \(128, 64, 3, 3\), got \(128, 32, 3, 3\)\.$"
    ):
        load_weights(path, arch="vgg19")


def test_hwio_kernel_gets_a_hint(tmp_path, vgg19_gatys):
    state = dict(vgg19_gatys[1])
    state["conv1_2.weight"] = state["conv1_2.weight"].permute(2, 3, 1, 0).contiguous()
    with pytest.raises(
        ValueError, match=r"conv1_2\.weight: expected \(64, 64, 3, 3\), got \(3, 3, 64, 64\) \(TensorFlow HWIO order"
    ):
        load_weights(_saved(tmp_path, state), arch="vgg19")


def test_missing_key_is_named(tmp_path, vgg19_gatys):
    state = dict(vgg19_gatys[1])
    del state["conv3_2.bias"]
    with pytest.raises(ValueError, match=r"missing keys: conv3_2\.bias\.$"):
        load_weights(_saved(tmp_path, state), arch="vgg19")
    del state["conv3_2.weight"]  # the whole layer
    with pytest.raises(ValueError, match=r"not a complete vgg19.*missing conv3_2"):
        load_weights(_saved(tmp_path, state), arch="vgg19")


def test_unexpected_key_is_named(tmp_path, vgg19_gatys):
    state = dict(vgg19_gatys[1])
    state["fc6.weight"] = torch.zeros(4, 4)
    with pytest.raises(ValueError, match=r"unexpected keys: fc6\.weight"):
        load_weights(_saved(tmp_path, state), arch="vgg19")


def test_pth_in_neither_layout_lists_both(tmp_path):
    path = _saved(tmp_path, {"layer1.weight": torch.zeros(64, 3, 3, 3), "layer1.bias": torch.zeros(64)}, "other.pth")
    with pytest.raises(ValueError) as info:
        load_weights(path, arch="vgg19")
    message = str(info.value)
    assert "features.N.weight" in message and "missing keys: 0.weight" in message  # torchvision layout
    assert "conv1_1.weight, conv1_1.bias" in message and "conv5_4.bias" in message  # Gatys layout
    assert "Keys found: layer1.weight, layer1.bias" in message


def test_torchvision_pth_errors_stay_as_they_were(tmp_path, tv_vgg16):
    path = _saved(tmp_path, tv_vgg16.state_dict(), "vgg16_features.pth")
    with pytest.raises(ValueError, match=r"pass arch='vgg16'\.$"):
        load_weights(path, arch="vgg19")
