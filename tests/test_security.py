"""Nothing runs that a file smuggles in: hostile checkpoints and ``.npy`` weights through every command that reads
them, paths stored inside checkpoints that must not be opened, data lists that leave the data root.

Each hostile file is built here: a pickle whose ``__reduce__`` would call ``os.system("touch MARKER")`` (the test
first shows that a plain unpickler does run it), saved with ``torch.save`` inside a plausible checkpoint dict or with
``np.save`` as a 0-d object array. Every command must exit 2 with one line naming the file and the global it asked
for, and the marker must not exist. The Python 2 ``vgg16.npy`` the TF ports ship is rebuilt opcode by opcode (as
numpy 1 under Python 2 wrote it: protocol 2, ``numpy.core.multiarray._reconstruct``, byte-string keys and data) and
must read by value.
"""

from __future__ import annotations

import os
import pickle
import shlex
import struct
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from _tf_vgg_reference import random_conv_weights
from conftest import save_untrained_generator, tiny_demo_args
from PIL import Image

from beautygan.cli import main as beautygan_main
from beautygan.data.mt import DatasetError, MTDataset, list_domain
from beautygan.data.synthetic import write_synthetic_mt
from beautygan.training.checkpoint_files import load_checkpoint_file
from beautygan.training.loss_weights import LossWeights
from beautygan.training.speed import SpeedOptions
from perceptual.cli import main as perceptual_main
from perceptual.safe_pickle import RefusedPickleError, load_npy
from perceptual.weights_formats import load_npy_weights

