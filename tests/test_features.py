"""VGGFeatures against torchvision's own ``vgg16().features`` / ``vgg19().features`` run by hand."""

import copy

import pytest
import torch
from conftest import reference_taps as _reference_taps

from perceptual import VGG16_LAYERS, VGG19_LAYERS, InputRangeWarning, VGGFeatures
from perceptual.normalization import CAFFE, InputNormalization

pytestmark = pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning")


def reference_taps(features, x01, names):
    with torch.no_grad():
        return _reference_taps(features, x01, names)


CUDA = pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"))


@pytest.mark.parametrize("device", ["cpu", CUDA])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_every_tap_equals_torchvision(arch, memory_format, device, request, no_tf32):
    tv = request.getfixturevalue(f"tv_{arch}")
    path = request.getfixturevalue(f"{arch}_file")
    names = VGG16_LAYERS if arch == "vgg16" else VGG19_LAYERS
    x = torch.rand(2, 3, 48, 40, generator=torch.Generator().manual_seed(3))
    expected = reference_taps(tv, x, names)  # torchvision on the CPU

    vgg = VGGFeatures("all", arch=arch, weights=path).to(device, memory_format=memory_format)
    out = vgg(x.to(device, memory_format=memory_format))
    assert list(out) == list(names)
    tolerance = 1e-5 if device == "cpu" else 1e-4  # cuDNN sums in another order
    for name in names:
        torch.testing.assert_close(
            out[name].cpu(), expected[name], rtol=tolerance, atol=tolerance, msg=lambda m, name=name: f"{name}: {m}"
        )


def test_pre_relu_taps_survive_deeper_request(tv_vgg16, vgg16_file):
    x = torch.rand(1, 3, 32, 32)
    expected = reference_taps(tv_vgg16, x, VGG16_LAYERS)
    vgg = VGGFeatures(["conv1_1", "conv3_3", "relu4_2"], weights=vgg16_file)
    out = vgg(x)
    # A pre-ReLU tap keeps its negative values although a deeper layer ran after it.
    assert (out["conv3_3"] < 0).any()
    for name in out:
        torch.testing.assert_close(out[name], expected[name], rtol=1e-5, atol=1e-5)


def test_truncated_at_deepest_layer_and_network_order(vgg16_file):
    vgg = VGGFeatures(["relu3_1", "block1_conv2", "conv2_2"], weights=vgg16_file)
    assert len(vgg.body) == VGG16_LAYERS.index("relu3_1") + 1
    out = vgg(torch.rand(1, 3, 16, 16))
    assert list(out) == ["block1_conv2", "conv2_2", "relu3_1"]
    assert vgg.layers == ("block1_conv2", "conv2_2", "relu3_1")


def test_keras_alias_equals_canonical(vgg16_file):
    vgg = VGGFeatures(["relu2_1", "block2_conv1"], weights=vgg16_file)
    out = vgg(torch.rand(1, 3, 16, 16))
    assert out["relu2_1"] is out["block2_conv1"]


@pytest.mark.parametrize("input_range", [(-1.0, 1.0), (0.0, 255.0)])
def test_input_range_is_mapped_before_imagenet_normalization(tv_vgg16, vgg16_file, input_range):
    x01 = torch.rand(2, 3, 32, 32)
    low, high = input_range
    user = x01 * (high - low) + low
    expected = reference_taps(tv_vgg16, x01, VGG16_LAYERS)["relu2_2"]
    out = VGGFeatures(["relu2_2"], weights=vgg16_file, input_range=input_range)(user)["relu2_2"]
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_caffe_normalization_matches_bgr_reference(tv_vgg16):
    """Caffe weights see BGR 0-255 minus the BGR mean; the module folds the swap into conv1_1."""
    from perceptual.weights import VGGWeights

    weights = VGGWeights("vgg16", dict(tv_vgg16.state_dict()), CAFFE, source="test caffe")
    x01 = torch.rand(1, 3, 16, 16)
    bgr = x01.flip(1) * 255.0 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = tv_vgg16[:4](bgr.clone())
    out = VGGFeatures(["relu1_2"], weights=weights)(x01)["relu1_2"]
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-4)


def test_normalization_none_feeds_tensor_unchanged(tv_vgg16, vgg16_file):
    x = torch.rand(1, 3, 8, 8) * 2 - 1
    out = VGGFeatures(["conv1_1"], weights=vgg16_file, input_range=(-1, 1), normalization="none")(x)["conv1_1"]
    with torch.no_grad():
        torch.testing.assert_close(out, tv_vgg16[0](x), rtol=1e-6, atol=1e-6)


