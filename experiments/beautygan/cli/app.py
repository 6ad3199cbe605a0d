"""``beautygan app``: a local web page for makeup transfer (the ``app`` extra: Gradio) with the makeup controls and
what VGG sees; see :mod:`beautygan.app`."""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ..data.photo_limits import MAX_FILE_MB, MAX_MEGAPIXELS
from ._common import EXPECTED_ERRORS, Parser, announce_generator, device_default, fail

PROG = "beautygan app"


def build_parser() -> Parser:
    parser = Parser(
        prog=PROG,
        description="Makeup transfer in a web page on this machine: upload, webcam or example photos, the strength "
        "sliders, per-region references, interpolation between two references, and the VGG comparison of before "
        "and after. Needs the 'app' extra (pip install -e '.[app]').",
    )
    parser.add_argument(
        "--ckpt", required=True, type=Path, help="checkpoint written by `beautygan fit` (or its run folder)"
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the network)",
    )
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument(
        "--device", default=device_default(), help="where the generator and VGG run (default: cuda when available)"
    )
    parser.add_argument(
        "--no-align", action="store_true", help="no face detection: whole images, resized to the training square"
    )
    parser.add_argument(
        "--examples",
        type=Path,
        default=None,
        metavar="DIR",
        help="MT-layout folder whose held-out faces are the examples (default: none; the checkpoint's data root is "
        "named in a note, not opened)",
    )
    parser.add_argument(
        "--vgg-weights",
        default=None,
        metavar="WEIGHTS",
        help="VGG of the comparison: imagenet, random_normalized, a torchvision enum name or a file (default: the "
        "weights the checkpoint trained with when they are named, else imagenet; a weights file named inside the "
        "checkpoint is never opened on its own: pass it here)",
    )
    parser.add_argument(
        "--max-megapixels",
        type=float,
        default=MAX_MEGAPIXELS,
        metavar="MP",
        help=f"the largest photo taken, read from the file's header before decoding (default {MAX_MEGAPIXELS:g})",
    )
    parser.add_argument(
        "--max-file-mb",
        type=float,
        default=MAX_FILE_MB,
        metavar="MB",
        help=f"the largest photo file taken, uploads included (default {MAX_FILE_MB:g})",
    )
    parser.add_argument(
        "--vgg-layers",
        default=None,
        metavar="LAYERS",
        help="one or two layers compared, comma-separated (default: relu1_2 and the perceptual loss's layer)",
    )
    parser.add_argument(
        "--queue-size", type=int, default=16, metavar="N", help="requests that may wait for their turn (default 16)"
    )
    return parser


def run(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    if not args.host.strip():
        return fail(PROG, ValueError("--host is empty; give an address: 127.0.0.1 (this machine) or 0.0.0.0 (all)"))
    if not 0 < args.port < 65536:
        return fail(PROG, ValueError(f"--port must be in 1-65535, got {args.port}"))
    if args.queue_size < 1:
        return fail(PROG, ValueError(f"--queue-size must be >= 1, got {args.queue_size}"))
    for option, value in (("--max-megapixels", args.max_megapixels), ("--max-file-mb", args.max_file_mb)):
        if not 0 < value < float("inf"):
            return fail(PROG, ValueError(f"{option} must be a positive number, got {value:g}"))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing leaves the machine
    try:
        import gradio  # noqa: F401
    except ImportError:
        return fail(PROG, ImportError("the web app needs Gradio, the 'app' extra: pip install -e '.[app]'"))
    from ..app import MakeupApp, VGGView, build_app, checkpoint_vgg, launch
    from ..inference.photo_transfer import PhotoTransfer, TransferOptions
    from ..training.checkpoint_files import CheckpointError, load_checkpoint_file, stored_weights_file

    notes = []
    try:
        transfer = PhotoTransfer(args.ckpt, TransferOptions(align=not args.no_align, device=args.device))
        checkpoint = load_checkpoint_file(transfer.model.checkpoint)
        choice = checkpoint_vgg(checkpoint)
        stored = stored_weights_file(checkpoint)
        if args.vgg_weights is not None:
            choice = replace(choice, weights=args.vgg_weights, seed=0)
        elif stored is not None:
            notes.append(
                f"the checkpoint was trained with the VGG weights file {stored}, which is not opened unless you name "
                f"it: comparing with {choice.weights}; pass --vgg-weights {stored} to compare with it"
            )
        if args.vgg_layers is not None:
            try:
                choice = replace(
                    choice, layers=tuple(name.strip() for name in args.vgg_layers.split(",") if name.strip())
                )
            except ValueError as err:
                raise ValueError(f"--vgg-layers {args.vgg_layers}: {err}") from None
        examples = args.examples
        if examples is None:
            root = (checkpoint.get("datamodule_hyper_parameters") or {}).get("root")
            if root:
                notes.append(
                    f"the checkpoint was trained on {root}: pass --examples {root} to offer its held-out faces as "
                    "examples (a folder named inside a checkpoint is not opened on its own)"
                )
        elif not examples.is_dir():
            raise FileNotFoundError(f"--examples {examples}: no such folder")
        vgg = VGGView.load(choice, device=args.device)
        if args.vgg_weights is not None and vgg.error is not None:
            raise ValueError(f"--vgg-weights {args.vgg_weights}: {vgg.error}")
        app = MakeupApp(
            transfer,
            vgg=vgg,
            examples=examples,
            max_megapixels=args.max_megapixels,
            max_file_mb=args.max_file_mb,
        )
        blocks = build_app(app)
    except (CheckpointError, *EXPECTED_ERRORS) as err:
        return fail(PROG, err)
    announce_generator(PROG, transfer.model)
    for note in dict.fromkeys([*notes, *app.notes]):
        print(f"note: {note}")
    if app.vgg.problem:
        print(f"note: {app.vgg.problem}")
    problem = _cannot_listen(args.host, args.port)
    if problem:
        return fail(
            PROG, OSError(f"cannot listen on {args.host}:{args.port} ({problem}); choose another --port or --host")
        )
    if not _is_loopback(args.host):
        print(f"note: listening on {args.host}: other machines can open the page")
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"beautygan app: open http://{shown}:{args.port} (Ctrl+C stops it)", flush=True)
    try:
        launch(
            blocks,
            host=args.host,
            port=args.port,
            queue_size=args.queue_size,
            allowed_paths=app.allowed_files,
            max_file_mb=args.max_file_mb,
        )
    except OSError as err:  # taken between the check and the launch
        return fail(PROG, err)
    except KeyboardInterrupt:
        print("beautygan app: stopped", file=sys.stderr)
    return 0


def _cannot_listen(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (taken, not this machine's address), or ``None``."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as err:
        return err.strerror or str(err)
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
