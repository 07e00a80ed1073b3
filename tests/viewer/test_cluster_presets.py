"""The "Spatial" clustering preset and the weights' own preset ("model") in the viewer: the Clustering
panel's button and Position slider, the settings dialog's "Model default" choice, and
viewer.pipeline.cluster_config."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fake_weights import placeholder_weights
from PySide6.QtCore import Qt

from app.clustering import PRESETS, ClusterConfig
from viewer.panels.clustering import ClusteringPanel
from viewer.pipeline import cluster_config
from viewer.run_settings import CLUSTER_PRESETS, RunSettings, preset_values
from viewer.settings_dialog import SettingsDialog


@pytest.fixture
def plain_weights(tmp_path):
    return placeholder_weights(tmp_path / "plain.safetensors")


@pytest.fixture
def panel(qtbot, settings):
    p = ClusteringPanel(settings)
    qtbot.addWidget(p)
    p.setEnabled(True)  # as when a scene is shown
    p.show()
    qtbot.waitExposed(p)
    return p


def _checked(panel) -> list[str]:
    return [name for name, b in panel.preset_buttons.items() if b.isChecked()]


# ------------------------------------------------------------------------------------------ pipeline
def test_run_settings_default_to_the_weights_own_preset():
    run = RunSettings()
    assert run.cluster_preset == "model" and run.position_weight == 0.0
    assert CLUSTER_PRESETS == ("small", "medium", "large", "spatial")
    # the bundled tiny model names "spatial" in its metadata
    assert cluster_config(run) == ClusterConfig.preset("spatial")
    assert cluster_config(run).position_weight == 0.35


def test_a_named_preset_with_its_values_gives_exactly_that_preset():
    for name in PRESETS:
        v = preset_values(name)
        run = RunSettings(cluster_preset=name, min_cluster_size=int(v["min_cluster_size"]),
                          min_samples=int(v["min_samples"]), epsilon=v["epsilon"],
                          position_weight=v["position_weight"],
                          merge_distance=v["merge_distance"], colour_weight=v["colour_weight"],
                          absorb_size=int(v["absorb_size"]))  # fmt: skip
        assert cluster_config(run) == ClusterConfig.preset(name), name
    # the fields are what runs for a named or custom preset (settings stored by older versions)
    custom = cluster_config(RunSettings(cluster_preset="custom", min_cluster_size=800, position_weight=0.2))
    assert (custom.min_cluster_size, custom.position_weight) == (800, 0.2)


def test_model_preset_of_weights_naming_none_is_large(plain_weights):
    run = RunSettings(weights_source="file", weights_file=str(plain_weights))
    assert cluster_config(run) == ClusterConfig.preset("large")
    missing = replace(run, weights_file=str(plain_weights.parent / "missing.safetensors"))
    assert cluster_config(missing) == ClusterConfig.preset("large")  # the run itself reports the file


# ------------------------------------------------------------------------------------------ panel
def test_panel_starts_with_the_weights_preset(qtbot, settings, plain_weights):
    p = ClusteringPanel(settings)
    qtbot.addWidget(p)
    assert _checked(p) == ["spatial"] and p.position.value() == pytest.approx(0.35)
    assert p.min_size.value() == 2500
    assert cluster_config(p.current_settings()) == ClusterConfig.preset("spatial")

    RunSettings(weights_source="file", weights_file=str(plain_weights)).save(settings)
    q = ClusteringPanel(settings)
    qtbot.addWidget(q)
    assert _checked(q) == ["large"] and q.position.value() == 0.0
    assert cluster_config(q.current_settings()) == ClusterConfig.preset("large")


def test_spatial_button_sets_the_sliders_and_requests_a_position_weight(qtbot, panel, settings):
    assert "the bundled model's default" in panel.preset_buttons["spatial"].toolTip()
    for name in ("small", "medium", "large"):
        assert "the official demo's" in panel.preset_buttons[name].toolTip()
    qtbot.mouseClick(panel.preset_buttons["large"], Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(panel.recluster_requested, timeout=1000) as sent:
        qtbot.mouseClick(panel.preset_buttons["spatial"], Qt.MouseButton.LeftButton)
    run = sent.args[0]
    assert (panel.min_size.value(), panel.epsilon.value()) == (2500, pytest.approx(0.06))
    assert panel.position.value() == pytest.approx(0.35) and _checked(panel) == ["spatial"]
    assert run.cluster_preset == "spatial" and cluster_config(run) == ClusterConfig.preset("spatial")
    assert cluster_config(run).position_weight == 0.35
    # the scene's clustering does not become the next reconstruction's default (issue 17, item 2)
    assert RunSettings.load(settings).cluster_preset == "model"
    assert panel.next_run.text() == "New reconstructions: the model's default preset"
    # an official preset puts the position weight back to 0
    with qtbot.waitSignal(panel.recluster_requested, timeout=1000) as sent:
        qtbot.mouseClick(panel.preset_buttons["medium"], Qt.MouseButton.LeftButton)
    assert panel.position.value() == 0.0 and cluster_config(sent.args[0]) == ClusterConfig.preset("medium")


def test_moving_position_makes_the_preset_custom_and_reclusters_once(qtbot, panel):
    qtbot.mouseClick(panel.preset_buttons["large"], Qt.MouseButton.LeftButton)
    sent = []
    panel.recluster_requested.connect(sent.append)
    panel.position.setValue(0.1)
    panel.position.setValue(0.2)  # within the debounce: one re-clustering, with the last value
    assert _checked(panel) == [] and not sent
    qtbot.waitUntil(lambda: bool(sent), timeout=2000)
    qtbot.wait(500)
    assert len(sent) == 1 and sent[0].cluster_preset == "custom"
    config = cluster_config(sent[0])
    assert config.position_weight == 0.2 and (config.epsilon, config.min_cluster_size) == (0.06, 500)


def test_scene_settings_are_recognised_with_their_position_weight(panel):
    panel.show_scene_settings(ClusterConfig.preset("spatial"), 7)
    assert _checked(panel) == ["spatial"] and panel.position.value() == pytest.approx(0.35)
    assert panel.status.text() == "7 instances"
    # a scene file from a version without the position weight: the official procedure, "large"
    old = ClusterConfig.preset("large").to_json()
    del old["position_weight"]
    panel.show_scene_settings(ClusterConfig.from_json(old), 5)
    assert _checked(panel) == ["large"] and panel.position.value() == 0.0
    # large's values with a position weight are not "large"; a weight above the slider's range is shown
    panel.show_scene_settings(ClusterConfig.preset("large", position_weight=2.0), 5)
    assert _checked(panel) == [] and panel.position.value() == pytest.approx(2.0)
    assert cluster_config(panel.current_settings()).position_weight == 2.0
    # spatial with the (opt-in) merge step is not "spatial"; the scene's merge distance is what re-clusters
    panel.show_scene_settings(ClusterConfig.preset("spatial", merge_distance=0.3), 5)
    assert _checked(panel) == []
    assert cluster_config(panel.current_settings()) == ClusterConfig.preset("spatial", merge_distance=0.3)
    panel.show_scene_settings(ClusterConfig.preset("spatial"), 5)
    assert cluster_config(panel.current_settings()).merge_distance == 0.0


def test_settings_applied_elsewhere_are_shown(panel, plain_weights):
    panel.show_run_settings(RunSettings(cluster_preset="small", min_cluster_size=500, min_samples=50,
                                        epsilon=0.005))  # fmt: skip
    assert _checked(panel) == ["small"] and panel.epsilon.value() == pytest.approx(0.005)
    panel.show_run_settings(RunSettings(weights_source="file", weights_file=str(plain_weights)))
    assert _checked(panel) == ["large"]
    panel.show_run_settings(RunSettings())  # "model" with the bundled weights
    assert _checked(panel) == ["spatial"] and panel.position.value() == pytest.approx(0.35)


# ------------------------------------------------------------------------------------------ dialog
def _dialog(qtbot, settings) -> SettingsDialog:
    dialog = SettingsDialog(settings, None)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def _fields(dialog) -> tuple:
    return (dialog.min_size.value(), dialog.min_samples.value(), dialog.epsilon.value(),
            dialog.position_weight.value(), dialog.merge_distance.value())  # fmt: skip


def test_dialog_model_default_follows_the_chosen_weights(qtbot, settings, plain_weights):
    dialog = _dialog(qtbot, settings)
    assert dialog.preset.itemData(0) == "model" and dialog.preset.currentData() == "model"
    assert [dialog.preset.itemData(i) for i in range(dialog.preset.count())] == [
        "model", "small", "medium", "large", "spatial", "custom"]
    assert dialog.preset.currentText() == "Model default (Spatial)"
    assert _fields(dialog) == (2500, 100, 0.06, 0.35, 0.0)
    run = dialog.current()
    assert run.cluster_preset == "model" and cluster_config(run) == ClusterConfig.preset("spatial")

    dialog.weights_file_radio.setChecked(True)
    dialog.weights_file.setText(str(plain_weights))
    dialog.weights_file.editingFinished.emit()
    assert dialog.preset.currentText() == "Model default (Large)"
    assert _fields(dialog) == (500, 100, 0.06, 0.0, 0.0)
    assert cluster_config(dialog.current()) == ClusterConfig.preset("large")
    dialog.weights_bundled.setChecked(True)
    assert dialog.preset.currentText() == "Model default (Spatial)"
    assert _fields(dialog) == (2500, 100, 0.06, 0.35, 0.0)
    dialog.reject()


def test_dialog_presets_fill_the_fields_and_apply_stores_the_position_weight(qtbot, settings, tiny_weights):
    RunSettings(weights_source="file", weights_file=str(tiny_weights), device="cpu").save(settings)
    dialog = _dialog(qtbot, settings)
    assert dialog.preset.currentText() == "Model default (Large)"  # random tiny weights name no preset
    dialog.preset.setCurrentIndex(dialog.preset.findData("spatial"))
    assert _fields(dialog) == (2500, 100, 0.06, 0.35, 0.0)
    assert cluster_config(dialog.current()) == ClusterConfig.preset("spatial")
    dialog.preset.setCurrentIndex(dialog.preset.findData("small"))
    assert _fields(dialog) == (500, 50, 0.005, 0.0, 0.0)
    dialog.position_weight.setValue(0.7)  # a field edited away from the preset: custom
    assert dialog.preset.currentData() == "custom" and _fields(dialog) == (500, 50, 0.005, 0.7, 0.0)
    dialog.apply()
    qtbot.waitUntil(lambda: dialog.check_job is None, timeout=60_000)
    assert "saved" in dialog.status.text(), dialog.status.text()
    stored = RunSettings.load(settings)
    assert (stored.cluster_preset, stored.position_weight) == ("custom", 0.7)
    assert cluster_config(stored) == ClusterConfig(min_cluster_size=500, min_samples=50, epsilon=0.005,
                                                   position_weight=0.7)  # fmt: skip
    dialog.reject()


def test_dialog_keeps_what_older_versions_stored(qtbot, settings):
    RunSettings(cluster_preset="large").save(settings)  # an older version's default, stored
    dialog = _dialog(qtbot, settings)
    assert dialog.preset.currentData() == "large" and _fields(dialog) == (500, 100, 0.06, 0.0, 0.0)
    assert cluster_config(dialog.current()) == ClusterConfig.preset("large")
    dialog.reject()
    # older versions let the fields differ from the named preset: they ran with the fields, so does this
    RunSettings(cluster_preset="large", min_cluster_size=800).save(settings)
    dialog = _dialog(qtbot, settings)
    assert dialog.preset.currentData() == "custom" and dialog.min_size.value() == 800
    assert cluster_config(dialog.current()).min_cluster_size == 800
    dialog.reject()


def test_the_next_run_keeps_its_clustering_and_can_go_back_to_the_model_default(qtbot, settings):
    RunSettings(cluster_preset="custom", epsilon=0.1076, min_cluster_size=200).save(settings)  # an old leak
    p = ClusteringPanel(settings)
    qtbot.addWidget(p)
    p.setEnabled(True)
    p.show()
    qtbot.waitExposed(p)
    assert "custom (epsilon 0.1076" in p.next_run.text() and not p.reset_button.isHidden()
    with qtbot.waitSignal(p.recluster_requested, timeout=1000):
        qtbot.mouseClick(p.preset_buttons["small"], Qt.MouseButton.LeftButton)
    assert RunSettings.load(settings).epsilon == 0.1076  # the scene's change is not saved
    qtbot.mouseClick(p.reset_button, Qt.MouseButton.LeftButton)
    assert RunSettings.load(settings).cluster_preset == "model" and p.reset_button.isHidden()
    assert p.next_run.text() == "New reconstructions: the model's default preset"
