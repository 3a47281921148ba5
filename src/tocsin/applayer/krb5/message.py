"""One Kerberos KDC message (RFC 4120 section 5) as the body of a `krb5` event.

`decode(data, last_request, max_items)` reads a whole message (a UDP datagram, or a TCP
record without its 4-byte mark) and returns `(info, request)`: `info` is the EVE body, or
None for messages Suricata does not log (AP-REQ, AP-REP, KRB-SAFE/PRIV/CRED); `request` is the
message type a later KRB-ERROR answers (`last_request` carried by the parser: AS-REQ and
TGS-REQ and AP-REQ set it, any reply clears it), as Suricata's `req_id`.

Only the fields the event needs are read, but every element walked is checked (`der`): a
message that is not an APPLICATION-tagged Kerberos message, has bytes after it, or whose
structure is not the RFC's raises `ParseError`.
"""

from __future__ import annotations

from tocsin.applayer.base import ParseError
from tocsin.applayer.krb5 import der
from tocsin.applayer.krb5.der import APPLICATION, Tlv
from tocsin.model.krb5 import Krb5Info

AS_REQ, AS_REP, TGS_REQ, TGS_REP, AP_REQ, AP_REP, KRB_ERROR = 10, 11, 12, 13, 14, 15, 30
_TICKET = 1

MESSAGE_TYPES = {
    10: "KRB_AS_REQ",
    11: "KRB_AS_REP",
    12: "KRB_TGS_REQ",
    13: "KRB_TGS_REP",
    14: "KRB_AP_REQ",
    15: "KRB_AP_REP",
    16: "KRB_RESERVED16",
    17: "KRB_RESERVED17",
    20: "KRB_SAFE",
    21: "KRB_PRIV",
    22: "KRB_CRED",
    30: "KRB_ERROR",
}

# RFC 3961/4120/8009 and IANA "Kerberos Encryption Type Numbers", as Suricata names them
ETYPES = {
    1: "des-cbc-crc",
    2: "des-cbc-md4",
    3: "des-cbc-md5",
    5: "des3-cbc-md5",
    7: "des3-cbc-sha1",
    9: "dsaWithSHA1-CmsOID",
    10: "md5WithRSAEncryption-CmsOID",
    11: "sha1WithRSAEncryption-CmsOID",
    12: "rc2CBC-EnvOID",
    13: "rsaEncryption-EnvOID",
    14: "rsaES-OAEP-ENV-OID",
    15: "des-ede3-cbc-Env-OID",
    16: "des3-cbc-sha1-kd",
    17: "aes128-cts-hmac-sha1-96",
    18: "aes256-cts-hmac-sha1-96",
    19: "aes128-cts-hmac-sha256-128",
    20: "aes256-cts-hmac-sha384-192",
    23: "rc4-hmac",
    24: "rc4-hmac-exp",
    25: "camellia128-cts-cmac",
    26: "camellia256-cts-cmac",
    65: "subkey-keymaterial",
    -128: "rc4-md4",
    -129: "rc4-plain2",
    -130: "rc4-lm",
    -131: "rc4-sha",
    -132: "des-plain",
    -133: "rc4-hmac-old",
    -134: "rc4-plain-old",
    -135: "rc4-hmac-exp-old",
    -136: "rc4-plain-exp-old",
    -140: "rc4-plain",
    -141: "rc4-plain-exp",
}
STRONG_ETYPES = frozenset({17, 18, 19, 20, 25, 26})  # everything else is weak (Suricata)

