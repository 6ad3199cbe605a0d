"""PSGANGenerator's ``output="reference_colours"`` by value: the cells' region colours, the colours the attention
moves (a softmax over each region's pixels), the base images and their mix, against the numpy transcription in
``tests/_reference_colours.py``; a reference without a region; the refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _reference_colours import base_images, cells, keys, pixel_regions

from beautygan.data.geometry import face_geometry
from beautygan.data.synthetic import render_face
from beautygan.data.synthetic_pose import random_pose
from beautygan.models.beautygan import Generator
from beautygan.models.layers import BASE_LIMIT, output_image
from beautygan.models.psgan import FaceGeometry, PSGANGenerator, cell_colours

SIZE = 32


def _faces(seed: int, makeup: bool, count: int) -> tuple[torch.Tensor, FaceGeometry]:
    """``count`` posed synthetic faces in [-1, 1] (float64) and their geometry."""
    rng = np.random.default_rng(seed)
    faces = [render_face(rng, SIZE, makeup=makeup, pose=random_pose(rng, 1.0)) for _ in range(count)]
    images = torch.stack([torch.from_numpy(f.image).permute(2, 0, 1).double() / 127.5 - 1 for f in faces])
    labels = torch.stack([torch.from_numpy(f.labels.astype(np.int64))[None] for f in faces])
    landmarks = torch.stack([torch.from_numpy(f.landmarks).double() for f in faces])
    return images, face_geometry(labels, landmarks)


@pytest.fixture(scope="module")
def pairs() -> tuple[torch.Tensor, FaceGeometry, torch.Tensor, FaceGeometry]:
    sources, source_geometry = _faces(0, False, 2)
    references, reference_geometry = _faces(1, True, 2)
    return sources, source_geometry, references, reference_geometry


def _generator(seed: int) -> PSGANGenerator:
    torch.manual_seed(seed)
    # temperature 5: soft attention, so that the pixel counts and every reference cell matter
    return PSGANGenerator(width=4, mdnet_blocks=1, manet_blocks=2, temperature=5.0, output="reference_colours").double()


def test_cell_colours_by_hand(pairs) -> None:
    """Each 4 x 4 cell's mean colour of its pixels in each region and their count, by hand; a pixel in no region
    counts nowhere."""
    images, geometry = pairs[2], pairs[3]
    colours, pixels = cell_colours(images, geometry)
    for n in range(len(images)):
        ids = pixel_regions(geometry.regions[n].numpy())
        means, counts = cells(images[n].numpy(), ids)
        np.testing.assert_allclose(colours[n].numpy(), means, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(pixels[n].numpy(), counts)
        assert (ids < 0).any() and 0 < counts[0].sum() < counts[1].sum()  # background; lips and skin


def _keys_by_hand(g: PSGANGenerator, features: torch.Tensor, geometry: FaceGeometry, n: int) -> np.ndarray:
    return keys(features[n].numpy(), geometry.landmarks[n].numpy(), g.feature_scale)


def _expected(g, sources, source_geometry, looks, weights, n: int) -> np.ndarray:
    """The generator's output for source ``n`` at its first state (corrections zero, the mask channel zeroed so
    that the mask is 1/2): on each region's pixels, half the region's base clipped plus half the source; elsewhere
    the source."""
    source_features = g.manet.bottleneck[: g.apply_after](g.manet.encoder(sources))
    references = []
    for images, geometry in looks:
        features = g.mdnet(images)[0]
        references.append(
            (
                images[n].numpy(),
                pixel_regions(geometry.regions[n].numpy()),
                _keys_by_hand(g, features, geometry, n),
            )
        )
    x = sources[n].numpy()
    ids = pixel_regions(source_geometry.regions[n].numpy())
    base = base_images(
        x, ids, _keys_by_hand(g, source_features, source_geometry, n), references, weights, g.temperature
    )
    out = x.copy()
    for region in range(3):
        inside = ids == region
        out[:, inside] = 0.5 * np.clip(base[region][:, inside], -BASE_LIMIT, BASE_LIMIT) + 0.5 * x[:, inside]
    return out


def test_the_first_output_is_the_source_recoloured_by_the_attention_by_hand(pairs) -> None:
    """An untrained generator paints the base images: on each region's pixels, the source with each cell's mean
    colour of the region moved to the reference's colour of the region, the attention's weights over the
    reference's cells counted by the region's pixels each holds (numpy, float64); a mix of two looks moves it by
    the weighted sum of their shifts; the pixels of no region are the source's. ``apply_looks`` paints the same."""
    sources, source_geometry, references, reference_geometry = pairs
    g = _generator(0)
    with torch.no_grad():
        assert not g.manet.decoder[-1].weight[:-1].any()  # the corrections start at zero
        g.manet.decoder[-1].weight[-1].zero_()  # mask 1/2
        code = g.makeup_code(references, reference_geometry)
        out = g.apply_makeup(sources, code, source_geometry)
        swapped = (references.flip(0), FaceGeometry.cat([reference_geometry[1], reference_geometry[0]]))
        mixed = g.mix_codes([code, g.makeup_code(*swapped)], [0.3, 0.9])
        out_mixed = g.apply_makeup(sources, mixed, source_geometry)
        looks = g.apply_looks(sources, [code, mixed], source_geometry)  # MANet's first half once, both looks
        torch.testing.assert_close(looks[0], out, rtol=0, atol=1e-12)
        torch.testing.assert_close(looks[1], out_mixed, rtol=0, atol=1e-12)
        for n in range(len(sources)):
            expected = _expected(g, sources, source_geometry, [(references, reference_geometry)], [1.0], n)
            np.testing.assert_allclose(out[n].numpy(), expected, rtol=0, atol=1e-9)
            looks = [(references, reference_geometry), swapped]
            expected = _expected(g, sources, source_geometry, looks, [0.3, 0.9], n)
            np.testing.assert_allclose(out_mixed[n].numpy(), expected, rtol=0, atol=1e-9)
    lips = source_geometry.regions[:, 0] > 0.5
    assert (out - sources).abs().amax(1)[lips].mean() > 0.05  # the lips moved


