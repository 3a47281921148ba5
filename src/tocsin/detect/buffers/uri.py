"""The normalised request URI (`http.uri`), built as Suricata 8's libhtp (Rust) builds it.

`normalized_uri(target, connect)` gives what Suricata 8 inspects as `http.uri`: libhtp's
"partial normalized URI" (path, `?` query, `#` fragment; `uri-include-all` is off in the
default suricata.yaml), with the decoder options of the `IDS` personality that the default
suricata.yaml selects, as Suricata sets them. Sources (OISF/suricata, `rust/htp/src/`):
`uri.rs` (`parse_uri`, `normalized_path`, `generate_normalized_uri`,
`normalize_uri_path_inplace`), `urlencoded.rs` (`path_decode_uri`, `decode_uri`),
`utf8_decoder.rs`, `unicode_bestfit_map.rs`, `config.rs` (`set_server_personality(IDS)`);
`src/app-layer-htp.c` (path lower-casing turned off again after the personality, `+` not
decoded in the query: `query-plusspace-decode` defaults to no).

What is reproduced, in libhtp's order:

1. The request target is split (`parse_uri`): a scheme when the target does not start with
   "/" and holds a ":" (everything before the first ":"), then, after "//", credentials up to
   the first "@" and a hostname / port; then the path (up to "?" or "#"), the query (after
   "?", up to "#"), the fragment (after "#"). A CONNECT target is an authority: no path, so
   no `http.uri` at all. An absolute target "http://host/p?q" gives "/p?q".
2. The path is decoded (`path_decode_uri`, IDS): a "%" and two hex digits is decoded
   (`%00` gives a NUL byte that stays; `%2f` and `%5c` are decoded too,
   `path-separators-decode`); "%u" and four hex digits (`%u0041`) is decoded
   (`u-encoding-decode`): `%u0041` gives byte 0x41, code points above 0xff go through the
   Windows-1252 best-fit map ("?" when unmapped: `%uff0f` is "/"); an invalid or truncated
   escape keeps its "%" and the bytes after it are read as they are. Every byte `\\` becomes
   "/" (`backslash-convert-slashes`); a "/" right after a "/" is dropped
   (`path-separators-compress`). "+" stays "+"; case is kept.
3. The decoded path is read as UTF-8 and converted to single bytes with the best-fit map
   (`utf8-convert-bestfit`, overlong forms accepted, so "%c0%af" is "/"): code points below
   256 become that byte, others the map's byte or "?"; an invalid sequence becomes one "?"
   (the byte that broke it is read again), and an unfinished sequence at the very end becomes
   one "?" per byte after its first (a lone lead byte at the end disappears).
4. Dot segments are removed (`normalize_uri_path_inplace`): "/./" is "/", "/x/../" is "/"
   minus the segment before it, ".." never climbs above the root, and a path ending in "/."
   or "/.." loses it without a trailing "/" ("/a/b/.." is "/a"). Suricata 8's current code
   is this state machine; an older libhtp-rs split the path on "/" instead, which keeps a
   trailing "/" after "/." ("/a/./" is "/a/" there, "/a" here).
5. The query (and the fragment) are URL-decoded (`decode_uri`): both escapes as in the path
   (one decoder configuration is shared, so "%u" escapes are decoded in the query too), nothing
   else: "+" stays, "%2f" becomes "/" without any compression, no dot segment removal.

The result is path + "?" + query (when there is a "?") + "#" + fragment (when there is a
"#"); None when that is empty (Suricata then has no `http.uri` buffer).

Not done: `double-decode-path` / `double-decode-query` (off by default), `uri-include-all`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_REPLACEMENT = 0x3F  # "?": the best-fit map's replacement byte

# libhtp's Windows-1252 best-fit map (bestfit_1252), as (high byte, low byte, byte) triplets:
# the single byte a UCS-2 code point from U+0100 up is read as.
_BESTFIT_TRIPLETS = bytes.fromhex(
    "010041010161010241010361010441010561010643010763010843010963010a43010b63010c43010d63010e44010f64"
    "011164011245011365011445011565011645011765011845011965011a45011b65011c47011d67011e47011f67012047"
    "012167012247012367012448012568012648012768012849012969012a49012b69012c49012d69012e49012f69013049"
    "01316901344a01356a01364b01376b01394c013a6c013b4c013c6c013d4c013e6c01414c01426c01434e01446e01454e"
    "01466e01474e01486e014c4f014d6f014e4f014f6f01504f01516f015452015572015652015772015852015972015a53"
    "015b73015c53015d73015e53015f73016254016374016454016574016654016774016855016975016a55016b75016c55"
    "016d75016e55016f7501705501717501725501737501745701757701765901777901795a017b5a017c7a018062019749"
    "019a6c019f4f01a04f01a16f01ab7401ae5401af5501b07501b67a01c07c01c32101cd4101ce6101cf4901d06901d14f"
    "01d26f01d35501d47501d55501d67501d75501d87501d95501da7501db5501dc7501de4101df6101e44701e56701e647"
    "01e76701e84b01e96b01ea4f01eb6f01ec4f01ed6f01f06a02616702b92702ba2202bc2702c45e02c82702cb6002cd5f"
    "03006003025e03037e030e2203315f03325f037e3b03934703985403a35303a64603a94f03b16103b46403b56503c070"
    "03c37303c47403c66604bb6805893a066a2520002020012020022020032020042020052020062020102d20112d20173d"
    "20322720356020442f207434207535207636207737207838207f6e208030208131208232208333208434208535208636"
    "20873720883820893920a750210243210745210a67210b48210c48210d48210e6821104921114921124c21136c21154e"
    "211850211950211a51211b52211c52211d5221245a21285a212a4b212c42212d43212e65212f6521304521314621334d"
    "21346f22122d22152f22165c22172a221a76221e3822237c22296e22363a223c7e22613d22643d22653d23035e232028"
    "23212923293c232a3e25002d250c2b25102b25142b25182b251c2b252c2d25342d253c2b25502d25522b25532b25542b"
    "25552b25562b25572b25582b25592b255a2b255b2b255c2b255d2b25642d25652d25662d25672d25682d25692d256a2b"
    "256b2b256c2b25845f27587c30002030083c30093e301a5b301b5dff0121ff0222ff0323ff0424ff0525ff0626ff0727"
    "ff0828ff0929ff0a2aff0b2bff0c2cff0d2dff0e2eff0f2fff1030ff1131ff1232ff1333ff1434ff1535ff1636ff1737"
    "ff1838ff1939ff1a3aff1b3bff1c3cff1d3dff1e3eff2040ff2141ff2242ff2343ff2444ff2545ff2646ff2747ff2848"
    "ff2949ff2a4aff2b4bff2c4cff2d4dff2e4eff2f4fff3050ff3151ff3252ff3353ff3454ff3555ff3656ff3757ff3858"
    "ff3959ff3a5aff3b5bff3c5cff3d5dff3e5eff3f5fff4060ff4161ff4262ff4363ff4464ff4565ff4666ff4767ff4868"
    "ff4969ff4a6aff4b6bff4c6cff4d6dff4e6eff4f6fff5070ff5171ff5272ff5373ff5474ff5575ff5676ff5777ff5878"
    "ff5979ff5a7aff5b7bff5c7cff5d7dff5e7e"
)
_BESTFIT: dict[int, int] = {
    (_BESTFIT_TRIPLETS[i] << 8) | _BESTFIT_TRIPLETS[i + 1]: _BESTFIT_TRIPLETS[i + 2]
    for i in range(0, len(_BESTFIT_TRIPLETS), 3)
}


def bestfit(code_point: int) -> int:
    """The single byte libhtp reads a code point as (utf8_decoder.rs `bestfit_codepoint`)."""
    if code_point < 0x100:
        return code_point
    return _BESTFIT.get(code_point, _REPLACEMENT)


# Bjoern Hoehrmann's UTF-8 DFA as libhtp uses it: byte classes from the table that accepts
# overlong forms (C0/C1 and E0/F0 leads take any continuation), transitions from the strict
# table (9 states x 16 classes; 0 accepts, 1 rejects).
_CLASS = bytes(
    [0] * 128
    + [1] * 16
    + [9] * 16
    + [7] * 32
    + [2] * 32
    + [3] * 13
    + [4, 3, 3]
    + [6] * 4
    + [5]
    + [8] * 11
)
_NEXT = bytes(
    [0, 1, 2, 3, 5, 8, 7, 1, 1, 1, 4, 6, 1, 1, 1, 1]  # 0: start
    + [1] * 16  # 1: rejected
    + [1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1]  # 2: one continuation left
    + [1, 2, 1, 1, 1, 1, 1, 2, 1, 2, 1, 1, 1, 1, 1, 1]  # 3: two left
    + [1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1]  # 4: after E0 (strict)
    + [1, 2, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1]  # 5: after ED (no surrogates)
    + [1, 1, 1, 1, 1, 1, 1, 3, 1, 3, 1, 1, 1, 1, 1, 1]  # 6: after F0 (strict)
    + [1, 3, 1, 1, 1, 1, 1, 3, 1, 3, 1, 1, 1, 1, 1, 1]  # 7: three left
    + [1, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]  # 8: after F4 (up to U+10FFFF)
)
assert len(_CLASS) == 256 and len(_NEXT) == 144

_HEX = frozenset(b"0123456789abcdefABCDEF")
_IPV6 = re.compile(rb"\[[^/?#\]]+\]?")
_HOST = re.compile(rb"[^/?#:]+")
_PORT = re.compile(rb":(?> *)([^/?#]+)")
_PATH = re.compile(rb"[^#?]+")
_SLASHES = re.compile(rb"//+")


@dataclass(frozen=True, slots=True)
class RawUri:
    """The parts of a request target as libhtp's `parse_uri` splits it (None: absent)."""

    scheme: bytes | None = None
    username: bytes | None = None
    password: bytes | None = None
    hostname: bytes | None = None
    port: bytes | None = None
    path: bytes | None = None
    query: bytes | None = None
    fragment: bytes | None = None


