"""TLS/SSL: the `tls` event (SNI, version, JA3/JA3S/JA4, ALPN, server and client certificates).

Modules: `records` (record layer, handshake reassembly), `hello` (ClientHello / ServerHello,
SSLv2 hellos), `fingerprint` (version names, JA3, JA3S, JA4), `x509` (a small DER reader for
the certificate fields), `session` (what a connection revealed -> `TlsInfo`), `parser` (the
per-flow `TlsParser`). The record is `tocsin.model.tls.TlsEvent`.
"""

from tocsin.applayer.tls.parser import TlsParser

__all__ = ["TlsParser"]
