"""The wire layer of exercise mode: conversations built with `Trace` come out as a pcap that an
independent reader (dpkt), tshark and Tocsin's own pipeline all read as what was built.

One capture holds every kind of call: a 3-turn FTP exchange where the server speaks first, a
2 MB HTTP download, an HTTP exchange with a pause (a pure ACK, then a close by RST), an IPv6
connection left open, a refused connection, SYN/FIN/NULL/Xmas/ACK scan probes, a DNS exchange
over UDP, ICMP echo and port unreachable, ARP, hosts on VLANs. Payloads are synthetic.
"""

from __future__ import annotations

import io
import itertools
import json
import random
import shutil
import struct
import subprocess
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dpkt
import pytest

from tocsin.exercise.wire.hosts import EPHEMERAL_LOW, EphemeralPorts, Host
from tocsin.exercise.wire.trace import Trace
from tocsin.exercise.wire.turns import Turn, client, server
from tocsin.runtime.analyze import analyze
from tocsin.runtime.pipeline import PipelineConfig

Conv = tuple[Host, int, Host, int, list[Turn]]
TH = dpkt.tcp
T0 = 1_717_250_000.0
WS = Host.make("PC-RADIO-12", "10.10.3.12", ttl=128)
WEB = Host.make("srv-dpi", "10.20.0.5", vlan=20)
FTP = Host.make("srv-ftp", "10.20.0.6", vlan=20)
DC = Host.make("dc01", "10.20.0.2", vlan=20, ttl=128)
SCANNER = Host.make("pc-compromised", "10.10.9.66")
MONITOR = Host.make("monitor-icu-3", "10.40.0.33", vlan=40)
CENTRAL = Host.make("central-icu", "10.40.0.2", vlan=40)
V6A = Host.make("pc-v6", "2001:db8:10::12")
V6B = Host.make("srv-v6", "2001:db8:20::5")
BODY = random.Random(7).randbytes(2_000_000)
TRACEROUTE = bytes(range(64, 96))
NAME = "pacs.chu-exemple.fr"
PROBES = [  # (dport, flags, reply, packets)
    (22, "S", "synack_rst", 3),
    (23, "S", "rst", 2),
    (24, "S", None, 1),
    (25, "F", "rst", 2),
    (26, "", None, 1),
    (27, "FPU", "rst", 2),
    (28, "A", "rst", 2),
]


def _dns(answer: bytes | None) -> bytes:
    q = dpkt.dns.DNS(id=0x4A4B, qd=[dpkt.dns.DNS.Q(name=NAME, type=1, cls=1)])
    if answer is not None:
        q.op = 0x8180
        q.an = [dpkt.dns.DNS.RR(name=NAME, type=1, cls=1, ttl=300, ip=answer)]
    return bytes(q)


