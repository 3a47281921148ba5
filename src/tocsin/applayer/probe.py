"""Protocol detection by content: compiled probes run by the flow kernel on payload packets.

`probe(d, o, n, proto, direction, sport, dport)` looks at the `n` payload bytes at `d[o:]` of a
packet of a flow whose protocol is still unknown and returns an `ALPROTO_*` number, `PROBE_NO`
or `PROBE_MORE` (the bytes so far are a prefix of a known protocol's first message: look at the
stream again once more bytes came). Ports (`sport` = client, `dport` = server) only break ties
where content alone is ambiguous (a TPKT on 3389 is RDP, elsewhere it must carry RDP's own
negotiation); every protocol is recognised on any port: HTTP on 8080, DICOM on 11112 or 104,
HL7 in MLLP framing anywhere.

What each probe accepts (first bytes of the first payload in either direction):

- http: a request line's method and a space (to server), "HTTP/" (to client);
- tls: a handshake record (0x16 0x03 0x00-0x04) holding a ClientHello or ServerHello, or an
  SSLv2-framed ClientHello;
- ssh: "SSH-";
- smb: a NetBIOS session message holding an SMB1/SMB2/SMB3-transform header, or a NetBIOS
  session request on port 139;
- dcerpc: a connection-oriented DCE/RPC v5 PDU header with a consistent fragment length;
- rdp: a TPKT-framed X.224 Connection Request/Confirm (with an RDP cookie or negotiation
  structure, or on port 3389);
- dicom: an A-ASSOCIATE-RQ (to server) or -AC/-RJ (to client) PDU with protocol version 1 and
  printable AE titles;
- hl7: an MLLP start block (0x0B) followed by "MSH", or a bare "MSH" segment;
- dns: a DNS header and a well-formed first question (UDP; TCP after the 2-byte length);
  not on the mDNS and LLMNR ports (5353, 5355);
- dhcp: BOOTP with the DHCP magic cookie (UDP);
- ftp: "USER " (any case) to server (on port 110 the POP3 probe, tried first, claims it),
  or "AUTH "/"FEAT" on port 21; a "220 "/"220-" greeting to client on port 21, or elsewhere
  when its first line names "FTP" (an SMTP greeting also starts with 220);
- pop3: a "+OK" greeting to client on port 110, or elsewhere when its first line names "POP";
  a POP3 command (USER, PASS, APOP, AUTH, CAPA, STLS, STAT, LIST, RETR, TOP, UIDL...) then a
  space or line end, to server on port 110 only;
- imap: a "* OK " or "* PREAUTH " greeting to client on port 143, or elsewhere when its first
  line names "IMAP"; a tagged command (`tag SP letters` then a space or line end) to server
  on port 143 only;
- krb5: on port 88 only, a DER APPLICATION 10-13 or 30 element (AS/TGS request/reply,
  KRB-ERROR) filling the UDP datagram, or after a 4-byte record mark on TCP.

Probes never allocate and read only within `d[o : o + n]`.
"""

from __future__ import annotations

import numpy as np

from tocsin.applayer.protos import (
    ALPROTO_DCERPC,
    ALPROTO_DHCP,
    ALPROTO_DICOM,
    ALPROTO_DNS,
    ALPROTO_FTP,
    ALPROTO_HL7,
    ALPROTO_HTTP,
    ALPROTO_IMAP,
    ALPROTO_KRB5,
    ALPROTO_POP3,
    ALPROTO_RDP,
    ALPROTO_SMB,
    ALPROTO_SSH,
    ALPROTO_TLS,
    PROBE_MORE,
    PROBE_NO,
)
from tocsin.jit import inline_kernel, kernel

# HTTP request methods, space-terminated, one per row (0-padded)
_METHODS = (
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"CONNECT ",
    b"TRACE ",
    b"PATCH ",
    b"PROPFIND ",
    b"PROPPATCH ",
    b"MKCOL ",
    b"COPY ",
    b"MOVE ",
    b"LOCK ",
    b"UNLOCK ",
    b"SEARCH ",
    b"REPORT ",
    b"SUBSCRIBE ",
    b"NOTIFY ",
)
METHODS = np.zeros((len(_METHODS), 12), dtype=np.uint8)
METHOD_LEN = np.zeros(len(_METHODS), dtype=np.int64)
for _k, _m in enumerate(_METHODS):
    METHODS[_k, : len(_m)] = np.frombuffer(_m, dtype=np.uint8)
    METHOD_LEN[_k] = len(_m)
