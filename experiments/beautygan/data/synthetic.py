"""A synthetic MT-layout dataset: procedural faces with face-parsing label maps, their 68 landmarks, poses, and
"makeup" as colour changes.

Every face has the MT labels (:class:`~beautygan.data.regions.FaceRegion`) at random positions and sizes;
non-makeup faces have natural lips and bare skin, makeup faces get vivid lipstick, eye shadow around the eyes
(inside the region BeautyGAN's eye-shadow mask covers), foundation and blush. Enough for the demo and the tests to
run anywhere, and for a short CPU training run to show a measurable lip-colour transfer.

A face is drawn in two steps: :meth:`FaceParams.draw` draws who it is (shape, skin, hair, makeup colours) and
:func:`render` draws it at a size under a :class:`~beautygan.data.synthetic_pose.Pose`, so the same face can be drawn
under several poses. :func:`render_face` does both from one random generator, in the order the frontal writer has
always drawn: with the frontal pose, images and label maps are bit for bit the ones it wrote before poses existed,
so existing data sets, configs and figures are unchanged.

**Landmarks.** Each face comes with the 68 points of the iBUG 300-W markup in dlib's order (jaw 0-16, brows 17-26,
nose 27-35, eyes 36-47, outer lips 48-59, inner lips 60-67; "left"/"right" in the image, as in
:mod:`beautygan.data.faces`: points 36-41 are the image-left eye, ``FaceRegion.LEFT_EYE``). They are computed from the
parameters the label map is drawn from and placed *on* the feature they name: lip points inside the lip labels (the
outer points a third of the way in from the outer edge, the inner points a third of the way in from the inner
edge; the corners where the lips meet, or in the lower lip when teeth or an open mouth part them), eye and brow
points inside the eye and brow labels (brows along their middle), nose points inside the nose, jaw points just
inside the face's outline (at 95% of its radii; a jaw point a turn hides slides along its row to the visible
outline, as the 300-W markup places self-occluded jaw points). From 128 px up every point's pixel carries its label;
at 64 px a lip or a brow can be a single row of pixels and a point may fall a pixel off it. Coordinates are pixels,
``x`` right, ``y`` down, with dlib's convention that the centre of pixel ``(0, 0)`` is ``(0, 0)`` (pixel ``i`` spans
``[i - 0.5, i + 0.5)``).

**Poses** (:mod:`beautygan.data.synthetic_pose`): in-plane rotation, scale and shift, a turn (yaw) and nod (pitch) of an
ellipsoidal head, an open mouth and a smile. Every pixel is inverse-mapped into the frontal face, so labels and
colours follow the pose exactly, and landmarks are mapped forward with the exact inverse of that mapping. The turned
head keeps its outline; the backdrop and the neck stay (they do not turn with the head); the back of the head, seen
past the near side, is hair down to the ears' lower end. An open mouth separates the lips: the gap carries the
TEETH label throughout, a light band of teeth under the upper lip and a dark mouth interior below it. MT has no
mouth-interior label; TEETH is the one that keeps the gap out of every makeup region (not lips, so no lipstick
is asked there; not skin, so foundation and the skin histogram ignore it; not background, so it does not count as
background change) and it is what :func:`beautygan.data.faces.label_map_from_landmarks` gives an open mouth's inside on
photos, so synthetic and photo label maps agree.

    beautygan synthetic data/synthetic_mt --n 64 --size 64 [--pose 0.5]

The writer also emits ``landmarks/<domain>/<image file name>.json``: ``{"image_sha256": <hex digest of the image
file's bytes>, "source": "synthetic", "points": [[x, y], ... 68 pairs]}``.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from .landmarks import write_landmarks
from .regions import FaceRegion
from .synthetic_pose import Pose, PosedHead, random_pose

__all__ = ["FaceParams", "Makeup", "SyntheticFace", "render", "render_face", "write_synthetic_mt"]

LIPSTICKS = np.array(
    [[200, 20, 40], [140, 10, 60], [235, 80, 140], [250, 110, 80], [120, 40, 150], [180, 30, 30]], dtype=np.float32
)
BACKDROP = np.array([196.0, 200.0, 206.0])
"""The studio backdrop every face is drawn on (with a vertical gradient and noise). A fixed backdrop, not a random
flat colour: BeautyGAN's generator instance-normalizes its first features, which removes each image's mean colour,
so the absolute colour of a flat background is recoverable only from the zero-padded border; the network learns
that far more slowly than a CPU demo trains (photos carry their colours in texture and content instead)."""
EYE_SHADOWS = np.array([[150, 80, 160], [90, 60, 40], [60, 110, 170], [200, 120, 60], [170, 60, 90]], dtype=np.float32)
MOUTH_INSIDE = np.array([70.0, 22.0, 28.0])
"""The dark inside of an open mouth (labelled TEETH, see the module docstring)."""

SMILE_LIFT = 0.8
"""A full smile raises the mouth corners by this many lip thicknesses (``mouth_ry``)."""
SMILE_WIDEN = 0.1
"""A full smile widens the mouth by this fraction."""
OPEN_GAP = 1.4
"""A fully open mouth parts the lips by this many lip thicknesses at the centre."""
OPEN_UPPER_SHARE = 0.3
"""Share of the opening by which the upper lip rises (the lower lip, with the jaw, takes the rest)."""
TEETH_SHARE = 0.35
"""Share of the opening, under the upper lip, that shows teeth."""
JAW_RADIUS = 0.95
"""Jaw landmarks lie on the face's ellipse shrunk to this share of its radii."""
LIP_DEPTH = 1 / 3
"""Lip landmarks lie this share of the lip's thickness in from the contour they trace."""
PRESENT = frozenset(FaceRegion) - {FaceRegion.BACKGROUND, FaceRegion.NECK}
"""Labels that belong to the head (the backdrop and the neck are seen through it where it has none)."""


