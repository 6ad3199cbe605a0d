"""Does the makeup follow the face when the reference is posed away from the source? BeautyGAN's generator against the
PSGAN-style one (Jiang et al., "PSGAN: Pose and Expression Robust Spatial-Aware GAN for Customizable Makeup
Transfer", CVPR 2020), trained alike and measured on the same held-out pairs.

    python benchmarks/pose_robustness.py [--work DIR] [--epochs N] [--train-pose P] [-- extra beautygan fit args]
    python benchmarks/pose_robustness.py --beautygan CKPT --psgan CKPT      # measure trained checkpoints
    python benchmarks/pose_robustness.py --quick                              # tiny sizes, 1 epoch: a smoke run

**Training.** One posed synthetic MT-layout set (``write_synthetic_mt(..., pose=P)``), then ``beautygan fit`` twice
(LightningCLI, one process each, on the CPU): ``configs/pose_benchmark_beautygan.yaml`` and
``configs/pose_benchmark_psgan.yaml``, which differ by the generator only (same preset, loss weights, data, epochs,
seed, lr, widths and residual blocks; PSGAN's MDNet blocks have no BeautyGAN counterpart). Arguments after ``--``
go to both fits. Each fit's wall time is printed.

**Held-out pairs** (faces the training never saw: drawn from ``--test-seed``): each pair is a bare source, frontal,
and a made-up reference drawn once (:class:`~beautygan.data.synthetic.FaceParams`) and rendered at growing offsets
of one kind, with the same pixel noise at every offset, so that only the pose changes:

- ``yaw``: the turn of the head, 0 to :data:`~beautygan.data.synthetic_pose.YAW_MAX` degrees;
- ``roll``: in-plane rotation, 0 to :data:`~beautygan.data.synthetic_pose.ROLL_MAX` degrees, transferred without
  alignment (``--no-align``, the whole image; the synthetic faces are whole-image inputs at every offset anyway);
- ``mouth``: an open mouth, ``mouth_open`` 0 to 1.

Turns and rolls alternate in sign from pair to pair. Offset 0 is the same frontal pair for the three kinds. The
script writes them as an MT-layout folder (``images/``, ``segs/``, ``landmarks/``) and runs each checkpoint through
:class:`~beautygan.inference.photo_transfer.PhotoTransfer` with ``TransferOptions(align=False)``: the path of
``beautygan transfer --no-align``, where the PSGAN-style generator's face geometry comes from the label map and the
landmark file beside each image, as it does for any MT-layout input.

**Figures**, per generator and offset, over the pairs:

- ``lips``, ``eye_shadow``, ``skin``: the region's colour distance to the reference (mean RGB, 0-255;
  :func:`~beautygan.data.metrics.transfer_metrics`' ``<region>_rgb_distance``) as a share of the untouched source's,
  a ratio of means over the pairs, as the demo's table gives it (1: nothing moved; lower is closer);
- ``background_hair``: mean absolute change of the source's background and hair pixels (0-255, ``background_l1``);
- ``lips_inside``: where the lip colour landed (:func:`lip_colour_change`): of the lip-coloured change the result
  made around the source's mouth, the share inside the source's lip mask (pooled over the pairs). Lipstick painted
  off the lips is the colour bleeding users of these tools report. ``lips_inside_1px``: the same share inside the
  lips or one pixel from them (how much of what lands outside is a fringe along their edge).

An ``ideal`` row gives the figures of a perfect transfer: each source's own face drawn with its reference's makeup.

**Output** (``--out``, default ``experiments/beautygan/assets``): the table in Markdown (printed, and written to
``--table``), ``pose_robustness.png`` (the region shares and ``lips_inside`` against the offset, a panel per kind),
``pose_strip_<generator>.png`` (per kind, for the first pairs: the source, the reference at each offset and the
result at each offset), ``--json`` every figure.

**Quick mode** (``--quick``): 32 px, networks 8 wide, 1 epoch of 2 batches, 2 pairs, offsets 0 and the widest; its
figures mean nothing (``tests/test_pose_robustness.py`` runs it).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _results import write_json  # noqa: E402

from beautygan.data.landmarks import write_landmarks  # noqa: E402
from beautygan.data.metrics import transfer_metrics  # noqa: E402
from beautygan.data.regions import FaceRegion  # noqa: E402
from beautygan.data.synthetic import FaceParams, render, write_synthetic_mt  # noqa: E402
from beautygan.data.synthetic_pose import ROLL_MAX, YAW_MAX, Pose  # noqa: E402
from beautygan.labelled_grid import labelled_grid  # noqa: E402

GENERATORS = ("beautygan", "psgan")
NAMES = {"beautygan": "BeautyGAN", "psgan": "PSGAN-style", "ideal": "ideal"}
KINDS = ("yaw", "roll", "mouth")
WIDEST = {"yaw": YAW_MAX, "roll": ROLL_MAX, "mouth": 1.0}
CONFIGS = {name: ROOT / "configs" / f"pose_benchmark_{name}.yaml" for name in GENERATORS}
CLI = "import sys; from beautygan.cli import main; sys.exit(main(sys.argv[1:]))"
LIP_FLOOR = 0.25
"""Share of the lip colour difference below which a pixel's move along it is not lip colour
(:func:`lip_colour_change`)."""
LIPS = (int(FaceRegion.UPPER_LIP), int(FaceRegion.LOWER_LIP))
TARGETS = {"lips_widest": 0.6, "lips_growth": 1.25, "lips_inside": 0.9, "offset0_margin": 1.10}
"""The PSGAN-style generator's targets: at the widest offset of each kind, lips share at most 0.6 and within 1.25x
of its offset-0 figure, and at least 90% of the lip-coloured change inside the source's lips; at offset 0, its lips
and skin shares at most 1.10x BeautyGAN's."""
QUICK_FIT = [
    "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "0",
    "--data.image_size", "32", "--model.generator_width", "8", "--model.discriminator_width", "8",
    "--model.residual_blocks", "2", "--model.lr_decay_epochs", "0",
]  # fmt: skip


