"""Light/dark theme that follows the system colour scheme (or a user override)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("system", "light", "dark")


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    scheme = hints.colorScheme() if hasattr(hints, "colorScheme") else Qt.ColorScheme.Unknown
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    # Unknown: judge by the default window colour.
    return QApplication.style().standardPalette().color(QPalette.ColorRole.Window).lightness() < 128


def _dark_palette() -> QPalette:
    p = QPalette()
    base, window, text = QColor(35, 37, 41), QColor(45, 48, 53), QColor(225, 228, 232)
    disabled = QColor(128, 128, 128)
    p.setColor(QPalette.ColorRole.Window, window)
    p.setColor(QPalette.ColorRole.WindowText, text)
    p.setColor(QPalette.ColorRole.Base, base)
    p.setColor(QPalette.ColorRole.AlternateBase, window)
    p.setColor(QPalette.ColorRole.ToolTipBase, window)
    p.setColor(QPalette.ColorRole.ToolTipText, text)
    p.setColor(QPalette.ColorRole.PlaceholderText, disabled)
    p.setColor(QPalette.ColorRole.Text, text)
    p.setColor(QPalette.ColorRole.Button, window)
    p.setColor(QPalette.ColorRole.ButtonText, text)
    p.setColor(QPalette.ColorRole.BrightText, QColor(255, 80, 80))
    p.setColor(QPalette.ColorRole.Link, QColor(90, 160, 255))
    p.setColor(QPalette.ColorRole.Highlight, QColor(50, 120, 220))
    p.setColor(QPalette.ColorRole.HighlightedText, QColor(255, 255, 255))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


def apply_theme(app: QApplication, theme: str = "system") -> bool:
    """Apply ``theme`` ('system', 'light' or 'dark') with the Fusion style; return True when dark."""
    if theme not in THEMES:
        theme = "system"
    app.setStyle("Fusion")
    dark = system_is_dark() if theme == "system" else theme == "dark"
    app.setPalette(_dark_palette() if dark else app.style().standardPalette())
    _refresh_copied_palettes(app)
    return dark


def _refresh_copied_palettes(app: QApplication) -> None:
    """superqt's slider value labels keep a copy of the palette they were given, one theme behind (black
    text on the dark theme, near-white on the light one after switching back); hand them the new one."""
    for widget in app.allWidgets():
        if type(widget).__name__ == "SliderLabel":
            widget.setPalette(app.palette())


def icon_color(dark: bool) -> str:
    return "#dfe3e8" if dark else "#33383f"