HTTP_SLASH = np.frombuffer(b"HTTP/", dtype=np.uint8).copy()
SSH_DASH = np.frombuffer(b"SSH-", dtype=np.uint8).copy()
FTP_USER = np.frombuffer(b"USER ", dtype=np.uint8).copy()
FTP_AUTH = np.frombuffer(b"AUTH ", dtype=np.uint8).copy()
FTP_FEAT = np.frombuffer(b"FEAT", dtype=np.uint8).copy()
FTP_220 = np.frombuffer(b"220", dtype=np.uint8).copy()
POP3_OK = np.frombuffer(b"+OK", dtype=np.uint8).copy()
IMAP_OK = np.frombuffer(b"* OK ", dtype=np.uint8).copy()
IMAP_PREAUTH = np.frombuffer(b"* PREAUTH ", dtype=np.uint8).copy()
# POP3 commands (RFC 1939, 2449, 5034), 4 bytes each ("TOP" padded with a space)
_POP3_CMDS = (
    b"USER",
    b"PASS",
    b"APOP",
    b"AUTH",
    b"CAPA",
    b"STLS",
    b"STAT",
    b"LIST",
    b"RETR",
    b"TOP ",
    b"UIDL",
    b"NOOP",
    b"RSET",
    b"DELE",
    b"QUIT",
)
POP3_CMDS = np.zeros((len(_POP3_CMDS), 4), dtype=np.uint8)
for _k, _m in enumerate(_POP3_CMDS):
    POP3_CMDS[_k] = np.frombuffer(_m, dtype=np.uint8)


@inline_kernel
def _prefix(d: np.ndarray, o: int, n: int, pat: np.ndarray, plen: int) -> int:
    """1: d[o:] starts with pat; 2: d[o:o+n] is a proper prefix of pat; 0: neither."""
    m = plen if n >= plen else n
    for k in range(m):
        if d[o + k] != pat[k]:
            return 0
    return 1 if n >= plen else 2


@inline_kernel
def probe_http(d: np.ndarray, o: int, n: int, direction: int) -> int:
    if direction == 1:
        r = _prefix(d, o, n, HTTP_SLASH, 5)
        return ALPROTO_HTTP if r == 1 else (PROBE_MORE if r == 2 else PROBE_NO)
    more = False
    for k in range(METHODS.shape[0]):
        r = _prefix(d, o, n, METHODS[k], METHOD_LEN[k])
        if r == 1:
            return ALPROTO_HTTP
        if r == 2:
            more = True
    return PROBE_MORE if more else PROBE_NO


@inline_kernel
def probe_tls(d: np.ndarray, o: int, n: int, direction: int) -> int:
    b0 = d[o]
    if b0 == 0x16:
        if n < 6:
            if n >= 2 and d[o + 1] != 3:
                return PROBE_NO
            if n >= 3 and d[o + 2] > 4:
                return PROBE_NO
            return PROBE_MORE
        if d[o + 1] != 3 or d[o + 2] > 4:
            return PROBE_NO
        rlen = (np.int64(d[o + 3]) << 8) | np.int64(d[o + 4])
        if rlen < 4 or rlen > 16384 + 2048:
            return PROBE_NO
        ht = d[o + 5]
        if (direction == 0 and ht == 1) or (direction == 1 and ht == 2):
            return ALPROTO_TLS
        return PROBE_NO
    # SSLv2-framed ClientHello: 2-byte length with the high bit, type 1, version 3.x / 2.0
    if direction == 0 and (b0 & 0x80) != 0:
        if n < 5:
            return PROBE_MORE
        if d[o + 2] == 1 and (d[o + 3] == 3 or (d[o + 3] == 0 and d[o + 4] == 2)):
            return ALPROTO_TLS
    return PROBE_NO


@inline_kernel
def probe_ssh(d: np.ndarray, o: int, n: int) -> int:
    r = _prefix(d, o, n, SSH_DASH, 4)
    return ALPROTO_SSH if r == 1 else (PROBE_MORE if r == 2 else PROBE_NO)


