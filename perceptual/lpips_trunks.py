"""AlexNet and SqueezeNet 1.1 trunks for LPIPS (Zhang et al., "The Unreasonable Effectiveness of Deep Features as a
Perceptual Metric", CVPR 2018): the ``lpips`` package's ``net="alex"`` (its default, and the variant most papers
report) and ``net="squeeze"``.

The trunks are torchvision's ``alexnet().features`` and ``squeezenet1_1().features``, frozen, tapped where the
``lpips`` package's slices end (``lpips/pretrained_networks.py``): AlexNet after each of its five ReLUs (``relu1`` ...
``relu5``, torchvision indices 1, 4, 7, 9, 11), SqueezeNet after its first ReLU and after the fire modules that end
the package's slices (``relu1`` ... ``relu7``, indices 1, 4, 7, 9, 10, 11, 12). The input preparation is the
package's scaling layer, which is torchvision's ImageNet mean and std written for [-1, 1] images; the user states the
range of their tensors as everywhere in this package.

Weights are found as VGG's are (:mod:`perceptual.weights`): ``"imagenet"`` reads torchvision's
``AlexNet_Weights.IMAGENET1K_V1`` / ``SqueezeNet1_1_Weights.IMAGENET1K_V1`` from the torch hub cache (pretrained
only when the file's SHA-256 is the one its name carries) or downloads it; a path reads a torchvision state dict
(whole model or ``features``), pretrained only under torchvision's file name with its hash; ``"random"`` is a seeded
torchvision initialisation, with a warning; nothing falls back to random weights on its own.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from perceptual._validation import DEFAULT_INPUT_RANGE
from perceptual.features import FrozenFeatures
from perceptual.normalization import IMAGENET
from perceptual.vgg_state import Provenance, check_state_dict, require_file
from perceptual.weights import RandomWeightsWarning, file_provenance, load_torchvision_file

__all__ = ["LPIPS_TRUNK_LAYERS", "LPIPSTrunk", "LPIPSTrunkWeights", "LPIPSNet", "load_lpips_trunk_weights"]

LPIPSNet = Literal["vgg", "alex", "squeeze"]
"""The ``lpips`` package's ``net=``: ``"vgg"`` runs on :class:`~perceptual.VGGFeatures`, the others here."""


@dataclass(frozen=True)
class _Spec:
    builder: str  # torchvision.models builder
    enum: str  # torchvision.models weights enum
    display: str
    indices: tuple[int, ...]  # torchvision ``features`` index after which each tap is read
    channels: tuple[int, ...]


_SPECS: dict[str, _Spec] = {
    "alex": _Spec("alexnet", "AlexNet_Weights", "AlexNet", (1, 4, 7, 9, 11), (64, 192, 384, 256, 256)),
    "squeeze": _Spec(
        "squeezenet1_1",
        "SqueezeNet1_1_Weights",
        "SqueezeNet",
        (1, 4, 7, 9, 10, 11, 12),
        (64, 128, 256, 384, 384, 512, 512),
    ),
}

LPIPS_TRUNK_LAYERS: dict[str, tuple[str, ...]] = {
    net: tuple(f"relu{i + 1}" for i in range(len(spec.indices))) for net, spec in _SPECS.items()
}
"""The taps LPIPS compares on each of these trunks, named as the ``lpips`` package's outputs."""

_IMAGENET_NAMES = ("imagenet", "imagenet1k_v1", "default")


@dataclass(frozen=True)
class LPIPSTrunkWeights:
    """A trunk's ``features`` state dict (torchvision's keys, ``"0.weight"``, ...), where it came from and whether it is
    known to be pretrained (:data:`~perceptual.vgg_state.Provenance`)."""

    net: str
    features: Mapping[str, Tensor] = field(repr=False)
    source: str
    provenance: Provenance


