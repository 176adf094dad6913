"""Scheduled polling: inventory + config -> one apscheduler job per device -> the result store.

Each device's job runs at its role's interval (config polling.intervals), first fired at a stable
offset inside the interval so a role's polls spread out instead of arriving together; a job never
overlaps itself (max_instances=1): when a poll is still running at its next turn, that is an
overrun, counted and logged with the slow device named. With `shard: K of N`, only devices whose
stable hash falls in shard K are polled here.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client.core import Metric

from collectors.result import PollResult, Sample
from collectors.snmp.client import SnmpEngine, Target
from collectors.snmp.poller import DeviceLabels, DeviceState, device_labels, poll_device
from collectors.snmp.profiles import Profile, profile_for
from collectors.store import ResultStore
from exporters.prometheus import render_result
from inventory import Device, Inventory, Role

from .config import Config, SecretError, resolve_snmp_auth

log = logging.getLogger("emanwatch.scheduler")


def stable_hash(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big")


def in_shard(name: str, shard: tuple[int, int]) -> bool:
    k, n = shard
    return stable_hash(name) % n == k


def polled_devices(cfg: Config, inv: Inventory) -> list[Device]:
    """Devices this poller owns: polled status, an SNMP auth, a role with an interval, our shard."""
    return [d for d in inv.devices.values()
            if d.status.polled and d.snmp_auth and d.role != Role.AP and d.role in cfg.polling.intervals
            and in_shard(d.name, cfg.shard)]


class PollJob:
    """What one device's job needs; built once, reused every poll."""

    def __init__(self, device: Device, target: Target, profile: Profile, labels: DeviceLabels, interval: float) -> None:
        self.device = device
        self.target = target
        self.profile = profile
        self.labels = labels
        self.state = DeviceState()
        self.interval = interval
        self.running_since: float | None = None


