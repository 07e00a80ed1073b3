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

import contextlib
import gc
from collections.abc import Iterator

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer

INTERVAL_MS = 250  # how often the GUI thread checks whether a collection is due


class GuiThreadCollector(QObject):
    """Runs ``gc.collect(generation)`` in the GUI thread when CPython's automatic collector would have:
    by the allocation volume since the last pass, and a full pass only once the objects that reached
    the oldest generation since the last full pass are a quarter of those that were there (CPython's
    rule, so that a full pass, ~150 ms with a scene open, stays rare)."""

    def __init__(self, parent: QObject, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.passes = [0, 0, 0]  # collections run, per generation
        gc.disable()
        # What exists now (the modules the window imports: ~240k objects) lives as long as the process;
        # frozen, it is left out of every full pass.
        gc.collect()
        gc.freeze()
        self._long_lived = 0  # objects in the oldest generation after the last full pass
        self._pending = 0  # objects moved into it since
        self._full_owed = False  # enough gen-1 passes (in volume) for a full one, if enough is pending
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)
        self._timer.start()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """No scheduled pass meanwhile (a measurement that turns the event loop, e.g. a benchmark)."""
        self._timer.stop()
        try:
            yield
        finally:
            self._timer.start()

    def due(self) -> int | None:
        """The generation CPython would have collected by now (one tick stands for the many passes
        the allocation volume since the last one would have triggered)."""
        (c0, c1, c2), (t0, t1, t2) = gc.get_count(), gc.get_threshold()
        if not t0:
            return None
        young = c1 + c0 / t0  # gen-0 passes owed
        self._full_owed = self._full_owed or c2 + young / max(t1, 1) > t2
        if self._full_owed and self._pending > self._long_lived / 4:
            return 2
        if young > t1 or (self._full_owed and young >= 1):
            return 1
        return 0 if c0 > t0 else None

    def collect_due(self) -> int:
        """Collect the generation that is due, if any; the number of unreachable objects found."""
        generation = self.due()
        if generation is None:
            return 0
        self.passes[generation] += 1
        if generation == 1:  # its survivors move to the oldest generation
            young = len(gc.get_objects(0)) + len(gc.get_objects(1))
            found = gc.collect(1)
            self._pending += max(young - found, 0)
            return found
        found = gc.collect(generation)
        if generation == 2:
            self._long_lived, self._pending, self._full_owed = len(gc.get_objects(2)), 0, False
        return found


def install() -> GuiThreadCollector:
    """Install the collector once per application (idempotent); call from the GUI thread before the
    first window exists: what exists at the first call is frozen (never collected)."""
    app = QCoreApplication.instance()
    if app is None or QThread.currentThread() is not app.thread():
        raise RuntimeError("the GUI-thread collector needs the application, from its own thread")
    existing = app.findChild(GuiThreadCollector)
    if existing is not None:
        return existing
    return GuiThreadCollector(app)
