"""What the transfer metrics cost next to the generator forward pass they measure (baseline), in this process.

Times, at the paper's 256x256 and a small batch, on CPU (or the GPU with --device cuda):
  - baseline: the BeautyGAN generator forward (9.24M parameters) under no_grad;
  - ``transfer_metrics`` (Lab colour, histogram EMD for 3 regions, background L1), batched on the device;
  - ``label_map_from_landmarks`` (PIL rasterization of one 68-point map) and, with the ``faces`` extra, one dlib
    face distance (2 detections, 2 landmark fits, 2 descriptors) per sample.

    .venv/bin/python benchmarks/evaluate_cost.py [--size 256] [--batch 4] [--repeats 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _timing import median_time  # noqa: E402
from test_faces_offline import TEMPLATE  # noqa: E402

from beautygan.data.faces import label_map_from_landmarks  # noqa: E402
from beautygan.data.metrics import face_distance, transfer_metrics  # noqa: E402
from beautygan.data.synthetic import render_face  # noqa: E402
from beautygan.models.beautygan import Generator  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    faces = [render_face(np.random.default_rng(i), args.size, makeup=i % 2 == 1) for i in range(2 * args.batch)]
    images = torch.stack([torch.from_numpy(f[0]).permute(2, 0, 1).float() / 127.5 - 1 for f in faces]).to(device)
    labels = torch.stack([torch.from_numpy(f[1].astype(np.int64)) for f in faces]).to(device)
    source, reference = images[: args.batch], images[args.batch :]
    source_labels, reference_labels = labels[: args.batch], labels[args.batch :]
    generator = Generator().to(device).eval()

    @torch.no_grad()
    def forward() -> torch.Tensor:
        return generator(source, reference)[0]

    result = forward()
    base = median_time(forward, args.repeats, device)
    metrics = median_time(
        lambda: transfer_metrics(source, reference, result, source_labels, reference_labels), args.repeats, device
    )
    template = TEMPLATE * args.size / 100  # the hand-made 68-point face of the tests, in a 100 x 100 frame
    raster = median_time(lambda: label_map_from_landmarks(template, args.size), args.repeats, device)
    print(f"device={device} size={args.size} batch={args.batch}")
    print(f"  generator forward (baseline)      {base * 1e3:9.1f} ms   1.00x")
    print(f"  transfer_metrics (batch)          {metrics * 1e3:9.1f} ms   {metrics / base:5.2f}x")
    print(f"  label_map_from_landmarks (1 map)  {raster * 1e3:9.1f} ms   {raster / base:5.2f}x")
    try:
        from beautygan.data.faces import FaceModels

        models = FaceModels(upsample=0 if args.size >= 160 else 1)
    except ImportError as err:
        print(f"  face distance: skipped ({err})")
        return
    face = median_time(
        lambda: face_distance(source[0], result[0], models=models, source_labels=source_labels[0]), args.repeats, device
    )
    print(f"  face_distance (1 sample)      {face * 1e3:9.1f} ms   {face / base:5.2f}x")


if __name__ == "__main__":
    main()
