"""HTTP/1.x message heads (RFC 9112 §3-5), read the way libhtp (Suricata's HTTP parser) reads them.

Pure functions over `bytes`; no state, no I/O, nothing raised: what cannot be read comes back as
`None` and the caller (`parser.py`) decides.

- `parse_request_line(line)`: method, request target (raw), protocol. Spaces inside the target
  are kept ("GET /a b HTTP/1.1" has target "/a b": the protocol is the last word, as libhtp does
  with `allow_space_uri`). A line without protocol is HTTP/0.9 form. `None` when the line is
  not a request line (the method is not a token, or the line is neither a known method nor
  ends with an "HTTP..." protocol).
- `parse_status_line(line)`: protocol, status text, status number (only when 3 digits,
  100-999), as libhtp: "HTTP/1.0 2XX OK" has status text "2XX" and no number; the reason
  phrase is what follows the status word and its whitespace ("OK").
- `Headers` / `parse_fields(block, response)`: header fields of a head. Names and values are
  trimmed; a folded line (starting with SP/HT) is joined to the previous value with its first
  whitespace byte; a line without colon is a field with an empty name. A repeated name is merged
  into the first one with ", " (libhtp's table, which Suricata logs), except Content-Length,
  where the first value is kept.
- `host_port(value)`: lowercase hostname and port (1-65535) of a Host header or an authority.
- `uri_host_port(uri)`: the same from an absolute request target ("http://h:8080/x"); trailing
  dots removed, as libhtp normalises URI hostnames.
- `content_length`, `chunk_size`, `content_range`: numbers in those fields.
- `skip_blank_lines`, `request_like`, `split_head`, `tunnel_carries_http`: where messages
  start and what a tunnel carries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WS = b" \t\r\n\x0b\x0c"  # libhtp's is_space()
_TCHAR = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# libhtp's method table (request.rs HtpMethod); only used to accept protocol-less
# (HTTP/0.9 form) lines and to tell HTTP from other bytes in a CONNECT tunnel.
KNOWN_METHODS = frozenset(
    b"GET PUT POST DELETE CONNECT OPTIONS TRACE PATCH PROPFIND PROPPATCH MKCOL COPY MOVE LOCK "
    b"UNLOCK VERSION-CONTROL CHECKOUT UNCHECKOUT CHECKIN UPDATE LABEL REPORT MKWORKSPACE "
    b"MKACTIVITY BASELINE-CONTROL MERGE INVALID HEAD".split()
)

_REQUEST = re.compile(rb"[ \t\r\n\x0b\x0c]*([^ \t\r\n\x0b\x0c]+)[ \t\r\n\x0b\x0c]*(.*)", re.S)
_STATUS = re.compile(
    rb"[ \t\r\n\x0b\x0c\x00]*([^ \t\r\n\x0b\x0c]*)([ \t\r\n\x0b\x0c]*)([^ \t\r\n\x0b\x0c]*)"
    rb"[ \t\r\n\x0b\x0c]*(.*)",
    re.S,
)
_RESPONSE_HINT = re.compile(rb"[ \t\r\n\x0b\x0c\x00]*[Hh][Tt][Tt][Pp]")
_DIGITS = re.compile(rb"[^0-9]*([0-9]+)")
_HEX = re.compile(rb"[ \t\r\n\x0b\x0c]*([0-9a-fA-F]+)")
_IPV6 = re.compile(rb"\[[^/?#\]]+\]?")
_HOST = re.compile(rb"[^/?#:]+")
_PORT = re.compile(rb":[ ]*([^/?#]+)")
_RANGE = re.compile(rb"\s*(?:bytes\s+)?(?:\*|([0-9]+)-([0-9]+))/(\*|[0-9]+)\s*$", re.I)
_FIELD = re.compile(rb"([^\r\n:]*):([^\r\n]*)\r?\n")
# A response line end, as libhtp reads them (take_till_eol, complete_eol): CRLF, LF, a lone CR,
# LF CR; "CRLF CR <CR/SP/HT>... [LF]" and "LF CR CRLF" before another line end are one deformed
# line end. A line holding only blanks ends the head when a bare LF or CR ends it; ended by
# CRLF it is an empty folded line (libhtp's header value parser).
_EOL = rb"(?>\r\n\r[\r \t]+\n?(?!\r?\n)|\n\r\r\n(?=\r?\n)|\r\n|\n\r(?!\n)|\n|\r)"
RESPONSE_EOL = re.compile(_EOL)
REQUEST_EOH = re.compile(rb"(\n)(?:\r?\n|[ \t]+\n)")


def response_head_end(buf: bytes, start: int) -> tuple[int, int, int]:
    """Find the end of a response head in `buf`, reading line ends from `start` (the first
    line end of the head, or a line end where a previous search stopped) one after the other.
    Returns (end of the last field line, end of the head, -1) when found, or (-1, -1, resume):
    `resume` is where to read from when more bytes came."""
    prev_start = prev_end = -1
    for m in RESPONSE_EOL.finditer(buf, start):
        s, e = m.span()
        if prev_end >= 0:
            between = buf[prev_end:s]
            if not between:
                break
            if not between.strip(b" \t") and e - s == 1:  # blanks, then a bare LF or CR
                if buf[e : e + 1] == b"\n" and e - s == 1:
                    e += 1  # libhtp: "LF SP LF LF" ends the head after the last LF
                break
        prev_start, prev_end = s, e
    else:
        return -1, -1, prev_start if prev_start >= 0 else start
    if e == len(buf) and buf[e - 1] == 0x0D:  # a CR at the end may be half a CRLF
        return -1, -1, prev_start
    return prev_end, e, -1


FIELD_LINE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+[ \t]*:")
_FOLDED_NAME = re.compile(rb"[ \t]+[!#$%&'*+\-.^_`|~0-9A-Za-z]+[ \t]*:")

MAX_CHUNK = 0x7FFFFFFF  # libhtp refuses larger chunk sizes


@dataclass(frozen=True, slots=True)
class RequestLine:
    method: bytes
    uri: bytes | None  # None: the line holds a method only
    protocol: bytes | None  # None: HTTP/0.9 form (no protocol word)


@dataclass(frozen=True, slots=True)
class StatusLine:
    protocol: bytes
    status: bytes | None  # the status word as sent ("200", "2XX")
    code: int | None  # the status number when the word is 3 digits, 100-999
    message: bytes = b""  # the reason phrase as sent ("OK"), b"" when there is none


def is_token(word: bytes) -> bool:
    return bool(word) and not word.translate(None, _TCHAR)


def parse_request_line(line: bytes, lenient: bool = False) -> RequestLine | None:
    """The parts of a request line (without its line end); `None` if it is not one. With
    `lenient`, any token is accepted as method (the caller has seen header fields follow)."""
    m = _REQUEST.match(line)
    if m is None:
        return None
    method, rest = m.group(1), m.group(2).rstrip(WS)
    if not is_token(method) or len(method) > 64:
        return None
    known = lenient or method in KNOWN_METHODS
    if not rest:
        return RequestLine(method, None, None) if known else None
    cut = rest.rfind(b" ")
    if cut < 0 and rest.translate(None, WS) != rest:  # tab or other non-SP delimiter
        cut = max(rest.rfind(c) for c in (b"\t", b"\x0b", b"\x0c", b"\r"))
    if cut < 0:
        uri, protocol = rest, b""
    else:
        uri, protocol = rest[:cut].strip(WS), rest[cut + 1 :].strip(WS)
    if not protocol:
        return RequestLine(method, uri, None) if known else None
    if not known and protocol[:4].upper() != b"HTTP":
        return None
    return RequestLine(method, uri, protocol)


def looks_like_response(start: bytes) -> bool:
    """True if a response line starts here ("HTTP" after optional whitespace, any case), as
    browsers and libhtp judge it; anything else is headerless body data."""
    return _RESPONSE_HINT.match(start) is not None


def parse_status_line(line: bytes) -> StatusLine:
    m = _STATUS.match(line)
    assert m is not None  # every group can be empty
    protocol, ws, status = m.group(1), m.group(2), m.group(3)
    if not ws or not status:
        return StatusLine(protocol, None, None)
    code = int(status) if len(status) == 3 and status.isdigit() else None
    if code is not None and code < 100:
        code = None
    return StatusLine(protocol, status, code, m.group(4))


class Headers:
    """Header fields in order of first appearance, names matched without case."""

    __slots__ = ("_index", "items")

    def __init__(self) -> None:
        self.items: list[list[bytes]] = []  # [name, value], name as first sent
        self._index: dict[bytes, int] = {}

    def add(self, name: bytes, value: bytes) -> None:
        key = name.lower().replace(b"\0", b"")  # libhtp ignores NUL bytes in names
        i = self._index.get(key)
        if i is None:
            self._index[key] = len(self.items)
            self.items.append([name, value])
        elif key != b"content-length":
            item = self.items[i]
            item[1] = item[1] + b", " + value

    def get(self, lname: bytes) -> bytes | None:
        """The value of field `lname` (lowercase), merged over repeats; NUL bytes in names
        do not count."""
        i = self._index.get(lname)
        return None if i is None else self.items[i][1]

    def __len__(self) -> int:
        return len(self.items)


def parse_fields(block: bytes, response: bool) -> Headers:
    """The fields of `block`: the head's bytes after the start line, up to the empty line
    (excluded). Request lines end with LF or CRLF; response lines also with a lone CR (or
    LF CR), as libhtp and browsers read them."""
    headers = Headers()
    plain = block.count(b"\r") == block.count(b"\r\n") and b"\n\r" not in block
    folds = b"\n " in block or b"\n\t" in block or b"\n\0" in block
    if plain and not folds and block[:1] not in b" \t\0":
        pairs = _FIELD.findall(block)
        if len(pairs) == block.count(b"\n") and block.endswith(b"\n"):  # common case
            for raw_name, raw_value in pairs:
                headers.add(raw_name.strip(WS), raw_value.strip(WS))
            return headers
    lines = RESPONSE_EOL.split(block) if response and not plain else block.split(b"\n")
    name: bytes | None = None
    value = b""
    for line in lines:
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            continue
        folded = line[0] in b" \t\0" and name is not None  # libhtp folds on NUL too
        if folded and not (response and _FOLDED_NAME.match(line)):
            more = line.strip(WS)
            if not name and more.startswith(b":"):  # "Name" LF SP ":value": libhtp's name()
                name, value = value, more[1:].strip(WS)
            elif more:
                value = value + line[:1] + more if value else more
            continue
        if name is not None:
            headers.add(name, value)
        colon = line.find(b":")
        if colon < 0:
            name, value = b"", line.strip(WS)
        else:
            name, value = line[:colon].strip(WS), line[colon + 1 :].strip(WS)
    if name is not None:
        headers.add(name, value)
    return headers


def _port(text: bytes) -> int | None:
    word = text.strip(b" ").split(b" ", 1)[0]
    if not word.isdigit() or len(word) > 5:
        return None
    port = int(word)
    return port if 0 < port < 65536 else None


def _hostname(value: bytes) -> tuple[bytes | None, int | None, bytes]:
    """(hostname as sent, port, rest): libhtp's hostname() then port() parsers."""
    if value.startswith(b"//"):
        value = value[2:]
    if value.startswith(b"/"):
        return None, None, value
    value = value.lstrip(b" ")
    m = (_IPV6 if value.startswith(b"[") else _HOST).match(value)
    if m is None:
        return None, None, value
    host, rest = m.group().rstrip(b" "), value[m.end() :]
    port = None
    p = _PORT.match(rest)
    if p is not None:
        port = _port(p.group(1))
        rest = rest[p.end() :]
    return (host or None), port, rest


