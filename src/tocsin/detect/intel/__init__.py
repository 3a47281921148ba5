"""Threat-intelligence detectors (`intel.*`): indicators from feeds, matched on flows and events.

Loading (`load_intel`): plain lists, CSV (incl. abuse.ch), maltrail trail files, MISP JSON
(events, feed directories) and STIX 2.1 bundles, minus the site's allow-lists and the MISP
warning lists. Detectors: `intel.ip` (flows), `intel.domain` (dns, http host, tls sni),
`intel.url` (http), `intel.tls` (JA3, JA4, certificate SHA-1, SNI), `intel.http_user_agent`,
`intel.file_hash` (MD5/SHA-1/SHA-256 of files in `fileinfo` events: HTTP downloads and PUT
uploads, hashed when `tocsin analyze` runs with `--file-hashes`, or by itself when file-hash
indicators are loaded).
"""

from __future__ import annotations

from tocsin.detect.intel._model import FILE_HASH_KINDS, Indicator, IntelError, LoadStats
from tocsin.detect.intel._set import IntelSet, load_intel

__all__ = [
    "FILE_HASH_KINDS",
    "Indicator",
    "IntelError",
    "IntelSet",
    "LoadStats",
    "intel_summary",
    "load_intel",
]


def intel_summary(stats: LoadStats) -> str:
    """One line: `N indicators from K sources (M skipped, ...)`, then counts by type."""
    parts = [f"{stats.skipped} skipped"]
    if stats.duplicates:
        parts.append(f"{stats.duplicates} duplicates")
    if stats.allowlisted:
        parts.append(f"{stats.allowlisted} allow-listed")
    if stats.ignored:
        parts.append(f"{stats.ignored} not for detection")
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(stats.by_kind.items(), key=lambda x: -x[1]))
    line = f"{stats.indicators} indicators from {stats.sources} sources ({', '.join(parts)})" + (
        f": {kinds}" if kinds else ""
    )
    if stats.problems:
        line += f"; first skipped: {stats.problems[0]}"
    return line
