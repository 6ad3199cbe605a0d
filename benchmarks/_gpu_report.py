"""The figures of ``benchmarks/gpu_check.py``: each benchmark's JSON turned into rows, the targets judged on them,
and one Markdown table of both."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from _budget import Outcome, Task

__all__ = [
    "MONITOR_MODE",
    "MONITOR_TARGET_PERCENT",
    "STEP_TARGET_MS",
    "cuda_test_counts",
    "fmt",
    "row",
    "section_rows",
    "table",
    "targets",
]

STEP_TARGET_MS = 25.0
MONITOR_TARGET_PERCENT = 1.0
MONITOR_MODE = "background, pca"  # what configs/beautygan.yaml runs: the background writer, pca: true


def row(section: str, figure: str, value: float | int | None, unit: str, note: str = "") -> dict[str, Any]:
    return {"section": section, "figure": figure, "value": value, "unit": unit, "note": note}


def cuda_test_counts(xml: Path, log: Path) -> dict[str, Any] | None:
    """Counts and failed test ids from pytest's JUnit XML, or from its verbose lines when it was stopped."""
    counts: dict[str, Any] = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0, "collection_errors": 0}
    failed: list[str] = []
    if xml.is_file():
        for case in ET.parse(xml).getroot().iter("testcase"):
            name = f"{case.get('classname', '')}::{case.get('name', '')}".strip(":")
            tags = {child.tag: child for child in case}
            if "failure" in tags:
                counts["failed"] += 1
                failed.append(name)
            elif "error" in tags:
                if "collection failure" in (tags["error"].get("message") or ""):
                    counts["collection_errors"] += 1
                else:
                    counts["errors"] += 1
                failed.append(name)
            elif "skipped" in tags:
                counts["skipped"] += 1
            else:
                counts["passed"] += 1
        counts["source"] = "JUnit XML"
    elif log.is_file():
        words = {"PASSED": "passed", "FAILED": "failed", "ERROR": "errors", "SKIPPED": "skipped", "XFAIL": "skipped"}
        for line in log.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 2 and "::" in parts[0] and parts[1] in words:
                counts[words[parts[1]]] += 1
                if parts[1] in ("FAILED", "ERROR"):
                    failed.append(parts[0])
        counts["source"] = "pytest's verbose lines, up to its limit"
    else:
        return None
    counts["failed_ids"] = failed
    return counts


