"""Shared fixtures: torchvision's own VGG feature stacks with seeded random weights, saved as files the
tests load through ``weights=<path>`` (pretrained weights cannot be downloaded in CI)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision


def _torchvision_features(arch: str, seed: int) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)(weights=None)
    return model.features.eval()


IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def save_trunk(blocks, path) -> str:
    """A reference package's VGG16 trunk, split over ``blocks`` that keep torchvision's module indices (the lpips
    package's slices, DISTS' stages), saved in torchvision's layout (``features.N.*``) for ``weights=<path>``.
    Buffers that are not VGG weights (DISTS' L2-pooling windows) are left out."""
    state = {}
    for block in blocks:
        for key, value in block.state_dict().items():
            if key.endswith((".weight", ".bias")) and key.split(".")[0].isdigit():
                state[f"features.{key}"] = value.clone()
    torch.save(state, path)
    return str(path)


def tensorboard_events(folder):
    """An EventAccumulator over the newest event file under ``folder``, every image, scalar and histogram kept."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    files = sorted(folder.rglob("events.out.tfevents.*"))
    assert files, f"no event file under {folder}"
    accumulator = EventAccumulator(str(files[-1].parent), size_guidance={"images": 0, "scalars": 0, "histograms": 0})
    accumulator.Reload()
    return accumulator


def reference_taps(features: torch.nn.Sequential, x01: torch.Tensor, names, depth: int | None = None) -> dict:
    """Taps of torchvision's module list run by hand, ImageNet normalization written out, no in-place ReLU."""
    h = (x01 - IMAGENET_MEAN.to(x01)) / IMAGENET_STD.to(x01)
    taps = {}
    for name, module in list(zip(names, features))[:depth]:
        h = module(h.clone())  # clone: torchvision's ReLUs are in-place
        taps[name] = h
    return taps


@pytest.fixture(scope="session")
def tv_vgg16() -> torch.nn.Sequential:
    return _torchvision_features("vgg16", 0)


@pytest.fixture(scope="session")
def tv_vgg19() -> torch.nn.Sequential:
    return _torchvision_features("vgg19", 1)


@pytest.fixture(scope="session")
def vgg16_file(tmp_path_factory, tv_vgg16) -> str:
    path = tmp_path_factory.mktemp("weights") / "vgg16_features.pth"
    torch.save(tv_vgg16.state_dict(), path)
    return str(path)


@pytest.fixture(scope="session")
def vgg19_file(tmp_path_factory, tv_vgg19) -> str:
    path = tmp_path_factory.mktemp("weights") / "vgg19_features.pth"
    torch.save({f"features.{k}": v for k, v in tv_vgg19.state_dict().items()}, path)
    return str(path)


@pytest.fixture
def no_tf32():
    """fp32 convolutions on GPU, not TF32, so CUDA results compare with the CPU reference."""
    if not torch.cuda.is_available():
        yield
        return
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


def save_untrained_generator(
    path,
    *,
    size: int,
    generator: str = "beautygan",
    hyper_parameters=None,
    output: str = "image",
    region_grid: str = "nearest",
    **extra,
) -> Path:
    """An untrained generator (seed 0) saved at ``path`` as ``beautygan fit`` saves a checkpoint: it changes every
    pixel it is given, which is what the inference tests need to see a change. ``generator="beautygan"``:
    ``Generator(width=8, residual_blocks=1)``, with no ``generator`` hyper-parameter (the default);
    ``generator="psgan"``: ``PSGANGenerator(width=8, mdnet_blocks=1, manet_blocks=2)`` under the hyper-parameters of
    the checkpoint contract (``generator``, ``generator_width``, ``residual_blocks`` = MANet's blocks,
    ``makeup_blocks`` = MDNet's, ``generator_output``, ``generator_init``; ``output`` and ``region_grid`` are
    PSGAN's ``generator_output`` and ``region_grid``). ``hyper_parameters`` adds to the module's, ``extra`` adds
    top-level checkpoint keys."""
    from beautygan.models.beautygan import Generator
    from beautygan.models.psgan import PSGANGenerator

    torch.manual_seed(0)
    if generator == "beautygan":
        network = Generator(width=8, residual_blocks=1)
        hparams = {"generator_width": 8, "residual_blocks": 1, "generator_output": "image"}
    elif generator == "psgan":
        network = PSGANGenerator(width=8, mdnet_blocks=1, manet_blocks=2, output=output, region_grid=region_grid)
        hparams = {
            "generator": "psgan",
            "generator_width": 8,
            "residual_blocks": 2,
            "makeup_blocks": 1,
            "generator_output": output,
            "generator_init": "xavier",
            "region_grid": region_grid,
        }
    else:
        raise ValueError(f"generator must be 'beautygan' or 'psgan', got {generator!r}")
    hparams.update(hyper_parameters or {})
    datamodule = {"image_size": size, **extra.pop("datamodule_hyper_parameters", {})}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {f"generator.{k}": v for k, v in network.state_dict().items()}
    torch.save(
        {"state_dict": state, "hyper_parameters": hparams, "datamodule_hyper_parameters": datamodule, **extra}, path
    )
    return path


def tiny_demo_args(command: str, root, runs, *extra: str) -> list[str]:
    """``beautygan COMMAND`` arguments for the demo config shrunk to seconds: 32 px, random VGG, networks 4 wide,
    runs and logs under ``runs``, no progress bar; ``extra`` appended."""
    return [
        command,
        "--config",
        str(Path(__file__).resolve().parents[1] / "configs" / "beautygan_demo.yaml"),
        "--data.root",
        str(root),
        "--data.image_size",
        "32",
        "--trainer.default_root_dir",
        str(runs),
        "--trainer.logger.init_args.save_dir",
        str(runs),
        "--model.vgg_weights",
        "random",
        "--model.generator_width",
        "4",
        "--model.residual_blocks",
        "1",
        "--model.discriminator_width",
        "4",
        "--trainer.enable_progress_bar",
        "false",
        *extra,
    ]


def dlib_faces():
    """``(FaceModels(), skimage.data)`` for the tests on real photos; skips the test when dlib, its model files or
    scikit-image are missing (the ``faces`` extra)."""
    pytest.importorskip("dlib", reason="the 'faces' extra is not installed: pip install -e '.[faces]'")
    data = pytest.importorskip("skimage.data", reason="scikit-image ships the real photos")
    from beautygan.data.faces import FaceModels, FacesUnavailableError, models_dir

    try:
        models_dir()
    except FacesUnavailableError as err:
        pytest.skip(str(err))
    return FaceModels(), data


def run_ddp_smoke(root, out, cwd, *options: str):
    """``tests/_ddp_smoke.py ROOT OUT --devices 2 OPTIONS`` in a fresh process (one thread per rank) on this tree's
    packages, whatever else is installed; the finished process."""
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(repo), str(repo / "experiments")])}
    command = [sys.executable, str(Path(__file__).with_name("_ddp_smoke.py")), str(root), str(out), "--devices", "2"]
    return subprocess.run([*command, *options], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
