"""Makeup the user controls, checked by value: strength 0 is the source and 1 the plain transfer bit for bit, a
region's look lands inside that region and nowhere else, joint transfer from one reference is the plain transfer,
interpolation in the generator ends at the two transfers, and every bad control is one line with nothing written.

Each runs for both generators, BeautyGAN's and the PSGAN-style one (an untrained checkpoint of each). The expected
values come from the network's own forward pass (``forward``, not the controls code), with PSGAN's face geometries
built here from the files (the synthetic faces' label maps and landmark files) or from dlib's landmarks mapped into
the aligned crop by hand, and the region masks from the MT label maps by hand. Whole-image tests use the synthetic
MT-layout faces (no dlib needed); face-aware tests use scikit-image's astronaut and need the ``faces`` extra."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from _reference_colours import base_images, pixel_regions
from _reference_colours import keys as hand_keys
from conftest import dlib_faces, save_untrained_generator
from PIL import Image, ImageFilter

from beautygan.cli import main as beautygan_main
from beautygan.data.geometry import face_geometry
from beautygan.data.mt import read_labels
from beautygan.data.regions import FaceRegion as R
from beautygan.data.regions import control_regions, region_masks
from beautygan.data.synthetic import write_synthetic_mt
from beautygan.inference.controls import MakeupControls, compose, feather_regions
from beautygan.inference.photo_transfer import PhotoTransfer, TransferOptions
from beautygan.models.beautygan import Generator
from beautygan.models.layers import BASE_LIMIT
from beautygan.models.psgan import PSGANGenerator

SIZE = 128
FEATHER = 0.01  # of the face's side: a 1-pixel soft edge on the synthetic faces, whose lips are 4 pixels thick
PHOTO_FEATHER = 0.01


def _astronaut(data) -> np.ndarray:
    """scikit-image's astronaut at 1024x1024, so that its lips are 10 pixels thick (5 at 512)."""
    return np.asarray(Image.fromarray(data.astronaut()).resize((1024, 1024), Image.LANCZOS))


