"""A trained BeautyGAN generator, rebuilt from a ``beautygan fit`` checkpoint (no VGG, no label maps), and the one
way everything runs it: :meth:`TrainedGenerator.made_up` paints looks (makeup codes, see
:meth:`~beautygan.models.beautygan.Generator.makeup_code`) on sources in batches, :meth:`TrainedGenerator.codes`
encodes references, :meth:`TrainedGenerator.translate` gives both outputs (for the de-made-up reference). Photo
transfer, galleries, interpolation, evaluation and the web app all go through it
(:mod:`beautygan.inference.photo_transfer`).

The checkpoint is read as a dict (:func:`~beautygan.training.checkpoint_files.load_checkpoint_file`, plain torch):
its ``generator.*`` tensors and the generator's hyper-parameters; no Lightning class is needed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from ..models.beautygan import Generator, Translation
from ..training.checkpoint_files import CheckpointError, load_checkpoint_file

__all__ = ["TrainedGenerator", "load_generator", "resolve_checkpoint"]


def resolve_checkpoint(path: str | Path) -> tuple[Path, str | None]:
    """``path`` itself when it is a file; for a folder, the one ``last.ckpt`` under it (any depth), with a note
    saying so. A folder with none or several raises ``FileNotFoundError`` / ``ValueError`` naming them."""
    path = Path(path)
    if not path.is_dir():
        if not path.exists():
            raise FileNotFoundError(f"checkpoint not found: {path}")
        return path, None
    found = sorted(path.rglob("last.ckpt"))
    if len(found) == 1:
        return found[0], f"{path} is a folder; using the checkpoint in it, {found[0]}"
    if not found:
        raise FileNotFoundError(f"{path} is a folder, not a checkpoint, and holds no last.ckpt; give the .ckpt file")
    listed = ", ".join(str(p) for p in found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
    raise ValueError(f"{path} is a folder holding {len(found)} last.ckpt files ({listed}); give one of them")


@dataclass
class TrainedGenerator:
    """A generator from a checkpoint, in eval mode on ``device``, and the size it was trained at."""

    generator: Generator
    size: int
    checkpoint: Path
    device: torch.device
    notes: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, ckpt: str | Path, *, device: str | torch.device = "cpu") -> TrainedGenerator:
        """Rebuild the generator of a ``beautygan fit`` checkpoint (a file, or a folder holding one ``last.ckpt``)."""
        path, note = resolve_checkpoint(ckpt)
        checkpoint = load_checkpoint_file(path, map_location="cpu")
        hparams = checkpoint.get("hyper_parameters", {})
        try:
            generator = Generator(
                width=int(hparams.get("generator_width", 64)),
                residual_blocks=int(hparams.get("residual_blocks", 6)),
                output=hparams.get("generator_output", "image"),
            )
        except (TypeError, ValueError) as err:
            raise CheckpointError(f"checkpoint {path}: its generator hyper-parameters are not usable: {err}") from None
        prefix = "generator."
        state = {k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
        if not state:
            raise CheckpointError(
                f"checkpoint {path} holds no generator (no 'generator.*' tensors in its state dict): give a "
                "checkpoint of beautygan fit"
            )
        try:
            generator.load_state_dict(state)
        except RuntimeError as err:  # missing, unexpected or misshapen tensors: torch lists them over many lines
            lines = [line.strip() for line in str(err).splitlines() if line.strip()]
            detail = lines[1] if len(lines) > 1 else (lines[0] if lines else type(err).__name__)
            raise CheckpointError(
                f"checkpoint {path} does not hold a generator of the shape its hyper-parameters give: "
                f"{detail[:300]}{'...' if len(detail) > 300 else ''}"
            ) from None
        size = int(checkpoint.get("datamodule_hyper_parameters", {}).get("image_size", 256))
        device = torch.device(device)
        return cls(generator.to(device).eval(), size, path, device, [note] if note else [])

    @torch.no_grad()
    def codes(self, references: Tensor, *, batch_size: int = 8) -> Tensor:
        """The makeup codes of ``(N, 3, S, S)`` references in [-1, 1] (on the host)."""
        return torch.cat(
            [self.generator.makeup_code(chunk.to(self.device)).float().cpu() for chunk in references.split(batch_size)]
        )

    @torch.no_grad()
    def made_up(self, sources: Sequence[Tensor], codes: Sequence[Tensor], *, batch_size: int = 8) -> list[Tensor]:
        """Each source ``(3, S, S)`` in [-1, 1] wearing the look of its code: ``(3, S, S)`` in [-1, 1] on the host,
        ``batch_size`` per generator call. (Batched convolutions round differently in the last float bits than
        single ones: a result can differ by one 8-bit level from the same pair run at another batch size.)"""
        if len(sources) != len(codes):
            raise ValueError(f"got {len(sources)} sources and {len(codes)} codes")
        out: list[Tensor] = []
        for start in range(0, len(sources), batch_size):
            chunk = slice(start, start + batch_size)
            batch = torch.stack(list(sources[chunk])).to(self.device)
            code = torch.stack(list(codes[chunk])).to(self.device, self.generator_dtype)
            out.extend(self.generator.apply_makeup(batch, code).float().clamp(-1, 1).cpu().unbind(0))
        return out

    @torch.no_grad()
    def translate(self, sources: Tensor, references: Tensor) -> Translation:
        """Both outputs for ``(N, 3, S, S)`` pairs in [-1, 1]: the made-up sources and the de-made-up references."""
        out = self.generator(non_makeup=sources.to(self.device), makeup=references.to(self.device))
        return Translation(
            makeup=out.makeup.float().clamp(-1, 1).cpu(), non_makeup=out.non_makeup.float().clamp(-1, 1).cpu()
        )

    @property
    def generator_dtype(self) -> torch.dtype:
        return next(self.generator.parameters()).dtype


def load_generator(ckpt: str | Path, *, device: str | torch.device = "cpu") -> TrainedGenerator:
    """:meth:`TrainedGenerator.load`."""
    return TrainedGenerator.load(ckpt, device=device)
