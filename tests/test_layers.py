import pytest
import torch.nn as nn
import torchvision

from perceptual import KERAS_ALIASES, VGG16_LAYERS, VGG19_LAYERS, canonical_layer_name, layer_names
from perceptual.layers import layer_index


@pytest.mark.parametrize("arch, names, count", [("vgg16", VGG16_LAYERS, 31), ("vgg19", VGG19_LAYERS, 37)])
def test_names_match_torchvision_modules(arch, names, count):
    features = getattr(torchvision.models, arch)(weights=None).features
    assert len(names) == count == len(features)
    kinds = {"conv": nn.Conv2d, "relu": nn.ReLU, "pool": nn.MaxPool2d}
    for name, module in zip(names, features):
        assert isinstance(module, kinds[name.rstrip("0123456789_")]), name
    assert layer_names(arch) == names


def test_vgg16_names_spot_check():
    assert VGG16_LAYERS[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert VGG16_LAYERS.index("relu4_1") == 18
    assert VGG19_LAYERS.index("relu4_1") == 20
    assert VGG16_LAYERS[-1] == VGG19_LAYERS[-1] == "pool5"


def test_keras_aliases_are_post_relu():
    assert KERAS_ALIASES["block4_conv1"] == "relu4_1"
    assert KERAS_ALIASES["block5_pool"] == "pool5"
    assert canonical_layer_name("block1_conv2", "vgg16") == "relu1_2"
    assert layer_index("block4_conv1", "vgg16") == 18
    assert len([a for a, c in KERAS_ALIASES.items() if c in VGG16_LAYERS]) == 18  # the TF vgg16.npy code's taps
    assert len(KERAS_ALIASES) == 21  # Keras VGG19 has 21 layers besides the input


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="relu4_1") as info:
        canonical_layer_name("relu4_4", "vgg16")
    assert "conv5_3" in str(info.value) and "block4_conv1" in str(info.value)
    assert canonical_layer_name("relu4_4", "vgg19") == "relu4_4"
    with pytest.raises(ValueError, match="vgg16"):
        canonical_layer_name("block4_conv4", "vgg16")
    with pytest.raises(ValueError, match="arch"):
        layer_names("resnet50")
    with pytest.raises(TypeError):
        canonical_layer_name(18, "vgg16")


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_vgg_convs_describe_torchvisions_features(arch):
    """The one walk of the configuration table, checked module by module against torchvision's own VGG."""
    from perceptual.layers import vgg_convs

    features = getattr(torchvision.models, arch)(weights=None).features
    convs = vgg_convs(arch)
    assert [i for i, m in enumerate(features) if isinstance(m, nn.Conv2d)] == [c.index for c in convs]
    for conv in convs:
        module = features[conv.index]
        assert (module.in_channels, module.out_channels) == (conv.in_channels, conv.out_channels)
        after = features[conv.index + 2] if conv.index + 2 < len(features) else None
        assert conv.pool_after == isinstance(after, nn.MaxPool2d)
        assert layer_names(arch)[conv.index] == f"conv{conv.block}_{conv.number}"
