"""Two CPU processes (gloo) updating the torchmetrics metrics of ``perceptual.metrics`` with their share of the batches
of :func:`batches`, for ``tests/test_metrics.py``: each rank saves what its ``compute()`` returns (synced)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

__all__ = ["BATCH_SIZES", "batches", "build_metrics", "run_rank"]

BATCH_SIZES = (3, 1, 2, 2)
"""Uneven on purpose: the ranks see 5 and 3 images, so a mean of the ranks' means would be wrong."""


def batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(pred, target)`` batches of 48x48 crops of real photos in [0, 1]: the photo and a blurred, noisy copy."""
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea()]
    g = torch.Generator().manual_seed(0)
    crops = []
    for index in range(sum(BATCH_SIZES)):
        photo = photos[index % 3]
        top = int(torch.randint(0, photo.shape[0] - 96, (1,), generator=g))
        left = int(torch.randint(0, photo.shape[1] - 96, (1,), generator=g))
        crops.append(photo[top : top + 96 : 2, left : left + 96 : 2])
    target = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255
    blurred = torch.nn.functional.avg_pool2d(target, 3, 1, 1, count_include_pad=False)
    pred = (blurred + 0.03 * torch.randn(target.shape, generator=g)).clamp(0, 1)
    out, start = [], 0
    for size in BATCH_SIZES:
        out.append((pred[start : start + size], target[start : start + size]))
        start += size
    return out


def build_metrics(lpips_trunk: str, alex_trunk: str, dists_trunk: str) -> dict:
    from perceptual.metrics import DISTSMetric, FeatureDistanceMetric, LPIPSMetric

    return {
        "lpips_vgg": LPIPSMetric(weights=lpips_trunk),
        "lpips_alex": LPIPSMetric(net="alex", weights=alex_trunk),
        "dists": DISTSMetric(weights=dists_trunk),
        "feature": FeatureDistanceMetric({"relu2_2": 1.0, "relu4_1": 0.5}, weights=lpips_trunk),
    }


def run_rank(rank: int, world: int, init_file: str, out: str, trunks: tuple[str, str, str]) -> None:
    """One rank: join the group, update with batches ``rank, rank + world, ...``, save the synced ``compute()``."""
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        metrics = build_metrics(*trunks)
        for index, (pred, target) in enumerate(batches()):
            if index % world == rank:
                for metric in metrics.values():
                    metric.update(pred, target)
        values = {name: metric.compute() for name, metric in metrics.items()}
        counts = {name: int(metric.count) for name, metric in metrics.items()}
        torch.save({"values": values, "counts": counts}, Path(out) / f"rank{rank}.pt")
        dist.barrier()  # both ranks done with their collectives before either tears the group down
    finally:
        dist.destroy_process_group()
