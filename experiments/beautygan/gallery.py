"""``beautygan gallery``: sources down, references across, each cell the source wearing that reference's makeup
(BeautyGAN's Figure 1), as one PNG plus an HTML page naming every row and column.

The untouched sources fill the first column and the references the first row. With photos and the ``faces`` extra,
cells are the aligned faces that the generator sees and paints, as :mod:`~beautygan.photo_transfer`
prepares them. Images from an MT-layout folder (``--data-dir``: the held-out lists, or the first images of each
domain) are already aligned faces and are used whole.

    beautygan gallery --ckpt last.ckpt --data-dir data/synthetic_mt --count 4 --out gallery.png
    beautygan gallery --ckpt last.ckpt --sources photos/ --references looks/ --out gallery.png
"""

from __future__ import annotations

import argparse
import html
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import numpy as np
import torch
from PIL import Image

from perceptual.images import check_output_image, save_image
from perceptual.pictures.render import tile_grid

from .metrics import uint8_image
from .photo_transfer import PhotoTransfer, PreparedPhoto, TransferOptions, list_images

__all__ = ["write_gallery"]

_GAP = 2


@dataclass
class Gallery:
    """What :func:`write_gallery` wrote: the grid PNG, the HTML page, the row and column names and failures."""

    image: Path
    page: Path | None
    sources: list[str]
    references: list[str]
    failures: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _cell(image: torch.Tensor | np.ndarray, size: int) -> np.ndarray:
    picture = Image.fromarray(uint8_image(image, (-1.0, 1.0)))  # (3, S, S) tensors in [-1, 1]
    if picture.size != (size, size):
        smaller = picture.size[0] > size
        picture = picture.resize((size, size), Image.LANCZOS if smaller else Image.NEAREST)
    return np.asarray(picture)


def gallery_grid(
    sources: Sequence[torch.Tensor], references: Sequence[torch.Tensor], made_up: Sequence[Sequence[torch.Tensor]], *, cell: int
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


def mt_layout_images(data_dir: str | Path, count: int) -> tuple[list[Path], list[Path]]:
    """Up to ``count`` non-makeup and makeup images of an MT-layout folder: the held-out lists when there are any,
    else the first training images."""
    from .data import list_domain

    root = Path(data_dir)
    chosen = []
    for domain in ("non-makeup", "makeup"):
        names = list_domain(root, domain, "test") or list_domain(root, domain, "train")
        if not names:
            raise FileNotFoundError(f"{root} has no {domain} images (expected images/{domain}/ and optional lists)")
        chosen.append([root / "images" / domain / name for name in names[:count]])
    return chosen[0], chosen[1]


def _write_page(page: Path, image: Path, gallery: Gallery, *, title: str) -> None:
    from perceptual.files import atomic_path

    cols = "".join(f"<li>{html.escape(name)}</li>" for name in gallery.references)
    rows = "".join(f"<li>{html.escape(name)}</li>" for name in gallery.sources)
    notes = "".join(f'<p class="meta">note: {html.escape(note)}</p>' for note in dict.fromkeys(gallery.notes))
    failures = "".join(f"<li>{html.escape(name)}: {html.escape(reason)}</li>" for name, reason in gallery.failures)
    text = "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:1.5em;background:#fafafa}img{max-width:100%;border:1px solid #ccc}"
        ".meta{color:#555}.lists{display:flex;gap:3em}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<p>First column: the sources, untouched. First row: the references. Cell (row i, column j): source i wearing "
        "reference j's makeup.</p>",
        notes,
        f'<a href="{quote(image.name)}"><img src="{quote(image.name)}" alt="makeup transfer gallery"></a>',
        f'<div class="lists"><div><h2>Rows (sources)</h2><ol>{rows}</ol></div>'
        f"<div><h2>Columns (references)</h2><ol>{cols}</ol></div></div>",
        f"<h2>Left out</h2><ul>{failures}</ul>" if failures else "",
        "</body></html>",
    ])  # fmt: skip
    with atomic_path(page) as temporary:
        temporary.write_text(text + "\n", encoding="utf-8")


