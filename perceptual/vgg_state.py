"""``VGGWeights``: a VGG's weights in torchvision's layout with the input preparation they need, and the checks of a
feature state dict. The loaders (:mod:`perceptual.weights`) and the format converters
(:mod:`perceptual.weights_formats`) both build on this module."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import Tensor

from perceptual.layers import vgg_convs
from perceptual.normalization import InputNormalization

__all__ = ["Provenance", "VGGWeights"]

Provenance = Literal["pretrained", "random", "file"]
"""Where weights are known to come from: ``"pretrained"`` (torchvision's published weights, from their enum, the
hub cache, or a file whose name and content hash are torchvision's, or converted from one of those), ``"random"``
(this package's random initialisations), ``"file"`` (a file of unknown provenance: it may hold trained weights or
not, and nothing in it says which)."""


@dataclass(frozen=True)
class VGGWeights:
    """Loaded weights and everything needed to use them correctly.

    ``features`` is keyed like ``torchvision.models.vgg16().features.state_dict()`` (``"0.weight"``,
    ``"0.bias"``, ``"2.weight"``, ...) with channels in the order ``normalization.channel_order`` says;
    ``classifier`` (optional) like ``vgg16().classifier.state_dict()`` (``"0.weight"``, ``"3.weight"``,
    ``"6.weight"`` and biases) for flattening NCHW ``pool5`` output. ``provenance`` says whether they are known
    to be pretrained (:data:`Provenance`); a file that does not say so is ``"file"``, never assumed pretrained.
    """

    arch: str
    features: Mapping[str, Tensor] = field(repr=False)
    normalization: InputNormalization
    source: str
    provenance: Provenance = "file"
    classifier: Mapping[str, Tensor] | None = field(default=None, repr=False)
    categories: tuple[str, ...] | None = field(default=None, repr=False)

    @property
    def pretrained(self) -> bool:
        """``True`` only for weights known to be pretrained (``provenance == "pretrained"``)."""
        return self.provenance == "pretrained"


def expected_feature_shapes(arch: str) -> dict[str, tuple[int, ...]]:
    """``{"0.weight": (64, 3, 3, 3), "0.bias": (64,), ...}`` for the conv layers of ``arch``."""
    shapes: dict[str, tuple[int, ...]] = {}
    for conv in vgg_convs(arch):
        shapes[f"{conv.index}.weight"] = (conv.out_channels, conv.in_channels, 3, 3)
        shapes[f"{conv.index}.bias"] = (conv.out_channels,)
    return shapes


def check_feature_state(
    features: Mapping[str, Any], arch: str, *, source: str, extra_unexpected: list[str] | None = None
) -> None:
    """Raise ``ValueError`` naming each missing/unexpected key and misshaped tensor of a ``features`` state dict."""
    expected = expected_feature_shapes(arch)
    missing = [k for k in expected if k not in features]
    unexpected = sorted(set(features) - set(expected), key=_key_order) + list(extra_unexpected or [])
    not_tensor = [k for k in expected if k in features and not isinstance(features[k], Tensor)]
    misshaped = [
        f"{k}: expected {expected[k]}, got {tuple(features[k].shape)}"
        for k in expected
        if k in features and isinstance(features[k], Tensor) and tuple(features[k].shape) != expected[k]
    ]
    if not (missing or unexpected or not_tensor or misshaped):
        return
    problems = []
    if missing:
        problems.append(f"missing keys: {_shorten(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_shorten(unexpected)}")
    if not_tensor:
        problems.append(f"not tensors: {_shorten(not_tensor)}")
    if misshaped:
        problems.append("shape mismatches: " + "; ".join(misshaped[:6]) + (" ..." if len(misshaped) > 6 else ""))
    other = "vgg19" if arch == "vgg16" else "vgg16"
    hint = ""
    if set(features) >= set(expected_feature_shapes(other)) and not (set(features) - set(expected_feature_shapes(other))):
        hint = f" The file looks like {other}: pass arch={other!r}."
    raise ValueError(
        f"{source} is not a torchvision {arch} state dict (keys 'features.N.weight' or 'N.weight'): "
        + "; ".join(problems)
        + "."
        + hint
    )


def _key_order(key: str) -> tuple[int, str]:
    head, _, tail = key.partition(".")
    return (int(head), tail) if head.isdigit() else (1 << 30, key)


def _shorten(keys: list[str], limit: int = 8) -> str:
    return ", ".join(keys[:limit]) + (f" and {len(keys) - limit} more" if len(keys) > limit else "")
