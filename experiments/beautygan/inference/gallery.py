"""Pictures of many transfers at once, each a PNG plus an HTML page naming every cell:

- :func:`write_gallery`: sources down, references across, each cell the source wearing that reference's makeup
  (BeautyGAN's Figure 1), under the same :class:`~beautygan.inference.controls.MakeupControls`;
- :func:`write_strength_strips`: one row per pair, the look at each strength (0 is the source, 1 the transfer);
- :func:`write_joint_strips`: sources wearing lips, eyes and skin from different references;
- :func:`write_interpolation_strip`: a source wearing looks between two references, interpolated inside the
  generator, with the pixel blend of the two end results below it for comparison.

With photos and the ``faces`` extra, cells show the aligned face (what the generator sees, with the result pasted
back); images from an MT-layout folder (``--data-dir``: the held-out lists, or the first images of each domain) are
already aligned faces and are used whole.

    beautygan gallery --ckpt last.ckpt --data-dir data/synthetic_mt --count 4 --out gallery.png
    beautygan gallery --ckpt last.ckpt --sources photos/ --references looks/ --out gallery.png
    beautygan gallery --ckpt last.ckpt --data-dir data/synthetic_mt --strengths 0,0.25,0.5,0.75,1 --out strengths.png
    beautygan interpolate --ckpt last.ckpt --source S --reference A --reference B --steps 5 --out strip.png
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote

import numpy as np
import torch
from PIL import Image

from perceptual.files import atomic_path
from perceptual.images import check_output_image, save_image, uint8_image
from perceptual.pictures.grids import tile_grid

from ..labelled_grid import labelled_grid
from .controls import MakeupControls
from .photo_transfer import Photo, PhotoTransfer, PreparedPhoto

__all__ = ["default_title", "write_gallery", "write_interpolation_strip", "write_joint_strips", "write_strength_strips"]

_GAP = 2


@dataclass
class Gallery:
    """What a gallery or strip function wrote: the PNG, the HTML page, the row and column names and failures."""

    image: Path
    page: Path | None
    sources: list[str]
    references: list[str]
    failures: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    """Column titles of a strip (``source``, ``reference``, one per strength or step)."""


def _cell(image: torch.Tensor | np.ndarray, size: int) -> np.ndarray:
    picture = Image.fromarray(uint8_image(image, (-1.0, 1.0)))  # (3, S, S) tensors in [-1, 1]
    if picture.size != (size, size):
        smaller = picture.size[0] > size
        picture = picture.resize((size, size), Image.LANCZOS if smaller else Image.NEAREST)
    return np.asarray(picture)


def gallery_grid(
    sources: Sequence[torch.Tensor],
    references: Sequence[torch.Tensor],
    made_up: Sequence[Sequence[torch.Tensor]],
    *,
    cell: int,
) -> np.ndarray:
    """The ``(rows * (cell + 2) - 2, cols * (cell + 2) - 2, 3)`` uint8 grid: a white corner, ``references`` along the
    first row, ``sources`` down the first column, ``made_up[i][j]`` (source i wearing reference j) in the cells;
    images ``(3, S, S)`` in [-1, 1]; white gaps of 2 pixels."""
    cols = len(references) + 1
    if len(made_up) != len(sources) or any(len(row) != len(references) for row in made_up):
        raise ValueError(f"made_up must be {len(sources)} rows of {len(references)} images")
    blank = np.full((cell, cell, 3), 255, dtype=np.uint8)  # the corner
    cells = [blank, *(_cell(r, cell) for r in references)]
    for source, row in zip(sources, made_up):
        cells += [_cell(source, cell), *(_cell(image, cell) for image in row)]
    grid = tile_grid(torch.from_numpy(np.stack(cells)), ncols=cols, padding=_GAP, pad_value=255)
    return grid[_GAP:-_GAP, _GAP:-_GAP].numpy()  # gaps between cells only, none around the grid


def mt_layout_images(data_dir: str | Path, count: int) -> tuple[list[Path], list[Path], list[str]]:
    """Up to ``count`` non-makeup and makeup images of an MT-layout folder (the held-out lists when there are any,
    else the first training images), and a note when the folder holds fewer than ``count``."""
    from ..data.mt import list_domain

    root = Path(data_dir)
    chosen, notes = [], []
    for domain in ("non-makeup", "makeup"):
        names = list_domain(root, domain, "test") or list_domain(root, domain, "train")
        if not names:
            raise FileNotFoundError(f"{root} has no {domain} images (expected images/{domain}/ and optional lists)")
        if len(names) < count:
            notes.append(f"--count {count}: {root} has only {len(names)} {domain} image(s) to show; using {len(names)}")
        chosen.append([root / "images" / domain / name for name in names[:count]])
    return chosen[0], chosen[1], notes


def default_title(transfer: PhotoTransfer, what: str) -> str:
    """A page's title naming the generator: ``"BeautyGAN makeup transfer"``, ``"PSGAN-style makeup transfer"``."""
    return f"{transfer.model.name} {what}"


