"""`TlsParser`: one `tls` event per TLS/SSL connection, from its cleartext handshake.

Input: each direction's reassembled TCP bytes, in chunks of any size. The parser reads the
record layer (5-byte headers), joins handshake messages across records and chunks, and reads
ClientHello, ServerHello and Certificate messages (SSLv3 to TLS 1.3, TLS 1.3 drafts, and an
SSLv2-format CLIENT-HELLO / SERVER-HELLO).

State, per direction: *cleartext* until the direction sends ChangeCipherSpec (TLS <= 1.2; the
compatibility CCS around a HelloRetryRequest does not count) or application data; then
*encrypted*. The handshake is over (nothing more will be learnt in clear) at the server's
ServerHelloDone (or, when it sent a CertificateRequest, at the client's Certificate), when both
directions are encrypted (or lost to a gap; a resumed session has no ServerHelloDone), when
the ServerHello chooses TLS 1.3 (everything after it is encrypted), after an SSLv2
SERVER-HELLO, or at a cleartext fatal alert. Then the event is emitted and `done` is set for
both directions, so encrypted traffic never reaches Python. Before that, the bodies of records
the parser does not read (encrypted, application data, CCS, heartbeat, the surplus of a
handshake message longer than `limits.max_message`) are passed over with `skip`. `close()`
emits what is known when the handshake never finished; `gap()` stops the direction it hits.

Memory per flow: a partial record header, at most `limits.max_message` bytes of the handshake
message being assembled per direction, and the certificates of one Certificate message.

Errors: `ParseError` for bytes that are not TLS (unknown content type, a record version whose
major is not 3, a record longer than 2^14 + 2048) and for hellos / Certificate messages whose
lengths do not add up; the event is emitted with what was learnt before the error is raised.
Certificates that are not valid DER only lose their decoded fields.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits, AppParser, Emit, ParseError
from tocsin.applayer.tls.hello import (
    HelloError,
    parse_client_hello,
    parse_server_hello,
    parse_sslv2_client_hello,
    parse_sslv2_server_hello,
)
from tocsin.applayer.tls.records import (
    CONTENT_TYPES,
    CT_ALERT,
    CT_APPDATA,
    CT_CCS,
    CT_HANDSHAKE,
    HS_CERTIFICATE,
    HS_CERTIFICATE_REQUEST,
    HS_CLIENT_HELLO,
    HS_SERVER_HELLO,
    HS_SERVER_HELLO_DONE,
    MAX_RECORD,
    HandshakeAssembler,
)
from tocsin.applayer.tls.session import Session, certificate_list
from tocsin.model.tls import TlsEvent

__all__ = ["TlsParser"]


@dataclass(slots=True)
class _Side:
    asm: HandshakeAssembler
    pending: bytes = b""  # an incomplete record header / SSLv2 record / alert, kept whole
    rec_left: int = 0  # handshake record body bytes still to come
    started: bool = False  # the first record was seen (SSLv2 is only tried there)
    encrypted: bool = False
    lost: bool = False


class TlsParser(AppParser):
    """TLS/SSL handshake parser (see the module docstring).

    `certificates=True` adds the base64 DER `certificate` and `chain` to the event;
    `from_proto` names the protocol a STARTTLS upgrade came from ("smtp", "ldap"...)."""

    name = "tls"

    def __init__(
        self,
        emit: Emit,
        limits: AppLimits,
        *,
        certificates: bool = False,
        from_proto: str | None = None,
    ) -> None:
        super().__init__(emit, limits)
        self._session = Session()
        self._certificates = certificates
        self._from_proto = from_proto
        self._sides = (
            _Side(HandshakeAssembler(limits.max_message, self._on_client_message)),
            _Side(HandshakeAssembler(limits.max_message, self._on_server_message)),
        )
        self._emitted = False
        self._cert_request = False  # the server asked for a client certificate
        self._hello_done = False
        self._ts = 0
        self._dir = TO_SERVER

    # -- contract ---------------------------------------------------------------------------

    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        if self.done[direction] or not data:
            return
        self._ts, self._dir = ts_us, direction
        try:
            self._records(direction, bytes(data))
        except ParseError:
            self._finish()  # what was learnt before the bad bytes is still reported
            raise
        except (HelloError, ValueError, IndexError, struct.error) as e:
            self._finish()
            raise ParseError(f"tls: {e}") from e

    def gap(self, direction: int, ts_us: int) -> None:
        side = self._sides[direction]
        side.lost, side.pending, side.rec_left = True, b"", 0
        self.done[direction] = True
        self._ts, self._dir = ts_us, direction
        self._check_over()

    def close(self, ts_us: int) -> None:
        self._ts = ts_us
        self._finish()

    # -- record layer -----------------------------------------------------------------------

    def _records(self, d: int, data: bytes) -> None:
        side = self._sides[d]
        if side.pending:
            data, side.pending = side.pending + data, b""
        pos, end = 0, len(data)
        while pos < end and not self.done[d]:
            if side.rec_left:
                pos = self._handshake_body(d, side, data, pos)
                continue
            if end - pos < 5:
                side.pending = data[pos:]
                return
            if not side.started:
                side.started = True
                if data[pos] & 0x80 and data[pos + 2] == (1 if d == TO_SERVER else 4):
                    n = ((data[pos] & 0x7F) << 8) | data[pos + 1]
                    if n > self.limits.max_message:
                        raise ParseError("tls: SSLv2 message larger than the limit")
                    if end - pos - 2 < n:
                        side.started, side.pending = False, data[pos:]
                        return
                    self._sslv2(d, data[pos + 2 : pos + 2 + n])
                    pos += 2 + n
                    continue
            ctype, major, minor, length = struct.unpack_from(">BBBH", data, pos)
            if ctype not in CONTENT_TYPES or major != 3:
                raise ParseError(f"tls: not a TLS record (type {ctype}, version {major}.{minor})")
            if length > MAX_RECORD:
                raise ParseError(f"tls: record of {length} bytes exceeds 2^14 + 2048")
            if d == TO_CLIENT and not self._session.server_record_version:
                self._session.server_record_version = (major << 8) | minor
            if ctype == CT_HANDSHAKE and not side.encrypted:
                side.rec_left = length
                pos += 5
                continue
            if ctype == CT_ALERT and length == 2 and not side.encrypted:
                if end - pos < 7:
                    side.pending = data[pos:]
                    return
                if data[pos + 5] == 2:  # fatal: the handshake ends here
                    self._finish()
                pos += 7
                continue
            if ctype == CT_CCS:
                if not (self._session.hrr and self._session.server_hello is None):
                    side.encrypted = True
            elif ctype == CT_APPDATA:
                side.encrypted = True
            pos += 5
            avail = end - pos
            if avail < length:
                self.skip[d] = length - avail
                self._check_over()
                return
            pos += length
            self._check_over()

    def _handshake_body(self, d: int, side: _Side, data: bytes, pos: int) -> int:
        """Feed the current handshake record's bytes from `pos`; the new position."""
        asm = side.asm
        drop = min(side.rec_left, asm.discard_left)
        if drop:  # surplus of an over-long message: not kept, skipped when not yet given
            avail = len(data) - pos
            side.rec_left -= drop
            if avail < drop:
                self.skip[d] = drop - avail
                asm.discard(drop)
                return len(data)
            asm.discard(drop)
            return pos + drop
        take = min(side.rec_left, len(data) - pos)
        side.rec_left -= take
        asm.feed(data[pos : pos + take], lambda: self.done[d])
        return pos + take

    # -- messages ---------------------------------------------------------------------------

    def _on_client_message(self, mtype: int, body: bytes, truncated: bool) -> None:
        s = self._session
        if mtype == HS_CLIENT_HELLO:
            h = parse_client_hello(body, truncated)
            if s.client_hello is None:
                s.client_hello = h
            if s.sni is None:
                s.sni = h.sni
        elif mtype == HS_CERTIFICATE and not s.client_certs:
            s.client_certs = certificate_list(body, truncated, self.limits.max_items)
            if self._hello_done:
                self._finish()

    def _on_server_message(self, mtype: int, body: bytes, truncated: bool) -> None:
        s = self._session
        if mtype == HS_SERVER_HELLO:
            h = parse_server_hello(body, truncated)
            if s.first_server_hello is None:
                s.first_server_hello = h
            if h.hrr and s.server_hello is None:
                s.hrr = True
                return
            if s.server_hello is None:
                s.server_hello = h
            if s.tls13:
                self._finish()
        elif mtype == HS_CERTIFICATE and not s.server_cert_msg:
            s.server_cert_msg = True
            s.server_certs = certificate_list(body, truncated, self.limits.max_items)
        elif mtype == HS_CERTIFICATE_REQUEST:
            self._cert_request = True
        elif mtype == HS_SERVER_HELLO_DONE:
            self._hello_done = True
            if not self._cert_request:  # the server's cleartext flight is complete
                self._finish()

    def _sslv2(self, d: int, msg: bytes) -> None:
        s = self._session
        if d == TO_SERVER:
            h = parse_sslv2_client_hello(msg)
            if s.client_hello is None:
                s.client_hello = h
            return
        sh = parse_sslv2_server_hello(msg)
        s.sslv2_server = sh
        if sh.certificate:
            s.server_certs = [sh.certificate]
        self._finish()

    # -- end of handshake -------------------------------------------------------------------

    def _check_over(self) -> None:
        a, b = self._sides
        if (a.encrypted or a.lost) and (b.encrypted or b.lost):
            self._finish()

    def _finish(self) -> None:
        """The handshake is over (or the flow ended): emit once, want nothing more."""
        self.done[TO_SERVER] = self.done[TO_CLIENT] = True
        if self._emitted or not self._session.seen:
            return
        self._emitted = True
        info = self._session.info(
            certificates=self._certificates,
            from_proto=self._from_proto,
            max_items=self.limits.max_items,
        )
        self.emit(TlsEvent, info, self._dir, self._ts)
