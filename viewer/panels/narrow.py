"""Widgets that fit a narrow side panel (a quarter of a 1280 px screen) instead of making it scroll
sideways: combo boxes that shrink and elide their text, labels that wrap at the panel's width."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QLabel, QSizePolicy

MIN_COMBO_CHARS = 8


def shrink_to_fit(combo: QComboBox, chars: int = MIN_COMBO_CHARS) -> None:
    """The combo asks for about ``chars`` characters, grows with the panel, and elides a longer choice
    (the full text shows in its list)."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(chars)
    combo.setSizePolicy(QSizePolicy.Policy.Expanding, combo.sizePolicy().verticalPolicy())


def wrap_to_fit(label: QLabel) -> None:
    """A word-wrapped label never asks for more width than the panel has: a word longer than the line
    (a URL, a model path) is cut rather than widening the panel."""
    label.setWordWrap(True)
    label.setMinimumWidth(1)
