"""``VGGWeights``: a VGG's weights in torchvision's layout with the input preparation they need, and what every
loader checks the same way: that the file is there (:class:`WeightsUnavailableError` when not) and that a state
dict holds the keys and shapes it must (one message for every layout). The loaders (:mod:`perceptual.weights`) and
the format converters (:mod:`perceptual.weights_formats`) both build on this module."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from torch import Tensor

from perceptual.layers import vgg_convs
from perceptual.normalization import InputNormalization

__all__ = ["Provenance", "VGGWeights", "WeightsUnavailableError"]


class WeightsUnavailableError(FileNotFoundError, RuntimeError):
    """Weights were asked for but cannot be had: pretrained weights offline and not cached, or a weights file that
    does not exist. Catch it as itself, as ``FileNotFoundError`` or as ``RuntimeError``."""


def require_file(path: Path) -> Path:
    """``path``, or :class:`WeightsUnavailableError` naming it when it is not a file: the one check of every
    loader."""
    if not path.is_file():
        problem = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise WeightsUnavailableError(f"weights file {str(path)!r} {problem}")
    return path


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
    features: Mapping[str, Any], arch: str, *, source: str, extra_unexpected: Sequence[str] = ()
) -> None:
    """Raise ``ValueError`` naming each missing/unexpected key and misshaped tensor of a ``features`` state dict
    (torchvision's layout, :func:`check_state_dict`'s message)."""
    other = "vgg19" if arch == "vgg16" else "vgg16"
    other_keys = set(expected_feature_shapes(other))
    hint = f" The file looks like {other}: pass arch={other!r}." if set(features) == other_keys else ""
    check_state_dict(
        features,
        expected_feature_shapes(arch),
        source=source,
        layout=f"a torchvision {arch} state dict (keys 'features.N.weight' or 'N.weight')",
        extra_unexpected=extra_unexpected,
        hint=hint,
    )


def check_state_dict(
    state: Mapping[Any, Any],
    expected: Mapping[str, tuple[int, ...]],
    *,
    source: str,
    layout: str,
    extra_unexpected: Sequence[str] = (),
    hint: str = "",
) -> None:
    """Raise ``ValueError`` unless ``state`` holds exactly the keys of ``expected`` (key -> shape), each a tensor
    of its shape. The one message of every weights loader, whatever the file's layout::

        <source> is not <layout>: missing keys: <k>, ...; unexpected keys: <k>, ...; not tensors: <k>, ...;
        shape mismatches: <k>: expected <shape>, got <shape>; ....<hint>

    naming only the problems there are; a kernel in the other framework's order (TensorFlow HWIO where PyTorch OIHW
    is expected, or the reverse) says so. ``extra_unexpected`` adds keys found beside ``state`` (a whole-model
    file's keys outside ``features``)."""
    missing = [key for key in expected if key not in state]
    unexpected = sorted((str(key) for key in state if key not in expected), key=_key_order) + list(extra_unexpected)
    present = [key for key in expected if key in state]
    not_tensor = [key for key in present if not isinstance(state[key], Tensor)]
    misshaped = []
    for key in present:
        value, want = state[key], tuple(expected[key])
        if isinstance(value, Tensor) and tuple(value.shape) != want:
            got = tuple(value.shape)
            misshaped.append(f"{key}: expected {want}, got {got}{_kernel_order_hint(got, want)}")
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
    raise ValueError(f"{source} is not {layout}: " + "; ".join(problems) + "." + hint)


def _kernel_order_hint(got: tuple[int, ...], want: tuple[int, ...]) -> str:
    if len(want) != 4 or len(got) != 4:
        return ""
    if want[2:] == (3, 3) and got == (3, 3, want[1], want[0]):
        return " (TensorFlow HWIO order; this layout holds PyTorch OIHW kernels)"
    if want[:2] == (3, 3) and got == (want[3], want[2], 3, 3):
        return " (PyTorch/Theano OIHW order; this layout holds TensorFlow HWIO kernels)"
    return ""


def _key_order(key: str) -> tuple[int, str]:
    head, _, tail = key.partition(".")
    return (int(head), tail) if head.isdigit() else (1 << 30, key)


def _shorten(keys: list[str], limit: int = 8) -> str:
    return ", ".join(keys[:limit]) + (f" and {len(keys) - limit} more" if len(keys) > limit else "")
