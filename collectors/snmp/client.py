"""The SNMP client: one UDP socket, many requests in flight, v2c and v3 USM.

Every request is a future keyed by request id (v2c) or msgID (v3, the same number here); replies are
decoded once with the project's BER codec and handed to the waiting walk. A device that does not
answer costs its own timeouts only: nothing here blocks another device.

Walks fetch several columns per GETBULK (the columns of one table advance together), stop each
column at its end, on endOfMibView or on an OID that does not increase, and halve
max-repetitions on tooBig.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from dataclasses import dataclass, field
from typing import Any

from emanwatch.config import ResolvedSnmpAuth

from . import ber
from .usm import (
    FLAG_AUTH,
    FLAG_PRIV,
    FLAG_REPORTABLE,
    NOT_IN_TIME_WINDOWS,
    UNKNOWN_ENGINE_IDS,
    UsmError,
    UsmUser,
    check_auth,
    decode_v3,
    encode_scoped,
    encode_v3,
    scoped_pdu,
    split_scoped,
)

Varbind = tuple[bytes, int, Any]  # (oid body, tag, value)


class SnmpError(Exception):
    """A failed poll step: `reason` is short and machine-readable (timeout, auth, decode, ...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class Target:
    address: str
    auth: ResolvedSnmpAuth
    port: int = 161
    timeout: float = 2.0
    retries: int = 1
    max_repetitions: int = 25
    # v3 engine state, learned by discovery and kept between polls
    engine_id: bytes = b""
    boots: int = 0
    time_base: float = 0.0  # agent's engine time minus our monotonic clock
    user: UsmUser | None = field(default=None, repr=False)
    stats: dict[str, int] = field(default_factory=lambda: {"requests": 0, "retries": 0, "varbinds": 0})

    def __post_init__(self) -> None:
        a = self.auth
        if a.version == "3":
            level = a.security_level
            self.user = UsmUser(a.username or "", a.auth_protocol if level != "noAuthNoPriv" else None, a.auth_password,
                                a.priv_protocol if level == "authPriv" else None, a.priv_password)

    @property
    def addr(self) -> tuple[str, int]:
        return (self.address, self.port)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, engine: SnmpEngine) -> None:
        self.engine = engine

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.engine._received(data, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP unreachable etc.: the timeout will tell
        pass


class SnmpEngine:
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, tuple[asyncio.Future, tuple[str, int]]] = {}
        self._ids = itertools.count(int.from_bytes(os.urandom(2), "big") + 1)
        self.late = 0  # replies after their request gave up (slow agents)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), local_addr=("0.0.0.0", 0))
        sock = self.transport.get_extra_info("socket")
        import socket

        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)

    def close(self) -> None:
        if self.transport:
            self.transport.close()
        for fut, _ in self.pending.values():
            if not fut.done():
                fut.cancel()
        self.pending.clear()

    def _next_id(self) -> int:
        return next(self._ids) & 0x7FFFFFFF or 1

    def _received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            rid = _request_id(data)
        except ber.BERError:
            return  # garbage: the request it answers will time out (and say so)
        entry = self.pending.get(rid)
        if entry is None:
            self.late += 1
            return
        fut, want = entry
        if addr[0] != want[0] or fut.done():
            return
        fut.set_result(data)

    async def _exchange(self, target: Target, build, rid: int) -> bytes:  # noqa: ANN001
        """Send, wait, retry; the datagram that came back (still encoded)."""
        loop = asyncio.get_running_loop()
        for attempt in range(target.retries + 1):
            fut = loop.create_future()
            self.pending[rid] = (fut, target.addr)
            try:
                assert self.transport is not None
                self.transport.sendto(build(), target.addr)
                target.stats["requests"] += 1
                if attempt:
                    target.stats["retries"] += 1
                return await asyncio.wait_for(fut, target.timeout)
            except TimeoutError:
                continue
            finally:
                self.pending.pop(rid, None)
        raise SnmpError("timeout", f"no reply from {target.address}:{target.port} after {target.retries + 1} tries of {target.timeout:g}s")

    # ------------------------------------------------------------ one request

    async def request(self, target: Target, tag: int, oids: list[bytes], nonrep: int = 0, maxrep: int = 0) -> ber.PDU:
        vbs = b"".join(ber.enc_varbind(o, ber.NULL_TLV) for o in oids)
        if target.auth.version != "3":
            rid = self._next_id()
            community = (target.auth.community or "").encode()
            msg = ber.enc_message_v2c(community, ber.enc_pdu(tag, rid, nonrep, maxrep, vbs))
            data = await self._exchange(target, lambda: msg, rid)
            try:
                _, _, pdu = ber.decode_v2c(data)
            except ber.BERError as e:
                raise SnmpError("decode", f"{target.address}: malformed reply: {e}") from None
        else:
            pdu = await self._request_v3(target, tag, vbs, nonrep, maxrep)
        if pdu.error_status and tag != ber.GETBULK or (tag == ber.GETBULK and pdu.error_status == ber.TOO_BIG):
            if pdu.error_status == ber.TOO_BIG:
                raise SnmpError("tooBig", f"{target.address}: reply too big")
            raise SnmpError("error-status", f"{target.address}: error-status {pdu.error_status} at index {pdu.error_index}")
        target.stats["varbinds"] += len(pdu.varbinds)
        return pdu

    async def _discover(self, target: Target) -> None:
        """RFC 3414 engine discovery: an empty request answered by a report with the engine's id and clock."""
        rid = self._next_id()
        scoped = encode_scoped(b"", b"", ber.enc_pdu(ber.GET, rid, 0, 0, b""))
        msg = encode_v3(msg_id=rid, max_size=65507, flags=FLAG_REPORTABLE, engine_id=b"", boots=0, etime=0,
                        user=None, user_name=b"", scoped=scoped)
        data = await self._exchange(target, lambda: msg, rid)
        try:
            m = decode_v3(data)
        except ber.BERError as e:
            raise SnmpError("decode", f"{target.address}: malformed discovery reply: {e}") from None
        if not m.engine_id:
            raise SnmpError("auth", f"{target.address}: engine discovery returned no engine ID")
        target.engine_id, target.boots = m.engine_id, m.boots
        target.time_base = m.time - time.monotonic()

    async def _request_v3(self, target: Target, tag: int, vbs: bytes, nonrep: int, maxrep: int) -> ber.PDU:
        user = target.user
        assert user is not None
        if not target.engine_id:
            await self._discover(target)
        for _ in range(2):  # a second go after a time-window or engine report
            rid = self._next_id()
            scoped = encode_scoped(target.engine_id, target.auth.context.encode(), ber.enc_pdu(tag, rid, nonrep, maxrep, vbs))

            def build(rid: int = rid, scoped: bytes = scoped) -> bytes:
                return encode_v3(msg_id=rid, max_size=65507, flags=user.flags | FLAG_REPORTABLE, engine_id=target.engine_id,
                                 boots=target.boots, etime=max(0, int(time.monotonic() + target.time_base)), user=user,
                                 user_name=user.name.encode(), scoped=scoped, salt=os.urandom(8))

            data = await self._exchange(target, build, rid)
            try:
                m = decode_v3(data)
                if m.flags & FLAG_AUTH:
                    check_auth(m, user, target.engine_id)
                plain = scoped_pdu(m, user if m.flags & FLAG_PRIV else None, target.engine_id)
                _, _, ps, pe = split_scoped(plain)
                pdu = ber.decode_pdu(plain, ps, pe)
            except ber.BERError as e:
                raise SnmpError("decode", f"{target.address}: malformed v3 reply: {e}") from None
            except UsmError as e:
                raise SnmpError("auth", f"{target.address}: {e}") from None
            if pdu.tag != ber.REPORT:
                return pdu
            oid = ber.oid_str(pdu.varbinds[0][0]) if pdu.varbinds else ""
            if oid in (NOT_IN_TIME_WINDOWS, UNKNOWN_ENGINE_IDS):
                target.engine_id, target.boots = m.engine_id, m.boots  # the agent restarted or the clock drifted
                target.time_base = m.time - time.monotonic()
                continue
            raise SnmpError("auth", f"{target.address}: agent reports {REPORT_NAMES.get(oid, oid)}")
        raise SnmpError("auth", f"{target.address}: could not get into the agent's time window")

    # ------------------------------------------------------------ walks

    async def get(self, target: Target, oids: list[str]) -> dict[str, tuple[int, Any]]:
        pdu = await self.request(target, ber.GET, [ber.oid_body(o) for o in oids])
        return {ber.oid_str(o): (t, v) for o, t, v in pdu.varbinds}

    async def walk(self, target: Target, columns: list[str]) -> dict[str, list[Varbind]]:
        """GETBULK several columns together; {column: [(oid body, tag, value)]} in OID order."""
        roots = [ber.oid_body(c) for c in columns]
        out: dict[str, list[Varbind]] = {c: [] for c in columns}
        cur = list(roots)
        live = list(range(len(roots)))
        maxrep = target.max_repetitions
        while live:
            try:
                # keep a reply near 400 varbinds however many columns walk together
                reps = max(1, min(maxrep, 400 // len(live)))
                pdu = await self.request(target, ber.GETBULK, [cur[i] for i in live], 0, reps)
            except SnmpError as e:
                if e.reason == "tooBig" and maxrep > 1:
                    maxrep //= 2
                    continue
                raise
            vbs = pdu.varbinds
            n = len(live)
            if not vbs:
                break
            still = []
            for j, i in enumerate(live):
                root = roots[i]
                last = cur[i]
                ended = False
                col = out[columns[i]]
                for oid, tag, value in vbs[j::n]:
                    if tag == ber.END_OF_MIB_VIEW or not oid.startswith(root):
                        ended = True
                        break
                    # bytes order is OID order except across sub-identifier lengths: check
                    # exactly only when the bytes say "not after" (a loop still always ends)
                    if oid <= last and not ber.oid_after(oid, last):
                        raise SnmpError("oid-not-increasing", f"{target.address}: {ber.oid_str(oid)} after {ber.oid_str(last)}")
                    col.append((oid, tag, value))
                    last = oid
                cur[i] = last
                if not ended:
                    still.append(i)
            live = still
        return out


REPORT_NAMES = {
    "1.3.6.1.6.3.15.1.1.1.0": "unsupported security level", "1.3.6.1.6.3.15.1.1.2.0": "not in time window",
    "1.3.6.1.6.3.15.1.1.3.0": "unknown user name", "1.3.6.1.6.3.15.1.1.4.0": "unknown engine ID",
    "1.3.6.1.6.3.15.1.1.5.0": "wrong digest (auth password?)", "1.3.6.1.6.3.15.1.1.6.0": "decryption error (priv password?)",
}


def _request_id(data: bytes) -> int:
    """The request id (v1/v2c) or msgID (v3) of a datagram, without decoding the varbinds."""
    s, e = ber.read_seq(data, 0, len(data))
    version, p = ber.read_int(data, s, e)
    if version == 3:
        gs, ge = ber.read_seq(data, p, e)
        msg_id, _ = ber.read_int(data, gs, ge)
        return msg_id
    _, p = ber.read_octets(data, p, e)
    tag, ps, pe = ber.read_tl(data, p, e)
    rid, _ = ber.read_int(data, ps, pe)
    return rid
