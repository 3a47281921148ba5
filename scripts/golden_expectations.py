"""Write the golden flow expectations: tshark's TCP/UDP conversations per fixture capture.

Usage::

    python scripts/golden_expectations.py            # every fixture that has an expected.json
    python scripts/golden_expectations.py NAME ...   # these fixtures (a new one: name it)

(`decode-too-small` has no expected.json on purpose: tshark dissects its malformed packets.)

For each `tests/fixtures/golden/<name>/input.pcap[ng]` it writes `expected.json`:

    {"tshark_version": "...", "command": "tshark ... -T fields ...",
     "conv_command": "tshark -n -q -r input.pcap -z conv,tcp -z conv,udp",
     "conversations": [{"proto": "TCP", "a_ip": ..., "a_port": ..., "b_ip": ..., "b_port": ...,
                        "packets_ab": ..., "packets_ba": ..., "bytes_ab": ..., "bytes_ba": ...}]}

How: tshark prints one line per frame (`-T fields`: frame length, addresses, ports,
`tcp.stream` / `udp.stream`); frames are summed per stream, A being the source of the stream's
first frame, bytes being frame lengths (`frame.len`, the length on the wire). The result is then
checked against tshark's own conversation table (`-z conv,tcp -z conv,udp`): same
conversations, same frame counts per direction, same byte counts (exactly when tshark prints
them in bytes, within its rounding when it prints kB/MB). A capture where the two disagree,
or where Tocsin and tshark cannot be expected to agree (`Conversations.exclusions`: IP
fragments, tunnels, ICMP errors quoting TCP/UDP, TCP port reuse, idle gaps near Tocsin's
timeouts, VLAN-only differences), is refused: pick another fixture.

The golden test (`tests/golden/test_flows_vs_tshark.py`) reads `expected.json` and never runs
tshark; the corpus judge (`tests/corpus/`) imports `conversations()` to run tshark live.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "fixtures" / "golden"

FIELDS = (
    "frame.number",
    "frame.len",
    "frame.cap_len",
    "frame.time_epoch",
    "frame.protocols",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.stream",
    "udp.srcport",
    "udp.dstport",
    "udp.stream",
    "ip.flags.mf",
    "ip.frag_offset",
    "ipv6.fraghdr.offset",
    "vlan.id",
)

# Smallest idle gap after which Tocsin may end a flow (udp/icmp "new" timeout, seconds).
# A conversation with a longer silence may be split by Tocsin and not by tshark.
MIN_TIMEOUT_S = 30.0

TUNNEL_PROTOS = frozenset(
    {"gre", "vxlan", "teredo", "gtp", "geneve", "erspan", "ayiya", "l2tp", "ipip"}
)
# Layers Tocsin's decoder does not decode (module docstring of `tocsin.decode.kernel`): tshark
# finds TCP/UDP behind them, Tocsin counts the frame as an unknown ethertype / link type.
UNDECODED_PROTOS = frozenset(
    {"mpls", "pppoes", "ppp", "nsh", "ieee8021ah", "cfp", "vntag", "etag", "llc", "chdlc"}
)


def fields_command(path: str | Path) -> list[str]:
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "separator=/t"]
    cmd += ["-E", "occurrence=a", "-E", "aggregator=,"]
    for f in FIELDS:
        cmd += ["-e", f]
    return cmd


def conv_command(path: str | Path) -> list[str]:
    return ["tshark", "-n", "-q", "-r", str(path), "-z", "conv,tcp", "-z", "conv,udp"]


def tshark_version() -> str:
    out = subprocess.run(["tshark", "-v"], capture_output=True, text=True, check=True).stdout
    return out.splitlines()[0].strip()


def norm_ip(text: str) -> str:
    return str(ipaddress.ip_address(text))


@dataclass
class Conversation:
    proto: str
    a_ip: str
    a_port: int
    b_ip: str
    b_port: int
    packets_ab: int = 0
    packets_ba: int = 0
    bytes_ab: int = 0
    bytes_ba: int = 0
    first_ts: float = 0.0
    last_ts: float = 0.0
    max_gap: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "proto": self.proto,
            "a_ip": self.a_ip,
            "a_port": self.a_port,
            "b_ip": self.b_ip,
            "b_port": self.b_port,
            "packets_ab": self.packets_ab,
            "packets_ba": self.packets_ba,
            "bytes_ab": self.bytes_ab,
            "bytes_ba": self.bytes_ba,
        }


@dataclass
class Conversations:
    """tshark's TCP/UDP conversations of one capture, and why a comparison may not hold."""

    items: list[Conversation]
    frames: int
    # reason -> frame numbers (or stream descriptions) that make a comparison unreliable
    exclusions: dict[str, list[str]] = field(default_factory=dict)
    vlans: set[str] = field(default_factory=set)

    def exclude(self, reason: str, what: str) -> None:
        self.exclusions.setdefault(reason, [])
        if len(self.exclusions[reason]) < 5:
            self.exclusions[reason].append(what)