def host_port(value: bytes) -> tuple[bytes | None, int | None]:
    """Hostname (lowercase) and port of a Host header value or a CONNECT authority."""
    host, port, _ = _hostname(value.strip(WS))
    return (host.lower() if host is not None else None), port


def uri_host_port(uri: bytes) -> tuple[bytes | None, int | None]:
    """Hostname and port of an absolute request target; (None, None) for origin form."""
    if uri.startswith(b"/"):
        return None, None
    colon = uri.find(b":")
    if colon < 0:
        return None, None
    rest = uri[colon + 1 :]
    if rest.startswith(b"//") and not rest.startswith(b"///"):
        end = len(rest)
        for c in b"/?#":
            i = rest.find(bytes((c,)), 2)
            if 0 <= i < end:
                end = i
        at = rest.rfind(b"@", 2, end)
        if at >= 0:
            rest = rest[at + 1 :]
    host, port, _ = _hostname(rest)
    if host is None:
        return None, None
    host = host.lower().rstrip(b".")
    return (host or None), port


def content_length(value: bytes) -> int | None:
    """A Content-Length value. As libhtp: bytes before the first digit and after the digits are
    tolerated ("-1" is 1, as IIS reads it); None without digits or above 2**64-1."""
    m = _DIGITS.match(value)
    if m is None:
        return None
    digits = m.group(1).lstrip(b"0") or b"0"
    if len(digits) > 20:
        return None
    size = int(digits)
    return size if size < 1 << 64 else None


