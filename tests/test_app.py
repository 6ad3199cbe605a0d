"""``beautygan app``, the web page: in a real browser (playwright driving the system's Chromium), through its API
(gradio_client), with two clients at once, and its pieces in-process.

Every result is checked by value against :class:`~beautygan.inference.photo_transfer.PhotoTransfer` run here on the same
photos with the same controls (the app's PNGs are lossless, so the pixels must be equal), and against the
default-controls transfer it must differ from. Each server is started on a free loopback port with a tiny checkpoint
built here, and stopped by its own PID at the end of its test. The browser's requests are checked to go to the
loopback address only.

The browser tests skip without playwright or Chromium (``apt-get install chromium``), unless
``BEAUTYGAN_APP_BROWSER=required`` (``.ci/run`` sets it), where a missing browser fails. With
``BEAUTYGAN_APP_SCREENSHOT=PATH`` the page's screenshot is also written to ``PATH`` (the README's is
``experiments/beautygan/assets/app.png``), and with ``BEAUTYGAN_APP_CHECKPOINT=PATH`` the tests run on that
checkpoint instead of the untrained one (a trained one, e.g. the demo's, shows real makeup in the screenshot).
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import warnings
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("gradio", reason="the 'app' extra is not installed: pip install -e '.[app]'")
pytest.importorskip("dlib", reason="the 'faces' extra is not installed: pip install -e '.[faces]'")
skimage_data = pytest.importorskip("skimage.data", reason="scikit-image ships the astronaut, a real face")

from conftest import save_untrained_generator

from beautygan.app import MakeupApp, VGGChoice, VGGView, checkpoint_vgg
from beautygan.data.synthetic import write_synthetic_mt
from beautygan.inference.controls import MakeupControls
from beautygan.inference.photo_transfer import PhotoTransfer, TransferOptions

SIZE = 64
LOOPBACK = "127.0.0.1"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback requests never go through a proxy (the server, gradio_client and the browser's page requests)."""
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, f"{LOOPBACK},localhost")


@pytest.fixture(scope="module")
def mt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's kind of faces (cartoons in the MT layout; dlib finds no face in them): the app's examples."""
    return write_synthetic_mt(tmp_path_factory.mktemp("mt"), n=6, size=SIZE, held_out=3, seed=0)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, mt: Path) -> Path:
    """An untrained generator saved as `beautygan fit` saves it (it changes every pixel it is given), recording a
    normalized random VGG16 as the one it trained with, and ``mt`` as its data root."""
    if os.environ.get("BEAUTYGAN_APP_CHECKPOINT"):
        return Path(os.environ["BEAUTYGAN_APP_CHECKPOINT"])
    from perceptual import VGGFeatures
    from perceptual.weights import vgg_provenance

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        used = vgg_provenance(VGGFeatures(["relu2_1"], weights="random_normalized"))
    return save_untrained_generator(
        tmp_path_factory.mktemp("ckpt") / "last.ckpt",
        size=SIZE,
        hyper_parameters={"perceptual_layer": "relu2_1"},
        datamodule_hyper_parameters={"root": str(mt)},
        vgg_used=used,
    )


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The astronaut (a real face), coffee (no face), a file that is not an image, and a PNG whose header claims
    more pixels than the library reads (2 x PIL's MAX_IMAGE_PIXELS, perceptual.images.load_image's rule)."""
    folder = tmp_path_factory.mktemp("photos")
    astronaut, coffee = folder / "astronaut.png", folder / "coffee.png"
    Image.fromarray(skimage_data.astronaut()).save(astronaut)
    Image.fromarray(skimage_data.coffee()).save(coffee)
    broken = folder / "broken.png"
    broken.write_bytes(b"this is not an image\n" * 10)
    huge = folder / "huge.png"
    width = 20_000
    height = 2 * Image.MAX_IMAGE_PIXELS // width + 1
    huge.write_bytes(_png_header(width, height))
    return {"astronaut": astronaut, "coffee": coffee, "broken": broken, "huge": huge}


