"""Docs that run: every ```python block of ``README.md`` and ``docs/*.md`` is executed as written, one test per block.

The rules, for whoever edits the guides:

- A block runs on its own, top to bottom, in a fresh namespace: it has its imports and defines what it uses (stand-in
  tensors such as ``fake = torch.tanh(torch.randn(4, 3, 64, 64))`` where a reader would have their own). Keep its
  tensors small (64 px, a few images): the whole file runs in the test suite.
- The test gives the blocks only what a reader's machine has:
  - a fresh temporary working directory holding the files the guides name as the reader's own:
    :data:`READER_FILES` (photos of a face: scikit-image's astronaut; ``last.ckpt``: an untrained BeautyGAN
    generator). A new block that names another such file adds it there;
  - ``TORCH_HOME`` pointing at a torch hub cache holding torchvision's VGG16, VGG19, AlexNet and SqueezeNet 1.1 files
    under their own names, with seeded random weights, so ``weights="imagenet"`` loads as it does for a reader who
    has downloaded them (the blocks see them as "from file": their hash is not torchvision's);
  - the installed packages of the ``dev`` extra (lpips and dists-pytorch ship the calibrations, dlib the face
    models).
- A block that cannot run here opts out with the first line ``# docs-test: skip (<reason>)``, e.g. one that needs a
  GPU or a real dataset. Use it sparingly: a skip without a reason fails, and every skip is listed in the test ids.
- ```bash blocks and other languages are not run.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
GUIDES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SKIP = re.compile(r"^# docs-test: skip(?: \((?P<reason>.+)\))?\s*$")
READER_FILES = ("photo.jpg", "me.jpg", "look.jpg", "a.jpg", "b.jpg", "red.jpg", "smoky.jpg", "glow.jpg", "last.ckpt")
"""Files the guides' blocks open as the reader's own; the test writes each of them into the working directory."""


def _blocks() -> list[tuple[str, int, str]]:
    """``(guide, first line, code)`` of every ```python block."""
    found = []
    for guide in GUIDES:
        lines = guide.read_text().splitlines()
        index = 0
        while index < len(lines):
            if lines[index].strip() == "```python":
                start = index + 1
                end = next(i for i in range(start, len(lines)) if lines[i].strip() == "```")
                found.append((guide.relative_to(REPO).as_posix(), start + 1, "\n".join(lines[start:end]) + "\n"))
                index = end
            index += 1
    return found


BLOCKS = _blocks()


def test_there_are_blocks_in_the_readme_and_the_guides() -> None:
    guides = {guide for guide, _, _ in BLOCKS}
    assert {"README.md", "docs/losses.md"} <= guides and len(BLOCKS) >= 8


@pytest.fixture(scope="session")
def torch_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("docs_torch_home")
    checkpoints = home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    models = torchvision.models
    networks = [
        (models.vgg16, models.VGG16_Weights),
        (models.vgg19, models.VGG19_Weights),
        (models.alexnet, models.AlexNet_Weights),
        (models.squeezenet1_1, models.SqueezeNet1_1_Weights),
    ]
    for seed, (builder, enum) in enumerate(networks):
        torch.manual_seed(seed)
        torch.save(builder(weights=None).state_dict(), checkpoints / enum.IMAGENET1K_V1.url.rsplit("/", 1)[1])
    return home


@pytest.fixture(scope="session")
def reader_files(tmp_path_factory) -> Path:
    """The reader's own files, written once and copied into each block's working directory."""
    skimage_data = pytest.importorskip("skimage.data", reason="scikit-image ships the photos the guides' blocks open")
    folder = tmp_path_factory.mktemp("reader_files")
    face = Image.fromarray(skimage_data.astronaut())
    face.resize((256, 256)).save(folder / "me.jpg")
    for name in ("look.jpg", "a.jpg", "b.jpg", "red.jpg", "smoky.jpg", "glow.jpg"):
        face.resize((256, 256)).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / name)
    Image.fromarray(np.asarray(face.resize((64, 64)))).save(folder / "photo.jpg")  # small: DeepDream runs on it
    from conftest import save_untrained_generator

    save_untrained_generator(folder / "last.ckpt", size=64)
    return folder


def _id(block: tuple[str, int, str]) -> str:
    guide, line, code = block
    skip = SKIP.match(code.splitlines()[0]) if code.strip() else None
    return f"{guide}:{line}" + (" (skipped)" if skip else "")


@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=[_id(b) for b in BLOCKS])
def test_block_runs_as_written(block, torch_home, reader_files, tmp_path, monkeypatch) -> None:
    guide, line, code = block
    first = code.splitlines()[0] if code.strip() else ""
    skip = SKIP.match(first)
    if skip:
        assert skip.group("reason"), f"{guide}:{line}: '# docs-test: skip' needs a reason in parentheses"
        pytest.skip(f"{guide}:{line}: {skip.group('reason')}")
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    monkeypatch.chdir(tmp_path)
    for name in READER_FILES:
        (tmp_path / name).write_bytes((reader_files / name).read_bytes())
    namespace = {"__name__": "__docs__"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the hub files are "from file"; range notes on stand-in tensors
        exec(compile(code, f"{guide}:{line}", "exec"), namespace)  # noqa: S102 - the guides' own code


def test_the_skip_marker_needs_a_reason() -> None:
    assert SKIP.match("# docs-test: skip (needs a GPU)").group("reason") == "needs a GPU"
    assert SKIP.match("# docs-test: skip").group("reason") is None
    for guide, line, code in BLOCKS:
        skip = SKIP.match(code.splitlines()[0]) if code.strip() else None
        assert skip is None or skip.group("reason"), f"{guide}:{line}: a skip without a reason"
