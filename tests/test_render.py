"""perceptual.pictures' rendering (render, colormaps, grids, text, channels, comparison, heatmaps): colormaps,
normalization, grid geometry, comparison view, labels - against hand-built tensors, numpy, and the published hex codes
of viridis/magma."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from perceptual.pictures import channels, colormaps, heatmaps, text
from perceptual.pictures.channels import select_channels
from perceptual.pictures.colormaps import apply_colormap, colormap_lut, indexed_palette
from perceptual.pictures.grids import (
    channel_range,
    grid_geometry,
    rendered_tile_size,
    resize_maps,
    scale_channels,
    tile_grid,
)
from perceptual.pictures.render import (
    GridStyle,
    channel_sum,
    render_channel_sum,
    render_comparison,
    render_maps,
    render_maps_indexed,
)


class TestColormaps:
    # viridis #440154 (start), #21918C (middle), #FDE725 (end); magma #000004, #B73779, #FCFDBF.
    @pytest.mark.parametrize(
        "name, first, middle, last",
        [
            ("viridis", (0x44, 0x01, 0x54), (0x21, 0x91, 0x8C), (0xFD, 0xE7, 0x25)),
            ("magma", (0x00, 0x00, 0x04), (0xB7, 0x37, 0x79), (0xFC, 0xFD, 0xBF)),
            ("gray", (0, 0, 0), (128, 128, 128), (255, 255, 255)),
        ],
    )
    def test_endpoints(self, name, first, middle, last):
        lut = colormap_lut(name)
        assert lut.shape == (256, 3) and lut.dtype == torch.uint8
        assert tuple(lut[0].tolist()) == first
        assert tuple(lut[128].tolist()) == middle
        assert tuple(lut[255].tolist()) == last

    def test_apply_maps_values_like_matplotlib(self):
        values = torch.tensor([0.0, 0.5, 1.0, -3.0, 7.0, float("nan"), 1 / 256 - 1e-6, 1 / 256])
        colored = apply_colormap(values, "gray")
        # matplotlib: entry min(floor(256 v), 255), clipped; NaN -> 0 here
        assert colored[:, 0].tolist() == [0, 128, 255, 0, 255, 0, 0, 1]
        assert colored.shape == (8, 3)

    def test_stored_tables_are_matplotlibs_rounded(self):
        """Every entry of the generated uint8 tables against the installed matplotlib's float colormaps."""
        cm = pytest.importorskip("matplotlib").colormaps
        for name in ("viridis", "magma"):
            expected = np.round(np.asarray(cm[name].colors) * 255)
            np.testing.assert_array_equal(colormap_lut(name).numpy(), expected)
        np.testing.assert_array_equal(colormap_lut("gray").numpy()[:, 0], np.arange(256))

    def test_against_matplotlib(self):
        cm = pytest.importorskip("matplotlib").colormaps
        values = torch.linspace(0, 1, 1001, dtype=torch.float64)
        for name in ("viridis", "magma"):
            expected = np.round(cm[name](values.numpy())[:, :3] * 255)
            got = apply_colormap(values, name).numpy().astype(np.float64)
            assert np.abs(got - expected).max() <= 1  # rounding only

    def test_unknown_colormap(self):
        with pytest.raises(ValueError, match="viridis"):
            colormap_lut("jet")
        with pytest.raises(TypeError, match="floating"):
            apply_colormap(torch.zeros(3, dtype=torch.long))