def _split(value: str) -> list[str]:
    return [v for v in value.split(",") if v != ""] if value else []


def conversations(path: str | Path, timeout_s: float = 120.0) -> Conversations:
    """Run tshark on `path` and sum its frames per TCP/UDP stream.

    Raises `subprocess.CalledProcessError` when tshark cannot read the file at all (tshark
    also exits non-zero on a truncated capture after printing what it read; that is kept,
    with the exclusion "tshark error").
    """
    proc = subprocess.run(
        fields_command(path), capture_output=True, text=True, timeout=timeout_s, check=False
    )
    convs: dict[tuple[str, int], Conversation] = {}
    last_seen: dict[tuple[str, int], float] = {}
    vlan_sets: dict[tuple[str, int], set[str]] = {}
    frames = 0
    result = Conversations([], 0)
    if proc.returncode != 0:
        if not proc.stdout:
            raise subprocess.CalledProcessError(
                proc.returncode, proc.args, proc.stdout, proc.stderr
            )
        result.exclude("tshark error", proc.stderr.strip().splitlines()[-1][:200])
    for line in proc.stdout.splitlines():
        cols = line.split("\t")
        if len(cols) != len(FIELDS):
            continue
        row = dict(zip(FIELDS, cols, strict=True))
        frames += 1
        num = row["frame.number"]
        layers = row["frame.protocols"].split(":")
        if row["ip.flags.mf"] in ("1", "True") or (
            row["ip.frag_offset"] and any(v != "0" for v in _split(row["ip.frag_offset"]))
        ):
            result.exclude("IP fragments (reassembly differs)", f"frame {num}")
        if row["ipv6.fraghdr.offset"]:
            result.exclude("IP fragments (reassembly differs)", f"frame {num}")
        if int(row["frame.cap_len"] or 0) < int(row["frame.len"] or 0):
            # cut by the snap length: when the IP header says more than was captured, Tocsin
            # (like Suricata) counts the packet invalid (ipv4.trunc_pkt); tshark still counts it
            result.exclude("frames cut by snaplen (caplen < wire length)", f"frame {num}")
        undecoded = UNDECODED_PROTOS.intersection(layers)
        if undecoded and ("tcp" in layers or "udp" in layers):
            result.exclude(
                f"encapsulation Tocsin does not decode ({', '.join(sorted(undecoded))})",
                f"frame {num}",
            )
        ip_layers = sum(1 for lay in layers if lay in ("ip", "ipv6"))
        icmp_at = next((k for k, lay in enumerate(layers) if lay in ("icmp", "icmpv6")), -1)
        l4_at = next((k for k, lay in enumerate(layers) if lay in ("tcp", "udp")), -1)
        if icmp_at >= 0 and l4_at > icmp_at:
            # an ICMP error quoting a TCP/UDP header: tshark may count it in the quoted
            # conversation, Tocsin counts it in the ICMP flow
            result.exclude("ICMP error quoting TCP/UDP", f"frame {num}")
            continue
        if ip_layers > 1 or TUNNEL_PROTOS.intersection(layers):
            result.exclude("tunnel (encapsulated IP)", f"frame {num}")
        result.vlans.update(_split(row["vlan.id"]))
        for proto, sport_f, dport_f, stream_f in (
            ("TCP", "tcp.srcport", "tcp.dstport", "tcp.stream"),
            ("UDP", "udp.srcport", "udp.dstport", "udp.stream"),
        ):
            streams = _split(row[stream_f])
            if not streams:
                continue
            if len(streams) > 1:
                result.exclude("several TCP/UDP headers in one frame", f"frame {num}")
            # the IP layer carrying the (innermost) TCP/UDP header gives the addresses
            l4 = (
                max(k for k, lay in enumerate(layers) if lay == proto.lower())
                if (proto.lower() in layers)
                else len(layers)
            )
            ip_before = [lay for lay in layers[:l4] if lay in ("ip", "ipv6")]
            fam = ip_before[-1] if ip_before else "ip"
            src = _split(row[f"{fam}.src"])
            dst = _split(row[f"{fam}.dst"])
            if not src or not dst:
                result.exclude("TCP/UDP without IP addresses", f"frame {num}")
                continue
            sport = int(_split(row[sport_f])[-1])
            dport = int(_split(row[dport_f])[-1])
            key = (proto, int(streams[-1]))
            ts = float(row["frame.time_epoch"])
            length = int(row["frame.len"])
            c = convs.get(key)
            if c is None:
                c = Conversation(
                    proto,
                    norm_ip(src[-1]),
                    sport,
                    norm_ip(dst[-1]),
                    dport,
                    first_ts=ts,
                    last_ts=ts,
                )
                convs[key] = c
            else:
                gap = ts - last_seen[key]
                c.max_gap = max(c.max_gap, gap)
                if gap <= -MIN_TIMEOUT_S:
                    result.exclude(f"time jumps back {-gap:.0f} s", f"frame {num}")
            last_seen[key] = ts
            vlan_sets.setdefault(key, set()).add(row["vlan.id"])
            if len(vlan_sets[key]) > 1:
                result.exclude(
                    "VLAN tags differ within a conversation (Tocsin keys flows by VLAN)",
                    f"frame {num}",
                )
            c.first_ts = min(c.first_ts, ts)
            c.last_ts = max(c.last_ts, ts)
            here = ((norm_ip(src[-1]), sport), (norm_ip(dst[-1]), dport))
            if here == ((c.a_ip, c.a_port), (c.b_ip, c.b_port)):
                c.packets_ab += 1
                c.bytes_ab += length
            elif here == ((c.b_ip, c.b_port), (c.a_ip, c.a_port)):
                c.packets_ba += 1
                c.bytes_ba += length
            else:
                # tshark put other endpoints in this stream (a wildcard conversation, as the
                # RPC/portmap dissectors create): its stream is not one 5-tuple
                result.exclude("tshark stream spans several endpoint pairs", f"frame {num}")
    result.items = list(convs.values())
    result.frames = frames
    seen: dict[tuple[str, tuple[tuple[str, int], ...]], int] = {}
    for c in result.items:
        k = endpoint_key(c.proto, c.a_ip, c.a_port, c.b_ip, c.b_port)
        seen[k] = seen.get(k, 0) + 1
        if seen[k] == 2:
            result.exclude(
                "TCP port reuse (one 4-tuple, several streams)",
                f"{c.proto} {c.a_ip}:{c.a_port} {c.b_ip}:{c.b_port}",
            )
        if c.max_gap >= MIN_TIMEOUT_S:
            result.exclude(
                f"idle gap >= {MIN_TIMEOUT_S:.0f} s (Tocsin flow timeout)",
                f"{c.proto} {c.a_ip}:{c.a_port} {c.b_ip}:{c.b_port} gap {c.max_gap:.0f} s",
            )
    return result


