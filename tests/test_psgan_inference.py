"""A PSGAN-style checkpoint used exactly as a BeautyGAN one: ``TrainedGenerator`` rebuilds it from the checkpoint's
hyper-parameters and runs it through the same interface, photos get its face geometry (regions and 68 landmarks at
the crop) from the aligner's landmarks or from the files beside an MT-layout image, and every command writes what it
writes for a BeautyGAN checkpoint, naming the generator on its start-up line.

References, all independent of the code under test: the network's own ``forward`` / ``makeup_code`` /
``apply_makeup`` / ``morph`` with geometries built here from the label maps and landmark files read by hand (PIL,
json) or from dlib's landmarks mapped by the alignment matrix by hand; the checkpoint's saved tensors; weighted sums
written out. Checkpoints are tiny and 64 px (PSGAN's attention is quadratic in the feature grid)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import dlib_faces, save_untrained_generator
from PIL import Image, ImageFilter

from beautygan.cli import main as beautygan_main
from beautygan.data.geometry import face_geometry, psgan_regions
from beautygan.data.synthetic import write_synthetic_mt
from beautygan.inference.controls import MakeupControls
from beautygan.inference.photo_transfer import PhotoTransfer, TransferOptions
from beautygan.inference.trained_generator import TrainedGenerator, batch_codes, code_items
from beautygan.models.beautygan import Generator
from beautygan.models.psgan import FaceGeometry, PSGANCode, PSGANGenerator
from beautygan.training.checkpoint_files import CheckpointError
from perceptual.images import load_image

SIZE = 64
FILES = 96
"""The synthetic faces' side: larger than the checkpoints', so whole-image geometries are scaled."""


@pytest.fixture(scope="module")
def mt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_mt(tmp_path_factory.mktemp("mt"), n=4, size=FILES, held_out=2, seed=0, pose=0.5)


@pytest.fixture(scope="module")
def psgan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_untrained_generator(tmp_path_factory.mktemp("psgan") / "last.ckpt", size=SIZE, generator="psgan")


@pytest.fixture(scope="module")
def beautygan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_untrained_generator(tmp_path_factory.mktemp("beautygan") / "last.ckpt", size=SIZE)


def _image(mt: Path, domain: str, number: int) -> Path:
    return mt / "images" / domain / f"{'nm' if domain == 'non-makeup' else 'mk'}_{number:04d}.png"


def _by_hand(image: Path, size: int = SIZE) -> FaceGeometry:
    """The geometry of a synthetic face used whole at ``size``: its label map resized (nearest) and its landmark
    file's points scaled (pixel centres at integers), read here with PIL and json."""
    domain = image.parent.name
    record = json.loads((image.parents[2] / "landmarks" / domain / f"{image.name}.json").read_text())
    points = (np.asarray(record["points"], dtype=np.float64) + 0.5) * size / FILES - 0.5
    with Image.open(image.parents[2] / "segs" / domain / image.name) as seg:
        labels = np.asarray(seg.resize((size, size), Image.NEAREST)).astype(np.int64)
    return face_geometry(torch.from_numpy(labels)[None], torch.from_numpy(points)[None])


def _crop(image: Path) -> torch.Tensor:
    """A whole image as the generator sees it, ``(1, 3, SIZE, SIZE)`` in [-1, 1] (bilinear, antialiased)."""
    pixels = torch.from_numpy(np.asarray(Image.open(image).convert("RGB"))).permute(2, 0, 1)[None].float() / 255
    square = torch.nn.functional.interpolate(pixels, size=(SIZE, SIZE), mode="bilinear", antialias=True)
    return square.clamp(0, 1) * 2 - 1


def _eight_bit(image: torch.Tensor) -> np.ndarray:
    return np.rint((image.clamp(-1, 1).permute(1, 2, 0).numpy() + 1) * 127.5).astype(np.uint8)


