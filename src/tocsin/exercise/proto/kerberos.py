"""Kerberos 5 KDC exchanges (RFC 4120) as a Windows 10 client and a Windows DC send them.

Message builders return DER (`asn1`): `as_req` (with or without PA-ENC-TIMESTAMP),
`as_rep`, `krb_error` (PREAUTH_REQUIRED with its ETYPE-INFO2 hints, PREAUTH_FAILED,
C_PRINCIPAL_UNKNOWN...), `tgs_req` (PA-TGS-REQ AP-REQ with the TGT) and `tgs_rep` for a
service principal, `ap_req` / `gss_ap_req` / `gss_ap_rep` for SPNEGO (SMB SESSION_SETUP).
Encrypted parts are random bytes of plausible length for their etype; no real key or
password is involved. Times come from `now` (Unix seconds).

Conversations: `exchange(req, rep, tcp=True)` is one request and its answer as `Turn`s (over
TCP each message has RFC 4120 7.2.2's 4-byte length prefix; over UDP one datagram each);
Windows opens one TCP connection per exchange, so `logon`, `kerberoast` and `user_enum`
(kerbrute's AS-REQs answered PREAUTH_REQUIRED or C_PRINCIPAL_UNKNOWN) return a list of
conversations, one per connection (or per UDP exchange). Deterministic for the
`random.Random` given; no I/O.
"""

from __future__ import annotations

import random
import struct

from tocsin.exercise.proto.asn1 import (
    app,
    bits32,
    boolean,
    ctx,
    gstring,
    gtime,
    integer,
    octets,
    oid,
    seq,
)
from tocsin.exercise.wire.turns import CLIENT, SERVER, Turn

AES256, AES128, RC4, RC4_EXP, RC4_OLD = 18, 17, 23, 24, -135
WINDOWS_ETYPES = (AES256, AES128, RC4, RC4_EXP, RC4_OLD)
NT_PRINCIPAL, NT_SRV_INST = 1, 2
PA_TGS_REQ, PA_ENC_TIMESTAMP, PA_PK_AS_REP_OLD, PA_PK_AS_REQ = 1, 2, 15, 16
PA_ETYPE_INFO2, PA_PAC_REQUEST = 19, 128
KDC_ERR_C_PRINCIPAL_UNKNOWN, KDC_ERR_S_PRINCIPAL_UNKNOWN = 6, 7
KDC_ERR_CLIENT_REVOKED, KDC_ERR_PREAUTH_FAILED, KDC_ERR_PREAUTH_REQUIRED = 18, 24, 25
KRB_AP_ERR_SKEW = 37
_TILL = 2136422885.0  # 2037-09-13 02:48:05 UTC: the "till" every Windows client asks for
_AS_OPTIONS = 0x40810010  # forwardable, renewable, canonicalize, renewable-ok
_TGS_OPTIONS = 0x40810000  # forwardable, renewable, canonicalize
_OID_KRB5 = "1.2.840.113554.1.2.2"


def principal(name_type: int, *parts: str) -> bytes:
    return seq(ctx(0, integer(name_type)), ctx(1, seq(*(gstring(p) for p in parts))))


def encrypted(rng: random.Random, etype: int, size: int, kvno: int | None = None) -> bytes:
    """EncryptedData of `size` random cipher bytes."""
    kv = ctx(1, integer(kvno)) if kvno is not None else b""
    return seq(ctx(0, integer(etype)), kv, ctx(2, octets(rng.randbytes(size))))


def pa_data(pa_type: int, value: bytes) -> bytes:
    return seq(ctx(1, integer(pa_type)), ctx(2, octets(value)))


def ticket(rng: random.Random, realm: str, sname: tuple[str, ...], etype: int, kvno: int) -> bytes:
    """A Ticket (its enc-part random: ~1.1 KB, the size of one carrying a Windows PAC)."""
    return app(
        1,
        seq(
            ctx(0, integer(5)),
            ctx(1, gstring(realm)),
            ctx(2, principal(NT_SRV_INST, *sname)),
            ctx(3, encrypted(rng, etype, rng.randrange(1050, 1250), kvno)),
        ),
    )


