"""One BeautyGAN training step against an independent transcription of the official step (``_official_beautygan``).

Both start from the same networks, weights, Adam settings and batch (synthetic faces with MT label maps); every
logged loss term must agree to 1e-5 and every parameter (and spectral-norm vector) after one full D+G step must
agree. The transcription builds its own masks, histogram matching, VGG forward (torchvision's ``vgg16().features``
for the paper preset; the official ``net.VGG`` forward on a Gatys-layout ``vgg_conv.pth`` for the official preset)
and its own optimizers, so a wrong weight, reduction, direction, branch or mask in the implementation shows up.
"""

from __future__ import annotations

import copy

import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from _official_beautygan import official_step
from torch.utils.data import DataLoader

from beautygan.data.regions import stacked_region_masks
from beautygan.data.synthetic import render_face
from beautygan.models.beautygan import Generator, Translation
from beautygan.training.module import BeautyGAN
from perceptual import LPIPS, LPIPS_LAYERS

pytestmark = pytest.mark.filterwarnings("ignore:.*(does not have many workers|LeafSpec|eval mode|logging interval).*")

SIZE = 64
EYE_MARGIN = round(10 * SIZE / 256)  # the official 10 px at 256x256, scaled as data/regions.py documents
NETWORKS = dict(generator_width=8, residual_blocks=1, discriminator_width=8)
# Official knobs (lambda_A = lambda_B = 10, his weights 1 / 0.1 / 1) that give each preset's weights:
# paper: cycle 10, perceptual 0.005 (= 10 * 5e-4), no identity, no halving; official: the code's own settings.
OFFICIAL_KNOBS = {
    "paper": dict(lambda_idt=0.0, lambda_vgg=5e-4, rec_scale=1.0),
    "official": dict(lambda_idt=0.5, lambda_vgg=5e-3, rec_scale=0.5),
}
VGG16_RELU4_1 = 19  # torchvision vgg16().features[:19] ends with relu4_1
GATYS_CONVS = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3", "conv3_4", "conv4_1"]
WEIGHT_GAIN = 1.6  # per conv: lifts torchvision's random init to activations of order 1 at relu4_1


def _batch(n: int, seed: int) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(seed)
    sources = [render_face(rng, SIZE, makeup=False) for _ in range(n)]
    references = [render_face(rng, SIZE, makeup=True) for _ in range(n)]

    def images(faces):
        return torch.stack([torch.from_numpy(image).permute(2, 0, 1).float() / 127.5 - 1 for image, *_ in faces])

    def labels(faces):
        return torch.stack([torch.from_numpy(label.astype(np.int64))[None] for _, label, _ in faces])

    batch = {"source": images(sources), "reference": images(references)}
    batch["source_labels"], batch["reference_labels"] = labels(sources), labels(references)
    batch["source_masks"] = stacked_region_masks(batch["source_labels"])
    batch["reference_masks"] = stacked_region_masks(batch["reference_labels"])
    return batch


@pytest.fixture(scope="module")
def vgg16_weights(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, torch.nn.Sequential]:
    torch.manual_seed(5)
    features = torchvision.models.vgg16(weights=None).features[:VGG16_RELU4_1].eval()
    with torch.no_grad():
        for module in features:
            if isinstance(module, torch.nn.Conv2d):
                module.weight.mul_(WEIGHT_GAIN)
                module.bias.uniform_(-0.05, 0.05)
    path = tmp_path_factory.mktemp("vgg") / "vgg16.pth"
    full = torchvision.models.vgg16(weights=None).features.state_dict()
    full.update(features.state_dict())
    torch.save(full, path)
    return str(path), features.requires_grad_(False)


@pytest.fixture(scope="module")
def gatys_weights(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, torch.Tensor]]:
    """A VGG19 in the layout of Gatys' ``vgg_conv.pth`` (what the official code loads), seeded random values."""
    torch.manual_seed(6)
    convs = [m for m in torchvision.models.vgg19(weights=None).features if isinstance(m, torch.nn.Conv2d)]
    names = [f"conv{b}_{i}" for b, count in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4)) for i in range(1, count + 1)]
    state = {}
    for name, conv in zip(names, convs):
        state[f"{name}.weight"] = conv.weight.detach() * WEIGHT_GAIN
        state[f"{name}.bias"] = torch.empty(conv.out_channels).uniform_(-0.05, 0.05)
    path = tmp_path_factory.mktemp("vgg") / "vgg_conv.pth"
    torch.save(state, path)
    return str(path), state


