"""Colour swatches: the small square of an instance's colour that lists and dialogs show beside its name."""

from __future__ import annotations

from PySide6.QtGui import QColor, QIcon, QPixmap


def swatch(colour: tuple[int, int, int], size: int = 12) -> QIcon:
    pix = QPixmap(size, size)
    pix.fill(QColor(*colour))
    return QIcon(pix)
