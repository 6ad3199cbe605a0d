"""Activation maximization and DeepDream on a frozen :class:`~perceptual.VGGFeatures`.

Reproduces, on VGG16/VGG19, Google's 2015 TensorFlow DeepDream notebook (``deepdream.ipynb`` in TensorFlow's
``examples/tutorials/deepdream``; Mordvintsev, Olah & Tyka, "Inceptionism: Going Deeper into Neural Networks"),
written there for Inception:

- objectives: the mean activation of one channel, of a list of channels, of a whole layer (optionally squared, as
  the notebook's ``tf.square(layer_output)``), or a weighted sum of such terms over several layers (:class:`Objective`);
- gradient ascent *in the input range* of the extractor (its weights' ImageNet or Caffe preprocessing is applied
  by the extractor), each gradient divided by its standard deviation (``grad_norm="std"``, the notebook's
  ``render_naive``; ``"abs_mean"`` is its ``render_deepdream``), pixels clipped to the input range after each step;
- an octave pyramid (default 4 octaves, scale 1.4) whose high-frequency detail is split off on the way down and
  added back on the way up (the notebook's Laplacian-style scheme), so a photo keeps its content;
- gradients computed tile by tile with a random roll that is undone afterwards (``calc_grad_tiled``), so images
  far larger than the accelerator's memory work - the image itself may stay on the CPU while tiles run on the GPU;
- a batched feature-visualization contact sheet (:func:`channel_sheet`): the first N channels of a layer optimized
  together from noise, batch element ``i`` maximizing its own channel.

Differences from the notebook, on purpose: tiles split each side evenly (the notebook's loop leaves a strip of up to
half a tile without gradient when ``size % tile < tile / 2``); a side that fits in one tile is not rolled (a roll
there would only wrap the image's borders into its middle); a tile's score is weighted by its share of the image
area, so the reported score is the objective of the whole image.

>>> from perceptual.tools.dream import DreamSchedule, deep_dream, make_extractor
>>> from perceptual.tools.objectives import Objective
>>> from perceptual.tools.octaves import noise_image
>>> objective = Objective.channel("relu4_3", 12)
>>> extractor = make_extractor(objective, weights="imagenet")  # doctest: +SKIP
>>> schedule = DreamSchedule(iterations=10)
>>> result = deep_dream(noise_image((224, 224)), objective, extractor=extractor, schedule=schedule)  # doctest: +SKIP
>>> result.image.shape  # doctest: +SKIP
torch.Size([3, 224, 224])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

from perceptual._validation import DEFAULT_INPUT_RANGE, check_image_batch, check_image_values, spatial_size
from perceptual.features import VGGFeatures
from perceptual.images import to_unit_range
from perceptual.layers import canonical_layer_name
from perceptual.normalization import InputNormalization
from perceptual.tools.gradients import GradNorm, extractor_device, normalize_gradient, tiled_gradient
from perceptual.tools.objectives import (
    Objective,
    ObjectiveTerm,
    PerSampleChannel,
    ScoreFn,
    as_objective,
    layer_channels,
)
from perceptual.tools.octaves import image_grid, noise_image, octave_sizes, resize_images, size_pair
from perceptual.weights import WeightsSource

__all__ = [
    "SHEET_SCHEDULE",
    "ChannelSheet",
    "DreamResult",
    "DreamSchedule",
    "channel_sheet",
    "deep_dream",
    "make_extractor",
]


# ================================================================================================== extractor
def make_extractor(
    objective: Objective | ObjectiveTerm | str,
    *,
    arch: str = "vgg16",
    weights: WeightsSource = "imagenet",
    input_range: tuple[float, float] = DEFAULT_INPUT_RANGE,
    normalization: str | InputNormalization | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> VGGFeatures:
    """A :class:`VGGFeatures` with exactly the objective's layers (so built only up to the deepest one)."""
    checked = as_objective(objective).check(arch)
    extractor = VGGFeatures(
        list(checked.layers),
        arch=arch,
        weights=weights,
        input_range=input_range,
        normalization=normalization,
        seed=seed,
    )
    return extractor.to(device) if device is not None else extractor


def _check_extractor(extractor: object, layers: Sequence[str]) -> VGGFeatures:
    if not isinstance(extractor, VGGFeatures):
        raise TypeError(f"extractor must be a perceptual.VGGFeatures, got {type(extractor).__name__}")
    missing = [name for name in layers if name not in extractor.layers]
    if missing:
        raise ValueError(
            f"the extractor's layers {list(extractor.layers)} lack {missing}, which the objective reads; build it with "
            "perceptual.tools.dream.make_extractor(objective, ...) or VGGFeatures(objective.layers, ...)"
        )
    return extractor