def build(trace: Trace, flush: Callable[[float], object] = lambda t: 0) -> dict[str, Conv]:
    """Every kind of call, in a fixed order (`flush(t)` before each call starting at t);
    returns the TCP connections by name."""
    ports = EphemeralPorts(random.Random(3))
    get = b"GET /%s HTTP/1.1\r\nHost: srv-dpi\r\n\r\n"
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000
    conv: dict[str, Conv] = {
        "ftp": (WS, ports.take(WS), FTP, 21, [
            server(b"220 FTP ready\r\n"),
            client(b"USER imagerie\r\n", 0.3),
            server(b"331 Password required\r\n"),
        ]),
        "download": (WS, ports.take(WS), WEB, 80, [
            client(get % b"study.bin"),
            server(head + b"Content-Length: 2000000\r\n\r\n" + BODY, 0.004),
        ]),
        "paused": (WS, ports.take(WS), WEB, 80, [
            client(get % b"a"),
            server(b"HTTP/1.1 204 No Content\r\n\r\n", 0.002),
            client(get % b"b", 1.5),
            server(b"HTTP/1.1 204 No Content\r\n\r\n", 0.002),
        ]),
        "v6": (V6A, ports.take(V6A), V6B, 80, [client(get % b"worklist"), server(ok, 0.001)]),
    }  # fmt: skip
    t = T0
    for name, close in (("ftp", "fin"), ("download", "fin"), ("paused", "rst"), ("v6", "none")):
        flush(t)
        t = trace.tcp(t, *conv[name], close=close) + 0.1
    flush(t)
    t = trace.tcp_refused(t, WS, ports.take(WS), WEB, 8443) + 0.1
    for dport, flags, reply, _ in PROBES:
        flush(t)
        t = trace.tcp_probe(t, SCANNER, 45_000, WEB, dport, flags, reply) + 0.01
    dns = [client(_dns(None)), server(_dns(bytes([10, 30, 0, 10])), 0.0003)]
    flush(t)
    t = trace.udp_exchange(t, WS, ports.take(WS), DC, 53, dns) + 0.1
    t = trace.icmp_echo(t, WS, WEB, 1, 7) + 0.1
    flush(t)
    trace.udp(t, WS, 50_999, DC, 33434, TRACEROUTE)
    trace.icmp_unreachable(t + 0.0004, DC, WS, 50_999, DC, 33434, payload=TRACEROUTE)
    trace.icmp_echo(t + 0.01, V6A, V6B, 9, 1)
    trace.arp_request(t + 0.1, MONITOR, "10.40.0.2")
    trace.arp_reply(t + 0.1001, CENTRAL, MONITOR)
    trace.arp_gratuitous(t + 0.2, CENTRAL)
    trace.udp(t + 0.3, MONITOR, 7000, CENTRAL, 7000, b"HR=72;SPO2=98")
    return conv


@dataclass
class Built:
    path: Path
    count: int
    tcp: dict[str, Conv]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    path = tmp_path_factory.mktemp("wire") / "wire.pcap"
    trace = Trace(seed=11)
    conv = build(trace)
    return Built(path, trace.write(str(path)), conv)


@dataclass
class Pkt:
    ts: float
    raw: bytes
    eth: Any
    ip: Any  # dpkt IP / IP6 / ARP


def _read(path: Path) -> list[Pkt]:
    with path.open("rb") as f:
        eths = [(ts, raw, dpkt.ethernet.Ethernet(raw)) for ts, raw in dpkt.pcap.Reader(f)]
    return [Pkt(ts, raw, eth, eth.data) for ts, raw, eth in eths]


def _v4(pkts: list[Pkt], proto: int) -> list[Any]:
    return [p.ip for p in pkts if isinstance(p.ip, dpkt.ip.IP) and p.ip.p == proto]


def _fold(data: bytes) -> int:
    data += b"\0" * (len(data) % 2)
    s: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def _checksums_ok(p: Pkt) -> bool:
    """IPv4 header and TCP / UDP / ICMP / ICMPv6 checksums, recomputed from the raw bytes."""
    ip = p.ip
    if isinstance(ip, dpkt.ip.IP):
        raw = bytes(ip)[ip.hl * 4 : ip.len]
        pseudo = ip.src + ip.dst + struct.pack("!HH", ip.p, len(raw))
        l4 = _fold(raw if ip.p == 1 else pseudo + raw)
        return _fold(bytes(ip)[: ip.hl * 4]) == 0xFFFF and l4 == 0xFFFF
    if isinstance(ip, dpkt.ip6.IP6):
        raw = bytes(ip)[40 : 40 + ip.plen]
        return _fold(ip.src + ip.dst + struct.pack("!IxxxB", len(raw), ip.nxt) + raw) == 0xFFFF
    return True


