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
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, Literal

import torch
from torch import Tensor, nn

from perceptual._validation import DEFAULT_INPUT_RANGE, check_image_batch, check_image_values, warn_range_mismatch
from perceptual.layers import PoolPadding, canonical_layer_name, layer_names, vgg_convs
from perceptual.normalization import InputNormalization, check_input_range
from perceptual.weights import WeightsSource, load_weights

__all__ = ["L2Pool2d", "VGGFeatures"]

Pooling = Literal["max", "l2"]


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
    ``pooling="l2"`` puts :class:`L2Pool2d` where VGG max-pools (DISTS' trunk).
    """
    if pool_padding not in ("valid", "same"):
        raise ValueError(f"pool_padding must be 'valid' (torchvision/Keras) or 'same' (TF SAME), got {pool_padding!r}")
    if pooling not in ("max", "l2"):
        raise ValueError(f"pooling must be 'max' (VGG) or 'l2' (DISTS), got {pooling!r}")
    layers: list[nn.Module] = []
    for conv in vgg_convs(arch):
        layers += [nn.Conv2d(conv.in_channels, conv.out_channels, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
        if conv.pool_after:
            pool = (
                L2Pool2d()
                if pooling == "l2"
                else nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=pool_padding == "same")
            )
            layers.append(pool)
    return nn.Sequential(*layers[:depth])


class VGGFeatures(nn.Module):
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
        pooling: ``"max"`` (VGG) or ``"l2"``: :class:`L2Pool2d` in place of each max pool, the trunk DISTS uses.
        seed: seed for ``weights="random"``.
        check_finite, check_range: opt-in value checks of the input, every call (each syncs with the device).
        warn_range_mismatch: on by default, once: the first batch only (one device sync; none under
            ``torch.compile``), warn (:class:`~perceptual.InputRangeWarning`) when the values leave ``input_range``,
            or use at most 55% of it while filling another common range: the signature of ``[0, 1]`` images
            declared ``(-1, 1)`` or ``(0, 255)`` (or the reverse). The warning names the range seen and the range
            declared. ``False`` turns it off.

    Example:
        >>> vgg = VGGFeatures(["relu2_2", "relu4_1"], weights="random", input_range=(-1, 1))  # doctest: +SKIP
        >>> feats = vgg(torch.rand(2, 3, 64, 64) * 2 - 1)  # doctest: +SKIP
        >>> feats["relu4_1"].shape  # doctest: +SKIP
        torch.Size([2, 512, 8, 8])
    """

    scale: Tensor
    shift: Tensor

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
        super().__init__()
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
        self.layers: tuple[str, ...] = tuple(sorted(requested, key=lambda n: (indices[n], requested.index(n))))
        self.input_range = check_input_range(input_range)
        self.pool_padding = pool_padding
        self.pooling = pooling
        self.check_finite = check_finite
        self.check_range = check_range
        self.warn_range_mismatch = warn_range_mismatch
        self._range_seen = False
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

        scale, shift = self.normalization.affine(self.input_range)
        self.register_buffer("scale", torch.tensor(scale).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", torch.tensor(shift).view(1, 3, 1, 1), persistent=False)
        self._pools = [i for i, m in enumerate(body) if isinstance(m, (nn.MaxPool2d, L2Pool2d))]
        self._checkpoint_prefixes: list[str] = []
        self.register_load_state_dict_post_hook(_drop_own_missing_keys)
        self.train(False)

    # ---------------------------------------------------------------------------------------------- frozen
    def train(self, mode: bool = True) -> VGGFeatures:
        """Always eval: a frozen feature extractor has no training mode (a parent's ``.train()`` can't change it)."""
        return super().train(False)

    def state_dict(self, *args: Any, destination: Any = None, prefix: str = "", keep_vars: bool = False) -> Any:
        """Empty: the VGG weights are restored from their source, never saved into a (parent's) checkpoint."""
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
        # Ignore VGG entries of checkpoints written before they were excluded; children read what is left.
        for key in [k for k in state_dict if k.startswith(prefix)]:
            del state_dict[key]
        self._checkpoint_prefixes.append(prefix)

    # ---------------------------------------------------------------------------------------------- forward
    def normalize(self, x: Tensor) -> Tensor:
        """Map ``x`` from ``input_range`` to what the weights expect (RGB order; BGR is folded into conv1_1)."""
        return torch.addcmul(self.shift, x, self.scale)

    def check_input(self, x: Tensor, name: str = "input") -> None:
        """Raise ``TypeError``/``ValueError`` unless ``x`` is a batch this extractor takes (``(N, 3, H, W)``, floating,
        its dtype, large enough for the deepest tap), run the opt-in value checks, and on the first batch the range
        check (``warn_range_mismatch``)."""
        self._check_batch(x, name)
        self._check_range_once(x, name)

    def _check_batch(self, x: Tensor, name: str) -> None:
        check_image_batch(x, name)
        if x.shape[0] == 0:
            raise ValueError(f"{name} is an empty batch (shape {tuple(x.shape)}); pass at least one image")
        weight = self.shift
        if x.dtype != weight.dtype and not torch.is_autocast_enabled(x.device.type):
            raise TypeError(
                f"{name} is {x.dtype} but the VGG's weights are {weight.dtype}; convert one to the other "
                f"({name}.to({weight.dtype}) or extractor.to({x.dtype}))"
            )
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
        if self.check_finite or self.check_range:
            check_image_values(x, name, self.input_range, check_finite=self.check_finite, check_range=self.check_range)

    def _check_range_once(self, x: Tensor, name: str) -> None:
        """The first-batch range check: one device sync on the first batch, nothing afterwards, and nothing inside
        ``torch.compile`` (a compiled trunk stays one graph without a host sync)."""
        if torch.compiler.is_compiling() or not self.warn_range_mismatch or self._range_seen:
            return
        self._range_seen = True
        warn_range_mismatch(x, name, self.input_range)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        self.check_input(x)
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


def _drop_own_missing_keys(module: VGGFeatures, incompatible_keys: Any) -> None:
    prefixes = tuple(module._checkpoint_prefixes)
    module._checkpoint_prefixes.clear()
    if prefixes:
        incompatible_keys.missing_keys[:] = [k for k in incompatible_keys.missing_keys if not k.startswith(prefixes)]
