"""The PSGAN-style generator (``beautygan.models.psgan``) against an independent transcription of the official one
(``_official_psgan``: wtjiang98/PSGAN ``Generator.forward``, ``get_weight``, ``atten_feature`` and
``PreProcess.process``).

Inputs are procedural faces (``render_face``) with landmarks placed by hand on their label maps; the transcription
gets the official preprocessing's masks and relative positions, ours the raw masks and landmarks. The same random
weights go into both through a state-dict key map. Comparisons run in float64 (where both agree to about 1e-14,
so a wrong layer, order, scale, channel order or mask shows up far above the tolerance) and in float32 (bounded by
the official code's own float32 error: its logits are scaled by 200).
"""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch
from _official_psgan import OfficialGenerator, official_process

from beautygan.data.regions import FaceRegion
from beautygan.data.synthetic import render_face
from beautygan.models import Generator as BeautyGANGenerator
from beautygan.models.psgan import FaceGeometry, PSGANCode, PSGANGenerator, relative_position_features

pytestmark = [
    pytest.mark.filterwarnings("ignore:Sparse invariant checks:UserWarning"),
    pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN:UserWarning"),
]


@pytest.fixture(autouse=True, scope="module")
def _no_mkldnn():
    """PyTorch's own CPU convolutions: oneDNN compiles kernels for every new shape, which costs more than these
    small networks' whole runs."""
    with torch.backends.mkldnn.flags(enabled=False):
        yield


OFFICIAL_PARAMETERS = 12_615_620
UNUSED_OFFICIAL = {"atten_bottleneck_g.g.weight", "atten_bottleneck_g.g.bias"} | {
    "atten_bottleneck_b.g.weight",
    "atten_bottleneck_b.g.bias",
}
"""The official ``NONLocalBlock2D.g`` convolutions: created, never called."""

RENAMES = {
    "pnet_in.0.": "mdnet.encoder.0.",
    "pnet_in.1.": "mdnet.encoder.1.",
    "pnet_down_1.0.": "mdnet.encoder.3.",
    "pnet_down_1.1.": "mdnet.encoder.4.",
    "pnet_down_2.0.": "mdnet.encoder.6.",
    "pnet_down_2.1.": "mdnet.encoder.7.",
    **{f"pnet_bottleneck_{i + 1}.": f"mdnet.bottleneck.{i}." for i in range(3)},
    "simple_spade.get_gamma.": "mdnet.gamma.",
    "simple_spade.get_beta.": "mdnet.beta.",
    "tnet_in_conv.": "manet.encoder.0.",
    "tnet_down_conv_1.": "manet.encoder.3.",
    "tnet_down_conv_2.": "manet.encoder.6.",
    **{f"tnet_bottleneck_{i + 1}.": f"manet.bottleneck.{i}." for i in range(6)},
    "tnet_up_conv_1.": "manet.decoder.0.",
    "tnet_up_conv_2.": "manet.decoder.3.",
    "tnet_out.0.": "manet.decoder.6.",
}
"""Official state-dict key prefix -> ours."""


