"""The `emanwatch` command line.

Exit codes: 0 ok, 1 the job ran and found something (e.g. a failed check), 2 bad input
(config, inventory, arguments) with every problem printed and named.
"""

from __future__ import annotations

import json
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from inventory import InputError, Inventory, Selector, load_inventory, select
from inventory.select import unknown_values

from .config import Config, SecretError, load_config

app = typer.Typer(help="emanwatch: monitoring for a district education MAN (教育城域网).", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
inventory_app = typer.Typer(help="The district inventory: check, show, export.", no_args_is_help=True)
config_app = typer.Typer(help="config.yaml: check and resolve credentials.", no_args_is_help=True)
lab_app = typer.Typer(help="The lab: the demo district on loopback.", no_args_is_help=True)
app.add_typer(inventory_app, name="inventory")
app.add_typer(config_app, name="config")
app.add_typer(lab_app, name="lab")

# wide enough for device tables when piped; errors go out unwrapped so paths stay whole
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="config.yaml (default: $EMANWATCH_CONFIG, ./config.yaml, the repository's)")]


class State:
    config_path: Path | None = None


@app.callback()
def main(config: ConfigOpt = None) -> None:
    State.config_path = config


def fail(msg: str, code: int = 2) -> typer.Exit:
    print(msg, file=sys.stderr)
    return typer.Exit(code)


def get_config() -> Config:
    try:
        return load_config(State.config_path)
    except InputError as e:
        raise fail(str(e)) from None


def get_inventory(cfg: Config) -> Inventory:
    try:
        return load_inventory(cfg.path(cfg.inventory.path), allowed_ranges=cfg.inventory.allowed_ranges,
                              auth_names=cfg.auth_names(), ledgers=[cfg.path(p) for p in cfg.inventory.ledgers])
    except InputError as e:
        raise fail(str(e)) from None


# ---------------------------------------------------------------- inventory


SiteOpt = Annotated[list[str] | None, typer.Option("--site", "-s", help="site name or glob (repeatable)")]
RoleOpt = Annotated[list[str] | None, typer.Option("--role", "-r", help="device role (repeatable)")]
VendorOpt = Annotated[list[str] | None, typer.Option("--vendor", "-v", help="vendor (repeatable)")]
KindOpt = Annotated[list[str] | None, typer.Option("--kind", "-k", help="site kind: school, vocational, kindergarten, centre")]
StatusOpt = Annotated[list[str] | None, typer.Option("--status", help="lifecycle status (repeatable)")]


def _selector(inv: Inventory, site, role, vendor, kind, status) -> Selector:  # noqa: ANN001
    sel = Selector(tuple(site or ()), tuple(role or ()), tuple(vendor or ()), tuple(kind or ()), tuple(status or ()))
    bad = unknown_values(inv, sel)
    if bad:
        raise fail("\n".join(bad))
    return sel


class ShowFormat(StrEnum):
    table = "table"
    json = "json"


class ExportFormat(StrEnum):
    file_sd = "file_sd"
    http_sd = "http_sd"
    ledger = "ledger"


@inventory_app.command("check")
def inventory_check(as_json: Annotated[bool, typer.Option("--json", help="summary as JSON")] = False) -> None:
    """Load and validate the inventory; print its summary or every problem found."""
    from inventory.summary import fmt_bps, summarize

    t0 = time.perf_counter()
    cfg = get_config()
    inv = get_inventory(cfg)
    s = summarize(inv)
    s["load_seconds"] = round(time.perf_counter() - t0, 3)
    if as_json:
        out.print_json(json.dumps(s, ensure_ascii=False))
        return

    def counts(d: dict[str, int]) -> str:
        return ", ".join(f"{v} {k}" for k, v in sorted(d.items(), key=lambda kv: -kv[1]))

    ranges = ", ".join(str(r) for r in cfg.inventory.allowed_ranges)
    out.print(f"[bold]{s['district']}[/] inventory {cfg.path(cfg.inventory.path)}: [green]valid[/]")
    t = Table(show_header=False, box=None, padding=(0, 2))
    t.add_row("sites", f"{s['sites']}: {counts(s['sites_by_kind'])} ({s['admins']} 网管员 in the roster)")
    t.add_row("devices", f"{s['devices']}: {counts(s['devices_by_role'])}")
    t.add_row("vendors", counts(s["devices_by_vendor"]))
    t.add_row("status", counts(s["devices_by_status"]))
    t.add_row("interfaces", str(s["interfaces"]))
    t.add_row("links", f"{s['links']}: {counts(s['links_by_kind'])}")
    for kind, r in s["rings"].items():
        t.add_row(kind, f"closed, {len(r['order'])} nodes at {r['capacity']}bit/s: " + " → ".join(r["order"] + r["order"][:1]))
    egress = ", ".join(f"{e['carrier']} {fmt_bps(e['capacity_bps'])}" for e in s["egress"])
    t.add_row("egress", f"{egress} = {fmt_bps(s['egress_total_bps'])}bit/s (district {fmt_bps(s['egress_capacity_bps'])}bit/s)")
    t.add_row("addresses", f"{s['devices']} unique, all in {ranges}")
    t.add_row("loaded in", f"{s['load_seconds']:.2f} s")
    out.print(t)
    for w in s["warnings"]:
        print(f"warning: {w}", file=sys.stderr)


