"""``VGGFeatures``: a frozen VGG16/VGG19 feature extractor with named taps.

Built for use *inside* GAN training:

- taps by name (``relu4_1``, or Keras' ``block4_conv1``), returned as a dict in network order;
- the network is built only up to the deepest requested tap;
- pre-ReLU taps (``conv4_1``) hold the convolution output even though torchvision's ReLUs are in-place
  (the ReLU right after a requested conv tap runs out of place; every other ReLU stays in-place);
- the input normalization the weights need (ImageNet or caffe-style) is applied from the range the user states,
  as one multiply-add; caffe's RGB->BGR swap is folded into the first convolution's weights;
- frozen: parameters never require grad, eval mode survives a parent's ``.train()``, and the VGG weights stay out
  of every ``state_dict()`` (a parent's checkpoint) - they are restored from their source on construction.

:class:`FrozenFeatures` holds what every frozen trunk here shares (the VGG, and LPIPS' AlexNet and SqueezeNet in
:mod:`perceptual.lpips_trunks`): the frozen mechanics, the input normalization, the input checks and the first-batch
range check, run outside any compiled graph.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, Literal

import torch
from torch import Tensor, nn

from perceptual._validation import (
    DEFAULT_INPUT_RANGE,
    FirstCallChecked,
    call_argument,
    check_image_batch,
    check_image_values,
    warn_range_mismatch,
)
from perceptual.layers import PoolPadding, canonical_layer_name, layer_names, vgg_convs
from perceptual.normalization import InputNormalization, check_input_range
from perceptual.weights import WeightsSource, load_weights

__all__ = ["POOLINGS", "FrozenFeatures", "L2Pool2d", "VGGFeatures"]

Pooling = Literal["max", "avg", "l2"]
POOLINGS: tuple[str, ...] = ("max", "avg", "l2")
"""VGG's pooling: ``"max"`` (VGG), ``"avg"`` (Gatys et al.'s style transfer; piq's ``replace_pooling=True``),
``"l2"`` (DISTS)."""


class L2Pool2d(nn.Module):
    """L2 pooling (Henaff & Simoncelli, 2016), as DISTS replaces VGG's max pooling with it (Ding et al., 2020):
    ``sqrt(g * x^2 + 1e-12)`` with ``g`` the normalized 3x3 Hann window ``[1/2, 1, 1/2]`` outer itself, stride 2,
    zero padding 1 (``H -> ceil(H / 2)``), per channel."""

    kernel: Tensor

    def __init__(self) -> None:
        super().__init__()
        window = torch.tensor([0.5, 1.0, 0.5])
        kernel = torch.outer(window, window)
        self.register_buffer("kernel", (kernel / kernel.sum()).view(1, 1, 3, 3), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        channels = x.shape[1]
        kernel = self.kernel.to(x.dtype).expand(channels, 1, 3, 3)
        pooled = nn.functional.conv2d(x.square(), kernel, stride=2, padding=1, groups=channels)
        return (pooled + 1e-12).sqrt()


def build_vgg_body(
    arch: str, depth: int, *, pool_padding: PoolPadding = "valid", pooling: Pooling = "max"
) -> nn.Sequential:
    """torchvision's ``<arch>().features[:depth]`` layer for layer (same indices, so state dict keys match).

    ``pool_padding="same"`` pools like TensorFlow's ``padding="SAME"`` (361 -> 181) instead of flooring (361 -> 180).
    ``pooling="avg"`` puts a 2x2 average pool where VGG max-pools (Gatys et al., CVPR 2016: "replacing the max-pooling
    operation by average pooling yields slightly more appealing results"); ``pooling="l2"`` puts :class:`L2Pool2d`
    there (DISTS' trunk).
    """
    if pool_padding not in ("valid", "same"):
        raise ValueError(f"pool_padding must be 'valid' (torchvision/Keras) or 'same' (TF SAME), got {pool_padding!r}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be 'max' (VGG), 'avg' (Gatys' style transfer) or 'l2' (DISTS), got {pooling!r}")
    layers: list[nn.Module] = []
    ceil = pool_padding == "same"
    for conv in vgg_convs(arch):
        layers += [nn.Conv2d(conv.in_channels, conv.out_channels, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
        if conv.pool_after:
            pool: nn.Module
            if pooling == "l2":
                pool = L2Pool2d()
            elif pooling == "avg":
                pool = nn.AvgPool2d(kernel_size=2, stride=2, ceil_mode=ceil, count_include_pad=False)
            else:
                pool = nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=ceil)
            layers.append(pool)
    return nn.Sequential(*layers[:depth])


class FrozenFeatures(FirstCallChecked):
    """A frozen feature trunk: parameters that never require grad, eval mode a parent's ``.train()`` cannot change,
    an empty ``state_dict()`` (the weights are restored from their source, never saved into a parent's checkpoint),
    the input normalization from the declared ``input_range`` as one multiply-add, the input checks, and the
    first-batch range check (outside any compiled graph: :class:`~perceptual._validation.FirstCallChecked`).

    Subclasses set ``layers``, ``scale``/``shift`` (:meth:`set_normalization`) and ``forward``, and may extend
    :meth:`check_batch` (e.g. with the smallest size their deepest tap takes)."""

    scale: Tensor
    shift: Tensor
    layers: tuple[str, ...]
    trunk_name = "trunk"

    def __init__(
        self,
        *,
        input_range: tuple[float, float],
        check_finite: bool,
        check_range: bool,
        warn_range_mismatch: bool,
    ) -> None:
        super().__init__()
        self.input_range = check_input_range(input_range)
        self.check_finite = check_finite
        self.check_range = check_range
        self.warn_range_mismatch = warn_range_mismatch
        self._range_seen = False
        self._checkpoint_prefixes: list[str] = []
        self.register_load_state_dict_post_hook(_drop_own_missing_keys)

    def set_normalization(self, normalization: InputNormalization) -> None:
        """The ``scale``/``shift`` buffers that map ``input_range`` to what the weights expect."""
        scale, shift = normalization.affine(self.input_range)
        self.register_buffer("scale", torch.tensor(scale).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", torch.tensor(shift).view(1, 3, 1, 1), persistent=False)

    # ---------------------------------------------------------------------------------------------- frozen
    def train(self, mode: bool = True) -> FrozenFeatures:
        """Always eval: a frozen feature extractor has no training mode (a parent's ``.train()`` can't change it)."""
        return super().train(False)

    def state_dict(self, *args: Any, destination: Any = None, prefix: str = "", keep_vars: bool = False) -> Any:
        """Empty: the weights are restored from their source, never saved into a (parent's) checkpoint."""
        if args:  # legacy positional (destination, prefix, keep_vars)
            destination = args[0]
            prefix = args[1] if len(args) > 1 else prefix
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        return destination

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        # Ignore entries of checkpoints written before they were excluded; children read what is left.
        for key in [k for k in state_dict if k.startswith(prefix)]:
            del state_dict[key]
        self._checkpoint_prefixes.append(prefix)

    # ---------------------------------------------------------------------------------------------- checks
    def normalize(self, x: Tensor) -> Tensor:
        """Map ``x`` from ``input_range`` to what the weights expect (RGB order; BGR is folded into the first conv)."""
        return torch.addcmul(self.shift, x, self.scale)

    def check_input(self, x: Tensor, name: str = "input") -> None:
        """Raise ``TypeError``/``ValueError`` unless ``x`` is a batch this extractor takes (``(N, 3, H, W)``, floating,
        its dtype, large enough for the deepest tap), run the opt-in value checks, and on the first batch the range
        check (``warn_range_mismatch``)."""
        self.check_batch(x, name)
        self.check_range_once(x, name)

    def check_batch(self, x: Tensor, name: str) -> None:
        """The checks of :meth:`check_input` without the range check: metadata only, plus the opt-in value checks
        (``check_finite``, ``check_range``: one device sync each)."""
        check_image_batch(x, name)
        if x.shape[0] == 0:
            raise ValueError(f"{name} is an empty batch (shape {tuple(x.shape)}); pass at least one image")
        weight = self.shift
        if x.dtype != weight.dtype and not torch.is_autocast_enabled(x.device.type):
            raise TypeError(
                f"{name} is {x.dtype} but the {self.trunk_name}'s weights are {weight.dtype}; convert one to the other "
                f"({name}.to({weight.dtype}) or extractor.to({x.dtype}))"
            )
        self._check_size(x, name)
        if self.check_finite or self.check_range:
            check_image_values(x, name, self.input_range, check_finite=self.check_finite, check_range=self.check_range)

    def _check_size(self, x: Tensor, name: str) -> None:
        """Raise ``ValueError`` when ``x`` is too small for the deepest tap."""

    @property
    def range_checked(self) -> bool:
        """Whether the first-batch range check has run (or is off): later calls cost no check."""
        return self._range_seen or not self.warn_range_mismatch

    def check_range_once(self, x: Tensor | None, name: str = "input", *, pred: Tensor | None = None) -> None:
        """The first-batch range check: one device sync on the first batch (``x``, and ``pred`` in the same sync),
        nothing afterwards, nothing inside a compiled graph (the module's own call runs it outside:
        :class:`~perceptual._validation.FirstCallChecked`)."""
        if torch.compiler.is_compiling() or self.range_checked:
            return
        self._range_seen = True
        if pred is None:
            warn_range_mismatch(x, name, self.input_range)
        else:
            warn_range_mismatch(x, name, self.input_range, pred=pred)

    def _check_first_call(self, args: tuple, kwargs: Any) -> None:
        if self.range_checked:
            return
        x = call_argument(args, kwargs, 0, "x")
        if x is not None:
            self.check_batch(x, "input")
            self.check_range_once(x, "input")


class VGGFeatures(FrozenFeatures):
    """Frozen VGG feature extractor returning ``{layer_name: tensor}`` for the requested taps.

    Args:
        layers: tap names (canonical ``conv1_1 ... pool5`` or Keras ``block1_conv1 ... block5_pool``), in any order;
            ``None`` or ``"all"`` for every tap. The output dict uses the names as given, in network order.
        arch: ``"vgg16"`` or ``"vgg19"``.
        weights: ``"imagenet"`` (torchvision IMAGENET1K_V1), ``"imagenet_features"``, a torchvision weights enum,
            a file path, a :class:`~perceptual.VGGWeights`, or ``"random"`` (tests only; warns).
        input_range: the range of the tensors *you* pass: ``(0, 1)`` (the default, torchvision's convention),
            ``(-1, 1)`` for tanh GAN outputs, ``(0, 255)``.
        normalization: override the input preparation the weights carry (``"imagenet"``, ``"caffe"``, ``"none"``).
            ``"none"`` feeds tensors as they are, reproducing code that skipped normalization.
        pool_padding: ``"valid"`` (torchvision, Keras) or ``"same"`` (TensorFlow ``vgg16.npy`` code).
        pooling: ``"max"`` (VGG), ``"avg"`` (a 2x2 average pool in place of each max pool: Gatys et al.'s style
            transfer, piq's ``replace_pooling=True``) or ``"l2"`` (:class:`L2Pool2d`, the trunk DISTS uses).
        seed: seed for ``weights="random"``.
        check_finite, check_range: opt-in value checks of the input, every call (each syncs with the device).
        warn_range_mismatch: on by default, once: the first batch only (one device sync, run outside any
            compiled graph, so a ``torch.compile(extractor)`` checks it too, with no graph break), warn
            (:class:`~perceptual.InputRangeWarning`) when the values leave ``input_range``, or use at most 55% of it
            while filling another common range: the signature of ``[0, 1]`` images declared ``(-1, 1)`` or
            ``(0, 255)`` (or the reverse). The warning names the range seen and the range declared. ``False`` turns
            it off.

    Example:
        >>> vgg = VGGFeatures(["relu2_2", "relu4_1"], weights="random", input_range=(-1, 1))  # doctest: +SKIP
        >>> feats = vgg(torch.rand(2, 3, 64, 64) * 2 - 1)  # doctest: +SKIP
        >>> feats["relu4_1"].shape  # doctest: +SKIP
        torch.Size([2, 512, 8, 8])
    """

    trunk_name = "VGG"

    def __init__(
        self,
        layers: Iterable[str] | str | None = None,
        *,
        arch: str = "vgg16",
        weights: WeightsSource = "imagenet",
        input_range: tuple[float, float] = DEFAULT_INPUT_RANGE,
        normalization: str | InputNormalization | None = None,
        pool_padding: PoolPadding = "valid",
        pooling: Pooling = "max",
        seed: int = 0,
        check_finite: bool = False,
        check_range: bool = False,
        warn_range_mismatch: bool = True,
    ) -> None:
        super().__init__(
            input_range=input_range,
            check_finite=check_finite,
            check_range=check_range,
            warn_range_mismatch=warn_range_mismatch,
        )
        names = layer_names(arch)
        if layers is None or layers == "all":
            requested = list(names)
        elif isinstance(layers, str):
            requested = [layers]
        else:
            requested = list(layers)
        if not requested:
            raise ValueError("layers must name at least one tap, e.g. ['relu4_1']")
        if len(set(requested)) != len(requested):
            raise ValueError(f"layers contains duplicates: {requested}")
        indices = {name: names.index(canonical_layer_name(name, arch)) for name in requested}
        self.arch = arch
        self.layers = tuple(sorted(requested, key=lambda n: (indices[n], requested.index(n))))
        self.pool_padding = pool_padding
        self.pooling = pooling
        depth = max(indices.values()) + 1
        self._taps: dict[int, tuple[str, ...]] = {}
        for name in self.layers:
            self._taps[indices[name]] = self._taps.get(indices[name], ()) + (name,)

        loaded = load_weights(weights, arch=arch, seed=seed, normalization=normalization)
        self.weights_source: str = loaded.source
        self.provenance = loaded.provenance  # "pretrained", "random" or "file" (unknown: never assumed pretrained)
        self.pretrained: bool = loaded.pretrained
        self.normalization: InputNormalization = loaded.normalization

        body = build_vgg_body(arch, depth, pool_padding=pool_padding, pooling=pooling)
        state = {key: value for key, value in loaded.features.items() if int(key.split(".")[0]) < depth}
        if self.normalization.channel_order == "BGR":
            # The weights expect BGR input: permute the first conv's input channels instead of the image (exact).
            state["0.weight"] = state["0.weight"].flip(1)
        body.load_state_dict(state, strict=True)
        for index, module in enumerate(body):
            if isinstance(module, nn.ReLU) and (index - 1) in self._taps:
                module.inplace = False  # keep the tapped conv output intact
        body.requires_grad_(False)
        self.body = body

        self.set_normalization(self.normalization)
        self._pools = [i for i, m in enumerate(body) if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, L2Pool2d))]
        self.train(False)

    def _check_size(self, x: Tensor, name: str) -> None:
        height, width = x.shape[-2:]
        for _ in self._pools:
            ceil = self.pool_padding == "same" or self.pooling == "l2"
            height, width = (-(-height // 2), -(-width // 2)) if ceil else (height // 2, width // 2)
        if height < 1 or width < 1:
            minimum = 2 ** len(self._pools)
            raise ValueError(
                f"{name} of size {tuple(x.shape[-2:])} is too small for {self.layers[-1]!r}: after "
                f"{len(self._pools)} poolings the map would be empty; use at least {minimum}x{minimum}"
            )

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        self.check_input(x)
        return self._run(x)

    def extract(self, x: Tensor) -> dict[str, Tensor]:
        """The features of ``x`` after the input checks but without the first-batch range check, for a caller that
        checks the range its own way (a style image kept by :meth:`~perceptual.StyleLoss.set_target`)."""
        self.check_batch(x, "input")
        return self._run(x)

    def _run(self, x: Tensor) -> dict[str, Tensor]:
        h = self.normalize(x)
        features: dict[str, Tensor] = {}
        for index, module in enumerate(self.body):
            h = module(h)
            for name in self._taps.get(index, ()):
                features[name] = h
        return features

    def extra_repr(self) -> str:
        low, high = self.input_range
        return (
            f"arch={self.arch!r}, layers={list(self.layers)}, weights={self.weights_source!r}, "
            f"input_range=({low:g}, {high:g}), normalization={self.normalization.name!r}, pool_padding={self.pool_padding!r}"
            + (f", pooling={self.pooling!r}" if self.pooling != "max" else "")
        )


def _drop_own_missing_keys(module: FrozenFeatures, incompatible_keys: Any) -> None:
    prefixes = tuple(module._checkpoint_prefixes)
    module._checkpoint_prefixes.clear()
    if prefixes:
        incompatible_keys.missing_keys[:] = [k for k in incompatible_keys.missing_keys if not k.startswith(prefixes)]