def _write_page(
    page: Path,
    image: Path,
    gallery: Gallery,
    *,
    title: str,
    explanation: str,
    cells: str = "",
    generator: str = "",
) -> None:
    cols = "".join(f"<li>{html.escape(name)}</li>" for name in gallery.references)
    rows = "".join(f"<li>{html.escape(name)}</li>" for name in gallery.sources)
    notes = "".join(f'<p class="meta">note: {html.escape(note)}</p>' for note in dict.fromkeys(gallery.notes))
    failures = "".join(f"<li>{html.escape(name)}: {html.escape(reason)}</li>" for name, reason in gallery.failures)
    lists = (
        f'<div class="lists"><div><h2>Rows</h2><ol>{rows}</ol></div><div><h2>Columns</h2><ol>{cols}</ol></div></div>'
        if rows or cols
        else ""
    )
    text = "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            "<style>body{font-family:sans-serif;margin:1.5em;background:#fafafa}img{max-width:100%;border:1px solid #ccc}"
            ".meta{color:#555}.lists{display:flex;gap:3em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
            "padding:.2em .5em;text-align:left}</style>",
            "</head><body>",
            f"<h1>{html.escape(title)}</h1>",
            f'<p class="meta">{html.escape(generator)}</p>' if generator else "",
            f"<p>{explanation}</p>",
            notes,
            f'<a href="{quote(image.name)}"><img src="{quote(image.name)}" alt="{html.escape(title)}"></a>',
            cells,
            lists,
            f"<h2>Left out</h2><ul>{failures}</ul>" if failures else "",
            "</body></html>",
        ]
    )
    with atomic_path(page) as temporary:
        temporary.write_text(text + "\n", encoding="utf-8")


def _prepare_all(
    transfer: PhotoTransfer, paths: Sequence[Photo], failures: list[tuple[str, str]], notes: list[str]
) -> list[PreparedPhoto]:
    ready = []
    for path in paths:
        try:
            photo = transfer.prepare(path)
        except (ValueError, OSError) as err:
            failures.append((Path(path).name if isinstance(path, (str, Path)) else str(path), str(err)))
            continue
        notes.extend(photo.notes)
        ready.append(photo)
    return ready


def _view(transfer: PhotoTransfer, photo: PreparedPhoto, image: np.ndarray | None, cell: int) -> np.ndarray:
    """A cell: the face of ``image`` (a result of ``photo``; ``None``: the photo itself) at ``cell`` pixels."""
    if image is None:
        image = photo.photo if photo.aligned else uint8_image(photo.crop, (-1.0, 1.0))
    return transfer.face_view(photo, image, cell)


