"""PSGAN's generator trained by the BeautyGAN module (``generator: psgan``): every generator call gets the geometry of
each of its inputs, the loss terms are the official PSGAN step's (``psgan`` preset) through the same code as
BeautyGAN's, and ``beautygan fit`` trains, checkpoints (the hyper-parameters the inference side reads) and resumes.

References: ``PSGANGenerator`` called by hand on the same batch and weights (its forward is checked against the
official generator in ``test_psgan_conformance.py``), the geometries built by hand with ``face_geometry`` (checked
against the official preprocessing in ``test_psgan_geometry.py``), the official loss formulas of
wtjiang98/PSGAN ``psgan/solver.py`` written out with its config constants, and torchvision's VGG16 run by hand.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from conftest import run_ddp_smoke
from torch.utils.data import DataLoader

from beautygan.cli import main as beautygan_main
from beautygan.data.geometry import face_geometry
from beautygan.data.mt import MTDataset
from beautygan.data.synthetic import write_synthetic_mt
from beautygan.models.beautygan import Generator
from beautygan.models.discriminator import PatchDiscriminator
from beautygan.models.generators import build_generator
from beautygan.models.layers import output_channels, output_image
from beautygan.models.psgan import FaceGeometry, PSGANGenerator
from beautygan.training.checkpoint_files import load_checkpoint_file
from beautygan.training.loss_weights import PRESET_VGG, PRESETS
from beautygan.training.module import BeautyGAN

pytestmark = [
    pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning"),
    pytest.mark.filterwarnings("ignore:.*(does not have many workers|LeafSpec|eval mode|logging interval).*"),
]

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "psgan_demo.yaml"
TINY = dict(generator="psgan", generator_width=8, residual_blocks=2, makeup_blocks=1, discriminator_width=8)

# wtjiang98/PSGAN psgan/config.py
LAMBDA_A = LAMBDA_B = 10.0
LAMBDA_IDT = 0.5
LAMBDA_VGG = 5e-3
LAMBDA_HIS, LAMBDA_SKIN, LAMBDA_EYE = 1.0, 0.1, 1.0


@pytest.fixture(scope="module")
def posed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_mt(tmp_path_factory.mktemp("posed") / "mt", n=5, size=64, held_out=1, seed=1, pose=1.0)


@pytest.fixture(scope="module")
def batch(posed: Path) -> dict:
    return next(iter(DataLoader(MTDataset(posed, image_size=64, landmarks=True, seed=0), batch_size=2)))


@pytest.fixture(scope="module")
def vgg16_pool5(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, torch.nn.Sequential]:
    """A VGG16 trunk of random weights (bias on, so that pool5 is not all zeros), as a file and as torchvision's
    ``features`` to run by hand."""
    torch.manual_seed(7)
    features = torchvision.models.vgg16(weights=None).features.eval().requires_grad_(False)
    with torch.no_grad():
        for module in features:
            if isinstance(module, torch.nn.Conv2d):
                module.weight.mul_(1.6)
                module.bias.uniform_(-0.05, 0.05)
    path = tmp_path_factory.mktemp("vgg") / "vgg16.pth"
    torch.save(features.state_dict(), path)
    return str(path), features


def _model(vgg16_pool5, **kwargs) -> BeautyGAN:
    torch.manual_seed(0)
    options = dict(TINY, preset="psgan", vgg_weights=vgg16_pool5[0], perceptual_layer="pool5")
    options.update(kwargs)
    return BeautyGAN(monitor_layers=["relu1_2"], **options)


def _l1(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().mean())


# ------------------------------------------------------------------------------------------------ the step
def test_each_generator_call_gets_the_geometry_of_each_input(vgg16_pool5, batch: dict) -> None:
    """The first pass, the cycle and the identity of the module against PSGANGenerator called by hand; the same calls
    with the geometries swapped come out different, so the comparison can tell."""
    model = _model(vgg16_pool5)
    source, reference = batch["source"], batch["reference"]
    by_hand_s = face_geometry(batch["source_labels"], batch["source_landmarks"])
    by_hand_r = face_geometry(batch["reference_labels"], batch["reference_landmarks"])
    G: PSGANGenerator = model.generator
    with torch.no_grad():
        geometry = model.geometries(batch)
        fake, same = model.first_pass(source, reference, geometry)  # with the identity images G(x, x)
        terms, extras = model.generator_losses(source, reference, fake, batch, geometry, same)  # as the step does
        fresh, _ = model.generator_losses(source, reference, fake, batch)  # the identity computed on its own
        fake_h = G(source, reference, non_makeup_geometry=by_hand_s, makeup_geometry=by_hand_r)
        # the cycle: the de-made-up reference (reference's face) wears the made-up source's (source's face) look...
        rec_h = G(fake_h.non_makeup, fake_h.makeup, non_makeup_geometry=by_hand_r, makeup_geometry=by_hand_s)
        idt_s = G(source, source, non_makeup_geometry=by_hand_s, makeup_geometry=by_hand_s)
        idt_r = G(reference, reference, non_makeup_geometry=by_hand_r, makeup_geometry=by_hand_r)
        swapped = {
            "fake": G(source, reference, non_makeup_geometry=by_hand_r, makeup_geometry=by_hand_s).makeup,
            "cycle": G(fake_h.non_makeup, fake_h.makeup, non_makeup_geometry=by_hand_s, makeup_geometry=by_hand_r),
            "identity": G(source, source, non_makeup_geometry=by_hand_r, makeup_geometry=by_hand_r).makeup,
        }
    torch.testing.assert_close(fake.makeup, fake_h.makeup, rtol=0, atol=1e-6)
    torch.testing.assert_close(fake.non_makeup, fake_h.non_makeup, rtol=0, atol=1e-6)
    rec = extras["reconstruction"]
    torch.testing.assert_close(rec.makeup, rec_h.makeup, rtol=0, atol=1e-6)
    torch.testing.assert_close(rec.non_makeup, rec_h.non_makeup, rtol=0, atol=1e-6)
    # each term by the official formula
    cycle = LAMBDA_A * _l1(rec_h.non_makeup, source) * 0.5 + LAMBDA_B * _l1(rec_h.makeup, reference) * 0.5
    assert float(terms["cycle"]) == pytest.approx(cycle, rel=1e-5)
    torch.testing.assert_close(idt_s.makeup, idt_s.non_makeup)  # PSGAN's G(x, x): one output
    torch.testing.assert_close(same, torch.cat([idt_s.makeup, idt_r.makeup]), rtol=0, atol=1e-6)
    identity = (
        _l1(idt_s.makeup, source) * LAMBDA_A * LAMBDA_IDT + _l1(idt_r.makeup, reference) * LAMBDA_B * LAMBDA_IDT
    ) * 0.5
    assert float(terms["identity"]) == pytest.approx(identity, rel=1e-5)
    assert float(fresh["identity"]) == pytest.approx(identity, rel=1e-5)
    # the geometries matter: each call with them swapped is far from the module's
    assert float((swapped["fake"] - fake.makeup).abs().max()) > 1e-2
    assert float((swapped["cycle"].makeup - rec.makeup).abs().max()) > 1e-2
    assert float((swapped["cycle"].non_makeup - rec.non_makeup).abs().max()) > 1e-2
    assert abs(_l1(swapped["identity"], source) - _l1(idt_s.makeup, source)) > 1e-4


def test_the_perceptual_adversarial_and_histogram_terms_are_beautygans(vgg16_pool5, batch: dict) -> None:
    """The ``psgan`` preset's perceptual term is the official one (torchvision's VGG16 to pool5 on the raw [-1, 1]
    images, MSE, ``LAMBDA_A * LAMBDA_VGG * 0.5`` per direction) computed here by hand on the step's own outputs; the
    adversarial term is LSGAN on the module's discriminators; the histogram terms equal those the BeautyGAN-generator
    module computes for the same outputs and batch."""
    model = _model(vgg16_pool5)
    assert PRESET_VGG["psgan"] == ("vgg16", "none") and model.perceptual.extractor.arch == "vgg16"
    source, reference = batch["source"], batch["reference"]
    features = vgg16_pool5[1]
    # each spectral-norm forward runs one power iteration: the by-hand calls start from the same vectors
    disc_makeup, disc_nonmakeup = copy.deepcopy(model.disc_makeup), copy.deepcopy(model.disc_nonmakeup)
    with torch.no_grad():
        fake, same = model.first_pass(source, reference, model.geometries(batch))
        terms, _ = model.generator_losses(source, reference, fake, batch, same=same)
        vgg = (
            F.mse_loss(features(fake.makeup), features(source)) * LAMBDA_A * LAMBDA_VGG
            + F.mse_loss(features(fake.non_makeup), features(reference)) * LAMBDA_B * LAMBDA_VGG
        ) * 0.5
        adversarial = F.mse_loss(disc_makeup(fake.makeup), torch.ones(2, 1, 6, 6)) + F.mse_loss(
            disc_nonmakeup(fake.non_makeup), torch.ones(2, 1, 6, 6)
        )
        beautygan = BeautyGAN(
            generator="beautygan", generator_width=4, residual_blocks=1, preset="psgan", vgg_weights="random"
        ).makeup_loss(fake, batch)
    assert features(source).shape == (2, 512, 2, 2)  # pool5 at 64 px
    assert float(terms["perceptual"]) == pytest.approx(float(vgg), rel=1e-5)
    assert float(terms["perceptual"]) > 1e-3 * float(terms["cycle"])  # the term is not negligible here
    assert float(terms["adversarial"]) == pytest.approx(float(adversarial), rel=1e-6)
    for name in ("lips", "skin", "eye_shadow"):
        assert float(terms[name]) == float(beautygan[name]) and float(terms[name]) > 0, name


def test_the_psgan_preset_is_the_official_effective_weights() -> None:
    """psgan/solver.py: loss_rec = (L1 * LAMBDA_A + L1 * LAMBDA_B + vgg_A + vgg_B) * 0.5 with vgg_X = MSE * LAMBDA_X *
    LAMBDA_VGG; loss_idt = (L1 * LAMBDA_A * LAMBDA_IDT + L1 * LAMBDA_B * LAMBDA_IDT) * 0.5, one G(x, x) output per
    image where the module counts BeautyGAN's two; the histogram terms times LAMBDA_HIS (* LAMBDA_SKIN, * LAMBDA_EYE)."""
    psgan = PRESETS["psgan"]
    assert psgan.adversarial == 1.0 and psgan.lpips == 0.0
    assert psgan.cycle == pytest.approx(LAMBDA_A * 0.5)
    assert psgan.perceptual == pytest.approx(LAMBDA_A * LAMBDA_VGG * 0.5)
    assert psgan.identity == pytest.approx(LAMBDA_A * LAMBDA_IDT * 0.5 / 2)
    assert (psgan.lips, psgan.skin, psgan.eye_shadow) == pytest.approx(
        (LAMBDA_HIS, LAMBDA_HIS * LAMBDA_SKIN, LAMBDA_HIS * LAMBDA_EYE)
    )