@inventory_app.command("show")
def inventory_show(
    site: SiteOpt = None, role: RoleOpt = None, vendor: VendorOpt = None, kind: KindOpt = None, status: StatusOpt = None,
    fmt: Annotated[ShowFormat, typer.Option("--format", "-f")] = ShowFormat.table,
) -> None:
    """List devices, filtered by site, role, vendor, site kind, status."""
    cfg = get_config()
    inv = get_inventory(cfg)
    devices = select(inv, _selector(inv, site, role, vendor, kind, status))
    if fmt == ShowFormat.json:
        rows = [{"name": d.name, "site": d.site, "site_kind": inv.sites[d.site].kind.value, "role": d.role.value,
                 "vendor": d.vendor.value if d.vendor else None, "platform": d.platform, "model": d.model,
                 "mgmt_address": str(d.mgmt_address), "status": d.status.value, "parent": d.parent,
                 "snmp_auth": d.snmp_auth, "ssh_auth": d.ssh_auth} for d in devices]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
        return
    t = Table("name", "site", "role", "vendor", "platform", "model", "mgmt address", "status",
              title=f"{len(devices)} devices", title_justify="left")
    for d in devices:
        t.add_row(d.name, d.site, d.role.value, d.vendor.value if d.vendor else "", d.platform or "", d.model,
                  str(d.mgmt_address), d.status.value)
    out.print(t)


@inventory_app.command("export")
def inventory_export(
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="file_sd / http_sd JSON, or the CSV ledger (台账)")] = ExportFormat.file_sd,
    port: Annotated[int | None, typer.Option(help="append :PORT to SD targets")] = None,
    site: SiteOpt = None, role: RoleOpt = None, vendor: VendorOpt = None, kind: KindOpt = None, status: StatusOpt = None,
) -> None:
    """Write Prometheus service discovery JSON (or the CSV ledger) to stdout."""
    from inventory.ledger import write_ledger
    from inventory.sd import target_groups

    cfg = get_config()
    inv = get_inventory(cfg)
    devices = select(inv, _selector(inv, site, role, vendor, kind, status))
    if fmt == ExportFormat.ledger:
        write_ledger(devices, sys.stdout)
        return
    sys.stdout.write(json.dumps(target_groups(inv, devices, fmt.value, port), ensure_ascii=False, indent=1) + "\n")


# ---------------------------------------------------------------- polling


@app.command("serve")
def serve() -> None:
    """The main job: scheduled polls of the inventory and the Prometheus exporter on listen.exporter."""
    import asyncio
    import logging
    import signal

    from collectors.store import ResultStore
    from exporters.prometheus import make_registry, serve_metrics

    from .scheduler import Scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    cfg = get_config()
    inv = get_inventory(cfg)
    store = ResultStore()
    try:
        sch = Scheduler(cfg, inv, store)
    except SecretError as e:
        raise fail(str(e)) from None
    from exporters.influx import from_config

    try:
        influx = from_config(cfg)
    except SecretError as e:
        raise fail(str(e)) from None
    extra = sch.metrics
    if influx is not None:
        store.subscribe(influx.add)  # every result spooled, then written to InfluxDB
        influx.start()

        def extra():  # noqa: ANN202 - the scheduler's metrics and the writer's
            yield from sch.metrics()
            yield from influx.metrics()

        out.print(f"InfluxDB writes to {cfg.influx.url} (bucket {cfg.influx.bucket}), spooled in {influx.spool.path}")
    host, _, port = cfg.listen.exporter.rpartition(":")
    try:
        serve_metrics(store, make_registry(store, sch.labels_of, extra), host, int(port))
    except OSError as e:
        raise fail(f"{cfg.source}: listen.exporter {cfg.listen.exporter}: {e.strerror}") from None
    out.print(f"emanwatch serving /metrics on http://{cfg.listen.exporter}/metrics; polling {len(sch.jobs)} devices")
    from .notifier import Notifier

    notifier = Notifier(cfg, inv)
    nhost, _, nport = cfg.listen.notifier.rpartition(":")
    try:
        notifier.serve(nhost, int(nport))
    except OSError as e:
        raise fail(f"{cfg.source}: listen.notifier {cfg.listen.notifier} (or notify.smtp sink): {e.strerror}") from None
    out.print(f"notifier: Alertmanager webhook on http://{cfg.listen.notifier}/alertmanager")

    inv_path = cfg.path(cfg.inventory.path)

    def inventory_stamp() -> float:
        files = [inv_path] if inv_path.is_file() else list(inv_path.rglob("*.y*ml"))
        files += [cfg.path(p) for p in cfg.inventory.ledgers]
        return max((f.stat().st_mtime for f in files if f.exists()), default=0.0)

    def reload() -> None:
        try:
            new = load_inventory(inv_path, allowed_ranges=cfg.inventory.allowed_ranges, auth_names=cfg.auth_names(),
                                 ledgers=[cfg.path(p) for p in cfg.inventory.ledgers])
        except InputError as e:  # a broken edit keeps the running inventory, and says why
            logging.getLogger("emanwatch").error("inventory not reloaded:\n%s", e)
            return
        sch.reload(new)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, reload)
        await sch.start()
        stamp = inventory_stamp()
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), 30)
            except TimeoutError:
                now = inventory_stamp()
                if now != stamp:  # an edited inventory is picked up without a restart
                    stamp = now
                    reload()
        sch.stop()
        notifier.close()
        if influx is not None:
            influx.stop()

    asyncio.run(run())


class PollFormat(StrEnum):
    table = "table"
    json = "json"


