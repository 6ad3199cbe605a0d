"""``beautygan app``: makeup transfer in a local web page (Gradio, the ``app`` extra), with the makeup controls and
what VGG sees of the change.

The page takes a source and a reference (upload, webcam or an example), the strengths of
:class:`~beautygan.controls.MakeupControls`, optional per-region references and a second reference to interpolate
towards (:meth:`~beautygan.photo_transfer.PhotoTransfer.interpolate`). It shows the result at the photo's own size
(the PNG is exactly what :class:`~beautygan.photo_transfer.PhotoTransfer` returns), before and after, and the VGG
comparison of the source's and the made-up face: ``before | made-up | |difference|`` panels from
:func:`~perceptual.pictures.render.render_comparison` at one or two layers, and where the features differ (LPIPS
with a pretrained VGG16, else the squared feature difference of the deepest layer) drawn over the made-up face with
:func:`~perceptual.pictures.render.overlay_heatmap`; one VGG pass for all of it.

Photos are read by :func:`perceptual.images.load_image` (unreadable files and images over its pixel limit are
refused with its message). The demo's held-out faces are aligned MT-layout crops in which dlib finds no face:
chosen as examples, they are used whole, as ``beautygan transfer --no-align`` uses them. Bad input is a message on
the page, never a traceback.

:class:`MakeupApp` does the work without Gradio (tests call it directly); :func:`build_app` lays out the page;
:func:`launch` serves it, on the loopback address unless asked otherwise, one transfer at a time with a bounded
queue.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from perceptual.images import ImageLoadError

from .controls import MAX_STRENGTH, MakeupControls
from .metrics import uint8_image
from .photo_transfer import NoFaceError, PhotoTransfer, PreparedPhoto
from .regions import CONTROL_REGIONS

__all__ = ["AppResult", "MakeupApp", "VGGChoice", "VGGView", "build_app", "checkpoint_vgg", "launch"]

log = logging.getLogger(__name__)

VIEW_SIZE = 224
"""Side of the face views VGG compares (VGG's own input size)."""

SHOWN_CHANNELS = 8
"""Channels per layer in the comparison: those whose maps differ most."""

LOOPBACK = "127.0.0.1"


# ---------------------------------------------------------------------------------------------- what VGG sees
@dataclass(frozen=True)
class VGGChoice:
    """Which VGG draws the comparison.

    Args:
        weights: a :class:`~perceptual.VGGFeatures` ``weights=`` value (``"imagenet"``, ``"random_normalized"``, a
            path, ...).
        arch: ``"vgg16"`` or ``"vgg19"``.
        seed: seed of random weights.
        layers: the one or two layers compared.
        trained_with: the weights the checkpoint's perceptual loss used (its ``vgg_used``), ``None`` when unknown.
    """

    weights: str = "imagenet"
    arch: str = "vgg16"
    seed: int = 0
    layers: tuple[str, ...] = ("relu1_2", "relu4_1")
    trained_with: str | None = None

    def __post_init__(self) -> None:
        from perceptual.layers import canonical_layer_name, check_arch

        check_arch(self.arch)
        if not 1 <= len(self.layers) <= 2:
            raise ValueError(f"the comparison shows one or two layers, got {list(self.layers)}")
        for name in self.layers:
            canonical_layer_name(name, self.arch)  # ValueError listing the valid names


def checkpoint_vgg(checkpoint: Mapping[str, Any]) -> VGGChoice:
    """The VGG a ``beautygan fit`` checkpoint trained with (its ``vgg_used``) as a :class:`VGGChoice`: random
    weights by name and seed, torchvision weights by enum name, a file by its path when it still exists, else
    ``"imagenet"``. Layers: ``relu1_2`` (colour and edges, where makeup shows first) and the perceptual loss's
    layer."""
    used = checkpoint.get("vgg_used") or {}
    hparams = checkpoint.get("hyper_parameters") or {}
    source = str(used.get("weights", ""))
    weights, seed = "imagenet", 0
    random = re.match(r"(random_normalized|random) \(seed (\d+)", source)
    if random:
        weights, seed = random.group(1), int(random.group(2))
    elif source.startswith("torchvision "):
        weights = source.split(" ", 1)[1]
    elif source and Path(source).is_file():
        weights = source
    layers = tuple(dict.fromkeys(["relu1_2", str(hparams.get("perceptual_layer", "relu4_1"))]))
    return VGGChoice(
        weights=weights, arch=str(used.get("arch", "vgg16")), seed=seed, layers=layers, trained_with=source or None
    )


@dataclass
class VGGView:
    """The comparison's VGG (and LPIPS when the VGG is a pretrained VGG16), or why there is none (``problem``).

    Build with :meth:`load`; :meth:`pictures` draws a pair."""

    choice: VGGChoice
    extractor: Any = None
    lpips: Any = None
    problem: str | None = None
    description: str = ""

    @classmethod
    def load(cls, choice: VGGChoice, *, device: str | torch.device = "cpu") -> VGGView:
        """Load the VGG of ``choice``; weights that cannot be had give a view whose ``problem`` says why (the
        transfer works without it)."""
        from perceptual import LPIPS_LAYERS, VGGFeatures
        from perceptual.lpips import LPIPS, CalibrationUnavailableError
        from perceptual.weights import RandomWeightsWarning, WeightsUnavailableError

        pretrained16 = choice.arch == "vgg16" and not str(choice.weights).startswith("random")
        taps = list(dict.fromkeys([*choice.layers, *(LPIPS_LAYERS if pretrained16 else ())]))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RandomWeightsWarning)  # the page says so instead
                extractor = VGGFeatures(
                    taps, arch=choice.arch, weights=choice.weights, seed=choice.seed, input_range=(0, 1)
                )
        except (WeightsUnavailableError, ValueError, TypeError, OSError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            problem = (
                f"VGG comparison unavailable: {first}. Start the app with --vgg-weights PATH (a VGG "
                "state dict) or --vgg-weights random_normalized (an untrained VGG's view)."
            )
            return cls(choice, problem=problem, description=f"{choice.arch.upper()}, {choice.weights}: not available")
        extractor = extractor.to(device)
        lpips = None
        if pretrained16 and extractor.pretrained:
            try:
                lpips = LPIPS(extractor=extractor).to(device)
            except CalibrationUnavailableError:
                lpips = None
        return cls(choice, extractor, lpips, None, _describe_vgg(extractor, choice))

    @property
    def heatmap(self) -> str:
        """What the heatmap shows: the LPIPS map (a pretrained VGG16), else the deepest layer's feature difference."""
        return "LPIPS map" if self.lpips is not None else f"mean squared {self.choice.layers[-1]} feature difference"

    @torch.inference_mode()
    def pictures(self, before: np.ndarray, after: np.ndarray) -> list[tuple[np.ndarray, str]]:
        """``before`` and ``after`` (``(S, S, 3)`` uint8 face views) through VGG in one batch: per layer the
        labelled ``before | made-up | |difference|`` panels of the channels that differ most, then the heatmap of
        where they differ over ``after`` (:func:`perceptual.pictures.comparison.compare_images`). ``(picture,
        caption)`` pairs; none without a VGG."""
        if self.extractor is None:
            return []
        from perceptual.pictures.comparison import ComparisonSpec, compare_images
        from perceptual.pictures.render import GridStyle

        style = GridStyle(min_size=48, max_size=64, labels=True, ncols=4)
        spec = ComparisonSpec(style=style, max_channels=SHOWN_CHANNELS, titles=("before", "made-up"))
        compared = compare_images(
            before, after, self.extractor, layers=self.choice.layers, spec=spec, lpips=self.lpips, where=True
        )
        out = [
            (layer.pictures.comparison.cpu().numpy(), f"{layer.layer}: before | made-up | |difference|")
            for layer in compared.layers
        ]
        if compared.where is not None:
            caption = f"where VGG sees the change: {self.heatmap}, over the made-up face"
            out.append((compared.where.cpu().numpy(), caption))
        return out


def _describe_vgg(extractor: Any, choice: VGGChoice) -> str:
    source = str(extractor.weights_source)
    kind = {
        "pretrained": f"pretrained weights ({source})",
        "random": "random weights",
        "file": f"weights from {Path(source).name}",
    }[extractor.provenance]
    text = f"{extractor.arch.upper()}, {kind}"
    if choice.trained_with is None:
        return text + "; the checkpoint does not say which VGG it trained with"
    if choice.trained_with == extractor.weights_source:
        return text + ", as the checkpoint was trained"
    return text + f"; the checkpoint was trained with {choice.trained_with}"


def vgg_heading(view: VGGView) -> str:
    """The VGG panel's first words (Markdown): which VGG draws it, or why there is none."""
    if view.problem is not None:
        return f"⚠️ {_escape(view.problem)}"
    return f"**What VGG sees** ({_escape(view.description)})"


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
        transfer: the :class:`~beautygan.photo_transfer.PhotoTransfer` (face-aware or whole-image).
        vgg: the :class:`VGGView` of the comparison.
        examples: an MT-layout folder (``beautygan synthetic``'s, the demo's ``data/synthetic_mt``) whose held-out
            faces are offered as examples and used whole (they are aligned crops already); ``None``: none.
        astronaut: offer scikit-image's astronaut (a real photo) as a source example when scikit-image is installed.
    """

    def __init__(
        self, transfer: PhotoTransfer, *, vgg: VGGView, examples: str | Path | None = None, astronaut: bool = True
    ) -> None:
        if not isinstance(transfer, PhotoTransfer):
            raise TypeError(f"transfer must be a beautygan.photo_transfer.PhotoTransfer, got {type(transfer).__name__}")
        if not isinstance(vgg, VGGView):
            raise TypeError(f"vgg must be a VGGView (VGGView.load(...)), got {type(vgg).__name__}")
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
            from .gallery import mt_layout_images

            try:
                sources, self.reference_examples, _ = mt_layout_images(examples, 4)
                faces = [*sources, *self.reference_examples]
                self.source_examples += sources
            except (FileNotFoundError, OSError, ValueError) as err:
                self.notes.append(f"no example faces: {err}")
        # (size, SHA-256) of an example face -> its MT-layout path: the page sends copies, the bytes say which it is
        self._aligned = {(p.stat().st_size, _sha256(p)): p for p in faces} if transfer.align else {}

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
            return AppResult(status=f"⚠️ {_escape(str(err))}")
        except (ValueError, TypeError, OSError, RuntimeError) as err:
            log.exception("beautygan app: the transfer failed")
            return AppResult(status=f"⚠️ The transfer failed: {_escape(str(err))}")
        pictures, vgg_text = [], vgg_heading(self.vgg)
        if self.vgg.problem is None:
            try:
                views = [self.transfer.face_view(prepared, image, VIEW_SIZE) for image in (before, result)]
                pictures = self.vgg.pictures(*views)
                vgg_text += _escape(
                    f": the source's and the made-up face at {VIEW_SIZE}x{VIEW_SIZE} px. Left: "
                    f"{' and '.join(self.vgg.choice.layers)}, the {SHOWN_CHANNELS} channels whose maps "
                    f"differ most; right: where the features differ ({self.vgg.heatmap}) over the "
                    "made-up face."
                )
            except (ValueError, TypeError, RuntimeError) as err:
                log.exception("beautygan app: the VGG view failed")
                vgg_text = f"⚠️ {_escape(f'VGG comparison failed: {err}')}"
        height, width = result.shape[:2]
        how = "face-aware, pasted into the photo" if prepared.aligned else "whole image"
        done = f"Done in {time.perf_counter() - started:.1f} s: {width}x{height}, {how}"
        described = controls.describe()
        lines = [done + (f"; {described}" if described else "") + "."]
        lines += [f"note: {note}" for note in dict.fromkeys(notes)]
        return AppResult(
            status="  \n".join(_escape(line) for line in lines),
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


def _escape(text: str) -> str:
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


# ---------------------------------------------------------------------------------------------- the page
def build_app(app: MakeupApp) -> Any:
    """The page (a ``gradio.Blocks``) over ``app``; its one event, ``/transfer``, is also the API
    (``gradio_client``: ``Client(url).predict(..., api_name="/transfer")``)."""
    import gradio as gr

    transfer = app.transfer
    faces = (
        "faces are found and aligned (dlib); the result keeps the photo's size and only the face changes"
        if transfer.align
        else f"whole images, resized to {transfer.size}x{transfer.size}"
    )
    header = (
        f"# BeautyGAN makeup transfer\n{_escape(f'Checkpoint {transfer.model.checkpoint.name}')} "
        f"(trained at {transfer.size}x{transfer.size} px, on {transfer.model.device}): {faces}."
    )

    def photo(label: str, **kwargs: Any) -> Any:
        return gr.Image(label=label, type="filepath", sources=["upload", "webcam", "clipboard"], **kwargs)

    def slider(label: str, elem_id: str) -> Any:
        return gr.Slider(0.0, MAX_STRENGTH, value=1.0, step=0.05, label=label, elem_id=elem_id)

    with gr.Blocks(title="BeautyGAN makeup transfer", analytics_enabled=False) as blocks:
        gr.Markdown(header)
        with gr.Row():
            with gr.Column():
                source = photo("Source photo (without makeup)", elem_id="source", height=360)
                if app.source_examples:
                    gr.Examples([[str(p)] for p in app.source_examples], inputs=[source], label="Example sources")
            with gr.Column():
                reference = photo("Reference (the makeup to copy)", elem_id="reference", height=360)
                if app.reference_examples:
                    gr.Examples(
                        [[str(p)] for p in app.reference_examples], inputs=[reference], label="Example references"
                    )
        gr.Markdown(
            "Strength: 0 is the source, 1 the transfer, up to 1.5 a heavier look than the generator makes; "
            "a region's strength multiplies the whole look's."
        )
        with gr.Row():
            strength = slider("Whole look", "strength")
            region_sliders = [
                slider(f"{region.capitalize()} strength", f"{region}_strength") for region in CONTROL_REGIONS
            ]
        with (
            gr.Accordion("Per-region references (optional): another look for the lips, eyes or skin", open=False),
            gr.Row(),
        ):
            region_photos = [
                photo(f"{region.capitalize()} reference", elem_id=f"{region}_reference", height=200)
                for region in CONTROL_REGIONS
            ]
        with gr.Accordion("Interpolate between two references", open=False):
            with gr.Row():
                second = photo("Second reference", elem_id="second_reference", height=200)
                mix = gr.Slider(
                    0.0,
                    1.0,
                    value=0.0,
                    step=0.05,
                    elem_id="mix",
                    label="Look: 0 = the reference's, 1 = the second reference's (mixed in the generator)",
                )
            if app.reference_examples:
                gr.Examples([[str(p)] for p in app.reference_examples], inputs=[second], label="Example references")
        button = gr.Button("Transfer", variant="primary", elem_id="run")
        status = gr.Markdown(
            "Add a source and a reference, then press Transfer (or move a slider).", label="Status", elem_id="status"
        )
        with gr.Row():
            result = gr.Image(
                label="Result (the photo's own size; PNG)", format="png", interactive=False, elem_id="result"
            )
            before_after = gr.ImageSlider(
                label="Before / after (drag the handle)", format="png", elem_id="before_after"
            )
        vgg_text = gr.Markdown(vgg_heading(app.vgg), label="VGG panel", elem_id="vgg_text")
        shown = app.vgg.problem is None
        with gr.Row():
            with gr.Column(scale=3):
                # the pictures carry their own heading and column titles: no label badge over them
                vgg = [
                    gr.Image(
                        label=f"{layer}: before | made-up | |difference|",
                        show_label=False,
                        format="png",
                        interactive=False,
                        visible=shown,
                        elem_id=f"vgg_{layer}",
                    )
                    for layer in app.vgg.choice.layers
                ]
            with gr.Column(scale=1):
                vgg.append(
                    gr.Image(
                        label="Where VGG sees the change",
                        format="png",
                        interactive=False,
                        visible=shown,
                        elem_id="vgg_heatmap",
                    )
                )

        def handle(
            source,
            reference,
            strength,
            lips_strength,
            eyes_strength,
            skin_strength,
            lips_reference,
            eyes_reference,
            skin_reference,
            second_reference,
            mix,
        ):
            out = app.run(
                source,
                reference,
                strength=strength,
                lips_strength=lips_strength,
                eyes_strength=eyes_strength,
                skin_strength=skin_strength,
                lips=lips_reference,
                eyes=eyes_reference,
                skin=skin_reference,
                second=second_reference,
                mix=mix,
            )
            pair = (out.before, out.result) if out.ok else None
            pictures = [picture for picture, _ in out.pictures] or [None] * len(vgg)
            return out.result, pair, *pictures, out.vgg_text or gr.skip(), out.status

        gr.on(
            [button.click, strength.release, *(s.release for s in region_sliders), mix.release],
            handle,
            inputs=[source, reference, strength, *region_sliders, *region_photos, second, mix],
            outputs=[result, before_after, *vgg, vgg_text, status],
            api_name="transfer",
            preprocess=False,  # photos reach MakeupApp as files: read by perceptual.images, with its messages
            trigger_mode="always_last",
            concurrency_limit=1,
            concurrency_id="transfer",
        )
    return blocks


def launch(
    blocks: Any,
    *,
    host: str = LOOPBACK,
    port: int = 7860,
    queue_size: int = 16,
    allowed_paths: Sequence[str | Path] = (),
) -> None:
    """Serve ``blocks`` at ``http://host:port`` until interrupted: one transfer at a time, at most ``queue_size``
    requests waiting (more are turned away with a message), errors as messages, no analytics, no share link."""
    import gradio as gr

    if queue_size < 1:
        raise ValueError(f"queue_size must be >= 1, got {queue_size}")
    system = gr.themes.Default(
        font=("ui-sans-serif", "system-ui", "sans-serif"), font_mono=("ui-monospace", "monospace")
    )  # no web fonts to fetch
    blocks.queue(default_concurrency_limit=1, max_size=queue_size)
    blocks.launch(
        server_name=host,
        server_port=port,
        share=False,
        show_error=False,
        ssr_mode=False,
        theme=system,
        allowed_paths=[str(p) for p in allowed_paths],
        footer_links=["api"],
    )
