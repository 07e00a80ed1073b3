"""History dock: every edit of the scene in order; clicking an entry undoes or redoes up to it. Edits
saved with the scene in an earlier session are listed above, as what the scene was opened with."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtWidgets import QDockWidget, QLabel, QUndoView, QVBoxLayout, QWidget

from app.edit_record import history_of
from viewer.commands import EditStack

EMPTY_LABEL = "Opened scene"


class HistoryPanel(QDockWidget):
    def __init__(self, stack: EditStack, parent: QWidget | None = None) -> None:
        super().__init__("History", parent)
        self.setObjectName("history_panel")
        self.stack = stack
        body = QWidget(self)
        self.saved = QLabel("", body)
        self.saved.setObjectName("saved_history")
        self.saved.setWordWrap(True)
        self.saved.setVisible(False)
        self.view = QUndoView(stack, body)
        self.view.setObjectName("history_view")
        self.view.setEmptyLabel(EMPTY_LABEL)
        self.view.setToolTip("Click an entry to go back (or forward) to that point; Ctrl+Z / Ctrl+Shift+Z")
        self.hint = QLabel("Edits appear here; they are saved with the scene (undo reaches back to "
                           "when it was opened).", body)
        self.hint.setWordWrap(True)
        self.hint.setEnabled(False)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.saved)
        layout.addWidget(self.view)
        layout.addWidget(self.hint)
        self.setWidget(body)
        self._saved_texts: list[str] = []

    def set_saved_history(self, edit_log: Iterable[Mapping[str, Any]]) -> None:
        """Show the edits an opened scene was saved with (they cannot be undone in this session)."""
        self._saved_texts = history_of(edit_log)
        texts = self._saved_texts
        shown = texts[-12:]
        more = f"… and {len(texts) - len(shown)} earlier\n" if len(texts) > len(shown) else ""
        self.saved.setText(f"Saved with the scene ({len(texts)} edits):\n{more}" + "\n".join(shown))
        self.saved.setVisible(bool(texts))

    def saved_entries(self) -> list[str]:
        return list(self._saved_texts)

    def entries(self) -> list[str]:
        """The texts listed, starting with the empty state's label."""
        model = self.view.model()
        return [model.index(r, 0).data() for r in range(model.rowCount())]