def _conversation(pkts: list[Pkt], cli: Host, cport: int, srv: Host, sport: int) -> list[Any]:
    """(direction 0 client->server / 1 back, TCP segment, frame length) of one connection."""
    out = []
    for p in pkts:
        if isinstance(p.ip, dpkt.ip.IP | dpkt.ip6.IP6) and isinstance(p.ip.data, TH.TCP):
            a = (p.ip.src, p.ip.data.sport, p.ip.dst, p.ip.data.dport)
            if a == (cli.ip_packed, cport, srv.ip_packed, sport):
                out.append((0, p.ip.data, len(p.raw)))
            elif a == (srv.ip_packed, sport, cli.ip_packed, cport):
                out.append((1, p.ip.data, len(p.raw)))
    return out


def _check_tcp(segs: list[Any], turns: list[Turn], name: str) -> None:
    """Each side's bytes in order without a gap or a repeat, ACKs only of what was sent (and
    never backwards), and the bytes carried are the turns' bytes."""
    isn, nxt, last_ack = [0, 0], [0, 0], [0, 0]  # relative to each side's ISN: seq wraps
    data = [bytearray(), bytearray()]
    for d, tcp, _ in segs:
        if tcp.flags & TH.TH_SYN:
            isn[d], nxt[d] = tcp.seq, 1
            continue
        assert (tcp.seq - isn[d]) % 2**32 == nxt[d], f"{name}: a gap or a retransmission"
        if tcp.flags & TH.TH_ACK:
            ack = (tcp.ack - isn[1 - d]) % 2**32
            assert last_ack[d] <= ack <= nxt[1 - d], f"{name}: ACK of unseen data"
            last_ack[d] = ack
        data[d] += tcp.data
        nxt[d] += len(tcp.data) + (1 if tcp.flags & TH.TH_FIN else 0)
    for d in (0, 1):
        assert bytes(data[d]) == b"".join(t.data for t in turns if t.side == d), name


def test_frames_are_time_ordered_with_valid_checksums(built: Built) -> None:
    pkts = _read(built.path)
    assert len(pkts) == built.count
    assert all(a.ts <= b.ts for a, b in itertools.pairwise(pkts))
    assert all(len(p.raw) >= 60 for p in pkts)
    assert all(_checksums_ok(p) for p in pkts)
    kinds = Counter(type(p.ip).__name__ for p in pkts)
    assert kinds["ARP"] == 3 and kinds["IP6"] > 5 and kinds["IP"] > 1300


def test_tcp_sequence_and_ack_numbers_are_consistent(built: Built) -> None:
    pkts = _read(built.path)
    for name, (cli, cport, srv, sport, turns) in built.tcp.items():
        segs = _conversation(pkts, cli, cport, srv, sport)
        _check_tcp(segs, turns, name)
        assert [s[1].flags for s in segs[:3]] == [TH.TH_SYN, TH.TH_SYN | TH.TH_ACK, TH.TH_ACK]
        mss = dict(TH.parse_opts(segs[0][1].opts))[TH.TCP_OPT_MSS]
        assert mss == struct.pack("!H", 1440 if name == "v6" else 1460)
    fin_ack = TH.TH_FIN | TH.TH_ACK
    assert [s[1].flags for s in _conversation(pkts, *built.tcp["ftp"][:4])][-3:] == [
        fin_ack, fin_ack, TH.TH_ACK,
    ]  # fmt: skip
    assert _conversation(pkts, *built.tcp["paused"][:4])[-1][1].flags == TH.TH_RST | TH.TH_ACK
    assert not any(s[1].flags & TH.TH_FIN for s in _conversation(pkts, *built.tcp["v6"][:4]))


def test_sequence_numbers_wrap_at_2_to_the_32(tmp_path: Path) -> None:
    trace = Trace(seed=1)
    bits = trace._rng.getrandbits  # the ISNs are its 32-bit draws
    trace._rng.getrandbits = lambda k: 2**32 - 3000 if k == 32 else bits(k)  # type: ignore[method-assign]
    turns = [client(b"STOR a\r\n"), server(bytes(range(256)) * 40), client(b"QUIT\r\n")]
    trace.tcp(T0, WS, 50_000, FTP, 2121, turns)
    trace.write(str(tmp_path / "wrap.pcap"))
    segs = _conversation(_read(tmp_path / "wrap.pcap"), WS, 50_000, FTP, 2121)
    assert max(s[1].seq for s in segs) > 2**32 - 3000 > min(s[1].seq for s in segs)
    _check_tcp(segs, turns, "wrap")


