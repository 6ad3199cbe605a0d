"""perceptual.tools.dream against independent references: gradients of torchvision's own VGG run by hand (conftest),
hand-computed octave sizes, torchvision's make_grid, and per-channel runs for the batched contact sheet."""

from __future__ import annotations

import dataclasses
import inspect
import math

import pytest
import torch
import torchvision
from conftest import reference_taps
from PIL import Image

import perceptual.tools.dream as dream_module
from perceptual import VGG16_LAYERS, VGGFeatures
from perceptual.cli import main
from perceptual.tools.dream import SHEET_SCHEDULE, DreamSchedule, channel_sheet, deep_dream, make_extractor
from perceptual.tools.gradients import tiled_gradient
from perceptual.tools.objectives import Objective, layer_channels
from perceptual.tools.octaves import image_grid, noise_image, octave_grid, octave_sizes

pytestmark = pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning")


def _reference_gradient(tv, x, layer, channel=None, *, caffe=False):
    """d mean(layer[:, channel]) / dx through torchvision's module list, normalization written out by hand."""
    x = x.detach().clone().requires_grad_(True)
    depth = VGG16_LAYERS.index(layer) + 1
    if caffe:  # RGB [0, 1] -> BGR [0, 255] minus the BGR mean, no std
        h = x.flip(1) * 255 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
        for module in list(tv)[:depth]:
            h = module(h.clone())
        out = h
    else:
        out = reference_taps(tv, x, VGG16_LAYERS, depth)[layer]
    out = out if channel is None else out[:, channel]
    (grad,) = torch.autograd.grad(out.mean(dim=tuple(range(1, out.ndim))).sum(), x)
    return grad


@pytest.fixture(scope="module")
def relu2_1(vgg16_file):
    return VGGFeatures(["relu2_1"], weights=vgg16_file)


# ------------------------------------------------------------------------------------------------- objectives
def test_objective_terms_equal_hand_computed_means(tv_vgg16, vgg16_file):
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    ref = reference_taps(tv_vgg16, x, VGG16_LAYERS, VGG16_LAYERS.index("relu3_1") + 1)
    objective = Objective.channel("relu2_1", 5) + 0.5 * Objective.channels("block1_conv2", [1, 7], square=True)
    objective = objective + Objective.weighted_sum({"relu3_1": -2.0})
    vgg = make_extractor(objective, weights=vgg16_file)
    assert vgg.layers == ("relu1_2", "relu2_1", "relu3_1")  # canonical names, truncated at the deepest
    expected = (
        ref["relu2_1"][:, 5].mean(dim=(1, 2))
        + 0.5 * ref["relu1_2"][:, [1, 7]].square().mean(dim=(1, 2, 3))
        - 2.0 * ref["relu3_1"].mean(dim=(1, 2, 3))
    )
    torch.testing.assert_close(objective.check("vgg16")(vgg(x)), expected, rtol=1e-5, atol=1e-6)


def test_objective_rises_over_iterations(relu2_1):
    """Each step's objective, measured independently on the callback's images, rises (monotone within 1%)."""
    channel = 17
    seen = []
    start = noise_image(64, seed=1)
    deep_dream(
        start,
        Objective.channel("relu2_1", channel),
        extractor=relu2_1,
        schedule=DreamSchedule(iterations=8, step=1.0, octaves=1),
        callback=lambda octave, iteration, image: seen.append(image.clone()),
    )
    with torch.no_grad():
        values = [float(relu2_1(img)["relu2_1"][:, channel].mean()) for img in [start[None], *seen]]
    assert len(values) == 9
    for before, after in zip(values, values[1:]):
        assert after >= before - 0.01 * abs(before), values
    assert values[-1] > values[0] + 1e-3, values


def test_one_step_is_normalized_gradient_times_step(tv_vgg16, vgg16_file):
    """The DeepDream notebook's update: img += g / (g.std() + eps) * step, clipped; step in 8-bit levels of the input
    range."""
    x = noise_image(48, batch=2, seed=2, amplitude=0.5, mean=0.25)
    vgg = VGGFeatures(["relu2_1"], weights=vgg16_file)
    one_step = DreamSchedule(iterations=1, step=2.0, octaves=1)
    out = deep_dream(x, Objective.channel("relu2_1", 3), extractor=vgg, schedule=one_step).image
    g = _reference_gradient(tv_vgg16, x, "relu2_1", 3)
    expected = (x + g / (g.std(dim=(1, 2, 3), keepdim=True) + 1e-8) * (2.0 / 255)).clamp(0, 1)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=2e-5)
    g_abs = g / (g.abs().mean(dim=(1, 2, 3), keepdim=True) + 1e-8)
    out_abs = deep_dream(
        x, Objective.channel("relu2_1", 3), extractor=vgg, schedule=dataclasses.replace(one_step, grad_norm="abs_mean")
    ).image
    torch.testing.assert_close(out_abs, (x + g_abs * (2.0 / 255)).clamp(0, 1), rtol=1e-4, atol=2e-5)