def test_a_step_updates_both_players(vgg16_pool5, batch: dict) -> None:
    model = _model(vgg16_pool5, preset="paper", perceptual_layer="relu2_2", loss_weights={"identity": 1.25})
    opt_g, opt_d = model.configure_optimizers()
    before = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("perceptual")}
    step = model.optimization_step(batch, opt_g, opt_d)
    assert set(step.g_terms) == {"adversarial", "cycle", "perceptual", "identity", "lips", "skin", "eye_shadow"}
    assert all(torch.isfinite(v) for v in step.g_terms.values())
    changed = {k.split(".")[0] for k, v in model.state_dict().items() if k in before and not torch.equal(v, before[k])}
    assert changed == {"generator", "disc_makeup", "disc_nonmakeup"}
    assert all(p.grad is not None for p in model.generator.parameters())  # every parameter takes part (DDP-safe)


def test_a_batch_without_landmarks_is_refused(vgg16_pool5, posed: Path) -> None:
    model = _model(vgg16_pool5)
    plain = next(iter(DataLoader(MTDataset(posed, image_size=64), batch_size=2)))
    with pytest.raises(ValueError, match="needs each image's landmarks; the batch has no source_landmarks or "):
        model.optimization_step(plain, *model.configure_optimizers())


# -------------------------------------------------------------------------------------- networks and options
def test_attention_output_blends_with_the_image_manet_transforms() -> None:
    """With the last convolution zeroed, colour = tanh(0) = 0 and mask = sigmoid(0) = 1/2: each output is half of the
    image MANet transforms (made-up <- non-makeup input, de-made-up <- makeup input), by hand."""
    g = PSGANGenerator(width=4, mdnet_blocks=0, manet_blocks=2, output="attention")
    assert g.manet.decoder[-1].weight.shape == (4, 4, 7, 7)  # 3 colour channels + 1 mask
    assert set(g.state_dict()) == set(PSGANGenerator(width=4, mdnet_blocks=0, manet_blocks=2).state_dict())
    a, b = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    geometry = face_geometry(torch.ones(2, 16, 16, dtype=torch.int64), torch.rand(2, 68, 2) * 15)
    with torch.no_grad():
        g.manet.decoder[-1].weight.zero_()
        out = g(a, b, non_makeup_geometry=geometry, makeup_geometry=geometry)
    torch.testing.assert_close(out.makeup, a / 2)
    torch.testing.assert_close(out.non_makeup, b / 2)


