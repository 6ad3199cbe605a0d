"""VGG weights as TensorFlow and Keras users hold them: ``vgg16.npy`` dicts and Keras ``.h5`` files.

Formats (``weights=<path>`` reads them directly, by suffix):

- ``.npy``: the pickled dict of the TensorFlow VGG ports (machrisaa/tensorflow-vgg ``vgg16.npy``/``vgg19.npy``,
  used by BeautyGAN-era TF code): ``{"conv1_1": [W (3, 3, in, out), b (out,)], ..., "conv5_3" (or "conv5_4"),
  optionally "fc6", "fc7", "fc8": [W (in, out), b]}``; caffe-tensorflow's ``{"conv1_1": {"weights": W,
  "biases": b}}`` layout is read too. The file is a pickle (Python 2's ``np.save`` of a dict); it is read with
  :class:`~perceptual.safe_pickle.ArrayUnpickler`, which rebuilds arrays, dtypes, dicts, lists, strings and
  numbers and refuses anything else in one line, so a file with code hidden in it runs nothing. Convert it once
  with ``perceptual convert-weights`` (safetensors loads faster and holds tensors only).
- ``.h5``/``.hdf5``: Keras ``VGG16``/``VGG19`` weights (``vgg16_weights_tf_dim_ordering_tf_kernels(_notop).h5``):
  layer groups ``block1_conv1`` ... ``block5_conv3``/``block5_conv4`` holding a kernel and a bias dataset,
  optionally ``fc1``, ``fc2``, ``predictions``. The groups sit at the file root (``save_weights``, the Keras
  applications files), under ``model_weights/`` (``model.save``) or under ``layers/`` (Keras 3 ``.weights.h5``).
  Needs h5py: ``pip install 'perceptual[h5]'``.
- ``.pth`` in the layout of Gatys et al.'s normalized VGG19 ``vgg_conv.pth`` (leongatys/PytorchNeuralStyleTransfer,
  loaded by the official BeautyGAN code into its ``net.VGG``): a plain state dict ``{"conv1_1.weight" (64, 3, 3, 3),
  "conv1_1.bias" (64,), ..., "conv5_4.weight", "conv5_4.bias"}`` (``conv5_3`` last for VGG16), PyTorch OIHW kernels
  whose input channels are in Caffe's BGR order. ``weights=<path>.pth`` recognises the ``conv1_1.weight`` keys and
  reads it with :func:`convert_gatys_state`; the weights expect :data:`~perceptual.CAFFE` input, as in Gatys' code
  (RGB -> BGR, 0-255, mean ``[103.939, 116.779, 123.68]`` subtracted, no std).

Both are converted to torchvision's layout: conv kernels HWIO -> OIHW, dense kernels ``(in, out)`` -> ``(out, in)``,
and the first dense layer's input rows permuted from TF's NHWC flatten of ``pool5`` ``(7, 7, 512)`` to torch's
NCHW flatten. The weights keep the preprocessing they were trained with, :data:`~perceptual.CAFFE` (BGR, 0-255,
mean ``[103.939, 116.779, 123.68]`` subtracted); the stored conv1_1 keeps BGR input order and
:class:`~perceptual.VGGFeatures` flips it, so callers always pass RGB.

Two conventions of the TF code are *not* properties of the weights: its ``conv1_1`` is the output *after* the
ReLU (``relu1_1`` here; ``conv1_1`` here is pre-ReLU), and its pools use ``padding='SAME'`` (361 -> 181, where
torchvision and Keras floor to 180): pass ``pool_padding="same"`` to reproduce its feature-map sizes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Container, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from perceptual.layers import check_arch, vgg_convs
from perceptual.normalization import CAFFE
from perceptual.safe_pickle import RefusedPickleError, load_npy
from perceptual.vgg_state import (
    VGGWeights,
    check_feature_state,
    check_state_dict,
    expected_feature_shapes,
    require_file,
)

__all__ = ["MissingDependencyError", "load_gatys_weights", "load_keras_h5_weights", "load_npy_weights"]


class MissingDependencyError(ImportError, RuntimeError):
    """An optional dependency needed for a file format is not installed (the message says how to install it)."""


_NPY_DENSE = ("fc6", "fc7", "fc8")
_KERAS_DENSE = ("fc1", "fc2", "predictions")
_POOL5 = (512, 7, 7)  # (C, H, W) of pool5 at 224x224, the input of the first dense layer


def tf_conv_names(arch: str, *, style: str = "tf") -> tuple[str, ...]:
    """Conv layer names of ``arch`` in network order: ``("conv1_1", ...)`` (``style="tf"``, the ``vgg16.npy``
    keys) or ``("block1_conv1", ...)`` (``style="keras"``)."""
    if style not in ("tf", "keras"):
        raise ValueError(f"style must be 'tf' or 'keras', got {style!r}")
    pattern = "conv{0.block}_{0.number}" if style == "tf" else "block{0.block}_conv{0.number}"
    return tuple(pattern.format(conv) for conv in vgg_convs(arch))


def imagenet_categories() -> tuple[str, ...]:
    """The 1000 ImageNet class names in the order of every VGG classifier (torchvision's metadata; no download)."""
    from torchvision.models import VGG16_Weights

    return tuple(VGG16_Weights.IMAGENET1K_V1.meta["categories"])


# --------------------------------------------------------------------------------------------------
# Conversion shared by both formats
# --------------------------------------------------------------------------------------------------


def _detect_arch(present: set[str], style: str, source: str, requested: str | None) -> str:
    """The arch whose conv layers the file holds; errors name the missing layers or the arch to pass."""
    if requested is not None:
        check_arch(requested)
    complete = [arch for arch in ("vgg16", "vgg19") if set(tf_conv_names(arch, style=style)) <= present]
    # A VGG19 file also holds every VGG16 layer name; the extra conv*_4 layers decide.
    detected = "vgg19" if "vgg19" in complete else ("vgg16" if complete else None)
    if detected is None:
        target = requested or "vgg16"
        expected = tf_conv_names(target, style=style)
        missing = [name for name in expected if name not in present]
        found = sorted(name for name in present if name in set(tf_conv_names("vgg19", style=style)))
        raise ValueError(
            f"{source} is not a complete {target} ({len(expected)} conv layers {expected[0]} ... {expected[-1]}): "
            f"missing {', '.join(missing)}; conv layers found: {', '.join(found) if found else 'none'}"
        )
    if requested is not None and requested != detected:
        extra = [n for n in tf_conv_names("vgg19", style=style) if n not in tf_conv_names("vgg16", style=style)]
        raise ValueError(
            f"{source} holds {detected} weights ({len(tf_conv_names(detected, style=style))} conv layers"
            + (f", including {', '.join(extra)}" if detected == "vgg19" else f", no {extra[0]}")
            + f"), but arch={requested!r} was asked for; pass arch={detected!r}"
        )
    return detected


def _as_float_array(value: Any, where: str) -> np.ndarray:
    try:
        array = np.asarray(value)
    except Exception as err:  # a ragged or odd object
        raise ValueError(f"{where} is not an array ({type(err).__name__}: {err})") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{where} must be a numeric array, got dtype {array.dtype}")
    return array.astype(np.float32, copy=False)


def _convert_convs(
    layers: Mapping[str, tuple[np.ndarray, np.ndarray]], arch: str, style: str, source: str
) -> dict[str, Tensor]:
    """HWIO kernels of the named conv layers -> torchvision ``features`` state dict (OIHW)."""
    names = tf_conv_names(arch, style=style)
    expected: dict[str, tuple[int, ...]] = {}
    found: dict[str, Tensor] = {}
    for name, conv in zip(names, vgg_convs(arch)):
        expected[f"{name} kernel"] = (3, 3, conv.in_channels, conv.out_channels)
        expected[f"{name} bias"] = (conv.out_channels,)
        kernel, bias = layers[name]
        found[f"{name} kernel"], found[f"{name} bias"] = torch.from_numpy(kernel), torch.from_numpy(bias)
    check_state_dict(
        found,
        expected,
        source=source,
        layout=f"a complete {arch} in TensorFlow/Keras layout ({names[0]} ... {names[-1]}, each a kernel (3, 3, in, out) "
        "and a bias (out,))",
    )
    features: dict[str, Tensor] = {}
    for name, conv in zip(names, vgg_convs(arch)):
        kernel, bias = layers[name]
        features[f"{conv.index}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
        features[f"{conv.index}.bias"] = torch.from_numpy(np.ascontiguousarray(bias))
    return features


def convert_tf_dense(
    dense: Sequence[tuple[str, np.ndarray, np.ndarray]], *, source: str = "weights"
) -> dict[str, Tensor]:
    """Three TF/Keras dense layers ``(name, kernel (in, out), bias (out,))`` -> torchvision ``classifier`` keys.

    TF flattens ``pool5`` as NHWC ``(7, 7, 512)``; torchvision flattens NCHW ``(512, 7, 7)``. The first kernel's
    rows are reordered so that ``torch_weight[o, c*49 + h*7 + w] == tf_kernel[(h*7 + w)*512 + c, o]``.
    Hidden widths may be anything (4096 in the real networks), as long as consecutive layers agree.
    """
    if len(dense) != 3:
        raise ValueError(f"{source}: a VGG classifier has 3 dense layers, got {len(dense)}")
    channels, height, width = _POOL5
    classifier: dict[str, Tensor] = {}
    in_features = channels * height * width
    for position, (name, kernel, bias) in enumerate(dense):
        if kernel.ndim != 2 or kernel.shape[0] != in_features:
            raise ValueError(
                f"{source}: layer {name} has kernel shape {tuple(kernel.shape)}, expected ({in_features}, N)"
                + (" (pool5 flattened: 7 * 7 * 512 at a 224x224 input)" if position == 0 else "")
            )
        if bias.shape != (kernel.shape[1],):
            raise ValueError(
                f"{source}: layer {name} has bias shape {tuple(bias.shape)}, expected {(kernel.shape[1],)}"
            )
        if position == 0:
            out = kernel.shape[1]
            # rows (h, w, c) -> (c, h, w), then (in, out) -> (out, in)
            weight = kernel.reshape(height, width, channels, out).transpose(3, 2, 0, 1).reshape(out, in_features)
        else:
            weight = kernel.T
        classifier[f"{3 * position}.weight"] = torch.from_numpy(np.ascontiguousarray(weight))
        classifier[f"{3 * position}.bias"] = torch.from_numpy(np.ascontiguousarray(bias))
        in_features = kernel.shape[1]
    return classifier


def _build(
    convs: Mapping[str, tuple[np.ndarray, np.ndarray]],
    dense: Sequence[tuple[str, np.ndarray, np.ndarray]] | None,
    *,
    arch: str,
    style: str,
    source: str,
    label: str,
) -> VGGWeights:
    features = _convert_convs(convs, arch, style, source)
    classifier = convert_tf_dense(dense, source=source) if dense else None
    categories = None
    if classifier is not None and classifier["6.bias"].shape[0] == 1000:
        categories = imagenet_categories()
    return VGGWeights(
        arch=arch,
        features=features,
        normalization=CAFFE,
        source=f"{label} {source}",
        classifier=classifier,
        categories=categories,
    )


def _dense_layers(
    present: Container[str], names: tuple[str, ...], source: str, read: Any
) -> list[tuple[str, np.ndarray, np.ndarray]] | None:
    found = [name for name in names if name in present]
    if not found:
        return None
    if len(found) != len(names):
        missing = [name for name in names if name not in present]
        raise ValueError(
            f"{source} has dense layers {', '.join(found)} but not {', '.join(missing)}: a VGG classifier needs all of "
            f"{', '.join(names)} (or none, for features only)"
        )
    return [(name, *read(name)) for name in names]


# --------------------------------------------------------------------------------------------------
# TensorFlow vgg16.npy
# --------------------------------------------------------------------------------------------------


def load_npy_weights(path: str | os.PathLike, *, arch: str | None = None) -> VGGWeights:
    """Read a TF ``vgg16.npy``/``vgg19.npy`` dict (see the module docstring) into torchvision layout.

    ``arch=None`` detects VGG16/VGG19 from the conv layers present; a given ``arch`` that the file is not raises
    ``ValueError`` saying which arch it is. The pickle is read by :func:`perceptual.safe_pickle.load_npy`: a file
    that asks for anything but arrays, dtypes, containers, strings and numbers raises
    :class:`~perceptual.safe_pickle.RefusedPickleError` (a ``ValueError``) naming what it asked for, and nothing in
    it is run.
    """
    path = Path(path)
    source = str(path)
    require_file(path)
    try:
        # Pickled by Python 2 (the original vgg16.npy): load_npy decodes its byte strings as latin1.
        data = load_npy(path)
    except RefusedPickleError:
        raise
    except Exception as err:  # UnpicklingError, EOFError, ValueError, OSError: truncated or not a .npy at all
        raise ValueError(
            f"{source}: cannot read as a pickled .npy dict of VGG weights - truncated or corrupt? "
            f"({type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''})"
        ) from None
    if not isinstance(data, Mapping):
        what = (
            f"an array of shape {data.shape}, dtype {data.dtype}"
            if isinstance(data, np.ndarray)
            else type(data).__name__
        )
        raise ValueError(
            f"{source} holds {what}, expected a dict {{'conv1_1': [kernel (3, 3, 3, 64), bias (64,)], ...}} "
            "as saved by np.save(path, weights_dict)"
        )

    def read(name: str) -> tuple[np.ndarray, np.ndarray]:
        entry = data[name]
        if isinstance(entry, Mapping):
            if "weights" not in entry or "biases" not in entry:
                raise ValueError(f"{source}: layer {name} has keys {sorted(entry)}, expected 'weights' and 'biases'")
            pair = (entry["weights"], entry["biases"])
        elif isinstance(entry, (list, tuple)) and len(entry) == 2:
            pair = (entry[0], entry[1])
        else:
            raise ValueError(
                f"{source}: layer {name} holds {type(entry).__name__}"
                + (f" of length {len(entry)}" if isinstance(entry, (list, tuple)) else "")
                + ", expected [kernel, bias]"
            )
        return _as_float_array(pair[0], f"{source}: {name} kernel"), _as_float_array(pair[1], f"{source}: {name} bias")

    present = {str(key) for key in data}
    detected = _detect_arch(present, "tf", source, arch)
    convs = {name: read(name) for name in tf_conv_names(detected, style="tf")}
    dense = _dense_layers(data, _NPY_DENSE, source, read)
    return _build(convs, dense, arch=detected, style="tf", source=source, label="TF npy")


# --------------------------------------------------------------------------------------------------
# Keras .h5
# --------------------------------------------------------------------------------------------------


def _import_h5py(source: str) -> Any:
    try:
        import h5py
    except ImportError as err:
        raise MissingDependencyError(
            f"reading Keras .h5 weights ({source}) needs h5py, which is not installed: "
            "pip install 'perceptual[h5]' (or pip install h5py)"
        ) from err
    return h5py


def load_keras_h5_weights(path: str | os.PathLike, *, arch: str | None = None) -> VGGWeights:
    """Read Keras VGG16/VGG19 weights (``.h5``; include-top or ``_notop``) into torchvision layout.

    ``arch=None`` detects VGG16/VGG19 from the ``block*_conv*`` groups present.
    """
    path = Path(path)
    source = str(path)
    require_file(path)
    h5py = _import_h5py(source)
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{source}: cannot open as HDF5 - truncated or corrupt? ({err})") from None
    with handle:
        root = handle
        for container in ("model_weights", "layers"):  # model.save / Keras 3 .weights.h5
            if container in handle and isinstance(handle[container], h5py.Group):
                root = handle[container]
                break
        present = {name for name in root.keys() if isinstance(root[name], h5py.Group)}

        def read(name: str) -> tuple[np.ndarray, np.ndarray]:
            group = root[name]
            names = group.attrs.get("weight_names")
            datasets: list[tuple[str, Any]] = []
            if names is not None and len(names) > 0:
                for entry in names:
                    key = entry.decode("utf8") if isinstance(entry, bytes) else str(entry)
                    if key not in group:
                        raise ValueError(f"{source}: layer {name} lists weight {key!r}, which is not in the file")
                    datasets.append((key, group[key]))
            else:
                group.visititems(
                    lambda key, obj: datasets.append((key, obj)) if isinstance(obj, h5py.Dataset) else None
                )
            try:
                arrays = [(key, _as_float_array(dataset[()], f"{source}: {name}/{key}")) for key, dataset in datasets]
            except OSError as err:
                raise ValueError(f"{source}: cannot read layer {name} - truncated or corrupt? ({err})") from None
            kernels = [array for _, array in arrays if array.ndim >= 2]
            biases = [array for _, array in arrays if array.ndim == 1]
            if len(kernels) != 1 or len(biases) != 1:
                found = ", ".join(f"{key} {tuple(array.shape)}" for key, array in arrays) or "no datasets"
                raise ValueError(f"{source}: layer {name} should hold one kernel and one bias, found {found}")
            return kernels[0], biases[0]

        try:
            detected = _detect_arch(present, "keras", source, arch)
            convs = {name: read(name) for name in tf_conv_names(detected, style="keras")}
            dense = (
                _dense_layers(present, _KERAS_DENSE, source, read) if {"fc1", "fc2", "predictions"} & present else None
            )
        except (KeyError, RuntimeError) as err:  # h5py's errors for damaged objects
            raise ValueError(f"{source}: cannot read - truncated or corrupt? ({type(err).__name__}: {err})") from None
    return _build(convs, dense, arch=detected, style="keras", source=source, label="Keras h5")


# --------------------------------------------------------------------------------------------------
# Gatys et al.'s vgg_conv.pth (PyTorch state dict keyed conv1_1.weight ... conv5_4.bias)
# --------------------------------------------------------------------------------------------------

_GATYS_WEIGHT_KEY = re.compile(r"conv\d_\d\.weight")
_GATYS_KEY = re.compile(r"(conv\d_\d)\.(weight|bias)")
_GATYS_LABEL = "Gatys vgg_conv layout"


def _strip_module(key: Any) -> Any:
    return key.removeprefix("module.") if isinstance(key, str) else key


def is_gatys_state(state: Mapping[Any, Any]) -> bool:
    """Whether ``state`` is keyed like Gatys' ``vgg_conv.pth`` (any key ``conv<block>_<i>.weight``)."""
    return any(isinstance(key, str) and _GATYS_WEIGHT_KEY.fullmatch(_strip_module(key)) for key in state)


def gatys_layout_keys(arch: str) -> tuple[str, ...]:
    """The keys of a Gatys-layout state dict of ``arch``: ``("conv1_1.weight", "conv1_1.bias", ...)``."""
    return tuple(f"{name}.{part}" for name in tf_conv_names(arch, style="tf") for part in ("weight", "bias"))


def gatys_layout_hint(state: Mapping[Any, Any]) -> str:
    """A sentence for the error about a ``.pth`` that is not a torchvision VGG: the other layout ``.pth`` may have.
    Empty when ``state`` is keyed like torchvision (``features.N.*``/``N.*``), whose own error then says it all."""
    if any(isinstance(key, str) and re.match(r"(features\.)?\d+\.", _strip_module(key)) for key in state):
        return ""
    found = ", ".join(str(key) for key in list(state)[:6]) + (f" and {len(state) - 6} more" if len(state) > 6 else "")
    return (
        f" Nor is it in Gatys' vgg_conv.pth layout (keys conv1_1.weight, conv1_1.bias, conv1_2.weight, ..., "
        f"conv5_3.weight, conv5_3.bias for vgg16; up to conv5_4.bias for vgg19). Keys found: {found or 'none'}."
    )


def convert_gatys_state(state: Mapping[str, Any], *, arch: str | None = None, source: str = "weights") -> VGGWeights:
    """A Gatys-layout state dict (see the module docstring) -> :class:`~perceptual.VGGWeights` in torchvision layout.

    ``arch=None`` detects VGG16/VGG19 from the conv layers present; a given ``arch`` that the state is not raises
    ``ValueError`` saying which arch it is. Missing, unexpected and misshaped keys are named in a ``ValueError``.
    The kernels stay in BGR input order with :data:`~perceptual.CAFFE` normalization, which says so.
    """
    state = {_strip_module(key): value for key, value in state.items()}
    present = set()
    for key in state:
        match = _GATYS_KEY.fullmatch(key) if isinstance(key, str) else None
        if match:
            present.add(match.group(1))
    detected = _detect_arch(present, "tf", f"{source} ({_GATYS_LABEL})", arch)
    torchvision_keys = list(expected_feature_shapes(detected).items())  # ("0.weight", shape), ("0.bias", shape), ...
    gatys_keys = gatys_layout_keys(detected)  # the same order: conv1_1.weight, conv1_1.bias, ...
    check_state_dict(
        state,
        {key: shape for key, (_, shape) in zip(gatys_keys, torchvision_keys)},
        source=source,
        layout=f"a {detected} state dict in Gatys' vgg_conv layout (keys {gatys_keys[0]}, {gatys_keys[1]}, ..., "
        f"{gatys_keys[-1]})",
    )
    features = {index: state[key].detach().to(torch.float32) for key, (index, _) in zip(gatys_keys, torchvision_keys)}
    check_feature_state(features, detected, source=source)  # the conversion's own invariant
    return VGGWeights(arch=detected, features=features, normalization=CAFFE, source=f"{_GATYS_LABEL} {source}")


def load_gatys_weights(path: str | os.PathLike, *, arch: str | None = None) -> VGGWeights:
    """Read Gatys et al.'s normalized VGG19 ``vgg_conv.pth`` (or a VGG16 in its layout); ``arch=None`` detects it.

    ``weights=<path>.pth`` does the same (with the arch asked for); this reader also works for other suffixes.
    """
    path = Path(path)
    source = str(path)
    require_file(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"cannot read {source!r} as a torch state dict ({type(err).__name__}: {err})") from None
    if not isinstance(state, Mapping) or not is_gatys_state(state):
        what = f"keys {', '.join(map(str, list(state)[:6]))}" if isinstance(state, Mapping) else type(state).__name__
        raise ValueError(
            f"{source} holds {what}, expected Gatys' vgg_conv layout: {', '.join(gatys_layout_keys('vgg19')[:3])}, "
            "..., conv5_3.bias (vgg16) or conv5_4.bias (vgg19)"
        )
    return convert_gatys_state(state, arch=arch, source=source)


# ``weights=<path>`` entry points: the core passes the arch asked for (default "vgg16").
def load_npy_file(path: Path, arch: str) -> VGGWeights:
    return load_npy_weights(path, arch=arch)


def load_h5_file(path: Path, arch: str) -> VGGWeights:
    return load_keras_h5_weights(path, arch=arch)