@pytest.mark.parametrize("strength", [1.0, 0.4])
def test_each_region_takes_the_reference_s_mean_colour_whatever_the_attention_favours(pairs, strength) -> None:
    """At the official temperature (200, a sharp attention that reads a few of the reference's cells), an untrained
    generator paints (under its mask) each of the source's regions with the reference's mean colour of that region
    over its pixels, by hand (a look at strength ``s``: ``s`` times it plus ``1 - s`` times the source's own), for
    posed references; the shift still varies across the region as the attention moves the colours."""
    sources, source_geometry, references, reference_geometry = pairs
    torch.manual_seed(2)
    g = PSGANGenerator(width=4, mdnet_blocks=1, manet_blocks=2, output="reference_colours").double()
    with torch.no_grad():
        g.manet.decoder[-1].weight[-1].zero_()  # mask 1/2: the output is (base + source) / 2
        code = g.mix_codes([g.makeup_code(references, reference_geometry)], [strength])
        base = 2 * g.apply_makeup(sources, code, source_geometry) - sources
    for n in range(len(sources)):
        source_ids = pixel_regions(source_geometry.regions[n].numpy())
        reference_ids = pixel_regions(reference_geometry.regions[n].numpy())
        for region in range(3):
            mine, theirs = (
                sources[n].numpy()[:, source_ids == region],
                references[n].numpy()[:, reference_ids == region],
            )
            painted = base[n].numpy()[:, source_ids == region]
            expected = strength * theirs.mean(axis=1) + (1 - strength) * mine.mean(axis=1)
            assert np.abs(painted).max() < BASE_LIMIT  # nothing clipped
            np.testing.assert_allclose(painted.mean(axis=1), expected, rtol=0, atol=1e-9)
            if region == 1:  # the skin spans many cells: its shift varies across them, not one flat shift
                assert (painted - mine).std(axis=1).max() > 1e-2 * strength


def test_a_reference_without_a_region_leaves_that_region_as_the_source_and_gradients_finite(pairs) -> None:
    """A reference with no lip pixels moves no colour onto the source's lips: their base is the source (the mask's
    blend of the source with itself), and a backward pass through it stays finite."""
    sources, source_geometry, references, reference_geometry = pairs
    no_lips = reference_geometry.regions.clone()
    no_lips[:, 0] = 0
    bare = FaceGeometry(regions=no_lips, landmarks=reference_geometry.landmarks)
    g = _generator(1)
    code = g.makeup_code(references, bare)
    assert not code.pixels[:, :, 0].any() and code.pixels[:, :, 1].any()
    out = g.apply_makeup(sources, code, source_geometry)
    lips = source_geometry.regions[:, 0] > 0.5
    # m * tanh(atanh(clip(x))) + (1 - m) * x: at most the clipping away from x
    clipping = (sources - sources.clamp(-BASE_LIMIT, BASE_LIMIT)).abs().amax(1)
    difference = (out - sources).abs().amax(1)
    assert lips.any() and (difference - clipping)[lips].max() < 1e-9
    out.square().sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in g.parameters() if p.grad is not None)


def test_reference_colours_refusals() -> None:
    """A base of another shape, or none, is refused; BeautyGAN's generator, which is given no regions, refuses the
    output; codes of another shape are refused."""
    raw = torch.zeros(1, 10, 4, 4)
    ids = torch.zeros(1, 4, 4, dtype=torch.int64)
    with pytest.raises(ValueError, match=r"output 'reference_colours' needs a base of shape \(1, 3, 3, 4, 4\), got"):
        output_image(raw, torch.zeros(1, 3, 4, 4), "reference_colours", ids)
    with pytest.raises(ValueError, match="only the psgan generator is given"):
        Generator(width=4, residual_blocks=0, output="reference_colours")
    with pytest.raises(ValueError, match="'reference_colours', got 'colours'"):
        PSGANGenerator(width=4, output="colours")  # type: ignore[arg-type]
