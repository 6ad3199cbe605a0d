"""Numbers for a makeup transfer: identity kept, makeup colours moved, background left alone.

BeautyGAN (Li et al., ACM MM 2018) claims that its VGG perceptual loss keeps the source's identity; the official
code (wtjiang98/BeautyGAN_pytorch) never measures it. This module does, per (source, reference, result) triple:

- ``identity_distance``: Euclidean distance between dlib's 128-D face descriptors (the face-recognition ResNet of
  dlib, 99.38% on LFW) of the source and the result; lower is better, and dlib's documented same-person threshold is
  0.6, so the summary reports the share of results under it. Needs the ``faces`` extra; NaN without it.
- per region (lips, eye shadow, skin; masks of :mod:`experiments.beautygan.regions`, the result taking the source's
  label map): ``<region>_delta_e``, the CIE76 distance between the region's mean CIELAB colour in the result and in
  the reference, and ``<region>_emd``, the earth mover's distance between the 1-D 256-bin histograms of the two
  regions (0-255 levels, averaged over R, G, B: the quantity the histogram-matching makeup loss drives down). Each
  has a ``_before`` twin measured on the untouched source: the transfer worked where the value fell.
- ``background_l1``: mean absolute change (0-255 levels) between source and result over pixels labelled background
  or hair, which no loss asks to change.

:func:`transfer_metrics` is the batched tensor core (on the device, no host syncs), :class:`TransferMetrics`
accumulates it over a validation epoch and logs it from a LightningModule, :func:`evaluate_pairs` works on files
(optionally generating the results from a checkpoint), and :func:`main` is ``beautygan evaluate``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from perceptual.files import atomic_path

from .metrics import region_colour_distance
from .regions import FaceRegion, region_masks

__all__ = [
    "IDENTITY_THRESHOLD",
    "EvalPair",
    "TransferMetrics",
    "evaluate_pairs",
    "format_summary",
    "histogram_emd",
    "identity_distance",
    "main",
    "mean_lab_distance",
    "rgb_to_lab",
    "summarize",
    "transfer_metrics",
    "write_table",
]

IDENTITY_THRESHOLD = 0.6
"""dlib's same-person threshold on the Euclidean distance of its face descriptors."""

REGIONS = ("lips", "eye_shadow", "skin")
OUTSIDE_FACE = (FaceRegion.BACKGROUND, FaceRegion.HAIR)
FACE_IDS = tuple(range(int(FaceRegion.FACE), int(FaceRegion.LOWER_LIP) + 1))  # face, brows, eyes, nose, lips, teeth

# sRGB (D65) -> XYZ, and the D65 white point (IEC 61966-2-1; CIE 15).
_RGB_TO_XYZ = ((0.4124564, 0.3575761, 0.1804375), (0.2126729, 0.7151522, 0.0721750), (0.0193339, 0.1191920, 0.9503041))
_WHITE_D65 = (0.95047, 1.0, 1.08883)


# --------------------------------------------------------------------------------------------- tensor metrics
def _check_images(images: Tensor, name: str) -> None:
    if not isinstance(images, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"{name} must be (N, 3, H, W), got shape {tuple(images.shape)}")
    if not images.is_floating_point():
        raise TypeError(f"{name} must be a float tensor, got dtype {images.dtype}")


def _to_unit(images: Tensor, input_range: tuple[float, float]) -> Tensor:
    low, high = input_range
    if not high > low:
        raise ValueError(f"input_range must be (low, high) with high > low, got {input_range}")
    return ((images.float() - low) / (high - low)).clamp(0, 1)