def _official_vgg(preset: str, vgg16_weights, gatys_weights):
    """The transcription's VGG: ``relu4_1`` features of images in [-1, 1]."""
    if preset == "paper":
        features = vgg16_weights[1]
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        return lambda x: features(((x + 1) / 2 - mean) / std)
    state = gatys_weights[1]

    def official_net_vgg(x: torch.Tensor) -> torch.Tensor:
        # net.VGG.forward up to r41, fed the raw [-1, 1] RGB image as the official solver does.
        h = x
        for name in GATYS_CONVS:
            h = F.relu(F.conv2d(h, state[f"{name}.weight"], state[f"{name}.bias"], padding=1))
            if name in ("conv1_2", "conv2_2", "conv3_4"):
                h = F.max_pool2d(h, kernel_size=2, stride=2)
        return h

    return official_net_vgg


def _model(preset: str, vgg16_weights, gatys_weights, **overrides) -> BeautyGAN:
    weights = vgg16_weights[0] if preset == "paper" else gatys_weights[0]
    torch.manual_seed(0)
    return BeautyGAN(preset=preset, vgg_weights=weights, monitor_layers=["relu2_2"], **NETWORKS, **overrides)


def _our_step(model: BeautyGAN, batch: dict[str, torch.Tensor]) -> dict[str, float]:
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=1,
        limit_train_batches=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    items = [{k: v[i] for k, v in batch.items()} for i in range(batch["source"].shape[0])]
    trainer.fit(model, train_dataloaders=DataLoader(items, batch_size=len(items)))
    return {k.removeprefix("train/"): float(v) for k, v in trainer.callback_metrics.items() if k.startswith("train/")}


def _reference_step(model: BeautyGAN, preset: str, batch, vgg16_weights, gatys_weights) -> tuple[dict, dict]:
    """Run the transcription on copies of ``model``'s untrained networks; returns its terms and networks."""
    G, D_A, D_B = (copy.deepcopy(m).train() for m in (model.generator, model.disc_makeup, model.disc_nonmakeup))
    lr, betas = model.hparams.lr, tuple(model.hparams.betas)
    optimizers = [torch.optim.Adam(m.parameters(), lr=lr, betas=betas) for m in (G, D_A, D_B)]
    terms = official_step(
        G,
        D_A,
        D_B,
        *optimizers,
        _official_vgg(preset, vgg16_weights, gatys_weights),
        batch["source"],
        batch["reference"],
        batch["source_labels"],
        batch["reference_labels"],
        eye_margin=EYE_MARGIN,
        histogram_criterion=model.histogram_criterion,
        **OFFICIAL_KNOBS[preset],
    )
    return terms, {"generator": G, "disc_makeup": D_A, "disc_nonmakeup": D_B}


def _assert_terms_equal(ours: dict[str, float], official: dict[str, float], preset: str) -> None:
    names = [
        "d_makeup",
        "d_nonmakeup",
        "d_total",
        "g_adversarial",
        "g_cycle",
        "g_perceptual",
        "g_lips",
        "g_skin",
        "g_eye_shadow",
        "g_total",
    ] + (["g_identity"] if preset == "official" else [])
    for name in names:
        assert ours[name] == pytest.approx(official[name], rel=1e-5, abs=1e-7), name
    if preset == "paper":
        assert "g_identity" not in ours and official["g_identity"] == 0.0


