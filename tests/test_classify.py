"""``VGGClassifier`` / ``perceptual classify``: logits against the numpy TF reference, preprocessing against
torchvision's transforms, top-k on a case known by construction, and the chart read back from its pixels."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from _tf_vgg_reference import (
    random_conv_weights,
    random_dense_weights,
    softmax,
    tf_dense,
    tf_vgg_features,
    write_keras_h5,
)
from PIL import Image

import perceptual
from perceptual.cli import main
from perceptual.tools.classify import (
    BAR_COLOR,
    CHART_HEIGHT,
    CHART_MARGIN,
    TOP_COLOR,
    Prediction,
    draw_probability_chart,
)

# mantis first, then the rest of the Keras VGG16 classification example's top-5 (grasshopper, cricket, walking
# stick), then cockroach
KNOWN_TOP = [
    (315, "mantis", 6.0),
    (311, "grasshopper", 5.0),
    (312, "cricket", 4.5),
    (313, "walking stick", 3.0),
    (314, "cockroach", 2.0),
]


@pytest.fixture(scope="module")
def convs():
    return random_conv_weights("vgg16", seed=5)


@pytest.fixture(scope="module")
def dense():
    return random_dense_weights((16, 16, 1000), seed=6)


@pytest.fixture(scope="module")
def keras_with_top(tmp_path_factory, convs, dense):
    path = tmp_path_factory.mktemp("keras") / "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
    write_keras_h5(path, convs, dense, layout="model_save")
    return path


@pytest.fixture(scope="module")
def keras_known(tmp_path_factory, convs, dense):
    """fc2 kernel and predictions kernel zero: the logits are the predictions bias whatever the image."""
    known = [
        dense[0],
        (np.zeros_like(dense[1][0]), dense[1][1]),
        (np.zeros_like(dense[2][0]), np.zeros(1000, np.float32)),
    ]
    for index, _, logit in KNOWN_TOP:
        known[2][1][index] = logit
    path = tmp_path_factory.mktemp("keras") / "known.h5"
    write_keras_h5(path, convs, known, layout="applications")
    return path


def test_logits_match_tf_reference(keras_with_top, convs, dense):
    model = perceptual.VGGClassifier(str(keras_with_top), input_range=(0, 1))
    images = np.random.default_rng(0).random((2, 32, 32, 3))
    results = model.classify(torch.from_numpy(images.transpose(0, 3, 1, 2)).float(), top=5, preprocess=False)

    pool5 = tf_vgg_features(images, convs, "vgg16", pool_padding="VALID")["pool5"]  # (2, 1, 1, 512)
    # torchvision's AdaptiveAvgPool2d((7, 7)) on a 1x1 map repeats it; Keras would need a 224 input for 7x7.
    pool5 = np.broadcast_to(pool5, (2, 7, 7, 512))
    reference = softmax(tf_dense(pool5, dense))
    for result, probs in zip(results, reference):
        np.testing.assert_allclose(result.probabilities.double().numpy(), probs, rtol=1e-4, atol=1e-7)
        assert [p.index for p in result.top] == list(np.argsort(-probs)[:5])
        assert result.top[0].probability == pytest.approx(probs.max(), rel=1e-4)
        assert result.top[0].category == perceptual.weights_formats.imagenet_categories()[int(np.argmax(probs))]


@pytest.mark.parametrize("size", [(300, 400), (401, 257), (224, 224)])
def test_preprocess_matches_torchvision_transforms(keras_with_top, size):
    from torchvision.transforms import v2

    image = torch.rand(3, *size, generator=torch.Generator().manual_seed(1))
    crop = perceptual.VGGClassifier(str(keras_with_top), resize="crop")
    expected = v2.Compose([v2.Resize(256, antialias=True), v2.CenterCrop(224)])(image)
    torch.testing.assert_close(crop.preprocess(image)[0], expected, rtol=0, atol=1e-5)
    stretch = perceptual.VGGClassifier(str(keras_with_top), resize="stretch")
    torch.testing.assert_close(
        stretch.preprocess(image)[0], v2.Resize((224, 224), antialias=True)(image), rtol=0, atol=1e-5
    )


def test_cli_top5_known_by_construction(keras_known, tmp_path, capsys):
    image_path = tmp_path / "mantis.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(image_path)
    chart = tmp_path / "chart.png"
    code = main(["classify", str(image_path), "--weights", str(keras_known), "--top", "5", "--chart", str(chart)])
    assert code == 0
    lines = [
        line for line in capsys.readouterr().out.splitlines() if line.strip()[:2] in {f"{i}." for i in range(1, 6)}
    ]
    logits = np.zeros(1000)
    for index, _, logit in KNOWN_TOP:
        logits[index] = logit
    probs = np.exp(logits) / np.exp(logits).sum()  # by hand: all other 995 logits are 0
    assert len(lines) == 5
    for line, (index, name, _) in zip(lines, KNOWN_TOP):
        assert name in line and f"index {index:>4d}" in line and f"p={probs[index]:.4f}" in line, line

    # The chart, read back from its pixels: one column per class, red for the top 5, heights proportional.
    pixels = np.asarray(Image.open(chart).convert("RGB"))
    left, upper, right, lower = CHART_MARGIN
    assert pixels.shape[1] == left + 1000 + right
    columns = pixels[:, left : left + 1000]
    red = (columns == TOP_COLOR).all(axis=2).sum(axis=0)
    blue = (columns == BAR_COLOR).all(axis=2).sum(axis=0)
    assert sorted(np.flatnonzero(red)) == sorted(index for index, _, _ in KNOWN_TOP)
    assert blue[[index for index, _, _ in KNOWN_TOP]].sum() == 0
    peak = probs.max()  # 0.242; the axis tops out at the next of 1, 2, 2.5, 5 x 10^k: 0.25
    y_max = min(v for v in (0.1, 0.2, 0.25, 0.5, 1.0) if v >= peak)
    for index, _, _ in KNOWN_TOP:
        assert abs(red[index] - probs[index] / y_max * CHART_HEIGHT) <= 1, index
    assert np.abs(blue[blue > 0] - probs[0] / y_max * CHART_HEIGHT).max() <= 1


def test_chart_heights_from_a_hand_made_vector(tmp_path):
    probs = torch.full((1000,), 0.2 / 998)
    probs[3], probs[900] = 0.6, 0.2
    top = [Prediction(3, "tench?", 0.6), Prediction(900, "other", 0.2)]
    path = draw_probability_chart(probs, top, tmp_path / "c.png")
    pixels = np.asarray(Image.open(path).convert("RGB"))
    left = CHART_MARGIN[0]
    red = (pixels[:, left : left + 1000] == TOP_COLOR).all(axis=2).sum(axis=0)
    assert red[3] == CHART_HEIGHT * 0.6 and red[900] == CHART_HEIGHT * 0.2  # axis 0..1 for a 0.6 peak
    assert red.sum() == red[3] + red[900]


def test_without_classifier_says_which_weights(tmp_path, capsys):
    with pytest.warns(perceptual.RandomWeightsWarning):
        features_only = perceptual.load_weights("random")
    with pytest.raises(ValueError, match=r"no classifier.*'imagenet'.*not the _notop file"):
        perceptual.VGGClassifier(features_only)
    image_path = tmp_path / "x.png"
    Image.new("RGB", (40, 40), (10, 200, 30)).save(image_path)
    npy = tmp_path / "notop.npy"
    np.save(npy, {name: list(pair) for name, pair in random_conv_weights("vgg16", seed=1).items()}, allow_pickle=True)
    assert main(["classify", str(image_path), "--weights", str(npy)]) == 2
    assert "fc6/fc7/fc8" in capsys.readouterr().err


def test_bad_arguments(keras_with_top):
    model = perceptual.VGGClassifier(str(keras_with_top))
    with pytest.raises(ValueError, match="top must be a positive integer"):
        model.classify(torch.rand(1, 3, 32, 32), top=0)
    with pytest.raises(ValueError, match="more than the 1000 classes"):
        model.classify(torch.rand(1, 3, 32, 32), top=1001)
    with pytest.raises(ValueError, match="different sizes"):
        model.classify([torch.rand(3, 32, 32), torch.rand(3, 40, 32)], preprocess=False)
    with pytest.raises(ValueError, match="resize must be"):
        perceptual.VGGClassifier(str(keras_with_top), resize="squash")  # type: ignore[arg-type]


def test_frozen_and_categories_override(keras_with_top):
    weights = perceptual.load_keras_h5_weights(keras_with_top)
    model = perceptual.VGGClassifier(dataclasses.replace(weights, categories=None))
    assert model.categories[7] == "class 7"
    model.train()
    assert not model.training and not any(p.requires_grad for p in model.parameters())
