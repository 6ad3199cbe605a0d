"""An independent numpy VGG in TensorFlow's conventions, and writers of weight files in the exact TF/Keras layouts.

The reference follows TensorFlow 1 VGG16 code built by hand on ``vgg16.npy`` (tensorflow-vgg's style) line by line:
NHWC tensors, HWIO kernels, ``conv2d(padding='SAME')`` + bias + ReLU, 2x2/2 max pooling with ``'SAME'`` (pad the
bottom/right with -inf when odd) or ``'VALID'`` (floor), input ``x_bgr = [b - 103.939, g - 116.779, r - 123.68]`` on
0-255 pixels, and dense layers on the NHWC flatten.
It shares no code with ``perceptual``.
"""

from __future__ import annotations

import numpy as np

VGG_MEAN_BGR = (103.939, 116.779, 123.68)
CONFIGS = {
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}


def conv_layers(arch: str) -> list[tuple[int, int, int, int]]:
    """``(block, index, in_channels, out_channels)`` of each conv layer."""
    out, block, conv, channels = [], 1, 1, 3
    for item in CONFIGS[arch]:
        if item == "M":
            block, conv = block + 1, 1
        else:
            out.append((block, conv, channels, item))
            channels, conv = item, conv + 1
    return out


def random_conv_weights(arch: str, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"conv1_1": (kernel HWIO float32, bias float32)}``, He-scaled so activations stay O(1-100)."""
    rng = np.random.default_rng(seed)
    weights = {}
    for block, conv, cin, cout in conv_layers(arch):
        kernel = rng.standard_normal((3, 3, cin, cout), dtype=np.float32) * np.float32(np.sqrt(2.0 / (9 * cin)))
        bias = rng.standard_normal(cout, dtype=np.float32) * np.float32(0.1)
        weights[f"conv{block}_{conv}"] = (kernel, bias)
    return weights


def random_dense_weights(widths: tuple[int, int, int], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Three dense layers ``(kernel (in, out), bias)`` after a 7x7x512 pool5; reduced hidden widths for tests."""
    rng = np.random.default_rng(seed)
    layers, fan_in = [], 7 * 7 * 512
    for width in widths:
        kernel = rng.standard_normal((fan_in, width), dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
        layers.append((kernel, rng.standard_normal(width, dtype=np.float32) * np.float32(0.1)))
        fan_in = width
    return layers


def _conv_same(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``tf.nn.conv2d(x, kernel, strides=1, padding='SAME') + bias`` for 3x3 kernels, by im2col."""
    n, h, w, c = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    cols = np.concatenate([padded[:, i : i + h, j : j + w, :] for i in range(3) for j in range(3)], axis=3)
    # columns are ordered (i, j, c), the order in which an HWIO kernel reshapes to (9 * in, out)
    return cols.reshape(n * h * w, 9 * c) @ kernel.reshape(9 * c, -1).astype(np.float64) + bias


def _max_pool(x: np.ndarray, padding: str) -> np.ndarray:
    n, h, w, c = x.shape
    if padding == "SAME":  # TF: out = ceil(in / 2); pad_bottom/right = 1 when odd, padded values never win
        x = np.pad(x, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), constant_values=-np.inf)
    else:  # VALID: out = floor(in / 2)
        x = x[:, : h - h % 2, : w - w % 2, :]
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def tf_vgg_features(
    images_rgb01: np.ndarray, convs: dict[str, tuple[np.ndarray, np.ndarray]], arch: str, *, pool_padding: str
) -> dict[str, np.ndarray]:
    """That TensorFlow code's ``build`` in numpy: NHWC outputs named as the TF code names them (``conv1_1`` is
    post-ReLU)."""
    rgb = images_rgb01.astype(np.float64) * 255.0
    r, g, b = rgb[..., 0:1], rgb[..., 1:2], rgb[..., 2:3]
    x = np.concatenate([b - VGG_MEAN_BGR[0], g - VGG_MEAN_BGR[1], r - VGG_MEAN_BGR[2]], axis=3)
    out, block, conv = {}, 1, 1
    for item in CONFIGS[arch]:
        if item == "M":
            x = _max_pool(x, pool_padding)
            out[f"pool{block}"] = x
            block, conv = block + 1, 1
        else:
            kernel, bias = convs[f"conv{block}_{conv}"]
            n, h, w, _ = x.shape
            x = np.maximum(_conv_same(x, kernel, bias).reshape(n, h, w, -1), 0.0)
            out[f"conv{block}_{conv}"] = x
            conv += 1
    return out


def tf_dense(pool5_nhwc: np.ndarray, dense: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """``flatten`` (NHWC order) -> fc -> relu -> fc -> relu -> fc: logits."""
    x = pool5_nhwc.reshape(pool5_nhwc.shape[0], -1).astype(np.float64)
    for position, (kernel, bias) in enumerate(dense):
        x = x @ kernel.astype(np.float64) + bias
        if position < len(dense) - 1:
            x = np.maximum(x, 0.0)
    return x


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def our_name(tf_name: str) -> str:
    """TF code's post-ReLU ``conv3_1`` is ``relu3_1`` in perceptual; pools keep their names."""
    return "relu" + tf_name[4:] if tf_name.startswith("conv") else tf_name


# ------------------------------------------------------------------------------------------ file writers


def write_npy(path, convs, dense=None) -> None:
    """machrisaa/tensorflow-vgg layout: ``np.save`` of ``{"conv1_1": [W, b], ..., "fc6": [W, b], ...}``."""
    data = {name: [kernel, bias] for name, (kernel, bias) in convs.items()}
    for name, layer in zip(("fc6", "fc7", "fc8"), dense or ()):
        data[name] = [layer[0], layer[1]]
    np.save(path, data, allow_pickle=True)


def keras_name(tf_name: str) -> str:
    block, conv = tf_name[4:].split("_")
    return f"block{block}_conv{conv}"


def write_keras_h5(path, convs, dense=None, *, layout: str = "applications") -> None:
    """Keras layouts. ``applications``: root groups with ``weight_names`` attrs naming ``<layer>_W_1:0`` /
    ``<layer>_b_1:0`` (the fchollet ``vgg16_weights_tf_dim_ordering_tf_kernels*.h5`` files); ``model_save``:
    ``model_weights/<layer>/<layer>/kernel:0`` plus an ``optimizer_weights`` decoy; ``keras3``:
    ``layers/<layer>/vars/0`` and ``vars/1``, no attributes."""
    import h5py

    layers = [(keras_name(name), kernel, bias) for name, (kernel, bias) in convs.items()]
    layers += [(name, k, b) for name, (k, b) in zip(("fc1", "fc2", "predictions"), dense or ())]
    with h5py.File(path, "w") as f:
        if layout == "applications":
            names = ["input_1"] + [name for name, _, _ in layers]
            f.attrs["layer_names"] = [n.encode() for n in names]
            f.attrs["backend"] = b"tensorflow"
            f.create_group("input_1").attrs["weight_names"] = np.array([], dtype="S1")
            for name, kernel, bias in layers:
                group = f.create_group(name)
                group.attrs["weight_names"] = [f"{name}_W_1:0".encode(), f"{name}_b_1:0".encode()]
                group.create_dataset(f"{name}_W_1:0", data=kernel)
                group.create_dataset(f"{name}_b_1:0", data=bias)
            for block in range(1, 6):
                f.create_group(f"block{block}_pool").attrs["weight_names"] = np.array([], dtype="S1")
        elif layout == "model_save":
            f.attrs["model_config"] = b"{}"
            root = f.create_group("model_weights")
            for name, kernel, bias in layers:
                group = root.create_group(name)
                group.attrs["weight_names"] = [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()]
                group.create_dataset(f"{name}/kernel:0", data=kernel)
                group.create_dataset(f"{name}/bias:0", data=bias)
            decoy = f.create_group("optimizer_weights").create_group("block1_conv1")
            decoy.create_dataset("kernel", data=np.zeros((1, 2, 3), np.float32))
        elif layout == "keras3":
            root = f.create_group("layers")
            for name, kernel, bias in layers:
                group = root.create_group(name).create_group("vars")
                group.create_dataset("0", data=kernel)
                group.create_dataset("1", data=bias)
        else:
            raise ValueError(layout)