def _png_header(width: int, height: int) -> bytes:
    """A PNG of ``width x height`` (8-bit RGB) as far as its header goes, with a few bytes of pixel data: PIL reads
    the size, and refuses it when it is too large, before decoding anything."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(16))) + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def expected(checkpoint: Path):
    """The reference transfers, here: aligned photos, and the example faces used whole (as the app uses them)."""
    aligned = PhotoTransfer(checkpoint, TransferOptions(align=True))
    whole = PhotoTransfer(checkpoint, TransferOptions(align=False))
    return aligned, whole


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def _command() -> list[str]:
    script = Path(sys.executable).with_name("beautygan")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from beautygan.cli import main; sys.exit(main())"]


@pytest.fixture
def server(checkpoint: Path, mt: Path, tmp_path: Path) -> Iterator[str]:
    """``beautygan app`` on a free loopback port, as a user starts it; stopped by its PID when the test ends."""
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *_command(),
                "app",
                "--ckpt",
                str(checkpoint),
                "--host",
                LOOPBACK,
                "--port",
                str(port),
                "--device",
                "cpu",
                "--examples",
                str(mt),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://{LOOPBACK}:{port}/"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"beautygan app exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with opener.open(url, timeout=5) as response:
                    if response.status == 200:
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
        assert process.poll() is not None


def _png(data: bytes | str | Path) -> np.ndarray:
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with Image.open(source) as image:
        assert image.format == "PNG" and image.mode == "RGB", (image.format, image.mode)
        return np.asarray(image).copy()


def _reference(mt: Path, number: int) -> Path:
    return mt / "images" / "makeup" / f"mk_{number:04d}.png"


# ---------------------------------------------------------------------------------------------- in a browser
@pytest.fixture
def browser():
    """playwright and the system's Chromium (checked before any server starts), or a skip saying what is missing."""
    required = os.environ.get("BEAUTYGAN_APP_BROWSER") == "required"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            pytest.fail("BEAUTYGAN_APP_BROWSER=required but playwright is not installed")
        pytest.skip("playwright is not installed: pip install playwright")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if required:
            pytest.fail("BEAUTYGAN_APP_BROWSER=required but there is no chromium on PATH (apt-get install chromium)")
        pytest.skip("no chromium on PATH: apt-get install chromium")
    return sync_playwright, chromium


@pytest.mark.slow
def test_in_a_browser_the_lips_slider_gives_photo_transfers_result_and_no_face_is_a_message(
    browser, server: str, mt: Path, photos: dict[str, Path], expected, tmp_path: Path
) -> None:
    sync_playwright, chromium = browser
    from playwright.sync_api import expect

    aligned, whole = expected
    elsewhere: list[str] = []
    with sync_playwright() as playwright:
        chrome = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = chrome.new_page(viewport={"width": 1280, "height": 900})

            def loopback_only(route) -> None:
                if route.request.url.startswith(server):
                    route.continue_()
                else:
                    elsewhere.append(route.request.url)
                    route.abort()

            page.route("**/*", loopback_only)
            page.goto(server, wait_until="load")
            expect(page.locator("#vgg_text")).to_contain_text("as the checkpoint was trained")

            # a photo without a face: a message on the page, no result, no traceback
            page.locator("#source input[type=file]").set_input_files(str(photos["coffee"]))
            page.locator("#reference input[type=file]").set_input_files(str(_reference(mt, 3)))
            page.locator("#run").click()
            expect(page.locator("#status")).to_contain_text("No face found in the source photo", timeout=60_000)
            expect(page.locator("#status")).not_to_contain_text("Traceback")
            assert page.locator("#result img").count() == 0

            # the astronaut and a demo reference; move the lips slider to about nine tenths of its range (a heavier
            # look than the generator's own, 1)
            page.locator("#source button[aria-label='Remove Image']").click()
            page.locator("#source input[type=file]").set_input_files(str(photos["astronaut"]))
            expect(page.locator("#source img")).to_be_visible()
            track = page.locator("#lips_strength input[type=range]").bounding_box()
            assert track is not None
            page.mouse.click(track["x"] + 0.9 * track["width"], track["y"] + track["height"] / 2)
            lips = float(page.locator("#lips_strength input[type=number]").input_value())
            assert 1.2 <= lips <= 1.5, lips
            expect(page.locator("#status")).to_contain_text(f"lips strength {lips:g}", timeout=60_000)
            expect(page.locator("#result img")).to_be_visible()
            response = page.request.get(page.locator("#result img").get_attribute("src"))
            shown = _png(response.body())
            expect(page.locator("#vgg_heatmap img")).to_be_visible()
            page.wait_for_timeout(500)  # let the images paint
            picture = page.locator("#result img").screenshot()
            page.screenshot(path=str(tmp_path / "app.png"), full_page=True)
        finally:
            chrome.close()
    assert elsewhere == []

    reference = whole.prepare(_reference(mt, 3))  # an example face: used whole
    want = aligned.transfer(photos["astronaut"], reference, MakeupControls(lips_strength=lips))
    np.testing.assert_array_equal(shown, want)
    assert shown.shape == (512, 512, 3)
    assert not np.array_equal(shown, aligned.transfer(photos["astronaut"], reference))  # the slider did something
    on_screen = np.asarray(Image.open(io.BytesIO(picture)).convert("RGB"), dtype=np.float64)
    assert on_screen.shape[0] > 200 and on_screen.std() > 20  # the result is painted, not a blank box
    screenshot = Image.open(tmp_path / "app.png")
    assert screenshot.size[0] == 1280 and screenshot.size[1] > 900
    target = os.environ.get("BEAUTYGAN_APP_SCREENSHOT")
    if target:
        shutil.copyfile(tmp_path / "app.png", target)


