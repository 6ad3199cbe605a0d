"""SpeedOptions change how fast BeautyGAN's step runs, not what it computes.

Two training batches with the options against the plain eager step, from the same weights and batches (fp32).
After the first batch: every logged loss term, every parameter's gradient (of the D step for the discriminators,
of the G step for the generator) and every parameter after both updates. After the second batch (where a compiled
step runs again, recompiled for frozen discriminators): every logged term.

Tolerances. Fused Adam: 1e-5 relative (only the order of float operations in the update differs). Compiled
networks: terms 1e-4 relative, each parameter's gradient within 1e-3 of its norm (measured: at most 4.5e-4; fused
Adam: 1e-5, as the generator's gradients pass through the discriminators it just updated). The compiler fuses
and reorders reductions; the VGG MSE between close features loses digits to cancellation). Parameters: Adam's first
update is ``lr * g / (|g| + eps)``, about ``lr * sign(g)``, so a gradient that is float noise around zero may move a
weight by ``lr`` either way: every weight within ``2 lr`` of the eager one and all but 0.1% within 1e-5. Second
batch's terms: 1e-3 relative (they start from those weights).
"""

from __future__ import annotations

import math

import lightning as L
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from beautygan.data.regions import stacked_region_masks
from beautygan.data.synthetic import render_face
from beautygan.training.module import BeautyGAN
from beautygan.training.speed import SpeedOptions

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*(does not have many workers|LeafSpec|eval mode|logging interval|RANDOMLY INITIALIZED).*",
    "ignore::perceptual.RandomWeightsWarning",
)

SIZE = 32
NETWORKS = dict(generator_width=8, residual_blocks=1, discriminator_width=8)


def _items(count: int) -> list[dict[str, torch.Tensor]]:
    rng = np.random.default_rng(3)
    items = []
    for _ in range(count):
        (source, source_labels, _), (reference, reference_labels, _) = (
            render_face(rng, SIZE, makeup=m) for m in (False, True)
        )
        item = {
            "source": torch.from_numpy(source).permute(2, 0, 1).float() / 127.5 - 1,
            "reference": torch.from_numpy(reference).permute(2, 0, 1).float() / 127.5 - 1,
            "source_labels": torch.from_numpy(source_labels.astype(np.int64))[None],
            "reference_labels": torch.from_numpy(reference_labels.astype(np.int64))[None],
        }
        item["source_masks"] = stacked_region_masks(item["source_labels"][None])[0]
        item["reference_masks"] = stacked_region_masks(item["reference_labels"][None])[0]
        items.append(item)
    return items


