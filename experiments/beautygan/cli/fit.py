"""``beautygan fit | validate | test | predict``: LightningCLI over :class:`~beautygan.training.module.BeautyGAN` and
:class:`~beautygan.training.datamodule.MTDataModule`, with every expected failure as one line and exit status 2: a bad
dataset (before any run folder exists), a bad configuration value, an unreadable checkpoint, nothing to resume from, a
checkpoint that cannot be written, a loss that went NaN. ``--ckpt_path last`` resumes the run's own newest ``last.ckpt``
in the same TensorBoard run (:mod:`beautygan.training.resume`).

Checkpoints are read with ``weights_only=True`` everywhere (ours and Lightning's reads, within
:func:`~beautygan.training.checkpoint_files.checkpoint_types`): a file with code in it is refused before Lightning sees
it. A checkpoint that is not a ``beautygan fit`` checkpoint of this model (no Lightning version, missing or misshapen
tensors, no optimizer state to resume) is one line naming the file. Lightning takes the checkpoint's hyper-parameters
over the config; a VGG weights *file* named there is not opened unless the config or the command line names it too (a
note says which file the checkpoint was trained with). ``fit`` locks its run folder
(:class:`~perceptual.folder_lock.FolderLock`): a second fit into it stops with the first one's PID."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["LOCK_NAME", "ConfigurationError", "run"]


class ConfigurationError(ValueError):
    """A value of the configuration was refused by the class it configures (the message says which and why)."""


def _class_name(node: Any) -> str:
    return str(getattr(node, "class_path", "") or "").rsplit(".", 1)[-1]


LOCK_NAME = ".beautygan-fit.lock"
"""The lock file ``beautygan fit`` holds in its run folder (``<save_dir>/<name>`` of the TensorBoard logger)."""

_SPECIAL_CKPT = ("last", "best", "hpc", "registry", "null")


def _run_folder(config: Any) -> tuple[Any, Any]:
    """The run's :class:`~beautygan.training.resume.RunFolder` (the logger's ``<save_dir>/<name>`` and a
    ``ModelCheckpoint``'s own ``dirpath``) and the TensorBoard logger's config node (``None`` without one)."""
    from ..training.resume import RunFolder

    trainer = config.trainer
    root = Path(trainer.get("default_root_dir") or ".")
    logger = trainer.get("logger")
    loggers = logger if isinstance(logger, list) else [logger]
    tensorboard = next((node for node in loggers if _class_name(node) == "TensorBoardLogger"), None)
    if tensorboard is not None:
        init = tensorboard.init_args
        name = init.get("name", "lightning_logs")
        logs: Path | None = Path(init.get("save_dir") or root) / name if name else Path(init.get("save_dir") or root)
    elif logger is None or logger is True:
        logs = root / "lightning_logs"  # Lightning's default logger (its version is then not set here)
    else:
        logs = None
    checkpoints = next(
        (
            Path(node.init_args.dirpath)
            for node in (trainer.get("callbacks") or [])
            if _class_name(node) == "ModelCheckpoint" and node.init_args.get("dirpath")
        ),
        None if logs is not None else root / "checkpoints",
    )
    return RunFolder(logs, checkpoints), tensorboard


def _resume_in_place(config: Any) -> dict[str, Any] | None:
    """``--ckpt_path last``: the newest ``last.ckpt`` of the run's own folder, and the TensorBoard version it belongs
    to for the logger; an explicit checkpoint inside ``version_N`` continues that version. Returns the ``last``
    checkpoint, read (and so checked) here, or ``None``."""
    from ..training.checkpoint_files import load_checkpoint_file
    from ..training.resume import find_last_checkpoint, version_of

    run, tensorboard = _run_folder(config)
    ckpt_path = config.get("ckpt_path")
    checkpoint = None
    if ckpt_path == "last":
        path, version = find_last_checkpoint(run)
        checkpoint = load_checkpoint_file(path)  # refused in one line (code in it, truncated...) before Lightning
        config.ckpt_path = str(path)
        print(
            f"beautygan: resuming from {path}"
            + (f" (TensorBoard run version_{version})" if version is not None else "")
        )
    elif ckpt_path and ckpt_path not in _SPECIAL_CKPT:
        version = version_of(Path(ckpt_path), run.logs)
    else:
        return None
    if version is not None and tensorboard is not None and tensorboard.init_args.get("version") is None:
        tensorboard.init_args.version = version
    return checkpoint


def _needs_landmarks(generator: str) -> bool:
    """``data.landmarks`` for a ``model.generator``: PSGAN's attention reads each face's landmarks."""
    return generator == "psgan"


def _one_line(err: BaseException) -> str:
    """jsonargparse's multi-line parse error as one line: ``--model.loss_weights: Option 'lipz' is not accepted``."""
    text = str(err)
    key = re.match(r'Parser key "([^"]+)"', text)
    specific = re.search(r"(Option '[^']+' is not accepted|Expected a <class '[^']+'>\. Got value: .*)", text)
    if key and specific:
        return f"--{key.group(1)}: {specific.group(1)}"
    return " ".join(line.strip(" -") for line in text.splitlines() if line.strip())


