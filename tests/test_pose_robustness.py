"""The pose benchmark (``benchmarks/pose_robustness.py``): its lip-colour measure and region shares by value on
hand-made images, its two configs differing by the generator only, its held-out pairs, and a ``--quick`` run end to
end (the table's shape, the pictures, the targets)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import pose_robustness as pr  # noqa: E402

from beautygan.data.landmarks import read_landmarks  # noqa: E402
from beautygan.data.mt import read_labels  # noqa: E402
from beautygan.data.regions import FaceRegion  # noqa: E402
from beautygan.data.synthetic import FaceParams, render  # noqa: E402

SKIN = np.array([200.0, 160.0, 130.0])
SOURCE_LIPS = np.array([170.0, 85.0, 68.0])
REFERENCE_LIPS = np.array([200.0, 20.0, 40.0])
D = REFERENCE_LIPS - SOURCE_LIPS  # (30, -65, -28)
NORM = math.sqrt(30**2 + 65**2 + 28**2)  # 76.87
LIP_ROWS, LIP_COLS = slice(14, 18), slice(10, 22)  # a 4 x 12 mouth: the box around it is rows 10-21, cols 0-33


def _faces() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A 32 x 32 source (skin, backdrop above, its lips at LIP_ROWS x LIP_COLS) and a reference whose lips lie 3 rows
    lower."""
    source = np.tile(SKIN, (32, 32, 1))
    source_labels = np.full((32, 32), int(FaceRegion.FACE))
    source[:4] = 196.0  # a strip of backdrop at the top, far from the mouth
    source_labels[:4] = int(FaceRegion.BACKGROUND)
    source[LIP_ROWS, LIP_COLS] = SOURCE_LIPS
    source_labels[14:16, LIP_COLS] = int(FaceRegion.UPPER_LIP)
    source_labels[16:18, LIP_COLS] = int(FaceRegion.LOWER_LIP)
    reference = np.tile(SKIN + 10, (32, 32, 1))
    reference_labels = np.full((32, 32), int(FaceRegion.FACE))
    reference[17:21, LIP_COLS] = REFERENCE_LIPS
    reference_labels[17:21, LIP_COLS] = int(FaceRegion.LOWER_LIP)
    return source, source_labels, reference, reference_labels


def _tensors(*images: np.ndarray) -> list[torch.Tensor]:
    return [torch.from_numpy(image / 255).permute(2, 0, 1)[None] for image in images]


def _change(result: np.ndarray) -> tuple[float, float]:
    source, source_labels, reference, reference_labels = _faces()
    s, r, out = _tensors(source, reference, result)
    inside, total = pr.lip_colour_change(
        s, r, out, torch.from_numpy(source_labels)[None], torch.from_numpy(reference_labels)[None]
    )
    return float(inside[0]), float(total[0])


def test_lip_colour_on_the_lips_only_is_all_inside() -> None:
    result = _faces()[0].copy()
    result[LIP_ROWS, LIP_COLS] = REFERENCE_LIPS
    inside, total = _change(result)
    # each of the 48 lip pixels moved by d: along u that is |d|, of which 0.75 |d| is past the floor
    assert inside == pytest.approx(48 * 0.75 * NORM, rel=1e-9)
    assert total == pytest.approx(inside, rel=1e-12)


def test_lip_colour_on_the_cheek_is_all_outside() -> None:
    result = _faces()[0].copy()
    result[LIP_ROWS, 24:30] = REFERENCE_LIPS  # beside the mouth, inside the box around it
    inside, total = _change(result)
    # skin -> lipstick along u: <(0, -140, -90), (30, -65, -28)> / |d| per pixel, 24 pixels, minus the floor
    along = (0 * 30 + 140 * 65 + 90 * 28) / NORM
    assert inside == 0.0
    assert total == pytest.approx(24 * (along - 0.25 * NORM), rel=1e-9)


