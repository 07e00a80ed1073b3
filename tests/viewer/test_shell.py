"""The application shell: starts, shows the empty state, menus, dialogs, settings and log."""

from __future__ import annotations

import logging

from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication

from viewer.empty_state import EMPTY_TEXT
from viewer.settings import AppSettings


def test_starts_with_empty_state_and_closes_cleanly(window, qtbot):
    assert window.stack.currentWidget() is window.empty_state
    assert window.empty_state.title.text() == EMPTY_TEXT
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles[:1] == ["File"] and "View" in titles and titles[-1] == "Help"
    toolbar_actions = window.toolbar.actions()
    assert toolbar_actions and all(not a.icon().isNull() for a in toolbar_actions)
    assert window.actions_["open_folder"].shortcut().toString() == "Ctrl+O"
    assert not window.error_dialogs
    assert window.close()
    assert not window.isVisible()


def test_window_geometry_is_restored(make_window, settings, qtbot):
    first = make_window()
    default = first.size()
    first.resize(default.width() - 150, default.height() - 100)
    qtbot.waitUntil(lambda: first.size() != default)
    chosen = first.size()
    first.close()
    second = make_window(settings=AppSettings(settings.path))
    assert second.size() == chosen != default


def test_about_shortcuts_and_log(window, qtbot):
    about = window.show_about()
    assert about.isVisible() and "IGGT Viewer" in about.text()
    about.close()
    shortcuts = window.show_shortcuts()
    rows = {shortcuts.table.item(r, 0).text(): shortcuts.table.item(r, 1).text()
            for r in range(shortcuts.table.rowCount())}
    assert rows["Open image folder"] == "Ctrl+O"
    shortcuts.close()
    logging.getLogger("viewer.test").warning("a line for the log viewer")
    viewer = window.show_log()
    assert window.log_path is not None and window.log_path.exists()
    assert "a line for the log viewer" in viewer.text.toPlainText()
    viewer.close()


def test_log_file_lives_in_isolated_user_log_dir(log_file):
    import os

    assert log_file is not None
    assert str(log_file).startswith(os.environ["XDG_STATE_HOME"])


def test_recent_list_and_settings_roundtrip(settings, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    settings.add_recent(a)
    settings.add_recent(b)
    settings.add_recent(a)
    again = AppSettings(settings.path)
    assert again.recent_paths() == [str(a.resolve()), str(b.resolve())]
    again.set("view/point_size", 3.5)
    assert AppSettings(settings.path).get("view/point_size", 1.0) == 3.5
    assert AppSettings(settings.path).get("missing/key", 7) == 7


def test_open_missing_path_shows_error_dialog(window, tmp_path, qtbot):
    window.open_path(tmp_path / "does-not-exist")
    assert len(window.error_dialogs) == 1
    dialog = window.error_dialogs[0]
    assert "does not exist" in dialog.text()
    dialog.accept()
    qtbot.waitUntil(lambda: not window.error_dialogs)


def test_drop_of_a_missing_folder_reaches_open_path(window, tmp_path, qtbot):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "nowhere"))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert window.error_dialogs and "nowhere" in window.error_dialogs[-1].text()


def test_dark_theme_changes_palette(window):
    window.set_theme("dark")
    assert QApplication.palette().window().color().lightness() < 100
    window.set_theme("light")
    assert QApplication.palette().window().color().lightness() > 150
    assert window.settings.get("ui/theme", "") == "light"


def test_slider_value_labels_follow_the_theme(window, qtbot):
    """The clustering sliders' value labels stay readable across theme switches (text contrasts with the
    window), not one theme behind."""
    from PySide6.QtGui import QPalette
    from superqt import QLabeledSlider

    labels = [s._label for s in window.findChildren(QLabeledSlider)]
    assert labels
    for theme in ("dark", "light", "dark", "light"):
        window.set_theme(theme)
        qtbot.wait(10)
        window_lightness = QApplication.palette().window().color().lightness()
        for label in labels:
            text = label.palette().color(QPalette.ColorGroup.Active, QPalette.ColorRole.Text).lightness()
            assert abs(text - window_lightness) > 100, (theme, text, window_lightness)


def test_main_entry_point_runs_and_exits(qapp, qtbot, tmp_path):
    from viewer.main import main

    def close_main_window():
        for w in QApplication.topLevelWidgets():
            if w.objectName() == "main_window" and w.isVisible():
                w.close()
        qapp.quit()

    QTimer.singleShot(1500, close_main_window)
    assert main(["--no-sample"]) == 0




def test_empty_state_lists_recent_paths(make_window, settings, tmp_path, qtbot):
    gone = tmp_path / "moved-away"
    gone.mkdir()
    settings.add_recent(gone)
    gone.rmdir()
    window = make_window()
    recent = window.empty_state.recent
    assert recent.isVisible() and recent.count() == 1 and recent.item(0).toolTip() == str(gone.resolve())
    rect = recent.visualItemRect(recent.item(0))
    qtbot.mouseClick(recent.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.error_dialogs and "does not exist" in window.error_dialogs[-1].text()


def test_a_backup_opens_as_a_scene_and_other_files_still_get_one_line(window, tmp_path, qtbot):
    """query --save and every save keep the file before as .iggt.bak: it opens (it said it was neither an
    image folder nor a scene); a file that is no scene still gets its one clear line."""
    from scenes import make_scene

    from app.scene_io import backup_path, save_scene

    path = tmp_path / "room.iggt"
    save_scene(make_scene(), path)
    save_scene(make_scene(), path)  # the first one is now room.iggt.bak
    bak = backup_path(path)
    assert window.open_path(bak)
    qtbot.waitUntil(lambda: window.document.scene is not None and window.job is None, timeout=30_000)
    assert not window.error_dialogs
    notes = tmp_path / "notes.bak"
    notes.write_text("not a scene")
    assert not window.open_path(notes)
    assert "neither an image folder nor an .iggt scene" in window.error_dialogs[-1].text()
    window.error_dialogs[-1].accept()
