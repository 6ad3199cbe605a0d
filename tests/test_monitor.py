"""perceptual.pictures.monitor: TensorBoard events written by log_feature_maps and the FeatureMapMonitor callback, read back
with tensorboard's EventAccumulator; the callback runs no VGG forward when the step supplies features."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from conftest import tensorboard_events

pytest.importorskip("lightning")
pytest.importorskip("tensorboard")

import lightning.pytorch as pl  # noqa: E402
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger  # noqa: E402
from torch.utils.tensorboard import SummaryWriter  # noqa: E402

from perceptual import PerceptualLoss, VGGFeatures  # noqa: E402
from perceptual.pictures.feature_logs import log_feature_maps  # noqa: E402
from perceptual.pictures.monitor import FeatureMapMonitor  # noqa: E402
from perceptual.pictures.render import GridStyle  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore::perceptual.RandomWeightsWarning",
    "ignore:.*does not have many workers.*",
    "ignore:.*Checkpoint directory.*",
    "ignore:.*LeafSpec.*",
    r"ignore:.*module\(s\) in eval mode.*",
)


def _png_size(encoded: bytes) -> tuple[int, int]:
    from io import BytesIO

    from PIL import Image

    with Image.open(BytesIO(encoded)) as picture:
        return picture.size


class TestLogFeatureMaps:
    def test_scalars_images_and_channels(self, tmp_path):
        real = torch.zeros(2, 4, 8, 8)
        real[:, 0] = 1.0
        real[:, 1] = 2.0  # channels 2 and 3 are zero everywhere: zero fraction 0.5
        generated = real.clone()
        generated[:, 1] = 5.0  # the largest difference
        generated[:, 3] = 1.0  # second largest; generated has one all-zero channel (2)
        writer = SummaryWriter(str(tmp_path))
        used = log_feature_maps(
            writer, {"relu2_2": real}, {"relu2_2": generated}, 7, max_channels=2, log_histograms=True
        )
        writer.close()
        assert used["relu2_2"].tolist() == [1, 3]
        events = tensorboard_events(tmp_path)
        scalars = {tag: events.Scalars(tag)[0] for tag in events.Tags()["scalars"]}
        assert scalars["vgg/relu2_2/mean_activation_real"].value == pytest.approx(3 / 4)
        assert scalars["vgg/relu2_2/mean_activation_generated"].value == pytest.approx(7 / 4)
        assert scalars["vgg/relu2_2/zero_channels_real"].value == pytest.approx(0.5)
        assert scalars["vgg/relu2_2/zero_channels_generated"].value == pytest.approx(0.25)
        assert scalars["vgg/relu2_2/distance"].value == pytest.approx((9 + 1) / 4)  # mean of squared differences
        assert scalars["vgg/relu2_2/distance"].step == 7
        assert events.Tags()["images"] == ["vgg/relu2_2"]
        image = events.Images("vgg/relu2_2")[0]
        # 2 channels of 8x8 upscaled to 32 (min_size), 2 columns, padding 2: each panel 70 x 36; gap 8
        assert (image.width, image.height) == (3 * 70 + 2 * 8, 36)
        assert _png_size(image.encoded_image_string) == (226, 36)
        assert set(events.Tags()["histograms"]) == {"vgg/relu2_2/hist_real", "vgg/relu2_2/hist_generated"}

    def test_given_channels_are_reused_and_large_maps_pooled(self, tmp_path):
        torch.manual_seed(0)
        real, generated = torch.rand(1, 6, 128, 128), torch.rand(1, 6, 128, 128)
        writer = SummaryWriter(str(tmp_path))
        used = log_feature_maps(
            writer,
            {"relu1_2": real},
            {"relu1_2": generated},
            0,
            channels={"relu1_2": [5, 0, 2]},
            style=GridStyle(min_size=32, max_size=32),
        )
        writer.close()
        assert used["relu1_2"].tolist() == [5, 0, 2]
        image = tensorboard_events(tmp_path).Images("vgg/relu1_2")[0]
        assert (image.width, image.height) == (3 * (2 * 32 + 3 * 2) + 2 * 8, 2 * 32 + 3 * 2)  # 128 px maps -> 32

    def test_errors(self, tmp_path):
        feats = {"relu1_1": torch.rand(1, 2, 4, 4)}
        with pytest.raises(TypeError, match="SummaryWriter"):
            log_feature_maps(object(), feats, feats, 0)
        writer = SummaryWriter(str(tmp_path))
        with pytest.raises(ValueError, match="not in real_features"):
            log_feature_maps(writer, feats, feats, 0, layers=["relu4_1"])
        with pytest.raises(ValueError, match="same shape"):
            log_feature_maps(writer, feats, {"relu1_1": torch.rand(1, 3, 4, 4)}, 0)
        writer.close()


# ------------------------------------------------------------------------------------------------ Lightning
class ToyGAN(pl.LightningModule):
    """A one-conv "generator" trained with a perceptual loss; returns the loss's features per the contract."""

    def __init__(self, *, layers=("relu2_2", "relu4_1"), supply: bool = True) -> None:
        super().__init__()
        self.generator = torch.nn.Conv2d(3, 3, 3, padding=1)
        self.loss = PerceptualLoss(dict.fromkeys(layers, 1.0), weights="random", input_range=(-1, 1))
        self.supply = supply
        self.first_features = None

    def training_step(self, batch, batch_idx):
        real = batch[0]
        fake = torch.tanh(self.generator(real))
        out = self.loss(fake, real, return_features=True)
        if self.first_features is None:
            self.first_features = (
                {k: v.detach().clone() for k, v in out.target_features.items()},
                {k: v.detach().clone() for k, v in out.pred_features.items()},
            )
        result = {"loss": out.loss}
        if self.supply:
            result["vgg_features"] = {
                "real": {k: v.detach() for k, v in out.target_features.items()},
                "generated": {k: v.detach() for k, v in out.pred_features.items()},
            }
        return result

    def configure_optimizers(self):
        return torch.optim.SGD(self.generator.parameters(), lr=0.01)


