"""Landmarks in the MT data (``MTDataset(landmarks=True)``): read from the files beside the dataset, else found with
dlib when the dataset is built and cached there, redone when the image changed; scaled to the training size; a face
dlib cannot find is one listed problem (and ``beautygan fit`` stops with status 2). References: the JSON files read
by hand, dlib's detector called here on the same pixels, and the half-pixel resize formula written out."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from beautygan.cli import main as beautygan_main
from beautygan.data import faces as faces_module
from beautygan.data.landmarks import landmarks_path, read_landmarks
from beautygan.data.mt import DatasetError, MTDataset
from beautygan.data.synthetic import write_synthetic_mt

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "psgan_demo.yaml"


def _file_points(image: Path) -> np.ndarray:
    return np.asarray(json.loads(landmarks_path(image).read_text())["points"], dtype=np.float64)


@pytest.fixture(scope="module")
def posed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_mt(tmp_path_factory.mktemp("posed") / "mt", n=3, size=64, held_out=1, seed=2, pose=1.0)


def test_items_carry_the_files_points_scaled_to_the_training_size(posed: Path) -> None:
    at_64 = MTDataset(posed, image_size=64, landmarks=True, seed=0)
    at_32 = MTDataset(posed, image_size=32, landmarks=True, seed=0)
    for index in range(len(at_64)):
        item, small = at_64[index], at_32[index]
        for side, domain in (("source", "non-makeup"), ("reference", "makeup")):
            points = _file_points(posed / "images" / domain / item[f"{side}_name"])
            assert item[f"{side}_landmarks"].dtype == torch.float32 and item[f"{side}_landmarks"].shape == (68, 2)
            np.testing.assert_allclose(item[f"{side}_landmarks"].numpy(), points, atol=1e-5)  # same size: as stored
            # 64 -> 32 px: pixel centres at integers, the edges of the image onto the new edges
            np.testing.assert_allclose(small[f"{side}_landmarks"].numpy(), (points + 0.5) * 0.5 - 0.5, atol=1e-5)
    batch = next(iter(DataLoader(at_32, batch_size=2)))  # plain tensors: default collation stacks them
    assert batch["source_landmarks"].shape == (2, 68, 2) and batch["reference_landmarks"].dtype == torch.float32
    assert "source_landmarks" not in MTDataset(posed, image_size=32)[0]  # only when asked


def test_without_a_file_and_without_dlib_each_image_is_one_listed_problem(
    posed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_synthetic_mt(tmp_path / "mt", n=3, size=32, held_out=1, seed=2, pose=1.0)
    missing = landmarks_path(root / "images" / "non-makeup" / "nm_0001.png")
    missing.unlink()

    def unavailable(self, **kwargs) -> None:
        raise faces_module.FacesUnavailableError("dlib is not installed here")

    monkeypatch.setattr(faces_module.FaceModels, "__init__", unavailable)
    with pytest.raises(DatasetError) as caught:
        MTDataset(root, image_size=32, landmarks=True)
    lines = str(caught.value).splitlines()
    assert lines[1:] == [
        f"  no landmark file for {root / 'images' / 'non-makeup' / 'nm_0001.png'} (expected {missing}) and dlib "
        "cannot find them: dlib is not installed here"
    ]
    assert lines[0].startswith("1 problem(s) in the train split")
    MTDataset(root, image_size=32)  # without landmarks the dataset is fine


@pytest.mark.parametrize("ending", ["dataset", "fit"])
def test_a_face_dlib_cannot_find_is_a_listed_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture, ending: str
) -> None:
    pytest.importorskip("dlib", reason="the 'faces' extra is not installed")
    root = write_synthetic_mt(tmp_path / "mt", n=3, size=32, held_out=1, seed=2)
    image = root / "images" / "makeup" / "mk_0000.png"
    where = landmarks_path(image)
    where.unlink()  # a 32 px cartoon: no face for dlib's detector (faces from about 40 px)
    expected = (
        f"no face found by dlib's frontal detector in {image}: its landmarks are needed; write them to {where} or "
        "leave the image out of the list"
    )
    if ending == "dataset":
        with pytest.raises(DatasetError) as caught:
            MTDataset(root, image_size=32, landmarks=True)
        assert str(caught.value).splitlines()[1:] == [f"  {expected}"]
        return
    runs = tmp_path / "runs"
    code = beautygan_main(
        ["fit", "--config", str(CONFIG), "--data.root", str(root), "--data.image_size", "32"]
        + ["--trainer.default_root_dir", str(runs), "--trainer.logger.init_args.save_dir", str(runs)]
    )
    assert code == 2
    err = capsys.readouterr().err
    message = err[err.index("beautygan: error: ") :].splitlines()
    assert message[0].startswith("beautygan: error: 1 problem(s) in the train split") and message[1:] == [
        f"  {expected}"
    ]
    assert not (runs / "tensorboard").exists()  # stopped before any run folder


# ------------------------------------------------------------------------------------------------- dlib
@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    pytest.importorskip("dlib", reason="the 'faces' extra is not installed")
    try:
        faces_module.models_dir()
    except faces_module.FacesUnavailableError as err:
        pytest.skip(str(err))
    data = pytest.importorskip("skimage.data", reason="scikit-image not installed (astronaut() test photo)")
    return data.astronaut()


@pytest.fixture(scope="module")
def detector() -> faces_module.FaceModels:
    return faces_module.FaceModels()


def _photo_root(root: Path, pixels: np.ndarray) -> Path:
    """An MT layout whose one makeup and one non-makeup image is ``pixels``, with empty (background) label maps."""
    for domain in ("makeup", "non-makeup"):
        for folder in ("images", "segs"):
            (root / folder / domain).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(root / "images" / domain / "photo.png")
        Image.fromarray(np.zeros(pixels.shape[:2], np.uint8), mode="L").save(root / "segs" / domain / "photo.png")
    return root


def test_dlib_landmarks_are_cached_and_a_changed_image_is_redone(
    astronaut: np.ndarray, detector: faces_module.FaceModels, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _photo_root(tmp_path / "mt", astronaut)
    image = root / "images" / "non-makeup" / "photo.png"
    expected = detector.detect(astronaut)[0].landmarks  # the largest face, as prepare-faces takes it
    item = MTDataset(root, image_size=64, landmarks=True)[0]
    np.testing.assert_allclose(item["source_landmarks"].numpy(), (expected + 0.5) * 64 / 512 - 0.5, atol=1e-4)
    record = json.loads(landmarks_path(image).read_text())
    assert record["source"] == "dlib" and record["image_sha256"] == hashlib.sha256(image.read_bytes()).hexdigest()
    np.testing.assert_array_equal(read_landmarks(image), expected)

    # Built again: the cache answers, dlib is not run.
    def no_dlib(self, pixels):
        raise AssertionError("dlib ran although the landmarks are cached")

    with monkeypatch.context() as patched:
        patched.setattr(faces_module.FaceModels, "detect", no_dlib)
        again = MTDataset(root, image_size=64, landmarks=True)[0]
    torch.testing.assert_close(again["source_landmarks"], item["source_landmarks"])

    # The image changes (mirrored): its cached points belong to the old file and are found again.
    mirrored = np.ascontiguousarray(astronaut[:, ::-1])
    Image.fromarray(mirrored).save(image)
    reference_record = landmarks_path(root / "images" / "makeup" / "photo.png").read_text()
    redone = MTDataset(root, image_size=64, landmarks=True)[0]
    expected = detector.detect(mirrored)[0].landmarks
    np.testing.assert_allclose(redone["source_landmarks"].numpy(), (expected + 0.5) * 64 / 512 - 0.5, atol=1e-4)
    assert float((redone["source_landmarks"] - item["source_landmarks"]).abs().max()) > 5  # another face position
    record = json.loads(landmarks_path(image).read_text())
    assert record["image_sha256"] == hashlib.sha256(image.read_bytes()).hexdigest()
    assert landmarks_path(root / "images" / "makeup" / "photo.png").read_text() == reference_record  # untouched


def test_prepare_faces_writes_the_landmarks_it_aligned_with(
    astronaut: np.ndarray, detector: faces_module.FaceModels, tmp_path: Path
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(astronaut).save(photos / "astronaut.png")
    faces_module.prepare_faces(photos, tmp_path / "mt", kind="makeup", size=128, models=detector, progress=False)
    image = tmp_path / "mt" / "images" / "makeup" / "astronaut.png"
    _, points = faces_module.align_face(astronaut, detector.detect(astronaut)[0].landmarks, size=128)
    np.testing.assert_allclose(read_landmarks(image), points, atol=1e-9)
    assert json.loads(landmarks_path(image).read_text())["source"] == "dlib"
