"""InfluxDB v2 writes of every poll result, through a disk spool: nothing lost across an outage of
the server or a restart of emanwatch.

Poll results -> line protocol (the exporter's metric names and labels: measurement = metric,
tags = labels, field `value`, the poll's time in ms) -> a SQLite spool, written before anything is
sent -> one sender thread that writes the oldest batch with influxdb-client's write_api and
deletes it only once the server accepted it; a failure keeps the batch and backs off (doubling up
to `max_backoff`). Batches go out in order. A point's identity is its series and timestamp, so a
batch re-sent after an ambiguous failure (the server wrote it, the answer was lost) overwrites
itself in InfluxDB (and in VictoriaMetrics with -dedup.minScrapeInterval, as `services` runs it).
The spool is bounded (`spool_max_bytes`): past it the oldest batches are dropped and counted.

influxdb-client's own batching mode keeps its batches in memory (lost at a restart) and drops a
batch once its retries are spent; that is why the batching and retries are here, on the spool,
and the library does the HTTP and the v2 protocol (SYNCHRONOUS writes).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client.core import Metric

from collectors.result import PollResult

log = logging.getLogger("emanwatch.influx")


def _esc_tag(v: str) -> str:
    return v.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ").replace("\n", "\\n")


def _esc_measurement(v: str) -> str:
    return v.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ")


_TAGS: dict[tuple, str] = {}  # label set -> its tag text (label sets repeat every poll)


def line_protocol(r: PollResult) -> list[str]:
    """One line per sample: `metric,tag=v,... value=1.5 <ms>`; empty tag values are left out (Influx
    has no empty tags)."""
    ts = int((r.started + r.duration) * 1000)
    out = []
    tags = _TAGS
    if len(tags) > 500_000:
        tags.clear()
    for s in r.samples:
        t = tags.get(s.labels)
        if t is None:
            t = tags[s.labels] = "".join(f",{_esc_tag(k)}={_esc_tag(v)}" for k, v in s.labels if v != "")
        out.append(f"{_esc_measurement(s.metric)}{t} value={float(s.value)!r} {ts}")
    return out


class Spool:
    """Batches of line protocol in a SQLite file, oldest first. Thread-safe."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_bytes = max_bytes
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT, lines TEXT NOT NULL,"
                        " n INTEGER NOT NULL, bytes INTEGER NOT NULL)")
        self.dropped_points = 0

    def put(self, lines: list[str]) -> None:
        if not lines:
            return
        text = "\n".join(lines)
        with self.lock:
            self.db.execute("INSERT INTO spool (lines, n, bytes) VALUES (?, ?, ?)", (text, len(lines), len(text)))
            size = self.db.execute("SELECT COALESCE(SUM(bytes), 0) FROM spool").fetchone()[0]
            while size > self.max_bytes:  # bounded: the oldest go first, counted
                row = self.db.execute("SELECT id, n, bytes FROM spool ORDER BY id LIMIT 1").fetchone()
                if row is None:
                    break
                self.db.execute("DELETE FROM spool WHERE id = ?", (row[0],))
                self.dropped_points += row[1]
                size -= row[2]

    def oldest(self, max_lines: int) -> list[tuple[int, str, int]]:
        """The oldest rows adding up to about max_lines (at least one row)."""
        with self.lock:
            rows = self.db.execute("SELECT id, lines, n FROM spool ORDER BY id LIMIT 1000").fetchall()
        out, n = [], 0
        for r in rows:
            if out and n + r[2] > max_lines:
                break
            out.append(r)
            n += r[2]
        return out

    def done(self, ids: list[int]) -> None:
        with self.lock:
            self.db.executemany("DELETE FROM spool WHERE id = ?", [(i,) for i in ids])

    def size(self) -> tuple[int, int]:
        """(points, bytes) waiting."""
        with self.lock:
            n, b = self.db.execute("SELECT COALESCE(SUM(n), 0), COALESCE(SUM(bytes), 0) FROM spool").fetchone()
        return int(n), int(b)

    def close(self) -> None:
        with self.lock:
            self.db.close()


