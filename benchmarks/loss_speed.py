"""PerceptualLoss forward+backward speed against (a) the floor and (b) what most users run, in one process.

(a) floor: torchvision's ``vgg16().features[:k]`` run by hand up to the deepest layer, in-place ReLUs, the target
    pass under ``no_grad`` - the least work any implementation can do.
(b) naive: the whole ``vgg16().features`` (frozen parameters) run on pred and on target, taps read from the
    full pass: what most blog snippets do.
(c) piq: ``piq.ContentLoss`` on the same trunk (its per-layer mean squared distance, weighted and summed over the
    channels), when piq is installed.

Printed: median ms per step, ratios ours/floor and naive/ours, and memory (peak CUDA memory on GPU; on CPU the
bytes autograd saves for backward, counted with saved_tensors_hooks). Machines here are noisy: variants are
interleaved, and only ratios from one run are meaningful.

    python benchmarks/loss_speed.py [--device cuda] [--sizes 256] [--batches 1 8] [--repeats 5] [--json results.json]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from _results import write_json

from perceptual import VGG16_LAYERS, PerceptualLoss, RandomWeightsWarning

LAYER_SETS = {
    "relu4_1": {"relu4_1": 1.0},
    "5 layers": {"relu1_2": 1.0, "relu2_2": 1.0, "relu3_3": 1.0, "relu4_3": 1.0, "relu5_3": 1.0},
}
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def _taps(stack, x, wanted):
    out = {}
    for index, module in enumerate(stack):
        x = module(x)
        if index in wanted:
            out[index] = x
    return out


def make_floor(features, layers, device):
    wanted = {VGG16_LAYERS.index(name): w for name, w in layers.items()}
    stack = features[: max(wanted) + 1]
    mean, std = MEAN.to(device), STD.to(device)

    def step(pred, target):
        with torch.no_grad():
            t = _taps(stack, (target - mean) / std, wanted)
        p = _taps(stack, (pred - mean) / std, wanted)
        loss = sum(w * F.mse_loss(p[i], t[i]) for i, w in wanted.items())
        loss.backward()

    return step


def make_naive(features, layers, device):
    wanted = {VGG16_LAYERS.index(name): w for name, w in layers.items()}
    mean, std = MEAN.to(device), STD.to(device)

    def step(pred, target):
        p = _taps(features, (pred - mean) / std, wanted)
        t = _taps(features, (target - mean) / std, wanted)
        loss = sum(w * F.mse_loss(p[i], t[i].detach()) for i, w in wanted.items())
        loss.backward()

    return step


def make_piq(features, layers):
    """``piq.ContentLoss`` over its own copy of the trunk (it runs the whole stack on both images, with gradients for
    both); ``None`` when piq is not installed."""
    try:
        import piq
    except ImportError:
        return None
    module = piq.ContentLoss(
        feature_extractor=copy.deepcopy(features),
        layers=[str(VGG16_LAYERS.index(name)) for name in layers],
        weights=list(layers.values()),
    )

    def step(pred, target):
        module(pred, target).backward()

    return step


def make_ours(loss_module):
    def step(pred, target):
        loss_module(pred, target).backward()

    return step


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure_memory(step, pred, target, device) -> float:
    """MB: peak CUDA allocation on GPU; bytes saved for backward on CPU."""
    pred.grad = None
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step(pred, target)
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    saved = {}

    def pack(t):
        saved[(t.data_ptr(), t.dtype, tuple(t.shape))] = t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step(pred, target)
    return sum(saved.values()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    features = torchvision.models.vgg16(weights=None).features.to(device).eval().requires_grad_(False)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    features = features.to(memory_format=memory_format)
    print(
        f"device={device} ({torch.cuda.get_device_name() if device.type == 'cuda' else 'CPU'}), "
        f"torch {torch.__version__}, threads={torch.get_num_threads()}, memory_format={memory_format}"
    )
    results: dict = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "CPU",
        "channels_last": args.channels_last,
        "repeats": args.repeats,
        "rows": [],
        "missing": {},
    }
    write_json(args.json, results)
    header = (
        f"{'layers':<9} {'batch':>5} {'size':>4} | {'floor ms':>9} {'ours ms':>9} {'naive ms':>9} {'piq ms':>9} | "
        f"{'ours/floor':>10} {'naive/ours':>10} {'piq/ours':>9} | mem MB floor/ours/naive"
    )
    print(header)
    print("-" * len(header))
    for name, layers in LAYER_SETS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RandomWeightsWarning)
            ours_module = PerceptualLoss(layers, weights="random").to(device).to(memory_format=memory_format)
        ours_module.extractor.body.load_state_dict(features[: len(ours_module.extractor.body)].state_dict())
        variants = {
            "floor": make_floor(features, layers, device),
            "ours": make_ours(ours_module),
            "naive": make_naive(features, layers, device),
        }
        piq_step = make_piq(features, layers)
        if piq_step is None:
            results["missing"]["piq"] = "piq not installed"
        else:
            variants["piq"] = piq_step
        for size in args.sizes:
            for batch in args.batches:
                g = torch.Generator().manual_seed(batch)
                pred = torch.rand(batch, 3, size, size, generator=g).to(device, memory_format=memory_format)
                target = torch.rand(batch, 3, size, size, generator=g).to(device, memory_format=memory_format)
                pred.requires_grad_(True)
                times = {k: [] for k in variants}
                for step in variants.values():  # warm-up
                    step(pred, target)
                _sync(device)
                for _ in range(args.repeats):
                    for key, step in variants.items():  # interleaved, so drift hits all alike
                        pred.grad = None
                        _sync(device)
                        start = time.perf_counter()
                        step(pred, target)
                        _sync(device)
                        times[key].append(time.perf_counter() - start)
                med = {k: statistics.median(v) * 1000 for k, v in times.items()}
                mem = {k: measure_memory(step, pred, target, device) for k, step in variants.items()}
                piq_ms = f"{med['piq']:>9.1f}" if "piq" in med else f"{'-':>9}"
                piq_ratio = f"{med['piq'] / med['ours']:>9.2f}" if "piq" in med else f"{'-':>9}"
                print(
                    f"{name:<9} {batch:>5} {size:>4} | {med['floor']:>9.1f} {med['ours']:>9.1f} {med['naive']:>9.1f} "
                    f"{piq_ms} | {med['ours'] / med['floor']:>10.3f} {med['naive'] / med['ours']:>10.2f} {piq_ratio} | "
                    f"{mem['floor']:.0f}/{mem['ours']:.0f}/{mem['naive']:.0f}",
                    flush=True,
                )
                results["rows"].append({"layers": name, "batch": batch, "size": size, "ms": med, "memory_mb": mem})
                write_json(args.json, results)


if __name__ == "__main__":
    main()
