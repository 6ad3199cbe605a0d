"""Colormaps as 256-entry lookup tables, applied with one ``index_select`` on the tensor's device.

``viridis`` and ``magma`` (van der Walt & Smith, "A better default colormap for matplotlib", SciPy 2015; the tables
are matplotlib's, stored in :mod:`perceptual.pictures._colormaps`, uint8) and ``gray``; value ``v`` in [0, 1] maps to
entry ``min(floor(256 v), 255)``, as in matplotlib. Palette ("indexed") pictures use 254 colormap levels plus white
and black (:func:`indexed_palette`), a third of the bytes of RGB, for small PNGs and event files.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from perceptual.pictures import COLORMAP_NAMES
from perceptual.pictures._colormaps import COLORMAP_HEX

__all__ = [
    "COLORMAPS",
    "INDEXED_BLACK",
    "INDEXED_LEVELS",
    "INDEXED_WHITE",
    "Colormap",
    "apply_colormap",
    "check_colormap",
    "colormap_levels",
    "colormap_lut",
    "indexed_palette",
    "lookup",
    "palette_image",
]

Colormap = Literal["viridis", "magma", "gray"]

COLORMAPS: tuple[str, ...] = COLORMAP_NAMES
"""Names accepted as ``colormap``."""

INDEXED_LEVELS = 254
"""Colormap levels of an indexed (palette) rendering; :data:`INDEXED_WHITE` and :data:`INDEXED_BLACK` follow."""
INDEXED_WHITE = 254
INDEXED_BLACK = 255

_EPS = 1e-12
_LUT_CACHE: dict[tuple[str, str], Tensor] = {}


def check_colormap(colormap: str) -> str:
    """``colormap`` itself, or a ``ValueError`` listing :data:`COLORMAPS`."""
    if colormap not in COLORMAPS:
        raise ValueError(f"colormap must be one of {list(COLORMAPS)}, got {colormap!r}")
    return colormap


def colormap_lut(colormap: Colormap | str = "viridis", *, device: torch.device | str | None = None) -> Tensor:
    """The ``(256, 3)`` uint8 lookup table of ``colormap`` (matplotlib's float entries times 255, rounded)."""
    check_colormap(colormap)
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


def colormap_levels(maps: Tensor, low: Tensor, high: Tensor, levels: int, dtype: torch.dtype = torch.int32) -> Tensor:
    """Level ``min(floor(levels * (x - low) / (high - low)), levels - 1)`` as ``dtype``, from one fused
    multiply-add; constant maps give level 0, NaN gives 0."""
    span = high - low
    scale = torch.where(span > _EPS, levels / span.clamp_min(_EPS), torch.zeros_like(span))
    index = torch.addcmul(-low * scale, maps, scale)
    return index.nan_to_num_(0.0).clamp_(0.0, levels - 1.0).to(dtype)  # values >= 0: truncation is floor


def lookup(lut: Tensor, index: Tensor) -> Tensor:
    """Rows ``index`` (any shape) of ``lut`` ``(L, K)``: shape ``index.shape + (K,)``."""
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
    return lookup(lut, colormap_levels(values, zero, one, 256))


def indexed_palette(colormap: Colormap | str = "viridis", *, device: torch.device | str | None = None) -> Tensor:
    """The ``(256, 3)`` uint8 palette of indexed images (:func:`~perceptual.pictures.render.render_maps_indexed`):
    entries ``0 .. 253`` sample the colormap evenly (entry ``i`` is table row ``round(i * 255 / 253)``), 254 is white
    (padding, label text) and 255 black (label outline)."""
    check_colormap(colormap)
    device = torch.device(device) if device is not None else torch.device("cpu")
    key = ("indexed:" + colormap, str(device))
    if key not in _LUT_CACHE:  # built on the CPU, copied to the device once
        lut = colormap_lut(colormap)
        rows = torch.linspace(0, 255, INDEXED_LEVELS).round().long()
        extra = torch.tensor([[255, 255, 255], [0, 0, 0]], dtype=torch.uint8)
        _LUT_CACHE[key] = torch.cat((lut.index_select(0, rows), extra)).to(device)
    return _LUT_CACHE[key]


def palette_image(indices: np.ndarray, palette: np.ndarray) -> Image.Image:
    """A ``P``-mode PIL image from ``(H, W)`` uint8 palette indices
    (:func:`~perceptual.pictures.render.render_maps_indexed`) and the ``(256, 3)`` uint8 palette
    (:func:`indexed_palette`): saved as PNG it takes about a third of the RGB image's bytes."""
    indices = np.ascontiguousarray(indices, dtype=np.uint8)
    picture = Image.frombuffer("P", (indices.shape[1], indices.shape[0]), indices, "raw", "P", 0, 1)
    picture.putpalette(np.ascontiguousarray(palette, dtype=np.uint8).tobytes())
    return picture
