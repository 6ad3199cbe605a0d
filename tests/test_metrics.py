"""The torchmetrics metrics (``perceptual.metrics``): accumulated over batches they equal the mean of the per-image values
of the reference packages (``lpips``, ``dists-pytorch``) and of a hand computation on torchvision's VGG, and a 2-process
DDP run (gloo, CPU) equals one process over all the data."""

from __future__ import annotations

import warnings

import pytest
import torch
from _metrics_ddp import BATCH_SIZES, batches, build_metrics, run_rank
from conftest import reference_taps, save_trunk

from perceptual import VGG16_LAYERS
from perceptual.metrics import DISTSMetric, LPIPSMetric

lpips_package = pytest.importorskip("lpips", reason="the lpips package is the reference (pip install lpips)")
dists_module = pytest.importorskip("DISTS_pytorch.DISTS_pt", reason="dists-pytorch is the reference")
pytest.importorskip("skimage.data", reason="scikit-image ships the real photos")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> dict:
    """The reference packages on seeded random torchvision trunks, and those trunks as files for ours."""
    folder = tmp_path_factory.mktemp("trunks")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        vgg = lpips_package.LPIPS(net="vgg", pnet_rand=True, verbose=False).eval()
        torch.manual_seed(1)
        alex = lpips_package.LPIPS(net="alex", pnet_rand=True, verbose=False).eval()
        original = dists_module.models.vgg16
        torch.manual_seed(2)
        dists_module.models.vgg16 = lambda *args, **kwargs: original(weights=None)
        try:
            dists = dists_module.DISTS().eval()
        finally:
            dists_module.models.vgg16 = original
    files = (
        save_trunk([getattr(vgg.net, f"slice{i}") for i in range(1, 6)], folder / "lpips_vgg16.pth"),
        save_trunk([getattr(alex.net, f"slice{i}") for i in range(1, 6)], folder / "lpips_alexnet.pth"),
        save_trunk([getattr(dists, f"stage{i}") for i in range(1, 6)], folder / "dists_vgg16.pth"),
    )
    return {"vgg": vgg, "alex": alex, "dists": dists, "files": files}


def _reference_values(references, pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image values: the packages' own, and the feature distance computed by hand on torchvision's VGG16 (the
    LPIPS trunk's weights, ImageNet normalization written out, no in-place ReLU)."""
    import torchvision

    features = torchvision.models.vgg16(weights=None).features.eval()
    state = torch.load(references["files"][0], weights_only=True)
    features.load_state_dict({k.removeprefix("features."): v for k, v in state.items()}, strict=False)
    with torch.no_grad():
        fp = reference_taps(features, pred, VGG16_LAYERS, depth=19)
        ft = reference_taps(features, target, VGG16_LAYERS, depth=19)
        feature = sum(
            weight * (fp[name] - ft[name]).square().mean(dim=(1, 2, 3))
            for name, weight in {"relu2_2": 1.0, "relu4_1": 0.5}.items()
        )
        return {
            "lpips_vgg": references["vgg"](pred, target, normalize=True).reshape(-1),
            "lpips_alex": references["alex"](pred, target, normalize=True).reshape(-1),
            "dists": references["dists"](pred, target),
            "feature": feature,
        }


def test_two_batches_compute_the_mean_of_the_reference_per_image_values(references) -> None:
    data = batches()[:2]  # 3 images, then 1: a mean of batch means would weigh the single image 3 times too much
    metrics = build_metrics(*references["files"])
    for pred, target in data:
        for metric in metrics.values():
            metric.update(pred, target)
    pred = torch.cat([p for p, _ in data])
    target = torch.cat([t for _, t in data])
    expected = _reference_values(references, pred, target)
    for name, metric in metrics.items():
        assert int(metric.count) == 4, name
        torch.testing.assert_close(metric.compute(), expected[name].mean(), rtol=1e-5, atol=1e-8, msg=name)
        per_batch_mean = torch.stack([expected[name][:3].mean(), expected[name][3:].mean()]).mean()
        assert not torch.allclose(metric.compute(), per_batch_mean, rtol=1e-3), name  # the pair tells them apart
    metrics["lpips_vgg"].reset()
    assert int(metrics["lpips_vgg"].count) == 0
    assert metrics["lpips_vgg"].lpips.state_dict() == {}  # no trunk or calibration in a checkpoint


def test_metrics_refuse_modules_that_do_not_give_one_value_per_image(references) -> None:
    from perceptual import DISTS, LPIPS

    with pytest.raises(ValueError, match="reduction='none'"):
        LPIPSMetric(lpips=LPIPS(weights=references["files"][0], reduction="mean"))
    with pytest.raises(ValueError, match="spatial=False"):
        LPIPSMetric(lpips=LPIPS(weights=references["files"][0], spatial=True))
    with pytest.raises(ValueError, match="reduction='none'"):
        DISTSMetric(dists=DISTS(weights=references["files"][2], reduction="sum"))
    with pytest.raises(TypeError, match="lpips must be a perceptual.LPIPS"):
        LPIPSMetric(lpips=object())  # type: ignore[arg-type]


@pytest.mark.slow
def test_two_ddp_processes_equal_one_process_over_all_the_data(references, tmp_path) -> None:
    torch.multiprocessing.spawn(
        run_rank, args=(2, str(tmp_path / "init"), str(tmp_path), references["files"]), nprocs=2, join=True
    )
    ranks = [torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in (0, 1)]
    whole = build_metrics(*references["files"])
    for pred, target in batches():
        for metric in whole.values():
            metric.update(pred, target)
    for name, metric in whole.items():
        assert [result["counts"][name] for result in ranks] == [5, 3]  # each rank's own images: uneven shares
        for result in ranks:  # compute() syncs: every rank returns the mean over all 8 images
            torch.testing.assert_close(result["values"][name], metric.compute(), rtol=1e-6, atol=1e-9, msg=name)
    assert int(whole["dists"].count) == sum(BATCH_SIZES)