class TestNormalization:
    def test_minmax_per_channel(self):
        maps = torch.tensor([[[0.0, 1.0], [2.0, 4.0]], [[5.0, 5.0], [5.0, 5.0]], [[-2.0, 0.0], [2.0, -1.0]]])
        before = maps.clone()
        out = scale_channels(maps)
        expected = torch.tensor([[[0, 0.25], [0.5, 1]], [[0, 0], [0, 0]], [[0, 0.5], [1, 0.25]]])
        torch.testing.assert_close(out, expected)
        assert torch.equal(maps, before)  # not modified in place

    def test_percentile_matches_numpy(self):
        torch.manual_seed(0)
        maps = torch.randn(3, 17, 13, dtype=torch.float64)
        low, high = channel_range(maps, method="percentile", percentiles=(2.0, 97.5))
        np.testing.assert_allclose(low.squeeze().numpy(), np.percentile(maps.numpy(), 2.0, axis=(1, 2)))
        np.testing.assert_allclose(high.squeeze().numpy(), np.percentile(maps.numpy(), 97.5, axis=(1, 2)))
        assert low.shape == (3, 1, 1)

    def test_percentile_clips_outliers(self):
        maps = torch.arange(100.0).view(1, 10, 10).clone()
        maps[0, 0, 0] = 1e6  # one hot pixel
        out = scale_channels(maps, method="percentile", percentiles=(0, 98))
        assert out[0, 0, 0] == 1 and 0.4 < float(out[0, 5, 0]) < 0.6

    def test_shared_range_over_extra_dims(self):
        pair = torch.stack((torch.zeros(2, 3, 3), torch.ones(2, 3, 3) * torch.tensor([2.0, 4.0])[:, None, None]))
        low, high = channel_range(pair, dims=(0, -2, -1))
        assert low.flatten().tolist() == [0, 0] and high.flatten().tolist() == [2, 4]

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="minmax"):
            scale_channels(torch.rand(1, 2, 2), method="zscore")
        with pytest.raises(ValueError, match="0 <= low < high <= 100"):
            scale_channels(torch.rand(1, 2, 2), method="percentile", percentiles=(50, 10))
        with pytest.raises(TypeError, match="floating"):
            scale_channels(torch.ones(1, 2, 2, dtype=torch.long))


class TestGrid:
    def test_geometry(self):
        geo = grid_geometry(5, 3, 4, ncols=3, padding=1)
        assert (geo.rows, geo.cols, geo.height, geo.width) == (2, 3, 9, 16)
        assert geo.origin(0) == (1, 1) and geo.origin(4) == (5, 6)
        assert grid_geometry(10, 2, 2).cols == 4  # ceil(sqrt(10))

    def test_tiles_land_where_geometry_says(self):
        tiles = torch.arange(1, 6, dtype=torch.uint8)[:, None, None].expand(5, 3, 4)
        grid = tile_grid(tiles, ncols=3, padding=1, pad_value=99)
        expected = torch.full((9, 16), 99, dtype=torch.uint8)
        for i in range(5):
            row, col = divmod(i, 3)
            top, left = 1 + row * 4, 1 + col * 5
            expected[top : top + 3, left : left + 4] = i + 1
        assert torch.equal(grid, expected)

    def test_rgb_tiles_and_no_padding(self):
        tiles = torch.rand(4, 2, 3, 3)
        grid = tile_grid(tiles, ncols=2, padding=0)
        assert grid.shape == (4, 6, 3)
        torch.testing.assert_close(grid[2:4, 3:6], tiles[3])
        torch.testing.assert_close(grid[0:2, 0:3], tiles[0])

    def test_bad_input(self):
        with pytest.raises(ValueError, match=r"\(N, H, W\)"):
            tile_grid(torch.rand(2, 3))
        with pytest.raises(ValueError, match="ncols"):
            grid_geometry(3, 2, 2, ncols=0)

    def test_resize(self):
        assert rendered_tile_size(7, 7, min_size=32) == (35, 35)
        assert rendered_tile_size(224, 224, max_size=64) == (64, 64)
        assert rendered_tile_size(28, 28, min_size=16, max_size=64) == (28, 28)
        maps = torch.rand(3, 64, 64)
        torch.testing.assert_close(resize_maps(maps, max_size=32), F.avg_pool2d(maps[None], 2)[0])
        small = torch.arange(4.0).view(1, 2, 2)
        up = resize_maps(small, min_size=4)
        assert torch.equal(up, small.repeat_interleave(2, -2).repeat_interleave(2, -1))


class TestReductions:
    def test_channel_sum_and_mean(self):
        feats = torch.rand(2, 5, 3, 4)
        np.testing.assert_allclose(channel_sum(feats).numpy(), feats.numpy().sum(axis=1), rtol=1e-6)
        np.testing.assert_allclose(
            channel_sum(feats[0], reduce="mean").numpy(), feats[0].numpy().mean(axis=0), rtol=1e-6
        )

    def test_select_by_activation_and_difference(self):
        real = torch.tensor([1.0, 5.0, 3.0, 0.0])[:, None, None].expand(4, 2, 2).clone()
        assert select_channels(real, k=2, by="activation").tolist() == [1, 2]
        generated = real.clone()
        generated[0] += 10
        generated[3] -= 4
        assert select_channels(real, generated, k=2, by="difference").tolist() == [0, 3]
        assert select_channels(real[None], generated[None], k=9, by="difference").tolist() == [0, 1, 2, 3]
        with pytest.raises(ValueError, match="generated"):
            select_channels(real, k=1, by="difference")


