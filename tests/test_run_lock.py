"""One ``beautygan fit`` per run folder: a lock naming a live process stops a second fit with that PID; a lock left
by a process that is gone is taken over with a note (:class:`perceptual.folder_lock.FolderLock`). A later run also
removes the temporary files of sample-grid writes that a kill interrupted.

A live PID is this test's own; a dead one is a child process that has exited (``os.kill(pid, 0)`` then raises
``ProcessLookupError``, which the test checks itself)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import tiny_demo_args

from beautygan.cli import main as beautygan_main
from beautygan.cli.fit import LOCK_NAME
from beautygan.data.synthetic import write_synthetic_mt
from beautygan.training.samples import remove_unfinished_grids
from perceptual.folder_lock import FolderLock, FolderLockedError

pytestmark = [
    pytest.mark.filterwarnings("ignore::perceptual.RandomWeightsWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

HOST = socket.gethostname()


@pytest.fixture(scope="module")
def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    with pytest.raises(ProcessLookupError):
        os.kill(child.pid, 0)
    return child.pid


def test_a_second_lock_names_the_holder_and_release_frees_it(tmp_path: Path) -> None:
    first = FolderLock(tmp_path / "run", name=".x.lock", what="beautygan fit")
    assert first.acquire() is None
    assert (tmp_path / "run" / ".x.lock").read_text() == f"{os.getpid()} {HOST}\n"
    with pytest.raises(FolderLockedError) as info:
        FolderLock(tmp_path / "run", name=".x.lock", what="beautygan fit").acquire()
    assert info.value.pid == os.getpid()
    assert str(info.value) == (
        f"another beautygan fit (PID {os.getpid()}) is writing to {tmp_path / 'run'}; wait for it to end, or write "
        "elsewhere"
    )
    first.release()
    assert not (tmp_path / "run" / ".x.lock").exists()
    with FolderLock(tmp_path / "run", name=".x.lock") as again:
        assert again.note is None and (tmp_path / "run" / ".x.lock").exists()
    assert not (tmp_path / "run" / ".x.lock").exists()


def test_a_stale_lock_is_taken_over_with_a_note(tmp_path: Path, dead_pid: int) -> None:
    lock = tmp_path / ".x.lock"
    lock.write_text(f"{dead_pid} {HOST}\n")
    taken = FolderLock(tmp_path, name=".x.lock")
    assert taken.acquire() == f"{lock} was left by PID {dead_pid}, which is no longer running: taken over"
    assert lock.read_text() == f"{os.getpid()} {HOST}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".x.lock"]  # nothing left aside
    taken.release()


def test_an_empty_lock_is_fresh_for_a_while_and_another_hosts_lock_is_held(tmp_path: Path) -> None:
    lock = tmp_path / ".x.lock"
    lock.write_text("")  # a holder between its exclusive create and its write
    with pytest.raises(FolderLockedError, match="holds no PID"):
        FolderLock(tmp_path, name=".x.lock").acquire()
    os.utime(lock, (0, 0))  # long ago: a kill between the create and the write
    assert "held no PID and had not changed for 10 s: taken over" in (
        FolderLock(tmp_path, name=".x.lock").acquire() or ""
    )
    lock.write_text(f"1 other-{HOST}\n")
    with pytest.raises(FolderLockedError, match=f"PID 1 on host other-{HOST}"):
        FolderLock(tmp_path, name=".x.lock").acquire()


def test_the_lock_file_is_created_holding_its_pid_and_without_hard_links_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock file appears under its name already holding ``PID host`` (a hard link of a file written first), so
    no process sees it empty; where the filesystem has no hard links it is created exclusively and written at once.
    A lock file holding only a PID (no host) is this host's."""
    linked: list[str] = []
    real_link = os.link

    def link(source, target, *args, **kwargs):
        linked.append(Path(source).read_text())  # what the lock file holds the moment it exists
        return real_link(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "link", link)
    with FolderLock(tmp_path / "a", name=".x.lock"):
        assert linked == [f"{os.getpid()} {HOST}\n"]

    def no_links(source, target, *args, **kwargs):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    with FolderLock(tmp_path / "b", name=".x.lock"):
        assert (tmp_path / "b" / ".x.lock").read_text() == f"{os.getpid()} {HOST}\n"
        with pytest.raises(FolderLockedError, match=f"PID {os.getpid()}"):
            FolderLock(tmp_path / "b", name=".x.lock").acquire()
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == []  # no temporary file left
    (tmp_path / "b" / ".x.lock").write_text(str(os.getpid()))  # a PID and no host: this host's
    with pytest.raises(FolderLockedError, match=f"another a run \\(PID {os.getpid()}\\)"):
        FolderLock(tmp_path / "b", name=".x.lock").acquire()


def test_unfinished_sample_grids_are_removed_and_finished_ones_kept(tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    samples.mkdir()
    for name in ("train_000000.png", ".train_000050.png.k2j3h4.tmp", ".val_000004.png.a8b9.tmp", "notes.tmp"):
        (samples / name).write_bytes(b"x")
    removed = remove_unfinished_grids(samples)
    assert [p.name for p in removed] == [".train_000050.png.k2j3h4.tmp", ".val_000004.png.a8b9.tmp"]
    assert sorted(p.name for p in samples.iterdir()) == ["notes.tmp", "train_000000.png"]
    assert remove_unfinished_grids(tmp_path / "none") == []


def _fit(root: Path, runs: Path) -> int:
    return beautygan_main(
        tiny_demo_args(
            "fit",
            root,
            runs,
            "--trainer.max_epochs",
            "1",
            "--trainer.limit_train_batches",
            "1",
            "--data.batch_size",
            "3",  # one batch holds the 3 training pairs: one batch also where an imported gradio (test_app) makes
            # jsonargparse read limit_train_batches "1" as the float 1.0, every batch
            "--samples.every_n_batches",
            "1",
        )
    )


def test_fit_locks_its_run_folder(tmp_path: Path, dead_pid: int, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_synthetic_mt(tmp_path / "mt", n=4, size=32, held_out=1, seed=0)
    runs = tmp_path / "runs"
    folder = runs / "tensorboard"
    folder.mkdir(parents=True)
    lock = folder / LOCK_NAME

    lock.write_text(f"{os.getpid()} {HOST}\n")  # a live fit holds the run
    assert _fit(root, runs) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"beautygan: error: another beautygan fit (PID {os.getpid()}) is writing to {folder}")
    assert sorted(p.name for p in folder.iterdir()) == [LOCK_NAME]  # no version started

    lock.write_text(f"{dead_pid} {HOST}\n")  # a fit that was killed; it was writing a sample grid
    samples = folder / "version_0" / "samples"
    samples.mkdir(parents=True)
    (samples / ".train_000000.png.x7y8z9.tmp").write_bytes(b"\x89PNG half")
    assert _fit(root, runs) == 0
    captured = capsys.readouterr()
    assert f"beautygan: note: {lock} was left by PID {dead_pid}, which is no longer running: taken over" in (
        captured.out
    )
    assert f"beautygan: note: removed 1 unfinished sample grid file(s) an interrupted run left under {folder}" in (
        captured.out
    )
    assert not lock.exists()  # released at the end
    assert list(samples.iterdir()) == []
    assert sorted(p.name for p in (folder / "version_1" / "samples").iterdir()) == ["train_000000.png"]
