"""RDP connection-sequence PDUs ([MS-RDPBCGR] 2.2.1), one TPKT payload at a time.

Each function takes the bytes of one TPKT after its 4-byte header (the X.224 TPDU) and either
returns what it read, returns None when the TPDU is not the kind it reads, or raises
`ParseError` when it is that kind but malformed (a length past the end, a bad field):

- `connection_request`: X.224 Connection Request (code 0xE0) with the optional
  `Cookie: mstshash=NAME` (or a routing token) and RDP Negotiation Request;
- `connection_confirm`: X.224 Connection Confirm (0xD0) with the optional RDP Negotiation
  Response (selected protocol) or Failure (code);
- `connect_initial`: X.224 Data carrying an MCS Connect Initial (BER tag 0x7F65), whose GCC
  user data (after the H.221 key "Duca") gives the client core data (0xC001) and the static
  channels of the client network data (0xC003);
- `is_connect_response`: X.224 Data carrying an MCS Connect Response (0x7F66).

Names follow Suricata's `rdp` log (see `model.rdp`); unknown enum values and flag bits are
left out rather than rejected.
"""

from __future__ import annotations

from dataclasses import dataclass

from tocsin.applayer.base import ParseError
from tocsin.applayer.rdp.windows import build_name, lcid_name
from tocsin.model.rdp import RdpClient

PROTOCOL_RDP = 0
PROTOCOL_SSL = 1
PROTOCOL_HYBRID = 2
PROTOCOL_RDSTLS = 4
PROTOCOL_HYBRID_EX = 8
PROTOCOL_NAMES = {
    PROTOCOL_RDP: "rdp",
    PROTOCOL_SSL: "ssl",
    PROTOCOL_HYBRID: "hybrid",
    PROTOCOL_RDSTLS: "rds_tls",
    PROTOCOL_HYBRID_EX: "hybrid_ex",
}
FAILURE_REASONS = {
    1: "ssl required by server",
    2: "ssl not allowed by server",
    3: "ssl cert not on server",
    4: "inconsistent flags",
    5: "hybrid required by server",
    6: "ssl with user auth required by server",
}
_KEYBOARDS = {1: "xt", 2: "ico", 3: "at", 4: "enhanced", 5: "1050", 6: "9140", 7: "jp"}
_CAPABILITIES = (  # early capability flags, bit order; 0x10 (unused) is not logged
    (0x1, "support_errinfo_pdf"),
    (0x2, "want_32bpp_session"),
    (0x4, "support_statusinfo_pdu"),
    (0x8, "strong_asymmetric_keys"),
    (0x20, "valid_connection_type"),
    (0x40, "support_monitor_layout_pdu"),
    (0x80, "support_netchar_autodetect"),
    (0x100, "support_dynvc_gfx_protocol"),
    (0x200, "support_dynamic_time_zone"),
    (0x400, "support_heartbeat_pdu"),
)
_HIGH_COLOR = {4: 4, 8: 8, 15: 15, 16: 16, 24: 24}
_POST_BETA2_COLOR = {0xCA00: 4, 0xCA01: 8, 0xCA02: 15, 0xCA03: 16, 0xCA04: 24}
_COLOR = {0xCA00: 4, 0xCA01: 8}
_CORE_MANDATORY = 128  # client core data up to imeFileName, after the block header


@dataclass(frozen=True, slots=True)
class ConnectionRequest:
    cookie: str | None
    requested: int | None  # RDP_NEG_REQ requestedProtocols, None without a request


@dataclass(frozen=True, slots=True)
class ConnectionConfirm:
    selected: int | None  # RDP_NEG_RSP selectedProtocol, None without a response
    failure: int | None  # RDP_NEG_FAILURE failureCode


@dataclass(frozen=True, slots=True)
class ConnectInitial:
    client: RdpClient | None
    channels: list[str]


