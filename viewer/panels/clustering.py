"""Clustering panel: how finely the features are split into instances. Presets are the official demo's
three settings and "Spatial" (features plus 3D position, for weights whose features alone merge look-alike
objects); the sliders fine-tune them. Changes re-cluster the stored features in the background (no network
run) and recolour the cloud. They apply to the shown scene only: what new reconstructions use is the Settings
dialog's choice, shown below the sliders with a way back to the model's default."""

from __future__ import annotations

import math
from dataclasses import replace

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDockWidget,
    QFormLayout,
    QGridLayout,
    QLabel,
    QPushButton,
    QWidget,
)
from superqt import QLabeledDoubleSlider, QLabeledSlider

from app.clustering import ClusterConfig
from viewer.run_settings import CLUSTER_PRESETS, MODEL_PRESET, RunSettings, preset_values
from viewer.settings import AppSettings

DEBOUNCE_MS = 350
POSITION_MAX = 1.0  # the slider's range (the settings dialog allows up to 10; a larger value widens it)
_TIPS = {
    "small": "many small parts",
    "medium": "objects and large parts",
    "large": "whole objects",
    "spatial": "whole objects, kept apart by their position as well",
}


def preset_tooltip(name: str) -> str:
    from app.clustering import OFFICIAL_PRESETS

    v = preset_values(name)
    text = (f"{_TIPS[name].capitalize()}: epsilon {v['epsilon']}, min samples {int(v['min_samples'])}, "
            f"min. size {int(v['min_cluster_size'])}")
    if name in OFFICIAL_PRESETS:
        return f"{text} (the official demo's {name} setting)"
    return (f"{text}, position {v['position_weight']}. For weights whose features alone merge look-alike "
            f"objects; the bundled model's default")


_MATCHED = (
    "epsilon", "min_samples", "min_cluster_size", "position_weight", "merge_distance", "colour_weight",
    "absorb_size",
)  # fmt: skip


def matching_preset(config) -> str:
    """The preset a ClusterConfig's settings are exactly, else "custom"."""
    from app.clustering import PRESETS

    for name in PRESETS:
        p = preset_values(name)
        if all(math.isclose(float(p[k]), float(getattr(config, k)), abs_tol=1e-9) for k in _MATCHED):
            return name
    return "custom"


