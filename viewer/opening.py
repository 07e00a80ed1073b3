"""Opening and saving scenes, opening photo folders and reconstructing them: what makes, replaces or writes
the document's scene. ``SceneOpening`` is an object the main window owns; it is given what it uses (the
document, the app settings, the job runner, a parent for its dialogs, and how to report errors and notify),
and never reaches into the window. Re-clustering is `viewer.reclustering.Reclustering`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QWidget

from app.progress import Progress, format_seconds
from app.scene_io import is_scene_file
from viewer.document import SCENE_SUFFIX, Document
from viewer.job_runner import JobRunner
from viewer.settings import AppSettings
from viewer.workers import Job

log = logging.getLogger(__name__)

SAMPLE_TITLE = "Sample room"


class SceneOpening:
    """Open / save / reconstruct (File menu, the empty state's buttons, drops, the recent list)."""

    def __init__(
        self,
        parent: QWidget,
        document: Document,
        settings: AppSettings,
        jobs: JobRunner,
        show_error: Callable[[str, str], Any],
        show_exception: Callable[[str, BaseException], Any],
        notify: Callable[[str, int], None],
    ) -> None:
        self.parent = parent
        self.document = document
        self.settings = settings
        self.jobs = jobs
        self.show_error = show_error
        self.show_exception = show_exception
        self.notify = notify

    def open_folder_dialog(self) -> None:
        start = self.settings.get("paths/last_dir", str(Path.home()))
        folder = QFileDialog.getExistingDirectory(self.parent, "Open image folder", start)
        if folder:
            self.open_path(Path(folder))

    def open_scene_dialog(self) -> None:
        start = self.settings.get("paths/last_dir", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open scene", start,
                                              f"IGGT scenes (*{SCENE_SUFFIX} *{SCENE_SUFFIX}.bak)")
        if path:
            self.open_path(Path(path))

    def open_sample(self) -> bool:
        from viewer.pipeline import sample_images_folder

        try:
            folder = sample_images_folder()
        except Exception as exc:
            self.show_exception("Sample room", exc)
            return False
        if not self.maybe_save("opening another scene"):
            return False
        return self.start_reconstruction(folder, title=SAMPLE_TITLE)

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
        if path.suffix.lower() == SCENE_SUFFIX or is_scene_file(path):  # a backup (.iggt.bak) too
            return self.load_scene(path)
        from app.images import IMAGE_SUFFIXES

        if path.suffix.lower() in IMAGE_SUFFIXES:
            return self.start_reconstruction(path.parent)
        self.show_error("Cannot open", f"{path.name} is neither an image folder nor an {SCENE_SUFFIX} scene.")
        return False

    def _edit_mark(self) -> tuple[int, int, bool]:
        """What tells whether the shown scene was edited since (the unsaved-changes question)."""
        scene = self.document.scene
        return id(scene), 0 if scene is None else len(scene.edit_log), self.document.modified

    def may_replace(self, mark: tuple[int, int, bool]) -> bool:
        """Whether a job's new scene may replace the shown one. The user answered about unsaved changes
        when asking for it; the scene stays editable while the job runs (or waits for another), so edits
        made since are asked about again (Cancel: the shown scene stays, the new one is dropped)."""
        if self._edit_mark() == mark or self.maybe_save("replacing it with the new scene"):
            return True
        self.notify("Kept the edited scene; the new one was not shown", 8000)
        return False

    def load_scene(self, path: Path) -> bool:
        from app.scene_io import load_scene

        mark = self._edit_mark()

        def factory(_cancelled):
            yield Progress("loading", f"reading {path.name}", 0.0, 0.0)
            return load_scene(path)

        def done(scene) -> None:
            if not self.may_replace(mark):
                return
            self.document.set_scene(scene, path=path)
            self.settings.add_recent(path)
            for warning in getattr(scene, "load_warnings", []):
                log.warning("%s: %s", path.name, warning)
            if getattr(scene, "load_warnings", None):
                self.show_error("Scene opened with warnings", "\n".join(scene.load_warnings[:8]))

        job = Job("open", factory, self.parent)
        return self.jobs.run(job, done, f"Opening {path.name}", "Cannot open the scene")

    def start_reconstruction(self, folder: Path, title: str | None = None) -> bool:
        """Reconstruct the photos of ``folder`` in the background (``title``: the scene's name until it is
        saved; else the folder's)."""
        from viewer.pipeline import check_image_folder, reconstruction_factory, remember_timing
        from viewer.run_settings import RunSettings

        run = RunSettings.load(self.settings)
        try:
            check_image_folder(folder)
            factory = reconstruction_factory(folder, run)
        except Exception as exc:
            self.show_exception("Cannot reconstruct", exc)
            return False

        mark = self._edit_mark()

        def done(scene) -> None:
            remember_timing(self.settings, scene)
            if not self.may_replace(mark):
                return
            self.document.set_scene(scene, path=None, source=folder, modified=True, title=title)
            self.settings.add_recent(folder)
            notes = scene.settings.notes
            skipped = [f"{Path(s.file).name}: {s.reason}" for s in scene.settings.skipped_files if s.bad]
            if skipped:
                self.show_error("Some photos were skipped", "\n".join(skipped[:10]))
            for note in notes:
                log.info("reconstruction note: %s", note)

        text = f"Reconstructing {title or folder.name}"
        eta = self.expected_run_seconds(folder, run)
        if eta is not None:
            text += f" (about {format_seconds(eta)} on {run.device})"
        return self.jobs.run(Job("reconstruct", factory, self.parent), done, text, "Reconstruction failed")

    def expected_run_seconds(self, folder: Path, run) -> float | None:
        """Time of the network pass from the last run's speed on this device (None before a first run)."""
        from viewer.pipeline import check_image_folder, run_input_size, seconds_per_mpx

        rate = seconds_per_mpx(self.settings, run.device)
        if not rate:
            return None
        n = min(check_image_folder(folder), int(run.max_views))
        h, w = run_input_size(run)
        return rate * n * h * w / 1e6

    def rerun(self) -> bool:
        source = self.document.source or (Path(self.document.scene.views[0].path).parent
                                          if self.document.scene is not None and self.document.scene.views
                                          else None)
        if source is None or not source.is_dir():
            self.show_error("Cannot reconstruct again", "The photo folder of this scene is not available.")
            return False
        if not self.maybe_save("reconstructing again"):
            return False
        return self.start_reconstruction(source, title=self.document.title)

    # ------------------------------------------------------------------------------------ saving
    def save(self) -> bool:
        if self.document.scene is None:
            return False
        if self.document.path is None:
            return self.save_as()
        return self.save_to(self.document.path)

    def save_as(self) -> bool:
        if self.document.scene is None:
            return False
        from viewer.export_dialog import writable_folder  # never the read-only photo folder

        folder = writable_folder(Path(self.settings.get("paths/last_dir", str(Path.home()))))
        start = self.document.path or folder / (self.document.file_stem() + SCENE_SUFFIX)
        path, _ = QFileDialog.getSaveFileName(self.parent, "Save scene", str(start),
                                              f"IGGT scenes (*{SCENE_SUFFIX} *{SCENE_SUFFIX}.bak)")
        return bool(path) and self.save_to(Path(path))

    def save_to(self, path: Path) -> bool:
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            written = self.document.save(path)
        except Exception as exc:
            self.show_exception("Cannot save the scene", exc)
            return False
        finally:
            QApplication.restoreOverrideCursor()
        self.settings.add_recent(written)
        self.notify(f"Saved {written}", 5000)
        return True

    def maybe_save(self, why: str = "closing") -> bool:
        """Ask about unsaved changes; False when the user cancels."""
        if self.document.scene is None or not self.document.modified:
            return True
        box = QMessageBox(QMessageBox.Icon.Question, "Unsaved changes",
                          f"Save the changes to {self.document.display_name()} before {why}?",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self.parent)
        box.setObjectName("unsaved_dialog")
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

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
