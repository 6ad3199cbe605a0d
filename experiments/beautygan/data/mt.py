"""The MT dataset (Li et al., "BeautyGAN", ACM MM 2018) for unpaired makeup transfer: its lists, label maps and
:class:`MTDataset` (plain torch: the LightningDataModule that trains on it is :mod:`beautygan.training.datamodule`).

Layout (as published)::

    root/images/makeup/*.png      root/segs/makeup/*.png       (label maps, same names, same sizes)
    root/images/non-makeup/*.png  root/segs/non-makeup/*.png
    root/makeup.txt, root/non-makeup.txt                 optional train lists
    root/makeup_test.txt, root/non-makeup_test.txt       optional held-out lists (validation/test)

List lines name an image as ``name.png``, ``makeup/name.png`` or ``images/makeup/name.png``. Without lists, every
image is used for training and there is no held-out split.

Each item is an unpaired (source = non-makeup, reference = makeup) pair: the larger domain is walked in order and
the other is drawn at random, so an epoch has ``max(|non-makeup|, |makeup|)`` items. Images are resized to
``image_size`` (bilinear, antialiased) and scaled to [-1, 1]; label maps are resized with nearest neighbour.
Images are read by the library's :func:`perceptual.images.load_image` (16-bit, grayscale, palette, transparent and
EXIF-rotated files become the RGB they show). Every file is decoded when the dataset is built (a truncated JPEG is
caught there, not mid-epoch), label ids are checked against the MT set ``0..13``, and all problems are reported in
one :class:`DatasetError`.

With ``landmarks=True`` each image also comes with its 68 face landmarks (what PSGAN's attention reads), from the
landmark files beside the dataset (``root/landmarks/<domain>/<name>.json``, :mod:`beautygan.data.landmarks`: the
synthetic writer and ``prepare-faces`` write them). An image without a current file (none, or one written for an
earlier version of the image) gets them from dlib when the dataset is built, as ``prepare-faces`` finds them (the
largest face), and they are cached in that file for the next run; an image where dlib finds no face is one of the
listed problems. The points are scaled to ``image_size`` as the images are.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor
from torch.utils.data import Dataset

from perceptual.images import ImageLoadError, image_files, load_image

from .image_size import check_image_size
from .landmarks import landmarks_path, read_landmarks, scale_landmarks, shown_size
from .regions import FaceRegion, stacked_region_masks

if TYPE_CHECKING:
    from .faces import FaceModels

__all__ = [
    "DOMAINS",
    "DatasetError",
    "MTDataset",
    "check_pairs",
    "held_out_lists_exist",
    "list_domain",
    "mt_labels_path",
    "read_labels",
    "read_pairs_file",
]

DOMAINS = ("non-makeup", "makeup")
Split = Literal["train", "test"]
MAX_LABEL = max(FaceRegion)


class DatasetError(ValueError):
    """The dataset on disk has problems; the message lists every one of them with its path."""


def _list_file(root: Path, domain: str, split: Split) -> Path:
    return root / (f"{domain}.txt" if split == "train" else f"{domain}_test.txt")


def held_out_lists_exist(root: str | Path) -> bool:
    """Whether ``root`` has the held-out lists of both domains (``non-makeup_test.txt``, ``makeup_test.txt``)."""
    return all(_list_file(Path(root), domain, "test").is_file() for domain in DOMAINS)


def _check_inside(root: Path, domain: str, name: str, where: str) -> str | None:
    """Why ``name`` (a list entry, or a file of ``images/<domain>/``) leaves the data root, or ``None``: absolute,
    ``..``, or its image or label map resolving (through symlinks) outside ``root``."""
    if Path(name).is_absolute():
        return f"{where}: {name!r} is an absolute path; list entries name files under {root / 'images' / domain}"
    if ".." in Path(name).parts:
        return f"{where}: {name!r} climbs out with '..'; list entries name files under {root / 'images' / domain}"
    base = root.resolve()
    for folder in ("images", "segs"):
        target = (root / folder / domain / name).resolve()
        if not target.is_relative_to(base):
            return f"{where}: {root / folder / domain / name} resolves to {target}, outside the data root {base}"
    return None


def list_domain(root: str | Path, domain: str, split: Split = "train") -> list[str]:
    """Image file names (relative to ``images/<domain>/``) of one domain and split.

    Raises :class:`DatasetError` naming the list file and line for an entry that is absolute or leaves the data
    root (``..``, or a symlink resolving outside it): nothing outside ``root`` is read or served."""
    root = Path(root)
    if domain not in DOMAINS:
        raise ValueError(f"domain must be one of {DOMAINS}, got {domain!r}")
    listing = _list_file(root, domain, split)
    if listing.is_file():
        names, problems = [], []
        for number, line in enumerate(listing.read_text().splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = Path(line).parts
            if parts[:1] == ("images",):
                parts = parts[1:]
            if parts[:1] == (domain,):
                parts = parts[1:]
            name = str(Path(*parts)) if parts else line
            problem = _check_inside(root, domain, name, f"{listing}:{number}")
            if problem:
                problems.append(problem)
            else:
                names.append(name)
        if problems:
            raise DatasetError("\n".join(problems))
        return names
    if split == "test":
        return []
    folder = root / "images" / domain
    if not folder.is_dir():
        return []
    held_out = set(list_domain(root, domain, "test"))
    names = [p.name for p in image_files(folder) if p.name not in held_out]
    problems = [problem for name in names if (problem := _check_inside(root, domain, name, str(folder)))]
    if problems:
        raise DatasetError("\n".join(problems))
    return names


def _decode_image(path: Path, what: str, problems: list[str]) -> tuple[int, int] | None:
    """Size of the fully decoded image at ``path`` (``Image.verify`` does not decode JPEG data: a truncated file
    would pass it and fail mid-epoch), or ``None`` with the problem appended."""
    if not path.is_file():
        problems.append(f"missing {what}: {path}")
        return None
    try:
        with Image.open(path) as image:
            image.load()
            return image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        problems.append(f"unreadable {what}: {path} ({type(err).__name__}: {err})")
        return None


def read_pairs_file(path: str | Path, *, form: str, fields: Sequence[int] = (2,)) -> list[tuple[int, list[str]]]:
    """``(line number, fields)`` of each line of a pairs file: whitespace-separated fields, ``#`` comments and blank
    lines skipped; a line with another number of fields than ``fields`` raises ``ValueError`` naming the file, the
    line and the expected ``form`` (e.g. ``'SOURCE REFERENCE [RESULT]'``)."""
    path = Path(path)
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split("#", 1)[0].split()
        if not parts:
            continue
        if len(parts) not in fields:
            raise ValueError(f"{path}:{number}: expected {form!r}, got {line.strip()!r}")
        rows.append((number, parts))
    return rows


def mt_labels_path(image: str | Path) -> Path | None:
    """The label map of an image in the MT layout (``.../images/<domain>/x.png`` -> ``.../segs/<domain>/x.png``,
    also for a ``.jpg`` image), or ``None`` when there is none."""
    parts = Path(image).parts
    if "images" not in parts:
        return None
    i = len(parts) - 1 - parts[::-1].index("images")
    candidate = Path(*parts[:i], "segs", *parts[i + 1 :])
    for path in (candidate, candidate.with_suffix(".png")):
        if path.is_file():
            return path
    return None


def read_labels(path: str | Path, *, size: int | None = None) -> np.ndarray | Tensor:
    """MT face-parsing label map at ``path`` as an ``(H, W)`` int64 array of ids in ``0..13``; with ``size``, resized
    (nearest neighbour: ids are not blended) to a ``(size, size)`` int64 tensor.

    Single-channel maps (``L``, ``P``: the palette index is the label, ``I``, ``I;16``) are read as they are; an RGB(A)
    map is read from its first channel. Raises :class:`DatasetError` naming the file when it cannot be read or holds
    ids outside the MT label set (those would otherwise leave every makeup-loss region empty).
    """
    path = Path(path)
    try:
        with Image.open(path) as seg:
            seg.load()
            if seg.mode not in ("L", "P", "I", "I;16", "I;16L", "I;16B"):
                seg = seg.convert("RGB").getchannel(0)
            labels = np.asarray(seg).astype(np.int64)
    except FileNotFoundError:
        raise DatasetError(f"missing label map: {path}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise DatasetError(f"unreadable label map: {path} ({type(err).__name__}: {err})") from None
    if labels.ndim == 3:
        labels = labels[..., 0]
    bad = np.unique(labels[(labels < 0) | (labels > MAX_LABEL)])
    if bad.size:
        shown = ", ".join(str(int(v)) for v in bad[:8]) + (", ..." if bad.size > 8 else "")
        raise DatasetError(
            f"label map {path} holds ids outside the MT labels 0..{MAX_LABEL}: {shown} "
            f"({int(np.isin(labels, bad).sum())} pixels); see beautygan.data.regions.FaceRegion"
        )
    if size is None:
        return labels
    resized = Image.fromarray(labels.astype(np.uint8)).resize((size, size), Image.NEAREST)
    return torch.from_numpy(np.asarray(resized).astype(np.int64))


def check_pairs(root: Path, domain: str, names: Sequence[str]) -> list[str]:
    """Problems (one line each, with the path) of the images and label maps ``names`` of ``domain``: missing or
    undecodable files, label ids outside ``0..13``, label maps whose size differs from their image's."""
    problems: list[str] = []
    for name in names:
        image_size = _decode_image(root / "images" / domain / name, "image", problems)
        seg_path = root / "segs" / domain / name
        if not seg_path.is_file():
            problems.append(f"missing label map: {seg_path}")
            continue
        try:
            labels = read_labels(seg_path)
        except DatasetError as err:
            problems.append(str(err))
            continue
        seg_size = (labels.shape[1], labels.shape[0])
        if image_size is not None and image_size != seg_size:
            problems.append(
                f"size mismatch: label map {seg_path} is {seg_size[0]}x{seg_size[1]}, "
                f"its image is {image_size[0]}x{image_size[1]}"
            )
    return problems