@pytest.fixture(scope="module", params=["beautygan", "psgan", "psgan-regions", "psgan-reference-colours"])
def checkpoint(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained generator of each kind saved as `beautygan fit` saves it, inside a run folder (for ``--ckpt
    DIR``); ``psgan-regions`` is PSGAN's with region layers and the cover grid, ``psgan-reference-colours`` with the
    demos' layers recolouring the source with the reference's colours."""
    path = tmp_path_factory.mktemp("ckpt") / "run" / "version_0" / "checkpoints" / "last.ckpt"
    if request.param.startswith("psgan-"):
        output = request.param.removeprefix("psgan-").replace("-", "_")
        return save_untrained_generator(path, size=SIZE, generator="psgan", output=output, region_grid="cover")
    return save_untrained_generator(path, size=SIZE, generator=request.param)


@pytest.fixture(scope="module")
def beautygan_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The untrained BeautyGAN checkpoint alone, for the command-line checks that are not about the generator."""
    path = tmp_path_factory.mktemp("ckpt") / "run" / "version_0" / "checkpoints" / "last.ckpt"
    return save_untrained_generator(path, size=SIZE)


_SYNTHETIC: list[Path] = []
"""The synthetic MT-layout folder of this module, where the by-hand geometries read each face's files."""


@pytest.fixture(scope="module")
def mt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_synthetic_mt(tmp_path_factory.mktemp("mt"), n=6, size=SIZE, held_out=3, seed=0)
    _SYNTHETIC[:] = [root]
    return root


def _image(mt: Path, domain: str, number: int) -> Path:
    return mt / "images" / domain / f"{'nm' if domain == 'non-makeup' else 'mk'}_{number:04d}.png"


def _labels(image: Path) -> np.ndarray:
    return read_labels(Path(str(image).replace("/images/", "/segs/"))).astype(np.int64)


def _reference_colour_bases(g: PSGANGenerator, source, start: torch.Tensor, references) -> torch.Tensor:
    """``"reference_colours"``' base images ``(3, 3, H, W)`` of ``source`` for the two ``references`` mixed half and
    half, by hand (numpy; queries and keys from the network's features and the geometries' landmarks)."""
    at = _geometry(source)
    looks = []
    for photo in references:
        geometry = _geometry(photo)
        features = g.mdnet(photo.crop[None])[0][0].double().numpy()
        looks.append(
            (
                photo.crop.double().numpy(),
                pixel_regions(geometry.regions[0].numpy()),
                hand_keys(features, geometry.landmarks[0].numpy(), g.feature_scale),
            )
        )
    query_keys = hand_keys(start[0].double().numpy(), at.landmarks[0].numpy(), g.feature_scale)
    x, ids = source.crop.double().numpy(), pixel_regions(at.regions[0].numpy())
    return torch.from_numpy(base_images(x, ids, query_keys, looks, [0.5, 0.5], g.temperature)).float()


def _geometry(photo):
    """PSGAN's geometry of a prepared photo, by hand: an aligned photo's dlib landmarks mapped into the crop by the
    alignment matrix (pixel centres at +0.5) and the label map drawn from them at the crop's size; a synthetic face
    used whole, its label map and landmark file read here."""
    from beautygan.data.faces import alignment_matrix, label_map_from_landmarks

    if photo.aligned:
        matrix = alignment_matrix(photo.landmarks + 0.5, size=SIZE)
        points = (photo.landmarks + 0.5) @ matrix[:, :2].T + matrix[:, 2] - 0.5
        labels = label_map_from_landmarks(points, SIZE).astype(np.int64)
    else:
        domain = "non-makeup" if photo.name.startswith("nm_") else "makeup"
        record = json.loads((_SYNTHETIC[0] / "landmarks" / domain / f"{photo.name}.json").read_text())
        points = np.asarray(record["points"], dtype=np.float64)  # the files are SIZE x SIZE: no scaling
        labels = np.asarray(Image.open(_SYNTHETIC[0] / "segs" / domain / photo.name)).astype(np.int64)
    return face_geometry(torch.from_numpy(labels)[None], torch.from_numpy(points)[None])


def _forward(transfer: PhotoTransfer, source, reference) -> torch.Tensor:
    """The network's forward pass on the two crops (PSGAN's with their geometries by hand): the made-up source."""
    g = transfer.generator
    geometries = {}
    if isinstance(g, PSGANGenerator):
        geometries = {"non_makeup_geometry": _geometry(source), "makeup_geometry": _geometry(reference)}
    with torch.no_grad():
        return g(non_makeup=source.crop[None], makeup=reference.crop[None], **geometries).makeup[0].clamp(-1, 1)


def _plain(transfer: PhotoTransfer, source, reference) -> np.ndarray:
    """Today's transfer, independently: the network's forward pass on the two crops, then the paste (aligned) or the
    crop itself as 8-bit (whole image)."""
    made_up = _forward(transfer, source, reference)
    if source.aligned:
        return transfer.paste(source, made_up)
    return np.rint((made_up.permute(1, 2, 0).numpy() + 1) * 127.5).clip(0, 255).astype(np.uint8)


def _square(photo: np.ndarray) -> np.ndarray:
    """The whole-image source as the generator sees it (bilinear, antialiased, to the training square), 8-bit."""
    image = torch.from_numpy(np.array(photo)).permute(2, 0, 1)[None].float() / 255
    square = torch.nn.functional.interpolate(image, size=(SIZE, SIZE), mode="bilinear", antialias=True).clamp(0, 1)
    return np.rint(square[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)


def _dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    image = Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(2 * pixels + 1))
    return np.asarray(image) > 0


def _erode(mask: np.ndarray, pixels: int) -> np.ndarray:
    return ~_dilate(~mask, pixels)


def _reach(labels: np.ndarray) -> int:
    """How far a region's feathered weight reaches past it: ceil(feather x the face's larger side), by hand."""
    face = np.isin(labels, [1, 2, 3, 4, 5, 6, 7, 8, 9])
    rows, cols = np.flatnonzero(face.any(1)), np.flatnonzero(face.any(0))
    return math.ceil(FEATHER * max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1))