def test_caffe_weights_preprocessing_and_other_input_range(tv_vgg16, vgg16_file):
    """With caffe preprocessing and a (-1, 1) input range the gradient is taken through BGR/0-255/mean inputs."""
    x01 = noise_image(32, batch=1, seed=4, amplitude=0.6, mean=0.2)
    vgg = VGGFeatures(["relu1_2"], weights=vgg16_file, normalization="caffe", input_range=(-1, 1))
    one_step = DreamSchedule(iterations=1, step=3.0, octaves=1)
    out = deep_dream(x01 * 2 - 1, "relu1_2", extractor=vgg, schedule=one_step).image
    g = _reference_gradient(tv_vgg16, x01, "relu1_2", caffe=True)  # w.r.t. [0, 1]; the (-1, 1) range scales it
    expected = (x01 * 2 - 1 + g / (g.std() + 1e-8) * (3.0 / 255 * 2)).clamp(-1, 1)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=5e-5)
    assert out.min() >= -1 and out.max() <= 1


def test_input_is_not_modified_and_zero_iterations_rebuild_it(relu2_1):
    x = torch.rand(3, 50, 70, generator=torch.Generator().manual_seed(5))
    before = x.clone()
    result = deep_dream(x, "relu2_1", extractor=relu2_1, schedule=DreamSchedule(iterations=0, octaves=3))
    assert torch.equal(x, before)
    torch.testing.assert_close(result.image, x, rtol=0, atol=1e-6)  # pyramid detail + base == the image
    assert result.image.shape == x.shape and result.scores.shape == (0, 1)


# ------------------------------------------------------------------------------------------------- tiles
def test_single_tile_gradient_equals_untiled_autograd(tv_vgg16, relu2_1):
    x = torch.rand(2, 3, 40, 56, generator=torch.Generator().manual_seed(6))
    grad, score = tiled_gradient(
        x, Objective.channel("relu2_1", 9), relu2_1, tile_size=64, generator=torch.Generator().manual_seed(0)
    )
    torch.testing.assert_close(grad, _reference_gradient(tv_vgg16, x, "relu2_1", 9), rtol=1e-4, atol=1e-9)
    with torch.no_grad():
        expected_score = reference_taps(tv_vgg16, x, VGG16_LAYERS, 7)["relu2_1"][:, 9].mean(dim=(1, 2))
    torch.testing.assert_close(score, expected_score, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("shift", [(13, 7), (0, 45), (-5, 33)])
def test_rolled_tiles_give_untiled_gradient_away_from_seams(tv_vgg16, vgg16_file, shift):
    """Four rolled 32px tiles of a 64px image: away from the cuts the gradient is the untiled one, in place."""
    size, tile = 64, 32
    vgg = VGGFeatures(["relu1_1"], weights=vgg16_file)
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(7))
    grad, score = tiled_gradient(x, Objective.channel("relu1_1", 4), vgg, tile_size=tile, shift=shift)
    reference = _reference_gradient(tv_vgg16, x, "relu1_1", 4)

    def far_from_cuts(offset):
        # cuts in rolled coordinates at 0 and 32 (tile edges) and `offset` (where the image's own border went)
        index = torch.arange(size)
        rolled = (index + offset) % size
        cuts = torch.tensor([0, tile, offset % size])
        distance = (rolled[:, None] - cuts[None]).remainder(size)
        distance = torch.minimum(distance, size - distance)
        return (distance >= 3).all(dim=1)

    mask = far_from_cuts(shift[0])[:, None] & far_from_cuts(shift[1])[None, :]
    assert mask.float().mean() > 0.5
    torch.testing.assert_close(grad[..., mask], reference[..., mask], rtol=1e-4, atol=1e-9)
    not_unrolled = grad.roll(shift, dims=(2, 3))
    assert not torch.allclose(not_unrolled[..., mask], reference[..., mask], rtol=1e-2, atol=1e-7)
    # each tile's score is weighted by its area share, so the sum is about the whole image's objective
    with torch.no_grad():
        whole = reference_taps(tv_vgg16, x, VGG16_LAYERS, 2)["relu1_1"][:, 4].mean()
    torch.testing.assert_close(score[0], whole, rtol=0.05, atol=1e-6)


