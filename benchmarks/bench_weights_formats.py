"""Load time of full-size VGG16 conv weights from a TF ``.npy``, a Keras ``.h5`` and the ``.safetensors`` that
``perceptual convert-weights`` writes (the baseline), all measured in this process on seeded random weights.

    .venv/bin/python benchmarks/bench_weights_formats.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _tf_vgg_reference import random_conv_weights, write_keras_h5, write_npy  # noqa: E402

from perceptual import load_weights  # noqa: E402
from perceptual.cli.convert import convert_weights  # noqa: E402


def _time(path: Path, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        load_weights(str(path), arch="vgg16")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    convs = random_conv_weights("vgg16", seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        npy, h5, st = root / "vgg16.npy", root / "vgg16_notop.h5", root / "vgg16.safetensors"
        write_npy(npy, convs)
        write_keras_h5(h5, convs, layout="applications")
        convert_weights(npy, st)
        baseline = _time(st, args.repeats)
        print(f"VGG16 conv weights (14.7M params, {st.stat().st_size / 2**20:.0f} MiB), median of {args.repeats} loads")
        print(f"{'format':<14}{'seconds':>10}{'x safetensors':>16}")
        for name, path in (("safetensors", st), ("TF .npy", npy), ("Keras .h5", h5)):
            seconds = baseline if path is st else _time(path, args.repeats)
            print(f"{name:<14}{seconds:>10.4f}{seconds / baseline:>16.2f}")


if __name__ == "__main__":
    main()
