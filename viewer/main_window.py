"""The main window: menus, toolbar, status bar, the 3D view or the empty state, and dock panels."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QProgressBar,
    QStackedWidget,
    QToolBar,
    QToolButton,
)

from app.paths import ICONS_DIR
from viewer import theme
from viewer.actions import ActionRegistry, ActionSpec
from viewer.dialogs import APP_TITLE, ErrorDialog, LogViewer, ShortcutsDialog, error_details, show_about
from viewer.empty_state import EmptyStatePanel
from viewer.scene_view import SceneView
from viewer.settings import AppSettings

log = logging.getLogger(__name__)

SCENE_SUFFIX = ".iggt"
MENUS = (("file", "&File"), ("edit", "&Edit"), ("view", "&View"), ("help", "&Help"))


class MainWindow(QMainWindow):
    def __init__(self, settings: AppSettings, log_path: Path | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.log_path = log_path
        self.setObjectName("main_window")
        self.setWindowTitle(APP_TITLE)
        icon_file = ICONS_DIR / "iggt-viewer.svg"
        if icon_file.exists():
            self.setWindowIcon(QIcon(str(icon_file)))
        self.setAcceptDrops(True)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks
            | QMainWindow.DockOption.AllowTabbedDocks
            | QMainWindow.DockOption.AllowNestedDocks
        )
        self.error_dialogs: list[ErrorDialog] = []  # kept for tests and so dialogs stay alive
        self._log_viewer: LogViewer | None = None

        self.menus: dict[str, QMenu] = {key: self.menuBar().addMenu(title) for key, title in MENUS}
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

        self._build_status_bar()
        self._build_actions()
        self._restore_window()
        self.apply_theme(self.settings.get("ui/theme", "system"))

    # construction -------------------------------------------------------------------------------
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
        self.cancel_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.info_label = QLabel("", self)
        self.info_label.setObjectName("info_label")
        for w in (self.stage_label, self.progress, self.eta_label, self.cancel_button):
            bar.addPermanentWidget(w)
            w.setVisible(False)
        bar.addPermanentWidget(self.info_label)

    def _build_actions(self) -> None:
        add = self.actions_.add
        S = ActionSpec
        add(S("open_folder", "Open image &folder…", "mdi6.folder-image", "Ctrl+O",
              "Reconstruct a folder of photos", menu="file", toolbar=True), self.open_folder_dialog)
        add(S("open_scene", "Open &scene…", "mdi6.folder-open", "Ctrl+Shift+O",
              "Open a saved .iggt scene", menu="file", toolbar=True), self.open_scene_dialog)
        self.recent_menu = self.menus["file"].addMenu("Open &recent")
        self.recent_menu.setObjectName("recent_menu")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        add(S("open_sample", "Open sample &room", "mdi6.home", None,
              "Reconstruct the bundled sample room", menu="file"), self.open_sample)
        self.menus["file"].addSeparator()
        add(S("save_screenshot", "Save scree&nshot…", "mdi6.camera", "Ctrl+P",
              "Save the 3D view as a PNG image", menu="file", toolbar=True), self.save_screenshot_dialog)
        self.menus["file"].addSeparator()
        add(S("quit", "&Quit", "mdi6.exit-to-app", QKeySequence.StandardKey.Quit, menu="file"), self.close)

        add(S("reset_view", "&Reset view", "mdi6.fit-to-screen", "R", "Fit the whole scene in the view",
              menu="view", toolbar=True), self.view.reset_view)
        add(S("orthographic", "&Orthographic", "mdi6.perspective-less", "O", "Toggle orthographic projection",
              menu="view", toolbar=True, checkable=True), self.view.set_parallel_projection)
        add(S("axes", "&Axes", "mdi6.axis-arrow", "A", "Show the orientation axes", menu="view",
              checkable=True), self.view.set_axes_visible)
        add(S("background", "&Background colour…", "mdi6.palette", None, "Choose the 3D background colour",
              menu="view"), self.choose_background)
        self.theme_menu = self.menus["view"].addMenu("&Theme")
        for name in theme.THEMES:
            act = self.theme_menu.addAction(name.capitalize())
            act.setObjectName(f"action_theme_{name}")
            act.setCheckable(True)
            act.triggered.connect(lambda _c=False, n=name: self.set_theme(n))
        self.menus["view"].addSeparator()
        self.panels_menu = self.menus["view"].addMenu("&Panels")

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

    def restore_state(self) -> None:
        """Restore toolbar/dock layout; call after all panels are added."""
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state)

    # theme --------------------------------------------------------------------------------------
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

    # opening ------------------------------------------------------------------------------------
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

    def open_sample(self) -> None:
        self.show_error("Sample room", "The bundled sample room is not available yet.")

    def open_path(self, path: Path | str) -> bool:
        """Open an image folder (reconstruct it) or a saved scene; errors go to a dialog."""
        path = Path(path).expanduser()
        if not path.exists():
            self.show_error("Cannot open", f"{path} does not exist.")
            return False
        self.settings.set("paths/last_dir", str(path.parent if path.is_file() else path))
        self.show_error("Cannot open", f"Opening {path.name} is not available yet.")
        return False

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

    # drag and drop ------------------------------------------------------------------------------
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

    # misc actions -------------------------------------------------------------------------------
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

    # errors -------------------------------------------------------------------------------------
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
        from viewer.dialogs import user_message

        log.error("%s", title, exc_info=(type(exc), exc, exc.__traceback__))
        return self.show_error(title, user_message(exc), error_details(exc))

    # closing ------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.view.shutdown()
        super().closeEvent(event)
