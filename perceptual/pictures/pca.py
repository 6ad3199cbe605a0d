"""Every channel at once: the first three principal components of a layer's channel vectors, shown as R, G and B.

Each position of a ``(C, H, W)`` map is one sample of ``C`` values; the components are the top eigenvectors of their
covariance (:func:`pca_projection`), fitted on all maps of a picture together, so one colour means one mixture of
channels in every panel (real and generated alike). pytorch-grad-cam's EigenCAM and DeepFeatureFactorization
summarise feature maps the same way. :func:`render_pca` draws the panels; :func:`pca_fit` and :func:`pca_picture`
are its two halves, for callers that copy the explained variance to the host together with other numbers first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
from torch import Tensor

from perceptual.pictures.colormaps import colormap_levels
from perceptual.pictures.grids import channel_range, check_maps, upscale
from perceptual.pictures.render import GridStyle, check_style, prepare_maps
from perceptual.pictures.text import Labels, check_texts, draw_labels, heading_lines, text_scale

__all__ = ["pca_fit", "pca_picture", "pca_projection", "pca_style", "render_pca"]

_EPS = 1e-12


def pca_projection(*maps: Tensor, k: int = 3) -> tuple[list[Tensor], Tensor]:
    """The first ``k`` principal components of the channel vectors of ``maps`` (each ``(C, H_i, W_i)``, the same
    ``C``), fitted on all of them together, and each map projected onto them.

    Every position of every map is one sample of ``C`` values; the samples are centred on their joint mean and the
    components are the top eigenvectors of their ``C x C`` covariance (``torch.linalg.eigh`` in float64). Each
    component's sign makes its largest-magnitude loading positive (so colours do not flip from one call to the next
    without cause). Fitting real and generated features together means one component value - one colour - stands
    for one mixture of channels in both.

    Returns ``([(k, H_i, W_i) scores of each map], (k,) fraction of the total variance each component explains)``,
    float on the maps' device. With fewer than ``k`` channels the missing components are zero.
    """
    if not maps:
        raise ValueError("pca_projection needs at least one (C, H, W) map")
    checked = [check_maps(m, f"maps[{i}]") for i, m in enumerate(maps)]
    channels = checked[0].shape[0]
    if any(m.shape[0] != channels for m in checked):
        raise ValueError(f"all maps must have the same number of channels, got {[m.shape[0] for m in checked]}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    samples = torch.cat([m.reshape(channels, -1).float() for m in checked], dim=1)  # (C, P)
    centred = samples - samples.mean(dim=1, keepdim=True)
    covariance = (centred @ centred.T).double() / max(centred.shape[1] - 1, 1)
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)  # ascending
    count = min(k, channels)
    components = eigenvectors[:, -count:].flip(-1).T  # (count, C), largest variance first
    strongest = components.abs().argmax(dim=1, keepdim=True)
    signs = torch.where(components.gather(1, strongest) < 0, -1.0, 1.0).to(components.dtype)
    components = (components * signs).to(centred.dtype)
    scores = components @ centred  # (count, P)
    variance = eigenvalues.clamp_min(0.0)
    explained = (variance[-count:].flip(-1) / variance.sum().clamp_min(_EPS)).float()
    if count < k:
        scores = torch.cat((scores, scores.new_zeros(k - count, scores.shape[1])))
        explained = torch.cat((explained, explained.new_zeros(k - count)))
    sizes = [m.shape[1] * m.shape[2] for m in checked]
    return [part.reshape(k, *m.shape[1:]) for part, m in zip(scores.split(sizes, dim=1), checked)], explained


def pca_style(style: GridStyle, *, min_size: int, max_size: int) -> GridStyle:
    """How PCA views are drawn: ``style`` with panels of ``min_size`` to ``max_size`` px, no channel numbers, and each
    component stretched between its 1st and 99th percentile over all panels (principal components have long tails;
    min-max would grey everything out)."""
    return replace(
        style, min_size=min_size, max_size=max_size, labels=False, scaling="percentile", percentiles=(1.0, 99.0)
    )


def pca_fit(maps: Sequence[Tensor], style: GridStyle) -> tuple[list[Tensor], Tensor, int]:
    """The maps resized as ``style`` draws them, their 3-component projection, its explained variance and the
    integer upscale still due."""
    prepared = [prepare_maps(m, None, style.min_size, style.max_size) for m in maps]
    scores, explained = pca_projection(*(m for m, _ in prepared), k=3)
    return scores, explained, prepared[0][1]


def pca_picture(
    scores: Sequence[Tensor],
    factor: int,
    style: GridStyle,
    *,
    gap: int | None,
    titles: Sequence[str] | None,
    heading: str | None,
) -> Tensor:
    """``(3, h, w)`` scores as RGB panels side by side: component ``i`` is colour channel ``i``, each scaled over
    all panels together (``style.scaling``)."""
    gap = max(4, 4 * style.padding) if gap is None else gap
    if gap < 0:
        raise ValueError(f"gap must be >= 0, got {gap}")
    joint = torch.cat([s.reshape(3, -1) for s in scores], dim=1)
    low, high = channel_range(joint, dims=(-1,), method=style.scaling, percentiles=style.percentiles)  # (3, 1)
    low, high = low[..., None], high[..., None]
    height = max(s.shape[1] for s in scores) * factor
    width = max(s.shape[2] for s in scores) * factor
    pad, border = style.pad_value, style.padding
    panels = []
    for score in scores:
        rgb = upscale(colormap_levels(score, low, high, 256, torch.uint8).permute(1, 2, 0), factor, dim=0)
        panel = rgb.new_full((height, width, 3), pad)
        panel[: rgb.shape[0], : rgb.shape[1]] = rgb
        panels.append(panel)
    row = panels[0].new_full((height + 2 * border, 2 * border + len(panels) * width + (len(panels) - 1) * gap, 3), pad)
    for index, panel in enumerate(panels):
        left = border + index * (width + gap)
        row[border : border + height, left : left + width] = panel
    if titles is None and heading is None:
        return row
    labels = Labels(scale=text_scale(width))
    labels.lines = heading_lines(heading, border, row.shape[1], labels.scale)
    if titles is not None:
        titles = check_texts(titles, "titles", (len(scores),))
        labels.lines.append(
            [(title, border + i * (width + gap), border + i * (width + gap) + width) for i, title in enumerate(titles)]
        )
    return draw_labels(row, labels, indexed=False, pad_value=pad)


def render_pca(
    *maps: Tensor,
    style: GridStyle = GridStyle(),
    gap: int | None = None,
    titles: Sequence[str] | None = None,
    heading: str | None = None,
) -> Tensor:
    """Every channel at once: each ``(C, H, W)`` map's first three principal components (:func:`pca_projection`,
    fitted on all ``maps`` together) as R, G and B, panels side by side, uint8 ``(H', W', 3)``.

    Maps are resized as ``style`` draws tiles (``min_size``/``max_size``; the fit uses the resized maps) and each
    component is stretched to [0, 1] over all panels together (``style.scaling``), so a colour means the same
    channel mixture, at the same strength, in every panel. ``titles``: one name per map above its panel;
    ``heading``: lines above them (see :func:`~perceptual.pictures.render.render_comparison`)."""
    style = check_style(style)
    scores, _, factor = pca_fit(maps, style)
    return pca_picture(scores, factor, style, gap=gap, titles=titles, heading=heading)
