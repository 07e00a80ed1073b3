"""Re-clustering the shown scene from the Clustering panel: the job, its undoable edit, the per-scene cache
of the work no setting changes (warmed up in the background while the panel is shown), and the panel
following the scene's stored clustering (also after undo/redo).

``Reclustering`` is an object the main window owns; it is given the document, the job runner, the panel,
the selection and how to push an edit, report an error and refresh the status summary.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QWidget

from app.clustering import ClusterCache
from app.edit_record import edits_since_clustering
from app.scene import Scene
from viewer.document import Document
from viewer.job_runner import JobRunner
from viewer.panels.clustering import ClusteringPanel
from viewer.selection import Selection
from viewer.workers import Job, start_background

log = logging.getLogger(__name__)


class Reclustering:
    def __init__(
        self,
        parent: QWidget,
        document: Document,
        jobs: JobRunner,
        panel: ClusteringPanel,
        selection: Selection,
        push_edit: Callable[[Any, tuple[int | None, int | None] | None], None],
        show_exception: Callable[[str, BaseException], Any],
        show_summary: Callable[[], None],
    ) -> None:
        self.parent = parent
        self.document = document
        self.jobs = jobs
        self.panel = panel
        self.selection = selection
        self.push_edit = push_edit
        self.show_exception = show_exception
        self.show_summary = show_summary
        self.cache = ClusterCache()  # re-clustering work that the settings do not change
        self._scene: Scene | None = None  # the scene whose settings events the panel follows
        self._warmed_scene: Scene | None = None
        self._panel_shown = False  # the panel is on screen (not a hidden tab)
        panel.recluster_requested.connect(self.recluster)
        panel.visibilityChanged.connect(self._on_panel_shown)

    def set_scene(self, scene: Scene | None) -> None:
        """A new scene is shown: a fresh cache, the panel follows its stored clustering."""
        self.cache.clear()
        self._warmed_scene = None
        if self._scene is not None:
            self._scene.events.settings.disconnect(self.show_scene_settings)
        self._scene = scene
        if scene is not None:
            scene.events.settings.connect(self.show_scene_settings)
            self.show_scene_settings()
        if self._panel_shown:
            self.warm_up()
        elif scene is not None:
            preload_clustering_modules()
        self.panel.setEnabled(scene is not None)

    def recluster(self, run) -> bool:
        """Re-cluster the shown scene's stored features with ``run``'s clustering settings.

        The worker only computes (app.reconstruct.iter_recluster reads a snapshot of the scene's arrays);
        the result is applied here, on the GUI thread, as one undoable edit. The cache makes every
        re-clustering after the first one skip the work that does not depend on the settings."""
        from app.edits import EditError
        from viewer.pipeline import recluster_factory

        scene = self.document.scene
        if scene is None:
            return False
        if self.jobs.job is not None and self.jobs.job.name == "recluster":
            self.jobs.job.cancel()  # the newest settings win (also over one still waiting)
        self.jobs.drop_waiting("recluster")
        replaced = edits_since_clustering(scene.edit_log)
        if replaced and not self.confirmed(replaced):
            self.panel.show_message("Not re-clustered: your edits are kept.")
            self.show_scene_settings()
            return False
        try:
            factory = recluster_factory(scene, run, self.cache)
        except Exception as exc:
            self.show_exception("Cannot re-cluster", exc)
            self.panel.show_message("")
            return False
        started = time.monotonic()

        def done(result) -> None:
            if self.document.scene is not scene:
                return  # another scene was opened meanwhile
            selected = self.selection.instance
            try:
                edit = result.edit(scene)
            except EditError as exc:  # the scene was edited meanwhile, or a locked instance would change
                self.panel.show_message(f"Not applied: {exc}")
                return
            kept = selected if selected is not None and selected in result.stats else None
            self.push_edit(edit, (selected, kept))
            self.panel.show_result(len(scene.instances), time.monotonic() - started)
            self.show_summary()
            log.info("re-clustered in %.2f s (%s)", time.monotonic() - started,
                     ", ".join(f"{k} {v:.2f}" for k, v in result.timings.items()))

        job = Job("recluster", factory, self.parent)
        return self.jobs.run(job, done, "Re-clustering", "Re-clustering failed")

    def confirmed(self, replaced: list[str]) -> bool:
        """Ask before a re-clustering replaces instances the user edited (viewer.edit_dialogs)."""
        from viewer import edit_dialogs

        try:
            return edit_dialogs.ask_replace_edits(self.parent, replaced)
        finally:
            self.parent.activateWindow()

    def show_scene_settings(self) -> None:
        """The panel shows what the scene is clustered with (also after undo/redo)."""
        scene = self.document.scene
        if scene is not None:
            cluster = scene.settings.cluster if scene.settings.has("cluster") else None
            self.panel.show_scene_settings(cluster, len(scene.instances))

    def _on_panel_shown(self, shown: bool) -> None:
        self._panel_shown = bool(shown)  # isVisible() is also True for a dock behind another tab
        if shown:
            self.warm_up()

    def warm_up(self) -> None:
        """While the panel is shown, do the re-clustering work that no setting changes (the sample, its
        smoothing, HDBSCAN's tree, the cross-view correspondences) in the background, so that the first
        preset or slider change is as fast as the later ones. A re-clustering started meanwhile waits for
        it and then reuses its work."""
        from app.reconstruct import ReclusterSource, prepare_recluster
        from viewer.pipeline import cluster_config

        scene = self.document.scene
        if scene is None or self._warmed_scene is scene:
            return
        self._warmed_scene = scene
        try:
            config = cluster_config(self.panel.current_settings())
            config.validate()
        except Exception:  # bad stored settings: the re-clustering itself reports them
            return
        source, cache = ReclusterSource.of(scene), self.cache

        start_background(lambda: prepare_recluster(source, config, cache), "clustering warm-up")


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
