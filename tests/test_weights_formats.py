"""TF ``vgg16.npy`` and Keras ``.h5`` weights: the converted torch model against an independent numpy/TF reference.

Files are written in the exact layouts with full-size conv shapes and seeded random values (one VGG16 and one
VGG19 set per module). Classifiers use the real 7x7x512 input but reduced hidden widths (16 instead of 4096: the
full-size ones are ~500 MB); the loader accepts any widths, so the NHWC->NCHW row permutation is tested on the real
25088 inputs.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from _tf_vgg_reference import (
    keras_name,
    our_name,
    random_conv_weights,
    random_dense_weights,
    tf_dense,
    tf_vgg_features,
    write_keras_h5,
    write_npy,
)
from safetensors import safe_open

import perceptual
from perceptual.cli import main
from perceptual.weights_formats import MissingDependencyError, load_keras_h5_weights, load_npy_weights

RTOL = 1e-4


@pytest.fixture(scope="module")
def vgg16_convs():
    return random_conv_weights("vgg16", seed=16)


@pytest.fixture(scope="module")
def vgg19_convs():
    return random_conv_weights("vgg19", seed=19)


@pytest.fixture(scope="module")
def dense():
    return random_dense_weights((16, 16, 1000), seed=7)


@pytest.fixture(scope="module")
def files(tmp_path_factory, vgg16_convs, vgg19_convs, dense):
    root = tmp_path_factory.mktemp("tf_weights")
    paths = {
        "npy16": root / "vgg16.npy",
        "npy16_top": root / "vgg16_top.npy",
        "h5_19_notop": root / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "h5_16_saved": root / "vgg16_model.h5",
        "h5_16_keras3": root / "vgg16.weights.h5",
    }
    write_npy(paths["npy16"], vgg16_convs)
    write_npy(paths["npy16_top"], vgg16_convs, dense)
    write_keras_h5(paths["h5_19_notop"], vgg19_convs, layout="applications")
    write_keras_h5(paths["h5_16_saved"], vgg16_convs, dense, layout="model_save")
    write_keras_h5(paths["h5_16_keras3"], vgg16_convs, layout="keras3")
    return paths


def _image(seed: int, height: int, width: int) -> np.ndarray:
    return np.random.default_rng(seed).random((2, height, width, 3))


def _assert_close(ours: torch.Tensor, reference_nhwc: np.ndarray, name: str) -> None:
    expected = reference_nhwc.transpose(0, 3, 1, 2)
    got = ours.detach().double().numpy()
    assert got.shape == expected.shape, f"{name}: shape {got.shape} != reference {expected.shape}"
    scale = np.abs(expected).max()
    assert scale > 0, f"{name}: degenerate reference"
    error = np.abs(got - expected).max() / scale
    assert error < RTOL, f"{name}: max relative error {error:.2e}"


def _compare_all_taps(weights, convs, arch, pool_padding, image, *, keras_names=False):
    tf_out = tf_vgg_features(image, convs, arch, pool_padding=pool_padding.upper())
    names = [our_name(n) for n in tf_out]
    if keras_names:
        names = [keras_name(n) if n.startswith("conv") else f"block{n[4:]}_pool" for n in tf_out]
    vgg = perceptual.VGGFeatures(names, arch=arch, weights=weights, pool_padding=pool_padding, input_range=(0, 1))
    assert vgg.normalization.name == "caffe" and vgg.normalization.channel_order == "BGR"
    with torch.no_grad():
        ours = vgg(torch.from_numpy(image.transpose(0, 3, 1, 2)).float())
    for (tf_name, ref), name in zip(tf_out.items(), names):
        _assert_close(ours[name], ref, f"{tf_name} ({name})")
    return tf_out


# ---------------------------------------------------------------------------------------------- equivalence


def test_npy_same_pooling_matches_tf_reference(files, vgg16_convs):
    # Odd sizes so that SAME (ceil) and VALID (floor) pooling differ at every stage: 37 -> 19 -> 10 -> 5 -> 3 -> 2.
    tf_out = _compare_all_taps(str(files["npy16"]), vgg16_convs, "vgg16", "same", _image(0, 37, 45))
    assert tf_out["pool5"].shape[1:3] == (2, 2)
    assert tf_out["pool3"].shape[1:3] == (5, 6)


def test_npy_valid_pooling_matches_tf_reference(files, vgg16_convs):
    tf_out = _compare_all_taps(files["npy16"], vgg16_convs, "vgg16", "valid", _image(1, 37, 45))
    assert tf_out["pool3"].shape[1:3] == (4, 5)


def test_keras_applications_h5_vgg19_notop_matches_reference(files, vgg19_convs):
    _compare_all_taps(str(files["h5_19_notop"]), vgg19_convs, "vgg19", "valid", _image(2, 32, 32), keras_names=True)


@pytest.mark.parametrize("key", ["h5_16_saved", "h5_16_keras3", "npy16_top"])
def test_other_layouts_convert_kernels_hwio_to_oihw(files, vgg16_convs, key):
    loader = load_npy_weights if key.startswith("npy") else load_keras_h5_weights
    weights = loader(files[key])  # arch detected
    assert weights.arch == "vgg16" and weights.normalization == perceptual.CAFFE
    # torch OIHW weight[o, i, kh, kw] == TF HWIO kernel[kh, kw, i, o], checked element-wise on every conv layer
    torch_indices = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    for torch_index, (name, (kernel, bias)) in zip(torch_indices, vgg16_convs.items()):
        got = weights.features[f"{torch_index}.weight"].numpy()
        o, i = 5 % kernel.shape[3], 2 % kernel.shape[2]
        assert got[o, i, 0, 2] == kernel[0, 2, i, o], name
        np.testing.assert_array_equal(np.einsum("oihw->hwio", got), kernel, err_msg=name)
        np.testing.assert_array_equal(weights.features[f"{torch_index}.bias"].numpy(), bias, err_msg=name)


@pytest.mark.parametrize("key", ["h5_16_saved", "npy16_top"])
def test_classifier_rows_permuted_from_nhwc_flatten(files, dense, key):
    loader = load_npy_weights if key.startswith("npy") else load_keras_h5_weights
    weights = loader(files[key], arch="vgg16")
    assert weights.classifier is not None
    assert weights.categories is not None and weights.categories[315] == "mantis"
    pool5 = np.random.default_rng(3).standard_normal((3, 512, 7, 7))  # NCHW, as torch produces it
    x = torch.from_numpy(pool5).float().flatten(1)  # torch's NCHW flatten
    head = weights.classifier
    for position, index in enumerate((0, 3, 6)):
        x = torch.nn.functional.linear(x, head[f"{index}.weight"], head[f"{index}.bias"])
        if position < 2:
            x = x.relu()
    reference = tf_dense(pool5.transpose(0, 2, 3, 1), dense)  # TF flattens NHWC
    np.testing.assert_allclose(x.double().numpy(), reference, rtol=RTOL, atol=RTOL * np.abs(reference).max())


# ---------------------------------------------------------------------------------------------- convert-weights


def test_convert_weights_round_trip(files, vgg16_convs, dense, tmp_path, capsys):
    out = tmp_path / "vgg16_tf.safetensors"
    assert main(["convert-weights", str(files["npy16_top"]), str(out)]) == 0
    printed = capsys.readouterr().out
    assert "pool_padding='same'" in printed and "relu1_1" in printed

    with safe_open(str(out), framework="pt") as handle:
        metadata = handle.metadata()
        keys = set(handle.keys())
        fc1 = handle.get_tensor("classifier.0.weight").numpy()
        conv1 = handle.get_tensor("features.0.weight").numpy()
    assert metadata["perceptual.arch"] == "vgg16"
    assert perceptual.InputNormalization.from_json(metadata["perceptual.normalization"]) == perceptual.CAFFE
    assert metadata["perceptual.categories"].split("\n")[315] == "mantis"
    assert {f"classifier.{i}.{p}" for i in (0, 3, 6) for p in ("weight", "bias")} <= keys
    # torch row o, column c*49 + h*7 + w  <-  TF kernel row (h*7 + w)*512 + c, column o
    kernel = dense[0][0]
    for o, c, h, w in [(0, 0, 0, 1), (3, 511, 6, 2), (15, 100, 3, 6)]:
        assert fc1[o, c * 49 + h * 7 + w] == kernel[(h * 7 + w) * 512 + c, o]
    np.testing.assert_array_equal(conv1, vgg16_convs["conv1_1"][0].transpose(3, 2, 0, 1))  # BGR input order kept

    # Loading the converted file gives the same features as the TF reference, SAME pooling included.
    _compare_all_taps(str(out), vgg16_convs, "vgg16", "same", _image(4, 33, 35))
    loaded = perceptual.load_weights(str(out), arch="vgg16")  # any classifier width loads (ours is 16 wide)
    assert loaded.classifier is not None
    np.testing.assert_array_equal(loaded.classifier["0.weight"].numpy(), fc1)
    assert loaded.categories is not None and loaded.categories[315] == "mantis"


def test_convert_weights_detects_vgg19_and_keeps_no_classifier(files, tmp_path, capsys):
    out = tmp_path / "vgg19.safetensors"
    assert main(["convert-weights", str(files["h5_19_notop"]), str(out)]) == 0
    assert "vgg19, features only" in capsys.readouterr().out
    loaded = perceptual.load_weights(str(out), arch="vgg19")
    reference = load_keras_h5_weights(files["h5_19_notop"])
    assert loaded.classifier is None and loaded.normalization == perceptual.CAFFE
    for key, value in reference.features.items():
        assert torch.equal(loaded.features[key], value), key


def test_convert_weights_rejects_other_suffix(files, tmp_path, capsys):
    assert main(["convert-weights", str(files["npy16"]), str(tmp_path / "out.pth")]) == 2
    assert ".safetensors" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- errors


def test_wrong_arch_names_the_right_one(files):
    with pytest.raises(ValueError, match=r"holds vgg19 weights.*block5_conv4.*pass arch='vgg19'"):
        perceptual.VGGFeatures(["relu1_1"], arch="vgg16", weights=str(files["h5_19_notop"]))
    with pytest.raises(ValueError, match=r"holds vgg16 weights.*pass arch='vgg16'"):
        load_npy_weights(files["npy16"], arch="vgg19")


def _small_npy(tmp_path, **changes):
    """Named like VGG16, shapes right up to conv2_2 and tiny after it (every misshaped layer is named)."""
    convs = {}
    channels = 3
    for name, width in [("conv1_1", 64), ("conv1_2", 64), ("conv2_1", 128), ("conv2_2", 128)]:
        convs[name] = [np.zeros((3, 3, channels, width), np.float32), np.zeros(width, np.float32)]
        channels = width
    for name in ["conv3_1", "conv3_2", "conv3_3", "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3"]:
        convs[name] = [np.zeros((1,), np.float32), np.zeros((1,), np.float32)]
    for name, value in changes.items():
        if value is None:
            del convs[name]
        else:
            convs[name] = value
    path = tmp_path / "small.npy"
    np.save(path, convs, allow_pickle=True)
    return path


def test_misshaped_layer_is_named_with_shapes(tmp_path):
    path = _small_npy(tmp_path, conv2_1=[np.zeros((3, 3, 32, 128), np.float32), np.zeros(128, np.float32)])
    with pytest.raises(
        ValueError,
        match=r"shape mismatches: conv2_1 kernel: expected \(3, 3, 64, 128\), got \(3, 3, 32, 128\); conv3_1 kernel",
    ):
        load_npy_weights(path)


def test_oihw_kernel_gets_a_hint(tmp_path):
    path = _small_npy(tmp_path, conv1_1=[np.zeros((64, 3, 3, 3), np.float32), np.zeros(64, np.float32)])
    with pytest.raises(ValueError, match=r"conv1_1 .* OIHW"):
        load_npy_weights(path)


def test_missing_layer_is_named(tmp_path):
    path = _small_npy(tmp_path, conv4_2=None)
    with pytest.raises(ValueError, match=r"not a complete vgg16.*missing conv4_2"):
        load_npy_weights(path)


def test_partial_classifier_is_rejected(files, tmp_path, vgg16_convs, dense):
    data = np.load(files["npy16_top"], allow_pickle=True).item()
    del data["fc7"]
    path = tmp_path / "partial.npy"
    np.save(path, data, allow_pickle=True)
    with pytest.raises(ValueError, match=r"fc6, fc8 but not fc7"):
        load_npy_weights(path)


def test_npy_that_is_not_a_dict(tmp_path):
    path = tmp_path / "array.npy"
    np.save(path, np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"holds an array of shape \(3, 3\).*expected a dict"):
        load_npy_weights(path)


@pytest.mark.parametrize("key", ["npy16", "h5_16_saved"])
def test_truncated_file(files, tmp_path, key):
    data = files[key].read_bytes()
    path = tmp_path / f"truncated{files[key].suffix}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"truncated or corrupt"):
        perceptual.load_weights(str(path), arch="vgg16")


def test_garbage_h5(tmp_path):
    path = tmp_path / "garbage.h5"
    path.write_bytes(b"this is not HDF5" * 100)
    with pytest.raises(ValueError, match=r"garbage.h5: cannot open as HDF5"):
        load_keras_h5_weights(path)


def test_h5_that_is_not_a_vgg(tmp_path):
    import h5py

    path = tmp_path / "resnet.h5"
    with h5py.File(path, "w") as f:
        f.create_group("conv1_conv").create_dataset("kernel:0", data=np.zeros((7, 7, 3, 64), np.float32))
    with pytest.raises(ValueError, match=r"not a complete vgg16.*missing block1_conv1, .*conv layers found: none"):
        load_keras_h5_weights(path)


def test_h5_layer_with_extra_datasets(tmp_path, vgg16_convs):
    import h5py

    path = tmp_path / "odd.h5"
    write_keras_h5(path, vgg16_convs, layout="keras3")
    with h5py.File(path, "a") as f:
        f["layers/block1_conv2/vars"].create_dataset("2", data=np.zeros(64, np.float32))
    with pytest.raises(ValueError, match=r"layer block1_conv2 should hold one kernel and one bias, found .*\(64,\)"):
        load_keras_h5_weights(path)


def test_h5_without_h5py_says_how_to_install(files, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py -> ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'perceptual\[h5\]'"):
        perceptual.load_weights(str(files["h5_16_saved"]), arch="vgg16")
    assert issubclass(MissingDependencyError, ImportError)


def test_convert_weights_to_a_folder_named_like_a_file_is_one_line(files, tmp_path, capsys):
    folder = tmp_path / "x.safetensors"
    folder.mkdir()
    assert main(["convert-weights", str(files["npy16"]), str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"the output '{folder}' is a folder" in err
    assert list(folder.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["x.safetensors"]