# --------------------------------------------------------------------------------------------- whole image (MT)
@pytest.fixture(scope="module")
def whole(checkpoint: Path) -> PhotoTransfer:
    return PhotoTransfer(checkpoint, TransferOptions(align=False, feather=FEATHER, batch_size=1))


def test_strength_zero_is_the_source_and_one_the_plain_transfer_bit_for_bit(whole, mt) -> None:
    source, reference = whole.prepare(_image(mt, "non-makeup", 3)), whole.prepare(_image(mt, "makeup", 3))
    plain = _plain(whole, source, reference)
    photo = np.asarray(Image.open(_image(mt, "non-makeup", 3)).convert("RGB"))
    assert np.array_equal(whole.transfer(source, reference, MakeupControls(strength=0.0)), _square(photo))
    assert np.array_equal(whole.transfer(source, reference, MakeupControls(strength=1.0)), plain)
    assert np.array_equal(whole.transfer(source, reference), plain)
    # Every region at 0 is the source too, and per-region strengths 1 change nothing.
    zero_regions = MakeupControls(lips_strength=0.0, eyes_strength=0.0, skin_strength=0.0)
    out = whole.transfer(source, reference, zero_regions)
    labels = _labels(_image(mt, "non-makeup", 3))
    face, reach = np.isin(labels, [1, 2, 3, 4, 5, 6, 7, 8, 9]), _reach(labels)
    inner, outer = _erode(face, reach), ~_dilate(face, reach)
    assert np.abs(out[inner].astype(int) - _square(photo)[inner]).max() <= 1  # the face: the source, to rounding
    assert np.array_equal(out[outer], plain[outer])  # beyond it the whole look at the global strength 1, bit for bit


def test_strength_moves_each_pixel_that_share_of_the_way(whole, mt) -> None:
    source, reference = whole.prepare(_image(mt, "non-makeup", 4)), whole.prepare(_image(mt, "makeup", 4))
    made_up = _forward(whole, source, reference)
    for strength in (0.25, 0.5, 1.5):
        expected = (source.crop + strength * (made_up - source.crop)).clamp(-1, 1)  # by hand, then 8-bit
        expected = np.rint((expected.permute(1, 2, 0).numpy() + 1) * 127.5).astype(int)
        out = whole.transfer(source, reference, MakeupControls(strength=strength)).astype(int)
        assert np.abs(out - expected).max() <= 1, strength


def test_one_region_changes_nothing_outside_its_mask(whole, mt) -> None:
    source_path = _image(mt, "non-makeup", 3)
    labels = _labels(source_path)
    reach = _reach(labels)
    square = _square(np.asarray(Image.open(source_path).convert("RGB")))
    lips = np.isin(labels, [R.UPPER_LIP, R.LOWER_LIP])
    out = whole.transfer(source_path, None, MakeupControls(lips=_image(mt, "makeup", 3)))
    outside = ~_dilate(lips, reach)
    assert np.array_equal(out[outside], square[outside])  # bit for bit: the source's own look
    plain = _plain(whole, whole.prepare(source_path), whole.prepare(_image(mt, "makeup", 3)))
    inner = _erode(lips, reach)
    assert inner.sum() > 10 and np.abs(out[inner].astype(int) - plain[inner]).max() <= 1  # the lips: the transfer's
    assert np.abs(out[inner].astype(int) - square[inner]).mean() > 5  # ...which is not the source's