def write_gallery(
    transfer: PhotoTransfer,
    sources: Sequence[Path],
    references: Sequence[Path],
    out: str | Path,
    *,
    cell: int = 128,
    page: bool = True,
    title: str = "BeautyGAN makeup transfer",
) -> Gallery:
    """Prepare every photo once, run every (source, reference) pair in batches, and write the grid PNG (and
    ``<out stem>.html``). A photo that cannot be used (unreadable, no face) is left out and listed."""
    out = check_output_image(out, "--out")
    if cell < 16:
        raise ValueError(f"cell must be >= 16 pixels, got {cell}")
    failures: list[tuple[str, str]] = []
    notes = list(transfer.notes)

    def prepare_all(paths: Sequence[Path]) -> list[PreparedPhoto]:
        ready = []
        for path in paths:
            try:
                photo = transfer.prepare(path)
            except (ValueError, OSError) as err:
                failures.append((Path(path).name, str(err)))
                continue
            notes.extend(photo.notes)
            ready.append(photo)
        return ready

    rows, cols = prepare_all(sources), prepare_all(references)
    if not rows or not cols:
        listed = "; ".join(f"{name}: {reason}" for name, reason in failures)
        raise ValueError(f"no usable {'sources' if not rows else 'references'} for the gallery ({listed or 'none given'})")
    crops = transfer.made_up_crops([(s, r) for s in rows for r in cols])
    made_up = [crops[i * len(cols) : (i + 1) * len(cols)] for i in range(len(rows))]
    grid = gallery_grid([s.crop for s in rows], [r.crop for r in cols], made_up, cell=cell)
    path = save_image(torch.from_numpy(grid).permute(2, 0, 1), out)
    gallery = Gallery(path, None, [s.name for s in rows], [r.name for r in cols], failures, notes)
    if page:
        gallery.page = out.with_suffix(".html")
        _write_page(gallery.page, path, gallery, title=title)
    return gallery


def mt_layout_gallery(
    ckpt: str | Path, data_dir: str | Path, out: str | Path, *, count: int = 4, cell: int = 128, device: str = "cpu"
) -> Gallery:
    """The gallery of ``count`` sources x ``count`` references of an MT-layout folder (:func:`mt_layout_images`);
    its images are aligned faces already and are used whole."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    sources, references = mt_layout_images(data_dir, count)
    transfer = PhotoTransfer(ckpt, TransferOptions(align=False, device=device))
    transfer.notes = [f"MT-layout images from {data_dir}: aligned faces, used whole at {transfer.size}x{transfer.size}"]
    return write_gallery(transfer, sources, references, out, cell=cell)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="beautygan gallery",
        description="Sources x references grid of made-up faces (PNG + HTML page).",
    )
    parser.add_argument("--ckpt", required=True, type=Path, help="checkpoint written by `beautygan fit`")
    parser.add_argument("--out", required=True, type=Path, help="grid image (.png); the page is written beside it (.html)")
    parser.add_argument("--sources", nargs="+", type=Path, default=None, help="photos without makeup (files or folders)")
    parser.add_argument("--references", nargs="+", type=Path, default=None, help="photos with makeup (files or folders)")
    parser.add_argument("--data-dir", type=Path, default=None, help="an MT-layout folder instead of photos (aligned faces, used whole)")
    parser.add_argument("--count", type=int, default=4, help="with --data-dir: sources and references to take (default 4)")
    parser.add_argument("--cell", type=int, default=128, help="cell size in pixels (default 128)")
    parser.add_argument("--no-align", action="store_true", help="photos: no face detection, whole images")
    parser.add_argument("--no-page", action="store_true", help="do not write the HTML page")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    from .checkpoints import CheckpointError

    try:
        if args.data_dir is not None:
            if args.sources or args.references:
                raise ValueError("give either --data-dir or --sources/--references, not both")
            if args.no_page:
                raise ValueError("--no-page is for photos; an MT-layout gallery always gets its page")
            gallery = mt_layout_gallery(args.ckpt, args.data_dir, args.out, count=args.count, cell=args.cell, device=args.device)
        else:
            if not args.sources or not args.references:
                raise ValueError("give --sources and --references (photos or folders), or --data-dir")
            sources = [p for item in args.sources for p in list_images(item)]
            references = [p for item in args.references for p in list_images(item)]
            transfer = PhotoTransfer(args.ckpt, TransferOptions(align=not args.no_align, device=args.device))
            gallery = write_gallery(transfer, sources, references, args.out, cell=args.cell, page=not args.no_page)
    except (ValueError, FileNotFoundError, CheckpointError, RuntimeError) as err:
        print(f"beautygan gallery: error: {err}", file=sys.stderr)
        return 2
    for note in dict.fromkeys(gallery.notes):
        print(f"note: {note}")
    for name, reason in gallery.failures:
        print(f"left out {name}: {reason}")
    print(f"wrote {gallery.image} ({len(gallery.sources)} sources x {len(gallery.references)} references)"
          + (f" and {gallery.page}" if gallery.page else ""))  # fmt: skip
    return 1 if gallery.failures else 0


if __name__ == "__main__":
    sys.exit(main())
