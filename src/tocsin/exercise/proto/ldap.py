"""LDAPv3 messages (RFC 4511, BER) for generated traffic: what a Windows client says to its DC.

Message builders (each returns one whole LDAPMessage):

- `search_request(msg_id, base, filter, attributes, scope)`: `filter` is the RFC 4515
  string form (`(objectClass=*)`, `(&(objectCategory=person)(sAMAccountName=jdupont))`,
  `(|...)`, `(!...)`, substrings `cn=Dup*`, `>=`, `<=`, `~=`, `\\2a` escapes), encoded by
  `encode_filter`;
- `search_entry(msg_id, dn, attributes)` and `search_done(msg_id, result)`;
- `bind_request(msg_id, dn, password)` (simple bind), `sasl_bind_request(msg_id, mechanism,
  credentials)` (GSS-SPNEGO, GSSAPI: the credentials are the caller's opaque token),
  `bind_response(msg_id, result, diagnostic)`;
- `unbind(msg_id)`.

`session(rng, ...)` gives a client's conversation with a DC on TCP 389: the rootDSE read
(`(objectClass=*)`, base scope, the attributes a domain member asks for) and its entry, a
simple bind (a failed one answers invalidCredentials with Active Directory's diagnostic
text), then, after a successful bind, a user search and its entry, and an unbind. That is
how line-of-business applications and appliances (scan-to-folder printers, PACS, HR tools)
query AD. Windows itself binds with GSS-SPNEGO and signs/seals everything after the bind:
`sasl_bind_request` builds such a bind around the caller's Kerberos token, but no wrapped
traffic is built here. Values (DNs, SIDs) are synthetic: a user's SID is derived from the
domain and user names (the same in every session), the password from `rng`. The rootDSE
and user-search exchanges are cached per (domain, DC) and (domain, user).

Lengths are definite and minimal (DER-style); tshark's LDAP dissector reads every field.
Errors: `ValueError` for a filter that does not parse.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence

from tocsin.exercise.proto.x509 import tlv
from tocsin.exercise.wire.turns import Turn, client, server

BASE, ONE_LEVEL, SUBTREE = 0, 1, 2
SUCCESS, NO_SUCH_OBJECT, INVALID_CREDENTIALS = 0, 32, 49
# AD's text for a wrong password (data 52e), as it sends it, NUL included
AD_BAD_PASSWORD = (
    "80090308: LdapErr: DSID-0C090569, comment: AcceptSecurityContext error, data 52e, v4563\x00"
)
_ROOTDSE_ATTRS = (
    "subschemaSubentry", "dsServiceName", "namingContexts", "defaultNamingContext",
    "schemaNamingContext", "configurationNamingContext", "rootDomainNamingContext",
    "supportedControl", "supportedLDAPVersion", "supportedLDAPPolicies",
    "supportedSASLMechanisms", "dnsHostName", "ldapServiceName", "serverName",
    "supportedCapabilities",
)  # fmt: skip
_USER_ATTRS = ("distinguishedName", "sAMAccountName", "userPrincipalName", "objectSid",
               "memberOf", "userAccountControl", "displayName")  # fmt: skip


def _int(tag: int, value: int) -> bytes:
    return tlv(tag, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def _os(value: str | bytes, tag: int = 0x04) -> bytes:
    return tlv(tag, value.encode() if isinstance(value, str) else value)


def _message(msg_id: int, op: bytes) -> bytes:
    return tlv(0x30, _int(0x02, msg_id) + op)


def _unescape(value: str) -> bytes:
    raw = value.encode()
    if b"\\" not in raw:
        return raw
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 0x5C:
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


def _item(item: str) -> bytes:
    for op, tag in ((">=", 0xA5), ("<=", 0xA6), ("~=", 0xA8)):
        if op in item:
            attr, value = item.split(op, 1)
            return tlv(tag, _os(attr) + _os(_unescape(value)))
    attr, sep, value = item.partition("=")
    if not sep or not attr:
        raise ValueError(f"LDAP filter item {item!r} has no attribute=value")
    if value == "*":
        return _os(attr, 0x87)
    if "*" not in value:
        return tlv(0xA3, _os(attr) + _os(_unescape(value)))
    pieces = value.split("*")
    subs = []
    if pieces[0]:
        subs.append(_os(_unescape(pieces[0]), 0x80))
    subs.extend(_os(_unescape(p), 0x81) for p in pieces[1:-1] if p)
    if pieces[-1]:
        subs.append(_os(_unescape(pieces[-1]), 0x82))
    return tlv(0xA4, _os(attr) + tlv(0x30, b"".join(subs)))


def _filter(s: str, i: int) -> tuple[bytes, int]:
    if i >= len(s) or s[i] != "(":
        raise ValueError(f"LDAP filter {s!r}: '(' expected at {i}")
    i += 1
    if i < len(s) and s[i] in "&|":
        tag = 0xA0 if s[i] == "&" else 0xA1
        i += 1
        parts = []
        while i < len(s) and s[i] == "(":
            node, i = _filter(s, i)
            parts.append(node)
        node = tlv(tag, b"".join(parts))
    elif i < len(s) and s[i] == "!":
        inner, i = _filter(s, i + 1)
        node = tlv(0xA2, inner)
    else:
        end = s.find(")", i)
        if end < 0:
            raise ValueError(f"LDAP filter {s!r}: ')' missing")
        return _item(s[i:end]), end + 1
    if i >= len(s) or s[i] != ")":
        raise ValueError(f"LDAP filter {s!r}: ')' expected at {i}")
    return node, i + 1


@functools.lru_cache(maxsize=4096)
def encode_filter(text: str) -> bytes:
    """The BER Filter of an RFC 4515 filter string (cached: filters repeat)."""
    node, end = _filter(text, 0)
    if end != len(text):
        raise ValueError(f"LDAP filter {text!r}: trailing characters")
    return node


def search_request(
    msg_id: int,
    base: str,
    filter: str = "(objectClass=*)",
    attributes: Sequence[str] = (),
    scope: int = BASE,
    *,
    size_limit: int = 0,
    time_limit: int = 0,
) -> bytes:
    body = b"".join(
        (
            _os(base),
            _int(0x0A, scope),
            _int(0x0A, 0),  # derefAliases: never
            _int(0x02, size_limit),
            _int(0x02, time_limit),
            b"\x01\x01\x00",  # typesOnly FALSE
            encode_filter(filter),
            tlv(0x30, b"".join(_os(a) for a in attributes)),
        )
    )
    return _message(msg_id, tlv(0x63, body))


def search_entry(
    msg_id: int, dn: str, attributes: Sequence[tuple[str, Sequence[str | bytes]]]
) -> bytes:
    attrs = b"".join(
        tlv(0x30, _os(name) + tlv(0x31, b"".join(_os(v) for v in values)))
        for name, values in attributes
    )
    return _message(msg_id, tlv(0x64, _os(dn) + tlv(0x30, attrs)))


def _result(result: int, matched_dn: str, diagnostic: str) -> bytes:
    return _int(0x0A, result) + _os(matched_dn) + _os(diagnostic)


def search_done(msg_id: int, result: int = SUCCESS, diagnostic: str = "") -> bytes:
    return _message(msg_id, tlv(0x65, _result(result, "", diagnostic)))


def bind_request(msg_id: int, dn: str, password: str) -> bytes:
    """A simple bind (the password in clear, as LDAP simple binds send it)."""
    return _message(msg_id, tlv(0x60, _int(0x02, 3) + _os(dn) + _os(password, 0x80)))


def sasl_bind_request(msg_id: int, mechanism: str, credentials: bytes = b"") -> bytes:
    sasl = _os(mechanism) + (_os(credentials) if credentials else b"")
    return _message(msg_id, tlv(0x60, _int(0x02, 3) + _os("") + tlv(0xA3, sasl)))


def bind_response(
    msg_id: int, result: int = SUCCESS, diagnostic: str = "", sasl_creds: bytes | None = None
) -> bytes:
    creds = _os(sasl_creds, 0x87) if sasl_creds is not None else b""
    return _message(msg_id, tlv(0x61, _result(result, "", diagnostic) + creds))


def unbind(msg_id: int) -> bytes:
    return _message(msg_id, b"\x42\x00")


def escape(value: str) -> str:
    """`value` made safe inside a filter (RFC 4515: `* ( ) \\` and NUL as `\\XX`)."""
    for ch in "\\*()\x00":
        value = value.replace(ch, f"\\{ord(ch):02x}")
    return value


def base_dn(domain: str) -> str:
    """`chu.local` -> `DC=chu,DC=local`."""
    return ",".join(f"DC={part}" for part in domain.split("."))


def rootdse(domain: str, dc: str) -> list[tuple[str, list[str | bytes]]]:
    """The rootDSE attributes of an AD domain controller `dc` (short name) of `domain`."""
    base = base_dn(domain)
    config = f"CN=Configuration,{base}"
    return [
        ("currentTime", ["20240315093012.0Z"]),
        ("subschemaSubentry", [f"CN=Aggregate,CN=Schema,{config}"]),
        ("dsServiceName", [f"CN=NTDS Settings,CN={dc.upper()},CN=Servers,"
                           f"CN=Default-First-Site-Name,CN=Sites,{config}"]),
        ("namingContexts", [base, config, f"CN=Schema,{config}"]),
        ("defaultNamingContext", [base]),
        ("schemaNamingContext", [f"CN=Schema,{config}"]),
        ("configurationNamingContext", [config]),
        ("rootDomainNamingContext", [base]),
        ("supportedLDAPVersion", ["3", "2"]),
        ("supportedSASLMechanisms", ["GSSAPI", "GSS-SPNEGO", "EXTERNAL", "DIGEST-MD5"]),
        ("dnsHostName", [f"{dc}.{domain}"]),
        ("ldapServiceName", [f"{domain}:{dc}$@{domain.upper()}"]),
        ("domainFunctionality", ["7"]),
        ("forestFunctionality", ["7"]),
        ("domainControllerFunctionality", ["7"]),
        ("isSynchronized", ["TRUE"]),
        ("isGlobalCatalogReady", ["TRUE"]),
    ]  # fmt: skip


@functools.lru_cache(maxsize=256)
def _rootdse_exchange(domain: str, dc: str) -> tuple[bytes, bytes]:
    """The rootDSE search (message 1) and its answer: the same for every client of a DC."""
    request = search_request(1, "", "(objectClass=*)", _ROOTDSE_ATTRS)
    return request, search_entry(1, "", rootdse(domain, dc)) + search_done(1)


@functools.lru_cache(maxsize=65_536)
def _user_exchange(domain: str, user: str) -> tuple[bytes, bytes]:
    """The search for `user` (message 3) and its answer; the account's SID is derived from
    the names, so a user keeps one SID in every session."""
    base = base_dn(domain)
    user_dn = f"CN={user},OU=Utilisateurs,{base}"
    ids = random.Random(f"sid|{domain}|{user}")
    domain_sid = random.Random(f"sid|{domain}").randbytes(12)
    sid = b"\x01\x05\x00\x00\x00\x00\x00\x05\x15\x00\x00\x00" + domain_sid
    entry: list[tuple[str, Sequence[str | bytes]]] = [
        ("distinguishedName", [user_dn]),
        ("sAMAccountName", [user]),
        ("userPrincipalName", [f"{user}@{domain}"]),
        ("objectSid", [sid + (1100 + ids.randrange(60_000)).to_bytes(4, "little")]),
        ("memberOf", [f"CN=Soignants,OU=Groupes,{base}", f"CN=Utilisateurs VPN,OU=Groupes,{base}"]),
        ("userAccountControl", ["512"]),
        ("displayName", [user.capitalize()]),
    ]
    user_filter = f"(&(objectCategory=person)(objectClass=user)(sAMAccountName={escape(user)}))"
    request = search_request(3, base, user_filter, _USER_ATTRS, SUBTREE)
    return request, search_entry(3, user_dn, entry) + search_done(3)


def session(
    rng: random.Random,
    *,
    domain: str = "chu.local",
    dc: str = "dc01",
    user: str = "jdupont",
    password: str = "",
    success: bool = True,
    think_s: tuple[float, float] = (0.001, 0.05),
    server_s: float = 0.001,
) -> list[Turn]:
    """rootDSE read, simple bind as `user` (`password`, or a random one), user search (after
    a successful bind), unbind."""
    pw = password or f"Pw{rng.getrandbits(32):08x}!"
    read, answer = _rootdse_exchange(domain, dc)
    turns = [
        client(read),
        server(answer, server_s),
        client(bind_request(2, f"{user}@{domain}", pw), rng.uniform(*think_s)),
    ]
    if not success:
        turns.append(server(bind_response(2, INVALID_CREDENTIALS, AD_BAD_PASSWORD), server_s))
        turns.append(client(unbind(3), rng.uniform(*think_s)))
        return turns
    search, found = _user_exchange(domain, user)
    turns += [
        server(bind_response(2), server_s),
        client(search, rng.uniform(*think_s)),
        server(found, server_s),
        client(unbind(4), rng.uniform(*think_s)),
    ]
    return turns
