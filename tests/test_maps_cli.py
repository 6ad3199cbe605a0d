"""``perceptual maps``: files, PNG sizes, index.html, bad inputs, and pixels against torchvision's own VGG."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from perceptual.cli import main
from perceptual.images import load_image
from perceptual.layers import VGG16_LAYERS
from perceptual.pictures.export import resolve_layers

from conftest import reference_taps

pytestmark = pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning")

VIRIDIS_FIRST, VIRIDIS_LAST = (0x44, 0x01, 0x54), (0xFD, 0xE7, 0x25)


def _grid_side(count: int, tile: int, cols: int, padding: int = 2) -> tuple[int, int]:
    rows = -(-count // cols)
    return cols * tile + (cols + 1) * padding, rows * tile + (rows + 1) * padding  # (width, height)


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    folder = tmp_path / "in"
    folder.mkdir()
    paths = {
        "photo": folder / "photo.jpg",
        "rgba": folder / "logo.png",
        "gray16": folder / "scan.png",
        "broken": folder / "notes.png",
    }
    Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(paths["photo"])
    Image.fromarray(rng.integers(0, 256, (36, 36, 4), dtype=np.uint8), mode="RGBA").save(paths["rgba"])
    Image.fromarray(rng.integers(0, 65536, (32, 32), dtype=np.uint16)).save(paths["gray16"])
    paths["broken"].write_text("this is not a PNG")
    return paths


def test_exports_every_layer_and_index(images, tmp_path, capsys, vgg16_file):
    out = tmp_path / "maps"
    argv = ["maps", str(images["photo"]), str(images["broken"]), str(images["rgba"]), str(images["gray16"]),
            "--layers", "relu1_2,block2_pool", "--size", "32", "--weights", vgg16_file, "--out", str(out)]  # fmt: skip
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 1  # one file failed, the others exported
    errors = [line for line in captured.err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "notes.png" in errors[0]
    assert "transparency" in captured.err  # load_image's notes are printed
    assert "16-bit" in captured.err
    index = (out / "index.html").read_text()
    for stem in ("photo", "logo", "scan"):
        for layer, count, tile, cols in (("relu1_2", 64, 32, 8), ("pool2", 128, 32, 12)):  # block2_pool -> pool2.png
            grid, summed = out / stem / f"{layer}.png", out / stem / f"{layer}_sum.png"
            with Image.open(grid) as picture:
                picture.verify()
            with Image.open(grid) as picture:
                # photo: 40x48 -> shorter side 32 -> 32x38; 38 // 4 = 9 wide pool2 maps (upscaled x4 to 36)
                if stem == "photo":
                    tile_w = 38 if layer == "relu1_2" else 36
                    tile_h = 32
                    assert picture.size == (cols * tile_w + (cols + 1) * 2, -(-count // cols) * tile_h + (-(-count // cols) + 1) * 2)
                else:
                    assert picture.size == _grid_side(count, tile, cols)
            with Image.open(summed) as picture:
                assert picture.format == "PNG"
                assert picture.size == ((38, 32) if stem == "photo" and layer == "relu1_2" else (36, 32) if stem == "photo" else (32, 32))
            assert f'src="{stem}/{layer}.png"' in index and f'src="{stem}/{layer}_sum.png"' in index
    assert "1 x 64 x 32 x 32" in index and "1 x 128 x 8 x 8" in index
    assert "channels: 128" in index
    assert not (out / "notes").exists()


def test_pixels_match_torchvision_features(tmp_path, vgg16_file, tv_vgg16):
    path = tmp_path / "square.png"
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(path)
    out = tmp_path / "maps"
    assert main(["maps", str(path), "--layers", "relu1_2", "--size", "0", "--weights", vgg16_file, "--out", str(out),
                 "--no-labels", "--quiet"]) == 0  # fmt: skip
    image, _ = load_image(path)
    with torch.no_grad():
        feats = reference_taps(tv_vgg16, image[None], VGG16_LAYERS, depth=4)["relu1_2"][0].numpy()
    decoded = np.asarray(Image.open(out / "square" / "relu1_2.png").convert("RGB")).astype(int)
    viridis = pytest.importorskip("matplotlib").colormaps["viridis"]  # the reference colormap ([dev] installs it)
    for channel in (0, 9, 63):
        row, col = divmod(channel, 8)
        tile = decoded[2 + row * 34 : 2 + row * 34 + 32, 2 + col * 34 : 2 + col * 34 + 32]
        fmap = feats[channel]
        span = fmap.max() - fmap.min()
        norm = (fmap - fmap.min()) / span if span > 0 else np.zeros_like(fmap)
        expected = np.round(viridis(norm)[..., :3] * 255)
        assert np.abs(tile - expected).max() <= 8  # palette PNG: within about one colormap step
    assert (decoded[0, :, :] == 255).all()  # white padding


def test_channels_limit_and_sum(tmp_path, vgg16_file):
    path = tmp_path / "a.png"
    Image.fromarray(np.full((32, 32, 3), 128, dtype=np.uint8)).save(path)
    out = tmp_path / "maps"
    assert main(["maps", str(path), "--layers", "pool1", "--channels", "5", "--size", "32", "--weights", vgg16_file,
                 "--out", str(out), "--quiet"]) == 0  # fmt: skip
    with Image.open(out / "a" / "pool1.png") as picture:  # 5 tiles of 16 -> x2 = 32 px, 3 columns, 2 rows
        assert picture.size == _grid_side(5, 32, 3)
    index = (out / "index.html").read_text()
    assert re.search(r"top 5 by mean activation", index)


def test_resolve_layers_and_errors(capsys, tmp_path):
    assert len(resolve_layers("all", "vgg16")) == 18
    assert resolve_layers("all", "vgg16")[:3] == ["relu1_1", "relu1_2", "pool1"]
    assert len(resolve_layers("every", "vgg19")) == 37
    assert resolve_layers("pool2, block1_conv1,relu1_1", "vgg16") == ["relu1_1", "pool2"]
    assert main(["maps", "x.png", "--layers", "relu9_9", "--weights", "random"]) == 2
    assert "relu4_1" in capsys.readouterr().err  # lists the valid names
    assert main(["maps", "x.png", "--channels", "many", "--weights", "random", "--layers", "relu1_1"]) == 2
    assert "--channels" in capsys.readouterr().err


def test_all_files_bad_returns_error(tmp_path, capsys):
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"\x00\x01")
    assert main(["maps", str(bad), "--weights", "random", "--layers", "relu1_1", "--out", str(tmp_path / "o"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "x.jpg" in err and "no image could be exported" in err


def test_reused_out_folder_stays_consistent(images, tmp_path, capsys, vgg16_file):
    out = tmp_path / "maps"
    common = ["--layers", "relu1_2", "--size", "32", "--weights", vgg16_file, "--out", str(out)]
    assert main(["maps", str(images["photo"]), *common]) == 0
    assert main(["maps", str(images["rgba"]), *common]) == 0  # a second run adds to the same index
    index = (out / "index.html").read_text()
    assert 'src="photo/relu1_2.png"' in index and 'src="logo/relu1_2.png"' in index
    assert "index.html lists 2 images (1 from earlier runs)" in capsys.readouterr().out
    assert main(["maps", str(images["photo"]), *common]) == 0  # the same image again replaces its own folder
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["logo", "photo"]
    assert (out / "index.html").read_text().count('src="photo/relu1_2.png"') == 1

    # Other settings would mix two kinds of pictures under one index: refused, one line, nothing written.
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    capsys.readouterr()
    assert main(["maps", str(images["gray16"]), *common, "--colormap", "gray"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds maps made with other settings (colormap 'viridis' there, 'gray' now)" in err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before

    # Two runs at once into one folder: the second is refused while the first holds the lock.
    (out / ".perceptual-maps.lock").write_text("12345")
    assert main(["maps", str(images["gray16"]), *common]) == 2
    assert "another `perceptual maps` run is writing to" in capsys.readouterr().err
    assert not (out / "scan").exists()