# ------------------------------------------------------------------------------------------ the checkpoint
def test_a_psgan_checkpoint_is_rebuilt_as_its_hyper_parameters_say(psgan: Path, beautygan: Path, tmp_path) -> None:
    model = TrainedGenerator.load(psgan)
    saved = torch.load(psgan, weights_only=True)["state_dict"]
    g = model.generator
    assert isinstance(g, PSGANGenerator) and model.kind == "psgan" and model.needs_geometry
    assert g.width == 8 and len(g.mdnet.bottleneck) == 1 and len(g.manet.bottleneck) == 2 and g.apply_after == 1
    state = g.state_dict()
    assert state.keys() == {k.removeprefix("generator.") for k in saved}
    assert all(torch.equal(state[k.removeprefix("generator.")], v) for k, v in saved.items())
    count = sum(v.numel() for v in saved.values())  # InstanceNorm keeps no running statistics: all are parameters
    assert model.parameters == count
    assert model.description == f"PSGAN-style generator, {count / 1e3:.1f}K parameters, 64 px"
    plain = TrainedGenerator.load(beautygan)
    assert isinstance(plain.generator, Generator) and plain.kind == "beautygan" and not plain.needs_geometry
    count = sum(v.numel() for v in torch.load(beautygan, weights_only=True)["state_dict"].values())
    assert plain.description == f"BeautyGAN generator, {count / 1e3:.1f}K parameters, 64 px"
    named = save_untrained_generator(tmp_path / "named.ckpt", size=32, hyper_parameters={"generator": "beautygan"})
    assert TrainedGenerator.load(named).kind == "beautygan"  # the default named explicitly
    unknown = save_untrained_generator(tmp_path / "u.ckpt", size=32, hyper_parameters={"generator": "stylegan"})
    with pytest.raises(CheckpointError, match=r"holds a generator 'stylegan'; the generators are 'beautygan', 'psgan'"):
        TrainedGenerator.load(unknown)
    bad = save_untrained_generator(
        tmp_path / "b.ckpt", size=32, generator="psgan", hyper_parameters={"makeup_blocks": -1}
    )
    with pytest.raises(CheckpointError, match="generator hyper-parameters are not usable: mdnet_blocks must be"):
        TrainedGenerator.load(bad)
    mismatch = save_untrained_generator(tmp_path / "m.ckpt", size=32, hyper_parameters={"generator": "psgan"})
    with pytest.raises(CheckpointError, match="does not hold a generator of the shape its hyper-parameters give"):
        TrainedGenerator.load(mismatch)  # BeautyGAN's tensors under a PSGAN name


def test_a_checkpoint_with_region_layers_and_the_cover_grid_is_rebuilt_with_them(mt: Path, tmp_path) -> None:
    """generator_output "regions" and region_grid "cover" come back from the hyper-parameters (a checkpoint without
    region_grid reads "nearest"), and a photo transfer runs with them."""
    path = save_untrained_generator(
        tmp_path / "r.ckpt", size=SIZE, generator="psgan", output="regions", region_grid="cover"
    )
    model = TrainedGenerator.load(path)
    g = model.generator
    assert isinstance(g, PSGANGenerator) and (g.output, g.region_grid) == ("regions", "cover")
    old = save_untrained_generator(tmp_path / "o.ckpt", size=SIZE, generator="psgan")
    data = torch.load(old, weights_only=True)
    del data["hyper_parameters"]["region_grid"]
    torch.save(data, old)
    assert TrainedGenerator.load(old).generator.region_grid == "nearest"
    transfer = PhotoTransfer(path, TransferOptions(align=False))
    source = mt / "images" / "non-makeup" / sorted(p.name for p in (mt / "images" / "non-makeup").iterdir())[0]
    reference = mt / "images" / "makeup" / sorted(p.name for p in (mt / "images" / "makeup").iterdir())[0]
    prepared = transfer.prepare(source)
    out = transfer.transfer_batch([(prepared, reference)])[0]
    assert out.shape == (SIZE, SIZE, 3) and out.dtype == np.uint8


def test_psgan_without_a_geometry_is_a_clear_error(psgan: Path, mt: Path) -> None:
    model = TrainedGenerator.load(psgan)
    images = _crop(_image(mt, "makeup", 2))
    with pytest.raises(
        ValueError, match=r"the PSGAN-style generator \(last.ckpt\) needs the references' face geometry"
    ):
        model.codes(images)
    code = model.codes(images, _by_hand(_image(mt, "makeup", 2)))
    with pytest.raises(ValueError, match="needs the sources' face geometry"):
        model.made_up([images[0]], code)
    with pytest.raises(ValueError, match="needs the sources' face geometry"):
        model.translate(images, images)
    with pytest.raises(ValueError, match="got 2 sources and the geometries of 1"):
        model.made_up([images[0], images[0]], batch_codes([code, code]), _by_hand(_image(mt, "makeup", 2)))


