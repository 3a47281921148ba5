"""STIX 2.1 bundles: `indicator` objects whose pattern is a plain equality, or an OR of them.

Parsed directly from the JSON (not with the `stix2` package): Tocsin needs only indicator
objects, a few marking and malware objects, and patterns of one shape, and reading them is a
dictionary walk, while `stix2` would build a validated object per entry (slow on big feeds)
and still not evaluate patterns. Supported patterns, each comparison with `=`, combined with
`OR` inside or across brackets:

    [domain-name:value = 'evil.example']          [ipv4-addr:value = '198.51.100.7']
    [ipv6-addr:value = '2001:db8::1']             [url:value = 'http://evil.example/x']
    [file:hashes.'SHA-256' = '...']               (MD5, 'SHA-1', 'SHA-256')
    [x509-certificate:hashes.'SHA-1' = '...']     [network-traffic:dst_ref.value = '...']

A pattern using AND, FOLLOWEDBY, a qualifier (WITHIN, START...), another operator, or an
object path not listed is ignored and counted (matching half of a conjunction would alert on
traffic the feed did not describe). `valid_until` is the expiry, `confidence` (0-100) the
confidence (default 50), `object_marking_refs` the TLP (the standard TLP marking ids, or the
bundle's own `marking-definition`s). The threat is the name of the `malware` an
`indicates` relationship points to, else the indicator's name. A revoked indicator is ignored.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tocsin.detect.intel._load_misp import load_json
from tocsin.detect.intel._model import (
    Indicator,
    IntelError,
    LoadStats,
    normalise,
    parse_time_us,
)

TLP_MARKINGS = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": "clear",
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": "green",
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": "amber",
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": "red",
    # TLP 2.0 (STIX 2.1 extension)
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": "clear",
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": "green",
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": "amber",
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": "amber+strict",
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": "red",
}

_PATHS = {
    "domain-name:value": "domain",
    "ipv4-addr:value": "ip",
    "ipv6-addr:value": "ip",
    "url:value": "url",
    "network-traffic:dst_ref.value": "ip",
    "file:hashes.md5": "md5",
    "file:hashes.'md5'": "md5",
    "file:hashes.'sha-1'": "sha1",
    "file:hashes.'sha-256'": "sha256",
    "file:hashes.sha1": "sha1",
    "file:hashes.sha256": "sha256",
    "x509-certificate:hashes.'sha-1'": "cert_sha1",
    "x509-certificate:hashes.sha1": "cert_sha1",
}
_CMP = re.compile(r"([a-z0-9_-]+:[A-Za-z0-9_.'-]+)\s*(!=|>=|<=|=|>|<|[A-Z]+)\s*'((?:[^'\\]|\\.)*)'")
_GLUE = re.compile(r"^[\s\[\]()]*(?:\bOR\b[\s\[\]()]*)*$")


def is_stix(doc: Any) -> bool:
    return isinstance(doc, dict) and (
        doc.get("type") == "bundle" or str(doc.get("spec_version", "")).startswith("2")
    )


def parse_pattern(pattern: str) -> list[tuple[str, str]] | None:
    """The (kind, value) pairs of an OR of equalities; None when the pattern is anything else."""
    pairs: list[tuple[str, str]] = []
    rest: list[str] = []
    pos = 0
    for m in _CMP.finditer(pattern):
        rest.append(pattern[pos : m.start()])
        pos = m.end()
        path, op, value = m.group(1).lower(), m.group(2), m.group(3)
        kind = _PATHS.get(path)
        if op != "=" or kind is None:
            return None
        pairs.append((kind, value.replace("\\'", "'").replace("\\\\", "\\")))
    rest.append(pattern[pos:])
    if not pairs or not all(_GLUE.match(r) for r in rest):
        return None
    return pairs


def load_stix(path: Path, stats: LoadStats, doc: Any = None) -> list[Indicator]:
    doc = load_json(path) if doc is None else doc
    objs = doc.get("objects") if isinstance(doc, dict) else None
    if not isinstance(objs, list):
        raise IntelError(f"{path}: not a STIX 2.1 bundle (no 'objects' list)")
    objs = [o for o in objs if isinstance(o, dict)]
    tlp = dict(TLP_MARKINGS)
    names: dict[str, str] = {}
    for o in objs:
        if o.get("type") == "marking-definition":
            d = o.get("definition") or {}
            level = d.get("tlp") if isinstance(d, dict) else None
            name = str(o.get("name", ""))
            if isinstance(level, str):
                tlp[str(o.get("id"))] = level.lower()
            elif name.upper().startswith("TLP:"):
                tlp[str(o.get("id"))] = name[4:].lower()
        elif o.get("type") in ("malware", "threat-actor", "intrusion-set", "tool"):
            names[str(o.get("id"))] = str(o.get("name", ""))
    indicates: dict[str, str] = {}
    for o in objs:
        if o.get("type") == "relationship" and o.get("relationship_type") == "indicates":
            target = names.get(str(o.get("target_ref")))
            if target:
                indicates.setdefault(str(o.get("source_ref")), target)
    out: list[Indicator] = []
    for o in objs:
        if o.get("type") != "indicator":
            continue
        oid = str(o.get("id", "?"))
        where = f"{path}: {oid}"
        if o.get("revoked") or o.get("pattern_type", "stix") != "stix":
            stats.ignored += 1
            continue
        pairs = parse_pattern(str(o.get("pattern", "")))
        if pairs is None:
            stats.ignored += 1
            continue
        expires = None
        if o.get("valid_until"):
            expires = parse_time_us(str(o["valid_until"]))
            if expires is None:
                stats.problem(where, f"valid_until {o['valid_until']!r} is not a timestamp")
                continue
        conf = o.get("confidence", 50)
        if not isinstance(conf, int) or not 0 <= conf <= 100:
            stats.problem(where, f"confidence {conf!r} is not 0-100")
            continue
        marking = next((tlp[m] for m in o.get("object_marking_refs") or () if m in tlp), "")
        threat = indicates.get(oid) or str(o.get("name") or o.get("description") or path.stem)
        for kind, value in pairs:
            got = normalise(kind, value)
            if got is None:
                stats.problem(where, f"{kind} value {value[:60]!r} is not valid")
                continue
            out.append(
                Indicator(
                    value=got[1],
                    kind=got[0],
                    source=f"stix:{path.name}",
                    threat=threat[:120],
                    confidence=conf,
                    category="malware" if conf >= 70 else "",
                    tlp=marking or "clear",
                    expires_us=expires,
                    port=got[2],
                    reference=oid,
                )
            )
    return out
