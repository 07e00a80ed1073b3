"""Settings dialog: weights, device, image size, views cap, confidence filter, clustering, CLIP model.

Apply/OK checks the weights with the real loader in the background (its errors are shown here, in the
dialog) and shows what the chosen device can take: the estimated memory per view and the views cap.
A changed open-vocabulary (CLIP) model is loaded with ``app.semantics``' loader in the same background
check; once saved, the Find panel switches to it (its instance features are recomputed in the worker,
or taken from the scene's cache for that model id).

Image width: the lowest value of the field means "the model's default" (stored as 0): the width the
weights name in their metadata, else the official demo's 504. Likewise the clustering preset "Model default"
(stored as "model") is the preset the weights name (the bundled model's "spatial"), else the official "large".
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
    QDockWidget,
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

from app.semantics.backends import BUNDLED, ModelChoice
from viewer.dialogs import user_message
from viewer.run_settings import CLUSTER_PRESETS, MODEL_PRESET, RunSettings, preset_values
from viewer.settings import AppSettings
from viewer.workers import Job

log = logging.getLogger(__name__)

CLIP_MODEL_KEY = "semantics/clip_model"  # the spec the Find panel loads (viewer.panels.query)
_CLIP_FIELD_KEYS = {"open_clip": "semantics/clip_open_clip", "file": "semantics/clip_file",
                    "file_model": "semantics/clip_file_model"}  # fmt: skip
WIDTH_MODEL_DEFAULT = 84  # the image width field's lowest value: "the model's default" (stored as 0)


def load_clip_choice(settings: AppSettings) -> ModelChoice:
    """The stored CLIP model setting, with the remembered texts of the fields not in use."""
    choice = ModelChoice.from_spec(str(settings.get(CLIP_MODEL_KEY, BUNDLED)))
    remembered = {field: str(settings.get(key, "")) for field, key in _CLIP_FIELD_KEYS.items()}
    return ModelChoice(choice.source, **{f: getattr(choice, f) or remembered[f] for f in _CLIP_FIELD_KEYS})


def save_clip_choice(settings: AppSettings, choice: ModelChoice) -> None:
    settings.set(CLIP_MODEL_KEY, choice.spec())
    for field, key in _CLIP_FIELD_KEYS.items():
        settings.set(key, getattr(choice, field))
    settings.sync()


def use_clip_model_in_find_panel(window: QWidget | None, settings: AppSettings) -> bool:
    """Point the window's Find panel at the stored CLIP model: it drops the old model and recomputes the
    instance features (in the worker) for the current query, if any."""
    panel = window.findChild(QDockWidget, "query_panel") if window is not None else None
    if panel is None or not hasattr(panel, "set_model"):
        return False
    panel.set_model(lambda: str(settings.get(CLIP_MODEL_KEY, BUNDLED)))
    panel.run_now()
    return True


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


def image_size_for_width(width: int, preferred=None) -> tuple[int, int]:
    """(H, W) for a width setting (0: the model default, from ``preferred``: a WeightsDefaults)."""
    from app.images import PreprocessConfig

    config = PreprocessConfig(width=width)
    if preferred is not None:
        config = config.with_model_defaults(preferred.width, preferred.height)
    return config.target_size()


def model_preference(weights: str):
    """What the weights leave to themselves (`app.run_plan.WeightsDefaults`: input size, clustering preset;
    empty when they name none or cannot be read: the check on apply reports unreadable weights)."""
    from app.errors import UserError
    from app.run_plan import WeightsDefaults, weights_defaults

    try:
        return weights_defaults(weights)
    except UserError:
        return WeightsDefaults()


def check_clip_step(spec: str):
    """Worker step: load the CLIP model ``spec`` names with app.semantics' loader; returns its model id.
    Its errors say what is wrong with the setting (not installed, not cached, bad file, unknown name)."""
    from app.errors import UserError
    from app.progress import Progress
    from app.semantics.backends import load_backend

    yield Progress("semantics", "checking the CLIP model", 0.0, 0.0)
    try:
        backend = load_backend(spec, device="cpu")
    except UserError as exc:
        raise UserError(f"CLIP model: {exc}") from None
    return backend.model_id


class SettingsDialog(QDialog):
    applied = Signal(object)  # RunSettings
    clip_model_changed = Signal(str)  # the new CLIP model spec, after it loaded and was saved

    def __init__(self, settings: AppSettings, n_views: int | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settings_dialog")
        self.setWindowTitle("Reconstruction settings")
        self.settings = settings
        self.n_views = n_views
        self.check_job: Job | None = None
        self.preferred = None  # the chosen weights' preferred input size (model.checkpoint.PreferredInput)
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
        models = QPushButton("Models…", weights_box)  # Settings > Models (viewer/models_page.py)
        models.setObjectName("open_models")
        models.setToolTip("The official IGGT checkpoint and real CLIP models: state, licence, download")
        models.clicked.connect(self.open_models)
        hub_row.addWidget(models)
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
        self.width.setRange(WIDTH_MODEL_DEFAULT, 1512)
        self.width.setSingleStep(28)
        self.width.setValue(int(run.image_width) or WIDTH_MODEL_DEFAULT)
        self.width.setToolTip("Network input width. The lowest setting uses the model's default: the width "
                              "its weights were trained for, or 504 (the official demo) when they name none.")
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
        self.preset.addItem("Model default", MODEL_PRESET)  # its text names the preset: _update_model_default
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
        self.position_weight = QDoubleSpinBox(cluster_box)
        self.position_weight.setObjectName("position_weight")
        self.position_weight.setRange(0.0, 10.0)
        self.position_weight.setDecimals(2)
        self.position_weight.setSingleStep(0.05)
        self.position_weight.setValue(run.position_weight)
        self.position_weight.setToolTip("Weight of the 3D position next to the features: look-alike objects "
                                        "in different places are kept apart. 0 = features only (official)")
        cform.addRow("Position weight", self.position_weight)
        self.merge_distance = QDoubleSpinBox(cluster_box)
        self.merge_distance.setObjectName("merge_distance")
        self.merge_distance.setRange(0.0, 1.99)
        self.merge_distance.setDecimals(2)
        self.merge_distance.setSingleStep(0.05)
        self.merge_distance.setValue(run.merge_distance)
        self.merge_distance.setToolTip("Clusters that touch in 3D and whose mean features are closer than "
                                       "this are merged (joins fragments of one object). 0 = off (official)")
        cform.addRow("Merge distance", self.merge_distance)
        if run.cluster_preset != MODEL_PRESET:  # stored with other values (older versions allowed it): custom
            self._on_cluster_field()
        self.preset.currentIndexChanged.connect(self._on_preset)
        for field in self._cluster_fields():
            field.valueChanged.connect(self._on_cluster_field)

        # open-vocabulary model (Find panel)
        clip = load_clip_choice(settings)
        clip_box = QGroupBox("Open-vocabulary model (Find objects)", self)
        self.clip_bundled = QRadioButton("Bundled (tiny CLIP trained on synthetic rooms)", clip_box)
        self.clip_open_clip_radio = QRadioButton("open_clip model", clip_box)
        self.clip_file_radio = QRadioButton("Local checkpoint", clip_box)
        self.clip_group = QButtonGroup(self)
        for b in (self.clip_bundled, self.clip_open_clip_radio, self.clip_file_radio):
            self.clip_group.addButton(b)
        self.clip_open_clip = QLineEdit(clip.open_clip, clip_box)
        self.clip_open_clip.setObjectName("clip_open_clip")
        self.clip_open_clip.setPlaceholderText("NAME:TAG, e.g. ViT-B-16:laion2b_s34b_b88k (local cache)")
        self.clip_file = QLineEdit(clip.file, clip_box)
        self.clip_file.setObjectName("clip_file")
        self.clip_file.setPlaceholderText("…/clip.safetensors (tiny CLIP) or an open_clip checkpoint")
        self.clip_file_model = QLineEdit(clip.file_model, clip_box)
        self.clip_file_model.setObjectName("clip_file_model")
        self.clip_file_model.setPlaceholderText("model name")
        self.clip_file_model.setMaximumWidth(120)
        self.clip_file_model.setToolTip("The open_clip model name of the checkpoint (e.g. ViT-B-16); "
                                        "leave empty for a tiny-CLIP .safetensors file")
        clip_browse = QPushButton("Browse…", clip_box)
        clip_browse.clicked.connect(self._browse_clip)
        open_clip_row = QHBoxLayout()
        open_clip_row.addWidget(self.clip_open_clip_radio)
        open_clip_row.addWidget(self.clip_open_clip, 1)
        clip_file_row = QHBoxLayout()
        clip_file_row.addWidget(self.clip_file_radio)
        clip_file_row.addWidget(self.clip_file, 1)
        clip_file_row.addWidget(self.clip_file_model)
        clip_file_row.addWidget(clip_browse)
        cl = QVBoxLayout(clip_box)
        cl.addWidget(self.clip_bundled)
        cl.addLayout(open_clip_row)
        cl.addLayout(clip_file_row)
        vlm = QPushButton("Vision-language model (Ask)…", clip_box)  # Settings > VLM (viewer/vlm_settings.py)
        vlm.setObjectName("open_vlm_settings")
        vlm.clicked.connect(self.open_vlm_settings)
        cl.addWidget(vlm)
        {"open_clip": self.clip_open_clip_radio, "file": self.clip_file_radio}.get(
            clip.source, self.clip_bundled).setChecked(True)

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
        layout.addWidget(clip_box)
        layout.addWidget(self.estimate)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.width.valueChanged.connect(self._update_size)
        self.weights_group.buttonToggled.connect(lambda *_: self._update_model_default())
        self.weights_file.editingFinished.connect(self._update_model_default)
        self.weights_hub.editingFinished.connect(self._update_model_default)
        self._update_model_default()

    # -------------------------------------------------------------------------------------- helpers
    def open_models(self) -> QDialog:
        """Settings > Models; a model chosen there fills the weights or CLIP field."""
        from viewer.models_page import ModelsDialog

        dialog = ModelsDialog(self)
        dialog.model_chosen.connect(self.use_model)
        dialog.show()
        return dialog

    def open_vlm_settings(self) -> QDialog:
        from viewer.vlm_settings import VlmSettingsDialog

        dialog = VlmSettingsDialog(self.settings, self)
        dialog.open()
        return dialog

    def use_model(self, kind: str, setting: str) -> None:
        bundled = setting == "bundled"
        if kind == "iggt":
            (self.weights_bundled if bundled else self.weights_hub_radio).setChecked(True)
            if not bundled:
                self.weights_hub.setText(setting)
            self._update_model_default()
        else:
            (self.clip_bundled if bundled else self.clip_open_clip_radio).setChecked(True)
            if not bundled:
                self.clip_open_clip.setText(setting)

    def _browse(self) -> None:
        patterns = "Checkpoints (*.safetensors *.pt *.pth *.bin *.ckpt);;All files (*)"
        path, _ = QFileDialog.getOpenFileName(self, "Choose weights", self.weights_file.text(), patterns)
        if path:
            self.weights_file.setText(path)
            self.weights_file_radio.setChecked(True)

    def _browse_clip(self) -> None:
        patterns = "CLIP checkpoints (*.safetensors *.pt *.pth *.bin);;All files (*)"
        path, _ = QFileDialog.getOpenFileName(self, "Choose a CLIP model", self.clip_file.text(), patterns)
        if path:
            self.clip_file.setText(path)
            self.clip_file_radio.setChecked(True)

    def _cluster_fields(self) -> tuple[QSpinBox | QDoubleSpinBox, ...]:
        return self.min_size, self.min_samples, self.epsilon, self.position_weight, self.merge_distance

    def _chosen_preset(self) -> str | None:
        """The preset the combo stands for ("model": the chosen weights' own), None for "custom"."""
        from app.clustering import known_preset

        name = self.preset.currentData()
        if name == MODEL_PRESET:
            return self.preferred.cluster_preset if self.preferred is not None else known_preset(None)
        return name if name in CLUSTER_PRESETS else None

    def _preset_field_values(self, name: str) -> tuple[int, int, float, float, float]:
        v = preset_values(name)
        return (int(v["min_cluster_size"]), int(v["min_samples"]), float(v["epsilon"]),
                float(v["position_weight"]), float(v["merge_distance"]))

    def _on_preset(self) -> None:
        """A preset fills the fields (what it will run with)."""
        name = self._chosen_preset()
        if name is None:
            return
        for field, value in zip(self._cluster_fields(), self._preset_field_values(name), strict=True):
            field.blockSignals(True)
            field.setValue(value)
            field.blockSignals(False)

    def _on_cluster_field(self) -> None:
        """Fields edited away from the chosen preset's values make it "Custom" (they are what runs)."""
        name = self._chosen_preset()
        values = tuple(field.value() for field in self._cluster_fields())
        if name is not None and values != self._preset_field_values(name):
            self.preset.blockSignals(True)
            self.preset.setCurrentIndex(self.preset.findData("custom"))
            self.preset.blockSignals(False)

    def _weights_setting(self) -> str:
        if self.weights_file_radio.isChecked():
            return self.weights_file.text().strip()
        if self.weights_hub_radio.isChecked():
            return self.weights_hub.text().strip()
        return "bundled"

    def _update_model_default(self) -> None:
        """The chosen weights' preferred size names the field's "model default" value."""
        self.preferred = model_preference(self._weights_setting())
        w = image_size_for_width(0, self.preferred)[1]
        self.width.setSpecialValueText(f"model default ({w} px)")
        self._update_size()
        name = self.preferred.cluster_preset
        self.preset.setItemText(self.preset.findData(MODEL_PRESET), f"Model default ({name.capitalize()})")
        self._on_preset()  # "Model default" shows the new weights' preset

    def _update_size(self) -> None:
        width = 0 if self.width.value() == WIDTH_MODEL_DEFAULT else self.width.value()
        h, w = image_size_for_width(width, self.preferred)
        self.size_label.setText(f"→ {w}×{h} pixels")

    def clip_choice(self) -> ModelChoice:
        source = ("open_clip" if self.clip_open_clip_radio.isChecked()
                  else "file" if self.clip_file_radio.isChecked() else BUNDLED)  # fmt: skip
        return ModelChoice(source, self.clip_open_clip.text().strip(), self.clip_file.text().strip(),
                           self.clip_file_model.text().strip())  # fmt: skip

    def current(self) -> RunSettings:
        run = RunSettings.load(self.settings)
        run.weights_source = ("file" if self.weights_file_radio.isChecked()
                              else "hub" if self.weights_hub_radio.isChecked() else "bundled")
        run.weights_file = self.weights_file.text().strip()
        run.weights_hub_id = self.weights_hub.text().strip()
        run.device = self.device.currentData()
        run.image_width = 0 if self.width.value() == WIDTH_MODEL_DEFAULT else self.width.value()
        run.max_views = self.max_views.value()
        run.confidence_percentile = self.confidence.value()
        run.cluster_preset = self.preset.currentData()
        run.min_cluster_size = self.min_size.value()
        run.min_samples = self.min_samples.value()
        run.epsilon = self.epsilon.value()
        run.position_weight = self.position_weight.value()
        run.merge_distance = self.merge_distance.value()
        name = self._chosen_preset()
        if name is not None:  # cues without a field here come with the preset (custom keeps the stored ones)
            values = preset_values(name)
            run.colour_weight, run.absorb_size = float(values["colour_weight"]), int(values["absorb_size"])
        return run

    # -------------------------------------------------------------------------------------- apply
    def apply(self, close: bool = False) -> None:
        """Validate everything; load the weights in the background; save and report when they work."""
        if self.check_job is not None:
            return
        run = self.current()
        clip = self.clip_choice()
        try:
            from viewer.pipeline import reconstruct_config

            reconstruct_config(run)
            clip_spec = clip.spec()
        except Exception as exc:
            self._show_problem(user_message(exc))
            return
        clip_changed = clip_spec != str(self.settings.get(CLIP_MODEL_KEY, BUNDLED)).strip()
        self.status.setText("Checking the CLIP model and the weights…" if clip_changed
                            else "Checking the weights…")  # fmt: skip
        self.status.setStyleSheet("")
        self.buttons.setEnabled(False)
        from viewer.pipeline import check_weights_factory, seconds_per_mpx

        rate = seconds_per_mpx(self.settings, run.device)
        try:
            weights_factory = check_weights_factory(run, self.n_views, rate)
        except Exception as exc:
            self._show_problem(user_message(exc))
            self.buttons.setEnabled(True)
            return

        def factory(cancelled):
            clip_id = None
            if clip_changed:
                clip_id = yield from check_clip_step(clip_spec)
            report = yield from weights_factory(cancelled)
            return report, clip_id

        self.check_job = Job("check-weights", factory, self)
        started = time.monotonic()

        def ok(result) -> None:
            report, clip_id = result
            run.save(self.settings)
            save_clip_choice(self.settings, clip)
            self.estimate.setText(report)
            checked = "weights" if clip_id is None else f"CLIP model {clip_id} and weights"
            self.status.setText(f"Settings saved ({checked} checked in {time.monotonic() - started:.1f} s).")
            self.applied.emit(run)
            if clip_changed:
                use_clip_model_in_find_panel(self.parent(), self.settings)
                self.clip_model_changed.emit(clip_spec)
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
