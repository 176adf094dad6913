"""The Alertmanager webhook receiver: messages for people, delivered so that a restart loses nothing.

POST /alertmanager   Alertmanager's webhook. The receiver name (`centre`, `site-<name>`) is looked up
                     in the inventory's rosters; one message per group is rendered with jinja2
                     (Chinese by default) and queued in SQLite, one row per destination (a WeCom or
                     DingTalk robot, an email address), before the webhook is answered: if we die
                     after answering, the row is there; if before, Alertmanager retries.
                     A webhook delivered twice (Alertmanager retrying) is queued once.
worker thread        delivers due rows: robot JSON over HTTP (errcode 0 is success), email over SMTP;
                     failures back off (retry_backoff, doubling) up to `retries`, then stay `failed`.
/sink/...            local sinks for the demo and the tests (config `notify.local_sinks`): record what
                     a WeCom / DingTalk robot would have received; GET /sink lists it. An SMTP sink
                     on notify.smtp records mail the same way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import smtplib
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
from jinja2 import Environment, PackageLoader, StrictUndefined

from inventory import Inventory

from .alertmanager import CENTRE, rosters
from .config import Config

log = logging.getLogger("emanwatch.notifier")
CST = timezone(timedelta(hours=8), "CST")  # Shanghai keeps no summer time

SCHEMA = """
create table if not exists outbox (
  id integer primary key, created real, channel text, dest text, receiver text, subject text, body text,
  attempts integer default 0, next_at real, state text default 'pending', last_error text default '', sent_at real);
