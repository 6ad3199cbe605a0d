"""perceptual.pictures.comparison: the one ``real | generated | |difference|`` comparison that the monitor,
``perceptual maps --compare`` and BeautyGAN's page draw. Its channels, captions and ranking against numpy, its
headings against the documented text, its overlays against matplotlib's magma."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from perceptual import VGGFeatures
from perceptual.pictures.comparison import (
    ComparisonSpec,
    compare_images,
    compare_layer,
    comparison_heading,
    pca_heading,
)
from perceptual.pictures.render import GridStyle, render_comparison
from perceptual.pictures.text import short_number

pytestmark = pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning")


def _features(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(3, 10, 6, 6)).astype(np.float32), rng.normal(size=(3, 10, 6, 6)).astype(np.float32)


def test_channels_captions_ranking_and_distance_against_numpy() -> None:
    real, generated = _features()
    spec = ComparisonSpec(style=GridStyle(min_size=8), max_channels=4, ranking=5, titles=None)
    result = compare_layer(torch.from_numpy(real), torch.from_numpy(generated), spec, layer="relu1_1", sample=1)
    over_batch = np.abs(real - generated).mean(axis=(0, 2, 3))
    shown = np.sort(np.argsort(-over_batch)[:4])  # chosen over the whole batch, listed in channel order
    assert result.channels.tolist() == shown.tolist()
    order = np.argsort(-over_batch)[:5]
    assert [channel for channel, _ in result.ranking] == order.tolist()
    np.testing.assert_allclose([score for _, score in result.ranking], over_batch[order], rtol=1e-5)
    assert result.distance == pytest.approx(float(((real[1] - generated[1]) ** 2).mean()), rel=1e-5)
    assert "captions" not in result.numbers  # no titles: no text on the picture
    assert result.pictures.palette is None and result.pictures.pca is None and result.pictures.overlay is None
    activation = compare_layer(
        torch.from_numpy(real),
        torch.from_numpy(generated),
        ComparisonSpec(style=GridStyle(), max_channels=3, selection="activation"),
        layer="relu1_1",
    )
    assert activation.channels.tolist() == np.sort(np.argsort(-real.mean(axis=(0, 2, 3)))[:3]).tolist()


def test_the_picture_is_the_three_grids_with_the_documented_text() -> None:
    real, generated = _features(1)
    style = GridStyle(min_size=24, labels=True)
    spec = ComparisonSpec(style=style, max_channels=3, titles=("source", "made-up"))
    result = compare_layer(torch.from_numpy(real), torch.from_numpy(generated), spec, layer="relu2_1", sample=2)
    shown = np.sort(np.argsort(-np.abs(real - generated).mean(axis=(0, 2, 3)))[:3])
    captions = [short_number(v) for v in np.abs(real[2] - generated[2]).mean(axis=(1, 2))[shown]]
    heading = (
        "relu2_1  (6x6 maps)\n3 of 10 channels: top 3 by mean |source-made-up|\n"
        "in |difference| tiles: mean |source-made-up| of the two maps"
    )
    expected = render_comparison(
        torch.from_numpy(real[2]),
        torch.from_numpy(generated[2]),
        channels=shown.tolist(),
        style=style,
        titles=("source", "made-up"),
        heading=heading,
        captions=captions,
    )
    torch.testing.assert_close(result.pictures.comparison, expected, rtol=0, atol=0)


def test_headings_read_as_documented() -> None:
    titles = ("real", "generated")
    assert comparison_heading(
        "relu2_2", (128, 56, 56), 16, titles, selection="difference", context="real = a.png, generated = b.png"
    ) == (
        "relu2_2  real = a.png, generated = b.png  (56x56 maps)\n16 of 128 channels: top 16 by mean |real-generated|\n"
        "in |difference| tiles: mean |real-generated| of the two maps"
    )
    assert comparison_heading(
        "relu4_1",
        (512, 4, 4),
        8,
        ("source", "made-up"),
        selection="activation",
        context="batch 300",
        chosen_at="batch 100",
        fresh=False,
    ) == (
        "relu4_1  batch 300  (4x4 maps)\n8 of 512 channels: top 8 by mean source activation at batch 100\n"
        "in |difference| tiles: mean |source-made-up| of the two maps now"
    )
    assert comparison_heading("relu1_1", (64, 8, 8), 2, titles, selection="difference", fresh=False).splitlines()[
        1:
    ] == [
        "2 of 64 channels, as given",
        "in |difference| tiles: mean |real-generated| of the two maps now",
    ]
    assert pca_heading("relu2_2", 128, [0.5, 0.25, 0.1], context="batch 3") == (
        "relu2_2  batch 3\nRGB = PCA 1-3 of 128 channels\n50%, 25%, 10% of the variance"
    )


def test_one_photo_against_itself_shows_the_colormaps_floor() -> None:
    """Identical images: every distance is 0, and each overlay is, pixel by pixel, round(0.5 * image + 0.5 *
    magma(0)) with magma(0) from matplotlib (its float entry times 255, rounded)."""
    matplotlib = pytest.importorskip("matplotlib")
    pixels = np.random.default_rng(2).integers(0, 256, (32, 40, 3), dtype=np.uint8)
    extractor = VGGFeatures(["relu1_1", "relu1_2"], weights="random", input_range=(0, 1))
    spec = ComparisonSpec(style=GridStyle(min_size=16), max_channels=4, ranking=3, overlay=True, pca_style=GridStyle())
    compared = compare_images(pixels, pixels.copy(), extractor, layers=["relu1_1", "relu1_2"], spec=spec, where=True)
    floor = np.rint(np.asarray(matplotlib.colormaps["magma"](0.0)[:3]) * 255)
    blend = np.rint(0.5 * pixels + 0.5 * floor).astype(np.uint8)
    assert compared.where is not None
    np.testing.assert_array_equal(compared.where.numpy(), blend)
    assert [layer.layer for layer in compared.layers] == ["relu1_1", "relu1_2"]
    for layer in compared.layers:
        assert layer.numbers["captions"] == [0.0] * 4 and [s for _, s in layer.ranking] == [0.0] * 3
        assert layer.distance == 0.0 and layer.shape == (64, 32, 40)
        overlay = layer.pictures.overlay
        assert overlay is not None and overlay.shape == (32, 40, 3)
        np.testing.assert_array_equal(overlay.numpy()[12:], blend[12:])  # below the label "relu1_x on real"
        assert layer.pictures.pca is not None
    float_pair = torch.from_numpy(pixels).permute(2, 0, 1).float() / 255
    again = compare_images(float_pair, float_pair.clone(), extractor, layers=["relu1_1"], spec=spec)
    assert again.where is None and again.layers[0].numbers["captions"] == [0.0] * 4


def test_spec_and_input_checks() -> None:
    style = GridStyle()
    with pytest.raises(ValueError, match="max_channels must be a positive integer or None, got 0"):
        ComparisonSpec(style=style, max_channels=0)
    with pytest.raises(ValueError, match="selection must be 'difference' or 'activation', got 'mean'"):
        ComparisonSpec(style=style, selection="mean")
    with pytest.raises(ValueError, match="two names"):
        ComparisonSpec(style=style, titles=("real",))
    with pytest.raises(TypeError, match="style must be a perceptual.pictures.render.GridStyle"):
        ComparisonSpec(style={"colormap": "magma"})
    with pytest.raises(ValueError, match="alpha must be a number in"):
        ComparisonSpec(style=style, alpha=2)
    spec = ComparisonSpec(style=style, overlay=True)
    features = torch.zeros(1, 4, 2, 2)
    with pytest.raises(ValueError, match=r"overlay=True needs the real image"):
        compare_layer(features, features, spec, layer="relu1_1")
    with pytest.raises(ValueError, match="sample=3 is out of range for a batch of 1"):
        compare_layer(features, features, ComparisonSpec(style=style), layer="relu1_1", sample=3)
    extractor = VGGFeatures(["relu1_1"], weights="random", input_range=(0, 1))
    with pytest.raises(ValueError, match="the two images must have the same size"):
        compare_images(
            np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8), extractor, layers=["relu1_1"], spec=spec
        )