@inline_kernel
def probe_smb(d: np.ndarray, o: int, n: int, sport: int, dport: int) -> int:
    b0 = d[o]
    if b0 == 0x81 and (dport == 139 or sport == 139):  # NetBIOS session request
        return ALPROTO_SMB
    if b0 != 0:
        return PROBE_NO
    if n < 8:
        return PROBE_MORE if n < 5 or d[o + 4] in (0xFF, 0xFE, 0xFD) else PROBE_NO
    m = d[o + 4]
    smb = d[o + 5] == 0x53 and d[o + 6] == 0x4D and d[o + 7] == 0x42
    if (m == 0xFF or m == 0xFE or m == 0xFD) and smb:
        return ALPROTO_SMB
    return PROBE_NO


@inline_kernel
def probe_dcerpc(d: np.ndarray, o: int, n: int) -> int:
    if d[o] != 5:
        return PROBE_NO
    if n < 16:
        return PROBE_MORE
    if d[o + 1] > 1:
        return PROBE_NO
    ptype = d[o + 2]
    if ptype > 20:
        return PROBE_NO
    rep = d[o + 4] & 0xF0
    if rep == 0x10:
        flen = np.int64(d[o + 8]) | (np.int64(d[o + 9]) << 8)
    elif rep == 0:
        flen = (np.int64(d[o + 8]) << 8) | np.int64(d[o + 9])
    else:
        return PROBE_NO
    if flen < 16:
        return PROBE_NO
    return ALPROTO_DCERPC


@inline_kernel
def probe_rdp(d: np.ndarray, o: int, n: int, direction: int, dport: int) -> int:
    if d[o] != 3:
        return PROBE_NO
    if n < 11:
        return PROBE_MORE if n < 2 or d[o + 1] == 0 else PROBE_NO
    if d[o + 1] != 0:
        return PROBE_NO
    tlen = (np.int64(d[o + 2]) << 8) | np.int64(d[o + 3])
    li = np.int64(d[o + 4])
    code = d[o + 5] & 0xF0
    if tlen < 11 or li + 5 > tlen or li < 6:
        return PROBE_NO
    want = 0xE0 if direction == 0 else 0xD0
    if code != want:
        return PROBE_NO
    if dport == 3389:
        return ALPROTO_RDP
    if n == 11 and tlen == 11:
        return PROBE_NO  # a bare X.224 CR: ISO-TSAP (S7comm...) as much as RDP
    p = o + 11
    if direction == 0 and n >= 19 and d[p] == 0x43 and d[p + 1] == 0x6F and d[p + 2] == 0x6F:
        return ALPROTO_RDP  # "Coo(kie: mstshash=...)"
    if n >= 15 and (d[p] == 1 or d[p] == 2 or d[p] == 3) and d[p + 2] == 8 and d[p + 3] == 0:
        return ALPROTO_RDP  # RDP_NEG_REQ / RSP / FAILURE, 8 bytes long
    return PROBE_NO


@inline_kernel
def _ae_title_ok(d: np.ndarray, p: int) -> bool:
    nonblank = 0
    for k in range(16):
        c = d[p + k]
        if c < 0x20 or c > 0x7E:
            return False
        if c != 0x20:
            nonblank += 1
    return nonblank > 0


@inline_kernel
def probe_dicom(d: np.ndarray, o: int, n: int, direction: int) -> int:
    t = d[o]
    if t != (1 if direction == 0 else 2) and not (direction == 1 and t == 3):
        return PROBE_NO
    if n < 10:
        return PROBE_MORE if n < 2 or d[o + 1] == 0 else PROBE_NO
    if d[o + 1] != 0:
        return PROBE_NO
    plen = (
        (np.int64(d[o + 2]) << 24)
        | (np.int64(d[o + 3]) << 16)
        | (np.int64(d[o + 4]) << 8)
        | np.int64(d[o + 5])
    )
    if t == 3:  # A-ASSOCIATE-RJ: fixed 4-byte body
        if plen != 4 or n != 10:
            return PROBE_NO
        res = d[o + 7]
        src = d[o + 8]
        return ALPROTO_DICOM if (res == 1 or res == 2) and 1 <= src <= 3 else PROBE_NO
    if plen < 68 or plen > 1 << 20:
        return PROBE_NO
    if n < 42:
        return PROBE_MORE
    if d[o + 6] != 0 or (d[o + 7] & 1) == 0:  # protocol version bit 0
        return PROBE_NO
    if _ae_title_ok(d, o + 10) and _ae_title_ok(d, o + 26):
        return ALPROTO_DICOM
    return PROBE_NO


