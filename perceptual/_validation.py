"""Input checks shared by the feature module and the losses. Shape/dtype checks read only tensor metadata;
value checks (finiteness, range) need a device->host sync and are opt-in."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["check_image_batch", "check_image_values"]


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
    x: Tensor, name: str, input_range: tuple[float, float], *, check_finite: bool, check_range: bool, tolerance: float = 1e-3
) -> None:
    """Opt-in value checks (each syncs with the device once)."""
    if check_finite and not bool(torch.isfinite(x).all()):
        count = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} has {count} non-finite values (NaN or inf)")
    if check_range:
        low, high = input_range
        lo, hi = float(x.min()), float(x.max())
        slack = tolerance * (high - low)
        if lo < low - slack or hi > high + slack:
            raise ValueError(
                f"{name} values lie in [{lo:.4g}, {hi:.4g}], outside input_range=({low:g}, {high:g}); "
                "pass the range your tensors really have (GAN outputs from tanh: input_range=(-1, 1))"
            )