def test_bulk_transfer_is_cut_at_the_mss_and_acked_every_second_segment(built: Built) -> None:
    segs = _conversation(_read(built.path), *built.tcp["download"][:4])
    data = [t for d, t, _ in segs if d == 1 and t.data]
    n = len(built.tcp["download"][4][1].data)
    assert [len(t.data) for t in data[:-1]] == [1460] * (len(data) - 1)
    assert len(data) == -(-n // 1460) and data[-1].flags & TH.TH_PUSH
    start = data[0].seq
    end = (data[-1].seq - start) % 2**32 + len(data[-1].data)
    acks = [(t.ack - start) % 2**32 for d, t, _ in segs if d == 0 and t.flags == TH.TH_ACK]
    acks = [a for a in acks if 0 < a <= end]
    assert len(acks) == -(-len(data) // 2) and acks[-1] == end


def test_scan_probes_get_the_answers_of_a_real_stack(built: Built) -> None:
    pkts = _read(built.path)
    for dport, flags, reply, count in PROBES:
        segs = [s[1] for s in _conversation(pkts, SCANNER, 45_000, WEB, dport)]
        assert len(segs) == count, (dport, flags)
        probe = segs[0]
        assert probe.win == 1024
        if reply == "synack_rst":
            assert segs[1].flags == TH.TH_SYN | TH.TH_ACK and segs[1].ack == (probe.seq + 1) % 2**32
            assert segs[2].flags == TH.TH_RST and segs[2].seq == (probe.seq + 1) % 2**32
        elif reply == "rst" and flags == "A":
            assert segs[1].flags == TH.TH_RST and segs[1].seq == probe.ack
        elif reply == "rst":
            assert segs[1].flags == TH.TH_RST | TH.TH_ACK
            assert segs[1].ack == (probe.seq + (flags != "")) % 2**32  # SYN and FIN count 1


def test_udp_icmp_arp_and_vlan_tags(built: Built) -> None:
    pkts = _read(built.path)
    dns = [
        p for p in pkts if isinstance(p.ip, dpkt.ip.IP) and p.ip.p == 17 and p.ip.data.sport != 7000
    ]
    assert [dpkt.dns.DNS(p.ip.data.data).qr for p in dns[:2]] == [0, 1]
    assert [p.eth.vlan_tags[0].id for p in dns[:2]] == [20, 20]  # the server's VLAN, both ways
    icmp = [ip.data for ip in _v4(pkts, 1)]
    assert [m.type for m in icmp] == [8, 0, 3]
    assert icmp[0].data.data == icmp[1].data.data == b"abcdefghijklmnopqrstuvwabcdefghi"
    quote = bytes(icmp[2].data)[4:]
    quoted = dpkt.ip.IP(quote)
    assert (quoted.src, quoted.dst, quoted.p) == (WS.ip_packed, DC.ip_packed, 17)
    assert _fold(quote[:20]) == 0xFFFF and struct.unpack("!HH", quote[20:24]) == (50_999, 33434)
    arp = [p for p in pkts if isinstance(p.ip, dpkt.arp.ARP)]
    assert [a.ip.op for a in arp] == [1, 2, 1]
    assert arp[0].eth.dst == b"\xff" * 6 and arp[1].eth.dst == MONITOR.mac
    assert arp[2].ip.spa == arp[2].ip.tpa == CENTRAL.ip_packed
    assert [a.eth.vlan_tags[0].id for a in arp] == [40, 40, 40]
    mine = [p.ip for p in pkts if isinstance(p.ip, dpkt.ip.IP) and p.ip.src == WS.ip_packed]
    assert all((b.id - a.id) % 65536 == 1 for a, b in itertools.pairwise(mine))
    assert {ip.ttl for ip in mine} == {128}


def _tshark(path: Path, *args: str) -> str:
    checks = [f"{p}.check_checksum:TRUE" for p in ("tcp", "udp", "ip")]
    cmd = ["tshark", "-n", "-r", str(path), *[x for c in checks for x in ("-o", c)], *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_sees_no_malformed_packet_no_error_and_no_tcp_problem(built: Built) -> None:
    assert _tshark(built.path, "-Y", '_ws.malformed || _ws.expert.severity == "Error"') == ""
    assert _tshark(built.path, "-Y", "tcp.analysis.flags") == ""
    fields = [f"{p}.checksum.status" for p in ("ip", "tcp", "udp", "icmp", "icmpv6")]
    out = _tshark(built.path, "-T", "fields", *[x for f in fields for x in ("-e", f)])
    status = Counter(s for row in out.split() for s in row.split(","))
    kinds = Counter(type(p.ip).__name__ for p in _read(built.path))
    assert status["0"] == 0  # bad
    assert status["1"] >= 2 * kinds["IP"] + kinds["IP6"]  # good: every IPv4 header, every L4
    warn = _tshark(built.path, "-q", "-z", "expert,warn")
    rows = [line.split(None, 3)[-1] for line in warn.splitlines() if line.strip()[:1].isdigit()]
    assert rows == ["Connection reset (RST)"]


def test_tocsin_flows_match_what_was_built(built: Built, tmp_path: Path) -> None:
    eve = tmp_path / "eve.json"
    analyze([str(built.path)], eve, PipelineConfig(writer_thread=False))
    events = [json.loads(line) for line in eve.read_text().splitlines()]
    flows = {
        (e["src_ip"], e.get("src_port"), e["dest_ip"], e.get("dest_port"), e["proto"]): e["flow"]
        for e in events
        if e["event_type"] == "flow"
    }
    pkts = _read(built.path)
    for name, (cli, cport, srv, sport, _) in built.tcp.items():
        f = flows[(cli.ip, cport, srv.ip, sport, "TCP")]
        segs = _conversation(pkts, cli, cport, srv, sport)
        for d, way in enumerate(("toserver", "toclient")):
            assert f[f"pkts_{way}"] == sum(1 for s in segs if s[0] == d), name
            assert f[f"bytes_{way}"] == sum(s[2] for s in segs if s[0] == d), name
        assert f["state"] == ("established" if name == "v6" else "closed"), name
    assert flows[(WS.ip, built.tcp["download"][1], WEB.ip, 80, "TCP")]["bytes_toclient"] > 2e6
    assert len([k for k in flows if k[4] == "TCP"]) == len(built.tcp) + 1 + len(PROBES)
    app = Counter(e["event_type"] for e in events if e["event_type"] in ("http", "ftp", "dns"))
    assert app == {"http": 4, "ftp": 2, "dns": 2}
    answer = next(e["dns"] for e in events if e["event_type"] == "dns" and e["dns"].get("qr"))
    assert answer["answers"] == [{"rrname": NAME, "rrtype": "A", "ttl": 300, "rdata": "10.30.0.10"}]
    assert not [e for e in events if e["event_type"] == "anomaly"]


def _chunked(seed: int) -> bytes:
    """The capture of `build` flushed before every call (as a scheduler does), in one stream."""
    trace = Trace(seed=seed)
    f = io.BytesIO()
    build(trace, lambda t: trace.flush_before(t, f))
    trace.write_to(f)
    return f.getvalue()


def test_same_seed_same_bytes_whether_flushed_in_chunks_or_at_once(built: Built) -> None:
    whole = built.path.read_bytes()
    assert _chunked(11) == whole
    assert _chunked(12) != whole


def test_packets_of_the_same_microsecond_keep_the_order_of_the_calls() -> None:
    trace = Trace(seed=1)
    f = io.BytesIO()
    trace.udp(T0 - 1, DC, 53, WS, 50_000, b"dc gets the first host index")
    trace.flush_before(T0, f)
    trace.udp(T0, WS, 68, DC, 67, b"first")
    trace.tcp(T0, DC, 50_001, WS, 80, [client(b"x")])  # its SYN is second
    trace.flush_before(T0, f)  # nothing at T0 yet
    trace.udp(T0, DC, 67, WS, 68, b"third")
    trace.write_to(f)
    f.seek(0)
    at_t0 = [
        bytes(dpkt.ethernet.Ethernet(raw).data.data) for ts, raw in dpkt.pcap.Reader(f) if ts == T0
    ]
    assert at_t0[0].endswith(b"first") and at_t0[2].endswith(b"third")
    assert dpkt.tcp.TCP(at_t0[1]).flags == TH.TH_SYN


def test_packets_held_across_flushes_and_older_packets_refused() -> None:
    trace = Trace(seed=1)
    hl7 = [client(b"MSH|^~\\&|A\r", 600.0 * k if k else 0.0) for k in range(4)]
    trace.tcp(T0, WS, 50_000, DC, 2575, hl7)
    for k in range(5):
        trace.udp(T0 + k, WS, 50_001 + k, DC, 514, b"<14>syslog line")
    f = io.BytesIO()
    assert trace.flush_before(T0 + 10, f) == 3 + 2 + 5  # handshake, first message + ACK, syslog
    assert trace.pending == 2 * 3 + 3
    with pytest.raises(ValueError, match="older"):
        trace.udp(T0 + 5, WS, 50_100, DC, 514, b"late")
    assert trace.flush_before(T0 + 1000, f) == 2
    assert trace.write_to(f) == 2 * 2 + 3 and len(trace) == 19


def test_arguments_a_real_stack_cannot_send_are_refused() -> None:
    trace = Trace()
    with pytest.raises(ValueError, match="IPv4 with IPv6"):
        trace.tcp(T0, WS, 50_000, V6B, 80, [client(b"x")])
    with pytest.raises(ValueError, match="port"):
        trace.udp(T0, WS, 70_000, DC, 53, b"x")
    with pytest.raises(ValueError, match="fragmentation"):
        trace.udp(T0, WS, 50_000, DC, 53, bytes(1473))
    with pytest.raises(ValueError, match="probe"):
        trace.tcp_probe(T0, SCANNER, 1, WEB, 80, "F", "synack_rst")
    with pytest.raises(ValueError, match="window"):
        trace.tcp(T0, WS, 50_000, WEB, 80, [client(b"x")], window=2000)
    with pytest.raises(ValueError, match="negative"):
        trace.tcp(T0, WS, 50_000, WEB, 80, [client(b"x", -1.0)])
    with pytest.raises(ValueError, match="IPv4 only"):
        trace.arp_reply(T0, V6A, V6B)
    trace.udp(T0, WS, 50_000, DC, 53, bytes(1472))  # a full frame is fine
    assert len(trace) == 1


def test_hosts_and_ephemeral_ports() -> None:
    assert Host.make("a", "10.1.2.3").mac == bytes.fromhex("02000a010203")
    assert Host.make("b", "2001:db8::1:2").mac == bytes.fromhex("020000010002")
    with pytest.raises(ValueError, match="MAC"):
        Host("c", "10.0.0.1", b"\x00" * 5)
    with pytest.raises(ValueError, match="VLAN"):
        Host.make("d", "10.0.0.1", vlan=4095)
    with pytest.raises(ValueError, match="'e'"):
        Host.make("e", "10.0.0.300")
    ports = EphemeralPorts(random.Random(5))
    a, b = Host.make("a", "10.0.0.1"), Host.make("b", "10.0.0.2")
    seen = [ports.take(a) for _ in range(16384)]
    assert len(set(seen)) == 16384 and min(seen) == EPHEMERAL_LOW and max(seen) == 65535
    assert ports.take(a) == seen[0]  # wraps only after every port was used
    assert ports.take(b) != ports.take(b)
