"""The school-day traffic shape and the lab clock.

Load is a piecewise-linear level in [0, 1] over the week in Shanghai time: weekdays peak 08:00-16:30
with a lunch dip, evenings and weekends low. Counters are the exact integral of the rate, so both
ends of a link agree to the byte, a counter never goes back, and any poll interval sees the right
average. With time acceleration the *shape* runs `factor` times faster while bytes still
accumulate at the real-time rate, so utilisation stays within link capacity.
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field

DAY = 86400
WEEK = 7 * DAY
TZ_OFFSET = 8 * 3600  # Asia/Shanghai, no DST
MONDAY_SHIFT = 3 * DAY  # 1970-01-01 was a Thursday

# (minute of day, level)
WEEKDAY = [(0, 0.06), (360, 0.05), (420, 0.25), (480, 0.88), (570, 1.0), (690, 0.95), (720, 0.72), (780, 0.78),
           (810, 0.97), (960, 0.92), (990, 0.55), (1080, 0.30), (1260, 0.22), (1380, 0.08), (1440, 0.06)]
WEEKEND = [(0, 0.05), (540, 0.08), (720, 0.12), (1080, 0.12), (1320, 0.07), (1440, 0.05)]


def _build() -> tuple[list[float], list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    for day in range(7):
        knots = WEEKDAY if day < 5 else WEEKEND
        for i, (m, y) in enumerate(knots):
            if day > 0 and i == 0:
                continue  # the previous day's 24:00 knot is this day's 00:00
            xs.append(day * DAY + m * 60)
            ys.append(y)
    cum = [0.0]
    for i in range(1, len(xs)):
        cum.append(cum[-1] + (xs[i] - xs[i - 1]) * (ys[i] + ys[i - 1]) / 2)
    return xs, ys, cum


_XS, _YS, _CUM = _build()
WEEK_INTEGRAL = _CUM[-1]


def _week_pos(t: float) -> tuple[int, float]:
    u = t + TZ_OFFSET + MONDAY_SHIFT
    week = int(u // WEEK)
    return week, u - week * WEEK


def level(t: float) -> float:
    """Load level at unix time t (0..1)."""
    _, x = _week_pos(t)
    i = min(bisect.bisect_right(_XS, x) - 1, len(_XS) - 2)
    x0, x1 = _XS[i], _XS[i + 1]
    return _YS[i] + (_YS[i + 1] - _YS[i]) * (x - x0) / (x1 - x0)


def _cum_in_week(x: float) -> float:
    i = min(bisect.bisect_right(_XS, x) - 1, len(_XS) - 2)
    x0 = _XS[i]
    y0 = _YS[i]
    slope = (_YS[i + 1] - y0) / (_XS[i + 1] - x0)
    dx = x - x0
    return _CUM[i] + dx * (y0 + y0 + slope * dx) / 2


def integral(a: float, b: float) -> float:
    """∫ level(t) dt from a to b (seconds × level), exact, without large-number cancellation."""
    wa, xa = _week_pos(a)
    wb, xb = _week_pos(b)
    return (wb - wa) * WEEK_INTEGRAL + _cum_in_week(xb) - _cum_in_week(xa)


@dataclass
class LabClock:
    """Real time -> lab time. factor 1: the lab lives now; factor 1008: a week in 10 minutes."""

    factor: float = 1.0
    start_real: float = field(default_factory=time.time)
    start_lab: float | None = None  # default: the lab starts at the real start time

    def __post_init__(self) -> None:
        if self.start_lab is None:
            self.start_lab = self.start_real

    def lab(self, real: float | None = None) -> float:
        real = time.time() if real is None else real
        return self.start_lab + (real - self.start_real) * self.factor  # type: ignore[operator]

    def level(self, real: float | None = None, shift: float = 0.0) -> float:
        return level(self.lab(real) + shift)

    def bytes_factor(self, real_a: float, real_b: float, shift: float = 0.0) -> float:
        """Σ level over real seconds [a, b]: multiply by a rate in byte/s at level 1 to get bytes."""
        return integral(self.lab(real_a) + shift, self.lab(real_b) + shift) / self.factor