class _LandmarkFinder:
    """dlib's face models, made on first use (only when an image has no landmark file), or why they cannot be."""

    def __init__(self) -> None:
        self._models: FaceModels | None = None
        self.unavailable: str | None = None

    def models(self) -> FaceModels | None:
        if self._models is None and self.unavailable is None:
            from .faces import FaceModels, FacesUnavailableError

            try:
                self._models = FaceModels()
            except FacesUnavailableError as err:
                self.unavailable = str(err)
        return self._models


def _dataset_landmarks(
    root: Path, domain: str, name: str, finder: _LandmarkFinder, problems: list[str], notes: list[str]
) -> np.ndarray | None:
    """The image's landmarks (its file, else dlib, then cached), or ``None`` with the problem appended."""
    from .faces import NoFaceError, find_landmarks

    image = root / "images" / domain / name
    where = landmarks_path(image)
    if where is None or not where.resolve().is_relative_to(root.resolve()):
        problems.append(f"landmark file {where} of {image} resolves outside the data root {root.resolve()}")
        return None
    points = read_landmarks(image)
    if points is not None:
        return points
    models = finder.models()
    if models is None:
        problems.append(
            f"no landmark file for {image} (expected {where}) and dlib cannot find them: {finder.unavailable}"
        )
        return None
    try:
        points, note = find_landmarks(image, models)
    except NoFaceError as err:
        problems.append(f"{err}: its landmarks are needed; write them to {where} or leave the image out of the list")
        return None
    except (ImageLoadError, OSError) as err:
        problems.append(f"unreadable image: {image} ({err})")
        return None
    if note:
        notes.append(note)
    return points


