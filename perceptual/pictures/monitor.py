"""A Lightning callback that shows VGG feature maps during GAN training in TensorBoard: real and generated side by
side, from the features the perceptual loss already computed.

:class:`FeatureMapMonitor` logs, every ``every_n_batches`` training batches, what
:func:`~perceptual.pictures.feature_logs.log_feature_maps` logs (the labelled ``real | generated |
|real - generated|`` comparison of each layer, its scalars and ranking, optionally the PCA view, histograms and
per-region distances) and, optionally, where real and generated differ
(:func:`~perceptual.pictures.difference_logs.log_difference_maps`) and a projector embedding of pooled features
(:mod:`perceptual.pictures.projector`). For plain ``SummaryWriter`` users those functions are the API.

The channels shown are chosen once (top-k by real-vs-generated difference or by real activation) and then reused,
so tiles stay comparable along TensorBoard's step slider, or chosen again every ``reselect_every_n_logs`` logged
batches. The callback hands PNG encoding and event writing to a
:class:`~perceptual.pictures.event_writer.BackgroundWriter`, so the training thread only renders and copies.

The callback reuses the features the perceptual loss already computed: ``training_step`` returns
``{"loss": ..., "vgg_features": {"real": {layer: Tensor}, "generated": {layer: Tensor}}}`` (detached). It runs no
VGG forward of its own then. It logs on global rank 0 only, uses no collectives, and throttles by the number of
training batches it has seen (not ``global_step``, which counts optimizer steps: two per batch in a GAN with two
optimizers).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from perceptual.features import VGGFeatures
from perceptual.lpips import LPIPS, LPIPS_LAYERS
from perceptual.pictures.comparison import check_titles
from perceptual.pictures.difference_logs import log_difference_maps
from perceptual.pictures.event_writer import BackgroundWriter
from perceptual.pictures.feature_logs import MONITOR_STYLE, check_channel_options, log_feature_maps, match_layers
from perceptual.pictures.projector import EmbeddingCollector
from perceptual.pictures.render import GridStyle

try:
    from lightning.pytorch import LightningModule, Trainer
    from lightning.pytorch.callbacks import Callback
except ImportError as _error:  # pragma: no cover - exercised only without the [train] extra
    _LIGHTNING_ERROR: ImportError | None = _error

    class Callback:  # type: ignore[no-redef]
        pass  # FeatureMapMonitor.__post_init__ raises the ImportError

    LightningModule = Trainer = Any  # type: ignore[misc,assignment]
else:
    _LIGHTNING_ERROR = None

__all__ = ["FeatureMapMonitor"]


# ------------------------------------------------------------------------------------------------ Lightning
@dataclass(kw_only=True, eq=False)
class FeatureMapMonitor(Callback):
    """Lightning callback: real vs generated VGG feature maps and per-layer scalars in TensorBoard.

    The LightningModule's ``training_step`` returns ``{"loss": ..., "vgg_features": {"real": {...}, "generated":
    {...}}}`` with the (detached) features its perceptual loss computed; every ``every_n_batches`` training batches
    (the first one included) the callback logs them with :func:`log_feature_maps`, on global rank 0, to the first
    ``TensorBoardLogger`` of the trainer. No TensorBoard logger: one warning, then nothing.

    Args:
        layers: layers to show (canonical or Keras names); ``None`` for every layer supplied. Requested layers that
            the step does not supply are skipped with one warning.
        every_n_batches: log on batches ``0, n, 2n, ...`` counted over the whole run (not ``global_step``).
        max_channels: channels per layer in the picture.
        channel_selection: ``"difference"`` or ``"activation"``; the choice is made on the first logged batch and
            kept for the run (and saved in checkpoints), unless ``reselect_every_n_logs`` says otherwise.
        reselect_every_n_logs: choose the channels again on every n-th logged batch (logs ``0, n, 2n, ...``), so
            the tiles follow the channels that differ most as the generator learns; ``None`` (default) keeps the
            first choice for the whole run, so tiles stay comparable along TensorBoard's step slider. The heading
            of each picture says at which batch its channels were chosen.
        titles: names of the two columns, ``("real", "generated")`` by default; BeautyGAN's are ``("source",
            "made-up")``. They label every picture (see :func:`log_feature_maps`: heading with the layer, batch and
            channel choice, column titles, the current mean ``|real - generated|`` in each ``|difference|`` tile),
            and a text ``<prefix>/<layer>/ranking`` lists the channels that differ most now. ``None``: pictures
            without text but the channel numbers, and no ranking.
        pca: also log ``<prefix>/<layer>/pca``, every channel at once: the first three principal components of the
            drawn sample's real and generated features, fitted on both together, as RGB (computed on the device
            from the step's features: no VGG pass).
        log_histograms: also log activation histograms (one host copy of the sample's maps per layer).
        style: how maps are drawn (:class:`~perceptual.pictures.render.GridStyle`; default
            :data:`~perceptual.pictures.feature_logs.MONITOR_STYLE`).
        tag_prefix: the first part of every tag (``vgg/relu2_2``, ``vgg/difference``, ...).
        sample: which sample of the batch is drawn (the scalars use the whole batch).
        extractor, monitor_images: fallback when a step supplies no features: ``monitor_images(pl_module)`` returns
            ``(real, generated)`` images (e.g. a fixed batch and the generator's output for it) and ``extractor``, a
            :class:`~perceptual.VGGFeatures`, computes their features. Without both, such steps log nothing (one
            warning).
        embedding_layer: if set, the globally pooled features of this layer are collected from every batch until
            ``embedding_samples`` real and generated vectors are there, and written once as a projector embedding
            (thumbnails if the step also returns ``"images": {"real": ..., "generated": ...}``).
        outputs_key: the key of the features in the ``training_step`` output. The output may also hold
            ``"regions": {name: (N, 1, H, W) mask}`` (float in [0, 1], at the image size, ``N`` the features' batch):
            then each monitored layer logs ``<prefix>/<layer>/distance/<name>``, the feature distance between real
            and generated inside the region (:func:`~perceptual.pictures.feature_logs.region_distances`: the mask resized to the layer by area,
            pooled over the batch; a region empty in the whole batch is not logged at that step). Regions are
            ignored on steps whose features come from the ``extractor`` fallback (other images).
        difference_maps: also log where real and generated differ (:func:`log_difference_maps`), with the images
            the step returns as ``"images": {"real": ..., "generated": ...}`` beside the maps when it does.
        lpips: an :class:`~perceptual.LPIPS` whose map leads the difference maps; it reads the supplied features
            (they must include :data:`~perceptual.LPIPS_LAYERS`, from the same trunk), so it costs no VGG pass.
            Default: the LightningModule's ``lpips`` attribute when that is an :class:`~perceptual.LPIPS`.
        background: encode and write images, histograms and scalars in one background thread
            (:class:`~perceptual.pictures.event_writer.BackgroundWriter`, with a native CRC32C when
            ``google-crc32c`` is installed): the training thread renders and copies to the host, nothing more. The
            queue is flushed at the end of training and when training stops on an exception, so the last logged
            batch is in the event file either way.
    """

    layers: Sequence[str] | None = ("relu1_2", "relu2_2", "relu3_3", "relu4_1")
    every_n_batches: int = 100
    max_channels: int = 16
    channel_selection: str = "difference"
    log_histograms: bool = False
    style: GridStyle = MONITOR_STYLE
    tag_prefix: str = "vgg"
    sample: int = 0
    extractor: VGGFeatures | None = field(default=None, repr=False)
    monitor_images: Callable[[Any], tuple[Tensor, Tensor]] | None = field(default=None, repr=False)
    embedding_layer: str | None = None
    embedding_samples: int = 256
    outputs_key: str = "vgg_features"
    background: bool = True
    difference_maps: bool = False
    lpips: LPIPS | None = field(default=None, repr=False)
    titles: Sequence[str] | None = ("real", "generated")
    reselect_every_n_logs: int | None = None
    pca: bool = False

    def __post_init__(self) -> None:
        if _LIGHTNING_ERROR is not None:
            raise ImportError(
                "FeatureMapMonitor needs Lightning: pip install 'perceptual[train]'"
            ) from _LIGHTNING_ERROR
        if not isinstance(self.every_n_batches, int) or self.every_n_batches < 1:
            raise ValueError(f"every_n_batches must be a positive integer, got {self.every_n_batches!r}")
        check_channel_options(self.max_channels, self.channel_selection)
        if not isinstance(self.style, GridStyle):
            raise TypeError(f"style must be a perceptual.pictures.render.GridStyle, got {type(self.style).__name__}")
        if (self.extractor is None) != (self.monitor_images is None):
            raise ValueError("extractor and monitor_images work together: give both or neither")
        if self.reselect_every_n_logs is not None and (
            isinstance(self.reselect_every_n_logs, bool)
            or not isinstance(self.reselect_every_n_logs, int)
            or self.reselect_every_n_logs < 1
        ):
            raise ValueError(
                f"reselect_every_n_logs must be a positive integer or None, got {self.reselect_every_n_logs!r}"
            )
        self.titles = check_titles(self.titles)
        if self.embedding_samples < 1:
            raise ValueError(f"embedding_samples must be a positive integer, got {self.embedding_samples}")
        if isinstance(self.layers, str):
            self.layers = [self.layers]
        self.layers = None if self.layers is None else list(self.layers)
        self.difference_maps = self.difference_maps or self.lpips is not None
        # run state (saved in checkpoints: batches_seen and the channels chosen)
        self.channels: dict[str, Tensor] = {}
        self.selected_at: dict[str, int] = {}  # the batch at which each layer's channels were chosen
        self.batches_seen = 0
        self._writer: Any = None
        self._warned: set[str] = set()
        self._embedding = EmbeddingCollector(samples=self.embedding_samples)

    # -------------------------------------------------------------------------------------------- plumbing
    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, UserWarning, stacklevel=2)

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if trainer.global_rank != 0 or self._writer is not None:
            return
        writer = _find_summary_writer(trainer)
        if writer is None:
            if stage == "fit":
                self._warn_once(
                    "no-logger",
                    "FeatureMapMonitor found no TensorBoardLogger in trainer.loggers and will log nothing; add "
                    "lightning.pytorch.loggers.TensorBoardLogger(save_dir=...) to the Trainer",
                )
            return
        self._writer = BackgroundWriter(writer) if self.background else writer

    def _flush(self) -> None:
        """Everything logged so far into the event file (waits for the background writer)."""
        if self._writer is not None:
            self._writer.flush()

    def _close(self) -> None:
        """Flush and stop the background writer; the logger's own writer stays open (the logger closes it)."""
        writer, self._writer = self._writer, None
        if isinstance(writer, BackgroundWriter):
            writer.close()

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._flush()  # before the logger closes its writer

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        self._close()  # runs before the logger is finalized: the batches logged before the error are kept

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self._close()

    def state_dict(self) -> dict[str, Any]:
        return {
            "batches_seen": self.batches_seen,
            "channels": {k: v.tolist() for k, v in self.channels.items()},
            "selected_at": dict(self.selected_at),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.batches_seen = int(state_dict.get("batches_seen", 0))
        self.channels = {k: torch.tensor(v, dtype=torch.long) for k, v in state_dict.get("channels", {}).items()}
        self.selected_at = {k: int(v) for k, v in state_dict.get("selected_at", {}).items()}

    # -------------------------------------------------------------------------------------------- hook
    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_rank != 0 or self._writer is None:
            return
        index = self.batches_seen
        self.batches_seen += 1
        collect_embedding = self.embedding_layer is not None and not self._embedding.done
        log_now = index % self.every_n_batches == 0
        if not (log_now or collect_embedding):
            return
        supplied = outputs.get(self.outputs_key) if isinstance(outputs, Mapping) else None
        if supplied is not None:
            real, generated = _split_supplied(supplied, self.outputs_key)
        elif not log_now:
            return
        elif self.extractor is not None and self.monitor_images is not None:
            real, generated = self._own_features(pl_module)
        else:
            self._warn_once(
                "no-features",
                f"FeatureMapMonitor: training_step returned no {self.outputs_key!r} "
                "({'real': {layer: Tensor}, 'generated': {layer: Tensor}}) and no extractor/monitor_images fallback "
                "is configured; nothing is logged",
            )
            return
        if collect_embedding and supplied is not None:
            self._collect_embedding(real, generated, outputs, index)
        if log_now:
            regions = outputs.get("regions") if supplied is not None and isinstance(outputs, Mapping) else None
            self._log(real, generated, index, regions)
            if self.difference_maps:
                self._log_differences(real, generated, outputs, index, pl_module)

    def _own_features(self, pl_module: LightningModule) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        if self.extractor is None or self.monitor_images is None:
            raise RuntimeError("FeatureMapMonitor has no features to log: give extractor= and monitor_images=")
        extractor = self.extractor.to(pl_module.device)
        with torch.no_grad():
            real_images, generated_images = self.monitor_images(pl_module)
            features = extractor(torch.cat((real_images, generated_images)))
        count = real_images.shape[0]
        return {k: v[:count] for k, v in features.items()}, {k: v[count:] for k, v in features.items()}

    def _log(
        self,
        real: Mapping[str, Tensor],
        generated: Mapping[str, Tensor],
        step: int,
        regions: Mapping[str, Tensor] | None = None,
    ) -> None:
        names, missing = match_layers(self.layers, list(real))
        if missing:
            self._warn_once(
                "missing:" + ",".join(missing),
                f"FeatureMapMonitor: layers {missing} are not among the supplied features {list(real)}; "
                "they are skipped (make the perceptual loss compute them, or change layers=)",
            )
        if not names:
            return
        if self.reselect_every_n_logs is not None and (step // self.every_n_batches) % self.reselect_every_n_logs == 0:
            self.channels = {}  # chosen again now, on this batch
        channels = {name: index.to(real[name].device) for name, index in self.channels.items() if name in names}
        used = log_feature_maps(
            self._writer,
            real,
            generated,
            step,
            layers=names,
            max_channels=self.max_channels,
            channels=channels,
            channel_selection=self.channel_selection,
            style=self.style,
            tag_prefix=self.tag_prefix,
            log_histograms=self.log_histograms,
            sample=self.sample,
            titles=self.titles,
            selected_at=self.selected_at,
            pca=self.pca,
            regions=regions,
        )
        for name, index in used.items():
            if name not in self.channels:
                self.channels[name] = index
                self.selected_at[name] = step

    def _log_differences(
        self, real: Mapping[str, Tensor], generated: Mapping[str, Tensor], outputs: Any, step: int, pl_module: Any
    ) -> None:
        images = outputs.get("images") if isinstance(outputs, Mapping) else None
        pair = (
            (images["real"], images["generated"])
            if isinstance(images, Mapping) and {"real", "generated"} <= set(images)
            else None
        )
        lpips = self.lpips if self.lpips is not None else getattr(pl_module, "lpips", None)
        lpips = lpips if isinstance(lpips, LPIPS) else None
        if lpips is not None:
            absent = [name for name in LPIPS_LAYERS if name not in real]
            if absent:
                self._warn_once(
                    "lpips-layers",
                    f"FeatureMapMonitor: the supplied features lack {absent}, which LPIPS "
                    "needs; the LPIPS map is skipped (tap them in the loss's extractor)",
                )
                lpips = None
            else:
                lpips = lpips.to(real[LPIPS_LAYERS[0]].device)
        names, _ = match_layers(self.layers, list(real))
        columns = log_difference_maps(
            self._writer,
            real,
            generated,
            step,
            images=pair,
            layers=names,
            lpips=lpips,
            sample=self.sample,
            tag_prefix=self.tag_prefix,
            titles=self.titles,
        )
        if "difference-columns" not in self._warned:
            self._warned.add("difference-columns")
            self._writer.add_text(
                f"{self.tag_prefix}/difference", "columns, left to right: " + " | ".join(columns), step
            )

    def _collect_embedding(
        self, real: Mapping[str, Tensor], generated: Mapping[str, Tensor], outputs: Any, step: int
    ) -> None:
        names, _ = match_layers([self.embedding_layer], list(real))  # type: ignore[list-item]
        if not names:
            self._warn_once(
                "embedding",
                f"FeatureMapMonitor: embedding_layer {self.embedding_layer!r} is not among the "
                f"supplied features {list(real)}; no embedding is written",
            )
            self._embedding.done = True
            return
        name = names[0]
        images = outputs.get("images") if isinstance(outputs, Mapping) else None
        self._embedding.add(real[name], generated[name], images)
        if self._embedding.ready:
            self._embedding.write(self._writer, step, tag=f"{self.tag_prefix}/embedding_{name}")


def _split_supplied(supplied: object, key: str) -> tuple[Mapping[str, Tensor], Mapping[str, Tensor]]:
    if not isinstance(supplied, Mapping) or not {"real", "generated"} <= set(supplied):
        got = sorted(supplied) if isinstance(supplied, Mapping) else type(supplied).__name__
        raise ValueError(
            f"training_step output {key!r} must be {{'real': {{layer: Tensor}}, 'generated': "
            f"{{layer: Tensor}}}}, got {got}"
        )
    real, generated = supplied["real"], supplied["generated"]
    if not isinstance(real, Mapping) or not isinstance(generated, Mapping):
        raise ValueError(f"training_step output {key!r}: 'real' and 'generated' must be dicts {{layer: Tensor}}")
    return real, generated


def _find_summary_writer(trainer: Any) -> Any:
    """The ``SummaryWriter`` of the first TensorBoard logger of ``trainer`` (``None`` without one)."""
    try:
        from lightning.pytorch.loggers import TensorBoardLogger
    except ImportError:  # pragma: no cover
        TensorBoardLogger = ()  # type: ignore[assignment,misc]
    for logger in getattr(trainer, "loggers", None) or []:
        if isinstance(logger, TensorBoardLogger):
            return logger.experiment
    for logger in getattr(trainer, "loggers", None) or []:
        experiment = getattr(logger, "experiment", None)
        if all(callable(getattr(experiment, name, None)) for name in ("add_image", "add_scalar", "add_histogram")):
            return experiment
    return None
