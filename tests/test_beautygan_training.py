"""BeautyGAN training with Lightning on a tiny synthetic set: steps, outputs, checkpoints, resume, DDP, transfer."""

from __future__ import annotations

import copy
import io
import threading
import time
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from conftest import run_ddp_smoke, tensorboard_events
from PIL import Image
from torch.utils._python_dispatch import TorchDispatchMode

from beautygan.cli import main as beautygan_main
from beautygan.data.synthetic import write_synthetic_mt
from beautygan.training import samples as samples_module
from beautygan.training.datamodule import MTDataModule
from beautygan.training.module import BeautyGAN
from beautygan.training.samples import SampleGrids
from perceptual import RandomWeightsWarning, VGGFeatures, WeightsUnavailableError, load_weights

pytestmark = [
    pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning"),
    pytest.mark.filterwarnings("ignore:.*(does not have many workers|LeafSpec|eval mode|logging interval).*"),
]

TINY = dict(
    generator_width=4,
    residual_blocks=1,
    discriminator_width=4,
    vgg_weights="random",
    monitor_layers=["relu1_2", "relu2_2"],
    perceptual_layer="relu4_1",
)


@pytest.fixture(scope="module")
def dataset_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_synthetic_mt(tmp_path_factory.mktemp("mt") / "synthetic", n=8, size=32, held_out=2, seed=0)
    # One source with a closed right eye: its eye-shadow term is zero, the step still runs.
    seg_path = root / "segs" / "non-makeup" / "nm_0001.png"
    seg = np.array(Image.open(seg_path))
    seg[seg == 5] = 1
    Image.fromarray(seg).save(seg_path)
    return root


def _trainer(tmp_path: Path, **kwargs) -> L.Trainer:
    defaults = dict(
        accelerator="cpu",
        devices=1,
        max_epochs=1,
        limit_train_batches=3,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
        default_root_dir=tmp_path,
        logger=L.pytorch.loggers.TensorBoardLogger(tmp_path, name="tb"),
    )
    defaults.update(kwargs)
    defaults["callbacks"] = [SampleGrids(every_n_batches=2, pairs=2), *defaults.get("callbacks", [])]
    return L.Trainer(**defaults)


class _Recorder(L.Callback):
    def __init__(self) -> None:
        self.outputs: list = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.outputs.append((outputs, batch))