class _FirstBatch(L.Callback):
    """Keeps the logged terms, gradients and parameters after the first training batch."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch_idx == 0:
            networks = (
                pl_module.generator,
                pl_module.disc_makeup,
                pl_module.disc_nonmakeup,
                pl_module.perceptual.extractor,
            )
            self.compiled = [getattr(m, "_compiled_call_impl", None) is not None for m in networks]
            self.compiled.append(hasattr(pl_module._histogram_loss, "_torchdynamo_orig_callable"))  # torch.compile'd
            self.terms = _terms(trainer)
            self.grads = {
                k: p.grad.detach().float().cpu().clone() for k, p in pl_module.named_parameters() if p.grad is not None
            }
            # the trained networks: not the frozen VGG trunks (the loss's, validation LPIPS's and DISTS's)
            trained = [(k, p) for k, p in pl_module.named_parameters() if p.requires_grad]
            self.params = {k: p.detach().float().cpu().clone() for k, p in trained}


def _terms(trainer: L.Trainer) -> dict[str, float]:
    return {k.removeprefix("train/"): float(v) for k, v in trainer.callback_metrics.items() if k.startswith("train/")}


def _train(speed: SpeedOptions | None, device: str = "cpu", batches: int = 2) -> tuple[_FirstBatch, dict[str, float]]:
    torch.manual_seed(0)
    model = BeautyGAN(
        vgg_weights="random_normalized",
        monitor_layers=["relu2_2"],
        loss_weights={"identity": 0.5},
        speed=speed,
        **NETWORKS,
    )
    first = _FirstBatch()
    trainer = L.Trainer(
        accelerator=device,
        devices=1,
        max_epochs=1,
        limit_train_batches=batches,
        logger=False,
        callbacks=[first],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(model, train_dataloaders=DataLoader(_items(batches), batch_size=1))
    first.state_keys = list(model.state_dict())
    return first, _terms(trainer)


@pytest.fixture(scope="module")
def eager() -> tuple[dict[str, float], dict]:
    return _train(None)


def _assert_terms(terms: dict[str, float], reference: dict[str, float], rtol: float) -> None:
    assert terms.keys() == reference.keys() and len(terms) == 11  # 7 G terms (identity included), 2 D, 2 totals
    for name, value in reference.items():
        assert terms[name] == pytest.approx(value, rel=rtol, abs=1e-7), name


def _assert_same(
    result, reference, *, terms_rtol: float, grad_rtol: float, lr: float = 2e-4, exact_share: float
) -> None:
    first, last_terms = result
    reference_first, reference_last_terms = reference
    assert first.state_keys == reference_first.state_keys  # compiled in place: checkpoints keep their keys
    assert reference_first.compiled == [False] * 5
    _assert_terms(first.terms, reference_first.terms, terms_rtol)
    assert first.grads.keys() == reference_first.grads.keys() and len(first.grads) == len(first.params)
    for key, grad in reference_first.grads.items():
        error = float((first.grads[key] - grad).norm() / grad.norm())
        assert error <= grad_rtol, (key, error)
    differences = torch.cat([(first.params[k] - p).abs().flatten() for k, p in reference_first.params.items()])
    assert float(differences.max()) <= 2 * lr + 1e-6
    assert float((differences > 1e-5).float().mean()) <= 1 - exact_share
    _assert_terms(last_terms, reference_last_terms, 1e-3 if grad_rtol > 1e-4 else terms_rtol)


def test_fused_adam_steps_like_adam(eager) -> None:
    _assert_same(_train(SpeedOptions(fused_adam=True)), eager, terms_rtol=1e-5, grad_rtol=1e-5, exact_share=1.0)


def test_the_comparison_sees_a_different_update(eager) -> None:
    """The checks above can fail: the parameters move by far more than their tolerances in two steps."""
    first, _ = eager
    torch.manual_seed(0)
    initial = BeautyGAN(vgg_weights="random_normalized", monitor_layers=["relu2_2"], **NETWORKS)
    moved = torch.cat(
        [(first.params[k] - p.detach()).abs().flatten() for k, p in initial.named_parameters() if k in first.params]
    )
    assert float((moved > 1e-5).float().mean()) > 0.5  # most weights moved by about lr = 2e-4 in the first step


@pytest.mark.slow
def test_compiled_step_equals_the_eager_step(eager) -> None:
    compiled = _train(SpeedOptions(compile="default", fused_adam=True))
    assert compiled[0].compiled == [True] * 5  # G, both Ds, the VGG trunk and the histogram loss
    _assert_same(compiled, eager, terms_rtol=1e-4, grad_rtol=1e-3, exact_share=0.999)


@pytest.mark.slow
def test_compiled_networks_never_fall_back_to_eager() -> None:
    """Batches of 2, 2 and a partial 1, then validation: every network and the histogram loss stay compiled (dynamo
    raises instead of silently running a network eagerly once its recompile limit is reached). The two
    discriminators share one forward: with one cache they need 8 graphs by the partial batch (D step and G step,
    2 batch sizes, 2 discriminators), the default limit, which one more batch size or a benchmark's extra call
    exceeds; the limit here is 6, to leave that margin (each network needs fewer with its own cache)."""
    torch.manual_seed(0)
    model = BeautyGAN(
        vgg_weights="random_normalized", monitor_layers=["relu2_2"], speed=SpeedOptions(compile="default"), **NETWORKS
    )
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    items = _items(5)
    with torch._dynamo.config.patch(fail_on_recompile_limit_hit=True, recompile_limit=6):
        trainer.fit(model, DataLoader(items, batch_size=2), DataLoader(items[:2], batch_size=2))
    assert model.batches_seen == 3 and all(math.isfinite(v) for v in _terms(trainer).values())


@pytest.mark.slow
def test_compiled_histogram_loss_equals_the_eager_one() -> None:
    """The histogram loss as one compiled graph: the same per-sample, per-region values (the integer tables are
    exact; only the float mean's summation order differs) and the same gradient, on rendered faces with the regions
    of their label maps, both criteria."""
    from beautygan.training.histogram import histogram_matching_loss

    items = _items(3)
    pred = torch.stack([i["source"] for i in items] + [i["reference"] for i in items])
    target = torch.cat([pred[3:], pred[:3]])
    masks = torch.stack([i["source_masks"] for i in items] + [i["reference_masks"] for i in items])
    target_masks = torch.cat([masks[3:], masks[:3]])
    pred = (pred + 0.05 * torch.randn(pred.shape, generator=torch.Generator().manual_seed(0))).clamp(-1, 1)
    compiled = torch.compile(histogram_matching_loss, fullgraph=True)
    for criterion in ("l1", "l2"):
        values = []
        for loss in (histogram_matching_loss, compiled):
            x = pred.clone().requires_grad_(True)
            value = loss(x, target, masks, target_masks, criterion=criterion, reduction="none")
            (grad,) = torch.autograd.grad(value.sum(), x)
            values.append((value.detach(), grad))
        (eager_value, eager_grad), (compiled_value, compiled_grad) = values
        assert eager_value.shape == (6, 4) and float(eager_value.min()) > 0  # every region present, every term moves
        torch.testing.assert_close(compiled_value, eager_value, rtol=1e-5, atol=0)
        torch.testing.assert_close(compiled_grad, eager_grad, rtol=1e-5, atol=1e-9)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.slow
def test_cuda_graphs_step_equals_the_eager_step() -> None:
    reference = _train(None, device="cuda", batches=3)
    graphed = _train(SpeedOptions(compile="reduce-overhead", fused_adam=True), device="cuda", batches=3)
    _assert_same(graphed, reference, terms_rtol=1e-3, grad_rtol=1e-3, exact_share=0.99)  # cuDNN may pick other kernels


def test_speed_options_are_checked() -> None:
    with pytest.raises(ValueError, match="speed.compile must be one of"):
        SpeedOptions(compile="fast")
    with pytest.raises(TypeError, match="SpeedOptions"):
        BeautyGAN(vgg_weights="random_normalized", speed={"compile": "default"}, **NETWORKS)
