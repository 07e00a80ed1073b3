"""The main window: composition of the viewer. It builds the document, the viewer state, the one undo
stack, the 3D view (or the empty state) and the dock panels, and connects them: panels and the view
write to and follow the state (viewer.state), edits go through the undo stack (viewer.commands).

The window owns its controllers as objects with explicit dependencies: ``jobs`` (viewer.job_runner: long
jobs, one at a time, in the status bar), ``scenes`` (viewer.opening: open, reconstruct, save),
``reclustering`` (viewer.reclustering), ``editing`` (viewer.editing) and ``presentation``.

Extending it: register actions with ``window.actions_.add(ActionSpec(...), slot)`` (menus: file, edit,
view, run, help), add docks with ``window.add_panel(dock)``, send scene edits (app.edits.Edit) through
``window.push_edit(edit)`` (view changes the scene does not store: ``window.push_view``), which records
them on the undo stack, and run long steps with ``window.run_job(job, on_success, text, error_title)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QIcon
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMenu, QMenuBar, QStackedWidget, QToolBar

from app.paths import ICONS_DIR
from viewer.actions import ActionRegistry
from viewer.commands import EditStack
from viewer.dialogs import (
    APP_TITLE,
    ErrorDialog,
    LogViewer,
    ShortcutsDialog,
    error_details,
    show_about,
    user_message,
)
from viewer.document import Document
from viewer.editing import EditingController
from viewer.empty_state import EmptyStatePanel
from viewer.imagery import ViewImages
from viewer.job_runner import JobRunner
from viewer.opening import SceneOpening
from viewer.panels.clustering import ClusteringPanel
from viewer.panels.display import DisplayPanel
from viewer.panels.history import HistoryPanel
from viewer.panels.instance_detail import InstanceDetailPanel
from viewer.panels.instances import InstanceListPanel
from viewer.panels.views import ImageBrowserPanel
from viewer.picking import PickResult
from viewer.presentation import Presentation
from viewer.reclustering import Reclustering
from viewer.scene_view import SceneView
from viewer.settings import AppSettings
from viewer.state import COLOUR_MODES, ViewerState
from viewer.window_actions import build_window_actions
from viewer.window_layout import WindowLayout
from viewer.workers import Job

log = logging.getLogger(__name__)

MENUS = (("file", "&File"), ("edit", "&Edit"), ("view", "&View"), ("run", "&Reconstruct"), ("help", "&Help"))
PERSISTED_VIEW = {"colour_mode": "view/colour_mode", "point_size": "view/point_size",
                  "frustums_visible": "view/frustums"}  # viewer state kept across sessions


def state_from_settings(settings: AppSettings) -> ViewerState:
    """The viewer state as the user left it (colour mode, point size, cameras); it is saved on change."""
    state = ViewerState()
    mode = settings.get("view/colour_mode", "rgb")
    state.colour_mode = mode if mode in COLOUR_MODES else "rgb"
    state.set_point_size(float(settings.get("view/point_size", 2.0)))
    state.frustums_visible = bool(settings.get("view/frustums", True))
    for name, key in PERSISTED_VIEW.items():
        getattr(state.events, name).connect(_saver(settings, key))
    return state


def _saver(settings: AppSettings, key: str) -> Callable[[Any], None]:
    def save(value: Any) -> None:
        settings.set(key, value)

    return save


class MainWindow(WindowLayout, QMainWindow):
    def __init__(self, settings: AppSettings, log_path: Path | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.log_path = log_path
        self.setObjectName("main_window")
        icon_file = ICONS_DIR / "iggt-viewer.svg"
        if icon_file.exists():
            self.setWindowIcon(QIcon(str(icon_file)))
        self.setAcceptDrops(True)
        self.setDockOptions(
            QMainWindow.DockOption.AllowTabbedDocks
            | QMainWindow.DockOption.AllowNestedDocks
        )
        self.error_dialogs: list[ErrorDialog] = []  # open error dialogs (tests look at them)
        self._log_viewer: LogViewer | None = None
        self.state = state_from_settings(settings)
        self.selection = self.state.selection
        self.document = Document(self)
        # no Qt parent: destroyed after the window's widgets (QUndoStack's destructor clears it, which
        # emits its signals; by then every receiver is gone and disconnected)
        self.undo_stack = EditStack()
        self.undo_stack.setObjectName("edit_stack")
        self.images: ViewImages | None = None
        self._instances_scene = None  # the scene whose instance events the status bar follows

        # Menus are created in Python, never fetched from C++ (menuBar(), addMenu(str)): with VTK's GL
        # surfaces coming and going, shiboken can hand back a stale wrapper of another type for a
        # reused address (seen in CI as "QOffscreenSurface has no attribute addMenu").
        self.menu_bar = QMenuBar(self)
        self.setMenuBar(self.menu_bar)
        self.menus: dict[str, QMenu] = {key: self.new_menu(self.menu_bar, title) for key, title in MENUS}
        self.toolbar = QToolBar("Main toolbar", self)
        self.toolbar.setObjectName("main_toolbar")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)
        self.actions_ = ActionRegistry(self)
        self.actions_.bind(self.menus, self.toolbar)

        self.empty_state = EmptyStatePanel(self)
        background = self.settings.get("view/background", "#1e2126")
        self.view = SceneView(self, background=background, state=self.state)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.empty_state)
        self.stack.addWidget(self.view)
        self.setCentralWidget(self.stack)
        self.empty_state.set_recent(self.settings.recent_paths())

        self.jobs = JobRunner(
            self.statusBar(), self, self.empty_state, has_scene=lambda: self.document.scene is not None,
            recent_paths=self.settings.recent_paths, notify=self.notify, show_exception=self.show_exception,
            busy_changed=self._update_enabled)
        self.info_label = QLabel("", self)
        self.info_label.setObjectName("info_label")
        self.statusBar().addPermanentWidget(self.info_label)
        self.scenes = SceneOpening(self, self.document, self.settings, self.jobs, show_error=self.show_error,
                                   show_exception=self.show_exception, notify=self.notify)
        self.empty_state.open_folder_requested.connect(self.scenes.open_folder_dialog)
        self.empty_state.open_scene_requested.connect(self.scenes.open_scene_dialog)
        self.empty_state.open_sample_requested.connect(self.scenes.open_sample)
        self.empty_state.open_recent_requested.connect(self.scenes.open_path)
        self._build_panels()
        self.reclustering = Reclustering(
            self, self.document, self.jobs, self.clustering_panel, self.selection, push_edit=self.push_edit,
            show_exception=self.show_exception, show_summary=self._show_summary)
        build_window_actions(self)
        from viewer.batch_scans import install as install_scans_panel

        self.scans_panel = install_scans_panel(self)  # File > Open batch…, the Scans panel
        self.editing = EditingController(
            self, document=self.document, state=self.state, stack=self.undo_stack, view=self.view,
            actions=self.actions_, menus=self.menus, settings=self.settings, show_error=self.show_error,
            show_exception=self.show_exception, notify=self.notify,
            listed_instances=self.instances_panel.selected_ids)
        self.presentation = Presentation(self, self.view, self.state,
                                         [self.toolbar, self.menu_bar, self.statusBar()],
                                         lambda: self.document.scene is not None)
        self._connect()
        self._restore_window()
        self.apply_theme(self.settings.get("ui/theme", "system"))
        self._update_title()
        self._update_enabled()

    # ------------------------------------------------------------------------------ construction
    def _build_panels(self) -> None:
        self.display_panel = DisplayPanel(self.state, self)
        self.instances_panel = InstanceListPanel(self.state, self.edit_instance, self)
        self.instance_panel = InstanceDetailPanel(self.selection, self)
        self.images_panel = ImageBrowserPanel(self.selection, self)
        self.clustering_panel = ClusteringPanel(self.settings, self)
        self.history = HistoryPanel(self.undo_stack, self)
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        self.panels_menu = QMenu("&Panels", self)
        self.add_panel(self.display_panel, left, "Ctrl+1")
        self.add_panel(self.instances_panel, left, "Ctrl+2")
        self.add_panel(self.instance_panel, right, "Ctrl+3")
        self.add_panel(self.images_panel, right, "Ctrl+4")
        self.add_panel(self.clustering_panel, left, "Ctrl+5")
        self.add_panel(self.history, right)
        self.splitDockWidget(self.display_panel, self.instances_panel, Qt.Orientation.Vertical)
        self.splitDockWidget(self.instance_panel, self.images_panel, Qt.Orientation.Vertical)
        self.tabifyDockWidget(self.display_panel, self.clustering_panel)
        self.display_panel.raise_()
        self.instance_panel.raise_()

    def _connect(self) -> None:
        """Panels, view and state to each other and to the document (the window's wiring in one place)."""
        self.instances_panel.isolate_requested.connect(self.set_isolating)
        self.instance_panel.view_activated.connect(self.open_view)
        self.images_panel.view_changed.connect(lambda v: self.view.go_to_view(v))
        self.view.picked.connect(self._on_picked)
        self.view.visibility_changed.connect(self.display_panel.show_point_counts)
        self.selection.changed.connect(self._on_selection_changed)
        self.document.scene_changed.connect(self._on_scene_changed)
        self.document.modified_changed.connect(lambda _m: self._update_title())
        self.document.path_changed.connect(lambda _p: self._update_title())
        stack = self.undo_stack
        stack.applied.connect(self._on_edit_applied)  # bound methods only: the stack outlives the widgets
        stack.selection_requested.connect(self._restore_selection)
        stack.cleanChanged.connect(self._on_stack_moved)
        stack.indexChanged.connect(self._on_stack_moved)
        self.document.modified_changed.connect(self._on_modified_changed)

    @staticmethod
    def new_menu(parent: QMenuBar | QMenu, title: str) -> QMenu:
        menu = QMenu(title, parent)
        parent.addMenu(menu)
        return menu

    # --------------------------------------------------------- the window's API for panels and scripts
    @property
    def job(self) -> Job | None:
        """The running long job (None when idle)."""
        return self.jobs.job

    def run_job(self, job: Job, on_success: Callable[[Any], None], text: str, error_title: str) -> bool:
        """Run a long step with progress and Cancel in the status bar (see viewer.job_runner)."""
        return self.jobs.run(job, on_success, text, error_title)

    def open_path(self, path: Path | str) -> bool:
        """Open an image folder (reconstruct it) or a saved scene (see viewer.opening)."""
        return self.scenes.open_path(path)

    def open_sample(self) -> bool:
        return self.scenes.open_sample()

    # ------------------------------------------------------------------------------ scene wiring
    def _on_scene_changed(self, scene) -> None:
        was_modified = self.document.modified
        self.state.new_scene()
        self.undo_stack.set_scene(scene)
        if was_modified:  # e.g. a new reconstruction or a recovered autosave: not saved anywhere yet
            self.undo_stack.resetClean()
        if self._instances_scene is not None:
            self._instances_scene.events.instances.disconnect(self._on_instances_changed)
        self._instances_scene = scene
        if scene is not None:
            scene.events.instances.connect(self._on_instances_changed)
        self.reclustering.set_scene(scene)
        self.images = ViewImages(scene) if scene is not None else None
        self.view.set_scene(scene)
        self.instances_panel.set_scene(scene)
        self.instance_panel.set_scene(scene, self.images)
        self.images_panel.set_scene(scene, self.images)
        self.history.set_saved_history(scene.edit_log if scene is not None else ())
        self.stack.setCurrentWidget(self.view if scene is not None else self.empty_state)
        self.empty_state.set_recent(self.settings.recent_paths())
        self._show_summary()
        self._update_enabled()

    def _on_instances_changed(self) -> None:
        """Edits, undo and re-clustering change the instances: the selection and the summary follow."""
        scene = self.document.scene
        if scene is not None:
            self.state.keep_instances(scene.instances)
        self._show_summary()

    def _show_summary(self) -> None:
        self.info_label.setText(self._scene_summary(self.document.scene) if self.document.scene else "")

    def _on_picked(self, result: PickResult) -> None:
        if result.view is not None:
            self.images_panel.show_view(result.view, emit=False)
            name = self.document.scene.views[result.view].name
            self.notify(f"Looking through {name}", 4000)
            return
        self.selection.select(result.instance or None)
        if result.point >= 0 and not result.instance:
            self.notify("No instance at this point", 3000)

    def _on_selection_changed(self, instance_id: int | None) -> None:
        scene = self.document.scene
        if instance_id and scene is not None and instance_id in scene.instances:
            self.notify(f"Selected {scene.instances[instance_id].name}", 4000)
        self._update_enabled()

    def open_view(self, view: int) -> None:
        """Show photo ``view`` large with its masks and put the 3D camera where it was taken."""
        self.images_panel.show()
        self.images_panel.raise_()
        self.images_panel.show_view(view, emit=False)
        self.view.go_to_view(view)

    def show_history(self) -> None:
        self.history.show()
        self.history.raise_()

    def notify(self, message: str, ms: int = 4000) -> None:
        """A line in the status bar for ``ms`` milliseconds (0: until replaced; empty: clear it)."""
        if message:
            self.statusBar().showMessage(message, ms)
        else:
            self.statusBar().clearMessage()

    # ----------------------------------------------------------------------------------- edits
    def push_edit(self, edit, selection: tuple[int | None, int | None] | None = None) -> None:
        """Apply a prepared app.edits.Edit through the undo stack; ``selection`` (before, after): the
        instance to select after it (undo gives back the one before)."""
        if self.document.scene is not None:
            self.undo_stack.run(lambda _scene: edit, selection)

    def push_view(self, text: str, redo: Callable[[], None], undo: Callable[[], None]) -> None:
        """Record a view change that the scene does not store (undoable, but not an unsaved change)."""
        self.undo_stack.push_view(text, redo, undo)

    def edit_instance(self, instance_id: int, **fields: Any) -> None:
        """Rename / show / hide one instance from a panel; errors become a dialog."""
        from app import edits

        scene = self.document.scene
        if scene is None:
            return
        try:
            if "name" in fields:
                self.push_edit(edits.rename(scene, instance_id, fields.pop("name")))
            if "visible" in fields:
                self.push_edit(edits.set_visible(scene, [instance_id], fields.pop("visible")))
            if fields:
                scene.update_instance(instance_id, **fields)
        except Exception as exc:
            self.show_exception("Cannot change the instance", exc)

    def set_isolating(self, on: bool) -> None:
        """Isolate the selected instance (or show all again), recorded on the undo stack."""
        scene = self.document.scene
        on = bool(on)
        if scene is None or on == self.state.isolating:
            return
        iid = self.selection.instance
        name = scene.instances[iid].name if iid in scene.instances else "the selection"
        self.push_view(f"Isolate {name}" if on else "Show all instances",
                       lambda: self._set_isolation(on, iid), lambda: self._set_isolation(not on, iid))

    def _set_isolation(self, on: bool, instance_id: int | None) -> None:
        scene = self.document.scene
        if on and scene is not None and instance_id in scene.instances:
            self.selection.select(instance_id)
        self.state.isolating = on

    def _on_edit_applied(self, edit) -> None:
        self.notify(f"{edit.text} — Ctrl+Z undoes it", 6000)

    def _restore_selection(self, instance_id: int | None) -> None:
        scene = self.document.scene
        self.selection.select(instance_id if scene is not None and instance_id in scene.instances else None)

    def _on_stack_moved(self, *_args) -> None:
        """The document is modified when the stack is away from its saved point by an edit (isolating an
        instance is on the stack too, but changes nothing that is saved)."""
        if self.document.scene is not None:
            self.document.set_modified(self.undo_stack.scene_modified())
        self._show_summary()

    def _on_modified_changed(self, modified: bool) -> None:
        if not modified and self.document.scene is not None and not self.undo_stack.isClean():
            self.undo_stack.setClean()  # saved

    def _scene_summary(self, scene) -> str:
        return f"{scene.n_views} views · {scene.n_points:,} points · {len(scene.instances)} instances"

    def fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = self.settings.recent_paths()
        for p in paths:
            act = self.recent_menu.addAction(p)
            act.triggered.connect(lambda _c=False, p=p: self.scenes.open_path(p))
        if not paths:
            self.recent_menu.addAction("(none)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self.settings.clear_recent)

    def escape(self) -> None:
        if self.presentation.active:
            self.actions_["presentation"].setChecked(False)
        elif self.jobs.busy:
            self.jobs.cancel()
        else:
            self.selection.clear()

    # -------------------------------------------------------------------------------- misc actions
    def set_presentation_mode(self, on: bool) -> None:
        """Full screen, panels and bars hidden, slow orbit around the scene (viewer.presentation)."""
        self.presentation.set_active(bool(on))
        act = self.actions_["presentation"]
        if act.isChecked() != self.presentation.active:
            act.blockSignals(True)
            act.setChecked(self.presentation.active)
            act.blockSignals(False)

    @property
    def presenting(self) -> bool:
        return self.presentation.active

    def show_settings(self):
        from viewer.settings_dialog import SettingsDialog

        scene = self.document.scene
        dialog = SettingsDialog(self.settings, scene.n_views if scene is not None else None, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.applied.connect(self.clustering_panel.show_run_settings)
        dialog.open()
        self.settings_dialog = dialog
        return dialog

    def save_screenshot_dialog(self) -> None:
        start = str(Path(self.settings.get("paths/last_dir", str(Path.home()))) / "iggt-view.png")
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", start, "PNG images (*.png)")
        if path:
            if not path.lower().endswith(".png"):
                path += ".png"
            try:
                self.view.save_screenshot(path)
                self.notify(f"Saved {path}", 5000)
            except Exception as exc:
                self.show_exception("Cannot save the screenshot", exc)

    def show_about(self):
        return show_about(self)

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self.actions_.shortcuts(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def show_log(self) -> LogViewer:
        if self._log_viewer is None:
            self._log_viewer = LogViewer(self.log_path, self)
        self._log_viewer.reload()
        self._log_viewer.show()
        self._log_viewer.raise_()
        return self._log_viewer

    def _update_title(self) -> None:
        doc = self.document
        name = doc.display_name() if doc.scene is not None else ""
        self.setWindowTitle(f"{name}[*] — {APP_TITLE}" if name else APP_TITLE)
        self.setWindowModified(doc.modified)

    def _update_enabled(self) -> None:
        has_scene = self.document.scene is not None
        busy = self.jobs.busy
        for key in ("save", "save_as", "save_screenshot", "reset_view", "presentation"):
            self.actions_[key].setEnabled(has_scene)
        for key in ("open_folder", "open_scene", "open_sample", "rerun"):
            self.actions_[key].setEnabled(not busy)
        self.actions_["cancel_job"].setEnabled(busy)
        has_sel = has_scene and self.selection.instance is not None
        for key in ("rename", "toggle_visible", "isolate"):
            self.actions_[key].setEnabled(has_sel)

    # ---------------------------------------------------------------------------------- errors
    def show_error(self, title: str, message: str, details: str = "") -> ErrorDialog:
        log.warning("%s: %s", title, message)
        dialog = ErrorDialog(title, message, details, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _r, d=dialog: self._forget_dialog(d))
        self.error_dialogs.append(dialog)
        dialog.open()  # window-modal, never blocks the event loop
        return dialog

    def _forget_dialog(self, dialog: ErrorDialog) -> None:
        if dialog in self.error_dialogs:
            self.error_dialogs.remove(dialog)

    def show_exception(self, title: str, exc: BaseException) -> ErrorDialog:
        log.error("%s", title, exc_info=(type(exc), exc, exc.__traceback__))
        return self.show_error(title, user_message(exc), error_details(exc))

    # -------------------------------------------------------------------------------- drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.scenes.open_dropped(paths)

    # ---------------------------------------------------------------------------------- closing
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.scenes.maybe_save("closing"):
            event.ignore()
            return
        if self.presenting:
            self.set_presentation_mode(False)
        self.jobs.shutdown()
        self.editing.shutdown()  # saved or knowingly discarded: nothing to recover at the next start
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.view.shutdown()
        super().closeEvent(event)
