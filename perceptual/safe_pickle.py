"""Reading pickled ``.npy`` files without running code from them: an allow-list unpickler.

A pickle is a program: its ``GLOBAL`` opcodes import any callable and ``REDUCE`` calls it, so ``np.load(path,
allow_pickle=True)`` on a stranger's file can run anything (``os.system`` is one ``__reduce__`` away). Some files
are pickled by design, such as the TensorFlow VGG ports' ``vgg16.npy`` (machrisaa/tensorflow-vgg): ``np.save`` of a
dict of numpy arrays under Python 2, a 0-d object array whose payload is a protocol-2 pickle.

:class:`ArrayUnpickler` resolves a short, fixed table of globals (the callables numpy's own pickles use to rebuild
arrays, dtypes and scalars, under their numpy 1 and numpy 2 module names, plus ``complex`` and the ``latin1``
bytes encoding that Python 3 protocol-2 pickles use) and refuses every other one with :class:`RefusedPickleError`,
before anything is called. Dicts, lists, tuples, strings, bytes and numbers need no global at all. The globals are
taken from the table, never imported by the name in the file. :func:`load_npy` reads the ``.npy`` header with
numpy's ``numpy.lib.format`` and unpickles an object array's payload with it (``encoding="latin1"``, which decodes
Python 2 byte strings, as ``np.load`` is told to for these files).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import numpy.lib.format as npy_format

__all__ = ["ArrayUnpickler", "RefusedPickleError", "load_npy"]


class RefusedPickleError(pickle.UnpicklingError, ValueError):
    """A pickle asked for a global outside the allow-list; nothing from it was called. ``name`` is the global
    (``module.name``) it asked for."""

    def __init__(self, message: str, *, name: str) -> None:
        super().__init__(message)
        self.name = name


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as Python 3 protocol-2 pickles call it for ``bytes``, for the ``latin1`` codec only."""
    if not isinstance(text, str) or encoding.lower().replace("-", "").replace("_", "") not in ("latin1", "iso88591"):
        raise pickle.UnpicklingError(f"_codecs.encode is allowed for latin1 strings only, got encoding {encoding!r}")
    return text.encode("latin1")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """``(module, name)`` as a pickle spells it -> the object it is given."""
    try:  # numpy >= 2
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]

    table: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("builtins", "complex"): complex,
        ("__builtin__", "complex"): complex,  # a Python 2 pickle (Unpickler's fix_imports maps it too)
        ("_codecs", "encode"): _latin1_bytes,
    }
    for module in ("numpy.core", "numpy._core"):
        table[(f"{module}.multiarray", "_reconstruct")] = multiarray._reconstruct
        table[(f"{module}.multiarray", "scalar")] = multiarray.scalar
        table[(f"{module}.numeric", "_frombuffer")] = numeric._frombuffer  # type: ignore[attr-defined]
    return table


class ArrayUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that gives out only numpy's array, dtype and scalar rebuilders (and ``complex``); any
    other global raises :class:`RefusedPickleError` naming it. ``source`` names the file in that message."""

    def __init__(self, file: Any, *, source: str = "the pickle", encoding: str = "latin1") -> None:
        super().__init__(file, encoding=encoding)
        self.source = source
        self._globals = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        found = self._globals.get((module, name))
        if found is None:
            raise RefusedPickleError(
                f"{self.source}: refused to unpickle {module}.{name}: a weights file holds arrays, numbers and "
                "strings only, and nothing in it was run",
                name=f"{module}.{name}",
            )
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise RefusedPickleError(f"{self.source}: refused a persistent id in the pickle", name="persistent_load")


def load_npy(path: str | os.PathLike) -> Any:
    """The content of the ``.npy`` file ``path``: a plain array read as ``np.load`` reads it, or an object array
    (a pickled payload) through :class:`ArrayUnpickler`; a 0-d object array gives its one item (``np.save`` of a
    dict gives the dict back). Raises :class:`RefusedPickleError` for a global outside the allow-list and
    ``ValueError`` for a file that is not a ``.npy`` file."""
    path = Path(path)
    with path.open("rb") as file:
        try:
            version = npy_format.read_magic(file)
        except ValueError as err:
            raise ValueError(f"{path}: not a .npy file ({err})") from None
        if version == (1, 0):
            shape, _, dtype = npy_format.read_array_header_1_0(file)
        elif version == (2, 0):
            shape, _, dtype = npy_format.read_array_header_2_0(file)
        else:  # 3.0 (UTF-8 field names): no pickled payload of ours has them; numpy reads it, pickles refused
            return np.load(path)
        if not dtype.hasobject:
            return np.load(path)  # a plain array, no pickle in it (np.load's allow_pickle is False)
        loaded = ArrayUnpickler(file, source=str(path)).load()
    if not isinstance(loaded, np.ndarray):
        return loaded
    if loaded.shape != tuple(shape):
        raise ValueError(f"{path}: its header says shape {tuple(shape)}, its payload has {loaded.shape}")
    return loaded.item() if loaded.shape == () else loaded
