"""Checkpoint files, in plain torch (no Lightning: inference reads them too): written whole or not at all, read
safely, and one clear error for a checkpoint that cannot be read or does not fit.

:func:`save_atomically` writes to a temporary file in the destination folder, flushes it to disk and renames it over
the destination: the destination is always either the previous checkpoint or the new one, whole (Lightning's own
writer goes through ``$TMPDIR``, and a kill during that cross-filesystem move leaves a truncated ``last.ckpt``;
training writes through :class:`~beautygan.training.checkpoint_io.AtomicCheckpointIO`, which calls this).

Every checkpoint is read with ``torch.load(weights_only=True)``: tensors, containers, strings and numbers, plus
the few types of our own that a checkpoint holds (:data:`CHECKPOINT_TYPES`, allowed inside
:func:`checkpoint_types` only, also under the module paths older checkpoints name them by:
:data:`FORMER_TYPE_PATHS`), never an arbitrary global, so a file with code hidden in a pickled ``__reduce__`` is
refused in one line and nothing in it runs.
"""

from __future__ import annotations

import errno
import os
import pathlib
import pickle
import re
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from perceptual.files import atomic_path

from .loss_weights import LossWeights
from .speed import SpeedOptions

__all__ = [
    "CHECKPOINT_TYPES",
    "FORMER_TYPE_PATHS",
    "CheckpointError",
    "CheckpointWriteError",
    "check_checkpoint_fits",
    "checkpoint_types",
    "load_checkpoint_file",
    "names_weights_file",
    "save_atomically",
    "stored_weights_file",
]

CHECKPOINT_TYPES: tuple[type, ...] = (LossWeights, SpeedOptions, pathlib.PosixPath, pathlib.PurePosixPath)
"""The non-plain types a ``beautygan fit`` checkpoint may hold: the module's hyper-parameters as a Python caller
passes them (``BeautyGAN(loss_weights=LossWeights(...), speed=SpeedOptions(...))``; LightningCLI stores dicts) and
a data root or weights path given as a ``Path``. Each is rebuilt from its fields without calling any code of the
file. (Lightning's own state, the optimizers' and the callbacks' hold tensors, containers, strings and numbers.)"""

FORMER_TYPE_PATHS: dict[type, tuple[str, ...]] = {
    LossWeights: ("beautygan.loss_weights.LossWeights",),
    SpeedOptions: ("beautygan.speed.SpeedOptions",),
}
"""The other names a pickle may give a type of :data:`CHECKPOINT_TYPES`: the module paths it had when checkpoints
written before the package was arranged by role pickled it (``beautygan.loss_weights``, ``beautygan.speed``; now in
:mod:`beautygan.training`). A pickle names a type by its module path, so these names are allowed too, each mapped to
the type it names today (torch's ``(type, "module.Name")`` form of a safe global)."""


def _allowed() -> list[Any]:
    """:data:`CHECKPOINT_TYPES` and their :data:`FORMER_TYPE_PATHS`, as ``torch.serialization.safe_globals`` takes
    them (a type, or a ``(type, "module.Name")`` pair for a name the type no longer has)."""
    return [*CHECKPOINT_TYPES, *((kind, path) for kind, paths in FORMER_TYPE_PATHS.items() for path in paths)]


class CheckpointError(ValueError):
    """A checkpoint file could not be read; the message names the file and what is wrong with it."""


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (a full disk, a read-only folder); the message names the file, the reason
    and whether the previous checkpoint under that name is kept."""


_FULL_BELOW = 64 << 20
"""A failed write on a filesystem with less than this free is put down to a full disk (``torch.save`` reports a full
disk as ``RuntimeError: [enforce fail at inline_container.cc] unexpected pos``, without ``ENOSPC``)."""


def _write_error(path: Path, err: BaseException, previous: bool) -> CheckpointWriteError:
    folder = path.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    chain = [err, err.__cause__, err.__context__]
    full = any(isinstance(e, OSError) and e.errno == errno.ENOSPC for e in chain) or (
        free is not None and free < _FULL_BELOW
    )
    if full:
        reason = "no space left on the device" + (
            f" ({free / 2**20:.1f} MiB free in {folder})" if free is not None else ""
        )
    else:
        text = str(err).strip().splitlines()
        reason = f"{type(err).__name__}: {text[0] if text else repr(err)}"
    kept = f"the previous checkpoint {path} is kept, whole" if previous else "no earlier checkpoint had that name"
    error = CheckpointWriteError(f"could not write checkpoint {path}: {reason}; {kept}")
    error.errno = errno.ENOSPC if full else None
    return error


def save_atomically(checkpoint: dict[str, Any], path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file next to ``path``, fsync, then rename it to ``path`` (atomic on POSIX).

    A failed write (a full disk, a read-only folder) raises :class:`CheckpointWriteError` naming the file and the
    reason; the temporary file is removed and an earlier checkpoint under ``path`` stays as it was."""
    path = Path(path)
    previous = path.is_file()
    try:
        with atomic_path(path, fsync=True) as temporary:
            torch.save(checkpoint, temporary)
    except (OSError, RuntimeError) as err:
        raise _write_error(path, err, previous) from err
    return path


@contextmanager
def checkpoint_types() -> Iterator[None]:
    """Within the block, ``torch.load(weights_only=True)`` (ours and Lightning's) also accepts
    :data:`CHECKPOINT_TYPES`, under their names and their :data:`FORMER_TYPE_PATHS`; outside it, torch's allow-list
    is as it was. Nested blocks are fine (torch's own ``safe_globals`` context removes its types on exit even when an
    outer block added them: only the types not allowed yet are added here)."""
    allowed = torch.serialization.get_safe_globals()
    missing = [kind for kind in _allowed() if kind not in allowed]
    if not missing:
        yield
        return
    with torch.serialization.safe_globals(missing):
        yield