def _extractor_for(objective: Objective, extractor: VGGFeatures | None) -> tuple[Objective, VGGFeatures]:
    """The objective with the extractor's layer names, and the extractor (``make_extractor(objective)`` if ``None``:
    ImageNet VGG16, inputs in [0, 1]; bad layer names or channels fail before the weights load)."""
    if extractor is None:
        extractor = make_extractor(objective)
    if not isinstance(extractor, VGGFeatures):
        raise TypeError(f"extractor must be a perceptual.VGGFeatures, got {type(extractor).__name__}")
    objective = objective.check(extractor.arch)
    # the extractor may name a layer by its Keras alias; map our canonical names to the names it uses
    by_canonical = {canonical_layer_name(name, extractor.arch): name for name in extractor.layers}
    objective = Objective(tuple(replace(t, layer=by_canonical.get(t.layer, t.layer)) for t in objective.terms))
    return objective, _check_extractor(extractor, objective.layers)


def _min_side(extractor: VGGFeatures) -> int:
    return 2 ** len(extractor._pools)


# ================================================================================================== dream
@dataclass(frozen=True)
class DreamSchedule:
    """How the ascent runs: steps, step size, octave pyramid, tiles, jitter and gradient normalization.

    One schedule serves :func:`deep_dream` and :func:`channel_sheet` (whose default is :data:`SHEET_SCHEDULE`);
    change a field with ``dataclasses.replace(schedule, iterations=20)``. Values are checked on construction
    (``ValueError`` naming the field).

    Attributes:
        iterations: ascent steps per octave (the notebook: 10; 20 from noise).
        step: step size in 8-bit pixel levels (the notebook's units): each step moves pixels by ``step / 255`` of the
            input range per unit of normalized gradient.
        octaves: pyramid depth (the notebook: 4); ``octaves=1`` works at the image's size only.
        octave_scale: size ratio between octaves (the notebook: 1.4), > 1.
        tile_size: largest tile side for the gradient; sides longer than this are tiled with a random roll.
        jitter: also roll the image by up to this many pixels each step (undone), against grid artifacts.
        grad_norm: ``"std"`` divides the gradient by its std + ``eps`` (``render_naive``); ``"abs_mean"`` by its
            mean absolute value + ``eps`` (``render_deepdream``). Per batch element.
        eps: added to the gradient's spread before dividing by it.
        seed: seeds the rolls and jitter (a CPU generator: the same on every device); :func:`channel_sheet` also
            draws its starting noise from it.
    """

    iterations: int = 10
    step: float = 1.5
    octaves: int = 4
    octave_scale: float = 1.4
    tile_size: int = 512
    jitter: int = 0
    grad_norm: GradNorm = "std"
    eps: float = 1e-8
    seed: int = 0

    def __post_init__(self) -> None:
        for name, minimum in (("iterations", 0), ("octaves", 1), ("tile_size", 1), ("jitter", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
        step = self.step
        if not (isinstance(step, (int, float)) and math.isfinite(step) and step > 0):
            raise ValueError(f"step must be a positive number (in 8-bit pixel levels, e.g. 1.5), got {step!r}")
        if not (isinstance(self.octave_scale, (int, float)) and self.octave_scale > 1):
            raise ValueError(f"octave_scale must be > 1, got {self.octave_scale!r}")
        if self.grad_norm not in ("std", "abs_mean"):
            raise ValueError(
                "grad_norm must be 'std' (the notebook's render_naive) or 'abs_mean' (render_deepdream), "
                f"got {self.grad_norm!r}"
            )
        if not self.eps > 0:
            raise ValueError(f"eps must be positive, got {self.eps!r}")


SHEET_SCHEDULE = DreamSchedule(iterations=20, octaves=1)
""":func:`channel_sheet`'s default: 20 steps at the sheet's own size (one octave), the rest as in DreamSchedule."""


def _check_schedule(schedule: object) -> DreamSchedule:
    if not isinstance(schedule, DreamSchedule):
        raise TypeError(
            f"schedule must be a perceptual.tools.dream.DreamSchedule, e.g. DreamSchedule(iterations=10), "
            f"got {type(schedule).__name__}"
        )
    return schedule


@dataclass
class DreamResult:
    """What :func:`deep_dream` returns. Images are in the extractor's input range, shaped like the input."""

    image: Tensor
    """The final image."""
    octave_images: tuple[Tensor, ...] = ()
    """The image after each octave, smallest first (only with ``return_octaves=True``)."""
    scores: Tensor = field(default_factory=lambda: torch.empty(0))
    """``(steps, N)``: the objective before each ascent step, in order over octaves and iterations."""


def _ascend(
    image: Tensor,
    score_fn: ScoreFn,
    extractor: VGGFeatures,
    schedule: DreamSchedule,
    *,
    return_octaves: bool,
    progress: bool | str,
    callback: Callable[[int, int, Tensor], None] | None,
) -> DreamResult:
    iterations, octaves, octave_scale = schedule.iterations, schedule.octaves, schedule.octave_scale
    tile_size, jitter = schedule.tile_size, schedule.jitter
    low, high = extractor.input_range
    step_size = schedule.step / 255.0 * (high - low)
    sizes = octave_sizes(spatial_size(image), octaves, octave_scale)
    minimum = _min_side(extractor)
    if min(sizes[0]) < minimum:
        fits = sum(1 for s in sizes if min(s) >= minimum)
        raise ValueError(
            f"the smallest of {octaves} octaves (scale {octave_scale:g}) of a {image.shape[-2]}x{image.shape[-1]} "
            f"image is {sizes[0][0]}x{sizes[0][1]}, below the {minimum}x{minimum} that {extractor.layers[-1]!r} needs; "
            f"use at most {fits} octaves, a smaller octave_scale or a larger image"
        )
    generator = torch.Generator().manual_seed(schedule.seed)

    # Split the image into a low-frequency base and per-octave detail (the notebook's pyramid), smallest octave first.
    details: list[Tensor] = []
    current = image
    for size in reversed(sizes[:-1]):
        lower = resize_images(current, size)
        details.append(current - resize_images(lower, spatial_size(current)))
        current = lower

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=octaves * iterations, desc=progress if isinstance(progress, str) else "dream", unit="it")
    scores: list[Tensor] = []
    octave_images: list[Tensor] = []
    try:
        for octave in range(octaves):
            if octave > 0:
                detail = details[-octave]
                current = resize_images(current, spatial_size(detail)) + detail
            for iteration in range(iterations):
                height, width = current.shape[-2:]
                shift = None
                if jitter:
                    jy, jx = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=generator))
                    ty = int(torch.randint(height, (1,), generator=generator)) if height > tile_size else 0
                    tx = int(torch.randint(width, (1,), generator=generator)) if width > tile_size else 0
                    shift = (ty + jy, tx + jx)
                gradient, score = tiled_gradient(
                    current, score_fn, extractor, tile_size=tile_size, shift=shift, generator=generator
                )
                scores.append(score)
                ascent = normalize_gradient(gradient, schedule.grad_norm, schedule.eps) * step_size
                current = (current + ascent).clamp_(low, high)
                if callback is not None:
                    callback(octave, iteration, current)
                if bar is not None:
                    bar.set_postfix(  # a device sync per step, only with a progress bar
                        octave=f"{octave + 1}/{octaves}", size=f"{height}x{width}", score=f"{float(score.mean()):.4g}"
                    )
                    bar.update(1)
            if return_octaves:
                octave_images.append(current)
    finally:
        if bar is not None:
            bar.close()
    stacked = torch.stack(scores) if scores else image.new_empty((0, image.shape[0]))
    return DreamResult(image=current, octave_images=tuple(octave_images), scores=stacked)