def test_tiles_cover_every_pixel_of_awkward_sizes(relu2_1):
    """The notebook's loop leaves a strip without gradient when size % tile < tile / 2; ours covers everything."""
    x = torch.rand(1, 3, 75, 41, generator=torch.Generator().manual_seed(8))
    grad, _ = tiled_gradient(x, Objective.layer("relu2_1"), relu2_1, tile_size=32, shift=(0, 0))
    per_row = grad.abs().amax(dim=(0, 1, 3))
    per_col = grad.abs().amax(dim=(0, 1, 2))
    assert (per_row > 0).all() and (per_col > 0).all()


# ------------------------------------------------------------------------------------------------- octaves
def test_octave_sizes_follow_the_scale():
    # hand-computed: 150 / 1.4 = 107.1 -> 107 -> 76.4 -> 76 -> 54.3 -> 54; 100 -> 71 -> 50 -> 35
    assert octave_sizes((100, 150), 4, 1.4) == [(35, 54), (50, 76), (71, 107), (100, 150)]
    assert octave_sizes((64, 64), 3, 2.0) == [(16, 16), (32, 32), (64, 64)]
    assert octave_sizes((64, 80), 1) == [(64, 80)]
    with pytest.raises(ValueError, match="octave_scale must be > 1"):
        octave_sizes((64, 64), 2, 1.0)


def test_dream_runs_each_octave_at_its_size(relu2_1):
    seen = []
    result = deep_dream(
        torch.rand(1, 3, 60, 90),
        Objective.channel("relu2_1", 1),
        extractor=relu2_1,
        schedule=DreamSchedule(iterations=2, octaves=3, octave_scale=1.5),
        return_octaves=True,
        callback=lambda o, i, img: seen.append((o, tuple(img.shape[-2:]))),
    )
    sizes = [(26, 40), (40, 60), (60, 90)]  # 90 / 1.5 = 60 -> 40; 60 -> 40 -> 26
    assert [tuple(img.shape[-2:]) for img in result.octave_images] == sizes
    assert seen == [(o, s) for o, s in enumerate(sizes) for _ in range(2)]
    assert result.scores.shape == (6, 1)
    grid = octave_grid(result.octave_images)
    assert grid.shape == (3, 60 + 4, 3 * 92 + 2)


def test_too_many_octaves_name_the_maximum(relu2_1):
    # 8 -> 4 -> 2 -> 1: relu2_1 (one pooling) needs 2x2, so 3 octaves fit
    with pytest.raises(ValueError, match="use at most 3 octaves"):
        deep_dream(
            torch.rand(3, 8, 8), "relu2_1", extractor=relu2_1, schedule=DreamSchedule(octaves=4, octave_scale=2.0)
        )


# ------------------------------------------------------------------------------------------------- errors
def test_bad_channel_names_the_valid_range(relu2_1):
    random_relu1_1 = make_extractor("relu1_1", weights="random")
    one_iteration = dataclasses.replace(SHEET_SCHEDULE, iterations=1)
    with pytest.raises(ValueError, match=r"relu2_1.*128 channels.*0\.\.127"):
        deep_dream(
            torch.rand(3, 32, 32),
            Objective.channel("relu2_1", 128),
            extractor=relu2_1,
            schedule=DreamSchedule(iterations=1),
        )
    with pytest.raises(ValueError, match=r"0\.\.511"):
        Objective.channels("relu4_3", [3, -1]).check("vgg16")
    with pytest.raises(ValueError, match=r"0\.\.63"):
        channel_sheet("relu1_1", channels=[0, 64], extractor=random_relu1_1, size=16, schedule=one_iteration)
    with pytest.raises(ValueError, match="has \\(64\\)|has 64|\\(64\\)"):
        channel_sheet("relu1_1", channels=65, extractor=random_relu1_1, size=16, schedule=one_iteration)
    with pytest.raises(TypeError, match="ints"):
        Objective.channel("relu2_1", "3")
    assert layer_channels("pool3") == 256 and layer_channels("block5_conv4", "vgg19") == 512


