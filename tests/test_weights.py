"""Weights sources: local files in torchvision layouts, the hub cache, random; and their errors."""

import warnings

import pytest
import torch
from safetensors.torch import save_file

from perceptual import CAFFE, IMAGENET, RandomWeightsWarning, VGGFeatures, WeightsUnavailableError, load_weights
from perceptual.weights import expected_feature_shapes


def _features_equal(vgg: VGGFeatures, state: dict) -> None:
    for key, value in vgg.body.state_dict().items():
        torch.testing.assert_close(value, state[key])


def test_features_only_keys(tv_vgg16, vgg16_file):
    vgg = VGGFeatures(["pool5"], weights=vgg16_file)
    _features_equal(vgg, tv_vgg16.state_dict())
    assert vgg.normalization == IMAGENET
    # A state dict the test wrote: nothing says it is pretrained, so it is not called so.
    assert vgg.provenance == "file" and not vgg.pretrained


def test_full_torchvision_state_dict_with_classifier(tmp_path, tv_vgg16):
    state = {f"features.{k}": v for k, v in tv_vgg16.state_dict().items()}
    state.update(
        {
            "classifier.0.weight": torch.zeros(4096, 25088),
            "classifier.0.bias": torch.zeros(4096),
            "classifier.3.weight": torch.zeros(4096, 4096),
            "classifier.3.bias": torch.zeros(4096),
            "classifier.6.weight": torch.zeros(1000, 4096),
            "classifier.6.bias": torch.zeros(1000),
        }
    )
    path = tmp_path / "vgg16_full.pth"
    torch.save(state, path)
    loaded = load_weights(path, arch="vgg16")
    assert loaded.classifier is not None and loaded.classifier["6.weight"].shape == (1000, 4096)
    _features_equal(VGGFeatures(["pool5"], weights=str(path)), tv_vgg16.state_dict())


def test_safetensors_with_metadata(tmp_path, tv_vgg16):
    path = tmp_path / "vgg16.safetensors"
    save_file(
        {f"features.{k}": v.contiguous() for k, v in tv_vgg16.state_dict().items()},
        str(path),
        metadata={"perceptual.arch": "vgg16", "perceptual.normalization": CAFFE.to_json()},
    )
    loaded = load_weights(str(path), arch="vgg16")
    assert loaded.normalization == CAFFE
    with pytest.raises(ValueError, match="vgg16 weights"):
        load_weights(str(path), arch="vgg19")


def test_wrong_arch_file_names_keys_and_suggests_arch(vgg19_file):
    with pytest.raises(ValueError, match="vgg19") as info:
        load_weights(vgg19_file, arch="vgg16")
    message = str(info.value)
    assert "unexpected keys: 16.bias, 16.weight" in message and "missing keys: 17.weight" in message


def test_misshaped_file_names_the_shape(tmp_path, tv_vgg16):
    state = dict(tv_vgg16.state_dict())
    state["2.weight"] = torch.zeros(64, 32, 3, 3)
    del state["28.bias"]
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(ValueError) as info:
        load_weights(str(path), arch="vgg16")
    message = str(info.value)
    assert "2.weight: expected (64, 64, 3, 3), got (64, 32, 3, 3)" in message
    assert "missing keys: 28.bias" in message


def test_unreadable_and_missing_files(tmp_path):
    bad = tmp_path / "garbage.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="garbage.pth"):
        load_weights(str(bad))
    with pytest.raises(WeightsUnavailableError, match="does not exist"):
        load_weights(str(tmp_path / "missing.pth"))
    other = tmp_path / "weights.xyz"
    other.write_bytes(b"")
    with pytest.raises(ValueError, match="suffix"):
        load_weights(str(other))
    with pytest.raises(ValueError, match="neither a known name"):
        load_weights("imagenette")


def test_imagenet_offline_error_names_file_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))

    def offline(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsUnavailableError) as info:
        VGGFeatures(["relu4_1"], weights="imagenet")
    message = str(info.value)
    assert "vgg16-397923af.pth" in message
    assert str(tmp_path / "torch_home" / "hub" / "checkpoints") in message
    assert "weights=<path" in message


