"""SSH (RFC 4253) up to the key exchange: identification strings and HASSH, one `ssh` event.

`SshParser` is a stream parser. Each direction goes through:

1. **identification string**: lines ended by LF (a CR before it is dropped). The server may
   send other lines before its `SSH-` line (RFC 4253 section 4.2), at most `_MAX_PRE_LINES`
   lines and `limits.max_message` bytes; the client may not. A line longer than `_MAX_LINE`
   bytes, a client line that is not `SSH-...`, or an `SSH-` line without a `-` after the
   protocol version raises `ParseError`.
2. **binary packets** (`uint32 packet_length`, `byte padding_length`, payload, padding),
   read until that end's SSH_MSG_KEXINIT (20), whose name-lists give the HASSH
   (salesforce/hassh: `kex;encryption;mac;compression`, client-to-server lists for the client,
   server-to-client for the server, MD5 of that string). Packets before it (IGNORE, DEBUG...)
   are passed over with `skip`. A packet_length that cannot hold its padding and message
   code, one over `limits.max_message`, or a KEXINIT whose name-lists overrun the packet
   raises `ParseError`. An SSH_MSG_NEWKEYS before any KEXINIT also ends that end's part.

After its KEXINIT an end's bytes are not needed (the rest is key exchange, then encrypted):
`done` is set for that direction. When a version is SSH-1 only (`1.x` other than `1.99`) the
session does not use SSH-2 packets: both ends are finished once their strings are read.

Events: one `ssh` event per connection (`tx_id` 0, `direction` TO_SERVER: addresses follow the
flow) when both ends are finished, or at `close`, at a `gap` or just before a `ParseError`
with what is known by then (at least one identification string); never twice.
"""

from __future__ import annotations

import hashlib

from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits, AppParser, Emit, ParseError
from tocsin.model.ssh import SshEnd, SshEvent, SshHassh, SshInfo

_MAX_LINE = 8192  # identification string or a line before it, CR LF included
_MAX_PRE_LINES = 64  # lines a server may send before its identification string
_MSG_KEXINIT = 20
_MSG_NEWKEYS = 21
_HASSH_LISTS = ((0, 2, 4, 6), (0, 3, 5, 7))  # name-list indexes, by direction


