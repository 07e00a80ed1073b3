"""Tab groups of the main window's dock panels, made in code once the window is shown."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow, QTabBar


def tabify_groups(window: QMainWindow, groups: list[list[QDockWidget]]) -> None:
    """Stack each group's docks as tabs (the first stays in front) and hide the tab bars Qt leaves behind.

    Qt (seen with 6.12) makes two tab bars for one ``tabifyDockWidget`` call in a window whose docks are
    laid out, lays out only one of them, and sometimes leaves the other on screen with the group's old
    tabs: a second "Instance" tab that stays where it is when the real one moves. Once the layout has
    been applied (the next turn of the event loop), every tab bar whose tabs are not a whole group is hidden.
    """
    for first, *rest in groups:
        for dock in rest:
            window.tabifyDockWidget(first, dock)
        first.raise_()
    QTimer.singleShot(0, window, lambda: hide_stray_tab_bars(window))


def hide_stray_tab_bars(window: QMainWindow) -> list[QTabBar]:
    """Hide the window's dock tab bars that show something other than a real tab group; return them."""
    docks = {d.windowTitle(): d for d in window.findChildren(QDockWidget)}
    stray = []
    for bar in window.findChildren(QTabBar):
        if bar.parent() is not window or not bar.isVisible():
            continue
        titles = {bar.tabText(i) for i in range(bar.count())}
        first = docks.get(next(iter(titles), ""))
        group = set()
        if first is not None:
            group = {first.windowTitle(), *(d.windowTitle() for d in window.tabifiedDockWidgets(first))}
        if titles != group:
            bar.hide()
            stray.append(bar)
    return stray