def test_region_layers_by_hand() -> None:
    """output_image("regions"): each pixel takes the colour layer of its region id, then the mask; a pixel of no
    region (-1) is the source's, by hand with numpy; ids of another shape are refused."""
    rng = np.random.default_rng(0)
    raw = torch.from_numpy(rng.normal(size=(2, 10, 5, 6)))
    source = torch.from_numpy(rng.uniform(-1, 1, size=(2, 3, 5, 6)))
    ids = torch.from_numpy(rng.integers(-1, 3, size=(2, 5, 6)))
    out = output_image(raw, source, "regions", ids).numpy()
    r, src = raw.numpy(), source.numpy()
    mask = 1 / (1 + np.exp(-r[:, 9]))
    for n in range(2):
        for y in range(5):
            for x in range(6):
                layer = int(ids[n, y, x])
                if layer < 0:
                    assert np.array_equal(out[n, :, y, x], src[n, :, y, x])
                    continue
                colour = np.tanh(r[n, 3 * layer : 3 * layer + 3, y, x])
                expected = mask[n, y, x] * colour + (1 - mask[n, y, x]) * src[n, :, y, x]
                np.testing.assert_allclose(out[n, :, y, x], expected, rtol=1e-12)
    assert output_channels("regions") == 10 and (ids < 0).any()
    with pytest.raises(ValueError, match=r"output 'regions' needs region ids of shape \(2, 5, 6\), got \(2, 5\)"):
        output_image(raw, source, "regions", ids[:, :, 0])
    with pytest.raises(ValueError, match="only the psgan generator is given"):
        Generator(width=4, residual_blocks=0, output="regions")
    with pytest.raises(ValueError, match="region_grid must be 'nearest' .official. or 'cover', got 'any'"):
        PSGANGenerator(width=4, region_grid="any")  # type: ignore[arg-type]


