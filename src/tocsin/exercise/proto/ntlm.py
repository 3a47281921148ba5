"""NTLMSSP messages (MS-NLMP 2.2.1) and the SPNEGO tokens (RFC 4178) that carry them.

`negotiate()`, `challenge(...)` and `authenticate(...)` build the three NTLMSSP messages of
a Windows 10 client and a Windows Server 2019 domain controller: extended session security,
a VERSION field, target information AV pairs with a timestamp, and an NTLMv2 response of
valid structure (NTProofStr, client challenge, the server's AV pairs plus MsvAvFlags,
MsvAvSingleHost, MsvAvChannelBindings, MsvAvTargetName) whose proofs and keys are random
bytes: nothing here is a real credential. `spnego_*` wrap tokens as Windows does (the
negTokenInit2 of an SMB2 NEGOTIATE response, a client's negTokenInit, negTokenResp).

Pure functions of their arguments and the `random.Random` they are given.
"""

from __future__ import annotations

import random
import struct
from functools import cache

from tocsin.exercise.proto import asn1

SIGNATURE = b"NTLMSSP\x00"
OID_SPNEGO = "1.3.6.1.5.5.2"
OID_NTLMSSP = "1.3.6.1.4.1.311.2.2.10"
OID_MS_KRB5 = "1.2.840.48018.1.2.2"
OID_KRB5 = "1.2.840.113554.1.2.2"
OID_KRB5_U2U = "1.2.840.113554.1.2.2.3"
OID_NEGOEX = "1.3.6.1.4.1.311.2.2.30"

CLIENT_FLAGS = 0xE2088297  # Windows 10 NEGOTIATE: 56, key exchange, 128, version, ESS...
SERVER_FLAGS = 0xE2898215  # CHALLENGE: + target info, target type domain
AUTH_FLAGS = 0xE2888215
WIN10 = (10, 0, 19041)
WIN2019 = (10, 0, 17763)
FT_EPOCH = 116_444_736_000_000_000  # FILETIME (100 ns since 1601) of 1970-01-01

# AV pair ids (MS-NLMP 2.2.2.1)
AV_EOL, AV_NB_COMPUTER, AV_NB_DOMAIN, AV_DNS_COMPUTER, AV_DNS_DOMAIN = 0, 1, 2, 3, 4
AV_DNS_TREE, AV_FLAGS, AV_TIMESTAMP, AV_SINGLE_HOST, AV_TARGET_NAME = 5, 6, 7, 8, 9
AV_CHANNEL_BINDINGS = 10


def filetime(unix_s: float) -> int:
    return FT_EPOCH + int(unix_s * 10_000_000)


def _version(v: tuple[int, int, int]) -> bytes:
    return struct.pack("<BBH3xB", v[0], v[1], v[2], 15)


def _u16(s: str) -> bytes:
    return s.encode("utf-16-le")


def av(av_id: int, value: bytes) -> bytes:
    return struct.pack("<HH", av_id, len(value)) + value


def target_info(nb_domain: str, nb_computer: str, dns_domain: str, now: float) -> bytes:
    """The AV pairs a domain member server sends in its CHALLENGE (EOL included)."""
    fqdn = f"{nb_computer.lower()}.{dns_domain}"
    return b"".join(
        (
            av(AV_NB_DOMAIN, _u16(nb_domain.upper())),
            av(AV_NB_COMPUTER, _u16(nb_computer.upper())),
            av(AV_DNS_DOMAIN, _u16(dns_domain)),
            av(AV_DNS_COMPUTER, _u16(fqdn)),
            av(AV_DNS_TREE, _u16(dns_domain)),
            av(AV_TIMESTAMP, struct.pack("<Q", filetime(now))),
            av(AV_EOL, b""),
        )
    )


def negotiate(version: tuple[int, int, int] = WIN10) -> bytes:
    """NEGOTIATE_MESSAGE: no domain or workstation supplied (as Windows sends it)."""
    return SIGNATURE + struct.pack("<II8x8x", 1, CLIENT_FLAGS) + _version(version)


def challenge(
    rng: random.Random,
    *,
    nb_domain: str,
    nb_computer: str,
    dns_domain: str,
    now: float,
    version: tuple[int, int, int] = WIN2019,
) -> bytes:
    """CHALLENGE_MESSAGE from `nb_computer`, member of `nb_domain` / `dns_domain`."""
    name = _u16(nb_domain.upper())
    info = target_info(nb_domain, nb_computer, dns_domain, now)
    head = 56
    return b"".join(
        (
            SIGNATURE,
            struct.pack("<IHHI", 2, len(name), len(name), head),
            struct.pack("<I", SERVER_FLAGS),
            rng.randbytes(8),  # ServerChallenge
            bytes(8),
            struct.pack("<HHI", len(info), len(info), head + len(name)),
            _version(version),
            name,
            info,
        )
    )


def challenge_target_info(msg: bytes) -> bytes:
    """The TargetInfo AV pairs of a CHALLENGE_MESSAGE built by `challenge`."""
    ln, _, off = struct.unpack_from("<HHI", msg, 40)
    return msg[off : off + ln]


