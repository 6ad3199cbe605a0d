"""A trained generator, rebuilt from a ``beautygan fit`` checkpoint (no VGG, no label maps), and the one way
everything runs it, whichever generator the checkpoint holds: BeautyGAN's
(:class:`~beautygan.models.beautygan.Generator`) or the PSGAN-style one
(:class:`~beautygan.models.psgan.PSGANGenerator`), which also reads each face's geometry
(:class:`~beautygan.models.psgan.FaceGeometry`; where photos get theirs: :mod:`beautygan.inference.photo_geometry`).

:meth:`TrainedGenerator.codes` encodes references into makeup codes (the generator's ``makeup_code``: a tensor for
BeautyGAN, a :class:`~beautygan.models.psgan.PSGANCode` for PSGAN), :meth:`TrainedGenerator.made_up` paints looks
on sources in batches, :meth:`TrainedGenerator.mix` mixes looks (the generator's ``mix_codes``: BeautyGAN's codes
are summed with the weights; PSGAN's morphed ``γ``, ``β`` are mixed, as the official code's interpolation does) and
:meth:`TrainedGenerator.translate` gives both outputs (for the de-made-up reference). Photo transfer, galleries,
interpolation, evaluation and the web app all go through it (:mod:`beautygan.inference.photo_transfer`).

The checkpoint is read as a dict (:func:`~beautygan.training.checkpoint_files.load_checkpoint_file`, plain torch):
its ``generator.*`` tensors and the generator's hyper-parameters; no Lightning class is needed. ``generator`` names
the generator (``"beautygan"``, the default, or ``"psgan"``); ``generator_width``, ``residual_blocks`` (BeautyGAN's
bottleneck blocks, PSGAN's MANet blocks), ``makeup_blocks`` (PSGAN's MDNet blocks), ``generator_output`` and
``region_grid`` (PSGAN's) give its shape; ``datamodule_hyper_parameters.image_size`` the size it was trained at."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..models.beautygan import Translation
from ..models.generators import GENERATORS, build_generator
from ..models.psgan import FaceGeometry, PSGANCode, PSGANGenerator
from ..training.checkpoint_files import CheckpointError, load_checkpoint_file

__all__ = [
    "GENERATORS",
    "Code",
    "TrainedGenerator",
    "batch_codes",
    "code_items",
    "load_generator",
    "resolve_checkpoint",
]

Code = Tensor | PSGANCode
"""A batch of makeup codes (or one item of one): BeautyGAN's tensor, or PSGAN's
:class:`~beautygan.models.psgan.PSGANCode`."""

_NAMES = {"beautygan": "BeautyGAN", "psgan": "PSGAN-style"}


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
    """A generator from a checkpoint, in eval mode on ``device``, and the size it was trained at.

    :attr:`kind` says which generator it is (``"beautygan"`` or ``"psgan"``), :attr:`description` says so in
    words (``"PSGAN-style generator, 12.6M parameters, 256 px"``). The PSGAN-style generator needs each image's
    :class:`~beautygan.models.psgan.FaceGeometry` at the image's size (:attr:`needs_geometry`); BeautyGAN's
    ignores geometries. Codes come in batches: a tensor's items are its rows, a
    :class:`~beautygan.models.psgan.PSGANCode`'s are batches of one (:func:`code_items`, :func:`batch_codes`)."""

    generator: nn.Module
    size: int
    checkpoint: Path
    device: torch.device
    notes: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, ckpt: str | Path, *, device: str | torch.device = "cpu") -> TrainedGenerator:
        """Rebuild the generator of a ``beautygan fit`` checkpoint (a file, or a folder holding one ``last.ckpt``)."""
        path, note = resolve_checkpoint(ckpt)
        checkpoint = load_checkpoint_file(path, map_location="cpu")
        generator = _build(checkpoint.get("hyper_parameters", {}), path)
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

    # ------------------------------------------------------------------------------------------ what it is
    @property
    def kind(self) -> str:
        """``"psgan"`` for the PSGAN-style generator, else ``"beautygan"``."""
        return "psgan" if isinstance(self.generator, PSGANGenerator) else "beautygan"

    @property
    def name(self) -> str:
        """``"BeautyGAN"`` or ``"PSGAN-style"``: which generator, for titles."""
        return _NAMES[self.kind]

    @property
    def needs_geometry(self) -> bool:
        """Whether the generator reads each face's geometry (regions and 68 landmarks): the PSGAN-style one does."""
        return self.kind == "psgan"

    @property
    def parameters(self) -> int:
        """The generator's parameter count."""
        return sum(p.numel() for p in self.generator.parameters())

    @property
    def description(self) -> str:
        """Which generator, how large, trained at which size: ``"BeautyGAN generator, 9.2M parameters, 256 px"``."""
        name = f"{self.name} generator"
        if getattr(self.generator, "output", "image") == "attention":
            name += " (attention output)"
        return f"{name}, {_count(self.parameters)} parameters, {self.size} px"

    @property
    def generator_dtype(self) -> torch.dtype:
        return next(self.generator.parameters()).dtype

    # ------------------------------------------------------------------------------------------ running it
    @torch.no_grad()
    def codes(self, references: Tensor, geometries: FaceGeometry | None = None, *, batch_size: int = 8) -> Code:
        """The makeup codes of ``(N, 3, S, S)`` references in [-1, 1], on the host: an ``(N, ...)`` tensor, or a
        :class:`~beautygan.models.psgan.PSGANCode` of ``N`` items. ``geometries``: the references' ``N``
        :class:`~beautygan.models.psgan.FaceGeometry` items, which the PSGAN-style generator needs."""
        shapes = self._check_geometries(geometries, len(references), "references")
        out = []
        for start in range(0, len(references), batch_size):
            chunk = slice(start, start + batch_size)
            geometry = None if shapes is None else shapes[chunk].to(self.device)
            code = self.generator.makeup_code(references[chunk].to(self.device), geometry)
            out.append(code.to("cpu") if isinstance(code, PSGANCode) else code.float().cpu())
        return PSGANCode.cat(out) if isinstance(out[0], PSGANCode) else torch.cat(out)

    @torch.no_grad()
    def made_up(
        self,
        sources: Sequence[Tensor],
        codes: Sequence[Code] | Code,
        geometries: Sequence[FaceGeometry] | FaceGeometry | None = None,
        *,
        batch_size: int = 8,
    ) -> list[Tensor]:
        """Each source ``(3, S, S)`` in [-1, 1] wearing the look of its code: ``(3, S, S)`` in [-1, 1] on the host,
        ``batch_size`` per generator call. ``codes``: one item per source, as a batch or a sequence of items;
        ``geometries``: the sources', as a batch or a sequence of batches of one (the PSGAN-style generator needs
        them). Consecutive codes that cannot share a batch (PSGAN codes of different numbers of references: a
        mix and a plain look) go to separate calls. (Batched convolutions round differently in the last float bits
        than single ones: a result can differ by one 8-bit level from the same pair run at another batch size.)"""
        items = code_items(codes) if isinstance(codes, (Tensor, PSGANCode)) else list(codes)
        if len(sources) != len(items):
            raise ValueError(f"got {len(sources)} sources and {len(items)} codes")
        if geometries is not None and not isinstance(geometries, FaceGeometry):
            geometries = _cat(geometries)
        shapes = self._check_geometries(geometries, len(sources), "sources")
        out: list[Tensor] = []
        for chunk in _runs([_batch_key(code) for code in items], batch_size):
            batch = torch.stack(list(sources[chunk])).to(self.device)
            code = batch_codes(items[chunk])
            code = code.to(self.device) if isinstance(code, PSGANCode) else code.to(self.device, self.generator_dtype)
            geometry = None if shapes is None else shapes[chunk].to(self.device)
            out.extend(self.generator.apply_makeup(batch, code, geometry).float().clamp(-1, 1).cpu().unbind(0))
        return out

    @torch.no_grad()
    def translate(
        self,
        sources: Tensor,
        references: Tensor,
        source_geometries: FaceGeometry | None = None,
        reference_geometries: FaceGeometry | None = None,
    ) -> Translation:
        """Both outputs for ``(N, 3, S, S)`` pairs in [-1, 1]: the made-up sources and the de-made-up references
        (the PSGAN-style generator needs both sides' geometries)."""
        inputs: dict[str, Any] = {"non_makeup": sources.to(self.device), "makeup": references.to(self.device)}
        if self.needs_geometry:
            for name, geometry, images, what in (
                ("non_makeup_geometry", source_geometries, sources, "sources"),
                ("makeup_geometry", reference_geometries, references, "references"),
            ):
                checked = self._check_geometries(geometry, len(images), what)
                inputs[name] = None if checked is None else checked.to(self.device)
        out = self.generator(**inputs)
        return Translation(
            makeup=out.makeup.float().clamp(-1, 1).cpu(), non_makeup=out.non_makeup.float().clamp(-1, 1).cpu()
        )

    def mix(self, codes: Sequence[Code], weights: Sequence[float] | Tensor) -> Code:
        """The code of the mix ``sum_i weights[i] * look_i`` (the generator's ``mix_codes``), for codes of the same
        number of items: BeautyGAN's codes are summed with the weights; a PSGAN code keeps every reference, and the
        ``γ``, ``β`` each one morphs onto a source are mixed."""
        return self.generator.mix_codes(list(codes), weights)

    def _check_geometries(self, geometries: Any, count: int, what: str) -> FaceGeometry | None:
        if not self.needs_geometry:
            return None
        if geometries is None:
            raise ValueError(
                f"the PSGAN-style generator ({self.checkpoint.name}) needs the {what}' face geometry (lips, skin and "
                "eye regions and 68 landmarks at the image's size), and none was given"
            )
        if not isinstance(geometries, FaceGeometry):
            raise TypeError(f"geometries must be a FaceGeometry, got {type(geometries).__name__}")
        if len(geometries) != count:
            raise ValueError(f"got {count} {what} and the geometries of {len(geometries)}")
        return geometries


