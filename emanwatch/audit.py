"""The 等保 audit: gather (SSH, or saved outputs offline) -> back up -> evaluate -> report / export.

`emanwatch audit` runs it once for a selection; `serve` runs it every `ssh.audit_every` and keeps
the last evidence per device (STATE/audit/evidence/<device>.json) so a restart still exports the
compliance metrics. Outputs are masked (playbook `secrets`) before anything is written or shown.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from collectors.backup import CST, ConfigHistory
from collectors.result import PollResult, Sample
from collectors.ssh import CliCapture, HostKeys, capture_many
from inventory import Device, Inventory
from inventory.model import PLATFORM_VENDOR
from playbooks import load_playbook, platforms
from rules.compliance import FAIL, NA, PARTIAL, PASS, SEVERITY, STATUS_VALUE, CheckResult, Intent, evaluate

from .config import Config, SecretError, resolve_ssh_auth

HIGH_FAILED, NOT_COLLECTED = 1, 3  # exit codes of `emanwatch audit` (2 stays "bad input")


@dataclass
class DeviceAudit:
    device: str
    site: str
    platform: str
    vendor: str
    model: str = ""
    address: str = ""
    ok: bool = False
    reason: str = ""
    error: str = ""
    collected_at: float = 0.0
    results: list[CheckResult] = field(default_factory=list)
    command_errors: dict[str, str] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)  # evidence name -> command
    excerpts: dict[str, str] = field(default_factory=dict)  # evidence name -> first lines (masked)
    config_changed: bool = False
    changed_outside_window: bool = False
    diff: str = ""
    source: str = "ssh"  # ssh | offline:<path>

    def failed(self, severity: str | None = None) -> list[CheckResult]:
        return [r for r in self.results if r.status in (FAIL, PARTIAL) and (severity is None or r.severity == severity)]

    def as_dict(self) -> dict[str, Any]:
        return {"device": self.device, "site": self.site, "platform": self.platform, "vendor": self.vendor,
                "model": self.model, "address": self.address, "ok": self.ok, "reason": self.reason, "error": self.error,
                "collected_at": self.collected_at, "collected_at_cst": _cst(self.collected_at) if self.collected_at else "",
                "source": self.source, "config_changed": self.config_changed,
                "changed_outside_window": self.changed_outside_window, "command_errors": self.command_errors,
                "commands": self.commands, "results": [r.as_dict() for r in self.results]}


def _cst(t: float) -> str:
    return datetime.fromtimestamp(t, CST).strftime("%Y-%m-%d %H:%M:%S")


def auditable(inv: Inventory, names: list[str] | None = None) -> tuple[list[Device], list[str]]:
    """Devices with an ssh_auth and a live status (and a playbook); plus why the others are skipped."""
    known = set(platforms())
    wanted = None if names is None else set(names)
    out, skipped = [], []
    for d in inv.devices.values():
        if wanted is not None and d.name not in wanted:
            continue
        if not d.ssh_auth or not d.status.polled:
            continue
        if (d.platform or "") not in known:
            skipped.append(f"{d.name}: no playbook for platform {d.platform} (playbooks/{d.platform}.yaml)")
            continue
        out.append(d)
    return out, skipped


def gather(cfg: Config, devices: list[Device], progress: Callable[[CliCapture], None] | None = None) -> list[CliCapture]:
    """SSH to every device (bounded concurrency); a credential that cannot be resolved fails that device only."""
    keys = HostKeys(cfg.known_hosts)
    creds: dict[str, tuple[str, str, str] | str] = {}
    jobs = []
    for d in devices:
        auth = d.ssh_auth or ""
        if auth not in creds:
            try:
                creds[auth] = resolve_ssh_auth(cfg, auth)
            except SecretError as e:
                creds[auth] = str(e)
        c = creds[auth]
        if isinstance(c, str):
            jobs.append({"failed": CliCapture(d.name, d.platform or "", False, time.time(), reason="credentials", error=f"{d.name}: {c}")})
            continue
        jobs.append({"device": d.name, "platform": d.platform, "host": str(d.mgmt_address), "pb": load_playbook(d.platform or ""),
                     "username": c[0], "password": c[1], "enable_secret": c[2]})
    return capture_many(jobs, keys, concurrency=cfg.ssh.concurrency, progress=progress, port=cfg.ssh.port,
                        timeout=cfg.ssh.timeout, strict=cfg.ssh.host_keys == "strict")


def evaluate_captures(cfg: Config, inv: Inventory | None, captures: list[CliCapture],
                      history: ConfigHistory | None = None, now: float | None = None) -> list[DeviceAudit]:
    """Back up what was read (if a history is given), evaluate every check, per device."""
    now = time.time() if now is None else now
    audits = []
    items = []
    for c in captures:
        dev = inv.devices.get(c.device) if inv else None
        pv = PLATFORM_VENDOR.get(c.platform)
        vendor = dev.vendor.value if dev and dev.vendor else (pv.value if pv else "")
        a = DeviceAudit(c.device, dev.site if dev else "", c.platform, vendor, model=dev.model if dev else "",
                        address=str(dev.mgmt_address) if dev else "", ok=c.ok, reason=c.reason, error=c.error,
                        collected_at=c.started, command_errors=dict(c.command_errors), source=c.source)
        if c.platform not in platforms():  # a capture that failed before its platform was known
            audits.append(a)
            continue
        pb = load_playbook(c.platform)
        a.commands = {k: pb.command(k) for k in c.outputs}
        a.excerpts = {k: "\n".join(pb.mask(v).strip("\n").splitlines()[:12]) for k, v in c.outputs.items()}
        if c.ok:
            intent = Intent.of(inv, c.device) if dev is not None else None
            a.results = evaluate(pb, vendor, c.outputs, intent, exceptions=cfg.ssh.exceptions, device=c.device,
                                 site=a.site, today=datetime.fromtimestamp(now, CST).date())
            if history is not None and "running" in c.outputs and dev is not None:
                items.append((c.device, dev.site, pb, c.outputs["running"]))
        audits.append(a)
    if history is not None and items:
        by_dev = {a.device: a for a in audits}
        for b in history.store(items, now, cfg.ssh.change_windows):
            by_dev[b.device].config_changed = b.changed
            by_dev[b.device].diff = b.diff
        for a in audits:
            a.changed_outside_window = history.flagged(a.device, now, cfg.ssh.changed_hold)
    return audits



# ------------------------------------------------------------------ offline input

PROMPT = re.compile(r"^(?:<(?P<vrp>[\w.\-/]+)>|\[(?P<sys>[~*]?[\w.\-/]+)\]|(?P<ios>[\w.\-/]+)[#>])[ \t]*(?P<cmd>\S.*)?$")


def detect_platform(text: str) -> str | None:
    if re.search(r"^\s*sysname\s", text, re.M):
        if re.search(r"^(line vty|\s*password-control|\s*version 7\.|.*Comware)", text, re.M):
            return "hp_comware"
        return "huawei_vrp"
    if re.search(r"Comware Software", text):
        return "hp_comware"
    if re.search(r"Huawei Versatile Routing Platform|^<[\w.-]+>", text, re.M):
        return "huawei_vrp"
    if re.search(r"Ruijie|RGOS|^enable service ssh-server", text, re.M):
        return "ruijie_os"
    if re.search(r"^hostname\s|Cisco IOS|^[\w.-]+#", text, re.M):
        return "cisco_ios"
    return None


def split_session(text: str) -> list[tuple[str, str]]:
    """(command, its output) from a session log: prompt + command lines start each block."""
    out: list[tuple[str, str]] = []
    cmd, buf = None, []
    for line in text.replace("\r\n", "\n").split("\n"):
        m = PROMPT.match(line.rstrip())
        if m and m.group("cmd") is not None and not line.startswith(" "):
            if cmd is not None:
                out.append((cmd, "\n".join(buf)))
            cmd, buf = m.group("cmd").strip(), []
        elif m and m.group("cmd") is None:
            continue  # a bare prompt
        elif cmd is not None:
            buf.append(line)
    if cmd is not None:
        out.append((cmd, "\n".join(buf)))
    return out


def offline_capture(path: Path, platform: str | None, inv: Inventory | None) -> CliCapture:
    """Saved outputs as a capture: a session log, a running config, or a folder of per-command files."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    texts = {p: p.read_text(encoding="utf-8", errors="replace") for p in files}
    plat = platform or next((x for x in (detect_platform(t) for t in texts.values()) if x), None)
    cap = CliCapture(path.stem, plat or "", False, path.stat().st_mtime, source=f"offline:{path}")
    if plat is None:
        cap.reason, cap.error = "platform", f"{path}: cannot tell the platform from the content: give --platform"
        return cap
    try:
        pb = load_playbook(plat)
    except KeyError as e:
        cap.reason, cap.error = "platform", f"{path}: {e.args[0]}"
        return cap
    for p, text in texts.items():
        blocks = split_session(text)
        if path.is_dir() and not blocks:
            name = pb.name_of(p.stem.replace("_", " ").replace("  ", " "))
            if name is None:
                cap.command_errors[p.name] = f"{p}: file name is not a command of playbook {plat} (e.g. " \
                                             f"{pb.command('running').replace(' ', '_')}.txt)"
                continue
            cap.outputs[name] = text
        elif blocks:
            for cmd, out in blocks:
                name = pb.name_of(cmd)
                if name is None:
                    cap.command_errors[cmd] = f"{p.name}: `{cmd}` is not evidence for the audit ({plat}): not used"
                else:
                    cap.outputs[name] = out
        else:
            cap.outputs["running"] = text  # a bare configuration
    host = _hostname(cap.outputs.get("running", ""))
    if host:
        cap.device = host
    if inv is not None and cap.device not in inv.devices:
        cap.command_errors.setdefault("inventory", f"{cap.device}: not in the inventory: drift checks are 不适用")
    if not cap.outputs:
        cap.reason, cap.error = "empty", f"{path}: no usable command output found"
        return cap
    cap.ok = True
    return cap