def test_a_fringe_along_the_lips_counts_only_with_the_border() -> None:
    source = _faces()[0]
    result = source.copy()
    result[13, 9:23] = REFERENCE_LIPS  # the row above the lips, one pixel further on each side
    result[18, 9:23] = REFERENCE_LIPS  # and the row below them
    result[20, LIP_COLS] = REFERENCE_LIPS  # two rows below the lips: outside a 1-pixel border
    s, r, out = _tensors(source, _faces()[2], result)
    labels = [torch.from_numpy(x)[None] for x in (_faces()[1], _faces()[3])]
    along = (0 * 30 + 140 * 65 + 90 * 28) / NORM - 0.25 * NORM  # skin -> lipstick, past the floor
    on_lips, total = pr.lip_colour_change(s, r, out, *labels)
    ringed, total_1px = pr.lip_colour_change(s, r, out, *labels, border=1)
    assert float(on_lips[0]) == 0.0 and float(total[0]) == float(total_1px[0])
    assert float(ringed[0]) == pytest.approx(28 * along, rel=1e-9)
    assert float(total[0]) == pytest.approx((28 + 12) * along, rel=1e-9)


def test_a_uniform_skin_shift_is_not_lip_colour_and_partial_moves_count_past_the_floor() -> None:
    source = _faces()[0]
    shift = np.array([12.0, -20.0, -15.0])  # a skin-tone change along the lip colour's direction, face-wide
    result = source + shift
    result[14:16, LIP_COLS] = SOURCE_LIPS + 0.5 * D + shift  # the upper lip half-way to the reference's colour
    result[16:18, LIP_COLS] = SOURCE_LIPS + 0.2 * D + shift  # the lower lip a fifth of the way: under the floor
    inside, total = _change(result)
    assert inside == pytest.approx(24 * (0.5 - 0.25) * NORM, rel=1e-9)
    assert total == pytest.approx(inside, rel=1e-12)
    # without the median shift taken out, the face-wide move would count all around the mouth
    along = float(shift @ D) / NORM
    assert along > 0.25 * NORM


def test_pair_figures_by_value() -> None:
    source, source_labels, reference, reference_labels = _faces()
    painted = source.copy()
    painted[LIP_ROWS, LIP_COLS] = REFERENCE_LIPS
    labels = [torch.from_numpy(x)[None] for x in (source_labels, reference_labels)]
    as_is = pr.pair_figures(*_tensors(source, reference, source), *labels)
    done = pr.pair_figures(*_tensors(source, reference, painted), *labels)
    assert as_is["lips"] == pytest.approx(1.0) and done["lips"] == pytest.approx(0.0, abs=1e-9)
    # skin: mean of the face pixels (skin) against the reference's skin, SKIN + 10: unchanged by the lips
    assert done["skin"] == pytest.approx(1.0) and as_is["background_hair"] == done["background_hair"] == 0.0
    shifted = source.copy()
    shifted[:4] += np.array([6.0, -3.0, 0.0])  # the backdrop changed by 3 on average over R, G, B
    moved = pr.pair_figures(*_tensors(source, reference, shifted), *labels)
    assert moved["background_hair"] == pytest.approx(3.0)
    assert math.isnan(as_is["lips_inside"]) and done["lips_inside"] == pytest.approx(1.0)


def test_the_two_configs_differ_by_the_generator_only() -> None:
    def flat(node, prefix=""):
        if isinstance(node, dict):
            return {k: v for key, value in node.items() for k, v in flat(value, f"{prefix}{key}.").items()}
        return {prefix.rstrip("."): node}

    beautygan, psgan = (flat(yaml.safe_load(pr.CONFIGS[name].read_text())) for name in pr.GENERATORS)
    differ = {key for key in beautygan.keys() | psgan.keys() if beautygan.get(key) != psgan.get(key)}
    assert differ == {
        "model.generator",
        "model.makeup_blocks",
        "model.generator_output",
        "model.region_grid",
        "trainer.default_root_dir",
        "trainer.logger.init_args.save_dir",
    }  # the generator's parts: PSGAN's MDNet blocks, its output layers and region grid (BeautyGAN has neither)
    assert (beautygan["model.generator"], psgan["model.generator"], psgan["model.makeup_blocks"]) == (
        "beautygan",
        "psgan",
        2,
    )
    assert (beautygan["model.generator_output"], psgan["model.generator_output"], psgan["model.region_grid"]) == (
        "attention",
        "reference_colours",
        "cover",
    )


