"""DHCP over UDP (RFC 2131/2132, BOOTP RFC 951): one `dhcp` event per datagram.

`DhcpParser` is a datagram parser: each `feed` is one BOOTP message, parsed whole by
`decode`, which returns the EVE body (`model.dhcp.DhcpInfo`) or raises `ParseError`:

- the fixed BOOTP header is 236 bytes; a shorter datagram, or an op other than 1 (request) or
  2 (reply), is malformed;
- options follow the magic cookie 99.130.83.99; a message without the cookie is plain BOOTP
  and gives an event with the header fields only;
- options are code/length/value; pad (0) is skipped, end (255) stops the area; an option whose
  length runs past the area is truncated: `ParseError`;
- option overload (52) continues the options in `file` (value 1), `sname` (2) or both (3),
  read after the main area in the order RFC 2131 section 4.1 gives (options, file, sname);
- an option that appears more than once is concatenated (RFC 3396 long options);
- lists are bounded by `limits.max_items`.

Values the EVE body does not carry (other options, `sname`/`file` text) are not kept. The
parser keeps no state between datagrams except the `tx_id` counter (messages of the flow,
from 0); nothing is pending at `close`.
"""

from __future__ import annotations

import socket
import struct

from tocsin.applayer.base import AppLimits, AppParser, Emit, ParseError
from tocsin.model.dhcp import DhcpEvent, DhcpInfo

_HEADER = struct.Struct("!BBBBI4x4s4s4s4s16s")  # op htype hlen hops xid (secs flags) ciaddr...
_SNAME = slice(44, 108)
_FILE = slice(108, 236)
_BOOTP_LEN = 236
_MAGIC = b"\x63\x82\x53\x63"
_OPTIONS = _BOOTP_LEN + 4

_OPT_PAD = 0
_OPT_END = 255
_OPT_SUBNET_MASK = 1
_OPT_ROUTERS = 3
_OPT_DNS = 6
_OPT_HOSTNAME = 12
_OPT_REQUESTED_IP = 50
_OPT_LEASE = 51
_OPT_OVERLOAD = 52
_OPT_TYPE = 53
_OPT_PARAMS = 55
_OPT_RENEWAL = 58
_OPT_REBINDING = 59
_OPT_VENDOR_CLASS = 60
_OPT_CLIENT_ID = 61

#: the options the EVE body uses; the others are walked over, not kept
_WANTED = frozenset(
    {
        _OPT_SUBNET_MASK,
        _OPT_ROUTERS,
        _OPT_DNS,
        _OPT_HOSTNAME,
        _OPT_REQUESTED_IP,
        _OPT_LEASE,
        _OPT_OVERLOAD,
        _OPT_TYPE,
        _OPT_PARAMS,
        _OPT_RENEWAL,
        _OPT_REBINDING,
        _OPT_VENDOR_CLASS,
        _OPT_CLIENT_ID,
    }
)

_OPS = {1: "request", 2: "reply"}

DHCP_TYPES = {
    1: "discover",
    2: "offer",
    3: "request",
    4: "decline",
    5: "ack",
    6: "nak",
    7: "release",
    8: "inform",
}

#: parameter request list entries as Suricata's DHCP logger names them (rust/src/dhcp/logger.rs)
PARAM_NAMES = {
    1: "subnet_mask",
    3: "router",
    6: "dns_server",
    15: "domain",
    35: "arp_timeout",
    42: "ntp_server",
    66: "tftp_server_name",
    150: "tftp_server_ip",
}