create index if not exists outbox_due on outbox(state, next_at);
create table if not exists seen (key text primary key, at real);
create table if not exists sink (id integer primary key, at real, kind text, name text, body text);
"""


class Outbox:
    """The persisted queue (and the local sinks' record), one SQLite file, safe across threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.execute("pragma journal_mode=wal")
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()

    def enqueue(self, key: str, rows: list[tuple[str, str, str, str, str]]) -> bool:
        """rows: (channel, dest, receiver, subject, body). False if this webhook was already queued."""
        now = time.time()
        with self.lock:
            self.db.execute("begin immediate")
            try:
                if self.db.execute("select 1 from seen where key = ?", (key,)).fetchone():
                    self.db.execute("rollback")
                    return False
                self.db.execute("insert into seen values (?, ?)", (key, now))
                self.db.executemany("insert into outbox (created, channel, dest, receiver, subject, body, next_at) "
                                    "values (?, ?, ?, ?, ?, ?, ?)", [(now, *r, now) for r in rows])
                self.db.execute("delete from seen where at < ?", (now - 86400,))
                self.db.execute("commit")
            except BaseException:
                self.db.execute("rollback")
                raise
        return True

    def due(self, limit: int = 50) -> list[tuple]:
        with self.lock:
            return self.db.execute("select id, channel, dest, subject, body, attempts from outbox "
                                   "where state = 'pending' and next_at <= ? order by id limit ?", (time.time(), limit)).fetchall()

    def done(self, row_id: int) -> None:
        with self.lock:
            self.db.execute("update outbox set state = 'sent', sent_at = ?, attempts = attempts + 1 where id = ?", (time.time(), row_id))

    def retry(self, row_id: int, attempts: int, error: str, retries: int, backoff: float) -> None:
        state = "failed" if attempts + 1 > retries else "pending"
        with self.lock:
            self.db.execute("update outbox set attempts = ?, last_error = ?, state = ?, next_at = ? where id = ?",
                            (attempts + 1, error[:500], state, time.time() + backoff * 2 ** attempts, row_id))

    def counts(self) -> dict[str, int]:
        with self.lock:
            return dict(self.db.execute("select state, count(*) from outbox group by state").fetchall())

    def record_sink(self, kind: str, name: str, body: str) -> None:
        with self.lock:
            self.db.execute("insert into sink (at, kind, name, body) values (?, ?, ?, ?)", (time.time(), kind, name, body))

    def sink(self, since_id: int = 0) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute("select id, at, kind, name, body from sink where id > ? order by id", (since_id,)).fetchall()
        return [{"id": i, "at": at, "kind": k, "name": n, "body": b} for i, at, k, n, b in rows]


# ---------------------------------------------------------------- rendering

SEVERITY_ZH = {"critical": "严重", "warning": "警告", "info": "提示"}
TITLE_ZH = {
    "DeviceDown": "设备离线", "SnmpAgentProblem": "SNMP 采集异常", "LinkDown": "链路中断", "RingDegraded": "双环降级",
    "SiteIsolated": "站点失联", "ApMassOffline": "无线 AP 大面积离线", "InterfaceErrors": "端口错包",
    "DeviceRebooted": "设备重启", "LinkUtilisation": "链路利用率高", "EgressUtilisation": "出口带宽利用率高",
    "EgressForecast80": "出口容量预警", "EgressRedundancyLost": "出口冗余丧失", "CpuHigh": "CPU 利用率高",
    "MemoryHigh": "内存利用率高", "TopologyMismatch": "拓扑与台账不符", "ServiceUnreachable": "业务平台不可达",
    "PollFailing": "采集失败", "SchedulerOverruns": "采集超时", "ConfigDrift": "配置偏离基线", "ConfigChanged": "窗口外配置变更",
}


def _local(ts: str) -> str:
    """Alertmanager's RFC 3339 time -> Shanghai wall clock."""
    try:
        dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return ts
    if dt.year < 2000:  # endsAt of a firing alert is "0001-01-01T00:00:00Z"
        return ""
    return dt.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


class Renderer:
    def __init__(self, cfg: Config, inv: Inventory) -> None:
        self.cfg = cfg
        self.inv = inv
        self.env = Environment(loader=PackageLoader("emanwatch", "templates/notify"), undefined=StrictUndefined,
                               trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
        self.env.filters["local"] = _local
        self.rosters = rosters(inv)

    def message(self, payload: dict[str, Any], language: str | None = None) -> tuple[str, str]:
        """(subject, markdown body) for one webhook group."""
        lang = language or self.cfg.notify.language
        alerts = payload.get("alerts") or []
        status = payload.get("status", "firing")
        firing = [a for a in alerts if a.get("status") == "firing"]
        resolved = [a for a in alerts if a.get("status") == "resolved"]
        common = payload.get("commonLabels") or {}
        site = common.get("site") or (alerts[0]["labels"].get("site") if alerts else "") or ""
        s = self.inv.sites.get(site)
        receiver = payload.get("receiver", "")
        admins = self.rosters.get(receiver, []) if receiver != CENTRE else (list(s.admins) if s else [])
        ctx = {
            "status": status, "firing": firing, "resolved": resolved, "alerts": alerts, "common": common,
            "alertname": common.get("alertname") or (alerts[0]["labels"].get("alertname") if alerts else ""),
            "title_zh": TITLE_ZH,
            "severity": common.get("severity", ""), "severity_zh": SEVERITY_ZH.get(common.get("severity", ""), common.get("severity", "")),
            "site": site, "site_name": s.display_name if s and s.display_name else site, "admins": admins,
            "dashboard": self.dashboard_url(site), "receiver": receiver,
        }
        body = self.env.get_template(f"message.{lang}.md.j2").render(**ctx)
        subject = self.env.get_template(f"subject.{lang}.j2").render(**ctx).strip()
        return subject, body

    def dashboard_url(self, site: str) -> str:
        base = self.cfg.notify.dashboard_url
        return f"{base}{'&' if '?' in base else '?'}var-site={site}" if site else base


def robot_json(channel: str, subject: str, body: str, phones: list[str]) -> dict[str, Any]:
    """What a WeCom (企业微信) or DingTalk (钉钉) group robot accepts: a markdown message."""
    if channel == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": body}}
    return {"msgtype": "markdown", "markdown": {"title": subject, "text": body}, "at": {"atMobiles": phones, "isAtAll": False}}


# ---------------------------------------------------------------- the service


class Notifier:
    def __init__(self, cfg: Config, inv: Inventory, resolve: Callable[[str, str], str] | None = None) -> None:
        self.cfg = cfg
        self.renderer = Renderer(cfg, inv)
        self.outbox = Outbox(cfg.state_dir / "notifier" / "outbox.sqlite")
        self.resolve = resolve or (lambda ref, key: cfg.secret(ref, key) if ref.startswith(("env:", "file:")) else ref)
        self.stop_event = threading.Event()
        self.stats = {"webhooks": 0, "duplicates": 0, "bad_requests": 0, "sent": 0, "errors": 0}
        self.http = httpx.Client(timeout=cfg.notify.timeout)

    # -- intake
    def accept(self, raw: bytes) -> tuple[int, str]:
        try:
            payload = json.loads(raw)
            if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
                raise ValueError("not an Alertmanager webhook (no alerts list)")
            receiver = payload.get("receiver", "")
            if receiver not in self.renderer.rosters:
                raise ValueError(f"unknown receiver {receiver!r}: not in the inventory's rosters")
        except ValueError as e:
            self.stats["bad_requests"] += 1
            log.error("webhook refused: %s", e)
            return 400, str(e)
        self.stats["webhooks"] += 1
        rows = self.deliveries(payload)
        if not self.outbox.enqueue(hashlib.sha256(raw).hexdigest(), rows):
            self.stats["duplicates"] += 1
            return 200, "duplicate"
        return 200, f"queued {len(rows)}"

    def deliveries(self, payload: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
        receiver = payload["receiver"]
        subject, body = self.renderer.message(payload)
        rows: dict[tuple[str, str], tuple[str, str, str, str, str]] = {}
        phones = [a.phone for a in self.renderer.rosters[receiver] if a.phone]
        for a in self.renderer.rosters[receiver]:
            for channel, dest in (("wecom", a.wecom_webhook), ("dingtalk", a.dingtalk_webhook),
                                  ("email", a.email if self.cfg.notify.smtp else None)):
                if dest:
                    payload_body = body if channel == "email" else json.dumps(robot_json(channel, subject, body, phones), ensure_ascii=False)
                    rows.setdefault((channel, dest), (channel, dest, receiver, subject, payload_body))
        if not rows:
            log.warning("receiver %s has nobody with a WeCom / DingTalk robot or (with notify.smtp) an email", receiver)
        return list(rows.values())

    # -- delivery
    def deliver_once(self) -> int:
        n = 0
        for row_id, channel, dest, subject, body, attempts in self.outbox.due():
            try:
                if channel == "email":
                    self._mail(dest, subject, body)
                else:
                    self._robot(dest, body)
            except Exception as e:  # noqa: BLE001 - every failure is retried, and recorded
                self.stats["errors"] += 1
                self.outbox.retry(row_id, attempts, f"{type(e).__name__}: {e}", self.cfg.notify.retries, self.cfg.notify.retry_backoff)
                log.warning("delivery %d (%s) failed, attempt %d: %s", row_id, channel, attempts + 1, e)
            else:
                self.outbox.done(row_id)
                self.stats["sent"] += 1
                n += 1
        return n

    def _robot(self, url_ref: str, body: str) -> None:
        url = self.resolve(url_ref, "wecom_webhook/dingtalk_webhook")
        r = self.http.post(url, content=body.encode(), headers={"Content-Type": "application/json"})
        r.raise_for_status()
        reply = r.json()
        if reply.get("errcode", 0) != 0:
            raise RuntimeError(f"robot said errcode {reply.get('errcode')}: {reply.get('errmsg')}")

    def _mail(self, to: str, subject: str, body: str) -> None:
        smtp = self.cfg.notify.smtp
        assert smtp is not None
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = smtp.sender, to, subject
        msg.set_content(body)
        with smtplib.SMTP(smtp.host, smtp.port, timeout=self.cfg.notify.timeout) as s:
            if smtp.starttls:
                s.starttls()
            if smtp.username and smtp.password:
                s.login(smtp.username, self.cfg.secret(smtp.password, "notify.smtp.password"))
            s.send_message(msg)

    def run_worker(self) -> threading.Thread:
        def loop() -> None:
            while not self.stop_event.is_set():
                try:
                    self.deliver_once()
                except Exception:  # noqa: BLE001 - the worker must outlive a bad row
                    log.exception("notifier worker")
                self.stop_event.wait(0.5)

        t = threading.Thread(target=loop, name="notifier-worker", daemon=True)
        t.start()
        return t

    # -- HTTP
    def wsgi(self, environ: dict, start_response: Callable) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")

        def reply(code: int, obj: Any) -> list[bytes]:
            body = json.dumps(obj, ensure_ascii=False).encode()
            start_response(f"{code} {'OK' if code == 200 else 'Error'}", [("Content-Type", "application/json; charset=utf-8"),
                                                                          ("Content-Length", str(len(body)))])
            return [body]

        size = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(size) if size else b""
        if path == "/alertmanager" and method == "POST":
            code, msg = self.accept(raw)
            return reply(code, {"status": msg})
        if path.startswith("/sink") and self.cfg.notify.local_sinks:
            if method == "POST":
                parts = path.strip("/").split("/")
                if len(parts) != 3:
                    return reply(404, {"error": "POST /sink/<wecom|dingtalk>/<name>"})
                self.outbox.record_sink(parts[1], parts[2], raw.decode("utf-8", "replace"))
                return reply(200, {"errcode": 0, "errmsg": "ok"})
            since = parse_qs(environ.get("QUERY_STRING", "")).get("since", ["0"])[0]
            return reply(200, self.outbox.sink(int(since) if since.isdigit() else 0))
        if path == "/status":
            return reply(200, {"queue": self.outbox.counts(), **self.stats})
        return reply(404, {"error": "POST /alertmanager"})

    def serve(self, host: str, port: int) -> Any:
        from wsgiref.simple_server import make_server

        from prometheus_client.exposition import ThreadingWSGIServer, _SilentHandler

        httpd = make_server(host, port, self.wsgi, ThreadingWSGIServer, handler_class=_SilentHandler)
        threading.Thread(target=httpd.serve_forever, name="notifier-http", daemon=True).start()
        self.run_worker()
        if self.cfg.notify.local_sinks and self.cfg.notify.smtp:
            self.smtp_sink = start_smtp_sink(self.outbox, self.cfg.notify.smtp.host, self.cfg.notify.smtp.port)
        return httpd

    def close(self) -> None:
        self.stop_event.set()
        sink, self.smtp_sink = getattr(self, "smtp_sink", None), None
        if sink is not None:
            sink.stop()


def start_smtp_sink(outbox: Outbox, host: str, port: int) -> Any:
    """A local mail sink (aiosmtpd): every message is recorded as kind `email`, name = recipient."""
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802 - aiosmtpd's hook
            for rcpt in envelope.rcpt_tos:
                outbox.record_sink("email", rcpt, envelope.content.decode("utf-8", "replace"))
            return "250 OK"

    c = Controller(Handler(), hostname=host, port=port)
    c.start()
    return c


__all__ = ["Notifier", "Outbox", "Renderer", "robot_json", "start_smtp_sink"]