def test_lips_from_one_reference_and_eyes_from_another(whole, mt) -> None:
    """Tolerance: one 8-bit level inside each region eroded by the feather's reach (the weights there are 1 up to
    float rounding); nothing is claimed on the feathered border."""
    source_path, a, b = _image(mt, "non-makeup", 4), _image(mt, "makeup", 3), _image(mt, "makeup", 5)
    source = whole.prepare(source_path)
    labels = _labels(source_path)
    reach = _reach(labels)
    out = whole.transfer(source, None, MakeupControls(lips=a, eyes=b)).astype(int)
    from_a, from_b = _plain(whole, source, whole.prepare(a)), _plain(whole, source, whole.prepare(b))
    lips = _erode(np.isin(labels, [R.UPPER_LIP, R.LOWER_LIP]), reach)
    masks = region_masks(torch.from_numpy(labels)[None, None])  # the eye-shadow loss masks, an independent definition
    eye_shadow = _erode((masks.left_eye_shadow | masks.right_eye_shadow)[0, 0].numpy(), reach)
    assert lips.sum() > 10 and eye_shadow.sum() > 10
    assert np.abs(out[lips] - from_a[lips]).max() <= 1
    assert np.abs(out[eye_shadow] - from_b[eye_shadow]).max() <= 1
    assert np.abs(from_a[eye_shadow].astype(int) - from_b[eye_shadow]).mean() > 3  # the two looks differ there


def test_joint_transfer_from_one_reference_is_the_plain_transfer_inside_the_face(whole, mt) -> None:
    source_path, reference = _image(mt, "non-makeup", 5), _image(mt, "makeup", 4)
    labels = _labels(source_path)
    out = whole.transfer(source_path, None, MakeupControls(lips=reference, eyes=reference, skin=reference)).astype(int)
    plain = _plain(whole, whole.prepare(source_path), whole.prepare(reference))
    face = _erode(np.isin(labels, [1, 2, 3, 4, 5, 6, 7, 8, 9]), _reach(labels))
    assert face.sum() > 300 and np.abs(out[face] - plain[face]).max() <= 1


def test_interpolation_ends_are_the_two_transfers(whole, mt) -> None:
    source, a, b = (
        whole.prepare(p) for p in (_image(mt, "non-makeup", 3), _image(mt, "makeup", 3), _image(mt, "makeup", 4))
    )
    steps = whole.interpolate(source, a, b, weights=(0.0, 0.5, 1.0))
    assert np.array_equal(steps[0], _plain(whole, source, a)) and np.array_equal(steps[2], _plain(whole, source, b))
    # The middle is the network's paint of the mixed code, by hand from the network's pieces: BeautyGAN's two codes
    # summed; for PSGAN, both references' makeup matrices morphed onto the source, then mixed (the official code's
    # interpolation), and applied as x * (1 + gamma) + beta halfway through MANet's bottleneck.
    with torch.no_grad():
        g = whole.generator
        if isinstance(g, PSGANGenerator):
            at = _geometry(source)
            codes = [g.makeup_code(p.crop[None], _geometry(p)) for p in (a, b)]
            matrices = 0.5 * g.morph(source.crop[None], codes[0], at) + 0.5 * g.morph(source.crop[None], codes[1], at)
            start = g.manet.bottleneck[: g.apply_after](g.manet.encoder(source.crop[None]))

            def decode(m: torch.Tensor) -> torch.Tensor:
                return g.manet.decoder(g.manet.bottleneck[g.apply_after :](start * (1 + m[:, :1]) + m[:, 1:]))[0]

            raw = decode(matrices)
            if g.output in ("regions", "reference_colours"):
                # each pixel: its region's colour layer under the mask, the lips' from the decode with every
                # region's makeup, the others' from one without the makeup of the lip cells (the cover grid's:
                # any lip pixel in the 4 x 4 cell); a pixel of no region: the source
                lip_cells = torch.nn.functional.max_pool2d(at.regions[:, :1].float(), 4) > 0
                apart = decode(matrices.masked_fill(lip_cells, 0.0))
                middle = source.crop.clone()
                base = _reference_colour_bases(g, source, start, (a, b)) if g.output == "reference_colours" else None
                for region, pixels in enumerate(at.regions[0] > 0.5):  # lips, skin, eyes: disjoint
                    channels = raw if region == 0 else apart
                    layer = channels[3 * region : 3 * region + 3]
                    if base is not None:  # a correction of the mixed looks' base (tests/_reference_colours.py)
                        layer = layer + torch.atanh(base[region].clamp(-BASE_LIMIT, BASE_LIMIT))
                    colour, mask = torch.tanh(layer), torch.sigmoid(channels[9])
                    painted = mask * colour + (1 - mask) * source.crop
                    middle[:, pixels] = painted[:, pixels]
                middle = middle.clamp(-1, 1)
            else:
                middle = torch.tanh(raw).clamp(-1, 1)
        else:
            code = 0.5 * g.makeup_code(a.crop[None]) + 0.5 * g.makeup_code(b.crop[None])
            middle = g.apply_makeup(source.crop[None], code)[0].clamp(-1, 1)
    expected = np.rint((middle.permute(1, 2, 0).numpy() + 1) * 127.5).astype(int)
    assert np.abs(steps[1].astype(int) - expected).max() <= 1
    blend = (steps[0].astype(int) + steps[2]) / 2
    differ = (steps[0] != steps[2]).any(axis=-1)  # where the two looks differ (the face)
    if whole.generator.output != "reference_colours":  # not a cross-fade of the ends
        assert np.abs(steps[1] - blend)[differ].mean() > 1
    # (an untrained "reference_colours" generator paints its base images, linear in the looks' colour shifts: its
    # middle is close to the cross-fade by design, and the by-hand middle above is what checks it)
    # From the source's own look: t = 1 is the transfer from the one reference.
    own = whole.interpolate(source, a, weights=(0.0, 1.0))
    assert np.array_equal(own[1], _plain(whole, source, a))
    assert np.array_equal(own[0], _plain(whole, source, source))  # G(source, source)


