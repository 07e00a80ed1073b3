"""Settings > Models: the downloadable models (official IGGT, real CLIPs) beside the bundled ones, with
their state (bundled / in cache / not present), size and licence, a Download button (background job with
bytes, speed, time left and Cancel; a cancelled download resumes next time) and a Use button that hands
the model's setting to the settings dialog (`model_chosen`). Downloads go through `app.models_hub`; the
page never touches the network on its own."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import models_hub
from app.hub_download import DownloadProgress, human_bytes, offline
from viewer.dialogs import user_message
from viewer.workers import Job


class ModelsDialog(QDialog):
    """The Models page (a dialog of its own, opened from the settings dialog)."""

    model_chosen = Signal(str, str)  # kind ("iggt" | "clip"), setting (hub id or open_clip NAME:TAG)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("models_dialog")
        self.setWindowTitle("Models")
        self.job: Job | None = None
        self.rows: dict[str, dict[str, QWidget]] = {}
        layout = QVBoxLayout(self)
        intro = QLabel("The app works offline with its bundled models. The official IGGT checkpoint and real "
                       "CLIP models are downloaded only when you ask, into the Hugging Face cache "
                       "(other tools reuse them).", self)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        box = QGroupBox("Models", self)
        self.grid = QGridLayout(box)
        layout.addWidget(box)
        for row, state in enumerate(models_hub.list_models()):
            self._add_row(row, state)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("download_progress")
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel download", self)
        self.cancel_button.setObjectName("cancel_download")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel)
        bar = QHBoxLayout()
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.cancel_button)
        layout.addLayout(bar)
        self.status = QLabel("", self)
        self.status.setObjectName("models_status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        if offline():
            self.status.setText("Downloads are off: HF_HUB_OFFLINE is set.")
        close = QPushButton("Close", self)
        close.clicked.connect(self.reject)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignRight)
        self.refresh()

    def _add_row(self, row: int, state: models_hub.ModelState) -> None:
        title = QLabel(f"<b>{state.title}</b><br><small>{state.licence}</small>", self)
        hub_repo = {m.key: m.repo_id for m in models_hub.CATALOG}.get(state.key)
        title.setToolTip(f"hub: {hub_repo}" if hub_repo else state.where)
        info = QLabel(self)
        info.setObjectName(f"state:{state.key}")
        download = QPushButton("Download", self)
        download.setObjectName(f"download:{state.key}")
        download.clicked.connect(lambda _=False, key=state.key: self.download(key))
        use = QPushButton("Use", self)
        use.setObjectName(f"use:{state.key}")
        use.clicked.connect(lambda _=False, key=state.key: self.use(key))
        for col, widget in enumerate((title, info, download, use)):
            self.grid.addWidget(widget, row, col)
        self.rows[state.key] = {"info": info, "download": download, "use": use}

    def refresh(self) -> None:
        """Re-read every model's state from the local cache and enable the buttons that apply."""
        busy = self.job is not None
        for state in models_hub.list_models():
            row = self.rows[state.key]
            size = human_bytes(state.size) if state.present else f"about {human_bytes(state.size)}"
            row["info"].setText(f"{state.state}, {size}")
            row["info"].setToolTip(state.where or "")
            hub_model = state.state != models_hub.BUNDLED
            row["download"].setVisible(hub_model)
            row["download"].setEnabled(hub_model and not state.present and not busy and not offline())
            row["use"].setEnabled(state.present and not busy)

    # ------------------------------------------------------------------------------------------ actions
    def download(self, key: str) -> None:
        if self.job is not None:
            return
        model = models_hub.find(key)

        def factory(cancelled):
            def work():
                return models_hub.get(key, progress=job.progress.emit, cancel=cancelled)

            return (yield from _call(work))

        job = self.job = Job(f"download-{key}", factory, self)
        self.job.progress.connect(self._on_progress)
        self.job.succeeded.connect(lambda state: self._finished(f"{model.title}: downloaded and checked "
                                                                f"({human_bytes(state.size)}); press Use."))
        self.job.failed.connect(lambda exc: self._finished(user_message(exc), error=True))
        self.job.cancelled.connect(lambda: self._finished("Download cancelled; the part already downloaded "
                                                          "is kept and the next download resumes it."))
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.status.setStyleSheet("")
        self.status.setText(f"Downloading {model.title}…")
        self.refresh()
        self.job.start()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def use(self, key: str) -> None:
        state = next(s for s in models_hub.list_models() if s.key == key)
        self.model_chosen.emit(state.kind, state.setting)
        self.status.setStyleSheet("")
        self.status.setText(f"{state.title} chosen; Apply the settings to use it.")

    def _on_progress(self, p: DownloadProgress) -> None:
        if p.total:
            scale = max(p.total // 1_000_000_000 + 1, 1)  # keep the range inside an int
            self.progress.setRange(0, p.total // scale)
            self.progress.setValue(p.done // scale)
        self.status.setText(p.text())

    def _finished(self, text: str, error: bool = False) -> None:
        self.job = None
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.status.setText(text)
        self.status.setStyleSheet("color: #d9534f;" if error else "")
        self.refresh()

    def reject(self) -> None:
        if self.job is not None:
            self.job.cancel()
        super().reject()


def _call(func):
    if False:  # a generator for viewer.workers.Job
        yield None
    return func()
