"""Input checks shared by the feature module and the losses. Shape/dtype checks read only tensor metadata;
value checks (finiteness, range) need a device->host sync: the hard ones are opt-in, the range warning looks at the
first batch only, outside any compiled graph (:class:`FirstCallChecked`)."""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn


class InputRangeWarning(UserWarning):
    """The images' values do not look like the declared ``input_range``."""


__all__ = ["DEFAULT_INPUT_RANGE", "FirstCallChecked", "InputRangeWarning"]

DEFAULT_INPUT_RANGE: tuple[float, float] = (0.0, 1.0)
"""The ``input_range`` every module and function of this package assumes when none is given: images in [0, 1],
torchvision's convention (``ToTensor``, ``read_image(...) / 255``). GAN outputs from ``tanh`` need
``input_range=(-1, 1)``."""


def spatial_size(x: Tensor) -> tuple[int, int]:
    """``(height, width)`` of an ``(..., H, W)`` tensor, as two ints."""
    return int(x.shape[-2]), int(x.shape[-1])


def check_image_batch(x: object, name: str = "input") -> Tensor:
    """Raise ``TypeError``/``ValueError`` unless ``x`` is a floating ``(N, 3, H, W)`` tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, 3, H, W), got {type(x).__name__}")
    if x.ndim != 4:
        hint = " For a single image use x.unsqueeze(0)." if x.ndim == 3 else ""
        raise ValueError(f"{name} must have shape (N, 3, H, W), got {x.ndim} dims with shape {tuple(x.shape)}.{hint}")
    channels = x.shape[1]
    if channels != 3:
        if channels == 1:
            hint = "grayscale: repeat it to RGB with x.expand(-1, 3, -1, -1)"
        elif channels == 4:
            hint = "RGBA: drop or composite the alpha channel, e.g. x[:, :3]"
        else:
            hint = "VGG takes RGB images"
        raise ValueError(f"{name} must have 3 (RGB) channels, got shape {tuple(x.shape)} with {channels}; {hint}")
    if not torch.is_floating_point(x):
        raise TypeError(
            f"{name} must be a floating-point tensor, got {x.dtype}; for uint8 images use x.float() with "
            "input_range=(0, 255), or x.float() / 255 with input_range=(0, 1)"
        )
    return x


def check_image_values(
    x: Tensor,
    name: str,
    input_range: tuple[float, float],
    *,
    check_finite: bool,
    check_range: bool,
    tolerance: float = 1e-3,
) -> None:
    """Opt-in value checks (each syncs with the device once)."""
    if check_finite:
        check_finite_values(x, name)
    if check_range:
        low, high = input_range
        lo, hi = float(x.min()), float(x.max())
        slack = tolerance * (high - low)
        if lo < low - slack or hi > high + slack:
            raise ValueError(
                f"{name} values lie in [{lo:.4g}, {hi:.4g}], outside input_range=({low:g}, {high:g}); "
                "pass the range your tensors really have (GAN outputs from tanh: input_range=(-1, 1))"
            )


def check_finite_values(x: Tensor, name: str) -> None:
    """Raise ``ValueError`` naming ``name``, how many values are NaN and how many infinite, and which samples hold
    them, unless every value of ``x`` is finite (one device sync)."""
    nan, inf = (int(v) for v in torch.stack([torch.isnan(x).sum(), torch.isinf(x).sum()]).tolist())
    if nan == 0 and inf == 0:
        return
    bad = ~torch.isfinite(x.detach())
    samples = bad.reshape(x.shape[0], -1).any(dim=1).nonzero().flatten().tolist() if x.ndim > 0 else []
    shown = ", ".join(str(i) for i in samples[:8]) + (f" and {len(samples) - 8} more" if len(samples) > 8 else "")
    raise ValueError(
        f"{name} has {nan + inf} non-finite value(s) of {x.numel()} ({nan} NaN, {inf} inf) in sample(s) {shown} "
        f"of its batch of shape {tuple(x.shape)}; every loss and feature of those samples would be NaN"
    )


METRIC_MIN_SIZE = 16
"""The smallest image side LPIPS and DISTS take: VGG16's fifth block comes after four 2x poolings, and at 16x16 it is
1x1. (DISTS' padded L2 pooling would give maps of any input size, but a 1x1 ``relu5_3`` of an 8x8 image is
padding, not a feature.)"""


def check_metric_size(x: Tensor, name: str, metric: str) -> None:
    """Raise ``ValueError`` unless ``x`` is at least :data:`METRIC_MIN_SIZE` pixels on each side."""
    height, width = x.shape[-2:]
    if height < METRIC_MIN_SIZE or width < METRIC_MIN_SIZE:
        raise ValueError(
            f"{metric} needs images of at least {METRIC_MIN_SIZE}x{METRIC_MIN_SIZE} (VGG16's fifth block, after four "
            f"poolings, is then 1x1), got {name} of {height}x{width}; upsample it first"
        )


def check_mask(mask: object, image: Tensor) -> Tensor:
    """``mask`` as a float ``(N or 1, 1, H, W)`` tensor at ``image``'s size (``(N, H, W)`` and bool are accepted)."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"mask must be a torch.Tensor, got {type(mask).__name__}")
    if mask.ndim == 3:
        mask = mask.unsqueeze(1)
    n, _, h, w = image.shape
    if mask.ndim != 4 or mask.shape[1] != 1 or mask.shape[0] not in (1, n) or tuple(mask.shape[-2:]) != (h, w):
        raise ValueError(
            f"mask must be (N, 1, H, W) or (N, H, W) with N in (1, {n}) and the images' size {(h, w)}, "
            f"got shape {tuple(mask.shape)}"
        )
    if not (mask.is_floating_point() or mask.dtype == torch.bool):
        raise TypeError(f"mask must be float (weights in [0, 1]) or bool, got {mask.dtype}")
    if mask.dtype == torch.bool:
        return mask.to(torch.float32)
    # One device sync: a weight below 0 turns the region average into a ratio of two signed sums (a loss of -1e14),
    # a NaN makes it NaN.
    low, high, nonfinite = (
        float(v)
        for v in torch.stack(
            [
                torch.nan_to_num(mask, nan=0.0).amin(),
                torch.nan_to_num(mask, nan=0.0).amax(),
                (~torch.isfinite(mask)).sum(),
            ]
        ).tolist()
    )
    if nonfinite or low < 0 or high > 1:
        what = f"{int(nonfinite)} NaN or infinite value(s)" if nonfinite else f"values in [{low:.4g}, {high:.4g}]"
        raise ValueError(
            f"mask must hold weights in [0, 1], got {what}; a float mask is a per-pixel weight (a bool mask works too)"
        )
    return mask