@dataclass(frozen=True, kw_only=True, eq=False)
class Makeup:
    """The makeup colours of a face: lipstick and eye shadow, RGB 0-255."""

    lipstick: np.ndarray
    shadow: np.ndarray


@dataclass(frozen=True, kw_only=True, eq=False)
class FaceParams:
    """Who a synthetic face is, independent of its pose and size: positions and radii as fractions of the image side
    (frontal face), colours RGB 0-255, ``makeup`` ``None`` for a bare face (``dataclasses.replace(params,
    makeup=None)`` draws the same face without makeup)."""

    cx: float
    cy: float
    rx: float
    ry: float
    eye_dx: float
    eye_y: float
    eye_rx: float
    eye_ry: float
    mouth_y: float
    mouth_rx: float
    mouth_ry: float
    teeth: bool
    """A line of teeth between the closed lips."""
    skin: np.ndarray
    """float32 RGB, as drawn (the pixels' rounding depends on the dtype)."""
    hair: np.ndarray
    makeup: Makeup | None

    @classmethod
    def draw(cls, rng: np.random.Generator, *, makeup: bool) -> FaceParams:
        """Draw a face from ``rng``. These draws, in this order and with these dtypes, are what every written data
        set depends on: changing them changes every face."""
        cx, cy = 0.5 + rng.uniform(-0.05, 0.05), 0.47 + rng.uniform(-0.04, 0.04)
        rx, ry = rng.uniform(0.25, 0.3), rng.uniform(0.31, 0.36)
        eye_dx, eye_y = rng.uniform(0.1, 0.13), cy - rng.uniform(0.04, 0.08)
        eye_rx, eye_ry = rng.uniform(0.045, 0.06), rng.uniform(0.018, 0.028)
        mouth_y, mouth_rx, mouth_ry = cy + rng.uniform(0.18, 0.22), rng.uniform(0.08, 0.12), rng.uniform(0.03, 0.045)
        teeth = bool(rng.random() < 0.3)
        skin = np.array([rng.uniform(170, 240), rng.uniform(120, 190), rng.uniform(90, 160)], dtype=np.float32)
        hair = rng.uniform(10, 90) * np.array([1.0, 0.8, 0.6])
        colours = None
        if makeup:
            lipstick = LIPSTICKS[rng.integers(len(LIPSTICKS))] + rng.uniform(-15, 15, 3)
            colours = Makeup(lipstick=lipstick, shadow=EYE_SHADOWS[rng.integers(len(EYE_SHADOWS))])
        return cls(
            cx=cx, cy=cy, rx=rx, ry=ry, eye_dx=eye_dx, eye_y=eye_y, eye_rx=eye_rx, eye_ry=eye_ry, mouth_y=mouth_y,
            mouth_rx=mouth_rx, mouth_ry=mouth_ry, teeth=teeth, skin=skin, hair=hair, makeup=colours,
        )  # fmt: skip

    @property
    def head_centre(self) -> tuple[float, float]:
        """Centre of the head's ellipsoid, which the hair's ellipse outlines (the pose turns the head about it)."""
        return self.cx, self.cy - 0.04

    @property
    def head_axes(self) -> tuple[float, float, float]:
        """Semi-axes of the head's ellipsoid: the hair's ellipse across and down, as deep as it is wide (a turn
        then keeps the head's outline). Face, ears and hair lie inside its outline."""
        return self.rx + 0.05, self.ry + 0.06, self.rx + 0.05

    @property
    def face_centre(self) -> tuple[float, float]:
        return self.cx, self.cy + 0.02