def cli_class() -> type:
    """The LightningCLI subclass (built on first use: importing Lightning costs seconds)."""
    from lightning.pytorch.cli import LightningCLI
    from lightning.pytorch.utilities import rank_zero_only

    from perceptual.folder_lock import FolderLock

    from ..training.checkpoint_files import check_checkpoint_fits, load_checkpoint_file, names_weights_file
    from ..training.datamodule import MTDataModule
    from ..training.module import BeautyGAN
    from ..training.samples import SampleGrids, remove_unfinished_grids

    class BeautyGANCLI(LightningCLI):
        """LightningCLI over :class:`BeautyGAN` and :class:`MTDataModule`, with the sample grids' callback as the
        config's ``samples:`` section (``--samples.every_n_batches 50``); the resolved config is saved per run."""

        def __init__(self, args: Sequence[str] | None = None, *, run: bool = True, prog: str = "beautygan") -> None:
            self.run_lock: FolderLock | None = None
            self.checked: tuple[str, dict[str, Any]] | None = None  # the checkpoint read before Lightning reads it
            try:
                super().__init__(
                    BeautyGAN,
                    MTDataModule,
                    args=args,
                    run=run,
                    save_config_kwargs={"overwrite": True},
                    parser_kwargs={"prog": prog, "exit_on_error": False},  # parse errors become one line in run()
                )
            finally:
                if self.run_lock is not None:
                    self.run_lock.release()

        def add_arguments_to_parser(self, parser: Any) -> None:
            parser.add_lightning_class_args(SampleGrids, "samples")
            # the data gives each face its landmarks exactly when the generator reads them
            parser.link_arguments("model.generator", "data.landmarks", compute_fn=_needs_landmarks)

        def _parse_ckpt_path(self) -> None:
            # Lightning copies the checkpoint's hyper-parameters over the config here. A VGG weights file named in
            # them is opened only when the config or the command line names the same file.
            subcommand = self.config.get("subcommand")
            if not subcommand:
                return super()._parse_ckpt_path()
            ckpt_path = self.config[subcommand].get("ckpt_path")
            if ckpt_path and ckpt_path not in _SPECIAL_CKPT and "://" not in str(ckpt_path):
                # one line (code in it, truncated, missing) before Lightning reads it
                self.checked = (str(ckpt_path), load_checkpoint_file(ckpt_path))
            model = self.config[subcommand].get("model")
            named = model.get("vgg_weights") if model is not None else None
            super()._parse_ckpt_path()
            model = self.config[subcommand].get("model")
            stored = model.get("vgg_weights") if model is not None else None
            if stored != named and names_weights_file(stored):
                model.vgg_weights = named
                print(
                    f"beautygan: note: the checkpoint was trained with the VGG weights file {stored}, which is not "
                    f"opened unless you name it: using {named}; pass --model.vgg_weights {stored} to use it"
                )

        def before_instantiate_classes(self) -> None:
            if self.subcommand == "fit":
                last = _resume_in_place(self.config[self.subcommand])
                if last is not None:
                    self.checked = (str(self.config[self.subcommand].ckpt_path), last)

        def instantiate_classes(self) -> None:
            # A bad value in the config (lr -0.001, batch_size 0, image_size 30, an unknown loss weight) is refused
            # by the constructors; say it in one line, before any run folder exists.
            try:
                super().instantiate_classes()
            except (ValueError, TypeError) as err:
                raise ConfigurationError(str(err).strip().splitlines()[0] if str(err).strip() else repr(err)) from None

        def _check_checkpoint(self, stage: str) -> None:
            """The checkpoint fits the model (``fit``: and holds the training state), or one line naming it."""
            ckpt_path = self.config[self.subcommand].get("ckpt_path")
            checked, self.checked = self.checked, None  # not kept in memory through the run
            if ckpt_path and ckpt_path not in _SPECIAL_CKPT and "://" not in str(ckpt_path):
                checkpoint = checked[1] if checked and checked[0] == str(ckpt_path) else load_checkpoint_file(ckpt_path)
                check_checkpoint_fits(checkpoint, ckpt_path, self.model, resume=stage == "fit")

        # The dataset is checked (every file decoded, label ids validated) before the trainer creates a run folder;
        # then fit locks the run folder for as long as it writes to it.
        def before_fit(self) -> None:
            self.datamodule.setup("fit")
            self._check_checkpoint("fit")
            if rank_zero_only.rank == 0:
                run, _ = _run_folder(self.config[self.subcommand])
                folder = run.logs or run.checkpoints
                if folder is not None:
                    lock = FolderLock(folder, name=LOCK_NAME, what="beautygan fit")
                    note = lock.acquire()
                    self.run_lock = lock
                    if note:
                        print(f"beautygan: note: {note}")
                    # No other fit writes here now: sample grids a killed run left half-written go.
                    removed = [p for samples in folder.glob("*/samples") for p in remove_unfinished_grids(samples)]
                    if removed:
                        print(
                            f"beautygan: note: removed {len(removed)} unfinished sample grid file(s) an interrupted "
                            f"run left under {folder}"
                        )

        def before_validate(self) -> None:
            self.datamodule.setup("validate")
            self._check_checkpoint("validate")

        def before_test(self) -> None:
            self.datamodule.setup("test")
            self._check_checkpoint("test")

        def before_predict(self) -> None:
            self.datamodule.setup("predict")
            self._check_checkpoint("predict")

    return BeautyGANCLI


