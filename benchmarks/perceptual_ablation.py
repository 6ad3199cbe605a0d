"""Does the VGG perceptual term do its job? The BeautyGAN demo trained twice in one process, with the
perceptual weight at 0 and at its configured value, measured on the same held-out pairs.

    .venv/bin/python benchmarks/perceptual_ablation.py [--config configs/beautygan_demo.yaml] [extra LightningCLI args]

Prints, for each run: the MSE of the made-up source to the source at the perceptual layer (on the same VGG), the change of background and
hair pixels (0-255), the lip colour distance to the reference as a share of the untouched source's, and the time.
Both runs start from the same seed (``seed_everything`` in the config), so the weight is the only difference.
"""

from __future__ import annotations

import sys

from beautygan.demo import train


def main(argv: list[str]) -> int:
    base = [*argv, "--trainer.enable_progress_bar", "false", "--trainer.logger.init_args.name", "ablation"]
    runs = {}
    for label, extra in (("perceptual 0", ["--model.loss_weights.perceptual", "0"]), ("configured", [])):
        print(f"perceptual_ablation: training with {label} ...", flush=True)
        run = train([*base, *extra])
        runs[label] = (run, run.cli.model.loss_weights.perceptual)
    print()
    layer = next(iter(runs.values()))[0].cli.model.hparams.perceptual_layer
    print(
        f"{'run':<14}{'weight':>8}{layer + ' MSE to source':>23}{'background+hair change':>24}{'lips / source':>15}{'min':>6}"
    )
    for label, (run, weight) in runs.items():
        after = run.after
        lips = after["lips"] / run.before["lips_source"]
        print(
            f"{label:<14}{weight:>8g}{after['perceptual']:>23.1f}{after['background_hair']:>24.2f}{lips:>15.2f}{run.minutes:>6.1f}"
        )
    (off, _), (on, _) = runs.values()
    print(
        f"ratio configured / perceptual 0: {layer} MSE {on.after['perceptual'] / off.after['perceptual']:.2f}, "
        f"background+hair change {on.after['background_hair'] / off.after['background_hair']:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
