"""SSH collection, config backup and the 等保 audit against the lab (its 532 SSH CLIs, four vendors).

Needs the lab (asyncssh listeners on 127.x); runs in CI. The drift alert reaching the right 网管员
through Prometheus and Alertmanager is in tests/test_alerting_e2e.py ("config drift").
"""

from __future__ import annotations

import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from emanwatch.cli import app

pytestmark = [pytest.mark.server]

runner = CliRunner()

# what each injected drift must fail, and nothing else (BAK-01: the running config is not saved)
DRIFTS = {
    "telnet": {"AUTH-05", "IPS-01", "BAK-01"},
    "loghost-removed": {"AUD-02", "BAK-01"},
    "idle-timeout-0": {"AUTH-04", "BAK-01"},
    "public-community": {"IPS-03", "BAK-01"},
    "unknown-user": {"AUTH-01", "BAK-01"},
}


def _config(lab_env, tmp_path: Path, **ssh) -> Path:
    _, _, path = lab_env
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["paths"]["state"] = str(tmp_path / "var")
    doc["ssh"].update(ssh)
    tmp_path.mkdir(parents=True, exist_ok=True)
    p = tmp_path / "config.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return p


def _pick(demo, vendor: str, role: str = "school-router", skip: int = 0) -> str:
    return sorted(d.name for d in demo.devices.values() if d.vendor and d.vendor.value == vendor and d.role.value == role)[skip]


class _Cells(HTMLParser):
    """(device, check) of every row of the report's gap table, and each device's result cells."""

    def __init__(self) -> None:
        super().__init__()
        self.gaps: set[tuple[str, str]] = set()
        self.results: dict[tuple[str, str], str] = {}
        self._device = ""

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("class") == "results":
            self._device = a["data-device"]
        if tag == "tr" and "data-check" in a:
            if "data-device" in a:
                self.gaps.add((a["data-device"], a["data-check"]))
            elif "data-status" in a:
                self.results[(self._device, a["data-check"])] = a["data-status"]


def test_audit_all_finds_exactly_the_injected_drift(lab_env, faults, demo, tmp_path) -> None:
    cfg_path = _config(lab_env, tmp_path)
    targets = {
        _pick(demo, "huawei"): "telnet",
        _pick(demo, "h3c"): "loghost-removed",
        _pick(demo, "ruijie"): "idle-timeout-0",
        _pick(demo, "cisco"): "public-community",
        _pick(demo, "huawei", "access-switch"): "unknown-user",
    }
    for dev, drift in targets.items():
        faults.fault("config-drift", dev, drift=drift)
    out = tmp_path / "report"
    r = runner.invoke(app, ["-c", str(cfg_path), "audit", "--all", "--out", str(out)])
    assert r.exit_code == 1, r.output  # high-severity gaps: the change gate says no
    doc = json.loads((out / "audit.json").read_text(encoding="utf-8"))
    audited = [d for d in doc["devices"] if d["ok"]]
    from emanwatch.audit import auditable

    assert len(audited) == len(auditable(demo)[0]), [d["error"] for d in doc["devices"] if not d["ok"]][:5]
    failed = {(d["device"], x["check"]) for d in doc["devices"] for x in d["results"] if x["status"] in ("不符合", "部分符合")}
    want = {(dev, check) for dev, drift in targets.items() for check in DRIFTS[drift]}
    assert failed == want, (sorted(failed - want)[:10], sorted(want - failed))
    # the evidence names the offending line, masked where it is a secret
    ev = {(d["device"], x["check"]): x for d in doc["devices"] for x in d["results"]}
    hw = next(k for k, v in targets.items() if v == "telnet")
    assert ev[(hw, "AUTH-05")]["evidence"] == "telnet server enable"
    assert ev[(hw, "AUTH-05")]["command"] == "display current-configuration"
    rj = next(k for k, v in targets.items() if v == "idle-timeout-0")
    assert "exec-timeout 0 0" in ev[(rj, "AUTH-04")]["evidence"]
    # the HTML report carries the same gaps, owners and per-device cells
    html = (out / "自查报告.html").read_text(encoding="utf-8")
    cells = _Cells()
    cells.feed(html)
    assert cells.gaps == want
    assert cells.results[(hw, "AUTH-05")] == "fail" and cells.results[(hw, "DRIFT-NTP")] == "pass"
    site = demo.devices[hw].site
    assert all(a.name in html for a in demo.sites[site].admins)  # the owner of each gap: the site's 网管员
    md = (out / "自查报告.md").read_text(encoding="utf-8")
    assert all(f"| {dev} | AUTH" in md or f"| {dev} |" in md for dev in targets)
    assert "$removed" in html or "cipher" not in html


