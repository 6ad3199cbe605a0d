"""``beautygan fit | validate | test | predict``: LightningCLI over :class:`~beautygan.module.BeautyGAN` and
:class:`~beautygan.data.MTDataModule`, with every expected failure as one line and exit status 2: a bad dataset
(before any run folder exists), a bad configuration value, an unreadable checkpoint, nothing to resume from, a
checkpoint that cannot be written, a loss that went NaN. ``--ckpt_path last`` resumes the run's own newest
``last.ckpt`` in the same TensorBoard run (:mod:`beautygan.resume`)."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["ConfigurationError", "run"]


class ConfigurationError(ValueError):
    """A value of the configuration was refused by the class it configures (the message says which and why)."""


def _class_name(node: Any) -> str:
    return str(getattr(node, "class_path", "") or "").rsplit(".", 1)[-1]


def _resume_in_place(config: Any) -> None:
    """``--ckpt_path last``: the newest ``last.ckpt`` of the run's own folder, and the TensorBoard version it belongs
    to for the logger; an explicit checkpoint inside ``version_N`` continues that version."""
    from ..resume import RunFolder, find_last_checkpoint, version_of

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
    ckpt_path = config.get("ckpt_path")
    if ckpt_path == "last":
        path, version = find_last_checkpoint(RunFolder(logs, checkpoints))
        config.ckpt_path = str(path)
        print(
            f"beautygan: resuming from {path}"
            + (f" (TensorBoard run version_{version})" if version is not None else "")
        )
    elif ckpt_path and ckpt_path not in ("best", "hpc", "registry", "null"):
        version = version_of(Path(ckpt_path), logs)
    else:
        return
    if version is not None and tensorboard is not None and tensorboard.init_args.get("version") is None:
        tensorboard.init_args.version = version


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

    from ..data import MTDataModule
    from ..module import BeautyGAN
    from ..samples import SampleGrids

    class BeautyGANCLI(LightningCLI):
        """LightningCLI over :class:`BeautyGAN` and :class:`MTDataModule`, with the sample grids' callback as the
        config's ``samples:`` section (``--samples.every_n_batches 50``); the resolved config is saved per run."""

        def __init__(self, args: Sequence[str] | None = None, *, run: bool = True, prog: str = "beautygan") -> None:
            super().__init__(
                BeautyGAN,
                MTDataModule,
                args=args,
                run=run,
                save_config_kwargs={"overwrite": True},
                parser_kwargs={"prog": prog, "exit_on_error": False},  # parse errors become one line in run()
            )

        def add_arguments_to_parser(self, parser: Any) -> None:
            parser.add_lightning_class_args(SampleGrids, "samples")

        def before_instantiate_classes(self) -> None:
            if self.subcommand == "fit":
                _resume_in_place(self.config[self.subcommand])

        def instantiate_classes(self) -> None:
            # A bad value in the config (lr -0.001, batch_size 0, image_size 30, an unknown loss weight) is refused
            # by the constructors; say it in one line, before any run folder exists.
            try:
                super().instantiate_classes()
            except (ValueError, TypeError) as err:
                raise ConfigurationError(str(err).strip().splitlines()[0] if str(err).strip() else repr(err)) from None

        # The dataset is checked (every file decoded, label ids validated) before the trainer creates a run folder.
        def before_fit(self) -> None:
            self.datamodule.setup("fit")

        def before_validate(self) -> None:
            self.datamodule.setup("validate")

        def before_test(self) -> None:
            self.datamodule.setup("test")

        def before_predict(self) -> None:
            self.datamodule.setup("predict")

    return BeautyGANCLI


def run(args: Sequence[str], *, from_sys_argv: bool = False) -> int:
    """Run a LightningCLI subcommand (``args`` starts with it); ``from_sys_argv``: let LightningCLI read
    ``sys.argv`` itself, as the ``beautygan`` console script does."""
    from perceptual import CalibrationUnavailableError, WeightsUnavailableError

    from ..checkpoints import CheckpointError, CheckpointWriteError, load_checkpoint_file
    from ..data import DatasetError
    from ..guard import NonFiniteLossError
    from ..resume import ResumeError

    args = list(args)
    try:
        # LightningCLI reads --ckpt_path itself, with a raw traceback for a broken file: check it first.
        for i, arg in enumerate(args):
            if arg.startswith("--ckpt_path"):
                path = arg.partition("=")[2] or (args[i + 1] if i + 1 < len(args) else "")
                if path and path not in ("last", "best", "hpc", "registry", "null"):
                    load_checkpoint_file(path, weights_only=False)
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
