"""What VGG sees of a makeup change, for the web page (:mod:`beautygan.app`): which VGG draws it
(:class:`VGGChoice`, from the checkpoint with :func:`checkpoint_vgg` or from the user) and the pictures
(:class:`VGGView`): ``before | made-up | |difference|`` panels at one or two layers, and where the features differ
(LPIPS with a pretrained VGG16, else the squared feature difference of the deepest layer) drawn over the made-up
face, all from :func:`perceptual.pictures.comparison.compare_images` (the comparison the monitor and
``perceptual maps --compare`` draw); one VGG pass for all of it.

The comparison uses the VGG the checkpoint trained with when that is a name (random weights and their seed,
torchvision's weights); a weights file named inside a checkpoint is not opened unless the user names it too.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["SHOWN_CHANNELS", "VGGChoice", "VGGView", "checkpoint_vgg"]

SHOWN_CHANNELS = 8
"""Channels per layer in the comparison: those whose maps differ most."""


@dataclass(frozen=True)
class VGGChoice:
    """Which VGG draws the comparison.

    Args:
        weights: a :class:`~perceptual.VGGFeatures` ``weights=`` value (``"imagenet"``, ``"random_normalized"``, a
            path, ...).
        arch: ``"vgg16"`` or ``"vgg19"``.
        seed: seed of random weights.
        layers: the one or two layers compared.
        trained_with: the weights the checkpoint's perceptual loss used (its ``vgg_used``), ``None`` when unknown.
    """

    weights: str = "imagenet"
    arch: str = "vgg16"
    seed: int = 0
    layers: tuple[str, ...] = ("relu1_2", "relu4_1")
    trained_with: str | None = None

    def __post_init__(self) -> None:
        from perceptual.layers import canonical_layer_name, check_arch

        check_arch(self.arch)
        if not 1 <= len(self.layers) <= 2:
            raise ValueError(f"the comparison shows one or two layers, got {list(self.layers)}")
        for name in self.layers:
            canonical_layer_name(name, self.arch)  # ValueError listing the valid names


def checkpoint_vgg(checkpoint: Mapping[str, Any]) -> VGGChoice:
    """The VGG a ``beautygan fit`` checkpoint trained with (its ``vgg_used``) as a :class:`VGGChoice`: random
    weights by name and seed, torchvision weights by enum name, else ``"imagenet"``. A weights *file* the checkpoint
    names is never chosen (a path inside a checkpoint is not opened unless the user names it: see
    :func:`~beautygan.training.checkpoint_files.stored_weights_file`); ``trained_with`` still says which it was. Layers:
    ``relu1_2`` (colour and edges, where makeup shows first) and the perceptual loss's layer."""
    used = checkpoint.get("vgg_used") or {}
    hparams = checkpoint.get("hyper_parameters") or {}
    source = str(used.get("weights", ""))
    weights, seed = "imagenet", 0
    random = re.match(r"(random_normalized|random) \(seed (\d+)", source)
    if random:
        weights, seed = random.group(1), int(random.group(2))
    elif source.startswith("torchvision "):
        weights = source.split(" ", 1)[1]
    layers = tuple(dict.fromkeys(["relu1_2", str(hparams.get("perceptual_layer", "relu4_1"))]))
    return VGGChoice(
        weights=weights, arch=str(used.get("arch", "vgg16")), seed=seed, layers=layers, trained_with=source or None
    )


@dataclass
class VGGView:
    """The comparison's VGG (and LPIPS when the VGG is a pretrained VGG16), or why there is none (``problem``, for
    the page; ``error``, the loader's own first line).

    Build with :meth:`load`; :meth:`pictures` draws a pair."""

    choice: VGGChoice
    extractor: Any = None
    lpips: Any = None
    problem: str | None = None
    description: str = ""
    error: str | None = None

    @classmethod
    def load(cls, choice: VGGChoice, *, device: str | torch.device = "cpu") -> VGGView:
        """Load the VGG of ``choice``; weights that cannot be had give a view whose ``problem`` says why (the
        transfer works without it)."""
        from perceptual import LPIPS_LAYERS, VGGFeatures
        from perceptual.lpips import LPIPS, CalibrationUnavailableError
        from perceptual.weights import RandomWeightsWarning, WeightsUnavailableError

        pretrained16 = choice.arch == "vgg16" and not str(choice.weights).startswith("random")
        taps = list(dict.fromkeys([*choice.layers, *(LPIPS_LAYERS if pretrained16 else ())]))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RandomWeightsWarning)  # the page says so instead
                extractor = VGGFeatures(
                    taps, arch=choice.arch, weights=choice.weights, seed=choice.seed, input_range=(0, 1)
                )
        except (WeightsUnavailableError, ValueError, TypeError, OSError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            problem = (
                f"VGG comparison unavailable: {first}. Start the app with --vgg-weights PATH (a VGG "
                "state dict) or --vgg-weights random_normalized (an untrained VGG's view)."
            )
            return cls(
                choice,
                problem=problem,
                description=f"{choice.arch.upper()}, {choice.weights}: not available",
                error=first,
            )
        extractor = extractor.to(device)
        lpips = None
        if pretrained16 and extractor.pretrained:
            try:
                lpips = LPIPS(extractor=extractor).to(device)
            except CalibrationUnavailableError:
                lpips = None
        return cls(choice, extractor, lpips, None, _describe_vgg(extractor, choice))

    @property
    def heatmap(self) -> str:
        """What the heatmap shows: the LPIPS map (a pretrained VGG16), else the deepest layer's feature difference."""
        return "LPIPS map" if self.lpips is not None else f"mean squared {self.choice.layers[-1]} feature difference"

    @torch.inference_mode()
    def pictures(self, before: np.ndarray, after: np.ndarray) -> list[tuple[np.ndarray, str]]:
        """``before`` and ``after`` (``(S, S, 3)`` uint8 face views) through VGG in one batch: per layer the
        labelled ``before | made-up | |difference|`` panels of the channels that differ most, then the heatmap of
        where they differ over ``after`` (:func:`perceptual.pictures.comparison.compare_images`). ``(picture,
        caption)`` pairs; none without a VGG."""
        if self.extractor is None:
            return []
        from perceptual.pictures.comparison import ComparisonSpec, compare_images
        from perceptual.pictures.render import GridStyle

        style = GridStyle(min_size=48, max_size=64, labels=True, ncols=4)
        spec = ComparisonSpec(style=style, max_channels=SHOWN_CHANNELS, titles=("before", "made-up"))
        compared = compare_images(
            before, after, self.extractor, layers=self.choice.layers, spec=spec, lpips=self.lpips, where=True
        )
        out = [
            (layer.pictures.comparison.cpu().numpy(), f"{layer.layer}: before | made-up | |difference|")
            for layer in compared.layers
        ]
        if compared.where is not None:
            caption = f"where VGG sees the change: {self.heatmap}, over the made-up face"
            out.append((compared.where.cpu().numpy(), caption))
        return out


def _describe_vgg(extractor: Any, choice: VGGChoice) -> str:
    source = str(extractor.weights_source)
    kind = {
        "pretrained": f"pretrained weights ({source})",
        "random": "random weights",
        "file": f"weights from {Path(source).name}",
    }[extractor.provenance]
    text = f"{extractor.arch.upper()}, {kind}"
    if choice.trained_with is None:
        return text + "; the checkpoint does not say which VGG it trained with"
    if choice.trained_with == extractor.weights_source:
        return text + ", as the checkpoint was trained"
    return text + f"; the checkpoint was trained with {choice.trained_with}"
