"""Progress events, stage weighting and ETA for long steps driven as generators.

Long steps are generators that ``yield Progress(...)`` and ``return`` their result; the CLI loop and the
GUI worker both consume them (``run_generator`` is the plain loop). Closing a generator (or a cancel
callback returning True) stops the step; steps raise `Cancelled` when they notice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class Cancelled(Exception):
    """The user cancelled a long step."""


@dataclass(frozen=True)
class Progress:
    stage: str  # machine name: "images", "model", "inference", "points", "clustering", "instances", "saving"
    message: str  # one short human line
    fraction: float  # overall progress in [0, 1]
    stage_fraction: float  # progress of this stage in [0, 1]
    eta_s: float | None = None  # estimated seconds left for the whole run (None: unknown yet)
    elapsed_s: float = 0.0

    def format(self) -> str:
        eta = "" if self.eta_s is None else f", ETA {format_seconds(self.eta_s)}"
        return f"[{self.fraction * 100:5.1f}%] {self.stage}: {self.message}{eta}"


def format_seconds(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, sec = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class StagePlan:
    """Turns per-stage fractions into overall progress with an ETA.

    ``weights`` are the expected relative durations of the stages (e.g. from a timing model); the ETA
    is the elapsed time scaled by the remaining weighted work, once a little progress has been made.
    """

    def __init__(self, weights: Sequence[tuple[str, float]], clock: Callable[[], float] = time.monotonic):
        total = sum(w for _, w in weights) or 1.0
        self._start: dict[str, float] = {}
        acc = 0.0
        for name, w in weights:
            self._start[name] = acc / total
            acc += w
        self._share = {name: w / total for name, w in weights}
        self._clock = clock
        self._t0 = clock()
        self._last = 0.0

    def event(self, stage: str, stage_fraction: float, message: str) -> Progress:
        stage_fraction = min(1.0, max(0.0, float(stage_fraction)))
        if stage not in self._share:
            overall = self._last
        else:
            overall = self._start[stage] + self._share[stage] * stage_fraction
        overall = max(self._last, min(1.0, overall))  # never goes backwards
        self._last = overall
        elapsed = self._clock() - self._t0
        eta = None
        if overall >= 0.02 and elapsed > 0.5:
            eta = elapsed * (1.0 - overall) / overall
        return Progress(stage, message, overall, stage_fraction, eta, elapsed)


def run_generator(
    gen: Generator[Progress, None, T],
    on_progress: Callable[[Progress], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> T:
    """Drive a progress generator to completion and return its result.

    ``cancel`` is polled after every event; when it returns True the generator is closed and
    `Cancelled` raised. KeyboardInterrupt also closes the generator (its cleanup runs) and propagates.
    """
    try:
        while True:
            try:
                event = next(gen)
            except StopIteration as stop:
                return stop.value
            if on_progress is not None:
                on_progress(event)
            if cancel is not None and cancel():
                raise Cancelled("cancelled")
    finally:
        gen.close()
