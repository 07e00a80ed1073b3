"""Settings dialog: the open-vocabulary (CLIP) model field, checked with app.semantics' loader on apply and
handed to the Find panel; the image width's "model default" follows the chosen weights' metadata."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QMainWindow

from app.semantics.backends import bundled_weights_path
from viewer.settings_dialog import CLIP_MODEL_KEY, SettingsDialog


@pytest.fixture
def host(qtbot, settings, tiny_weights):
    """A main window holding a Find panel, and fast reconstruction settings (tiny weights, CPU)."""
    from viewer.panels.query import QueryPanel
    from viewer.run_settings import RunSettings

    RunSettings(weights_source="file", weights_file=str(tiny_weights), device="cpu").save(settings)
    window = QMainWindow()
    qtbot.addWidget(window)
    panel = QueryPanel(parent=window, model_spec=lambda: str(settings.get(CLIP_MODEL_KEY, "bundled")))
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, panel)
    return window, panel


def _dialog(qtbot, settings, parent) -> SettingsDialog:
    dialog = SettingsDialog(settings, None, parent)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def _apply(qtbot, dialog, close: bool = False) -> None:
    dialog.apply(close=close)
    qtbot.waitUntil(lambda: dialog.check_job is None, timeout=60_000)


@pytest.fixture
def other_clip(tmp_path):
    """A second tiny CLIP (one weight changed, so another model id) with its config beside it."""
    from safetensors.torch import load_file, save_file

    src = bundled_weights_path()
    state = load_file(str(src))
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key] = state[key] + 0.01
    out = tmp_path / "other-clip.safetensors"
    save_file(state, str(out))
    shutil.copy(src.with_suffix(".json"), out.with_suffix(".json"))
    return out


@pytest.mark.parametrize(
    ("source", "text", "message"),
    [
        ("open_clip", "NoSuchNet:openai", "CLIP model: unknown open_clip model 'NoSuchNet'"),
        ("open_clip", "", "enter an open_clip model as NAME:TAG"),
        ("file", "/nonexistent/clip.safetensors", "CLIP model: CLIP weights not found"),
    ],
)
def test_a_bad_clip_model_is_reported_and_the_dialog_stays(qtbot, settings, host, source, text, message):
    dialog = _dialog(qtbot, settings, host[0])
    radio, field = {"open_clip": (dialog.clip_open_clip_radio, dialog.clip_open_clip),
                    "file": (dialog.clip_file_radio, dialog.clip_file)}[source]  # fmt: skip
    radio.setChecked(True)
    field.setText(text)
    seen = []
    dialog.clip_model_changed.connect(seen.append)
    _apply(qtbot, dialog, close=True)
    assert message in dialog.status.text(), dialog.status.text()
    assert dialog.isVisible() and "saved" not in dialog.status.text() and not seen
    assert settings.get(CLIP_MODEL_KEY, "unset") == "unset"  # nothing stored
    dialog.reject()


def test_a_good_clip_model_is_applied_and_the_find_panel_switches(qtbot, settings, host, other_clip):
    from app.semantics.ground_truth import scene_from_synthetic
    from training.synthetic import render_room

    window, panel = host
    scene = scene_from_synthetic(render_room(950_003, 2, 56, 84)).scene
    panel.set_scene(scene)
    panel.edit.setText("chair")
    panel.run_now()
    qtbot.waitUntil(lambda: panel.ready() and panel.job is None, timeout=120_000)
    bundled_id = panel.backend.model_id

    dialog = _dialog(qtbot, settings, window)
    seen = []
    dialog.clip_model_changed.connect(seen.append)
    dialog.clip_file_radio.setChecked(True)
    dialog.clip_file.setText(str(other_clip))
    _apply(qtbot, dialog)
    status = dialog.status.text()
    assert "saved" in status and "CLIP model clip-tiny:" in status, status
    assert settings.get(CLIP_MODEL_KEY, "") == str(other_clip) and seen == [str(other_clip)]
    # the Find panel dropped the bundled model and computes the new model's features in the worker
    qtbot.waitUntil(lambda: panel.ready() and panel.job is None, timeout=120_000)
    assert panel.backend.model_id != bundled_id and panel.backend.model_id.startswith("clip-tiny:")
    assert {bundled_id, panel.backend.model_id} <= set(scene.embeddings)  # both cached, per model id
    assert panel.table.rowCount() > 0

    # back to the bundled model: applied, stored, and the dialog closes on OK
    dialog.clip_bundled.setChecked(True)
    _apply(qtbot, dialog, close=True)
    assert settings.get(CLIP_MODEL_KEY, "") == "bundled" and seen[-1] == "bundled"
    assert dialog.result() == QDialog.DialogCode.Accepted and not dialog.isVisible()
    qtbot.waitUntil(lambda: panel.ready() and panel.job is None, timeout=120_000)
    assert panel.backend.model_id == bundled_id  # its features come from the scene's cache
    # the file field is remembered for the next time
    again = _dialog(qtbot, settings, window)
    assert again.clip_bundled.isChecked() and again.clip_file.text() == str(other_clip)
    again.reject()


def test_image_width_shows_the_model_default(qtbot, settings, host, tmp_path):
    import torch

    from model import IGGTConfig, build_iggt, save_iggt
    from model.checkpoint import preferred_metadata
    from viewer.run_settings import RunSettings

    torch.manual_seed(0)
    sized = save_iggt(build_iggt(IGGTConfig.tiny()), tmp_path / "sized.safetensors",
                      metadata=preferred_metadata(308, 224))  # fmt: skip
    run = RunSettings.load(settings)
    run.image_width = 0  # unset
    run.save(settings)
    dialog = _dialog(qtbot, settings, host[0])
    assert dialog.width.text() == "model default (504 px)"  # the random tiny weights name no size
    assert dialog.size_label.text() == "→ 504×336 pixels"
    dialog.weights_file.setText(str(sized))
    dialog.weights_file.editingFinished.emit()
    assert dialog.width.text() == "model default (308 px)" and dialog.size_label.text() == "→ 308×224 pixels"
    assert dialog.current().image_width == 0
    _apply(qtbot, dialog)
    assert "saved" in dialog.status.text(), dialog.status.text()
    assert RunSettings.load(settings).image_width == 0
    dialog.width.setValue(280)
    assert dialog.current().image_width == 280 and dialog.size_label.text() == "→ 280×196 pixels"
    dialog.reject()