class Scheduler:
    def __init__(self, cfg: Config, inv: Inventory, store: ResultStore) -> None:
        self.cfg = cfg
        self.inv = inv
        self.store = store
        self.engine = SnmpEngine()
        self.jobs: dict[str, PollJob] = {}
        self.overruns: Counter[str] = Counter()
        self.polls: Counter[str] = Counter()
        self.sched: AsyncIOScheduler | None = None
        self._sem: asyncio.Semaphore | None = None
        self._labels_cache: dict[str, dict[str, str]] = {}
        self._probe_warned = False
        self._topology: tuple[float, list] = (0.0, [])
        self._history = None  # the config history (git), opened by the first audit
        # recomputed at most this often on scrape; never staler than half the fastest poll interval
        self.topology_every = min([10.0] + [v / 2 for v in cfg.polling.intervals.values()])
        self.jobs = self._build(inv)

    def _build(self, inv: Inventory) -> dict[str, PollJob]:
        cfg = self.cfg
        auths = {}
        jobs = {}
        for d in polled_devices(cfg, inv):
            if d.snmp_auth not in auths:
                auths[d.snmp_auth] = resolve_snmp_auth(cfg, d.snmp_auth)  # SecretError names the key
            target = Target(str(d.mgmt_address), auths[d.snmp_auth], port=cfg.polling.snmp_port,
                            timeout=cfg.polling.timeout, retries=cfg.polling.retries)
            jobs[d.name] = PollJob(d, target, profile_for(d.platform), device_labels(inv, d.name),
                                   cfg.polling.intervals[d.role])
        return jobs

    def reload(self, inv: Inventory) -> tuple[int, int]:
        """Take a new inventory: jobs for new devices, none for removed ones (and their series
        leave /metrics), unchanged devices keep their state. Returns (added, removed)."""
        new = self._build(inv)
        removed = [n for n in self.jobs if n not in new]
        added = [n for n in new if n not in self.jobs]
        for n, job in new.items():
            old = self.jobs.get(n)
            if old is not None and old.target.address == job.target.address:
                job.state, job.target = old.state, old.target  # keep counters, v3 engine state
        self.inv = inv
        self.jobs = new
        self._labels_cache.clear()
        self.store.prune(new)
        if self.sched:
            for n in removed:
                self.sched.remove_job(n)
            self._add_jobs(added)
            for n in set(new) - set(added):
                self.sched.modify_job(n, args=[n])
        log.info("inventory reloaded: %d devices added, %d removed", len(added), len(removed))
        return len(added), len(removed)

    # ------------------------------------------------------------ polling

    async def poll(self, name: str) -> PollResult | None:
        job = self.jobs.get(name)
        if job is None:  # removed by a reload while queued
            return None
        assert self._sem is not None
        async with self._sem:
            job.running_since = time.time()
            try:
                r = await poll_device(self.engine, job.target, job.profile, job.labels, job.state, name)
            finally:
                job.running_since = None
        self.polls[name] += 1
        render_result(r)  # text once per poll, so a scrape only joins blocks
        self.store.put(r)
        if not r.ok:
            log.info("poll failed: %s", r.error)
        return r

    async def probe(self) -> list[PollResult]:
        """One ICMP sweep of every polled address (APs included) and the service checks."""
        from collectors import probes

        pc = self.cfg.probes
        devices = [d for d in self.inv.devices.values() if d.status.polled and in_shard(d.name, self.cfg.shard)]
        names = {str(d.mgmt_address): d.name for d in devices}
        labels = {d.name: tuple(sorted({"device": d.name, "site": d.site, "role": d.role.value,
                                        "site_kind": self.inv.sites[d.site].kind.value}.items())) for d in devices}
        started, t0 = time.time(), time.perf_counter()
        # the service checks run while the sweep waits for its replies: the job takes the longer of the two
        services = asyncio.gather(*(self._service(c) for c in pc.services))
        try:
            stats = await asyncio.to_thread(probes.sweep, list(names), pc.count, pc.timeout, pc.rate, pc.allowed_ranges)
        except (PermissionError, probes.ProbeRefused) as e:
            if not self._probe_warned:
                log.warning("ICMP probes off: %s", e if isinstance(e, probes.ProbeRefused) else "raw sockets need root")
                self._probe_warned = True
            stats = None
        results = [] if stats is None else probes.icmp_results(stats, names, labels, started, time.perf_counter() - t0)
        for r in results:
            render_result(r)
            self.store.put(r)
        checks = await services
        for r in checks:
            render_result(r)
            self.store.put(r)
        return results + list(checks)

    async def _service(self, c) -> PollResult:  # noqa: ANN001
        from collectors import probes

        started, t = time.time(), self.cfg.probes.timeout * 3
        if c.kind == "tcp":
            host, _, port = c.target.rpartition(":")
            ok, secs, err = await probes.check_tcp(host, int(port), t)
        elif c.kind == "dns":
            host, _, port = c.target.partition(":")
            ok, secs, err = await probes.check_dns(host, c.query or "", t, int(port or 53))
        else:
            ok, secs, err = await probes.check_http(c.target, t, c.expect)
        lab = (("kind", c.kind), ("service", c.name), ("target", c.target))
        samples = [Sample("emanwatch_probe_service_up", lab, 1.0 if ok else 0.0), Sample("emanwatch_probe_service_seconds", lab, secs)]
        return PollResult(device=f"service:{c.name}", collector=f"service-{c.kind}", ok=ok, started=started, duration=secs,
                          samples=samples, reason="" if ok else "service-down", error=err)

    def audit_devices(self) -> list[Device]:
        """What the scheduled audit covers: an ssh_auth and a playbook, ssh.roles / ssh.sites, our shard."""
        from .audit import auditable

        devices, _ = auditable(self.inv)
        ssh = self.cfg.ssh
        return [d for d in devices if (not ssh.roles or d.role in ssh.roles) and (not ssh.sites or d.site in ssh.sites)
                and in_shard(d.name, self.cfg.shard)]

    async def audit(self) -> int:
        """Back up and audit every device in scope (SSH, in threads); results go to the store as collector "ssh"."""
        from collectors.backup import ConfigHistory

        from . import audit as au

        devices = self.audit_devices()
        if not devices:
            return 0

        def run() -> list:
            if self._history is None:
                self._history = ConfigHistory(self.cfg.state_dir / "configs")
            caps = au.gather(self.cfg, devices)
            audits = au.evaluate_captures(self.cfg, self.inv, caps, self._history)
            au.save_evidence(self.cfg.state_dir, audits)
            return audits

        t0 = time.perf_counter()
        audits = await asyncio.to_thread(run)
        for a in audits:
            r = au.audit_samples(a, self.labels_of(a.device))
            render_result(r)
            self.store.put(r)
        failed = sum(1 for a in audits if a.failed())
        log.info("audit: %d devices in %.1fs, %d with failed checks, %d not reachable over SSH", len(audits),
                 time.perf_counter() - t0, failed, sum(1 for a in audits if not a.ok))
        return len(audits)

    def restore_audits(self, devices: list[Device]) -> int:
        """The last audit's evidence from disk: compliance is exported from the start, not hours later."""
        from . import audit as au

        n = 0
        scope = {d.name for d in devices}
        for a in au.load_evidence(self.cfg.state_dir):
            if a.device in scope:
                r = au.audit_samples(a, self.labels_of(a.device))
                render_result(r)
                self.store.put(r)
                n += 1
        return n

    def _report(self, kind: str) -> None:
        """The scheduled weekly / daily report into STATE/reports; a failure is logged, serve goes on."""
        from collectors.backup import CST

        from .reports import Prom, ReportError, daily, last_window, week_window, weekly

        prom = Prom.of(self.cfg)
        folder = self.cfg.state_dir / "reports"
        try:
            if kind == "weekly":
                win = week_window(None)
                paths = weekly(prom, win, self.inv, folder / f"weekly-{win.label}")
                log.info("weekly report %s: %s", win.label, paths["html"])
            else:
                text, events = daily(prom, last_window(86400), self.inv)
                path = folder / f"daily-{datetime.now(CST).strftime('%Y-%m-%d')}.md"  # the CST date it reports on
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                log.info("daily report: %d events: %s", len(events), path)
        except ReportError as e:
            log.error("%s report not made: %s", kind, e)

    def _add_report_jobs(self) -> None:
        from apscheduler.triggers.cron import CronTrigger

        from collectors.backup import CST

        assert self.sched is not None
        day, hm = self.cfg.reports.weekly_at.split()
        h, m = hm.split(":")
        self.sched.add_job(asyncio.to_thread, CronTrigger(day_of_week=day, hour=int(h), minute=int(m), timezone=CST),
                           args=[self._report, "weekly"], id="weekly-report", name="weekly capacity report", max_instances=1)
        h, m = self.cfg.reports.daily_at.split(":")
        self.sched.add_job(asyncio.to_thread, CronTrigger(hour=int(h), minute=int(m), timezone=CST),
                           args=[self._report, "daily"], id="daily-report", name="daily zero-report", max_instances=1)

    async def poll_all(self) -> list[PollResult]:
        """Every device once, now (one-shot runs and tests)."""
        return await asyncio.gather(*(self.poll(n) for n in self.jobs))

    async def start(self) -> None:
        await self.engine.start()
        self._sem = asyncio.Semaphore(self.cfg.polling.concurrency)
        self.sched = AsyncIOScheduler(timezone=UTC)
        now = datetime.now(UTC)
        for name, job in self.jobs.items():
            # a stable offset inside the interval spreads each role's polls evenly
            offset = (stable_hash(name) % 10_000) / 10_000 * job.interval if self.cfg.polling.jitter else 0.0
            self.sched.add_job(self.poll, IntervalTrigger(seconds=job.interval, start_date=now + timedelta(seconds=offset)),
                               args=[name], id=name, name=f"{job.device.role.value} {name}", max_instances=1,
                               coalesce=True, misfire_grace_time=max(1, int(job.interval)))
        if self.cfg.probes.enabled:
            self.sched.add_job(self.probe, IntervalTrigger(seconds=self.cfg.probes.interval), id="probes",
                               name="ICMP sweep and service checks", max_instances=1, coalesce=True,
                               next_run_time=datetime.now(UTC))
        in_scope = self.audit_devices() if self.cfg.ssh.audit_every else []
        if in_scope:
            # the last evidence is exported at once; a fresh audit follows soon (the saved one may be old)
            self.restore_audits(in_scope)
            first = datetime.now(UTC) + timedelta(seconds=5)
            self.sched.add_job(self.audit, IntervalTrigger(seconds=self.cfg.ssh.audit_every), id="audit",
                               name="config backup and 等保 audit", max_instances=1, coalesce=True, next_run_time=first)
        if self.cfg.reports.scheduled:
            self._add_report_jobs()
        self.sched.add_listener(self._overrun, EVENT_JOB_MAX_INSTANCES)
        self.sched.start()
        log.info("polling %d devices (shard %d of %d)", len(self.jobs), *self.cfg.shard)

    def _add_jobs(self, names: list[str]) -> None:
        assert self.sched is not None
        now = datetime.now(UTC)
        for name in names:
            job = self.jobs[name]
            # a stable offset inside the interval spreads each role's polls evenly
            offset = (stable_hash(name) % 10_000) / 10_000 * job.interval if self.cfg.polling.jitter else 0.0
            self.sched.add_job(self.poll, IntervalTrigger(seconds=job.interval, start_date=now + timedelta(seconds=offset)),
                               args=[name], id=name, name=f"{job.device.role.value} {name}", max_instances=1,
                               coalesce=True, misfire_grace_time=max(1, int(job.interval)))

    def _overrun(self, event: JobSubmissionEvent) -> None:
        job = self.jobs.get(event.job_id)
        self.overruns[event.job_id] += 1
        if job is None:  # the probe sweep or the audit
            log.warning("overrun: the %s job is still running at its next turn; this turn is skipped", event.job_id)
            return
        took = f"{time.time() - job.running_since:.1f}s" if job.running_since else "?"
        log.warning("overrun: %s is still being polled after %s (interval %gs); this turn is skipped",
                    event.job_id, took, job.interval)

    def stop(self) -> None:
        if self.sched:
            self.sched.shutdown(wait=False)
        self.engine.close()

    # ------------------------------------------------------------ exporter hooks

    def labels_of(self, device: str) -> dict[str, str]:
        lab = self._labels_cache.get(device)
        if lab is None:
            job = self.jobs.get(device)
            d = self.inv.devices.get(device)
            if job:
                lab = dict(job.labels.base)
            elif d is not None:  # probed but not SNMP-polled (an AP)
                lab = {"device": d.name, "site": d.site, "role": d.role.value, "site_kind": self.inv.sites[d.site].kind.value}
            else:
                lab = {"device": device}
            self._labels_cache[device] = lab
        return lab

    def metrics(self) -> Iterator[Metric]:
        over = Metric("emanwatch_scheduler_overruns", "Polls skipped because the previous poll of the device was still running.", "counter")
        for name, n in self.overruns.items():
            over.add_sample("emanwatch_scheduler_overruns_total", {**self.labels_of(name)}, float(n))
        yield over
        devices = Metric("emanwatch_scheduler_devices", "Devices this poller polls, by role and interval.", "gauge")
        per_role: Counter[tuple[str, float]] = Counter((j.device.role.value, j.interval) for j in self.jobs.values())
        for (role, interval), n in per_role.items():
            devices.add_sample("emanwatch_scheduler_devices", {"role": role, "interval_seconds": f"{interval:g}"}, float(n))
        yield devices
        late = Metric("emanwatch_snmp_late_replies", "SNMP replies that came after their request gave up.", "counter")
        late.add_sample("emanwatch_snmp_late_replies_total", {}, float(self.engine.late))
        yield late
        cap = Metric("emanwatch_egress_capacity_bps", "The district's internet egress capacity (inventory).", "gauge")
        cap.add_sample("emanwatch_egress_capacity_bps", {"district": self.inv.district.name}, float(self.inv.district.egress_capacity_bps))
        yield cap
        yield from self._topology_metrics()

    def _topology_metrics(self) -> Iterator[Metric]:
        """Ring state, isolated nodes and sites, root causes, LLDP vs inventory: from the latest polls."""
        from collectors.topology import topology_samples

        at, samples = self._topology
        if time.time() - at > self.topology_every:
            samples = topology_samples(self.inv, self.store.results())
            self._topology = (time.time(), samples)
        helps = {"emanwatch_ring_state": "Ring state: 2 both directions up, 1 degraded (redundancy lost), 0 broken (nodes isolated).",
                 "emanwatch_ring_node_isolated": "1 if the ring node cannot reach the core over either ring.",
                 "emanwatch_site_isolated": "1 if the site has no live path to the core.",
                 "emanwatch_device_cut_off": "1 for a device that answers nothing: cut_by names the root cause (itself when root=yes).",
                 "emanwatch_link_down": "1 for a link that is down: cut_by names the root cause (the link itself when root=yes).",
                 "emanwatch_site_cut_off": "1 for a site whose uplink device is down or cut off: cut_by names the root cause.",
                 "emanwatch_topology_mismatch": "LLDP disagrees with the inventory's links (kind: missing, unexpected, wrong-port, ring-order)."}
        fams: dict[str, Metric] = {}
        for s in samples:
            fam = fams.get(s.metric) or fams.setdefault(s.metric, Metric(s.metric, helps.get(s.metric, s.metric), "gauge"))
            fam.add_sample(s.metric, dict(s.labels), s.value)
        yield from fams.values()


__all__ = ["Scheduler", "SecretError", "in_shard", "polled_devices", "stable_hash"]