# ---------------------------------------------------------------------------------------------- the API
def _client(url: str, folder: Path):
    from gradio_client import Client

    return Client(url, verbose=False, download_files=str(folder))


def _inputs(
    source, reference, *, strength=1.0, lips=1.0, eyes=1.0, skin=1.0, regions=None, second=None, mix=0.0
) -> list:
    """The ``/transfer`` endpoint's arguments, in the page's order (``regions``: region -> reference photo)."""
    from gradio_client import handle_file

    def upload(path):
        return None if path is None else handle_file(str(path))

    looks = [upload((regions or {}).get(region)) for region in ("lips", "eyes", "skin")]
    return [upload(source), upload(reference), strength, lips, eyes, skin, *looks, upload(second), mix]


@pytest.mark.slow
def test_the_api_gives_photo_transfers_results_and_messages_for_bad_photos(
    server: str, mt: Path, photos: dict[str, Path], expected, tmp_path: Path
) -> None:
    aligned, whole = expected
    client = _client(server, tmp_path)
    look_a, look_b = whole.prepare(_reference(mt, 3)), whole.prepare(_reference(mt, 4))

    result, before_after, *vgg, vgg_text, status = client.predict(
        *_inputs(photos["astronaut"], _reference(mt, 3), strength=0.8, eyes=0.5), api_name="/transfer"
    )
    want = aligned.transfer(photos["astronaut"], look_a, MakeupControls(strength=0.8, eyes_strength=0.5))
    np.testing.assert_array_equal(_png(result), want)
    assert not np.array_equal(want, aligned.transfer(photos["astronaut"], look_a))
    np.testing.assert_array_equal(_png(before_after[0]), skimage_data.astronaut())
    np.testing.assert_array_equal(_png(before_after[1]), want)
    assert "Done" in status and "strength 0.8, eyes strength 0.5" in status
    assert len(vgg) == 3 and all(_png(path).ndim == 3 for path in vgg)
    assert _png(vgg[-1]).shape == (224, 224, 3) and "relu1\\_2 and relu2\\_1" in vgg_text

    # the eyes from another reference
    result, *_, status = client.predict(
        *_inputs(photos["astronaut"], _reference(mt, 3), regions={"eyes": _reference(mt, 4)}), api_name="/transfer"
    )
    want = aligned.transfer(photos["astronaut"], look_a, MakeupControls(eyes=look_b))
    np.testing.assert_array_equal(_png(result), want)
    assert not np.array_equal(want, aligned.transfer(photos["astronaut"], look_a, MakeupControls(lips=look_b)))
    assert "eyes from mk\\_0004.png" in status

    # between two looks, inside the generator
    result, *_, status = client.predict(
        *_inputs(photos["astronaut"], _reference(mt, 3), second=_reference(mt, 4), mix=0.5), api_name="/transfer"
    )
    (want,) = aligned.interpolate(photos["astronaut"], look_a, look_b, weights=[0.5])
    np.testing.assert_array_equal(_png(result), want)
    assert not np.array_equal(want, aligned.transfer(photos["astronaut"], look_a))

    for source, message in (
        (photos["coffee"], "No face found in the source photo"),
        (photos["broken"], "The source photo could not be used: not a readable image"),
        (photos["huge"], "The source photo could not be used: refused, too many pixels"),
    ):
        result, before_after, *vgg, vgg_text, status = client.predict(
            *_inputs(source, _reference(mt, 3)), api_name="/transfer"
        )
        assert result is None and before_after is None and vgg == [None, None, None]
        assert status.startswith("⚠️") and message in status.replace("\\", ""), status
        assert "Traceback" not in status and str(source.parent) not in status