def endpoint_key(
    proto: str, ip1: str, port1: int, ip2: str, port2: int
) -> tuple[str, tuple[tuple[str, int], ...]]:
    """The direction-free identity of a conversation or flow."""
    a = (norm_ip(ip1), int(port1))
    b = (norm_ip(ip2), int(port2))
    return proto, tuple(sorted((a, b)))


# ------------------------------------------------------------------ tshark's conversation table

_CONV_LINE = re.compile(
    r"^(?P<a>\S+)\s+<->\s+(?P<b>\S+)\s+"
    r"(?P<f_ba>\d+)\s+(?P<b_ba>[\d,.]+ \S+)\s+"
    r"(?P<f_ab>\d+)\s+(?P<b_ab>[\d,.]+ \S+)\s+"
    r"(?P<f_t>\d+)\s+(?P<b_t>[\d,.]+ \S+)\s+"
)
_UNITS = {"bytes": 1, "kB": 1000, "MB": 1000**2, "GB": 1000**3}


def _bytes(text: str) -> tuple[float, float]:
    """tshark's "1173 bytes" / "12 kB" as (value, rounding tolerance)."""
    num, unit = text.split()
    scale = _UNITS[unit]
    value = float(num.replace(",", "")) * scale
    return value, (0.0 if scale == 1 else scale)


