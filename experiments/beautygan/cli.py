"""``beautygan``: train and use BeautyGAN.

    beautygan fit --config configs/beautygan.yaml          # also validate / test / predict (LightningCLI)
    beautygan transfer --ckpt last.ckpt --source a.jpg --reference b.jpg --out out.png   # face-aware, full size
    beautygan transfer --ckpt last.ckpt --source photos/ --reference looks/ --out results/
    beautygan gallery --ckpt last.ckpt --data-dir data/synthetic_mt --out gallery.png
    beautygan prepare-faces PHOTOS/ data/mine --kind non-makeup   # needs the `faces` extra
    beautygan evaluate --ckpt last.ckpt --data-dir data/mine --out eval/

``transfer`` needs no label maps and no VGG: it rebuilds the generator from the checkpoint's hyperparameters.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

__all__ = ["BeautyGANCLI", "load_generator", "main", "transfer"]


def _cli_class():
    from lightning.pytorch.cli import LightningCLI

    from .data import MTDataModule
    from .module import BeautyGAN

    class BeautyGANCLI(LightningCLI):
        """LightningCLI over :class:`BeautyGAN` and :class:`MTDataModule`; the resolved config is saved per run."""

        def __init__(self, args: Sequence[str] | None = None) -> None:
            super().__init__(
                BeautyGAN,
                MTDataModule,
                args=args,
                save_config_kwargs={"overwrite": True},
                parser_kwargs={"prog": "beautygan"},
            )

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


def __getattr__(name: str) -> Any:
    if name == "BeautyGANCLI":
        return _cli_class()
    raise AttributeError(name)


def load_generator(ckpt: str | Path, *, map_location: str | torch.device = "cpu"):
    """The trained :class:`~experiments.beautygan.networks.Generator` of a ``beautygan fit`` checkpoint, and the
    image size it was trained at."""
    from .checkpoints import load_checkpoint_file
    from .networks import Generator

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
    own size, face-aware, see :class:`~experiments.beautygan.photo_transfer.PhotoTransfer`."""
    from perceptual.images import check_output_image, load_image, save_image

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
    made_up, demade = generator(a[None].to(device) * 2 - 1, b[None].to(device) * 2 - 1)
    if demakeup_out is not None:
        save_image(((demade[0] + 1) / 2).clamp(0, 1).cpu(), demakeup_out)
    return save_image(((made_up[0] + 1) / 2).clamp(0, 1).cpu(), out)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["transfer"]:
        from .photo_transfer import main as transfer_main

        return int(transfer_main(args[1:]) or 0)
    if args[:1] == ["gallery"]:
        from .gallery import main as gallery_main

        return int(gallery_main(args[1:]) or 0)
    if args[:1] == ["prepare-faces"]:
        from .faces import main as prepare_faces_main

        return int(prepare_faces_main(args[1:]) or 0)
    if args[:1] == ["evaluate"]:
        from .evaluate import main as evaluate_main

        return int(evaluate_main(args[1:]) or 0)
    from perceptual import WeightsUnavailableError

    from .checkpoints import CheckpointError, load_checkpoint_file
    from .data import DatasetError
    from .module import NonFiniteLossError

    try:
        # LightningCLI reads --ckpt_path itself, with a raw traceback for a broken file: check it first.
        for i, arg in enumerate(args):
            if arg.startswith("--ckpt_path"):
                path = arg.partition("=")[2] or (args[i + 1] if i + 1 < len(args) else "")
                if path and path not in ("last", "best", "hpc", "registry", "null"):
                    load_checkpoint_file(path, weights_only=False)
        _cli_class()(args=None if argv is None else args)
    except WeightsUnavailableError as err:
        print(f"beautygan: error: {err}\n(named pretrained weights may fall back to a random VGG offline with "
              "`vgg_fallback: random`, as the demo config does; a weights file you name never falls back)", file=sys.stderr)  # fmt: skip
        return 2
    except (CheckpointError, DatasetError, NonFiniteLossError, FileNotFoundError) as err:
        print(f"beautygan: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
