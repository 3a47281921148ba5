"""HTTP content decoding (Content-Encoding), bounded and evasion-tolerant.

`BodySink` keeps at most `limit` bytes of a body's payload, decoded through the layers that
`content_codings` reads from Content-Encoding (gzip, deflate, lzma; at most `MAX_LAYERS`,
applied in reverse order of listing, as libhtp chains them). What browsers accept, this
accepts, so that content evading the sensor's decoder does not reach a browser intact:

- gzip: the header is read here (reserved flags ignored, optional fields skipped) and the
  data inflated raw; the CRC and length trailer are not checked. A body that is not gzip is
  tried as deflate.
- deflate: with or without its zlib header (the Adler-32 trailer is not checked); a body that
  is gzip is read as gzip.
- lzma: the `.lzma` (alone) or `.xz` formats (`lzma` module), dictionary memory bounded.

Output is bounded at every layer (`max_length`), so a compression bomb costs at most a few
times `limit` bytes and no more CPU than that output. A decoding error stops decoding and
keeps what was decoded (`error` set): content errors never stop HTTP parsing.
"""

from __future__ import annotations

import lzma
import zlib

MAX_LAYERS = 3  # Suricata's default is 2; the HTTP evader suite uses 3
_LZMA_MEMLIMIT = 16 << 20


class _Undecodable(Exception):
    pass


class _Layer:
    """One decoding layer: header sniffing, then an incremental decompressor. A layer that
    fails passes its input through from then on (libhtp's passthrough), so a body announced
    compressed but sent plain, or compressed fewer times than announced, is still seen."""

    __slots__ = ("_head", "_obj", "_raw", "failed", "kind", "produced")

    def __init__(self, kind: bytes) -> None:
        self.kind = kind
        self.produced = 0
        self.failed = False
        self._head = b""
        self._raw = b""  # input taken before any output: passed on if decoding fails
        self._obj: zlib._Decompress | lzma.LZMADecompressor | None = None

    def feed(self, data: bytes, cap: int) -> bytes:
        """Decoded bytes of `data` (at most `cap`)."""
        if self.failed:
            return data[:cap]
        try:
            out = self._feed(data, cap)
            if not self.produced and not out and len(self._raw) < 4096:
                self._raw += data
        except _Undecodable:
            self.failed = True
            out = (data if self.produced else self._raw + data)[:cap]
            self._head = self._raw = b""
        if out:
            self._raw = b""
        self.produced += len(out)
        return out

    def _feed(self, data: bytes, cap: int) -> bytes:
        if self._obj is None:
            data = self._head + data
            start = self._start(data)
            if start < 0:  # header incomplete
                self._head = data
                if len(data) > 4096:
                    raise _Undecodable
                return b""
            self._head = b""
            data = data[start:]
        obj = self._obj
        assert obj is not None
        if obj.eof:
            return b""
        try:
            return obj.decompress(data, cap)
        except (zlib.error, lzma.LZMAError, EOFError) as exc:
            raise _Undecodable from exc

    def _start(self, data: bytes) -> int:
        """Open the decompressor; return where the compressed data starts, -1 if the header is
        not complete yet."""
        if self.kind == b"lzma":
            self._obj = lzma.LZMADecompressor(lzma.FORMAT_AUTO, memlimit=_LZMA_MEMLIMIT)
            return 0
        if len(data) < 2:
            return -1
        if data[:2] == b"\x1f\x8b":
            return _gzip_start(data, self)
        self._obj = zlib.decompressobj(-15)
        if data[0] & 0x0F == 8 and ((data[0] << 8) | data[1]) % 31 == 0 and not data[1] & 0x20:
            return 2  # zlib header (no preset dictionary)
        return 0

    def flush(self) -> bytes:
        """At the end of the body: what the decoder still holds."""
        obj = self._obj
        if self.failed or obj is None or isinstance(obj, lzma.LZMADecompressor):
            raw, self._head, self._raw = self._raw, b"", b""
            return raw if obj is None or not self.produced else b""  # never decoded: pass on
        try:
            return obj.flush()
        except zlib.error:
            self.failed = True
            return b""


def _gzip_start(data: bytes, layer: _Layer) -> int:
    """End of a gzip member header (RFC 1952 §2.3), -1 if incomplete."""
    if len(data) < 10:
        return -1
    flags, i = data[3], 10
    if flags & 4:  # FEXTRA
        if len(data) < i + 2:
            return -1
        i += 2 + int.from_bytes(data[i : i + 2], "little")
    for bit in (8, 16):  # FNAME, FCOMMENT: zero-terminated
        if flags & bit:
            end = data.find(b"\0", i)
            if end < 0:
                return -1
            i = end + 1
    if flags & 2:  # FHCRC
        i += 2
    if len(data) < i:
        return -1
    layer._obj = zlib.decompressobj(-15)
    return i


def content_codings(value: bytes | None) -> list[bytes]:
    """The decoding layers of a Content-Encoding value, outermost first, as libhtp reads it:
    the whole value (NUL bytes ignored, any case) "gzip", "x-gzip", "deflate", "x-deflate",
    "lzma"; else each word (split at ',' and ' ') containing "gzip" or "deflate", or "lzma".
    Identity, unknown codings and layers past `MAX_LAYERS` are not decoded."""
    if not value:
        return []
    whole = value.replace(b"\0", b"").lower()
    if whole in (b"gzip", b"x-gzip"):
        return [b"gzip"]
    if whole in (b"deflate", b"x-deflate"):
        return [b"deflate"]
    if whole == b"lzma":
        return [b"lzma"]
    layers = []
    for word in whole.replace(b",", b" ").split(b" "):
        if b"gzip" in word:
            layers.append(b"gzip")
        elif b"deflate" in word:
            layers.append(b"deflate")
        elif word == b"lzma":
            layers.append(b"lzma")
    return layers[:MAX_LAYERS]


class BodySink:
    """Up to `limit` bytes of a body's payload, decoded (see module docstring). `error`: a
    layer could not decode (its bytes were kept as they came)."""

    __slots__ = ("_layers", "closed", "data", "full", "limit")

    def __init__(self, limit: int, encoding: bytes | None) -> None:
        self.limit = limit
        self.data = bytearray()
        self.full = limit <= 0
        self.closed = False
        self._layers = [_Layer(kind) for kind in reversed(content_codings(encoding))]

    @property
    def error(self) -> bool:
        return any(layer.failed for layer in self._layers)

    def write(self, chunk: bytes | memoryview) -> None:
        if self.full or self.closed or not chunk:
            return
        if not self._layers:
            self._keep(chunk)
        else:
            self._decode(bytes(chunk), final=False)

    def _keep(self, data: bytes | memoryview) -> None:
        self.data += data[: self.limit - len(self.data)]
        self.full = len(self.data) >= self.limit

    def _decode(self, data: bytes, final: bool) -> None:
        last = len(self._layers) - 1
        for i, layer in enumerate(self._layers):
            room = self.limit - len(self.data) if i == last else 4 * self.limit
            out = layer.feed(data, room) if data else b""
            if final:
                out += layer.flush()
            if layer.produced > 8 * self.limit and i != last:
                self.full = True  # an inner layer that expands without bound
            data = out
            if not data and not final:
                return
        self._keep(data)

    def append_raw(self, chunk: bytes) -> None:
        """Bytes counted in the body after it ended (libhtp's finalize): kept as they are
        when the body is not encoded."""
        if not self._layers and not self.full:
            self._keep(chunk)

    def finish(self) -> None:
        """End of body: flush the decoders."""
        if self._layers and not self.full and not self.closed:
            self._decode(b"", final=True)
        self.closed = True