@inline_kernel
def probe_hl7(d: np.ndarray, o: int, n: int) -> int:
    p = o
    m = n
    if d[o] == 0x0B:
        p = o + 1
        m = n - 1
    if m < 4:
        if m >= 1 and d[p] != 0x4D:
            return PROBE_NO
        if m >= 2 and d[p + 1] != 0x53:
            return PROBE_NO
        if m >= 3 and d[p + 2] != 0x48:
            return PROBE_NO
        return PROBE_MORE if d[o] == 0x0B or m >= 1 else PROBE_NO
    if d[p] == 0x4D and d[p + 1] == 0x53 and d[p + 2] == 0x48:
        sep = d[p + 3]
        if sep >= 0x21 and sep <= 0x7E and sep != 0x20:
            return ALPROTO_HL7
    return PROBE_NO


@inline_kernel
def _dns_name_end(d: np.ndarray, p: int, end: int) -> int:
    """Offset after the (uncompressed or pointer-ended) name at p, -1 if malformed. Names
    longer than DNS allows are accepted here: the parser reports them (truncated)."""
    while p < end:
        ln = np.int64(d[p])
        if ln == 0:
            return p + 1
        if (ln & 0xC0) == 0xC0:
            return p + 2 if p + 2 <= end else -1
        if ln > 63:
            return -1
        p += 1 + ln  # always advances: bounded by `end`
    return -1


@inline_kernel
def probe_dns_msg(d: np.ndarray, o: int, n: int, sport: int, dport: int) -> int:
    if n < 12:
        return PROBE_NO
    if dport == 5353 or dport == 5355 or sport == 5353 or sport == 5355:
        return PROBE_NO  # mDNS and LLMNR: protocols of their own (Suricata logs them apart)
    well_known = dport == 53 or sport == 53
    flags2 = d[o + 2]
    opcode = (flags2 >> 3) & 0xF
    if not well_known and (opcode > 6 or opcode == 3):
        return PROBE_NO
    qd = (np.int64(d[o + 4]) << 8) | np.int64(d[o + 5])
    an = (np.int64(d[o + 6]) << 8) | np.int64(d[o + 7])
    ns = (np.int64(d[o + 8]) << 8) | np.int64(d[o + 9])
    ar = (np.int64(d[o + 10]) << 8) | np.int64(d[o + 11])
    if qd == 0:
        return ALPROTO_DNS if well_known and (flags2 & 0x80) != 0 else PROBE_NO
    if qd > 1 and not well_known:
        return PROBE_NO
    if an > 256 or ns > 256 or ar > 256:
        return PROBE_NO
    if not well_known and (d[o + 3] & 0x40) != 0:  # Z bit must be zero
        return PROBE_NO
    p = _dns_name_end(d, o + 12, o + n)
    if p < 0 or p + 4 > o + n:
        return PROBE_NO
    qclass = ((np.int64(d[p + 2]) << 8) | np.int64(d[p + 3])) & 0x7FFF
    if qclass != 1 and qclass != 3 and qclass != 4 and qclass != 254 and qclass != 255:
        return PROBE_NO
    return ALPROTO_DNS


@inline_kernel
def probe_dhcp(d: np.ndarray, o: int, n: int) -> int:
    if n < 240:
        return PROBE_NO
    op = d[o]
    if (op != 1 and op != 2) or d[o + 1] != 1 or d[o + 2] != 6:
        return PROBE_NO
    c = o + 236
    if d[c] == 0x63 and d[c + 1] == 0x82 and d[c + 2] == 0x53 and d[c + 3] == 0x63:
        return ALPROTO_DHCP
    return PROBE_NO


@inline_kernel
def _prefix_ci(d: np.ndarray, o: int, n: int, pat: np.ndarray, plen: int) -> int:
    """`_prefix` with ASCII letters compared without case (`pat` upper-case)."""
    m = plen if n >= plen else n
    for k in range(m):
        c = d[o + k]
        if c >= 0x61 and c <= 0x7A:
            c -= 0x20
        if c != pat[k]:
            return 0
    return 1 if n >= plen else 2