def test_a_region_layer_reaches_its_own_regions_pixels_and_no_other(batch: dict) -> None:
    """With output="regions", changing the lip layer's weights changes exactly the source's lip pixels (its
    FaceGeometry's lip mask at full resolution, to the pixel), the skin layer's exactly its skin pixels, and the
    pixels of no region are the source's bit for bit: no lip colour can be painted beside the lips or between them,
    whatever the network learns."""
    torch.manual_seed(4)
    g = PSGANGenerator(width=4, mdnet_blocks=1, manet_blocks=2, output="regions", region_grid="cover")
    assert g.manet.decoder[-1].weight.shape[0] == 10
    gs = face_geometry(batch["source_labels"], batch["source_landmarks"])
    gr = face_geometry(batch["reference_labels"], batch["reference_landmarks"])
    source, reference = batch["source"], batch["reference"]
    regions = gs.regions > 0.5
    none = ~regions.any(1)
    with torch.no_grad():
        before = g.apply_makeup(source, g.makeup_code(reference, gr), gs)
        assert none.any() and torch.equal(before.permute(1, 0, 2, 3)[:, none], source.permute(1, 0, 2, 3)[:, none])
        for region, channels in ((0, slice(0, 3)), (1, slice(3, 6))):
            g.manet.decoder[-1].weight[channels] += 0.3
            after = g.apply_makeup(source, g.makeup_code(reference, gr), gs)
            changed = (after - before).abs().amax(1) > 0
            assert regions[:, region].any() and torch.equal(changed, regions[:, region]), region
            before = after


