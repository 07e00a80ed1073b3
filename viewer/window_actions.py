"""The main window's own menu entries and toolbar buttons (text, icon, shortcut, what they call).

View toggles write to the viewer state; checkable actions follow the state's events, so the Display
panel, the keys and the menus always agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence

from viewer import theme
from viewer.actions import ActionSpec as S
from viewer.state import COLOUR_MODES, ViewerState

if TYPE_CHECKING:
    from viewer.main_window import MainWindow


def follow(action: QAction, signal, value=lambda v: bool(v)) -> None:
    """Keep a checkable action checked as the state says, without triggering it."""

    def show(v) -> None:
        checked = value(v)
        if action.isChecked() != checked:
            action.blockSignals(True)
            action.setChecked(checked)
            action.blockSignals(False)

    signal.connect(show)


def build_window_actions(w: MainWindow) -> None:
    add, state = w.actions_.add, w.state
    add(S("open_folder", "Open image &folder…", "mdi6.folder-image", "Ctrl+O",
          "Reconstruct a folder of photos", menu="file", toolbar=True), w.scenes.open_folder_dialog)
    add(S("open_scene", "Open &scene…", "mdi6.folder-open", "Ctrl+Shift+O",
          "Open a saved .iggt scene", menu="file", toolbar=True), w.scenes.open_scene_dialog)
    w.recent_menu = w.new_menu(w.menus["file"], "Open &recent")
    w.recent_menu.setObjectName("recent_menu")
    w.recent_menu.aboutToShow.connect(w.fill_recent_menu)
    add(S("open_sample", "Open sample &room", "mdi6.home", None,
          "Reconstruct the bundled sample room", menu="file"), w.scenes.open_sample)
    w.menus["file"].addSeparator()
    add(S("save", "&Save", "mdi6.content-save", QKeySequence.StandardKey.Save, "Save the scene",
          menu="file", toolbar=True), w.scenes.save)
    add(S("save_as", "Save &as…", "mdi6.content-save-edit", QKeySequence.StandardKey.SaveAs,
          "Save the scene to a new file", menu="file"), w.scenes.save_as)
    add(S("save_screenshot", "Save scree&nshot…", "mdi6.camera", "Ctrl+P",
          "Save the 3D view as a PNG image", menu="file", toolbar=True), w.save_screenshot_dialog)
    w.menus["file"].addSeparator()
    add(S("quit", "&Quit", "mdi6.exit-to-app", QKeySequence.StandardKey.Quit, menu="file"), w.close)

    add(S("rename", "&Rename instance", "mdi6.rename-box", "F2", "Rename the selected instance",
          menu="edit"), w.instances_panel.rename_selected)
    add(S("toggle_visible", "Show/&hide instance", "mdi6.eye", "H", "Show or hide the selected instance",
          menu="edit"), w.instances_panel.toggle_selected_visibility)
    add(S("isolate", "&Isolate instance", "mdi6.image-filter-center-focus", "I",
          "Show only the selected instance", menu="edit", checkable=True), w.set_isolating)
    follow(w.actions_["isolate"], state.events.isolating)
    add(S("clear_selection", "&Clear selection", None, "Escape", "Clear the selection or cancel the job",
          menu="edit"), w.escape)
    w.menus["edit"].addSeparator()
    add(S("history", "Show &history", "mdi6.history", "Ctrl+H", "Show the list of edits", menu="edit"),
        w.show_history)

    _view_actions(w, state)

    add(S("rerun", "Reconstruct &again", "mdi6.play", "F5",
          "Run the reconstruction of the current photo folder again (after changing settings)",
          menu="run", toolbar=True), w.scenes.rerun)
    add(S("cancel_job", "&Cancel", "mdi6.stop", None, "Stop the running job", menu="run"), w.jobs.cancel)
    w.menus["run"].addSeparator()
    add(S("settings", "&Settings…", "mdi6.cog", "Ctrl+,", "Weights, device, image size, clustering",
          menu="run", toolbar=True), w.show_settings)

    add(S("shortcuts", "&Keyboard shortcuts", "mdi6.keyboard", "F1", "List the keyboard shortcuts",
          menu="help"), w.show_shortcuts)
    add(S("show_log", "Show &log", "mdi6.file-document-outline", None, "Show the application log",
          menu="help"), w.show_log)
    w.menus["help"].addSeparator()
    add(S("about", "&About IGGT Viewer", "mdi6.information-outline", None, "About this application",
          menu="help"), w.show_about)


def _view_actions(w: MainWindow, state: ViewerState) -> None:
    add, view = w.actions_.add, w.view
    add(S("reset_view", "&Reset view", "mdi6.fit-to-screen", "R", "Fit the whole scene in the view",
          menu="view", toolbar=True), view.reset_view)
    toggles = (
        ("orthographic", "&Orthographic", "mdi6.perspective-less", "O", "Toggle orthographic projection",
         True, "parallel_projection"),
        ("cameras", "Show &cameras", "mdi6.camera-outline", "C", "Show the photo cameras", True,
         "frustums_visible"),
        ("axes", "&Axes", "mdi6.axis-arrow", "A", "Show the orientation axes", False, "axes_visible"),
        ("grid", "&Grid", "mdi6.grid", "G", "Show a grid with distances", False, "grid_visible"),
    )
    for key, text, icon, keys, tip, toolbar, field in toggles:
        act = add(S(key, text, icon, keys, tip, menu="view", toolbar=toolbar, checkable=True),
                  lambda on, f=field: setattr(state, f, bool(on)))
        act.setChecked(getattr(state, field))
        follow(act, getattr(state.events, field))
    add(S("bookmark_camera", "&Bookmark camera", "mdi6.bookmark-outline", "Ctrl+B",
          "Remember this camera position (B comes back to it)", menu="view"), view.bookmark_camera)
    add(S("go_to_bookmark", "Go to camera book&mark", "mdi6.bookmark", "B",
          "Put the camera back where it was bookmarked", menu="view"), view.go_to_bookmark)
    colour_menu = w.new_menu(w.menus["view"], "&Colour by")
    for n, (mode, label) in enumerate(COLOUR_MODES.items(), start=1):
        spec = S(f"colour_{mode}", label, None, str(n), f"Colour the points by {label.lower()}")
        colour_menu.addAction(add(spec, lambda m=mode: state.set_colour_mode(m)))
    add(S("background", "&Background colour…", "mdi6.palette", None, "Choose the 3D background colour",
          menu="view"), w.choose_background)
    w.theme_menu = w.new_menu(w.menus["view"], "&Theme")
    for name in theme.THEMES:
        act = w.theme_menu.addAction(name.capitalize())
        act.setObjectName(f"action_theme_{name}")
        act.setCheckable(True)
        act.triggered.connect(lambda _c=False, n=name: w.set_theme(n))
    w.menus["view"].addSeparator()
    add(S("presentation", "&Presentation mode", "mdi6.presentation-play", "F11",
          "Full screen, panels hidden, slow orbit (Esc or F11 to leave)", menu="view", toolbar=True,
          checkable=True), w.set_presentation_mode)
    w.menus["view"].addMenu(w.panels_menu)