def test_apply_makeup_of_a_code_is_the_forward_pass_bit_for_bit() -> None:
    torch.manual_seed(1)
    for output in ("image", "attention"):
        g = Generator(width=8, residual_blocks=1, output=output).eval()
        a, b = torch.rand(3, 3, 32, 32) * 2 - 1, torch.rand(3, 3, 32, 32) * 2 - 1
        with torch.no_grad():
            assert torch.equal(g.apply_makeup(a, g.makeup_code(b)), g(a, b).makeup)


def test_feathered_regions_are_a_soft_partition_reaching_ceil_radius() -> None:
    labels = torch.zeros(1, 1, 40, 40, dtype=torch.int64)
    labels[..., 5:35, 8:32] = R.FACE
    labels[..., 12:15, 12:16] = R.LEFT_EYE
    labels[..., 12:15, 24:28] = R.RIGHT_EYE
    labels[..., 26:29, 14:26] = R.UPPER_LIP
    regions = control_regions(labels)
    assert not (regions.sum(1) > 1).any() and torch.equal(regions.any(1)[0], labels[0, 0] != 0)
    weights = feather_regions(regions, 2.5)
    reach = 3
    for index in range(3):
        support = weights[0, index] > 0
        grown = (
            torch.nn.functional.max_pool2d(regions[0, index][None].float(), 2 * reach + 1, stride=1, padding=reach)[0]
            > 0
        )
        assert torch.equal(support, grown)  # exactly 0 beyond ceil(radius), nonzero up to it
    assert (weights.sum(1) <= 1 + 1e-6).all()
    inner = torch.nn.functional.max_pool2d((labels[0] == 0).float(), 2 * reach + 1, stride=1, padding=reach)[0] == 0
    torch.testing.assert_close(weights.sum(1)[0][inner], torch.ones(int(inner.sum())))  # they sum to 1 inside the face
    base, look = torch.zeros(3, 2, 2), torch.ones(3, 2, 2)
    torch.testing.assert_close(compose(base, [(torch.full((2, 2), 0.25), look)]), torch.full((3, 2, 2), 0.25))
    assert compose(base, []) is base


