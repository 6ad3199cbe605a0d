"""Perceptual (feature reconstruction) and style losses on frozen VGG features.

- Perceptual loss: Johnson, Alahi & Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and Super-Resolution"
  (ECCV 2016); BeautyGAN's perceptual loss (Li et al., ACM MM 2018) is its ``relu4_1`` L2 form.
- Style loss: Gatys, Ecker & Bethge, "Image Style Transfer Using Convolutional Neural Networks" (CVPR 2016), with
  Gram matrices normalized by ``C*H*W`` and computed in float32 even under autocast (fp16 Grams overflow). As style
  transfer trains, one style image (of any size) serves a whole batch, and its Grams can be kept
  (:meth:`StyleLoss.set_target`) instead of recomputed every step.

Function and module share one implementation: :func:`perceptual_loss` builds (and caches) the same
:class:`~perceptual.VGGFeatures` that :class:`PerceptualLoss` holds, and both reduce with :func:`feature_distance`.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from perceptual._validation import (
    DEFAULT_INPUT_RANGE,
    FirstCallChecked,
    call_argument,
    check_layer_weight,
    check_mask,
    warn_range_mismatch,
)
from perceptual.features import Pooling, VGGFeatures
from perceptual.layers import canonical_layer_name
from perceptual.normalization import InputNormalization
from perceptual.weights import WeightsSource

__all__ = [
    "STYLE_LAYERS",
    "PerceptualLoss",
    "PerceptualLossOutput",
    "StyleLoss",
    "beautygan_perceptual_loss",
    "feature_distance",
    "gram_matrix",
    "masked_gram_matrix",
    "perceptual_loss",
    "resize_mask",
    "style_loss",
]

Criterion = Literal["mse", "l1", "smooth_l1", "cosine"]
Reduction = Literal["mean", "sum", "none"]
_CRITERIA = ("mse", "l1", "smooth_l1", "cosine")
_REDUCTIONS = ("mean", "sum", "none")


class PerceptualLossOutput(NamedTuple):
    """``loss`` plus the features it was computed from (``pred_features`` carry the graph; detach to keep them)."""

    loss: Tensor
    pred_features: dict[str, Tensor]
    target_features: dict[str, Tensor]


def gram_matrix(features: Tensor) -> Tensor:
    """``F F^T / (C*H*W)`` per sample, in float32 whatever the input dtype and autocast state: ``(N, C, C)``."""
    if features.ndim != 4:
        raise ValueError(f"gram_matrix expects (N, C, H, W) features, got shape {tuple(features.shape)}")
    n, c, h, w = features.shape
    with torch.autocast(device_type=features.device.type, enabled=False):
        flat = features.reshape(n, c, h * w).float()
        return torch.bmm(flat, flat.transpose(1, 2)) / (c * h * w)


def resize_mask(mask: Tensor, size: tuple[int, int] | torch.Size) -> Tensor:
    """A ``(N, 1, H, W)`` region mask resized to a feature map's ``(h, w)`` by area (each feature cell gets the
    mean of the mask over the pixels it covers)."""
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    return F.interpolate(mask, size=tuple(size), mode="area")


def masked_gram_matrix(features: Tensor, mask: Tensor) -> Tensor:
    """Gram matrix of the features inside a region: ``(F m)(F m)^T / (C * sum(m))`` per sample (Gatys et al.'s
    guided Gram, CVPR 2017, normalized by the region's area), float32; ``mask`` is ``(N or 1, 1, h, w)`` at the
    features' size. Equals :func:`gram_matrix` for an all-ones mask."""
    n, c, h, w = features.shape
    with torch.autocast(device_type=features.device.type, enabled=False):
        weighted = (features.float() * mask.float()).reshape(n, c, h * w)
        area = mask.float().expand(n, 1, h, w).sum(dim=(1, 2, 3)).clamp_min(1e-12)
        return torch.bmm(weighted, weighted.transpose(1, 2)) / (c * area).view(n, 1, 1)


def _normalize_channels(features: Tensor, eps: float) -> Tensor:
    # LPIPS-style unit norm over channels; eps inside the sqrt so the gradient at an all-zero vector is finite.
    return features * torch.rsqrt(features.pow(2).sum(dim=1, keepdim=True) + eps)


def _elementwise(pred: Tensor, target: Tensor, criterion: str) -> Tensor:
    if criterion == "mse":
        return F.mse_loss(pred, target, reduction="none")
    if criterion == "l1":
        return F.l1_loss(pred, target, reduction="none")
    if criterion == "smooth_l1":
        return F.smooth_l1_loss(pred, target, reduction="none")
    # cosine: 1 - cos over the channel dim, per spatial position (per Gram row for style).
    return 1.0 - F.cosine_similarity(pred, target, dim=1, eps=1e-8).unsqueeze(1)


def feature_distance(
    pred_features: Mapping[str, Tensor],
    target_features: Mapping[str, Tensor],
    layer_weights: Mapping[str, float],
    *,
    criterion: Criterion = "mse",
    reduction: Reduction = "mean",
    normalize_features: bool = False,
    eps: float = 1e-10,
    transform: Callable[[Tensor], Tensor] | None = None,
    mask: Tensor | None = None,
    target_transformed: bool = False,
) -> Tensor:
    """Weighted sum over layers of a distance between two feature dicts (the shared core of every loss here).

    Per layer the elementwise distance ``d`` is reduced as ``mean`` (``d.mean()``), ``sum`` (``d.sum()``) or ``none``
    (``d`` averaged per sample, shape ``(N,)``); layers are then summed with their weights. ``transform`` (e.g.
    :func:`gram_matrix`) is applied to both features first.

    ``mask`` (``(N or 1, 1, H, W)`` weights in [0, 1] at any resolution, usually the images') restricts the loss to
    a region: it is resized to each layer by area (:func:`resize_mask`) and the distance is averaged over the
    region, ``sum(d * m) / (C * sum(m))`` (``mean``: over the batch; ``none``: per sample; ``sum``: ``sum(d * m)``).
    With ``transform=gram_matrix`` the Grams are the region's (:func:`masked_gram_matrix`). An empty region gives 0.

    A target batch of one is compared with every sample of ``pred`` (one style image for a batch).
    ``target_transformed=True``: ``target_features`` already hold the transformed target (the Gram matrices
    :meth:`StyleLoss.set_target` keeps); ``mask`` then restricts ``pred`` only.
    """
    _check_options(criterion, reduction)
    if mask is not None and transform not in (None, gram_matrix):
        raise ValueError("mask= works with transform=None or transform=gram_matrix only")
    if mask is not None and (mask.ndim != 4 or mask.shape[1] != 1):
        raise ValueError(f"mask must be (N, 1, H, W), got shape {tuple(mask.shape)}")
    total: Tensor | None = None
    for name, weight in layer_weights.items():
        pred, target = pred_features[name], target_features[name]
        if normalize_features:
            pred = _normalize_channels(pred, eps)
            target = target if target_transformed else _normalize_channels(target, eps)
        layer_mask = None if mask is None else resize_mask(mask, pred.shape[-2:]).to(pred.dtype)
        if layer_mask is not None and transform is gram_matrix:
            pred = masked_gram_matrix(pred, layer_mask)
            target = target if target_transformed else masked_gram_matrix(target, layer_mask)
            layer_mask = None  # the region is in the Grams
        elif transform is not None:
            pred = transform(pred)
            target = target if target_transformed else transform(target)
        if target.shape[0] == 1 and pred.shape[0] > 1:
            target = target.expand(pred.shape[0], *target.shape[1:])
        distance = _elementwise(pred, target, criterion)
        if layer_mask is not None:
            term = _masked_reduce(distance, layer_mask, reduction)
        elif reduction == "mean":
            term = distance.mean()
        elif reduction == "sum":
            term = distance.sum()
        else:
            term = distance.reshape(distance.shape[0], -1).mean(dim=1)
        term = term * weight
        total = term if total is None else total + term
    if total is None:
        raise ValueError("layer_weights is empty")
    return total


def _masked_reduce(distance: Tensor, mask: Tensor, reduction: str) -> Tensor:
    n, c = distance.shape[:2]
    mask = mask.expand(n, 1, *distance.shape[-2:])
    weighted = (distance * mask).reshape(n, -1).sum(dim=1)
    if reduction == "sum":
        return weighted.sum()
    area = mask.reshape(n, -1).sum(dim=1) * c
    if reduction == "mean":
        return weighted.sum() / area.sum().clamp_min(1e-12)
    return weighted / area.clamp_min(1e-12)


def _check_options(criterion: str, reduction: str) -> None:
    if criterion not in _CRITERIA:
        raise ValueError(f"criterion must be one of {list(_CRITERIA)}, got {criterion!r}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {list(_REDUCTIONS)}, got {reduction!r}")


def _layer_weights(layers: Mapping[str, float] | Sequence[str] | str, arch: str = "vgg16") -> dict[str, float]:
    """``{tap: weight}`` from a dict, a list of names (weight 1 each) or one name: every weight a number, finite and
    >= 0, not all 0, and no tap named twice (``relu1_1`` and its Keras alias ``block1_conv1`` are one tap)."""
    if isinstance(layers, str):
        pairs: list[tuple[Any, Any]] = [(layers, 1.0)]
    elif isinstance(layers, Mapping):
        pairs = list(layers.items())
    else:
        pairs = [(name, 1.0) for name in layers]
    if not pairs:
        raise ValueError("layers must name at least one tap, e.g. {'relu4_1': 1.0}")
    weights = {}
    seen: dict[str, str] = {}
    for name, weight in pairs:
        canonical = canonical_layer_name(name, arch)  # TypeError/ValueError naming the valid taps
        if canonical in seen:
            raise ValueError(
                f"layers names the tap {canonical!r} twice ({seen[canonical]!r} and {name!r}; a Keras name is an alias "
                f"of its canonical one): give it one entry with the sum of the weights you meant"
            )
        seen[canonical] = name
        weights[name] = check_layer_weight(name, weight)
    if not any(weights.values()):
        raise ValueError(
            f"layer weights are all 0 ({weights}): the loss would be 0 whatever the images; give at least one tap a "
            "positive weight"
        )
    return weights


def _refuse_layer_weights_as_weights(weights: object, layers: object) -> None:
    """piq's ``ContentLoss(layers=[...], weights=[...])`` habit: ``weights=`` here is the VGG's weights."""
    if not isinstance(weights, (list, tuple)) or not all(
        isinstance(w, numbers.Real) and not isinstance(w, bool) for w in weights
    ):
        return
    names = [layers] if isinstance(layers, str) else list(layers) if isinstance(layers, Sequence) else []
    example = dict(zip(names, weights)) if names and len(names) == len(weights) else {"relu3_3": 1.0}
    raise TypeError(
        f"weights= is the VGG's weights ('imagenet', a file path, 'random', ...), got the list {list(weights)!r}; "
        f"layer weights go with the layers, as a dict: PerceptualLoss(layers={example!r})"
    )


def _loss_forward(
    extractor: VGGFeatures,
    pred: Tensor,
    target: Tensor | None,
    layer_weights: Mapping[str, float],
    *,
    criterion: Criterion,
    reduction: Reduction,
    normalize_features: bool,
    transform: Callable[[Tensor], Tensor] | None,
    mask: Tensor | None = None,
    target_grams: Mapping[str, Tensor] | None = None,
) -> PerceptualLossOutput:
    extractor.check_batch(pred, "pred")
    if target is not None:
        extractor.check_batch(target, "target")
    # The first batch's range check: the target (real images) with every rule, pred for values outside the range,
    # in one device sync.
    extractor.check_range_once(target, "target", pred=pred)
    if target is not None and pred.shape != target.shape:
        if transform is not gram_matrix or target.shape[0] not in (1, pred.shape[0]):
            hint = "; a style loss also takes one style image of any size for the whole batch" if transform else ""
            raise ValueError(
                f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}{hint}"
            )
        if mask is not None:
            raise ValueError(
                "mask= takes the same region of pred and target, so target must have pred's shape, got "
                f"{tuple(pred.shape)} and {tuple(target.shape)}; for a style image of another size, give its region "
                "with set_target(image, mask=...)"
            )
    if mask is not None:
        mask = check_mask(mask, pred)
    if target_grams is not None:
        target_features: Mapping[str, Tensor] = target_grams
    else:
        assert target is not None
        with torch.no_grad():  # gradient flows to pred only; no graph for the target pass
            target_features = extractor(target)
    pred_features = extractor(pred)
    loss = feature_distance(
        pred_features,
        target_features,
        layer_weights,
        criterion=criterion,
        reduction=reduction,
        normalize_features=normalize_features,
        transform=transform,
        mask=mask,
        target_transformed=target_grams is not None,
    )
    return PerceptualLossOutput(loss, pred_features, {} if target_grams is not None else dict(target_features))


