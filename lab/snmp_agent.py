"""The lab's SNMP agents: one UDP socket per device address (127.x:161), real BER, v2c and v3.

One thread, one epoll loop over all sockets. Every agent answers the lab community (v2c) and the
lab's v3 user (authPriv SHA + AES, engine discovery, time window) and serves its device's tree.
Faults act here: a down device stays silent, a slow one answers after a delay, a broken one
sends garbage or a cut datagram, a drifted one also accepts `public`.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import os
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field

from collectors.snmp import ber
from collectors.snmp.ber import (
    END_OF_MIB_VIEW,
    GET,
    GETBULK,
    GETNEXT,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    REPORT,
    RESPONSE,
    BERError,
    enc_message_v2c,
    enc_pdu,
    enc_uint,
    enc_varbind,
    oid_body,
)
from collectors.snmp.usm import (
    FLAG_AUTH,
    FLAG_PRIV,
    FLAG_REPORTABLE,
    NOT_IN_TIME_WINDOWS,
    UNKNOWN_ENGINE_IDS,
    UNKNOWN_USER_NAMES,
    UNSUPPORTED_SEC_LEVELS,
    UsmError,
    UsmUser,
    check_auth,
    decode_v3,
    encode_scoped,
    encode_v3,
    scoped_pdu,
    split_scoped,
)

from .model import LabDevice, LabDistrict
from .snmp_tree import build

log = logging.getLogger("emanwatch.lab.snmp")
MAX_RESPONSE = 65000  # bytes; GETBULK answers are cut to fit, as agents do
MAX_BULK_VARBINDS = 2048
TIME_WINDOW = 150


@dataclass
class AgentStats:
    requests: int = 0
    varbinds: int = 0
    dropped: int = 0
    bad_community: int = 0
    usm: dict[str, int] = field(default_factory=dict)


class SnmpLab:
    """Serve every lab device's agent. start() binds and runs a thread; stop() closes."""

    def __init__(self, district: LabDistrict, community: str, v3_user: UsmUser | None, port: int = 161,
                 addresses: list[str] | None = None) -> None:
        self.district = district
        self.community = community.encode()
        self.v3_user = v3_user
        self.port = port
        self.addresses = addresses
        self.stats = AgentStats()
        self.sel = selectors.DefaultSelector()
        self.socks: dict[int, tuple[socket.socket, LabDevice]] = {}
        self.delayed: list[tuple[float, int, socket.socket, bytes, tuple]] = []
        self._seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = os.pipe()

    # ------------------------------------------------------------ lifecycle

    def bind(self) -> None:
        devices = self.district.devices.values()
        if self.addresses is not None:
            wanted = set(self.addresses)
            devices = [d for d in devices if d.address in wanted]
        for ld in devices:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            try:
                s.bind((ld.address, self.port))
            except OSError as e:
                s.close()
                self.close()
                raise OSError(f"lab agent for {ld.name}: cannot bind {ld.address}:{self.port}: {e.strerror}") from None
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ, ld)
            self.socks[s.fileno()] = (s, ld)
        self.sel.register(self._wake_r, selectors.EVENT_READ, None)

    def start(self) -> None:
        if not self.socks:
            self.bind()
        self._thread = threading.Thread(target=self.serve, name="lab-snmp", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        os.write(self._wake_w, b"x")
        if self._thread:
            self._thread.join(5)
        self.close()

    def close(self) -> None:
        for s, _ in self.socks.values():
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(s)
            s.close()
        self.socks.clear()

    def serve(self) -> None:
        while not self._stop.is_set():
            timeout = 0.5
            if self.delayed:
                timeout = max(0.0, min(timeout, self.delayed[0][0] - time.time()))
            for key, _ in self.sel.select(timeout):
                ld = key.data
                if ld is None:
                    os.read(self._wake_r, 64)
                    continue
                sock = key.fileobj
                for _ in range(64):  # drain, bounded so one busy agent cannot starve the rest
                    try:
                        data, addr = sock.recvfrom(65535)  # type: ignore[union-attr]
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    self._handle(sock, ld, data, addr)  # type: ignore[arg-type]
            now = time.time()
            while self.delayed and self.delayed[0][0] <= now:
                _, _, sock, out, addr = heapq.heappop(self.delayed)
                with contextlib.suppress(OSError):
                    sock.sendto(out, addr)

    # ------------------------------------------------------------ requests

    def _handle(self, sock: socket.socket, ld: LabDevice, data: bytes, addr: tuple) -> None:
        d = self.district
        if ld.name in d.unreachable:  # down, or cut off from the centre by a fault upstream
            self.stats.dropped += 1
            return
        self.stats.requests += 1
        try:
            version = ber.message_version(data)
            with d.lock:
                out = self._v3(ld, data) if version == 3 else self._v2c(ld, data)
        except (BERError, UsmError) as e:
            log.debug("%s: bad request from %s: %s", ld.name, addr, e)
            self.stats.dropped += 1
            return
        if out is None:
            return
        if d.fault_on("malformed", ld.name):
            out = b"\x30\x82\xff\xff" + out[4:40] + b"\xa2\x05garbage"
        elif d.fault_on("truncated", ld.name):
            out = out[: max(8, len(out) // 2)]
        slow = [f for f in d.faults_of("slow-agent") if f["target"] == ld.name]
        if slow:
            self._seq += 1
            heapq.heappush(self.delayed, (time.time() + float(slow[0].get("seconds", 5)), self._seq, sock, out, addr))
            return
        try:
            sock.sendto(out, addr)
        except OSError as e:
            log.debug("%s: send to %s failed: %s", ld.name, addr, e)

    def _communities(self, ld: LabDevice) -> set[bytes]:
        ok = {self.community}
        if any(f["target"] == ld.name and f.get("drift") == "public-community" for f in self.district.faults_of("config-drift")):
            ok.add(b"public")
        return ok

    def _v2c(self, ld: LabDevice, data: bytes) -> bytes | None:
        version, community, pdu = ber.decode_v2c(data)
        if community not in self._communities(ld):
            self.stats.bad_community += 1
            return None  # agents stay silent on a wrong community
        if version == 0 and pdu.tag == GETBULK:
            return None
        vbs, status, index = self._answer(ld, pdu, MAX_RESPONSE)
        return enc_message_v2c(community, enc_pdu(RESPONSE, pdu.request_id, status, index, b"".join(vbs)), version)

    def _answer(self, ld: LabDevice, pdu: ber.PDU, limit: int) -> tuple[list[bytes], int, int]:
        if ld.tree is None:
            ld.tree = build(ld)
        tree = ld.tree
        now = time.time()
        keys, vals = tree.keys, tree.vals
        nkeys = len(keys)
        out: list[bytes] = []
        size = 0

        def value(i: int) -> bytes:
            v = vals[i]
            return v if isinstance(v, bytes) else v(now)

        if pdu.tag == GET:
            for oid, _, _ in pdu.varbinds:
                i = tree.index.get(oid)
                if i is not None:
                    out.append(enc_varbind(oid, value(i)))
                else:
                    # noSuchInstance when the column exists (something lives under the parent OID)
                    parent = _parent(oid)
                    j = tree.next_index(parent)
                    known = j < nkeys and keys[j].startswith(parent)
                    out.append(enc_varbind(oid, bytes((NO_SUCH_INSTANCE if known else NO_SUCH_OBJECT, 0))))
            self.stats.varbinds += len(out)
            vb = b"".join(out)
            if len(vb) > limit:
                return [], ber.TOO_BIG, 0
            return out, 0, 0
        if pdu.tag == GETNEXT:
            for oid, _, _ in pdu.varbinds:
                i = tree.next_index(oid)
                out.append(enc_varbind(keys[i], value(i)) if i < nkeys else enc_varbind(oid, bytes((END_OF_MIB_VIEW, 0))))
            self.stats.varbinds += len(out)
            return out, 0, 0
        if pdu.tag == GETBULK:
            nonrep = max(0, min(pdu.error_status, len(pdu.varbinds)))
            maxrep = max(0, pdu.error_index)
            for oid, _, _ in pdu.varbinds[:nonrep]:
                i = tree.next_index(oid)
                out.append(enc_varbind(keys[i], value(i)) if i < nkeys else enc_varbind(oid, bytes((END_OF_MIB_VIEW, 0))))
            reps = pdu.varbinds[nonrep:]
            pos = [tree.next_index(oid) for oid, _, _ in reps]
            last = [oid for oid, _, _ in reps]
            size = sum(len(x) for x in out)
            budget = MAX_BULK_VARBINDS
            for _ in range(maxrep if reps else 0):
                row = []
                for j, p in enumerate(pos):
                    if p < nkeys:
                        row.append(enc_varbind(keys[p], value(p)))
                        last[j] = keys[p]
                        pos[j] = p + 1
                    else:
                        row.append(enc_varbind(last[j], bytes((END_OF_MIB_VIEW, 0))))
                rs = sum(len(x) for x in row)
                if size + rs > limit or len(out) + len(row) > budget:
                    break
                out.extend(row)
                size += rs
                if all(p >= nkeys for p in pos):
                    break  # every column ran off the end: one row of endOfMibView says so
            self.stats.varbinds += len(out)
            return out, 0, 0
        return [], ber.GEN_ERR, 0  # SET and friends: the lab is read-only

    # ------------------------------------------------------------ SNMPv3

    def _v3(self, ld: LabDevice, data: bytes) -> bytes | None:
        msg = decode_v3(data)
        engine_id = ld.engine_id
        now = time.time()
        etime = int(now - ld.boot_time)
        user = self.v3_user

        def report(oid: str, authenticated: bool) -> bytes | None:
            if not msg.flags & FLAG_REPORTABLE:
                return None
            n = self.stats.usm[oid] = self.stats.usm.get(oid, 0) + 1
            vb = enc_varbind(oid_body(oid), enc_uint(ber.COUNTER32, n))
            scoped = encode_scoped(engine_id, b"", enc_pdu(REPORT, 0, 0, 0, vb))
            flags = FLAG_AUTH if authenticated and user and user.auth_proto else 0
            return encode_v3(msg_id=msg.msg_id, max_size=65507, flags=flags, engine_id=engine_id, boots=ld.boots,
                             etime=etime, user=user if flags else None, user_name=msg.user if flags else b"", scoped=scoped)

        if msg.engine_id != engine_id:
            return report(UNKNOWN_ENGINE_IDS, False)
        if user is None or msg.user != user.name.encode():
            return report(UNKNOWN_USER_NAMES, False)
        if (msg.flags & (FLAG_AUTH | FLAG_PRIV)) != user.flags:
            return report(UNSUPPORTED_SEC_LEVELS, False)
        try:
            if user.auth_proto:
                check_auth(msg, user, engine_id)
                if msg.boots != ld.boots or abs(msg.time - etime) > TIME_WINDOW:
                    return report(NOT_IN_TIME_WINDOWS, True)
            scoped = scoped_pdu(msg, user, engine_id)
        except UsmError as e:
            return report(e.report, False) if e.report else None
        _, cname, ps, pe = split_scoped(scoped)
        pdu = ber.decode_pdu(scoped, ps, pe)
        limit = max(484, min(msg.max_size, MAX_RESPONSE)) - 200
        vbs, status, index = self._answer(ld, pdu, limit)
        scoped_out = encode_scoped(engine_id, cname, enc_pdu(RESPONSE, pdu.request_id, status, index, b"".join(vbs)))
        return encode_v3(msg_id=msg.msg_id, max_size=65507, flags=msg.flags & (FLAG_AUTH | FLAG_PRIV), engine_id=engine_id,
                         boots=ld.boots, etime=etime, user=user, user_name=msg.user, scoped=scoped_out,
                         salt=os.urandom(8))


def _parent(oid: bytes) -> bytes:
    """The OID body without its last sub-identifier."""
    i = len(oid) - 1
    while i > 0 and oid[i - 1] & 0x80:
        i -= 1
    return oid[:i]
