"""BeautyGAN's validation logs the mean LPIPS and DISTS of each made-up source against its source over the whole
held-out set (:mod:`beautygan.training.image_metrics`): checked against :class:`perceptual.LPIPS` and
:class:`perceptual.DISTS` (themselves checked against the ``lpips`` and ``dists-pytorch`` packages in
``test_lpips.py`` / ``test_dists.py``) run by hand on every pair, with batches of unequal size, so that a mean of
batch means would differ."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch

from beautygan.data.synthetic import write_synthetic_mt
from beautygan.training.datamodule import MTDataModule
from beautygan.training.module import BeautyGAN
from perceptual import DISTS, LPIPS, load_weights

pytestmark = [
    pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning"),
    pytest.mark.filterwarnings("ignore:.*(does not have many workers|LeafSpec|eval mode).*"),
]
TINY = dict(generator_width=4, residual_blocks=1, discriminator_width=4, vgg_weights="random", monitor_layers=[])


def test_validation_logs_lpips_and_dists_over_every_held_out_pair(tmp_path: Path) -> None:
    root = write_synthetic_mt(tmp_path / "mt", n=6, size=32, held_out=3, seed=2)
    model = BeautyGAN(**TINY).eval()
    datamodule = MTDataModule(str(root), image_size=32, batch_size=2, num_workers=0)  # batches of 2 and 1
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    (logged,) = trainer.validate(model, datamodule=datamodule, verbose=False)

    weights = load_weights("random", arch="vgg16")
    lpips = LPIPS(weights=weights, input_range=(-1, 1))
    dists = DISTS(weights=weights, input_range=(-1, 1))
    values: dict[str, list[torch.Tensor]] = {"lpips": [], "dists": []}
    sizes = []
    with torch.no_grad():
        for batch in datamodule.val_dataloader():
            made_up = model.generator(non_makeup=batch["source"], makeup=batch["reference"]).makeup
            values["lpips"].append(lpips(made_up, batch["source"]))
            values["dists"].append(dists(made_up, batch["source"]))
            sizes.append(len(batch["source"]))
    assert sizes == [2, 1]
    for name, parts in values.items():
        per_image = torch.cat(parts)
        assert logged[f"val/{name}_to_source"] == pytest.approx(per_image.mean().item(), rel=1e-5, abs=1e-7)
        batch_means = torch.stack([p.mean() for p in parts]).mean().item()
        assert abs(per_image.mean().item() - batch_means) > 1e-6  # the check can tell the two means apart


def test_presets_whose_vgg_is_not_imagenet_vgg16_log_neither_and_say_why() -> None:
    model = BeautyGAN(**TINY, preset="official")
    assert dict(model.image_metrics["val"]) == {}
    assert model.image_metric_notes == [
        "validation lpips, dists left out: they are defined on VGG16 with ImageNet normalization, and this "
        "preset's VGG is not (use preset 'paper')"
    ]
    assert dict(BeautyGAN(**TINY, validation_metrics=()).image_metrics["test"]) == {}
    with pytest.raises(ValueError, match="validation_metrics must be among"):
        BeautyGAN(**TINY, validation_metrics=("fid",))


def test_the_metrics_trunks_stay_out_of_checkpoints() -> None:
    with_metrics = BeautyGAN(**TINY).state_dict()
    without = BeautyGAN(**TINY, validation_metrics=()).state_dict()
    assert set(with_metrics) == set(without)


def test_the_metrics_leave_a_seeded_run_alone() -> None:
    """Building the metrics' VGG trunks draws no random numbers: with or without them, the same seed gives the same
    networks and the same random state afterwards (the data order, for one)."""
    runs = []
    for names in ((), ("lpips", "dists")):
        torch.manual_seed(0)
        model = BeautyGAN(**TINY, validation_metrics=names)
        runs.append((model, torch.rand(4)))
    (bare, bare_next), (measured, measured_next) = runs
    assert set(measured.image_metrics["val"]) == {"lpips", "dists"} and not bare.image_metrics["val"]
    assert torch.equal(bare_next, measured_next)
    trained = {k: p for k, p in measured.named_parameters() if p.requires_grad}
    assert trained.keys() == {k for k, p in bare.named_parameters() if p.requires_grad}
    for key, parameter in bare.named_parameters():
        if parameter.requires_grad:
            assert torch.equal(parameter, trained[key]), key


def test_metrics_on_weights_other_than_the_pretrained_ones_say_so() -> None:
    model = BeautyGAN(**TINY)  # random VGG16 weights
    assert set(model.image_metrics["val"]) == {"lpips", "dists"}
    assert model.image_metric_notes == [
        "validation lpips, dists on VGG16 weights that are not torchvision's pretrained ones (random): the logged "
        "values are not the published metrics"
    ]