def text(data: bytes) -> str:
    """Bytes as Suricata writes them: valid UTF-8 as is, otherwise ASCII kept and every other
    byte as `\\xNN`."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("ascii", errors="backslashreplace")


def parse_banner(line: bytes) -> tuple[str, str]:
    """(proto_version, software_version) of an `SSH-` line without its line end."""
    rest = line[4:]
    dash = rest.find(b"-")
    if dash <= 0:
        raise ParseError("ssh identification string without protoversion-softwareversion")
    software = rest[dash + 1 :]
    space = software.find(b" ")
    if space >= 0:
        software = software[:space]
    return text(rest[:dash]), text(software)


def kexinit_hassh(payload: bytes, direction: int) -> SshHassh:
    """HASSH of an SSH_MSG_KEXINIT payload (message code first) sent in `direction`."""
    lists: list[bytes] = []
    off, end = 17, len(payload)  # code + 16-byte cookie
    for _ in range(10):
        if off + 4 > end:
            raise ParseError("ssh kexinit truncated in its name-lists")
        n = int.from_bytes(payload[off : off + 4], "big")
        off += 4
        if off + n > end:
            raise ParseError(f"ssh kexinit name-list of {n} bytes overruns the packet")
        lists.append(payload[off : off + n])
        off += n
    if off + 5 > end:
        raise ParseError("ssh kexinit truncated after its name-lists")
    raw = b";".join(lists[k] for k in _HASSH_LISTS[direction])
    return SshHassh(hash=hashlib.md5(raw, usedforsecurity=False).hexdigest(), string=text(raw))


class _End:
    """What one direction has shown so far."""

    __slots__ = ("buf", "finished", "hassh", "in_packets", "pre_bytes", "pre_lines", "version")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.in_packets = False  # identification string read, binary packets follow
        self.finished = False  # nothing more wanted from this end
        self.pre_lines = 0
        self.pre_bytes = 0
        self.version: tuple[str, str] | None = None
        self.hassh: SshHassh | None = None

    def info(self) -> SshEnd | None:
        if self.version is None and self.hassh is None:
            return None
        proto, software = self.version or (None, None)
        return SshEnd(proto_version=proto, software_version=software, hassh=self.hassh)


class SshParser(AppParser):
    name = "ssh"

    def __init__(self, emit: Emit, limits: AppLimits) -> None:
        super().__init__(emit, limits)
        self._ends = (_End(), _End())
        self._ssh1 = False  # an end speaks SSH-1 only: no SSH-2 packets will follow
        self._emitted = False

    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        end = self._ends[direction]
        if end.finished:
            return
        end.buf += data
        try:
            if not end.in_packets:
                self._lines(direction, end)
            if end.in_packets and not end.finished:
                self._packets(direction, end)
        except ParseError:
            end.buf.clear()
            self._finish(direction, ts_us, force=True)
            raise
        if end.finished:
            end.buf.clear()
            self.done[direction] = True
        self._finish(direction, ts_us)

    def gap(self, direction: int, ts_us: int) -> None:
        end = self._ends[direction]
        end.finished = True
        end.buf.clear()
        self.done[direction] = True
        self._finish(direction, ts_us)

    def close(self, ts_us: int) -> None:
        self._finish(TO_SERVER, ts_us, force=True)

    def _lines(self, direction: int, end: _End) -> None:
        buf = end.buf
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                if len(buf) - start > _MAX_LINE:
                    raise ParseError(f"ssh line over {_MAX_LINE} bytes without a line end")
                del buf[:start]
                return
            if nl - start >= _MAX_LINE:
                raise ParseError(f"ssh line over {_MAX_LINE} bytes")
            line = bytes(buf[start:nl])
            size, start = nl + 1 - start, nl + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if line.startswith(b"SSH-"):
                end.version = parse_banner(line)
                end.in_packets = True
                proto = end.version[0]
                if proto.startswith("1.") and proto != "1.99":
                    self._ssh1 = True
                del buf[:start]
                return
            if direction == TO_SERVER:
                raise ParseError("ssh client sent a line before its identification string")
            end.pre_lines += 1
            end.pre_bytes += size
            if end.pre_lines > _MAX_PRE_LINES or end.pre_bytes > self.limits.max_message:
                raise ParseError("ssh server sent too many lines before its identification")

    def _packets(self, direction: int, end: _End) -> None:
        buf = end.buf
        while not end.finished:
            if self._ssh1:
                end.finished = True
                return
            if len(buf) < 6:
                return
            plen = int.from_bytes(buf[:4], "big")
            pad = buf[4]
            if plen < pad + 2:
                raise ParseError(f"ssh packet_length {plen} cannot hold padding {pad}")
            total = plen + 4
            if total > self.limits.max_message:
                raise ParseError(f"ssh packet of {total} bytes over the limit")
            code = buf[5]
            if code == _MSG_NEWKEYS:
                end.finished = True
                return
            if code != _MSG_KEXINIT:
                if len(buf) >= total:
                    del buf[:total]
                    continue
                self.skip[direction] = total - len(buf)
                buf.clear()
                return
            if len(buf) < total:
                return
            end.hassh = kexinit_hassh(bytes(buf[5 : total - pad]), direction)
            end.finished = True

    def _finish(self, direction: int, ts_us: int, *, force: bool = False) -> None:
        """Emit the event once both ends are finished (or now, if `force`)."""
        if self._emitted:
            return
        client, server = self._ends
        if self._ssh1 and client.version is not None and server.version is not None:
            client.finished = server.finished = True
        if not (force or (client.finished and server.finished)):
            return
        info = SshInfo(client=client.info(), server=server.info())
        if info.client is None and info.server is None:
            return
        self._emitted = True
        for d in (TO_SERVER, TO_CLIENT):
            self._ends[d].finished = True
            self._ends[d].buf.clear()
            self.done[d] = True
        self.emit(SshEvent, info, TO_SERVER, ts_us, 0)
