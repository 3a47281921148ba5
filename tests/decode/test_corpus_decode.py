"""Real traffic: the decoder agrees with tshark on the innermost packet of corpus captures.

For every packet tshark dissects without error, the innermost IP addresses, IP protocol and
ports must match the decoded record. Packets are skipped when tshark goes through an
encapsulation the decoder does not handle (MPLS, PPPoE, Teredo, ...), when either side sees an
IP fragment, and when the packet is an ICMP error (tshark then dissects the quoted header).
The corpus is found via TOCSIN_CORPUS (default `<repo>/../shared/corpus`).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from packets import decode

from tocsin.decode.layout import FLAG_ARP, FLAG_FRAG, FLAG_IP

pytestmark = pytest.mark.corpus

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("TOCSIN_CORPUS", REPO.parent / "shared" / "corpus"))

FILES = [
    "suricata-verify/tests/decode-sll2-01/input.pcap",
    "zeek/Traces/linux_dlt_sll2.pcap",
    "zeek/Traces/linuxsll-arp.pcap",
    "suricata-verify/tests/security-4710-01/input.pcap",
    "zeek/Traces/udp-multiple-source-ports.pcap",
    "zeek/Traces/dns-svcb.pcap",
    "zeek/Traces/http-vlan-0.pcap",
    "zeek/Traces/http-qinq-0.pcap",
    "zeek/Traces/vlan-qinqinq.pcap",
    "zeek/Traces/erspanII.pcap",
    "zeek/Traces/erspanIII.pcap",
    "suricata-verify/tests/decode-erspan-typeII-01/input.pcap",
    "suricata-verify/tests/decode-erspan-typeI-02/input.pcap",
    "zeek/Traces/tunnels/gre-erspan3-dot1q.pcap",
    "zeek/Traces/tunnels/vxlan.pcap",
    "suricata-verify/tests/vxlan-decoder-02/vxlan.pcap",
    "zeek/Traces/tunnels/gre-sample.pcap",
    "zeek/Traces/tunnels/gre-within-gre.pcap",
    "suricata-verify/tests/bug-5633-gre-01/gre-udp.pcap",
    "zeek/Traces/tunnels/4in4.pcap",
    "zeek/Traces/tunnels/4in6.pcap",
    "zeek/Traces/tunnels/6in4.pcap",
    "zeek/Traces/tunnels/6in6in6.pcap",
    "zeek/Traces/ipv6-hbh-routing0.pcap",
    "zeek/Traces/ipv6-mobility-dst-opts.pcap",
    "zeek/Traces/ipv6_zero_len_ah.pcap",
    "zeek/Traces/ipv6-http-atomic-frag.pcap",
    "suricata-verify/tests/decode-sctp-01/input.pcap",
    "suricata-verify/tests/detect-bytemath-01/input.pcap",
    "zeek/Traces/icmp/icmp6-mldv2.pcap",
]

# what may sit between the frame and the innermost IP header for the packet to be compared
SUPPORTED = {
    "eth", "ethertype", "vlan", "sll", "null", "loop", "raw", "ip", "ipv6", "ipv6.hopopts",
    "ipv6.dstopts", "ipv6.routing", "ipv6.fraghdr", "ah", "gre", "erspan", "vxlan", "udp",
}  # fmt: skip
FIELDS = [
    "frame.number", "frame.protocols", "_ws.malformed", "ip.src", "ip.dst", "ip.proto",
    "ip.flags.mf", "ip.frag_offset", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport",
    "udp.srcport", "udp.dstport", "sctp.srcport", "sctp.dstport", "arp.opcode",
]  # fmt: skip
TRANSPORT = {"tcp": 6, "udp": 17, "sctp": 132, "icmp": 1, "icmpv6": 58}


def read_capture(path: Path) -> tuple[list[bytes], int]:
    """The packets of a capture and its link type (tocsin's reader, dpkt when not available)."""
    try:
        from tocsin.capture import open_capture
    except ImportError:  # pragma: no cover - the capture package is being finished elsewhere
        import dpkt

        with path.open("rb") as f:
            try:
                r = dpkt.pcap.Reader(f)
            except ValueError:
                f.seek(0)
                r = dpkt.pcapng.Reader(f)
            return [bytes(b) for _, b in r], int(r.datalink())
    out: list[bytes] = []
    linktype = -1
    for batch in open_capture([path]).batches():
        out += [batch.packet(i) for i in range(batch.n)]
        if batch.n:
            linktype = int(batch.linktype[0])
    return out, linktype


def tshark(path: Path) -> list[dict[str, list[str]]]:
    cmd = ["tshark", "-r", str(path), "-n", "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=a", "-E", "aggregator=,",
           "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"]  # fmt: skip
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        cols = line.split("\t")
        rows.append({f: (c.split(",") if c else []) for f, c in zip(FIELDS, cols, strict=False)})
    return rows


def ip_text(ver: int, hi: int, lo: int) -> str:
    if ver == 4:
        return str(ipaddress.IPv4Address(lo & 0xFFFFFFFF))
    return str(ipaddress.IPv6Address((hi << 64) | lo))


def expectation(row: dict[str, list[str]]) -> tuple[str, str, int | None, str, str] | None:
    """(src, dst, proto, sport, dport) of tshark's innermost IP packet, None when not comparable."""
    chain = row["frame.protocols"][0].split(":")
    if row["_ws.malformed"] and chain[-1] in SUPPORTED | set(TRANSPORT):
        return None  # malformed below the application layer
    cut = next((k for k, p in enumerate(chain) if p in ("icmp", "icmpv6")), len(chain))
    ips = [k for k in range(cut) if chain[k] in ("ip", "ipv6")]
    if not ips:
        return None
    last = ips[-1]
    if any(p not in SUPPORTED for p in chain[:last]) or "eth" in chain[last:]:
        return None  # an encapsulation not decoded, or a non-IP innermost frame
    if any(m not in ("", "0", "False") for m in row["ip.flags.mf"] + row["ip.frag_offset"]):
        return None
    kind = chain[last]
    nth = chain[:last].count(kind)
    pre = "ip" if kind == "ip" else "ipv6"
    srcs, dsts = row[pre + ".src"], row[pre + ".dst"]
    if nth >= len(srcs):
        return None
    nxt = next((p for p in chain[last + 1 :] if p in TRANSPORT or p in ("ip", "ipv6")), None)
    proto = TRANSPORT.get(nxt) if nxt else None
    sport = dport = ""
    if nxt in ("tcp", "udp", "sctp"):
        pos = chain.index(nxt, last + 1)
        k = chain[:pos].count(nxt)
        if k >= len(row[nxt + ".srcport"]):
            return None
        sport, dport = row[nxt + ".srcport"][k], row[nxt + ".dstport"][k]
    return srcs[nth], dsts[nth], proto, sport, dport


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.parametrize("name", FILES)
def test_capture_agrees_with_tshark(name: str) -> None:
    path = CORPUS / name
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS} (set TOCSIN_CORPUS)")
    if not path.is_file():
        pytest.skip(f"{name} not in the corpus")
    packets, linktype = read_capture(path)
    rows = tshark(path)
    assert len(rows) == len(packets)
    pk, ctr, anomalies = decode(packets, linktype)
    assert ctr["pkts"] == len(packets)
    compared = arps = 0
    problems = []
    for k, (row, r) in enumerate(zip(rows, pk, strict=True)):
        chain = row["frame.protocols"][0].split(":")
        if chain[-1] == "arp" and row["arp.opcode"][-1:] in (["1"], ["2"]):
            arps += 1
            if not int(r["flags"]) & FLAG_ARP:
                problems.append(f"#{k + 1}: ARP not flagged ({anomalies[k]})")
            continue
        want = expectation(row)
        if want is None or int(r["flags"]) & FLAG_FRAG:
            continue
        compared += 1
        if not int(r["flags"]) & FLAG_IP:
            problems.append(f"#{k + 1}: no IP decoded ({anomalies[k]}), tshark {want}")
            continue
        ver = int(r["ipver"])
        got_src = ip_text(ver, int(r["src_hi"]), int(r["src_lo"]))
        got_dst = ip_text(ver, int(r["dst_hi"]), int(r["dst_lo"]))
        src, dst, proto, sport, dport = want
        if (got_src, got_dst) != (ipaddress.ip_address(src).compressed,
                                  ipaddress.ip_address(dst).compressed):  # fmt: skip
            problems.append(f"#{k + 1}: addresses {got_src}->{got_dst}, tshark {src}->{dst}")
        if proto is not None and int(r["proto"]) != proto:
            problems.append(f"#{k + 1}: proto {int(r['proto'])}, tshark {proto}")
        if sport and (str(r["sport"]), str(r["dport"])) != (sport, dport):
            problems.append(f"#{k + 1}: ports {r['sport']}->{r['dport']}, tshark {sport}->{dport}")
    assert not problems, "\n".join(problems[:20])
    assert compared + arps > 0, "nothing compared"
