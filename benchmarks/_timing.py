"""Shared timing helper for the benchmark scripts: median wall time with device syncs around each call."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

__all__ = ["elapsed", "median_time"]


def elapsed(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds of one ``fn()`` call, with CUDA work synchronized before and after."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def median_time(fn: Callable[[], object], repeats: int, device: torch.device) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls after one warm-up call (CUDA work is synchronized)."""
    fn()  # warm-up: allocator, cuDNN autotuning, lazy initialisation
    return statistics.median(elapsed(fn, device) for _ in range(repeats))