def _refusal(path: Path, err: pickle.UnpicklingError) -> str:
    """What ``torch.load(weights_only=True)`` refused, in one line: the global the file asked for, when it names one."""
    text = str(err)
    wanted = re.search(r"GLOBAL ([\w.]+)", text)
    if wanted:
        return (
            f"checkpoint {path} needs {wanted.group(1)}, which a beautygan fit checkpoint never holds: refused, "
            "nothing in it was run"
        )
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    detail = next((line for line in lines if "WeightsUnpickler error" in line), lines[-1] if lines else "")
    return f"checkpoint {path} is not a readable PyTorch checkpoint: {detail}"


def load_checkpoint_file(path: str | os.PathLike, *, map_location: Any = "cpu") -> dict[str, Any]:
    """``torch.load(weights_only=True)`` of a Lightning checkpoint (with :data:`CHECKPOINT_TYPES` allowed); a
    missing, empty, truncated or foreign file, or one that asks for any other type or callable, raises
    :class:`CheckpointError` (or ``FileNotFoundError``) naming the file, and nothing in the file is run."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(
            f"checkpoint {path} is empty (0 bytes): a save was interrupted; use an earlier checkpoint"
        )
    try:
        with checkpoint_types():
            checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(_refusal(path, err)) from None
    except Exception as err:  # noqa: BLE001 - unpickling garbage raises anything (EOFError, KeyError, RuntimeError...)
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"checkpoint {path} ({size} bytes) is not a readable PyTorch checkpoint: {type(err).__name__}: {first_line}"
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        keys = sorted(checkpoint)[:10] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise CheckpointError(f"checkpoint {path} is not a Lightning checkpoint (no 'state_dict'; it holds {keys})")
    if not isinstance(checkpoint["state_dict"], Mapping):
        kind = type(checkpoint["state_dict"]).__name__
        raise CheckpointError(f"checkpoint {path} is not a Lightning checkpoint (its 'state_dict' is a {kind})")
    return checkpoint


def _listed(names: list[str], limit: int = 3) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_checkpoint_fits(
    checkpoint: Mapping[str, Any], path: str | os.PathLike, model: torch.nn.Module, *, resume: bool = False
) -> None:
    """Raise :class:`CheckpointError` naming ``path`` unless ``checkpoint`` (as :func:`load_checkpoint_file` gives
    it) is a Lightning checkpoint whose state dict has exactly ``model``'s tensors, in their shapes; with
    ``resume``, it must also hold the training state (optimizers, loops) that ``fit`` continues from."""
    if "pytorch-lightning_version" not in checkpoint:
        raise CheckpointError(
            f"checkpoint {path} was not written by Lightning (no 'pytorch-lightning_version'; it holds "
            f"{_listed(sorted(map(str, checkpoint)), 6)}): give a checkpoint of beautygan fit"
        )
    state = checkpoint["state_dict"]
    expected = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    missing = [name for name in expected if name not in state]
    unexpected = [name for name in state if name not in expected]
    misshapen = [
        f"{name} {tuple(state[name].shape)} (the model's: {shape})"
        for name, shape in expected.items()
        if name in state and isinstance(state[name], torch.Tensor) and tuple(state[name].shape) != shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} of the model's {len(expected)} tensors are missing ({_listed(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} tensors are not the model's ({_listed(unexpected)})")
    if misshapen:
        problems.append(f"{len(misshapen)} have another shape ({_listed(misshapen, 2)})")
    if problems:
        raise CheckpointError(
            f"checkpoint {path} does not fit this model: {'; '.join(problems)}; give a checkpoint of beautygan fit "
            "written with this model configuration"
        )
    lacking = [key for key in ("optimizer_states", "loops") if key not in checkpoint]
    if resume and lacking:
        raise CheckpointError(
            f"checkpoint {path} holds the model but not the training state ({', '.join(lacking)}): it can be "
            "validated or tested, not resumed; start a new fit without --ckpt_path"
        )


def names_weights_file(weights: Any) -> bool:
    """Whether a ``vgg_weights`` value names a file rather than weights by name (``imagenet``, ``random``,
    ``random_normalized``, ``imagenet_features``, a torchvision enum such as ``VGG16_Weights.IMAGENET1K_V1``)."""
    if isinstance(weights, os.PathLike):
        return True
    if not isinstance(weights, str):
        return False
    key = weights.strip()
    names = ("random", "random_normalized", "imagenet", "imagenet1k_v1", "default", "imagenet_features")
    return not (key.lower() in (*names, "imagenet1k_features") or "_Weights." in key)


def stored_weights_file(checkpoint: Mapping[str, Any]) -> str | None:
    """The VGG weights file a checkpoint was trained with (its ``hyper_parameters.vgg_weights``, else the file its
    ``vgg_used`` record names), or ``None`` when it trained with weights by name. Nothing opens it unless the user
    names it: the commands print it with the option that would."""
    hparams = checkpoint.get("hyper_parameters") or {}
    stored = hparams.get("vgg_weights")
    if stored is not None and names_weights_file(stored):
        return str(stored)
    used = str((checkpoint.get("vgg_used") or {}).get("weights", ""))
    if used and not used.startswith(("random", "torchvision ")) and names_weights_file(used):
        return used
    return None