class TestRenderMaps:
    def test_gray_levels_and_channel_order(self):
        maps = torch.stack([torch.zeros(2, 2), torch.tensor([[0.0, 1.0], [2.0, 4.0]]), torch.ones(2, 2)])
        grid = render_maps(maps, channels=[1, 0], style=GridStyle(colormap="gray", padding=0, ncols=2))
        assert grid.shape == (2, 4, 3)
        # channel 1 first: (0, .25, .5, 1) -> floor(256 v) clipped to 255
        assert grid[:, :2, 0].tolist() == [[0, 64], [128, 255]]
        assert grid[:, 2:, 0].tolist() == [[0, 0], [0, 0]]  # constant channel 0 -> level 0

    def test_labels_stamp_channel_numbers(self):
        maps = torch.zeros(8, 24, 24)
        plain = render_maps(maps, style=GridStyle(colormap="gray", padding=0, ncols=8))
        labelled = render_maps(maps, style=GridStyle(colormap="gray", padding=0, ncols=8, labels=True))
        tile7 = labelled[:, 7 * 24 : 8 * 24, 0]
        # glyph "7" (3x5: 111/001/001/001/001) drawn white at (1, 1) inside a 1-pixel outline
        assert tile7[1, 1:4].tolist() == [255, 255, 255]
        assert tile7[2, 1:4].tolist() == [0, 0, 255]
        assert tile7[5, 3] == 255 and tile7[6, 3] == 0
        assert torch.equal(labelled[8:], plain[8:])  # below the label box nothing changes
        assert torch.equal(
            render_maps(torch.zeros(8, 8, 8), style=GridStyle(labels=True)), render_maps(torch.zeros(8, 8, 8))
        )  # too small

    def test_indexed_matches_rgb_within_a_colormap_step(self):
        torch.manual_seed(0)
        maps = torch.rand(6, 10, 10)
        rgb = render_maps(maps, style=GridStyle(padding=1))
        index, palette = render_maps_indexed(maps, style=GridStyle(padding=1))
        assert index.dtype == torch.uint8 and palette.shape == (256, 3)
        decoded = palette[index.long()]
        assert (decoded.int() - rgb.int()).abs().max() <= 8
        assert tuple(palette[colormaps.INDEXED_WHITE].tolist()) == (255, 255, 255)
        assert torch.equal(indexed_palette("viridis")[0], colormap_lut("viridis")[0])
        assert torch.equal(indexed_palette("viridis")[colormaps.INDEXED_LEVELS - 1], colormap_lut("viridis")[255])

    def test_style_scaling_reaches_the_pixels(self):
        maps = torch.tensor([[[0.0, 1.0, 2.0, 3.0, 100.0]]])  # one 1x5 map with an outlier
        gray = GridStyle(colormap="gray", padding=0)
        # min-max over [0, 100]: level floor(256 * v / 100)
        assert render_maps(maps, style=gray)[0, :, 0].tolist() == [0, 2, 5, 7, 255]
        # percentiles (0, 75) -> range [0, 3]: floor(256 * v / 3), the outlier clipped to the top
        robust = GridStyle(colormap="gray", padding=0, scaling="percentile", percentiles=(0.0, 75.0))
        assert render_maps(maps, style=robust)[0, :, 0].tolist() == [0, 85, 170, 255, 255]

    def test_channel_sum_render(self):
        maps = torch.stack([torch.tensor([[0.0, 1.0], [2.0, 3.0]]), torch.tensor([[0.0, 1.0], [0.0, 1.0]])])
        out = render_channel_sum(maps, style=GridStyle(colormap="gray"))  # sum [[0, 2], [2, 4]] -> 0, .5, .5, 1
        assert out[..., 0].tolist() == [[0, 128], [128, 255]]

    def test_errors(self):
        with pytest.raises(ValueError, match=r"\(C, H, W\)"):
            render_maps(torch.rand(1, 2, 4, 4))
        with pytest.raises(TypeError, match="Tensor"):
            render_maps(np.zeros((2, 4, 4)))
        with pytest.raises(ValueError, match="colormap"):
            GridStyle(colormap="rainbow")
        with pytest.raises(ValueError, match="scaling must be 'minmax' or 'percentile', got 'zscore'"):
            GridStyle(scaling="zscore")
        with pytest.raises(ValueError, match="padding must be an int >= 0"):
            GridStyle(padding=-1)
        with pytest.raises(ValueError, match="max_size must be a positive int or None"):
            GridStyle(max_size=0)
        with pytest.raises(TypeError, match="style must be a perceptual.pictures.render.GridStyle"):
            render_maps(torch.rand(2, 4, 4), style={"colormap": "gray"})