def test_training_steps_update_both_players_and_return_monitor_features(dataset_root: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = BeautyGAN(**TINY)
    before_g = [p.detach().clone() for p in model.generator.parameters()]
    before_d = [p.detach().clone() for p in model.disc_makeup.parameters()]
    recorder = _Recorder()
    trainer = _trainer(tmp_path, callbacks=[recorder])
    trainer.fit(model, datamodule=MTDataModule(str(dataset_root), image_size=32, batch_size=2, num_workers=0))

    assert model.batches_seen == 3 and trainer.global_step == 6  # two optimizer steps per batch
    assert all(not torch.equal(a, b) for a, b in zip(before_g, model.generator.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(before_d, model.disc_makeup.parameters()))
    metrics = trainer.callback_metrics
    for term in ("adversarial", "cycle", "perceptual", "lips", "skin", "eye_shadow"):
        assert torch.isfinite(metrics[f"train/g_{term}"]), term
    assert "train/d_makeup" in metrics and "val/lip_colour_distance" in metrics

    outputs, batch = recorder.outputs[0]
    features = outputs["vgg_features"]
    assert set(features) == {"real", "generated"}
    assert list(features["real"]) == list(features["generated"]) == ["relu1_2", "relu2_2", "relu4_1"]
    real = features["real"]["relu2_2"]
    assert real.shape == (2, 128, 16, 16) and not real.requires_grad
    # "real" are the source's features: check against the extractor run on the batch's sources.
    with torch.no_grad():
        expected = model.perceptual.extractor(batch["source"])["relu2_2"]
    torch.testing.assert_close(real, expected)
    assert not features["generated"]["relu4_1"].requires_grad
    samples = sorted(p.name for p in (Path(trainer.logger.log_dir) / "samples").glob("*.png"))
    assert samples == ["train_000000.png", "train_000002.png", "val_000003.png"]


class _StopAt(L.Callback):
    """Raises at the start of training batch ``batch`` (a run that dies right after a sample batch)."""

    def __init__(self, batch: int) -> None:
        self.batch = batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == self.batch:
            raise RuntimeError("stop here")


@pytest.mark.parametrize("ending", ["normal", "exception"])
def test_sample_grids_are_written_off_the_training_thread_and_kept_at_the_end(
    dataset_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ending: str
) -> None:
    """Grids at batches 0 and 2 (every 2); the run ends after batch 2, normally (then a validation grid) or by an
    error at batch 3. Encoding and writing take 0.3 s in the writer's thread, so without the flushes the last grid
    would be lost. The PNG and the event file hold the same grid, and its first tile is the batch's source, pixel
    for pixel."""
    threads, torch_ops = set(), []
    original = samples_module.write_sample_grid

    class _RecordOps(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            torch_ops.append(str(func))
            return func(*args, **(kwargs or {}))

    def slow_write(*args, **kwargs):
        threads.add(threading.current_thread().name)
        time.sleep(0.3)
        with _RecordOps():
            return original(*args, **kwargs)

    monkeypatch.setattr(samples_module, "write_sample_grid", slow_write)
    torch.manual_seed(0)
    dm = MTDataModule(str(dataset_root), image_size=32, batch_size=1, num_workers=0)  # 6 batches
    recorder = _Recorder()
    callbacks = [recorder] if ending == "normal" else [recorder, _StopAt(3)]
    trainer = _trainer(
        tmp_path, limit_train_batches=3 if ending == "normal" else 4, limit_val_batches=1, callbacks=callbacks
    )
    model = BeautyGAN(**TINY)
    writers_before = {t for t in threading.enumerate() if t.name == "perceptual-BackgroundWriter"}
    if ending == "normal":
        trainer.fit(model, datamodule=dm)  # train batches 0-2, then a validation grid (at batch 3)
    else:
        with pytest.raises(RuntimeError, match="stop here"):
            trainer.fit(model, datamodule=dm)
    assert threads == {"perceptual-BackgroundWriter"}
    assert torch_ops == []  # numpy and PIL only in the writer thread (a torch op there slows training's CPU ops)
    assert {t for t in threading.enumerate() if t.name == "perceptual-BackgroundWriter"} <= writers_before  # stopped
    log_dir = Path(trainer.logger.log_dir)
    expected_files = ["train_000000.png", "train_000002.png"] + (["val_000003.png"] if ending == "normal" else [])
    assert sorted(p.name for p in (log_dir / "samples").glob("*.png")) == expected_files
    if ending == "normal":
        assert [event.step for event in tensorboard_events(log_dir).Images("samples/val")] == [3]
    events = tensorboard_events(log_dir).Images("samples/train")
    assert [event.step for event in events] == [0, 2]
    png = np.asarray(Image.open(log_dir / "samples" / "train_000002.png").convert("RGB"))
    logged = np.asarray(Image.open(io.BytesIO(events[-1].encoded_image_string)).convert("RGB"))
    np.testing.assert_array_equal(png, logged)
    # a 12-pixel header, then make_grid's 2-pixel padding around one pair's 6 columns of 32x32 tiles
    assert png.shape == (12 + 2 + 34, 2 + 6 * 34, 3)
    source = recorder.outputs[2][0]["images"]["real"][0]  # batch 2's first source, in [-1, 1]
    expected = ((source.permute(1, 2, 0).numpy() + 1) / 2 * 255).clip(0, 255)
    tile = png[14 : 14 + 32, 2 : 2 + 32].astype(np.float64)
    assert np.abs(tile - expected).max() <= 1.0  # PNG quantization only
    assert np.abs(tile - expected).mean() < 0.6


def test_checkpoint_has_no_vgg_and_resume_continues(dataset_root: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    dm = MTDataModule(str(dataset_root), image_size=32, batch_size=2, num_workers=0)
    checkpointing = L.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    model = BeautyGAN(**TINY)
    _trainer(tmp_path, callbacks=[checkpointing], limit_train_batches=2).fit(model, datamodule=dm)
    path = tmp_path / "ckpt" / "last.ckpt"
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)

    assert not [k for k in checkpoint["state_dict"] if k.startswith("perceptual")]
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    vgg = sum(p.numel() for p in model.perceptual.extractor.parameters())
    assert vgg > 20 * trainable
    # params + two Adam moments, float32, plus bookkeeping: far below one copy of the VGG
    assert path.stat().st_size < trainable * 3 * 4 + 200_000 < vgg * 4
    assert checkpoint["epoch"] == 0 and checkpoint["global_step"] == 4 and checkpoint["batches_seen"] == 2

    class _AtStart(L.Callback):
        def on_train_start(self, trainer, pl_module) -> None:
            self.epoch, self.step, self.batches = trainer.current_epoch, trainer.global_step, pl_module.batches_seen
            self.states = [copy.deepcopy(o.state_dict()) for o in trainer.optimizers]
            self.generator = {k: v.clone() for k, v in pl_module.generator.state_dict().items()}

    at_start = _AtStart()
    resumed = BeautyGAN(**TINY)
    trainer = _trainer(tmp_path / "resume", callbacks=[at_start], limit_train_batches=2, max_epochs=2)
    trainer.fit(resumed, datamodule=dm, ckpt_path=path)
    assert (at_start.epoch, at_start.step, at_start.batches) == (1, 4, 2)
    for saved, restored in zip(checkpoint["optimizer_states"], at_start.states):
        assert saved["param_groups"] == restored["param_groups"]
        for key, state in saved["state"].items():
            for name in ("exp_avg", "exp_avg_sq", "step"):
                torch.testing.assert_close(restored["state"][key][name], state[name])
    for key, value in at_start.generator.items():
        torch.testing.assert_close(value, checkpoint["state_dict"][f"generator.{key}"])
    assert trainer.global_step == 8 and resumed.batches_seen == 4


def test_transfer_command_on_a_saved_checkpoint(dataset_root: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    checkpointing = L.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    model = BeautyGAN(**TINY)
    dm = MTDataModule(str(dataset_root), image_size=32, batch_size=2, num_workers=0)
    _trainer(tmp_path, callbacks=[checkpointing], limit_train_batches=1).fit(model, datamodule=dm)
    source = dataset_root / "images" / "non-makeup" / "nm_0000.png"
    reference = dataset_root / "images" / "makeup" / "mk_0000.png"
    out = tmp_path / "out.png"
    code = beautygan_main(
        [
            "transfer",
            "--ckpt",
            str(tmp_path / "ckpt" / "last.ckpt"),
            "--source",
            str(source),
            "--reference",
            str(reference),
            "--out",
            str(out),
            "--device",
            "cpu",
            "--no-align",
        ]
    )
    assert code == 0
    written = np.asarray(Image.open(out), dtype=np.float32)
    assert written.shape == (32, 32, 3)  # the training size, from the checkpoint

    # Independent path: the trained module on images resized with torch.
    def load(path: Path) -> torch.Tensor:
        x = torch.from_numpy(np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)[None]
        return torch.nn.functional.interpolate(x, size=(32, 32), mode="bilinear", antialias=True) * 2 - 1

    model.eval()
    with torch.no_grad():
        expected = (model.generator(load(source), load(reference))[0][0] + 1) / 2 * 255
    assert np.abs(written - expected.permute(1, 2, 0).numpy()).max() <= 1.5
    assert (
        beautygan_main(
            [
                "transfer",
                "--ckpt",
                str(tmp_path / "nope.ckpt"),
                "--source",
                str(source),
                "--reference",
                str(reference),
                "--out",
                str(out),
            ]
        )
        == 2
    )


def test_imagenet_vgg_fails_offline_unless_the_config_opts_into_random() -> None:
    cache = Path(torch.hub.get_dir()) / "checkpoints" / "vgg16-397923af.pth"
    if cache.exists():
        pytest.skip("ImageNet VGG16 weights are cached here")
    with pytest.raises(WeightsUnavailableError):
        BeautyGAN(**{**TINY, "vgg_weights": "imagenet"})
    with pytest.warns(UserWarning, match="RANDOMLY INITIALIZED VGG16"), pytest.warns(RandomWeightsWarning):
        vgg = VGGFeatures(["relu1_2"], weights=load_weights("imagenet", fallback="random"))
    assert not vgg.pretrained and vgg.weights_source.startswith("random_normalized")
    # A file the user named never falls back, even with the fallback on.
    with pytest.raises(WeightsUnavailableError, match="typo_vgg16.pth"):
        load_weights("weights/typo_vgg16.pth", fallback="random")


def test_fallback_vgg_gives_the_identity_term_weight(dataset_root: Path) -> None:
    """With the fallback VGG, the paper-weighted perceptual term between two different faces is within two orders
    of magnitude of a cycle term, not five below it (Kaiming's random VGG: about 1e-5)."""
    from beautygan.data.mt import MTDataset

    items = [MTDataset(dataset_root, split="train", image_size=32, seed=0)[i] for i in range(4)]
    sources = torch.stack([item["source"] for item in items])
    references = torch.stack([item["reference"] for item in items])
    with pytest.warns(RandomWeightsWarning):
        normalized = _relu4_1_mse("random_normalized")
        kaiming = _relu4_1_mse("random")
    weight, cycle_like = 0.005, 10 * float((sources - references).abs().mean())
    assert weight * normalized(sources, references) > 1e-2 * cycle_like
    assert weight * kaiming(sources, references) < 1e-4 * cycle_like


def _relu4_1_mse(weights: str):
    from perceptual import VGGFeatures

    extractor = VGGFeatures(["relu4_1"], weights=weights, input_range=(-1, 1))
    return lambda a, b: float((extractor(a)["relu4_1"] - extractor(b)["relu4_1"]).square().mean())


def test_presets_and_overrides() -> None:
    official = BeautyGAN(**TINY, preset="official", loss_weights={"skin": 0.2})
    assert (official.loss_weights.cycle, official.loss_weights.perceptual, official.loss_weights.identity) == (
        5.0,
        0.025,
        2.5,
    )
    assert official.loss_weights.skin == 0.2
    paper = BeautyGAN(**TINY)
    assert (paper.loss_weights.cycle, paper.loss_weights.perceptual, paper.loss_weights.identity) == (10.0, 0.005, 0.0)
    # The paper's VGG16 on ImageNet-normalized inputs; the official code's VGG19 on the raw [-1, 1] output.
    assert paper.perceptual.extractor.arch == "vgg16" and paper.perceptual.extractor.normalization.name == "imagenet"
    assert official.perceptual.extractor.arch == "vgg19"
    x = torch.rand(1, 3, 8, 8) * 2 - 1
    torch.testing.assert_close(official.perceptual.extractor.normalize(x), x)
    with pytest.raises(ValueError, match="loss_weights keys"):
        BeautyGAN(**TINY, loss_weights={"lipstick": 1.0})


def test_validation_logs_colour_transfer_figures(dataset_root: Path, tmp_path: Path) -> None:
    model = BeautyGAN(**TINY)
    trainer = _trainer(tmp_path)
    (metrics,) = trainer.validate(
        model, datamodule=MTDataModule(str(dataset_root), image_size=32, batch_size=2, num_workers=0), verbose=False
    )
    expected = {"val/transfer/lips_delta_e", "val/transfer/lips_delta_e_before", "val/transfer/background_l1"}
    assert expected <= set(metrics), sorted(metrics)
    assert all(np.isfinite(metrics[k]) for k in expected)


@pytest.mark.slow
def test_ddp_two_cpu_processes(dataset_root: Path, tmp_path: Path) -> None:
    # Lightning's "ddp" launcher re-executes the command per rank, as on a GPU cluster; gloo on CPU here.
    model = BeautyGAN(**TINY)
    # The frozen VGG has nothing for DDP to reduce: none of its parameters requires a gradient.
    assert not any(p.requires_grad for n, p in model.named_parameters() if n.startswith("perceptual"))
    out = tmp_path / "ranks.txt"
    result = run_ddp_smoke(dataset_root, out, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    first, second = out.read_text().splitlines()
    step, batches, *sums = first.split()
    assert (int(step), int(batches)) == (4, 2)  # 2 batches, 2 optimizer steps each
    assert len(sums) == 2 and sums[0] == sums[1]  # ranks stepped together and stayed identical
    # Validation figures cover both ranks' held-out pairs (one each): every rank logs the whole-set mean.
    label, rank0, rank1, whole = second.split()
    assert label == "val" and rank0 == rank1
    assert float(rank0) == pytest.approx(float(whole), rel=1e-5)


def test_lr_decays_linearly_over_the_last_epochs(dataset_root: Path, tmp_path: Path) -> None:
    class _Rates(L.Callback):
        def __init__(self) -> None:
            self.rates: list[tuple[float, float]] = []

        def on_train_epoch_start(self, trainer, pl_module) -> None:
            opt_g, opt_d = pl_module.optimizers()
            self.rates.append((opt_g.param_groups[0]["lr"], opt_d.param_groups[0]["lr"]))

    rates = _Rates()
    model = BeautyGAN(**{**TINY, "lr": 4e-4, "lr_decay_epochs": 4})
    trainer = _trainer(
        tmp_path, max_epochs=6, limit_train_batches=1, limit_val_batches=0, callbacks=[rates], logger=False
    )
    trainer.fit(model, datamodule=MTDataModule(str(dataset_root), image_size=32, batch_size=2, num_workers=0))
    # By hand: epochs 0-2 at 4e-4, then (6 - e) / 4 of it: 3e-4 at epoch 3, 2e-4, 1e-4 (the last epoch keeps 1/4).
    expected = [4e-4, 4e-4, 4e-4, 3e-4, 2e-4, 1e-4]
    assert [g for g, _ in rates.rates] == pytest.approx(expected) and [d for _, d in rates.rates] == pytest.approx(
        expected
    )
    with pytest.raises(ValueError, match="lr_decay_epochs must be >= 0"):
        BeautyGAN(**{**TINY, "lr_decay_epochs": -1})
