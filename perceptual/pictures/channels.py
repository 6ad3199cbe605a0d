"""Which channels a picture shows: the channels that differ most between real and generated features, or that are
most active, and picking them out of a ``(C, H, W)`` or ``(N, C, H, W)`` tensor.

A layer has up to 512 channels; a picture shows a few. :func:`channel_differences` scores each channel by its mean
``|real - generated|``, :func:`select_channels` keeps the top ``k`` (by that score or by the mean activation), in
channel order so the labels read in order. Everything stays on the features' device: nothing is copied to the host.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor

from perceptual.pictures.grids import check_maps

__all__ = ["ChannelSelection", "channel_differences", "check_same", "pick_channels", "select_channels"]

ChannelSelection = Literal["activation", "difference"]


def check_same(real: object, generated: object) -> tuple[Tensor, Tensor]:
    """``(real, generated)`` when both are ``(C, H, W)`` or ``(N, C, H, W)`` maps of the same shape, else a
    ``TypeError``/``ValueError`` saying what came."""
    real, generated = check_maps(real, "real", (3, 4)), check_maps(generated, "generated", (3, 4))
    if generated.shape != real.shape:
        raise ValueError(
            f"real and generated features must have the same shape, got {tuple(real.shape)} "
            f"and {tuple(generated.shape)}"
        )
    return real, generated


def channel_differences(real: Tensor, generated: Tensor) -> Tensor:
    """Mean ``|real - generated|`` of each channel: ``(C,)`` float on the features' device, over ``(H, W)`` of
    ``(C, H, W)`` features or over ``(N, H, W)`` of ``(N, C, H, W)`` ones. The score :func:`select_channels` ranks
    by with ``by="difference"``; ``scores.topk(k)`` is the ranking of the channels that differ most."""
    real, generated = check_same(real, generated)
    dims = (0, 2, 3) if real.ndim == 4 else (1, 2)
    return (real - generated).abs().float().mean(dim=dims)


def select_channels(
    real: Tensor, generated: Tensor | None = None, *, k: int, by: ChannelSelection | str = "activation"
) -> Tensor:
    """Indices of the ``k`` channels with the largest score, in increasing channel order (readable labels).

    ``by="activation"``: mean of ``real`` per channel; ``by="difference"``: mean ``|real - generated|`` per
    channel (:func:`channel_differences`). Features are ``(C, H, W)`` or ``(N, C, H, W)`` (scores average over the
    batch). The result is a long tensor on the features' device; nothing is copied to the host.
    """
    check_maps(real, "real", (3, 4))
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if by == "activation":
        scores = real.float().mean(dim=(0, 2, 3) if real.ndim == 4 else (1, 2))
    elif by == "difference":
        if generated is None:
            raise ValueError("by='difference' needs generated features as well as real ones")
        scores = channel_differences(real, generated)
    else:
        raise ValueError(f"by must be 'activation' or 'difference', got {by!r}")
    channels = real.shape[-3]
    if k >= channels:
        return torch.arange(channels, device=real.device)
    return scores.topk(k).indices.sort().values


def pick_channels(features: Tensor, channels: Tensor | Sequence[int] | None) -> Tensor:
    """The ``channels`` of ``(..., C, H, W)`` features (all of them for ``None``); indices may be negative."""
    if channels is None:
        return features
    index = channels if isinstance(channels, Tensor) else torch.as_tensor(channels)
    if index.ndim != 1 or index.numel() == 0 or index.dtype.is_floating_point:
        raise ValueError(f"channels must be a non-empty 1-D sequence of channel indices, got {channels!r}")
    count = features.shape[-3]
    if index.device.type == "cpu" and not bool(((index >= -count) & (index < count)).all()):  # no device sync
        raise ValueError(f"channels {index.tolist()} out of range for {count} channels")
    return features.index_select(-3, index.to(device=features.device, dtype=torch.long) % count)
