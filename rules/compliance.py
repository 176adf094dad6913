"""等保 2.0 checks and inventory drift checks, evaluated over a device's gathered evidence.

A check (rules/dengbao.yaml) has an id, a GB/T 22239-2019 clause, a severity and per-vendor tests.
A test is data, one of:
  require / forbid   regexes over the lines in scope (the whole output, or the children of the
                     blocks whose header matches `block`); `any: true` = one of `require` suffices
  value              a regex with one group, a number checked against `between` (the vendor's
                     `default` when the line is absent: on Huawei many secure settings never show)
  each_block         every block whose header matches must satisfy require(any)/forbid
  compare            the values a regex extracts equal the inventory's intent (`expect`), or are a
                     subset of it (`subset: true`): NTP, loghosts, AAA, accounts, hostname, ACL...
  same               two evidences equal after volatile lines are dropped (running vs saved)
  firmware           the parsed version is on the inventory's approved list for the model
Result: 符合 (pass), 部分符合 (partial: some of a check's tests failed, the check allows partial),
不符合 (fail), 不适用 (n/a: no test for this vendor, or its evidence was not gathered), each with
the evidence line and the command it came from. Exceptions (config.yaml `compliance.exceptions`)
turn a failure into n/a with the reason, until they expire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from playbooks import ParseError, Playbook

PASS, PARTIAL, FAIL, NA = "符合", "部分符合", "不符合", "不适用"
STATUS_EN = {PASS: "pass", PARTIAL: "partial", FAIL: "fail", NA: "n/a"}
STATUS_VALUE = {PASS: 1.0, PARTIAL: 0.5, FAIL: 0.0}  # the metric; n/a is not exported
SEVERITY = {"H": "high", "M": "medium", "L": "low"}
CATALOG = Path(__file__).with_name("dengbao.yaml")


class Test(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    evidence: str = "running"
    block: str | None = None  # scope: children of the blocks whose header line matches
    require: list[str] = []
    any: bool = False
    forbid: list[str] = []
    value: str | None = None
    between: tuple[float, float] | None = None
    default: float | None = None
    default_note: str = ""
    each_block: str | None = None
    compare: str | None = None  # regex with one group: the values
    expect: str | None = None  # ntp_servers | loghosts | aaa_servers | accounts | hostname | management_acl | communities
    subset: bool = False
    same: tuple[str, str] | None = None
    firmware: bool = False
    rows: dict[str, str] | None = None  # every parsed row of `evidence`: field -> regex it must match
    if_absent: Literal["pass", "fail", "na"] = "fail"  # when the block / evidence is not there
    note: str = ""

    @field_validator("require", "forbid")
    @classmethod
    def _rx(cls, v: list[str]) -> list[str]:
        for x in v:
            re.compile(x)
        return v


class Check(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    clause: str
    severity: Literal["H", "M", "L"]
    title: str
    title_zh: str
    fix_zh: str
    kind: Literal["dengbao", "drift"] = "dengbao"
    partial: bool = False
    vendors: dict[str, list[Test]] = Field(default_factory=dict)


@dataclass
class CheckResult:
    check: str
    clause: str
    severity: str
    title_zh: str
    status: str
    evidence: str = ""  # the line (masked) or the fact that decided
    command: str = ""
    fix_zh: str = ""
    kind: str = "dengbao"
    exception: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "clause": self.clause, "severity": SEVERITY[self.severity], "title_zh": self.title_zh,
                "status": self.status, "status_en": STATUS_EN[self.status], "evidence": self.evidence,
                "command": self.command, "fix_zh": self.fix_zh, "kind": self.kind, "exception": self.exception}


@dataclass
class Intent:
    """What the inventory says this device should have (the drift checks' `expect`)."""

    hostname: str
    model: str
    ntp_servers: list[str] = field(default_factory=list)
    loghosts: list[str] = field(default_factory=list)
    aaa_servers: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    management_acl: list[str] = field(default_factory=list)  # "network wildcard"
    communities: list[str] = field(default_factory=list)
    firmware: list[str] = field(default_factory=list)
    linked_ports: dict[str, list[str]] = field(default_factory=dict)  # port -> names its description may give

    @classmethod
    def of(cls, inv: Any, device: str) -> Intent:
        d = inv.devices[device]
        it = inv.intent
        site = inv.sites[d.site]
        ports = {}
        for lk in inv.links_by_device.get(device, []):
            mine, other = (lk.a, lk.b) if lk.a.device == device else (lk.b, lk.a)
            # a carrier's router is not ours: its description may name the carrier instead
            ports[mine.interface] = [other.device] + ([lk.carrier] if other.external and lk.carrier else [])
        return cls(hostname=d.name, model=d.model, ntp_servers=[str(x) for x in it.ntp_servers],
                   loghosts=[str(x) for x in it.loghosts], aaa_servers=[str(x) for x in it.aaa_servers],
                   accounts=list(it.admin_accounts) + [a.username for a in site.admins if a.username],
                   management_acl=[f"{n.network_address} {n.hostmask}" for n in it.management_acl],
                   communities=list(it.snmp.allowed_communities), firmware=list(it.firmware.get(d.model, [])),
                   linked_ports=ports)


@cache
def load_catalog(path: Path = CATALOG) -> list[Check]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    checks = [Check(**c) for c in doc["checks"]]
    ids = [c.id for c in checks]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ValueError(f"{path}: duplicate check ids {sorted(dup)}")
    return checks


# ------------------------------------------------------------------ config text helpers


def blocks(text: str, header: str) -> list[tuple[str, list[str]]]:
    """(header line, its indented child lines) for every top-level line matching `header`.
    Works for VRP / Comware (`#` separated) and IOS / RGOS (`!` separated) alike."""
    rx = re.compile(header)
    out: list[tuple[str, list[str]]] = []
    cur: list[str] | None = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0] not in " \t":
            cur = None
            if rx.search(line):
                cur = []
                out.append((line.rstrip(), cur))
        elif cur is not None:
            cur.append(line.rstrip())
    return out


