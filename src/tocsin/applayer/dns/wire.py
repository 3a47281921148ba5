"""DNS wire reading shared by the message decoder: names and the text forms of bytes.

- `read_name`: a (possibly compressed) name, with Suricata 8's rules and bounds: labels joined
  with ".", case and bytes kept, the root name is ""; pointers may point anywhere in the
  message (forward too); a pointer to itself ends the name if a pointer was already followed
  (else `ParseError`); after 255 labels + pointers the name is cut and flagged if a pointer was
  followed (else `ParseError`): that ends pointer loops; a name over 1025 bytes is cut to 1025
  and flagged. Label types 0x40 and 0x80 are errors.
- `Names`: per-message memory of the names read through a leading pointer, and a work bound
  (4 steps per message byte + 1024) that real messages never reach: a message made of
  thousands of pointers into a loop raises `ParseError` instead of costing 255 steps each.
- `text`, `address`: bytes as Suricata writes them in EVE.
"""

from __future__ import annotations

from tocsin.applayer.base import ParseError

MAX_NAME = 1025  # Suricata (and dnsmasq): longest name kept, in bytes
MAX_STEPS = 255  # labels + pointers followed per name


def text(raw: bytes) -> str:
    """Bytes as Suricata writes them in EVE (`set_string_from_bytes`): valid UTF-8 as is,
    otherwise ASCII bytes kept and every byte >= 0x80 written as the four characters `\\xNN`."""
    if raw.isascii():
        return raw.decode("ascii")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("ascii", "backslashreplace")


def address(raw: bytes) -> str:
    """A/AAAA rdata as Suricata 8 writes it: dotted quad, or 8 groups of 4 hex digits."""
    if len(raw) == 4:
        return f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"
    if len(raw) == 16:
        h = raw.hex()
        return ":".join((h[0:4], h[4:8], h[8:12], h[12:16], h[16:20], h[20:24], h[24:28], h[28:]))
    return ""


class Names:
    """Per-message name state: names read through a leading pointer, by target (such a name
    does not depend on where the pointer is, and most record names are one), and the steps
    (labels + pointers) left to walk, 4 per message byte + 1024: far above what any real
    message needs, it bounds messages made of pointers into a 255-step loop."""

    __slots__ = ("by_target", "steps")

    def __init__(self, size: int) -> None:
        self.by_target: dict[int, tuple[bytes, bool]] = {}
        self.steps = 4 * size + 1024


def read_name(msg: bytes, pos: int, end: int, seen: Names | None = None) -> tuple[bytes, bool, int]:
    """The name at `pos`, whose own bytes end before `end` (pointers may reach the whole
    message): (name, truncated, offset after the name in the record). With `seen`, raises
    `ParseError` past the message's step bound."""
    if seen is not None and pos + 2 <= end and msg[pos] >= 0xC0:
        target = ((msg[pos] & 0x3F) << 8) | msg[pos + 1]
        if target != pos:  # a pointer to itself is an error, never remembered
            hit = seen.by_target.get(target)
            if hit is None:
                name, cut, _ = _walk(msg, pos, end, seen)
                hit = seen.by_target[target] = (name, cut)
            return hit[0], hit[1], pos + 2
    return _walk(msg, pos, end, seen)


def _walk(msg: bytes, pos: int, end: int, seen: Names | None) -> tuple[bytes, bool, int]:
    n = len(msg)
    limit = end
    after = -1  # offset after the first pointer followed
    parts: list[bytes] = []
    size = -1  # length of the joined name so far
    steps = 0
    truncated = False
    while pos < limit:
        b = msg[pos]
        if b == 0:
            pos += 1
            break
        if b < 0x40:
            nxt = pos + 1 + b
            if nxt > limit:
                raise ParseError("DNS label runs past the end of its data")
            if size <= MAX_NAME:
                parts.append(msg[pos + 1 : nxt])
                size += b + 1
            pos = nxt
        elif b >= 0xC0:
            if pos + 2 > limit:
                raise ParseError("DNS compression pointer cut short")
            target = ((b & 0x3F) << 8) | msg[pos + 1]
            if target > n:
                raise ParseError("DNS compression pointer past the end of the message")
            if target == pos and limit == n:  # points to itself
                if after >= 0:
                    break
                raise ParseError("DNS compression pointer to itself")
            if after < 0:
                after = pos + 2
            pos = target
            limit = n
        else:
            raise ParseError(f"DNS label type 0x{b & 0xC0:02x} is not supported")
        steps += 1
        if steps > MAX_STEPS:
            if after < 0:
                raise ParseError("DNS name with more than 255 labels")
            truncated = True
            break
        if size > MAX_NAME:
            truncated = True
            if after >= 0:
                break
    if seen is not None:
        seen.steps -= steps
        if seen.steps < 0:
            raise ParseError("DNS names loop through compression pointers past the work bound")
    name = b".".join(parts)
    if len(name) > MAX_NAME:
        name = name[:MAX_NAME]
    return name, truncated, after if after >= 0 else pos