def official_to_ours(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        if key in UNUSED_OFFICIAL:
            continue
        (prefix,) = [p for p in RENAMES if key.startswith(p)]
        out[RENAMES[prefix] + key[len(prefix) :]] = value
    return out


# ------------------------------------------------------------------------------------------------------ faces
def landmarks_from_labels(labels: np.ndarray) -> np.ndarray:
    """68 dlib-order ``(x, y)`` points placed on a label map's parts: jaw on the lower face outline, brows along
    each brow, nose bridge and base, six points round each eye, twelve round the lips and eight inside them."""

    def extent(*ids: FaceRegion) -> tuple[float, float, float, float, float, float]:
        ys, xs = np.nonzero(np.isin(labels, [int(i) for i in ids]))
        return xs.min(), xs.max(), ys.min(), ys.max(), xs.mean(), ys.mean()

    points = np.zeros((68, 2))
    parts = [r for r in FaceRegion if r not in (FaceRegion.BACKGROUND, FaceRegion.HAIR, FaceRegion.NECK)]
    x0, x1, _, y1, cx, cy = extent(*[r for r in parts if r not in (FaceRegion.LEFT_EAR, FaceRegion.RIGHT_EAR)])
    for i, t in enumerate(np.linspace(np.pi, 0, 17)):
        points[i] = (cx + (x1 - x0) / 2 * np.cos(t), cy + (y1 - cy) * np.sin(t))
    for start, brow in ((17, FaceRegion.LEFT_BROW), (22, FaceRegion.RIGHT_BROW)):
        bx0, bx1, _, _, _, by = extent(brow)
        points[start : start + 5] = [(x, by) for x in np.linspace(bx0, bx1, 5)]
    nx0, nx1, ny0, ny1, ncx, _ = extent(FaceRegion.NOSE)
    points[27:31] = [(ncx, y) for y in np.linspace(ny0, ny1, 4)]
    points[31:36] = [(x, ny1) for x in np.linspace(nx0, nx1, 5)]
    for start, eye in ((36, FaceRegion.LEFT_EYE), (42, FaceRegion.RIGHT_EYE)):  # 36-41: the eye on the image's left
        ex0, ex1, ey0, ey1, ecx, ecy = extent(eye)
        for i, angle in enumerate(np.deg2rad([180, 120, 60, 0, 300, 240])):
            points[start + i] = (ecx + (ex1 - ex0) / 2 * np.cos(angle), ecy - (ey1 - ey0) / 2 * np.sin(angle))
    lx0, lx1, ly0, ly1, lcx, lcy = extent(FaceRegion.UPPER_LIP, FaceRegion.LOWER_LIP)
    for start, count, sx, sy in ((48, 12, 1.0, 1.0), (60, 8, 0.7, 0.25)):
        for i, angle in enumerate(np.linspace(np.pi, -np.pi, count + 1)[:count]):
            points[start + i] = (lcx + sx * (lx1 - lx0) / 2 * np.cos(angle), lcy - sy * (ly1 - ly0) / 2 * np.sin(angle))
    return points.astype(np.float32).astype(np.float64)  # exactly representable in float32 as well


class Face:
    """One rendered face: the image, and its geometry both as the official preprocessing makes it and as ours
    takes it."""

    def __init__(self, seed: int, size: int, *, makeup: bool, dtype: torch.dtype = torch.float64) -> None:
        image, labels, _ = render_face(np.random.default_rng(seed), size, makeup=makeup)
        self.image = (torch.from_numpy(image).permute(2, 0, 1)[None].to(dtype) / 127.5 - 1).contiguous()
        self.landmarks = landmarks_from_labels(labels)  # (x, y)
        self.mask, self.diff = official_process(
            torch.from_numpy(labels.astype(np.float32))[None, None],
            self.landmarks[:, ::-1].copy(),  # the official (y, x)
            img_size=size,
            feature_size=size // 4,
            eye_margin=round(16 * size / 256),
            dtype=dtype,
        )
        self.geometry = FaceGeometry(
            regions=self.mask.reshape(1, 3, size, size), landmarks=torch.from_numpy(self.landmarks)[None]
        )


def seeded_pair(feature_size: int, *, width: int = 64, seed: int = 0) -> tuple[OfficialGenerator, PSGANGenerator]:
    """The transcription with the official ``weights_init_xavier`` and random InstanceNorm affine parameters
    (so that their mapping matters), and ours with the same weights (float64, eval mode: nothing has state)."""
    torch.manual_seed(seed)
    official = OfficialGenerator(feature_size=feature_size, conv_dim=width)
    with torch.no_grad():
        for module in official.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                torch.nn.init.xavier_normal_(module.weight, gain=1.0)
            if isinstance(module, torch.nn.InstanceNorm2d) and module.affine:
                module.weight.uniform_(0.7, 1.3)
                module.bias.uniform_(-0.3, 0.3)
    ours = PSGANGenerator(width=width, init="pytorch")
    ours.load_state_dict(official_to_ours(official.state_dict()))
    return official.double().eval(), ours.double().eval()


def _args(source: Face, reference: Face) -> tuple[torch.Tensor, ...]:
    """The official argument order ``c, s, mask_c, mask_s, diff_c, diff_s``."""
    return source.image, reference.image, source.mask, reference.mask, source.diff, reference.diff


@pytest.fixture(scope="module")
def pair64() -> tuple[OfficialGenerator, PSGANGenerator]:
    """The official architecture (width 64) on 64 px faces (a 16x16 grid)."""
    return seeded_pair(16)


@pytest.fixture(scope="module")
def faces64() -> list[Face]:
    """A source and three references (different faces, layouts and makeup)."""
    return [Face(seed, 64, makeup=seed > 0) for seed in range(4)]


@pytest.fixture(scope="module")
def official64(pair64, faces64) -> dict[str, torch.Tensor]:
    """The transcription's results on ``faces64``, float64: transfers both ways between the source and the first
    reference, and the morphed matrices of the first two references on the source."""
    official, _ = pair64
    a, b, c = faces64[:3]
    with torch.no_grad():
        return {
            "ab": official(*_args(a, b)),
            "ba": official(*_args(b, a)),
            "ab_matrices": torch.cat(official(*_args(a, b), ret=True), dim=1),
            "ac_matrices": torch.cat(official(*_args(a, c), ret=True), dim=1),
        }


# ------------------------------------------------------------------------------------------- preprocessing
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_relative_positions_equal_the_official_preprocessing(dtype: torch.dtype) -> None:
    face = Face(3, 256, makeup=False, dtype=dtype)
    ours = relative_position_features(face.geometry.landmarks, height=256, width=256, dtype=dtype)
    grid = face.mask[:, :, ::4, ::4]  # (3, 1, 64, 64): the pixels nearest-neighbour downsampling keeps
    torch.testing.assert_close(ours * grid, face.diff, rtol=0, atol=1e-15 if dtype == torch.float64 else 1e-6)
    assert grid.sum() > 500  # the masks select a face's worth of cells
    # the channel order matters: (x, y) instead of the official (y, x) would be far off
    swapped = relative_position_features(face.geometry.landmarks.flip(-1), height=256, width=256, dtype=dtype)
    assert (swapped * grid - face.diff).abs().max() > 0.1


# ------------------------------------------------------------------------------------------- transcription
@pytest.mark.slow
def test_equals_the_official_generator_at_256px() -> None:
    """Batch 1 at the official size: a 64x64 grid, 4096x4096 attention per region (float64; width 16 keeps the
    convolutions affordable on a CPU, the official width runs at 64 px below)."""
    official, ours = seeded_pair(64, width=16, seed=1)
    source, reference = Face(10, 256, makeup=False), Face(11, 256, makeup=True)
    with torch.no_grad():
        expected = official(*_args(source, reference))
        got = ours.apply_makeup(source.image, ours.makeup_code(reference.image, reference.geometry), source.geometry)
    assert expected.std() > 0.2 and (expected - source.image).abs().mean() > 0.05
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)


