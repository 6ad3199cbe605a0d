"""FeatureMapMonitor's labels, channel ranking, re-selection and per-region distances: the logged numbers against
numpy and hand computations, the caption pixels against glyphs written out by hand."""

from __future__ import annotations

import io
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import tensorboard_events
from PIL import Image

pytest.importorskip("lightning")
pytest.importorskip("tensorboard")

import lightning.pytorch as pl  # noqa: E402
from lightning.pytorch.loggers import TensorBoardLogger  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402
from torch.utils.tensorboard import SummaryWriter  # noqa: E402

from perceptual import PerceptualLoss  # noqa: E402
from perceptual.pictures.feature_logs import log_feature_maps, region_distances  # noqa: E402
from perceptual.pictures.monitor import FeatureMapMonitor  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore::perceptual.RandomWeightsWarning",
    "ignore:.*does not have many workers.*",
    "ignore:.*LeafSpec.*",
    "ignore:.*smaller than the logging interval.*",
    r"ignore:.*module\(s\) in eval mode.*",
)

TWO = ("111", "001", "111", "100", "111")
FIVE = ("111", "100", "111", "001", "111")


def _ranking_rows(events, tag: str) -> list[tuple[int, int, float, bool]]:
    (event,) = events.Tensors(tag)
    text = tensor_util.make_ndarray(event.tensor_proto).flatten()[0].decode()
    rows = [line.strip("|").split("|") for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    return [(int(rank), int(channel), float(score), shown.strip() == "yes") for rank, channel, score, shown in rows]


class TestLabelledPictures:
    def test_ranking_text_against_numpy(self, tmp_path):
        rng = np.random.default_rng(0)
        real, generated = rng.normal(size=(3, 10, 6, 6)), rng.normal(size=(3, 10, 6, 6))
        writer = SummaryWriter(str(tmp_path))
        used = log_feature_maps(
            writer,
            {"relu1_1": torch.from_numpy(real).float()},
            {"relu1_1": torch.from_numpy(generated).float()},
            4,
            max_channels=4,
            channels={"relu1_1": [0, 1, 2, 3]},
            titles=("source", "made-up"),
        )
        writer.close()
        assert used["relu1_1"].tolist() == [0, 1, 2, 3]
        rows = _ranking_rows(tensorboard_events(tmp_path), "vgg/relu1_1/ranking/text_summary")
        scores = np.abs(real - generated).mean(axis=(0, 2, 3))  # over the batch and every position
        order = np.argsort(-scores)[:4]
        assert [row[0] for row in rows] == [1, 2, 3, 4]
        assert [row[1] for row in rows] == order.tolist()
        np.testing.assert_allclose([row[2] for row in rows], scores[order], rtol=1e-3)
        assert [row[3] for row in rows] == [int(c) in (0, 1, 2, 3) for c in order]

    def test_difference_tiles_carry_the_drawn_samples_distance(self, tmp_path):
        real = torch.zeros(2, 2, 8, 8)
        generated = real.clone()
        generated[0, 0] = 2.0  # sample 0: mean |r - g| of channel 0 is 2, of channel 1 is 5
        generated[0, 1] = -5.0
        generated[1] = 9.0  # sample 1 (not drawn) differs more: the ranking sees it, the captions do not
        writer = SummaryWriter(str(tmp_path))
        log_feature_maps(writer, {"relu1_1": real}, {"relu1_1": generated}, 0, titles=("real", "generated"))
        writer.close()
        (event,) = tensorboard_events(tmp_path).Images("vgg/relu1_1")
        indices = np.asarray(Image.open(io.BytesIO(event.encoded_image_string)))  # palette PNG: 254 white, 255 black
        grid_height = 32 + 2 * 2  # one row of 8 px maps upscaled to 32, padding 2
        header = indices.shape[0] - grid_height
        assert header > 0 and indices.shape[1] == 3 * 70 + 2 * 8
        for tile, glyph in ((0, TWO), (1, FIVE)):
            left = 2 * (70 + 8) + 2 + tile * 34  # the |difference| panel, its padding, the tile pitch
            bottom = header + 2 + 32
            box = indices[bottom - 6 : bottom - 1, left + 1 : left + 4]  # the glyph inside its one-pixel outline
            assert np.array_equal(box == 254, np.array([[c == "1" for c in row] for row in glyph])), tile

    def test_without_titles_no_text_is_added(self, tmp_path):
        writer = SummaryWriter(str(tmp_path))
        feats = {"relu1_1": torch.rand(1, 2, 8, 8)}
        log_feature_maps(writer, feats, {"relu1_1": torch.rand(1, 2, 8, 8)}, 0)
        writer.close()
        events = tensorboard_events(tmp_path)
        assert events.Tags()["tensors"] == []
        assert (events.Images("vgg/relu1_1")[0].height) == 36  # the grids only

    def test_pca_picture(self, tmp_path):
        writer = SummaryWriter(str(tmp_path))
        torch.manual_seed(0)
        log_feature_maps(writer, {"relu1_1": torch.rand(1, 6, 8, 8)}, {"relu1_1": torch.rand(1, 6, 8, 8)}, 0, pca=True)
        writer.close()
        (image,) = tensorboard_events(tmp_path).Images("vgg/relu1_1/pca")
        assert image.width == 2 + 96 + 8 + 96 + 2  # 8 px maps upscaled x12 to 96 px panels, padding 2, gap 8


# ------------------------------------------------------------------------------------------------ regions
class TestRegionDistances:
    def test_masked_crop_by_hand(self):
        real = torch.zeros(1, 2, 4, 4)
        generated = torch.zeros(1, 2, 4, 4)
        generated[0, :, 0, 0] = torch.tensor([1.0, 3.0])  # d = (1 + 9) / 2 = 5
        generated[0, :, 0, 1] = torch.tensor([2.0, 0.0])  # d = 2
        generated[0, :, 1, 0] = torch.tensor([4.0, 4.0])  # d = 16
        generated[0, :, 3, 3] = 10.0  # outside the region
        mask = torch.zeros(1, 1, 8, 8)
        mask[..., :3, :4] = 1.0  # image rows 0-2, columns 0-3: layer rows 0 (full) and 1 (half), columns 0-1
        distances = region_distances(real, generated, {"lips": mask})
        # m = [[1, 1], [0.5, 0.5]] on the top-left 2x2 crop: (5 + 2 + 0.5 * 16 + 0.5 * 0) / 3
        assert float(distances["lips"]) == pytest.approx(15 / 3)

    def test_pooled_over_the_batch_and_empty_regions(self):
        real = torch.zeros(2, 1, 2, 2)
        generated = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]], [[[3.0, 3.0], [0.0, 0.0]]]])
        mask = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]], [[[1.0, 1.0], [0.0, 0.0]]]])  # at the layer's size
        empty = torch.zeros(2, 1, 2, 2)
        distances = region_distances(real, generated, {"skin": mask, "eye_shadow": empty})
        assert float(distances["skin"]) == pytest.approx((1 + 9 + 9) / 3)  # not the mean of 1 and 9
        assert math.isnan(float(distances["eye_shadow"]))

    def test_checks(self):
        feats = torch.zeros(2, 3, 4, 4)
        with pytest.raises(ValueError, match=r"N = 2 \(the features' batch\), got shape \(1, 1, 4, 4\)"):
            region_distances(feats, feats, {"lips": torch.ones(1, 1, 4, 4)})
        with pytest.raises(ValueError, match=r"must be \(N, 1, H, W\)"):
            region_distances(feats, feats, {"lips": torch.ones(2, 3, 4, 4)})
        with pytest.raises(TypeError, match="float"):
            region_distances(feats, feats, {"lips": torch.ones(2, 1, 4, 4, dtype=torch.long)})
        with pytest.raises(TypeError, match="regions must be a dict"):
            region_distances(feats, feats, [torch.ones(2, 1, 4, 4)])


