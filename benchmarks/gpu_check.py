"""Everything a GPU run must show, measured in one call within a time budget that this script enforces itself.

    python benchmarks/gpu_check.py --out DIR [--budget-s 450] [--device cuda] [--json PATH] [--install-wheels DIR]
                                   [--only SECTION,...] [--limit TASK=SECONDS ...] [--quick]
    bash benchmarks/gpu_check.sh --budget-s 450 --out DIR      # the same, installing .gpu-wheels/ first

Sections, in this order:

1. ``cuda_tests``: ``pytest -k cuda`` over the suite (``tests/test_cuda.py`` and every test named with "cuda"):
   passed, failed, skipped, read from pytest's JUnit XML (from its verbose lines when it was stopped at its limit).
2. ``train_step``: ``benchmarks/train_step.py`` for each generator of its ``GENERATORS``, 256 px, batch 1 and 8:
   eager against ``compile: reduce-overhead`` + fused Adam, fp32 against bf16 autocast + channels_last, the split into
   D, G, VGG and histogram loss, and the official code's structure as an anchor.
3. ``monitor``: ``benchmarks/monitor_overhead.py`` at 256 px, batch 1 (the paper config's monitor layers): the cost
   of a logged batch on the training loop as a share of a step when logging every 100 batches, of the script's own
   step and of the generator's batch-1 step measured in section 2.
4. ``fit``: ``beautygan fit --config configs/beautygan.yaml`` on a synthetic 256 px set (``beautygan synthetic``),
   with a VGG16 file of random weights in torchvision's layout written here (``--model.vgg_weights``), 200 batches,
   bf16-mixed, fused Adam, channels_last, eager and ``compile: reduce-overhead``: batches per second from the
   training loop's own wall time (``benchmarks/fit_timer.py``: from the first batch's start to the last batch's end,
   the device synchronized there; start-up, compilation before the first batch, checkpoints after the last are out).
5. ``losses``: ``benchmarks/loss_speed.py`` (PerceptualLoss against the floor, the naive full pass and
   ``piq.ContentLoss``) and ``benchmarks/lpips_dists_compare.py`` (LPIPS and DISTS against the ``lpips``,
   ``dists-pytorch``, torchmetrics and piq implementations), batch 16, 256 px, forward and backward, each ratio
   measured within one process. A package that is not installed gives a row that says so.

The budget: each task (a section, or a part of one) runs as a child process in its own process group, with a limit
of its weight's share of what is left of the budget; at the limit the group is killed, the task reads "timed out"
and the later tasks still run. Time a task leaves unused goes to the later ones. The benchmark scripts rewrite their
JSON after each figure, so a task stopped at its limit keeps the figures it finished. ``--limit TASK=SECONDS`` fixes
one task's limit (to give it more on a second run, or to test the limit). The runner is ``benchmarks/_budget.py``;
the rows, the targets and the table are ``benchmarks/_gpu_report.py``'s.

Output: one Markdown table on stdout, each figure with the device's name, the torch version and the date, followed by
the targets, met or not (judged on a CUDA run at full size only): a batch-1 training step of at most 25 ms, bf16
faster than fp32, the monitor under 1% of a step, every CUDA test passing. The same rows as JSON (``--json``, default
``OUT/gpu_check.json``); the table also in ``OUT/gpu_check.md``, every child's output in ``OUT/gpu_check.log``. All
three are rewritten after each task. Scratch (the synthetic set, runs, each task's own JSON) goes to ``--work``, a
temporary folder removed at the end unless named.

``--device cpu --quick`` runs every section at tiny sizes (32 px, networks 8 wide, a few batches, one repeat, torch on
one thread; the "compiled" variants run with ``compile: none``, since compiling on a small CPU takes minutes), to test
this script (``tests/test_gpu_check.py``); its figures mean nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from _budget import KILL_GRACE_S, Outcome, Task, limit_for, run_task  # noqa: E402
from _gpu_report import row, section_rows, table, targets  # noqa: E402
from _results import write_json  # noqa: E402

SECTIONS = ("cuda_tests", "train_step", "monitor", "fit", "losses")
FIT_BATCHES = 200
FIT_SKIP = 10
CLI = "import sys; from beautygan.cli import main; sys.exit(main(sys.argv[1:]))"
RESERVE_S = KILL_GRACE_S + 3  # kept back from the budget: a kill's grace and the final output


# ---------------------------------------------------------------------------------------------------- set-up


def device_name(device: str) -> str:
    """The card's name, or the CPU model."""
    import torch

    if device == "cuda":
        return torch.cuda.get_device_name(0)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"CPU: {line.split(':', 1)[1].strip()}"
    except OSError:
        pass
    return f"CPU: {platform.processor() or platform.machine()}"


