"""Report helpers without a server: the ISO week window in CST, Prometheus' quantile, the forecast,
bad arguments named. (The figures against live PromQL: tests/test_collect_e2e.py.)"""

from __future__ import annotations

from datetime import datetime

import pytest

from collectors.backup import CST, changed_outside, in_window
from emanwatch.config import ChangeWindow
from emanwatch.reports import ReportError, forecast_days, quantile, week_window


def test_week_window_is_monday_to_monday_cst() -> None:
    w = week_window("2026-W47")
    assert datetime.fromtimestamp(w.start, CST) == datetime(2026, 11, 16, tzinfo=CST)
    assert w.seconds == 7 * 86400 and w.label == "2026-W47"
    last = week_window(None, now=datetime(2026, 11, 22, 12, tzinfo=CST).timestamp())
    assert last.label == "2026-W46"  # the last complete week
    with pytest.raises(ReportError, match="YYYY-Www"):
        week_window("47")
    with pytest.raises(ReportError, match="2026-W60"):
        week_window("2026-W60")


def test_quantile_is_prometheus_interpolation() -> None:
    assert quantile([1, 2, 3, 4, 5], 0.95) == pytest.approx(4.8)
    assert quantile([7], 0.95) == 7
    assert quantile([10, 0], 0.5) == 5


def test_forecast_days() -> None:
    day = 86400.0
    pts = [(i * day, 0.5 + 0.01 * i) for i in range(10)]  # +1 point a day, 0.59 on day 9
    assert forecast_days(pts, 0.8, 9 * day) == pytest.approx(21.0)
    assert forecast_days([(i * day, 0.5) for i in range(10)], 0.8, 9 * day) is None  # flat
    assert forecast_days([(i * day, 0.5 - 0.01 * i) for i in range(10)], 0.8, 9 * day) is None


def test_change_windows_cross_midnight() -> None:
    w = [ChangeWindow(days=["sat"], start="22:00", end="06:00")]
    sat_23 = datetime(2026, 11, 21, 23, 0, tzinfo=CST).timestamp()
    sun_05 = datetime(2026, 11, 22, 5, 0, tzinfo=CST).timestamp()
    sun_07 = datetime(2026, 11, 22, 7, 0, tzinfo=CST).timestamp()
    mon_10 = datetime(2026, 11, 23, 10, 0, tzinfo=CST).timestamp()
    assert in_window(sat_23, w) and in_window(sun_05, w) and not in_window(sun_07, w)
    assert not changed_outside(sat_23 - 3600, sun_07, w)  # the span touched the window: maybe approved
    assert changed_outside(sun_07, mon_10, w)  # Sunday morning to Monday: no window in between
