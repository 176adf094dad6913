"""Active probes: ICMP sweeps of every management address, and service checks (TCP, DNS, HTTP).

ICMP: one raw socket, probes sent in a paced burst and replies matched by (id, sequence), many in
flight at once, so the whole district (5,000+ addresses) is swept in a few seconds. scapy crafts
the echo request (one template per sweep; each probe stamps its sequence number and scapy's
checksum into it: building 5,000 scapy packets costs ~3 s) and dissects anything that is not a
plain echo reply; echo replies, the hot path, are read with struct. Each target gets COUNT probes:
loss ratio and RTT.

Network safety: a target outside 127.0.0.0/8 is refused unless config probes.allowed_ranges names
its range explicitly; nothing is ever sent to an address that was not checked first.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import ICMP, IP
from scapy.packet import Raw
from scapy.utils import checksum

from .result import PollResult, Sample

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


class ProbeRefused(ValueError):
    pass


def check_targets(addresses: Iterable[str], allowed: Iterable[ipaddress.IPv4Network] = ()) -> list[str]:
    """The network-safety rule, before any packet: loopback, or a range the config allows."""
    ranges = [LOOPBACK, *allowed]
    out = []
    for a in addresses:
        ip = ipaddress.ip_address(a)
        if not any(ip in r for r in ranges):
            raise ProbeRefused(f"{a} is outside 127.0.0.0/8 and the allowed probe ranges; refusing to send to it")
        out.append(a)
    return out


@dataclass
class IcmpStats:
    target: str
    sent: int = 0
    received: int = 0
    rtts: list[float] = field(default_factory=list)

    @property
    def loss(self) -> float:
        return 1.0 - self.received / self.sent if self.sent else 1.0

    @property
    def rtt(self) -> float | None:
        return sum(self.rtts) / len(self.rtts) if self.rtts else None


class EchoTemplate:
    """An echo request built once by scapy; probes differ only in sequence number and checksum."""

    def __init__(self, ident: int, payload: bytes = b"emanwatch-probe") -> None:
        # the kernel adds the IP header on an IPPROTO_ICMP raw socket
        self.base = bytearray(bytes(ICMP(type=8, id=ident, seq=0) / Raw(payload)))

    def packet(self, seq: int) -> bytes:
        b = self.base
        b[6:8] = seq.to_bytes(2, "big")
        b[2:4] = b"\x00\x00"
        b[2:4] = checksum(bytes(b)).to_bytes(2, "big")
        return bytes(b)


def sweep(targets: list[str], count: int = 1, timeout: float = 1.0, rate: float = 20_000.0,
          allowed: Iterable[ipaddress.IPv4Network] = ()) -> dict[str, IcmpStats]:
    """Ping every target `count` times from one raw socket; needs root (CAP_NET_RAW)."""
    targets = check_targets(targets, allowed)
    stats = {t: IcmpStats(t) for t in targets}
    ident = os.getpid() & 0xFFFF
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.setblocking(False)
    index = {}  # seq -> (target, sent at)
    # craft one request per (target, round) with scapy; seq numbers are unique within the sweep
    packets = []
    seq = 0
    tmpl = EchoTemplate(ident)
    for _ in range(count):
        for t in targets:
            seq = (seq + 1) & 0xFFFF
            packets.append((t, seq, tmpl.packet(seq)))
    gap = 1.0 / rate
    try:
        next_send = time.perf_counter()
        i = 0
        deadline = None
        while True:
            now = time.perf_counter()
            batch = 0
            while i < len(packets) and now >= next_send and batch < 32:  # small batches: replies get read promptly
                batch += 1
                t, s, pkt = packets[i]
                try:
                    sock.sendto(pkt, (t, 0))
                    stats[t].sent += 1
                    index[s] = (t, time.perf_counter())
                except OSError:  # dropped locally (an iptables DROP, no route): a lost probe
                    stats[t].sent += 1
                i += 1
                next_send += gap
                now = time.perf_counter()
            if i >= len(packets) and deadline is None:
                deadline = time.perf_counter() + timeout
            if deadline is not None and time.perf_counter() >= deadline:
                break
            _drain(sock, ident, index, stats)
            if i >= len(packets):
                if not index:
                    break  # every probe answered (or refused)
                time.sleep(0.0005)
    finally:
        sock.close()
    return stats


def _drain(sock: socket.socket, ident: int, index: dict, stats: dict[str, IcmpStats]) -> None:
    while True:
        try:
            data, src = sock.recvfrom(2048)
        except (BlockingIOError, InterruptedError):
            return
        got = time.perf_counter()
        ihl = (data[0] & 0x0F) * 4
        if len(data) < ihl + 8:
            continue
        icmp_type, _, _, rid, rseq = struct.unpack_from("!BBHHH", data, ihl)
        if icmp_type in (3, 11):  # unreachable, time exceeded: scapy dissects the quoted probe
            other = IP(data).getlayer(ICMP)
            if other is not None:
                _unreachable(other, ident, index, stats)
            continue
        if icmp_type != 0:
            continue  # on loopback a raw socket also sees our own echo requests
        if rid != ident:
            continue
        entry = index.pop(rseq, None)
        if entry is None or entry[0] != src[0]:
            continue
        st = stats[entry[0]]
        st.received += 1
        st.rtts.append(got - entry[1])


def _unreachable(icmp, ident: int, index: dict, stats: dict[str, IcmpStats]) -> None:  # noqa: ANN001
    """An ICMP error quoting one of our probes: the probe is answered, negatively (no RTT)."""
    inner = icmp.payload.getlayer(ICMP) if icmp.payload is not None else None
    if inner is not None and inner.id == ident:
        index.pop(inner.seq, None)


def icmp_results(stats: dict[str, IcmpStats], names: dict[str, str], labels: dict[str, tuple], started: float,
                 duration: float) -> list[PollResult]:
    """One PollResult per device (collector "icmp"): reachability is data like any other poll."""
    out = []
    for addr, st in stats.items():
        name = names.get(addr, addr)
        base = labels.get(name, (("device", name),))
        up = 1.0 if st.received else 0.0
        samples = [Sample("emanwatch_probe_icmp_up", base, up), Sample("emanwatch_probe_icmp_loss_ratio", base, st.loss)]
        if st.rtt is not None:
            samples.append(Sample("emanwatch_probe_icmp_rtt_seconds", base, st.rtt))
        out.append(PollResult(device=name, collector="icmp", ok=bool(st.received), started=started, duration=duration,
                              samples=samples, reason="" if st.received else "icmp-timeout",
                              error="" if st.received else f"{name}: no echo reply from {addr} ({st.sent} sent)"))
    return out


# ---------------------------------------------------------------- service checks


async def check_tcp(host: str, port: int, timeout: float) -> tuple[bool, float, str]:
    t0 = time.perf_counter()
    try:
        _, w = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        w.close()
        return True, time.perf_counter() - t0, ""
    except (OSError, TimeoutError) as e:
        return False, time.perf_counter() - t0, f"tcp {host}:{port}: {e.__class__.__name__}"


async def check_dns(server: str, name: str, timeout: float, port: int = 53) -> tuple[bool, float, str]:
    """A DNS query crafted and parsed with scapy; ok when the answer has at least one record."""
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()
    q = DNS(id=int.from_bytes(os.urandom(2), "big"), rd=1, qd=DNSQR(qname=name))
    fut: asyncio.Future = loop.create_future()

    class P(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr) -> None:  # noqa: ANN001
            if not fut.done():
                fut.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(P, remote_addr=(server, port))
    try:
        transport.sendto(bytes(q))
        data = await asyncio.wait_for(fut, timeout)
        ans = DNS(data)
        if ans.id != q.id:
            return False, time.perf_counter() - t0, "dns: reply id mismatch"
        if ans.rcode != 0 or not ans.ancount:
            return False, time.perf_counter() - t0, f"dns {name}@{server}: rcode {ans.rcode}, {ans.ancount} answers"
        return True, time.perf_counter() - t0, ""
    except TimeoutError:
        return False, time.perf_counter() - t0, f"dns {name}@{server}: timeout"
    finally:
        transport.close()


async def check_http(url: str, timeout: float, expect: int = 200) -> tuple[bool, float, str]:
    import httpx

    t0 = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=timeout) as c:
            r = await c.get(url)
        ok = r.status_code == expect
        return ok, time.perf_counter() - t0, "" if ok else f"http {url}: status {r.status_code}"
    except httpx.HTTPError as e:
        return False, time.perf_counter() - t0, f"http {url}: {e.__class__.__name__}"