@app.command("poll")
def poll(
    target: Annotated[str, typer.Argument(help="a device name from the inventory, or ADDRESS[:PORT]")],
    platform: Annotated[str | None, typer.Option(help="profile to use (default: inventory, else sysObjectID)")] = None,
    community: Annotated[str | None, typer.Option(help="SNMP v2c community for an ad-hoc check")] = None,
    auth: Annotated[str | None, typer.Option(help="an auth name from config.yaml auths.snmp")] = None,
    fmt: Annotated[PollFormat, typer.Option("--format", "-f")] = PollFormat.table,
    timeout: Annotated[float, typer.Option(help="seconds per request")] = 2.0,
) -> None:
    """Poll one device once with the same profiles as `serve` and print what came back."""
    import asyncio

    from collectors.snmp.client import SnmpEngine, SnmpError, Target
    from collectors.snmp.poller import DeviceLabels, DeviceState, device_labels, poll_device
    from collectors.snmp.profiles import ProfileError, load_profile, profile_by_sys_object_id, profile_for

    from .config import ResolvedSnmpAuth, resolve_snmp_auth

    cfg = get_config()
    inv = get_inventory(cfg)
    dev = inv.devices.get(target)
    if dev is not None:
        address, port = str(dev.mgmt_address), cfg.polling.snmp_port
        labels = device_labels(inv, dev.name)
        name = dev.name
    else:
        address, _, p = target.partition(":")
        try:
            import ipaddress

            ipaddress.ip_address(address)
        except ValueError:
            raise fail(f"{target!r} is neither a device in the inventory nor an IP address") from None
        port = int(p) if p else cfg.polling.snmp_port
        labels = DeviceLabels(base=(("device", target),))
        name = target
    try:
        if community:
            a = ResolvedSnmpAuth(name="cli", version="2c", community=community)
        else:
            ref = auth or (dev.snmp_auth if dev else None)
            if not ref:
                raise fail("no credentials: give --community or --auth (or poll a device the inventory knows)")
            a = resolve_snmp_auth(cfg, ref)
    except SecretError as e:
        raise fail(str(e)) from None

    async def run():  # noqa: ANN202
        engine = SnmpEngine()
        await engine.start()
        t = Target(address, a, port=port, timeout=timeout, retries=1)
        try:
            if platform:
                prof = load_profile(platform)
            elif dev is not None:
                prof = profile_for(dev.platform)
            else:
                got = await engine.get(t, ["1.3.6.1.2.1.1.2.0"])
                sysoid = str(got["1.3.6.1.2.1.1.2.0"][1])
                prof = profile_by_sys_object_id(sysoid) or load_profile("if_mib")
            return await poll_device(engine, t, prof, labels, DeviceState(), name)
        finally:
            engine.close()

    try:
        r = asyncio.run(run())
    except ProfileError as e:
        raise fail(str(e)) from None
    except SnmpError as e:
        raise fail(f"{name}: {e}", 1) from None
    if fmt == PollFormat.json:
        rows = [{"metric": s.metric, "labels": dict(s.labels), "value": s.value} for s in r.samples]
        rows.append({"metric": "emanwatch_poll_success", "labels": {"device": name}, "value": 1.0 if r.ok else 0.0})
        rows.append({"metric": "emanwatch_poll_duration_seconds", "labels": {"device": name}, "value": r.duration})
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
    else:
        _poll_table(r)
    if not r.ok:
        raise typer.Exit(1)


def _poll_table(r) -> None:  # noqa: ANN001
    status = "[green]ok[/]" if r.ok else f"[red]failed ({r.reason})[/]: {r.error}"
    out.print(f"{r.device}: poll {status} in {r.duration * 1000:.0f} ms, {r.varbinds} varbinds, profile {r.platform}")
    dev = {s.metric: s.value for s in r.samples if s.metric.startswith("emanwatch_") and "ap" not in s.metric}
    if dev:
        out.print("  " + ", ".join(f"{k.removeprefix('emanwatch_')} {v:g}" for k, v in dev.items()))
    rows: dict[str, dict[str, object]] = {}
    for s in r.samples:
        lab = dict(s.labels)
        if "ifIndex" in lab:
            row = rows.setdefault(lab["ifIndex"], {"ifName": lab.get("ifName", ""), "alias": lab.get("ifAlias", ""),
                                                   "link": lab.get("link_kind", "")})
            row[s.metric] = s.value
    if rows:
        t = Table("ifIndex", "ifName", "oper", "Mbit/s", "in octets", "out octets", "in err", "link", "ifAlias")
        for idx, row in rows.items():
            oper = {1.0: "up", 2.0: "down"}.get(row.get("ifOperStatus"), "?")  # type: ignore[arg-type]
            t.add_row(idx, str(row["ifName"]), oper, f"{row.get('ifHighSpeed', 0):g}", f"{row.get('ifHCInOctets', 0):.0f}",
                      f"{row.get('ifHCOutOctets', 0):.0f}", f"{row.get('ifInErrors', 0):g}", str(row["link"]), str(row["alias"]))
        out.print(t)
    aps = [(dict(s.labels).get("ap"), s.value) for s in r.samples if s.metric == "emanwatch_ap_up"]
    if aps:
        clients = {dict(s.labels).get("ap"): s.value for s in r.samples if s.metric == "emanwatch_ap_clients"}
        t = Table("AP", "up", "clients", title=f"{sum(v for _, v in aps):g} of {len(aps)} APs up", title_justify="left")
        for ap, up in aps:
            t.add_row(str(ap), "up" if up else "[red]down[/]", f"{clients.get(ap, 0):g}")
        out.print(t)


services_app = typer.Typer(help="The main job and its real servers as background processes (the demo).", no_args_is_help=True)
app.add_typer(services_app, name="services")


