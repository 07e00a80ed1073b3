"""The main window: menus, toolbar, status bar with job progress, the 3D view (or the empty state)
and the dock panels, all wired to one Document (the Scene) and one Selection.

Extending it: register actions with ``window.actions_.add(ActionSpec(...), slot)`` (menus: file, edit,
view, run, help), add docks with ``window.add_panel(dock)``, and send scene edits (app.edits.Edit) through
``window.push_edit(edit)`` (view changes the scene does not store: ``window.push_view``) so an undo stack
can record them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMenuBar,
    QMessageBox,
    QProgressBar,
    QStackedWidget,
    QToolBar,
    QToolButton,
)

from app.paths import ICONS_DIR
from app.progress import Progress, format_seconds
from viewer import theme
from viewer.actions import ActionRegistry, ActionSpec
from viewer.colouring import COLOUR_MODES
from viewer.dialogs import (
    APP_TITLE,
    ErrorDialog,
    LogViewer,
    ShortcutsDialog,
    error_details,
    show_about,
    user_message,
)
from viewer.document import SCENE_SUFFIX, Document
from viewer.empty_state import EmptyStatePanel
from viewer.imagery import ViewImages
from viewer.panels.clustering import ClusteringPanel
from viewer.panels.display import DisplayPanel
from viewer.panels.instance_detail import InstanceDetailPanel
from viewer.panels.instances import InstanceListPanel
from viewer.panels.views import ImageBrowserPanel
from viewer.scene_view import PickResult, SceneView
from viewer.selection import Selection
from viewer.settings import AppSettings
from viewer.workers import Job

log = logging.getLogger(__name__)

MENUS = (("file", "&File"), ("edit", "&Edit"), ("view", "&View"), ("run", "&Reconstruct"), ("help", "&Help"))
ORBIT_DEG_PER_S = 8.0


class MainWindow(QMainWindow):
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
        self.document = Document(self)
        self.selection = Selection(self)
        self.images: ViewImages | None = None
        self.job: Job | None = None  # the current long job (reconstruct, open)
        self._restoring_isolation = False
        from app.clustering import ClusterCache

        self.cluster_cache = ClusterCache()  # re-clustering work that the settings do not change
        self._warmed_scene: object | None = None
        self._clustering_shown = False  # the Clustering panel is on screen (not a hidden tab)
        self._settings_scene = None  # the scene whose settings events the clustering panel follows
        self.jobs_started = 0
        self.last_job_outcome = ""  # "succeeded" | "failed" | "cancelled" (tests, status)
        self._presentation_state: dict[str, Any] | None = None

        # Menus are created in Python, never fetched from C++ (menuBar(), addMenu(str)): with VTK's GL
        # surfaces coming and going, shiboken can hand back a stale wrapper of another type for a
        # reused address (seen in CI as "QOffscreenSurface has no attribute addMenu").
        self.menu_bar = QMenuBar(self)
        self.setMenuBar(self.menu_bar)
        self.menus: dict[str, QMenu] = {key: self._new_menu(self.menu_bar, title) for key, title in MENUS}
        self.toolbar = QToolBar("Main toolbar", self)
        self.toolbar.setObjectName("main_toolbar")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)
        self.actions_ = ActionRegistry(self)
        self.actions_.bind(self.menus, self.toolbar)

        self.empty_state = EmptyStatePanel(self)
        self.view = SceneView(self, background=self.settings.get("view/background", "#1e2126"))
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.empty_state)
        self.stack.addWidget(self.view)
        self.setCentralWidget(self.stack)
        self.empty_state.open_folder_requested.connect(self.open_folder_dialog)
        self.empty_state.open_scene_requested.connect(self.open_scene_dialog)
        self.empty_state.open_sample_requested.connect(self.open_sample)
        self.empty_state.open_recent_requested.connect(self.open_path)
        self.empty_state.set_recent(self.settings.recent_paths())

        self._build_status_bar()
        self._build_panels()
        self._build_actions()
        from viewer.batch_scans import install as install_scans_panel

        self.scans_panel = install_scans_panel(self)  # File > Open batch…, the Scans panel
        self._orbit_timer = QTimer(self)
        self._orbit_timer.setInterval(40)
        self._orbit_timer.timeout.connect(self._orbit_step)
        self._orbit_clock = 0.0

        self.document.scene_changed.connect(self._on_scene_changed)
        self.document.modified_changed.connect(lambda _m: self._update_title())
        self.document.path_changed.connect(lambda _p: self._update_title())
        self.selection.changed.connect(self._on_selection_changed)
        self.view.picked.connect(self._on_picked)

        self._restore_window()
        self.apply_theme(self.settings.get("ui/theme", "system"))
        self._update_title()
        self._update_enabled()

    # ------------------------------------------------------------------------------ construction
    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.stage_label = QLabel("", self)
        self.stage_label.setObjectName("stage_label")
        self.progress = QProgressBar(self)
        self.progress.setObjectName("run_progress")
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(False)
        self.eta_label = QLabel("", self)
        self.eta_label.setObjectName("eta_label")
        self.cancel_button = QToolButton(self)
        self.cancel_button.setObjectName("cancel_button")
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop the running job; the current scene stays as it is (Esc)")
        self.cancel_button.clicked.connect(self.cancel_job)
        self.info_label = QLabel("", self)
        self.info_label.setObjectName("info_label")
        self._job_widgets = (self.stage_label, self.progress, self.eta_label, self.cancel_button)
        for w in self._job_widgets:
            bar.addPermanentWidget(w)
            w.setVisible(False)
        bar.addPermanentWidget(self.info_label)

    def _build_panels(self) -> None:
        self.display_panel = DisplayPanel(self.view, self.settings, self)
        self.instances_panel = InstanceListPanel(self.selection, self.edit_instance, self)
        self.instance_panel = InstanceDetailPanel(self.selection, self)
        self.images_panel = ImageBrowserPanel(self.selection, self)
        self.clustering_panel = ClusteringPanel(self.settings, self)
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        self.panels_menu = QMenu("&Panels", self)
        self.add_panel(self.display_panel, left, "Ctrl+1")
        self.add_panel(self.instances_panel, left, "Ctrl+2")
        self.add_panel(self.instance_panel, right, "Ctrl+3")
        self.add_panel(self.images_panel, right, "Ctrl+4")
        self.add_panel(self.clustering_panel, left, "Ctrl+5")
        self.splitDockWidget(self.display_panel, self.instances_panel, Qt.Orientation.Vertical)
        self.splitDockWidget(self.instance_panel, self.images_panel, Qt.Orientation.Vertical)
        self.tabifyDockWidget(self.display_panel, self.clustering_panel)
        self.display_panel.raise_()
        self.clustering_panel.recluster_requested.connect(self.recluster)
        self.clustering_panel.visibilityChanged.connect(self._on_clustering_panel_shown)
        self.instances_panel.isolate_requested.connect(self.view.set_isolated)
        self.instances_panel.isolate_requested.connect(lambda _ids: self.display_panel.refresh())
        self.instance_panel.view_activated.connect(self.open_view)
        self.images_panel.view_changed.connect(lambda v: self.view.go_to_view(v))
        self.view.rendered.connect(self._on_rendered)

    @staticmethod
    def _new_menu(parent: QMenuBar | QMenu, title: str) -> QMenu:
        menu = QMenu(title, parent)
        parent.addMenu(menu)
        return menu

    def _build_actions(self) -> None:
        add = self.actions_.add
        S = ActionSpec
        add(S("open_folder", "Open image &folder…", "mdi6.folder-image", "Ctrl+O",
              "Reconstruct a folder of photos", menu="file", toolbar=True), self.open_folder_dialog)
        add(S("open_scene", "Open &scene…", "mdi6.folder-open", "Ctrl+Shift+O",
              "Open a saved .iggt scene", menu="file", toolbar=True), self.open_scene_dialog)
        self.recent_menu = self._new_menu(self.menus["file"], "Open &recent")
        self.recent_menu.setObjectName("recent_menu")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        add(S("open_sample", "Open sample &room", "mdi6.home", None,
              "Reconstruct the bundled sample room", menu="file"), self.open_sample)
        self.menus["file"].addSeparator()
        add(S("save", "&Save", "mdi6.content-save", QKeySequence.StandardKey.Save, "Save the scene",
              menu="file", toolbar=True), self.save)
        add(S("save_as", "Save &as…", "mdi6.content-save-edit", QKeySequence.StandardKey.SaveAs,
              "Save the scene to a new file", menu="file"), self.save_as)
        add(S("save_screenshot", "Save scree&nshot…", "mdi6.camera", "Ctrl+P",
              "Save the 3D view as a PNG image", menu="file", toolbar=True), self.save_screenshot_dialog)
        self.menus["file"].addSeparator()
        add(S("quit", "&Quit", "mdi6.exit-to-app", QKeySequence.StandardKey.Quit, menu="file"), self.close)

        add(S("rename", "&Rename instance", "mdi6.rename-box", "F2", "Rename the selected instance",
              menu="edit"), self.instances_panel.rename_selected)
        add(S("toggle_visible", "Show/&hide instance", "mdi6.eye", "H", "Show or hide the selected instance",
              menu="edit"), self.instances_panel.toggle_selected_visibility)
        add(S("isolate", "&Isolate instance", "mdi6.image-filter-center-focus", "I",
              "Show only the selected instance", menu="edit", checkable=True),
            self.instances_panel.isolate_button.setChecked)
        self.instances_panel.isolate_button.toggled.connect(self._sync_isolate_action)
        self.instances_panel.isolate_button.toggled.connect(self._on_isolate_toggled)
        add(S("clear_selection", "&Clear selection", None, "Escape", "Clear the selection or cancel the job",
              menu="edit"), self.escape)
        self.menus["edit"].addSeparator()

        add(S("reset_view", "&Reset view", "mdi6.fit-to-screen", "R", "Fit the whole scene in the view",
              menu="view", toolbar=True), self.view.reset_view)
        add(S("orthographic", "&Orthographic", "mdi6.perspective-less", "O", "Toggle orthographic projection",
              menu="view", toolbar=True, checkable=True), self.view.set_parallel_projection)
        add(S("cameras", "Show &cameras", "mdi6.camera-outline", "C", "Show the photo cameras",
              menu="view", toolbar=True, checkable=True), self.display_panel.frustums.setChecked)
        self.actions_["cameras"].setChecked(self.display_panel.frustums.isChecked())
        self.display_panel.frustums.toggled.connect(self.actions_["cameras"].setChecked)
        add(S("axes", "&Axes", "mdi6.axis-arrow", "A", "Show the orientation axes", menu="view",
              checkable=True), self.view.set_axes_visible)
        add(S("grid", "&Grid", "mdi6.grid", "G", "Show a grid with distances", menu="view", checkable=True),
            self.display_panel.grid.setChecked)
        colour_menu = self._new_menu(self.menus["view"], "&Colour by")
        for n, (mode, label) in enumerate(COLOUR_MODES.items(), start=1):
            spec = S(f"colour_{mode}", label, None, str(n), f"Colour the points by {label.lower()}")
            act = self.actions_.add(spec, lambda m=mode: self.display_panel.set_colour_mode(m))
            colour_menu.addAction(act)
        add(S("background", "&Background colour…", "mdi6.palette", None, "Choose the 3D background colour",
              menu="view"), self.choose_background)
        self.theme_menu = self._new_menu(self.menus["view"], "&Theme")
        for name in theme.THEMES:
            act = self.theme_menu.addAction(name.capitalize())
            act.setObjectName(f"action_theme_{name}")
            act.setCheckable(True)
            act.triggered.connect(lambda _c=False, n=name: self.set_theme(n))
        self.menus["view"].addSeparator()
        add(S("presentation", "&Presentation mode", "mdi6.presentation-play", "F11",
              "Full screen, panels hidden, slow orbit (Esc or F11 to leave)", menu="view", toolbar=True,
              checkable=True), self.set_presentation_mode)
        self.menus["view"].addMenu(self.panels_menu)

        add(S("rerun", "Reconstruct &again", "mdi6.play", "F5",
              "Run the reconstruction of the current photo folder again (after changing settings)",
              menu="run", toolbar=True), self.rerun)
        add(S("cancel_job", "&Cancel", "mdi6.stop", None, "Stop the running job", menu="run"),
            self.cancel_job)
        self.menus["run"].addSeparator()
        add(S("settings", "&Settings…", "mdi6.cog", "Ctrl+,", "Weights, device, image size, clustering",
              menu="run", toolbar=True), self.show_settings)

        add(S("shortcuts", "&Keyboard shortcuts", "mdi6.keyboard", "F1", "List the keyboard shortcuts",
              menu="help"), self.show_shortcuts)
        add(S("show_log", "Show &log", "mdi6.file-document-outline", None, "Show the application log",
              menu="help"), self.show_log)
        self.menus["help"].addSeparator()
        add(S("about", "&About IGGT Viewer", "mdi6.information-outline", None, "About this application",
              menu="help"), self.show_about)

    def add_panel(self, dock: QDockWidget, area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea,
                  shortcut: str | None = None) -> QDockWidget:
        """Dock a panel and list it under View > Panels (panels must have a unique objectName)."""
        if not dock.objectName():
            raise ValueError("dock panels need an objectName so their state can be restored")
        self.addDockWidget(area, dock)
        toggle = dock.toggleViewAction()
        if shortcut:
            toggle.setShortcut(QKeySequence(shortcut))
        self.panels_menu.addAction(toggle)
        return dock

    def _restore_window(self) -> None:
        geometry = self.settings.window_geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            screen = QApplication.primaryScreen()
            avail = screen.availableGeometry() if screen else None
            w, h = (1400, 900) if avail is None else (min(1400, avail.width()), min(900, avail.height()))
            self.resize(w, h)
        self.restore_layout()

    def restore_layout(self) -> None:
        """Restore the saved dock/toolbar layout (again after feature panels have been added)."""
        state = self.settings.window_state()
        if state is None or not self.restoreState(state):
            self.resizeDocks([self.display_panel, self.instance_panel], [330, 400], Qt.Orientation.Horizontal)
            self.resizeDocks([self.display_panel, self.instances_panel], [200, 600], Qt.Orientation.Vertical)

    # ------------------------------------------------------------------------------------ theme
    def apply_theme(self, name: str) -> None:
        app = QApplication.instance()
        dark = theme.apply_theme(app, name) if app is not None else False
        color = theme.icon_color(dark)
        self.actions_.set_icon_color(color)
        self.empty_state.set_icon_color(color)
        for act in self.theme_menu.actions():
            act.setChecked(act.objectName() == f"action_theme_{name}")
        self.dark = dark

    def set_theme(self, name: str) -> None:
        self.settings.set("ui/theme", name)
        self.apply_theme(name)

    # ------------------------------------------------------------------------------ scene wiring
    def _on_scene_changed(self, scene) -> None:
        self.selection.clear()
        self.cluster_cache.clear()
        self._warmed_scene = None
        if self._settings_scene is not None:
            self._settings_scene.events.settings.disconnect(self._on_scene_settings)
        self._settings_scene = scene
        if scene is not None:
            scene.events.settings.connect(self._on_scene_settings)
            self._on_scene_settings()
        if self._clustering_shown:
            self.warm_up_clustering()
        elif scene is not None:
            _preload_clustering_modules()
        self.images = ViewImages(scene) if scene is not None else None
        self.view.set_scene(scene)
        self.instances_panel.set_scene(scene)
        self._sync_isolate_action(False)
        self.instance_panel.set_scene(scene, self.images)
        self.images_panel.set_scene(scene, self.images)
        self.display_panel.refresh()
        self.stack.setCurrentWidget(self.view if scene is not None else self.empty_state)
        self.empty_state.set_recent(self.settings.recent_paths())
        self.info_label.setText(self._scene_summary(scene) if scene is not None else "")
        self.clustering_panel.setEnabled(scene is not None)
        self._update_enabled()

    def _on_picked(self, result: PickResult) -> None:
        if result.view is not None:
            self.images_panel.show_view(result.view, emit=False)
            name = self.document.scene.views[result.view].name
            self.statusBar().showMessage(f"Looking through {name}", 4000)
            return
        self.selection.select(result.instance or None)
        if result.point >= 0 and not result.instance:
            self.statusBar().showMessage("No instance at this point", 3000)

    def _on_selection_changed(self, instance_id: int | None) -> None:
        self.view.set_selection(instance_id)
        scene = self.document.scene
        if instance_id and scene is not None and instance_id in scene.instances:
            self.statusBar().showMessage(f"Selected {scene.instances[instance_id].name}", 4000)
        self._update_enabled()

    def _sync_isolate_action(self, on: bool) -> None:
        act = self.actions_["isolate"]
        if act.isChecked() != on:
            act.blockSignals(True)
            act.setChecked(on)
            act.blockSignals(False)

    def open_view(self, view: int) -> None:
        """Show photo ``view`` large with its masks and put the 3D camera where it was taken."""
        self.images_panel.show()
        self.images_panel.raise_()
        self.images_panel.show_view(view, emit=False)
        self.view.go_to_view(view)

    # ----------------------------------------------------------------------------------- edits
    def push_edit(self, edit, selection: tuple[int | None, int | None] | None = None) -> None:
        """Apply a prepared app.edits.Edit (the undo feature replaces this to record it); ``selection``
        (before, after): the instance to select after it (undo gives back the one before)."""
        edit.apply(self.document.scene)
        if selection is not None:
            scene = self.document.scene
            self.selection.select(selection[1] if selection[1] in scene.instances else None)

    def push_view(self, text: str, redo: Callable[[], None], undo: Callable[[], None]) -> None:
        """Make a view change that the scene does not store (the undo feature replaces this to record it)."""
        redo()

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

    def _on_isolate_toggled(self, on: bool) -> None:
        """Record isolating (or showing all again) on the undo stack."""
        if self._restoring_isolation:
            return
        scene = self.document.scene
        iid = self.selection.instance
        if scene is None:
            return
        name = scene.instances[iid].name if iid in scene.instances else "the selection"
        self.push_view(f"Isolate {name}" if on else "Show all instances",
                       lambda: self._set_isolation(on, iid), lambda: self._set_isolation(not on, iid))

    def _set_isolation(self, on: bool, instance_id: int | None) -> None:
        """Isolate ``instance_id`` (selecting it) or show everything again, without recording it."""
        self._restoring_isolation = True
        try:
            scene = self.document.scene
            if on and scene is not None and instance_id in scene.instances:
                self.selection.select(instance_id)
            self.instances_panel.isolate_button.setChecked(on)
        finally:
            self._restoring_isolation = False

    # ---------------------------------------------------------------------------------- opening
    def open_folder_dialog(self) -> None:
        start = self.settings.get("paths/last_dir", str(Path.home()))
        folder = QFileDialog.getExistingDirectory(self, "Open image folder", start)
        if folder:
            self.open_path(Path(folder))

    def open_scene_dialog(self) -> None:
        start = self.settings.get("paths/last_dir", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open scene", start, f"IGGT scenes (*{SCENE_SUFFIX})")
        if path:
            self.open_path(Path(path))

    def open_sample(self) -> bool:
        from viewer.pipeline import sample_images_folder

        try:
            folder = sample_images_folder()
        except Exception as exc:
            self.show_exception("Sample room", exc)
            return False
        return self.open_path(folder)

    def open_path(self, path: Path | str) -> bool:
        """Open an image folder (reconstruct it) or a saved scene; errors go to a dialog."""
        path = Path(path).expanduser()
        if not path.exists():
            self.show_error("Cannot open", f"{path} does not exist.")
            return False
        if not self.maybe_save("opening another scene"):
            return False
        self.settings.set("paths/last_dir", str(path.parent if path.is_file() else path))
        if path.is_dir():
            return self.start_reconstruction(path)
        if path.suffix.lower() == SCENE_SUFFIX:
            return self.load_scene(path)
        from app.images import IMAGE_SUFFIXES

        if path.suffix.lower() in IMAGE_SUFFIXES:
            return self.start_reconstruction(path.parent)
        self.show_error("Cannot open", f"{path.name} is neither an image folder nor an {SCENE_SUFFIX} scene.")
        return False

    def load_scene(self, path: Path) -> bool:
        from app.scene_io import load_scene

        def factory(_cancelled):
            yield Progress("loading", f"reading {path.name}", 0.0, 0.0)
            return load_scene(path)

        def done(scene) -> None:
            self.document.set_scene(scene, path=path)
            self.settings.add_recent(path)
            for warning in getattr(scene, "load_warnings", []):
                log.warning("%s: %s", path.name, warning)
            if getattr(scene, "load_warnings", None):
                self.show_error("Scene opened with warnings", "\n".join(scene.load_warnings[:8]))

        return self.run_job(Job("open", factory, self), done, f"Opening {path.name}", "Cannot open the scene")

    def start_reconstruction(self, folder: Path) -> bool:
        from viewer.pipeline import check_image_folder, reconstruction_factory
        from viewer.run_settings import RunSettings

        run = RunSettings.load(self.settings)
        try:
            check_image_folder(folder)
            factory = reconstruction_factory(folder, run)
        except Exception as exc:
            self.show_exception("Cannot reconstruct", exc)
            return False

        def done(scene) -> None:
            self._remember_timing(scene)
            self.document.set_scene(scene, path=None, source=folder, modified=True)
            self.settings.add_recent(folder)
            notes = scene.settings.get("notes") or []
            skipped = [f"{Path(s['file']).name}: {s['reason']}"
                       for s in scene.settings.get("skipped_files", []) if s.get("bad")]
            if skipped:
                self.show_error("Some photos were skipped", "\n".join(skipped[:10]))
            for note in notes:
                log.info("reconstruction note: %s", note)

        text = f"Reconstructing {folder.name}"
        eta = self._expected_run_seconds(folder, run)
        if eta is not None:
            text += f" (about {format_seconds(eta)} on {run.device})"
        return self.run_job(Job("reconstruct", factory, self), done, text, "Reconstruction failed")

    def _expected_run_seconds(self, folder: Path, run) -> float | None:
        """Time of the network pass from the last run's speed on this device (None before a first run)."""
        from viewer.pipeline import check_image_folder, run_input_size, seconds_per_mpx

        rate = seconds_per_mpx(self.settings, run.device)
        if not rate:
            return None
        n = min(check_image_folder(folder), int(run.max_views))
        h, w = run_input_size(run)
        return rate * n * h * w / 1e6

    def _remember_timing(self, scene) -> None:
        from viewer.pipeline import remember_timing

        remember_timing(self.settings, scene)

    def rerun(self) -> bool:
        source = self.document.source or (Path(self.document.scene.views[0].path).parent
                                          if self.document.scene is not None and self.document.scene.views
                                          else None)
        if source is None or not source.is_dir():
            self.show_error("Cannot reconstruct again", "The photo folder of this scene is not available.")
            return False
        if not self.maybe_save("reconstructing again"):
            return False
        return self.start_reconstruction(source)

    def show_settings(self):
        from viewer.settings_dialog import SettingsDialog

        n_views = None
        scene = self.document.scene
        if scene is not None:
            n_views = scene.n_views
        dialog = SettingsDialog(self.settings, n_views, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.applied.connect(self._on_settings_applied)
        dialog.open()
        self.settings_dialog = dialog
        return dialog

    def _on_settings_applied(self, run) -> None:
        self.clustering_panel.show_run_settings(run)

    def recluster(self, run) -> bool:
        """Re-cluster the shown scene's stored features with ``run``'s clustering settings.

        The worker only computes (app.reconstruct.iter_recluster reads a snapshot of the scene's arrays);
        the result is applied here, on the GUI thread, as one undoable edit. A cache kept per scene makes
        every re-clustering after the first one skip the work that does not depend on the settings."""
        from app.edits import EditError
        from viewer.pipeline import recluster_factory

        scene = self.document.scene
        if scene is None:
            return False
        if self.job is not None:
            if self.job.name != "recluster":
                self.clustering_panel.show_message("Busy: wait for the running job to finish.")
                return False
            self.job.cancel()  # the newest settings win
        try:
            factory = recluster_factory(scene, run, self.cluster_cache)
        except Exception as exc:
            self.show_exception("Cannot re-cluster", exc)
            self.clustering_panel.show_message("")
            return False
        started = time.monotonic()

        def done(result) -> None:
            if self.document.scene is not scene:
                return  # another scene was opened meanwhile
            selected = self.selection.instance
            try:
                edit = result.edit(scene)
            except EditError as exc:  # the scene was edited meanwhile, or a locked instance would change
                self.clustering_panel.show_message(f"Not applied: {exc}")
                return
            kept = selected if selected is not None and selected in result.stats else None
            self.push_edit(edit, (selected, kept))
            self.clustering_panel.show_result(len(scene.instances), time.monotonic() - started)
            self.info_label.setText(self._scene_summary(scene))
            log.info("re-clustered in %.2f s (%s)", time.monotonic() - started,
                     ", ".join(f"{k} {v:.2f}" for k, v in result.timings.items()))

        return self.run_job(Job("recluster", factory, self), done, "Re-clustering", "Re-clustering failed")

    def _on_scene_settings(self) -> None:
        """The clustering panel shows what the scene is clustered with (also after undo/redo)."""
        scene = self.document.scene
        if scene is not None:
            self.clustering_panel.show_scene_settings(scene.settings.get("cluster"), len(scene.instances))

    def _on_clustering_panel_shown(self, shown: bool) -> None:
        self._clustering_shown = bool(shown)  # isVisible() is also True for a dock behind another tab
        if shown:
            self.warm_up_clustering()

    def warm_up_clustering(self) -> None:
        """While the Clustering panel is shown, do the re-clustering work that no setting changes (the
        sample, its smoothing, HDBSCAN's tree, the cross-view correspondences) in a background thread, so
        that the first preset or slider change is as fast as the later ones. A re-clustering started meanwhile
        waits for it and then reuses its work."""
        import threading

        from app.reconstruct import ReclusterSource, prepare_recluster
        from viewer.pipeline import cluster_config

        scene = self.document.scene
        if scene is None or self._warmed_scene is scene:
            return
        self._warmed_scene = scene
        try:
            config = cluster_config(self.clustering_panel.current_settings())
            config.validate()
        except Exception:  # bad stored settings: the re-clustering itself reports them
            return
        source, cache = ReclusterSource.of(scene), self.cluster_cache

        def work() -> None:
            try:
                prepare_recluster(source, config, cache)
            except Exception:
                log.debug("clustering warm-up failed", exc_info=True)

        threading.Thread(target=work, name="clustering-warm-up", daemon=True).start()

    def _scene_summary(self, scene) -> str:
        return f"{scene.n_views} views · {scene.n_points:,} points · {len(scene.instances)} instances"

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = self.settings.recent_paths()
        for p in paths:
            act = self.recent_menu.addAction(p)
            act.triggered.connect(lambda _c=False, p=p: self.open_path(p))
        if not paths:
            self.recent_menu.addAction("(none)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self.settings.clear_recent)

    # ------------------------------------------------------------------------------------- jobs
    def run_job(self, job: Job, on_success: Callable[[Any], None], text: str, error_title: str) -> bool:
        """Start a long job with progress, ETA and Cancel in the status bar (one at a time)."""
        if self.job is not None:
            self.show_error("Busy", f"Wait for “{self.job.name}” to finish or cancel it first.")
            return False
        self.job = job
        self.jobs_started += 1

        def succeeded(result) -> None:
            try:
                on_success(result)
                self.last_job_outcome = "succeeded"
            except Exception as exc:
                self.last_job_outcome = "failed"
                self.show_exception(error_title, exc)

        def failed(exc) -> None:
            self.last_job_outcome = "failed"
            self.show_exception(error_title, exc)

        def cancelled() -> None:
            self.last_job_outcome = "cancelled"
            kept = "the previous scene is unchanged" if self.document.scene is not None else "nothing changed"
            self.statusBar().showMessage(f"Cancelled — {kept}", 6000)

        job.progress.connect(self._on_progress)
        job.succeeded.connect(succeeded)
        job.failed.connect(failed)
        job.cancelled.connect(cancelled)
        job.done.connect(self._on_job_done)
        self.stage_label.setText(text)
        self.progress.setValue(0)
        self.eta_label.setText("")
        for w in self._job_widgets:
            w.setVisible(True)
        self._update_enabled()
        log.info("job %s started: %s", job.name, text)
        job.start()
        return True

    def _on_progress(self, event) -> None:
        if not isinstance(event, Progress):
            return
        self.progress.setValue(int(event.fraction * 1000))
        self.stage_label.setText(event.message)
        self.eta_label.setText("" if event.eta_s is None else f"ETA {format_seconds(event.eta_s)}")

    def _on_job_done(self) -> None:
        job, self.job = self.job, None
        for w in self._job_widgets:
            w.setVisible(False)
        if job is not None:
            log.info("job %s ended (%s) after %.1fs", job.name, self.last_job_outcome,
                     time.monotonic() - job.started_at)
        self._update_enabled()

    def cancel_job(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def escape(self) -> None:
        if self._presentation_state is not None:
            self.actions_["presentation"].setChecked(False)
        elif self.job is not None:
            self.cancel_job()
        else:
            self.selection.clear()

    # ------------------------------------------------------------------------------------ saving
    def save(self) -> bool:
        if self.document.scene is None:
            return False
        if self.document.path is None:
            return self.save_as()
        return self._save_to(self.document.path)

    def save_as(self) -> bool:
        if self.document.scene is None:
            return False
        from viewer.export_dialog import writable_folder  # never the read-only photo folder

        folder = writable_folder(Path(self.settings.get("paths/last_dir", str(Path.home()))))
        start = self.document.path or folder / (
            (self.document.source.name if self.document.source else "scene") + SCENE_SUFFIX)
        path, _ = QFileDialog.getSaveFileName(self, "Save scene", str(start),
                                              f"IGGT scenes (*{SCENE_SUFFIX})")
        return bool(path) and self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            written = self.document.save(path)
        except Exception as exc:
            self.show_exception("Cannot save the scene", exc)
            return False
        finally:
            QApplication.restoreOverrideCursor()
        self.settings.add_recent(written)
        self.statusBar().showMessage(f"Saved {written}", 5000)
        return True

    def maybe_save(self, why: str = "closing") -> bool:
        """Ask about unsaved changes; False when the user cancels."""
        if self.document.scene is None or not self.document.modified:
            return True
        box = QMessageBox(QMessageBox.Icon.Question, "Unsaved changes",
                          f"Save the changes to {self.document.display_name()} before {why}?",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("unsaved_dialog")
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    # -------------------------------------------------------------------------------- misc actions
    def save_screenshot_dialog(self) -> None:
        start = str(Path(self.settings.get("paths/last_dir", str(Path.home()))) / "iggt-view.png")
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", start, "PNG images (*.png)")
        if path:
            if not path.lower().endswith(".png"):
                path += ".png"
            try:
                self.view.save_screenshot(path)
                self.statusBar().showMessage(f"Saved {path}", 5000)
            except Exception as exc:
                self.show_exception("Cannot save the screenshot", exc)

    def choose_background(self) -> None:
        from PySide6.QtGui import QColor
        from PySide6.QtWidgets import QColorDialog

        color = QColorDialog.getColor(QColor(self.view.background()), self, "Background colour")
        if color.isValid():
            self.view.set_background(color.name())
            self.settings.set("view/background", color.name())

    def set_presentation_mode(self, on: bool) -> None:
        """Full screen, panels and bars hidden, slow orbit around the scene."""
        if on and self._presentation_state is None:
            self._presentation_state = {
                "state": self.saveState(), "maximized": self.isMaximized(), "geometry": self.saveGeometry(),
            }
            self._presentation_state["frustums"] = self.view.frustums_visible
            self.view.set_selection(None)
            self.view.set_frustums_visible(False)
            self.view.reset_view()
            for dock in self.findChildren(QDockWidget):
                dock.hide()
            self.toolbar.hide()
            self.menu_bar.hide()
            self.statusBar().hide()
            self.showFullScreen()
            self._orbit_clock = time.monotonic()
            self._orbit_timer.start()
        elif not on and self._presentation_state is not None:
            state, self._presentation_state = self._presentation_state, None
            self._orbit_timer.stop()
            self.showNormal()
            self.restoreGeometry(state["geometry"])
            self.menu_bar.show()
            self.statusBar().show()
            self.restoreState(state["state"])
            self.view.set_frustums_visible(state["frustums"])
            self.view.set_selection(self.selection.instance)
            if state["maximized"]:
                self.showMaximized()
        act = self.actions_["presentation"]
        if act.isChecked() != on:
            act.blockSignals(True)
            act.setChecked(on)
            act.blockSignals(False)

    @property
    def presenting(self) -> bool:
        return self._presentation_state is not None

    def _orbit_step(self) -> None:
        now = time.monotonic()
        dt, self._orbit_clock = now - self._orbit_clock, now
        if self.document.scene is not None:
            self.view.orbit(ORBIT_DEG_PER_S * min(dt, 0.5))

    def _on_rendered(self, seconds: float) -> None:
        # slow software renderers: orbit less often rather than pile up frames
        if self._orbit_timer.isActive():
            self._orbit_timer.setInterval(max(40, int(seconds * 1000 * 1.5)))

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
        busy = self.job is not None
        for key in ("save", "save_as", "save_screenshot", "reset_view", "presentation"):
            self.actions_[key].setEnabled(has_scene)
        for key in ("open_folder", "open_scene", "open_sample", "rerun"):
            self.actions_[key].setEnabled(not busy)
        self.actions_["cancel_job"].setEnabled(busy)
        has_sel = has_scene and self.selection.instance is not None
        for key in ("rename", "toggle_visible", "isolate"):
            self.actions_[key].setEnabled(has_sel)

    # -------------------------------------------------------------------------------- drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:
            return
        event.acceptProposedAction()
        self.open_dropped(paths)

    def open_dropped(self, paths: list[Path]) -> None:
        """One folder or scene opens as such; several image files open their common folder."""
        if len(paths) == 1:
            self.open_path(paths[0])
            return
        parents = {p.parent for p in paths}
        if len(parents) == 1:
            self.open_path(parents.pop())
        else:
            self.show_error("Cannot open", "Drop one folder, one scene file, or images from a single folder.")

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

    # ---------------------------------------------------------------------------------- closing
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.maybe_save("closing"):
            event.ignore()
            return
        if self.presenting:
            self.set_presentation_mode(False)
        if self.job is not None:
            self.job.cancel()
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.view.shutdown()
        super().closeEvent(event)


_preloaded = False


def _preload_clustering_modules() -> None:
    """Import HDBSCAN (with scikit-learn, ~1 s) in the background once a scene is open, so that the
    first re-clustering does not wait for it."""
    global _preloaded
    if _preloaded:
        return
    _preloaded = True
    import contextlib
    import threading

    def work() -> None:
        with contextlib.suppress(ImportError):  # reported by the re-clustering itself
            import hdbscan  # noqa: F401

    threading.Thread(target=work, name="preload-hdbscan", daemon=True).start()
