"""Makeup transfer on real photos: face-aware, at the photo's own resolution, one pair or whole folders.

With the ``faces`` extra (dlib), each photo's largest face is detected and aligned to the checkpoint's training
size exactly as ``beautygan prepare-faces`` aligns training data (:func:`~beautygan.faces.align_face`).
The generator runs on the aligned crops, in batches. What it changed (made-up crop minus source crop) is mapped back
into the source photo through the inverse alignment and added inside a feathered mask of the face: the landmarks'
face hull, from :func:`~beautygan.faces.label_map_from_landmarks`. So:

- the output has the source photo's size;
- every pixel outside the face hull is the source photo's, bit for bit;
- the face keeps the photo's own detail, and only the makeup change is upsampled from the training size.

PSGAN's and EleGANt's demos detect, align and paste back the same way. Without the extra, or with ``align=False``,
the whole photo is resized to the training square and that square is the output, with a note saying so.

    beautygan transfer --ckpt last.ckpt --source selfie.jpg --reference makeup.jpg --out selfie_made_up.png
    beautygan transfer --ckpt last.ckpt --source photos/ --reference looks/ --out results/ [--pairs pairs.txt]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter

from perceptual.images import (
    IMAGE_SUFFIXES,
    check_output_image,
    from_unit_range,
    image_files,
    load_image,
    save_image,
    to_unit_range,
)

from .data import read_pairs_file
from .inference import load_generator
from .metrics import uint8_image

__all__ = ["NoFaceError", "PhotoTransfer", "TransferOptions", "transfer_folders"]


class NoFaceError(ValueError):
    """No face was found in a photo (the message names it)."""


@dataclass(frozen=True)
class TransferOptions:
    """How photos are transferred.

    Args:
        align: detect and align faces (needs the ``faces`` extra; without it the whole image is used, with a note).
        margin: alignment margin, as ``prepare-faces --margin`` (1.0: the crop the training data had).
        feather: width of the blend's soft edge inside the face hull, as a share of the hull's larger side.
        batch_size: pairs per generator call.
        device: where the generator runs.
    """

    align: bool = True
    margin: float = 1.0
    feather: float = 0.04
    batch_size: int = 8
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not self.margin > 0:
            raise ValueError(f"margin must be > 0, got {self.margin}")
        if not 0 <= self.feather < 0.5:
            raise ValueError(f"feather must be in [0, 0.5), got {self.feather}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


@dataclass
class PreparedPhoto:
    """A photo ready for the generator: ``crop`` ``(3, S, S)`` in [-1, 1] (the aligned face, or the whole photo
    resized), and what is needed to paste a result back (``matrix``: photo -> crop pixel coordinates, ``None`` for a
    whole-image crop; ``landmarks`` in photo pixels)."""

    name: str
    photo: np.ndarray
    crop: torch.Tensor
    matrix: np.ndarray | None = None
    landmarks: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    paste_map: tuple[np.ndarray, tuple[int, int, int, int], torch.Tensor] | None = field(default=None, repr=False)
    """Blend weight, its box and the box's sampling grid into the crop: computed on the first paste, then reused
    for every reference this photo is paired with."""

    @property
    def aligned(self) -> bool:
        return self.matrix is not None


def _read_photo(photo: str | Path | np.ndarray | Image.Image, name: str | None) -> tuple[np.ndarray, str, list[str]]:
    if isinstance(photo, (str, Path)):
        tensor, notes = load_image(photo)
        return uint8_image(tensor, (0.0, 1.0)), name or Path(photo).name, list(notes)
    if isinstance(photo, Image.Image):
        return np.asarray(photo.convert("RGB")).copy(), name or "image", []
    if isinstance(photo, np.ndarray):
        if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
            raise ValueError(f"a photo array must be (H, W, 3) uint8, got shape {photo.shape} and dtype {photo.dtype}")
        return photo.copy(), name or "image", []
    raise TypeError(f"photo must be a path, a PIL image or an (H, W, 3) uint8 array, got {type(photo).__name__}")


class PhotoTransfer:
    """A trained generator applied to photos (see the module docstring).

    Args:
        ckpt: a ``beautygan fit`` checkpoint.
        options: :class:`TransferOptions`.
        models: the dlib :class:`~beautygan.faces.FaceModels` to use (default: loaded when
            ``options.align`` and the extra is installed).

    ``notes`` says how photos are handled (for example, why the whole image is used).
    """

    def __init__(self, ckpt: str | Path, options: TransferOptions | None = None, *, models: Any = None) -> None:
        self.options = options or TransferOptions()
        generator, self.size = load_generator(ckpt)
        self.generator = generator.to(self.options.device).eval()
        self.notes: list[str] = []
        self.models = None
        if self.options.align:
            if models is not None:
                self.models = models
            else:
                from .faces import FaceModels, FacesUnavailableError

                try:
                    self.models = FaceModels()
                except FacesUnavailableError as err:
                    self.notes.append(f"whole-image transfer: no face alignment ({err})")
        else:
            self.notes.append(f"whole-image transfer (--no-align): each photo is resized to {self.size}x{self.size}")

    # ------------------------------------------------------------------------------------------ preparing
    def prepare(self, photo: str | Path | np.ndarray | Image.Image, name: str | None = None) -> PreparedPhoto:
        """Read ``photo`` and cut the generator's input from it: the aligned largest face, or the whole photo.

        Raises :class:`NoFaceError` naming the photo when alignment is on and no face is found."""
        array, name, notes = _read_photo(photo, name)
        if self.models is None:
            image = torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255
            square = F.interpolate(image, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
            return PreparedPhoto(name, array, from_unit_range(square[0].clamp(0, 1), (-1, 1)), notes=notes)
        from .faces import align_face, alignment_matrix

        faces = self.models.detect(array)
        if not faces:
            raise NoFaceError(f"no face found in {name} ({array.shape[1]}x{array.shape[0]}); use a photo with a frontal face, or --no-align")
        if len(faces) > 1:
            notes.append(f"{len(faces)} faces found in {name}; the largest is used")
        landmarks = faces[0].landmarks
        crop, _ = align_face(array, landmarks, size=self.size, margin=self.options.margin)
        matrix = alignment_matrix(landmarks + 0.5, size=self.size, margin=self.options.margin)
        return PreparedPhoto(name, array, _to_model(crop), matrix=matrix, landmarks=landmarks, notes=notes)

    # ------------------------------------------------------------------------------------------ generating
    @torch.no_grad()
    def made_up_crops(self, pairs: Sequence[tuple[PreparedPhoto, PreparedPhoto]]) -> list[torch.Tensor]:
        """The generator's made-up crops ``(3, S, S)`` in [-1, 1] for ``(source, reference)`` pairs, batched."""
        out: list[torch.Tensor] = []
        device = self.options.device
        for start in range(0, len(pairs), self.options.batch_size):
            chunk = pairs[start : start + self.options.batch_size]
            sources = torch.stack([s.crop for s, _ in chunk]).to(device)
            references = torch.stack([r.crop for _, r in chunk]).to(device)
            made_up = self.generator(non_makeup=sources, makeup=references).makeup.float().clamp(-1, 1)
            out.extend(made_up.cpu().unbind(0))
        return out

    def paste(self, source: PreparedPhoto, made_up_crop: torch.Tensor) -> np.ndarray:
        """The photo with the made-up face: ``(H, W, 3)`` uint8 at the source photo's size when ``source`` is
        aligned (pixels outside the face hull unchanged), else the made-up square itself."""
        if source.matrix is None or source.landmarks is None:
            return uint8_image(made_up_crop, (-1.0, 1.0))
        if source.paste_map is None:
            source.paste_map = self._paste_map(source)
        weight, (left, top, right, bottom), grid = source.paste_map
        change = (made_up_crop - source.crop) * 127.5  # 0-255 units
        warped = F.grid_sample(change[None].float(), grid, mode="bilinear", padding_mode="border", align_corners=False)[0]
        region = source.photo[top:bottom, left:right].astype(np.float32)
        blended = region + weight[..., None] * warped.permute(1, 2, 0).numpy()
        out = source.photo.copy()
        out[top:bottom, left:right] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
        return out

    def _paste_map(self, source: PreparedPhoto) -> tuple[np.ndarray, tuple[int, int, int, int], torch.Tensor]:
        assert source.matrix is not None and source.landmarks is not None
        weight, box = face_weight(source.landmarks, source.photo.shape[:2], feather=self.options.feather)
        left, top, right, bottom = box
        ys, xs = torch.meshgrid(
            torch.arange(top, bottom, dtype=torch.float64) + 0.5, torch.arange(left, right, dtype=torch.float64) + 0.5, indexing="ij"
        )
        matrix = torch.from_numpy(source.matrix)
        u = matrix[0, 0] * xs + matrix[0, 1] * ys + matrix[0, 2]  # crop coordinates of each photo pixel centre
        v = matrix[1, 0] * xs + matrix[1, 1] * ys + matrix[1, 2]
        grid = torch.stack([u / self.size * 2 - 1, v / self.size * 2 - 1], dim=-1).float()[None]
        return weight, box, grid

    def __call__(self, source: PreparedPhoto, reference: PreparedPhoto) -> np.ndarray:
        """One pair: the made-up photo (see :meth:`paste`)."""
        (crop,) = self.made_up_crops([(source, reference)])
        return self.paste(source, crop)