def _services(cfg: Config):  # noqa: ANN202
    from .services import alertmanager, emanwatch_serve, prometheus, victoria_metrics

    vm = [victoria_metrics(cfg)] if cfg.influx.enabled else []  # started before serve writes to it
    return vm + [emanwatch_serve(cfg, State.config_path), alertmanager(cfg, get_inventory(cfg)), prometheus(cfg)]


@services_app.command("up")
def services_up() -> None:
    """Start `emanwatch serve` (exporter + notifier), Alertmanager and Prometheus, in the background."""
    from .services import ServiceError

    cfg = get_config()
    try:
        for svc in _services(cfg):
            svc.start()
            out.print(f"{svc.name} running (pid {svc.pid()}), log {svc.folder / (svc.name + '.log')}")
    except ServiceError as e:
        raise fail(str(e)) from None
    out.print(f"metrics:    http://{cfg.listen.exporter}/metrics\nprometheus: http://{cfg.listen.prometheus}/graph")


@services_app.command("down")
def services_down() -> None:
    """Stop what `services up` started."""
    cfg = get_config()
    for svc in reversed(_services(cfg)):
        out.print(f"{svc.name}: {'stopped' if svc.stop() else 'not running'}")


@app.command("alerts")
def alerts(
    sent: Annotated[bool, typer.Option("--sent", help="the messages the local sinks received instead (demo)")] = False,
    limit: Annotated[int, typer.Option(help="at most this many")] = 20,
) -> None:
    """What Alertmanager holds now (firing, muted by a root cause or not), or what was delivered."""
    import json

    import httpx

    cfg = get_config()
    try:
        if sent:
            recs = httpx.get(f"http://{cfg.listen.notifier}/sink", timeout=10).json()
            for r in recs[-limit:]:
                body = r["body"]
                if r["kind"] != "email":
                    md = json.loads(body)["markdown"]
                    body = md.get("content") or md.get("text", "")
                else:
                    body = body.split("\n\n", 1)[-1]
                out.print(f"[bold]{r['kind']} -> {r['name']}[/bold]")
                out.print("    " + body.strip().replace("\n", "\n    "), markup=False)
            return
        got = httpx.get(f"http://{cfg.listen.alertmanager}/api/v2/alerts", timeout=10).json()
    except httpx.HTTPError as e:
        raise fail(f"not answering ({e}); `emanwatch services up` starts the notifier and Alertmanager") from None
    from rich.table import Table

    t = Table("alert", "severity", "site", "device / link", "state", "since")
    for a in sorted(got, key=lambda a: a["startsAt"])[-limit:]:
        lab = a["labels"]
        st = a["status"]
        state = st["state"] + (f" (by {lab.get('cut_by')})" if st.get("inhibitedBy") and lab.get("cut_by") else "")
        t.add_row(lab.get("alertname", ""), lab.get("severity", ""), lab.get("site", ""),
                  lab.get("device") or lab.get("link") or lab.get("carrier", ""), state, a["startsAt"][:19])
    out.print(t)


@app.command("query")
def query(expr: Annotated[str, typer.Argument(help="a PromQL expression")],
          by: Annotated[list[str] | None, typer.Option("--by", help="label(s) to show (default: all)")] = None,
          limit: int = 20) -> None:
    """Run PromQL against the Prometheus at listen.prometheus and print the result."""
    import httpx

    cfg = get_config()
    try:
        r = httpx.get(f"http://{cfg.listen.prometheus}/api/v1/query", params={"query": expr}, timeout=30)
    except httpx.HTTPError as e:
        raise fail(f"Prometheus at {cfg.listen.prometheus} is not answering ({e}); `emanwatch services up` starts it") from None
    body = r.json()
    if body.get("status") != "success":
        raise fail(f"{expr}: {body.get('error', r.text)}")
    res = body["data"]["result"]
    if not res:
        out.print("(no data yet)")
        return
    for x in res[:limit]:
        lab = x.get("metric", {})
        shown = {k: lab[k] for k in (by or sorted(lab)) if k in lab and k != "__name__"}
        out.print(f"{float(x['value'][1]):.4g}  " + " ".join(f"{k}={v}" for k, v in shown.items()), markup=False)
    if len(res) > limit:
        out.print(f"... {len(res) - limit} more")


topology_app = typer.Typer(help="Topology: LLDP against the inventory's links, and the ring's state.", no_args_is_help=True)
app.add_typer(topology_app, name="topology")


def _poll_everything(cfg: Config, inv: Inventory):  # noqa: ANN202
    import asyncio

    from collectors.store import ResultStore

    from .scheduler import Scheduler

    store = ResultStore()
    sch = Scheduler(cfg, inv, store)

    async def run():  # noqa: ANN202
        await sch.engine.start()
        sch._sem = asyncio.Semaphore(cfg.polling.concurrency)
        try:
            return await sch.poll_all()
        finally:
            sch.engine.close()

    return asyncio.run(run())


