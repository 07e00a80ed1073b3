"""Clustering panel: how finely the features are split into instances. Presets are the official demo's
three settings; the sliders fine-tune them. Changes re-cluster the stored features in the background
(no network run) and recolour the cloud."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDockWidget,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QWidget,
)
from superqt import QLabeledDoubleSlider, QLabeledSlider

from viewer.run_settings import CLUSTER_PRESETS, RunSettings
from viewer.settings import AppSettings

DEBOUNCE_MS = 350


def preset_values(name: str) -> dict[str, float]:
    from app.clustering import PRESETS

    return dict(PRESETS[name])


class ClusteringPanel(QDockWidget):
    recluster_requested = Signal(object)  # RunSettings

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__("Clustering", parent)
        self.setObjectName("clustering_panel")
        self.settings = settings
        run = RunSettings.load(settings)
        body = QWidget(self)
        form = QFormLayout(body)

        presets = QHBoxLayout()
        self.preset_group = QButtonGroup(self)
        self.preset_group.setExclusive(True)
        self.preset_buttons: dict[str, QPushButton] = {}
        tips = {"small": "many small parts", "medium": "objects and large parts", "large": "whole objects"}
        for name in CLUSTER_PRESETS:
            b = QPushButton(name.capitalize(), body)
            b.setObjectName(f"preset_{name}")
            b.setCheckable(True)
            values = preset_values(name)
            b.setToolTip(f"{tips[name].capitalize()}: epsilon {values['epsilon']}, "
                         f"min samples {int(values['min_samples'])} (the official demo's {name} setting)")
            self.preset_group.addButton(b)
            self.preset_buttons[name] = b
            presets.addWidget(b)
            b.clicked.connect(lambda _c=False, n=name: self.apply_preset(n))
        form.addRow("Granularity", presets)

        self.min_size = QLabeledSlider(Qt.Orientation.Horizontal, body)
        self.min_size.setObjectName("min_cluster_size")
        self.min_size.setRange(20, 5000)
        self.min_size.setSingleStep(10)
        self.min_size.setToolTip("Smallest instance, in pixels at the official 336×504 resolution")
        form.addRow("Min. size", self.min_size)
        self.epsilon = QLabeledDoubleSlider(Qt.Orientation.Horizontal, body)
        self.epsilon.setObjectName("epsilon")
        self.epsilon.setRange(0.0, 0.3)
        self.epsilon.setDecimals(3)
        self.epsilon.setSingleStep(0.005)
        self.epsilon.setToolTip("HDBSCAN epsilon: clusters closer than this in feature space are merged")
        form.addRow("Epsilon", self.epsilon)
        self.status = QLabel("", body)
        self.status.setObjectName("clustering_status")
        self.status.setWordWrap(True)
        form.addRow(self.status)
        self.setWidget(body)

        self._run = run
        self._set_values(run.min_cluster_size, run.epsilon, run.cluster_preset)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.request)
        self.min_size.valueChanged.connect(self._on_slider)
        self.epsilon.valueChanged.connect(self._on_slider)
        self.setEnabled(False)

    def _set_values(self, min_size: float, epsilon: float, preset: str | None) -> None:
        for w in (self.min_size, self.epsilon):
            w.blockSignals(True)
        self.min_size.setValue(int(min_size))
        self.epsilon.setValue(float(epsilon))
        for w in (self.min_size, self.epsilon):
            w.blockSignals(False)
        for name, b in self.preset_buttons.items():
            b.setChecked(name == preset)
        if preset not in self.preset_buttons:
            self.preset_group.setExclusive(False)
            for b in self.preset_buttons.values():
                b.setChecked(False)
            self.preset_group.setExclusive(True)

    def apply_preset(self, name: str) -> None:
        values = preset_values(name)
        self._run.min_samples = int(values["min_samples"])
        self._set_values(values["min_cluster_size"], values["epsilon"], name)
        self._run.cluster_preset = name
        self.request()

    def _on_slider(self, _value) -> None:
        self._run.cluster_preset = "custom"
        self._set_values(self.min_size.value(), self.epsilon.value(), None)
        self._debounce.start()

    def current_settings(self) -> RunSettings:
        run = RunSettings.load(self.settings)
        run.cluster_preset = self._run.cluster_preset
        run.min_cluster_size = int(self.min_size.value())
        run.epsilon = float(self.epsilon.value())
        run.min_samples = int(self._run.min_samples)
        return run

    def request(self) -> None:
        self._debounce.stop()
        run = self.current_settings()
        run.save(self.settings)
        self.status.setText("Re-clustering…")
        self.recluster_requested.emit(run)

    def show_scene_settings(self, cluster: dict | None, n_instances: int) -> None:
        """Show the settings the scene's instances were clustered with (after opening it, or after an
        undo/redo of a re-clustering), without re-clustering; a slider change still waiting to be sent
        is kept."""
        if not cluster or self._debounce.isActive():
            return
        try:
            from app.clustering import ClusterConfig

            config = ClusterConfig.from_json(cluster)
        except (TypeError, ValueError):
            return
        values = (config.epsilon, config.min_samples, config.min_cluster_size)
        preset = next((name for name, p in self._presets().items()
                       if (p["epsilon"], p["min_samples"], p["min_cluster_size"]) == values), "custom")
        self._run.min_samples = int(config.min_samples)
        self._run.cluster_preset = preset
        self._set_values(config.min_cluster_size, config.epsilon, preset)
        self.status.setText(f"{n_instances} instances")

    @staticmethod
    def _presets() -> dict[str, dict[str, float]]:
        from app.clustering import PRESETS

        return PRESETS

    def show_result(self, n_instances: int, seconds: float) -> None:
        self.status.setText(f"{n_instances} instances (re-clustered in {seconds:.1f} s)")

    def show_message(self, text: str) -> None:
        self.status.setText(text)
