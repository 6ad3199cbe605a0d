"""Where VGG weights come from, and the input preparation each source needs.

Sources (``weights=`` everywhere in this package):

- ``"imagenet"`` (default): torchvision's ``VGG16_Weights.IMAGENET1K_V1`` / ``VGG19_Weights.IMAGENET1K_V1``,
  read from the torch hub cache (``$TORCH_HOME/hub/checkpoints``) or downloaded into it.
- ``"imagenet_features"``: torchvision's ``VGG16_Weights.IMAGENET1K_FEATURES``, the original Caffe VGG16
  converted for feature extraction (caffe-style input: 0-255, mean subtracted, no std).
- any torchvision weights enum (``VGG19_Weights.IMAGENET1K_V1``) or its name (``"VGG16_Weights.IMAGENET1K_V1"``).
- a path: ``.pth``/``.pt``/``.safetensors`` state dict of a whole torchvision VGG or of its ``features``
  (keys ``features.N.*`` or ``N.*``).
- ``"random"``: seeded Kaiming initialisation, with a warning; for tests and ablations only.
- ``"random_normalized"``: the same random network rescaled the way Gatys et al. normalized their VGG19
  (``vgg_conv.pth``): every ReLU channel's mean activation is 1 on a fixed set of images (seeded noise with a
  natural ``1/f`` spectrum), so features, distances and perceptual losses have the scale of that trained network
  instead of Kaiming's vanishing one. Still not a perceptual metric: with a warning, for offline runs only.

Nothing ever falls back from pretrained to random weights on its own: a random VGG gives a different loss. Only
``load_weights(..., fallback="random")`` does, loudly, and only for named pretrained weights (never for a file).

A weights file that does not exist, or pretrained weights that are neither cached nor downloadable, raise
:class:`WeightsUnavailableError` (a ``FileNotFoundError`` and a ``RuntimeError``) from every loader.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, Union

import torch
from torch import Tensor

from perceptual import weights_formats
from perceptual.layers import check_arch, vgg_convs
from perceptual.normalization import IMAGENET, InputNormalization, get_normalization
from perceptual.vgg_state import (
    Provenance,
    VGGWeights,
    WeightsUnavailableError,
    check_feature_state,
    expected_feature_shapes,
    require_file,
)

__all__ = [
    "RandomWeightsWarning",
    "VGGWeights",
    "WeightsUnavailableError",
    "describe_provenance",
    "file_provenance",
    "load_torchvision_file",
    "load_weights",
    "vgg_provenance",
]

WeightsSource = Union[str, os.PathLike, "VGGWeights", Any]
"""What ``weights=`` accepts: a name, a path, a torchvision weights enum or a :class:`VGGWeights`."""


class RandomWeightsWarning(UserWarning):
    """Random VGG weights were asked for: the features are not a trained perceptual metric."""


_IMAGENET_NAMES = ("imagenet", "imagenet1k_v1", "default")
_IMAGENET_FEATURES_NAMES = ("imagenet_features", "imagenet1k_features")
_PROVENANCES: dict[str, Provenance] = {"pretrained": "pretrained", "random": "random", "file": "file"}


def load_weights(
    weights: WeightsSource = "imagenet",
    *,
    arch: str = "vgg16",
    seed: int = 0,
    normalization: str | InputNormalization | None = None,
    fallback: Literal["none", "random"] = "none",
) -> VGGWeights:
    """Resolve ``weights`` for ``arch`` into a :class:`VGGWeights` (see the module docstring for sources).

    ``normalization`` overrides the input preparation the source carries (for a local file of Caffe-converted
    weights saved without metadata, say ``"caffe"``).

    ``fallback="random"``: when *named* pretrained weights (``"imagenet"``, ``"imagenet_features"``, a torchvision
    weights enum or its name) are unavailable (offline and not cached), warn with a banner and return
    ``load_weights("random_normalized", arch=arch, seed=seed, normalization=normalization)`` instead: a seeded
    random VGG rescaled to the activation scale of Gatys et al.'s normalized VGG, so that a perceptual loss keeps
    the weight it has with a trained network (``provenance == "random"``; still not a perceptual metric). A file
    the user named never falls back: a missing one raises :class:`WeightsUnavailableError` naming it, as every
    unavailable source does with the default ``fallback="none"``.
    """
    check_arch(arch)
    if fallback not in ("none", "random"):
        raise ValueError(f"fallback must be 'none' or 'random', got {fallback!r}")
    try:
        loaded = _resolve(weights, arch, seed)
    except WeightsUnavailableError as err:
        if fallback != "random" or not _names_pretrained(weights):
            raise
        banner = "!" * 100
        warnings.warn(
            f"\n{banner}\n{arch} weights {_describe(weights)} are unavailable: {err}\nfallback='random' is set, so "
            f"the features (and every loss and feature map on them) come from a RANDOMLY INITIALIZED {arch.upper()}, "
            "rescaled to the activation scale of Gatys' normalized VGG.\n"
            f"That is NOT a perceptual metric; put torchvision's {arch} weights in $TORCH_HOME/hub/checkpoints for "
            f"the real one.\n{banner}",
            UserWarning,
            stacklevel=2,
        )
        loaded = _random_weights(arch, seed, normalized=True)
    if loaded.arch != arch:
        raise ValueError(f"weights {loaded.source} are for {loaded.arch}, but arch={arch!r} was asked for")
    if normalization is not None:
        loaded = replace(loaded, normalization=get_normalization(normalization))
    return loaded


def _resolve(weights: WeightsSource, arch: str, seed: int) -> VGGWeights:
    if isinstance(weights, VGGWeights):
        return weights
    from torchvision.models import WeightsEnum

    if isinstance(weights, WeightsEnum):
        return _load_torchvision(weights, arch)
    if isinstance(weights, os.PathLike):
        return _load_file(Path(weights), arch)
    if not isinstance(weights, str):
        hint = (
            "; layer weights go with the layers, e.g. layers={'relu3_3': 1.0}"
            if isinstance(weights, (list, tuple, dict))
            else ""
        )
        raise TypeError(
            "weights must be 'imagenet', 'imagenet_features', 'random', a torchvision weights enum, "
            f"a path or a VGGWeights, got {type(weights).__name__}{hint}"
        )
    key = weights.strip()
    if key == "random":
        return _random_weights(arch, seed)
    if key == "random_normalized":
        return _random_weights(arch, seed, normalized=True)
    if key.lower() in _IMAGENET_NAMES:
        return _load_torchvision(_torchvision_enum(arch).IMAGENET1K_V1, arch)
    if key.lower() in _IMAGENET_FEATURES_NAMES:
        if arch != "vgg16":
            raise ValueError("torchvision has IMAGENET1K_FEATURES weights for vgg16 only; use 'imagenet' for vgg19")
        return _load_torchvision(_torchvision_enum(arch).IMAGENET1K_FEATURES, arch)
    if "_Weights." in key:
        from torchvision.models import get_weight

        try:
            return _load_torchvision(get_weight(key), arch)
        except (ValueError, KeyError, AttributeError) as err:
            raise ValueError(f"unknown torchvision weights {key!r}: {err}") from None
    path = Path(key).expanduser()
    if path.suffix or path.exists() or os.sep in key:
        return _load_file(path, arch)
    raise ValueError(
        f"weights={weights!r} is neither a known name ('imagenet', 'imagenet_features', 'random', "
        "'VGG16_Weights.IMAGENET1K_V1', ...) nor a file path"
    )


def _names_pretrained(weights: WeightsSource) -> bool:
    """Whether ``weights`` names torchvision's published weights (a name or an enum), as opposed to a file."""
    from torchvision.models import WeightsEnum

    if isinstance(weights, WeightsEnum):
        return True
    if not isinstance(weights, str):
        return False
    key = weights.strip()
    return key.lower() in _IMAGENET_NAMES + _IMAGENET_FEATURES_NAMES or "_Weights." in key


