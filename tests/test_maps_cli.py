"""``perceptual maps``: files, PNG sizes, index.html, bad inputs, and pixels against torchvision's own VGG."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import reference_taps
from PIL import Image

from perceptual.cli import main
from perceptual.images import load_image
from perceptual.layers import VGG16_LAYERS
from perceptual.pictures.export import resolve_layers

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
    argv = [
        "maps",
        str(images["photo"]),
        str(images["broken"]),
        str(images["rgba"]),
        str(images["gray16"]),
        "--layers",
        "relu1_2,block2_pool",
        "--size",
        "32",
        "--weights",
        vgg16_file,
        "--out",
        str(out),
    ]
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
                    assert picture.size == (
                        cols * tile_w + (cols + 1) * 2,
                        -(-count // cols) * tile_h + (-(-count // cols) + 1) * 2,
                    )
                else:
                    assert picture.size == _grid_side(count, tile, cols)
            with Image.open(summed) as picture:
                assert picture.format == "PNG"
                assert picture.size == (
                    (38, 32) if stem == "photo" and layer == "relu1_2" else (36, 32) if stem == "photo" else (32, 32)
                )
            assert f'src="{stem}/{layer}.png"' in index and f'src="{stem}/{layer}_sum.png"' in index
    assert "1 x 64 x 32 x 32" in index and "1 x 128 x 8 x 8" in index
    assert "channels: 128" in index
    assert not (out / "notes").exists()


def test_pixels_match_torchvision_features(tmp_path, vgg16_file, tv_vgg16):
    path = tmp_path / "square.png"
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(path)
    out = tmp_path / "maps"
    assert (
        main(
            [
                "maps",
                str(path),
                "--layers",
                "relu1_2",
                "--size",
                "0",
                "--weights",
                vgg16_file,
                "--out",
                str(out),
                "--no-labels",
                "--quiet",
            ]
        )
        == 0
    )
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
    assert (
        main(
            [
                "maps",
                str(path),
                "--layers",
                "pool1",
                "--channels",
                "5",
                "--size",
                "32",
                "--weights",
                vgg16_file,
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
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
    assert (
        main(["maps", str(bad), "--weights", "random", "--layers", "relu1_1", "--out", str(tmp_path / "o"), "--quiet"])
        == 1
    )
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
    (out / ".perceptual-maps.lock").write_text(str(os.getpid()))  # a running process holds it
    assert main(["maps", str(images["gray16"]), *common]) == 2
    assert "another `perceptual maps` run is writing to" in capsys.readouterr().err
    assert not (out / "scan").exists()


# ------------------------------------------------------------------------------------------------ the lock
def _dead_pid() -> int:
    """The PID of a process that has run and ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.parametrize("mode", ["export", "compare"])
def test_a_lock_left_by_a_killed_run_is_taken_over_with_a_note(images, tmp_path, capsys, mode):
    out = tmp_path / "maps"
    out.mkdir()
    dead = _dead_pid()
    (out / ".perceptual-maps.lock").write_text(str(dead))
    common = ["--layers", "relu1_1", "--size", "32", "--weights", "random", "--out", str(out), "--quiet"]
    if mode == "export":
        argv = ["maps", str(images["photo"]), *common]
    else:
        argv = ["maps", "--compare", str(images["photo"]), str(images["photo"]), *common]
    assert main(argv) == 0
    err = capsys.readouterr().err
    lock = out / ".perceptual-maps.lock"
    note = f"perceptual maps: note: {lock} was left by PID {dead}, which is no longer running: taken over"
    assert note in err.splitlines()
    assert not (out / ".perceptual-maps.lock").exists()  # released at the end, like any lock this run took
    assert (out / "index.html").is_file() and (
        out / ("photo/relu1_1.png" if mode == "export" else "relu1_1.png")
    ).is_file()


def test_a_running_holder_is_refused_with_its_pid(images, tmp_path, capsys):
    out = tmp_path / "maps"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (out / ".perceptual-maps.lock").write_text(str(holder.pid))
        code = main(["maps", str(images["photo"]), "--weights", "random", "--layers", "relu1_1", "--out", str(out)])
        err = capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    assert (
        code == 2 and err.count("\n") == 1 and err.startswith("perceptual maps: error: another `perceptual maps` run")
    )
    assert f"(PID {holder.pid};" in err
    assert sorted(p.name for p in out.iterdir()) == [".perceptual-maps.lock"]  # nothing written, the lock left alone
    (out / ".perceptual-maps.lock").write_text("written by hand")  # no PID: whether a run holds it is unknown
    assert main(["maps", str(images["photo"]), "--weights", "random", "--layers", "relu1_1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds no PID" in err and "delete it if none is" in err


# ------------------------------------------------------------------------------------------------ names of images
def _tree(folder: Path) -> dict[str, bytes | None]:
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None) for p in folder.rglob("*")}