def test_the_reference_lips_makeup_reaches_the_source_lips_and_no_other_pixel(batch: dict) -> None:
    """With output="regions", another makeup in the reference's lip cells (its matrices there moved) changes the
    source's lip pixels and none of its skin or eye-shadow pixels: the other regions' layers are decoded without
    the lips' makeup. A single decode would carry it onto the skin around the lips (the decoder's convolutions
    reach a few cells around each cell)."""
    torch.manual_seed(5)
    g = PSGANGenerator(width=4, mdnet_blocks=1, manet_blocks=2, output="regions", region_grid="cover")
    gs = face_geometry(batch["source_labels"], batch["source_landmarks"])
    gr = face_geometry(batch["reference_labels"], batch["reference_landmarks"])
    source = batch["source"]
    with torch.no_grad():
        code = g.makeup_code(batch["reference"], gr)
        lip_cells = code.regions[:, :, :1]  # (N, 1, 1, h, w)
        moved = dataclasses.replace(code, matrices=code.matrices + 0.5 * lip_cells.to(code.matrices.dtype))
        before, after = g.apply_makeup(source, code, gs), g.apply_makeup(source, moved, gs)
    changed = (after - before).abs().amax(1) > 0
    lips = gs.regions[:, 0] > 0.5
    assert lip_cells.any() and changed.any()
    assert not (changed & ~lips).any(), int((changed & ~lips).sum())  # nothing off the source's lips moved
    assert changed[lips].float().mean() > 0.9  # and its lips did


def test_the_cover_grid_keeps_thin_lips_that_the_nearest_pixel_misses() -> None:
    """region_grid="cover": a cell is in the smallest region (lips, eyes, skin) holding any of its pixels, by hand on
    hand-drawn masks; "nearest" (official) reads pixel (4i, 4j) and misses a lip one pixel thick on row 5."""
    regions = torch.zeros(1, 3, 16, 16, dtype=torch.bool)
    regions[0, 1, 2:14, 2:14] = True  # skin
    regions[0, 0, 5, 4:12] = True  # lips, 1 px thick
    regions[0, 1, 5, 4:12] = False
    regions[0, 2, 8:10, 3:7] = True  # an eye box
    regions[0, 1, 8:10, 3:7] = False
    geometry = FaceGeometry(regions=regions, landmarks=torch.rand(1, 68, 2) * 15)
    expected = np.zeros((3, 4, 4), dtype=bool)
    masks = regions[0].numpy()
    for i in range(4):
        for j in range(4):
            cell = masks[:, 4 * i : 4 * i + 4, 4 * j : 4 * j + 4].any(axis=(1, 2))
            if cell[0]:
                expected[0, i, j] = True
            elif cell[2]:
                expected[2, i, j] = True
            elif cell[1]:
                expected[1, i, j] = True
    torch.manual_seed(0)
    images = torch.rand(1, 3, 16, 16) * 2 - 1
    cover = PSGANGenerator(width=4, mdnet_blocks=0, manet_blocks=0, region_grid="cover").makeup_code(images, geometry)
    nearest = PSGANGenerator(width=4, mdnet_blocks=0, manet_blocks=0).makeup_code(images, geometry)
    assert np.array_equal(cover.regions[0, 0].numpy(), expected)
    assert expected[0, 1, 1:3].all() and expected[2, 2, 0:2].all() and expected[1, 0, 0]
    assert not nearest.regions[0, 0, 0].any()  # the official reading has no lip cell at all
    assert torch.equal(nearest.regions[0, 0], regions[:, :, ::4, ::4][0])