def generators() -> tuple[str, ...]:
    """``train_step.GENERATORS``: the generators the training-step benchmark can time."""
    from train_step import GENERATORS

    return tuple(GENERATORS)


def write_vgg16_file(path: Path) -> None:
    """VGG16's convolutional trunk with seeded random weights, in torchvision's layout (``features.N.weight``): what
    ``--model.vgg_weights`` reads where the ImageNet weights cannot be downloaded (the cost is the same)."""
    import torch
    import torchvision

    torch.manual_seed(0)
    features = torchvision.models.vgg16(weights=None).features
    torch.save({f"features.{key}": value for key, value in features.state_dict().items()}, path)


def install_wheels(folder: Path, site: Path, log: Path) -> None:
    """``pip install --no-index --no-deps`` every wheel of ``folder`` into ``site`` (put on the children's
    ``PYTHONPATH``): the packages a machine without network lacks, downloaded beforehand by ``make gpu-wheels``."""
    wheels = sorted(folder.glob("*.whl"))
    if not wheels:
        raise FileNotFoundError(f"no wheels in {folder} (make gpu-wheels downloads them)")
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile"]
    command += ["--disable-pip-version-check", "--target", str(site), *map(str, wheels)]
    with log.open("a") as stream:
        stream.write(f"\n===== install wheels: {' '.join(command)}\n")
        stream.flush()
        done = subprocess.run(command, stdout=stream, stderr=subprocess.STDOUT, check=False)
    if done.returncode:
        raise RuntimeError(f"pip install of {folder}/*.whl failed (exit {done.returncode}); see {log}")


# ---------------------------------------------------------------------------------------------------- tasks


def plan(args: argparse.Namespace, work: Path) -> list[Task]:
    """Every task, in order, with its command for ``--device`` and ``--quick`` (the train-step tasks only when that
    section is selected: listing the generators imports the benchmark)."""
    return [
        _cuda_tests_task(args, work),
        *(_train_step_tasks(args, work) if "train_step" in args.only else []),
        _monitor_task(args, work),
        *_fit_tasks(args, work),
        *_loss_tasks(args, work),
    ]


def _cuda_tests_task(args: argparse.Namespace, work: Path) -> Task:
    argv = [sys.executable, "-m", "pytest", "-k", "cuda", "-v", "-p", "no:cacheprovider"]
    argv += ["--continue-on-collection-errors", "-o", "console_output_style=classic"]
    argv += [f"--junitxml={work / 'cuda_tests.xml'}", "tests/test_cuda.py" if args.quick else "tests"]
    return Task("cuda_tests", "cuda_tests", 2.5, argv, None)  # quick: not the whole suite's collection


def _train_step_tasks(args: argparse.Namespace, work: Path) -> list[Task]:
    names = generators()
    tasks = []
    for name in names:
        result = work / f"train_step_{name}.json"
        argv = [sys.executable, str(BENCHMARKS / "train_step.py"), "--generator", name, "--device", args.device]
        argv += ["--batch", "1", "--skip-sample-grid", "--json", str(result)]
        if args.quick:
            argv += ["--size", "32", "--throughput-batch", "2", "--repeats", "1", "--compile", "none"]
            argv += ["--generator-width", "8", "--discriminator-width", "8", "--residual-blocks", "1"]
            argv += ["--skip-official"]
        else:
            compile_mode = "reduce-overhead" if args.device == "cuda" else "default"
            argv += ["--size", "256", "--throughput-batch", "8", "--repeats", "20", "--compile", compile_mode]
        tasks.append(Task("train_step", f"train_step_{name}", 4.0 / len(names), argv, result))
    return tasks


def _monitor_task(args: argparse.Namespace, work: Path) -> Task:
    result = work / "monitor.json"
    argv = [sys.executable, str(BENCHMARKS / "monitor_overhead.py"), "--device", args.device, "--batch", "1"]
    argv += ["--every", "100", "--json", str(result)]
    argv += ["--size", "32", "--repeats", "1", "--steps", "4", "--log-every", "2"] if args.quick else ["--size", "256"]
    return Task("monitor", "monitor", 1.0, argv, result)