def rgb_to_lab(rgb: Tensor) -> Tensor:
    """sRGB ``(N, 3, H, W)`` in [0, 1] -> CIELAB (D65): L in [0, 100], a and b roughly in [-128, 127]."""
    _check_images(rgb, "rgb")
    rgb = rgb.clamp(0, 1)
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055).pow(2.4))
    matrix = torch.tensor(_RGB_TO_XYZ, dtype=linear.dtype, device=linear.device)
    white = torch.tensor(_WHITE_D65, dtype=linear.dtype, device=linear.device)
    xyz = torch.einsum("ij,njhw->nihw", matrix, linear) / white[:, None, None]
    epsilon, kappa = 216 / 24389, 24389 / 27
    f = torch.where(xyz > epsilon, xyz.clamp_min(epsilon).pow(1 / 3), (kappa * xyz + 16) / 116)
    fx, fy, fz = f.unbind(1)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=1)


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    weight = mask.to(values.dtype)
    return (values * weight).sum((2, 3)) / weight.sum((2, 3))  # NaN where the mask is empty


def mean_lab_distance(images: Tensor, image_masks: Tensor, references: Tensor, reference_masks: Tensor) -> Tensor:
    """CIE76 distance between the mean CIELAB colour of each image's masked region and its reference's: ``(N,)``.

    Images ``(N, 3, H, W)`` in [0, 1], masks bool ``(N, 1, H, W)``; NaN where either mask is empty."""
    return _lab_distance(rgb_to_lab(images), image_masks, rgb_to_lab(references), reference_masks)


def _lab_distance(lab_a: Tensor, mask_a: Tensor, lab_b: Tensor, mask_b: Tensor) -> Tensor:
    return torch.linalg.vector_norm(_masked_mean(lab_a, mask_a) - _masked_mean(lab_b, mask_b), dim=1)


def _histograms(images: Tensor, masks: Tensor) -> Tensor:
    """Per-sample, per-channel 256-bin histograms ``(N, 3, 256)`` of the masked pixels (images in [0, 1])."""
    n = images.shape[0]
    levels = (images * 255).round().long().clamp(0, 255)
    offsets = torch.arange(n * 3, device=images.device).view(n, 3, 1, 1) * 256
    weights = masks.expand_as(levels).to(torch.float64)
    flat = torch.zeros(n * 3 * 256, dtype=torch.float64, device=images.device)
    flat.index_add_(0, (levels + offsets).flatten(), weights.flatten())
    return flat.view(n, 3, 256)


def histogram_emd(images: Tensor, image_masks: Tensor, references: Tensor, reference_masks: Tensor) -> Tensor:
    """Earth mover's distance between the 1-D 256-bin histograms of each masked region and its reference's, in
    0-255 levels, averaged over R, G, B: ``(N,)``, NaN where either mask is empty. Images in [0, 1]."""
    for name, tensor in (("images", images), ("references", references)):
        _check_images(tensor, name)
    a, b = _histograms(images, image_masks), _histograms(references, reference_masks)
    cdf_a = a.cumsum(-1) / a.sum(-1, keepdim=True)
    cdf_b = b.cumsum(-1) / b.sum(-1, keepdim=True)
    return (cdf_a - cdf_b)[..., :255].abs().sum(-1).mean(-1).to(images.dtype)


def _check_labels(labels: Tensor, images: Tensor, name: str) -> Tensor:
    if not isinstance(labels, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(labels).__name__}")
    given = tuple(labels.shape)
    if labels.ndim == 3:
        labels = labels.unsqueeze(1)
    if labels.ndim != 4 or labels.shape[1] != 1 or labels.shape[0] != images.shape[0] or labels.shape[2:] != images.shape[2:]:
        raise ValueError(
            f"{name} must be (N, H, W) or (N, 1, H, W) matching the images {tuple(images.shape)}, got {given}"
        )
    return labels