# --------------------------------------------------------------------------------------------- the CLI
@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--strength", "1.6"], "strength must be in [0, 1.5] (0: the source, 1: the transfer), got 1.6"),
        (["--lips-strength", "-0.1"], "lips_strength must be in [0, 1.5]"),
        (["--strength", "1.5", "--eyes-strength", "1.2"], "strength 1.5 x eyes_strength 1.2 = 1.8 is above 1.5"),
        (["--nose", "{ref}"], "unrecognized arguments: --nose"),
        (["--lips", "{tmp}/missing.png"], "--lips {tmp}/missing.png: no such file"),
    ],
)
def test_a_bad_control_is_one_line_exit_2_and_nothing_written(
    checkpoint, mt, tmp_path, capsys, extra, expected
) -> None:
    out = tmp_path / "out.png"
    ref = _image(mt, "makeup", 3)
    args = [
        "transfer",
        "--ckpt",
        str(checkpoint),
        "--source",
        str(_image(mt, "non-makeup", 3)),
        "--reference",
        str(ref),
        "--out",
        str(out),
        "--no-align",
        *(a.format(ref=ref, tmp=tmp_path) for a in extra),
    ]
    assert beautygan_main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected.format(tmp=tmp_path) in err, err
    assert list(tmp_path.iterdir()) == []


def test_cli_strength_gallery_and_interpolation_strips(checkpoint, mt, tmp_path, capsys) -> None:
    strip = tmp_path / "strengths.png"
    assert (
        beautygan_main(
            [
                "gallery",
                "--ckpt",
                str(checkpoint),
                "--data-dir",
                str(mt),
                "--count",
                "2",
                "--cell",
                "32",
                "--strengths",
                "0,0.5,1",
                "--out",
                str(strip),
            ]
        )
        == 0
    )
    page = (tmp_path / "strengths.html").read_text()
    assert "nm_0003.png at strength 0.5" in page and "nm_0004.png + mk_0004.png" in page
    grid = np.asarray(Image.open(strip).convert("RGB"))
    header, gap = 14, 2
    assert grid.shape == (
        header + 4 * (32 + gap) + gap,
        5 * (32 + gap) + gap,
        3,
    )  # 4 pairs x (source, ref, 3 strengths)

    def tile(row: int, col: int) -> np.ndarray:
        top, left = header + gap + row * (32 + gap), gap + col * (32 + gap)
        return grid[top : top + 32, left : left + 32]

    assert np.array_equal(tile(0, 2), tile(0, 0))  # strength 0 is the source cell itself
    changed = np.abs(tile(0, 4).astype(int) - tile(0, 0)).max(axis=-1) > 8
    assert changed.mean() > 0.15  # strength 1 changed the face (the region layers keep the hair and background)
    strip = tmp_path / "between.png"
    capsys.readouterr()
    assert (
        beautygan_main(
            [
                "interpolate",
                "--ckpt",
                str(checkpoint),
                "--source",
                str(_image(mt, "non-makeup", 3)),
                "--reference",
                str(_image(mt, "makeup", 3)),
                "--reference",
                str(_image(mt, "makeup", 4)),
                "--steps",
                "3",
                "--cell",
                "32",
                "--no-align",
                "--out",
                str(strip),
            ]
        )
        == 0
    )
    page = (tmp_path / "between.html").read_text()
    assert "code mixed 0.50 mk_0003.png + 0.50 mk_0004.png" in page and "pixel blend" in page
    assert np.asarray(Image.open(strip)).shape[1] > 6 * 34  # source, from, 3 steps, to (+ row names)