def parse_uri(target: bytes) -> RawUri:
    """Split a request target the way libhtp-rs does (uri.rs `parse_uri`, parsers.rs)."""
    scheme = username = password = hostname = port = None
    rest = target
    colon = target.find(b":")
    if colon >= 0 and not target.startswith(b"/"):
        scheme, rest = target[:colon], target[colon + 1 :]
        if rest.startswith(b"//") and not rest.startswith(b"///"):
            at = rest.find(b"@", 2)
            if at >= 0:
                credentials, rest = rest[2:at], rest[at + 1 :]
                user, sep, secret = credentials.partition(b":")
                username, password = user, (secret if sep else None)
        h = rest[2:] if rest.startswith(b"//") else rest
        if not h.startswith(b"/"):
            h = h.lstrip(b" ")
            m = (_IPV6 if h.startswith(b"[") else _HOST).match(h)
            if m is not None:
                hostname, rest = m.group().rstrip(b" "), h[m.end() :]
                p = _PORT.match(rest)
                if p is not None:
                    port, rest = p.group(1).split(b" ", 1)[0], rest[p.end() :]
    path = query = fragment = None
    m = _PATH.match(rest)
    if m is not None:
        path, rest = m.group(), rest[m.end() :]
    if rest.startswith(b"?"):
        end = rest.find(b"#")
        end = len(rest) if end < 0 else end
        query, rest = rest[1:end], rest[end:]
    if rest.startswith(b"#"):
        fragment = rest[1:]
    return RawUri(scheme, username, password, hostname, port, path, query, fragment)