def test_apply_looks_equals_one_apply_makeup_per_look(batch: dict) -> None:
    """Several looks on the same sources (MANet's first half once, the rest as one batch): each equals its own
    apply_makeup, and so do the parameters' gradients of their sum."""
    torch.manual_seed(3)
    g = PSGANGenerator(width=4, mdnet_blocks=1, manet_blocks=2)
    source, reference = batch["source"], batch["reference"]
    gs = face_geometry(batch["source_labels"], batch["source_landmarks"])
    gr = face_geometry(batch["reference_labels"], batch["reference_landmarks"])
    codes = [g.makeup_code(reference, gr), g.makeup_code(source, gs)]
    looks = g.apply_looks(source, codes, gs)
    sum(look.sum() for look in looks).backward()
    together = [p.grad.clone() for p in g.parameters()]
    g.zero_grad()
    codes = [g.makeup_code(reference, gr), g.makeup_code(source, gs)]
    separate = [g.apply_makeup(source, code, gs) for code in codes]
    sum(look.sum() for look in separate).backward()
    assert len(looks) == 2 and float((separate[0] - separate[1]).abs().max()) > 1e-3  # two different looks
    for look, alone in zip(looks, separate):
        torch.testing.assert_close(look, alone, rtol=0, atol=1e-6)
    for a, b in zip(together, (p.grad for p in g.parameters())):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)  # float32 sums in another order, the logits x200


def test_discriminator_norm_and_the_generator_choice() -> None:
    spectral = BeautyGAN(**TINY, vgg_weights="random", monitor_layers=["relu1_2"])
    plain = BeautyGAN(**TINY, vgg_weights="random", monitor_layers=["relu1_2"], discriminator_norm="none")
    convs = [m for m in plain.disc_makeup.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 5 and not any(hasattr(m, "parametrizations") for m in convs)
    assert all(hasattr(m, "parametrizations") for m in spectral.disc_makeup.modules() if isinstance(m, torch.nn.Conv2d))
    # without spectral norm the discriminator is its plain convolutions and LeakyReLU(0.01), by hand
    x = torch.rand(1, 3, 32, 32)
    h = x
    for i, conv in enumerate(convs):
        h = F.conv2d(h, conv.weight, conv.bias, stride=conv.stride, padding=conv.padding)
        h = F.leaky_relu(h, 0.01) if i < 4 else h
    torch.testing.assert_close(plain.disc_makeup(x), h)
    with pytest.raises(ValueError, match="norm must be 'spectral' \\(official\\) or 'none', got 'batch'"):
        PatchDiscriminator(norm="batch")  # type: ignore[arg-type]
    assert isinstance(spectral.generator, PSGANGenerator)
    assert (spectral.generator.apply_after, len(spectral.generator.mdnet.bottleneck)) == (1, 1)
    with pytest.raises(ValueError, match="generator must be one of \\['beautygan', 'psgan'\\], got 'stylegan'"):
        BeautyGAN(generator="stylegan", vgg_weights="random")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="generator must be one of"):
        build_generator("stylegan")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------- the CLI
def _fit_args(root: Path, runs: Path) -> list[str]:
    return [
        "fit",
        "--config",
        str(CONFIG),
        "--data.root",
        str(root),
        "--data.image_size",
        "32",
        "--trainer.max_epochs",
        "1",
        "--trainer.limit_train_batches",
        "2",
        "--trainer.limit_val_batches",
        "1",
        "--trainer.check_val_every_n_epoch",
        "1",
        "--trainer.default_root_dir",
        str(runs),
        "--trainer.logger.init_args.save_dir",
        str(runs),
        "--samples.every_n_batches",
        "1",
        "--model.generator_width",
        "4",
        "--model.discriminator_width",
        "4",
        "--model.residual_blocks",
        "2",
        "--model.makeup_blocks",
        "1",
        "--model.lr_decay_epochs",
        "0",  # the resume below changes max_epochs, which a decay schedule would read
    ]


