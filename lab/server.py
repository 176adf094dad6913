"""The lab daemon: agents for the whole demo district plus a small HTTP control API.

    python -m lab.server [-c config.yaml]      (normally started by `emanwatch lab up`)

Control API on config lab.control (loopback): GET /status, GET /faults, POST /faults
{kind, target, params}, DELETE /faults[/ID], POST /shutdown.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from collectors.snmp.usm import UsmUser
from emanwatch.config import Config, load_config, resolve_snmp_auth
from inventory import load_inventory

from .faults import FAULTS, FaultError, validate
from .icmp import IcmpBlocker
from .model import LabDistrict
from .secrets import ensure_lab_secrets
from .snmp_agent import SnmpLab
from .traffic import LabClock

log = logging.getLogger("emanwatch.lab")


def state_file(cfg: Config) -> Path:
    return cfg.state_dir / "lab" / "lab.json"


class LabServer:
    def __init__(self, cfg: Config, time_factor: float | None = None) -> None:
        self.cfg = cfg
        ensure_lab_secrets(cfg)
        inv = load_inventory(cfg.path(cfg.inventory.path), allowed_ranges=cfg.inventory.allowed_ranges,
                             ledgers=[cfg.path(p) for p in cfg.inventory.ledgers])
        v2 = resolve_snmp_auth(cfg, cfg.lab.snmp_v2c_auth)
        v3 = resolve_snmp_auth(cfg, cfg.lab.snmp_v3_auth)
        user = UsmUser(v3.username or "", v3.auth_protocol if v3.security_level != "noAuthNoPriv" else None,
                       v3.auth_password, v3.priv_protocol if v3.security_level == "authPriv" else None, v3.priv_password)
        self.started = time.time()
        self.district = LabDistrict(inv, LabClock(factor=time_factor or cfg.lab.time_factor))
        self.district.lab_community = v2.community or ""
        self.snmp = SnmpLab(self.district, v2.community or "", user, port=cfg.lab.snmp_port)
        self.icmp = IcmpBlocker(ssh_port=cfg.lab.ssh_port)
        self.ssh = None
        self.http: ThreadingHTTPServer | None = None
        self.stopping = threading.Event()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.icmp.setup()
        self.snmp.start()
        try:
            from .ssh_server import SshLab

            self.ssh = SshLab(self.district, self.cfg)
            self.ssh.start()
        except ImportError:
            self.ssh = None
        self.sync_icmp()

    def stop(self) -> None:
        if self.http:
            self.http.shutdown()
        if self.ssh:
            self.ssh.stop()
        self.snmp.stop()
        self.icmp.teardown()

    def sync_icmp(self) -> None:
        inv = self.district.inv
        self.icmp.block({str(inv.devices[n].mgmt_address) for n in self.district.unreachable})

    # ------------------------------------------------------------ faults

    def add_fault(self, kind: str, target: str, params: dict[str, Any]) -> dict[str, Any]:
        rec = self.district.add_fault(validate(self.district, kind, target, params))
        self.sync_icmp()
        log.info("fault %s", rec)
        return rec

    def clear(self, fault_id: int | None = None) -> list[dict[str, Any]]:
        gone = self.district.clear_faults(fault_id)
        self.sync_icmp()
        return gone

    def status(self) -> dict[str, Any]:
        d = self.district
        st = self.snmp.stats
        return {
            "pid": os.getpid(),
            "up_seconds": round(time.time() - self.started, 1),
            "devices": len(d.devices),
            "snmp_agents": len(self.snmp.socks),
            "snmp_port": self.snmp.port,
            "ssh_listeners": self.ssh.listeners if self.ssh else 0,
            "aps": sum(len(x.aps) for x in d.devices.values()),
            "time_factor": d.clock.factor,
            "lab_time": d.clock.lab(),
            "icmp_faults": self.icmp.available or self.icmp.reason,
            "faults": d.faults,
            "unreachable": len(d.unreachable),
            "snmp": {"requests": st.requests, "varbinds": st.varbinds, "dropped": st.dropped,
                     "bad_community": st.bad_community, "usm_reports": st.usm},
            "fault_kinds": {k: f.what for k, f in FAULTS.items()},
        }

    # ------------------------------------------------------------ control API

    def serve_control(self) -> None:
        host, _, port = self.cfg.lab.control.rpartition(":")
        self.http = ThreadingHTTPServer((host, int(port)), _handler(self))
        self.http.daemon_threads = True
        threading.Thread(target=self.http.serve_forever, name="lab-control", daemon=True).start()


def _handler(lab: LabServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt: str, *args: Any) -> None:
            log.debug("control: " + fmt, *args)

        def _send(self, code: int, body: Any) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            n = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(n) or b"{}")

        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/status":
                self._send(200, lab.status())
            elif self.path == "/faults":
                self._send(200, lab.district.faults)
            else:
                self._send(404, {"error": f"no {self.path}"})

        def do_POST(self) -> None:  # noqa: N802
            if self.path == "/faults":
                try:
                    b = self._body()
                    self._send(201, lab.add_fault(b.get("kind", ""), b.get("target", ""), b.get("params") or {}))
                except (FaultError, json.JSONDecodeError) as e:
                    self._send(400, {"error": str(e)})
            elif self.path == "/shutdown":
                self._send(200, {"ok": True})
                lab.stopping.set()
            else:
                self._send(404, {"error": f"no {self.path}"})

        def do_DELETE(self) -> None:  # noqa: N802
            parts = self.path.strip("/").split("/")
            if parts[0] != "faults":
                self._send(404, {"error": f"no {self.path}"})
                return
            try:
                fid = int(parts[1]) if len(parts) > 1 else None
            except ValueError:
                self._send(400, {"error": f"fault id must be a number, got {parts[1]!r}"})
                return
            gone = lab.clear(fid)
            if fid is not None and not gone:
                self._send(404, {"error": f"no fault {fid}"})
            else:
                self._send(200, gone)

    return Handler


def main() -> None:
    ap = argparse.ArgumentParser(description="emanwatch lab daemon")
    ap.add_argument("-c", "--config")
    ap.add_argument("--time-factor", type=float)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    cfg = load_config(args.config)
    lab = LabServer(cfg, args.time_factor)
    stop = lab.stopping
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    lab.start()
    lab.serve_control()
    sf = state_file(cfg)
    sf.parent.mkdir(parents=True, exist_ok=True)
    sf.write_text(json.dumps({"pid": os.getpid(), "control": cfg.lab.control, "started": lab.started}))
    log.info("lab up: %d agents, control on %s", len(lab.snmp.socks), cfg.lab.control)
    try:
        while not stop.wait(0.5):  # a timed wait, so signal handlers get to run
            pass
    finally:
        lab.stop()
        sf.unlink(missing_ok=True)
        log.info("lab down")


if __name__ == "__main__":
    main()