def test_custom_normalization(tv_vgg16, vgg16_file):
    norm = InputNormalization("half", "RGB", 1.0, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    x = torch.rand(1, 3, 8, 8)
    out = VGGFeatures(["conv1_1"], weights=vgg16_file, normalization=norm)(x)["conv1_1"]
    with torch.no_grad():
        torch.testing.assert_close(out, tv_vgg16[0](x * 2 - 1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pool_padding, size", [("valid", 180), ("same", 181)])
def test_pool_padding(vgg16_file, pool_padding, size):
    vgg = VGGFeatures(["pool1"], weights=vgg16_file, pool_padding=pool_padding)
    assert vgg(torch.rand(1, 3, 361, 361))["pool1"].shape[-1] == size


def test_user_input_not_modified(vgg16_file):
    x = torch.rand(1, 3, 16, 16)
    before = x.clone()
    VGGFeatures(["conv1_1", "relu1_1"], weights=vgg16_file)(x)
    assert torch.equal(x, before)


def test_autocast_bf16_cpu_close_to_fp32(vgg16_file):
    vgg = VGGFeatures(["relu2_2"], weights=vgg16_file)
    x = torch.rand(1, 3, 32, 32)
    ref = vgg(x)["relu2_2"]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = vgg(x)["relu2_2"]
    assert out.dtype == torch.bfloat16
    rel = (out.float() - ref).norm() / ref.norm()
    assert rel < 2e-2


@pytest.mark.slow
def test_compiled_equals_eager(vgg16_file):
    vgg = VGGFeatures(["conv1_2", "relu2_1"], weights=vgg16_file)
    x = torch.rand(2, 3, 16, 16)
    eager = vgg(x)
    compiled = torch.compile(vgg)(x)
    assert list(compiled) == list(eager)
    for name in eager:
        torch.testing.assert_close(compiled[name], eager[name], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: [[1.0]], TypeError, "torch.Tensor"),
        (lambda: torch.rand(3, 32, 32), ValueError, "unsqueeze"),
        (lambda: torch.rand(1, 1, 32, 32), ValueError, "grayscale"),
        (lambda: torch.rand(1, 4, 32, 32), ValueError, "RGBA"),
        (lambda: torch.randint(0, 255, (1, 3, 32, 32), dtype=torch.uint8), TypeError, "uint8"),
        (lambda: torch.rand(1, 3, 7, 64), ValueError, "at least 8x8"),
        (lambda: torch.rand(0, 3, 32, 32), ValueError, r"empty batch \(shape \(0, 3, 32, 32\)\)"),
        (
            lambda: torch.rand(1, 3, 32, 32, dtype=torch.float64),
            TypeError,
            r"torch.float64 but the VGG's weights are torch.float32",
        ),
    ],
)
def test_bad_input_errors(vgg16_file, make, error, match):
    vgg = VGGFeatures(["relu4_1"], weights=vgg16_file)
    with pytest.raises(error, match=match):
        vgg(make())


def test_opt_in_value_checks(vgg16_file):
    vgg = VGGFeatures(["conv1_1"], weights=vgg16_file, input_range=(-1, 1), check_finite=True, check_range=True)
    with pytest.raises(ValueError, match="non-finite"):
        vgg(torch.full((1, 3, 8, 8), float("nan")))
    with pytest.raises(ValueError, match="outside input_range"):
        vgg(torch.rand(1, 3, 8, 8) * 255)
    vgg(torch.rand(1, 3, 8, 8) * 2 - 1)  # in range: fine
    # Off by default: out-of-range input raises nothing (no host sync per step on the training path); only the
    # first batch is looked at, once, for a warning.
    with pytest.warns(InputRangeWarning, match="leave the declared input_range"):
        VGGFeatures(["conv1_1"], weights=vgg16_file, input_range=(-1, 1))(torch.rand(1, 3, 8, 8) * 255)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"layers": ["relu9_9"]}, "Valid names"),
        ({"layers": []}, "at least one"),
        ({"layers": ["relu1_1", "relu1_1"]}, "duplicates"),
        ({"arch": "vgg11"}, "arch"),
        ({"input_range": (1, 0)}, "high > low"),
        ({"input_range": 5}, "pair"),
        ({"pool_padding": "reflect"}, "pool_padding"),
        ({"normalization": "bgr"}, "normalization"),
    ],
)
def test_bad_constructor_arguments(vgg16_file, kwargs, match):
    kwargs = {"layers": ["relu1_1"], **kwargs}
    with pytest.raises(ValueError, match=match):
        VGGFeatures(kwargs.pop("layers"), weights="random", **kwargs)


def test_float64_extractor_equals_torchvision_in_float64(tv_vgg16, vgg16_file):
    x = torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    with torch.no_grad():
        expected = _reference_taps(
            copy.deepcopy(tv_vgg16).double(), x, VGG16_LAYERS, depth=VGG16_LAYERS.index("relu3_1") + 1
        )
    out = VGGFeatures(["relu2_1", "relu3_1"], weights=vgg16_file).double()(x)
    for name in out:
        assert out[name].dtype == torch.float64
        torch.testing.assert_close(out[name], expected[name], rtol=1e-5, atol=1e-6)  # normalization constants: float32
