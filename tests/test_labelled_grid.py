"""The labelled grid of the training sample grids and the gallery strips, by value: tiles where the layout puts
them, untouched; each name drawn in the labels' pixel font (:func:`perceptual.pictures.text.text_bitmap`, the
reference here) centred over its column, white on the black header; a name too wide for its tile cut after a whole
character; row names at the left."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from beautygan.labelled_grid import labelled_grid
from beautygan.training.samples import SAMPLE_COLUMNS, render_sample_grid
from perceptual.pictures.text import text_bitmap


def _tiles(rows: int, cols: int, size: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randint(1, 255, (rows, cols, size, size, 3), generator=generator, dtype=torch.uint8)


def _ink(text: str, scale: int) -> np.ndarray:
    """Where ``text`` has ink, inside its one-pixel outline box."""
    return np.pad(text_bitmap(text, scale=scale).numpy(), 1)


@pytest.mark.parametrize(("size", "scale"), [(32, 1), (96, 2)])
def test_tiles_and_column_names_by_value(size: int, scale: int) -> None:
    tiles = _tiles(2, 3, size)
    names = ["source", "t=0.5", "a much too long name"]
    grid = labelled_grid(tiles, names, header=14).numpy()
    assert grid.shape == (14 + 2 + 2 * (size + 2), 2 + 3 * (size + 2), 3)
    for r in range(2):
        for c in range(3):
            top, left = 14 + 2 + r * (size + 2), 2 + c * (size + 2)
            np.testing.assert_array_equal(grid[top : top + size, left : left + size], tiles[r, c].numpy())
    header = grid[:14]
    assert set(np.unique(header)) <= {0, 255} and (header == header[..., :1]).all()  # white text on black
    fitting = [name for name in names[:2]]
    longest = max(k for k in range(len(names[2]) + 1) if (4 * k - 1) * scale + 2 <= size)
    fitting.append(names[2][:longest])
    expected = np.zeros(header.shape[:2], dtype=bool)
    for c, text in enumerate(fitting):
        ink = _ink(text, scale)
        top = (14 - ink.shape[0]) // 2
        left = 2 + c * (size + 2) + (size - ink.shape[1]) // 2
        expected[top : top + ink.shape[0], left : left + ink.shape[1]] = ink
    np.testing.assert_array_equal(header[..., 0] == 255, expected)


def test_row_names_sit_in_a_left_strip_beside_their_row() -> None:
    tiles = _tiles(2, 2, 32)
    grid = labelled_grid(tiles, ["a", "b"], header=12, row_names=["generator", "pixel blend"]).numpy()
    margin = (4 * len("pixel blend") - 1) + 2 + 4  # the widest row name with its outline, and 4 pixels
    assert grid.shape == (12 + 2 + 2 * 34, margin + 2 + 2 * 34, 3)
    np.testing.assert_array_equal(grid[12 + 2 : 12 + 34, margin + 2 : margin + 34], tiles[0, 0].numpy())
    for r, name in enumerate(["generator", "pixel blend"]):
        ink = _ink(name, 1)
        top = 12 + 2 + r * 34 + 16 - ink.shape[0] // 2
        strip = grid[top : top + ink.shape[0], 2 : 2 + ink.shape[1], 0] == 255
        np.testing.assert_array_equal(strip, ink)


def test_the_sample_grid_converts_each_tile_once_and_names_the_columns() -> None:
    """``render_sample_grid`` of images in [-1, 1]: each tile is ``round(255 * (x + 1) / 2)`` (numpy here), under a
    12-pixel header naming :data:`SAMPLE_COLUMNS`."""
    generator = torch.Generator().manual_seed(1)
    columns = torch.rand(1, 6, 3, 64, 64, generator=generator) * 2.2 - 1.1  # a little outside [-1, 1] too
    grid = render_sample_grid(columns)
    assert grid.shape == (12 + 2 + 66, 2 + 6 * 66, 3) and grid.dtype == np.uint8
    for c in range(6):
        expected = np.rint(np.clip((columns[0, c].numpy().transpose(1, 2, 0) + 1) / 2, 0, 1) * 255)
        tile = grid[14 : 14 + 64, 2 + c * 66 : 2 + c * 66 + 64].astype(np.float64)
        assert np.abs(tile - expected).max() <= 1.0  # float32 against float64 rounding at .5 only
        assert (tile == expected).mean() > 0.999
    assert (grid[:12, 2 : 2 + 64, 0] == 255).sum() == text_bitmap(SAMPLE_COLUMNS[0]).sum()  # "SOURCE", whole


def test_bad_tiles_and_name_counts_are_one_clear_error() -> None:
    with pytest.raises(ValueError, match=r"tiles must be a \(rows, cols, H, W, 3\) uint8 tensor, got torch.float32"):
        labelled_grid(torch.zeros(1, 1, 8, 8, 3), ["a"])
    with pytest.raises(ValueError, match=r"need one name per column \(2\), got 1"):
        labelled_grid(_tiles(1, 2, 16), ["a"])
    with pytest.raises(ValueError, match=r"need one name per row \(1\), got 2"):
        labelled_grid(_tiles(1, 1, 16), ["a"], row_names=["x", "y"])
