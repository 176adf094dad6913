"""Alertmanager's config generated from the inventory (amtool checks and route tests), and the
notifier: rendering, the persisted queue, retries, duplicates, WeCom / DingTalk / email sinks."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import httpx
import pytest
import yaml

from emanwatch.alertmanager import alertmanager_config, rosters, write_alertmanager_config
from emanwatch.config import load_config
from emanwatch.notifier import Notifier, Renderer

from .conftest import REPO


def amtool(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("amtool")
    assert exe, "amtool missing: ./dev installs Debian's prometheus-alertmanager"
    return subprocess.run([exe, *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def am_file(demo, tmp_path_factory):
    return write_alertmanager_config(load_config(REPO / "config.yaml"), demo, tmp_path_factory.mktemp("am") / "alertmanager.yml")


def test_generated_config_passes_amtool(am_file, demo) -> None:
    r = amtool("check-config", str(am_file))
    assert r.returncode == 0, r.stdout + r.stderr
    sites_with_admins = [s for s in demo.sites.values() if s.kind.value != "centre" and s.admins]
    assert f"{len(sites_with_admins) + 1} receivers" in r.stdout


@pytest.mark.parametrize(("labels", "receivers"), [
    ({"notify": "site", "site": "sch001", "severity": "critical"}, "site-sch001,centre"),  # a school's critical: both
    ({"notify": "site", "site": "sch001", "severity": "warning"}, "site-sch001"),  # a school's warning: the school only
    ({"notify": "site", "site": "kg017", "severity": "warning"}, "site-kg017"),
    ({"notify": "centre", "site": "sch001", "severity": "warning"}, "centre"),  # the centre's business at a school
    ({"notify": "centre", "severity": "critical"}, "centre"),  # backbone / egress
    ({"notify": "site", "site": "pop05", "severity": "critical"}, "centre"),  # a centre site: its people are the centre
])
def test_routes(am_file, labels, receivers) -> None:
    r = amtool("config", "routes", "test", f"--config.file={am_file}", *[f"{k}={v}" for k, v in labels.items()])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == receivers


def test_a_wrong_route_expectation_fails(am_file) -> None:
    r = amtool("config", "routes", "test", f"--config.file={am_file}", "--verify.receivers=site-sch002",
               "notify=site", "site=sch001", "severity=warning")
    assert r.returncode != 0


def test_every_site_with_a_roster_has_its_receiver_and_nobody_else_s(demo) -> None:
    doc = alertmanager_config(load_config(REPO / "config.yaml"), demo)
    routes = {r["receiver"]: r["matchers"] for r in doc["route"]["routes"] if r["receiver"] != "centre"}
    for s in demo.sites.values():
        if s.kind.value != "centre" and s.admins:
            assert routes[f"site-{s.name}"] == ['notify="site"', f'site="{s.name}"']
    assert [a.name for a in rosters(demo)["centre"]] == [a.name for s in demo.sites.values() if s.kind.value == "centre" for a in s.admins]
    # the root-cause inhibition: one rule, equal labels only
    assert {"source_matchers": ['root="yes"'], "target_matchers": ['root="no"'], "equal": ["cut_by"]} in doc["inhibit_rules"]


def _payload(status: str = "firing", receiver: str = "site-sch001") -> dict:
    return {"receiver": receiver, "status": status, "groupLabels": {"alertname": "DeviceDown", "site": "sch001"},
            "commonLabels": {"alertname": "DeviceDown", "site": "sch001", "severity": "critical"}, "commonAnnotations": {},
            "alerts": [{"status": status, "labels": {"alertname": "DeviceDown", "site": "sch001", "device": "sch001-rt01", "severity": "critical"},
                        "annotations": {"summary": "sch001-rt01 (sch001) answers neither SNMP nor ping",
                                        "summary_zh": "sch001-rt01（sch001）SNMP 与 ping 均无响应"},
                        "startsAt": "2026-11-18T02:00:00.000Z", "endsAt": "0001-01-01T00:00:00Z"}]}


def test_message_says_what_where_when_and_whom_to_call(demo) -> None:
    r = Renderer(load_config(REPO / "config.yaml"), demo)
    subject, body = r.message(_payload())
    admin = demo.sites["sch001"].admins[0]
    assert "设备离线" in subject and demo.sites["sch001"].display_name in subject
    for part in ("SNMP 与 ping 均无响应", "2026-11-18 10:00:00", admin.name, admin.phone, "var-site=sch001"):
        assert part in body, part
    _, body = r.message(_payload("resolved"), language="en")
    assert body.startswith("### RESOLVED: DeviceDown") and "answers neither SNMP nor ping" in body


@pytest.fixture
def notifier(demo, tmp_path):
    doc = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    doc["paths"]["state"] = str(tmp_path / "var")
    doc["listen"]["notifier"] = "127.0.0.1:19821"
    doc["notify"].update({"smtp": {"host": "127.0.0.1", "port": 12526, "sender": "emanwatch@test.example.cn"},
                          "retry_backoff": "100ms", "retries": 3})
    p = tmp_path / "config.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    cfg = load_config(p)
    # the roster's robots point at the demo port: send them to this test's sinks instead
    n = Notifier(cfg, demo, resolve=lambda ref, key: ref.replace("127.0.0.1:9811", cfg.listen.notifier))
    httpd = n.serve("127.0.0.1", 19821)
    yield n, cfg
    n.close()
    httpd.shutdown()


def _wait(cond, timeout: float = 10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("condition not met")


def test_webhook_to_robot_and_email_once_even_if_retried(notifier, demo) -> None:
    n, cfg = notifier
    url = f"http://{cfg.listen.notifier}/alertmanager"
    body = json.dumps(_payload()).encode()
    assert httpx.post(url, content=body).status_code == 200
    assert httpx.post(url, content=body).json()["status"] == "duplicate"  # Alertmanager retrying
    admins = demo.sites["sch001"].admins
    want = len({a.wecom_webhook for a in admins if a.wecom_webhook}) + len({a.dingtalk_webhook for a in admins if a.dingtalk_webhook}) \
        + len({a.email for a in admins if a.email})
    recs = _wait(lambda: (r := n.outbox.sink()) and len(r) >= want and r)
    time.sleep(0.5)
    recs = n.outbox.sink()
    assert len(recs) == want
    robot = [r for r in recs if r["kind"] in ("wecom", "dingtalk")]
    assert robot and all(r["name"] == "sch001" for r in robot)
    msg = json.loads(robot[0]["body"])
    assert msg["msgtype"] == "markdown" and "设备离线" in json.dumps(msg, ensure_ascii=False)
    mails = [r for r in recs if r["kind"] == "email"]
    assert {m["name"] for m in mails} == {a.email for a in admins if a.email}
    assert "Subject:" in mails[0]["body"]


def test_bad_webhooks_are_refused_with_the_reason(notifier) -> None:
    n, cfg = notifier
    url = f"http://{cfg.listen.notifier}/alertmanager"
    r = httpx.post(url, content=b"{not json")
    assert r.status_code == 400
    r = httpx.post(url, content=json.dumps({**_payload(), "receiver": "site-nowhere"}).encode())
    assert r.status_code == 400 and "site-nowhere" in r.json()["status"]


def test_failed_deliveries_are_retried_then_given_up_and_survive_a_restart(notifier, demo) -> None:
    n, cfg = notifier
    n.stop_event.set()  # stop the worker: we drive delivery by hand (the sinks keep listening)
    time.sleep(0.6)
    n.resolve = lambda ref, key: "http://127.0.0.1:9/nothing-listens-here"
    assert n.accept(json.dumps(_payload(receiver="site-sch002")).encode())[0] == 200
    rows = n.outbox.counts()["pending"]
    n.deliver_once()
    assert n.outbox.counts().get("pending", 0) >= 1  # robots failed and wait for a retry; email went
    # a restart: a new Notifier over the same outbox finds the pending rows and delivers them
    n2 = Notifier(cfg, demo, resolve=lambda ref, key: ref.replace("127.0.0.1:9811", cfg.listen.notifier))
    _wait(lambda: (n2.deliver_once() or True) and not n2.outbox.counts().get("pending"), timeout=10)
    assert n2.outbox.counts().get("sent", 0) == rows
    # a destination that never answers is given up after `retries`, and says why
    n2.resolve = lambda ref, key: "http://127.0.0.1:9/nothing-listens-here"
    n2.accept(json.dumps(_payload(receiver="site-sch003")).encode())
    _wait(lambda: (n2.deliver_once() or True) and n2.outbox.counts().get("failed"), timeout=10)
    err = n2.outbox.db.execute("select last_error, attempts from outbox where state = 'failed'").fetchone()
    assert "ConnectError" in err[0] and err[1] == cfg.notify.retries + 1