def _first(rx: str, lines: list[str]) -> str | None:
    r = re.compile(rx)
    return next((x for x in lines if r.search(x)), None)


# ------------------------------------------------------------------ evaluation


def _outcome(ok: bool | None, evidence: str, name: str) -> tuple[bool | None, str, str]:
    """(passed, evidence line or fact, evidence name); passed None = not applicable."""
    return (ok, evidence, name)


def run_test(t: Test, outputs: dict[str, str], pb: Playbook, intent: Intent | None) -> tuple[bool | None, str, str]:
    if t.firmware:
        if intent is None:
            return _outcome(None, "no inventory record", "")
        try:
            fw = pb.firmware_of(outputs)
        except ParseError as e:
            return _outcome(False, str(e), pb.firmware.evidence if pb.firmware else "")
        src = pb.firmware.evidence if pb.firmware else ""
        if fw is None:
            return _outcome(None, "version not gathered", src)
        if not intent.firmware:
            return _outcome(False, f"{fw}: no approved firmware listed for model {intent.model} in the inventory intent", src)
        return _outcome(fw in intent.firmware, f"{fw} (approved: {', '.join(intent.firmware)})", src)
    if t.same:
        a, b = t.same
        if a not in outputs or b not in outputs:
            return _outcome(None, f"needs both `{pb.command(a)}` and `{pb.command(b)}`", a)
        sa, sb = pb.stable(outputs[a]), pb.stable(outputs[b])
        if sa == sb:
            return _outcome(True, f"`{pb.command(a)}` equals `{pb.command(b)}`", b)
        diff = next((x for x, y in zip(sa.splitlines(), sb.splitlines(), strict=False) if x != y), "(lengths differ)")
        return _outcome(False, f"unsaved change, first difference: {pb.mask(diff.strip())}", b)
    if t.evidence not in outputs:
        return _outcome(None, f"`{pb.command(t.evidence)}` not gathered" if t.evidence in pb.evidence else t.evidence, t.evidence)
    text = outputs[t.evidence]
    name = t.evidence
    if t.rows is not None:
        return _rows(t, text, pb, name)
    if t.compare:
        return _compare(t, text, pb, intent, name)
    if t.each_block:
        bl = blocks(text, t.each_block)
        for head, children in bl:
            ok, why = _lines_ok(t, children)
            if not ok:
                return _outcome(False, f"{head.strip()}: {why}", name)
        return _outcome(True, f"{len(bl)} block(s) `{t.each_block}` checked", name)
    if t.block:
        bl = blocks(text, t.block)
        if not bl:
            res = {"pass": True, "fail": False, "na": None}[t.if_absent]
            return _outcome(res, t.note or f"no `{t.block}` block", name)
        for head, children in bl:
            ok, why = _lines_ok(t, children)
            if not ok:
                return _outcome(False, f"{head.strip()}: {pb.mask(why)}", name)
        return _outcome(True, pb.mask(_evidence_line(t, [c for _, ch in bl for c in ch]) or bl[0][0].strip()), name)
    lines = text.splitlines()
    ok, why = _lines_ok(t, lines)
    return _outcome(ok, why if why.startswith("not configured:") else pb.mask(why), name)


