"""Real servers the demo and the end-to-end tests run beside emanwatch, as background processes
on loopback: Debian's Prometheus, Alertmanager and VictoriaMetrics (it takes the InfluxDB v2 writes).

Each service gets its folder under the state dir (config, data, log, pid); `stop` kills only the
process that folder's pid file names.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from .config import Config


class ServiceError(Exception):
    pass


@dataclass
class Service:
    name: str
    cmd: list[str]
    ready_url: str
    folder: Path

    @property
    def pidfile(self) -> Path:
        return self.folder / f"{self.name}.pid"

    def running(self) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False

    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def start(self, timeout: float = 60) -> None:
        if self.running():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        log = open(self.folder / f"{self.name}.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=self.folder)
        self.pidfile.write_text(str(proc.pid))
        deadline = time.time() + timeout
        while time.time() < deadline:
            if proc.poll() is not None:
                tail = (self.folder / f"{self.name}.log").read_text(errors="replace").splitlines()[-8:]
                raise ServiceError(f"{self.name} exited at start:\n" + "\n".join(tail))
            try:
                if httpx.get(self.ready_url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise ServiceError(f"{self.name} not ready at {self.ready_url} within {timeout:.0f} s")

    def stop(self, timeout: float = 20) -> bool:
        pid = self.pid()
        if pid is None or not self.running():
            self.pidfile.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + timeout
        while time.time() < deadline and self.running():
            time.sleep(0.1)
        if self.running():
            os.kill(pid, signal.SIGKILL)
        self.pidfile.unlink(missing_ok=True)
        return True


def prometheus_config(cfg: Config, scrape_interval: str = "15s", rule_files: list[str] | None = None,
                      alertmanager: str | None = None) -> str:
    doc = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval,
                   "external_labels": {"district": "demo"}},
        "scrape_configs": [{
            "job_name": "emanwatch",
            "scrape_timeout": scrape_interval,
            "static_configs": [{"targets": [cfg.listen.exporter]}],
            # keep the devices' own labels (device, site, ...) rather than the exporter's address
            "honor_labels": True,
        }],
    }
    if rule_files:
        doc["rule_files"] = rule_files
    if alertmanager:
        doc["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    return yaml.safe_dump(doc, sort_keys=False)


def prometheus(cfg: Config, scrape_interval: str = "15s", retention: str = "15d", with_alertmanager: bool = True) -> Service:
    exe = shutil.which("prometheus")
    if exe is None:
        raise ServiceError("prometheus is not installed (./dev installs Debian's prometheus)")
    folder = cfg.state_dir / "prometheus"
    folder.mkdir(parents=True, exist_ok=True)
    from .rules import write_rules

    rule_files = [str(p) for p in write_rules(cfg)]  # thresholds from config.yaml, rendered now
    (folder / "prometheus.yml").write_text(prometheus_config(cfg, scrape_interval, rule_files=rule_files,
                                                             alertmanager=cfg.listen.alertmanager if with_alertmanager else None))
    listen = cfg.listen.prometheus
    cmd = [exe, f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'data'}",
           f"--web.listen-address={listen}", f"--storage.tsdb.retention.time={retention}",
           "--rules.alert.resend-delay=2s", "--web.enable-lifecycle"]
    return Service("prometheus", cmd, f"http://{listen}/-/ready", folder)


def alertmanager(cfg: Config, inv, folder: Path | None = None) -> Service:  # noqa: ANN001
    """Debian's Alertmanager with the config generated from the inventory; no cluster (one instance)."""
    exe = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if exe is None:
        raise ServiceError("prometheus-alertmanager is not installed (./dev installs it)")
    from .alertmanager import write_alertmanager_config

    folder = folder or cfg.state_dir / "alertmanager"
    path = write_alertmanager_config(cfg, inv, folder / "alertmanager.yml")
    listen = cfg.listen.alertmanager
    cmd = [exe, f"--config.file={path}", f"--storage.path={folder / 'data'}", f"--web.listen-address={listen}",
           "--cluster.listen-address="]
    return Service("alertmanager", cmd, f"http://{listen}/-/ready", folder)


def emanwatch_serve(cfg: Config, config_path: Path | None) -> Service:
    folder = cfg.state_dir / "serve"
    cmd = [sys.executable, "-m", "emanwatch.cli"] + (["-c", str(config_path)] if config_path else []) + ["serve"]
    return Service("emanwatch", cmd, f"http://{cfg.listen.exporter}/metrics", folder)


def victoria_metrics(cfg: Config, folder: Path | None = None, dedup: bool = True) -> Service:
    """Debian's VictoriaMetrics at influx.url: InfluxDB v2 writes in (a single `value` field keeps the
    metric name as is), PromQL and /api/v1/export out. Points are identified by series + timestamp
    (-dedup.minScrapeInterval), so a batch re-sent after an ambiguous failure is stored once."""
    exe = shutil.which("victoria-metrics")
    if exe is None:
        raise ServiceError("victoria-metrics is not installed (./dev installs Debian's victoria-metrics)")
    from urllib.parse import urlparse

    u = urlparse(cfg.influx.url)
    listen = f"{u.hostname}:{u.port or 8428}"
    folder = folder or cfg.state_dir / "victoria-metrics"
    cmd = [exe, f"-storageDataPath={folder / 'data'}", f"-httpListenAddr={listen}", "-search.latencyOffset=0s",
           "-influxSkipSingleField", "-retentionPeriod=100y", "-loggerLevel=WARN"]
    if dedup:  # off in the test that proves the writer itself sends each point once
        cmd.append("-dedup.minScrapeInterval=1ms")
    return Service("victoria-metrics", cmd, f"http://{listen}/health", folder)
