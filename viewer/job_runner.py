"""The window's long jobs (reconstruct, open, re-cluster, CLIP features): one at a time, with stage, progress,
ETA and Cancel in the status bar (and in the middle of the window while no scene is shown). A job asked for
while another runs waits for it and then starts; it is never dropped.

`JobRunner` is part of `viewer.main_window.MainWindow`; it uses the window's status-bar widgets
(``stage_label``, ``progress``, ``eta_label``, ``_job_widgets``), its ``empty_state``, ``document``,
``settings``, ``notify``, ``show_exception`` and ``_update_enabled``. The jobs themselves are
`viewer.workers.Job` handles over superqt workers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from app.progress import Progress, format_seconds
from viewer.workers import Job

log = logging.getLogger(__name__)


class JobRunner:
    job: Job | None
    waiting_jobs: list[tuple[Job, Callable[[Any], None], str, str]]
    jobs_started: int
    last_job_outcome: str

    def run_job(self, job: Job, on_success: Callable[[Any], None], text: str, error_title: str) -> bool:
        """Start a long job with progress, ETA and Cancel in the status bar. One runs at a time: a job
        asked for meanwhile waits and starts when the running one ends (it is never dropped)."""
        if self.job is not None:
            self.waiting_jobs.append((job, on_success, text, error_title))
            log.info("job %s waits for %s", job.name, self.job.name)
            self.notify(f"{text}: starts when “{self.job.name}” has ended", 6000)
            return True
        self.job = job
        self.jobs_started += 1

        def succeeded(result) -> None:
            try:
                on_success(result)
                self.last_job_outcome = "succeeded"
            except Exception as exc:
                self.last_job_outcome = "failed"
                self.show_exception(error_title, exc)

        def failed(exc) -> None:
            self.last_job_outcome = "failed"
            self.show_exception(error_title, exc)

        def cancelled() -> None:
            self.last_job_outcome = "cancelled"
            kept = "the previous scene is unchanged" if self.document.scene is not None else "nothing changed"
            self.notify(f"Cancelled — {kept}", 6000)

        job.progress.connect(self._on_progress)
        job.succeeded.connect(succeeded)
        job.failed.connect(failed)
        job.cancelled.connect(cancelled)
        job.done.connect(self._on_job_done)
        self.stage_label.setText(text)
        if self.document.scene is None:  # e.g. the first start's sample room: show the run in the middle
            self.empty_state.show_run(text)
        self.progress.setValue(0)
        self.eta_label.setText("")
        for w in self._job_widgets:
            w.setVisible(True)
        self._update_enabled()
        log.info("job %s started: %s", job.name, text)
        job.start()
        return True

    def _on_progress(self, event) -> None:
        if not isinstance(event, Progress):
            return
        self.progress.setValue(int(event.fraction * 1000))
        self.stage_label.setText(event.message)
        self.eta_label.setText("" if event.eta_s is None else f"ETA {format_seconds(event.eta_s)}")
        if self.empty_state.running:
            self.empty_state.show_progress(event.message, event.fraction, self.eta_label.text())

    def _on_job_done(self) -> None:
        job, self.job = self.job, None
        for w in self._job_widgets:
            w.setVisible(False)
        if job is not None:
            log.info("job %s ended (%s) after %.1fs", job.name, self.last_job_outcome,
                     time.monotonic() - job.started_at)
        if self.empty_state.running:
            self.empty_state.show_idle(self.settings.recent_paths())
        if self.waiting_jobs:
            self.run_job(*self.waiting_jobs.pop(0))
        self._update_enabled()

    def cancel_job(self) -> None:
        if self.job is not None:
            self.job.cancel()