def _describe(weights: WeightsSource) -> str:
    from torchvision.models import WeightsEnum

    return f"{type(weights).__name__}.{weights.name}" if isinstance(weights, WeightsEnum) else repr(weights)


def _torchvision_enum(arch: str):
    from torchvision.models import VGG16_Weights, VGG19_Weights

    return {"vgg16": VGG16_Weights, "vgg19": VGG19_Weights}[arch]


def _torchvision_normalization(enum) -> InputNormalization:
    if enum.name == "IMAGENET1K_FEATURES":
        # torchvision: mean (0.48235, 0.45882, 0.40784), std 1/255 on [0, 1] RGB == 0-255 RGB minus mean*255.
        transform = enum.transforms()
        red, green, blue = (float(m) * 255.0 for m in transform.mean)
        return InputNormalization(
            name="caffe_rgb", channel_order="RGB", pixel_scale=255.0, mean=(red, green, blue), std=(1.0, 1.0, 1.0)
        )
    return IMAGENET


def _hub_checkpoint_path(url: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def load_torchvision_file(enum: Any) -> tuple[Mapping[str, Any], Provenance, str]:
    """The state dict of torchvision's published weights ``enum`` (any torchvision model's), its provenance and its
    source: read from the torch hub cache, or downloaded into it with torchvision's hash check.

    A cached file is ``"pretrained"`` only when its SHA-256 starts with the hex digits its name carries (the check
    torchvision's download makes), checked once per file (cached by path, size and modification time). Any other
    file under that name is ``"file"`` (its source is its path), with a one-line warning: the name alone proves
    nothing. Unavailable weights raise :class:`WeightsUnavailableError` naming the file, the folder and the
    ``weights=<path>`` alternative."""
    label = f"{type(enum).__name__}.{enum.name}"
    cached = _hub_checkpoint_path(enum.url)
    if cached.is_file():
        state = torch.load(cached, map_location="cpu", weights_only=True)
        if _hash_matches_name(cached):
            return state, "pretrained", f"torchvision {label}"
        warnings.warn(
            f"{cached}: its SHA-256 does not start with the digits in its name, so it is not torchvision's {label} "
            "file; its weights are used as 'from file' (provenance unknown), not as pretrained",
            UserWarning,
            stacklevel=4,
        )
        return state, "file", f"{cached} (named as torchvision's {label}; its hash is not)"
    try:
        state = torch.hub.load_state_dict_from_url(enum.url, progress=True, check_hash=True, map_location="cpu")
    except Exception as err:  # URLError, HTTPError, socket errors, hash mismatch: all mean "not available"
        raise WeightsUnavailableError(
            f"pretrained {label} weights are not in the torch hub cache and could not be downloaded "
            f"({type(err).__name__}: {err}).\n"
            f"  expected file: {cached}\n"
            f"  cache folder:  {cached.parent} (set TORCH_HOME to use another; it is {torch.hub.get_dir()!r} now)\n"
            f"  fix: copy {os.path.basename(enum.url)} (from {enum.url}) into that folder, or pass "
            "weights=<path to a weights file>. weights='random' exists for tests only."
        ) from err
    return state, "pretrained", f"torchvision {label}"  # check_hash=True: torchvision's own file


def _load_torchvision(enum, arch: str) -> VGGWeights:
    enum_arch = type(enum).__name__.split("_")[0].lower()
    if enum_arch != arch:
        raise ValueError(f"{type(enum).__name__}.{enum.name} are {enum_arch} weights, but arch={arch!r} was asked for")
    state, provenance, source = load_torchvision_file(enum)
    features, classifier = _split_torchvision_state(state, arch, source=source)
    if enum.name == "IMAGENET1K_FEATURES":
        classifier = None  # torchvision: "missing values in the classifier module"
    return VGGWeights(
        arch=arch,
        features=features,
        normalization=_torchvision_normalization(enum),
        source=source,
        classifier=classifier,
        categories=tuple(enum.meta.get("categories") or ()) or None,
        provenance=provenance,
    )


def _known_torchvision_file(path: Path, enum_types: tuple[Any, ...] | None = None):
    """The torchvision weights enum whose download has this file name (``vgg16-397923af.pth``), if any."""
    if enum_types is None:
        from torchvision.models import VGG16_Weights, VGG19_Weights

        enum_types = (VGG16_Weights, VGG19_Weights)
    for enum_type in enum_types:
        for enum in enum_type:
            if os.path.basename(enum.url) == path.name:
                return enum
    return None


def file_provenance(path: Path, enum_types: tuple[Any, ...]) -> tuple[Provenance, Any]:
    """``("pretrained", enum)`` when ``path`` carries the file name of one of ``enum_types``' downloads and its
    SHA-256 starts with the digits in that name (torchvision's file under its own name), else ``("file", enum or
    None)``: a file that does not say where its weights come from is never called pretrained."""
    known = _known_torchvision_file(path, enum_types)
    return ("pretrained" if known is not None and _hash_matches_name(path) else "file"), known


def _hash_matches_name(path: Path) -> bool:
    """Whether the file's SHA-256 starts with the hex digits its name carries (``vgg16-397923af.pth``), the check
    torchvision's download makes (``check_hash``): a torchvision file under its own name, not a renamed one. Hashed
    once per file: the answer is kept by resolved path, size and modification time."""
    stat = path.stat()
    return _hash_matches_name_cached(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _hash_matches_name_cached(path: str, size: int, mtime_ns: int) -> bool:
    match = re.search(r"-([a-f0-9]+)\.", Path(path).name)
    if match is None:
        return False
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest().startswith(match.group(1))


def _load_file(path: Path, arch: str) -> VGGWeights:
    require_file(path)
    suffix = path.suffix.lower()
    if suffix in _FILE_LOADERS:
        return _FILE_LOADERS[suffix](path, arch)
    known = sorted(_FILE_LOADERS)
    raise ValueError(f"cannot read weights file {str(path)!r}: suffix {suffix!r} is not one of {known}")


def _load_torch_file(path: Path, arch: str) -> VGGWeights:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"cannot read {str(path)!r} as a torch state dict ({type(err).__name__}: {err})") from err
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise ValueError(f"{str(path)!r} holds a {type(state).__name__}, expected a state dict (a mapping of tensors)")
    if weights_formats.is_gatys_state(state):  # Gatys' vgg_conv.pth: conv1_1.weight, ...
        return weights_formats.convert_gatys_state(state, arch=arch, source=str(path))
    try:
        features, classifier = _split_torchvision_state(state, arch, source=str(path))
    except ValueError as err:
        raise ValueError(f"{err}{weights_formats.gatys_layout_hint(state)}") from None
    from torchvision.models import VGG16_Weights, VGG19_Weights

    provenance, known = file_provenance(path, (VGG16_Weights, VGG19_Weights))
    normalization = _torchvision_normalization(known) if known is not None else IMAGENET
    return VGGWeights(
        arch=arch,
        features=features,
        normalization=normalization,
        source=str(path),
        classifier=classifier,
        provenance=provenance,
    )


def _load_safetensors_file(path: Path, arch: str) -> VGGWeights:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            state = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as err:
        raise ValueError(f"cannot read {str(path)!r} as safetensors ({type(err).__name__}: {err})") from err
    stored_arch = metadata.get("perceptual.arch")
    if stored_arch is not None and stored_arch != arch:
        raise ValueError(f"{str(path)!r} holds {stored_arch} weights, but arch={arch!r} was asked for")
    features, classifier = _split_torchvision_state(state, arch, source=str(path))
    normalization = (
        InputNormalization.from_json(metadata["perceptual.normalization"])
        if "perceptual.normalization" in metadata
        else IMAGENET
    )
    categories = metadata.get("perceptual.categories")
    source = metadata.get("perceptual.source", str(path))
    provenance = _PROVENANCES.get(metadata.get("perceptual.provenance", ""))
    if provenance is None:  # files written before the provenance key
        provenance = "random" if metadata.get("perceptual.pretrained") == "false" else "file"
    if provenance == "random":
        warnings.warn(
            f"perceptual: {str(path)!r} holds RANDOM {arch} weights (converted from {source!r}). Features of an "
            "untrained VGG are not a perceptual metric. Use this for tests only.",
            RandomWeightsWarning,
            stacklevel=4,
        )
    return VGGWeights(
        arch=arch,
        features=features,
        normalization=normalization,
        source=f"{path} (random: {source})" if provenance == "random" else source,
        classifier=classifier,
        categories=tuple(categories.split("\n")) if categories else None,
        provenance=provenance,
    )


_FILE_LOADERS: dict[str, Callable[[Path, str], VGGWeights]] = {
    ".pth": _load_torch_file,
    ".pt": _load_torch_file,
    ".bin": _load_torch_file,
    ".safetensors": _load_safetensors_file,
    ".npy": weights_formats.load_npy_file,
    ".h5": weights_formats.load_h5_file,
    ".hdf5": weights_formats.load_h5_file,
}


def _split_torchvision_state(
    state: Mapping[str, Any], arch: str, *, source: str
) -> tuple[dict[str, Tensor], dict[str, Tensor] | None]:
    """Split a torchvision VGG (or ``features``-only) state dict; check keys and shapes against ``arch``."""
    state = {key.removeprefix("module."): value for key, value in state.items()}
    if any(key.startswith("features.") for key in state):
        features = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
        classifier = {k[len("classifier.") :]: v for k, v in state.items() if k.startswith("classifier.")} or None
        ignored = sorted(k for k in state if not k.startswith(("features.", "classifier.")))
    else:
        features, classifier = dict(state), None
        ignored = []
    check_feature_state(features, arch, source=source, extra_unexpected=ignored)
    if classifier is not None:
        bad = _classifier_problems(classifier)
        if bad:
            warnings.warn(f"{source}: the classifier is ignored: {bad}", stacklevel=4)
            classifier = None
    return features, classifier


def _classifier_problems(classifier: Mapping[str, Any]) -> str:
    """'' if ``classifier`` is a torchvision VGG head (Linear 25088->h1, h1->h2, h2->classes; any widths)."""
    keys = ("0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias")
    missing = [k for k in keys if k not in classifier or not isinstance(classifier[k], Tensor)]
    if missing:
        return f"missing keys {missing}"
    shapes = {k: tuple(classifier[k].shape) for k in keys}
    widths_in = 512 * 7 * 7
    for index in ("0", "3", "6"):
        weight, bias = shapes[f"{index}.weight"], shapes[f"{index}.bias"]
        if len(weight) != 2 or weight[1] != widths_in or bias != weight[:1]:
            return f"{index}.weight {weight} / {index}.bias {bias} do not take {widths_in} inputs"
        widths_in = weight[0]
    return ""


def _random_weights(arch: str, seed: int, *, normalized: bool = False) -> VGGWeights:
    kind = "normalized random" if normalized else "RANDOM"
    warnings.warn(
        f"perceptual: using {kind} {arch} weights (seed {seed}). Features of an untrained VGG are not a perceptual "
        "metric; losses and feature maps will differ from those of pretrained weights. Use this for tests only.",
        RandomWeightsWarning,
        stacklevel=4,
    )
    if normalized:
        features = {key: value.clone() for key, value in _normalized_random_features(arch, seed).items()}
        source = f"random_normalized (seed {seed}; Gatys-normalized: mean activation 1 per channel)"
    else:
        features = _kaiming_features(arch, seed)
        source = f"random (seed {seed})"
    return VGGWeights(arch=arch, features=features, normalization=IMAGENET, source=source, provenance="random")


def _kaiming_features(arch: str, seed: int) -> dict[str, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    features: dict[str, Tensor] = {}
    for key, shape in expected_feature_shapes(arch).items():
        tensor = torch.empty(shape)
        if key.endswith("weight"):
            # torchvision's VGG initialisation.
            torch.nn.init.kaiming_normal_(tensor, mode="fan_out", nonlinearity="relu", generator=generator)
        else:
            tensor.zero_()
        features[key] = tensor
    return features


def pink_noise_images(count: int, size: int, *, seed: int = 0) -> Tensor:
    """``(count, 3, size, size)`` images in [0, 1] with a natural-image ``1/f`` amplitude spectrum: correlated
    luminance noise plus weaker colour noise, each image stretched to [0, 1]. Deterministic for a seed."""
    generator = torch.Generator().manual_seed(seed)
    fy = torch.fft.fftfreq(size).view(-1, 1)
    fx = torch.fft.rfftfreq(size).view(1, -1)
    amplitude = 1.0 / torch.sqrt(fx**2 + fy**2).clamp_min(1.0 / size)
    white = torch.randn(count, 4, size, size, generator=generator)
    noise = torch.fft.irfft2(torch.fft.rfft2(white) * amplitude, s=(size, size))
    images = noise[:, :1] + 0.3 * noise[:, 1:]  # shared luminance, weaker per-channel colour
    low = images.amin(dim=(1, 2, 3), keepdim=True)
    high = images.amax(dim=(1, 2, 3), keepdim=True)
    return (images - low) / (high - low)


@functools.lru_cache(maxsize=4)
def _normalized_random_features(arch: str, seed: int) -> dict[str, Tensor]:
    """Kaiming weights rescaled layer by layer so that each ReLU channel's mean activation on
    :func:`pink_noise_images` (ImageNet-normalized) is 1, as Gatys et al. normalized VGG19. Biases are zero and ReLU
    is positively homogeneous, so scaling a channel's filter scales its activation exactly. Cached: read-only."""
    features = _kaiming_features(arch, seed)
    mean = torch.tensor(IMAGENET.mean).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET.std).view(1, 3, 1, 1)
    h = (pink_noise_images(8, 96, seed=seed) - mean) / std
    with torch.no_grad():
        for conv in vgg_convs(arch):
            weight = features[f"{conv.index}.weight"]
            activation = torch.relu(torch.nn.functional.conv2d(h, weight, padding=1))
            channel_mean = activation.mean(dim=(0, 2, 3))
            scale = torch.where(channel_mean > 0, 1.0 / channel_mean.clamp_min(1e-12), torch.ones_like(channel_mean))
            features[f"{conv.index}.weight"] = weight * scale.view(-1, 1, 1, 1)
            h = activation * scale.view(1, -1, 1, 1)
            if conv.pool_after:
                h = torch.nn.functional.max_pool2d(h, 2)
    return features


PROVENANCE_LABELS = {"pretrained": "pretrained", "random": "random", "file": "from file"}
"""How a run states each :data:`~perceptual.vgg_state.Provenance`: a file of unknown origin is "from file"."""


def vgg_provenance(extractor: torch.nn.Module) -> dict[str, str]:
    """What a :class:`~perceptual.VGGFeatures` actually holds, for a run's records: ``arch``, ``weights`` (its
    source), ``provenance`` (``"pretrained"``, ``"random"`` or ``"from file"``: a file that does not say where its
    weights come from is never called pretrained) and ``sha256`` (the first 16 hex digits of the SHA-256 of its
    parameters and buffers, in name order), so a run says which VGG it used whatever was asked for."""
    digest = hashlib.sha256()
    # Parameters and buffers, not state_dict(): the frozen VGG keeps itself out of state dicts (and checkpoints).
    for name, tensor in sorted([*extractor.named_parameters(), *extractor.named_buffers()], key=lambda item: item[0]):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return {
        "arch": str(extractor.arch),
        "weights": str(extractor.weights_source),
        "provenance": PROVENANCE_LABELS[str(extractor.provenance)],
        "sha256": digest.hexdigest()[:16],
    }


def describe_provenance(record: dict[str, str]) -> str:
    """One line of a :func:`vgg_provenance` record: ``vgg16 /path/x.pth, from file (provenance unknown), sha256 ...``
    (random weights are said to be no perceptual metric)."""
    kind = {"random": "RANDOM (not a perceptual metric)", "from file": "from file (provenance unknown)"}
    return (
        f"{record['arch']} {record['weights']}, {kind.get(record['provenance'], record['provenance'])}, "
        f"sha256 {record['sha256']}"
    )