def _fit_tasks(args: argparse.Namespace, work: Path) -> list[Task]:
    """The synthetic set, then ``beautygan fit`` on the paper config, eager and compiled (the VGG16 file is written
    by :func:`run_all` before the set)."""
    size, batches = (32, 6) if args.quick else (256, FIT_BATCHES)
    data = work / "fit_data"
    argv = [sys.executable, "-c", CLI, "synthetic", str(data), "--size", str(size), "--n", str(batches + 1)]
    tasks = [Task("fit", "fit_data", 1.0, [*argv, "--held-out", "1"], None)]
    compiled = "none" if args.quick else "reduce-overhead" if args.device == "cuda" else "default"
    for label, compile_mode, weight in (("eager", "none", 1.0), ("compiled", compiled, 1.7)):
        result = work / f"fit_{label}.json"
        timer = {
            "class_path": "fit_timer.TrainingLoopTimer",
            "init_args": {"path": str(result), "skip": 2 if args.quick else FIT_SKIP},
        }
        runs = str(work / "runs" / label)
        argv = [sys.executable, "-c", CLI, "fit", "--config", str(ROOT / "configs" / "beautygan.yaml")]
        argv += ["--data.root", str(data), "--data.image_size", str(size)]
        argv += ["--model.vgg_weights", str(work / "vgg16.pth"), "--model.speed.compile", compile_mode]
        argv += ["--model.speed.fused_adam", "true", "--model.speed.channels_last", "true"]
        argv += ["--trainer.precision", "bf16-mixed", "--trainer.max_epochs", "1"]
        argv += ["--trainer.limit_train_batches", str(batches), "--trainer.limit_val_batches", "0"]
        argv += ["--trainer.default_root_dir", runs, "--trainer.logger.init_args.save_dir", runs]
        argv += [f"--trainer.callbacks+={json.dumps(timer)}"]
        if args.device == "cpu":
            argv += ["--trainer.accelerator", "cpu"]
        if args.quick:
            argv += ["--model.generator_width", "8", "--model.discriminator_width", "8", "--model.residual_blocks", "1"]
            argv += ["--data.num_workers", "0"]
        tasks.append(Task("fit", f"fit_{label}", weight, argv, result, needs="fit_data"))
    return tasks


def _loss_tasks(args: argparse.Namespace, work: Path) -> list[Task]:
    size, batch, repeats = ("32", "2", "1") if args.quick else ("256", "16", "5")
    result = work / "loss_speed.json"
    argv = [sys.executable, str(BENCHMARKS / "loss_speed.py"), "--device", args.device, "--sizes", size]
    argv += ["--batches", batch, "--repeats", repeats, "--json", str(result)]
    tasks = [Task("losses", "loss_speed", 0.5, argv, result)]
    result = work / "lpips_dists.json"
    argv = [sys.executable, str(BENCHMARKS / "lpips_dists_compare.py"), "--device", args.device, "--size", size]
    argv += ["--batch", batch, "--repeats", repeats, "--json", str(result)]
    tasks.append(Task("losses", "lpips_dists", 0.5, argv, result))
    return tasks


def write_outputs(report: dict[str, Any], json_path: Path, out: Path) -> str:
    text = table(report)
    write_json(json_path, report)
    (out / "gpu_check.md").write_text(text + "\n")
    return text


# ---------------------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for gpu_check.json, .md and .log")
    parser.add_argument("--budget-s", type=float, default=450.0, help="total seconds for every task (default 450)")
    parser.add_argument("--device", choices=("cuda", "cpu"), default=None, help="default: cuda when available")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to test this script (see above)")
    parser.add_argument("--json", type=Path, default=None, help="default: OUT/gpu_check.json")
    parser.add_argument("--install-wheels", type=Path, default=None, help="pip-install these wheels first")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {','.join(SECTIONS)}")
    parser.add_argument(
        "--limit", action="append", default=[], metavar="TASK=SECONDS", help="fix one task's limit (repeatable)"
    )
    parser.add_argument("--work", type=Path, default=None, help="scratch folder, kept (default: a temporary one)")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(args.only) - set(SECTIONS))
    if unknown or not args.only:
        parser.error(f"--only takes sections of {', '.join(SECTIONS)}, got {unknown or 'none'}")
    limits: dict[str, float] = {}
    for item in args.limit:
        name, _, seconds = item.partition("=")
        try:
            limits[name] = float(seconds)
        except ValueError:
            parser.error(f"--limit takes TASK=SECONDS, got {item!r}")
    args.limit = limits
    if args.budget_s <= 0:
        parser.error(f"--budget-s must be positive, got {args.budget_s:g}")
    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    return args