class RegionGAN(pl.LightningModule):
    """A one-conv generator whose step returns its perceptual loss's features and two face-region masks."""

    def __init__(self) -> None:
        super().__init__()
        self.generator = torch.nn.Conv2d(3, 3, 3, padding=1)
        self.loss = PerceptualLoss({"relu2_2": 1.0}, weights="random", input_range=(-1, 1))
        self.seen: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def training_step(self, batch, batch_idx):
        real = batch[0]
        out = self.loss(torch.tanh(self.generator(real)), real, return_features=True)
        lips = torch.zeros(real.shape[0], 1, *real.shape[-2:])
        lips[..., 8:20, 4:28] = 1.0
        self.seen.append(
            (out.target_features["relu2_2"].detach().clone(), out.pred_features["relu2_2"].detach().clone(), lips)
        )
        return {
            "loss": out.loss,
            "vgg_features": {
                "real": {k: v.detach() for k, v in out.target_features.items()},
                "generated": {k: v.detach() for k, v in out.pred_features.items()},
            },
            "regions": {"lips": lips, "eye_shadow": torch.zeros_like(lips)},
        }

    def configure_optimizers(self):
        return torch.optim.SGD(self.generator.parameters(), lr=0.01)


def test_monitor_logs_region_distances_from_the_step(tmp_path):
    torch.manual_seed(0)
    data = torch.rand(4, 3, 32, 32) * 2 - 1
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data), batch_size=2)
    model = RegionGAN()
    monitor = FeatureMapMonitor(layers=("relu2_2",), every_n_batches=1, max_channels=2, titles=("source", "made-up"))
    trainer = pl.Trainer(
        max_epochs=1,
        limit_train_batches=2,
        logger=TensorBoardLogger(str(tmp_path), name="run"),
        callbacks=[monitor],
        accelerator="cpu",
        devices=1,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, loader)
    events = tensorboard_events(tmp_path / "run")
    logged = events.Scalars("vgg/relu2_2/distance/lips")
    assert [event.step for event in logged] == [0, 1]
    assert "vgg/relu2_2/distance/eye_shadow" not in events.Tags()["scalars"]  # empty in the whole batch: skipped
    for event, (real, generated, lips) in zip(logged, model.seen):
        r, g, m = real.numpy(), generated.numpy(), lips.numpy()
        per_position = ((r - g) ** 2).mean(axis=1)  # (N, 16, 16)
        layer_mask = m.reshape(2, 16, 2, 16, 2).mean(axis=(2, 4))  # 32 -> 16 by area: 2x2 means
        assert event.value == pytest.approx((layer_mask * per_position).sum() / layer_mask.sum(), rel=1e-5)
    assert events.Tags()["tensors"] == ["vgg/relu2_2/ranking/text_summary"]
    picture = events.Images("vgg/relu2_2")[0]  # 2 channels of 16x16 maps upscaled to 32 px: grids 36 px high
    assert picture.height > 36 and picture.width == 3 * 70 + 2 * 8  # labelled by default: a header above the grids


