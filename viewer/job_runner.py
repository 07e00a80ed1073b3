"""The window's long jobs (reconstruct, open, re-cluster, CLIP features): one at a time, with stage, progress,
ETA and Cancel in the status bar (and in the middle of the window while no scene is shown). A job asked for
while another runs waits for it and then starts; it is never dropped.

`JobRunner` is an object the main window owns. It makes its own status-bar widgets and is given what it
uses: the empty state (the run in the middle), whether a scene is shown, the recent paths, and how to
notify, report an error and tell the window that "busy" changed. The jobs themselves are
`viewer.workers.Job` handles over superqt workers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton, QWidget

from app.progress import Progress, format_seconds
from viewer.empty_state import EmptyStatePanel
from viewer.workers import Job

log = logging.getLogger(__name__)

OnSuccess = Callable[[Any], None]


class JobRunner:
    """Runs `Job`s one at a time and shows the running one in the status bar."""

    def __init__(
        self,
        bar: QStatusBar,
        parent: QWidget,
        empty_state: EmptyStatePanel,
        has_scene: Callable[[], bool],
        recent_paths: Callable[[], list[str]],
        notify: Callable[[str, int], None],
        show_exception: Callable[[str, BaseException], Any],
        busy_changed: Callable[[], None],
    ) -> None:
        self.empty_state = empty_state
        self._has_scene = has_scene
        self._recent_paths = recent_paths
        self._notify = notify
        self._show_exception = show_exception
        self._busy_changed = busy_changed
        self.job: Job | None = None  # the running job
        self.waiting: list[tuple[Job, OnSuccess, str, str]] = []  # jobs asked for while one ran
        self.last_outcome = ""  # "succeeded" | "failed" | "cancelled" (tests, status)

        self.stage_label = QLabel("", parent)
        self.stage_label.setObjectName("stage_label")
        self.progress = QProgressBar(parent)
        self.progress.setObjectName("run_progress")
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(False)
        self.eta_label = QLabel("", parent)
        self.eta_label.setObjectName("eta_label")
        self.cancel_button = QToolButton(parent)
        self.cancel_button.setObjectName("cancel_button")
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop the running job; the current scene stays as it is (Esc)")
        self.cancel_button.clicked.connect(self.cancel)
        self._widgets = (self.stage_label, self.progress, self.eta_label, self.cancel_button)
        for w in self._widgets:
            bar.addPermanentWidget(w)
            w.setVisible(False)
        empty_state.cancel_requested.connect(self.cancel)

    @property
    def busy(self) -> bool:
        return self.job is not None

    def run(self, job: Job, on_success: OnSuccess, text: str, error_title: str) -> bool:
        """Start a long job with progress, ETA and Cancel in the status bar. One runs at a time: a job
        asked for meanwhile waits and starts when the running one ends (it is never dropped)."""
        if self.job is not None:
            self.waiting.append((job, on_success, text, error_title))
            log.info("job %s waits for %s", job.name, self.job.name)
            self._notify(f"{text}: starts when “{self.job.name}” has ended", 6000)
            return True
        self.job = job

        def succeeded(result) -> None:
            try:
                on_success(result)
                self.last_outcome = "succeeded"
            except Exception as exc:
                self.last_outcome = "failed"
                self._show_exception(error_title, exc)

        def failed(exc) -> None:
            self.last_outcome = "failed"
            self._show_exception(error_title, exc)

        def cancelled() -> None:
            self.last_outcome = "cancelled"
            kept = "the previous scene is unchanged" if self._has_scene() else "nothing changed"
            self._notify(f"Cancelled — {kept}", 6000)

        job.progress.connect(self._on_progress)
        job.succeeded.connect(succeeded)
        job.failed.connect(failed)
        job.cancelled.connect(cancelled)
        job.done.connect(self._on_done)
        self.stage_label.setText(text)
        if not self._has_scene():  # e.g. the first start's sample room: show the run in the middle
            self.empty_state.show_run(text)
        self.progress.setValue(0)
        self.eta_label.setText("")
        for w in self._widgets:
            w.setVisible(True)
        self._busy_changed()
        log.info("job %s started: %s", job.name, text)
        job.start()
        return True

    def drop_waiting(self, name: str | None = None) -> None:
        """Forget the waiting jobs (of one ``name``, or all)."""
        self.waiting[:] = [w for w in self.waiting if name is not None and w[0].name != name]

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def shutdown(self) -> None:
        """The window closes: nothing more starts, the running job is cancelled."""
        self.drop_waiting()
        self.cancel()

    def _on_progress(self, event) -> None:
        if not isinstance(event, Progress):
            return
        self.progress.setValue(int(event.fraction * 1000))
        self.stage_label.setText(event.message)
        self.eta_label.setText("" if event.eta_s is None else f"ETA {format_seconds(event.eta_s)}")
        if self.empty_state.running:
            self.empty_state.show_progress(event.message, event.fraction, self.eta_label.text())

    def _on_done(self) -> None:
        job, self.job = self.job, None
        for w in self._widgets:
            w.setVisible(False)
        if job is not None:
            log.info("job %s ended (%s) after %.1fs", job.name, self.last_outcome,
                     time.monotonic() - job.started_at)
        if self.empty_state.running:
            self.empty_state.show_idle(self._recent_paths())
        if self.waiting:
            self.run(*self.waiting.pop(0))
        self._busy_changed()
