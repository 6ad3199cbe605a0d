"""The base images of PSGANGenerator's ``output="reference_colours"``, written out in numpy, one pair at a time.

For a source ``x`` and references ``k`` with weights ``w_k``: the attention's logits ``T * q_i . k_j`` between the
source's cells ``i`` and each reference's cells ``j`` (queries and keys: the visual features times ``feature_scale``,
then the 136 relative positions, by hand); per region ``r``, each reference's cell colours ``c_rj`` (mean of the
cell's pixels in ``r``) and pixel counts ``n_rj``; the moved colour ``C_ri = sum_j n_rj e^{l_ij} c_rj / sum_j n_rj
e^{l_ij}``, then shifted over the whole region by ``mu_r - sum_i s_ri C_ri / sum_i s_ri`` (``mu_r``: the mean of
the reference's pixels in ``r``; ``s_ri``: the source's pixel count of ``r`` in cell ``i``), so that the moved
colours' mean over the source's pixels of ``r`` is the reference's; the base ``x_p + sum_k w_k (C_ri - m_ri)`` for
pixel ``p`` of cell ``i`` (``m_ri``: the source cell's mean of ``r``), where a reference without region ``r`` adds
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

STRIDE = 4


def pixel_regions(regions: np.ndarray) -> np.ndarray:
    """``(H, W)`` ids from ``(3, H, W)`` masks: the first region above 0.5 holding each pixel, -1 for none."""
    ids = np.full(regions.shape[1:], -1, dtype=np.int64)
    for region in (2, 1, 0):
        ids[regions[region] > 0.5] = region
    return ids


def cells(image: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per region and cell: the mean colour ``(3, 3, h, w)`` (0 where none) and the pixel count ``(3, h, w)``."""
    _, height, width = image.shape
    h, w = height // STRIDE, width // STRIDE
    means, counts = np.zeros((3, 3, h, w)), np.zeros((3, h, w))
    for i in range(h):
        for j in range(w):
            block = ids[STRIDE * i : STRIDE * (i + 1), STRIDE * j : STRIDE * (j + 1)]
            pixels = image[:, STRIDE * i : STRIDE * (i + 1), STRIDE * j : STRIDE * (j + 1)]
            for region in range(3):
                inside = block == region
                counts[region, i, j] = inside.sum()
                if inside.any():
                    means[region, :, i, j] = pixels[:, inside].mean(axis=1)
    return means, counts


def keys(features: np.ndarray, landmarks: np.ndarray, feature_scale: float) -> np.ndarray:
    """``(C + 136, h * w)``: the features times ``feature_scale``, then each cell's pixel ``(4i, 4j)`` minus every
    landmark (rows minus ``y``, then columns minus ``x``), divided by its norm."""
    _, h, w = features.shape
    landmarks = np.asarray(landmarks, dtype=np.float64)
    rows = []
    for i in range(h):
        for j in range(w):
            offsets = np.concatenate([STRIDE * i - landmarks[:, 1], STRIDE * j - landmarks[:, 0]])
            norm = np.sqrt((offsets**2).sum())
            rows.append(offsets / norm if norm > 0 else offsets)
    return np.concatenate([features.reshape(len(features), -1) * feature_scale, np.array(rows).T])


def base_images(
    source: np.ndarray,
    source_ids: np.ndarray,
    source_keys: np.ndarray,
    references: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    weights: Sequence[float],
    temperature: float,
) -> np.ndarray:
    """``(3, 3, H, W)``: each region's base image of ``source`` ``(3, H, W)`` for the references ``(image, ids,
    keys)`` mixed with ``weights``."""
    _, height, width = source.shape
    h, w = height // STRIDE, width // STRIDE
    source_means, source_counts = cells(source, source_ids)
    shift = np.zeros((3, 3, h, w))
    for (image, ids, reference_keys), weight in zip(references, weights):
        means, counts = cells(image, ids)
        logits = temperature * source_keys.T @ reference_keys  # (hw source cells, hw reference cells)
        for region in range(3):
            n = counts[region].reshape(-1)
            if n.sum() == 0:
                continue
            allowed = n > 0
            scaled = logits[:, allowed] - logits[:, allowed].max(axis=1, keepdims=True)
            p = n[allowed] * np.exp(scaled)
            p /= p.sum(axis=1, keepdims=True)
            moved = p @ means[region].reshape(3, -1)[:, allowed].T  # (hw, 3)
            s = source_counts[region].reshape(-1)
            if s.sum() > 0:  # the region's mean on the source's pixels: the reference's
                moved += image[:, ids == region].mean(axis=1) - (s[:, None] * moved).sum(axis=0) / s.sum()
            shift[region] += weight * (moved.T.reshape(3, h, w) - source_means[region])
    upsampled = shift.repeat(STRIDE, axis=2).repeat(STRIDE, axis=3)
    return source[None] + upsampled