class InfluxWriter:
    def __init__(self, url: str, org: str, bucket: str, token: str, spool: Spool, *, batch_lines: int = 5000,
                 timeout: float = 10.0, backoff: float = 1.0, max_backoff: float = 60.0) -> None:
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.url, self.org, self.bucket = url, org, bucket
        self.spool = spool
        self.batch_lines = batch_lines
        self.backoff, self.max_backoff = backoff, max_backoff
        self.client = InfluxDBClient(url=url, token=token or "none", org=org, timeout=int(timeout * 1000))
        self.write_api = self.client.write_api(write_options=SYNCHRONOUS)
        self.written_points = 0
        self.written_batches = 0
        self.errors = 0
        self.last_error = ""
        self.last_success: float | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, r: PollResult) -> None:
        """The store's hook: every result, success or not (a failed poll has no samples: nothing to write)."""
        if r.samples:
            self.spool.put(line_protocol(r))
            self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="influx-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
        self.client.close()

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until the spool is empty (tests, shutdown); False if it is not within timeout."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.spool.size()[0] == 0:
                return True
            self._wake.set()
            time.sleep(0.1)
        return False

    def _run(self) -> None:
        from influxdb_client import WritePrecision

        delay = self.backoff
        while not self._stop.is_set():
            rows = self.spool.oldest(self.batch_lines)
            if not rows:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            body = "\n".join(r[1] for r in rows)
            try:
                self.write_api.write(bucket=self.bucket, org=self.org, record=body, write_precision=WritePrecision.MS)
            except Exception as e:  # noqa: BLE001 - any failure keeps the batch for the next try
                self.errors += 1
                self.last_error = f"{e.__class__.__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
                if self.errors == 1 or self.errors % 20 == 0:
                    log.warning("InfluxDB write to %s failed (%s); %d points spooled, retrying in %.0fs",
                                self.url, self.last_error, self.spool.size()[0], delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self.max_backoff)
                continue
            self.spool.done([r[0] for r in rows])
            self.written_points += sum(r[2] for r in rows)
            self.written_batches += 1
            self.last_success = time.time()
            delay = self.backoff

    def metrics(self) -> Iterator[Metric]:
        points, size = self.spool.size()
        for name, help_, kind, value in (
            ("emanwatch_influx_spool_points", "Points waiting in the InfluxDB spool.", "gauge", points),
            ("emanwatch_influx_spool_bytes", "Size of the InfluxDB spool (line protocol bytes).", "gauge", size),
            ("emanwatch_influx_written_points", "Points the InfluxDB server accepted.", "counter", self.written_points),
            ("emanwatch_influx_write_errors", "Failed InfluxDB writes (each retried).", "counter", self.errors),
            ("emanwatch_influx_dropped_points", "Points dropped because the spool was full.", "counter",
             self.spool.dropped_points),
        ):
            m = Metric(name, help_, kind)
            m.add_sample(name + ("_total" if kind == "counter" else ""), {"url": self.url}, float(value))
            yield m
        if self.last_success is not None:
            m = Metric("emanwatch_influx_last_success_timestamp_seconds", "When the last InfluxDB write succeeded.", "gauge")
            m.add_sample("emanwatch_influx_last_success_timestamp_seconds", {"url": self.url}, self.last_success)
            yield m


def from_config(cfg: Any) -> InfluxWriter | None:
    ic = cfg.influx
    if not ic.enabled:
        return None
    token = cfg.secret(ic.token, "influx.token") if ic.token else ""
    spool = Spool(cfg.state_dir / "influx" / "spool.sqlite", int(ic.spool_max_bytes))
    return InfluxWriter(ic.url, ic.org, ic.bucket, token, spool, batch_lines=ic.batch_lines, timeout=ic.timeout,
                        backoff=ic.retry_backoff, max_backoff=ic.max_backoff)