def transfer_metrics(
    source: Tensor, reference: Tensor, result: Tensor, source_labels: Tensor, reference_labels: Tensor,
    *, input_range: tuple[float, float] = (-1.0, 1.0),
) -> dict[str, Tensor]:  # fmt: skip
    """Colour-transfer and background figures of a batch, ``{name: (N,) tensor}`` on the input's device.

    ``source``/``reference``/``result``: ``(N, 3, H, W)`` in ``input_range``; the result is measured with the source's
    label map. Keys: ``<region>_delta_e``, ``<region>_delta_e_before``, ``<region>_emd``, ``<region>_emd_before`` for
    region in lips, eye_shadow, skin, ``lips_rgb_distance`` (the module's ``val/lip_colour_distance``) and
    ``background_l1``. NaN marks an empty region (not a failure)."""
    for name, tensor in (("source", source), ("reference", reference), ("result", result)):
        _check_images(tensor, name)
    if not source.shape == reference.shape == result.shape:
        raise ValueError(
            f"source, reference and result must have the same shape, got {tuple(source.shape)}, "
            f"{tuple(reference.shape)}, {tuple(result.shape)}"
        )
    source_labels = _check_labels(source_labels, source, "source_labels")
    reference_labels = _check_labels(reference_labels, reference, "reference_labels")
    src, ref, out = (_to_unit(x, input_range) for x in (source, reference, result))
    src_masks, ref_masks = region_masks(source_labels), region_masks(reference_labels)
    pairs = {
        "lips": (src_masks.lips, ref_masks.lips),
        "eye_shadow": (src_masks.left_eye_shadow | src_masks.right_eye_shadow, ref_masks.left_eye_shadow | ref_masks.right_eye_shadow),
        "skin": (src_masks.skin, ref_masks.skin),
    }
    metrics: dict[str, Tensor] = {}
    src_lab, ref_lab, out_lab = (rgb_to_lab(x) for x in (src, ref, out))
    for region, (src_mask, ref_mask) in pairs.items():
        metrics[f"{region}_delta_e"] = _lab_distance(out_lab, src_mask, ref_lab, ref_mask)
        metrics[f"{region}_delta_e_before"] = _lab_distance(src_lab, src_mask, ref_lab, ref_mask)
        metrics[f"{region}_emd"] = histogram_emd(out, src_mask, ref, ref_mask)
        metrics[f"{region}_emd_before"] = histogram_emd(src, src_mask, ref, ref_mask)
    # The training module's own figure (val/lip_colour_distance: mean-RGB distance, 0-255), for comparison.
    metrics["lips_rgb_distance"] = region_colour_distance(out, pairs["lips"][0], ref, pairs["lips"][1], input_range=(0.0, 1.0))
    outside = source_labels == int(OUTSIDE_FACE[0])
    for label in OUTSIDE_FACE[1:]:
        outside = outside | (source_labels == int(label))
    metrics["background_l1"] = _masked_mean((out - src).abs() * 255, outside).mean(1)
    return metrics


# ------------------------------------------------------------------------------------------------- identity
def _uint8(image: Tensor | np.ndarray, input_range: tuple[float, float]) -> np.ndarray:
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"numpy images must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
        return np.ascontiguousarray(image)
    if not isinstance(image, Tensor) or image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"images must be (3, H, W) tensors or (H, W, 3) uint8 arrays, got {getattr(image, 'shape', type(image))}")
    unit = _to_unit(image.detach()[None], input_range)[0]
    return np.ascontiguousarray((unit.permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8))