def section_rows(outcomes: dict[str, Outcome], tasks: list[Task], work: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for task in tasks:
        outcome = outcomes.get(task.name)
        if outcome is None:
            continue
        if task.section == "cuda_tests":
            rows += _cuda_rows(outcome, work)
        elif task.section == "train_step":
            rows += _train_step_rows(task.name.removeprefix("train_step_"), outcome.data)
        elif task.section == "monitor":
            rows += _monitor_rows(outcome.data, _fastest_step(outcomes))
        elif task.name.startswith("fit_") and task.name != "fit_data":
            rows += _fit_rows(task.name.removeprefix("fit_"), outcome.data)
        elif task.name == "loss_speed":
            rows += _loss_speed_rows(outcome.data)
        elif task.name == "lpips_dists":
            rows += _lpips_dists_rows(outcome.data)
        if not outcome.ok:
            rows.append(row(task.section, task.name, None, "", outcome.status))
    return rows


def _cuda_rows(outcome: Outcome, work: Path) -> list[dict[str, Any]]:
    counts = cuda_test_counts(work / "cuda_tests.xml", work / "logs" / "cuda_tests.log")
    if counts is None:
        return []
    rows = [
        row("cuda_tests", f"CUDA tests {key}", counts[key], "tests", counts["source"] if key == "passed" else "")
        for key in ("passed", "failed", "errors", "skipped")
    ]
    if counts["collection_errors"]:
        rows.append(row("cuda_tests", "test modules not collected", counts["collection_errors"], "modules", ""))
    if counts["failed_ids"]:
        shown = ", ".join(counts["failed_ids"][:6]) + (" ..." if len(counts["failed_ids"]) > 6 else "")
        rows[1]["note"] = shown
    return rows


def _train_step_rows(generator: str, data: dict | None) -> list[dict[str, Any]]:
    if not data:
        return []
    rows = []
    section, batch, big = "train_step", data["batch"], data["throughput_batch"]
    size = f"{data['size']} px"
    for variant in data["variants"]:
        how = f"compile {data['compile']} + fused Adam" if variant["mode"] == "optimized" else "eager"
        how += ", bf16 autocast + channels_last" if variant["precision"] == "bf16" else ", fp32"
        rows.append(row(section, f"{generator} step, batch {batch}, {variant['name']}", variant["ms"], "ms", how))
        if variant["throughput_ms"] is not None:
            rows.append(
                row(section, f"{generator} step, batch {big}, {variant['name']}", variant["throughput_ms"], "ms", size)
            )
            rows.append(
                row(
                    section,
                    f"{generator} pairs/s, batch {big}, {variant['name']}",
                    variant["pairs_per_s"],
                    "pairs/s",
                    size,
                )
            )
    for part, values in data["parts"].items():
        for label, ms in values.items():
            rows.append(row(section, f"{generator} part, batch {batch}, {label} fp32: {part}", ms, "ms", size))
    if data["official_ms"] is not None:
        rows.append(
            row(section, f"{generator} official structure, batch {batch}, fp32", data["official_ms"], "ms", "anchor")
        )
    return rows


def _monitor_rows(data: dict | None, fastest: tuple[str, float] | None) -> list[dict[str, Any]]:
    if not data:
        return []
    section, every = "monitor", data["every"]
    where = f"{data['size']} px, batch {data['batch']}"
    rows = [row(section, "toy step (conv generator + VGG16 to relu4_1)", data["step_ms"], "ms", where)]
    for key, ms in data["log_ms"].items():
        rows.append(row(section, f"log_feature_maps, {key}", ms, "ms", "on the training thread"))
    end_to_end = data["end_to_end"]
    for mode, ms in end_to_end["per_log_ms"].items():
        share = end_to_end["share_of_step_percent"][mode]
        rows.append(
            row(
                section, f"per logged batch, end to end: {mode}", ms, "ms", f"{share:.2f}% of its step at every {every}"
            )
        )
    if fastest is not None:
        name, step_ms = fastest
        share = end_to_end["per_log_ms"][MONITOR_MODE] / (every * step_ms) * 100
        rows.append(row(section, f"{MONITOR_MODE}: share of the {name} step at every {every}", share, "%", ""))
    rows.append(row(section, "native CRC32C", int(data["native_crc32c"]), "", "1: google-crc32c installed"))
    return rows


def _fit_rows(label: str, data: dict | None) -> list[dict[str, Any]]:
    if not data:
        return []
    how = f"compile {data['compile']}, {data['precision']}, {data['device']}, {data['batches']} batches"
    rows = [
        row(
            "fit",
            f"fit {label}: batches/s after the first {data['skip']}",
            data["steady_batches_per_s"],
            "batches/s",
            how,
        ),
        row("fit", f"fit {label}: batches/s over all batches", data["batches_per_s"], "batches/s", how),
        row("fit", f"fit {label}: first batch", data["first_batch_s"], "s", "compilation, if any, included"),
    ]
    return rows


def _loss_speed_rows(data: dict | None) -> list[dict[str, Any]]:
    if not data:
        return []
    rows = []
    for entry in data["rows"]:
        where = f"{entry['layers']}, batch {entry['batch']}, {entry['size']} px"
        ms = entry["ms"]
        for key in ("ours", "floor", "naive", "piq"):
            if key in ms:
                note = "" if key == "ours" else f"x{ms[key] / ms['ours']:.2f} of ours"
                rows.append(row("losses", f"PerceptualLoss fwd+bwd, {where}: {key}", ms[key], "ms", note))
        if "piq" not in ms:
            rows.append(
                row("losses", f"PerceptualLoss fwd+bwd, {where}: piq", None, "ms", data["missing"].get("piq", ""))
            )
    return rows


def _lpips_dists_rows(data: dict | None) -> list[dict[str, Any]]:
    if not data:
        return []
    rows = []
    where = f"batch {data['batch']}, {data['size']} px"
    for metric, entries in data["metrics"].items():
        for entry in entries:
            figure = f"{metric} {entry['name']}, {where}"
            diff = f"largest difference to ours {entry['max_diff']:.1e}"
            rows.append(
                row(
                    "losses",
                    f"{figure}: forward",
                    entry["metric_ms"],
                    "ms",
                    f"x{entry['metric_x_ours']:.2f} of ours; {diff}",
                )
            )
            rows.append(
                row(
                    "losses",
                    f"{figure}: forward + backward",
                    entry["loss_ms"],
                    "ms",
                    f"x{entry['loss_x_ours']:.2f} of ours",
                )
            )
    for name, why in data["missing"].items():
        rows.append(row("losses", f"LPIPS/DISTS {name}", None, "ms", why))
    return rows


def _fastest_step(outcomes: dict[str, Outcome]) -> tuple[str, float] | None:
    """(name, ms) of the fastest batch-1 step any generator's train_step task measured."""
    best: tuple[str, float] | None = None
    for name, outcome in outcomes.items():
        if name.startswith("train_step_") and outcome.data:
            for variant in outcome.data["variants"]:
                if best is None or variant["ms"] < best[1]:
                    best = (f"{name.removeprefix('train_step_')} {variant['name']}", variant["ms"])
    return best


def targets(outcomes: dict[str, Outcome], tasks: list[Task], work: Path, judged: str | None) -> list[dict[str, Any]]:
    """Each target: its figure, and met (True / False), or None with the reason it is not judged. ``judged`` is None
    on a full-size CUDA run, else why no target is judged on this run."""
    found: list[dict[str, Any]] = []

    def target(name: str, value: float | int | None, unit: str, met: bool | None, note: str) -> None:
        if value is not None and judged is not None:
            met, note = None, f"not judged: {judged}; {note}"
        found.append({"target": name, "value": value, "unit": unit, "met": met, "note": note})

    names = [t.name for t in tasks]
    for task in (t for t in tasks if t.section == "train_step"):
        generator = task.name.removeprefix("train_step_")
        outcome = outcomes.get(task.name)
        variants = {v["name"]: v["ms"] for v in (outcome.data or {}).get("variants", [])} if outcome else {}
        if variants:
            name, ms = min(variants.items(), key=lambda item: item[1])
            target(
                f"{generator}: batch-1 step <= {STEP_TARGET_MS:g} ms",
                ms,
                "ms",
                ms <= STEP_TARGET_MS,
                f"fastest: {name}",
            )
        else:
            target(f"{generator}: batch-1 step <= {STEP_TARGET_MS:g} ms", None, "ms", None, _missing(outcome))
        pairs = [(mode, variants.get(f"{mode} fp32"), variants.get(f"{mode} bf16")) for mode in ("optimized", "eager")]
        measured = [(mode, fp32, bf16) for mode, fp32, bf16 in pairs if fp32 is not None and bf16 is not None]
        if measured:
            mode, fp32, bf16 = measured[0]
            others = "; ".join(f"{m}: x{f / b:.2f}" for m, f, b in measured[1:])
            note = f"fp32 / bf16 step time, {mode}, batch 1" + (f" ({others})" if others else "")
            target(f"{generator}: bf16 faster than fp32", fp32 / bf16, "x", bf16 < fp32, note)
        else:
            target(f"{generator}: bf16 faster than fp32", None, "x", None, _missing(outcome))
    if "monitor" in names:
        outcome = outcomes.get("monitor")
        fastest = _fastest_step(outcomes)
        if outcome and outcome.data:
            end_to_end = outcome.data["end_to_end"]
            every = outcome.data["every"]
            if fastest is not None:
                share = end_to_end["per_log_ms"][MONITOR_MODE] / (every * fastest[1]) * 100
                note = f"{MONITOR_MODE}, every {every} batches, of the {fastest[0]} step"
            else:
                share = end_to_end["share_of_step_percent"][MONITOR_MODE]
                note = f"{MONITOR_MODE}, every {every} batches, of the script's own step (no training step measured)"
            target(f"monitor < {MONITOR_TARGET_PERCENT:g}% of a step", share, "%", share < MONITOR_TARGET_PERCENT, note)
        else:
            target(f"monitor < {MONITOR_TARGET_PERCENT:g}% of a step", None, "%", None, _missing(outcome))
    if "cuda_tests" in names:
        outcome = outcomes.get("cuda_tests")
        counts = cuda_test_counts(work / "cuda_tests.xml", work / "logs" / "cuda_tests.log") if outcome else None
        if counts is None or (outcome is not None and not outcome.ok and not counts["failed_ids"]):
            target("every CUDA test passing", None, "tests", None, _missing(outcome))
        else:
            bad = counts["failed"] + counts["errors"]
            note = f"{counts['passed']} passed, {bad} failed, {counts['skipped']} skipped"
            if counts["collection_errors"]:
                note += f", {counts['collection_errors']} modules not collected (their CUDA tests did not run)"
            met = bad == 0 and counts["passed"] > 0 and counts["collection_errors"] == 0
            if judged is None and counts["passed"] == 0:
                note += "; none ran"
            target("every CUDA test passing", counts["passed"], "passed", met, note)
    return found


def _missing(outcome: Outcome | None) -> str:
    return "no figure: " + (outcome.status if outcome is not None else "not run")


def fmt(value: float | int | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    size = abs(value)
    return (
        f"{value:.0f}"
        if size >= 100
        else f"{value:.1f}"
        if size >= 10
        else f"{value:.2f}"
        if size >= 1
        else f"{value:.3g}"
    )


def table(report: dict[str, Any]) -> str:
    """The rows and the targets as one Markdown table (a ``|`` inside a cell is escaped)."""
    machine = report["machine"]
    lines = [
        "| section | figure | value | unit | note | device | torch | date |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    tail = [machine["device"], machine["torch"], machine["date"]]
    cells = [[r["section"], r["figure"], fmt(r["value"]), r["unit"], r["note"], *tail] for r in report["rows"]]
    for entry in report["targets"]:
        verdict = {True: "met: ", False: "NOT MET: ", None: ""}[entry["met"]]
        cells.append(["target", entry["target"], fmt(entry["value"]), entry["unit"], verdict + entry["note"], *tail])
    for line in cells:
        lines.append("| " + " | ".join(str(cell).replace("|", "\\|") for cell in line) + " |")
    return "\n".join(lines)