ERROR_CODES = {
    0: "KDC_ERR_NONE",
    1: "KDC_ERR_NAME_EXP",
    2: "KDC_ERR_SERVICE_EXP",
    3: "KDC_ERR_BAD_PVNO",
    4: "KDC_ERR_C_OLD_MAST_KVNO",
    5: "KDC_ERR_S_OLD_MAST_KVNO",
    6: "KDC_ERR_C_PRINCIPAL_UNKNOWN",
    7: "KDC_ERR_S_PRINCIPAL_UNKNOWN",
    8: "KDC_ERR_PRINCIPAL_NOT_UNIQUE",
    9: "KDC_ERR_NULL_KEY",
    10: "KDC_ERR_CANNOT_POSTDATE",
    11: "KDC_ERR_NEVER_VALID",
    12: "KDC_ERR_POLICY",
    13: "KDC_ERR_BADOPTION",
    14: "KDC_ERR_ETYPE_NOSUPP",
    15: "KDC_ERR_SUMTYPE_NOSUPP",
    16: "KDC_ERR_PADATA_TYPE_NOSUPP",
    17: "KDC_ERR_TRTYPE_NOSUPP",
    18: "KDC_ERR_CLIENT_REVOKED",
    19: "KDC_ERR_SERVICE_REVOKED",
    20: "KDC_ERR_TGT_REVOKED",
    21: "KDC_ERR_CLIENT_NOTYET",
    22: "KDC_ERR_SERVICE_NOTYET",
    23: "KDC_ERR_KEY_EXPIRED",
    24: "KDC_ERR_PREAUTH_FAILED",
    25: "KDC_ERR_PREAUTH_REQUIRED",
    26: "KDC_ERR_SERVER_NOMATCH",
    27: "KDC_ERR_MUST_USE_USER2USER",
    28: "KDC_ERR_PATH_NOT_ACCEPTED",
    29: "KDC_ERR_SVC_UNAVAILABLE",
    31: "KRB_AP_ERR_BAD_INTEGRITY",
    32: "KRB_AP_ERR_TKT_EXPIRED",
    33: "KRB_AP_ERR_TKT_NYV",
    34: "KRB_AP_ERR_REPEAT",
    35: "KRB_AP_ERR_NOT_US",
    36: "KRB_AP_ERR_BADMATCH",
    37: "KRB_AP_ERR_SKEW",
    38: "KRB_AP_ERR_BADADDR",
    39: "KRB_AP_ERR_BADVERSION",
    40: "KRB_AP_ERR_MSG_TYPE",
    41: "KRB_AP_ERR_MODIFIED",
    42: "KRB_AP_ERR_BADORDER",
    44: "KRB_AP_ERR_BADKEYVER",
    45: "KRB_AP_ERR_NOKEY",
    46: "KRB_AP_ERR_MUT_FAIL",
    47: "KRB_AP_ERR_BADDIRECTION",
    48: "KRB_AP_ERR_METHOD",
    49: "KRB_AP_ERR_BADSEQ",
    50: "KRB_AP_ERR_INAPP_CKSUM",
    51: "KRB_AP_PATH_NOT_ACCEPTED",
    52: "KRB_ERR_RESPONSE_TOO_BIG",
    60: "KRB_ERR_GENERIC",
    61: "KRB_ERR_FIELD_TOOLONG",
    62: "KDC_ERROR_CLIENT_NOT_TRUSTED",
    63: "KDC_ERROR_KDC_NOT_TRUSTED",
    64: "KDC_ERROR_INVALID_SIG",
    65: "KDC_ERR_KEY_TOO_WEAK",
    66: "KDC_ERR_CERTIFICATE_MISMATCH",
    67: "KRB_AP_ERR_NO_TGT",
    68: "KDC_ERR_WRONG_REALM",
    69: "KRB_AP_ERR_USER_TO_USER_REQUIRED",
    70: "KDC_ERR_CANT_VERIFY_CERTIFICATE",
    71: "KDC_ERR_INVALID_CERTIFICATE",
    72: "KDC_ERR_REVOKED_CERTIFICATE",
    73: "KDC_ERR_REVOCATION_STATUS_UNKNOWN",
    74: "KDC_ERR_REVOCATION_STATUS_UNAVAILABLE",
    75: "KDC_ERR_CLIENT_NAME_MISMATCH",
    76: "KDC_ERR_KDC_NAME_MISMATCH",
}

EMPTY = "<empty>"
NO_ETYPE = "<none>"


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("ascii", errors="backslashreplace")


def message_type_name(code: int) -> str:
    return MESSAGE_TYPES.get(code) or f"MessageType({code} / {code:#x})"


def etype_name(code: int) -> str:
    return ETYPES.get(code) or f"EncryptionType({code} / {code:#x})"


def error_name(code: int) -> str:
    return ERROR_CODES.get(code) or f"ErrorCode({code} / {code:#x})"


def _name(data: bytes, f: dict[int, Tlv], tag: int, max_items: int) -> str:
    if tag not in f:
        return EMPTY
    return "/".join(_text(c) for c in der.principal_name(data, f[tag], max_items))


def _realm(data: bytes, f: dict[int, Tlv], tag: int) -> str:
    return _text(der.kerberos_string(data, f[tag])) if tag in f else EMPTY


def _etype(data: bytes, t: Tlv) -> int:
    """EncryptedData ::= SEQUENCE { etype [0] Int32, kvno [1] UInt32 OPTIONAL, cipher [2] }."""
    f = der.fields(data, der.sequence(data, t))
    if 0 not in f or 2 not in f:
        raise ParseError("krb5: EncryptedData without etype or cipher")
    return der.integer(data, f[0])


def _need(f: dict[int, Tlv], tags: tuple[int, ...], what: str) -> None:
    missing = [t for t in tags if t not in f]
    if missing:
        raise ParseError(f"krb5: {what} without field(s) {missing}")