def test_forward_equals_two_official_calls(pair64, faces64, official64) -> None:
    """``forward`` runs both directions as one batch; each equals the official call for that direction."""
    _, ours = pair64
    a, b = faces64[:2]
    with torch.no_grad():
        out = ours(a.image, b.image, non_makeup_geometry=a.geometry, makeup_geometry=b.geometry)
    torch.testing.assert_close(out.makeup, official64["ab"], rtol=0, atol=1e-10)
    torch.testing.assert_close(out.non_makeup, official64["ba"], rtol=0, atol=1e-10)
    assert (out.makeup - a.image).abs().mean() > 0.05 and (out.makeup - out.non_makeup).abs().mean() > 0.05


def test_morphed_matrices_equal_the_official_ones(pair64, faces64, official64) -> None:
    official, ours = pair64
    a, b = faces64[:2]
    with torch.no_grad():
        morphed = ours.morph(a.image, ours.makeup_code(b.image, b.geometry), a.geometry)
        # the attention is not degenerate: a source position spreads its weight over several reference positions
        features = ours.manet.bottleneck[:3](ours.manet.encoder(a.image))
        mdnet_features, _ = ours.mdnet(b.image)
        weight = official.get_weight(a.mask, b.mask, features, mdnet_features, a.diff, b.diff).to_dense()
    torch.testing.assert_close(morphed, official64["ab_matrices"], rtol=0, atol=1e-10)
    row_max = weight.amax(dim=-1)[weight.sum(dim=-1) > 0]
    assert 0.05 < row_max.mean() < 0.95, row_max.mean()


