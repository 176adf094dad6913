"""Talk to a running lab (its control API): used by the CLI and the tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from emanwatch.config import Config

from .server import state_file


def private_config(base: Path, tmp: Path, *, snmp_port: int, ssh_port: int, control: str,
                   time_factor: float = 1.0) -> Path:
    """A copy of config `base` with the lab on other ports and all state under `tmp`, so a
    second lab (tests, benchmarks) runs beside the demo one without touching it."""
    import yaml

    from inventory import DEMO_PATH

    doc = yaml.safe_load(base.read_text(encoding="utf-8"))
    base_dir = base.resolve().parent
    inv = Path(doc.get("inventory", {}).get("path", str(DEMO_PATH)))
    doc.setdefault("inventory", {})["path"] = str(inv if inv.is_absolute() else base_dir / inv)
    doc.setdefault("paths", {})["state"] = str(tmp / "var")
    doc.setdefault("lab", {}).update(control=control, snmp_port=snmp_port, ssh_port=ssh_port, time_factor=time_factor)
    doc.setdefault("polling", {})["snmp_port"] = snmp_port  # the collector polls where this lab answers
    doc.setdefault("ssh", {})["port"] = ssh_port  # and logs in there
    doc.setdefault("influx", {})["enabled"] = False  # never into the demo's VictoriaMetrics (a test enables its own)
    for table in doc.get("auths", {}).values():
        for auth in table.values():
            for k, v in auth.items():
                if isinstance(v, str) and v.startswith("file:") and not Path(v[5:]).is_absolute():
                    auth[k] = "file:" + str(tmp / v[5:]) if v[5:].startswith("var/") else "file:" + str(base_dir / v[5:])
    p = tmp / "config.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return p


class LabError(Exception):
    pass


class LabClient:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.base = f"http://{cfg.lab.control}"

    def _req(self, method: str, path: str, **kw: Any) -> Any:
        try:
            r = httpx.request(method, self.base + path, timeout=30, **kw)
        except httpx.HTTPError as e:
            raise LabError(f"the lab is not answering on {self.cfg.lab.control} ({e}); start it with `emanwatch lab up`") from None
        if r.status_code >= 400:
            raise LabError(r.json().get("error", r.text))
        return r.json()

    def alive(self) -> bool:
        try:
            self._req("GET", "/status")
            return True
        except LabError:
            return False

    def status(self) -> dict[str, Any]:
        return self._req("GET", "/status")

    def fault(self, kind: str, target: str = "", **params: Any) -> dict[str, Any]:
        return self._req("POST", "/faults", json={"kind": kind, "target": target, "params": params})

    def clear(self, fault_id: int | None = None) -> list[dict[str, Any]]:
        return self._req("DELETE", "/faults" + (f"/{fault_id}" if fault_id is not None else ""))

    def up(self, config_path: Path | None, time_factor: float | None = None, timeout: float = 60) -> dict[str, Any]:
        """Start the lab daemon in the background (unless it runs) and wait until it answers."""
        if self.alive():
            return self.status()
        log = self.cfg.state_dir / "lab" / "lab.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "lab.server"]
        if config_path:
            cmd += ["-c", str(config_path)]
        if time_factor:
            cmd += ["--time-factor", str(time_factor)]
        with open(log, "ab") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace").splitlines()[-5:]
                raise LabError("the lab exited at start:\n" + "\n".join(tail))
            if self.alive():
                return self.status()
            time.sleep(0.2)
        proc.terminate()
        raise LabError(f"the lab did not answer within {timeout:.0f} s (log: {log})")

    def down(self, timeout: float = 20) -> bool:
        """Stop the lab this config points at; True if one was running."""
        import json

        sf = state_file(self.cfg)
        pid = None
        if sf.exists():
            pid = json.loads(sf.read_text()).get("pid")
        if not self.alive() and pid is None:
            return False
        try:
            self._req("POST", "/shutdown")
        except LabError:
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        deadline = time.time() + timeout
        while time.time() < deadline and (self.alive() or (pid and _running(pid))):
            time.sleep(0.2)
        return True


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