# ------------------------------------------------------------------------------------------ the interface
def test_codes_made_up_translate_and_mix_are_the_networks_own(psgan: Path, mt: Path) -> None:
    """Batched through the interface, in any grouping (a mix of two references beside plain looks), equal to the
    network called by hand one pair at a time."""
    model = TrainedGenerator.load(psgan)
    g = model.generator
    paths = [_image(mt, "non-makeup", 2), _image(mt, "makeup", 2), _image(mt, "makeup", 3)]
    (source, a, b), (at_s, at_a, at_b) = [_crop(p) for p in paths], [_by_hand(p) for p in paths]
    codes = model.codes(torch.cat([a, b]), FaceGeometry.cat([at_a, at_b]), batch_size=1)
    assert isinstance(codes, PSGANCode) and len(codes) == 2
    mixed = model.mix(code_items(codes), [0.25, 0.75])
    assert mixed.references == 2
    out = model.made_up([source[0]] * 3, [codes[0], mixed, codes[1]], [at_s] * 3, batch_size=3)
    with torch.no_grad():
        code_a, code_b = g.makeup_code(a, at_a), g.makeup_code(b, at_b)
        expected = [g.apply_makeup(source, c, at_s)[0] for c in (code_a, code_b)]
        matrices = 0.25 * g.morph(source, code_a, at_s) + 0.75 * g.morph(source, code_b, at_s)
        h = g.manet.bottleneck[: g.apply_after](g.manet.encoder(source))
        h = g.manet.bottleneck[g.apply_after :](h * (1 + matrices[:, :1]) + matrices[:, 1:])
        middle = torch.tanh(g.manet.decoder(h))[0]
        both = g(non_makeup=source, makeup=a, non_makeup_geometry=at_s, makeup_geometry=at_a)
    torch.testing.assert_close(out[0], expected[0].clamp(-1, 1), rtol=0, atol=1e-5)
    torch.testing.assert_close(out[2], expected[1].clamp(-1, 1), rtol=0, atol=1e-5)
    torch.testing.assert_close(out[1], middle.clamp(-1, 1), rtol=0, atol=1e-5)
    assert (out[1] - out[0]).abs().mean() > 0.01 and (out[1] - out[2]).abs().mean() > 0.01
    translation = model.translate(source, a, at_s, at_a)
    torch.testing.assert_close(translation.makeup, both.makeup.clamp(-1, 1), rtol=0, atol=0)
    torch.testing.assert_close(translation.non_makeup, both.non_makeup.clamp(-1, 1), rtol=0, atol=0)


def test_beautygan_mixes_codes_as_their_weighted_sum(beautygan: Path) -> None:
    g = TrainedGenerator.load(beautygan).generator
    torch.manual_seed(0)
    a, b, c = (torch.randn(2, 16, 8, 8) for _ in range(3))
    torch.testing.assert_close(g.mix_codes([a, b, c], [0.2, 0.3, 0.5]), 0.2 * a + 0.3 * b + 0.5 * c)
    torch.testing.assert_close(g.mix_codes([a, b], [2.0, -1.0]), 2 * a - b)  # extrapolation as given
    assert torch.equal(g.mix_codes([a, b], [0.7, 0.3]), torch.lerp(a, b, 0.3))  # an interpolation: lerp's rounding
    assert torch.equal(g.mix_codes([a, b], [1.0, 0.0]), a) and torch.equal(g.mix_codes([a, b], [0.0, 1.0]), b)
    per_item = torch.tensor([[1.0, 0.5], [0.0, 2.0]])
    mixed = g.mix_codes([a, b], per_item)
    torch.testing.assert_close(mixed[0], a[0] + 0.5 * b[0])
    torch.testing.assert_close(mixed[1], 2 * b[1])
    with pytest.raises(ValueError, match="weights must be 2 numbers"):
        g.mix_codes([a, b], [1.0])
    with pytest.raises(ValueError, match="codes must share one shape"):
        g.mix_codes([a, b[:1]], [0.5, 0.5])
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    with torch.no_grad():  # the geometry is accepted and ignored
        assert torch.equal(g.apply_makeup(x, g.makeup_code(x, geometry=object()), geometry=object()), g(x, x).makeup)


