"""A PSGAN-style makeup-transfer generator: the makeup follows the face's landmarks, not the pixel grid.

PSGAN (Jiang et al., "PSGAN: Pose and Expression Robust Spatial-Aware GAN for Customizable Makeup Transfer",
CVPR 2020; official code wtjiang98/PSGAN, ``psgan/net.py`` ``Generator`` and ``psgan/preprocess.py``
``PreProcess.process``) in three parts:

- **MDNet** (makeup distill network) encodes the reference into visual features and two one-channel *makeup
  matrices* ``γ`` and ``β`` on a grid a quarter of the image's size.
- **AMM** (attentive makeup morphing) moves ``γ`` and ``β`` onto the source. Each source position attends to the
  reference positions of its own face region (lips, skin, eyes). Queries and keys join the visual features (times
  ``feature_scale``) with the position relative to the 68 landmarks (:func:`relative_position_features`); the
  logits are multiplied by ``temperature``.
- **MANet** (makeup apply network) encodes the source and, halfway through its bottleneck, applies
  ``x · (1 + γ) + β`` before decoding.

BeautyGAN's generator joins the source and the reference position by position, so it expects the reference's lips
where the source has its lips; the attention here finds them wherever the landmarks put them (a turned head, an open
mouth, another face shape). ``tests/test_psgan_conformance.py`` compares this module with an independent
transcription of the official generator.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal, TypeVar

import torch
from torch import Tensor, nn

from .beautygan import Translation
from .layers import (
    REGION_OUTPUTS,
    Fp32Conv2d,
    GeneratorOutput,
    ResidualBlock,
    conv_in_relu,
    output_channels,
    output_image,
)

__all__ = [
    "FaceGeometry",
    "PSGANCode",
    "PSGANGenerator",
    "REGIONS",
    "RegionGrid",
    "cell_colours",
    "relative_position_features",
]

REGIONS = ("lips", "skin", "eyes")
"""The regions the attention keeps apart, in the order of :attr:`FaceGeometry.regions`' channels (the official
``mask_lip``, ``mask_face``, ``mask_eyes``)."""
LANDMARKS = 68
"""dlib's 68-point (iBUG 300-W) markup."""
FEATURE_STRIDE = 4
"""Image pixels per feature-grid cell: MDNet and MANet downsample twice by 2."""

PSGANInit = Literal["xavier", "pytorch"]
RegionGrid = Literal["nearest", "cover"]
"""How the region masks are read at the feature grid (:class:`PSGANGenerator`'s ``region_grid``)."""
_B = TypeVar("_B", bound="_Batch")


