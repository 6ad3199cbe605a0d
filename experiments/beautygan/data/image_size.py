"""The one rule for the side of the square images BeautyGAN sees (training data, aligned faces, whole-image
transfer, evaluation): the generator halves the image twice before its residual blocks and doubles it twice after,
and the PatchGAN discriminator needs 16 pixels for its output to have a pixel, so the side is a multiple of 4, at
least 16 (256 in the paper)."""

from __future__ import annotations

__all__ = ["check_image_size"]


def check_image_size(size: object, name: str = "image_size") -> int:
    """``size`` when it is a whole number, a multiple of 4 and at least 16; else ``ValueError`` naming ``name`` (the
    argument or option the value came from: ``image_size``, ``size``, ``--size``) and what came."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 16 or size % 4:
        raise ValueError(f"{name} must be a multiple of 4 and >= 16, got {size!r}")
    return size
