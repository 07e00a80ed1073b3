"""Tab groups of the main window's dock panels, made in code once the window is shown."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow, QTabBar


def tabify_groups(window: QMainWindow, groups: list[list[QDockWidget]]) -> None:
    """Stack each group's docks as tabs (the first stays in front) and hide the tab bars Qt leaves behind.

    Qt (seen with 6.12) makes two tab bars for one ``tabifyDockWidget`` call in a window whose docks are
    laid out, lays out only one of them, and sometimes leaves the other on screen with the group's old
    tabs: a second "Instance" tab that stays where it is when the real one moves. Restoring a saved layout
    (every start after the first) does the same with the group's own tabs. Once the layout has been
    applied (the next turn of the event loop), every tab bar Qt no longer lays out is hidden.
    """
    for first, *rest in groups:
        for dock in rest:
            window.tabifyDockWidget(first, dock)
        first.raise_()
    QTimer.singleShot(0, window, lambda: hide_stray_tab_bars(window))


def _dock_bars(window: QMainWindow) -> list[QTabBar]:
    return [b for b in window.findChildren(QTabBar) if b.parent() is window and b.isVisible()]


def hide_stray_tab_bars(window: QMainWindow) -> list[QTabBar]:
    """Hide the window's dock tab bars that are not the one Qt lays out for a tab group; return them.

    A stray bar shows tabs that are not a whole group, or the same tabs as the real bar of a group. The
    real one is told apart by bringing another tab of the group to the front: Qt moves only its own bar
    to that tab (the group's front tab is put back at once)."""
    docks = {d.windowTitle(): d for d in window.findChildren(QDockWidget)}
    stray, by_tabs = [], {}
    for bar in _dock_bars(window):
        titles = [bar.tabText(i) for i in range(bar.count())]
        first = docks.get(titles[0] if titles else "")
        group = set()
        if first is not None:
            group = {first.windowTitle(), *(d.windowTitle() for d in window.tabifiedDockWidgets(first))}
        if set(titles) != group:
            bar.hide()
            stray.append(bar)
        else:
            by_tabs.setdefault(tuple(sorted(titles)), []).append(bar)
    for titles, bars in by_tabs.items():
        if len(bars) < 2 or len(titles) < 2:  # one bar for the group, or one tab: nothing to tell apart
            continue
        group = [docks[t] for t in titles]
        front = next((d for d in group if not d.visibleRegion().isEmpty()), group[0])
        other = next(d for d in group if d is not front)
        with QSignalBlocker(front), QSignalBlocker(other):  # a probe, not a change the panels answer
            other.raise_()
            real = [b for b in bars if b.tabText(b.currentIndex()) == other.windowTitle()]
            front.raise_()
        if len(real) == 1:
            for bar in bars:
                if bar is not real[0]:
                    bar.hide()
                    stray.append(bar)
    return stray
