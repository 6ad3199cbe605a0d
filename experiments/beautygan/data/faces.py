"""Real photos into the MT dataset layout: dlib face detection, 68 landmarks, alignment and label maps.

The MT dataset (Li et al., "BeautyGAN", ACM MM 2018) ships face-parsing label maps made by a parser few users have.
For a user's own photos this module makes an approximation from dlib's 68-point landmarks (the iBUG 300-W markup,
Sagonas et al. 2013; predictor of Kazemi & Sullivan, CVPR 2014; frontal HOG detector of dlib): a skin hull (jaw line
plus an estimated forehead arc), brows, eyes, nose, upper/lower lip and, for an open mouth, teeth, with the ids of
:class:`~beautygan.data.regions.FaceRegion`. Hair, ears and neck are not estimated (left as background).

Alignment follows the FFHQ recipe (Karras et al., CVPR 2019, ``ffhq-dataset``'s ``recreate_aligned_images``): the
crop is centred at ``eye_mid + 0.1 * (mouth_mid - eye_mid)`` with side ``2 * max(2.0 * |eye_to_eye|,
1.8 * |eye_to_mouth|)`` (times ``margin``), except that the rotation makes the eyes exactly level. Out-of-image parts
of the crop are filled by reflection.

Optional extra: ``pip install -e .[faces]`` (``dlib-bin`` and ``face-recognition-models``). The model files are
located on disk without importing ``face_recognition_models`` (its ``__init__`` needs ``pkg_resources``).

    beautygan prepare-faces IN_DIR OUT_DIR --kind makeup|non-makeup [--size 256]
"""

from __future__ import annotations

import importlib.util
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageDraw

from perceptual.images import IMAGE_SUFFIXES, ImageLoadError, image_files, load_image, uint8_image

from .image_size import check_image_size
from .landmarks import landmarks_path, write_landmarks
from .regions import FaceRegion

__all__ = ["FacesUnavailableError", "NoFaceError", "find_landmarks", "prepare_faces"]

Kind = Literal["makeup", "non-makeup"]
KINDS: tuple[str, ...] = ("makeup", "non-makeup")

# iBUG 68-point indices. "Left"/"right" below are in the image (as FaceRegion.LEFT_* in the synthetic set and MT):
# the subject's right eye (points 36-41) is on the image's left.
JAW = slice(0, 17)
LEFT_BROW = slice(17, 22)
RIGHT_BROW = slice(22, 27)
NOSE_BRIDGE = slice(27, 31)
NOSE_BOTTOM = slice(31, 36)
LEFT_EYE = slice(36, 42)
RIGHT_EYE = slice(42, 48)
OUTER_LIP = slice(48, 60)
INNER_LIP = slice(60, 68)

_INSTALL_HINT = "install the optional extra: pip install -e '.[faces]' (dlib-bin and face-recognition-models)"


class FacesUnavailableError(ImportError):
    """dlib or its model files are not installed."""


class NoFaceError(ValueError):
    """No face was found in a photo (the message names it)."""


