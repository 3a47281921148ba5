"""MISP JSON: an event export, a REST search answer, or a MISP feed directory.

Reads `{"Event": {...}}` (one event as MISP exports it), `{"response": [{"Event": ...}]}`, a
list of those, and a feed directory (`manifest.json` naming `<uuid>.json` event files). Each
event's `Attribute`s and its `Object`s' attributes become indicators when their type is one
Tocsin matches: ip-dst, ip-src (and `|port`), domain, hostname, domain|ip, url, uri,
ja3-fingerprint-md5, x509-fingerprint-sha1, user-agent, md5, sha1, sha256 and `filename|hash`.

- `to_ids` is respected: an attribute with `to_ids: false` is context, not an indicator
  (counted as ignored); a `deleted` attribute is ignored too.
- TLP: the attribute's `tlp:*` tag, else the event's, else "clear"... as MISP shares it.
- Confidence from the event's `threat_level_id` (1 high: 90, 2 medium: 70, 3 low / 4: 50).
- Threat: a `misp-galaxy:*="Name"` tag (the malware family), else the event's `info`.
- Expiry: none (MISP expresses it through decay models, which a feed does not carry).

An attribute whose value does not fit its type is skipped and counted, named by the event
and attribute uuid; a file that is not JSON, or JSON that holds no event, is an `IntelError`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tocsin.detect.intel._load_text import read_text
from tocsin.detect.intel._model import (
    Indicator,
    IntelError,
    LoadStats,
    kind_of,
    norm_tlp,
    normalise,
)

_CONF = {"1": 90, "2": 70, "3": 50, "4": 50}


def load_json(path: Path) -> Any:
    try:
        return json.loads(read_text(path))
    except ValueError as e:
        raise IntelError(f"{path}: not valid JSON: {e}") from e


def is_misp(doc: Any) -> bool:
    if isinstance(doc, list):
        return bool(doc) and all(isinstance(d, dict) and "Event" in d for d in doc)
    return isinstance(doc, dict) and ("Event" in doc or "response" in doc)


def load_misp(path: Path, stats: LoadStats, doc: Any = None) -> list[Indicator]:
    """Indicators of a MISP JSON file, or of a feed directory holding `manifest.json`."""
    if path.is_dir():
        manifest = load_json(path / "manifest.json")
        if not isinstance(manifest, dict):
            raise IntelError(f"{path}/manifest.json: expected an object of event uuids")
        out: list[Indicator] = []
        for uuid in sorted(manifest):
            f = path / f"{uuid}.json"
            if not f.is_file():
                stats.problem(f"{path}/manifest.json", f"event {uuid}: {f.name} is missing")
                continue
            out += load_misp(f, stats)
        return out
    doc = load_json(path) if doc is None else doc
    events: list[Any]
    if isinstance(doc, list):
        events = [d.get("Event") for d in doc if isinstance(d, dict)]
    elif isinstance(doc, dict) and "response" in doc:
        resp = doc["response"]
        events = (
            [d.get("Event") for d in resp if isinstance(d, dict)] if isinstance(resp, list) else []
        )
    elif isinstance(doc, dict):
        events = [doc.get("Event")]
    else:
        events = []
    events = [e for e in events if isinstance(e, dict)]
    if not events:
        raise IntelError(f"{path}: no MISP event in this JSON (expected {{'Event': {{...}}}})")
    out = []
    for ev in events:
        out += _event(path, ev, stats)
    return out


def _tags(obj: dict[str, Any]) -> list[str]:
    tags = obj.get("Tag") or []
    return [t["name"] for t in tags if isinstance(t, dict) and isinstance(t.get("name"), str)]


def _tlp(tags: list[str]) -> str:
    for t in tags:
        if t.lower().startswith("tlp:"):
            v = norm_tlp(t)
            if v:
                return v
    return ""


def _galaxy(tags: list[str]) -> str:
    for t in tags:
        if t.startswith("misp-galaxy:") and "=" in t:
            return t.split("=", 1)[1].strip('"')
    return ""


def _event(path: Path, ev: dict[str, Any], stats: LoadStats) -> list[Indicator]:
    ev_tags = _tags(ev)
    ev_tlp = _tlp(ev_tags) or "clear"
    conf = _CONF.get(str(ev.get("threat_level_id", "4")), 50)
    info = str(ev.get("info") or "")
    threat_ev = _galaxy(ev_tags) or info or path.stem
    uuid = str(ev.get("uuid") or path.stem)
    attrs: list[dict[str, Any]] = [a for a in ev.get("Attribute") or [] if isinstance(a, dict)]
    for obj in ev.get("Object") or []:
        if isinstance(obj, dict):
            attrs += [a for a in obj.get("Attribute") or [] if isinstance(a, dict)]
    out: list[Indicator] = []
    for a in attrs:
        where = f"{path}: event {uuid} attribute {a.get('uuid', '?')}"
        if a.get("deleted") or not a.get("to_ids", True):
            stats.ignored += 1
            continue
        atype = str(a.get("type", ""))
        value = str(a.get("value", ""))
        pairs = _split(atype, value)
        if pairs is None:
            stats.ignored += 1  # a type Tocsin does not match on the wire (email, regkey...)
            continue
        tags = _tags(a)
        for kind, v in pairs:
            got = normalise(kind, v)
            if got is None:
                stats.problem(where, f"{atype} value {v[:60]!r} is not valid")
                continue
            out.append(
                Indicator(
                    value=got[1],
                    kind=got[0],
                    source=f"misp:{info[:60] or uuid}",
                    threat=_galaxy(tags) or threat_ev,
                    confidence=conf,
                    category="malware" if conf >= 70 else "",
                    tlp=_tlp(tags) or ev_tlp,
                    port=got[2],
                    reference=f"misp event {uuid}",
                )
            )
    return out


def _split(atype: str, value: str) -> list[tuple[str, str]] | None:
    """A MISP attribute as (kind, value) pairs; None for a type that is not matched."""
    t = atype.lower()
    if t in ("ip-dst|port", "ip-src|port"):
        ip, _, port = value.rpartition("|")
        return [("ip", f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}")]
    if t == "domain|ip":
        d, _, ip = value.partition("|")
        return [("domain", d), ("ip", ip)]
    if t.startswith("filename|"):
        k = kind_of(t.split("|", 1)[1])
        return [(k, value.rpartition("|")[2])] if k in ("md5", "sha1", "sha256") else None
    k = kind_of(t)
    if k is None:
        return None
    return [(k, value)]
