"""MT-layout dataset: items, epoch length, and one start-up error listing every bad file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from beautygan.data.mt import DatasetError, MTDataset, list_domain
from beautygan.data.synthetic import write_synthetic_mt
from beautygan.training.datamodule import MTDataModule


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    return write_synthetic_mt(tmp_path / "mt", n=5, size=40, held_out=1, seed=3)


def test_items_shapes_ranges_and_labels(root: Path) -> None:
    dataset = MTDataset(root, image_size=32, seed=0)
    item = dataset[0]
    assert item["source"].shape == item["reference"].shape == (3, 32, 32)
    assert item["source"].min() >= -1 and item["source"].max() <= 1
    assert item["source_labels"].shape == (1, 32, 32) and item["source_labels"].dtype == torch.int64
    # nearest resizing keeps only labels that exist in the 40 px map
    original = np.array(Image.open(root / "segs" / "non-makeup" / item["source_name"]))
    assert set(item["source_labels"].unique().tolist()) <= set(np.unique(original).tolist())
    image = np.asarray(
        Image.open(root / "images" / "non-makeup" / item["source_name"]).convert("RGB"), dtype=np.float32
    )
    # bilinear resize 40 -> 32 keeps the mean colour; [0, 255] -> [-1, 1]
    assert abs(float(item["source"].mean()) - (image.mean() / 127.5 - 1)) < 0.02


def test_epoch_length_is_the_larger_domain_and_lists_are_honoured(root: Path) -> None:
    lines = (root / "makeup.txt").read_text().splitlines()
    (root / "makeup.txt").write_text("\n".join(["images/" + lines[0], Path(lines[1]).name]) + "\n")
    assert list_domain(root, "makeup") == ["mk_0000.png", "mk_0001.png"]
    dataset = MTDataset(root, image_size=32, seed=0)
    assert len(dataset) == 4  # non-makeup: 5 - 1 held out
    sources = {dataset[i]["source_name"] for i in range(len(dataset))}
    assert sources == {f"nm_{i:04d}.png" for i in range(4)}  # the larger domain is walked in order
    assert {dataset[i]["reference_name"] for i in range(len(dataset))} <= {"mk_0000.png", "mk_0001.png"}
    assert len(MTDataset(root, split="test", image_size=32)) == 1


def test_every_problem_is_reported_at_once(root: Path) -> None:
    (root / "segs" / "makeup" / "mk_0001.png").unlink()  # missing label map
    (root / "images" / "non-makeup" / "nm_0002.png").write_bytes(b"not a png")  # unreadable image
    Image.new("L", (20, 40)).save(root / "segs" / "non-makeup" / "nm_0003.png")  # size mismatch
    with (root / "makeup.txt").open("a") as f:
        f.write("makeup/mk_9999.png\n")  # listed but missing
    with pytest.raises(DatasetError) as info:
        MTDataset(root, image_size=32)
    message = str(info.value)
    assert "5 problem(s)" in message
    assert f"missing label map: {root / 'segs' / 'makeup' / 'mk_0001.png'}" in message
    assert f"unreadable image: {root / 'images' / 'non-makeup' / 'nm_0002.png'}" in message
    assert f"label map {root / 'segs' / 'non-makeup' / 'nm_0003.png'} is 20x40, its image is 40x40" in message
    assert f"missing image: {root / 'images' / 'makeup' / 'mk_9999.png'}" in message
    assert f"missing label map: {root / 'segs' / 'makeup' / 'mk_9999.png'}" in message


def test_empty_folder_is_reported(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="missing folder"):
        MTDataset(tmp_path, image_size=32)


def test_datamodule_splits(root: Path) -> None:
    dm = MTDataModule(str(root), image_size=32, batch_size=2, num_workers=0)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["source"].shape == (2, 3, 32, 32) and batch["reference_labels"].shape == (2, 1, 32, 32)
    assert len(dm.val_dataloader().dataset) == 1
