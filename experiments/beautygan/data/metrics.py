"""Measurements of a makeup transfer, on tensors: per-region colour distance to the reference (mean RGB, CIELAB,
histogram EMD), change outside the face, dlib face distance (is the result still the same person); and
:class:`TransferMetrics`, which accumulates them over a validation epoch inside the LightningModule (the file-level
``beautygan evaluate`` is in :mod:`beautygan.inference.evaluate`)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from perceptual.images import to_unit_range, uint8_image

from .regions import FaceRegion, region_masks

__all__ = ["SAME_PERSON_THRESHOLD", "TransferMetrics", "face_distance", "face_models", "transfer_metrics"]


def mean_region_colour(images: Tensor, masks: Tensor, *, input_range: tuple[float, float] = (-1.0, 1.0)) -> Tensor:
    """Mean RGB (0-255) of each image ``(N, 3, H, W)`` over its bool mask ``(N, 1, H, W)``: ``(N, 3)``, NaN if empty."""
    pixels = to_unit_range(images, input_range) * 255
    weight = masks.float()
    return (pixels * weight).sum((2, 3)) / weight.sum((2, 3))


def region_colour_distance(
    images: Tensor,
    image_masks: Tensor,
    references: Tensor,
    reference_masks: Tensor,
    *,
    input_range: tuple[float, float] = (-1.0, 1.0),
) -> Tensor:
    """Euclidean distance (0-255 RGB units) between the mean colours of a region in each image and its reference:
    ``(N,)``, NaN where the region is empty in either."""
    a = mean_region_colour(images, image_masks, input_range=input_range)
    b = mean_region_colour(references, reference_masks, input_range=input_range)
    return torch.linalg.vector_norm(a - b, dim=1)


SAME_PERSON_THRESHOLD = 0.6
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
    if (
        labels.ndim != 4
        or labels.shape[1] != 1
        or labels.shape[0] != images.shape[0]
        or labels.shape[2:] != images.shape[2:]
    ):
        raise ValueError(
            f"{name} must be (N, H, W) or (N, 1, H, W) matching the images {tuple(images.shape)}, got {given}"
        )
    return labels


def transfer_metrics(
    source: Tensor,
    reference: Tensor,
    result: Tensor,
    source_labels: Tensor,
    reference_labels: Tensor,
    *,
    input_range: tuple[float, float] = (-1.0, 1.0),
) -> dict[str, Tensor]:
    """Colour-transfer and background figures of a batch, ``{name: (N,) tensor}`` on the input's device.

    ``source``/``reference``/``result``: ``(N, 3, H, W)`` in ``input_range``; the result is measured with the source's
    label map. Keys, for region in lips, eye_shadow, skin: ``<region>_delta_e`` (CIELAB), ``<region>_emd``
    (histogram earth mover's distance), ``<region>_rgb_distance`` (distance of the region's mean RGB, 0-255; the
    module's ``val/lip_colour_distance`` and the demo's figures), each also as ``..._before`` for the untouched
    source; and ``background_l1`` (mean absolute change of background and hair pixels, 0-255, averaged over RGB).
    NaN marks an empty region (not a failure)."""
    for name, tensor in (("source", source), ("reference", reference), ("result", result)):
        _check_images(tensor, name)
    if not source.shape == reference.shape == result.shape:
        raise ValueError(
            f"source, reference and result must have the same shape, got {tuple(source.shape)}, "
            f"{tuple(reference.shape)}, {tuple(result.shape)}"
        )
    source_labels = _check_labels(source_labels, source, "source_labels")
    reference_labels = _check_labels(reference_labels, reference, "reference_labels")
    src, ref, out = (to_unit_range(x, input_range) for x in (source, reference, result))
    src_masks, ref_masks = region_masks(source_labels), region_masks(reference_labels)
    pairs = {
        "lips": (src_masks.lips, ref_masks.lips),
        "eye_shadow": (
            src_masks.left_eye_shadow | src_masks.right_eye_shadow,
            ref_masks.left_eye_shadow | ref_masks.right_eye_shadow,
        ),
        "skin": (src_masks.skin, ref_masks.skin),
    }
    metrics: dict[str, Tensor] = {}
    src_lab, ref_lab, out_lab = (rgb_to_lab(x) for x in (src, ref, out))
    for region, (src_mask, ref_mask) in pairs.items():
        metrics[f"{region}_delta_e"] = _lab_distance(out_lab, src_mask, ref_lab, ref_mask)
        metrics[f"{region}_delta_e_before"] = _lab_distance(src_lab, src_mask, ref_lab, ref_mask)
        metrics[f"{region}_emd"] = histogram_emd(out, src_mask, ref, ref_mask)
        metrics[f"{region}_emd_before"] = histogram_emd(src, src_mask, ref, ref_mask)
        metrics[f"{region}_rgb_distance"] = region_colour_distance(out, src_mask, ref, ref_mask, input_range=(0.0, 1.0))
        metrics[f"{region}_rgb_distance_before"] = region_colour_distance(
            src, src_mask, ref, ref_mask, input_range=(0.0, 1.0)
        )
    outside = source_labels == int(OUTSIDE_FACE[0])
    for label in OUTSIDE_FACE[1:]:
        outside = outside | (source_labels == int(label))
    metrics["background_l1"] = _masked_mean((out - src).abs() * 255, outside).mean(1)
    return metrics


# ------------------------------------------------------------------------------------------------- face distance
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


def face_distance(
    source: Tensor | np.ndarray,
    result: Tensor | np.ndarray,
    *,
    models: Any,
    source_labels: Tensor | np.ndarray | None = None,
    input_range: tuple[float, float] = (-1.0, 1.0),
    source_faces: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """dlib descriptor distance between the face in ``source`` and the face in ``result``.

    The source face is the detector's largest; if the detector finds none (small or synthetic faces), the box of the
    source label map's face ids is used instead. The result face is detected too, falling back to the source's box
    (the generator keeps the geometry); landmarks and descriptor are always computed on the result's own pixels.
    Returns ``{"face_distance": float (NaN if no face), "face_box_from": "detector"|"labels"|"none",
    "result_face_detected": bool}``. ``models`` is a :class:`~beautygan.data.faces.FaceModels`;
    ``source_faces``: the detections of ``source`` if already made (saves a detector pass)."""
    src, out = uint8_image(source, input_range), uint8_image(result, input_range)
    faces = list(source_faces) if source_faces is not None else models.detect(src)
    if faces:
        box, origin, src_points = faces[0].box, "detector", faces[0].landmarks
    else:
        box = _box_from_labels(source_labels)
        if box is None:
            return {"face_distance": math.nan, "face_box_from": "none", "result_face_detected": False}
        origin, src_points = "labels", models.landmarks(src, box)
    result_faces = models.detect(out)
    out_points = result_faces[0].landmarks if result_faces else models.landmarks(out, box)
    distance = float(np.linalg.norm(models.embed(src, src_points) - models.embed(out, out_points)))
    return {"face_distance": distance, "face_box_from": origin, "result_face_detected": bool(result_faces)}


def face_models(faces: bool | Literal["auto"]) -> Any:
    """dlib's :class:`~beautygan.data.faces.FaceModels` for the face distance: ``None`` when ``faces`` is ``False``;
    with ``"auto"``, ``None`` and a warning when the ``faces`` extra is missing; with ``True``, its
    :class:`~beautygan.data.faces.FacesUnavailableError`."""
    if faces is False:
        return None
    from .faces import FaceModels, FacesUnavailableError

    try:
        return FaceModels()
    except FacesUnavailableError as err:
        if faces == "auto":
            warnings.warn(f"face distance not computed: {err}", stacklevel=3)
            return None
        raise


# ------------------------------------------------------------------------------------------ training hook
class TransferMetrics:
    """Accumulates :func:`transfer_metrics` (and dlib face distances) over an epoch; logs the means.

    Use from a LightningModule::

        self.transfer_metrics = TransferMetrics(faces="auto")           # __init__ (not an nn.Module)
        self.transfer_metrics.update(source, reference, fake_source,      # validation_step, reuse the outputs
                                     batch["source_labels"], batch["reference_labels"])
        self.transfer_metrics.log_to(self, prefix="val")                   # on_validation_epoch_end

    The colour metrics stay on the device as running sums (no host sync in ``update``); the face distance needs
    dlib on the CPU, so it is computed for at most ``max_face_distance_samples`` samples per epoch. Under DDP the sums
    are added over ranks in :meth:`log_to` (every rank must call it).

    Args:
        faces: the dlib face distance: ``True`` (needs the ``faces`` extra), ``False``, or ``"auto"`` (on when dlib
            is installed).
        input_range: range of the images passed to :meth:`update` ((-1, 1) for the generator's tanh output).
        max_face_distance_samples: cap on dlib evaluations per epoch (each costs ~0.1-0.3 s of CPU).
    """

    def __init__(
        self,
        *,
        faces: bool | Literal["auto"] = "auto",
        input_range: tuple[float, float] = (-1.0, 1.0),
        max_face_distance_samples: int = 32,
        models: Any = None,
    ) -> None:
        if faces not in (True, False, "auto"):
            raise ValueError(f"faces must be True, False or 'auto', got {faces!r}")
        if max_face_distance_samples < 0:
            raise ValueError(f"max_face_distance_samples must be >= 0, got {max_face_distance_samples}")
        self.input_range = input_range
        self.max_face_distance_samples = max_face_distance_samples
        self.models = models if models is not None else face_models(faces)
        self.reset()

    def reset(self) -> None:
        self._sums: dict[str, Tensor] = {}
        self._counts: dict[str, Tensor] = {}
        self._face_distances: list[float] = []

    @torch.no_grad()
    def update(
        self, source: Tensor, reference: Tensor, result: Tensor, source_labels: Tensor, reference_labels: Tensor
    ) -> dict[str, Tensor]:
        """Add a batch; returns its per-sample metrics (``(N,)`` tensors, without the face distance)."""
        metrics = transfer_metrics(
            source.detach(),
            reference.detach(),
            result.detach(),
            source_labels,
            reference_labels,
            input_range=self.input_range,
        )
        for name, values in metrics.items():
            finite = torch.isfinite(values)
            total = torch.where(finite, values, torch.zeros_like(values)).sum().double()
            self._sums[name] = self._sums.get(name, 0) + total
            self._counts[name] = self._counts.get(name, 0) + finite.sum()
        if self.models is not None and len(self._face_distances) < self.max_face_distance_samples:
            take = min(source.shape[0], self.max_face_distance_samples - len(self._face_distances))
            for i in range(take):
                row = face_distance(
                    source[i],
                    result[i],
                    models=self.models,
                    source_labels=source_labels[i],
                    input_range=self.input_range,
                )
                self._face_distances.append(row["face_distance"])
        return metrics

    def compute(self, reduce_sum: Callable[[Tensor], Tensor] | None = None) -> dict[str, float]:
        """Epoch means (NaN-free: empty regions are left out), ``face_distance`` mean and
        ``same_person_share_under_0.6`` when faces are on. ``reduce_sum`` adds a tensor over DDP ranks."""
        reduce_sum = reduce_sum or (lambda t: t)
        out: dict[str, float] = {}
        for name in sorted(self._sums):
            stacked = reduce_sum(torch.stack([self._sums[name], self._counts[name].double()]))
            if float(stacked[1]) > 0:
                out[name] = float(stacked[0] / stacked[1])
        if self.models is not None:
            device = next(iter(self._sums.values())).device if self._sums else torch.device("cpu")
            values = [v for v in self._face_distances if math.isfinite(v)]
            stats = torch.tensor(
                [sum(values), len(values), sum(v < SAME_PERSON_THRESHOLD for v in values)],
                dtype=torch.float64,
                device=device,
            )
            stats = reduce_sum(stats)
            if float(stats[1]) > 0:
                out["face_distance"] = float(stats[0] / stats[1])
                out[f"same_person_share_under_{SAME_PERSON_THRESHOLD}"] = float(stats[2] / stats[1])
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
