"""ImageNet classification with a VGG's own classifier: top-k class names and a bar chart of all probabilities.

What Keras users do with ``VGG16(weights="imagenet")`` + ``decode_predictions(top=5)`` (Simonyan & Zisserman,
2015; the classifier layout is torchvision's ``VGG.classifier``), from any weights that carry the fully connected
layers: torchvision ``"imagenet"``, a Keras ``vgg16_weights_tf_dim_ordering_tf_kernels.h5`` (not ``_notop``), a TF
``vgg16.npy`` with ``fc6``-``fc8``, or a converted ``.safetensors``. The input preparation is the one the weights
carry (ImageNet mean/std, or Caffe BGR mean subtraction for Keras/TF weights); images are resized like
torchvision's ``transforms()`` (shorter side 256, center crop 224) or, with ``resize="stretch"``, straight to
224x224 like Keras' ``load_img(target_size=(224, 224))``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor, nn

from perceptual._validation import DEFAULT_INPUT_RANGE, check_image_batch
from perceptual.features import VGGFeatures
from perceptual.weights import VGGWeights, WeightsSource, load_weights

__all__ = ["Classification", "Prediction", "VGGClassifier"]

ResizeMode = Literal["crop", "stretch"]


@dataclass(frozen=True)
class Prediction:
    """One of the top-k classes: its index in the classifier output, its name and its softmax probability."""

    index: int
    category: str
    probability: float


@dataclass(frozen=True)
class Classification:
    """The result for one image: all class probabilities (a CPU tensor) and the top-k, most probable first."""

    probabilities: Tensor
    top: tuple[Prediction, ...]


def missing_classifier_message(source: str) -> str:
    return (
        f"weights {source} have no classifier (fully connected layers), so they cannot classify. Use weights with "
        "the top: 'imagenet' (torchvision VGG16_Weights.IMAGENET1K_V1 / VGG19_Weights.IMAGENET1K_V1, not "
        "'imagenet_features'), a Keras vgg16_weights_tf_dim_ordering_tf_kernels.h5 (not the _notop file), a TF "
        "vgg16.npy with fc6/fc7/fc8, or a .pth/.safetensors with classifier.0/3/6 keys"
    )


class VGGClassifier(nn.Module):
    """A frozen VGG with its classifier: ``forward`` gives logits, :meth:`classify` top-k named classes.

    Args:
        weights: anything ``weights=`` accepts that carries a classifier (see :func:`missing_classifier_message`).
        arch: ``"vgg16"`` or ``"vgg19"``.
        input_range: the range of the tensors you pass (``(0, 1)`` for :func:`perceptual.images.load_image`).
        resize: ``"crop"`` (torchvision: shorter side 256, center crop 224) or ``"stretch"`` (Keras: 224x224).
        categories: class names; default: those the weights carry (the 1000 ImageNet classes).
    """

    crop_size = 224
    resize_size = 256

    def __init__(
        self,
        weights: WeightsSource = "imagenet",
        *,
        arch: str = "vgg16",
        input_range: tuple[float, float] = DEFAULT_INPUT_RANGE,
        resize: ResizeMode = "crop",
        categories: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        if resize not in ("crop", "stretch"):
            raise ValueError(f"resize must be 'crop' (torchvision) or 'stretch' (Keras), got {resize!r}")
        loaded = weights if isinstance(weights, VGGWeights) else load_weights(weights, arch=arch)
        if loaded.arch != arch:
            raise ValueError(f"weights {loaded.source} are for {loaded.arch}, but arch={arch!r} was asked for")
        if loaded.classifier is None:
            raise ValueError(missing_classifier_message(loaded.source))
        self.resize = resize
        self.features = VGGFeatures(["pool5"], arch=arch, weights=loaded, input_range=input_range)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        head = loaded.classifier
        shapes = [tuple(head[f"{i}.weight"].shape) for i in (0, 3, 6)]
        self.head = nn.Sequential(
            nn.Linear(shapes[0][1], shapes[0][0]),
            nn.ReLU(inplace=True),
            nn.Dropout(),
            nn.Linear(shapes[1][1], shapes[1][0]),
            nn.ReLU(inplace=True),
            nn.Dropout(),
            nn.Linear(shapes[2][1], shapes[2][0]),
        )
        self.head.load_state_dict({key: value.float() for key, value in head.items()}, strict=True)
        self.head.requires_grad_(False)
        classes = shapes[2][0]
        names = tuple(categories) if categories is not None else (loaded.categories or ())
        if not names:
            names = tuple(f"class {i}" for i in range(classes))
        if len(names) != classes:
            raise ValueError(f"{len(names)} category names given for a classifier with {classes} outputs")
        self.categories: tuple[str, ...] = names
        self.weights_source = loaded.source
        self.train(False)

    def train(self, mode: bool = True) -> VGGClassifier:
        """Always eval (dropout off): the classifier is frozen."""
        return super().train(False)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(N, classes)`` for a batch ``(N, 3, H, W)`` in ``input_range`` (224x224 for the trained
        behaviour; other sizes go through torchvision's adaptive average pooling to 7x7)."""
        pool5 = self.features(x)["pool5"]
        return self.head(torch.flatten(self.avgpool(pool5), 1))

    def preprocess(self, image: Tensor) -> Tensor:
        """``(3, H, W)`` or ``(N, 3, H, W)`` -> 224x224 as the ``resize`` mode says (bilinear, antialiased)."""
        batch = check_image_batch(image.unsqueeze(0) if image.ndim == 3 else image, "image")
        height, width = batch.shape[-2:]
        if self.resize == "stretch":
            size = (self.crop_size, self.crop_size)
        else:  # torchvision Resize(256): shorter side to 256, the longer one scaled and truncated like it does
            short, long = (height, width) if height <= width else (width, height)
            new_long = int(self.resize_size * long / short)
            size = (self.resize_size, new_long) if height <= width else (new_long, self.resize_size)
        resized = nn.functional.interpolate(batch, size=size, mode="bilinear", align_corners=False, antialias=True)
        if self.resize == "crop":
            top = int(round((size[0] - self.crop_size) / 2.0))
            left = int(round((size[1] - self.crop_size) / 2.0))
            resized = resized[..., top : top + self.crop_size, left : left + self.crop_size]
        return resized

    @torch.no_grad()
    def classify(
        self, images: Tensor | Sequence[Tensor], *, top: int = 5, preprocess: bool = True
    ) -> list[Classification]:
        """Top-``top`` classes of each image (a ``(N, 3, H, W)`` batch or a list of ``(3, H, W)`` of any sizes).

        ``preprocess=False`` feeds the images as they are (already 224x224, or a size you chose).
        """
        if not isinstance(top, int) or isinstance(top, bool) or top < 1:
            raise ValueError(f"top must be a positive integer, got {top!r}")
        classes = len(self.categories)
        if top > classes:
            raise ValueError(f"top={top} is more than the {classes} classes of this classifier")
        if isinstance(images, Tensor):
            batch = images.unsqueeze(0) if images.ndim == 3 else images
            batch = self.preprocess(batch) if preprocess else check_image_batch(batch, "images")
        else:
            if not images:
                raise ValueError("images is empty")
            items = [
                self.preprocess(im) if preprocess else check_image_batch(im.unsqueeze(0), "image") for im in images
            ]
            shapes = {tuple(item.shape[-2:]) for item in items}
            if len(shapes) > 1:
                raise ValueError(f"images of different sizes {sorted(shapes)} need preprocess=True")
            batch = torch.cat(items)
        device = next(self.head.parameters()).device
        probabilities = self(batch.to(device)).float().softmax(dim=1).cpu()
        values, indices = probabilities.topk(top, dim=1)
        results = []
        for row, (vals, idxs) in enumerate(zip(values.tolist(), indices.tolist())):
            predictions = tuple(Prediction(i, self.categories[i], p) for i, p in zip(idxs, vals))
            results.append(Classification(probabilities=probabilities[row], top=predictions))
        return results