@pytest.mark.slow
def test_two_clients_at_once_both_get_their_own_results(
    server: str, mt: Path, photos: dict[str, Path], expected, tmp_path: Path
) -> None:
    aligned, whole = expected
    asks = [
        (_reference(mt, 3), MakeupControls(lips_strength=0.4)),
        (_reference(mt, 5), MakeupControls(strength=0.6, skin_strength=1.5)),
    ]
    clients = [_client(server, tmp_path / f"client{i}") for i in range(len(asks))]
    jobs = [
        client.submit(
            *_inputs(
                photos["astronaut"],
                reference,
                strength=controls.strength,
                lips=controls.lips_strength,
                skin=controls.skin_strength,
            ),
            api_name="/transfer",
        )
        for client, (reference, controls) in zip(clients, asks)
    ]
    with ThreadPoolExecutor(len(jobs)) as pool:
        outputs = list(pool.map(lambda job: job.result(timeout=180), jobs))
    results = []
    for (reference, controls), (result, *_, status) in zip(asks, outputs):
        assert "Done" in status, status
        want = aligned.transfer(photos["astronaut"], whole.prepare(reference), controls)
        results.append(_png(result))
        np.testing.assert_array_equal(results[-1], want)
    assert not np.array_equal(results[0], results[1])


# ---------------------------------------------------------------------------------------------- in-process
@pytest.fixture(scope="module")
def app(checkpoint: Path, mt: Path, expected) -> MakeupApp:
    aligned, _ = expected
    return MakeupApp(aligned, vgg=VGGView.load(checkpoint_vgg(torch.load(checkpoint, weights_only=True))), examples=mt)


def test_the_heatmap_of_an_unchanged_face_is_the_colormaps_floor_over_the_face(app: MakeupApp, photos, mt) -> None:
    """Strength 0 leaves the photo as it is, so VGG sees no difference: the overlay is, pixel by pixel,
    ``round(0.5 * face + 0.5 * magma(0))``, with magma(0) from matplotlib (its float entry times 255, rounded, as
    :func:`perceptual.pictures.colormaps.colormap_lut` documents its tables)."""
    matplotlib = pytest.importorskip("matplotlib")
    out = app.run(photos["astronaut"], _reference(mt, 3), strength=0.0)
    np.testing.assert_array_equal(out.result, skimage_data.astronaut())
    source = app.transfer.prepare(photos["astronaut"])
    face = app.transfer.face_view(source, skimage_data.astronaut(), 224).astype(np.float64)
    floor = np.rint(np.asarray(matplotlib.colormaps["magma"](0.0)[:3], dtype=np.float64) * 255)
    np.testing.assert_array_equal(out.pictures[-1][0], np.rint(0.5 * face + 0.5 * floor).astype(np.uint8))
    assert [caption.split(":")[0] for _, caption in out.pictures[:2]] == ["relu1_2", "relu2_1"]


def test_a_vgg_that_cannot_be_had_is_a_message_and_the_transfer_still_works(
    checkpoint, mt, photos, expected, tmp_path
) -> None:
    aligned, whole = expected
    missing = tmp_path / "no_such_vgg16.pth"
    view = VGGView.load(VGGChoice(weights=str(missing), layers=("relu2_1",)))
    assert view.extractor is None and "VGG comparison unavailable" in view.problem and missing.name in view.problem
    out = MakeupApp(aligned, vgg=view, examples=mt).run(photos["astronaut"], _reference(mt, 4))
    np.testing.assert_array_equal(out.result, aligned.transfer(photos["astronaut"], whole.prepare(_reference(mt, 4))))
    assert out.pictures == [] and out.vgg_text.startswith("⚠️") and "random\\_normalized" in out.vgg_text


