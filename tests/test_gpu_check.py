"""benchmarks/gpu_check.py: the budget (``_budget``: shares, limits, killing a task and its children), the figures
(``_gpu_report``: the pytest summary, the targets, the table), and its ``--device cpu --quick`` mode end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import _budget  # noqa: E402
import _gpu_report  # noqa: E402
from _budget import Outcome, Task  # noqa: E402


def _task(name: str, weight: float, section: str = "monitor") -> Task:
    return Task(section, name, weight, [], None)


def test_each_task_gets_its_weights_share_of_what_is_left() -> None:
    tasks = [_task("a", 1.0), _task("b", 2.0), _task("c", 1.0)]
    assert _budget.limit_for(tasks[0], tasks, 40.0, {}) == pytest.approx(10.0)  # 40 * 1/4
    # "a" used 4 of its 10 s: the 36 s left are shared by b and c, 2:1
    assert _budget.limit_for(tasks[1], tasks[1:], 36.0, {}) == pytest.approx(24.0)
    assert _budget.limit_for(tasks[2], tasks[2:], 13.0, {}) == pytest.approx(13.0)
    # a fixed limit is kept (within what is left) and leaves the others' shares to them
    assert _budget.limit_for(tasks[1], tasks, 40.0, {"b": 5.0}) == 5.0
    assert _budget.limit_for(tasks[0], tasks, 40.0, {"b": 5.0}) == pytest.approx(20.0)  # 40 * 1/2
    assert _budget.limit_for(tasks[1], tasks, 3.0, {"b": 5.0}) == 3.0


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_a_task_past_its_limit_is_killed_with_its_children(tmp_path, monkeypatch) -> None:
    """The child ignores SIGTERM (SIGKILL after the grace) and has started a grandchild of its own: both go."""
    monkeypatch.setattr(_budget, "KILL_GRACE_S", 0.5)
    pid_file = tmp_path / "grandchild.pid"
    script = textwrap.dedent(
        f"""
        import signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        open({str(pid_file)!r}, "w").write(str(grandchild.pid))
        print("started", flush=True)
        time.sleep(120)
        """
    )
    task = Task("monitor", "sleeper", 1.0, [sys.executable, "-c", script], tmp_path / "never.json")
    start = time.monotonic()
    outcome = _budget.run_task(task, 3.0, dict(os.environ), tmp_path / "sleeper.log")
    took = time.monotonic() - start
    assert outcome.status == "timed out: stopped at its limit of 3 s"
    assert 3.0 <= took < 3.0 + 0.5 + 3.0
    assert outcome.data is None
    assert "started" in (tmp_path / "sleeper.log").read_text()
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_a_failing_task_reports_its_exit_status_and_last_line(tmp_path) -> None:
    task = Task("monitor", "bad", 1.0, [sys.executable, "-c", "import sys; print('first'); sys.exit('it broke')"], None)
    outcome = _budget.run_task(task, 30.0, dict(os.environ), tmp_path / "bad.log")
    assert outcome.status == "failed: exit 1: it broke"


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="2" failures="1" skipped="2" tests="7">
<testcase classname="tests.test_cuda" name="test_a" time="0.1"/>
<testcase classname="tests.test_cuda" name="test_b" time="0.1"/>
<testcase classname="tests.test_cuda" name="test_c" time="0.1"><failure message="assert 1 == 2">x</failure></testcase>
<testcase classname="tests.test_cuda" name="test_d" time="0.1"><error message="failed on setup">x</error></testcase>
<testcase classname="tests.test_render" name="test_e[cuda]" time="0"><skipped message="needs CUDA">x</skipped></testcase>
<testcase classname="tests.test_render" name="test_f" time="0"><skipped message="needs CUDA">x</skipped></testcase>
<testcase classname="" name="tests.test_app" time="0"><error message="collection failure">ImportError</error></testcase>
</testsuite></testsuites>
"""

VERBOSE = """tests/test_cuda.py::test_a PASSED [ 20%]
tests/test_cuda.py::test_b[bf16] FAILED [ 40%]
tests/test_cuda.py::test_c SKIPPED (needs a CUDA GPU) [ 60%]
tests/test_cuda.py::test_d PASSED [ 80%]
some other line with PASSED in it
"""


def test_cuda_test_counts_from_junit_xml_and_from_verbose_lines(tmp_path) -> None:
    (tmp_path / "junit.xml").write_text(JUNIT)
    counts = _gpu_report.cuda_test_counts(tmp_path / "junit.xml", tmp_path / "absent.log")
    assert {k: counts[k] for k in ("passed", "failed", "errors", "skipped", "collection_errors")} == {
        "passed": 2,
        "failed": 1,
        "errors": 1,
        "skipped": 2,
        "collection_errors": 1,
    }
    assert counts["failed_ids"] == ["tests.test_cuda::test_c", "tests.test_cuda::test_d", "tests.test_app"]
    (tmp_path / "run.log").write_text(VERBOSE)  # pytest stopped at its limit: no XML
    counts = _gpu_report.cuda_test_counts(tmp_path / "absent.xml", tmp_path / "run.log")
    assert (counts["passed"], counts["failed"], counts["skipped"]) == (2, 1, 1)
    assert counts["failed_ids"] == ["tests/test_cuda.py::test_b[bf16]"]
    assert _gpu_report.cuda_test_counts(tmp_path / "absent.xml", tmp_path / "absent.log") is None