def test_bad_layer_lists_the_valid_names(relu2_1):
    with pytest.raises(ValueError, match="Valid names: conv1_1, relu1_1"):
        Objective.channel("relu9_1", 0).check("vgg16")
    with pytest.raises(ValueError, match="unknown vgg16 layer 'block5_conv4'"):
        make_extractor(Objective.layer("block5_conv4"), weights="random")
    with pytest.raises(ValueError, match=r"lack \['relu3_1'\]"):
        deep_dream(torch.rand(3, 32, 32), "relu3_1", extractor=relu2_1)
    with pytest.raises(ValueError, match="outside input_range"):
        deep_dream(torch.rand(3, 32, 32) * 255, "relu2_1", extractor=relu2_1)
    with pytest.raises(ValueError, match="grad_norm"):
        deep_dream(torch.rand(3, 32, 32), "relu2_1", extractor=relu2_1, schedule=DreamSchedule(grad_norm="l2"))


# ------------------------------------------------------------------------------------------------- schedule
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"iterations": -1}, "iterations must be an int >= 0, got -1"),
        ({"iterations": 2.0}, "iterations must be an int >= 0, got 2.0"),
        ({"iterations": True}, "iterations must be an int >= 0, got True"),
        ({"octaves": 0}, "octaves must be an int >= 1, got 0"),
        ({"tile_size": 0}, "tile_size must be an int >= 1, got 0"),
        ({"jitter": -2}, "jitter must be an int >= 0, got -2"),
        ({"step": 0}, "step must be a positive number (in 8-bit pixel levels, e.g. 1.5), got 0"),
        ({"step": math.inf}, "step must be a positive number (in 8-bit pixel levels, e.g. 1.5), got inf"),
        ({"step": "1.5"}, "step must be a positive number (in 8-bit pixel levels, e.g. 1.5), got '1.5'"),
        ({"octave_scale": 1.0}, "octave_scale must be > 1, got 1.0"),
        (
            {"grad_norm": "l2"},
            "grad_norm must be 'std' (the notebook's render_naive) or 'abs_mean' (render_deepdream), got 'l2'",
        ),
        ({"eps": 0.0}, "eps must be positive, got 0.0"),
    ],
)
def test_schedule_rejects_bad_values_naming_the_field(fields, message):
    with pytest.raises(ValueError) as caught:
        DreamSchedule(**fields)
    assert str(caught.value) == message
    with pytest.raises(ValueError) as caught:  # replace() checks again
        dataclasses.replace(DreamSchedule(), **fields)
    assert str(caught.value) == message


def test_schedule_defaults_and_where_they_apply(relu2_1):
    expected = dict(
        iterations=10, step=1.5, octaves=4, octave_scale=1.4, tile_size=512, jitter=0, grad_norm="std", eps=1e-8, seed=0
    )
    assert dataclasses.asdict(DreamSchedule()) == expected
    assert dataclasses.asdict(SHEET_SCHEDULE) == {**expected, "iterations": 20, "octaves": 1}
    assert inspect.signature(deep_dream).parameters["schedule"].default == DreamSchedule()
    assert inspect.signature(channel_sheet).parameters["schedule"].default is SHEET_SCHEDULE
    with pytest.raises(dataclasses.FrozenInstanceError):
        DreamSchedule().iterations = 3  # type: ignore[misc]
    with pytest.raises(TypeError, match="schedule must be a perceptual.tools.dream.DreamSchedule"):
        deep_dream(torch.rand(3, 32, 32), "relu2_1", extractor=relu2_1, schedule={"iterations": 1})
    with pytest.raises(TypeError, match="schedule must be a perceptual.tools.dream.DreamSchedule"):
        channel_sheet("relu2_1", extractor=relu2_1, size=16, schedule=None)


def test_explicit_default_schedule_is_bit_identical(relu2_1):
    x = noise_image(32, seed=3, amplitude=0.5, mean=0.25)
    objective = Objective.channel("relu2_1", 7)
    default = deep_dream(x, objective, extractor=relu2_1)
    spelled_out = DreamSchedule(
        iterations=10, step=1.5, octaves=4, octave_scale=1.4, tile_size=512, jitter=0, grad_norm="std", eps=1e-8, seed=0
    )
    explicit = deep_dream(x, objective, extractor=relu2_1, schedule=spelled_out)
    assert torch.equal(explicit.image, default.image) and torch.equal(explicit.scores, default.scores)
    assert default.scores.shape == (40, 1)  # 10 iterations x 4 octaves ran
    fewer = deep_dream(x, objective, extractor=relu2_1, schedule=dataclasses.replace(spelled_out, iterations=9))
    assert fewer.scores.shape == (36, 1) and not torch.equal(fewer.image, default.image)


