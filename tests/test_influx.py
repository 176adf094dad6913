"""InfluxDB v2 writes through the spool, against a real server that speaks the v2 write API
(Debian's victoria-metrics, started here on a spare port), read back through its export API.

The server is stopped for a while mid-run and emanwatch's writer is restarted while points are
spooled: every point must arrive exactly once (the server runs without deduplication here, so a
point sent twice would show twice), in order, with the exporter's names and labels.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
import yaml

from collectors.result import PollResult, Sample
from emanwatch.config import load_config
from emanwatch.services import victoria_metrics
from exporters.influx import InfluxWriter, Spool, line_protocol

pytestmark = [pytest.mark.server]

URL = "http://127.0.0.1:18428"
DEVICES, SERIES, ROUNDS = 20, 25, 30  # 500 series x 30 points


def _cfg(tmp: Path):
    p = tmp / "config.yaml"
    p.write_text(yaml.safe_dump({"paths": {"state": str(tmp / "var")}, "influx": {"enabled": True, "url": URL}}))
    return load_config(p)


def _round(k: int, t0: float) -> list[PollResult]:
    out = []
    for d in range(DEVICES):
        labels = [(("device", f"sch{d:03d}-rt01"), ("ifName", f"GE0/0/{i}"), ("site", f"sch{d:03d}"), ("vendor", ""))
                  for i in range(SERIES)]
        samples = [Sample("emanwatch_if_in_bps", lab, float(k * 1000 + i)) for i, lab in enumerate(labels)]
        out.append(PollResult(device=f"sch{d:03d}-rt01", collector="snmp", ok=True, started=t0 + k, duration=0.5,
                              samples=samples))
    return out


def test_line_protocol_escapes_and_keeps_labels() -> None:
    r = PollResult(device="a b", collector="snmp", ok=True, started=1700000000.0, duration=0.25, samples=[
        Sample("ifHCInOctets", (("device", "a b"), ("ifAlias", "to=nc, ring"), ("site", "")), 12.0, "counter")])
    (line,) = line_protocol(r)
    assert line == r"ifHCInOctets,device=a\ b,ifAlias=to\=nc\,\ ring value=12.0 1700000000250"


def test_spool_is_bounded_and_counts_what_it_drops(tmp_path) -> None:
    s = Spool(tmp_path / "s.sqlite", max_bytes=2**20)
    line = "m,device=x value=1.0 " + "1" * 13
    for _ in range(200):
        s.put([line] * 300)  # ~10 kB a batch: 2 MB offered to a 1 MB spool
    points, size = s.size()
    assert size <= 2**20 and s.dropped_points > 0 and points + s.dropped_points == 200 * 300
    first = s.oldest(1)[0]
    assert first[0] > 1  # the oldest batches were the ones dropped


def test_outage_and_restart_lose_nothing_and_duplicate_nothing(tmp_path) -> None:
    cfg = _cfg(tmp_path)
    vm = victoria_metrics(cfg, tmp_path / "vm", dedup=False)
    vm.start(timeout=60)
    t0 = float(int(time.time()) - ROUNDS - 60)
    spool_path = tmp_path / "var" / "influx" / "spool.sqlite"

    def writer() -> InfluxWriter:
        w = InfluxWriter(URL, "emanwatch", "emanwatch", "", Spool(spool_path, 512 * 2**20), batch_lines=2000,
                         timeout=2, backoff=0.2, max_backoff=1.0)
        w.start()
        return w

    w = writer()
    peak_spool = 0
    try:
        for k in range(ROUNDS):
            if k == 10:
                vm.stop()  # the server goes away for a while
            if k == 15:  # and emanwatch restarts meanwhile: the spool on disk carries the points over
                w.stop()
                w.spool.close()
                w = writer()
            if k == 22:
                vm.start(timeout=60)
            for r in _round(k, t0):
                w.add(r)
            peak_spool = max(peak_spool, w.spool.size()[0])
            time.sleep(0.2)
        assert w.flush(timeout=90), f"spool not drained: {w.spool.size()}"
        assert peak_spool >= 5 * DEVICES * SERIES  # the outage was real: points waited on disk
        # read everything back
        deadline = time.time() + 30
        series: dict[tuple, list[tuple[int, float]]] = {}
        while time.time() < deadline:
            r = httpx.get(f"{URL}/api/v1/export", params={"match[]": '{__name__="emanwatch_if_in_bps"}'}, timeout=30)
            series = {}
            for line in r.text.splitlines():
                doc = json.loads(line)
                key = tuple(sorted(doc["metric"].items()))
                series.setdefault(key, []).extend(zip(doc["timestamps"], doc["values"], strict=True))
            if sum(len(v) for v in series.values()) >= DEVICES * SERIES * ROUNDS:
                break
            time.sleep(1)
        assert len(series) == DEVICES * SERIES
        want_ts = [int((t0 + k + 0.5) * 1000) for k in range(ROUNDS)]
        for key, points in series.items():
            labels = dict(key)
            assert "vendor" not in labels and labels["site"].startswith("sch")  # empty labels left out, others kept
            i = int(labels["ifName"].rsplit("/", 1)[1])
            assert sorted(ts for ts, _ in points) == want_ts, (key, len(points))  # each point once, none missing
            assert all(v == k * 1000 + i for (ts, v), k in zip(sorted(points), range(ROUNDS), strict=True))
        metrics = {m.name: m.samples[0].value for m in w.metrics()}
        assert metrics["emanwatch_influx_spool_points"] == 0
    finally:
        w.stop()
        vm.stop()