class _Batch:
    """A dataclass of tensors that share their first (batch) dimension: length, indexing, ``to`` and ``cat``."""

    def _tensors(self) -> dict[str, Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    def __len__(self) -> int:
        return int(next(iter(self._tensors().values())).shape[0])

    def __getitem__(self: _B, index: int | slice | Tensor) -> _B:
        """The items at ``index`` (an int, a slice, or an index / bool tensor); an int keeps the batch dimension
        (a batch of one), so that results can be concatenated back with :meth:`cat`."""
        if not isinstance(index, slice) and not (isinstance(index, Tensor) and index.ndim > 0):
            # IndexError out of range, negative indices counted from the end
            position = range(len(self))[operator.index(index)]
            index = slice(position, position + 1)
        return type(self)(**{name: value[index] for name, value in self._tensors().items()})

    def to(self: _B, device: torch.device | str) -> _B:
        """The same batch on ``device`` (dtypes kept)."""
        return type(self)(**{name: value.to(device) for name, value in self._tensors().items()})

    @classmethod
    def cat(cls: type[_B], batches: Sequence[_B]) -> _B:
        """``batches`` joined along the batch dimension, in order."""
        if not batches or not all(isinstance(b, cls) for b in batches):
            raise TypeError(f"cat needs a non-empty sequence of {cls.__name__}, got {batches!r:.80}")
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        return cls(**{name: torch.cat([getattr(b, name) for b in batches]) for name in names})


@dataclass(frozen=True)
class FaceGeometry(_Batch):
    """Where each face's parts are: what the attention needs besides the pixels.

    Args:
        regions: ``(N, 3, H, W)`` masks of :data:`REGIONS` (lips, skin, eyes; the official order), 1 inside and 0
            outside (float or bool; a value above 0.5 counts as inside), at the image's size, not overlapping (a
            pixel in several counts in the first). The official masks are the parsing labels upper + lower lip;
            face + nose with the two eye boxes cut out; and the eye boxes (each eye's landmarks' bounding box
            widened by 16 px at 256 px) inside face + nose.
        landmarks: ``(N, 68, 2)`` dlib 68-point landmarks in the image's pixel coordinates, ``(x, y)`` as dlib
            gives them (pixel centres at integers).

    Indexing keeps the batch dimension; :meth:`cat` joins batches; :meth:`to` moves both tensors.
    """

    regions: Tensor
    landmarks: Tensor

    def __post_init__(self) -> None:
        regions, landmarks = self.regions, self.landmarks
        if not isinstance(regions, Tensor) or not isinstance(landmarks, Tensor):
            raise TypeError(
                f"regions and landmarks must be tensors, got {type(regions).__name__} and {type(landmarks).__name__}"
            )
        if regions.ndim != 4 or regions.shape[1] != len(REGIONS):
            raise ValueError(
                f"regions must be (N, 3, H, W) masks of {', '.join(REGIONS)}, got shape {tuple(regions.shape)}"
            )
        if not (regions.is_floating_point() or regions.dtype == torch.bool):
            raise TypeError(f"regions must be float or bool masks, got dtype {regions.dtype}")
        if landmarks.ndim != 3 or landmarks.shape[1:] != (LANDMARKS, 2):
            raise ValueError(f"landmarks must be (N, 68, 2) (x, y) points, got shape {tuple(landmarks.shape)}")
        if landmarks.is_complex() or landmarks.dtype == torch.bool:
            raise TypeError(f"landmarks must be real pixel coordinates, got dtype {landmarks.dtype}")
        if regions.shape[0] != landmarks.shape[0]:
            raise ValueError(
                f"regions and landmarks must have the same batch size, got {regions.shape[0]} and {landmarks.shape[0]}"
            )
        if regions.device != landmarks.device:
            raise ValueError(
                f"regions and landmarks must be on one device, got {regions.device} and {landmarks.device}"
            )

    @property
    def size(self) -> tuple[int, int]:
        """The image size ``(H, W)`` the geometry belongs to."""
        return int(self.regions.shape[-2]), int(self.regions.shape[-1])


@dataclass(frozen=True)
class PSGANCode(_Batch):
    """What references contribute to a transfer (:meth:`PSGANGenerator.makeup_code`), and mixtures of them
    (:meth:`PSGANGenerator.mix_codes`). Each of the ``N`` items holds ``K`` references (1 for a plain code) on a
    feature grid of ``h x w`` cells.

    Args:
        keys: ``(N, K, C + 136, h, w)``: the attention keys, MDNet's features times ``feature_scale`` then
            the relative-position features.
        regions: ``(N, K, 3, h, w)`` bool: each reference's :data:`REGIONS` at the grid.
        matrices: ``(N, K, 2, h, w)``: each reference's makeup matrices ``γ`` and ``β``.
        weights: ``(N, K)``: how much each reference's morphed matrices count in the mix.
        colours: ``(N, K, 3, 3, h, w)``: each reference's colours, per region (lips, skin, eyes) and cell: the mean
            RGB of the cell's pixels in the region (0 where it has none), from the full-resolution region masks.
        pixels: ``(N, K, 3, h, w)``: how many pixels of each region each cell holds.

    Keys, matrices, weights, colours and pixels are float32 (float64 from a float64 generator), whatever the
    autocast state.
    """

    keys: Tensor
    regions: Tensor
    matrices: Tensor
    weights: Tensor
    colours: Tensor
    pixels: Tensor

    def __post_init__(self) -> None:
        keys, regions, matrices, weights = self.keys, self.regions, self.matrices, self.weights
        colours, pixels = self.colours, self.pixels
        if keys.ndim != 5 or regions.ndim != 5 or matrices.ndim != 5 or weights.ndim != 2:
            raise ValueError(
                "a PSGAN code needs keys, regions and matrices of shape (N, K, C, h, w) and weights (N, K), got "
                f"{tuple(keys.shape)}, {tuple(regions.shape)}, {tuple(matrices.shape)}, {tuple(weights.shape)}"
            )
        grid = keys.shape[:2] + keys.shape[3:]
        if (
            regions.shape[:2] + regions.shape[3:] != grid
            or matrices.shape[:2] + matrices.shape[3:] != grid
            or tuple(weights.shape) != tuple(keys.shape[:2])
            or regions.shape[2] != len(REGIONS)
            or matrices.shape[2] != 2
        ):
            raise ValueError(
                "PSGAN code parts disagree: keys (N, K, C, h, w), regions (N, K, 3, h, w), matrices (N, K, 2, h, w), "
                f"weights (N, K) expected, got {tuple(keys.shape)}, {tuple(regions.shape)}, {tuple(matrices.shape)}, "
                f"{tuple(weights.shape)}"
            )
        if regions.dtype != torch.bool or not (keys.is_floating_point() and matrices.is_floating_point()):
            raise TypeError(
                f"a PSGAN code needs bool regions and float keys and matrices, got {regions.dtype}, {keys.dtype} and "
                f"{matrices.dtype}"
            )
        if tuple(colours.shape) != (*regions.shape[:3], 3, *regions.shape[3:]) or pixels.shape != regions.shape:
            raise ValueError(
                f"a PSGAN code's colours must be (N, K, 3, 3, h, w) and its pixels (N, K, 3, h, w) for regions "
                f"{tuple(regions.shape)}, got {tuple(colours.shape)} and {tuple(pixels.shape)}"
            )
        if not (colours.is_floating_point() and pixels.is_floating_point()):
            raise TypeError(f"a PSGAN code needs float colours and pixels, got {colours.dtype} and {pixels.dtype}")

    @property
    def references(self) -> int:
        """``K``: the references each item mixes."""
        return int(self.weights.shape[1])


def relative_position_features(
    landmarks: Tensor, *, height: int, width: int, stride: int = FEATURE_STRIDE, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Each feature-grid cell's position relative to the 68 landmarks, as PSGAN's keys and queries use it.

    Cell ``(i, j)`` stands for the image pixel ``(stride * i, stride * j)`` (the pixel that the official
    nearest-neighbour downsampling keeps). Its 136 values are the pixel's row minus each landmark's ``y`` (68
    values), then its column minus each landmark's ``x`` (68 values) (the official ``(y, x)`` channel order), divided
    by the vector's L2 norm (a zero vector stays zero).

    Args:
        landmarks: ``(N, 68, 2)`` ``(x, y)`` pixel coordinates (dlib's convention).
        height, width: the image size.
        stride: image pixels per grid cell.
        dtype: the floating-point type of the computation and the result.

    Returns ``(N, 136, ceil(height / stride), ceil(width / stride))``.
    """
    if landmarks.ndim != 3 or landmarks.shape[1:] != (LANDMARKS, 2):
        raise ValueError(f"landmarks must be (N, 68, 2) (x, y) points, got shape {tuple(landmarks.shape)}")
    if height < 1 or width < 1 or stride < 1:
        raise ValueError(f"height, width and stride must be >= 1, got {height}, {width} and {stride}")
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point type, got {dtype}")
    points = landmarks.to(dtype)
    rows = torch.arange(0, height, stride, dtype=dtype, device=points.device)
    cols = torch.arange(0, width, stride, dtype=dtype, device=points.device)
    n, h, w = points.shape[0], rows.numel(), cols.numel()
    dy = rows.view(1, 1, h, 1) - points[:, :, 1].view(n, LANDMARKS, 1, 1)
    dx = cols.view(1, 1, 1, w) - points[:, :, 0].view(n, LANDMARKS, 1, 1)
    offsets = torch.cat([dy.expand(n, LANDMARKS, h, w), dx.expand(n, LANDMARKS, h, w)], dim=1)
    norm = torch.linalg.vector_norm(offsets, dim=1, keepdim=True)
    return offsets / torch.where(norm == 0, torch.ones_like(norm), norm)


def _encoder(width: int, *, affine: bool) -> nn.Sequential:
    """conv7x7 to ``width``, then two stride-2 conv4x4 to ``2 * width`` and ``4 * width``, each IN + ReLU."""
    return nn.Sequential(
        *conv_in_relu(3, width, 7, 1, 3, affine=affine),
        *conv_in_relu(width, width * 2, 4, 2, 1, affine=affine),
        *conv_in_relu(width * 2, width * 4, 4, 2, 1, affine=affine),
    )


class _MDNet(nn.Module):
    """The makeup distill network: the reference's features and its makeup matrices ``γ``, ``β`` (1x1 convs)."""

    def __init__(self, width: int, blocks: int) -> None:
        super().__init__()
        self.encoder = _encoder(width, affine=True)
        self.bottleneck = nn.Sequential(*[ResidualBlock(width * 4, affine=True) for _ in range(blocks)])
        self.gamma = nn.Conv2d(width * 4, 1, kernel_size=1, bias=False)
        self.beta = nn.Conv2d(width * 4, 1, kernel_size=1, bias=False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = self.bottleneck(self.encoder(x))
        return features, torch.cat([self.gamma(features), self.beta(features)], dim=1)


class _MANet(nn.Module):
    """The makeup apply network: an encoder, a bottleneck (the makeup is applied halfway through it) and a decoder
    whose last convolution runs in float32 (3 channels, or 4 for the ``"attention"`` output); InstanceNorm without
    affine parameters throughout."""

    def __init__(self, width: int, blocks: int, output: GeneratorOutput) -> None:
        super().__init__()
        self.encoder = _encoder(width, affine=False)
        self.bottleneck = nn.Sequential(*[ResidualBlock(width * 4, affine=False) for _ in range(blocks)])
        self.decoder = nn.Sequential(
            *conv_in_relu(width * 4, width * 2, 4, 2, 1, affine=False, transposed=True),
            *conv_in_relu(width * 2, width, 4, 2, 1, affine=False, transposed=True),
            Fp32Conv2d(width, output_channels(output), kernel_size=7, stride=1, padding=3, bias=False),
        )


class PSGANGenerator(nn.Module):
    """PSGAN's generator (MDNet, AMM, MANet), batched, at any size divisible by 4.

    Args:
        width: channels after the first convolution of MDNet and MANet (64 in the official code); the feature grid
            has ``4 * width`` channels.
        mdnet_blocks: residual blocks of MDNet's bottleneck (3).
        manet_blocks: residual blocks of MANet's bottleneck (6); the makeup is applied after the first
            ``manet_blocks // 2`` of them (3, as in the official code).
        feature_scale: factor of the visual features in the attention's queries and keys (0.01).
        temperature: factor of the attention's logits (200).
        init: ``"xavier"``: the official ``weights_init_xavier`` (``xavier_normal_``, gain 1, on every convolution
            weight; InstanceNorm affine 1/0); ``"pytorch"``: PyTorch's default initialization.
        output: ``"image"`` (official): the decoder paints the whole image (``tanh``). ``"attention"`` (an addition
            to the official network, as :class:`~beautygan.models.beautygan.Generator` has it): the decoder's last
            convolution paints a 4th channel, a mask, and pixels outside it are copied from the image MANet
            transforms (:func:`~beautygan.models.layers.output_image`), so a short training run keeps the
            background, hair and skin of its input. ``"regions"`` (also an addition): the last convolution paints a
            colour layer for each region (lips, skin, the eye shadow's area) plus the mask; each pixel takes the
            layer of its region in the source's :class:`FaceGeometry`, at the image's full resolution, and a pixel in
            no region (hair, background, the eyes themselves, the teeth) keeps the source's. Lipstick then reaches
            the source's lip pixels and no others through the lip layer, to the pixel: the decoder, which works
            from a grid four times coarser, would otherwise spread the lip colour onto the skin around the lips and
            into an open mouth (the colour bleeding users of makeup tools report). MANet's second half runs twice
            (one batch): the lip layer from every region's makeup, the other layers with the lip cells' makeup left
            out, so that the skin beside the lips is decoded from features that never carried the lip colour.
            ``"reference_colours"`` (also an addition): as ``"regions"``, with each region's layer a correction of a
            base image: the source with each ``4 x 4`` cell's mean colour of the region moved to the reference's colour
            of that region, carried by the same attention (its weights over the reference's cells, counted by the
            region's pixels each cell holds; :class:`PSGANCode`'s ``colours``), then shifted over the region so that the
            region's mean colour is the reference's: the attention decides where each colour goes, not the lipstick's
            overall colour, which a sharp attention favouring a few of the reference's cells (as an open mouth or a
            turned head makes it) would otherwise move. Within a cell the source keeps its texture and shading. The
            corrections' weights start at zero, so an untrained generator paints the base images, the way colour
            transfer by example recolours an image region by region (Reinhard et al., "Color Transfer between Images",
            2001, moves an image's mean colour; Tong et al., "Example-Based Cosmetic Transfer", 2007, transfers makeup
            per face region); the network learns what the mean colour misses (shading, highlights, edges) and how much
            of it to apply (the mask).
        region_grid: how a feature-grid cell (``4 x 4`` pixels) gets its region. ``"nearest"`` (official): the
            region of its pixel ``(4i, 4j)``. ``"cover"``: a region holding any pixel of the cell, the smaller
            regions first (lips, then eyes, then skin), so that lips a pixel or two thick (an open mouth, a small
            image) still have cells for the attention to read and write; at 64 px the nearest pixel misses every lip
            cell of one reference in six.

    Inputs: images ``(N, 3, H, W)`` in [-1, 1] with H and W divisible by 4, each with its :class:`FaceGeometry`
    (region masks and 68 landmarks at the image's size); the feature grid is ``H/4 x W/4``.

    - ``forward(non_makeup, makeup, non_makeup_geometry=, makeup_geometry=)`` -> :class:`~beautygan.models.Translation`
      ``(makeup=non_makeup wearing makeup's look, non_makeup=makeup wearing non_makeup's bare look)``. The official
      generator transfers one way per call; here both directions run as one batch of ``2N``.
    - :meth:`makeup_code`, :meth:`apply_makeup`: the two halves of a transfer (a reference's code, then a source
      wearing it), so looks can be computed once, batched and mixed (:meth:`mix_codes`).
    - :meth:`morph`: the matrices ``γ``, ``β`` a code morphs onto a source.
    - :meth:`apply_looks`: several looks on the same sources, MANet's first half run once.

    Outputs are float32 even under autocast (the last convolution runs in float32), and so is the attention: its
    logits are multiplied by ``temperature``, and bf16's 8-bit mantissa would move them by whole units.

    Deliberate differences from the official ``Generator`` (everything else, the layers, their order, the
    ``x · (1 + γ) + β`` step, the keys and the region masks, follows it):

    1. **Batched.** The official attention works at batch 1 (``batch_size = 3`` regions hard-coded in
       ``get_weight``, sparse tensors); here every item of a batch attends within itself, and both directions of a
       translation share one pass.
    2. **Dense masked softmax per region.** The official computes each region's ``HW x HW`` logits with the other
       regions' queries and keys zeroed, takes the softmax over the whole row (the zero logits of out-of-region keys
       included), then keeps only the entries whose logit was non-zero (``nonzero()`` into a sparse tensor). Here a
       source position of a region takes the softmax over the reference's positions of that region only, so each
       row sums to 1. The two differ by the zero logits' share of the official row sum, ``(#zeros) ·
       exp(-temperature · best logit)``: the position term alone gives the best key a logit near 1 (above 0.96 on the
       faces of the conformance test, where that share is below 1e-80 and float64 runs of both agree to 1e-14). An
       in-region logit that is exactly 0, which the official drops, is kept. A region empty in either image gives
       zero ``γ``, ``β`` there, as the official does (no NaN). The three regions share one masked softmax, which
       assumes they do not overlap (the official masks never do): a position in several regions counts in the first
       (the official would add the regions' results).
    3. **Any size divisible by 4.** The official is fixed at 256 px (a 64x64 feature grid, ``F.interpolate(...,
       size=64)`` and ``HW = 64 * 64`` hard-coded). Here the grid is ``H/4 x W/4``, and the masks and relative
       positions are read at the pixels ``(4i, 4j)``, which is what the official nearest-neighbour interpolation
       keeps at 256 px.
    4. **Relative positions computed inside** from the landmarks (:func:`relative_position_features`), at the
       grid only (the official preprocessing computes them for every pixel and downsamples). The landmarks are used
       as given: the official inference path rounds dlib's landmarks to whole pixels first, its training path reads
       them unrounded.
    5. **No unused parameters.** The official ``NONLocalBlock2D`` modules (one for ``γ``, one for ``β``) each own a
       1x1 convolution ``g`` (weight and bias) that their forward never calls; they are left out. The official
       generator has 12,615,620 parameters, of which 12,615,616 take part in the forward pass; this one has
       12,615,616 at the default settings (a DDP run would reject parameters that never get a gradient).
    6. **Interpolation mixes morphed matrices.** A mixed code (:meth:`mix_codes`) morphs each reference's ``γ``, ``β``
       onto the source and mixes the results with the code's weights, as the official ``solver.test`` /
       ``Generator.forward(gamma=, beta=)`` path mixes what ``ret=True`` returns.
    7. **Optional outputs** (not in PSGAN): ``output="attention"``, a 4th channel of the last convolution is a mask;
       outside it the output keeps the transformed image's pixels. ``output="regions"``, a colour layer per region
       instead, each pixel taking its own region's, and the pixels of no region kept; MANet's second half then runs
       twice, with and without the lips' makeup. ``output="reference_colours"``, the same with each layer a
       correction of the source recoloured with the reference's colours, which the attention moves as it moves
       ``γ`` and ``β``, each region keeping the reference's mean colour. The default ``"image"`` is the official
       output.
    8. **An optional region grid** (``region_grid="cover"``, not in PSGAN): a cell belongs to a region holding any of
       its pixels (lips, then eyes, then skin), not to its top-left pixel's. The default ``"nearest"`` is the
       official reading.

    About the parameter counts in the literature: the BeautyREC paper (Yan et al., 2023) lists PSGAN at 12.62M,
    which is the official generator alone (12,615,620; its two spectral-norm discriminators would add 5.5M more).
    Its 8.43M for BeautyGAN is not the size of the PyTorch port this package implements
    (:class:`~beautygan.models.beautygan.Generator`: 9,237,376, the figure the same table gives CPM).
    """

    def __init__(
        self,
        *,
        width: int = 64,
        mdnet_blocks: int = 3,
        manet_blocks: int = 6,
        feature_scale: float = 0.01,
        temperature: float = 200.0,
        init: PSGANInit = "xavier",
        output: GeneratorOutput = "image",
        region_grid: RegionGrid = "nearest",
    ) -> None:
        super().__init__()
        for name, value, least in (
            ("width", width, 1),
            ("mdnet_blocks", mdnet_blocks, 0),
            ("manet_blocks", manet_blocks, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
        for name, number in (("feature_scale", feature_scale), ("temperature", temperature)):
            if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
                raise ValueError(f"{name} must be a finite number, got {number!r}")
        if feature_scale < 0:
            raise ValueError(f"feature_scale must be >= 0 (0.01 in the official code), got {feature_scale}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0 (200 in the official code), got {temperature}")
        if init not in ("xavier", "pytorch"):
            raise ValueError(f"init must be 'xavier' (official) or 'pytorch', got {init!r}")
        output_channels(output)  # one of OUTPUTS, else ValueError
        if region_grid not in ("nearest", "cover"):
            raise ValueError(f"region_grid must be 'nearest' (official) or 'cover', got {region_grid!r}")
        self.width = width
        self.output = output
        self.region_grid = region_grid
        self.feature_scale = float(feature_scale)
        self.temperature = float(temperature)
        self.apply_after = manet_blocks // 2
        self.mdnet = _MDNet(width, mdnet_blocks)
        self.manet = _MANet(width, manet_blocks, output)
        if init == "xavier":
            for module in self.modules():
                if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                    nn.init.xavier_normal_(module.weight, gain=1.0)
        if output == "reference_colours":  # the corrections start at zero: the first output is the base images
            with torch.no_grad():
                self.manet.decoder[-1].weight[:-1].zero_()

    # --------------------------------------------------------------------------------------------- public API
    def forward(
        self, non_makeup: Tensor, makeup: Tensor, *, non_makeup_geometry: FaceGeometry, makeup_geometry: FaceGeometry
    ) -> Translation:
        """Both directions of a transfer as one batch: ``makeup`` = ``non_makeup`` wearing ``makeup``'s look,
        ``non_makeup`` = ``makeup`` wearing ``non_makeup``'s (bare) look. Equal to
        ``apply_makeup(cat(non_makeup, makeup), makeup_code(cat(makeup, non_makeup)))`` split in two."""
        _check_images("non_makeup", non_makeup)
        _check_images("makeup", makeup)
        if non_makeup.shape != makeup.shape:
            raise ValueError(
                f"non_makeup and makeup must have the same shape, got {tuple(non_makeup.shape)} and {tuple(makeup.shape)}"
            )
        _check_geometry("non_makeup_geometry", non_makeup_geometry, non_makeup)
        _check_geometry("makeup_geometry", makeup_geometry, makeup)
        n = non_makeup.shape[0]
        sources = torch.cat([non_makeup, makeup])
        references = torch.cat([makeup, non_makeup])
        code = self.makeup_code(references, FaceGeometry.cat([makeup_geometry, non_makeup_geometry]))
        out = self.apply_makeup(sources, code, FaceGeometry.cat([non_makeup_geometry, makeup_geometry]))
        return Translation(makeup=out[:n], non_makeup=out[n:])

    def makeup_code(self, makeup: Tensor, geometry: FaceGeometry) -> PSGANCode:
        """What the references ``makeup`` ``(N, 3, H, W)`` contribute to a transfer: MDNet's makeup matrices and
        the attention keys (see :class:`PSGANCode`), one reference per item, weight 1."""
        _check_images("makeup", makeup)
        _check_geometry("geometry", geometry, makeup)
        features, matrices = self.mdnet(makeup)
        with torch.autocast(device_type=makeup.device.type, enabled=False):
            keys = self._keys(features, geometry)
            regions = _grid_regions(geometry, self.region_grid)
            colours, pixels = cell_colours(makeup.to(keys.dtype), geometry)
            return PSGANCode(
                keys=keys.unsqueeze(1),
                regions=regions.unsqueeze(1),
                matrices=matrices.to(keys.dtype).unsqueeze(1),
                weights=torch.ones(makeup.shape[0], 1, dtype=keys.dtype, device=makeup.device),
                colours=colours.unsqueeze(1),
                pixels=pixels.unsqueeze(1),
            )

    def apply_makeup(self, non_makeup: Tensor, code: PSGANCode, geometry: FaceGeometry) -> Tensor:
        """``non_makeup`` ``(N, 3, H, W)`` wearing the look of ``code`` (one code item per source): the made-up
        image in [-1, 1], float32. ``apply_makeup(a, makeup_code(b))`` is the ``makeup`` output of
        ``forward(a, b)``, bit for bit when run at the same batch size."""
        features = self._source_features(non_makeup, geometry)
        return self._paint(features, [code], geometry, self._queries(features, geometry), non_makeup)

    def apply_looks(self, non_makeup: Tensor, codes: Sequence[PSGANCode], geometry: FaceGeometry) -> list[Tensor]:
        """``[apply_makeup(non_makeup, code, geometry) for code in codes]`` (the same values), with MANet's first half
        run once for the sources (the looks differ from the point where the makeup is applied on) and the second
        half for all looks as one batch."""
        features = self._source_features(non_makeup, geometry)
        queries = self._queries(features, geometry)  # the sources' attention queries, the same for every look
        return list(self._paint(features, codes, geometry, queries, non_makeup).split(non_makeup.shape[0]))

    def morph(self, non_makeup: Tensor, code: PSGANCode, geometry: FaceGeometry) -> Tensor:
        """The makeup matrices ``(N, 2, H/4, W/4)`` (``γ`` then ``β``, float32 or float64) that ``code`` morphs onto
        ``non_makeup``: each reference's matrices moved by the attention, then mixed with the code's weights."""
        return self._morph_onto(self._source_features(non_makeup, geometry), code, geometry)[0]

    def mix_codes(self, codes: Sequence[PSGANCode], weights: Sequence[float] | Tensor) -> PSGANCode:
        """A code for the mix ``sum_i weights[i] * look_i`` of the looks of ``codes`` (each of the same batch size
        and grid): its references are all of theirs, each weighted by ``weights[i]`` times its weight in its own
        code. Applied to a source, every reference's ``γ``, ``β`` is morphed onto that source and the morphed
        matrices are mixed (mixing the references' unmorphed matrices would put one face's lips on another face's
        layout). ``weights``: one number per code, or an ``(N, len(codes))`` tensor (one mix per item); they are used
        as given (convex weights interpolate, others extrapolate). Weights ``(1, 0)`` give the first look exactly.
        """
        if isinstance(codes, PSGANCode) or not codes or not all(isinstance(c, PSGANCode) for c in codes):
            raise TypeError(f"codes must be a non-empty sequence of PSGANCode, got {codes!r:.80}")
        n, grid = len(codes[0]), codes[0].keys.shape[2:]
        for i, code in enumerate(codes):
            if len(code) != n or code.keys.shape[2:] != grid:
                raise ValueError(
                    f"codes must share their batch size and grid: code 0 is {n} items of {tuple(grid)}, "
                    f"code {i} is {len(code)} items of {tuple(code.keys.shape[2:])}"
                )
        device = codes[0].weights.device
        table = torch.as_tensor(weights, dtype=codes[0].weights.dtype, device=device)
        if table.ndim == 1:
            table = table.unsqueeze(0).expand(n, -1)
        if table.shape != (n, len(codes)):
            raise ValueError(
                f"weights must be {len(codes)} numbers (one per code) or an ({n}, {len(codes)}) tensor, "
                f"got shape {tuple(torch.as_tensor(weights).shape)}"
            )
        if not bool(torch.isfinite(table).all()):
            raise ValueError("weights must be finite")
        return PSGANCode(
            keys=torch.cat([c.keys for c in codes], dim=1),
            regions=torch.cat([c.regions for c in codes], dim=1),
            matrices=torch.cat([c.matrices for c in codes], dim=1),
            weights=torch.cat([table[:, i : i + 1] * c.weights for i, c in enumerate(codes)], dim=1),
            colours=torch.cat([c.colours for c in codes], dim=1),
            pixels=torch.cat([c.pixels for c in codes], dim=1),
        )

    # ------------------------------------------------------------------------------------------------ internals
    def _keys(self, features: Tensor, geometry: FaceGeometry) -> Tensor:
        """``(N, 4 * width + 136, h, w)`` in the attention's type: scaled visual features, then relative positions."""
        height, width = geometry.size
        dtype = _attention_dtype(features)
        positions = relative_position_features(geometry.landmarks, height=height, width=width, dtype=dtype)
        return torch.cat([features.to(dtype) * self.feature_scale, positions], dim=1)

    def _source_features(self, non_makeup: Tensor, geometry: FaceGeometry) -> Tensor:
        """MANet's features of the sources at the point where the makeup is applied."""
        _check_images("non_makeup", non_makeup)
        _check_geometry("geometry", geometry, non_makeup)
        return self.manet.bottleneck[: self.apply_after](self.manet.encoder(non_makeup))

    def _queries(self, features: Tensor, geometry: FaceGeometry) -> tuple[Tensor, Tensor]:
        """The attention's queries ``(N, C, hw)`` of the sources of ``features`` and their regions ``(N, 3, hw)``."""
        with torch.autocast(device_type=features.device.type, enabled=False):
            return self._keys(features, geometry).flatten(2), _grid_regions(geometry, self.region_grid).flatten(2)

    def _morph_onto(
        self,
        features: Tensor,
        code: PSGANCode,
        geometry: FaceGeometry,
        queries: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor] | None]:
        """The mixed morphed matrices ``(N, 2, h, w)`` of ``code`` on the sources of ``features`` (``queries``: their
        :meth:`_queries`, when already computed), and for ``"reference_colours"`` the mixed morphed colours: ``(sum_k
        w_k c_k, sum_k w_k, sum_k w_k mu_k)`` ``(N, 3, 3, h, w)``, ``(N, 3, 1, 1, 1)``, ``(N, 3, 3, 1, 1)``, where
        ``c_k`` is reference ``k``'s colour of each region moved onto each cell, ``mu_k`` its mean colour of the
        region (over the region's pixels) and ``w_k`` its weight, or 0 for a region reference ``k`` lacks."""
        if not isinstance(code, PSGANCode):
            raise TypeError(f"code must be a PSGANCode (from makeup_code or mix_codes), got {type(code).__name__}")
        if len(code) != features.shape[0]:
            raise ValueError(f"got {features.shape[0]} sources and a code of {len(code)} items")
        channels = 4 * self.width + 2 * LANDMARKS
        if code.keys.shape[2] != channels:
            raise ValueError(
                f"the code's keys have {code.keys.shape[2]} channels; this generator (width {self.width}) makes "
                f"{channels}: the code comes from another generator"
            )
        n, _, h, w = features.shape
        query_keys, query_regions = self._queries(features, geometry) if queries is None else queries
        with torch.autocast(device_type=features.device.type, enabled=False):
            code = code.to(features.device)
            morphed, colours = self._attend(query_keys, query_regions, code, self.output == "reference_colours")
            weights = code.weights.to(morphed.dtype)
            mixed = (weights[:, :, None, None] * morphed).sum(dim=1).transpose(1, 2).reshape(n, 2, h, w)
            if colours is None:
                return mixed, None
            moved, present = colours  # (N, K, 3, 3, HWq), (N, K, 3)
            share = weights[:, :, None] * present.to(weights.dtype)  # (N, K, 3)
            total = (share[..., None, None] * moved).sum(dim=1).reshape(n, len(REGIONS), 3, h, w)
            pixels = code.pixels.flatten(3).to(moved.dtype)  # (N, K, 3, HWk)
            sums = torch.einsum("nkrj,nkrcj->nkrc", pixels, code.colours.flatten(4).to(moved.dtype))
            region_means = sums / pixels.sum(dim=-1, keepdim=True).clamp_min(1)  # (N, K, 3, 3)
            target = (share[..., None] * region_means).sum(dim=1).view(n, len(REGIONS), 3, 1, 1)
            return mixed, (total, share.sum(dim=1).view(n, len(REGIONS), 1, 1, 1), target)

    def _paint(
        self,
        features: Tensor,
        codes: Sequence[PSGANCode],
        geometry: FaceGeometry,
        queries: tuple[Tensor, Tensor],
        non_makeup: Tensor,
    ) -> Tensor:
        """The sources of ``features`` wearing each look of ``codes``, ``(len(codes) * N, 3, H, W)`` (look by look):
        ``x · (1 + γ) + β`` with the morphed matrices, then the rest of MANet (``"regions"``: each pixel's colour
        layer by the source's full-resolution regions, the lips' from a decode with every region's makeup and the
        others' from one without the lips')."""
        looks = [self._morph_onto(features, code, geometry, queries) for code in codes]
        morphed = torch.cat([matrices for matrices, _ in looks])
        repeat = (len(codes), 1, 1, 1)
        if self.output not in REGION_OUTPUTS:
            return output_image(self._decode(features.repeat(repeat), morphed), non_makeup.repeat(repeat), self.output)
        ids = _pixel_region_ids(geometry)  # (N, H, W), once for the colours and the layers
        base = None
        if self.output == "reference_colours":
            means, pixels = _cell_colours(non_makeup.to(looks[0][0].dtype), ids)  # the sources', once for every look
            base = torch.cat([_recoloured(non_makeup, means, pixels, colours) for _, colours in looks])
        # Two decodes as one batch: the lips' layer from every region's makeup, the other layers from the makeup
        # without the lips' (their cells keep the source's features), so that the skin beside the lips is decoded
        # from features that never carried the lip colour.
        lip_cells = queries[1][:, :1].view(len(geometry), 1, *morphed.shape[2:]).repeat(repeat)
        matrices = torch.cat([morphed, morphed.masked_fill(lip_cells, 0.0)])
        region_ids = ids.repeat(len(codes), 1, 1)
        twice = (2 * len(codes), 1, 1, 1)
        raw = self._decode(features.repeat(twice), matrices)
        with_lips, without_lips = output_image(
            raw,
            non_makeup.repeat(twice),
            self.output,
            region_ids.repeat(2, 1, 1),
            None if base is None else base.repeat(2, 1, 1, 1, 1),
        ).chunk(2)
        return torch.where((region_ids == 0).unsqueeze(1), with_lips, without_lips)

    def _decode(self, features: Tensor, matrices: Tensor) -> Tensor:
        """``x · (1 + γ) + β``, then the rest of MANet: the last convolution's channels."""
        h = features * (1 + matrices[:, :1].to(features.dtype)) + matrices[:, 1:].to(features.dtype)
        return self.manet.decoder(self.manet.bottleneck[self.apply_after :](h))

    def _attend(
        self, queries: Tensor, query_regions: Tensor, code: PSGANCode, colours: bool = False
    ) -> tuple[Tensor, tuple[Tensor, Tensor] | None]:
        """Each reference's matrices moved onto the source positions, ``(N, K, HWq, 2)``: a source position of a
        region gets a softmax over the reference's positions of the same region; a position in no region (or in a
        region the reference lacks) gets zero. One masked softmax serves the three regions (they do not overlap).

        With ``colours``, also each reference's colour of every region moved onto every source position, ``(N, K, 3,
        3, HWq)``, and whether the reference has the region, ``(N, K, 3)`` bool (:meth:`_attend_colours`).

        Written for memory traffic: the only float ``HWq x HWk`` tensors are the logits (scaled and masked in place)
        and their softmax, plus a bool mask (the colours add two per region: the logits shifted by the pixel counts
        and their softmax); a row without any allowed key keeps its logits unmasked (a finite softmax) and its
        result is multiplied by zero."""
        n, k = code.weights.shape
        keys = code.keys.flatten(3).to(queries.dtype)  # (N, K, D, HWk)
        values = code.matrices.flatten(3).transpose(2, 3).to(queries.dtype)  # (N, K, HWk, 2)
        logits = torch.matmul(queries.transpose(1, 2).unsqueeze(1), keys).mul_(self.temperature)  # (N, K, HWq, HWk)
        moved = self._attend_colours(logits, code) if colours else None  # before the logits are masked in place
        query_ids = _region_ids(query_regions)  # (N, HWq)
        key_ids = _region_ids(code.regions.flatten(3).flatten(0, 1)).view(n, k, -1)  # (N, K, HWk)
        region = torch.arange(len(REGIONS), device=key_ids.device)
        present = (key_ids.unsqueeze(-1) == region).any(dim=2)  # (N, K, 3): the reference has the region
        has_key = (query_ids >= 0).unsqueeze(1) & present.gather(
            2, query_ids.clamp(min=0).unsqueeze(1).expand(n, k, -1)
        )  # (N, K, HWq): the query's region is in the reference
        blocked = (query_ids[:, None, :, None] != key_ids[:, :, None, :]) & has_key.unsqueeze(-1)
        weights = torch.softmax(logits.masked_fill_(blocked, -math.inf), dim=-1)
        return torch.matmul(weights, values) * has_key.unsqueeze(-1).to(values.dtype), moved

    @staticmethod
    def _attend_colours(logits: Tensor, code: PSGANCode) -> tuple[Tensor, Tensor]:
        """Each reference's colour of each region moved onto every source position by the attention's ``logits``
        ``(N, K, HWq, HWk)``: for region ``r``, ``sum_j p_j c_rj`` with ``p = softmax_j(logit_j + log n_rj)``, where
        ``n_rj`` is the number of the reference's pixels of ``r`` in cell ``j`` and ``c_rj`` their mean colour. That
        is a softmax over the region's *pixels*, each keyed by its cell, so that a cell the region only touches (a
        lip cell holding the open mouth's inside) counts for the lip pixels it holds. Every source position gets
        every region's colour (whatever its own region): ``(N, K, 3, 3, HWq)``, and ``(N, K, 3)`` bool, whether the
        reference has the region (where it has not, the colour is 0)."""
        pixels = code.pixels.flatten(3).to(logits.dtype)  # (N, K, 3, HWk)
        colours = code.colours.flatten(4).to(logits.dtype)  # (N, K, 3, 3, HWk)
        present = pixels.sum(dim=-1) > 0  # (N, K, 3)
        # log 0 as a finite -1e30: a region the reference lacks gives a finite (unused) softmax, never NaN
        log_pixels = torch.where(pixels > 0, pixels.clamp_min(1).log(), torch.full_like(pixels, -1e30))
        moved = [
            torch.matmul(
                torch.softmax(logits + log_pixels[:, :, region].unsqueeze(2), dim=-1), colours[:, :, region].mT
            ).mT
            for region in range(len(REGIONS))
        ]  # each (N, K, 3, HWq)
        return torch.stack(moved, dim=2) * present[..., None, None].to(logits.dtype), present


def _region_ids(regions: Tensor) -> Tensor:
    """``(N, HW)`` int64 from bool ``(N, 3, HW)`` masks: the index of the first region holding each position, -1
    for positions in none."""
    ids = torch.full_like(regions[:, 0], -1, dtype=torch.int64)
    for region in reversed(range(regions.shape[1])):
        ids = torch.where(regions[:, region], region, ids)
    return ids


def _attention_dtype(features: Tensor) -> torch.dtype:
    """float32, or float64 for a float64 network: never a half type (the logits are scaled by the temperature)."""
    return torch.float64 if features.dtype == torch.float64 else torch.float32


def _region_masks(geometry: FaceGeometry) -> Tensor:
    """The region masks of ``geometry`` at the image's pixels, bool ``(N, 3, H, W)`` (float masks above 0.5)."""
    return geometry.regions if geometry.regions.dtype == torch.bool else geometry.regions > 0.5


def cell_colours(images: Tensor, geometry: FaceGeometry) -> tuple[Tensor, Tensor]:
    """Each feature-grid cell's colour per region: the mean of the cell's pixels of ``images`` ``(N, 3, H, W)`` in each
    of the :data:`REGIONS` of ``geometry`` (full resolution; a pixel in several counts in the first), ``(N, 3, 3,
    H/4, W/4)`` (region, RGB; 0 where the cell holds none of the region), and how many pixels of each region each
    cell holds, ``(N, 3, H/4, W/4)``; in ``images``' dtype."""
    return _cell_colours(images, _pixel_region_ids(geometry))


def _pixel_region_ids(geometry: FaceGeometry) -> Tensor:
    """``(N, H, W)`` int64: each pixel's region in ``geometry`` (the first holding it), -1 for none."""
    return _region_ids(_region_masks(geometry).flatten(2)).view(len(geometry), *geometry.size)


def _cell_colours(images: Tensor, ids: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`cell_colours` from the pixels' region ids ``(N, H, W)`` (:func:`_pixel_region_ids`)."""
    masks = torch.stack([ids == region for region in range(len(REGIONS))], dim=1).to(images.dtype)  # (N, 3, H, W)
    n, height, width = images.shape[0], images.shape[-2] // FEATURE_STRIDE, images.shape[-1] // FEATURE_STRIDE
    pool = torch.nn.functional.avg_pool2d
    pixels = pool(masks, FEATURE_STRIDE, divisor_override=1)
    sums = pool((masks.unsqueeze(2) * images.unsqueeze(1)).flatten(1, 2), FEATURE_STRIDE, divisor_override=1)
    return sums.view(n, len(REGIONS), 3, height, width) / pixels.clamp_min(1).unsqueeze(2), pixels


def _recoloured(
    non_makeup: Tensor, means: Tensor, pixels: Tensor, colours: tuple[Tensor, Tensor, Tensor] | None
) -> Tensor:
    """``"reference_colours"``' base images ``(N, 3, 3, H, W)``: per region, the sources with each cell's mean colour
    of the region (``means``, ``pixels``: :func:`cell_colours` of the sources) moved to the morphed reference colour,
    ``x + sum_k w_k (c_k - m)`` (``c_k``, ``w_k`` as :meth:`PSGANGenerator._morph_onto` gives them), the shift read
    at each pixel's cell: the source keeps its own texture and shading within each cell.

    The morphed colours ``sum_k w_k c_k`` of a region are first shifted alike so that their mean over the source's
    pixels of the region is ``sum_k w_k mu_k`` (``mu_k``: reference ``k``'s mean colour of the region): the
    attention decides where each of the reference's colours goes, and the region's overall colour is the
    reference's whichever of its cells the attention favours. So the base's mean colour of a region is
    ``sum_k w_k mu_k + (1 - sum_k w_k) m`` (``m``: the source's own mean of the region)."""
    if colours is None:
        raise ValueError("output 'reference_colours' needs the morphed colours")
    total, weight, target = colours
    count = pixels.sum(dim=(-2, -1)).clamp_min(1)[:, :, None, None, None]  # (N, 3, 1, 1, 1)
    landed = (pixels.unsqueeze(2) * total).sum(dim=(-2, -1), keepdim=True) / count  # (N, 3, 3, 1, 1)
    total = total + (target - landed)
    shift = (total - weight * means).flatten(1, 2)  # (N, 9, h, w)
    shift = shift.repeat_interleave(FEATURE_STRIDE, dim=2).repeat_interleave(FEATURE_STRIDE, dim=3)
    return non_makeup.to(total.dtype).unsqueeze(1) + shift.view(*means.shape[:3], *non_makeup.shape[-2:])


def _grid_regions(geometry: FaceGeometry, grid: RegionGrid = "nearest") -> Tensor:
    """The region masks at the feature grid, bool ``(N, 3, H/4, W/4)``. ``"nearest"``: at the pixels ``(4i, 4j)`` the
    cells stand for. ``"cover"``: a cell is in the smallest region (lips, then eyes, then skin) holding any of its
    pixels, and in no other."""
    regions = _region_masks(geometry)
    if grid == "nearest":
        return regions[:, :, ::FEATURE_STRIDE, ::FEATURE_STRIDE]
    cover = torch.nn.functional.max_pool2d(regions.to(torch.float32), FEATURE_STRIDE) > 0
    lips, skin, eyes = cover.unbind(1)
    eyes = eyes & ~lips
    return torch.stack([lips, skin & ~lips & ~eyes, eyes], dim=1)


def _check_images(name: str, x: Any) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"{name} must be (N, 3, H, W) images, got shape {tuple(x.shape)}")
    if x.shape[0] < 1 or x.shape[-2] < FEATURE_STRIDE or x.shape[-1] < FEATURE_STRIDE:
        raise ValueError(f"{name} must hold at least one image of at least 4x4 pixels, got shape {tuple(x.shape)}")
    if x.shape[-2] % FEATURE_STRIDE or x.shape[-1] % FEATURE_STRIDE:
        raise ValueError(f"{name} height and width must be divisible by 4, got {tuple(x.shape[-2:])}")


def _check_geometry(name: str, geometry: Any, images: Tensor) -> None:
    if not isinstance(geometry, FaceGeometry):
        raise TypeError(f"{name} must be a FaceGeometry (region masks and landmarks), got {type(geometry).__name__}")
    if len(geometry) != images.shape[0] or geometry.size != tuple(images.shape[-2:]):
        raise ValueError(
            f"{name} must describe {images.shape[0]} images of {tuple(images.shape[-2:])}, got {len(geometry)} of "
            f"{geometry.size}"
        )
