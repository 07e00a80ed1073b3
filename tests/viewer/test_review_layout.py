"""The Review panel fits the right column of a 1280x800 or 1280x720 window (beside the photos) without a
vertical scroll bar: at least two rows of the queue, the reasons (cut to three lines, all of them in the
tooltip), the mask strip and every button. Real window with the app's panels and layout."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication, QScrollArea

from viewer.main import install_features
from viewer.review_panel import REASON_LINES


def _settle() -> None:
    for _ in range(3):  # layout requests post further ones (the scroll area sizes its body after it)
        QApplication.sendPostedEvents()
        QApplication.processEvents()


@pytest.mark.parametrize("height", [800, 720])
def test_the_review_panel_fits_a_1280_px_wide_window(sample_truth_window, qtbot, height) -> None:
    """At 720 px (a small laptop's screen, or 800 less a title bar and a task bar) Build queue gives the
    panel the room it needs from the photos below."""
    window, scene = sample_truth_window
    window.resize(1280, height)
    install_features(window)
    panel = window.review_panel
    panel.show()
    panel.raise_()
    panel.build_queue()
    qtbot.waitUntil(lambda: window.job is None and bool(panel.items) and not panel.ranking, timeout=120_000)
    scroll = panel.widget()
    assert isinstance(scroll, QScrollArea)  # the window's guard against a panel taller than the screen
    body = scroll.widget()
    _settle()
    assert window.size().toTuple() == (1280, height) and scroll.viewport().height() < 300

    # the longest reasons this room's queue could show: four kinds at once, and a long name
    item = panel.current_item()
    long = ": " + "; ".join([
        "low consistency 0.10", "mixed up with the brown wooden cabinet by the window",
        "looks like two objects: its features fall into two groups (57% / 42%, 4.5 std apart) side by side",
        "touches the tan table in the middle of the room with close features (0.97)"])  # fmt: skip
    shown = (scene.instances[item.instance_id].name, f": {item.reason_text}")
    for head, rest in (shown, ("red chair 2", long)):
        panel.reason.set_reason(head, rest)
        _settle()
        assert body.height() <= scroll.viewport().height()
        assert scroll.verticalScrollBar().maximum() == 0 and not scroll.verticalScrollBar().isVisible()
        lines = panel.reason.height() // panel.reason.fontMetrics().lineSpacing()
        assert 1 <= lines <= REASON_LINES
        assert panel.list.viewport().height() >= 2 * panel.list.sizeHintForRow(0)
        strip = panel.findChild(QScrollArea, "review_strip")
        assert strip.isVisible() and strip.height() >= strip.widget().sizeHint().height()
        for button in panel.buttons.values():
            assert button.isVisible() and button.visibleRegion().boundingRect().height() == button.height()
    assert panel.reason.toolTip() == "red chair 2" + long  # cut on screen, whole in the tooltip
