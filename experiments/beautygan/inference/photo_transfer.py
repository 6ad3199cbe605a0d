"""Makeup transfer on real photos: face-aware, at the photo's own resolution, with the user's controls (whole
folders: :mod:`beautygan.inference.folders`).

With the ``faces`` extra (dlib), each photo's largest face is detected and aligned to the checkpoint's training
size exactly as ``beautygan prepare-faces`` aligns training data (:func:`~beautygan.data.faces.align_face`).
The generator runs on the aligned crops, in batches. What it changed (made-up crop minus source crop) is mapped back
into the source photo through the inverse alignment and added inside a feathered mask of the face: the landmarks'
face hull, from :func:`~beautygan.data.faces.label_map_from_landmarks` (:mod:`beautygan.inference.paste`). So:

- the output has the source photo's size;
- every pixel outside the face hull is the source photo's, bit for bit, at any strength;
- the face keeps the photo's own detail, and only the makeup change is upsampled from the training size.

PSGAN's and EleGANt's demos detect, align and paste back the same way. Without the extra, or with ``align=False``,
the whole photo is resized to the training square and that square is the output, with a note saying so.

:class:`~beautygan.inference.controls.MakeupControls` set the strength (globally and per region) and which reference
each region's look comes from; :meth:`PhotoTransfer.interpolate` moves between two looks inside the generator (the
makeup codes are mixed, and the rest of the network paints the mix). Region masks come from the landmarks on
photos, or from the MT label map beside an image in the MT layout (``images/<domain>/x.png`` ->
``segs/<domain>/x.png``).

Both generators run the same way (:class:`~beautygan.inference.trained_generator.TrainedGenerator`). A PSGAN-style
checkpoint also needs each photo's face geometry (regions and 68 landmarks at the crop); :meth:`PhotoTransfer.prepare`
computes it then, and only then (:mod:`beautygan.inference.photo_geometry`: from the aligner's landmarks on photos,
from the files beside an MT-layout image used whole, else from dlib).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from perceptual.images import from_unit_range, load_image, uint8_image

from ..data.faces import NoFaceError
from ..data.image_size import check_image_size
from ..data.mt import mt_labels_path, read_labels
from ..data.regions import CONTROL_REGIONS, FACE_PARTS, control_regions
from ..models.psgan import FaceGeometry
from .controls import MakeupControls, compose, feather_regions
from .paste import PasteMap, paste_map
from .photo_geometry import drawn_geometry, whole_image_geometry
from .trained_generator import Code, TrainedGenerator, code_items

__all__ = ["Photo", "PhotoTransfer", "PreparedPhoto", "TransferOptions"]

Photo = Any
"""What a photo may be: a path, a PIL image, an ``(H, W, 3)`` uint8 array, or a :class:`PreparedPhoto`."""


@dataclass(frozen=True)
class TransferOptions:
    """How photos are transferred.

    Args:
        align: detect and align faces (needs the ``faces`` extra; without it the whole image is used, with a note).
        size: the square side of whole-image transfer (``align=False``); default: the checkpoint's training size.
        margin: alignment margin, as ``prepare-faces --margin`` (1.0: the crop the training data had).
        feather: width of the soft edges, as a share of the face's larger side: of the blend inside the face hull
            and of the region masks of per-region controls.
        batch_size: pairs per generator call.
        device: where the generator runs.
    """

    align: bool = True
    size: int | None = None
    margin: float = 1.0
    feather: float = 0.04
    batch_size: int = 8
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.size is not None:
            check_image_size(self.size, "size")
        if self.size is not None and self.align:
            raise ValueError("size sets the square of whole-image transfer: use it with align=False")
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
    whole-image crop; ``landmarks`` in photo pixels). ``labels``: an MT label map of the crop, when the photo lies
    in the MT layout or one was drawn (for per-region controls, or for the geometry of a whole image).
    ``geometry``: the crop's face geometry, for a generator that needs it (the PSGAN-style one)."""

    name: str
    photo: np.ndarray
    crop: Tensor
    matrix: np.ndarray | None = None
    landmarks: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    labels: Tensor | None = field(default=None, repr=False)
    paste_map: PasteMap | None = field(default=None, repr=False)
    """Computed on the first paste, then reused for every reference this photo is paired with."""
    code: Code | None = field(default=None, repr=False)
    """The photo's makeup code (the generator's ``makeup_code``: one item), once used as a reference."""
    region_weights: Tensor | None = field(default=None, repr=False)
    """Feathered lips / eyes / skin weights ``(3, h, w)`` (over the paste box, or the crop), once controls need them."""
    geometry: FaceGeometry | None = field(default=None, repr=False)
    """The crop's lips, skin and eye regions and 68 landmarks (a batch of one), when the generator needs them."""

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


