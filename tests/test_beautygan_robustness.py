"""BeautyGAN refuses or reports what would otherwise train silently wrong: odd image files, bad label ids, truncated
files, problems spread over the train and held-out lists, and losses that go NaN."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from conftest import tiny_demo_args
from PIL import Image

from beautygan.cli import main as beautygan_main
from beautygan.data.mt import DatasetError, MTDataset, read_labels
from beautygan.data.regions import stacked_region_masks
from beautygan.data.synthetic import write_synthetic_mt
from beautygan.training.checkpoint_files import load_checkpoint_file
from beautygan.training.datamodule import MTDataModule
from beautygan.training.guard import LossGuard, NonFiniteLossError
from beautygan.training.histogram import histogram_matching_loss
from beautygan.training.module import BeautyGAN

pytestmark = [
    pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning"),
    pytest.mark.filterwarnings("ignore:.*(does not have many workers|LeafSpec|eval mode|logging interval).*"),
]


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    return write_synthetic_mt(tmp_path / "mt", n=5, size=40, held_out=1, seed=3)


def test_sixteen_bit_grayscale_image_loads_as_the_grey_it_shows(root: Path) -> None:
    # Was: Image.convert("RGB") on a 16-bit PNG clips every value to 255, an all-white image.
    path = root / "images" / "non-makeup" / "nm_0000.png"
    Image.fromarray(np.full((40, 40), 16384, dtype=np.uint16)).save(path)
    assert Image.open(path).mode.startswith("I")
    item = MTDataset(root, image_size=32, seed=0)[0]
    assert item["source_name"] == "nm_0000.png"
    expected = 16384 / 65535 * 2 - 1  # -0.5, by hand
    torch.testing.assert_close(item["source"], torch.full((3, 32, 32), expected), atol=1e-4, rtol=0)


def test_palette_and_rgb_label_maps_read_as_their_ids(tmp_path: Path) -> None:
    ids = np.arange(14, dtype=np.uint8).repeat(3).reshape(6, 7)
    palette = Image.fromarray(ids, mode="L").convert("P")
    palette.save(tmp_path / "p.png")
    Image.fromarray(np.stack([ids] * 3, axis=-1)).save(tmp_path / "rgb.png")
    for name in ("p.png", "rgb.png"):
        np.testing.assert_array_equal(read_labels(tmp_path / name), ids.astype(np.int64))


def test_label_ids_outside_the_mt_set_are_refused_with_the_file(root: Path) -> None:
    # Was: clamped to background, so every region mask was empty and the makeup losses silently 0.
    seg_path = root / "segs" / "makeup" / "mk_0002.png"
    seg = np.array(Image.open(seg_path))
    seg[:3, :3] = 20
    seg[-1, -1] = 255
    Image.fromarray(seg).save(seg_path)
    with pytest.raises(DatasetError) as info:
        MTDataset(root, image_size=32)
    message = str(info.value)
    assert f"label map {seg_path} holds ids outside the MT labels 0..13: 20, 255 (10 pixels)" in message


def test_a_truncated_jpeg_is_caught_at_start_up_with_its_name(root: Path) -> None:
    # Image.verify() does not decode JPEG data: the truncated file passed the check and crashed mid-epoch.
    image = Image.open(root / "images" / "non-makeup" / "nm_0001.png").convert("RGB")
    jpeg = root / "images" / "non-makeup" / "nm_0009.jpg"
    image.save(jpeg, quality=95)
    data = jpeg.read_bytes()
    jpeg.write_bytes(data[: len(data) * 2 // 3])
    Image.open(root / "segs" / "non-makeup" / "nm_0001.png").save(
        root / "segs" / "non-makeup" / "nm_0009.jpg", format="PNG"
    )
    with (root / "non-makeup.txt").open("a") as f:
        f.write("nm_0009.jpg\n")
    with Image.open(jpeg) as opened:
        opened.verify()  # what the old start-up check did: it passes
    with pytest.raises(DatasetError, match=f"unreadable image: {jpeg} \\(OSError: image file is truncated"):
        MTDataset(root, image_size=32)


def test_problems_of_the_train_and_held_out_lists_come_in_one_error(root: Path) -> None:
    train_name = (root / "makeup.txt").read_text().split()[0]
    held_out_name = (root / "makeup_test.txt").read_text().split()[0]
    (root / "images" / Path(train_name)).write_bytes(b"not an image")
    (root / "images" / Path(held_out_name)).write_bytes(b"not an image")
    with pytest.raises(DatasetError) as info:
        MTDataModule(str(root), image_size=32, num_workers=0).setup("fit")
    message = str(info.value)
    assert "in the train split" in message and "in the test split" in message
    assert str(root / "images" / Path(train_name)) in message and str(root / "images" / Path(held_out_name)) in message


def _fit(root: Path, runs: Path, *extra: str) -> int:
    return beautygan_main(tiny_demo_args("fit", root, runs, *extra))


def test_fit_with_a_bad_dataset_prints_the_problems_and_creates_no_run_folder(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = root / "images" / "non-makeup" / "nm_0002.png"
    bad.write_bytes(b"not a png")
    runs = tmp_path / "runs"
    code = _fit(root, runs, "--trainer.max_epochs", "1")
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("beautygan: error: 1 problem(s) in the train split") and f"unreadable image: {bad}" in err
    assert "Traceback" not in err
    assert not runs.exists()


def test_histogram_binning_takes_nan_pixels() -> None:
    # Was: NaN cast to int64 -> "index -9223372036854775808 is out of bounds"; now the loss is NaN and says so.
    labels = torch.zeros(1, 1, 16, 16, dtype=torch.int64)
    labels[..., 10:13, 5:11] = 7  # upper lip
    masks = stacked_region_masks(labels)
    pred = torch.zeros(1, 3, 16, 16)
    pred[..., 11, 6] = float("nan")
    loss = histogram_matching_loss(pred, torch.rand(1, 3, 16, 16) * 2 - 1, masks, masks, reduction="none")
    assert torch.isnan(loss[0, 0])  # NaN, reported by the training step's check, instead of an indexing crash


def test_diverging_training_stops_with_the_terms_and_writes_no_checkpoint(tmp_path: Path) -> None:
    root = write_synthetic_mt(tmp_path / "mt", n=6, size=32, held_out=1, seed=0)
    model = BeautyGAN(
        generator_width=4,
        residual_blocks=1,
        discriminator_width=4,
        vgg_weights="random",
        lr=1e30,
        monitor_layers=["relu1_2"],
        perceptual_layer="relu2_1",
    )
    checkpoints = tmp_path / "ckpt"
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=2,
        log_every_n_steps=2,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=[L.pytorch.callbacks.ModelCheckpoint(dirpath=checkpoints, save_last=True, every_n_train_steps=1)],
    )
    with pytest.raises(NonFiniteLossError, match=r"g_\w+.* became NaN or infinite at batch \d+ \(epoch 0\)") as info:
        trainer.fit(model, datamodule=MTDataModule(str(root), image_size=32, batch_size=2, num_workers=0))
    print(info.value)
    # D steps first with lr 1e30, so G's adversarial term of batch 0 is already infinite: stopped at the first check.
    assert "g_adversarial" in str(info.value) and " at batch 0 " in str(info.value)
    assert not list(checkpoints.glob("*.ckpt"))  # a checkpoint after every step was asked for: none is NaN-filled


def test_the_vgg_actually_used_is_recorded_in_the_checkpoint_and_hparams(tmp_path: Path) -> None:
    import yaml

    import perceptual
    from perceptual.cli.convert import convert_weights

    # A file written by the test (torchvision layout) and the random fallback give different records.
    state = {f"features.{k}": v for k, v in perceptual.load_weights("random", arch="vgg16", seed=7).features.items()}
    torch.save(state, tmp_path / "mine_vgg16.pth")
    tiny = dict(
        generator_width=4,
        residual_blocks=1,
        discriminator_width=4,
        monitor_layers=["relu1_2"],
        perceptual_layer="relu2_1",
    )
    from_file = BeautyGAN(**tiny, vgg_weights=str(tmp_path / "mine_vgg16.pth"))
    from_random = BeautyGAN(**tiny, vgg_weights="random")
    # A random state dict in a file is not "pretrained": nothing in it says where it comes from.
    assert (
        from_file.vgg_used["weights"] == str(tmp_path / "mine_vgg16.pth")
        and from_file.vgg_used["provenance"] == "from file"
    )
    assert from_random.vgg_used["provenance"] == "random" and from_random.vgg_used["weights"].startswith("random")
    assert from_file.vgg_used["sha256"] != from_random.vgg_used["sha256"]
    assert BeautyGAN(**tiny, vgg_weights=str(tmp_path / "mine_vgg16.pth")).vgg_used == from_file.vgg_used

    root = write_synthetic_mt(tmp_path / "mt", n=4, size=32, held_out=1, seed=0)
    logger = L.pytorch.loggers.TensorBoardLogger(tmp_path, name="tb")
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=1,
        limit_train_batches=1,
        limit_val_batches=0,
        logger=logger,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(from_random, datamodule=MTDataModule(str(root), image_size=32, batch_size=2, num_workers=0))
    path = tmp_path / "after.ckpt"
    trainer.save_checkpoint(path)
    assert torch.load(path, map_location="cpu", weights_only=True)["vgg_used"] == from_random.vgg_used
    hparams = yaml.unsafe_load((Path(logger.log_dir) / "hparams.yaml").read_text())  # Lightning writes tuples
    assert (
        hparams["vgg_used"]["provenance"] == "random"
        and hparams["vgg_used"]["sha256"] == from_random.vgg_used["sha256"]
    )

    # Random weights converted to a file stay random: the loader says so and warns.
    with pytest.warns(perceptual.RandomWeightsWarning):
        convert_weights("random", tmp_path / "r.safetensors", arch="vgg16")
    with pytest.warns(perceptual.RandomWeightsWarning, match="holds RANDOM vgg16 weights"):
        loaded = perceptual.VGGFeatures(["relu1_2"], weights=str(tmp_path / "r.safetensors"))
    assert loaded.pretrained is False


def test_fit_from_a_corrupt_checkpoint_is_one_line(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "last.ckpt"
    bad.write_bytes(b"")  # what a kill during a non-atomic save leaves
    runs = tmp_path / "runs"
    code = _fit(root, runs, "--ckpt_path", str(bad))
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"beautygan: error: checkpoint {bad} is empty (0 bytes)" in err


def test_finite_divergence_is_warned_once() -> None:
    guard = LossGuard()  # the callback every BeautyGAN run gets (BeautyGAN.configure_callbacks)

    def step(total: float) -> None:
        guard.track({"train/g_cycle": torch.tensor(1.0), "train/g_total": torch.tensor(total)}, batch=0)

    for total in (2.0, 3.0):  # the first checked interval: largest 3
        step(total)
    guard.check()
    step(2999.0)  # under 1000 x 3: no warning
    guard.check()
    step(-3001.0)  # the size counts, and the running maximum is what is compared
    with pytest.warns(UserWarning, match=r"generator loss reached 3e\+03 .* over 1000 times its early value 3"):
        guard.check()
    step(1e9)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        guard.check()  # once only


def test_ckpt_path_last_resumes_the_runs_newest_checkpoint_in_the_same_tensorboard_run(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    runs = tmp_path / "runs"
    # A run stopped after its first epoch: what a Ctrl-C during the second epoch leaves behind.
    assert _fit(root, runs, "--trainer.max_epochs", "1", "--trainer.log_every_n_steps", "1") == 0
    version = runs / "tensorboard" / "version_0"
    first = load_checkpoint_file(version / "checkpoints" / "last.ckpt")
    assert (first["epoch"], first["batches_seen"]) == (0, 2)  # 4 training pairs, batch 2
    capsys.readouterr()
    assert _fit(root, runs, "--trainer.max_epochs", "2", "--trainer.log_every_n_steps", "1", "--ckpt_path", "last") == 0
    assert (
        f"resuming from {version / 'checkpoints' / 'last.ckpt'} (TensorBoard run version_0)" in capsys.readouterr().out
    )
    assert sorted(p.name for p in (runs / "tensorboard").iterdir()) == ["version_0"]  # no version_1
    second = load_checkpoint_file(version / "checkpoints" / "last.ckpt")
    # Epoch, optimizer steps (2 per batch) and the module's batch counter go on from where the first run stopped.
    assert (second["epoch"], second["global_step"], second["batches_seen"]) == (1, 2 * first["global_step"], 4)
    events = EventAccumulator(str(version)).Reload()
    steps = [event.step for event in events.Scalars("train/g_total")]  # both runs' curves, one curve
    assert steps == [0, 1, 2, 3]  # batches 0-1 from the first run, 2-3 from the resumed one


def test_ckpt_path_last_without_a_run_is_one_line_naming_where_it_looked(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    assert _fit(root, runs, "--trainer.max_epochs", "1", "--ckpt_path", "last") == 2
    err = capsys.readouterr().err
    looked = runs / "tensorboard" / "version_*" / "checkpoints" / "last.ckpt"
    assert (
        err
        == f"beautygan: error: --ckpt_path last: no last.ckpt to resume from; looked for {looked}. Start without --ckpt_path, or give the checkpoint file\n"
    )
    assert not runs.exists()


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--data.batch_size", "0", "batch_size must be a whole number >= 1, got 0"),
        ("--model.lr", "-0.001", "lr must be a finite number > 0, got -0.001"),
        ("--model.betas", "[0.5, 1.5]", "betas must be two numbers in [0, 1) (Adam's), got (0.5, 1.5)"),
        ("--data.image_size", "30", "image_size must be a multiple of 4 and >= 16, got 30"),
        (
            "--model.loss_weights.lipz",
            "1",
            "--model.loss_weights: Option 'lipz' is not accepted; see beautygan fit --help",
        ),
    ],
)
def test_a_bad_configuration_value_is_one_line_exit_2_and_no_run_folder(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, expected: str
) -> None:
    runs = tmp_path / "runs"
    code = _fit(root, runs, "--trainer.max_epochs", "1", option, value)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"beautygan: error: {expected}") and err.count("\n") == 1 and "Traceback" not in err
    assert not runs.exists()


def test_a_full_disk_at_a_checkpoint_save_is_one_line_and_keeps_the_previous_checkpoint(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import beautygan.training.checkpoint_files as checkpoints

    last_saves = 0
    real_save, real_usage = torch.save, shutil.disk_usage

    def save(obj, path, *args, **kwargs):  # last.ckpt fits after epoch 0; the disk is full when it is saved again
        nonlocal last_saves
        last_saves += Path(path).name.startswith(".last.ckpt.")
        if last_saves < 2:
            return real_save(obj, path, *args, **kwargs)
        Path(path).write_bytes(b"PK\x03\x04" + b"\0" * 124)  # what torch.save leaves when the disk fills up
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 128 vs 0")

    monkeypatch.setattr(checkpoints.torch, "save", save)
    monkeypatch.setattr(checkpoints.shutil, "disk_usage", lambda folder: real_usage(folder)._replace(free=1 << 20))
    runs = tmp_path / "runs"
    code = _fit(root, runs, "--trainer.max_epochs", "2", "--trainer.check_val_every_n_epoch", "5")
    err = capsys.readouterr().err
    last = runs / "tensorboard" / "version_0" / "checkpoints" / "last.ckpt"
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-1] == (
        f"beautygan: error: could not write checkpoint {last}: no space left on the device (1.0 MiB free in "
        f"{last.parent}); the previous checkpoint {last} is kept, whole"
    )
    # The previous last.ckpt (epoch 0) is whole and loads; no temporary file is left beside it.
    assert load_checkpoint_file(last)["epoch"] == 0
    assert not [p for p in last.parent.iterdir() if p.name.endswith(".tmp")]
