"""The package layout the README promises: imports run one way (no cycle, function-local imports included; in
`beautygan`, from its base up through training and inference to the app and the command line), no private name is
imported across modules, the wheel installs `perceptual` and `beautygan` and nothing generic, `import perceptual`
loads no Lightning, using a trained generator (BeautyGAN's or the PSGAN-style one) needs no Lightning, and
`beautygan --help` lists every command."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {"perceptual": REPO / "perceptual", "beautygan": REPO / "experiments" / "beautygan"}


def _module_name(package: str, root: Path, path: Path) -> str:
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph(package: str) -> dict[str, set[str]]:
    """Every module of ``package`` -> the modules of the same package it imports (any depth in the file)."""
    root = PACKAGES[package]
    modules = {_module_name(package, root, p): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        base = name.split(".") if is_package else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = base[: len(base) - node.level + 1]
                    stem = ".".join([*anchor, node.module] if node.module else anchor)
                else:
                    stem = node.module or ""
                # `from pkg import sub` imports the submodule; `from pkg import name` imports pkg's __init__
                targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in modules else stem for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_import_cycle(package: str) -> None:
    graph = _import_graph(package)
    assert len(graph) > 5
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_import_perceptual_loads_no_lightning() -> None:
    code = "import sys, perceptual; print(sorted(m for m in ('lightning', 'tensorboard', 'beautygan') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_wheel_installs_perceptual_and_beautygan_only(tmp_path: Path) -> None:
    pytest.importorskip("setuptools")
    source = tmp_path / "src"  # a copy: an in-tree build/ folder would keep stale modules between builds
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "assets")
    for name in ("perceptual", "experiments"):
        shutil.copytree(REPO / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"could not build a wheel here: {result.stderr[-300:]}")
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"perceptual", "beautygan"}
    shipped = {n for n in names if n.endswith(".py")}
    expected = {f"{pkg}/{p.relative_to(root).as_posix()}" for pkg, root in PACKAGES.items() for p in root.rglob("*.py")}
    assert expected - {n for n in expected if "__pycache__" in n} <= shipped  # every module, subpackages included
    assert not any("ddp_smoke" in n for n in names)  # the DDP test helper stays in tests/


def test_beautygan_help_lists_every_command() -> None:
    from beautygan.cli import COMMANDS, main

    out = subprocess.run(
        [sys.executable, "-c", "from beautygan.cli import main; raise SystemExit(main(['--help']))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = (
        "fit",
        "validate",
        "test",
        "predict",
        "transfer",
        "gallery",
        "interpolate",
        "prepare-faces",
        "evaluate",
        "synthetic",
        "app",
    )
    for name in names:
        assert f"\n  {name} " in out, name
    assert len(COMMANDS) == len(names) and main(["no-such-command"]) == 2


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_only_the_cli_modules_parse_arguments(package: str) -> None:
    """Library modules take typed arguments; argparse lives in ``<package>/cli/`` (one thin module per command)."""
    root = PACKAGES[package]
    offenders = []
    for path in root.rglob("*.py"):
        if path.relative_to(root).parts[0] == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if "argparse" in names:
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def test_perceptual_layers_runs_without_torch() -> None:
    """``perceptual layers`` is arithmetic on VGG's configuration: neither the package nor the command line loads
    torch, numpy or PIL for it."""
    code = (
        "import sys; from perceptual.cli import main; code = main(['layers', '--arch', 'vgg19']); "
        "print(code, sorted(m for m in ('torch', 'numpy', 'PIL', 'lightning') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "relu5_4" in out and out.strip().endswith("0 []")


def _private_imports(root: Path) -> list[str]:
    """Every ``from x import _name`` under ``root`` (one leading underscore: dunders such as ``__version__`` and
    ``from __future__ import ...`` are not private names), as ``path:line: name``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or node.module == "__future__":
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{path.relative_to(root.parent).as_posix()}:{node.lineno}: {alias.name}")
    return found


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_private_name_is_imported_across_modules(package: str) -> None:
    """A name another module uses is public (no leading underscore), so ``_name`` means "only this file uses it"."""
    assert _private_imports(PACKAGES[package]) == []