def decode(data: bytes, last_request: int, max_items: int) -> tuple[Krb5Info | None, int]:
    top = der.read_tlv(data, 0, len(data))
    if top.end != len(data):
        raise ParseError(f"krb5: {len(data) - top.end} bytes after the message")
    if top.cls != APPLICATION or not top.constructed:
        raise ParseError("krb5: not an APPLICATION-tagged Kerberos message")
    kind = top.tag
    if kind in (AS_REQ, TGS_REQ):
        return _request(data, top, kind, max_items), kind
    if kind in (AS_REP, TGS_REP):
        return _reply(data, top, kind, max_items), 0
    if kind == KRB_ERROR:
        return _error(data, top, last_request, max_items), 0
    if kind == AP_REQ:
        return None, AP_REQ
    if kind in MESSAGE_TYPES:
        return None, 0
    raise ParseError(f"krb5: unknown message type {kind}")


def _inner(data: bytes, top: Tlv) -> dict[int, Tlv]:
    seq = der.read_tlv(data, top.start, top.end)
    if seq.end != top.end:
        raise ParseError("krb5: bytes after the message body")
    return der.fields(data, der.sequence(data, seq))


def _request(data: bytes, top: Tlv, kind: int, max_items: int) -> Krb5Info:
    """KDC-REQ ::= SEQUENCE { pvno [1], msg-type [2], padata [3] OPTIONAL, req-body [4] }
    KDC-REQ-BODY ::= SEQUENCE { kdc-options [0], cname [1] OPTIONAL, realm [2],
    sname [3] OPTIONAL, from [4] OPTIONAL, till [5], rtime [6] OPTIONAL, nonce [7],
    etype [8] ... }"""
    f = _inner(data, top)
    _need(f, (1, 2, 4), "KDC-REQ")
    der.integer(data, f[1])
    der.integer(data, f[2])
    body = der.fields(data, der.sequence(data, f[4]))
    _need(body, (0, 2, 5, 7, 8), "KDC-REQ-BODY")
    return Krb5Info(
        msg_type=message_type_name(kind),
        cname=_name(data, body, 1, max_items),
        realm=_realm(data, body, 2),
        sname=_name(data, body, 3, max_items),
        encryption=NO_ETYPE,
        weak_encryption=False,
    )


def _reply(data: bytes, top: Tlv, kind: int, max_items: int) -> Krb5Info:
    """KDC-REP ::= SEQUENCE { pvno [0], msg-type [1], padata [2] OPTIONAL, crealm [3],
    cname [4], ticket [5] Ticket, enc-part [6] EncryptedData }
    Ticket ::= [APPLICATION 1] SEQUENCE { tkt-vno [0], realm [1], sname [2], enc-part [3] }"""
    f = _inner(data, top)
    _need(f, (0, 1, 3, 4, 5, 6), "KDC-REP")
    der.integer(data, f[0])
    der.integer(data, f[1])
    ticket = f[5]
    if ticket.cls != APPLICATION or ticket.tag != _TICKET or not ticket.constructed:
        raise ParseError("krb5: KDC-REP ticket is not a Ticket")
    tf = _inner(data, ticket)
    _need(tf, (0, 1, 2, 3), "Ticket")
    etype = _etype(data, f[6])
    tetype = _etype(data, tf[3])
    return Krb5Info(
        msg_type=message_type_name(kind),
        cname=_name(data, f, 4, max_items),
        realm=_realm(data, f, 3),
        sname=_name(data, tf, 2, max_items),
        encryption=etype_name(etype),
        weak_encryption=etype not in STRONG_ETYPES,
        ticket_encryption=etype_name(tetype),
        ticket_weak_encryption=tetype not in STRONG_ETYPES,
    )


def _error(data: bytes, top: Tlv, last_request: int, max_items: int) -> Krb5Info:
    """KRB-ERROR ::= [APPLICATION 30] SEQUENCE { pvno [0], msg-type [1], ctime [2] OPTIONAL,
    cusec [3] OPTIONAL, stime [4], susec [5], error-code [6], crealm [7] OPTIONAL,
    cname [8] OPTIONAL, realm [9], sname [10], e-text [11] OPTIONAL, e-data [12] OPTIONAL }
    Only `error-code` is required here; a missing `sname` is `"<empty>"`."""
    f = _inner(data, top)
    _need(f, (6,), "KRB-ERROR")  # the rest is required by the RFC, but an error code is
    for tag in (0, 1, 3, 5):  # enough to log (Zeek logs such minimal errors too)
        if tag in f:
            der.integer(data, f[tag])
    code = der.integer(data, f[6])
    return Krb5Info(
        msg_type=message_type_name(KRB_ERROR),
        failed_request=message_type_name(last_request),
        error_code=error_name(code),
        cname=_name(data, f, 8, max_items),
        realm=_realm(data, f, 7),
        sname=_name(data, f, 10, max_items),
        encryption=NO_ETYPE,
        weak_encryption=False,
    )