# --------------------------------------------------------------------------------------------------
# Bar chart of all probabilities, drawn with PIL
# --------------------------------------------------------------------------------------------------

CHART_MARGIN = (70, 60, 30, 50)  # left, top, right, bottom
CHART_HEIGHT = 300  # plot area height in pixels
BAR_COLOR = (70, 130, 180)
TOP_COLOR = (214, 39, 40)


def draw_probability_chart(
    probabilities: Tensor, top: Sequence[Prediction], path: str | os.PathLike, *, title: str = ""
) -> Path:
    """PNG bar chart: one 1-pixel column per class (steel blue), the top-k in red with their rank above the bar
    and a legend ``rank. name (index) probability``. The y axis runs from 0 to the largest probability (rounded
    up). Returns the path written."""
    probs = probabilities.detach().float().cpu().flatten()
    if probs.numel() == 0:
        raise ValueError("probabilities is empty")
    count = probs.numel()
    left, upper, right, lower = CHART_MARGIN
    legend_height = 14 * len(top) + 10
    width = left + count + right
    height = upper + legend_height + CHART_HEIGHT + lower
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()

    peak = float(probs.max())
    y_max = _nice_ceiling(peak)
    base = upper + legend_height + CHART_HEIGHT  # y of probability 0
    heights = (probs / y_max * CHART_HEIGHT).round().clamp(0, CHART_HEIGHT).to(torch.int64).tolist()
    top_indices = {p.index: rank for rank, p in enumerate(top, start=1)}
    # Rank numbers above the top-k bars, stacked where neighbouring classes share the top (mantis, grasshopper,
    # cricket...); drawn before the bars so that no text ever hides a bar.
    placed: list[tuple[int, int]] = []
    for index in top_indices:  # rank order: the best class's number sits lowest, right above its bar
        x = left + index - 2
        y = base - max(heights[max(0, index - 3) : index + 9]) - 14
        for other_x, other_y in sorted(placed, key=lambda p: -p[1]):
            if abs(other_x - x) < 9 and abs(other_y - y) < 12:
                y = other_y - 12
        placed.append((x, y))
        draw.text((x, y), str(top_indices[index]), fill="black", font=font)
    for index, bar in enumerate(heights):
        if bar > 0:
            color = TOP_COLOR if index in top_indices else BAR_COLOR
            draw.line([(left + index, base - bar), (left + index, base - 1)], fill=color)

    # axes, ticks and labels
    draw.line([(left - 1, base), (left + count, base)], fill="black")
    draw.line([(left - 1, base - CHART_HEIGHT), (left - 1, base)], fill="black")
    for step in range(5):
        value = y_max * step / 4
        y = base - round(CHART_HEIGHT * step / 4)
        draw.line([(left - 5, y), (left - 1, y)], fill="black")
        draw.text((4, y - 6), f"{value:.3g}", fill="black", font=font)
    for tick in range(0, count + 1, max(1, count // 10)):
        draw.line([(left + tick, base), (left + tick, base + 4)], fill="black")
        draw.text((left + tick - 10, base + 6), str(tick), fill="black", font=font)
    draw.text((left + count // 2 - 60, base + 24), f"class index (0-{count - 1})", fill="black", font=font)
    draw.text((left, 10), title or f"probabilities of all {count} classes", fill="black", font=font)
    for rank, prediction in enumerate(top, start=1):
        draw.text(
            (left, upper + 14 * (rank - 1)),
            f"{rank}. {prediction.category} ({prediction.index})  {prediction.probability:.4f}",
            fill="black",
            font=font,
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")
    return path


def _nice_ceiling(value: float) -> float:
    """Smallest of 1, 2, 2.5, 5 x 10^k that is >= value (1.0 at most, since these are probabilities)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for mantissa in (1.0, 2.0, 2.5, 5.0, 10.0):
        candidate = mantissa * 10.0**exponent
        if candidate >= value * (1 - 1e-9):
            return min(candidate, 1.0)
    return 1.0
