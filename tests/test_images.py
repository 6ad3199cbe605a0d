"""Image reading and writing: huge files refused or decoded small, outputs checked before work and written whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from perceptual.images import (
    ImageLoadError,
    check_output_image,
    load_image,
    save_image,
    to_pil,
    to_uint8,
    uint8_image,
)


def _photo(height: int, width: int) -> Image.Image:
    v, u = np.mgrid[0:height, 0:width] / max(height, width)
    rgb = np.stack([np.sin(6 * u) * 0.5 + 0.5, np.cos(4 * v) * 0.5 + 0.5, (u + v) / 2], axis=-1)
    return Image.fromarray((rgb * 255).astype(np.uint8))


def test_a_decompression_bomb_is_refused_naming_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "huge.png"
    _photo(40, 40).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 1600 pixels > 2 x 100: PIL's bomb error
    with pytest.raises(ImageLoadError, match=f"{path}: refused, too many pixels"):
        load_image(path)


def test_a_large_jpeg_is_decoded_at_reduced_size_with_the_same_result(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    photo = _photo(1200, 1600)
    photo.save(path, quality=95)
    image, notes = load_image(path, 96)
    assert image.shape == (3, 96, 128)
    assert "resized 200x150 -> 128x96" in notes  # decoded at 1/8 scale, not 1600x1200
    reference = np.asarray(Image.open(path).convert("RGB").resize((128, 96), Image.BILINEAR, reducing_gap=None)) / 255.0
    difference = np.abs(image.permute(1, 2, 0).numpy() - reference)
    assert difference.mean() < 0.01 and difference.max() < 0.1


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("out.xyz", "unknown image file extension '.xyz'"),
        ("folder.png", "is a folder"),
        ("file.png/x.png", "is a file, not a folder"),
    ],
)
def test_output_checks(tmp_path: Path, name: str, match: str) -> None:
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(ValueError, match=match):
        check_output_image(tmp_path / name, "--out")


def test_save_image_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.png"
    save_image(torch.zeros(3, 4, 4), target)
    before = target.read_bytes()

    def failing_save(self, fp, format=None, **params):  # noqa: A002 - PIL's signature
        Path(fp).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_image(torch.ones(3, 4, 4), target)
    assert target.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_a_large_png_is_box_reduced_first_with_the_same_result(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    _photo(1200, 1600).save(path)
    image, notes = load_image(path, 96)
    assert image.shape == (3, 96, 128)
    assert "box-reduced 1600x1200 by 6 before resizing" in notes  # 12.5x larger than asked: keep >= 2x
    reference = np.asarray(Image.open(path).resize((128, 96), Image.BILINEAR, reducing_gap=None)) / 255.0
    difference = np.abs(image.permute(1, 2, 0).numpy() - reference)
    assert difference.mean() < 0.01 and difference.max() < 0.1
    exact, _ = load_image(path, (1200, 1600))  # no reduction when the full size is asked for
    assert exact.shape == (3, 1200, 1600)


def test_saved_files_get_the_usual_permissions(tmp_path: Path) -> None:
    """Atomic writes go through a temporary file; the result must still be readable like a plain open() write
    (mkstemp alone makes it 0o600, private to the writer)."""
    import os

    from perceptual.images import save_image

    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    saved = save_image(torch.zeros(3, 4, 4), tmp_path / "saved.png")
    assert saved.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
    old = os.umask(0o027)
    try:
        assert save_image(torch.zeros(3, 4, 4), tmp_path / "masked.png").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)


def test_save_image_takes_a_uint8_array_as_is(tmp_path: Path) -> None:
    """A numpy (H, W, 3) uint8 array is written unchanged (HWC, no rescaling), the same file a CHW uint8 tensor of the
    same pixels gives; other arrays are refused, naming what came."""
    pixels = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    save_image(pixels, tmp_path / "array.png")
    save_image(torch.from_numpy(pixels).permute(2, 0, 1), tmp_path / "tensor.png")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "array.png")), pixels)
    assert (tmp_path / "array.png").read_bytes() == (tmp_path / "tensor.png").read_bytes()
    with pytest.raises(ValueError, match=r"uint8, got float32 \(7, 5, 3\)"):
        save_image(pixels.astype(np.float32), tmp_path / "float.png")
    with pytest.raises(ValueError, match="uint8"):
        save_image(pixels.transpose(2, 0, 1).copy(), tmp_path / "chw.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["array.png", "tensor.png"]


@pytest.mark.parametrize("input_range", [(0.0, 1.0), (-1.0, 1.0), (0.0, 255.0)])
def test_to_uint8_against_numpy(input_range) -> None:
    """round(255 * clip((x - low) / (high - low), 0, 1)) (ties to even), channels last, written out in numpy with the
    same float32 operations."""
    low, high = input_range
    rng = np.random.default_rng(0)
    image = rng.uniform(low - 0.2 * (high - low), high + 0.2 * (high - low), size=(3, 5, 7)).astype(np.float32)
    image[:, 0, 0] = low + (high - low) * np.array([0.5 / 255, 1.5 / 255, 254.5 / 255])  # near the rounding ties
    span, offset = np.float32(high - low), np.float32(low)
    unit = np.clip((image - offset) / span, np.float32(0), np.float32(1))
    expected = np.rint(unit * np.float32(255)).astype(np.uint8).transpose(1, 2, 0)
    got = to_uint8(torch.from_numpy(image), input_range)
    assert got.dtype == torch.uint8 and got.shape == (5, 7, 3) and got.is_contiguous()
    np.testing.assert_array_equal(got.numpy(), expected)
    assert expected.min() == 0 and expected.max() == 255  # values outside the range were clipped
    np.testing.assert_array_equal(uint8_image(torch.from_numpy(image), input_range), got.numpy())
    gray = to_uint8(torch.from_numpy(image[0]), input_range)
    np.testing.assert_array_equal(gray.numpy(), got.numpy()[..., 0])


def test_uint8_image_passes_arrays_through_and_refuses_other_shapes() -> None:
    pixels = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    assert uint8_image(pixels) is not None and np.array_equal(uint8_image(pixels), pixels)
    with pytest.raises(ValueError, match=r"must be \(H, W, 3\) uint8, got float32"):
        uint8_image(pixels.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(3, H, W\) tensor or an \(H, W, 3\) uint8 array, got \(4, 2, 2\)"):
        uint8_image(torch.zeros(4, 2, 2))
    with pytest.raises(ValueError, match="floating-point"):
        to_uint8(torch.zeros(3, 2, 2, dtype=torch.uint8))


def test_to_pil_keeps_its_layouts() -> None:
    chw = torch.tensor([[[0.0, 1.0]], [[0.5, 0.25]], [[1.0, 0.0]]])  # (3, 1, 2)
    np.testing.assert_array_equal(np.asarray(to_pil(chw)), [[[0, 128, 255], [255, 64, 0]]])
    hwc = chw.permute(1, 2, 0).repeat(2, 1, 1)  # (2, 2, 3): channels last already
    np.testing.assert_array_equal(np.asarray(to_pil(hwc)), [[[0, 128, 255], [255, 64, 0]]] * 2)
    np.testing.assert_array_equal(np.asarray(to_pil(chw[:1])), [[0, 255]])  # (1, H, W): grayscale
