"""BeautyGAN makeup loss against a plain numpy transcription of the official histogram matching."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _official_beautygan import _cal_trans as _official_table  # cal_trans, verbatim

from beautygan.training.histogram import histogram_matching_loss, match_histograms, to_pixel_scale


def _official_cdf(values: np.ndarray) -> list[float]:
    # cal_hist: histc(bins=256, min=0, max=256) -> pdf -> running sum (exact rationals via cumsum / n)
    hist = np.zeros(256, dtype=np.int64)
    for v in values:
        hist[min(int(np.floor(v)), 255)] += 1
    return list(np.cumsum(hist) / hist.sum())


def _official_loss(dst: np.ndarray, ref: np.ndarray, mask_dst: np.ndarray, mask_ref: np.ndarray, l2: bool) -> float:
    """criterionHis for one sample: dst/ref (3, H, W) in [-1, 1], masks (H, W) bool."""
    dst255 = np.clip((dst + 1) / 2, 0, 1) * 255 * mask_dst
    ref255 = np.clip((ref + 1) / 2, 0, 1) * 255 * mask_ref
    if not mask_dst.any() or not mask_ref.any():
        return 0.0
    rows_d, cols_d = np.nonzero(mask_dst)
    rows_r, cols_r = np.nonzero(mask_ref)
    matched = dst255.copy()
    for c in range(3):
        table = _official_table(_official_cdf(dst255[c, rows_d, cols_d]), _official_cdf(ref255[c, rows_r, cols_r]))
        for r, q in zip(rows_d, cols_d):
            matched[c, r, q] = table[int(dst255[c, r, q])]
    diff = dst255 - matched
    return float(np.mean(diff**2) if l2 else np.mean(np.abs(diff)))


def _blobs(generator: torch.Generator, n: int, size: int, density: float) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=generator) < density


@pytest.mark.parametrize("criterion", ["l1", "l2"])
def test_matches_numpy_official_algorithm(criterion: str) -> None:
    g = torch.Generator().manual_seed(0)
    n, size = 3, 24
    # Quantized values make CDF ties (the tricky case of cal_trans) frequent.
    pred = torch.randint(0, 17, (n, 3, size, size), generator=g).double() / 8 - 1
    target = torch.rand(n, 3, size, size, generator=g, dtype=torch.float64) * 2 - 1
    pred_masks = torch.cat([_blobs(g, n, size, 0.3), _blobs(g, n, size, 0.6)], dim=1)
    target_masks = torch.cat([_blobs(g, n, size, 0.5), _blobs(g, n, size, 0.2)], dim=1)
    pred_masks[1, 0] = False  # empty region in pred
    target_masks[2, 1] = False  # empty region in target
    got = histogram_matching_loss(pred, target, pred_masks, target_masks, criterion=criterion, reduction="none")
    expected = np.array(
        [
            [
                _official_loss(
                    pred[i].numpy(),
                    target[i].numpy(),
                    pred_masks[i, r].numpy(),
                    target_masks[i, r].numpy(),
                    criterion == "l2",
                )
                for r in range(2)
            ]
            for i in range(n)
        ]
    )
    assert got.shape == (n, 2)
    np.testing.assert_allclose(got.double().numpy(), expected, rtol=1e-5, atol=1e-4)
    assert got[1, 0] == 0 and got[2, 1] == 0
    assert (got[0] > 0).all()
    mean = histogram_matching_loss(pred, target, pred_masks, target_masks, criterion=criterion)
    np.testing.assert_allclose(mean.numpy(), expected.mean(0), rtol=1e-5, atol=1e-4)


def test_identical_histograms_give_zero_and_gradient_flows_to_pred_only() -> None:
    g = torch.Generator().manual_seed(1)
    image = (torch.randint(0, 255, (2, 3, 16, 16), generator=g).float() + 0.5) / 127.5 - 1
    masks = torch.ones(2, 1, 16, 16, dtype=torch.bool)
    # Same histograms: table is the identity, each pixel's target is int(v) = v - 0.5 -> loss 0.5 (hand-computed).
    assert histogram_matching_loss(image, image.clone(), masks, masks).item() == pytest.approx(0.5, abs=1e-3)
    pred = (image * 0.5).requires_grad_(True)
    target = image.clone().requires_grad_(True)
    loss = histogram_matching_loss(pred, target, masks, masks).sum()
    loss.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert target.grad is None


def test_matched_values_follow_reference_histogram() -> None:
    # A uniform dark region matched to a uniform bright one maps onto the bright value (hand-computed).
    pred = torch.full((1, 3, 8, 8), -1.0 + 2 * 50.2 / 255)  # 50.2 -> bin 50
    target = torch.full((1, 3, 8, 8), -1.0 + 2 * 200.5 / 255)  # bin 200
    mask = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    mask[..., 2:5, 2:5] = True
    matched, valid = match_histograms(pred, target, mask, mask)
    assert valid.tolist() == [[True]]
    # cdf_pred[50] = 1 lies in [cdf_ref[199], cdf_ref[200]] = [0, 1] -> table[50] = 200
    assert torch.equal(matched[0, 0, :, 2:5, 2:5], torch.full((3, 3, 3), 200.0))
    assert matched[0, 0][:, ~mask[0, 0]].abs().sum() == 0
    loss = histogram_matching_loss(pred, target, mask, mask)
    expected = abs(to_pixel_scale(pred)[0, 0, 0, 0].item() - 200.0) * 9 / 64
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_bad_inputs_raise_clear_errors() -> None:
    x = torch.zeros(2, 3, 8, 8)
    m = torch.ones(2, 1, 8, 8, dtype=torch.bool)
    with pytest.raises(ValueError, match="target must have pred's shape"):
        histogram_matching_loss(x, torch.zeros(2, 3, 4, 4), m, m)
    with pytest.raises(ValueError, match="pred_masks must be"):
        histogram_matching_loss(x, x, torch.ones(1, 1, 8, 8, dtype=torch.bool), m)
    with pytest.raises(ValueError, match="criterion"):
        histogram_matching_loss(x, x, m, m, criterion="huber")  # type: ignore[arg-type]


def test_transfer_tables_match_the_official_double_loop_on_sparse_histograms() -> None:
    from beautygan.training.histogram import transfer_tables

    rng = np.random.default_rng(0)
    pred = rng.integers(0, 4, (40, 256)) * (rng.random((40, 256)) < 0.15)
    target = rng.integers(0, 4, (40, 256)) * (rng.random((40, 256)) < 0.15)
    pred[:, 0] += 1  # mass in bin 0 too: exercises cdf_target[0] == cdf_pred[i]
    target[::3, 0] += 1
    got = transfer_tables(torch.from_numpy(pred), torch.from_numpy(target)).numpy()
    for k in range(40):
        cdf_p = list(np.cumsum(pred[k]) / pred[k].sum())
        cdf_t = list(np.cumsum(target[k]) / target[k].sum())
        assert got[k].tolist() == _official_table(cdf_p, cdf_t), k
