"""Find panel: type a phrase, the matching instances light up (open-vocabulary CLIP queries), and
"Label all" names every instance from a vocabulary.

The panel is Qt only; the work is done by ``app.semantics``. The CLIP model is loaded and the instance
embeddings are computed in a background job (once per scene and model; then cached in the scene), after
which every keystroke (debounced) costs a matrix product.

Wiring into the main window: ``install_query_panel(window)``. The heat colours go out through the
``highlight_changed`` signal (instance id -> rgb; empty = clear); ``apply_overlay`` shows them in the 3D view.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.progress import Progress
from app.scene import InstanceEmbeddings, Scene
from app.semantics.colouring import highlight_overlay, phrase_colour
from app.semantics.confidence import MATCH, WEAK
from app.semantics.relevancy import QueryConfig, QueryError, QueryResult, Row, run_query
from viewer.panels.ask import AskPane
from viewer.panels.narrow import shrink_to_fit, wrap_to_fit
from viewer.panels.query_overlay import apply_overlay
from viewer.workers import Job

log = logging.getLogger(__name__)

DEBOUNCE_MS = 200
ID_ROLE = Qt.ItemDataRole.UserRole + 1
VOCABULARIES = (("ScanNet-20", "scannet20"), ("Synthetic rooms", "synthetic"), ("From file…", "file"))
LABEL_BACKENDS = (("with CLIP", "clip"), ("with the VLM: its own names", "vlm"),
                  ("with the VLM: from the vocabulary", "vlm-vocab"))  # fmt: skip

RunJob = Callable[[Job, Callable[[Any], None], str, str], bool]


def _prepare_step(scene: Scene, model_spec: str, backend):
    """Worker step: load the CLIP model (unless given) and compute the scene's instance embeddings."""

    def factory(_cancelled: Callable[[], bool]):
        from app.semantics.backends import load_backend_or_bundled
        from app.semantics.scene_embeddings import cached_embeddings, iter_compute

        warning = None
        nonlocal backend
        if backend is None:
            yield Progress("semantics", "loading the CLIP model", 0.0, 0.0)
            loaded = load_backend_or_bundled(model_spec)
            backend, warning = loaded.backend, loaded.warning
        emb = cached_embeddings(scene, backend.model_id)
        digest = None
        if emb is None:
            emb, digest = yield from iter_compute(scene, backend)
        return backend, emb, digest, warning

    return factory


