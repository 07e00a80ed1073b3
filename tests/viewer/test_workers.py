"""viewer.workers: long steps run by superqt's workers; exactly one outcome; nothing of a step kept."""

from __future__ import annotations

import gc
import threading
import time
import weakref

import numpy as np

from app.progress import Cancelled, Progress
from viewer.workers import Job


def _run(qtbot, job: Job) -> list[tuple[str, object]]:
    outcome: list[tuple[str, object]] = []
    job.progress.connect(lambda e: outcome.append(("progress", e)))
    job.succeeded.connect(lambda r: outcome.append(("succeeded", r)))
    job.failed.connect(lambda e: outcome.append(("failed", repr(e))))  # keeps no reference to the error
    job.cancelled.connect(lambda: outcome.append(("cancelled", None)))
    with qtbot.waitSignal(job.done, timeout=5000):
        job.start()
    qtbot.waitUntil(lambda: not job.is_running(), timeout=5000)
    return outcome


def test_a_step_runs_in_a_pool_thread_and_returns(qtbot) -> None:
    threads = []

    def step(_cancelled):
        threads.append(threading.current_thread())
        yield Progress("images", "one", 0.5, 0.5)
        return 42

    outcome = _run(qtbot, Job("t", step))
    assert [k for k, _ in outcome] == ["progress", "succeeded"] and outcome[-1][1] == 42
    assert threads[0] is not threading.main_thread()
    assert not threads[0].name.startswith("job-")  # Qt's pool (superqt), no thread of our own


def test_an_exception_a_step_returns_is_its_result(qtbot) -> None:
    """superqt raises a returned exception instance; a step that answers with one (a shape that changes
    nothing: its EditError) succeeds with it, and nothing is logged as failed."""
    answer = ValueError("nothing to change")

    def step(_cancelled):
        yield Progress("lasso", "x", 0.1, 0.1)
        return answer

    outcome = _run(qtbot, Job("t", step))
    assert outcome[-1] == ("succeeded", answer)


def test_runtime_errors_are_reported_not_swallowed(qtbot) -> None:
    """superqt takes a RuntimeError for a deleted worker; a step's own must still reach the GUI."""

    def step(_cancelled):
        yield Progress("inference", "x", 0.1, 0.1)
        raise RuntimeError("CUDA error: device-side assert triggered")

    outcome = _run(qtbot, Job("t", step))
    assert outcome[-1][0] == "failed" and "device-side assert" in str(outcome[-1][1])


def test_a_failed_step_keeps_no_memory(qtbot) -> None:
    """#22 item 1: the failed job's error and frames (its images, outputs) must not outlive it."""
    kept: list[weakref.ref] = []

    def step(_cancelled):
        outputs = np.ones((32, 1024, 1024), np.float32)  # 128 MB of "network outputs"
        kept.append(weakref.ref(outputs))
        yield Progress("inference", "x", 0.5, 0.5)
        raise MemoryError("out of memory")

    job = Job("t", step)
    outcome = _run(qtbot, job)
    assert outcome[-1][0] == "failed"
    qtbot.waitUntil(lambda: job._worker is None, timeout=2000)
    gc.collect()
    assert kept[0]() is None


def test_cancel_is_reported_at_once_and_closes_the_step(qtbot) -> None:
    closed = []

    def step(cancelled):
        try:
            for i in range(1000):
                time.sleep(0.01)
                yield Progress("inference", str(i), i / 1000, i / 1000)
            return "late"
        finally:
            closed.append(True)

    job = Job("t", step)
    outcome: list[str] = []
    job.succeeded.connect(lambda _r: outcome.append("succeeded"))
    job.cancelled.connect(lambda: outcome.append("cancelled"))
    with qtbot.waitSignal(job.progress, timeout=5000):  # the step is under way
        job.start()
    job.cancel()
    assert outcome == ["cancelled"]  # at once, before the step noticed
    qtbot.waitUntil(lambda: closed == [True], timeout=2000)
    assert job.wait(2.0) and outcome == ["cancelled"]


