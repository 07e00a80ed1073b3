"""Ask mode of the Find panel, Label all with a VLM, and Settings > VLM, driven as a user would, against a
real OpenAI-compatible server on 127.0.0.1 that answers by looking at the pictures (tests/vlm_server.py)."""

from __future__ import annotations

import pytest
from vlm_server import VlmServer

from app.semantics.ground_truth import scene_from_synthetic
from app.semantics.vlm_client import KEY_ENV, VlmConfig
from viewer.panels.ask import YES_COLOUR
from viewer.panels.query import QueryPanel

KEY = "sk-gui-test-51c0ffee"


@pytest.fixture(scope="module")
def room():
    from training.synthetic import render_room

    return scene_from_synthetic(render_room(950_014, 3, 112, 140))


@pytest.fixture
def server():
    with VlmServer() as s:
        yield s


def make_panel(qtbot, room, config):
    edits = []

    def push(edit):
        edits.append(edit)
        edit.apply(room.scene)

    p = QueryPanel(select=lambda i: None, push_edit=push, vlm_config=lambda: config)
    p.edits = edits
    qtbot.addWidget(p)
    p.set_scene(room.scene)
    p.show()
    p.tabs.setCurrentWidget(p.ask)
    return p


def red_ids(room) -> list[int]:
    return sorted(i for i, c in room.colours.items() if c == "red")


def test_without_a_vlm_ask_is_disabled_and_points_to_the_settings(qtbot, room) -> None:
    p = make_panel(qtbot, room, None)
    assert not p.ask.question.isEnabled() and not p.ask.ask_button.isEnabled()
    assert "Set the VLM endpoint and model" in p.ask.note.text()
    with qtbot.waitSignal(p.ask.settings_requested, timeout=1_000):
        p.ask.note.linkActivated.emit("settings")


def test_asking_lights_up_the_yes_objects_with_reasons_and_views(qtbot, room, server) -> None:
    p = make_panel(qtbot, room, VlmConfig(server.url, "looker"))
    overlays = []
    p.highlight_changed.connect(overlays.append)
    p.ask.top.setValue(16)
    qtbot.keyClicks(p.ask.question, "is this red?")
    qtbot.mouseClick(p.ask.ask_button, qtbot_button())
    qtbot.waitUntil(lambda: p.ask.job is None and p.ask.result is not None, timeout=60_000)
    assert overlays[-1] == {i: YES_COLOUR for i in red_ids(room)}
    shown = p.ask.answers_shown()
    assert [a for _, a in shown[: len(red_ids(room))]] == ["yes"] * len(red_ids(room))
    assert {a for _, a in shown} == {"yes", "no"}
    assert p.ask.table.item(0, 2).text() == "the outlined region is mostly red"
    assert p.ask.table.item(0, 3).text()  # the views used
    assert p.ask.status.text().startswith(f"{len(red_ids(room))} of {len(room.scene.instances)} objects: yes")
    p.tabs.setCurrentIndex(0)  # back to Find: its own (empty) highlight
    assert overlays[-1] == {}


def test_cancel_stops_the_requests_and_keeps_the_app_usable(qtbot, room) -> None:
    with VlmServer(mode="slow", delay_s=1.5) as server:
        config = VlmConfig(server.url, "looker", max_concurrent=1)
        p = make_panel(qtbot, room, config)
        p.ask.top.setValue(16)
        p.ask.question.setText("is this red?")
        p.ask.ask()
        qtbot.waitUntil(lambda: server.seen.chat_requests >= 1, timeout=10_000)
        qtbot.mouseClick(p.ask.cancel_button, qtbot_button())
        qtbot.waitUntil(lambda: p.ask.job is None, timeout=2_000)
        assert "Cancelled" in p.ask.status.text() and p.ask.ask_button.isEnabled()
        qtbot.wait(2_500)
        assert server.seen.chat_requests <= 2 < len(room.scene.instances)


