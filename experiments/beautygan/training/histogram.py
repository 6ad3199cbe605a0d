"""BeautyGAN's makeup loss: histogram matching per face region, batched and on the device.

Semantics of the official code (wtjiang98/BeautyGAN_pytorch, ``histogram_matching``/``criterionHis``), with one
difference in arithmetic (below):

1. images go from ``input_range`` to 0-255 (``de_norm`` clamps to [0, 1] first);
2. per channel, a 256-bin histogram over 0-255 (bin ``floor(v)``) of the region's pixels in the generated image
   (``pred``) and in the reference (``target``), and their CDFs;
3. the transfer table: ``table[0] = 0``, ``table[255] = 255``; for ``i`` in 1..254, ``table[i]`` is the smallest
   ``j`` in 1..255 with ``cdf_target[j-1] <= cdf_pred[i] <= cdf_target[j]``, or ``i`` itself if there is none;
4. each region pixel's target value is ``table[int(v)]`` (detached); the loss is the L1 distance between the
   masked image and its matched version in 0-255 units, averaged over all ``3*H*W`` elements of the image
   (the official ``nn.L1Loss`` on full masked images), or the squared distance for the paper's L2 form.

Differences, all deliberate: every sample and region of a batch is matched at once with tensor ops (the official
O(256^2) Python loop runs on the host at batch size 1), without host syncs; CDFs are compared exactly as integer
cross-products (``count_pred[i] * n_target`` vs ``count_target[j] * n_pred``) instead of float32 running sums, so
ties resolve the same on every device (this differs from the official float32 arithmetic in rare top-of-range cases,
about 0.1% of a term on face-shaped masks); a sample whose region is empty in either image contributes zero for that
region (the official code divides by zero or skips the whole step).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from perceptual.images import to_unit_range

__all__ = ["histogram_matching_loss"]

HistogramCriterion = Literal["l1", "l2"]
_BINS = 256


def to_pixel_scale(x: Tensor, input_range: tuple[float, float] = (-1.0, 1.0)) -> Tensor:
    """Map ``x`` from ``input_range`` to 0-255 (clamped, like the official ``de_norm(x) * 255``)."""
    return to_unit_range(x, input_range) * 255.0


def _bin_index(values255: Tensor) -> Tensor:
    # NaN would cast to int64's minimum and index out of bounds; it goes to bin 0 here and stays NaN in the loss,
    # where the training step's non-finite check reports it.
    return torch.nan_to_num(values255.detach(), nan=0.0).floor().clamp_(0, _BINS - 1).long()


def _region_counts(bins: Tensor, masks: Tensor) -> Tensor:
    """Per-region, per-channel histograms ``(N, R, 3, 256)`` (int64) of ``bins (N, 3, HW)`` under ``masks (N, R, HW)``."""
    n, regions = masks.shape[:2]
    index = bins.unsqueeze(1).expand(n, regions, *bins.shape[1:])
    source = masks.unsqueeze(2).expand_as(index).to(torch.int64)
    counts = torch.zeros(n, regions, bins.shape[1], _BINS, dtype=torch.int64, device=bins.device)
    return counts.scatter_add_(3, index, source)


def transfer_tables(pred_counts: Tensor, target_counts: Tensor) -> Tensor:
    """The official transfer tables ``(..., 256)`` (int64) from histograms ``(..., 256)`` of pred and target.

    The official double loop looks for the smallest ``j >= 1`` with ``cdf_t[j-1] <= cdf_p[i] <= cdf_t[j]``. As
    ``cdf_t`` is non-decreasing, that ``j`` is the first index with ``cdf_t[j] >= cdf_p[i]`` (a sorted search), except
    when that index is 0: then ``j = 1`` qualifies only if ``cdf_t[0] == cdf_p[i]``, and otherwise nothing does
    (``table[i] = i``). Garbage where either histogram is empty; callers mask those out.
    """
    cdf_pred = pred_counts.cumsum(-1)
    cdf_target = target_counts.cumsum(-1)
    # cdf_pred[i] / n_pred against cdf_target[j] / n_target, exactly, as integer cross-products.
    lhs = cdf_pred[..., 1:] * cdf_target[..., -1:]  # i = 1..255
    rhs = (cdf_target * cdf_pred[..., -1:]).contiguous()
    first = torch.searchsorted(rhs, lhs.contiguous())  # first j with rhs[j] >= lhs (<= 255: rhs[255] >= lhs)
    identity = torch.arange(1, _BINS, device=pred_counts.device)
    at_zero = torch.where(rhs[..., :1] == lhs, 1, identity)
    tail = torch.where(first > 0, first, at_zero)
    table = torch.cat([torch.zeros_like(tail[..., :1]), tail], dim=-1)
    table[..., -1] = _BINS - 1
    return table


def _check(pred: Tensor, target: Tensor, pred_masks: Tensor, target_masks: Tensor) -> tuple[Tensor, Tensor]:
    for name, value in (("pred", pred), ("target", target), ("pred_masks", pred_masks), ("target_masks", target_masks)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if pred.ndim != 4 or pred.shape[1] != 3:
        raise ValueError(f"pred must be (N, 3, H, W), got shape {tuple(pred.shape)}")
    if target.shape != pred.shape:
        raise ValueError(f"target must have pred's shape {tuple(pred.shape)}, got {tuple(target.shape)}")
    n, _, h, w = pred.shape
    masks = []
    for name, mask in (("pred_masks", pred_masks), ("target_masks", target_masks)):
        if mask.ndim == 3:
            mask = mask.unsqueeze(1)
        if mask.ndim != 4 or mask.shape[0] != n or mask.shape[-2:] != (h, w):
            raise ValueError(f"{name} must be (N, R, H, W) = ({n}, R, {h}, {w}), got shape {tuple(mask.shape)}")
        masks.append(mask.bool())
    if masks[0].shape[1] != masks[1].shape[1]:
        raise ValueError(
            f"pred_masks and target_masks must have the same number of regions, got {masks[0].shape[1]} "
            f"and {masks[1].shape[1]}"
        )
    return masks[0], masks[1]


def match_histograms(
    pred: Tensor,
    target: Tensor,
    pred_masks: Tensor,
    target_masks: Tensor,
    *,
    input_range: tuple[float, float] = (-1.0, 1.0),
) -> tuple[Tensor, Tensor]:
    """Matched 0-255 values per region: ``(N, R, 3, H, W)`` float (``table[int(v)]`` inside the region, 0 outside),
    and ``valid (N, R)``: both regions non-empty. No gradient."""
    pred_masks, target_masks = _check(pred, target, pred_masks, target_masks)
    n, _, h, w = pred.shape
    regions = pred_masks.shape[1]
    with torch.no_grad():
        # pred and target share every op up to the histograms: one pass over both.
        bins = _bin_index(to_pixel_scale(torch.cat([pred, target]).float(), input_range)).flatten(2)  # (2N, 3, HW)
        counts = _region_counts(bins, torch.cat([pred_masks, target_masks]).flatten(2))  # (2N, R, 3, 256)
        pred_bins, pm = bins[:n], pred_masks.flatten(2)
        pred_counts, target_counts = counts[:n], counts[n:]
        tables = transfer_tables(pred_counts, target_counts)  # (N, R, 3, 256)
        index = pred_bins.unsqueeze(1).expand(n, regions, 3, h * w)
        matched = tables.gather(3, index).to(torch.float32) * pm.unsqueeze(2)
        valid = (pred_counts[:, :, 0].sum(-1) > 0) & (target_counts[:, :, 0].sum(-1) > 0)
    return matched.view(n, regions, 3, h, w), valid


def check_criterion(criterion: str) -> HistogramCriterion:
    """``criterion`` when it is ``"l1"`` (the official code) or ``"l2"`` (the paper's formula); ``ValueError`` else."""
    if criterion not in ("l1", "l2"):
        raise ValueError(f"histogram_criterion must be 'l1' (official) or 'l2' (paper), got {criterion!r}")
    return criterion  # type: ignore[return-value]


def histogram_matching_loss(
    pred: Tensor,
    target: Tensor,
    pred_masks: Tensor,
    target_masks: Tensor,
    *,
    input_range: tuple[float, float] = (-1.0, 1.0),
    criterion: HistogramCriterion = "l1",
    reduction: Literal["mean", "none"] = "mean",
) -> Tensor:
    """BeautyGAN makeup loss of ``pred`` towards ``target``'s colour histograms, per region.

    Args:
        pred: generated images ``(N, 3, H, W)`` in ``input_range`` (gradient flows to it).
        target: reference images, same shape (detached: only their histograms are used).
        pred_masks, target_masks: bool ``(N, R, H, W)`` (or ``(N, H, W)`` for one region): the region in each image.
        criterion: ``"l1"`` (official code) or ``"l2"`` (the paper's formula), in 0-255 units.
        reduction: ``"mean"`` over the batch, one value per region ``(R,)``; ``"none"``: ``(N, R)``.

    Returns the per-region loss; a region empty in either image of a sample gives 0 for that sample.
    """
    check_criterion(criterion)
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    matched, valid = match_histograms(pred, target, pred_masks, target_masks, input_range=input_range)
    pred_masks = pred_masks.bool() if pred_masks.ndim == 4 else pred_masks.bool().unsqueeze(1)
    with torch.autocast(device_type=pred.device.type, enabled=False):
        values = to_pixel_scale(pred.float(), input_range).unsqueeze(1)  # (N, 1, 3, H, W)
        diff = values * pred_masks.unsqueeze(2) - matched
        elementwise = diff.abs() if criterion == "l1" else diff.square()
        per_sample = elementwise.flatten(2).mean(-1) * valid  # (N, R)
    return per_sample.mean(0) if reduction == "mean" else per_sample