def _hostname(config: str) -> str | None:
    m = re.search(r"^\s*(?:sysname|hostname)\s+(\S+)", config, re.M)
    return m.group(1) if m else None


# ------------------------------------------------------------------ export and evidence


def audit_samples(a: DeviceAudit, labels: dict[str, str]) -> PollResult:
    """The audit as a poll result (collector "ssh"): compliance per check, config change flags.
    Not stamped with the audit time: the audit runs hours apart and the values hold until the next."""
    base = tuple(sorted(labels.items()))
    samples = []
    for r in a.results:
        if r.status == NA:
            continue
        lab = tuple(sorted({**labels, "check": r.check, "clause": r.clause, "severity": SEVERITY[r.severity],
                            "kind": r.kind}.items()))
        samples.append(Sample("emanwatch_compliance_check", lab, STATUS_VALUE[r.status]))
    if a.ok:
        samples.append(Sample("emanwatch_config_changed_outside_window", base, 1.0 if a.changed_outside_window else 0.0))
        samples.append(Sample("emanwatch_audit_timestamp_seconds", base, a.collected_at))
    return PollResult(device=a.device, collector="ssh", ok=a.ok, started=a.collected_at, duration=0.0, samples=samples,
                      reason=a.reason, error=a.error, platform=a.platform, stamped=False)


