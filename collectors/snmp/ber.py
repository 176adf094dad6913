"""A minimal BER codec for SNMP messages: the measured hot path.

pyasn1 (behind pysnmp) decodes ~2.5k varbinds per CPU-second here; this module does the handful of
ASN.1 shapes SNMP uses with bytes slicing and int.from_bytes. OIDs stay in their encoded form
(`bytes`, the BER body without tag and length): prefix checks are a `startswith` and equality is
byte equality. Byte order is NOT OID order once sub-identifiers of different encoded lengths meet
(65548 = 84 80 0C sorts before 1678 = 8D 0E), so ordering goes through oid_key().

Every malformed input raises BERError (a ValueError) and nothing else: the fuzz tests hold it to
that. pysnmp stays the reference decoder in the differential tests.
"""

from __future__ import annotations

from functools import lru_cache

# universal and SNMP application tags
INTEGER, OCTET_STRING, NULL, OID, SEQUENCE = 0x02, 0x04, 0x05, 0x06, 0x30
IPADDRESS, COUNTER32, GAUGE32, TIMETICKS, OPAQUE, COUNTER64, UINTEGER32 = 0x40, 0x41, 0x42, 0x43, 0x44, 0x46, 0x47
NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW = 0x80, 0x81, 0x82
EXCEPTIONS = frozenset((NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW))
UNSIGNED = frozenset((COUNTER32, GAUGE32, TIMETICKS, COUNTER64, UINTEGER32))

# PDU tags
GET, GETNEXT, RESPONSE, SET, TRAP_V1, GETBULK, INFORM, TRAP, REPORT = 0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8
PDU_TAGS = frozenset((GET, GETNEXT, RESPONSE, SET, GETBULK, INFORM, TRAP, REPORT))

# error-status
NO_ERROR, TOO_BIG, NO_SUCH_NAME, BAD_VALUE, GEN_ERR = 0, 1, 2, 3, 5

TYPE_NAMES = {
    INTEGER: "INTEGER", OCTET_STRING: "OCTET STRING", NULL: "NULL", OID: "OBJECT IDENTIFIER", IPADDRESS: "IpAddress",
    COUNTER32: "Counter32", GAUGE32: "Gauge32", TIMETICKS: "TimeTicks", OPAQUE: "Opaque", COUNTER64: "Counter64",
    UINTEGER32: "UInteger32", NO_SUCH_OBJECT: "noSuchObject", NO_SUCH_INSTANCE: "noSuchInstance",
    END_OF_MIB_VIEW: "endOfMibView",
}


class BERError(ValueError):
    pass


# ---------------------------------------------------------------- encoding


def enc_len(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(b),)) + b


def tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    return bytes((tag,)) + enc_len(n) + body