def _range_problem(
    lo: float, hi: float, input_range: tuple[float, float], *, narrow_rule: bool
) -> tuple[str, tuple[float, float] | None] | None:
    """``(what, likely range)`` when ``[lo, hi]`` does not look like ``input_range``, else ``None``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    low, high = input_range
    width = high - low
    outside = lo < low - 0.01 * width or hi > high + 0.01 * width
    narrow = narrow_rule and (hi - lo) <= 0.55 * width  # [0, 1] in a declared (-1, 1) spans at most half
    guesses = [r for r in ((0.0, 1.0), (-1.0, 1.0), (0.0, 255.0)) if r != (low, high)]
    likely = next(
        (
            r
            for r in guesses
            if lo >= r[0] - 0.01 * (r[1] - r[0])
            and hi <= r[1] + 0.01 * (r[1] - r[0])
            and hi - lo >= 0.5 * (r[1] - r[0])
        ),
        None,
    )
    if not (outside or (narrow and likely is not None)):
        return None
    return ("leave" if outside else f"use {100 * (hi - lo) / width:.0f}% of"), likely


def _warn(name: str, lo: float, hi: float, input_range: tuple[float, float], problem: tuple) -> None:
    what, likely = problem
    low, high = input_range
    hint = (
        f"; if they are {likely[0]:g}..{likely[1]:g} images, pass input_range=({likely[0]:g}, {likely[1]:g})"
        if likely
        else ""
    )
    warnings.warn(
        f"{name} values span [{lo:.4g}, {hi:.4g}] and {what} the declared input_range=({low:g}, {high:g}){hint}. "
        "VGG features (and every loss on them) are wrong when the declared range is not the images' range; "
        "warn_range_mismatch=False turns this first-batch check off.",
        InputRangeWarning,
        stacklevel=3,
    )


def warn_range_mismatch(
    x: Tensor | None, name: str, input_range: tuple[float, float], *, pred: Tensor | None = None
) -> bool:
    """Warn (:class:`InputRangeWarning`) and return ``True`` when ``x`` leaves ``input_range`` by more than 1% of
    its width, or spans at most 55% of it while filling most of another common range (``[0, 1]`` images declared
    ``(-1, 1)`` or ``(0, 255)``). A low-contrast image inside its declared range stays silent, and so do
    non-finite values (the opt-in ``check_finite`` names those). One device sync; meant for the first batch only.

    ``pred``: the prediction of the same batch, read in the same sync (one combined min/max). It warns when its
    values leave ``input_range`` (a ``tanh`` output declared ``(0, 1)``); the narrow-span rule is not applied to it,
    because an untrained generator's first outputs may span little of their range."""
    tensors = [t.detach() for t in (x, pred) if t is not None]
    if not tensors:
        return False
    values = torch.stack([v for t in tensors for v in torch.aminmax(t)]).float().tolist()
    warned = False
    names = ([name] if x is not None else []) + (["pred"] if pred is not None else [])
    for index, label in enumerate(names):
        lo, hi = values[2 * index], values[2 * index + 1]
        problem = _range_problem(lo, hi, input_range, narrow_rule=label != "pred")
        if problem is not None:
            _warn(label, lo, hi, input_range, problem)
            warned = True
    return warned