class PerceptualLoss(FirstCallChecked):
    """Weighted distance between VGG features of ``pred`` and ``target``; gradient flows to ``pred`` only.

    Args:
        layers: ``{"relu4_1": 1.0}`` (default), a list of names (weight 1 each) or one name.
        arch, weights, input_range, normalization, pool_padding, pooling, seed: passed to
            :class:`~perceptual.VGGFeatures`; ``input_range`` defaults to ``(0, 1)`` (torchvision's convention), pass
            ``(-1, 1)`` for tanh outputs; ``weights`` names the VGG's weights (layer weights go in ``layers``).
        criterion: ``"mse"`` (L2), ``"l1"``, ``"smooth_l1"`` or ``"cosine"`` (1 - cosine over channels).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per sample).
        normalize_features: unit-normalize each feature vector over channels first (LPIPS-style).
        check_finite, check_range: opt-in input value checks (each syncs with the device).
        warn_range_mismatch: the extractor's first-batch range check (on by default; one device sync, once, outside
            any compiled graph): ``target`` with every rule, ``pred`` for values outside ``input_range``; ``False``
            turns it off.

    ``loss(pred, target, return_features=True)`` returns a :class:`PerceptualLossOutput` with both feature dicts,
    for callers (e.g. TensorBoard feature-map monitoring) that would otherwise run VGG again.
    ``loss(pred, target, mask=m)`` restricts it to a region (``(N, 1, H, W)`` weights at the images' size, resized
    to each layer by area, the loss averaged over the region; see :func:`feature_distance`).
    """

    def __init__(
        self,
        layers: Mapping[str, float] | Sequence[str] | str | None = None,
        *,
        arch: str = "vgg16",
        weights: WeightsSource = "imagenet",
        input_range: tuple[float, float] = DEFAULT_INPUT_RANGE,
        criterion: Criterion = "mse",
        reduction: Reduction = "mean",
        normalize_features: bool = False,
        normalization: str | InputNormalization | None = None,
        pool_padding: Literal["valid", "same"] = "valid",
        pooling: Pooling = "max",
        seed: int = 0,
        check_finite: bool = False,
        check_range: bool = False,
        warn_range_mismatch: bool = True,
        extractor: VGGFeatures | None = None,
    ) -> None:
        super().__init__()
        _check_options(criterion, reduction)
        _refuse_layer_weights_as_weights(weights, layers)
        self.layer_weights = _layer_weights(
            {"relu4_1": 1.0} if layers is None else layers, extractor.arch if extractor is not None else arch
        )
        self.criterion = criterion
        self.reduction = reduction
        self.normalize_features = normalize_features
        if extractor is None:
            extractor = VGGFeatures(
                list(self.layer_weights),
                arch=arch,
                weights=weights,
                input_range=input_range,
                normalization=normalization,
                pool_padding=pool_padding,
                pooling=pooling,
                seed=seed,
                check_finite=check_finite,
                check_range=check_range,
                warn_range_mismatch=warn_range_mismatch,
            )
        else:
            missing = [name for name in self.layer_weights if name not in extractor.layers]
            if missing:
                raise ValueError(f"extractor does not tap {missing}; it taps {list(extractor.layers)}")
        self.extractor = extractor

    def _transform(self) -> Callable[[Tensor], Tensor] | None:
        return None

    def _has_set_target(self) -> bool:
        return False

    def _check_first_call(self, args: tuple, kwargs: Mapping[str, Any]) -> None:
        extractor = self.extractor
        if extractor.range_checked:
            return
        pred, target = call_argument(args, kwargs, 0, "pred"), call_argument(args, kwargs, 1, "target")
        if pred is None or (target is None and not self._has_set_target()):
            return  # forward says what is wrong
        extractor.check_batch(pred, "pred")
        if target is not None:
            extractor.check_batch(target, "target")
        extractor.check_range_once(target, "target", pred=pred)

    def forward(
        self, pred: Tensor, target: Tensor, return_features: bool = False, *, mask: Tensor | None = None
    ) -> Tensor | PerceptualLossOutput:
        output = _loss_forward(
            self.extractor,
            pred,
            target,
            self.layer_weights,
            criterion=self.criterion,
            reduction=self.reduction,
            normalize_features=self.normalize_features,
            transform=self._transform(),
            mask=mask,
        )
        return output if return_features else output.loss

    def extra_repr(self) -> str:
        return (
            f"layers={self.layer_weights}, criterion={self.criterion!r}, reduction={self.reduction!r}, "
            f"normalize_features={self.normalize_features}"
        )


STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
"""Johnson et al.'s style layers, the default of :class:`StyleLoss` and :func:`style_loss`."""


class StyleLoss(PerceptualLoss):
    """Distance between Gram matrices (``F F^T / (C*H*W)``, float32) of VGG features.

    Defaults to Johnson et al.'s style layers ``relu1_2, relu2_2, relu3_3, relu4_3`` with MSE; every other argument
    is :class:`PerceptualLoss`'s, with the same defaults (``input_range=(0, 1)``, the first-batch range check on).

    The target may be one style image of any size for a whole batch (``loss(pred, style[None])``: its Grams are
    compared with each sample's). :meth:`set_target` keeps a style image's Grams, so a training loop computes them
    once: ``loss.set_target(style)`` then ``loss(pred)``, equal to ``loss(pred, style)``.
    """

    def __init__(self, layers: Mapping[str, float] | Sequence[str] | str | None = None, **kwargs: Any) -> None:
        super().__init__(dict.fromkeys(STYLE_LAYERS, 1.0) if layers is None else layers, **kwargs)
        self._target_layers: tuple[str, ...] = ()

    def _transform(self) -> Callable[[Tensor], Tensor] | None:
        return gram_matrix

    def _has_set_target(self) -> bool:
        return bool(self._target_layers)

    def set_target(self, image: Tensor | None, *, mask: Tensor | None = None) -> None:
        """Keep the Gram matrices of ``image`` (``(1, 3, H, W)``: one style image for every batch, or ``(N, 3, H, W)``
        for batches of ``N``) so that ``loss(pred)`` compares ``pred`` with them and no VGG pass over the style image
        runs per step. ``mask`` (``(N or 1, 1, H, W)`` at ``image``'s size, weights in [0, 1]) keeps the Grams of a
        region of it (:func:`masked_gram_matrix`); ``loss(pred, mask=m)`` then restricts ``pred``'s Grams to its own
        region. ``None`` forgets the target. The Grams are non-persistent buffers: they move with ``.to()`` and stay
        out of checkpoints (set the target again after loading one).

        The image's range is checked (one device sync) when ``warn_range_mismatch`` is on; the first ``loss(pred)``
        still checks ``pred``."""
        for index in range(len(self._target_layers)):
            delattr(self, f"target_gram_{index}")
        self._target_layers = ()
        if image is None:
            return
        extractor = self.extractor
        extractor.check_batch(image, "target")
        if extractor.warn_range_mismatch:
            warn_range_mismatch(image, "target", extractor.input_range)
        region = None if mask is None else check_mask(mask, image)
        with torch.no_grad():
            features = extractor.extract(image)
            for index, name in enumerate(self.layer_weights):
                layer = _normalize_channels(features[name], 1e-10) if self.normalize_features else features[name]
                gram = (
                    gram_matrix(layer)
                    if region is None
                    else masked_gram_matrix(layer, resize_mask(region, layer.shape[-2:]).to(layer.dtype))
                )
                self.register_buffer(f"target_gram_{index}", gram, persistent=False)
        self._target_layers = tuple(self.layer_weights)

    def target_grams(self) -> dict[str, Tensor]:
        """The Gram matrices :meth:`set_target` keeps, ``{layer: (N or 1, C, C)}`` (empty when none is set)."""
        return {name: getattr(self, f"target_gram_{index}") for index, name in enumerate(self._target_layers)}

    def forward(
        self, pred: Tensor, target: Tensor | None = None, return_features: bool = False, *, mask: Tensor | None = None
    ) -> Tensor | PerceptualLossOutput:
        grams = self.target_grams() or None
        if target is None and grams is None:
            raise TypeError("StyleLoss needs a target: loss(pred, target), or loss.set_target(style_image) first")
        if target is not None and grams is not None:
            raise ValueError(
                "a target is set (set_target): call loss(pred), or loss.set_target(None) to pass a target per call"
            )
        if grams is not None:
            kept = next(iter(grams.values())).shape[0]
            if kept not in (1, pred.shape[0]):
                raise ValueError(
                    f"the target set holds {kept} images; it serves batches of 1 or {kept}, got pred of shape "
                    f"{tuple(pred.shape)}"
                )
        output = _loss_forward(
            self.extractor,
            pred,
            target,
            self.layer_weights,
            criterion=self.criterion,
            reduction=self.reduction,
            normalize_features=self.normalize_features,
            transform=gram_matrix,
            mask=mask,
            target_grams=grams,
        )
        return output if return_features else output.loss


