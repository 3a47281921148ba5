"""TLS version names and client/server fingerprints: JA3, JA3S (Salesforce) and JA4 (FoxIO).

- `version_name(v)`: Suricata's spelling of a version number ("SSLv3", "TLSv1", "TLS 1.2",
  "TLS 1.3 draft-18"...; "UNDETERMINED" for 0, the decimal number when unknown).
- `ja3(hello)`: "version,ciphers,extensions,groups,point_formats" with GREASE removed and its
  MD5 (https://github.com/salesforce/ja3); `ja3s(hello)`: "version,cipher,extensions".
- `ja4(hello)`: the JA4 TLS *client* fingerprint over TCP, per FoxIO's JA4.md:
  t<ver><d|i><nn ciphers><nn extensions><alpn>_<sha256(sorted ciphers)[:12]>_<sha256(sorted
  extensions without SNI/ALPN "_" signature algorithms)[:12]>. Only JA4 itself: JA4S, JA4X and
  the other JA4+ methods are under a licence that forbids commercial use.

All functions are pure; GREASE values (RFC 8701: 0x?a?a with equal bytes) are ignored.
"""

from __future__ import annotations

import hashlib

from tocsin.applayer.tls.hello import EXT_ALPN, EXT_SNI, Hello

__all__ = ["is_grease", "ja3", "ja3s", "ja4", "version_name"]

GREASE = frozenset(0x0A0A + 0x1010 * i for i in range(16))

_NAMES = {
    0x0000: "UNDETERMINED",
    0x0200: "SSLv2",
    0x0002: "SSLv2",
    0x0300: "SSLv3",
    0x0301: "TLSv1",
    0x0302: "TLS 1.1",
    0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
    0x7F01: "TLS 1.3 draft-<16",
    0xFB14: "TLS 1.3 draft-20-fb",
    0xFB15: "TLS 1.3 draft-21-fb",
    0xFB16: "TLS 1.3 draft-22-fb",
    0xFB17: "TLS 1.3 draft-23-fb",
    0xFB1A: "TLS 1.3 draft-26-fb",
}
_NAMES.update({0x7F00 + n: f"TLS 1.3 draft-{n}" for n in range(16, 29)})

# JA4 version codes (JA4.md "TLS and DTLS Version")
_JA4_VERSION = {
    0x0304: "13",
    0x0303: "12",
    0x0302: "11",
    0x0301: "10",
    0x0300: "s3",
    0x0002: "s2",
    0xFEFF: "d1",
    0xFEFD: "d2",
    0xFEFC: "d3",
}


def is_grease(v: int) -> bool:
    return v in GREASE


def version_name(v: int) -> str:
    """Suricata's name of TLS version `v` (SSLVersionToString)."""
    return _NAMES.get(v) or str(v)


def normalise_hello_version(v: int) -> int:
    """Suricata's reading of a hello's version field: early TLS 1.3 drafts (0x7f01-0x7f0f, and
    0x0304 in the legacy field) are one "draft-<16" value."""
    if 0x7F01 <= v < 0x7F10 or v == 0x0304:
        return 0x7F01
    return v


def valid_version(v: int) -> bool:
    """A version Suricata accepts from a client's supported_versions (not SSLv2, not GREASE)."""
    return v in _NAMES and v not in (0, 0x0200, 0x0002)


def _join(values: list[int]) -> str:
    return "-".join([str(v) for v in values if v not in GREASE])


def ja3(h: Hello) -> tuple[str, str]:
    """(ja3 string, md5 hex) of a ClientHello."""
    s = ",".join(
        (
            str(h.version),
            _join(h.ciphers),
            _join(h.extensions),
            _join(h.groups),
            "-".join([str(v) for v in h.point_formats]),
        )
    )
    return s, hashlib.md5(s.encode(), usedforsecurity=False).hexdigest()


def ja3s(h: Hello) -> tuple[str, str]:
    """(ja3s string, md5 hex) of a ServerHello."""
    s = ",".join((str(h.version), _join(h.ciphers), _join(h.extensions)))
    return s, hashlib.md5(s.encode(), usedforsecurity=False).hexdigest()


def _alpn_code(raw: bytes) -> str:
    if not raw:
        return "00"
    first, last = raw[0], raw[-1]
    if _alnum(first) and _alnum(last):
        return chr(first) + chr(last)
    h = raw.hex()
    return h[0] + h[-1]


def _alnum(c: int) -> bool:
    return 0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


def _sha12(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()[:12]


def ja4(h: Hello) -> str:
    """The JA4 fingerprint of a ClientHello over TCP."""
    versions = [v for v in h.supported_versions if v not in GREASE]
    version = max(versions) if versions else h.version
    ciphers = [c for c in h.ciphers if c not in GREASE]
    exts = [e for e in h.extensions if e not in GREASE]
    alpn = _alpn_code(h.alpns[0]) if h.alpns else "00"
    a = (
        f"t{_JA4_VERSION.get(version, '00')}{'d' if EXT_SNI in exts else 'i'}"
        f"{min(len(ciphers), 99):02d}{min(len(exts), 99):02d}{alpn}"
    )
    b = _sha12(",".join(sorted(f"{c:04x}" for c in ciphers))) if ciphers else "000000000000"
    kept = sorted(f"{e:04x}" for e in exts if e not in (EXT_SNI, EXT_ALPN))
    sigs = [f"{s:04x}" for s in h.sig_algs if s not in GREASE]
    if kept:
        raw = ",".join(kept) + ("_" + ",".join(sigs) if sigs else "")
        c = _sha12(raw)
    else:
        c = "000000000000"
    return f"{a}_{b}_{c}"