def load_generator(ckpt: str | Path, *, device: str | torch.device = "cpu") -> TrainedGenerator:
    """:meth:`TrainedGenerator.load`."""
    return TrainedGenerator.load(ckpt, device=device)


def code_items(codes: Code) -> list[Code]:
    """The items of a batch of codes: a tensor's rows, or a :class:`~beautygan.models.psgan.PSGANCode`'s batches
    of one."""
    return [codes[i] for i in range(len(codes))]


def batch_codes(items: Sequence[Code]) -> Code:
    """Items of codes (:func:`code_items`) as one batch: tensors stacked, PSGAN codes concatenated."""
    items = list(items)
    if items and all(isinstance(item, Tensor) for item in items):
        return torch.stack(items)  # type: ignore[arg-type]
    if items and all(isinstance(item, PSGANCode) for item in items):
        return PSGANCode.cat(items)  # type: ignore[arg-type]
    kinds = sorted({type(item).__name__ for item in items})
    raise TypeError(f"codes must be all tensors or all PSGANCode, got {', '.join(kinds) or 'none'}")


def _cat(geometries: Sequence[Any]) -> FaceGeometry:
    if not all(isinstance(g, FaceGeometry) for g in geometries):
        kinds = sorted({type(g).__name__ for g in geometries})
        raise TypeError(f"geometries must be FaceGeometry batches, got {', '.join(kinds)}")
    return FaceGeometry.cat(list(geometries))