@functools.lru_cache(maxsize=8)
def _default_extractor(layers: tuple[str, ...], device: torch.device, dtype: torch.dtype) -> VGGFeatures:
    return VGGFeatures(layers).to(device=device, dtype=dtype)  # VGG16, ImageNet weights, inputs in [0, 1]


def _functional(
    pred: Tensor, target: Tensor, layers, extractor, *, default_layers, transform, **options: Any
) -> Tensor:
    layer_weights = _layer_weights(default_layers if layers is None else layers)
    if not isinstance(pred, Tensor):
        raise TypeError(f"pred must be a torch.Tensor, got {type(pred).__name__}")
    if extractor is None:
        dtype = pred.dtype if pred.dtype in (torch.float32, torch.float64) else torch.float32
        extractor = _default_extractor(tuple(layer_weights), pred.device, dtype)
    elif not isinstance(extractor, VGGFeatures):
        raise TypeError(f"extractor must be a perceptual.VGGFeatures, got {type(extractor).__name__}")
    else:
        missing = [name for name in layer_weights if name not in extractor.layers]
        if missing:
            raise ValueError(f"extractor does not tap {missing}; it taps {list(extractor.layers)}")
    return _loss_forward(extractor, pred, target, layer_weights, transform=transform, **options).loss


def perceptual_loss(
    pred: Tensor,
    target: Tensor,
    layers: Mapping[str, float] | Sequence[str] | str | None = None,
    *,
    extractor: VGGFeatures | None = None,
    criterion: Criterion = "mse",
    reduction: Reduction = "mean",
    normalize_features: bool = False,
    gram: bool = False,
    mask: Tensor | None = None,
) -> Tensor:
    """Functional :class:`PerceptualLoss` (default ``{"relu4_1": 1.0}``), or with ``gram=True`` :class:`StyleLoss`
    (distances of Gram matrices in float32, default :data:`STYLE_LAYERS`; :func:`style_loss`).

    ``extractor``: the :class:`~perceptual.VGGFeatures` to use (it must tap ``layers``); by default ImageNet VGG16
    for inputs in [0, 1], built once per layer set, device and dtype and cached. Other VGGs, weights or input
    ranges: pass ``extractor=VGGFeatures(layers, input_range=(-1, 1), ...)``, or hold a :class:`PerceptualLoss`."""
    _check_options(criterion, reduction)
    if gram and normalize_features:
        raise ValueError("gram=True compares Gram matrices of the raw features; normalize_features must be False")
    default = dict.fromkeys(STYLE_LAYERS, 1.0) if gram else {"relu4_1": 1.0}
    return _functional(
        pred,
        target,
        layers,
        extractor,
        default_layers=default,
        transform=gram_matrix if gram else None,
        criterion=criterion,
        reduction=reduction,
        normalize_features=normalize_features,
        mask=mask,
    )


