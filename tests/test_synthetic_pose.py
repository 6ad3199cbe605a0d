"""Posed synthetic faces and their 68 landmarks (beautygan.data.synthetic, beautygan.data.synthetic_pose).

References: the frontal faces' pixels are pinned by hashes of what the frontal-only writer produced; where each
landmark must lie is the iBUG 300-W index table written out here; the in-plane pose is checked against a similarity
fitted with numpy and a nearest-neighbour warp done by hand; the head turn against the closed form of a sphere turned
about its vertical axis (x' = r sin(asin(x / r) + yaw) on each row); the open mouth and the smile against their
stated sizes, measured on the label maps.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from beautygan.data.regions import FaceRegion as R
from beautygan.data.synthetic import FaceParams, render, render_face, write_synthetic_mt
from beautygan.data.synthetic_pose import Pose, random_pose

# iBUG 68-point markup in dlib's order, "left"/"right" in the image (points 36-41: the image-left eye).
ON = {i: {R.FACE} for i in range(0, 17)}
ON |= {i: {R.LEFT_BROW} for i in range(17, 22)} | {i: {R.RIGHT_BROW} for i in range(22, 27)}
ON |= {i: {R.NOSE} for i in range(27, 36)}
ON |= {i: {R.LEFT_EYE} for i in range(36, 42)} | {i: {R.RIGHT_EYE} for i in range(42, 48)}
ON |= {i: {R.UPPER_LIP} for i in (*range(49, 54), *range(61, 64))}
ON |= {i: {R.LOWER_LIP} for i in (*range(55, 60), *range(65, 68))}
ON |= {i: {R.UPPER_LIP, R.LOWER_LIP} for i in (48, 54, 60, 64)}  # mouth corners: on either lip
JAW = range(0, 17)

GRID = (
    [Pose(yaw=y) for y in (-35, -20, 10, 20, 35)]
    + [Pose(pitch=p) for p in (-15, 15)]
    + [Pose(roll=r) for r in (-25, 25)]
    + [Pose(scale=s) for s in (0.85, 1.15)]
    + [Pose(shift=(0.08, -0.08)), Pose(shift=(-0.08, 0.08))]
    + [Pose(mouth_open=m) for m in (0.3, 1.0)]
    + [Pose(smile=1.0), Pose(smile=1.0, mouth_open=1.0)]
    + [Pose(roll=-20, scale=0.85, shift=(0.05, 0.05), yaw=30, pitch=-10, mouth_open=0.8, smile=0.5)]
)


def _faces(count: int, seed: int = 0) -> list[FaceParams]:
    rng = np.random.default_rng(seed)
    return [FaceParams.draw(rng, makeup=bool(k % 2)) for k in range(count)]


def _off_label(labels: np.ndarray, points: np.ndarray, *, tolerance: int, skip_lips: bool = False) -> list[int]:
    """Indices of the landmarks whose pixel (or, with ``tolerance``, a pixel that many steps away; jaw points always
    1) carries none of the labels the markup names for them."""
    height, width = labels.shape
    bad = []
    for i, (x, y) in enumerate(points):
        if skip_lips and i >= 48:
            continue
        col, row = int(round(x)), int(round(y))
        reach = 1 if i in JAW else tolerance
        window = labels[max(0, row - reach) : row + reach + 1, max(0, col - reach) : col + reach + 1]
        if not (0 <= row < height and 0 <= col < width) or not set(np.unique(window).tolist()) & set(ON[i]):
            bad.append(i)
    return bad


# ------------------------------------------------------------------------------------------- frontal faces unchanged
# sha256 of the image and label arrays of three faces in a row, from the frontal-only writer (before poses existed).
FRONTAL = {
    (0, 64, False): "f687535c219f937c8c93c23c37f53fa5693867cb44c335a8d0d272be255855b3",
    (0, 64, True): "bcb42d4d0297aad1b487ffa3187530949acf78c961cb014de6028017d355c62d",
    (1, 37, True): "71c7b8a6c922a837319734b007a9a97dc5e2808a901bdad5e96f6bc0b771ea11",
    (11, 256, True): "8e82513d2567cae944e50694290378f5fc4928a3a1d4f7f68a9f48654fe106b1",
}
WRITER = "2e2dfda087526999d1b826051989ed446a48e612e82d787aee803ba7ffe64f64"
"""sha256 of the decoded pixels of every image and label map, and the bytes of the four lists, in path order, of
``write_synthetic_mt(root, n=6, size=48, held_out=2, seed=5)`` from the frontal-only writer."""


def _sha256(arrays) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


@pytest.mark.parametrize("key", sorted(FRONTAL))
def test_frontal_faces_are_bit_for_bit_those_of_the_frontal_only_writer(key):
    seed, size, makeup = key
    for pose in (None, Pose.frontal(), random_pose(np.random.default_rng(9), 0.0)):
        rng = np.random.default_rng(seed)
        faces = [render_face(rng, size, makeup=makeup, pose=pose) for _ in range(3)]
        assert _sha256(a for face in faces for a in (face.image, face.labels)) == FRONTAL[key]


@pytest.mark.parametrize("pose", [None, 0.0, 0])
def test_writer_at_pose_0_writes_the_frontal_set(tmp_path, pose):
    kwargs = {} if pose is None else {"pose": pose}
    root = write_synthetic_mt(tmp_path / "mt", n=6, size=48, held_out=2, seed=5, **kwargs)
    files = sorted(p for p in root.rglob("*") if p.is_file() and "landmarks" not in p.relative_to(root).parts)
    assert len(files) == 28
    arrays = [
        np.asarray(Image.open(p)) if p.suffix == ".png" else np.frombuffer(p.read_bytes(), np.uint8) for p in files
    ]
    assert _sha256(arrays) == WRITER


def test_poses_draw_nothing_from_the_face_stream():
    """A pose changes how a face is drawn, never which face comes next: the generator ends in the same state."""
    states = []
    for pose in (None, Pose(yaw=30, mouth_open=1.0), random_pose(np.random.default_rng(1), 1.0)):
        rng = np.random.default_rng(4)
        render_face(rng, 32, makeup=True, pose=pose)
        states.append(rng.bit_generator.state)
    assert states[0] == states[1] == states[2]


# --------------------------------------------------------------------------------- landmarks on their labels
@pytest.mark.parametrize("pose", GRID, ids=lambda p: ",".join(f"{k}={v}" for k, v in vars(p).items() if k))
def test_landmarks_lie_on_their_labels_at_every_pose(pose):
    for params in _faces(6):
        face = render(params, size=128, pose=pose)
        assert face.landmarks.shape == (68, 2) and face.landmarks.dtype == np.float64
        assert _off_label(face.labels, face.landmarks, tolerance=0) == [], (pose, params.teeth)


def test_landmarks_lie_on_their_labels_at_random_widest_poses():
    rng = np.random.default_rng(7)
    for params in _faces(8, seed=1):
        for _ in range(4):
            pose = random_pose(rng, 1.0)
            face = render(params, size=128, pose=pose)
            assert _off_label(face.labels, face.landmarks, tolerance=0) == [], pose


def test_landmarks_at_the_demo_size_are_within_a_pixel_of_their_labels():
    """At 64 px a lip, a brow or a scaled-down eye can be a single row of pixels, and a closed mouth's line of teeth
    leaves the lips about a pixel each: points are within a pixel of their label (lip points where no line of teeth
    crosses the lips)."""
    rng = np.random.default_rng(3)
    for params in _faces(10, seed=2):
        for pose in [*GRID[::3], random_pose(rng, 1.0), random_pose(rng, 1.0)]:
            face = render(params, size=64, pose=pose)
            skip = params.teeth and pose.mouth_open == 0
            assert _off_label(face.labels, face.landmarks, tolerance=1, skip_lips=skip) == [], pose


def test_landmarks_follow_dlibs_order_and_sides():
    """Ordering by value: the jaw runs around the face from the image's left through the chin to its right, each brow and the nostril
    row left to right, eyes and outer lips clockwise as seen from their left corner."""
    points = render(_faces(1)[0], size=256).landmarks
    x, y = points[:, 0], points[:, 1]
    centre = points[0:17].mean(axis=0)
    around = np.unwrap(np.arctan2(y[0:17] - centre[1], x[0:17] - centre[0]))  # y down: left pi, chin pi/2, right 0
    assert np.all(np.diff(around) < 0) and x[0] < x[8] < x[16] and y[8] == y[0:17].max()
    assert np.all(np.diff(x[17:22]) > 0) and np.all(np.diff(x[22:27]) > 0) and x[21] < x[22]
    assert np.all(np.diff(y[27:31]) > 0) and np.all(np.diff(x[31:36]) > 0)
    for eye in (slice(36, 42), slice(42, 48)):
        e = points[eye]
        assert e[0, 0] == e[:, 0].min() and e[3, 0] == e[:, 0].max()  # left and right corners
        assert e[1, 1] < e[5, 1] and e[2, 1] < e[4, 1]  # upper lid above lower lid
    assert x[36:42].mean() < x[42:48].mean()
    assert x[48] < x[51] < x[54] and y[51] < y[57] and x[55] > x[59]


# -------------------------------------------------------------------------------------- the pose transforms
def test_in_plane_pose_is_a_similarity_of_the_frontal_face():
    params = _faces(3)[2]
    size = 128
    frontal = render(params, size=size)
    pose = Pose(roll=20.0, scale=0.9, shift=(0.06, -0.04))
    posed = render(params, size=size, pose=pose)
    # The similarity from the frontal to the posed landmarks, fitted by least squares: z' = a z + b (complex numbers).
    z = frontal.landmarks[:, 0] + 1j * frontal.landmarks[:, 1]
    z_posed = posed.landmarks[:, 0] + 1j * posed.landmarks[:, 1]
    design = np.stack([z, np.ones_like(z)], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, z_posed, rcond=None)
    assert np.abs(design @ np.array([a, b]) - z_posed).max() < 1e-9
    assert abs(abs(a) - 0.9) < 1e-12
    assert math.degrees(np.angle(a)) == pytest.approx(-20.0, abs=1e-9)  # counter-clockwise as seen, y down
    # The label map is the frontal one warped by the same similarity (nearest neighbour, by hand): exact wherever
    # the frontal neighbourhood of the pulled-back pixel centre is one label.
    rows, cols = np.mgrid[0:size, 0:size]
    pulled = ((cols + 1j * rows) - b) / a
    fx, fy = np.round(pulled.real).astype(int), np.round(pulled.imag).astype(int)
    inside = (fx >= 1) & (fx < size - 1) & (fy >= 1) & (fy < size - 1)
    padded = np.pad(frontal.labels, 1, mode="edge")
    neighbourhood = np.stack(
        [padded[1 + dy : 1 + dy + size, 1 + dx : 1 + dx + size] for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    )
    uniform = (neighbourhood == neighbourhood[4]).all(0)
    sure = inside & uniform[fy.clip(0, size - 1), fx.clip(0, size - 1)]
    assert sure.sum() > 0.8 * inside.sum()
    assert np.array_equal(posed.labels[sure], frontal.labels[fy[sure], fx[sure]])
    assert (posed.labels[inside] == frontal.labels[fy[inside], fx[inside]]).mean() > 0.97


@pytest.mark.parametrize("yaw", [-35.0, -15.0, 20.0, 35.0])
def test_a_turn_moves_landmarks_as_a_sphere_turned_about_its_vertical_axis(yaw):
    """Each row of the head is a circle (the head is as deep as it is wide) of radius r(y) = a sqrt(1 - (y/b)^2)
    about the head's centre (cx, cy - 0.04), a = rx + 0.05, b = ry + 0.06: a frontal point at x moves to
    r sin(asin(x / r) + yaw) on the same row; points that turn past the outline are not compared."""
    params = _faces(2)[1]
    size = 256
    frontal = render(params, size=size).landmarks
    turned = render(params, size=size, pose=Pose(yaw=yaw)).landmarks
    centre = np.array([params.cx, params.cy - 0.04]) * size - 0.5
    a, b = (params.rx + 0.05) * size, (params.ry + 0.06) * size
    x, y = (frontal - centre).T
    r = a * np.sqrt(1 - (y / b) ** 2)
    angle = np.arcsin(x / r) + math.radians(yaw)
    visible = np.abs(angle) < math.pi / 2
    assert visible[17:].all()  # everything but the far jaw stays in sight
    expected_x = r * np.sin(angle) + centre[0]
    np.testing.assert_allclose(turned[visible, 0], expected_x[visible], atol=1e-6)
    np.testing.assert_allclose(turned[:, 1], frontal[:, 1], atol=1e-6)  # rows stay, hidden points slide along them


def _width(labels: np.ndarray, label: int) -> int:
    cols = np.nonzero((labels == label).any(axis=0))[0]
    return int(cols.max() - cols.min() + 1) if len(cols) else 0


def _centre_x(labels: np.ndarray, label: int) -> float:
    return float(np.nonzero(labels == label)[1].mean())


def test_a_turn_foreshortens_the_far_side_and_moves_everything_toward_it():
    for params in _faces(4, seed=5):
        frontal = render(params, size=128).labels
        ratios = []
        for yaw in (15.0, 25.0, 35.0):
            turned = render(params, size=128, pose=Pose(yaw=yaw)).labels
            near, far = _width(turned, R.LEFT_EYE), _width(turned, R.RIGHT_EYE)  # yaw > 0: image-right is far
            assert far < near, yaw
            ratios.append(far / near)
            for label in (R.LEFT_EYE, R.RIGHT_EYE, R.NOSE, R.UPPER_LIP):
                assert _centre_x(turned, label) > _centre_x(frontal, label) + 2
            assert (turned == R.LEFT_EAR).sum() > (frontal == R.LEFT_EAR).sum()  # the near ear turns into view
            # the far brow and lip half are narrower than the near ones too
            assert _width(turned, R.RIGHT_BROW) < _width(turned, R.LEFT_BROW)
            lips = np.isin(turned, [R.UPPER_LIP, R.LOWER_LIP])
            mouth_x = _centre_x(turned, R.NOSE)
            columns = np.nonzero(lips.any(axis=0))[0]
            assert columns.max() - mouth_x < mouth_x - columns.min()
        assert ratios == sorted(ratios, reverse=True) and ratios[-1] < 0.7
        assert (render(params, size=128, pose=Pose(yaw=35.0)).labels == R.RIGHT_EAR).sum() == 0  # far ear hidden
        mirrored = render(params, size=128, pose=Pose(yaw=-25.0)).labels
        assert _width(mirrored, R.LEFT_EYE) < _width(mirrored, R.RIGHT_EYE)


def test_a_nod_moves_features_up_and_down():
    params = _faces(1)[0]
    frontal = render(params, size=128)
    up = render(params, size=128, pose=Pose(pitch=15.0))
    down = render(params, size=128, pose=Pose(pitch=-15.0))
    assert np.all(up.landmarks[27:, 1] < frontal.landmarks[27:, 1])
    assert np.all(down.landmarks[27:, 1] > frontal.landmarks[27:, 1])


# -------------------------------------------------------------------------------------------------- expression
def test_an_open_mouth_separates_the_lips_by_its_stated_gap():
    for params in _faces(4, seed=6):
        size = 256
        for opening in (0.5, 1.0):
            face = render(params, size=size, pose=Pose(mouth_open=opening))
            col = int(round(face.landmarks[[51, 57, 62, 66], 0].mean()))
            column = face.labels[:, col]
            upper, lower = np.nonzero(column == R.UPPER_LIP)[0], np.nonzero(column == R.LOWER_LIP)[0]
            gap = column[upper.max() + 1 : lower.min()]
            assert len(gap) > 0 and (gap == R.TEETH).all()  # the mouth's inside carries the TEETH label
            expected = 1.4 * params.mouth_ry * size * opening  # OPEN_GAP lip thicknesses at the centre
            assert abs(len(gap) - expected) <= 1.0
            # a light band of teeth under the upper lip, then the dark inside
            image = render(params, size=size, pose=Pose(mouth_open=opening)).image[:, col].astype(float)
            gap_rows = np.arange(upper.max() + 1, lower.min())
            assert image[gap_rows[0]].mean() > 180 and image[gap_rows[-1]].mean() < 90
        closed = render(replace(params, teeth=False), size=size).labels[:, col]
        rows = np.nonzero(np.isin(closed, [R.UPPER_LIP, R.LOWER_LIP]))[0]
        assert closed[rows.min()] == R.UPPER_LIP and (np.diff(rows) == 1).all()  # closed: no gap


def test_a_smile_raises_the_mouth_corners_by_its_stated_lift():
    params = replace(_faces(1, seed=8)[0], teeth=False)
    size = 256
    neutral = render(params, size=size).labels
    smiling = render(params, size=size, pose=Pose(smile=1.0)).labels
    half_width = params.mouth_rx * 1.1 * size  # 10% wider

    def meeting_row(labels: np.ndarray, col: int) -> float:
        """Where upper lip turns to lower lip in a column (half a pixel below the last upper-lip row)."""
        column = labels[:, col]
        return float(np.nonzero(column == R.UPPER_LIP)[0].max()) + 0.5

    centre_col = params.cx * size - 0.5
    for t in (0.0, 0.4, 0.7):
        col = int(round(centre_col + t * half_width))
        t_exact = (col - centre_col) / half_width
        lift = 0.8 * params.mouth_ry * size * t_exact**2  # SMILE_LIFT lip thicknesses at the corners
        assert meeting_row(smiling, col) == pytest.approx(meeting_row(neutral, col) - lift, abs=1.0)
    assert _width(smiling, R.UPPER_LIP) > _width(neutral, R.UPPER_LIP)


# ---------------------------------------------------------------------------------- the same face, many poses
def test_the_same_face_renders_under_several_poses_and_without_makeup():
    params = _faces(2)[1]
    assert params.makeup is not None
    bare = replace(params, makeup=None)
    for pose in (Pose(), Pose(yaw=20.0), Pose(roll=15.0, mouth_open=1.0)):
        made_up, plain = render(params, size=64, pose=pose), render(bare, size=64, pose=pose)
        assert np.array_equal(made_up.labels, plain.labels) and np.array_equal(made_up.landmarks, plain.landmarks)
        lips = np.isin(made_up.labels, [R.UPPER_LIP, R.LOWER_LIP])
        assert np.abs(made_up.image[lips].astype(int) - plain.image[lips]).mean() > 30
    again = render(params, size=64, pose=Pose(yaw=20.0), noise=np.random.default_rng(0))
    assert np.array_equal(
        again.image, render(params, size=64, pose=Pose(yaw=20.0), noise=np.random.default_rng(0)).image
    )


@pytest.mark.parametrize("yaw", [35.0, -35.0])
def test_jaw_points_a_turn_hides_slide_along_their_row_to_the_outline(yaw):
    """Hidden: the turned sphere's angle asin(x / r) + yaw is past 90 degrees (see the test above)."""
    size, hidden_count = 128, 0
    for params in _faces(6):
        frontal = render(params, size=size).landmarks
        face = render(params, size=size, pose=Pose(yaw=yaw))
        centre = np.array([params.cx, params.cy - 0.04]) * size - 0.5
        a, b = (params.rx + 0.05) * size, (params.ry + 0.06) * size
        x, y = (frontal[JAW] - centre).T
        r = a * np.sqrt(1 - (y / b) ** 2)
        hidden = np.abs(np.arcsin(x / r) + math.radians(yaw)) >= math.pi / 2
        hidden_count += hidden.sum()
        for i in np.nonzero(hidden)[0]:
            px, py = face.landmarks[i]
            assert py == pytest.approx(frontal[i, 1], abs=1e-9)
            assert px == pytest.approx(centre[0] + math.copysign(r[i], yaw), abs=1e-6)  # the row's outline
            face_cols = np.nonzero(face.labels[int(round(py))] == R.FACE)[0]
            edge = face_cols.max() if yaw > 0 else face_cols.min()
            assert abs(px - edge) <= 1.5, i
        assert _off_label(face.labels, face.landmarks, tolerance=0) == []
    assert hidden_count >= 3


