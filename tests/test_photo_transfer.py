"""Face-aware transfer on real photos (scikit-image's astronaut, a real face; coffee, not a face): the output has the
photo's size, pixels outside the landmarks' face hull are the photo's bit for bit, the pasted change lands where the
alignment says (checked with a known change), folders and galleries; for both generators (BeautyGAN's and the
PSGAN-style one, whose face geometry comes from the same landmarks).

Needs the ``faces`` extra (dlib) and scikit-image; skipped with that reason otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

pytest.importorskip("dlib", reason="the 'faces' extra is not installed: pip install -e '.[faces]'")
skimage_data = pytest.importorskip("skimage.data", reason="scikit-image ships the real photos")

from conftest import save_untrained_generator  # noqa: E402

from beautygan.cli import main as beautygan_main  # noqa: E402
from beautygan.data.faces import (  # noqa: E402
    FaceModels,
    FacesUnavailableError,
    NoFaceError,  # noqa: E402
    label_map_from_landmarks,
    models_dir,
)
from beautygan.data.synthetic import write_synthetic_mt  # noqa: E402
from beautygan.inference.gallery import gallery_grid  # noqa: E402
from beautygan.inference.photo_transfer import PhotoTransfer, TransferOptions

try:
    models_dir()
except FacesUnavailableError as err:
    pytest.skip(str(err), allow_module_level=True)

SIZE = 64


@pytest.fixture(scope="module", params=["beautygan", "psgan"])
def checkpoint(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained generator of each kind (BeautyGAN's, the PSGAN-style one) saved as `beautygan fit` saves it: it
    changes whatever it is given."""
    return save_untrained_generator(tmp_path_factory.mktemp("ckpt") / "last.ckpt", size=SIZE, generator=request.param)


@pytest.fixture(scope="module")
def models() -> FaceModels:
    return FaceModels()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skimage_data.astronaut()


def _hull(models: FaceModels, photo: np.ndarray) -> np.ndarray:
    """The face hull of the largest face, computed here from dlib's landmarks (not by the code under test)."""
    landmarks = models.detect(photo)[0].landmarks
    return label_map_from_landmarks(landmarks, photo.shape[:2]) != 0


def _dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    image = Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(2 * pixels + 1))
    return np.asarray(image) > 0


def _erode(mask: np.ndarray, pixels: int) -> np.ndarray:
    return ~_dilate(~mask, pixels)


@pytest.mark.parametrize("shape", ["square", "portrait", "landscape"])
def test_output_is_the_photo_with_only_the_face_changed(checkpoint, models, astronaut, shape: str) -> None:
    photo = {"square": astronaut, "portrait": astronaut[:, 40:424], "landscape": astronaut[:400]}[shape]
    photo = np.ascontiguousarray(photo)
    original = photo.copy()
    transfer = PhotoTransfer(checkpoint, TransferOptions(), models=models)
    source = transfer.prepare(photo, "astronaut.png")
    reference = transfer.prepare(np.ascontiguousarray(astronaut[:, ::-1]), "mirrored.png")
    out = transfer(source, reference)
    assert np.array_equal(photo, original)  # the caller's array is not modified
    assert out.shape == photo.shape and out.dtype == np.uint8
    hull = _hull(models, photo)
    outside = ~_dilate(hull, 1)
    assert np.array_equal(out[outside], photo[outside])  # bit for bit outside the face
    inside = _erode(hull, 12)
    change = np.abs(out.astype(int) - photo.astype(int)).mean(axis=2)
    assert change[inside].mean() > 10  # the untrained generator repaints the face
    assert hull.mean() < 0.35  # the face is a minority of the photo: the test above is not vacuous


