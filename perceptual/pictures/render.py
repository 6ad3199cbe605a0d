"""Feature maps to pictures, with tensor operations only (no matplotlib at run time).

The pieces of the usual "plot every feature map" code (a subplot per channel, and torchvision's
``make_grid(scale_each=True)``), done on the tensor's device with one host copy per rendered image:

- per-channel scaling to [0, 1] for display: min-max from ``amin``/``amax(keepdim=True)``, or a robust percentile
  range (numpy's ``"linear"`` percentile, computed by one sort);
- colormaps as 256-entry lookup tables: ``viridis`` and ``magma`` (van der Walt & Smith, "A better default
  colormap for matplotlib", SciPy 2015; the tables are matplotlib's, stored in :mod:`perceptual.pictures._colormaps`, uint8)
  and ``gray``; value ``v`` in [0, 1] maps to entry ``min(floor(256 v), 255)``, as in matplotlib;
- grid tiling by one strided copy (``unfold`` view of the canvas), channels in row-major order, optional
  channel-number labels stamped from a 3x5 pixel font with tensor ops (so they reach TensorBoard too);
- the channel-sum / channel-mean map of a layer (the common ``layer_sum`` picture);
- top-k channels by mean activation or by mean absolute real-vs-generated difference (:func:`channel_differences`);
- the comparison view ``real | generated | |real - generated|``: the same channels, one scaling per channel
  shared by real and generated (so a brighter tile means a larger activation in both panels), and the absolute
  difference on that same per-channel scale; optionally with a heading, column titles and a caption per tile;
- every channel at once (:func:`render_pca`): the first three principal components of the channel vectors, fitted on
  all maps together (so one colour means one thing in every panel), as R, G and B - what pytorch-grad-cam's
  EigenCAM and DeepFeatureFactorization summarise too;
- a heatmap blended over the image it describes (:func:`overlay_heatmap`, as torchcam's ``overlay_mask`` does).

Text (titles, headings, captions) is drawn with the same 3x5 pixel font (digits, letters shown upper case, common
punctuation; :func:`text_bitmap`): no font file, no new dependency. Text bitmaps are built on the host, uploaded
once per picture (asynchronously from pinned memory on CUDA) and composed on the device in one operation.

Feature tensors are ``(C, H, W)`` (one image) unless a function says otherwise; rendered images are ``uint8``
``(H, W, 3)`` tensors on the input's device, ready for ``.cpu()`` and PIL or ``SummaryWriter.add_image(...,
dataformats="HWC")``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from perceptual.pictures import COLORMAP_NAMES
from perceptual.pictures._colormaps import COLORMAP_HEX

__all__ = [
    "COLORMAPS",
    "FONT_CHARACTERS",
    "GridStyle",
    "apply_colormap",
    "channel_differences",
    "difference_map",
    "overlay_heatmap",
    "palette_image",
    "pca_projection",
    "render_channel_sum",
    "render_comparison",
    "render_comparison_indexed",
    "render_maps",
    "render_maps_indexed",
    "render_pca",
    "select_channels",
    "text_bitmap",
    "tile_grid",
]

Colormap = Literal["viridis", "magma", "gray"]
Scaling = Literal["minmax", "percentile"]
ChannelSelection = Literal["activation", "difference"]

COLORMAPS: tuple[str, ...] = COLORMAP_NAMES
"""Names accepted as ``colormap``."""

_EPS = 1e-12
_LUT_CACHE: dict[tuple[str, str], Tensor] = {}


# ------------------------------------------------------------------------------------------------ checks
def _check_maps(maps: object, name: str, ndims: tuple[int, ...] = (3,)) -> Tensor:
    if not isinstance(maps, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(maps).__name__}")
    if maps.ndim not in ndims:
        shapes = " or ".join({2: "(H, W)", 3: "(C, H, W)", 4: "(N, C, H, W)"}[n] for n in ndims)
        raise ValueError(f"{name} must have shape {shapes}, got shape {tuple(maps.shape)}")
    if not (torch.is_floating_point(maps) or maps.dtype == torch.uint8):
        raise TypeError(f"{name} must be a floating-point (or uint8) tensor, got {maps.dtype}")
    if maps.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(maps.shape)})")
    return maps


def _check_colormap(colormap: str) -> str:
    if colormap not in COLORMAPS:
        raise ValueError(f"colormap must be one of {list(COLORMAPS)}, got {colormap!r}")
    return colormap


def _check_percentiles(percentiles: Iterable[float]) -> tuple[float, float]:
    try:
        low, high = (float(p) for p in percentiles)
    except (TypeError, ValueError):
        raise TypeError(f"percentiles must be a pair (low, high) in [0, 100], got {percentiles!r}") from None
    if not 0.0 <= low < high <= 100.0:
        raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got ({low:g}, {high:g})")
    return low, high


# ------------------------------------------------------------------------------------------------ colormaps
def colormap_lut(colormap: Colormap | str = "viridis", *, device: torch.device | str | None = None) -> Tensor:
    """The ``(256, 3)`` uint8 lookup table of ``colormap`` (matplotlib's float entries times 255, rounded)."""
    _check_colormap(colormap)
    device = torch.device(device) if device is not None else torch.device("cpu")
    key = (colormap, str(device))
    lut = _LUT_CACHE.get(key)
    if lut is None:
        if colormap == "gray":
            table = torch.arange(256, dtype=torch.uint8)[:, None].expand(256, 3).contiguous()
        else:
            table = torch.frombuffer(bytearray.fromhex(COLORMAP_HEX[colormap]), dtype=torch.uint8).view(256, 3).clone()
        lut = _LUT_CACHE[key] = table.to(device)
    return lut


def _levels(maps: Tensor, low: Tensor, high: Tensor, levels: int, dtype: torch.dtype = torch.int32) -> Tensor:
    """Level ``min(floor(levels * (x - low) / (high - low)), levels - 1)`` as ``dtype``, from one fused
    multiply-add; constant maps give level 0, NaN gives 0."""
    span = high - low
    scale = torch.where(span > _EPS, levels / span.clamp_min(_EPS), torch.zeros_like(span))
    index = torch.addcmul(-low * scale, maps, scale)
    return index.nan_to_num_(0.0).clamp_(0.0, levels - 1.0).to(dtype)  # values >= 0: truncation is floor


def _lookup(lut: Tensor, index: Tensor) -> Tensor:
    return lut.index_select(0, index.reshape(-1)).view(*index.shape, lut.shape[-1])


def apply_colormap(values: Tensor, colormap: Colormap | str = "viridis") -> Tensor:
    """Map ``values`` in [0, 1] (any shape) to uint8 RGB, shape ``values.shape + (3,)``.

    Entry ``min(floor(256 * v), 255)`` of the table, as matplotlib does; values outside [0, 1] are clipped and NaN
    maps to entry 0.
    """
    if not isinstance(values, Tensor) or not torch.is_floating_point(values):
        got = values.dtype if isinstance(values, Tensor) else type(values).__name__
        raise TypeError(f"values must be a floating-point tensor in [0, 1], got {got}")
    lut = colormap_lut(colormap, device=values.device)
    zero, one = values.new_zeros(()), values.new_ones(())
    return _lookup(lut, _levels(values, zero, one, 256))


def indexed_palette(colormap: Colormap | str = "viridis", *, device: torch.device | str | None = None) -> Tensor:
    """The ``(256, 3)`` uint8 palette of :func:`render_maps_indexed` images: entries ``0 .. 253`` sample the
    colormap evenly (entry ``i`` is table row ``round(i * 255 / 253)``), 254 is white (padding, label text) and
    255 black (label outline)."""
    _check_colormap(colormap)
    device = torch.device(device) if device is not None else torch.device("cpu")
    key = ("indexed:" + colormap, str(device))
    if key not in _LUT_CACHE:  # built on the CPU, copied to the device once
        lut = colormap_lut(colormap)
        rows = torch.linspace(0, 255, INDEXED_LEVELS).round().long()
        extra = torch.tensor([[255, 255, 255], [0, 0, 0]], dtype=torch.uint8)
        _LUT_CACHE[key] = torch.cat((lut.index_select(0, rows), extra)).to(device)
    return _LUT_CACHE[key]


INDEXED_LEVELS = 254
"""Colormap levels of an indexed (palette) rendering; :data:`INDEXED_WHITE` and :data:`INDEXED_BLACK` follow."""
INDEXED_WHITE = 254
INDEXED_BLACK = 255


# ------------------------------------------------------------------------------------------------ display scaling
def _reduce_dims(maps: Tensor, dims: Sequence[int]) -> tuple[int, ...]:
    return tuple(sorted({d % maps.ndim for d in dims}))


def _percentile_range(maps: Tensor, dims: tuple[int, ...], low: float, high: float) -> tuple[Tensor, Tensor]:
    keep_shape = [1 if d in dims else size for d, size in enumerate(maps.shape)]
    moved = maps.movedim(dims, tuple(range(maps.ndim - len(dims), maps.ndim)))
    flat = moved.reshape(*moved.shape[: maps.ndim - len(dims)], -1)
    ordered = flat.sort(dim=-1).values
    count = ordered.shape[-1]
    bounds = []
    for q in (low, high):  # numpy's default "linear" method: position q/100 * (count - 1)
        position = q / 100.0 * (count - 1)
        below = math.floor(position)
        above = min(below + 1, count - 1)
        frac = position - below
        value = ordered[..., below] + frac * (ordered[..., above] - ordered[..., below])
        bounds.append(value.reshape(keep_shape))
    return bounds[0], bounds[1]


def channel_range(
    maps: Tensor,
    *,
    dims: Sequence[int] = (-2, -1),
    method: Scaling | str = "minmax",
    percentiles: tuple[float, float] = (1.0, 99.0),
) -> tuple[Tensor, Tensor]:
    """Per-channel ``(low, high)`` of ``maps`` over ``dims`` (kept as size-1 dims, so they broadcast back).

    ``method="minmax"``: ``amin``/``amax``; ``"percentile"``: the ``percentiles`` pair, numpy's linear method.
    """
    if not isinstance(maps, Tensor) or not torch.is_floating_point(maps):
        got = maps.dtype if isinstance(maps, Tensor) else type(maps).__name__
        raise TypeError(f"maps must be a floating-point tensor, got {got}")
    reduce = _reduce_dims(maps, dims)
    if method == "minmax":
        return maps.amin(dim=reduce, keepdim=True), maps.amax(dim=reduce, keepdim=True)
    if method == "percentile":
        low, high = _check_percentiles(percentiles)
        return _percentile_range(maps, reduce, low, high)
    raise ValueError(f"method must be 'minmax' or 'percentile', got {method!r}")


def _rescale(maps: Tensor, low: Tensor, high: Tensor) -> Tensor:
    span = high - low
    scale = torch.where(span > _EPS, 1.0 / span.clamp_min(_EPS), torch.zeros_like(span))
    return ((maps - low) * scale).clamp_(0.0, 1.0)  # a constant channel renders as 0


def scale_channels(
    maps: Tensor,
    *,
    method: Scaling | str = "minmax",
    percentiles: tuple[float, float] = (1.0, 99.0),
    dims: Sequence[int] = (-2, -1),
) -> Tensor:
    """Rescale each channel of ``maps`` to [0, 1] over ``dims`` (default: each ``(H, W)`` map on its own).

    Constant maps become 0; with ``method="percentile"`` values beyond the percentiles are clipped. Returns a
    new float tensor; ``maps`` is not modified.
    """
    low, high = channel_range(maps, dims=dims, method=method, percentiles=percentiles)
    return _rescale(maps, low, high)


# ------------------------------------------------------------------------------------------------ geometry
@dataclass(frozen=True)
class GridGeometry:
    """Where each tile of a grid lies: tile ``i`` is at row ``i // cols``, column ``i % cols``, its top-left
    pixel at ``(padding + row * (tile_height + padding), padding + col * (tile_width + padding))``."""

    count: int
    rows: int
    cols: int
    tile_height: int
    tile_width: int
    padding: int

    @property
    def height(self) -> int:
        return self.rows * self.tile_height + (self.rows + 1) * self.padding

    @property
    def width(self) -> int:
        return self.cols * self.tile_width + (self.cols + 1) * self.padding

    def origin(self, index: int) -> tuple[int, int]:
        """``(top, left)`` pixel of tile ``index``."""
        row, col = divmod(index, self.cols)
        return self.padding + row * (self.tile_height + self.padding), self.padding + col * (
            self.tile_width + self.padding
        )


def grid_geometry(
    count: int, tile_height: int, tile_width: int, *, ncols: int | None = None, padding: int = 2
) -> GridGeometry:
    """Geometry of a grid of ``count`` tiles: ``ncols`` columns (default ``ceil(sqrt(count))``), ``padding``
    pixels between tiles and around the border."""
    if count < 1:
        raise ValueError(f"a grid needs at least one tile, got count={count}")
    if ncols is not None and ncols < 1:
        raise ValueError(f"ncols must be a positive integer or None, got {ncols}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    cols = min(count, ncols) if ncols is not None else math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    return GridGeometry(count, rows, cols, tile_height, tile_width, padding)


def tile_grid(tiles: Tensor, *, ncols: int | None = None, padding: int = 2, pad_value: float = 0) -> Tensor:
    """Tile ``(N, H, W)`` or ``(N, H, W, K)`` (channels last, e.g. RGB) into one ``(H', W')`` / ``(H', W', K)``
    image, row-major, as :func:`grid_geometry` describes; padding and the unused cells are ``pad_value``."""
    if not isinstance(tiles, Tensor) or tiles.ndim not in (3, 4):
        got = tuple(tiles.shape) if isinstance(tiles, Tensor) else type(tiles).__name__
        raise ValueError(f"tiles must be a tensor of shape (N, H, W) or (N, H, W, K), got {got}")
    squeeze = tiles.ndim == 3
    if squeeze:
        tiles = tiles[..., None]
    count, height, width, depth = tiles.shape
    geo = grid_geometry(count, height, width, ncols=ncols, padding=padding)
    cells = geo.rows * geo.cols
    if cells > count:  # blank cells complete the last row
        tiles = torch.cat((tiles, tiles.new_full((cells - count, height, width, depth), pad_value)))
    step_h, step_w = height + padding, width + padding
    grid = tiles.new_full((geo.height, geo.width, depth), pad_value)
    inner = grid[padding:, padding:].unfold(0, height, step_h).unfold(1, width, step_w)  # (rows, cols, depth, h, w)
    inner.copy_(tiles.reshape(geo.rows, geo.cols, height, width, depth).permute(0, 1, 4, 2, 3))  # one strided copy
    return grid[..., 0] if squeeze else grid


def rendered_tile_size(
    height: int, width: int, *, min_size: int | None = None, max_size: int | None = None
) -> tuple[int, int]:
    """The ``(height, width)`` a ``(height, width)`` map gets when rendered with ``min_size``/``max_size``: the
    longer side is upscaled by an integer factor (square pixels) to at least ``min_size``, or area-downscaled to at
    most ``max_size``."""
    if height < 1 or width < 1:
        raise ValueError(f"maps must be at least 1x1, got {height}x{width}")
    if max_size is not None and max_size < 1:
        raise ValueError(f"max_size must be a positive integer or None, got {max_size}")
    longer = max(height, width)
    if max_size is not None and longer > max_size:
        return max(1, round(height * max_size / longer)), max(1, round(width * max_size / longer))
    if min_size is not None and longer < min_size:
        factor = math.ceil(min_size / longer)
        return height * factor, width * factor
    return height, width


def resize_maps(maps: Tensor, *, min_size: int | None = None, max_size: int | None = None) -> Tensor:
    """Resize ``(..., H, W)`` maps to :func:`rendered_tile_size`: integer nearest upscaling or area averaging
    (``adaptive_avg_pool2d``). Returns ``maps`` itself when the size does not change."""
    height, width = maps.shape[-2:]
    size = rendered_tile_size(height, width, min_size=min_size, max_size=max_size)
    if size == (height, width):
        return maps
    if size[0] < height or size[1] < width:
        pooled = F.adaptive_avg_pool2d(maps.reshape(-1, 1, height, width).float(), size)
        return pooled.reshape(*maps.shape[:-2], *size).to(maps.dtype)
    return _upscale(maps, size[0] // height, dim=maps.ndim - 2)


def _upscale(tiles: Tensor, factor: int, *, dim: int) -> Tensor:
    """Nearest upscaling of dims ``dim`` and ``dim + 1`` by an integer factor: one broadcast copy."""
    if factor == 1:
        return tiles
    shape = tiles.shape
    height, width = shape[dim], shape[dim + 1]
    view = tiles.reshape(*shape[:dim], height, 1, width, 1, *shape[dim + 2 :])
    view = view.expand(*shape[:dim], height, factor, width, factor, *shape[dim + 2 :])
    return view.reshape(*shape[:dim], height * factor, width * factor, *shape[dim + 2 :])


# The 3x5 pixel font of every label: each glyph is 5 rows of 3 pixels ("1" = ink), drawn with one blank column
# after it. Letters are drawn upper case. The digits also label tiles with tensor ops (:func:`_label_masks`).
_DIGITS = (
    "111101101101111",
    "010110010010111",
    "111001111100111",
    "111001111001111",
    "101101111001001",
    "111100111001111",
    "111100111101111",
    "111001001001001",
    "111101111101111",
    "111101111001111",
)
_LETTERS = {
    "A": "010101111101101",
    "B": "110101110101110",
    "C": "011100100100011",
    "D": "110101101101110",
    "E": "111100110100111",
    "F": "111100110100100",
    "G": "011100101101011",
    "H": "101101111101101",
    "I": "111010010010111",
    "J": "001001001101010",
    "K": "101101110101101",
    "L": "100100100100111",
    "M": "101111111101101",
    "N": "110101101101101",
    "O": "010101101101010",
    "P": "110101110100100",
    "Q": "010101101111011",
    "R": "110101110101101",
    "S": "011100010001110",
    "T": "111010010010010",
    "U": "101101101101111",
    "V": "101101101101010",
    "W": "101101111111101",
    "X": "101101010101101",
    "Y": "101101010010010",
    "Z": "111001010100111",
}
_PUNCTUATION = {
    " ": "000000000000000",
    ".": "000000000000010",
    ",": "000000000010100",
    ":": "000010000010000",
    ";": "000010000010100",
    "-": "000000111000000",
    "+": "000010111010000",
    "=": "000111000111000",
    "_": "000000000000111",
    "|": "010010010010010",
    "/": "001001010100100",
    "(": "001010010010001",
    ")": "100010010010100",
    "[": "110100100100110",
    "]": "011001001001011",
    "<": "001010100010001",
    ">": "100010001010100",
    "%": "101001010100101",
    "#": "101111101111101",
    "*": "000101010101000",
    "'": "010010000000000",
    "!": "010010010000010",
    "?": "110001010000010",
}
_FONT: dict[str, str] = {**{str(d): bits for d, bits in enumerate(_DIGITS)}, **_LETTERS, **_PUNCTUATION}
FONT_CHARACTERS: str = "".join(_FONT)
"""The characters :func:`text_bitmap` draws (letters in either case, drawn upper case)."""
_GLYPHS: dict[str, Tensor] = {}


def _glyphs(device: torch.device) -> Tensor:
    """``(11, 5, 4)`` bool: digits 0-9 plus a blank (index 10), each with one blank column on the right."""
    key = str(device)
    if key not in _GLYPHS:
        bits = torch.tensor([[int(b) for b in digit] for digit in _DIGITS] + [[0] * 15], dtype=torch.bool)
        _GLYPHS[key] = F.pad(bits.view(11, 5, 3), (0, 1)).to(device)
    return _GLYPHS[key]


def _label_masks(numbers: Tensor, scale: int, max_label: int) -> tuple[Tensor, Tensor]:
    """Text and outline masks ``(N, h, w)`` for integer labels in ``[0, max_label]``, right-aligned, ``scale``x
    glyphs. ``max_label`` is a Python int, so the text width needs no device sync."""
    glyphs = _glyphs(numbers.device)
    width = len(str(max(0, int(max_label))))
    powers = 10 ** torch.arange(width - 1, -1, -1, device=numbers.device)
    digits = (numbers[:, None] // powers) % 10
    leading = (numbers[:, None] < powers) & (powers > 1)  # leading zeros are blank
    digits = torch.where(leading, torch.full_like(digits, 10), digits)
    text = glyphs[digits]  # (N, width, 5, 4)
    text = text.permute(0, 2, 1, 3).reshape(len(numbers), 5, width * 4)[..., :-1]  # drop the last gap column
    text = _upscale(text, scale, dim=1)
    text = F.pad(text, (1, 1, 1, 1))  # room for the outline
    outline = F.max_pool2d(text[:, None].float(), 3, stride=1, padding=1)[:, 0].bool() & ~text
    return text, outline


def _stamp_labels(tiles: Tensor, numbers: Tensor, *, fg: int, bg: int, min_tile: int, max_label: int) -> Tensor:
    """Write ``numbers`` into the top-left corner of each tile of ``(N, h, w[, 3])`` (a copy is modified)."""
    height, width = tiles.shape[1:3]
    if min(height, width) < min_tile:
        return tiles
    scale = 2 if min(height, width) >= 96 else 1
    text, outline = _label_masks(numbers.to(tiles.device).long(), scale, max_label)
    box_h, box_w = min(text.shape[1], height), min(text.shape[2], width)
    text, outline = text[:, :box_h, :box_w], outline[:, :box_h, :box_w]
    if tiles.ndim == 4:
        text, outline = text[..., None], outline[..., None]
    tiles = tiles.clone()
    corner = tiles[:, :box_h, :box_w]
    tiles[:, :box_h, :box_w] = torch.where(text, fg, torch.where(outline, bg, corner))
    return tiles


# ------------------------------------------------------------------------------------------------ text
def _printable(text: object) -> str:
    """``text`` upper case, each character the font lacks shown as ``?`` (for names that come from data)."""
    return "".join(c if c in _FONT else "?" for c in str(text).upper())


@functools.lru_cache(maxsize=1024)
def _text_array(text: str, scale: int) -> np.ndarray:
    """Read-only bool ``(5 * scale, (4 * len(text) - 1) * scale)`` bitmap of ``text`` (font characters only)."""
    if not text:
        return np.zeros((5 * scale, 0), dtype=bool)
    glyphs = np.array([[c == "1" for c in _FONT[char]] for char in text], dtype=bool).reshape(len(text), 5, 3)
    glyphs = np.pad(glyphs, ((0, 0), (0, 0), (0, 1)))  # one blank column after each glyph
    bitmap = glyphs.transpose(1, 0, 2).reshape(5, 4 * len(text))[:, :-1]  # no blank column after the last one
    bitmap = bitmap.repeat(scale, axis=0).repeat(scale, axis=1)
    bitmap.flags.writeable = False
    return bitmap


def _check_scale(scale: object) -> int:
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    return scale


def text_bitmap(text: str, *, scale: int = 1) -> Tensor:
    """``text`` in the labels' 3x5 pixel font: a bool CPU tensor ``(5 * scale, (4 * len(text) - 1) * scale)``, ``True``
    where there is ink. Each character is 3 pixels wide with one blank column before the next; letters are drawn
    upper case; each font pixel is a ``scale`` x ``scale`` block. Raises ``ValueError`` for a character outside
    :data:`FONT_CHARACTERS`."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    upper = text.upper()
    unknown = sorted({char for char in upper if char not in _FONT})
    if unknown:
        raise ValueError(
            f"text {text!r} has characters the font does not draw: {unknown}; it draws "
            f"{FONT_CHARACTERS!r} (letters in either case)"
        )
    return torch.from_numpy(_text_array(upper, _check_scale(scale)).copy())


_KEEP, _WHITE, _BLACK = 0, 1, 2


def _upload(array: np.ndarray, device: torch.device) -> Tensor:
    """A host array as a tensor on ``device``: no copy on the CPU, an asynchronous copy from pinned memory on CUDA
    (no device sync)."""
    tensor = torch.from_numpy(array)
    if device.type == "cpu":
        return tensor
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


class _TextLayer:
    """Text to lay over a picture, drawn on the host: per pixel keep (0), white (1) or black (2)."""

    def __init__(self, height: int, width: int) -> None:
        self.code = np.zeros((height, width), dtype=np.uint8)

    def write(
        self,
        text: str,
        top: int,
        left: int,
        *,
        scale: int,
        on_picture: bool,
        ink: int = _BLACK,
        right: int | None = None,
        bottom: int | None = None,
    ) -> None:
        """``text`` from pixel ``(top, left)``, clipped to the canvas and to the box's ``right``/``bottom`` edges
        (exclusive). On a picture: white glyphs in a one-pixel black outline, the outline's box starting at
        ``(top, left)``; on paper: glyphs in ``ink``."""
        bits = _text_array(_printable(text), scale)
        if on_picture:
            height, width = bits.shape
            wide = np.pad(bits, 2)
            grown = np.zeros((height + 2, width + 2), dtype=bool)
            for dy in range(3):
                for dx in range(3):
                    grown |= wide[dy : dy + height + 2, dx : dx + width + 2]  # the 3x3 neighbourhood of each pixel
            code = np.where(np.pad(bits, 1), _WHITE, np.where(grown, _BLACK, _KEEP)).astype(np.uint8)
        else:
            code = np.where(bits, ink, _KEEP).astype(np.uint8)
        bottom = self.code.shape[0] if bottom is None else min(bottom, self.code.shape[0])
        right = self.code.shape[1] if right is None else min(right, self.code.shape[1])
        height, width = min(code.shape[0], bottom - top), min(code.shape[1], right - left)
        if height <= 0 or width <= 0 or top < 0 or left < 0:
            return
        code = code[:height, :width]
        np.copyto(self.code[top : top + height, left : left + width], code, where=code != _KEEP)

    def apply(self, picture: Tensor, *, white: int, black: int) -> Tensor:
        """``picture`` (``(H, W)`` palette indices or ``(H, W, 3)`` RGB) with the text composed in one operation."""
        if not self.code.any():
            return picture
        code = _upload(self.code, picture.device)
        if picture.ndim == 3:
            code = code[..., None]
        return torch.where(code == _WHITE, white, torch.where(code == _BLACK, black, picture))


def _wrap(text: str, width: int, scale: int) -> list[str]:
    """``text`` broken at spaces into lines of at most ``width`` pixels at ``scale`` (a longer word is cut)."""
    most = max(1, (width + scale) // (4 * scale))
    lines: list[str] = []
    for paragraph in str(text).split("\n"):
        line = ""
        for word in paragraph.split():
            while len(word) > most:
                if line:
                    lines.append(line)
                    line = ""
                lines.append(word[:most])
                word = word[most:]
            candidate = f"{line} {word}" if line else word
            if len(candidate) > most:
                lines.append(line)
                candidate = word
            line = candidate
        lines.append(line)
    return lines


def _text_scale(size: int) -> int:
    """Font scale for text over a panel or tile of ``size`` pixels: 2 from 96 px (as the channel numbers), else 1."""
    return 2 if size >= 96 else 1


@dataclass
class _Labels:
    """The text of one picture: header lines above it, on the padding colour (each line a list of ``(text, left,
    right)`` pieces), and stamps on it, white with a black outline (``(text, top, left, scale, right, bottom)``,
    in picture coordinates, the text clipped to that box)."""

    scale: int = 1
    lines: list[list[tuple[str, int, int]]] = field(default_factory=list)
    stamps: list[tuple[str, int, int, int, int, int]] = field(default_factory=list)

    @property
    def header_height(self) -> int:
        return len(self.lines) * 7 * self.scale + self.scale + 2 if self.lines else 0


def _draw_labels(picture: Tensor, labels: _Labels, *, indexed: bool, pad_value: int) -> Tensor:
    """``picture`` with ``labels``: the header rows added on top, every text composed in one operation."""
    header = labels.header_height
    if header:
        pad = INDEXED_WHITE if indexed else pad_value
        picture = torch.cat((picture.new_full((header, *picture.shape[1:]), pad), picture))
    layer = _TextLayer(picture.shape[0], picture.shape[1])
    ink = _BLACK if indexed or pad_value >= 128 else _WHITE
    scale = labels.scale
    for row, pieces in enumerate(labels.lines):
        for text, left, right in pieces:
            layer.write(text, row * 7 * scale + scale + 1, left, scale=scale, on_picture=False, ink=ink, right=right)
    for text, top, left, scale, right, bottom in labels.stamps:
        layer.write(text, header + top, left, scale=scale, on_picture=True, right=right, bottom=header + bottom)
    white, black = (INDEXED_WHITE, INDEXED_BLACK) if indexed else (255, 0)
    return layer.apply(picture, white=white, black=black)


def _panel_labels(names: Sequence[str], size: tuple[int, int], gap: int, *, footer: Sequence[str] = ()) -> _Labels:
    """Labels for a row of ``(height, width)`` panels ``gap`` pixels apart: each panel's name in its top-left corner
    (clipped to the panel) and, in the first one's bottom-left corner, the first of the ``footer`` texts that fits
    whole (give a number last: a number is never shown cut). White with a black outline; 2x glyphs on panels from
    96 px where the text fits."""
    height, width = size
    preferred = _text_scale(min(height, width))

    def fits(text: str, scale: int) -> bool:
        return (4 * len(text) - 1) * scale + 2 <= width

    labels = _Labels(scale=preferred)
    for index, name in enumerate(names):
        left = index * (width + gap)
        labels.stamps.append((name, 0, left, preferred if fits(name, preferred) else 1, left + width, height))
    for text, scale in ((text, scale) for scale in dict.fromkeys((preferred, 1)) for text in footer):
        if fits(text, scale):
            labels.stamps.append((text, max(0, height - 5 * scale - 2), 0, scale, width, height))
            break
    return labels


def _short_number(value: float) -> str:
    """A caption number: two significant digits, compact (``0.034``, ``12``, ``1.2e-5``)."""
    return f"{value:.2g}".replace("e-0", "e-").replace("e+0", "e").replace("e+", "e")


def _check_texts(values: object, name: str, counts: tuple[int, ...]) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence) or not all(isinstance(v, str) for v in values):
        raise TypeError(f"{name} must be a sequence of str, got {values!r}")
    if len(values) not in counts:
        expected = " or ".join(str(c) for c in counts)
        raise ValueError(f"{name} must have {expected} entries, got {len(values)}: {list(values)!r}")
    return list(values)


def _heading_lines(heading: str | None, left: int, width: int, scale: int) -> list[list[tuple[str, int, int]]]:
    if heading is None:
        return []
    if not isinstance(heading, str):
        raise TypeError(f"heading must be a str or None, got {type(heading).__name__}")
    return [[(line, left, width)] for line in _wrap(heading, width - left, scale)]


# ------------------------------------------------------------------------------------------------ reductions
def channel_sum(features: Tensor, *, reduce: Literal["sum", "mean"] = "sum") -> Tensor:
    """Sum (the common ``layer_sum`` picture) or mean over the channel dim of ``(C, H, W)`` / ``(N, C, H, W)`` maps."""
    _check_maps(features, "features", (3, 4))
    if reduce == "sum":
        return features.sum(dim=-3)
    if reduce == "mean":
        return features.mean(dim=-3)
    raise ValueError(f"reduce must be 'sum' or 'mean', got {reduce!r}")


def _check_same(real: object, generated: object) -> tuple[Tensor, Tensor]:
    real, generated = _check_maps(real, "real", (3, 4)), _check_maps(generated, "generated", (3, 4))
    if generated.shape != real.shape:
        raise ValueError(
            f"real and generated features must have the same shape, got {tuple(real.shape)} "
            f"and {tuple(generated.shape)}"
        )
    return real, generated


def channel_differences(real: Tensor, generated: Tensor) -> Tensor:
    """Mean ``|real - generated|`` of each channel: ``(C,)`` float on the features' device, over ``(H, W)`` of
    ``(C, H, W)`` features or over ``(N, H, W)`` of ``(N, C, H, W)`` ones. The score :func:`select_channels` ranks
    by with ``by="difference"``; ``scores.topk(k)`` is the ranking of the channels that differ most."""
    real, generated = _check_same(real, generated)
    dims = (0, 2, 3) if real.ndim == 4 else (1, 2)
    return (real - generated).abs().float().mean(dim=dims)


def select_channels(
    real: Tensor, generated: Tensor | None = None, *, k: int, by: ChannelSelection | str = "activation"
) -> Tensor:
    """Indices of the ``k`` channels with the largest score, in increasing channel order (readable labels).

    ``by="activation"``: mean of ``real`` per channel; ``by="difference"``: mean ``|real - generated|`` per
    channel (:func:`channel_differences`). Features are ``(C, H, W)`` or ``(N, C, H, W)`` (scores average over the
    batch). The result is a long tensor on the features' device; nothing is copied to the host.
    """
    _check_maps(real, "real", (3, 4))
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if by == "activation":
        scores = real.float().mean(dim=(0, 2, 3) if real.ndim == 4 else (1, 2))
    elif by == "difference":
        if generated is None:
            raise ValueError("by='difference' needs generated features as well as real ones")
        scores = channel_differences(real, generated)
    else:
        raise ValueError(f"by must be 'activation' or 'difference', got {by!r}")
    channels = real.shape[-3]
    if k >= channels:
        return torch.arange(channels, device=real.device)
    return scores.topk(k).indices.sort().values


def _pick(features: Tensor, channels: Tensor | Sequence[int] | None) -> Tensor:
    if channels is None:
        return features
    index = channels if isinstance(channels, Tensor) else torch.as_tensor(channels)
    if index.ndim != 1 or index.numel() == 0 or index.dtype.is_floating_point:
        raise ValueError(f"channels must be a non-empty 1-D sequence of channel indices, got {channels!r}")
    count = features.shape[-3]
    if index.device.type == "cpu" and not bool(((index >= -count) & (index < count)).all()):  # no device sync
        raise ValueError(f"channels {index.tolist()} out of range for {count} channels")
    return features.index_select(-3, index.to(device=features.device, dtype=torch.long) % count)


# ------------------------------------------------------------------------------------------------ rendering
def _channel_numbers(count: int, channels: Tensor | Sequence[int] | None, device: torch.device) -> Tensor:
    if channels is None:
        return torch.arange(count, device=device)
    return torch.as_tensor(channels, dtype=torch.long, device=device)


def _color_tiles(
    maps: Tensor,
    low: Tensor,
    high: Tensor,
    *,
    colormap: str,
    indexed: bool,
    factor: int,
    numbers: Tensor | None,
    label_min_tile: int,
    max_label: int = 0,
) -> Tensor:
    """``(..., h, w)`` float maps -> uint8 tiles ``(..., h*f, w*f, 3)`` (RGB) or ``(..., h*f, w*f)`` (palette levels)."""
    if indexed:
        tiles = _levels(maps, low, high, INDEXED_LEVELS, torch.uint8)
        fg, bg = INDEXED_WHITE, INDEXED_BLACK
    else:
        tiles = _lookup(colormap_lut(colormap, device=maps.device), _levels(maps, low, high, 256))
        fg, bg = 255, 0
    spatial = maps.ndim - 2
    tiles = _upscale(tiles, factor, dim=spatial)
    if numbers is not None:  # tiles (..., K, h', w'[, 3]): the K numbers repeat over the leading dims
        flat = tiles.reshape(-1, *tiles.shape[spatial:])
        flat = _stamp_labels(
            flat,
            numbers.repeat(flat.shape[0] // numbers.numel()),
            fg=fg,
            bg=bg,
            min_tile=label_min_tile,
            max_label=max_label,
        )
        tiles = flat.reshape(tiles.shape)
    return tiles


def _prepare(
    features: Tensor, channels: Tensor | Sequence[int] | None, min_size: int | None, max_size: int | None
) -> tuple[Tensor, int]:
    """Pick channels, area-downscale to ``max_size``; return float maps and the integer upscale factor still due."""
    maps = _pick(features, channels).float()
    height, width = maps.shape[-2:]
    target = rendered_tile_size(height, width, min_size=min_size, max_size=max_size)
    if target[0] < height or target[1] < width:
        return resize_maps(maps, max_size=max_size), 1
    return maps, target[0] // height


@dataclass(frozen=True)
class GridStyle:
    """How feature maps are drawn, shared by :func:`render_maps`, :func:`render_comparison`, the ``perceptual maps``
    export and the TensorBoard monitor.

    Attributes:
        colormap: ``"viridis"``, ``"magma"`` or ``"gray"`` (:data:`COLORMAPS`).
        scaling: how each map is stretched to [0, 1] for display: ``"minmax"`` (its own min and max) or
            ``"percentile"`` (its ``percentiles`` range, robust to a few hot pixels). Display only; the input
            normalization of the VGG is :class:`~perceptual.normalization.InputNormalization`.
        percentiles: the range of ``scaling="percentile"``.
        ncols: tiles per row (default: about a square).
        padding: pixels between tiles.
        pad_value: the padding's gray level in RGB grids (palette grids pad with white).
        min_size, max_size: the longer side of each tile is upscaled (by an integer factor) to at least
            ``min_size`` and area-downscaled to at most ``max_size`` (:func:`rendered_tile_size`).
        labels: write each tile's channel number in its top-left corner (not on tiles under ``label_min_tile`` px).
    """

    colormap: Colormap | str = "viridis"
    scaling: Scaling | str = "minmax"
    percentiles: tuple[float, float] = (1.0, 99.0)
    ncols: int | None = None
    padding: int = 2
    pad_value: int = 255
    min_size: int | None = None
    max_size: int | None = None
    labels: bool = False
    label_min_tile: int = 20

    def __post_init__(self) -> None:
        _check_colormap(self.colormap)
        if self.scaling not in ("minmax", "percentile"):
            raise ValueError(f"scaling must be 'minmax' or 'percentile', got {self.scaling!r}")
        object.__setattr__(self, "percentiles", _check_percentiles(self.percentiles))
        for name in ("padding", "pad_value", "label_min_tile"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        for name in ("ncols", "min_size", "max_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive int or None, got {value!r}")


def _check_style(style: object) -> GridStyle:
    if not isinstance(style, GridStyle):
        raise TypeError(f"style must be a perceptual.pictures.render.GridStyle, got {type(style).__name__}")
    return style


def _render_grid(
    features: Tensor, channels: Tensor | Sequence[int] | None, style: GridStyle, *, indexed: bool
) -> Tensor:
    _check_maps(features, "features")
    maps, factor = _prepare(features, channels, style.min_size, style.max_size)
    low, high = channel_range(maps, method=style.scaling, percentiles=style.percentiles)
    numbers = _channel_numbers(features.shape[0], channels, maps.device) if style.labels else None
    tiles = _color_tiles(
        maps,
        low,
        high,
        colormap=style.colormap,
        indexed=indexed,
        factor=factor,
        numbers=numbers,
        label_min_tile=style.label_min_tile,
        max_label=features.shape[0] - 1,
    )
    pad_value = INDEXED_WHITE if indexed else style.pad_value
    return tile_grid(tiles, ncols=style.ncols, padding=style.padding, pad_value=pad_value)


def render_maps(
    features: Tensor, *, channels: Tensor | Sequence[int] | None = None, style: GridStyle = GridStyle()
) -> Tensor:
    """One image's ``(C, H, W)`` feature maps (or the ``channels`` chosen) as a colored grid, uint8 ``(H', W', 3)``.

    Each map is scaled to [0, 1] on its own (``style.scaling``), colored, resized so its longer side lies in
    ``[style.min_size, style.max_size]`` and tiled row-major in the order of ``channels`` (:func:`grid_geometry`
    gives each tile's position); see :class:`GridStyle`.
    """
    return _render_grid(features, channels, _check_style(style), indexed=False)


def render_maps_indexed(
    features: Tensor, *, channels: Tensor | Sequence[int] | None = None, style: GridStyle = GridStyle()
) -> tuple[Tensor, Tensor]:
    """:func:`render_maps` as a palette image: uint8 ``(H', W')`` palette indices and the ``(256, 3)`` palette
    (:func:`indexed_palette`; 254 colormap levels, white padding). A third of the bytes of RGB, so PNGs of every
    map of a network encode about three times faster; colors differ from :func:`render_maps` by at most one
    colormap step."""
    grid = _render_grid(features, channels, _check_style(style), indexed=True)
    return grid, indexed_palette(style.colormap, device=grid.device)


def render_channel_sum(
    features: Tensor, *, reduce: Literal["sum", "mean"] = "sum", style: GridStyle = GridStyle()
) -> Tensor:
    """The channel sum (or mean) of ``(C, H, W)`` maps, scaled and colored by ``style``: uint8 ``(H', W', 3)``."""
    total = channel_sum(features, reduce=reduce).float()[None]
    return render_maps(total, style=replace(_check_style(style), padding=0, labels=False))


def render_comparison(
    real: Tensor,
    generated: Tensor,
    *,
    channels: Tensor | Sequence[int] | None = None,
    style: GridStyle = GridStyle(),
    gap: int | None = None,
    titles: Sequence[str] | None = None,
    heading: str | None = None,
    captions: Sequence[str] | None = None,
) -> Tensor:
    """``real | generated | |real - generated|``: three grids of the same channels side by side, uint8 ``(H', W', 3)``.

    Channel ``c`` of real and generated shares one scaling (the range of both together), and the absolute
    difference is shown on that same per-channel scale (``|r - g| / (high - low)``), so equal colors mean equal
    activations across the panels. Panels are ``gap`` pixels apart (default ``max(4, 4 * style.padding)``).

    Text, in the labels' pixel font (:func:`text_bitmap`; 2x from 96 px panels or tiles):

    - ``heading``: lines above the panels (wrapped at spaces to the picture's width);
    - ``titles``: a name above each panel, ``(real, generated)`` or ``(real, generated, difference)`` (default
      difference title ``"|difference|"``);
    - ``captions``: one short text per shown channel, in the bottom-left corner of its ``|difference|`` tile (e.g.
      :func:`channel_differences` of the two maps), on tiles of at least ``style.label_min_tile`` pixels; a caption
      wider than its tile is left out rather than cut.

    Without any of the three, the picture is the three grids and nothing else.
    """
    return _render_comparison(
        real,
        generated,
        channels,
        _check_style(style),
        gap,
        indexed=False,
        titles=titles,
        heading=heading,
        captions=captions,
    )


def render_comparison_indexed(
    real: Tensor,
    generated: Tensor,
    *,
    channels: Tensor | Sequence[int] | None = None,
    style: GridStyle = GridStyle(),
    gap: int | None = None,
    titles: Sequence[str] | None = None,
    heading: str | None = None,
    captions: Sequence[str] | None = None,
) -> tuple[Tensor, Tensor]:
    """:func:`render_comparison` as palette indices ``(H', W')`` uint8 plus the ``(256, 3)`` palette
    (:func:`indexed_palette`): a third of the bytes, for small PNGs and event files."""
    grid = _render_comparison(
        real,
        generated,
        channels,
        _check_style(style),
        gap,
        indexed=True,
        titles=titles,
        heading=heading,
        captions=captions,
    )
    return grid, indexed_palette(style.colormap, device=grid.device)


def _render_comparison(
    real: Tensor,
    generated: Tensor,
    channels: Tensor | Sequence[int] | None,
    style: GridStyle,
    gap: int | None,
    *,
    indexed: bool,
    titles: Sequence[str] | None = None,
    heading: str | None = None,
    captions: Sequence[str] | None = None,
) -> Tensor:
    _check_maps(real, "real")
    _check_maps(generated, "generated")
    if real.shape != generated.shape:
        raise ValueError(
            f"real and generated features must have the same shape, got {tuple(real.shape)} and "
            f"{tuple(generated.shape)}"
        )
    gap = max(4, 4 * style.padding) if gap is None else gap
    if gap < 0:
        raise ValueError(f"gap must be >= 0, got {gap}")
    if titles is not None:
        titles = _check_texts(titles, "titles", (2, 3))
        titles = titles if len(titles) == 3 else [*titles, "|difference|"]
    pair = torch.stack((_pick(real, channels), _pick(generated, channels)), dim=1)  # (K, 2, h, w)
    if captions is not None:
        captions = _check_texts(captions, "captions", (pair.shape[0],))
    pair, factor = _prepare(pair, None, style.min_size, style.max_size)
    low, high = channel_range(pair, dims=(1, 2, 3), method=style.scaling, percentiles=style.percentiles)  # (K,1,1,1)
    diff = (pair[:, 1:] - pair[:, :1]).abs_()
    panels = torch.cat((pair, diff + low), dim=1).transpose(0, 1)  # (3, K, h, w); diff shifted onto the same scale
    numbers = _channel_numbers(real.shape[0], channels, pair.device) if style.labels else None
    tiles = _color_tiles(
        panels,
        low.transpose(0, 1),
        high.transpose(0, 1),
        colormap=style.colormap,
        indexed=indexed,
        factor=factor,
        numbers=numbers,
        label_min_tile=style.label_min_tile,
        max_label=real.shape[0] - 1,
    )
    pad_value = INDEXED_WHITE if indexed else style.pad_value
    grids = [tile_grid(tiles[i], ncols=style.ncols, padding=style.padding, pad_value=pad_value) for i in range(3)]
    spacer = grids[0].new_full((grids[0].shape[0], gap, *grids[0].shape[2:]), pad_value)
    picture = torch.cat((grids[0], spacer, grids[1], spacer, grids[2]), dim=1)
    if titles is None and heading is None and captions is None:
        return picture
    panel = grids[0].shape[1]
    labels = _Labels(scale=_text_scale(panel))
    labels.lines = _heading_lines(heading, style.padding, picture.shape[1], labels.scale)
    if titles is not None:
        labels.lines.append(
            [(title, i * (panel + gap) + style.padding, i * (panel + gap) + panel) for i, title in enumerate(titles)]
        )
    tile_height, tile_width = tiles.shape[2], tiles.shape[3]
    if captions is not None and min(tile_height, tile_width) >= style.label_min_tile:
        geometry = grid_geometry(len(captions), tile_height, tile_width, ncols=style.ncols, padding=style.padding)
        for index, caption in enumerate(captions):
            scale = next(
                (
                    s
                    for s in (_text_scale(min(tile_height, tile_width)), 1)
                    if (4 * len(caption) - 1) * s + 2 <= tile_width
                ),
                None,
            )
            if scale is None:
                continue  # a caption is shown whole or not at all (a cut number would mislead)
            top, left = geometry.origin(index)
            left += 2 * (panel + gap)
            box = 5 * scale + 2  # glyphs plus their outline
            labels.stamps.append((caption, top + tile_height - box, left, scale, left + tile_width, top + tile_height))
    return _draw_labels(picture, labels, indexed=indexed, pad_value=style.pad_value)


# ------------------------------------------------------------------------------------------------ every channel: PCA
def pca_projection(*maps: Tensor, k: int = 3) -> tuple[list[Tensor], Tensor]:
    """The first ``k`` principal components of the channel vectors of ``maps`` (each ``(C, H_i, W_i)``, the same
    ``C``), fitted on all of them together, and each map projected onto them.

    Every position of every map is one sample of ``C`` values; the samples are centred on their joint mean and the
    components are the top eigenvectors of their ``C x C`` covariance (``torch.linalg.eigh`` in float64). Each
    component's sign makes its largest-magnitude loading positive (so colours do not flip from one call to the next
    without cause). Fitting real and generated features together means one component value - one colour - stands
    for one mixture of channels in both.

    Returns ``([(k, H_i, W_i) scores of each map], (k,) fraction of the total variance each component explains)``,
    float on the maps' device. With fewer than ``k`` channels the missing components are zero.
    """
    if not maps:
        raise ValueError("pca_projection needs at least one (C, H, W) map")
    checked = [_check_maps(m, f"maps[{i}]") for i, m in enumerate(maps)]
    channels = checked[0].shape[0]
    if any(m.shape[0] != channels for m in checked):
        raise ValueError(f"all maps must have the same number of channels, got {[m.shape[0] for m in checked]}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    samples = torch.cat([m.reshape(channels, -1).float() for m in checked], dim=1)  # (C, P)
    centred = samples - samples.mean(dim=1, keepdim=True)
    covariance = (centred @ centred.T).double() / max(centred.shape[1] - 1, 1)
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)  # ascending
    count = min(k, channels)
    components = eigenvectors[:, -count:].flip(-1).T  # (count, C), largest variance first
    strongest = components.abs().argmax(dim=1, keepdim=True)
    signs = torch.where(components.gather(1, strongest) < 0, -1.0, 1.0).to(components.dtype)
    components = (components * signs).to(centred.dtype)
    scores = components @ centred  # (count, P)
    variance = eigenvalues.clamp_min(0.0)
    explained = (variance[-count:].flip(-1) / variance.sum().clamp_min(_EPS)).float()
    if count < k:
        scores = torch.cat((scores, scores.new_zeros(k - count, scores.shape[1])))
        explained = torch.cat((explained, explained.new_zeros(k - count)))
    sizes = [m.shape[1] * m.shape[2] for m in checked]
    return [part.reshape(k, *m.shape[1:]) for part, m in zip(scores.split(sizes, dim=1), checked)], explained


def _pca_fit(maps: Sequence[Tensor], style: GridStyle) -> tuple[list[Tensor], Tensor, int]:
    """The maps resized as ``style`` draws them, their 3-component projection, its explained variance and the
    integer upscale still due."""
    prepared = [_prepare(m, None, style.min_size, style.max_size) for m in maps]
    scores, explained = pca_projection(*(m for m, _ in prepared), k=3)
    return scores, explained, prepared[0][1]


def _pca_picture(
    scores: Sequence[Tensor],
    factor: int,
    style: GridStyle,
    *,
    gap: int | None,
    titles: Sequence[str] | None,
    heading: str | None,
) -> Tensor:
    """``(3, h, w)`` scores as RGB panels side by side: component ``i`` is colour channel ``i``, each scaled over
    all panels together (``style.scaling``)."""
    gap = max(4, 4 * style.padding) if gap is None else gap
    if gap < 0:
        raise ValueError(f"gap must be >= 0, got {gap}")
    joint = torch.cat([s.reshape(3, -1) for s in scores], dim=1)
    low, high = channel_range(joint, dims=(-1,), method=style.scaling, percentiles=style.percentiles)  # (3, 1)
    low, high = low[..., None], high[..., None]
    height = max(s.shape[1] for s in scores) * factor
    width = max(s.shape[2] for s in scores) * factor
    pad, border = style.pad_value, style.padding
    panels = []
    for score in scores:
        rgb = _upscale(_levels(score, low, high, 256, torch.uint8).permute(1, 2, 0), factor, dim=0)
        panel = rgb.new_full((height, width, 3), pad)
        panel[: rgb.shape[0], : rgb.shape[1]] = rgb
        panels.append(panel)
    row = panels[0].new_full((height + 2 * border, 2 * border + len(panels) * width + (len(panels) - 1) * gap, 3), pad)
    for index, panel in enumerate(panels):
        left = border + index * (width + gap)
        row[border : border + height, left : left + width] = panel
    if titles is None and heading is None:
        return row
    labels = _Labels(scale=_text_scale(width))
    labels.lines = _heading_lines(heading, border, row.shape[1], labels.scale)
    if titles is not None:
        titles = _check_texts(titles, "titles", (len(scores),))
        labels.lines.append(
            [(title, border + i * (width + gap), border + i * (width + gap) + width) for i, title in enumerate(titles)]
        )
    return _draw_labels(row, labels, indexed=False, pad_value=pad)


def render_pca(
    *maps: Tensor,
    style: GridStyle = GridStyle(),
    gap: int | None = None,
    titles: Sequence[str] | None = None,
    heading: str | None = None,
) -> Tensor:
    """Every channel at once: each ``(C, H, W)`` map's first three principal components (:func:`pca_projection`,
    fitted on all ``maps`` together) as R, G and B, panels side by side, uint8 ``(H', W', 3)``.

    Maps are resized as ``style`` draws tiles (``min_size``/``max_size``; the fit uses the resized maps) and each
    component is stretched to [0, 1] over all panels together (``style.scaling``), so a colour means the same
    channel mixture, at the same strength, in every panel. ``titles``: one name per map above its panel;
    ``heading``: lines above them (see :func:`render_comparison`)."""
    style = _check_style(style)
    scores, _, factor = _pca_fit(maps, style)
    return _pca_picture(scores, factor, style, gap=gap, titles=titles, heading=heading)


# ------------------------------------------------------------------------------------------------ where: heatmaps
def difference_map(real: Tensor, generated: Tensor, size: tuple[int, int] | None = None) -> Tensor:
    """Where ``(N, C, H, W)`` features differ: ``((generated - real) ** 2).mean(dim=1, keepdim=True)``, the
    per-position term of an MSE perceptual loss, ``(N, 1, H, W)`` float, upsampled bilinearly to ``size`` when given."""
    real, generated = _check_same(real, generated)
    if real.ndim != 4:
        raise ValueError(f"features must be (N, C, H, W), got shape {tuple(real.shape)}")
    per_position = (generated.float() - real.float()).square().mean(dim=1, keepdim=True)
    if size is None or tuple(size) == tuple(per_position.shape[-2:]):
        return per_position
    return F.interpolate(per_position, size=tuple(size), mode="bilinear", align_corners=False)


def _unit_heat(heat: Tensor) -> Tensor:
    """A non-negative heatmap divided by its 99th percentile (a few hot pixels do not darken the rest); on maps of
    more than 2**24 pixels (``torch.quantile``'s limit) the percentile of every k-th pixel."""
    values = heat.flatten().float()
    if values.numel() > 2**24:
        values = values[:: math.ceil(values.numel() / 2**24)]
    return heat.float() / torch.quantile(values, 0.99).clamp_min(_EPS)


def overlay_heatmap(image: Tensor, heat: Tensor, *, alpha: float = 0.5, colormap: Colormap | str = "magma") -> Tensor:
    """``heat`` drawn over ``image``: uint8 ``(H, W, 3)``, each pixel and colour channel
    ``round((1 - alpha) * image + alpha * colormap(heat))`` (torchcam's ``overlay_mask`` blend).

    ``image``: uint8 ``(H, W, 3)``; ``heat``: float ``(H, W)`` in [0, 1] (clipped; :func:`apply_colormap`), the same
    size; ``alpha`` in [0, 1]: 0 shows the image only, 1 the heatmap only."""
    if not isinstance(image, Tensor) or image.dtype != torch.uint8 or image.ndim != 3 or image.shape[-1] != 3:
        got = f"{image.dtype} {tuple(image.shape)}" if isinstance(image, Tensor) else type(image).__name__
        raise ValueError(f"image must be a uint8 (H, W, 3) tensor, got {got}")
    if not isinstance(heat, Tensor) or heat.ndim != 2:
        got = f"{tuple(heat.shape)}" if isinstance(heat, Tensor) else type(heat).__name__
        raise ValueError(f"heat must be an (H, W) tensor, got {got}")
    if tuple(heat.shape) != tuple(image.shape[:2]):
        raise ValueError(f"heat {tuple(heat.shape)} and image {tuple(image.shape[:2])} must have the same (H, W)")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
    colored = apply_colormap(heat.float(), colormap).float()
    blended = image.float() * (1.0 - alpha) + colored * alpha
    return blended.round_().clamp_(0.0, 255.0).to(torch.uint8)


def palette_image(indices: np.ndarray, palette: np.ndarray) -> Image.Image:
    """A ``P``-mode PIL image from ``(H, W)`` uint8 palette indices (:func:`render_maps_indexed`) and the ``(256, 3)``
    uint8 palette (:func:`indexed_palette`): saved as PNG it takes about a third of the RGB image's bytes."""
    indices = np.ascontiguousarray(indices, dtype=np.uint8)
    picture = Image.frombuffer("P", (indices.shape[1], indices.shape[0]), indices, "raw", "P", 0, 1)
    picture.putpalette(np.ascontiguousarray(palette, dtype=np.uint8).tobytes())
    return picture
