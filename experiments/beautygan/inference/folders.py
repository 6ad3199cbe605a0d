"""Makeup transfer over whole folders: :func:`transfer_folders` writes ``<source>__<reference>.png`` for every
pair (all sources x all references, or the pairs a text file lists: :func:`read_pairs`), reading and aligning each
photo once, in the generator's batches; a photo that fails fails its own pairs only, and the
:class:`TransferReport` lists them."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from perceptual.images import IMAGE_SUFFIXES, image_files, save_image

from ..data.mt import read_pairs_file
from .controls import MakeupControls
from .photo_transfer import PhotoTransfer, PreparedPhoto

__all__ = ["TransferReport", "list_images", "output_name", "read_pairs", "transfer_folders"]


def list_images(path: str | Path) -> list[Path]:
    """``path`` itself, or the images in folder ``path`` (sorted; by suffix), with a clear error for neither."""
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = image_files(path)
        if not files:
            raise FileNotFoundError(f"{path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        return files
    raise FileNotFoundError(f"{path}: no such file or folder")


def read_pairs(path: str | Path, sources: Sequence[Path], references: Sequence[Path]) -> list[tuple[Path, Path]]:
    """``source_name reference_name`` per line (``#`` comments, blank lines ignored), names as in the folders."""
    by_source = {p.name: p for p in sources}
    by_reference = {p.name: p for p in references}
    pairs = []
    for number, parts in read_pairs_file(path, form="source_name reference_name"):
        missing = [n for n, known in zip(parts, (by_source, by_reference)) if n not in known]
        if missing:
            raise ValueError(f"{path}:{number}: {missing} not among the source / reference images")
        pairs.append((by_source[parts[0]], by_reference[parts[1]]))
    if not pairs:
        raise ValueError(f"{path} lists no pairs")
    return pairs


@dataclass
class TransferReport:
    """What a folder run wrote, and what failed (one line per photo or pair, with the reason)."""

    written: list[Path] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def format(self) -> str:
        lines = [f"wrote {len(self.written)} image(s)"]
        lines += [f"note: {note}" for note in dict.fromkeys(self.notes)]
        if self.failures:
            lines.append(f"{len(self.failures)} failed:")
            lines += [f"  {name}: {reason}" for name, reason in self.failures]
        return "\n".join(lines)


def output_name(source: Path | str, reference: Path | str | None, suffix: str = ".png") -> str:
    return f"{Path(source).stem}__{Path(reference).stem if reference is not None else 'regions'}{suffix}"


def transfer_folders(
    transfer: PhotoTransfer,
    pairs: Sequence[tuple[Path, Path | None]],
    out_dir: str | Path,
    *,
    controls: MakeupControls | None = None,
    progress: bool = True,
) -> TransferReport:
    """Every ``(source, reference)`` pair into ``out_dir/<source>__<reference>.png`` under ``controls`` (a
    ``None`` reference: the controls' per-region references only, written as ``<source>__regions.png``). Each
    photo is read and aligned once and dropped after its last pair (memory follows the batch, not the folder); a
    photo that fails (unreadable, no face) fails its pairs only; the rest are written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    controls = transfer.prepare_controls(controls)
    report = TransferReport(notes=list(transfer.notes))
    prepared: dict[Path, PreparedPhoto | str] = {}
    uses: dict[Path, int] = {}
    for source, reference in pairs:
        for path in (source, reference):
            if path is not None:
                uses[path] = uses.get(path, 0) + 1

    def get(path: Path | None) -> PreparedPhoto | str | None:
        if path is None:
            return None
        if path not in prepared:
            try:
                photo = transfer.prepare(path)
                report.notes.extend(photo.notes)
                prepared[path] = photo
            except (ValueError, OSError) as err:
                prepared[path] = str(err)
                report.failures.append((path.name, str(err)))
        return prepared[path]

    iterator: Iterable[int] = range(0, len(pairs), transfer.options.batch_size)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(pairs), desc="transfer", unit="pair", file=sys.stderr)
    for start in iterator:
        chunk = pairs[start : start + transfer.options.batch_size]
        ready = []
        for source, reference in chunk:
            s, r = get(source), get(reference)
            if isinstance(s, PreparedPhoto) and not isinstance(r, str):
                ready.append((source, reference, s, r))
        try:
            images = transfer.transfer_batch([(s, r) for _, _, s, r in ready], controls) if ready else []
        except (ValueError, OSError) as err:  # a source without a face for per-region masks fails the chunk's pairs
            images = []
            report.failures += [(output_name(source, reference), str(err)) for source, reference, _, _ in ready]
        for (source, reference, _, _), image in zip(ready, images):
            target = out_dir / output_name(source, reference)
            try:
                report.written.append(save_image(torch.from_numpy(image).permute(2, 0, 1), target))
            except (ValueError, OSError) as err:
                report.failures.append((target.name, str(err)))
        for source, reference in chunk:
            for path in (source, reference):
                if path is None:
                    continue
                uses[path] -= 1
                if uses[path] == 0 and isinstance(prepared.get(path), PreparedPhoto):
                    del prepared[path]  # a failure stays cached as its message
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return report
