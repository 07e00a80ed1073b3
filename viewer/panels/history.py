"""History dock: every edit of the scene in order; clicking an entry undoes or redoes up to it."""

from __future__ import annotations

from PySide6.QtWidgets import QDockWidget, QLabel, QUndoView, QVBoxLayout, QWidget

from viewer.commands import EditStack

EMPTY_LABEL = "Opened scene"


class HistoryPanel(QDockWidget):
    def __init__(self, stack: EditStack, parent: QWidget | None = None) -> None:
        super().__init__("History", parent)
        self.setObjectName("history_panel")
        self.stack = stack
        body = QWidget(self)
        self.view = QUndoView(stack, body)
        self.view.setObjectName("history_view")
        self.view.setEmptyLabel(EMPTY_LABEL)
        self.view.setToolTip("Click an entry to go back (or forward) to that point; Ctrl+Z / Ctrl+Shift+Z")
        self.hint = QLabel("Edits appear here; they are saved with the scene.", body)
        self.hint.setWordWrap(True)
        self.hint.setEnabled(False)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.view)
        layout.addWidget(self.hint)
        self.setWidget(body)

    def entries(self) -> list[str]:
        """The texts listed, starting with the empty state's label."""
        model = self.view.model()
        return [model.index(r, 0).data() for r in range(model.rowCount())]