def _batch_key(code: Code) -> tuple:
    """What codes must share to go in one batch: a tensor's shape; a PSGAN code's references and grid."""
    if isinstance(code, PSGANCode):
        return ("psgan", code.references, tuple(code.keys.shape[2:]))
    return ("tensor", tuple(code.shape))


def _runs(keys: Sequence[tuple], batch_size: int) -> list[slice]:
    """Runs of consecutive equal ``keys``, each cut into slices of at most ``batch_size``."""
    slices, start = [], 0
    for end in range(1, len(keys) + 1):
        if end == len(keys) or keys[end] != keys[start] or end - start == batch_size:
            slices.append(slice(start, end))
            start = end
    return slices


def _count(parameters: int) -> str:
    if parameters >= 1_000_000:
        return f"{parameters / 1e6:.1f}M"
    if parameters >= 1_000:
        return f"{parameters / 1e3:.1f}K"
    return str(parameters)


def _build(hparams: dict[str, Any], path: Path) -> nn.Module:
    """The untrained generator a checkpoint's hyper-parameters describe (see the module docstring)."""
    kind = hparams.get("generator", "beautygan")
    if kind not in GENERATORS:
        raise CheckpointError(
            f"checkpoint {path} holds a generator {kind!r}; the generators are {', '.join(map(repr, GENERATORS))}"
        )
    try:
        return build_generator(
            kind,
            width=int(hparams.get("generator_width", 64)),
            residual_blocks=int(hparams.get("residual_blocks", 6)),
            makeup_blocks=int(hparams.get("makeup_blocks", 3)),
            output=hparams.get("generator_output", "image"),
            region_grid=hparams.get("region_grid", "nearest"),
        )
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path}: its generator hyper-parameters are not usable: {err}") from None
