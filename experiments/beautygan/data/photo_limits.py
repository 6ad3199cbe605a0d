"""How large a photo the web page takes, checked before anything is decoded.

A PNG of 20 KB can claim 169 megapixels (zeros compress a thousandfold); decoding it took 9.2 GB and 40 s in the
page, under PIL's own decompression-bomb limit (179 MP, twice that refused). :func:`check_photo_size` reads the
size from the file's header (``PIL.Image.open`` is lazy: it parses the header and decodes nothing) and refuses a
photo over :data:`MAX_MEGAPIXELS` or a file over :data:`MAX_FILE_MB` with :class:`PhotoTooLargeError`.
"""

from __future__ import annotations

import math
import os
import warnings

from PIL import Image, UnidentifiedImageError

__all__ = ["MAX_FILE_MB", "MAX_MEGAPIXELS", "PhotoTooLargeError", "check_limits", "check_photo_size"]

MAX_MEGAPIXELS = 40.0
"""The largest photo taken, in megapixels: a 36 MP camera's 7360 x 4912 is under it, a 50 MP one's 8192 x 5464
over. Decoding takes 3-4 bytes per pixel for the image PIL builds, then the transfer's float copies."""

MAX_FILE_MB = 100.0
"""The largest photo file taken, in MB (2**20 bytes): a 40-megapixel photo saved as PNG is about 60-80 MB."""


class PhotoTooLargeError(ValueError):
    """A photo over the pixel or file-size limit; the message says how large it is and what the limit is."""


def check_limits(max_megapixels: object, max_file_mb: object) -> None:
    """``ValueError`` unless both limits are positive finite numbers."""
    for name, value in (("max_megapixels", max_megapixels), ("max_file_mb", max_file_mb)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
            raise ValueError(f"{name} must be a positive number, got {value!r}")


def check_photo_size(
    path: str | os.PathLike, *, max_megapixels: float = MAX_MEGAPIXELS, max_file_mb: float = MAX_FILE_MB
) -> None:
    """Raise :class:`PhotoTooLargeError` when the file at ``path`` is over ``max_file_mb`` MB or its image header
    claims over ``max_megapixels`` megapixels; nothing is decoded. A missing file or one that is not an image passes
    (the image loader says what is wrong with it)."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return
    if size > max_file_mb * 2**20:
        raise PhotoTooLargeError(f"the file is {size / 2**20:.3g} MB; up to {max_file_mb:g} MB are taken")
    limit = f"up to {max_megapixels:g} megapixels are taken"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        raise PhotoTooLargeError(
            f"refused, too many pixels (over {2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels); {limit}"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return
    if width * height > max_megapixels * 1e6:
        raise PhotoTooLargeError(
            f"refused, too many pixels ({width}x{height} is {width * height / 1e6:.1f} megapixels); {limit}"
        )
