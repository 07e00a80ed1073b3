"""Settings > VLM: the OpenAI-compatible endpoint and model that Ask and "Label all with a VLM" use, and a
Test connection button. The API key is never stored here: it comes from ``IGGT_VLM_API_KEY`` only."""

from __future__ import annotations

import os

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.semantics.vlm_client import KEY_ENV, VlmConfig, VlmError
from viewer.settings import AppSettings
from viewer.workers import Job

ENDPOINT_KEY = "vlm/endpoint"
MODEL_KEY = "vlm/model"


def load_vlm_config(settings: AppSettings) -> VlmConfig | None:
    """The configured endpoint, or None while endpoint or model is empty (Ask stays disabled)."""
    endpoint = str(settings.get(ENDPOINT_KEY, "") or "").strip()
    model = str(settings.get(MODEL_KEY, "") or "").strip()
    if not endpoint or not model:
        return None
    return VlmConfig(endpoint, model)


def _test_step(config: VlmConfig):
    def factory(_cancelled):
        from app.semantics.vlm_client import VlmClient

        if False:  # pragma: no cover - a generator for Job
            yield None
        client = VlmClient(VlmConfig(config.endpoint, config.model, timeout_s=20.0, retries=0))
        try:
            return client.test_connection()
        finally:
            client.close()

    return factory


class VlmSettingsDialog(QDialog):
    saved = Signal()

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("vlm_settings")
        self.setWindowTitle("Settings — VLM")
        self.settings = settings
        self.job: Job | None = None
        layout = QVBoxLayout(self)
        intro = QLabel(
            "A vision-language model behind an OpenAI-compatible chat-completions API (vLLM, Ollama, "
            "LM Studio, llama.cpp, a hosted service) answers Ask questions and names objects. Images are "
            "sent only when you ask, and only to this URL.",
            self,
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.endpoint = QLineEdit(str(settings.get(ENDPOINT_KEY, "") or ""), self)
        self.endpoint.setObjectName("vlm_endpoint")
        self.endpoint.setPlaceholderText("http://localhost:8000/v1")
        self.model = QLineEdit(str(settings.get(MODEL_KEY, "") or ""), self)
        self.model.setObjectName("vlm_model")
        self.model.setPlaceholderText("Qwen/Qwen2.5-VL-7B-Instruct")
        form.addRow("Endpoint", self.endpoint)
        form.addRow("Model", self.model)
        has_key = bool(os.environ.get(KEY_ENV, "").strip())
        key_note = QLabel(
            f"API key: {'set' if has_key else 'not set'} in the {KEY_ENV} environment variable "
            "(never stored by the app)",
            self,
        )
        key_note.setObjectName("vlm_key_note")
        form.addRow("", key_note)
        layout.addLayout(form)
        row = QHBoxLayout()
        self.test_button = QPushButton("Test connection", self)
        self.test_button.setObjectName("vlm_test")
        self.test_button.clicked.connect(self.test_connection)
        self.result = QLabel("", self)
        self.result.setObjectName("vlm_test_result")
        self.result.setWordWrap(True)
        row.addWidget(self.test_button)
        row.addWidget(self.result, 1)
        layout.addLayout(row)
        std = QDialogButtonBox.StandardButton
        buttons = QDialogButtonBox(std.Save | std.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.endpoint.textChanged.connect(self._update)
        self.model.textChanged.connect(self._update)
        self._update()

    def config(self) -> VlmConfig | None:
        endpoint, model = self.endpoint.text().strip(), self.model.text().strip()
        return VlmConfig(endpoint, model) if endpoint and model else None

    def _update(self) -> None:
        self.test_button.setEnabled(self.config() is not None and self.job is None)

    def test_connection(self) -> None:
        config = self.config()
        if config is None:
            return
        try:
            config.validate()
        except VlmError as exc:
            self.result.setText(str(exc))
            return
        self.result.setText(f"Asking {config.chat_url} …")
        job = Job("vlm-test", _test_step(config), self)
        self.job = job
        job.succeeded.connect(self.result.setText)
        job.failed.connect(lambda exc: self.result.setText(f"Failed: {exc}"))

        def finished() -> None:
            self.job = None
            self._update()

        job.done.connect(finished)
        self._update()
        job.start()

    def save(self) -> None:
        config = self.config()
        if config is not None:
            try:
                config.validate()
            except VlmError as exc:
                self.result.setText(str(exc))
                return
        self.settings.set(ENDPOINT_KEY, self.endpoint.text().strip())
        self.settings.set(MODEL_KEY, self.model.text().strip())
        self.saved.emit()
        self.accept()

    def reject(self) -> None:
        if self.job is not None:
            self.job.cancel()
        super().reject()