def _strip_eol(info: bytes) -> bytes:
    """AV pairs without their terminating MsvAvEOL."""
    pos, out = 0, []
    while pos + 4 <= len(info):
        av_id, ln = struct.unpack_from("<HH", info, pos)
        if av_id == AV_EOL:
            break
        out.append(info[pos : pos + 4 + ln])
        pos += 4 + ln
    return b"".join(out)


def ntlmv2_response(rng: random.Random, server_info: bytes, spn: str, now: float) -> bytes:
    """NTLMv2_RESPONSE: a random NTProofStr, then NTLMv2_CLIENT_CHALLENGE with the server's
    AV pairs plus the client's (MIC present flag, single host, channel bindings, SPN)."""
    pairs = b"".join(
        (
            _strip_eol(server_info),
            av(AV_FLAGS, struct.pack("<I", 2)),  # the MIC field is filled
            av(AV_SINGLE_HOST, struct.pack("<II", 48, 0) + bytes(8) + rng.randbytes(32)),
            av(AV_CHANNEL_BINDINGS, bytes(16)),
            av(AV_TARGET_NAME, _u16(spn)),
            av(AV_EOL, b""),
        )
    )
    client = struct.pack("<BB6xQ", 1, 1, filetime(now)) + rng.randbytes(8) + bytes(4)
    return rng.randbytes(16) + client + pairs + bytes(4)


def authenticate(
    rng: random.Random,
    *,
    domain: str,
    user: str,
    workstation: str,
    server_info: bytes,
    spn: str,
    now: float,
    version: tuple[int, int, int] = WIN10,
) -> bytes:
    """AUTHENTICATE_MESSAGE of `domain\\user` on `workstation` (NTLMv2, MIC, session key)."""
    dom, usr, ws = _u16(domain), _u16(user), _u16(workstation.upper())
    lm = bytes(24)  # NTLMv2 with a server timestamp: LmChallengeResponse is Z(24)
    items = (lm, ntlmv2_response(rng, server_info, spn, now), dom, usr, ws, rng.randbytes(16))
    order = (2, 3, 4, 0, 1, 5)  # payload as Windows lays it out: domain, user, host, LM, NT, key
    offs, off = [0] * 6, 88
    for i in order:
        offs[i] = off
        off += len(items[i])
    return b"".join(
        (
            SIGNATURE,
            struct.pack("<I", 3),
            *(struct.pack("<HHI", len(items[i]), len(items[i]), offs[i]) for i in range(6)),
            struct.pack("<I", AUTH_FLAGS),
            _version(version),
            rng.randbytes(16),  # MIC
            *(items[i] for i in order),
        )
    )


# ---------------------------------------------------------------------------------- SPNEGO
@cache
def spnego_hints() -> bytes:
    """The negTokenInit2 a Windows server puts in its SMB2 NEGOTIATE response (constant)."""
    mechs = asn1.seq(
        *(asn1.oid(o) for o in (OID_NEGOEX, OID_MS_KRB5, OID_KRB5, OID_KRB5_U2U, OID_NTLMSSP))
    )
    hints = asn1.seq(asn1.ctx(0, asn1.gstring("not_defined_in_RFC4178@please_ignore")))
    body = asn1.seq(asn1.ctx(0, mechs), asn1.ctx(3, hints))
    return asn1.app(0, asn1.oid(OID_SPNEGO) + asn1.ctx(0, body))


def spnego_init(mechs: tuple[str, ...], token: bytes) -> bytes:
    """A client's first token: negTokenInit with `mechs` and the optimistic `token`."""
    mech_types = asn1.ctx(0, asn1.seq(*(asn1.oid(o) for o in mechs)))
    body = asn1.seq(mech_types, asn1.ctx(2, asn1.octets(token)))
    return asn1.app(0, asn1.oid(OID_SPNEGO) + asn1.ctx(0, body))


ACCEPT_COMPLETED, ACCEPT_INCOMPLETE, REJECT = 0, 1, 2


def spnego_resp(
    state: int | None = None,
    mech: str | None = None,
    token: bytes | None = None,
    mic: bytes | None = None,
) -> bytes:
    """negTokenResp with the fields given (state: ACCEPT_COMPLETED, ACCEPT_INCOMPLETE...)."""
    parts = []
    if state is not None:
        parts.append(asn1.ctx(0, asn1.enumerated(state)))
    if mech is not None:
        parts.append(asn1.ctx(1, asn1.oid(mech)))
    if token is not None:
        parts.append(asn1.ctx(2, asn1.octets(token)))
    if mic is not None:
        parts.append(asn1.ctx(3, asn1.octets(mic)))
    return asn1.tlv(0xA1, asn1.seq(*parts))


def ntlm_mic(rng: random.Random) -> bytes:
    """An NTLMSSP message signature (version 1, 8-byte checksum, sequence number 0)."""
    return struct.pack("<I", 1) + rng.randbytes(8) + bytes(4)