def ap_req(rng: random.Random, *, realm: str, sname: tuple[str, ...], etype: int = AES256) -> bytes:
    """AP-REQ presenting a ticket for `sname` (mutual authentication required; the
    authenticator and its time are encrypted)."""
    return app(
        14,
        seq(
            ctx(0, integer(5)),
            ctx(1, integer(14)),
            ctx(2, bits32(0x20000000)),
            ctx(3, ticket(rng, realm, sname, etype, rng.randrange(2, 12))),
            ctx(4, encrypted(rng, AES256, rng.randrange(290, 330))),
        ),
    )


def gss_ap_req(rng: random.Random, *, realm: str, sname: tuple[str, ...]) -> bytes:
    """The GSS-API InitialContextToken (RFC 4121) wrapping an AP-REQ, as SPNEGO carries it."""
    token = ap_req(rng, realm=realm, sname=sname)
    return app(0, oid(_OID_KRB5) + b"\x01\x00" + token)


def gss_ap_rep(rng: random.Random) -> bytes:
    """The GSS-API token wrapping the AP-REP of a mutual authentication."""
    rep = app(15, seq(ctx(0, integer(5)), ctx(1, integer(15)), ctx(2, encrypted(rng, AES256, 108))))
    return app(0, oid(_OID_KRB5) + b"\x02\x00" + rep)


def _req_body(
    rng: random.Random,
    options: int,
    cname: str | None,
    realm: str,
    sname: tuple[str, ...],
    etypes: tuple[int, ...],
    host: str | None,
) -> bytes:
    parts = [ctx(0, bits32(options))]
    if cname is not None:
        parts.append(ctx(1, principal(NT_PRINCIPAL, cname)))
    parts += [
        ctx(2, gstring(realm)),
        ctx(3, principal(NT_SRV_INST, *sname)),
        ctx(5, gtime(_TILL)),
    ]
    if cname is not None:
        parts.append(ctx(6, gtime(_TILL)))
    parts += [
        ctx(7, integer(rng.getrandbits(31))),
        ctx(8, seq(*(integer(e) for e in etypes))),
    ]
    if host is not None:  # the client's NetBIOS name, as a HostAddress of type 20
        nb = host.upper()[:15].ljust(16).encode("ascii")
        parts.append(ctx(9, seq(seq(ctx(0, integer(20)), ctx(1, octets(nb))))))
    return seq(*parts)


def as_req(
    rng: random.Random,
    *,
    user: str,
    realm: str,
    host: str,
    preauth: bool,
    etypes: tuple[int, ...] = WINDOWS_ETYPES,
) -> bytes:
    """AS-REQ for a TGT of `user@realm` from `host`; `preauth`: with PA-ENC-TIMESTAMP."""
    padata = []
    if preauth:
        padata.append(pa_data(PA_ENC_TIMESTAMP, encrypted(rng, etypes[0], 56)))
    padata.append(pa_data(PA_PAC_REQUEST, seq(ctx(0, boolean(True)))))
    body = _req_body(rng, _AS_OPTIONS, user, realm, ("krbtgt", realm), etypes, host)
    return app(10, seq(ctx(1, integer(5)), ctx(2, integer(10)), ctx(3, seq(*padata)), ctx(4, body)))


def _etype_info2(realm: str, user: str, etypes: tuple[int, ...]) -> bytes:
    salt = f"{realm.upper()}{user}"
    entries = []
    for e in etypes:
        salted = ctx(1, gstring(salt)) if e in (AES256, AES128) else b""
        entries.append(seq(ctx(0, integer(e)), salted))
    return seq(*entries)


def as_rep(rng: random.Random, *, user: str, realm: str, etype: int = AES256) -> bytes:
    """AS-REP: a TGT (krbtgt/REALM, AES256) and the client part encrypted with `etype`
    (the ticket's times are inside the encrypted parts)."""
    padata = seq(pa_data(PA_ETYPE_INFO2, _etype_info2(realm, user, (etype,))))
    return app(
        11,
        seq(
            ctx(0, integer(5)),
            ctx(1, integer(11)),
            ctx(2, padata),
            ctx(3, gstring(realm)),
            ctx(4, principal(NT_PRINCIPAL, user)),
            ctx(5, ticket(rng, realm, ("krbtgt", realm), AES256, 2)),
            ctx(6, encrypted(rng, etype, rng.randrange(300, 340))),
        ),
    )


