"""Loss values against hand-computed references on torchvision's own features; gradients; presets."""

import numpy as np
import pytest
import torch
from conftest import reference_taps

from perceptual import (
    VGG16_LAYERS,
    PerceptualLoss,
    StyleLoss,
    VGGFeatures,
    beautygan_perceptual_loss,
    feature_distance,
    gram_matrix,
    perceptual_loss,
    style_loss,
)

pytestmark = pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning")


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(11)
    return torch.rand(2, 3, 32, 32, generator=g), torch.rand(2, 3, 32, 32, generator=g)


@pytest.fixture(scope="module")
def reference(tv_vgg16, images):
    pred, target = images
    with torch.no_grad():
        return (
            reference_taps(tv_vgg16, pred, VGG16_LAYERS, depth=19),
            reference_taps(tv_vgg16, target, VGG16_LAYERS, depth=19),
        )


def _hand(a, b, criterion):
    if criterion == "mse":
        return (a - b) ** 2
    if criterion == "l1":
        return (a - b).abs()
    if criterion == "smooth_l1":
        d = (a - b).abs()
        return torch.where(d < 1, 0.5 * d**2, d - 0.5)
    cos = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))
    return (1 - cos).unsqueeze(1)


@pytest.mark.parametrize("criterion", ["mse", "l1", "smooth_l1", "cosine"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_values_match_hand_computation(vgg16_file, images, reference, criterion, reduction):
    layers = {"relu1_2": 0.5, "relu3_1": 2.0}
    loss = PerceptualLoss(layers, weights=vgg16_file, criterion=criterion, reduction=reduction)
    value = loss(*images)
    ref_pred, ref_target = reference
    expected = 0
    for name, weight in layers.items():
        d = _hand(ref_pred[name], ref_target[name], criterion)
        reduced = {"mean": d.mean(), "sum": d.sum(), "none": d.flatten(1).mean(1)}[reduction]
        expected = expected + weight * reduced
    assert value.shape == ((2,) if reduction == "none" else ())
    torch.testing.assert_close(value, expected, rtol=1e-4, atol=1e-6)


def test_default_is_relu4_1_mse(vgg16_file, images, reference):
    value = PerceptualLoss(weights=vgg16_file)(*images)
    expected = ((reference[0]["relu4_1"] - reference[1]["relu4_1"]) ** 2).mean()
    torch.testing.assert_close(value, expected, rtol=1e-4, atol=1e-7)


def test_gradient_to_pred_only_and_features_returned(vgg16_file, images, reference):
    pred, target = (t.clone().requires_grad_(True) for t in images)
    out = PerceptualLoss({"relu2_2": 1.0}, weights=vgg16_file)(pred, target, return_features=True)
    out.loss.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert target.grad is None
    assert out.pred_features["relu2_2"].requires_grad and not out.target_features["relu2_2"].requires_grad
    torch.testing.assert_close(out.target_features["relu2_2"], reference[1]["relu2_2"], rtol=1e-5, atol=1e-5)


def test_gradcheck_float64(vgg16_file):
    loss = PerceptualLoss({"relu1_2": 1.0, "relu2_1": 0.5}, weights=vgg16_file, input_range=(-1, 1)).double()
    g = torch.Generator().manual_seed(0)
    pred = (torch.rand(1, 3, 6, 6, generator=g, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    target = torch.rand(1, 3, 6, 6, generator=g, dtype=torch.float64) * 2 - 1
    assert torch.autograd.gradcheck(lambda p: loss(p, target), (pred,), eps=1e-6, atol=1e-5)


def test_function_equals_module(vgg16_file, images):
    layers = {"relu2_1": 1.0, "conv3_1": 0.25}
    module = PerceptualLoss(layers, weights=vgg16_file, criterion="l1", input_range=(0, 1))(*images)
    function = perceptual_loss(*images, layers, extractor=VGGFeatures(list(layers), weights=vgg16_file), criterion="l1")
    torch.testing.assert_close(function, module)
    style_module = StyleLoss(["relu1_2", "relu2_2"], weights=vgg16_file)(*images)
    style_function = style_loss(
        *images, ["relu1_2", "relu2_2"], extractor=VGGFeatures(["relu1_2", "relu2_2"], weights=vgg16_file)
    )
    torch.testing.assert_close(style_function, style_module)


def test_style_loss_against_numpy_gram(vgg16_file, images, reference):
    value = StyleLoss({"relu1_2": 1.0, "relu3_1": 3.0}, weights=vgg16_file)(*images)
    expected = 0.0
    for name, weight in {"relu1_2": 1.0, "relu3_1": 3.0}.items():
        grams = []
        for feats in (reference[0][name], reference[1][name]):
            f = feats.double().numpy()
            n, c, h, w = f.shape
            flat = f.reshape(n, c, h * w)
            grams.append(np.einsum("nci,ndi->ncd", flat, flat) / (c * h * w))
        expected += weight * np.mean((grams[0] - grams[1]) ** 2)
    assert value.item() == pytest.approx(expected, rel=1e-4)


def test_bf16_autocast_on_cpu_close_to_fp32(vgg16_file):
    loss = PerceptualLoss({"relu2_2": 1.0, "relu4_1": 1.0}, weights=vgg16_file, input_range=(-1, 1))
    g = torch.Generator().manual_seed(0)
    pred = (torch.rand(1, 3, 64, 64, generator=g) * 2 - 1).requires_grad_(True)
    target = torch.rand(1, 3, 64, 64, generator=g) * 2 - 1
    ref = loss(pred, target)
    (ref_grad,) = torch.autograd.grad(ref, pred)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = loss(pred, target)
    (grad,) = torch.autograd.grad(value, pred)
    assert value.dtype == torch.float32  # the distance is reduced in float32
    assert abs(value.item() - ref.item()) / ref.item() < 1e-2
    assert torch.nn.functional.cosine_similarity(grad.flatten(), ref_grad.flatten(), dim=0) > 0.98


def test_gram_is_float32_under_autocast():
    f = (torch.rand(2, 8, 16, 16) * 300).to(torch.float16)  # fp16 Gram of such values overflows
    with torch.autocast("cpu", dtype=torch.bfloat16):
        gram = gram_matrix(f)
    assert gram.dtype == torch.float32 and torch.isfinite(gram).all()
    expected = torch.einsum("nci,ndi->ncd", f.float().flatten(2), f.float().flatten(2)) / (8 * 16 * 16)
    torch.testing.assert_close(gram, expected)


def test_normalize_features_value_and_finite_gradient_at_zero():
    a = torch.zeros(1, 4, 3, 3, requires_grad=True)
    b = torch.rand(1, 4, 3, 3)
    loss = feature_distance({"x": a}, {"x": b}, {"x": 1.0}, normalize_features=True)
    loss.backward()
    assert torch.isfinite(a.grad).all()
    expected = (b / torch.sqrt((b**2).sum(1, keepdim=True) + 1e-10)) ** 2
    torch.testing.assert_close(loss, expected.mean())


def test_bad_inputs(vgg16_file):
    loss = PerceptualLoss({"relu2_1": 1.0}, weights=vgg16_file)
    with pytest.raises(ValueError, match="same shape"):
        loss(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 18))
    with pytest.raises(ValueError, match="target must have 3"):
        loss(torch.rand(1, 3, 16, 16), torch.rand(1, 1, 16, 16))
    with pytest.raises(TypeError, match="floating-point"):
        loss(torch.ones(1, 3, 16, 16, dtype=torch.int64), torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="criterion"):
        PerceptualLoss(weights=vgg16_file, criterion="l3")
    with pytest.raises(ValueError, match="reduction"):
        PerceptualLoss(weights=vgg16_file, reduction="avg")
    with pytest.raises(ValueError, match="does not tap"):
        PerceptualLoss({"relu4_1": 1.0}, extractor=VGGFeatures(["relu2_1"], weights=vgg16_file))
    checked = PerceptualLoss(weights=vgg16_file, input_range=(-1, 1), check_range=True, check_finite=True)
    with pytest.raises(ValueError, match="pred values lie in"):
        checked(torch.rand(1, 3, 16, 16) * 5, torch.rand(1, 3, 16, 16))
    with pytest.raises(TypeError, match="extractor must be a perceptual.VGGFeatures"):
        perceptual_loss(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16), extractor=object())
    with pytest.raises(ValueError, match="does not tap"):
        style_loss(
            torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16), extractor=VGGFeatures(["relu2_1"], weights=vgg16_file)
        )
    for bad in (float("nan"), -1.0, float("inf")):
        with pytest.raises(ValueError, match="layer weights must be finite and >= 0"):
            PerceptualLoss({"relu2_1": bad}, weights=vgg16_file)
    with pytest.raises(ValueError, match="empty batch"):
        loss(torch.rand(0, 3, 16, 16), torch.rand(0, 3, 16, 16))


def test_extractor_with_extra_taps_shares_one_pass(vgg16_file, images, reference):
    extractor = VGGFeatures(["relu1_2", "relu4_1"], weights=vgg16_file)
    out = PerceptualLoss({"relu4_1": 1.0}, extractor=extractor)(*images, return_features=True)
    assert set(out.pred_features) == {"relu1_2", "relu4_1"}
    expected = ((reference[0]["relu4_1"] - reference[1]["relu4_1"]) ** 2).mean()
    torch.testing.assert_close(out.loss, expected, rtol=1e-4, atol=1e-7)


def test_beautygan_presets():
    paper = beautygan_perceptual_loss("paper", weights="random")
    assert paper.extractor.arch == "vgg16" and paper.extractor.layers == ("relu4_1",)
    assert paper.extractor.input_range == (-1.0, 1.0) and paper.extractor.normalization.name == "imagenet"
    assert paper.criterion == "mse"
    official = beautygan_perceptual_loss("official", weights="random")
    assert official.extractor.arch == "vgg19" and official.extractor.layers == ("relu4_1",)
    x = torch.rand(1, 3, 8, 8) * 2 - 1
    torch.testing.assert_close(official.extractor.normalize(x), x)  # fed without ImageNet normalization
    with pytest.raises(ValueError, match="variant"):
        beautygan_perceptual_loss("v2")


@pytest.mark.slow
def test_compiled_loss_equals_eager(vgg16_file, images):
    loss = PerceptualLoss({"relu2_1": 1.0}, weights=vgg16_file)
    pred = images[0].clone().requires_grad_(True)
    eager = loss(pred, images[1])
    (eager_grad,) = torch.autograd.grad(eager, pred)
    compiled = torch.compile(loss)(pred, images[1])
    (compiled_grad,) = torch.autograd.grad(compiled, pred)
    torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(compiled_grad, eager_grad, rtol=1e-3, atol=1e-7)