class FirstCallChecked(nn.Module):
    """Base of the modules whose first call checks the range of its images (:func:`warn_range_mismatch`), outside
    any compiled graph, so ``torch.compile`` users get the check without a graph break or a changed graph.

    ``torch.compile(module)`` compiles what ``module.__call__`` names: here an instance attribute pointing at
    :meth:`_call_outside_compile`, a frame Dynamo skips (``torch.compiler.disable(recursive=False)``). It runs the
    first call's check eagerly and then calls the module, whose ``forward`` Dynamo compiles as it would without the
    check (one graph, no sync in it). A plain call (eager, ``module.compile()``, inside DDP) runs the check in
    ``__call__`` before ``forward``. In a function compiled as a whole (``torch.compile(train_step)``) the module is
    traced with the function and the check, a host sync, cannot run: it is skipped there.

    Subclasses implement :meth:`_check_first_call` (a no-op once the check has run)."""

    def __init__(self) -> None:
        super().__init__()
        # What torch.compile(module) wraps (an instance attribute; a plain call still goes through type(self).__call__)
        setattr(self, "__call__", self._call_outside_compile)  # noqa: B010 - a method cannot be assigned directly

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not torch.compiler.is_compiling():
            self._check_first_call(args, kwargs)
        return super().__call__(*args, **kwargs)

    @torch.compiler.disable(recursive=False)
    def _call_outside_compile(self, *args: Any, **kwargs: Any) -> Any:
        _eager_check(self, args, kwargs)
        return type(self).__call__(self, *args, **kwargs)

    def _check_first_call(self, args: tuple, kwargs: Mapping[str, Any]) -> None:
        """The range check of the images among a call's arguments, once."""


class ImagePairChecked(FirstCallChecked):
    """Base of the image-pair metrics (LPIPS, DISTS): every call checks ``pred`` and ``target`` (image batches of the
    same shape, large enough for ``metric_name``, of the extractor's dtype and device, finite with ``check_finite``),
    and the first call also checks the target's range together with the prediction's. Subclasses set
    ``metric_name`` and have ``extractor`` and ``check_finite`` attributes."""

    metric_name = ""

    def _check_pair(self, pred: Tensor, target: Tensor) -> None:
        extractor: Any = self.extractor
        for name, x in (("pred", pred), ("target", target)):
            check_image_batch(x, name)
            check_metric_size(x, name, self.metric_name)
            extractor.check_batch(x, name)
            if self.check_finite:
                check_finite_values(x, name)
        if pred.shape != target.shape:
            raise ValueError(
                f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}"
            )

    def _check_first_call(self, args: tuple, kwargs: Mapping[str, Any]) -> None:
        extractor: Any = self.extractor
        if extractor.range_checked:
            return
        pred, target = call_argument(args, kwargs, 0, "pred"), call_argument(args, kwargs, 1, "target")
        if pred is not None and target is not None:
            self._check_pair(pred, target)
            extractor.check_range_once(target, "target", pred=pred)


@torch.compiler.disable
def _eager_check(module: FirstCallChecked, args: tuple, kwargs: Mapping[str, Any]) -> None:
    module._check_first_call(args, kwargs)


def call_argument(args: tuple, kwargs: Mapping[str, Any], index: int, name: str) -> Tensor | None:
    """The call's argument ``name`` (position ``index``) when it is a floating tensor with values, else ``None``
    (the forward's own checks then say what is wrong with it)."""
    value = args[index] if len(args) > index else kwargs.get(name)
    if isinstance(value, Tensor) and value.is_floating_point() and value.numel() > 0:
        return value
    return None


def check_layer_weight(name: object, weight: object) -> float:
    """``weight`` as a float: a real number (not a bool, not a string), finite and >= 0; ``ValueError``/``TypeError``
    saying what came otherwise."""
    if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
        raise TypeError(
            f"layer weights must be numbers, got {weight!r} ({type(weight).__name__}) for {name!r}; "
            "e.g. layers={'relu4_1': 1.0}"
        )
    value = float(weight)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"layer weights must be finite and >= 0, got {{{name!r}: {weight!r}}}")
    return value
