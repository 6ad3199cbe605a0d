"""perceptual.pictures.event_writer: the background writer loses nothing (order, bounded queue, shutdown, errors), the
native CRC32C writes TensorBoard's bytes, and FeatureMapMonitor's last logged batch reaches the event file whether the
run ends normally or by an exception in the next step."""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest
import torch
from conftest import tensorboard_events

pytest.importorskip("lightning")
pytest.importorskip("tensorboard")

import lightning.pytorch as pl  # noqa: E402
from lightning.pytorch.loggers import TensorBoardLogger  # noqa: E402
from PIL import Image  # noqa: E402
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow  # noqa: E402
from tensorboard.summary.writer import record_writer  # noqa: E402
from torch.utils.tensorboard import SummaryWriter  # noqa: E402

import perceptual.pictures.feature_logs as feature_logs  # noqa: E402
from perceptual import PerceptualLoss  # noqa: E402
from perceptual.pictures.event_writer import BackgroundWriter, use_native_crc32c  # noqa: E402
from perceptual.pictures.monitor import FeatureMapMonitor  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore::perceptual.RandomWeightsWarning",
    "ignore:.*does not have many workers.*",
    "ignore:.*LeafSpec.*",
    r"ignore:.*module\(s\) in eval mode.*",
)


def _decode(encoded: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(encoded)) as picture:
        return np.asarray(picture.convert("RGB"))


