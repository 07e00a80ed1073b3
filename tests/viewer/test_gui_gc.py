"""A closed window (Qt widgets, the pyvista plotter, VTK objects, all in reference cycles) is freed by
the cycle collector; that must happen in the GUI thread, never in a pool thread that allocates."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QThreadPool

from viewer import gui_gc

pytestmark = pytest.mark.gui


def _allocate_until_a_full_collection_is_due(keep: list) -> None:
    """What a warm-up or a job does to the collector: allocate many containers that live on (enough
    that CPython's automatic collector would run a full collection, wherever it is enabled)."""
    n = len(gc.get_objects()) // 2 + 50_000
    keep.extend([i] for i in range(n))


def _closed_window(settings, log_file, qtbot) -> list[str]:
    """A window shown and closed, waiting in cycles for the collector; the list names the thread its
    plotter is freed in, once it is. (Not a fixture: pytest-qt turns the event loop between a fixture
    and its test, and the collector's timer could free the window there.)"""
    from viewer.main_window import MainWindow

    window = MainWindow(settings, log_path=log_file)  # not make_window's: its list would keep it alive
    window.show()
    qtbot.waitExposed(window)
    # the window's warm-ups (pool threads) hold parts of it while they run: let them end first
    assert QThreadPool.globalInstance().waitForDone(60_000)
    freed_in: list[str] = []
    weakref.finalize(window.view.plotter, lambda: freed_in.append(threading.current_thread().name))
    window.document.set_modified(False)
    window.close()
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    del window
    assert freed_in == []  # only the collector can free it: it sits in cycles
    return freed_in


def test_a_closed_window_is_freed_in_the_gui_thread_not_in_a_busy_worker(settings, log_file, qtbot):
    freed_in = _closed_window(settings, log_file, qtbot)
    collector = gui_gc.install()
    assert collector is gui_gc.install() and not gc.isenabled()
    keep: list = []
    worker = threading.Thread(
        target=_allocate_until_a_full_collection_is_due, args=(keep,), name="busy-worker"
    )
    worker.start()
    worker.join()
    assert freed_in == []  # the worker's allocations collected nothing
    passes = sum(collector.passes)
    qtbot.waitUntil(lambda: bool(freed_in), timeout=10_000)  # the timer's pass, in this thread
    assert freed_in == [threading.main_thread().name] and sum(collector.passes) > passes
    keep.clear()


def test_a_failed_forward_in_a_worker_leaves_the_collecting_to_the_gui_thread(settings, log_file, qtbot):
    """After running out of memory the network's worker frees what it can; cycles (a closed window's
    among them) are left to the GUI thread's collector."""
    import torch

    from model.device import free_device_memory

    closed_window = _closed_window(settings, log_file, qtbot)
    worker = threading.Thread(target=free_device_memory, args=(torch.device("cpu"),), name="network")
    worker.start()
    worker.join()
    assert closed_window == []
    gc.collect()  # the collector's pass
    assert closed_window == [threading.main_thread().name]


def test_collections_follow_the_allocation_volume(qtbot):
    collector = gui_gc.install()
    assert QThreadPool.globalInstance().waitForDone(60_000)  # nothing else allocates meanwhile
    gc.collect()  # no garbage left in any generation, whatever ran before
    while collector.due() is not None:  # whatever was owed
        collector.collect_due()
    assert collector.due() is None  # nothing allocated since
    t0, t1, _t2 = gc.get_threshold()
    junk = [[] for _ in range(t0 * 2)]
    assert collector.due() in (0, 1)
    passes = list(collector.passes)
    assert collector.collect_due() == 0 and collector.passes != passes  # live objects: nothing unreachable
    cycles = []
    for _ in range(t0 * t1 * 2):
        a: list = []
        a.append(a)
        cycles.append(a)
    del cycles, junk, a
    assert collector.due() in (1, 2)
    assert collector.collect_due() >= t0 * t1 * 2  # a gen-1 or full pass found every dropped cycle