@topology_app.command("check")
def topology_check(site: SiteOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False,
                   ssh: Annotated[bool, typer.Option("--ssh", help="take LLDP from the CLIs (display/show lldp) instead of LLDP-MIB")] = False) -> None:
    """Poll LLDP and link status now; report cabling that disagrees with the inventory and the ring's state."""
    from collectors.topology import compare, observed_lldp, ring_state_from_results

    cfg = get_config()
    inv = get_inventory(cfg)
    try:
        results = _poll_everything(cfg, inv)
    except SecretError as e:
        raise fail(str(e)) from None
    lldp, oper = observed_lldp(results)
    if ssh:
        lldp = _lldp_over_ssh(cfg, inv, set(lldp))
    findings = compare(inv, lldp, oper)
    if site:
        from fnmatch import fnmatchcase

        findings = [f for f in findings if any(fnmatchcase(inv.devices[f.device].site, p) for p in site)]
    ring = ring_state_from_results(inv, results, oper)
    unpolled = sorted(r.device for r in results if not r.ok)
    if as_json:
        sys.stdout.write(json.dumps({"findings": [f.__dict__ for f in findings], "ring": ring.__dict__,
                                     "not_polled": unpolled}, ensure_ascii=False, indent=1) + "\n")
    else:
        out.print(f"ring: {ring.overall} (" + ", ".join(f"{k} {v}" for k, v in ring.rings.items()) + ")")
        for x in ring.down_links:
            out.print(f"  down: {x}", markup=False)
        if ring.isolated_nodes or ring.isolated_sites:
            out.print(f"  isolated: {', '.join(ring.isolated_nodes + ring.isolated_sites)}", markup=False)
        t = Table("finding", "device", "port", "inventory says", "LLDP sees", title=f"{len(findings)} cabling findings",
                  title_justify="left")
        for f in findings:
            t.add_row(f.kind, f.device, f.port, f.expected or "-", f.observed or "-")
        out.print(t)
        if unpolled:
            out.print(f"not judged (did not answer SNMP): {', '.join(unpolled[:20])}{' ...' if len(unpolled) > 20 else ''}")
    if findings or ring.overall != "up":
        raise typer.Exit(1)


def _lldp_over_ssh(cfg: Config, inv: Inventory, devices: set[str]) -> dict[str, dict[str, tuple[str, str]]]:
    from concurrent.futures import ThreadPoolExecutor

    from collectors.ssh_lldp import lldp_over_ssh

    from .config import resolve_ssh_auth

    creds: dict[str, tuple[str, str]] = {}
    targets = []
    for name in sorted(devices):
        d = inv.devices[name]
        if not d.ssh_auth:
            continue
        if d.ssh_auth not in creds:
            try:
                creds[d.ssh_auth] = resolve_ssh_auth(cfg, d.ssh_auth)[:2]
            except SecretError as e:
                raise fail(str(e)) from None
        targets.append(d)
    out: dict[str, dict[str, tuple[str, str]]] = {}
    with ThreadPoolExecutor(16) as pool:
        # the SSH port devices listen on (ssh.port; a private lab sets it to its own)
        for r in pool.map(lambda d: lldp_over_ssh(d, *creds[d.ssh_auth], port=cfg.ssh.port), targets):
            if r.ok:
                out[r.device] = r.neighbors
            else:
                print(f"warning: {r.error}", file=sys.stderr)
    return out


@app.command("probe")
def probe(site: SiteOpt = None, role: RoleOpt = None, count: int = 3, timeout: float = 1.0) -> None:
    """One ICMP sweep now (root): which addresses answer, loss and RTT."""
    from collectors.probes import ProbeRefused, sweep

    cfg = get_config()
    inv = get_inventory(cfg)
    devices = [d for d in select(inv, _selector(inv, site, role, None, None, None)) if d.status.polled]
    t0 = time.perf_counter()
    try:
        stats = sweep([str(d.mgmt_address) for d in devices], count, timeout, cfg.probes.rate, cfg.probes.allowed_ranges)
    except PermissionError:
        raise fail("ICMP probes need raw sockets: run as root") from None
    except ProbeRefused as e:
        raise fail(str(e)) from None
    took = time.perf_counter() - t0
    down = [d for d in devices if not stats[str(d.mgmt_address)].received]
    out.print(f"{len(devices)} addresses x {count} probes in {took:.2f} s: {len(devices) - len(down)} answer, {len(down)} do not")
    for d in down[:50]:
        out.print(f"  no reply: {d.name} {d.mgmt_address} ({d.site})", markup=False)
    if down:
        raise typer.Exit(1)


rules_app = typer.Typer(help="Prometheus rules rendered from config.yaml's thresholds.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")


@rules_app.command("alertmanager")
def rules_alertmanager(out_file: Annotated[Path | None, typer.Option("--out", help="file (default: STATE/alertmanager/alertmanager.yml)")] = None) -> None:
    """Generate Alertmanager's config from the inventory's rosters and check it with amtool."""
    import shutil
    import subprocess

    from .alertmanager import write_alertmanager_config

    cfg = get_config()
    path = write_alertmanager_config(cfg, get_inventory(cfg), out_file or cfg.state_dir / "alertmanager" / "alertmanager.yml")
    exe = shutil.which("amtool")
    if exe:
        r = subprocess.run([exe, "check-config", str(path)], capture_output=True, text=True)
        if r.returncode != 0:
            raise fail(r.stdout + r.stderr)
    out.print(str(path))


@rules_app.command("render")
def rules_render(out_dir: Annotated[Path | None, typer.Option("--out", help="folder (default: STATE/rules)")] = None) -> None:
    """Render rules/templates/*.j2 with config.yaml `alerting:` and check them with promtool."""
    import shutil
    import subprocess

    from .rules import write_rules

    cfg = get_config()
    paths = write_rules(cfg, out_dir)
    exe = shutil.which("promtool")
    if exe:
        r = subprocess.run([exe, "check", "rules", *map(str, paths)], capture_output=True, text=True)
        if r.returncode != 0:
            raise fail(r.stdout + r.stderr)
    for p in paths:
        out.print(str(p))


# ---------------------------------------------------------------- config


