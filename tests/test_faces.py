"""dlib parts of issue 7: detection, landmarks, prepare-faces and the face distance on real pixels.

Needs the ``faces`` extra (``pip install -e '.[faces]'``); skipped with that reason otherwise. Faces: the procedural
faces of ``beautygan.data.synthetic`` (drawn, no download; dlib's HOG detector finds most of them) and
scikit-image's ``astronaut()`` photo where scikit-image is installed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("dlib", reason="the 'faces' extra is not installed: pip install -e '.[faces]'")

from beautygan.cli import main as beautygan_main  # noqa: E402
from beautygan.data.faces import (  # noqa: E402
    FaceModels,
    FacesUnavailableError,
    align_face,
    label_map_from_landmarks,
    models_dir,
    prepare_faces,
)
from beautygan.data.metrics import face_distance  # noqa: E402
from beautygan.data.regions import FaceRegion as R  # noqa: E402
from beautygan.data.synthetic import render_face  # noqa: E402
from beautygan.inference.evaluate import EvalPair, evaluate_pairs  # noqa: E402

try:
    models_dir()
except FacesUnavailableError as err:  # dlib without the model files
    pytest.skip(str(err), allow_module_level=True)


@pytest.fixture(scope="module")
def models() -> FaceModels:
    return FaceModels(upsample=1)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    data = pytest.importorskip("skimage.data", reason="scikit-image not installed (astronaut() test photo)")
    return data.astronaut()


@pytest.fixture(scope="module")
def astronaut_crop(models, astronaut) -> tuple[np.ndarray, np.ndarray]:
    faces = models.detect(astronaut)
    return align_face(astronaut, faces[0].landmarks, size=256)


def _centroid(labels: np.ndarray, *ids: int) -> np.ndarray:
    ys, xs = np.nonzero(np.isin(labels, ids))
    assert len(xs), f"no pixel of {ids}"
    return np.array([xs.mean(), ys.mean()])


def _assert_plausible(labels: np.ndarray) -> None:
    nose = _centroid(labels, R.NOSE)
    assert _centroid(labels, R.UPPER_LIP, R.LOWER_LIP)[1] > nose[1]  # lips below the nose
    for eye, brow in ((R.LEFT_EYE, R.LEFT_BROW), (R.RIGHT_EYE, R.RIGHT_BROW)):
        assert _centroid(labels, eye)[1] < nose[1]  # eyes above the nose
        assert _centroid(labels, brow)[1] < _centroid(labels, eye)[1]  # brows above the eyes
    assert _centroid(labels, R.LEFT_EYE)[0] < nose[0] < _centroid(labels, R.RIGHT_EYE)[0]


def test_model_files_are_found_and_models_pickle(models):
    names = {p.name for p in models_dir().iterdir()}
    assert {"shape_predictor_68_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat"} <= names
    import pickle

    assert models.predictor is not None  # loaded ...
    copy = pickle.loads(pickle.dumps(models))  # ... and dropped from the pickle (DDP spawn), reloaded on use
    assert copy._predictor is None and copy.folder == models.folder


def test_landmarks_on_a_generated_face_land_in_its_true_regions(models):
    image, truth, _ = render_face(np.random.default_rng(0), 64, makeup=False)
    faces = models.detect(image)
    assert faces, "dlib found no face in the procedural face (seed 0)"
    labels = label_map_from_landmarks(faces[0].landmarks, 64)
    _assert_plausible(labels)
    # Against the generator's own label map: the landmark lips sit on the true lips, the eyes near the true eyes.
    for ids, tolerance in (((R.UPPER_LIP, R.LOWER_LIP), 3.0), ((R.LEFT_EYE,), 4.0), ((R.RIGHT_EYE,), 4.0)):
        assert np.abs(_centroid(labels, *ids) - _centroid(truth, *ids)).max() < tolerance, ids
    skin_ids = [R.FACE, R.NOSE, R.LEFT_EYE, R.RIGHT_EYE, R.LEFT_BROW, R.RIGHT_BROW, R.UPPER_LIP, R.LOWER_LIP, R.TEETH]
    ours, theirs = labels > 0, np.isin(truth, skin_ids)
    assert (ours & theirs).sum() / (ours | theirs).sum() > 0.5  # face IoU


def test_prepare_faces_on_generated_faces_and_a_blank_photo(models, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for seed in (0, 1):
        Image.fromarray(render_face(np.random.default_rng(seed), 64, makeup=True)[0]).save(photos / f"face{seed}.png")
    Image.new("RGB", (96, 96), (90, 140, 200)).save(photos / "sky.png")
    report = prepare_faces(photos, tmp_path / "mt", kind="makeup", size=64, min_face=16, models=models, progress=False)
    assert [f.name for f in report.prepared] == ["face0.png", "face1.png"]
    assert [(s.source.name, s.reason) for s in report.skipped] == [("sky.png", "no face found (dlib frontal detector)")]
    for name in ("face0.png", "face1.png"):
        _assert_plausible(np.asarray(Image.open(tmp_path / "mt" / "segs" / "makeup" / name)))
    # The CLI prints the report and fails (exit 1) when nothing usable was found.
    (tmp_path / "empty").mkdir()
    Image.new("RGB", (96, 96), (20, 20, 20)).save(tmp_path / "empty" / "dark.jpg")
    assert (
        beautygan_main(["prepare-faces", str(tmp_path / "empty"), str(tmp_path / "mt2"), "--kind", "non-makeup"]) == 1
    )
    out = capsys.readouterr().out
    assert "0 written" in out and "dark.jpg: no face found" in out


def test_astronaut_face_is_found_and_labelled(models, astronaut, astronaut_crop, tmp_path):
    faces = models.detect(astronaut)
    left, top, right, bottom = faces[0].box
    assert 150 < left < 200 and 50 < top < 100 and 240 < right < 290 and 140 < bottom < 190  # her face, by eye
    crop, points = astronaut_crop
    labels = label_map_from_landmarks(points, 256)
    _assert_plausible(labels)
    assert (labels == R.TEETH).sum() > 50  # she smiles with her teeth showing
    eyes_y = (_centroid(labels, R.LEFT_EYE)[1] + _centroid(labels, R.RIGHT_EYE)[1]) / 2
    assert 0.35 * 256 < eyes_y < 0.5 * 256 and abs(_centroid(labels, R.FACE)[0] - 128) < 12  # centred, eyes level
    assert abs(_centroid(labels, R.LEFT_EYE)[1] - _centroid(labels, R.RIGHT_EYE)[1]) < 2

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(astronaut).save(photos / "astronaut.png")
    Image.new("RGB", (128, 128), (128, 128, 128)).save(photos / "grey.png")
    report = prepare_faces(photos, tmp_path / "mt", kind="non-makeup", size=256, models=models, progress=False)
    assert [f.name for f in report.prepared] == ["astronaut.png"]
    assert [s.source.name for s in report.skipped] == ["grey.png"]
    prepared = report.prepared[0]
    if prepared.faces_found > 1:
        assert any("took the largest" in note for note in prepared.notes)
    written = np.asarray(Image.open(tmp_path / "mt" / "images" / "non-makeup" / "astronaut.png"))
    assert np.abs(written.astype(int) - crop.astype(int)).mean() < 1.0
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "mt" / "segs" / "non-makeup" / "astronaut.png")), labels
    )


@pytest.fixture
def fast(models, monkeypatch) -> FaceModels:
    """The same models without detector upsampling: enough for the ~110 px face of a 256 crop, 4x faster."""
    monkeypatch.setattr(models, "upsample", 0)
    return models


def test_face_distance_self_flip_brighten(fast, astronaut_crop):
    models = fast
    crop, _ = astronaut_crop
    flipped = np.ascontiguousarray(crop[:, ::-1])
    brighter = np.clip(crop.astype(np.int16) + 40, 0, 255).astype(np.uint8)
    same = face_distance(crop, crop.copy(), models=models)
    assert same["face_distance"] < 1e-6 and same["face_box_from"] == "detector" and same["result_face_detected"]
    flip = face_distance(crop, flipped, models=models)["face_distance"]
    bright = face_distance(crop, brighter, models=models)["face_distance"]
    assert 0 < flip < 0.6 and 0 < bright < 0.6  # same person by dlib's threshold
    # A different face (procedural, upscaled) is far away.
    other = np.asarray(Image.fromarray(render_face(np.random.default_rng(0), 64, makeup=False)[0]).resize((256, 256)))
    assert face_distance(crop, other, models=models)["face_distance"] > max(flip, bright)


def test_evaluate_pairs_with_landmark_labels(fast, astronaut_crop, tmp_path):
    models = fast
    crop, _ = astronaut_crop
    Image.fromarray(crop).save(tmp_path / "source.png")
    Image.fromarray(np.ascontiguousarray(crop[:, ::-1])).save(tmp_path / "flipped.png")
    rows = evaluate_pairs(
        [
            EvalPair(tmp_path / "source.png", tmp_path / "source.png", tmp_path / "source.png"),
            EvalPair(tmp_path / "source.png", tmp_path / "source.png", tmp_path / "flipped.png"),
        ],
        models=models,
    )
    assert [r["labels"] for r in rows] == ["landmarks", "landmarks"]
    assert rows[0]["face_distance"] < 1e-6 and rows[0]["lips_delta_e"] == pytest.approx(0.0, abs=1e-4)
    assert 0 < rows[1]["face_distance"] < 0.6
    assert rows[1]["background_l1"] > 1.0  # a mirrored background has moved
    # Tensor inputs in [-1, 1] give the same distance as uint8 arrays.
    as_tensor = torch.from_numpy(crop).permute(2, 0, 1).float() / 127.5 - 1
    flipped_tensor = as_tensor.flip(-1)
    from_tensors = face_distance(as_tensor, flipped_tensor, models=models)["face_distance"]
    assert from_tensors == pytest.approx(rows[1]["face_distance"], abs=1e-6)
