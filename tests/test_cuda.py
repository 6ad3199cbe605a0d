"""GPU checks (skipped without CUDA): autocast fp16/bf16, compile, no host syncs. Equivalence of every tap with
torchvision on CUDA is the ``device="cuda"`` case of ``test_features.test_every_tap_equals_torchvision``."""

import pytest
import torch

from perceptual import PerceptualLoss, StyleLoss

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning"),
    pytest.mark.usefixtures("no_tf32"),
]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_autocast_loss_close_to_fp32_and_finite_gradient(vgg16_file, dtype):
    loss = PerceptualLoss({"relu2_2": 1.0, "relu4_1": 1.0}, weights=vgg16_file, input_range=(-1, 1)).cuda()
    g = torch.Generator().manual_seed(0)
    pred = (torch.rand(2, 3, 128, 128, generator=g) * 2 - 1).cuda().requires_grad_(True)
    target = (torch.rand(2, 3, 128, 128, generator=g) * 2 - 1).cuda()
    ref = loss(pred, target)
    (ref_grad,) = torch.autograd.grad(ref, pred)
    with torch.autocast("cuda", dtype=dtype):
        value = loss(pred, target)
    (grad,) = torch.autograd.grad(value, pred)
    assert torch.isfinite(value) and torch.isfinite(grad).all()
    assert abs(value.float().item() - ref.item()) / ref.item() < 5e-2
    # bf16 keeps 8 mantissa bits: ~10% relative gradient error through 10 layers is expected (seen on CPU too).
    bound = {torch.float16: 0.05, torch.bfloat16: 0.2}[dtype]
    assert ((grad - ref_grad).norm() / ref_grad.norm()).item() < bound
    assert torch.nn.functional.cosine_similarity(grad.flatten(), ref_grad.flatten(), dim=0) > 0.98


def test_style_loss_fp16_autocast_does_not_overflow(vgg16_file):
    loss = StyleLoss({"relu3_3": 1.0}, weights=vgg16_file, input_range=(0, 255)).cuda()
    pred = (torch.rand(1, 3, 128, 128) * 255).cuda().requires_grad_(True)
    target = (torch.rand(1, 3, 128, 128) * 255).cuda()
    with torch.autocast("cuda", dtype=torch.float16):
        value = loss(pred, target)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(pred.grad).all()


def test_training_path_has_no_host_sync(vgg16_file):
    loss = PerceptualLoss({"relu4_1": 1.0}, weights=vgg16_file, input_range=(-1, 1)).cuda()
    pred = torch.rand(2, 3, 64, 64, device="cuda").requires_grad_(True)
    target = torch.rand(2, 3, 64, 64, device="cuda")
    loss(pred, target).backward()  # warm-up (cuDNN autotuning may sync)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        loss(pred, target).backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_compiled_equals_eager_on_cuda(vgg16_file):
    loss = PerceptualLoss({"relu3_1": 1.0}, weights=vgg16_file).cuda()
    pred = torch.rand(2, 3, 64, 64, device="cuda")
    target = torch.rand(2, 3, 64, 64, device="cuda")
    torch.testing.assert_close(torch.compile(loss)(pred, target), loss(pred, target), rtol=1e-4, atol=1e-6)
