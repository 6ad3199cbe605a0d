"""Text on pictures: a 3x5 pixel font, channel numbers on tiles, headings, titles and captions, with no font file.

Every label of the feature-map pictures is drawn with one font (:func:`text_bitmap`: digits, letters shown upper
case, common punctuation), so the pictures need no font file and no new dependency and look the same in PNGs and
TensorBoard:

- channel numbers in the top-left corner of each tile are stamped with tensor ops on the tiles' device
  (:func:`stamp_numbers`);
- headings, column titles and captions (:class:`Labels`) are drawn on the host into one code layer, uploaded once
  per picture (asynchronously from pinned memory on CUDA) and composed on the device in one operation
  (:func:`draw_labels`); :func:`panel_labels` names a row of panels, :func:`heading_lines` wraps a heading;
- numbers in captions have one format (:func:`short_number`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from perceptual.pictures.colormaps import INDEXED_BLACK, INDEXED_WHITE
from perceptual.pictures.grids import upscale

__all__ = [
    "FONT_CHARACTERS",
    "Labels",
    "check_texts",
    "draw_labels",
    "heading_lines",
    "panel_labels",
    "short_number",
    "stamp_numbers",
    "text_bitmap",
    "text_scale",
]


# ------------------------------------------------------------------------------------------------ the font
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


# ------------------------------------------------------------------------------------------------ channel numbers
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
    text = upscale(text, scale, dim=1)
    text = F.pad(text, (1, 1, 1, 1))  # room for the outline
    outline = F.max_pool2d(text[:, None].float(), 3, stride=1, padding=1)[:, 0].bool() & ~text
    return text, outline


def stamp_numbers(tiles: Tensor, numbers: Tensor, *, fg: int, bg: int, min_tile: int, max_label: int) -> Tensor:
    """Write ``numbers`` (integers in ``[0, max_label]``) into the top-left corner of each tile of ``(N, h, w[, 3])``,
    ``fg`` glyphs in a ``bg`` outline, 2x from 96 px tiles; tiles under ``min_tile`` px are left bare. Returns a
    modified copy."""
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


def text_scale(size: int) -> int:
    """Font scale for text over a panel or tile of ``size`` pixels: 2 from 96 px (as the channel numbers), else 1."""
    return 2 if size >= 96 else 1


@dataclass
class Labels:
    """The text of one picture: header lines above it, on the padding colour (each line a list of ``(text, left,
    right)`` pieces), and stamps on it, white with a black outline (``(text, top, left, scale, right, bottom)``,
    in picture coordinates, the text clipped to that box)."""

    scale: int = 1
    lines: list[list[tuple[str, int, int]]] = field(default_factory=list)
    stamps: list[tuple[str, int, int, int, int, int]] = field(default_factory=list)

    @property
    def header_height(self) -> int:
        return len(self.lines) * 7 * self.scale + self.scale + 2 if self.lines else 0


def draw_labels(picture: Tensor, labels: Labels, *, indexed: bool, pad_value: int) -> Tensor:
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


def panel_labels(names: Sequence[str], size: tuple[int, int], gap: int, *, footer: Sequence[str] = ()) -> Labels:
    """Labels for a row of ``(height, width)`` panels ``gap`` pixels apart: each panel's name in its top-left corner
    (clipped to the panel) and, in the first one's bottom-left corner, the first of the ``footer`` texts that fits
    whole (give a number last: a number is never shown cut). White with a black outline; 2x glyphs on panels from
    96 px where the text fits."""
    height, width = size
    preferred = text_scale(min(height, width))

    def fits(text: str, scale: int) -> bool:
        return (4 * len(text) - 1) * scale + 2 <= width

    labels = Labels(scale=preferred)
    for index, name in enumerate(names):
        left = index * (width + gap)
        labels.stamps.append((name, 0, left, preferred if fits(name, preferred) else 1, left + width, height))
    for text, scale in ((text, scale) for scale in dict.fromkeys((preferred, 1)) for text in footer):
        if fits(text, scale):
            labels.stamps.append((text, max(0, height - 5 * scale - 2), 0, scale, width, height))
            break
    return labels


def short_number(value: float) -> str:
    """A caption number: two significant digits, compact (``0.034``, ``12``, ``1.2e-5``)."""
    return f"{value:.2g}".replace("e-0", "e-").replace("e+0", "e").replace("e+", "e")


def check_texts(values: object, name: str, counts: tuple[int, ...]) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence) or not all(isinstance(v, str) for v in values):
        raise TypeError(f"{name} must be a sequence of str, got {values!r}")
    if len(values) not in counts:
        expected = " or ".join(str(c) for c in counts)
        raise ValueError(f"{name} must have {expected} entries, got {len(values)}: {list(values)!r}")
    return list(values)


def heading_lines(heading: str | None, left: int, width: int, scale: int) -> list[list[tuple[str, int, int]]]:
    if heading is None:
        return []
    if not isinstance(heading, str):
        raise TypeError(f"heading must be a str or None, got {type(heading).__name__}")
    return [[(line, left, width)] for line in _wrap(heading, width - left, scale)]
