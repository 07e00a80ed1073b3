"""Ask mode of the Find panel: a yes/no question about the scene's objects, answered by a vision-language
model (``app.semantics.ask``); the objects answered yes light up in 3D and are listed with the model's
reason and the views it was shown. Also names every object with the VLM for Label all.

Nothing is sent until the user presses Ask (or Label all with the VLM); Cancel stops the requests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.scene import Scene
from app.semantics.ask import DEFAULT_TOP, AnswerCache, AskResult
from app.semantics.vlm_client import VlmConfig
from viewer.panels.narrow import wrap_to_fit
from viewer.workers import Job

ID_ROLE = Qt.ItemDataRole.UserRole + 1
YES_COLOUR = (80, 200, 110)

ClipSource = Callable[[], tuple[Any, Any] | None]  # (backend, embeddings) when the Find panel has them


def _ask_step(scene: Scene, question: str, config: VlmConfig, top: int, cache: AnswerCache,
              clip: tuple[Any, Any] | None, clip_spec: str, kind: str = "ask",
              vocabulary: list[str] | None = None):  # fmt: skip
    """Worker step: pre-rank with CLIP when the scene has more than ``top`` objects, then ask."""

    def factory(_cancelled):
        from app.progress import Progress
        from app.semantics.ask import clip_order, iter_ask, rank_candidates
        from app.semantics.vlm_client import VlmClient

        clip_rank = None
        if len(scene.instances) > top and kind == "ask":
            if clip is not None:
                backend, emb = clip
            else:
                from app.semantics.backends import load_backend_or_bundled
                from app.semantics.scene_embeddings import cached_embeddings, iter_compute

                yield Progress("ask", "ranking the objects with CLIP", 0.0, 0.0)
                backend = load_backend_or_bundled(clip_spec).backend
                emb = cached_embeddings(scene, backend.model_id)
                if emb is None:
                    emb, _ = yield from iter_compute(scene, backend)
            clip_rank = clip_order(emb, question, backend)
        candidates = rank_candidates(scene, top if kind == "ask" else len(scene.instances), clip_rank)
        client = VlmClient(config)
        try:
            return (yield from iter_ask(scene, question, client, candidates, cache, kind, vocabulary))
        finally:
            client.close()

    return factory


class AskPane(QWidget):
    highlight_changed = Signal(object)  # dict[int, (r, g, b)]
    names_ready = Signal(object)  # AskResult of a naming run (for Label all's accept flow)
    settings_requested = Signal()

    def __init__(
        self,
        select: Callable[[int | None], None] | None = None,
        vlm_config: Callable[[], VlmConfig | None] = lambda: None,
        clip: ClipSource = lambda: None,
        clip_spec: Callable[[], str] = lambda: "bundled",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("ask_pane")
        self._select = select
        self._vlm_config = vlm_config
        self._clip = clip
        self._clip_spec = clip_spec
        self.scene: Scene | None = None
        self.cache = AnswerCache()
        self.job: Job | None = None
        self.result: AskResult | None = None
        self.overlay: dict[int, tuple[int, int, int]] = {}

        layout = QVBoxLayout(self)
        self.note = QLabel(self)
        self.note.setObjectName("ask_note")
        self.note.setWordWrap(True)
        self.note.setTextFormat(Qt.TextFormat.RichText)
        self.note.linkActivated.connect(lambda _l: self.settings_requested.emit())
        layout.addWidget(self.note)
        self.question = QLineEdit(self)
        self.question.setObjectName("ask_question")
        self.question.setPlaceholderText("Ask: which object can I sit on?")
        self.question.setToolTip("A yes/no question, put to the VLM about each of the best-matching objects")
        layout.addWidget(self.question)
        row = QHBoxLayout()
        row.addWidget(QLabel("Objects", self))
        self.top = QSpinBox(self)
        self.top.setObjectName("ask_top")
        self.top.setRange(1, 64)
        self.top.setValue(DEFAULT_TOP)
        self.top.setToolTip("How many objects to ask about (CLIP picks the best candidates)")
        row.addWidget(self.top)
        row.addStretch(1)
        self.ask_button = QPushButton("Ask", self)
        self.ask_button.setObjectName("ask_button")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("ask_cancel")
        self.cancel_button.setEnabled(False)
        row.addWidget(self.ask_button)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        for button in (self.ask_button, self.cancel_button):  # as narrow as their text: the row fits 300 px
            button.setMinimumWidth(button.fontMetrics().horizontalAdvance(button.text()) + 24)
        self.table = QTableWidget(0, 4, self)
        self.table.setObjectName("ask_results")
        self.table.setHorizontalHeaderLabels(["Instance", "Answer", "Reason", "Views"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()  # fits the panel's width: names and reasons are elided
        stretch, fit = QHeaderView.ResizeMode.Stretch, QHeaderView.ResizeMode.ResizeToContents
        for column, mode in enumerate((stretch, fit, stretch, fit)):  # Instance, Answer, Reason, Views
            header.setSectionResizeMode(column, mode)
        layout.addWidget(self.table, 1)
        self.status = QLabel("", self)
        self.status.setObjectName("ask_status")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        for label in (self.note, self.status):
            wrap_to_fit(label)

        self.ask_button.clicked.connect(self.ask)
        self.question.returnPressed.connect(self.ask)
        self.cancel_button.clicked.connect(self.cancel)
        self.table.itemSelectionChanged.connect(self._on_row_selected)
        self.refresh()

    # ---------------------------------------------------------------------------------------- state
    def set_scene(self, scene: Scene | None) -> None:
        self.cancel()
        self.scene = scene
        self.result = None
        self.table.setRowCount(0)
        self.overlay = {}
        self.status.setText("")
        self.refresh()

    def configured(self) -> VlmConfig | None:
        return self._vlm_config()

    def refresh(self) -> None:
        """Enable Ask only with a scene and a configured VLM; otherwise say what is missing."""
        config = self.configured()
        if config is None:
            self.note.setText(
                'No vision-language model is set up. <a href="settings">Set the VLM endpoint and model…</a> '
                "(any OpenAI-compatible server: vLLM, Ollama, LM Studio)."
            )
        else:
            self.note.setText(f'Asks {config.model} at {config.chat_url} (<a href="settings">change…</a>). '
                              "Images are sent only when you press Ask.")  # fmt: skip
        ok = config is not None and self.scene is not None and bool(self.scene.instances)
        self.question.setEnabled(ok)
        self.top.setEnabled(ok)
        self.ask_button.setEnabled(ok and self.job is None)
        self.cancel_button.setEnabled(self.job is not None)

    # ------------------------------------------------------------------------------------------ run
    def ask(self) -> bool:
        return self._start("ask", self.question.text())

    def name_all(self, vocabulary: list[str] | None = None) -> bool:
        """Name every object with the VLM (a free name, or a choice from ``vocabulary``)."""
        return self._start("name", "", vocabulary)

    def _start(self, kind: str, question: str, vocabulary: list[str] | None = None) -> bool:
        config = self.configured()
        if self.scene is None or config is None or self.job is not None:
            return False
        if kind == "ask" and not question.strip():
            self.status.setText("Type a yes/no question first, e.g. “can I sit on it?”")
            return False
        from app.semantics.vlm_client import VlmError

        try:
            config.validate()
        except VlmError as exc:
            self.status.setText(str(exc))
            return False
        top = int(self.top.value())
        step = _ask_step(self.scene, question, config, top, self.cache, self._clip(), self._clip_spec(),
                         kind, vocabulary)  # fmt: skip
        job = Job("vlm-ask" if kind == "ask" else "vlm-name", step, self)
        self.job = job
        scene = self.scene
        what = f"Asking {config.model}…" if kind == "ask" else f"Naming the objects with {config.model}…"
        self.status.setText(what)
        job.progress.connect(lambda event: self.status.setText(getattr(event, "message", str(event))))
        job.succeeded.connect(lambda result: self._finished(result, scene, kind))
        job.failed.connect(lambda exc: self.status.setText(f"Ask failed: {exc}"))
        job.cancelled.connect(lambda: self.status.setText("Cancelled: no further requests are sent"))
        job.done.connect(self._job_done)
        self.refresh()
        job.start()
        return True

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _job_done(self) -> None:
        self.job = None
        self.refresh()

    def _finished(self, result: AskResult, scene: Scene, kind: str) -> None:
        if scene is not self.scene:
            return
        if kind == "name":
            self.names_ready.emit(result)
            named = sum(a.answer is not None for a in result.answers)
            text = f"{named} of {len(result.answers)} objects named by {result.model}"
            text += f" ({result.requests} requests)"
            self.status.setText(f"No names: {result.error}" if result.error else text)
            return
        self.result = result
        self._show(result)
        yes = result.yes
        self.overlay = {i: YES_COLOUR for i in yes}
        self.highlight_changed.emit(dict(self.overlay))
        if result.error:
            self.status.setText(f"No answers: {result.error}")
        else:
            unanswered = sum(a.answer is None for a in result.answers)
            tail = f"; {unanswered} no answer" if unanswered else ""
            self.status.setText(f"{len(yes)} of {len(result.answers)} objects: yes{tail} "
                                f"({result.requests} requests to {result.model})")  # fmt: skip

    def _show(self, result: AskResult) -> None:
        order = {"yes": 0, "no": 1, None: 2}
        answers = sorted(result.answers, key=lambda a: order.get(a.answer, 2))
        self.table.setRowCount(len(answers))
        bold = QFont()
        bold.setBold(True)
        for r, a in enumerate(answers):
            inst = self.scene.instances.get(a.instance) if self.scene is not None else None
            name = inst.name if inst is not None else f"instance {a.instance}"
            texts = [name, a.answer or "no answer", a.reason, ", ".join(str(v + 1) for v in a.views)]
            items = [QTableWidgetItem(t) for t in texts]
            for item in items:
                item.setData(ID_ROLE, a.instance)
                item.setToolTip(a.reason)
            if a.answer == "yes":
                items[1].setBackground(QColor(*YES_COLOUR))
                for item in items:
                    item.setFont(bold)
            for c, item in enumerate(items):
                self.table.setItem(r, c, item)

    def answers_shown(self) -> list[tuple[int, str]]:
        return [(int(self.table.item(r, 0).data(ID_ROLE)), self.table.item(r, 1).text())
                for r in range(self.table.rowCount())]  # fmt: skip

    def _on_row_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows and self._select is not None:
            self._select(int(self.table.item(rows[0].row(), 0).data(ID_ROLE)))
