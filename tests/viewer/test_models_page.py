"""Settings > Models against the test hub on 127.0.0.1: download with progress, cancel, resume, use the
model (the settings dialog's weights become the hub id and its check loads them), and a hub error as one
line on the page."""

from __future__ import annotations

import pytest
from hub_server import OFFICIAL, serving_test_hub
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton

from viewer.settings_dialog import SettingsDialog


@pytest.fixture
def hub(tmp_path, monkeypatch):
    with serving_test_hub(tmp_path / "hub-cache", monkeypatch) as server:
        yield server


def _open(qtbot, settings):
    dialog = SettingsDialog(settings, None)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    qtbot.mouseClick(dialog.findChild(QPushButton, "open_models"), Qt.MouseButton.LeftButton)
    page = dialog.findChild(QPushButton, "download:iggt-official").window()
    qtbot.waitExposed(page)
    return dialog, page


def test_download_cancel_resume_and_use(qtbot, settings, hub):
    dialog, page = _open(qtbot, settings)
    status = page.findChild(QLabel, "models_status")
    state = page.findChild(QLabel, "state:iggt-official")
    download = page.findChild(QPushButton, "download:iggt-official")
    use = page.findChild(QPushButton, "use:iggt-official")
    assert state.text().startswith("not present") and not use.isEnabled() and download.isEnabled()

    hub.state.throttle = 0.01  # about 3 s for the weights: time to see progress and cancel
    qtbot.mouseClick(download, Qt.MouseButton.LeftButton)
    bar = page.findChild(QProgressBar, "download_progress")
    qtbot.waitUntil(lambda: bar.isVisible() and bar.value() > 2_000_000, timeout=30_000)
    assert " MB / 21.1 MB" in status.text()
    qtbot.mouseClick(page.findChild(QPushButton, "cancel_download"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.job is None, timeout=10_000)
    assert "cancelled" in status.text() and "resumes" in status.text()
    qtbot.waitUntil(lambda: len(hub.state.transfers) == 1 and hub.state.transfers[0][2] > 0, timeout=10_000)

    hub.state.throttle = 0
    qtbot.mouseClick(download, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.job is None, timeout=60_000)
    assert "downloaded and checked" in status.text(), status.text()
    assert hub.state.transfers[-1][1].startswith("bytes=")  # resumed, not restarted
    assert state.text().startswith("in cache") and use.isEnabled() and not download.isEnabled()

    qtbot.mouseClick(use, Qt.MouseButton.LeftButton)
    assert dialog.weights_hub_radio.isChecked() and dialog.weights_hub.text() == OFFICIAL
    dialog.apply()
    qtbot.waitUntil(lambda: dialog.check_job is None, timeout=120_000)
    assert "Settings saved" in dialog.findChild(QLabel, "settings_status").text()
    from viewer.run_settings import RunSettings

    run = RunSettings.load(settings)
    assert run.weights_source == "hub" and run.weights_hub_id == OFFICIAL


def test_a_hub_error_is_one_line_on_the_page(qtbot, settings, hub):
    hub.state.fail_status = 503
    _, page = _open(qtbot, settings)
    qtbot.mouseClick(page.findChild(QPushButton, "download:iggt-official"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.job is None, timeout=30_000)
    text = page.findChild(QLabel, "models_status").text()
    assert "answered HTTP 503" in text and "\n" not in text
    assert page.findChild(QLabel, "state:iggt-official").text().startswith("not present")
