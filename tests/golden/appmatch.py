"""Helpers shared by the app-layer judges: run Tocsin with its parsers, and compare the DNS
names, HTTP hosts and URIs and TLS SNIs of its events with what tshark extracts.

Registry: `judge_registry()` is `tocsin.applayer.registry.builtin()`, what `tocsin analyze`
runs. A parser author can point the judges at a registry that is not wired yet with
TOCSIN_JUDGE_REGISTRY=`module:function` (a callable returning a `Registry`).

`compare_fields(record, events)` judges one capture against its record from
`scripts/applayer_expectations.py` (see that module for how tshark's values are filed per flow
in a must-equal bucket and a `maybe` bucket). Per field, over the flows tshark dissected as the
protocol: Tocsin's values must include tshark's and add nothing but `maybe` values. Values that
cannot be compared are left out on both sides, each reason counted:

- a value with bytes outside printable text (tshark escapes them with backslashes, EVE
  writes them `\\xNN` by Suricata's own rules), and tshark's placeholders for names it could
  not read ("<Name contains a pointer that loops>");
- a URI with a space in it: tshark's `http.request.uri` stops at the first space, libhtp (and
  so Suricata and Tocsin) takes everything up to the protocol; counted as agreeing when
  Tocsin's URI is tshark's followed by a space;
- connections Tocsin writes no flow for (an encapsulation its decoder does not handle: a
  decoder matter, judged by the decode tests);
- HTTP and TLS values on UDP flows (SSDP's HTTP over UDP, QUIC's TLS ClientHello: Suricata logs
  neither as `http` / `tls`);
- Tocsin's values on flows where tshark dissected nothing of the protocol: Tocsin (like
  Suricata) finds protocols by content, tshark by port, so these are tallied, not judged.

Normalisation: tshark's "<Root>" is the root name, "" in EVE; an HTTP host is compared as
Suricata logs `hostname`: port and a trailing dot stripped, lower case (on both sides).
"""

from __future__ import annotations

import importlib
import importlib.util
import ipaddress
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
JUDGES = REPO / "tests" / "fixtures" / "applayer" / "judges"
CORPUS_EXPECTATIONS = (
    REPO / "tests" / "fixtures" / "applayer" / "expectations" / "tshark_fields.json.gz"
)
FIELDS = ("dns", "http_host", "http_uri", "tls_sni")
FIELD_PROTO = {"dns": "dns", "http_host": "http", "http_uri": "http", "tls_sni": "tls"}
# Suricata's event types (Tocsin's own: sensor, dicom, hl7, smb_file, imap)
TOCSIN_ONLY_TYPES = frozenset({"sensor", "dicom", "hl7", "smb_file", "imap"})


def judge_registry() -> Any:
    """The parsers the judges run: `builtin()`, or TOCSIN_JUDGE_REGISTRY's `module:function`."""
    spec = os.environ.get("TOCSIN_JUDGE_REGISTRY", "")
    if not spec:
        from tocsin.applayer.registry import builtin

        return builtin()
    module, _, func = spec.partition(":")
    return getattr(importlib.import_module(module), func)()


def registered(registry: Any) -> set[str]:
    """Protocol words the registry parses (on some transport)."""
    from tocsin.applayer.protos import ALPROTO_NAMES

    return {ALPROTO_NAMES[code] for code in registry.protocols()}


def run_app(
    capture: Path,
    eve: Path,
    *,
    midstream: bool = True,
    registry: Any = None,
    community_id_seed: int = 0,
    vxlan_port: int | None = None,
) -> Any:
    """Analyse `capture` in-process with the app layer on; returns the `AnalysisResult`."""
    from tocsin.flow.table import FlowConfig
    from tocsin.runtime.analyze import analyze
    from tocsin.runtime.applayer import AppConfig
    from tocsin.runtime.pipeline import PipelineConfig

    extra: dict[str, Any] = {}
    if vxlan_port is not None:
        extra["vxlan_port"] = vxlan_port
    config = PipelineConfig(
        flow=FlowConfig(cap=1_000_000),
        # the seed is given to both: flow events take the pipeline's, app events the app layer's
        app=AppConfig(enabled=True, midstream=midstream, community_id_seed=community_id_seed),
        community_id_seed=community_id_seed,
        **extra,
    )
    reg = judge_registry() if registry is None else registry
    return analyze([capture], eve, config, registry=reg)