def text(data: bytes) -> str:
    """Bytes as Suricata writes them: valid UTF-8 as is, otherwise ASCII kept and every other
    byte as `\\xNN`."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("ascii", errors="backslashreplace")


def _le(data: bytes, off: int, size: int) -> int:
    return int.from_bytes(data[off : off + size], "little")


def _x224_variable(tpdu: bytes, code: int) -> bytes | None:
    """The variable part of a class 0 CR/CC TPDU with `code` (high nibble), else None."""
    if len(tpdu) < 7 or tpdu[1] >> 4 != code:
        return None
    li = tpdu[0]
    if li == 0xFF or li < 6 or li + 1 > len(tpdu):
        raise ParseError(f"x.224 length indicator {li} does not fit a {len(tpdu)}-byte tpdu")
    if tpdu[6] != 0:
        raise ParseError(f"x.224 class/options {tpdu[6]:#04x}, rdp uses class 0")
    return tpdu[7 : li + 1]


def connection_request(tpdu: bytes) -> ConnectionRequest | None:
    data = _x224_variable(tpdu, 0xE)
    if data is None:
        return None
    cookie = None
    if data.startswith(b"Cookie: "):
        crlf = data.find(b"\r\n")
        if crlf >= 0:
            if data.startswith(b"Cookie: mstshash="):
                cookie = text(data[17:crlf])
            data = data[crlf + 2 :]
        else:  # no line end: Suricata takes neither cookie nor negotiation request
            data = b""
    requested = None
    if len(data) >= 8 and data[0] == 1 and _le(data, 2, 2) == 8:
        requested = _le(data, 4, 4)
    return ConnectionRequest(cookie, requested)


def connection_confirm(tpdu: bytes) -> ConnectionConfirm | None:
    data = _x224_variable(tpdu, 0xD)
    if data is None:
        return None
    selected = failure = None
    if len(data) >= 8 and _le(data, 2, 2) == 8:
        if data[0] == 2:
            selected = _le(data, 4, 4)
        elif data[0] == 3:
            failure = _le(data, 4, 4)
    return ConnectionConfirm(selected, failure)


def _mcs(tpdu: bytes, tag: bytes) -> bytes | None:
    """The MCS PDU in an X.224 Data TPDU if it starts with the BER `tag`, else None."""
    if len(tpdu) < 5 or tpdu[0] != 2 or tpdu[1] != 0xF0 or tpdu[2] != 0x80:
        return None
    return tpdu[3:] if tpdu[3:5] == tag else None


def is_connect_response(tpdu: bytes) -> bool:
    return _mcs(tpdu, b"\x7f\x66") is not None


def _utf16(data: bytes) -> str:
    """A NUL-terminated UTF-16LE field."""
    return data[: len(data) & ~1].decode("utf-16-le", errors="replace").split("\x00", 1)[0]


def _version(value: int) -> str:
    if value == 0x80001:
        return "v4"
    if value == 0x80004:
        return "v5"
    if 0x80005 <= value <= 0x80011:
        return f"v10.{value - 0x80005}"
    return "unknown"


def client_core(data: bytes) -> RdpClient | None:
    """Client core data (TS_UD_CS_CORE) after its 4-byte block header."""
    if len(data) < _CORE_MANDATORY:
        return None
    n = len(data)
    high = _HIGH_COLOR.get(_le(data, 136, 2)) if n >= 138 else None
    post_beta2 = _POST_BETA2_COLOR.get(_le(data, 128, 2)) if n >= 130 else None
    depth = high or post_beta2 or _COLOR.get(_le(data, 8, 2))
    caps = None
    if n >= 142:
        flags = _le(data, 140, 2)
        caps = [name for bit, name in _CAPABILITIES if flags & bit] or None
    function_keys = _le(data, 60, 4)
    return RdpClient(
        version=_version(_le(data, 0, 4)),
        desktop_width=_le(data, 4, 2),
        desktop_height=_le(data, 6, 2),
        color_depth=depth,
        keyboard_layout=lcid_name(_le(data, 12, 4)),
        build=build_name(_le(data, 16, 4)),
        client_name=_utf16(data[20:52]) or None,
        keyboard_type=_KEYBOARDS.get(_le(data, 52, 4)),
        function_keys=function_keys or None,
        product_id=_le(data, 130, 2) if n >= 132 else None,
        capabilities=caps,
        id=(_utf16(data[142:206]) or None) if n >= 206 else None,
    )


def _channels(data: bytes, max_items: int) -> list[str]:
    """Channel names of client network data (TS_UD_CS_NET) after its block header."""
    if len(data) < 4:
        raise ParseError("rdp client network data without its channel count")
    count = _le(data, 0, 4)
    if 4 + 12 * count > len(data):
        raise ParseError(f"rdp client network data announces {count} channels, too few bytes")
    names = []
    for off in range(4, 4 + 12 * min(count, max_items), 12):
        name = data[off : off + 8]
        nul = name.find(b"\x00")
        names.append(text(name if nul < 0 else name[:nul]))
    return names


def _per_length(data: bytes, off: int) -> tuple[int, int]:
    """(length, offset after it) of a PER length determinant (X.691 10.9)."""
    if off >= len(data):
        raise ParseError("rdp gcc user data length missing")
    first = data[off]
    if first < 0x80:
        return first, off + 1
    if first & 0xC0 == 0x80 and off + 1 < len(data):
        return ((first & 0x3F) << 8) | data[off + 1], off + 2
    raise ParseError(f"rdp gcc user data length {first:#04x} not supported")


def connect_initial(tpdu: bytes, max_items: int) -> ConnectInitial | None:
    mcs = _mcs(tpdu, b"\x7f\x65")
    if mcs is None:
        return None
    key = mcs.find(b"Duca")
    if key < 0:
        return ConnectInitial(None, [])
    size, off = _per_length(mcs, key + 4)
    end = off + size
    if end > len(mcs):
        raise ParseError(f"rdp gcc user data of {size} bytes overruns the pdu")
    client = None
    channels: list[str] = []
    while off + 4 <= end:
        kind, length = _le(mcs, off, 2), _le(mcs, off + 2, 2)
        if length < 4 or off + length > end:
            raise ParseError(f"rdp user data block {kind:#06x} of length {length} overruns")
        block = mcs[off + 4 : off + length]
        if kind == 0xC001 and client is None:
            client = client_core(block)
        elif kind == 0xC003:
            channels = _channels(block, max_items)
        off += length
    return ConnectInitial(client, channels)