def _step_data(ms: dict[str, float]) -> dict:
    variants = [
        {"name": name, "mode": name.split()[0], "precision": name.split()[1], "ms": value, "throughput_ms": None}
        for name, value in ms.items()
    ]
    return {"batch": 1, "throughput_batch": 8, "size": 256, "compile": "reduce-overhead", "variants": variants}


def _monitor_data(per_log_ms: float, own_share: float) -> dict:
    return {
        "every": 100,
        "end_to_end": {
            "per_log_ms": {_gpu_report.MONITOR_MODE: per_log_ms},
            "share_of_step_percent": {_gpu_report.MONITOR_MODE: own_share},
        },
    }


def test_targets_met_and_not_met_by_hand(tmp_path) -> None:
    tasks = [_task("train_step_beautygan", 4, "train_step"), _task("monitor", 1), _task("cuda_tests", 1, "cuda_tests")]
    (tmp_path / "cuda_tests.xml").write_text(JUNIT)
    steps = {"eager fp32": 80.0, "eager bf16": 90.0, "optimized bf16": 20.0, "optimized fp32": 30.0}
    outcomes = {
        "train_step_beautygan": Outcome("ok", data=_step_data(steps)),
        "monitor": Outcome("ok", data=_monitor_data(per_log_ms=30.0, own_share=0.4)),
        "cuda_tests": Outcome("failed: exit 1: 1 failed"),
    }
    found = {t["target"]: t for t in _gpu_report.targets(outcomes, tasks, tmp_path, judged=None)}
    step = found["beautygan: batch-1 step <= 25 ms"]
    assert (step["value"], step["met"]) == (20.0, True) and "optimized bf16" in step["note"]
    bf16 = found["beautygan: bf16 faster than fp32"]
    assert bf16["value"] == pytest.approx(1.5) and bf16["met"] is True  # 30 / 20, the optimized pair
    assert "eager: x0.89" in bf16["note"]  # 80 / 90
    monitor = found["monitor < 1% of a step"]
    assert monitor["value"] == pytest.approx(1.5) and monitor["met"] is False  # 30 ms / (100 x 20 ms)
    tests = found["every CUDA test passing"]
    assert (tests["value"], tests["met"]) == (2, False)
    assert "1 modules not collected" in tests["note"]

    steps["optimized bf16"] = 40.0  # slower than fp32 now, and over the 25 ms: the fastest is optimized fp32
    outcomes["train_step_beautygan"] = Outcome("ok", data=_step_data(steps))
    found = {t["target"]: t for t in _gpu_report.targets(outcomes, tasks, tmp_path, judged=None)}
    assert found["beautygan: batch-1 step <= 25 ms"]["met"] is False
    assert found["beautygan: batch-1 step <= 25 ms"]["value"] == 30.0
    assert found["beautygan: bf16 faster than fp32"]["met"] is False
    assert found["monitor < 1% of a step"]["value"] == pytest.approx(1.0)  # 30 / (100 x 30): not under 1%
    assert found["monitor < 1% of a step"]["met"] is False

    found = _gpu_report.targets(outcomes, tasks, tmp_path, judged="not a CUDA run")
    assert all(t["met"] is None and t["note"].startswith("not judged: not a CUDA run") for t in found)

    outcomes = {"train_step_beautygan": Outcome("timed out: stopped at its limit of 9 s")}
    found = {t["target"]: t for t in _gpu_report.targets(outcomes, tasks, tmp_path / "none", judged=None)}
    assert found["beautygan: batch-1 step <= 25 ms"]["value"] is None
    assert found["beautygan: batch-1 step <= 25 ms"]["note"] == "no figure: timed out: stopped at its limit of 9 s"
    assert found["monitor < 1% of a step"]["note"] == "no figure: not run"


def test_the_table_is_one_markdown_table_with_the_machine_on_every_row() -> None:
    machine = {"device": "NVIDIA H100 80GB HBM3", "torch": "2.11.0+cu130", "date": "2026-12-07"}
    report = {
        "machine": machine,
        "rows": [
            _gpu_report.row("losses", "LPIPS piq", 12.345, "ms", "a note with a | inside"),
            _gpu_report.row("losses", "piq", None, "ms", "piq not installed"),
        ],
        "targets": [{"target": "t", "value": 3, "unit": "x", "met": False, "note": "why"}],
    }
    lines = _gpu_report.table(report).splitlines()
    assert len(lines) == 5
    assert all(line.replace("\\|", "").count("|") == 9 for line in lines)  # 8 columns everywhere
    assert lines[2] == (
        "| losses | LPIPS piq | 12.3 | ms | a note with a \\| inside | NVIDIA H100 80GB HBM3 | 2.11.0+cu130 | 2026-12-07 |"
    )
    assert "| - | ms | piq not installed |" in lines[3]
    assert "| target | t | 3 | x | NOT MET: why |" in lines[4]