def _box_from_labels(labels: Tensor | np.ndarray | None) -> tuple[int, int, int, int] | None:
    if labels is None:
        return None
    array = labels.detach().cpu().numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    array = array.reshape(array.shape[-2:])
    face = np.isin(array, FACE_IDS)
    if not face.any():
        return None
    rows, cols = np.flatnonzero(face.any(1)), np.flatnonzero(face.any(0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def identity_distance(
    source: Tensor | np.ndarray, result: Tensor | np.ndarray, *, models: Any,
    source_labels: Tensor | np.ndarray | None = None, input_range: tuple[float, float] = (-1.0, 1.0),
    source_faces: Sequence[Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """dlib descriptor distance between the face in ``source`` and the face in ``result``.

    The source face is the detector's largest; if the detector finds none (small or synthetic faces), the box of the
    source label map's face ids is used instead. The result face is detected too, falling back to the source's box
    (the generator keeps the geometry); landmarks and descriptor are always computed on the result's own pixels.
    Returns ``{"identity_distance": float (NaN if no face), "face_box_from": "detector"|"labels"|"none",
    "result_face_detected": bool}``. ``models`` is a :class:`~experiments.beautygan.faces.FaceModels`;
    ``source_faces``: the detections of ``source`` if already made (saves a detector pass)."""
    src, out = _uint8(source, input_range), _uint8(result, input_range)
    faces = list(source_faces) if source_faces is not None else models.detect(src)
    if faces:
        box, origin, src_points = faces[0].box, "detector", faces[0].landmarks
    else:
        box = _box_from_labels(source_labels)
        if box is None:
            return {"identity_distance": math.nan, "face_box_from": "none", "result_face_detected": False}
        origin, src_points = "labels", models.landmarks(src, box)
    result_faces = models.detect(out)
    out_points = result_faces[0].landmarks if result_faces else models.landmarks(out, box)
    distance = float(np.linalg.norm(models.embed(src, src_points) - models.embed(out, out_points)))
    return {"identity_distance": distance, "face_box_from": origin, "result_face_detected": bool(result_faces)}


def _default_models(identity: bool | Literal["auto"]) -> Any:
    if identity is False:
        return None
    from .faces import FaceModels, FacesUnavailableError

    try:
        return FaceModels()
    except FacesUnavailableError as err:
        if identity == "auto":
            warnings.warn(f"identity distance not computed: {err}", stacklevel=3)
            return None
        raise


# ------------------------------------------------------------------------------------------ training hook
class TransferMetrics:
    """Accumulates :func:`transfer_metrics` (and dlib identity distances) over an epoch; logs the means.

    Use from a LightningModule::

        self.transfer_metrics = TransferMetrics(identity="auto")           # __init__ (not an nn.Module)
        self.transfer_metrics.update(source, reference, fake_source,      # validation_step, reuse the outputs
                                     batch["source_labels"], batch["reference_labels"])
        self.transfer_metrics.log_to(self, prefix="val")                   # on_validation_epoch_end

    The colour metrics stay on the device as running sums (no host sync in ``update``); the identity distance needs
    dlib on the CPU, so it is computed for at most ``max_identity_samples`` samples per epoch. Under DDP the sums
    are added over ranks in :meth:`log_to` (every rank must call it).

    Args:
        identity: ``True`` (needs the ``faces`` extra), ``False``, or ``"auto"`` (on when dlib is installed).
        input_range: range of the images passed to :meth:`update` ((-1, 1) for the generator's tanh output).
        max_identity_samples: cap on dlib evaluations per epoch (each costs ~0.1-0.3 s of CPU).
    """

    def __init__(
        self, *, identity: bool | Literal["auto"] = "auto", input_range: tuple[float, float] = (-1.0, 1.0),
        max_identity_samples: int = 32, models: Any = None,
    ) -> None:  # fmt: skip
        if identity not in (True, False, "auto"):
            raise ValueError(f"identity must be True, False or 'auto', got {identity!r}")
        if max_identity_samples < 0:
            raise ValueError(f"max_identity_samples must be >= 0, got {max_identity_samples}")
        self.input_range = input_range
        self.max_identity_samples = max_identity_samples
        self.models = models if models is not None else _default_models(identity)
        self.reset()

    def reset(self) -> None:
        self._sums: dict[str, Tensor] = {}
        self._counts: dict[str, Tensor] = {}
        self._identity: list[float] = []

    @torch.no_grad()
    def update(
        self, source: Tensor, reference: Tensor, result: Tensor, source_labels: Tensor, reference_labels: Tensor
    ) -> dict[str, Tensor]:  # fmt: skip
        """Add a batch; returns its per-sample metrics (``(N,)`` tensors, without identity)."""
        metrics = transfer_metrics(
            source.detach(), reference.detach(), result.detach(), source_labels, reference_labels, input_range=self.input_range
        )  # fmt: skip
        for name, values in metrics.items():
            finite = torch.isfinite(values)
            total = torch.where(finite, values, torch.zeros_like(values)).sum().double()
            self._sums[name] = self._sums.get(name, 0) + total
            self._counts[name] = self._counts.get(name, 0) + finite.sum()
        if self.models is not None and len(self._identity) < self.max_identity_samples:
            take = min(source.shape[0], self.max_identity_samples - len(self._identity))
            for i in range(take):
                row = identity_distance(
                    source[i], result[i], models=self.models, source_labels=source_labels[i], input_range=self.input_range
                )  # fmt: skip
                self._identity.append(row["identity_distance"])
        return metrics

    def compute(self, reduce_sum: Callable[[Tensor], Tensor] | None = None) -> dict[str, float]:
        """Epoch means (NaN-free: empty regions are left out), ``identity_distance`` mean and
        ``identity_share_under_0.6`` when identity is on. ``reduce_sum`` adds a tensor over DDP ranks."""
        reduce_sum = reduce_sum or (lambda t: t)
        out: dict[str, float] = {}
        for name in sorted(self._sums):
            stacked = reduce_sum(torch.stack([self._sums[name], self._counts[name].double()]))
            if float(stacked[1]) > 0:
                out[name] = float(stacked[0] / stacked[1])
        if self.models is not None:
            device = next(iter(self._sums.values())).device if self._sums else torch.device("cpu")
            values = [v for v in self._identity if math.isfinite(v)]
            stats = torch.tensor(
                [sum(values), len(values), sum(v < IDENTITY_THRESHOLD for v in values)], dtype=torch.float64, device=device
            )  # fmt: skip
            stats = reduce_sum(stats)
            if float(stats[1]) > 0:
                out["identity_distance"] = float(stats[0] / stats[1])
                out[f"identity_share_under_{IDENTITY_THRESHOLD}"] = float(stats[2] / stats[1])
        return out

    def log_to(self, module: Any, *, prefix: str = "val") -> dict[str, float]:
        """Reduce over ranks, ``module.log_dict`` the means under ``<prefix>/transfer/...`` and reset."""
        trainer = getattr(module, "_trainer", None)
        reduce_sum = None
        if trainer is not None and trainer.world_size > 1:
            reduce_sum = lambda t: trainer.strategy.reduce(t, reduce_op="sum")  # noqa: E731
        values = self.compute(reduce_sum)
        if values:
            module.log_dict({f"{prefix}/transfer/{k}": v for k, v in values.items()}, sync_dist=False)
        self.reset()
        return values


# ------------------------------------------------------------------------------------------------ file level
@dataclass(frozen=True)
class EvalPair:
    """One evaluation item. ``result`` is generated from the checkpoint when ``None``. Label maps default to the MT
    layout's ``segs/`` twin of an ``images/`` path, else to landmarks (``faces`` extra), else none (colour NaN)."""

    source: Path
    reference: Path
    result: Path | None = None
    source_labels: Path | None = None
    reference_labels: Path | None = None


def _mt_labels_path(image: Path) -> Path | None:
    parts = image.parts
    if "images" not in parts:
        return None
    i = len(parts) - 1 - parts[::-1].index("images")
    candidate = Path(*parts[:i], "segs", *parts[i + 1 :])
    for path in (candidate, candidate.with_suffix(".png")):
        if path.is_file():
            return path
    return None


def _load_labels(path: Path, size: int) -> Tensor:
    with Image.open(path) as seg:
        seg = seg if seg.mode in ("L", "P", "I", "I;16") else seg.convert("RGB").getchannel(0)
        labels = np.asarray(seg.resize((size, size), Image.NEAREST)).astype(np.int64)
    return torch.from_numpy(labels.reshape(size, size))


def _labels_for(image: Tensor, explicit: Path | None, path: Path, models: Any) -> tuple[Tensor, str, list | None]:
    """Label map of ``image`` (``(3, S, S)`` in [0, 1]), where it came from, and the detections if any were made."""
    size = image.shape[-1]
    found = explicit or _mt_labels_path(path)
    if found is not None:
        return _load_labels(found, size), "mt", None
    if models is not None:
        from .faces import label_map_from_landmarks

        faces = models.detect(_uint8(image, (0.0, 1.0)))
        if faces:
            labels = torch.from_numpy(label_map_from_landmarks(faces[0].landmarks, size).astype(np.int64))
            return labels, "landmarks", faces
        return torch.zeros(size, size, dtype=torch.int64), "none", faces
    return torch.zeros(size, size, dtype=torch.int64), "none", None


def evaluate_pairs(
    pairs: Sequence[EvalPair],
    *,
    generator: torch.nn.Module | None = None,
    image_size: int | None = None,
    device: str | torch.device = "cpu",
    identity: bool | Literal["auto"] = "auto",
    models: Any = None,
    results_dir: str | Path | None = None,
    batch_size: int = 8,
    progress: bool = False,
    failures: list[tuple[EvalPair, str]] | None = None,
) -> list[dict[str, Any]]:
    """Measure every pair (see the module docstring); one dict per pair, file names included.

    Images are resized to ``image_size`` (default: the result's size, or 256). Pairs without a ``result`` are run
    through ``generator`` (inputs in [-1, 1]); those results are written to ``results_dir`` when given.

    A pair whose image cannot be read raises :class:`~perceptual.images.ImageLoadError`, or, when a ``failures`` list
    is given, is appended to it as ``(pair, message)`` and skipped, so one bad file does not lose the other pairs."""
    from perceptual.images import ImageLoadError, load_image, save_image

    pairs = list(pairs)
    if generator is None and any(p.result is None for p in pairs):
        missing = next(p for p in pairs if p.result is None)
        raise ValueError(f"pair ({missing.source}, {missing.reference}) has no result image and no generator was given")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if models is None:
        models = _default_models(identity)
    elif identity is False:
        models = None
    if image_size is None and pairs:
        first = next((p.result for p in pairs if p.result is not None), None)
        if first is not None:
            with Image.open(first) as opened:
                image_size = opened.size[0]
    size = int(image_size or 256)
    rows: list[dict[str, Any]] = []
    chunks = range(0, len(pairs), batch_size)
    if progress:
        from tqdm import tqdm

        chunks = tqdm(chunks, desc="evaluate", unit="batch")
    if generator is not None:
        generator = generator.to(device).eval()
    cache: dict[tuple[str, str], tuple[Tensor, str, list | None]] = {}  # a face used in several pairs is parsed once

    def labels_for(image: Tensor, explicit: Path | None, path: Path) -> tuple[Tensor, str, list | None]:
        key = (str(path), str(explicit))
        if key not in cache:
            cache[key] = _labels_for(image, explicit, Path(path), models)
        return cache[key]

    for start in chunks:
        chunk, numbers, loaded = [], [], []
        for number, pair in enumerate(pairs[start : start + batch_size], start):
            try:
                images = [load_image(path, (size, size))[0] for path in (pair.source, pair.reference, pair.result) if path is not None]
            except ImageLoadError as err:
                if failures is None:
                    raise
                failures.append((pair, str(err)))  # this pair is skipped; the others are measured
                continue
            chunk.append(pair)
            numbers.append(number)
            loaded.append(images)
        if not chunk:
            continue
        sources = torch.stack([images[0] for images in loaded])
        references = torch.stack([images[1] for images in loaded])
        src_labels, src_from, src_faces = zip(*(labels_for(s, p.source_labels, p.source) for s, p in zip(sources, chunk)))
        ref_labels, _, _ = zip(*(labels_for(r, p.reference_labels, p.reference) for r, p in zip(references, chunk)))
        results = torch.empty_like(sources)
        todo = [i for i, p in enumerate(chunk) if p.result is None]
        for i, p in enumerate(chunk):
            if p.result is not None:
                results[i] = loaded[i][2]
        if todo:
            with torch.no_grad():
                made_up, _ = generator(sources[todo].to(device) * 2 - 1, references[todo].to(device) * 2 - 1)  # type: ignore[misc]
            results[todo] = ((made_up.float().cpu() + 1) / 2).clamp(0, 1)
        metrics = transfer_metrics(
            sources, references, results, torch.stack(src_labels), torch.stack(ref_labels), input_range=(0.0, 1.0)
        )  # fmt: skip
        for i, pair in enumerate(chunk):
            result_path = pair.result
            if result_path is None and results_dir is not None:
                name = f"{numbers[i]:05d}_{Path(pair.source).stem}__{Path(pair.reference).stem}.png"
                result_path = save_image(results[i], Path(results_dir) / name)
            row: dict[str, Any] = {
                "source": str(pair.source),
                "reference": str(pair.reference),
                "result": "" if result_path is None else str(result_path),
                "labels": src_from[i],
            }
            row.update({name: float(values[i]) for name, values in metrics.items()})
            if models is not None:
                row.update(identity_distance(
                    sources[i], results[i], models=models, source_labels=src_labels[i], input_range=(0.0, 1.0),
                    source_faces=src_faces[i],
                ))  # fmt: skip
            rows.append(row)
    return rows


def summarize(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Means of every numeric column over the rows where it is finite (with counts), and the share of identity
    distances under :data:`IDENTITY_THRESHOLD`."""
    rows = list(rows)
    numeric = [k for k in (rows[0] if rows else {}) if isinstance(rows[0][k], float) and not isinstance(rows[0][k], bool)]
    summary: dict[str, Any] = {"pairs": len(rows), "mean": {}, "count": {}}
    for key in numeric:
        values = [float(r[key]) for r in rows if isinstance(r.get(key), float) and math.isfinite(r[key])]
        summary["count"][key] = len(values)
        summary["mean"][key] = sum(values) / len(values) if values else None
    distances = [float(r["identity_distance"]) for r in rows if math.isfinite(r.get("identity_distance", math.nan))]
    if distances:
        summary[f"identity_share_under_{IDENTITY_THRESHOLD}"] = sum(d < IDENTITY_THRESHOLD for d in distances) / len(distances)
    return summary


def write_table(rows: Sequence[Mapping[str, Any]], summary: Mapping[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``metrics.csv`` (one row per pair) and ``summary.json`` (rows included) to ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = out_dir / "metrics.csv", out_dir / "summary.json"
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with atomic_path(csv_path) as partial, partial.open("w", newline="") as handle:  # whole or not at all
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)

    def clean(value: Any) -> Any:
        return None if isinstance(value, float) and not math.isfinite(value) else value

    payload = {"summary": summary, "rows": [{k: clean(v) for k, v in row.items()} for row in rows]}
    with atomic_path(json_path) as partial:
        partial.write_text(json.dumps(payload, indent=2))
    return csv_path, json_path


def format_summary(summary: Mapping[str, Any]) -> str:
    """A small text table of the summary: metric, mean, count."""
    lines = [f"{summary['pairs']} pairs"]
    share = summary.get(f"identity_share_under_{IDENTITY_THRESHOLD}")
    for key, mean in summary["mean"].items():
        shown = "n/a" if mean is None else f"{mean:9.3f}"
        lines.append(f"  {key:<26} {shown}   (n={summary['count'][key]})")
    if share is not None:
        lines.append(f"  {f'identity share < {IDENTITY_THRESHOLD}':<26} {share:9.3f}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------ CLI
def _read_pairs_file(path: Path) -> list[EvalPair]:
    pairs = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) not in (2, 3):
            raise ValueError(f"{path}:{number}: expected 'SOURCE REFERENCE [RESULT]', got {line.strip()!r}")
        resolved = [p if Path(p).is_absolute() else path.parent / p for p in fields]
        pairs.append(EvalPair(Path(resolved[0]), Path(resolved[1]), Path(resolved[2]) if len(resolved) == 3 else None))
    missing = [str(p) for pair in pairs for p in (pair.source, pair.reference, pair.result) if p is not None and not p.is_file()]
    if missing:
        raise ValueError(f"{len(missing)} file(s) named in {path} do not exist:\n  " + "\n  ".join(missing))
    return pairs


def _pairs_from_dataset(root: Path, n: int, seed: int) -> list[EvalPair]:
    from .data import list_domain

    def names(domain: str) -> tuple[list[str], str]:
        held_out = list_domain(root, domain, "test")
        return (held_out, "test") if held_out else (list_domain(root, domain, "train"), "train")

    sources, _ = names("non-makeup")
    references, _ = names("makeup")
    if not sources or not references:
        raise ValueError(f"{root} has no non-makeup or no makeup images (expected the MT layout)")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(references), generator=generator).tolist()
    return [
        EvalPair(
            root / "images" / "non-makeup" / sources[i % len(sources)],
            root / "images" / "makeup" / references[order[i % len(order)]],
            source_labels=root / "segs" / "non-makeup" / sources[i % len(sources)],
            reference_labels=root / "segs" / "makeup" / references[order[i % len(order)]],
        )
        for i in range(n)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """``beautygan evaluate --ckpt C --pairs pairs.txt|--data-dir MT_DIR [--n 50] --out DIR``."""
    parser = argparse.ArgumentParser(
        prog="beautygan evaluate",
        description="Identity, colour-transfer and background figures of a trained BeautyGAN (CSV + JSON).",
    )
    parser.add_argument("--ckpt", type=Path, default=None, help="checkpoint of `beautygan fit` (not needed when every pair names its result)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--pairs", type=Path, help="text file, one 'SOURCE REFERENCE [RESULT]' per line (paths relative to it)")
    source.add_argument("--data-dir", type=Path, help="MT-layout dataset: held-out lists if present, else the train lists")
    parser.add_argument("--n", type=int, default=50, help="pairs drawn from --data-dir (default 50)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the reference draw for --data-dir")
    parser.add_argument("--out", type=Path, required=True, help="folder for metrics.csv, summary.json and results/")
    parser.add_argument("--size", type=int, default=None, help="image size (default: the checkpoint's training size)")
    parser.add_argument("--no-identity", action="store_true", help="skip the dlib identity distance")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    failures: list[tuple[EvalPair, str]] = []
    try:
        if args.n < 1:
            raise ValueError(f"--n must be >= 1, got {args.n}")
        if args.size is not None and (args.size < 16 or args.size % 4):
            raise ValueError(f"--size must be a multiple of 4 and >= 16, got {args.size}")
        if args.out.exists() and not args.out.is_dir():
            raise ValueError(f"--out {str(args.out)!r} is a file; name a folder for metrics.csv, summary.json and results/")
        if args.pairs is not None and not args.pairs.is_file():
            raise ValueError(f"--pairs {str(args.pairs)!r} is {'a folder' if args.pairs.is_dir() else 'missing'}; name a text file of 'SOURCE REFERENCE [RESULT]' lines")
        if args.data_dir is not None and not (args.data_dir / "images").is_dir():
            raise ValueError(f"--data-dir {str(args.data_dir)!r} has no images/ folder (expected the MT layout)")
        pairs = _read_pairs_file(args.pairs) if args.pairs else _pairs_from_dataset(args.data_dir, args.n, args.seed)
        generator, size = None, args.size
        if any(p.result is None for p in pairs):
            if args.ckpt is None:
                raise ValueError("--ckpt is required to generate results (or name a RESULT on every --pairs line)")
            from .cli import load_generator

            generator, trained_size = load_generator(args.ckpt)
            size = size or trained_size
        rows = evaluate_pairs(
            pairs, generator=generator, image_size=size, device=args.device,
            identity=False if args.no_identity else "auto", results_dir=args.out / "results", progress=True,
            failures=failures,
        )  # fmt: skip
    except (ValueError, FileNotFoundError, ImportError, RuntimeError) as err:
        print(f"beautygan evaluate: error: {err}", file=sys.stderr)
        return 2
    if not rows:
        print(f"beautygan evaluate: error: none of the {len(failures)} pair(s) could be read", file=sys.stderr)
        for _, message in failures:
            print(f"  {message}", file=sys.stderr)
        return 1
    summary = summarize(rows)
    csv_path, json_path = write_table(rows, summary, args.out)
    print(format_summary(summary))
    print(f"wrote {csv_path} and {json_path}")
    if failures:
        print(f"beautygan evaluate: {len(failures)} of {len(failures) + len(rows)} pair(s) skipped, their files could not be read:", file=sys.stderr)
        for _, message in failures:
            print(f"  {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