def _loader(batches: int = 5, size: int = 32) -> torch.utils.data.DataLoader:
    torch.manual_seed(0)
    data = torch.rand(batches * 2, 3, size, size) * 2 - 1
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data), batch_size=2)


def _trainer(logger, callback, batches: int = 5) -> pl.Trainer:
    return pl.Trainer(
        max_epochs=1,
        limit_train_batches=batches,
        logger=logger,
        callbacks=[callback],
        accelerator="cpu",
        devices=1,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
    )


@pytest.fixture
def count_vgg_forwards(monkeypatch):
    calls = []
    original = VGGFeatures.forward

    def counting(self, x):
        calls.append(x.shape[0])
        return original(self, x)

    monkeypatch.setattr(VGGFeatures, "forward", counting)
    return calls


def test_callback_logs_supplied_features_without_its_own_vgg_pass(tmp_path, count_vgg_forwards):
    model = ToyGAN()
    baseline = len(count_vgg_forwards)
    monitor = FeatureMapMonitor(layers=("relu2_2", "relu4_1", "relu3_3"), every_n_batches=2, max_channels=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _trainer(TensorBoardLogger(str(tmp_path), name="run"), monitor).fit(model, _loader())
    forwards_with_monitor = len(count_vgg_forwards) - baseline

    count_vgg_forwards.clear()
    _trainer(False, pl.Callback()).fit(ToyGAN(), _loader())
    assert forwards_with_monitor == len(count_vgg_forwards)  # the callback added no VGG pass

    # relu3_3 is not computed by the loss: skipped with one warning
    missing = [w for w in caught if "relu3_3" in str(w.message)]
    assert len(missing) == 1
    events = tensorboard_events(tmp_path / "run")
    assert sorted(events.Tags()["images"]) == ["vgg/relu2_2", "vgg/relu4_1"]
    assert [event.step for event in events.Images("vgg/relu4_1")] == [0, 2, 4]  # batches 0, 2, 4 of 5
    for stat in ("mean_activation_real", "mean_activation_generated", "zero_channels_real", "distance"):
        assert [s.step for s in events.Scalars(f"vgg/relu4_1/{stat}")] == [0, 2, 4]
    # channels chosen once, on the first logged batch, by real-vs-generated difference
    real, generated = model.first_features
    for layer in ("relu2_2", "relu4_1"):
        score = (real[layer] - generated[layer]).abs().mean(dim=(0, 2, 3))
        assert monitor.channels[layer].tolist() == sorted(score.topk(4).indices.tolist())
    first = events.Scalars("vgg/relu4_1/distance")[0].value
    expected = torch.nn.functional.mse_loss(generated["relu4_1"], real["relu4_1"]).item()
    assert first == pytest.approx(expected, rel=1e-5)
    assert monitor.state_dict()["batches_seen"] == 5


def test_without_tensorboard_logger_warns_once(tmp_path):
    monitor = FeatureMapMonitor(every_n_batches=1)
    with pytest.warns(UserWarning, match="no TensorBoardLogger") as record:
        _trainer(CSVLogger(str(tmp_path)), monitor, batches=2).fit(ToyGAN(), _loader(2))
    assert sum("TensorBoardLogger" in str(w.message) for w in record) == 1
    assert not list(tmp_path.rglob("events.out.tfevents.*"))


def test_fallback_uses_configured_monitoring_batch(tmp_path, count_vgg_forwards):
    fixed = torch.rand(2, 3, 32, 32) * 2 - 1
    extractor = VGGFeatures(["relu1_2", "relu2_2"], weights="random", input_range=(-1, 1))

    def monitor_images(module):
        return fixed, torch.tanh(module.generator(fixed))

    monitor = FeatureMapMonitor(
        layers=("relu1_2",), every_n_batches=2, extractor=extractor, monitor_images=monitor_images
    )
    model = ToyGAN(layers=("relu2_2",), supply=False)
    _trainer(TensorBoardLogger(str(tmp_path), name="fb"), monitor, batches=3).fit(model, _loader(3))
    own = [n for n in count_vgg_forwards if n == 4]  # the monitor's batched pass: 2 real + 2 generated
    assert len(own) == 2  # batches 0 and 2
    assert [e.step for e in tensorboard_events(tmp_path / "fb").Images("vgg/relu1_2")] == [0, 2]


def test_no_features_and_no_fallback_warns_once(tmp_path):
    monitor = FeatureMapMonitor(every_n_batches=1)
    with pytest.warns(UserWarning, match="returned no 'vgg_features'") as record:
        _trainer(TensorBoardLogger(str(tmp_path), name="none"), monitor, batches=3).fit(
            ToyGAN(supply=False), _loader(3)
        )
    assert sum("vgg_features" in str(w.message) for w in record) == 1


def test_embedding_is_written(tmp_path):
    monitor = FeatureMapMonitor(
        layers=("relu4_1",), every_n_batches=10, embedding_layer="block4_conv1", embedding_samples=4
    )
    _trainer(TensorBoardLogger(str(tmp_path), name="emb"), monitor, batches=3).fit(ToyGAN(), _loader(3))
    projector = list((tmp_path / "emb").rglob("projector_config.pbtxt"))
    assert projector and "embedding_relu4_1" in projector[0].read_text()
    tensors = list((tmp_path / "emb").rglob("tensors.tsv"))
    assert tensors and len(tensors[0].read_text().strip().splitlines()) == 8  # 4 real + 4 generated
    metadata = next((tmp_path / "emb").rglob("metadata.tsv")).read_text().split()
    assert metadata.count("real") == 4 and metadata.count("generated") == 4


def test_constructor_checks():
    with pytest.raises(ValueError, match="every_n_batches"):
        FeatureMapMonitor(every_n_batches=0)
    with pytest.raises(ValueError, match="channel_selection"):
        FeatureMapMonitor(channel_selection="random")
    with pytest.raises(ValueError, match="both or neither"):
        FeatureMapMonitor(extractor=VGGFeatures(["relu1_1"], weights="random"))
    assert np.isfinite(FeatureMapMonitor().every_n_batches)


class _RecordingWriter:
    def __init__(self) -> None:
        self.images: list[tuple[str, int]] = []
        self.scalars: list[tuple[str, int]] = []

    def add_image(self, tag, image, step, dataformats="CHW"):
        self.images.append((tag, step))

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, step))

    def add_histogram(self, tag, values, step):
        pass