@inline_kernel
def probe_ftp(d: np.ndarray, o: int, n: int, direction: int, sport: int, dport: int) -> int:
    port21 = dport == 21 or sport == 21
    if direction == 0:
        r = _prefix_ci(d, o, n, FTP_USER, 5)
        if r == 1:
            return ALPROTO_FTP
        more = r == 2
        if port21:
            ra = _prefix_ci(d, o, n, FTP_AUTH, 5)
            rf = _prefix_ci(d, o, n, FTP_FEAT, 4)
            if ra == 1 or rf == 1:
                return ALPROTO_FTP
            more = more or ra == 2 or rf == 2
        return PROBE_MORE if more else PROBE_NO
    r = _prefix(d, o, n, FTP_220, 3)
    if r == 0:
        return PROBE_NO
    if n < 4:
        return PROBE_MORE
    if d[o + 3] != 0x20 and d[o + 3] != 0x2D:
        return PROBE_NO
    if port21:
        return ALPROTO_FTP
    for k in range(4, n - 2):  # "FTP" in the first line
        c = d[o + k]
        if c == 0x0A:
            break
        if (c | 0x20) == 0x66 and (d[o + k + 1] | 0x20) == 0x74 and (d[o + k + 2] | 0x20) == 0x70:
            return ALPROTO_FTP
    return PROBE_NO


@inline_kernel
def _line_names(d: np.ndarray, o: int, n: int, a: int, b: int, c: int) -> bool:
    """The first line of d[o:o+n] holds the letters a b c (upper-case codes), any case."""
    for k in range(n - 2):
        x = d[o + k]
        if x == 0x0A:
            return False
        if (x & 0xDF) == a and (d[o + k + 1] & 0xDF) == b and (d[o + k + 2] & 0xDF) == c:
            return True
    return False


@inline_kernel
def probe_pop3(d: np.ndarray, o: int, n: int, direction: int, sport: int, dport: int) -> int:
    port110 = dport == 110 or sport == 110
    if direction == 1:
        r = _prefix(d, o, n, POP3_OK, 3)
        if r == 0:
            return PROBE_NO
        if r == 2:
            return PROBE_MORE
        if port110:
            return ALPROTO_POP3
        return ALPROTO_POP3 if _line_names(d, o, n, 0x50, 0x4F, 0x50) else PROBE_NO
    if not port110:
        return PROBE_NO
    more = False
    for k in range(POP3_CMDS.shape[0]):
        plen = 3 if POP3_CMDS[k, 3] == 0x20 else 4
        r = _prefix_ci(d, o, n, POP3_CMDS[k], plen)
        if r == 2:
            more = True
        elif r == 1:
            if n == plen:
                more = True
            else:
                c = d[o + plen]
                if c == 0x20 or c == 0x0D or c == 0x0A:
                    return ALPROTO_POP3
    return PROBE_MORE if more else PROBE_NO


@inline_kernel
def probe_imap(d: np.ndarray, o: int, n: int, direction: int, sport: int, dport: int) -> int:
    port143 = dport == 143 or sport == 143
    if direction == 1:
        r = _prefix(d, o, n, IMAP_OK, 5)
        if r == 0:
            r = _prefix(d, o, n, IMAP_PREAUTH, 10)
        if r == 0:
            return PROBE_NO
        if r == 2:
            return PROBE_MORE
        if port143:
            return ALPROTO_IMAP
        return ALPROTO_IMAP if _line_names(d, o, n, 0x49, 0x4D, 0x41) else PROBE_NO
    if not port143:
        return PROBE_NO
    k = 0  # the tag: printable, not a space, at most 64 bytes
    while k < n and k < 64:
        c = d[o + k]
        if c == 0x20:
            break
        if c < 0x21 or c > 0x7E or c == 0x2A or c == 0x2B:
            return PROBE_NO
        k += 1
    if k == 0 or k == 64:
        return PROBE_NO
    if k == n:
        return PROBE_MORE
    j = k + 1
    while j < n:
        c = d[o + j] & 0xDF
        if c < 0x41 or c > 0x5A:
            break
        j += 1
    if j == n:
        return PROBE_MORE
    if j - k - 1 < 2:
        return PROBE_NO
    c = d[o + j]
    return ALPROTO_IMAP if c == 0x20 or c == 0x0D or c == 0x0A else PROBE_NO


