"""Label maps from landmarks, alignment, colour/identity metrics and the evaluate/prepare-faces plumbing, without dlib.

Everything here runs without the ``faces`` extra: landmarks are a hand-made 68-point template, detection is faked,
and the colour metrics are checked against published CIELAB values and numpy references. The dlib parts are in
``tests/test_faces.py``.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from beautygan.cli import main as beautygan_main
from beautygan.data.faces import (
    DetectedFace,
    PrepareReport,
    align_face,
    alignment_matrix,
    label_map_from_landmarks,
    prepare_faces,
)
from beautygan.data.metrics import TransferMetrics, histogram_emd, mean_lab_distance, rgb_to_lab, transfer_metrics
from beautygan.data.regions import FaceRegion as R
from beautygan.inference.evaluate import EvalPair, evaluate_pairs, summarize, write_table
from beautygan.inference.trained_generator import TrainedGenerator
from beautygan.models.beautygan import Translation

# A frontal face in a 100 x 100 frame, iBUG 68-point order (image-left first), mouth closed.
_JAW = [(50 - 35 * math.cos(t), 45 + 40 * math.sin(t)) for t in np.linspace(0, math.pi, 17)]
_BROWS = [(22, 34), (27, 32), (32, 31), (37, 32), (42, 34), (58, 34), (63, 32), (68, 31), (73, 32), (78, 34)]
_NOSE = [(50, 40), (50, 45), (50, 50), (50, 55), (43, 59), (46.5, 60), (50, 61), (53.5, 60), (57, 59)]
_EYES = [
    (25, 42),
    (29, 39),
    (34, 39),
    (39, 42),
    (34, 44),
    (29, 44),
    (61, 42),
    (66, 39),
    (71, 39),
    (75, 42),
    (71, 44),
    (66, 44),
]
_OUTER_LIP = [
    (38, 70),
    (42, 67),
    (46, 66),
    (50, 67),
    (54, 66),
    (58, 67),
    (62, 70),
    (58, 74),
    (54, 76),
    (50, 77),
    (46, 76),
    (42, 74),
]
_INNER_LIP = [(40, 70), (45, 69.5), (50, 70), (55, 69.5), (60, 70), (55, 70.5), (50, 70.5), (45, 70.5)]
TEMPLATE = np.array(_JAW + _BROWS + _NOSE + _EYES + _OUTER_LIP + _INNER_LIP, dtype=np.float64)
assert TEMPLATE.shape == (68, 2)


def _open_mouth(points: np.ndarray) -> np.ndarray:
    opened = points.copy()
    opened[65:68, 1] += 6  # inner lower lip down
    opened[55:60, 1] += 6  # outer lower lip with it
    return opened


def _centroid(labels: np.ndarray, *ids: int) -> np.ndarray:
    ys, xs = np.nonzero(np.isin(labels, ids))
    assert len(xs), f"no pixel of {ids}"
    return np.array([xs.mean(), ys.mean()])


# -------------------------------------------------------------------------------------------- label maps
def test_label_map_regions_in_plausible_places():
    labels = label_map_from_landmarks(TEMPLATE * 2, 200)
    assert labels.shape == (200, 200) and labels.dtype == np.uint8
    present = set(np.unique(labels).tolist())
    assert present == {
        R.BACKGROUND,
        R.FACE,
        R.LEFT_BROW,
        R.RIGHT_BROW,
        R.LEFT_EYE,
        R.RIGHT_EYE,
        R.NOSE,
        R.UPPER_LIP,
        R.LOWER_LIP,
    }
    nose = _centroid(labels, R.NOSE)
    lips = _centroid(labels, R.UPPER_LIP, R.LOWER_LIP)
    for eye, brow in ((R.LEFT_EYE, R.LEFT_BROW), (R.RIGHT_EYE, R.RIGHT_BROW)):
        assert _centroid(labels, eye)[1] < nose[1]  # eyes above the nose
        assert _centroid(labels, brow)[1] < _centroid(labels, eye)[1]  # brows above the eyes
    assert lips[1] > nose[1]  # lips below the nose
    assert _centroid(labels, R.UPPER_LIP)[1] < _centroid(labels, R.LOWER_LIP)[1]
    assert _centroid(labels, R.LEFT_EYE)[0] < 100 < _centroid(labels, R.RIGHT_EYE)[0]  # "left" = image left
    assert _centroid(labels, R.LEFT_BROW)[0] < 100 < _centroid(labels, R.RIGHT_BROW)[0]
    # Hand-picked pixels (template x 2): eye centres, nose, chin, cheek, forehead (above the brows), corners.
    assert labels[83, 64] == R.LEFT_EYE and labels[83, 136] == R.RIGHT_EYE
    assert labels[110, 100] == R.NOSE
    assert labels[164, 100] == R.FACE and labels[110, 50] == R.FACE  # chin, cheek
    assert labels[150, 100] == R.LOWER_LIP
    assert labels[44, 100] == R.FACE  # forehead estimate: brow top y=62, arc top ~35
    assert labels[20, 100] == R.BACKGROUND and labels[0, 0] == R.BACKGROUND and labels[199, 199] == R.BACKGROUND
    assert labels[190, 100] == R.BACKGROUND  # below the chin (y = 170)


def test_teeth_only_for_an_open_mouth():
    closed = label_map_from_landmarks(TEMPLATE * 2, 200)
    opened = label_map_from_landmarks(_open_mouth(TEMPLATE) * 2, 200)
    assert not (closed == R.TEETH).any()
    teeth = _centroid(opened, R.TEETH)
    assert _centroid(opened, R.UPPER_LIP)[1] < teeth[1] < _centroid(opened, R.LOWER_LIP)[1]
    assert (opened == R.TEETH).sum() > 100  # a 40 x 12 px gap, roughly


def test_label_map_rejects_bad_landmarks():
    with pytest.raises(ValueError, match=r"\(68, 2\).*got shape \(5, 2\)"):
        label_map_from_landmarks(np.zeros((5, 2)), 64)
    bad = TEMPLATE.copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        label_map_from_landmarks(bad, 64)


def _rotated(points: np.ndarray, degrees: float, centre: tuple[float, float]) -> np.ndarray:
    t = math.radians(degrees)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    return (points - centre) @ rot.T + centre


def test_alignment_levels_the_eyes_and_moves_pixels_with_the_landmarks():
    # Template in a 200 x 200 photo, rotated by 20 degrees; a red disc drawn on the left eye's centre.
    points = _rotated(TEMPLATE + 50, 20, (100, 100))
    eye = points[36:42].mean(0)
    photo = np.full((200, 200, 3), 120, np.uint8)
    ys, xs = np.mgrid[:200, :200]
    photo[(xs - eye[0]) ** 2 + (ys - eye[1]) ** 2 <= 16] = (255, 0, 0)  # centred on the (sub-pixel) landmark
    crop, aligned = align_face(photo, points, size=144)
    # Hand computation on the template: eye centres (31.67, 41.67) and (68.33, 41.67), d = 36.67 apart; mouth centre
    # (50, 70), 28.33 below; half side = max(2 d, 1.8 * 28.33) = 73.33, so scale k = 72 / 73.33 = 0.98182; crop centre =
    # eye midpoint + 0.1 * eye-to-mouth, so the eyes land at 72 -/+ k d / 2 = 54 / 90 and y = 72 - k * 2.833 = 69.218
    # (continuous coordinates; pixel indices, dlib's convention, are 0.5 less).
    np.testing.assert_allclose(aligned[36:42].mean(0), [53.5, 68.718], atol=0.002)
    np.testing.assert_allclose(aligned[42:48].mean(0), [89.5, 68.718], atol=0.002)
    red = (crop[..., 0] > 200) & (crop[..., 1] < 80)
    ys, xs = np.nonzero(red)
    assert len(xs) > 10
    np.testing.assert_allclose([xs.mean(), ys.mean()], [53.5, 68.718], atol=0.25)
    matrix = alignment_matrix(points, size=144)
    np.testing.assert_allclose(np.hypot(*matrix[0, :2]), 72 / 73.3333, atol=1e-4)
    assert crop.shape == (144, 144, 3) and crop.dtype == np.uint8


def test_alignment_rejects_bad_arguments():
    with pytest.raises(ValueError, match="margin must be > 0"):
        alignment_matrix(TEMPLATE, size=64, margin=0)
    with pytest.raises(TypeError, match="uint8"):
        align_face(np.zeros((50, 50, 3), np.float32), TEMPLATE, size=64)


# ----------------------------------------------------------------------------------- prepare-faces (faked)
class _FakeModels:
    """Stands in for dlib: faces by file name ('none', 'two', 'tiny'), landmarks from the template."""

    def detect(self, image: np.ndarray) -> list[DetectedFace]:
        kind = self.next_kind
        scale = image.shape[0] / 100
        face = DetectedFace(
            box=(15, 30, 85, 85) if kind != "tiny" else (40, 40, 50, 50), score=1.0, landmarks=TEMPLATE * scale
        )
        if kind == "none":
            return []
        if kind == "two":
            return [face, DetectedFace(box=(0, 0, 20, 20), score=0.3, landmarks=TEMPLATE / 5)]
        return [face]


def test_prepare_faces_writes_mt_layout_and_reports_every_skip(tmp_path, monkeypatch):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("one", "two", "none", "tiny"):
        Image.new("RGB", (200, 200), (200, 150, 120)).save(photos / f"{name}.jpg")
    (photos / "broken.png").write_bytes(b"not an image")
    (photos / "notes.txt").write_text("ignored: not an image suffix")
    models = _FakeModels()
    import beautygan.data.faces as faces_module

    real_load = faces_module.load_image

    def load_image(path, *args, **kwargs):  # the file being read decides what the fake detector finds
        models.next_kind = path.stem if path.stem in ("two", "none", "tiny") else "one"
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(faces_module, "load_image", load_image)
    out = tmp_path / "mt"
    report = prepare_faces(photos, out, kind="non-makeup", size=64, min_face=32, models=models, progress=False)
    assert isinstance(report, PrepareReport)
    assert sorted(f.name for f in report.prepared) == ["one.png", "two.png"]
    skipped = {s.source.name: s.reason for s in report.skipped}
    assert set(skipped) == {"none.jpg", "tiny.jpg", "broken.png"}
    assert "no face" in skipped["none.jpg"]
    assert "too small" in skipped["tiny.jpg"] and "10 px" in skipped["tiny.jpg"]
    assert "not a readable image" in skipped["broken.png"]
    two = next(f for f in report.prepared if f.name == "two.png")
    assert two.faces_found == 2 and any("2 faces found; took the largest at (15, 30, 85, 85)" in n for n in two.notes)
    text = report.format()
    assert "2 written" in text and "3 skipped" in text and "none.jpg: no face" in text and "2 faces found" in text
    for name in ("one.png", "two.png"):
        with Image.open(out / "images" / "non-makeup" / name) as image:
            assert image.size == (64, 64) and image.mode == "RGB"
        with Image.open(out / "segs" / "non-makeup" / name) as seg:
            labels = np.asarray(seg)
        assert labels.shape == (64, 64)
        assert (
            _centroid(labels, R.UPPER_LIP, R.LOWER_LIP)[1]
            > _centroid(labels, R.NOSE)[1]
            > _centroid(labels, R.LEFT_EYE)[1]
        )
    assert (out / "non-makeup.txt").read_text().split() == ["one.png", "two.png"]
    # A second run appends without duplicating and keeps what was listed.
    (photos / "three.jpg").write_bytes((photos / "one.jpg").read_bytes())
    prepare_faces(photos, out, kind="non-makeup", size=64, min_face=32, models=models, progress=False)
    assert (out / "non-makeup.txt").read_text().split() == ["one.png", "two.png", "three.png"]
    # The MT loader of the BeautyGAN experiment accepts what was written.
    from beautygan.data.mt import check_pairs, list_domain

    names = list_domain(out, "non-makeup")
    assert names == ["one.png", "two.png", "three.png"] and check_pairs(out, "non-makeup", names) == []


def test_prepare_faces_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="kind must be one of"):
        prepare_faces(tmp_path, tmp_path / "o", kind="makup", models=_FakeModels())  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="input folder not found"):
        prepare_faces(tmp_path / "missing", tmp_path / "o", models=_FakeModels())
    report = prepare_faces(tmp_path, tmp_path / "o", models=_FakeModels(), progress=False)
    assert report.skipped and "no images" in report.skipped[0].reason
    (tmp_path / "taken").write_text("a file where the dataset should go")
    with pytest.raises(ValueError, match="output '.*taken' is a file; name a dataset folder"):
        prepare_faces(tmp_path, tmp_path / "taken", models=_FakeModels(), progress=False)


# ------------------------------------------------------------------------------------------ colour metrics
def test_rgb_to_lab_matches_published_values():
    colours = torch.tensor(
        [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.5]]
    )
    lab = rgb_to_lab(colours.T[None, :, None, :])[0, :, 0].T
    expected = torch.tensor(
        [  # sRGB D65 -> CIELAB (Lindbloom's calculator)
            [100.0, 0.0, 0.0],
            [0.0, 0.0, 0.0],
            [53.2408, 80.0925, 67.2032],
            [87.7347, -86.1827, 83.1793],
            [32.2970, 79.1875, -107.8602],
            [53.3890, 0.0, 0.0],
        ]
    )
    torch.testing.assert_close(lab, expected, atol=0.02, rtol=0)


def test_rgb_to_lab_matches_skimage_when_installed():
    color = pytest.importorskip("skimage.color", reason="scikit-image not installed")
    rgb = torch.rand(2, 3, 8, 9, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    expected = np.stack([color.rgb2lab(x.permute(1, 2, 0).numpy()) for x in rgb]).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(rgb_to_lab(rgb).numpy(), expected, atol=0.01)  # skimage rounds the matrix differently


def _levels_image(values: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(values.astype(np.float64) / 255)


def test_histogram_emd_matches_sorted_sample_formula():
    # For two equal-size samples, the 1-D EMD is the mean absolute difference of the sorted samples.
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (2, 3, 10, 10))
    b = rng.integers(0, 256, (2, 3, 10, 10))
    mask_a = np.zeros((2, 1, 10, 10), bool)
    mask_b = np.zeros((2, 1, 10, 10), bool)
    mask_a[:, :, :5] = True  # 50 pixels each, different places
    mask_b[:, :, :, 5:] = True
    got = histogram_emd(_levels_image(a), torch.from_numpy(mask_a), _levels_image(b), torch.from_numpy(mask_b))
    for n in range(2):
        per_channel = [np.abs(np.sort(a[n, c][mask_a[n, 0]]) - np.sort(b[n, c][mask_b[n, 0]])).mean() for c in range(3)]
        assert float(got[n]) == pytest.approx(np.mean(per_channel), abs=1e-9)


def test_histogram_emd_shift_and_empty_mask():
    image = torch.full((1, 3, 4, 4), 100 / 255, dtype=torch.float64)
    shifted = torch.full((1, 3, 4, 4), 130 / 255, dtype=torch.float64)
    full = torch.ones(1, 1, 4, 4, dtype=torch.bool)
    assert float(histogram_emd(image, full, shifted, full)[0]) == pytest.approx(30.0)
    assert math.isnan(float(histogram_emd(image, full, shifted, torch.zeros_like(full))[0]))


def _toy_labels(size: int = 32) -> torch.Tensor:
    labels = torch.zeros(size, size, dtype=torch.int64)
    labels[4:28, 6:26] = R.FACE
    labels[10:13, 9:13] = R.LEFT_EYE
    labels[10:13, 19:23] = R.RIGHT_EYE
    labels[14:19, 14:18] = R.NOSE
    labels[21:23, 12:20] = R.UPPER_LIP
    labels[23:25, 12:20] = R.LOWER_LIP
    labels[0:4, 6:26] = R.HAIR
    return labels


def test_transfer_metrics_on_hand_built_faces():
    labels = _toy_labels()[None]
    lips = torch.isin(labels, torch.tensor([R.UPPER_LIP, R.LOWER_LIP]))[:, None].expand(1, 3, 32, 32)
    source = torch.full((1, 3, 32, 32), 0.5)
    reference = source.clone()
    reference[lips] = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1).expand(1, 3, 32, 32)[lips]  # red lips
    result = reference.clone()  # perfect lip transfer ...
    outside = (labels == R.BACKGROUND) | (labels == R.HAIR)
    result = torch.where(outside[:, None], result + 10 / 255, result)  # ... and a +10-level background change
    to_pm1 = lambda x: x * 2 - 1  # noqa: E731
    m = transfer_metrics(to_pm1(source), to_pm1(reference), to_pm1(result), labels, labels)
    assert float(m["lips_delta_e"][0]) == pytest.approx(0.0, abs=1e-4)
    # Grey 0.5 is Lab (53.389, 0, 0), red is (53.2408, 80.0925, 67.2032) (published values).
    assert float(m["lips_delta_e_before"][0]) == pytest.approx(math.hypot(53.389 - 53.2408, 80.0925, 67.2032), abs=0.05)
    # EMD of lips before: R channel 128 -> 255 (127 levels), G and B 128 -> 0 (128 each); 0.5 -> level 128.
    assert float(m["lips_emd_before"][0]) == pytest.approx((127 + 128 + 128) / 3, abs=1e-4)
    assert float(m["lips_emd"][0]) == pytest.approx(0.0, abs=1e-6)
    assert float(m["skin_delta_e"][0]) == pytest.approx(0.0, abs=1e-4)
    assert float(m["eye_shadow_delta_e"][0]) == pytest.approx(0.0, abs=1e-4)
    assert float(m["background_l1"][0]) == pytest.approx(10.0, abs=0.01)
    assert float(m["lips_rgb_distance"][0]) == pytest.approx(0.0, abs=1e-4)
    # grey (127.5, 127.5, 127.5) to red (255, 0, 0): 127.5 * sqrt(3) in 0-255 RGB units
    assert float(m["lips_rgb_distance_before"][0]) == pytest.approx(127.5 * math.sqrt(3), abs=1e-3)
    assert float(m["skin_rgb_distance"][0]) == pytest.approx(0.0, abs=1e-4)
    kinds = ("delta_e", "delta_e_before", "emd", "emd_before", "rgb_distance", "rgb_distance_before")
    assert set(m) == {f"{r}_{k}" for r in ("lips", "eye_shadow", "skin") for k in kinds} | {"background_l1"}


def test_transfer_metrics_errors_and_empty_regions():
    x = torch.zeros(2, 3, 16, 16)
    labels = torch.zeros(2, 16, 16, dtype=torch.int64)  # no face at all
    m = transfer_metrics(x, x, x, labels, labels)
    assert torch.isnan(m["lips_delta_e"]).all() and torch.isnan(m["eye_shadow_emd"]).all()
    assert torch.equal(m["background_l1"], torch.zeros(2))
    with pytest.raises(ValueError, match=r"same shape"):
        transfer_metrics(x, x, x[:1], labels, labels)
    with pytest.raises(ValueError, match=r"source_labels must be .*got \(2, 8, 8\)"):
        transfer_metrics(x, x, x, labels[:, :8, :8], labels)
    with pytest.raises(TypeError, match="float"):
        transfer_metrics(x.long(), x, x, labels, labels)


def test_mean_lab_distance_is_symmetric_and_zero_on_itself():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 3, 8, 8, generator=g), torch.rand(2, 3, 8, 8, generator=g)
    mask = torch.rand(2, 1, 8, 8, generator=g) > 0.5
    assert torch.allclose(mean_lab_distance(a, mask, a, mask), torch.zeros(2), atol=1e-4)
    torch.testing.assert_close(mean_lab_distance(a, mask, b, mask), mean_lab_distance(b, mask, a, mask))


# ---------------------------------------------------------------------------------- accumulation and logging
class _FakeFaces:
    """dlib stand-in for the face distance: every face found, descriptor = mean colour (so a recoloured result moves)."""

    def detect(self, image):
        return [DetectedFace(box=(0, 0, image.shape[1], image.shape[0]), score=1.0, landmarks=TEMPLATE)]

    def landmarks(self, image, box):
        return TEMPLATE

    def embed(self, image, landmarks):
        return image.reshape(-1, 3).mean(0) / 255


def test_transfer_metrics_accumulator_means_skip_empty_regions_and_log():
    labels = _toy_labels()[None].repeat(3, 1, 1)
    labels[1][labels[1] == R.LEFT_EYE] = R.FACE  # sample 1: no left eye -> smaller eye-shadow mask
    labels[2][(labels[2] == R.LEFT_EYE) | (labels[2] == R.RIGHT_EYE)] = R.FACE  # sample 2: no eyes at all
    g = torch.Generator().manual_seed(0)
    source, reference, result = (torch.rand(3, 3, 32, 32, generator=g) * 2 - 1 for _ in range(3))
    acc = TransferMetrics(faces=True, models=_FakeFaces(), max_face_distance_samples=2)
    first = acc.update(source[:2], reference[:2], result[:2], labels[:2], labels[:2])
    second = acc.update(source[2:], reference[2:], result[2:], labels[2:], labels[2:])
    assert torch.isnan(second["eye_shadow_delta_e"]).all()
    means = acc.compute()
    every = {k: torch.cat([first[k], second[k]]) for k in first}
    for key, values in every.items():
        finite = values[torch.isfinite(values)]
        assert means[key] == pytest.approx(float(finite.double().mean()), rel=1e-6), key
    # Identity: capped at 2 samples; distance of mean colours (0-1) computed here with numpy.
    unit = lambda x: ((x + 1) / 2).clamp(0, 1).mul(255).round().numpy()  # noqa: E731
    expected = [
        np.linalg.norm(unit(source[i]).reshape(3, -1).mean(1) / 255 - unit(result[i]).reshape(3, -1).mean(1) / 255)
        for i in range(2)
    ]
    assert means["face_distance"] == pytest.approx(np.mean(expected), rel=1e-4)
    assert means["same_person_share_under_0.6"] == pytest.approx(np.mean([d < 0.6 for d in expected]))

    logged = {}

    class _Module:
        _trainer = None

        def log_dict(self, values, **kwargs):
            logged.update(values)

    acc.log_to(_Module(), prefix="val")
    assert logged["val/transfer/lips_delta_e"] == pytest.approx(means["lips_delta_e"])
    assert acc.compute() == {}  # reset after logging


def test_summarize_counts_and_share():
    rows = [
        {"source": "a", "face_distance": 0.2, "lips_delta_e": 10.0},
        {"source": "b", "face_distance": 0.7, "lips_delta_e": float("nan")},
        {"source": "c", "face_distance": float("nan"), "lips_delta_e": 20.0},
    ]
    summary = summarize(rows)
    assert summary["pairs"] == 3
    assert summary["mean"]["face_distance"] == pytest.approx(0.45) and summary["count"]["face_distance"] == 2
    assert summary["mean"]["lips_delta_e"] == pytest.approx(15.0)
    assert summary["same_person_share_under_0.6"] == pytest.approx(0.5)


# ------------------------------------------------------------------------------------------ file level + CLI
def _write_pair(root, name: str, colour, lip_colour, size: int = 32):
    labels = _toy_labels(size).numpy().astype(np.uint8)
    pixels = np.empty((size, size, 3), np.uint8)
    pixels[:] = colour
    pixels[np.isin(labels, [R.UPPER_LIP, R.LOWER_LIP])] = lip_colour
    for folder in ("images", "segs"):
        (root / folder / name).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(root / "images" / name)
    Image.fromarray(labels).save(root / "segs" / name)
    return root / "images" / name


def test_evaluate_pairs_with_a_generator_and_written_results(tmp_path):
    source = _write_pair(tmp_path, "non-makeup/s.png", (128, 128, 128), (128, 128, 128))
    reference = _write_pair(tmp_path, "makeup/r.png", (128, 128, 128), (255, 0, 0))

    class CopyReference(torch.nn.Module):  # a "perfect" transfer: the result is the reference
        def forward(self, non_makeup, makeup):
            return Translation(makeup=makeup, non_makeup=non_makeup)

    generator = TrainedGenerator(CopyReference(), size=32, checkpoint=Path("copy"), device=torch.device("cpu"))

    rows = evaluate_pairs(
        [EvalPair(source, reference)],
        generator=generator,
        image_size=32,
        faces=False,
        results_dir=tmp_path / "res",
    )
    (row,) = rows
    assert row["labels"] == "mt"  # found segs/ twin of images/ path
    assert row["lips_delta_e"] == pytest.approx(0.0, abs=0.05)
    assert row["lips_delta_e_before"] == pytest.approx(
        math.hypot(53.585 - 53.2408, 80.0925, 67.2032), abs=0.1
    )  # grey 128
    assert row["lips_emd_before"] == pytest.approx((127 + 128 + 128) / 3, abs=1e-4)
    assert (tmp_path / "res").is_dir() and row["result"].endswith(".png")
    csv_path, json_path = write_table(rows, summarize(rows), tmp_path / "table")
    with csv_path.open() as handle:
        assert next(csv.DictReader(handle))["source"] == str(source)
    assert json.loads(json_path.read_text())["summary"]["pairs"] == 1
    with pytest.raises(ValueError, match="no result image and no generator"):
        evaluate_pairs([EvalPair(source, reference)], faces=False)


def test_evaluate_cli_on_a_pairs_file_and_on_a_checkpoint(tmp_path, capsys):
    _write_pair(tmp_path, "non-makeup/s.png", (128, 128, 128), (128, 128, 128))
    _write_pair(tmp_path, "makeup/r.png", (128, 128, 128), (255, 0, 0))
    (tmp_path / "pairs.txt").write_text(
        "# source reference result\nimages/non-makeup/s.png images/makeup/r.png images/makeup/r.png\n"
    )
    assert (
        beautygan_main(
            ["evaluate", "--pairs", str(tmp_path / "pairs.txt"), "--out", str(tmp_path / "o1"), "--no-faces"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "1 pairs" in out and "lips_delta_e" in out
    summary = json.loads((tmp_path / "o1" / "summary.json").read_text())["summary"]
    assert summary["mean"]["lips_delta_e"] == pytest.approx(0.0, abs=0.05)
    (tmp_path / "bad.txt").write_text("only_one_field.png\n")
    assert (
        beautygan_main(["evaluate", "--pairs", str(tmp_path / "bad.txt"), "--out", str(tmp_path / "o2"), "--no-faces"])
        == 2
    )
    assert "expected 'SOURCE REFERENCE [RESULT]'" in capsys.readouterr().err

    # A tiny generator checkpoint in the layout `beautygan fit` writes (state_dict with the generator. prefix).
    from beautygan.models.beautygan import Generator

    generator = Generator(width=8, residual_blocks=1)
    ckpt = tmp_path / "tiny.ckpt"
    torch.save(
        {
            "state_dict": {f"generator.{k}": v for k, v in generator.state_dict().items()},
            "hyper_parameters": {"generator_width": 8, "residual_blocks": 1},
            "datamodule_hyper_parameters": {"image_size": 32},
        },
        ckpt,
    )
    code = beautygan_main(
        [
            "evaluate",
            "--ckpt",
            str(ckpt),
            "--data-dir",
            str(tmp_path),
            "--n",
            "3",
            "--out",
            str(tmp_path / "o3"),
            "--no-faces",
        ]
    )
    assert code == 0
    with (tmp_path / "o3" / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 and all(r["labels"] == "mt" for r in rows)
    assert len(list((tmp_path / "o3" / "results").glob("*.png"))) == 3
    assert beautygan_main(["evaluate", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o4"), "--no-faces"]) == 2
    assert "--ckpt is required" in capsys.readouterr().err


def test_missing_extra_gives_install_hint(monkeypatch):
    import sys

    from beautygan.data.faces import FaceModels, FacesUnavailableError

    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib -> ImportError
    with pytest.raises(FacesUnavailableError, match=r"pip install -e '\.\[faces\]'"):
        FaceModels()
    with pytest.warns(UserWarning, match="face distance not computed"):
        acc = TransferMetrics(faces="auto")
    assert acc.models is None
    with pytest.raises(FacesUnavailableError):
        TransferMetrics(faces=True)


def test_transfer_metrics_logged_from_a_lightning_validation_loop(tmp_path):
    import lightning as L
    from torch.utils.data import DataLoader

    labels = _toy_labels()

    class Tiny(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Conv2d(3, 3, 1)
            self.transfer_metrics = TransferMetrics(faces=False)

        def validation_step(self, batch, batch_idx):
            source, reference = batch
            result = torch.tanh(self.layer(source))
            n = source.shape[0]
            self.transfer_metrics.update(source, reference, result, labels.expand(n, -1, -1), labels.expand(n, -1, -1))

        def on_validation_epoch_end(self):
            self.transfer_metrics.log_to(self, prefix="val")

    data = [(torch.rand(3, 32, 32) * 2 - 1, torch.rand(3, 32, 32) * 2 - 1) for _ in range(4)]
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        default_root_dir=tmp_path,
    )
    (metrics,) = trainer.validate(Tiny(), DataLoader(data, batch_size=2), verbose=False)
    assert {"val/transfer/lips_delta_e", "val/transfer/skin_emd", "val/transfer/background_l1"} <= set(metrics)
    assert all(math.isfinite(v) for v in metrics.values())


def test_evaluate_cli_bad_paths_are_one_line_and_a_bad_pair_loses_only_itself(tmp_path, capsys):
    source = _write_pair(tmp_path, "non-makeup/s.png", (128, 128, 128), (128, 128, 128))
    reference = _write_pair(tmp_path, "makeup/r.png", (128, 128, 128), (255, 0, 0))
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("images/non-makeup/s.png images/makeup/r.png images/makeup/r.png\n")
    (tmp_path / "a_file").write_text("x")
    for argv, expected in (
        (["--pairs", str(tmp_path), "--out", str(tmp_path / "o")], f"--pairs '{tmp_path}' is a folder"),
        (["--pairs", str(pairs), "--out", str(tmp_path / "a_file")], f"--out '{tmp_path / 'a_file'}' is a file"),
        (["--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")], "has no images/ folder"),
    ):
        assert beautygan_main(["evaluate", *argv, "--no-faces"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()

    # The third pair's result is not an image: the other two are measured and written, the bad one is listed, exit 1.
    (tmp_path / "broken.png").write_text("not a png")
    pairs.write_text(
        "\n".join(
            ["images/non-makeup/s.png images/makeup/r.png images/makeup/r.png"] * 2
            + ["images/non-makeup/s.png images/makeup/r.png broken.png"]
        )
        + "\n"
    )
    assert beautygan_main(["evaluate", "--pairs", str(pairs), "--out", str(tmp_path / "o5"), "--no-faces"]) == 1
    err = capsys.readouterr().err
    assert "1 of 3 pair(s) skipped" in err and "broken.png: not a readable image" in err
    with (tmp_path / "o5" / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 and all(float(r["lips_delta_e"]) == pytest.approx(0.0, abs=0.05) for r in rows)
    assert source.exists() and reference.exists()