def test_the_private_import_finder_finds_one(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("from __future__ import annotations\n\n_helper = 1\n__version__ = '1'\n")
    (package / "b.py").write_text(
        "from __future__ import annotations\n\nfrom pkg.a import __version__\n\n\ndef f():\n    from .a import _helper\n"
    )
    assert _private_imports(package) == ["pkg/b.py:7: _helper"]


# ------------------------------------------------------------------------------------------------ beautygan by role
BEAUTYGAN_RANKS = {
    "beautygan": 0,  # the package itself
    "beautygan.data": 0,  # the MT dataset, regions, synthetic faces, face alignment, photo limits, transfer metrics
    "beautygan.models": 0,  # the networks
    "beautygan.labelled_grid": 0,  # the labelled grids of the sample grids and the strips
    "beautygan.training": 1,  # the LightningModule, its losses, callbacks, checkpoint files and IO, resume
    "beautygan.inference": 2,  # the trained generator, controls, photo transfer, galleries, evaluation
    "beautygan.app": 3,  # the web page
    "beautygan.cli": 4,  # the command line
    "beautygan.demo": 4,  # `make demo`
}
"""Where each part of ``beautygan`` sits: a module imports modules of its own rank or lower, never higher."""


def _rank(module: str, ranks: dict[str, int]) -> int | None:
    """The rank of the longest entry of ``ranks`` that is ``module`` or a package holding it."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in ranks:
            return ranks[".".join(parts[:end])]
    return None


def _upward_imports(graph: dict[str, set[str]], ranks: dict[str, int]) -> list[str]:
    """Every import of ``graph`` from a module to one of a higher rank, as ``a (rank) -> b (rank)``."""
    found = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            here, there = _rank(module, ranks), _rank(target, ranks)
            if here is not None and there is not None and there > here:
                found.append(f"{module} ({here}) -> {target} ({there})")
    return found


def test_every_beautygan_module_has_a_rank() -> None:
    assert [m for m in _import_graph("beautygan") if _rank(m, BEAUTYGAN_RANKS) is None] == []


def test_beautygan_imports_run_one_way() -> None:
    """data and models, then training, then inference, then the app, the command line and the demo: no import
    (function-local ones included) from a lower rank to a higher one."""
    assert _upward_imports(_import_graph("beautygan"), BEAUTYGAN_RANKS) == []


def test_the_rank_check_finds_an_upward_import() -> None:
    ranks = {"p.base": 0, "p.top": 1}
    graph = {"p.base.a": {"p.top.b"}, "p.top.b": {"p.base.a"}, "p.top": set()}
    assert _upward_imports(graph, ranks) == ["p.base.a (0) -> p.top.b (1)"]
    assert _rank("p.top", ranks) == 1 and _rank("q", ranks) is None


_NO_LIGHTNING = """
import importlib.abc, sys

class NoLightning(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("lightning", "pytorch_lightning", "lightning_fabric"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoLightning())
"""
"""Makes ``lightning`` unimportable in the process that runs it, as in an environment without the ``train``
extra."""

LIGHTNING_FREE_TRAINING = ("checkpoint_files", "loss_weights", "speed", "histogram", "resume")
"""The modules of ``beautygan.training`` that inference uses (checkpoint files, and the types a checkpoint's
hyper-parameters hold) and that need no Lightning."""


def _inference_modules() -> list[str]:
    """Every module that using a trained model may import: all but training (save its plain modules), ``cli.fit``
    (the LightningCLI commands) and the demo (which trains)."""
    names = []
    for name in _import_graph("beautygan"):
        if name.startswith("beautygan.training"):
            if name.rsplit(".", 1)[-1] in (*LIGHTNING_FREE_TRAINING, "training"):
                names.append(name)
        elif name not in ("beautygan.cli.fit", "beautygan.demo"):
            names.append(name)
    return sorted(names)


@pytest.mark.parametrize("generator", ["beautygan", "psgan"])
def test_using_a_trained_model_needs_no_lightning(tmp_path: Path, generator: str) -> None:
    """In a process where ``import lightning`` fails, every inference, app and command-line module imports, each
    command that uses a trained model shows its help, and transfer, gallery, interpolate and evaluate run on a
    checkpoint written as ``beautygan fit`` writes one, of either generator; the training modules that need Lightning
    do fail there."""
    from conftest import save_untrained_generator

    from beautygan.data.synthetic import write_synthetic_mt

    root = write_synthetic_mt(tmp_path / "mt", n=3, size=32, held_out=2, seed=0)
    ckpt = save_untrained_generator(tmp_path / "run" / "last.ckpt", size=32, generator=generator)
    source, reference, other = (
        root / "images" / "non-makeup" / "nm_0000.png",
        root / "images" / "makeup" / "mk_0001.png",
        root / "images" / "makeup" / "mk_0002.png",
    )
    commands = {
        "transfer": ["--source", source, "--reference", reference, "--out", tmp_path / "out.png", "--no-align"],
        "gallery": ["--data-dir", root, "--count", 2, "--cell", 32, "--out", tmp_path / "gallery.png"],
        "interpolate": ["--source", source, "--reference", reference, "--reference", other, "--steps", 3],
        "evaluate": ["--data-dir", root, "--n", 2, "--no-faces", "--out", tmp_path / "eval"],
    }
    commands["interpolate"] += ["--cell", 32, "--no-align", "--out", tmp_path / "strip.png"]
    runs = {name: ["--ckpt", str(ckpt), "--device", "cpu", *map(str, args)] for name, args in commands.items()}
    code = (
        _NO_LIGHTNING
        + """
import contextlib, importlib, io, json
modules, runs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
try:
    import lightning
except ModuleNotFoundError:
    blocked = True
else:
    blocked = False
failed = {}
for name in modules:
    try:
        importlib.import_module(name)
    except Exception as err:
        failed[name] = f"{type(err).__name__}: {err}"
from beautygan.cli import main
helps, codes, needs = {}, {}, {}
with contextlib.redirect_stdout(io.StringIO()):
    for name in ("transfer", "gallery", "interpolate", "evaluate", "app"):
        helps[name] = main([name, "--help"])
    for name, args in runs.items():
        codes[name] = main([name, *args])
for name in ("beautygan.training.module", "beautygan.training.checkpoint_io", "beautygan.training.datamodule"):
    try:
        importlib.import_module(name)
        needs[name] = None
    except ModuleNotFoundError as err:
        needs[name] = err.name
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "lightning")
print(json.dumps(dict(blocked=blocked, failed=failed, helps=helps, codes=codes, needs=needs, lightning=loaded)))
"""
    )
    argv = [json.dumps(_inference_modules()), json.dumps(runs)]
    result = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["blocked"] and report["lightning"] == []
    assert report["failed"] == {}
    assert report["helps"] == dict.fromkeys(("transfer", "gallery", "interpolate", "evaluate", "app"), 0)
    assert report["codes"] == dict.fromkeys(commands, 0), result.stderr[-3000:]
    lightning_modules = (
        "beautygan.training.module",
        "beautygan.training.checkpoint_io",
        "beautygan.training.datamodule",
    )
    assert report["needs"] == dict.fromkeys(lightning_modules, "lightning")  # the blocker works
    for path in ("out.png", "gallery.png", "gallery.html", "strip.png", "eval/metrics.csv"):
        assert (tmp_path / path).is_file(), path
    assert len(_inference_modules()) > 25  # the data, models, inference, app and cli modules, not a few