@pytest.mark.parametrize(
    ("used", "hparams", "want"),
    [
        (
            {"arch": "vgg16", "weights": "random_normalized (seed 3; Gatys-normalized: mean activation 1 per channel)"},
            {"perceptual_layer": "relu4_1"},
            ("random_normalized", 3, "vgg16", ("relu1_2", "relu4_1")),
        ),
        ({"arch": "vgg19", "weights": "random (seed 0)"}, {}, ("random", 0, "vgg19", ("relu1_2", "relu4_1"))),
        (
            {"arch": "vgg16", "weights": "torchvision VGG16_Weights.IMAGENET1K_V1"},
            {"perceptual_layer": "relu1_2"},
            ("VGG16_Weights.IMAGENET1K_V1", 0, "vgg16", ("relu1_2",)),
        ),
        ({"arch": "vgg16", "weights": "/nowhere/mine_vgg16.pth"}, {}, ("imagenet", 0, "vgg16", ("relu1_2", "relu4_1"))),
        (None, {}, ("imagenet", 0, "vgg16", ("relu1_2", "relu4_1"))),
    ],
)
def test_the_comparison_uses_the_vgg_the_checkpoint_trained_with(used, hparams, want) -> None:
    checkpoint = {"hyper_parameters": hparams, **({"vgg_used": used} if used else {})}
    choice = checkpoint_vgg(checkpoint)
    assert (choice.weights, choice.seed, choice.arch, choice.layers) == want
    assert choice.trained_with == (used["weights"] if used else None)


@pytest.mark.parametrize(
    ("ask", "message"),
    [
        ({"source": None}, "Add a source photo"),
        ({"reference": None}, "Add a reference photo"),
        ({"reference": None, "second": "mk_0004"}, "add the reference too"),
        ({"strength": 1.5, "lips_strength": 1.5}, "strength 1.5 x lips\\_strength 1.5 = 2.25 is above 1.5"),
        ({"skin_strength": -0.5}, "skin\\_strength must be in \\[0, 1.5\\]"),
        ({"mix": 2.0}, "the interpolation must be in \\[0, 1\\], got 2.0"),
        ({"lips": "coffee"}, "No face found in the lips reference"),
    ],
)
def test_bad_requests_are_messages(app: MakeupApp, photos, mt, ask: dict, message: str) -> None:
    files = {"coffee": photos["coffee"], "mk_0004": _reference(mt, 4)}
    request = {"source": photos["astronaut"], "reference": _reference(mt, 3), **ask}
    request = {key: files.get(value, value) if isinstance(value, str) else value for key, value in request.items()}
    out = app.run(request.pop("source"), request.pop("reference"), **request)
    assert out.result is None and out.pictures == [] and not out.ok
    assert out.status.startswith("⚠️ ") and message in out.status, out.status


