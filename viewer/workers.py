"""Long steps (generators yielding `app.progress.Progress`) in Qt's thread pool, through superqt's workers.

`Job` is the GUI's handle on one step: superqt's ``GeneratorWorker`` runs the generator (no thread of our
own), and the handle turns the worker's signals into exactly one of succeeded / failed / cancelled, then
``done``, all delivered in the GUI thread. Cancelling is immediate for the GUI (``cancelled`` at once, any
late result dropped; ``cancel_at_once=False`` waits for the step's own outcome, for steps that write) and
cooperative for the step: the ``cancelled()`` callback the step's factory gets
turns True and the generator is closed (its cleanup runs) at its next yield. Once the job has reported,
it drops the step, its result and its error (and the error's frames), so that nothing the step held
(images, network outputs) outlives it: memory lost to a failed run comes back.

`start_background(func)` runs a plain function in the pool (warm-ups); nothing listens for its end.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal
from superqt.utils import GeneratorWorker, create_worker

from app.progress import Cancelled

log = logging.getLogger(__name__)

StepFactory = Callable[[Callable[[], bool]], Generator[Any, None, Any]]
# superqt runs workers in Qt's global pool, sized by CPU cores: background warm-ups must never make a
# job the user started wait for a free thread
MIN_POOL_THREADS = 8


def _pool_room() -> None:
    pool = QThreadPool.globalInstance()
    if pool.maxThreadCount() < MIN_POOL_THREADS:
        pool.setMaxThreadCount(MIN_POOL_THREADS)


class StepError(Exception):
    """Carries a step's RuntimeError through superqt (which would take a RuntimeError for a deleted
    worker and drop it silently)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class _Result:
    """A step's return value on its way through superqt, which raises a returned exception instance
    (a step may answer with one, e.g. the EditError of a shape that changes nothing)."""

    value: Any


def _drive(factory: StepFactory, cancelled: Callable[[], bool], ended: list[bool]):
    """The generator superqt runs: the step's events, its result (boxed) as the return value; closed on
    cancel."""
    gen = None
    try:
        gen = factory(cancelled)
        while True:
            if cancelled():
                raise Cancelled("cancelled")
            try:
                event = next(gen)
            except StopIteration as stop:
                return _Result(stop.value)
            yield event
    except RuntimeError as exc:
        raise StepError(exc) from None
    finally:
        try:
            if gen is not None:
                gen.close()
        finally:
            ended[0] = True


class Job(QObject):
    """One background step. Signals arrive in the GUI thread; exactly one of succeeded/failed/cancelled
    is emitted, then ``done``."""

    progress = Signal(object)  # whatever the step yields (normally app.progress.Progress)
    succeeded = Signal(object)  # the generator's return value
    failed = Signal(object)  # the exception
    cancelled = Signal()
    done = Signal()

    def __init__(
        self, name: str, factory: StepFactory, parent: QObject | None = None, cancel_at_once: bool = True
    ) -> None:
        super().__init__(parent)
        self.name = name
        self.cancel_at_once = cancel_at_once  # False: a cancel is reported when the step stops (writers)
        self._factory: StepFactory | None = factory
        self._cancel_requested = False
        self._reported = False
        self._ended = [False]  # set by the worker thread when the step's code has finished
        self._reporting = 0  # > 0 while an outcome is being emitted (its handler may wait in a nested loop)
        self._worker_finished = False
        self._worker: GeneratorWorker | None = None
        self.started_at = 0.0

    # control ----------------------------------------------------------------------------------------
    def start(self) -> Job:
        self.started_at = time.monotonic()
        _pool_room()
        worker = create_worker(
            _drive, self._factory, self.is_cancelled, self._ended, _start_thread=False, _ignore_errors=True
        )
        self._factory = None
        worker.yielded.connect(self._on_yielded)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        worker.start()
        return self

    def cancel(self, at_once: bool | None = None) -> None:
        """Ask the step to stop; the GUI is told at once (``cancel_at_once``, or ``at_once`` for this
        cancel: e.g. True when nothing depends on the step's own end any more)."""
        if self._cancel_requested:
            return
        self._cancel_requested = True
        if at_once is not None:
            self.cancel_at_once = at_once
        if self.cancel_at_once and self._claim():
            log.info("job %s cancelled by the user", self.name)
            self._report(self.cancelled)

    def is_cancelled(self) -> bool:
        return self._cancel_requested

    def is_running(self) -> bool:
        return self._worker is not None and not self._ended[0]

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the step's code has ended (tests, shutdown); True when it has."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.is_running() and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.01)
        return not self.is_running()

    # worker signals (GUI thread) --------------------------------------------------------------------
    def _claim(self) -> bool:
        """True for the first of (result, error, cancel) to arrive: only that one is reported."""
        if self._reported:
            return False
        self._reported = True
        return True

    def _on_yielded(self, event: Any) -> None:
        if not self._reported:
            self.progress.emit(event)

    def _report(self, signal, *args: Any) -> None:
        """Emit the outcome, then ``done``. A handler may wait in a nested event loop (a modal question),
        where the worker's ``finished`` can arrive: the Job is released only after ``done`` went out."""
        self._reporting += 1
        try:
            signal.emit(*args)
            self.done.emit()
        finally:
            self._reporting -= 1
        if self._worker_finished and not self._reporting:
            self._release()

    def _on_returned(self, result: _Result) -> None:
        if self._claim():
            self._report(self.succeeded, result.value)

    def _on_errored(self, exc: BaseException) -> None:
        if isinstance(exc, StepError):
            exc = exc.error
        if isinstance(exc, Cancelled):
            if self._claim():
                self._report(self.cancelled)
        elif self._cancel_requested and self.cancel_at_once:
            log.info("job %s ended with %s after cancel", self.name, type(exc).__name__)
        else:
            log.error("job %s failed", self.name, exc_info=(type(exc), exc, exc.__traceback__))
            if self._claim():
                self._report(self.failed, exc)
        if exc.__traceback__ is not None:  # the frames of a failed step hold its data (images, outputs)
            traceback.clear_frames(exc.__traceback__)

    def _on_finished(self) -> None:
        self._worker = None  # superqt forgets it too: nothing of the step is left
        self._worker_finished = True
        if not self._reporting:  # else _report releases it once its done is out
            self._release()

    def _release(self) -> None:
        if self.parent() is not None:
            # A parented Job would live as long as its parent (the window), and with it every slot
            # connected to it: the callers' closures, which hold the scene they ran for. All the worker's
            # signals have arrived by now, so the Job has nothing left to report.
            self.deleteLater()


def start_background(func: Callable[[], Any], name: str) -> None:
    """Run ``func()`` once in Qt's thread pool, for work nobody waits for (e.g. warming caches up); its
    errors are logged at debug level."""

    def work() -> None:
        try:
            func()
        except Exception:
            log.debug("background work %s failed", name, exc_info=True)

    _pool_room()
    # A bare runnable, not a superqt worker: nobody listens for its end, and a worker's signals object may be
    # gone by the time a warm-up still running at exit returns (a traceback on stderr at every quit).
    QThreadPool.globalInstance().start(work)
