"""SNMPv3 User-based Security Model (RFC 3414, AES from RFC 3826, SHA-2 from RFC 7860).

Shared by the collector and the lab agent: message framing, key localisation (cached: the
password-to-key step hashes 1 MB), HMAC authentication and AES-128-CFB privacy. DES and the
AES-192/256 key-extension variants are refused with a clear error rather than half done.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

try:  # CFB moved to `decrepit` in cryptography 47; SNMP still needs it (RFC 3826)
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.modes import CFB

from .ber import (
    OCTET_STRING,
    SEQUENCE,
    BERError,
    enc_int,
    read_int,
    read_octets,
    read_seq,
    read_tl,
    tlv,
)

HASHES = {"MD5": hashlib.md5, "SHA": hashlib.sha1, "SHA224": hashlib.sha224, "SHA256": hashlib.sha256,
          "SHA384": hashlib.sha384, "SHA512": hashlib.sha512}
MAC_LEN = {"MD5": 12, "SHA": 12, "SHA224": 16, "SHA256": 24, "SHA384": 32, "SHA512": 48}

FLAG_AUTH, FLAG_PRIV, FLAG_REPORTABLE = 0x01, 0x02, 0x04
USM_MODEL = 3

# usmStats counters, reported back in REPORT PDUs
UNSUPPORTED_SEC_LEVELS = "1.3.6.1.6.3.15.1.1.1.0"
NOT_IN_TIME_WINDOWS = "1.3.6.1.6.3.15.1.1.2.0"
UNKNOWN_USER_NAMES = "1.3.6.1.6.3.15.1.1.3.0"
UNKNOWN_ENGINE_IDS = "1.3.6.1.6.3.15.1.1.4.0"
WRONG_DIGESTS = "1.3.6.1.6.3.15.1.1.5.0"
DECRYPTION_ERRORS = "1.3.6.1.6.3.15.1.1.6.0"


class UsmError(Exception):
    """A security failure: `report` is the usmStats OID an agent reports for it."""

    def __init__(self, message: str, report: str | None = None) -> None:
        super().__init__(message)
        self.report = report


@lru_cache(maxsize=4096)
def password_to_key(password: str, proto: str) -> bytes:
    if proto not in HASHES:
        raise UsmError(f"unsupported auth protocol {proto}")
    if len(password) < 8:
        raise UsmError("SNMPv3 passwords need at least 8 characters")
    h = HASHES[proto]()
    pw = password.encode()
    reps, rest = divmod(1048576, len(pw))
    h.update(pw * reps + pw[:rest])
    return h.digest()


@lru_cache(maxsize=65536)
def localize(password: str, proto: str, engine_id: bytes) -> bytes:
    ku = password_to_key(password, proto)
    return HASHES[proto](ku + engine_id + ku).digest()


@dataclass(frozen=True)
class UsmUser:
    name: str
    auth_proto: str | None = None  # None: noAuthNoPriv
    auth_password: str | None = None
    priv_proto: str | None = None  # "AES" or None
    priv_password: str | None = None

    def __post_init__(self) -> None:
        if self.priv_proto not in (None, "AES"):
            raise UsmError(f"privacy protocol {self.priv_proto} is not supported (use AES)")
        if self.auth_proto is not None and self.auth_proto not in HASHES:
            raise UsmError(f"unsupported auth protocol {self.auth_proto}")

    @property
    def flags(self) -> int:
        return (FLAG_AUTH if self.auth_proto else 0) | (FLAG_PRIV if self.priv_proto else 0)

    def auth_key(self, engine_id: bytes) -> bytes:
        return localize(self.auth_password or "", self.auth_proto or "SHA", engine_id)

    def priv_key(self, engine_id: bytes) -> bytes:
        # the privacy key is localised with the auth hash (RFC 3826 section 1.2)
        return localize(self.priv_password or "", self.auth_proto or "SHA", engine_id)[:16]


def aes_cfb(key: bytes, boots: int, etime: int, salt: bytes, data: bytes, encrypt: bool) -> bytes:
    iv = boots.to_bytes(4, "big") + etime.to_bytes(4, "big") + salt
    c = Cipher(algorithms.AES(key), CFB(iv))
    ctx = c.encryptor() if encrypt else c.decryptor()
    return ctx.update(data) + ctx.finalize()


@dataclass
class V3Message:
    msg_id: int
    max_size: int
    flags: int
    engine_id: bytes
    boots: int
    time: int
    user: bytes
    auth_params: bytes
    priv_params: bytes
    data: bytes  # scopedPDU bytes (plaintext) or the encrypted OCTET STRING body
    raw: bytes
    auth_pos: int  # where auth_params sits in raw, to zero it for HMAC checking


def decode_v3(raw: bytes) -> V3Message:
    s, e = read_seq(raw, 0, len(raw))
    version, p = read_int(raw, s, e)
    if version != 3:
        raise BERError(f"not an SNMPv3 message (version {version})")
    gs, ge = read_seq(raw, p, e)
    msg_id, q = read_int(raw, gs, ge)
    max_size, q = read_int(raw, q, ge)
    flags_b, q = read_octets(raw, q, ge)
    model, q = read_int(raw, q, ge)
    if len(flags_b) != 1 or model != USM_MODEL:
        raise BERError("bad msgFlags or security model")
    tag, ss, se = read_tl(raw, ge, e)
    if tag != OCTET_STRING:
        raise BERError("msgSecurityParameters is not an OCTET STRING")
    us, ue = read_seq(raw, ss, se)
    engine_id, q = read_octets(raw, us, ue)
    boots, q = read_int(raw, q, ue)
    etime, q = read_int(raw, q, ue)
    user, q = read_octets(raw, q, ue)
    tag, as_, ae = read_tl(raw, q, ue)
    if tag != OCTET_STRING:
        raise BERError("msgAuthenticationParameters is not an OCTET STRING")
    priv, q = read_octets(raw, ae, ue)
    tag, ds, de = read_tl(raw, se, e)
    if tag == SEQUENCE:
        data = raw[se:de]  # plaintext scopedPDU, whole TLV
    elif tag == OCTET_STRING:
        data = raw[ds:de]
    else:
        raise BERError("msgData is neither a scopedPDU nor encrypted")
    return V3Message(msg_id, max_size, flags_b[0], engine_id, boots, etime, user, raw[as_:ae], priv, data, raw, as_)


def check_auth(msg: V3Message, user: UsmUser, engine_id: bytes) -> None:
    n = MAC_LEN[user.auth_proto or "SHA"]
    if len(msg.auth_params) != n:
        raise UsmError("authentication parameters of the wrong length", WRONG_DIGESTS)
    zeroed = msg.raw[: msg.auth_pos] + b"\x00" * n + msg.raw[msg.auth_pos + n :]
    want = hmac.new(user.auth_key(engine_id), zeroed, HASHES[user.auth_proto or "SHA"]).digest()[:n]
    if not hmac.compare_digest(want, msg.auth_params):
        raise UsmError("wrong digest (auth password?)", WRONG_DIGESTS)


def scoped_pdu(msg: V3Message, user: UsmUser | None, engine_id: bytes) -> bytes:
    """The plaintext scopedPDU TLV (decrypted when the message is encrypted)."""
    if msg.flags & FLAG_PRIV:
        if user is None or not user.priv_proto:
            raise UsmError("encrypted message for a user without privacy", UNSUPPORTED_SEC_LEVELS)
        if len(msg.priv_params) != 8:
            raise UsmError("bad privacy parameters", DECRYPTION_ERRORS)
        plain = aes_cfb(user.priv_key(engine_id), msg.boots, msg.time, msg.priv_params, msg.data, encrypt=False)
        try:
            _, _, end = read_tl(plain, 0, len(plain))
        except BERError:
            raise UsmError("decryption failed (priv password?)", DECRYPTION_ERRORS) from None
        return plain[:end]
    return msg.data


def split_scoped(scoped: bytes) -> tuple[bytes, bytes, int, int]:
    """scopedPDU -> (contextEngineID, contextName, pdu start, pdu end) within `scoped`."""
    s, e = read_seq(scoped, 0, len(scoped))
    ceid, p = read_octets(scoped, s, e)
    cname, p = read_octets(scoped, p, e)
    return ceid, cname, p, e


def encode_scoped(context_engine_id: bytes, context_name: bytes, pdu: bytes) -> bytes:
    return tlv(SEQUENCE, tlv(OCTET_STRING, context_engine_id) + tlv(OCTET_STRING, context_name) + pdu)


def encode_v3(*, msg_id: int, max_size: int, flags: int, engine_id: bytes, boots: int, etime: int,
              user: UsmUser | None, user_name: bytes, scoped: bytes, salt: bytes = b"") -> bytes:
    """Frame, encrypt and authenticate as `flags` says (user needed for auth/priv)."""
    priv_params = b""
    if flags & FLAG_PRIV:
        assert user is not None
        priv_params = salt
        data = tlv(OCTET_STRING, aes_cfb(user.priv_key(engine_id), boots, etime, salt, scoped, encrypt=True))
    else:
        data = scoped
    n = MAC_LEN[user.auth_proto] if (flags & FLAG_AUTH and user and user.auth_proto) else 0
    sec = tlv(SEQUENCE, tlv(OCTET_STRING, engine_id) + enc_int(boots) + enc_int(etime) + tlv(OCTET_STRING, user_name)
              + tlv(OCTET_STRING, b"\x00" * n) + tlv(OCTET_STRING, priv_params))
    header = tlv(SEQUENCE, enc_int(msg_id) + enc_int(max_size) + tlv(OCTET_STRING, bytes((flags,))) + enc_int(USM_MODEL))
    msg = tlv(SEQUENCE, enc_int(3) + header + tlv(OCTET_STRING, sec) + data)
    if n:
        assert user is not None
        # the auth params are followed only by the privacy params and msgData
        pos = len(msg) - len(data) - len(tlv(OCTET_STRING, priv_params)) - n
        mac = hmac.new(user.auth_key(engine_id), msg, HASHES[user.auth_proto]).digest()[:n]  # type: ignore[index]
        msg = msg[:pos] + mac + msg[pos + n :]
    return msg


def engine_id_for(enterprise: int, text: str) -> bytes:
    """RFC 3411 engine ID, text format: enterprise with the top bit set, format 4, text."""
    return (0x80000000 | enterprise).to_bytes(4, "big") + b"\x04" + text.encode()[:27]