def krb_error(
    rng: random.Random,
    *,
    code: int,
    realm: str,
    sname: tuple[str, ...],
    now: float,
    user: str = "",
    named: bool = False,
) -> bytes:
    """KRB-ERROR `code` answering a request of `user` for `sname`. Windows KDCs leave the
    client's realm and name out; `named` fills them (as MIT and Samba KDCs do).
    PREAUTH_REQUIRED and PREAUTH_FAILED carry METHOD-DATA in `e-data`: the ETYPE-INFO2 salts
    (realm + user name), and for PREAUTH_REQUIRED the pre-authentication types accepted."""
    parts = [
        ctx(0, integer(5)),
        ctx(1, integer(30)),
        ctx(4, gtime(now)),
        ctx(5, integer(rng.randrange(1_000_000))),
        ctx(6, integer(code)),
    ]
    if named:
        parts += [ctx(7, gstring(realm)), ctx(8, principal(NT_PRINCIPAL, user))]
    parts += [ctx(9, gstring(realm)), ctx(10, principal(NT_SRV_INST, *sname))]
    if code in (KDC_ERR_PREAUTH_REQUIRED, KDC_ERR_PREAUTH_FAILED):
        methods = [pa_data(PA_ETYPE_INFO2, _etype_info2(realm, user, (AES256, AES128, RC4)))]
        if code == KDC_ERR_PREAUTH_REQUIRED:
            methods += [pa_data(t, b"") for t in (PA_ENC_TIMESTAMP, PA_PK_AS_REQ, PA_PK_AS_REP_OLD)]
        parts.append(ctx(12, octets(seq(*methods))))
    return app(30, seq(*parts))


def tgs_req(
    rng: random.Random,
    *,
    realm: str,
    sname: tuple[str, ...],
    etypes: tuple[int, ...] = WINDOWS_ETYPES,
) -> bytes:
    """TGS-REQ for `sname` (e.g. ("MSSQLSvc", "db01.chu.local:1433")) presenting the TGT.
    Kerberoasting tools ask for `etypes=(RC4,)` alone."""
    tgs = ap_req(rng, realm=realm, sname=("krbtgt", realm))
    pac_options = seq(ctx(0, bits32(0x40000000)))  # branch aware
    padata = seq(pa_data(PA_TGS_REQ, tgs), pa_data(167, pac_options))
    body = _req_body(rng, _TGS_OPTIONS, None, realm, sname, etypes, None)
    return app(12, seq(ctx(1, integer(5)), ctx(2, integer(12)), ctx(3, padata), ctx(4, body)))


def tgs_rep(
    rng: random.Random,
    *,
    user: str,
    realm: str,
    sname: tuple[str, ...],
    ticket_etype: int = AES256,
) -> bytes:
    """TGS-REP: a service ticket for `sname` encrypted with `ticket_etype` (RC4 for an
    account without AES keys, or when the client asked for RC4 only)."""
    return app(
        13,
        seq(
            ctx(0, integer(5)),
            ctx(1, integer(13)),
            ctx(3, gstring(realm)),
            ctx(4, principal(NT_PRINCIPAL, user)),
            ctx(5, ticket(rng, realm, sname, ticket_etype, rng.randrange(2, 8))),
            ctx(6, encrypted(rng, AES256, rng.randrange(250, 300))),
        ),
    )


# ---------------------------------------------------------------------------- conversations
def record(msg: bytes) -> bytes:
    """A message with its TCP record mark (RFC 4120 7.2.2)."""
    return struct.pack(">I", len(msg)) + msg


