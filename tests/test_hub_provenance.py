"""Provenance from the torch hub cache: a file there is pretrained only when its SHA-256 starts with the digits its
name carries, hashed once per file (kept by path, size and modification time); anything else is 'from file', with a
one-line warning."""

from __future__ import annotations

import hashlib
import os
import warnings

import pytest
import torch

import perceptual.weights
from perceptual import VGGFeatures, vgg_provenance


def test_each_file_is_hashed_once_until_it_changes(tmp_path, monkeypatch, tv_vgg16) -> None:
    from torchvision.models import VGG16_Weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    blob_path = tmp_path / "blob.pth"
    torch.save({f"features.{k}": v for k, v in tv_vgg16.state_dict().items()}, blob_path)
    blob = blob_path.read_bytes()
    name = f"vgg16-{hashlib.sha256(blob).hexdigest()[:8]}.pth"
    (cache / name).write_bytes(blob)
    monkeypatch.setattr(VGG16_Weights.IMAGENET1K_V1.value, "url", f"https://example.invalid/{name}")
    hashed = []
    real_sha256 = hashlib.sha256

    def counting(*args, **kwargs):
        hashed.append(1)
        return real_sha256(*args, **kwargs)

    monkeypatch.setattr(perceptual.weights.hashlib, "sha256", counting)
    perceptual.weights._hash_matches_name_cached.cache_clear()
    built = [VGGFeatures(["relu1_1"], weights="imagenet") for _ in range(3)]
    assert len(hashed) == 1  # three loads, one hash of the file
    assert all(vgg.provenance == "pretrained" and vgg_provenance(vgg)["provenance"] == "pretrained" for vgg in built)
    hashed.clear()
    # the same path with other content (another size or time) is hashed again, and found not to be torchvision's
    (cache / name).write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    os.utime(cache / name, ns=(1, 1))
    with pytest.warns(UserWarning, match=rf"{name}: its SHA-256 does not start with the digits in its name") as record:
        changed = VGGFeatures(["relu1_1"], weights="imagenet")
    assert len([w for w in record if "SHA-256" in str(w.message)]) == 1
    assert str(record[0].message).count("\n") == 0  # one line
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        VGGFeatures(["relu1_1"], weights="imagenet")
    assert len(hashed) == 1  # the changed file: hashed once more, then kept
    assert changed.provenance == "file" and vgg_provenance(changed)["provenance"] == "from file"
    assert changed.weights_source.endswith("(named as torchvision's VGG16_Weights.IMAGENET1K_V1; its hash is not)")