def test_a_region_missing_in_the_reference_gives_zero_there_as_officially(pair64, faces64) -> None:
    official, ours = pair64
    a, b = faces64[0], copy.copy(faces64[1])
    b.mask, b.diff = b.mask.clone(), b.diff.clone()
    b.mask[2], b.diff[2] = 0, 0  # no eyes region in the reference
    b.geometry = FaceGeometry(regions=b.mask.reshape(1, 3, 64, 64), landmarks=b.geometry.landmarks)
    with torch.no_grad():
        gamma, beta = official(*_args(a, b), ret=True)
        morphed = ours.morph(a.image, ours.makeup_code(b.image, b.geometry), a.geometry)
    torch.testing.assert_close(morphed, torch.cat([gamma, beta], dim=1), rtol=0, atol=1e-10)
    eyes = a.geometry.regions[:, 2:3, ::4, ::4].bool().expand_as(morphed)
    assert eyes.any() and morphed[eyes].eq(0).all() and morphed.isfinite().all()


def test_float32_is_as_close_as_the_official_float32_is_to_float64(pair64, faces64, official64) -> None:
    """In float32 both differ from the float64 result by rounding that the logits' x200 amplifies; ours is no
    further from it than the official code itself."""
    official, ours = pair64
    a32, b32 = (Face(seed, 64, makeup=seed > 0, dtype=torch.float32) for seed in (0, 1))
    official32, ours32 = copy.deepcopy(official).float(), copy.deepcopy(ours).float()
    with torch.no_grad():
        official_error = (official32(*_args(a32, b32)).double() - official64["ab"]).abs().max()
        got = ours32.apply_makeup(a32.image, ours32.makeup_code(b32.image, b32.geometry), a32.geometry)
    ours_error = (got.double() - official64["ab"]).abs().max()
    assert official_error < 1e-4 and ours_error < 2 * official_error + 1e-6, (ours_error, official_error)


def test_mixed_looks_equal_the_official_mixing_of_morphed_matrices(pair64, faces64, official64) -> None:
    """The official ``solver.test`` path: ``ret=True`` gives each reference's morphed matrices, which are mixed
    (``param_A * w + param_B * (1 - w)``) and passed as ``gamma=, beta=``."""
    official, ours = pair64
    a, b, c = faces64[:3]
    w = 0.3
    mixed = official64["ab_matrices"] * w + official64["ac_matrices"] * (1 - w)
    with torch.no_grad():
        expected = official(*_args(a, b), gamma=mixed[:, :1], beta=mixed[:, 1:])
        codes = [ours.makeup_code(r.image, r.geometry) for r in (b, c)]
        got = ours.apply_makeup(a.image, ours.mix_codes(codes, [w, 1 - w]), a.geometry)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)
    assert (got - official64["ab"]).abs().max() > 1e-3  # the mix is not the first look


# ------------------------------------------------------------------------------------------------ batching
@pytest.fixture(scope="module")
def small() -> tuple[PSGANGenerator, list[Face]]:
    """A narrow generator (float32) and eight faces: four sources, four references."""
    torch.manual_seed(2)
    faces = [Face(20 + i, 64, makeup=i >= 4, dtype=torch.float32) for i in range(8)]
    return PSGANGenerator(width=16).eval(), faces


def _batch(faces: list[Face]) -> tuple[torch.Tensor, FaceGeometry]:
    return torch.cat([f.image for f in faces]), FaceGeometry.cat([f.geometry for f in faces])


