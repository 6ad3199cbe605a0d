"""``perceptual``'s lazy namespace: the name -> module table that ``__getattr__`` imports from, and the
``TYPE_CHECKING`` imports that type checkers read instead, are written twice in ``perceptual/__init__.py``. Both are
read here from the source with ``ast`` (not from the running module) and must name the same names from the same
modules."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import perceptual

SOURCE = Path(perceptual.__file__)


def _module_tree() -> ast.Module:
    return ast.parse(SOURCE.read_text(), filename=str(SOURCE))


def _table() -> dict[str, str]:
    """The ``_SOURCES`` dict literal, as written."""
    for node in _module_tree().body:
        target = (
            node.target
            if isinstance(node, ast.AnnAssign)
            else (node.targets[0] if isinstance(node, ast.Assign) else None)
        )
        if isinstance(target, ast.Name) and target.id == "_SOURCES":
            assert isinstance(node.value, ast.Dict), "_SOURCES must be a dict literal"
            keys = [ast.literal_eval(key) for key in node.value.keys if key is not None]
            assert len(keys) == len(set(keys)), f"_SOURCES repeats {sorted(k for k in keys if keys.count(k) > 1)}"
            return {key: ast.literal_eval(value) for key, value in zip(keys, node.value.values)}
    raise AssertionError("perceptual/__init__.py defines no _SOURCES table")


def _type_checking_imports() -> list[tuple[str, str]]:
    """``(module, name)`` of every import under ``if TYPE_CHECKING:``, in order (repeats kept)."""
    for node in _module_tree().body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            imports = []
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom) and statement.module, (
                    f"line {statement.lineno}: only 'from module import name' belongs in the TYPE_CHECKING block"
                )
                for alias in statement.names:
                    assert alias.asname is None, f"line {statement.lineno}: {alias.name} is imported under another name"
                    imports.append((statement.module, alias.name))
            return imports
    raise AssertionError("perceptual/__init__.py has no 'if TYPE_CHECKING:' block")


def test_type_checking_block_imports_exactly_the_table() -> None:
    table = _table()
    imports = _type_checking_imports()
    names = [name for _, name in imports]
    assert sorted(name for name in set(names) if names.count(name) > 1) == []
    imported = {name: module for module, name in imports}
    assert sorted(set(table) - set(imported)) == [], "in _SOURCES but not imported under TYPE_CHECKING"
    assert sorted(set(imported) - set(table)) == [], "imported under TYPE_CHECKING but not in _SOURCES"
    wrong = {name: (table[name], imported[name]) for name in table if imported[name] != table[name]}
    assert wrong == {}, "name: (module in _SOURCES, module in the TYPE_CHECKING import)"


def test_every_table_name_is_public_and_resolves_to_its_module() -> None:
    table = _table()
    assert set(perceptual.__all__) == set(table) | {"__version__"}
    assert len(perceptual.__all__) == len(set(perceptual.__all__))
    for name, module in table.items():
        value = getattr(perceptual, name)
        assert value is getattr(importlib.import_module(module), name), name
        assert name in dir(perceptual)


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="module 'perceptual' has no attribute 'VGGFeature'"):
        perceptual.VGGFeature  # noqa: B018