# ------------------------------------------------------------------------------------------------ CRC32C
def test_native_crc32c_writes_tensorboards_checksums():
    pytest.importorskip("google_crc32c")
    pure_python = pywrap_tensorflow.masked_crc32c  # TensorBoard's own implementation, the reference
    assert use_native_crc32c() is True
    native = record_writer.masked_crc32c
    assert native is not pure_python and getattr(native, "_perceptual_native", False)
    assert use_native_crc32c() is True and record_writer.masked_crc32c is native  # idempotent
    # CRC-32C check value (RFC 3720, B.4): crc32c(b"123456789") = 0xE3069283, masked as TFRecord does
    crc = 0xE3069283
    assert native(b"123456789") == (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
    rng = np.random.default_rng(0)
    for length in (0, 1, 7, 8, 12, 1000, 65537):
        data = rng.integers(0, 256, length, dtype=np.uint8).tobytes()
        assert native(data) == pure_python(data), length


# ------------------------------------------------------------------------------------------------ the writer
class _SlowWriter:
    """Records every call, slowly, so that the queue fills up."""

    def __init__(self, delay: float = 0.01) -> None:
        self.delay = delay
        self.calls: list[tuple[str, int, object]] = []
        self.flushed = 0

    def add_image(self, tag, image, step, dataformats="CHW"):
        time.sleep(self.delay)
        self.calls.append((tag, step, np.array(image)))

    def add_scalar(self, tag, value, step):
        self.calls.append((tag, step, value))

    def add_histogram(self, tag, values, step):
        self.calls.append((tag, step, np.array(values)))

    def flush(self):
        self.flushed += 1


def test_every_queued_call_arrives_in_order_through_a_bounded_queue():
    slow = _SlowWriter()
    writer = BackgroundWriter(slow, max_queue=2, native_crc32c=False)
    largest_backlog = 0
    images = [torch.full((3, 2, 2), float(i)) for i in range(25)]
    for step, image in enumerate(images):
        writer.add_image("img", image, step)
        writer.add_scalar("s", torch.tensor(step / 2), step)
        largest_backlog = max(largest_backlog, writer.pending)
        image.add_(100)  # the caller reuses its buffer: the writer must have copied it at the call
    writer.close()
    assert largest_backlog <= 3  # 2 waiting + 1 running: the caller waited instead of the queue growing
    assert [(tag, step) for tag, step, _ in slow.calls] == [(t, s) for s in range(25) for t in ("img", "s")]
    for step in range(25):
        assert np.array_equal(slow.calls[2 * step][2], np.full((3, 2, 2), float(step), dtype=np.float32))
        assert slow.calls[2 * step + 1][2] == step / 2
    assert slow.flushed >= 1
    writer.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        writer.add_scalar("s", 1.0, 0)


def test_an_error_in_the_worker_reaches_the_caller():
    class Failing(_SlowWriter):
        def add_histogram(self, tag, values, step):
            raise OSError("disk full")

    writer = BackgroundWriter(Failing(delay=0), native_crc32c=False)
    writer.add_histogram("h", np.zeros(3), 0)
    with pytest.raises(RuntimeError, match="disk full"):
        writer.flush()
    writer.close()
    with pytest.raises(ValueError, match="max_queue"):
        BackgroundWriter(_SlowWriter(), max_queue=0)


def test_images_reach_a_real_event_file_bit_for_bit(tmp_path):
    summary = SummaryWriter(str(tmp_path))
    rng = np.random.default_rng(1)
    pictures = [rng.integers(0, 256, (12, 10, 3), dtype=np.uint8) for _ in range(20)]
    with BackgroundWriter(summary) as writer:
        for step, picture in enumerate(pictures):
            writer.add_image("photo", torch.from_numpy(picture), step, dataformats="HWC")
    summary.close()
    events = tensorboard_events(tmp_path).Images("photo")
    assert [event.step for event in events] == list(range(20))
    for event, picture in zip(events, pictures):
        assert np.array_equal(_decode(event.encoded_image_string), picture)


# ------------------------------------------------------------------------------------------------ the callback
class _StopAt(Exception):
    pass


class _TinyGAN(pl.LightningModule):
    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__()
        self.generator = torch.nn.Conv2d(3, 3, 3, padding=1)
        self.loss = PerceptualLoss({"relu1_2": 1.0, "relu2_1": 1.0}, weights="random", input_range=(-1, 1))
        self.fail_at = fail_at

    def training_step(self, batch, batch_idx):
        if batch_idx == self.fail_at:
            raise _StopAt(f"stopped at batch {batch_idx}")
        real = batch[0]
        out = self.loss(torch.tanh(self.generator(real)), real, return_features=True)
        features = {"real": out.target_features, "generated": out.pred_features}
        return {
            "loss": out.loss,
            "vgg_features": {side: {k: v.detach() for k, v in f.items()} for side, f in features.items()},
        }

    def configure_optimizers(self):
        return torch.optim.SGD(self.generator.parameters(), lr=0.01)


@pytest.fixture
def slow_encoding(monkeypatch):
    """PNG encoding that takes 0.3 s in the writer's thread: without the flushes the last images would be lost."""
    original = feature_logs.palette_image
    threads = set()

    def slow(*args, **kwargs):
        threads.add(threading.current_thread().name)
        time.sleep(0.3)
        return original(*args, **kwargs)

    monkeypatch.setattr(feature_logs, "palette_image", slow)
    return threads


@pytest.mark.parametrize("ending", ["normal", "exception"])
def test_the_last_logged_batch_reaches_the_event_file(tmp_path, slow_encoding, ending):
    torch.manual_seed(0)
    data = torch.rand(10, 3, 32, 32) * 2 - 1
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data), batch_size=2)
    monitor = FeatureMapMonitor(layers=("relu1_2", "relu2_1"), every_n_batches=2, max_channels=2)
    trainer = pl.Trainer(
        max_epochs=1,
        limit_train_batches=3 if ending == "normal" else 5,
        logger=TensorBoardLogger(tmp_path, name="run"),
        callbacks=[monitor],
        accelerator="cpu",
        devices=1,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
    )
    model = _TinyGAN(fail_at=None if ending == "normal" else 3)
    if ending == "normal":
        trainer.fit(model, loader)  # batches 0, 1, 2: logged at 0 and at 2, the last one
    else:
        with pytest.raises(_StopAt):
            trainer.fit(model, loader)  # logged at 0 and 2, then batch 3 raises
    assert slow_encoding == {"perceptual-BackgroundWriter"}  # the encoding ran off the training thread
    events = tensorboard_events(tmp_path / "run")
    for layer in ("relu1_2", "relu2_1"):
        assert [event.step for event in events.Images(f"vgg/{layer}")] == [0, 2]
        assert [event.step for event in events.Scalars(f"vgg/{layer}/distance")] == [0, 2]
    assert monitor._writer is None  # the background thread is stopped
