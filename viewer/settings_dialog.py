"""Settings dialog: weights, device, image size, views cap, confidence filter, clustering.

Apply/OK checks the weights with the real loader in the background (its errors are shown here, in the
dialog) and shows what the chosen device can take: the estimated memory per view and the views cap.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from viewer.dialogs import user_message
from viewer.run_settings import CLUSTER_PRESETS, RunSettings
from viewer.settings import AppSettings
from viewer.workers import Job

log = logging.getLogger(__name__)


def found_devices() -> dict[str, str]:
    """Label of each device choice with what this machine has."""
    try:
        import torch

        cuda = torch.cuda.is_available()
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else []
    except Exception:
        cuda, names = False, []
    gpu = ", ".join(names) if names else "no CUDA GPU found"
    return {
        "auto": f"Automatic ({'CUDA: ' + names[0] if names else 'CPU'})",
        "cpu": "CPU",
        "cuda": f"CUDA ({gpu})" if cuda else "CUDA (not available: no CUDA GPU found)",
    }


def image_size_for_width(width: int) -> tuple[int, int]:
    from app.images import PreprocessConfig

    return PreprocessConfig(width=width).target_size()


class SettingsDialog(QDialog):
    applied = Signal(object)  # RunSettings

    def __init__(self, settings: AppSettings, n_views: int | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settings_dialog")
        self.setWindowTitle("Reconstruction settings")
        self.settings = settings
        self.n_views = n_views
        self.check_job: Job | None = None
        run = RunSettings.load(settings)

        # weights
        weights_box = QGroupBox("Weights", self)
        self.weights_bundled = QRadioButton("Bundled (tiny model trained on synthetic rooms)", weights_box)
        self.weights_file_radio = QRadioButton("Local file", weights_box)
        self.weights_hub_radio = QRadioButton("Hub id (from the local cache)", weights_box)
        self.weights_group = QButtonGroup(self)
        for b in (self.weights_bundled, self.weights_file_radio, self.weights_hub_radio):
            self.weights_group.addButton(b)
        self.weights_file = QLineEdit(run.weights_file, weights_box)
        self.weights_file.setObjectName("weights_file")
        self.weights_file.setPlaceholderText("…/model.safetensors or .pt (official checkpoints work)")
        browse = QPushButton("Browse…", weights_box)
        browse.clicked.connect(self._browse)
        self.weights_hub = QLineEdit(run.weights_hub_id, weights_box)
        self.weights_hub.setObjectName("weights_hub")
        self.weights_hub.setPlaceholderText("owner/name")
        file_row = QHBoxLayout()
        file_row.addWidget(self.weights_file_radio)
        file_row.addWidget(self.weights_file, 1)
        file_row.addWidget(browse)
        hub_row = QHBoxLayout()
        hub_row.addWidget(self.weights_hub_radio)
        hub_row.addWidget(self.weights_hub, 1)
        wl = QVBoxLayout(weights_box)
        wl.addWidget(self.weights_bundled)
        wl.addLayout(file_row)
        wl.addLayout(hub_row)
        {"file": self.weights_file_radio, "hub": self.weights_hub_radio}.get(
            run.weights_source, self.weights_bundled).setChecked(True)

        # run
        run_box = QGroupBox("Reconstruction", self)
        form = QFormLayout(run_box)
        self.device = QComboBox(run_box)
        self.device.setObjectName("device")
        for key, label in found_devices().items():
            self.device.addItem(label, key)
        self.device.setCurrentIndex(max(0, self.device.findData(run.device)))
        form.addRow("Device", self.device)
        self.width = QSpinBox(run_box)
        self.width.setObjectName("image_width")
        self.width.setRange(112, 1512)
        self.width.setSingleStep(28)
        self.width.setValue(run.image_width)
        self.size_label = QLabel(run_box)
        row = QHBoxLayout()
        row.addWidget(self.width)
        row.addWidget(self.size_label, 1)
        form.addRow("Image width", row)
        self.max_views = QSpinBox(run_box)
        self.max_views.setObjectName("max_views")
        self.max_views.setRange(1, 200)
        self.max_views.setValue(run.max_views)
        self.max_views.setToolTip("Use at most this many photos, evenly spaced")
        form.addRow("Views (at most)", self.max_views)
        self.confidence = QDoubleSpinBox(run_box)
        self.confidence.setObjectName("confidence_percentile")
        self.confidence.setRange(0.0, 99.0)
        self.confidence.setDecimals(1)
        self.confidence.setSuffix(" %")
        self.confidence.setValue(run.confidence_percentile)
        self.confidence.setToolTip("Drop this share of the least confident points (the demo drops 0.3 %)")
        form.addRow("Drop least confident", self.confidence)

        # clustering
        cluster_box = QGroupBox("Clustering", self)
        cform = QFormLayout(cluster_box)
        self.preset = QComboBox(cluster_box)
        self.preset.setObjectName("cluster_preset")
        for name in CLUSTER_PRESETS:
            self.preset.addItem(name.capitalize(), name)
        self.preset.addItem("Custom", "custom")
        self.preset.setCurrentIndex(max(0, self.preset.findData(run.cluster_preset)))
        cform.addRow("Granularity", self.preset)
        self.min_size = QSpinBox(cluster_box)
        self.min_size.setObjectName("min_cluster_size")
        self.min_size.setRange(2, 100_000)
        self.min_size.setValue(run.min_cluster_size)
        cform.addRow("Min. cluster size", self.min_size)
        self.min_samples = QSpinBox(cluster_box)
        self.min_samples.setObjectName("min_samples")
        self.min_samples.setRange(1, 10_000)
        self.min_samples.setValue(run.min_samples)
        cform.addRow("Min. samples", self.min_samples)
        self.epsilon = QDoubleSpinBox(cluster_box)
        self.epsilon.setObjectName("epsilon")
        self.epsilon.setRange(0.0, 1.0)
        self.epsilon.setDecimals(3)
        self.epsilon.setSingleStep(0.005)
        self.epsilon.setValue(run.epsilon)
        cform.addRow("Epsilon", self.epsilon)
        self.preset.currentIndexChanged.connect(self._on_preset)

        self.estimate = QLabel("", self)
        self.estimate.setObjectName("estimate")
        self.estimate.setWordWrap(True)
        self.status = QLabel("", self)
        self.status.setObjectName("settings_status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Apply
            | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(lambda: self.apply(close=True))
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(lambda: self.apply())
        layout = QVBoxLayout(self)
        layout.addWidget(weights_box)
        layout.addWidget(run_box)
        layout.addWidget(cluster_box)
        layout.addWidget(self.estimate)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.width.valueChanged.connect(self._update_size)
        self._update_size()

    # -------------------------------------------------------------------------------------- helpers
    def _browse(self) -> None:
        patterns = "Checkpoints (*.safetensors *.pt *.pth *.bin *.ckpt);;All files (*)"
        path, _ = QFileDialog.getOpenFileName(self, "Choose weights", self.weights_file.text(), patterns)
        if path:
            self.weights_file.setText(path)
            self.weights_file_radio.setChecked(True)

    def _on_preset(self) -> None:
        name = self.preset.currentData()
        if name in CLUSTER_PRESETS:
            from app.clustering import PRESETS

            values = PRESETS[name]
            self.min_size.setValue(int(values["min_cluster_size"]))
            self.min_samples.setValue(int(values["min_samples"]))
            self.epsilon.setValue(float(values["epsilon"]))

    def _update_size(self) -> None:
        h, w = image_size_for_width(self.width.value())
        self.size_label.setText(f"→ {w}×{h} pixels")

    def current(self) -> RunSettings:
        run = RunSettings.load(self.settings)
        run.weights_source = ("file" if self.weights_file_radio.isChecked()
                              else "hub" if self.weights_hub_radio.isChecked() else "bundled")
        run.weights_file = self.weights_file.text().strip()
        run.weights_hub_id = self.weights_hub.text().strip()
        run.device = self.device.currentData()
        run.image_width = self.width.value()
        run.max_views = self.max_views.value()
        run.confidence_percentile = self.confidence.value()
        run.cluster_preset = self.preset.currentData()
        run.min_cluster_size = self.min_size.value()
        run.min_samples = self.min_samples.value()
        run.epsilon = self.epsilon.value()
        return run

    # -------------------------------------------------------------------------------------- apply
    def apply(self, close: bool = False) -> None:
        """Validate everything; load the weights in the background; save and report when they work."""
        if self.check_job is not None:
            return
        run = self.current()
        try:
            from viewer.pipeline import reconstruct_config

            reconstruct_config(run)
        except Exception as exc:
            self._show_problem(user_message(exc))
            return
        self.status.setText("Checking the weights…")
        self.status.setStyleSheet("")
        self.buttons.setEnabled(False)
        from viewer.pipeline import check_weights_factory, seconds_per_mpx

        rate = seconds_per_mpx(self.settings, run.device)
        try:
            factory = check_weights_factory(run, self.n_views, rate)
        except Exception as exc:
            self._show_problem(user_message(exc))
            self.buttons.setEnabled(True)
            return
        self.check_job = Job("check-weights", factory, self)
        started = time.monotonic()

        def ok(report) -> None:
            run.save(self.settings)
            self.estimate.setText(report)
            self.status.setText(f"Settings saved (weights checked in {time.monotonic() - started:.1f} s).")
            self.applied.emit(run)
            if close:
                self.accept()

        def bad(exc) -> None:
            self._show_problem(user_message(exc))

        self.check_job.succeeded.connect(ok)
        self.check_job.failed.connect(bad)
        self.check_job.done.connect(self._check_done)
        self.check_job.start()

    def _check_done(self) -> None:
        self.check_job = None
        self.buttons.setEnabled(True)

    def _show_problem(self, text: str) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #d9534f;")

    def reject(self) -> None:
        if self.check_job is not None:
            self.check_job.cancel()
        super().reject()
