"""Transformations: keywords that rewrite a sticky buffer before its payload keywords run.

`http.uri; url_decode; to_lowercase; content:"select"` inspects the URI decoded, then lower-cased.
The transforms follow a sticky buffer and apply in rule order, each one's output the next one's
input; the payload keywords after them, and the fast pattern prefilter, see the result.

**Buffer keys.** A transformed buffer is a buffer of its own, named by a key: the canonical buffer
name, then each transform's spec, joined by `|` (`"dns.query|dotprefix"`,
`"http.uri|url_decode|to_lowercase"`, `"http.request_body|xor:0d0ac8ff"`). `split_key` gives the
parts back; a plain buffer name is its own key with no transforms. A spec is the keyword, then
for `xor` and `from_base64` a canonical form of its options after `:` (never a `|`).

**Validation** (`parse_spec`, `incompatible`), as Suricata 8.0.0 does it: option errors, and a
non-negated `content` a transform can never produce (`strip_whitespace` with whitespace in it,
`compress_whitespace` with two whitespace bytes in a row, `to_lowercase` with an upper-case
letter, `to_uppercase` with a lower-case one). The parser turns the `ValueError` into a skipped
rule. Where transforms may stand in a rule (right after a sticky buffer) is the parser's business.

**Semantics** (`apply`), from Suricata's `rust/src/detect/transforms/*.rs` and
`src/detect-transform-base64.c` (8.0.0): every transform leaves an empty buffer empty;

- `dotprefix`: a `.` before the buffer;
- `strip_whitespace`: drops space, tab, LF, FF and CR (Rust's `is_ascii_whitespace`: not VT);
- `compress_whitespace`: each run of space, tab, LF, VT, FF, CR becomes its *first* byte;
- `to_lowercase` / `to_uppercase`: ASCII letters only;
- `url_decode`: `%HH` decoded, `+` becomes a space; a `%` not followed by two hex digits is
  kept with the next byte as it is (that byte does not start an escape);
- `to_md5` / `to_sha1` / `to_sha256`: the raw digest;
- `header_lowercase`: header names (each line up to its first `:`) lower-cased;
- `strip_pseudo_headers`: lines starting with `:` removed (HTTP/2 pseudo headers);
- `xor:"<hex key>"`: each byte XORed with the key, repeated (1 to 255 bytes);
- `from_base64[:bytes N, offset N, mode rfc4648|rfc2045|strict]`: decodes `bytes` bytes (all
  with 0) from `offset`; an offset or byte count past the buffer end, or nothing decoded,
  leaves the buffer unchanged. rfc4648 (the default) stops at the first byte outside the
  alphabet and `=` and pads a partial last group; rfc2045 skips such bytes and drops a partial
  last group; strict refuses anything but canonical, padded base64. A group with `=` in its
  first two places spoils the whole decode (nothing decoded).

Not here: `pcrexform`, `domain`, `tld`, `luaxform`, `gunzip`, `zlib_deflate` (the parser says
"keyword not supported"), the variable keys of `xor` (Suricata 9).
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Callable
from functools import lru_cache

SEP = "|"  # between a buffer name and its transforms in a buffer key
MAX_TRANSFORMS = 16  # Suricata's DETECT_TRANSFORMS_MAX

Transform = Callable[[bytes], bytes]

# --- buffer keys ------------------------------------------------------------------------------


def split_key(key: str) -> tuple[str, tuple[str, ...]]:
    """A buffer key's buffer name and transform specs (none for a plain buffer name)."""
    if SEP not in key:
        return key, ()
    base, *specs = key.split(SEP)
    return base, tuple(specs)


def join_key(base: str, specs: tuple[str, ...] | list[str]) -> str:
    """The key of buffer `base` transformed by `specs`, in order."""
    return SEP.join((base, *specs))


def apply(specs: tuple[str, ...], value: bytes) -> bytes:
    """`value` through each transform of `specs` in turn (specs from `parse_spec`)."""
    for spec in specs:
        if not value:
            break  # every transform leaves an empty buffer as it is
        value = _compiled(spec)(value)
    return value


# --- the transforms ---------------------------------------------------------------------------

_STRIP = b" \t\n\x0c\r"
_SPACE_RUN = re.compile(rb"([\t\n\x0b\x0c\r ])[\t\n\x0b\x0c\r ]+")
_URL = re.compile(rb"%([0-9A-Fa-f]{2})|%([0-9A-Fa-f]?[\s\S])|%([0-9A-Fa-f]?)\Z|\+")


def dotprefix(v: bytes) -> bytes:
    return b"." + v


def strip_whitespace(v: bytes) -> bytes:
    return v.translate(None, _STRIP)