# --------------------------------------------------------------------------------- random poses and validation
def test_random_poses_stay_in_their_stated_ranges_and_reach_them():
    rng = np.random.default_rng(0)
    poses = [random_pose(rng, 1.0) for _ in range(2000)]
    for name, widest in (("roll", 25.0), ("yaw", 35.0), ("pitch", 15.0)):
        values = np.abs([getattr(p, name) for p in poses])
        assert values.max() <= widest and values.max() > 0.98 * widest
    scales = np.array([p.scale for p in poses])
    assert scales.min() >= 0.85 and scales.max() <= 1.15 and scales.min() < 0.86 and scales.max() > 1.14
    shifts = np.abs([p.shift for p in poses])
    assert shifts.max() <= 0.08 and shifts.max() > 0.078
    for name in ("mouth_open", "smile"):
        values = np.array([getattr(p, name) for p in poses])
        assert values.min() == 0 and values.max() <= 1 and 0.4 < (values == 0).mean() < 0.6
    half = [random_pose(np.random.default_rng(0), 0.5) for _ in range(1)][0]
    assert half.yaw == pytest.approx(poses[0].yaw / 2)
    assert random_pose(np.random.default_rng(3), 0.0).is_frontal


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"yaw": 90.0}, ValueError, "yaw must be in (-90, 90) degrees, got 90.0"),
        ({"mouth_open": 1.5}, ValueError, "mouth_open must be in [0, 1], got 1.5"),
        ({"smile": -0.1}, ValueError, "smile must be in [0, 1], got -0.1"),
        ({"scale": 0.0}, ValueError, "scale must be in (0, 10], got 0.0"),
        ({"roll": float("nan")}, ValueError, "roll must be finite, got nan"),
        ({"pitch": "up"}, TypeError, "pitch must be a number, got str"),
        ({"shift": 0.1}, TypeError, "shift must be an (x, y) pair, got 0.1"),
    ],
)
def test_bad_poses_are_refused(kwargs, error, message):
    with pytest.raises(error) as caught:
        Pose(**kwargs)
    assert str(caught.value) == message