# ------------------------------------------------------------------------------------------------ the metrics
def lip_colour_change(
    source: Tensor,
    reference: Tensor,
    result: Tensor,
    source_labels: Tensor,
    reference_labels: Tensor,
    *,
    border: int = 0,
) -> tuple[Tensor, Tensor]:
    """Where the lip colour landed: per pair, the lip-coloured change inside the source's lips and around its mouth.

    Images ``(N, 3, H, W)`` in [0, 1], label maps ``(N, H, W)`` (MT ids). For each pair, in 0-255 RGB units:

    - ``d``: the reference's mean lip colour minus the source's (over their upper and lower lip labels),
      ``u = d / |d|``;
    - the mouth's surroundings ``B``: the bounding box of the source's lips, widened on every side by the box's own
      width (left and right) and height (top and bottom), clipped to the image: where lipstick painted off the lips
      lands (the reference's lips, wherever a turn, a roll or an open mouth puts them, lie inside it), and where no
      other makeup is (the eye shadow is far above; the blush's edge at most reaches it);
    - ``Δ = result - source`` per pixel, and ``m``, the per-channel median of ``Δ`` over ``B`` outside the lips: the
      surroundings' own shift (a skin-tone transfer moves the whole face alike, and is not lip colour);
    - the **lip-coloured change** of pixel ``p``: ``max(0, <Δ(p) - m, u> - LIP_FLOOR * |d|)``, how far the pixel moved
      along the lip colour's direction beyond a quarter of the lip colour difference (a lipstick-strength move, not
      the shading of a blush or a skin tone).

    Returns ``(inside, total)``, ``(N,)`` float64: the lip-coloured change summed over the source's lips (with
    ``border``, the lips and every pixel within ``border`` pixels of them, the 8 neighbours being 1 pixel away) and
    over ``B``. ``inside / total`` is the share inside the lips: 1 when the lip colour lands on the source's lips only,
    0 when it lands beside them. ``total`` is 0 (share undefined) when nothing moved toward the lip colour; both are
    NaN when either face has no lips."""
    for name, images in (("source", source), ("reference", reference), ("result", result)):
        if not isinstance(images, Tensor) or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"{name} must be an (N, 3, H, W) tensor, got {getattr(images, 'shape', type(images))}")
    if not source.shape == reference.shape == result.shape:
        raise ValueError(
            f"source, reference and result shapes differ: {source.shape}, {reference.shape}, {result.shape}"
        )
    n, _, height, width = source.shape
    for name, labels in (("source_labels", source_labels), ("reference_labels", reference_labels)):
        if not isinstance(labels, Tensor) or tuple(labels.shape) != (n, height, width):
            raise ValueError(f"{name} must be ({n}, {height}, {width}), got {getattr(labels, 'shape', type(labels))}")
    src, ref, out = (x.double() * 255 for x in (source, reference, result))
    inside, total = torch.full((n,), math.nan, dtype=torch.float64), torch.full((n,), math.nan, dtype=torch.float64)
    for i in range(n):
        lips = torch.isin(source_labels[i], torch.tensor(LIPS))
        ref_lips = torch.isin(reference_labels[i], torch.tensor(LIPS))
        if not lips.any() or not ref_lips.any():
            continue
        d = ref[i][:, ref_lips].mean(1) - src[i][:, lips].mean(1)
        norm = torch.linalg.vector_norm(d)
        if norm == 0:
            continue
        rows, cols = torch.nonzero(lips.any(1)).flatten(), torch.nonzero(lips.any(0)).flatten()
        top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        tall, wide = bottom - top, right - left
        box = torch.zeros_like(lips)
        box[max(0, top - tall) : bottom + tall, max(0, left - wide) : right + wide] = True
        delta = out[i] - src[i]
        around = box & ~lips
        shift = delta[:, around].median(dim=1).values if around.any() else torch.zeros(3, dtype=torch.float64)
        along = torch.einsum("chw,c->hw", delta - shift[:, None, None], d / norm)
        coloured = (along - LIP_FLOOR * norm).clamp_min(0)
        near = lips
        if border:
            near = F.max_pool2d(lips[None, None].float(), 2 * border + 1, stride=1, padding=border)[0, 0] > 0
        inside[i], total[i] = coloured[near & box].sum(), coloured[box].sum()
    return inside, total


