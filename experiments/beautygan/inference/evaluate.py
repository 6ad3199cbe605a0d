"""Numbers for a makeup transfer: identity kept, makeup colours moved, background left alone.

BeautyGAN (Li et al., ACM MM 2018) claims that its VGG perceptual loss keeps the source's identity; the official
code (wtjiang98/BeautyGAN_pytorch) never measures it. This module does, per (source, reference, result) triple:

- ``face_distance``: Euclidean distance between dlib's 128-D face descriptors (the face-recognition ResNet of
  dlib, 99.38% on LFW) of the source and the result; lower is better, and dlib's documented same-person threshold is
  0.6, so the summary reports the share of results under it. Needs the ``faces`` extra; NaN without it.
- per region (lips, eye shadow, skin; masks of :mod:`beautygan.data.regions`, the result taking the source's
  label map): ``<region>_delta_e``, the CIE76 distance between the region's mean CIELAB colour in the result and in
  the reference, and ``<region>_emd``, the earth mover's distance between the 1-D 256-bin histograms of the two
  regions (0-255 levels, averaged over R, G, B: the quantity the histogram-matching makeup loss drives down). Each
  has a ``_before`` twin measured on the untouched source: the transfer worked where the value fell.
- ``background_l1``: mean absolute change (0-255 levels) between source and result over pixels labelled background
  or hair, which no loss asks to change.

The measures themselves (:func:`~beautygan.data.metrics.transfer_metrics`, the batched tensor core, and
:class:`~beautygan.data.metrics.TransferMetrics`, its validation-epoch accumulator) are in
:mod:`beautygan.data.metrics`, beside the regions, below training and inference which both use them; here
:func:`evaluate_pairs` works on files (optionally generating the results from a checkpoint); the
``beautygan evaluate`` command is :mod:`beautygan.cli.evaluate`.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from perceptual.files import atomic_path
from perceptual.images import ImageLoadError, from_unit_range, load_image, save_image, to_unit_range, uint8_image

from ..data.faces import NoFaceError
from ..data.metrics import SAME_PERSON_THRESHOLD, face_distance, face_models, transfer_metrics
from ..data.mt import mt_labels_path, read_labels, read_pairs_file
from ..models.psgan import FaceGeometry
from .photo_geometry import detected_landmarks, drawn_geometry, geometry_of, stored_landmarks
from .trained_generator import TrainedGenerator

__all__ = ["evaluate_pairs"]


# ------------------------------------------------------------------------------------------------ file level
@dataclass(frozen=True)
class EvalPair:
    """One evaluation item. ``result`` is generated from the checkpoint when ``None``. Label maps default to the MT
    layout's ``segs/`` twin of an ``images/`` path, else to landmarks (``faces`` extra), else none (colour NaN)."""

    source: Path
    reference: Path
    result: Path | None = None
    source_labels: Path | None = None
    reference_labels: Path | None = None


def _labels_for(image: Tensor, explicit: Path | None, path: Path, models: Any) -> tuple[Tensor, str, list | None]:
    """Label map of ``image`` (``(3, S, S)`` in [0, 1]), where it came from, and the detections if any were made."""
    size = image.shape[-1]
    found = explicit or mt_labels_path(path)
    if found is not None:
        return read_labels(found, size=size), "mt", None
    if models is not None:
        from ..data.faces import label_map_from_landmarks

        faces = models.detect(uint8_image(image, (0.0, 1.0)))
        if faces:
            labels = torch.from_numpy(label_map_from_landmarks(faces[0].landmarks, size).astype(np.int64))
            return labels, "landmarks", faces
        return torch.zeros(size, size, dtype=torch.int64), "none", faces
    return torch.zeros(size, size, dtype=torch.int64), "none", None


def _geometry_models(path: Path) -> Any:
    """dlib's face models, to find the landmarks of ``path`` (which has none stored) for the PSGAN-style generator."""
    from ..data.faces import FaceModels, FacesUnavailableError

    try:
        return FaceModels()
    except FacesUnavailableError as err:
        raise ValueError(
            f"the PSGAN-style generator needs the face's 68 landmarks: {path} has no landmark file beside it and dlib "
            f"is unavailable ({err})"
        ) from None