def face_weight(landmarks: np.ndarray, shape: tuple[int, int], *, feather: float) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The blend weight of the face: 1 inside the landmarks' face hull, falling to 0 at its edge over ``feather``
    of its larger side, exactly 0 outside. Returns the weight over the hull's bounding box ``(left, top, right,
    bottom)`` (float32, ``(bottom - top, right - left)``) and that box."""
    from .faces import label_map_from_landmarks

    height, width = shape
    hull = label_map_from_landmarks(landmarks, (height, width)) != 0
    rows, cols = np.nonzero(hull.any(axis=1))[0], np.nonzero(hull.any(axis=0))[0]
    if len(rows) == 0:
        raise NoFaceError("the face hull from the landmarks lies outside the photo")
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    inside = hull[top:bottom, left:right]
    radius = feather * max(bottom - top, right - left)
    if radius < 0.5:
        return inside.astype(np.float32), (left, top, right, bottom)
    pad = int(np.ceil(3 * radius)) + 1
    padded = np.pad(inside.astype(np.uint8) * 255, pad)
    soft = np.asarray(Image.fromarray(padded).filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32)[pad:-pad, pad:-pad] / 255
    # 0.5 at the hull's edge after the blur: rescale so the weight reaches 0 there and 1 inside; never outside.
    weight = np.clip(2 * soft - 1, 0, 1) * inside
    return weight.astype(np.float32), (left, top, right, bottom)


def _to_model(image: np.ndarray) -> torch.Tensor:
    return from_unit_range(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255, (-1, 1))


# ---------------------------------------------------------------------------------------------- folders
def list_images(path: str | Path) -> list[Path]:
    """``path`` itself, or the images in folder ``path`` (sorted; by suffix), with a clear error for neither."""
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = image_files(path)
        if not files:
            raise FileNotFoundError(f"{path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        return files
    raise FileNotFoundError(f"{path}: no such file or folder")


def read_pairs(path: str | Path, sources: Sequence[Path], references: Sequence[Path]) -> list[tuple[Path, Path]]:
    """``source_name reference_name`` per line (``#`` comments, blank lines ignored), names as in the folders."""
    by_source = {p.name: p for p in sources}
    by_reference = {p.name: p for p in references}
    pairs = []
    for number, parts in read_pairs_file(path, form="source_name reference_name"):
        missing = [n for n, known in zip(parts, (by_source, by_reference)) if n not in known]
        if missing:
            raise ValueError(f"{path}:{number}: {missing} not among the source / reference images")
        pairs.append((by_source[parts[0]], by_reference[parts[1]]))
    if not pairs:
        raise ValueError(f"{path} lists no pairs")
    return pairs


@dataclass
class TransferReport:
    """What a folder run wrote, and what failed (one line per photo or pair, with the reason)."""

    written: list[Path] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def format(self) -> str:
        lines = [f"wrote {len(self.written)} image(s)"]
        lines += [f"note: {note}" for note in dict.fromkeys(self.notes)]
        if self.failures:
            lines.append(f"{len(self.failures)} failed:")
            lines += [f"  {name}: {reason}" for name, reason in self.failures]
        return "\n".join(lines)


def output_name(source: Path | str, reference: Path | str, suffix: str = ".png") -> str:
    return f"{Path(source).stem}__{Path(reference).stem}{suffix}"


def transfer_folders(
    transfer: PhotoTransfer,
    pairs: Sequence[tuple[Path, Path]],
    out_dir: str | Path,
    *,
    progress: bool = True,
) -> TransferReport:
    """Every ``(source, reference)`` pair into ``out_dir/<source>__<reference>.png``. Each photo is read and
    aligned once and dropped after its last pair (memory follows the batch, not the folder); a photo that fails
    (unreadable, no face) fails its pairs only; the rest are written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = TransferReport(notes=list(transfer.notes))
    prepared: dict[Path, PreparedPhoto | str] = {}
    uses: dict[Path, int] = {}
    for source, reference in pairs:
        uses[source] = uses.get(source, 0) + 1
        uses[reference] = uses.get(reference, 0) + 1

    def get(path: Path) -> PreparedPhoto | str:
        if path not in prepared:
            try:
                photo = transfer.prepare(path)
                report.notes.extend(photo.notes)
                prepared[path] = photo
            except (ValueError, OSError) as err:
                prepared[path] = str(err)
                report.failures.append((path.name, str(err)))
        return prepared[path]

    iterator: Iterable[int] = range(0, len(pairs), transfer.options.batch_size)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(pairs), desc="transfer", unit="pair", file=sys.stderr)
    for start in iterator:
        chunk = pairs[start : start + transfer.options.batch_size]
        ready = []
        for source, reference in chunk:
            s, r = get(source), get(reference)
            if isinstance(s, PreparedPhoto) and isinstance(r, PreparedPhoto):
                ready.append((source, reference, s, r))
        crops = transfer.made_up_crops([(s, r) for _, _, s, r in ready]) if ready else []
        for (source, reference, s, _), crop in zip(ready, crops):
            target = out_dir / output_name(source, reference)
            try:
                image = transfer.paste(s, crop)
                report.written.append(save_image(torch.from_numpy(image).permute(2, 0, 1), target))
            except (ValueError, OSError) as err:
                report.failures.append((target.name, str(err)))
        for source, reference in chunk:
            for path in (source, reference):
                uses[path] -= 1
                if uses[path] == 0 and isinstance(prepared.get(path), PreparedPhoto):
                    del prepared[path]  # a failure stays cached as its message
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return report


# ---------------------------------------------------------------------------------------------- CLI
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="beautygan transfer",
        description="Put a reference face's makeup on a source photo (face-aware with the 'faces' extra), or on "
        "every pair of two folders.",
    )
    parser.add_argument("--ckpt", required=True, type=Path, help="checkpoint written by `beautygan fit`")
    parser.add_argument("--source", required=True, type=Path, help="photo without makeup, or a folder of them")
    parser.add_argument("--reference", required=True, type=Path, help="photo with the makeup, or a folder of them")
    parser.add_argument("--out", required=True, type=Path, help="output image (one pair) or folder (folders)")
    parser.add_argument("--pairs", type=Path, default=None, help="with folders: 'source_name reference_name' per line (default: every pair)")
    parser.add_argument("--no-align", action="store_true", help="no face detection: the whole photo, resized to the training square")
    parser.add_argument("--demakeup-out", type=Path, default=None, help="one pair: also write the reference with its makeup removed")
    parser.add_argument("--size", type=int, default=None, help="whole-image transfer at this square size (implies --no-align)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    from .checkpoints import CheckpointError

    try:
        folders = args.source.is_dir() or args.reference.is_dir()
        if not folders and args.pairs is not None:
            raise ValueError("--pairs needs --source and --reference folders")
        if folders:
            if args.out.exists() and not args.out.is_dir():
                raise ValueError(f"--out {args.out} is a file; with folders --out names a folder")
            if args.demakeup_out is not None or args.size is not None:
                raise ValueError("--demakeup-out and --size are for one pair, not folders")
            sources, references = list_images(args.source), list_images(args.reference)
            pairs = read_pairs(args.pairs, sources, references) if args.pairs else [(s, r) for s in sources for r in references]
        else:
            check_output_image(args.out, "--out")
            if args.demakeup_out is not None:
                check_output_image(args.demakeup_out, "--demakeup-out")
            for path, what in ((args.source, "--source"), (args.reference, "--reference")):
                if not path.is_file():
                    raise FileNotFoundError(f"{what} {path}: no such file or folder")
        options = TransferOptions(align=not args.no_align, batch_size=args.batch_size, device=args.device)
        if args.size is not None and not folders:
            from .inference import transfer as whole_image_transfer

            path = whole_image_transfer(args.ckpt, args.source, args.reference, args.out, image_size=args.size,
                                        demakeup_out=args.demakeup_out, device=args.device)  # fmt: skip
            print(f"note: whole-image transfer at {args.size}x{args.size}\nwrote {path}")
            return 0
        transfer = PhotoTransfer(args.ckpt, options)
        if folders:
            report = transfer_folders(transfer, pairs, args.out, progress=sys.stderr.isatty())
            print(report.format())
            return 1 if report.failures else 0
        source, reference = transfer.prepare(args.source), transfer.prepare(args.reference)
        (crop,) = transfer.made_up_crops([(source, reference)])
        image = transfer.paste(source, crop)
        if args.demakeup_out is not None:
            with torch.no_grad():
                demade = transfer.generator(
                    non_makeup=source.crop[None].to(args.device), makeup=reference.crop[None].to(args.device)
                ).non_makeup
            save_image(to_unit_range(demade[0].cpu(), (-1, 1)), args.demakeup_out)
        path = save_image(torch.from_numpy(image).permute(2, 0, 1), args.out)
        for note in dict.fromkeys([*transfer.notes, *source.notes, *reference.notes]):
            print(f"note: {note}")
        what = "face-aware, pasted into the photo" if source.aligned else "whole image"
        print(f"wrote {path} ({image.shape[1]}x{image.shape[0]}, {what})")
        return 0
    except (ValueError, FileNotFoundError, CheckpointError, RuntimeError) as err:
        print(f"beautygan transfer: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