def test_imagenet_from_torch_hub_cache(tmp_path, monkeypatch, tv_vgg16):
    """A cached torchvision file under $TORCH_HOME is used without any download."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save({f"features.{k}": v for k, v in tv_vgg16.state_dict().items()}, cache / "vgg16-397923af.pth")
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda *a, **k: pytest.fail("tried to download"))
    vgg = VGGFeatures(["relu1_1"], weights="imagenet")
    assert vgg.normalization == IMAGENET and "IMAGENET1K_V1" in vgg.weights_source
    _features_equal(vgg, tv_vgg16.state_dict())


def test_imagenet_features_weights_use_caffe_style_rgb(tmp_path, monkeypatch, tv_vgg16):
    from torchvision.models import VGG16_Weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(
        {f"features.{k}": v for k, v in tv_vgg16.state_dict().items()},
        cache / VGG16_Weights.IMAGENET1K_FEATURES.url.rsplit("/", 1)[1],
    )
    loaded = load_weights("imagenet_features", arch="vgg16")
    assert loaded.classifier is None
    norm = loaded.normalization
    assert norm.channel_order == "RGB" and norm.pixel_scale == 255.0 and norm.std == (1.0, 1.0, 1.0)
    # torchvision's transforms: mean (0.48235, 0.45882, 0.40784) on [0, 1] -> x 255
    assert norm.mean == pytest.approx((0.48235 * 255, 0.45882 * 255, 0.40784 * 255))
    with pytest.raises(ValueError, match="vgg16 only"):
        load_weights("imagenet_features", arch="vgg19")


def test_torchvision_enum_name_and_arch_mismatch(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    from torchvision.models import VGG19_Weights

    with pytest.raises(ValueError, match="vgg19 weights, but arch='vgg16'"):
        load_weights(VGG19_Weights.IMAGENET1K_V1, arch="vgg16")
    with pytest.raises(ValueError, match="vgg19 weights, but arch='vgg16'"):
        load_weights("VGG19_Weights.IMAGENET1K_V1", arch="vgg16")


def test_random_is_seeded_and_warns_once():
    with pytest.warns(RandomWeightsWarning, match="RANDOM") as record:
        a = load_weights("random", arch="vgg16", seed=7)
    assert len(record) == 1 and not a.pretrained
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RandomWeightsWarning)
        b = load_weights("random", arch="vgg16", seed=7)
        c = load_weights("random", arch="vgg16", seed=8)
    assert torch.equal(a.features["28.weight"], b.features["28.weight"])
    assert not torch.equal(a.features["28.weight"], c.features["28.weight"])
    shapes = expected_feature_shapes("vgg16")
    assert {k: tuple(v.shape) for k, v in a.features.items()} == shapes
    # Kaiming normal, fan_out, relu: std = sqrt(2 / (out * 9)).
    assert a.features["28.weight"].std().item() == pytest.approx((2 / (512 * 9)) ** 0.5, rel=0.02)


def test_random_normalized_has_mean_activation_one_per_channel(tv_vgg16) -> None:
    """Gatys' normalization of the random net, checked with torchvision's own VGG16 run by hand on the same images."""
    import torchvision

    from perceptual.weights import load_weights, pink_noise_images

    with pytest.warns(RandomWeightsWarning, match="normalized random"):
        loaded = load_weights("random_normalized", arch="vgg16", seed=3)
    assert not loaded.pretrained and loaded.source.startswith("random_normalized")
    features = torchvision.models.vgg16(weights=None).features.eval()
    features.load_state_dict(dict(loaded.features))
    x = pink_noise_images(8, 96, seed=3)
    h = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(
        1, 3, 1, 1
    )
    means = []
    with torch.no_grad():
        for module in features:
            h = module(h.clone())
            if isinstance(module, torch.nn.ReLU):
                means.append(h.mean(dim=(0, 2, 3)))
    assert len(means) == 13
    for channel_means in means:
        alive = channel_means > 0
        assert alive.float().mean() > 0.95
        torch.testing.assert_close(channel_means[alive], torch.ones(int(alive.sum())), rtol=1e-3, atol=1e-3)
    # Other images: the same order of magnitude, unlike Kaiming's (mean square ~1e-3 at relu4_1 on faces).
    with pytest.warns(RandomWeightsWarning):
        kaiming = load_weights("random", arch="vgg16", seed=3)
    assert float(kaiming.features["0.weight"].std()) != pytest.approx(float(loaded.features["0.weight"].std()), rel=0.1)


def test_only_weights_known_to_be_pretrained_are_called_so(tmp_path, monkeypatch, tv_vgg16):
    import hashlib

    from perceptual.cli.convert import convert_weights
    from perceptual.weights import _hash_matches_name, vgg_provenance

    state = {f"features.{k}": v for k, v in tv_vgg16.state_dict().items()}
    torch.save(state, tmp_path / "mine.pth")
    # torchvision's file name on other content: the name alone proves nothing.
    torch.save(state, tmp_path / "vgg16-397923af.pth")
    for name in ("mine.pth", "vgg16-397923af.pth"):
        vgg = VGGFeatures(["relu1_1"], weights=tmp_path / name)
        assert (vgg.provenance, vgg.pretrained) == ("file", False)
        assert vgg_provenance(vgg)["provenance"] == "from file"
    # The name check is torchvision's check_hash: the leading hex digits of the content's SHA-256.
    blob = (tmp_path / "mine.pth").read_bytes()
    named = tmp_path / f"vgg16-{hashlib.sha256(blob).hexdigest()[:8]}.pth"
    named.write_bytes(blob)
    assert _hash_matches_name(named)
    named.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    assert not _hash_matches_name(named)
    # Conversions keep the provenance: a file stays "file", random stays random.
    convert_weights(str(tmp_path / "mine.pth"), tmp_path / "mine.safetensors", arch="vgg16")
    assert VGGFeatures(["relu1_1"], weights=tmp_path / "mine.safetensors").provenance == "file"
    with pytest.warns(RandomWeightsWarning):
        convert_weights("random", tmp_path / "random.safetensors", arch="vgg16")
    with pytest.warns(RandomWeightsWarning):
        assert VGGFeatures(["relu1_1"], weights=tmp_path / "random.safetensors").provenance == "random"
    # The hub cache gets the same check: other content under torchvision's file name there is "from file", with a
    # one-line warning, even through weights="imagenet".
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    hub_folder = tmp_path / "home" / "hub" / "checkpoints"
    hub_folder.mkdir(parents=True)
    torch.save(state, hub_folder / "vgg16-397923af.pth")
    with pytest.warns(UserWarning, match=r"vgg16-397923af.pth: its SHA-256 does not start with the digits in its name"):
        hub = VGGFeatures(["relu1_1"], weights="imagenet")
    assert (hub.provenance, hub.pretrained) == ("file", False) and vgg_provenance(hub)["provenance"] == "from file"
    # torchvision's own weights (a cached file whose hash is the one its name carries) are pretrained. The real file
    # cannot be downloaded here, so torchvision's enum is pointed at a name carrying this file's hash.
    from torchvision.models import VGG16_Weights

    monkeypatch.setattr(VGG16_Weights.IMAGENET1K_V1.value, "url", f"https://example.invalid/{named.name}")
    named.write_bytes(blob)
    (hub_folder / named.name).write_bytes(blob)
    hub = VGGFeatures(["relu1_1"], weights="imagenet")
    assert hub.pretrained and vgg_provenance(hub)["provenance"] == "pretrained"
    assert hub.weights_source == "torchvision VGG16_Weights.IMAGENET1K_V1"


# ---------------------------------------------------------------------------------------------- missing files
def _missing_file_loaders(tmp_path):
    from perceptual import (
        load_dists_calibration,
        load_gatys_weights,
        load_keras_h5_weights,
        load_lpips_calibration,
        load_npy_weights,
    )

    return [
        (lambda p: load_weights(p), "vgg16.pth"),
        (lambda p: load_weights(str(p), arch="vgg19"), "vgg19.safetensors"),
        (lambda p: load_weights(p), "vgg16.npy"),
        (lambda p: load_weights(p), "vgg16.h5"),
        (load_npy_weights, "vgg16.npy"),
        (load_keras_h5_weights, "vgg16_weights_tf_dim_ordering_tf_kernels.h5"),
        (load_gatys_weights, "vgg_conv.pth"),
        (load_lpips_calibration, "vgg.pth"),
        (load_dists_calibration, "weights.pt"),
    ]


def test_every_loader_raises_weights_unavailable_for_a_missing_file(tmp_path):
    for loader, name in _missing_file_loaders(tmp_path):
        missing = tmp_path / "nowhere" / name
        with pytest.raises(WeightsUnavailableError, match=f"'{missing}' does not exist") as info:
            loader(missing)
        assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, RuntimeError), name
    folder = tmp_path / "a_folder.pth"
    folder.mkdir()
    with pytest.raises(WeightsUnavailableError, match=f"weights file '{folder}' is a folder, not a file"):
        load_weights(folder)


def test_weights_unavailable_is_caught_as_file_not_found_and_as_runtime_error(tmp_path, monkeypatch):
    assert issubclass(WeightsUnavailableError, FileNotFoundError) and issubclass(WeightsUnavailableError, RuntimeError)
    try:
        load_weights(tmp_path / "missing.pth")
    except FileNotFoundError as err:  # what a caller of open() expects
        assert "missing.pth" in str(err)
    else:
        pytest.fail("no error for a missing file")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", _offline)
    try:
        load_weights("imagenet")
    except RuntimeError as err:  # what callers caught before it was also a FileNotFoundError
        assert type(err) is WeightsUnavailableError and "vgg16-397923af.pth" in str(err)
    else:
        pytest.fail("no error offline")


# ---------------------------------------------------------------------------------------------- one key message
def _three_problems(keys: list[str], shapes: list[tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """A VGG16 feature state under ``keys`` (torchvision's order) with the last bias missing, the second conv's
    kernel taking 32 input channels instead of 64, and one extra key."""
    state = {key: torch.zeros(shape) for key, shape in zip(keys, shapes)}
    del state[keys[-1]]
    state[keys[2]] = torch.zeros(64, 32, 3, 3)
    return state


def test_missing_unexpected_and_misshaped_keys_get_one_message_from_every_loader(tmp_path):
    from perceptual import load_gatys_weights
    from perceptual.weights_formats import gatys_layout_keys

    shapes = list(expected_feature_shapes("vgg16").values())
    torchvision_state = _three_problems(list(expected_feature_shapes("vgg16")), shapes)
    torchvision_state["31.weight"] = torch.zeros(1)
    gatys_state = _three_problems(list(gatys_layout_keys("vgg16")), shapes)
    gatys_state["fc6.weight"] = torch.zeros(1)
    pth, safetensors, gatys = tmp_path / "vgg16.pth", tmp_path / "vgg16.safetensors", tmp_path / "vgg_conv.pth"
    torch.save(torchvision_state, pth)
    save_file(torchvision_state, str(safetensors))
    torch.save(gatys_state, gatys)
    torchvision_problems = (
        "missing keys: 28.bias; unexpected keys: 31.weight; "
        "shape mismatches: 2.weight: expected (64, 64, 3, 3), got (64, 32, 3, 3)."
    )
    gatys_problems = (
        "missing keys: conv5_3.bias; unexpected keys: fc6.weight; "
        "shape mismatches: conv1_2.weight: expected (64, 64, 3, 3), got (64, 32, 3, 3)."
    )
    expected = {
        "torch file": (
            lambda: load_weights(pth),
            f"{pth} is not a torchvision vgg16 state dict (keys 'features.N.weight' or 'N.weight'): "
            + torchvision_problems,
        ),
        "safetensors": (
            lambda: load_weights(safetensors),
            f"{safetensors} is not a torchvision vgg16 state dict (keys 'features.N.weight' or "
            "'N.weight'): " + torchvision_problems,
        ),
        "Gatys file": (
            lambda: load_weights(gatys),
            f"{gatys} is not a vgg16 state dict in Gatys' vgg_conv layout (keys conv1_1.weight, "
            "conv1_1.bias, ..., conv5_3.bias): " + gatys_problems,
        ),
        "Gatys reader": (
            lambda: load_gatys_weights(gatys, arch="vgg16"),
            f"{gatys} is not a vgg16 state dict in Gatys' vgg_conv layout (keys conv1_1.weight, "
            "conv1_1.bias, ..., conv5_3.bias): " + gatys_problems,
        ),
    }
    for loader, (load, message) in expected.items():
        with pytest.raises(ValueError) as info:
            load()
        assert str(info.value) == message, loader


# ---------------------------------------------------------------------------------------------- fallback
def _offline(*args, **kwargs):
    raise OSError("Name or service not known")


def test_fallback_random_replaces_unavailable_named_weights_loudly(tmp_path, monkeypatch):
    from torchvision.models import VGG16_Weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", _offline)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RandomWeightsWarning)
        reference = load_weights("random_normalized", arch="vgg16", seed=5)
    for name in ("imagenet", "VGG16_Weights.IMAGENET1K_V1", VGG16_Weights.IMAGENET1K_V1):
        with pytest.warns(UserWarning) as record:
            loaded = load_weights(name, arch="vgg16", seed=5, fallback="random")
        banners = [str(w.message) for w in record if "RANDOMLY INITIALIZED VGG16" in str(w.message)]
        assert len(banners) == 1, [str(w.message) for w in record]
        assert banners[0].startswith("\n" + "!" * 100 + "\nvgg16 weights ") and banners[0].endswith("!" * 100)
        assert "vgg16-397923af.pth" in banners[0] and "$TORCH_HOME/hub/checkpoints" in banners[0]
        assert any(w.category is RandomWeightsWarning for w in record)
        assert loaded.provenance == "random" and not loaded.pretrained
        assert loaded.source.startswith("random_normalized") and loaded.normalization == IMAGENET
        assert loaded.features.keys() == reference.features.keys()
        assert all(torch.equal(loaded.features[key], reference.features[key]) for key in reference.features)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        vgg = VGGFeatures(["relu1_2"], weights=load_weights("imagenet", fallback="random"), input_range=(-1, 1))
    assert vgg.provenance == "random" and vgg.weights_source.startswith("random_normalized")


def test_fallback_never_replaces_a_named_file_and_is_off_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", _offline)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no banner, no random weights
        with pytest.raises(WeightsUnavailableError, match="typo_vgg16.pth"):
            load_weights("weights/typo_vgg16.pth", fallback="random")
        with pytest.raises(WeightsUnavailableError, match="not in the torch hub cache"):
            load_weights("imagenet")
        with pytest.raises(WeightsUnavailableError, match="not in the torch hub cache"):
            load_weights("imagenet", fallback="none")
    with pytest.raises(ValueError, match="fallback must be 'none' or 'random', got 'pretrained'"):
        load_weights("random", fallback="pretrained")