def enc_int(v: int) -> bytes:
    return tlv(INTEGER, v.to_bytes((v + (v < 0)).bit_length() // 8 + 1, "big", signed=True))


def enc_uint(tag: int, v: int) -> bytes:
    """Counter32 / Gauge32 / TimeTicks / Counter64: unsigned, minimal, a leading 0 if the top bit is set."""
    return tlv(tag, v.to_bytes(v.bit_length() // 8 + 1, "big"))


def enc_str(v: bytes | str) -> bytes:
    return tlv(OCTET_STRING, v.encode() if isinstance(v, str) else v)


def enc_ip(v: str) -> bytes:
    return tlv(IPADDRESS, bytes(int(x) for x in v.split(".")))


@lru_cache(maxsize=65536)
def oid_body(oid: str | tuple[int, ...]) -> bytes:
    """'1.3.6.1.2.1.1.1.0' -> the BER body of the OID (cached: OIDs repeat)."""
    arcs = tuple(int(x) for x in oid.strip(".").split(".")) if isinstance(oid, str) else oid
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39) or min(arcs) < 0:
        raise BERError(f"invalid OID {oid!r}")
    return index_body((arcs[0] * 40 + arcs[1], *arcs[2:]))  # the first two arcs share one sub-identifier


def enc_oid(oid: str | tuple[int, ...] | bytes) -> bytes:
    return tlv(OID, oid if isinstance(oid, bytes) else oid_body(oid))


NULL_TLV = b"\x05\x00"


def enc_value(tag: int, value: object) -> bytes:
    if tag == INTEGER:
        return enc_int(value)  # type: ignore[arg-type]
    if tag in UNSIGNED:
        return enc_uint(tag, value)  # type: ignore[arg-type]
    if tag == OCTET_STRING:
        return enc_str(value)  # type: ignore[arg-type]
    if tag == OID:
        return enc_oid(value)  # type: ignore[arg-type]
    if tag == IPADDRESS:
        return enc_ip(value)  # type: ignore[arg-type]
    if tag in (NULL, *EXCEPTIONS):
        return bytes((tag, 0))
    if tag == OPAQUE:
        return tlv(OPAQUE, value)  # type: ignore[arg-type]
    raise BERError(f"cannot encode tag 0x{tag:02x}")


def enc_varbind(oid: bytes, value_tlv: bytes) -> bytes:
    """oid: the OID body; value_tlv: an encoded value (enc_value / NULL_TLV)."""
    return tlv(SEQUENCE, tlv(OID, oid) + value_tlv)


def enc_pdu(tag: int, request_id: int, error_status: int, error_index: int, varbinds: bytes) -> bytes:
    """varbinds: the concatenated encoded varbinds (see enc_varbind)."""
    return tlv(tag, enc_int(request_id) + enc_int(error_status) + enc_int(error_index) + tlv(SEQUENCE, varbinds))


def enc_message_v2c(community: bytes, pdu: bytes, version: int = 1) -> bytes:
    return tlv(SEQUENCE, enc_int(version) + tlv(OCTET_STRING, community) + pdu)


# ---------------------------------------------------------------- decoding


def read_tl(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """-> (tag, body start, body end). Bounds-checked against `end`."""
    if pos + 2 > end:
        raise BERError("truncated: no room for tag and length")
    tag = data[pos]
    n = data[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or pos + k > end:
            raise BERError("bad length")
        n = int.from_bytes(data[pos : pos + k], "big")
        pos += k
    if pos + n > end:
        raise BERError(f"truncated: tag 0x{tag:02x} wants {n} bytes, {end - pos} left")
    return tag, pos, pos + n


def read_int(data: bytes, pos: int, end: int) -> tuple[int, int]:
    tag, s, e = read_tl(data, pos, end)
    if tag != INTEGER or e == s or e - s > 9:
        raise BERError(f"expected INTEGER, got tag 0x{tag:02x} ({e - s} bytes)")
    return int.from_bytes(data[s:e], "big", signed=True), e


def read_octets(data: bytes, pos: int, end: int) -> tuple[bytes, int]:
    tag, s, e = read_tl(data, pos, end)
    if tag != OCTET_STRING:
        raise BERError(f"expected OCTET STRING, got tag 0x{tag:02x}")
    return data[s:e], e


def read_seq(data: bytes, pos: int, end: int) -> tuple[int, int]:
    tag, s, e = read_tl(data, pos, end)
    if tag != SEQUENCE:
        raise BERError(f"expected SEQUENCE, got tag 0x{tag:02x}")
    return s, e


def decode_value(tag: int, body: bytes) -> object:
    if tag == INTEGER:
        if not body or len(body) > 9:
            raise BERError("bad INTEGER length")
        return int.from_bytes(body, "big", signed=True)
    if tag in UNSIGNED:
        if not body or len(body) > 9:
            raise BERError(f"bad {TYPE_NAMES[tag]} length")
        return int.from_bytes(body, "big")
    if tag in (OCTET_STRING, OPAQUE):
        return body
    if tag == OID:
        return oid_str(body)
    if tag == IPADDRESS:
        if len(body) != 4:
            raise BERError("IpAddress must be 4 bytes")
        return ".".join(str(b) for b in body)
    if tag == NULL or tag in EXCEPTIONS:
        return None
    raise BERError(f"unknown value tag 0x{tag:02x}")


def decode_varbinds(data: bytes, pos: int, end: int) -> list[tuple[bytes, int, object]]:
    """The varbind list: [(oid body, value tag, value)]; pos/end delimit the SEQUENCE OF.

    The hot path: short-form lengths are parsed inline (one varbind is three TLVs); anything
    else goes through read_tl, which checks every bound."""
    out = []
    append = out.append
    try:
        while pos < end:
            if data[pos] != SEQUENCE:
                raise BERError(f"expected varbind SEQUENCE, got 0x{data[pos]:02x}")
            n = data[pos + 1]
            if n < 0x80:
                s, vb_end = pos + 2, pos + 2 + n
                if vb_end > end:
                    raise BERError("truncated varbind")
            else:
                _, s, vb_end = read_tl(data, pos, end)
            if data[s] != OID:
                raise BERError("varbind name is not an OID")
            n = data[s + 1]
            if n < 0x80 and n:
                os_, oe = s + 2, s + 2 + n
                if oe > vb_end:
                    raise BERError("truncated OID")
            else:
                tag, os_, oe = read_tl(data, s, vb_end)
                if oe == os_:
                    raise BERError("empty OID")
            vtag = data[oe]
            n = data[oe + 1]
            if n < 0x80:
                vs, ve = oe + 2, oe + 2 + n
            else:
                vtag, vs, ve = read_tl(data, oe, vb_end)
            if ve != vb_end:
                raise BERError("varbind length does not match its contents")
            if vtag == OCTET_STRING:
                value: object = data[vs:ve]
            elif vtag in UNSIGNED:
                if ve == vs or ve - vs > 9:
                    raise BERError("bad unsigned length")
                value = int.from_bytes(data[vs:ve], "big")
            else:
                value = decode_value(vtag, data[vs:ve])
            append((data[os_:oe], vtag, value))
            pos = vb_end
    except IndexError:
        raise BERError("truncated varbind list") from None
    return out


class PDU:
    __slots__ = ("tag", "request_id", "error_status", "error_index", "varbinds")

    def __init__(self, tag: int, request_id: int, error_status: int, error_index: int, varbinds: list) -> None:
        self.tag = tag
        self.request_id = request_id
        self.error_status = error_status  # non_repeaters for GETBULK
        self.error_index = error_index  # max_repetitions for GETBULK
        self.varbinds = varbinds


def decode_pdu(data: bytes, pos: int, end: int) -> PDU:
    tag, s, e = read_tl(data, pos, end)
    if tag not in PDU_TAGS:
        raise BERError(f"unknown PDU tag 0x{tag:02x}")
    rid, p = read_int(data, s, e)
    es, p = read_int(data, p, e)
    ei, p = read_int(data, p, e)
    vs, ve = read_seq(data, p, e)
    if ve != e:
        raise BERError("trailing bytes after varbind list")
    return PDU(tag, rid, es, ei, decode_varbinds(data, vs, ve))


def decode_v2c(data: bytes) -> tuple[int, bytes, PDU]:
    """A community-based message -> (version, community, pdu)."""
    s, e = read_seq(data, 0, len(data))
    version, p = read_int(data, s, e)
    if version not in (0, 1):
        raise BERError(f"not a v1/v2c message (version {version})")
    community, p = read_octets(data, p, e)
    return version, community, decode_pdu(data, p, e)


def message_version(data: bytes) -> int:
    s, e = read_seq(data, 0, len(data))
    v, _ = read_int(data, s, e)
    return v


# ---------------------------------------------------------------- OID helpers


def oid_str(body: bytes) -> str:
    if not body:
        raise BERError("empty OID")
    arcs = []
    v = 0
    for i, b in enumerate(body):
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            if not arcs:
                first = min(v // 40, 2)
                arcs.append(first)
                arcs.append(v - 40 * first)
            else:
                arcs.append(v)
            v = 0
        elif i == len(body) - 1:
            raise BERError("OID ends inside a sub-identifier")
    return ".".join(map(str, arcs))


def oid_arcs(body: bytes) -> tuple[int, ...]:
    return tuple(int(x) for x in oid_str(body).split("."))


def oid_key(body: bytes) -> tuple[int, ...]:
    """A sort key in true OID order: the sub-identifiers as encoded (first two arcs folded)."""
    out = []
    v = 0
    for b in body:
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            out.append(v)
            v = 0
    return tuple(out)


def oid_after(a: bytes, b: bytes) -> bool:
    """True if OID `a` comes after OID `b`, exactly."""
    return oid_key(a) > oid_key(b)


def index_arcs(oid: bytes, prefix: bytes) -> tuple[int, ...]:
    """The index part of a column OID after `prefix` (both bodies), as arcs."""
    out = []
    v = 0
    for b in oid[len(prefix) :]:
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            out.append(v)
            v = 0
    return tuple(out)


def index_body(arcs: tuple[int, ...]) -> bytes:
    """Sub-identifiers (no first-two-arcs folding) encoded, to append to an OID body."""
    out = bytearray()
    for a in arcs:
        if a < 0x80:
            out.append(a)
        else:
            chunk = []
            while a:
                chunk.append((a & 0x7F) | 0x80)
                a >>= 7
            chunk[0] &= 0x7F
            out.extend(reversed(chunk))
    return bytes(out)