def _load_pair(root: Path, domain: str, name: str, size: int) -> tuple[Tensor, Tensor]:
    path = root / "images" / domain / name
    try:
        # The library's loader: 16-bit, grayscale, palette, transparent and EXIF-rotated files become the RGB they show.
        image, _ = load_image(path, (size, size))
    except ImageLoadError as err:
        raise DatasetError(str(err)) from None
    return image * 2.0 - 1.0, read_labels(root / "segs" / domain / name, size=size)[None]


class MTDataset(Dataset):
    """Unpaired (non-makeup source, makeup reference) pairs from an MT-layout folder.

    Items are dicts: ``source``, ``reference`` (``(3, S, S)`` float in [-1, 1]), ``source_labels``,
    ``reference_labels`` (``(1, S, S)`` int64 MT labels), ``source_masks``, ``reference_masks`` (``(4, S, S)`` bool:
    lips, skin, left and right eye shadow, see :func:`~beautygan.data.regions.stacked_region_masks`),
    ``source_name``, ``reference_name``; with ``landmarks``, also ``source_landmarks``, ``reference_landmarks``
    (``(68, 2)`` float32 ``(x, y)`` in the ``S x S`` image's pixels).

    Args:
        root: dataset folder.
        split: ``"train"`` (``makeup.txt``/``non-makeup.txt`` or every image) or ``"test"`` (the ``*_test.txt`` lists).
        image_size: side of the square images the model sees (256 in the paper).
        seed: seeds the random partner choice; ``None`` uses torch's global generator (one draw per item, so
            each epoch pairs differently).
        landmarks: give each image its 68 landmarks: from its landmark file, else found with dlib when the dataset
            is built and cached in that file (see the module's docstring); an image without a face is a problem.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        split: Split = "train",
        image_size: int = 256,
        seed: int | None = None,
        landmarks: bool = False,
    ) -> None:
        self.root = Path(root)
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        check_image_size(image_size)
        if not isinstance(landmarks, bool):
            raise TypeError(f"landmarks must be True or False, got {landmarks!r}")
        self.split = split
        self.image_size = image_size
        self.seed = seed
        self.landmarks = landmarks
        self._points: dict[str, dict[str, Tensor]] = {domain: {} for domain in DOMAINS}
        finder, notes = _LandmarkFinder(), []
        problems: list[str] = []
        if not (self.root / "images").is_dir():
            problems.append(f"missing folder: {self.root / 'images'} (expected images/{{makeup,non-makeup}}/)")
        self.names: dict[str, list[str]] = {}
        for domain in DOMAINS:
            try:
                names = list_domain(self.root, domain, split)
            except DatasetError as err:
                problems += str(err).splitlines()
                self.names[domain] = []
                continue
            if not names:
                where = _list_file(self.root, domain, split)
                problems.append(
                    f"no {domain} images for split {split!r}: {where} is missing or empty"
                    + ("" if split == "test" else f" and {self.root / 'images' / domain} has no images")
                )
            for name in names:
                found = check_pairs(self.root, domain, [name])
                problems += found
                if landmarks and not found:
                    points = _dataset_landmarks(self.root, domain, name, finder, problems, notes)
                    if points is not None:
                        size = shown_size(self.root / "images" / domain / name)
                        scaled = scale_landmarks(points, size, (image_size, image_size))
                        self._points[domain][name] = torch.from_numpy(scaled).float()
            self.names[domain] = names
        if notes:
            warnings.warn(
                f"landmarks found with dlib but not cached for {len(notes)} image(s), so they are found again next "
                f"time: {notes[0]}",
                stacklevel=2,
            )
        if problems:
            raise DatasetError(
                f"{len(problems)} problem(s) in the {split} split of the MT dataset at {self.root}:\n  "
                + "\n  ".join(problems)
            )

    def __len__(self) -> int:
        return max(len(names) for names in self.names.values())

    def _indices(self, index: int) -> tuple[int, int]:
        sources, references = self.names["non-makeup"], self.names["makeup"]
        generator = None if self.seed is None else torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        if len(sources) >= len(references):
            return index, int(torch.randint(len(references), (1,), generator=generator))
        return int(torch.randint(len(sources), (1,), generator=generator)), index

    def __getitem__(self, index: int) -> dict[str, object]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} pairs")
        i, j = self._indices(index)
        source_name, reference_name = self.names["non-makeup"][i], self.names["makeup"][j]
        source, source_labels = _load_pair(self.root, "non-makeup", source_name, self.image_size)
        reference, reference_labels = _load_pair(self.root, "makeup", reference_name, self.image_size)
        # The makeup-loss masks depend on the labels only: built here, in the loader workers, off the training step.
        masks = stacked_region_masks(torch.stack([source_labels, reference_labels]))
        item: dict[str, object] = {
            "source": source,
            "reference": reference,
            "source_labels": source_labels,
            "reference_labels": reference_labels,
            "source_masks": masks[0],
            "reference_masks": masks[1],
            "source_name": source_name,
            "reference_name": reference_name,
        }
        if self.landmarks:
            item["source_landmarks"] = self._points["non-makeup"][source_name].clone()
            item["reference_landmarks"] = self._points["makeup"][reference_name].clone()
        return item