def _evidence_line(t: Test, lines: list[str]) -> str | None:
    for rx in t.require + ([t.value] if t.value else []):
        hit = _first(rx, lines)
        if hit:
            return hit.strip()
    return None


def _lines_ok(t: Test, lines: list[str]) -> tuple[bool, str]:
    for rx in t.forbid:
        hit = _first(rx, lines)
        if hit is not None:
            return False, hit.strip()
    if t.require:
        hits = [(_first(rx, lines), rx) for rx in t.require]
        found = [h for h, _ in hits if h is not None]
        if t.any and not found:
            return False, t.note or f"none of: {' | '.join(t.require)}"
        if not t.any:
            missing = [rx for h, rx in hits if h is None]
            if missing:
                return False, t.note or f"missing: {missing[0]}"
    if t.value:
        hit = _first(t.value, lines)
        if hit is None:
            if t.default is None:
                return False, t.note or f"missing: {t.value}"
            v, line = t.default, t.default_note or f"not configured: default {t.default:g}"
        else:
            v, line = float(re.search(t.value, hit).group(1)), hit.strip()  # type: ignore[union-attr]
        if t.between and not t.between[0] <= v <= t.between[1]:
            return False, f"{line} (want {t.between[0]:g}..{t.between[1]:g})"
        return True, line
    found_line = _evidence_line(t, lines)
    return True, found_line or (f"not configured: {' / '.join(plain(x) for x in t.forbid)}" if t.forbid else "")


def plain(rx: str) -> str:
    """A regex as a reader would write the line: `^\\s*telnet server enable` -> `telnet server enable`."""
    s = re.sub(r"\\s[*+]|\\s|\\b|\^|\$", " ", rx)
    s = re.sub(r"\(\?[!:=][^)]*\)", "", s).replace("\\S+", "X").replace("\\d+", "N").replace("\\", "")
    return " ".join(s.split())


SECRET_FIELDS = {"name", "community", "community_name", "password", "key"}


def _rows(t: Test, text: str, pb: Playbook, name: str) -> tuple[bool | None, str, str]:
    """Parsed output (ntc-templates / ours): every row's fields match; a row that does not is the evidence."""
    try:
        rows = pb.parse(name, text)
    except ParseError as e:
        return _outcome(False, str(e), name)
    if not rows:
        return _outcome(False, f"`{pb.command(name)}`: nothing parsed from the output", name)
    for i, r in enumerate(rows, 1):
        for f, rx in (t.rows or {}).items():
            if not re.search(rx, str(r.get(f, ""))):
                shown = {k: v for k, v in r.items() if k not in SECRET_FIELDS and v not in ("", [])}
                return _outcome(False, t.note or f"row {i}: {f}={r.get(f, '')!r} ({shown})", name)
    return _outcome(True, f"{len(rows)} row(s): {', '.join(f'{f} ~ {rx}' for f, rx in (t.rows or {}).items())}", name)