def test_a_batch_of_four_equals_four_single_calls(small) -> None:
    """Each item attends within itself: different faces, layouts and references per item."""
    generator, faces = small
    sources, references = faces[:4], faces[4:]
    (a, ga), (b, gb) = _batch(sources), _batch(references)
    with torch.no_grad():
        out = generator(a, b, non_makeup_geometry=ga, makeup_geometry=gb)
        single = [
            generator(s.image, r.image, non_makeup_geometry=s.geometry, makeup_geometry=r.geometry)
            for s, r in zip(sources, references)
        ]
    torch.testing.assert_close(out.makeup, torch.cat([s.makeup for s in single]), rtol=0, atol=1e-5)
    torch.testing.assert_close(out.non_makeup, torch.cat([s.non_makeup for s in single]), rtol=0, atol=1e-5)
    assert (out.makeup[0] - out.makeup[1]).abs().mean() > 0.01  # the items differ


def test_code_and_apply_equal_forward_bit_for_bit(small) -> None:
    generator, faces = small
    (a, ga), (b, gb) = _batch(faces[:2]), _batch(faces[4:6])
    with torch.no_grad():
        out = generator(a, b, non_makeup_geometry=ga, makeup_geometry=gb)
        both = generator.apply_makeup(
            torch.cat([a, b]),
            generator.makeup_code(torch.cat([b, a]), FaceGeometry.cat([gb, ga])),
            FaceGeometry.cat([ga, gb]),
        )
        made_up = generator.apply_makeup(a, generator.makeup_code(b, gb), ga)
    assert torch.equal(both, torch.cat([out.makeup, out.non_makeup]))
    torch.testing.assert_close(made_up, out.makeup, rtol=0, atol=1e-6)  # another batch size: rounding may differ


def test_codes_concatenate_and_index_along_the_batch(small) -> None:
    generator, faces = small
    references, geometry = _batch(faces[4:7])
    with torch.no_grad():
        code = generator.makeup_code(references, geometry)
        parts = [generator.makeup_code(r.image, r.geometry) for r in faces[4:7]]
    assert len(code) == 3 and code.references == 1 and len(code[1]) == len(code[np.int64(2)]) == len(code[-1:]) == 1
    joined = PSGANCode.cat([code[0], code[1:]])
    for name in ("keys", "regions", "matrices", "weights"):
        assert torch.equal(getattr(joined, name), getattr(code, name))
        torch.testing.assert_close(getattr(PSGANCode.cat(parts), name), getattr(code, name), rtol=0, atol=1e-5)
    assert torch.equal(geometry[2].landmarks, faces[6].geometry.landmarks) and len(geometry.to("cpu")) == 3
    with pytest.raises(IndexError):
        code[3]


