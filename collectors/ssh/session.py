"""One netmiko session per device: log in, gather the playbook's evidence, log out.

Failure is data: every device gets a CliCapture naming the device and the cause (auth, timeout,
hostkey, pager, prompt, refused). A command the device rejects is recorded per command and its
output is not used as evidence; the other commands still count.
"""

from __future__ import annotations

import io
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko
from netmiko import ConnectHandler
from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException, ReadTimeout

from playbooks import Playbook

log = logging.getLogger("emanwatch.ssh")

# what devices print for a command they do not know (VRP, Comware, IOS, RGOS)
REJECTED = re.compile(r"^\s*(Error: Unrecognized command|% ?Unrecognized command|% ?Invalid input|% ?Incomplete command|"
                      r"% ?Ambiguous command|Error: Wrong parameter)", re.M)
PAGER = re.compile(r"(-+ ?More ?-+|--More--|<--- More --->)\s*$")


@dataclass
class CliCapture:
    device: str
    platform: str
    ok: bool
    started: float
    duration: float = 0.0
    outputs: dict[str, str] = field(default_factory=dict)  # evidence name -> raw output
    command_errors: dict[str, str] = field(default_factory=dict)  # evidence name -> why it is missing
    reason: str = ""  # auth | timeout | hostkey | pager | prompt | refused | playbook | credentials
    error: str = ""
    pinned: bool = False  # this session stored the device's first host key
    source: str = "ssh"  # or offline:<path> for saved outputs