def run(args: Sequence[str], *, from_sys_argv: bool = False) -> int:
    """Run a LightningCLI subcommand (``args`` starts with it); ``from_sys_argv``: let LightningCLI read
    ``sys.argv`` itself, as the ``beautygan`` console script does."""
    from perceptual import CalibrationUnavailableError, WeightsUnavailableError
    from perceptual.folder_lock import FolderLockedError

    from ..data.mt import DatasetError
    from ..training.checkpoint_files import CheckpointError, CheckpointWriteError, checkpoint_types
    from ..training.guard import NonFiniteLossError
    from ..training.resume import ResumeError

    args = list(args)
    try:
        with checkpoint_types():  # Lightning's own checkpoint reads accept our few types here only
            cli_class()(args=None if from_sys_argv else args)
    except WeightsUnavailableError as err:
        hint = (
            "\n(named pretrained weights may fall back to a random VGG offline with `vgg_fallback: random`, as the "
            "demo config does; a weights file you name never falls back)"
        )
        print(f"beautygan: error: {err}{'' if isinstance(err, CalibrationUnavailableError) else hint}", file=sys.stderr)
        return 2
    except (
        CheckpointError,
        CheckpointWriteError,
        ConfigurationError,
        DatasetError,
        FolderLockedError,
        NonFiniteLossError,
        ResumeError,
        FileNotFoundError,
    ) as err:
        print(f"beautygan: error: {err}", file=sys.stderr)
        return 2
    except argparse.ArgumentError as err:  # a bad option or config value
        print(f"beautygan: error: {_one_line(err)}; see beautygan {args[0] if args else 'fit'} --help", file=sys.stderr)
        return 2
    return 0