# ------------------------------------------------------------------------------------------------ re-selection
class _Recorder:
    def __init__(self) -> None:
        self.images: list[tuple[str, int]] = []

    def add_image(self, tag, image, step, dataformats="CHW"):
        self.images.append((tag, step))

    def add_scalar(self, tag, value, step):
        pass

    def add_histogram(self, tag, values, step):
        pass

    def add_text(self, tag, text, step):
        pass


def _outputs(hot: int) -> dict:
    real = torch.zeros(1, 6, 4, 4)
    generated = real.clone()
    generated[:, hot] = 1.0  # channel `hot` differs most
    return {"vgg_features": {"real": {"relu1_1": real}, "generated": {"relu1_1": generated}}}


@pytest.mark.parametrize("every, expected", [(None, [0, 0, 0, 0, 0]), (2, [0, 0, 2, 2, 4])])
def test_reselect_every_n_logs(every, expected):
    monitor = FeatureMapMonitor(
        layers=None, every_n_batches=1, max_channels=1, reselect_every_n_logs=every, background=False
    )
    monitor._writer = _Recorder()
    trainer = SimpleNamespace(global_rank=0)
    shown, chosen_at = [], []
    for batch in range(5):
        monitor.on_train_batch_end(trainer, None, _outputs(hot=batch), None, batch)
        shown.append(int(monitor.channels["relu1_1"][0]))
        chosen_at.append(monitor.selected_at["relu1_1"])
    assert shown == expected
    assert chosen_at == expected  # channel b is hottest at batch b: chosen at batch b
    restored = FeatureMapMonitor(layers=None, every_n_batches=1)
    restored.load_state_dict(monitor.state_dict())
    assert restored.selected_at == monitor.selected_at and restored.channels["relu1_1"].tolist() == [expected[-1]]


def test_constructor_checks():
    with pytest.raises(ValueError, match="two names"):
        FeatureMapMonitor(titles=("source",))
    with pytest.raises(ValueError, match="does not draw"):
        FeatureMapMonitor(titles=("sourcé", "made-up"))
    with pytest.raises(ValueError, match="reselect_every_n_logs must be a positive integer or None, got 0"):
        FeatureMapMonitor(reselect_every_n_logs=0)
    assert FeatureMapMonitor(titles=["source", "made-up"]).titles == ("source", "made-up")
    assert FeatureMapMonitor(titles=None).titles is None