def test_bad_amounts_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"amount must be in \[0, 1\], got 1.5"):
        random_pose(np.random.default_rng(0), 1.5)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator, got int"):
        random_pose(0, 0.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"pose must be a number in \[0, 1\], got -0.5"):
        write_synthetic_mt(tmp_path / "mt", n=2, size=16, held_out=1, pose=-0.5)
    assert not (tmp_path / "mt").exists()


# ------------------------------------------------------------------------------------------ the landmark files
def test_writer_emits_each_images_landmarks_with_its_hash(tmp_path):
    root = write_synthetic_mt(tmp_path / "mt", n=3, size=128, held_out=1, seed=2, pose=1.0)
    count = 0
    for domain in ("makeup", "non-makeup"):
        for image_path in sorted((root / "images" / domain).glob("*.png")):
            record = json.loads((root / "landmarks" / domain / f"{image_path.name}.json").read_text())
            assert set(record) == {"image_sha256", "source", "points"}
            assert record["image_sha256"] == hashlib.sha256(image_path.read_bytes()).hexdigest()
            assert record["source"] == "synthetic"
            points = np.array(record["points"])
            assert points.shape == (68, 2) and all(isinstance(v, float) for pair in record["points"] for v in pair)
            labels = np.asarray(Image.open(root / "segs" / domain / image_path.name))
            assert _off_label(labels, points, tolerance=0) == []
            count += 1
    assert count == 6 and not list(root.rglob(".*.tmp"))
    # pose 0: the points are the frontal faces' own, in order
    frontal = write_synthetic_mt(tmp_path / "frontal", n=2, size=32, held_out=1, seed=2)
    rng = np.random.default_rng(2)
    for name in ("mk_0000.png", "mk_0001.png"):
        expected = render_face(rng, 32, makeup=True).landmarks
        record = json.loads((frontal / "landmarks" / "makeup" / f"{name}.json").read_text())
        np.testing.assert_array_equal(np.array(record["points"]), expected)


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan", "wide"])
def test_cli_refuses_a_pose_outside_0_1_with_one_line(tmp_path, capsys, value):
    from beautygan.cli import main

    out = tmp_path / "mt"
    assert main(["synthetic", str(out), "--n", "2", "--size", "16", "--pose", value]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("beautygan synthetic: error: argument --pose: ")
    assert value in lines[0] and not out.exists()


def test_cli_writes_posed_faces(tmp_path, capsys):
    from beautygan.cli import main

    assert (
        main(["synthetic", str(tmp_path / "mt"), "--n", "2", "--size", "32", "--held-out", "1", "--pose", "0.5"]) == 0
    )
    assert "posed up to 0.5" in capsys.readouterr().out
    assert len(list((tmp_path / "mt" / "landmarks").rglob("*.png.json"))) == 4