def style_loss(
    pred: Tensor, target: Tensor, layers: Mapping[str, float] | Sequence[str] | str | None = None, **options: Any
) -> Tensor:
    """Functional :class:`StyleLoss`: ``perceptual_loss(pred, target, layers, gram=True, **options)`` (``extractor``,
    ``criterion``, ``reduction``, ``mask``)."""
    return perceptual_loss(pred, target, layers, gram=True, **options)


BEAUTYGAN_VGG: dict[str, tuple[str, str | None]] = {"paper": ("vgg16", None), "official": ("vgg19", "none")}
"""(arch, input normalization) of BeautyGAN's perceptual loss: the paper's VGG16 with the weights' own (ImageNet)
normalization; the official code's VGG19 fed the raw [-1, 1] images (``"none"``)."""


def beautygan_perceptual_loss(
    variant: Literal["paper", "official"] = "paper", *, weights: WeightsSource = "imagenet", seed: int = 0
) -> PerceptualLoss:
    """BeautyGAN's perceptual loss (unweighted; the paper multiplies it by 0.005).

    - ``"paper"``: VGG16 ``relu4_1``, L2 (MSE), on generator outputs in [-1, 1] with ImageNet normalization.
    - ``"official"``: what wtjiang98/BeautyGAN_pytorch computes: VGG19 ``relu4_1``, MSE, with the [-1, 1]
      images fed to VGG *without* ImageNet normalization (``normalization="none"``).
    """
    if variant not in BEAUTYGAN_VGG:
        raise ValueError(f"variant must be 'paper' or 'official', got {variant!r}")
    arch, normalization = BEAUTYGAN_VGG[variant]
    return PerceptualLoss(
        {"relu4_1": 1.0}, arch=arch, weights=weights, input_range=(-1.0, 1.0), normalization=normalization, seed=seed
    )
