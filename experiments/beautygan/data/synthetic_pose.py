"""Head poses for the synthetic faces: a typed :class:`Pose`, random poses of a given width, and the camera that
maps a posed image to the frontal face it shows (:class:`PosedHead`).

The frontal face of :mod:`beautygan.data.synthetic` is drawn in a *canonical frame*: image coordinates ``(u, v)`` of the
unposed picture, as fractions of its side (``u`` right, ``v`` down). The head is modelled as an ellipsoid with
semi-axes ``(a, b, c)`` (across, down, depth) centred at ``centre``; the frontal picture is its orthographic view
from the front, so a canonical point ``(u, v)`` inside the head's outline is the surface point
``(u, v, +c sqrt(1 - x^2/a^2 - y^2/b^2))`` (``x, y`` relative to ``centre``). A pose then

1. turns the head about its centre: yaw about the vertical axis (``> 0``: the face turns toward the image's right,
   so its features move right and its image-right half foreshortens), then pitch about the horizontal axis
   (``> 0``: chin up, features move up), seen again orthographically from the front;
2. rolls, scales and shifts the picture in the image plane about ``centre`` (roll ``> 0``: counter-clockwise as
   seen; shift in fractions of the image side, ``x`` right, ``y`` down).

Rendering inverse-maps every pixel (:meth:`PosedHead.surface`: undo step 2, cast the viewing ray on the turned
ellipsoid, turn the hit back), so label maps and colours come from one mapping; landmarks go forward with the exact
inverse of it (:meth:`PosedHead.project`). A landmark the turn hides behind the head is moved along the face toward
a given visible point up to the occluding contour, as the 300-W markup places self-occluded jaw points on the
visible outline (Sagonas et al., "300 Faces in-the-Wild Challenge", 2013).

Mouth opening and smile are expressions of the canonical face; :mod:`beautygan.data.synthetic` draws them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "PITCH_MAX",
    "ROLL_MAX",
    "SCALE_MAX",
    "SHIFT_MAX",
    "YAW_MAX",
    "Pose",
    "PosedHead",
    "random_pose",
]

ROLL_MAX = 25.0
"""Widest in-plane rotation of :func:`random_pose` at ``amount=1``, degrees either way."""
SCALE_MAX = 0.15
"""Widest scale change at ``amount=1``: the scale lies in ``[1 - SCALE_MAX, 1 + SCALE_MAX]``."""
SHIFT_MAX = 0.08
"""Widest shift at ``amount=1``, per axis, as a fraction of the image side."""
YAW_MAX = 35.0
"""Widest turn of the head at ``amount=1``, degrees either way (the far ear is then hidden)."""
PITCH_MAX = 15.0
"""Widest nod of the head at ``amount=1``, degrees either way."""

_BISECTION_STEPS = 40


def _finite(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number}")
    return number


@dataclass(frozen=True, kw_only=True)
class Pose:
    """How a synthetic face is posed. All zero (and ``scale=1``) is the frontal face of :mod:`beautygan.data.synthetic`.

    Args:
        roll: in-plane rotation, degrees, counter-clockwise as seen.
        scale: size of the face relative to the frontal one.
        shift: ``(x, y)`` translation as fractions of the image side (``x`` right, ``y`` down).
        yaw: turn of the head about the vertical axis, degrees in ``(-90, 90)``; ``> 0`` turns the face toward the
            image's right (its image-right side becomes the far side).
        pitch: nod about the horizontal axis, degrees in ``(-90, 90)``; ``> 0`` lifts the chin.
        mouth_open: 0 (closed) to 1 (lips apart by 1.4 times a lip's thickness).
        smile: 0 (neutral) to 1 (mouth corners raised by 0.8 times a lip's thickness, mouth 10% wider).
    """

    roll: float = 0.0
    scale: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)
    yaw: float = 0.0
    pitch: float = 0.0
    mouth_open: float = 0.0
    smile: float = 0.0

    def __post_init__(self) -> None:
        for name in ("roll", "scale", "yaw", "pitch", "mouth_open", "smile"):
            object.__setattr__(self, name, _finite(name, getattr(self, name)))
        shift = self.shift
        if not isinstance(shift, (tuple, list, np.ndarray)) or len(shift) != 2:
            raise TypeError(f"shift must be an (x, y) pair, got {shift!r}")
        object.__setattr__(self, "shift", (_finite("shift[0]", shift[0]), _finite("shift[1]", shift[1])))
        if not 0 < self.scale <= 10:
            raise ValueError(f"scale must be in (0, 10], got {self.scale}")
        for name in ("yaw", "pitch"):
            if not -90 < getattr(self, name) < 90:
                raise ValueError(f"{name} must be in (-90, 90) degrees, got {getattr(self, name)}")
        for name in ("mouth_open", "smile"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")

    @classmethod
    def frontal(cls) -> Pose:
        """The unposed face: what :mod:`beautygan.data.synthetic` drew before poses existed, bit for bit."""
        return cls()

    @property
    def moves_head(self) -> bool:
        """Whether the pose moves the head (rotation, scale, shift, turn or nod), not only its expression."""
        return (self.roll, self.scale, self.shift, self.yaw, self.pitch) != (0.0, 1.0, (0.0, 0.0), 0.0, 0.0)

    @property
    def is_frontal(self) -> bool:
        return not self.moves_head and self.mouth_open == 0 and self.smile == 0


def random_pose(rng: np.random.Generator, amount: float) -> Pose:
    """A random pose, ``amount`` in ``[0, 1]`` times the widest (:data:`ROLL_MAX`, :data:`SCALE_MAX`,
    :data:`SHIFT_MAX`, :data:`YAW_MAX`, :data:`PITCH_MAX`; mouth opening and smile up to ``amount``, each zero half
    of the time). ``amount=0`` gives :meth:`Pose.frontal`. Always draws eight numbers from ``rng``."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    amount = _finite("amount", amount)
    if not 0 <= amount <= 1:
        raise ValueError(f"amount must be in [0, 1], got {amount}")
    d = rng.uniform(-1.0, 1.0, 8) * amount
    return Pose(
        roll=ROLL_MAX * d[0],
        scale=1.0 + SCALE_MAX * d[1],
        shift=(SHIFT_MAX * d[2], SHIFT_MAX * d[3]),
        yaw=YAW_MAX * d[4],
        pitch=PITCH_MAX * d[5],
        mouth_open=max(0.0, d[6]),
        smile=max(0.0, d[7]),
    )


class PosedHead:
    """A :class:`Pose` applied to an ellipsoidal head (see the module docstring).

    Args:
        pose: the pose; only its head movement is used here.
        centre: ``(u, v)`` of the head's centre in the canonical frame (fractions of the side).
        axes: semi-axes ``(a, b, c)``: across, down and depth, fractions of the side.

    Points are arrays of shape ``(..., 2)`` in fractions of the image side, ``x`` right, ``y`` down.
    """

    FRONT, BACK, MISSED = 1, -1, 0
    """What :meth:`surface` found along a pixel's viewing ray: the face side of the head (canonical ``z >= 0``), the
    back of the head, or no head (the point is on the background layer, which only the in-plane part moves)."""

    def __init__(self, pose: Pose, *, centre: tuple[float, float], axes: tuple[float, float, float]) -> None:
        if not isinstance(pose, Pose):
            raise TypeError(f"pose must be a Pose, got {type(pose).__name__}")
        self.pose = pose
        self.centre = np.array([float(c) for c in centre], dtype=np.float64)
        self.axes = np.array([float(a) for a in axes], dtype=np.float64)
        if self.centre.shape != (2,) or self.axes.shape != (3,) or not (self.axes > 0).all():
            raise ValueError(f"centre must be (u, v) and axes three positive semi-axes, got {centre}, {axes}")
        yaw, pitch, roll = (math.radians(a) for a in (pose.yaw, pose.pitch, pose.roll))
        turn = np.array([[math.cos(yaw), 0, math.sin(yaw)], [0, 1, 0], [-math.sin(yaw), 0, math.cos(yaw)]])
        nod = np.array([[1, 0, 0], [0, math.cos(pitch), -math.sin(pitch)], [0, math.sin(pitch), math.cos(pitch)]])
        self.rotation = turn @ nod
        """Canonical head -> posed head (before the in-plane step); ``z`` toward the viewer."""
        self.in_plane = pose.scale * np.array([[math.cos(roll), math.sin(roll)], [-math.sin(roll), math.cos(roll)]])
        """The in-plane step's linear part (``y`` down, so this turns counter-clockwise as seen)."""
        self.offset = self.centre + np.array(pose.shift, dtype=np.float64)

    # ------------------------------------------------------------------ image -> canonical
    def _unroll(self, points: np.ndarray) -> np.ndarray:
        """Undo the in-plane step: image points -> posed-head points relative to ``centre``."""
        return (np.asarray(points, dtype=np.float64) - self.offset) @ np.linalg.inv(self.in_plane).T

    def flat(self, points: np.ndarray) -> np.ndarray:
        """Canonical points of the background layer (the backdrop and neck, which do not turn with the head)."""
        return self._unroll(points) + self.centre

    def surface(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The head's surface seen at each image point: its canonical ``(u, v)`` (the frontal picture's point, or for
        the back of the head the frontal point in front of it) and :attr:`FRONT`, :attr:`BACK` or :attr:`MISSED`
        (then ``(u, v)`` is :meth:`flat`'s)."""
        rel = self._unroll(points)
        to_unit = np.diag(1.0 / self.axes) @ self.rotation.T  # posed point -> unit-sphere point of the canonical head
        start = rel[..., 0:1] * to_unit[:, 0] + rel[..., 1:2] * to_unit[:, 1]  # the ray (x, y, 0) + t (0, 0, 1)
        step = to_unit[:, 2]
        alpha = float(step @ step)
        beta = start @ step
        disc = beta**2 - alpha * ((start**2).sum(-1) - 1.0)
        hit = disc >= 0
        t = (-beta + np.sqrt(np.where(hit, disc, 0.0))) / alpha  # the nearer of the two crossings (viewer at +z)
        posed = np.concatenate([rel, t[..., None]], axis=-1)
        canonical = posed @ self.rotation  # R^T p, row-wise
        uv = np.where(hit[..., None], canonical[..., :2], rel) + self.centre
        side = np.where(hit, np.where(canonical[..., 2] >= 0, self.FRONT, self.BACK), self.MISSED)
        return uv, side

    # ------------------------------------------------------------------ canonical -> image
    def _lift(self, uv: np.ndarray) -> np.ndarray:
        """Canonical ``(u, v)`` -> the 3-D point on the face side of the canonical head (relative to ``centre``)."""
        rel = uv - self.centre
        a, b, c = self.axes
        depth = 1.0 - (rel[..., 0] / a) ** 2 - (rel[..., 1] / b) ** 2
        return np.concatenate([rel, (c * np.sqrt(np.clip(depth, 0.0, None)))[..., None]], axis=-1)

    def _facing(self, head: np.ndarray) -> np.ndarray:
        """How much the posed surface at canonical 3-D points faces the viewer (``> 0``: visible): the ``z`` of the
        turned normal ``R (q / axes^2)``."""
        return (head / self.axes**2) @ self.rotation[2]

    def visible(self, uv: np.ndarray) -> np.ndarray:
        """Whether the pose leaves canonical face points (inside the head's outline) in sight."""
        return self._facing(self._lift(np.asarray(uv, dtype=np.float64))) > 0

    def project(self, uv: np.ndarray, *, toward: np.ndarray | tuple[float, float]) -> np.ndarray:
        """Image points of canonical face points (inside the head's outline): the exact inverse of :meth:`surface`
        for every point the pose leaves visible. A hidden point moves along the straight canonical line toward
        ``toward`` (one visible point for all, or one per point) until it reaches the occluding contour."""
        uv = np.asarray(uv, dtype=np.float64)
        head = self._lift(uv)
        hidden = self._facing(head) <= 0
        if hidden.any():
            target = np.broadcast_to(np.asarray(toward, dtype=np.float64), uv.shape)[hidden]
            start = uv[hidden]
            if not self.visible(target).all():
                raise ValueError("a point given as toward= is hidden by this pose; pick points on the visible face")
            low, high = np.zeros(len(start)), np.ones(len(start))  # hidden at `low`, visible at `high`
            for _ in range(_BISECTION_STEPS):
                mid = (low + high) / 2
                visible = self._facing(self._lift(start + mid[:, None] * (target - start))) > 0
                high, low = np.where(visible, mid, high), np.where(visible, low, mid)
            head = head.copy()
            head[hidden] = self._lift(start + high[:, None] * (target - start))
        posed = head @ self.rotation.T
        return posed[..., :2] @ self.in_plane.T + self.offset