def normalized_uri(target: bytes | None, connect: bool = False) -> bytes | None:
    """Suricata 8's `http.uri` for a request target (see the module docstring); None when
    there is none (no target, a CONNECT authority, nothing left after normalisation)."""
    if target is None or connect:
        return None
    raw = parse_uri(target)
    out = normalize_path(raw.path) if raw.path is not None else b""
    if raw.query is not None:
        out += b"?" + decode_uri(raw.query)
    if raw.fragment is not None:
        out += b"#" + decode_uri(raw.fragment)
    return out or None


def normalize_path(path: bytes) -> bytes:
    """Steps 2 to 4 of the module docstring for a path."""
    if b"%" in path or b"\\" in path or b"//" in path:
        path = _decode_path(path)
    if not path.isascii():
        path = _utf8_bestfit(path)
    if path.startswith(b".") or b"/." in path:  # otherwise there is no dot segment
        path = remove_dot_segments(path)
    return path


def _u_escape(data: bytes, j: int) -> int | None:
    """The byte of a valid "%u" escape (four hex digits) whose "u" is at `j`, decoded as
    libhtp decodes it, or None."""
    hexs = data[j + 1 : j + 5]
    if len(hexs) != 4 or not _HEX.issuperset(hexs):
        return None
    high, low = int(hexs[:2], 16), int(hexs[2:], 16)
    return low if high == 0 else _BESTFIT.get(high << 8 | low, _REPLACEMENT)