def test_image_names_never_lead_outside_out_or_onto_its_own_files(tmp_path, capsys):
    """``...png`` has the stem ``..``: its maps once landed in the parent of --out. Stems that are dots, hold a
    backslash, or name the folder's own files get folders of their own inside --out."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    pixels = np.random.default_rng(3).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    names = ["...png", "..png", "maps.json.png", "index.html.png", ".perceptual-maps.lock.png", "a\\b.png"]
    for name in names:
        Image.fromarray(pixels).save(inputs / name, format="PNG")
    out = tmp_path / "work" / "maps"
    out.parent.mkdir()
    (out.parent / "relu1_1.png").write_bytes(b"the parent's own file")  # what the ..-stem image overwrote
    before = _tree(tmp_path)
    argv = ["maps", *(str(inputs / name) for name in names), "--weights", "random", "--layers", "relu1_1"]
    assert main([*argv, "--size", "0", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    after = _tree(tmp_path)
    outside = {k: v for k, v in after.items() if not k.startswith("work/maps/") and k != "work/maps"}
    assert outside == before  # nothing outside --out was written or changed
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == sorted(["image", "image_2", "maps.json_2", "index.html_2", ".perceptual-maps.lock_2", "a_b"])
    for folder in folders:
        assert (out / folder / "relu1_1.png").is_file()
    assert (out / "maps.json").is_file() and (out / "index.html").is_file()
    index = (out / "index.html").read_text()
    assert 'src="maps.json_2/relu1_1.png"' in index and 'src="image/relu1_1.png"' in index


def test_a_manifest_entry_leading_outside_is_refused(images, tmp_path, capsys):
    out = tmp_path / "maps"
    common = ["--layers", "relu1_1", "--size", "32", "--weights", "random", "--out", str(out), "--quiet"]
    assert main(["maps", str(images["photo"]), *common]) == 0
    manifest = (out / "maps.json").read_text().replace('"folder": "photo"', '"folder": "../victim"')
    (out / "maps.json").write_text(manifest)
    (tmp_path / "victim").mkdir()
    capsys.readouterr()
    assert main(["maps", str(images["photo"]), *common]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unreadable maps.json" in err and "'../victim' is not a folder name" in err
    assert list((tmp_path / "victim").iterdir()) == []


# ------------------------------------------------------------------------------------------------ --pca, --compare
def test_pca_view_is_exported_and_indexed(images, tmp_path, vgg16_file):
    out = tmp_path / "maps"
    common = ["--layers", "relu1_2,pool2", "--size", "32", "--weights", vgg16_file, "--out", str(out), "--quiet"]
    assert main(["maps", str(images["photo"]), "--pca", *common]) == 0
    index = (out / "index.html").read_text()
    for layer in ("relu1_2", "pool2"):
        with Image.open(out / "photo" / f"{layer}_pca.png") as picture:
            assert picture.mode == "RGB" and picture.size[0] >= 192  # panels of at least 192 px
        assert f'src="photo/{layer}_pca.png"' in index
    assert main(["maps", str(images["rgba"]), *common]) == 2  # without --pca: other settings than the folder's


def _pair(tmp_path: Path, size=(40, 48)) -> tuple[Path, Path]:
    rng = np.random.default_rng(5)
    real = np.kron(rng.integers(0, 256, (size[0] // 8, size[1] // 8, 3)), np.ones((8, 8, 1))).astype(np.uint8)
    generated = real.copy()
    generated[size[0] // 2 :, size[1] // 2 :] = 255 - generated[size[0] // 2 :, size[1] // 2 :]
    paths = tmp_path / "real.png", tmp_path / "generated.png"
    for path, array in zip(paths, (real, generated)):
        Image.fromarray(array).save(path)
    return paths


def test_compare_writes_labelled_pictures_overlays_and_index(tmp_path, capsys, vgg16_file, tv_vgg16):
    real_path, generated_path = _pair(tmp_path)
    out = tmp_path / "diff"
    assert (
        main(
            [
                "maps",
                "--compare",
                str(real_path),
                str(generated_path),
                "--layers",
                "relu1_2,pool2",
                "--size",
                "0",
                "--channels",
                "4",
                "--weights",
                vgg16_file,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "wrote 6 PNGs for 2 layer(s)" in capsys.readouterr().out
    index = (out / "index.html").read_text()
    for layer in ("relu1_2", "pool2"):
        for suffix in ("", "_pca", "_overlay"):
            with Image.open(out / f"{layer}{suffix}.png") as picture:
                picture.verify()
            assert f'src="{layer}{suffix}.png"' in index
    with Image.open(out / "relu1_2.png") as picture:  # 4 channels of 40x48 maps: 2 columns, padding 2, gap 8
        assert picture.size[0] == 3 * (2 * 48 + 3 * 2) + 2 * 8 and picture.size[1] > 2 * 40 + 3 * 2  # plus labels
    # The overlay, against torchvision's VGG: 0.5 * real + 0.5 * magma(relu1_2 difference / its 99th percentile).
    cm = pytest.importorskip("matplotlib").colormaps
    real, _ = load_image(real_path)
    generated, _ = load_image(generated_path)
    with torch.no_grad():
        taps = [
            reference_taps(tv_vgg16, x[None], VGG16_LAYERS, depth=4)["relu1_2"][0].numpy() for x in (real, generated)
        ]
    heat = ((taps[1] - taps[0]) ** 2).mean(axis=0)
    heat = np.clip(heat / np.quantile(heat, 0.99), 0, 1)
    expected = np.round(
        0.5 * np.asarray(Image.open(real_path), dtype=float) + 0.5 * np.round(cm["magma"](heat)[..., :3] * 255)
    )
    overlay = np.asarray(Image.open(out / "relu1_2_overlay.png").convert("RGB")).astype(float)
    assert overlay.shape == (40, 48, 3)
    rows = slice(8, 32)  # clear of the label
    assert np.abs(overlay[rows] - expected[rows]).max() <= 3 and np.abs(overlay[rows] - expected[rows]).mean() < 0.5


@pytest.mark.parametrize("case", ["sizes", "missing", "not an image", "both"])
def test_compare_refuses_bad_input_in_one_line(tmp_path, capsys, case):
    real_path, generated_path = _pair(tmp_path)
    other = {
        "sizes": tmp_path / "small.png",
        "missing": tmp_path / "absent.png",
        "not an image": tmp_path / "notes.png",
        "both": generated_path,
    }[case]
    if case == "sizes":
        Image.fromarray(np.zeros((40, 40, 3), dtype=np.uint8)).save(other)
    if case == "not an image":
        other.write_text("not a PNG")
    out = tmp_path / "diff"
    extra = [str(real_path)] if case == "both" else []
    code = main(
        [
            "maps",
            *extra,
            "--compare",
            str(real_path),
            str(other),
            "--weights",
            "random",
            "--layers",
            "relu1_1",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("perceptual maps: error: ")
    expected = {
        "sizes": f"--compare needs two images of the same size: {real_path} is 48x40, {other} is 40x40",
        "missing": f"{other}: no such file",
        "not an image": f"{other}: not a readable image",
        "both": "give IMAGEs or --compare REAL GENERATED, not both",
    }[case]
    assert expected in err
    assert not out.exists()  # nothing written


# ------------------------------------------------------------------------------------------------ a full disk
def _no_partial_pngs(out: Path) -> None:
    for path in out.rglob("*"):
        assert not path.name.endswith(".tmp"), path  # temporary files removed
        if path.suffix == ".png":
            with Image.open(path) as picture:
                picture.verify()  # whole PNGs only under final names (raises on a truncated file)


def test_full_disk_while_encoding_leaves_no_partial_png(images, tmp_path, capsys, vgg16_file, monkeypatch):
    import errno

    original = Image.Image.save
    saved = []

    def full_after_two(self, fp, *args, **kwargs):
        if len(saved) >= 2:  # the disk fills up on the third PNG: half a file is written, then ENOSPC
            Path(fp).write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 10)
            raise OSError(errno.ENOSPC, "No space left on device")
        saved.append(fp)
        return original(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", full_after_two)
    out = tmp_path / "maps"
    code = main(
        [
            "maps",
            str(images["photo"]),
            "--layers",
            "relu1_2,pool2",
            "--size",
            "32",
            "--weights",
            vgg16_file,
            "--out",
            str(out),
            "--quiet",
        ]
    )
    err = [line for line in capsys.readouterr().err.splitlines() if "resized" not in line]  # the photo's note
    assert code == 2 and len(err) == 1 and err[0].startswith("perceptual maps: error: ")
    err = err[0]
    assert f"no space left on device writing {out / 'photo' / 'pool2.png'} (filesystem of {out / 'photo'}/)" in err
    _no_partial_pngs(out)
    assert sorted(p.name for p in (out / "photo").iterdir()) == ["relu1_2.png", "relu1_2_sum.png"]  # the two whole ones
    assert not (out / "index.html").exists() and not (out / ".perceptual-maps.lock").exists()


def test_full_disk_at_rename_leaves_no_png(images, tmp_path, capsys, vgg16_file, monkeypatch):
    import errno
    import os

    def full(source, destination):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    out = tmp_path / "maps"
    code = main(
        [
            "maps",
            str(images["photo"]),
            "--layers",
            "relu1_2",
            "--size",
            "32",
            "--weights",
            vgg16_file,
            "--out",
            str(out),
            "--quiet",
        ]
    )
    err = [line for line in capsys.readouterr().err.splitlines() if "resized" not in line]  # the photo's note
    assert code == 2 and len(err) == 1 and err[0].startswith("perceptual maps: error: ")
    err = err[0]
    assert f"no space left on device writing {out / 'photo' / 'relu1_2.png'} (filesystem of {out / 'photo'}/)" in err
    assert not list(out.rglob("*.png")) and not list(out.rglob("*.tmp"))
