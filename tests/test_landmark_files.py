"""Landmark files beside an MT-layout dataset (:mod:`beautygan.data.landmarks`): where they are, what the synthetic
writer stores (the points its faces are drawn from), and that a file for another version of the image, or one that
is not such a record, counts as missing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from beautygan.data.landmarks import landmarks_path, read_landmarks, write_landmarks
from beautygan.data.synthetic import FaceParams, render, write_synthetic_mt


def test_the_path_mirrors_the_image_path() -> None:
    assert landmarks_path("/d/images/makeup/a.png") == Path("/d/landmarks/makeup/a.png.json")
    assert landmarks_path("/d/x/images/non-makeup/sub/b.jpg") == Path("/d/x/landmarks/non-makeup/sub/b.jpg.json")
    assert landmarks_path("/photos/me.jpg") is None


def test_the_synthetic_writer_stores_the_points_its_faces_are_drawn_from(tmp_path: Path) -> None:
    root = write_synthetic_mt(tmp_path / "mt", n=2, size=64, held_out=1, seed=4)
    rng = np.random.default_rng(4)  # the writer draws makeup faces first, with this seed
    face = render(FaceParams.draw(rng, makeup=True), size=64, noise=rng)
    image = root / "images" / "makeup" / "mk_0000.png"
    assert np.array_equal(np.asarray(Image.open(image)), face.image)  # the same face as drawn here
    assert np.array_equal(read_landmarks(image), face.landmarks)
    record = json.loads(landmarks_path(image).read_text())
    assert record["source"] == "synthetic" and record["image_sha256"] == hashlib.sha256(image.read_bytes()).hexdigest()


def test_a_changed_image_or_a_bad_record_counts_as_missing(tmp_path: Path) -> None:
    image = tmp_path / "images" / "makeup" / "a.png"
    image.parent.mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image)
    points = np.arange(136, dtype=np.float64).reshape(68, 2) / 3
    path = write_landmarks(landmarks_path(image), image.read_bytes(), points, source="dlib")
    assert np.array_equal(read_landmarks(image), points)
    Image.fromarray(np.ones((8, 8, 3), np.uint8)).save(image)  # the image changed since
    assert read_landmarks(image) is None
    path.write_text("{not json")
    assert read_landmarks(image) is None
    record = {"image_sha256": hashlib.sha256(image.read_bytes()).hexdigest(), "points": [[0, 0]] * 67}
    path.write_text(json.dumps(record))
    assert read_landmarks(image) is None
    record["points"] = [[0, 0]] * 67 + [[float("nan"), 1]]
    path.write_text(json.dumps(record))
    assert read_landmarks(image) is None
    with pytest.raises(ValueError, match="68 finite"):
        write_landmarks(path, b"", points[:5], source="dlib")


def test_stored_points_scale_from_the_image_as_shown(tmp_path: Path) -> None:
    """A 40x20 file with EXIF orientation 6 shows as 20 wide and 40 high: its points, in the shown pixels, scale to
    a 40x40 square by 2 across and 1 down (by hand: x' = (x + 0.5) * 40 / 20 - 0.5)."""
    from beautygan.inference.photo_geometry import stored_landmarks

    root = write_synthetic_mt(tmp_path / "mt", n=2, size=16, held_out=1, seed=0)
    image = root / "images" / "non-makeup" / "nm_0000.png"
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = tmp_path / "turned.png"
    Image.new("RGB", (40, 20), (200, 150, 120)).save(buffer, exif=exif)
    image.write_bytes(buffer.read_bytes())
    points = np.stack([np.linspace(0, 19, 68), np.linspace(0, 39, 68)], axis=1)
    write_landmarks(landmarks_path(image), image.read_bytes(), points, source="test")
    want = np.stack([(points[:, 0] + 0.5) * 2 - 0.5, points[:, 1]], axis=1)
    np.testing.assert_allclose(stored_landmarks(image, size=(40, 40)), want, rtol=0, atol=1e-12)