def test_no_extractor_builds_make_extractor_of_the_objective(relu2_1, monkeypatch):
    """extractor=None is make_extractor(objective) with its defaults (ImageNet VGG16, inputs in [0, 1])."""
    defaults = inspect.signature(make_extractor).parameters
    assert (
        defaults["arch"].default,
        defaults["weights"].default,
        defaults["input_range"].default,
        defaults["normalization"].default,
    ) == ("vgg16", "imagenet", (0.0, 1.0), None)
    calls = []

    def recording(objective, **kwargs):
        calls.append((objective.check("vgg16").layers, kwargs))
        return relu2_1

    monkeypatch.setattr(dream_module, "make_extractor", recording)
    x = noise_image(32, seed=4, amplitude=0.5, mean=0.25)
    schedule = DreamSchedule(iterations=2, octaves=2)
    built = deep_dream(x, Objective.channel("block2_conv1", 3), schedule=schedule)  # Keras name of relu2_1
    given = deep_dream(x, Objective.channel("relu2_1", 3), extractor=relu2_1, schedule=schedule)
    assert torch.equal(built.image, given.image)
    sheet_schedule = dataclasses.replace(SHEET_SCHEDULE, iterations=2)
    built_sheet = channel_sheet("relu2_1", channels=2, size=16, schedule=sheet_schedule)
    given_sheet = channel_sheet("relu2_1", channels=2, extractor=relu2_1, size=16, schedule=sheet_schedule)
    assert torch.equal(built_sheet.images, given_sheet.images)
    assert calls == [(("relu2_1",), {}), (("relu2_1",), {})]


# ------------------------------------------------------------------------------------------------- sheet
def test_grid_matches_torchvision_make_grid():
    images = torch.rand(5, 3, 6, 9)
    expected = torchvision.utils.make_grid(images, nrow=3, padding=2, pad_value=1.0)
    torch.testing.assert_close(image_grid(images, nrow=3, padding=2), expected, rtol=0, atol=0)


@pytest.mark.parametrize("batch_size", [None, 2])
def test_batched_sheet_equals_per_channel_runs(vgg16_file, batch_size):
    # float64: in float32 the notebook's nearly flat noise makes max-pool near-ties, which batched and single
    # convolutions (different kernels) can break differently, and the normalized ascent amplifies that
    vgg = VGGFeatures(["relu2_1"], weights=vgg16_file).double()
    schedule = DreamSchedule(iterations=3, step=1.5, octaves=2, octave_scale=1.4, jitter=2, seed=11)
    sheet = channel_sheet(
        "relu2_1", channels=[0, 5, 9], extractor=vgg, size=32, batch_size=batch_size, schedule=schedule
    )
    noise = noise_image(32, batch=3, seed=11).double()
    assert sheet.images.dtype == torch.float64
    for i, channel in enumerate([0, 5, 9]):
        single = deep_dream(noise[i], Objective.channel("relu2_1", channel), extractor=vgg, schedule=schedule).image
        torch.testing.assert_close(sheet.images[i], single, rtol=1e-7, atol=1e-7)
    assert sheet.channels == (0, 5, 9)
    assert sheet.grid.shape == (3, 2 * 34 + 2, 2 * 34 + 2)  # 2 per row (ceil sqrt 3), 2 px padding
    torch.testing.assert_close(sheet.grid[:, 2:34, 2:34], sheet.images[0], rtol=0, atol=0)