def evaluate_pairs(
    pairs: Sequence[EvalPair],
    *,
    generator: TrainedGenerator | None = None,
    image_size: int | None = None,
    faces: bool | Literal["auto"] = "auto",
    models: Any = None,
    results_dir: str | Path | None = None,
    batch_size: int = 8,
    progress: bool = False,
    failures: list[tuple[EvalPair, str]] | None = None,
) -> list[dict[str, Any]]:
    """Measure every pair (see the module docstring); one dict per pair, file names included.

    Images are resized to ``image_size`` (default: the result's size, or 256). Pairs without a ``result`` are run
    through ``generator`` (a :class:`~beautygan.inference.trained_generator.TrainedGenerator`, on its device); those
    results are written to ``results_dir`` when given. A generator that needs face geometries (the PSGAN-style one)
    gets each image's from its label map and its landmarks: stored beside an MT-layout image, else found by dlib
    (:mod:`beautygan.inference.photo_geometry`); an image without either raises
    :class:`~beautygan.data.faces.NoFaceError` naming it, or, with a ``failures`` list, is listed there.

    A pair whose image cannot be read raises :class:`~perceptual.images.ImageLoadError`, or, when a ``failures`` list
    is given, is appended to it as ``(pair, message)`` and skipped, so one bad file does not lose the other pairs."""
    pairs = list(pairs)
    if generator is None and any(p.result is None for p in pairs):
        missing = next(p for p in pairs if p.result is None)
        raise ValueError(f"pair ({missing.source}, {missing.reference}) has no result image and no generator was given")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if models is None:
        models = face_models(faces)
    elif faces is False:
        models = None
    if image_size is None and pairs:
        first = next((p.result for p in pairs if p.result is not None), None)
        if first is not None:
            with Image.open(first) as opened:
                image_size = opened.size[0]
    size = int(image_size or 256)
    rows: list[dict[str, Any]] = []
    chunks = range(0, len(pairs), batch_size)
    if progress:
        from tqdm import tqdm

        chunks = tqdm(chunks, desc="evaluate", unit="batch")
    cache: dict[tuple[str, str], tuple[Tensor, str, list | None]] = {}  # a face used in several pairs is parsed once

    def labels_for(image: Tensor, explicit: Path | None, path: Path) -> tuple[Tensor, str, list | None]:
        key = (str(path), str(explicit))
        if key not in cache:
            cache[key] = _labels_for(image, explicit, Path(path), models)
        return cache[key]

    geometries: dict[tuple[str, str], FaceGeometry] = {}
    landmark_models = [models]

    def geometry_for(image: Tensor, explicit: Path | None, path: Path) -> FaceGeometry:
        key = (str(path), str(explicit))
        if key not in geometries:
            labels, found, faces = labels_for(image, explicit, path)
            points = stored_landmarks(path, size=(size, size))
            if points is None and faces is not None:  # dlib already ran on this image for its label map
                if not faces:
                    raise NoFaceError(f"{path}: no face found and no landmark file beside it")
                points = faces[0].landmarks
            if points is None:
                if landmark_models[0] is None:
                    landmark_models[0] = _geometry_models(path)
                pixels = uint8_image(image, (0.0, 1.0))
                points = detected_landmarks(landmark_models[0], pixels, size=(size, size), name=str(path))
            if found == "none":
                geometries[key] = drawn_geometry(points, size)[1]
            else:
                geometries[key] = geometry_of(labels, points)
        return geometries[key]

    for start in chunks:
        chunk, numbers, loaded, shapes_of = [], [], [], []
        for number, pair in enumerate(pairs[start : start + batch_size], start):
            try:
                images = [
                    load_image(path, (size, size))[0]
                    for path in (pair.source, pair.reference, pair.result)
                    if path is not None
                ]
                shapes = None
                if pair.result is None and generator is not None and generator.needs_geometry:
                    shapes = (
                        geometry_for(images[0], pair.source_labels, pair.source),
                        geometry_for(images[1], pair.reference_labels, pair.reference),
                    )
            except (ImageLoadError, NoFaceError) as err:
                if failures is None:
                    raise
                failures.append((pair, str(err)))  # this pair is skipped; the others are measured
                continue
            chunk.append(pair)
            numbers.append(number)
            loaded.append(images)
            shapes_of.append(shapes)
        if not chunk:
            continue
        sources = torch.stack([images[0] for images in loaded])
        references = torch.stack([images[1] for images in loaded])
        src_labels, src_from, src_faces = zip(
            *(labels_for(s, p.source_labels, p.source) for s, p in zip(sources, chunk))
        )
        ref_labels, _, _ = zip(*(labels_for(r, p.reference_labels, p.reference) for r, p in zip(references, chunk)))
        results = torch.empty_like(sources)
        todo = [i for i, p in enumerate(chunk) if p.result is None]
        for i, p in enumerate(chunk):
            if p.result is not None:
                results[i] = loaded[i][2]
        if todo:
            assert generator is not None  # checked above for every pair without a result
            geometries: list[FaceGeometry | None] = [None, None]
            if generator.needs_geometry:
                geometries = [FaceGeometry.cat([shapes_of[i][side] for i in todo]) for side in (0, 1)]
            made_up = generator.translate(
                *(from_unit_range(x[todo], (-1, 1)) for x in (sources, references)), *geometries
            ).makeup
            results[todo] = to_unit_range(made_up, (-1, 1))
        metrics = transfer_metrics(
            sources, references, results, torch.stack(src_labels), torch.stack(ref_labels), input_range=(0.0, 1.0)
        )
        for i, pair in enumerate(chunk):
            result_path = pair.result
            if result_path is None and results_dir is not None:
                name = f"{numbers[i]:05d}_{Path(pair.source).stem}__{Path(pair.reference).stem}.png"
                result_path = save_image(results[i], Path(results_dir) / name)
            row: dict[str, Any] = {
                "source": str(pair.source),
                "reference": str(pair.reference),
                "result": "" if result_path is None else str(result_path),
                "labels": src_from[i],
            }
            row.update({name: float(values[i]) for name, values in metrics.items()})
            if models is not None:
                row.update(
                    face_distance(
                        sources[i],
                        results[i],
                        models=models,
                        source_labels=src_labels[i],
                        input_range=(0.0, 1.0),
                        source_faces=src_faces[i],
                    )
                )
            rows.append(row)
    return rows


