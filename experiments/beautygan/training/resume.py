"""``beautygan fit --ckpt_path last`` that really resumes.

Lightning resolves ``last`` inside the run folder of the *new* run: the TensorBoard logger has just opened a fresh
``version_N``, which holds no checkpoint, so the run silently starts over from epoch 0. Here ``last`` means the newest
``last.ckpt`` under the logger's folder (``<save_dir>/<name>/version_*/checkpoints/``, or a ``ModelCheckpoint``'s own
``dirpath``), and the logger is pointed at the version that checkpoint belongs to, so the resumed run writes into
the same TensorBoard run and its curves stay one curve. An explicit checkpoint path inside a ``version_N`` folder
continues that version too. With no ``last.ckpt`` to be found, :class:`ResumeError` names where it looked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ResumeError", "RunFolder", "find_last_checkpoint", "version_of"]

_VERSION = re.compile(r"^version_(\d+)$")


class ResumeError(ValueError):
    """``--ckpt_path last`` found nothing to resume; the message names where it looked."""


@dataclass(frozen=True)
class RunFolder:
    """Where a run's TensorBoard versions live (``<save_dir>/<name>``) and, when a checkpoint callback names it, the
    folder its checkpoints go to instead of ``<version>/checkpoints``."""

    logs: Path | None
    checkpoints: Path | None = None

    def places(self) -> list[str]:
        where = []
        if self.checkpoints is not None:
            where.append(str(self.checkpoints / "last.ckpt"))
        if self.logs is not None:
            where.append(str(self.logs / "version_*" / "checkpoints" / "last.ckpt"))
        return where


def version_of(checkpoint: Path, logs: Path | None) -> int | None:
    """The ``N`` of ``<logs>/version_N/checkpoints/<file>``, or ``None`` when ``checkpoint`` lies elsewhere."""
    folder = checkpoint.resolve().parent
    if folder.name != "checkpoints":
        return None
    version = folder.parent
    match = _VERSION.match(version.name)
    if match is None or (logs is not None and version.parent != logs.resolve()):
        return None
    return int(match.group(1))


def find_last_checkpoint(run: RunFolder) -> tuple[Path, int | None]:
    """The newest ``last.ckpt`` of ``run`` (by modification time) and the TensorBoard version it belongs to (the
    newest existing version when the checkpoints live in their own folder). Raises :class:`ResumeError` when there
    is none."""
    candidates: list[Path] = []
    if run.checkpoints is not None:
        candidates += [p for p in (run.checkpoints / "last.ckpt",) if p.is_file()]
    if run.logs is not None and run.logs.is_dir():
        candidates += [p for p in run.logs.glob("version_*/checkpoints/last.ckpt") if p.is_file()]
    if not candidates:
        places = " or ".join(run.places()) or "nowhere (no logger and no checkpoint folder configured)"
        raise ResumeError(
            f"--ckpt_path last: no last.ckpt to resume from; looked for {places}. Start without --ckpt_path, or give "
            "the checkpoint file"
        )
    newest = max(candidates, key=lambda p: p.stat().st_mtime)
    version = version_of(newest, run.logs)
    if version is None and run.logs is not None and run.logs.is_dir():
        versions = [int(m.group(1)) for p in run.logs.iterdir() if (m := _VERSION.match(p.name)) and p.is_dir()]
        version = max(versions) if versions else None
    return newest, version
