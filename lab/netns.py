"""Namespace mode: a few ring nodes and schools as Linux network namespaces joined by veth links,
each running real net-snmp snmpd over real kernel interfaces, with real traffic between them.

    emanwatch lab netns up [--nodes 3] [--schools 2] [--extra-ifs 0]   (root)
    emanwatch lab netns down

Layout: ew-nms (the poller's vantage point) -- ew-rn1 -- ew-rn2 -- ... -- ew-rnN -- back to ew-rn1
(a ring of veth links), each school ew-schK hanging off a ring node. Addresses are link-local
(169.254.0.0/16), which no real network routes, on links that exist only between these
namespaces; before anything is sent, `ip route get` inside ew-nms must show the packet leaving
through our own veth (the network-safety rule). Nothing here touches the root namespace's routes.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "ew-"
NET = ipaddress.ip_network("169.254.0.0/16")


class NetnsError(Exception):
    pass


def sh(*args: str, ns: str | None = None, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, input=input)
    if check and r.returncode != 0:
        raise NetnsError(f"{' '.join(cmd)}: {r.stderr.strip() or r.stdout.strip()}")
    return r


@dataclass
class Agent:
    ns: str
    address: str  # where its snmpd answers, as seen from ew-nms
    veths: list[str] = field(default_factory=list)


@dataclass
class NetnsLab:
    nodes: int = 3
    schools: int = 2
    extra_ifs: int = 0  # dummy interfaces per agent: big IF-MIB tables for load tests
    community: str = "emanwatch-lab"
    v3: tuple[str, str, str] | None = None  # (user, auth password, priv password): SHA + AES
    state: Path = Path("var/lab/netns")
    agents: list[Agent] = field(default_factory=list)
    _link: int = 0

    # ------------------------------------------------------------ addressing

    def _subnet(self) -> tuple[str, str]:
        """The next /30 of link addresses: (left end, right end)."""
        base = int(NET.network_address) + (200 << 8) + 4 * self._link
        self._link += 1
        return str(ipaddress.ip_address(base + 1)), str(ipaddress.ip_address(base + 2))

    def _veth(self, a: str, b: str) -> tuple[str, str, str, str]:
        """A veth pair between namespaces a and b, addressed; returns (if_a, addr_a, if_b, addr_b)."""
        n = self._link
        ia, ib = f"{PREFIX}{n}a", f"{PREFIX}{n}b"
        addr_a, addr_b = self._subnet()
        sh("ip", "link", "add", ia, "type", "veth", "peer", "name", ib)
        sh("ip", "link", "set", ia, "netns", a)
        sh("ip", "link", "set", ib, "netns", b)
        sh("ip", "addr", "add", f"{addr_a}/30", "dev", ia, ns=a)
        sh("ip", "addr", "add", f"{addr_b}/30", "dev", ib, ns=b)
        sh("ip", "link", "set", ia, "up", ns=a)
        sh("ip", "link", "set", ib, "up", ns=b)
        return ia, addr_a, ib, addr_b

    # ------------------------------------------------------------ lifecycle

    @staticmethod
    def available() -> str:
        """'' when this machine can run namespace mode, else why not."""
        if os.geteuid() != 0:
            return "namespace mode needs root"
        for tool in ("ip", "snmpd"):
            if shutil.which(tool) is None:
                return f"{tool} is not installed"
        return ""

    def up(self) -> list[Agent]:
        why = self.available()
        if why:
            raise NetnsError(why)
        self.down()
        self.state.mkdir(parents=True, exist_ok=True)
        names = ["nms"] + [f"rn{i}" for i in range(1, self.nodes + 1)] + [f"sch{k}" for k in range(1, self.schools + 1)]
        for n in names:
            sh("ip", "netns", "add", PREFIX + n)
            sh("ip", "link", "set", "lo", "up", ns=PREFIX + n)
        routes: dict[str, list[tuple[str, str]]] = {PREFIX + n: [] for n in names}  # ns -> [(dest, via)]
        agents: dict[str, Agent] = {}
        # the poller hangs off rn1
        _, nms_addr, ib, rn1_addr = self._veth(PREFIX + "nms", PREFIX + "rn1")
        agents["rn1"] = Agent(PREFIX + "rn1", rn1_addr, [ib])
        # the ring: rn1 - rn2 - ... - rnN - rn1 (the closing link stays as the other direction)
        ring: list[tuple[str, str, str, str]] = []
        for i in range(1, self.nodes + 1):
            j = i % self.nodes + 1
            if self.nodes < 3 and j == 1:
                break
            ia, aa, ib, ab = self._veth(f"{PREFIX}rn{i}", f"{PREFIX}rn{j}")
            ring.append((f"rn{i}", aa, f"rn{j}", ab))
            agents.setdefault(f"rn{i}", Agent(f"{PREFIX}rn{i}", aa)).veths.append(ia)
            agents.setdefault(f"rn{j}", Agent(f"{PREFIX}rn{j}", ab)).veths.append(ib)
        # schools, spread over the ring nodes
        for k in range(1, self.schools + 1):
            node = f"rn{(k - 1) % self.nodes + 1}"
            ia, aa, ib, ab = self._veth(PREFIX + node, f"{PREFIX}sch{k}")
            agents[node].veths.append(ia)
            agents[f"sch{k}"] = Agent(f"{PREFIX}sch{k}", ab, [ib])
            routes[f"{PREFIX}sch{k}"].append(("default", aa))
        # routing: ring nodes forward; everything reaches the poller one way round the ring
        for i in range(1, self.nodes + 1):
            sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=f"{PREFIX}rn{i}")
        self._static_routes(ring, nms_addr, rn1_addr)
        for ns, rts in routes.items():
            for dest, via in rts:
                sh("ip", "route", "add", dest, "via", via, ns=ns)
        self.agents = [agents[n] for n in sorted(agents, key=lambda x: (x[:2] != "rn", x))]
        for a in self.agents:
            # extra ports: veth pairs inside the namespace (no dummy module in containers)
            for x in range((self.extra_ifs + 1) // 2):
                sh("ip", "link", "add", f"p{x}a", "type", "veth", "peer", "name", f"p{x}b", ns=a.ns)
                sh("ip", "link", "set", f"p{x}a", "up", ns=a.ns)
                sh("ip", "link", "set", f"p{x}b", "up", ns=a.ns)
            self._snmpd(a)
        for a in self.agents:
            self.route_check(a.address)
        self._wait_snmpd()
        return self.agents

    def _static_routes(self, ring: list[tuple[str, str, str, str]], nms_addr: str, rn1_addr: str) -> None:
        """Shortest-path routes over the ring for every /30 we made (a small, explicit table)."""
        from collections import deque

        adj: dict[str, list[tuple[str, str]]] = {}  # ns -> [(neighbour ns, neighbour's address)]
        nets: dict[str, set[str]] = {}
        ends: dict[str, tuple[str, str]] = {}  # /30 -> first (ns, address) seen
        for ns in self._namespaces():
            for line in sh("ip", "-4", "-o", "addr", "show", ns=ns).stdout.splitlines():
                parts = line.split()
                if parts[1] == "lo":
                    continue
                iface = ipaddress.ip_interface(parts[3])
                net, addr = str(iface.network), str(iface.ip)
                nets.setdefault(ns, set()).add(net)
                if net in ends:
                    other_ns, other_addr = ends[net]
                    adj.setdefault(ns, []).append((other_ns, other_addr))
                    adj.setdefault(other_ns, []).append((ns, addr))
                else:
                    ends[net] = (ns, addr)
        for src in adj:
            first_hop: dict[str, str] = {}
            seen, queue = {src}, deque([src])
            while queue:
                cur = queue.popleft()
                for nb, via in adj.get(cur, []):
                    if nb not in seen:
                        seen.add(nb)
                        first_hop[nb] = via if cur == src else first_hop[cur]
                        queue.append(nb)
            for dst, via in first_hop.items():
                for net in nets.get(dst, set()) - nets.get(src, set()):
                    sh("ip", "route", "replace", net, "via", via, ns=src)

    def _namespaces(self) -> list[str]:
        out = sh("ip", "netns", "list").stdout
        return [line.split()[0] for line in out.splitlines() if line.startswith(PREFIX)]

    def _snmpd(self, a: Agent) -> None:
        conf = self.state / f"{a.ns}.conf"
        v3 = ""
        if self.v3:
            user, auth, priv = self.v3
            v3 = f'createUser {user} SHA "{auth}" AES "{priv}"\nrouser {user} priv\n'
        conf.write_text(
            f"agentaddress udp:0.0.0.0:161\nrocommunity {self.community} default\n{v3}"
            f"sysName {a.ns.removeprefix(PREFIX)}\nsysLocation emanwatch lab namespace {a.ns}\n"
            f"sysServices 78\ndontLogTCPWrappersConnects yes\n[snmp] persistentDir {self.state / a.ns}\n")
        pidfile = self.state / f"{a.ns}.pid"
        sh("snmpd", "-C", "-c", str(conf), "-p", str(pidfile), "-Lf", str(self.state / f"{a.ns}.log"), ns=a.ns)

    def _wait_snmpd(self, timeout: float = 15) -> None:
        deadline = time.time() + timeout
        pending = list(self.agents)
        while pending and time.time() < deadline:
            a = pending[0]
            r = sh("snmpget", "-v2c", "-c", self.community, "-t", "1", "-r", "0", a.address, "1.3.6.1.2.1.1.5.0",
                   ns=PREFIX + "nms", check=False)
            if r.returncode == 0:
                pending.pop(0)
            else:
                time.sleep(0.2)
        if pending:
            raise NetnsError(f"snmpd did not answer in {', '.join(a.ns for a in pending)}")

    def route_check(self, address: str, ns: str = PREFIX + "nms") -> str:
        """The network-safety rule: from `ns`, `address` must leave through one of our veths."""
        if ipaddress.ip_address(address) not in NET:
            raise NetnsError(f"{address} is outside the lab's link-local range {NET}")
        r = sh("ip", "route", "get", address, ns=ns, check=False)
        if r.returncode != 0:
            raise NetnsError(f"{address}: no route from {ns} ({r.stderr.strip()}): refusing")
        out = r.stdout
        dev = out.split(" dev ", 1)[1].split()[0] if " dev " in out else ""
        if not dev.startswith(PREFIX):
            raise NetnsError(f"{address} would leave through {dev or 'nothing'}, not a lab veth: refusing")
        return dev

    def traffic(self, seconds: float = 5.0, mbit: float = 20.0) -> None:
        """Real packets: every school sends UDP to the poller for `seconds` at about `mbit` Mbit/s."""
        nms = next(line.split()[3].split("/")[0] for line in sh("ip", "-4", "-o", "addr", "show", ns=PREFIX + "nms").stdout.splitlines()
                   if line.split()[1] != "lo")
        senders = [a for a in self.agents if "sch" in a.ns]
        for a in senders:
            self.route_check(nms, ns=a.ns)
        code = (
            "import socket,time,sys\n"
            "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);p=b'x'*1200\n"
            f"end=time.time()+{seconds};gap=1200*8/({mbit}*1e6)\n"
            "while time.time()<end:\n"
            f" s.sendto(p,('{nms}',9));time.sleep(gap)\n"
        )
        procs = [subprocess.Popen(["ip", "netns", "exec", a.ns, sys.executable, "-c", code]) for a in senders]
        for p in procs:
            p.wait(seconds + 10)

    def down(self) -> None:
        for pid in self.state.glob("*.pid") if self.state.exists() else []:
            with contextlib.suppress(ValueError, ProcessLookupError):
                os.kill(int(pid.read_text().strip()), signal.SIGTERM)
            pid.unlink(missing_ok=True)
        for ns in self._namespaces():
            for p in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(p), signal.SIGKILL)
            sh("ip", "netns", "del", ns, check=False)
        self.agents = []
