"""``beautygan``: train and use BeautyGAN, one thin module per command (heavy imports inside the command).

    beautygan fit --config configs/beautygan.yaml          # also validate / test / predict (LightningCLI)
    beautygan transfer --ckpt last.ckpt --source a.jpg --reference b.jpg --out out.png   # face-aware, full size
    beautygan transfer --ckpt last.ckpt --source a.jpg --lips red.jpg --eyes smoky.jpg --out out.png
    beautygan gallery --ckpt last.ckpt --data-dir data/synthetic_mt --out gallery.png [--strengths 0,0.5,1]
    beautygan interpolate --ckpt last.ckpt --source a.jpg --reference b.jpg --reference c.jpg --out strip.png
    beautygan prepare-faces PHOTOS/ data/mine --kind non-makeup   # needs the `faces` extra
    beautygan evaluate --ckpt last.ckpt --data-dir data/mine --out eval/
    beautygan app --ckpt last.ckpt                          # a local web page (needs the `app` extra)

``transfer``, ``gallery`` and ``interpolate`` need no label maps and no VGG: they rebuild the generator from the
checkpoint's hyperparameters.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

COMMANDS = (
    ("fit", "train from YAML (LightningCLI: beautygan fit --config configs/beautygan.yaml)"),
    ("validate", "validation figures of a checkpoint (LightningCLI)"),
    ("test", "held-out figures of a checkpoint (LightningCLI)"),
    ("predict", "run the model on the predict split (LightningCLI)"),
    ("transfer", "a reference's makeup on a photo (strength, per-region looks), face-aware at full size, or folders"),
    ("gallery", "sources x references grid of made-up faces, or strength strips (PNG + HTML page)"),
    ("interpolate", "a source wearing looks between two references, mixed inside the generator (PNG + HTML)"),
    ("prepare-faces", "your photos into the MT layout: detect, align, label maps (needs the faces extra)"),
    ("evaluate", "face distance, colour and background figures of a checkpoint on pairs of photos"),
    ("synthetic", "write the synthetic MT-layout faces the demo trains on"),
    ("app", "a local web page for makeup transfer: controls, before/after, what VGG sees (needs the app extra)"),
)

# command -> module whose run(argv) -> int runs it (the LightningCLI subcommands share beautygan.cli.fit)
_MODULES = {
    "transfer": "beautygan.cli.transfer",
    "gallery": "beautygan.cli.gallery",
    "interpolate": "beautygan.cli.interpolate",
    "prepare-faces": "beautygan.cli.prepare_faces",
    "evaluate": "beautygan.cli.evaluate",
    "synthetic": "beautygan.cli.synthetic",
    "app": "beautygan.cli.app",
}


def _usage() -> str:
    width = max(len(name) for name, _ in COMMANDS)
    lines = [
        "usage: beautygan COMMAND [options]   (beautygan COMMAND --help for its options)",
        "",
        "BeautyGAN makeup transfer: train, use and evaluate.",
        "",
        "commands:",
    ]
    lines += [f"  {name:<{width}}  {text}" for name, text in COMMANDS]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    known = {name for name, _ in COMMANDS}
    if args[0] not in known and not args[0].startswith("-"):
        print(f"beautygan: error: unknown command {args[0]!r}; choose from {', '.join(sorted(known))}", file=sys.stderr)
        return 2
    if args[0] in _MODULES:
        try:
            return int(importlib.import_module(_MODULES[args[0]]).run(args[1:]) or 0)
        except SystemExit as exit_:  # argparse: --help (0) or a usage error (2, one line)
            return exit_.code if isinstance(exit_.code, int) else 2
    from .fit import run

    return run(args, from_sys_argv=argv is None)


if __name__ == "__main__":
    sys.exit(main())