def deep_dream(
    image: Tensor,
    objective: Objective | ObjectiveTerm | str,
    *,
    extractor: VGGFeatures | None = None,
    schedule: DreamSchedule = DreamSchedule(),
    return_octaves: bool = False,
    progress: bool | str = False,
    callback: Callable[[int, int, Tensor], None] | None = None,
) -> DreamResult:
    """DeepDream / activation maximization of ``objective`` starting from ``image``.

    Args:
        image: ``(3, H, W)`` or ``(N, 3, H, W)`` float in the extractor's input range (a photo from
            :func:`perceptual.images.load_image`, or :func:`noise_image`). Not modified. It stays on its device;
            tiles move to the extractor's device.
        objective: an :class:`Objective`, an :class:`ObjectiveTerm`, or a layer name (its whole-layer mean).
        extractor: a :class:`VGGFeatures` containing the objective's layers. ``None`` builds
            ``make_extractor(objective)``: ImageNet VGG16, inputs in [0, 1], truncated at the deepest objective
            layer. For another arch, weights, input range or normalization pass
            ``make_extractor(objective, arch=..., weights=..., input_range=..., normalization=...)`` (or build it
            once and reuse it across calls).
        schedule: the ascent's :class:`DreamSchedule` (iterations, step, octaves, octave_scale, tile_size, jitter,
            grad_norm, eps, seed), e.g. ``DreamSchedule(octaves=8, jitter=4)``; the default runs 10 steps of 1.5
            levels on each of 4 octaves of scale 1.4.
        return_octaves: keep the image after each octave in :attr:`DreamResult.octave_images`.
        progress: show a tqdm bar (a string sets its label).
        callback: ``callback(octave, iteration, image)`` after each step (``image`` is ``(N, 3, h, w)``; do not
            modify it).
    """
    squeeze = isinstance(image, Tensor) and image.ndim == 3
    batch = check_image_batch(image[None] if squeeze else image, "image")
    schedule = _check_schedule(schedule)
    objective, extractor = _extractor_for(as_objective(objective), extractor)
    check_image_values(batch, "image", extractor.input_range, check_finite=True, check_range=True)
    result = _ascend(
        batch.detach().clone(),
        objective,
        extractor,
        schedule,
        return_octaves=return_octaves,
        progress=progress,
        callback=callback,
    )
    if squeeze:
        result.image = result.image[0]
        result.octave_images = tuple(img[0] for img in result.octave_images)
    return result