def test_a_known_change_lands_on_the_face_where_the_alignment_puts_it(checkpoint, models, astronaut) -> None:
    """The generator replaced by 'crop + 0.16 on the crop's left half, - 0.16 on its right half' (in [-1, 1]): with a
    hard mask the photo gets +20 / -20 (0-255) on the face's left / right side (the image's: the photo is upright)."""
    transfer = PhotoTransfer(checkpoint, TransferOptions(feather=0.0), models=models)
    source = transfer.prepare(astronaut, "astronaut.png")
    pattern = torch.full((3, SIZE, SIZE), 0.16)
    pattern[..., SIZE // 2 :] = -0.16
    out = transfer.paste(source, source.crop + pattern).astype(int)
    hull = _hull(models, astronaut)
    landmarks = models.detect(astronaut)[0].landmarks
    nose_x = landmarks[27:31, 0].mean()
    columns = np.arange(astronaut.shape[1])[None, :].repeat(astronaut.shape[0], 0)
    photo = astronaut.astype(int)
    left = _erode(hull, 2) & (columns < nose_x - 15)
    right = _erode(hull, 2) & (columns > nose_x + 15)
    assert left.sum() > 1000 and right.sum() > 1000
    np.testing.assert_array_equal(out[left], np.clip(photo[left] + 20, 0, 255))
    np.testing.assert_array_equal(out[right], np.clip(photo[right] - 20, 0, 255))
    assert np.array_equal(out[~hull], photo[~hull])


def test_a_photo_without_a_face_gets_one_line_naming_it(checkpoint, models, tmp_path: Path, capsys) -> None:
    transfer = PhotoTransfer(checkpoint, TransferOptions(), models=models)
    with pytest.raises(NoFaceError, match="no face found in coffee.png"):
        transfer.prepare(skimage_data.coffee(), "coffee.png")
    coffee, face = tmp_path / "coffee.png", tmp_path / "face.png"
    Image.fromarray(skimage_data.coffee()).save(coffee)
    Image.fromarray(skimage_data.astronaut()).save(face)
    out = tmp_path / "out.png"
    code = beautygan_main(
        ["transfer", "--ckpt", str(checkpoint), "--source", str(coffee), "--reference", str(face), "--out", str(out)]
    )
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert err.count("\n") == 1 and "no face found in coffee.png" in err


def test_folders_write_every_pair_and_list_the_failures(checkpoint, models, astronaut, tmp_path: Path, capsys) -> None:
    sources, references, out = tmp_path / "sources", tmp_path / "references", tmp_path / "out"
    sources.mkdir()
    references.mkdir()
    Image.fromarray(astronaut).save(sources / "astronaut.png")
    Image.fromarray(np.ascontiguousarray(astronaut[:, ::-1])).save(sources / "mirrored.jpg", quality=95)
    Image.fromarray(skimage_data.coffee()).save(sources / "coffee.png")
    Image.fromarray(astronaut).resize((384, 384)).save(references / "look.png")
    code = beautygan_main(
        [
            "transfer",
            "--ckpt",
            str(checkpoint),
            "--source",
            str(sources),
            "--reference",
            str(references),
            "--out",
            str(out),
            "--batch-size",
            "2",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 1  # one photo failed, the others were written
    assert sorted(p.name for p in out.iterdir()) == ["astronaut__look.png", "mirrored__look.png"]
    written = np.asarray(Image.open(out / "astronaut__look.png"))
    assert written.shape == astronaut.shape
    outside = ~_dilate(_hull(models, astronaut), 1)
    assert np.array_equal(written[outside], astronaut[outside])  # the PNG keeps them bit for bit too
    assert "wrote 2 image(s)" in printed and "coffee.png: no face found in coffee.png" in printed


def test_gallery_grid_layout_by_value() -> None:
    def flat(value: float) -> torch.Tensor:
        return torch.full((3, 8, 8), value)

    sources, references = [flat(-1.0), flat(-0.5)], [flat(0.0), flat(0.5), flat(1.0)]
    made_up = [[flat(-1.0 + 0.1 * (3 * i + j)) for j in range(3)] for i in range(2)]
    grid = gallery_grid(sources, references, made_up, cell=8)
    assert grid.shape == (3 * 10 - 2, 4 * 10 - 2, 3)
    value = lambda row, col: int(grid[row * 10 + 4, col * 10 + 4, 0])  # noqa: E731
    assert value(0, 0) == 255  # the white corner
    assert [value(0, j) for j in (1, 2, 3)] == [round(127.5 * v + 127.5) for v in (0.0, 0.5, 1.0)]  # references across
    assert [value(i, 0) for i in (1, 2)] == [0, round(0.5 * 127.5)]  # untouched sources down
    assert value(2, 3) == round((-1.0 + 0.1 * 5 + 1) * 127.5)  # source 2 wearing reference 3
    assert int(grid[9, 5, 0]) == 255  # the gaps are white


def test_gallery_command_on_the_mt_layout(checkpoint, tmp_path: Path) -> None:
    root = write_synthetic_mt(tmp_path / "mt", n=6, size=SIZE, held_out=3, seed=0)
    out = tmp_path / "gallery.png"
    assert (
        beautygan_main(
            [
                "gallery",
                "--ckpt",
                str(checkpoint),
                "--data-dir",
                str(root),
                "--count",
                "2",
                "--cell",
                "32",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    grid = np.asarray(Image.open(out))
    assert grid.shape == (3 * 34 - 2, 3 * 34 - 2, 3)
    first_source = np.asarray(
        Image.open(root / "images" / "non-makeup" / "nm_0003.png").convert("RGB").resize((32, 32), Image.LANCZOS)
    )
    assert np.abs(grid[34:66, 0:32].astype(int) - first_source.astype(int)).max() <= 2
    page = (tmp_path / "gallery.html").read_text()
    assert 'src="gallery.png"' in page and "nm_0003.png" in page and "mk_0003.png" in page