def exchange(
    req: bytes, rep: bytes, *, tcp: bool = True, delay_s: float = 0.0, kdc_s: float = 0.0008
) -> list[Turn]:
    """One request and its answer, after `delay_s` of client think time; the KDC answers
    after `kdc_s`."""
    if tcp:
        req, rep = record(req), record(rep)
    return [Turn(CLIENT, req, delay_s), Turn(SERVER, rep, kdc_s)]


def logon(
    rng: random.Random,
    *,
    user: str,
    realm: str,
    host: str,
    now: float,
    password_ok: bool = True,
    services: tuple[tuple[str, ...], ...] = (),
    tcp: bool = True,
    named: bool = False,
) -> list[list[Turn]]:
    """A Windows logon: AS-REQ without pre-authentication answered PREAUTH_REQUIRED, AS-REQ
    with PA-ENC-TIMESTAMP answered with a TGT (or PREAUTH_FAILED when not `password_ok`,
    then nothing more; `named`: the error names the client, see `krb_error`), then one TGS
    exchange per service principal in `services`. Over UDP (`tcp=False`) only the failing
    logon fits (a ticket needs TCP): ValueError otherwise. One conversation (TCP
    connection or UDP exchange) per exchange."""
    if not tcp and password_ok:
        raise ValueError("kerberos: an AS-REP does not fit a UDP datagram (Windows uses TCP)")
    realm = realm.upper()
    krbtgt = ("krbtgt", realm)
    convs = [
        exchange(
            as_req(rng, user=user, realm=realm, host=host, preauth=False),
            krb_error(
                rng, code=KDC_ERR_PREAUTH_REQUIRED, realm=realm, sname=krbtgt, now=now, user=user
            ),
            tcp=tcp,
        )
    ]
    second = as_req(rng, user=user, realm=realm, host=host, preauth=True)
    if not password_ok:
        err = krb_error(
            rng, code=KDC_ERR_PREAUTH_FAILED, realm=realm, sname=krbtgt, now=now, user=user,
            named=named,
        )  # fmt: skip
        return [*convs, exchange(second, err, tcp=tcp, delay_s=0.002)]
    convs.append(exchange(second, as_rep(rng, user=user, realm=realm), tcp=tcp))
    for sname in services:
        req = tgs_req(rng, realm=realm, sname=sname)
        rep = tgs_rep(rng, user=user, realm=realm, sname=sname)
        convs.append(exchange(req, rep, tcp=tcp, delay_s=0.003))
    return convs


def kerberoast(
    rng: random.Random,
    *,
    user: str,
    realm: str,
    spns: tuple[tuple[str, ...], ...],
    tcp: bool = True,
) -> list[list[Turn]]:
    """Kerberoasting (Rubeus, GetUserSPNs): one TGS-REQ per service principal asking for
    RC4 only, each answered with an RC4 service ticket. The TGT is assumed held."""
    realm = realm.upper()
    out = []
    for sname in spns:
        req = tgs_req(rng, realm=realm, sname=sname, etypes=(RC4,))
        rep = tgs_rep(rng, user=user, realm=realm, sname=sname, ticket_etype=RC4)
        out.append(exchange(req, rep, tcp=tcp, delay_s=rng.uniform(0.01, 0.05)))
    return out


def user_enum(
    rng: random.Random,
    *,
    users: tuple[str, ...],
    known: frozenset[str],
    realm: str,
    host: str,
    now: float,
    tcp: bool = False,
) -> list[list[Turn]]:
    """User enumeration (kerbrute userenum): one AS-REQ without pre-authentication per name,
    answered PREAUTH_REQUIRED for the accounts in `known`, C_PRINCIPAL_UNKNOWN otherwise.
    Over UDP by default, as the tool sends it."""
    realm = realm.upper()
    out = []
    for user in users:
        code = KDC_ERR_PREAUTH_REQUIRED if user in known else KDC_ERR_C_PRINCIPAL_UNKNOWN
        req = as_req(rng, user=user, realm=realm, host=host, preauth=False)
        err = krb_error(rng, code=code, realm=realm, sname=("krbtgt", realm), now=now, user=user)
        out.append(exchange(req, err, tcp=tcp, delay_s=rng.uniform(0.005, 0.02)))
    return out