def write_gallery(
    transfer: PhotoTransfer,
    sources: Sequence[Photo],
    references: Sequence[Photo],
    out: str | Path,
    *,
    controls: MakeupControls | None = None,
    cell: int = 128,
    page: bool = True,
    title: str | None = None,
) -> Gallery:
    """Prepare every photo once, run every (source, reference) pair under ``controls`` in batches, and write the
    grid PNG (and ``<out stem>.html``). A photo that cannot be used (unreadable, no face) is left out and listed."""
    out = check_output_image(out, "--out")
    if cell < 16:
        raise ValueError(f"cell must be >= 16 pixels, got {cell}")
    failures: list[tuple[str, str]] = []
    notes = list(transfer.notes)
    rows, cols = _prepare_all(transfer, sources, failures, notes), _prepare_all(transfer, references, failures, notes)
    if not rows or not cols:
        listed = "; ".join(f"{name}: {reason}" for name, reason in failures)
        raise ValueError(
            f"no usable {'sources' if not rows else 'references'} for the gallery ({listed or 'none given'})"
        )
    results = transfer.transfer_batch([(s, r) for s in rows for r in cols], controls)
    cells = [_view(transfer, rows[i // len(cols)], image, cell) for i, image in enumerate(results)]
    made_up = [cells[i * len(cols) : (i + 1) * len(cols)] for i in range(len(rows))]
    grid = gallery_grid(
        [_view(transfer, s, None, cell) for s in rows],
        [_view(transfer, r, None, cell) for r in cols],
        made_up,
        cell=cell,
    )
    path = save_image(grid, out)
    gallery = Gallery(path, None, [s.name for s in rows], [r.name for r in cols], failures, notes)
    if controls is not None and controls.describe():
        gallery.notes.append(f"controls: {controls.describe()}")
    if page:
        gallery.page = out.with_suffix(".html")
        explanation = (
            "First column: the sources, untouched. First row: the references. Cell (row i, column j): "
            "source i wearing reference j's makeup."
        )
        _write_page(
            gallery.page,
            path,
            gallery,
            title=title or default_title(transfer, "makeup transfer"),
            explanation=explanation,
            generator=transfer.model.description,
        )
    return gallery


def _strip_image(
    rows: Sequence[Sequence[np.ndarray]], columns: Sequence[str], row_names: Sequence[str] | None
) -> np.ndarray:
    tiles = torch.stack([torch.stack([torch.from_numpy(np.array(cell)) for cell in row]) for row in rows])
    return labelled_grid(tiles, columns, header=14, row_names=row_names).numpy()


def _cell_table(rows: Sequence[str], columns: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["row", *columns])
    body = "".join(
        f"<tr><th>{html.escape(name)}</th>" + "".join(f"<td>{html.escape(text)}</td>" for text in row) + "</tr>"
        for name, row in zip(rows, cells)
    )
    return f"<h2>Every cell</h2><table><tr>{head}</tr>{body}</table>"


def write_strength_strips(
    transfer: PhotoTransfer,
    pairs: Sequence[tuple[Photo, Photo | None]],
    out: str | Path,
    *,
    strengths: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
    controls: MakeupControls | None = None,
    cell: int = 128,
    title: str | None = None,
) -> Gallery:
    """One row per ``(source, reference)`` pair: the source, the reference, then the source wearing the look at
    each of ``strengths`` (the global strength of ``controls``, whose per-region settings apply to every cell).
    Writes the PNG and ``<out stem>.html`` naming every cell."""
    out = check_output_image(out, "--out")
    if not strengths:
        raise ValueError("give at least one strength")
    base = transfer.prepare_controls(controls)
    steps = [replace(base, strength=float(s)) for s in strengths]  # each checked against the allowed range
    failures: list[tuple[str, str]] = []
    notes = list(transfer.notes)
    rows, names, table = [], [], []
    for source_path, reference_path in pairs:
        try:
            source = transfer.prepare(source_path)
            reference = None if reference_path is None else transfer.prepare(reference_path)
            results = [transfer.transfer(source, reference, step) for step in steps]
        except (ValueError, OSError) as err:
            failures.append((f"{source_path} + {reference_path}", str(err)))
            continue
        notes += source.notes + ([] if reference is None else reference.notes)
        reference_cell = (
            _view(transfer, reference, None, cell) if reference is not None else np.full((cell, cell, 3), 255, np.uint8)
        )
        rows.append(
            [_view(transfer, source, None, cell), reference_cell, *(_view(transfer, source, r, cell) for r in results)]
        )
        names.append(f"{source.name} + {reference.name if reference is not None else 'regions only'}")
        table.append(
            [
                source.name,
                reference.name if reference is not None else "(none)",
                *(f"{source.name} at strength {s:g}" for s in strengths),
            ]
        )
    if not rows:
        raise ValueError("no usable pairs: " + "; ".join(f"{name}: {reason}" for name, reason in failures))
    columns = ["source", "reference", *(f"{s:g}" for s in strengths)]
    path = save_image(_strip_image(rows, columns, None), out)
    strip = Gallery(path, out.with_suffix(".html"), names, [], failures, notes, columns)
    if base.describe():
        strip.notes.append(f"controls: {base.describe()}")
    explanation = (
        "One row per pair: the source, the reference, then the source wearing the reference's look at "
        f"strength {', '.join(f'{s:g}' for s in strengths)} (0: the source, 1: the transfer; above 1 "
        "the change is extrapolated)."
    )
    _write_page(
        strip.page,
        path,
        strip,
        title=title or default_title(transfer, "makeup strength"),
        explanation=explanation,
        cells=_cell_table(names, columns, table),
        generator=transfer.model.description,
    )
    return strip


def write_joint_strips(
    transfer: PhotoTransfer,
    sources: Sequence[Photo],
    controls: MakeupControls,
    out: str | Path,
    *,
    reference: Photo | None = None,
    cell: int = 128,
    title: str | None = None,
) -> Gallery:
    """One row per source: the source, each region's reference (lips, eyes, skin of ``controls``; blank where a
    region has none), and the source wearing them all (partial and joint transfer; ``reference`` for the rest).
    Writes the PNG and ``<out stem>.html`` naming every cell."""
    out = check_output_image(out, "--out")
    controls = transfer.prepare_controls(controls)
    if not controls.region_references:
        raise ValueError("joint transfer needs a reference for at least one region (lips, eyes, skin)")
    blank = np.full((cell, cell, 3), 255, np.uint8)
    base = None if reference is None else transfer.prepare(reference)
    region_cells, region_names = [], []
    for region in ("lips", "eyes", "skin"):
        photo = controls.reference_of(region) or base
        region_cells.append(blank if photo is None else _view(transfer, photo, None, cell))
        region_names.append("(source)" if photo is None else photo.name)
    failures: list[tuple[str, str]] = []
    notes = list(transfer.notes)
    ready = _prepare_all(transfer, sources, failures, notes)
    if not ready:
        raise ValueError("no usable sources: " + "; ".join(f"{name}: {reason}" for name, reason in failures))
    results = transfer.transfer_batch([(source, base) for source in ready], controls)
    rows = [
        [_view(transfer, source, None, cell), *region_cells, _view(transfer, source, image, cell)]
        for source, image in zip(ready, results)
    ]
    columns = ["source", "lips from", "eyes from", "skin from", "result"]
    path = save_image(_strip_image(rows, columns, None), out)
    names = [source.name for source in ready]
    strip = Gallery(path, out.with_suffix(".html"), names, [], failures, notes, columns)
    table = [[name, *region_names, f"{name} wearing them"] for name in names]
    explanation = (
        "One row per source: the source, the reference each region's look comes from, and the source wearing "
        "them all. The regions split the face; their soft borders are a few pixels wide."
    )
    _write_page(
        strip.page,
        path,
        strip,
        title=title or default_title(transfer, "joint transfer"),
        explanation=explanation,
        cells=_cell_table(names, columns, table),
        generator=transfer.model.description,
    )
    return strip


def pixel_blend(start: np.ndarray, end: np.ndarray, t: float) -> np.ndarray:
    """The baseline an interpolation is compared with: ``(1 - t) * start + t * end`` of two result images."""
    blended = (1.0 - t) * start.astype(np.float64) + t * end.astype(np.float64)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def write_interpolation_strip(
    transfer: PhotoTransfer,
    source: Photo,
    start: Photo,
    end: Photo | None,
    out: str | Path,
    *,
    steps: int = 5,
    controls: MakeupControls | None = None,
    cell: int = 128,
    blend_row: bool = True,
    title: str | None = None,
) -> Gallery:
    """``source`` wearing ``steps`` looks from ``start``'s to ``end``'s (``end=None``: from the source's own look to
    ``start``'s), interpolated inside the generator
    (:meth:`~beautygan.inference.photo_transfer.PhotoTransfer.interpolate`), between the source and the references; with
    ``blend_row``, a second row with the pixel blend of the two end results at the same weights, the baseline. Writes
    the PNG and ``<out stem>.html`` naming every cell."""
    out = check_output_image(out, "--out")
    if steps < 2:
        raise ValueError(f"steps must be >= 2 (the two ends), got {steps}")
    weights = [i / (steps - 1) for i in range(steps)]
    source = transfer.prepare(source)
    first = transfer.prepare(start)
    last = None if end is None else transfer.prepare(end)
    results = transfer.interpolate(source, first, last, weights=weights, controls=controls)
    views = [_view(transfer, source, image, cell) for image in results]
    start_name = f"{source.name} (own look)" if last is None else first.name
    end_name = first.name if last is None else last.name
    start_cell = _view(transfer, source, None, cell) if last is None else _view(transfer, first, None, cell)
    end_cell = _view(transfer, first if last is None else last, None, cell)
    columns = ["source", "from", *(f"t={t:.2f}".rstrip("0").rstrip(".") for t in weights), "to"]
    rows = [[_view(transfer, source, None, cell), start_cell, *views, end_cell]]
    row_names = ["generator"]
    table = [
        [
            source.name,
            start_name,
            *(f"{source.name}, code mixed {1 - t:.2f} {start_name} + {t:.2f} {end_name}" for t in weights),
            end_name,
        ]
    ]
    if blend_row:
        blended = [pixel_blend(results[0], results[-1], t) for t in weights]
        rows.append([rows[0][0], start_cell, *(_view(transfer, source, image, cell) for image in blended), end_cell])
        row_names.append("pixel blend")
        table.append(
            [
                source.name,
                start_name,
                *(f"{1 - t:.2f} x result at t=0 + {t:.2f} x result at t=1" for t in weights),
                end_name,
            ]
        )
    path = save_image(_strip_image(rows, columns, row_names), out)
    strip = Gallery(path, out.with_suffix(".html"), row_names, [], [], list(transfer.notes) + source.notes, columns)
    explanation = (
        f"{html.escape(source.name)} wearing looks from {html.escape(start_name)} to {html.escape(end_name)}. "
        "Row 'generator': the makeup codes of the two ends are mixed inside the generator"
        + (
            " (the makeup matrices of both references, each morphed onto the source by the attention, are mixed)"
            if transfer.model.kind == "psgan"
            else ""
        )
        + " and the rest of the network paints each mix. Row 'pixel blend' (the baseline): the two end results "
        "cross-faded."
    )
    _write_page(
        strip.page,
        path,
        strip,
        title=title or default_title(transfer, "look interpolation"),
        explanation=explanation,
        cells=_cell_table(row_names, columns, table),
        generator=transfer.model.description,
    )
    return strip