def test_the_command_refuses_bad_options_in_one_line(checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from beautygan.cli import main

    assert main(["app", "--ckpt", str(checkpoint.with_name("missing.ckpt"))]) == 2
    assert main(["app", "--ckpt", str(checkpoint), "--port", "70000"]) == 2
    assert main(["app", "--ckpt", str(checkpoint), "--queue-size", "0"]) == 2
    assert main(["app", "--ckpt", str(checkpoint), "--examples", str(checkpoint.with_name("nowhere"))]) == 2
    assert main(["app", "--ckpt", str(checkpoint), "--vgg-layers", "relu1_2,relu9_9"]) == 2
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["app", "--ckpt", str(checkpoint), "--host", LOOPBACK, "--port", str(port)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["beautygan app"] * 6, lines
    assert f"cannot listen on {LOOPBACK}:{port}" in lines[5] and "choose another --port" in lines[5]
    assert "checkpoint not found" in lines[0] and "--port must be in 1-65535, got 70000" in lines[1]
    assert "--queue-size must be >= 1, got 0" in lines[2] and "no such folder" in lines[3]
    assert "--vgg-layers relu1_2,relu9_9" in lines[4] and "relu9_9" in lines[4] and "relu4_1" in lines[4]


def test_the_page_says_which_vgg_draws_the_comparison() -> None:
    trained = "random_normalized (seed 0; Gatys-normalized: mean activation 1 per channel)"
    same = VGGView.load(VGGChoice(weights="random_normalized", layers=("relu1_2",), trained_with=trained))
    assert same.description == "VGG16, random weights, as the checkpoint was trained" and same.lpips is None
    other = VGGView.load(VGGChoice(weights="random_normalized", seed=1, layers=("relu1_2",), trained_with=trained))
    assert other.description == f"VGG16, random weights; the checkpoint was trained with {trained}"
    unknown = VGGView.load(VGGChoice(weights="random", layers=("relu1_2",)))
    assert unknown.description == "VGG16, random weights; the checkpoint does not say which VGG it trained with"
    with pytest.raises(ValueError, match="relu9_9"):
        VGGChoice(layers=("relu9_9",))
    with pytest.raises(ValueError, match="one or two layers"):
        VGGChoice(layers=("relu1_2", "relu2_2", "relu3_3"))


# ---------------------------------------------------------------------------------------------- a PSGAN checkpoint
@pytest.fixture(scope="module")
def psgan_checkpoint(tmp_path_factory: pytest.TempPathFactory, mt: Path) -> Path:
    """An untrained PSGAN-style generator saved as `beautygan fit` saves it, with the same VGG record."""
    from perceptual import VGGFeatures
    from perceptual.weights import vgg_provenance

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        used = vgg_provenance(VGGFeatures(["relu2_1"], weights="random_normalized"))
    return save_untrained_generator(
        tmp_path_factory.mktemp("psgan") / "last.ckpt",
        size=SIZE,
        generator="psgan",
        hyper_parameters={"perceptual_layer": "relu2_1"},
        vgg_used=used,
    )


def _markdown(blocks) -> str:
    return "\n".join(
        str(c.get("props", {}).get("value")) for c in blocks.config["components"] if c.get("type") == "markdown"
    )


def test_a_psgan_checkpoint_gives_photo_transfers_results_and_the_page_names_it(
    psgan_checkpoint: Path, checkpoint: Path, mt: Path, photos, monkeypatch, capsys
) -> None:
    """The app's work on a PSGAN checkpoint equals PhotoTransfer's on the same photos (an aligned photo with an
    aligned example face, the lips at half strength, then halfway to a second look); the page's heading and the
    command's start-up line name the generator, for BeautyGAN's too."""
    from beautygan.app import build_app
    from beautygan.cli import main

    aligned = PhotoTransfer(psgan_checkpoint, TransferOptions(align=True))
    whole = PhotoTransfer(psgan_checkpoint, TransferOptions(align=False))
    vgg = VGGView.load(checkpoint_vgg(torch.load(psgan_checkpoint, weights_only=True)))
    app = MakeupApp(aligned, vgg=vgg, examples=mt)
    look_a, look_b = whole.prepare(_reference(mt, 3)), whole.prepare(_reference(mt, 4))
    out = app.run(photos["astronaut"], _reference(mt, 3), lips_strength=0.5)
    want = aligned.transfer(photos["astronaut"], look_a, MakeupControls(lips_strength=0.5))
    assert out.ok and "Done" in out.status and "lips strength 0.5" in out.status
    np.testing.assert_array_equal(out.result, want)
    assert not np.array_equal(want, skimage_data.astronaut())
    out = app.run(photos["astronaut"], _reference(mt, 3), second=_reference(mt, 4), mix=0.5)
    (want,) = aligned.interpolate(photos["astronaut"], look_a, look_b, weights=[0.5])
    # The page computes the two looks' codes in one batch, this test one at a time: batched convolutions round
    # differently in the last float bits (TrainedGenerator.made_up says so), and PSGAN's attention (x200 before its
    # softmax) can carry that into one 8-bit level of a few pixels.
    difference = np.abs(out.result.astype(int) - want.astype(int))
    assert difference.max() <= 1 and (difference > 0).mean() < 1e-4, (difference.max(), (difference > 0).sum())
    assert not np.array_equal(want, aligned.transfer(photos["astronaut"], look_a))
    assert len(out.pictures) == 3  # the VGG view as for BeautyGAN

    description = aligned.model.description
    assert description.startswith("PSGAN-style generator, ") and description.endswith(" parameters, 64 px")
    page = _markdown(build_app(app))
    assert "# PSGAN-style makeup transfer" in page and f"**{description}**" in page
    beautygan = PhotoTransfer(checkpoint, TransferOptions(align=False))
    page = _markdown(build_app(MakeupApp(beautygan, vgg=vgg, astronaut=False)))
    assert "# BeautyGAN makeup transfer" in page and "**BeautyGAN generator, " in page

    launched = []
    monkeypatch.setattr("beautygan.app.launch", lambda blocks, **kwargs: launched.append(kwargs))
    for ckpt, name in ((psgan_checkpoint, description), (checkpoint, beautygan.model.description)):
        args = ["app", "--ckpt", str(ckpt), "--host", LOOPBACK, "--port", str(_free_port()), "--device", "cpu"]
        assert main(args) == 0
        first = capsys.readouterr().out.splitlines()[0]
        assert first == f"beautygan app: {name}, checkpoint {ckpt}", first
    assert len(launched) == 2