def summarize(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Means of every numeric column over the rows where it is finite (with counts), and the share of face
    distances under :data:`SAME_PERSON_THRESHOLD`."""
    rows = list(rows)
    numeric = [
        k for k in (rows[0] if rows else {}) if isinstance(rows[0][k], float) and not isinstance(rows[0][k], bool)
    ]
    summary: dict[str, Any] = {"pairs": len(rows), "mean": {}, "count": {}}
    for key in numeric:
        values = [float(r[key]) for r in rows if isinstance(r.get(key), float) and math.isfinite(r[key])]
        summary["count"][key] = len(values)
        summary["mean"][key] = sum(values) / len(values) if values else None
    distances = [float(r["face_distance"]) for r in rows if math.isfinite(r.get("face_distance", math.nan))]
    if distances:
        summary[f"same_person_share_under_{SAME_PERSON_THRESHOLD}"] = sum(
            d < SAME_PERSON_THRESHOLD for d in distances
        ) / len(distances)
    return summary


def write_table(
    rows: Sequence[Mapping[str, Any]], summary: Mapping[str, Any], out_dir: str | Path
) -> tuple[Path, Path]:
    """Write ``metrics.csv`` (one row per pair) and ``summary.json`` (rows included) to ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = out_dir / "metrics.csv", out_dir / "summary.json"
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with atomic_path(csv_path) as partial, partial.open("w", newline="") as handle:  # whole or not at all
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)

    def clean(value: Any) -> Any:
        return None if isinstance(value, float) and not math.isfinite(value) else value

    payload = {"summary": summary, "rows": [{k: clean(v) for k, v in row.items()} for row in rows]}
    with atomic_path(json_path) as partial:
        partial.write_text(json.dumps(payload, indent=2))
    return csv_path, json_path


def format_summary(summary: Mapping[str, Any]) -> str:
    """A small text table of the summary: metric, mean, count."""
    lines = [f"{summary['pairs']} pairs"]
    share = summary.get(f"same_person_share_under_{SAME_PERSON_THRESHOLD}")
    for key, mean in summary["mean"].items():
        shown = "n/a" if mean is None else f"{mean:9.3f}"
        lines.append(f"  {key:<26} {shown}   (n={summary['count'][key]})")
    if share is not None:
        lines.append(f"  {f'same person (< {SAME_PERSON_THRESHOLD})':<26} {share:9.3f}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ pair lists
def read_eval_pairs(path: Path) -> list[EvalPair]:
    """The pairs of a text file of ``SOURCE REFERENCE [RESULT]`` lines (paths relative to the file); every file must
    exist."""
    pairs = []
    for _, fields in read_pairs_file(path, form="SOURCE REFERENCE [RESULT]", fields=(2, 3)):
        resolved = [p if Path(p).is_absolute() else path.parent / p for p in fields]
        pairs.append(EvalPair(Path(resolved[0]), Path(resolved[1]), Path(resolved[2]) if len(resolved) == 3 else None))
    missing = [
        str(p)
        for pair in pairs
        for p in (pair.source, pair.reference, pair.result)
        if p is not None and not p.is_file()
    ]
    if missing:
        raise ValueError(f"{len(missing)} file(s) named in {path} do not exist:\n  " + "\n  ".join(missing))
    return pairs


def dataset_pairs(root: Path, n: int, seed: int) -> list[EvalPair]:
    """``n`` pairs of an MT-layout folder: its held-out lists if present, else the train lists; each source in
    order, references in a random order drawn with ``seed``; label maps from ``segs/``."""
    from ..data.mt import list_domain

    def names(domain: str) -> tuple[list[str], str]:
        held_out = list_domain(root, domain, "test")
        return (held_out, "test") if held_out else (list_domain(root, domain, "train"), "train")

    sources, _ = names("non-makeup")
    references, _ = names("makeup")
    if not sources or not references:
        raise ValueError(f"{root} has no non-makeup or no makeup images (expected the MT layout)")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(references), generator=generator).tolist()
    return [
        EvalPair(
            root / "images" / "non-makeup" / sources[i % len(sources)],
            root / "images" / "makeup" / references[order[i % len(order)]],
            source_labels=root / "segs" / "non-makeup" / sources[i % len(sources)],
            reference_labels=root / "segs" / "makeup" / references[order[i % len(order)]],
        )
        for i in range(n)
    ]
