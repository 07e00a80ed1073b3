"""Python's cycle collector, run in the GUI thread only.

CPython runs its cyclic garbage collector in whichever thread happens to allocate when a generation's
threshold is crossed. A closed window (its view, the pyvista plotter, VTK renderers, actors and the
render window's GL resources) sits in reference cycles, so it is freed by that collector, and with
automatic collection that can be a pool thread (a warm-up, a job, the pick tree): Qt and VTK objects
then get destroyed outside the GUI thread, which crashes the process now and then (a full test run
aborted once and segfaulted once in the editing tests, each after many windows had come and gone).

`install()` turns the automatic collector off and runs the same generational policy from a timer in
the GUI thread instead. It is ours rather than a library's: the only ready-made one (pyqtgraph's
``GarbageCollector``) would bring a whole plotting library for twenty lines.
"""

from __future__ import annotations

import gc
import time

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer

INTERVAL_MS = 250  # how often the GUI thread checks whether a collection is due
FULL_SPACING_S = 2.0  # full collections (tens of ms on a loaded scene) at most this often


class GuiThreadCollector(QObject):
    """Runs ``gc.collect(generation)`` in the GUI thread when the automatic collector would have."""

    def __init__(self, parent: QObject, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.passes = [0, 0, 0]  # collections run, per generation
        self._last_full = -FULL_SPACING_S
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)
        gc.disable()
        self._timer.start()

    def due(self) -> int | None:
        """The generation CPython would have collected by now, judged by the allocation volume since
        the last pass (one tick stands for the many collections that volume would have triggered)."""
        (c0, c1, c2), (t0, t1, t2) = gc.get_count(), gc.get_threshold()
        if not t0:
            return None
        young = c1 + c0 / t0  # gen-0 passes owed
        if c2 + young / max(t1, 1) > t2 and time.monotonic() - self._last_full >= FULL_SPACING_S:
            return 2
        if young > t1:
            return 1
        return 0 if c0 > t0 else None

    def collect_due(self) -> int:
        """Collect the generation that is due, if any; the number of unreachable objects found."""
        generation = self.due()
        if generation is None:
            return 0
        if generation == 2:
            self._last_full = time.monotonic()
        self.passes[generation] += 1
        return gc.collect(generation)


def install() -> GuiThreadCollector:
    """Install the collector once per application (idempotent); call from the GUI thread."""
    app = QCoreApplication.instance()
    if app is None or QThread.currentThread() is not app.thread():
        raise RuntimeError("the GUI-thread collector needs the application, from its own thread")
    existing = app.findChild(GuiThreadCollector)
    if existing is not None:
        return existing
    return GuiThreadCollector(app)