# ------------------------------------------------------------------------------------------------- CLI
def test_cli_writes_pngs(tmp_path, capsys, vgg16_file):
    photo = tmp_path / "photo.png"
    Image.new("RGBA", (72, 48), (200, 40, 40, 120)).save(photo)
    out, grid, sheet = tmp_path / "out.png", tmp_path / "grid.png", tmp_path / "sheet.png"
    common = ["--weights", vgg16_file, "--quiet", "--iterations", "2"]
    assert (
        main(
            [
                "dream",
                str(photo),
                "--layer",
                "relu2_1",
                "--channel",
                "3",
                "--channel",
                "4",
                "--octaves",
                "2",
                "--out",
                str(out),
                "--octave-grid",
                str(grid),
                *common,
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "composited" in printed and str(out) in printed
    assert Image.open(out).size == (72, 48) and Image.open(out).mode == "RGB"
    assert Image.open(grid).size == (2 * 74 + 2, 48 + 4)
    noise_out = tmp_path / "noise.png"
    assert (
        main(
            [
                "dream",
                "--noise",
                "40",
                "56",
                "--layer",
                "relu1_2:1",
                "--layer",
                "relu2_1:0.5",
                "--octaves",
                "1",
                "--out",
                str(noise_out),
                *common,
            ]
        )
        == 0
    )
    assert Image.open(noise_out).size == (56, 40)
    assert (
        main(["dream-sheet", "--layer", "relu2_1", "--channels", "4", "--size", "24", "--out", str(sheet), *common])
        == 0
    )
    assert Image.open(sheet).size == (2 * 26 + 2, 2 * 26 + 2)


def test_cli_errors_name_the_range(tmp_path, capsys):
    assert (
        main(
            [
                "dream",
                "--noise",
                "32",
                "--layer",
                "relu2_1",
                "--channel",
                "300",
                "--weights",
                "random",
                "--out",
                str(tmp_path / "x.png"),
            ]
        )
        == 2
    )
    assert "valid indices are 0..127" in capsys.readouterr().err
    assert (
        main(
            [
                "dream-sheet",
                "--layer",
                "relu1_1",
                "--channels",
                "100",
                "--weights",
                "random",
                "--out",
                str(tmp_path / "y.png"),
            ]
        )
        == 2
    )
    assert "64" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


# ------------------------------------------------------------------------------------------------- devices
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_tiles_from_a_cpu_image_match_cpu(vgg16_file, monkeypatch):
    """The image may stay on the CPU while tiles run on the GPU (images larger than GPU memory)."""
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    objective = Objective.channel("relu2_1", 7)
    vgg_cpu = VGGFeatures(["relu2_1"], weights=vgg16_file)
    vgg_gpu = VGGFeatures(["relu2_1"], weights=vgg16_file).cuda()
    x = noise_image(64, seed=3, amplitude=0.5, mean=0.25)
    schedule = DreamSchedule(iterations=2, octaves=2, tile_size=32, jitter=3, seed=1)
    cpu = deep_dream(x, objective, extractor=vgg_cpu, schedule=schedule).image
    mixed = deep_dream(x, objective, extractor=vgg_gpu, schedule=schedule).image
    on_gpu = deep_dream(x.cuda(), objective, extractor=vgg_gpu, schedule=schedule).image
    assert mixed.device.type == "cpu" and on_gpu.device.type == "cuda"
    torch.testing.assert_close(mixed, cpu, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(on_gpu.cpu(), cpu, rtol=1e-3, atol=1e-3)
    sheet = channel_sheet(
        "relu2_1", channels=4, extractor=vgg_gpu, size=32, schedule=dataclasses.replace(SHEET_SCHEDULE, iterations=2)
    )
    assert sheet.grid.device.type == "cuda" and sheet.images.shape == (4, 3, 32, 32)


def test_cli_checks_outputs_before_dreaming(tmp_path, capsys, monkeypatch):
    import perceptual.tools.dream as dream_module

    def never(*args, **kwargs):
        raise AssertionError("no work may start before the output paths are checked")

    monkeypatch.setattr(dream_module, "deep_dream", never)
    monkeypatch.setattr(dream_module, "channel_sheet", never)
    (tmp_path / "folder.png").mkdir()
    for argv, expected in (
        (
            ["dream", "--noise", "32", "--layer", "relu2_1", "--out", str(tmp_path / "x.jpeg2")],
            "unknown image file extension '.jpeg2'",
        ),
        (
            [
                "dream",
                "--noise",
                "32",
                "--layer",
                "relu2_1",
                "--out",
                str(tmp_path / "ok.png"),
                "--octave-grid",
                str(tmp_path / "folder.png"),
            ],
            "--octave-grid",
        ),
        (["dream-sheet", "--layer", "relu1_1", "--out", str(tmp_path / "folder.png")], "is a folder"),
    ):
        assert main([*argv, "--weights", "random", "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.png"]