@pytest.mark.parametrize(("mode", "shown"), [("malformed", "no answer"), ("refuse", "no answer")])
def test_unusable_answers_show_no_answer(qtbot, room, mode, shown) -> None:
    with VlmServer(mode=mode) as server:
        p = make_panel(qtbot, room, VlmConfig(server.url, "looker"))
        p.ask.top.setValue(2)
        p.ask.question.setText("is this red?")
        p.ask.ask()
        qtbot.waitUntil(lambda: p.ask.job is None and p.ask.result is not None, timeout=30_000)
    assert {a for _, a in p.ask.answers_shown()} == {shown}
    assert "2 no answer" in p.ask.status.text()


def test_a_dead_server_is_a_message_not_a_popup(qtbot, room) -> None:
    p = make_panel(qtbot, room, VlmConfig("http://127.0.0.1:9", "looker", retries=0))
    p.ask.question.setText("is this red?")
    p.ask.ask()
    qtbot.waitUntil(lambda: p.ask.job is None and p.ask.result is not None, timeout=30_000)
    assert p.ask.status.text().startswith("No answers: cannot reach the VLM server")


def test_label_all_with_the_vlm_goes_through_accept_and_undo(qtbot, room, server) -> None:
    p = make_panel(qtbot, room, VlmConfig(server.url, "looker"))
    p.tabs.setCurrentIndex(0)
    p.label_backend.setCurrentIndex(p.label_backend.findData("vlm"))
    before = {i: inst.category for i, inst in room.scene.instances.items()}
    p.label_all()
    qtbot.waitUntil(lambda: p.accept_button.isEnabled(), timeout=60_000)
    assert "labelled by looker" in p.status.text()
    p.accept_all()
    assert len(p.edits) == 1 and p.edits[0].op == "accept_labels"
    named_red = sorted(i for i, inst in room.scene.instances.items() if inst.category == "red object")
    assert named_red == red_ids(room)
    p.edits[0].revert(room.scene)
    assert {i: inst.category for i, inst in room.scene.instances.items()} == before


def test_vlm_settings_test_connection_and_the_key_is_never_stored(qtbot, settings, server, monkeypatch):
    from viewer.vlm_settings import VlmSettingsDialog, load_vlm_config

    monkeypatch.setenv(KEY_ENV, KEY)
    server.key = KEY
    dialog = VlmSettingsDialog(settings)
    qtbot.addWidget(dialog)
    assert not dialog.test_button.isEnabled()  # nothing configured yet
    assert "set in the IGGT_VLM_API_KEY" in dialog.findChild(type(dialog.result), "vlm_key_note").text()
    qtbot.keyClicks(dialog.endpoint, server.url + "/v1")
    qtbot.keyClicks(dialog.model, "looker")
    qtbot.mouseClick(dialog.test_button, qtbot_button())
    qtbot.waitUntil(lambda: dialog.result.text().startswith("connected"), timeout=20_000)
    assert "looker answered 'OK'" in dialog.result.text()
    assert server.seen.images == 0  # the test sends no picture
    dialog.save()
    config = load_vlm_config(settings)
    assert config is not None and config.chat_url == server.url + "/v1/chat/completions"
    settings.sync()
    stored = settings.path.read_text()
    assert "looker" in stored and KEY not in stored


def qtbot_button():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_settings_dialog_opens_the_vlm_settings(qtbot, settings) -> None:
    from viewer.settings_dialog import SettingsDialog
    from viewer.vlm_settings import VlmSettingsDialog

    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    vlm = dialog.open_vlm_settings()
    assert isinstance(vlm, VlmSettingsDialog) and vlm.isVisible()
    vlm.endpoint.setText("http://127.0.0.1:8000/v1")
    vlm.model.setText("qwen2.5vl:7b")
    vlm.save()
    from viewer.vlm_settings import load_vlm_config

    assert load_vlm_config(settings).model == "qwen2.5vl:7b"
