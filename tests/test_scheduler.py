"""The scheduler and the exporter: shards, overruns named, removed devices leaving /metrics."""

from __future__ import annotations

import asyncio
import logging

import yaml

from collectors.store import ResultStore
from emanwatch.config import load_config
from emanwatch.scheduler import Scheduler, in_shard, polled_devices
from exporters.prometheus import make_registry, metrics_text
from inventory import load_inventory


def test_shards_partition_the_district(demo) -> None:
    names = [d.name for d in demo.devices.values()]
    for n in (1, 2, 3, 7):
        owners = [[k for k in range(n) if in_shard(name, (k, n))] for name in names]
        assert all(len(o) == 1 for o in owners)  # every device in exactly one shard
        sizes = [sum(1 for o in owners if o == [k]) for k in range(n)]
        assert min(sizes) > 0.8 * len(names) / n  # and evenly spread


def test_polled_devices_follow_role_status_and_shard(demo, tmp_path) -> None:
    p = tmp_path / "config.yaml"
    p.write_text(yaml.safe_dump({"shard": "1 of 3", "polling": {"intervals": {"school-router": "60s", "ac": "120s"}}}))
    cfg = load_config(p)
    devs = polled_devices(cfg, demo)
    assert devs and {d.role.value for d in devs} == {"school-router", "ac"}
    assert all(in_shard(d.name, (1, 3)) and d.status.polled for d in devs)


def _config(lab_env, tmp_path, intervals) -> object:
    cfg, _, path = lab_env
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["polling"].update(intervals=intervals, timeout="4s", retries=0, jitter=False)
    doc["ssh"]["audit_every"] = None  # no scheduled SSH audit here (tests/test_audit.py covers it)
    doc["inventory"]["path"] = str(tmp_path / "inv")
    p = tmp_path / "config.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return load_config(p)


def _small_inventory(demo_path, tmp_path, sites: set[str]) -> object:
    """The demo's backbone + model/defaults/intent files and only the given campuses."""
    import shutil

    inv = tmp_path / "inv"
    if inv.exists():
        shutil.rmtree(inv)
    (inv / "sites").mkdir(parents=True)
    for f in demo_path.glob("*.yaml"):
        shutil.copy(f, inv / f.name)
    for s in sites:
        shutil.copy(demo_path / "sites" / f"{s}.yaml", inv / "sites" / f"{s}.yaml")
    # the district checks want every campus uplinked: a partial inventory is a valid one here
    return inv


def test_overrun_is_counted_and_names_the_device(lab_env, faults, tmp_path, caplog) -> None:
    from inventory import DEMO_PATH

    _small_inventory(DEMO_PATH, tmp_path, {"sch001", "sch002"})
    cfg = _config(lab_env, tmp_path, {"school-router": "1s"})
    inv = load_inventory(cfg.path(cfg.inventory.path))
    faults.fault("slow-agent", "sch001-rt01", seconds=3)
    store = ResultStore()
    sch = Scheduler(cfg, inv, store)
    assert set(sch.jobs) == {"sch001-rt01", "sch002-rt01"}

    async def run() -> None:
        await sch.start()
        await asyncio.sleep(4.5)
        sch.stop()

    with caplog.at_level(logging.WARNING, logger="emanwatch.scheduler"):
        asyncio.run(run())
    assert sch.overruns["sch001-rt01"] >= 2 and sch.overruns["sch002-rt01"] == 0
    assert any("overrun: sch001-rt01" in r.getMessage() for r in caplog.records)
    assert sch.polls["sch002-rt01"] >= 3  # the slow one never held the other back
    text = metrics_text(store, make_registry(store, sch.labels_of, sch.metrics)).decode()
    assert 'emanwatch_scheduler_overruns_total{device="sch001-rt01"' in text


def test_removed_devices_leave_metrics(lab_env, tmp_path) -> None:
    from inventory import DEMO_PATH

    _small_inventory(DEMO_PATH, tmp_path, {"sch001", "sch002"})
    cfg = _config(lab_env, tmp_path, {"school-router": "60s", "ac": "60s"})
    inv = load_inventory(cfg.path(cfg.inventory.path))
    store = ResultStore()
    sch = Scheduler(cfg, inv, store)
    registry = make_registry(store, sch.labels_of, sch.metrics)

    async def poll_all() -> None:
        await sch.engine.start()
        sch._sem = asyncio.Semaphore(10)
        await sch.poll_all()
        sch.engine.close()

    asyncio.run(poll_all())
    text = metrics_text(store, registry).decode()
    assert 'device="sch002-rt01"' in text and 'device="sch002-ac01"' in text
    _small_inventory(DEMO_PATH, tmp_path, {"sch001"})
    added, removed = sch.reload(load_inventory(cfg.path(cfg.inventory.path)))
    assert (added, removed) == (0, 2)
    text = metrics_text(store, registry).decode()
    assert 'device="sch002' not in text and 'device="sch001-rt01"' in text