# ------------------------------------------------------------------------------------------ where geometry comes from
def test_a_whole_mt_image_gets_its_label_map_and_landmark_file_scaled_to_the_crop(psgan: Path, mt: Path) -> None:
    transfer = PhotoTransfer(psgan, TransferOptions(align=False))
    photo = transfer.prepare(_image(mt, "makeup", 3))
    expected = _by_hand(_image(mt, "makeup", 3))
    assert photo.geometry is not None and photo.geometry.size == (SIZE, SIZE)
    torch.testing.assert_close(photo.geometry.landmarks, expected.landmarks, rtol=0, atol=1e-5)
    assert torch.equal(photo.geometry.regions, expected.regions)
    assert expected.regions.flatten(2).sum(2).min() > 0  # lips, skin and eyes are all there


def test_an_image_whose_landmark_file_is_stale_is_not_given_that_file(psgan: Path, mt: Path, tmp_path) -> None:
    """A changed image no longer matches its landmark file's hash: the file is ignored and dlib's landmarks are
    used instead (dlib finds this drawn face)."""
    models, _ = dlib_faces()
    copy = tmp_path / "mt"
    for folder in ("images", "segs", "landmarks"):
        (copy / folder / "makeup").mkdir(parents=True)
    name = "mk_0003.png"
    pixels = np.asarray(Image.open(_image(mt, "makeup", 3))).copy()
    pixels[0, 0] ^= 1  # one level in one pixel
    Image.fromarray(pixels).save(copy / "images" / "makeup" / name)
    for folder, file in (("segs", name), ("landmarks", f"{name}.json")):
        (copy / folder / "makeup" / file).write_bytes((mt / folder / "makeup" / file).read_bytes())
    photo = PhotoTransfer(psgan, TransferOptions(align=False), models=models).prepare(copy / "images" / "makeup" / name)
    found = (models.detect(pixels)[0].landmarks + 0.5) * SIZE / FILES - 0.5
    assert photo.geometry is not None
    torch.testing.assert_close(photo.geometry.landmarks[0].double(), torch.from_numpy(found), rtol=0, atol=1e-4)
    stored = _by_hand(_image(mt, "makeup", 3)).landmarks
    assert (photo.geometry.landmarks - stored).abs().max() > 0.5  # not the file's points
    fresh = PhotoTransfer(psgan, TransferOptions(align=False), models=models).prepare(_image(mt, "makeup", 3))
    assert fresh.geometry is not None and torch.equal(fresh.geometry.landmarks, stored)  # the unchanged one: the file's


def test_an_aligned_photo_gets_dlibs_landmarks_mapped_into_the_crop(psgan: Path) -> None:
    from beautygan.data.faces import alignment_matrix, label_map_from_landmarks

    models, data = dlib_faces()
    astronaut = data.astronaut()
    transfer = PhotoTransfer(psgan, TransferOptions(), models=models)
    photo = transfer.prepare(astronaut, "astronaut.png")
    landmarks = models.detect(astronaut)[0].landmarks
    matrix = alignment_matrix(landmarks + 0.5, size=SIZE)
    points = (landmarks + 0.5) @ matrix[:, :2].T + matrix[:, 2] - 0.5  # pixel centres at integers, both sides
    labels = torch.from_numpy(label_map_from_landmarks(points, SIZE).astype(np.int64))
    assert photo.geometry is not None
    torch.testing.assert_close(photo.geometry.landmarks[0].double(), torch.from_numpy(points), rtol=0, atol=1e-4)
    assert torch.equal(photo.geometry.regions, psgan_regions(labels[None], torch.from_numpy(points)[None].float()))
    assert photo.geometry.regions.flatten(2).sum(2).min() > 0  # lips, skin and eyes are all there


def test_a_whole_photo_without_files_gets_dlibs_landmarks_and_a_drawn_label_map(psgan: Path, tmp_path) -> None:
    from beautygan.data.faces import label_map_from_landmarks

    models, data = dlib_faces()
    astronaut = data.astronaut()
    Image.fromarray(astronaut).save(tmp_path / "astronaut.png")
    transfer = PhotoTransfer(psgan, TransferOptions(align=False), models=models)
    photo = transfer.prepare(tmp_path / "astronaut.png")
    points = (models.detect(astronaut)[0].landmarks + 0.5) * SIZE / 512 - 0.5
    labels = label_map_from_landmarks(points, SIZE).astype(np.int64)
    assert photo.geometry is not None and photo.labels is not None
    torch.testing.assert_close(photo.geometry.landmarks[0].double(), torch.from_numpy(points), rtol=0, atol=1e-4)
    assert np.array_equal(photo.labels.numpy(), labels)
    with pytest.raises(ValueError, match="no face found in coffee.png"):
        transfer.prepare(data.coffee(), "coffee.png")


