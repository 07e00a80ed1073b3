"""Opening and saving scenes, opening photo folders, reconstructing, re-clustering: what makes, replaces
or writes the document's scene. ``SceneOpening`` is part of ``viewer.main_window.MainWindow``
(it uses the window's job runner, document, settings, selection and clustering panel).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from app.edit_record import edits_since_clustering
from app.progress import Progress, format_seconds
from viewer.document import SCENE_SUFFIX
from viewer.workers import Job, start_background

log = logging.getLogger(__name__)

SAMPLE_TITLE = "Sample room"


class SceneOpening:
    """Open / save / reconstruct / re-cluster (a part of MainWindow)."""

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

    def start_reconstruction(self, folder: Path, title: str | None = None) -> bool:
        """Reconstruct the photos of ``folder`` in the background (``title``: the scene's name until it is
        saved; else the folder's)."""
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
            self.document.set_scene(scene, path=None, source=folder, modified=True, title=title)
            self.settings.add_recent(folder)
            notes = scene.settings.notes
            skipped = [f"{Path(s.file).name}: {s.reason}" for s in scene.settings.skipped_files if s.bad]
            if skipped:
                self.show_error("Some photos were skipped", "\n".join(skipped[:10]))
            for note in notes:
                log.info("reconstruction note: %s", note)

        text = f"Reconstructing {title or folder.name}"
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
        return self.start_reconstruction(source, title=self.document.title)

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
        if self.job is not None and self.job.name == "recluster":
            self.job.cancel()  # the newest settings win (also over one still waiting)
        self.waiting_jobs[:] = [w for w in self.waiting_jobs if w[0].name != "recluster"]
        replaced = edits_since_clustering(scene.edit_log)
        if replaced and not self.job_confirmed("recluster", replaced):
            self.clustering_panel.show_message("Not re-clustered: your edits are kept.")
            self._on_scene_settings()
            return False
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

    def job_confirmed(self, _what: str, replaced: list[str]) -> bool:
        """Ask before a re-clustering replaces instances the user edited (viewer.edit_dialogs)."""
        from viewer import edit_dialogs

        try:
            return edit_dialogs.ask_replace_edits(self, replaced)
        finally:
            self.activateWindow()

    def _on_scene_settings(self) -> None:
        """The clustering panel shows what the scene is clustered with (also after undo/redo)."""
        scene = self.document.scene
        if scene is not None:
            cluster = scene.settings.cluster if scene.settings.has("cluster") else None
            self.clustering_panel.show_scene_settings(cluster, len(scene.instances))

    def _on_clustering_panel_shown(self, shown: bool) -> None:
        self._clustering_shown = bool(shown)  # isVisible() is also True for a dock behind another tab
        if shown:
            self.warm_up_clustering()

    def warm_up_clustering(self) -> None:
        """While the Clustering panel is shown, do the re-clustering work that no setting changes (the
        sample, its smoothing, HDBSCAN's tree, the cross-view correspondences) in a background thread, so
        that the first preset or slider change is as fast as the later ones. A re-clustering started meanwhile
        waits for it and then reuses its work."""
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

        start_background(lambda: prepare_recluster(source, config, cache), "clustering warm-up")

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
        start = self.document.path or folder / (self.document.file_stem() + SCENE_SUFFIX)
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
        self.notify(f"Saved {written}", 5000)
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


_preloaded = False


def preload_clustering_modules() -> None:
    """Import HDBSCAN (with scikit-learn, ~1 s) in the background once a scene is open, so that the
    first re-clustering does not wait for it."""
    global _preloaded
    if _preloaded:
        return
    _preloaded = True

    def work() -> None:  # an ImportError is reported by the re-clustering itself
        import hdbscan  # noqa: F401

    start_background(work, "preload hdbscan")
