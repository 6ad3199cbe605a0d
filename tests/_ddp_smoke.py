"""A few BeautyGAN steps under Lightning's DDP strategy on CPU (gloo), for the test suite and for checking a cluster.

    python tests/_ddp_smoke.py DATA_ROOT OUT.txt [--devices 2] [--accelerator cpu] [--generator psgan]

Runs a tiny model with ``strategy="ddp"`` (the launcher re-executes this command once per extra rank) and writes,
from rank 0, the global step, the module's batch counter, and each rank's sum of trainable parameters after
training (identical sums: the ranks stepped together); then each rank's logged ``val/lip_colour_distance``
(synchronised over ranks) and the same figure over the whole held-out set computed in one process. With
``--generator psgan`` the data module gives each face its landmarks (the dataset needs landmark files, as the
synthetic writer makes them).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import lightning as L
import torch

from beautygan.data.geometry import face_geometry
from beautygan.data.metrics import region_colour_distance
from beautygan.data.regions import region_masks
from beautygan.training.datamodule import MTDataModule
from beautygan.training.module import BeautyGAN
from beautygan.training.samples import SampleGrids

__all__ = ["main"]


class _RankChecksum(L.Callback):
    def __init__(self, out: Path) -> None:
        self.out = out

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        total = torch.stack([p.detach().double().sum() for p in pl_module.parameters() if p.requires_grad]).sum()
        gathered = pl_module.all_gather(total)  # every rank takes part in the collective
        # The validation figure each rank ends with (synchronised: the same on every rank), and, on rank 0, the same
        # figure computed over the whole held-out set in one process.
        logged = trainer.callback_metrics["val/lip_colour_distance"].detach().double()
        logged_per_rank = pl_module.all_gather(logged)
        if trainer.is_global_zero:
            sums = " ".join(f"{v:.12e}" for v in gathered.reshape(-1).tolist())
            values = " ".join(f"{v:.9e}" for v in logged_per_rank.reshape(-1).tolist())
            whole = _lip_distance_over(trainer.datamodule.held_out, pl_module)
            self.out.write_text(f"{trainer.global_step} {pl_module.batches_seen} {sums}\nval {values} {whole:.9e}\n")


@torch.no_grad()
def _lip_distance_over(dataset, model: BeautyGAN) -> float:
    """Mean over every held-out pair of the per-pair lip colour distance, one process (no DDP)."""
    items = [dataset[i] for i in range(len(dataset))]
    source = torch.stack([item["source"] for item in items]).to(model.device)
    reference = torch.stack([item["reference"] for item in items]).to(model.device)
    if model.hparams.generator == "psgan":
        geometry = {
            f"{side}_geometry": face_geometry(
                torch.stack([item[f"{side}_labels"] for item in items]).to(model.device),
                torch.stack([item[f"{side}_landmarks"] for item in items]).to(model.device),
            )
            for side in ("source", "reference")
        }
        made_up = model(source, reference, **geometry).makeup
    else:
        made_up = model.generator(non_makeup=source, makeup=reference).makeup
    src = region_masks(torch.stack([item["source_labels"] for item in items]).to(model.device))
    ref = region_masks(torch.stack([item["reference_labels"] for item in items]).to(model.device))
    return float(region_colour_distance(made_up, src.lips, reference, ref.lips).double().mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tests/_ddp_smoke.py", description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="MT-layout dataset (e.g. from beautygan.data.synthetic)")
    parser.add_argument("out", type=Path, help="result file written by rank 0")
    parser.add_argument("--devices", type=int, default=2)
    parser.add_argument("--accelerator", default="cpu")
    parser.add_argument("--batches", type=int, default=2)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--generator", choices=("beautygan", "psgan"), default="beautygan")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    torch.manual_seed(0)
    model = BeautyGAN(
        generator=args.generator,
        generator_width=4,
        residual_blocks=1,
        discriminator_width=4,
        vgg_weights="random",
        monitor_layers=["relu1_2"],
    )
    trainer = L.Trainer(
        accelerator=args.accelerator,
        devices=args.devices,
        strategy="ddp_find_unused_parameters_true",
        max_epochs=1,
        limit_train_batches=args.batches,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[_RankChecksum(args.out), SampleGrids(every_n_batches=1, pairs=1)],
    )
    landmarks = args.generator == "psgan"
    data = MTDataModule(str(args.root), image_size=args.image_size, batch_size=1, num_workers=0, landmarks=landmarks)
    trainer.fit(model, datamodule=data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