def test_a_writer_reports_its_own_outcome_after_cancel(qtbot) -> None:
    """cancel_at_once=False (exports): the step decides, e.g. it finished before it saw the cancel."""

    def step(cancelled):
        yield Progress("export", "x", 0.5, 0.5)
        time.sleep(0.2)
        if cancelled():
            raise Cancelled("export cancelled")
        return "written"

    job = Job("t", step, cancel_at_once=False)
    outcome: list[str] = []
    job.cancelled.connect(lambda: outcome.append("cancelled"))
    job.succeeded.connect(lambda _r: outcome.append("succeeded"))
    with qtbot.waitSignal(job.done, timeout=5000):
        job.start()
        qtbot.waitUntil(job.is_running, timeout=2000)
        job.cancel()
        assert outcome == []
    assert outcome == ["cancelled"]


def test_finished_jobs_do_not_pile_up_on_their_parent(qtbot) -> None:
    """The soak benchmark (#14) grew ~3.5 MB a round: every Job parented to the window stayed its child,
    and the slots connected to it kept each opened scene alive. A finished Job lets go of its parent."""
    from PySide6.QtCore import QObject

    class Payload:  # stands for the scene a caller's closure holds
        pass

    parent = QObject()
    kept: list[weakref.ref] = []

    def step(_cancelled):
        yield Progress("clustering", "x", 0.5, 0.5)
        return 1

    for _ in range(5):
        payload = Payload()
        kept.append(weakref.ref(payload))
        job = Job("t", step, parent)
        job.succeeded.connect(lambda _r, payload=payload: payload)
        _run(qtbot, job)
        del payload, job
    qtbot.waitUntil(lambda: not parent.findChildren(Job), timeout=5000)
    gc.collect()
    assert [r() for r in kept] == [None] * 5


def test_quitting_while_a_warm_up_runs_prints_nothing() -> None:
    """A warm-up still running when the app quits ends quietly (it printed two tracebacks on stderr at exit
    when it was a superqt worker whose signals object was already gone)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import time\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from viewer.workers import start_background\n"
        "app = QApplication([])\n"
        "start_background(lambda: time.sleep(0.5), 'slow warm-up')\n"
        "time.sleep(0.05)\n"
        "del app\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0
    assert "Traceback" not in result.stderr, result.stderr


CLOSE_DURING_THE_FIRST_RUN = """
import sys
from PySide6.QtCore import QTimer
import viewer.main as vm
real_create = vm.create_window
def create(*args, **kwargs):
    window = real_create(*args, **kwargs)
    def close():
        assert window.job is not None, "the sample's run should still be going"
        window.close()
    QTimer.singleShot(3000, close)
    return window
vm.create_window = create
sys.exit(vm.main(["--sample"]))
"""


def test_closing_the_window_during_a_run_quits_cleanly(tmp_path) -> None:
    """Closing while the sample is being reconstructed cancels the run, and quitting waits for it to stop:
    the process aborted ("terminate called without an active exception") or printed superqt's thread
    errors when Qt went away under the still-running step."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_STATE_HOME": str(tmp_path / "state")}
    result = subprocess.run([sys.executable, "-c", CLOSE_DURING_THE_FIRST_RUN], cwd=root, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    for sign in ("Traceback", "RuntimeError", "terminate called", "Aborted"):
        assert sign not in result.stderr, result.stderr[-3000:]


def test_a_handler_waiting_in_a_nested_loop_still_gets_done(qtbot) -> None:
    """The result's handler asks the user something (a modal box: a nested event loop), during which the
    worker's 'finished' arrives. The Job was deleted inside that loop, so its 'done' never went out and the
    window's job runner kept the job forever (a scene opened while another waited: stuck)."""
    from PySide6.QtCore import QEventLoop, QObject, QTimer

    parent = QObject()

    def step(_cancelled):
        yield Progress("x", "one", 0.5, 0.5)
        return 1

    job = Job("nested", step, parent)
    events: list[str] = []

    def ask(_result) -> None:
        loop = QEventLoop()
        QTimer.singleShot(300, loop.quit)  # long enough for the worker's finished to be delivered here
        loop.exec()
        events.append("answered")

    job.succeeded.connect(ask)
    job.done.connect(lambda: events.append("done"))
    job.start()
    qtbot.waitUntil(lambda: "done" in events, timeout=5_000)
    assert events == ["answered", "done"]
    qtbot.waitUntil(lambda: not parent.findChildren(Job), timeout=5_000)  # and it is released after
