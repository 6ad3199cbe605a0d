"""The first-batch range check reads the prediction as well as the target, in one device sync, and runs outside the
graph of a compiled loss: no graph break, the same graph as with the check off, one warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

import perceptual
from perceptual import InputRangeWarning, PerceptualLoss

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image ships the real photos")

pytestmark = pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning")

_HOST_READS = ("tolist", "item", "__bool__", "__float__", "__int__", "__index__")


class _HostReads(TorchFunctionMode):
    """Counts the tensor calls that copy a value to the host (each one a device sync on a GPU)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in _HOST_READS:
            self.calls.append(func.__name__)
        return func(*args, **(kwargs or {}))


def _photos() -> torch.Tensor:
    """Two real photos in [0, 1], 64x64."""
    crops = [skimage_data.astronaut()[::8, ::8], skimage_data.chelsea()[:256:4, 100:356:4]]
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255


def test_a_tanh_prediction_declared_unit_warns_in_the_one_sync(vgg16_file) -> None:
    """tanh outputs passed with ``input_range=(0, 1)``: the target is right, the prediction leaves the range."""
    target = _photos()
    pred = torch.tanh(torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)))  # in (-1, 1)
    loss = PerceptualLoss({"relu2_1": 1.0}, weights=vgg16_file)
    with _HostReads() as reads, pytest.warns(InputRangeWarning) as record:
        loss(pred, target)
    messages = [str(w.message) for w in record if w.category is InputRangeWarning]
    assert len(messages) == 1 and messages[0].startswith("pred values span [-0.99")
    assert "leave the declared input_range=(0, 1); if they are -1..1 images, pass input_range=(-1, 1)" in messages[0]
    assert reads.calls == ["tolist"]  # target and pred: one combined min/max
    with _HostReads() as reads, warnings.catch_warnings():
        warnings.simplefilter("error", InputRangeWarning)
        loss(pred, target)
    assert reads.calls == []  # the second batch costs no check


def test_an_untrained_generators_narrow_output_inside_the_range_is_silent(vgg16_file) -> None:
    """The narrow-span rule reads the target only: a prediction spanning little of its declared range is what an
    untrained generator gives. Values outside the range always warn."""
    target = _photos() * 2 - 1
    # [0.05, 0.95]: 45% of (-1, 1), filling most of (0, 1), the span that makes a target warn
    narrow = 0.05 + 0.9 * torch.rand(target.shape, generator=torch.Generator().manual_seed(1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputRangeWarning)
        PerceptualLoss({"relu2_1": 1.0}, weights=vgg16_file, input_range=(-1, 1))(narrow, target)
    with pytest.warns(InputRangeWarning, match=r"^target values span \[0\.0[0-9]+, 0\.9[0-9]+\] and use 45% of"):
        PerceptualLoss({"relu2_1": 1.0}, weights=vgg16_file, input_range=(-1, 1))(target, narrow)


@pytest.mark.parametrize("metric", ["LPIPS", "DISTS", "StyleLoss"])
def test_metrics_and_style_check_the_prediction_too(metric) -> None:
    target = _photos()
    pred = target * 255  # 0-255 outputs declared (0, 1)
    module = getattr(perceptual, metric)(weights="random")
    with pytest.warns(InputRangeWarning, match=r"^pred values span \[0, 255\] and leave the declared input_range"):
        module(pred, target)


def _graph_ops(explanation) -> list[str]:
    return [str(node.target) for graph in explanation.graphs for node in graph.graph.nodes]


@pytest.mark.slow
def test_compiled_loss_has_no_graph_break_the_same_graph_and_warns_once(vgg16_file) -> None:
    target = _photos()
    pred = (target * 2 - 1).requires_grad_(True)  # tanh-range outputs declared (0, 1)
    loss = PerceptualLoss({"relu2_1": 1.0}, weights=vgg16_file)
    with pytest.warns(InputRangeWarning, match=r"^pred values span \[-1, 1\] and leave") as record:
        explanation = torch._dynamo.explain(loss)(pred, target)
    assert len([w for w in record if w.category is InputRangeWarning]) == 1
    assert (explanation.graph_count, explanation.graph_break_count) == (1, 0)
    unchecked = PerceptualLoss({"relu2_1": 1.0}, weights=vgg16_file, warn_range_mismatch=False)
    assert _graph_ops(explanation) == _graph_ops(torch._dynamo.explain(unchecked)(pred, target))

    torch._dynamo.reset()
    fresh = PerceptualLoss({"relu2_1": 1.0}, weights=vgg16_file)
    compiled = torch.compile(fresh, backend="eager", fullgraph=True)  # fullgraph: any graph break is an error
    with pytest.warns(InputRangeWarning) as record:
        value = compiled(pred, target)
        compiled(pred, target)
    assert len([w for w in record if w.category is InputRangeWarning]) == 1
    torch.testing.assert_close(value, unchecked(pred, target))
    value.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