pytestmark = [
    pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

SYSTEM = f"{os.system.__module__}.system"  # how a pickle names os.system: posix.system on Linux


class _Payload:
    """Unpickling this runs ``touch MARKER``: what a hostile file hides in a ``__reduce__``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


def _hostile_checkpoint(path: Path, marker: Path) -> Path:
    """A checkpoint dict as Lightning writes one, with the payload among its hyper-parameters."""
    torch.save(
        {
            "epoch": 0,
            "global_step": 2,
            "pytorch-lightning_version": L.__version__,
            "state_dict": {"generator.non_makeup_branch.0.weight": torch.zeros(4, 3, 7, 7)},
            "hyper_parameters": {"generator_width": 4, "residual_blocks": 1, "note": _Payload(marker)},
        },
        path,
    )
    return path


def _hostile_npy(path: Path, marker: Path) -> Path:
    """``np.save`` of a dict like vgg16.npy's, one of whose values is the payload."""
    data = {"conv1_1": [np.zeros((3, 3, 3, 64), np.float32), np.zeros(64, np.float32)], "x": _Payload(marker)}
    np.save(path, data, allow_pickle=True)
    return path


def test_the_payload_runs_under_a_plain_unpickler(tmp_path: Path) -> None:
    """The hostile files below are live: a plain ``pickle`` / ``torch.load(weights_only=False)`` runs them."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()
    marker.unlink()
    torch.load(_hostile_checkpoint(tmp_path / "x.ckpt", marker), weights_only=False)
    assert marker.exists()
    marker.unlink()
    np.load(_hostile_npy(tmp_path / "x.npy", marker), allow_pickle=True)
    assert marker.exists()


# ---------------------------------------------------------------------------------------------- checkpoints
@pytest.fixture(scope="module")
def mt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_mt(tmp_path_factory.mktemp("mt"), n=4, size=32, held_out=1, seed=0)


def _lightning_args(command: str, root: Path, runs: Path, *extra: str) -> list[str]:
    return tiny_demo_args(command, root, runs, "--trainer.max_epochs", "1", *extra)


def _one_line_refusal(capsys, code: int, path: Path, marker: Path, prog: str) -> None:
    err = capsys.readouterr().err
    assert code == 2, err
    assert not marker.exists(), "the payload ran"
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"{prog}: error: checkpoint {path} needs {SYSTEM}, which a beautygan fit checkpoint never")
    assert "refused, nothing in it was run" in err


@pytest.mark.parametrize("command", ["fit", "validate"])
def test_a_hostile_checkpoint_path_runs_nothing(command: str, mt: Path, tmp_path: Path, capsys) -> None:
    marker = tmp_path / "ran"
    bad = _hostile_checkpoint(tmp_path / "model.ckpt", marker)
    code = beautygan_main(_lightning_args(command, mt, tmp_path / "runs", "--ckpt_path", str(bad)))
    _one_line_refusal(capsys, code, bad, marker, "beautygan")
    assert not (tmp_path / "runs").exists()


def test_a_hostile_last_ckpt_in_the_run_folder_runs_nothing(mt: Path, tmp_path: Path, capsys) -> None:
    marker = tmp_path / "ran"
    runs = tmp_path / "runs"
    folder = runs / "tensorboard" / "version_0" / "checkpoints"
    folder.mkdir(parents=True)
    bad = _hostile_checkpoint(folder / "last.ckpt", marker)
    code = beautygan_main(_lightning_args("fit", mt, runs, "--ckpt_path", "last"))
    _one_line_refusal(capsys, code, bad, marker, "beautygan")
    assert sorted(p.name for p in (runs / "tensorboard").iterdir()) == ["version_0"]  # nothing new was started


def test_a_hostile_checkpoint_runs_nothing_in_transfer_and_app(tmp_path: Path, capsys) -> None:
    marker = tmp_path / "ran"
    bad = _hostile_checkpoint(tmp_path / "model.ckpt", marker)
    face = tmp_path / "face.png"
    Image.new("RGB", (32, 32), (200, 150, 120)).save(face)
    out = tmp_path / "out.png"
    args = ["--source", str(face), "--reference", str(face), "--out", str(out), "--no-align"]
    code = beautygan_main(["transfer", "--ckpt", str(bad), *args])
    _one_line_refusal(capsys, code, bad, marker, "beautygan transfer")
    assert not out.exists()
    pytest.importorskip("gradio", reason="the 'app' extra is not installed")
    code = beautygan_main(["app", "--ckpt", str(bad), "--no-align", "--device", "cpu"])
    _one_line_refusal(capsys, code, bad, marker, "beautygan app")


def test_checkpoints_with_our_own_types_still_load_and_resume(mt: Path, tmp_path: Path, capsys) -> None:
    """A checkpoint as the Python API writes it (before and after this change: hyper-parameters holding the
    LossWeights and SpeedOptions dataclasses, a Path data root) loads with weights_only=True, validates through the
    CLI and resumes training."""
    from beautygan.training.checkpoint_io import AtomicCheckpointIO
    from beautygan.training.datamodule import MTDataModule
    from beautygan.training.module import BeautyGAN

    def trainer(epochs: int) -> L.Trainer:
        return L.Trainer(
            accelerator="cpu",
            max_epochs=epochs,
            limit_train_batches=1,
            limit_val_batches=0,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            plugins=[AtomicCheckpointIO()],
            default_root_dir=tmp_path,
        )

    def model() -> BeautyGAN:
        weights = LossWeights(lips=3.0)
        kwargs = dict(generator_width=4, residual_blocks=1, discriminator_width=4, perceptual_layer="relu2_1")
        return BeautyGAN(**kwargs, monitor_layers=["relu1_2"], vgg_weights="random", loss_weights=weights,
                         speed=SpeedOptions())  # fmt: skip

    first = trainer(1)
    first.fit(model(), datamodule=MTDataModule(mt, image_size=32, batch_size=2, num_workers=0))  # type: ignore[arg-type]
    path = tmp_path / "api.ckpt"
    first.save_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError, match="LossWeights"):  # not plain: torch alone refuses it
        torch.load(path, weights_only=True)
    checkpoint = load_checkpoint_file(path)
    assert checkpoint["hyper_parameters"]["loss_weights"] == LossWeights(lips=3.0)
    assert checkpoint["hyper_parameters"]["speed"] == SpeedOptions()
    assert checkpoint["datamodule_hyper_parameters"]["root"] == mt and isinstance(mt, Path)

    second = trainer(2)
    resumed = model()
    second.fit(resumed, datamodule=MTDataModule(mt, image_size=32, batch_size=2, num_workers=0), ckpt_path=path)  # type: ignore[arg-type]
    assert second.current_epoch == 2 and resumed.batches_seen == 2  # one batch per epoch, both epochs counted

    capsys.readouterr()
    code = beautygan_main(_lightning_args("validate", mt, tmp_path / "runs", "--ckpt_path", str(path)))
    assert code == 0, capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- foreign files
def test_foreign_and_partial_checkpoints_are_one_line_naming_the_file(mt: Path, tmp_path: Path, capsys) -> None:
    from beautygan.training.module import BeautyGAN

    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}}, foreign)
    model = BeautyGAN(
        generator_width=4,
        residual_blocks=1,
        discriminator_width=4,
        generator_output="attention",
        perceptual_layer="relu2_1",
        monitor_layers=["relu1_2", "relu2_1", "relu3_1"],
        vgg_weights="random",
    )
    state = model.state_dict()
    partial = tmp_path / "partial.ckpt"
    dropped = sorted(state)[:2]
    torch.save(
        {
            "pytorch-lightning_version": L.__version__,
            "state_dict": {k: v for k, v in state.items() if k not in dropped},
            "optimizer_states": [],
            "loops": {},
        },
        partial,
    )
    model_only = tmp_path / "weights_only.ckpt"
    torch.save({"pytorch-lightning_version": L.__version__, "state_dict": state}, model_only)
    expected = {
        foreign: f"checkpoint {foreign} was not written by Lightning (no 'pytorch-lightning_version'",
        partial: f"checkpoint {partial} does not fit this model: 2 of the model's {len(state)} tensors are missing "
        f"({dropped[0]}, {dropped[1]})",
        model_only: f"checkpoint {model_only} holds the model but not the training state (optimizer_states, loops)",
    }
    for path, message in expected.items():
        code = beautygan_main(_lightning_args("fit", mt, tmp_path / "runs", "--ckpt_path", str(path)))
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
        assert err.startswith(f"beautygan: error: {message}"), err
    assert not (tmp_path / "runs" / "tensorboard").exists()

    face = tmp_path / "face.png"
    Image.new("RGB", (32, 32), (200, 150, 120)).save(face)
    small = save_untrained_generator(tmp_path / "g.ckpt", size=32)
    wrong = load_checkpoint_file(small)
    wrong["hyper_parameters"]["generator_width"] = 16  # the tensors are width 8
    torch.save(wrong, tmp_path / "wrong.ckpt")
    for path, message in (
        (foreign, f"checkpoint {foreign} holds no generator"),
        (tmp_path / "wrong.ckpt", f"checkpoint {tmp_path / 'wrong.ckpt'} does not hold a generator of the shape"),
    ):
        out = tmp_path / "out.png"
        args = ["transfer", "--ckpt", str(path), "--source", str(face), "--reference", str(face), "--out", str(out)]
        code = beautygan_main([*args, "--no-align"])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and err.startswith(f"beautygan transfer: error: {message}"), err
        assert not out.exists()


# ---------------------------------------------------------------------------------------------- TF .npy weights
def _py2_str(data: bytes) -> bytes:
    """A Python 2 ``str`` as protocol 2 writes it: SHORT_BINSTRING / BINSTRING."""
    if len(data) < 256:
        return b"U" + bytes([len(data)]) + data
    return b"T" + struct.pack("<i", len(data)) + data


def _py2_global(module: bytes, name: bytes) -> bytes:
    return b"c" + module + b"\n" + name + b"\n"


def _py2_dtype(code: bytes, order: bytes, flags: int) -> bytes:
    """``numpy.dtype(code, 0, 1)`` then its state ``(3, order, None, None, None, -1, -1, flags)``."""
    return (
        _py2_global(b"numpy", b"dtype")
        + _py2_str(code)
        + b"K\x00K\x01\x87R"
        + b"(K\x03"
        + _py2_str(order)
        + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xff"
        + bytes([ord("K"), flags])
        + b"tb"
    )


def _py2_array_head() -> bytes:
    """``numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), 'b')``."""
    return (
        _py2_global(b"numpy.core.multiarray", b"_reconstruct")
        + _py2_global(b"numpy", b"ndarray")
        + b"K\x00\x85"
        + _py2_str(b"b")
        + b"\x87R"
    )


def _py2_float32_array(array: np.ndarray) -> bytes:
    shape = b"(" + b"".join(b"J" + struct.pack("<i", size) for size in array.shape) + b"t"
    state = b"(K\x01" + shape + _py2_dtype(b"f4", b"<", 0) + b"\x89" + _py2_str(array.astype("<f4").tobytes()) + b"tb"
    return _py2_array_head() + state


def write_py2_npy(path: Path, layers: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """``np.save(path, {"conv1_1": [W, b], ...})`` as numpy 1 under Python 2 wrote it: a version 1.0 header for a 0-d
    object array, then a protocol-2 pickle whose keys and array data are Python 2 byte strings."""
    items = b"".join(
        _py2_str(name.encode()) + b"](" + _py2_float32_array(kernel) + _py2_float32_array(bias) + b"e"
        for name, (kernel, bias) in layers.items()
    )
    payload = b"\x80\x02" + _py2_array_head() + b"(K\x01)" + _py2_dtype(b"O8", b"|", 63) + b"\x89]}(" + items + b"uatb."
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (), }"
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + payload)


def test_a_python2_vgg16_npy_reads_by_value(tmp_path: Path) -> None:
    convs = random_conv_weights("vgg16", seed=2)
    path = tmp_path / "vgg16.npy"
    write_py2_npy(path, convs)
    with pytest.raises(UnicodeDecodeError):  # its byte strings need latin1, as np.load is told for these files
        pickle.loads(path.read_bytes()[128:])
    data = load_npy(path)
    assert sorted(data) == sorted(convs) and all(isinstance(key, str) for key in data)
    weights = load_npy_weights(path)
    assert weights.arch == "vgg16"
    torch_indices = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    for index, (name, (kernel, bias)) in zip(torch_indices, convs.items()):
        got = weights.features[f"{index}.weight"].numpy()
        np.testing.assert_array_equal(np.einsum("oihw->hwio", got), kernel, err_msg=name)  # TF HWIO -> torch OIHW
        np.testing.assert_array_equal(weights.features[f"{index}.bias"].numpy(), bias, err_msg=name)


def test_the_allow_list_unpickler_refuses_every_other_global(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    bad = _hostile_npy(tmp_path / "vgg16.npy", marker)
    with pytest.raises(RefusedPickleError, match=f"refused to unpickle {SYSTEM}") as info:
        load_npy(bad)
    assert info.value.name == SYSTEM and isinstance(info.value, ValueError) and not marker.exists()
    for module, name in [("builtins", "eval"), ("numpy", "load"), ("numpy.lib.format", "read_array"), ("os", "system")]:
        sneaky = b"\x80\x02" + _py2_global(module.encode(), name.encode()) + b"."
        path = tmp_path / f"{name}.npy"
        header = "{'descr': '|O', 'fortran_order': False, 'shape': (), }".ljust(117) + "\n"
        path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + sneaky)
        with pytest.raises(RefusedPickleError, match=f"refused to unpickle {module}.{name}"):
            load_npy(path)
    plain = tmp_path / "plain.npy"
    np.save(plain, np.arange(6, dtype=np.int16).reshape(2, 3))
    np.testing.assert_array_equal(load_npy(plain), np.arange(6, dtype=np.int16).reshape(2, 3))


def _photo(path: Path) -> Path:
    Image.new("RGB", (32, 32), (120, 90, 60)).save(path)
    return path


@pytest.mark.parametrize(
    "command",
    [
        ["maps", "{photo}", "--weights", "{npy}", "--layers", "relu1_1", "--out", "{tmp}/maps"],
        ["convert-weights", "{npy}", "{tmp}/vgg16.safetensors"],
        [
            "dream",
            "--weights",
            "{npy}",
            "--layer",
            "relu1_1",
            "--noise",
            "32",
            "--iterations",
            "1",
            "--out",
            "{tmp}/d.png",
        ],
        ["classify", "--weights", "{npy}", "{photo}"],
    ],
    ids=["maps", "convert-weights", "dream", "classify"],
)
def test_a_hostile_npy_runs_nothing_in_the_perceptual_commands(command, tmp_path: Path, capsys) -> None:
    marker = tmp_path / "ran"
    npy = _hostile_npy(tmp_path / "vgg16.npy", marker)
    photo = _photo(tmp_path / "photo.png")
    code = perceptual_main([part.format(npy=npy, photo=photo, tmp=tmp_path) for part in command])
    err = capsys.readouterr().err
    assert code == 2 and not marker.exists()
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"{npy}: refused to unpickle {SYSTEM}: a weights file holds arrays, numbers and strings only" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png", "vgg16.npy"]  # nothing written


def test_a_hostile_npy_runs_nothing_in_the_app(tmp_path: Path, capsys) -> None:
    pytest.importorskip("gradio", reason="the 'app' extra is not installed")
    marker = tmp_path / "ran"
    npy = _hostile_npy(tmp_path / "vgg16.npy", marker)
    ckpt = save_untrained_generator(tmp_path / "g.ckpt", size=32)
    code = beautygan_main(["app", "--ckpt", str(ckpt), "--no-align", "--device", "cpu", "--vgg-weights", str(npy)])
    err = capsys.readouterr().err
    assert code == 2 and not marker.exists() and err.count("\n") == 1, err
    assert err.startswith(f"beautygan app: error: --vgg-weights {npy}: {npy}: refused to unpickle {SYSTEM}"), err


# ---------------------------------------------------------------------------------------------- stored paths
def test_a_weights_file_named_in_a_checkpoint_is_not_opened_by_validate(mt: Path, tmp_path: Path, capsys) -> None:
    """LightningCLI copies the checkpoint's hyper-parameters over the config: the stored ``vgg_weights`` file is not
    opened unless the command line names it too."""
    from beautygan.training.module import BeautyGAN

    marker = tmp_path / "ran"
    npy = _hostile_npy(tmp_path / "vgg16.npy", marker)
    hparams = dict(
        generator_width=4,
        residual_blocks=1,
        discriminator_width=4,
        generator_output="attention",
        perceptual_layer="relu2_1",
        monitor_layers=["relu1_2", "relu2_1", "relu3_1"],
    )
    model = BeautyGAN(**hparams, vgg_weights="random")
    path = tmp_path / "model.ckpt"
    torch.save(
        {
            "pytorch-lightning_version": L.__version__,
            "state_dict": model.state_dict(),
            "hyper_parameters": {**hparams, "vgg_weights": str(npy)},
        },
        path,
    )
    code = beautygan_main(_lightning_args("validate", mt, tmp_path / "runs", "--ckpt_path", str(path)))
    out = capsys.readouterr().out
    assert code == 0 and not marker.exists()
    assert (
        f"beautygan: note: the checkpoint was trained with the VGG weights file {npy}, which is not opened unless "
        f"you name it: using random; pass --model.vgg_weights {npy} to use it"
    ) in out
    # Named by the user, it is opened (and refused: nothing runs either way).
    code = beautygan_main(
        _lightning_args("validate", mt, tmp_path / "runs", "--ckpt_path", str(path), "--model.vgg_weights", str(npy))
    )
    err = capsys.readouterr().err
    assert code == 2 and not marker.exists() and f"refused to unpickle {SYSTEM}" in err and err.count("\n") == 1


def test_the_app_opens_no_path_named_in_its_checkpoint(mt: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    """The checkpoint names a VGG file (hostile here) and a data root: the app opens neither, says which they are
    and how to pass them, and serves only the example files the user named."""
    pytest.importorskip("gradio", reason="the 'app' extra is not installed")
    import beautygan.app

    marker = tmp_path / "ran"
    npy = _hostile_npy(tmp_path / "vgg16.npy", marker)
    ckpt = save_untrained_generator(
        tmp_path / "g.ckpt",
        size=32,
        hyper_parameters={"vgg_weights": str(npy), "perceptual_layer": "relu2_1"},
        datamodule_hyper_parameters={"root": str(mt)},
        vgg_used={"arch": "vgg16", "weights": str(npy), "provenance": "from file"},
    )
    served: dict = {}
    monkeypatch.setattr(beautygan.app, "launch", lambda blocks, **kwargs: served.update(kwargs))
    args = ["app", "--ckpt", str(ckpt), "--no-align", "--device", "cpu", "--port", "1"]
    monkeypatch.setattr("beautygan.cli.app._cannot_listen", lambda host, port: None)
    assert beautygan_main(args) == 0
    out = capsys.readouterr().out
    assert not marker.exists()
    assert (
        f"note: the checkpoint was trained with the VGG weights file {npy}, which is not opened unless you name it: "
        f"comparing with imagenet; pass --vgg-weights {npy} to compare with it"
    ) in out
    assert f"note: the checkpoint was trained on {mt}: pass --examples {mt}" in out
    assert all(str(mt) not in str(path) for path in served["allowed_paths"])  # its faces were not offered

    assert beautygan_main([*args, "--examples", str(mt), "--vgg-weights", "random_normalized"]) == 0
    capsys.readouterr()
    held_out = [mt / "images" / domain / name for domain in ("non-makeup", "makeup") for name in
                list_domain(mt, domain, "test")]  # fmt: skip
    files = [path for path in served["allowed_paths"] if str(path).startswith(str(mt))]
    assert sorted(files) == sorted(p.resolve() for p in held_out) and all(p.is_file() for p in files)
    assert served["max_file_mb"] == 100


# ---------------------------------------------------------------------------------------------- data lists
@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("../../../../etc/hostname", "climbs out with '..'"),
        ("makeup/../../segs/makeup/mk_0000.png", "climbs out with '..'"),
        ("/etc/hostname", "is an absolute path"),
        ("outside.png", "resolves to"),
    ],
    ids=["dotdot", "dotdot-inside-prefix", "absolute", "symlink"],
)
def test_data_list_lines_that_leave_the_root_are_refused_with_file_and_line(tmp_path: Path, line: str, why: str):
    root = write_synthetic_mt(tmp_path / "mt", n=4, size=32, held_out=1, seed=0)
    outside = _photo(tmp_path / "secret.png")
    (root / "images" / "makeup" / "outside.png").symlink_to(outside)
    listing = root / "makeup_test.txt"
    listing.write_text(listing.read_text() + f"{line}\n")
    number = len(listing.read_text().splitlines())
    with pytest.raises(DatasetError) as info:
        MTDataset(root, split="test", image_size=32)
    assert f"{listing}:{number}: " in str(info.value) and why in str(info.value)
    with pytest.raises(DatasetError, match=f"{listing}:{number}"):
        list_domain(root, "makeup", "test")
