"""A test's family for the reports: the protocol or engine stage its name points to.

suricata-verify names tests by what they test (`dns-udp-eve-log`, `detect-http-uri/...`,
`decode-vxlan`, `tcp-split-handshake-01`, `bug-2158`). The family is found from the words of
the test's name (every path component, split on `-`, `_`, `/`, `.`), looked up in
`_WORDS` with this precedence: an application protocol first (`detect-http-uri/UriTestSig01`
is `http`), then the decoder, the TCP stream, output, then detection keywords, then the
firewall. A name saying nothing (`bug-2158`, `issue-4280`) takes the application protocol of
its rules (`alert dns ...` -> `dns`), or else `other`.

Families: http (HTTP/1, HTTP/2, libhtp evasions), dns (DNS, mDNS, LLMNR), tls (TLS, SSL, JA3,
JA4, QUIC), smb (SMB, DCERPC, NFS), mail (SMTP, IMAP, POP3, MIME), ftp, ssh, ot (DNP3, Modbus,
ENIP), one per other application protocol, decoder (link, IP, tunnels, fragments: decode-*,
ipv4-*, ipv6-*, defrag, vxlan...), stream/tcp (tcp-*, stream-*, midstream), output (eve-*,
output-*, filestore), detect (detect-*, content, pcre, flowbits, threshold, datasets, byte_*,
transforms, rule parsing...), firewall, other.
"""

from __future__ import annotations

import re

_APP: dict[str, str] = {
    **dict.fromkeys(
        ("http", "http1", "http2", "libhtp", "evader", "uricontent", "doh", "doh2", "websocket"),
        "http",
    ),
    **dict.fromkeys(("dns", "mdns", "llmnr"), "dns"),
    **dict.fromkeys(("tls", "ssl", "sslv2", "ja3", "ja3s", "ja4", "quic", "x509"), "tls"),
    **dict.fromkeys(
        ("smb", "smb1", "smb2", "smb3", "dcerpc", "nfs", "nfs2", "nfs3", "nfs4"), "smb"
    ),
    **dict.fromkeys(("smtp", "imap", "pop3", "mime"), "mail"),
    **dict.fromkeys(("dnp3", "modbus", "enip", "cip"), "ot"),
    **dict.fromkeys(("ike", "ikev1", "ikev2"), "ike"),
    **dict.fromkeys(("mqtt", "mqtt31", "mqtt311", "mqtt5"), "mqtt"),
    **{
        p: p
        for p in (
            "ftp",
            "ssh",
            "sip",
            "krb5",
            "ldap",
            "rdp",
            "rfb",
            "snmp",
            "dhcp",
            "pgsql",
            "telnet",
            "tftp",
            "ntp",
            "bittorrent",
            "irc",
            "hl7",
            "dicom",
            "netflow",
        )
    },
}
_DECODER = frozenset(
    (
        "decode",
        "decoder",
        "ipv4",
        "ipv6",
        "defrag",
        "vxlan",
        "geneve",
        "gre",
        "pppoe",
        "linktype",
        "ethernet",
        "mac",
        "arp",
        "icmp",
        "icmpv4",
        "icmpv6",
        "sctp",
        "igmp",
        "udp",
        "vlan",
        "mpls",
        "erspan",
        "teredo",
        "ipopts",
        "ipip",
        "nsh",
        "vntag",
        "esp",
        "chdlc",
        "sll",
        "raw",
    )
)
_STREAM = frozenset(
    (
        "tcp",
        "stream",
        "streamsize",
        "midstream",
        "3whs",
        "async",
        "reassembly",
        "handshake",
        "seg",
        "urg",
        "flow",
    )
)
_OUTPUT = frozenset(
    ("eve", "output", "filestore", "fileinfo", "pcaplog", "log", "anomaly", "stats", "community")
)
_DETECT = frozenset(
    (
        "detect",
        "detection",
        "pcre",
        "content",
        "flowbits",
        "flowbit",
        "flowint",
        "hostbits",
        "xbits",
        "threshold",
        "datasets",
        "dataset",
        "datarep",
        "datajson",
        "iprep",
        "reputation",
        "byte",
        "bytetest",
        "bytejump",
        "byteextract",
        "bytemath",
        "transform",
        "base64",
        "subslice",
        "entropy",
        "xor",
        "rule",
        "rules",
        "prefilter",
        "iponly",
        "bsize",
        "dsize",
        "urilen",
        "isdataat",
        "filemagic",
        "filename",
        "filemd5",
        "filesize",
        "fileext",
        "lua",
        "requires",
        "cond",
        "noalert",
        "pcrexform",
        "fast",
        "mpm",
        "tag",
        "app",
        "protocol",
        "tcpflags",
        "flags",
        "ttl",
        "sid",
        "priority",
        "classification",
        "reference",
        "metadata",
    )
)
_APP_PROTO = re.compile(r"^\s*\S+\s+([a-z0-9-]+)\s", re.M)


def words(name: str) -> list[str]:
    """The lower-case words of a test name (`detect-http-uri/UriTestSig01` ->
    detect, http, uri, uritestsig01)."""
    return [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]


def family_of(name: str, rules: str = "") -> str:
    """The family of test `name` (see the module docstring); `rules`: its active rules."""
    ws = words(name)
    for w in ws:
        if w in _APP:
            return _APP[w]
    for table, family in (
        (_DECODER, "decoder"),
        (_STREAM, "stream/tcp"),
        (_OUTPUT, "output"),
        (_DETECT, "detect"),
    ):
        if any(w in table for w in ws):
            return family
    if "firewall" in ws:
        return "firewall"
    for proto in _APP_PROTO.findall(rules):
        if proto in _APP:
            return _APP[proto]
    return "other"
