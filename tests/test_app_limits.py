"""``beautygan app`` serves nothing but what was asked for, and decodes no photo it cannot afford.

A real server on a free loopback port (started as a user starts it, stopped by its PID) is asked for an example
photo (served: the test can tell), for the training image next to it, for a file at the data root and for
``/etc/passwd`` (all refused, none with their content), and gets an upload over its ``--max-file-mb`` (refused by
Gradio). In-process, a PNG bomb built here (7000 x 7000 zeros: 49 megapixels in 140 KB) is refused from its header
with a message, and PIL's decoder is checked never to run; an empty ``--host`` is one line.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import save_untrained_generator
from PIL import Image, ImageFile

pytest.importorskip("gradio", reason="the 'app' extra is not installed: pip install -e '.[app]'")

from beautygan.app import MakeupApp
from beautygan.app.vgg_view import VGGChoice, VGGView
from beautygan.cli import main as beautygan_main
from beautygan.data.mt import list_domain
from beautygan.data.photo_limits import PhotoTooLargeError, check_photo_size
from beautygan.data.synthetic import write_synthetic_mt
from beautygan.inference.photo_transfer import PhotoTransfer, TransferOptions

LOOPBACK = "127.0.0.1"
SIZE = 32


@pytest.fixture(scope="module")
def mt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_mt(tmp_path_factory.mktemp("mt"), n=6, size=SIZE, held_out=2, seed=0)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_untrained_generator(tmp_path_factory.mktemp("ckpt") / "last.ckpt", size=SIZE)


def _png_bomb(path: Path, width: int, height: int) -> Path:
    """A valid 8-bit RGB PNG of ``width x height`` black pixels: zeros compress a thousandfold, so the file is small
    and decoding it would take ``3 * width * height`` bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(9)
    row = bytes(1 + 3 * width)  # filter byte 0, then the row's pixels
    data = b"".join([*(packer.compress(row) for _ in range(height)), packer.flush()])
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


def test_a_png_bomb_is_refused_from_its_header_with_a_message(
    checkpoint: Path, mt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bomb = _png_bomb(tmp_path / "bomb.png", 7000, 7000)
    assert bomb.stat().st_size < 200_000
    with Image.open(bomb) as image:
        assert image.size == (7000, 7000)  # a real PNG of that size
    decoded: list[str] = []
    real_load = ImageFile.ImageFile.load

    def load(self):  # PIL's decoder for every file format
        decoded.append(str(getattr(self, "filename", "")))
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    transfer = PhotoTransfer(checkpoint, TransferOptions(align=False))
    app = MakeupApp(transfer, vgg=VGGView(VGGChoice(), problem="no VGG here"), astronaut=False)
    reference = mt / "images" / "makeup" / "mk_0000.png"
    out = app.run(bomb, reference)
    assert out.result is None and decoded == []
    assert out.status == (
        "⚠️ The source photo could not be used: refused, too many pixels (7000x7000 is 49.0 megapixels); up to 40 "
        "megapixels are taken."
    )
    size = f"{bomb.stat().st_size / 2**20:.3g}"
    with pytest.raises(PhotoTooLargeError, match=rf"^the file is {size} MB; up to 0.1 MB are taken$"):
        check_photo_size(bomb, max_file_mb=0.1)
    check_photo_size(bomb, max_megapixels=49.0)  # at the limit: taken
    small = MakeupApp(transfer, vgg=app.vgg, astronaut=False, max_file_mb=0.05)
    out = small.run(reference, bomb)
    assert out.status == f"⚠️ The reference could not be used: the file is {size} MB; up to 0.05 MB are taken."
    assert str(bomb) not in decoded and str(reference) in decoded  # the source was read, the bomb never
    assert MakeupApp(transfer, vgg=app.vgg, astronaut=False).run(reference, reference).ok


def test_an_empty_host_is_one_line(checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert beautygan_main(["app", "--ckpt", str(checkpoint), "--host", ""]) == 2
    err = capsys.readouterr().err
    assert err == (
        "beautygan app: error: --host is empty; give an address: 127.0.0.1 (this machine) or 0.0.0.0 (all)\n"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(checkpoint: Path, mt: Path, tmp_path: Path) -> Iterator[str]:
    """``beautygan app --examples MT --max-file-mb 1`` on a free loopback port; stopped by its PID at the end."""
    port = _free_port()
    log = tmp_path / "server.log"
    command = [sys.executable, "-c", "import sys; from beautygan.cli import main; sys.exit(main())", "app"]
    args = ["--ckpt", str(checkpoint), "--host", LOOPBACK, "--port", str(port), "--device", "cpu", "--no-align"]
    env = {**os.environ, "NO_PROXY": LOOPBACK, "no_proxy": LOOPBACK}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, *args, "--examples", str(mt), "--max-file-mb", "1", "--vgg-weights", "random"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"beautygan app exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if _get(url + "/")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"beautygan app did not answer at {url} in 180 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url: str) -> tuple[int, bytes]:
    try:
        with _OPENER.open(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _upload(url: str, content: bytes) -> int:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        url + "/gradio_api/upload", data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    try:
        with _OPENER.open(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.mark.slow
def test_the_server_serves_the_example_files_and_nothing_else(server: str, mt: Path) -> None:
    held_out = {name for name in list_domain(mt, "makeup", "test")}
    example = mt / "images" / "makeup" / sorted(held_out)[0]
    beside = next(p for p in sorted((mt / "images" / "makeup").iterdir()) if p.name not in held_out)
    status, body = _get(f"{server}/gradio_api/file={example}")
    assert status == 200 and body == example.read_bytes()  # what the examples need is served
    for path in (beside, mt / "segs" / "makeup" / example.name, mt / "makeup_test.txt", Path("/etc/passwd")):
        status, body = _get(f"{server}/gradio_api/file={path}")
        assert status == 403, (path, status)
        assert path.read_bytes() not in body
    assert _upload(server, bytes(2 * 2**20)) == 413  # --max-file-mb 1
    assert _upload(server, b"\x89PNG small") == 200