@config_app.command("check")
def config_check() -> None:
    """Validate config.yaml and resolve every credential reference."""
    cfg = get_config()
    problems = []
    for key, ref in cfg.secret_refs():
        try:
            cfg.secret(ref, key)
        except SecretError as e:
            problems.append(str(e))
    if problems:
        raise fail("\n".join(problems))
    k, n = cfg.shard
    out.print(f"{cfg.source}: [green]valid[/]; {len(cfg.secret_refs())} credentials resolved; "
              f"shard {k} of {n}; exporter on {cfg.listen.exporter}")


# ---------------------------------------------------------------- lab


def _lab_client():  # noqa: ANN202
    from lab.client import LabClient

    return LabClient(get_config())


@lab_app.command("up")
def lab_up(time_factor: Annotated[float | None, typer.Option(help="run the traffic shape this much faster (1008: a week in 10 min)")] = None) -> None:
    """Start the lab in the background: every device's SNMP agent and SSH CLI on its 127.x address."""
    from lab.client import LabError

    t0 = time.perf_counter()
    try:
        st = _lab_client().up(State.config_path, time_factor)
    except LabError as e:
        raise fail(str(e)) from None
    out.print(f"lab up in {time.perf_counter() - t0:.1f} s: {st['snmp_agents']} SNMP agents (port {st['snmp_port']}), "
              f"{st['ssh_listeners']} SSH CLIs, {st['aps']} APs behind their ACs; ICMP faults: {st['icmp_faults']}; "
              f"time factor {st['time_factor']:g}")


@lab_app.command("status")
def lab_status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """What the lab serves, what it has answered, which faults are active."""
    from lab.client import LabError

    try:
        st = _lab_client().status()
    except LabError as e:
        raise fail(str(e)) from None
    if as_json:
        out.print_json(json.dumps(st, ensure_ascii=False))
        return
    out.print(f"lab pid {st['pid']}, up {st['up_seconds']:.0f} s: {st['snmp_agents']} agents, {st['ssh_listeners']} SSH CLIs, "
              f"{st['unreachable']} addresses unreachable; SNMP {st['snmp']['requests']} requests, {st['snmp']['varbinds']} varbinds")
    t = Table("id", "fault", "target", "params", title=f"{len(st['faults'])} active faults", title_justify="left")
    for f in st["faults"]:
        params = {k: v for k, v in f.items() if k not in ("id", "kind", "target", "since")}
        t.add_row(str(f["id"]), f["kind"], f["target"], " ".join(f"{k}={v}" for k, v in params.items()))
    out.print(t)


@lab_app.command("fault")
def lab_fault(
    kind: Annotated[str, typer.Argument(help="e.g. device-down, link-down, carrier-down, config-drift (see `lab faults`)")],
    target: Annotated[str, typer.Argument(help="DEVICE, DEVICE:INTERFACE, a carrier, or nothing")] = "",
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="KEY=VALUE (repeatable)")] = None,
) -> None:
    """Break something in the running lab."""
    from lab.client import LabError

    params = {}
    for p in param or []:
        k, sep, v = p.partition("=")
        if not sep:
            raise fail(f"--param wants KEY=VALUE, got {p!r}")
        params[k] = v
    try:
        rec = _lab_client().fault(kind, target, **params)
    except LabError as e:
        raise fail(str(e)) from None
    out.print(f"fault {rec['id']}: {rec['kind']} {rec['target']}")


@lab_app.command("faults")
def lab_faults() -> None:
    """The faults the lab can inject."""
    from lab.faults import FAULTS

    t = Table("fault", "target", "what it does")
    for k, f in FAULTS.items():
        t.add_row(k, f.target, f.what)
    out.print(t)


@lab_app.command("clear")
def lab_clear(fault_id: Annotated[int | None, typer.Argument(help="a fault id; all faults when omitted")] = None) -> None:
    """Undo one fault, or all of them."""
    from lab.client import LabError

    try:
        gone = _lab_client().clear(fault_id)
    except LabError as e:
        raise fail(str(e)) from None
    out.print(f"cleared {len(gone)} fault(s)")


@lab_app.command("down")
def lab_down() -> None:
    """Stop the lab (and remove its ICMP rules)."""
    out.print("lab stopped" if _lab_client().down() else "no lab running")


netns_app = typer.Typer(help="Namespace mode: real net-snmp snmpd agents over veth links (root).", no_args_is_help=True)
lab_app.add_typer(netns_app, name="netns")


def _netns(nodes: int = 3, schools: int = 2, extra_ifs: int = 0):  # noqa: ANN202
    from lab.netns import NetnsLab
    from lab.secrets import ensure_lab_secrets

    cfg = get_config()
    ensure_lab_secrets(cfg)
    from .config import resolve_snmp_auth

    community = resolve_snmp_auth(cfg, cfg.lab.snmp_v2c_auth).community or ""
    return NetnsLab(nodes=nodes, schools=schools, extra_ifs=extra_ifs, community=community, state=cfg.state_dir / "lab" / "netns")


@netns_app.command("up")
def netns_up(nodes: int = 3, schools: int = 2,
             extra_ifs: Annotated[int, typer.Option(help="extra interfaces per agent (big IF-MIB tables)")] = 0,
             traffic: Annotated[float, typer.Option(help="seconds of school -> poller traffic to send")] = 2.0) -> None:
    """Ring nodes and schools as network namespaces running snmpd, with real traffic."""
    from lab.netns import NetnsError

    lab = _netns(nodes, schools, extra_ifs)
    try:
        agents = lab.up()
        if traffic:
            lab.traffic(traffic)
    except NetnsError as e:
        raise fail(f"namespace mode: {e}") from None
    t = Table("namespace", "snmpd address (from ew-nms)", "veths")
    for a in agents:
        t.add_row(a.ns, a.address, " ".join(a.veths))
    out.print(t)
    out.print("poll from the poller's namespace, e.g.: ip netns exec ew-nms snmpwalk -v2c -c $(cat var/secrets/snmp-community) "
              f"{agents[0].address} 1.3.6.1.2.1.31.1.1.1.1")


