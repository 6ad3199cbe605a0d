"""``perceptual convert-weights IN OUT.safetensors``: any VGG weights file -> a torchvision state dict that loads fast.

``IN`` is anything ``weights=`` reads (TF ``vgg16.npy``, Keras ``.h5``, ``.pth``, ``.safetensors``, a torchvision
weights name). ``OUT`` holds ``features.N.*`` (and ``classifier.N.*`` when ``IN`` has the fully connected layers)
in torchvision's layout, with the metadata :func:`perceptual.load_weights` reads back: ``perceptual.arch``,
``perceptual.normalization`` (the input preparation, e.g. Caffe BGR mean subtraction for TF/Keras weights),
``perceptual.source``, ``perceptual.provenance`` (:data:`~perceptual.vgg_state.Provenance`) and ``perceptual.categories``. The file holds no code (unlike a pickled ``.npy``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from perceptual.cli._common import add_arch

if TYPE_CHECKING:
    from perceptual.weights import VGGWeights

_TF_POOL_NOTE = (
    "note: TensorFlow vgg16.npy code usually pools with padding='SAME' (361 -> 181, not 180): pass "
    "pool_padding='same' to VGGFeatures (or --pool-padding same to `perceptual layers`) to get its feature-map "
    "sizes; its 'conv1_1' is post-ReLU, i.e. 'relu1_1' here"
)


def convert_weights(source: str | os.PathLike, out: str | os.PathLike, *, arch: str | None = None) -> VGGWeights:
    """Read ``source``, write ``out`` (``.safetensors``); ``arch=None`` detects VGG16/VGG19. Returns the weights."""
    from safetensors.torch import save_file

    from perceptual.files import atomic_path

    out = Path(out)
    if out.suffix.lower() != ".safetensors":
        raise ValueError(f"the output must be a .safetensors file, got {str(out)!r}")
    if out.is_dir():
        raise ValueError(f"the output {str(out)!r} is a folder; name a .safetensors file")
    existing = next((parent for parent in out.parents if parent.exists()), None)
    if existing is not None and not existing.is_dir():
        raise ValueError(f"the output {str(out)!r} cannot be written: {str(existing)!r} is a file, not a folder")
    weights = _load_any(source, arch)
    tensors = {f"features.{key}": value.detach().float().contiguous() for key, value in weights.features.items()}
    if weights.classifier is not None:
        tensors.update(
            {f"classifier.{key}": value.detach().float().contiguous() for key, value in weights.classifier.items()}
        )
    metadata = {
        "perceptual.arch": weights.arch,
        "perceptual.normalization": weights.normalization.to_json(),
        "perceptual.source": weights.source,
        # Provenance survives a conversion: random stays random (the loader warns again), a file of unknown origin
        # stays "file", and only known pretrained weights are marked so.
        "perceptual.provenance": weights.provenance,
        "perceptual.pretrained": "true" if weights.pretrained else "false",
    }
    if weights.categories:
        metadata["perceptual.categories"] = "\n".join(weights.categories)
    with atomic_path(out) as temporary:  # never a half-written file at out
        save_file(tensors, str(temporary), metadata=metadata)
    return weights


def _load_any(source: str | os.PathLike, arch: str | None) -> VGGWeights:
    from perceptual.weights import load_weights

    path = Path(source)
    if path.suffix.lower() in (".npy", ".h5", ".hdf5"):
        from perceptual.weights_formats import load_keras_h5_weights, load_npy_weights

        reader = load_npy_weights if path.suffix.lower() == ".npy" else load_keras_h5_weights
        return reader(path, arch=arch)  # detects the arch when arch is None
    weights_arg = path if path.exists() else str(source)
    if arch is not None:
        return load_weights(weights_arg, arch=arch)
    try:
        return load_weights(weights_arg, arch="vgg16")
    except ValueError as first:
        try:
            return load_weights(weights_arg, arch="vgg19")
        except ValueError:
            raise first from None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert-weights",
        help="convert TF .npy / Keras .h5 / torch weights to a torchvision .safetensors",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("source", metavar="IN", help="vgg16.npy, a Keras .h5, .pth, .safetensors or a torchvision name")
    parser.add_argument("out", metavar="OUT.safetensors")
    add_arch(parser, default=None, help="default: detected from the file")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    weights = convert_weights(args.source, args.out, arch=args.arch)
    head = "features and classifier" if weights.classifier is not None else "features only (no classifier)"
    norm = weights.normalization
    print(f"wrote {args.out}: {weights.arch}, {head}, from {weights.source}")
    print(
        f"input preparation stored: {norm.name} ({norm.channel_order}, 0-{norm.pixel_scale:g}, mean {list(norm.mean)}, "
        f"std {list(norm.std)}); load it with VGGFeatures(weights={str(args.out)!r}, arch={weights.arch!r})"
    )
    if Path(args.source).suffix.lower() == ".npy":
        print(_TF_POOL_NOTE)
    return 0