class SyntheticFace(NamedTuple):
    """A rendered face: ``image`` uint8 ``(size, size, 3)``, ``labels`` uint8 ``(size, size)`` (MT ids), ``landmarks``
    float64 ``(68, 2)`` (pixels, dlib's order and convention; see the module docstring)."""

    image: np.ndarray
    labels: np.ndarray
    landmarks: np.ndarray


def _ellipse(u: np.ndarray, v: np.ndarray, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    return ((u - cx) / rx) ** 2 + ((v - cy) / ry) ** 2 <= 1.0


class _Mouth(NamedTuple):
    """The mouth under an expression, in its own frame: ``t = (u - cx) / half_width`` across, ``w`` down from the
    (smile-curved) line between the lips, ``e = sqrt(1 - t^2)``. Lips are ``mouth_ry * e`` thick; the upper lip
    rises by ``rise * e``, the lower drops by ``drop * e``."""

    half_width: float
    lift: float
    rise: float
    drop: float
    teeth_line: float
    """Half-thickness of the closed mouth's line of teeth (0: none)."""

    @classmethod
    def of(cls, p: FaceParams, pose: Pose, size: int) -> _Mouth:
        gap = OPEN_GAP * p.mouth_ry * pose.mouth_open
        teeth_line = 0.006 + 0.5 / size if p.teeth and gap == 0 else 0.0
        return cls(
            p.mouth_rx * (1 + SMILE_WIDEN * pose.smile),
            SMILE_LIFT * p.mouth_ry * pose.smile,
            OPEN_UPPER_SHARE * gap,
            (1 - OPEN_UPPER_SHARE) * gap,
            teeth_line,
        )

    def frame(self, p: FaceParams, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = (u - p.cx) / self.half_width
        w = v - p.mouth_y
        if self.lift:
            w = w + self.lift * t**2
        e = np.sqrt(np.clip(1 - t**2, 0, None)) if self.rise or self.drop else np.zeros_like(t)
        return t, w, e

    def point(self, p: FaceParams, t: float, w: float) -> tuple[float, float]:
        return p.cx + t * self.half_width, p.mouth_y - self.lift * t**2 + w


def _draw_labels(p: FaceParams, pose: Pose, u: np.ndarray, v: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The frontal face's labels at canonical points ``(u, v)``, and where the dark inside of an open mouth is."""
    cx, cy, rx, ry = p.cx, p.cy, p.rx, p.ry
    labels = np.zeros(u.shape, dtype=np.uint8)
    labels[(np.abs(u - cx) < 0.11) & (v > cy + 0.2)] = FaceRegion.NECK
    hair = _ellipse(u, v, cx, cy - 0.04, rx + 0.05, ry + 0.06) & (v < cy - 0.05)
    labels[hair] = FaceRegion.HAIR
    labels[_ellipse(u, v, cx - rx, cy, 0.04, 0.07)] = FaceRegion.LEFT_EAR
    labels[_ellipse(u, v, cx + rx, cy, 0.04, 0.07)] = FaceRegion.RIGHT_EAR
    labels[_ellipse(u, v, cx, cy + 0.02, rx, ry) & ~(hair & (v < cy - 0.2))] = FaceRegion.FACE
    for sign, brow, eye in (
        (-1, FaceRegion.LEFT_BROW, FaceRegion.LEFT_EYE),
        (1, FaceRegion.RIGHT_BROW, FaceRegion.RIGHT_EYE),
    ):
        labels[_ellipse(u, v, cx + sign * p.eye_dx, p.eye_y - 0.07, p.eye_rx + 0.01, 0.012)] = brow
        labels[_ellipse(u, v, cx + sign * p.eye_dx, p.eye_y, p.eye_rx, p.eye_ry)] = eye
    labels[_ellipse(u, v, cx, cy + 0.06, 0.035, 0.07)] = FaceRegion.NOSE
    mouth = _Mouth.of(p, pose, size)
    t, w, e = mouth.frame(p, u, v)
    upper_w = w + mouth.rise * e if mouth.rise else w
    lower_w = w - mouth.drop * e if mouth.drop else w
    upper = (t**2 + (upper_w / p.mouth_ry) ** 2 <= 1.0) & (upper_w < 0)
    lower = (t**2 + (lower_w / p.mouth_ry) ** 2 <= 1.0) & (lower_w >= 0)
    labels[upper] = FaceRegion.UPPER_LIP
    labels[lower] = FaceRegion.LOWER_LIP
    dark = np.zeros(u.shape, dtype=bool)
    if mouth.rise or mouth.drop:
        inside = (t**2 < 1) & (upper_w >= 0) & (lower_w < 0)
        labels[inside] = FaceRegion.TEETH
        dark = inside & (upper_w >= TEETH_SHARE * (mouth.rise + mouth.drop) * e)
    elif mouth.teeth_line:
        labels[(upper | lower) & (np.abs(w) < mouth.teeth_line)] = FaceRegion.TEETH
    return labels, dark


def _paint(p: FaceParams, labels: np.ndarray, dark: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Colours (float, before noise) of labelled canonical points ``(u, v)``."""
    cx, cy, skin = p.cx, p.cy, p.skin
    palette = {
        FaceRegion.BACKGROUND: BACKDROP,
        FaceRegion.FACE: skin,
        FaceRegion.NOSE: skin * 0.97,
        FaceRegion.NECK: skin * 0.9,
        FaceRegion.LEFT_EAR: skin * 0.95,
        FaceRegion.RIGHT_EAR: skin * 0.95,
        FaceRegion.HAIR: p.hair,
        FaceRegion.LEFT_BROW: np.array([40.0, 30.0, 25.0]),
        FaceRegion.RIGHT_BROW: np.array([40.0, 30.0, 25.0]),
        FaceRegion.LEFT_EYE: np.array([30.0, 25.0, 20.0]),
        FaceRegion.RIGHT_EYE: np.array([30.0, 25.0, 20.0]),
        FaceRegion.TEETH: np.array([235.0, 230.0, 220.0]),
        FaceRegion.UPPER_LIP: skin * np.array([0.85, 0.55, 0.55]),
        FaceRegion.LOWER_LIP: skin * np.array([0.88, 0.58, 0.58]),
    }
    image = np.zeros((*labels.shape, 3), dtype=np.float32)
    for label, colour in palette.items():
        image[labels == label] = colour
    image[dark] = MOUTH_INSIDE
    face_like = np.isin(labels, [FaceRegion.FACE, FaceRegion.NOSE])
    if p.makeup is not None:
        is_lip = np.isin(labels, [FaceRegion.UPPER_LIP, FaceRegion.LOWER_LIP])
        image[is_lip] = p.makeup.lipstick
        for eye_cx in (cx - p.eye_dx, cx + p.eye_dx):
            # Strongest just around the eye, fading out over about the eye-shadow mask's box.
            d = np.sqrt(((u - eye_cx) / (p.eye_rx + 0.04)) ** 2 + ((v - p.eye_y) / (p.eye_ry + 0.04)) ** 2)
            alpha = (np.clip(1.2 - d, 0, 1) * 0.75 * face_like)[..., None]
            image = image * (1 - alpha) + p.makeup.shadow * alpha
        skin_mask = np.isin(labels, [FaceRegion.FACE, FaceRegion.NOSE, FaceRegion.NECK])[..., None]
        image = np.where(skin_mask, image * 0.85 + np.array([250, 215, 200]) * 0.15, image)
        for cheek_cx in (cx - 0.15, cx + 0.15):
            blush = (np.clip(1 - np.hypot((u - cheek_cx) / 0.07, (v - cy - 0.08) / 0.05), 0, 1) * 0.35 * face_like)[
                ..., None
            ]
            image = image * (1 - blush) + np.array([230, 100, 110]) * blush
    backdrop = (labels == FaceRegion.BACKGROUND)[..., None]
    image = np.where(backdrop, image * (1.08 - 0.16 * v[..., None]), image)  # lighter at the top
    shading = 1.0 - 0.25 * np.clip(np.hypot(u - cx + 0.1, v - cy + 0.1), 0, 1)[..., None]
    return image * shading


def _landmarks(p: FaceParams, pose: Pose, size: int) -> np.ndarray:
    """The 68 landmarks of the frontal face under ``pose``'s expression, canonical ``(u, v)`` (see the module
    docstring for where each lies)."""
    points: list[tuple[float, float]] = []
    fx, fy = p.face_centre
    for angle in np.linspace(math.pi + math.radians(10), -math.radians(10), 17):  # jaw: image-left, chin, right
        points.append((fx + JAW_RADIUS * p.rx * math.cos(angle), fy + JAW_RADIUS * p.ry * math.sin(angle)))
    for sign in (-1, 1):  # brows, each left to right along its middle
        points += [
            (p.cx + sign * p.eye_dx + t * (p.eye_rx + 0.01), p.eye_y - 0.07) for t in (-0.7, -0.35, 0, 0.35, 0.7)
        ]
    points += [(p.cx, p.cy + 0.06 + f * 0.07) for f in (-0.75, -0.4, -0.05, 0.3)]  # bridge, down to the tip
    points += [(p.cx + f * 0.035 * 0.8, p.cy + 0.06 + 0.6 * 0.07) for f in (-0.6, -0.3, 0, 0.3, 0.6)]  # nostrils
    for sign in (-1, 1):  # eyes: left end, upper lid, right end, lower lid (clockwise as seen)
        ex = p.cx + sign * p.eye_dx
        lid = 0.45 * p.eye_ry * math.sqrt(1 - 0.3**2)
        for t, w in ((-0.7, 0), (-0.3, -lid), (0.3, -lid), (0.7, 0), (0.3, lid), (-0.3, lid)):
            points.append((ex + t * p.eye_rx, p.eye_y + w))
    mouth = _Mouth.of(p, pose, size)

    def band(t: float) -> tuple[float, float, float, float]:
        """``w`` of the upper lip's outer and inner edges and the lower lip's inner and outer edges at ``t``."""
        e = math.sqrt(1 - t**2)
        inner_up, inner_down = max(mouth.rise * e, mouth.teeth_line), max(mouth.drop * e, mouth.teeth_line)
        return -(mouth.rise + p.mouth_ry) * e, -inner_up, inner_down, (mouth.drop + p.mouth_ry) * e

    def corner(t: float) -> tuple[float, float]:
        """Where closed lips meet, else the middle of the lower lip (teeth or an open mouth part them)."""
        _, inner_up, inner_down, outer_down = band(t)
        return mouth.point(p, t, 0.0 if inner_up == inner_down == 0 else (inner_down + outer_down) / 2)

    def on_lip(t: float, where: str) -> tuple[float, float]:
        outer_up, inner_up, inner_down, outer_down = band(t)
        w = {
            "outer upper": outer_up + LIP_DEPTH * (inner_up - outer_up),
            "inner upper": inner_up - LIP_DEPTH * (inner_up - outer_up),
            "inner lower": inner_down + LIP_DEPTH * (outer_down - inner_down),
            "outer lower": outer_down - LIP_DEPTH * (outer_down - inner_down),
        }[where]
        return mouth.point(p, t, w)

    points.append(corner(-0.7))  # 48
    points += [on_lip(t, "outer upper") for t in (-0.5, -0.25, 0, 0.25, 0.5)]  # 49-53
    points.append(corner(0.7))  # 54
    points += [on_lip(t, "outer lower") for t in (0.5, 0.25, 0, -0.25, -0.5)]  # 55-59
    points.append(corner(-0.55))  # 60
    points += [on_lip(t, "inner upper") for t in (-0.3, 0, 0.3)]  # 61-63
    points.append(corner(0.55))  # 64
    points += [on_lip(t, "inner lower") for t in (0.3, 0, -0.3)]  # 65-67
    return np.array(points, dtype=np.float64)


def render(
    params: FaceParams, *, size: int, pose: Pose | None = None, noise: np.random.Generator | None = None
) -> SyntheticFace:
    """Draw the face ``params`` at ``size x size`` pixels under ``pose`` (default: frontal).

    ``noise``: where the pixel noise (Gaussian, sigma 4) is drawn from; ``None`` draws none. Label maps and landmarks
    do not depend on it."""
    if not isinstance(params, FaceParams):
        raise TypeError(f"params must be FaceParams, got {type(params).__name__}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"size must be an integer >= 8, got {size!r}")
    pose = Pose.frontal() if pose is None else pose
    if not isinstance(pose, Pose):
        raise TypeError(f"pose must be a Pose, got {type(pose).__name__}")
    size = int(size)
    canonical = _landmarks(params, pose, size)
    if not pose.moves_head:
        coords = (np.arange(size, dtype=np.float32) + 0.5) / size
        u, v = np.meshgrid(coords, coords)  # u: x (columns), v: y (rows)
        labels, dark = _draw_labels(params, pose, u, v, size)
        landmarks = canonical * size - 0.5
    else:
        head = PosedHead(pose, centre=params.head_centre, axes=params.head_axes)
        coords = (np.arange(size, dtype=np.float64) + 0.5) / size
        grid = np.stack(np.meshgrid(coords, coords), axis=-1)
        on_head, side = head.surface(grid)
        labels, dark = _draw_labels(params, pose, on_head[..., 0], on_head[..., 1], size)
        back_hair = (side == PosedHead.BACK) & (on_head[..., 1] < params.cy + 0.07)
        labels[back_hair] = FaceRegion.HAIR
        see_through = ~back_hair & ((side != PosedHead.FRONT) | ~np.isin(labels, list(PRESENT)))
        flat = head.flat(grid)
        flat_labels = np.where(
            (np.abs(flat[..., 0] - params.cx) < 0.11) & (flat[..., 1] > params.cy + 0.2),
            FaceRegion.NECK,
            FaceRegion.BACKGROUND,
        ).astype(np.uint8)
        labels = np.where(see_through, flat_labels, labels)
        dark &= side == PosedHead.FRONT
        u, v = np.moveaxis(np.where(see_through[..., None], flat, on_head), -1, 0)
        # A hidden point slides along its row toward the face's midline (the 300-W outline convention), or toward
        # the face's centre where a nod hides the midline too.
        toward = np.stack([np.full(len(canonical), params.cx), canonical[:, 1]], axis=1)
        toward[~head.visible(toward)] = params.face_centre
        landmarks = head.project(canonical, toward=toward) * size - 0.5
    image = _paint(params, labels, dark, u, v)
    if noise is not None:
        image = image + noise.normal(0, 4, image.shape)
    return SyntheticFace(np.clip(image, 0, 255).astype(np.uint8), labels, landmarks)


def render_face(rng: np.random.Generator, size: int, *, makeup: bool, pose: Pose | None = None) -> SyntheticFace:
    """One random face: :meth:`FaceParams.draw` then :func:`render` with pixel noise from the same ``rng``."""
    return render(FaceParams.draw(rng, makeup=makeup), size=size, pose=pose, noise=rng)


def write_synthetic_mt(
    root: str | Path, *, n: int = 64, size: int = 64, held_out: int = 4, seed: int = 0, pose: float = 0.0
) -> Path:
    """Write ``n`` makeup and ``n`` non-makeup faces in the MT layout under ``root``.

    ``images/{makeup,non-makeup}/*.png``, label maps ``segs/{makeup,non-makeup}/*.png``, landmarks
    ``landmarks/{makeup,non-makeup}/*.png.json``, train lists ``makeup.txt``/``non-makeup.txt`` and held-out lists
    ``makeup_test.txt``/``non-makeup_test.txt`` (the last ``held_out`` faces of each domain).

    ``pose`` in ``[0, 1]``: how widely the faces are posed (:func:`~beautygan.data.synthetic_pose.random_pose`). Poses
    come from their own random stream, so the faces (who they are, their noise) are those of ``pose=0`` for the same
    ``seed``, and ``pose=0`` writes the frontal set of earlier versions.
    """
    if n < 1 or size < 16 or not 0 <= held_out < n:
        raise ValueError(f"need n >= 1, size >= 16 and 0 <= held_out < n, got n={n}, size={size}, held_out={held_out}")
    if isinstance(pose, bool) or not isinstance(pose, (int, float, np.integer, np.floating)) or not 0 <= pose <= 1:
        raise ValueError(f"pose must be a number in [0, 1], got {pose!r}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    pose_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    for domain, prefix, makeup in (("makeup", "mk", True), ("non-makeup", "nm", False)):
        for folder in ("images", "segs", "landmarks"):
            (root / folder / domain).mkdir(parents=True, exist_ok=True)
        names = [f"{prefix}_{i:04d}.png" for i in range(n)]
        for name in names:
            face = render_face(rng, size, makeup=makeup, pose=random_pose(pose_rng, pose))
            buffer = io.BytesIO()
            Image.fromarray(face.image).save(buffer, format="PNG")
            (root / "images" / domain / name).write_bytes(buffer.getvalue())
            Image.fromarray(face.labels, mode="L").save(root / "segs" / domain / name)
            write_landmarks(
                root / "landmarks" / domain / f"{name}.json", buffer.getvalue(), face.landmarks, source="synthetic"
            )
        train, test = names[: n - held_out], names[n - held_out :]
        (root / f"{domain}.txt").write_text("".join(f"{domain}/{name}\n" for name in train))
        (root / f"{domain}_test.txt").write_text("".join(f"{domain}/{name}\n" for name in test))
    return root