class QueryPanel(QDockWidget):
    """Dock with the query line, the ranked list and Label all."""

    highlight_changed = Signal(object)  # dict[int, (r, g, b)]: instances to light up; {} = none
    labels_suggested = Signal(int)  # number of instances given a suggestion
    models_requested = Signal()  # the banner's "Get the real models" link

    def __init__(
        self,
        select: Callable[[int | None], None] | None = None,
        run_job: RunJob | None = None,
        push_edit: Callable[[Any], None] | None = None,
        model_spec: Callable[[], str] = lambda: "bundled",
        parent: QWidget | None = None,
        vlm_config: Callable[[], Any] = lambda: None,
    ) -> None:
        super().__init__("Find objects", parent)
        self.setObjectName("query_panel")
        self._select = select
        self._run_job = run_job
        self._push_edit = push_edit or (lambda edit: edit.apply(self.scene))
        self._model_spec = model_spec
        self.scene: Scene | None = None
        self.backend = None
        self.embeddings: InstanceEmbeddings | None = None
        self.result: QueryResult | None = None
        self.job: Job | None = None
        self._pending_label = False
        self.config = QueryConfig()

        body = QWidget(self)
        layout = QVBoxLayout(body)
        self.banner = QLabel(body)
        self.banner.setObjectName("synthetic_banner")
        self.banner.setWordWrap(True)
        self.banner.setTextFormat(Qt.TextFormat.RichText)
        self.banner.setStyleSheet("QLabel { color: palette(placeholder-text); font-size: 11px; }")
        self.banner.linkActivated.connect(lambda _link: self.models_requested.emit())
        self.banner.hide()
        layout.addWidget(self.banner)
        self.edit = QLineEdit(body)
        self.edit.setObjectName("query_edit")
        self.edit.setPlaceholderText("Find: red chair, plant, …")
        self.edit.setClearButtonEnabled(True)
        self.edit.setToolTip("Type a phrase; separate several with commas. Matching objects light up.")
        layout.addWidget(self.edit)

        row = QHBoxLayout()
        row.addWidget(QLabel("Threshold", body))
        self.threshold = QDoubleSpinBox(body)
        self.threshold.setObjectName("query_threshold")
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setValue(self.config.threshold)
        self.threshold.setToolTip("Relevancy above which an object is highlighted")
        row.addWidget(self.threshold)
        row.addStretch(1)
        layout.addLayout(row)

        self.table = QTableWidget(0, 4, body)
        self.table.setObjectName("query_results")
        self.table.setHorizontalHeaderLabels(["#", "Instance", "Score", "Match"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.table, 1)

        self.label_backend = QComboBox(body)
        self.label_backend.setObjectName("label_backend")
        for text, key in LABEL_BACKENDS:
            self.label_backend.addItem(text, key)
        self.label_backend.setToolTip("Who names the objects: CLIP with the vocabulary, or the VLM (Ask tab)")
        self.vocabulary = QComboBox(body)
        self.vocabulary.setObjectName("label_vocabulary")
        for text, key in VOCABULARIES:
            self.vocabulary.addItem(text, key)
        self.label_button = QPushButton("Label all", body)
        self.label_button.setObjectName("label_all")
        self.label_button.setToolTip("Give every object the best class of the vocabulary, with a score")
        self.accept_button = QPushButton("Accept labels", body)
        self.accept_button.setObjectName("accept_labels")
        self.accept_button.setToolTip("Set every object's category to its suggested label (undoable)")
        self.accept_button.setEnabled(False)
        # two rows that fit a side panel a quarter of a 1280 px screen wide: the choices (they shrink and
        # elide their text), then the buttons
        choices = QHBoxLayout()
        for combo in (self.vocabulary, self.label_backend):
            shrink_to_fit(combo)
            choices.addWidget(combo, 1)
        layout.addLayout(choices)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.label_button)
        buttons.addWidget(self.accept_button)
        layout.addLayout(buttons)

        self.status = QLabel("", body)
        self.status.setObjectName("query_status")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        for label in (self.banner, self.status):
            wrap_to_fit(label)
        clip = lambda: (self.backend, self.embeddings) if self.ready() else None  # noqa: E731
        self.ask = AskPane(select, vlm_config, clip, lambda: self._model_spec(), self)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("find_tabs")
        self.tabs.addTab(body, "Find")
        self.tabs.addTab(self.ask, "Ask")
        self.tabs.setTabToolTip(1, "Yes/no questions answered by a vision-language model")
        self.tabs.currentChanged.connect(self._on_tab)
        self.ask.highlight_changed.connect(lambda o: self.tabs.currentWidget() is self.ask
                                           and self.highlight_changed.emit(o))  # fmt: skip
        self.ask.names_ready.connect(self._vlm_names)
        self.setWidget(self.tabs)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.run_now)
        self.edit.textChanged.connect(lambda _t: self._timer.start())
        self.edit.returnPressed.connect(self.run_now)
        self.threshold.valueChanged.connect(lambda _v: self.run_now())
        self.table.itemSelectionChanged.connect(self._on_row_selected)
        self.label_button.clicked.connect(self.label_all)
        self.accept_button.clicked.connect(self.accept_all)
        self._update_enabled()

    # ------------------------------------------------------------------------------------ scene
    def set_scene(self, scene: Scene | None) -> None:
        if self.scene is not None:
            self.scene.events.labels.disconnect(self._on_masks_changed)
        self.scene = scene
        self.embeddings = None
        self.result = None
        self.ask.set_scene(scene)
        if scene is not None:
            scene.events.labels.connect(self._on_masks_changed)
            from app.semantics.scene_embeddings import cached_embeddings

            if self.backend is not None:
                self.embeddings = cached_embeddings(scene, self.backend.model_id)
        self._show_rows([])
        self.highlight_changed.emit({})
        self._update_enabled()
        self._update_banner()
        if self.edit.isEnabled() and self.job is None:  # a new scene to search: no earlier scene's message
            self.status.setText("Type a phrase to find objects.")
        if scene is not None and self.edit.text().strip():
            self.run_now()

    def set_model(self, spec_getter: Callable[[], str]) -> None:
        """Use another CLIP model (setting changed): features are recomputed on the next query."""
        self._model_spec = spec_getter
        self.backend = None
        self.embeddings = None
        self._update_banner()

    def _update_banner(self) -> None:
        """A quiet note while a model in use was trained on synthetic rooms only."""
        from app.semantics.provenance import synthetic_only

        clip = self.backend.model_id if self.backend is not None else self._model_spec()
        which = synthetic_only(self.scene.model_id if self.scene is not None else None, clip)
        if not which:
            self.banner.hide()
            return
        models = " and ".join(which)
        self.banner.setText(
            f"The bundled {models} model{'s were' if len(which) > 1 else ' was'} trained on synthetic rooms "
            "only: on real photos, objects and matches are rough. "
            '<a href="models">Get the real models…</a> (Settings &gt; Models)'
        )
        self.banner.setToolTip("Weak matches and labels are marked; the real IGGT and CLIP models do better")
        self.banner.show()

    def _on_masks_changed(self) -> None:
        """The objects changed (an edit, a re-clustering, an undo): the features are recomputed on the next
        search, which the user starts; the old result is cleared rather than silently re-run and repainted."""
        self.embeddings = None  # the cache's digest no longer matches
        self._timer.stop()
        if self.result is not None or self.edit.text().strip():
            self.result = None
            self._show_rows([])
            self.highlight_changed.emit({})
            self.status.setText("The objects changed: press Enter to search again.")

    def _update_enabled(self) -> None:
        has = self.scene is not None and bool(self.scene.instances)
        self.edit.setEnabled(has)
        self.label_button.setEnabled(has and self.job is None)
        self.vocabulary.setEnabled(has)
        if not has:
            self.status.setText("Open a scene with instances to search it." if self.scene is None else
                                "This scene has no instances to search.")  # fmt: skip

    # ------------------------------------------------------------------------------ embeddings
    def ready(self) -> bool:
        return self.backend is not None and self.embeddings is not None

    def prepare(self) -> bool:
        """Start the background job that loads the model and computes the embeddings (if needed)."""
        if self.scene is None or self.job is not None:
            return False
        if self.ready():
            return True
        scene, spec = self.scene, self._model_spec()
        job = Job("clip-features", _prepare_step(scene, spec, self.backend), self)
        self.job = job
        self.status.setText("Computing CLIP features of the objects…")

        def done(result) -> None:
            backend, emb, digest, warning = result
            if spec != self._model_spec():  # the model changed while this job ran: its result is stale
                if self.edit.text().strip():
                    self._timer.start()  # the next query prepares the new model's features
                return
            self.backend = backend
            self._update_banner()
            if scene is not self.scene:
                return
            if digest is not None:
                from app.semantics.scene_embeddings import store

                store(scene, backend.model_id, emb, digest)
            self.embeddings = emb
            self.status.setText(warning or f"{len(emb.instance_ids)} objects ready ({backend.model_id})")
            if self._pending_label:
                self._pending_label = False
                self.label_all()
            if self.edit.text().strip():
                self.run_now()

        def finished() -> None:
            self.job = None
            self._update_enabled()

        job.done.connect(finished)
        if self._run_job is not None:
            return self._run_job(job, done, "Computing CLIP features", "Cannot compute CLIP features")
        job.succeeded.connect(done)
        job.failed.connect(lambda exc: self.status.setText(f"CLIP features failed: {exc}"))
        job.cancelled.connect(lambda: self.status.setText("Cancelled"))
        job.start()
        return True

    # ----------------------------------------------------------------------------------- query
    def run_now(self) -> None:
        self._timer.stop()
        text = self.edit.text()
        if self.scene is None:
            return
        if not text.strip():
            self.result = None
            self._show_rows([])
            self.status.setText("")
            self.highlight_changed.emit({})
            return
        if not self.ready():
            self.prepare()
            return
        self.config = QueryConfig(threshold=float(self.threshold.value()))
        try:
            self.result = run_query(self.embeddings, text, self.backend, self.config)
        except QueryError as exc:
            self.result = None
            self._show_rows([])
            self.status.setText(str(exc))
            self.highlight_changed.emit({})
            return
        rows = self.result.rows()
        self._show_rows(rows)
        note = "; ".join(self.result.warnings)
        self.status.setText(self.result.summary(len(rows)) + (f" ({note})" if note else ""))
        self.highlight_changed.emit(highlight_overlay(self.result))

    def _show_rows(self, rows: list[Row]) -> None:
        self.table.setRowCount(0)
        if self.scene is None:
            return
        several = self.result is not None and len(self.result.phrases) > 1
        overlay = highlight_overlay(self.result) if self.result is not None else {}
        self.table.setRowCount(len(rows))
        bold = QFont()
        bold.setBold(True)
        for r, row in enumerate(rows):
            iid = row.instance
            inst = self.scene.instances.get(iid)
            name = inst.name if inst is not None else f"instance {iid}"
            if several:
                name = f"{name}  ({self.result.phrases[row.phrase].phrase})"
            texts = [str(r + 1), name, f"{row.score:.3f}", _VERDICT_TEXT.get(row.verdict, "")]
            items = [QTableWidgetItem(t) for t in texts]
            for item in items:
                item.setData(ID_ROLE, int(iid))
                item.setToolTip(f"score {row.score:.3f}, {row.relative:+.1f} spreads from the scene's median")
            items[2].setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if iid in overlay:
                colour = overlay[iid] if not several else phrase_colour(row.phrase)
                items[0].setBackground(QColor(*colour))
                for item in items:
                    item.setFont(bold)
            elif row.verdict == WEAK:  # a best guess: above the rest, below a match
                _mark_weak(items, muted=False)
            else:  # not a match whatever its score: muted below the guesses (it looked the surer one)
                for item in items:
                    item.setForeground(NO_MATCH_GREY)
            for c, item in enumerate(items):
                self.table.setItem(r, c, item)

    def verdicts(self) -> list[str]:
        """The Match column, top to bottom ("match", "weak" or "")."""
        return [self.table.item(r, 3).text() for r in range(self.table.rowCount())]

    def ranked_ids(self) -> list[int]:
        return [int(self.table.item(r, 0).data(ID_ROLE)) for r in range(self.table.rowCount())]

    def _on_row_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows and self._select is not None:
            self._select(int(self.table.item(rows[0].row(), 0).data(ID_ROLE)))

    # -------------------------------------------------------------------------------- labelling
    def _vocabulary(self) -> tuple[str, list[str]] | None:
        """The chosen class list; None when the user cancels the file dialog or the list cannot be read
        (then the status says why)."""
        from app.errors import UserError
        from app.semantics.vocab import load_vocabulary

        key = self.vocabulary.currentData()
        if key == "file":
            path, _ = QFileDialog.getOpenFileName(
                self, "Class list (one per line)", "", "Text (*.txt);;All (*)"
            )
            if not path:
                return None
            key = str(Path(path))
        try:
            return load_vocabulary(key)
        except UserError as exc:
            self.status.setText(str(exc))
            return None

    def label_all(self) -> None:
        if self.scene is None:
            return
        backend = self.label_backend.currentData()
        if backend in ("vlm", "vlm-vocab"):
            self._label_with_vlm(backend == "vlm-vocab")
            return
        if not self.ready():
            self._pending_label = True
            self.prepare()
            return
        from app.semantics.labeling import label_instances, store_suggestions

        vocab = self._vocabulary()
        if vocab is None:
            return
        name, classes = vocab
        suggestions = label_instances(self.embeddings, classes, self.backend)
        n = store_suggestions(self.scene, suggestions, name, self.backend.model_id)
        self.show_suggestions(suggestions, f"from {name} ({len(classes)} classes)", n)

    def show_suggestions(self, suggestions, source: str, n: int) -> None:
        """List the stored label suggestions (weak ones marked) for Accept."""
        self.result = None
        self.tabs.setCurrentIndex(0)
        self.table.setRowCount(len(suggestions))
        for r, s in enumerate(sorted(suggestions, key=lambda s: (s.weak, -s.score, s.instance_id))):
            inst = self.scene.instances[s.instance_id]
            texts = [str(r + 1), f"{inst.name} → {s.label}", f"{s.score:.3f}", WEAK if s.weak else ""]
            items = [QTableWidgetItem(t) for t in texts]
            if s.weak:
                _mark_weak(items)
            for c, item in enumerate(items):
                item.setData(ID_ROLE, s.instance_id)
                self.table.setItem(r, c, item)
        n_weak = sum(s.weak for s in suggestions)
        self.accept_button.setEnabled(n > n_weak)
        if n_weak == n:
            tail = "all weak (not confident relative to the scene), so none to accept"
        elif n_weak:
            tail = f"{n - n_weak} confident, {n_weak} weak; Accept keeps the confident ones"
        else:
            tail = "accept to keep them"
        self.status.setText(f"{n} objects labelled {source}: {tail}")
        self.labels_suggested.emit(n)

    def _label_with_vlm(self, use_vocabulary: bool) -> None:
        classes = None
        if use_vocabulary:
            vocab = self._vocabulary()
            if vocab is None:
                return
            classes = vocab[1]
        if self.ask.configured() is None:
            self.tabs.setCurrentWidget(self.ask)
            return
        self.ask.name_all(classes)
        self.status.setText("Naming the objects with the VLM (see the Ask tab; Cancel there)…")

    def _vlm_names(self, result) -> None:
        from app.semantics.ask import name_suggestions
        from app.semantics.labeling import store_suggestions

        if self.scene is None or result.error:
            self.status.setText(f"The VLM named nothing: {result.error}" if result.error else "")
            return
        suggestions = name_suggestions(result)
        n = store_suggestions(self.scene, suggestions, "vlm", f"vlm:{result.model}")
        self.show_suggestions(suggestions, f"by {result.model}", n)

    def _on_tab(self, index: int) -> None:
        if self.tabs.widget(index) is self.ask:
            self.ask.refresh()  # the VLM may have been set up in Settings meanwhile
            self.highlight_changed.emit(dict(self.ask.overlay))
        else:
            self.highlight_changed.emit(highlight_overlay(self.result) if self.result is not None else {})

    def accept_all(self) -> None:
        if self.scene is None:
            return
        from app.edits import EditError
        from app.semantics.labeling import accept_labels

        try:
            edit = accept_labels(self.scene)
        except EditError as exc:
            self.status.setText(str(exc))
            return
        self._push_edit(edit)
        self.accept_button.setEnabled(False)
        self.status.setText(edit.text)


