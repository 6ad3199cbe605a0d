"""The work of ``beautygan app``'s web page, without Gradio (tests call it directly): :class:`MakeupApp` reads the
photos, transfers with the makeup controls (:class:`~beautygan.inference.controls.MakeupControls`, an interpolation
towards a second reference with :meth:`~beautygan.inference.photo_transfer.PhotoTransfer.interpolate`) and draws
what VGG sees of the change (:mod:`beautygan.app.vgg_view`); each request is one :class:`AppResult`. The page
itself is :mod:`beautygan.app.page`.

Photos are read by :func:`perceptual.images.load_image` (unreadable files are refused with its message). Before
any decoding, a photo over 40 megapixels (read from the file's header: a PNG of 20 KB can claim 169 megapixels
and take 9 GB to decode) or over 100 MB is refused with a message (:mod:`beautygan.data.photo_limits`). The demo's
held-out faces are aligned MT-layout crops in which dlib finds no face: chosen as examples, they are used whole, as
``beautygan transfer --no-align`` uses them. Bad input is a message on the page, never a traceback.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from perceptual.images import ImageLoadError, uint8_image

from ..data.faces import NoFaceError
from ..data.photo_limits import MAX_FILE_MB, MAX_MEGAPIXELS, PhotoTooLargeError, check_limits, check_photo_size
from ..inference.controls import MakeupControls
from ..inference.photo_transfer import PhotoTransfer, PreparedPhoto
from .vgg_view import SHOWN_CHANNELS, VGGView

__all__ = ["VIEW_SIZE", "AppResult", "InputError", "MakeupApp", "markdown_escape", "vgg_heading"]

log = logging.getLogger(__name__)

VIEW_SIZE = 224
"""Side of the face views VGG compares (VGG's own input size)."""


def vgg_heading(view: VGGView) -> str:
    """The VGG panel's first words (Markdown): which VGG draws it, or why there is none."""
    if view.problem is not None:
        return f"⚠️ {markdown_escape(view.problem)}"
    return f"**What VGG sees** ({markdown_escape(view.description)})"


# ---------------------------------------------------------------------------------------------- the work
class InputError(ValueError):
    """Input the page answers with a message (no face, unreadable file, missing photo, bad strength)."""


@dataclass
class AppResult:
    """What one request shows: the ``result`` (``(H, W, 3)`` uint8, the photo's own size for an aligned face),
    ``before`` (the source as the result is laid out), VGG ``pictures`` with captions, the VGG panel's text and the
    ``status`` message. On bad input only ``status`` is set."""

    status: str
    result: np.ndarray | None = None
    before: np.ndarray | None = None
    pictures: list[tuple[np.ndarray, str]] = field(default_factory=list)
    vgg_text: str = ""

    @property
    def ok(self) -> bool:
        return self.result is not None


def _path(photo: Any) -> str | None:
    """A photo input as a file path: Gradio passes file records (``{"path": ...}``), tests pass paths."""
    if photo is None:
        return None
    if isinstance(photo, Mapping):
        return photo.get("path")
    if isinstance(photo, (str, os.PathLike)):
        return os.fspath(photo)
    raise TypeError(f"a photo must be a file path or a Gradio file record, got {type(photo).__name__}")


class MakeupApp:
    """The page's work, without Gradio.

    Args:
        transfer: the :class:`~beautygan.inference.photo_transfer.PhotoTransfer` (face-aware or whole-image).
        vgg: the :class:`VGGView` of the comparison.
        examples: an MT-layout folder (``beautygan synthetic``'s, the demo's ``data/synthetic_mt``) whose held-out
            faces are offered as examples and used whole (they are aligned crops already); ``None``: none.
        astronaut: offer scikit-image's astronaut (a real photo) as a source example when scikit-image is installed.
        max_megapixels: the largest photo taken, in megapixels, read from the file's header before decoding.
        max_file_mb: the largest photo file taken, in MB.
    """

    def __init__(
        self,
        transfer: PhotoTransfer,
        *,
        vgg: VGGView,
        examples: str | Path | None = None,
        astronaut: bool = True,
        max_megapixels: float = MAX_MEGAPIXELS,
        max_file_mb: float = MAX_FILE_MB,
    ) -> None:
        if not isinstance(transfer, PhotoTransfer):
            raise TypeError(
                f"transfer must be a beautygan.inference.photo_transfer.PhotoTransfer, got {type(transfer).__name__}"
            )
        if not isinstance(vgg, VGGView):
            raise TypeError(f"vgg must be a VGGView (VGGView.load(...)), got {type(vgg).__name__}")
        check_limits(max_megapixels, max_file_mb)
        self.max_megapixels = float(max_megapixels)
        self.max_file_mb = float(max_file_mb)
        self.transfer = transfer
        self.vgg = vgg
        self.notes: list[str] = list(transfer.notes)
        self.whole = transfer
        if transfer.align:  # for aligned crops (the examples): whole-image preparation at the same size
            self.whole = PhotoTransfer(transfer.model.checkpoint, replace(transfer.options, align=False, size=None))
        self.source_examples: list[Path] = _astronaut_file() if astronaut else []
        self.reference_examples: list[Path] = []
        faces: list[Path] = []
        if examples is not None:
            from ..inference.gallery import mt_layout_images

            try:
                sources, self.reference_examples, _ = mt_layout_images(examples, 4)
                faces = [*sources, *self.reference_examples]
                self.source_examples += sources
            except (FileNotFoundError, OSError, ValueError) as err:
                lines = str(err).strip().splitlines() or [type(err).__name__]
                more = f" (and {len(lines) - 1} more problem(s))" if len(lines) > 1 else ""
                self.notes.append(f"no example faces: {lines[0]}{more}")
        # (size, SHA-256) of an example face -> its MT-layout path: the page sends copies, the bytes say which it is
        self._aligned = {(p.stat().st_size, _sha256(p)): p for p in faces} if transfer.align else {}

    @property
    def allowed_files(self) -> list[Path]:
        """The files the page may serve from the disk: the example photos, each by itself (not their folders)."""
        return sorted({path.resolve() for path in [*self.source_examples, *self.reference_examples]})

    def _check_size(self, path: str, role: str) -> None:
        try:
            check_photo_size(path, max_megapixels=self.max_megapixels, max_file_mb=self.max_file_mb)
        except PhotoTooLargeError as err:
            raise InputError(f"The {role} could not be used: {err}.") from None

    def _aligned_example(self, path: str) -> Path | None:
        size = os.path.getsize(path)
        if not any(size == known for known, _ in self._aligned):
            return None
        return self._aligned.get((size, _sha256(Path(path))))

    def prepare(self, photo: Any, role: str) -> PreparedPhoto:
        """Read and cut one photo; a problem raises :class:`InputError` naming its ``role`` on the page."""
        path = _path(photo)
        if path is None:
            raise InputError(f"add the {role}")
        name = (photo.get("orig_name") if isinstance(photo, Mapping) else None) or Path(path).name
        self._check_size(path, role)
        try:
            example = self._aligned_example(path) if os.path.isfile(path) else None
            if example is not None:
                prepared = self.whole.prepare(example, name=name)
                prepared.notes.append(f"the {role} ({name}) is an aligned example face: used whole")
                return prepared
            return self.transfer.prepare(path, name=name)
        except NoFaceError:
            raise InputError(f"No face found in the {role}: use a photo with a clear, frontal face.") from None
        except ImageLoadError as err:
            text = str(err).removeprefix(f"{path}: ").replace(path, Path(path).name)
            raise InputError(f"The {role} could not be used: {text}.") from None

    def run(
        self,
        source: Any,
        reference: Any = None,
        *,
        strength: float = 1.0,
        lips_strength: float = 1.0,
        eyes_strength: float = 1.0,
        skin_strength: float = 1.0,
        lips: Any = None,
        eyes: Any = None,
        skin: Any = None,
        second: Any = None,
        mix: float = 0.0,
    ) -> AppResult:
        """One request: the transfer under the controls (``mix`` in [0, 1] moves the look from ``reference``'s to
        ``second``'s inside the generator), then the VGG view. Bad input gives an :class:`AppResult` with a
        message only; a VGG failure leaves the result and says so in the VGG panel."""
        started = time.perf_counter()
        try:
            result, before, notes, controls, prepared = self._transfer(
                source,
                reference,
                {
                    "strength": strength,
                    "lips_strength": lips_strength,
                    "eyes_strength": eyes_strength,
                    "skin_strength": skin_strength,
                },
                {"lips": lips, "eyes": eyes, "skin": skin},
                second,
                mix,
            )
        except InputError as err:
            return AppResult(status=f"⚠️ {markdown_escape(str(err))}")
        except (ValueError, TypeError, OSError, RuntimeError) as err:
            log.exception("beautygan app: the transfer failed")
            return AppResult(status=f"⚠️ The transfer failed: {markdown_escape(str(err))}")
        pictures, vgg_text = [], vgg_heading(self.vgg)
        if self.vgg.problem is None:
            try:
                views = [self.transfer.face_view(prepared, image, VIEW_SIZE) for image in (before, result)]
                pictures = self.vgg.pictures(*views)
                vgg_text += markdown_escape(
                    f": the source's and the made-up face at {VIEW_SIZE}x{VIEW_SIZE} px. Left: "
                    f"{' and '.join(self.vgg.choice.layers)}, the {SHOWN_CHANNELS} channels whose maps "
                    f"differ most; right: where the features differ ({self.vgg.heatmap}) over the "
                    "made-up face."
                )
            except (ValueError, TypeError, RuntimeError) as err:
                log.exception("beautygan app: the VGG view failed")
                vgg_text = f"⚠️ {markdown_escape(f'VGG comparison failed: {err}')}"
        height, width = result.shape[:2]
        how = "face-aware, pasted into the photo" if prepared.aligned else "whole image"
        done = f"Done in {time.perf_counter() - started:.1f} s: {width}x{height}, {how}"
        described = controls.describe()
        lines = [done + (f"; {described}" if described else "") + "."]
        lines += [f"note: {note}" for note in dict.fromkeys(notes)]
        return AppResult(
            status="  \n".join(markdown_escape(line) for line in lines),
            result=result,
            before=before,
            pictures=pictures,
            vgg_text=vgg_text,
        )

    def _transfer(
        self, source: Any, reference: Any, strengths: dict[str, float], regions: dict[str, Any], second: Any, mix: float
    ) -> tuple[np.ndarray, np.ndarray, list[str], MakeupControls, PreparedPhoto]:
        if _path(source) is None:
            raise InputError("Add a source photo: upload one, take one with the webcam, or pick an example.")
        given = {region: photo for region, photo in regions.items() if _path(photo) is not None}
        if _path(second) is not None and _path(reference) is None:
            raise InputError(
                "The interpolation goes from the reference's look to the second reference's: add the reference too."
            )
        if _path(reference) is None and not given:
            raise InputError("Add a reference photo (the makeup to copy), or a reference for the lips, eyes or skin.")
        values = {name: _number(value, name) for name, value in strengths.items()}
        if not 0 <= _number(mix, "mix") <= 1:
            raise InputError(f"the interpolation must be in [0, 1], got {mix}")
        try:
            MakeupControls(**values)
        except (ValueError, TypeError) as err:
            raise InputError(str(err)) from None
        prepared = self.prepare(source, "source photo")
        first = self.prepare(reference, "reference") if _path(reference) is not None else None
        looks: dict[str, PreparedPhoto] = {}  # by file: one photo given for several regions is one look
        wears: dict[str, Any] = {}
        for region, photo in given.items():
            key = str(_path(photo))
            if key not in looks:
                looks[key] = self.prepare(photo, f"{region} reference")
            wears[region] = looks[key]
        controls = MakeupControls(**values, **wears)
        notes = [
            *self.notes,
            *prepared.notes,
            *(first.notes if first else []),
            *(n for p in looks.values() for n in p.notes),
        ]
        if _path(second) is not None:
            end = self.prepare(second, "second reference")
            notes += end.notes
            (result,) = self.transfer.interpolate(prepared, first, end, weights=[float(mix)], controls=controls)
        else:
            if float(mix) > 0:
                notes.append("the interpolation slider needs a second reference; without one it does nothing")
            result = self.transfer.transfer(prepared, first, controls)
        before = prepared.photo if prepared.aligned else uint8_image(prepared.crop, (-1.0, 1.0))
        return result, before, notes, controls, prepared


def _number(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise InputError(f"{name} must be a finite number, got {value!r}")
    return number


def markdown_escape(text: str) -> str:
    """Plain text shown as Markdown literally."""
    return re.sub(r"([\\`*_\[\]<>#|~])", r"\\\1", text)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _astronaut_file() -> list[Path]:
    """scikit-image's astronaut as a PNG in the temporary folder (written once), or nothing without scikit-image."""
    try:
        from skimage import data
    except ImportError:
        return []
    from PIL import Image

    path = Path(tempfile.gettempdir()) / "beautygan-app" / "astronaut.png"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        Image.fromarray(data.astronaut()).save(partial, format="PNG")
        partial.replace(path)
    return [path]
