"""BeautyGAN's training as a LightningModule (Li et al., ACM MM 2018; official code wtjiang98/BeautyGAN_pytorch), for
BeautyGAN's generator or PSGAN's (Jiang et al., CVPR 2020; official code wtjiang98/PSGAN), chosen by ``generator``.

Per batch the generator runs once; the two discriminators step on its detached outputs, then the generator on the
same outputs (manual optimization). Losses: LSGAN, cycle L1 (each output compared with the input of its own domain),
the VGG perceptual loss of :mod:`perceptual` (one pass over both directions, whose extra taps feed the feature-map
monitor), histogram-matching makeup loss for lips / skin / eye shadow both ways, and the official code's optional
identity loss ``G(a, a)``. ``tests/test_beautygan_conformance.py`` checks one step against an independent
transcription of the official step. Deliberate differences: G's first outputs are reused for the G step (same
values); exact integer histogram CDFs; an empty eye mask zeroes its term instead of skipping the step (which would
desynchronize DDP ranks); eye-shadow boxes clipped at the border; G's last convolution in float32 under bf16.

**PSGAN's generator** (``generator: psgan``, :class:`~beautygan.models.psgan.PSGANGenerator`) is trained by the same
step, losses, monitor, sample grids, guard and checkpoints. Each batch brings its faces' 68 landmarks
(``MTDataModule(landmarks=True)``); the step builds each image's :class:`~beautygan.models.psgan.FaceGeometry` on the
device from its label map and landmarks (:func:`~beautygan.data.geometry.face_geometry`), and every generator call
gets the geometry of each of its inputs: the first pass ``G(source, reference)`` the source's and the reference's;
the cycle pass ``G(non_makeup=fake.non_makeup, makeup=fake.makeup)`` the reference's for ``fake.non_makeup`` (the
reference, de-made-up) and the source's for ``fake.makeup``; the identity ``G(x, x)`` the image's own, twice.
Deliberate differences from the official PSGAN training step (``psgan/solver.py`` ``Solver.train``):

1. **The cycle is BeautyGAN's.** The official reconstructs each image with its real counterpart's look as the
   reference: ``rec_A = G(fake_A, image_s)`` (the made-up source wearing the real source's bare look), ``rec_B =
   G(fake_B, image_r)``. Here, as in BeautyGAN, the reconstructions come from the two generated images:
   ``G(non_makeup=fake.non_makeup, makeup=fake.makeup)``, so the cycle checks that the generated looks carry the
   makeup there and back.
2. **G runs once per batch** for the D and G steps (the official runs it again for each discriminator and for the
   G step: the same values, as G does not change in between) and both directions are one batch of ``2N``.
3. **The identity translation is computed once per image, with the first pass.** Both outputs of PSGAN's
   ``G(x, x)`` are the same call, ``apply_makeup(x, makeup_code(x))``, so one pass over ``[source, reference]``
   gives them; its makeup codes are those the first pass computed (MDNet runs once per image) and its sources are
   the first pass's (MANet's first half runs once: ``PSGANGenerator.apply_looks``). The same values; the term keeps
   BeautyGAN's four L1 terms, two of which are each image's: ``identity * 2 * (|G(a,a) - a| + |G(b,b) - b|)``; the
   ``psgan`` preset's ``identity = 1.25`` makes that the official ``0.5 * 10 * 0.5 * (|idt_A - a| + |idt_B - b|)``
   (:data:`~beautygan.training.loss_weights.PRESETS`, with the line-by-line derivation of every weight).
4. **The histogram loss uses BeautyGAN's masks** (from the label maps: lips; face, nose and neck; each eye's shadow
   box; :mod:`beautygan.data.regions`) for both generators, not PSGAN's attention regions (lips; face and nose
   without the eye boxes; the two eye boxes as one mask). Each eye is a term of its own (weight ``eye_shadow``
   each), where the official has one term for both.
5. **One VGG for every term.** The official uses torchvision's VGG16 to ``pool5`` on the raw [-1, 1] images (the
   ``psgan`` preset's VGG; ``configs/psgan.yaml`` sets ``perceptual_layer: pool5``); the same pass feeds the monitor.
6. The official discriminators' Xavier initialization never takes effect (it writes the weight its spectral norm
   recomputes from ``weight_bar`` before every forward), so PyTorch's default initialization here is the same; with
   ``discriminator_norm: none`` the official would initialize them with Xavier, which this does not.

Callbacks hold the rest: :class:`~beautygan.training.guard.LossGuard` (attached here),
:class:`~beautygan.training.samples.SampleGrids` and :class:`~perceptual.pictures.monitor.FeatureMapMonitor` (from
the config).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor

from perceptual import LPIPS, LPIPS_LAYERS, PerceptualLoss, VGGFeatures
from perceptual.images import to_unit_range
from perceptual.weights import describe_provenance, load_weights, vgg_provenance

from ..data.geometry import face_geometry
from ..data.metrics import TransferMetrics
from ..data.regions import named_regions, stacked_region_masks
from ..models.beautygan import GeneratorInit, Translation
from ..models.discriminator import DiscriminatorNorm, PatchDiscriminator
from ..models.generators import GENERATORS, GeneratorName, build_generator
from ..models.layers import GeneratorOutput
from ..models.psgan import FaceGeometry, PSGANCode, PSGANGenerator, RegionGrid
from .guard import LossGuard
from .histogram import HistogramCriterion, check_criterion, histogram_matching_loss
from .image_metrics import ImageMetricName, image_metrics
from .loss_weights import PRESET_VGG, PRESETS, LossWeights, Preset
from .optim import adam_optimizers, check_adam
from .speed import SpeedOptions

__all__ = ["BeautyGAN"]

Geometries = tuple[FaceGeometry, FaceGeometry]
"""The source's and the reference's :class:`~beautygan.models.psgan.FaceGeometry` (PSGAN's generator)."""


def _translate_psgan(
    generator: PSGANGenerator, non_makeup: Tensor, makeup: Tensor, geometry: Geometries, identity: bool
) -> tuple[Translation, Tensor | None]:
    """PSGAN's ``G(non_makeup, makeup)`` (its ``forward``: ``apply_makeup(cat(non_makeup, makeup),
    makeup_code(cat(makeup, non_makeup)))`` split in two); with ``identity``, also ``G(x, x)`` of
    ``cat(non_makeup, makeup)`` from the same pass: the codes of the same images (MDNet runs once per image) applied
    to the same sources (MANet's first half runs once, :meth:`~beautygan.models.psgan.PSGANGenerator.apply_looks`)."""
    if not identity:
        return generator(non_makeup, makeup, non_makeup_geometry=geometry[0], makeup_geometry=geometry[1]), None
    n = non_makeup.shape[0]
    code = generator.makeup_code(torch.cat([makeup, non_makeup]), FaceGeometry.cat([geometry[1], geometry[0]]))
    sources, own_geometry = torch.cat([non_makeup, makeup]), FaceGeometry.cat(list(geometry))
    own = PSGANCode.cat([code[n:], code[:n]])  # the codes of non_makeup, then makeup
    out, same = generator.apply_looks(sources, [code, own], own_geometry)
    return Translation(makeup=out[:n], non_makeup=out[n:]), same


class StepResult(NamedTuple):
    """What one :meth:`BeautyGAN.optimization_step` computed (loss terms weighted, tensors not detached)."""

    source: Tensor
    reference: Tensor
    fake: Translation
    d_terms: dict[str, Tensor]
    d_loss: Tensor
    g_terms: dict[str, Tensor]
    g_loss: Tensor
    extras: dict[str, Any]


def _lsgan(scores: Tensor, real: bool) -> Tensor:
    return F.mse_loss(scores.float(), torch.full_like(scores.float(), 1.0 if real else 0.0))


class BeautyGAN(L.LightningModule):
    """BeautyGAN generator + two PatchGAN discriminators, trained from typed arguments (LightningCLI-ready).

    Args:
        preset: ``"paper"`` (nominal weights, VGG16), ``"official"`` (BeautyGAN's official code's effective weights,
            its identity loss and its VGG19 fed raw [-1, 1] images) or ``"psgan"`` (PSGAN's official effective weights
            and its VGG16 fed raw [-1, 1] images); see :data:`~beautygan.training.loss_weights.PRESETS`.
        loss_weights: :class:`~beautygan.training.loss_weights.LossWeights`; fields left ``None`` take the preset's.
        histogram_criterion: ``"l1"`` (the official code: 0-255 units, averaged over the image) or ``"l2"`` (the
            paper's formula; at the nominal weights it dominates every other term).
        generator: ``"beautygan"`` (:class:`~beautygan.models.beautygan.Generator`) or ``"psgan"``
            (:class:`~beautygan.models.psgan.PSGANGenerator`; its batches need landmarks: ``MTDataModule(landmarks=
            True)``, which ``beautygan fit`` sets from this).
        generator_width, residual_blocks, generator_init, generator_output: the generator (:func:`~beautygan.models.generators.build_generator`;
            64 and 6 give BeautyGAN's 9.24M parameters, PSGAN's 12.6M). ``residual_blocks``: BeautyGAN's bottleneck
            blocks, PSGAN's MANet blocks; ``generator_output: attention`` keeps the input's pixels outside a mask,
            ``regions`` (PSGAN's generator only) paints each face region's pixels from a layer of its own and keeps the
            pixels of no region; ``reference_colours`` (PSGAN's generator only) does the same with each layer a
            correction of the source recoloured with the reference's colours the attention moves.
        makeup_blocks: PSGAN's MDNet blocks (3; unused by BeautyGAN).
        region_grid: how PSGAN's attention reads the region masks at its feature grid: ``"nearest"`` (official) or
            ``"cover"`` (:class:`~beautygan.models.psgan.PSGANGenerator`; unused by BeautyGAN).
        discriminator_width: first discriminator conv width (64).
        discriminator_norm: ``"spectral"`` (both official codes) or ``"none"``.
        lr, betas: Adam settings of both optimizers.
        lr_decay_epochs: decay both learning rates linearly to 0 over the last ``lr_decay_epochs`` epochs of
            ``trainer.max_epochs`` (CycleGAN's schedule, per epoch); 0 keeps them constant, as the official code does.
        vgg_weights: weights of the perceptual loss's VGG (``"imagenet"`` in the paper, or a file).
        vgg_fallback: ``"random"``: when *named pretrained* ``vgg_weights`` cannot be had offline, train with a
            Gatys-normalized random VGG, loudly (:func:`perceptual.weights.load_weights`); a file never falls back.
        perceptual_layer: tap of the perceptual loss (``relu4_1``).
        monitor_layers: extra taps computed in the same VGG pass and returned for the feature-map monitor.
        speed: compilation, fused Adam and channels_last (:class:`~beautygan.training.speed.SpeedOptions`).
        evaluate_face_distance: in validation/test, also the dlib face distance of source and result (``True``
            needs the ``faces`` extra; ``"auto"`` uses it when installed). Colour-transfer figures are always logged.
        validation_metrics: in validation/test, also the mean LPIPS and DISTS of each made-up source against its
            source over the whole set (``<stage>/lpips_to_source``, ``<stage>/dists_to_source``;
            :mod:`~beautygan.training.image_metrics`: with the ``paper`` preset's VGG16, when installed).
    """

    def __init__(
        self,
        *,
        preset: Preset = "paper",
        loss_weights: LossWeights | None = None,
        histogram_criterion: HistogramCriterion = "l1",
        generator: GeneratorName = "beautygan",
        generator_width: int = 64,
        residual_blocks: int = 6,
        makeup_blocks: int = 3,
        generator_init: GeneratorInit = "xavier",
        generator_output: GeneratorOutput = "image",
        region_grid: RegionGrid = "nearest",
        discriminator_width: int = 64,
        discriminator_norm: DiscriminatorNorm = "spectral",
        lr: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        lr_decay_epochs: int = 0,
        vgg_weights: str = "imagenet",
        vgg_fallback: Literal["none", "random"] = "none",
        perceptual_layer: str = "relu4_1",
        monitor_layers: Sequence[str] = ("relu1_2", "relu2_2", "relu3_3", "relu4_1"),
        speed: SpeedOptions | None = None,
        evaluate_face_distance: bool | Literal["auto"] = False,
        validation_metrics: Sequence[ImageMetricName] = ("lpips", "dists"),
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if generator not in GENERATORS:
            raise ValueError(f"generator must be one of {list(GENERATORS)}, got {generator!r}")
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
        if isinstance(loss_weights, Mapping):  # Python callers may pass {"lips": 3.0}
            loss_weights = LossWeights.from_mapping(loss_weights)
        self.loss_weights = (loss_weights or LossWeights()).over(PRESETS[preset])
        self.histogram_criterion = check_criterion(histogram_criterion)
        check_adam(lr, betas, lr_decay_epochs)
        self.speed = speed if speed is not None else SpeedOptions()
        if not isinstance(self.speed, SpeedOptions):
            raise TypeError(f"speed must be a SpeedOptions, got {type(self.speed).__name__}")
        self.automatic_optimization = False

        self.generator = build_generator(
            generator,
            width=generator_width,
            residual_blocks=residual_blocks,
            makeup_blocks=makeup_blocks,
            init=generator_init,
            output=generator_output,
            region_grid=region_grid,
        )
        self.uses_geometry = generator == "psgan"  # its calls take each image's FaceGeometry
        self.disc_makeup = PatchDiscriminator(width=discriminator_width, norm=discriminator_norm)  # makeup faces
        self.disc_nonmakeup = PatchDiscriminator(width=discriminator_width, norm=discriminator_norm)  # without
        vgg_arch, vgg_normalization = PRESET_VGG[preset]
        if self.loss_weights.lpips and PRESET_VGG[preset] != PRESET_VGG["paper"]:
            raw = " fed raw [-1, 1] images" if vgg_normalization == "none" else ""
            raise ValueError(
                f"loss_weights.lpips needs a VGG16 preset ('paper'); preset {preset!r} uses {vgg_arch}{raw}"
            )
        lpips_taps = LPIPS_LAYERS if self.loss_weights.lpips else ()
        weights = load_weights(vgg_weights, arch=vgg_arch, normalization=vgg_normalization, fallback=vgg_fallback)
        taps = list(dict.fromkeys([*monitor_layers, perceptual_layer, *lpips_taps]))
        extractor = VGGFeatures(taps, weights=weights, arch=vgg_arch, input_range=(-1.0, 1.0))
        self.perceptual = PerceptualLoss(
            {perceptual_layer: 1.0}, criterion="mse", reduction="none", extractor=extractor
        )
        # LPIPS reads the perceptual loss's features: perceptual + LPIPS + monitor maps from one VGG pass.
        self.lpips = LPIPS(extractor=extractor) if self.loss_weights.lpips else None
        self.vgg_used = vgg_provenance(extractor)  # recorded in checkpoints and hparams.yaml, printed at fit start
        self.transfer_metrics = TransferMetrics(faces=evaluate_face_distance)
        image_weights = weights if PRESET_VGG[preset] == PRESET_VGG["paper"] else None
        self.image_metrics, self.image_metric_notes = image_metrics(list(validation_metrics), image_weights)
        self._histogram_loss: Callable[..., Tensor] = histogram_matching_loss  # compiled in setup() if asked
        # PSGAN's step calls makeup_code and apply_looks (so that the identity shares the first pass's work), which
        # module.compile() does not reach: compiled in setup() when asked
        self._psgan_translation: Callable[..., tuple[Translation, Tensor | None]] = _translate_psgan
        self.batches_seen = 0  # own counter: global_step counts 2 optimizer steps per batch

    # ------------------------------------------------------------------------------------------------ set-up
    def setup(self, stage: str) -> None:
        if self.speed.channels_last:
            self.to(memory_format=torch.channels_last)
        if self.speed.compile != "none":  # in place: the modules' state-dict keys stay the same
            options = self.speed.compile_options()
            for module in (self.generator, self.disc_makeup, self.disc_nonmakeup, self.perceptual.extractor):
                module.compile(**options)
            self._histogram_loss = torch.compile(histogram_matching_loss, fullgraph=True, **options)
            self._psgan_translation = torch.compile(_translate_psgan, **options)

    def configure_optimizers(self) -> Any:
        decay = self.hparams.lr_decay_epochs
        return adam_optimizers(
            self.generator.parameters(),
            [*self.disc_makeup.parameters(), *self.disc_nonmakeup.parameters()],
            lr=self.hparams.lr,
            betas=tuple(self.hparams.betas),
            fused=self.speed.fused_adam,
            lr_decay_epochs=decay,
            max_epochs=self.trainer.max_epochs if decay else None,
        )

    def configure_callbacks(self) -> list[L.Callback]:
        return [LossGuard()]

    def on_train_epoch_end(self) -> None:
        for schedule in self.lr_schedulers() or []:  # G's and D's with lr_decay_epochs; manual optimization steps them
            schedule.step()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["batches_seen"] = self.batches_seen
        checkpoint["vgg_used"] = dict(self.vgg_used)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.batches_seen = int(checkpoint.get("batches_seen", 0))

    def on_fit_start(self) -> None:
        rank_zero_info(
            f"BeautyGAN training, {self.hparams.generator} generator; "
            f"perceptual loss VGG: {describe_provenance(self.vgg_used)}"
        )
        for note in self.image_metric_notes:
            rank_zero_info(note)
        if self.logger is not None:
            self.logger.log_hyperparams({"vgg_used": dict(self.vgg_used)})

    def forward(
        self,
        source: Tensor,
        reference: Tensor,
        *,
        source_geometry: FaceGeometry | None = None,
        reference_geometry: FaceGeometry | None = None,
    ) -> Translation:
        """``Translation(makeup=source wearing reference's makeup, non_makeup=reference without makeup)`` in [-1, 1];
        PSGAN's generator needs both images' geometries."""
        geometry = (
            None if source_geometry is None or reference_geometry is None else (source_geometry, reference_geometry)
        )
        return self.translate(source, reference, geometry)

    def translate(self, non_makeup: Tensor, makeup: Tensor, geometry: Geometries | None) -> Translation:
        """One generator call, ``G(non_makeup, makeup)``; ``geometry``: ``(non_makeup's, makeup's)``
        :class:`~beautygan.models.psgan.FaceGeometry` (PSGAN's generator), ``None`` for BeautyGAN's."""
        if not self.uses_geometry:
            return self.generator(non_makeup=non_makeup, makeup=makeup)
        if geometry is None:
            raise ValueError("the psgan generator needs each image's FaceGeometry (regions and landmarks)")
        return self.generator(non_makeup, makeup, non_makeup_geometry=geometry[0], makeup_geometry=geometry[1])

    def first_pass(
        self, source: Tensor, reference: Tensor, geometry: Geometries | None
    ) -> tuple[Translation, Tensor | None]:
        """The step's ``G(source, reference)``; for PSGAN's generator with an identity weight, also its identity
        images ``G(x, x)`` of ``[source, reference]`` from the same pass (``_translate_psgan``: they share MDNet's
        codes and MANet's first half), which :meth:`identity_loss` takes; ``None`` otherwise."""
        if not self.uses_geometry or geometry is None:
            return self.translate(source, reference, geometry), None
        return self._psgan_translation(self.generator, source, reference, geometry, bool(self.loss_weights.identity))

    def geometries(self, batch: Mapping[str, Any]) -> Geometries | None:
        """``(source's, reference's)`` :class:`~beautygan.models.psgan.FaceGeometry` of a batch, built on its device
        from the label maps and landmarks (``None`` for BeautyGAN's generator, which needs none)."""
        if not self.uses_geometry:
            return None
        missing = [key for key in ("source_landmarks", "reference_landmarks") if key not in batch]
        if missing:
            raise ValueError(
                f"the psgan generator needs each image's landmarks; the batch has no {' or '.join(missing)} "
                "(MTDataModule(landmarks=True), as beautygan fit sets for generator: psgan)"
            )
        n = batch["source_labels"].shape[0]
        both = face_geometry(
            torch.cat([batch["source_labels"], batch["reference_labels"]]),
            torch.cat([batch["source_landmarks"], batch["reference_landmarks"]]),
        )  # one call for the 2N maps
        return both[:n], both[n:]

    def _inputs(self, batch: Mapping[str, Any]) -> tuple[Tensor, Tensor]:
        source, reference = batch["source"], batch["reference"]
        if self.speed.channels_last:
            source = source.contiguous(memory_format=torch.channels_last)
            reference = reference.contiguous(memory_format=torch.channels_last)
        return source, reference

    # ------------------------------------------------------------------------------------------------ losses
    def makeup_loss(self, fake: Translation, batch: Mapping[str, Any]) -> dict[str, Tensor]:
        """Histogram-matching loss per region, weighted, both directions in one call (official ``criterionHis(fake_A,
        ref_B, mask_A, mask_B)`` and ``criterionHis(fake_B, org_A, mask_B, mask_A)``), summed over directions."""
        n = batch["source"].shape[0]
        # (2N, 4, H, W): lips, skin, left/right eye shadow of sources then references (built by MTDataset's workers)
        if "source_masks" in batch and "reference_masks" in batch:
            masks = torch.cat([batch["source_masks"], batch["reference_masks"]])
        else:
            masks = stacked_region_masks(torch.cat([batch["source_labels"], batch["reference_labels"]]))
        per_sample = self._histogram_loss(
            torch.cat([fake.makeup, fake.non_makeup]),
            torch.cat([batch["reference"], batch["source"]]),
            masks,
            torch.cat([masks[n:], masks[:n]]),
            criterion=self.histogram_criterion,
            reduction="none",
        )  # (2N, 4)
        per_region = per_sample.view(2, -1, 4).mean(1).sum(0)  # mean over the batch, summed over directions
        w = self.loss_weights
        return {
            "lips": per_region[0] * w.lips,
            "skin": per_region[1] * w.skin,
            "eye_shadow": (per_region[2] + per_region[3]) * w.eye_shadow,
        }

    def identity_loss(
        self, source: Tensor, reference: Tensor, geometry: Geometries | None, same: Tensor | None = None
    ) -> Tensor:
        """The official identity loss, unweighted: ``|G(a, a).makeup - a| + |G(a, a).non_makeup - a|`` plus the same
        for ``b`` (L1 means). BeautyGAN's ``G(a, a)`` and ``G(b, b)`` run as one call (the official makes two;
        InstanceNorm is per sample). PSGAN's two outputs of ``G(x, x)`` are one and the same call,
        ``apply_makeup(x, makeup_code(x))``: it runs once for ``[a, b]`` and each L1 term counts twice. ``same``:
        PSGAN's ``G(x, x)`` of ``[a, b]`` when :meth:`first_pass` computed them."""
        n = source.shape[0]
        both = torch.cat([source, reference])
        if geometry is None or not self.uses_geometry:
            out = self.translate(both, both, None)
            return (
                F.l1_loss(out.makeup[:n], source)
                + F.l1_loss(out.non_makeup[:n], source)
                + F.l1_loss(out.makeup[n:], reference)
                + F.l1_loss(out.non_makeup[n:], reference)
            )
        if same is None:
            own = FaceGeometry.cat(list(geometry))
            generator: Any = self.generator
            same = generator.apply_makeup(both, generator.makeup_code(both, own), own)
        return 2 * (F.l1_loss(same[:n], source) + F.l1_loss(same[n:], reference))

    def generator_losses(
        self,
        source: Tensor,
        reference: Tensor,
        fake: Translation,
        batch: Mapping[str, Any],
        geometry: Geometries | None = None,
        same: Tensor | None = None,
    ) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """Weighted generator loss terms (each comparing tensors of one domain), and the tensors the step reuses.
        ``geometry``: the batch's (:meth:`geometries`; built from ``batch`` when not given); ``same``: PSGAN's
        identity images from :meth:`first_pass`."""
        w, n = self.loss_weights, source.shape[0]
        if geometry is None:
            geometry = self.geometries(batch)
        adversarial = _lsgan(self.disc_makeup(fake.makeup), True) + _lsgan(self.disc_nonmakeup(fake.non_makeup), True)
        terms: dict[str, Tensor] = {"adversarial": adversarial * w.adversarial}
        # Cycle: each branch gets its own domain back (official: rec_B, rec_A = G(fake_B, fake_A)).
        # fake.non_makeup is the reference (de-made-up) and fake.makeup the source (made-up): their own geometries
        rec = self.translate(fake.non_makeup, fake.makeup, None if geometry is None else geometry[::-1])
        terms["cycle"] = (F.l1_loss(rec.non_makeup, source) + F.l1_loss(rec.makeup, reference)) * w.cycle
        # One VGG pass over both directions: made-up source vs source, de-made-up reference vs reference.
        vgg = self.perceptual(
            torch.cat([fake.makeup, fake.non_makeup]), torch.cat([source, reference]), return_features=True
        )
        terms["perceptual"] = vgg.loss.float().view(2, n).mean(1).sum() * w.perceptual
        if self.lpips is not None:
            distances = self.lpips.from_features(vgg.pred_features, vgg.target_features).float()
            terms["lpips"] = distances.view(2, n).mean(1).sum() * w.lpips
        if w.identity:
            terms["identity"] = self.identity_loss(source, reference, geometry, same) * w.identity
        terms.update(self.makeup_loss(fake, batch))
        extras = {
            "reconstruction": rec,
            "vgg_real": {k: v[:n].detach() for k, v in vgg.target_features.items()},
            "vgg_generated": {k: v[:n].detach() for k, v in vgg.pred_features.items()},
        }
        return terms, extras

    def discriminator_losses(self, source: Tensor, reference: Tensor, fake: Translation) -> dict[str, Tensor]:
        """LSGAN losses of the two discriminators: ``makeup`` judges the reference (real) against the made-up source,
        ``nonmakeup`` the source (real) against the de-made-up reference; ``fake`` is detached by the caller."""
        makeup = _lsgan(self.disc_makeup(reference), True) + _lsgan(self.disc_makeup(fake.makeup), False)
        nonmakeup = _lsgan(self.disc_nonmakeup(source), True) + _lsgan(self.disc_nonmakeup(fake.non_makeup), False)
        return {"makeup": 0.5 * makeup, "nonmakeup": 0.5 * nonmakeup}

    # ------------------------------------------------------------------------------------------------ steps
    def optimization_step(
        self,
        batch: Mapping[str, Any],
        opt_g: torch.optim.Optimizer,
        opt_d: torch.optim.Optimizer,
        backward: Callable[[Tensor], None] = Tensor.backward,
    ) -> StepResult:
        """One discriminator update, then one generator update: the body of :meth:`training_step`, callable without a
        Trainer (``benchmarks/train_step.py`` times it); ``backward`` is Lightning's ``manual_backward`` in training."""
        if self.speed.uses_cuda_graphs and self.device.type == "cuda":
            torch.compiler.cudagraph_mark_step_begin()  # the previous step's graph outputs may be overwritten now
        source, reference = self._inputs(batch)
        geometry = self.geometries(batch)
        fake, same = self.first_pass(source, reference, geometry)  # once per batch, reused by D and G

        detached = Translation(fake.makeup.detach(), fake.non_makeup.detach())
        d_terms = self.discriminator_losses(source, reference, detached)
        d_loss = d_terms["makeup"] + d_terms["nonmakeup"]
        opt_d.zero_grad(set_to_none=True)
        backward(d_loss)
        opt_d.step()

        discriminators = (self.disc_makeup, self.disc_nonmakeup)
        for disc in discriminators:  # the G step computes no discriminator gradients
            disc.requires_grad_(False)
        try:
            g_terms, extras = self.generator_losses(source, reference, fake, batch, geometry, same)
            g_loss = torch.stack([t.float() for t in g_terms.values()]).sum()
            opt_g.zero_grad(set_to_none=True)
            backward(g_loss)
            opt_g.step()
        finally:
            for disc in discriminators:
                disc.requires_grad_(True)
        return StepResult(source, reference, fake, d_terms, d_loss, g_terms, g_loss, extras)

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> dict[str, Any]:
        opt_g, opt_d = self.optimizers()
        step = self.optimization_step(batch, opt_g, opt_d, backward=self.manual_backward)
        logged = {f"train/g_{k}": v.detach() for k, v in step.g_terms.items()}
        logged.update({f"train/d_{k}": v.detach() for k, v in step.d_terms.items()})
        logged["train/g_total"], logged["train/d_total"] = step.g_loss.detach(), step.d_loss.detach()
        n = step.source.shape[0]
        self.log_dict(logged, on_step=True, on_epoch=False, batch_size=n)
        self.log("g", logged["train/g_total"], prog_bar=True, logger=False, batch_size=n)
        self.log("d", logged["train/d_total"], prog_bar=True, logger=False, batch_size=n)
        self.batches_seen += 1
        fake, rec = step.fake, step.extras["reconstruction"]
        return {
            "loss": logged["train/g_total"],
            "terms": logged,  # for LossGuard
            "samples": [step.source, step.reference, fake.makeup, fake.non_makeup, rec.non_makeup, rec.makeup],
            "vgg_features": {"real": step.extras["vgg_real"], "generated": step.extras["vgg_generated"]},
            "images": {"real": step.source.detach(), "generated": fake.makeup.detach()},
            "regions": named_regions(batch),  # the monitor's per-region VGG distances (source vs made-up)
        }

    def _evaluate(self, batch: Mapping[str, Any], prefix: str) -> dict[str, Any]:
        source, reference = self._inputs(batch)
        fake = self.translate(source, reference, self.geometries(batch))
        transfer = self.transfer_metrics.update(
            source, reference, fake.makeup, batch["source_labels"], batch["reference_labels"]
        )
        metrics = {f"{prefix}/makeup_{k}": v for k, v in self.makeup_loss(fake, batch).items()}
        perceptual = self.perceptual(fake.makeup, source).float().mean()
        metrics[f"{prefix}/perceptual_{self.hparams.perceptual_layer}"] = perceptual
        metrics[f"{prefix}/lip_colour_distance"] = transfer["lips_rgb_distance"].nanmean()
        metrics[f"{prefix}/lip_colour_distance_source"] = transfer["lips_rgb_distance_before"].nanmean()
        # sync_dist: the figures of every rank's pairs
        self.log_dict(metrics, on_step=False, on_epoch=True, batch_size=source.shape[0], sync_dist=True)
        for name, metric in self.image_metrics[prefix].items():  # torchmetrics: summed over ranks, reset per epoch
            metric.update(fake.makeup.float(), source.float())
            self.log(f"{prefix}/{name}_to_source", metric, on_step=False, on_epoch=True, batch_size=source.shape[0])
        return {"samples": [source, reference, fake.makeup, fake.non_makeup]}

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> dict[str, Any]:
        return self._evaluate(batch, "val")

    def test_step(self, batch: Mapping[str, Any], batch_idx: int) -> dict[str, Any]:
        return self._evaluate(batch, "test")

    def on_validation_epoch_start(self) -> None:
        self.transfer_metrics.reset()

    on_test_epoch_start = on_validation_epoch_start

    def on_validation_epoch_end(self) -> None:
        self.transfer_metrics.log_to(self, prefix="val")  # every rank: it sums over ranks

    def on_test_epoch_end(self) -> None:
        self.transfer_metrics.log_to(self, prefix="test")

    def predict_step(self, batch: Mapping[str, Any], batch_idx: int) -> dict[str, Any]:
        fake = self.translate(*self._inputs(batch), self.geometries(batch))
        return {
            "source_with_makeup": to_unit_range(fake.makeup, (-1, 1)),
            "reference_without_makeup": to_unit_range(fake.non_makeup, (-1, 1)),
            "source_name": batch.get("source_name"),
            "reference_name": batch.get("reference_name"),
        }