def test_ckpt_folder_and_tiny_photos_get_notes(beautygan_checkpoint, mt, tmp_path, capsys) -> None:
    checkpoint = beautygan_checkpoint
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (1, 1), (200, 150, 120)).save(tiny)
    out = tmp_path / "out.png"
    folder = checkpoint.parents[2]  # run/ holds version_0/checkpoints/last.ckpt
    assert (
        beautygan_main(
            [
                "transfer",
                "--ckpt",
                str(folder),
                "--source",
                str(tiny),
                "--reference",
                str(_image(mt, "makeup", 3)),
                "--out",
                str(out),
                "--no-align",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert f"note: {folder} is a folder; using the checkpoint in it, {checkpoint}" in printed
    assert f"note: tiny.png is 1x1: upscaled to {SIZE}x{SIZE}" in printed
    assert np.asarray(Image.open(out)).shape == (SIZE, SIZE, 3)
    assert (
        beautygan_main(
            [
                "gallery",
                "--ckpt",
                str(checkpoint),
                "--data-dir",
                str(mt),
                "--count",
                "100",
                "--cell",
                "16",
                "--out",
                str(tmp_path / "g.png"),
            ]
        )
        == 0
    )
    assert f"note: --count 100: {mt} has only 3 non-makeup image(s) to show; using 3" in capsys.readouterr().out
    empty = tmp_path / "empty_run"
    empty.mkdir()
    assert (
        beautygan_main(
            [
                "transfer",
                "--ckpt",
                str(empty),
                "--source",
                str(tiny),
                "--reference",
                str(tiny),
                "--out",
                str(tmp_path / "o2.png"),
                "--no-align",
            ]
        )
        == 2
    )
    assert f"{empty} is a folder, not a checkpoint, and holds no last.ckpt" in capsys.readouterr().err


def test_an_unwritable_output_folder_is_refused_before_any_work(
    beautygan_checkpoint, mt, tmp_path, capsys, monkeypatch
) -> None:
    checkpoint = beautygan_checkpoint
    import os
    import tempfile

    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() == 0:  # root writes through permission bits: refuse file creation there as a read-only mount would
        real = tempfile.mkstemp

        def mkstemp(*args, dir=None, **kwargs):  # noqa: A002 - tempfile's own keyword
            if dir is not None and Path(dir) == locked:
                raise PermissionError(13, "Permission denied")
            return real(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    else:
        locked.chmod(0o555)
    loaded = []
    monkeypatch.setattr(
        "beautygan.inference.trained_generator.load_checkpoint_file", lambda *a, **k: loaded.append(a) or {}
    )
    code = beautygan_main(
        [
            "transfer",
            "--ckpt",
            str(checkpoint),
            "--source",
            str(_image(mt, "non-makeup", 3)),
            "--reference",
            str(_image(mt, "makeup", 3)),
            "--out",
            str(locked / "out.png"),
            "--no-align",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and loaded == []  # refused before the checkpoint was even read
    assert (
        err
        == f"beautygan transfer: error: --out '{locked / 'out.png'}': cannot write in '{locked}' (Permission denied)\n"
    )
    assert list(locked.iterdir()) == []


# --------------------------------------------------------------------------------------------- photos (dlib)
@pytest.fixture(scope="module")
def faces():
    return dlib_faces()


def test_on_a_photo_strength_zero_is_the_photo_and_one_the_plain_transfer(checkpoint, faces) -> None:
    models, data = faces
    astronaut = data.astronaut()
    transfer = PhotoTransfer(checkpoint, TransferOptions(feather=PHOTO_FEATHER, batch_size=1), models=models)
    source = transfer.prepare(astronaut, "astronaut.png")
    reference = transfer.prepare(np.ascontiguousarray(astronaut[:, ::-1]), "mirrored.png")
    assert np.array_equal(
        transfer.transfer(source, reference, MakeupControls(lips_strength=0.0, eyes_strength=0.0, skin_strength=0.0)),
        astronaut,
    )
    assert np.array_equal(transfer.transfer(source, reference, MakeupControls(strength=0.0)), astronaut)
    plain = _plain(transfer, source, reference)
    assert np.array_equal(transfer.transfer(source, reference, MakeupControls(strength=1.0)), plain)
    # the transfer did change the face (the mirrored face's colours are its own: "reference_colours" moves little)
    assert np.abs(plain.astype(int) - astronaut).mean() > 0.2
    half = transfer.transfer(source, reference, MakeupControls(strength=0.5)).astype(int)
    hull = _hull(models, astronaut)
    assert np.array_equal(half[~hull], astronaut[~hull])  # no pixel outside the face, at any strength
    expected = astronaut + 0.5 * (plain.astype(float) - astronaut)  # halfway, up to the rounding of both
    unclipped = ((plain > 0) & (plain < 255)).all(axis=2)  # where the full change was not cut at 0 or 255
    assert unclipped.sum() > 1000 and np.abs(half - expected)[unclipped].max() <= 1.0


def _hull(models, photo: np.ndarray) -> np.ndarray:
    from beautygan.data.faces import label_map_from_landmarks

    return label_map_from_landmarks(models.detect(photo)[0].landmarks, photo.shape[:2]) != 0


def test_on_a_photo_lips_from_a_and_eyes_from_b_land_in_their_regions(checkpoint, faces) -> None:
    from beautygan.data.faces import alignment_matrix, label_map_from_landmarks

    models, data = faces
    astronaut = _astronaut(data)
    transfer = PhotoTransfer(checkpoint, TransferOptions(feather=PHOTO_FEATHER, batch_size=1), models=models)
    source = transfer.prepare(astronaut, "astronaut.png")
    a = transfer.prepare(np.ascontiguousarray(astronaut[:, ::-1]), "mirrored.png")
    b = transfer.prepare(np.ascontiguousarray(astronaut[::-1].copy()[::-1, :, ::-1]), "bgr.png")
    out = transfer.transfer(source, None, MakeupControls(lips=a, eyes=b)).astype(int)
    labels = label_map_from_landmarks(models.detect(astronaut)[0].landmarks, astronaut.shape[:2]).astype(np.int64)
    hull = labels != 0
    rows, cols = np.flatnonzero(hull.any(1)), np.flatnonzero(hull.any(0))
    reach = math.ceil(PHOTO_FEATHER * max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1))
    lips = np.isin(labels, [R.UPPER_LIP, R.LOWER_LIP])
    # The eye-shadow loss masks, their 10-pixels-per-256 margin scaled to the face's aligned crop in this photo.
    matrix = alignment_matrix(models.detect(astronaut)[0].landmarks + 0.5, size=SIZE)
    crop_side = SIZE / math.hypot(*matrix[0, :2])
    masks = region_masks(torch.from_numpy(labels)[None, None], margin_at_256=10 * crop_side / labels.shape[0])
    eyes = (masks.left_eye_shadow | masks.right_eye_shadow)[0, 0].numpy()
    from_a, from_b = _plain(transfer, source, a), _plain(transfer, source, b)
    weight_one = _erode(hull, 3 * reach + 1)  # where the face's own paste weight is 1 too (its blur reaches 3 sigma)
    for region, expected in ((lips, from_a), (eyes, from_b)):
        inner = _erode(region, reach) & weight_one
        assert inner.sum() > 100 and np.abs(out[inner] - expected[inner]).max() <= 1
    # The eyes region by hand: each eye's bounding box widened by the margin, on every face part (brows and eyes
    # included, lips excluded); beyond it and the lips, the skin and background are the source's own.
    margin = round(10 * crop_side / 256)
    boxes = np.zeros_like(hull)
    for eye in (R.LEFT_EYE, R.RIGHT_EYE):
        rows, cols = np.nonzero(labels == eye)
        boxes[rows.min() - margin : rows.max() + margin + 1, cols.min() - margin : cols.max() + margin + 1] = True
    eyes_region = boxes & hull & ~lips
    assert eyes_region.sum() > eyes.sum()
    untouched = ~_dilate(lips | eyes_region, reach)
    assert np.array_equal(out[untouched], astronaut[untouched])  # skin, background: the source's own


def test_a_region_reference_without_a_face_is_one_line_and_nothing_written(checkpoint, faces, tmp_path, capsys) -> None:
    models, data = faces
    Image.fromarray(data.astronaut()).save(tmp_path / "face.png")
    Image.fromarray(data.coffee()).save(tmp_path / "coffee.png")
    out = tmp_path / "out" / "made_up.png"
    code = beautygan_main(
        [
            "transfer",
            "--ckpt",
            str(checkpoint),
            "--source",
            str(tmp_path / "face.png"),
            "--reference",
            str(tmp_path / "face.png"),
            "--lips",
            str(tmp_path / "coffee.png"),
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no face found in coffee.png" in err
    assert not out.parent.exists()