def pair_figures(
    source: Tensor, reference: Tensor, result: Tensor, source_labels: Tensor, reference_labels: Tensor
) -> dict[str, float]:
    """The figures of one offset over its pairs (images ``(N, 3, H, W)`` in [0, 1], label maps ``(N, H, W)``): the
    ``lips``, ``eye_shadow`` and ``skin`` shares (ratio of the means over the pairs of
    :func:`~beautygan.data.metrics.transfer_metrics`' ``<region>_rgb_distance`` and ``..._before``), the mean
    ``background_hair`` change and ``lips_inside`` (:func:`lip_colour_change`, pooled over the pairs)."""
    metrics = transfer_metrics(source, reference, result, source_labels, reference_labels, input_range=(0.0, 1.0))
    figures = {}
    for region in ("lips", "eye_shadow", "skin"):
        after, before = metrics[f"{region}_rgb_distance"], metrics[f"{region}_rgb_distance_before"]
        finite = torch.isfinite(after) & torch.isfinite(before)
        figures[region] = float(after[finite].mean() / before[finite].mean()) if finite.any() else math.nan
    figures["background_hair"] = float(metrics["background_l1"].nanmean())
    for name, border in (("lips_inside", 0), ("lips_inside_1px", 1)):
        inside, total = lip_colour_change(source, reference, result, source_labels, reference_labels, border=border)
        finite = torch.isfinite(inside) & torch.isfinite(total)
        pooled = float(total[finite].sum())
        figures[name] = float(inside[finite].sum()) / pooled if pooled > 0 else math.nan
    return figures