def read_eve(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def expectations_module() -> ModuleType:
    """`scripts/applayer_expectations.py`, imported by path (scripts/ is not a package)."""
    name = "applayer_expectations"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------ value normalisation

_PORT = re.compile(r":\d*$")


def norm_host(host: str) -> str:
    """An HTTP host as Suricata logs `hostname`: no port, no trailing dot, lower case."""
    h = host.strip()
    if h.startswith("["):  # IPv6 literal: "[::1]:8080"
        end = h.find("]")
        h = h[: end + 1] if end >= 0 else h
    else:
        h = _PORT.sub("", h)
    return h.rstrip(".").lower()


def norm_tshark(fld: str, value: str) -> str:
    if fld == "dns":
        return "" if value == "<Root>" else value
    if fld == "http_host":
        return norm_host(value)
    return value


def comparable(value: str) -> bool:
    """False for a value with bytes outside printable text: tshark escapes them with
    backslashes (or prints them raw, read here as U+FFFD), EVE writes `\\xNN`."""
    return "\\" not in value and "\ufffd" not in value


def placeholder(value: str) -> bool:
    """tshark's text for a name it could not read ("<Name contains a pointer that loops>")."""
    return value.startswith("<") and value.endswith(">") and value != "<Root>"


def flow_key(proto: str, ip1: str, port1: int | str, ip2: str, port2: int | str) -> tuple[str, ...]:
    ends = sorted(
        (
            expectations_module().endpoint(ip1, str(port1)),
            expectations_module().endpoint(ip2, str(port2)),
        )
    )
    return (proto, ends[0], ends[1])


def event_values(event: Mapping[str, Any]) -> dict[str, list[str]]:
    """The compared values one EVE event carries."""
    et = event.get("event_type")
    if et == "dns":
        qs = event.get("dns", {}).get("queries") or []
        return {"dns": [q["rrname"] for q in qs if "rrname" in q]}
    if et == "http":
        h = event.get("http", {})
        out: dict[str, list[str]] = {}
        if "hostname" in h:
            out["http_host"] = [norm_host(h["hostname"])]
        if "url" in h:
            out["http_uri"] = [h["url"]]
        return out
    if et == "tls":
        sni = event.get("tls", {}).get("sni")
        return {"tls_sni": [sni]} if sni is not None else {}
    return {}


# ------------------------------------------------------------------------------- comparison


@dataclass
class FieldsResult:
    """One capture judged: differences, and what was left out (reason -> count)."""

    problems: list[str] = field(default_factory=list)
    left_out: Counter[str] = field(default_factory=Counter)
    compared: Counter[str] = field(default_factory=Counter)  # field -> values compared


def compare_fields(record: Mapping[str, Any], events: Iterable[Mapping[str, Any]]) -> FieldsResult:
    res = FieldsResult()
    want: dict[str, set[str]] = {f: set() for f in FIELDS}
    maybe: dict[str, set[str]] = {f: set() for f in FIELDS}
    flows_of: dict[str, set[tuple[str, ...]]] = {f: set() for f in FIELDS}
    events = list(events)
    tocsin_flows = {
        flow_key(e["proto"], e["src_ip"], e["src_port"], e["dest_ip"], e["dest_port"])
        for e in events
        if e.get("event_type") == "flow" and "src_port" in e
    }
    for flow in record["flows"]:
        key = (flow["proto"], *flow["ends"])
        if key not in tocsin_flows:
            n = sum(len(flow.get(f, ())) for f in FIELDS)
            res.left_out["a connection Tocsin's decoder does not produce (encapsulation)"] += n
            continue
        for fld in FIELDS:
            vals = list(flow.get(fld, ()))
            doubt = list(flow.get("maybe", {}).get(fld, ()))
            if not vals and not doubt:
                continue
            ports = {int(end.rsplit(":", 1)[1]) for end in flow["ends"]}
            if fld == "dns" and ports & {5353, 5355}:
                why = "dns: mDNS / LLMNR (ports 5353, 5355): protocols of their own, not dns events"
                res.left_out[why] += len(vals) + len(doubt)
                continue
            if fld != "dns" and flow["proto"] == "UDP":
                why = f"{fld}: over UDP (SSDP / QUIC), not a Suricata {FIELD_PROTO[fld]} event"
                res.left_out[why] += len(vals) + len(doubt)
                continue
            flows_of[fld].add(key)
            for v in vals:
                if placeholder(v):
                    res.left_out[f"{fld}: tshark's placeholder for a name it cannot read"] += 1
                elif comparable(v):
                    want[fld].add(norm_tshark(fld, v))
                else:
                    res.left_out[f"{fld}: bytes outside printable text"] += 1
            for v in doubt:
                maybe[fld].add(norm_tshark(fld, v))
    got: dict[str, set[str]] = {f: set() for f in FIELDS}
    for ev in events:
        values = event_values(ev)
        if not values:
            continue
        key = flow_key(ev["proto"], ev["src_ip"], ev["src_port"], ev["dest_ip"], ev["dest_port"])
        for fld, vs in values.items():
            if key not in flows_of[fld]:
                res.left_out[f"{fld}: Tocsin's value on a flow tshark does not dissect"] += len(vs)
                continue
            for v in vs:
                if comparable(v):
                    got[fld].add(v)
    for fld in FIELDS:
        missing = want[fld] - got[fld]
        extra = got[fld] - want[fld] - maybe[fld]
        if fld == "http_uri":
            for m in sorted(missing):
                longer = [e for e in extra if e.startswith(m + " ")]
                if longer:  # "GET /a b HTTP/1.1": tshark stops at the space, libhtp does not
                    missing.discard(m)
                    extra.discard(longer[0])
                    res.left_out["http_uri: a URI with a space (tshark cuts it there)"] += 1
        res.compared[fld] += len(want[fld])
        if missing:
            res.problems.append(f"{fld}: tshark has, Tocsin lacks {_few(missing)}")
        if extra:
            res.problems.append(f"{fld}: Tocsin has, tshark lacks {_few(extra)}")
    return res


def _few(values: set[str], n: int = 5) -> str:
    items = sorted(values)
    more = f" (+{len(items) - n} more)" if len(items) > n else ""
    return ", ".join(repr(v) for v in items[:n]) + more


def ip_text(text: str) -> str:
    return str(ipaddress.ip_address(text))


def suricata_types(events: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The events whose type Suricata also has (its schema knows them)."""
    return [e for e in events if e.get("event_type") not in TOCSIN_ONLY_TYPES]


# ----------------------------------------------------------------------------------- schema


def schema_validator() -> Any:
    """A validator of Suricata's EVE JSON Schema (`tests/fixtures/suricata/schema.json`)."""
    import jsonschema

    schema = json.loads((REPO / "tests" / "fixtures" / "suricata" / "schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema)


def schema_failures(validator: Any, events: Iterable[Mapping[str, Any]], where: str) -> list[str]:
    """One line per schema error of the events Suricata's schema knows (Tocsin's own types
    `TOCSIN_ONLY_TYPES` are not checked)."""
    out = []
    for ev in suricata_types(list(events)):
        for err in validator.iter_errors(ev):
            out.append(f"{where}: {ev['event_type']} {err.json_path}: {err.message[:200]}")
    return out