def test_without_dlib_a_photo_psgan_cannot_place_is_one_line(psgan: Path, mt: Path, tmp_path, monkeypatch, capsys):
    from beautygan.data import faces

    def unavailable(*args, **kwargs):
        raise faces.FacesUnavailableError("dlib is not installed")

    monkeypatch.setattr(faces, "FaceModels", unavailable)
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (8, 8), (200, 150, 120)).save(tiny)
    out = tmp_path / "out.png"
    args = ["transfer", "--ckpt", str(psgan), "--reference", str(_image(mt, "makeup", 2)), "--out", str(out)]
    assert beautygan_main([*args, "--source", str(tiny), "--no-align"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and not out.exists()
    assert (
        "the PSGAN-style generator needs the face's 68 landmarks: tiny.png has no landmark file (not in the MT "
        "layout), and dlib is unavailable (dlib is not installed)" in err
    ), err
    # an MT-layout face has its files: no dlib needed
    assert beautygan_main([*args, "--source", str(_image(mt, "non-makeup", 2)), "--no-align"]) == 0
    assert out.is_file()


def test_beautygan_transfers_compute_no_geometry_and_need_no_dlib(beautygan: Path, mt: Path, monkeypatch) -> None:
    from beautygan.data import faces
    from beautygan.inference import photo_geometry

    def refused(*args, **kwargs):
        raise AssertionError("BeautyGAN asked for a face geometry")

    monkeypatch.setattr(faces, "FaceModels", refused)
    for name in ("read_landmarks", "stored_landmarks", "detected_landmarks", "face_geometry"):
        monkeypatch.setattr(photo_geometry, name, refused)
    transfer = PhotoTransfer(beautygan, TransferOptions(align=False))
    source = transfer.prepare(Image.open(_image(mt, "non-makeup", 2)).convert("RGB"))  # no files beside it
    reference = transfer.prepare(_image(mt, "makeup", 2))
    assert source.geometry is None and reference.geometry is None
    out = transfer.transfer(source, reference, MakeupControls(strength=0.5))
    interpolated = transfer.interpolate(source, reference, weights=(0.5,))
    assert out.shape == interpolated[0].shape == (SIZE, SIZE, 3)


# ------------------------------------------------------------------------------------------ every command
def _run(args: list[str], capsys) -> str:
    assert beautygan_main([str(a) for a in args]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def _written(folder: Path) -> dict[str, tuple]:
    """Every file under ``folder``: its path and, for a PNG, its shape."""
    return {
        str(p.relative_to(folder)): np.asarray(Image.open(p)).shape if p.suffix == ".png" else ()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_every_command_takes_a_psgan_checkpoint_as_it_takes_a_beautygan_one(
    psgan: Path, beautygan: Path, mt: Path, tmp_path, capsys
) -> None:
    source, a, b = _image(mt, "non-makeup", 2), _image(mt, "makeup", 2), _image(mt, "makeup", 3)
    outputs, printed = {}, {}
    for kind, ckpt in (("beautygan", beautygan), ("psgan", psgan)):
        out = tmp_path / kind
        common = ["--ckpt", ckpt, "--device", "cpu"]
        printed[kind] = [
            _run(["transfer", *common, "--source", source, "--reference", a, "--out", out / "t.png", "--no-align",
                  "--demakeup-out", out / "d.png", "--lips", b], capsys),
            _run(["transfer", *common, "--source", source.parent, "--reference", a.parent, "--out", out / "folders",
                  "--no-align", "--eyes-strength", "0.5"], capsys),
            _run(["gallery", *common, "--data-dir", mt, "--count", 2, "--cell", 32, "--out", out / "g.png"], capsys),
            _run(["gallery", *common, "--data-dir", mt, "--count", 1, "--cell", 32, "--strengths", "0,0.5,1",
                  "--out", out / "s.png"], capsys),
            _run(["interpolate", *common, "--source", source, "--reference", a, "--reference", b, "--steps", 3,
                  "--cell", 32, "--no-align", "--out", out / "i.png"], capsys),
            _run(["evaluate", *common, "--data-dir", mt, "--n", 2, "--no-faces", "--out", out / "eval"], capsys),
        ]  # fmt: skip
        outputs[kind] = _written(out)
    assert outputs["psgan"] == outputs["beautygan"]  # the same files, the same sizes
    assert len(outputs["psgan"]) > 15
    for kind, name in (("beautygan", "BeautyGAN generator"), ("psgan", "PSGAN-style generator")):
        for command, text in zip(
            ("transfer", "transfer", "gallery", "gallery", "interpolate", "evaluate"), printed[kind]
        ):
            first = text.splitlines()[0]
            assert re.fullmatch(rf"beautygan {command}: {name}, [0-9.]+K parameters, 64 px, checkpoint .+\.ckpt", first)
    assert "<title>PSGAN-style makeup transfer</title>" in (tmp_path / "psgan" / "g.html").read_text()
    assert "<title>PSGAN-style look interpolation</title>" in (tmp_path / "psgan" / "i.html").read_text()
    assert "code mixed 0.50 mk_0002.png + 0.50 mk_0003.png" in (tmp_path / "psgan" / "i.html").read_text()

    # By value: the network with the geometries built here.
    g = TrainedGenerator.load(psgan).generator
    (at_s, at_a), (crop_s, crop_a) = [_by_hand(p) for p in (source, a)], [_crop(p) for p in (source, a)]
    with torch.no_grad():
        both = g(non_makeup=crop_s, makeup=crop_a, non_makeup_geometry=at_s, makeup_geometry=at_a)
    demakeup = np.asarray(Image.open(tmp_path / "psgan" / "d.png")).astype(int)
    assert np.abs(demakeup - _eight_bit(both.non_makeup[0])).max() <= 1
    plain = np.asarray(Image.open(tmp_path / "psgan" / "folders" / "nm_0002__mk_0002.png")).astype(int)
    lips_elsewhere = np.asarray(Image.open(tmp_path / "psgan" / "t.png")).astype(int)
    expected = _eight_bit(both.makeup[0]).astype(int)
    with Image.open(mt / "segs" / "non-makeup" / source.name) as seg:
        face = Image.fromarray(((np.asarray(seg.resize((SIZE, SIZE), Image.NEAREST)) != 0) * 255).astype(np.uint8))
    # 4 pixels or more from the face: the eyes' strength and the lips' reference leave the plain transfer there
    skin_far = np.asarray(face.filter(ImageFilter.MaxFilter(9))) == 0
    assert skin_far.sum() > 500
    assert np.abs(plain[skin_far] - expected[skin_far]).max() <= 1
    assert np.abs(lips_elsewhere[skin_far] - expected[skin_far]).max() <= 1
    rows = json.loads((tmp_path / "psgan" / "eval" / "summary.json").read_text())["rows"]
    assert len(rows) == 2
    for row in rows:
        pair = [Path(row["source"]), Path(row["reference"])]
        loaded = [load_image(path, (SIZE, SIZE))[0][None] * 2 - 1 for path in pair]  # as evaluate reads them
        with torch.no_grad():
            made_up = g(
                non_makeup=loaded[0],
                makeup=loaded[1],
                non_makeup_geometry=_by_hand(pair[0]),
                makeup_geometry=_by_hand(pair[1]),
            ).makeup[0]
        result = np.asarray(Image.open(row["result"])).astype(int)
        assert np.abs(result - _eight_bit(made_up)).max() <= 1
    # the PSGAN results are not BeautyGAN's
    other = np.asarray(Image.open(tmp_path / "beautygan" / "folders" / "nm_0002__mk_0002.png")).astype(int)
    assert np.abs(other - plain).mean() > 5


def test_evaluate_lists_a_faceless_image_and_measures_the_other_pairs(psgan: Path, mt: Path, tmp_path: Path) -> None:
    dlib_faces()
    from beautygan.inference.evaluate import EvalPair, evaluate_pairs

    blank = tmp_path / "blank.png"  # no face for dlib, no landmark file beside it
    Image.new("RGB", (FILES, FILES), (128, 128, 128)).save(blank)
    good = EvalPair(_image(mt, "non-makeup", 0), _image(mt, "makeup", 0))
    faceless = EvalPair(blank, _image(mt, "makeup", 1))
    failures: list = []
    rows = evaluate_pairs(
        [faceless, good], generator=TrainedGenerator.load(psgan), faces=False, image_size=SIZE, failures=failures
    )
    assert [(row["source"], row["reference"]) for row in rows] == [(str(good.source), str(good.reference))]
    assert [(pair, "no face" in message and str(blank) in message) for pair, message in failures] == [(faceless, True)]
    with pytest.raises(ValueError, match="no face"):  # without a failures list, the error itself
        evaluate_pairs([faceless], generator=TrainedGenerator.load(psgan), faces=False, image_size=SIZE)