def text(data: bytes) -> str:
    """Bytes as Suricata writes them: valid UTF-8 as is, otherwise ASCII kept and every other
    byte as `\\xNN`."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("ascii", errors="backslashreplace")


def _walk(area: bytes, opts: dict[int, bytes]) -> None:
    """Add the options of one area (options field, `file` or `sname`) to `opts`."""
    i, n = 0, len(area)
    while i < n:
        code = area[i]
        if code == _OPT_PAD:
            i += 1
            continue
        if code == _OPT_END:
            return
        if i + 2 > n:
            raise ParseError(f"dhcp option {code} truncated: no length byte")
        end = i + 2 + area[i + 1]
        if end > n:
            raise ParseError(f"dhcp option {code} truncated: {area[i + 1]} bytes announced")
        if code in _WANTED:
            value = area[i + 2 : end]
            held = opts.get(code)
            opts[code] = value if held is None else held + value
        i = end


def _addrs(value: bytes, max_items: int) -> list[str] | None:
    n = min(len(value) // 4, max_items)
    if not n:
        return None
    return [socket.inet_ntoa(value[k : k + 4]) for k in range(0, 4 * n, 4)]


def _addr(value: bytes | None) -> str | None:
    return socket.inet_ntoa(value) if value is not None and len(value) == 4 else None


def _seconds(value: bytes | None) -> int | None:
    return int.from_bytes(value, "big") if value is not None and len(value) == 4 else None


def decode(data: bytes, max_items: int) -> DhcpInfo:
    """The EVE body of one BOOTP/DHCP message; `ParseError` if it is malformed."""
    if len(data) < _BOOTP_LEN:
        raise ParseError(f"bootp message of {len(data)} bytes, header needs {_BOOTP_LEN}")
    op, _htype, hlen, _hops, xid, ciaddr, yiaddr, siaddr, giaddr, chaddr = _HEADER.unpack_from(data)
    kind = _OPS.get(op)
    if kind is None:
        raise ParseError(f"bootp op {op} is neither request (1) nor reply (2)")
    reply = op == 2
    opts: dict[int, bytes] = {}
    if data[_BOOTP_LEN:_OPTIONS] == _MAGIC:
        _walk(data[_OPTIONS:], opts)
        overload = opts.get(_OPT_OVERLOAD)
        if overload:
            if overload[0] & 1:
                _walk(data[_FILE], opts)
            if overload[0] & 2:
                _walk(data[_SNAME], opts)

    msg_type = opts.get(_OPT_TYPE)
    client_id = opts.get(_OPT_CLIENT_ID)
    hostname = opts.get(_OPT_HOSTNAME)
    vendor = opts.get(_OPT_VENDOR_CLASS)
    plist = opts.get(_OPT_PARAMS)
    params = None
    if plist:
        names = [PARAM_NAMES[c] for c in plist if c in PARAM_NAMES]
        params = names[:max_items] or None
    return DhcpInfo(
        type=kind,
        id=xid,
        client_mac=chaddr[: min(hlen, 16)].hex(":"),
        assigned_ip=socket.inet_ntoa(yiaddr),
        client_ip=socket.inet_ntoa(ciaddr),
        relay_ip=socket.inet_ntoa(giaddr) if reply else None,
        next_server_ip=socket.inet_ntoa(siaddr) if reply else None,
        dhcp_type=DHCP_TYPES.get(msg_type[0], "unknown") if msg_type else None,
        client_id=client_id[1:].hex(":") if client_id and len(client_id) > 1 else None,
        hostname=text(hostname) if hostname else None,
        vendor_class_identifier=text(vendor) if vendor else None,
        requested_ip=_addr(opts.get(_OPT_REQUESTED_IP)),
        params=params,
        lease_time=_seconds(opts.get(_OPT_LEASE)),
        renewal_time=_seconds(opts.get(_OPT_RENEWAL)),
        rebinding_time=_seconds(opts.get(_OPT_REBINDING)),
        subnet_mask=_addr(opts.get(_OPT_SUBNET_MASK)),
        routers=_addrs(opts.get(_OPT_ROUTERS, b""), max_items),
        dns_servers=_addrs(opts.get(_OPT_DNS, b""), max_items),
    )


class DhcpParser(AppParser):
    """One `dhcp` event per datagram, in the direction it came (`DhcpEvent.by_packet`)."""

    name = "dhcp"
    datagram = True

    def __init__(self, emit: Emit, limits: AppLimits) -> None:
        super().__init__(emit, limits)
        self.tx_count = 0

    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        info = decode(data, self.limits.max_items)
        self.emit(DhcpEvent, info, direction, ts_us, self.tx_count)
        self.tx_count += 1