class ClusteringPanel(QDockWidget):
    recluster_requested = Signal(object)  # RunSettings

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__("Clustering", parent)
        self.setObjectName("clustering_panel")
        self.settings = settings
        body = QWidget(self)
        form = QFormLayout(body)

        presets = QGridLayout()  # two rows: the panel stays narrow enough for a 1280-pixel screen
        self.preset_group = QButtonGroup(self)
        self.preset_group.setExclusive(True)
        self.preset_buttons: dict[str, QPushButton] = {}
        for n, name in enumerate(CLUSTER_PRESETS):
            b = QPushButton(name.capitalize(), body)
            b.setObjectName(f"preset_{name}")
            b.setCheckable(True)
            b.setToolTip(preset_tooltip(name))
            self.preset_group.addButton(b)
            self.preset_buttons[name] = b
            presets.addWidget(b, n // 2, n % 2)
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
        self.position = QLabeledDoubleSlider(Qt.Orientation.Horizontal, body)
        self.position.setObjectName("position_weight")
        self.position.setRange(0.0, POSITION_MAX)
        self.position.setDecimals(2)
        self.position.setSingleStep(0.05)
        self.position.setToolTip("Weight of the 3D position next to the features: look-alike objects in "
                                 "different places are kept apart. 0 = features only (the official demo)")
        form.addRow("Position", self.position)
        self.status = QLabel("", body)
        self.status.setObjectName("clustering_status")
        self.status.setWordWrap(True)
        form.addRow(self.status)
        self.next_run = QLabel("", body)
        self.next_run.setObjectName("next_run_clustering")
        self.next_run.setWordWrap(True)
        self.next_run.setEnabled(False)
        self.reset_button = QPushButton("Reset to model default", body)
        self.reset_button.setObjectName("reset_next_run_clustering")
        self.reset_button.setToolTip("New reconstructions cluster with the preset the weights name")
        self.reset_button.clicked.connect(self.reset_next_run)
        form.addRow(self.next_run)
        form.addRow(self.reset_button)
        self.setWidget(body)

        self._run = RunSettings.load(settings)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.request)
        self.show_run_settings(self._run)
        for slider in self._sliders():
            slider.valueChanged.connect(self._on_slider)
        self.setEnabled(False)

    def show_next_run(self) -> None:
        """Which clustering the next reconstruction uses (the Settings dialog's, never this panel's)."""
        run = RunSettings.load(self.settings)
        if run.cluster_preset == MODEL_PRESET:
            text = "New reconstructions: the model's default preset"
        elif run.cluster_preset == "custom":
            text = (f"New reconstructions: custom (epsilon {run.epsilon:g}, "
                    f"min. size {run.min_cluster_size}, position {run.position_weight:g})")
        else:
            text = f"New reconstructions: the {run.cluster_preset} preset"
        self.next_run.setText(text)
        self.reset_button.setVisible(run.cluster_preset != MODEL_PRESET)

    def reset_next_run(self) -> None:
        run = RunSettings.load(self.settings)
        run.cluster_preset = MODEL_PRESET
        run.save(self.settings)
        self.show_next_run()

    def _sliders(self) -> tuple[QWidget, ...]:
        return self.min_size, self.epsilon, self.position

    def _set_values(self, min_size: float, epsilon: float, position: float, preset: str | None) -> None:
        for w in self._sliders():
            w.blockSignals(True)
        if position > self.position.maximum():  # a larger weight chosen in the settings dialog
            self.position.setMaximum(float(position))
        self.min_size.setValue(int(min_size))
        self.epsilon.setValue(float(epsilon))
        self.position.setValue(float(position))
        for w in self._sliders():
            w.blockSignals(False)
        for name, b in self.preset_buttons.items():
            b.setChecked(name == preset)
        if preset not in self.preset_buttons:
            self.preset_group.setExclusive(False)
            for b in self.preset_buttons.values():
                b.setChecked(False)
            self.preset_group.setExclusive(True)

    def show_run_settings(self, run: RunSettings) -> None:
        """Show the clustering of reconstruction settings (at start, after the settings dialog applied);
        "model" is shown as the preset the weights name."""
        from viewer.pipeline import cluster_config

        run = replace(run)
        config = cluster_config(run)
        if run.cluster_preset == MODEL_PRESET:  # the weights' preset: named by its values
            run.cluster_preset = matching_preset(config)
        run.min_cluster_size, run.min_samples = config.min_cluster_size, config.min_samples
        run.epsilon, run.position_weight = config.epsilon, config.position_weight
        run.merge_distance = config.merge_distance
        run.colour_weight, run.absorb_size = config.colour_weight, config.absorb_size
        self._run = run
        self._set_values(config.min_cluster_size, config.epsilon, config.position_weight, run.cluster_preset)
        self.show_next_run()

    def apply_preset(self, name: str) -> None:
        values = preset_values(name)
        self._run.min_samples = int(values["min_samples"])
        self._run.merge_distance = float(values["merge_distance"])
        self._run.colour_weight = float(values["colour_weight"])
        self._run.absorb_size = int(values["absorb_size"])
        self._set_values(values["min_cluster_size"], values["epsilon"], values["position_weight"], name)
        self._run.cluster_preset = name
        self.request()

    def _on_slider(self, _value) -> None:
        self._run.cluster_preset = "custom"
        self._set_values(self.min_size.value(), self.epsilon.value(), self.position.value(), None)
        self._debounce.start()

    def current_settings(self) -> RunSettings:
        run = RunSettings.load(self.settings)
        run.cluster_preset = self._run.cluster_preset
        run.min_cluster_size = int(self.min_size.value())
        run.epsilon = round(float(self.epsilon.value()), 6)
        run.position_weight = round(float(self.position.value()), 6)
        run.min_samples = int(self._run.min_samples)
        run.merge_distance = float(self._run.merge_distance)  # no slider: kept from the preset or scene
        run.colour_weight = float(self._run.colour_weight)  # likewise
        run.absorb_size = int(self._run.absorb_size)
        return run

    def request(self) -> None:
        self._debounce.stop()
        run = self.current_settings()  # for this scene only: not saved as the next run's default
        self.status.setText("Re-clustering…")
        self.recluster_requested.emit(run)

    def show_scene_settings(self, config: ClusterConfig | None, n_instances: int) -> None:
        """Show the settings the scene's instances were clustered with (after opening it, or after an
        undo/redo of a re-clustering), without re-clustering; a slider change still waiting to be sent
        is kept. A scene from a version without the position weight was clustered without it (0)."""
        if config is None or self._debounce.isActive():
            return
        try:
            preset = matching_preset(config)
        except (TypeError, ValueError):
            return
        self._run.min_samples = int(config.min_samples)
        self._run.merge_distance = float(config.merge_distance)
        self._run.colour_weight = float(config.colour_weight)
        self._run.absorb_size = int(config.absorb_size)
        self._run.cluster_preset = preset
        self._set_values(config.min_cluster_size, config.epsilon, config.position_weight, preset)
        self.status.setText(f"{n_instances} instances")

    def show_result(self, n_instances: int, seconds: float) -> None:
        self.status.setText(f"{n_instances} instances (re-clustered in {seconds:.1f} s)")

    def show_message(self, text: str) -> None:
        self.status.setText(text)
