"""Make unreachable lab addresses stop answering ping (and SSH): iptables rules on loopback.

All rules live in one chain, EMANWATCH-LAB, jumped to from INPUT and rewritten whole with one
iptables-restore call (a ring node going down silences ~800 addresses at once). Only 127.0.0.0/8
addresses are ever written: the lab never touches real traffic.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import subprocess

log = logging.getLogger("emanwatch.lab.icmp")
CHAIN = "EMANWATCH-LAB"
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


class IcmpBlocker:
    def __init__(self, ssh_port: int = 22) -> None:
        self.ssh_port = ssh_port
        self.available = os.geteuid() == 0 and shutil.which("iptables") is not None
        self.reason = "" if self.available else "needs root and iptables"
        self.blocked: frozenset[str] = frozenset()

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["iptables", "-w", *args], capture_output=True, text=True, check=check)

    def setup(self) -> None:
        if not self.available:
            return
        try:
            if self._run("-n", "-L", CHAIN, check=False).returncode != 0:
                self._run("-N", CHAIN)
            if self._run("-C", "INPUT", "-j", CHAIN, check=False).returncode != 0:
                self._run("-I", "INPUT", "1", "-j", CHAIN)
        except (subprocess.CalledProcessError, OSError) as e:
            self.available = False
            self.reason = f"iptables refused: {getattr(e, 'stderr', e)}".strip()
            log.warning("ICMP faults unavailable: %s", self.reason)

    def block(self, addresses: set[str]) -> None:
        if not self.available:
            return
        addrs = frozenset(a for a in addresses if ipaddress.ip_address(a) in LOOPBACK)
        if addrs == self.blocked:
            return
        rules = []
        for a in sorted(addrs):
            rules.append(f"-A {CHAIN} -d {a}/32 -p icmp --icmp-type echo-request -j DROP")
            rules.append(f"-A {CHAIN} -d {a}/32 -p tcp --dport {self.ssh_port} --syn -j DROP")
        text = "\n".join(["*filter", f":{CHAIN} - [0:0]", f"-F {CHAIN}", *rules, "COMMIT", ""])
        r = subprocess.run(["iptables-restore", "-w", "--noflush"], input=text, capture_output=True, text=True)
        if r.returncode != 0:
            log.error("iptables-restore failed: %s", r.stderr.strip())
            return
        self.blocked = addrs

    def teardown(self) -> None:
        if not self.available:
            return
        self._run("-D", "INPUT", "-j", CHAIN, check=False)
        self._run("-F", CHAIN, check=False)
        self._run("-X", CHAIN, check=False)
        self.blocked = frozenset()
