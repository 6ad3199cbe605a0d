"""describe() and `perceptual layers` against shapes from torchvision's own modules and the table the TensorFlow
``vgg16.npy`` code (tensorflow-vgg) prints."""

import subprocess
import sys

import pytest
import torch
import torchvision

from perceptual import describe, format_layer_table
from perceptual.cli import main


@pytest.mark.parametrize("arch, size", [("vgg16", 224), ("vgg19", 100), ("vgg16", (67, 45))])
def test_shapes_match_a_real_forward(arch, size):
    rows = describe(arch, size)
    h, w = (size, size) if isinstance(size, int) else size
    x = torch.zeros(1, 3, h, w)
    features = getattr(torchvision.models, arch)(weights=None).features
    with torch.no_grad():
        for row, module in zip(rows, features):
            x = module(x)
            assert row.shape == tuple(x.shape[1:]), row.name


def test_tensorflow_vgg16_npy_table_with_same_pooling():
    """The TensorFlow ``vgg16.npy`` code gives, for a 361x361 image with SAME pooling: pool1 181, pool2 91, pool3 46,
    pool4 23, pool5 12."""
    rows = {row.name: row for row in describe("vgg16", 361, pool_padding="same")}
    assert [rows[f"pool{i}"].height for i in range(1, 6)] == [181, 91, 46, 23, 12]
    valid = {row.name: row for row in describe("vgg16", 361)}
    assert [valid[f"pool{i}"].height for i in range(1, 6)] == [180, 90, 45, 22, 11]
    assert rows["relu4_1"].keras_name == "block4_conv1" and rows["conv4_1"].keras_name is None
    assert rows["relu1_1"].receptive_field == 3 and rows["pool1"].receptive_field == 6


def test_table_counts_maps_like_the_keras_examples():
    table = format_layer_table(describe("vgg16", 224))
    assert "5696" in table  # the Keras VGG16 example's 18 layers
    assert "5504" in format_layer_table(describe("vgg19", 224))  # the Keras VGG19 example's conv maps


def test_cli_layers(capsys):
    assert main(["layers", "--arch", "vgg16", "--size", "361", "--pool-padding", "same"]) == 0
    out = capsys.readouterr().out
    assert "pool1     block1_pool       4  (64, 181, 181)" in out
    assert "relu5_3" in out


def test_console_entry_point_runs():
    result = subprocess.run(
        [sys.executable, "-m", "perceptual", "layers", "--size", "32"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "(512, 1, 1)" in result.stdout
