"""The Scans panel: the scans of an `iggt batch` output folder, opened one after another.

File > Open batch… picks an OUT_DIR; the panel lists its manifest's scans (status, instances, mean
cross-view consistency, views, seconds, the error of a failed one) and follows the manifest while a batch
is still writing it. Double-click (or Enter) opens a scan; Next/Previous scan (Alt+PgDown / Alt+PgUp)
open the neighbouring done scans. `install(window)` is the whole hook into the main window.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, Qt, Signal
from PySide6.QtGui import QAction, QFont, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.batch_manifest import DONE, ScanRecord, manifest_path, read_manifest
from app.batch_scans import OUTPUT_SUFFIX

COLUMNS = ("Scan", "Status", "Instances", "Consistency", "Views", "Seconds")
LAST_BATCH_KEY = "batch/last_dir"


class ScansPanel(QDockWidget):
    open_requested = Signal(Path)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Scans", parent)
        self.setObjectName("scans_panel")
        self.out_dir: Path | None = None
        self.records: list[ScanRecord] = []
        self.current: int | None = None  # row of the scan opened last
        self.settings = None  # AppSettings, given by actions_for
        body = QWidget(self)
        self.header = QLabel("No batch open: File > Open batch…", body)
        self.header.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS), body)
        self.table.setObjectName("scans_table")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.cellActivated.connect(lambda row, _col: self.open_row(row))
        self.table.cellDoubleClicked.connect(lambda row, _col: self.open_row(row))
        self.previous_button = QPushButton("Previous", body)
        self.next_button = QPushButton("Next", body)
        self.previous_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))
        buttons = QHBoxLayout()
        buttons.addWidget(self.previous_button)
        buttons.addWidget(self.next_button)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.setWidget(body)
        self.watcher = QFileSystemWatcher(self)
        self.watcher.fileChanged.connect(lambda _p: self.refresh())
        self.watcher.directoryChanged.connect(lambda _p: self.refresh())
        self._update_buttons()

    # ---------------------------------------------------------------------------------- contents
    def load(self, out_dir: Path) -> bool:
        """Show the batch in ``out_dir``; False (and a note in the panel) when it has no manifest."""
        out_dir = Path(out_dir)
        if not manifest_path(out_dir).is_file():
            self.header.setText(f"{out_dir} has no batch manifest ({manifest_path(out_dir).name}); "
                                "run iggt batch with -o to that folder")  # fmt: skip
            return False
        self.out_dir, self.current = out_dir, None
        for paths in (self.watcher.files(), self.watcher.directories()):
            if paths:
                self.watcher.removePaths(paths)
        self.watcher.addPaths([str(manifest_path(out_dir)), str(out_dir)])
        self.refresh()
        return True

    def refresh(self) -> None:
        """Read the manifest again (a running batch appends to it), keeping the current scan."""
        if self.out_dir is None:
            return
        current = None if self.current is None else self.records[self.current].scan
        self.records = sorted(read_manifest(manifest_path(self.out_dir)).values(), key=lambda r: r.scan)
        names = [r.scan for r in self.records]
        self.current = names.index(current) if current in names else None
        self.table.setRowCount(len(self.records))
        for row, rec in enumerate(self.records):
            consistency = "" if rec.consistency is None else f"{rec.consistency:.2f}"
            cells = (rec.scan, rec.status, str(rec.instances) if rec.status == DONE else "", consistency,
                     str(rec.views or ""), f"{rec.seconds:.0f}")  # fmt: skip
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(rec.error or str(self.output(rec)))
                if col >= 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if row == self.current:
                    font = QFont(item.font())
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        done = sum(r.status == DONE for r in self.records)
        self.header.setText(f"{self.out_dir}: {done} done, {len(self.records) - done} failed")
        self._update_buttons()

    def output(self, record: ScanRecord) -> Path:
        assert self.out_dir is not None
        return self.out_dir / f"{record.scan}{OUTPUT_SUFFIX}"

    def _openable(self, row: int) -> bool:
        rec = self.records[row]
        return rec.status == DONE and self.output(rec).is_file()

    # ---------------------------------------------------------------------------------- navigation
    def open_row(self, row: int) -> bool:
        if not 0 <= row < len(self.records) or not self._openable(row):
            rec = self.records[row] if 0 <= row < len(self.records) else None
            if rec is not None:
                self.header.setText(f"{rec.scan} cannot be opened: "
                                    + (rec.error or "its file is missing"))  # fmt: skip
            return False
        self.current = row
        self.table.selectRow(row)
        self.refresh()
        self.open_requested.emit(self.output(self.records[row]))
        return True

    def neighbour(self, delta: int) -> int | None:
        """The next (delta 1) or previous (-1) done scan from the current one."""
        start = self.current if self.current is not None else (-1 if delta > 0 else len(self.records))
        row = start + delta
        while 0 <= row < len(self.records):
            if self._openable(row):
                return row
            row += delta
        return None

    def step(self, delta: int) -> bool:
        row = self.neighbour(delta)
        return row is not None and self.open_row(row)

    # ---------------------------------------------------------------------------------- menu
    def actions_for(self, settings) -> list[QAction]:
        """File menu actions: Open batch…, Next scan, Previous scan (``settings`` remembers the folder)."""
        self.settings = settings
        self.open_batch_action = self._action("Open &batch…", None, self.open_batch_dialog)
        self.next_action = self._action("&Next scan", "Alt+PgDown", lambda: self.step(1))
        self.previous_action = self._action("&Previous scan", "Alt+PgUp", lambda: self.step(-1))
        return [self.open_batch_action, self.next_action, self.previous_action]

    def _action(self, text: str, shortcut: str | None, slot) -> QAction:
        act = QAction(text, self.parent())
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
        act.triggered.connect(slot)
        return act

    def open_batch_dialog(self) -> None:
        start = self.settings.get(LAST_BATCH_KEY, str(Path.home())) if self.settings else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open batch output folder", start)
        if folder:
            self.open_batch(Path(folder))

    def open_batch(self, folder: Path) -> bool:
        """Show the panel with the batch in ``folder`` (an ``iggt batch -o`` folder)."""
        self.show()
        self.raise_()
        if not self.load(folder):
            return False
        if self.settings is not None:
            self.settings.set(LAST_BATCH_KEY, str(folder))
        return True

    def _update_buttons(self) -> None:
        loaded = self.out_dir is not None
        self.previous_button.setEnabled(loaded and self.neighbour(-1) is not None)
        self.next_button.setEnabled(loaded and self.neighbour(1) is not None)


def install(window) -> ScansPanel:
    """Add the Scans panel, File > Open batch… and Next/Previous scan to ``window`` (a MainWindow)."""
    panel = ScansPanel(window)
    window.add_panel(panel, Qt.DockWidgetArea.RightDockWidgetArea)
    panel.hide()
    panel.open_requested.connect(window.open_path)
    file_menu, before = window.menus["file"], window.actions_["open_sample"]
    for act in panel.actions_for(window.settings):
        file_menu.insertAction(before, act)
        window.addAction(act)
    return panel