def chunk_size(line: bytes) -> int | None:
    """The size on a chunk-size line (extensions and junk after the hex digits ignored);
    -1 for a blank line (skipped), None if invalid."""
    m = _HEX.match(line)
    if m is None:
        return -1 if not line.strip(WS) else None
    digits = m.group(1).lstrip(b"0") or b"0"
    if len(digits) > 16:
        return None
    size = int(digits, 16)
    return size if size <= MAX_CHUNK else None


def content_range(value: bytes) -> tuple[int | None, int | None, int | None]:
    """(start, end, size) of a Content-Range value ("bytes 0-99/1000", "*/1000");
    None for a part that is absent or '*'."""
    m = _RANGE.match(value)
    if m is None:
        return None, None, None
    start = int(m.group(1)) if m.group(1) is not None else None
    end = int(m.group(2)) if m.group(2) is not None else None
    size = int(m.group(3)) if m.group(3) != b"*" else None
    return start, end, size


def skip_blank_lines(buf: bytes, pos: int) -> int:
    """`pos` moved past complete empty (whitespace-only) lines."""
    while True:
        nl = buf.find(b"\n", pos)
        if nl < 0 or buf[pos:nl].strip(WS):
            return pos
        pos = nl + 1


def request_like(start: bytes) -> bool:
    """Could `start` (the first bytes of a line, no line end yet) begin a request line?"""
    word = start.lstrip(WS).split(None, 1)
    if not word:
        return True
    if len(word) == 1:  # no delimiter yet: a method being received, if short
        return len(start) < 33 and is_token(word[0])
    return is_token(word[0]) and len(word[0]) <= 64


_METHOD_PREFIXES = frozenset(m[:k] for m in KNOWN_METHODS for k in range(1, len(m) + 1))


def tunnel_carries_http(buf: bytes, pos: int) -> bool | None:
    """Do the client's first bytes in a CONNECT tunnel start an HTTP request (a known method
    and a space)? None while too few bytes have come to tell."""
    word = buf[pos : pos + 24].split(None, 1)
    if len(buf) - pos < 24 and len(word) < 2 and word and word[0] in _METHOD_PREFIXES:
        return None
    return len(word) == 2 and word[0] in KNOWN_METHODS


def split_head(buf: bytes, response: bool) -> tuple[bytes, bytes]:
    """(start line, field lines) of a head that may be unfinished (the connection closed)."""
    start = skip_blank_lines(buf, 0)
    if response:
        eol = RESPONSE_EOL.search(buf, start)
        nl, after = eol.span() if eol is not None else (len(buf), len(buf))
    else:
        nl = buf.find(b"\n", start)
        nl, after = (len(buf), len(buf)) if nl < 0 else (nl, nl + 1)
    return buf[start:nl].rstrip(b"\r"), buf[after:]
