"""Child processes within a time budget: each task gets its weight's share of what is left and is killed, with
everything it started, at its limit (``benchmarks/gpu_check.py``)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

__all__ = ["KILL_GRACE_S", "Outcome", "Task", "limit_for", "run_task"]

KILL_GRACE_S = 5.0  # after SIGTERM, before SIGKILL


@dataclasses.dataclass
class Task:
    """One child process: its section, its name (for ``--limit`` and the log), its share of the budget, its command
    and the JSON file it writes (``None``: the task's figures come from elsewhere)."""

    section: str
    name: str
    weight: float
    argv: list[str]
    result: Path | None
    needs: str | None = None  # a task that must have finished first ("ok") for this one to run


@dataclasses.dataclass
class Outcome:
    status: str  # "ok", "timed out ...", "failed ...", "not run: ..."
    seconds: float = 0.0
    limit_s: float = 0.0
    data: Any = None  # the task's JSON, when it wrote one

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def limit_for(task: Task, pending: list[Task], remaining: float, limits: dict[str, float]) -> float:
    """Seconds ``task`` may run: its fixed ``--limit``, else its weight's share of what is left of the budget among
    the tasks not yet run (without a fixed limit); never more than what is left."""
    if task.name in limits:
        return min(limits[task.name], remaining)
    weights = sum(t.weight for t in pending if t.name not in limits)
    return remaining * task.weight / weights if weights > 0 else remaining


def run_task(task: Task, limit: float, env: dict[str, str], log: Path, cwd: Path | None = None) -> Outcome:
    """Run ``task`` in its own process group; at ``limit`` seconds kill the group (SIGTERM, then SIGKILL)."""
    start = time.monotonic()
    with log.open("w") as stream:
        stream.write(f"$ {' '.join(task.argv)}\n")
        stream.flush()
        child = subprocess.Popen(
            task.argv, cwd=cwd, env=env, stdout=stream, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = child.wait(timeout=max(limit, 0.0))
        except subprocess.TimeoutExpired:
            _kill_group(child)
            status = f"timed out: stopped at its limit of {limit:.0f} s"
        else:
            status = "ok" if code == 0 else f"failed: exit {code}: {_last_line(log)}"
    data = None
    if task.result is not None and task.result.is_file():
        try:
            data = json.loads(task.result.read_text())
        except (OSError, ValueError):
            data = None
    return Outcome(status, time.monotonic() - start, limit, data)


def _kill_group(child: subprocess.Popen) -> None:
    """SIGTERM to the child's process group, SIGKILL to whatever is left of it (loader and compile workers too)."""
    try:
        os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.wait()


def _last_line(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"
