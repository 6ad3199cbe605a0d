"""BeautyGAN's training as a LightningModule (Li et al., ACM MM 2018; official code wtjiang98/BeautyGAN_pytorch).

Per batch: the generator runs once; the two discriminators step on its detached outputs, then the generator steps
on the same outputs (manual optimization, Adam 2e-4, betas (0.5, 0.999)). Losses: LSGAN, cycle L1, the VGG
``relu4_1`` perceptual loss from :mod:`perceptual` (one batched pass over both directions, whose extra
taps feed the feature-map monitor for free), histogram-matching makeup loss for lips / skin / eye shadow in both
directions, and the official code's optional identity loss ``G(a, a)``.

Roles are named by domain (:class:`~beautygan.networks.Translation`): ``fake = G(non_makeup=source,
makeup=reference)``; the cycle pass is ``G(non_makeup=fake.non_makeup, makeup=fake.makeup)`` and each output is
compared with the input of its own domain (official ``rec_B, rec_A = self.G(fake_B, fake_A)``).
``tests/test_beautygan_conformance.py`` checks one step against an independent transcription of the official step:
every logged term to 1e-5 and every parameter after the D and G updates.

Where this differs from the official code, deliberately:

- the step: the official code runs G again for the G step; here its first outputs are reused (same values: G has
  not changed in between and InstanceNorm keeps no running statistics);
- histogram tables: exact integer CDF comparisons; the official float32 running sums of ``torch.histc`` pdfs differ
  from them in rare top-of-range ties (about 0.1% of a term on face-shaped masks);
- an empty eye mask zeroes its term; the official ``continue`` skips the whole iteration (D updates included);
- eye-shadow boxes are clipped at the border (the official slice wraps around there) and scale with the image size;
- initialization: ``generator_init="xavier"`` is the official ``weights_init_xavier`` (the default); the official
  code's xavier call on its spectral-norm discriminators writes into a temporary and leaves PyTorch's defaults, which
  is what the discriminators here have;
- precision: the generator's last convolution runs in float32 under ``bf16-mixed``, so the images that feed the
  histogram, cycle and identity losses are not quantized to bf16 (the official code trains in float32);
- the ``official`` preset's VGG is Gatys' normalized VGG19 (``vgg_conv.pth``, read by ``weights=<path>``) fed the raw
  [-1, 1] RGB image, as the official code does; the ``paper`` preset feeds torchvision's VGG16 its ImageNet
  normalization. Offline, ``vgg_fallback: random`` uses a seeded random VGG rescaled to Gatys' activation scale
  (``weights="random_normalized"``), so that the perceptual term has the weight it has with a trained network.

Options that are not in BeautyGAN at all (off by default, used by the CPU demo or asked for by users):

- ``generator_output="attention"``: each output head also paints a mask, and pixels outside it are copied from the
  image that head transforms (GANimation's attention output, Pumarola et al., ECCV 2018); with it a 5-minute CPU
  run keeps its source's hair, skin and background instead of repainting them in an average shade;
- ``loss_weights.lpips``: LPIPS-VGG between each output and its input of the same domain, read from the perceptual
  term's VGG pass (perceptual + LPIPS + the monitor's maps from one forward);
- ``lr_decay_epochs``: a linear decay of the learning rate to 0 over the last epochs (the official code keeps it
  constant).

Designed around Lightning's pitfalls with GANs: schedules and image logging use the module's own batch counter
(``trainer.global_step`` counts optimizer steps, two per batch); sample grids reuse the step's outputs (no second
generator pass); the frozen VGG is excluded from DDP; an empty eye mask zeroes its loss term instead of skipping the
step, so every rank always runs the same collectives; image logging happens on rank 0 with no collectives inside.

Nothing silently wrong: non-finite loss terms are OR-accumulated on the device and checked where Lightning syncs
anyway (its logging interval, the end of each epoch, before every checkpoint save), stopping with
:class:`NonFiniteLossError` that names the terms and the batch; ``vgg_used`` (arch, weight source, provenance:
pretrained, random or from file, content hash) goes into every checkpoint and ``hparams.yaml``; validation figures are synchronised over ranks.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only, rank_zero_warn
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel

from perceptual import LPIPS, LPIPS_LAYERS, PerceptualLoss, VGGFeatures, WeightsUnavailableError
from perceptual.images import to_unit_range
from perceptual.losses import BEAUTYGAN_VGG
from perceptual.weights import vgg_provenance
from perceptual.pictures.event_writer import BackgroundWriter

from .histogram import HistogramCriterion, histogram_matching_loss
from .metrics import TransferMetrics
from .networks import Generator, GeneratorInit, GeneratorOutput, PatchDiscriminator, Translation
from .regions import FaceRegion, stacked_region_masks
from .samples import render_sample_grid, write_sample_grid

__all__ = ["PRESETS", "BeautyGAN", "LossWeights", "NonFiniteLossError", "SpeedOptions"]

log = logging.getLogger(__name__)


DIVERGENCE_FACTOR = 1000.0
"""How far the generator loss may grow over its early value before training warns that it diverges."""


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


class NonFiniteLossError(FloatingPointError):
    """A training loss term became NaN or infinite; the message names the terms and the batch where it happened."""


@dataclasses.dataclass(frozen=True)
class LossWeights:
    """Weights of the generator's loss terms (the discriminators' LSGAN loss is unweighted)."""

    adversarial: float = 1.0  # per discriminator
    cycle: float = 10.0  # per direction, L1
    perceptual: float = 0.005  # per direction, MSE of VGG16 relu4_1
    identity: float = 0.0  # per term of G(a, a) and G(b, b) (4 terms), L1; the paper has none
    # LPIPS-VGG (v0.1) of made-up source vs source and de-made-up reference vs reference, per direction, from the
    # same VGG pass as the perceptual term (needs a VGG16 preset and the lpips package's calibration); not in the paper
    lpips: float = 0.0
    lips: float = 1.0  # histogram loss, per direction
    skin: float = 0.1
    eye_shadow: float = 1.0  # per eye
    # "l1": the official code (0-255 units, averaged over the image). "l2" is the paper's formula (squared here);
    # at the nominal weights it dominates every other term, so both presets train with "l1".
    histogram_criterion: HistogramCriterion = "l1"


CompileMode = Literal["none", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]


@dataclasses.dataclass(frozen=True)
class SpeedOptions:
    """How fast the training step runs; none of it changes what the step computes (up to float rounding, which
    ``tests/test_beautygan_speed.py`` bounds).

    - ``compile``: ``torch.compile`` mode for the generator, both discriminators and the VGG trunk (each compiled
      in place, so state-dict keys and checkpoints are unchanged). ``"reduce-overhead"`` records CUDA graphs on a
      GPU: at batch 1 the step is bound by kernel launches, not arithmetic. The histogram makeup loss is compiled
      too, as one graph (its binning, histograms, CDF search and gathers, about 80 small eager ops forward and
      backward, become a few fused kernels); the other loss terms stay eager. Costs a compilation at the start of
      the run (and once more for the first generator step, whose discriminators' parameters are frozen).
    - ``fused_adam``: ``torch.optim.Adam(fused=True)``, one kernel for all parameters of an optimizer step.
    - ``channels_last``: networks and inputs in channels_last (GPU convolutions with tensor cores).
    """

    compile: CompileMode = "none"
    fused_adam: bool = False
    channels_last: bool = False

    def __post_init__(self) -> None:
        modes = CompileMode.__args__  # type: ignore[attr-defined]
        if self.compile not in modes:
            raise ValueError(f"speed.compile must be one of {list(modes)}, got {self.compile!r}")

    @property
    def uses_cuda_graphs(self) -> bool:
        return self.compile in ("reduce-overhead", "max-autotune")

    def compile_options(self) -> dict[str, Any]:
        """Keyword arguments of ``torch.compile`` for each network.

        Each compiled network keeps its own graphs (``isolate_recompiles``, torch >= 2.12): the two discriminators
        run one ``forward`` code object, and each needs a graph for the D step and one for the G step (frozen
        parameters, input with a gradient), per batch size (a partial last batch), so with a shared cache the
        recompile limit (8) is reached and a discriminator silently falls back to eager."""
        options: dict[str, Any] = {"mode": None if self.compile == "default" else self.compile}
        if "isolate_recompiles" in inspect.signature(torch.compile).parameters:
            options["isolate_recompiles"] = True
        return options


PRESETS: dict[str, LossWeights] = {
    # The paper's nominal values (section 3.3 and 4.1).
    "paper": LossWeights(),
    # What the official code effectively optimizes: its loss_rec = (cycle_A + cycle_B + vgg_A + vgg_B) * 0.5 halves
    # cycle (lambda 10) and VGG (10 * 0.005) terms; identity = lambda_A * lambda_idt * 0.5 = 10 * 0.5 * 0.5;
    # histogram losses are L1 with lips 1, skin 0.1, eyes 1. Its VGG is VGG19 fed un-normalized [-1, 1] images
    # (see VGG_PRESETS), as perceptual.beautygan_perceptual_loss("official") does.
    "official": LossWeights(cycle=5.0, perceptual=0.025, identity=2.5),
}

# (arch, input normalization) of the perceptual loss's VGG per preset: the paper's VGG16 on ImageNet-normalized
# inputs; the official code's VGG19 on the raw [-1, 1] generator output.
VGG_PRESETS = BEAUTYGAN_VGG  # one table, shared with perceptual.beautygan_perceptual_loss


def build_vgg(
    layers: Sequence[str],
    *,
    weights: str,
    fallback: Literal["none", "random"] = "none",
    seed: int = 0,
    arch: str = "vgg16",
    normalization: str | None = None,
) -> VGGFeatures:
    """VGG features for images in [-1, 1].

    With ``fallback="random"``, when the *pretrained* weights named by ``weights`` (``"imagenet"``, a torchvision
    enum name) cannot be had offline, the VGG is a seeded random one normalized like Gatys et al.'s VGG
    (``weights="random_normalized"``: mean activation 1 per ReLU channel), so that the perceptual term has the scale
    it has with a trained network; loudly. A file the user named never falls back: its error propagates, as does
    the core's ``WeightsUnavailableError`` without ``fallback``."""
    if fallback not in ("none", "random"):
        raise ValueError(f"vgg_fallback must be 'none' or 'random', got {fallback!r}")
    options = dict(arch=arch, input_range=(-1.0, 1.0), normalization=normalization, seed=seed)
    try:
        return VGGFeatures(list(layers), weights=weights, **options)
    except WeightsUnavailableError as err:
        named_pretrained = weights.strip().lower() in ("imagenet", "imagenet_features") or "_Weights." in weights
        if fallback != "random" or not named_pretrained:
            raise
        banner = "!" * 100
        message = (
            f"\n{banner}\n{arch} weights {weights!r} are unavailable: {err}\nThe config sets vgg_fallback: random, "
            f"so the perceptual loss and the feature maps use a RANDOMLY INITIALIZED {arch.upper()}, rescaled "
            "to the activation scale of Gatys' normalized VGG.\n"
            f"That is NOT BeautyGAN's perceptual loss; put torchvision's {arch} weights in $TORCH_HOME/hub/checkpoints "
            f"for the real one.\n{banner}"
        )
        warnings.warn(message, UserWarning, stacklevel=2)
        log.warning("%s weights %r unavailable; vgg_fallback=random: training with a RANDOM %s", arch, weights, arch)
        return VGGFeatures(list(layers), weights="random_normalized", **options)


def _lsgan(scores: Tensor, real: bool) -> Tensor:
    return F.mse_loss(scores.float(), torch.full_like(scores.float(), 1.0 if real else 0.0))


class BeautyGAN(L.LightningModule):
    """BeautyGAN generator + two PatchGAN discriminators, trained from typed arguments (LightningCLI-ready).

    Args:
        preset: ``"paper"`` (nominal weights) or ``"official"`` (the official code's effective weights, with its
            identity loss); see :data:`PRESETS`.
        loss_weights: overrides of single :class:`LossWeights` fields, e.g. ``{"identity": 0.5}``.
        generator_width, residual_blocks: generator size (64 and 6: 9.24M parameters).
        generator_init: ``"xavier"`` (the official ``weights_init_xavier``) or ``"pytorch"`` (PyTorch's defaults).
        generator_output: ``"image"`` (official: each head paints the whole image) or ``"attention"`` (each head
            paints a mask and a colour layer; pixels outside the mask are copied from its input; see
            :class:`~beautygan.networks.Generator`).
        discriminator_width: first discriminator conv width (64).
        lr, betas: Adam settings of both optimizers.
        lr_decay_epochs: decay both learning rates linearly to 0 over the last ``lr_decay_epochs`` epochs of
            ``trainer.max_epochs`` (CycleGAN's schedule, stepped per epoch); 0 keeps them constant, as the official
            BeautyGAN code does.
        vgg_weights: VGG16 weights for the perceptual loss (``"imagenet"`` in the paper, or a file).
        vgg_fallback: ``"random"`` to run with random VGG weights, loudly, when ``vgg_weights`` is unavailable.
        perceptual_layer: tap of the perceptual loss (``relu4_1``).
        monitor_layers: extra taps computed in the same VGG pass and returned for the feature-map monitor.
        sample_every_n_batches: batches between sample grids in TensorBoard (and PNGs under the log dir).
        samples_per_grid: pairs shown per grid.
        speed: compilation, fused Adam and channels_last (:class:`SpeedOptions`); the default runs eagerly.
        evaluate_face_distance: in validation/test, also the dlib face distance of source and result (``True``
            needs the ``faces`` extra; ``"auto"`` uses it when installed). Colour-transfer figures are always logged.
    """

    def __init__(
        self,
        *,
        preset: Literal["paper", "official"] = "paper",
        loss_weights: dict[str, float | str] | None = None,
        generator_width: int = 64,
        residual_blocks: int = 6,
        generator_init: GeneratorInit = "xavier",
        generator_output: GeneratorOutput = "image",
        discriminator_width: int = 64,
        lr: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        lr_decay_epochs: int = 0,
        vgg_weights: str = "imagenet",
        vgg_fallback: Literal["none", "random"] = "none",
        perceptual_layer: str = "relu4_1",
        monitor_layers: Sequence[str] = ("relu1_2", "relu2_2", "relu3_3", "relu4_1"),
        sample_every_n_batches: int = 200,
        samples_per_grid: int = 4,
        speed: SpeedOptions | None = None,
        evaluate_face_distance: bool | Literal["auto"] = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
        try:
            self.loss_weights = dataclasses.replace(PRESETS[preset], **dict(loss_weights or {}))
        except TypeError:
            fields = [f.name for f in dataclasses.fields(LossWeights)]
            raise ValueError(f"loss_weights keys must be among {fields}, got {sorted(loss_weights or {})}") from None
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
        if len(betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas):
            raise ValueError(f"betas must be two numbers in [0, 1) (Adam's), got {betas!r}")
        for name, value, least in (("generator_width", generator_width, 1), ("residual_blocks", residual_blocks, 0),
                                   ("discriminator_width", discriminator_width, 1), ("samples_per_grid", samples_per_grid, 1)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be a whole number >= {least}, got {value!r}")
        if lr_decay_epochs < 0:
            raise ValueError(f"lr_decay_epochs must be >= 0, got {lr_decay_epochs}")
        if sample_every_n_batches < 1:
            raise ValueError(f"sample_every_n_batches must be >= 1, got {sample_every_n_batches}")
        self.automatic_optimization = False
        self.generator = Generator(
            width=generator_width, residual_blocks=residual_blocks, init=generator_init, output=generator_output
        )
        self.disc_makeup = PatchDiscriminator(width=discriminator_width)  # judges makeup faces
        self.disc_nonmakeup = PatchDiscriminator(width=discriminator_width)  # judges faces without makeup
        vgg_arch, vgg_normalization = VGG_PRESETS[preset]
        if self.loss_weights.lpips > 0 and vgg_arch != "vgg16":
            raise ValueError(f"loss_weights.lpips needs a VGG16 preset ('paper'); preset {preset!r} uses {vgg_arch}")
        lpips_taps = LPIPS_LAYERS if self.loss_weights.lpips > 0 else ()
        taps = list(dict.fromkeys([*monitor_layers, perceptual_layer, *lpips_taps]))
        extractor = build_vgg(
            taps, weights=vgg_weights, fallback=vgg_fallback, arch=vgg_arch, normalization=vgg_normalization
        )
        self.perceptual = PerceptualLoss({perceptual_layer: 1.0}, criterion="mse", reduction="none", extractor=extractor)
        # LPIPS reads the perceptual loss's features: perceptual + LPIPS + monitor maps from one VGG pass.
        self.lpips = LPIPS(extractor=extractor) if self.loss_weights.lpips > 0 else None
        self.vgg_used = vgg_provenance(extractor)  # recorded in checkpoints and hparams.yaml, printed at fit start
        # The frozen VGG has no gradients to sync and its weights come from their source on every rank: keep DDP
        # from registering or broadcasting it.
        ignored = [f"perceptual.extractor.{name}" for name, _ in extractor.named_parameters()]
        ignored += [f"perceptual.extractor.{name}" for name, _ in extractor.named_buffers()]
        if self.lpips is not None:  # calibration buffers: loaded from their file on every rank
            ignored += [f"lpips.{name}" for name, _ in self.lpips.named_buffers(recurse=False)]
        DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(self, ignored)
        self.batches_seen = 0  # own counter: global_step counts 2 optimizer steps per batch
        self.sample_every_n_batches = sample_every_n_batches
        self.samples_per_grid = samples_per_grid
        self.speed = speed if speed is not None else SpeedOptions()
        if not isinstance(self.speed, SpeedOptions):
            raise TypeError(f"speed must be a SpeedOptions, got {type(self.speed).__name__}")
        self._histogram_loss = histogram_matching_loss  # compiled in setup() when speed.compile asks for it
        self._sample_writer: BackgroundWriter | None = None  # rank 0, from the first sample grid to teardown
        self._val_grid_done = False
        self.transfer_metrics = TransferMetrics(faces=evaluate_face_distance)
        # Non-finite loss terms, OR-accumulated on the device (no host sync per step) and checked where Lightning
        # syncs anyway: at its logging interval, at the end of each epoch and before any checkpoint is written.
        self._term_names: list[str] = []
        self._nonfinite: Tensor | None = None
        self._nonfinite_batch: Tensor | None = None
        self._largest_total: Tensor | None = None
        self._first_largest_total: float | None = None
        self._diverging_warned = False

    # ------------------------------------------------------------------------------------------------ set-up
    def setup(self, stage: str) -> None:
        if self.speed.channels_last:
            self.to(memory_format=torch.channels_last)
        if self.speed.compile != "none":  # in place: the modules' state-dict keys stay the same
            options = self.speed.compile_options()
            for module in (self.generator, self.disc_makeup, self.disc_nonmakeup, self.perceptual.extractor):
                module.compile(**options)
            self._histogram_loss = torch.compile(histogram_matching_loss, fullgraph=True, **options)

    def configure_optimizers(self) -> Any:
        lr, betas = self.hparams.lr, tuple(self.hparams.betas)
        fused = True if self.speed.fused_adam else None
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=lr, betas=betas, fused=fused)
        discriminators = [*self.disc_makeup.parameters(), *self.disc_nonmakeup.parameters()]
        opt_d = torch.optim.Adam(discriminators, lr=lr, betas=betas, fused=fused)  # Adam is per-parameter: same as one per D
        decay = self.hparams.lr_decay_epochs
        if not decay:
            return [opt_g, opt_d]
        total = self.trainer.max_epochs
        if total is None or total < 1:
            raise ValueError(f"lr_decay_epochs ({decay}) needs a finite trainer.max_epochs, got {total}")
        if decay > total:
            rank_zero_warn(f"lr_decay_epochs ({decay}) is more than max_epochs ({total}): decaying over all {total}")
            decay = total
        start = total - decay

        def factor(epoch: int) -> float:  # epoch e trains with this factor; the last epoch's is 1 / decay
            return 1.0 if epoch < start else max(0.0, (total - epoch) / decay)

        schedulers = [torch.optim.lr_scheduler.LambdaLR(opt, factor) for opt in (opt_g, opt_d)]
        return [opt_g, opt_d], [{"scheduler": s, "interval": "epoch"} for s in schedulers]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._check_losses()  # never write NaN weights over the last good checkpoint
        checkpoint["batches_seen"] = self.batches_seen
        checkpoint["vgg_used"] = dict(self.vgg_used)

    def on_fit_start(self) -> None:
        used = self.vgg_used
        kind = {"random": "RANDOM (not a perceptual metric)", "from file": "from file (provenance unknown)"}
        rank_zero_info(
            f"BeautyGAN perceptual loss VGG: {used['arch']} {used['weights']}, "
            f"{kind.get(used['provenance'], used['provenance'])}, sha256 {used['sha256']}"
        )
        if self.logger is not None:
            self.logger.log_hyperparams({"vgg_used": dict(used)})

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.batches_seen = int(checkpoint.get("batches_seen", 0))

    def forward(self, source: Tensor, reference: Tensor) -> Translation:
        """``Translation(makeup=source wearing reference's makeup, non_makeup=reference without makeup)`` in [-1, 1]."""
        return self.generator(non_makeup=source, makeup=reference)

    def _inputs(self, batch: Mapping[str, Any]) -> tuple[Tensor, Tensor]:
        source, reference = batch["source"], batch["reference"]
        if self.speed.channels_last:
            source = source.contiguous(memory_format=torch.channels_last)
            reference = reference.contiguous(memory_format=torch.channels_last)
        return source, reference

    # ------------------------------------------------------------------------------------------------ losses
    def makeup_loss(self, fake: Translation, batch: Mapping[str, Any]) -> dict[str, Tensor]:
        """Histogram-matching loss per region, both directions in one batched call (weighted, summed over directions).

        The made-up source (``fake.makeup``) is matched to the reference's histograms inside the source's regions; the
        de-made-up reference (``fake.non_makeup``) to the source's inside the reference's regions (official
        ``criterionHis(fake_A, ref_B, mask_A, mask_B)`` and ``criterionHis(fake_B, org_A, mask_B, mask_A)``)."""
        n = batch["source"].shape[0]
        # (2N, 4, H, W): lips, skin, left/right eye shadow of sources then references. MTDataset builds them in its
        # workers; from label maps alone they are computed here, for both label batches at once.
        if "source_masks" in batch and "reference_masks" in batch:
            masks = torch.cat([batch["source_masks"], batch["reference_masks"]])
        else:
            masks = stacked_region_masks(torch.cat([batch["source_labels"], batch["reference_labels"]]))
        w = self.loss_weights
        per_sample = self._histogram_loss(
            torch.cat([fake.makeup, fake.non_makeup]),
            torch.cat([batch["reference"], batch["source"]]),
            masks,
            torch.cat([masks[n:], masks[:n]]),
            criterion=w.histogram_criterion,
            reduction="none",
        )  # (2N, 4)
        per_region = per_sample.view(2, -1, 4).mean(1).sum(0)  # mean over the batch, summed over directions
        return {
            "lips": per_region[0] * w.lips,
            "skin": per_region[1] * w.skin,
            "eye_shadow": (per_region[2] + per_region[3]) * w.eye_shadow,
        }

    def generator_losses(
        self, source: Tensor, reference: Tensor, fake: Translation, batch: Mapping[str, Any]
    ) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """Weighted generator loss terms, and the tensors the step reuses (reconstructions, VGG features).

        ``source`` is the non-makeup image, ``reference`` the makeup image, ``fake = G(non_makeup=source,
        makeup=reference)``. Every comparison pairs tensors of the same domain."""
        w = self.loss_weights
        terms: dict[str, Tensor] = {
            "adversarial": (_lsgan(self.disc_makeup(fake.makeup), True) + _lsgan(self.disc_nonmakeup(fake.non_makeup), True))
            * w.adversarial
        }
        # Cycle: each branch gets its own domain back (official: rec_B, rec_A = G(fake_B, fake_A)).
        rec = self.generator(non_makeup=fake.non_makeup, makeup=fake.makeup)
        terms["cycle"] = (F.l1_loss(rec.non_makeup, source) + F.l1_loss(rec.makeup, reference)) * w.cycle
        n = source.shape[0]
        # One VGG pass over both directions: made-up source vs source, de-made-up reference vs reference.
        vgg = self.perceptual(torch.cat([fake.makeup, fake.non_makeup]), torch.cat([source, reference]), return_features=True)
        per_sample = vgg.loss.float().view(2, n).mean(1)
        terms["perceptual"] = per_sample.sum() * w.perceptual
        if self.lpips is not None:
            distances = self.lpips.from_features(vgg.pred_features, vgg.target_features).float()
            terms["lpips"] = distances.view(2, n).mean(1).sum() * w.lpips
        if w.identity > 0:
            # G(a, a) and G(b, b) in one generator call (official: two; the same values, InstanceNorm is per sample).
            both = torch.cat([source, reference])
            same = self.generator(non_makeup=both, makeup=both)
            terms["identity"] = (
                F.l1_loss(same.makeup[:n], source) + F.l1_loss(same.non_makeup[:n], source)
                + F.l1_loss(same.makeup[n:], reference) + F.l1_loss(same.non_makeup[n:], reference)
            ) * w.identity  # fmt: skip
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
        return {
            "makeup": 0.5 * (_lsgan(self.disc_makeup(reference), True) + _lsgan(self.disc_makeup(fake.makeup), False)),
            "nonmakeup": 0.5
            * (_lsgan(self.disc_nonmakeup(source), True) + _lsgan(self.disc_nonmakeup(fake.non_makeup), False)),
        }

    # ------------------------------------------------------------------------------------------------ steps
    def optimization_step(
        self,
        batch: Mapping[str, Any],
        opt_g: torch.optim.Optimizer,
        opt_d: torch.optim.Optimizer,
        backward: Callable[[Tensor], None] = Tensor.backward,
    ) -> StepResult:
        """One discriminator update, then one generator update, on ``batch``: the body of :meth:`training_step`,
        callable without a Trainer (``benchmarks/train_step.py`` times it). ``backward`` is Lightning's
        ``manual_backward`` in training."""
        if self.speed.uses_cuda_graphs and self.device.type == "cuda":
            torch.compiler.cudagraph_mark_step_begin()  # the previous step's graph outputs may be overwritten now
        source, reference = self._inputs(batch)
        fake = self.generator(non_makeup=source, makeup=reference)  # once per batch, reused by D and G

        detached = Translation(makeup=fake.makeup.detach(), non_makeup=fake.non_makeup.detach())
        d_terms = self.discriminator_losses(source, reference, detached)
        d_loss = d_terms["makeup"] + d_terms["nonmakeup"]
        opt_d.zero_grad(set_to_none=True)
        backward(d_loss)
        opt_d.step()

        discriminators = (self.disc_makeup, self.disc_nonmakeup)
        for disc in discriminators:  # the G step computes no discriminator gradients
            disc.requires_grad_(False)
        try:
            g_terms, extras = self.generator_losses(source, reference, fake, batch)
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
        logged["train/g_total"] = step.g_loss.detach()
        logged["train/d_total"] = step.d_loss.detach()
        self._track_losses(logged)
        n = step.source.shape[0]
        self.log_dict(logged, on_step=True, on_epoch=False, batch_size=n)
        self.log("g", logged["train/g_total"], prog_bar=True, logger=False, batch_size=n)
        self.log("d", logged["train/d_total"], prog_bar=True, logger=False, batch_size=n)

        fake, rec = step.fake, step.extras["reconstruction"]
        if self.batches_seen % self.sample_every_n_batches == 0:
            images = [step.source, step.reference, fake.makeup, fake.non_makeup, rec.non_makeup, rec.makeup]
            self._log_samples("samples/train", [x.detach() for x in images])
        self.batches_seen += 1
        if self.batches_seen % max(1, self.trainer.log_every_n_steps) == 0:
            self._check_losses()
        return {
            "loss": logged["train/g_total"],
            "vgg_features": {"real": step.extras["vgg_real"], "generated": step.extras["vgg_generated"]},
            "images": {"real": step.source.detach(), "generated": fake.makeup.detach()},
            "regions": self._monitor_regions(batch),  # the monitor's per-region VGG distances (source vs made-up)
        }

    @staticmethod
    def _monitor_regions(batch: Mapping[str, Any]) -> dict[str, Tensor]:
        """The source's lips, eye-shadow, skin and background masks ``(N, 1, H, W)`` (views of the batch's masks)."""
        masks = batch["source_masks"] if "source_masks" in batch else stacked_region_masks(batch["source_labels"])
        labels = batch["source_labels"]
        labels = labels if labels.ndim == 4 else labels.unsqueeze(1)
        return {
            "lips": masks[:, 0:1],
            "eye_shadow": masks[:, 2:3] | masks[:, 3:4],
            "skin": masks[:, 1:2],
            "background": labels == int(FaceRegion.BACKGROUND),
        }

    def on_train_epoch_end(self) -> None:
        self._check_losses()  # runs before ModelCheckpoint's end-of-epoch save
        schedulers = self.lr_schedulers()  # manual optimization: Lightning does not step them
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers] if schedulers else []:
            scheduler.step()

    def _track_losses(self, terms: Mapping[str, Tensor]) -> None:
        """OR this step's non-finite terms into a device flag, with the batch where each first went bad, and keep the
        largest finite generator total seen (all on the device)."""
        bad = ~torch.isfinite(torch.stack([t.float() for t in terms.values()]))
        if self._nonfinite is None or list(terms) != self._term_names:
            self._term_names = list(terms)
            self._nonfinite = torch.zeros_like(bad)
            self._nonfinite_batch = torch.full(bad.shape, -1, dtype=torch.int64, device=bad.device)
        first = bad & ~self._nonfinite
        self._nonfinite_batch = torch.where(first, torch.full_like(self._nonfinite_batch, self.batches_seen), self._nonfinite_batch)
        self._nonfinite |= bad
        total = terms["train/g_total"].detach().float()
        size = torch.where(torch.isfinite(total), total.abs(), torch.zeros_like(total))
        self._largest_total = size if self._largest_total is None else torch.maximum(self._largest_total, size)

    def _check_losses(self) -> None:
        """Stop training with :class:`NonFiniteLossError` when any rank saw a non-finite loss term (one host sync);
        otherwise warn once if the losses diverge."""
        if self._nonfinite is None:
            return
        local = bool(self._nonfinite.any())
        trainer = self._trainer
        anywhere = trainer.strategy.reduce_boolean_decision(local, all=False) if trainer is not None else local
        if not anywhere:
            self._warn_if_diverging()
            return
        if not local:
            raise NonFiniteLossError("a loss term became NaN or infinite on another rank; training stopped")
        names = [name.removeprefix("train/") for name, bad in zip(self._term_names, self._nonfinite.tolist()) if bad]
        batches = [b for b, bad in zip(self._nonfinite_batch.tolist(), self._nonfinite.tolist()) if bad]
        raise NonFiniteLossError(
            f"{', '.join(names)} became NaN or infinite at batch {min(batches)} (epoch {self.current_epoch}); "
            f"training stopped and no checkpoint was written from here (a lower lr, or precision 32-true, may help)"
        )

    def _warn_if_diverging(self) -> None:
        """Warn once when the generator's total loss has grown 1000-fold over its largest value in the first checked
        interval (finite but diverging, e.g. a far too large lr)."""
        if self._largest_total is None or self._diverging_warned:
            return
        largest = float(self._largest_total)
        if self._first_largest_total is None:
            self._first_largest_total = largest
        elif self._first_largest_total > 0 and largest > DIVERGENCE_FACTOR * self._first_largest_total:
            rank_zero_warn(
                f"BeautyGAN: the generator loss reached {largest:.3g} by batch {self.batches_seen}, over "
                f"{DIVERGENCE_FACTOR:g} times its early value {self._first_largest_total:.3g}: training is diverging "
                "(lower the lr?)"
            )
            self._diverging_warned = True

    def _evaluate(self, batch: Mapping[str, Any], prefix: str) -> None:
        source, reference = self._inputs(batch)
        fake = self.generator(non_makeup=source, makeup=reference)
        n = source.shape[0]
        transfer = self.transfer_metrics.update(
            source, reference, fake.makeup, batch["source_labels"], batch["reference_labels"]
        )  # per-pair colour figures, also accumulated for val/transfer/*
        makeup = self.makeup_loss(fake, batch)
        vgg = self.perceptual(fake.makeup, source)
        metrics = {f"{prefix}/makeup_{k}": v for k, v in makeup.items()}
        metrics[f"{prefix}/perceptual_{self.hparams.perceptual_layer}"] = vgg.float().mean()
        metrics[f"{prefix}/lip_colour_distance"] = transfer["lips_rgb_distance"].nanmean()
        metrics[f"{prefix}/lip_colour_distance_source"] = transfer["lips_rgb_distance_before"].nanmean()
        self.log_dict(metrics, on_step=False, on_epoch=True, batch_size=n, sync_dist=True)  # over every rank's pairs
        if prefix == "val" and not self._val_grid_done:
            self._log_samples("samples/val", [source, reference, fake.makeup, fake.non_makeup])
            self._val_grid_done = True

    def on_validation_epoch_start(self) -> None:
        self._val_grid_done = False
        self.transfer_metrics.reset()

    def on_validation_epoch_end(self) -> None:
        self.transfer_metrics.log_to(self, prefix="val")  # every rank: it sums over ranks

    def on_test_epoch_start(self) -> None:
        self.transfer_metrics.reset()

    def on_test_epoch_end(self) -> None:
        self.transfer_metrics.log_to(self, prefix="test")

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch: Mapping[str, Any], batch_idx: int) -> dict[str, Any]:
        source, reference = self._inputs(batch)
        fake = self.generator(non_makeup=source, makeup=reference)
        return {
            "source_with_makeup": to_unit_range(fake.makeup, (-1, 1)),
            "reference_without_makeup": to_unit_range(fake.non_makeup, (-1, 1)),
            "source_name": batch.get("source_name"),
            "reference_name": batch.get("reference_name"),
        }

    # ------------------------------------------------------------------------------------------------ logging
    @rank_zero_only
    def _log_samples(self, tag: str, images: list[Tensor]) -> None:
        """A grid, one row per pair, with a header naming the columns: source, reference, made-up source, de-made-up
        reference[, the two reconstructions], in TensorBoard and as a PNG under ``<log_dir>/samples``.

        The training thread copies the pairs to the host and renders the grid (torch); PNG encoding and writing,
        about 0.3 s of CPU per 256-pixel grid, happen in a background thread
        (:class:`~perceptual.pictures.event_writer.BackgroundWriter`), flushed when the run ends, also by an
        exception. Rank 0 only, and no collectives in here (other ranks never enter)."""
        logger = self.logger
        if logger is None:
            return
        experiment = getattr(logger, "experiment", None)
        writer = experiment if hasattr(experiment, "add_image") else None
        log_dir = getattr(logger, "log_dir", None)
        if writer is None and not log_dir:
            return
        k = min(self.samples_per_grid, images[0].shape[0])
        columns = torch.stack([x[:k].float().cpu() for x in images], dim=1)  # (k, cols, 3, H, W)
        pixels = render_sample_grid(columns)  # (H', W', 3) uint8, a new array the writer thread owns
        png_path = Path(log_dir) / "samples" / f"{tag.split('/')[-1]}_{self.batches_seen:06d}.png" if log_dir else None
        if self._sample_writer is None or self._sample_writer.writer is not writer:
            self._close_sample_writer()
            self._sample_writer = BackgroundWriter(writer)
        self._sample_writer.submit(write_sample_grid, tag, pixels, self.batches_seen, png_path)

    def _close_sample_writer(self) -> None:
        """Wait until every sample grid asked for is written, then stop the writer thread (a later grid starts a new
        one). Called at teardown and, through the callback of :meth:`configure_callbacks`, on an exception."""
        writer, self._sample_writer = self._sample_writer, None
        if writer is not None:
            writer.close()

    def teardown(self, stage: str) -> None:
        self._close_sample_writer()  # before Lightning finalizes the logger

    def configure_callbacks(self) -> list[L.Callback]:
        return [_SampleWriterOnException()]


class _SampleWriterOnException(L.Callback):
    """Writes BeautyGAN's queued sample grids when a run stops by an exception: a LightningModule has no
    ``on_exception`` hook, and the Trainer calls no ``teardown`` hook then (it finalizes the loggers)."""

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if not isinstance(pl_module, BeautyGAN):
            return
        try:
            pl_module._close_sample_writer()
        except Exception as error:  # noqa: BLE001 - the training error is the one to raise
            rank_zero_warn(f"BeautyGAN: writing the last sample grids failed while stopping on an error: {error}")