class TestComparison:
    def test_shared_scaling_and_difference(self):
        real = torch.stack([torch.tensor([[0.0, 2.0], [4.0, 8.0]]), torch.full((2, 2), 3.0)])
        generated = real * 0.5
        out = render_comparison(real, generated, style=GridStyle(colormap="gray", padding=0, ncols=2), gap=1)
        assert out.shape == (2, 4 * 3 + 2, 3)
        real_panel, generated_panel, diff_panel = out[:, 0:4, 0], out[:, 5:9, 0], out[:, 10:14, 0]
        # channel 0: shared range [0, 8]; real 0,2,4,8 -> 0,.25,.5,1; generated 0,1,2,4 -> 0,.125,.25,.5
        assert real_panel[:, :2].tolist() == [[0, 64], [128, 255]]
        assert generated_panel[:, :2].tolist() == [[0, 32], [64, 128]]
        assert diff_panel[:, :2].tolist() == [[0, 32], [64, 128]]  # |r - g| / 8
        # channel 1: real 3, generated 1.5 -> range [1.5, 3]: real 1, generated 0, difference 1.5 / 1.5 = 1
        assert real_panel[:, 2:].unique().tolist() == [255]
        assert generated_panel[:, 2:].unique().tolist() == [0]
        assert diff_panel[:, 2:].unique().tolist() == [255]
        assert out[:, 4, 0].unique().tolist() == [255]  # the gap

    def test_same_channels_in_each_panel(self):
        torch.manual_seed(1)
        real, generated = torch.rand(10, 6, 6), torch.rand(10, 6, 6)
        out = render_comparison(real, generated, channels=[7, 2], style=GridStyle(padding=0, ncols=2), gap=0)
        alone = render_comparison(real[[7, 2]], generated[[7, 2]], style=GridStyle(padding=0, ncols=2), gap=0)
        assert torch.equal(out, alone)

    def test_shape_mismatch(self):
        with pytest.raises(ValueError, match="same shape"):
            render_comparison(torch.rand(2, 4, 4), torch.rand(3, 4, 4))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu_without_device_syncs():
    torch.manual_seed(0)
    real, generated = torch.rand(32, 16, 16), torch.rand(32, 16, 16)
    chosen = select_channels(real, generated, k=8, by="difference")
    expected = render_comparison(real, generated, channels=chosen, style=GridStyle(labels=True, min_size=32))
    expected_grid = render_maps(real, style=GridStyle(labels=True, scaling="percentile", min_size=24))
    r, g = real.cuda(), generated.cuda()
    render_comparison(
        r, g, channels=chosen.cuda(), style=GridStyle(labels=True, min_size=32)
    )  # warm-up: colormap and glyph tables
    render_maps_indexed(r, style=GridStyle(labels=True))
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # any device->host sync raises
    try:
        index = select_channels(r, g, k=8, by="difference")
        out = render_comparison(r, g, channels=index, style=GridStyle(labels=True, min_size=32))
        grid = render_maps(r, style=GridStyle(labels=True, scaling="percentile", min_size=24))
        indexed, _ = render_maps_indexed(r, style=GridStyle(labels=True))
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert out.device.type == "cuda" and indexed.device.type == "cuda"
    assert torch.equal(out.cpu(), expected)
    assert torch.equal(grid.cpu(), expected_grid)


# ------------------------------------------------------------------------------------------------ text and labels
def _bits(*rows: str) -> np.ndarray:
    return np.array([[c == "1" for c in row] for row in rows], dtype=bool)