@netns_app.command("down")
def netns_down() -> None:
    """Stop the namespace agents and delete the namespaces."""
    _netns().down()
    out.print("namespaces removed")


@lab_app.command("secrets")
def lab_secrets() -> None:
    """Create the lab's credentials (random, mode 0600) where config.yaml references missing files."""
    from lab.secrets import ensure_lab_secrets

    cfg = get_config()
    created = ensure_lab_secrets(cfg)
    for p in created:
        out.print(f"created {p}")
    if not created:
        out.print("all lab secrets present")


if __name__ == "__main__":
    app()


# ---------------------------------------------------------------- audit and config backup


def _audit_selection(inv: Inventory, site: list[str] | None, device: list[str] | None, all_: bool) -> list[str]:
    if not (site or device or all_):
        raise fail("say what to audit: --site S, --device D or --all")
    names = set()
    if all_:
        names = set(inv.devices)
    if site:
        sel = _selector(inv, site, None, None, None, None)
        names |= {d.name for d in select(inv, sel)}
    for d in device or []:
        if d not in inv.devices:
            raise fail(f"--device {d}: not in the inventory")
        names.add(d)
    return sorted(names)


@app.command("audit")
def audit_cmd(
    site: SiteOpt = None,
    device: Annotated[list[str] | None, typer.Option("--device", "-d", help="device name (repeatable)")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every device with an ssh_auth")] = False,
    offline: Annotated[list[Path] | None, typer.Option("--offline", help="saved outputs instead of SSH: a session log, a "
                                                       "running config or a folder of per-command files (repeatable)")] = None,
    platform: Annotated[str | None, typer.Option("--platform", help="platform of the --offline input (default: detected)")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="report folder (default: STATE/reports/audit-<time>)")] = None,
    backup: Annotated[bool, typer.Option(help="also store the running configs in the config history")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print the results as JSON")] = False,
) -> None:
    """等保 2.0 pre-inspection audit: SSH in (or read saved outputs), evaluate every check, print the
    table and write the self-check report (自查报告) as HTML, Markdown and JSON.
    Exit 1 when a high-severity check fails (a change gate), 3 when a device could not be audited."""
    from rich.progress import Progress

    from collectors.backup import BackupError, ConfigHistory

    from . import audit as au

    cfg = get_config()
    inv = get_inventory(cfg)
    now = time.time()
    if offline:
        missing = [str(p) for p in offline if not p.exists()]
        if missing:
            raise fail(f"--offline: no such file or folder: {', '.join(missing)}")
        caps = [au.offline_capture(p, platform, inv) for p in offline]
        scope = "离线证据：" + "，".join(str(p) for p in offline)
        history = None
    else:
        names = _audit_selection(inv, site, device, all_)
        devices, skipped = au.auditable(inv, names)
        for s in skipped:
            print(f"skipped: {s}", file=sys.stderr)
        if not devices:
            raise fail("nothing to audit: no selected device has an ssh_auth and a playbook")
        scope = "全部设备" if all_ else "，".join((site or []) + (device or []))
        with Progress(console=Console(stderr=True), transient=True) as prog:
            task = prog.add_task(f"auditing {len(devices)} devices", total=len(devices))
            caps = au.gather(cfg, devices, progress=lambda c: prog.advance(task))
        try:
            history = ConfigHistory(cfg.state_dir / "configs") if backup else None
        except BackupError as e:
            raise fail(str(e)) from None
    audits = au.evaluate_captures(cfg, inv, caps, history, now)
    au.save_evidence(cfg.state_dir, [a for a in audits if a.source == "ssh"])
    ctx = au.report_context(audits, inv, scope, now)
    folder = out_dir or cfg.state_dir / "reports" / f"audit-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}"
    paths = au.write_reports(folder, ctx)
    if as_json:
        print(json.dumps([a.as_dict() for a in audits], ensure_ascii=False, indent=1))
    else:
        _audit_tables(audits, ctx)
        for kind, p in paths.items():
            out.print(f"report ({kind}): {p}")
    raise typer.Exit(au.exit_code(audits))


def _audit_tables(audits, ctx) -> None:  # noqa: ANN001
    style = {"符合": "green", "部分符合": "yellow", "不符合": "red", "不适用": "dim"}
    if len(audits) <= 3:
        for a in audits:
            if not a.ok:
                continue
            t = Table("check", "clause", "result", "command", "evidence", title=f"{a.device} ({a.platform})")
            for r in a.results:
                t.add_row(r.check, r.clause, f"[{style[r.status]}]{r.status}[/]", r.command, r.evidence[:100])
            out.print(t)
    else:
        t = Table("device", "site", "符合", "部分符合", "不符合", "不适用", "failed checks", title=f"{len(audits)} devices")
        for a in audits:
            if not a.ok:
                continue
            n = {s: sum(1 for r in a.results if r.status == s) for s in style}
            if n["不符合"] or n["部分符合"]:
                t.add_row(a.device, a.site, str(n["符合"]), str(n["部分符合"]), str(n["不符合"]), str(n["不适用"]),
                          ", ".join(r.check for r in a.failed()))
        out.print(t)
    if ctx["gaps"]:
        g = Table("severity", "device", "check", "result", "evidence", title="gaps (high first)")
        for x in ctx["gaps"][:60]:
            g.add_row(x["severity"], x["device"], x["check"], f"[{style[x['status']]}]{x['status']}[/]", x["evidence"][:90])
        out.print(g)
    bad = [a for a in audits if not a.ok]
    for a in bad:
        out.print(f"[red]not audited[/] {a.error}")
    for a in audits:
        for k, v in a.command_errors.items():
            out.print(f"[yellow]{a.device}[/] {k}: {v}")
    c = ctx["counts"]
    out.print(f"{len(audits) - len(bad)} audited, {len(bad)} not; 符合 {c['符合']}, 部分符合 {c['部分符合']}, "
              f"不符合 {c['不符合']}, 不适用 {c['不适用']}; high-severity gaps {ctx['high_failed']}")


@app.command("backup")
def backup_cmd(
    site: SiteOpt = None,
    device: Annotated[list[str] | None, typer.Option("--device", "-d", help="device name (repeatable)")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every device with an ssh_auth")] = False,
    log: Annotated[str | None, typer.Option("--log", help="print this device's config history (git log -p) and stop")] = None,
) -> None:
    """Back up running configurations (masked, volatile lines dropped) into STATE/configs (git)."""
    from collectors.backup import BackupError, ConfigHistory

    from . import audit as au

    cfg = get_config()
    inv = get_inventory(cfg)
    try:
        history = ConfigHistory(cfg.state_dir / "configs")
        if log:
            if log not in inv.devices:
                raise fail(f"--log {log}: not in the inventory")
            print(history.log(log, inv.devices[log].site) or f"{log}: no backup yet")
            return
    except BackupError as e:
        raise fail(str(e)) from None
    devices, skipped = au.auditable(inv, _audit_selection(inv, site, device, all_))
    t0 = time.time()
    caps = au.gather(cfg, devices) if devices else []
    # only the running config is needed here, but one session reads the playbook's evidence anyway
    audits = au.evaluate_captures(cfg, inv, caps, history, t0)
    ok = [a for a in audits if a.ok]
    changed = [a for a in audits if a.config_changed]
    for a in changed:
        flag = " [red](outside the change windows)[/]" if a.changed_outside_window else ""
        out.print(f"[bold]{a.device}[/] changed{flag}\n{a.diff}")
    for a in audits:
        if not a.ok:
            out.print(f"[red]not backed up[/] {a.error}")
    out.print(f"backed up {len(ok)} of {len(devices)} devices in {time.time() - t0:.1f}s; {len(changed)} changed; "
              f"history: {history.root}")
    raise typer.Exit(0 if len(ok) == len(devices) else 3)


# ---------------------------------------------------------------- reports

report_app = typer.Typer(help="Reports from the time series: weekly capacity, daily zero-report.", no_args_is_help=True)
app.add_typer(report_app, name="report")


class ReportFormat(StrEnum):
    html = "html"
    pdf = "pdf"


@report_app.command("weekly")
def report_weekly(
    week: Annotated[str | None, typer.Option(help="ISO week, e.g. 2026-W47 (default: the last complete week)")] = None,
    last: Annotated[str | None, typer.Option(help="instead of a week: the last DURATION (10m: a lab week at time factor 1008)")] = None,
    end: Annotated[float | None, typer.Option(help="with --last: the window's end (epoch seconds; default now)")] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format")] = ReportFormat.html,
    out_dir: Annotated[Path | None, typer.Option("--out", help="folder (default: STATE/reports/weekly-<week>)")] = None,
    url: Annotated[str | None, typer.Option(help="Prometheus / VictoriaMetrics query API (default: reports.prometheus)")] = None,
) -> None:
    """The weekly capacity report: egress, ring, top school uplinks, busy devices, availability,
    Wi-Fi, alerts and compliance, as HTML with charts (and PDF through Chromium) plus report.json."""
    from .config import parse_duration
    from .reports import Prom, ReportError, last_window, week_window, weekly

    cfg = get_config()
    inv = get_inventory(cfg)
    try:
        win = last_window(parse_duration(last), end) if last else week_window(week)
        folder = out_dir or cfg.state_dir / "reports" / f"weekly-{win.label.replace(' ', '')}"
        paths = weekly(Prom.of(cfg, url), win, inv, folder, pdf=fmt == ReportFormat.pdf)
    except (ReportError, ValueError) as e:
        raise fail(str(e)) from None
    for k, p in paths.items():
        out.print(f"{k}: {p}")


@report_app.command("daily")
def report_daily(
    hours: Annotated[float, typer.Option(help="the window, hours back from --end")] = 24.0,
    end: Annotated[float | None, typer.Option(help="end of the window (epoch seconds; default now)")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="also write it here (Markdown)")] = None,
    url: Annotated[str | None, typer.Option(help="Prometheus / VictoriaMetrics query API")] = None,
) -> None:
    """The daily zero-report (零报告): the security-related events of the window, or the statement
    that there were none, in the form a district sends to the city."""
    from .reports import Prom, ReportError, daily, last_window

    cfg = get_config()
    inv = get_inventory(cfg)
    try:
        text, events = daily(Prom.of(cfg, url), last_window(hours * 3600, end), inv)
    except ReportError as e:
        raise fail(str(e)) from None
    if out_file:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(text, encoding="utf-8")
    print(text)
    raise typer.Exit(1 if events else 0)
