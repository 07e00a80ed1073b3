"""Where the 3D view's grid lines go and what their labels say (Qt-free).

Without a scale the grid is in scene units; once "Set scale" has stored metres per unit
(``app.measure``) it is in metres: every axis runs from one round tick to another, the tick spacing is a
round number (1, 2 or 5 times a power of ten) in the displayed unit, and each label ends in " m".

The spacing follows the rule VTK's cube axes actor uses to place its grid lines along an axis range
(``vtkCubeAxesActor::AdjustTicksComputeRange``: a power of ten, halved when the range holds fewer than five
of them, divided by five when it holds fewer than three), so that the labels given here sit on the lines
it draws. ``axis_step`` mirrors that rule; the range is snapped to it until the two agree. VTK starts the
lines one step late when the range begins exactly on a positive multiple of the step, so the range it
gets (``GridAxis.vtk_range``) reaches a hair (``EDGE``, a millionth of a step) past the first and last tick.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

METRE_SUFFIX = " m"
MAX_SNAPS = 6
MAX_LABELS = 7  # more grid lines than this: only every other one is labelled (the labels would overlap)
EDGE = 1e-6  # in steps


def axis_step(span: float) -> float:
    """Grid spacing VTK's cube axes draw along an axis range of length ``span`` (> 0)."""
    p = math.log10(span)
    p = math.copysign(abs(p) + 1e-9, p) if p != 0 else p  # the same numerical tolerance as VTK
    if p < 0:
        p -= 1.0
    decade = 10.0 ** math.trunc(p)
    ticks = math.trunc(span / decade) + 1
    div = 5.0 if ticks <= 2 else 2.0 if ticks < 5 else 1.0
    return decade / div


def _snap(lo: float, hi: float, step: float) -> tuple[float, float]:
    k0 = math.floor(lo / step + 1e-9)
    k1 = math.ceil(hi / step - 1e-9)
    if k1 <= k0:
        k1 = k0 + 1
    return k0 * step, k1 * step


def format_tick(value: float, step: float, unit: str) -> str:
    """A tick value with as many decimals as the step needs ('1.5 m', '-0.25', '20 m')."""
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    if not math.isclose(round(step, decimals), step, rel_tol=1e-6):
        decimals += 1  # steps such as 0.25 need one decimal more than their power of ten
    value = 0.0 if abs(value) < step * 1e-6 else value
    return f"{value:.{decimals}f}{unit}"


@dataclass(frozen=True)
class GridAxis:
    """One axis: its extent in scene units and its ticks in the displayed unit."""

    lo: float  # scene units
    hi: float
    shown_lo: float  # displayed unit (metres or scene units)
    shown_hi: float
    step: float  # displayed unit
    labels: tuple[str, ...]  # one per grid line; "" where a line is left unlabelled

    @property
    def vtk_range(self) -> tuple[float, float]:
        return self.shown_lo - EDGE * self.step, self.shown_hi + EDGE * self.step

    @property
    def ticks(self) -> list[float]:
        n = len(self.labels)
        return [self.shown_lo + k * self.step for k in range(n)]


@dataclass(frozen=True)
class GridSpec:
    axes: tuple[GridAxis, GridAxis, GridAxis]
    metres_per_unit: float | None

    @property
    def in_metres(self) -> bool:
        return self.metres_per_unit is not None

    @property
    def bounds(self) -> tuple[float, ...]:
        """(xmin, xmax, ymin, ymax, zmin, zmax) in scene units."""
        return tuple(v for a in self.axes for v in (a.lo, a.hi))

    @property
    def ranges(self) -> tuple[float, ...]:
        """The same in the displayed unit, as VTK's axis ranges (see ``GridAxis.vtk_range``)."""
        return tuple(v for a in self.axes for v in a.vtk_range)

    @property
    def titles(self) -> tuple[str, str, str]:
        suffix = " (m)" if self.in_metres else ""
        return tuple(f"{n}{suffix}" for n in "XYZ")  # type: ignore[return-value]


def grid_axis(lo_units: float, hi_units: float, metres_per_unit: float | None) -> GridAxis:
    s = 1.0 if metres_per_unit is None else float(metres_per_unit)
    lo, hi = lo_units * s, hi_units * s
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"grid bounds must be finite, not {lo_units}, {hi_units}")
    if hi - lo <= 0:
        pad = max(abs(lo), 1.0) * 1e-3
        lo, hi = lo - pad, hi + pad
    step = axis_step(hi - lo)
    for _ in range(MAX_SNAPS):  # snapping widens the range, which may change VTK's spacing
        a, b = _snap(lo, hi, step)
        again = axis_step(b - a + 2 * EDGE * step)
        if math.isclose(again, step):
            break
        step = again
    a, b = _snap(lo, hi, step)
    n = round((b - a) / step) + 1
    unit = "" if metres_per_unit is None else METRE_SUFFIX
    k0 = round(a / step)
    thin = n > MAX_LABELS
    labels = tuple(
        "" if thin and (k0 + k) % 2 else format_tick(a + k * step, step, unit) for k in range(n)
    )
    edge = EDGE * step
    return GridAxis((a - edge) / s, (b + edge) / s, a, b, step, labels)


def grid_spec(bounds: Sequence[float], metres_per_unit: float | None) -> GridSpec:
    """The grid around ``bounds`` (xmin, xmax, ymin, ymax, zmin, zmax in scene units)."""
    b = [float(v) for v in bounds]
    if len(b) != 6:
        raise ValueError(f"bounds need 6 values, not {len(b)}")
    axes = tuple(grid_axis(b[2 * i], b[2 * i + 1], metres_per_unit) for i in range(3))
    return GridSpec(axes, metres_per_unit)  # type: ignore[arg-type]
