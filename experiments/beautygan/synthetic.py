"""A synthetic MT-layout dataset: procedural faces with face-parsing label maps and "makeup" as colour changes.

Every face has the MT labels (:class:`~beautygan.regions.FaceRegion`) at random positions and sizes;
non-makeup faces have natural lips and bare skin, makeup faces get vivid lipstick, eye shadow around the eyes
(inside the region BeautyGAN's eye-shadow mask covers), foundation and blush. Enough for the demo and the tests to
run anywhere, and for a short CPU training run to show a measurable lip-colour transfer.

    beautygan synthetic data/synthetic_mt --n 64 --size 64      (or python -m beautygan.synthetic ...)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .regions import FaceRegion

__all__ = ["write_synthetic_mt"]

LIPSTICKS = np.array(
    [[200, 20, 40], [140, 10, 60], [235, 80, 140], [250, 110, 80], [120, 40, 150], [180, 30, 30]], dtype=np.float32
)
BACKDROP = np.array([196.0, 200.0, 206.0])
"""The studio backdrop every face is drawn on (with a vertical gradient and noise). A fixed backdrop, not a random
flat colour: BeautyGAN's generator instance-normalizes its first features, which removes each image's mean colour,
so the absolute colour of a flat background is recoverable only from the zero-padded border; the network learns
that far more slowly than a CPU demo trains (photos carry their colours in texture and content instead)."""
EYE_SHADOWS = np.array([[150, 80, 160], [90, 60, 40], [60, 110, 170], [200, 120, 60], [170, 60, 90]], dtype=np.float32)


def _ellipse(u: np.ndarray, v: np.ndarray, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    return ((u - cx) / rx) ** 2 + ((v - cy) / ry) ** 2 <= 1.0


def render_face(rng: np.random.Generator, size: int, *, makeup: bool) -> tuple[np.ndarray, np.ndarray]:
    """One face: ``(image uint8 (size, size, 3), labels uint8 (size, size))``."""
    coords = (np.arange(size, dtype=np.float32) + 0.5) / size
    u, v = np.meshgrid(coords, coords)  # u: x (columns), v: y (rows)
    labels = np.zeros((size, size), dtype=np.uint8)
    cx, cy = 0.5 + rng.uniform(-0.05, 0.05), 0.47 + rng.uniform(-0.04, 0.04)
    rx, ry = rng.uniform(0.25, 0.3), rng.uniform(0.31, 0.36)

    labels[(np.abs(u - cx) < 0.11) & (v > cy + 0.2)] = FaceRegion.NECK
    hair = _ellipse(u, v, cx, cy - 0.04, rx + 0.05, ry + 0.06) & (v < cy - 0.05)
    labels[hair] = FaceRegion.HAIR
    labels[_ellipse(u, v, cx - rx, cy, 0.04, 0.07)] = FaceRegion.LEFT_EAR
    labels[_ellipse(u, v, cx + rx, cy, 0.04, 0.07)] = FaceRegion.RIGHT_EAR
    labels[_ellipse(u, v, cx, cy + 0.02, rx, ry) & ~(hair & (v < cy - 0.2))] = FaceRegion.FACE
    eye_dx, eye_y = rng.uniform(0.1, 0.13), cy - rng.uniform(0.04, 0.08)
    eye_rx, eye_ry = rng.uniform(0.045, 0.06), rng.uniform(0.018, 0.028)
    for sign, brow, eye in (
        (-1, FaceRegion.LEFT_BROW, FaceRegion.LEFT_EYE),
        (1, FaceRegion.RIGHT_BROW, FaceRegion.RIGHT_EYE),
    ):
        labels[_ellipse(u, v, cx + sign * eye_dx, eye_y - 0.07, eye_rx + 0.01, 0.012)] = brow
        labels[_ellipse(u, v, cx + sign * eye_dx, eye_y, eye_rx, eye_ry)] = eye
    labels[_ellipse(u, v, cx, cy + 0.06, 0.035, 0.07)] = FaceRegion.NOSE
    mouth_y, mouth_rx, mouth_ry = cy + rng.uniform(0.18, 0.22), rng.uniform(0.08, 0.12), rng.uniform(0.03, 0.045)
    lips = _ellipse(u, v, cx, mouth_y, mouth_rx, mouth_ry)
    labels[lips & (v < mouth_y)] = FaceRegion.UPPER_LIP
    labels[lips & (v >= mouth_y)] = FaceRegion.LOWER_LIP
    if rng.random() < 0.3:
        labels[lips & (np.abs(v - mouth_y) < 0.006 + 0.5 / size)] = FaceRegion.TEETH

    skin = np.array([rng.uniform(170, 240), rng.uniform(120, 190), rng.uniform(90, 160)], dtype=np.float32)
    palette = {
        FaceRegion.BACKGROUND: BACKDROP,
        FaceRegion.FACE: skin,
        FaceRegion.NOSE: skin * 0.97,
        FaceRegion.NECK: skin * 0.9,
        FaceRegion.LEFT_EAR: skin * 0.95,
        FaceRegion.RIGHT_EAR: skin * 0.95,
        FaceRegion.HAIR: rng.uniform(10, 90) * np.array([1.0, 0.8, 0.6]),
        FaceRegion.LEFT_BROW: np.array([40.0, 30.0, 25.0]),
        FaceRegion.RIGHT_BROW: np.array([40.0, 30.0, 25.0]),
        FaceRegion.LEFT_EYE: np.array([30.0, 25.0, 20.0]),
        FaceRegion.RIGHT_EYE: np.array([30.0, 25.0, 20.0]),
        FaceRegion.TEETH: np.array([235.0, 230.0, 220.0]),
        FaceRegion.UPPER_LIP: skin * np.array([0.85, 0.55, 0.55]),
        FaceRegion.LOWER_LIP: skin * np.array([0.88, 0.58, 0.58]),
    }
    image = np.zeros((size, size, 3), dtype=np.float32)
    for label, colour in palette.items():
        image[labels == label] = colour
    face_like = np.isin(labels, [FaceRegion.FACE, FaceRegion.NOSE])
    if makeup:
        lipstick = LIPSTICKS[rng.integers(len(LIPSTICKS))] + rng.uniform(-15, 15, 3)
        is_lip = np.isin(labels, [FaceRegion.UPPER_LIP, FaceRegion.LOWER_LIP])
        image[is_lip] = lipstick
        shadow = EYE_SHADOWS[rng.integers(len(EYE_SHADOWS))]
        for eye_cx in (cx - eye_dx, cx + eye_dx):
            # Strongest just around the eye, fading out over about the eye-shadow mask's box.
            d = np.sqrt(((u - eye_cx) / (eye_rx + 0.04)) ** 2 + ((v - eye_y) / (eye_ry + 0.04)) ** 2)
            alpha = (np.clip(1.2 - d, 0, 1) * 0.75 * face_like)[..., None]
            image = image * (1 - alpha) + shadow * alpha
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
    image = image * shading + rng.normal(0, 4, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), labels


def write_synthetic_mt(root: str | Path, *, n: int = 64, size: int = 64, held_out: int = 4, seed: int = 0) -> Path:
    """Write ``n`` makeup and ``n`` non-makeup faces in the MT layout under ``root``.

    ``images/{makeup,non-makeup}/*.png``, label maps ``segs/{makeup,non-makeup}/*.png``, train lists
    ``makeup.txt``/``non-makeup.txt`` and held-out lists ``makeup_test.txt``/``non-makeup_test.txt`` (the last
    ``held_out`` faces of each domain).
    """
    if n < 1 or size < 16 or not 0 <= held_out < n:
        raise ValueError(f"need n >= 1, size >= 16 and 0 <= held_out < n, got n={n}, size={size}, held_out={held_out}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    for domain, prefix, makeup in (("makeup", "mk", True), ("non-makeup", "nm", False)):
        (root / "images" / domain).mkdir(parents=True, exist_ok=True)
        (root / "segs" / domain).mkdir(parents=True, exist_ok=True)
        names = [f"{prefix}_{i:04d}.png" for i in range(n)]
        for name in names:
            image, labels = render_face(rng, size, makeup=makeup)
            Image.fromarray(image).save(root / "images" / domain / name)
            Image.fromarray(labels, mode="L").save(root / "segs" / domain / name)
        train, test = names[: n - held_out], names[n - held_out :]
        (root / f"{domain}.txt").write_text("".join(f"{domain}/{name}\n" for name in train))
        (root / f"{domain}_test.txt").write_text("".join(f"{domain}/{name}\n" for name in test))
    return root


if __name__ == "__main__":  # `python -m beautygan.synthetic ...` is `beautygan synthetic ...`
    import importlib
    import sys

    raise SystemExit(importlib.import_module("beautygan.cli").main(["synthetic", *sys.argv[1:]]))