# -------------------------------------------------------------------------------------------------- mixing
def test_mixed_codes(small) -> None:
    generator, faces = small
    (a, ga) = _batch(faces[:2])
    with torch.no_grad():
        codes = [generator.makeup_code(*_batch(faces[i : i + 2])) for i in (4, 6)]
        first = generator.apply_makeup(a, codes[0], ga)
        ends = generator.apply_makeup(a, generator.mix_codes(codes, [1.0, 0.0]), ga)
        mix = generator.mix_codes(codes, [0.25, 0.75])
        morphed = [generator.morph(a, code, ga) for code in codes]
        by_hand = 0.25 * morphed[0] + 0.75 * morphed[1]
        # mixing the references' own matrices before the attention is another thing: the first reference's keys
        # would carry the second one's matrices to where the first face has its parts
        early = replace(codes[0], matrices=0.25 * codes[0].matrices + 0.75 * codes[1].matrices)
        early_morph = generator.morph(a, early, ga)
        per_item = generator.mix_codes(codes, torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        per_item_image = generator.apply_makeup(a, per_item, ga)
        second = generator.apply_makeup(a, codes[1], ga)
    assert torch.equal(ends, first)
    torch.testing.assert_close(generator.morph(a, mix, ga), by_hand, rtol=0, atol=1e-6)
    assert (early_morph - by_hand).abs().max() > 1e-3
    torch.testing.assert_close(per_item_image[:1], first[:1], rtol=0, atol=1e-6)
    torch.testing.assert_close(per_item_image[1:], second[1:], rtol=0, atol=1e-6)
    nested = generator.mix_codes([mix, codes[0]], [0.5, 0.5])
    assert nested.references == 3
    torch.testing.assert_close(nested.weights, torch.tensor([[0.125, 0.375, 0.5]] * 2))


# ---------------------------------------------------------------------------------------------- attention
def _cells(geometry: FaceGeometry, region: int) -> torch.Tensor:
    """Bool ``(N, 2, h, w)``: the grid cells of ``region``, for both matrices."""
    cells = geometry.regions[:, region : region + 1, ::4, ::4] > 0.5
    return cells.expand(-1, 2, -1, -1)


@pytest.mark.parametrize(("marked", "region"), [(1, "skin"), (0, "lips"), (2, "eyes")])
def test_the_attention_stays_within_each_region(small, marked: int, region: str) -> None:
    """A marker in one region of the reference (huge matrices and keys there) changes the source's morphed matrices
    in that region only: every other region's cells, and cells in no region, are exactly as before."""
    generator, faces = small
    source, reference = faces[0], faces[5]
    with torch.no_grad():
        code = generator.makeup_code(reference.image, reference.geometry)
        inside = code.regions[:, :, marked : marked + 1]  # (1, 1, 1, h, w)
        visual = (torch.arange(code.keys.shape[2]) < 4 * generator.width).view(1, 1, -1, 1, 1)
        marker = replace(code, matrices=code.matrices + 1e3 * inside, keys=code.keys + 10.0 * (inside & visual))
        before = generator.morph(source.image, code, source.geometry)
        after = generator.morph(source.image, marker, source.geometry)
    changed = after != before
    assert changed[_cells(source.geometry, marked)].all(), region
    assert not changed[~_cells(source.geometry, marked)].any(), region
    nowhere = ~(source.geometry.regions[:, :, ::4, ::4] > 0.5).any(dim=1, keepdim=True).expand(-1, 2, -1, -1)
    assert nowhere.any() and after[nowhere].eq(0).all()


def test_the_makeup_follows_the_landmarks_not_the_pixel_grid(small) -> None:
    """The reference is the source moved 8 px (2 grid cells) to the right, landmarks and masks with it. With the
    visual features switched off and a sharp temperature, each source cell attends to the reference cell at the same
    place relative to the landmarks, 2 cells to the right: a pattern painted on the reference's matrices (its column
    and row index) comes back shifted by exactly 2 columns."""
    _, faces = small
    source = faces[0]
    reference = FaceGeometry(
        regions=torch.roll(source.geometry.regions, 8, dims=-1),
        landmarks=source.geometry.landmarks + torch.tensor([8.0, 0.0], dtype=torch.float64),
    )
    generator = PSGANGenerator(width=4, mdnet_blocks=0, manet_blocks=0, feature_scale=0.0, temperature=1e4).eval()
    rows, cols = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    with torch.no_grad():
        code = generator.makeup_code(torch.roll(source.image, 8, dims=-1), reference)
        code = replace(code, matrices=torch.stack([cols, rows]).expand_as(code.matrices).contiguous())
        morphed = generator.morph(source.image, code, source.geometry)
    inside = (source.geometry.regions[:, :, ::4, ::4] > 0.5).any(dim=1)[0]
    assert inside.sum() > 40
    torch.testing.assert_close(morphed[0, 0][inside], cols[inside] + 2, rtol=0, atol=1e-3)
    torch.testing.assert_close(morphed[0, 1][inside], rows[inside], rtol=0, atol=1e-3)


def test_attention_gradients(small) -> None:
    """float64 gradcheck of the morphed matrices against the reference's visual keys and matrices (through the
    masked softmax, its detached row maximum and the rows of positions in no region) on a 32 px crop."""
    _, faces = small
    generator = PSGANGenerator(width=1, mdnet_blocks=0, manet_blocks=0, temperature=20.0).double()
    crop = (slice(None), slice(None), slice(24, 56), slice(16, 48))  # mouth, cheeks and background
    source, reference = (
        FaceGeometry(regions=f.geometry.regions[crop], landmarks=f.geometry.landmarks - torch.tensor([16.0, 24.0]))
        for f in (faces[0], faces[5])
    )
    with torch.no_grad():
        code = generator.makeup_code(faces[5].image[crop].double(), reference)
    image = faces[0].image[crop].double()
    regions = (source.regions[:, :, ::4, ::4] > 0.5).sum(dim=(0, 2, 3))
    assert (regions > 0).sum() >= 2 and (source.regions[:, :, ::4, ::4] > 0.5).any(dim=1).logical_not().any()

    def morph(visual: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
        keys = torch.cat([visual, code.keys[:, :, 4:]], dim=2)
        return generator.morph(image, replace(code, keys=keys, matrices=matrices), source)

    visual = code.keys[:, :, :4].clone().requires_grad_()
    matrices = code.matrices.clone().requires_grad_()
    assert torch.autograd.gradcheck(morph, (visual, matrices), fast_mode=True)


# ---------------------------------------------------------------------------------------- parameter counts
def test_parameter_counts() -> None:
    """The official generator has 12,615,620 parameters (BeautyREC's table: PSGAN 12.62M), of which the 4 of the
    two never-called ``NONLocalBlock2D.g`` convolutions get no gradient; ours has exactly the other 12,615,616, and
    each of them gets one. BeautyGAN's generator (the PyTorch port) has 9,237,376 (the table says 8.43M)."""
    torch.manual_seed(0)
    official = OfficialGenerator(feature_size=8)
    assert sum(p.numel() for p in official.parameters()) == OFFICIAL_PARAMETERS
    faces = [Face(seed, 32, makeup=seed == 31, dtype=torch.float32) for seed in (30, 31)]
    official(*_args(*faces)).square().mean().backward()
    without_grad = {name for name, p in official.named_parameters() if p.grad is None}
    assert without_grad == UNUSED_OFFICIAL
    used = sum(p.numel() for p in official.parameters() if p.grad is not None)

    ours = PSGANGenerator()
    assert sum(p.numel() for p in ours.parameters()) == used == 12_615_616
    out = ours(faces[0].image, faces[1].image, non_makeup_geometry=faces[0].geometry, makeup_geometry=faces[1].geometry)
    (out.makeup.square().mean() + out.non_makeup.square().mean()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in ours.parameters())

    assert sum(p.numel() for p in BeautyGANGenerator().parameters()) == 9_237_376
    # width 8, one MDNet block, two MANet blocks, by hand: MDNet convs 7*7*3*8 + 4*4*8*16 + 4*4*16*32, affine IN
    # 2 * (8 + 16 + 32), a block 2 * 9 * 32 * 32 + 4 * 32, γ and β 2 * 32; MANet the same encoder, two blocks
    # without IN parameters, transposed convs 4*4*32*16 + 4*4*16*8 and the output conv 7*7*8*3
    mdnet = 1176 + 2048 + 8192 + 112 + 18432 + 128 + 64
    manet = 1176 + 2048 + 8192 + 2 * 18432 + 8192 + 2048 + 1176
    small = PSGANGenerator(width=8, mdnet_blocks=1, manet_blocks=2)
    assert sum(p.numel() for p in small.parameters()) == mdnet + manet == 89_848


# ------------------------------------------------------------------------------------------------- dtypes
def test_output_and_code_stay_float32_under_autocast(small) -> None:
    generator, faces = small
    face = faces[0]
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = generator(face.image, face.image, non_makeup_geometry=face.geometry, makeup_geometry=face.geometry)
        code = generator.makeup_code(face.image, face.geometry)
    assert out.makeup.dtype == out.non_makeup.dtype == torch.float32
    assert code.keys.dtype == code.matrices.dtype == torch.float32
    assert out.makeup.abs().max() <= 1


# --------------------------------------------------------------------------------------------- bad inputs
def _geometry(n: int = 1, size: int = 32) -> FaceGeometry:
    return FaceGeometry(regions=torch.zeros(n, 3, size, size), landmarks=torch.zeros(n, 68, 2))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width": 0}, "width must be an integer >= 1, got 0"),
        ({"mdnet_blocks": -1}, "mdnet_blocks must be an integer >= 0"),
        ({"manet_blocks": 2.0}, "manet_blocks must be an integer >= 0, got 2.0"),
        ({"temperature": 0.0}, "temperature must be > 0"),
        ({"feature_scale": -0.01}, "feature_scale must be >= 0"),
        ({"feature_scale": float("nan")}, "feature_scale must be a finite number"),
        ({"init": "kaiming"}, "init must be 'xavier'"),
        (
            {"output": "residual"},
            "output must be 'image' \\(official\\), 'attention', 'regions' or 'reference_colours', got 'residual'",
        ),
    ],
)
def test_bad_constructor_arguments(kwargs, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PSGANGenerator(**kwargs)


@pytest.mark.parametrize(
    ("regions", "landmarks", "message"),
    [
        (
            torch.zeros(1, 4, 32, 32),
            torch.zeros(1, 68, 2),
            r"regions must be \(N, 3, H, W\).*got shape \(1, 4, 32, 32\)",
        ),
        (torch.zeros(3, 32, 32), torch.zeros(1, 68, 2), r"regions must be \(N, 3, H, W\)"),
        (torch.zeros(1, 3, 32, 32), torch.zeros(1, 67, 2), r"landmarks must be \(N, 68, 2\).*got shape \(1, 67, 2\)"),
        (torch.zeros(1, 3, 32, 32), torch.zeros(68, 2), r"landmarks must be \(N, 68, 2\)"),
        (torch.zeros(1, 3, 32, 32), torch.zeros(1, 68, 3), r"landmarks must be \(N, 68, 2\)"),
        (torch.zeros(2, 3, 32, 32), torch.zeros(1, 68, 2), "the same batch size, got 2 and 1"),
    ],
)
def test_bad_geometry(regions, landmarks, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaceGeometry(regions=regions, landmarks=landmarks)


def test_bad_images_geometries_and_codes() -> None:
    generator = PSGANGenerator(width=4, mdnet_blocks=0, manet_blocks=0)
    image, geometry = torch.zeros(1, 3, 32, 32), _geometry()
    with pytest.raises(ValueError, match=r"makeup must be \(N, 3, H, W\) images, got shape \(1, 1, 32, 32\)"):
        generator.makeup_code(torch.zeros(1, 1, 32, 32), geometry)
    with pytest.raises(ValueError, match=r"divisible by 4, got \(30, 32\)"):
        generator.makeup_code(torch.zeros(1, 3, 30, 32), _geometry(1, 32))
    with pytest.raises(ValueError, match=r"geometry must describe 1 images of \(32, 32\), got 2 of \(32, 32\)"):
        generator.makeup_code(image, _geometry(2))
    with pytest.raises(ValueError, match=r"describe 1 images of \(32, 32\), got 1 of \(64, 64\)"):
        generator.apply_makeup(image, generator.makeup_code(image, geometry), _geometry(1, 64))
    with pytest.raises(TypeError, match="geometry must be a FaceGeometry"):
        generator(image, image, non_makeup_geometry=geometry, makeup_geometry=torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match=r"the same shape, got \(1, 3, 32, 32\) and \(1, 3, 64, 64\)"):
        generator(image, torch.zeros(1, 3, 64, 64), non_makeup_geometry=geometry, makeup_geometry=_geometry(1, 64))
    code = generator.makeup_code(image, geometry)
    with pytest.raises(ValueError, match="got 2 sources and a code of 1 items"):
        generator.apply_makeup(image.expand(2, -1, -1, -1), code, _geometry(2))
    with pytest.raises(ValueError, match="this generator \\(width 8\\) makes 168: the code comes from another"):
        PSGANGenerator(width=8, mdnet_blocks=0, manet_blocks=0).apply_makeup(image, code, geometry)
    with pytest.raises(ValueError, match=r"weights must be 2 numbers \(one per code\) or an \(1, 2\) tensor"):
        generator.mix_codes([code, code], [1.0])
    with pytest.raises(TypeError, match="codes must be a non-empty sequence of PSGANCode"):
        generator.mix_codes(code, [1.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="PSGAN code parts disagree"):
        replace(code, weights=torch.ones(1, 2))