def _compare(t: Test, text: str, pb: Playbook, intent: Intent | None, name: str) -> tuple[bool | None, str, str]:
    if intent is None or t.expect is None:
        return _outcome(None, "no inventory record for the device", name)
    if t.expect == "linked_ports":
        return _descriptions(text, pb, intent, name)
    rx = re.compile(t.compare or "", re.M)
    got = [" ".join(g for g in m.groups() if g) for m in rx.finditer(text)]
    want = getattr(intent, t.expect)
    want = [want] if isinstance(want, str) else list(want)
    gs, ws = set(got), set(want)
    if t.subset:
        extra = sorted(gs - ws)
        if extra:
            return _outcome(False, f"not in the inventory ({t.expect}): {', '.join(pb.mask(x) for x in extra)}", name)
        return _outcome(True, f"{len(gs)} {t.expect}, all in the inventory", name)
    if gs == ws:
        return _outcome(True, f"{t.expect}: {', '.join(sorted(gs))}", name)
    missing, extra = sorted(ws - gs), sorted(gs - ws)
    parts = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"unexpected {', '.join(pb.mask(x) for x in extra)}"] if extra else [])
    return _outcome(False, f"{t.expect}: {'; '.join(parts)}", name)


def _descriptions(text: str, pb: Playbook, intent: Intent, name: str) -> tuple[bool | None, str, str]:
    """Every port with an inventory link has a description naming the device at the other end."""
    descs = {}
    for head, children in blocks(text, r"^interface\s+\S+"):
        port = head.split(None, 1)[1].strip()
        d = _first(r"^\s*description\s", children)
        descs[port] = d.strip().split(None, 1)[1] if d and len(d.split()) > 1 else ""
    bad = [f"{p} (want {' or '.join(names)})" for p, names in sorted(intent.linked_ports.items())
           if not any(n in descs.get(p, "") for n in names)]
    if bad:
        return _outcome(False, f"uplink descriptions not naming the inventory peer: {', '.join(bad[:5])}", name)
    return _outcome(True, f"{len(intent.linked_ports)} linked port(s) described with their peer", name)


def evaluate(pb: Playbook, vendor: str, outputs: dict[str, str], intent: Intent | None = None,
             checks: list[Check] | None = None, exceptions: list[Any] | None = None,
             device: str = "", site: str = "", today: date | None = None) -> list[CheckResult]:
    out = []
    today = today or date.today()
    for c in checks or load_catalog():
        tests = c.vendors.get(vendor)
        base = {"check": c.id, "clause": c.clause, "severity": c.severity, "title_zh": c.title_zh, "fix_zh": c.fix_zh,
                "kind": c.kind}
        if not tests:
            out.append(CheckResult(**base, status=NA, evidence=f"no test for {vendor}"))
            continue
        results = [run_test(t, outputs, pb, intent) for t in tests]
        applicable = [r for r in results if r[0] is not None]
        if not applicable:
            out.append(CheckResult(**base, status=NA, evidence=results[0][1], command=_cmd(pb, results[0][2])))
            continue
        fails = [r for r in applicable if r[0] is False]
        if not fails:
            status, ev = PASS, applicable[0]
        elif c.partial and len(fails) < len(applicable):
            status, ev = PARTIAL, fails[0]
        else:
            status, ev = FAIL, fails[0]
        res = CheckResult(**base, status=status, evidence=ev[1], command=_cmd(pb, ev[2]))
        if status != PASS:
            exc = _exception(exceptions or [], c.id, device, site, today)
            if exc is not None:
                res.exception = f"{exc.reason} (until {exc.expires})"
                res.status = NA
        out.append(res)
    return out


def _cmd(pb: Playbook, name: str) -> str:
    return pb.evidence[name].command if name in pb.evidence else name


def _exception(exceptions: list[Any], check: str, device: str, site: str, today: date) -> Any:
    for e in exceptions:
        if e.check == check and (e.device == device or (e.site and e.site == site)) and e.expires >= today:
            return e
    return None
