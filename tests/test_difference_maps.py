"""Where real and generated differ, in TensorBoard: the LPIPS map against the ``lpips`` package's spatial map, the
per-layer maps by hand, and the logged picture read back from the event file (the hot region is where the photo
was changed)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from perceptual import LPIPS, LPIPS_LAYERS, VGGFeatures, VGGWeights
from perceptual.normalization import IMAGENET
from perceptual.pictures.difference_logs import difference_maps, log_difference_maps

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from torch.utils.tensorboard import SummaryWriter  # noqa: E402

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image ships the real photos")

pytestmark = pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning", "ignore::UserWarning")


def _astronaut_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """The astronaut (a real face) at 64x64 in [-1, 1], and a copy whose lower-right quadrant is inverted."""
    photo = torch.from_numpy(np.ascontiguousarray(skimage_data.astronaut()[::8, ::8])).permute(2, 0, 1).float()
    real = (photo / 127.5 - 1)[None]
    edited = real.clone()
    edited[..., 32:, 32:] = -edited[..., 32:, 32:]
    return real, edited


def test_layer_map_by_hand() -> None:
    real = {"relu1_2": torch.zeros(1, 4, 4, 4)}
    generated = {"relu1_2": torch.zeros(1, 4, 4, 4)}
    generated["relu1_2"][0, :, 1, 2] = 2.0  # one position differs by 2 in every channel
    maps = difference_maps(real, generated, (4, 4))
    expected = torch.zeros(1, 1, 4, 4)
    expected[0, 0, 1, 2] = 4.0  # mean over channels of 2^2
    torch.testing.assert_close(maps["relu1_2"], expected)


def test_lpips_map_equals_the_package_spatial_map() -> None:
    lpips_package = pytest.importorskip("lpips")
    torch.manual_seed(0)
    reference = lpips_package.LPIPS(net="vgg", pnet_rand=True, spatial=True, verbose=False).eval()
    trunk = {
        k: v
        for s in ("slice1", "slice2", "slice3", "slice4", "slice5")
        for k, v in getattr(reference.net, s).state_dict().items()
    }
    weights = VGGWeights(
        arch="vgg16", features=trunk, normalization=IMAGENET, source="lpips trunk", provenance="random"
    )
    extractor = VGGFeatures([*LPIPS_LAYERS, "relu2_1"], weights=weights, input_range=(-1, 1))
    real, generated = _astronaut_pair()
    with torch.no_grad():
        maps = difference_maps(
            extractor(real), extractor(generated), (64, 64), layers=["relu2_1"], lpips=LPIPS(extractor=extractor)
        )
        expected = reference(generated, real)
    assert list(maps) == ["lpips", "relu2_1"]
    torch.testing.assert_close(maps["lpips"], expected, rtol=1e-5, atol=1e-7)


def test_logged_picture_is_hot_where_the_photo_changed(tmp_path: Path) -> None:
    extractor = VGGFeatures(["relu1_2", "relu2_1"], weights="random", input_range=(-1, 1))
    real, generated = _astronaut_pair()
    with torch.no_grad():
        fr, fg = extractor(real), extractor(generated)
    writer = SummaryWriter(str(tmp_path))
    columns = log_difference_maps(writer, fr, fg, 7, images=(real, generated), tag_prefix="vgg")
    writer.close()
    assert columns == ["real", "generated", "relu1_2", "relu2_1"]
    events = EventAccumulator(str(tmp_path), size_guidance={"images": 0})
    events.Reload()
    (event,) = events.Images("vgg/difference")
    assert event.step == 7
    picture = np.asarray(Image.open(io.BytesIO(event.encoded_image_string)).convert("RGB")).astype(float)
    assert picture.shape == (64, 4 * 64 + 3 * 2, 3)
    first_tile = picture[:, :64]
    expected_real = ((real[0].permute(1, 2, 0) + 1) / 2).numpy()
    low, high = expected_real.min(), expected_real.max()
    np.testing.assert_allclose(first_tile, np.round((expected_real - low) / (high - low) * 255), atol=1)
    for index in (2, 3):  # the heatmaps: magma is bright where the difference is large
        tile = picture[:, index * 66 : index * 66 + 64].sum(axis=2)
        inside, outside = tile[36:, 36:].mean(), tile[:28, :28].mean()
        assert inside > 3 * outside, (columns[index], inside, outside)


def test_beautygan_with_lpips_logs_the_map_from_its_own_pass(tmp_path: Path, vgg16_file: str) -> None:
    """A BeautyGAN step with ``loss_weights.lpips``: the monitor finds the module's LPIPS, draws its map and logs
    ``vgg/lpips``, equal to a separately built LPIPS (its own VGG passes) on the step's source and made-up images."""
    pytest.importorskip("lpips", reason="the LPIPS calibration ships in the lpips package")
    import lightning as L
    from lightning.pytorch.loggers import TensorBoardLogger

    from beautygan.data.synthetic import write_synthetic_mt
    from beautygan.training.datamodule import MTDataModule
    from beautygan.training.module import BeautyGAN
    from perceptual.pictures.monitor import FeatureMapMonitor

    class Capture(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            self.images = {k: v.clone() for k, v in outputs["images"].items()}

    root = write_synthetic_mt(tmp_path / "mt", n=4, size=32, held_out=1, seed=0)
    torch.manual_seed(0)
    model = BeautyGAN(
        generator_width=4,
        residual_blocks=1,
        discriminator_width=4,
        vgg_weights=vgg16_file,
        monitor_layers=["relu1_2"],
        perceptual_layer="relu2_1",
        loss_weights={"lpips": 0.5},
    )
    capture = Capture()
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=1,
        limit_train_batches=1,
        limit_val_batches=0,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=TensorBoardLogger(str(tmp_path), name="tb"),
        callbacks=[capture, FeatureMapMonitor(layers=["relu1_2"], every_n_batches=1, difference_maps=True)],
    )
    trainer.fit(model, datamodule=MTDataModule(str(root), image_size=32, batch_size=2, num_workers=0))
    events = EventAccumulator(trainer.logger.log_dir, size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    (logged,) = events.Scalars("vgg/lpips")
    (picture,) = events.Images("vgg/difference")
    assert (picture.width, picture.height) == (4 * 32 + 3 * 2, 32)  # real | made-up | lpips | relu1_2
    with torch.no_grad():
        separate = LPIPS(weights=vgg16_file, input_range=(-1, 1))
        expected = separate(capture.images["generated"], capture.images["real"]).mean()
    assert logged.value == pytest.approx(float(expected), rel=1e-4)
    assert logged.value > 1e-3


def test_overlay_is_the_alpha_blend_of_the_first_map_over_the_real_image(tmp_path: Path) -> None:
    """``<prefix>/overlay``: 0.5 * real + 0.5 * magma(first map / its 99th percentile), against numpy and matplotlib."""
    cm = pytest.importorskip("matplotlib").colormaps
    extractor = VGGFeatures(["relu1_2", "relu2_1"], weights="random", input_range=(-1, 1))
    real, generated = _astronaut_pair()
    with torch.no_grad():
        fr, fg = extractor(real), extractor(generated)
    writer = SummaryWriter(str(tmp_path))
    log_difference_maps(writer, fr, fg, 3, images=(real, generated), titles=("source", "made-up"))
    writer.close()
    events = EventAccumulator(str(tmp_path), size_guidance={"images": 0})
    events.Reload()
    (event,) = events.Images("vgg/overlay")
    assert event.step == 3
    picture = np.asarray(Image.open(io.BytesIO(event.encoded_image_string)).convert("RGB")).astype(float)
    assert picture.shape == (64, 64, 3)
    photo = ((real[0].permute(1, 2, 0) + 1) / 2).numpy()
    base = np.round((photo - photo.min()) / (photo.max() - photo.min()) * 255)
    heat = ((fg["relu1_2"] - fr["relu1_2"]) ** 2).mean(dim=1)[0].numpy()  # relu1_2 is at the image size
    heat = np.clip(heat / np.quantile(heat, 0.99), 0, 1)
    expected = np.round(0.5 * base + 0.5 * np.round(cm["magma"](heat)[..., :3] * 255))
    rows = slice(8, 56)  # clear of the name at the top and the batch at the bottom
    np.testing.assert_allclose(picture[rows], expected[rows], atol=1)
    assert np.abs(picture[:7, :40] - expected[:7, :40]).max() > 100  # the label is there


def test_titles_name_the_panels_without_changing_the_size(tmp_path: Path) -> None:
    extractor = VGGFeatures(["relu1_2"], weights="random", input_range=(-1, 1))
    real, generated = _astronaut_pair()
    with torch.no_grad():
        fr, fg = extractor(real), extractor(generated)
    pictures = {}
    for name, titles in (("plain", None), ("titled", ("source", "made-up"))):
        writer = SummaryWriter(str(tmp_path / name))
        columns = log_difference_maps(writer, fr, fg, 5, images=(real, generated), titles=titles, overlay=False)
        writer.close()
        events = EventAccumulator(str(tmp_path / name), size_guidance={"images": 0})
        events.Reload()
        assert events.Tags()["images"] == ["vgg/difference"]
        (event,) = events.Images("vgg/difference")
        pictures[name] = np.asarray(Image.open(io.BytesIO(event.encoded_image_string)).convert("RGB"))
    assert columns == ["source", "made-up", "relu1_2"]
    plain, titled = pictures["plain"], pictures["titled"]
    assert plain.shape == titled.shape == (64, 3 * 64 + 2 * 2, 3)
    changed = (plain != titled).any(axis=2)
    assert not changed[8:57].any()  # only the top rows (names) and the bottom rows (batch) carry text
    for left in (0, 66, 132):  # every panel is named in its top-left corner
        assert changed[:7, left : left + 20].any()
    assert changed[57:, :40].any() and not changed[57:, 66:].any()  # "batch 5" in the first panel only