@inline_kernel
def _krb5_message(d: np.ndarray, o: int, n: int) -> int:
    """1: d[o:o+n] is one DER APPLICATION 10-13/30 element (its length matching n), 0: not;
    lengths are checked only when whole (`n` may be a TCP record's first segment)."""
    if n < 2:
        return 0
    t = d[o]
    if t != 0x6A and t != 0x6B and t != 0x6C and t != 0x6D and t != 0x7E:
        return 0
    b = np.int64(d[o + 1])
    if b == 0x80 or b > 0x84:
        return 0
    return 1


@inline_kernel
def probe_krb5(d: np.ndarray, o: int, n: int, proto: int, sport: int, dport: int) -> int:
    if dport != 88 and sport != 88:
        return PROBE_NO
    if proto == 17:
        if _krb5_message(d, o, n) == 0:
            return PROBE_NO
        b = np.int64(d[o + 1])
        if b < 0x80:
            return ALPROTO_KRB5 if b == n - 2 else PROBE_NO
        k = b & 0x7F
        if n < 2 + k:
            return PROBE_NO
        ln = np.int64(0)
        for j in range(k):
            ln = (ln << 8) | np.int64(d[o + 2 + j])
        return ALPROTO_KRB5 if ln == n - 2 - k else PROBE_NO
    if n < 6:
        return PROBE_MORE if d[o] == 0 else PROBE_NO
    if (d[o] & 0x80) != 0:
        return PROBE_NO
    mark = (
        (np.int64(d[o]) << 24)
        | (np.int64(d[o + 1]) << 16)
        | (np.int64(d[o + 2]) << 8)
        | np.int64(d[o + 3])
    )
    if mark < 2 or _krb5_message(d, o + 4, n - 4) == 0:
        return PROBE_NO
    return ALPROTO_KRB5


@kernel
def probe(d: np.ndarray, o: int, n: int, proto: int, direction: int, sport: int, dport: int) -> int:
    """The protocol of a flow from one payload (see the module docstring)."""
    if n <= 0:
        return PROBE_MORE
    if proto == 17:
        r = probe_krb5(d, o, n, proto, sport, dport)
        if r != PROBE_NO:
            return r
        r = probe_dhcp(d, o, n)
        if r != PROBE_NO:
            return r
        return probe_dns_msg(d, o, n, sport, dport)
    if proto != 6:
        return PROBE_NO
    more = False
    r = probe_tls(d, o, n, direction)
    if r == PROBE_MORE:
        more = True
    elif r != PROBE_NO:
        return r
    r = probe_http(d, o, n, direction)
    if r == PROBE_MORE:
        more = True
    elif r != PROBE_NO:
        return r
    for step in range(10):
        if step == 0:
            r = probe_ssh(d, o, n)
        elif step == 1:
            r = probe_smb(d, o, n, sport, dport)
        elif step == 2:
            r = probe_dicom(d, o, n, direction)
        elif step == 3:
            r = probe_hl7(d, o, n)
        elif step == 4:
            r = probe_rdp(d, o, n, direction, dport)
        elif step == 5:
            r = probe_dcerpc(d, o, n)
        elif step == 6:  # before ftp: POP3 also logs in with "USER " (on its port 110)
            r = probe_pop3(d, o, n, direction, sport, dport)
        elif step == 7:
            r = probe_ftp(d, o, n, direction, sport, dport)
        elif step == 8:
            r = probe_imap(d, o, n, direction, sport, dport)
        else:
            r = probe_krb5(d, o, n, proto, sport, dport)
        if r == PROBE_MORE:
            more = True
        elif r != PROBE_NO:
            return r
    # DNS over TCP: 2-byte length, then a DNS message
    if n >= 14:
        mlen = (np.int64(d[o]) << 8) | np.int64(d[o + 1])
        if mlen >= 12 and mlen <= n - 2 + 65535:
            lim = mlen if mlen < n - 2 else n - 2
            dns = probe_dns_msg(d, o + 2, lim, sport, dport) == ALPROTO_DNS
            if dns:  # off port 53 the message checks are strict (see probe_dns_msg)
                return ALPROTO_DNS
    elif n >= 1 and (dport == 53 or sport == 53):
        more = True
    return PROBE_MORE if more else PROBE_NO
