"""Layer-weight dicts: a tap named twice (a canonical name and its Keras alias), weights that are not numbers, all-zero
weights, and piq's ``weights=[...]`` habit are refused with messages that show the right call."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from perceptual import PerceptualLoss, StyleLoss, perceptual_loss

pytestmark = pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning")


def test_a_tap_and_its_keras_alias_are_one_tap(vgg16_file) -> None:
    with pytest.raises(ValueError, match=r"names the tap 'relu1_1' twice \('relu1_1' and 'block1_conv1'"):
        PerceptualLoss({"relu1_1": 1, "block1_conv1": 2}, weights=vgg16_file)
    with pytest.raises(ValueError, match=r"names the tap 'relu4_1' twice"):
        StyleLoss(["block4_conv1", "relu4_1"], weights=vgg16_file)
    with pytest.raises(ValueError, match=r"names the tap 'relu2_1' twice"):
        perceptual_loss(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16), {"relu2_1": 1.0, "block2_conv1": 1.0})
    # the alias alone is one tap, with the value of its canonical name
    x, y = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    alias = PerceptualLoss({"block1_conv1": 3.0}, weights=vgg16_file)(x, y)
    canonical = PerceptualLoss({"relu1_1": 3.0}, weights=vgg16_file)(x, y)
    torch.testing.assert_close(alias, canonical)


@pytest.mark.parametrize(
    ("weight", "message"),
    [
        ("1", r"layer weights must be numbers, got '1' \(str\) for 'relu2_1'"),
        (True, r"layer weights must be numbers, got True \(bool\) for 'relu2_1'"),
        ("abc", r"layer weights must be numbers, got 'abc' \(str\) for 'relu2_1'; e.g. layers=\{'relu4_1': 1.0\}"),
        (None, r"got None \(NoneType\)"),
    ],
)
def test_weights_that_are_not_numbers(vgg16_file, weight, message) -> None:
    with pytest.raises(TypeError, match=message):
        PerceptualLoss({"relu2_1": weight}, weights=vgg16_file)


def test_numbers_of_any_numeric_type_are_weights(vgg16_file) -> None:
    loss = PerceptualLoss({"relu1_2": np.float32(0.5), "relu2_1": 2, "relu2_2": np.int64(1)}, weights=vgg16_file)
    assert loss.layer_weights == {"relu1_2": 0.5, "relu2_1": 2.0, "relu2_2": 1.0}
    assert all(type(w) is float for w in loss.layer_weights.values())


def test_all_zero_weights_are_refused(vgg16_file) -> None:
    with pytest.raises(ValueError, match=r"layer weights are all 0 .*the loss would be 0 whatever the images"):
        PerceptualLoss({"relu1_2": 0, "relu2_1": 0.0}, weights=vgg16_file)
    PerceptualLoss({"relu1_2": 0, "relu2_1": 1.0}, weights=vgg16_file)  # one zero among others is a choice


def test_piqs_layers_and_weights_lists_get_the_right_call(vgg16_file) -> None:
    """piq's ``ContentLoss(layers=["relu3_3"], weights=[1.0])``: here ``weights=`` is the VGG's weights."""
    with pytest.raises(
        TypeError, match=r"layer weights go with the layers, as a dict: PerceptualLoss\(layers=\{'relu3_3': 1.0\}\)"
    ):
        PerceptualLoss(layers=["relu3_3"], weights=[1.0])
    with pytest.raises(TypeError, match=r"PerceptualLoss\(layers=\{'relu2_2': 0.5, 'relu3_3': 2\}\)"):
        StyleLoss(layers=["relu2_2", "relu3_3"], weights=(0.5, 2))
    from perceptual import VGGFeatures

    with pytest.raises(TypeError, match=r"got list; layer weights go with the layers, e.g. layers=\{'relu3_3': 1.0\}"):
        VGGFeatures(["relu3_3"], weights=[1.0])
