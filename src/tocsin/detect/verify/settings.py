"""What a suricata-verify test configures, as settings Tocsin understands (`RunSettings`).

A test configures Suricata with its `args` (`-k none`, `--set key=value`, `--simulate-ips`...)
and an optional `suricata.yaml` in its folder (possibly `include:`-ing another file of the
folder). `mirror.read_settings` merges both into one flat configuration (dotted keys, as Suricata's
`--dump-config` prints them: `stream.midstream`, `outputs.1.eve-log.types.0.alert...`) and
sorts every setting into one of three kinds:

- **carried**: a typed field of `RunSettings` the engine applies (midstream, checksum mode,
  inline stream, IPS simulation, address and port variables, threshold file, app-layer
  protocols switched on or off, community id, VXLAN decoding, reassembly depth, one-sided
  streams, alerts per packet, the order of rule actions, HTTP body limits, the EVE event
  types logged);
- **passed**: settings that do not change what Tocsin is judged on (performance, memory
  limits, logging, live-capture sections, detection ports: Tocsin finds protocols by content)
  or whose effect is bounded (body inspection windows). They stay in `RunSettings.config`;
- **refused**: a setting that changes detection or the events in a way Tocsin does not mirror
  (exception policies, Lua, firewall mode, host OS policies, multi-tenancy, IP reputation
  lists, QA simulations, rule analysis runs...): `Refused` is raised naming it, and the test
  is skipped with that reason. An unknown key is refused too: a setting is not assumed
  harmless. (The tables are in `mirror`; this module has the types and the readers of
  args, YAML, sizes and `${TEST_DIR}`.)

Paths in values may use `${TEST_DIR}` (the test folder); `${SRCDIR}` (Suricata's source tree)
is refused. Values are strings; booleans accept Suricata's spellings (yes/no, true/false,
on/off, 1/0).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from tocsin.detect.rules.address import DEFAULT_ADDRESS_GROUPS, DEFAULT_PORT_GROUPS

ChecksumMode = Literal["auto", "all", "none"]

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class RunSettings:
    """How to run the engine for one test: Suricata's defaults unless the test sets otherwise.

    `app_layer` maps a protocol (or `proto.tcp` / `proto.udp`, as Suricata's DNS and NFS
    settings allow) to "yes", "no" or "detection-only", for protocols the test configures;
    `eve_types` is None when the test keeps Suricata's default EVE output (every type), else
    the event types its eve-log enables. `config` holds every setting of the test, flattened.
    """

    midstream: bool = False  # stream.midstream: pick up TCP sessions without a handshake
    checksum: ChecksumMode = "auto"  # -k / pcap-file.checksum-checks / stream.checksum-validation
    inline: bool = False  # stream.inline (default `auto`: on under IPS): per-packet stream data
    ips: bool = False  # --simulate-ips (or "ips" in the test name); rules never drop here
    async_oneside: bool = False  # stream.async-oneside: one direction of TCP seen
    reassembly_depth: int | None = None  # stream.reassembly.depth in bytes (0: unlimited)
    address_groups: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ADDRESS_GROUPS))
    port_groups: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PORT_GROUPS))
    threshold_file: Path | None = None  # threshold-file (threshold.config)
    app_layer: dict[str, str] = field(default_factory=dict)
    community_id: bool = False  # eve-log community-id
    community_id_seed: int = 0
    vxlan: bool = True  # decoder.vxlan.enabled
    packet_alert_max: int = 15  # packet-alert-max: alerts kept per packet
    action_order: tuple[str, ...] = ("pass", "drop", "reject", "alert")  # action-order
    http_request_body_limit: int | None = None  # libhtp request-body-limit (bytes)
    http_response_body_limit: int | None = None  # libhtp response-body-limit (bytes)
    http_decompress_layer_limit: int | None = None  # libhtp response-body-decompress-layer-limit
    eve_types: frozenset[str] | None = None
    config: dict[str, str] = field(default_factory=dict)

    @property
    def app_layer_disabled(self) -> frozenset[str]:
        """Protocols whose parser the test switches off (`enabled: no` or `detection-only`)."""
        return frozenset(p for p, v in self.app_layer.items() if v != "yes")


class Refused(Exception):
    """A setting Tocsin does not mirror; the message names it (the test's skip reason)."""

    def __init__(self, reason: str, category: str = "setting") -> None:
        super().__init__(reason)
        self.reason = reason
        self.category = category


@dataclass
class Args:
    """A test's `args`, split: `--set` pairs, rule files (-S replaces, -s adds), the options."""

    sets: list[tuple[str, str]] = field(default_factory=list)
    checksum: ChecksumMode | None = None
    ips: bool = False
    rules_exclusive: list[str] = field(default_factory=list)  # -S
    rules_extra: list[str] = field(default_factory=list)  # -s
    pcap: str | None = None  # -r
    includes: list[str] = field(default_factory=list)  # --include
    disable_detection: bool = False


# options that do not change what is detected or logged
_HARMLESS_OPTS = frozenset({"--init-errors-fatal", "--no-random", "--strict-rule-keywords"})
_OPTS_WITH_VALUE = frozenset({"-k", "-S", "-s", "-r", "-c", "-l", "--set", "--include"})
_OPTS_WITH_OPTIONAL_VALUE = frozenset({"--runmode", "--data-dir"})
_ANALYSIS = frozenset({"--engine-analysis", "-T", "-h", "--help", "-V", "-u", "-U"})


def is_true(value: object) -> bool:
    """Suricata's boolean spellings (yes/true/on/1)."""
    return str(value).strip().lower() in ("yes", "true", "on", "1")


def split_args(args: Any) -> list[str]:
    """A test's `args` (a list of strings, each possibly several words) as words."""
    words: list[str] = []
    for arg in args if isinstance(args, list) else [args] if args else []:
        try:
            words += shlex.split(str(arg))
        except ValueError:
            words += str(arg).split()
    return words


def parse_args(args: Any) -> Args:
    """The Suricata command-line options of a test's `args`; raises `Refused` for an option
    Tocsin does not mirror (IPS modes, rule analysis, QA simulation, live capture...)."""
    out = Args()
    words = split_args(args)
    k = 0
    while k < len(words):
        w = words[k]
        k += 1
        opt, eq, inline_value = w.partition("=")
        if opt in _OPTS_WITH_VALUE or opt in _OPTS_WITH_OPTIONAL_VALUE:
            takes_next = k < len(words) and (
                opt in _OPTS_WITH_VALUE or words[k][:1] != "-"  # --runmode [value]
            )
            if eq:
                value = inline_value
            elif takes_next:
                value, k = words[k], k + 1
            else:
                value = ""
            _option(out, opt, value)
        elif w == "--simulate-ips":
            out.ips = True
        elif w == "--disable-detection":
            out.disable_detection = True
        elif opt in _HARMLESS_OPTS or re.fullmatch(r"-v+", w):
            continue
        elif not w.startswith("-"):
            raise Refused(f"BPF filter `{' '.join(words[k - 1 :])}`", "setting")
        else:
            raise Refused(_why_option(w), _option_category(w))
    return out


def _option(out: Args, opt: str, value: str) -> None:
    if opt == "-k":
        if value not in ("auto", "all", "none"):
            raise Refused(f"checksum mode -k {value}")
        out.checksum = value  # type: ignore[assignment]  # narrowed by the test above
    elif opt == "--set":
        key, _, val = value.partition("=")
        out.sets.append((key.strip(), val.strip().strip("\"'")))
    elif opt == "-S":
        out.rules_exclusive.append(value)
    elif opt == "-s":
        out.rules_extra.append(value)
    elif opt == "-r":
        out.pcap = value
    elif opt == "--include":
        out.includes.append(value)
    elif opt == "-c":
        raise Refused("replaces Suricata's configuration file (-c)", "command")
    # -l (log dir), --runmode, --data-dir: where and how Suricata runs, not what it finds


def _why_option(w: str) -> str:
    if w.startswith("--simulate-"):
        return f"QA simulation option {w} (a Suricata debug build)"
    if w in _ANALYSIS or w.startswith(("--dump", "--list-", "--build")):
        return f"{w}: a Suricata start-up/analysis run, no traffic analysed"
    if w in ("-q", "-i", "--af-packet", "--pcap", "--netmap", "--pfring", "--unix-socket"):
        return f"{w}: a live or inline capture mode (Tocsin reads the test's pcap)"
    if w.startswith("--firewall"):
        return f"{w}: Suricata 8 firewall mode"
    return f"Suricata command-line option {w}"


def _option_category(w: str) -> str:
    if w.startswith("--simulate-"):
        return "qa-simulation"
    if w in _ANALYSIS or w.startswith(("--dump", "--list-", "--build")):
        return "engine-analysis"
    if w in ("-q", "-i", "--af-packet", "--pcap", "--netmap", "--pfring", "--unix-socket"):
        return "ips/live"
    if w.startswith("--firewall"):
        return "firewall"
    return "option"


# ------------------------------------------------------------------------- suricata.yaml


def load_yaml_text(text: str) -> Any:
    """A Suricata YAML file's content (its `%YAML 1.1` / `---` header tolerated)."""
    return yaml.load(re.sub(r"^(%YAML.*|---)\s*$", "", text, flags=re.M), Loader=_Loader)


def read_suricata_yaml(path: Path, folder: Path, depth: int = 0) -> dict[str, Any]:
    """`path` loaded, its `include:` files (relative to the test folder, and only inside it)
    merged where the `include` key stands, as Suricata does: an include overrides the keys
    before it and is overridden by the keys after it. Raises `Refused` for an include outside
    the folder (Suricata's own configuration files, which the corpus does not carry) and
    `OSError` / `yaml.YAMLError`."""
    data = load_yaml_text(path.read_text(errors="replace")) or {}
    if not isinstance(data, dict):
        raise Refused(f"{path.name} is not a YAML mapping", "broken")
    merged: dict[str, Any] = {}
    for key, value in data.items():  # in file order: an include overrides what precedes it
        if key != "include":
            merged = merge(merged, {key: value})
            continue
        for inc in value if isinstance(value, list) else [value] if value else []:
            merged = merge(merged, read_include(str(inc), folder, depth))
    return merged


def read_include(name: str, folder: Path, depth: int = 0) -> dict[str, Any]:
    target = (folder / substitute(name, folder)).resolve()
    if depth > 4 or not target.is_relative_to(folder.resolve()) or not target.is_file():
        raise Refused(f"includes a configuration file outside the test ({name})", "include")
    return read_suricata_yaml(target, folder, depth + 1)


def merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """`top` over `base`, mappings merged key by key."""
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def flatten(obj: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted key, value) pairs of a YAML tree; list items are numbered (`types.0.alert`)."""
    if isinstance(obj, dict):
        if not obj and prefix:
            yield prefix, ""
        for k, v in obj.items():
            yield from flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from flatten(v, f"{prefix}.{i}")
    elif prefix:
        yield prefix, scalar(obj)


def scalar(v: Any) -> str:
    """A YAML scalar as Suricata prints it (booleans as yes/no)."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    return "" if v is None else str(v)


def substitute(value: str, folder: Path) -> str:
    """`${TEST_DIR}` (and `$TEST_DIR`) replaced by the test folder; `${SRCDIR}` refused."""
    if "SRCDIR" in value:
        raise Refused(f"refers to Suricata's source tree ({value})", "srcdir")
    return re.sub(r"\$\{?TEST_DIR\}?", str(folder), value)


def parse_size(text: str) -> int:
    """Suricata's size strings: `4096`, `4kb`, `2mb`, `1gb` (binary multiples)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?)?\s*", text.lower())
    if not m:
        raise Refused(f"size {text!r} not understood")
    unit = (m.group(2) or " ")[0]
    return int(float(m.group(1)) * {" ": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit])