@pytest.mark.parametrize(("preset", "n"), [("paper", 1), ("official", 1), ("paper", 2)])
def test_one_step_equals_the_official_step(preset: str, n: int, vgg16_weights, gatys_weights) -> None:
    batch = _batch(n, seed=n)
    model = _model(preset, vgg16_weights, gatys_weights)
    official, networks = _reference_step(model, preset, batch, vgg16_weights, gatys_weights)
    ours = _our_step(model, batch)
    _assert_terms_equal(ours, official, preset)
    # Each term matters at this scale (a term far below the others would pass any comparison).
    for name in ("g_perceptual", "g_lips", "g_skin", "g_eye_shadow"):
        assert official[name] > 1e-3 * official["g_total"], (name, official)
    for name, reference in networks.items():
        ours_state, reference_state = getattr(model, name).state_dict(), reference.state_dict()
        assert ours_state.keys() == reference_state.keys()
        for key in ours_state:
            torch.testing.assert_close(ours_state[key], reference_state[key], rtol=1e-4, atol=2e-6, msg=f"{name}.{key}")


class _SwappedCycle(torch.nn.Module):
    """The generator as the pre-fix code used it in the cycle pass: the made-up source fed to the non-makeup branch,
    the de-made-up reference to the makeup branch, and the makeup head's output taken as the source's reconstruction."""

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        self.inner = generator
        self.calls = 0

    def forward(self, non_makeup: torch.Tensor, makeup: torch.Tensor) -> Translation:
        self.calls += 1
        if self.calls % 2 == 0:  # every second call of a step is the cycle pass
            out = self.inner(non_makeup=makeup, makeup=non_makeup)
            return Translation(makeup=out.non_makeup, non_makeup=out.makeup)
        return self.inner(non_makeup=non_makeup, makeup=makeup)


def test_conformance_catches_a_swapped_cycle(vgg16_weights, gatys_weights) -> None:
    batch = _batch(1, seed=1)
    model = _model("paper", vgg16_weights, gatys_weights)
    official, _ = _reference_step(model, "paper", batch, vgg16_weights, gatys_weights)
    model.generator = _SwappedCycle(model.generator)
    ours = _our_step(model, batch)
    assert ours["g_adversarial"] == pytest.approx(official["g_adversarial"], rel=1e-5)  # same first pass
    assert ours["g_cycle"] != pytest.approx(official["g_cycle"], rel=1e-3)


def test_identity_is_fed_each_image_to_both_branches(vgg16_weights, gatys_weights) -> None:
    """The official preset's G(a, a) term by hand: 2.5 per L1 term (lambda 10 * lambda_idt 0.5 * 0.5)."""
    batch = _batch(1, seed=3)
    model = _model("official", vgg16_weights, gatys_weights)
    source, reference = batch["source"], batch["reference"]
    with torch.no_grad():
        fake = model.generator(non_makeup=source, makeup=reference)
        terms, _ = model.generator_losses(source, reference, fake, batch)
        a, b = model.generator(source, source), model.generator(reference, reference)
    by_hand = 2.5 * sum(
        float((x - y).abs().mean()) for x, y in ((a[0], source), (a[1], source), (b[0], reference), (b[1], reference))
    )
    assert float(terms["identity"]) == pytest.approx(by_hand, rel=1e-6)


def test_lpips_term_from_the_shared_pass_equals_a_separate_lpips(vgg16_weights, gatys_weights) -> None:
    """``loss_weights.lpips`` reads the perceptual loss's VGG pass; a separately built LPIPS on the same weights,
    with its own passes, gives the same term."""
    pytest.importorskip("lpips", reason="the LPIPS calibration ships in the lpips package")
    model = _model("paper", vgg16_weights, gatys_weights, loss_weights={"lpips": 0.7})
    assert set(LPIPS_LAYERS) <= set(model.perceptual.extractor.layers)
    batch = _batch(2, seed=3)
    with torch.no_grad():
        fake = model.generator(non_makeup=batch["source"], makeup=batch["reference"])
        terms, _ = model.generator_losses(batch["source"], batch["reference"], fake, batch)
        separate = LPIPS(weights=vgg16_weights[0], input_range=(-1, 1))
        expected = 0.7 * (
            separate(fake.makeup, batch["source"]).mean() + separate(fake.non_makeup, batch["reference"]).mean()
        )
    assert float(terms["lpips"]) == pytest.approx(float(expected), rel=1e-5)
    assert float(terms["lpips"]) > 0.01
    with pytest.raises(ValueError, match="needs a VGG16 preset"):
        _model("official", vgg16_weights, gatys_weights, loss_weights={"lpips": 0.7})