def test_held_out_pairs_one_reference_posed_at_each_offset(tmp_path: Path) -> None:
    pairs = pr.write_test_pairs(tmp_path, pairs=2, size=64, steps=3, seed=5)
    assert pairs.values["yaw"] == [0.0, pr.YAW_MAX / 2, pr.YAW_MAX] and pairs.values["mouth"] == [0.0, 0.5, 1.0]
    rng = np.random.default_rng(5)
    bare, made_up = FaceParams.draw(rng, makeup=False), FaceParams.draw(rng, makeup=True)
    source, widest = pairs.sources[0], pairs.references["yaw"][2][0]
    assert np.array_equal(source.labels, render(bare, size=64).labels)
    assert np.array_equal(widest.labels, render(made_up, size=64, pose=pr.Pose(yaw=pr.YAW_MAX)).labels)
    assert pairs.references["roll"][0][1] is pairs.references["yaw"][0][1]  # offset 0: the same frontal pair
    FaceParams.draw(rng, makeup=False)
    second_look = FaceParams.draw(rng, makeup=True)
    second = pairs.references["roll"][2][1]  # the second pair rolls the other way
    assert np.array_equal(second.labels, render(second_look, size=64, pose=pr.Pose(roll=-pr.ROLL_MAX)).labels)
    assert widest.path.name == "yaw_2_000.png" and second.path.name == "roll_2_001.png"
    for face in (source, widest, second):
        assert np.array_equal(read_labels(str(face.path).replace("/images/", "/segs/")), face.labels)
        points = read_landmarks(face.path)
        assert points is not None and points.shape == (68, 2)  # not stale: the file's hash is the image's
        assert np.array_equal(np.asarray(Image.open(face.path)), face.image)
    # the lip landmarks of the turned reference lie on its lips
    lips = np.isin(widest.labels, pr.LIPS)
    points = read_landmarks(widest.path)
    assert lips[np.rint(points[48:60, 1]).astype(int), np.rint(points[48:60, 0]).astype(int)].mean() >= 0.8


@pytest.mark.slow
def test_quick_run_end_to_end(tmp_path: Path) -> None:
    table, figures = tmp_path / "table.md", tmp_path / "figures.json"
    code = pr.main(
        [
            "--quick",
            "--work",
            str(tmp_path / "work"),
            "--out",
            str(tmp_path / "out"),
            "--table",
            str(table),
            "--json",
            str(figures),
        ]
    )
    assert code == 0
    lines = table.read_text().splitlines()
    # header, separator, (kinds x 2 offsets x 2 generators) rows, the ideal row; 8 columns each
    assert len(lines) == 2 + len(pr.KINDS) * 2 * 2 + 1
    assert all(line.count("|") == 9 for line in lines)
    assert lines[2].startswith("| yaw 0 | BeautyGAN |") and lines[-1].startswith("| frontal | ideal |")
    report = json.loads(figures.read_text())
    assert len(report["targets"]) == 3 * len(pr.KINDS) + 2 and set(report["training_seconds"]) == set(pr.GENERATORS)
    assert report["ideal"]["lips_inside"] == pytest.approx(1.0, abs=0.05) and report["ideal"]["background_hair"] == 0
    for name in ("pose_robustness.png", "pose_strip_beautygan.png", "pose_strip_psgan.png"):
        with Image.open(tmp_path / "out" / name) as picture:
            assert picture.size[0] > 200 and picture.size[1] > 200