def compress_whitespace(v: bytes) -> bytes:
    return _SPACE_RUN.sub(rb"\1", v)


def to_lowercase(v: bytes) -> bytes:
    return v.lower()


def to_uppercase(v: bytes) -> bytes:
    return v.upper()


def _url_sub(m: re.Match[bytes]) -> bytes:
    hx = m.group(1)
    if hx is not None:
        return bytes((int(hx, 16),))
    if m.group(0) == b"+":
        return b" "
    return m.group(0)  # `%` without two hex digits: kept, with the byte after it


def url_decode(v: bytes) -> bytes:
    return _URL.sub(_url_sub, v)


def to_md5(v: bytes) -> bytes:
    return hashlib.md5(v).digest()


def to_sha1(v: bytes) -> bytes:
    return hashlib.sha1(v).digest()


def to_sha256(v: bytes) -> bytes:
    return hashlib.sha256(v).digest()


def header_lowercase(v: bytes) -> bytes:
    out = []
    for line in _lines(v):
        colon = line.find(b":")
        out.append(line.lower() if colon < 0 else line[:colon].lower() + line[colon:])
    return b"".join(out)


def strip_pseudo_headers(v: bytes) -> bytes:
    return b"".join(line for line in _lines(v) if not line.startswith(b":"))


def _lines(v: bytes) -> list[bytes]:
    """`v` cut after each LF (only LF ends a line here, as in Suricata's split_inclusive)."""
    parts = v.split(b"\n")
    lines = [p + b"\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def xor(key: bytes) -> Transform:
    def run(v: bytes) -> bytes:
        n = len(v)
        k = (key * (n // len(key) + 1))[:n]
        return (int.from_bytes(v, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")

    return run


_SIMPLE: dict[str, Transform] = {
    "dotprefix": dotprefix,
    "strip_whitespace": strip_whitespace,
    "compress_whitespace": compress_whitespace,
    "to_lowercase": to_lowercase,
    "to_uppercase": to_uppercase,
    "url_decode": url_decode,
    "to_md5": to_md5,
    "to_sha1": to_sha1,
    "to_sha256": to_sha256,
    "header_lowercase": header_lowercase,
    "strip_pseudo_headers": strip_pseudo_headers,
}
# every transform keyword: those without options, and xor (a key) and from_base64 (options)
NAMES = frozenset({*_SIMPLE, "xor", "from_base64"})


# --- from_base64 ------------------------------------------------------------------------------

_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_MAP = bytes(_B64.index(c) if c in _B64 else (0xFE if c == 0x3D else 0xFF) for c in range(256))
_PAD, _BAD = 0xFE, 0xFF
_NOT_B64 = bytes(c for c in range(256) if _B64_MAP[c] == _BAD)
_B64_RUN = re.compile(rb"[A-Za-z0-9+/=]*")
_MODES = ("rfc4648", "rfc2045", "strict")


class _Spoiled(Exception):
    """A group with `=` where a digit must be: the decode gives nothing."""


def _group(q: list[int], out: bytearray) -> None:
    """One 4-character group (values from `_B64_MAP`) onto `out`."""
    a, b, c, d = q
    if a == _PAD or b == _PAD:
        raise _Spoiled
    out.append(((a << 2) | (b >> 4)) & 0xFF)
    if c == _PAD:
        return
    out.append(((b << 4) | (c >> 2)) & 0xFF)
    if d == _PAD:
        return
    out.append(((c << 6) | d) & 0xFF)


def _b64_rfc4648(data: bytes) -> bytes:
    limit = len(data) * 3 // 4
    run = _B64_RUN.match(data)
    data = run.group(0) if run is not None else b""
    whole = len(data) // 4 * 4
    if b"=" not in data[:whole]:  # the common case: binascii for the whole groups
        out = bytearray(binascii.a2b_base64(data[:whole]))
        data = data[whole:]
    else:
        out = bytearray()
    q: list[int] = []
    for ch in data:
        q.append(_B64_MAP[ch])
        if len(q) == 4:
            _group(q, out)
            q = []
    if q and len(out) < limit:  # a partial last group, padded while there is room
        while len(q) < 4 and len(out) < limit:
            q.append(_PAD)
        if len(q) == 4:
            _group(q, out)
    return bytes(out)


def _b64_rfc2045(data: bytes) -> bytes:
    data = data.translate(None, _NOT_B64)
    data = data[: len(data) // 4 * 4]  # a partial last group is dropped
    if b"=" not in data:
        return binascii.a2b_base64(data)
    out = bytearray()
    for i in range(0, len(data), 4):
        _group([_B64_MAP[c] for c in data[i : i + 4]], out)
    return bytes(out)


def _b64_strict(data: bytes) -> bytes:
    try:
        return binascii.a2b_base64(data, strict_mode=True)
    except binascii.Error:
        return b""


_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "rfc4648": _b64_rfc4648,
    "rfc2045": _b64_rfc2045,
    "strict": _b64_strict,
}


def from_base64(nbytes: int, offset: int, mode: str) -> Transform:
    decode = _DECODERS[mode]

    def run(v: bytes) -> bytes:
        if offset > len(v):
            return v
        data = v[offset:]
        if nbytes:
            if nbytes > len(data):
                return v
            data = data[:nbytes]
        try:
            got = decode(data)
        except _Spoiled:
            return v
        return got or v

    return run


# --- specs: parsing, validation, compilation -------------------------------------------------


def parse_spec(name: str, value: str | None) -> str:
    """The canonical spec of transform keyword `name` with its option value (quotes already
    removed), for a buffer key. `ValueError` (the reason) for an unknown transform or bad
    options."""
    if name in _SIMPLE:
        if value is not None and value.strip():
            raise ValueError(f"{name} takes no value")
        return name
    if name == "xor":
        return f"xor:{_xor_key(value or '').hex()}"
    if name == "from_base64":
        nbytes, offset, mode = _base64_options(value or "")
        opts = [f"bytes {nbytes}"] if nbytes else []
        opts += [f"offset {offset}"] if offset else []
        opts += [f"mode {mode}"] if mode != "rfc4648" else []
        return "from_base64:" + ",".join(opts) if opts else "from_base64"
    raise ValueError(f"unknown transform {name!r}")


def _xor_key(text: str) -> bytes:
    t = text.strip()
    if len(t) % 2:
        raise ValueError("the XOR key's length must be an even number")
    if len(t) // 2 > 255:
        raise ValueError("the XOR key is too long (at most 255 bytes)")
    if not t:
        raise ValueError("the XOR key is empty")
    try:
        return bytes.fromhex(t)
    except ValueError:
        raise ValueError("the XOR key must be hexadecimal characters only") from None


def _base64_options(text: str) -> tuple[int, int, str]:
    """from_base64's `bytes N, offset N, mode M` (each at most once, any order)."""
    nbytes, offset, mode = 0, 0, "rfc4648"
    if not text.strip():
        return nbytes, offset, mode
    parts = [p.strip() for p in text.split(",")]
    if len(parts) > 3:
        raise ValueError(f"at most 3 options (bytes, offset, mode): {text.strip()!r}")
    seen: set[str] = set()
    for part in parts:
        key, _, val = part.partition(" ")
        val = val.strip()
        if key not in ("bytes", "offset", "mode"):
            raise ValueError(f"unknown base64 keyword: {key!r}")
        if key in seen:
            raise ValueError(f"{key} already set")
        seen.add(key)
        if key == "mode":
            if val not in _MODES:
                raise ValueError(f"invalid mode value: {val!r} (rfc4648, rfc2045 or strict)")
            mode = val
            continue
        if not val.isdigit():
            raise ValueError(f"{key} value must be a number, not {val!r}")
        n = int(val)
        if n > 65535:
            raise ValueError(f"invalid {key} value: must be between 0 and 65535: {n}")
        if key == "bytes":
            nbytes = n
        else:
            offset = n
    return nbytes, offset, mode


@lru_cache(maxsize=4096)
def _compiled(spec: str) -> Transform:
    """The function of one spec (`parse_spec`'s output)."""
    fn = _SIMPLE.get(spec)
    if fn is not None:
        return fn
    name, _, opts = spec.partition(":")
    if name == "xor":
        return xor(bytes.fromhex(opts))
    if name == "from_base64":
        nbytes, offset, mode = _base64_options(opts)
        return from_base64(nbytes, offset, mode)
    raise ValueError(f"unknown transform {spec!r}")


def _has_space_run(p: bytes) -> bool:
    return _SPACE_RUN.search(p) is not None


# transform -> the content patterns it can never produce (Suricata's TransformValidate)
_NEVER: dict[str, Callable[[bytes], bool]] = {
    "strip_whitespace": lambda p: any(c in _STRIP for c in p),
    "compress_whitespace": _has_space_run,
    "to_lowercase": lambda p: any(65 <= c <= 90 for c in p),
    "to_uppercase": lambda p: any(97 <= c <= 122 for c in p),
}


def incompatible(specs: tuple[str, ...], pattern: bytes) -> str | None:
    """The first transform of `specs` that can never produce a buffer holding `pattern` (a
    non-negated content's bytes), or None."""
    for spec in specs:
        never = _NEVER.get(spec)
        if never is not None and never(pattern):
            return spec
    return None
