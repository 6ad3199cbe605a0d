"""Machine-readable results of the benchmark scripts (``--json PATH``).

Each script rewrites its whole file after every figure it finishes (a temporary file, then a rename), so a run
stopped at its time limit (``benchmarks/gpu_check.py`` kills a step at its share of the budget) leaves a complete,
readable file with every figure measured until then.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["write_json"]


def write_json(path: str | Path | None, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically; ``None`` writes nothing (the script was run without --json)."""
    if path is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(partial, path)