@dataclass(frozen=True)
class _Look:
    """A look the generator paints: a reference's code, or a mix of two codes. ``key`` identifies it."""

    key: tuple
    code: Code


@dataclass
class _Slot:
    """One layer of a result: the look (``None``: the source's own) at a strength."""

    look: _Look | None
    strength: float

    def same_as(self, other: _Slot) -> bool:
        keys = (None if self.look is None else self.look.key, None if other.look is None else other.look.key)
        return keys[0] == keys[1] and (self.look is None or self.strength == other.strength)


class PhotoTransfer:
    """A trained generator applied to photos (see the module docstring).

    Args:
        ckpt: a ``beautygan fit`` checkpoint (or a folder holding one ``last.ckpt``).
        options: :class:`TransferOptions`.
        models: the dlib :class:`~beautygan.data.faces.FaceModels` to use (default: loaded when
            ``options.align`` and the extra is installed, or when per-region controls need landmarks).

    ``notes`` says how photos are handled (for example, why the whole image is used).
    """

    def __init__(self, ckpt: str | Path, options: TransferOptions | None = None, *, models: Any = None) -> None:
        self.options = options or TransferOptions()
        self.model = TrainedGenerator.load(ckpt, device=self.options.device)
        self.generator = self.model.generator
        self.size = self.options.size or self.model.size
        self.notes: list[str] = list(self.model.notes)
        self.models = models
        if self.options.align:
            if models is None:
                from ..data.faces import FaceModels, FacesUnavailableError

                try:
                    self.models = FaceModels()
                except FacesUnavailableError as err:
                    self.notes.append(f"whole-image transfer: no face alignment ({err})")
        else:
            why = f"--size {self.options.size}" if self.options.size else "--no-align"
            self.notes.append(f"whole-image transfer ({why}): each photo is resized to {self.size}x{self.size}")
        self.align = self.options.align and self.models is not None

    # ------------------------------------------------------------------------------------------ preparing
    def prepare(self, photo: Photo, name: str | None = None) -> PreparedPhoto:
        """Read ``photo`` and cut the generator's input from it: the aligned largest face, or the whole photo.

        Raises :class:`NoFaceError` naming the photo when alignment is on and no face is found."""
        if isinstance(photo, PreparedPhoto):
            return photo
        array, name, notes = _read_photo(photo, name)
        if not self.align:
            height, width = array.shape[:2]
            if min(height, width) < self.size:
                notes.append(
                    f"{name} is {width}x{height}: upscaled to {self.size}x{self.size}, so its result is blurry"
                )
            image = torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255
            square = F.interpolate(
                image, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False
            )
            labels_file = mt_labels_path(photo) if isinstance(photo, (str, Path)) else None
            labels = read_labels(labels_file, size=self.size) if labels_file is not None else None
            geometry = None
            if self.model.needs_geometry:
                labels, geometry = whole_image_geometry(
                    array,
                    size=self.size,
                    name=name,
                    path=photo if isinstance(photo, (str, Path)) else None,
                    labels=labels,
                    models=self._landmark_models,
                )
            return PreparedPhoto(
                name,
                array,
                from_unit_range(square[0].clamp(0, 1), (-1, 1)),
                notes=notes,
                labels=labels,
                geometry=geometry,
            )
        from ..data.faces import align_face, alignment_matrix

        faces = self.models.detect(array)
        if not faces:
            raise NoFaceError(
                f"no face found in {name} ({array.shape[1]}x{array.shape[0]}); use a photo with a frontal face, or --no-align"
            )
        if len(faces) > 1:
            notes.append(f"{len(faces)} faces found in {name}; the largest is used")
        landmarks = faces[0].landmarks
        crop, points = align_face(array, landmarks, size=self.size, margin=self.options.margin)
        matrix = alignment_matrix(landmarks + 0.5, size=self.size, margin=self.options.margin)
        geometry = drawn_geometry(points, self.size)[1] if self.model.needs_geometry else None
        return PreparedPhoto(
            name, array, _to_model(crop), matrix=matrix, landmarks=landmarks, notes=notes, geometry=geometry
        )

    def _landmark_models(self, why: str) -> Any:
        """dlib's face models, to find the landmarks of a whole image that has none stored (``why`` says so)."""
        if self.models is None:
            from ..data.faces import FaceModels, FacesUnavailableError

            try:
                self.models = FaceModels()
            except FacesUnavailableError as err:
                raise ValueError(
                    f"the PSGAN-style generator needs the face's 68 landmarks: {why}, and dlib is unavailable ({err})"
                ) from None
        return self.models

    def prepare_controls(self, controls: MakeupControls | None) -> MakeupControls:
        """``controls`` with every per-region reference prepared (read, detected, aligned) once."""
        controls = controls or MakeupControls()
        by_source: dict[Any, PreparedPhoto] = {}  # one reference given for several regions is one look
        prepared = {}
        for region, reference in controls.region_references.items():
            key = str(Path(reference).resolve()) if isinstance(reference, (str, Path)) else id(reference)
            if key not in by_source:
                by_source[key] = self.prepare(reference)
            prepared[region] = by_source[key]
        return replace(controls, **prepared) if prepared else controls

    # ------------------------------------------------------------------------------------------ generating
    def _code(self, photos: Sequence[PreparedPhoto]) -> None:
        todo = list({id(p): p for p in photos if p.code is None}.values())
        if todo:
            geometries = FaceGeometry.cat([self._geometry(p) for p in todo]) if self.model.needs_geometry else None
            codes = self.model.codes(
                torch.stack([p.crop for p in todo]), geometries, batch_size=self.options.batch_size
            )
            for photo, code in zip(todo, code_items(codes)):
                photo.code = code

    def _geometry(self, photo: PreparedPhoto) -> FaceGeometry:
        if photo.geometry is None:  # prepared by another transfer, for a generator that needed none
            raise ValueError(
                f"{photo.name} was prepared without its face geometry, which the PSGAN-style generator needs: "
                "prepare it with this transfer"
            )
        return photo.geometry

    def look(self, reference: PreparedPhoto) -> _Look:
        """The look of a prepared reference (its makeup code, computed once)."""
        self._code([reference])
        assert reference.code is not None
        return _Look(("reference", id(reference)), reference.code)

    def _paint(self, jobs: Sequence[tuple[PreparedPhoto, _Look]]) -> dict[tuple[int, tuple], Tensor]:
        """Run the generator once for every distinct (source, look) of ``jobs``."""
        distinct = {(id(source), look.key): (source, look) for source, look in jobs}
        keys = list(distinct)
        sources = [distinct[k][0] for k in keys]
        crops = self.model.made_up(
            [source.crop for source in sources],
            [distinct[k][1].code for k in keys],
            [self._geometry(source) for source in sources] if self.model.needs_geometry else None,
            batch_size=self.options.batch_size,
        )
        return dict(zip(keys, crops))

    @torch.no_grad()
    def made_up_crops(self, pairs: Sequence[tuple[PreparedPhoto, PreparedPhoto]]) -> list[Tensor]:
        """The generator's made-up crops ``(3, S, S)`` in [-1, 1] for ``(source, reference)`` pairs, batched."""
        self._code([r for _, r in pairs])
        painted = self._paint([(s, self.look(r)) for s, r in pairs])
        return [painted[(id(s), self.look(r).key)] for s, r in pairs]

    # ------------------------------------------------------------------------------------------ composing
    def _slots(self, reference: _Look | None, controls: MakeupControls) -> tuple[_Slot, dict[str, _Slot]]:
        base = _Slot(reference, controls.strength)
        regions = {}
        for region in CONTROL_REGIONS:
            own = controls.reference_of(region)
            slot = _Slot(self.look(own) if own is not None else reference, controls.strength_of(region))
            if not slot.same_as(base):
                regions[region] = slot
        return base, regions

    def _region_weights(self, source: PreparedPhoto) -> Tensor:
        """Feathered lips / eyes / skin weights ``(3, h, w)``: over the paste box of an aligned photo, over the crop
        of a whole-image one (from its MT label map, or from landmarks detected for it)."""
        if source.region_weights is not None:
            return source.region_weights
        crop_side: float | None = None  # the aligned crop's side in the label map's pixels
        if source.aligned:
            paste = self._paste_map(source)
            labels = torch.from_numpy(paste.labels.astype(np.int64))
            left, top, right, bottom = paste.box
            side = max(bottom - top, right - left)
            assert source.matrix is not None
            crop_side = self.size / float(np.hypot(*source.matrix[0, :2]))  # matrix: photo -> crop pixels
        else:
            if source.labels is None:
                source.labels = self._draw_labels(source)
            labels = source.labels.reshape(source.labels.shape[-2:])
            face = np.isin(labels.numpy(), [int(label) for label in FACE_PARTS])
            rows, cols = np.flatnonzero(face.any(1)), np.flatnonzero(face.any(0))
            side = max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) if rows.size else 0
        regions = control_regions(labels[None, None], face_side=crop_side)
        weights = feather_regions(regions, self.options.feather * side)[0]
        # Inside the face the regions share every pixel (their weights sum to 1); the feathering softens only the
        # face's outer border, where the rest of the picture takes over.
        total = weights.sum(dim=0)
        source.region_weights = torch.where(regions[0].any(dim=0) & (total > 0), weights / total, weights)
        return source.region_weights

    def _draw_labels(self, source: PreparedPhoto) -> Tensor:
        """An MT label map of a whole-image crop from dlib's landmarks (per-region controls on a photo that has no
        label map beside it)."""
        from ..data.faces import FaceModels, FacesUnavailableError, label_map_from_landmarks

        if self.models is None:
            try:
                self.models = FaceModels()
            except FacesUnavailableError as err:
                raise ValueError(
                    f"per-region controls need the face's regions: {source.name} has no MT label map beside it and "
                    f"face landmarks are unavailable ({err})"
                ) from None
        faces = self.models.detect(source.photo)
        if not faces:
            raise NoFaceError(f"no face found in {source.name}: per-region controls need its lips, eyes and skin")
        height, width = source.photo.shape[:2]
        labels = label_map_from_landmarks(faces[0].landmarks, (height, width))
        resized = Image.fromarray(labels).resize((self.size, self.size), Image.NEAREST)
        return torch.from_numpy(np.asarray(resized).astype(np.int64))

    def _compose(self, source: PreparedPhoto, base: _Slot, regions: dict[str, _Slot], painted: dict) -> np.ndarray:
        if source.aligned:
            return self._compose_aligned(source, base, regions, painted)
        crop = source.crop

        def value(slot: _Slot) -> Tensor:  # the share `strength` of the way from the source to the look
            if slot.look is None:
                return crop
            return torch.lerp(crop, painted[(id(source), slot.look.key)], slot.strength)

        layers = []
        if regions:
            weights = self._region_weights(source)
            layers = [(weights[CONTROL_REGIONS.index(r)], value(slot)) for r, slot in regions.items()]
        return uint8_image(compose(value(base), layers).clamp(-1, 1), (-1.0, 1.0))

    def _compose_aligned(
        self, source: PreparedPhoto, base: _Slot, regions: dict[str, _Slot], painted: dict
    ) -> np.ndarray:
        paste = self._paste_map(source)
        left, top, right, bottom = paste.box

        def change(slot: _Slot) -> Tensor | None:  # the slot's change of the photo, 0-255 units, over the box
            if slot.look is None:
                return None
            delta = (painted[(id(source), slot.look.key)] - source.crop) * 127.5
            warped = F.grid_sample(
                delta[None].float(), paste.grid, mode="bilinear", padding_mode="border", align_corners=False
            )[0]
            return warped if slot.strength == 1 else warped * slot.strength

        base_change = change(base)
        region_changes = {region: change(slot) for region, slot in regions.items()}
        if base_change is None and not any(c is not None for c in region_changes.values()):
            return source.photo.copy()
        zero = torch.zeros((3, bottom - top, right - left))
        base_value = base_change if base_change is not None else zero
        layers = []
        if regions:
            weights = self._region_weights(source)
            layers = [(weights[CONTROL_REGIONS.index(r)], zero if c is None else c) for r, c in region_changes.items()]
        total = compose(base_value, layers).permute(1, 2, 0).numpy()
        region = source.photo[top:bottom, left:right].astype(np.float32)
        blended = region + paste.weight[..., None] * total
        out = source.photo.copy()
        out[top:bottom, left:right] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
        return out

    def paste(self, source: PreparedPhoto, made_up_crop: Tensor) -> np.ndarray:
        """The photo with the made-up face: ``(H, W, 3)`` uint8 at the source photo's size when ``source`` is
        aligned (pixels outside the face hull unchanged), else the made-up square itself."""
        look = _Look(("crop", id(made_up_crop)), torch.empty(0))
        return self._compose(source, _Slot(look, 1.0), {}, {(id(source), look.key): made_up_crop})

    def _paste_map(self, source: PreparedPhoto) -> PasteMap:
        if source.paste_map is None:
            if source.matrix is None or source.landmarks is None:
                raise ValueError(f"{source.name} is a whole-image crop: it has no paste map")
            source.paste_map = paste_map(
                source.landmarks, source.matrix, source.photo.shape[:2], size=self.size, feather=self.options.feather
            )
        return source.paste_map

    # ------------------------------------------------------------------------------------------ results
    def transfer_batch(
        self, pairs: Sequence[tuple[Photo, Photo | None]], controls: MakeupControls | None = None
    ) -> list[np.ndarray]:
        """The made-up photo of each ``(source, reference)`` pair under ``controls`` (``reference`` may be ``None``
        when the controls give per-region references). Generator calls are batched over every pair and look."""
        controls = self.prepare_controls(controls)
        prepared = [(self.prepare(s), None if r is None else self.prepare(r)) for s, r in pairs]
        references = [r for _, r in prepared if r is not None] + list(controls.region_references.values())
        self._code(references)
        plans = []
        for source, reference in prepared:
            base, regions = self._slots(None if reference is None else self.look(reference), controls)
            if base.look is None and all(slot.look is None for slot in regions.values()):
                raise ValueError(
                    "nothing to transfer: give a reference, or a reference for a region (lips, eyes, skin)"
                )
            plans.append((source, base, regions))
        jobs = [
            (s, slot.look) for s, base, regions in plans for slot in (base, *regions.values()) if slot.look is not None
        ]
        painted = self._paint(jobs)
        return [self._compose(source, base, regions, painted) for source, base, regions in plans]

    def transfer(
        self, source: Photo, reference: Photo | None = None, controls: MakeupControls | None = None
    ) -> np.ndarray:
        """One pair: the made-up photo, ``(H, W, 3)`` uint8 (see :meth:`paste` for its size)."""
        (out,) = self.transfer_batch([(source, reference)], controls)
        return out

    __call__ = transfer

    def interpolate(
        self,
        source: Photo,
        start: Photo,
        end: Photo | None = None,
        *,
        weights: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
        controls: MakeupControls | None = None,
    ) -> list[np.ndarray]:
        """``source`` wearing looks between two, mixed inside the generator: the makeup codes of ``start`` and
        ``end`` are mixed with the weights ``(1 - t, t)`` for each ``t`` of ``weights`` (the generator's
        ``mix_codes``: BeautyGAN's codes are interpolated linearly; for PSGAN, the ``γ``, ``β`` of both references
        morphed onto the source) and the rest of the network paints each mix. With ``end=None`` the path runs from the source's own code (its look as the
        generator reads it) to ``start``'s. ``t = 0`` and ``t = 1`` are the transfers from the two ends; ``controls``
        apply to every step."""
        controls = self.prepare_controls(controls)
        source = self.prepare(source)
        first, last = (source, self.prepare(start)) if end is None else (self.prepare(start), self.prepare(end))
        self._code([first, last, *controls.region_references.values()])
        assert first.code is not None and last.code is not None
        looks = []
        for t in weights:
            if not 0 <= t <= 1:
                raise ValueError(f"interpolation weights must be in [0, 1], got {t}")
            if t == 0:
                looks.append(self.look(first))
            elif t == 1:
                looks.append(self.look(last))
            else:
                mixed = self.model.mix([first.code, last.code], [1.0 - float(t), float(t)])
                looks.append(_Look(("mix", id(first), id(last), float(t)), mixed))
        plans = [(look, *self._slots(look, controls)) for look in looks]
        jobs = [
            (source, slot.look)
            for _, base, regions in plans
            for slot in (base, *regions.values())
            if slot.look is not None
        ]
        painted = self._paint(jobs)
        return [self._compose(source, base, regions, painted) for _, base, regions in plans]

    def demakeup(self, source: Photo, reference: Photo) -> np.ndarray:
        """The reference with its makeup removed (the generator's other output for the pair), at the training size."""
        source, reference = self.prepare(source), self.prepare(reference)
        geometries = (self._geometry(source), self._geometry(reference)) if self.model.needs_geometry else (None, None)
        out = self.model.translate(source.crop[None], reference.crop[None], *geometries).non_makeup[0]
        return uint8_image(out, (-1.0, 1.0))

    def face_view(self, source: PreparedPhoto, image: np.ndarray, size: int) -> np.ndarray:
        """``size x size`` view of a result's face: the aligned crop of an aligned photo (what the generator saw,
        now with its makeup pasted back), the whole square otherwise."""
        if source.aligned:
            from ..data.faces import align_face

            assert source.landmarks is not None
            view, _ = align_face(image, source.landmarks, size=size, margin=self.options.margin)
            return view
        picture = Image.fromarray(image)
        if picture.size != (size, size):
            picture = picture.resize((size, size), Image.LANCZOS if picture.size[0] > size else Image.NEAREST)
        return np.asarray(picture)


def _to_model(image: np.ndarray) -> Tensor:
    return from_unit_range(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255, (-1, 1))
