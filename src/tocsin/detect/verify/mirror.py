"""Which Suricata settings Tocsin mirrors: a test's args and suricata.yaml -> `RunSettings`.

`read_settings(folder, args)` reads the folder's `suricata.yaml` (its includes, the args'
`--include`), then the `--set` pairs over it, and sorts every flattened setting (see the
`settings` module for the three kinds). The tables below are the policy, each line with why:

- `_CARRIED` settings set a `RunSettings` field (see `_carry`);
- `_PASSED` settings do not change what the checks look at, or not in a way Tocsin can be
  judged on (they stay in `RunSettings.config`);
- `_REFUSED` settings change detection or logging in a way Tocsin does not mirror;
- `_VALUED` settings are harmless at the listed values only (Suricata's defaults), refused
  otherwise, the value named in the reason.

A key matching no table is refused ("not mirrored by Tocsin").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tocsin.detect.verify.settings import (
    Args,
    ChecksumMode,
    Refused,
    RunSettings,
    flatten,
    is_true,
    merge,
    parse_size,
    read_include,
    read_suricata_yaml,
    scalar,
    substitute,
)

_LIBHTP = r"app-layer\.protocols\.http\.libhtp\.default-config\."
_APP = r"app-layer\.protocols\.[\w-]+\."

# (pattern, why): settings passed on in `config`, not mirrored, harmless for the judgement
_PASSED: list[tuple[str, str]] = [
    (
        r"(logging|stats|engine-analysis|profiling|threading|run-as|coredump|unix-command)(\.|$)",
        "Suricata's own logs, counters, threads, process",
    ),
    (
        r"(af-packet|pcap|pfring|netmap|nfq|nflog|ipfw|napatech|dpdk|capture|windivert)(\.|$)",
        "live capture sections (Tocsin reads the test's pcap)",
    ),
    (
        r"(default-log-dir|classification-file|reference-config-file|default-rule-path"
        r"|rule-files|runmode|host-mode|max-pending-packets|default-packet-size"
        r"|ignore-unknown-requirements|asn1-max-frames|mpm-algo|spm-algo|plugins)(\.|$)",
        "paths, run mode and matcher choice",
    ),
    (
        r"(host|ippair|flow|defrag)\.(hash-size|memcap|prealloc|trackers|emergency-recovery"
        r"|prune-flows|managers|recyclers|max-frags|timeout)(\.|$)",
        "table sizes and memory caps",
    ),
    (r"flow-timeouts\.", "flow timeouts (Tocsin's own; every flow is flushed at end of pcap)"),
    (r"(pcre|luajit|security|legacy)\.", "match limits, Lua sandbox (Lua rules are skipped)"),
    (r"datasets\.(enabled|save-directory|defaults|limits|rules)(\.|$)", "dataset storage"),
    (
        r"detect\.(profile|custom-values|sgh-mpm-context|inspection-recursion-limit|prefilter"
        r"|grouping|profiling|flowbits|stream-tx-log-limit|guess-applayer-tx|delayed-detect"
        r"|mpm-algo)(\.|$)",
        "rule grouping and prefilter tuning",
    ),
    (
        r"pcap-file\.(delete-when-done|buffer-size|tenant-id|recursive|continuous)(\.|$)",
        "pcap reading",
    ),
    (
        r"stream\.(memcap|prealloc-sessions|drop-invalid|max-sessions)(\.|$)|stream\.reassembly\."
        r"(memcap|segment-prealloc|toserver-chunk-size|toclient-chunk-size|randomize-chunk-size"
        r"|randomize-chunk-range|raw|check-overlap-different-data|max-regions)(\.|$)",
        "stream memory and chunking",
    ),
    (
        _APP + r"(detection-ports|tcp\.detection-ports|udp\.detection-ports)(\.|$)",
        "detection ports (Tocsin finds protocols by content on any port)",
    ),
    (
        _APP + r"(max-tx|max-msg-length|stream-depth|max-objects|max-line-length|memcap"
        r"|max-write-size|max-read-size|max-queue-size|max-queue-cnt|max-streams|max-table-size"
        r"|max-reassembly-size|max-frame-length|max-command-buffer)$",
        "parser limits",
    ),
    (_APP + r"hassh$", "HASSH fingerprints"),
    (r"app-layer\.protocols\.http2\.http1-rules$", "HTTP/1 rules on HTTP/2"),
    (r"app-layer\.protocols\.smtp\.(mime|inspected-tracker)\.", "MIME decoding limits"),
    (
        _LIBHTP + r"(request-body-inspect-window|request-body-minimal-inspect-size"
        r"|response-body-inspect-window|response-body-minimal-inspect-size|http-body-inline"
        r"|decompression-time-limit|lzma-enabled|lzma-memlimit|compression-bomb-limit"
        r"|meta-field-limit|randomize-inspection-sizes|randomize-inspection-range"
        r"|swf-decompression\.(type|compress-depth|decompress-depth))$",
        "HTTP body inspection windows and decompression limits",
    ),
    (r"app-layer\.protocols\.[\w-]+$", "an empty protocol section"),
]

# (pattern, why, category): settings that change detection or logging in a way Tocsin lacks
_REFUSED: list[tuple[str, str, str]] = [
    (r"firewall(\.|$)", "Suricata 8 firewall mode", "firewall"),
    (
        r"(reputation-files|reputation-categories-file|iprep)(\.|$)",
        "IP reputation lists",
        "setting",
    ),
    (r"datasets\.", "datasets declared in suricata.yaml", "setting"),
    (r"host-os-policy\.", "host OS stream reassembly policies", "setting"),
    (r"geoip-database$", "GeoIP database", "setting"),
    (r"flow\.rate-tracking\.", "flow rate tracking (elephant flows)", "setting"),
    (r"decoder\.", "decoder setting", "setting"),
    (r"stream\.reassembly\.urgent\.", "TCP urgent data policy", "setting"),
    (
        _LIBHTP.replace(r"default-config\.", r"server-config"),
        "per-server libhtp configuration",
        "setting",
    ),
]

# (pattern, accepted values, category): harmless at these values (Suricata's defaults) only
_VALUED: list[tuple[str, frozenset[str], str]] = [
    (
        r"(?!stats\.|logging\.)(.*\.)?[\w-]*-policy",
        frozenset({"auto", "ignore"}),
        "exception-policy",
    ),
    (r"stream\.bypass$", frozenset({"no", "false", "0", "off"}), "setting"),
    (_APP + r"(encryption-handling|encrypt-handling)$", frozenset({"default"}), "setting"),
    (  # JA3/JA4 switched on or left to the rules: Tocsin always computes them
        _APP + r"(ja3-fingerprints|ja4-fingerprints)",
        frozenset({"yes", "true", "auto", "on", "1"}),
        "setting",
    ),
    (_LIBHTP + r"personality$", frozenset({"ids"}), "setting"),
    (
        _LIBHTP + r"(double-decode-path|double-decode-query|swf-decompression\.enabled)$",
        frozenset({"no", "false", "0", "off"}),
        "setting",
    ),
    (
        r"app-layer\.protocols\.smtp\.raw-extraction$",
        frozenset({"no", "false", "0", "off"}),
        "setting",
    ),
    (r"vlan\.use-for-tracking$", frozenset({"yes", "true", "1", "on"}), "setting"),
    (r"multi-detect\.enabled$", frozenset({"no", "false", "0", "off"}), "setting"),
]

_EVE = re.compile(r"outputs\.(\d+)\.eve-log(?:\.(.*))?$")


@dataclass
class _Builder:
    folder: Path
    fields: dict[str, Any] = field(default_factory=dict)
    config: dict[str, str] = field(default_factory=dict)
    address_groups: dict[str, str] = field(default_factory=dict)
    port_groups: dict[str, str] = field(default_factory=dict)
    app_layer: dict[str, str] = field(default_factory=dict)
    action_order: dict[int, str] = field(default_factory=dict)
    eve: dict[str, dict[str, str]] = field(default_factory=dict)  # eve-log index -> options
    pcap_checksums: str | None = None
    stream_checksums: bool | None = None


def read_settings(folder: Path, args: Args, name: str = "") -> RunSettings:
    """The settings of the test in `folder` run with `args`; raises `Refused` (a setting Tocsin
    does not mirror), `OSError` or `yaml.YAMLError` (an unreadable suricata.yaml)."""
    tree: dict[str, Any] = {}
    if (folder / "suricata.yaml").is_file():
        tree = read_suricata_yaml(folder / "suricata.yaml", folder)
    for inc in args.includes:
        tree = merge(tree, read_include(inc, folder))
    b = _Builder(folder)
    _read_vars(b, tree.pop("vars", None) or {})
    eve_types = _eve_types(tree.get("outputs"))
    for key, value in flatten(tree):
        _apply(b, key, value)
    for key, value in args.sets:
        _apply(b, key, value)
    ips = args.ips or bool(re.search("ips", name.rsplit("/", 1)[-1]))
    order = tuple(v for _, v in sorted(b.action_order.items()))
    if order:
        b.fields["action_order"] = order
    inline = b.fields.pop("inline", "auto")  # Suricata's default: inline when in IPS mode
    return RunSettings(
        checksum=_checksum(args.checksum, b),
        inline=is_true(inline) or (inline == "auto" and ips),
        ips=ips,
        address_groups={**RunSettings().address_groups, **b.address_groups},
        port_groups={**RunSettings().port_groups, **b.port_groups},
        app_layer=b.app_layer,
        eve_types=eve_types,
        config=b.config,
        **_eve_fields(b),
        **b.fields,
    )


def _checksum(arg: ChecksumMode | None, b: _Builder) -> ChecksumMode:
    if arg is not None:
        return arg
    if b.pcap_checksums is not None:
        if b.pcap_checksums == "auto":
            return "auto"
        return "all" if is_true(b.pcap_checksums) else "none"
    if b.stream_checksums is False:
        return "none"
    return "auto"


def _read_vars(b: _Builder, tree_vars: Mapping[str, Any]) -> None:
    for group, target in (("address-groups", b.address_groups), ("port-groups", b.port_groups)):
        for var, value in (tree_vars.get(group) or {}).items():
            if isinstance(value, list):
                value = "[" + ",".join(str(v) for v in value) + "]"
            target[str(var)] = scalar(value)
            b.config[f"vars.{group}.{var}"] = target[str(var)]


def _eve_types(outputs: Any) -> frozenset[str] | None:
    """The event types the test's eve-log writing eve.json enables (None: not configured)."""
    for out in outputs if isinstance(outputs, list) else []:
        conf = out.get("eve-log") if isinstance(out, dict) else None
        if not isinstance(conf, dict) or str(conf.get("filename", "eve.json")) != "eve.json":
            continue
        if "types" not in conf:
            return None
        names = set()
        for t in conf.get("types") or []:
            if isinstance(t, str):
                names.add(t)
            elif isinstance(t, dict):
                for kind, tconf in t.items():
                    if not (isinstance(tconf, dict) and "enabled" in tconf) or is_true(
                        tconf["enabled"]
                    ):
                        names.add(str(kind))
        return frozenset(names)
    return None


