"""``beautygan transfer`` never overwrites its own inputs and never loses one of its two results, however the paths
are spelled (the same string, ``sub/../``, a symlink, a hard link); an animated GIF source is read at its first
frame, with a note, and gives exactly the first frame's result."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import save_untrained_generator
from PIL import Image

from beautygan.cli import main as beautygan_main


@pytest.fixture
def photos(tmp_path: Path) -> dict[str, Path]:
    face, look = tmp_path / "face.png", tmp_path / "look.png"
    Image.new("RGB", (32, 32), (200, 150, 120)).save(face)
    Image.new("RGB", (32, 32), (150, 60, 90)).save(look)
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.png").symlink_to(face)
    os.link(look, tmp_path / "hard.png")
    return {"face": face, "look": look}


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        (["--out", "{tmp}/face.png"], "--out {tmp}/face.png is the --source photo {tmp}/face.png"),
        (["--out", "{tmp}/sub/../face.png"], "--out {tmp}/sub/../face.png is the --source photo {tmp}/face.png"),
        (["--out", "{tmp}/link.png"], "--out {tmp}/link.png is the --source photo {tmp}/face.png"),
        (["--out", "{tmp}/hard.png"], "--out {tmp}/hard.png is the --reference photo {tmp}/look.png"),
        (
            ["--out", "{tmp}/ok.png", "--demakeup-out", "{tmp}/look.png"],
            "--demakeup-out {tmp}/look.png is the --reference photo {tmp}/look.png",
        ),
        (
            ["--out", "{tmp}/ok.png", "--demakeup-out", "{tmp}/sub/../ok.png"],
            "--demakeup-out {tmp}/sub/../ok.png and --out {tmp}/ok.png are one file: one result would be lost",
        ),
    ],
    ids=["same", "dotdot", "symlink", "hardlink-reference", "demakeup-reference", "demakeup-out"],
)
def test_an_output_that_would_overwrite_an_input_is_refused_before_any_work(
    photos: dict[str, Path], tmp_path: Path, outputs: list[str], expected: str, capsys
) -> None:
    before = {path: path.read_bytes() for path in photos.values()}
    never = tmp_path / "never_trained.ckpt"  # the check comes first: this is never opened
    args = ["transfer", "--ckpt", str(never), "--source", str(photos["face"]), "--reference", str(photos["look"])]
    code = beautygan_main(args + [part.format(tmp=tmp_path) for part in outputs])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"beautygan transfer: error: {expected.format(tmp=tmp_path)}"), err
    assert {path: path.read_bytes() for path in photos.values()} == before
    assert not (tmp_path / "ok.png").exists()


def test_a_region_reference_is_not_overwritten_either(photos: dict[str, Path], tmp_path: Path, capsys) -> None:
    lips = tmp_path / "lips.png"
    Image.new("RGB", (32, 32), (220, 20, 60)).save(lips)
    args = ["transfer", "--ckpt", str(tmp_path / "x.ckpt"), "--source", str(photos["face"]), "--lips", str(lips)]
    assert beautygan_main([*args, "--out", str(lips)]) == 2
    assert f"--out {lips} is the --lips photo {lips}: it would be overwritten" in capsys.readouterr().err


def test_an_animated_gif_source_uses_its_first_frame_with_a_note(tmp_path: Path, capsys) -> None:
    checkpoint = save_untrained_generator(tmp_path / "g.ckpt", size=32)
    frames = [Image.new("RGB", (32, 32), colour) for colour in ((200, 150, 120), (20, 200, 40), (10, 10, 230))]
    gif = tmp_path / "clip.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=80, loop=0)
    first = tmp_path / "first.png"
    with Image.open(gif) as image:
        assert image.n_frames == 3
        image.convert("RGB").save(first)  # frame 0, as PIL reads it, independently of the loader
    look = tmp_path / "look.png"
    Image.new("RGB", (32, 32), (150, 60, 90)).save(look)
    common = ["transfer", "--ckpt", str(checkpoint), "--reference", str(look), "--no-align"]
    assert beautygan_main([*common, "--source", str(gif), "--out", str(tmp_path / "from_gif.png")]) == 0
    out = capsys.readouterr().out
    assert "note: an animated GIF (several frames): its first frame is used" in out
    assert beautygan_main([*common, "--source", str(first), "--out", str(tmp_path / "from_png.png")]) == 0
    assert "first frame" not in capsys.readouterr().out
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "from_gif.png")), np.asarray(Image.open(tmp_path / "from_png.png"))
    )
