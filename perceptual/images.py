"""Reading and writing images for the command-line tools: any size or mode in, RGB float tensors out.

:func:`load_image` converts what people actually have (RGBA, grayscale, palette, 16-bit PNG, EXIF-rotated JPEG)
to an RGB ``(3, H, W)`` float tensor in [0, 1] and says, in plain words, what it converted. A file that is not an
image raises :class:`ImageLoadError` naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from perceptual.files import atomic_path, check_writable
from perceptual.normalization import check_input_range

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageLoadError",
    "from_unit_range",
    "image_files",
    "load_image",
    "save_image",
    "to_pil",
    "to_uint8",
    "to_unit_range",
    "uint8_image",
]


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
"""File suffixes treated as images when a folder is listed (all are read by :func:`load_image`)."""


def to_unit_range(images: Tensor, input_range: tuple[float, float], *, clamp: bool = True) -> Tensor:
    """``images`` mapped linearly from ``input_range`` (a GAN's ``(-1, 1)``, ``(0, 255)``, ...) to [0, 1], as a new
    floating-point tensor (integer and half inputs become float32); values outside the range are clipped unless
    ``clamp=False``."""
    low, high = check_input_range(input_range)
    if images.dtype not in (torch.float32, torch.float64):
        images = images.float()
    unit = (images - low) / (high - low)
    return unit.clamp(0.0, 1.0) if clamp else unit


def from_unit_range(images: Tensor, input_range: tuple[float, float]) -> Tensor:
    """The inverse of :func:`to_unit_range`: ``images`` in [0, 1] mapped linearly to ``input_range``."""
    low, high = check_input_range(input_range)
    return images * (high - low) + low


def to_uint8(image: Tensor, input_range: tuple[float, float] = (0.0, 1.0)) -> Tensor:
    """A float ``(3, H, W)`` image (or ``(1, H, W)``, ``(H, W)``) in ``input_range`` as the uint8 pixels a PNG holds:
    ``round(255 * clip((x - low) / (high - low), 0, 1))``, channels last (``(H, W, 3)``, ``(H, W, 1)``, ``(H, W)``),
    contiguous, on the image's device (no host copy). The one float-to-pixels conversion of the package."""
    if not isinstance(image, Tensor) or not torch.is_floating_point(image) or image.ndim not in (2, 3):
        got = f"{image.dtype} {tuple(image.shape)}" if isinstance(image, Tensor) else type(image).__name__
        raise ValueError(f"image must be a floating-point (3, H, W), (1, H, W) or (H, W) tensor, got {got}")
    unit = to_unit_range(image.detach(), input_range)
    pixels = unit.mul_(255.0).round_().to(torch.uint8)
    return pixels.permute(1, 2, 0).contiguous() if pixels.ndim == 3 else pixels


def uint8_image(image: Tensor | np.ndarray, input_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """:func:`to_uint8` of a float ``(3, H, W)`` tensor in ``input_range`` as an ``(H, W, 3)`` uint8 numpy array on
    the host; an ``(H, W, 3)`` uint8 array passes through (checked, made contiguous)."""
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"a numpy image must be (H, W, 3) uint8, got {image.dtype} {image.shape}")
        return np.ascontiguousarray(image)
    if not isinstance(image, Tensor) or image.ndim != 3 or image.shape[0] != 3:
        got = tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__
        raise ValueError(f"image must be a (3, H, W) tensor or an (H, W, 3) uint8 array, got {got}")
    return to_uint8(image, input_range).cpu().numpy()


def image_files(folder: str | os.PathLike) -> list[Path]:
    """The image files in ``folder`` (by :data:`IMAGE_SUFFIXES`, any case), sorted by name; not recursive."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


class ImageLoadError(ValueError):
    """A file could not be read as an image; the message names the file."""


def load_image(
    path: str | os.PathLike,
    size: int | tuple[int, int] | None = None,
    *,
    background: tuple[int, int, int] = (255, 255, 255),
) -> tuple[Tensor, list[str]]:
    """Read ``path`` as RGB float ``(3, H, W)`` in [0, 1], plus notes on each conversion made.

    ``size``: ``None`` keeps the image's size; an ``int`` resizes the shorter side to it (aspect kept);
    ``(height, width)`` resizes to exactly that. Transparent pixels are composited onto ``background``.
    """
    path = Path(path)
    notes: list[str] = []
    image: Image.Image
    try:
        with Image.open(path) as opened:
            # An animated GIF, APNG or WebP, or a multi-page TIFF: frame 0 is what is read, and a note says so.
            animated = bool(getattr(opened, "is_animated", False))
            if size is not None and opened.format == "JPEG":
                # Decode at 1/2, 1/4 or 1/8 scale when the result is smaller anyway: memory follows the output size.
                opened.draft("RGB", _draft_size(opened.size, size))
            opened.load()
            image = opened
            if animated:
                notes.append(f"an animated {opened.format} (several frames): its first frame is used")
    except FileNotFoundError:
        raise ImageLoadError(f"{path}: no such file") from None
    except Image.DecompressionBombError as err:
        raise ImageLoadError(f"{path}: refused, too many pixels ({err})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ImageLoadError(f"{path}: not a readable image ({type(err).__name__}: {err})") from None

    orientation = image.getexif().get(0x0112, 1) if hasattr(image, "getexif") else 1
    if orientation not in (None, 1):
        image = ImageOps.exif_transpose(image)
        notes.append(f"rotated/flipped per EXIF orientation {orientation}")
    if size is not None and image.mode in ("L", "RGB", "I", "F"):
        # Much larger than asked (formats without JPEG's draft mode): box-reduce the 8-bit image by an integer factor
        # first, keeping at least twice the target size for the antialiased resize, so memory follows the output.
        factor = _reduction_factor(image.size, size)
        if factor >= 2:
            notes.append(f"box-reduced {image.size[0]}x{image.size[1]} by {factor} before resizing")
            image = image.reduce(factor)

    array = _to_rgb_array(image, background, notes)
    tensor = torch.from_numpy(array).permute(2, 0, 1).contiguous()
    if size is not None:
        tensor = _resize(tensor, size)
        notes.append(f"resized {array.shape[1]}x{array.shape[0]} -> {tensor.shape[2]}x{tensor.shape[1]}")
    return tensor, notes


def _draft_size(full: tuple[int, int], size: int | tuple[int, int]) -> tuple[int, int]:
    """The smallest (width, height) a JPEG may be decoded at and still be at least ``size`` after resizing."""
    width, height = full
    if isinstance(size, int):
        scale = size / min(width, height)
        return max(1, int(width * scale) + 1), max(1, int(height * scale) + 1)
    side = max(int(size[0]), int(size[1]))  # either orientation (EXIF rotation is applied after decoding)
    return side, side


def _reduction_factor(full: tuple[int, int], size: int | tuple[int, int]) -> int:
    """Integer factor the (width, height) image may shrink by and stay at least twice ``size`` in both sides."""
    width, height = full
    if isinstance(size, int):
        scale = size / min(width, height)
        target_w, target_h = width * scale, height * scale
    else:
        target_h, target_w = float(size[0]), float(size[1])
    return int(min(width / target_w, height / target_h) // 2)


def _to_rgb_array(image: Image.Image, background: tuple[int, int, int], notes: list[str]) -> np.ndarray:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        data = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if mode.startswith("I;16") or data.max(initial=0) > 255 else 255.0
        gray = np.clip(data / peak, 0.0, 1.0).astype(np.float32)
        notes.append(f"{'16-bit' if peak > 255 else '32-bit'} grayscale converted to RGB")
        return np.repeat(gray[..., None], 3, axis=2)
    if mode == "F":
        data = np.asarray(image, dtype=np.float32)
        low, high = float(data.min(initial=0)), float(data.max(initial=1))
        notes.append("float image rescaled to [0, 1] and converted to RGB")
        scaled = ((data - low) / max(high - low, 1e-12)).astype(np.float32)
        return np.repeat(scaled[..., None], 3, axis=2)
    if mode == "RGB":
        return np.asarray(image, dtype=np.float32) / 255.0
    has_alpha = mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        canvas.alpha_composite(rgba)
        notes.append(f"{mode} with transparency composited onto RGB{background}")
        return np.asarray(canvas.convert("RGB"), dtype=np.float32) / 255.0
    notes.append(f"{mode} converted to RGB")
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def _resize(tensor: Tensor, size: int | tuple[int, int]) -> Tensor:
    height, width = tensor.shape[1:]
    if isinstance(size, int):
        scale = size / min(height, width)
        target = (max(1, round(height * scale)), max(1, round(width * scale)))
    else:
        target = (int(size[0]), int(size[1]))
    if target == (height, width):
        return tensor
    resized = torch.nn.functional.interpolate(
        tensor[None], size=target, mode="bilinear", align_corners=False, antialias=True
    )
    return resized[0].clamp_(0.0, 1.0)


def to_pil(image: Tensor | np.ndarray) -> Image.Image:
    """``(3, H, W)``/``(1, H, W)``/``(H, W)`` float in [0, 1] or uint8 tensor, or an ``(H, W, 3)``/``(H, W)`` uint8
    numpy array (taken as is, no torch op: safe in a writer thread) -> PIL image."""
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
            raise ValueError(f"a numpy image must be (H, W, 3) or (H, W) uint8, got {image.dtype} {image.shape}")
        return Image.fromarray(image)
    if image.ndim == 3 and image.shape[0] not in (1, 3):  # already channels last
        image = image.permute(2, 0, 1)
    if image.dtype != torch.uint8:
        image = to_uint8(image.float())
    elif image.ndim == 3:
        image = image.permute(1, 2, 0)
    array = image.cpu().numpy()
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    return Image.fromarray(array)


def check_output_image(path: str | os.PathLike, what: str = "output", *, try_write: bool = False) -> Path:
    """Check, before any work, that ``path`` can be written as an image: a suffix PIL saves (``.png``, ``.jpg``,
    ...), not an existing folder, and no existing file where its folder would go; with ``try_write``, also that a
    file can be created in its folder (:func:`~perceptual.files.check_writable`). Raises ``ValueError`` saying which."""
    path = Path(path)
    Image.init()
    if (
        path.suffix.lower() not in Image.registered_extensions()
        or Image.registered_extensions()[path.suffix.lower()] not in Image.SAVE
    ):
        raise ValueError(f"{what} {str(path)!r}: unknown image file extension {path.suffix!r}; use .png or .jpg")
    if path.is_dir():
        raise ValueError(f"{what} {str(path)!r} is a folder; name an image file")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{what} {str(path)!r}: {str(parent)!r} is a file, not a folder")
            break
    if try_write:
        check_writable(path, what)
    return path


def save_image(image: Tensor | np.ndarray, path: str | os.PathLike) -> Path:
    """Write ``image`` (see :func:`to_pil`) as PNG/JPEG by suffix, creating folders; returns the path.

    The file is written next to ``path`` under a temporary name and renamed, so an interrupted or failed write never
    leaves a partial image at ``path``."""
    path = check_output_image(path)
    pil = to_pil(image)
    with atomic_path(path) as temporary:
        pil.save(temporary, format=Image.registered_extensions()[path.suffix.lower()])
    return path