def child_env(args: argparse.Namespace, work: Path, log: Path) -> dict[str, str]:
    """The children's environment: the repository's packages, the benchmarks folder (``fit_timer``) and, with
    ``--install-wheels``, the wheels' folder on ``PYTHONPATH`` (this process's ``sys.path`` too: listing the
    generators imports ``train_step``); one torch thread per process in quick CPU runs."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    paths = [str(ROOT), str(ROOT / "experiments"), str(BENCHMARKS)]
    if args.install_wheels is not None:
        install_wheels(args.install_wheels, work / "site", log)
        paths.insert(0, str(work / "site"))
    sys.path[:0] = paths
    env["PYTHONPATH"] = os.pathsep.join(paths + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    if args.quick and args.device == "cpu":
        env.setdefault("OMP_NUM_THREADS", "1")  # on a small shared CPU, one thread per process avoids thrashing
    return env


def run_all(
    tasks: list[Task], args: argparse.Namespace, work: Path, env: dict[str, str], deadline: float, report: dict
) -> None:
    """Run ``tasks`` in order within the budget, updating ``report`` and rewriting the outputs after each."""
    judged = "not a CUDA run" if args.device != "cuda" else "quick mode sizes" if args.quick else None
    stamp = {key: report["machine"][key] for key in ("device", "torch", "date")}  # on every row of the JSON too
    outcomes: dict[str, Outcome] = {}
    for index, task in enumerate(tasks):
        remaining = deadline - RESERVE_S - time.monotonic()
        if task.needs is not None and not (task.needs in outcomes and outcomes[task.needs].ok):
            outcomes[task.name] = Outcome(f"not run: {task.needs} did not finish")
        elif task.needs == "fit_data" and not (work / "vgg16.pth").is_file():
            outcomes[task.name] = Outcome("not run: the VGG16 file could not be written")
        elif remaining < 1:
            outcomes[task.name] = Outcome("timed out: no budget left")
        else:
            if task.name == "fit_data":
                try:
                    write_vgg16_file(work / "vgg16.pth")
                except (OSError, RuntimeError) as err:
                    print(f"gpu_check: the VGG16 file could not be written: {err}", file=sys.stderr)
                remaining = deadline - RESERVE_S - time.monotonic()
            limit = limit_for(task, tasks[index:], remaining, args.limit)
            print(f"gpu_check: {task.name}: up to {limit:.0f} s of the {remaining:.0f} s left", flush=True)
            task_log = work / "logs" / f"{task.name}.log"
            outcome = outcomes[task.name] = run_task(task, limit, env, task_log, cwd=ROOT)
            with (args.out / "gpu_check.log").open("a") as stream:
                stream.write(f"\n===== {task.name}: {outcome.status}\n{task_log.read_text(errors='replace')}")
            print(f"gpu_check: {task.name}: {outcome.status} ({outcome.seconds:.0f} s)", flush=True)
        report["tasks"][task.name] = {
            "section": task.section,
            **{k: v for k, v in dataclasses.asdict(outcomes[task.name]).items() if k != "data"},
        }
        report["rows"] = [dict(r, **stamp) for r in section_rows(outcomes, tasks, work)]
        report["targets"] = [dict(t, **stamp) for t in targets(outcomes, tasks, work, judged)]
        for section in SECTIONS:
            if section not in args.only:
                report["rows"].append(dict(row(section, section, None, "", "not run: not selected (--only)"), **stamp))
        write_outputs(report, args.json, args.out)


def main(argv: list[str] | None = None) -> int:
    start = time.monotonic()
    args = parse_args(argv)
    deadline = start + args.budget_s
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: error: --device cuda, but torch sees no CUDA device", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    args.json = args.json or args.out / "gpu_check.json"
    (args.out / "gpu_check.log").write_text("")
    work = args.work or Path(tempfile.mkdtemp(prefix="gpu_check_"))
    try:
        (work / "logs").mkdir(parents=True, exist_ok=True)
        try:
            env = child_env(args, work, args.out / "gpu_check.log")
            tasks = plan(args, work)
        except (OSError, RuntimeError) as err:
            print(f"gpu_check: error: {err}", file=sys.stderr)
            return 2
        except ImportError as err:  # train_step.GENERATORS could not be read
            print(f"gpu_check: error: benchmarks/train_step.py does not import: {err}", file=sys.stderr)
            return 2
        unknown = sorted(set(args.limit) - {task.name for task in tasks})
        if unknown:
            known = ", ".join(task.name for task in tasks)
            print(f"gpu_check: error: --limit names no task: {', '.join(unknown)}; the tasks: {known}", file=sys.stderr)
            return 2
        report: dict[str, Any] = {
            "machine": {
                "device": device_name(args.device),
                "torch": torch.__version__,
                "date": datetime.date.today().isoformat(),
                "python": platform.python_version(),
                "quick": args.quick,
                "budget_s": args.budget_s,
            },
            "tasks": {},
            "rows": [],
            "targets": [],
        }
        run_all([task for task in tasks if task.section in args.only], args, work, env, deadline, report)
        report["seconds"] = time.monotonic() - start
        text = write_outputs(report, args.json, args.out)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    machine = report["machine"]
    print(f"\n{machine['device']}, torch {machine['torch']}, {machine['date']}, {report['seconds']:.0f} s\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