# ------------------------------------------------------------------------------------------------ the pairs
def offsets(kind: str, steps: int) -> list[float]:
    """``steps`` offsets of ``kind`` from 0 to the widest, evenly spaced."""
    return [float(v) for v in np.linspace(0.0, WIDEST[kind], steps)]


def pose_of(kind: str, value: float, sign: int) -> Pose:
    """The reference's pose at offset ``value`` of ``kind`` (turns and rolls take ``sign``)."""
    if kind == "yaw":
        return Pose(yaw=sign * value)
    if kind == "roll":
        return Pose(roll=sign * value)
    if kind == "mouth":
        return Pose(mouth_open=value)
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def offset_name(kind: str, value: float) -> str:
    return f"{kind} {value:g}" if kind == "mouth" else f"{kind} {value:.0f}"


@dataclass
class Face:
    """A rendered test face and where it was written."""

    image: np.ndarray
    labels: np.ndarray
    path: Path


@dataclass
class TestPairs:
    """The held-out pairs: ``sources[i]`` frontal; ``references[kind][k][i]`` at offset ``values[kind][k]``;
    ``ideal[i]``: source ``i``'s own face drawn with reference ``i``'s makeup (a perfect transfer)."""

    sources: list[Face]
    references: dict[str, list[list[Face]]]
    values: dict[str, list[float]]
    ideal: list[Face]


def _write_face(root: Path, domain: str, name: str, face, *, write: bool = True) -> Face:
    buffer = io.BytesIO()
    Image.fromarray(face.image).save(buffer, format="PNG")
    path = root / "images" / domain / name
    if write:
        path.write_bytes(buffer.getvalue())
        Image.fromarray(face.labels, mode="L").save(root / "segs" / domain / name)
        write_landmarks(
            root / "landmarks" / domain / f"{name}.json", buffer.getvalue(), face.landmarks, source="synthetic"
        )
    return Face(face.image, face.labels.astype(np.int64), path)


def write_test_pairs(root: str | Path, *, pairs: int, size: int, steps: int, seed: int) -> TestPairs:
    """Draw ``pairs`` held-out pairs from ``seed`` and write them under ``root`` in the MT layout (images, label maps,
    landmark files); reference ``i`` at offset ``k`` of ``kind`` is ``makeup/<kind>_<k>_<i>.png`` (offset 0 once,
    ``makeup/frontal_<i>.png``)."""
    root = Path(root)
    for folder in ("images", "segs", "landmarks"):
        for domain in ("makeup", "non-makeup"):
            (root / folder / domain).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    values = {kind: offsets(kind, steps) for kind in KINDS}
    sources, ideal = [], []
    references: dict[str, list[list[Face]]] = {kind: [[] for _ in range(steps)] for kind in KINDS}
    for i in range(pairs):
        bare, made_up = FaceParams.draw(rng, makeup=False), FaceParams.draw(rng, makeup=True)
        noise = np.random.SeedSequence([seed, i]).spawn(2)
        sources.append(
            _write_face(
                root,
                "non-makeup",
                f"source_{i:03d}.png",
                render(bare, size=size, noise=np.random.default_rng(noise[0])),
            )
        )
        wearing = dataclasses.replace(bare, makeup=made_up.makeup)
        ideal.append(
            _write_face(
                root,
                "makeup",
                f"ideal_{i:03d}.png",
                render(wearing, size=size, noise=np.random.default_rng(noise[0])),
                write=False,
            )
        )
        frontal = _write_face(
            root, "makeup", f"frontal_{i:03d}.png", render(made_up, size=size, noise=np.random.default_rng(noise[1]))
        )
        sign = 1 if i % 2 == 0 else -1
        for kind in KINDS:
            references[kind][0].append(frontal)
            for k, value in enumerate(values[kind][1:], start=1):
                face = render(
                    made_up, size=size, pose=pose_of(kind, value, sign), noise=np.random.default_rng(noise[1])
                )
                references[kind][k].append(_write_face(root, "makeup", f"{kind}_{k}_{i:03d}.png", face))
    return TestPairs(sources, references, values, ideal)


