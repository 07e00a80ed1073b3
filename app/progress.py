"""Progress events, stage weighting and ETA for long steps driven as generators.

Long steps are generators that ``yield Progress(...)`` and ``return`` their result; the CLI loop and the
GUI's thread workers both consume them (``run_generator`` is the plain loop). Closing a generator (or a
cancel callback returning True) stops the step; steps raise `Cancelled` when they notice. `Cancelled` is
``model.errors.Cancelled``: one class for every layer.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from model.errors import Cancelled  # the one cancel exception of every layer, re-exported here

__all__ = ["Cancelled", "Progress", "StagePlan", "format_seconds", "iter_in_thread", "run_generator"]

T = TypeVar("T")


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

    ``weights`` set how much of the bar each stage takes. The ETA is the remaining time of the current
    stage, extrapolated from its own rate once it has made a little progress, plus the expected
    durations (``set_expected``) of the stages after it; while something needed is unknown, it falls
    back to scaling the elapsed time by the remaining share of the bar.
    """

    def __init__(self, weights: Sequence[tuple[str, float]], clock: Callable[[], float] = time.monotonic):
        total = sum(w for _, w in weights) or 1.0
        self._order = [name for name, _ in weights]
        self._start: dict[str, float] = {}
        acc = 0.0
        for name, w in weights:
            self._start[name] = acc / total
            acc += w
        self._share = {name: w / total for name, w in weights}
        self._expected: dict[str, float] = {}
        self._clock = clock
        self._t0 = clock()
        self._stage = ""
        self._stage_t0 = self._t0
        self._last = 0.0

    def set_expected(self, stage: str, seconds: float) -> None:
        """Expected duration of a stage, used for the ETA before that stage starts."""
        self._expected[stage] = max(0.0, float(seconds))

    def _eta(self, stage: str, fraction: float, now: float, overall: float) -> float | None:
        in_stage = now - self._stage_t0
        if fraction >= 0.03 and in_stage > 0.3:
            current = in_stage * (1.0 - fraction) / fraction
        elif stage in self._expected:
            current = self._expected[stage] * (1.0 - fraction)
        else:
            current = None
        later = self._order[self._order.index(stage) + 1 :] if stage in self._order else []
        if current is not None and all(s in self._expected for s in later):
            return current + sum(self._expected[s] for s in later)
        elapsed = now - self._t0
        if overall >= 0.02 and elapsed > 0.5:
            return elapsed * (1.0 - overall) / overall
        return None

    def event(self, stage: str, stage_fraction: float, message: str) -> Progress:
        stage_fraction = min(1.0, max(0.0, float(stage_fraction)))
        now = self._clock()
        if stage != self._stage:
            self._stage, self._stage_t0 = stage, now
        if stage not in self._share:
            overall = self._last
        else:
            overall = self._start[stage] + self._share[stage] * stage_fraction
        overall = max(self._last, min(1.0, overall))  # never goes backwards
        self._last = overall
        eta = self._eta(stage, stage_fraction, now, overall)
        return Progress(stage, message, overall, stage_fraction, eta, now - self._t0)


def run_generator(
    gen: Generator[Progress, None, T],
    on_progress: Callable[[Progress], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    what: str = "",
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
                raise Cancelled(f"{what} cancelled" if what else "cancelled")
    finally:
        gen.close()


def relay(gen: Generator[Any, None, T], to_event: Callable[[Any], Progress]) -> Generator[Progress, None, T]:
    """A sub-step's own yields (fractions, (message, fraction) pairs, ...) as this step's events:
    ``result = yield from relay(sub, lambda f: plan.event(...))``; the sub-step is closed with this one."""
    try:
        while True:
            try:
                item = next(gen)
            except StopIteration as stop:
                return stop.value
            yield to_event(item)
    finally:
        gen.close()


def iter_in_thread(
    work: Callable[[Callable[[str, float], None], Callable[[], bool]], T],
    plan: StagePlan,
    stage: str,
    heartbeat_s: float = 0.5,
) -> Generator[Progress, None, T]:
    """Run ``work(progress, cancel)`` (a blocking call with progress and cancel callbacks, e.g. the network
    or an exporter) in a helper thread, yielding its progress as ``plan``'s events (and a heartbeat).

    Closing this generator (or an exception in the consumer, e.g. KeyboardInterrupt) asks the work to
    stop through ``cancel`` and waits for the thread, so no work continues after the pipeline ends.
    """
    events: queue.Queue = queue.Queue()
    stop = threading.Event()
    outcome: dict[str, Any] = {}

    def progress(message: str, fraction: float) -> None:
        events.put((message, fraction))

    def target() -> None:
        try:
            outcome["value"] = work(progress, stop.is_set)
        except BaseException as exc:  # handed to the consumer thread
            outcome["error"] = exc
        finally:
            events.put(None)

    thread = threading.Thread(target=target, name=f"iggt-{stage}", daemon=True)
    thread.start()
    last = (stage, 0.0)
    try:
        while True:
            try:
                item = events.get(timeout=heartbeat_s)
            except queue.Empty:
                yield plan.event(stage, last[1], last[0])
                continue
            if item is None:
                break
            last = (str(item[0]), float(item[1]))
            yield plan.event(stage, last[1], last[0])
    finally:
        if thread.is_alive():
            stop.set()
            thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
