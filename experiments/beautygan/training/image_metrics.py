"""How far the made-up sources are from the sources, as LPIPS and DISTS see it, over a whole validation or test
set: :class:`perceptual.metrics.LPIPSMetric` and :class:`perceptual.metrics.DISTSMetric` (per-image sums, synced
across DDP processes, so every rank logs the mean over every held-out pair).

Makeup should change colour, not who is in the picture: these figures rise when a generator also changes the face's
structure. Both are defined on VGG16 with its ImageNet input normalization, so they are built from the perceptual
loss's VGG16 weights when the preset uses them (``paper``); the other presets feed raw images to their VGG
(``official``: VGG19; ``psgan``: VGG16), and then no such metric is logged. A metric whose calibration is not
installed (the ``lpips`` and ``dists-pytorch`` packages ship them: the ``metrics`` extra) is left out too; the
returned notes say which and why. On weights other than torchvision's pretrained VGG16 (the offline fallback's
random VGG16, a file) they are still logged, with a note that the values are not the published metrics. The VGG
trunks are frozen and stay out of checkpoints; building them leaves the random state alone, so a seeded run trains
the same networks with or without them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from perceptual import DISTS, LPIPS
from perceptual.lpips import CalibrationUnavailableError
from perceptual.metrics import DISTSMetric, LPIPSMetric
from perceptual.weights import VGGWeights

__all__ = ["IMAGE_METRICS", "ImageMetricName", "image_metrics"]

ImageMetricName = Literal["lpips", "dists"]
IMAGE_METRICS: tuple[str, ...] = ("lpips", "dists")


def image_metrics(
    names: Sequence[str], weights: VGGWeights | None, *, stages: Sequence[str] = ("val", "test")
) -> tuple[nn.ModuleDict, list[str]]:
    """For each stage, a ``ModuleDict`` of the named metrics (``lpips``, ``dists``) on inputs in [-1, 1], their
    trunks built once from ``weights`` (VGG16 with its own input normalization; ``None``: the preset's VGG is not
    that, and no metric is built) and shared by the stages; and notes on what was left out."""
    unknown = [name for name in names if name not in IMAGE_METRICS]
    if unknown:
        raise ValueError(f"validation_metrics must be among {list(IMAGE_METRICS)}, got {list(names)}")
    notes: list[str] = []
    shared: dict[str, nn.Module] = {}
    if names and weights is None:
        notes.append(
            f"validation {', '.join(names)} left out: they are defined on VGG16 with ImageNet normalization, and "
            "this preset's VGG is not (use preset 'paper')"
        )
        names = ()
    if names and weights is not None and weights.provenance != "pretrained":
        notes.append(
            f"validation {', '.join(names)} on VGG16 weights that are not torchvision's pretrained ones "
            f"({weights.provenance}): the logged values are not the published metrics"
        )
    with torch.random.fork_rng(devices=[]):  # building them draws no random numbers from the training's seed
        for name in names:
            try:
                if name == "lpips":
                    shared[name] = LPIPS(weights=weights, input_range=(-1.0, 1.0), warn_range_mismatch=False)
                else:
                    shared[name] = DISTS(weights=weights, input_range=(-1.0, 1.0), warn_range_mismatch=False)
            except CalibrationUnavailableError as err:
                first = str(err).strip().splitlines()[0]
                notes.append(f"validation {name} left out: {first}")
    metrics = nn.ModuleDict()
    for stage in stages:
        metrics[stage] = nn.ModuleDict(
            {
                name: LPIPSMetric(lpips=module) if name == "lpips" else DISTSMetric(dists=module)  # type: ignore[arg-type]
                for name, module in shared.items()
            }
        )
    return metrics, notes