def _rows(report: dict, section: str) -> dict[str, dict]:
    return {r["figure"]: r for r in report["rows"] if r["section"] == section}


@pytest.mark.slow
def test_quick_mode_on_the_cpu_reports_every_section_within_its_budget(tmp_path) -> None:
    """The whole script at tiny sizes; one task (the compiled fit) gets a limit too short to finish: it reads
    "timed out" and the tasks after it still report."""
    budget = 300
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # gpu_check sets up its own and its children's
    command = [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--quick"]
    command += ["--out", str(tmp_path / "out"), "--budget-s", str(budget), "--limit", "fit_compiled=1"]
    start = time.monotonic()
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=budget + 60)
    took = time.monotonic() - start
    assert done.returncode == 0, done.stderr[-3000:]
    assert took < budget + 10
    report = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["gpu_check.json", "gpu_check.log", "gpu_check.md"]

    # every row: a number, or a reason; every row and target names the machine
    for entry in report["rows"] + report["targets"]:
        assert isinstance(entry["value"], (int, float)) or entry["note"], entry
        assert (entry["device"], entry["torch"], entry["date"]) == tuple(
            report["machine"][k] for k in ("device", "torch", "date")
        )
    assert report["machine"]["device"].startswith("CPU")
    # the printed table is the JSON's rows and targets, after its header
    table = (tmp_path / "out" / "gpu_check.md").read_text().splitlines()
    assert len(table) == 2 + len(report["rows"]) + len(report["targets"])
    assert "\n".join(table) in done.stdout

    tests = _rows(report, "cuda_tests")
    counted = sum(tests[f"CUDA tests {k}"]["value"] for k in ("passed", "failed", "errors", "skipped"))
    assert counted >= 5  # tests/test_cuda.py: 4 tests, one of them for two dtypes
    if not _cuda():
        assert tests["CUDA tests skipped"]["value"] == counted

    from train_step import GENERATORS

    steps = _rows(report, "train_step")
    for generator in GENERATORS:
        for variant in ("eager fp32", "eager bf16", "optimized bf16", "optimized fp32"):
            assert steps[f"{generator} step, batch 1, {variant}"]["value"] > 0
            ms, rate = steps[f"{generator} step, batch 2, {variant}"], steps[f"{generator} pairs/s, batch 2, {variant}"]
            assert rate["value"] == pytest.approx(2 / ms["value"] * 1e3)
        for part in ("D step", "G fwd x2", "VGG16 perceptual", "histogram makeup loss"):
            assert sum(1 for f in steps if f.startswith(f"{generator} part") and part in f) == 2  # eager, optimized

    monitor = _rows(report, "monitor")
    assert monitor["toy step (conv generator + VGG16 to relu4_1)"]["value"] > 0
    assert any(f.startswith(f"{_gpu_report.MONITOR_MODE}: share of the") for f in monitor)

    fit = _rows(report, "fit")
    assert fit["fit eager: batches/s over all batches"]["value"] > 0
    assert fit["fit eager: batches/s after the first 2"]["value"] > 0
    assert (
        fit["fit_compiled"]["value"] is None and fit["fit_compiled"]["note"] == "timed out: stopped at its limit of 1 s"
    )
    assert report["tasks"]["fit_compiled"]["status"].startswith("timed out")
    assert not any(f.startswith("fit compiled:") for f in fit)

    losses = _rows(report, "losses")  # after the timed-out task: still measured
    assert report["tasks"]["loss_speed"]["status"] == "ok" and report["tasks"]["lpips_dists"]["status"] == "ok"
    assert losses["PerceptualLoss fwd+bwd, relu4_1, batch 2, 32 px: ours"]["value"] > 0
    piq = losses["PerceptualLoss fwd+bwd, relu4_1, batch 2, 32 px: piq"]
    assert piq["value"] is not None or piq["note"] == "piq not installed"
    assert losses["LPIPS perceptual.LPIPS, batch 2, 32 px: forward + backward"]["value"] > 0
    assert losses["DISTS perceptual.DISTS, batch 2, 32 px: forward + backward"]["value"] > 0

    names = {t["target"] for t in report["targets"]}
    assert names == {
        *(f"{g}: batch-1 step <= 25 ms" for g in GENERATORS),
        *(f"{g}: bf16 faster than fp32" for g in GENERATORS),
        "monitor < 1% of a step",
        "every CUDA test passing",
    }
    assert all(t["met"] is None and t["value"] is not None for t in report["targets"])  # measured, not judged


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()