# Glyphs written out by hand (3x5, one blank column between characters).
RE = _bits("1100111", "1010100", "1100110", "1010100", "1010111")  # "R" then "E"
SEVEN = _bits("111", "001", "001", "001", "001")
TWO = _bits("111", "001", "111", "100", "111")


class TestText:
    def test_known_word_matches_the_glyphs_by_hand(self):
        assert np.array_equal(text.text_bitmap("Re").numpy(), RE)  # letters are drawn upper case
        doubled = text.text_bitmap("RE", scale=2).numpy()
        assert doubled.shape == (10, 14)
        assert np.array_equal(doubled, RE.repeat(2, axis=0).repeat(2, axis=1))
        assert text.text_bitmap("").shape == (5, 0)

    def test_digits_are_the_channel_label_digits(self):
        assert np.array_equal(text.text_bitmap("7").numpy(), SEVEN)
        assert np.array_equal(text.text_bitmap("72").numpy()[:, 4:], TWO)

    def test_unknown_characters_and_bad_scale(self):
        with pytest.raises(ValueError, match=r"does not draw: \['É'\]"):
            text.text_bitmap("é")
        with pytest.raises(ValueError, match="scale must be a positive integer, got 0"):
            text.text_bitmap("a", scale=0)
        with pytest.raises(TypeError, match="text must be a str, got int"):
            text.text_bitmap(7)


class TestLabelledComparison:
    STYLE = GridStyle(colormap="gray", padding=1, ncols=2, pad_value=255)

    def _pair(self):
        """Two channels whose difference tiles are mid-gray (level 128) on their left half."""
        real = torch.zeros(2, 24, 24)
        real[1] = 4.0
        generated = real.clone()
        generated[:, :, :12] += 1.0  # |r - g| = 1 on the left half, 2 on the right: range [low, low + 2]
        generated[:, :, 12:] += 2.0
        return real, generated

    def test_without_text_the_picture_is_the_grids_only(self):
        real, generated = self._pair()
        plain = render_comparison(real, generated, style=self.STYLE, gap=3)
        assert plain.shape == (24 + 2, 3 * (2 * 24 + 3) + 2 * 3, 3)

    def test_titles_sit_above_each_panel(self):
        real, generated = self._pair()
        plain = render_comparison(real, generated, style=self.STYLE, gap=3)
        titled = render_comparison(real, generated, style=self.STYLE, gap=3, titles=("re", "re", "re"))
        header = titled.shape[0] - plain.shape[0]
        assert header == 10  # one line of 5 px glyphs at scale 1: 7 px line + 3 px margin
        assert torch.equal(titled[header:], plain)  # the panels are untouched
        panel = 2 * 24 + 3  # two tiles and three paddings
        for left in (1, 1 + panel + 3, 1 + 2 * (panel + 3)):  # each panel's left padding
            ink = titled[2:7, left : left + 7, 0].numpy() == 0  # black glyphs on the white header
            assert np.array_equal(ink, RE), left
        assert int((titled[:header, :, 0] == 0).sum()) == 3 * int(RE.sum())  # no other ink in the header

    def test_default_difference_title_and_heading_lines(self):
        real, generated = self._pair()
        two = render_comparison(real, generated, style=self.STYLE, gap=3, titles=("a", "b"))
        three = render_comparison(real, generated, style=self.STYLE, gap=3, titles=("a", "b", "|difference|"))
        assert torch.equal(two, three)
        headed = render_comparison(real, generated, style=self.STYLE, gap=3, titles=("a", "b"), heading="x\ny")
        assert headed.shape[0] - two.shape[0] == 2 * 7  # two more lines

    def test_captions_in_the_bottom_left_of_the_difference_tiles(self):
        real, generated = self._pair()
        pictured = render_comparison(real, generated, style=self.STYLE, gap=3, captions=["7", "2"])
        plain = render_comparison(real, generated, style=self.STYLE, gap=3)
        panel = 2 * 24 + 3
        drawn = 0
        for tile, glyph in ((0, SEVEN), (1, TWO)):
            left = 2 * (panel + 3) + 1 + tile * 25  # the difference panel, then padding 1 and a tile pitch of 25
            bottom = 1 + 24  # the tile's rows are 1 .. 24
            box = pictured[bottom - 7 : bottom, left : left + 5, 0].numpy()
            ink = np.pad(glyph, 1)
            grown = np.zeros_like(ink)
            for y in range(7):
                for x in range(5):
                    grown[y, x] = ink[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2].any()
            expected = np.where(ink, 255, np.where(grown, 0, 128))  # white glyph, black outline, the tile's gray
            assert np.array_equal(box, expected), tile
            drawn += int(grown.sum())
        assert int((pictured != plain).any(dim=-1).sum()) == drawn  # nothing else changed

    def test_text_checks(self):
        real, generated = self._pair()
        with pytest.raises(ValueError, match="titles must have 2 or 3 entries, got 1"):
            render_comparison(real, generated, titles=("real",))
        with pytest.raises(ValueError, match="captions must have 2 entries, got 3"):
            render_comparison(real, generated, captions=["1", "2", "3"])
        with pytest.raises(TypeError, match="titles must be a sequence of str"):
            render_comparison(real, generated, titles="real")