def _eve_fields(b: _Builder) -> dict[str, Any]:
    chosen: dict[str, str] = {}
    for opts in b.eve.values():
        if opts.get("filename", "eve.json") == "eve.json":
            chosen = opts
            break
    else:
        if b.eve:
            names = ", ".join(sorted(o.get("filename", "") for o in b.eve.values()))
            raise Refused(f"EVE written to {names}, not eve.json", "setting")
    if "enabled" in chosen and not is_true(chosen["enabled"]):
        raise Refused("eve-log disabled", "setting")
    out: dict[str, Any] = {}
    if "community-id" in chosen:
        out["community_id"] = is_true(chosen["community-id"])
    if "community-id-seed" in chosen:
        out["community_id_seed"] = int(chosen["community-id-seed"])
    return out


def _apply(b: _Builder, key: str, value: str) -> None:
    """Sort one setting (see the module docstring); record it in `config`."""
    b.config[key] = value
    if _carry(b, key, value):
        return
    for vpattern, accepted, category in _VALUED:
        if re.fullmatch(vpattern, key):
            if value.lower() not in accepted:
                raise Refused(f"{key}={value}", category)
            return
    for pattern, _why in _PASSED:
        if re.match(pattern, key):
            return
    for pattern, why, category in _REFUSED:
        if re.match(pattern, key):
            raise Refused(f"{why} ({key}={value})" if value else f"{why} ({key})", category)
    if key.startswith("multi-detect."):
        return  # multi-tenancy settings when multi-detect is not enabled
    raise Refused(f"Suricata setting {key}={value} (not mirrored by Tocsin)", "setting")


