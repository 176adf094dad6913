"""Helpers for the lab tests: a private lab on spare ports, SNMP and ICMP probes."""

from __future__ import annotations

import os
import socket
import struct
import time
from pathlib import Path

from collectors.snmp import ber

from .conftest import REPO

SNMP_PORT = 10161
SSH_PORT = 10022
CONTROL = "127.0.0.1:19820"


def lab_config(tmp: Path, time_factor: float = 1.0) -> Path:
    """The repository config, with the lab on spare ports and state in `tmp` (a demo lab can keep running)."""
    from lab.client import private_config

    return private_config(REPO / "config.yaml", tmp, snmp_port=SNMP_PORT, ssh_port=SSH_PORT, control=CONTROL,
                          time_factor=time_factor)


def snmp_get(addr: str, oids: list[str], community: str, timeout: float = 2.0, port: int = SNMP_PORT,
             raw: bool = False) -> list[tuple[str, int, object]] | bytes | None:
    """A v2c GET with the project's codec; None on timeout. raw=True returns the datagram."""
    vbs = b"".join(ber.enc_varbind(ber.oid_body(o), ber.NULL_TLV) for o in oids)
    rid = int.from_bytes(os.urandom(3), "big")
    msg = ber.enc_message_v2c(community.encode(), ber.enc_pdu(ber.GET, rid, 0, 0, vbs))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(msg, (addr, port))
        data, _ = s.recvfrom(65535)
    except TimeoutError:
        return None
    finally:
        s.close()
    if raw:
        return data
    _, _, pdu = ber.decode_v2c(data)
    return [(ber.oid_str(o), t, v) for o, t, v in pdu.varbinds]


def ping(addr: str, timeout: float = 1.0) -> bool:
    """One ICMP echo over a raw socket (needs root); True if a reply came back."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(timeout)
    ident = os.getpid() & 0xFFFF
    payload = b"emanwatch-test"

    def csum(b: bytes) -> int:
        b += b"\0" * (len(b) % 2)
        t = sum(struct.unpack(f"!{len(b) // 2}H", b))
        t = (t >> 16) + (t & 0xFFFF)
        t += t >> 16
        return ~t & 0xFFFF

    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
    pkt = struct.pack("!BBHHH", 8, 0, csum(hdr + payload), ident, 1) + payload
    deadline = time.time() + timeout
    try:
        s.sendto(pkt, (addr, 0))
        while time.time() < deadline:
            data, src = s.recvfrom(2048)
            ihl = (data[0] & 0x0F) * 4
            if src[0] == addr and data[ihl] == 0 and struct.unpack("!H", data[ihl + 4:ihl + 6])[0] == ident:
                return True
    except (TimeoutError, PermissionError):
        return False
    finally:
        s.close()
    return False


def prom_query(cfg, q: str) -> list[dict]:
    """An instant PromQL query against the test's Prometheus (cfg.listen.prometheus)."""
    import httpx

    r = httpx.get(f"http://{cfg.listen.prometheus}/api/v1/query", params={"query": q}, timeout=10)
    r.raise_for_status()
    return r.json()["data"]["result"]
