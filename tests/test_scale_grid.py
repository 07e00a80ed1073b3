"""The grid's ticks (app.scale_grid): round spacing, labels on the ticks, in metres once a scale is set."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.scale_grid import MAX_LABELS, axis_step, format_tick, grid_axis, grid_spec


def _round(step: float) -> bool:
    mantissa = step / 10.0 ** math.floor(math.log10(step) + 1e-9)
    return any(math.isclose(mantissa, m, rel_tol=1e-9) for m in (1.0, 2.0, 5.0))


@pytest.mark.parametrize("span", [0.0123, 0.1, 0.37, 0.8, 1.0, 1.2, 2.5, 3.0, 4.9, 7.3, 10.0, 42.0, 999.0])
def test_axis_step_is_round_with_two_to_eleven_lines(span) -> None:
    step = axis_step(span)
    assert _round(step)
    assert 2 <= span / step + 1 <= 11


def test_axis_snaps_to_round_ticks_covering_the_extent() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        lo = float(rng.uniform(-20, 20))
        hi = lo + float(10 ** rng.uniform(-2, 1.5))
        s = float(10 ** rng.uniform(-1, 1))
        axis = grid_axis(lo, hi, s)
        assert axis.shown_lo <= lo * s + 1e-9 and axis.shown_hi >= hi * s - 1e-9
        assert axis.shown_hi - axis.shown_lo < (hi - lo) * s + 2 * axis.step + 1e-9
        assert _round(axis.step) and math.isclose(axis.step, axis_step(axis.vtk_range[1] - axis.vtk_range[0]))
        for t in axis.ticks:
            assert abs(t / axis.step - round(t / axis.step)) < 1e-6
        shown = [(lab, t) for lab, t in zip(axis.labels, axis.ticks, strict=True) if lab]
        values = [float(lab.removesuffix(" m")) for lab, _ in shown]
        assert values == pytest.approx([t for _, t in shown], abs=1e-9)
        assert 2 <= len(shown) <= MAX_LABELS
        if len(shown) < len(axis.labels):  # every other line labelled: the even multiples of the step
            assert all(round(t / axis.step) % 2 == 0 for _, t in shown)
        assert (axis.lo * s, axis.hi * s) == pytest.approx(axis.vtk_range)
        assert axis.vtk_range[0] < axis.shown_lo and axis.vtk_range[1] > axis.shown_hi


def test_units_without_scale_metres_with_it() -> None:
    bounds = (0.13, 1.07, -0.4, 0.55, 0.9, 2.2)
    plain = grid_spec(bounds, None)
    assert not plain.in_metres and plain.titles == ("X", "Y", "Z")
    assert all(not lab.endswith("m") for a in plain.axes for lab in a.labels)
    assert plain.axes[0].labels == ("0.0", "0.2", "0.4", "0.6", "0.8", "1.0", "1.2")
    metric = grid_spec(bounds, 2.69)  # 1 unit = 2.69 m
    assert metric.in_metres and metric.titles == ("X (m)", "Y (m)", "Z (m)")
    assert metric.axes[0].labels == ("0.0 m", "0.5 m", "1.0 m", "1.5 m", "2.0 m", "2.5 m", "3.0 m")
    assert metric.axes[0].lo == pytest.approx(0.0, abs=1e-6)
    assert metric.axes[0].hi == pytest.approx(3.0 / 2.69)


def test_crowded_axis_labels_every_other_line() -> None:
    axis = grid_axis(-1.0, 0.62, None)  # 0.2 apart: ten lines, labelled at the even multiples (zero too)
    assert axis.step == pytest.approx(0.2)
    assert axis.labels == ("", "-0.8", "", "-0.4", "", "0.0", "", "0.4", "", "0.8")


def test_tick_format() -> None:
    assert format_tick(1.5, 0.5, " m") == "1.5 m"
    assert format_tick(20.0, 10.0, " m") == "20 m"
    assert format_tick(-0.25, 0.05, "") == "-0.25"
    assert format_tick(1e-17, 0.2, "") == "0.0"