def test_throttles_by_batches_seen_on_rank_zero_only():
    from types import SimpleNamespace

    feats = {"relu1_1": torch.rand(2, 3, 8, 8)}
    outputs = {"vgg_features": {"real": feats, "generated": {"relu1_1": torch.rand(2, 3, 8, 8)}}}
    monitor = FeatureMapMonitor(layers=None, every_n_batches=3)
    monitor._writer = writer = _RecordingWriter()
    rank0 = SimpleNamespace(global_rank=0, global_step=0)
    for _ in range(2):  # batch_idx restarts every epoch; global_step jumps by 2 (two optimizers)
        for batch_idx in range(4):
            rank0.global_step += 2
            monitor.on_train_batch_end(rank0, None, outputs, None, batch_idx)
    monitor.teardown(rank0, None, "fit")  # waits for the background writes
    assert [step for _, step in writer.images] == [0, 3, 6]
    other = FeatureMapMonitor(layers=None, every_n_batches=1)
    other._writer = writer_1 = _RecordingWriter()
    other.on_train_batch_end(SimpleNamespace(global_rank=1), None, outputs, None, 0)
    assert writer_1.images == [] and writer_1.scalars == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_log_feature_maps_on_cuda_copies_once_per_image():
    torch.manual_seed(0)
    real = {name: torch.rand(2, 32, size, size, device="cuda") for name, size in (("relu1_2", 64), ("relu3_3", 16))}
    generated = {name: torch.rand_like(value) for name, value in real.items()}
    writer = _RecordingWriter()
    log_feature_maps(writer, real, generated, 0)  # warm-up
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            log_feature_maps(writer, real, generated, 1)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    assert len(syncs) <= len(real) + 1  # one copy per layer image + one for all scalars
    assert len(writer.images) == 4 and len(writer.scalars) == 20
