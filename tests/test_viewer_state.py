"""The viewer state (viewer.state): its rules hold without Qt, and importing it loads no GUI library."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT

from viewer.state import CameraPose, ViewerState


def record(signal) -> list:
    seen: list = []
    signal.connect(lambda value: seen.append(value))
    return seen


def test_importing_the_state_loads_no_gui_library() -> None:
    code = (
        "import sys, viewer.state, viewer.selection\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'vtkmodules',"
        " 'pyvista', 'pyvistaqt', 'superqt', 'qtawesome'))\n"
        "assert not bad, bad\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]


def test_fields_announce_changes_once() -> None:
    state = ViewerState()
    modes, sizes = record(state.events.colour_mode), record(state.events.point_size)
    state.set_colour_mode("pca")
    state.set_colour_mode("pca")  # no change, no event
    state.set_point_size(40)  # clamped to the largest size
    assert modes == ["pca"] and sizes == [12.0] and state.point_size == 12.0
    with pytest.raises(ValueError, match="unknown colour mode"):
        state.set_colour_mode("rainbow")
    assert state.colour_mode == "pca"
    state.set_threshold(-5)
    assert state.threshold_percent == 0.0


def test_isolation_follows_the_selection() -> None:
    state = ViewerState()
    assert state.isolated == frozenset()
    state.selection.select(4)
    state.isolating = True
    assert state.isolated == {4}
    state.selection.select(7)  # isolating stays on: the new selection is shown alone
    assert state.isolated == {7}
    state.selection.clear()  # nothing selected: everything is shown, isolating waits for a selection
    assert state.isolating and state.isolated == frozenset()


def test_vanished_selection_is_dropped_and_a_new_scene_starts_clean() -> None:
    state = ViewerState()
    selections = record(state.selection.changed)
    state.selection.select(3)
    state.keep_instances([1, 2, 3])
    assert state.selection.instance == 3
    state.keep_instances([1, 2])  # e.g. merged away, or an undone split
    assert state.selection.instance is None and selections == [3, None]
    state.selection.select(2)
    state.isolating = True
    state.bookmark = CameraPose((0, 0, 1), (0, 0, 0), (0, 1, 0), 30.0)
    state.new_scene()
    assert state.selection.instance is None and not state.isolating and state.bookmark is None