# ================================================================================================== contact sheet
@dataclass
class ChannelSheet:
    """What :func:`channel_sheet` returns."""

    grid: Tensor
    """``(3, H, W)`` in [0, 1]: the channels' images row by row, ready for :func:`perceptual.images.save_image`."""
    images: Tensor
    """``(N, 3, size, size)`` in the extractor's input range, one per channel."""
    channels: tuple[int, ...]
    """The channel index of each image."""
    layer: str


def channel_sheet(
    layer: str,
    *,
    channels: int | Sequence[int] = 16,
    extractor: VGGFeatures | None = None,
    size: int | tuple[int, int] = 128,
    schedule: DreamSchedule = SHEET_SCHEDULE,
    batch_size: int | None = None,
    nrow: int | None = None,
    padding: int = 2,
    progress: bool | str = False,
) -> ChannelSheet:
    """ "What does channel c of ``layer`` want": each channel's maximizing image from noise, tiled into one grid.

    ``channels``: the first N channels (an int), or explicit indices. ``extractor``: a :class:`VGGFeatures` with
    ``layer``; ``None`` builds ``make_extractor(layer)`` (ImageNet VGG16, inputs in [0, 1]), pass
    ``make_extractor(layer, arch=..., weights=...)`` for others. ``schedule``: the ascent (default
    :data:`SHEET_SCHEDULE`: 20 iterations, one octave). All channels optimize together in one batch (``batch_size``
    splits them into chunks), element ``i`` ascending the mean of its own channel; each batch element starts from
    ``noise = noise_image(size, batch=N, seed=schedule.seed)`` and every chunk replays the same rolls, so image ``i``
    equals ``deep_dream(noise[i], Objective.channel(layer, channels[i]), extractor=extractor, schedule=schedule)``.
    ``nrow``: images per grid row (default: about a square).

    From the notebook's nearly flat noise, a channel after a ReLU that is off everywhere gets no gradient and stays
    grey; the notebook maximizes pre-ReLU tensors (``*_pre_relu``), here the ``conv4_3`` tap rather than ``relu4_3``.
    """
    if isinstance(channels, int) and not isinstance(channels, bool):
        if channels < 1:
            raise ValueError(f"channels must be a positive count or a list of indices, got {channels}")
        count = channels
        channels = tuple(range(channels))
    elif isinstance(channels, bool):
        raise TypeError(f"channels must be a count or a list of channel indices, got {channels!r}")
    else:
        channels = tuple(channels)
        count = None
    term = ObjectiveTerm(layer, channels)  # validates the indices' types
    schedule = _check_schedule(schedule)
    objective, extractor = _extractor_for(Objective((ObjectiveTerm(layer, None),)), extractor)
    available = layer_channels(layer, extractor.arch)
    if count is not None and count > available:
        raise ValueError(
            f"channels={count} asks for more channels than {extractor.arch} layer {layer!r} has ({available}); "
            f"use at most {available}, or indices 0..{available - 1}"
        )
    term.check(extractor.arch)  # out-of-range indices name the valid range
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    tap = objective.terms[0].layer
    height, width = size_pair(size, "size")
    noise = noise_image((height, width), batch=len(channels), input_range=extractor.input_range, seed=schedule.seed)
    device, dtype = extractor_device(extractor)
    noise = noise.to(device=device, dtype=dtype)
    chunk = batch_size or len(channels)
    images = []
    for start in range(0, len(channels), chunk):
        picked = channels[start : start + chunk]
        label = progress if isinstance(progress, str) else f"{layer} channels {picked[0]}..{picked[-1]}"
        result = _ascend(
            noise[start : start + chunk],
            PerSampleChannel(tap, picked),
            extractor,
            schedule,
            return_octaves=False,
            progress=label if progress else False,
            callback=None,
        )
        images.append(result.image)
    stacked = torch.cat(images)
    columns = nrow or max(1, math.ceil(math.sqrt(len(channels))))
    grid = image_grid(to_unit_range(stacked, extractor.input_range), nrow=columns, padding=padding)
    return ChannelSheet(grid=grid, images=stacked, channels=channels, layer=layer)
