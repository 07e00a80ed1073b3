"""Questions the editing tools ask the user (tests replace these small functions)."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QColorDialog,
    QDialog,
    QInputDialog,
    QMessageBox,
    QWidget,
)

from app import autosave, edits
from app.scene import Scene


def ask_recover(parent: QWidget, rec: autosave.Recoverable) -> str:
    """'recover', 'discard' or 'later'."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Recover unsaved changes?")
    box.setText("IGGT Viewer did not close properly last time.")
    box.setInformativeText(f"Recover the unsaved changes to {rec.describe()}?")
    recover = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    clicked = box.clickedButton()
    return "recover" if clicked is recover else "discard" if clicked is discard else "later"


def ask_text(parent: QWidget, title: str, label: str, value: str) -> str | None:
    text, ok = QInputDialog.getText(parent, title, label, text=value)
    return text if ok else None


def ask_category(parent: QWidget, vocabulary: list[str], current: str | None) -> str | None:
    items = list(vocabulary)
    if current and current not in items:
        items.insert(0, current)
    index = items.index(current) if current in items else 0
    text, ok = QInputDialog.getItem(parent, "Set category", "Category (pick or type):", items, index, True)
    return text if ok else None


def ask_colour(parent: QWidget, current: tuple[int, int, int]) -> tuple[int, int, int] | None:
    colour = QColorDialog.getColor(QColor(*current), parent, "Instance colour")
    return (colour.red(), colour.green(), colour.blue()) if colour.isValid() else None


def ask_split_parts(parent: QWidget, name: str) -> int | None:
    k, ok = QInputDialog.getInt(parent, "Split instance", f"Split {name} into how many parts?", 2, 2, 16)
    return k if ok else None


def ask_merge_partners(parent: QWidget, scene: Scene, instance_id: int) -> list[int]:
    from viewer.merge_dialog import MergeDialog, view_preview

    view = getattr(parent, "view", None)
    preview = view_preview(view) if view is not None else None
    dialog = MergeDialog(scene, instance_id, edits.merge_candidates(scene, instance_id), preview, parent)
    return dialog.checked() if dialog.exec() == QDialog.DialogCode.Accepted else []


def ask_restore(parent: QWidget, deleted: list) -> int | None:
    if not deleted:
        return None
    names = [f"{inst.name} (id {inst.id})" for inst in deleted]
    text, ok = QInputDialog.getItem(
        parent, "Restore deleted instance", "Instance:", names, len(names) - 1, False
    )
    return deleted[names.index(text)].id if ok else None


def ask_replace_edits(parent: QWidget, texts: list[str]) -> bool:
    """Whether a re-clustering may replace the instances the user has edited (``texts``: those edits)."""
    more = f"\n… and {len(texts) - 6} more" if len(texts) > 6 else ""
    listed = "\n".join(f"• {t}" for t in texts[-6:]) + more
    box = QMessageBox(QMessageBox.Icon.Question, "Re-cluster the edited instances?",
                      f"Re-clustering makes new instances; these {len(texts)} edits would be replaced:\n"
                      f"{listed}\n\nUndo (Ctrl+Z) brings them back.",
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, parent)
    box.setObjectName("replace_edits_dialog")
    box.button(QMessageBox.StandardButton.Yes).setText("Re-cluster")
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    return box.exec() == QMessageBox.StandardButton.Yes