def _spec(net: str) -> _Spec:
    if net not in _SPECS:
        raise ValueError(f"net must be 'vgg', 'alex' or 'squeeze' (the lpips package's), got {net!r}")
    return _SPECS[net]


def _torchvision_features(net: str) -> nn.Sequential:
    import torchvision

    return getattr(torchvision.models, _spec(net).builder)(weights=None).features


def _enum_type(net: str) -> Any:
    import torchvision

    return getattr(torchvision.models, _spec(net).enum)


def load_lpips_trunk_weights(net: str, weights: Any = "imagenet", *, seed: int = 0) -> LPIPSTrunkWeights:
    """Resolve ``weights`` for the ``"alex"`` or ``"squeeze"`` trunk: ``"imagenet"`` (torchvision's, hub cache or
    download), a torchvision weights enum of that network or its name, a ``.pth``/``.pt``/``.safetensors`` state dict
    (whole model or ``features``), or ``"random"`` (seeded, warns). :class:`~perceptual.WeightsUnavailableError` when
    they cannot be had; ``ValueError`` naming the missing, unexpected and misshaped keys of a file that is not this
    network."""
    spec = _spec(net)
    enum_type = _enum_type(net)
    if isinstance(weights, enum_type):
        state, provenance, source = load_torchvision_file(weights)
        return LPIPSTrunkWeights(net, _features_state(state, net, source), source, provenance)
    if isinstance(weights, (str, os.PathLike)):
        key = str(weights).strip()
        if key == "random":
            return _random_weights(net, seed)
        if key.lower() in _IMAGENET_NAMES or key.startswith(f"{spec.enum}."):
            name = "IMAGENET1K_V1" if key.lower() in _IMAGENET_NAMES else key.split(".", 1)[1]
            if name not in enum_type.__members__:
                raise ValueError(f"unknown torchvision weights {key!r}; {spec.enum} has {list(enum_type.__members__)}")
            return load_lpips_trunk_weights(net, enum_type[name], seed=seed)
        return _load_file(Path(key).expanduser(), net)
    raise TypeError(
        f"weights for the {spec.display} trunk must be 'imagenet', 'random', a {spec.enum} or a path, "
        f"got {type(weights).__name__}"
    )