_VERDICT_TEXT = {MATCH: "match", WEAK: "weak"}


NO_MATCH_GREY = QColor(140, 140, 140)


def _mark_weak(items: list[QTableWidgetItem], muted: bool = True) -> None:
    font = QFont()
    font.setItalic(True)
    for item in items:
        item.setFont(font)
        if muted:
            item.setForeground(NO_MATCH_GREY)
        item.setToolTip("Weak: not confident relative to this scene")


def open_models_settings(window):
    """Where the banner's link leads: Settings > Models (the settings dialog's Models page)."""
    hook = getattr(window, "show_models_settings", None)
    if callable(hook):
        return hook()
    dialog = window.show_settings()
    opener = getattr(dialog, "open_models", None)
    return opener() if callable(opener) else dialog


def open_vlm_settings(window, panel: QueryPanel):
    """Settings > VLM (endpoint, model, Test connection); Ask follows the saved values."""
    from viewer.vlm_settings import VlmSettingsDialog

    dialog = VlmSettingsDialog(window.settings, window)
    dialog.saved.connect(panel.ask.refresh)
    dialog.open()
    return dialog


def install_query_panel(window) -> QueryPanel:
    """Create the panel and wire it to a MainWindow (document, selection, jobs, undo, 3D view)."""
    from viewer.vlm_settings import load_vlm_config

    panel = QueryPanel(
        select=window.selection.select,
        run_job=window.run_job,
        push_edit=window.push_edit,
        model_spec=lambda: str(window.settings.get("semantics/clip_model", "bundled")),
        parent=window,
        vlm_config=lambda: load_vlm_config(window.settings),
    )
    window.add_panel(panel, Qt.DockWidgetArea.RightDockWidgetArea, "Ctrl+F")
    window.document.scene_changed.connect(panel.set_scene)
    panel.highlight_changed.connect(lambda overlay: apply_overlay(window.view, overlay))
    panel.models_requested.connect(lambda: open_models_settings(window))
    panel.ask.settings_requested.connect(lambda: open_vlm_settings(window, panel))
    if window.document.scene is not None:
        panel.set_scene(window.document.scene)
    return panel