class TestChannelDifferences:
    def test_against_numpy_and_ranking(self):
        rng = np.random.default_rng(3)
        real, generated = rng.normal(size=(3, 10, 5, 6)), rng.normal(size=(3, 10, 5, 6))
        scores = channels.channel_differences(torch.from_numpy(real), torch.from_numpy(generated))
        expected = np.abs(real - generated).mean(axis=(0, 2, 3))
        np.testing.assert_allclose(scores.numpy(), expected, rtol=1e-6)
        one = channels.channel_differences(torch.from_numpy(real[1]), torch.from_numpy(generated[1]))
        np.testing.assert_allclose(one.numpy(), np.abs(real[1] - generated[1]).mean(axis=(1, 2)), rtol=1e-6)
        top = scores.topk(4)
        assert top.indices.tolist() == np.argsort(-expected)[:4].tolist()
        assert select_channels(
            torch.from_numpy(real), torch.from_numpy(generated), k=4, by="difference"
        ).tolist() == sorted(np.argsort(-expected)[:4].tolist())


class TestOverlay:
    def test_alpha_blend_by_hand(self):
        image = torch.tensor([[[100, 0, 255], [40, 80, 120]]], dtype=torch.uint8)  # (1, 2, 3)
        heat = torch.tensor([[0.5, 1.0]])
        out = heatmaps.overlay_heatmap(image, heat, alpha=0.25, colormap="gray")
        # gray entry floor(256 v) clipped: 0.5 -> 128, 1.0 -> 255
        # 0.75 * 100 + 0.25 * 128 = 107; 0.75 * 0 + 32 = 32; 0.75 * 255 + 32 = 223.25 -> 223
        # 0.75 * 40 + 0.25 * 255 = 93.75 -> 94; 0.75 * 80 + 63.75 = 123.75 -> 124; 0.75 * 120 + 63.75 = 153.75 -> 154
        assert out.tolist() == [[[107, 32, 223], [94, 124, 154]]]
        assert torch.equal(heatmaps.overlay_heatmap(image, heat, alpha=0.0), image)

    def test_checks(self):
        image = torch.zeros(4, 5, 3, dtype=torch.uint8)
        with pytest.raises(ValueError, match=r"must have the same \(H, W\)"):
            heatmaps.overlay_heatmap(image, torch.zeros(5, 4))
        with pytest.raises(ValueError, match="image must be a uint8"):
            heatmaps.overlay_heatmap(image.float(), torch.zeros(4, 5))
        with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\], got 2"):
            heatmaps.overlay_heatmap(image, torch.zeros(4, 5), alpha=2)


def test_a_caption_wider_than_its_tile_is_left_out():
    real, generated = torch.zeros(1, 24, 26), torch.ones(1, 24, 26)  # one tile 26 px wide
    style = GridStyle(colormap="gray", padding=0)
    plain = render_comparison(real, generated, style=style, gap=0)
    fits = render_comparison(real, generated, style=style, gap=0, captions=["1.2e-5"])  # 6 glyphs: 23 px + outline 2
    assert (fits != plain).any()
    assert torch.equal(render_comparison(real, generated, style=style, gap=0, captions=["1.25e-5"]), plain)  # 27 + 2
