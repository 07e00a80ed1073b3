"""Where the main window's panels go and how it looks: docking, the default layout for the screen it is
on, themes, the 3D background. ``WindowLayout`` is part of ``viewer.main_window.MainWindow``."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QDockWidget, QFrame, QScrollArea

from viewer import theme


class WindowLayout:
    """Docks, window size, theme (a part of MainWindow)."""

    def add_panel(self, dock: QDockWidget, area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea,
                  shortcut: str | None = None) -> QDockWidget:
        """Dock a panel and list it under View > Panels (panels must have a unique objectName)."""
        if not dock.objectName():
            raise ValueError("dock panels need an objectName so their state can be restored")
        self.addDockWidget(area, dock)
        self.panels_menu.addAction(dock.toggleViewAction())
        if shortcut:  # brings the panel forward (a toggle would close a panel that is behind a tab)
            show = QAction(f"Show {dock.windowTitle()}", self)
            show.setObjectName(f"action_show_{dock.objectName()}")
            show.setShortcut(QKeySequence(shortcut))
            show.triggered.connect(lambda _c=False, d=dock: self.bring_forward(d))
            self.addAction(show)
            dock.toggleViewAction().setText(f"{dock.windowTitle()}\t{QKeySequence(shortcut).toString()}")
        return dock

    def scroll_when_cramped(self, dock: QDockWidget) -> None:
        """Put a panel's contents in a scroll area, so that a wide or tall panel never makes the window
        larger than the screen (its contents scroll instead)."""
        body = dock.widget()
        if body is None or isinstance(body, QScrollArea):
            return
        scroll = QScrollArea(dock)
        scroll.setObjectName(f"{dock.objectName()}_scroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        dock.setWidget(scroll)

    def bring_forward(self, dock: QDockWidget) -> None:
        dock.show()
        dock.raise_()
        dock.widget().setFocus()

    def _restore_window(self) -> None:
        geometry = self.settings.window_geometry()
        avail = self._available()
        if geometry is None or not self.restoreGeometry(geometry):
            if avail is None:
                self.resize(1400, 900)
            else:  # most of the screen, never more than it
                self.resize(min(avail.width(), max(1280, int(avail.width() * 0.92))),
                            min(avail.height(), max(760, int(avail.height() * 0.92))))
        elif avail is not None and not self.isMaximized():  # saved on a larger screen: fit this one
            self.resize(min(self.width(), avail.width()), min(self.height(), avail.height()))
        self.restore_layout()

    def _available(self):
        screen = self.screen() or QApplication.primaryScreen()
        return screen.availableGeometry() if screen else None

    def restore_layout(self) -> None:
        """Restore the saved dock/toolbar layout (again after feature panels have been added); the default
        gives the side panels about a quarter of the width each and the photo preview most of the right."""
        state = self.settings.window_state()
        if state is None or not self.restoreState(state):
            width, height = max(self.width(), 800), max(self.height(), 600)
            side = int(min(max(width * 0.26, 300), 520))
            horizontal, vertical = Qt.Orientation.Horizontal, Qt.Orientation.Vertical
            self.resizeDocks([self.display_panel, self.instance_panel], [side, side], horizontal)
            self.resizeDocks([self.display_panel, self.instances_panel], [190, height], vertical)
            right = [int(height * 0.42), int(height * 0.58)]
            self.resizeDocks([self.instance_panel, self.images_panel], right, vertical)

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

    def choose_background(self) -> None:
        from PySide6.QtGui import QColor
        from PySide6.QtWidgets import QColorDialog

        color = QColorDialog.getColor(QColor(self.view.background()), self, "Background colour")
        if color.isValid():
            self.view.set_background(color.name())
            self.settings.set("view/background", color.name())
