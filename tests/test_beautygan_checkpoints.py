"""Checkpoints that survive a kill during the save, and one clear line for a checkpoint that cannot be read."""

from __future__ import annotations

import os
import pickle
import re
import signal
import subprocess
import sys
import time
import types
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from beautygan.cli import main as beautygan_main
from beautygan.training.checkpoint_files import CheckpointError, load_checkpoint_file
from beautygan.training.checkpoint_io import AtomicCheckpointIO

_WRITER = """
import sys, torch
from beautygan.training.checkpoint_io import AtomicCheckpointIO
big = {"state_dict": {"w": torch.ones(64 * 1024 * 1024)}, "epoch": 2}  # 256 MB: the save takes a while
print("saving", flush=True)
AtomicCheckpointIO().save_checkpoint(big, sys.argv[1])
print("saved", flush=True)
"""


def test_a_kill_during_the_save_leaves_the_previous_checkpoint_whole(tmp_path: Path) -> None:
    target = tmp_path / "run" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.zeros(3)}, "epoch": 1}, target)
    env = {**os.environ, "TMPDIR": str(tmp_path / "elsewhere")}  # the case that broke Lightning's default
    (tmp_path / "elsewhere").mkdir()
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(target)], stdout=subprocess.PIPE, text=True, env=env)
    assert writer.stdout is not None and writer.stdout.readline().strip() == "saving"
    deadline = time.monotonic() + 60
    while not list(target.parent.glob(".last.ckpt.*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert list(target.parent.glob(".last.ckpt.*.tmp")), "the writer never started its temporary file"
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    checkpoint = load_checkpoint_file(target)
    assert checkpoint["epoch"] == 1 and torch.equal(checkpoint["state_dict"]["w"], torch.zeros(3))
    assert not list((tmp_path / "elsewhere").iterdir())  # nothing went through $TMPDIR


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty (0 bytes)"),
        (b"just some text\n", "is not a readable PyTorch checkpoint"),
        (b"PK\x03\x04" + b"\x00" * 40, "is not a readable PyTorch checkpoint"),
    ],
    ids=["empty", "text", "bad-zip-header"],
)
def test_a_corrupt_checkpoint_gets_one_line_naming_it(tmp_path: Path, content: bytes, expected: str, capsys) -> None:
    bad = tmp_path / "last.ckpt"
    bad.write_bytes(content)
    with pytest.raises(CheckpointError, match=re.escape(expected)):
        load_checkpoint_file(bad)
    image = tmp_path / "face.png"
    from PIL import Image

    Image.new("RGB", (16, 16), (200, 150, 120)).save(image)
    out = tmp_path / "out.png"
    code = beautygan_main(
        ["transfer", "--ckpt", str(bad), "--source", str(image), "--reference", str(image), "--out", str(out)]
    )
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert err.count("\n") == 1 and str(bad) in err and expected in err and "weights_only" not in err


def test_a_non_lightning_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "weights.pth"
    torch.save({"conv.weight": torch.zeros(1)}, path)
    with pytest.raises(CheckpointError, match=r"weights.pth is not a Lightning checkpoint \(no 'state_dict'"):
        load_checkpoint_file(path)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--out", "{tmp}/out.xyz"], "--out '{tmp}/out.xyz': unknown image file extension '.xyz'"),
        (["--out", "{tmp}"], "--out '{tmp}': unknown image file extension"),
        (["--out", "{tmp}/dir.png"], "--out '{tmp}/dir.png' is a folder"),
        (["--out", "{tmp}/face.png/out.png"], "'{tmp}/face.png' is a file, not a folder"),
        (["--out", "{tmp}/ok.png", "--demakeup-out", "{tmp}/dir.png"], "--demakeup-out '{tmp}/dir.png' is a folder"),
        (["--out", "{tmp}/ok.png", "--size", "30"], "--size must be a multiple of 4 and >= 16, got 30"),
    ],
)
def test_transfer_checks_its_outputs_before_any_work(tmp_path: Path, extra: list[str], expected: str, capsys) -> None:
    from PIL import Image

    image = tmp_path / "face.png"
    Image.new("RGB", (16, 16), (200, 150, 120)).save(image)
    (tmp_path / "dir.png").mkdir()
    missing_ckpt = tmp_path / "never_trained.ckpt"  # the output check comes first: this is never opened
    args = ["transfer", "--ckpt", str(missing_ckpt), "--source", str(image), "--reference", str(image)]
    code = beautygan_main(args + [a.format(tmp=tmp_path) for a in extra])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and expected.format(tmp=tmp_path) in err, err
    assert not (tmp_path / "ok.png").exists()


# ------------------------------------------------------------------------------------------------ older checkpoints
@contextmanager
def _pickled_under(kind: type, module_name: str):
    """While the block runs, pickle writes ``kind`` as ``<module_name>.<its name>`` (the path it had in a checkpoint
    written before the package was arranged by role): a stand-in module of that name holds it."""
    stand_in = types.ModuleType(module_name)
    setattr(stand_in, kind.__name__, kind)
    home = kind.__module__
    sys.modules[module_name] = stand_in
    kind.__module__ = module_name
    try:
        yield
    finally:
        kind.__module__ = home
        del sys.modules[module_name]


def test_checkpoints_that_name_the_former_module_paths_still_load(tmp_path: Path) -> None:
    """A checkpoint whose hyper-parameters were pickled as ``beautygan.loss_weights.LossWeights`` and
    ``beautygan.speed.SpeedOptions`` (the Python API before the move) loads with ``weights_only=True``, as the
    dataclasses of today, through the file reader, Lightning's checkpoint IO and the trained generator."""
    from conftest import save_untrained_generator

    from beautygan.inference.trained_generator import TrainedGenerator
    from beautygan.training.checkpoint_files import CHECKPOINT_TYPES
    from beautygan.training.loss_weights import LossWeights
    from beautygan.training.speed import SpeedOptions

    path = tmp_path / "before.ckpt"
    hyper_parameters = {"loss_weights": LossWeights(lips=3.0), "speed": SpeedOptions(fused_adam=True)}
    with _pickled_under(LossWeights, "beautygan.loss_weights"), _pickled_under(SpeedOptions, "beautygan.speed"):
        save_untrained_generator(path, size=32, hyper_parameters=hyper_parameters)
    with zipfile.ZipFile(path) as archive:
        pickled = archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))
    assert b"beautygan.loss_weights\nLossWeights" in pickled and b"beautygan.speed\nSpeedOptions" in pickled
    assert b"beautygan.training" not in pickled
    with torch.serialization.safe_globals(list(CHECKPOINT_TYPES)):  # today's names only: refused
        with pytest.raises(pickle.UnpicklingError, match=r"beautygan\.loss_weights\.LossWeights"):
            torch.load(path, weights_only=True)

    for checkpoint in (load_checkpoint_file(path), AtomicCheckpointIO().load_checkpoint(path)):
        hparams = checkpoint["hyper_parameters"]
        assert type(hparams["loss_weights"]) is LossWeights and hparams["loss_weights"] == LossWeights(lips=3.0)
        assert type(hparams["speed"]) is SpeedOptions and hparams["speed"] == SpeedOptions(fused_adam=True)
    assert TrainedGenerator.load(path).size == 32
    assert LossWeights.__module__ == "beautygan.training.loss_weights" and "beautygan.speed" not in sys.modules