def models_dir() -> Path:
    """Folder holding dlib's model files from the ``face-recognition-models`` package (without importing it)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FacesUnavailableError(f"face_recognition_models is not installed; {_INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    if not folder.is_dir():
        raise FacesUnavailableError(f"no model folder at {folder}; reinstall face-recognition-models ({_INSTALL_HINT})")
    return folder


def _dlib() -> Any:
    try:
        import dlib
    except ImportError as err:
        raise FacesUnavailableError(f"dlib is not installed ({err}); {_INSTALL_HINT}") from None
    return dlib


@dataclass(frozen=True)
class DetectedFace:
    """One detected face: box ``(left, top, right, bottom)`` in pixels, detector score, ``(68, 2)`` landmarks."""

    box: tuple[int, int, int, int]
    score: float
    landmarks: np.ndarray

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def area(self) -> int:
        return max(0, self.box[2] - self.box[0]) * max(0, self.box[3] - self.box[1])


def _as_rgb_uint8(image: Any, name: str = "image") -> np.ndarray:
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name} must be a PIL image or an (H, W, 3) uint8 numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name} must have shape (H, W, 3), got {image.shape}")
    if image.dtype != np.uint8:
        raise TypeError(f"{name} must be uint8 (0-255), got dtype {image.dtype}")
    return np.ascontiguousarray(image)


def _check_landmarks(landmarks: Any) -> np.ndarray:
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"landmarks must be 68 (x, y) points of shape (68, 2), got shape {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError("landmarks must be finite")
    return points


class FaceModels:
    """dlib's frontal face detector, 68-point shape predictor and 128-D face-recognition ResNet, loaded on first use.

    Args:
        folder: where the ``.dat`` files are (default: the ``face-recognition-models`` package).
        upsample: times the detector upsamples the image (1 finds faces down to about 40 px).
        max_detect_side: images are shrunk to this longer side for detection only (landmarks use full resolution).
    """

    def __init__(self, *, folder: str | Path | None = None, upsample: int = 1, max_detect_side: int = 1024) -> None:
        if upsample < 0:
            raise ValueError(f"upsample must be >= 0, got {upsample}")
        if max_detect_side < 64:
            raise ValueError(f"max_detect_side must be >= 64, got {max_detect_side}")
        _dlib()  # fail early, with the install hint, when the extra is missing
        self.folder = Path(folder) if folder is not None else models_dir()
        self.upsample = upsample
        self.max_detect_side = max_detect_side
        self._detector: Any = None
        self._predictor: Any = None
        self._recognizer: Any = None

    def __getstate__(self) -> dict[str, Any]:
        """Picklable (DDP spawn, dataloader workers): the loaded dlib models are dropped and reloaded on use."""
        return {**self.__dict__, "_detector": None, "_predictor": None, "_recognizer": None}

    @property
    def _dlib(self) -> Any:
        return _dlib()

    def _model_file(self, name: str) -> str:
        path = self.folder / name
        if not path.is_file():
            raise FacesUnavailableError(f"dlib model file missing: {path} ({_INSTALL_HINT})")
        return str(path)

    @property
    def predictor(self) -> Any:
        if self._predictor is None:
            self._predictor = self._dlib.shape_predictor(self._model_file("shape_predictor_68_face_landmarks.dat"))
        return self._predictor

    @property
    def recognizer(self) -> Any:
        if self._recognizer is None:
            self._recognizer = self._dlib.face_recognition_model_v1(
                self._model_file("dlib_face_recognition_resnet_model_v1.dat")
            )
        return self._recognizer

    def _shape(self, image: np.ndarray, box: tuple[int, int, int, int]) -> Any:
        return self.predictor(image, self._dlib.rectangle(*(int(round(v)) for v in box)))

    def landmarks(self, image: Any, box: tuple[int, int, int, int]) -> np.ndarray:
        """``(68, 2)`` float landmarks (pixel coordinates) of the face in ``box`` = ``(left, top, right, bottom)``."""
        shape = self._shape(_as_rgb_uint8(image), box)
        return np.array([(shape.part(i).x, shape.part(i).y) for i in range(68)], dtype=np.float64)

    def detect(self, image: Any) -> list[DetectedFace]:
        """All frontal faces in ``image``, largest first (ties: higher score first), with their landmarks."""
        image = _as_rgb_uint8(image)
        if self._detector is None:
            self._detector = self._dlib.get_frontal_face_detector()
        height, width = image.shape[:2]
        scale = min(1.0, self.max_detect_side / max(height, width))
        small = image
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR, reducing_gap=2.0))
        rects, scores, _ = self._detector.run(small, self.upsample, 0.0)
        faces = []
        for rect, score in zip(rects, scores):
            box = tuple(int(round(v / scale)) for v in (rect.left(), rect.top(), rect.right(), rect.bottom()))
            faces.append(DetectedFace(box=box, score=float(score), landmarks=self.landmarks(image, box)))  # type: ignore[arg-type]
        faces.sort(key=lambda f: (f.area, f.score), reverse=True)
        return faces

    def embed(self, image: Any, landmarks: Any, *, jitters: int = 0) -> np.ndarray:
        """The 128-D dlib face descriptor of the face with these ``(68, 2)`` landmarks (Euclidean distance < 0.6
        means "same person" in dlib's documentation)."""
        image = _as_rgb_uint8(image)
        points = _check_landmarks(landmarks)
        dlib = self._dlib
        low, high = points.min(0), points.max(0)
        rect = dlib.rectangle(*(int(round(v)) for v in (low[0], low[1], high[0], high[1])))
        shape = dlib.full_object_detection(rect, [dlib.point(int(round(x)), int(round(y))) for x, y in points])
        return np.asarray(self.recognizer.compute_face_descriptor(image, shape, jitters), dtype=np.float64)


def find_landmarks(image: str | Path, models: FaceModels, *, cache: bool = True) -> tuple[np.ndarray, str | None]:
    """dlib's ``(68, 2)`` landmarks of the largest face in the image file ``image`` (``models.detect``, the face
    ``beautygan prepare-faces`` takes), in the coordinates of the image as shown (:func:`load_image`), and, with
    ``cache``, written beside it (:func:`~beautygan.data.landmarks.landmarks_path`, ``source="dlib"``) for
    :func:`~beautygan.data.landmarks.read_landmarks` to find next time.

    Returns the points and ``None``, or the points and why they could not be cached (a read-only dataset, an image
    outside the MT layout): the caller decides whether that matters. Raises
    :class:`NoFaceError` naming the file when dlib finds no face, and :class:`~perceptual.images.ImageLoadError` for a
    file that is not a readable image."""
    image = Path(image)
    data = image.read_bytes()  # the bytes whose hash the record holds
    pixels, _ = load_image(image)
    faces = models.detect(uint8_image(pixels))
    if not faces:
        raise NoFaceError(f"no face found by dlib's frontal detector in {image}")
    points = faces[0].landmarks
    if not cache:
        return points, None
    where = landmarks_path(image)
    if where is None:
        return points, f"{image} is not in the MT layout (images/<domain>/): no landmark file beside it"
    try:
        write_landmarks(where, data, points, source="dlib")
    except OSError as err:
        return points, f"could not write {where} ({type(err).__name__}: {err})"
    return points, None


# ------------------------------------------------------------------------------------------------- alignment
def alignment_matrix(landmarks: Any, *, size: int, margin: float = 1.0) -> np.ndarray:
    """The ``(2, 3)`` affine map from input pixel coordinates to the aligned ``size x size`` crop (eyes level).

    Coordinates are continuous with pixel ``i`` covering ``[i, i + 1)``; dlib's integer landmark ``x`` is the pixel
    centre ``x + 0.5`` (handled by :func:`align_face`)."""
    points = _check_landmarks(landmarks)
    if size < 8:
        raise ValueError(f"size must be >= 8, got {size}")
    if not margin > 0:
        raise ValueError(f"margin must be > 0, got {margin}")
    eye_left, eye_right = points[LEFT_EYE].mean(0), points[RIGHT_EYE].mean(0)
    eye_mid = (eye_left + eye_right) / 2
    mouth_mid = (points[48] + points[54]) / 2
    eye_to_eye, eye_to_mouth = eye_right - eye_left, mouth_mid - eye_mid
    eye_distance = float(np.hypot(*eye_to_eye))
    if eye_distance < 1e-6:
        raise ValueError("landmarks have both eyes at the same point; cannot align")
    half = margin * max(eye_distance * 2.0, float(np.hypot(*eye_to_mouth)) * 1.8)
    centre = eye_mid + 0.1 * eye_to_mouth
    ux, uy = eye_to_eye / eye_distance  # image x axis of the crop; its y axis is (-uy, ux) (pointing down)
    k = size / (2 * half)
    rotation = k * np.array([[ux, uy], [-uy, ux]])
    offset = size / 2 - rotation @ centre
    return np.concatenate([rotation, offset[:, None]], axis=1)


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def align_face(image: Any, landmarks: Any, *, size: int = 256, margin: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Crop ``image`` to the aligned square around the face with these landmarks.

    Returns the ``(size, size, 3)`` uint8 crop and the landmarks in the crop's pixel coordinates (same convention as
    dlib's: pixel centres at integers). Shrinks by an integer box filter first when the crop is much smaller than the
    face (no aliasing), and fills the parts of the crop outside the photo by reflection."""
    image = _as_rgb_uint8(image)
    points = _check_landmarks(landmarks) + 0.5
    matrix = alignment_matrix(points, size=size, margin=margin)
    scale = float(np.hypot(*matrix[0, :2]))  # output pixels per input pixel
    source = image
    reduce = int(1 / scale) if scale < 0.5 else 1
    if reduce > 1:
        source = np.asarray(Image.fromarray(image).reduce(reduce))
        matrix = matrix.copy()
        matrix[:, :2] *= reduce
    inverse = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))[:2]
    corners = _apply(inverse, np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64))
    height, width = source.shape[:2]
    pad_left = max(0, math.ceil(-corners[:, 0].min()) + 2)
    pad_top = max(0, math.ceil(-corners[:, 1].min()) + 2)
    pad_right = max(0, math.ceil(corners[:, 0].max() - width) + 2)
    pad_bottom = max(0, math.ceil(corners[:, 1].max() - height) + 2)
    if pad_left or pad_top or pad_right or pad_bottom:
        source = np.pad(source, ((pad_top, pad_bottom), (pad_left, pad_right), (0, 0)), mode="reflect")
        inverse = inverse.copy()
        inverse[:, 2] += (pad_left, pad_top)
    crop = Image.fromarray(source).transform(
        (size, size), Image.AFFINE, tuple(inverse.reshape(-1)), resample=Image.BICUBIC
    )
    aligned_points = _apply(alignment_matrix(points, size=size, margin=margin), points) - 0.5
    return np.array(crop), aligned_points


# ------------------------------------------------------------------------------------------------ label maps
def _polygon(draw: ImageDraw.ImageDraw, points: np.ndarray, label: int) -> None:
    draw.polygon([(float(x), float(y)) for x, y in points], fill=int(label), outline=int(label))


def label_map_from_landmarks(
    landmarks: Any, size: int | tuple[int, int], *, open_mouth_ratio: float = 0.08, forehead: float = 0.6
) -> np.ndarray:
    """An MT label map (``(H, W)`` uint8, ids of :class:`FaceRegion`) rasterized from 68 landmarks.

    Args:
        landmarks: ``(68, 2)`` iBUG points in the map's pixel coordinates (``x`` right, ``y`` down).
        size: ``H = W = size`` or ``(H, W)``.
        open_mouth_ratio: the mouth counts as open (inner-lip region labelled teeth) when the gap between the inner
            lips is more than this fraction of the mouth width.
        forehead: height of the forehead arc above the brows, as a fraction of the brow-to-nose-tip distance.
    """
    points = _check_landmarks(landmarks)
    height, width = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if height < 1 or width < 1:
        raise ValueError(f"size must be positive, got {size}")
    canvas = Image.new("L", (width, height), int(FaceRegion.BACKGROUND))
    draw = ImageDraw.Draw(canvas)

    eye_left, eye_right = points[LEFT_EYE].mean(0), points[RIGHT_EYE].mean(0)
    across = eye_right - eye_left
    eye_distance = float(np.hypot(*across))
    across = across / max(eye_distance, 1e-6)
    up = np.array([across[1], -across[0]])  # perpendicular, pointing to the top of the head

    # Skin: jaw line + an elliptic forehead arc through both jaw ends, `forehead` x (brow -> nose tip) above the brows.
    jaw = points[JAW]
    brows = np.concatenate([points[LEFT_BROW], points[RIGHT_BROW]])
    centre = (jaw[0] + jaw[-1]) / 2
    semi_across = float(np.dot(jaw[-1] - jaw[0], across)) / 2
    brow_height = float(np.max((brows - centre) @ up))
    lift = forehead * float(np.dot(brows.mean(0) - points[30], up))
    semi_up = max(brow_height + lift, 1.0)
    angles = np.linspace(0.0, np.pi, 24)[1:-1]
    arc = centre + np.outer(np.cos(angles) * semi_across, across) + np.outer(np.sin(angles) * semi_up, up)
    _polygon(draw, np.concatenate([jaw, arc]), FaceRegion.FACE)

    # Nose: from beside the bridge top down to just outside the nostrils.
    nose_width = points[35] - points[31]
    nose = np.stack(
        [
            points[27] + 0.3 * (points[39] - points[27]),
            points[31] - 0.15 * nose_width,
            *points[32:35],
            points[35] + 0.15 * nose_width,
            points[27] + 0.3 * (points[42] - points[27]),
        ]
    )
    _polygon(draw, nose, FaceRegion.NOSE)

    # Brows: the 5 points trace the brow's upper edge; thicken downwards, tapering at the ends.
    thickness = 0.12 * eye_distance * np.array([0.5, 0.9, 1.0, 0.9, 0.6])
    for sl, label, taper in (
        (LEFT_BROW, FaceRegion.LEFT_BROW, thickness),
        (RIGHT_BROW, FaceRegion.RIGHT_BROW, thickness[::-1]),
    ):
        upper = points[sl]
        lower = upper - np.outer(taper, up)
        _polygon(draw, np.concatenate([upper, lower[::-1]]), label)

    _polygon(draw, points[LEFT_EYE], FaceRegion.LEFT_EYE)
    _polygon(draw, points[RIGHT_EYE], FaceRegion.RIGHT_EYE)

    # Lips: outer contour 48-59, inner 60-67. Upper lip = outer 48..54 + inner 64..60; lower = outer 54..59,48 + inner 60,67..64.
    outer, inner = points[OUTER_LIP], points[INNER_LIP]
    mouth_width = float(np.hypot(*(points[54] - points[48])))
    gap = float(np.dot(points[62] - points[66], up))  # inner upper lip above inner lower lip
    if gap > open_mouth_ratio * mouth_width:
        _polygon(draw, inner, FaceRegion.TEETH)
    _polygon(draw, np.concatenate([outer[0:7], inner[[4, 3, 2, 1, 0]]]), FaceRegion.UPPER_LIP)
    _polygon(draw, np.concatenate([outer[[6, 7, 8, 9, 10, 11, 0]], inner[[0, 7, 6, 5, 4]]]), FaceRegion.LOWER_LIP)
    return np.asarray(canvas).copy()


# ------------------------------------------------------------------------------------------ prepare-faces
@dataclass(frozen=True)
class PreparedFace:
    """An image written to the dataset: its source file, the name under ``images/<kind>/``, and notes."""

    source: Path
    name: str
    faces_found: int
    box: tuple[int, int, int, int]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SkippedImage:
    """An input image that was not written, and why."""

    source: Path
    reason: str


@dataclass
class PrepareReport:
    """What :func:`prepare_faces` did: written images (with notes such as "3 faces, took the largest") and the
    images it skipped, each with its reason."""

    out_dir: Path
    kind: str
    prepared: list[PreparedFace] = field(default_factory=list)
    skipped: list[SkippedImage] = field(default_factory=list)

    def format(self) -> str:
        lines = [
            f"prepare-faces: {len(self.prepared)} written to {self.out_dir} ({self.kind}), {len(self.skipped)} skipped"
        ]
        for face in self.prepared:
            for note in face.notes:
                lines.append(f"  note    {face.source}: {note}")
        for skipped in self.skipped:
            lines.append(f"  skipped {skipped.source}: {skipped.reason}")
        return "\n".join(lines)


def _unique_name(stem: str, taken: set[str]) -> str:
    name, counter = f"{stem}.png", 1
    while name in taken:
        name, counter = f"{stem}_{counter}.png", counter + 1
    taken.add(name)
    return name


def _update_list(out_dir: Path, kind: str, split: str, names: Sequence[str]) -> Path:
    """Append ``names`` to ``<kind>.txt`` (``<kind>_test.txt`` for ``split="test"``) without dropping images that
    the dataset used before: a new train list starts with the images already in the folder."""
    listing = out_dir / (f"{kind}.txt" if split == "train" else f"{kind}_test.txt")
    existing: list[str] = []
    if listing.is_file():
        existing = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    elif split == "train":
        folder = out_dir / "images" / kind
        held_out_file = out_dir / f"{kind}_test.txt"
        held_out = set(held_out_file.read_text().split()) if held_out_file.is_file() else set()
        new = set(names)
        existing = [p.name for p in image_files(folder) if p.name not in new and p.name not in held_out]
    seen = {Path(line).name for line in existing}  # lines may read name.png, <kind>/name.png or images/<kind>/name.png
    lines = existing + [n for n in names if n not in seen]
    listing.write_text("".join(f"{line}\n" for line in lines))
    return listing


def prepare_faces(
    in_dir: str | Path,
    out_dir: str | Path,
    *,
    kind: Kind = "makeup",
    size: int = 256,
    margin: float = 1.0,
    min_face: int = 64,
    split: Literal["train", "test"] = "train",
    models: FaceModels | None = None,
    progress: bool = True,
) -> PrepareReport:
    """Detect, align and label every photo in ``in_dir`` into the MT layout under ``out_dir``.

    Writes ``images/<kind>/<name>.png`` (aligned ``size x size`` RGB), ``segs/<kind>/<name>.png`` (label map),
    ``landmarks/<kind>/<name>.png.json`` (the face's 68 landmarks in the crop, :mod:`beautygan.data.landmarks`) and
    appends the names to ``<kind>.txt`` (``<kind>_test.txt`` for ``split="test"``). Existing files of the same name
    are overwritten. The largest face of each photo is taken; photos with no face, or a face narrower than
    ``min_face`` pixels, are skipped; every skip and every multi-face photo is in the returned report.
    """
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    check_image_size(size, "size")
    if min_face < 1:
        raise ValueError(f"min_face must be >= 1 pixel, got {min_face}")
    if not in_dir.is_dir():
        raise FileNotFoundError(f"input folder not found: {in_dir}")
    for folder in (out_dir, out_dir / "images", out_dir / "segs", out_dir / "images" / kind, out_dir / "segs" / kind):
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"output {str(folder)!r} is a file; name a dataset folder")
    models = models if models is not None else FaceModels()
    files = image_files(in_dir)
    report = PrepareReport(out_dir=out_dir, kind=kind)
    if not files:
        report.skipped.append(SkippedImage(in_dir, f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in the folder"))
        return report
    image_dir, seg_dir = out_dir / "images" / kind, out_dir / "segs" / kind
    image_dir.mkdir(parents=True, exist_ok=True)
    seg_dir.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    iterator: Any = files
    if progress:
        from tqdm import tqdm

        iterator = tqdm(files, desc=f"prepare-faces ({kind})", unit="image")
    for path in iterator:
        try:
            tensor, load_notes = load_image(path)
        except ImageLoadError as err:
            report.skipped.append(SkippedImage(path, str(err)))
            continue
        pixels = uint8_image(tensor)
        faces = models.detect(pixels)
        if not faces:
            report.skipped.append(SkippedImage(path, "no face found (dlib frontal detector)"))
            continue
        face = faces[0]
        if face.width < min_face:
            report.skipped.append(
                SkippedImage(path, f"face too small: {face.width} px wide (< min_face={min_face} px)")
            )
            continue
        notes = [n for n in load_notes if n.startswith("rotated")]
        if len(faces) > 1:
            others = ", ".join(str(f.box) for f in faces[1:])
            notes.append(
                f"{len(faces)} faces found; took the largest at {face.box} (left, top, right, bottom), not {others}"
            )
        crop, points = align_face(pixels, face.landmarks, size=size, margin=margin)
        upscale = float(np.hypot(*alignment_matrix(face.landmarks, size=size, margin=margin)[0, :2]))
        if upscale > 2.0:
            notes.append(f"face upscaled about {upscale:.1f}x to reach {size}px; the image will look soft")
        labels = label_map_from_landmarks(points, size)
        name = _unique_name(path.stem, taken)
        if name != f"{path.stem}.png":
            notes.append(f"written as {name} (another input has the same stem)")
        encoded = io.BytesIO()
        Image.fromarray(crop).save(encoded, format="PNG")
        (image_dir / name).write_bytes(encoded.getvalue())
        Image.fromarray(labels, mode="L").save(seg_dir / name)
        # the landmarks the face was aligned and labelled with: training reads them instead of running dlib again
        write_landmarks(out_dir / "landmarks" / kind / f"{name}.json", encoded.getvalue(), points, source="dlib")
        report.prepared.append(PreparedFace(path, name, len(faces), face.box, tuple(notes)))
    if report.prepared:
        _update_list(out_dir, kind, split, [face.name for face in report.prepared])
    return report
