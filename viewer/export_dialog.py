"""File > Export: pick a format and a target, confirm overwriting, run the exporter in the background.

The exporters (``app.export``) write atomically; this dialog only asks before replacing an existing
output, shows progress with a Cancel button, and reports warnings (e.g. a missing original image).
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.export import FORMATS, ExportOptions, ExportResult, export_all, export_scene
from app.progress import Progress, StagePlan, iter_in_thread
from app.scene import Scene
from viewer.workers import Job

log = logging.getLogger(__name__)


def export_step(scene: Scene, fmt: str, path: Path, options: ExportOptions):
    """A `viewer.workers.Job` factory: the export as a generator of `app.progress.Progress` (the exporter
    runs with its progress/cancel callbacks, see `app.progress.iter_in_thread`); returns its ExportResult."""

    def factory(cancelled):
        def work(progress, cancel):
            options.progress = progress
            options.cancel = lambda: cancel() or cancelled()
            if fmt != ALL:
                return export_scene(scene, fmt, path, options)
            results = export_all(scene, path, options)
            return ExportResult(path, [r.path for r in results], [w for r in results for w in r.warnings])

        return (yield from iter_in_thread(work, StagePlan([("export", 1.0)]), "export"))

    return factory


def confirm_overwrite(parent: QWidget, path: Path) -> bool:
    """Ask before replacing an existing export (tests replace this function)."""
    kind = "folder" if path.is_dir() else "file"
    answer = QMessageBox.question(
        parent,
        "Replace export?",
        f"The {kind} {path} already exists.\nReplace it with the new export?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Cancel,
    )
    return answer == QMessageBox.StandardButton.Yes


ALL = "all"  # every format into one folder (app.export.export_all)
# default names: the scene's name with the format's suffix, or a folder named after the scene and format
DEFAULT_NAMES = {"ply": "{stem}.ply", "glb": "{stem}.glb", "colmap": "{stem}-colmap",
                 "masks": "{stem}-masks", "coco": "{stem}-coco.json", "table": "{stem}-instances.csv",
                 ALL: "{stem}-export"}  # fmt: skip


def writable_folder(preferred: Path | None) -> Path:
    """``preferred`` when the user can write there, else their Documents folder (or home)."""
    import os

    if preferred is not None and preferred.is_dir() and os.access(preferred, os.W_OK | os.X_OK):
        return preferred
    documents = Path.home() / "Documents"
    return documents if documents.is_dir() and os.access(documents, os.W_OK) else Path.home()


def default_target(base: Path | None, fmt: str) -> Path:
    """``room.glb``, ``room-colmap/``, ... next to the scene ``room.iggt``, in a folder the user can write
    (a read-only photo folder is not offered)."""
    folder = writable_folder(base.parent if base is not None else None)
    stem = base.stem if base is not None else "scene"
    return folder / DEFAULT_NAMES[fmt].format(stem=stem)


class ExportDialog(QDialog):
    exported = Signal(object)  # ExportResult

    def __init__(self, scene: Scene, scene_path: Path | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("export_dialog")
        self.setWindowTitle("Export")
        self.scene = scene
        self.scene_path = scene_path
        self.job: Job | None = None
        self.last_result: ExportResult | None = None
        self.last_error: str | None = None
        self._user_edited_path = False

        self.format = QComboBox(self)
        self.format.setObjectName("export_format")
        for spec in FORMATS.values():
            self.format.addItem(spec.title, spec.name)
        self.format.addItem("All formats (one folder)", ALL)
        self.description = QLabel(self)
        self.description.setWordWrap(True)
        self.target = QLineEdit(self)
        self.target.setObjectName("export_target")
        self.target.textEdited.connect(self._on_path_edited)
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self.browse)
        row = QHBoxLayout()
        row.addWidget(self.target, 1)
        row.addWidget(browse)
        self.colour_by = QComboBox(self)
        self.colour_by.setObjectName("export_colour_by")
        self.colour_by.addItem("Photo colour", "rgb")
        self.colour_by.addItem("Instance colour", "instance")
        view = getattr(parent, "view", None)  # start with the colours the 3D view shows
        if getattr(view, "colour_mode", None) == "instance":
            self.colour_by.setCurrentIndex(1)
        self.with_images = QCheckBox("Copy the images", self)
        self.with_images.setObjectName("export_with_images")
        self.with_images.setChecked(True)
        form = QFormLayout()
        form.addRow("Format", self.format)
        form.addRow("", self.description)
        form.addRow("Save to", row)
        form.addRow("Point colours", self.colour_by)
        form.addRow("COLMAP", self.with_images)

        self.progress = QProgressBar(self)
        self.progress.setObjectName("export_progress")
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.status = QLabel("", self)
        self.status.setObjectName("export_status")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(self)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setObjectName("export_button")
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.start_export)
        self.cancel_button.clicked.connect(self._close_or_cancel)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.format.currentIndexChanged.connect(self._on_format)
        self._on_format()
        self.resize(560, 0)

    # form ----------------------------------------------------------------------------------------
    def fmt(self) -> str:
        return str(self.format.currentData())

    def set_format(self, fmt: str) -> None:
        self.format.setCurrentIndex(self.format.findData(fmt))

    def set_target(self, path: Path | str) -> None:
        self.target.setText(str(path))
        self._user_edited_path = True

    def _on_path_edited(self, _text: str) -> None:
        self._user_edited_path = True

    def _spec(self) -> tuple[str, str, bool, str]:
        """(name, title, folder?, suffix) of the chosen format ("all" writes a folder)."""
        if self.fmt() == ALL:
            return ALL, "all formats", True, ""
        spec = FORMATS[self.fmt()]
        return spec.name, spec.title, spec.folder, spec.suffix

    def _on_format(self) -> None:
        name, _title, _folder, suffix = self._spec()
        every = "every format into one folder: " + ", ".join(FORMATS)
        self.description.setText(every if name == ALL else FORMATS[name].description)
        self.colour_by.setEnabled(name in ("ply", "glb", ALL))
        self.with_images.setEnabled(name in ("colmap", ALL))
        current = Path(self.target.text()) if self.target.text() else None
        if not self._user_edited_path or current is None:
            self.target.setText(str(default_target(self.scene_path, name)))
        else:  # keep the user's folder and name, adapt the suffix
            stem = current.stem if current.suffix else current.name
            self.target.setText(str(current.with_name(stem + suffix)))

    def browse(self) -> None:
        name, title, folder, suffix = self._spec()
        start = self.target.text() or str(writable_folder(None))
        if folder:
            path = QFileDialog.getSaveFileName(self, f"Export {title} to folder", start, "Folders (*)")[0]
        else:
            patterns = "CSV or JSON (*.csv *.json)" if name == "table" else f"{title} (*{suffix})"
            path = QFileDialog.getSaveFileName(
                self, f"Export {title}", start, patterns, options=QFileDialog.Option.DontConfirmOverwrite
            )[0]
        if path:
            self.set_target(path)

    # running -------------------------------------------------------------------------------------
    def start_export(self) -> Job | None:
        if self.job is not None:
            return None
        text = self.target.text().strip()
        if not text:
            self._show_status("Choose where to save the export.", error=True)
            return None
        path = Path(text).expanduser()
        force = False
        if path.exists():
            if not confirm_overwrite(self, path):
                self._show_status("Not exported: the existing output was kept.")
                return None
            force = True
        options = ExportOptions(
            force=force, colour_by=str(self.colour_by.currentData()), with_images=self.with_images.isChecked()
        )
        # a cancel is reported when the exporter stops (it may finish first: then the export is written)
        step = export_step(self.scene, self.fmt(), path, options)
        self.job = Job(f"export-{self.fmt()}", step, self, cancel_at_once=False)
        self.job.progress.connect(self._on_progress)
        self.job.succeeded.connect(self._on_succeeded)
        self.job.failed.connect(self._on_failed)
        self.job.cancelled.connect(self._on_cancelled)
        self.job.done.connect(self._on_finished)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.export_button.setEnabled(False)
        self.cancel_button.setText("Cancel")
        self._show_status(f"Exporting {self._spec()[1]}…")
        return self.job.start()

    def _on_progress(self, event: Progress) -> None:
        self.progress.setValue(int(event.fraction * 1000))
        self.status.setText(event.message)

    def _on_succeeded(self, result: ExportResult) -> None:
        self.last_result = result
        text = f"Exported to {result.path}"
        if result.warnings:
            text += "\n" + "\n".join(f"Warning: {w}" for w in result.warnings)
        self._show_status(text)
        self.exported.emit(result)

    def _on_failed(self, exc: BaseException) -> None:
        from viewer.dialogs import user_message

        self.last_error = user_message(exc)
        self._show_status(f"Export failed: {self.last_error}", error=True)

    def _on_cancelled(self) -> None:
        self._show_status("Export cancelled; nothing was written.")

    def _on_finished(self) -> None:
        self.job = None  # (the Job drops the export's data once it has reported)
        self.progress.setVisible(False)
        self.export_button.setEnabled(True)
        self.cancel_button.setText("Close")

    def _close_or_cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
        else:
            self.reject()

    def _show_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #d04040;" if error else "")

    def is_busy(self) -> bool:
        return self.job is not None

    def reject(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.job.wait(10)
        super().reject()