def test_clean_device_passes_and_single_device_table(lab_env, faults, demo, tmp_path) -> None:
    cfg_path = _config(lab_env, tmp_path)
    dev = _pick(demo, "h3c", skip=1)
    r = runner.invoke(app, ["-c", str(cfg_path), "audit", "--device", dev, "--out", str(tmp_path / "r")])
    assert r.exit_code == 0, r.output
    assert "AUTH-05" in r.output and "DRIFT-NTP" in r.output  # one device: its full check table
    assert "不符合 0," in r.output and "gaps (high first)" not in r.output
    r = runner.invoke(app, ["-c", str(cfg_path), "audit"])
    assert r.exit_code == 2 and "--all" in r.output


def test_backup_history_masks_secrets_and_flags_changes_outside_windows(lab_env, faults, demo, tmp_path) -> None:
    from emanwatch.audit import audit_samples, load_evidence

    dev = _pick(demo, "huawei", skip=2)
    site = demo.devices[dev].site
    # no window is open now (a window on no day at all): any change is outside
    cfg_path = _config(lab_env, tmp_path, change_windows=[{"days": [], "start": "00:00", "end": "00:00"}])
    r = runner.invoke(app, ["-c", str(cfg_path), "backup", "--device", dev])
    assert r.exit_code == 0, r.output
    repo = tmp_path / "var" / "configs"
    stored = (repo / site / f"{dev}.cfg").read_text(encoding="utf-8")
    assert f"sysname {dev}" in stored
    assert "irreversible-cipher $removed" in stored and not re.search(r"\$1c\$[0-9a-f]{24}\$", stored)
    assert "%^%#" not in stored and "Last configuration was updated" not in stored  # masked; volatile dropped

    def commits() -> int:
        return int(subprocess.run(["git", "-C", str(repo), "rev-list", "--count", "HEAD"], capture_output=True, text=True,
                                  check=True).stdout)

    assert commits() == 1
    r = runner.invoke(app, ["-c", str(cfg_path), "backup", "--device", dev])
    assert r.exit_code == 0 and "0 changed" in r.output and commits() == 1  # the clock moved, the config did not
    faults.fault("config-drift", dev, drift="loghost-removed")
    r = runner.invoke(app, ["-c", str(cfg_path), "audit", "--device", dev, "--out", str(tmp_path / "r")])
    assert commits() == 2
    r = runner.invoke(app, ["-c", str(cfg_path), "backup", "--log", dev])
    assert r.exit_code == 0 and "- info-center loghost" in r.output
    (a,) = load_evidence(tmp_path / "var")
    assert a.device == dev and a.config_changed and a.changed_outside_window
    res = audit_samples(a, {"device": dev, "site": site})
    flag = [s for s in res.samples if s.metric == "emanwatch_config_changed_outside_window"]
    assert flag and flag[0].value == 1.0 and not res.stamped
    checks = {dict(s.labels)["check"]: s.value for s in res.samples if s.metric == "emanwatch_compliance_check"}
    assert checks["AUD-02"] == 0.0 and checks["AUTH-05"] == 1.0


