"""What the window shows when nothing is open: a short invitation and the obvious buttons; while the first
scene is being built (e.g. the sample room on the first start), the run itself: stage, progress, Cancel."""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

EMPTY_TEXT = "Open an image folder or a scene"
HINT_TEXT = "…or drop a folder of photos or an .iggt scene file onto this window."


class EmptyStatePanel(QWidget):
    open_folder_requested = Signal()
    open_scene_requested = Signal()
    open_sample_requested = Signal()
    open_recent_requested = Signal(str)
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("empty_state")
        self.icon = QLabel(self)
        self.icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel(EMPTY_TEXT, self)
        self.title.setObjectName("empty_state_title")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        self.title.setFont(font)
        self.hint = QLabel(HINT_TEXT, self)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setEnabled(False)

        self.folder_button = QPushButton("Open image folder…", self)
        self.scene_button = QPushButton("Open scene…", self)
        self.sample_button = QPushButton("Open sample room", self)
        self.folder_button.clicked.connect(self.open_folder_requested)
        self.scene_button.clicked.connect(self.open_scene_requested)
        self.sample_button.clicked.connect(self.open_sample_requested)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (self.folder_button, self.scene_button, self.sample_button):
            b.setMinimumHeight(34)
            buttons.addWidget(b)
        buttons.addStretch(1)

        self.run_box = QWidget(self)
        self.run_box.setObjectName("empty_state_run")
        self.run_stage = QLabel("", self.run_box)
        self.run_stage.setObjectName("empty_state_stage")
        self.run_stage.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.run_stage.setWordWrap(True)
        self.run_progress = QProgressBar(self.run_box)
        self.run_progress.setObjectName("empty_state_progress")
        self.run_progress.setRange(0, 1000)
        self.run_progress.setMinimumWidth(360)
        self.run_progress.setMaximumWidth(560)
        self.run_cancel = QPushButton("Cancel", self.run_box)
        self.run_cancel.setObjectName("empty_state_cancel")
        self.run_cancel.clicked.connect(self.cancel_requested)
        run_row = QHBoxLayout()
        run_row.addStretch(1)
        run_row.addWidget(self.run_progress, 4)
        run_row.addWidget(self.run_cancel)
        run_row.addStretch(1)
        run_layout = QVBoxLayout(self.run_box)
        run_layout.addWidget(self.run_stage)
        run_layout.addLayout(run_row)
        self.run_box.setVisible(False)

        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(self.icon)
        layout.addSpacing(12)
        layout.addWidget(self.title)
        layout.addWidget(self.hint)
        layout.addSpacing(18)
        layout.addLayout(buttons)
        layout.addWidget(self.run_box)
        self.recent_title = QLabel("Recent", self)
        self.recent_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.recent = QListWidget(self)
        self.recent.setObjectName("recent_list")
        self.recent.setMaximumWidth(560)
        self.recent.setMaximumHeight(130)
        self.recent.itemActivated.connect(lambda item: self.open_recent_requested.emit(item.toolTip()))
        self.recent.itemClicked.connect(lambda item: self.open_recent_requested.emit(item.toolTip()))
        layout.addSpacing(18)
        layout.addWidget(self.recent_title)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.recent, 4)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(3)
        self.set_recent([])
        self.set_icon_color(None)

    @property
    def running(self) -> bool:
        return not self.run_box.isHidden()

    def show_run(self, text: str) -> None:
        """A job that makes the first scene started: show it here instead of the invitation."""
        self.title.setText(text)
        self.hint.setText("The photos are being reconstructed on this computer; Esc or Cancel stops it.")
        self.run_stage.setText("Starting…")
        self.run_progress.setValue(0)
        self.run_box.setVisible(True)
        for w in (self.folder_button, self.scene_button, self.sample_button, self.recent, self.recent_title):
            w.setVisible(False)

    def show_progress(self, stage: str, fraction: float, eta: str = "") -> None:
        self.run_stage.setText(f"{stage}   {eta}".strip())
        self.run_progress.setValue(int(max(0.0, min(fraction, 1.0)) * 1000))

    def show_idle(self, recent: list[str]) -> None:
        """No job (any more): the invitation and the buttons again."""
        self.run_box.setVisible(False)
        self.title.setText(EMPTY_TEXT)
        self.hint.setText(HINT_TEXT)
        for w in (self.folder_button, self.scene_button, self.sample_button):
            w.setVisible(True)
        self.set_recent(recent)

    def set_recent(self, paths: list[str]) -> None:
        """Show the most recent folders/scenes (click to open)."""
        from pathlib import Path

        self.recent.clear()
        for p in paths[:5]:
            item = QListWidgetItem(f"{Path(p).name}    —    {Path(p).parent}")
            item.setToolTip(p)
            self.recent.addItem(item)
        self.recent.setVisible(bool(paths) and not self.running)
        self.recent_title.setVisible(bool(paths) and not self.running)

    def set_icon_color(self, color: str | None) -> None:
        icons = {
            self.folder_button: "mdi6.folder-image",
            self.scene_button: "mdi6.cube-outline",
            self.sample_button: "mdi6.home",
        }
        kw = {"color": color} if color else {}
        for button, name in icons.items():
            button.setIcon(qta.icon(name, **kw))
        self.icon.setPixmap(qta.icon("mdi6.cube-scan", **kw).pixmap(QSize(96, 96)))