def test_fit_with_the_demo_config_checkpoints_the_contract_and_resumes(tmp_path: Path) -> None:
    root = write_synthetic_mt(tmp_path / "mt", n=5, size=32, held_out=1, seed=0, pose=1.0)  # 2 batches of 2
    runs = tmp_path / "runs"
    assert beautygan_main(_fit_args(root, runs)) == 0
    run = runs / "tensorboard" / "version_0"
    checkpoint = load_checkpoint_file(run / "checkpoints" / "last.ckpt")  # weights_only=True
    hparams = checkpoint["hyper_parameters"]
    assert {k: hparams[k] for k in ("generator", "generator_width", "residual_blocks", "makeup_blocks")} == {
        "generator": "psgan",
        "generator_width": 4,
        "residual_blocks": 2,
        "makeup_blocks": 1,
    }
    assert (hparams["generator_output"], hparams["region_grid"], hparams["generator_init"]) == (
        "reference_colours",
        "cover",
        "xavier",
    )
    assert checkpoint["datamodule_hyper_parameters"]["image_size"] == 32
    assert checkpoint["datamodule_hyper_parameters"]["landmarks"] is True  # set from model.generator
    # the inference side's rebuild (the contract), strict
    generator = PSGANGenerator(
        width=hparams["generator_width"],
        mdnet_blocks=hparams["makeup_blocks"],
        manet_blocks=hparams["residual_blocks"],
        output=hparams["generator_output"],
    )
    state = {k[len("generator.") :]: v for k, v in checkpoint["state_dict"].items() if k.startswith("generator.")}
    generator.load_state_dict(state)
    assert sorted(p.name for p in (run / "samples").glob("*.png")) == [
        "train_000000.png",
        "train_000001.png",
        "val_000002.png",
    ]
    assert checkpoint["global_step"] == 4 and checkpoint["batches_seen"] == 2

    resume = ["fit", "--config", str(run / "config.yaml"), "--trainer.max_epochs", "2", "--ckpt_path", "last"]
    assert beautygan_main(resume) == 0
    resumed = load_checkpoint_file(run / "checkpoints" / "last.ckpt")
    assert resumed["global_step"] == 8 and resumed["batches_seen"] == 4 and resumed["epoch"] == 1
    assert not torch.equal(resumed["state_dict"]["generator.mdnet.gamma.weight"], state["mdnet.gamma.weight"])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--model.generator", "stylegan"],
            "model.generator\": Expected a typing.Literal['beautygan', 'psgan']. Got value: stylegan",
        ),
        (["--data.landmarks", "false"], 'Linked "data.landmarks" must be given via "model.generator".'),
    ],
)
def test_bad_generator_configuration_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, extra: list[str], message: str
) -> None:
    root = write_synthetic_mt(tmp_path / "mt", n=2, size=32, held_out=1, seed=0)
    assert beautygan_main([*_fit_args(root, tmp_path / "runs"), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("beautygan: error: ") and message in err[0], err


@pytest.mark.slow
def test_ddp_two_cpu_processes(tmp_path: Path) -> None:
    root = write_synthetic_mt(tmp_path / "mt", n=5, size=32, held_out=2, seed=0, pose=1.0)
    out = tmp_path / "ranks.txt"
    result = run_ddp_smoke(root, out, tmp_path, "--generator", "psgan")
    assert result.returncode == 0, result.stderr[-3000:]
    first, second = out.read_text().splitlines()
    step, batches, *sums = first.split()
    assert (int(step), int(batches)) == (4, 2)  # 2 batches, 2 optimizer steps each
    assert len(sums) == 2 and sums[0] == sums[1]  # ranks stepped together and stayed identical
    label, rank0, rank1, whole = second.split()
    assert label == "val" and rank0 == rank1
    assert float(rank0) == pytest.approx(float(whole), rel=1e-5)
    assert np.isfinite(float(whole))
