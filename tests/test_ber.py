"""The BER codec: differential against pysnmp (the reference decoder) and fuzzed.

- random messages built and encoded by pysnmp/pyasn1 decode to the same varbinds with ours, and
  ours decode the same with pysnmp (both directions, every SNMP value type);
- every truncation and a million seeded mutations of real messages end in BERError or a result,
  never another exception and never a hang (each decode is bounded by its input).
"""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api
from pysnmp.proto.rfc1902 import (
    Counter32,
    Counter64,
    Gauge32,
    Integer32,
    IpAddress,
    ObjectIdentifier,
    OctetString,
    TimeTicks,
)

from collectors.snmp import ber

P = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]

arc = st.one_of(st.integers(0, 127), st.integers(128, 16383), st.integers(16384, 2**32 - 1))
oids = st.tuples(st.just(1), st.just(3), st.lists(arc, min_size=1, max_size=12)).map(lambda t: (t[0], t[1], *t[2]))
values = st.one_of(
    st.integers(-(2**31), 2**31 - 1).map(lambda v: (ber.INTEGER, v, Integer32(v))),
    st.binary(max_size=300).map(lambda v: (ber.OCTET_STRING, v, OctetString(v))),
    st.integers(0, 2**32 - 1).map(lambda v: (ber.COUNTER32, v, Counter32(v))),
    st.integers(0, 2**32 - 1).map(lambda v: (ber.GAUGE32, v, Gauge32(v))),
    st.integers(0, 2**32 - 1).map(lambda v: (ber.TIMETICKS, v, TimeTicks(v))),
    st.integers(0, 2**64 - 1).map(lambda v: (ber.COUNTER64, v, Counter64(v))),
    st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: (ber.IPADDRESS, ".".join(map(str, t)), IpAddress(".".join(map(str, t))))),
    oids.map(lambda o: (ber.OID, ".".join(map(str, o)), ObjectIdentifier(o))),
)
varbinds = st.lists(st.tuples(oids, values), max_size=40)


def pysnmp_response(vbs, rid: int = 77, community: bytes = b"c") -> bytes:
    pdu = P.GetResponsePDU()
    P.apiPDU.set_defaults(pdu)
    P.apiPDU.set_request_id(pdu, rid)
    P.apiPDU.set_varbinds(pdu, [(ObjectIdentifier(o), v[2]) for o, v in vbs])
    msg = P.Message()
    P.apiMessage.set_defaults(msg)
    P.apiMessage.set_community(msg, community)
    P.apiMessage.set_pdu(msg, pdu)
    return encoder.encode(msg)


@settings(max_examples=400, deadline=None)
@given(varbinds)
def test_ours_decodes_what_pysnmp_encodes(vbs) -> None:
    data = pysnmp_response(vbs)
    version, community, pdu = ber.decode_v2c(data)
    assert (version, community, pdu.request_id) == (1, b"c", 77)
    assert len(pdu.varbinds) == len(vbs)
    for (oid, tag, value), (want_oid, (want_tag, want_value, _)) in zip(pdu.varbinds, vbs, strict=True):
        assert ber.oid_str(oid) == ".".join(map(str, want_oid))
        assert tag == want_tag
        assert value == want_value


@settings(max_examples=400, deadline=None)
@given(varbinds)
def test_pysnmp_decodes_what_we_encode(vbs) -> None:
    body = b"".join(ber.enc_varbind(ber.oid_body(o), ber.enc_value(v[0], v[1])) for o, v in vbs)
    data = ber.enc_message_v2c(b"c", ber.enc_pdu(ber.RESPONSE, 77, 0, 0, body))
    msg, rest = decoder.decode(data, asn1Spec=P.Message())
    assert rest == b""
    got = P.apiPDU.get_varbinds(P.apiMessage.get_pdu(msg))
    assert len(got) == len(vbs)
    for (oid, value), (want_oid, (_, _, want)) in zip(got, vbs, strict=True):
        assert tuple(oid) == want_oid
        assert value == want and value.tagSet == want.tagSet  # same value, same ASN.1 type tag


@given(st.lists(oids, min_size=2, max_size=30, unique=True))
def test_oid_key_orders_like_the_numbers(os_) -> None:
    assert sorted(os_) == sorted(os_, key=lambda o: ber.oid_key(ber.oid_body(o)))


def _corpus() -> list[bytes]:
    rng = random.Random(5)
    out = []
    for n in (0, 1, 3, 25):
        vbs = []
        for k in range(n):
            o = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6, rng.choice([k, 128 + k, 70000 + k]))
            vbs.append((o, (ber.COUNTER64, 2**40 + k, Counter64(2**40 + k))))
            vbs.append((o[:-2] + (1, k), (ber.OCTET_STRING, b"GigabitEthernet0/0/%d" % k, OctetString(b"GigabitEthernet0/0/%d" % k))))
        out.append(pysnmp_response(vbs, rid=rng.randrange(2**31)))
    return out


def test_every_truncation_is_a_ber_error() -> None:
    for data in _corpus():
        for cut in range(len(data)):
            with pytest.raises(ber.BERError):
                ber.decode_v2c(data[:cut])


@pytest.mark.slow
def test_a_million_mutations_never_crash_or_hang() -> None:
    """Seeded mutation fuzzing of real-shaped messages: flips, inserts, deletes, splices, length
    bytes set to extremes. Only BERError may escape; the whole run is bounded in time."""
    rng = random.Random(2026)
    corpus = _corpus()
    n = 1_000_000
    ok = errors = 0
    t0 = time.perf_counter()
    for i in range(n):
        data = bytearray(rng.choice(corpus))
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            pos = rng.randrange(len(data)) if data else 0
            if op < 0.35 and data:
                data[pos] ^= 1 << rng.randrange(8)
            elif op < 0.55 and data:
                data[pos] = rng.choice((0x00, 0x7F, 0x80, 0x81, 0x82, 0x84, 0x85, 0xFF))
            elif op < 0.7:
                data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
            elif op < 0.85 and data:
                del data[pos:pos + rng.randint(1, 8)]
            else:
                other = rng.choice(corpus)
                j = rng.randrange(len(other))
                data[pos:] = other[j:]
        if i % 10 == 0:
            data = bytearray(rng.randbytes(rng.randint(0, 60)))
        try:
            ber.decode_v2c(bytes(data))
            ok += 1
        except ber.BERError:
            errors += 1
    took = time.perf_counter() - t0
    assert ok + errors == n
    assert errors > n // 2 and ok > 1000  # the mutations reach both outcomes
    assert took < 600