class HostKeys:
    """emanwatch's known_hosts (paramiko's format): one file, one writer, shared by all sessions.

    Sessions load nothing into paramiko, so paramiko asks `policy()` about every key: that is where
    a key is compared with the stored one (changed: refused), pinned on first use, or refused (strict).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.touch(mode=0o600)
        try:
            self.keys = paramiko.HostKeys(str(path))
        except (paramiko.hostkeys.InvalidHostKey, ValueError) as e:
            raise ValueError(f"{path}: not a known_hosts file ({e}): fix or remove the bad line") from None

    @staticmethod
    def entry(host: str, port: int) -> str:
        return host if port == 22 else f"[{host}]:{port}"

    def policy(self, strict: bool, pinned: list[str]) -> paramiko.MissingHostKeyPolicy:
        store = self

        class Policy(paramiko.MissingHostKeyPolicy):
            def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
                with store.lock:
                    known = store.keys.lookup(hostname)
                    if known is not None and key.get_name() in known:
                        if known[key.get_name()] != key:
                            raise paramiko.BadHostKeyException(hostname, key, known[key.get_name()])
                        return
                    if known is not None:  # a key of another type than the pinned one: a changed key too
                        raise paramiko.BadHostKeyException(hostname, key, next(iter(known.values())))
                    if strict:
                        raise paramiko.SSHException(f"Server {hostname!r} not found in known_hosts")
                    store.keys.add(hostname, key.get_name(), key)
                    store.keys.save(str(store.path))
                    pinned.append(f"{key.get_name()} {key.fingerprint}")

        return Policy()


def _classify(e: BaseException, session: io.BytesIO) -> tuple[str, str]:
    text = str(e)
    if isinstance(e, NetmikoAuthenticationException):
        return "auth", "SSH authentication failed (check the auths.ssh credentials)"
    if "does not match" in text or isinstance(e, paramiko.BadHostKeyException):
        return "hostkey", "host key CHANGED since it was pinned: refused (a replaced device or a man in the middle; " \
                          "remove its line from the known_hosts store only after checking)"
    if "not found in known_hosts" in text:
        return "hostkey", "host key unknown and ssh.host_keys is strict: add it to the known_hosts store first"
    tail = session.getvalue()[-400:].decode("utf-8", "replace")
    if isinstance(e, ReadTimeout) and PAGER.search(tail.rstrip("\r\n ") + " "):
        return "pager", "output stuck at a pager prompt (paging could not be turned off)"
    if "prompt" in text.lower() and isinstance(e, (ValueError, ReadTimeout)):
        return "prompt", f"unknown prompt: {text.splitlines()[0][:120]}"
    if isinstance(e, ReadTimeout):
        return "timeout", "no prompt after the command within the timeout"
    if isinstance(e, NetmikoTimeoutException):
        first = next((x.strip() for x in text.splitlines() if x.strip()), text)
        if "TCP connection" in text:
            return "timeout", "TCP connection failed (device down, wrong port or filtered)"
        return "timeout", first[:160]
    if isinstance(e, (ConnectionError, EOFError, OSError)):
        return "refused", f"{e.__class__.__name__}: {text[:120]}"
    return "error", f"{e.__class__.__name__}: {text[:160]}"


def capture(device: str, platform: str, host: str, pb: Playbook, username: str, password: str,
            keys: HostKeys, *, port: int = 22, timeout: float = 20.0, strict: bool = False,
            evidence: Iterable[str] | None = None, enable_secret: str = "") -> CliCapture:
    """Gather `evidence` (default: all the playbook's) from one device."""
    started = time.time()
    t0 = time.perf_counter()
    res = CliCapture(device, platform, False, started)
    session = io.BytesIO()
    names = list(evidence) if evidence is not None else list(pb.evidence)
    pinned: list[str] = []
    try:
        conn = ConnectHandler(device_type=pb.netmiko, host=host, port=port, username=username, password=password,
                              secret=enable_secret, conn_timeout=timeout, auth_timeout=timeout, banner_timeout=timeout,
                              read_timeout_override=timeout, system_host_keys=False, alt_host_keys=False,
                              session_log=session, allow_agent=False, use_keys=False, auto_connect=False)
        conn.key_policy = keys.policy(strict, pinned)
        conn._open()  # netmiko's own connect, after our host key policy is in place
        with conn:
            if pinned:
                res.pinned = True
                log.warning("%s: pinned its SSH host key on first use (%s)", device, pinned[0])
            if enable_secret and hasattr(conn, "enable"):
                conn.enable()
            prompt = conn.find_prompt()
            # the end of an output is the prompt alone on its line: netmiko's default pattern is the
            # bare hostname, which `sysname <host>` inside a config also matches, so a read could
            # stop there and hand the rest of the config to the next command (seen under load)
            end = rf"(?m)^{re.escape(prompt)}\s*$"
            for name in names:
                ev = pb.evidence[name]
                # a config ends with its last line (`return`, `end`) and then the prompt: a stray prompt
                # before it cannot end the read
                pattern = end if ev.complete is None else rf"(?ms){ev.complete}.*^{re.escape(prompt)}\s*$"
                text = _clean(conn.send_command(ev.command, expect_string=pattern, read_timeout=timeout), prompt, ev.command)
                if not text.strip():
                    # a stray prompt ended the read before the output came: read on (never send the
                    # command again: two answers would arrive and be read as one)
                    more = conn.read_until_pattern(pattern=pattern, read_timeout=timeout)
                    text = _clean(conn.strip_prompt(more), prompt, ev.command)
                if not text.strip():
                    res.command_errors[name] = f"`{ev.command}`: no output"
                    continue
                if not ev.whole(text):
                    res.command_errors[name] = f"`{ev.command}`: output incomplete (no `{ev.complete}` line)"
                    continue
                m = REJECTED.search(text)
                if m:
                    res.command_errors[name] = f"`{ev.command}` rejected by the device: {m.group(1).strip()}"
                    continue
                res.outputs[name] = text
        res.ok = True
    except Exception as e:  # noqa: BLE001 - one bad device never stops the run
        res.reason, why = _classify(e, session)
        res.error = f"{device} ({host}:{port}): {why}"
    res.duration = time.perf_counter() - t0
    return res


def _clean(text: str, prompt: str, command: str = "") -> str:
    """Output without what came before it under load: a stray prompt (alone or glued to the first
    line) or the command's echo that netmiko left in because a prompt preceded it."""
    lines = text.split("\n")
    while lines and lines[0].strip() in (prompt, "", command, prompt + command):
        lines.pop(0)
    if lines and lines[0].startswith(prompt):
        lines[0] = lines[0][len(prompt):]
    return "\n".join(lines)


def capture_many(jobs: list[dict[str, Any]], keys: HostKeys, *, concurrency: int = 32,
                 progress: Callable[[CliCapture], None] | None = None, **kw: Any) -> list[CliCapture]:
    """capture() for many devices, `concurrency` sessions at a time (netmiko is blocking: threads)."""
    out: list[CliCapture] = []

    def one(j: dict[str, Any]) -> CliCapture:
        if "failed" in j:
            return j["failed"]
        return capture(keys=keys, **j, **kw)

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="ssh") as pool:
        for r in pool.map(one, jobs):
            out.append(r)
            if progress:
                progress(r)
    return out
