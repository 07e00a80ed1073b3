"""Isolating frames the instance (and hides the camera frusta that would cover it); File > "Save view
image…" writes the 3D view at 1x/2x/4x its on-screen size, optionally with a legend of instance names.

Installed by ``install_view_image(window)``; uses the window's ``view``, ``document``, ``state`` (isolation)
``actions_``, ``settings`` and ``statusBar``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRect
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QWidget,
)

from app.scene import Scene
from viewer.actions import ActionSpec
from viewer.export_dialog import writable_folder
from viewer.review_panel import frame_instance

SCALES = (1, 2, 4)


def paint_legend(image: QImage, scene: Scene, ids: list[int], scale: int = 1) -> QImage:
    """``image`` with a box listing instances ``ids`` (swatch and name) in its top-left corner."""
    out = image.convertToFormat(QImage.Format.Format_RGB32)
    painter = QPainter(out)
    font = QFont()
    font.setPixelSize(13 * scale)
    painter.setFont(font)
    line = 18 * scale
    pad = 8 * scale
    names = [scene.instances[i].name for i in ids if i in scene.instances]
    width = max((painter.fontMetrics().horizontalAdvance(n) for n in names), default=0) + 3 * pad + line
    painter.fillRect(QRect(pad, pad, width, line * len(names) + pad), QColor(20, 22, 26, 200))
    for k, iid in enumerate(i for i in ids if i in scene.instances):
        inst = scene.instances[iid]
        y = 2 * pad + k * line
        painter.fillRect(QRect(2 * pad, y, line - 6 * scale, line - 6 * scale), QColor(*inst.colour))
        painter.setPen(QColor(235, 235, 235))
        painter.drawText(2 * pad + line, y + line - 8 * scale, inst.name)
    painter.end()
    return out


def save_view_image(view: Any, scene: Scene, path: Path, scale: int = 1, legend: bool = False) -> QImage:
    """Render the 3D view to ``path`` (PNG) at ``scale`` times its size; with ``legend`` the visible
    instances (largest first, at most 30) are listed with their colours."""
    view.save_screenshot(path, scale=scale)
    image = QImage(str(path))
    if legend:
        isolated = set(view.isolated or ())
        shown = [i for i, inst in scene.instances.items() if inst.visible and (not isolated or i in isolated)]
        shown.sort(key=lambda i: -scene.instances[i].stats.point_count)
        image = paint_legend(image, scene, shown[:30], scale)
        if not image.save(str(path), "PNG"):
            raise OSError(f"cannot write {path}")
    return image


class ViewImageDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("view_image_dialog")
        self.setWindowTitle("Save view image")
        self.scale = QComboBox(self)
        for s in SCALES:
            self.scale.addItem(f"{s}x the view's size", s)
        self.legend = QCheckBox("Legend of instance names", self)
        save_cancel = QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        buttons = QDialogButtonBox(save_cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Resolution", self.scale)
        form.addRow("", self.legend)
        form.addRow(buttons)


def ask_view_image(parent: QWidget, start: Path) -> tuple[Path, int, bool] | None:
    """(path, scale, legend) or None (tests replace this function)."""
    dialog = ViewImageDialog(parent)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    path, _ = QFileDialog.getSaveFileName(parent, "Save view image", str(start), "PNG images (*.png)")
    if not path:
        return None
    path = Path(path if path.lower().endswith(".png") else path + ".png")
    return path, int(dialog.scale.currentData()), dialog.legend.isChecked()


class ViewImages(QObject):
    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        window.actions_.add(
            ActionSpec("save_view_image", "Save view &image…", "mdi6.image-outline", "Ctrl+Shift+P",
                       "Save the 3D view at 1x, 2x or 4x resolution, optionally with a legend", menu="file"),
            self.save,
        )  # fmt: skip
        # isolation is the viewer state's (isolating + the selection): follow it
        window.state.events.isolating.connect(self._follow_isolation)
        window.state.selection.changed.connect(self._follow_isolation)

    def _follow_isolation(self, *_args) -> None:
        self._on_isolate(set(self.window.state.isolated) or None)

    def _on_isolate(self, ids: set[int] | None) -> None:
        """Frame the isolated instance; hide the camera frusta while isolating (they cover small objects)."""
        view, scene = self.window.view, self.window.document.scene
        if scene is None:
            return
        view.hold_frusta("isolate", bool(ids), render=not ids)
        if ids:
            frame_instance(view, scene, next(iter(ids)))

    def save(self) -> Path | None:
        scene = self.window.document.scene
        if scene is None:
            return None
        doc_path = self.window.document.path
        stem = doc_path.stem if doc_path is not None else "scene"
        folder = writable_folder(doc_path.parent if doc_path is not None else None)
        answer = ask_view_image(self.window, folder / f"{stem}-view.png")
        if answer is None:
            return None
        path, scale, legend = answer
        try:
            save_view_image(self.window.view, scene, path, scale, legend)
        except Exception as exc:
            self.window.show_exception("Cannot save the view image", exc)
            return None
        self.window.statusBar().showMessage(f"Saved {path}", 5000)
        return path


def install_view_image(window: Any) -> ViewImages:
    existing = getattr(window, "view_images", None)
    if isinstance(existing, ViewImages):
        return existing
    window.view_images = ViewImages(window)
    return window.view_images
