"""TensorBoard writing off the training thread: :class:`BackgroundWriter` and a native CRC32C for event records.

A logged batch of feature maps costs the training loop three things: rendering (on the features' device, fast),
the device-to-host copy, and then PNG encoding plus TensorBoard's event records, whose CRC32C checksums are pure
Python when TensorFlow is not installed (about as long as the encoding itself for a 100 kB PNG). The first two
must happen on the training thread (the next step may reuse the memory); :class:`BackgroundWriter` moves the rest
to one worker thread behind a bounded queue, and :func:`use_native_crc32c` makes the checksums native when
``google-crc32c`` or ``crc32c`` is installed (``pip install 'perceptual[train]'`` brings ``google-crc32c``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["BackgroundWriter", "use_native_crc32c"]

_MASK_DELTA = 0xA282EAD8


def _native_crc32c() -> Callable[[bytes], int] | None:
    try:
        import google_crc32c
    except ImportError:
        pass
    else:
        if google_crc32c.implementation == "c":  # its pure-Python fallback is no faster than TensorBoard's
            return google_crc32c.value
    try:
        import crc32c
    except ImportError:
        return None
    return crc32c.crc32c


def use_native_crc32c() -> bool:
    """Make TensorBoard's event-file writer checksum its records with a native CRC32C (``google-crc32c``, else
    ``crc32c``) instead of its pure-Python one; the bytes written are the same. Process-wide and idempotent: it
    replaces ``tensorboard.summary.writer.record_writer.masked_crc32c``, which every ``SummaryWriter`` uses.

    Returns whether a native implementation is in use (``False``: neither package is installed, nothing changed)."""
    try:
        from tensorboard.summary.writer import record_writer
    except ImportError:
        return False
    if getattr(record_writer.masked_crc32c, "_perceptual_native", False):
        return True
    crc32c = _native_crc32c()
    if crc32c is None:
        return False

    def masked_crc32c(data: bytes) -> int:
        crc = crc32c(data)
        return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF

    masked_crc32c._perceptual_native = True  # type: ignore[attr-defined]
    record_writer.masked_crc32c = masked_crc32c
    return True


def _to_host(value: Any) -> Any:
    """Tensors and arrays as host numpy copies made now, on the calling thread (the caller may reuse its buffers);
    anything else unchanged."""
    if isinstance(value, Tensor):
        value = value.detach()
        return value.cpu().numpy() if value.device.type != "cpu" else value.numpy().copy()
    if isinstance(value, np.ndarray):
        return value.copy()
    return value


class BackgroundWriter:
    """A ``SummaryWriter`` whose ``add_*`` calls run in one background thread, in the order they were made.

    Each call copies its tensors to the host on the calling thread, then queues the work (PNG encoding, histogram
    binning, event records). The queue is bounded (``max_queue`` calls): when the writer falls behind, the caller
    waits instead of memory growing or anything being dropped. :meth:`flush` waits until everything queued is in
    the event file; :meth:`close` (or leaving a ``with`` block, also by an exception) does that and stops the
    thread. An error in the worker is raised by the next call, :meth:`flush` or :meth:`close`; calls queued after
    it are not written. The wrapped writer stays open (its owner, e.g. Lightning's ``TensorBoardLogger``, closes
    it).

    Args:
        writer: a ``torch.utils.tensorboard.SummaryWriter`` (or anything with the ``add_*`` methods used).
        max_queue: calls that may wait in the queue.
        native_crc32c: call :func:`use_native_crc32c` (a no-op without ``google-crc32c``/``crc32c``).
    """

    def __init__(self, writer: Any, *, max_queue: int = 64, native_crc32c: bool = True) -> None:
        if not isinstance(max_queue, int) or max_queue < 1:
            raise ValueError(f"max_queue must be a positive integer, got {max_queue!r}")
        self.writer = writer
        self.native_crc32c = use_native_crc32c() if native_crc32c else False
        self._queue: queue.Queue[tuple[Callable[..., Any], tuple, dict] | None] = queue.Queue(maxsize=max_queue)
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="perceptual-BackgroundWriter", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------------------------------------ queue
    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                function, args, kwargs = item
                if self._error is None:
                    try:
                        function(self.writer, *args, **kwargs)
                    except BaseException as error:  # noqa: BLE001 - handed to the training thread
                        self._error = error
            finally:
                self._queue.task_done()

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise RuntimeError(f"BackgroundWriter: writing to {type(self.writer).__name__} failed: {error}") from error

    def submit(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """Queue ``function(writer, *args, **kwargs)``; its arguments must not change after the call (give host
        copies). Keep torch's compute ops out of ``function`` (numpy and PIL are fine): on a CPU run, one such op in
        this thread (``(x * 2).sum()``) made the training thread's own ops about 1.5x slower for the rest of the run
        (3 epochs of BeautyGAN's demo, 2 cores: 61 s vs 41 s). Views and host conversions (``detach()``,
        ``numpy()``, what TensorBoard's ``add_embedding`` does to its tensors) measured no difference (40.7 s vs
        41.0 s)."""
        if self._closed:
            raise RuntimeError("BackgroundWriter is closed")
        self._raise_error()
        self._queue.put((function, args, kwargs))

    @property
    def pending(self) -> int:
        """Calls queued or running."""
        return self._queue.unfinished_tasks

    def flush(self) -> None:
        """Wait until every queued call has run, then flush the wrapped writer to disk."""
        self._queue.join()
        self._raise_error()
        flush = getattr(self.writer, "flush", None)
        if callable(flush):
            flush()

    def close(self) -> None:
        """:meth:`flush`, then stop the thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._queue.join()
            self._queue.put(None)
            self._thread.join()
            self._raise_error()
        finally:
            flush = getattr(self.writer, "flush", None)
            if callable(flush):
                flush()

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------------ writer API
    def add_image(
        self, tag: str, img_tensor: Tensor | np.ndarray, global_step: int | None = None, **kwargs: Any
    ) -> None:
        self.submit(lambda w, *a, **k: w.add_image(*a, **k), tag, _to_host(img_tensor), global_step, **kwargs)

    def add_histogram(
        self, tag: str, values: Tensor | np.ndarray, global_step: int | None = None, **kwargs: Any
    ) -> None:
        self.submit(lambda w, *a, **k: w.add_histogram(*a, **k), tag, _to_host(values), global_step, **kwargs)

    def add_scalar(self, tag: str, scalar_value: float | Tensor, global_step: int | None = None, **kwargs: Any) -> None:
        value = float(scalar_value) if isinstance(scalar_value, Tensor) else scalar_value
        self.submit(lambda w, *a, **k: w.add_scalar(*a, **k), tag, value, global_step, **kwargs)

    def add_text(self, tag: str, text_string: str, global_step: int | None = None, **kwargs: Any) -> None:
        self.submit(lambda w, *a, **k: w.add_text(*a, **k), tag, text_string, global_step, **kwargs)

    def add_embedding(self, mat: Tensor, metadata: Any = None, label_img: Tensor | None = None, **kwargs: Any) -> None:
        # Host tensors, not arrays: TensorBoard's sprite writer calls label_img.size(0). In the worker it only detaches
        # them and takes their numpy views (no compute op; see submit).
        host = torch.as_tensor(_to_host(mat))
        images = None if label_img is None else torch.as_tensor(_to_host(label_img))
        self.submit(lambda w, *a, **k: w.add_embedding(*a, **k), host, metadata, images, **kwargs)

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self.pending} pending"
        return f"BackgroundWriter({type(self.writer).__name__}, {state}, native_crc32c={self.native_crc32c})"
