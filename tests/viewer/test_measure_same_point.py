"""Set scale with the same point clicked twice: no length the user types can make a scale of it, so the
length is not asked for (it was asked again and again with "pick two different points" until Cancel);
the first point stays and the next click is the second point."""

from __future__ import annotations

from test_measure_keys import _click, _points_on_screen, measuring  # noqa: F401

from app.measure import scale_of
from viewer import measure_tool


def test_the_same_point_twice_asks_for_another_second_point(measuring, qtbot, monkeypatch) -> None:  # noqa: F811
    window, tool = measuring
    asked: list[str | None] = []

    def ask(_parent, _span, error=None):
        asked.append(error)
        return "1 m" if len(asked) < 3 else None  # (a user typing on and on, then giving up)

    monkeypatch.setattr(measure_tool, "ask_length", ask)
    a, b = _points_on_screen(window, 2)
    tool.start_set_scale()
    _click(window, qtbot, a)
    _click(window, qtbot, a)
    assert asked == [] and tool.mode == "scale" and len(tool.points) == 1
    assert "first point again" in window.statusBar().currentMessage()
    _click(window, qtbot, b)
    assert asked == [None] and scale_of(window.document.scene) is not None


def test_measuring_from_a_point_to_itself_asks_for_another_second_point(measuring, qtbot) -> None:  # noqa: F811
    """It showed "Distance: 0 units"."""
    window, tool = measuring
    a, b = _points_on_screen(window, 2)
    window.actions_["measure"].trigger()
    _click(window, qtbot, a)
    _click(window, qtbot, a)
    assert tool.mode == "measure" and len(tool.points) == 1 and tool.measured is None
    assert "first point again" in window.statusBar().currentMessage()
    _click(window, qtbot, b)
    assert tool.measured is not None and window.statusBar().currentMessage().startswith("Distance:")