def _endpoint(text: str) -> tuple[str, int]:
    ip, _, port = text.rpartition(":")
    return norm_ip(ip), int(port)


def conv_table(path: str | Path) -> list[dict[str, object]]:
    """tshark's `-z conv,tcp -z conv,udp` table, parsed ("<-" is B to A, "->" A to B)."""
    out = subprocess.run(conv_command(path), capture_output=True, text=True, check=True).stdout
    rows: list[dict[str, object]] = []
    proto = ""
    for line in out.splitlines():
        if line.startswith("TCP Conversations"):
            proto = "TCP"
        elif line.startswith("UDP Conversations"):
            proto = "UDP"
        m = _CONV_LINE.match(line)
        if m is None:
            continue
        a_ip, a_port = _endpoint(m["a"])
        b_ip, b_port = _endpoint(m["b"])
        rows.append(
            {
                "proto": proto,
                "a_ip": a_ip,
                "a_port": a_port,
                "b_ip": b_ip,
                "b_port": b_port,
                "packets_ab": int(m["f_ab"]),
                "packets_ba": int(m["f_ba"]),
                "bytes_ab": _bytes(m["b_ab"]),
                "bytes_ba": _bytes(m["b_ba"]),
            }
        )
    return rows


def cross_check(convs: list[Conversation], table: list[dict[str, object]]) -> list[str]:
    """Differences between the per-frame sums and tshark's conversation table."""
    problems: list[str] = []
    if len(convs) != len(table):
        problems.append(f"{len(convs)} streams summed, {len(table)} rows in the conv table")
    rows = {(r["proto"], r["a_ip"], r["a_port"], r["b_ip"], r["b_port"]): r for r in table}
    for c in convs:
        r = rows.get((c.proto, c.a_ip, c.a_port, c.b_ip, c.b_port))
        flipped = False
        if r is None:
            r = rows.get((c.proto, c.b_ip, c.b_port, c.a_ip, c.a_port))
            flipped = True
        if r is None:
            problems.append(f"{c.as_dict()} not in the conv table")
            continue
        want = (c.packets_ab, c.packets_ba, c.bytes_ab, c.bytes_ba)
        if flipped:
            want = (c.packets_ba, c.packets_ab, c.bytes_ba, c.bytes_ab)
        got_p = (r["packets_ab"], r["packets_ba"])
        if got_p != want[:2]:
            problems.append(f"{c.as_dict()}: conv table frames {got_p}")
        for (value, tol), mine in ((r["bytes_ab"], want[2]), (r["bytes_ba"], want[3])):  # type: ignore[misc]
            if abs(value - mine) > tol:
                problems.append(f"{c.as_dict()}: conv table bytes {value} (±{tol})")
    return problems


def fixture_capture(folder: Path) -> Path:
    found = sorted(folder.glob("input.pcap*"))
    if len(found) != 1:
        raise SystemExit(f"{folder}: expected one input.pcap or input.pcapng, found {found}")
    return found[0]


def write_expected(folder: Path) -> Path:
    capture = fixture_capture(folder)
    result = conversations(capture)
    if result.exclusions:
        raise SystemExit(f"{capture}: unfit for a golden flow test: {result.exclusions}")
    problems = cross_check(result.items, conv_table(capture))
    if problems:
        raise SystemExit(f"{capture}: per-frame sums differ from tshark's conv table: {problems}")
    rel = capture.name
    doc = {
        "tshark_version": tshark_version(),
        "command": " ".join(fields_command(rel)),
        "conv_command": " ".join(conv_command(rel)),
        "note": (
            "conversations = frames of `command` summed per tcp.stream/udp.stream (A = source "
            "of the first frame, bytes = frame.len); checked equal to `conv_command`'s table "
            "by scripts/golden_expectations.py"
        ),
        "frames": result.frames,
        "conversations": [c.as_dict() for c in result.items],
    }
    out = folder / "expected.json"
    out.write_text(json.dumps(doc, indent=2) + "\n")
    return out


def main(argv: list[str]) -> int:
    names = argv or sorted(p.parent.name for p in GOLDEN.glob("*/expected.json"))
    for name in names:
        out = write_expected(GOLDEN / name)
        n = len(json.loads(out.read_text())["conversations"])
        print(f"{out.relative_to(REPO)}: {n} conversations")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