def _escape(data: bytes, j: int) -> tuple[int, int]:
    """(byte, where to go on) for the "%" just before `j`; an invalid escape gives "%" and
    leaves the bytes after it to be read as they are (PRESERVE_PERCENT)."""
    if data[j : j + 1] in (b"u", b"U"):
        byte = _u_escape(data, j)
        return (0x25, j) if byte is None else (byte, j + 5)
    pair = data[j : j + 2]
    if len(pair) == 2 and _HEX.issuperset(pair):
        return int(pair, 16), j + 2
    return 0x25, j


def _decode_path(path: bytes) -> bytes:
    """Step 2: the escapes decoded as in the query, then every `\\` (decoded or not) a "/"
    (backslash-convert-slashes), then each run of "/" one "/" (path-separators-compress)."""
    return _SLASHES.sub(b"/", decode_uri(path).replace(b"\\", b"/"))


def decode_uri(data: bytes) -> bytes:
    """URL-decoding of a query or fragment (urlencoded.rs `decode_uri`, step 5)."""
    if b"%" not in data:
        return data
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        byte = data[i]
        if byte == 0x25:
            byte, i = _escape(data, i + 1)
        else:
            i += 1
        out.append(byte)
    return bytes(out)


def _utf8_bestfit(data: bytes) -> bytes:
    """Step 3: utf8_decoder.rs `decode_and_validate` with best-fit conversion."""
    out = bytearray()
    state = seq = code_point = 0
    last = len(data) - 1
    for index, byte in enumerate(data):
        while True:
            seq += 1
            cls = _CLASS[byte]
            code_point = (byte & 0x3F) | (code_point << 6) if state else (0xFF >> cls) & byte
            state = _NEXT[state * 16 + cls]
            if state == 0:  # a character: ASCII as is, others best-fit
                out.append(code_point if seq == 1 else bestfit(code_point))
                seq = 0
            elif state == 1:  # invalid: one replacement; a byte that broke a sequence restarts
                state = code_point = 0
                out.append(_REPLACEMENT)
                if seq != 1:
                    seq = 0
                    continue
                seq = 0
            elif index == last:  # unfinished at the end
                out.extend(bytes([_REPLACEMENT]) * (seq - 1))
            break
    return bytes(out)


# remove_dot_segments states (uri.rs NormUriState)
_START, _DOT, _DOTDOT, _SLASH, _SLASH_DOT, _SLASH_DOTDOT, _SLASH_DOTDOT_SLASH, _REGULAR = range(8)


def remove_dot_segments(path: bytes) -> bytes:
    """Step 4: uri.rs `normalize_uri_path_inplace` (RFC 3986 section 5.2.4, libhtp's way)."""
    out = bytearray()
    state = _START
    for c in path:
        if state == _START:
            if c == 0x2E:
                state = _DOT
            elif c == 0x2F:
                state = _SLASH
            else:
                out.append(c)
                state = _REGULAR
        elif state == _DOT:  # "./" at the start is dropped
            if c == 0x2E:
                state = _DOTDOT
            elif c == 0x2F:
                state = _START
            else:
                out += bytes((0x2E, c))
                state = _REGULAR
        elif state == _DOTDOT:  # "../" at the start is dropped
            if c == 0x2F:
                state = _START
            else:
                out += bytes((0x2E, 0x2E, c))
                state = _REGULAR
        elif state in (_SLASH, _SLASH_DOTDOT_SLASH):
            if c == 0x2E:
                state = _SLASH_DOT
            else:
                out += bytes((0x2F, c))
                state = _REGULAR
        elif state == _SLASH_DOT:
            if c == 0x2F:  # "/./" is "/"
                state = _SLASH_DOTDOT_SLASH
            elif c == 0x2E:
                state = _SLASH_DOTDOT
            else:
                out += bytes((0x2F, 0x2E, c))
                state = _REGULAR
        elif state == _SLASH_DOTDOT:
            if c == 0x2F:  # "/../": drop the last segment
                _drop_segment(out)
                state = _SLASH_DOTDOT_SLASH
            else:
                out += bytes((0x2F, 0x2E, 0x2E, c))
                state = _REGULAR
        elif c == 0x2F:  # _REGULAR
            state = _SLASH
        else:
            out.append(c)
    if state == _SLASH:
        out.append(0x2F)
    elif state == _SLASH_DOTDOT:
        _drop_segment(out)
    return bytes(out)


def _drop_segment(out: bytearray) -> None:
    cut = out.rfind(b"/")
    del out[max(cut, 0) :]