def save_evidence(state: Path, audits: list[DeviceAudit]) -> None:
    d = state / "audit" / "evidence"
    d.mkdir(parents=True, exist_ok=True)
    for a in audits:
        doc = a.as_dict() | {"excerpts": a.excerpts, "diff": a.diff}
        (d / f"{a.device}.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")


def load_evidence(state: Path) -> list[DeviceAudit]:
    out = []
    for p in sorted((state / "audit" / "evidence").glob("*.json")):
        doc = json.loads(p.read_text(encoding="utf-8"))
        a = DeviceAudit(**{k: doc[k] for k in ("device", "site", "platform", "vendor", "model", "address", "ok", "reason",
                                                "error", "collected_at", "command_errors", "commands", "source",
                                                "config_changed", "changed_outside_window")})
        sev = {v: k for k, v in SEVERITY.items()}
        a.results = [CheckResult(check=r["check"], clause=r["clause"], severity=sev[r["severity"]], title_zh=r["title_zh"],
                                 status=r["status"], evidence=r["evidence"], command=r["command"], fix_zh=r["fix_zh"],
                                 kind=r["kind"], exception=r["exception"]) for r in doc["results"]]
        out.append(a)
    return out


# ------------------------------------------------------------------ reports

_env = Environment(loader=PackageLoader("emanwatch", "templates/audit"), autoescape=select_autoescape(["html"]),
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def report_context(audits: list[DeviceAudit], inv: Inventory | None, scope: str, now: float | None = None) -> dict[str, Any]:
    from rules.compliance import load_catalog

    now = time.time() if now is None else now
    checks = load_catalog()
    owners: dict[str, str] = {}
    if inv is not None:
        for s in inv.sites.values():
            owners[s.name] = "、".join(f"{a.name}（{a.phone}）" if a.phone else a.name for a in s.admins) or "（台账未填）"
    gaps = []
    for a in audits:
        for r in a.failed():
            gaps.append({"device": a.device, "site": a.site, "owner": owners.get(a.site, ""), **r.as_dict(),
                         "sev_order": "HML".index(r.severity)})
    gaps.sort(key=lambda g: (g["sev_order"], g["check"], g["device"]))
    counts = {s: sum(1 for a in audits for r in a.results if r.status == s) for s in (PASS, PARTIAL, FAIL, NA)}
    return {"scope": scope, "generated": _cst(now), "audits": audits, "checks": checks, "gaps": gaps, "counts": counts,
            "owners": owners, "not_collected": [a for a in audits if not a.ok],
            "sites": {s.name: s.display_name for s in inv.sites.values()} if inv else {},
            "high_failed": sum(1 for g in gaps if g["severity"] == "high"), "PASS": PASS, "PARTIAL": PARTIAL, "FAIL": FAIL, "NA": NA}


def write_reports(out_dir: Path, ctx: dict[str, Any]) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for kind, name in (("html", "自查报告.html"), ("md", "自查报告.md")):
        p = out_dir / name
        p.write_text(_env.get_template(f"report.{kind}.j2").render(**ctx), encoding="utf-8")
        paths[kind] = p
    p = out_dir / "audit.json"
    doc = {"scope": ctx["scope"], "generated": ctx["generated"], "counts": ctx["counts"],
           "devices": [a.as_dict() for a in ctx["audits"]], "gaps": ctx["gaps"]}
    p.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    paths["json"] = p
    return paths


def exit_code(audits: list[DeviceAudit]) -> int:
    if any(a.failed("H") for a in audits):
        return HIGH_FAILED
    if any(not a.ok for a in audits):
        return NOT_COLLECTED
    return 0