def test_ssh_failures_are_results_and_host_keys_are_pinned(lab_env, faults, demo, tmp_path) -> None:
    from emanwatch import audit as au
    from emanwatch.config import load_config

    cfg = load_config(_config(lab_env, tmp_path, timeout="4s"))
    ok, auth, pager, down = (_pick(demo, v) for v in ("huawei", "h3c", "ruijie", "cisco"))
    faults.fault("ssh-auth-fail", auth)
    faults.fault("stuck-pager", pager)
    faults.fault("device-down", down)
    devices = [demo.devices[n] for n in (ok, auth, pager, down)]
    caps = {c.device: c for c in au.gather(cfg, devices)}
    assert caps[ok].ok and {"running", "saved", "version"} <= set(caps[ok].outputs)
    assert (caps[auth].ok, caps[auth].reason) == (False, "auth") and auth in caps[auth].error
    assert (caps[pager].ok, caps[pager].reason) == (False, "pager"), caps[pager].error
    assert (caps[down].ok, caps[down].reason) == (False, "timeout"), caps[down].error
    # first use pinned the key (logged choice); a changed key is refused, strict refuses unknown keys
    kh = cfg.known_hosts.read_text(encoding="utf-8")
    addr = str(demo.devices[ok].mgmt_address)
    assert f"[{addr}]:{cfg.ssh.port} ssh-ed25519" in kh and caps[ok].pinned
    other = next(line.split()[2] for line in kh.splitlines() if not line.startswith(f"[{addr}]"))
    cfg.known_hosts.write_text(re.sub(rf"^(\[{re.escape(addr)}\]:\d+ ssh-ed25519) \S+", rf"\1 {other}", kh, flags=re.M))
    (c,) = au.gather(cfg, [demo.devices[ok]])
    assert (c.ok, c.reason) == (False, "hostkey") and "CHANGED" in c.error
    strict = load_config(_config(lab_env, tmp_path / "strict", host_keys="strict"))
    (c,) = au.gather(strict, [demo.devices[ok]])
    assert (c.ok, c.reason) == (False, "hostkey") and "strict" in c.error


def test_offline_audit_session_log_config_and_folder(lab_env, demo, tmp_path) -> None:
    from emanwatch import audit as au
    from emanwatch.config import load_config
    from lab.ssh_server import vendor_cli
    from playbooks import load_playbook

    cfg_path = _config(lab_env, tmp_path)
    cfg = load_config(cfg_path)
    dev = _pick(demo, "h3c", skip=2)
    (online,) = au.gather(cfg, [demo.devices[dev]])
    pb = load_playbook("hp_comware")
    prompt = vendor_cli("h3c")["prompt"].format(host=dev)
    # a session log as an owner would send it: prompts, a paging command, the evidence, an unknown command
    log = [f"{prompt}screen-length disable", prompt.rstrip()]
    for name, text in online.outputs.items():
        log += [f"{prompt}{pb.command(name)}", text]
    log += [f"{prompt}display fan", " Fan 1: Normal", prompt]
    (tmp_path / "session.log").write_text("\n".join(log), encoding="utf-8")
    (a_on,) = au.evaluate_captures(cfg, demo, [online])
    cap = au.offline_capture(tmp_path / "session.log", None, demo)
    assert cap.ok and cap.platform == "hp_comware" and cap.device == dev
    assert set(cap.outputs) == set(online.outputs)
    assert "display fan" in cap.command_errors and "screen-length disable" in cap.command_errors  # reported, not dropped
    (a_off,) = au.evaluate_captures(cfg, demo, [cap])
    assert [(r.check, r.status) for r in a_off.results] == [(r.check, r.status) for r in a_on.results]
    # a folder of per-command files, and a bare running config
    folder = tmp_path / dev
    folder.mkdir()
    for name, text in online.outputs.items():
        (folder / f"{pb.command(name).replace(' ', '_')}.txt").write_text(text, encoding="utf-8")
    (folder / "notes.txt").write_text("taken on site\n", encoding="utf-8")
    r = runner.invoke(app, ["-c", str(cfg_path), "audit", "--offline", str(folder), "--offline",
                            str(tmp_path / "session.log"), "--out", str(tmp_path / "rep")])
    assert r.exit_code == 0, r.output
    assert "notes.txt" in r.output  # an unknown file is named
    doc = json.loads((tmp_path / "rep" / "audit.json").read_text(encoding="utf-8"))
    assert [d["device"] for d in doc["devices"]] == [dev, dev] and all(d["ok"] for d in doc["devices"])
    bare = tmp_path / "running.cfg"
    bare.write_text(online.outputs["running"], encoding="utf-8")
    cap = au.offline_capture(bare, None, demo)
    assert cap.ok and set(cap.outputs) == {"running"} and cap.device == dev
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\n", encoding="utf-8")
    r = runner.invoke(app, ["-c", str(cfg_path), "audit", "--offline", str(junk), "--out", str(tmp_path / "rep2")])
    assert r.exit_code == 3 and "give --platform" in r.output
