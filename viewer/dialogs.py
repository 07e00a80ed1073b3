"""Small dialogs: About, keyboard shortcuts, readable errors with details, the log viewer."""

from __future__ import annotations

import logging
import platform
import traceback
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QFont, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import __version__

log = logging.getLogger(__name__)

APP_TITLE = "IGGT Viewer"


def about_text() -> str:
    import pyvista
    import vtk
    from PySide6 import __version__ as pyside_version

    return (
        f"<h3>{APP_TITLE} {__version__}</h3>"
        "<p>Semantic 3D reconstruction of rooms from photos with IGGT "
        "(Instance-Grounded Geometry Transformer): cameras, depth, a point cloud and "
        "instances that stay consistent across views.</p>"
        f"<p><small>Python {platform.python_version()} · Qt/PySide6 {pyside_version} · "
        f"VTK {vtk.vtkVersion.GetVTKVersion()} · pyvista {pyvista.__version__}</small></p>"
    )


def show_about(parent: QWidget) -> QMessageBox:
    """Open the About box (window-modal, without blocking the event loop)."""
    box = QMessageBox(QMessageBox.Icon.Information, f"About {APP_TITLE}", about_text(),
                      QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("about_dialog")
    if parent is not None and not parent.windowIcon().isNull():
        box.setIconPixmap(parent.windowIcon().pixmap(64, 64))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


# what the mouse does (VTK's trackball camera in 3D; the photo panel's own tools in 2D)
MOUSE_CONTROLS = (
    ("Rotate the 3D view", "Left drag"),
    ("Pan", "Middle drag, or Shift + left drag"),
    ("Zoom", "Wheel, or right drag"),
    ("Roll", "Ctrl + left drag"),
    ("Select an instance", "Click a point (3D) or a pixel (photo)"),
    ("Lasso in a photo", "Drag with the lasso tool on"),
)

# keys that act only in one place (not window shortcuts, so not in the action list)
REVIEW_ACTIONS = {
    "accept": "Accept", "merge": "Merge with the suggested neighbour", "split": "Split as suggested",
    "delete": "Delete", "rename": "Rename", "next": "Skip to the next", "back": "Back to the previous",
}  # fmt: skip
DRAW_ON_VIEW_KEYS = (("Apply the preview", "Enter"), ("Drop the shape being drawn, then the preview", "Esc"),
                     ("Undo / redo (also with the dialog open)", "Ctrl+Z / Ctrl+Shift+Z"))  # fmt: skip


def context_keys() -> list[tuple[str, str]]:
    """The Review queue's one-key actions (while its list has the focus; they win over the window's A, S …)
    and the keys of Edit > Draw on a view."""
    from viewer.review_panel import KEYS

    rows = [("— Review queue (while its list has the focus) —", "")]
    rows += [(REVIEW_ACTIONS.get(name, name), QKeySequence(key).toString()) for key, name in KEYS.items()]
    return [*rows, ("— Draw on a view —", ""), *DRAW_ON_VIEW_KEYS]


class ShortcutsDialog(QDialog):
    """A two-column table of every action with a keyboard shortcut, the keys of the Review queue and of
    Draw on a view, then the mouse controls; Esc closes."""

    def __init__(self, rows: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts and mouse controls")
        self.setObjectName("shortcuts_dialog")
        rows = [*rows, *context_keys(), ("— Mouse —", ""), *MOUSE_CONTROLS]
        table = QTableWidget(len(rows), 2, self)
        table.setHorizontalHeaderLabels(["Action", "Shortcut"])
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, (text, keys) in enumerate(rows):
            table.setItem(r, 0, QTableWidgetItem(text))
            table.setItem(r, 1, QTableWidgetItem(keys))
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table = table
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(buttons)
        self.resize(460, 560)

    def event(self, event) -> bool:
        # Esc closes the dialog, also when the table has the focus and the window binds Esc
        if event.type() == QEvent.Type.ShortcutOverride and event.key() == Qt.Key.Key_Escape:
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.reject()
            return
        super().keyPressEvent(event)


class ErrorDialog(QMessageBox):
    """A readable one-line message, with the technical details (traceback) folded away."""

    def __init__(self, title: str, message: str, details: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("error_dialog")
        self.setIcon(QMessageBox.Icon.Warning)
        self.setWindowTitle(title)
        self.setText(message)
        if details:
            self.setDetailedText(details)
        self.setStandardButtons(QMessageBox.StandardButton.Ok)


def error_details(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def user_message(exc: BaseException) -> str:
    """The message to show a user for ``exc``: errors meant for users speak for themselves."""
    from app.errors import UserError

    try:
        from model.errors import IGGTError
    except ImportError:  # model package not there yet
        IGGTError = UserError
    text = str(exc).strip()
    if isinstance(exc, UserError | IGGTError) and text:
        return text
    if isinstance(exc, MemoryError):
        return "Not enough memory for this operation. Try fewer views or a smaller image width."
    if isinstance(exc, OSError) and text:
        return text
    return f"An unexpected error occurred ({type(exc).__name__}: {text or 'no message'})."


class LogViewer(QDialog):
    """Shows the end of the application's log file, with buttons to refresh and open its folder."""

    MAX_CHARS = 400_000

    def __init__(self, path: Path | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("log_viewer")
        self.setWindowTitle("Log")
        self.path = path
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        font = QFont("monospace")
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.text.setFont(font)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        refresh = QPushButton("Refresh", self)
        refresh.clicked.connect(self.reload)
        folder = QPushButton("Open folder", self)
        folder.clicked.connect(self.open_folder)
        copy = QPushButton("Copy", self)
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.text.toPlainText()))
        for b in (refresh, copy, folder):
            buttons.addButton(b, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(900, 560)
        self.reload()

    def reload(self) -> None:
        for handler in logging.getLogger().handlers:
            handler.flush()
        if self.path is None:
            self.text.setPlainText("Logging to a file is not available (the log folder is not writable).")
            return
        try:
            data = self.path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            data = f"Cannot read the log file {self.path}: {exc}"
        self.setWindowTitle(f"Log — {self.path}")
        self.text.setPlainText(data[-self.MAX_CHARS :])
        self.text.moveCursor(self.text.textCursor().MoveOperation.End)

    def open_folder(self) -> None:
        if self.path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.path.parent)))
