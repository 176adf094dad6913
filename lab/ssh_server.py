"""The lab's SSH CLIs: every router, switch and AC on its own address, with its vendor's prompt,
pager, paging-off command and the display / show commands an audit runs.

A vendor is a small declarative file (lab/cli/<vendor>.yaml: prompt, pager, paging-off, commands)
and its outputs are jinja2 templates (lab/cli/<vendor>/*.j2) rendered from the inventory, the
intent and the active faults: config drift changes the running config (the saved one stays
clean), a stuck pager never advances, an auth fault refuses logins.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import threading
import time
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import asyncssh
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from emanwatch.config import Config
from inventory.model import short_name

from .model import LabDevice, LabDistrict

log = logging.getLogger("emanwatch.lab.ssh")
CLI_DIR = Path(__file__).with_name("cli")
PAGE_LINES = 24
CST = timezone(timedelta(hours=8))


@cache
def vendor_cli(vendor: str) -> dict[str, Any]:
    return yaml.safe_load((CLI_DIR / f"{vendor}.yaml").read_text(encoding="utf-8"))


@cache
def templates(vendor: str) -> Environment:
    # Ruijie's show commands look like Cisco's: it falls back to those templates
    dirs = [CLI_DIR / vendor] + ([CLI_DIR / "cisco"] if vendor == "ruijie" else [])
    return Environment(loader=ChoiceLoader([FileSystemLoader(str(d)) for d in dirs]), autoescape=False,
                       undefined=StrictUndefined, keep_trailing_newline=True)


def _uptime(seconds: float, weeks: bool = False) -> str:
    s = int(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m = s // 60
    if weeks:
        w, d = divmod(d, 7)
        return f"{w} weeks, {d} days, {h} hours, {m} minutes"
    return f"{d} days, {h} hours, {m} minutes"


def cli_context(ld: LabDevice, drift: set[str], now: float) -> dict[str, Any]:
    d = ld.district
    inv = d.inv
    dev = ld.dev
    site = inv.sites[dev.site]
    intent = inv.intent
    accounts = list(intent.admin_accounts) + [a.username for a in site.admins if a.username]
    if "unknown-user" in drift:
        accounts.append("temp01")
    acl = [(str(n.network_address), str(n.hostmask)) for n in intent.management_acl]
    ports, all_ifs, neighbors = [], [], {}
    mismatch = {f["target"]: f for f in d.faults_of("lldp-mismatch")}
    for i in ld.interfaces:
        lvl = d.clock.level(now, i.shift)
        in_util, out_util = (_util(r * 8 * lvl, i.speed) for r in (i.in_scale, i.out_scale))
        row = {"name": i.name, "short": short_name(i.name), "up": i.oper_up, "linked": i.link is not None,
               "physical": i.physical, "desc": i.alias, "ifindex": i.ifindex, "errors": i.errors(now),
               "speed_str": f"{i.speed // 10**9}G" if i.speed >= 10**9 else f"{i.speed // 10**6}M",
               "in_util": in_util, "out_util": out_util}
        all_ifs.append(row)
        if i.physical:
            ports.append(row)
            if i.peer and i.oper_up:
                peer_name, peer_port = i.peer
                f = mismatch.get(f"{ld.name}:{i.name}")
                if f is not None:  # an injected cabling error: the CLI sees what LLDP-MIB sees
                    peer_name, peer_port = f.get("device", peer_name), f.get("interface", peer_port)
                peer = d.devices.get(peer_name)
                ap = d.ap_by_name.get(peer_name)
                if peer is not None or ap is not None:
                    pdev = inv.devices[peer_name]
                    neighbors[i.name] = {
                        "name": peer_name, "port": peer_port,
                        "port_desc": peer.by_name[peer_port].alias if peer and peer_port in peer.by_name else "",
                        "chassis": _mac(peer.chassis_mac if peer else ap.mac),  # type: ignore[union-attr]
                        "address": str(pdev.mgmt_address), "sysdescr": f"{pdev.vendor.value if pdev.vendor else ''} {pdev.model}",
                    }
    mgmt = next(i for i in ld.interfaces if not i.physical and i.iftype in (136, 53))
    community = d.lab_community or "emanwatch-lab"
    hashes = {u: hashlib.sha256(f"{dev.name}/{u}".encode()).hexdigest()[:24] for u in accounts + list(intent.snmp.v3_users)}
    t = datetime.fromtimestamp(now, CST)
    model_name = dev.model
    return {
        "host": dev.name, "model": model_name, "firmware": dev.firmware or "", "role": dev.role.value,
        "serial": dev.serial or "", "address": str(dev.mgmt_address), "intent": intent, "acl": acl,
        "accounts": accounts, "drift": drift, "ports": ports, "all_ifs": all_ifs, "neighbors": neighbors,
        "mgmt": {"name": mgmt.name}, "engine_hex": ld.engine_id.hex(), "chassis": _mac(ld.chassis_mac, ":"),
        "communities": [{"name": community, "cipher": hashlib.sha1(community.encode()).hexdigest()}],
        "public_cipher": hashlib.sha1(b"public").hexdigest(), "hashes": hashes,
        "uptime": _uptime(now - ld.boot_time), "uptime_weeks": _uptime(now - ld.boot_time, weeks=True),
        "uptime_ruijie": _uptime(now - ld.boot_time).replace(" days, ", ":").replace(" hours, ", ":").replace(" minutes", ":00"),
        "now": t.strftime("%Y-%m-%d %H:%M:%S"), "clock": t.strftime("%H:%M:%S.%f")[:-3] + t.strftime(" %Y-%m-%d"),
        "weekday": t.strftime("%A"), "ntp_time": t.strftime("%H:%M:%S.000 CST %b %d %Y"), "ntp_synced": True,
        "image": (model_name.split("-")[0] if "-" in model_name else model_name.split("/")[0]) + "-UNIVERSALK9-M",
    }


def _util(bps: float, speed: int) -> str:
    return f"{min(100.0, bps / speed * 100):.2f}%" if speed else "0%"


def _mac(b: bytes, sep: str = "-") -> str:
    h = b.hex()
    return sep.join(h[i:i + 4] for i in range(0, 12, 4)) if sep == "-" else ":".join(h[i:i + 2] for i in range(0, 12, 2))


def render(ld: LabDevice, command: str, now: float | None = None) -> str | None:
    """The output of `command` on this device, or None if the device does not know it."""
    now = time.time() if now is None else now
    spec = vendor_cli(ld.dev.vendor.value)  # type: ignore[union-attr]
    cmd, _, filt = command.partition(" | ")
    name = match_command(spec["commands"], cmd)
    if name is None:
        return None
    drift = {f["drift"] for f in ld.district.faults_of("config-drift") if f["target"] == ld.name}
    if name == "saved":  # the saved configuration is what was last approved: no drift
        name, drift = "running", set()
    text = templates(ld.dev.vendor.value).get_template(f"{name}.j2").render(**cli_context(ld, drift, now))  # type: ignore[union-attr]
    if filt:
        op, _, arg = filt.strip().partition(" ")
        lines = text.splitlines()
        if op in ("include", "i", "inc"):
            text = "\n".join(x for x in lines if arg in x) + "\n"
        elif op in ("exclude", "e", "exc"):
            text = "\n".join(x for x in lines if arg not in x) + "\n"
        elif op in ("begin", "b"):
            k = next((n for n, x in enumerate(lines) if arg in x), len(lines))
            text = "\n".join(lines[k:]) + "\n"
    return text


def match_command(commands: dict[str, str], typed: str) -> str | None:
    """Exact match, else the unique command each of whose words the typed words abbreviate."""
    words = typed.split()
    key = " ".join(words)
    if key in commands:
        return commands[key]
    hits = [v for k, v in commands.items() if len(k.split()) == len(words)
            and all(full.startswith(w) for w, full in zip(words, k.split(), strict=True))]
    return hits[0] if len(set(hits)) == 1 else None


def host_key(seed: bytes, device: str) -> asyncssh.SSHKey:
    """A stable ed25519 host key per device (so known_hosts pinning survives a lab restart)."""
    priv = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed + device.encode()).digest())
    pem = priv.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
    return asyncssh.import_private_key(pem)


class _Server(asyncssh.SSHServer):
    def __init__(self, lab: SshLab, ld: LabDevice) -> None:
        self.lab = lab
        self.ld = ld

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        if self.ld.name in self.lab.district.unreachable:
            conn.close()  # iptables drops these first where it can; this is the fallback

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        if self.lab.district.fault_on("ssh-auth-fail", self.ld.name):
            return False
        return secrets.compare_digest(username, self.lab.username) and secrets.compare_digest(password, self.lab.password)


class SshLab:
    def __init__(self, district: LabDistrict, cfg: Config) -> None:
        self.district = district
        auth = cfg.auths.ssh[cfg.lab.ssh_auth]
        self.username = auth.username
        self.password = cfg.secret(auth.password, f"auths.ssh.{cfg.lab.ssh_auth}.password") if auth.password else ""
        self.port = cfg.lab.ssh_port
        seed_file = cfg.state_dir / "lab" / "hostkey-seed"
        seed_file.parent.mkdir(parents=True, exist_ok=True)
        if not seed_file.exists():
            seed_file.write_bytes(secrets.token_bytes(32))
            seed_file.chmod(0o600)
        self.seed = seed_file.read_bytes()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.servers: list[asyncssh.SSHAcceptor] = []
        self.thread: threading.Thread | None = None
        self.listeners = 0
        self.sessions = 0

    def devices(self) -> list[LabDevice]:
        return [ld for ld in self.district.devices.values() if (CLI_DIR / f"{ld.dev.vendor.value}.yaml").exists()]  # type: ignore[union-attr]

    def start(self, timeout: float = 60) -> None:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(self._listen())
            except BaseException as e:  # noqa: BLE001 - reported to the starting thread
                errors.append(e)
                ready.set()
                return
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="lab-ssh", daemon=True)
        self.thread.start()
        ready.wait(timeout)
        if errors:
            raise errors[0]

    async def _listen(self) -> None:
        for ld in self.devices():
            srv = await asyncssh.create_server(
                lambda ld=ld: _Server(self, ld), host=ld.address, port=self.port,
                server_host_keys=[host_key(self.seed, ld.name)], process_factory=lambda p, ld=ld: self._session(ld, p),
                encoding="utf-8", line_editor=True, reuse_address=True, login_timeout=30)
            self.servers.append(srv)
        self.listeners = len(self.servers)

    def stop(self) -> None:
        if self.loop is None:
            return

        async def close() -> None:
            for s in self.servers:
                s.close()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self.thread:
            self.thread.join(5)

    async def _session(self, ld: LabDevice, process: asyncssh.SSHServerProcess) -> None:
        self.sessions += 1
        spec = vendor_cli(ld.dev.vendor.value)  # type: ignore[union-attr]
        prompt = spec["prompt"].format(host=ld.name)
        paging = True
        out = process.stdout
        out.write(spec.get("banner", "").replace("\n", "\r\n") + prompt)
        try:
            while True:
                line = await process.stdin.readline()
                if not line:
                    break
                cmd = " ".join(line.split())
                if not cmd:
                    out.write("\r\n" + prompt)
                    continue
                if cmd in ("quit", "exit", "logout"):
                    break
                stuck = self.district.fault_on("stuck-pager", ld.name)
                if match_command({c: "off" for c in spec.get("paging_off", [])}, cmd):
                    paging = stuck  # a stuck pager ignores paging-off
                    out.write(prompt)
                    continue
                if match_command({c: "ok" for c in spec.get("accept", [])}, cmd) or cmd.startswith("enable"):
                    out.write(prompt)
                    continue
                with self.district.lock:
                    text = render(ld, cmd)
                if text is None:
                    out.write(spec["error"].replace("\n", "\r\n") + "\r\n" + prompt)
                    continue
                lines = text.replace("\r\n", "\n").split("\n")
                if paging and len(lines) > PAGE_LINES:
                    for k in range(0, len(lines), PAGE_LINES):
                        out.write("\r\n".join(lines[k:k + PAGE_LINES]) + "\r\n")
                        if k + PAGE_LINES >= len(lines):
                            break
                        out.write(spec["pager"])
                        if stuck:
                            await process.stdin.read(1 << 20)  # swallow everything, never advance
                            return
                        process.channel.set_line_mode(False)
                        key = await process.stdin.read(1)
                        process.channel.set_line_mode(True)
                        out.write("\r" + " " * len(spec["pager"]) + "\r")
                        if not key or key in "qQ":
                            break
                else:
                    out.write("\r\n".join(lines))
                out.write("\r\n" + prompt)
        except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged, asyncssh.DisconnectError, ConnectionError):
            pass
        finally:
            process.exit(0)