def _random_weights(net: str, seed: int) -> LPIPSTrunkWeights:
    display = _spec(net).display
    warnings.warn(
        f"perceptual: using RANDOM {display} weights (seed {seed}). Features of an untrained network are not a "
        "perceptual metric. Use this for tests only.",
        RandomWeightsWarning,
        stacklevel=4,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        features = _torchvision_features(net)
    state = {key: value.detach().clone() for key, value in features.state_dict().items()}
    return LPIPSTrunkWeights(net, state, f"random (seed {seed})", "random")


def _load_file(path: Path, net: str) -> LPIPSTrunkWeights:
    require_file(path)
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            state: Any = load_file(str(path))
        except Exception as err:
            raise ValueError(f"cannot read {str(path)!r} as safetensors ({type(err).__name__}: {err})") from err
    elif suffix in (".pth", ".pt", ".bin"):
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise ValueError(f"cannot read {str(path)!r} as a torch state dict ({type(err).__name__}: {err})") from err
    else:
        raise ValueError(
            f"cannot read weights file {str(path)!r}: suffix {suffix!r} is not .pth, .pt, .bin or .safetensors"
        )
    if not isinstance(state, Mapping):
        raise ValueError(f"{str(path)!r} holds a {type(state).__name__}, expected a state dict (a mapping of tensors)")
    provenance, _ = file_provenance(path, (_enum_type(net),))
    return LPIPSTrunkWeights(net, _features_state(state, net, str(path)), str(path), provenance)


def _features_state(state: Mapping[str, Any], net: str, source: str) -> dict[str, Tensor]:
    """The ``features`` part of a torchvision state dict (``features.N.*``, or ``N.*`` alone), checked."""
    state = {str(key).removeprefix("module."): value for key, value in state.items()}
    if any(key.startswith("features.") for key in state):
        features = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
        ignored = [k for k in state if not k.startswith(("features.", "classifier."))]
    else:
        features, ignored = dict(state), []
    expected = {key: tuple(value.shape) for key, value in _torchvision_features(net).state_dict().items()}
    spec = _spec(net)
    check_state_dict(
        features,
        expected,
        source=source,
        layout=f"a torchvision {spec.builder} state dict (keys 'features.N.weight' or 'N.weight')",
        extra_unexpected=ignored,
    )
    return features


class LPIPSTrunk(FrozenFeatures):
    """A frozen AlexNet or SqueezeNet 1.1 trunk returning ``{"relu1": ..., ...}``: the taps LPIPS compares
    (:data:`LPIPS_TRUNK_LAYERS`), built only up to the deepest one.

    Args:
        net: ``"alex"`` or ``"squeeze"``.
        weights: ``"imagenet"`` (torchvision's), a torchvision weights enum, a path, or ``"random"`` (tests only;
            warns); see :func:`load_lpips_trunk_weights`.
        input_range: the range of the tensors you pass: ``(0, 1)`` by default, ``(-1, 1)`` for tanh outputs (the
            ``lpips`` package's own convention).
        seed: seed for ``weights="random"``.
        check_finite, check_range, warn_range_mismatch: as :class:`~perceptual.VGGFeatures`'.

    Frozen as :class:`~perceptual.VGGFeatures` is: no grad, always eval, nothing in ``state_dict()``.
    """

    def __init__(
        self,
        net: str = "alex",
        *,
        weights: Any = "imagenet",
        input_range: tuple[float, float] = DEFAULT_INPUT_RANGE,
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
        spec = _spec(net)
        loaded = load_lpips_trunk_weights(net, weights, seed=seed)
        self.net = net
        self.arch = spec.builder
        self.trunk_name = spec.display
        self.layers = LPIPS_TRUNK_LAYERS[net]
        self.weights_source: str = loaded.source
        self.provenance = loaded.provenance
        self.pretrained: bool = loaded.provenance == "pretrained"
        self.normalization = IMAGENET
        body = _torchvision_features(net)[: spec.indices[-1] + 1]
        body.load_state_dict({k: v for k, v in loaded.features.items() if int(k.split(".")[0]) < len(body)})
        body.requires_grad_(False)
        self.body = body
        self._taps = dict(zip(spec.indices, self.layers))
        self.set_normalization(IMAGENET)
        self.train(False)

    def _check_size(self, x: Tensor, name: str) -> None:
        # The smallest side whose deepest tap is not empty: AlexNet's 11x11 stride-4 conv and two 3x3 stride-2 pools;
        # SqueezeNet's 3x3 stride-2 conv and three 3x3 stride-2 pools (ceil mode).
        minimum = 31 if self.net == "alex" else 17
        height, width = x.shape[-2:]
        if height < minimum or width < minimum:
            raise ValueError(
                f"{name} of size {(height, width)} is too small for the {self.trunk_name} trunk's {self.layers[-1]}: "
                f"use at least {minimum}x{minimum}"
            )

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        self.check_input(x)
        return self._run(x)

    def extract(self, x: Tensor) -> dict[str, Tensor]:
        """The features of ``x`` after the input checks, without the first-batch range check."""
        self.check_batch(x, "input")
        return self._run(x)

    def _run(self, x: Tensor) -> dict[str, Tensor]:
        h = self.normalize(x)
        features: dict[str, Tensor] = {}
        for index, module in enumerate(self.body):
            h = module(h)
            if index in self._taps:
                features[self._taps[index]] = h
        return features

    def extra_repr(self) -> str:
        low, high = self.input_range
        return f"net={self.net!r}, layers={list(self.layers)}, weights={self.weights_source!r}, input_range=({low:g}, {high:g})"
