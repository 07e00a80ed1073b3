"""The Qt binding must keep the reference counts of None, True and False.

PySide6 6.12.0 on Python 3.11 (where these singletons are not immortal) drops a reference to None at
every ``processEvents()`` and to True/False at every signal emission: after some 150k calls None's
count reaches zero and the process aborts ("Fatal Python error: none_dealloc"). The whole test run
died that way in CI, in test_editing, after ~9 minutes of events. pyproject.toml keeps PySide6 below
6.12; this test fails on a binding with the bug, whichever version it is.
"""

from __future__ import annotations

import gc
import sys

import pytest
from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QTimer, Signal

from viewer import gui_gc

pytestmark = pytest.mark.gui

CALLS = 2000
SLACK = 50  # other threads (warm-ups of earlier tests) may still take or drop a few references
_BALLAST: list = []  # never released: with the bug, the counts it props up would fall below zero


class _Emitter(QObject):
    bare = Signal()
    carrying = Signal(object)


def _run_an_event_loop_once() -> None:
    loop = QEventLoop()
    QTimer.singleShot(0, loop.quit)
    loop.exec()


@pytest.mark.parametrize("singleton", [None, True, False], ids=["None", "True", "False"])
def test_events_signals_and_loops_keep_the_singletons_alive(qapp, singleton):
    emitter = _Emitter()
    received: list = []
    emitter.bare.connect(lambda: received.append(1))
    emitter.carrying.connect(received.append)
    steps = {
        "processEvents": QCoreApplication.processEvents,
        "emit": emitter.bare.emit,
        "emit with an argument": lambda: emitter.carrying.emit(singleton),
        "a nested event loop": _run_an_event_loop_once,
    }
    if not _BALLAST:  # enough references to all three (a step may drop another's) that a buggy binding
        _BALLAST.extend([None, True, False] * 1_000_000)  # fails here instead of aborting the whole run
    drift = {}
    with gui_gc.install().paused():  # a scheduled pass freeing earlier tests' windows drops references
        for name, step in steps.items():
            gc.collect()
            before = sys.getrefcount(singleton)
            for _ in range(CALLS):
                step()
            received.clear()
            drift[name] = sys.getrefcount(singleton) - before
    assert all(abs(d) < SLACK for d in drift.values()), drift
