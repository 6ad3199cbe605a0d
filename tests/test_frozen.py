"""Frozen means frozen: no grad, eval through a parent's .train(), out of checkpoints, loads strictly."""

import io

import pytest
import torch
import torch.nn as nn

from perceptual import PerceptualLoss, VGGFeatures

pytestmark = pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning")


class Generator(nn.Module):
    def __init__(self, weights: str) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.loss = PerceptualLoss({"relu2_1": 1.0}, weights=weights, input_range=(-1, 1))


def test_parameters_never_require_grad(vgg16_file):
    vgg = VGGFeatures(["relu3_1"], weights=vgg16_file)
    params = list(vgg.parameters())
    assert params and not any(p.requires_grad for p in params)


def test_eval_survives_parent_train(vgg16_file):
    model = Generator(vgg16_file)
    model.train()
    assert model.training and model.conv.training
    assert not model.loss.extractor.training
    assert not any(m.training for m in model.loss.extractor.modules())


def test_parent_state_dict_holds_no_vgg_and_loads_strictly(vgg16_file):
    model = Generator(vgg16_file)
    state = model.state_dict()
    assert set(state) == {"conv.weight", "conv.bias"}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    assert buffer.tell() < 10_000  # the VGG (tens of MB) is not in the checkpoint

    fresh = Generator(vgg16_file)
    result = fresh.load_state_dict(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    torch.testing.assert_close(fresh.conv.weight, model.conv.weight)
    # The VGG still holds the weights from its source file.
    reference = torch.load(vgg16_file, weights_only=True)
    torch.testing.assert_close(fresh.loss.extractor.body[0].weight, reference["0.weight"])


def test_old_checkpoint_with_vgg_keys_is_ignored(vgg16_file):
    model = Generator(vgg16_file)
    state = dict(model.state_dict())
    state["loss.extractor.body.0.weight"] = torch.zeros(64, 3, 3, 3)
    before = model.loss.extractor.body[0].weight.clone()
    model.load_state_dict(state, strict=True)
    torch.testing.assert_close(model.loss.extractor.body[0].weight, before)
    assert "loss.extractor.body.0.weight" in state  # the caller's dict is not modified


def test_no_gradient_reaches_vgg(vgg16_file):
    model = Generator(vgg16_file)
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    loss = model.loss(torch.tanh(model.conv(x)), x)
    loss.backward()
    assert model.conv.weight.grad is not None and model.conv.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.loss.extractor.parameters())


def test_moves_with_to(vgg16_file):
    vgg = VGGFeatures(["relu1_2"], weights=vgg16_file).to(torch.float64)
    assert vgg.scale.dtype == torch.float64 and vgg.body[0].weight.dtype == torch.float64
    out = vgg(torch.rand(1, 3, 8, 8, dtype=torch.float64))
    assert out["relu1_2"].dtype == torch.float64
    assert "scale" not in vgg.state_dict() and not vgg.state_dict()