# ------------------------------------------------------------------------------------------------ running them
def _batch(faces: Sequence[Face]) -> tuple[Tensor, Tensor]:
    images = torch.from_numpy(np.stack([f.image for f in faces])).permute(0, 3, 1, 2).double() / 255
    return images, torch.from_numpy(np.stack([f.labels for f in faces]))


def _results_tensor(results: Sequence[np.ndarray]) -> Tensor:
    return torch.from_numpy(np.stack(results)).permute(0, 3, 1, 2).double() / 255


def evaluate(ckpt: str | Path, pairs: TestPairs) -> tuple[dict[str, dict[float, dict[str, float]]], dict]:
    """Run a checkpoint on every pair at every offset through ``PhotoTransfer`` (``align=False``): the figures
    ``{kind: {offset: {figure: value}}}`` and the results ``{(kind, k): [uint8 (S, S, 3)]}``."""
    from beautygan.inference.photo_transfer import PhotoTransfer, TransferOptions

    transfer = PhotoTransfer(ckpt, TransferOptions(align=False, batch_size=16))
    size = pairs.sources[0].image.shape[0]
    if transfer.size != size:
        raise ValueError(f"{ckpt} was trained at {transfer.size} px; the test pairs are {size} px")
    sources = [transfer.prepare(face.path) for face in pairs.sources]
    source_images, source_labels = _batch(pairs.sources)
    figures: dict[str, dict[float, dict[str, float]]] = {kind: {} for kind in KINDS}
    results: dict = {}
    for kind in KINDS:
        for k, value in enumerate(pairs.values[kind]):
            if k == 0 and kind != KINDS[0]:  # offset 0 is the same frontal pair for every kind
                figures[kind][value], results[(kind, 0)] = figures[KINDS[0]][0.0], results[(KINDS[0], 0)]
                continue
            references = pairs.references[kind][k]
            out = transfer.transfer_batch([(s, r.path) for s, r in zip(sources, references)])
            reference_images, reference_labels = _batch(references)
            figures[kind][value] = pair_figures(
                source_images, reference_images, _results_tensor(out), source_labels, reference_labels
            )
            results[(kind, k)] = out
    return figures, results


def ideal_figures(pairs: TestPairs) -> dict[str, float]:
    """The figures of a perfect transfer (each source drawn with its reference's makeup) against the frontal pairs."""
    source_images, source_labels = _batch(pairs.sources)
    reference_images, reference_labels = _batch(pairs.references[KINDS[0]][0])
    ideal = _batch(pairs.ideal)[0]
    return pair_figures(source_images, reference_images, ideal, source_labels, reference_labels)


# ------------------------------------------------------------------------------------------------ training
def config_epochs(generator: str) -> int:
    """``trainer.max_epochs`` of the generator's benchmark config."""
    import yaml

    return int(yaml.safe_load(CONFIGS[generator].read_text())["trainer"]["max_epochs"])


