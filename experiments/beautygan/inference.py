"""Using a trained BeautyGAN generator: rebuild it from a ``beautygan fit`` checkpoint (no VGG, no label maps) and
run a whole-image transfer. Face-aware transfer on photos builds on this in :mod:`beautygan.photo_transfer`."""

from __future__ import annotations

from pathlib import Path

import torch

from perceptual.images import check_output_image, from_unit_range, load_image, save_image, to_unit_range

from .checkpoints import load_checkpoint_file
from .networks import Generator

__all__ = ["load_generator", "transfer"]


def load_generator(ckpt: str | Path, *, map_location: str | torch.device = "cpu"):
    """The trained :class:`~beautygan.networks.Generator` of a ``beautygan fit`` checkpoint, and the
    image size it was trained at."""
    path = Path(ckpt)
    checkpoint = load_checkpoint_file(path, map_location=map_location)
    hparams = checkpoint.get("hyper_parameters", {})
    generator = Generator(
        width=int(hparams.get("generator_width", 64)),
        residual_blocks=int(hparams.get("residual_blocks", 6)),
        output=hparams.get("generator_output", "image"),
    )
    prefix = "generator."
    state = {k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
    generator.load_state_dict(state)
    size = int(checkpoint.get("datamodule_hyper_parameters", {}).get("image_size", 256))
    return generator.eval(), size


@torch.no_grad()
def transfer(
    ckpt: str | Path, source: str | Path, reference: str | Path, out: str | Path, *,
    image_size: int | None = None, demakeup_out: str | Path | None = None, device: str = "cpu",
) -> Path:  # fmt: skip
    """Whole-image transfer: ``source`` and ``reference`` resized to a square (the training size, or
    ``image_size``), ``reference``'s makeup put on ``source``, written to ``out`` at that size. For photos at their
    own size, face-aware, see :class:`~beautygan.photo_transfer.PhotoTransfer`."""
    check_output_image(out, "--out")  # before any work
    if image_size is not None and (image_size < 16 or image_size % 4):
        raise ValueError(f"--size must be a multiple of 4 and >= 16, got {image_size}")
    if demakeup_out is not None:
        check_output_image(demakeup_out, "--demakeup-out")
    generator, trained_size = load_generator(ckpt)
    size = image_size or trained_size
    if size % 4:
        raise ValueError(f"image size must be divisible by 4, got {size}")
    generator.to(device)
    a, _ = load_image(source, (size, size))
    b, _ = load_image(reference, (size, size))
    made_up, demade = generator(from_unit_range(a[None].to(device), (-1, 1)), from_unit_range(b[None].to(device), (-1, 1)))
    if demakeup_out is not None:
        save_image(to_unit_range(demade[0], (-1, 1)).cpu(), demakeup_out)
    return save_image(to_unit_range(made_up[0], (-1, 1)).cpu(), out)
