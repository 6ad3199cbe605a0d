"""TensorBoard's embedding projector for real and generated features: a visual check for mode collapse.

Globally pooled features of one layer (one ``C``-vector per image), real and generated, labelled as such and with
thumbnails of the images, as one ``add_embedding`` record: in the projector's PCA or t-SNE view, generated vectors
that bunch together while real ones spread out show a generator that makes one face for all. :func:`log_embedding`
writes such a record; :class:`EmbeddingCollector` gathers the vectors over training batches until there are
enough, for :class:`~perceptual.pictures.monitor.FeatureMapMonitor`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from perceptual.pictures.grids import stretch_images

__all__ = ["EmbeddingCollector", "log_embedding"]

_THUMBNAIL = 32


def log_embedding(
    writer: Any,
    real: Tensor,
    generated: Tensor,
    step: int,
    *,
    real_images: Tensor | None = None,
    generated_images: Tensor | None = None,
    tag: str = "vgg/embedding",
    thumbnail_size: int = 32,
) -> None:
    """Projector embedding of globally pooled features: ``(N, C)`` vectors (or ``(N, C, H, W)`` maps, averaged
    here) labelled ``real``/``generated``, with thumbnails if images (``(N, 3, H, W)``, any range) are given."""
    if real.ndim == 4:
        real = real.float().mean(dim=(2, 3))
    if generated.ndim == 4:
        generated = generated.float().mean(dim=(2, 3))
    if real.ndim != 2 or generated.ndim != 2 or real.shape[1] != generated.shape[1]:
        raise ValueError(
            f"embeddings must be (N, C) with the same C, got {tuple(real.shape)} and {tuple(generated.shape)}"
        )
    matrix = torch.cat((real.float(), generated.float())).cpu()
    metadata = ["real"] * real.shape[0] + ["generated"] * generated.shape[0]
    label_img = None
    if real_images is not None and generated_images is not None:
        images = stretch_images(torch.cat((real_images, generated_images)))
        label_img = F.interpolate(images, size=(thumbnail_size, thumbnail_size), mode="area").cpu()
    writer.add_embedding(matrix, metadata=metadata, label_img=label_img, global_step=step, tag=tag)


@dataclass
class EmbeddingCollector:
    """Pooled features of one layer gathered batch by batch until ``samples`` real and generated vectors are there,
    then written once (:meth:`write`), with thumbnails when every batch came with its images."""

    samples: int
    real: list[Tensor] = field(default_factory=list, repr=False)
    generated: list[Tensor] = field(default_factory=list, repr=False)
    real_images: list[Tensor] = field(default_factory=list, repr=False)
    generated_images: list[Tensor] = field(default_factory=list, repr=False)
    done: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.samples, bool) or not isinstance(self.samples, int) or self.samples < 1:
            raise ValueError(f"embedding_samples must be a positive integer, got {self.samples}")

    def add(self, real: Tensor, generated: Tensor, images: Mapping[str, Tensor] | None = None) -> None:
        """One batch: ``(N, C, H, W)`` features of the layer, and ``{"real": ..., "generated": ...}`` images (any
        range) when the batch has them."""
        self.real.append(real.detach().float().mean(dim=(2, 3)))
        self.generated.append(generated.detach().float().mean(dim=(2, 3)))
        if isinstance(images, Mapping) and "real" in images and "generated" in images:
            size = (_THUMBNAIL, _THUMBNAIL)
            self.real_images.append(F.interpolate(images["real"].detach().float(), size=size, mode="area"))
            self.generated_images.append(F.interpolate(images["generated"].detach().float(), size=size, mode="area"))

    @property
    def ready(self) -> bool:
        """Whether ``samples`` vectors of each kind are there."""
        return sum(t.shape[0] for t in self.real) >= self.samples

    def write(self, writer: Any, step: int, *, tag: str) -> None:
        """The first ``samples`` vectors as one projector embedding (:func:`log_embedding`); then nothing more."""
        n = self.samples
        thumbs = len(self.real_images) == len(self.real)
        log_embedding(
            writer,
            torch.cat(self.real)[:n],
            torch.cat(self.generated)[:n],
            step,
            real_images=torch.cat(self.real_images)[:n] if thumbs else None,
            generated_images=torch.cat(self.generated_images)[:n] if thumbs else None,
            tag=tag,
            thumbnail_size=_THUMBNAIL,
        )
        self.real, self.generated, self.real_images, self.generated_images = [], [], [], []
        self.done = True
