"""Tables of every VGG tap with its output shape, as people print them by hand (the TensorFlow ``vgg16.npy`` code
of tensorflow-vgg, the Keras VGG19 feature-extraction example).

Shapes are computed from the layer arithmetic, without building or running the network.
"""

from __future__ import annotations

from dataclasses import dataclass

from perceptual.layers import KERAS_ALIASES, PoolPadding, layer_names

__all__ = ["LayerInfo", "describe", "format_layer_table"]

_KERAS_NAME = {canonical: alias for alias, canonical in KERAS_ALIASES.items()}


@dataclass(frozen=True)
class LayerInfo:
    """One tap: canonical and Keras name, index in torchvision's ``features``, output shape, receptive field."""

    name: str
    keras_name: str | None
    index: int
    kind: str  # "conv" (pre-ReLU), "relu" or "pool"
    channels: int
    height: int
    width: int
    receptive_field: int
    stride: int

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.height, self.width)


def describe(
    arch: str = "vgg16", input_size: int | tuple[int, int] = 224, *, pool_padding: PoolPadding = "valid"
) -> list[LayerInfo]:
    """Every tap of ``arch`` for an ``input_size`` image (``int`` or ``(height, width)``), in network order."""
    height, width = (input_size, input_size) if isinstance(input_size, int) else input_size
    if height < 1 or width < 1:
        raise ValueError(f"input_size must be positive, got {input_size!r}")
    if pool_padding not in ("valid", "same"):
        raise ValueError(f"pool_padding must be 'valid' or 'same', got {pool_padding!r}")
    rows: list[LayerInfo] = []
    channels, field, stride = 3, 1, 1
    widths = iter(int(c) for c in _conv_widths(arch))
    for index, name in enumerate(layer_names(arch)):
        kind = name.rstrip("0123456789_")
        if kind == "conv":
            channels = next(widths)
            field += 2 * stride
        elif kind == "pool":
            field += stride
            stride *= 2
            if pool_padding == "same":
                height, width = -(-height // 2), -(-width // 2)
            else:
                height, width = height // 2, width // 2
        rows.append(LayerInfo(name, _KERAS_NAME.get(name), index, kind, channels, height, width, field, stride))
    return rows


def _conv_widths(arch: str) -> list[int]:
    from perceptual.layers import vgg_convs

    return [conv.out_channels for conv in vgg_convs(arch)]


def format_layer_table(rows: list[LayerInfo], *, title: str = "") -> str:
    """A plain-text table: name, Keras alias, torchvision index, shape, channels, receptive field."""
    header = f"{'layer':<9} {'keras name':<13} {'index':>5}  {'output (C, H, W)':<18} {'maps':>5} {'RF':>4}"
    lines = ([title] if title else []) + [header, "-" * len(header)]
    for row in rows:
        shape = f"({row.channels}, {row.height}, {row.width})"
        empty = "  <- empty: input too small" if row.height < 1 or row.width < 1 else ""
        lines.append(
            f"{row.name:<9} {row.keras_name or '-':<13} {row.index:>5}  {shape:<18} {row.channels:>5} "
            f"{row.receptive_field:>4}{empty}"
        )
    convs = [row for row in rows if row.kind == "conv"]
    keras = [row for row in rows if row.keras_name]
    lines.append("-" * len(header))
    lines.append(
        f"{len(rows)} taps. {len(convs)} conv layers hold {sum(r.channels for r in convs)} feature maps; "
        f"the {len(keras)} Keras-style layers (post-ReLU convs and pools) hold {sum(r.channels for r in keras)}."
    )
    return "\n".join(lines)
