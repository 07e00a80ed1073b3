"""Run long steps (generators yielding `app.progress.Progress`) in a background thread.

The GUI thread only receives signals. Cancelling is immediate for the GUI (the job reports
``cancelled`` at once and any late result is dropped) and cooperative for the step: the cancel
callback passed to the step returns True and the generator is closed at its next yield.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.progress import Cancelled

log = logging.getLogger(__name__)


def _cancel_types() -> tuple[type[BaseException], ...]:
    try:
        from model.errors import Cancelled as ModelCancelled
    except ImportError:  # pragma: no cover - model package absent
        return (Cancelled,)
    return (Cancelled, ModelCancelled)


CANCEL_TYPES = _cancel_types()

StepFactory = Callable[[Callable[[], bool]], Generator[Any, None, Any]]


class Job(QObject):
    """One background step. Signals arrive in the GUI thread; exactly one of succeeded/failed/cancelled
    is emitted, then ``done``."""

    progress = Signal(object)  # whatever the step yields (normally app.progress.Progress)
    succeeded = Signal(object)  # the generator's return value
    failed = Signal(object)  # the exception
    cancelled = Signal()
    done = Signal()

    def __init__(self, name: str, factory: StepFactory, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._factory = factory
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._reported = False
        self._lock = threading.Lock()
        self.started_at = 0.0
        self.result: Any = None
        self.error: BaseException | None = None

    # control ----------------------------------------------------------------------------------------
    def start(self) -> Job:
        self.started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"job-{self.name}", daemon=True)
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the step to stop; the GUI is told at once."""
        if self._cancel.is_set():
            return
        self._cancel.set()
        if self._claim():
            log.info("job %s cancelled by the user", self.name)
            self.cancelled.emit()
            self.done.emit()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the worker thread has ended (tests, shutdown)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.is_running()

    # internals --------------------------------------------------------------------------------------
    def _claim(self) -> bool:
        """True for the first of (result, error, cancel) to arrive: only that one is reported."""
        with self._lock:
            if self._reported:
                return False
            self._reported = True
            return True

    def _run(self) -> None:
        gen = None
        try:
            gen = self._factory(self._cancel.is_set)
            while True:
                if self._cancel.is_set():
                    raise Cancelled("cancelled")
                try:
                    event = next(gen)
                except StopIteration as stop:
                    self.result = stop.value
                    break
                if not self._cancel.is_set():
                    self.progress.emit(event)
        except CANCEL_TYPES:
            if self._claim():
                self.cancelled.emit()
                self.done.emit()
            return
        except BaseException as exc:
            self.error = exc
            if self._cancel.is_set():
                log.info("job %s ended with %s after cancel", self.name, type(exc).__name__)
                return
            log.error("job %s failed", self.name, exc_info=(type(exc), exc, exc.__traceback__))
            if self._claim():
                self.failed.emit(exc)
                self.done.emit()
            return
        finally:
            if gen is not None:
                try:
                    gen.close()
                except Exception:
                    log.exception("closing job %s", self.name)
        if self._claim():
            self.succeeded.emit(self.result)
            self.done.emit()


def run_function(name: str, func: Callable[[], Any], parent: QObject | None = None) -> Job:
    """A Job for a plain function (no progress): runs ``func()`` in the background."""

    def factory(_cancelled):
        return (yield from _call(func))

    return Job(name, factory, parent)


def _call(func: Callable[[], Any]):
    if False:  # pragma: no cover - makes this a generator
        yield None
    return func()