def _carry(b: _Builder, key: str, value: str) -> bool:
    """Settings that set a `RunSettings` field; False when `key` is not one of them."""
    f = b.fields
    if m := re.fullmatch(r"vars\.(address|port)-groups\.([\w-]+)", key):
        (b.address_groups if m.group(1) == "address" else b.port_groups)[m.group(2)] = value
    elif key == "stream.midstream":
        f["midstream"] = is_true(value)
    elif key == "stream.inline":
        f["inline"] = value.lower()
    elif key == "stream.async-oneside":
        f["async_oneside"] = is_true(value)
    elif key == "stream.reassembly.depth":
        f["reassembly_depth"] = parse_size(value)
    elif key == "stream.checksum-validation":
        b.stream_checksums = is_true(value)
    elif key == "pcap-file.checksum-checks":
        b.pcap_checksums = value.lower()
    elif key == "threshold-file":
        f["threshold_file"] = (b.folder / substitute(value, b.folder)).resolve()
    elif key == "packet-alert-max":
        f["packet_alert_max"] = int(value)
    elif key == "decoder.vxlan.enabled":
        f["vxlan"] = is_true(value)
    elif m := re.fullmatch(r"app-layer\.protocols\.([\w-]+)\.(?:(tcp|udp)\.)?enabled", key):
        proto = m.group(1) + (f".{m.group(2)}" if m.group(2) else "")
        v = value.lower()
        b.app_layer[proto] = v if v == "detection-only" else ("yes" if is_true(v) else "no")
    elif m := re.fullmatch(_LIBHTP + r"(request-body-limit|response-body-limit)", key):
        f[f"http_{m.group(1).replace('-', '_')}"] = parse_size(value)
    elif re.fullmatch(_LIBHTP + "response-body-decompress-layer-limit", key):
        f["http_decompress_layer_limit"] = int(value)
    elif m := re.fullmatch(r"action-order\.(\d+)", key):
        b.action_order[int(m.group(1))] = value
    elif m := _EVE.fullmatch(key):
        option = m.group(2) or ""
        b.eve.setdefault(m.group(1), {})[option] = value
    elif m := re.fullmatch(r"outputs\.\d+\.(lua|luajit)(\..*)?", key):
        raise Refused("Lua output script", "lua")
    elif key.startswith("outputs."):
        pass  # fast.log, file-store, pcap-log...: not what the checks read
    else:
        return False
    return True
