"""The ``beautygan`` LightningCLI with the shipped configs: a short demo-config run leaves TensorBoard logs with
losses, sample grids and feature maps; the paper config fails offline with the core's clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from beautygan.cli import main
from beautygan.data.synthetic import write_synthetic_mt

REPO = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]


def test_configs_name_the_monitor_and_the_vgg_policy() -> None:
    paper = yaml.safe_load((REPO / "configs" / "beautygan.yaml").read_text())
    demo = yaml.safe_load((REPO / "configs" / "beautygan_demo.yaml").read_text())
    assert paper["model"]["vgg_weights"] == "imagenet" and paper["model"]["vgg_fallback"] == "none"
    assert demo["model"]["vgg_fallback"] == "random"
    assert (paper["data"]["image_size"], paper["data"]["batch_size"], paper["trainer"]["precision"]) == (
        256,
        1,
        "bf16-mixed",
    )
    for config in (paper, demo):
        classes = [c["class_path"] for c in config["trainer"]["callbacks"]]
        assert "perceptual.pictures.monitor.FeatureMapMonitor" in classes
        plugins = [c["class_path"] for c in config["trainer"]["plugins"]]
        assert plugins == ["beautygan.training.checkpoint_io.AtomicCheckpointIO"]


def test_paper_config_fails_offline_with_the_core_error(capsys: pytest.CaptureFixture[str]) -> None:
    if (Path(torch.hub.get_dir()) / "checkpoints" / "vgg16-397923af.pth").exists():
        pytest.skip("ImageNet VGG16 weights are cached here")
    code = main(
        [
            "fit",
            "--config",
            str(REPO / "configs" / "beautygan.yaml"),
            "--trainer.accelerator",
            "cpu",
            "--trainer.precision",
            "32-true",
            "--trainer.strategy",
            "auto",
        ]
    )
    assert code == 2
    assert "vgg16-397923af.pth" in capsys.readouterr().err


def test_demo_config_fit_writes_tensorboard_losses_samples_and_feature_maps(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    root = write_synthetic_mt(tmp_path / "data", n=4, size=32, held_out=1, seed=0)
    runs = tmp_path / "runs"
    code = main(
        [
            "fit",
            "--config",
            str(REPO / "configs" / "beautygan_demo.yaml"),
            "--data.root",
            str(root),
            "--data.image_size",
            "32",
            "--data.batch_size",
            "2",
            "--model.generator_width",
            "4",
            "--model.residual_blocks",
            "1",
            "--model.discriminator_width",
            "4",
            "--samples.every_n_batches",
            "1",
            "--trainer.max_epochs",
            "1",
            "--trainer.limit_train_batches",
            "1",
            "--trainer.check_val_every_n_epoch",
            "1",
            "--trainer.default_root_dir",
            str(runs),
            "--trainer.logger.init_args.save_dir",
            str(runs),
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.log_every_n_steps",
            "1",
        ]
    )
    assert code == 0
    log_dir = runs / "tensorboard" / "version_0"
    assert (log_dir / "config.yaml").is_file() and (log_dir / "checkpoints" / "last.ckpt").is_file()
    events = EventAccumulator(str(log_dir), size_guidance={"images": 0, "scalars": 0}).Reload()
    scalars, images = set(events.Tags()["scalars"]), set(events.Tags()["images"])
    assert {"train/g_lips", "train/g_perceptual", "train/d_makeup", "val/lip_colour_distance"} <= scalars
    assert "samples/train" in images and "samples/val" in images
    assert any(tag.startswith("vgg/relu3_1") for tag in images), images
    assert "vgg/difference" in images  # where real and made-up differ, from the step's own features
    assert "train/g_identity" in scalars  # the demo config turns the official identity loss on
    assert (log_dir / "samples" / "train_000000.png").is_file()


def test_demo_table_compares_with_the_targets() -> None:
    from beautygan.demo import format_table

    keys = ("lips", "eye_shadow", "skin")
    before = {
        **{k: 40.0 for k in keys},
        **{f"{k}_source": 40.0 for k in keys},
        "background_hair": 30.0,
        "perceptual": 9.0,
    }
    after = {**{k: 20.0 for k in keys}, "background_hair": 12.5, "perceptual": 3.0}
    table = format_table(before, after, vgg="vgg16 test", pairs=4, layer="relu2_1")
    lips_row = next(line for line in table.splitlines() if "lips distance / source's" in line)
    assert lips_row.split()[-4:] == ["1.00", "0.50", "<=", "0.6"]  # 20 / 40 by hand
    assert "relu2_1 MSE to the source" in table
    assert table.splitlines()[-1] == "  targets: NOT met (background + hair)"  # 12.5 > 12
    assert (
        format_table(before, {**after, "background_hair": 12.0}, vgg="v", pairs=4).splitlines()[-1] == "  targets: met"
    )
