"""The package layout the README promises: imports run one way (no cycle, function-local imports included), the
wheel installs `perceptual` and `beautygan` and nothing generic, `import perceptual` loads no Lightning, and
`beautygan --help` lists every command."""

from __future__ import annotations

import ast
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


@pytest.mark.parametrize("package", ["perceptual"])
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