def train(
    generator: str, data: Path, run: Path, *, epochs: int | None, extra: Sequence[str], quick: bool
) -> tuple[Path, float]:
    """``beautygan fit`` with the generator's benchmark config on ``data`` into ``run``: the last checkpoint and the
    wall time in seconds."""
    if run.exists() and any(run.rglob("last.ckpt")):
        raise FileExistsError(f"{run} already holds a run: remove it, or pass its checkpoint with --{generator}")
    argv = [
        sys.executable, "-c", CLI, "fit", "--config", str(CONFIGS[generator]), "--data.root", str(data),
        *(["--trainer.max_epochs", str(epochs)] if epochs is not None else []), "--trainer.default_root_dir", str(run),
        "--trainer.logger.init_args.save_dir", str(run), "--trainer.enable_progress_bar", "false",
        *(QUICK_FIT if quick else []), *extra,
    ]  # fmt: skip
    if quick:
        argv += ["--model.makeup_blocks", "1"] if generator == "psgan" else []
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "experiments"), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    log = run.parent / f"{run.name}.log"
    run.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log.open("w") as out:
        code = subprocess.call(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    seconds = time.perf_counter() - started
    if code != 0:
        tail = log.read_text().strip().splitlines()[-5:]
        raise RuntimeError(f"beautygan fit ({generator}) exited with {code}; see {log}:\n" + "\n".join(tail))
    (ckpt,) = sorted(run.rglob("last.ckpt"))
    return ckpt, seconds


# ------------------------------------------------------------------------------------------------ output
FIGURES = ("lips", "eye_shadow", "skin", "background_hair", "lips_inside", "lips_inside_1px")
HEADERS = (
    "lips / source",
    "eye shadow / source",
    "skin / source",
    "background + hair change (0-255)",
    "lip colour inside the source's lips",
    "... or 1 px from them",
)


def _cell(value: float, digits: int = 2) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"


def format_table(figures: dict[str, dict[str, dict[float, dict[str, float]]]], ideal: dict[str, float]) -> str:
    """The Markdown table: a row per kind, offset and generator, then the ideal transfer's row."""
    lines = ["| offset | generator | " + " | ".join(HEADERS) + " |", "| --- | --- |" + " ---: |" * len(FIGURES)]
    for kind in KINDS:
        for value in next(iter(figures.values()))[kind]:
            for generator, per_kind in figures.items():
                row = per_kind[kind][value]
                cells = [_cell(row[name]) for name in FIGURES]
                lines.append(f"| {offset_name(kind, value)} | {NAMES[generator]} | " + " | ".join(cells) + " |")
    lines.append("| frontal | ideal | " + " | ".join(_cell(ideal[name]) for name in FIGURES) + " |")
    return "\n".join(lines)


def judge(figures: dict[str, dict[str, dict[float, dict[str, float]]]]) -> list[tuple[str, bool, str]]:
    """The PSGAN-style generator's targets (:data:`TARGETS`): ``(target, met, figures)`` per line."""
    if set(figures) != set(GENERATORS):
        return []
    ps, bg = figures["psgan"], figures["beautygan"]
    front_ps, front_bg = ps[KINDS[0]][0.0], bg[KINDS[0]][0.0]
    lines = []
    for kind in KINDS:
        widest = ps[kind][max(ps[kind])]
        lips, inside = widest["lips"], widest["lips_inside"]
        lines.append(
            (f"{kind} widest: lips share <= {TARGETS['lips_widest']}", lips <= TARGETS["lips_widest"], f"{lips:.2f}")
        )
        growth = lips / front_ps["lips"]
        lines.append(
            (
                f"{kind} widest: lips share <= {TARGETS['lips_growth']}x offset 0",
                growth <= TARGETS["lips_growth"],
                f"{growth:.2f}x",
            )
        )
        lines.append(
            (
                f"{kind} widest: lip colour inside the lips >= {TARGETS['lips_inside']}",
                inside >= TARGETS["lips_inside"],
                f"{inside:.2f}",
            )
        )
    for region in ("lips", "skin"):
        ratio = front_ps[region] / front_bg[region]
        lines.append(
            (f"offset 0: {region} share <= {TARGETS['offset0_margin']}x BeautyGAN's",
             ratio <= TARGETS["offset0_margin"],
             f"{front_ps[region]:.2f} vs {front_bg[region]:.2f} ({ratio:.2f}x)")
        )  # fmt: skip
    return lines


def plot(figures: dict[str, dict[str, dict[float, dict[str, float]]]], path: Path) -> Path:
    """The region shares (top) and ``lips_inside`` (bottom) against the offset, a column per kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"beautygan": "tab:blue", "psgan": "tab:red"}
    styles = {"lips": "-", "eye_shadow": ":", "skin": "--"}
    fig, axes = plt.subplots(2, len(KINDS), figsize=(10, 6.4), sharey="row", dpi=80)
    units = {"yaw": "degrees", "roll": "degrees", "mouth": "0 closed, 1 open"}
    for column, kind in enumerate(KINDS):
        top, bottom = axes[0][column], axes[1][column]
        for generator, per_kind in figures.items():
            values = sorted(per_kind[kind])
            for region, style in styles.items():
                label = f"{NAMES[generator]} {region.replace('_', ' ')}" if column == 0 else None
                top.plot(
                    values,
                    [per_kind[kind][v][region] for v in values],
                    style,
                    color=colours[generator],
                    label=label,
                    marker="o",
                    ms=3,
                )
            for name, style in (("lips_inside", "-"), ("lips_inside_1px", "--")):
                label = f"{NAMES[generator]}: {'on the lips' if name == 'lips_inside' else 'within 1 px of them'}"
                bottom.plot(
                    values,
                    [per_kind[kind][v][name] for v in values],
                    style,
                    color=colours[generator],
                    marker="o",
                    ms=3,
                    label=label if column == 0 else None,
                )
        top.axhline(TARGETS["lips_widest"], color="grey", lw=0.8)
        bottom.axhline(TARGETS["lips_inside"], color="grey", lw=0.8)
        top.set_title(
            {"yaw": "turn of the head (yaw)", "roll": "in-plane rotation (roll)", "mouth": "open mouth"}[kind]
        )
        bottom.set_xlabel(f"reference's {kind} ({units[kind]})")
        top.grid(alpha=0.3)
        bottom.grid(alpha=0.3)
    axes[0][0].set_ylabel("distance to reference / source's")
    axes[1][0].set_ylabel("lip colour inside the lips")
    axes[0][0].set_ylim(0.0, 1.05)
    axes[1][0].set_ylim(0.0, 1.02)
    handles, labels = [], []
    for ax in (axes[0][0], axes[1][0]):
        h, lab = ax.get_legend_handles_labels()
        handles += h
        labels += lab
    fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=7, frameon=False)  # below the panels
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _tile(image: np.ndarray, cell: int) -> Tensor:
    picture = Image.fromarray(image)
    if picture.size != (cell, cell):
        picture = picture.resize((cell, cell), Image.BICUBIC)
    return torch.from_numpy(np.asarray(picture).copy())


def write_strip(pairs: TestPairs, results: dict, path: Path, *, count: int = 2, cell: int = 96) -> Path:
    """Per kind, for the first ``count`` pairs: a row with the source and the reference at each offset, and a row
    with the source and the result at each offset (labelled columns and rows), the kinds one under the other."""
    grids = []
    for kind in KINDS:
        values = pairs.values[kind]
        rows, names = [], []
        for i in range(min(count, len(pairs.sources))):
            source = _tile(pairs.sources[i].image, cell)
            rows.append([source, *(_tile(pairs.references[kind][k][i].image, cell) for k in range(len(values)))])
            rows.append([source, *(_tile(results[(kind, k)][i], cell) for k in range(len(values)))])
            names += [f"ref {i + 1}", f"out {i + 1}"]
        tiles = torch.stack([torch.stack(row) for row in rows])
        columns = ["source", *(offset_name(kind, v) for v in values)]
        grids.append(labelled_grid(tiles, columns, row_names=names))
    strip = torch.cat(grids, dim=0).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(strip).save(path, optimize=True)
    return path


# ------------------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "pose_benchmark", help="training set and runs")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments" / "beautygan" / "assets", help="the PNGs")
    parser.add_argument("--table", type=Path, default=None, help="also write the Markdown table here")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    parser.add_argument("--beautygan", type=Path, default=None, help="a trained BeautyGAN checkpoint (no training)")
    parser.add_argument("--psgan", type=Path, default=None, help="a trained PSGAN-style checkpoint (no training)")
    parser.add_argument("--epochs", type=int, default=None, help="default: the configs' trainer.max_epochs")
    parser.add_argument("--train-pose", type=float, default=1.0, help="pose amount of the training set (0-1)")
    parser.add_argument("--train-faces", type=int, default=96, help="faces per domain in the training set")
    parser.add_argument("--pairs", type=int, default=16, help="held-out pairs per offset")
    parser.add_argument("--steps", type=int, default=5, help="offsets per kind, 0 to the widest")
    parser.add_argument("--test-seed", type=int, default=1, help="seed of the held-out faces (the training set's is 0)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 epoch, 2 pairs: a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.pairs, args.steps, args.train_faces = 1, 2, 2, 6
    size = 32 if args.quick else 64
    work: Path = args.work
    ckpts = {"beautygan": args.beautygan, "psgan": args.psgan}
    seconds: dict[str, float] = {}
    if None in ckpts.values():
        data = work / "data"
        if not (data / "images").is_dir():
            write_synthetic_mt(
                data,
                n=args.train_faces,
                size=size,
                held_out=max(2, args.train_faces // 6),
                seed=0,
                pose=args.train_pose,
            )
        for generator in GENERATORS:
            if ckpts[generator] is None:
                print(
                    f"pose_robustness: training {NAMES[generator]} ({CONFIGS[generator].name}, "
                    f"{args.epochs or config_epochs(generator)} epochs) ...",
                    flush=True,
                )
                ckpts[generator], seconds[generator] = train(
                    generator, data, work / f"run_{generator}", epochs=args.epochs, extra=extra, quick=args.quick
                )
                print(
                    f"pose_robustness: {NAMES[generator]} trained in {seconds[generator] / 60:.1f} min: "
                    f"{ckpts[generator]}",
                    flush=True,
                )
    test_root = work / "test_pairs"
    if test_root.exists():
        shutil.rmtree(test_root)
    from beautygan.inference.trained_generator import TrainedGenerator

    size = TrainedGenerator.load(ckpts["beautygan"]).size
    pairs = write_test_pairs(test_root, pairs=args.pairs, size=size, steps=args.steps, seed=args.test_seed)
    figures, results = {}, {}
    for generator in GENERATORS:
        kind = TrainedGenerator.load(ckpts[generator]).kind
        if kind != generator:
            parser.error(f"--{generator} {ckpts[generator]} holds a {kind} generator")
        figures[generator], results[generator] = evaluate(ckpts[generator], pairs)
    ideal = ideal_figures(pairs)
    table = format_table(figures, ideal)
    targets = judge(figures)
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}"
    print()
    print(f"{args.pairs} held-out pairs per offset, {size} px; {machine}")
    for generator, value in seconds.items():
        print(f"training {NAMES[generator]}: {value / 60:.1f} min")
    print(table)
    for name, met, value in targets:
        print(f"target {name}: {value} -> {'met' if met else 'NOT met'}")
    if args.table is not None:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        args.table.write_text(table + "\n")
    written = [plot(figures, args.out / "pose_robustness.png")]
    for generator in GENERATORS:
        written.append(write_strip(pairs, results[generator], args.out / f"pose_strip_{generator}.png"))
    print("pictures: " + ", ".join(str(p) for p in written))
    write_json(
        args.json,
        {
            "machine": machine,
            "pairs": args.pairs,
            "size": size,
            "training_seconds": seconds,
            "checkpoints": {k: str(v) for k, v in ckpts.items()},
            "figures": {
                g: {k: {str(v): row for v, row in per.items()} for k, per in f.items()} for g, f in figures.items()
            },
            "ideal": ideal,
            "targets": [{"target": n, "met": m, "value": v} for n, m, v in targets],
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
