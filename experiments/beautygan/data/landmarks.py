"""Each image's 68 face landmarks, stored beside an MT-layout dataset: one JSON file per image.

``<root>/images/<domain>/x.png`` has its landmarks in ``<root>/landmarks/<domain>/x.png.json``::

    {"image_sha256": "<SHA-256 of the image file's bytes>", "source": "dlib" | "synthetic" | ...,
     "points": [[x, y], ... 68 pairs]}

Points are in the image file's pixel coordinates, dlib's 68-point order (iBUG 300-W) and convention: ``x`` right,
``y`` down, the centre of the top-left pixel at ``(0, 0)``. The synthetic writer stores the points its faces are
drawn from (``"synthetic"``); ``beautygan prepare-faces`` stores the dlib landmarks it aligned and labelled each face
with (``"dlib"``); for other images :func:`beautygan.data.faces.find_landmarks` computes them once with dlib, as ``prepare-faces`` finds
them (the largest face), and caches them (``"dlib"``). A file whose hash is not the image's (the image changed since)
counts as missing, and so does one that cannot be read as such a record: :func:`read_landmarks` gives ``None`` and
the caller computes them again. The files are plain JSON: nothing in them is run, and no path in them is opened.

For an image with an EXIF orientation, the points are in the coordinates of the image as it is shown (as
:func:`perceptual.images.load_image` reads it, rotated), which is what the dataset and the model see.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from perceptual.files import atomic_path

__all__ = ["LANDMARK_COUNT", "landmarks_path", "read_landmarks", "scale_landmarks", "shown_size", "write_landmarks"]

LANDMARK_COUNT = 68


def landmarks_path(image: str | Path) -> Path | None:
    """Where the landmarks of an image in the MT layout are stored (``.../images/<domain>/x.png`` ->
    ``.../landmarks/<domain>/x.png.json``), whether or not the file exists; ``None`` outside the MT layout."""
    parts = Path(image).parts
    if "images" not in parts:
        return None
    i = len(parts) - 1 - parts[::-1].index("images")
    folder = Path(*parts[:i], "landmarks", *parts[i + 1 : -1])
    return folder / f"{parts[-1]}.json"


def _points(record: object) -> np.ndarray | None:
    if not isinstance(record, dict) or not isinstance(record.get("points"), list):
        return None
    points = record["points"]
    if len(points) != LANDMARK_COUNT or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(v, (int, float)) and math.isfinite(v) for v in p)
        for p in points
    ):
        return None
    return np.asarray(points, dtype=np.float64)


def read_landmarks(image: str | Path, *, path: str | Path | None = None) -> np.ndarray | None:
    """The ``(68, 2)`` landmarks stored for ``image`` (at ``path``, by default :func:`landmarks_path`), or ``None``
    when there are none, when they were stored for another version of the image (its SHA-256 differs), or when the
    file is not such a record."""
    where = Path(path) if path is not None else landmarks_path(image)
    if where is None or not where.is_file():
        return None
    try:
        record = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if (
        not isinstance(record, dict)
        or record.get("image_sha256") != hashlib.sha256(Path(image).read_bytes()).hexdigest()
    ):
        return None
    return _points(record)


def write_landmarks(
    path: str | Path, image_file: bytes, points: Sequence[Sequence[float]] | np.ndarray, *, source: str
) -> Path:
    """Write ``{"image_sha256", "source", "points"}`` (68 ``[x, y]`` pixel pairs) to ``path`` atomically;
    ``image_file`` is the bytes of the image file the points belong to."""
    array = np.asarray(points, dtype=np.float64)
    if array.shape != (LANDMARK_COUNT, 2) or not np.isfinite(array).all():
        raise ValueError(f"points must be 68 finite (x, y) pairs, got shape {array.shape}")
    record = {
        "image_sha256": hashlib.sha256(image_file).hexdigest(),
        "source": source,
        "points": [[float(x), float(y)] for x, y in array],
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(record) + "\n")
    return path


def shown_size(image: str | Path) -> tuple[int, int]:
    """``(height, width)`` of an image file as it is shown (an EXIF orientation of 5 to 8 turns it by 90 degrees):
    the pixels its landmark file's points are in."""
    with Image.open(image) as opened:
        width, height = opened.size
        orientation = opened.getexif().get(0x0112, 1)
    return (width, height) if orientation in (5, 6, 7, 8) else (height, width)


def scale_landmarks(points: object, source: tuple[int, int], target: tuple[int, int]) -> np.ndarray:
    """``(68, 2)`` ``(x, y)`` landmarks of an image of ``source = (height, width)`` pixels, in the pixels of the
    same image resized to ``target = (height, width)``, float64. Pixel centres sit at integers:
    ``x' = (x + 0.5) * target_width / source_width - 0.5``, where a resize that maps the image's edges onto the new
    edges, as PIL's does, moves them (PSGAN's official loader scales by the ratio alone, less than half a pixel
    away)."""
    array = np.asarray(points, dtype=np.float64)
    if array.shape != (LANDMARK_COUNT, 2):
        raise ValueError(f"landmarks must be 68 (x, y) points of shape (68, 2), got shape {array.shape}")
    factor = np.array([target[1] / source[1], target[0] / source[0]])
    return (array + 0.5) * factor - 0.5
